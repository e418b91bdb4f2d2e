/* hp-fwd command line: the exact interface other scripts rely on (see usage()). */
#ifndef HP_FWD_OPTIONS_H
#define HP_FWD_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

/* Forwarding modes. */
enum fwd_mode {
	FWD_IO,       /* guest TX -> guest RX */
	FWD_RXONLY,   /* guest TX -> freed */
	FWD_TXONLY,   /* generated UDP/IPv4 frames -> guest RX */
	FWD_MACSWAP,  /* io, with source and destination MAC swapped */
	FWD_ICMPECHO, /* ARP and ICMP echo requests answered to guest RX, everything else counted and freed */
};

/* What a forwarding thread does while its guest TX queue is empty (rxwait.h). */
enum rx_mode {
	RX_POLL,      /* busy-poll (or --idle-sleep) */
	RX_INTERRUPT, /* sleep on the queue's kick fd as soon as it is empty */
	RX_ADAPTIVE,  /* busy-poll while packets come, sleep on the kick fd after --idle-us of empty polls */
};

#define FWD_MAX_QUEUES 128
#define FWD_MAX_BURST 512
#define FWD_MIN_PKT_LEN 60
#define FWD_MAX_PKT_LEN 9000
#define FWD_ASYNC_THRESHOLD 256 /* --async: copies shorter than this are done by the CPU at submit */

struct fwd_options {
	const char *socket;
	bool client;
	enum fwd_mode mode;
	unsigned pkt_len;
	unsigned burst;
	unsigned queues;
	unsigned seconds;        /* 0: until SIGINT/SIGTERM */
	double stats_interval;   /* 0: no live statistics */
	unsigned idle_sleep_us;  /* poll: 0 busy-poll always; else sleep this long per poll once a queue has been idle */
	enum rx_mode rx_mode;
	unsigned idle_us;        /* adaptive: empty-poll time before sleeping on the kick fd */
	const char *json;        /* NULL: no JSON file */
	uint8_t mac[6];          /* icmpecho: the address ARP replies give */
	bool packed_only;
	bool split_only;
	bool postcopy;           /* HP_VHOST_USER_POSTCOPY_SUPPORT */
	bool iommu;              /* HP_VHOST_USER_IOMMU_SUPPORT (and vring_stats for its IOTLB figures) */
	bool vring_stats;        /* HP_VHOST_USER_NET_STATS_ENABLE */
	bool async;              /* enqueue and dequeue through the async copy path and the built-in copy engine */
	int async_cpu;           /* --async-cpu: the copy thread's CPU, -1 unpinned */
	bool async_lockstep;     /* txonly --async: one submit and one poll per burst (perf/async-ipp.sh) */
	bool demo;
	bool takeover;            /* HP_VHOST_USER_TAKEOVER: take a running hp-fwd's devices over first */
	const char *takeover_path; /* NULL: the library's default, SOCKET.takeover */
	unsigned nr_lcores;      /* 0: threads run where the scheduler puts them; else queue pair q on lcores[q % nr_lcores] */
	unsigned lcores[FWD_MAX_QUEUES];
};

/* Parses argv into *o. On a bad command line prints the reason and the usage on stderr and returns false. */
bool parse_options(int argc, char **argv, struct fwd_options *o);

const char *mode_name(enum fwd_mode m);

#endif
