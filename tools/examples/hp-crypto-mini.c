/*
 * hp-crypto-mini: the smallest HotPath vhost-user crypto backend (DPDK's examples/vhost_crypto, without cryptodev):
 * one socket, one device, one polling loop. The guest's sessions are kept by the library; each round fetches the
 * data queue's requests, lets the application look at them (here: requests longer than --max-len are failed with
 * ERR before any work), runs the rest through HotPath's engine and finalizes them.
 *   build: gcc -std=c11 hp-crypto-mini.c $(pkg-config --cflags --libs hotpath)
 *   run:   ./a.out /tmp/crypto.sock [--max-len N] [--zero-copy]   (then QEMU with -object cryptodev-vhost-user on it;
 *          Ctrl-C stops). --zero-copy: cipher-only requests run in place on guest memory when they allow it.
 * At exit it prints "hp-crypto-mini: requests=N ok=N refused=N failed=N".
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hotpath.h>

#define BURST 32

static atomic_int ready_vid = -1;   /* the device to poll (-1: none), set by the callbacks */
static atomic_int polling;          /* 1 while the loop may be inside a fetch or finalize */
static volatile sig_atomic_t quit;
static int zero_copy;


static int new_device(int vid)
{
	if (zero_copy && hp_vhost_crypto_set_zero_copy(vid, 1) != 0)
		fprintf(stderr, "hp-crypto-mini: zero copy: %s\n", hp_last_error());
	atomic_store(&ready_vid, vid);
	return 0;
}

/* Must not return while the loop still works on vid: the library is about to change its rings. */
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
	const char *path = argc > 1 ? argv[1] : "/tmp/hp-crypto-mini.sock";
	unsigned long max_len = 65536;
	unsigned long long requests = 0, ok = 0, refused = 0, failed = 0;
	struct hp_vhost_crypto_request reqs[BURST];

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--max-len") == 0 && i + 1 < argc)
			max_len = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--zero-copy") == 0)
			zero_copy = 1;
	}
	hp_log_set_stream(stderr); /* the library writes no log line unless asked */
	if (hp_vhost_driver_register(path, 0) != 0 || hp_vhost_driver_callback_register(path, &ops) != 0 ||
	    hp_vhost_crypto_driver_start(path) != 0) {
		fprintf(stderr, "hp-crypto-mini: %s\n", hp_last_error());
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("hp-crypto-mini: serving %s, requests up to %lu bytes%s\n", path, max_len, zero_copy ? ", zero copy" : "");
	fflush(stdout);
	while (!quit) {
		uint16_t n = 0, done = 0;
		atomic_store(&polling, 1);
		int vid = atomic_load(&ready_vid);
		if (vid >= 0)
			n = hp_vhost_crypto_fetch_requests(vid, 0, reqs, BURST); /* queue 0: the data queue */
		for (uint16_t i = 0; i < n; i++) {
			/* A request fetched with a status other than OK was refused by the library: it is only reported.
			 * An engine of the application's own would work here, in hp_vhost_crypto_request_buffers. */
			if (reqs[i].status == HP_VIRTIO_CRYPTO_OK && reqs[i].src_len > max_len) {
				reqs[i].status = HP_VIRTIO_CRYPTO_ERR; /* OK may become a failure, never the reverse */
				refused++;
			}
		}
		if (n != 0 && hp_vhost_crypto_process_requests(vid, reqs, n) < 0)
			fprintf(stderr, "hp-crypto-mini: process: %s\n", hp_last_error());
		/* Finalize returns fewer when the control plane holds the ring for a moment: the rest follow. */
		while (done < n && atomic_load(&ready_vid) == vid)
			done += hp_vhost_crypto_finalize_requests(vid, reqs + done, n - done);
		for (uint16_t i = 0; i < done; i++) {
			requests++;
			if (reqs[i].status == HP_VIRTIO_CRYPTO_OK)
				ok++;
			else if (reqs[i].src_len <= max_len)
				failed++;
		}
		atomic_store(&polling, 0);
		if (n == 0)
			usleep(vid < 0 ? 1000 : 50);
	}
	hp_vhost_driver_unregister(path);
	printf("hp-crypto-mini: requests=%llu ok=%llu refused=%llu failed=%llu\n", requests, ok, refused, failed);
	return 0;
}
