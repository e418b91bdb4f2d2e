#include "rxwait.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>

#include <hotpath.h>

#include "stats.h"

#define IDLE_POLLS 1000 /* --idle-sleep: empty polls in a row before the worker starts sleeping between polls */

const char *rx_mode_name(enum rx_mode m)
{
	switch (m) {
	case RX_POLL: return "poll";
	case RX_INTERRUPT: return "interrupt";
	case RX_ADAPTIVE: return "adaptive";
	}
	return "?";
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

/*
 * Interrupt mode, once: clear old kicks, ask the guest to kick, check the ring again (a buffer it posted before it
 * could see the request gets no kick; the enable ends with a full fence), sleep on the kick fd while the ring stays
 * empty, clear the kick, and go back to polling without kicks. The kick fd is fetched each time: a frontend may
 * replace it. Where there is no kick fd to sleep on (NOFD: the frontend polls; not received yet), a short plain sleep.
 */
static void sleep_on_kick(int vid, uint16_t q, unsigned qp)
{
	struct hp_vhost_vring vr;
	struct queue_stats *s = &g_stats[qp];
	if (hp_vhost_get_vhost_vring(vid, q, &vr) != 0 || vr.kickfd < 0) {
		sleep_us(1000);
		return;
	}
	hp_vhost_vring_drain_kick(vid, q); /* a kick left from busy times would end the sleep at once */
	if (hp_vhost_enable_guest_notification(vid, q, 1) != 0) {
		sleep_us(1000);
		return;
	}
	if (hp_vhost_rx_queue_count(vid, q) == 0) {
		struct pollfd p = { .fd = vr.kickfd, .events = POLLIN };
		int r = poll(&p, 1, RXWAIT_TIMEOUT_MS);
		stats_add(&s->rx_sleeps, 1);
		if (r > 0 && hp_vhost_vring_drain_kick(vid, q) > 0)
			stats_add(&s->rx_kick_wakeups, 1);
	}
	hp_vhost_enable_guest_notification(vid, q, 0);
}

void rxwait_idle(const struct fwd_options *o, struct rxwait *r, int vid, uint16_t q, unsigned qp)
{
	switch (o->rx_mode) {
	case RX_POLL:
		/* A pause, or with --idle-sleep, once the queue has been empty for IDLE_POLLS polls, a sleep (the guest's
		 * next packet waits at most that long). */
		if (o->idle_sleep_us != 0 && ++r->empty_polls > IDLE_POLLS) {
			sleep_us(o->idle_sleep_us);
			return;
		}
		cpu_relax();
		return;
	case RX_INTERRUPT:
		sleep_on_kick(vid, q, qp);
		return;
	case RX_ADAPTIVE:
		if (r->empty_polls++ == 0) {
			r->idle_since_ns = now_ns();
		} else if (now_ns() - r->idle_since_ns >= (uint64_t)o->idle_us * 1000u) {
			/* Still idle after the sleep (a timeout) sleeps again at once; packets reset the clock (rxwait_busy). */
			sleep_on_kick(vid, q, qp);
			return;
		}
		cpu_relax();
		return;
	}
}
