#!/bin/busybox sh
# /init of the test guest of tests/qemu/run.sh (busybox initramfs, Debian kernel, virtio-net on a vhost-user
# netdev served by hp-fwd --mode icmpecho). Runs the steps of hpq.plan= from the kernel command line, in order,
# then powers off. It prints, on the console (ttyS0), the lines the host reads:
#   HPQ-RESULT <name> PASS|FAIL <what was seen>    one per checked step
#   HPQ-DATA <name> key=value...                   measurements
#   HPQ-SYNC <token>                               then waits for "go <token>" on ttyS1 (the host's control pipe)
#   HPQ-DONE                                       the plan ran to its end
# Steps (comma-separated, fields separated by ':'):
#   ping:NAME:COUNT:SIZE      COUNT pings of SIZE payload bytes to the peer; PASS when every one is answered
#   mqping:NAME:COUNT         two such pings at once, pinned to CPU 0 and CPU 1 (so to TX queues 0 and 1 by XPS)
#   arp:NAME                  the peer's address was learnt by ARP (through the backend) as hpq.mac
#   mtu:NAME:MTU              eth0 came up with the MTU the device offers (host_mtu) and refuses one byte more
#   unbind:NAME               unbind virtio_net from the device and bind it again (a device reset), then ping
#   pcireset:NAME             remove the PCI function and rescan the bus (reset and re-probe), then ping
#   sync:TOKEN                HPQ-SYNC TOKEN, wait up to 180 s for the host's "go TOKEN", then up to 30 s for the
#                             link; the carrier changes seen meanwhile are reported
#   migrate:NAME              a ping every 20 ms, a UDP flood of 64-byte frames at 2000 frames/s (udpflood, until
#                             stopped) and a memory pattern being rewritten (memtouch, 4 MiB, a page per ms) in the
#                             background, HPQ-SYNC NAME, wait up to 600 s for "go NAME" (the host live-migrates the
#                             guest meanwhile: "go" comes from the destination's control pipe), then stop all three;
#                             PASS when the ping was answered on both sides of the go and the pattern is intact
#                             (HPQ-DATA: sent, received, replies before/after the go, flood_sent, memtouch bad pages)
#   hold:NAME                 traffic while the host replaces the backend: a UDP flood of 64-byte frames at 2000
#                             frames/s (udpflood, until stopped) and pings every 20 ms in rounds of 50 (a round ends
#                             when its replies came, or 5 s after its last request), HPQ-SYNC NAME, wait up to 600 s
#                             for "go NAME", let the round in progress end, stop the flood; PASS when every echo
#                             request was answered and eth0's carrier never changed (HPQ-DATA: pings, flood_sent,
#                             carrier_changes before and after)
#   flood:NAME:SECS:LEN       udpflood LEN-byte UDP frames for SECS seconds (AF_PACKET, qdisc bypass)
#   echoflood:NAME:SECS:LEN:PPS  udpflood LEN-byte frames to UDP port 7 at PPS frames/s for SECS seconds: hp-fwd
#                             icmpecho reflects each back (MACs swapped), so it is a flood INTO the guest; then one
#                             ping as a barrier (HPQ-DATA: sent, received = reflections eth0 counted; the guest's
#                             ring may overflow, hp-fwd counts those as tx_dropped)
#   counters                  eth0 counters as HPQ-DATA counters
#   crypto:FLOOD:SECS         (hpq.dev=crypto: a virtio-crypto device instead of eth0) the skciphers virtio_crypto
#                             registered (/proc/crypto, as HPQ-DATA crypto-algs), once their self-tests passed
#                             HPQ-SYNC crypto-mark (the host notes the backend's counts), then afalg_kat on the
#                             cbc(aes) one: known answers, multi-page buffers, a flood of FLOOD checked requests,
#                             SECS s of benchmark per size (its lines are the results)
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
PLAN=$(arg hpq.plan)
PEER_MAC=$(arg hpq.mac)
SELF=10.0.0.1
PEER=10.0.0.2

now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
result() { echo "HPQ-RESULT $1 $2 $3"; }

