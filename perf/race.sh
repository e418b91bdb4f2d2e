#!/usr/bin/env bash
# The race against DPDK 22.11's vhost backend (testpmd net_vhost), driven by the same DPDK virtio-user frontend:
#   (a) instructions per packet inside the burst function under callgrind (stable on a noisy machine);
#   (b) packets per second, A/B alternating rounds through compare.sh (ratio per round, median, spread).
# Results go to perf/results/race-<stamp>/ (ipp.txt, pps.txt); perf/write-benchmarks.py turns them into BENCHMARKS.md.
# Usage: perf/race.sh [--ipp-only|--pps-only] [--no-dpdk-ipp] [--no-write]   (IDLE=0: no idle-poll runs; LOOP=0: no
#        loop-check.sh)
#   env: HP_FWD (default artifacts/bin/hp-fwd), ROUNDS (pps rounds, default 5), PPS_SECS (default 8),
#        IPP_SECS (default 20), IPP_CONFIGS / PPS_CONFIGS ("workload:len:packed ..."), OUT (results folder)
# Needs root, hugepages (scripts/interop/hugepages.sh) and dpdk-testpmd (install-peers.sh).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
interop=${INTEROP:-$(cd "$(dirname "$0")/.." && pwd)/scripts/interop}
hp=${HP_FWD:-$root/artifacts/bin/hp-fwd}
do_ipp=1; do_pps=1; dpdk_ipp=1; write=1
for a in "$@"; do
  case $a in
    --ipp-only) do_pps=0;; --pps-only) do_ipp=0;; --no-dpdk-ipp) dpdk_ipp=0;; --no-write) write=0;;
    *) echo "race.sh: unknown argument $a" >&2; exit 2;;
  esac
done
[ -x "$hp" ] || { echo "race.sh: $hp missing (run ./build.sh)" >&2; exit 1; }
out=${OUT:-$root/perf/results/race-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
ipp_configs=${IPP_CONFIGS:-"dequeue:64:0 enqueue:64:0 dequeue:64:1 enqueue:64:1 dequeue:1518:0 enqueue:1518:0 dequeue:1518:1 enqueue:1518:1"}
pps_configs=${PPS_CONFIGS:-"dequeue:64:0 enqueue:64:0 loop:64:0 dequeue:64:1 enqueue:64:1 loop:64:1 dequeue:1518:0 enqueue:1518:0 dequeue:1518:1 enqueue:1518:1"}
tmpl="$hp --socket {SOCK} --mode {MODE} --pkt-len {LEN} --seconds {SECS} --stats-interval 0"
{ echo "hp_fwd=$hp"; echo "commit=$(git -C "$root" rev-parse --short HEAD)"; echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpus=$(nproc)"; echo "kernel=$(uname -r)"; echo "cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
  echo "isa=$(grep -o -w 'avx2\|avx512f\|bmi2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  # Whether hp-fwd's PAUSE between empty polls makes this VM exit to its host (perf/loops.md: the packed loop's
  # 0.15 on an Intel host); testpmd's forwarding loop does not pause.
  echo "pause_probe=$("$root/perf/pause-probe.sh" 2>&1 | sed -n 's/^pause-probe verdict: //p')"; } > "$out/machine.txt"

# True when process $1 descends from process $2.
is_descendant() {
  local p=$1
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    [ "$p" = "$2" ] && return 0
    p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)
  done
  return 1
}
# callgrind-ipp.sh, with two additions that leave its figure's definition alone: the backend under valgrind runs at
# nice 19, so on this shared 2-core machine the frontend (and everyone else) comes first and the backend stays the
# bottleneck, as the script assumes (otherwise most calls are empty polls and the figure tracks the machine's load);
# and its callgrind output file is noted in $cg_file for burst_calls. Prints the ipp line.
ipp_run() { # ARGS...
  local tmp; tmp=$(mktemp)
  # --dump-instr=yes changes no count; it lets callgrind-calls.py count the function's entries exactly.
  VALGRIND_OPTS="${VALGRIND_OPTS:-} --dump-instr=yes" "$interop/callgrind-ipp.sh" "$@" >"$tmp" &
  local job=$!
  (
    for _ in $(seq 600); do
      for v in $(pgrep -f -- '--tool=callgrind'); do
        if is_descendant "$v" "$job"; then
          renice -n 19 -p "$v" >/dev/null
          tr '\0' '\n' < "/proc/$v/cmdline" | sed -n 's/^--callgrind-out-file=//p' > "$tmp.cg"
          exit 0
        fi
      done
      sleep 0.2
    done
  ) &
  local watcher=$!
  wait "$job"
  kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
  cg_file=$(cat "$tmp.cg" 2>/dev/null)
  cat "$tmp"; rm -f "$tmp" "$tmp.cg"
}
# Burst calls in that output: calls/packets shows how many empty polls the figure carries (the frontend, starved
# of CPU on a shared machine, cannot always keep up). The file and the backend log are removed afterwards.
burst_calls() { # FUNCTION
  if [ -n "$cg_file" ] && [ -f "$cg_file" ]; then python3 "$root/perf/callgrind-calls.py" "$cg_file" "$1"; else echo 0; fi
  [ -n "$cg_file" ] && rm -f "$cg_file" "${cg_file%.callgrind}.backend.log"
  return 0
}

