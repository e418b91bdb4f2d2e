/*
 * C API tests that need no peer: driver registration and features, error returns on bad arguments (NULL pointers,
 * unknown vid, unknown path, double register) with their hp_last_error() text, mempool/mbuf and ring calls, and
 * hp_vhost_va_from_guest_pa on a table built here.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hotpath.h>

#include "check.h"

#define BIT(n) (1ULL << (n))

static char sock[108];

static void test_driver(void)
{
	uint64_t f = 0, pf = 0;
	uint32_t qn = 0;
	struct stat st;
	static const struct hp_vhost_device_ops ops; /* every callback NULL: accepted */

	CHECK(hp_vhost_driver_register(sock, 0) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_register(sock, 0) == -1, "double register");
	CHECK_ERROR("already registered (EEXIST)");

	CHECK(hp_vhost_driver_get_features(sock, &f) == 0, "%s", hp_last_error());
	CHECK(f & BIT(HP_VIRTIO_F_VERSION_1), "VERSION_1 offered: 0x%llx", (unsigned long long)f);
	CHECK(f & BIT(HP_VHOST_USER_F_PROTOCOL_FEATURES), "PROTOCOL_FEATURES offered");
	CHECK(hp_vhost_driver_disable_features(sock, BIT(HP_VIRTIO_NET_F_MRG_RXBUF)) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_get_features(sock, &f) == 0 && !(f & BIT(HP_VIRTIO_NET_F_MRG_RXBUF)), "MRG_RXBUF disabled");
	CHECK(hp_vhost_driver_enable_features(sock, BIT(HP_VIRTIO_NET_F_MRG_RXBUF)) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_get_features(sock, &f) == 0 && (f & BIT(HP_VIRTIO_NET_F_MRG_RXBUF)), "MRG_RXBUF enabled again");
	CHECK(hp_vhost_driver_enable_features(sock, BIT(63)) == -1, "enabling a bit never supported");
	CHECK_ERROR("not supported");

	CHECK(hp_vhost_driver_get_protocol_features(sock, &pf) == 0, "%s", hp_last_error());
	CHECK(pf & BIT(HP_VHOST_USER_PROTOCOL_F_MQ), "MQ offered: 0x%llx", (unsigned long long)pf);
	CHECK(hp_vhost_driver_set_protocol_features(sock, pf & ~BIT(HP_VHOST_USER_PROTOCOL_F_MQ)) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_get_protocol_features(sock, &pf) == 0 && !(pf & BIT(HP_VHOST_USER_PROTOCOL_F_MQ)), "MQ off");
	CHECK(hp_vhost_driver_set_protocol_features(sock, BIT(62)) == -1, "unknown protocol feature");
	CHECK_ERROR("not implemented");

	CHECK(hp_vhost_driver_set_max_queue_num(sock, 4) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_get_queue_num(sock, &qn) == 0 && qn == 4, "queue num %u", qn);
	CHECK(hp_vhost_driver_set_max_queue_num(sock, 0) == -1, "0 queue pairs");
	CHECK_ERROR("outside 1..");

	CHECK(hp_vhost_driver_callback_register(sock, &ops) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_start(sock) == 0, "%s", hp_last_error());
	CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode), "%s is a listening socket", sock);
	CHECK(hp_vhost_driver_start(sock) == -1, "second start");
	CHECK_ERROR("already started (EALREADY)");

	/* set_features works only before negotiation; no frontend connected, so it applies. */
	CHECK(hp_vhost_driver_set_features(sock, BIT(HP_VIRTIO_F_VERSION_1)) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_get_features(sock, &f) == 0 && f == BIT(HP_VIRTIO_F_VERSION_1), "exact set 0x%llx",
	      (unsigned long long)f);

	CHECK(hp_vhost_driver_unregister(sock) == 0, "%s", hp_last_error());
	CHECK(stat(sock, &st) != 0, "socket file removed by unregister");
	CHECK(hp_vhost_driver_unregister(sock) == -1, "second unregister");
	CHECK_ERROR("is not registered (ENOENT)");

	CHECK(hp_vhost_driver_register(sock, HP_VHOST_USER_ASYNC_COPY) == 0, "ASYNC_COPY: %s", hp_last_error());
	CHECK(hp_vhost_driver_unregister(sock) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_register(sock, HP_VHOST_USER_IOMMU_SUPPORT) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_get_features(sock, &f) == 0 && (f & BIT(HP_VIRTIO_F_ACCESS_PLATFORM)), "IOMMU_SUPPORT offers ACCESS_PLATFORM");
	CHECK(hp_vhost_driver_unregister(sock) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_register(sock, 1ULL << 40) == -1, "unknown flag");
	CHECK_ERROR("unknown flags");
}

