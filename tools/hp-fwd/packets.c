#include "packets.h"

#include <string.h>

#include "inet.h"

void build_udp_frame(uint8_t *buf, size_t len)
{
	static const uint8_t dst[6] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05 };
	static const uint8_t src[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	uint8_t *ip = buf + 14, *udp = ip + 20;
	size_t ip_len = len - 14, udp_len = ip_len - 20;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	wr16(buf + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;                    /* IPv4, 20-byte header */
	wr16(ip + 2, (uint16_t)ip_len);
	ip[8] = 64;                      /* TTL */
	ip[9] = 17;                      /* UDP */
	ip[12] = 198, ip[13] = 18, ip[14] = 0, ip[15] = 1;
	ip[16] = 198, ip[17] = 18, ip[18] = 0, ip[19] = 2;
	wr16(ip + 10, inet_checksum(ip, 20));
	wr16(udp, 9);
	wr16(udp + 2, 9);
	wr16(udp + 4, (uint16_t)udp_len);
	wr16(udp + 6, 0);               /* no UDP checksum (allowed for IPv4) */
	for (size_t i = 42; i < len; i++)
		buf[i] = (uint8_t)i;
}

struct hp_mbuf *mbuf_from_frame(struct hp_mempool *pool, const uint8_t *frame, size_t len)
{
	struct hp_mbuf *head = NULL, *last = NULL;
	size_t done = 0;
	while (done < len) {
		struct hp_mbuf *m = hp_pktmbuf_alloc(pool);
		size_t room, n;
		if (m == NULL) {
			hp_pktmbuf_free(head);
			return NULL;
		}
		room = hp_pktmbuf_tailroom(m);
		n = len - done < room ? len - done : room;
		memcpy(hp_pktmbuf_append(m, (uint16_t)n), frame + done, n);
		done += n;
		if (head == NULL) {
			head = m;
		} else {
			last->next = m;
			head->nb_segs++;
			head->pkt_len += m->data_len;
			m->pkt_len = 0;
		}
		last = m;
	}
	return head;
}

void swap_macs(struct hp_mbuf **pkts, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = hp_pktmbuf_mtod(pkts[i]), tmp[6];
		if (pkts[i]->data_len < 12)
			continue;
		memcpy(tmp, e, 6);
		memcpy(e, e + 6, 6);
		memcpy(e + 6, tmp, 6);
	}
}
