/*
 * hp-fwd's icmpecho responder (tools/hp-fwd/icmpecho.c) on frames built here, no peer:
 *   - ICMP echo request -> reply: MACs and IPs swapped, type 0, both checksums valid, payload kept; odd lengths;
 *     chains cut at odd offsets inside the ICMP message; IPv4 options;
 *   - ARP request -> reply for any asked address; probes, announcements and replies ignored;
 *   - each malformed or foreign variant gets its verdict and leaves the frame unchanged;
 *   - every prefix of an echo request and of an ARP request placed against a PROT_NONE page (a read or write past
 *     the frame faults), single segment and chained;
 *   - 200,000 random frames (random bytes under plausible headers) against the guard page: no fault, and every
 *     frame it answers carries valid checksums.
 * Links only hotpath.h's inline helpers (the mbufs are built by hand).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hotpath.h>

#include "check.h"
#include "icmpecho.h"
#include "inet.h"

static const uint8_t GUEST_MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t PEER_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t RESPONDER_MAC[6] = { 0x02, 0x48, 0x50, 0x00, 0x00, 0x01 };
static const uint8_t GUEST_IP[4] = { 10, 0, 0, 1 };
static const uint8_t PEER_IP[4] = { 10, 0, 0, 2 };

/* An Ethernet/IPv4/ICMP echo request with payload_len bytes of payload and opt_len bytes of IPv4 options (NOPs).
 * Returns the frame length. */
static size_t build_echo(uint8_t *f, size_t payload_len, size_t opt_len)
{
	size_t ihl = 20 + opt_len, icmp_len = 8 + payload_len;
	uint8_t *ip = f + 14, *icmp = ip + ihl;
	memcpy(f, PEER_MAC, 6);
	memcpy(f + 6, GUEST_MAC, 6);
	wr16(f + 12, 0x0800);
	memset(ip, 0, ihl);
	ip[0] = (uint8_t)(0x40 | ihl / 4);
	wr16(ip + 2, (uint16_t)(ihl + icmp_len));
	wr16(ip + 4, 0x1234);
	wr16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, GUEST_IP, 4);
	memcpy(ip + 16, PEER_IP, 4);
	memset(ip + 20, 1, opt_len); /* NOP options */
	wr16(ip + 10, inet_checksum(ip, ihl));
	icmp[0] = 8;
	icmp[1] = 0;
	wr16(icmp + 2, 0);
	wr16(icmp + 4, 0xBEEF); /* identifier */
	wr16(icmp + 6, 7);      /* sequence */
	for (size_t i = 0; i < payload_len; i++)
		icmp[8 + i] = (uint8_t)(i * 7 + 3);
	wr16(icmp + 2, inet_checksum(icmp, icmp_len));
	return 14 + ihl + icmp_len;
}

static size_t build_arp(uint8_t *f, uint16_t op, const uint8_t spa[4], const uint8_t tpa[4])
{
	uint8_t *a = f + 14;
	memset(f, 0xFF, 6);
	memcpy(f + 6, GUEST_MAC, 6);
	wr16(f + 12, 0x0806);
	wr16(a, 1);
	wr16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, op);
	memcpy(a + 8, GUEST_MAC, 6);
	memcpy(a + 14, spa, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, tpa, 4);
	memset(f + 42, 0, 18); /* padded to the 60-byte minimum, as a NIC would */
	return 60;
}

static void one_segment(struct hp_mbuf *m, uint8_t *data, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->buf_addr = data;
	m->buf_len = (uint16_t)len;
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	m->nb_segs = 1;
	m->refcnt = 1;
}

/* Splits frame f (len bytes) into segments at the given cut offsets, copying each piece into its own buffer. */
static void chain(struct hp_mbuf *segs, uint8_t bufs[][2048], const uint8_t *f, size_t len, const size_t *cuts,
		  unsigned ncuts)
{
	size_t start = 0;
	for (unsigned i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		memcpy(bufs[i], f + start, end - start);
		one_segment(&segs[i], bufs[i], end - start);
		segs[i].next = i < ncuts ? &segs[i + 1] : NULL;
		segs[i].pkt_len = 0;
		start = end;
	}
	segs[0].pkt_len = (uint32_t)len;
	segs[0].nb_segs = (uint16_t)(ncuts + 1);
}