for m in $(cat /lib/modules/order); do insmod /lib/modules/$m || echo "HPQ-LOG insmod $m failed"; done

# Waits for eth0 (up to 60 s: a loaded host slows TCG down a lot), then brings it up with the test address. 0 when
# eth0 is there.
net_up() {
	for i in $(seq 600); do [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done
	[ -e /sys/class/net/eth0 ] || return 1
	ip link set lo up
	ip link set eth0 up
	ip addr add $SELF/24 dev eth0 2>/dev/null
	for i in $(seq 300); do [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ] && break; sleep 0.1; done
	return 0
}

# ping_check NAME COUNT SIZE [CPU]: PASS when all COUNT echo requests got their reply.
ping_check() {
	local name=$1 count=$2 size=$3 cpu=$4 t0 out rx pin=""
	t0=$(now)
	[ -n "$cpu" ] && pin="taskset -c $cpu"
	out=$($pin ping -c $count -i 0.02 -s $size -W 5 -w $((count / 5 + 40)) $PEER 2>&1)
	rx=$(echo "$out" | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
	if [ "${rx:-0}" = "$count" ]; then
		result $name PASS "$rx/$count replies, $size-byte payload, $(since $t0) s, rtt min/avg/max $(echo "$out" | sed -n 's|.*min/avg/max = \([^ ]*\).*|\1|p') ms"
	else
		result $name FAIL "${rx:-no}/$count replies, $size-byte payload, $(since $t0) s: $(echo "$out" | tail -2 | tr '\n' ' ')"
	fi
}

step_mqping() { # NAME COUNT
	local t0=$(now) q
	echo "HPQ-DATA $1 queues=$(ls /sys/class/net/eth0/queues | tr '\n' ' ')xps0=$(cat /sys/class/net/eth0/queues/tx-0/xps_cpus 2>/dev/null) xps1=$(cat /sys/class/net/eth0/queues/tx-1/xps_cpus 2>/dev/null)"
	for q in 0 1; do ping_check $1-cpu$q $2 56 $q > /tmp/mq$q & done
	wait
	cat /tmp/mq0 /tmp/mq1
	if grep -q PASS /tmp/mq0 && grep -q PASS /tmp/mq1; then
		result $1 PASS "both flows answered in full, $(since $t0) s"
	else
		result $1 FAIL "a flow lost replies"
	fi
}

step_arp() {
	local n
	n=$(ip neigh show $PEER dev eth0)
	case "$n" in
		*"lladdr $PEER_MAC"*) result $1 PASS "$PEER resolved by ARP through the backend: $n" ;;
		*) result $1 FAIL "neighbour entry: '${n:-none}', expected lladdr $PEER_MAC" ;;
	esac
}

step_mtu() { # NAME MTU
	local mtu over
	mtu=$(cat /sys/class/net/eth0/mtu)
	ip link set eth0 mtu $(($2 + 1)) 2>/dev/null && over=accepted || over=refused
	ip link set eth0 mtu $mtu
	if [ "$mtu" = "$2" ] && [ $over = refused ]; then
		result $1 PASS "eth0 MTU $mtu from the device (VIRTIO_NET_F_MTU), MTU $(($2 + 1)) refused"
	else
		result $1 FAIL "eth0 MTU $mtu (expected $2), MTU $(($2 + 1)) $over"
	fi
}

# After a reset: the interface again, then 20 pings.
after_reset() { # NAME T0
	if ! net_up; then result $1 FAIL "eth0 did not come back within 60 s"; return; fi
	echo "HPQ-DATA $1 eth0_back_after=$(since $2)s"
	ping_check $1 20 56
}

step_unbind() {
	local dev t0=$(now)
	dev=$(basename "$(readlink /sys/class/net/eth0/device)")
	echo $dev > /sys/bus/virtio/drivers/virtio_net/unbind
	[ -e /sys/class/net/eth0 ] && { result $1 FAIL "eth0 still there after unbinding $dev"; return; }
	sleep 0.5
	echo $dev > /sys/bus/virtio/drivers/virtio_net/bind
	after_reset $1 $t0
}