static void test_bad_arguments(void)
{
	uint64_t u64 = 0, len = 16;
	uint16_t u16 = 0;
	uint32_t u32 = 0;
	char buf[64];
	struct hp_vhost_vring vr;
	struct hp_vhost_memory *mem = NULL;
	struct hp_mbuf *pkts[4];
	struct hp_vhost_stat stats[4];
	struct hp_vhost_ring_inflight infl;
	static const struct hp_vhost_device_ops ops;
	static const struct hp_vhost_user_extern_ops xops;
	const int vid = 777; /* nothing is connected */

	/* NULL pointers and unknown paths */
	CHECK(hp_vhost_driver_register(NULL, 0) == -1, "NULL path");
	CHECK_ERROR("hp_vhost_driver_register: path is NULL (EINVAL)");
	CHECK(hp_vhost_driver_register("", 0) == -1, "empty path");
	CHECK(hp_vhost_driver_start("/tmp/hp-never-registered.sock") == -1, "unknown path");
	CHECK_ERROR("hp_vhost_driver_start: /tmp/hp-never-registered.sock is not registered (ENOENT)");
	CHECK(hp_vhost_driver_get_features("/tmp/hp-never-registered.sock", &u64) == -1, "unknown path");
	CHECK(hp_vhost_driver_get_features(sock, NULL) == -1, "NULL features");
	CHECK_ERROR("features is NULL");
	CHECK(hp_vhost_driver_get_queue_num(sock, NULL) == -1, "NULL queue_num");
	CHECK(hp_vhost_driver_callback_register("/tmp/hp-never-registered.sock", &ops) == -1, "unknown path");
	CHECK(hp_vhost_driver_callback_register(sock, NULL) == -1, "NULL ops");
	CHECK_ERROR("ops is NULL");
	CHECK(hp_vhost_driver_unregister(NULL) == -1, "NULL path");

	/* unknown vid: every per-device function */
	CHECK(hp_vhost_get_negotiated_features(vid, &u64) == -1, "unknown vid");
	CHECK_ERROR("hp_vhost_get_negotiated_features: vid 777 is not a connected device (ENODEV)");
	CHECK(hp_vhost_get_negotiated_protocol_features(vid, &u64) == -1, "unknown vid");
	CHECK(hp_vhost_get_mtu(vid, &u16) == -ENODEV, "get_mtu returns -ENODEV");
	CHECK(hp_vhost_get_numa_node(vid) == -1, "unknown vid");
	CHECK(hp_vhost_get_vring_num(vid) == 0, "unknown vid");
	CHECK(hp_vhost_get_ifname(vid, buf, sizeof(buf)) == -1, "unknown vid");
	CHECK(hp_vhost_avail_entries(vid, 0) == 0, "unknown vid");
	CHECK(hp_vhost_rx_queue_count(vid, 1) == 0, "unknown vid");
	CHECK(hp_vhost_get_vring_base(vid, 0, &u16, &u16) == -1, "unknown vid");
	CHECK(hp_vhost_set_vring_base(vid, 0, 0, 0) == -1, "unknown vid");
	CHECK(hp_vhost_enqueue_burst(vid, 0, pkts, 4) == 0, "unknown vid");
	CHECK_ERROR("hp_vhost_enqueue_burst: vid 777 is not a connected device (ENODEV)");
	CHECK(hp_vhost_dequeue_burst(vid, 1, NULL, pkts, 4) == 0, "unknown vid");
	CHECK_ERROR("hp_vhost_dequeue_burst: vid 777");
	CHECK(hp_vhost_enqueue_burst(-1, 0, pkts, 4) == 0, "negative vid");
	CHECK(hp_vhost_dequeue_burst(1 << 30, 1, NULL, pkts, 4) == 0, "huge vid");
	CHECK(hp_vhost_get_mem_table(vid, &mem) == -1 && mem == NULL, "unknown vid");
	CHECK(hp_vhost_get_vhost_vring(vid, 0, &vr) == -1, "unknown vid");
	CHECK(hp_vhost_vring_call(vid, 0) == -1, "unknown vid");
	CHECK(hp_vhost_vring_drain_kick(vid, 1) == -1, "unknown vid");
	CHECK_ERROR("hp_vhost_vring_drain_kick: vid 777 is not a connected device (ENODEV)");
	CHECK(hp_vhost_enable_guest_notification(vid, 1, 1) == -1, "unknown vid");
	struct hp_vhost_async_channel_ops aops = { 0 };
	CHECK(hp_vhost_async_channel_register(vid, 0, HP_VHOST_ASYNC_INORDER, &aops) == -1, "unknown vid");
	CHECK_ERROR("hp_vhost_async_channel_register: vid 777 is not a connected device (ENODEV)");
	CHECK(hp_vhost_async_channel_unregister(vid, 0) == -1, "unknown vid");
	CHECK(hp_vhost_submit_enqueue_burst(vid, 0, pkts, 4) == 0, "unknown vid");
	CHECK_ERROR("hp_vhost_submit_enqueue_burst: vid 777");
	CHECK(hp_vhost_poll_enqueue_completed(vid, 0, pkts, 4) == 0, "unknown vid");
	CHECK(hp_vhost_async_get_inflight(vid, 0) == -1, "unknown vid");
	CHECK(hp_vhost_clear_queue(vid, 0, pkts, 4) == 0, "unknown vid");
	CHECK_ERROR("hp_vhost_clear_queue: vid 777 is not a connected device (ENODEV)");
	CHECK(hp_vhost_clear_queue_thread_unsafe(vid, 1, pkts, 4) == 0, "unknown vid");
	CHECK_ERROR("hp_vhost_clear_queue_thread_unsafe: vid 777");
	int nr_inflight = 5;
	CHECK(hp_vhost_async_try_dequeue_burst(vid, 1, NULL, pkts, 4, &nr_inflight) == 0 && nr_inflight == -1, "unknown vid");
	CHECK_ERROR("hp_vhost_async_try_dequeue_burst: vid 777");
	struct hp_copy_engine *eng = hp_copy_engine_create("hp-copy-api", -1);
	CHECK(eng != NULL, "%s", hp_last_error());
	CHECK(hp_vhost_async_channel_register_engine(vid, 0, HP_VHOST_ASYNC_INORDER, eng) == -1, "unknown vid");
	CHECK(hp_copy_engine_packets(eng) == 0, "a new engine copied nothing");
	hp_copy_engine_free(eng);
	CHECK(hp_copy_engine_packets(eng) == -1, "freed engine");
	CHECK_ERROR("not an engine from hp_copy_engine_create");
	hp_vhost_notify_guest(vid, 0);
	CHECK_ERROR("hp_vhost_notify_guest: vid 777");
	hp_vhost_log_write(vid, 0, 4096);
	CHECK_ERROR("hp_vhost_log_write: vid 777");
	hp_vhost_log_used_vring(vid, 0, 0, 8);
	CHECK_ERROR("hp_vhost_log_used_vring: vid 777");
	CHECK(hp_vhost_get_log_base(vid, &u64, &len) == -1, "unknown vid");
	CHECK(hp_vhost_get_vhost_ring_inflight(vid, 0, &infl) == -1, "unknown vid");
	CHECK(hp_vhost_set_inflight_desc_split(vid, 0, 0) == -1, "unknown vid");
	CHECK(hp_vhost_set_inflight_desc_packed(vid, 0, 0, 0, &u16) == -1, "unknown vid");
	CHECK(hp_vhost_set_inflight_desc_packed(vid, 0, 0, 0, NULL) == -1, "NULL inflight_entry");
	CHECK_ERROR("inflight_entry is NULL");
	CHECK(hp_vhost_set_last_inflight_io_split(vid, 0, 0) == -1, "unknown vid");
	CHECK(hp_vhost_set_last_inflight_io_packed(vid, 0, 0) == -1, "unknown vid");
	CHECK(hp_vhost_clr_inflight_desc_split(vid, 0, 0, 0) == -1, "unknown vid");
	CHECK(hp_vhost_clr_inflight_desc_packed(vid, 0, 0) == -1, "unknown vid");
	CHECK(hp_vhost_get_vring_base_from_inflight(vid, 0, &u16, &u16) == -1, "unknown vid");
	CHECK(hp_vhost_extern_callback_register(vid, &xops, NULL) == -1, "unknown vid");
	CHECK(hp_vhost_backend_config_change(vid, true) == -ENODEV, "config change returns -ENODEV");
	CHECK(hp_vhost_vring_stats_get_names(vid, 0, NULL, 0) == -1, "unknown vid");
	CHECK(hp_vhost_vring_stats_get(vid, 0, stats, 4) == -1, "unknown vid");
	CHECK(hp_vhost_vring_stats_reset(vid, 0) == -1, "unknown vid");
	CHECK_ERROR("hp_vhost_vring_stats_reset: vid 777 is not a connected device (ENODEV)");

	/* NULL tables and buffers */
	CHECK(hp_vhost_va_from_guest_pa(NULL, 0, &len) == 0, "NULL mem");
	CHECK_ERROR("mem is NULL");
	(void)u32;
}

