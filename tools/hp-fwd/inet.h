/* Network byte order and the Internet checksum (RFC 1071), header-only: hp-fwd's frames (packets.c, icmpecho.c),
 * its tests and the guest-side udpflood of tests/qemu share it. */
#ifndef HP_FWD_INET_H
#define HP_FWD_INET_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Folds a one's-complement sum to 16 bits (end-around carries). */
static inline uint32_t csum_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	return (uint32_t)s;
}

/* Sum of the big-endian 16-bit words of n bytes, an odd last byte padded with zero: unfolded, not complemented. */
static inline uint64_t csum_add(const uint8_t *p, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

/* The checksum to store in a header whose checksum field is zero; 0 over bytes that include a valid one. */
static inline uint16_t inet_checksum(const uint8_t *p, size_t n) { return (uint16_t)~csum_fold(csum_add(p, n)); }

#endif
