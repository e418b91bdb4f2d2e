#!/usr/bin/env bash
# Issue 19: what the async copy path costs the polling thread, sync against async, per packet, under callgrind.
# The backend is hp-fwd --mode txonly (split ring, mergeable), DPDK's virtio-user (testpmd rxonly) the receiver at
# full speed. Only the burst functions are counted (--toggle-collect): hp_vhost_enqueue_burst (sync), or
# hp_vhost_submit_enqueue_burst + hp_vhost_poll_enqueue_completed (async, --async: the built-in engine's copy thread
# runs none of them, so its copies are not counted: a DMA engine's copy costs the polling core nothing either).
# Paths: sync; lockstep (hp-fwd --async-lockstep: each burst is submitted, the poller waits outside the counted
# functions until the engine copied it, then polls it back: one submit and one poll per burst, no empty call, the
# figure a DMA engine copying in parallel gives); async (hp-fwd --async as an application runs it: it resubmits
# what each poll gives back, and under valgrind the copy thread runs in turns with the poller, so bursts are small
# and most polls empty).
# Raw ipp includes the empty calls, whose number per packet depends on how fast the frontend and the copy thread run
# under valgrind; so each function's cost per empty call is measured too (an idle run: the receiver is testpmd
# txonly, which posts no RX buffers, so every submit/enqueue finds no buffer and every poll nothing in flight), and
#   work = (instructions - calls x idle call) / packets           summed over the functions, as perf/ipp-history.md;
#   full = work + idle calls / 32                                  every call a full 32-packet burst (async: one
#                                                                 submit and one poll per burst).
# Usage: perf/async-ipp.sh [OUTFILE]   env: LENS (default "64 1518 9000"), PATHS (default "sync lockstep async"),
#        SECS per traffic run (default 15), IDLE_SECS (default 8), PACKED=1 (packed ring), DIR=dequeue (the dequeue
#        side: hp-fwd --mode rxonly, hp_vhost_dequeue_burst against hp_vhost_async_try_dequeue_burst, virtio-user
#        txonly sending; packets = hp-fwd's rx_packets), HP_FWD, KEEP=DIR keeps the callgrind files
#        (callgrind_annotate --inclusive=yes).
# Prints one "ipp ..." line per run, then a markdown table; OUTFILE gets both.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fwd=${HP_FWD:-$root/artifacts/bin/hp-fwd}
peer=$root/scripts/interop/virtio-user-peer.sh
secs=${SECS:-15}
idle_secs=${IDLE_SECS:-8}
lens=${LENS:-64 1518 9000}
paths=${PATHS:-sync lockstep async}
out=${1:-/dev/null}
tmp=$(mktemp -d /tmp/async-ipp.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

dir=${DIR:-enqueue}
fns() {
  if [ "$dir" = dequeue ]; then
    if [ "$1" != sync ]; then echo hp_vhost_async_try_dequeue_burst; else echo hp_vhost_dequeue_burst; fi
  elif [ "$1" != sync ]; then echo "hp_vhost_submit_enqueue_burst hp_vhost_poll_enqueue_completed"
  else echo hp_vhost_enqueue_burst; fi
}

# measure KIND(traffic|idle) LEN PATH(sync|async) -> one "ipp ..." line with packets and, per function, Ir and calls
measure() {
  local kind=$1 len=$2 path=$3 flag="" toggles=() f
  [ "$path" = async ] && flag=--async
  [ "$path" = lockstep ] && flag=--async-lockstep
  for f in $(fns "$path"); do toggles+=(--toggle-collect="$f"); done
  local sock=$tmp/s.sock cg=$tmp/cg.out log=$tmp/fwd.log pmode=rxonly s=$secs fmode=txonly
  [ "$kind" = idle ] && { pmode=txonly; s=$idle_secs; }
  # The dequeue side: hp-fwd receives (rxonly) what the peer sends (txonly); idle, the peer sends nothing.
  if [ "$dir" = dequeue ]; then fmode=rxonly; pmode=txonly; [ "$kind" = idle ] && pmode=rxonly; fi
  rm -f "$sock" "$cg"
  VALGRIND_OPTS="--dump-instr=yes" DOTNET_GCRegionRange=40000000 nice -n 19 valgrind --tool=callgrind --fair-sched=yes \
    --callgrind-out-file="$cg" "${toggles[@]}" \
    "$fwd" --socket "$sock" --mode "$fmode" --pkt-len "$len" --seconds $((s + 120)) --stats-interval 0 $flag >"$log" 2>&1 &
  local vp=$!
  for _ in $(seq 600); do [ -S "$sock" ] && break; sleep 0.2; done
  local pl
  pl=$("$peer" "$sock" "$pmode" "$s" "$len" "${PACKED:-0}")
  kill -INT "$vp" 2>/dev/null; for _ in $(seq 150); do kill -0 "$vp" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$vp" 2>/dev/null; wait "$vp" 2>/dev/null
  local pk line
  pk=$(echo "$pl" | sed -n 's/.*rx_total=\([0-9]*\).*/\1/p')
  [ "$dir" = dequeue ] && pk=$(sed -n 's/^summary mode=.* rx_packets=\([0-9]*\).*/\1/p' "$log" | tail -1)
  [ -s "$cg" ] || { echo "async-ipp: $kind $len $path: no callgrind output" >&2; tail -5 "$log" >&2; }
  line="ipp run=$kind len=$len path=$path packets=${pk:-0}"
  for f in $(fns "$path"); do
    local ir calls
    ir=$(callgrind_annotate --inclusive=yes "$cg" 2>/dev/null | awk -v f="$f" '$0 ~ (":" f " ") || $0 ~ (":" f "$") {gsub(",", "", $1); print $1; exit}')
    calls=$(python3 "$root/perf/callgrind-calls.py" "$cg" "$f" 2>/dev/null || echo 0)
    line+=" $f=${ir:-0}/${calls:-0}"
  done
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; cp "$cg" "$KEEP/async-ipp-$kind-$len-$path.callgrind"; fi
  echo "$line" | tee -a "$out"
}

lines=$tmp/lines
for path in sync async; do measure idle 64 "$path" >>"$lines"; done
for len in $lens; do
  for path in $paths; do measure traffic "$len" "$path" >>"$lines"; done
done
cat "$lines"
python3 - "$lines" <<'EOF' | tee -a "$out"
import sys
idle, rows = {}, []
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    fns = {k: tuple(int(x) for x in v.split("/")) for k, v in f.items() if k.startswith("hp_")}
    if f["run"] == "idle":
        for k, (ir, calls) in fns.items():
            idle[k] = ir / calls if calls else 0   # the async idle run serves the lockstep path too
    else:
        rows.append((int(f["len"]), f["path"], int(f["packets"]), fns))
print("| len | path | packets | ipp (raw) | calls per packet | idle call | work per packet | full bursts | async / sync (full) |")
print("|---|---|---|---|---|---|---|---|---|")
full_sync = {}
for ln, path, pk, fns in rows:
    if pk == 0:
        print(f"| {ln} | {path} | 0 | run failed | | | | | |")
        continue
    ir = sum(v[0] for v in fns.values())
    work = sum(v[0] - v[1] * idle.get(k, 0) for k, v in fns.items()) / pk
    full = work + sum(idle.get(k, 0) for k in fns) / 32
    short = lambda k: k.replace("hp_vhost_", "").replace("_enqueue_burst", "").replace("_enqueue_completed", "")
    cpp = ", ".join(f"{short(k)} {v[1] / pk:.2f}" for k, v in fns.items())
    ic = ", ".join(f"{short(k)} {idle.get(k, 0):.0f}" for k in fns)
    ratio = ""
    if path == "sync":
        full_sync[ln] = full
    elif ln in full_sync and full_sync[ln] > 0:
        ratio = f"{full / full_sync[ln]:.2f}"
    print(f"| {ln} | {path} | {pk} | {ir / pk:.1f} | {cpp} | {ic} | {work:.1f} | {full:.1f} | {ratio} |")
EOF