static void test_mempool(void)
{
	struct hp_mempool *mp = hp_mempool_create("c-test", 1024, 0, 2048 + HP_PKTMBUF_HEADROOM, HP_MEMPOOL_F_NO_HUGE);
	struct hp_mbuf *all[1024], *m, *extra = NULL;
	CHECK(mp != NULL, "%s", hp_last_error());
	if (mp == NULL)
		return;
	m = hp_pktmbuf_alloc(mp);
	CHECK(m != NULL, "%s", hp_last_error());
	if (m != NULL) {
		CHECK(m->pool == mp, "pool");
		CHECK(m->refcnt == 1 && m->nb_segs == 1 && m->next == NULL, "fresh mbuf");
		CHECK(m->data_off == HP_PKTMBUF_HEADROOM, "data_off %u", m->data_off);
		CHECK(m->buf_len == 2048 + HP_PKTMBUF_HEADROOM, "buf_len %u", m->buf_len);
		CHECK(m->data_len == 0 && m->pkt_len == 0, "empty");
		CHECK(hp_pktmbuf_mtod(m) == (char *)m->buf_addr + HP_PKTMBUF_HEADROOM, "mtod");
		CHECK(hp_pktmbuf_append(m, 100) != NULL && m->data_len == 100 && m->pkt_len == 100, "append");
		CHECK(hp_pktmbuf_append(m, 4000) == NULL, "append past the tailroom");
		CHECK(hp_pktmbuf_prepend(m, 14) != NULL && m->pkt_len == 114, "prepend");
		CHECK(hp_pktmbuf_adj(m, 14) != NULL && m->pkt_len == 100, "adj");
		CHECK(hp_pktmbuf_trim(m, 50) == 0 && m->pkt_len == 50, "trim");
		memset(hp_pktmbuf_mtod(m), 0xAB, 50);
		hp_pktmbuf_free(m);
	}
	CHECK(hp_pktmbuf_alloc_bulk(mp, all, 1024) == 0, "the whole pool: %s", hp_last_error());
	CHECK(hp_pktmbuf_alloc_bulk(mp, &extra, 1) == -ENOMEM, "pool exhausted");
	CHECK_ERROR("(ENOMEM)");
	CHECK(hp_pktmbuf_alloc(mp) == NULL, "pool exhausted");
	hp_pktmbuf_free_bulk(all, 1024);
	CHECK(hp_pktmbuf_alloc_bulk(mp, all, 1024) == 0, "the whole pool again after free_bulk");
	hp_pktmbuf_free_bulk(all, 1024);

	CHECK(hp_pktmbuf_alloc_bulk(NULL, all, 1) == -EINVAL, "NULL pool");
	CHECK(hp_pktmbuf_alloc_bulk(mp, NULL, 1) == -EINVAL, "NULL array");
	CHECK(hp_pktmbuf_alloc(NULL) == NULL, "NULL pool");
	CHECK_ERROR("hp_pktmbuf_alloc: mp is NULL");
	hp_pktmbuf_free(NULL);
	hp_pktmbuf_free_bulk(NULL, 0);
	hp_mempool_free(mp);

	CHECK(hp_mempool_create(NULL, 1024, 0, 2176, 0) == NULL, "NULL name");
	CHECK_ERROR("name is NULL");
	CHECK(hp_mempool_create("c-test-0", 0, 0, 2176, 0) == NULL, "zero mbufs");
	CHECK_ERROR("hp_mempool_create:");
	hp_mempool_free(NULL);

	/* Hugepage-backed by default (when the machine has free hugepages: the pool falls back otherwise). */
	mp = hp_mempool_create("c-test-huge", 4096, 256, 2176, 0);
	CHECK(mp != NULL, "%s", hp_last_error());
	if (mp != NULL) {
		m = hp_pktmbuf_alloc(mp);
		CHECK(m != NULL, "alloc from a cached pool");
		hp_pktmbuf_free(m);
		hp_mempool_free(mp);
	}
}

