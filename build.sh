#!/usr/bin/env bash
# Builds HotPath's native deliverables into artifacts/:
#   lib/libhotpath.so.1 (SONAME libhotpath.so.1) and the lib/libhotpath.so link, lib/pkgconfig/hotpath.pc,
#   include/hotpath.h, bin/hp-fwd, bin/hp-echo (tools/examples), bin/hp-frontend (HotPath's frontend as a traffic
#   generator, for hp-fwd --demo); debug/*.dbg (debug info, kept out of lib/: valgrind 3.19 cannot read its DWARF 5).
# First installs what is missing (scripts/setup.sh). A second run with nothing changed takes seconds: each NativeAOT
# publish is skipped while the hash of its inputs (managed sources, project files, SDK version) is unchanged, and
# make rebuilds only stale C programs.
# Usage: ./build.sh [--force]     (--force: publish even when the inputs did not change)
#        ./build.sh install --prefix DIR     builds, then installs the library, header, pkg-config file, tools and
#                                            examples under DIR (lib/, include/, bin/, share/hotpath/)
#        ./build.sh uninstall --prefix DIR   removes exactly what install put there (its manifest)
# HP_ILC_ISA=x86-x64-v2 ./build.sh: native code for an older CPU than libhotpath's default x86-x64-v3 (IlcInstructionSet).
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
art=$root/artifacts
force=0 action=build prefix=
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    install|uninstall) action=$1 ;;
    --prefix) prefix=${2:?--prefix wants a directory}; shift ;;
    --prefix=*) prefix=${1#--prefix=} ;;
    *) echo "build: unknown argument $1 (usage: ./build.sh [--force] | install --prefix DIR | uninstall --prefix DIR)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$action" != build ] && [ -z "$prefix" ]; then echo "build: $action needs --prefix DIR" >&2; exit 2; fi
manifest() { echo "$1/share/hotpath/install-manifest.txt"; }
if [ "$action" = uninstall ]; then
  m=$(manifest "$prefix")
  [ -f "$m" ] || { echo "build: nothing installed under $prefix (no $m)" >&2; exit 1; }
  while IFS= read -r f; do rm -f "$prefix/$f"; done < "$m"
  rm -f "$m"
  find "$prefix" -depth -type d -empty -delete 2>/dev/null || true
  echo "build: uninstalled from $prefix"
  exit 0
fi
t0=$EPOCHREALTIME
step() { awk -v s="$1" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "build: %-28s %6.1fs\n", s, b - a }'; }

./scripts/setup.sh build
command -v dotnet >/dev/null || { echo "build: dotnet is not installed (the .NET 10 SDK is needed)" >&2; exit 1; }
step "setup"
# libhotpath is compiled for x86-x64-v3 (its project's IlcInstructionSet); on a CPU without every v3 feature the
# library would refuse to start, so build for x86-x64-v2 there unless told otherwise.
if [ -z "${HP_ILC_ISA:-}" ] && [ -r /proc/cpuinfo ]; then
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  for f in avx2 bmi1 bmi2 fma movbe abm; do
    case " $flags " in *" $f "*) ;; *) HP_ILC_ISA=x86-x64-v2; echo "build: this CPU lacks $f: native code for x86-x64-v2" ;; esac
    [ -n "${HP_ILC_ISA:-}" ] && break
  done
fi

