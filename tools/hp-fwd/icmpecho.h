/* hp-fwd --mode icmpecho: ARP and ICMP echo replies built in place, as testpmd's icmpecho forwarding mode. */
#ifndef HP_FWD_ICMPECHO_H
#define HP_FWD_ICMPECHO_H

#include <stdint.h>

#include <hotpath.h>

/* What icmpecho_reply did with a frame. */
enum echo_verdict {
	ECHO_ICMP_REPLY, /* an ICMP echo request, rewritten in place into the echo reply */
	ECHO_ARP_REPLY,  /* an ARP request, rewritten in place into the ARP reply (our MAC for the asked IP) */
	ECHO_IGNORED,    /* well formed but not for a responder: other EtherTypes (VLAN, IPv6), other IP protocols or
			  * ICMP types, IPv4 fragments, multicast or broadcast destinations, ARP replies, probes and
			  * announcements, headers not in the first segment */
	ECHO_MALFORMED,  /* inconsistent: a runt, an IPv4 header shorter than 20 bytes or past the frame, a total length
			  * past the frame or shorter than its header, a bad IPv4 header or ICMP checksum */
	ECHO_DISCARDED,  /* a UDP datagram to the discard port (9), unfragmented, headers in the first segment: the
			  * traffic-source frames of the QEMU tests (udpflood), counted apart from everything else */
	ECHO_UDP_REFLECTED, /* a UDP datagram to the echo port (7), unfragmented, headers in the first segment, unicast
			     * source MAC: sent back with the MACs swapped and nothing else changed (the IPv4
			     * destination is still the peer's, so the guest's stack drops it without an ICMP error):
			     * the QEMU tests' flood INTO the guest, counted by the guest's driver */
};
#define ECHO_VERDICTS 6

/*
 * Looks at one Ethernet frame (an mbuf chain from hp_vhost_dequeue_burst) and, when it is an ARP request or an
 * ICMP echo request to ANY address, turns it into the reply in place:
 *   - ARP (Ethernet/IPv4, request with a sender address that is neither 0 nor the target): the frame goes back to
 *     its sender from `mac`, operation 2, sender = (mac, asked IP), target = the asker;
 *   - ICMP echo request (IPv4, not fragmented, unicast destination, valid IPv4 header and ICMP checksums): MACs
 *     swapped, IPv4 source and destination swapped (the header checksum is unchanged: it is a sum), type 0, the
 *     ICMP checksum updated incrementally (RFC 1624). TTL, identifier, sequence and payload are kept.
 *   - UDP to the echo port (7): reflected with the MACs swapped (ECHO_UDP_REFLECTED).
 * Every length comes from the guest and is checked before it is used: nothing is read or written outside the
 * chain's segments (headers must lie in the first segment; the ICMP checksum walks the chain). Frames it does not
 * answer are left unchanged.
 */
enum echo_verdict icmpecho_reply(struct hp_mbuf *m, const uint8_t mac[6]);

const char *echo_verdict_name(enum echo_verdict v);

#endif
