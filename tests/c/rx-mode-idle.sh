#!/usr/bin/env bash
# hp-fwd --rx-mode interrupt|adaptive costs no CPU while its frontend is silent, then forwards (issue 14):
# hp-fwd (io mode) serves DPDK's virtio-user (dpdk-testpmd, interactive, started but not forwarding) on one
# connection; over a measured window hp-fwd's CPU time (utime+stime of /proc/PID/stat) must grow by under 1% of the
# wall time; then testpmd starts forwarding (start tx_first), packets circulate, and the counts of both sides must
# agree. Also checks that hp-fwd slept on the kick fd and that a guest kick woke it.
# Usage: rx-mode-idle.sh ARTIFACTS_DIR WORK_DIR RX_MODE PACKED [IDLE_SECONDS]
# Needs root, hugepages and dpdk-testpmd (run.sh checks). Last line: "rx_mode_idle: N passed, N failed".
set -uo pipefail
art=$1 work=$2 mode=$3 packed=$4 window=${5:-5}
name=idle-$mode-p$packed
sock=$work/$name.sock json=$work/$name.json out=$work/$name.out err=$work/$name.err tlog=$work/$name.testpmd fifo=$work/$name.fifo
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
finish() { echo "rx_mode_idle: $passed passed, $failed failed"; exit 0; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, in clock ticks
json_num() { sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1" | head -1; }

"$art/bin/hp-fwd" --socket "$sock" --mode io --rx-mode "$mode" --stats-interval 0 --json "$json" > "$out" 2> "$err" &
fpid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { fail "$name: hp-fwd made no socket: $(tail -3 "$err")"; kill -INT $fpid; wait $fpid; finish; }

# testpmd reads its commands from a fifo this script holds open (fd 3) until quit.
rm -f "$fifo"; mkfifo "$fifo"
exec 3<> "$fifo"   # read-write: opening never blocks, even when testpmd fails to start
lcores=${PEER_LCORES:-1,0}
dpdk-testpmd -l "$lcores" --main-lcore "${lcores%%,*}" --no-pci --file-prefix="idle$$" -m 256 \
  --single-file-segments \
  --vdev "net_virtio_user0,mac=00:01:02:03:04:05,path=$sock,queues=1,queue_size=1024,packed_vq=$packed,mrg_rxbuf=1,in_order=0" \
  -- -i --nb-cores=1 --txd=1024 --rxd=1024 --forward-mode=io --burst=32 < "$fifo" > "$tlog" 2>&1 &
tpid=$!
stop_all() { exec 3>&-; kill $tpid 2>/dev/null; wait $tpid 2>/dev/null; kill -INT $fpid 2>/dev/null; wait $fpid 2>/dev/null; }
for _ in $(seq 200); do grep -q '^device vid=' "$out" && break; sleep 0.1; done
if ! grep -q '^device vid=' "$out"; then
  fail "$name: no device in 20 s: $(tail -3 "$tlog")"; stop_all; finish
fi
# The window opens once both sides are idle for real: hp-fwd saw both vrings enabled and testpmd, having started its
# port, waits at its prompt.
for _ in $(seq 200); do
  [ "$(grep -c '^vring_state_changed vid=[0-9]* queue=[01] enable=1$' "$out")" -ge 2 ] &&
    strings "$tlog" | grep -q 'testpmd> ' && break
  sleep 0.1
done

hz=$(getconf CLK_TCK)
t0=$(date +%s.%N) c0=$(cpu_ticks $fpid)
sleep "$window"
t1=$(date +%s.%N) c1=$(cpu_ticks $fpid)
pct=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", 100 * c / hz / (b - a) }')
echo "      $name: $(grep '^device vid=' "$out" | sed 's/ features=[^ ]*//') | hp-fwd CPU while idle: $((c1 - c0)) ticks in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}') s = $pct%"
awk -v p="$pct" 'BEGIN { exit !(p < 1.0) }' && pass "$name: hp-fwd idles at $pct% CPU (< 1%) beside a connected, silent virtio-user" ||
  fail "$name: hp-fwd used $pct% CPU while the virtio-user was silent"

echo "start tx_first" >&3
sleep 3
echo "stop" >&3
sleep 1
echo "quit" >&3
exec 3>&-
for _ in $(seq 100); do kill -0 $tpid 2>/dev/null || break; sleep 0.1; done
kill $tpid 2>/dev/null; wait $tpid 2>/dev/null
kill -INT $fpid; wait $fpid; frc=$?
prx=$(strings "$tlog" | awk '/RX-packets:/{v=$2} END{print v+0}')
ptx=$(strings "$tlog" | awk '/TX-packets:/{v=$2} END{print v+0}')
frx=$(json_num "$json" rx_packets) ftx=$(json_num "$json" tx_packets)
sleeps=$(json_num "$json" rx_sleeps) wakes=$(json_num "$json" rx_kick_wakeups)
echo "      $name: then forwarding: hp-fwd rx=${frx:-?} tx=${ftx:-?} sleeps=${sleeps:-?} kick_wakeups=${wakes:-?} | testpmd rx=$prx tx=$ptx"
[ "$frc" = 0 ] || fail "$name: hp-fwd exited $frc: $(tail -3 "$err")"
[ "${frx:-0}" -gt 0 ] && [ "${ftx:-0}" -gt 0 ] && [ "$prx" -gt 0 ] && [ "$ftx" -le "$frx" ] && [ "$prx" -le "$ftx" ] &&
  [ "$frx" -le "$ptx" ] && pass "$name: then forwards virtio-user's traffic (counts agree with testpmd)" ||
  fail "$name: counts hp-fwd rx=$frx tx=$ftx, testpmd rx=$prx tx=$ptx"
[ "${sleeps:-0}" -gt 0 ] && [ "${wakes:-0}" -gt 0 ] && pass "$name: slept on the kick fd and a guest kick woke it" ||
  fail "$name: rx_sleeps=$sleeps rx_kick_wakeups=$wakes"
finish