static void gather(const struct hp_mbuf *m, uint8_t *out)
{
	for (; m != NULL; m = m->next) {
		memcpy(out, hp_pktmbuf_mtod(m), m->data_len);
		out += m->data_len;
	}
}

/* The reply to the request req (both len bytes) is exactly what a host would send back. */
static void check_echo_reply(const uint8_t *req, const uint8_t *rep, size_t len, const char *what)
{
	size_t ihl = (size_t)(req[14] & 0xF) * 4, tot = rd16(req + 16);
	const uint8_t *rip = rep + 14, *ricmp = rip + ihl;
	CHECK(memcmp(rep, req + 6, 6) == 0 && memcmp(rep + 6, req, 6) == 0, "%s: MACs swapped", what);
	CHECK(memcmp(rip + 12, req + 14 + 16, 4) == 0 && memcmp(rip + 16, req + 14 + 12, 4) == 0, "%s: IPs swapped",
	      what);
	CHECK(inet_checksum(rip, ihl) == 0, "%s: IPv4 header checksum valid", what);
	CHECK(ricmp[0] == 0 && ricmp[1] == 0, "%s: type %u code %u", what, ricmp[0], ricmp[1]);
	CHECK(inet_checksum(ricmp, tot - ihl) == 0, "%s: ICMP checksum valid (0x%04x)", what, rd16(ricmp + 2));
	CHECK(memcmp(ricmp + 4, req + 14 + ihl + 4, tot - ihl - 4) == 0, "%s: identifier, sequence, payload kept",
	      what);
	CHECK(memcmp(rip, req + 14, 2) == 0 && memcmp(rip + 2, req + 16, 10) == 0, "%s: other IPv4 fields kept", what);
	CHECK(len == tot + 14 || memcmp(rep + 14 + tot, req + 14 + tot, len - 14 - tot) == 0, "%s: padding kept", what);
}

static void test_echo(void)
{
	static const size_t payloads[] = { 0, 1, 56, 57, 1472, 1473 };
	uint8_t req[2048], f[2048];
	struct hp_mbuf m;
	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		for (size_t opt = 0; opt <= 40; opt += 20) {
			char what[64];
			size_t len = build_echo(req, payloads[i], opt);
			snprintf(what, sizeof(what), "echo payload %zu options %zu", payloads[i], opt);
			memcpy(f, req, len);
			one_segment(&m, f, len);
			CHECK(icmpecho_reply(&m, RESPONDER_MAC) == ECHO_ICMP_REPLY, "%s answered", what);
			check_echo_reply(req, f, len, what);
			CHECK(icmpecho_reply(&m, RESPONDER_MAC) == ECHO_IGNORED, "%s: the reply itself is not answered", what);
		}
	}
	/* Ethernet padding after a short IPv4 packet (a 0-byte payload echo is 42 bytes, NICs pad to 60). */
	{
		size_t len = build_echo(req, 0, 0);
		memset(req + len, 0xAB, 60 - len);
		memcpy(f, req, 60);
		one_segment(&m, f, 60);
		CHECK(icmpecho_reply(&m, RESPONDER_MAC) == ECHO_ICMP_REPLY, "padded echo answered");
		check_echo_reply(req, f, 60, "padded echo");
	}
}

static void test_echo_chained(void)
{
	static uint8_t bufs[4][2048];
	uint8_t req[2048], out[2048];
	struct hp_mbuf segs[4];
	size_t len = build_echo(req, 1473, 0);
	/* Cuts inside the ICMP message at odd and even offsets, one right after the ICMP header. */
	static const size_t cut_sets[][3] = { { 42, 43, 1001 }, { 43, 500, 501 }, { 100, 777, 1400 }, { 50, 51, 52 } };
	for (size_t c = 0; c < sizeof(cut_sets) / sizeof(cut_sets[0]); c++) {
		char what[64];
		snprintf(what, sizeof(what), "chained echo cut at %zu/%zu/%zu", cut_sets[c][0], cut_sets[c][1],
			 cut_sets[c][2]);
		chain(segs, bufs, req, len, cut_sets[c], 3);
		CHECK(icmpecho_reply(&segs[0], RESPONDER_MAC) == ECHO_ICMP_REPLY, "%s answered", what);
		gather(&segs[0], out);
		check_echo_reply(req, out, len, what);
	}
	/* The ICMP header itself split from the IPv4 header: not answered, not touched. */
	{
		static const size_t cut[1] = { 36 };
		chain(segs, bufs, req, len, cut, 1);
		CHECK(icmpecho_reply(&segs[0], RESPONDER_MAC) == ECHO_IGNORED, "headers across segments ignored");
		gather(&segs[0], out);
		CHECK(memcmp(out, req, len) == 0, "headers across segments: frame unchanged");
	}
	/* A chain shorter than pkt_len says (an inconsistent chain): malformed, no read past the last segment. */
	{
		static const size_t cut[1] = { 600 };
		chain(segs, bufs, req, len, cut, 1);
		segs[1].data_len = 10;
		CHECK(icmpecho_reply(&segs[0], RESPONDER_MAC) == ECHO_MALFORMED, "chain shorter than pkt_len malformed");
	}
}

