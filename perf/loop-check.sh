#!/usr/bin/env bash
# The loops (guest TX -> backend -> guest RX) measured by counts, not by packets per second (which swing up to 40x
# within one run on this shared 2-vCPU machine):
#   counters  hp-fwd --mode io --vring-stats against hp-frontend --direction loop (hp-fwd --demo's loop), per
#             forwarded packet: call eventfd writes (guest_notifications), kicks, used entries per received packet
#             (mergeable buffers joined), packets hp-fwd dropped for want of RX buffers, frontend loop rounds.
#             Fails when the frontend is notified or kicks (more than twice and more than 1 in 1000 packets: it
#             kicks once per ring at start), when a packet takes more than one RX buffer, or when hp-fwd's
#             enqueued packets and the frontend's received ones differ by more than the RX ring holds (what was
#             still in it when the frontend stopped).
#   lap       hp-fwd --mode io under callgrind against DPDK's virtio-user in io mode (tx_first: 32 packets
#             circulate, compare.sh's loop): laps (bursts that moved packets), enqueue instructions per packet (the
#             burst itself), and backend instructions per lap, empty polls included: the time the backend waits for
#             the frontend to turn the packets around, in instructions. A frontend that stalls on what the backend
#             did (used entries seen late, a lost notification) shows as more instructions per lap.
# Usage: perf/loop-check.sh [counters] [lap]   (default both; env HP_FWD, LENS "64 1518", RINGS "0 1" for lap,
#        SECS (counters, default 2), LAP_SECS (default 12), DPDK=1 adds DPDK's backend to the lap part)
# Prints "loop-counters ..." and "loop-lap ..." lines; exit 1 when a counters check fails.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
interop=${INTEROP:-$root/scripts/interop}
hp=${HP_FWD:-$root/artifacts/bin/hp-fwd}
fe=$(dirname "$hp")/hp-frontend
parts=${*:-counters lap}
failed=0
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

if [[ " $parts " == *" counters "* ]]; then
  for len in ${LENS:-64 1518}; do
    sock=/tmp/loopc-$$.sock; log=/tmp/loopc-$$.log; rm -f "$sock"
    "$hp" --socket "$sock" --mode io --pkt-len "$len" --seconds 120 --stats-interval 0 --vring-stats >"$log" 2>&1 &
    bp=$!
    for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
    line=$("$fe" --socket "$sock" --direction loop --pkt-len "$len" --seconds "${SECS:-2}" 2>&1 | grep '^hp-frontend ')
    kill -INT "$bp" 2>/dev/null; wait "$bp" 2>/dev/null
    notif=$(grep -a '^vring_stats' "$log" | tr ' ' '\n' | sed -n 's/^[rt]x_q0_guest_notifications=//p' |
      awk '{s+=$1} END{print s+0}')
    summary=$(grep -a '^summary q0' "$log")
    rm -f "$log" "$sock"
    tx=$(kv "$line" tx_packets); rx=$(kv "$line" rx_packets); kicks=$(kv "$line" kicks); bufs=$(kv "$line" rx_buffers)
    polls=$(kv "$line" polls); fwd=$(kv "$summary" tx_packets); drops=$(kv "$summary" tx_dropped)
    res=$(awk -v len="$len" -v tx="${tx:-0}" -v rx="${rx:-0}" -v n="$notif" -v k="${kicks:-0}" -v b="${bufs:-0}" \
      -v p="${polls:-0}" -v f="${fwd:-0}" -v d="${drops:-0}" 'BEGIN {
        ok = rx > 0 && (n <= 2 || n / rx < 0.001) && (k <= 2 || k / rx < 0.001) && b == rx && f >= rx && f - rx <= 1024
        printf "loop-counters len=%s rx_packets=%d notifications_per_pkt=%.4f kicks_per_pkt=%.4f rx_buffers_per_pkt=%.3f drops_per_pkt=%.4f frontend_polls_per_pkt=%.2f %s\n",
          len, rx, (rx > 0) ? n / rx : 0, (rx > 0) ? k / rx : 0, (rx > 0) ? b / rx : 0, (tx > 0) ? d / tx : 0,
          (rx > 0) ? p / rx : 0, ok ? "ok" : "FAIL" }')
    echo "$res"
    [[ "$res" == *FAIL ]] && failed=1
  done
