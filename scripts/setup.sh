#!/usr/bin/env bash
# Installs what HotPath needs on a fresh Debian 12 machine of this kind, idempotently. Two profiles:
#   build (./build.sh, ./demo.sh): a C toolchain and pkg-config, nothing more (the .NET SDK is expected);
#   test  (./test.sh): also DPDK (dpdk-testpmd: the virtio-user frontend and the reference backend), QEMU, a guest
#         kernel, busybox-static, cpio, xz and a static libc for the VM tests (tests/qemu), valgrind, and 2 MiB
#         hugepages mounted at /dev/hugepages (scripts/interop/hugepages.sh).
# Needs root; without root it says so loudly and the tests that need what it could not install skip with that message.
# Usage: scripts/setup.sh [build|test]    (default: test)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
profile=${1:-test}
pkgs=(gcc make libc6-dev binutils pkg-config)
case "$profile" in
  build) ;;
  test) pkgs+=(dpdk dpdk-dev qemu-system-x86 linux-image-amd64 busybox-static kmod cpio valgrind zstd xz-utils) ;;
  *) echo "setup.sh: unknown profile $profile (build or test)" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
  echo "!!! setup.sh: not root: cannot install packages or reserve hugepages; interop tests will be skipped !!!" >&2
  exit 0
fi

missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$profile" = test ]; then
  "$here/scripts/interop/hugepages.sh" "${HOTPATH_HUGEPAGES:-1024}" >/dev/null
fi
if [ "$profile" = test ]; then
  echo "setup: ok (dpdk-testpmd: $(command -v dpdk-testpmd || echo missing), hugepages free: $(awk '/HugePages_Free/{print $2}' /proc/meminfo))"
else
  echo "setup: ok (build tools)"
fi
