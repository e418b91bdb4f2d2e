#!/usr/bin/env bash
# Packs the managed API (HotPath.Engine, HotPath.Protocol) into artifacts/nuget, then builds and runs the sample
# application (samples/HotPath.Sample) from that local feed only, against DPDK's virtio-user (tests need root,
# hugepages and dpdk-testpmd: scripts/setup.sh test). Prints "nuget-sample: N passed, N failed".
# Usage: scripts/pack.sh [--no-run]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
feed=$root/artifacts/nuget
# A version of its own per build, so that no package cache hands back an older build's assemblies.
version=1.0.0-local.$(date +%Y%m%d%H%M%S)
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
finish() { echo "nuget-sample: $passed passed, $failed failed"; [ $failed = 0 ]; exit; }

rm -rf "$feed" "$root/artifacts/nuget-packages" "$root/samples/HotPath.Sample/bin" "$root/samples/HotPath.Sample/obj"
for p in engine/HotPath.Engine/HotPath.Engine.csproj protocol/HotPath.Protocol/HotPath.Protocol.csproj; do
  if dotnet pack "$p" -c Release -o "$feed" --nologo -v quiet -p:PackageVersion="$version" > "$root/artifacts/nuget-pack.log" 2>&1; then
    pass "dotnet pack $(basename "$p" .csproj) $version"
  else
    fail "dotnet pack $p:"; tail -20 "$root/artifacts/nuget-pack.log"; finish
  fi
done
# The sample restores HotPath.* from the local feed only (samples/HotPath.Sample/nuget.config maps them there) into
# a package folder of its own.
if dotnet build samples/HotPath.Sample -c Release --nologo -v quiet -p:HotPathVersion="$version" \
     -p:RestorePackagesPath="$root/artifacts/nuget-packages" > "$root/artifacts/nuget-sample-build.log" 2>&1; then
  pass "the sample builds from the packed packages (HotPath.Protocol $version)"
else
  fail "building the sample:"; tail -20 "$root/artifacts/nuget-sample-build.log"; finish
fi
[ "${1:-}" = --no-run ] && finish

sock=$(mktemp -u /tmp/hp-nuget-sample.XXXXXX.sock)
sample=$(find samples/HotPath.Sample/bin/Release -name HotPath.Sample.dll | head -1)
dotnet "$sample" "$sock" 8 > "$root/artifacts/nuget-sample.out" 2>&1 &
spid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
if [ -S "$sock" ]; then
  peer=$("$root/scripts/interop/virtio-user-peer.sh" "$sock" txonly 4 64)
  wait $spid; rc=$?
  line=$(grep '^sample:' "$root/artifacts/nuget-sample.out" | tail -1)
  echo "      $line | testpmd: $peer"
  got=$(echo "$line" | sed -n 's/.*packets=\([0-9]*\).*/\1/p')
  sent=$(echo "$peer" | sed -n 's/.* tx_total=\([0-9]*\).*/\1/p')
  # testpmd counts a frame as sent when it posts it, so up to one ring (queue_size=1024) of them can still be waiting
  # when it quits and the device goes away: a loaded machine shows that (it once failed CI by 832 frames).
  if [ $rc = 0 ] && [ "${got:-0}" -gt 0 ] && [ "$got" -le "${sent:-0}" ] && [ $((sent - got)) -le 1024 ]; then
    pass "the sample (a C# program on the packages) dequeued $got of the $sent frames virtio-user sent ($((sent - got)) still in the 1024-entry ring when it quit)"
  else
    fail "the sample exited $rc, dequeued ${got:-?} of ${sent:-?}: $(tail -5 "$root/artifacts/nuget-sample.out")"
  fi
else
  kill $spid 2>/dev/null; wait $spid; fail "the sample made no socket: $(tail -5 "$root/artifacts/nuget-sample.out")"
fi
rm -f "$sock"
finish
