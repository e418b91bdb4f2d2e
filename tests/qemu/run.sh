#!/usr/bin/env bash
# HotPath under a real Linux guest (./test.sh runs it). QEMU 7.2 (TCG) boots the Debian kernel with a busybox
# initramfs (guest-init.sh as /init, udpflood.c built -static); the guest's own virtio_net driver runs a
# virtio-net-pci NIC whose netdev is vhost-user, served by hp-fwd --mode icmpecho on libhotpath.so. Each boot runs a
# plan of guest steps (guest-init.sh) and the host checks what hp-fwd saw; every scenario prints PASS or FAIL with
# the reason:
#   server    hp-fwd serves the socket: ping 100/100 (ARP through hp-fwd, no static entry), 1472-byte payloads
#             (1500-byte IP packets), UDP floods of 64 and 1514-byte frames (the throughput figure), and exact
#             accounting (every frame udpflood handed the driver reached hp-fwd; every reply reached the guest)
#   client    QEMU serves (server=on), hp-fwd --client: ping 100/100; hp-fwd stopped (SIGINT) and started again
#             while the guest runs, then killed (SIGKILL) and started again, pings after each; a device reset by
#             unbinding/binding virtio_net and one by PCI remove/rescan, pings after each
#   mrg-off, event-idx-off, packed
#             the device with mrg_rxbuf=off / event_idx=off / packed=on: ping 100/100, 1472-byte payloads, a 2 s
#             flood with the same exact accounting, and hp-fwd's device line shows the feature was (not) negotiated
#   mq        -smp 2, queues=2, mq=on: two ping flows pinned to CPU 0 and 1 (XPS puts them on TX queues 0 and 1),
#             each answered in full, and hp-fwd's per-queue counters show both queue pairs answered
#   mtu9000   host_mtu=9000: NET_MTU negotiated (hp-fwd prints hp_vhost_get_mtu = 9000), the guest's eth0 comes up
#             at MTU 9000, 8972-byte payloads (9014-byte frames) answered
#   async     hp-fwd --async (issue 19: replies through hp_vhost_submit_enqueue_burst, the built-in copy engine
#             copying what is over 256 bytes), host_mtu=9000: ping 100/100, 1472 and 8972-byte payloads answered;
#             floods INTO the guest through the async path (echoflood: 1514 and 8000-byte frames to UDP port 7 that
#             hp-fwd reflects, HPQ_ECHO_PPS frames/s, default 0 = as fast as the guest sends: every frame reflected,
#             enqueued or counted dropped, each reflection the guest counted was one hp-fwd enqueued); floods of
#             64 and 1514-byte frames with the same exact accounting (every reply reached the guest)
#   async-packed  the async boot with packed=on: the packed ring's async enqueue
#   interrupt hp-fwd --rx-mode interrupt (issue 14): the guest idles (link up, nothing sent) for HPQ_IDLE_SECONDS
#             (default 20) while hp-fwd's CPU time (utime+stime) grows by under 1% of the wall time; then ping
#             100/100 and floods of 64 and 1514-byte frames with the same exact accounting
#   viommu    the guest behind QEMU's intel-iommu (-machine q35, intel-iommu,intremap=on,device-iotlb=on; under TCG
#             intremap needs no kernel-irqchip=split, that is KVM's), the NIC behind a pcie-root-port with
#             iommu_platform=on,ats=on, kernel intel_iommu=on iommu.strict=1 (and no_timer_check: an interrupt-
#             remapped guest panics when TCG is too slow for its early timer check), hp-fwd --iommu: a driver unbind/bind
#             first (the rings freed and mapped again), then ping 100/100, 64 and 1514-byte floods with the same
#             exact accounting (5 pings after the floods: hp-fwd has drained the TX ring), ACCESS_PLATFORM negotiated (access_platform=1) and hp-fwd's iotlb_hits and
#             iotlb_misses both > 0
#   viommu-lazy
#             the same machine and steps with lazy invalidation (iommu.strict=0) and packed=on on the NIC:
#             RING_PACKED must be negotiated when hp-fwd's offered features have it (they do), split rings run
#             otherwise (the boot says which)
#   takeover  hitless upgrade (issue 18): while the guest floods numbered UDP frames (2000/s) and pings in rounds,
#             hp-fwd is replaced by a new hp-fwd --takeover HPQ_TAKEOVERS times (default 10) in a row, each after the
#             previous one forwarded; every old one hands its device over and exits 0 by itself. Checks: every echo
#             request answered, eth0's carrier_changes unchanged, the hp-fwd processes together counted exactly the
#             frames udpflood queued and enqueued exactly the replies the guest received, each new hp-fwd says
#             "takeover state=taken devices=1" and got new_device once, none but the first read a message that
#             sets a device up (no second SET_FEATURES/SET_MEM_TABLE/SET_VRING_*, no DRIVER_OK), none but the last
#             (the guest's poweroff) read any message; the pause per takeover (the new hp-fwd's pause_ns): list,
#             median and max
#   takeover-client
#             the same with QEMU serving (server=on) and hp-fwd --client: the connection itself is handed over
#   takeover-kill
#             QEMU server=on, hp-fwd --client, HOTPATH_TAKEOVER_STALL: the old hp-fwd SIGKILLed at old-quiesced (the
#             new one starts normally, QEMU reconnects, pings answered after), then under a flood and pings a new
#             hp-fwd SIGKILLed at new-ready (the running one resumes: no link change, every ping answered, every
#             flooded frame counted by it)
#   migrate-precopy
#             live migration (issue 15): a source and a destination QEMU (memfd memory), each NIC on its own hp-fwd;
#             the guest pings every 20 ms while the source migrates it (QMP, max-bandwidth HPQ_MIGRATE_BANDWIDTH,
#             default 8 MiB/s, so precopy overlaps the traffic) over a Unix socket; status completed, the ping
#             answered before and after, the destination guest pings 100/100, and the source hp-fwd printed
#             features_changed log_all=1 and a nonzero pages_marked figure; meanwhile the guest floods UDP frames
#             (2000/s): source and destination hp-fwd together counted exactly the frames queued, and a memory
#             pattern the guest kept rewriting (memtouch) is intact on the destination
#   migrate-postcopy
#             the same with postcopy-ram on both QEMUs and the destination hp-fwd --postcopy: the source switches
#             to postcopy (migrate-start-postcopy) as soon as the migration is active; status goes through
#             postcopy-active to completed (postcopy-requests reported), and the destination hp-fwd logged
#             postcopy advised, listening and ended in that order
#   migrate-hugepage
#             migrate-precopy with the guest on hugetlbfs (memory-backend-file on /dev/hugepages); skipped loudly
#             when 256 free 2 MiB hugepages are not there
#   crypto    (issue 20) no NIC: a virtio-crypto-pci device on QEMU's cryptodev-vhost-user, served by hp-crypto
#             (tools/hp-crypto: the library's engine through the C API). The guest's virtio_crypto registers its
#             skciphers (HPQ-DATA crypto-algs); afalg_kat (a static C program) runs through AF_ALG, bound to the
#             virtio driver by name: SP 800-38A AES-128/192/256-CBC known answers, 4112/16384/32768/65536-byte
#             buffers across pages, a 131072-byte request (more than HotPath holds: the guest must read an error, never
#             success with a wrong answer), a flood of HPQ_CRYPTO_FLOOD (default 2000) encrypt+decrypt pairs each checked against
#             its own software AES, then HPQ_CRYPTO_BENCH s (default 2) per size of 64/1024/4096-byte requests
#             (requests/s, MB/s). hp-crypto's counts from the guest's mark (after the kernel's self-tests) to its
#             exit equal the guest's requests and bytes exactly, with no error but the requests it refused.
#             HPQ_CRYPTO_IDLE (default 200) is hp-crypto's --idle-sleep in microseconds (0: it spins).
# A failed boot keeps its directory (guest console, hp-fwd logs, vhost-user message summary) and prints their tails.
# vectors=0 on virtio-net-pci: QEMU 7.2 under TCG segfaults at DRIVER_OK with MSI-X and a vhost-user netdev.
# Builds first (../../build.sh, seconds when nothing changed). Needs qemu-system-x86, linux-image-amd64,
# busybox-static, kmod, cpio, xz-utils, binutils, gcc and libc6-dev (scripts/setup.sh installs them as root); runs
# unprivileged too. Without root and without them it skips loudly. Last line: "qemu-tests: N passed, N failed, N skipped".
# Environment: HPQ_BOOTS="server mq ..." runs only those boots; HPQ_TAKEOVERS (default 10) sets the takeover boots' count; HPQ_BOOT_TIMEOUT (s, default 300) bounds one boot
# (a boot whose guest did not even reach its plan by then runs once more: the machine was too busy);
# HPQ_RX_MODE (default interrupt) runs the interrupt boot with another hp-fwd --rx-mode (perf/rx-modes.sh compares
# them; poll fails its idle-CPU check by design); HPQ_BUDGET (s, default 900) bounds the suite: boots not started
# by then fail with that reason; HPQ_KEEP=1 keeps
# the work directory of passing boots too. HPQ_MIGRATE_BACKEND=dpdk (default hotpath) serves the migrate boots'
# NICs with DPDK's backend instead (testpmd icmpecho, see start_tp; perf/migrate.sh compares the two);
# HPQ_VIOMMU_BACKEND=dpdk does the same for the viommu boots (iommu-support=1; only the guest's verdicts are checked).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
art=$root/artifacts
fwd=$art/bin/hp-fwd
KVER=${KVER:-$(ls /lib/modules 2>/dev/null | sort -V | tail -1)}
KERNEL=/boot/vmlinuz-$KVER
BOOT_TIMEOUT=${HPQ_BOOT_TIMEOUT:-300}
BUDGET=${HPQ_BUDGET:-900}
BOOTS=${HPQ_BOOTS:-server client crypto mrg-off event-idx-off packed mq mtu9000 async async-packed interrupt takeover takeover-client takeover-kill viommu viommu-lazy migrate-precopy migrate-postcopy migrate-hugepage}
MIGRATE_BANDWIDTH=${HPQ_MIGRATE_BANDWIDTH:-8388608}
MIGRATE_BACKEND=${HPQ_MIGRATE_BACKEND:-hotpath}
IDLE_SECONDS=${HPQ_IDLE_SECONDS:-20}
TAKEOVERS=${HPQ_TAKEOVERS:-10}
PEER_MAC=02:00:00:00:00:02 # hp-fwd --mac: what ARP replies give for 10.0.0.2
GUEST_MAC=52:54:00:12:34:56
passed=0 failed=0 skipped=0 boot_failed=0
t_suite=$SECONDS

