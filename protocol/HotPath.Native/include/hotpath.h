/*
 * hotpath.h - the C API of libhotpath.so, HotPath's vhost-user backend (device side).
 *
 * The API follows DPDK's rte_vhost.h: rte_vhost_* becomes hp_vhost_*, rte_mbuf / rte_mempool become hp_mbuf /
 * hp_mempool, RTE_VHOST_USER_* becomes HP_VHOST_USER_*. Semantics and argument order are DPDK's.
 *
 * Conventions
 *   - Functions returning int give 0 (or a count) on success and -1 on failure, except where a comment names the
 *     negative errno values (as DPDK does for those functions). Functions returning a count give 0 on failure,
 *     functions returning a pointer give NULL.
 *   - Every failure leaves a readable reason in hp_last_error() (per thread): "function: reason (ERRNO)".
 *   - The library owns no caller memory: callers pass and own every buffer, except the table returned by
 *     hp_vhost_get_mem_table(), which the caller frees with free().
 *   - Control-plane callbacks (struct hp_vhost_device_ops) run on the library's control thread and may call back
 *     into this API. Datapath functions are called from the application's threads, at most one thread per queue.
 *   - The destroy_device contract (DPDK's): when destroy_device(vid) returns, no application thread may call a
 *     datapath function on vid any more (stop and join the polling threads inside the callback). The library then
 *     unmaps the guest memory. Because the callback runs on the control thread that serves every device, it must
 *     not wait on anything a frontend controls; HotPath's own calls never block on a frontend's fd (call fds are
 *     written non-blocking), so joining a polling thread is bounded by one burst.
 *   - Ownership: mbufs handed to hp_vhost_enqueue_burst stay the caller's (they are copied); mbufs returned by
 *     hp_vhost_dequeue_burst are the caller's to free. A pool's per-thread caches are given back when their thread
 *     exits, so polling threads may come and go.
 *   - The host process is left alone: no signal handler of the application's signals is installed or changed, and
 *     nothing is written to stdout or stderr unless the application asks (hp_log_set_stream/callback, HOTPATH_LOG).
 *
 * Self-contained: needs only <stdint.h>, <stdbool.h>, <stddef.h> and <stdio.h> (FILE, for hp_log_set_stream). C11 or
 * later, or C++11 or later. DPDK's own names (rte_vhost.h and friends) are in the hotpath-rte set (pkg-config
 * hotpath-rte).
 */
#ifndef HOTPATH_H
#define HOTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#define HP_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define HP_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

#define HOTPATH_VERSION_MAJOR 1
#define HOTPATH_VERSION_MINOR 0

/* ------------------------------------------------------------------------------------------------------------ */
/* Driver registration flags (hp_vhost_driver_register), values as DPDK's RTE_VHOST_USER_*.                      */

#define HP_VHOST_USER_CLIENT                 (1ULL << 0) /* connect to the frontend's socket instead of listening */
#define HP_VHOST_USER_NO_RECONNECT           (1ULL << 1) /* client mode: do not reconnect after a disconnect */
#define HP_VHOST_USER_IOMMU_SUPPORT          (1ULL << 3) /* offer IOMMU_PLATFORM: IOTLB translation */
#define HP_VHOST_USER_POSTCOPY_SUPPORT       (1ULL << 4) /* offer PAGEFAULT: postcopy live migration */
#define HP_VHOST_USER_EXTBUF_SUPPORT         (1ULL << 5) /* dequeue may attach external buffers to large packets */
#define HP_VHOST_USER_LINEARBUF_SUPPORT      (1ULL << 6) /* dequeue never builds multi-segment mbufs */
#define HP_VHOST_USER_ASYNC_COPY             (1ULL << 7) /* async copy datapath: hp_vhost_async_channel_register */
#define HP_VHOST_USER_NET_COMPLIANT_OL_FLAGS (1ULL << 8) /* offload flags follow the mbuf API (always true here) */
#define HP_VHOST_USER_NET_STATS_ENABLE       (1ULL << 9) /* collect per-vring statistics */
#define HP_VHOST_USER_REQUIRE_SEALED_MEMORY  (1ULL << 32) /* HotPath: refuse guest memory whose fd cannot be sealed
                                                            * against shrinking (hugetlbfs files); default: map it,
                                                            * warn and count (a truncation would raise SIGBUS) */
#define HP_VHOST_USER_TAKEOVER_ALLOW         (1ULL << 33) /* HotPath: serve takeovers (hitless upgrade) on the
                                                            * takeover socket (<path>.takeover by default) */
#define HP_VHOST_USER_TAKEOVER               (1ULL << 34) /* HotPath: hp_vhost_driver_start takes the running devices
                                                            * over from the process serving the takeover socket; with
                                                            * none there it starts normally */

/* Pool and ring creation flags. */
#define HP_MEMPOOL_F_NO_HUGE 1u /* objects on normal pages even when hugepages are available */
#define HP_RING_F_SP_ENQ     1u /* single producer */
#define HP_RING_F_SC_DEQ     2u /* single consumer */

/* ------------------------------------------------------------------------------------------------------------ */
/* Feature bits (bit numbers).                                                                                   */

/* virtio-net device features */
#define HP_VIRTIO_NET_F_CSUM                 0
#define HP_VIRTIO_NET_F_GUEST_CSUM           1
#define HP_VIRTIO_NET_F_CTRL_GUEST_OFFLOADS  2
#define HP_VIRTIO_NET_F_MTU                  3
#define HP_VIRTIO_NET_F_MAC                  5
#define HP_VIRTIO_NET_F_GUEST_TSO4           7
#define HP_VIRTIO_NET_F_GUEST_TSO6           8
#define HP_VIRTIO_NET_F_GUEST_ECN            9
#define HP_VIRTIO_NET_F_GUEST_UFO            10
#define HP_VIRTIO_NET_F_HOST_TSO4            11
#define HP_VIRTIO_NET_F_HOST_TSO6            12
#define HP_VIRTIO_NET_F_HOST_ECN             13
#define HP_VIRTIO_NET_F_HOST_UFO             14
#define HP_VIRTIO_NET_F_MRG_RXBUF            15
#define HP_VIRTIO_NET_F_STATUS               16
#define HP_VIRTIO_NET_F_CTRL_VQ              17
#define HP_VIRTIO_NET_F_CTRL_RX              18
#define HP_VIRTIO_NET_F_CTRL_VLAN            19
#define HP_VIRTIO_NET_F_GUEST_ANNOUNCE       21
#define HP_VIRTIO_NET_F_MQ                   22
/* transport and vhost features */
#define HP_VIRTIO_F_NOTIFY_ON_EMPTY          24
#define HP_VHOST_F_LOG_ALL                   26
#define HP_VIRTIO_F_ANY_LAYOUT               27
#define HP_VIRTIO_RING_F_INDIRECT_DESC       28
#define HP_VIRTIO_RING_F_EVENT_IDX           29
#define HP_VHOST_USER_F_PROTOCOL_FEATURES    30
#define HP_VIRTIO_F_VERSION_1                32
#define HP_VIRTIO_F_ACCESS_PLATFORM          33
#define HP_VIRTIO_F_RING_PACKED              34
#define HP_VIRTIO_F_IN_ORDER                 35

