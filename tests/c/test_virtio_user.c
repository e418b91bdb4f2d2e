/*
 * The C API against DPDK's virtio-user frontend (a real peer over a real socket): device callbacks, device queries,
 * memory table and raw vring access, bad queue ids, enqueue bursts received by testpmd, per-vring statistics,
 * vring_call, async channel lifecycles with hp_vhost_clear_queue, dequeue bursts of testpmd's txonly traffic, and
 * hp_vhost_clear_queue_thread_unsafe in destroy_device with copies in flight on both queues.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <hotpath.h>

#include "check.h"
#include "peer.h"

static atomic_int g_vid = -1, g_destroyed, g_connections, g_disconnections, g_vring_events, g_messages;
static int g_hook_ctx;

/* Counts the messages the frontend sends after the hook is registered; the built-in handler still runs. */
static enum hp_vhost_msg_result pre_message(int vid, void *msg)
{
	uint32_t request;
	(void)vid;
	memcpy(&request, msg, sizeof(request));
	if (request == 11) /* GET_VRING_BASE: the frontend is stopping the rings */
		atomic_fetch_add(&g_messages, 1);
	return HP_VHOST_MSG_RESULT_NOT_HANDLED;
}
static char sock[108], log_rx[128], log_tx[128];

/* A test copy channel (in order) that holds every copy until the test lets go, then completes them late: only at the
 * fourth poll after that (the control plane's settle is what polls it then). */
struct held_channel {
	struct hp_vhost_async_desc descs[256];
	uint32_t n;
	atomic_int polls_left; /* < 0: hold */
};
static struct held_channel g_held[2]; /* [queue_id & 1] */

static uint32_t held_transfer(int vid, uint16_t q, struct hp_vhost_async_desc *descs,
			      struct hp_vhost_async_status *status, uint16_t count)
{
	struct held_channel *c = &g_held[q & 1];
	uint32_t k = 0;
	(void)vid, (void)status;
	for (; k < count && c->n < 256; k++)
		c->descs[c->n++] = descs[k]; /* the iters stay valid until the packet is reported complete */
	return k;
}

static uint32_t held_check(int vid, uint16_t q, struct hp_vhost_async_status *status, uint16_t max_packets)
{
	struct held_channel *c = &g_held[q & 1];
	uint32_t n = 0;
	int left = atomic_load(&c->polls_left);
	(void)vid, (void)status;
	if (left != 0) {
		if (left > 0)
			atomic_store(&c->polls_left, left - 1);
		return 0;
	}
	for (; n < c->n && n < max_packets; n++) {
		struct hp_vhost_iov_iter *src = c->descs[n].src, *dst = c->descs[n].dst;
		for (unsigned long k = 0; k < src->nr_segs; k++)
			memcpy(dst->iov[k].iov_base, src->iov[k].iov_base, src->iov[k].iov_len);
	}
	memmove(c->descs, c->descs + n, (c->n - n) * sizeof(c->descs[0]));
	c->n -= n;
	return n;
}

/* Set by the test before the device stops: destroy_device clears both async queues the way a DPDK application gets
 * its packets back before its queues go. HotPath calls it holding no ring lock, and the application's polling has
 * stopped: the thread-unsafe clear is the one to use. (virtio-user disables the rings before GET_VRING_BASE, and the
 * disable's settle already waited for the late copies: the clear hands the packets back.) */
static struct {
	atomic_int armed;
	int rx_submitted, tx_taken, rx_back, tx_back, tx_bad;
} g_clear;

