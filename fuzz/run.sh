#!/usr/bin/env bash
# The long fuzz run: builds the runner, then checks every property with fresh seeds for N minutes, printing the
# throughput of each property (cases/s, every 30 s and at the end) and every counterexample FsCheck shrank, as a
# ready-to-paste xunit test (printed, and written to $HOTPATH_FUZZ_OUT, default artifacts/fuzz/PROPERTY-0xSEED.cs).
# Usage: fuzz/run.sh [--minutes N] [--property NAME]... [--batch N]
#        fuzz/run.sh --property NAME --seed S [--cases N]      (replays one run exactly)
# Properties: split, packed (ring datapaths against their models), control (vhost-user message sequences),
# iotlb-cache, iotlb-messages (IOTLB_MSG sequences against a byte-range model, on the cache and through the control plane).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dotnet build "$root/fuzz/HotPath.Fuzz.Runner" -c Release -v q --nologo -p:TreatWarningsAsErrors=true > /tmp/hotpath-fuzz-build.log 2>&1 ||
  { cat /tmp/hotpath-fuzz-build.log; exit 1; }
# Guard pages around pools, rings and scratch, as in the tests: an out-of-bounds access faults at once.
export HOTPATH_GUARD_PAGES=1
export HOTPATH_FUZZ_OUT=${HOTPATH_FUZZ_OUT:-$root/artifacts/fuzz}
exec dotnet "$root/fuzz/HotPath.Fuzz.Runner/bin/Release/net10.0/HotPath.Fuzz.Runner.dll" "$@"
