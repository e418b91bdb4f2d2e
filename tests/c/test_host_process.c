/*
 * The library is a guest in its host process (issue 13): it installs or changes no handler of the signals an
 * application uses, and writes nothing to stdout or stderr unless asked. Each case runs in a child forked before the
 * child's first HotPath call (the parent never calls HotPath: forking a process whose runtime threads are running is
 * not safe), so each child starts with the default dispositions.
 */
#include <hotpath.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static char sock_path[108];

/* The signals an application may rely on. The runtime keeps SIGSEGV/SIGFPE (faults outside managed code go on to
 * the previous handler) and a real-time signal for its garbage collector; SIGPIPE, which it ignores, is put back. */
static const int app_signals[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGCONT, SIGWINCH, SIGUSR1, SIGUSR2, SIGALRM };
#define N_APP_SIGNALS (sizeof(app_signals) / sizeof(app_signals[0]))

static void start_driver(void)
{
	unlink(sock_path);
	if (hp_vhost_driver_register(sock_path, 0) != 0 || hp_vhost_driver_start(sock_path) != 0) {
		fprintf(stdout, "child: %s\n", hp_last_error());
		_exit(3);
	}
}

/* A frontend connecting and going away makes the control plane log ("new connection", "frontend closed"). The
 * pauses give the control thread time to write those lines; the checks that follow a poke are of the kind a late line
 * can only make pass (nothing printed, nothing below the level), and the one that needs a line waits for it. */
