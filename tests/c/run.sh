#!/usr/bin/env bash
# The C API tests (./test.sh runs them): builds the artifacts (../../build.sh, seconds when nothing changed) and the
# test programs, then checks
#   - hotpath.h compiles alone (C11 -pedantic, C++17, included twice);
#   - every name of the seed's exports.txt (protocol/HotPath.Native/exports-seed.txt) is declared in hotpath.h and exported (dlsym), nm -D agrees;
#   - test_api: driver/features/callbacks, error returns and hp_last_error() texts, mempool/mbuf, rings, VA lookup;
#   - test_icmpecho: hp-fwd's ARP/ICMP echo responder on well-formed, malformed, truncated and random frames;
#   - test_virtio_user: the API against DPDK virtio-user (real socket, real packets);
#   - hp-fwd in txonly/rxonly/io/macswap against virtio-user, server and client mode, packet counts both ways;
#     hp-fwd --async txonly/io/rxonly (the async copy path with the built-in engine, enqueue and dequeue), every mbuf
#     back at destroy_device; the async dequeue's exact accounting under testpmd txonly, with and without takeovers;
#   - hp-fwd --rx-mode interrupt/adaptive beside a connected, silent virtio-user: under 1% CPU, then forwarding;
#   - hitless upgrade (takeover-virtio-user.sh): hp-fwd replaced 3 times by hp-fwd --takeover under testpmd
#     txonly/rxonly/io, split and packed, two queue pairs, and once with virtio-user as the server: unseen by testpmd,
#     exact accounting; takeover-kill.sh: the takeover stopped at each HOTPATH_TAKEOVER_STALL point and the stalled
#     process SIGKILLed: the device stays served (or comes back through virtio-user's reconnect path);
#   - hp-fwd --demo: hp-frontend (HotPath's frontend) drives hp-fwd in three directions, two sizes;
#   - the hp-echo example echoing virtio-user traffic;
#   - vhost-crypto: the hp-crypto-mini example and hp-crypto checked by hp-frontend --crypto (NIST AES-CBC/CTR, a
#     multi-page request, an AES-CBC + HMAC-SHA256 chain, a request over the example's limit refused with ERR), the
#     example once more with zero copy;
#   - ref_dequeue (written from the API reference only) receiving virtio-user traffic.
# Tests that need root, hugepages and dpdk-testpmd skip LOUDLY when those are missing.
# Last line: "c-tests: N passed, N failed, N skipped"; exit status 1 when anything failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
art=$root/artifacts
exports=$root/protocol/HotPath.Native/exports-seed.txt     # the seed's export list (copied from shared/reference)
added=$root/protocol/HotPath.Native/exports-added.txt   # HotPath's exports beyond the seed's list
peer_sh=$root/scripts/interop/virtio-user-peer.sh
work=$(mktemp -d /tmp/hp-ctests.XXXXXX)
passed=0 failed=0 skipped=0

pass() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
skip() { skipped=$((skipped + 1)); echo "!!! SKIPPED: $* !!!"; }