/* vhost-user protocol features */
#define HP_VHOST_USER_PROTOCOL_F_MQ                   0
#define HP_VHOST_USER_PROTOCOL_F_LOG_SHMFD            1
#define HP_VHOST_USER_PROTOCOL_F_RARP                 2
#define HP_VHOST_USER_PROTOCOL_F_REPLY_ACK            3
#define HP_VHOST_USER_PROTOCOL_F_NET_MTU              4
#define HP_VHOST_USER_PROTOCOL_F_BACKEND_REQ          5
#define HP_VHOST_USER_PROTOCOL_F_CROSS_ENDIAN         6
#define HP_VHOST_USER_PROTOCOL_F_CRYPTO_SESSION       7
#define HP_VHOST_USER_PROTOCOL_F_PAGEFAULT            8
#define HP_VHOST_USER_PROTOCOL_F_CONFIG               9
#define HP_VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD      10
#define HP_VHOST_USER_PROTOCOL_F_HOST_NOTIFIER        11
#define HP_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD       12
#define HP_VHOST_USER_PROTOCOL_F_RESET_DEVICE         13
#define HP_VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS 14
#define HP_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS  15
#define HP_VHOST_USER_PROTOCOL_F_STATUS               16

/* DPDK's RTE_VHOST_NEED_LOG: true while live migration logs dirty pages. */
#define HP_VHOST_NEED_LOG(features) (((features) & (1ULL << HP_VHOST_F_LOG_ALL)) != 0)

/* ------------------------------------------------------------------------------------------------------------ */
/* Packet buffers.                                                                                               */

struct hp_mempool; /* opaque: created by hp_mempool_create */
struct hp_ring;    /* opaque: created by hp_ring_create */

/* Offload flags in hp_mbuf.ol_flags, values as DPDK's RTE_MBUF_F_*. */
#define HP_MBUF_F_RX_L4_CKSUM_BAD  (1ULL << 3)
#define HP_MBUF_F_RX_IP_CKSUM_BAD  (1ULL << 4)
#define HP_MBUF_F_RX_IP_CKSUM_GOOD (1ULL << 7)
#define HP_MBUF_F_RX_L4_CKSUM_GOOD (1ULL << 8)
#define HP_MBUF_F_RX_L4_CKSUM_NONE ((1ULL << 3) | (1ULL << 8))
#define HP_MBUF_F_RX_LRO           (1ULL << 16)
#define HP_MBUF_F_TX_UDP_SEG       (1ULL << 42)
#define HP_MBUF_F_TX_TCP_SEG       (1ULL << 50)
#define HP_MBUF_F_TX_TCP_CKSUM     (1ULL << 52)
#define HP_MBUF_F_TX_SCTP_CKSUM    (2ULL << 52)
#define HP_MBUF_F_TX_UDP_CKSUM     (3ULL << 52)
#define HP_MBUF_F_TX_L4_MASK       (3ULL << 52)
#define HP_MBUF_F_TX_IP_CKSUM      (1ULL << 54)
#define HP_MBUF_F_TX_IPV4          (1ULL << 55)
#define HP_MBUF_F_TX_IPV6          (1ULL << 56)
#define HP_MBUF_F_EXTERNAL         (1ULL << 61)

#define HP_PKTMBUF_HEADROOM 128 /* data_off of a fresh mbuf (RTE_PKTMBUF_HEADROOM) */

/*
 * One packet segment: two cache lines, fields named and placed as in rte_mbuf (the ones the datapath touches on
 * the first line). Packet data of a segment is at (char *)buf_addr + data_off; a packet is a chain through next.
 */
struct hp_mbuf {
	/* first cache line */
	void *buf_addr;           /*   0: start of the segment's buffer */
	uint64_t buf_iova;        /*   8: I/O address of the buffer (0: not used by HotPath) */
	uint16_t data_off;        /*  16: offset of the data in the buffer */
	uint16_t refcnt;          /*  18: references (1 when allocated) */
	uint16_t nb_segs;         /*  20: segments in the chain (first segment only) */
	uint16_t port;            /*  22: input port (application use) */
	uint64_t ol_flags;        /*  24: HP_MBUF_F_* offload flags */
	uint32_t packet_type;     /*  32: L2/L3/L4 packet type */
	uint32_t pkt_len;         /*  36: total packet length (first segment only) */
	uint16_t data_len;        /*  40: data length of this segment */
	uint16_t vlan_tci;        /*  42 */
	uint16_t buf_len;         /*  44: length of the buffer */
	uint16_t vlan_tci_outer;  /*  46 */
	union {
		uint32_t rss;
		uint64_t u64;
	} hash;                   /*  48 */
	struct hp_mempool *pool;  /*  56: pool the segment came from */
	/* second cache line */
	struct hp_mbuf *next;     /*  64: next segment, NULL on the last */
	uint64_t tx_offload;      /*  72: l2_len:7 l3_len:9 l4_len:8 tso_segsz:16 (see hp_mbuf_tx_offload) */
	void *shinfo;             /*  80: external buffer shared info (EXTBUF), else NULL */
	uint16_t priv_size;       /*  88 */
	uint16_t timesync;        /*  90 */
	uint32_t reserved;        /*  92 */
	uint64_t dynfield1[4];    /*  96: free for the application */
};

HP_STATIC_ASSERT(sizeof(struct hp_mbuf) == 128, "struct hp_mbuf is two cache lines");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, buf_addr) == 0, "hp_mbuf.buf_addr");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, buf_iova) == 8, "hp_mbuf.buf_iova");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, data_off) == 16, "hp_mbuf.data_off");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, refcnt) == 18, "hp_mbuf.refcnt");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, nb_segs) == 20, "hp_mbuf.nb_segs");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, port) == 22, "hp_mbuf.port");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, ol_flags) == 24, "hp_mbuf.ol_flags");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, packet_type) == 32, "hp_mbuf.packet_type");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, pkt_len) == 36, "hp_mbuf.pkt_len");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, data_len) == 40, "hp_mbuf.data_len");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, vlan_tci) == 42, "hp_mbuf.vlan_tci");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, buf_len) == 44, "hp_mbuf.buf_len");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, vlan_tci_outer) == 46, "hp_mbuf.vlan_tci_outer");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, hash) == 48, "hp_mbuf.hash");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, pool) == 56, "hp_mbuf.pool");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, next) == 64, "hp_mbuf.next");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, tx_offload) == 72, "hp_mbuf.tx_offload");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, shinfo) == 80, "hp_mbuf.shinfo");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, priv_size) == 88, "hp_mbuf.priv_size");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, timesync) == 90, "hp_mbuf.timesync");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, reserved) == 92, "hp_mbuf.reserved");
HP_STATIC_ASSERT(offsetof(struct hp_mbuf, dynfield1) == 96, "hp_mbuf.dynfield1");

