/*
 * hp-crypto: a vhost-user virtio-crypto backend (DPDK's examples/vhost_crypto) on libhotpath.so. The guest's sessions
 * (CREATE/CLOSE_CRYPTO_SESSION) are kept by the library; one polling thread per device fetches the data queues'
 * requests, runs them through HotPath's built-in engine (AES-CBC/CTR, HMAC-SHA1/256) and finalizes them.
 *
 *   hp-crypto --socket PATH [--client] [--idle-sleep US] [--json FILE]
 *   SIGINT/SIGTERM: stop; prints "summary requests=... bytes=... errors=..." (and writes it to FILE as JSON).
 *   SIGUSR1: prints "counts requests=... bytes=... errors=..." so far.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hotpath.h>

#define MAX_DEVICES 8
#define BURST 32

struct counters {
	_Atomic uint64_t requests, bytes, errors, bursts;
	_Atomic uint64_t status[5];     /* by HP_VIRTIO_CRYPTO_* */
};

struct device {
	int vid;                        /* -1: slot free */
	atomic_int stop;
	pthread_t thread;
};

static struct device g_dev[MAX_DEVICES];
static struct counters g_total;
static unsigned g_idle_sleep_us = 100;  /* an idle device is polled every this often instead of spinning */
static volatile sig_atomic_t g_quit, g_usr1;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Fetch, process, finalize on every data queue of one device until destroy_device says stop. */
static void *poll_device(void *arg)
{
	struct device *d = arg;
	struct hp_vhost_crypto_request reqs[BURST];
	unsigned idle = 0;

	while (!atomic_load(&d->stop)) {
		uint16_t nq = hp_vhost_get_vring_num(d->vid), got = 0;
		for (uint16_t q = 0; q < nq; q++) {
			uint16_t n = hp_vhost_crypto_fetch_requests(d->vid, q, reqs, BURST);
			if (n == 0)
				continue;
			got += n;
			if (hp_vhost_crypto_process_requests(d->vid, reqs, n) < 0)
				for (uint16_t i = 0; i < n; i++)  /* the engine failed as a whole: each request gets ERR */
					if (reqs[i].status == HP_VIRTIO_CRYPTO_OK)
						reqs[i].status = HP_VIRTIO_CRYPTO_ERR;
			/* Finalize returns fewer when the control plane holds the ring for a moment: the rest follow (they
			 * must, before anything is fetched again: requests are finalized in fetch order). */
			uint16_t done = 0;
			while (done < n && !atomic_load(&d->stop))
				done += hp_vhost_crypto_finalize_requests(d->vid, reqs + done, n - done);
			for (uint16_t i = 0; i < done; i++) {
				uint8_t s = reqs[i].status;
				atomic_fetch_add_explicit(&g_total.requests, 1, memory_order_relaxed);
				atomic_fetch_add_explicit(&g_total.status[s < 5 ? s : HP_VIRTIO_CRYPTO_ERR], 1, memory_order_relaxed);
				if (s == HP_VIRTIO_CRYPTO_OK)
					atomic_fetch_add_explicit(&g_total.bytes, reqs[i].src_len, memory_order_relaxed);
				else
					atomic_fetch_add_explicit(&g_total.errors, 1, memory_order_relaxed);
			}
			atomic_fetch_add_explicit(&g_total.bursts, 1, memory_order_relaxed);
		}
		if (got == 0 && ++idle > 64 && g_idle_sleep_us > 0)
			usleep(g_idle_sleep_us);
		else if (got != 0)
			idle = 0;
	}
	return NULL;
}

static int new_device(int vid)
{
	uint64_t f = 0, pf = 0;
	for (int i = 0; i < MAX_DEVICES; i++) {
		struct device *d = &g_dev[i];
		if (d->vid != -1)
			continue;
		d->vid = vid;
		atomic_store(&d->stop, 0);
		if (pthread_create(&d->thread, NULL, poll_device, d) != 0) {
			d->vid = -1;
			return -1;
		}
		hp_vhost_get_negotiated_features(vid, &f);
		hp_vhost_get_negotiated_protocol_features(vid, &pf);
		printf("device vid=%d vrings=%u features=0x%llx protocol_features=0x%llx crypto_session=%d\n", vid,
		       hp_vhost_get_vring_num(vid), (unsigned long long)f, (unsigned long long)pf,
		       (int)((pf >> HP_VHOST_USER_PROTOCOL_F_CRYPTO_SESSION) & 1));
		fflush(stdout);
		return 0;
	}
	fprintf(stderr, "hp-crypto: vid %d refused: %d devices already\n", vid, MAX_DEVICES);
	return -1;
}