pass() { passed=$((passed + 1)); echo "PASS  $1: $2"; }
fail() { failed=$((failed + 1)); boot_failed=1; echo "FAIL  $1: $2"; }
skip() { skipped=$((skipped + 1)); echo "!!! SKIPPED: $* !!!"; }
finish() { echo "qemu-tests: $passed passed, $failed failed, $skipped skipped ($((SECONDS - t_suite)) s)"; [ $failed = 0 ]; exit; }

# ---------------------------------------------------------------- preflight
if ! "$root/build.sh" > /tmp/hp-qemu-build.$$.log 2>&1; then   # seconds when nothing changed
  tail -20 /tmp/hp-qemu-build.$$.log; rm -f /tmp/hp-qemu-build.$$.log; fail "build" "./build.sh failed"; finish
fi
rm -f /tmp/hp-qemu-build.$$.log
why=""
for b in qemu-system-x86_64 busybox modprobe cpio gcc xz readelf; do
  command -v $b > /dev/null || why="$why $b"
done
[ -r "$KERNEL" ] || why="$why $KERNEL"
[ -r /usr/lib/x86_64-linux-gnu/libc.a ] || why="$why libc.a (libc6-dev, for the static udpflood)"
[ -x "$fwd" ] || why="$why $fwd"
if [ -n "$why" ]; then
  # As root scripts/setup.sh has installed them: missing is a failure. Without root nothing could be installed.
  if [ "$(id -u)" = 0 ]; then fail "preflight" "missing:$why (scripts/setup.sh installs the packages)"
  else skip "every QEMU guest test: not root, so scripts/setup.sh could not install:$why"; fi
  finish
fi
work=$(mktemp -d /tmp/hp-qemu.XXXXXX)

# ---------------------------------------------------------------- initramfs (built once)
build_initramfs() {
  local r=$work/rootfs ko base
  mkdir -p $r/bin $r/dev $r/proc $r/sys $r/tmp $r/lib/modules
  cp "$(command -v busybox)" $r/bin/busybox
  gcc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$root/tools/hp-fwd" -o $r/bin/udpflood "$here/udpflood.c" || return 1
  gcc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o $r/bin/memtouch "$here/memtouch.c" || return 1
  gcc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o $r/bin/afalg_kat "$here/afalg_kat.c" || return 1
  : > $r/lib/modules/order
  for mod in virtio_pci virtio_net virtio_crypto algif_skcipher; do modprobe -S "$KVER" --show-depends $mod; done |
    awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' | while read -r ko; do
      base=$(basename "$ko"); base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
      case "$ko" in
        *.xz) xz -dc "$ko" > $r/lib/modules/$base ;;
        *.zst) zstd -dcq "$ko" > $r/lib/modules/$base ;;
        *.gz) gzip -dc "$ko" > $r/lib/modules/$base ;;
        *) cp "$ko" $r/lib/modules/$base ;;
      esac
      echo "$base" >> $r/lib/modules/order
    done
  install -m 755 "$here/guest-init.sh" $r/init
  (cd $r && find . | cpio -o -H newc --quiet | gzip -1) > $work/initrd.gz
}
if ! build_initramfs > $work/initramfs.log 2>&1; then
  fail "initramfs" "$(tail -5 $work/initramfs.log)"; finish
fi

# The kernel itself, uncompressed: QEMU boots an ELF vmlinux through its PVH entry point (CONFIG_PVH), which skips
# decompressing the XZ bzImage inside the guest (8 to 10 s under TCG, longer on a loaded machine). Falls back to the
# bzImage when the kernel is not XZ-compressed or has no PVH note.
extract_vmlinux() {
  local off
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$KERNEL" | head -1 | cut -d: -f1)
  [ -n "$off" ] || return 1
  tail -c +$((off + 1)) "$KERNEL" | xz -dc --single-stream > $work/vmlinux 2> /dev/null
  readelf -n $work/vmlinux 2> /dev/null | grep -q 'Xen .*(0x00000012)' # XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point
}
BOOT_KERNEL=$KERNEL
if extract_vmlinux; then BOOT_KERNEL=$work/vmlinux; else rm -f $work/vmlinux; fi
echo "qemu: initramfs $(du -k $work/initrd.gz | cut -f1) KiB ($(tr '\n' ' ' < $work/rootfs/lib/modules/order)), kernel $KVER ($([ "$BOOT_KERNEL" = "$KERNEL" ] && echo bzImage || echo "vmlinux, PVH entry")); work dir $work"

# ---------------------------------------------------------------- one boot
# Globals of the boot in progress.
D="" SOCK="" MODE="" QUEUES=1 FWD_EXTRA="" FWD_N=0 FWD_PID="" RETRIED=""
# What a boot may change before calling boot (run_boot sets them back): the machine type, devices placed before the
# NIC, words added to the kernel command line, and the backend's starter with the log line saying it listens.
VM_MACHINE=pc VM_DEVICES=() VM_APPEND="" FWD_START=start_fwd FWD_LISTENING='server listening'
# VM_CRYPTO=1: the vhost-user device is a virtio-crypto-pci on cryptodev-vhost-user (no NIC); FWD_START=start_crypto.
VM_CRYPTO=0

# Starts hp-fwd instance FWD_N+1 (FWD_ENV: more environment, e.g. HOTPATH_TAKEOVER_STALL=...; log fwd.N.log with the library's per-message debug lines, JSON fwd.N.json).
# --idle-sleep 200: an idle queue is polled every 200 us instead of spinning, so hp-fwd's threads leave the two
# cores of this machine to QEMU's vCPUs between bursts (a ping waits at most 0.2 ms more). A boot that chooses an
# --rx-mode (FWD_EXTRA) sleeps on the kick fd instead.
start_fwd() {
  FWD_N=$((FWD_N + 1))
  local side="" idle="--idle-sleep 200"; [ "$MODE" = client ] && side=--client
  case " $FWD_EXTRA " in *" --rx-mode "*) idle="" ;; esac
  env HOTPATH_LOG=debug $FWD_ENV "$fwd" --socket "$SOCK" $side --mode icmpecho --mac $PEER_MAC --queues $QUEUES \
    --stats-interval 1 $idle --json "$D/fwd.$FWD_N.json" $FWD_EXTRA < /dev/null > "$D/fwd.$FWD_N.log" 2>&1 &
  FWD_PID=$!
  echo "$FWD_PID" > "$D/fwd.$FWD_N.pid"
}

# Starts hp-crypto as start_fwd starts hp-fwd (same globals and log names: stop_fwd stops it).
start_crypto() {
  FWD_N=$((FWD_N + 1))
  local side=""; [ "$MODE" = client ] && side=--client
  env HOTPATH_LOG=debug "$art/bin/hp-crypto" --socket "$SOCK" $side --idle-sleep "${HPQ_CRYPTO_IDLE:-200}" --json "$D/fwd.$FWD_N.json" \
    < /dev/null > "$D/fwd.$FWD_N.log" 2>&1 &
  FWD_PID=$!
  echo "$FWD_PID" > "$D/fwd.$FWD_N.pid"
}

# Stops the running hp-fwd with SIG (INT: it unregisters and prints its summary; KILL: it just dies), waits for it.
stop_fwd() { # SIG
  local i rc
  [ -n "$FWD_PID" ] || return 0
  # CPU seconds it used (utime + stime), for the boot's summary line.
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f\n", ($14 + $15) / hz }' "/proc/$FWD_PID/stat" > "$D/fwd.$FWD_N.cpu" 2> /dev/null
  kill -"$1" "$FWD_PID" 2> /dev/null
  for i in $(seq 300); do kill -0 "$FWD_PID" 2> /dev/null || break; sleep 0.1; done
  kill -0 "$FWD_PID" 2> /dev/null && { echo "hp-fwd $FWD_PID ignored SIG$1 for 30 s: killed" >> "$D/fwd.$FWD_N.log"; kill -KILL "$FWD_PID"; }
  { wait "$FWD_PID"; } 2> /dev/null; rc=$? # (no "Killed" job notice from bash)
  echo "$rc" > "$D/fwd.$FWD_N.rc"
  FWD_PID=""
}

# Waits up to SECS for hp-fwd instance N (pid PID) to exit by itself (it handed its devices over); then records its
# exit code and CPU time as stop_fwd does. Kills it when it did not exit (the log says so). Status 0 when it exited.
await_fwd() { # PID N SECS
  local i st cpu=""
  for i in $(seq $(($3 * 10))); do
    # A child exited but not yet waited for is a zombie: kill -0 still finds it; its stat still has its CPU times.
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2> /dev/null)
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f\n", ($14 + $15) / hz }' "/proc/$1/stat" 2> /dev/null)
    [ "$st" = Z ] || [ -z "$st" ] && break
    sleep 0.1
  done
  [ -n "$cpu" ] && echo "$cpu" > "$D/fwd.$2.cpu"
  if [ "$st" != Z ] && [ -n "$st" ]; then
    echo "hp-fwd #$2 did not exit within $3 s of the takeover: killed" >> "$D/fwd.$2.log"; kill -KILL "$1"
  fi
  { wait "$1"; } 2> /dev/null; echo $? > "$D/fwd.$2.rc"
  [ "$st" = Z ] || [ -z "$st" ]
}

