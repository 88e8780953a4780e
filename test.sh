#!/usr/bin/env bash
# The test command: every test of the workspace, with the PostgreSQL suites whenever a server
# answers, and a closing line that counts skipped tests beside passed and failed ones.
#
#   bash test.sh [cargo test arguments…]
#
# A test whose tool or service is missing skips with a reason; the reasons are listed at the end.
# With TRADEQ_REQUIRE_ALL=1 a skip is a failure instead (CI sets it).
set -uo pipefail
cd "$(dirname "$0")"

# PostgreSQL: TRADEQ_TEST_DATABASE_URL when set, else a local server with the usual trust setup.
if [ -z "${TRADEQ_TEST_DATABASE_URL:-}" ]; then
  local_url="postgres://postgres@127.0.0.1:5432/test"
  if command -v psql >/dev/null && psql "$local_url" -qAtc 'select 1' >/dev/null 2>&1; then
    export TRADEQ_TEST_DATABASE_URL="$local_url"
    echo "PostgreSQL suites: $local_url"
  else
    echo "PostgreSQL suites: no server at $local_url (set TRADEQ_TEST_DATABASE_URL to run them)"
  fi
fi

skips="$(mktemp)"
log="$(mktemp)"
trap 'rm -f "$skips" "$log"' EXIT
export TRADEQ_SKIP_LOG="$skips"

cargo test --workspace "$@" 2>&1 | tee "$log"
status="${PIPESTATUS[0]}"

# cargo prints one result line per test binary.
passed="$(grep -aEo 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')"
failed="$(grep -aEo 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{s += $6} END {print s + 0}')"
skipped="$(sort -u "$skips" | grep -c . || true)"
if [ "$skipped" -gt 0 ]; then
  echo
  echo "skipped (they passed without doing their work):"
  sort -u "$skips" | sed 's/^/  /'
fi
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
