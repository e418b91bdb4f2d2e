#!/usr/bin/env bash
# The datapath pause of a hitless upgrade (issue 18) against the number of devices: hp-fwd (rxonly) serves DEVICES
# devices, each driven by its own hp-frontend (HotPath's frontend, split rings, transmitting 64-byte frames as fast as
# it can), and is replaced ROUNDS times in a row by hp-fwd --takeover. Each takeover's pause is the new hp-fwd's
# pause_ns: from the old process's quiesce of its first device to the new one's resume of its last (every device is
# stopped for that long at most). On this 2-core machine the frontends' busy loops share the cores with both hp-fwd
# processes, so the figure includes waiting for a CPU. Prints the pauses, their median and max, and the frames the
# frontends sent against those the hp-fwd processes received (the frontends run for a fixed time, 15 s + 3 s per
# takeover; hp-frontend counts a frame once the backend has used it, so the hp-fwd processes show up to a ring, 1024
# frames, more per device: the same with no takeover, ROUNDS=0).
# QUIET=1: the frontends are stopped (SIGSTOP) during each takeover and continued after it, so the pause is the
# library's and hp-fwd's own work (on this machine: ~2 ms for 1 device, ~24 ms for 16, ~100 ms for 64), not
# waiting behind 64 busy frontends (then: ~0.5 s for 16 devices, 3 to 6 s for 64).
# Usage: perf/takeover-pause.sh [DEVICES] [ROUNDS]   (defaults 1 and 10; needs ./build.sh's artifacts)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
art=$root/artifacts devices=${1:-1} rounds=${2:-10}
dir=$(mktemp -d /tmp/takeover-pause.XXXXXX)
sock=$dir/vhost.sock
. "$root/tests/c/takeover-lib.sh"
opts=(--mode rxonly --stats-interval 1)

start_fwd "" "${opts[@]}"
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
fe=()
for d in $(seq "$devices"); do
  "$art/bin/hp-frontend" --socket "$sock" --direction dequeue --seconds $((15 + 3 * rounds)) > "$dir/fe.$d.out" 2>&1 &
  fe+=($!)
done
for _ in $(seq 600); do [ "$(count_in "$dir/fwd.1.log" '^new_device vid=')" -ge "$devices" ] && break; sleep 0.1; done
echo "takeover-pause: $(count_in "$dir/fwd.1.log" '^new_device vid=') device(s) up; $rounds takeovers"
for k in $(seq "$rounds"); do
  [ "${QUIET:-0}" = 1 ] && kill -STOP "${fe[@]}"
  takeover_once 1 "${opts[@]}"; rc=$?
  [ "${QUIET:-0}" = 1 ] && kill -CONT "${fe[@]}"
  [ $rc = 0 ] || { echo "takeover $k failed: $(tail -3 "$dir/fwd.$FWD_N.log")"; break; }
  # The next one once the new process forwarded for a rate line.
  wait_for 30 "$dir/fwd.$FWD_N.log" '^stats .* rx [0-9.]*[1-9]' || echo "hp-fwd #$FWD_N received nothing"
done
for p in "${fe[@]}"; do wait "$p"; done   # hp-frontend stops after --seconds (it takes no signal)
stop_fwd "$FWD_N" INT
sent=0; for d in $(seq "$devices"); do v=$(field "$(cat "$dir/fe.$d.out")" tx_packets); sent=$((sent + ${v:-0})); done
echo "takeover-pause: devices=$devices takeovers=$((FWD_N - 1))$([ "${QUIET:-0}" = 1 ] && echo " (frontends stopped meanwhile)") pause per takeover (ms, sorted): $(pause_text 2 "$FWD_N")"
echo "takeover-pause: the frontends sent $sent frames, the hp-fwd processes received $(fwd_sum rx_packets 1 "$FWD_N") (work dir $dir)"
