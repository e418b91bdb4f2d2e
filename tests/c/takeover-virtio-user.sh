#!/usr/bin/env bash
# Hitless upgrade against DPDK's virtio-user (issue 18): dpdk-testpmd (virtio-user, two queue pairs, split or packed
# rings) forwards in TP_MODE while the hp-fwd serving it is replaced TAKEOVERS times by a new hp-fwd --takeover, each
# once the previous one forwarded on both queue pairs. hp-fwd runs the opposite mode: testpmd txonly -> hp-fwd rxonly,
# rxonly -> txonly, io -> io (testpmd starts with tx_first, the frames circulate). Checks:
#   - each takeover: the new hp-fwd says "takeover state=taken devices=1", gets new_device once and reads no message
#     that sets a device up (testpmd noticed nothing); the old one says takeover_complete and exits 0 by itself;
#     testpmd printed no link state change;
#   - accounting once testpmd stopped and hp-fwd drained its rings: txonly and io: testpmd's TX-packets == the sum of
#     the hp-fwd processes' rx_packets (no descriptor lost or read twice across the takeovers); io also: the guest RX
#     side got every frame hp-fwd sent but those still in its rings (<= 1024 per queue); rxonly (hp-fwd txonly, which
#     fills the rings once testpmd stops reading): testpmd's port counted rx_good_packets <= the sum of tx_packets <=
#     it + 2 x 1024 per queue: the frames left in the rings at the end, and those enqueued before testpmd's port was
#     fully started (the first queue's ring of them never reaches testpmd's counters, with no takeover as well).
#   - the pause per takeover (the new hp-fwd's pause_ns): listed, median and max.
# SIDE server (default): hp-fwd listens, virtio-user connects; client: virtio-user listens (server=1), hp-fwd --client,
# and the takeovers go through --takeover-path.
# Usage: takeover-virtio-user.sh ARTIFACTS_DIR WORK_DIR TP_MODE PACKED [TAKEOVERS] [SIDE]
# Needs root, hugepages and dpdk-testpmd (run.sh checks). Last line: "takeover_virtio_user: N passed, N failed (NAME,
# pause per takeover: ...)".
set -uo pipefail
art=$1 work=$2 tpmode=$3 packed=$4 takeovers=${5:-3} side=${6:-server}
QUEUES=2
name=takeover-$tpmode-$([ "$packed" = 1 ] && echo packed || echo split)$([ "$side" = client ] && echo -client)$([ -n "${FWD_EXTRA:-}" ] && echo -extra)
dir=$work/$name sock=$work/$name/vhost.sock
rm -rf "$dir"; mkdir -p "$dir"
. "$(dirname "$0")/takeover-lib.sh"
summary_extra=""
finish() { echo "takeover_virtio_user: $passed passed, $failed failed$summary_extra"; exit 0; }
case $tpmode in txonly) fmode=rxonly ;; rxonly) fmode=txonly ;; io) fmode=io ;; *) fail "$name: mode $tpmode"; finish ;; esac
# The client case serves and takes over on a takeover socket of its own (--takeover-path) instead of SOCKET.takeover.
fwd_opts=(--mode "$fmode" --queues $QUEUES); [ "$side" = client ] && fwd_opts+=(--client --takeover-path "$dir/handover")
# FWD_EXTRA: more hp-fwd options for every instance (--async: the takeovers move devices whose RX goes through the
# async copy path; each old hp-fwd settles its copies before it hands over).
[ -n "${FWD_EXTRA:-}" ] && fwd_opts+=($FWD_EXTRA)

diag() { # why
  fail "$name: $1"
  echo "      testpmd: $(strings "$dir/testpmd.log" | grep -v '^testpmd> *$' | tail -4 | tr '\n' '|')"
  local n; for n in $(seq "$FWD_N"); do echo "      hp-fwd #$n: $(grep -av 'read message\|^stats ' "$dir/fwd.$n.log" | tail -4 | tr '\n' '|')"; done
  [ -s "$dir/host.log" ] && sed 's/^/      host: /' "$dir/host.log"
}

if [ "$side" = client ]; then
  start_testpmd "$tpmode" "$packed" $QUEUES 1
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
  start_fwd "" "${fwd_opts[@]}"
else
  start_fwd "" "${fwd_opts[@]}"
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
  start_testpmd "$tpmode" "$packed" $QUEUES 0
fi
for _ in $(seq 200); do [ "$(testpmd_prompt)" -gt 0 ] && break; sleep 0.1; done
if ! wait_for 20 "$dir/fwd.1.log" '^new_device vid=' || [ "$(testpmd_prompt)" = 0 ]; then
  diag "no device within 20 s"; stop_testpmd; stop_fwd 1 INT; finish