static int new_device(int vid) { atomic_store(&g_vid, vid); return 0; }
static void destroy_device(int vid)
{
	if (atomic_exchange(&g_clear.armed, 0)) {
		struct hp_mbuf *pkts[64];
		g_clear.rx_back = hp_vhost_clear_queue_thread_unsafe(vid, 0, pkts, 64);
		hp_pktmbuf_free_bulk(pkts, (unsigned)g_clear.rx_back);
		g_clear.tx_back = hp_vhost_clear_queue_thread_unsafe(vid, 1, pkts, 64);
		for (int i = 0; i < g_clear.tx_back; i++)
			g_clear.tx_bad += pkts[i]->pkt_len != 64; /* testpmd's frames, copied whole */
		hp_pktmbuf_free_bulk(pkts, (unsigned)g_clear.tx_back);
	}
	atomic_fetch_add(&g_destroyed, 1);
}
static int vring_state_changed(int vid, uint16_t q, int enable) { (void)vid, (void)q, (void)enable; atomic_fetch_add(&g_vring_events, 1); return 0; }
static int new_connection(int vid) { (void)vid; atomic_fetch_add(&g_connections, 1); return 0; }
static void destroy_connection(int vid) { (void)vid; atomic_fetch_add(&g_disconnections, 1); }

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits up to secs for *v to reach want. */
static int wait_for(atomic_int *v, int want, double secs)
{
	double end = now() + secs;
	while (atomic_load(v) != want && now() < end)
		usleep(10000);
	return atomic_load(v) == want;
}

/* Waits up to secs until the guest has posted at least `want` (0: any) RX buffers on vring 0; returns the count. */
static uint16_t wait_posted(int vid, uint16_t want, double secs)
{
	double end = now() + secs;
	uint16_t n = hp_vhost_avail_entries(vid, 0);
	while ((want == 0 ? n == 0 : n < want) && now() < end) {
		usleep(10000);
		n = hp_vhost_avail_entries(vid, 0);
	}
	return n;
}

static int wait_device(double secs)
{
	double end = now() + secs;
	while (atomic_load(&g_vid) < 0 && now() < end)
		usleep(10000);
	return atomic_load(&g_vid);
}

static void test_queries(int vid)
{
	uint64_t f = 0, pf = 0, len;
	uint16_t a = 0, u = 0, mtu = 0;
	char name[128];
	struct hp_vhost_memory *mem = NULL;
	struct hp_vhost_vring vr;
	int rc;

	CHECK(hp_vhost_get_negotiated_features(vid, &f) == 0, "%s", hp_last_error());
	CHECK(f & (1ULL << HP_VIRTIO_F_VERSION_1), "VERSION_1 negotiated: 0x%llx", (unsigned long long)f);
	CHECK(!(f & (1ULL << HP_VIRTIO_F_RING_PACKED)), "split ring");
	CHECK(hp_vhost_get_negotiated_protocol_features(vid, &pf) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_get_vring_num(vid) == 2, "2 vrings, got %u", hp_vhost_get_vring_num(vid));
	CHECK(hp_vhost_get_ifname(vid, name, sizeof(name)) == 0 && strcmp(name, sock) == 0, "ifname %s", name);
	CHECK(hp_vhost_get_ifname(vid, name, 5) == 0 && strlen(name) == 4, "ifname cut to len - 1: %s", name);
	CHECK(hp_vhost_get_numa_node(vid) >= 0, "numa node: %s", hp_last_error());
	rc = hp_vhost_get_mtu(vid, &mtu);
	CHECK(rc == 0 || rc == -ENOTSUP, "get_mtu %d", rc);

	CHECK(hp_vhost_get_mem_table(vid, &mem) == 0 && mem != NULL, "%s", hp_last_error());
	if (mem != NULL) {
		struct hp_vhost_mem_region *r = &mem->regions[0];
		CHECK(mem->nregions >= 1 && mem->nregions <= 8, "nregions %u", mem->nregions);
		len = r->size + 4096;
		CHECK(hp_vhost_va_from_guest_pa(mem, r->guest_phys_addr, &len) == r->host_user_addr && len == r->size,
		      "region start translates, len cut to the region");
		CHECK(r->fd >= 0 && r->mmap_addr != NULL && r->mmap_size >= r->size, "mapping fields");
		CHECK(hp_vhost_get_vhost_vring(vid, 0, &vr) == 0, "%s", hp_last_error());
		CHECK(vr.size == 1024, "ring size %u", vr.size);
		CHECK(vr.desc != NULL && vr.avail != NULL && vr.used != NULL, "ring pointers");
		/* interrupt mode's helpers on virtio-user's real kick fd: never blocks, refuses a vring that is not there */
		CHECK(hp_vhost_vring_drain_kick(vid, 1) >= 0, "drain_kick: %s", hp_last_error());
		CHECK(hp_vhost_vring_drain_kick(vid, 1) == 0, "drain_kick twice: nothing pending");
		CHECK(hp_vhost_vring_drain_kick(vid, 9) == -1 && strstr(hp_last_error(), "does not exist") != NULL,
		      "drain_kick of vring 9: %s", hp_last_error());
		{
			int inside = 0;
			for (uint32_t i = 0; i < mem->nregions; i++) {
				uint64_t lo = mem->regions[i].host_user_addr, hi = lo + mem->regions[i].size;
				uint64_t d = (uint64_t)(uintptr_t)vr.desc;
				inside |= d >= lo && d + 16 * vr.size <= hi;
			}
			CHECK(inside, "the descriptor table lies in guest memory");
		}
		free(mem);
	}
	CHECK(hp_vhost_get_vring_base(vid, 0, &a, &u) == 0, "%s", hp_last_error());

	/* bad queue ids */
	CHECK(hp_vhost_get_vhost_vring(vid, 200, &vr) == -1, "vring 200");
	CHECK_ERROR("vring 200 does not exist on vid");
	CHECK(hp_vhost_get_vring_base(vid, 300, &a, &u) == -1, "vring 300");
	CHECK(hp_vhost_get_vhost_vring(vid, 0, NULL) == -1, "NULL vring");
	CHECK_ERROR("vring is NULL");
	CHECK(hp_vhost_vring_stats_get(vid, 9, NULL, 0) == -1, "stats of vring 9");
	CHECK(hp_vhost_rx_queue_count(vid, 0) == 0, "rx_queue_count of an even queue is 0");
}

