/*
 * pause-probe: does a poll loop with PAUSE make this virtual machine exit to its host? KVM's pause-loop exiting
 * (Intel PLE: ple_gap 128, ple_window 4096 cycles by default; AMD's pause filter: 3000 PAUSEs) takes a vCPU that
 * spins on PAUSE for a lock holder and exits to the host. hp-fwd's idle poll (a burst call of 150-200
 * instructions, then one PAUSE) looks like such a spin; testpmd's forwarding loop has no PAUSE.
 * Runs the same loop (a few stores, then N PAUSEs) for SECONDS and counts the gaps in the TSC, the time the loop did
 * not run (interrupts, preemption, VM exits), by size. Run with 0 and with 1 PAUSE (perf/pause-probe.sh): exits
 * caused by PAUSE show as extra gaps with it.
 * Usage: pause-probe PAUSES SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>

static volatile unsigned long g_sink[8];

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: pause-probe PAUSES SECONDS\n");
		return 2;
	}
	int pauses = atoi(argv[1]);
	double secs = atof(argv[2]);
	struct timespec a, b, nap = { 0, 100000000 };
	clock_gettime(CLOCK_MONOTONIC, &a);
	unsigned long t0 = __rdtsc();
	nanosleep(&nap, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double hz = (double)(__rdtsc() - t0) / ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
	unsigned long prev = __rdtsc(), end = prev + (unsigned long)(secs * hz), polls = 0, g03 = 0, g1 = 0, g5 = 0;
	double lost = 0;
	while (prev < end) {
		for (int i = 0; i < 8; i++)
			g_sink[i] += (unsigned long)i; /* the poll's work */
		for (int p = 0; p < pauses; p++)
			_mm_pause();
		unsigned long t = __rdtsc();
		double us = (double)(t - prev) / hz * 1e6;
		if (us > 0.3) {
			g03++;
			lost += us;
		}
		g1 += us > 1;
		g5 += us > 5;
		prev = t;
		polls++;
	}
	printf("pause-probe pauses=%d polls=%lu ns_per_poll=%.1f gaps_over_0.3us=%lu over_1us=%lu over_5us=%lu "
	       "gaps_per_million_polls=%.1f lost=%.1f%%\n",
	       pauses, polls, secs * 1e9 / (double)polls, g03, g1, g5, (double)g03 * 1e6 / (double)polls,
	       lost / (secs * 1e6) * 100);
	return 0;
}
