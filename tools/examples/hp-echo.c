/*
 * hp-echo: the smallest HotPath program. It serves a vhost-user socket and sends every packet the guest transmits
 * straight back to it.
 *   build: gcc -std=c11 hp-echo.c $(pkg-config --cflags --libs hotpath)
 *   run:   ./a.out /tmp/echo.sock    (then start QEMU or DPDK virtio-user on /tmp/echo.sock; Ctrl-C stops)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include <hotpath.h>

static atomic_int ready_vid = -1;   /* the device to poll (-1: none), set by the callbacks */
static atomic_int polling;          /* 1 while the loop may be inside a burst */
static volatile sig_atomic_t quit;

static int new_device(int vid)
{
	atomic_store(&ready_vid, vid);
	return 0;
}

/* Must not return while a burst still runs on vid: the library is about to change its rings. */
static void destroy_device(int vid)
{
	(void)vid;
	atomic_store(&ready_vid, -1);
	while (atomic_load(&polling))
		;
}

static void on_signal(int sig) { (void)sig; quit = 1; }

int main(int argc, char **argv)
{
	static const struct hp_vhost_device_ops ops = { .new_device = new_device, .destroy_device = destroy_device };
	const char *path = argc > 1 ? argv[1] : "/tmp/hp-echo.sock";
	struct hp_mempool *pool = hp_mempool_create("echo", 8192, 256, 2048 + HP_PKTMBUF_HEADROOM, 0);
	struct hp_mbuf *pkts[32];

	hp_log_set_stream(stderr); /* the library writes no log line unless asked */
	if (pool == NULL || hp_vhost_driver_register(path, 0) != 0 ||
	    hp_vhost_driver_callback_register(path, &ops) != 0 || hp_vhost_driver_start(path) != 0) {
		fprintf(stderr, "hp-echo: %s\n", hp_last_error());
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("hp-echo: serving %s\n", path);
	fflush(stdout);
	while (!quit) {
		atomic_store(&polling, 1);
		int vid = atomic_load(&ready_vid);
		if (vid >= 0) {
			uint16_t n = hp_vhost_dequeue_burst(vid, 1, pool, pkts, 32); /* guest TX is vring 1 */
			hp_vhost_enqueue_burst(vid, 0, pkts, n);            /* guest RX is vring 0; the enqueue copies */
			hp_pktmbuf_free_bulk(pkts, n);
		}
		atomic_store(&polling, 0);
		if (vid < 0)
			usleep(1000);
	}
	hp_vhost_driver_unregister(path);
	hp_mempool_free(pool);
	return 0;
}
