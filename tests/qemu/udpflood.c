/*
 * udpflood: the guest's traffic source for the throughput figure of tests/qemu/run.sh (built -static, put in the
 * initramfs). Sends Ethernet/IPv4/UDP frames of one length from IFACE for SECONDS through an AF_PACKET socket with
 * PACKET_QDISC_BYPASS, in sendmmsg batches: a frame either goes straight into virtio-net's transmit ring or the
 * send fails (ENOBUFS while the ring is full, then it yields and retries), so the count it prints is exactly the
 * number of frames the guest driver handed to the device, which the backend's count must equal.
 *
 * usage: udpflood IFACE DST_MAC SRC_IP DST_IP SECONDS FRAME_LEN [MAX_PPS [DST_PORT]]
 *   SECONDS 0: until SIGINT or SIGTERM (at most 600 s); MAX_PPS: at most that many frames per second (default 0: as
 *   fast as the ring takes them), so a flood can run beside a live migration without starving it; DST_PORT: the
 *   UDP destination port (default 9, discard: hp-fwd counts the frames; 7, echo: hp-fwd reflects them back).
 * prints: udpflood sent=N bytes=B seconds=S busy=K pps=P mbps=M   (bytes: Ethernet frames without FCS)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "inet.h" /* tools/hp-fwd */

#define BATCH 32
#define MAX_FRAME 9014

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t frame[MAX_FRAME];
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	struct sockaddr_ll sll;
	struct ifreq ifr;
	struct in_addr src, dst;
	uint8_t dmac[6];
	uint8_t *ip = frame + 14, *udp = ip + 20;
	unsigned long long sent = 0, busy = 0;
	double secs, len_d, t0, t1, max_pps = 0, port_d = 9;
	size_t len;
	int fd, one = 1;

	if (argc < 7 || argc > 9 || parse_mac(argv[2], dmac) != 0 || inet_pton(AF_INET, argv[3], &src) != 1 ||
	    inet_pton(AF_INET, argv[4], &dst) != 1) {
		fprintf(stderr, "usage: udpflood IFACE DST_MAC SRC_IP DST_IP SECONDS FRAME_LEN [MAX_PPS [DST_PORT]]\n");
		return 2;
	}
	secs = atof(argv[5]);
	len_d = atof(argv[6]);
	if (argc >= 8)
		max_pps = atof(argv[7]);
	if (argc == 9)
		port_d = atof(argv[8]);
	if (!(secs >= 0 && secs <= 600) || !(len_d >= 60 && len_d <= MAX_FRAME) || !(max_pps >= 0) ||
	    !(port_d >= 1 && port_d <= 65535)) {
		fprintf(stderr, "udpflood: SECONDS in [0, 600], FRAME_LEN in [60, %d], MAX_PPS >= 0, DST_PORT in [1, 65535]\n",
			MAX_FRAME);
		return 2;
	}
	if (secs == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop; /* no SA_RESTART: a blocked send returns EINTR and the loop ends */
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		secs = 600;
	}
	len = (size_t)len_d;

	fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: send only, nothing is queued for reading */
	if (fd < 0) {
		perror("udpflood: socket");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) != 0) {
		perror("udpflood: SIOCGIFINDEX");
		return 1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifr.ifr_ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0 || ioctl(fd, SIOCGIFHWADDR, &ifr) != 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) != 0) {
		perror("udpflood: bind/SIOCGIFHWADDR/PACKET_QDISC_BYPASS");
		return 1;
	}

	memcpy(frame, dmac, 6);
	memcpy(frame + 6, ifr.ifr_hwaddr.sa_data, 6);
	wr16(frame + 12, ETHERTYPE_IP);
	ip[0] = 0x45;
	wr16(ip + 2, (uint16_t)(len - 14));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	wr16(ip + 10, inet_checksum(ip, 20));
	wr16(udp, 9);
	wr16(udp + 2, (uint16_t)port_d);
	wr16(udp + 4, (uint16_t)(len - 34));
	for (size_t i = 42; i < len; i++)
		frame[i] = (uint8_t)i;

	iov.iov_base = frame;
	iov.iov_len = len;
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	t0 = now();
	t1 = t0;
	while (t1 - t0 < secs && !g_stop) {
		int want = BATCH, n;
		if (max_pps > 0) {
			double due = (t1 - t0) * max_pps - (double)sent;
			if (due < 1) {
				struct timespec pause = { 0, 1000000 };
				nanosleep(&pause, NULL);
				t1 = now();
				continue;
			}
			if (due < BATCH)
				want = (int)due;
		}
		n = sendmmsg(fd, msgs, (unsigned)want, 0);
		if (n > 0) {
			sent += (unsigned)n;
		} else if (n < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)) {
			busy++; /* the transmit ring is full: the backend has not caught up yet */
			sched_yield();
		} else if (n < 0) {
			perror("udpflood: sendmmsg");
			return 1;
		}
		t1 = now();
	}
	printf("udpflood sent=%llu bytes=%llu seconds=%.3f busy=%llu pps=%.0f mbps=%.2f\n", sent,
	       sent * (unsigned long long)len, t1 - t0, busy, (double)sent / (t1 - t0),
	       (double)sent * (double)len * 8 / (t1 - t0) / 1e6);
	close(fd);
	return 0;
}
