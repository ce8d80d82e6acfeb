#!/usr/bin/env bash
# Sets up, then runs every test. Arithmetic-heavy tests run in release mode
# (with -enable-testing for @testable imports) so the suite stays fast.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --packages-only
# The release strdist the multi-rank tests run is built here too (with the tests' flags).
swift build --build-tests -c release -Xswiftc -enable-testing
# As root (CI) the multi-host and SLURM tests must run: they make namespace hosts and a local SLURM.
[ "$(id -u)" -eq 0 ] && export STRDIST_REQUIRE_CLUSTER=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# Line-buffered, so a log cut short shows the test that was running; a bound, so a hang fails
# within CI's budget instead of eating it.
timeout --kill-after=30 2700 stdbuf -oL -eL \
    swift test --skip-build -c release -Xswiftc -enable-testing --disable-swift-testing 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One plain summary line from XCTest's own totals.
summary=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -1)
total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
failed=$(sed -E 's/.*with ([0-9]+) failures?.*/\1/' <<<"$summary")
echo "tests: $((total - failed)) passed, $failed failed"
[ "$status" -eq 124 ] && echo "tests: stopped after 2700 s (a hang; the last test started above is the one)"
exit "$status"
