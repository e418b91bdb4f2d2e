#!/usr/bin/env bash
# Runs every HotPath test: installs what the tests need (scripts/setup.sh), builds, then runs the xunit suites,
# the C API tests and the QEMU guest tests.
# Usage: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
mkdir -p artifacts/test-logs
log=artifacts/test-logs/dotnet-test.log
status=0
dotnet test HotPath.sln -c Release --logger "console;verbosity=normal" 2>&1 | grep -v -E '^\s*$' | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
    # The log is long: repeat the failures (with their messages) where a reader of the tail sees them.
    echo "=== dotnet test failed (exit $status); the failing tests:"
    grep -E -A25 '^\s*Failed [A-Za-z]|Test host process crashed|Fatal error' "$log" | head -300 || true
    exit "$status"
fi
./tests/c/run.sh
