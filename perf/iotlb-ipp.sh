#!/usr/bin/env bash
# What VIRTIO_F_IOMMU_PLATFORM costs: instructions per packet of hp-fwd's burst functions under callgrind, with the
# IOTLB off and on, measured in one run under the same conditions. DPDK's virtio-user has no IOMMU mode, so the
# frontend here is HotPath's own (artifacts/bin/hp-frontend, --iommu: IOMMU_PLATFORM acked, every region mapped
# read-write at IOVA = GPA, one IOTLB entry per region) at full speed while hp-fwd (--iommu: the driver offers it;
# the IOTLB-off run gets --vring-stats, which --iommu implies) runs under callgrind, as callgrind-ipp.sh does with DPDK's frontend. Per workload, length and mode it prints
# instructions per packet (ipp, empty polls included), burst calls per packet, and work = ipp - calls/pkt x the
# instructions of an idle call (measured the same way with a frontend that sends nothing / posts no buffer).
# Usage: perf/iotlb-ipp.sh [OUTFILE]    (env SECS per run, default 12; LENS default "64 1518"; WORKLOADS; HP_FWD)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fwd=${HP_FWD:-$root/artifacts/bin/hp-fwd}
fe=$root/artifacts/bin/hp-frontend
secs=${SECS:-12}
lens=${LENS:-64 1518}
workloads=${WORKLOADS:-dequeue enqueue}
out=${1:-/dev/null}

# run WORKLOAD LEN IOMMU(0|1) FRONTEND_DIRECTION -> "instructions calls packets"
run() {
  local wl=$1 len=$2 iommu=$3 dir=$4 mode field flag=""
  case $wl in dequeue) mode=rxonly; field=tx_packets;; enqueue) mode=txonly; field=rx_packets;; esac
  # --iommu turns per-vring stats on (its IOTLB counters); the IOTLB-off run gets them too, so only the IOTLB differs.
  local fflag=""
  if [ "$iommu" = 1 ]; then flag=--iommu; fflag=--iommu; else flag=--vring-stats; fi
  local sock=/tmp/iotlb-ipp-$$.sock cg=/tmp/iotlb-ipp-$$.callgrind log=/tmp/iotlb-ipp-$$.log
  rm -f "$sock"
  VALGRIND_OPTS="--dump-instr=yes" DOTNET_GCRegionRange=40000000 nice -n 19 valgrind --tool=callgrind --fair-sched=yes \
    --callgrind-out-file="$cg" --toggle-collect="hp_vhost_${wl}_burst" \
    "$fwd" --socket "$sock" --mode "$mode" --pkt-len "$len" --seconds $((secs + 120)) --stats-interval 0 $flag >"$log" 2>&1 &
  local vp=$!
  for _ in $(seq 600); do [ -S "$sock" ] && break; sleep 0.2; done
  local line
  line=$("$fe" --socket "$sock" --direction "$dir" --pkt-len "$len" --seconds "$secs" --connect-timeout 60 $fflag 2>&1)
  kill -INT "$vp" 2>/dev/null; for _ in $(seq 150); do kill -0 "$vp" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$vp" 2>/dev/null; wait "$vp" 2>/dev/null
  local ins calls pk
  ins=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log" | tail -1)
  calls=$(python3 "$root/perf/callgrind-calls.py" "$cg" "hp_vhost_${wl}_burst" 2>/dev/null || echo 0)
  pk=$(echo "$line" | sed -n "s/.*$field=\([0-9]*\).*/\1/p")
  [ -n "$ins" ] && [ -n "$pk" ] || { echo "iotlb-ipp: $wl $len iommu=$iommu failed: $line" >&2; tail -5 "$log" >&2; }
  rm -f "$cg" "$log" "$sock"
  echo "${ins:-0} ${calls:-0} ${pk:-0}"
}

declare -A idle
for wl in $workloads; do
  # Idle: dequeue with a frontend that only receives (sends nothing); enqueue with one that only sends (no RX buffer).
  dir=$([ $wl = dequeue ] && echo enqueue || echo dequeue)
  for io in 0 1; do
    read -r i c _ < <(run "$wl" 64 "$io" "$dir")
    idle[$wl$io]=$(awk -v i="$i" -v c="$c" 'BEGIN{printf "%.1f", (c>0)?i/c:0}')
    echo "idle workload=$wl iommu=$io instructions=$i calls=$c ipc=${idle[$wl$io]}" | tee -a "$out"
  done
done
for wl in $workloads; do
  for len in $lens; do
    for io in 0 1; do
      read -r i c p < <(run "$wl" "$len" "$io" "$wl")
      awk -v w="$wl" -v l="$len" -v o="$io" -v i="$i" -v c="$c" -v p="$p" -v ic="${idle[$wl$io]}" 'BEGIN{
        ipp = (p>0)?i/p:0; cpp = (p>0)?c/p:0;
        printf "ipp workload=%s len=%s iommu=%s instructions=%.0f packets=%.0f calls_per_pkt=%.4f ipp=%.1f work=%.1f\n",
          w, l, o, i, p, cpp, ipp, ipp - cpp*ic }' | tee -a "$out"
    done
  done
done