static void poke(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strncpy(a.sun_path, sock_path, sizeof(a.sun_path) - 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (fd >= 0)
		close(fd);
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

static int wait_child(pid_t pid, int *status)
{
	for (int i = 0; i < 100; i++) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -1;
}

/* Child: the library running, then "ready" on fd, then waits for signals forever. */
static void child_no_handler(int ready)
{
	start_driver();
	poke();
	(void)!write(ready, "r", 1);
	for (;;)
		pause();
}

static volatile sig_atomic_t got_sigint;
static void on_sigint(int sig) { (void)sig; got_sigint = 1; }

static void child_own_handler(int ready)
{
	struct sigaction sa = { .sa_handler = on_sigint };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	start_driver();
	poke();
	(void)!write(ready, "r", 1);
	while (!got_sigint)
		pause();
	(void)!write(ready, "h", 1);
	_exit(0);
}

/* Child: every application signal's disposition is the same before and after the library ran; exit 0 if so. */
static void child_dispositions(void)
{
	struct sigaction before[N_APP_SIGNALS], after;
	for (unsigned i = 0; i < N_APP_SIGNALS; i++)
		sigaction(app_signals[i], NULL, &before[i]);
	start_driver();
	poke();
	for (unsigned i = 0; i < N_APP_SIGNALS; i++) {
		sigaction(app_signals[i], NULL, &after);
		if (after.sa_handler != before[i].sa_handler) {
			printf("FAIL signal %d: handler changed by the library\n", app_signals[i]);
			_exit(1);
		}
	}
	_exit(0);
}

/* Written by the library's control thread (the callback), read by the test thread. */
static int lines_seen, info_lines_seen;
static void on_line(int level, const char *line, void *arg)
{
	(void)arg;
	if (strncmp(line, "hotpath: ", 9) == 0)
		__atomic_add_fetch(&lines_seen, 1, __ATOMIC_RELEASE);
	if (level == HP_LOG_INFO)
		__atomic_add_fetch(&info_lines_seen, 1, __ATOMIC_RELEASE);
}

/* Waits (up to 10 s) until the callback has seen at least n lines; returns how many it saw. */
static int wait_for_lines(int n)
{
	for (int i = 0; i < 1000 && __atomic_load_n(&lines_seen, __ATOMIC_ACQUIRE) < n; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return __atomic_load_n(&lines_seen, __ATOMIC_ACQUIRE);
}

/* Child (stdout and stderr are pipes the parent reads): silent by default; the callback sees lines once set; the
 * level filters them. Reports its findings on fd report_fd. */
static void child_logging(int report_fd)
{
	FILE *report = fdopen(report_fd, "w");
	if (report == NULL)
		_exit(4);
	start_driver();
	poke();
	hp_log_set_callback(on_line, NULL);
	poke();
	int with_callback = wait_for_lines(1);
	/* At error level the next connection's info lines are dropped whenever the control thread writes them (a line
	 * written late can only be missed by this count, never added to it wrongly). */
	hp_log_set_level(HP_LOG_ERR);
	__atomic_store_n(&info_lines_seen, 0, __ATOMIC_RELEASE);
	poke();
	fprintf(report, "%d %d %d\n", with_callback, __atomic_load_n(&info_lines_seen, __ATOMIC_ACQUIRE), hp_log_get_level());
	fclose(report);
	_exit(0);
}

static pid_t spawn(void (*fn)(int), int *ready_rd)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		fn(p[1]);
		_exit(0);
	}
	close(p[1]);
	*ready_rd = p[0];
	return pid;
}

static int read_byte(int fd, char *c)
{
	for (;;) {
		ssize_t n = read(fd, c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		return n == 1 ? 0 : -1;
	}
}

static void test_sigint_without_handler(void)
{
	int rd, status = 0;
	char c;
	pid_t pid = spawn(child_no_handler, &rd);
	CHECK(pid > 0 && read_byte(rd, &c) == 0, "the child did not start");
	kill(pid, SIGINT);
	CHECK(wait_child(pid, &status) == 0, "a process without a SIGINT handler was not stopped by SIGINT");
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT, "status 0x%x: not killed by SIGINT", status);
	close(rd);
}

static void test_sigint_with_own_handler(void)
{
	int rd, status = 0;
	char c = 0;
	pid_t pid = spawn(child_own_handler, &rd);
	CHECK(pid > 0 && read_byte(rd, &c) == 0 && c == 'r', "the child did not start");
	kill(pid, SIGINT);
	CHECK(read_byte(rd, &c) == 0 && c == 'h', "the application's own SIGINT handler did not run");
	CHECK(wait_child(pid, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
	close(rd);
}

static void test_dispositions_unchanged(void)
{
	int status = 0;
	pid_t pid = fork();
	if (pid == 0)
		child_dispositions();
	CHECK(wait_child(pid, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the library changed a signal disposition (status 0x%x)", status);
}

static void test_logging(void)
{
	int out[2], rep[2], status = 0;
	char buf[4096];
	if (pipe(out) != 0 || pipe(rep) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(out[0]);
		close(rep[0]);
		dup2(out[1], 1);
		dup2(out[1], 2);
		unsetenv("HOTPATH_LOG");
		child_logging(rep[1]);
	}
	close(out[1]);
	close(rep[1]);
	CHECK(wait_child(pid, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
	ssize_t printed = read(out[0], buf, sizeof(buf) - 1);
	CHECK(printed == 0, "the library wrote to stdout/stderr without being asked: \"%.*s\"", (int)(printed > 0 ? printed : 0), buf);
	ssize_t n = read(rep[0], buf, sizeof(buf) - 1);
	int with_callback = -1, info_after = -1, level = -1;
	if (n > 0) {
		buf[n] = 0;
		sscanf(buf, "%d %d %d", &with_callback, &info_after, &level);
	}
	CHECK(with_callback > 0, "the callback received no line (%d)", with_callback);
	CHECK(info_after == 0, "info lines reached the callback at level HP_LOG_ERR (%d)", info_after);
	CHECK(level == HP_LOG_ERR, "hp_log_get_level = %d", level);
	close(out[0]);
	close(rep[0]);
}

int main(void)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/hp-host-%d.sock", (int)getpid());
	signal(SIGINT, SIG_DFL); /* a test runner may start us with SIGINT ignored (a background job) */
	test_sigint_without_handler();
	test_sigint_with_own_handler();
	test_dispositions_unchanged();
	test_logging();
	unlink(sock_path);
	return check_summary("test_host_process");
}