/*
 * rte_mbuf_ext_shared_info: what m->shinfo points at when HP_MBUF_F_EXTERNAL is set (a dequeue with
 * HP_VHOST_USER_LINEARBUF_SUPPORT | HP_VHOST_USER_EXTBUF_SUPPORT put a packet larger than the pool's data room in an
 * external buffer). hp_pktmbuf_free calls free_cb(buf_addr, fcb_opaque) when the last holder lets go, and gives the
 * mbuf its own data room back.
 */
struct hp_mbuf_ext_shared_info {
	void (*free_cb)(void *addr, void *opaque);
	void *fcb_opaque;
	uint16_t refcnt;
};
HP_STATIC_ASSERT(sizeof(struct hp_mbuf_ext_shared_info) == 24, "hp_mbuf_ext_shared_info");

/* rte_pktmbuf_mtod: the first data byte of the segment. */
static inline void *hp_pktmbuf_mtod(const struct hp_mbuf *m)
{
	return (char *)m->buf_addr + m->data_off;
}

/* rte_pktmbuf_mtod_offset */
static inline void *hp_pktmbuf_mtod_offset(const struct hp_mbuf *m, size_t offset)
{
	return (char *)m->buf_addr + m->data_off + offset;
}

/* rte_pktmbuf_pkt_len / rte_pktmbuf_data_len */
static inline uint32_t hp_pktmbuf_pkt_len(const struct hp_mbuf *m) { return m->pkt_len; }
static inline uint16_t hp_pktmbuf_data_len(const struct hp_mbuf *m) { return m->data_len; }

/* rte_pktmbuf_headroom / rte_pktmbuf_tailroom (of this segment) */
static inline uint16_t hp_pktmbuf_headroom(const struct hp_mbuf *m) { return m->data_off; }
static inline uint16_t hp_pktmbuf_tailroom(const struct hp_mbuf *m)
{
	return (uint16_t)(m->buf_len - m->data_off - m->data_len);
}

/* rte_pktmbuf_lastseg */
static inline struct hp_mbuf *hp_pktmbuf_lastseg(struct hp_mbuf *m)
{
	while (m->next != NULL)
		m = m->next;
	return m;
}

/* rte_pktmbuf_is_contiguous: one segment. */
static inline bool hp_pktmbuf_is_contiguous(const struct hp_mbuf *m) { return m->nb_segs == 1; }

/* rte_pktmbuf_append: len more bytes at the end of the last segment; NULL when they do not fit. */
static inline void *hp_pktmbuf_append(struct hp_mbuf *m, uint16_t len)
{
	struct hp_mbuf *last = hp_pktmbuf_lastseg(m);
	void *tail;
	if (len > hp_pktmbuf_tailroom(last))
		return NULL;
	tail = (char *)last->buf_addr + last->data_off + last->data_len;
	last->data_len = (uint16_t)(last->data_len + len);
	m->pkt_len += len;
	return tail;
}

/* rte_pktmbuf_prepend: len more bytes before the data of the first segment; NULL when the headroom is short. */
static inline void *hp_pktmbuf_prepend(struct hp_mbuf *m, uint16_t len)
{
	if (len > m->data_off)
		return NULL;
	m->data_off = (uint16_t)(m->data_off - len);
	m->data_len = (uint16_t)(m->data_len + len);
	m->pkt_len += len;
	return (char *)m->buf_addr + m->data_off;
}

/* rte_pktmbuf_adj: drops len bytes from the start of the first segment; NULL when it holds fewer. */
static inline void *hp_pktmbuf_adj(struct hp_mbuf *m, uint16_t len)
{
	if (len > m->data_len)
		return NULL;
	m->data_off = (uint16_t)(m->data_off + len);
	m->data_len = (uint16_t)(m->data_len - len);
	m->pkt_len -= len;
	return (char *)m->buf_addr + m->data_off;
}

/* rte_pktmbuf_trim: drops len bytes from the end of the last segment; -1 when it holds fewer. */
static inline int hp_pktmbuf_trim(struct hp_mbuf *m, uint16_t len)
{
	struct hp_mbuf *last = hp_pktmbuf_lastseg(m);
	if (len > last->data_len)
		return -1;
	last->data_len = (uint16_t)(last->data_len - len);
	m->pkt_len -= len;
	return 0;
}

/* rte_mbuf tx_offload bitfields, packed and unpacked. */
static inline uint64_t hp_mbuf_tx_offload(uint64_t l2_len, uint64_t l3_len, uint64_t l4_len, uint64_t tso_segsz)
{
	return (l2_len & 0x7F) | ((l3_len & 0x1FF) << 7) | ((l4_len & 0xFF) << 16) | ((tso_segsz & 0xFFFF) << 24);
}
static inline uint16_t hp_mbuf_l2_len(const struct hp_mbuf *m) { return (uint16_t)(m->tx_offload & 0x7F); }
static inline uint16_t hp_mbuf_l3_len(const struct hp_mbuf *m) { return (uint16_t)((m->tx_offload >> 7) & 0x1FF); }
static inline uint16_t hp_mbuf_l4_len(const struct hp_mbuf *m) { return (uint16_t)((m->tx_offload >> 16) & 0xFF); }
static inline uint16_t hp_mbuf_tso_segsz(const struct hp_mbuf *m) { return (uint16_t)((m->tx_offload >> 24) & 0xFFFF); }

/*
 * A pool of n mbufs of data_room bytes each (headroom included, as rte_pktmbuf_pool_create), on 2 MiB hugepages
 * unless HP_MEMPOOL_F_NO_HUGE or none are free. cache_size: per-thread cache (0: none). NULL on failure.
 */
struct hp_mempool *hp_mempool_create(const char *name, uint32_t n, uint32_t cache_size, uint16_t data_room,
				     uint32_t flags);
/* Destroys the pool (NULL: no-op). Mbufs still out become dangling: free them first. */
void hp_mempool_free(struct hp_mempool *mp);
/*
 * Free objects (ring plus every thread's cache) and objects handed out, as rte_mempool_avail_count and
 * rte_mempool_in_use_count; exact when no alloc or free is in flight. A thread's cache goes back to the pool when the
 * thread has exited (checked when a thread first uses a pool, when a pool runs short, and by hp_mempool_avail_count):
 * polling threads may come and go without stranding mbufs. 0 for a bad handle (hp_last_error says why).
 */
uint32_t hp_mempool_avail_count(const struct hp_mempool *mp);
uint32_t hp_mempool_in_use_count(const struct hp_mempool *mp);
/* One reset mbuf (refcnt 1, data_off HP_PKTMBUF_HEADROOM, no data), or NULL when the pool is empty. */
struct hp_mbuf *hp_pktmbuf_alloc(struct hp_mempool *mp);
/* All count mbufs or none: 0, -ENOMEM (pool short), -EINVAL (bad arguments). */
int hp_pktmbuf_alloc_bulk(struct hp_mempool *mp, struct hp_mbuf **mbufs, unsigned count);
/* Frees the whole segment chain, honouring refcnt (NULL: no-op). */
void hp_pktmbuf_free(struct hp_mbuf *m);
/* Frees each chain of the array (NULL entries skipped). */
void hp_pktmbuf_free_bulk(struct hp_mbuf **mbufs, unsigned count);