static void test_ring(void)
{
	void *in[2048], *out[2048];
	unsigned free_space = 99, avail = 99, n;
	struct hp_ring *r = hp_ring_create("c-ring", 1024, HP_RING_F_SP_ENQ | HP_RING_F_SC_DEQ);
	CHECK(r != NULL, "%s", hp_last_error());
	if (r == NULL)
		return;
	for (unsigned i = 0; i < 2048; i++)
		in[i] = (void *)(uintptr_t)(i + 1);
	n = hp_ring_enqueue_burst(r, in, 2048, &free_space);
	CHECK(n == 1023 && free_space == 0, "enqueue %u free %u (a ring of 1024 holds 1023)", n, free_space);
	n = hp_ring_dequeue_burst(r, out, 10, &avail);
	CHECK(n == 10 && avail == 1013, "dequeue %u left %u", n, avail);
	n = hp_ring_dequeue_burst(r, out + 10, 2048, NULL);
	CHECK(n == 1013, "dequeue the rest: %u", n);
	for (unsigned i = 0; i < 1023; i++)
		if (out[i] != in[i]) {
			CHECK(out[i] == in[i], "FIFO order at %u", i);
			break;
		}
	CHECK(hp_ring_dequeue_burst(r, out, 1, &avail) == 0 && avail == 0, "empty");
	CHECK(hp_ring_enqueue_burst(NULL, in, 1, NULL) == 0, "NULL ring");
	CHECK_ERROR("hp_ring_enqueue_burst: r is NULL");
	CHECK(hp_ring_dequeue_burst(r, NULL, 1, NULL) == 0, "NULL objs");
	hp_ring_free(r);
	hp_ring_free(NULL);

	CHECK(hp_ring_create("c-ring-bad", 1000, 0) == NULL, "count not a power of two");
	CHECK_ERROR("hp_ring_create:");
	CHECK(hp_ring_create(NULL, 1024, 0) == NULL, "NULL name");
	r = hp_ring_create("c-ring-mpmc", 64, 0);
	CHECK(r != NULL, "multi-producer/consumer ring: %s", hp_last_error());
	hp_ring_free(r);
}

