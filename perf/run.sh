#!/usr/bin/env bash
# Runs the BenchmarkDotNet suites (perf/HotPath.Perf) and writes markdown and JSON reports to
# perf/results/bdn-<job>-<stamp>/results/.
# Usage: perf/run.sh [--quick|--gate] [BenchmarkDotNet --filter patterns...]
#   default: BDN's default job (statistically sound, long: hours for every suite on 2 cores);
#   --quick: ShortRun (3 warm-ups, 3 iterations, one launch per benchmark), for manual use: ~10-20 min for all;
#   --gate:  the allocation gate's job (in-process, one iteration): seconds, Allocated only (see alloc-gate.sh).
# Example: perf/run.sh --quick '*DequeueBenchmarks*'
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
job=full
case "${1:-}" in --quick) job=quick; shift;; --gate) job=gate; shift;; esac
filter=(--filter '*')
[ $# -gt 0 ] && filter=(--filter "$@")
dotnet build perf/HotPath.Perf -c Release --nologo -v quiet >/dev/null
out=$root/perf/results/bdn-$job-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$out"
env=()
[ $job = gate ] && env=(DOTNET_TieredCompilation=0)
env "${env[@]}" dotnet perf/HotPath.Perf/bin/Release/net10.0/HotPath.Perf.dll --perf-job "$job" --perf-out "$out" \
  "${filter[@]}" 2>&1 | tee "$out/bdn.log"
echo "run.sh: reports in $out/results"
