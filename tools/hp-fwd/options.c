#include "options.h"

#include <ctype.h>
#include <sched.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
	fputs("usage: hp-fwd --socket PATH [--client] [--mode io|rxonly|txonly|macswap|icmpecho] [--pkt-len N]\n"
	      "              [--burst N] [--queues N] [--seconds N] [--stats-interval S] [--json FILE] [--mac MAC]\n"
	      "              [--rx-mode poll|interrupt|adaptive] [--idle-us N] [--idle-sleep US]\n"
	      "              [--packed-only|--split-only] [--postcopy] [--iommu] [--vring-stats] [--lcores LIST|--cpu N]\n"
	      "              [--async [--async-cpu N] [--async-lockstep]]\n"
	      "              [--takeover] [--takeover-path PATH]\n"
	      "       hp-fwd --demo [--seconds N]\n"
	      "  --socket PATH         vhost-user socket (server: created here; --client: the frontend's)\n"
	      "  --client              connect to the frontend's socket (it listens) instead of listening\n"
	      "  --mode M              io (default): guest TX back to guest RX; rxonly: receive and free;\n"
	      "                        txonly: send generated UDP/IPv4 frames; macswap: io with MACs swapped;\n"
	      "                        icmpecho: answer ARP and ICMP echo requests to any IPv4 address, count the rest\n"
	      "  --pkt-len N           txonly frame length in bytes, 60..9000 (default 64)\n"
	      "  --burst N             packets per burst, 1..512 (default 32)\n"
	      "  --queues N            queue pairs, one forwarding thread each, 1..128 (default 1)\n"
	      "  --seconds N           stop after N seconds (default: run until SIGINT/SIGTERM)\n"
	      "  --stats-interval S    live per-queue rates every S seconds (default 1; 0 disables)\n"
	      "  --json FILE           write totals and rates as JSON at exit\n"
	      "  --mac MAC             icmpecho: the MAC address ARP replies give (default 02:00:00:00:00:02)\n"
	      "  --rx-mode M           when a guest TX queue is empty: poll (default): busy-poll, as testpmd;\n"
	      "                        interrupt: ask the guest to kick, check again, sleep on the kick fd (at most\n"
	      "                        100 ms), then poll again without kicks: an idle device costs no CPU, each\n"
	      "                        first packet after a quiet time costs a wake-up; adaptive: busy-poll while\n"
	      "                        packets come, sleep as interrupt once the queue has been empty for --idle-us\n"
	      "  --idle-us N           adaptive: microseconds of empty polls before sleeping, 1..10000000 (default 1000)\n"
	      "  --idle-sleep US       poll mode: after 1000 empty polls in a row, sleep US microseconds (1..100000)\n"
	      "                        before each poll until packets come again, leaving the CPU to others (a VM's\n"
	      "                        vCPUs on a small host); default 0: busy-poll always. Not with interrupt or\n"
	      "                        adaptive, which sleep until the guest kicks instead\n"
	      "  --lcores LIST         pin the forwarding threads as testpmd's -l: queue pair q's thread runs on the q-th\n"
	      "                        CPU of LIST (wrapping around), e.g. 2 or 2,3 or 2-5; each CPU must be one this\n"
	      "                        process may run on (default: no pinning)\n"
	      "  --cpu N               the same as --lcores N\n"
	      "  --packed-only         refuse devices that do not negotiate VIRTIO_F_RING_PACKED\n"
	      "  --split-only          do not offer VIRTIO_F_RING_PACKED\n",
	      stderr);
	fputs("  --postcopy            offer postcopy live migration (VHOST_USER_PROTOCOL_F_PAGEFAULT): as a migration's\n"
	      "                        destination, guest pages not yet copied are fetched from the source on first touch\n"
	      "  --iommu               offer VIRTIO_F_IOMMU_PLATFORM (a guest behind a vIOMMU: buffers and rings are\n"
	      "                        IOVAs, translated through the IOTLB the frontend fills); the summary's per-queue\n"
	      "                        lines add iotlb_hits and iotlb_misses; replies the guest RX ring does not take at\n"
	      "                        once (a buffer the IOTLB does not map yet) are offered again for up to 100 ms.\n"
	      "                        Implies --vring-stats\n"
	      "  --vring-stats         per-vring statistics (HP_VHOST_USER_NET_STATS_ENABLE): each burst also counts\n"
	      "                        packets and bytes by size, and a 'vring_stats' line per vring at destroy_device\n"
	      "                        gives each nonzero counter (guest_notifications: call eventfd writes); perf/iotlb-ipp.sh\n"
	      "                        measures --iommu against this\n"
	      "  --takeover            hitless upgrade: take the devices of the hp-fwd serving --socket over (the frontend\n"
	      "                        sees nothing), or start normally when none runs; prints \"takeover state=taken|\n"
	      "                        none|fallback devices=N pause_ns=N peer_pid=P\". Every hp-fwd serves takeovers:\n"
	      "                        once its devices were handed over it prints its summary and exits 0\n"
	      "  --takeover-path PATH  the takeover socket (default: SOCKET.takeover), to serve and to take over from\n",
	      stderr);
	fputs("  --async               every mode enqueues and dequeues through the async copy path (ASYNC_COPY): the\n"
	      "                        built-in copy engine's thread copies the packets, the forwarding thread only\n"
	      "                        submits and polls completions (hp_vhost_submit_enqueue_burst and friends,\n"
	      "                        hp_vhost_async_try_dequeue_burst)\n"
	      "  --async-cpu N         pin the copy engine's thread to CPU N (implies --async)\n"
	      "  --async-lockstep      txonly/rxonly --async for measurement: after each submit (txonly) or dequeue\n"
	      "                        (rxonly), wait outside the library until the copy engine copied what the call\n"
	      "                        handed it, then poll it back (no empty calls; implies --async)\n"
	      "  --demo                run HotPath's own frontend (hp-frontend) against hp-fwd and print a table\n",
	      stderr);
}

