#!/usr/bin/env bash
# Issue 19: what the async copy path costs the polling thread. Instructions per packet of hp-fwd --mode txonly under
# callgrind, synchronous (hp_vhost_enqueue_burst) and --async (hp_vhost_submit_enqueue_burst +
# hp_vhost_poll_enqueue_completed; the built-in engine's copy thread is not counted: it is not inside either), with
# HotPath's frontend receiving at full speed (split ring, mergeable). Empty polls are included in both.
# Usage: perf/async-ipp.sh [OUTFILE]    (env SECS per run, default 12; LENS default "64 1518"; HP_FWD; KEEP=DIR keeps
# the callgrind files for callgrind_annotate --inclusive=yes)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fwd=${HP_FWD:-$root/artifacts/bin/hp-fwd}
fe=$root/artifacts/bin/hp-frontend
secs=${SECS:-12}
lens=${LENS:-64 1518}
out=${1:-/dev/null}

# run LEN MODE(sync|async) -> "instructions packets"
run() {
  local len=$1 mode=$2 flag="" fn=hp_vhost_enqueue_burst
  # A callgrind pattern: matches hp_vhost_submit_enqueue_burst and hp_vhost_poll_enqueue_completed only.
  if [ "$mode" = async ]; then flag=--async; fn='hp_vhost_*_enqueue_*'; fi
  local sock=/tmp/async-ipp-$$.sock cg=/tmp/async-ipp-$$.callgrind log=/tmp/async-ipp-$$.log
  rm -f "$sock"
  VALGRIND_OPTS="--dump-instr=yes" DOTNET_GCRegionRange=40000000 nice -n 19 valgrind --tool=callgrind --fair-sched=yes \
    --callgrind-out-file="$cg" --toggle-collect="$fn" \
    "$fwd" --socket "$sock" --mode txonly --pkt-len "$len" --seconds $((secs + 120)) --stats-interval 0 $flag >"$log" 2>&1 &
  local vp=$!
  for _ in $(seq 600); do [ -S "$sock" ] && break; sleep 0.2; done
  local line
  line=$("$fe" --socket "$sock" --direction enqueue --pkt-len "$len" --seconds "$secs" --connect-timeout 60 2>&1)
  kill -INT "$vp" 2>/dev/null; for _ in $(seq 150); do kill -0 "$vp" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$vp" 2>/dev/null; wait "$vp" 2>/dev/null
  local ins pk
  ins=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log" | tail -1)
  pk=$(echo "$line" | sed -n "s/.*rx_packets=\([0-9]*\).*/\1/p")
  [ -n "$ins" ] && [ -n "$pk" ] || { echo "async-ipp: $len $mode failed: $line" >&2; tail -5 "$log" >&2; }
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$cg" "$KEEP/async-ipp-$len-$mode.callgrind"; fi
  rm -f "$cg" "$log" "$sock"
  echo "${ins:-0} ${pk:-0}"
}

for len in $lens; do
  for mode in sync async; do
    read -r i p < <(run "$len" "$mode")
    awk -v l="$len" -v m="$mode" -v i="$i" -v p="$p" 'BEGIN{
      printf "ipp workload=enqueue len=%s path=%s instructions=%.0f packets=%.0f ipp=%.1f\n", l, m, i, p, (p>0)?i/p:0 }' | tee -a "$out"
  done
done
