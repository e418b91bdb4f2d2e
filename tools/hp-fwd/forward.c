#include "forward.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "icmpecho.h"
#include "iotlb.h"
#include "migration.h"
#include "output.h"
#include "packets.h"
#include "rxwait.h"
#include "stats.h"
#include "takeover.h"

#define MAX_VIDS 1024 /* the library's device limit */

enum dev_state { DEV_IDLE, DEV_RUNNING, DEV_STOPPING };

struct device;

struct worker {
	struct device *dev;
	unsigned qp; /* queue pair: guest RX vring 2*qp, guest TX vring 2*qp+1 */
	pthread_t thread;
	int started;
	struct rxwait rx; /* what to do while the guest TX queue is empty (--rx-mode) */
	int inflight;     /* --async: guest TX packets taken and not returned yet, after the last dequeue */
};

struct device {
	int vid;
	atomic_int state;
	unsigned nr_qp;
	struct worker workers[FWD_MAX_QUEUES];
};

static struct fwd_options g_opt;
static struct hp_mempool *g_pool;
static uint8_t *g_frame;                 /* the txonly frame, built once */
static struct hp_copy_engine *g_engine;  /* --async: the built-in copy engine all queues share */
static struct device *g_devices[MAX_VIDS];
static pthread_mutex_t g_devices_lock = PTHREAD_MUTEX_INITIALIZER;
/* Time with at least one device running (under g_devices_lock): rates are reported over it, not over idle time. */
static unsigned g_running;
static double g_active_since, g_active_total;

/* Call with g_devices_lock held when a device starts (+1) or stops (-1). */
static void count_running(int delta)
{
	double now = now_seconds();
	if (delta > 0 && g_running++ == 0)
		g_active_since = now;
	if (delta < 0 && --g_running == 0)
		g_active_total += now - g_active_since;
}

double forward_active_seconds(void)
{
	double t;
	pthread_mutex_lock(&g_devices_lock);
	t = g_active_total + (g_running ? now_seconds() - g_active_since : 0);
	pthread_mutex_unlock(&g_devices_lock);
	return t;
}

static inline int running(const struct device *d)
{
	/* Acquire: pairs with the release store of DEV_STOPPING in stop_device. */
	return atomic_load_explicit(&d->state, memory_order_acquire) == DEV_RUNNING;
}

/* A queue that never received anything says why once it stops (the reason is this thread's hp_last_error()). */
static void report_idle(const struct worker *w, uint64_t received)
{
	if (received == 0)
		fprintf(stderr, "hp-fwd: vid %d q%u: no packet dequeued (last error: %s)\n", w->dev->vid, w->qp,
			hp_last_error());
}

static uint64_t bytes_of(struct hp_mbuf **pkts, unsigned n)
{
	uint64_t b = 0;
	for (unsigned i = 0; i < n; i++)
		b += pkts[i]->pkt_len;
	return b;
}

/* One dequeue burst from the guest TX queue of w's pair, counted as received; 0 when it is empty, after a pause or
 * a sleep on its kick fd (--rx-mode, rxwait.c). */
/* rxonly --async-lockstep: after a dequeue, waits (outside the library's calls) until the copy engine copied the
 * packets the call took, so the next call returns them all: every call moves a whole burst, with no empty call. The
 * packets taken = those in flight now + those returned - those in flight before; with frames of one length (the
 * measurement's --pkt-len) all or none of them went to the engine (threshold 256 B). */
static void await_dequeue_copies(struct worker *w, long long copied, uint16_t returned, int inflight)
{
	int taken = inflight < 0 ? 0 : inflight + returned - w->inflight;
	w->inflight = inflight < 0 ? 0 : inflight;
	if (taken <= 0 || g_opt.pkt_len < FWD_ASYNC_THRESHOLD)
		return;
	while (running(w->dev) && hp_copy_engine_packets(g_engine) < copied + taken)
		sched_yield(); /* under valgrind: hands the copy thread its turn at once */
}

