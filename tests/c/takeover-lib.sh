# Shared by takeover-virtio-user.sh and takeover-kill.sh (sourced): hp-fwd instances on one socket, replaced by
# hp-fwd --takeover, beside DPDK's virtio-user (dpdk-testpmd, interactive, its commands from a fifo).
# The caller sets art (artifacts dir), dir (this case's work dir, created) and name; pass/fail count into passed/failed.
passed=${passed:-0} failed=${failed:-0}
pass() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }   # LINE KEY
json_num() { sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1" | head -1; } # FILE KEY
count_in() { grep -ac "$2" "$1" 2> /dev/null || true; }               # FILE REGEX

wait_for() { # SECONDS FILE REGEX: 0 once FILE has a line matching REGEX
  local i
  for i in $(seq $(($1 * 10))); do grep -qaE "$3" "$2" 2> /dev/null && return 0; sleep 0.1; done
  return 1
}

FWD_N=0 FWD_PID=""
# Starts hp-fwd instance FWD_N+1 on $sock: log fwd.N.log (the library's debug lines: every vhost-user message read),
# JSON fwd.N.json. ENV: extra environment (HOTPATH_TAKEOVER_STALL=...); the rest are hp-fwd options.
start_fwd() { # ENV OPTION...
  local env=$1; shift
  FWD_N=$((FWD_N + 1))
  env HOTPATH_LOG=debug $env "$art/bin/hp-fwd" --socket "$sock" --stats-interval 0.5 --idle-sleep 100 \
    --json "$dir/fwd.$FWD_N.json" "$@" < /dev/null > "$dir/fwd.$FWD_N.log" 2>&1 &
  FWD_PID=$!
  eval "FWD_PID_$FWD_N=$FWD_PID"
}
fwd_pid() { eval "echo \${FWD_PID_$1:-}"; } # N

# Waits up to SECS for instance N to exit by itself and reaps it; its exit code in fwd.N.rc. Kills it when it
# did not exit. 0 when it exited in time.
await_exit() { # N SECS
  local pid st i
  pid=$(fwd_pid "$1")
  for i in $(seq $(($2 * 10))); do
    st=$(awk '{ print $3 }' "/proc/$pid/stat" 2> /dev/null) # a child not yet reaped is a zombie: kill -0 finds it
    [ "$st" = Z ] || [ -z "$st" ] && break
    sleep 0.1
  done
  [ "$st" = Z ] || [ -z "$st" ] || kill -KILL "$pid" 2> /dev/null
  { wait "$pid"; } 2> /dev/null; echo $? > "$dir/fwd.$1.rc"
  [ "$st" = Z ] || [ -z "$st" ]
}

stop_fwd() { kill -"$2" "$(fwd_pid "$1")" 2> /dev/null; await_exit "$1" 30; } # N SIG

# Waits up to SECS for instance N to have forwarded on every one of QUEUES queue pairs: a rate line per queue
# with packets received or sent.
wait_forwarding() { # N QUEUES SECS
  local i
  for i in $(seq $(($3 * 10))); do
    awk -v nq="$2" '$1 == "stats" && ($5 + 0 > 0 || $10 + 0 > 0) { seen[$3] = 1 }
      END { for (q = 0; q < nq; q++) if (!seen["q" q]) exit 1 }' "$dir/fwd.$1.log" 2> /dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Waits (up to 10 s) for instance N's rate lines after its first SKIP lines to show two intervals per queue with
# nothing received, the last one too: the guest TX rings are drained.
wait_drained() { # N SKIP QUEUES
  local i
  for i in $(seq 100); do
    tail -n +$(($2 + 1)) "$dir/fwd.$1.log" | awk -v nq="$3" '$1 == "stats" { n[$3]++; last[$3] = $5 + 0 }
      END { for (q = 0; q < nq; q++) if (n["q" q] < 2 || last["q" q] != 0) exit 1 }' && return 0
    sleep 0.1
  done
  return 1
}

# Sum of a JSON total over instances FIRST..LAST.
fwd_sum() { # KEY FIRST LAST
  local n t=0 v
  for n in $(seq "$2" "$3"); do v=$(json_num "$dir/fwd.$n.json" "$1"); t=$((t + ${v:-0})); done
  echo $t
}

# vhost-user messages instance N read that set a device up (a frontend that noticed something would send them).
setup_msgs() { count_in "$dir/fwd.$1.log" 'read message \(SET_FEATURES\|SET_MEM_TABLE\|SET_VRING_[A-Z]*\|SET_STATUS\|SET_OWNER\|RESET_OWNER\|GET_VRING_BASE\) '; }

# dpdk-testpmd as virtio-user on $sock, interactive, reading commands from fifo fd 3 (echo CMD >&3).
# SERVER=1: virtio-user listens (server=1) and hp-fwd --client connects; it then waits for a backend to reconnect
# after a disconnect. Log testpmd.log. --no-flush-rx: "start" would otherwise drop, uncounted, what a txonly hp-fwd
# already put in the RX rings.
start_testpmd() { # FWD_MODE PACKED QUEUES SERVER   (TP_EXTRA: more testpmd options)
  local vdev="net_virtio_user0,mac=00:01:02:03:04:05,path=$sock,queues=$3,queue_size=1024,packed_vq=$2,mrg_rxbuf=1,in_order=0"
  [ "$4" = 1 ] && vdev="$vdev,server=1"
  rm -f "$dir/fifo"; mkfifo "$dir/fifo"
  exec 3<> "$dir/fifo" # read-write: opening never blocks
  local lcores=${PEER_LCORES:-1,0}
  dpdk-testpmd -l "$lcores" --main-lcore "${lcores%%,*}" --no-pci --file-prefix="tk$$" -m 256 --single-file-segments \
    --vdev "$vdev" -- -i --nb-cores=1 --rxq="$3" --txq="$3" --txd=1024 --rxd=1024 --forward-mode="$1" --burst=32 --no-flush-rx ${TP_EXTRA:-} \
    < "$dir/fifo" > "$dir/testpmd.log" 2>&1 &
  TP_PID=$!
}
testpmd_prompt() { strings "$dir/testpmd.log" 2> /dev/null | grep -c 'testpmd> '; }
# Sends CMD and waits (up to 10 s) for the next prompt.
testpmd_cmd() { # CMD
  local n i; n=$(testpmd_prompt)
  echo "$1" >&3
  for i in $(seq 100); do [ "$(testpmd_prompt)" -gt "$n" ] && return 0; sleep 0.1; done
  return 1
}
stop_testpmd() {
  echo quit >&3 2> /dev/null; exec 3>&-
  local i; for i in $(seq 100); do kill -0 "$TP_PID" 2> /dev/null || break; sleep 0.1; done
  kill "$TP_PID" 2> /dev/null; wait "$TP_PID" 2> /dev/null
}
tp_total() { strings "$dir/testpmd.log" | awk -v k="$1:" '$1 == k { v = $2 } END { print v + 0 }'; } # RX-packets|TX-packets
link_events() { strings "$dir/testpmd.log" | grep -c 'link state change'; }

# Replaces the running instance by a new hp-fwd --takeover (OPTIONS as the running one's), waits for its takeover
# line and for the old one to exit. Status 0 when the new one says state=taken and the old exited 0.
takeover_once() { # QUEUES OPTION...
  local q=$1 old=$FWD_N line; shift
  start_fwd "" "$@" --takeover
  wait_for 30 "$dir/fwd.$FWD_N.log" '^takeover state=' || { echo "hp-fwd #$FWD_N printed no takeover line" >> "$dir/host.log"; return 1; }
  await_exit "$old" 30 || echo "hp-fwd #$old did not exit after the takeover" >> "$dir/host.log"
  line=$(grep -a '^takeover state=' "$dir/fwd.$FWD_N.log" | head -1)
  [ "$(field "$line" state)" = taken ] && [ "$(cat "$dir/fwd.$old.rc")" = 0 ]
}

# Pauses (ms) from the takeover lines of instances FIRST..LAST: "p1 p2 ... (median M, max X)".
pause_text() { # FIRST LAST
  local n
  for n in $(seq "$1" "$2"); do field "$(grep -a '^takeover state=taken' "$dir/fwd.$n.log" | head -1)" pause_ns; done |
    grep -E '^[0-9]+$' | sort -n | awk '{ v[NR] = $1 / 1e6; printf "%.3f ", v[NR] } END { if (NR) printf "ms sorted (median %.3f ms, max %.3f ms)", v[int((NR + 1) / 2)], v[NR] }'
}
