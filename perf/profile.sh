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
  mkdir -p "$prof/lib"
  # The unstripped native output must not be what build.sh's next publish picks up as up to date (it would find no
  # .dbg to install): drop the intermediate native folder so that publish links again with its own settings.
  rm -rf "$root/protocol/HotPath.Native/obj/Release/net9.0/linux-x64/native"
  # Valgrind 3.19 cannot read DWARF 5: keep only the symbol table, beside the library, and point the library at it.
  # StripSymbols=false leaves the symbols in the .so itself (a .dbg in obj/ would be one from an older publish).
  rm -f "$prof/obj/HotPath.Native.so.dbg"
  objcopy --strip-debug "$prof/obj/HotPath.Native.so" "$prof/lib/HotPath.Native.so.sym"
  objcopy --strip-debug --remove-section .gnu_debuglink "$prof/obj/HotPath.Native.so" "$prof/lib/libhotpath.so.1"
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