/* hp_vhost_va_from_guest_pa on a table laid out as hp_vhost_get_mem_table returns it. */
static void test_va_from_guest_pa(void)
{
	static char backing[2][8192];
	struct hp_vhost_memory *mem = malloc(sizeof(*mem) + 2 * sizeof(struct hp_vhost_mem_region));
	uint64_t len, va;
	if (mem == NULL)
		return;
	mem->nregions = 2;
	mem->regions[0] = (struct hp_vhost_mem_region){ .guest_phys_addr = 0x100000, .size = 8192,
						       .host_user_addr = (uint64_t)(uintptr_t)backing[0] };
	mem->regions[1] = (struct hp_vhost_mem_region){ .guest_phys_addr = UINT64_MAX - 8191, .size = 8192,
						       .host_user_addr = (uint64_t)(uintptr_t)backing[1] };
	len = 100;
	va = hp_vhost_va_from_guest_pa(mem, 0x100010, &len);
	CHECK(va == (uint64_t)(uintptr_t)(backing[0] + 16) && len == 100, "inside region 0");
	len = 100000;
	va = hp_vhost_va_from_guest_pa(mem, 0x101000, &len);
	CHECK(va == (uint64_t)(uintptr_t)(backing[0] + 4096) && len == 4096, "len cut to the region end: %llu",
	      (unsigned long long)len);
	len = 16;
	CHECK(hp_vhost_va_from_guest_pa(mem, 0x102000, &len) == 0 && len == 0, "one past region 0 is unmapped");
	len = 16;
	CHECK(hp_vhost_va_from_guest_pa(mem, 0xFFFFF, &len) == 0 && len == 0, "just below region 0");
	len = UINT64_MAX;
	va = hp_vhost_va_from_guest_pa(mem, UINT64_MAX, &len);
	CHECK(va == (uint64_t)(uintptr_t)(backing[1] + 8191) && len == 1, "last byte of the address space, len %llu",
	      (unsigned long long)len);
	CHECK(hp_vhost_va_from_guest_pa(mem, 0x100000, NULL) == 0, "NULL len");
	mem->nregions = 100000;
	len = 1;
	CHECK(hp_vhost_va_from_guest_pa(mem, 0x100000, &len) == 0, "absurd nregions refused");
	CHECK_ERROR("nregions");
	free(mem);
}