if [ $do_ipp = 1 ]; then
  for c in $ipp_configs; do
    IFS=: read -r wl len packed <<< "$c"
    # The GC reserves 256 GiB of address space by default, more than valgrind can map: 1 GiB is plenty here.
    DOTNET_GCRegionRange=40000000 SECS=${IPP_SECS:-20} ipp_run "$wl" "$len" "$packed" "hp_vhost_${wl}_burst" -- $tmpl \
      > "$out/.line"
    line=$(cat "$out/.line")
    echo "ipp backend=hotpath ${line#ipp } calls=$(burst_calls "hp_vhost_${wl}_burst")" | tee -a "$out/ipp.txt"
    if [ $dpdk_ipp = 1 ]; then
      SECS=${IPP_SECS:-20} ipp_run "$wl" "$len" "$packed" > "$out/.line"
      line=$(cat "$out/.line")
      echo "ipp backend=dpdk ${line#ipp } calls=$(burst_calls "rte_vhost_${wl}_burst")" | tee -a "$out/ipp.txt"
    fi
  done
fi

# Instructions per idle burst call (perf/idle-poll.sh), once per workload and ring: the per-call part of the
# figures above. DPDK's too, but its packed idle runs stop polling early (its vhost PMD stops calling the burst), so
# only its split figures are comparable.
if [ $do_ipp = 1 ] && [ "${IDLE:-1}" = 1 ]; then
  for c in dequeue:0 enqueue:0 dequeue:1 enqueue:1; do
    IFS=: read -r wl packed <<< "$c"
    HP_FWD=$hp SECS=${IDLE_SECS:-6} "$root/perf/idle-poll.sh" "$wl" "$packed" hotpath | tee -a "$out/poll.txt"
    [ $dpdk_ipp = 1 ] && SECS=${IDLE_SECS:-6} "$root/perf/idle-poll.sh" "$wl" "$packed" dpdk | tee -a "$out/poll.txt"
  done
fi

# The loops by counts (perf/loop-check.sh): notifications, kicks, RX buffers and drops per packet of hp-fwd's loop
# with hp-frontend (fails the line when the frontend is notified or kicks), and instructions per lap of the
# 32-packet virtio-user loop with the backend under callgrind (a frontend stalled by the backend shows as more).
if [ $do_ipp = 1 ] && [ "${LOOP:-1}" = 1 ]; then
  HP_FWD=$hp DPDK=$dpdk_ipp "$root/perf/loop-check.sh" | tee -a "$out/loop.txt"
fi

if [ $do_pps = 1 ]; then
  for c in $pps_configs; do
    IFS=: read -r wl len packed <<< "$c"
    log="$out/pps-$wl-$len-$packed.log"
    # hp-fwd pinned to CPU 1 (HP_CPU), where DPDK's backend runs its forwarding lcore (dpdk-vhost-backend.sh: lcores
    # 0,1, main 0); the frontend forwards on CPU 0. Unpinned, hp-fwd's worker shared CPU 0 with the frontend at
    # times and measured 0.05-0.25 of DPDK.
    SECS=${PPS_SECS:-8} "$interop/compare.sh" "$wl" "$len" "$packed" "${ROUNDS:-5}" -- taskset -c "${HP_CPU:-1}" $tmpl \
      >"$log" 2>&1
    # Per round: the ratio of the test run to the DPDK run just before it (A B alternation).
    awk -v c="$c" '
      / dpdk: peer/ { for (i = 1; i <= NF; i++) if ($i ~ /^(rx|tx)_pps=/) { split($i, kv, "="); dv[kv[1]] = kv[2] } }
      / test: peer/ { for (i = 1; i <= NF; i++) if ($i ~ /^(rx|tx)_pps=/) { split($i, kv, "="); tv[kv[1]] = kv[2] }
                     n++; f = (c ~ /^dequeue/) ? "tx_pps" : "rx_pps"; r[n] = (dv[f] > 0) ? tv[f] / dv[f] : 0 }
      /^workload=/ { line = $0 }
      END { m = ""; for (i = 1; i <= n; i++) m = m sprintf("%.3f ", r[i]); printf "pps config=%s rounds=\"%s\" %s\n", c, m, line }
    ' "$log" | tee -a "$out/pps.txt"
  done
fi
echo "race.sh: results in $out"
[ $write = 1 ] && python3 "$root/perf/write-benchmarks.py" "$out"
exit 0