# Adds up a test program's own "NAME: N passed, N failed, N skipped" line; a crash or a missing line fails.
run_program() { # NAME CMD...
  local name=$1; shift
  local out rc line
  out=$("$@" 2>&1); rc=$?
  echo "$out" | grep -E '^(FAIL|!!!)' || true
  line=$(echo "$out" | grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed' | tail -1)
  if [ -z "$line" ]; then fail "$name exited $rc without a summary:"; echo "$out" | tail -20; return; fi
  echo "      $line"
  local p f s
  p=$(echo "$line" | sed -E 's/.* ([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
  [ "$rc" = 0 ] || [ "$f" != 0 ] || fail "$name exited $rc"
}

echo "== build"
if ! "$root/build.sh" > "$work/build.log" 2>&1; then
  cat "$work/build.log"; fail "build.sh"
  echo "c-tests: $passed passed, $failed failed, $skipped skipped"; exit 1
fi
tail -4 "$work/build.log"
if [ ! -f "$exports" ]; then
  fail "exports list $exports not found"
  echo "c-tests: $passed passed, $failed failed, $skipped skipped"; exit 1
fi
if make -s -C "$here" ART="$art" EXPORTS="$exports" > "$work/make.log" 2>&1; then
  pass "header compiles alone (C11 -pedantic, C++17, twice); test programs, hp-echo and ref_dequeue build via pkg-config"
else
  cat "$work/make.log"; fail "building the C tests"
  echo "c-tests: $passed passed, $failed failed, $skipped skipped"; exit 1
fi
bin=$art/tests/c

echo "== exports"
defined=$(nm -D --defined-only "$art/lib/libhotpath.so.1" | awk '{print $3}' | sed 's/@.*//' | grep '^hp_' | sort -u)
missing=$(comm -23 <(grep -v '^\s*$' "$exports" | sort -u) <(echo "$defined"))
extra=$(comm -13 <(cat "$exports" "$added" | grep -v '^\s*$' | sort -u) <(echo "$defined"))
missing_added=$(comm -23 <(grep -v '^\s*$' "$added" | sort -u) <(echo "$defined"))
[ -z "$missing" ] && pass "nm -D lists all $(grep -cv '^\s*$' "$exports") names of exports.txt" || fail "not exported: $missing"
[ -z "$missing_added" ] && pass "nm -D lists all $(grep -cv '^\s*$' "$added") names of exports-added.txt" || fail "not exported: $missing_added"
[ -z "$extra" ] && pass "nm -D lists no hp_ symbol beyond exports.txt and exports-added.txt" || fail "exported but in neither list: $extra"
soname=$(readelf -d "$art/lib/libhotpath.so.1" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libhotpath.so.1 ] && pass "SONAME libhotpath.so.1" || fail "SONAME is '$soname'"
run_program exports_check "$bin/exports_check" "$art/lib/libhotpath.so.1"

echo "== API"
run_program test_api "$bin/test_api"

echo "== the host process: signals and stdout/stderr left alone"
run_program test_host_process "$bin/test_host_process"

echo "== hotpath-rte: DPDK 22.11's vhost API by include path"
run_program rte_compat_extras "$bin/rte_compat_extras"
if [ -f "$bin/dpdk_style_app.dpdk-c.ok" ] && [ -f "$bin/dpdk_style_app.dpdk-cxx.ok" ]; then
  pass "dpdk_style_app.c compiles against DPDK's own rte_vhost.h too (C and C++, -Wall -Wextra -Werror)"
else
  fail "dpdk_style_app.c was not checked against DPDK's headers (pkg-config libdpdk: dpdk-dev from scripts/setup.sh)"
fi

echo "== hp-fwd icmpecho responder (frames built in the test, guard page, ASan/UBSan)"
run_program test_icmpecho "$bin/test_icmpecho"

echo "== hp-fwd command line"
"$art/bin/hp-fwd" --mode io > /dev/null 2> "$work/usage.err"; rc=$?
[ $rc = 2 ] && grep -q '^usage: hp-fwd --socket PATH' "$work/usage.err" && pass "hp-fwd without --socket: usage, exit 2" || fail "hp-fwd without --socket exited $rc"
"$art/bin/hp-fwd" --socket /tmp/x.sock --mode icmp > /dev/null 2>&1; rc=$?
[ $rc = 2 ] && pass "hp-fwd --mode icmp: exit 2" || fail "hp-fwd with a bad mode exited $rc"
"$art/bin/hp-fwd" --socket /tmp/x.sock --burst 0 > /dev/null 2>&1; rc=$?
[ $rc = 2 ] && pass "hp-fwd --burst 0: exit 2" || fail "hp-fwd --burst 0 exited $rc"
"$art/bin/hp-fwd" --socket /tmp/x.sock --idle-sleep 100001 > /dev/null 2>&1; rc=$?
[ $rc = 2 ] && pass "hp-fwd --idle-sleep 100001: exit 2" || fail "hp-fwd --idle-sleep 100001 exited $rc"
"$art/bin/hp-fwd" --socket /tmp/x.sock --mac 01:00:00:00:00:01 > /dev/null 2>&1; rc=$?
[ $rc = 2 ] && pass "hp-fwd --mac with a multicast address: exit 2" || fail "hp-fwd --mac 01:... exited $rc"
for bad in "--lcores 0-" "--lcores 1,,2" "--cpu 0,1" "--lcores $(nproc --all)" "--lcores 0 --cpu 0"; do
  "$art/bin/hp-fwd" --socket /tmp/x.sock $bad > /dev/null 2>&1; rc=$?
  [ $rc = 2 ] && pass "hp-fwd $bad: exit 2" || fail "hp-fwd $bad exited $rc"
done
"$art/bin/hp-fwd" --socket /tmp/x.sock --takeover-path "" > /dev/null 2>&1; rc=$?
[ $rc = 2 ] && pass "hp-fwd --takeover-path '': exit 2" || fail "hp-fwd --takeover-path '' exited $rc"
"$art/bin/hp-fwd" --socket /tmp/x.sock --packed-only --split-only > /dev/null 2>&1; rc=$?
[ $rc = 2 ] && pass "hp-fwd --packed-only --split-only: exit 2" || fail "exclusive options exited $rc"
# --iommu offers ACCESS_PLATFORM (bit 33); without it, hp-fwd offers no such thing.
access_platform_offered() { # EXTRA_OPTION...
  local f
  "$art/bin/hp-fwd" --socket "$work/offer.sock" --seconds 1 "$@" > "$work/offer.out" 2>&1
  f=$(sed -n 's/^offered features=\(0x[0-9a-f]*\) .*/\1/p' "$work/offer.out")
  [ -n "$f" ] && echo $(((f >> 33) & 1))
}
a=$(access_platform_offered --iommu); b=$(access_platform_offered)
[ "$a" = 1 ] && [ "$b" = 0 ] && pass "hp-fwd --iommu offers ACCESS_PLATFORM (IOMMU_PLATFORM), hp-fwd without it does not" ||
  fail "ACCESS_PLATFORM offered: with --iommu '${a:-no offered line}' (want 1), without '${b:-no offered line}' (want 0)"

echo "== hp-fwd --demo (hp-frontend, HotPath's own frontend, as the guest side)"
"$art/bin/hp-frontend" --socket /tmp/x.sock --direction sideways > /dev/null 2>&1; rc=$?
[ $rc = 2 ] && pass "hp-frontend with a bad direction: exit 2" || fail "hp-frontend with a bad direction exited $rc"
"$art/bin/hp-fwd" --demo --seconds 2 > "$work/demo.out" 2> "$work/demo.err"; rc=$?
tr '\r' '\n' < "$work/demo.out" | grep -E '^  (direction|dequeue|enqueue|loop) ' | sed 's/^/      /'
rows=$(grep -cE '^  (dequeue|enqueue|loop) +(guest|host)' "$work/demo.out")
zero=$(grep -E '^  (dequeue|enqueue|loop) +(guest|host)' "$work/demo.out" | awk '$(NF-2) + 0 <= 0 || $(NF-1) + 0 <= 0' | wc -l)
[ $rc = 0 ] && [ "$rows" = 3 ] && [ "$zero" = 0 ] && pass "hp-fwd --demo: 3 directions x 2 sizes moved packets" ||
  { fail "hp-fwd --demo exited $rc ($rows rows, $zero with no traffic)"; grep -v '^hotpath' "$work/demo.err" | tail -15; }

# The 1518 B loop of the demo, by counts: hp-frontend polls and asks for no interrupts, so hp-fwd writes no call
# eventfd (it wrote one per burst each way while the frontend left them on) and the frontend kicks no more than at
# start; each 1518 B packet takes one 2048 B RX buffer; nothing goes missing (perf/loop-check.sh).
out=$(LENS=1518 SECS=1 HP_FWD="$art/bin/hp-fwd" "$here/../../perf/loop-check.sh" counters 2>&1); rc=$?
[ $rc = 0 ] && pass "loop counters at 1518 B: no guest notifications, no kicks, one RX buffer per packet (${out#loop-counters })" ||
  fail "loop counters at 1518 B: $out"

echo "== vhost-crypto: hp-crypto-mini (tools/examples) and hp-crypto, checked by hp-frontend --crypto"
# Each backend serves a socket; HotPath's frontend creates sessions, sends NIST AES-CBC/CTR vectors, a multi-page
# CBC request and an AES-CBC + HMAC-SHA256 chain and checks every answer (with --max-len: a longer request comes back
# ERR with nothing written); the backend's own summary at SIGINT must count the same requests.
crypto_case() { # NAME MAX_LEN SUMMARY_REGEX BACKEND...
  local name=$1 max=$2 want=$3; shift 3
  local sock=$work/$name.sock pid out rc
  "$@" > "$work/$name.out" 2> "$work/$name.err" & pid=$!
  out=$("$art/bin/hp-frontend" --socket "$sock" --crypto --max-len "$max" --connect-timeout 20 2>&1); rc=$?
  kill -INT $pid; wait $pid
  echo "$out" | sed 's/^/      /'
  if [ $rc = 0 ] && grep -qE "$want" "$work/$name.out"; then
    pass "$name checked by hp-frontend --crypto: $(grep -E "$want" "$work/$name.out" | tail -1)"
  else
    fail "$name: hp-frontend exited $rc; backend said: $(tail -2 "$work/$name.out" | tr '\n' ' ')"; tail -5 "$work/$name.err"
  fi
}
crypto_case hp-crypto-mini 8192 '^hp-crypto-mini: requests=5 ok=4 refused=1 failed=0$' \
  "$art/bin/hp-crypto-mini" "$work/hp-crypto-mini.sock" --max-len 8192
crypto_case hp-crypto-mini-zero-copy 8192 '^hp-crypto-mini: requests=5 ok=4 refused=1 failed=0$' \
  "$art/bin/hp-crypto-mini" "$work/hp-crypto-mini-zero-copy.sock" --max-len 8192 --zero-copy
crypto_case hp-crypto 65536 '^summary .* requests=4 bytes=(.*) errors=0 .* ok=4 ' "$art/bin/hp-crypto" --socket "$work/hp-crypto.sock"

echo "== DPDK virtio-user"
why=""
[ "$(id -u)" = 0 ] || why="not root"
[ -z "$why" ] && ! command -v dpdk-testpmd > /dev/null && why="dpdk-testpmd is not installed (scripts/setup.sh)"
[ -z "$why" ] && [ "$(awk '/HugePages_Free/{print $2}' /proc/meminfo)" -lt 256 ] && why="fewer than 256 free hugepages (scripts/setup.sh)"
[ -z "$why" ] && [ ! -x "$peer_sh" ] && why="$peer_sh is missing"
if [ -n "$why" ]; then
  skip "every DPDK virtio-user test: $why"
  echo "c-tests: $passed passed, $failed failed, $skipped skipped"; [ $failed = 0 ]; exit
fi
run_program test_virtio_user "$bin/test_virtio_user"

json_num() { sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1" | head -1; }
peer_num() { echo "$1" | sed -n "s/.* $2=\([0-9]*\).*/\1/p"; }
wait_socket() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.1; done; return 1; }

# True when a thread of process $1 other than its main thread may run on CPU $2 only (waits up to 10 s for it).
pinned_thread() {
  local deadline=$((SECONDS + 10)) t
  while [ $SECONDS -lt $deadline ]; do
    for t in /proc/"$1"/task/*; do
      [ "${t##*/}" = "$1" ] && continue
      [ "$(sed -n 's/^Cpus_allowed_list:\s*//p' "$t/status" 2>/dev/null)" = "$2" ] && return 0
    done
    sleep 0.1
  done
  return 1
}

# One hp-fwd run against virtio-user. Server mode: hp-fwd listens, testpmd connects. Client mode: testpmd listens
# (virtio-user server=1) and hp-fwd --client connects. PIN_CPU (server mode): hp-fwd --cpu PIN_CPU, and its
# forwarding thread must be seen on that CPU alone.
fwd_case() { # NAME FWD_MODE PEER_MODE server|client [PIN_CPU]   (env FWD_EXTRA: more hp-fwd options, server side)
  local name=$1 mode=$2 pmode=$3 side=$4 pin=${5:-}
  local sock=$work/$name.sock json=$work/$name.json out=$work/$name.out err=$work/$name.err peer fwd_rc
  if [ "$side" = client ]; then
    "$peer_sh" "$sock" "$pmode" 8 64 0 1 ",server=1" > "$work/$name.peer" &
    local ppid=$!
    wait_socket "$sock" || { fail "hp-fwd $name: virtio-user made no socket"; wait $ppid; return; }
    "$art/bin/hp-fwd" --client --socket "$sock" --mode "$mode" --seconds 6 --json "$json" > "$out" 2> "$err"; fwd_rc=$?
    wait $ppid; peer=$(cat "$work/$name.peer")
  else
    "$art/bin/hp-fwd" --socket "$sock" --mode "$mode" --seconds 9 --json "$json" ${pin:+--cpu "$pin"} ${FWD_EXTRA:-} > "$out" 2> "$err" &
    local fpid=$!
    wait_socket "$sock" || { fail "hp-fwd $name: no socket"; kill -INT $fpid; wait $fpid; return; }
    "$peer_sh" "$sock" "$pmode" 6 64 > "$work/$name.peer" &
    local ppid=$!
    if [ -n "$pin" ]; then
      pinned_thread $fpid "$pin" && grep -q "forwarding thread on CPU $pin\$" "$err" &&
        pass "hp-fwd $name --cpu $pin: the forwarding thread runs on CPU $pin alone" ||
        fail "hp-fwd $name --cpu $pin: no thread pinned to CPU $pin"
    fi
    wait $ppid; peer=$(cat "$work/$name.peer")
    wait $fpid; fwd_rc=$?
  fi
  local frx ftx prx ptx
  frx=$(json_num "$json" rx_packets); ftx=$(json_num "$json" tx_packets)
  prx=$(peer_num "$peer" rx_total); ptx=$(peer_num "$peer" tx_total)
  echo "      $name: hp-fwd rx=${frx:-?} tx=${ftx:-?} $(grep '^summary mode' "$out" | sed 's/.*\(rx_mpps=[^ ]*\) \(tx_mpps=[^ ]*\).*/\1 \2/') | testpmd rx=$prx tx=$ptx"
  [ "$fwd_rc" = 0 ] || { fail "hp-fwd $name exited $fwd_rc: $(tail -3 "$err")"; return; }
  grep -q '^new_device vid=[0-9]*$' "$out" && grep -q '^destroy_device vid=[0-9]* ' "$out" &&
    grep -q '^vring_state_changed vid=[0-9]* queue=[01] enable=1$' "$out" ||
    { fail "hp-fwd $name: missing event lines"; return; }
  case $mode in
    txonly) [ "${ftx:-0}" -gt 0 ] && [ "${prx:-0}" -gt 0 ] && [ "$prx" -le "$ftx" ] ;;
    rxonly) [ "${frx:-0}" -gt 0 ] && [ "${ptx:-0}" -gt 0 ] && [ "$frx" -le "$ptx" ] ;;
    *)      [ "${frx:-0}" -gt 0 ] && [ "${ftx:-0}" -gt 0 ] && [ "${prx:-0}" -gt 0 ] && [ "$ftx" -le "$frx" ] ;;
  esac && pass "hp-fwd $name: packet counts agree with testpmd" || fail "hp-fwd $name: counts hp-fwd rx=$frx tx=$ftx, testpmd rx=$prx tx=$ptx"
  # --async: the packets still being copied when the device stops come back to the pool too.
  if [ -n "${FWD_EXTRA:-}" ]; then
    grep -q '^destroy_device vid=[0-9]* pool_in_use=0 ' "$out" && pass "hp-fwd $name: every mbuf back in the pool at destroy_device" ||
      fail "hp-fwd $name: $(grep '^destroy_device' "$out")"
  fi
}

