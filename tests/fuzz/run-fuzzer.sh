#!/usr/bin/env bash
# Runs one libFuzzer target as a meson test (meson runs it; see meson.build):
#
#   run-fuzzer.sh FUZZER NAME
#
# 1. replays every input in tests/fuzz/regressions/NAME/ (crashes found before);
# 2. fuzzes for ROOMS_FUZZ_SECONDS (default 30) from tests/fuzz/corpus/NAME/,
#    with tests/fuzz/NAME.dict as dictionary and the settings of
#    tests/fuzz/NAME.options when there are such files.
# A crash, leak, hang (an input running over 10 s) or out-of-memory fails the
# test: the input is printed and saved into tests/fuzz/regressions/NAME/, where
# every later run replays it.  New corpus inputs are thrown away, unless
# ROOMS_FUZZ_MERGE=1, which merges the interesting ones into the corpus.
set -uo pipefail

fuzzer=$1
name=$2
here=$(cd "$(dirname "$0")" && pwd)
seconds=${ROOMS_FUZZ_SECONDS:-30}
corpus=$here/corpus/$name
regressions=$here/regressions/$name
dict=$here/$name.dict

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/new" "$work/artifacts" "$regressions"

options=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1
  "-artifact_prefix=$work/artifacts/")
[ -f "$dict" ] && options+=("-dict=$dict")
# LeakSanitizer: GLib's own never-freed allocations are suppressed.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$here/lsan.supp"
# NAME.options: more for this target, one per line (# comments): libFuzzer
# flags (-detect_leaks=0) or sanitizer settings (ASAN_OPTIONS=..., appended).
if [ -f "$here/$name.options" ]; then
  while read -r line; do
    case "$line" in
      '' | '#'*) ;;
      *_OPTIONS=*)
        var=${line%%=*}
        export "$var=${!var:+${!var}:}${line#*=}" ;;
      *) options+=("$line") ;;
    esac
  done < "$here/$name.options"
fi

# Reports each new artifact (crash-*, leak-*, timeout-*, oom-*) and keeps it.
keep_artifacts() {
  local found=1 artifact kept
  for artifact in "$work"/artifacts/crash-* "$work"/artifacts/leak-* \
      "$work"/artifacts/timeout-* "$work"/artifacts/oom-*; do
    [ -f "$artifact" ] || continue
    found=0
    kept=$regressions/$(basename "$artifact")
    cp "$artifact" "$kept"
    echo "fuzz-$name: FAILED on this input ($(stat -c %s "$artifact") bytes), kept as"
    echo "  $kept"
    echo "  (replay: $fuzzer $kept)"
    echo "---- input (od -c) ----"
    od -A d -c "$artifact" | head -n 60
    echo "---- input (base64) ----"
    base64 "$artifact" | head -n 40
    echo "-----------------------"
  done
  return $found
}

status=0
mapfile -t old < <(find "$regressions" -type f ! -name '.*' | sort)
if [ ${#old[@]} -gt 0 ]; then
  echo "fuzz-$name: replaying ${#old[@]} regression inputs"
  if ! "$fuzzer" "${options[@]}" "${old[@]}"; then
    echo "fuzz-$name: a regression input fails again"
    status=1
  fi
fi

if [ "$seconds" -gt 0 ]; then
  echo "fuzz-$name: fuzzing for $seconds s"
  # libFuzzer stops itself after max_total_time; the outer timeout is for a
  # fuzzer that cannot (a hang inside the sanitizer runtime).
  timeout -k 10 $((seconds * 2 + 60)) "$fuzzer" "${options[@]}" \
    -max_total_time="$seconds" "$work/new" "$corpus" "$regressions"
  fuzz_status=$?
  if keep_artifacts; then
    status=1
  elif [ $fuzz_status -ne 0 ]; then
    echo "fuzz-$name: the fuzzer exited with $fuzz_status and no artifact"
    status=1
  fi
  if [ "${ROOMS_FUZZ_MERGE:-0}" = 1 ] && [ $status -eq 0 ]; then
    "$fuzzer" -merge=1 "$corpus" "$work/new"
  fi
fi
exit $status