step_pcireset() {
	local pci t0=$(now)
	pci=$(basename "$(readlink -f /sys/class/net/eth0/device/..)")
	echo 1 > /sys/bus/pci/devices/$pci/remove
	[ -e /sys/class/net/eth0 ] && { result $1 FAIL "eth0 still there after removing $pci"; return; }
	sleep 0.5
	echo 1 > /sys/bus/pci/rescan
	after_reset $1 $t0
}

step_sync() { # TOKEN
	local line="" t0=$(now) watcher
	# Carrier as the guest sees it while the host works (QEMU reports a lost backend as link down).
	( last=x; while :; do c=$(cat /sys/class/net/eth0/carrier 2>/dev/null); [ "$c" != "$last" ] && echo -n "$c"; last=$c; sleep 0.05; done ) > /tmp/carrier &
	watcher=$!
	echo "HPQ-SYNC $1"
	read -t 180 line < /dev/ttyS1
	# QEMU reports the backend back with a config interrupt: give the link 30 s to come up again.
	for i in $(seq 300); do [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ] && break; sleep 0.1; done
	sleep 0.1
	kill $watcher
	echo "HPQ-DATA sync-$1 waited=$(since $t0)s carrier=$(cat /tmp/carrier) host_said='$line'"
	[ "$line" = "go $1" ] || result sync-$1 FAIL "no 'go $1' from the host within 180 s (got '$line')"
}

# Replies so far: the guest's received IPv4 frames (eth0 rx_packets; only the backend's replies arrive).
rx_now() { cat /sys/class/net/eth0/statistics/rx_packets; }

