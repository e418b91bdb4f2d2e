/*
 * Written ONLY from ../shared/reference/rte_vhost-api.md (the C API reference), not from HotPath's examples or
 * sources: a check that the reference is enough to write a working program. It registers a vhost-user socket,
 * waits for a frontend, dequeues the guest's packets for a few seconds and prints how many it got.
 * Usage: ref_dequeue SOCKET SECONDS     exit 0 when at least one packet arrived.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <hotpath.h>

static atomic_int running_vid = -1;

static int on_new_device(int vid)
{
	atomic_store(&running_vid, vid);
	return 0;
}

static void on_destroy_device(int vid)
{
	(void)vid;
	atomic_store(&running_vid, -1); /* single-threaded poller below: it re-reads the vid before each burst */
}

int main(int argc, char **argv)
{
	struct hp_vhost_device_ops ops = { 0 };
	struct hp_mempool *pool;
	struct hp_mbuf *mbufs[32];
	unsigned long long packets = 0, bytes = 0;
	time_t end;

	if (argc != 3) {
		fprintf(stderr, "usage: ref_dequeue SOCKET SECONDS\n");
		return 2;
	}
	ops.new_device = on_new_device;
	ops.destroy_device = on_destroy_device;

	pool = hp_mempool_create("ref", 4096, 128, 2048 + 128, 0);
	if (pool == NULL) {
		fprintf(stderr, "hp_mempool_create: %s\n", hp_last_error());
		return 1;
	}
	if (hp_vhost_driver_register(argv[1], 0) != 0 || hp_vhost_driver_callback_register(argv[1], &ops) != 0 ||
	    hp_vhost_driver_start(argv[1]) != 0) {
		fprintf(stderr, "driver: %s\n", hp_last_error());
		return 1;
	}

	end = time(NULL) + atoi(argv[2]);
	while (time(NULL) < end) {
		int vid = atomic_load(&running_vid);
		unsigned n;
		if (vid < 0)
			continue;
		/* Guest TX is the odd queue id: 1 for the first queue pair. */
		n = hp_vhost_dequeue_burst(vid, 1, pool, mbufs, 32);
		for (unsigned i = 0; i < n; i++)
			bytes += mbufs[i]->pkt_len;
		packets += n;
		hp_pktmbuf_free_bulk(mbufs, n);
	}
	printf("ref_dequeue: %llu packets, %llu bytes; last error: %s\n", packets, bytes, hp_last_error());
	hp_vhost_driver_unregister(argv[1]);
	hp_mempool_free(pool);
	return packets > 0 ? 0 : 1;
}