# Replaces the running hp-fwd by a new hp-fwd --takeover TAKEOVERS times, each once the new one has forwarded.
takeover_rounds() {
  local k old oldn extra=$FWD_EXTRA
  for k in $(seq "$TAKEOVERS"); do
    old=$FWD_PID oldn=$FWD_N
    FWD_EXTRA="$extra --takeover"; start_fwd; FWD_EXTRA=$extra
    wait_for 60 "$D/fwd.$FWD_N.log" '^takeover state=' || echo "takeover $k: hp-fwd #$FWD_N printed no takeover line within 60 s" >> "$D/host.log"
    await_fwd "$old" "$oldn" 30 || echo "takeover $k: hp-fwd #$oldn did not exit" >> "$D/host.log"
    # Traffic on the new one: a rate line with frames received (the flood's 2000/s show as rx 0.002 Mpps).
    wait_for 30 "$D/fwd.$FWD_N.log" '^stats .* q0 rx [0-9.]*[1-9]' || echo "takeover $k: hp-fwd #$FWD_N received nothing within 30 s" >> "$D/host.log"
    echo "takeover $k: hp-fwd #$oldn -> #$FWD_N after $((SECONDS - t0)) s: $(grep -a '^takeover state=' "$D/fwd.$FWD_N.log" | head -1)" >> "$D/host.log"
  done
}

# A takeover stopped by HOTPATH_TAKEOVER_STALL and the stalled process SIGKILLed (boot takeover-kill). kill-old: the
# running instance (started with the stall at old-quiesced) is killed once it has stopped its device; the new one
# starts normally and QEMU reconnects. kill-new: a new instance stalled at new-ready is killed; the running one resumes.
takeover_kill() { # kill-old|kill-new
  local old=$FWD_PID oldn=$FWD_N victim point
  FWD_ENV=""; [ "$1" = kill-new ] && FWD_ENV="HOTPATH_TAKEOVER_STALL=new-ready"
  local extra=$FWD_EXTRA; FWD_EXTRA="$extra --takeover"; start_fwd; FWD_EXTRA=$extra FWD_ENV=""
  if [ "$1" = kill-old ]; then victim=$oldn point=old-quiesced; else victim=$FWD_N point=new-ready; fi
  wait_for 60 "$D/fwd.$victim.log" "takeover: stalled at $point" || echo "$1: hp-fwd #$victim never stalled at $point" >> "$D/host.log"
  kill -KILL "$(cat "$D/fwd.$victim.pid")"; await_fwd "$(cat "$D/fwd.$victim.pid")" "$victim" 10
  if [ "$1" = kill-old ]; then
    wait_for 60 "$D/fwd.$FWD_N.log" '^new_device vid=' || echo "kill-old: hp-fwd #$FWD_N got no device" >> "$D/host.log"
  else
    FWD_N=$oldn FWD_PID=$old   # the old one goes on (and is the one stopped at the end)
    wait_for 60 "$D/fwd.$oldn.log" 'takeover: .*resuming' || echo "kill-new: hp-fwd #$oldn did not resume" >> "$D/host.log"
  fi
  echo "$1: hp-fwd #$victim killed at $point after $((SECONDS - t0)) s" >> "$D/host.log"
}

# HPQ_MIGRATE_BACKEND=dpdk: DPDK 22.11's own backend in place of hp-fwd (migrate boots only), testpmd
# --forward-mode=icmpecho on net_vhost0 at $SOCK, postcopy-support=1 when POSTCOPY=1; log in fwd.N.log, FWD_N and
# FWD_PID as start_fwd sets them, stopped by stop_fwd (SIGINT). EAL pins the main lcore to CPU 0 and the forwarding
# lcore to CPU 1, which busy-polls. --no-mlockall in both kinds: DPDK needs it with postcopy (mlockall would fault
# in the guest memory the backend maps), and precopy runs the same way.
start_tp() {
  FWD_N=$((FWD_N + 1))
  local vdev="net_vhost0,iface=$SOCK,queues=1"; [ "${POSTCOPY:-0}" = 1 ] && vdev="$vdev,postcopy-support=1"
  local retry=()
  if [ "${TP_IOMMU:-0}" = 1 ]; then
    # As hp-fwd --iommu: replies the RX ring does not take at once (an IOTLB miss) are offered again, 100 x 1 ms.
    vdev="$vdev,iommu-support=1"
    printf 'set fwd icmpecho retry\nset burst tx delay 1000 retry 100\n' > "$D/testpmd.cmds"
    retry=(--cmdline-file="$D/testpmd.cmds")
  fi
  dpdk-testpmd -l 0,1 --main-lcore 0 --no-pci --in-memory -m 256 --file-prefix="hpq$$-$FWD_N" --vdev "$vdev" -- \
    --forward-mode=icmpecho --nb-cores=1 --total-num-mbufs=8192 --stats-period 1 --no-mlockall "${retry[@]}" \
    < /dev/null > "$D/fwd.$FWD_N.log" 2>&1 &
  FWD_PID=$!
  echo "$FWD_PID" > "$D/fwd.$FWD_N.pid"
}

wait_for() { # SECONDS FILE REGEX
  local i
  for i in $(seq $(($1 * 10))); do grep -qaE "$3" "$2" 2> /dev/null && return 0; sleep 0.1; done
  return 1
}

tell_guest() { timeout 5 sh -c "echo '$1' > '$D/ctl.in'"; }

# The guest asked for TOKEN (HPQ-SYNC): do it, then tell it to go on.
on_sync() { # TOKEN
  case $1 in
    restart-int | restart-kill)
      local sig=INT; [ "$1" = restart-kill ] && sig=KILL
      stop_fwd $sig
      echo "hp-fwd #$FWD_N stopped by SIG$sig after $((SECONDS - t0)) s" >> "$D/host.log"
      sleep 1 # QEMU notices the closed socket and stops the vhost device (the guest sees its link go down)
      start_fwd
      wait_for 90 "$D/fwd.$FWD_N.log" '^new_device vid=' ||
        echo "hp-fwd instance $FWD_N saw no new_device within 90 s" >> "$D/host.log"
      ;;
    takeovers) takeover_rounds ;;
    crypto-mark)
      # hp-crypto's counts before the guest's own requests (SIGUSR1 prints them).
      local before; before=$(count_in "$D/fwd.$FWD_N.log" '^counts ')
      kill -USR1 "$FWD_PID"
      for _ in $(seq 100); do [ "$(count_in "$D/fwd.$FWD_N.log" '^counts ')" -gt "$before" ] && break; sleep 0.1; done
      grep -a '^counts ' "$D/fwd.$FWD_N.log" | tail -1 > "$D/crypto.mark"
      ;;
    kill-old | kill-new) takeover_kill "$1" ;;
    idle)
      # The guest sits in its sync step (link up, nothing to send): hp-fwd's CPU time over the window.
      local hz c0 c1 w0 w1; hz=$(getconf CLK_TCK)
      w0=$(date +%s.%N); c0=$(awk '{ print $14 + $15 }' "/proc/$FWD_PID/stat")
      sleep "$IDLE_SECONDS"
      w1=$(date +%s.%N); c1=$(awk '{ print $14 + $15 }' "/proc/$FWD_PID/stat")
      awk -v c=$((c1 - c0)) -v hz="$hz" -v a="$w0" -v b="$w1" 'BEGIN { printf "ticks=%d seconds=%.2f pct=%.3f\n", c, b - a, 100 * c / hz / (b - a) }' > "$D/idle.cpu"
      ;;
  esac
  tell_guest "go $1"
}

