/*
 * hp-fwd: a testpmd-like forwarder on HotPath's C API (libhotpath.so). It serves one vhost-user socket (or connects
 * to the frontend's with --client) and forwards between the guest's TX and RX queues, one polling thread per queue
 * pair. See options.c for the command line.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hotpath.h>

#include "demo.h"
#include "forward.h"
#include "options.h"
#include "output.h"
#include "rxwait.h"
#include "stats.h"
#include "takeover.h"

/*
 * SIGINT/SIGTERM reach a handler that writes to a pipe the main loop polls. Handlers (rather than blocking the
 * signals and waiting for them) because the .NET runtime inside libhotpath.so may install its own handlers, served
 * by a thread of its own, when it first writes to the console: it hands a signal nobody registered for in managed
 * code back to the handler that was there before it. So ours is installed before the first library call (it is
 * then the one handed back to) and again once the driver has started (then signals come straight to it, without
 * waiting for the runtime's thread, which a busy forwarding thread can starve under valgrind).
 */
static int g_signal_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	char c = (char)sig;
	ssize_t n = write(g_signal_pipe[1], &c, 1); /* async-signal-safe; a full pipe already holds a wakeup */
	(void)n;
}

static int install_signal_handlers(void)
{
	struct sigaction sa;
	if (g_signal_pipe[0] < 0 && pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGINT, &sa, NULL) == 0 && sigaction(SIGTERM, &sa, NULL) == 0 ? 0 : -1;
}

/* Waits up to secs for SIGINT/SIGTERM. 1 when one arrived. */
static int wait_signal(double secs)
{
	struct pollfd p = { .fd = g_signal_pipe[0], .events = POLLIN };
	int ms = secs <= 0 ? 0 : (int)(secs * 1000.0 + 0.5);
	return poll(&p, 1, ms) > 0;
}

/* Every hp-fwd can be taken over by a newer one (TAKEOVER_ALLOW); --takeover first takes a running one's over. */
static int setup_driver(const struct fwd_options *o)
{
	uint64_t flags = (o->client ? HP_VHOST_USER_CLIENT : 0) | (o->postcopy ? HP_VHOST_USER_POSTCOPY_SUPPORT : 0) |
			 (o->iommu ? HP_VHOST_USER_IOMMU_SUPPORT : 0) |
			 (o->vring_stats ? HP_VHOST_USER_NET_STATS_ENABLE : 0) | (o->async ? HP_VHOST_USER_ASYNC_COPY : 0) |
			 HP_VHOST_USER_TAKEOVER_ALLOW | (o->takeover ? HP_VHOST_USER_TAKEOVER : 0);
	if (hp_vhost_driver_register(o->socket, flags) != 0)
		return -1;
	if (o->takeover_path != NULL && hp_vhost_driver_set_takeover_path(o->socket, o->takeover_path) != 0)
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

/* What the driver offers, for scripts (the features a frontend can negotiate): one "offered ..." line. */
static void print_offered(const char *socket)
{
	char line[128];
	uint64_t features = 0, protocol = 0;
	if (hp_vhost_driver_get_features(socket, &features) != 0 ||
	    hp_vhost_driver_get_protocol_features(socket, &protocol) != 0)
		return;
	snprintf(line, sizeof(line), "offered features=0x%llx protocol_features=0x%llx", (unsigned long long)features,
		 (unsigned long long)protocol);
	out_line(line);
}

int main(int argc, char **argv)
{
	struct fwd_options o;
	double end, next_stats;
	int rc = 0;

	if (!parse_options(argc, argv, &o))
		return 2;
	if (o.demo)
		return run_demo(argv[0], o.seconds);

	hp_log_set_stream(stderr); /* HotPath writes nothing unless asked: hp-fwd wants its lines on stderr */
	if (install_signal_handlers() != 0) {
		perror("hp-fwd: signal handlers");
		return 1;
	}
	if (forward_init(&o) != 0)
		return 1;
	takeover_set_wakeup(g_signal_pipe[1]);
	if (setup_driver(&o) != 0) {
		fprintf(stderr, "hp-fwd: %s\n", hp_last_error());
		hp_vhost_driver_unregister(o.socket);
		forward_fini();
		return 1;
	}
	install_signal_handlers();
	fprintf(stderr, "hp-fwd: %s %s, mode %s, rx-mode %s, %u queue pair(s), burst %u%s%s%s\n",
		o.client ? "connecting to" : "serving", o.socket, mode_name(o.mode), rx_mode_name(o.rx_mode), o.queues,
		o.burst, o.postcopy ? ", postcopy" : "", o.iommu ? ", iommu" : "", o.seconds ? "" : ", until SIGINT/SIGTERM");

	print_offered(o.socket);
	if (o.takeover)
		takeover_print_info(o.socket); /* taken (with the pause), or none/fallback: started normally */
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
			if (next_stats <= now) /* this thread did not run for whole intervals: one line covers them */
				next_stats = now + o.stats_interval;
			continue;
		}
		if (end && end - now < until)
			until = end - now;
		if (next_stats && next_stats - now < until)
			until = next_stats - now;
		if (wait_signal(until))
			break; /* SIGINT/SIGTERM, or takeover_complete */
	}
	if (takeover_handed()) {
		/* Every device went to the newer hp-fwd (each got destroy_device): the counters are final. */
		fprintf(stderr, "hp-fwd: devices handed over to a new hp-fwd; exiting\n");
		takeover_print_info(o.socket);
	}

	/* Unregister closes the connection: destroy_device joins the forwarding threads first. After a takeover it
	 * closes nothing the new process holds. */
	if (hp_vhost_driver_unregister(o.socket) != 0) {
		fprintf(stderr, "hp-fwd: %s\n", hp_last_error());
		rc = 1;
	}
	forward_fini();
	if (stats_finish(&o, forward_active_seconds()) != 0)
		rc = 1;
	return rc;
}