/* Enqueues `want` frames to guest RX; returns how many the guest ring took within 10 s. */
static uint64_t enqueue_frames(int vid, struct hp_mempool *pool, uint64_t want)
{
	struct hp_mbuf *pkts[32];
	uint64_t sent = 0;
	double end = now() + 10;
	for (int i = 0; i < 32; i++) {
		uint8_t *p;
		pkts[i] = hp_pktmbuf_alloc(pool);
		if (pkts[i] == NULL)
			return 0;
		p = hp_pktmbuf_append(pkts[i], 64);
		memset(p, 0, 64);
		memcpy(p, "\x00\x01\x02\x03\x04\x05\x02\x00\x00\x00\x00\x01\x08\x00", 14);
	}
	CHECK(hp_vhost_enqueue_burst(vid, 1, pkts, 32) == 0, "enqueue on an odd (guest TX) queue moves nothing");
	CHECK(hp_vhost_enqueue_burst(vid, 254, pkts, 32) == 0, "enqueue on a queue that does not exist");
	CHECK(hp_vhost_enqueue_burst(vid, 0, NULL, 32) == 0, "NULL pkts");
	while (sent < want && now() < end) {
		uint16_t n = (uint16_t)(want - sent < 32 ? want - sent : 32);
		sent += hp_vhost_enqueue_burst(vid, 0, pkts, n);
	}
	hp_pktmbuf_free_bulk(pkts, 32);
	return sent;
}

/*
 * The async path's lifecycle from C: a built-in engine channel registered on guest RX, a burst whose copies the engine
 * may still be doing, then either unregistered at once (the library waits for the copies and frees the frames) or
 * cleared first (hp_vhost_clear_queue hands every frame back); 200 times, every mbuf back in the pool after each.
 * Returns the frames the guest ring took (testpmd counts them with the rest).
 */