clean_console() { tr -d '\r' < "$D/console.log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' | grep -av '^$' > "$D/console.txt"; }

cpu_pressure() { sed -n 's/^some avg10=\([0-9.]*\) avg60=\([0-9.]*\).*/\1% over 10 s, \2% over 60 s/p' /proc/pressure/cpu 2> /dev/null; }

# boot NAME MODE SMP QUEUES DEVICE_EXTRA PLAN [FWD_EXTRA]: runs one guest to its end (or the timeout). When QEMU
# timed out before the guest even reached its plan, the machine was too busy to say anything about HotPath: the
# boot runs once more (said loudly; the first attempt's directory stays as NAME.slow).
boot() {
  RETRIED=""
  boot_once "$@"
  local rc; rc=$(cat "$D/qemu.rc")
  if { [ "$rc" = 124 ] || [ "$rc" = 137 ]; } && ! grep -qa '^HPQ-BOOTED' "$D/console.txt"; then
    RETRIED="second attempt: the first did not reach its plan within $BOOT_TIMEOUT s, CPU pressure $(cpu_pressure)"
    echo "!!! $1: the guest did not reach its plan within $BOOT_TIMEOUT s (CPU pressure $(cpu_pressure)): booting it once more !!!"
    rm -rf "$D.slow"; mv "$D" "$D.slow"
    boot_once "$@"
  fi
}

boot_once() {
  local name=$1 smp=$3 dev_extra=$5 plan=$6 chardev qpid qrc handled=0 t0=$SECONDS tok
  MODE=$2 QUEUES=$4 FWD_EXTRA=${7:-} FWD_N=0 FWD_PID=""
  D=$work/$name SOCK=$work/$name/vhost.sock
  mkdir -p "$D"; mkfifo "$D/ctl.in" "$D/ctl.out"
  chardev="socket,id=c0,path=$SOCK"; [ "$MODE" = client ] && chardev="$chardev,server=on,wait=off"
  local qemu=(qemu-system-x86_64 -accel tcg -M "$VM_MACHINE" -m 256M -smp "$smp" -display none -nodefaults -no-user-config
    -no-reboot -kernel "$BOOT_KERNEL" -initrd "$work/initrd.gz"
    -append "console=ttyS0 quiet panic=-1 ipv6.disable=1 hpq.plan=$plan hpq.mac=$PEER_MAC${VM_APPEND:+ $VM_APPEND}"
    -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem
    -serial stdio -chardev "pipe,id=ctl,path=$D/ctl" -serial chardev:ctl
    "${VM_DEVICES[@]}"
    -chardev "$chardev")
  if [ "$VM_CRYPTO" = 1 ]; then
    qemu+=(-object cryptodev-vhost-user,id=cryptodev0,chardev=c0 -device "virtio-crypto-pci,id=crypto0,cryptodev=cryptodev0,romfile=,vectors=0$dev_extra")
  else
    qemu+=(-netdev "vhost-user,id=n0,chardev=c0,queues=$QUEUES" -device "virtio-net-pci,netdev=n0,mac=$GUEST_MAC,romfile=,vectors=0$dev_extra")
  fi
  echo "${qemu[*]}" > "$D/qemu.cmd"
  : > "$D/console.log"
  if [ "$MODE" = server ]; then
    $FWD_START
    wait_for 30 "$D/fwd.1.log" "$FWD_LISTENING" || echo "$FWD_START made no socket within 30 s" >> "$D/host.log"
  fi
  timeout -k 5 "$BOOT_TIMEOUT" "${qemu[@]}" < /dev/null > "$D/console.log" 2>&1 &
  qpid=$!
  if [ "$MODE" = client ]; then
    for _ in $(seq 300); do [ -S "$SOCK" ] && break; sleep 0.1; done
    $FWD_START
  fi
  echo "QEMU started after $((SECONDS - t0)) s" >> "$D/host.log"
  while kill -0 $qpid 2> /dev/null; do
    tok=$(tr -d '\r' < "$D/console.log" | awk '/^HPQ-SYNC /{ print $2 }' | sed -n "$((handled + 1))p")
    if [ -n "$tok" ]; then
      handled=$((handled + 1))
      on_sync "$tok"
      continue
    fi
    sleep 0.2
  done
  wait $qpid; qrc=$?
  echo "QEMU exited $qrc after $((SECONDS - t0)) s" >> "$D/host.log"
  stop_fwd INT
  echo "hp-fwd stopped after $((SECONDS - t0)) s" >> "$D/host.log"
  clean_console
  echo "$qrc" > "$D/qemu.rc"
  echo $((SECONDS - t0)) > "$D/seconds"
}

# ---------------------------------------------------------------- what a boot left behind
guest_result() { grep -a "^HPQ-RESULT $1 " "$D/console.txt" | tail -1; }
guest_data() { grep -a "^HPQ-DATA $1 " "$D/console.txt" | tail -1; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }  # LINE KEY
fwd_summary() { grep -a '^summary mode=' "$D/fwd.$1.log" | tail -1; }     # INSTANCE
fwd_queue() { grep -a "^summary q$2 " "$D/fwd.$1.log" | tail -1; }         # INSTANCE QUEUE
fwd_device() { grep -a '^device vid=' "$D/fwd.$1.log" | tail -1; }         # INSTANCE
count_in() { grep -ac "$2" "$1" 2> /dev/null || true; }                    # FILE REGEX
num() { local v; v=$(field "$1" "$2"); echo "${v:-0}"; }                    # LINE KEY: the number, 0 when absent

# The guest's verdict on STEP: prints what it saw; status 0 for PASS.
guest_verdict() { # STEP
  local line; line=$(guest_result "$1")
  if [ -z "$line" ]; then echo "the guest never reported step $1 (see the console below)"; return 1; fi
  echo "$line" | cut -d' ' -f4-
  [ "$(echo "$line" | awk '{ print $3 }')" = PASS ]
}

# Reports the guest's verdict on STEP as scenario BOOT/STEP. A failure says what the last hp-fwd saw too.
report_guest() { # STEP
  local detail s
  if detail=$(guest_verdict "$1"); then pass "$BOOT/$1" "$detail"; return; fi
  s=$(fwd_summary $FWD_N)
  fail "$BOOT/$1" "$detail | hp-fwd #$FWD_N: rx_packets=$(field "$s" rx_packets) echo_replies=$(field "$s" echo_replies) tx_dropped=$(field "$s" tx_dropped)$(grep -a 'no packet dequeued' "$D/fwd.$FWD_N.log" | head -1 | sed 's/^hp-fwd:/;/')"
}

# The boot as a whole: QEMU exited by the guest's poweroff after the whole plan, every hp-fwd stopped cleanly on
# SIGINT, no frame hp-fwd judged malformed (a Linux guest sends none: one would be a datapath corruption).
check_boot() { # EXPECTED_DEVICE_FIELDS...
  local qrc n dev f malformed="" bad_rc=""
  qrc=$(cat "$D/qemu.rc")
  if [ "$qrc" != 0 ] || ! grep -qa '^HPQ-DONE' "$D/console.txt"; then
    local what="QEMU exited $qrc"; [ "$qrc" = 124 ] || [ "$qrc" = 137 ] && what="timed out after $BOOT_TIMEOUT s (CPU pressure $(cpu_pressure))${RETRIED:+, $RETRIED}"
    fail "$BOOT/boot" "$what; $(grep -qa '^HPQ-DONE' "$D/console.txt" && echo "plan finished" || echo "the guest did not finish its plan")"
  else
    pass "$BOOT/boot" "guest booted, ran its plan, powered off in $(cat "$D/seconds") s (hp-fwd instances: $FWD_N, CPU s: $(cat "$D"/fwd.*.cpu 2> /dev/null | paste -sd+))${RETRIED:+ ($RETRIED)}"
  fi
  for n in $(seq $FWD_N); do
    [ "$(cat "$D/fwd.$n.rc" 2> /dev/null)" = 0 ] || [ "$(cat "$D/fwd.$n.rc" 2> /dev/null)" = 137 ] || bad_rc="$bad_rc #$n:$(cat "$D/fwd.$n.rc" 2> /dev/null)"
    f=$(field "$(fwd_summary $n)" malformed); [ "${f:-0}" = 0 ] || malformed="$malformed #$n:$f"
  done
  dev=$(fwd_device 1)
  local want miss=""
  for want in "$@"; do echo " $dev " | grep -q " $want " || miss="$miss $want"; done
  if [ -n "$bad_rc$malformed$miss" ] || [ -z "$dev" ]; then
    fail "$BOOT/device" "hp-fwd exit codes:${bad_rc:- ok}; malformed frames:${malformed:- none}; device line '${dev:-none}' lacks:${miss:- -}"
  else
    pass "$BOOT/device" "${dev#device }; no malformed frame; hp-fwd exited 0"
  fi
}

# Diagnostics of a failed boot: tails of the guest console and of each hp-fwd log, and the vhost-user messages.
diagnose() {
  local n
  echo "---- $BOOT: guest console ($D/console.txt), last 30 lines"
  tail -30 "$D/console.txt" | sed 's/^/    /'
  [ -s "$D/host.log" ] && sed 's/^/    host: /' "$D/host.log"
  for n in $(seq $FWD_N); do
    echo "---- $BOOT: hp-fwd #$n ($D/fwd.$n.log, exit $(cat "$D/fwd.$n.rc" 2> /dev/null)), last 25 lines without per-message lines"
    grep -av 'read message\|^stats ' "$D/fwd.$n.log" | tail -25 | sed 's/^/    /'
    echo "---- $BOOT: hp-fwd #$n vhost-user messages received (in order, repeats counted)"
    sed -n 's/.*read message \([A-Z_]*\).*/\1/p' "$D/fwd.$n.log" | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " } END { print "" }' | fold -s -w 110 | sed 's/^/    /'
  done
  echo "---- QEMU command: $D/qemu.cmd"
}

run_boot() { # NAME: boots it with its plan and checks it
  BOOT=$1 boot_failed=0
  VM_MACHINE=pc VM_DEVICES=() VM_APPEND="" FWD_START=start_fwd FWD_LISTENING='server listening' TP_IOMMU=0 POSTCOPY=0 FWD_ENV="" VM_CRYPTO=0
  if [ $((SECONDS - t_suite)) -ge "$BUDGET" ]; then fail "$BOOT/boot" "not started: the suite's $BUDGET s budget is spent"; return; fi
  echo "== boot $BOOT"
  "boot_$BOOT"
  if [ $boot_failed = 1 ]; then diagnose; elif [ "${HPQ_KEEP:-0}" = 0 ]; then rm -rf "$D" "$D.slow"; fi
}

# ---------------------------------------------------------------- the boots
# Exact accounting of a boot whose plan ends with floods and "counters" (and no reset: the guest's counters must
# cover the whole boot). udpflood's count is exactly what the guest driver queued and hp-fwd counts its frames (UDP
# to the discard port) as "discarded": the two must be equal. Every reply hp-fwd enqueued must have reached the
# guest's driver.
check_accounting() { # FLOOD_STEP...
  local s c step f n sent=0 rates="" ign tx rx
  s=$(fwd_summary 1); c=$(guest_data counters)
  for step in "$@"; do
    report_guest $step
    f=$(guest_data $step); n=$(field "$f" sent); sent=$((sent + ${n:-0}))
    rates="$rates, ${step#flood-} B: $(field "$f" pps) pps $(field "$f" mbps) Mbit/s"
  done
  ign=$(field "$s" discarded); tx=$(field "$s" tx_packets); rx=$(field "$c" rx_packets)
  if [ "$sent" -gt 0 ] && [ "${ign:-x}" = "$sent" ]; then
    pass "$BOOT/flood-accounting" "hp-fwd received all $sent UDP frames udpflood queued (guest clock${rates})"
  else
    fail "$BOOT/flood-accounting" "udpflood queued $sent frames, hp-fwd counted ${ign:-?} discarded UDP frames"
  fi
  if [ -n "$tx" ] && [ "$tx" = "$rx" ] && [ "$(field "$c" rx_dropped)" = 0 ]; then
    pass "$BOOT/reply-accounting" "the guest received exactly the $tx replies hp-fwd enqueued (rx_dropped 0)"
  else
    fail "$BOOT/reply-accounting" "hp-fwd enqueued ${tx:-?} replies, the guest counted rx_packets=${rx:-?} rx_dropped=$(field "$c" rx_dropped)"
  fi
}

# A flood INTO the guest (echoflood steps: hp-fwd reflects UDP to port 7): every frame the guest sent reached hp-fwd
# and was reflected (udp_reflected = sent), every frame hp-fwd answered was enqueued or counted dropped (the guest's
# ring full), and each step's reflections the guest counted equal what hp-fwd enqueued for it less nothing:
# check_accounting's reply check says every frame enqueued reached the guest's driver.
check_reflected() { # ECHOFLOOD_STEP...
  local s step d sent=0 got=0 refl drop want
  s=$(fwd_summary 1)
  for step in "$@"; do d=$(guest_data $step); sent=$((sent + $(num "$d" sent))); got=$((got + $(num "$d" received))); done
  refl=$(field "$s" udp_reflected); drop=$(num "$s" tx_dropped)
  want=$(( $(num "$s" udp_reflected) + $(num "$s" echo_replies) + $(num "$s" arp_replies) ))
  if [ "$sent" -gt 0 ] && [ "${refl:-x}" = "$sent" ] && [ $(( $(num "$s" tx_packets) + drop )) = "$want" ] &&
     [ "$got" -ge $((sent - drop)) ] && [ "$got" -le "$sent" ]; then
    pass "$BOOT/reflect-accounting" "hp-fwd reflected all $sent frames the guest sent to the echo port; $got came back through the async enqueue, $drop dropped on a full guest ring (tx_packets + tx_dropped = reflected + echo and ARP replies)"
  else
    fail "$BOOT/reflect-accounting" "the guest sent $sent frames to the echo port and got $got back; hp-fwd reflected ${refl:-?}, tx_packets $(field "$s" tx_packets) + tx_dropped $drop (want $want)"
  fi
}

boot_server() {
  boot server server 1 1 "" "ping:ping-100:100:56,arp:arp,ping:ping-1472:20:1472,flood:flood-64:4:64,flood:flood-1514:4:1514,counters"
  report_guest ping-100; report_guest arp; report_guest ping-1472
  check_boot packed=0 mrg_rxbuf=1 event_idx=1
  check_accounting flood-64 flood-1514
  grep -a '^stats ' "$D/fwd.1.log" | awk '$5 + 0 > 0 { print $5 * 1000 }' | sort -n > "$D/rates"
  echo "      hp-fwd per-second receive rates during the floods (kpps): $(tr '\n' ' ' < "$D/rates")"
}

# hp-crypto's counts after the guest's mark equal what afalg_kat sent: requests and bytes, and no error but the refusals
# the guest saw.
boot_crypto() {
  VM_CRYPTO=1 VM_APPEND="hpq.dev=crypto" FWD_START=start_crypto FWD_LISTENING='^hp-crypto: serving'
  boot crypto server 1 1 "" "crypto:${HPQ_CRYPTO_FLOOD:-2000}:${HPQ_CRYPTO_BENCH:-2}"
  local algs sum mark tot s r b e x
  algs=$(guest_data crypto-algs); echo "      guest's virtio_crypto algorithms (name=driver,type,selftest): ${algs#HPQ-DATA crypto-algs }"
  report_guest crypto-kat; report_guest crypto-multipage; report_guest crypto-oversize; report_guest crypto-flood
  for s in 64 1024 4096; do
    b=$(guest_data crypto-bench-$s); echo "      $s B: $(field "$b" rps) requests/s, $(field "$b" mbytes_per_s) MB/s"
  done
  # The boot as a whole (check_boot's first half: hp-crypto has no device line of hp-fwd's kind).
  if [ "$(cat "$D/qemu.rc")" != 0 ] || ! grep -qa '^HPQ-DONE' "$D/console.txt"; then
    fail "$BOOT/boot" "QEMU exited $(cat "$D/qemu.rc"); $(grep -qa '^HPQ-DONE' "$D/console.txt" && echo "plan finished" || echo "the guest did not finish its plan")"
  else
    pass "$BOOT/boot" "guest booted, ran its plan, powered off in $(cat "$D/seconds") s (hp-crypto CPU s: $(cat "$D"/fwd.1.cpu 2> /dev/null))${RETRIED:+ ($RETRIED)}"
  fi
  sum=$(grep -a '^summary ' "$D/fwd.1.log" | tail -1); mark=$(cat "$D/crypto.mark" 2> /dev/null); tot=$(guest_data crypto-total)

  r=$(( $(num "$sum" requests) - $(num "$mark" requests) )) b=$(( $(num "$sum" bytes) - $(num "$mark" bytes) ))
  e=$(( $(num "$sum" errors) - $(num "$mark" errors) )) x=$(num "$tot" refused)
  if [ -n "$sum" ] && [ -n "$mark" ] && [ -n "$tot" ] && [ "$r" = "$(( $(field "$tot" requests) + x ))" ] &&
     [ "$b" = "$(field "$tot" bytes)" ] && [ "$e" = "$x" ] && [ "$(cat "$D/fwd.1.rc")" = 0 ]; then
    pass "$BOOT/counts" "hp-crypto served exactly the guest's $((r - x)) requests ($b bytes) and refused the $x it saw refused (before the mark: $(field "$mark" requests) from the kernel's self-tests); $(grep -a '^device vid=' "$D/fwd.1.log" | head -1)"
  else
    fail "$BOOT/counts" "hp-crypto after the mark: requests=$r bytes=$b errors=$e exit=$(cat "$D/fwd.1.rc" 2> /dev/null); guest: ${tot:-no crypto-total}; mark: ${mark:-none}; summary: ${sum:-none}"
  fi
}

boot_client() {
  boot client client 1 1 "" "ping:ping-100:100:56,sync:restart-int,ping:after-restart-int:100:56,sync:restart-kill,ping:after-restart-kill:100:56,unbind:reset-unbind,pcireset:reset-pci"
  report_guest ping-100
  check_boot packed=0
  local tok i=1 sync detail sig
  for tok in restart-int restart-kill; do
    i=$((i + 1)); sig=SIG$(echo ${tok#restart-} | tr a-z A-Z)
    sync=$(guest_data sync-$tok)
    if [ -n "$(guest_result sync-$tok)" ]; then
      fail "client/$tok" "$(guest_result sync-$tok | cut -d' ' -f4-)"
    elif ! grep -qa "^new_device vid=" "$D/fwd.$i.log" 2> /dev/null; then
      fail "client/$tok" "hp-fwd instance $i (started after $sig) never got a device; guest: $(guest_verdict after-$tok)"
    elif detail=$(guest_verdict after-$tok); then
      pass "client/$tok" "hp-fwd stopped by $sig, started again (instance $i, --client reconnected); guest carrier while waiting: $(field "$sync" carrier) (0: link down while hp-fwd was away); after: $detail"
    else
      fail "client/$tok" "after the restart: $detail"
    fi
  done
  # The resets ran against the last instance: each is a device stop (GET_VRING_BASE) and a new start.
  local last=$FWD_N news gvb
  news=$(count_in "$D/fwd.$last.log" '^new_device vid='); gvb=$(count_in "$D/fwd.$last.log" 'read message GET_VRING_BASE')
  for tok in reset-unbind reset-pci; do report_guest $tok; done
  if [ "$news" -ge 3 ] && [ "$gvb" -ge 4 ]; then
    pass "client/reset-lifecycle" "hp-fwd instance $last: $news new_device, $(count_in "$D/fwd.$last.log" '^destroy_device vid=') destroy_device, $gvb GET_VRING_BASE (two resets)"
  else
    fail "client/reset-lifecycle" "hp-fwd instance $last: $news new_device (want >= 3), $gvb GET_VRING_BASE (want >= 4)"
  fi
}

# A device option: ping, 1472-byte payloads, a short flood of full-size frames with exact accounting, and the
# feature as negotiated.
boot_variant() { # NAME DEVICE_EXTRA EXPECTED_FIELD...
  local name=$1 extra=$2; shift 2
  boot "$name" server 1 1 "$extra" "ping:ping-100:100:56,ping:ping-1472:20:1472,flood:flood-1514:2:1514,counters"
  report_guest ping-100; report_guest ping-1472
  check_boot "$@"
  check_accounting flood-1514
}
boot_mrg-off() { boot_variant mrg-off ",mrg_rxbuf=off" mrg_rxbuf=0; }
boot_event-idx-off() { boot_variant event-idx-off ",event_idx=off" event_idx=0; }
boot_packed() { boot_variant packed ",packed=on" packed=1; }

boot_mq() {
  boot mq server 2 2 ",mq=on" "mqping:two-queues:100"
  report_guest two-queues-cpu0; report_guest two-queues-cpu1
  check_boot vrings=4
  local q0 q1 e0 e1
  q0=$(fwd_queue 1 0); q1=$(fwd_queue 1 1)
  e0=$(field "$q0" echo_replies); e1=$(field "$q1" echo_replies)
  # Each flow is pinned to a CPU, so to its TX queue; a packet sent from softirq context (the first one, queued
  # until ARP answered) may leave by the other queue. Both queue pairs must carry most of their own flow.
  if [ "${e0:-0}" -ge 50 ] && [ "${e1:-0}" -ge 50 ] && [ $((${e0:-0} + ${e1:-0})) -ge 200 ]; then
    pass "mq/two-queues" "hp-fwd answered ${e0} echo requests on queue pair 0 and ${e1} on queue pair 1; guest: $(guest_data two-queues | cut -d' ' -f3-)"
  else
    fail "mq/two-queues" "per-queue echo replies: q0=${e0:-?} q1=${e1:-?} (want >= 50 each, 200 in all); guest: $(guest_data two-queues | cut -d' ' -f3-)"
  fi
}

boot_async() { async_variant async "" 0; }
boot_async-packed() { async_variant async-packed ",packed=on" 1; }

async_variant() { # NAME DEVICE_EXTRA PACKED
  boot "$1" server 1 1 ",host_mtu=9000$2" "mtu:mtu-9000:9000,ping:ping-100:100:56,ping:ping-1472:20:1472,ping:ping-8972:20:8972,echoflood:echo-1514:3:1514:${HPQ_ECHO_PPS:-0},echoflood:echo-8000:2:8000:${HPQ_ECHO_PPS:-0},flood:flood-64:2:64,flood:flood-1514:2:1514,counters" --async
  report_guest mtu-9000; report_guest ping-100; report_guest ping-1472; report_guest ping-8972
  report_guest echo-1514; report_guest echo-8000
  check_boot mtu=9000 packed="$3" mrg_rxbuf=1
  check_accounting flood-64 flood-1514
  check_reflected echo-1514 echo-8000
  local eng; eng=$(grep -a '^summary async ' "$D/fwd.1.log")
  [ "$(field "$eng" copy_engine_packets)" -gt 0 ] 2> /dev/null &&
    pass "$BOOT/copy-engine" "the built-in engine copied the large replies: $eng" || fail "$BOOT/copy-engine" "no engine copy: ${eng:-no summary line}"
}

boot_mtu9000() {
  boot mtu9000 server 1 1 ",host_mtu=9000" "mtu:mtu-9000:9000,ping:ping-8972:20:8972,ping:ping-1472:20:1472"
  report_guest mtu-9000; report_guest ping-8972; report_guest ping-1472
  check_boot mtu=9000
}

# Interrupt mode: hp-fwd sleeps on the kick fd while the guest is quiet, then serves it in full.
boot_interrupt() {
  local rxm=${HPQ_RX_MODE:-interrupt}
  boot interrupt server 1 1 "" "sync:idle,ping:ping-100:100:56,flood:flood-64:2:64,flood:flood-1514:2:1514,counters" "--rx-mode $rxm"
  local idle pct s
  idle=$(cat "$D/idle.cpu" 2> /dev/null); pct=$(field "$idle" pct)
  if [ -n "$pct" ] && awk -v p="$pct" 'BEGIN { exit !(p < 1.0) }'; then
    pass "interrupt/idle-cpu" "hp-fwd --rx-mode $rxm used $(field "$idle" ticks) ticks of CPU in $(field "$idle" seconds) s of guest idling: $pct% (< 1%)"
  else
    fail "interrupt/idle-cpu" "hp-fwd --rx-mode $rxm used ${pct:-?}% CPU while the guest idled (${idle:-no measurement: the guest never reached its idle step})"
  fi
  report_guest ping-100
  check_boot packed=0 event_idx=1
  check_accounting flood-64 flood-1514
  s=$(grep -a '^summary rx_mode=' "$D/fwd.1.log" | tail -1)
  echo "      hp-fwd: ${s#summary }"
}

# ---------------------------------------------------------------- vIOMMU (issue 16)
# The guest behind QEMU's intel-iommu: the NIC (iommu_platform=on, ats=on) sits behind a PCIe root port (on the
# root bus it gets no ATS capability), so the guest's DMA API maps every ring and buffer through the vIOMMU and QEMU
# forwards the device IOTLB to the backend (IOTLB_MSG updates, invalidations on unmap, misses answered).
# HPQ_VIOMMU_BACKEND=dpdk serves it with DPDK's backend instead (testpmd icmpecho, iommu-support=1): the reference
# for the QEMU command line; then only the guest's verdicts are checked.
viommu_setup() { # STRICT (1: iommu.strict=1, 0: lazy invalidation)
  VM_MACHINE=q35
  VM_DEVICES=(-device intel-iommu,intremap=on,device-iotlb=on -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1)
  # no_timer_check: with interrupt remapping the kernel panics when its early check of the timer interrupt (a
  # few ticks within a busy-wait) fails, which a slow TCG guest on a busy host sometimes does ("timer doesn't work
  # through Interrupt-remapped IO-APIC"); without remapping it falls back quietly.
  VM_APPEND="intel_iommu=on iommu.strict=$1 no_timer_check"
  case ${HPQ_VIOMMU_BACKEND:-hotpath} in
    hotpath) ;;
    dpdk) FWD_START=start_tp FWD_LISTENING='binding succeeded' TP_IOMMU=1 ;;
    *) fail "$BOOT/boot" "HPQ_VIOMMU_BACKEND=$HPQ_VIOMMU_BACKEND (want hotpath or dpdk)"; return 1 ;;
  esac
}

