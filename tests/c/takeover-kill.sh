#!/usr/bin/env bash
# Takeover failure atomicity (issue 18): a takeover is stopped at POINT by HOTPATH_TAKEOVER_STALL (the library logs
# "takeover: stalled at POINT" and blocks its control thread there) and the stalled process is killed (SIGKILL).
# The frontend is DPDK's virtio-user as a server (dpdk-testpmd txonly, server=1: it waits for a backend to reconnect
# after a disconnect), served by hp-fwd --client --mode rxonly, on packed rings: DPDK 22.11's virtio-user resets its
# packed rings when a backend reconnects, but restarts split rings at index 0 without resetting them, so after a
# plain SIGKILL and restart of hp-fwd a split-ring virtio-user sends nothing more (takeover or not). What must
# follow (the spec's table, with the core's RESUMED step):
#   new-received, new-ready, new-committed (new killed)
#                                         the old hp-fwd resumes its device (new_device again) and goes on receiving;
#                                         testpmd saw nothing: no link change, and its TX-packets == the old one's
#                                         rx_packets once it stopped sending (the new one never polled). After COMMIT
#                                         the old one keeps its copies until the new one says it resumed, and resumes
#                                         only when the new one is gone (so never two writers)
#   old-quiesced (old killed)             the new one starts normally (state fallback) and connects: virtio-user's
#                                         reconnect path (its server socket) gives it the device; it receives
#   old-sent, old-committed (old killed)  the new one takes the device over (state taken) and receives; testpmd saw
#                                         no link change and the new one read no set-up message; testpmd's TX-packets
#                                         == what the old one had received at its quiesce (its destroy_device line)
#                                         + the new one's rx_packets
# Usage: takeover-kill.sh ARTIFACTS_DIR WORK_DIR POINT
# Needs root, hugepages and dpdk-testpmd (run.sh checks). Last line: "takeover_kill: N passed, N failed".
set -uo pipefail
art=$1 work=$2 point=$3
name=takeover-kill-$point dir=$work/takeover-kill-$point sock=$work/takeover-kill-$point/vhost.sock
rm -rf "$dir"; mkdir -p "$dir"
. "$(dirname "$0")/takeover-lib.sh"
finish() { echo "takeover_kill: $passed passed, $failed failed ($point)"; exit 0; }
opts=(--client --mode rxonly --queues 1)
stall="HOTPATH_TAKEOVER_STALL=$point"
case $point in
  new-received | new-ready | new-committed) victim=2 old_env="" new_env=$stall ;;
  old-quiesced | old-sent | old-committed) victim=1 old_env=$stall new_env="" ;;
  *) fail "$name: unknown point"; finish ;;
esac
diag() {
  fail "$name: $1"
  echo "      testpmd: $(strings "$dir/testpmd.log" | grep -v '^testpmd> *$' | tail -4 | tr '\n' '|')"
  local n; for n in $(seq "$FWD_N"); do echo "      hp-fwd #$n: $(grep -av 'read message\|^stats ' "$dir/fwd.$n.log" | tail -5 | tr '\n' '|')"; done
}
# Instance N receives: a rate line with frames after its first SKIP lines (within 20 s).
receives() { # N SKIP
  local i
  for i in $(seq 200); do
    tail -n +$(($2 + 1)) "$dir/fwd.$1.log" | awk '$1 == "stats" && $5 + 0 > 0 { f = 1 } END { exit !f }' && return 0
    sleep 0.1
  done
  return 1
}

start_testpmd txonly 1 1 1
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
start_fwd "$old_env" "${opts[@]}"
for _ in $(seq 200); do [ "$(testpmd_prompt)" -gt 0 ] && break; sleep 0.1; done
if ! wait_for 20 "$dir/fwd.1.log" '^new_device vid='; then diag "no device within 20 s"; stop_testpmd; stop_fwd 1 INT; finish; fi
testpmd_cmd start
receives 1 0 || echo "hp-fwd #1 received nothing" >> "$dir/host.log"

setup0=$(setup_msgs 1)
start_fwd "$new_env" "${opts[@]}" --takeover
if ! wait_for 30 "$dir/fwd.$victim.log" "takeover: stalled at $point"; then
  diag "hp-fwd #$victim never logged 'takeover: stalled at $point'"; stop_testpmd; stop_fwd 2 INT; stop_fwd 1 INT; finish