static uint64_t async_cycles(int vid, struct hp_mempool *pool)
{
	struct hp_copy_engine *eng = hp_copy_engine_create("hp-copy-c", -1);
	struct hp_mbuf *pkts[32];
	uint64_t sent = 0;
	unsigned in_use = hp_mempool_in_use_count(pool);
	int cycles = 0, cleared = 0, full = 0;
	CHECK(eng != NULL, "%s", hp_last_error());
	if (eng == NULL)
		return 0;
	CHECK(hp_vhost_clear_queue(vid, 0, pkts, 32) == 0, "clear without a channel");
	CHECK_ERROR("hp_vhost_clear_queue: vring 0 of vid");
	CHECK(hp_vhost_clear_queue_thread_unsafe(vid, 254, pkts, 32) == 0, "clear of a queue that does not exist");
	for (; cycles < 200; cycles++) {
		uint16_t n, back = 0;
		double end = now() + 5;
		if (hp_vhost_async_channel_register_engine(vid, 0, HP_VHOST_ASYNC_INORDER, eng) != 0)
			break;
		wait_posted(vid, 32, 5); /* testpmd has posted room for the whole burst */
		for (int i = 0; i < 32; i++) {
			uint8_t *p;
			pkts[i] = hp_pktmbuf_alloc(pool);
			if (pkts[i] == NULL)
				return sent;
			p = hp_pktmbuf_append(pkts[i], 64);
			memset(p, 0, 64);
			memcpy(p, "\x00\x01\x02\x03\x04\x05\x02\x00\x00\x00\x00\x01\x08\x00", 14);
		}
		n = hp_vhost_submit_enqueue_burst(vid, 0, pkts, 32);
		hp_pktmbuf_free_bulk(pkts + n, 32u - n);
		sent += n;
		full += n == 32;
		if (cycles & 1) {
			/* 0 while the control plane holds the ring for a moment: try again */
			while (back < n && now() < end)
				back += hp_vhost_clear_queue(vid, 0, pkts + back, (uint16_t)(32 - back));
			cleared += back == n;
			hp_pktmbuf_free_bulk(pkts, back);
		}
		if (hp_vhost_async_channel_unregister(vid, 0) != 0 || hp_mempool_in_use_count(pool) != in_use)
			break;
	}
	CHECK(cycles == 200, "200 register/submit/unregister cycles, stopped at %d: %s (mbufs in use %u, before %u)",
	      cycles, hp_last_error(), hp_mempool_in_use_count(pool), in_use);
	CHECK(cleared == 100, "hp_vhost_clear_queue handed every frame back in %d of 100 cycles", cleared);
	CHECK(full == 200, "the guest ring took a whole burst in %d of 200 cycles", full);
	printf("async cycles: %d, %llu frames submitted\n", cycles, (unsigned long long)sent);
	CHECK(hp_copy_engine_packets(eng) > 0, "the engine copied frames");
	hp_copy_engine_free(eng);
	return sent;
}

static void test_stats(int vid, uint64_t sent)
{
	struct hp_vhost_stat_name *names;
	struct hp_vhost_stat *stats;
	int n = hp_vhost_vring_stats_get_names(vid, 0, NULL, 0);
	CHECK(n > 0, "counter count %d: %s", n, hp_last_error());
	if (n <= 0)
		return;
	names = calloc((size_t)n, sizeof(*names));
	stats = calloc((size_t)n, sizeof(*stats));
	CHECK(hp_vhost_vring_stats_get_names(vid, 0, names, (unsigned)n) == n, "names");
	CHECK(strcmp(names[0].name, "tx_q0_good_packets") == 0, "first name %s", names[0].name);
	CHECK(hp_vhost_vring_stats_get(vid, 0, stats, (unsigned)n) == n, "values");
	CHECK(stats[0].id == 0 && stats[0].value == sent, "good_packets %llu, sent %llu",
	      (unsigned long long)stats[0].value, (unsigned long long)sent);
	CHECK(stats[1].value == sent * 64, "good_bytes %llu", (unsigned long long)stats[1].value);
	CHECK(hp_vhost_vring_stats_get(vid, 0, stats, 1) == n, "a short array gets the count");
	CHECK(hp_vhost_vring_stats_reset(vid, 0) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_vring_stats_get(vid, 0, stats, (unsigned)n) == n && stats[0].value == 0, "reset");
	free(names);
	free(stats);
}

/* Dequeues testpmd's txonly traffic for up to 5 s; returns the packets read. */
static uint64_t dequeue_frames(int vid, struct hp_mempool *pool)
{
	struct hp_mbuf *pkts[32];
	uint64_t got = 0, bytes = 0;
	double end = now() + 5;
	CHECK(hp_vhost_dequeue_burst(vid, 0, pool, pkts, 32) == 0, "dequeue on an even (guest RX) queue moves nothing");
	CHECK(hp_vhost_dequeue_burst(vid, 1, NULL, pkts, 32) == 0, "NULL pool");
	CHECK_ERROR("mbuf_pool is NULL");
	while (now() < end && got < 100000) {
		uint16_t n = hp_vhost_dequeue_burst(vid, 1, pool, pkts, 32);
		for (uint16_t i = 0; i < n; i++)
			bytes += pkts[i]->pkt_len;
		hp_pktmbuf_free_bulk(pkts, n);
		got += n;
	}
	if (got > 0)
		CHECK(bytes == got * 64, "every dequeued packet is testpmd's 64-byte frame");
	return got;
}