# What hp-fwd offered (its "offered features=" line), as a number; empty when it printed none.
offered_features() { local f; f=$(sed -n 's/^offered features=\(0x[0-9a-f]*\).*/\1/p' "$D/fwd.1.log" | head -1); [ -n "$f" ] && echo $((f)); }

# A boot served by DPDK's backend: only the boot itself (the guest ran its plan and powered off); testpmd's log stays.
check_boot_dpdk() {
  local qrc; qrc=$(cat "$D/qemu.rc")
  if [ "$qrc" = 0 ] && grep -qa '^HPQ-DONE' "$D/console.txt"; then
    pass "$BOOT/boot" "DPDK's backend (testpmd, iommu-support=1): guest booted, ran its plan, powered off in $(cat "$D/seconds") s; hp-fwd's checks skipped (testpmd log: $D/fwd.1.log)"
  else
    fail "$BOOT/boot" "DPDK's backend: QEMU exited $qrc; $(grep -qa '^HPQ-DONE' "$D/console.txt" && echo "plan finished" || echo "the guest did not finish its plan")"
  fi
}

# hp-fwd's IOTLB figures (summary q0).
check_iotlb() {
  local q hits misses
  q=$(fwd_queue 1 0); hits=$(field "$q" iotlb_hits); misses=$(field "$q" iotlb_misses)
  if [ "${hits:-0}" -gt 0 ] && [ "${misses:-0}" -gt 0 ]; then
    pass "$BOOT/iotlb" "hp-fwd translated through the IOTLB: iotlb_hits=$hits iotlb_misses=$misses (queue pair 0); $(count_in "$D/fwd.1.log" 'read message IOTLB_MSG') IOTLB_MSG messages from QEMU"
  else
    fail "$BOOT/iotlb" "hp-fwd's queue pair 0: iotlb_hits=${hits:-?} iotlb_misses=${misses:-?} (want both > 0): '${q:-no summary q0 line}'"
  fi
}