echo "== hp-fwd against virtio-user"
fwd_case txonly txonly rxonly server
fwd_case rxonly rxonly txonly server
fwd_case io io io server $(( $(nproc) - 1 ))
fwd_case macswap macswap io server
fwd_case client-txonly txonly rxonly client
fwd_case client-rxonly rxonly txonly client
echo "== hp-fwd --async (the async copy path, built-in copy engine) against virtio-user"
FWD_EXTRA=--async fwd_case async-txonly txonly rxonly server
FWD_EXTRA=--async fwd_case async-io io io server
FWD_EXTRA=--async fwd_case async-rxonly rxonly txonly server

echo "== hp-fwd --rx-mode interrupt|adaptive: no CPU beside a silent virtio-user, then forwarding"
for c in "interrupt 0" "interrupt 1" "adaptive 0"; do
  read -r rxm packed <<< "$c"
  run_program "rx-mode $rxm packed=$packed" "$here/rx-mode-idle.sh" "$art" "$work" "$rxm" "$packed" 5
done

echo "== hitless upgrade: hp-fwd replaced by hp-fwd --takeover under virtio-user traffic, two queue pairs"
for c in "txonly 0 server" "rxonly 0 server" "io 0 server" "txonly 1 server" "rxonly 1 server" "io 1 server" "txonly 0 client"; do
  read -r m packed side <<< "$c"
  run_program "takeover $c" "$here/takeover-virtio-user.sh" "$art" "$work" "$m" "$packed" 3 "$side"