fi
testpmd_cmd "$([ "$tpmode" = io ] && echo "start tx_first" || echo start)"
wait_forwarding 1 $QUEUES 20 || echo "hp-fwd #1 did not forward on $QUEUES queue pairs within 20 s" >> "$dir/host.log"

ok=0
for k in $(seq "$takeovers"); do
  if takeover_once $QUEUES "${fwd_opts[@]}" && wait_forwarding "$FWD_N" $QUEUES 20; then ok=$((ok + 1)); else
    echo "takeover $k (hp-fwd #$FWD_N) failed or the new one did not forward" >> "$dir/host.log"; break; fi
done
mark=$(wc -l < "$dir/fwd.$FWD_N.log")
testpmd_cmd stop
testpmd_cmd "show port xstats 0"
drained=1; [ "$fmode" = txonly ] || wait_drained "$FWD_N" "$mark" $QUEUES || drained=0
links=$(link_events)
stop_fwd "$FWD_N" INT
stop_testpmd

# The handovers.
bad=""
for n in $(seq 2 "$FWD_N"); do
  [ "$(count_in "$dir/fwd.$n.log" '^new_device vid=')" = 1 ] || bad="$bad #$n:new_device x$(count_in "$dir/fwd.$n.log" '^new_device vid=')"
  [ "$(setup_msgs $n)" = 0 ] || bad="$bad #$n:$(setup_msgs $n) set-up messages read"
  grep -qa '^takeover_complete ' "$dir/fwd.$((n - 1)).log" || bad="$bad #$((n - 1)):no takeover_complete"
  [ "$(cat "$dir/fwd.$((n - 1)).rc")" = 0 ] || bad="$bad #$((n - 1)):exit $(cat "$dir/fwd.$((n - 1)).rc")"
  [ "$(fwd_sum rx_packets $n $n)" -gt 0 ] || [ "$(fwd_sum tx_packets $n $n)" -gt 0 ] || bad="$bad #$n:forwarded nothing"
done
[ "$(cat "$dir/fwd.$FWD_N.rc")" = 0 ] || bad="$bad #$FWD_N:exit $(cat "$dir/fwd.$FWD_N.rc") on SIGINT"
[ "$links" = 0 ] || bad="$bad testpmd:$links link state changes"
[ "$side" = server ] || [ ! -e "$sock.takeover" ] || bad="$bad $sock.takeover exists beside --takeover-path"
if [ $ok = "$takeovers" ] && [ -z "$bad" ]; then
  pass "$name: $takeovers takeovers under testpmd $tpmode ($QUEUES queue pairs): each new hp-fwd took the device over unseen (no set-up message, no link change), each old one exited 0"
else
  diag "$ok of $takeovers takeovers;${bad:- no other fault}"
fi

# Accounting.
tptx=$(tp_total TX-packets) tprx=$(strings "$dir/testpmd.log" | sed -n 's/^rx_good_packets: \([0-9]*\)$/\1/p' | tail -1)
frx=$(fwd_sum rx_packets 1 "$FWD_N") ftx=$(fwd_sum tx_packets 1 "$FWD_N") fdrop=$(fwd_sum tx_dropped 1 "$FWD_N")
per=$(for n in $(seq "$FWD_N"); do printf '%s/%s ' "$(json_num "$dir/fwd.$n.json" rx_packets)" "$(json_num "$dir/fwd.$n.json" tx_packets)"; done)
counts="testpmd tx=$tptx rx=${tprx:=0}; hp-fwd rx=$frx tx=$ftx dropped=$fdrop (rx/tx per process: ${per% })"
echo "      $name: $counts"
slack=$((QUEUES * 1024))
case $tpmode in
  txonly) [ $drained = 1 ] && [ "$tptx" -gt 0 ] && [ "$frx" = "$tptx" ] ;;
  io) [ $drained = 1 ] && [ "$tptx" -gt 0 ] && [ "$frx" = "$tptx" ] && [ $((ftx + fdrop)) = "$frx" ] &&
      [ "$tprx" -le "$ftx" ] && [ "$ftx" -le $((tprx + slack)) ] ;;
  rxonly) [ "$tprx" -gt 0 ] && [ "$tprx" -le "$ftx" ] && [ "$ftx" -le $((tprx + 2 * slack)) ] ;;
esac && pass "$name: accounting across the takeovers holds ($counts)" ||
  fail "$name: accounting (drained: $drained): $counts"
summary_extra=" ($name, pause per takeover: $(pause_text 2 "$FWD_N"))"
finish