/* A ring of count slots (a power of two; holds count - 1 pointers), flags HP_RING_F_*. NULL on failure. */
struct hp_ring *hp_ring_create(const char *name, unsigned count, unsigned flags);
/* Enqueues as many of objs[0..n) as fit and returns how many; *free_space (may be NULL) gets the slots left. */
unsigned hp_ring_enqueue_burst(struct hp_ring *r, void *const *objs, unsigned n, unsigned *free_space);
/* Dequeues up to n pointers and returns how many; *available (may be NULL) gets the pointers left. */
unsigned hp_ring_dequeue_burst(struct hp_ring *r, void **objs, unsigned n, unsigned *available);
/* Unmaps the ring (NULL: no-op). */
void hp_ring_free(struct hp_ring *r);

/* ------------------------------------------------------------------------------------------------------------ */
/* Virtqueue layouts (virtio 1.1 sections 2.6 and 2.7), as hp_vhost_get_vhost_vring exposes them.               */

#define HP_VRING_DESC_F_NEXT          1
#define HP_VRING_DESC_F_WRITE         2
#define HP_VRING_DESC_F_INDIRECT      4
#define HP_VRING_DESC_F_AVAIL         (1 << 7)  /* packed */
#define HP_VRING_DESC_F_USED          (1 << 15) /* packed */
#define HP_VRING_USED_F_NO_NOTIFY     1
#define HP_VRING_AVAIL_F_NO_INTERRUPT 1
#define HP_VRING_EVENT_F_ENABLE       0x0 /* packed event suppression */
#define HP_VRING_EVENT_F_DISABLE      0x1
#define HP_VRING_EVENT_F_DESC         0x2

struct hp_vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct hp_vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* size entries, then used_event (EVENT_IDX) */
};

struct hp_vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct hp_vring_used {
	uint16_t flags;
	uint16_t idx;
	struct hp_vring_used_elem ring[]; /* size entries, then avail_event (EVENT_IDX) */
};

struct hp_vring_packed_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

struct hp_vring_packed_desc_event {
	uint16_t off_wrap;
	uint16_t flags;
};

/* The virtio-net header in front of every packet in guest buffers (12 bytes with VERSION_1 or MRG_RXBUF). */
struct hp_virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

struct hp_virtio_net_hdr_mrg_rxbuf {
	struct hp_virtio_net_hdr hdr;
	uint16_t num_buffers;
};

HP_STATIC_ASSERT(sizeof(struct hp_vring_desc) == 16, "struct hp_vring_desc");
HP_STATIC_ASSERT(sizeof(struct hp_vring_used_elem) == 8, "struct hp_vring_used_elem");
HP_STATIC_ASSERT(sizeof(struct hp_vring_packed_desc) == 16, "struct hp_vring_packed_desc");
HP_STATIC_ASSERT(sizeof(struct hp_virtio_net_hdr) == 10, "struct hp_virtio_net_hdr");
HP_STATIC_ASSERT(sizeof(struct hp_virtio_net_hdr_mrg_rxbuf) == 12, "struct hp_virtio_net_hdr_mrg_rxbuf");

/* A vring's raw state (rte_vhost_vring): split desc/avail/used, or packed desc/driver event/device event. */
struct hp_vhost_vring {
	union {
		struct hp_vring_desc *desc;
		struct hp_vring_packed_desc *desc_packed;
	};
	union {
		struct hp_vring_avail *avail;
		struct hp_vring_packed_desc_event *driver_event;
	};
	union {
		struct hp_vring_used *used;
		struct hp_vring_packed_desc_event *device_event;
	};
	uint64_t log_guest_addr;
	int callfd; /* -1: none (the guest polls), -2: not received yet. Prefer hp_vhost_vring_call(). */
	int kickfd; /* -1: none, -2: not received yet */
	uint16_t size;
};

HP_STATIC_ASSERT(sizeof(struct hp_vhost_vring) == 48, "struct hp_vhost_vring");
HP_STATIC_ASSERT(offsetof(struct hp_vhost_vring, log_guest_addr) == 24, "hp_vhost_vring.log_guest_addr");
HP_STATIC_ASSERT(offsetof(struct hp_vhost_vring, callfd) == 32, "hp_vhost_vring.callfd");
HP_STATIC_ASSERT(offsetof(struct hp_vhost_vring, size) == 40, "hp_vhost_vring.size");

/* ------------------------------------------------------------------------------------------------------------ */
/* Guest memory.                                                                                                  */

struct hp_vhost_mem_region {
	uint64_t guest_phys_addr;
	uint64_t guest_user_addr; /* the frontend's virtual address */
	uint64_t host_user_addr;  /* this process's virtual address of guest_phys_addr */
	uint64_t size;
	void *mmap_addr;
	uint64_t mmap_size;
	int fd;
};

struct hp_vhost_memory {
	uint32_t nregions;
	struct hp_vhost_mem_region regions[];
};

HP_STATIC_ASSERT(sizeof(struct hp_vhost_mem_region) == 56, "struct hp_vhost_mem_region");
HP_STATIC_ASSERT(offsetof(struct hp_vhost_memory, regions) == 8, "hp_vhost_memory.regions");

/* ------------------------------------------------------------------------------------------------------------ */
/* Inflight tracking (vhost-user INFLIGHT_SHMFD), DPDK's layouts.                                                */

struct hp_vhost_inflight_desc_split {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;
};

struct hp_vhost_inflight_info_split {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_inflight_io;
	uint16_t used_idx;
	struct hp_vhost_inflight_desc_split desc[];
};

struct hp_vhost_inflight_desc_packed {
	uint8_t inflight;
	uint8_t padding;
	uint16_t next;
	uint16_t last;
	uint16_t num;
	uint64_t counter;
	uint16_t id;
	uint16_t flags;
	uint32_t len;
	uint64_t addr;
};

struct hp_vhost_inflight_info_packed {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t free_head;
	uint16_t old_free_head;
	uint16_t used_idx;
	uint16_t old_used_idx;
	uint8_t used_wrap_counter;
	uint8_t old_used_wrap_counter;
	uint8_t padding[10];
	struct hp_vhost_inflight_desc_packed desc[];
};

struct hp_vhost_resubmit_desc {
	uint16_t index;
	uint64_t counter;
};

struct hp_vhost_resubmit_info {
	struct hp_vhost_resubmit_desc *resubmit_list;
	uint16_t resubmit_num;
};

struct hp_vhost_ring_inflight {
	union {
		struct hp_vhost_inflight_info_split *inflight_split;
		struct hp_vhost_inflight_info_packed *inflight_packed;
	};
	struct hp_vhost_resubmit_info *resubmit_inflight; /* NULL: no resubmit list */
};