static uint16_t receive_burst(struct worker *w, struct hp_mbuf **pkts, uint64_t *received)
{
	struct queue_stats *s = &g_stats[w->qp];
	uint16_t q = (uint16_t)(2 * w->qp + 1);
	int inflight = 0;
	long long copied = g_opt.async_lockstep ? hp_copy_engine_packets(g_engine) : 0;
	/* --async: the queue's copy channel copies the guest's packets; they come back here once copied, in order. */
	uint16_t n = g_opt.async ? hp_vhost_async_try_dequeue_burst(w->dev->vid, q, g_pool, pkts, (uint16_t)g_opt.burst, &inflight)
				 : hp_vhost_dequeue_burst(w->dev->vid, q, g_pool, pkts, (uint16_t)g_opt.burst);
	if (g_opt.async_lockstep)
		await_dequeue_copies(w, copied, n, inflight);
	if (n == 0) {
		/* Copies in flight: their packets come without a kick, so no sleep on the kick fd. */
		if (inflight <= 0)
			rxwait_idle(&g_opt, &w->rx, w->dev->vid, q, w->qp);
		return 0;
	}
	rxwait_busy(&w->rx);
	*received += n;
	stats_add(&s->rx_packets, n);
	stats_add(&s->rx_bytes, bytes_of(pkts, n));
	return n;
}

/* --iommu: how long a burst the guest RX ring did not take in full is offered again, and the pause between tries.
 * An enqueue stops in front of a buffer the IOTLB does not map yet and asks the frontend for it; the update comes
 * back after a round trip through the frontend (QEMU's main loop), so a reply is not dropped for a buffer the guest
 * has just mapped. The pause sleeps rather than spins: on a small host the threads that answer need the core. */
#define IOTLB_RETRY_SECONDS 0.1
#define IOTLB_RETRY_PAUSE_NS 50000

/* Enqueues n packets to the guest RX queue of w's pair (the enqueue copies them); counts what the ring took and
 * what it had no room for. */
static void send_burst(struct worker *w, struct hp_mbuf **pkts, uint16_t n)
{
	struct queue_stats *s = &g_stats[w->qp];
	uint16_t q = (uint16_t)(2 * w->qp);
	uint16_t sent = n ? hp_vhost_enqueue_burst(w->dev->vid, q, pkts, n) : 0;
	if (g_opt.iommu && sent < n) {
		double until = now_seconds() + IOTLB_RETRY_SECONDS;
		const struct timespec pause = { 0, IOTLB_RETRY_PAUSE_NS };
		while (sent < n && running(w->dev) && now_seconds() < until) {
			nanosleep(&pause, NULL);
			sent += hp_vhost_enqueue_burst(w->dev->vid, q, pkts + sent, (uint16_t)(n - sent));
		}
	}
	stats_add(&s->tx_packets, sent);
	stats_add(&s->tx_bytes, bytes_of(pkts, sent));
	if (sent < n)
		stats_add(&s->tx_dropped, (uint64_t)(n - sent));
}

/* --async: hands n packets to the guest RX queue's copy channel; the library owns the ones it took until
 * reap_async gets them back, the rest (no room in the guest ring or the queue) are dropped here. */
static void submit_async(struct worker *w, struct hp_mbuf **pkts, uint16_t n)
{
	struct queue_stats *s = &g_stats[w->qp];
	uint16_t sent = hp_vhost_submit_enqueue_burst(w->dev->vid, (uint16_t)(2 * w->qp), pkts, n);
	stats_add(&s->tx_packets, sent);
	stats_add(&s->tx_bytes, bytes_of(pkts, sent));
	if (sent < n) {
		stats_add(&s->tx_dropped, (uint64_t)(n - sent));
		hp_pktmbuf_free_bulk(pkts + sent, (unsigned)(n - sent));
	}
}

/* --async: frees the packets whose copies completed (their used entries are published by this call). */
static void reap_async(struct worker *w)
{
	struct hp_mbuf *done[FWD_MAX_BURST];
	uint16_t c;
	while ((c = hp_vhost_poll_enqueue_completed(w->dev->vid, (uint16_t)(2 * w->qp), done, FWD_MAX_BURST)) > 0)
		hp_pktmbuf_free_bulk(done, c);
}

/*
 * --async, once a device's threads stopped (destroy_device comes before the library changes the rings): the guest
 * TX packets its queues took and did not return yet (copies in flight, or copied and waiting) are collected and
 * counted as received, and in io/macswap still submitted to the guest RX queue (the library's settle delivers them
 * before the rings change), so every chain the guest gave is counted once and none goes missing from a circulating
 * load. Chains the guest posts meanwhile are taken too; after a second the rest is left to unregister, which frees it.
 */
