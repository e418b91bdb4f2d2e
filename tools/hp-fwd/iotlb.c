#include "iotlb.h"

#include <stdatomic.h>
#include <string.h>

#include <hotpath.h>

#include "options.h"
#include "output.h"

#define IOTLB_MAX_VIDS 1024 /* the library's device limit */
#define IOTLB_MAX_STATS 64

/* What each vid's vrings had counted at its previous destroy_device (control thread only). */
static struct iotlb_figures g_seen[IOTLB_MAX_VIDS][2 * FWD_MAX_QUEUES];
/* Per queue pair, over the devices gone (control thread writes, main thread reads at exit). */
static atomic_uint_fast64_t g_hits[FWD_MAX_QUEUES], g_misses[FWD_MAX_QUEUES];

/* True when counter name (the library's "rx_q0_iotlb_hits" form) ends in suffix. */
static int ends_with(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);
	return n >= k && strcmp(name + n - k, suffix) == 0;
}

/* The library's iotlb_hits and iotlb_misses of vring (vid, queue); 0 each when not there. Prints its nonzero
 * counters as one "vring_stats vid=N queue=N name=value..." line (drops by reason included). */
static struct iotlb_figures read_vring(int vid, uint16_t queue)
{
	struct hp_vhost_stat_name names[IOTLB_MAX_STATS];
	struct hp_vhost_stat values[IOTLB_MAX_STATS];
	struct iotlb_figures f = { 0, 0 };
	int n = hp_vhost_vring_stats_get_names(vid, queue, names, IOTLB_MAX_STATS);
	if (n <= 0 || n > IOTLB_MAX_STATS || hp_vhost_vring_stats_get(vid, queue, values, (unsigned)n) != n)
		return f;
	char line[1024];
	size_t used = (size_t)snprintf(line, sizeof(line), "vring_stats vid=%d queue=%u", vid, queue);
	for (int i = 0; i < n; i++) {
		if (values[i].id >= (uint64_t)n)
			continue;
		if (values[i].value != 0 && used < sizeof(line))
			used += (size_t)snprintf(line + used, sizeof(line) - used, " %s=%llu", names[values[i].id].name,
						 (unsigned long long)values[i].value);
		if (ends_with(names[values[i].id].name, "_iotlb_hits"))
			f.hits = values[i].value;
		else if (ends_with(names[values[i].id].name, "_iotlb_misses"))
			f.misses = values[i].value;
	}
	out_line(line);
	return f;
}

/* now - before, or now when the counters started again (a new connection on the same vid). */
static uint64_t since(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

void iotlb_device_gone(int vid, unsigned nr_qp)
{
	if (vid < 0 || vid >= IOTLB_MAX_VIDS)
		return;
	for (unsigned q = 0; q < 2 * nr_qp && q < 2 * FWD_MAX_QUEUES; q++) {
		struct iotlb_figures f = read_vring(vid, (uint16_t)q), *seen = &g_seen[vid][q];
		atomic_fetch_add(&g_hits[q / 2], since(f.hits, seen->hits));
		atomic_fetch_add(&g_misses[q / 2], since(f.misses, seen->misses));
		*seen = f;
	}
}

struct iotlb_figures iotlb_queue(unsigned qp)
{
	struct iotlb_figures f = { 0, 0 };
	if (qp < FWD_MAX_QUEUES) {
		f.hits = atomic_load(&g_hits[qp]);
		f.misses = atomic_load(&g_misses[qp]);
	}
	return f;
}