step_migrate() { # NAME
	local line="" t0=$(now) pid fpid mpid rx0 rx_go rx_end out sent got flood mem bad
	rx0=$(rx_now)
	/bin/memtouch 4 > /tmp/memtouch 2>&1 &
	mpid=$!
	/bin/udpflood eth0 $PEER_MAC $SELF $PEER 0 64 2000 > /tmp/migflood 2>&1 &
	fpid=$!
	ping -i 0.02 -W 5 $PEER > /tmp/migping 2>&1 &
	pid=$!
	echo "HPQ-SYNC $1"
	read -t 600 line < /dev/ttyS1
	rx_go=$(rx_now)
	# Replies on the destination: wait (up to 60 s) for 20 more, then stop the three (SIGINT: each prints its totals).
	for i in $(seq 600); do [ $(($(rx_now) - rx_go)) -ge 20 ] && break; sleep 0.1; done
	rx_end=$(rx_now)
	kill -INT $fpid $pid $mpid; wait $fpid; wait $pid; wait $mpid
	out=$(tail -3 /tmp/migping | tr '\n' ' ')
	sent=$(echo "$out" | sed -n 's/.* \([0-9]*\) packets transmitted.*/\1/p')
	got=$(echo "$out" | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
	flood=$(sed -n 's/^udpflood sent=\([0-9]*\).*/\1/p' /tmp/migflood)
	mem=$(cat /tmp/memtouch)
	bad=$(echo "$mem" | sed -n 's/.* bad=\([0-9]*\).*/\1/p')
	echo "HPQ-DATA $1 sent=${sent:-?} received=${got:-?} before_go=$((rx_go - rx0)) after_go=$((rx_end - rx_go)) flood_sent=${flood:-?} memtouch_bad=${bad:-?} waited=$(since $t0)s"
	if [ "$line" != "go $1" ]; then
		result $1 FAIL "no 'go $1' from the host within 600 s (got '$line'); ping: $out"
	elif [ "${bad:-x}" != 0 ]; then
		result $1 FAIL "memory pattern after the migration: ${mem:-memtouch printed nothing}"
	elif [ $((rx_go - rx0)) -gt 0 ] && [ $((rx_end - rx_go)) -ge 20 ]; then
		result $1 PASS "ping across the migration: ${got:-?}/${sent:-?} answered, $((rx_go - rx0)) replies before the go, $((rx_end - rx_go)) after, $(since $t0) s; ${flood:-?} UDP frames flooded; ${mem#memtouch }"
	else
		result $1 FAIL "ping across the migration: $((rx_go - rx0)) replies before the go, $((rx_end - rx_go)) after (want > 0 and >= 20): $out"
	fi
}

step_hold() { # NAME
	local line="" t0=$(now) fpid ppid cc0 cc1 sent got flood rounds
	cc0=$(cat /sys/class/net/eth0/carrier_changes)
	rm -f /tmp/holdstop
	/bin/udpflood eth0 $PEER_MAC $SELF $PEER 0 64 2000 > /tmp/holdflood 2>&1 &
	fpid=$!
	# Rounds of "ping -c": each waits for its replies, so the sum over rounds counts every request, none in flight.
	( while [ ! -e /tmp/holdstop ]; do ping -c 50 -i 0.02 -W 5 $PEER 2>&1 |
		sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) packets received.*/\1 \2/p'; done ) > /tmp/holdping &
	ppid=$!
	echo "HPQ-SYNC $1"
	read -t 600 line < /dev/ttyS1
	touch /tmp/holdstop
	wait $ppid
	kill -INT $fpid; wait $fpid
	cc1=$(cat /sys/class/net/eth0/carrier_changes)
	sent=$(awk '{ s += $1 } END { print s + 0 }' /tmp/holdping)
	got=$(awk '{ s += $2 } END { print s + 0 }' /tmp/holdping)
	rounds=$(grep -c . /tmp/holdping)
	flood=$(sed -n 's/^udpflood sent=\([0-9]*\).*/\1/p' /tmp/holdflood)
	echo "HPQ-DATA $1 pings=$sent answered=$got rounds=$rounds flood_sent=${flood:-?} carrier_changes=$cc0,$cc1 waited=$(since $t0)s"
	if [ "$line" != "go $1" ]; then
		result $1 FAIL "no 'go $1' from the host within 600 s (got '$line'); pings $got/$sent answered"
	elif [ "$sent" -gt 0 ] && [ "$got" = "$sent" ] && [ "$cc0" = "$cc1" ] && [ -n "$flood" ]; then
		result $1 PASS "$got/$sent pings answered in $rounds rounds, carrier_changes $cc0 throughout, $flood UDP frames flooded, $(since $t0) s"
	else
		result $1 FAIL "pings $got/$sent answered ($rounds rounds), carrier_changes $cc0 -> $cc1, udpflood: $(cat /tmp/holdflood)"
	fi
}

step_flood() { # NAME SECS LEN
	local out
	out=$(/bin/udpflood eth0 $PEER_MAC $SELF $PEER $2 $3 2>&1)
	echo "HPQ-DATA $1 $out"
	case "$out" in
		"udpflood sent="*) result $1 PASS "$(echo "$out" | sed 's/^udpflood //')" ;;
		*) result $1 FAIL "udpflood: $out" ;;
	esac
}