HP_STATIC_ASSERT(sizeof(struct hp_vhost_inflight_desc_split) == 16, "struct hp_vhost_inflight_desc_split");
HP_STATIC_ASSERT(sizeof(struct hp_vhost_inflight_info_split) == 16, "struct hp_vhost_inflight_info_split");
HP_STATIC_ASSERT(sizeof(struct hp_vhost_inflight_desc_packed) == 32, "struct hp_vhost_inflight_desc_packed");
HP_STATIC_ASSERT(sizeof(struct hp_vhost_inflight_info_packed) == 32, "struct hp_vhost_inflight_info_packed");

/* ------------------------------------------------------------------------------------------------------------ */
/* Callbacks.                                                                                                    */

/*
 * Device lifecycle callbacks (rte_vhost_device_ops), registered per socket path. Any member may be NULL. The
 * library copies the struct. All but guest_notify/guest_notified run on the control thread.
 */
struct hp_vhost_device_ops {
	/* The device is ready: start polling it. Return 0 to accept; nonzero retries after the next message. */
	int (*new_device)(int vid);
	/* The device stops (ring stop, reset, disconnect): stop polling it before returning. */
	void (*destroy_device)(int vid);
	/* A vring became ready (enable 1) or stopped being ready (enable 0). */
	int (*vring_state_changed)(int vid, uint16_t queue_id, int enable);
	/* Features changed under a running device (HP_VHOST_F_LOG_ALL at the start/end of live migration). */
	int (*features_changed)(int vid, uint64_t features);
	/* A frontend connected (return nonzero to refuse it) / the connection closed. */
	int (*new_connection)(int vid);
	void (*destroy_connection)(int vid);
	/* Datapath thread: the call eventfd was written (to count these syscalls). */
	void (*guest_notified)(int vid);
	/* Datapath thread: return true to take this notification over (then call hp_vhost_notify_guest later). */
	bool (*guest_notify)(int vid, uint16_t queue_id);
	/* HotPath (hitless upgrade, old process): every device of path was handed over to a new process (each got
	 * destroy_device first). Call hp_vhost_driver_unregister(path) (it removes nothing the new process holds); when
	 * it was the last path, the process may exit. */
	void (*takeover_complete)(const char *path);
	void *reserved[3]; /* must be NULL */
};

HP_STATIC_ASSERT(sizeof(struct hp_vhost_device_ops) == 96, "struct hp_vhost_device_ops");

/* Per-message hook results (rte_vhost_msg_result). */
enum hp_vhost_msg_result {
	HP_VHOST_MSG_RESULT_ERR = -1,        /* fail the message */
	HP_VHOST_MSG_RESULT_OK = 0,          /* handled here: skip the built-in handler */
	HP_VHOST_MSG_RESULT_REPLY = 1,       /* handled here: send the (modified) message back as the reply */
	HP_VHOST_MSG_RESULT_NOT_HANDLED = 2, /* go on with the built-in handler */
};

/*
 * A per-message hook: msg points at the whole vhost-user message (12-byte header {u32 request, u32 flags,
 * u32 size}, then the payload) in a buffer the hook may rewrite.
 */
typedef enum hp_vhost_msg_result (*hp_vhost_msg_handle)(int vid, void *msg);

/* rte_vhost_user_extern_ops: pre runs before the built-in handler, post after a successful one. */
struct hp_vhost_user_extern_ops {
	hp_vhost_msg_handle pre_msg_handle;
	hp_vhost_msg_handle post_msg_handle;
};

/* ------------------------------------------------------------------------------------------------------------ */
/* Statistics.                                                                                                    */

#define HP_VHOST_STATS_NAME_SIZE 64

struct hp_vhost_stat_name {
	char name[HP_VHOST_STATS_NAME_SIZE];
};

struct hp_vhost_stat {
	uint64_t id;
	uint64_t value;
};

/* Dirty logging of a device (live migration), summed over its vrings: hp_vhost_get_log_stats. */
struct hp_vhost_log_stats {
	uint64_t pages_marked;  /* dirty-log bits set (a page written by several bursts counts once per burst) */
	uint64_t cache_flushes; /* bursts' log-cache flushes that set at least one bit */
};

HP_STATIC_ASSERT(sizeof(struct hp_vhost_log_stats) == 16, "struct hp_vhost_log_stats");

/* ------------------------------------------------------------------------------------------------------------ */
/* Functions.                                                                                                    */

/* The calling thread's reason for its last failed call ("no error" before any). Never NULL. */
const char *hp_last_error(void);

/*
 * Logging. HotPath writes no line anywhere (no stdout, no stderr) until the application asks: with a stream
 * (hp_log_set_stream(stderr), rte_openlog_stream's shape) and/or a callback. The environment variable HOTPATH_LOG
 * (debug, info, warning, error) sets the level and, when the application set neither, sends lines to stderr. Lines
 * have no newline when given to the callback; calls are serialised and come from HotPath's control thread or from the
 * thread of the API call that logs. A warning that repeats per connection is logged once and counted after that.
 * Levels are DPDK's RTE_LOG_* numbers. 0 on success, -1 with hp_last_error() for a level outside 1..8.
 */
#define HP_LOG_ERR 4
#define HP_LOG_WARNING 5
#define HP_LOG_NOTICE 6
#define HP_LOG_INFO 7 /* the default */
#define HP_LOG_DEBUG 8
typedef void (*hp_log_cb_t)(int level, const char *line, void *arg);
int hp_log_set_level(int level);
int hp_log_get_level(void);
int hp_log_set_callback(hp_log_cb_t cb, void *arg); /* NULL removes it */
int hp_log_set_stream(FILE *stream);                /* NULL: no stream */

/* Driver (per socket path). 0 on success, -1 on failure. */
int hp_vhost_driver_register(const char *path, uint64_t flags);
int hp_vhost_driver_unregister(const char *path);
int hp_vhost_driver_set_features(const char *path, uint64_t features);     /* before negotiation */
int hp_vhost_driver_enable_features(const char *path, uint64_t features);  /* subset of the supported set */
int hp_vhost_driver_disable_features(const char *path, uint64_t features);
int hp_vhost_driver_get_features(const char *path, uint64_t *features);
int hp_vhost_driver_set_protocol_features(const char *path, uint64_t protocol_features);
int hp_vhost_driver_get_protocol_features(const char *path, uint64_t *protocol_features);
int hp_vhost_driver_get_queue_num(const char *path, uint32_t *queue_num);
int hp_vhost_driver_set_max_queue_num(const char *path, uint32_t max_queue_pairs);
int hp_vhost_driver_callback_register(const char *path, const struct hp_vhost_device_ops *ops);
int hp_vhost_driver_start(const char *path);

