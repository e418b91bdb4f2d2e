#include "demo.h"
#include "child.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * hp-fwd --demo: for 64 B and 1518 B frames and each direction, runs this hp-fwd as the backend on a temporary
 * socket (a child process) and hp-frontend (HotPath's own virtio frontend, beside this binary) as the guest side,
 * shows a progress line while the traffic runs, and prints the packet rates hp-frontend measured.
 */

struct workload {
	const char *direction; /* hp-frontend --direction */
	const char *mode;      /* hp-fwd --mode */
	const char *metric;    /* what hp-frontend counts: its transmits (the backend dequeued them) or receives */
};

static const struct workload g_workloads[] = {
	{ "dequeue", "rxonly", "tx_mpps" }, /* guest TX -> backend */
	{ "enqueue", "txonly", "rx_mpps" }, /* backend -> guest RX */
	{ "loop", "io", "rx_mpps" },        /* guest TX -> backend -> guest RX */
};
static const unsigned g_sizes[] = { 64, 1518 };

#define N_WORKLOADS (sizeof(g_workloads) / sizeof(g_workloads[0]))
#define N_SIZES (sizeof(g_sizes) / sizeof(g_sizes[0]))

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Starts argv[0] with stdout to out_fd (or the file out_path) and stderr to err_path. */
static pid_t spawn(char *const argv[], int out_fd, const char *out_path, const char *err_path)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (out_fd < 0)
		out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out_fd >= 0)
		dup2(out_fd, 1);
	if (err >= 0)
		dup2(err, 2);
	execv(argv[0], argv);
	_exit(127);
}

static void print_file(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "hotpath:", 8) != 0)
			fprintf(stderr, "    %s", line);
	fclose(f);
}

/* One workload: returns the Mpps hp-frontend measured, or a negative value when the run failed. */
static double run_one(const char *self, const char *frontend, const char *dir, const struct workload *w, unsigned len,
		      unsigned secs, int step, int steps)
{
	char sock[PATH_MAX], blog[PATH_MAX], ferr[PATH_MAX], out[512] = "", lenbuf[16], sbuf[16], bsecs[16], key[32];
	int pipefd[2], status = 0;
	pid_t backend, fe;
	double start, mpps = -1;
	ssize_t n;
	char *p;

	snprintf(sock, sizeof(sock), "%s/vhost.sock", dir);
	snprintf(blog, sizeof(blog), "%s/backend.log", dir);
	snprintf(ferr, sizeof(ferr), "%s/frontend.log", dir);
	snprintf(lenbuf, sizeof(lenbuf), "%u", len);
	snprintf(sbuf, sizeof(sbuf), "%u", secs);
	snprintf(bsecs, sizeof(bsecs), "%u", secs + 30);
	unlink(sock);
	{
		char *argv[] = { (char *)self, "--socket", sock, "--mode", (char *)w->mode, "--pkt-len", lenbuf,
				 "--seconds", bsecs, "--stats-interval", "0", NULL };
		backend = spawn(argv, -1, "/dev/null", blog);
	}
	for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
		usleep(50000);
	if (pipe(pipefd) != 0) {
		child_stop(backend);
		return -1;
	}
	{
		char *argv[] = { (char *)frontend, "--socket", sock, "--direction", (char *)w->direction, "--pkt-len",
				 lenbuf, "--seconds", sbuf, NULL };
		fe = spawn(argv, pipefd[1], NULL, ferr);
	}
	close(pipefd[1]);
	start = now_s();
	/* A terminal gets a live countdown on one line; a log gets one line per run (below). */
	if (!isatty(STDOUT_FILENO)) {
		printf("  [%d/%d] %-8s %4u B  running %u s ...", step, steps, w->direction, len, secs);
		fflush(stdout);
	}
	while (waitpid(fe, &status, WNOHANG) == 0) {
		double t = now_s() - start;
		if (isatty(STDOUT_FILENO)) {
			printf("\r  [%d/%d] %-8s %4u B  %4.1f / %u s", step, steps, w->direction, len, t < secs ? t : secs, secs);
			fflush(stdout);
		}
		usleep(200000);
	}
	n = read(pipefd[0], out, sizeof(out) - 1);
	close(pipefd[0]);
	out[n > 0 ? n : 0] = '\0';
	child_stop(backend);
	snprintf(key, sizeof(key), "%s=", w->metric);
	p = strstr(out, key);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && p != NULL)
		mpps = strtod(p + strlen(key), NULL);
	if (mpps < 0) {
		if (isatty(STDOUT_FILENO))
			printf("\r  [%d/%d] %-8s %4u B  failed                 \n", step, steps, w->direction, len);
		else
			printf(" failed\n");
		fprintf(stderr, "  hp-frontend:\n");
		print_file(ferr);
		fprintf(stderr, "  hp-fwd --mode %s:\n", w->mode);
		print_file(blog);
	} else {
		if (isatty(STDOUT_FILENO))
			printf("\r  [%d/%d] %-8s %4u B  %.3f Mpps            \n", step, steps, w->direction, len, mpps);
		else
			printf(" %.3f Mpps\n", mpps);
	}
	fflush(stdout);
	return mpps;
}

