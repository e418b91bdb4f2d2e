#include "icmpecho.h"

#include <stdbool.h>
#include <string.h>

#include "inet.h"

/*
 * Offsets in an untagged Ethernet frame. Everything below reads only from the first segment after checking it
 * holds the bytes, except the ICMP checksum, which walks the chain with the lengths each segment declares.
 */
#define ETH_HLEN 14
#define ETH_TYPE 12
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806

#define ARP_LEN 28 /* Ethernet/IPv4 ARP: htype ptype hlen plen op sha spa tha tpa */
#define ARP_OP 6
#define ARP_SHA 8
#define ARP_SPA 14
#define ARP_THA 18
#define ARP_TPA 24

#define IP_MIN_HLEN 20
#define IP_TOT_LEN 2
#define IP_FRAG 6
#define IP_PROTO 9
#define IP_CSUM 10
#define IP_SRC 12
#define IP_DST 16
#define IPPROTO_ICMP_ 1
#define IPPROTO_UDP_ 17

#define UDP_HLEN 8
#define UDP_DPORT 2
#define UDP_PORT_ECHO 7
#define UDP_PORT_DISCARD 9

#define ICMP_HLEN 8 /* type code checksum identifier sequence */
#define ICMP_CSUM 2
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

/* Big-endian 16-bit one's-complement sum of n bytes of a stream cut into pieces; *odd: the previous piece ended on
 * the high half of a word, so this one starts with the low half. */
static uint64_t sum_bytes(const uint8_t *p, uint32_t n, bool *odd)
{
	uint64_t s = 0;
	if (n == 0)
		return 0;
	if (*odd) {
		s = p[0];
		p++;
		n--;
	}
	*odd = (n & 1) != 0;
	return s + csum_add(p, n);
}

/*
 * True when the len bytes at offset off of the chain sum to 0xFFFF (a valid Internet checksum over them). False
 * also when the chain holds fewer bytes than asked: the walk trusts no declared length beyond its segment and
 * stops after nb_segs segments.
 */