# ---- NativeAOT publishes, each skipped while the hash of its inputs is unchanged ----
# Inputs: the C# sources and project files under the given folders, the shared build files, the SDK version.
inputs_hash() { # FOLDER...
  { find "$@" -type d \( -name bin -o -name obj \) -prune -o -type f \
      \( -name '*.cs' -o -name '*.c' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' \) -print |
      LC_ALL=C sort | xargs sha256sum
    sha256sum Directory.Build.props Directory.Packages.props global.json
    dotnet --version
    echo "isa=${HP_ILC_ISA:-}"
  } | sha256sum | cut -c1-64
}
publish() { # NAME PROJECT INSTALLED_FILE FOLDER...   (prints whether it published)
  local name=$1 project=$2 installed=$3; shift 3
  local want stamp=$art/.stamps/$name.sha256 pub=$art/obj/$name
  want=$(inputs_hash "$@")
  if [ $force = 0 ] && [ -f "$installed" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    step "$name (up to date)"
    return 1
  fi
  dotnet publish "$project" -c Release -o "$pub" --nologo -v quiet -p:TreatWarningsAsErrors=true \
    ${HP_ILC_ISA:+-p:IlcInstructionSet=$HP_ILC_ISA} ||
    { echo "build: publishing $name failed" >&2; exit 1; }
  mkdir -p "$(dirname "$stamp")"
  echo "$want" > "$stamp.pending"   # committed by the caller once the files are installed
  return 0
}
commit_stamp() { mv "$art/.stamps/$1.sha256.pending" "$art/.stamps/$1.sha256"; step "$1 (published)"; }

if publish libhotpath protocol/HotPath.Native/HotPath.Native.csproj "$art/lib/libhotpath.so.1" engine protocol; then
  install -D -m 755 "$art/obj/libhotpath/HotPath.Native.so" "$art/lib/libhotpath.so.1"
  ln -sfn libhotpath.so.1 "$art/lib/libhotpath.so"
  install -D -m 644 "$art/obj/libhotpath/HotPath.Native.so.dbg" "$art/debug/HotPath.Native.so.dbg"
  commit_stamp libhotpath
fi
# hp-frontend: HotPath's own virtio frontend as a traffic generator (hp-fwd --demo runs it).
if publish hp-frontend tools/HotPath.Frontend.Cli/HotPath.Frontend.Cli.csproj "$art/bin/hp-frontend" \
    engine protocol/HotPath.Protocol tools/HotPath.Frontend tools/HotPath.Frontend.Cli; then
  install -D -m 755 "$art/obj/hp-frontend/hp-frontend" "$art/bin/hp-frontend"
  install -D -m 644 "$art/obj/hp-frontend/hp-frontend.dbg" "$art/debug/hp-frontend.dbg"
  commit_stamp hp-frontend
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
# Relocatable: the prefix is found from this file's own directory (lib/pkgconfig), wherever the tree was copied or
# installed. Libs carries an rpath so programs run without LD_LIBRARY_PATH.
prefix=\${pcfiledir}/../..
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
# hotpath-rte: DPDK 22.11's rte_vhost.h / rte_mbuf.h / rte_mempool.h / rte_ring.h on HotPath, so that a DPDK vhost
# program builds by include path.
for h in protocol/HotPath.Native/include/rte/*.h; do install_if_changed "$h" "$art/include/hotpath-rte/$(basename "$h")"; done
sed -e 's/^Name: hotpath$/Name: hotpath-rte/' \
    -e 's/^Description: .*/Description: DPDK rte_vhost API (source compatibility) on libhotpath.so/' \
    -e 's|^Cflags: .*|Cflags: -I${includedir}/hotpath-rte -I${includedir}|' "$pc" > "$pc.rte"
install_if_changed "$pc.rte" "$art/lib/pkgconfig/hotpath-rte.pc"
rm -f "$pc" "$pc.rte"
step "header, pkg-config"

# ---- C programs ----
make -s -C tools ART="$art"
step "hp-fwd, hp-crypto, examples"
echo "build: done: $art"

if [ "$action" = install ]; then
  mkdir -p "$prefix"
  prefix=$(cd "$prefix" && pwd)
  files=(lib/libhotpath.so.1 lib/pkgconfig/hotpath.pc lib/pkgconfig/hotpath-rte.pc include/hotpath.h bin/hp-fwd bin/hp-frontend bin/hp-echo bin/hp-blk bin/hp-crypto bin/hp-crypto-mini)
  for h in "$art"/include/hotpath-rte/*.h; do files+=("include/hotpath-rte/$(basename "$h")"); done
  for f in "${files[@]}"; do install -D -m "$([ "${f%%/*}" = bin ] || [ "${f##*.}" = 1 ] && echo 755 || echo 644)" "$art/$f" "$prefix/$f"; done
  ln -sfn libhotpath.so.1 "$prefix/lib/libhotpath.so"
  files+=(lib/libhotpath.so)
  for f in tools/examples/*.c; do install -D -m 644 "$f" "$prefix/share/hotpath/examples/$(basename "$f")"; files+=("share/hotpath/examples/$(basename "$f")"); done
  printf '%s\n' "${files[@]}" > "$(manifest "$prefix")"
  echo "build: installed under $prefix (pkg-config: PKG_CONFIG_PATH=$prefix/lib/pkgconfig; ./build.sh uninstall --prefix $prefix)"
fi