/* The crypto entry points without a frontend: registration and what it offers, the request layout, and the refusals
 * (a vid that does not exist or is not a crypto device). Requests end to end: tests/HotPath.Tests/Crypto. */
_Static_assert(sizeof(struct hp_vhost_crypto_request) == 40, "struct hp_vhost_crypto_request is 40 bytes");
_Static_assert(offsetof(struct hp_vhost_crypto_request, session_id) == 8, "session_id at 8");
_Static_assert(offsetof(struct hp_vhost_crypto_request, hash_len) == 32, "hash_len at 32");

static void test_crypto(void)
{
	char path[108];
	uint64_t f = 0, pf = 0;
	struct hp_vhost_crypto_request reqs[4];
	uint8_t *iv, *data, *digest;

	snprintf(path, sizeof(path), "/tmp/hp-c-crypto-%d.sock", (int)getpid());
	CHECK(hp_vhost_crypto_driver_start(path) == -1, "start before register");
	CHECK_ERROR("not registered");
	CHECK(hp_vhost_driver_register(path, 0) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_crypto_driver_start(path) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_get_features(path, &f) == 0, "%s", hp_last_error());
	CHECK(f == (BIT(HP_VIRTIO_F_VERSION_1) | BIT(28) | BIT(29) | BIT(24) | BIT(26) | BIT(HP_VHOST_USER_F_PROTOCOL_FEATURES)),
	      "virtio-crypto features 0x%llx", (unsigned long long)f);
	CHECK(hp_vhost_driver_get_protocol_features(path, &pf) == 0 && (pf & BIT(HP_VHOST_USER_PROTOCOL_F_CRYPTO_SESSION)),
	      "CRYPTO_SESSION offered: 0x%llx", (unsigned long long)pf);
	CHECK(hp_vhost_crypto_fetch_requests(12345, 0, reqs, 4) == 0, "unknown vid");
	CHECK_ERROR("12345");
	CHECK(hp_vhost_crypto_process_requests(12345, reqs, 4) == -1, "unknown vid");
	CHECK(hp_vhost_crypto_finalize_requests(12345, reqs, 4) == 0, "unknown vid");
	CHECK(hp_vhost_crypto_request_buffers(12345, &reqs[0], &iv, &data, &digest) == -1, "unknown vid");
	CHECK(hp_vhost_crypto_set_zero_copy(12345, 0) == -EINVAL, "unknown vid");
	CHECK(hp_vhost_driver_unregister(path) == 0, "%s", hp_last_error());
}

int main(void)
{
	snprintf(sock, sizeof(sock), "/tmp/hp-c-api-%d.sock", (int)getpid());
	CHECK(strcmp(hp_last_error(), "no error") == 0, "fresh thread: \"%s\"", hp_last_error());
	test_driver();
	test_crypto();
	test_bad_arguments();
	test_mempool();
	test_ring();
	test_va_from_guest_pa();
	return check_summary("test_api");
}
