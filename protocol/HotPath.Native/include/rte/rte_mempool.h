/* HotPath's rte_mempool.h: struct rte_mempool is HotPath's mbuf pool (hotpath-rte compatibility set). */
#ifndef HOTPATH_RTE_MEMPOOL_H
#define HOTPATH_RTE_MEMPOOL_H

#include <hotpath.h>

#define rte_mempool hp_mempool
#define SOCKET_ID_ANY (-1)

static inline void rte_mempool_free(struct rte_mempool *mp) { hp_mempool_free(mp); }
static inline unsigned int rte_mempool_avail_count(const struct rte_mempool *mp) { return hp_mempool_avail_count(mp); }
static inline unsigned int rte_mempool_in_use_count(const struct rte_mempool *mp) { return hp_mempool_in_use_count(mp); }

#endif /* HOTPATH_RTE_MEMPOOL_H */
