#include "stats.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "iotlb.h"
#include "migration.h"
#include "output.h"
#include "rxwait.h"

struct queue_stats g_stats[FWD_MAX_QUEUES];

struct totals {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, tx_dropped;
	uint64_t echo[ECHO_VERDICTS];
	uint64_t rx_sleeps, rx_kick_wakeups;
};

static double g_start, g_last;
static struct totals g_prev[FWD_MAX_QUEUES];

double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct totals read_queue(unsigned q)
{
	struct totals t;
	t.rx_packets = atomic_load_explicit(&g_stats[q].rx_packets, memory_order_relaxed);
	t.rx_bytes = atomic_load_explicit(&g_stats[q].rx_bytes, memory_order_relaxed);
	t.tx_packets = atomic_load_explicit(&g_stats[q].tx_packets, memory_order_relaxed);
	t.tx_bytes = atomic_load_explicit(&g_stats[q].tx_bytes, memory_order_relaxed);
	t.tx_dropped = atomic_load_explicit(&g_stats[q].tx_dropped, memory_order_relaxed);
	for (int v = 0; v < ECHO_VERDICTS; v++)
		t.echo[v] = atomic_load_explicit(&g_stats[q].echo[v], memory_order_relaxed);
	t.rx_sleeps = atomic_load_explicit(&g_stats[q].rx_sleeps, memory_order_relaxed);
	t.rx_kick_wakeups = atomic_load_explicit(&g_stats[q].rx_kick_wakeups, memory_order_relaxed);
	return t;
}

/* icmpecho: " name=N" per verdict, totals so far, into buf (empty in the other modes). */
static void echo_text(const struct fwd_options *o, const struct totals *t, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int v = 0; o->mode == FWD_ICMPECHO && v < ECHO_VERDICTS && used < len; v++)
		used += (size_t)snprintf(buf + used, len - used, " %s=%llu", echo_verdict_name((enum echo_verdict)v),
					 (unsigned long long)t->echo[v]);
}

/* --iommu: " iotlb_hits=N iotlb_misses=N" of queue pair q over the devices gone, into buf (else empty). */
static void iotlb_text(const struct fwd_options *o, unsigned q, char *buf, size_t len)
{
	struct iotlb_figures f = iotlb_queue(q);
	buf[0] = '\0';
	if (o->iommu)
		snprintf(buf, len, " iotlb_hits=%llu iotlb_misses=%llu", (unsigned long long)f.hits,
			 (unsigned long long)f.misses);
}

void stats_start(const struct fwd_options *o)
{
	(void)o;
	g_start = g_last = now_seconds();
	memset(g_prev, 0, sizeof(g_prev));
}

/* Mpps and Gbit/s (L2 bytes, no preamble or FCS) over dt seconds. */
static double mpps(uint64_t packets, double dt) { return dt > 0 ? (double)packets / dt / 1e6 : 0.0; }
static double gbps(uint64_t bytes, double dt) { return dt > 0 ? (double)bytes * 8.0 / dt / 1e9 : 0.0; }

void stats_print_interval(const struct fwd_options *o)
{
	double now = now_seconds(), dt = now - g_last;
	char line[512], echo[256];
	for (unsigned q = 0; q < o->queues; q++) {
		struct totals t = read_queue(q), p = g_prev[q];
		echo_text(o, &t, echo, sizeof(echo));
		snprintf(line, sizeof(line),
			 "stats t=%.1fs q%u rx %.3f Mpps %.3f Gbit/s tx %.3f Mpps %.3f Gbit/s dropped %llu%s",
			 now - g_start, q, mpps(t.rx_packets - p.rx_packets, dt), gbps(t.rx_bytes - p.rx_bytes, dt),
			 mpps(t.tx_packets - p.tx_packets, dt), gbps(t.tx_bytes - p.tx_bytes, dt),
			 (unsigned long long)(t.tx_dropped - p.tx_dropped), echo);
		out_line(line);
		g_prev[q] = t;
	}
	migration_print_interval();
	g_last = now;
}