int run_demo(const char *argv0, unsigned seconds)
{
	char self[PATH_MAX], frontend[PATH_MAX + 16], dir[] = "/tmp/hp-demo.XXXXXX";
	double mpps[N_WORKLOADS][N_SIZES];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	unsigned secs = seconds ? seconds : 3;
	int failed = 0, step = 0;
	char *slash;
	(void)argv0;

	if (n <= 0) {
		perror("hp-fwd --demo: /proc/self/exe");
		return 1;
	}
	self[n] = '\0';
	snprintf(frontend, sizeof(frontend), "%s", self);
	slash = strrchr(frontend, '/');
	snprintf(slash + 1, sizeof(frontend) - (size_t)(slash + 1 - frontend), "hp-frontend");
	if (access(frontend, X_OK) != 0) {
		fprintf(stderr, "hp-fwd --demo: %s (HotPath's own frontend, built by ./build.sh) is missing\n", frontend);
		return 1;
	}
	if (mkdtemp(dir) == NULL) {
		perror("hp-fwd --demo: mkdtemp");
		return 1;
	}
	printf("HotPath demo: hp-fwd (libhotpath.so) as the vhost-user backend, hp-frontend (HotPath's C# virtio frontend)\n"
	       "as the guest side, split rings of 1024 entries, %u s per run\n", secs);
	for (size_t s = 0; s < N_SIZES; s++)
		for (size_t w = 0; w < N_WORKLOADS; w++) {
			mpps[w][s] = run_one(self, frontend, dir, &g_workloads[w], g_sizes[s], secs, ++step,
					     (int)(N_SIZES * N_WORKLOADS));
			failed |= mpps[w][s] < 0;
		}

	printf("\n  %-10s %-22s %12s %12s %14s\n", "direction", "path", "64 B Mpps", "1518 B Mpps", "1518 B Gbit/s");
	for (size_t w = 0; w < N_WORKLOADS; w++) {
		static const char *paths[] = { "guest TX -> host", "host -> guest RX", "guest -> host -> guest" };
		printf("  %-10s %-22s", g_workloads[w].direction, paths[w]);
		for (size_t s = 0; s < N_SIZES; s++)
			if (mpps[w][s] < 0)
				printf(" %12s", "failed");
			else
				printf(" %12.3f", mpps[w][s]);
		if (mpps[w][1] >= 0)
			printf(" %14.2f\n", mpps[w][1] * 1e6 * 1518 * 8 / 1e9);
		else
			printf(" %14s\n", "-");
	}
	printf("  (rates measured by hp-frontend: packets it sent for dequeue, packets it received otherwise)\n");
	/* A loop packet costs both directions' work on each side (perf/loops.md), and 1518 B rates swing with the host. */
	printf("  (loop: each packet is dequeued and enqueued, so expect about half of either direction alone;\n"
	       "   1518 B rates move with the host's memory traffic: compare runs of one moment, perf/loops.md)\n");
	{
		char path[PATH_MAX];
		const char *files[] = { "vhost.sock", "backend.log", "frontend.log" };
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
			unlink(path);
		}
		rmdir(dir);
	}
	return failed ? 1 : 0;
}
