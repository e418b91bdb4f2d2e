/* Frames hp-fwd sends (txonly) and rewrites (macswap). */
#ifndef HP_FWD_PACKETS_H
#define HP_FWD_PACKETS_H

#include <stddef.h>
#include <stdint.h>

#include <hotpath.h>

/* Writes an Ethernet/IPv4/UDP frame of len bytes (len >= 42) into buf: 02:00:00:00:00:01 -> 00:01:02:03:04:05,
 * 198.18.0.1:9 -> 198.18.0.2:9, valid IPv4 header checksum, no UDP checksum, a counting payload. */
void build_udp_frame(uint8_t *buf, size_t len);

/* Fills a fresh mbuf chain from the pool with a copy of frame; NULL when the pool runs dry. */
struct hp_mbuf *mbuf_from_frame(struct hp_mempool *pool, const uint8_t *frame, size_t len);

/* Swaps the Ethernet source and destination addresses of each packet (first segment). */
void swap_macs(struct hp_mbuf **pkts, unsigned n);

#endif