/*
 * Hitless upgrade. A driver registered with HP_VHOST_USER_TAKEOVER_ALLOW serves takeovers on its takeover socket.
 * A new process that registers the same path with HP_VHOST_USER_TAKEOVER (and usually TAKEOVER_ALLOW too, to be
 * upgradeable in turn) gets, inside hp_vhost_driver_start, the old process's listening socket (server mode) and
 * every connected device with its exact state: the old process stops each device at a burst boundary
 * (destroy_device), hands over its connection, memory, rings, eventfds, log, inflight and IOTLB state, and resumes
 * its devices if the new process refuses, fails or dies before it resumed them. The frontend sees nothing. The new
 * process then gets new_connection and new_device for each device; the old one gets takeover_complete.
 * hp_vhost_driver_start returns -1 (EBUSY) when the old process refused (e.g. a postcopy migration in progress)
 * or the handover failed while it lives: it keeps serving, nothing changed. HOTPATH_TAKEOVER_TIMEOUT_MS (default
 * 5000) bounds every wait on the other process.
 */
#define HP_VHOST_TAKEOVER_NONE     0 /* started normally */
#define HP_VHOST_TAKEOVER_TAKEN    1 /* this process took the devices over */
#define HP_VHOST_TAKEOVER_HANDED   2 /* this process handed its devices over */
#define HP_VHOST_TAKEOVER_FALLBACK 3 /* the old process died mid-handover: started normally, frontends reconnect */

struct hp_vhost_takeover_info {
	uint32_t state;    /* HP_VHOST_TAKEOVER_* */
	uint32_t devices;  /* devices moved */
	uint64_t pause_ns; /* new side: from the old process's quiesce to this one's resume (CLOCK_MONOTONIC) */
	int32_t peer_pid;  /* the other process */
	uint32_t reserved[3];
};

HP_STATIC_ASSERT(sizeof(struct hp_vhost_takeover_info) == 32, "struct hp_vhost_takeover_info");

/* The takeover socket (default "<path>.takeover"); before hp_vhost_driver_start. */
int hp_vhost_driver_set_takeover_path(const char *path, const char *takeover_path);
/* The last takeover of path, on either side. */
int hp_vhost_driver_takeover_info(const char *path, struct hp_vhost_takeover_info *info);

/* Device (per connection). */
int hp_vhost_get_negotiated_features(int vid, uint64_t *features);
int hp_vhost_get_negotiated_protocol_features(int vid, uint64_t *protocol_features);
/* 0; -ENODEV (no device), -EINVAL (mtu NULL), -EAGAIN (not ready yet), -ENOTSUP (VIRTIO_NET_F_MTU not negotiated). */
int hp_vhost_get_mtu(int vid, uint16_t *mtu);
int hp_vhost_get_numa_node(int vid);          /* node of the guest memory, -1 on failure */
uint16_t hp_vhost_get_vring_num(int vid);     /* vrings set up by the frontend, 0 on failure */
int hp_vhost_get_ifname(int vid, char *buf, size_t len); /* the socket path, cut to len - 1 bytes */
uint16_t hp_vhost_avail_entries(int vid, uint16_t queue_id);
uint32_t hp_vhost_rx_queue_count(int vid, uint16_t qid);
int hp_vhost_get_vring_base(int vid, uint16_t queue_id, uint16_t *last_avail_idx, uint16_t *last_used_idx);
int hp_vhost_set_vring_base(int vid, uint16_t queue_id, uint16_t last_avail_idx, uint16_t last_used_idx);

/* Datapath. queue_id: even = guest RX (enqueue), odd = guest TX (dequeue). Return the packets moved. */
uint16_t hp_vhost_enqueue_burst(int vid, uint16_t queue_id, struct hp_mbuf **pkts, uint16_t count);
uint16_t hp_vhost_dequeue_burst(int vid, uint16_t queue_id, struct hp_mempool *mbuf_pool, struct hp_mbuf **pkts,
				uint16_t count);

/*
 * Async copy datapath (the seed's rte_vhost_async.h; engine/HotPath.Engine/Async/README.md). A copy channel (a DMA
 * engine, or HotPath's built-in copy thread) is registered on a queue. Guest RX (even) queue: hp_vhost_submit_enqueue_burst
 * then reserves guest buffers, writes the virtio-net headers and hands the packet copies to the channel;
 * hp_vhost_poll_enqueue_completed returns the packets whose copies completed, after publishing their used entries
 * in ring order (a packet is used only when its copies and those of every earlier packet completed).
 *   - Ownership: a submitted mbuf belongs to the library until poll returns it (then it is the caller's to free).
 *     Unregistering or a device going away waits for the channel's copies, then frees the packets not polled back.
 *   - Any control-plane change of the ring (GET_VRING_BASE, memory table, reset, disconnect) first waits for the
 *     channel to complete every copy it holds, polling check_completed_copies itself: a channel must complete.
 *   - IOMMU_PLATFORM devices, and packed rings with inflight tracking (INFLIGHT_SHMFD), are copied synchronously
 *     inside submit (they complete at once).
 *   - Do not mix hp_vhost_enqueue_burst and the async calls on one queue.
 */
struct hp_vhost_iov_iter {
	size_t offset;          /* HotPath passes 0 */
	size_t count;           /* bytes in iov[0..nr_segs) */
	struct iovec *iov;
	unsigned long nr_segs;
};
/* One packet's copies: src->iov[k] and dst->iov[k] have the same length and src/dst the same nr_segs. */
struct hp_vhost_async_desc {
	struct hp_vhost_iov_iter *src;
	struct hp_vhost_iov_iter *dst;
};
/* Out-of-order channels only (NULL for HP_VHOST_ASYNC_INORDER ones): dst_opaque_data holds one token per packet in
 * transfer_data; check_completed_copies writes the tokens of the packets it completed there. src_opaque_data: NULL. */
struct hp_vhost_async_status {
	uintptr_t *dst_opaque_data;
	uintptr_t *src_opaque_data;
};
struct hp_vhost_async_channel_ops {
	/* Takes the copies of count packets; returns how many (a prefix) it accepted, the library copies the rest. descs is
	 * valid during the call; the iters, iovecs and the memory they name until the packet is reported complete. */
	uint32_t (*transfer_data)(int vid, uint16_t queue_id, struct hp_vhost_async_desc *descs,
				  struct hp_vhost_async_status *opaque_data, uint16_t count);
	/* Packets (at most max_packets) whose last byte was written since the last call: a count in submission order
	 * (in-order channels) or their tokens in opaque_data->dst_opaque_data (out-of-order channels). */
	uint32_t (*check_completed_copies)(int vid, uint16_t queue_id, struct hp_vhost_async_status *opaque_data,
					   uint16_t max_packets);
};
/* features: bit 0 async_inorder, bits 16-27 async_threshold (bytes: shorter copies are done by the CPU at submit). */
#define HP_VHOST_ASYNC_INORDER          (1u << 0)
#define HP_VHOST_ASYNC_THRESHOLD(bytes) (((uint32_t)(bytes) & 0xFFFu) << 16)
/* 0, or -1 with hp_last_error(): unknown vid or queue, reserved feature bits, already registered (EEXIST). The ops
 * struct is copied. Call from new_device (or later); a new connection needs a new registration. */
