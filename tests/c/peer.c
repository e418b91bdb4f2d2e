#include "peer.h"
#include "../../tools/hp-fwd/child.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int free_hugepages(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen("/proc/meminfo", "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

const char *peer_missing(void)
{
	if (geteuid() != 0)
		return "not root";
	if (system("command -v dpdk-testpmd >/dev/null 2>&1") != 0)
		return "dpdk-testpmd is not installed (scripts/setup.sh installs it)";
	if (free_hugepages() < 256)
		return "fewer than 256 free hugepages (scripts/setup.sh reserves them)";
	return NULL;
}

pid_t peer_start(const char *sock, const char *mode, int server, int pkt_len, const char *log)
{
	char vdev[512], prefix[64], txpkts[32], fwd[48];
	pid_t pid;
	snprintf(vdev, sizeof(vdev),
		 "net_virtio_user0,mac=00:01:02:03:04:05,path=%s,queues=1,queue_size=1024,packed_vq=0,mrg_rxbuf=1,in_order=0%s",
		 sock, server ? ",server=1" : "");
	snprintf(prefix, sizeof(prefix), "--file-prefix=hpc%d_%ld", (int)getpid(), (long)time(NULL) % 100000);
	snprintf(txpkts, sizeof(txpkts), "--txpkts=%d", pkt_len);
	snprintf(fwd, sizeof(fwd), "--forward-mode=%s", mode);
	pid = fork();
	if (pid != 0)
		return pid;
	{
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		char *args[] = { "dpdk-testpmd", "-l", "1,0", "--main-lcore", "1", "--no-pci", prefix, "-m", "256",
				 "--single-file-segments", "--vdev", vdev, "--", "--nb-cores=1", "--txd=1024", "--rxd=1024",
				 "--stats-period", "1", txpkts, "--burst=32", fwd, strcmp(mode, "io") == 0 ? "--tx-first" : NULL,
				 NULL };
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* The test blocks no signals, but be explicit: testpmd must see SIGINT. */
		signal(SIGINT, SIG_DFL);
		execvp("dpdk-testpmd", args);
		_exit(127);
	}
}

void peer_stop(pid_t pid)
{
	child_stop(pid);
}

static char buf[1 << 20];

/* The whole log as one string (NULs made spaces, so they cannot hide what follows). */
static const char *read_log(const char *log)
{
	size_t n;
	FILE *f = fopen(log, "r");
	if (f == NULL)
		return "";
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	return buf;
}

int peer_wait_log(const char *log, const char *text, double secs)
{
	for (int i = 0; i < (int)(secs * 10); i++) {
		if (strstr(read_log(log), text) != NULL)
			return 1;
		usleep(100000);
	}
	return strstr(read_log(log), text) != NULL;
}

long long peer_total(const char *log, const char *key)
{
	long long v = -1;
	const char *p;
	for (p = read_log(log); (p = strstr(p, key)) != NULL; p += strlen(key))
		v = strtoll(p + strlen(key), NULL, 10);
	return v;
}