done
# Both sides through the async copy path, frames of 1024 B so the built-in engine copies them (threshold 256).
FWD_EXTRA=--async TP_EXTRA=--txpkts=1024 run_program "takeover io 0 server --async" "$here/takeover-virtio-user.sh" "$art" "$work" io 0 3 server
# The async dequeue alone (testpmd txonly -> hp-fwd rxonly --async, two queue pairs): testpmd's TX-packets == hp-fwd's
# rx_packets, first without a takeover, then across 3 (each old hp-fwd collects the packets it took at destroy_device).
FWD_EXTRA=--async TP_EXTRA=--txpkts=1024 run_program "async dequeue txonly 0 server" "$here/takeover-virtio-user.sh" "$art" "$work" txonly 0 0 server
FWD_EXTRA=--async TP_EXTRA=--txpkts=1024 run_program "takeover txonly 0 server --async" "$here/takeover-virtio-user.sh" "$art" "$work" txonly 0 3 server
echo "== takeover killed at each HOTPATH_TAKEOVER_STALL point"
for p in new-received new-ready new-committed old-quiesced old-sent old-committed; do
  run_program "takeover-kill $p" "$here/takeover-kill.sh" "$art" "$work" "$p"
done

echo "== hp-echo example"
sock=$work/echo.sock
"$bin/hp-echo" "$sock" > "$work/echo.out" 2>&1 &
epid=$!
if wait_socket "$sock"; then
  peer=$("$peer_sh" "$sock" io 6 64)
  kill -INT $epid; wait $epid; rc=$?
  echo "      hp-echo | testpmd io: rx=$(peer_num "$peer" rx_total) tx=$(peer_num "$peer" tx_total)"
  [ $rc = 0 ] && [ "$(peer_num "$peer" rx_total)" -gt 0 ] && pass "hp-echo sends virtio-user's frames back" ||
    fail "hp-echo exited $rc, testpmd: $peer"