/* Both queues get a held channel: a burst submitted to guest RX and a burst the async dequeue took from guest TX stay
 * in flight until testpmd stops the device, then destroy_device (above) clears them. */
static void arm_clear_on_destroy(int vid, struct hp_mempool *pool)
{
	struct hp_vhost_async_channel_ops ops = { .transfer_data = held_transfer, .check_completed_copies = held_check };
	struct hp_mbuf *pkts[32];
	int inflight = -1, n = 0;
	double end = now() + 5;
	atomic_store(&g_held[0].polls_left, -1);
	atomic_store(&g_held[1].polls_left, -1);
	CHECK(hp_vhost_async_channel_register(vid, 0, HP_VHOST_ASYNC_INORDER, &ops) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_async_channel_register(vid, 1, HP_VHOST_ASYNC_INORDER, &ops) == 0, "%s", hp_last_error());
	for (; n < 32; n++) {
		uint8_t *p;
		if ((pkts[n] = hp_pktmbuf_alloc(pool)) == NULL)
			break;
		p = hp_pktmbuf_append(pkts[n], 64);
		memset(p, 0, 64);
	}
	g_clear.rx_submitted = hp_vhost_submit_enqueue_burst(vid, 0, pkts, (uint16_t)n);
	hp_pktmbuf_free_bulk(pkts + g_clear.rx_submitted, (unsigned)(n - g_clear.rx_submitted));
	/* testpmd keeps sending: take a burst (nothing completes while the channel holds it) */
	while (inflight <= 0 && now() < end)
		CHECK(hp_vhost_async_try_dequeue_burst(vid, 1, pool, pkts, 32, &inflight) == 0, "a held copy completed");
	g_clear.tx_taken = inflight;
	CHECK(g_clear.rx_submitted > 0 && g_clear.tx_taken > 0, "copies in flight on both queues: %d RX, %d TX",
	      g_clear.rx_submitted, g_clear.tx_taken);
	CHECK(hp_vhost_async_get_inflight(vid, 0) == g_clear.rx_submitted, "%s", hp_last_error());
	atomic_store(&g_clear.armed, 1);
	atomic_store(&g_held[0].polls_left, 3);
	atomic_store(&g_held[1].polls_left, 3);
}