step_echoflood() { # NAME SECS LEN PPS
	local out rx0 rx sent barrier
	rx0=$(cat /sys/class/net/eth0/statistics/rx_packets)
	out=$(/bin/udpflood eth0 $PEER_MAC $SELF $PEER $2 $3 $4 7 2>&1)
	sent=$(echo "$out" | sed -n 's/^udpflood sent=\([0-9]*\).*/\1/p')
	# A barrier, not a wait: hp-fwd answers in ring order, so once this echo's reply is here every reflection
	# before it has been enqueued (or dropped and counted by hp-fwd).
	barrier=$(ping -c 1 -W 10 $PEER 2>&1 | sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
	rx=$(( $(cat /sys/class/net/eth0/statistics/rx_packets) - rx0 - 1 ))
	echo "HPQ-DATA $1 $out received=$rx"
	if [ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$barrier" = 1 ]; then
		result $1 PASS "$sent frames sent to the echo port, $rx reflections received ($(echo "$out" | sed 's/^udpflood //'))"
	else
		result $1 FAIL "udpflood: $out; barrier echo answered: ${barrier:-no}; eth0 received $rx frames"
	fi
}

# The virtio_crypto skciphers in /proc/crypto as "name=driver,selftest ..." (name, driver and selftest of each).
virtio_algs() {
	awk '/^name/ { n = $3 } /^driver/ { d = $3 } /^selftest/ { t = $3 } /^type/ { ty = $3 }
	     /^$/ { if (d ~ /^virtio/) printf "%s=%s,%s,%s ", n, d, ty, t; n = d = t = ty = "" }' /proc/crypto
}

step_crypto() { # FLOOD SECS
	local algs drv line="" i
	# The kernel self-tests a new algorithm through the device before handing it out: wait for that to end, so the
	# backend's count at the mark holds none of the guest's own requests.
	for i in $(seq 600); do algs=$(virtio_algs); case "$algs" in *cbc*passed*) break ;; esac; sleep 0.1; done
	echo "HPQ-DATA crypto-algs $algs"
	drv=$(echo "$algs" | tr ' ' '\n' | sed -n 's/^cbc(aes)=\([^,]*\),skcipher,passed$/\1/p' | head -1)
	if [ -z "$drv" ]; then result crypto-kat FAIL "no virtio cbc(aes) skcipher that passed its self-test: '$algs'"; return; fi
	echo "HPQ-SYNC crypto-mark"
	read -t 180 line < /dev/ttyS1
	[ "$line" = "go crypto-mark" ] || { result crypto-kat FAIL "no 'go crypto-mark' from the host (got '$line')"; return; }
	/bin/afalg_kat $drv $1 $2
}

step_counters() {
	local s=/sys/class/net/eth0/statistics
	echo "HPQ-DATA counters tx_packets=$(cat $s/tx_packets) rx_packets=$(cat $s/rx_packets) tx_bytes=$(cat $s/tx_bytes) rx_bytes=$(cat $s/rx_bytes) rx_dropped=$(cat $s/rx_dropped) tx_dropped=$(cat $s/tx_dropped)"
}

# hpq.dev=crypto: the machine has a virtio-crypto device and no NIC.
crypto_up() {
	for i in $(seq 600); do ls /sys/bus/virtio/drivers/virtio_crypto/virtio* > /dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

# Runs the plan's steps in order.
run_plan() {
	for step in $(echo "$PLAN" | tr ',' ' '); do
		set -- $(echo "$step" | tr ':' ' ')
		kind=$1; shift
		case $kind in
			ping) ping_check "$@" ;;
			mqping) step_mqping "$@" ;;
			arp) step_arp "$@" ;;
			mtu) step_mtu "$@" ;;
			unbind) step_unbind "$@" ;;
			pcireset) step_pcireset "$@" ;;
			sync) step_sync "$@" ;;
			migrate) step_migrate "$@" ;;
			hold) step_hold "$@" ;;
			flood) step_flood "$@" ;;
			echoflood) step_echoflood "$@" ;;
			counters) step_counters ;;
			crypto) step_crypto "$@" ;;
			*) echo "HPQ-LOG unknown step $kind" ;;
		esac
	done
	echo "HPQ-DONE uptime=$(now)"
}

stty -F /dev/ttyS1 -echo 2>/dev/null
if [ "$(arg hpq.dev)" = crypto ]; then
	if crypto_up; then
		echo "HPQ-BOOTED uptime=$(now) virtio_crypto=$(ls -d /sys/bus/virtio/drivers/virtio_crypto/virtio* | xargs -n1 basename | tr '\n' ' ')"
		run_plan
	else
		echo "HPQ-LOG virtio_crypto bound no device within 60 s"
		ls /sys/bus/virtio/devices /sys/bus/pci/devices; dmesg | grep -i virtio | tail -10
	fi
elif net_up; then
	echo "HPQ-BOOTED uptime=$(now) mtu=$(cat /sys/class/net/eth0/mtu) queues=$(ls /sys/class/net/eth0/queues | tr '\n' ' ')"
	run_plan
else
	echo "HPQ-LOG eth0 never appeared: virtio_net did not probe the device"
	ls /sys/bus/virtio/devices /sys/bus/pci/devices
fi
poweroff -f
