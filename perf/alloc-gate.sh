#!/usr/bin/env bash
# Allocation gate: runs every BenchmarkDotNet suite with the 'gate' job (in-process, one short iteration, no timing
# worth reading) and fails when any benchmark allocates more bytes per operation than perf/alloc-baseline.json
# allows (0 on the hot path). About 15-30 s here after the build. No timing thresholds: the machine is too noisy.
# Usage: perf/alloc-gate.sh [--no-build] [BenchmarkDotNet --filter patterns...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=1
[ "${1:-}" = --no-build ] && { build=0; shift; }
[ $build = 1 ] && dotnet build perf/HotPath.Perf -c Release --nologo -v quiet >/dev/null
out=$(mktemp -d /tmp/hp-alloc-gate.XXXXXX)
trap 'rm -rf "$out"' EXIT
filter=(--filter '*')
[ $# -gt 0 ] && filter=(--filter "$@")
# Tiered compilation off: the in-process run then has no background JIT allocating while the diagnoser counts.
DOTNET_TieredCompilation=0 dotnet perf/HotPath.Perf/bin/Release/net10.0/HotPath.Perf.dll --perf-job gate \
  --perf-out "$out" "${filter[@]}" >"$out/bdn.log" 2>&1 || { tail -40 "$out/bdn.log"; echo "alloc-gate: the benchmarks failed" >&2; exit 1; }
python3 - "$root/perf/alloc-baseline.json" "$out"/results/*-report-full.json <<'PY'
import json, sys
base = json.load(open(sys.argv[1]))
limits, default = base["benchmarks"], base["default"]
bad, n = [], 0
for path in sys.argv[2:]:
    for b in json.load(open(path))["Benchmarks"]:
        n += 1
        key = f'{b["Namespace"]}.{b["Type"]}.{b["Method"]}'
        got = (b.get("Memory") or {}).get("BytesAllocatedPerOperation")
        limit = limits.get(key, default)
        if got is None or got > limit:
            bad.append(f'{b["FullName"]}: {got} B/op > {limit}')
if n == 0:
    sys.exit("alloc-gate: no benchmark results")
for line in bad:
    print("alloc-gate: FAIL", line)
print(f"alloc-gate: {n} benchmarks, {len(bad)} over the baseline")
sys.exit(1 if bad else 0)
PY
