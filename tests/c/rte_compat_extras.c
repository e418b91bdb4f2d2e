/*
 * The hotpath-rte compatibility set beyond what dpdk_style_app uses: the deprecated and vDPA calls DPDK 22.11 still
 * declares, the converted structs' layouts, and the mbuf/mempool helpers, with no frontend needed.
 */
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_vhost.h>

#include <stddef.h>
#include <stdlib.h>

#include "check.h"

/* struct rte_vhost_vring is converted member by member, but a program may also cast: the layouts are the same. */
_Static_assert(sizeof(struct rte_vhost_vring) == sizeof(struct hp_vhost_vring), "rte_vhost_vring size");
_Static_assert(offsetof(struct rte_vhost_vring, log_guest_addr) == offsetof(struct hp_vhost_vring, log_guest_addr), "log_guest_addr");
_Static_assert(offsetof(struct rte_vhost_vring, callfd) == offsetof(struct hp_vhost_vring, callfd), "callfd");
_Static_assert(offsetof(struct rte_vhost_vring, kickfd) == offsetof(struct hp_vhost_vring, kickfd), "kickfd");
_Static_assert(offsetof(struct rte_vhost_vring, size) == offsetof(struct hp_vhost_vring, size), "size");
_Static_assert(sizeof(struct rte_vhost_user_extern_ops) == sizeof(struct hp_vhost_user_extern_ops), "extern ops");
_Static_assert((int)RTE_VHOST_MSG_RESULT_REPLY == (int)HP_VHOST_MSG_RESULT_REPLY, "message results");
_Static_assert(RTE_VHOST_USER_CLIENT == (1ULL << 0) && RTE_VHOST_USER_NET_STATS_ENABLE == (1ULL << 9), "DPDK's flag values");
_Static_assert(VHOST_USER_F_PROTOCOL_FEATURES == 30 && VHOST_USER_PROTOCOL_F_SLAVE_REQ == 5, "DPDK's feature bits");

int main(void)
{
	/* vDPA: HotPath drives none. */
	CHECK(rte_vhost_get_vdpa_device(0) == NULL, "vDPA device by vid");
	CHECK(rte_vhost_driver_get_vdpa_device("/tmp/none.sock") == NULL, "vDPA device by path");
	CHECK(rte_vhost_driver_attach_vdpa_device("/tmp/none.sock", NULL) < 0, "attach refused");
	/* Deprecated calls on no device. */
	CHECK(rte_vhost_get_queue_num(12345) == 0, "queue num of no device");
	CHECK(rte_vhost_slave_config_change(12345, false) < 0, "config change of no device");

	/* rte_vhost_gpa_to_vva over a table this test builds: a hit inside, 0 outside. */
	static unsigned char guest[8192];
	struct rte_vhost_memory *mem = (struct rte_vhost_memory *)calloc(1, sizeof(*mem) + sizeof(struct rte_vhost_mem_region));
	mem->nregions = 1;
	mem->regions[0].guest_phys_addr = 0x100000;
	mem->regions[0].size = sizeof(guest);
	mem->regions[0].host_user_addr = (uint64_t)(uintptr_t)guest;
	CHECK(rte_vhost_gpa_to_vva(mem, 0x100010) == (uint64_t)(uintptr_t)(guest + 0x10), "gpa_to_vva inside");
	CHECK(rte_vhost_gpa_to_vva(mem, 0x200000) == 0, "gpa_to_vva outside");
	uint64_t len = 0x3000;
	CHECK(rte_vhost_va_from_guest_pa(mem, 0x101000, &len) == (uint64_t)(uintptr_t)(guest + 0x1000) && len == 0x1000,
	      "va_from_guest_pa cuts len at the region end (len %llu)", (unsigned long long)len);

	free(mem);

	/* mbuf helpers through the DPDK names. */
	struct rte_mempool *mp = rte_pktmbuf_pool_create("rte_extras", 64, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	CHECK(mp != NULL, "pool: %s", hp_last_error());
	CHECK(rte_pktmbuf_pool_create("rte_extras_priv", 64, 0, 16, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY) == NULL,
	      "a private area is refused");
	if (mp != NULL) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		CHECK(m != NULL && rte_pktmbuf_headroom(m) == RTE_PKTMBUF_HEADROOM, "fresh mbuf");
		char *p = m != NULL ? rte_pktmbuf_append(m, 100) : NULL;
		CHECK(p != NULL && rte_pktmbuf_mtod(m, char *) == p && rte_pktmbuf_data_len(m) == 100 && rte_pktmbuf_pkt_len(m) == 100,
		      "append");
		CHECK(m != NULL && rte_pktmbuf_adj(m, 14) == p + 14 && rte_pktmbuf_mtod_offset(m, char *, 2) == p + 16, "adj");
		CHECK(rte_mempool_in_use_count(mp) == 1 && rte_mempool_avail_count(mp) == 63, "counts");
		rte_pktmbuf_free(m);
		CHECK(rte_mempool_in_use_count(mp) == 0, "freed");
		rte_mempool_free(mp);
	}
	return check_summary("rte_compat_extras");
}