static void drain_async_rx(int vid)
{
	struct hp_mbuf *pkts[FWD_MAX_BURST];
	double until = now_seconds() + 1.0;
	int forward = g_opt.mode == FWD_IO || g_opt.mode == FWD_MACSWAP;
	for (unsigned qp = 0; qp < g_opt.queues; qp++) {
		struct queue_stats *s = &g_stats[qp];
		int inflight = 1;
		while (inflight > 0 && now_seconds() < until) {
			uint16_t n = hp_vhost_async_try_dequeue_burst(vid, (uint16_t)(2 * qp + 1), g_pool, pkts,
								      (uint16_t)g_opt.burst, &inflight), sent = 0;
			if (n == 0)
				continue;
			stats_add(&s->rx_packets, n);
			stats_add(&s->rx_bytes, bytes_of(pkts, n));
			if (forward) {
				if (g_opt.mode == FWD_MACSWAP)
					swap_macs(pkts, n);
				sent = hp_vhost_submit_enqueue_burst(vid, (uint16_t)(2 * qp), pkts, n);
				stats_add(&s->tx_packets, sent);
				stats_add(&s->tx_bytes, bytes_of(pkts, sent));
			}
			if (g_opt.mode != FWD_RXONLY && sent < n)
				stats_add(&s->tx_dropped, (uint64_t)(n - sent));
			hp_pktmbuf_free_bulk(pkts + sent, (unsigned)(n - sent));
		}
	}
}

/* rxonly: dequeue guest TX, count, free. */
static void run_rxonly(struct worker *w, struct hp_mbuf **pkts)
{
	uint64_t received = 0;
	while (running(w->dev)) {
		uint16_t n = receive_burst(w, pkts, &received);
		hp_pktmbuf_free_bulk(pkts, n);
	}
	report_idle(w, received);
}

/* io and macswap: dequeue guest TX, enqueue the same packets to guest RX, free them all. */
static void run_io(struct worker *w, struct hp_mbuf **pkts, int macswap)
{
	uint64_t received = 0;
	while (running(w->dev)) {
		if (g_opt.async)
			reap_async(w);
		uint16_t n = receive_burst(w, pkts, &received);
		if (n == 0)
			continue;
		if (macswap)
			swap_macs(pkts, n);
		if (g_opt.async) {
			submit_async(w, pkts, n);
			continue;
		}
		send_burst(w, pkts, n);
		hp_pktmbuf_free_bulk(pkts, n);
	}
	report_idle(w, received);
}

/*
 * icmpecho: dequeue guest TX, rewrite ARP and ICMP echo requests into their replies in place and reflect UDP to
 * port 7 (icmpecho.c), enqueue
 * the replies to the guest RX queue of the same pair, count every frame by verdict, free them all.
 */
static void run_icmpecho(struct worker *w, struct hp_mbuf **pkts)
{
	struct queue_stats *s = &g_stats[w->qp];
	struct hp_mbuf *replies[FWD_MAX_BURST];
	uint64_t received = 0;
	while (running(w->dev)) {
		uint16_t n = receive_burst(w, pkts, &received), nr = 0;
		uint64_t verdicts[ECHO_VERDICTS] = { 0 };
		if (n == 0) {
			if (g_opt.async)
				reap_async(w);
			continue;
		}
		for (uint16_t i = 0; i < n; i++) {
			enum echo_verdict v = icmpecho_reply(pkts[i], g_opt.mac);
			verdicts[v]++;
			if (v == ECHO_ICMP_REPLY || v == ECHO_ARP_REPLY || v == ECHO_UDP_REFLECTED)
				replies[nr++] = pkts[i];
		}
		for (int v = 0; v < ECHO_VERDICTS; v++)
			if (verdicts[v])
				stats_add(&s->echo[v], verdicts[v]);
		if (g_opt.async) {
			/* The replies go to the copy channel (the library owns them until reap_async); free the rest. */
			uint16_t nf = 0;
			for (uint16_t i = 0, r = 0; i < n; i++) {
				if (r < nr && pkts[i] == replies[r])
					r++;
				else
					pkts[nf++] = pkts[i];
			}
			submit_async(w, replies, nr);
			hp_pktmbuf_free_bulk(pkts, nf);
			reap_async(w);
			continue;
		}
		send_burst(w, replies, nr);
		hp_pktmbuf_free_bulk(pkts, n);
	}
	report_idle(w, received);
}

