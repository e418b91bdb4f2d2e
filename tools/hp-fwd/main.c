/*
 * hp-fwd: a testpmd-like forwarder on HotPath's C API (libhotpath.so). It serves one vhost-user socket (or connects
 * to the frontend's with --client) and forwards between the guest's TX and RX queues, one polling thread per queue
 * pair. See options.c for the command line.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hotpath.h>

#include "demo.h"
#include "forward.h"
#include "options.h"
#include "stats.h"

/* Waits up to secs for SIGINT/SIGTERM (blocked in every thread, so they queue here). 1 when one arrived. */
static int wait_signal(const sigset_t *set, double secs)
{
	struct timespec ts;
	if (secs < 0)
		secs = 0;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	for (;;) {
		int sig = sigtimedwait(set, NULL, &ts);
		if (sig > 0)
			return 1;
		if (errno == EAGAIN)
			return 0;
		if (errno != EINTR)
			return 0;
	}
}

static int setup_driver(const struct fwd_options *o)
{
	uint64_t flags = o->client ? HP_VHOST_USER_CLIENT : 0;
	if (hp_vhost_driver_register(o->socket, flags) != 0)
		return -1;
	if (o->split_only && hp_vhost_driver_disable_features(o->socket, 1ULL << HP_VIRTIO_F_RING_PACKED) != 0)
		return -1;
	if (o->packed_only && hp_vhost_driver_enable_features(o->socket, 1ULL << HP_VIRTIO_F_RING_PACKED) != 0)
		return -1;
	if (hp_vhost_driver_set_max_queue_num(o->socket, o->queues) != 0)
		return -1;
	if (hp_vhost_driver_callback_register(o->socket, forward_ops()) != 0)
		return -1;
	return hp_vhost_driver_start(o->socket);
}

int main(int argc, char **argv)
{
	struct fwd_options o;
	sigset_t set;
	double end, next_stats;
	int rc = 0;

	if (!parse_options(argc, argv, &o))
		return 2;
	if (o.demo)
		return run_demo(argv[0], o.seconds);

	/* Block SIGINT/SIGTERM before the library starts its threads: they inherit the mask, and the signals wait
	 * for sigtimedwait below instead of interrupting a forwarding thread. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (forward_init(&o) != 0)
		return 1;
	if (setup_driver(&o) != 0) {
		fprintf(stderr, "hp-fwd: %s\n", hp_last_error());
		hp_vhost_driver_unregister(o.socket);
		forward_fini();
		return 1;
	}
	fprintf(stderr, "hp-fwd: %s %s, mode %s, %u queue pair(s), burst %u%s\n", o.client ? "connecting to" : "serving",
		o.socket, mode_name(o.mode), o.queues, o.burst, o.seconds ? "" : ", until SIGINT/SIGTERM");

	stats_start(&o);
	end = o.seconds ? now_seconds() + o.seconds : 0;
	next_stats = o.stats_interval > 0 ? now_seconds() + o.stats_interval : 0;
	for (;;) {
		double now = now_seconds(), until = 3600;
		if (end && now >= end)
			break;
		if (next_stats && now >= next_stats) {
			stats_print_interval(&o);
			next_stats += o.stats_interval;
			continue;
		}
		if (end && end - now < until)
			until = end - now;
		if (next_stats && next_stats - now < until)
			until = next_stats - now;
		if (wait_signal(&set, until))
			break;
	}

	/* Unregister closes the connection: destroy_device joins the forwarding threads first. */
	if (hp_vhost_driver_unregister(o.socket) != 0) {
		fprintf(stderr, "hp-fwd: %s\n", hp_last_error());
		rc = 1;
	}
	forward_fini();
	if (stats_finish(&o) != 0)
		rc = 1;
	return rc;
}
