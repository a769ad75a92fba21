#!/usr/bin/env bash
# Runs the whole gst-rooms test suite: installs what is missing, builds, checks
# formatting, runs every meson test and prints "N passed, N failed".
#
# Three builds, three parts:
#   build       every test (elements, generic, pipelines, tool, e2e, docs, and
#               a replay of every fuzz target's corpus and regressions);
#   build-asan  the same code with -Db_sanitize=address,undefined, running the
#               element, tool and browser tests and the fuzz replays: any ASan
#               or UBSan report fails (churn is left out: see below);
#   build-fuzz  clang with libFuzzer: each fuzz target for ROOMS_FUZZ_SECONDS
#               (default 30) after replaying its regressions.
# Arguments go to the first part only (e.g. a test name); with arguments the
# other two parts are skipped.  ROOMS_TEST_SANITIZERS=0 or ROOMS_TEST_FUZZ=0
# skip a part; ROOMS_TEST_JOBS sets meson's parallel tests (default 2).
#
# Under the sanitizers the browser tests run against an instrumented gst-room
# with their waits scaled (ROOMS_E2E_TIME_SCALE, tests/meson.build).  Churn
# stays out: its bound on RSS growth means nothing with ASan's quarantine
# (363 MiB over its 400 cycles), and its hundreds of joins at 3x the cost
# would add minutes.  Faults runs: its Python clients use stock elements only.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/scripts/setup.sh" || { echo "setup failed"; exit 1; }

jobs=${ROOMS_TEST_JOBS:-2}
status=0
"$top/scripts/check-format.sh" || status=1

part() { echo; echo "==== $* ===="; }
logs=()

part "build: all tests"
meson test -C build --print-errorlogs --num-processes "$jobs" "$@" || status=1
logs+=("build")

if [ $# -eq 0 ] && [ "${ROOMS_TEST_SANITIZERS:-1}" != 0 ]; then
  part "build-asan: element, tool, browser and fuzz-replay tests under ASan and UBSan"
  start=$SECONDS
  if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan --buildtype=debugoptimized \
      -Db_sanitize=address,undefined || status=1
  fi
  if ninja -C build-asan; then
    echo "build-asan: built in $((SECONDS - start)) s"
    meson test -C build-asan --print-errorlogs --num-processes "$jobs" \
      --timeout-multiplier 3 --suite elements --suite generic \
      --suite pipelines --suite tool --suite fuzz --suite e2e \
      --no-suite churn --no-suite ladder || status=1
    logs+=("build-asan")
  else
    echo "build-asan: build failed"
    status=1
  fi
  echo "build-asan: $((SECONDS - start)) s in all"
fi

if [ $# -eq 0 ] && [ "${ROOMS_TEST_FUZZ:-1}" != 0 ]; then
  part "build-fuzz: libFuzzer targets, ${ROOMS_FUZZ_SECONDS:-30} s each"
  start=$SECONDS
  if [ ! -f build-fuzz/build.ninja ]; then
    CXX=clang++ meson setup build-fuzz --buildtype=debugoptimized \
      -Dfuzzing=true || status=1
  fi
  if ninja -C build-fuzz; then
    meson test -C build-fuzz --print-errorlogs --suite fuzz || status=1
    logs+=("build-fuzz")
  else
    echo "build-fuzz: build failed"
    status=1
  fi
  echo "build-fuzz: $((SECONDS - start)) s in all"
fi

echo
/usr/bin/python3 - "$top" "${logs[@]}" <<'PY'
import json, os, re, sys
total = [0, 0, 0]
failed = []
for build in sys.argv[2:]:
    counts = [0, 0, 0]  # passed, failed, skipped
    with open(os.path.join(sys.argv[1], build, "meson-logs", "testlog.json")) as f:
        results = [json.loads(line) for line in f]
    for r in results:
        i = 0 if r["result"] in ("OK", "EXPECTEDFAIL") else 2 if r["result"] == "SKIP" else 1
        counts[i] += 1
        total[i] += 1
    print(f"{build}: {counts[0]} passed, {counts[1]} failed, {counts[2]} skipped")
    failed += [(build, r) for r in results if r["result"] not in ("OK", "EXPECTEDFAIL", "SKIP")]
# The failures again at the very end, with the last lines each printed: a CI
# log is often read from its tail.
for build, r in failed:
    print(f"\n---- FAILED in {build}: {r['name']} ({r['result']}, {r['duration']:.0f} s) ----")
    lines = ((r.get("stdout") or "") + (r.get("stderr") or "")).splitlines()
    # check's failed assertions and a sanitizer report's first frames, which
    # the tail alone may not reach
    for i, line in enumerate(lines[:-40]):
        if re.search(r":[FE]:[^:]*:[^:]*:", line):
            print(line)
        elif "ERROR: AddressSanitizer" in line or "runtime error:" in line:
            print("\n".join(lines[i:i + 16]))
    print("\n".join(lines[-40:]))
print(f"\ntests: {total[0]} passed, {total[1]} failed, {total[2]} skipped")
PY
exit $status
