/*
 * HotPath's rte_mbuf.h: the subset of DPDK 22.11's mbuf API that vhost applications use, on HotPath's mbufs.
 * struct rte_mbuf is struct hp_mbuf (same field names and offsets as DPDK's first two cache lines for the fields it
 * has; the tx_offload bit-fields l2_len/l3_len/... are reached with hp_mbuf_l2_len() and friends, not as members).
 * Part of the hotpath-rte compatibility set: cc app.c $(pkg-config --cflags --libs hotpath-rte).
 */
#ifndef HOTPATH_RTE_MBUF_H
#define HOTPATH_RTE_MBUF_H

#include <errno.h>
#include <hotpath.h>
#include <rte_mempool.h>

#define rte_mbuf hp_mbuf
#define rte_mbuf_ext_shared_info hp_mbuf_ext_shared_info

#define RTE_PKTMBUF_HEADROOM HP_PKTMBUF_HEADROOM
#define RTE_MBUF_DEFAULT_DATAROOM 2048
#define RTE_MBUF_DEFAULT_BUF_SIZE (RTE_MBUF_DEFAULT_DATAROOM + RTE_PKTMBUF_HEADROOM)

#define rte_pktmbuf_mtod(m, t) ((t)hp_pktmbuf_mtod(m))
#define rte_pktmbuf_mtod_offset(m, t, o) ((t)hp_pktmbuf_mtod_offset((m), (size_t)(o)))
#define rte_pktmbuf_pkt_len(m) ((m)->pkt_len)
#define rte_pktmbuf_data_len(m) ((m)->data_len)

/* rte_pktmbuf_pool_create: priv_size must be 0 (HotPath mbufs have no private area); socket_id is not used (the
 * pool is on the caller's node). NULL with rte_errno... here errno, on failure; hp_last_error() says why. */
static inline struct rte_mempool *rte_pktmbuf_pool_create(const char *name, unsigned n, unsigned cache_size,
							  uint16_t priv_size, uint16_t data_room_size, int socket_id)
{
	(void)socket_id;
	if (priv_size != 0) {
		errno = EINVAL;
		return NULL;
	}
	return hp_mempool_create(name, n, cache_size, data_room_size, 0);
}

static inline struct rte_mbuf *rte_pktmbuf_alloc(struct rte_mempool *mp) { return hp_pktmbuf_alloc(mp); }
static inline int rte_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned count)
{
	return hp_pktmbuf_alloc_bulk(mp, mbufs, count);
}
static inline void rte_pktmbuf_free(struct rte_mbuf *m) { hp_pktmbuf_free(m); }
static inline void rte_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count) { hp_pktmbuf_free_bulk(mbufs, count); }
static inline uint16_t rte_pktmbuf_headroom(const struct rte_mbuf *m) { return hp_pktmbuf_headroom(m); }
static inline uint16_t rte_pktmbuf_tailroom(const struct rte_mbuf *m) { return hp_pktmbuf_tailroom(m); }
static inline struct rte_mbuf *rte_pktmbuf_lastseg(struct rte_mbuf *m) { return hp_pktmbuf_lastseg(m); }
static inline int rte_pktmbuf_is_contiguous(const struct rte_mbuf *m) { return hp_pktmbuf_is_contiguous(m); }
static inline char *rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return (char *)hp_pktmbuf_append(m, len); }
static inline char *rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len) { return (char *)hp_pktmbuf_prepend(m, len); }
static inline char *rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len) { return (char *)hp_pktmbuf_adj(m, len); }
static inline int rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len) { return hp_pktmbuf_trim(m, len); }
static inline uint16_t rte_mbuf_refcnt_read(const struct rte_mbuf *m) { return m->refcnt; }

#endif /* HOTPATH_RTE_MBUF_H */