static bool bad(const char *what, const char *value)
{
	fprintf(stderr, "hp-fwd: %s%s%s\n", what, value ? ": " : "", value ? value : "");
	usage();
	return false;
}

/* A whole decimal number in [lo, hi]. */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
	char *end;
	unsigned long v;
	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return false;
	*out = (unsigned)v;
	return true;
}

/* A CPU list as testpmd's -l: "N", "A-B" and commas between them, at most FWD_MAX_QUEUES CPUs, each one this process
 * may run on (its affinity mask). */
static bool parse_lcores(const char *s, struct fwd_options *o)
{
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		CPU_ZERO(&allowed);
	o->nr_lcores = 0;
	while (*s != '\0') {
		char *end;
		unsigned long a, b;
		if (!isdigit((unsigned char)*s))
			return false;
		a = b = strtoul(s, &end, 10);
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return false;
			b = strtoul(end + 1, &end, 10);
		}
		if (b < a || b >= CPU_SETSIZE || (*end != ',' && *end != '\0') || (*end == ',' && end[1] == '\0'))
			return false;
		for (unsigned long c = a; c <= b; c++) {
			if (o->nr_lcores == FWD_MAX_QUEUES || !CPU_ISSET(c, &allowed))
				return false;
			o->lcores[o->nr_lcores++] = (unsigned)c;
		}
		s = *end == ',' ? end + 1 : end;
	}
	return o->nr_lcores > 0;
}

static bool parse_rx_mode(const char *s, enum rx_mode *m)
{
	static const struct { const char *name; enum rx_mode mode; } modes[] = {
		{ "poll", RX_POLL }, { "interrupt", RX_INTERRUPT }, { "adaptive", RX_ADAPTIVE },
	};
	for (size_t i = 0; s != NULL && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(s, modes[i].name) == 0) {
			*m = modes[i].mode;
			return true;
		}
	}
	return false;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;
	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= 0.0) || v > 86400.0)
		return false;
	*out = v;
	return true;
}

static bool parse_mode(const char *s, enum fwd_mode *m)
{
	static const struct { const char *name; enum fwd_mode mode; } modes[] = {
		{ "io", FWD_IO },           { "rxonly", FWD_RXONLY },     { "txonly", FWD_TXONLY },
		{ "macswap", FWD_MACSWAP }, { "icmpecho", FWD_ICMPECHO },
	};
	for (size_t i = 0; s != NULL && i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(s, modes[i].name) == 0) {
			*m = modes[i].mode;
			return true;
		}
	}
	return false;
}

/* Six hexadecimal bytes separated by ':', a unicast address. */
static bool parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		char *end;
		unsigned long v;
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return false;
		v = strtoul(s, &end, 16);
		if (end != s + 2 || *end != (i < 5 ? ':' : '\0'))
			return false;
		mac[i] = (uint8_t)v;
		s = end + (i < 5);
	}
	return (mac[0] & 1) == 0;
}

const char *mode_name(enum fwd_mode m)
{
	switch (m) {
	case FWD_IO: return "io";
	case FWD_RXONLY: return "rxonly";
	case FWD_TXONLY: return "txonly";
	case FWD_MACSWAP: return "macswap";
	case FWD_ICMPECHO: return "icmpecho";
	}
	return "?";
}