int main(void)
{
	static const struct hp_vhost_device_ops ops = {
		.new_device = new_device, .destroy_device = destroy_device, .vring_state_changed = vring_state_changed,
		.new_connection = new_connection, .destroy_connection = destroy_connection,
	};
	const char *why = peer_missing();
	struct hp_mempool *pool;
	pid_t peer;
	int vid;
	uint64_t sent = 0;
	unsigned in_use = 0;
	long long rx;

	if (why != NULL) {
		SKIP("DPDK virtio-user tests impossible here: %s", why);
		return check_summary("test_virtio_user");
	}
	snprintf(sock, sizeof(sock), "/tmp/hp-c-vu-%d.sock", (int)getpid());
	snprintf(log_rx, sizeof(log_rx), "/tmp/hp-c-vu-%d-rx.log", (int)getpid());
	snprintf(log_tx, sizeof(log_tx), "/tmp/hp-c-vu-%d-tx.log", (int)getpid());
	pool = hp_mempool_create("c-vu", 8192, 256, 2048 + HP_PKTMBUF_HEADROOM, 0);
	CHECK(pool != NULL, "%s", hp_last_error());
	CHECK(hp_vhost_driver_register(sock, HP_VHOST_USER_NET_STATS_ENABLE) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_callback_register(sock, &ops) == 0, "%s", hp_last_error());
	CHECK(hp_vhost_driver_start(sock) == 0, "%s", hp_last_error());

	/* 1. guest receives (testpmd rxonly): queries, enqueue, statistics */
	peer = peer_start(sock, "rxonly", 0, 64, log_rx);
	vid = wait_device(30);
	CHECK(vid >= 0, "new_device within 30 s (testpmd log %s)", log_rx);
	if (vid >= 0) {
		CHECK(atomic_load(&g_connections) == 1, "new_connection once");
		CHECK(atomic_load(&g_vring_events) >= 2, "vring_state_changed for both vrings");
		static const struct hp_vhost_user_extern_ops xops = { .pre_msg_handle = pre_message };
		uint16_t posted;
		test_queries(vid);
		CHECK(hp_vhost_extern_callback_register(vid, &xops, &g_hook_ctx) == 0, "%s", hp_last_error());
		CHECK(hp_vhost_extern_callback_register(vid, NULL, NULL) == -1, "NULL ops");
		CHECK(peer_wait_log(log_rx, "Port statistics", 20), "testpmd started forwarding");
		posted = wait_posted(vid, 0, 10);
		CHECK(posted > 0, "testpmd posted RX buffers: avail_entries %u", posted);
		sent = enqueue_frames(vid, pool, 20000);
		CHECK(sent > 0, "the guest RX ring took frames: %s", hp_last_error());
		CHECK(hp_vhost_vring_call(vid, 0) == 0, "%s", hp_last_error());
		test_stats(vid, sent);
		sent += async_cycles(vid, pool);
		/* testpmd has received everything once it has posted as many RX buffers again as at the start */
		CHECK(wait_posted(vid, posted, 20) >= posted, "testpmd drained its RX ring within 20 s");
	}
	peer_stop(peer);
	CHECK(wait_for(&g_destroyed, 1, 10), "destroy_device after the peer left");
	CHECK(wait_for(&g_disconnections, 1, 10), "destroy_connection after the peer left");
	CHECK(atomic_load(&g_messages) == 2, "the pre-message hook saw GET_VRING_BASE for both vrings: %d",
	      atomic_load(&g_messages));
	rx = peer_total(log_rx, "RX-packets:");
	CHECK(rx > 0 && (uint64_t)rx == sent, "testpmd received %lld of the %llu enqueued frames", rx,
	      (unsigned long long)sent);
	printf("enqueue: %llu frames enqueued, testpmd received %lld\n", (unsigned long long)sent, rx);

	/* 2. guest transmits (testpmd txonly): dequeue */
	atomic_store(&g_vid, -1);
	peer = peer_start(sock, "txonly", 0, 64, log_tx);
	vid = wait_device(30);
	CHECK(vid >= 0, "new_device for the second connection (testpmd log %s)", log_tx);
	if (vid >= 0) {
		uint64_t got = dequeue_frames(vid, pool);
		CHECK(got > 0, "dequeued testpmd's frames: %s", hp_last_error());
		printf("dequeue: %llu frames\n", (unsigned long long)got);
		in_use = hp_mempool_in_use_count(pool);
		arm_clear_on_destroy(vid, pool);
	}
	peer_stop(peer);
	CHECK(wait_for(&g_destroyed, 2, 10), "second destroy_device");
	CHECK(wait_for(&g_disconnections, 2, 10), "second destroy_connection");
	CHECK(g_clear.rx_back == g_clear.rx_submitted && g_clear.tx_back == g_clear.tx_taken && g_clear.tx_bad == 0,
	      "destroy_device cleared %d of %d RX and %d of %d TX packets (%d not testpmd's frame)", g_clear.rx_back,
	      g_clear.rx_submitted, g_clear.tx_back, g_clear.tx_taken, g_clear.tx_bad);
	CHECK(hp_mempool_in_use_count(pool) == in_use, "mbufs in use %u after the teardown, %u before the clear test",
	      hp_mempool_in_use_count(pool), in_use);
	printf("clear in destroy_device: %d RX, %d TX packets back\n", g_clear.rx_back, g_clear.tx_back);

	CHECK(hp_vhost_driver_unregister(sock) == 0, "%s", hp_last_error());
	hp_mempool_free(pool);
	return check_summary("test_virtio_user");
}
