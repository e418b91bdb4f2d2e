#include "migration.h"

#include <stdatomic.h>
#include <stdio.h>

#include <hotpath.h>

#include "output.h"

#define LOG_MAX_VIDS 1024 /* the library's device limit */

/* Per vid: 1 while VHOST_F_LOG_ALL is on, 2 once it was on (its counters are worth a line when it goes). */
static atomic_int g_logged[LOG_MAX_VIDS];
/* Counters of the devices gone, for the summary (control thread writes, main thread reads at exit). */
static atomic_uint_fast64_t g_gone_pages, g_gone_flushes;

static void print_log(const char *prefix, int vid, const struct hp_vhost_log_stats *s)
{
	char line[160];
	snprintf(line, sizeof(line), "%slog vid=%d pages_marked=%llu cache_flushes=%llu", prefix, vid,
		 (unsigned long long)s->pages_marked, (unsigned long long)s->cache_flushes);
	out_line(line);
}

int migration_features_changed(int vid, uint64_t features)
{
	char line[128];
	struct hp_vhost_log_stats s;
	int on = (int)((features >> HP_VHOST_F_LOG_ALL) & 1);
	if (vid < 0 || vid >= LOG_MAX_VIDS)
		return 0;
	snprintf(line, sizeof(line), "features_changed vid=%d log_all=%d features=0x%llx", vid, on,
		 (unsigned long long)features);
	out_line(line);
	atomic_store(&g_logged[vid], on ? 1 : (atomic_load(&g_logged[vid]) ? 2 : 0));
	if (!on && hp_vhost_get_log_stats(vid, &s) == 0)
		print_log("", vid, &s);
	return 0;
}

void migration_device_gone(int vid)
{
	struct hp_vhost_log_stats s;
	if (vid < 0 || vid >= LOG_MAX_VIDS || atomic_exchange(&g_logged[vid], 0) == 0)
		return;
	if (hp_vhost_get_log_stats(vid, &s) != 0)
		return;
	print_log("", vid, &s);
	atomic_fetch_add(&g_gone_pages, s.pages_marked);
	atomic_fetch_add(&g_gone_flushes, s.cache_flushes);
}

void migration_print_interval(void)
{
	struct hp_vhost_log_stats s;
	for (int vid = 0; vid < LOG_MAX_VIDS; vid++)
		if (atomic_load_explicit(&g_logged[vid], memory_order_relaxed) == 1 && hp_vhost_get_log_stats(vid, &s) == 0)
			print_log("stats ", vid, &s);
}

void migration_print_summary(void)
{
	char line[128];
	uint64_t pages = atomic_load(&g_gone_pages), flushes = atomic_load(&g_gone_flushes);
	struct hp_vhost_log_stats s;
	for (int vid = 0; vid < LOG_MAX_VIDS; vid++)
		if (atomic_load(&g_logged[vid]) != 0 && hp_vhost_get_log_stats(vid, &s) == 0) {
			pages += s.pages_marked;
			flushes += s.cache_flushes;
		}
	snprintf(line, sizeof(line), "summary log pages_marked=%llu cache_flushes=%llu", (unsigned long long)pages,
		 (unsigned long long)flushes);
	out_line(line);
}