/* The library changes the rings when this returns: the device's thread is stopped first. */
static void destroy_device(int vid)
{
	for (int i = 0; i < MAX_DEVICES; i++) {
		struct device *d = &g_dev[i];
		if (d->vid != vid)
			continue;
		atomic_store(&d->stop, 1);
		pthread_join(d->thread, NULL);
		d->vid = -1;
		printf("device vid=%d stopped\n", vid);
		fflush(stdout);
	}
}

static void summary(const char *json, double seconds)
{
	unsigned long long r = atomic_load(&g_total.requests), b = atomic_load(&g_total.bytes),
			   e = atomic_load(&g_total.errors), bu = atomic_load(&g_total.bursts);
	char st[160];
	snprintf(st, sizeof(st), "ok=%llu err=%llu badmsg=%llu notsupp=%llu invsess=%llu",
		 (unsigned long long)atomic_load(&g_total.status[0]), (unsigned long long)atomic_load(&g_total.status[1]),
		 (unsigned long long)atomic_load(&g_total.status[2]), (unsigned long long)atomic_load(&g_total.status[3]),
		 (unsigned long long)atomic_load(&g_total.status[4]));
	printf("summary seconds=%.2f requests=%llu bytes=%llu errors=%llu bursts=%llu %s\n", seconds, r, b, e, bu, st);
	fflush(stdout);
	if (json != NULL) {
		FILE *f = fopen(json, "w");
		if (f == NULL) {
			perror(json);
			return;
		}
		fprintf(f, "{\"seconds\": %.2f, \"requests\": %llu, \"bytes\": %llu, \"errors\": %llu, \"bursts\": %llu}\n",
			seconds, r, b, e, bu);
		fclose(f);
	}
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		g_usr1 = 1;
	else
		g_quit = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: hp-crypto --socket PATH [--client] [--idle-sleep US] [--json FILE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct hp_vhost_device_ops ops = { .new_device = new_device, .destroy_device = destroy_device };
	const char *path = NULL, *json = NULL;
	uint64_t flags = 0;
	struct sigaction sa;
	double t0;

	hp_log_set_stream(stderr); /* the library writes no log line unless asked */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--client") == 0)
			flags |= HP_VHOST_USER_CLIENT;
		else if (strcmp(argv[i], "--idle-sleep") == 0 && i + 1 < argc)
			g_idle_sleep_us = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			json = argv[++i];
		else
			return usage();
	}
	if (path == NULL)
		return usage();
	for (int i = 0; i < MAX_DEVICES; i++)
		g_dev[i].vid = -1;

	/* Handlers before the library and again after it (see hp-fwd's main.c: the runtime hands unclaimed signals back). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	if (hp_vhost_driver_register(path, flags) != 0 || hp_vhost_driver_callback_register(path, &ops) != 0 ||
	    hp_vhost_crypto_driver_start(path) != 0) {
		fprintf(stderr, "hp-crypto: %s\n", hp_last_error());
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	printf("hp-crypto: %s %s\n", flags ? "connecting to" : "serving", path);
	fflush(stdout);

	t0 = now_s();
	while (!g_quit) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		if (g_usr1) {
			g_usr1 = 0;
			printf("counts requests=%llu bytes=%llu errors=%llu\n", (unsigned long long)atomic_load(&g_total.requests),
			       (unsigned long long)atomic_load(&g_total.bytes), (unsigned long long)atomic_load(&g_total.errors));
			fflush(stdout);
		}
	}
	hp_vhost_driver_unregister(path); /* destroy_device stops every polling thread */
	summary(json, now_s() - t0);
	return 0;
}
