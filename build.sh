#!/usr/bin/env bash
# Builds HotPath's native deliverables into artifacts/:
#   lib/libhotpath.so.1 (SONAME libhotpath.so.1) and the lib/libhotpath.so link, lib/pkgconfig/hotpath.pc,
#   include/hotpath.h, bin/hp-fwd, bin/hp-echo (tools/examples); debug/HotPath.Native.so.dbg (the library's debug
#   info, kept out of lib/: valgrind 3.19 cannot read its DWARF 5).
# First installs what is missing (scripts/setup.sh). A second run with nothing changed takes seconds: the NativeAOT
# publish is skipped while the hash of its inputs (managed sources, project files, SDK version) is unchanged, and
# make rebuilds only stale C programs.
# Usage: ./build.sh [--force]     (--force: publish the library even when its inputs did not change)
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
art=$root/artifacts
force=0
[ "${1:-}" = --force ] && force=1
t0=$EPOCHREALTIME
step() { awk -v s="$1" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "build: %-28s %6.1fs\n", s, b - a }'; }

./scripts/setup.sh
command -v dotnet >/dev/null || { echo "build: dotnet is not installed (the .NET 10 SDK is needed)" >&2; exit 1; }
step "setup"

# ---- libhotpath.so (NativeAOT publish, skipped when its inputs did not change) ----
native_inputs() {
  find engine protocol -type d \( -name bin -o -name obj \) -prune -o -type f \
    \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' \) -print
  ls Directory.Build.props Directory.Packages.props global.json
}
want=$( { native_inputs | LC_ALL=C sort | xargs sha256sum; dotnet --version; } | sha256sum | cut -c1-64)
stamp=$art/.stamps/native.sha256
if [ $force = 1 ] || [ ! -f "$art/lib/libhotpath.so.1" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  pub=$art/obj/native
  dotnet publish protocol/HotPath.Native/HotPath.Native.csproj -c Release -o "$pub" --nologo -v quiet \
    -p:TreatWarningsAsErrors=true
  install -D -m 755 "$pub/HotPath.Native.so" "$art/lib/libhotpath.so.1"
  ln -sfn libhotpath.so.1 "$art/lib/libhotpath.so"
  install -D -m 644 "$pub/HotPath.Native.so.dbg" "$art/debug/HotPath.Native.so.dbg"
  mkdir -p "$(dirname "$stamp")"
  echo "$want" > "$stamp"
  step "libhotpath.so (published)"
else
  step "libhotpath.so (up to date)"
fi

# ---- header and pkg-config file (rewritten only when their content changes, so make sees no change) ----
install_if_changed() { # SRC DST
  mkdir -p "$(dirname "$2")"
  cmp -s "$1" "$2" || install -m 644 "$1" "$2"
}
install_if_changed protocol/HotPath.Native/include/hotpath.h "$art/include/hotpath.h"
pc=$(mktemp)
cat > "$pc" <<PC
# HotPath: vhost-user backend library with a DPDK rte_vhost-style C API.
# Libs carries an rpath because artifacts/ is used in place, not installed.
prefix=$art
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: hotpath
Description: HotPath vhost-user backend (libhotpath.so)
Version: 1.0.0
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lhotpath
Libs.private: -lpthread
Cflags: -I\${includedir}
PC
install_if_changed "$pc" "$art/lib/pkgconfig/hotpath.pc"
rm -f "$pc"
step "header, pkg-config"

# ---- C programs ----
make -s -C tools ART="$art"
step "hp-fwd, examples"
echo "build: done: $art"