/* txonly --async: submits up to want of the frames pkts[0..*have) (the library owns the ones it took until a poll
 * gives them back) and moves the rest to the front. Returns how many it took. */
static uint16_t submit_frames(struct worker *w, struct hp_mbuf **pkts, unsigned *have, unsigned want)
{
	struct queue_stats *s = &g_stats[w->qp];
	uint16_t sent = want ? hp_vhost_submit_enqueue_burst(w->dev->vid, (uint16_t)(2 * w->qp), pkts, (uint16_t)want) : 0;
	if (sent) {
		memmove(pkts, pkts + sent, (*have - sent) * sizeof(pkts[0]));
		*have -= sent;
		stats_add(&s->tx_packets, sent);
		stats_add(&s->tx_bytes, (uint64_t)sent * g_opt.pkt_len);
	}
	return sent;
}

/* --async-lockstep: submits one burst, waits (outside the library's calls) until the copy engine copied the packets
 * it was handed, and polls them back, so that every call moves a whole burst. The engine takes a packet when one of
 * its copies reaches the threshold hp-fwd registers (256 B): with txonly's frames of one length, all or none. */
static void run_txonly_lockstep(struct worker *w, struct hp_mbuf **pkts, unsigned n)
{
	struct device *d = w->dev;
	uint16_t rxq = (uint16_t)(2 * w->qp);
	unsigned have = n;
	while (running(d)) {
		long long copied = hp_copy_engine_packets(g_engine);
		uint16_t sent = submit_frames(w, pkts, &have, have);
		if (sent) {
			long long want = copied + (g_opt.pkt_len >= FWD_ASYNC_THRESHOLD ? sent : 0);
			while (running(d) && hp_copy_engine_packets(g_engine) < want)
				sched_yield(); /* under valgrind: hands the copy thread its turn at once */
		} else {
			cpu_relax();
		}
		have += hp_vhost_poll_enqueue_completed(d->vid, rxq, pkts + have, (uint16_t)(n - have));
	}
	hp_pktmbuf_free_bulk(pkts, have);
}

/* txonly --async: the prebuilt frames go round: submitted, polled back when copied, submitted again. The ones in
 * flight when the device stops are freed by the library (the device's teardown frees what was not polled back). */
static void run_txonly_async(struct worker *w, struct hp_mbuf **pkts, unsigned n)
{
	struct device *d = w->dev;
	uint16_t rxq = (uint16_t)(2 * w->qp);
	unsigned total = n, have;
	/* More frames than a burst: some are being copied while the next burst is submitted. */
	for (; n == g_opt.burst && total < 4 * g_opt.burst && total < FWD_MAX_BURST; total++) {
		pkts[total] = mbuf_from_frame(g_pool, g_frame, g_opt.pkt_len);
		if (pkts[total] == NULL)
			break;
	}
	n = total;
	have = n; /* frames in pkts[0..have) are ours to submit */
	while (running(d)) {
		uint16_t sent = submit_frames(w, pkts, &have, have < g_opt.burst ? have : g_opt.burst);
		uint16_t back = hp_vhost_poll_enqueue_completed(d->vid, rxq, pkts + have, (uint16_t)(n - have));
		have += back;
		if (sent == 0 && back == 0) {
			/* Every frame is with the copy engine: let its thread run if it shares this CPU (a spinning
			 * poller would hold the CPU for a whole time slice while the copies it waits for cannot start). */
			if (have == 0)
				sched_yield();
			else
				cpu_relax();
		}
	}
	hp_pktmbuf_free_bulk(pkts, have);
}

