#!/usr/bin/env bash
# Issue 19: throughput of the async copy path beside the synchronous one. hp-fwd --mode txonly (natively, split ring,
# mergeable) enqueues into DPDK's virtio-user (testpmd rxonly, the receiver), synchronously or with --async (the
# built-in copy engine's thread copies); the figure is the receiver's median Rx-pps. Rounds alternate sync and async
# per length; the table gives each path's median over the rounds and async/sync.
# On this machine (2 vCPUs shared with other sessions) hp-fwd's polling thread, the copy thread and testpmd's
# forwarding core want three CPUs: the async path pays for its extra thread, which a DMA engine would not need.
# Usage: perf/async-pps.sh [OUTFILE]   env: LENS (default "64 1518 9000"), ROUNDS (default 3), SECS per run (default 8),
#        HP_FWD, ASYNC_CPU (pin the copy thread, e.g. 1; default unpinned), FWD_ARGS (more hp-fwd options for both
#        paths, e.g. "--burst 128": txonly --async keeps 4 bursts of frames in flight, at most 512)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fwd=${HP_FWD:-$root/artifacts/bin/hp-fwd}
peer=$root/scripts/interop/virtio-user-peer.sh
lens=${LENS:-64 1518 9000}
rounds=${ROUNDS:-3}
secs=${SECS:-8}
out=${1:-/dev/null}
tmp=$(mktemp -d /tmp/async-pps.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# run LEN PATH -> "pps"
run() {
  local len=$1 path=$2 flags=()
  if [ "$path" = async ]; then
    flags=(--async)
    [ -n "${ASYNC_CPU:-}" ] && flags=(--async-cpu "$ASYNC_CPU")
  fi
  local sock=$tmp/s.sock
  rm -f "$sock"
  "$fwd" --socket "$sock" --mode txonly --pkt-len "$len" --seconds $((secs + 30)) --stats-interval 0 ${FWD_ARGS:-} "${flags[@]}" \
    >"$tmp/fwd.log" 2>&1 &
  local fp=$!
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
  local pl
  pl=$("$peer" "$sock" rxonly "$secs" "$len" 0)
  kill -INT "$fp" 2>/dev/null; for _ in $(seq 100); do kill -0 "$fp" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$fp" 2>/dev/null; wait "$fp" 2>/dev/null
  echo "$pl" | sed -n 's/.*rx_pps=\([0-9]*\).*/\1/p'
}

lines=$tmp/lines
for len in $lens; do
  for r in $(seq "$rounds"); do
    for path in sync async; do
      pps=$(run "$len" "$path")
      echo "pps len=$len path=$path round=$r rx_pps=${pps:-0}" | tee -a "$out" >>"$lines"
    done
  done
done
cat "$lines"
python3 - "$lines" <<'EOF' | tee -a "$out"
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    runs.setdefault((int(f["len"]), f["path"]), []).append(int(f["rx_pps"]))
print("| len | sync Mpps (median) | async Mpps (median) | async / sync | rounds sync | rounds async |")
print("|---|---|---|---|---|---|")
for ln in sorted({k[0] for k in runs}):
    s, a = runs.get((ln, "sync"), [0]), runs.get((ln, "async"), [0])
    ms, ma = statistics.median(s), statistics.median(a)
    fmt = lambda v: " ".join(f"{x / 1e6:.2f}" for x in v)
    print(f"| {ln} | {ms / 1e6:.3f} | {ma / 1e6:.3f} | {ma / ms if ms else 0:.2f} | {fmt(s)} | {fmt(a)} |")
EOF
