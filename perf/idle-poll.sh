#!/usr/bin/env bash
# Instructions per empty burst call (an idle poll) under callgrind: the backend polls a ring its frontend never
# fills (dequeue: backend rxonly, frontend rxonly, so the guest sends nothing; enqueue: backend txonly, frontend
# txonly, so the guest posts no RX buffers). Unlike instructions per packet this does not depend on how fast the
# frontend keeps up, so it is stable on a loaded machine; with callgrind-ipp.sh's calls it splits that figure.
# Usage: perf/idle-poll.sh WORKLOAD PACKED [hotpath|dpdk]      (env HP_FWD; SECS default 8; KEEP=FILE keeps the callgrind output)
# Prints: "poll backend=.. workload=.. packed=.. instructions=N calls=M ipc=N/M"
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
interop=${INTEROP:-$(cd "$(dirname "$0")/.." && pwd)/scripts/interop}
wl=$1; packed=$2; backend=${3:-hotpath}
secs=${SECS:-8}
case $wl in
  dequeue) mode=rxonly;; enqueue) mode=txonly;;
  *) echo "unknown workload $wl" >&2; exit 2;;
esac
sock=/tmp/poll-$$.sock; out=/tmp/poll-$$.callgrind; log=/tmp/poll-$$.backend.log; rm -f "$sock"
if [ "$backend" = dpdk ]; then
  fn=rte_vhost_${wl}_burst
  cmd="dpdk-testpmd -l 0,1 --main-lcore 0 --no-pci --no-huge -m 512 --file-prefix=poll$$ --vdev net_vhost0,iface=$sock,queues=1 -- --nb-cores=1 --forward-mode=$mode --txpkts=64 --stats-period 100 --total-num-mbufs=8192"
else
  fn=hp_vhost_${wl}_burst
  cmd="${HP_FWD:-$root/artifacts/bin/hp-fwd} --socket $sock --mode $mode --pkt-len 64 --seconds $((secs + 60)) --stats-interval 0"
fi
VALGRIND_OPTS="${VALGRIND_OPTS:-} --dump-instr=yes" DOTNET_GCRegionRange=40000000 valgrind --tool=callgrind --fair-sched=yes --callgrind-out-file="$out" --toggle-collect="$fn" \
  $cmd >"$log" 2>&1 &
vp=$!
for _ in $(seq 600); do [ -S "$sock" ] && break; sleep 0.2; done
"$interop/virtio-user-peer.sh" "$sock" "$mode" "$secs" 64 "$packed" >/dev/null
kill -INT "$vp" 2>/dev/null; for _ in $(seq 100); do kill -0 "$vp" 2>/dev/null || break; sleep 0.2; done
kill -KILL "$vp" 2>/dev/null; wait "$vp" 2>/dev/null
ins=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log" | tail -1)
calls=$(python3 "$root/perf/callgrind-calls.py" "$out" "$fn" 2>/dev/null || echo 0)
if [ -n "${KEEP:-}" ]; then cp "$out" "$KEEP"; fi
rm -f "$out" "$log" "$sock"
awk -v b="$backend" -v w="$wl" -v p="$packed" -v i="${ins:-0}" -v c="${calls:-0}" \
  'BEGIN{printf "poll backend=%s workload=%s packed=%s instructions=%.0f calls=%.0f ipc=%.1f\n", b, w, p, i, c, (c>0)?i/c:0}'