fi

# One lap run: backend $1 (hotpath|dpdk), packed $2, len $3.
lap_run() {
  local be=$1 packed=$2 len=$3 sock=/tmp/loopl-$$.sock out=/tmp/loopl-$$.callgrind log=/tmp/loopl-$$.log cmd toggles dq eq
  rm -f "$sock"
  if [ "$be" = dpdk ]; then
    dq=rte_vhost_dequeue_burst; eq=rte_vhost_enqueue_burst
    cmd="dpdk-testpmd -l 0,1 --main-lcore 0 --no-pci --no-huge -m 512 --file-prefix=loopl$$ --vdev net_vhost0,iface=$sock,queues=1 -- --nb-cores=1 --forward-mode=io --stats-period 100 --total-num-mbufs=8192"
    toggles="--toggle-collect=$dq --toggle-collect=$eq"
  else
    dq=hp_vhost_dequeue_burst; eq=hp_vhost_enqueue_burst
    cmd="$hp --socket $sock --mode io --pkt-len $len --seconds 300 --stats-interval 0"
    toggles="--toggle-collect=worker_main"   # hp-fwd's forwarding thread: bursts, empty polls, frees
  fi
  # --dump-instr=yes changes no count; callgrind-calls.py counts the burst entries exactly with it.
  DOTNET_GCRegionRange=40000000 valgrind --tool=callgrind --fair-sched=yes --dump-instr=yes --callgrind-out-file="$out" \
    $toggles $cmd >"$log" 2>&1 &
  local vp=$!
  for _ in $(seq 600); do [ -S "$sock" ] && break; sleep 0.2; done
  # As race.sh: the backend under valgrind at nice 19, so the frontend is never the one starved of CPU.
  renice -n 19 -p "$vp" >/dev/null 2>&1
  "$interop/virtio-user-peer.sh" "$sock" io "${LAP_SECS:-12}" "$len" "$packed" >/dev/null
  kill -INT "$vp" 2>/dev/null; for _ in $(seq 100); do kill -0 "$vp" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$vp" 2>/dev/null; wait "$vp" 2>/dev/null
  local ins pk laps dcalls eins
  ins=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log" | tail -1)
  dcalls=$(python3 "$root/perf/callgrind-calls.py" "$out" "$dq" 2>/dev/null || echo 0)
  laps=$(python3 "$root/perf/callgrind-calls.py" "$out" "$eq" 2>/dev/null || echo 0)
  eins=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null | grep -m1 -E "[?]{3}:$eq " | awk '{gsub(",", "", $1); print $1}')
  if [ "$be" = dpdk ]; then pk=$(strings "$log" | awk '/TX-packets:/{v=$2} END{print v+0}')
  else pk=$(grep -a '^summary q0' "$log" | tr ' ' '\n' | sed -n 's/^tx_packets=//p'); fi
  rm -f "$out" "$log" "$sock"
  awk -v be="$be" -v p="$packed" -v l="$len" -v i="${ins:-0}" -v k="${pk:-0}" -v laps="${laps:-0}" -v dc="${dcalls:-0}" -v e="${eins:-0}" 'BEGIN {
    printf "loop-lap backend=%s packed=%s len=%s packets=%d laps=%d packets_per_lap=%.1f dequeue_calls_per_lap=%.1f enqueue_ipp=%.1f backend_instructions_per_lap=%.0f%s\n",
      be, p, l, k, laps, (laps > 0) ? k / laps : 0, (laps > 0) ? dc / laps : 0, (k > 0) ? e / k : 0, (laps > 0) ? i / laps : 0,
      be == "dpdk" ? " (dpdk: inside its two burst functions only)" : "" }'
}

if [[ " $parts " == *" lap "* ]]; then
  for packed in ${RINGS:-0 1}; do
    lap_run hotpath "$packed" 64
    [ "${DPDK:-0}" = 1 ] && lap_run dpdk "$packed" 64
  done
fi
exit $failed