int hp_vhost_async_channel_register(int vid, uint16_t queue_id, uint32_t features,
				    struct hp_vhost_async_channel_ops *ops);
/* Waits for the channel's copies, frees the packets not polled back. 0, or -1 (no channel: ENOENT). */
int hp_vhost_async_channel_unregister(int vid, uint16_t queue_id);
uint16_t hp_vhost_submit_enqueue_burst(int vid, uint16_t queue_id, struct hp_mbuf **pkts, uint16_t count);
uint16_t hp_vhost_poll_enqueue_completed(int vid, uint16_t queue_id, struct hp_mbuf **pkts, uint16_t count);
/* Packets submitted and not polled back yet; -1 without a channel or while the control plane holds the ring. */
int hp_vhost_async_get_inflight(int vid, uint16_t queue_id);
/*
 * Async dequeue (DPDK 22.11's rte_vhost_async_try_dequeue_burst, on the channel ops above): with a channel
 * registered on a guest TX (odd) queue, takes up to count new TX chains (headers read, offloads applied, mbufs from
 * mbuf_pool) and hands their guest -> mbuf copies to the channel, then returns up to count packets whose copies
 * completed, in ring order; a chain is used (given back to the guest) only when its copies and every earlier
 * chain's completed. *nr_inflight: packets taken and not returned yet (what hp_vhost_async_get_inflight reports),
 * -1 without a channel or while the control plane holds the ring. Unregistering or a device going away waits for
 * the copies, then frees the packets not returned. Packed rings and IOMMU_PLATFORM devices dequeue synchronously
 * inside the call. Do not mix hp_vhost_dequeue_burst and this call on one queue.
 */
uint16_t hp_vhost_async_try_dequeue_burst(int vid, uint16_t queue_id, struct hp_mempool *mbuf_pool,
					  struct hp_mbuf **pkts, uint16_t count, int *nr_inflight);
/*
 * Clearing a queue (DPDK 22.11's rte_vhost_clear_queue / rte_vhost_clear_queue_thread_unsafe; no dma ids: a channel
 * is per queue). RX or TX queue with a channel: waits for the channel's copies, gives their used entries to the guest
 * in ring order, and returns up to count of the queue's packets (submitted and not polled back, or taken and not
 * returned) in submit order; the caller owns them. count >= hp_vhost_async_get_inflight() empties the queue in one
 * call. For an application about to stop using the queue: from vring_state_changed (enable 0) or destroy_device.
 * HotPath calls those callbacks holding no ring lock (DPDK holds every ring's lock in vring_state_changed):
 *   - hp_vhost_clear_queue try-takes the ring's lock like a burst: 0 with EAGAIN while a burst or the control plane
 *     holds it (try again);
 *   - hp_vhost_clear_queue_thread_unsafe takes no lock: only for a caller no other thread races on this queue (its
 *     polling of the queue stopped); a ring found locked is refused (0, EAGAIN).
 * At vring_state_changed(enable 0) no copy is in flight any more (the message that disabled the ring waited for
 * them); at destroy_device copies may still be (disconnect, reset). 0 on failure with hp_last_error(): unknown vid or queue (EINVAL),
 * no channel (ENOENT), pkts NULL.
 */
uint16_t hp_vhost_clear_queue(int vid, uint16_t queue_id, struct hp_mbuf **pkts, uint16_t count);
uint16_t hp_vhost_clear_queue_thread_unsafe(int vid, uint16_t queue_id, struct hp_mbuf **pkts, uint16_t count);

/* Built-in copy engine (HotPath's addition): one copy thread fed by a lock-free ring of job batches (one per submit
 * or dequeue call), for applications without DMA hardware; when its ring is full, a queue keeps the jobs and hands
 * them over at its next call. cpu >= 0 pins the thread (NULL if that fails). Free it after unregistering its queues
 * (or after their devices were destroyed). */
struct hp_copy_engine;
struct hp_copy_engine *hp_copy_engine_create(const char *name, int cpu);
void hp_copy_engine_free(struct hp_copy_engine *engine);
int64_t hp_copy_engine_packets(const struct hp_copy_engine *engine);   /* packets copied, -1 for a bad handle */
/* Registers a channel of engine on the queue (in order; the channel is freed with the queue). 0 or -1. */
int hp_vhost_async_channel_register_engine(int vid, uint16_t queue_id, uint32_t features, struct hp_copy_engine *engine);

/* Memory and rings. The table from hp_vhost_get_mem_table is malloc'ed: free() it. */
int hp_vhost_get_mem_table(int vid, struct hp_vhost_memory **mem);
/* Host address of gpa; *len is cut to the bytes contiguous from there. 0 (and *len = 0) when unmapped. */
uint64_t hp_vhost_va_from_guest_pa(struct hp_vhost_memory *mem, uint64_t gpa, uint64_t *len);
int hp_vhost_get_vhost_vring(int vid, uint16_t vring_idx, struct hp_vhost_vring *vring);
int hp_vhost_vring_call(int vid, uint16_t vring_idx);
/*
 * Interrupt mode (rte_vhost_enable_guest_notification): enable != 0 asks the guest to kick the vring's kick fd when
 * it makes buffers available; 0 (the default) suppresses kicks, for a polling application. The pattern for an
 * application that sleeps: poll until empty, enable, poll once more (a buffer added just before the guest saw the
 * change is not kicked), then wait for the kick fd (hp_vhost_get_vhost_vring().kickfd, readable with poll/epoll;
 * clear it with hp_vhost_vring_drain_kick), disable, poll. 0, or -1 with hp_last_error() (no such vring, not set up).
 */
int hp_vhost_enable_guest_notification(int vid, uint16_t queue_id, int enable);
/*
 * Takes the guest's pending kicks of a vring without blocking (HotPath's addition; DPDK applications read the
 * eventfd themselves): the number of kicks counted since the last drain (clamped to INT32_MAX), 0 when none is
 * pending or the control plane is changing the ring at this instant (the kick then stays pending), or -1 with
 * hp_last_error(): unknown vid or vring, no kick fd received yet (EAGAIN), the frontend sent none (NOFD: it polls and
 * never kicks, so interrupt mode cannot work on this vring; EBADF), or the fd cannot be read. The kick fd may be a
 * blocking eventfd (the frontend's flags are kept): this call polls it with a zero timeout before reading it, so it
 * never blocks when the queue's thread is the fd's only reader.
 *
 * Interrupt mode, one guest TX vring q (odd) of vid, on the queue's own thread:
 *
 *   for (;;) {
 *       while ((n = hp_vhost_dequeue_burst(vid, q, pool, pkts, 32)) > 0)
 *           handle(pkts, n);                               // 1. poll until empty
 *       hp_vhost_enable_guest_notification(vid, q, 1);     // 2. ask for a kick (re-arm before every sleep: with
 *                                                          //    EVENT_IDX the kick is armed at the next avail index)
 *       if (hp_vhost_rx_queue_count(vid, q) == 0) {        // 3. re-check: a buffer posted before the guest saw step
 *           struct hp_vhost_vring vr;                      //    2 sends no kick; the enable's full fence orders it
 *           hp_vhost_get_vhost_vring(vid, q, &vr);
 *           struct pollfd p = { .fd = vr.kickfd, .events = POLLIN };
 *           poll(&p, 1, 100);                              // 4. sleep; a timeout keeps shutdown responsive
 *           hp_vhost_vring_drain_kick(vid, q);             // 5. clear the eventfd so the next sleep can block
 *       }
 *       hp_vhost_enable_guest_notification(vid, q, 0);     // 6. back to polling: no kicks while busy
 *   }
 *
 * Fetch the kick fd again before each wait (or after vring_state_changed): a frontend may replace it. A 0 from
 * hp_vhost_rx_queue_count on a ring the control plane holds is harmless: the sleep is bounded by the timeout, and
 * a kick that arrives meanwhile wakes it. tools/hp-fwd --rx-mode interrupt|adaptive runs this loop.
 */