static bool chain_checksum_ok(const struct hp_mbuf *m, uint32_t off, uint32_t len)
{
	uint64_t sum = 0;
	bool odd = false;
	unsigned segs = m->nb_segs;
	for (const struct hp_mbuf *s = m; s != NULL && segs > 0 && len > 0; s = s->next, segs--) {
		uint32_t n;
		if (off >= s->data_len) {
			off -= s->data_len;
			continue;
		}
		n = s->data_len - off < len ? s->data_len - off : len;
		sum += sum_bytes((const uint8_t *)hp_pktmbuf_mtod(s) + off, n, &odd);
		len -= n;
		off = 0;
	}
	return len == 0 && csum_fold(sum) == 0xFFFF;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word changing from old to new. */
static void csum_replace16(uint8_t *field, uint16_t old, uint16_t new_)
{
	uint32_t s = (uint32_t)(uint16_t)~rd16(field) + (uint16_t)~old + new_;
	wr16(field, (uint16_t)~csum_fold(s));
}

static inline bool ip_is_multicast_or_reserved(const uint8_t *a) { return a[0] >= 224; } /* 224/4, 240/4, bcast */
static inline bool ip_is_zero(const uint8_t *a) { return (a[0] | a[1] | a[2] | a[3]) == 0; }

static void swap_bytes(uint8_t *a, uint8_t *b, size_t n)
{
	uint8_t t[6];
	memcpy(t, a, n);
	memcpy(a, b, n);
	memcpy(b, t, n);
}

/* An ARP frame of pkt bytes, len of them in the first segment. */
static enum echo_verdict arp_reply(uint8_t *e, uint32_t len, uint32_t pkt, const uint8_t mac[6])
{
	uint8_t *a = e + ETH_HLEN, ip[4];
	if (len < ETH_HLEN + ARP_LEN)
		return pkt < ETH_HLEN + ARP_LEN ? ECHO_MALFORMED : ECHO_IGNORED;
	/* Ethernet hardware, IPv4 protocol addresses, request; anything else is some other ARP. */
	if (rd16(a) != 1 || rd16(a + 2) != ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4 || rd16(a + ARP_OP) != 1)
		return ECHO_IGNORED;
	/* A probe (sender 0.0.0.0, RFC 5227) or an announcement (sender = target) asks nobody to answer. */
	if (ip_is_zero(a + ARP_SPA) || memcmp(a + ARP_SPA, a + ARP_TPA, 4) == 0)
		return ECHO_IGNORED;
	if (e[6] & 1) /* a multicast source address cannot be answered */
		return ECHO_IGNORED;
	memcpy(e, e + 6, 6);
	memcpy(e + 6, mac, 6);
	wr16(a + ARP_OP, 2);
	memcpy(ip, a + ARP_TPA, 4);
	memcpy(a + ARP_THA, a + ARP_SHA, 6);
	memcpy(a + ARP_TPA, a + ARP_SPA, 4);
	memcpy(a + ARP_SHA, mac, 6);
	memcpy(a + ARP_SPA, ip, 4);
	return ECHO_ARP_REPLY;
}

/* An IPv4 frame: the whole packet is pkt bytes long, of which len are in the first segment. */
static enum echo_verdict icmp_reply(struct hp_mbuf *m, uint8_t *e, uint32_t len, uint32_t pkt)
{
	uint8_t *ip = e + ETH_HLEN, *icmp;
	uint32_t ihl, tot;
	uint16_t old;
	if (len < ETH_HLEN + IP_MIN_HLEN)
		return pkt < ETH_HLEN + IP_MIN_HLEN ? ECHO_MALFORMED : ECHO_IGNORED;
	if ((ip[0] >> 4) != 4)
		return ECHO_MALFORMED;
	ihl = (uint32_t)(ip[0] & 0xF) * 4;
	tot = rd16(ip + IP_TOT_LEN);
	if (ihl < IP_MIN_HLEN || tot < ihl || tot > pkt - ETH_HLEN)
		return ECHO_MALFORMED;
	if (len < ETH_HLEN + ihl)
		return ECHO_IGNORED; /* options spill into the next segment */
	if (inet_checksum(ip, ihl) != 0)
		return ECHO_MALFORMED;
	if ((rd16(ip + IP_FRAG) & 0x3FFF) != 0) /* MF or an offset: a fragment */
		return ECHO_IGNORED;
	if (ip[IP_PROTO] == IPPROTO_UDP_ && tot - ihl >= UDP_HLEN && len >= ETH_HLEN + ihl + UDP_HLEN) {
		uint16_t port = rd16(ip + ihl + UDP_DPORT);
		if (port == UDP_PORT_DISCARD)
			return ECHO_DISCARDED;
		if (port == UDP_PORT_ECHO && !(e[6] & 1)) {
			swap_bytes(e, e + 6, 6);
			return ECHO_UDP_REFLECTED;
		}
	}
	if (ip[IP_PROTO] != IPPROTO_ICMP_)
		return ECHO_IGNORED;
	if (tot - ihl < ICMP_HLEN)
		return ECHO_MALFORMED;
	if (len < ETH_HLEN + ihl + ICMP_HLEN)
		return ECHO_IGNORED;
	icmp = ip + ihl;
	if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0)
		return ECHO_IGNORED;
	if ((e[0] & 1) || (e[6] & 1) || ip_is_multicast_or_reserved(ip + IP_DST) || ip_is_zero(ip + IP_SRC) ||
	    ip_is_multicast_or_reserved(ip + IP_SRC))
		return ECHO_IGNORED;
	if (!chain_checksum_ok(m, ETH_HLEN + ihl, tot - ihl))
		return ECHO_MALFORMED;

	swap_bytes(e, e + 6, 6);
	swap_bytes(ip + IP_SRC, ip + IP_DST, 4);
	old = rd16(icmp);
	icmp[0] = ICMP_ECHO_REPLY;
	csum_replace16(icmp + ICMP_CSUM, old, rd16(icmp));
	return ECHO_ICMP_REPLY;
}

enum echo_verdict icmpecho_reply(struct hp_mbuf *m, const uint8_t mac[6])
{
	uint8_t *e = hp_pktmbuf_mtod(m);
	uint32_t len = m->data_len, pkt = m->pkt_len;
	if (len > pkt || len < ETH_HLEN)
		return ECHO_MALFORMED;
	switch (rd16(e + ETH_TYPE)) {
	case ETHERTYPE_ARP: return arp_reply(e, len, pkt, mac);
	case ETHERTYPE_IPV4: return icmp_reply(m, e, len, pkt);
	default: return ECHO_IGNORED;
	}
}

const char *echo_verdict_name(enum echo_verdict v)
{
	switch (v) {
	case ECHO_ICMP_REPLY: return "echo_replies";
	case ECHO_ARP_REPLY: return "arp_replies";
	case ECHO_IGNORED: return "ignored";
	case ECHO_MALFORMED: return "malformed";
	case ECHO_DISCARDED: return "discarded";
	case ECHO_UDP_REFLECTED: return "udp_reflected";
	}
	return "?";
}
