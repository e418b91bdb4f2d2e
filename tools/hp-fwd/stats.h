/* Per-queue-pair packet counters, live rates and the final summary (text and JSON). */
#ifndef HP_FWD_STATS_H
#define HP_FWD_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "icmpecho.h"
#include "options.h"

/* One queue pair's counters, on their own cache line. Written once per burst by forwarding threads (relaxed
 * atomics: several devices may share a queue index), read by the main thread. */
struct queue_stats {
	_Alignas(64) atomic_uint_fast64_t rx_packets;
	atomic_uint_fast64_t rx_bytes;
	atomic_uint_fast64_t tx_packets;
	atomic_uint_fast64_t tx_bytes;
	atomic_uint_fast64_t tx_dropped; /* received but not taken by the guest RX ring (io, macswap, icmpecho) */
	atomic_uint_fast64_t echo[ECHO_VERDICTS]; /* icmpecho: received frames per enum echo_verdict */
	atomic_uint_fast64_t rx_sleeps;       /* --rx-mode interrupt/adaptive: sleeps on the kick fd */
	atomic_uint_fast64_t rx_kick_wakeups; /* those of them a guest kick ended (the others timed out) */
};

extern struct queue_stats g_stats[FWD_MAX_QUEUES];

static inline void stats_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Monotonic seconds. */
double now_seconds(void);

/* Starts the clock of the run and of the first interval. */
void stats_start(const struct fwd_options *o);
/* Prints one line per queue with the rates since the previous call. */
void stats_print_interval(const struct fwd_options *o);
/* Prints the final summary; writes the JSON file when asked. Rates are over active_seconds (time with a device
 * running) when there was any, else over the whole run. Returns 0, or -1 when the JSON file failed. */
int stats_finish(const struct fwd_options *o, double active_seconds);

#endif