int hp_vhost_vring_drain_kick(int vid, uint16_t queue_id);
void hp_vhost_notify_guest(int vid, uint16_t queue_id);

/* Live migration. */
void hp_vhost_log_write(int vid, uint64_t addr, uint64_t len);
void hp_vhost_log_used_vring(int vid, uint16_t vring_idx, uint64_t offset, uint64_t len);
int hp_vhost_get_log_base(int vid, uint64_t *log_base, uint64_t *log_size);
/* HotPath's: the device's dirty-logging counters so far (kept while logging is off; no stats flag needed). 0 or -1. */
int hp_vhost_get_log_stats(int vid, struct hp_vhost_log_stats *stats);

/* Inflight tracking. */
int hp_vhost_get_vhost_ring_inflight(int vid, uint16_t vring_idx, struct hp_vhost_ring_inflight *vring);
int hp_vhost_set_inflight_desc_split(int vid, uint16_t vring_idx, uint16_t idx);
int hp_vhost_set_inflight_desc_packed(int vid, uint16_t vring_idx, uint16_t head, uint16_t last,
				      uint16_t *inflight_entry);
int hp_vhost_set_last_inflight_io_split(int vid, uint16_t vring_idx, uint16_t idx);
int hp_vhost_set_last_inflight_io_packed(int vid, uint16_t vring_idx, uint16_t head);
int hp_vhost_clr_inflight_desc_split(int vid, uint16_t vring_idx, uint16_t last_used_idx, uint16_t idx);
int hp_vhost_clr_inflight_desc_packed(int vid, uint16_t vring_idx, uint16_t head);
int hp_vhost_get_vring_base_from_inflight(int vid, uint16_t queue_id, uint16_t *last_avail_idx,
					  uint16_t *last_used_idx);

/* Per-message hooks of one device; ctx is kept with them. */
int hp_vhost_extern_callback_register(int vid, struct hp_vhost_user_extern_ops const *const ops, void *ctx);
/* Asks the frontend to re-read the config space (rte_vhost_slave_config_change). 0 or a negative errno. */
int hp_vhost_backend_config_change(int vid, bool need_reply);

/* Statistics (HP_VHOST_USER_NET_STATS_ENABLE). get_names/get return the counter count, also when the array is
 * NULL or too small (then nothing is written); -1 on failure. */
int hp_vhost_vring_stats_get_names(int vid, uint16_t queue_id, struct hp_vhost_stat_name *name, unsigned int size);
int hp_vhost_vring_stats_get(int vid, uint16_t queue_id, struct hp_vhost_stat *stats, unsigned int n);
int hp_vhost_vring_stats_reset(int vid, uint16_t queue_id);

/* virtio-crypto (DPDK's rte_vhost_crypto_*; docs/CRYPTO.md). A path started with hp_vhost_crypto_driver_start offers
 * the virtio-crypto features and protocol feature CRYPTO_SESSION; each of its devices keeps the guest's sessions
 * (CREATE/CLOSE_CRYPTO_SESSION, validated by the library) from its first message on. Data queues are split rings:
 * fetch parses up to 32 requests per queue (each copied out of guest memory once, every length checked), process
 * runs them through HotPath's engine (AES-CBC/CTR, HMAC-SHA1/256) or the application runs its own on
 * hp_vhost_crypto_request_buffers, and finalize writes results and status bytes and returns the chains used, in
 * fetch order. A request fetched with status != HP_VIRTIO_CRYPTO_OK is already final: finalize only reports it. */
#define HP_VIRTIO_CRYPTO_OK      0
#define HP_VIRTIO_CRYPTO_ERR     1
#define HP_VIRTIO_CRYPTO_BADMSG  2
#define HP_VIRTIO_CRYPTO_NOTSUPP 3
#define HP_VIRTIO_CRYPTO_INVSESS 4

struct hp_vhost_crypto_request {
	uint16_t queue_id;
	uint16_t slot;          /* the library's; do not change */
	uint8_t status;         /* HP_VIRTIO_CRYPTO_*: an application may turn OK into a failure, never the reverse */
	uint8_t reserved[3];
	uint64_t session_id;
	uint32_t opcode;        /* VIRTIO_CRYPTO_CIPHER_ENCRYPT (0) or _DECRYPT (1) */
	uint32_t op_type;       /* VIRTIO_CRYPTO_SYM_OP_CIPHER (1) or _ALGORITHM_CHAINING (2) */
	uint32_t src_len;
	uint32_t dst_len;
	uint32_t hash_len;
	uint32_t reserved2;
};

int hp_vhost_crypto_driver_start(const char *path);
uint16_t hp_vhost_crypto_fetch_requests(int vid, uint32_t qid, struct hp_vhost_crypto_request *reqs, uint16_t nb_reqs);
/* Returns how many requests ended OK, or -1. */
int hp_vhost_crypto_process_requests(int vid, struct hp_vhost_crypto_request *reqs, uint16_t nb_reqs);
uint16_t hp_vhost_crypto_finalize_requests(int vid, struct hp_vhost_crypto_request *reqs, uint16_t nb_reqs);
/* For an application's own engine: the IV (16 bytes), the data (src_len bytes, processed in place; finalize copies
 * them to the guest and zeroes the destination up to dst_len) and the digest (hash_len bytes). Valid until finalize. */
int hp_vhost_crypto_request_buffers(int vid, const struct hp_vhost_crypto_request *req, uint8_t **iv, uint8_t **data,
				    uint8_t **digest);
/* 0: copy (the default); 1: zero copy: a cipher-only request whose source and destination each lie in one run of
 * host memory is run by finalize from the guest's source into its destination (lengths and IV read at fetch), after
 * hp_vhost_crypto_process_requests asked for it; hp_vhost_crypto_request_buffers refuses such a request (-1).
 * -ENOTSUP when libcrypto.so.3 cannot be loaded, -EINVAL for another option or vid. */
int hp_vhost_crypto_set_zero_copy(int vid, int option);

#ifdef __cplusplus
}
#endif

#endif /* HOTPATH_H */
