#!/usr/bin/env bash
# Installs what HotPath's build and tests need on a fresh Debian 12 machine of this kind, idempotently:
#   - Debian packages: DPDK (dpdk-testpmd: the virtio-user frontend and the reference backend), QEMU, a guest
#     kernel, busybox-static, cpio, xz and a static libc for the VM tests (tests/qemu), valgrind, pkg-config;
#   - 2 MiB hugepages mounted at /dev/hugepages.
# Needs root for both; without root it says so loudly and the tests that need them skip with that message.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${HOTPATH_SHARED:-$here/../shared}
pkgs=(gcc make libc6-dev binutils dpdk dpdk-dev qemu-system-x86 linux-image-amd64 busybox-static kmod cpio pkg-config valgrind zstd xz-utils)

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

if [ -x "$shared/interop/hugepages.sh" ]; then
  "$shared/interop/hugepages.sh" "${HOTPATH_HUGEPAGES:-1024}" >/dev/null
else
  want=${HOTPATH_HUGEPAGES:-1024}
  [ "$(cat /proc/sys/vm/nr_hugepages)" -ge "$want" ] || echo "$want" > /proc/sys/vm/nr_hugepages
  mkdir -p /dev/hugepages; mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
fi
echo "setup: ok (dpdk-testpmd: $(command -v dpdk-testpmd || echo missing), hugepages free: $(awk '/HugePages_Free/{print $2}' /proc/meminfo))"
