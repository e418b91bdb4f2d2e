#!/usr/bin/env bash
# Where the instructions go: publishes libhotpath.so into artifacts/profile/lib with a symbol-only debug file beside
# it (the .dbg without its DWARF 5, which valgrind 3.19 cannot read), runs callgrind-ipp.sh on hp-fwd with it, and prints
# callgrind_annotate's inclusive/self profile of the burst function.
# Usage: perf/profile.sh WORKLOAD LEN PACKED   (e.g. perf/profile.sh dequeue 64 0)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
wl=$1; len=$2; packed=$3
prof=$root/artifacts/profile
if [ ! -f "$prof/lib/libhotpath.so.1" ] || [ "${REPUBLISH:-0}" = 1 ]; then
  dotnet publish protocol/HotPath.Native/HotPath.Native.csproj -c Release -o "$prof/obj" --nologo -v quiet -p:StripSymbols=false
  # Valgrind 3.19 cannot read the DWARF 5 of the .dbg: keep only its symbol table, and point the library at it.
  mkdir -p "$prof/lib"
  objcopy --strip-debug "$prof/obj/HotPath.Native.so.dbg" "$prof/lib/HotPath.Native.so.sym"
  objcopy --remove-section .gnu_debuglink "$prof/obj/HotPath.Native.so" "$prof/lib/libhotpath.so.1"
  (cd "$prof/lib" && objcopy --add-gnu-debuglink=HotPath.Native.so.sym libhotpath.so.1)
fi
line=$(LD_LIBRARY_PATH=$prof/lib DOTNET_GCRegionRange=40000000 SECS=${SECS:-15} "$(cd "$(dirname "$0")/.." && pwd)/scripts/interop/callgrind-ipp.sh" \
  "$wl" "$len" "$packed" "hp_vhost_${wl}_burst" -- "$root/artifacts/bin/hp-fwd" --socket {SOCK} --mode {MODE} \
  --pkt-len {LEN} --seconds {SECS} --stats-interval 0)
echo "$line"
out=$(ls -t /tmp/ipp-*.callgrind | head -1)
cp "$out" "$prof/$wl-$len-$packed.callgrind"
callgrind_annotate --inclusive=yes "$prof/$wl-$len-$packed.callgrind" | sed -n 25,60p
callgrind_annotate "$prof/$wl-$len-$packed.callgrind" | sed -n 25,60p