else
  kill -INT $epid 2>/dev/null; wait $epid; fail "hp-echo made no socket: $(cat "$work/echo.out")"
fi

echo "== dpdk_style_app (DPDK-style source on hotpath-rte, built as C and as C++) against virtio-user"
for variant in dpdk_style_app dpdk_style_app_cxx; do
  sock=$work/$variant.sock
  "$bin/$variant" "$sock" 8 > "$work/$variant.out" 2>&1 &
  dpid=$!
  if wait_socket "$sock"; then
    peer=$("$peer_sh" "$sock" txonly 4 64)
    wait $dpid
    grep -E '^dpdk_style_app: packets=' "$work/$variant.out" | sed 's/^/      /'
    run_program "$variant" cat "$work/$variant.out"
  else
    kill $dpid 2>/dev/null; wait $dpid; fail "$variant made no socket: $(cat "$work/$variant.out")"
  fi
done

echo "== installed copy: ./build.sh install --prefix, a pkg-config build with the build tree moved away, uninstall"
inst=$work/prefix
if "$root/build.sh" install --prefix "$inst" > "$work/install.log" 2>&1; then
  pass "./build.sh install --prefix $inst"
  mv "$art" "$art.away"          # from here until the move back, nothing may use the build tree
  restore() { [ -d "$art.away" ] && mv "$art.away" "$art"; }
  trap restore EXIT
  sock=$work/inst.sock
  if cc $(PKG_CONFIG_PATH=$inst/lib/pkgconfig pkg-config --cflags hotpath) -o "$work/echo-inst" \
       "$inst/share/hotpath/examples/hp-echo.c" $(PKG_CONFIG_PATH=$inst/lib/pkgconfig pkg-config --libs hotpath) 2> "$work/inst-cc.log"; then
    (unset LD_LIBRARY_PATH; exec "$work/echo-inst" "$sock") > "$work/inst.out" 2>&1 &
    ipid=$!
    if wait_socket "$sock"; then
      peer=$("$peer_sh" "$sock" io 4 64)
      kill -INT $ipid; wait $ipid; rc=$?
      lib=$(readlink -f "$(ldd "$work/echo-inst" | awk '/libhotpath/ {print $3}')")
      [ $rc = 0 ] && [ "$(peer_num "$peer" rx_total)" -gt 0 ] && [ "$lib" = "$(readlink -f "$inst/lib/libhotpath.so.1")" ] &&
        pass "hp-echo built by pkg-config from the installed copy echoes virtio-user's frames (library: $lib)" ||
        fail "installed hp-echo exited $rc, library $lib, testpmd: $peer"
    else
      kill -INT $ipid 2>/dev/null; wait $ipid; fail "installed hp-echo made no socket: $(cat "$work/inst.out")"
    fi
  else
    fail "building hp-echo against the installed copy: $(cat "$work/inst-cc.log")"
  fi
  restore; trap - EXIT
  "$root/build.sh" uninstall --prefix "$inst" >> "$work/install.log" 2>&1 && [ ! -e "$inst" ] &&
    pass "./build.sh uninstall --prefix removes everything it installed" || fail "uninstall left: $(find "$inst" 2>/dev/null | head)"
else
  fail "./build.sh install: $(tail -5 "$work/install.log")"
fi

echo "== ref_dequeue (written from the API reference only)"
sock=$work/ref.sock
"$bin/ref_dequeue" "$sock" 9 > "$work/ref.out" 2>&1 &
rpid=$!
if wait_socket "$sock"; then
  peer=$("$peer_sh" "$sock" txonly 6 64)
  wait $rpid; rc=$?
  echo "      $(grep '^ref_dequeue:' "$work/ref.out") | testpmd tx=$(peer_num "$peer" tx_total)"
  [ $rc = 0 ] && pass "ref_dequeue received virtio-user traffic" || fail "ref_dequeue exited $rc"
else
  kill -INT $rpid 2>/dev/null; wait $rpid; fail "ref_dequeue made no socket: $(cat "$work/ref.out")"
fi

rm -rf "$work"
echo "c-tests: $passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
