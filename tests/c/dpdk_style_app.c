/*
 * A vhost application written against DPDK 22.11's API (rte_vhost.h, rte_mbuf.h, rte_mempool.h, rte_ring.h), as
 * DPDK's examples/vhost is: it registers a socket, lets new_device/destroy_device publish the device, and polls the
 * guest's TX ring, reading each frame with rte_pktmbuf_mtod(m, char *) and passing the mbufs through an rte_ring
 * before freeing them. The same source builds against DPDK's own headers (tests/c/run.sh checks that, as C and C++)
 * and against HotPath's compatibility set (pkg-config hotpath-rte), where it runs against DPDK's virtio-user. The
 * EAL is the one thing kept apart (HOTPATH_RTE_COMPAT).
 * Usage: dpdk_style_app SOCKET SECONDS
 */
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_vhost.h>
#ifndef HOTPATH_RTE_COMPAT
#include <rte_eal.h>
#endif

#include <linux/virtio_config.h> /* VIRTIO_F_*: C++-clean, unlike virtio_net.h and virtio_ring.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define VIRTIO_TXQ 1 /* the guest's TX ring: the backend dequeues it */
#define BURST 32

/* Written by the library's control thread, read by the polling loop (the GCC builtins work in C and C++). */
static int g_vid = -1;
static int g_ring_ok, g_features_ok;

static int new_device(int vid)
{
	struct rte_vhost_vring vr;
	uint64_t features = 0;
	char ifname[128];
	/* The kernel's vring types, as a DPDK application expects them. */
	g_ring_ok = rte_vhost_get_vhost_vring(vid, VIRTIO_TXQ, &vr) == 0 && vr.desc != NULL && vr.avail != NULL &&
		    vr.used != NULL && vr.size > 0 && (vr.size & (vr.size - 1)) == 0;
	g_features_ok = rte_vhost_get_negotiated_features(vid, &features) == 0 &&
			(features & (1ULL << VIRTIO_F_VERSION_1)) != 0 && rte_vhost_get_ifname(vid, ifname, sizeof(ifname)) == 0;
	/* A polling application turns the guest's kicks off, as DPDK's examples/vhost does. */
	g_ring_ok = g_ring_ok && rte_vhost_enable_guest_notification(vid, VIRTIO_TXQ, 0) == 0;
	printf("dpdk_style_app: new_device vid=%d vrings=%u features=0x%llx ifname=%s\n", vid, rte_vhost_get_vring_num(vid),
	       (unsigned long long)features, ifname);
	__atomic_store_n(&g_vid, vid, __ATOMIC_RELEASE);
	return 0;
}

static void destroy_device(int vid)
{
	(void)vid;
	__atomic_store_n(&g_vid, -1, __ATOMIC_RELEASE);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct rte_vhost_device_ops ops;
	struct rte_mbuf *pkts[BURST];
	void *through[BURST];
	unsigned long long packets = 0, bytes = 0, ethertype_ok = 0;
	const char *path;
	double end;

#ifndef HOTPATH_RTE_COMPAT
	if (rte_eal_init(argc, argv) < 0)
		return 1;
#endif
	if (argc < 3) {
		fprintf(stderr, "usage: %s SOCKET SECONDS\n", argv[0]);
		return 2;
	}
	path = argv[1];
	end = now() + atof(argv[2]);
	memset(&ops, 0, sizeof(ops));
	ops.new_device = new_device;
	ops.destroy_device = destroy_device;

	struct rte_mempool *pool = rte_pktmbuf_pool_create("dpdk_style", 8192, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	struct rte_ring *ring = rte_ring_create("dpdk_style", 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	CHECK(pool != NULL && ring != NULL, "pool or ring");
	if (pool == NULL || ring == NULL)
		return check_summary("dpdk_style_app");
	unlink(path);
	CHECK(rte_vhost_driver_register(path, 0) == 0, "register");
	CHECK(rte_vhost_driver_disable_features(path, 1ULL << VIRTIO_F_NOTIFY_ON_EMPTY) == 0, "disable features");
	CHECK(rte_vhost_driver_callback_register(path, &ops) == 0, "callbacks");
	CHECK(rte_vhost_driver_start(path) == 0, "start");

	while (now() < end) {
		int vid = __atomic_load_n(&g_vid, __ATOMIC_ACQUIRE);
		if (vid < 0)
			continue;
		uint16_t n = rte_vhost_dequeue_burst(vid, VIRTIO_TXQ, pool, pkts, BURST);
		for (uint16_t i = 0; i < n; i++) {
			const char *eth = rte_pktmbuf_mtod(pkts[i], const char *);
			/* testpmd's txonly frames are IPv4 (ethertype 0x0800). */
			if (rte_pktmbuf_data_len(pkts[i]) >= 14 && eth[12] == 0x08 && eth[13] == 0x00)
				ethertype_ok++;
			bytes += rte_pktmbuf_pkt_len(pkts[i]);
		}
		packets += n;
		unsigned int queued = rte_ring_enqueue_burst(ring, (void *const *)pkts, n, NULL);
		unsigned int back = rte_ring_dequeue_burst(ring, through, queued, NULL);
		rte_pktmbuf_free_bulk((struct rte_mbuf **)through, back);
		if (queued < n)
			rte_pktmbuf_free_bulk(pkts + queued, n - queued);
	}
	printf("dpdk_style_app: packets=%llu bytes=%llu ipv4=%llu pool in use=%u\n", packets, bytes, ethertype_ok,
	       rte_mempool_in_use_count(pool));
	CHECK(g_ring_ok, "rte_vhost_get_vhost_vring gave no usable kernel vring");
	CHECK(g_features_ok, "negotiated features or ifname");
	CHECK(packets > 0, "no packet dequeued");
	CHECK(ethertype_ok == packets, "%llu of %llu frames read through rte_pktmbuf_mtod had the IPv4 ethertype", ethertype_ok, packets);
	CHECK(rte_mempool_in_use_count(pool) == 0, "%u mbufs still in use", rte_mempool_in_use_count(pool));
	rte_vhost_driver_unregister(path);
	rte_ring_free(ring);
	return check_summary("dpdk_style_app");
}