static void test_arp(void)
{
	static const uint8_t zero[4] = { 0, 0, 0, 0 }, anyip[4] = { 192, 0, 2, 77 };
	uint8_t f[64], req[64];
	struct hp_mbuf m;
	size_t len = build_arp(req, 1, GUEST_IP, anyip);
	memcpy(f, req, len);
	one_segment(&m, f, len);
	CHECK(icmpecho_reply(&m, RESPONDER_MAC) == ECHO_ARP_REPLY, "ARP request answered");
	CHECK(memcmp(f, GUEST_MAC, 6) == 0 && memcmp(f + 6, RESPONDER_MAC, 6) == 0, "ARP reply Ethernet addresses");
	CHECK(rd16(f + 12) == 0x0806 && rd16(f + 14) == 1 && rd16(f + 16) == 0x0800 && f[18] == 6 && f[19] == 4,
	      "ARP reply header");
	CHECK(rd16(f + 20) == 2, "ARP operation reply");
	CHECK(memcmp(f + 22, RESPONDER_MAC, 6) == 0 && memcmp(f + 28, anyip, 4) == 0, "sender: our MAC, asked IP");
	CHECK(memcmp(f + 32, GUEST_MAC, 6) == 0 && memcmp(f + 38, GUEST_IP, 4) == 0, "target: the asker");
	CHECK(icmpecho_reply(&m, RESPONDER_MAC) == ECHO_IGNORED, "the ARP reply itself is not answered");

	len = build_arp(req, 1, zero, anyip);
	memcpy(f, req, len);
	CHECK(icmpecho_reply(&m, RESPONDER_MAC) == ECHO_IGNORED && memcmp(f, req, len) == 0, "ARP probe ignored");
	len = build_arp(req, 1, GUEST_IP, GUEST_IP);
	memcpy(f, req, len);
	CHECK(icmpecho_reply(&m, RESPONDER_MAC) == ECHO_IGNORED && memcmp(f, req, len) == 0, "ARP announcement ignored");
	len = build_arp(req, 1, GUEST_IP, anyip);
	req[18] = 8; /* hardware address length 8 */
	memcpy(f, req, len);
	CHECK(icmpecho_reply(&m, RESPONDER_MAC) == ECHO_IGNORED && memcmp(f, req, len) == 0, "non-Ethernet ARP ignored");
}

/* One mutation of a valid echo request and the verdict it must get; the frame must stay as it was. */
struct variant {
	const char *name;
	enum echo_verdict want;
	void (*mutate)(uint8_t *f, size_t *len);
};

