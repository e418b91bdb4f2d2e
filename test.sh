#!/usr/bin/env bash
# Runs every HotPath test: installs what the tests need (scripts/setup.sh), builds (./build.sh), then runs the xunit suites,
# the C API tests, the QEMU guest tests (a real Linux guest on hp-fwd), then the benchmarks' allocation gate.
# Usage: ./test.sh
#        ./test.sh --stress [ROUNDS]   the xunit suite only, ROUNDS times (default 2), each under CPU contention: one
#                                      busy process pinned to each CPU beside it, so every thread of the tests and of
#                                      the library runs late and in odd orders. A test that depends on timing fails here.
set -euo pipefail
cd "$(dirname "$0")"
stress=0 rounds=1
if [ "${1:-}" = --stress ]; then stress=1 rounds=${2:-2}; fi
./scripts/setup.sh test
./build.sh          # libhotpath.so and the C programs the xunit tests run (hp-blk for the vhost-user-blk tests)
mkdir -p artifacts/test-logs
log=artifacts/test-logs/dotnet-test.log

busy=()
stop_busy() { for p in "${busy[@]}"; do kill "$p" 2>/dev/null || true; done; busy=(); }
trap stop_busy EXIT
if [ $stress = 1 ]; then
  for cpu in $(seq 0 $(($(nproc) - 1))); do
    taskset -c "$cpu" nice -n 0 sh -c 'while :; do :; done' &
    busy+=($!)
  done
  echo "test: stress mode: ${#busy[@]} busy processes pinned one per CPU, $rounds rounds of the xunit suite"
fi

for round in $(seq "$rounds"); do
  [ $stress = 1 ] && echo "=== stress round $round of $rounds"
  status=0
  dotnet test HotPath.sln -c Release --logger "console;verbosity=normal" 2>&1 | grep -v -E '^\s*$' | tee "$log" || status=$?
  if [ "$status" -ne 0 ]; then
    # The log is long: repeat the failures (with their messages) where a reader of the tail sees them.
    echo "=== dotnet test failed (exit $status); the failing tests:"
    grep -E -A25 '^\s*Failed [A-Za-z]|Test host process crashed|Fatal error' "$log" | head -300 || true
    # HotPath's own log lines went to a file, one section per test: show the failing tests' sections.
    liblog=artifacts/test-logs/hotpath-library.log
    for t in $(grep -oE '^\s*Failed [A-Za-z0-9_.]+' "$log" | awk '{print $2}' | sort -u); do
      echo "=== HotPath log lines during $t (last 80; all in $liblog):"
      awk -v t="$t" '$0 == "=== begin " t { on = 1; next } $0 == "=== end " t { on = 0 } on' "$liblog" | tail -80
    done
    exit "$status"
  fi
done
if [ $stress = 1 ]; then
  stop_busy
  echo "test: stress: $rounds rounds passed"
  exit 0
fi
./tests/c/run.sh
./scripts/pack.sh   # the managed API as NuGet packages, and a sample program built from them against virtio-user
./tests/qemu/run.sh
# Allocation gate: every BenchmarkDotNet suite once, in-process; fails when a benchmark allocates (about 20 s).
./perf/alloc-gate.sh