/* txonly: the same burst of prebuilt frames, enqueued again and again (the enqueue copies them). */
static void run_txonly(struct worker *w, struct hp_mbuf **pkts)
{
	struct device *d = w->dev;
	struct queue_stats *s = &g_stats[w->qp];
	uint16_t rxq = (uint16_t)(2 * w->qp);
	unsigned n = 0;
	for (; n < g_opt.burst; n++) {
		pkts[n] = mbuf_from_frame(g_pool, g_frame, g_opt.pkt_len);
		if (pkts[n] == NULL) {
			fprintf(stderr, "hp-fwd: txonly q%u: mbuf pool exhausted: %s\n", w->qp, hp_last_error());
			break;
		}
	}
	if (g_opt.async_lockstep) {
		run_txonly_lockstep(w, pkts, n);
		return;
	}
	if (g_opt.async) {
		run_txonly_async(w, pkts, n);
		return;
	}
	while (n > 0 && running(d)) {
		uint16_t sent = hp_vhost_enqueue_burst(d->vid, rxq, pkts, (uint16_t)n);
		if (sent == 0) {
			cpu_relax();
			continue;
		}
		stats_add(&s->tx_packets, sent);
		stats_add(&s->tx_bytes, (uint64_t)sent * g_opt.pkt_len);
	}
	hp_pktmbuf_free_bulk(pkts, n);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct hp_mbuf *pkts[FWD_MAX_BURST];
	sigset_t set;
	/* SIGINT/SIGTERM are for the main thread's handler: keep them off the polling loop. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	switch (g_opt.mode) {
	case FWD_RXONLY: run_rxonly(w, pkts); break;
	case FWD_TXONLY: run_txonly(w, pkts); break;
	case FWD_IO: run_io(w, pkts, 0); break;
	case FWD_MACSWAP: run_io(w, pkts, 1); break;
	case FWD_ICMPECHO: run_icmpecho(w, pkts); break;
	}
	return NULL;
}

/* Starts w's thread, on its CPU when --lcores gave some (the attribute pins it before its first instruction). */
static int start_worker(struct worker *w)
{
	pthread_attr_t attr;
	int rc;
	if (g_opt.nr_lcores == 0)
		return pthread_create(&w->thread, NULL, worker_main, w);
	if (pthread_attr_init(&attr) != 0)
		return -1;
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(g_opt.lcores[w->qp % g_opt.nr_lcores], &cpus);
	rc = pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
	if (rc == 0)
		rc = pthread_create(&w->thread, &attr, worker_main, w);
	else
		fprintf(stderr, "hp-fwd: queue pair %u: cannot pin to CPU %u: %s\n", w->qp,
			g_opt.lcores[w->qp % g_opt.nr_lcores], strerror(rc));
	pthread_attr_destroy(&attr);
	if (rc == 0)
		fprintf(stderr, "hp-fwd: vid %d queue pair %u: forwarding thread on CPU %u\n", w->dev->vid, w->qp,
			g_opt.lcores[w->qp % g_opt.nr_lcores]);
	return rc;
}

#define JOIN_TIMEOUT_S 5

/*
 * Joins every forwarding thread of d; they see DEV_STOPPING within one burst (no library call blocks on a frontend's
 * fd). The join is bounded all the same: this runs on the library's control thread, which serves every other device,
 * so a worker that does not stop within JOIN_TIMEOUT_S is reported and left behind (with its device) instead of
 * freezing the control plane. Returns 0, or -1 when a worker was left behind (d must then not be freed).
 */
static int stop_device(struct device *d)
{
	int stuck = 0;
	atomic_store_explicit(&d->state, DEV_STOPPING, memory_order_release);
	for (unsigned q = 0; q < d->nr_qp; q++) {
		if (!d->workers[q].started)
			continue;
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += JOIN_TIMEOUT_S;
		if (pthread_timedjoin_np(d->workers[q].thread, NULL, &deadline) != 0) {
			fprintf(stderr, "hp-fwd: vid %d q%u: the forwarding thread did not stop within %d s; left running\n",
				d->vid, q, JOIN_TIMEOUT_S);
			pthread_detach(d->workers[q].thread);
			stuck = 1;
		}
		d->workers[q].started = 0;
	}
	if (stuck)
		return -1;
	atomic_store_explicit(&d->state, DEV_IDLE, memory_order_release);
	return 0;
}

/* What the frontend set up, for logs and scripts: one "device vid=N ..." line. */
static void print_device(int vid, uint64_t features, unsigned vrings)
{
	char line[288], mtu_text[32];
	uint16_t mtu = 0;
	int rc = hp_vhost_get_mtu(vid, &mtu);
	if (rc == 0)
		snprintf(mtu_text, sizeof(mtu_text), "%u", mtu);
	else
		snprintf(mtu_text, sizeof(mtu_text), "%s", rc == -ENOTSUP ? "none" : "error");
#define F(bit) ((features >> (bit)) & 1)
	snprintf(line, sizeof(line),
		 "device vid=%d vrings=%u features=0x%llx packed=%d mrg_rxbuf=%d event_idx=%d indirect=%d "
		 "access_platform=%d mtu=%s",
		 vid, vrings, (unsigned long long)features, (int)F(HP_VIRTIO_F_RING_PACKED),
		 (int)F(HP_VIRTIO_NET_F_MRG_RXBUF), (int)F(HP_VIRTIO_RING_F_EVENT_IDX), (int)F(HP_VIRTIO_RING_F_INDIRECT_DESC),
		 (int)F(HP_VIRTIO_F_ACCESS_PLATFORM), mtu_text);
#undef F
	out_line(line);
}

static int on_new_device(int vid)
{
	char line[128];
	uint64_t features = 0;
	unsigned vrings;
	struct device *d;
	if (vid < 0 || vid >= MAX_VIDS)
		return -1;
	snprintf(line, sizeof(line), "new_device vid=%d", vid);
	out_line(line);
	if (hp_vhost_get_negotiated_features(vid, &features) != 0) {
		fprintf(stderr, "hp-fwd: vid %d: %s\n", vid, hp_last_error());
		return -1;
	}
	if (g_opt.packed_only && !(features & (1ULL << HP_VIRTIO_F_RING_PACKED))) {
		fprintf(stderr, "hp-fwd: vid %d: refusing a split-ring device (--packed-only)\n", vid);
		return -1;
	}
	vrings = hp_vhost_get_vring_num(vid);
	print_device(vid, features, vrings);
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -1;
	d->vid = vid;
	d->nr_qp = vrings / 2 < g_opt.queues ? vrings / 2 : g_opt.queues;
	if (d->nr_qp == 0)
		d->nr_qp = 1;
	atomic_init(&d->state, DEV_RUNNING);
	/* In order (the engine is), copies under 256 bytes by the forwarding thread itself. The guest RX queue (enqueue)
	 * of every pair, and its TX queue (dequeue) unless the mode only transmits. */
	for (unsigned v = 0; g_engine != NULL && v < 2 * d->nr_qp; v++) {
		if ((v & 1) && g_opt.mode == FWD_TXONLY)
			continue;
		if ((v & 1) == 0 && g_opt.mode == FWD_RXONLY)
			continue;
		if (hp_vhost_async_channel_register_engine(vid, (uint16_t)v,
							    HP_VHOST_ASYNC_INORDER | HP_VHOST_ASYNC_THRESHOLD(FWD_ASYNC_THRESHOLD), g_engine) != 0) {
			fprintf(stderr, "hp-fwd: vid %d: %s\n", vid, hp_last_error());
			for (unsigned u = 0; u < v; u++)
				hp_vhost_async_channel_unregister(vid, (uint16_t)u);
			free(d);
			return -1;
		}
	}
	for (unsigned q = 0; q < d->nr_qp; q++) {
		d->workers[q].dev = d;
		d->workers[q].qp = q;
		if (start_worker(&d->workers[q]) != 0) {
			fprintf(stderr, "hp-fwd: vid %d: cannot start the thread of queue pair %u\n", vid, q);
			if (stop_device(d) == 0)
				free(d);
			return -1;
		}
		d->workers[q].started = 1;
	}
	pthread_mutex_lock(&g_devices_lock);
	g_devices[vid] = d;
	count_running(+1);
	pthread_mutex_unlock(&g_devices_lock);
	return 0;
}

/* Takes device vid out of the table and stops it: its threads are gone before the library touches the rings again.
 * A device whose threads would not stop is leaked rather than freed under them. */
static void retire_device(int vid)
{
	struct device *d;
	pthread_mutex_lock(&g_devices_lock);
	d = g_devices[vid];
	g_devices[vid] = NULL;
	if (d != NULL)
		count_running(-1);
	pthread_mutex_unlock(&g_devices_lock);
	if (d != NULL && stop_device(d) == 0)
		free(d);
}

/* Packets received (rx) or sent (!rx) so far, over every queue pair. */
static uint64_t total(int rx)
{
	uint64_t t = 0;
	for (unsigned q = 0; q < g_opt.queues; q++)
		t += atomic_load_explicit(rx ? &g_stats[q].rx_packets : &g_stats[q].tx_packets, memory_order_relaxed);
	return t;
}

static void on_destroy_device(int vid)
{
	char line[192];
	if (vid < 0 || vid >= MAX_VIDS)
		return;
	retire_device(vid);
	if (g_engine != NULL && g_opt.mode != FWD_TXONLY)
		drain_async_rx(vid);
	/* --async: the queues' channels go with the device's run (the library frees what was not polled back); the
	 * next new_device registers them again. */
	for (unsigned v = 0; g_engine != NULL && v < 2 * g_opt.queues; v++)
		hp_vhost_async_channel_unregister(vid, (uint16_t)v);
	migration_device_gone(vid);
	if (g_opt.vring_stats)
		iotlb_device_gone(vid, g_opt.queues);
	/* Every mbuf of a stopped device is back: the pool's in-use count is what other devices hold. The totals so far
	 * (every device, every queue) let a test account for a process that is killed later (takeover-kill.sh). */
	snprintf(line, sizeof(line), "destroy_device vid=%d pool_in_use=%u pool_avail=%u rx_total=%llu tx_total=%llu", vid,
		 hp_mempool_in_use_count(g_pool), hp_mempool_avail_count(g_pool), (unsigned long long)total(1),
		 (unsigned long long)total(0));
	out_line(line);
}

static int on_vring_state_changed(int vid, uint16_t queue_id, int enable)
{
	char line[128];
	snprintf(line, sizeof(line), "vring_state_changed vid=%d queue=%u enable=%d", vid, queue_id, enable);
	out_line(line);
	return 0;
}

static const struct hp_vhost_device_ops g_ops = {
	.new_device = on_new_device,
	.destroy_device = on_destroy_device,
	.vring_state_changed = on_vring_state_changed,
	.features_changed = migration_features_changed,
	.takeover_complete = takeover_complete,
};

const struct hp_vhost_device_ops *forward_ops(void) { return &g_ops; }

int forward_init(const struct fwd_options *o)
{
	/* Enough mbufs for every thread's bursts in flight plus per-thread caches. One segment holds a whole frame. */
	/* --async: each queue's copy channels (RX and TX) hold up to 1024 packets each. */
	unsigned n = 8192 + o->queues * (4 * o->burst + 512 + (o->async ? 2048 : 0));
	unsigned room = o->pkt_len + HP_PKTMBUF_HEADROOM;
	g_opt = *o;
	if (room < 2048 + HP_PKTMBUF_HEADROOM)
		room = 2048 + HP_PKTMBUF_HEADROOM;
	g_pool = hp_mempool_create("hp-fwd", n, 256, (uint16_t)room, 0);
	if (g_pool == NULL) {
		fprintf(stderr, "hp-fwd: %s\n", hp_last_error());
		return -1;
	}
	g_frame = malloc(o->pkt_len);
	if (g_frame == NULL)
		return -1;
	build_udp_frame(g_frame, o->pkt_len);
	if (o->async) {
		g_engine = hp_copy_engine_create("hp-fwd-copy", o->async_cpu);
		if (g_engine == NULL) {
			fprintf(stderr, "hp-fwd: %s\n", hp_last_error());
			return -1;
		}
	}
	return 0;
}

void forward_fini(void)
{
	for (int vid = 0; vid < MAX_VIDS; vid++)
		retire_device(vid);
	if (g_engine != NULL) {
		char line[96];
		snprintf(line, sizeof(line), "summary async copy_engine_packets=%lld", (long long)hp_copy_engine_packets(g_engine));
		out_line(line);
	}
	hp_copy_engine_free(g_engine);
	g_engine = NULL;
	hp_mempool_free(g_pool);
	g_pool = NULL;
	free(g_frame);
	g_frame = NULL;
}