static void fix_ip_csum(uint8_t *f)
{
	size_t ihl = (size_t)(f[14] & 0xF) * 4;
	wr16(f + 24, 0);
	wr16(f + 24, inet_checksum(f + 14, ihl < 20 ? 20 : ihl));
}
static void m_ip_csum(uint8_t *f, size_t *len) { (void)len; f[24] ^= 0x40; }
static void m_icmp_csum(uint8_t *f, size_t *len) { (void)len; f[36] ^= 0x01; }
static void m_payload(uint8_t *f, size_t *len) { f[*len - 1] ^= 0x10; }
static void m_ihl4(uint8_t *f, size_t *len) { (void)len; f[14] = 0x44; fix_ip_csum(f); }
static void m_ihl15(uint8_t *f, size_t *len) { (void)len; f[14] = 0x4F; }
static void m_version6(uint8_t *f, size_t *len) { (void)len; f[14] = 0x65; fix_ip_csum(f); }
static void m_totlen_long(uint8_t *f, size_t *len) { wr16(f + 16, (uint16_t)(*len - 14 + 1)); fix_ip_csum(f); }
static void m_totlen_short(uint8_t *f, size_t *len) { (void)len; wr16(f + 16, 19); fix_ip_csum(f); }
static void m_icmp_short(uint8_t *f, size_t *len) { wr16(f + 16, 27); fix_ip_csum(f); *len = 14 + 27; }
static void m_runt(uint8_t *f, size_t *len) { (void)f; *len = 13; }
static void m_mf(uint8_t *f, size_t *len) { (void)len; wr16(f + 20, 0x2000); fix_ip_csum(f); }
static void m_offset(uint8_t *f, size_t *len) { (void)len; wr16(f + 20, 0x0001); fix_ip_csum(f); }
static void m_udp(uint8_t *f, size_t *len) { (void)len; f[23] = 17; wr16(f + 36, 8); fix_ip_csum(f); }
static void m_udp7_mcast_src(uint8_t *f, size_t *len) { (void)len; f[23] = 17; wr16(f + 36, 7); f[6] |= 1; fix_ip_csum(f); }
static void m_udp7_frag(uint8_t *f, size_t *len) { (void)len; f[23] = 17; wr16(f + 36, 7); wr16(f + 20, 0x2000); fix_ip_csum(f); }
static void m_udp9(uint8_t *f, size_t *len) { (void)len; f[23] = 17; wr16(f + 36, 9); fix_ip_csum(f); }
static void m_udp9_frag(uint8_t *f, size_t *len) { (void)len; f[23] = 17; wr16(f + 36, 9); wr16(f + 20, 0x2000); fix_ip_csum(f); }
static void m_type13(uint8_t *f, size_t *len) { (void)len; f[34] = 13; }
static void m_code1(uint8_t *f, size_t *len) { (void)len; f[35] = 1; }
static void m_mcast_ip(uint8_t *f, size_t *len) { (void)len; f[30] = 224; fix_ip_csum(f); }
static void m_bcast_ip(uint8_t *f, size_t *len) { (void)len; memset(f + 30, 255, 4); fix_ip_csum(f); }
static void m_zero_src(uint8_t *f, size_t *len) { (void)len; memset(f + 26, 0, 4); fix_ip_csum(f); }
static void m_bcast_mac(uint8_t *f, size_t *len) { (void)len; memset(f, 0xFF, 6); }
static void m_vlan(uint8_t *f, size_t *len) { (void)len; wr16(f + 12, 0x8100); }
static void m_ipv6(uint8_t *f, size_t *len) { (void)len; wr16(f + 12, 0x86DD); }