# The plans ping once more after the floods: every frame is a miss and an update away from hp-fwd, which may still be
# behind the guest when a flood ends; the ping's replies leave the TX ring after the flood's frames, so when they
# come hp-fwd has taken every frame (the accounting then counts them all, or finds the ones lost).
boot_viommu() {
  viommu_setup 1 || return
  boot viommu server 1 1 ",bus=rp0,iommu_platform=on,ats=on" \
    "unbind:reset-unbind,ping:ping-100:100:56,flood:flood-64:2:64,flood:flood-1514:2:1514,ping:after-floods:5:56,counters" "--iommu"
  report_guest reset-unbind; report_guest ping-100; report_guest after-floods
  if [ "$FWD_START" = start_tp ]; then
    check_boot_dpdk; report_guest flood-64; report_guest flood-1514; return
  fi
  check_boot packed=0 access_platform=1
  check_accounting flood-64 flood-1514
  check_iotlb
}

# Lazy invalidation (iommu.strict=0: the guest batches its IOTLB flushes). packed=on on the NIC: RING_PACKED must be
# negotiated when hp-fwd offers it under --iommu (it does since the IOTLB takes packed rings), and split rings are
# what runs when it does not. The same steps as the strict boot, so packed rings get the unbind/bind too.
boot_viommu-lazy() {
  viommu_setup 0 || return
  boot viommu-lazy server 1 1 ",bus=rp0,iommu_platform=on,ats=on,packed=on" \
    "unbind:reset-unbind,ping:ping-100:100:56,flood:flood-64:2:64,flood:flood-1514:2:1514,ping:after-floods:5:56,counters" "--iommu"
  report_guest reset-unbind; report_guest ping-100; report_guest after-floods
  if [ "$FWD_START" = start_tp ]; then
    check_boot_dpdk; report_guest flood-64; report_guest flood-1514; return
  fi
  local want=packed=0 offered ring=split
  offered=$(offered_features)
  if [ -n "$offered" ] && [ $(((offered >> 34) & 1)) = 1 ]; then want=packed=1 ring=packed; fi
  check_boot $want access_platform=1
  [ -n "$offered" ] && echo "      hp-fwd offered features $(printf '0x%x' "$offered") under --iommu: the guest ran $ring rings"
  check_accounting flood-64 flood-1514
  check_iotlb
}

# ---------------------------------------------------------------- hitless upgrade (issue 18)
# Sum of KEY over the summary lines of hp-fwd instances FIRST..LAST.
fwd_sum() { # KEY FIRST LAST
  local n t=0 v
  for n in $(seq "$2" "$3"); do v=$(field "$(fwd_summary $n)" "$1"); t=$((t + ${v:-0})); done
  echo $t
}

# vhost-user messages instance N read whose name matches REGEX.
msgs_read() { count_in "$D/fwd.$1.log" "read message \($2\) "; } # N REGEX