static int write_json(const struct fwd_options *o, const struct totals *sum, const struct totals *per, double secs,
		      double active)
{
	FILE *f = fopen(o->json, "w");
	if (f == NULL) {
		perror(o->json);
		return -1;
	}
	fprintf(f, "{\n  \"mode\": \"%s\",\n  \"pkt_len\": %u,\n  \"burst\": %u,\n  \"queues\": %u,\n  \"seconds\": %.3f,\n"
		   "  \"active_seconds\": %.3f,\n  \"rx_mode\": \"%s\",\n  \"rx_sleeps\": %llu,\n  \"rx_kick_wakeups\": %llu,\n",
		mode_name(o->mode), o->pkt_len, o->burst, o->queues, secs, active, rx_mode_name(o->rx_mode),
		(unsigned long long)sum->rx_sleeps, (unsigned long long)sum->rx_kick_wakeups);
	fprintf(f, "  \"rx_packets\": %llu,\n  \"rx_bytes\": %llu,\n  \"tx_packets\": %llu,\n  \"tx_bytes\": %llu,\n"
		   "  \"tx_dropped\": %llu,\n",
		(unsigned long long)sum->rx_packets, (unsigned long long)sum->rx_bytes,
		(unsigned long long)sum->tx_packets, (unsigned long long)sum->tx_bytes,
		(unsigned long long)sum->tx_dropped);
	fprintf(f, "  \"rx_mpps\": %.6f,\n  \"tx_mpps\": %.6f,\n  \"rx_gbps\": %.6f,\n  \"tx_gbps\": %.6f,\n",
		mpps(sum->rx_packets, active), mpps(sum->tx_packets, active), gbps(sum->rx_bytes, active),
		gbps(sum->tx_bytes, active));
	if (o->mode == FWD_ICMPECHO)
		for (int v = 0; v < ECHO_VERDICTS; v++)
			fprintf(f, "  \"%s\": %llu,\n", echo_verdict_name((enum echo_verdict)v),
				(unsigned long long)sum->echo[v]);
	fputs("  \"per_queue\": [", f);
	for (unsigned q = 0; q < o->queues; q++) {
		fprintf(f, "%s\n    {\"queue\": %u, \"rx_packets\": %llu, \"rx_bytes\": %llu, \"tx_packets\": %llu, "
			   "\"tx_bytes\": %llu, \"tx_dropped\": %llu",
			q ? "," : "", q, (unsigned long long)per[q].rx_packets, (unsigned long long)per[q].rx_bytes,
			(unsigned long long)per[q].tx_packets, (unsigned long long)per[q].tx_bytes,
			(unsigned long long)per[q].tx_dropped);
		for (int v = 0; o->mode == FWD_ICMPECHO && v < ECHO_VERDICTS; v++)
			fprintf(f, ", \"%s\": %llu", echo_verdict_name((enum echo_verdict)v),
				(unsigned long long)per[q].echo[v]);
		if (o->iommu)
			fprintf(f, ", \"iotlb_hits\": %llu, \"iotlb_misses\": %llu",
				(unsigned long long)iotlb_queue(q).hits, (unsigned long long)iotlb_queue(q).misses);
		fputs("}", f);
	}
	fputs("\n  ]\n}\n", f);
	return fclose(f) == 0 ? 0 : -1;
}

int stats_finish(const struct fwd_options *o, double active_seconds)
{
	double secs = now_seconds() - g_start, active = active_seconds > 0 ? active_seconds : secs;
	struct totals per[FWD_MAX_QUEUES], sum;
	char line[640], echo[256], iotlb[64];
	memset(&sum, 0, sizeof(sum));
	for (unsigned q = 0; q < o->queues; q++) {
		per[q] = read_queue(q);
		sum.rx_packets += per[q].rx_packets;
		sum.rx_bytes += per[q].rx_bytes;
		sum.tx_packets += per[q].tx_packets;
		sum.tx_bytes += per[q].tx_bytes;
		sum.tx_dropped += per[q].tx_dropped;
		for (int v = 0; v < ECHO_VERDICTS; v++)
			sum.echo[v] += per[q].echo[v];
		sum.rx_sleeps += per[q].rx_sleeps;
		sum.rx_kick_wakeups += per[q].rx_kick_wakeups;
		echo_text(o, &per[q], echo, sizeof(echo));
		iotlb_text(o, q, iotlb, sizeof(iotlb));
		snprintf(line, sizeof(line), "summary q%u rx_packets=%llu tx_packets=%llu tx_dropped=%llu%s%s", q,
			 (unsigned long long)per[q].rx_packets, (unsigned long long)per[q].tx_packets,
			 (unsigned long long)per[q].tx_dropped, echo, iotlb);
		out_line(line);
	}
	echo_text(o, &sum, echo, sizeof(echo));
	snprintf(line, sizeof(line),
		 "summary mode=%s seconds=%.2f active_seconds=%.2f rx_packets=%llu rx_bytes=%llu tx_packets=%llu "
		 "tx_bytes=%llu tx_dropped=%llu rx_mpps=%.3f tx_mpps=%.3f rx_gbps=%.3f tx_gbps=%.3f%s",
		 mode_name(o->mode), secs, active, (unsigned long long)sum.rx_packets, (unsigned long long)sum.rx_bytes,
		 (unsigned long long)sum.tx_packets, (unsigned long long)sum.tx_bytes,
		 (unsigned long long)sum.tx_dropped, mpps(sum.rx_packets, active), mpps(sum.tx_packets, active),
		 gbps(sum.rx_bytes, active), gbps(sum.tx_bytes, active), echo);
	out_line(line);
	if (o->rx_mode != RX_POLL) {
		snprintf(line, sizeof(line), "summary rx_mode=%s rx_sleeps=%llu rx_kick_wakeups=%llu",
			 rx_mode_name(o->rx_mode), (unsigned long long)sum.rx_sleeps,
			 (unsigned long long)sum.rx_kick_wakeups);
		out_line(line);
	}
	migration_print_summary();
	return o->json != NULL ? write_json(o, &sum, per, secs, active) : 0;
}