static void test_variants(void)
{
	static const struct variant variants[] = {
		{ "bad IPv4 header checksum", ECHO_MALFORMED, m_ip_csum },
		{ "bad ICMP checksum", ECHO_MALFORMED, m_icmp_csum },
		{ "payload byte flipped", ECHO_MALFORMED, m_payload },
		{ "IHL 4 (16-byte header)", ECHO_MALFORMED, m_ihl4 },
		{ "IHL 15 past the packet", ECHO_MALFORMED, m_ihl15 },
		{ "version 6 under EtherType IPv4", ECHO_MALFORMED, m_version6 },
		{ "total length past the frame", ECHO_MALFORMED, m_totlen_long },
		{ "total length shorter than the header", ECHO_MALFORMED, m_totlen_short },
		{ "ICMP shorter than its header", ECHO_MALFORMED, m_icmp_short },
		{ "13-byte runt", ECHO_MALFORMED, m_runt },
		{ "first fragment (MF)", ECHO_IGNORED, m_mf },
		{ "later fragment (offset)", ECHO_IGNORED, m_offset },
		{ "UDP to port 8", ECHO_IGNORED, m_udp },
		{ "UDP to the echo port from a multicast MAC", ECHO_IGNORED, m_udp7_mcast_src },
		{ "UDP to the echo port, first fragment", ECHO_IGNORED, m_udp7_frag },
		{ "UDP to the discard port", ECHO_DISCARDED, m_udp9 },
		{ "UDP to the discard port, first fragment", ECHO_IGNORED, m_udp9_frag },
		{ "ICMP timestamp request", ECHO_IGNORED, m_type13 },
		{ "echo request code 1", ECHO_IGNORED, m_code1 },
		{ "multicast destination IP", ECHO_IGNORED, m_mcast_ip },
		{ "broadcast destination IP", ECHO_IGNORED, m_bcast_ip },
		{ "source 0.0.0.0", ECHO_IGNORED, m_zero_src },
		{ "broadcast destination MAC", ECHO_IGNORED, m_bcast_mac },
		{ "VLAN tag", ECHO_IGNORED, m_vlan },
		{ "IPv6 EtherType", ECHO_IGNORED, m_ipv6 },
	};
	uint8_t req[2048], f[2048];
	struct hp_mbuf m;
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		size_t len = build_echo(req, 56, 0);
		enum echo_verdict got;
		variants[i].mutate(req, &len);
		memcpy(f, req, len);
		one_segment(&m, f, len);
		got = icmpecho_reply(&m, RESPONDER_MAC);
		CHECK(got == variants[i].want, "%s: %s, expected %s", variants[i].name, echo_verdict_name(got),
		      echo_verdict_name(variants[i].want));
		CHECK(memcmp(f, req, len) == 0, "%s: frame unchanged", variants[i].name);
	}
}

/* UDP to the echo port comes back with the MACs swapped and every other byte as it was. */
static void test_udp_reflect(void)
{
	uint8_t req[2048], f[2048];
	struct hp_mbuf m;
	size_t len = build_echo(req, 1000, 0);
	enum echo_verdict got;
	req[23] = 17;
	wr16(req + 36, 7);
	fix_ip_csum(req);
	memcpy(f, req, len);
	one_segment(&m, f, len);
	got = icmpecho_reply(&m, RESPONDER_MAC);
	CHECK(got == ECHO_UDP_REFLECTED, "UDP to port 7: %s, expected udp_reflected", echo_verdict_name(got));
	CHECK(memcmp(f, req + 6, 6) == 0 && memcmp(f + 6, req, 6) == 0, "reflected frame: MACs swapped");
	CHECK(memcmp(f + 12, req + 12, len - 12) == 0, "reflected frame: bytes after the MACs unchanged");
}

/* A page of frame space followed by a PROT_NONE page: a frame placed to end at the boundary faults on any access
 * past its end. */
static uint8_t *g_guard_end;

static void setup_guard(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *p = mmap(NULL, (size_t)page * 3, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + 2 * page, (size_t)page, PROT_NONE) != 0) {
		perror("guard page");
		exit(1);
	}
	g_guard_end = p + 2 * page;
}

/* Judges the first l bytes of frame, placed to end at the guard page, as one segment; *touched: they changed. */
static enum echo_verdict judge_prefix(const uint8_t *frame, size_t l, bool *touched)
{
	uint8_t *f = g_guard_end - l;
	struct hp_mbuf m;
	enum echo_verdict v;
	memcpy(f, frame, l);
	one_segment(&m, f, l);
	v = icmpecho_reply(&m, RESPONDER_MAC);
	*touched = memcmp(f, frame, l) != 0;
	return v;
}

