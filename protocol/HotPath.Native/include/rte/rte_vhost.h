/*
 * HotPath's rte_vhost.h: DPDK 22.11's vhost library API (names, constants, structs, callback types) on libhotpath.so.
 * A DPDK vhost application builds against it by include path, with its EAL calls replaced:
 *     cc app.c $(pkg-config --cflags --libs hotpath-rte)
 * Like DPDK's, it pulls in <sys/eventfd.h> and, in C, <linux/vhost.h>, <linux/virtio_ring.h> and
 * <linux/virtio_net.h>; struct rte_vhost_vring holds the kernel's struct vring_* pointers. HOTPATH_RTE_COMPAT is defined, for the few lines
 * an application keeps apart (rte_eal_init and the like).
 *
 * Mapping rules: functions are static inline calls of their hp_vhost_* namesakes; structs whose layout is HotPath's
 * are the same struct (rte_vhost_memory is hp_vhost_memory); structs with DPDK's own types (rte_vhost_vring,
 * rte_vhost_device_ops, rte_vhost_user_extern_ops) are defined here with DPDK's layout and converted. vDPA lookups
 * answer "no device". Not provided: DPDK 22.11's DMA-device async API (HotPath's async copy API has the older
 * rte_vhost_async_channel_register shape: hp_vhost_async_* in hotpath.h), the crypto and vDPA driver APIs.
 */
#ifndef HOTPATH_RTE_VHOST_H
#define HOTPATH_RTE_VHOST_H

#include <hotpath.h>
#ifndef __cplusplus
/* As DPDK's rte_vhost.h: the kernel's virtio headers are not C++-clean, so C++ sees the vring types incomplete. */
#include <linux/vhost.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#endif
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#define HOTPATH_RTE_COMPAT 1