fi
links0=$(link_events)
kill -KILL "$(fwd_pid $victim)"; await_exit $victim 10
survivor=$((3 - victim))
mark=$(wc -l < "$dir/fwd.$survivor.log")

case $point in
  new-received | new-ready | new-committed)
    # The old one resumes: a second new_device, then frames again; testpmd noticed nothing.
    ok=0
    wait_for 20 "$dir/fwd.1.log" 'takeover: .*resuming' || ok=1
    receives 1 "$mark" || ok=1
    [ "$(count_in "$dir/fwd.1.log" '^new_device vid=')" = 2 ] || ok=1
    [ "$(link_events)" = "$links0" ] && [ "$(setup_msgs 1)" = "$setup0" ] || ok=1
    [ $ok = 0 ] && pass "$name: new hp-fwd killed: the old one resumed its device ($(grep -a 'takeover: .*resuming' "$dir/fwd.1.log" | head -1 | sed 's/.*takeover: /takeover: /')) and receives; testpmd saw no link change" ||
      diag "the old hp-fwd did not resume unseen: new_device x$(count_in "$dir/fwd.1.log" '^new_device vid='), set-up messages $setup0 -> $(setup_msgs 1), testpmd link changes $links0 -> $(link_events)"
    mark=$(wc -l < "$dir/fwd.1.log")
    testpmd_cmd stop
    wait_drained 1 "$mark" 1 || echo "hp-fwd #1 did not drain" >> "$dir/host.log"
    stop_fwd 1 INT
    tptx=$(tp_total TX-packets) frx=$(fwd_sum rx_packets 1 1)
    [ "$tptx" -gt 0 ] && [ "$tptx" = "$frx" ] && pass "$name: no descriptor lost: testpmd sent $tptx frames, the old hp-fwd received exactly $frx" ||
      fail "$name: testpmd sent $tptx frames, the old hp-fwd received $frx"
    ;;
  old-quiesced)
    line=""; wait_for 30 "$dir/fwd.2.log" '^takeover state=' && line=$(grep -a '^takeover state=' "$dir/fwd.2.log" | head -1)
    if [ "$(field "$line" state)" = fallback ] && wait_for 30 "$dir/fwd.2.log" '^new_device vid=' && receives 2 0; then
      pass "$name: old hp-fwd killed before sending anything: the new one started normally ('$line'; $(grep -a 'takeover: .*starting normally' "$dir/fwd.2.log" | head -1 | sed 's/.*takeover: /takeover: /')), reconnected and receives"
    else
      diag "new hp-fwd: '${line:-no takeover line}', new_device x$(count_in "$dir/fwd.2.log" '^new_device vid=')"
    fi
    testpmd_cmd stop; stop_fwd 2 INT
    ;;
  old-sent | old-committed)
    line=""; wait_for 30 "$dir/fwd.2.log" '^takeover state=' && line=$(grep -a '^takeover state=' "$dir/fwd.2.log" | head -1)
    if [ "$(field "$line" state)" = taken ] && receives 2 0 && [ "$(setup_msgs 2)" = 0 ] && [ "$(link_events)" = "$links0" ]; then
      pass "$name: old hp-fwd killed after it had sent the state: the new one took the device over anyway ('$line') and receives; no set-up message, no link change"
    else
      diag "new hp-fwd: '${line:-no takeover line}', set-up messages $(setup_msgs 2), testpmd link changes $links0 -> $(link_events)"
    fi
    # The old one's counters died with it, but its destroy_device line (the quiesce) has its totals.
    mark=$(wc -l < "$dir/fwd.2.log")
    testpmd_cmd stop
    wait_drained 2 "$mark" 1 || echo "hp-fwd #2 did not drain" >> "$dir/host.log"
    stop_fwd 2 INT
    tptx=$(tp_total TX-packets) frx=$(fwd_sum rx_packets 2 2)
    orx=$(grep -a '^destroy_device ' "$dir/fwd.1.log" | tail -1 | sed -n 's/.* rx_total=\([0-9]*\).*/\1/p')
    [ "$tptx" -gt 0 ] && [ $((${orx:-0} + frx)) = "$tptx" ] &&
      pass "$name: no descriptor lost: testpmd sent $tptx frames, the old hp-fwd received $orx before its quiesce, the new one $frx" ||
      fail "$name: testpmd sent $tptx frames, the old hp-fwd received ${orx:-?} before its quiesce, the new one $frx"
    ;;
esac
stop_testpmd
finish
