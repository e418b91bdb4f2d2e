/* HotPath's rte_ring.h: DPDK's burst ring API on HotPath's lock-free rings (hotpath-rte compatibility set). */
#ifndef HOTPATH_RTE_RING_H
#define HOTPATH_RTE_RING_H

#include <hotpath.h>

#define rte_ring hp_ring
#define RING_F_SP_ENQ HP_RING_F_SP_ENQ
#define RING_F_SC_DEQ HP_RING_F_SC_DEQ

/* count: a power of two, holding count - 1 pointers (DPDK's rule without RING_F_EXACT_SZ); socket_id is not used. */
static inline struct rte_ring *rte_ring_create(const char *name, unsigned int count, int socket_id, unsigned int flags)
{
	(void)socket_id;
	return hp_ring_create(name, count, flags);
}
static inline void rte_ring_free(struct rte_ring *r) { hp_ring_free(r); }
static inline unsigned int rte_ring_enqueue_burst(struct rte_ring *r, void *const *obj_table, unsigned int n,
						  unsigned int *free_space)
{
	return hp_ring_enqueue_burst(r, obj_table, n, free_space);
}
static inline unsigned int rte_ring_dequeue_burst(struct rte_ring *r, void **obj_table, unsigned int n,
						  unsigned int *available)
{
	return hp_ring_dequeue_burst(r, obj_table, n, available);
}

#endif /* HOTPATH_RTE_RING_H */
