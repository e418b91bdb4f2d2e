#!/usr/bin/env bash
# Runs every HotPath test: installs what the tests need (scripts/setup.sh), builds, then runs the xunit suites, the C
# API tests and the QEMU guest tests (a real Linux guest on hp-fwd).
# Usage: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
dotnet test HotPath.sln -c Release --logger "console;verbosity=normal" 2>&1 | grep -v -E '^\s*$'
./tests/c/run.sh
./tests/qemu/run.sh
