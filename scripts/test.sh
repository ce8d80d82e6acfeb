#!/usr/bin/env bash
# Sets up, then runs every test. Arithmetic-heavy tests run in release mode
# (with -enable-testing for @testable imports) so the suite stays fast.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests -c release -Xswiftc -enable-testing
swift test --skip-build -c release -Xswiftc -enable-testing