boot_takeover_mode() { # NAME MODE
  boot "$1" "$2" 1 1 "" "ping:ping-20:20:56,hold:takeovers,ping:after-takeovers:20:56,counters"
  report_guest ping-20; report_guest takeovers; report_guest after-takeovers
  check_boot packed=0
  local n bad="" pauses="" line sent c ign tx rx setup status all
  # Each takeover: the new instance took one device over (state taken), got new_device once, and set nothing up;
  # the old one said takeover_complete and exited 0 (check_boot checked the exit codes).
  for n in $(seq 2 "$FWD_N"); do
    line=$(grep -a '^takeover state=' "$D/fwd.$n.log" | head -1)
    [ "$(field "$line" state)" = taken ] && [ "$(field "$line" devices)" = 1 ] || bad="$bad #$n:'${line:-no takeover line}'"
    [ "$(count_in "$D/fwd.$n.log" '^new_device vid=')" = 1 ] || bad="$bad #$n:new_device x$(count_in "$D/fwd.$n.log" '^new_device vid=')"
    grep -qa '^takeover_complete ' "$D/fwd.$((n - 1)).log" || bad="$bad #$((n - 1)):no takeover_complete"
    # QEMU sends nothing to an instance that took over; the last one sees the guest's poweroff (one SET_STATUS 0,
    # the rings stopped), never a device set up again (what a new DRIVER_OK brings).
    setup=$(msgs_read $n 'SET_FEATURES\|SET_MEM_TABLE\|ADD_MEM_REG\|SET_VRING_NUM\|SET_VRING_ADDR\|SET_VRING_BASE\|SET_VRING_KICK\|SET_OWNER\|RESET_OWNER')
    status=$(msgs_read $n SET_STATUS); all=$(count_in "$D/fwd.$n.log" 'read message ')
    [ "$setup" = 0 ] && [ "$status" -le 1 ] || bad="$bad #$n:$setup set-up messages, SET_STATUS x$status"
    [ "$n" = "$FWD_N" ] || [ "$all" = 0 ] || bad="$bad #$n:read $all messages"
    pauses="$pauses $(field "$line" pause_ns)"
  done
  if [ "$FWD_N" = $((TAKEOVERS + 1)) ] && [ -z "$bad" ]; then
    pass "$BOOT/handovers" "$TAKEOVERS takeovers: each new hp-fwd took the device over (state taken, one new_device) and read no set-up message from QEMU, each old one handed over and exited 0"
  else
    fail "$BOOT/handovers" "$((FWD_N - 1)) of $TAKEOVERS takeovers ran;${bad:- no other fault}"
  fi
  # Exact accounting over every instance: frames flooded and replies enqueued.
  sent=$(field "$(guest_data takeovers)" flood_sent); c=$(guest_data counters)
  ign=$(fwd_sum discarded 1 "$FWD_N"); tx=$(fwd_sum tx_packets 1 "$FWD_N"); rx=$(field "$c" rx_packets)
  if [ "${sent:-0}" -gt 0 ] && [ "$ign" = "$sent" ]; then
    pass "$BOOT/flood-accounting" "udpflood queued $sent frames across the takeovers; the $FWD_N hp-fwd processes together counted exactly $ign ($(for n in $(seq "$FWD_N"); do printf '%s ' "$(field "$(fwd_summary $n)" discarded)"; done| sed 's/ $//'))"
  else
    fail "$BOOT/flood-accounting" "udpflood queued ${sent:-?} frames, the hp-fwd processes counted $ign"
  fi
  if [ "$tx" -gt 0 ] && [ "$tx" = "${rx:-x}" ] && [ "$(field "$c" rx_dropped)" = 0 ]; then
    pass "$BOOT/reply-accounting" "the guest received exactly the $tx replies the hp-fwd processes enqueued (rx_dropped 0)"
  else
    fail "$BOOT/reply-accounting" "the hp-fwd processes enqueued $tx replies, the guest counted rx_packets=${rx:-?} rx_dropped=$(field "$c" rx_dropped)"
  fi
  # The pause per takeover, from the old process's quiesce to the new one's resume.
  pauses=$(echo $pauses | tr ' ' '\n' | grep -E '^[0-9]+$' | sort -n)
  if [ -n "$pauses" ]; then
    echo "$pauses" | awk -v b="$BOOT" '{ a[NR] = $1 / 1e6; l = l sprintf(" %.3f", a[NR]) }
      END { printf "      %s: pause per takeover (ms, sorted):%s; median %.3f ms, max %.3f ms over %d takeovers\n", b, l, a[int((NR + 1) / 2)], a[NR], NR }'
  fi
}
boot_takeover() { boot_takeover_mode takeover server; }

# Kill tests with a real guest (QEMU server=on, hp-fwd --client): the old hp-fwd killed at old-quiesced (the new one
# starts normally, QEMU's reconnect path brings the device back: pings after it answered), then, while the guest
# floods and pings, a new hp-fwd killed at new-ready (the running one resumes: no link change, every ping answered,
# every flooded frame counted by it).
boot_takeover-kill() {
  FWD_ENV="HOTPATH_TAKEOVER_STALL=old-quiesced"
  boot takeover-kill client 1 1 "" "ping:ping-20:20:56,sync:kill-old,ping:after-kill-old:50:56,hold:kill-new,ping:after-kill-new:20:56"
  report_guest ping-20
  check_boot packed=0
  local line detail sent ign
  line=$(grep -a '^takeover state=' "$D/fwd.2.log" 2> /dev/null | head -1)
  if [ -n "$(guest_result sync-kill-old)" ]; then
    fail "$BOOT/kill-old" "$(guest_result sync-kill-old | cut -d' ' -f4-)"
  elif [ "$(field "$line" state)" = fallback ] && grep -qa '^new_device vid=' "$D/fwd.2.log" && detail=$(guest_verdict after-kill-old); then
    pass "$BOOT/kill-old" "hp-fwd #1 killed at old-quiesced: #2 started normally ('$line'), QEMU reconnected (guest carrier meanwhile: $(field "$(guest_data sync-kill-old)" carrier)); after: $detail"
  else
    fail "$BOOT/kill-old" "hp-fwd #2: '${line:-no takeover line}', new_device x$(count_in "$D/fwd.2.log" '^new_device vid='); guest: $(guest_verdict after-kill-old)"
  fi
  report_guest kill-new; report_guest after-kill-new
  sent=$(field "$(guest_data kill-new)" flood_sent); ign=$(field "$(fwd_summary 2)" discarded)
  if grep -qa 'takeover: .*resuming' "$D/fwd.2.log" && [ "$(cat "$D/fwd.3.rc" 2> /dev/null)" = 137 ] &&
     [ "${sent:-0}" -gt 0 ] && [ "$ign" = "$sent" ] && [ "$(count_in "$D/fwd.3.log" '^new_device vid=')" = 0 ]; then
    pass "$BOOT/kill-new" "hp-fwd #3 killed at new-ready: #2 resumed ($(grep -a 'takeover: .*resuming' "$D/fwd.2.log" | head -1 | sed 's/.*takeover: /takeover: /')) and counted all $sent frames the guest flooded meanwhile; #3 never ran the device"
  else
    fail "$BOOT/kill-new" "hp-fwd #2 resumed: $(count_in "$D/fwd.2.log" 'takeover: .*resuming'), #3 exit $(cat "$D/fwd.3.rc" 2> /dev/null) new_device x$(count_in "$D/fwd.3.log" '^new_device vid='); flood: guest ${sent:-?}, hp-fwd #2 ${ign:-?}"
  fi
}
boot_takeover-client() { boot_takeover_mode takeover-client client; }

# ---------------------------------------------------------------- live migration (issue 15)
# QMP over a pipe chardev (no socat or python needed): commands into $D/NAME.in, replies and events from
# $D/NAME.out, copied to $D/NAME.log by a reader started with the QEMU.
qmp_reader() { cat "$D/$1.out" >> "$D/$1.log" 2> /dev/null & }

# Sends one command with id ID (its "execute" and "arguments" as JSON members) and waits up to 30 s for the reply
# with that id; prints the reply, status 1 when none came.
qmp() { # NAME ID MEMBERS
  local re="\"id\": *\"$2\""
  timeout 5 sh -c "echo '{$3, \"id\": \"$2\"}' > '$D/$1.in'" || return 1
  wait_for 30 "$D/$1.log" "$re" || return 1
  grep -aE "$re" "$D/$1.log" | tail -1
}

json_field() { echo "$1" | sed -n "s/.*\"$2\": *\"\{0,1\}\([^,}\"]*\).*/\1/p" | head -1; }  # JSON KEY (first match)

# Migrates source QMP NAME to the Unix socket URI and waits (up to 300 s) for completed or failed; the last
# query-migrate reply is left in $D/migrate.json. Status 0 when completed.
# With POSTCOPY=1 it switches to postcopy (migrate-start-postcopy) as soon as the migration is active; every status
# seen is appended to $D/migrate.states.
migrate_qmp() { # NAME URI
  local i r st started=0
  qmp "$1" params "\"execute\": \"migrate-set-parameters\", \"arguments\": {\"max-bandwidth\": $MIGRATE_BANDWIDTH, \"downtime-limit\": 2000}" > /dev/null || return 1
  r=$(qmp "$1" mig "\"execute\": \"migrate\", \"arguments\": {\"uri\": \"$2\"}") || return 1
  echo "migrate: $r" >> "$D/host.log"
  for i in $(seq 1200); do
    r=$(qmp "$1" "q$i" '"execute": "query-migrate"') || return 1
    st=$(json_field "$r" status)
    echo "$r" > "$D/migrate.json"
    echo "$st" >> "$D/migrate.states"
    if [ "${POSTCOPY:-0}" = 1 ] && [ "$st" = active ] && [ $started = 0 ]; then
      r=$(qmp "$1" pc '"execute": "migrate-start-postcopy"') || return 1
      echo "migrate-start-postcopy: $r" >> "$D/host.log"; started=1
    fi
    case $st in completed) return 0 ;; failed | cancelled) return 1 ;; esac
    sleep 0.25
  done
  return 1
}

# QMP greeting, then the postcopy-ram capability when POSTCOPY=1 (both sides need it before the migration starts).
qmp_setup() { # NAME
  qmp "$1" caps '"execute": "qmp_capabilities"' > /dev/null || return 1
  [ "${POSTCOPY:-0}" = 1 ] || return 0
  qmp "$1" pcap '"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "postcopy-ram", "state": true}]}' >> "$D/host.log"
}

# The QEMU of one side: vhost-user socket SOCK, control pipe CTL, QMP pipe QMP, extra arguments.
migrate_qemu() { # SOCK CTL QMP EXTRA...
  local sock=$1 ctl=$2 qmpn=$3; shift 3
  echo qemu-system-x86_64 -accel tcg -M pc -m 256M -smp 1 -display none -nodefaults -no-user-config \
    -no-reboot -kernel "$BOOT_KERNEL" -initrd "$work/initrd.gz" \
    -append "'console=ttyS0 quiet panic=-1 ipv6.disable=1 hpq.plan=$MIG_PLAN hpq.mac=$PEER_MAC'" \
    $MIG_MEMORY -numa node,memdev=mem \
    -serial stdio -chardev "pipe,id=ctl,path=$D/$ctl" -serial chardev:ctl \
    -chardev "pipe,id=qmp,path=$D/$qmpn" -mon chardev=qmp,mode=control \
    -chardev "socket,id=c0,path=$sock" -netdev "vhost-user,id=n0,chardev=c0,queues=1" \
    -device "virtio-net-pci,netdev=n0,mac=$GUEST_MAC,romfile=,vectors=0" "$@"
}