#ifdef __cplusplus
extern "C" {
#endif

/* ---- registration flags and feature bits (DPDK's values) ---- */
#define RTE_VHOST_USER_CLIENT HP_VHOST_USER_CLIENT
#define RTE_VHOST_USER_NO_RECONNECT HP_VHOST_USER_NO_RECONNECT
#define RTE_VHOST_USER_RESERVED_1 (1ULL << 2)
#define RTE_VHOST_USER_IOMMU_SUPPORT HP_VHOST_USER_IOMMU_SUPPORT
#define RTE_VHOST_USER_POSTCOPY_SUPPORT HP_VHOST_USER_POSTCOPY_SUPPORT
#define RTE_VHOST_USER_EXTBUF_SUPPORT HP_VHOST_USER_EXTBUF_SUPPORT
#define RTE_VHOST_USER_LINEARBUF_SUPPORT HP_VHOST_USER_LINEARBUF_SUPPORT
#define RTE_VHOST_USER_ASYNC_COPY HP_VHOST_USER_ASYNC_COPY
#define RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS HP_VHOST_USER_NET_COMPLIANT_OL_FLAGS
#define RTE_VHOST_USER_NET_STATS_ENABLE HP_VHOST_USER_NET_STATS_ENABLE

#ifndef VHOST_USER_F_PROTOCOL_FEATURES
#define VHOST_USER_F_PROTOCOL_FEATURES HP_VHOST_USER_F_PROTOCOL_FEATURES
#endif
#define VHOST_USER_PROTOCOL_F_MQ HP_VHOST_USER_PROTOCOL_F_MQ
#define VHOST_USER_PROTOCOL_F_LOG_SHMFD HP_VHOST_USER_PROTOCOL_F_LOG_SHMFD
#define VHOST_USER_PROTOCOL_F_RARP HP_VHOST_USER_PROTOCOL_F_RARP
#define VHOST_USER_PROTOCOL_F_REPLY_ACK HP_VHOST_USER_PROTOCOL_F_REPLY_ACK
#define VHOST_USER_PROTOCOL_F_NET_MTU HP_VHOST_USER_PROTOCOL_F_NET_MTU
#define VHOST_USER_PROTOCOL_F_SLAVE_REQ HP_VHOST_USER_PROTOCOL_F_BACKEND_REQ
#define VHOST_USER_PROTOCOL_F_CRYPTO_SESSION HP_VHOST_USER_PROTOCOL_F_CRYPTO_SESSION
#define VHOST_USER_PROTOCOL_F_PAGEFAULT HP_VHOST_USER_PROTOCOL_F_PAGEFAULT
#define VHOST_USER_PROTOCOL_F_CONFIG HP_VHOST_USER_PROTOCOL_F_CONFIG
#define VHOST_USER_PROTOCOL_F_SLAVE_SEND_FD HP_VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD
#define VHOST_USER_PROTOCOL_F_HOST_NOTIFIER HP_VHOST_USER_PROTOCOL_F_HOST_NOTIFIER
#define VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD HP_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD
#define VHOST_USER_PROTOCOL_F_STATUS HP_VHOST_USER_PROTOCOL_F_STATUS

#define RTE_VHOST_STATS_NAME_SIZE HP_VHOST_STATS_NAME_SIZE

/* ---- structs that are HotPath's own, under DPDK's names ---- */
#define rte_vhost_mem_region hp_vhost_mem_region
#define rte_vhost_memory hp_vhost_memory
#define rte_vhost_inflight_desc_split hp_vhost_inflight_desc_split
#define rte_vhost_inflight_info_split hp_vhost_inflight_info_split
#define rte_vhost_inflight_desc_packed hp_vhost_inflight_desc_packed
#define rte_vhost_inflight_info_packed hp_vhost_inflight_info_packed
#define rte_vhost_resubmit_desc hp_vhost_resubmit_desc
#define rte_vhost_resubmit_info hp_vhost_resubmit_info
#define rte_vhost_ring_inflight hp_vhost_ring_inflight
#define rte_vhost_stat_name hp_vhost_stat_name
#define rte_vhost_stat hp_vhost_stat

/* ---- structs with DPDK's own member types ---- */

/* The kernel's vring types, as DPDK's. Same layout as struct hp_vhost_vring (48 bytes). */
struct rte_vhost_vring {
	union {
		struct vring_desc *desc;
		struct vring_packed_desc *desc_packed;
	};
	union {
		struct vring_avail *avail;
		struct vring_packed_desc_event *driver_event;
	};
	union {
		struct vring_used *used;
		struct vring_packed_desc_event *device_event;
	};
	uint64_t log_guest_addr;
	int callfd;
	int kickfd;
	uint16_t size;
};

struct rte_vhost_device_ops {
	int (*new_device)(int vid);
	void (*destroy_device)(int vid);
	int (*vring_state_changed)(int vid, uint16_t queue_id, int enable);
	int (*features_changed)(int vid, uint64_t features);
	int (*new_connection)(int vid);
	void (*destroy_connection)(int vid);
	void (*guest_notified)(int vid);
	void *reserved[1];
};

enum rte_vhost_msg_result {
	RTE_VHOST_MSG_RESULT_ERR = -1,
	RTE_VHOST_MSG_RESULT_OK = 0,
	RTE_VHOST_MSG_RESULT_REPLY = 1,
	RTE_VHOST_MSG_RESULT_NOT_HANDLED = 2,
};
typedef enum rte_vhost_msg_result (*rte_vhost_msg_handle)(int vid, void *msg);
struct rte_vhost_user_extern_ops {
	rte_vhost_msg_handle pre_msg_handle;
	rte_vhost_msg_handle post_msg_handle;
};

struct rte_vdpa_device; /* HotPath drives no vDPA device: every lookup answers NULL */

/* ---- driver ---- */
static inline int rte_vhost_driver_register(const char *path, uint64_t flags) { return hp_vhost_driver_register(path, flags); }
static inline int rte_vhost_driver_unregister(const char *path) { return hp_vhost_driver_unregister(path); }
static inline int rte_vhost_driver_set_features(const char *path, uint64_t features)
{
	return hp_vhost_driver_set_features(path, features);
}
static inline int rte_vhost_driver_enable_features(const char *path, uint64_t features)
{
	return hp_vhost_driver_enable_features(path, features);
}
static inline int rte_vhost_driver_disable_features(const char *path, uint64_t features)
{
	return hp_vhost_driver_disable_features(path, features);
}
static inline int rte_vhost_driver_get_features(const char *path, uint64_t *features)
{
	return hp_vhost_driver_get_features(path, features);
}
static inline int rte_vhost_driver_set_protocol_features(const char *path, uint64_t protocol_features)
{
	return hp_vhost_driver_set_protocol_features(path, protocol_features);
}
static inline int rte_vhost_driver_get_protocol_features(const char *path, uint64_t *protocol_features)
{
	return hp_vhost_driver_get_protocol_features(path, protocol_features);
}
static inline int rte_vhost_driver_get_queue_num(const char *path, uint32_t *queue_num)
{
	return hp_vhost_driver_get_queue_num(path, queue_num);
}
static inline int rte_vhost_driver_set_max_queue_num(const char *path, uint32_t max_queue_pairs)
{
	return hp_vhost_driver_set_max_queue_num(path, max_queue_pairs);
}
/* The ops are copied (into HotPath's layout) when registered. */
static inline int rte_vhost_driver_callback_register(const char *path, struct rte_vhost_device_ops const *const ops)
{
	struct hp_vhost_device_ops h;
	memset(&h, 0, sizeof(h));
	if (ops != NULL) {
		h.new_device = ops->new_device;
		h.destroy_device = ops->destroy_device;
		h.vring_state_changed = ops->vring_state_changed;
		h.features_changed = ops->features_changed;
		h.new_connection = ops->new_connection;
		h.destroy_connection = ops->destroy_connection;
		h.guest_notified = ops->guest_notified;
	}
	return hp_vhost_driver_callback_register(path, ops != NULL ? &h : NULL);
}
static inline int rte_vhost_driver_start(const char *path) { return hp_vhost_driver_start(path); }
static inline int rte_vhost_driver_attach_vdpa_device(const char *path, struct rte_vdpa_device *dev)
{
	(void)path;
	(void)dev;
	return -1;
}
static inline int rte_vhost_driver_detach_vdpa_device(const char *path)
{
	(void)path;
	return -1;
}
static inline struct rte_vdpa_device *rte_vhost_driver_get_vdpa_device(const char *path)
{
	(void)path;
	return NULL;
}

/* ---- device ---- */
static inline int rte_vhost_get_negotiated_features(int vid, uint64_t *features)
{
	return hp_vhost_get_negotiated_features(vid, features);
}
static inline int rte_vhost_get_negotiated_protocol_features(int vid, uint64_t *protocol_features)
{
	return hp_vhost_get_negotiated_protocol_features(vid, protocol_features);
}
static inline int rte_vhost_get_mtu(int vid, uint16_t *mtu) { return hp_vhost_get_mtu(vid, mtu); }
static inline int rte_vhost_get_numa_node(int vid) { return hp_vhost_get_numa_node(vid); }
static inline uint16_t rte_vhost_get_vring_num(int vid) { return hp_vhost_get_vring_num(vid); }
/* Deprecated in DPDK: queue pairs of the device. */
static inline uint32_t rte_vhost_get_queue_num(int vid) { return hp_vhost_get_vring_num(vid) / 2u; }
static inline int rte_vhost_get_ifname(int vid, char *buf, size_t len) { return hp_vhost_get_ifname(vid, buf, len); }
static inline uint16_t rte_vhost_avail_entries(int vid, uint16_t queue_id) { return hp_vhost_avail_entries(vid, queue_id); }
static inline uint32_t rte_vhost_rx_queue_count(int vid, uint16_t qid) { return hp_vhost_rx_queue_count(vid, qid); }
static inline struct rte_vdpa_device *rte_vhost_get_vdpa_device(int vid)
{
	(void)vid;
	return NULL;
}
static inline int rte_vhost_slave_config_change(int vid, bool need_reply)
{
	return hp_vhost_backend_config_change(vid, need_reply);
}
static inline int rte_vhost_extern_callback_register(int vid, struct rte_vhost_user_extern_ops const *const ops,
						     void *ctx)
{
	struct hp_vhost_user_extern_ops h;
	memset(&h, 0, sizeof(h));
	if (ops != NULL) {
		/* Same ABI: int-sized enum results, (int, void *) arguments. */
		h.pre_msg_handle = (hp_vhost_msg_handle)ops->pre_msg_handle;
		h.post_msg_handle = (hp_vhost_msg_handle)ops->post_msg_handle;
	}
	return hp_vhost_extern_callback_register(vid, ops != NULL ? &h : NULL, ctx);
}

/* ---- datapath ---- */
static inline uint16_t rte_vhost_enqueue_burst(int vid, uint16_t queue_id, struct rte_mbuf **pkts, uint16_t count)
{
	return hp_vhost_enqueue_burst(vid, queue_id, pkts, count);
}
static inline uint16_t rte_vhost_dequeue_burst(int vid, uint16_t queue_id, struct rte_mempool *mbuf_pool,
					       struct rte_mbuf **pkts, uint16_t count)
{
	return hp_vhost_dequeue_burst(vid, queue_id, mbuf_pool, pkts, count);
}
static inline int rte_vhost_vring_call(int vid, uint16_t vring_idx) { return hp_vhost_vring_call(vid, vring_idx); }
static inline int rte_vhost_enable_guest_notification(int vid, uint16_t queue_id, int enable)
{
	return hp_vhost_enable_guest_notification(vid, queue_id, enable);
}
static inline int rte_vhost_get_vring_base(int vid, uint16_t queue_id, uint16_t *last_avail_idx, uint16_t *last_used_idx)
{
	return hp_vhost_get_vring_base(vid, queue_id, last_avail_idx, last_used_idx);
}
static inline int rte_vhost_set_vring_base(int vid, uint16_t queue_id, uint16_t last_avail_idx, uint16_t last_used_idx)
{
	return hp_vhost_set_vring_base(vid, queue_id, last_avail_idx, last_used_idx);
}
static inline int rte_vhost_get_vhost_vring(int vid, uint16_t vring_idx, struct rte_vhost_vring *vring)
{
	struct hp_vhost_vring h;
	int rc = hp_vhost_get_vhost_vring(vid, vring_idx, &h);
	if (rc == 0 && vring != NULL) {
		vring->desc = (struct vring_desc *)(void *)h.desc;
		vring->avail = (struct vring_avail *)(void *)h.avail;
		vring->used = (struct vring_used *)(void *)h.used;
		vring->log_guest_addr = h.log_guest_addr;
		vring->callfd = h.callfd;
		vring->kickfd = h.kickfd;
		vring->size = h.size;
	}
	return rc;
}

/* ---- guest memory ---- */
static inline int rte_vhost_get_mem_table(int vid, struct rte_vhost_memory **mem) { return hp_vhost_get_mem_table(vid, mem); }
static inline uint64_t rte_vhost_va_from_guest_pa(struct rte_vhost_memory *mem, uint64_t gpa, uint64_t *len)
{
	return hp_vhost_va_from_guest_pa(mem, gpa, len);
}
/* Deprecated in DPDK (no length check): the host address of gpa, 0 when no region holds it. */
static inline uint64_t rte_vhost_gpa_to_vva(struct rte_vhost_memory *mem, uint64_t gpa)
{
	uint64_t len = 1;
	return hp_vhost_va_from_guest_pa(mem, gpa, &len);
}

/* ---- live migration and inflight ---- */
static inline void rte_vhost_log_write(int vid, uint64_t addr, uint64_t len) { hp_vhost_log_write(vid, addr, len); }
static inline void rte_vhost_log_used_vring(int vid, uint16_t vring_idx, uint64_t offset, uint64_t len)
{
	hp_vhost_log_used_vring(vid, vring_idx, offset, len);
}
static inline int rte_vhost_get_log_base(int vid, uint64_t *log_base, uint64_t *log_size)
{
	return hp_vhost_get_log_base(vid, log_base, log_size);
}
static inline int rte_vhost_get_vhost_ring_inflight(int vid, uint16_t vring_idx, struct rte_vhost_ring_inflight *vring)
{
	return hp_vhost_get_vhost_ring_inflight(vid, vring_idx, vring);
}
static inline int rte_vhost_set_inflight_desc_split(int vid, uint16_t vring_idx, uint16_t idx)
{
	return hp_vhost_set_inflight_desc_split(vid, vring_idx, idx);
}
static inline int rte_vhost_set_inflight_desc_packed(int vid, uint16_t vring_idx, uint16_t head, uint16_t last,
						     uint16_t *inflight_entry)
{
	return hp_vhost_set_inflight_desc_packed(vid, vring_idx, head, last, inflight_entry);
}
static inline int rte_vhost_set_last_inflight_io_split(int vid, uint16_t vring_idx, uint16_t idx)
{
	return hp_vhost_set_last_inflight_io_split(vid, vring_idx, idx);
}
static inline int rte_vhost_set_last_inflight_io_packed(int vid, uint16_t vring_idx, uint16_t head)
{
	return hp_vhost_set_last_inflight_io_packed(vid, vring_idx, head);
}
static inline int rte_vhost_clr_inflight_desc_split(int vid, uint16_t vring_idx, uint16_t last_used_idx, uint16_t idx)
{
	return hp_vhost_clr_inflight_desc_split(vid, vring_idx, last_used_idx, idx);
}
static inline int rte_vhost_clr_inflight_desc_packed(int vid, uint16_t vring_idx, uint16_t head)
{
	return hp_vhost_clr_inflight_desc_packed(vid, vring_idx, head);
}
static inline int rte_vhost_get_vring_base_from_inflight(int vid, uint16_t queue_id, uint16_t *last_avail_idx,
							 uint16_t *last_used_idx)
{
	return hp_vhost_get_vring_base_from_inflight(vid, queue_id, last_avail_idx, last_used_idx);
}

/* ---- statistics ---- */
static inline int rte_vhost_vring_stats_get_names(int vid, uint16_t queue_id, struct rte_vhost_stat_name *name,
						  unsigned int size)
{
	return hp_vhost_vring_stats_get_names(vid, queue_id, name, size);
}
static inline int rte_vhost_vring_stats_get(int vid, uint16_t queue_id, struct rte_vhost_stat *stats, unsigned int n)
{
	return hp_vhost_vring_stats_get(vid, queue_id, stats, n);
}
static inline int rte_vhost_vring_stats_reset(int vid, uint16_t queue_id) { return hp_vhost_vring_stats_reset(vid, queue_id); }

#ifdef __cplusplus
}
#endif

#endif /* HOTPATH_RTE_VHOST_H */
