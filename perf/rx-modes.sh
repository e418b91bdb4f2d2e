#!/usr/bin/env bash
# hp-fwd --rx-mode poll, interrupt and adaptive side by side (issue 14): what an idle device costs, what the first
# packet after a quiet time waits, and what a busy device moves.
#   idle CPU    hp-fwd io beside a started but silent DPDK virtio-user (tests/c/rx-mode-idle.sh): utime+stime of
#               /proc/PID/stat over IDLE_SECS, as a share of the wall time (100% = one core)
#   64 B rx     testpmd txonly (virtio-user, split, 64 B) into hp-fwd rxonly for SECS: testpmd's median Tx-pps (what
#               hp-fwd took) and hp-fwd's own rx_mpps over its active time
#   64 B loop   testpmd io with tx_first through hp-fwd io: 32 packets circulate, so the rate is a round-trip figure
#   guest       a Linux guest under QEMU TCG (tests/qemu/run.sh, boot "interrupt", HPQ_RX_MODE): hp-fwd's CPU while
#               the guest idles, ping RTT (100 pings 20 ms apart: every one arrives at an idle queue), 64 B flood pps
#               as the guest's udpflood counted them
# hp-fwd is pinned with taskset -c 1 (testpmd's forwarding lcore is 0), as perf/race.sh does. ROUNDS (default 2)
# interleaves the modes round by round; each figure is the median over rounds. Needs root, hugepages,
# dpdk-testpmd and QEMU (scripts/setup.sh). Prints a markdown table (also written to OUT, default
# perf/results/rx-modes-<time>.md).
# Usage: perf/rx-modes.sh          (env ROUNDS, SECS=8, IDLE_SECS=10, QEMU=0 skips the guest columns)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
art=$root/artifacts fwd=$root/artifacts/bin/hp-fwd peer=$root/scripts/interop/virtio-user-peer.sh
ROUNDS=${ROUNDS:-2} SECS=${SECS:-8} IDLE_SECS=${IDLE_SECS:-10} QEMU=${QEMU:-1}
modes="poll interrupt adaptive"
work=$(mktemp -d /tmp/rx-modes.XXXXXX)
out=${OUT:-$root/perf/results/rx-modes-$(date -u +%Y%m%d-%H%M).md}
mkdir -p "$(dirname "$out")"
"$root/build.sh" > "$work/build.log" 2>&1 || { tail "$work/build.log"; exit 1; }
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
json_num() { sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p" "$1" | head -1; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else print a[int((NR + 1) / 2)] }'; }
wait_socket() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }

# fwd_run MODE RX_MODE PEER_MODE TAG: hp-fwd against virtio-user for SECS; appends "peer_rx_pps peer_tx_pps fwd_rx_mpps"
fwd_run() {
  local sock=$work/$4.sock json=$work/$4.json p fp
  rm -f "$sock" "$json"
  taskset -c 1 "$fwd" --socket "$sock" --mode "$1" --rx-mode "$2" --seconds $((SECS + 5)) --stats-interval 0 \
    --json "$json" > "$work/$4.out" 2>&1 &
  fp=$!
  wait_socket "$sock" || { kill -INT $fp; wait $fp; echo "- - -"; return; }
  p=$("$peer" "$sock" "$3" "$SECS" 64)
  kill -INT $fp 2> /dev/null; wait $fp
  echo "$(kv "$p" rx_pps) $(kv "$p" tx_pps) $(json_num "$json" rx_mpps)"
}

for r in $(seq "$ROUNDS"); do
  for m in $modes; do
    echo "rx-modes: round $r, $m" >&2
    fwd_run rxonly "$m" txonly "rx-$m-$r" >> "$work/rx.$m"
    fwd_run io "$m" io "loop-$m-$r" >> "$work/loop.$m"
  done
done
for m in $modes; do
  echo "rx-modes: idle CPU, $m" >&2
  "$root/tests/c/rx-mode-idle.sh" "$art" "$work" "$m" 0 "$IDLE_SECS" > "$work/idle.$m" 2>&1
  if [ "$QEMU" = 1 ]; then
    echo "rx-modes: QEMU guest, $m" >&2
    HPQ_BOOTS=interrupt HPQ_RX_MODE=$m HPQ_IDLE_SECONDS=$IDLE_SECS "$root/tests/qemu/run.sh" > "$work/qemu.$m" 2>&1
  fi
done

{
  echo "| rx mode | idle CPU, virtio-user | 64 B rx, testpmd Mpps | 64 B rx, hp-fwd Mpps | 64 B loop, Mpps | idle CPU, QEMU guest | ping RTT min/avg/max ms | guest 64 B flood, kpps |"
  echo "|---|---|---|---|---|---|---|---|"
  for m in $modes; do
    idle=$(sed -n 's/.*CPU while idle: .* = \([0-9.]*\)%.*/\1/p' "$work/idle.$m")
    trx=$(awk '{ print $2 / 1e6 }' "$work/rx.$m" | median); frx=$(awk '{ print $3 }' "$work/rx.$m" | median)
    loop=$(awk '{ print $1 / 1e6 }' "$work/loop.$m" | median)
    qidle="-" rtt="-" flood="-"
    if [ "$QEMU" = 1 ]; then
      qidle=$(sed -n 's/.*idle-cpu: .* used [0-9]* ticks of CPU in .* s of guest idling: \([0-9.]*\)%.*/\1/p' "$work/qemu.$m")
      [ -n "$qidle" ] || qidle=$(sed -n 's/.*idle-cpu: .* used \([0-9.]*\)% CPU.*/\1/p' "$work/qemu.$m")
      rtt=$(sed -n 's/.*ping-100: .*rtt min\/avg\/max \([0-9./]*\) ms.*/\1/p' "$work/qemu.$m")
      flood=$(sed -n 's/.*flood-64: .* pps=\([0-9]*\).*/\1/p' "$work/qemu.$m" | awk '{ printf "%.1f", $1 / 1000 }')
    fi
    printf '| %s | %s%% | %.2f | %.2f | %.2f | %s%% | %s | %s |\n' "$m" "${idle:--}" "${trx:-0}" "${frx:-0}" "${loop:-0}" \
      "${qidle:--}" "${rtt:--}" "${flood:--}"
  done
} | tee "$out"
echo "rx-modes: raw results in $work; table in $out" >&2