MIG_PLAN="ping:ping-100:100:56,migrate:migrate,ping:after-migrate:100:56,counters"

MIG_MEMFD="-object memory-backend-memfd,id=mem,size=256M,share=on"
MIG_HUGE="-object memory-backend-file,id=mem,size=256M,mem-path=/dev/hugepages,share=on,prealloc=off"

# One live migration under traffic. KIND: precopy (memfd), postcopy (memfd, switched to postcopy once active; the
# destination hp-fwd runs with --postcopy) or hugepage (precopy of a guest on hugetlbfs).
migrate_boot() { # NAME KIND
  local name=$1 kind=$2 t0=$SECONDS src dst spid dpid fsrc fdst qrc=1 mig=fail st r
  local start=start_fwd listening='server listening'
  case $MIGRATE_BACKEND in
    hotpath) ;; dpdk) start=start_tp listening='binding succeeded' ;;
    *) fail "$name/boot" "HPQ_MIGRATE_BACKEND=$MIGRATE_BACKEND (want hotpath or dpdk)"; return ;;
  esac
  MODE=server QUEUES=1 FWD_N=0 FWD_PID="" RETRIED=""
  POSTCOPY=0; [ "$kind" = postcopy ] && POSTCOPY=1
  MIG_MEMORY=$MIG_MEMFD; [ "$kind" = hugepage ] && MIG_MEMORY=$MIG_HUGE
  D=$work/$name
  mkdir -p "$D"
  mkfifo "$D/ctl.in" "$D/ctl.out" "$D/ctl-dst.in" "$D/ctl-dst.out" "$D/qmp-src.in" "$D/qmp-src.out" \
    "$D/qmp-dst.in" "$D/qmp-dst.out"
  FWD_EXTRA=""; SOCK=$D/vhost.sock; $start; fsrc=$FWD_PID
  [ $POSTCOPY = 1 ] && FWD_EXTRA="--postcopy"
  SOCK=$D/vhost-dst.sock; $start; fdst=$FWD_PID; FWD_EXTRA=""
  wait_for 30 "$D/fwd.1.log" "$listening" && wait_for 30 "$D/fwd.2.log" "$listening" ||
    echo "a $MIGRATE_BACKEND backend made no socket within 30 s" >> "$D/host.log"
  src=$(migrate_qemu "$D/vhost.sock" ctl qmp-src)
  dst=$(migrate_qemu "$D/vhost-dst.sock" ctl-dst qmp-dst -incoming "unix:$D/migrate.sock")
  echo "source:      $src" > "$D/qemu.cmd"; echo "destination: $dst" >> "$D/qemu.cmd"
  eval "timeout -k 5 $BOOT_TIMEOUT $src" < /dev/null > "$D/console.log" 2>&1 &
  spid=$!
  eval "timeout -k 5 $((BOOT_TIMEOUT + 300)) $dst" < /dev/null > "$D/console-dst.log" 2>&1 &
  dpid=$!
  qmp_reader qmp-src; qmp_reader qmp-dst
  qmp_setup qmp-src && qmp_setup qmp-dst || echo "QMP setup failed" >> "$D/host.log"
  echo "QEMUs started after $((SECONDS - t0)) s" >> "$D/host.log"
  # The guest pings in the background and says HPQ-SYNC migrate: migrate it under that traffic.
  while kill -0 $spid 2> /dev/null && ! grep -qa '^HPQ-SYNC migrate' "$D/console.log"; do sleep 0.2; done
  if grep -qa '^HPQ-SYNC migrate' "$D/console.log"; then
    echo "migration started after $((SECONDS - t0)) s" >> "$D/host.log"
    if migrate_qmp qmp-src "unix:$D/migrate.sock"; then mig=ok; fi
    echo "migration $mig after $((SECONDS - t0)) s: $(cat "$D/migrate.json" 2> /dev/null)" >> "$D/host.log"
    qmp qmp-src quit '"execute": "quit"' > /dev/null
    [ $mig = ok ] && timeout 5 sh -c "echo 'go migrate' > '$D/ctl-dst.in'"
  fi
  [ $mig = ok ] || kill $dpid 2> /dev/null
  wait $spid
  wait $dpid; qrc=$?
  echo "QEMUs exited (destination $qrc) after $((SECONDS - t0)) s" >> "$D/host.log"
  FWD_N=1 FWD_PID=$fsrc stop_fwd INT
  FWD_N=2 FWD_PID=$fdst stop_fwd INT
  FWD_N=2
  cat "$D/console-dst.log" >> "$D/console.log"
  clean_console
  echo "$qrc" > "$D/qemu.rc"
  echo $((SECONDS - t0)) > "$D/seconds"

  BOOT=$name
  report_guest ping-100
  r=$(cat "$D/migrate.json" 2> /dev/null); st=$(json_field "$r" status)
  local states; states=$(uniq "$D/migrate.states" 2> /dev/null | tr '\n' ' ')
  if [ "$st" = completed ] && { [ $POSTCOPY = 0 ] || grep -qx postcopy-active "$D/migrate.states"; }; then
    pass "$BOOT/query-migrate" "status completed (${states% }): total-time $(json_field "$r" total-time) ms, downtime $(json_field "$r" downtime) ms, setup-time $(json_field "$r" setup-time) ms, transferred $(json_field "$r" transferred) bytes, dirty-sync-count $(json_field "$r" dirty-sync-count), postcopy-requests $(json_field "$r" postcopy-requests), max-bandwidth $MIGRATE_BANDWIDTH B/s"
  else
    fail "$BOOT/query-migrate" "query-migrate status '${st:-none}' (states: ${states:-none}): ${r:-no reply} (see $D/qmp-src.log)"
  fi
  report_guest migrate
  report_guest after-migrate
  if [ "$MIGRATE_BACKEND" = dpdk ]; then
    echo "      HPQ_MIGRATE_BACKEND=dpdk: hp-fwd's flood, device, dirty-log and postcopy checks skipped (testpmd logs: $D/fwd.1.log, $D/fwd.2.log)"
    return 0
  fi
  check_flood_across
  check_boot packed=0
  local on pages
  on=$(grep -a '^features_changed vid=[0-9]* log_all=1' "$D/fwd.1.log" | head -1)
  pages=$(field "$(grep -a '^summary log ' "$D/fwd.1.log" | tail -1)" pages_marked)
  if [ -n "$on" ] && [ "${pages:-0}" -gt 0 ]; then
    pass "$BOOT/dirty-log" "source hp-fwd: '$on', then $(grep -a '^log vid=' "$D/fwd.1.log" | tail -1); summary pages_marked=$pages"
  else
    fail "$BOOT/dirty-log" "source hp-fwd: log_all=1 line '${on:-none}', summary pages_marked=${pages:-none}"
  fi
  [ $POSTCOPY = 1 ] || return 0
  local lines; lines=$(grep -aoE 'postcopy: (advised|listening|ended)' "$D/fwd.2.log" | uniq | tr '\n' ',')
  if [ "$lines" = "postcopy: advised,postcopy: listening,postcopy: ended," ]; then
    pass "$BOOT/postcopy" "destination hp-fwd (--postcopy): advised, listening, ended, in that order; $(grep -a 'device ready' "$D/fwd.2.log" | grep -o 'protocol [^ ,]*' | head -1)"
  else
    fail "$BOOT/postcopy" "destination hp-fwd postcopy lines: '${lines:-none}' (want advised, listening, ended)"
  fi
}

# The guest flooded UDP frames through the whole migration: the source hp-fwd counted those sent before the switch,
# the destination the rest; together exactly what udpflood queued (none lost, none twice), the destination some.
check_flood_across() {
  local sent src dst
  sent=$(field "$(guest_data migrate)" flood_sent)
  src=$(field "$(fwd_summary 1)" discarded); dst=$(field "$(fwd_summary 2)" discarded)
  if [ "${sent:-0}" -gt 0 ] && [ "${dst:-0}" -gt 0 ] && [ $((${src:-0} + ${dst:-0})) = "$sent" ]; then
    pass "$BOOT/flood-across" "udpflood queued $sent frames during the migration: $src reached the source hp-fwd, $dst the destination, none lost or repeated"
  else
    fail "$BOOT/flood-across" "udpflood queued ${sent:-?} frames; source hp-fwd counted ${src:-?}, destination ${dst:-?} (want a sum of exactly $sent, destination > 0)"
  fi
}

boot_migrate-precopy() { migrate_boot migrate-precopy precopy; }
boot_migrate-postcopy() { migrate_boot migrate-postcopy postcopy; }
boot_migrate-hugepage() {
  local free; free=$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)
  if [ "$(awk '/Hugepagesize/ { print $2 }' /proc/meminfo)" != 2048 ] || [ "${free:-0}" -lt 300 ] || ! grep -q ' /dev/hugepages hugetlbfs' /proc/mounts; then
    skip "migrate-hugepage: two 256 MiB guests need 256 free 2 MiB hugepages on /dev/hugepages (free: ${free:-0}; scripts/setup.sh reserves them as root)"
    return
  fi
  migrate_boot migrate-hugepage hugepage
}

for b in $BOOTS; do
  declare -F "boot_$b" > /dev/null || { fail "$b" "no such boot (known: server client mrg-off event-idx-off packed mq mtu9000 async async-packed interrupt takeover takeover-client takeover-kill viommu viommu-lazy migrate-precopy migrate-postcopy migrate-hugepage)"; continue; }
  run_boot "$b"
done
if [ $failed = 0 ] && [ "${HPQ_KEEP:-0}" = 0 ]; then rm -rf "$work"; else echo "qemu: kept $work"; fi
finish