static void test_truncation(void)
{
	uint8_t echo[2048], arp[64];
	size_t elen = build_echo(echo, 100, 0), alen = build_arp(arp, 1, GUEST_IP, PEER_IP);
	struct hp_mbuf segs[2];
	int bad_echo = 0, bad_arp = 0, bad_chain = 0;
	for (size_t l = 0; l <= elen; l++) {
		bool touched;
		enum echo_verdict v = judge_prefix(echo, l, &touched);
		uint8_t *f = g_guard_end - l;
		if (l < elen ? v == ECHO_ICMP_REPLY || touched : v != ECHO_ICMP_REPLY)
			bad_echo++;
		/* The same prefix as a chain whose first segment holds the headers and whose last ends at the guard. */
		if (l > 42) {
			static uint8_t head[64];
			memcpy(head, echo, 42);
			one_segment(&segs[0], head, 42);
			one_segment(&segs[1], f + 42, l - 42);
			segs[0].next = &segs[1];
			segs[0].nb_segs = 2;
			segs[0].pkt_len = (uint32_t)l;
			segs[1].pkt_len = 0;
			v = icmpecho_reply(&segs[0], RESPONDER_MAC);
			if (l < elen ? v != ECHO_MALFORMED : v != ECHO_ICMP_REPLY)
				bad_chain++;
		}
	}
	for (size_t l = 0; l <= alen; l++) {
		bool touched;
		enum echo_verdict v = judge_prefix(arp, l, &touched);
		if (l < 42 ? v == ECHO_ARP_REPLY || touched : v != ECHO_ARP_REPLY)
			bad_arp++;
	}
	CHECK(bad_echo == 0, "%d echo prefixes (0..%zu bytes, against a guard page) answered or touched", bad_echo,
	      elen);
	CHECK(bad_chain == 0, "%d chained echo prefixes misjudged", bad_chain);
	CHECK(bad_arp == 0, "%d ARP prefixes (0..%zu bytes) misjudged", bad_arp, alen);
}

static uint32_t g_rng = 0x12345678;
static uint32_t rnd(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 17;
	g_rng ^= g_rng << 5;
	return g_rng;
}

static void test_random(void)
{
	enum { ROUNDS = 200000 };
	unsigned counts[ECHO_VERDICTS] = { 0 }, bad_replies = 0;
	struct hp_mbuf m;
	for (unsigned r = 0; r < ROUNDS; r++) {
		size_t len = rnd() % 200;
		uint8_t *f = g_guard_end - len;
		enum echo_verdict v;
		for (size_t i = 0; i < len; i++)
			f[i] = (uint8_t)rnd();
		/* Most rounds start from a valid request, whole or cut, with a byte changed, so the deeper checks are
		 * reached. */
		switch (rnd() % 4) {
		case 0: /* random bytes */
			break;
		case 1: /* a whole echo request (when it fits), maybe one byte changed */
		case 2: { /* a cut one, maybe with another total length */
			uint8_t tmpl[2048];
			size_t tl = build_echo(tmpl, rnd() % 120, (rnd() % 3) * 4);
			size_t keep = tl < len ? tl : len;
			if (keep > 0 && (tl > len || rnd() % 2))
				keep = rnd() % (keep + 1);
			memcpy(f, tmpl, keep);
			if (len > 0 && rnd() % 2)
				f[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			if (len >= 34 && rnd() % 2)
				wr16(f + 16, (uint16_t)(rnd() % 256));
			if (len >= 34 && len >= 14 + (size_t)(f[14] & 0xF) * 4 && rnd() % 2)
				fix_ip_csum(f);
			break;
		}
		case 3: { /* an ARP request, maybe one byte changed */
			uint8_t tmpl[64];
			size_t tl = build_arp(tmpl, 1, GUEST_IP, PEER_IP);
			memcpy(f, tmpl, tl < len ? tl : len);
			if (len > 0 && rnd() % 2)
				f[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		}
		}
		one_segment(&m, f, len);
		v = icmpecho_reply(&m, RESPONDER_MAC);
		counts[v]++;
		if (v == ECHO_ICMP_REPLY) {
			size_t ihl = (size_t)(f[14] & 0xF) * 4, tot = rd16(f + 16);
			if (inet_checksum(f + 14, ihl) != 0 || inet_checksum(f + 14 + ihl, tot - ihl) != 0)
				bad_replies++;
		}
	}
	printf("      random frames: %u echo replies, %u ARP replies, %u ignored, %u malformed\n",
	       counts[ECHO_ICMP_REPLY], counts[ECHO_ARP_REPLY], counts[ECHO_IGNORED], counts[ECHO_MALFORMED]);
	CHECK(bad_replies == 0, "%u answered random frames carry a bad checksum", bad_replies);
	CHECK(counts[ECHO_ICMP_REPLY] > 0 && counts[ECHO_MALFORMED] > 0 && counts[ECHO_IGNORED] > 0,
	      "the random frames reach every verdict");
}

int main(void)
{
	setup_guard();
	test_echo();
	test_echo_chained();
	test_arp();
	test_variants();
	test_udp_reflect();
	test_truncation();
	test_random();
	return check_summary("test_icmpecho");
}