bool parse_options(int argc, char **argv, struct fwd_options *o)
{
	bool demo_only_ok = true; /* --demo takes --seconds and nothing else */
	memset(o, 0, sizeof(*o));
	o->mode = FWD_IO;
	o->pkt_len = 64;
	o->burst = 32;
	o->queues = 1;
	o->stats_interval = 1.0;
	o->rx_mode = RX_POLL;
	o->async_cpu = -1;
	o->idle_us = 1000;
	memcpy(o->mac, (const uint8_t[6]){ 0x02, 0, 0, 0, 0, 0x02 }, 6);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--demo") == 0) {
			o->demo = true;
			continue;
		}
		if (strcmp(a, "--client") == 0) {
			o->client = true;
			demo_only_ok = false;
			continue;
		}
		if (strcmp(a, "--packed-only") == 0) {
			o->packed_only = true;
			demo_only_ok = false;
			continue;
		}
		if (strcmp(a, "--split-only") == 0) {
			o->split_only = true;
			demo_only_ok = false;
			continue;
		}
		if (strcmp(a, "--postcopy") == 0) {
			o->postcopy = true;
			demo_only_ok = false;
			continue;
		}
		if (strcmp(a, "--iommu") == 0) {
			o->iommu = true;
			o->vring_stats = true;
			demo_only_ok = false;
			continue;
		}
		if (strcmp(a, "--async") == 0) {
			o->async = true;
			demo_only_ok = false;
			continue;
		}
		if (strcmp(a, "--async-lockstep") == 0) {
			o->async = true;
			o->async_lockstep = true;
			demo_only_ok = false;
			continue;
		}
		if (strcmp(a, "--takeover") == 0) {
			o->takeover = true;
			demo_only_ok = false;
			continue;
		}
		if (strcmp(a, "--vring-stats") == 0) {
			o->vring_stats = true;
			demo_only_ok = false;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage();
			exit(0);
		}
		/* Every other option takes a value. */
		if (v == NULL)
			return bad("missing value for", a);
		i++;
		if (strcmp(a, "--seconds") == 0) {
			if (!parse_uint(v, 0, 86400, &o->seconds))
				return bad("--seconds wants 0..86400", v);
			continue;
		}
		demo_only_ok = false;
		if (strcmp(a, "--socket") == 0) {
			if (*v == '\0' || strlen(v) > 107)
				return bad("--socket wants a path of 1..107 bytes", v);
			o->socket = v;
		} else if (strcmp(a, "--mode") == 0) {
			if (!parse_mode(v, &o->mode))
				return bad("--mode wants io, rxonly, txonly, macswap or icmpecho", v);
		} else if (strcmp(a, "--pkt-len") == 0) {
			if (!parse_uint(v, FWD_MIN_PKT_LEN, FWD_MAX_PKT_LEN, &o->pkt_len))
				return bad("--pkt-len wants 60..9000", v);
		} else if (strcmp(a, "--burst") == 0) {
			if (!parse_uint(v, 1, FWD_MAX_BURST, &o->burst))
				return bad("--burst wants 1..512", v);
		} else if (strcmp(a, "--queues") == 0) {
			if (!parse_uint(v, 1, FWD_MAX_QUEUES, &o->queues))
				return bad("--queues wants 1..128", v);
		} else if (strcmp(a, "--stats-interval") == 0) {
			if (!parse_seconds(v, &o->stats_interval))
				return bad("--stats-interval wants seconds >= 0", v);
		} else if (strcmp(a, "--idle-sleep") == 0) {
			if (!parse_uint(v, 0, 100000, &o->idle_sleep_us))
				return bad("--idle-sleep wants microseconds 0..100000", v);
		} else if (strcmp(a, "--rx-mode") == 0) {
			if (!parse_rx_mode(v, &o->rx_mode))
				return bad("--rx-mode wants poll, interrupt or adaptive", v);
		} else if (strcmp(a, "--idle-us") == 0) {
			if (!parse_uint(v, 1, 10000000, &o->idle_us))
				return bad("--idle-us wants microseconds 1..10000000", v);
		} else if (strcmp(a, "--mac") == 0) {
			if (!parse_mac(v, o->mac))
				return bad("--mac wants a unicast address like 02:00:00:00:00:02", v);
		} else if (strcmp(a, "--lcores") == 0 || strcmp(a, "--cpu") == 0) {
			if (o->nr_lcores != 0)
				return bad("--lcores and --cpu are given once", NULL);
			if (strcmp(a, "--cpu") == 0 && strchr(v, ',') != NULL)
				return bad("--cpu wants one CPU (--lcores takes a list)", v);
			if (!parse_lcores(v, o))
				return bad("--lcores wants CPUs this process may run on, as N, A-B or a comma list of them", v);
		} else if (strcmp(a, "--async-cpu") == 0) {
			unsigned cpu;
			if (!parse_uint(v, 0, 1023, &cpu))
				return bad("--async-cpu wants a CPU number 0..1023", v);
			o->async_cpu = (int)cpu;
			o->async = true;
		} else if (strcmp(a, "--takeover-path") == 0) {
			if (*v == '\0' || strlen(v) > 107)
				return bad("--takeover-path wants a path of 1..107 bytes", v);
			o->takeover_path = v;
		} else if (strcmp(a, "--json") == 0) {
			if (*v == '\0')
				return bad("--json wants a file name", NULL);
			o->json = v;
		} else {
			return bad("unknown option", a);
		}
	}
	if (o->demo)
		return demo_only_ok ? true : bad("--demo takes only --seconds", NULL);
	if (o->socket == NULL)
		return bad("--socket is required", NULL);
	if (o->idle_sleep_us != 0 && o->rx_mode != RX_POLL)
		return bad("--idle-sleep is for --rx-mode poll (interrupt and adaptive sleep on the kick fd)", NULL);
	if (o->packed_only && o->split_only)
		return bad("--packed-only and --split-only exclude each other", NULL);
	if (o->async_lockstep && o->mode != FWD_TXONLY && o->mode != FWD_RXONLY)
		return bad("--async-lockstep is for --mode txonly or rxonly", NULL);
	return true;
}
