#!/usr/bin/env bash
# Runs the whole gst-rooms test suite: installs what is missing, builds, checks
# formatting, runs every meson test and prints "N passed, N failed".
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/scripts/setup.sh" || { echo "setup failed"; exit 1; }

status=0
"$top/scripts/check-format.sh" || status=1

meson test -C build --print-errorlogs --num-processes "${ROOMS_TEST_JOBS:-2}" "$@"
meson_status=$?
[ $meson_status -eq 0 ] || status=1

/usr/bin/python3 - "$top/build/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as f:
    for line in f:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
