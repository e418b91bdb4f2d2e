/* DPDK's virtio-user frontend (dpdk-testpmd --vdev net_virtio_user0) as the real peer of the C tests. */
#ifndef HP_TEST_PEER_H
#define HP_TEST_PEER_H

#include <sys/types.h>

/* Why a DPDK peer cannot run here (not root, no dpdk-testpmd, too few free hugepages), or NULL when it can. */
const char *peer_missing(void);

/* Starts testpmd in forward mode `mode` (txonly, rxonly, io) on sock; server: virtio-user listens (server=1).
 * Output goes to log. Returns the pid, or -1. */
pid_t peer_start(const char *sock, const char *mode, int server, int pkt_len, const char *log);

/* SIGINT (testpmd prints its final statistics), then SIGKILL after 10 s. Always reaps. */
void peer_stop(pid_t pid);

/* Waits up to secs for text to appear in the log. testpmd drains (and does not count) whatever its RX queues hold
 * when forwarding starts; its first "Port statistics" comes after that point. */
int peer_wait_log(const char *log, const char *text, double secs);

/* The last value after key (e.g. "RX-packets:") in the log, or -1. */
long long peer_total(const char *log, const char *key);

#endif
