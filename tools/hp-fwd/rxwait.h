/* --rx-mode: what a forwarding thread does when its guest TX queue is empty (busy-poll, sleep on the kick fd, or
 * busy-poll for a while and then sleep). */
#ifndef HP_FWD_RXWAIT_H
#define HP_FWD_RXWAIT_H

#include <stdint.h>

#include "options.h"

/* Longest sleep on a kick fd: new-device and stop handling stay this responsive. */
#define RXWAIT_TIMEOUT_MS 100

/* One queue's idle state. */
struct rxwait {
	unsigned empty_polls;  /* dequeue bursts in a row that found nothing */
	uint64_t idle_since_ns; /* adaptive: when the current run of empty polls began */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* The queue had packets: back to busy-polling. */
static inline void rxwait_busy(struct rxwait *r)
{
	r->empty_polls = 0;
}

/*
 * The dequeue burst on guest TX vring q of vid found nothing. poll: a pause (or, with --idle-sleep, a sleep once the
 * queue has been idle for a while); interrupt: sleep on the kick fd (at most RXWAIT_TIMEOUT_MS); adaptive: a pause
 * until the queue has been empty for --idle-us, then as interrupt. Counts sleeps and kick wake-ups in g_stats[qp].
 */
void rxwait_idle(const struct fwd_options *o, struct rxwait *r, int vid, uint16_t q, unsigned qp);

const char *rx_mode_name(enum rx_mode m);

#endif
