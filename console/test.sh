#!/usr/bin/env bash
# Browser tests of the staff console in headless Chromium against a running platform.
#   CONSOLE_BASE_URL        origin that serves /console/ and the API (default http://127.0.0.1:3000)
#   CONSOLE_ADMIN_EMAIL     bootstrap admin (default BOOTSTRAP_ADMIN_EMAIL or admin@liveops.local)
#   CONSOLE_ADMIN_PASSWORD  its password (default BOOTSTRAP_ADMIN_PASSWORD)
#   CHROMIUM_PATH           browser binary (default /usr/bin/chromium)
# Extra arguments are test files (default: every tests/*.test.mjs).
set -uo pipefail
cd "$(dirname "$0")"

./build.sh >/dev/null || { echo "console: build failed"; echo "0 passed, 1 failed"; exit 1; }

base="${CONSOLE_BASE_URL:-http://127.0.0.1:3000}"
export CONSOLE_BASE_URL="$base"
export CONSOLE_ADMIN_PASSWORD="${CONSOLE_ADMIN_PASSWORD:-${BOOTSTRAP_ADMIN_PASSWORD:-}}"
if [ -z "$CONSOLE_ADMIN_PASSWORD" ]; then
  echo "console: set CONSOLE_ADMIN_PASSWORD (or BOOTSTRAP_ADMIN_PASSWORD)"; echo "0 passed, 1 failed"; exit 1
fi
if ! curl -fsS -o /dev/null "${base%/}/console/"; then
  echo "console: ${base%/}/console/ does not answer; start the platform (and the console's server) first"
  echo "0 passed, 1 failed"; exit 1
fi
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || { echo "console: no Chromium at ${CHROMIUM_PATH:-/usr/bin/chromium} (apt-get install chromium)"; echo "0 passed, 1 failed"; exit 1; }

tap="$(mktemp)"
trap 'rm -f "$tap"' EXIT
if [ $# -gt 0 ]; then files=("$@"); else files=(tests/*.test.mjs); fi
node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${files[@]}"
rc=$?
count() { grep -E "^# $1 [0-9]+" "$tap" | tail -1 | awk '{print $3}'; }
pass="$(count pass)"; fail="$(count fail)"; skipped="$(count skipped)"; cancelled="$(count cancelled)"
fail=$(( ${fail:-0} + ${cancelled:-0} ))
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
echo "${pass:-0} passed, ${fail} failed, ${skipped:-0} skipped"
exit "$rc"
