/*
 * hp-blk: a vhost-user-blk backend on HotPath's generic-device API. It serves a file as a virtio-blk disk (IN, OUT,
 * FLUSH, GET_ID) on split rings, driving the virtqueue itself through hp_vhost_get_vhost_vring,
 * hp_vhost_va_from_guest_pa and hp_vhost_vring_call; it tracks every request in the inflight area
 * (hp_vhost_*_inflight_*) so that a restarted hp-blk resubmits what a killed one had not finished; it answers
 * GET_CONFIG (struct virtio_blk_config) from a message hook and tells the frontend when the file grows or shrinks
 * (hp_vhost_backend_config_change). While live migration logs dirty pages it logs its own writes.
 *
 *   hp-blk --socket PATH --file FILE [--client] [--io-delay-ms N]
 *   SIGUSR1: config-change notification without reply; SIGUSR2: with reply; SIGINT/SIGTERM: stop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hotpath.h>

#define SECTOR 512u
#define MAX_SEGS 128            /* pieces of one request (descriptors, split further at region ends) */
#define SEG_MAX (MAX_SEGS - 2)  /* data segments advertised (seg_max): header and status take two */

/* virtio-blk (virtio 1.2 section 5.2) */
#define VIRTIO_BLK_F_SEG_MAX  2
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH    9
#define VIRTIO_BLK_T_IN       0
#define VIRTIO_BLK_T_OUT      1
#define VIRTIO_BLK_T_FLUSH    4
#define VIRTIO_BLK_T_GET_ID   8
#define VIRTIO_BLK_S_OK       0
#define VIRTIO_BLK_S_IOERR    1
#define VIRTIO_BLK_S_UNSUPP   2
#define VIRTIO_BLK_ID_BYTES   20

#define VHOST_USER_GET_CONFIG 24
#define VHOST_USER_SET_CONFIG 25

struct blk_outhdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};

/* struct virtio_blk_config up to num_queues (little-endian on x86). */
struct blk_config {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
} __attribute__((packed));	/* 36 bytes: the virtio layout has no tail padding */
_Static_assert(sizeof(struct blk_config) == 36, "virtio_blk_config through num_queues");

struct seg {
	uint8_t *host;
	uint64_t gpa;
	uint32_t len;
	int writable;
};

static const char *g_path;
static int g_file = -1;
static unsigned g_io_delay_ms;
static _Atomic uint64_t g_capacity;     /* sectors */
static atomic_int g_vid = -1;           /* the running device, -1: none */
static atomic_int g_stop_worker;
static pthread_t g_worker;
static volatile sig_atomic_t g_signal;

/* ---- the virtqueue (queue 0), as the worker thread sees it ---- */

struct queue {
	int vid;
	struct hp_vhost_vring vr;
	struct hp_vhost_memory *mem;
	struct hp_vhost_ring_inflight inflight;
	int tracked;            /* an inflight region covers the queue */
	uint16_t last_avail;
};

/* Negotiated features; VHOST_F_LOG_ALL changes at run time (features_changed) and the worker reads it per request. */
static _Atomic uint64_t g_features;
#define LOGGING() HP_VHOST_NEED_LOG(atomic_load(&g_features))

static struct queue g_q;

/* Guest-physical range -> pieces in host memory; a range crossing regions becomes several pieces. */
static int add_segment(struct queue *q, struct seg *segs, int *n, uint64_t gpa, uint32_t len, int writable)
{
	while (len > 0) {
		uint64_t got = len;
		uint64_t va = hp_vhost_va_from_guest_pa(q->mem, gpa, &got);
		if (va == 0 || got == 0 || *n == MAX_SEGS)
			return -1;
		segs[*n] = (struct seg){ (uint8_t *)(uintptr_t)va, gpa, (uint32_t)got, writable };
		(*n)++;
		gpa += got;
		len -= (uint32_t)got;
	}
	return 0;
}

/* Walks the chain at head (direct or one indirect table), every index and length bounded. */
static int walk_chain(struct queue *q, uint16_t head, struct seg *segs, int *n)
{
	struct hp_vring_desc *table = q->vr.desc;
	uint32_t limit = q->vr.size, i = head, hops = 0;
	struct hp_vring_desc d;

	*n = 0;
	if (head >= limit)
		return -1;
	d = table[head];
	if (d.flags & HP_VRING_DESC_F_INDIRECT) {
		uint64_t got = d.len;
		if (d.len == 0 || d.len % sizeof(d) != 0 || (d.flags & HP_VRING_DESC_F_NEXT))
			return -1;
		table = (struct hp_vring_desc *)(uintptr_t)hp_vhost_va_from_guest_pa(q->mem, d.addr, &got);
		if (table == NULL || got != d.len)
			return -1;
		limit = d.len / sizeof(d);
		i = 0;
		d = table[0];
	}
	for (;;) {
		if (++hops > limit || (d.flags & HP_VRING_DESC_F_INDIRECT))
			return -1;
		if (add_segment(q, segs, n, d.addr, d.len, (d.flags & HP_VRING_DESC_F_WRITE) != 0) != 0)
			return -1;
		if (!(d.flags & HP_VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= limit)
			return -1;
		d = table[i];
	}
}

/* Copies between the file and the data segments [first, last) in file order. -1 on an I/O error. */
static int file_io(struct seg *segs, int first, int last, uint64_t offset, int to_guest)
{
	for (int k = first; k < last; k++) {
		uint32_t done = 0;
		while (done < segs[k].len) {
			ssize_t r = to_guest ? pread(g_file, segs[k].host + done, segs[k].len - done, (off_t)(offset + done))
					     : pwrite(g_file, segs[k].host + done, segs[k].len - done, (off_t)(offset + done));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -1;
			if (r == 0) { /* past the end of the file: zeros, as a disk of this capacity reads */
				if (!to_guest)
					return -1;
				memset(segs[k].host + done, 0, segs[k].len - done);
				break;
			}
			done += (uint32_t)r;
		}
		offset += segs[k].len;
	}
	return 0;
}

/* Live migration: the pages this request wrote into the guest are marked dirty. */
static void log_writes(struct queue *q, struct seg *segs, int first, int last)
{
	if (!LOGGING())
		return;
	for (int k = first; k < last; k++)
		hp_vhost_log_write(q->vid, segs[k].gpa, segs[k].len);
}

/* Serves one request; returns the bytes written into the guest (the used length). */
static uint32_t serve(struct queue *q, uint16_t head)
{
	struct seg segs[MAX_SEGS];
	struct blk_outhdr h;
	int n, data_first, data_last;
	uint32_t data_len = 0, written;
	uint8_t status = VIRTIO_BLK_S_OK;

	if (walk_chain(q, head, segs, &n) != 0 || n < 2 || segs[0].writable || segs[0].len < sizeof(h) ||
	    !segs[n - 1].writable || segs[n - 1].len < 1)
		return 0; /* not a request: returned unused, length 0 */
	memcpy(&h, segs[0].host, sizeof(h));   /* read once; everything below uses the copy */
	/* Data: between the header and the status byte (a header or status descriptor longer than needed is not data). */
	data_first = 1;
	data_last = n - 1;
	if (segs[0].len > sizeof(h) || segs[n - 1].len > 1)
		return 0;   /* this backend wants header and status in descriptors of their own (as every driver does) */
	for (int k = data_first; k < data_last; k++) {
		if (segs[k].writable != (h.type == VIRTIO_BLK_T_IN || h.type == VIRTIO_BLK_T_GET_ID))
			return 0;
		data_len += segs[k].len;
	}
	if (g_io_delay_ms)
		usleep(g_io_delay_ms * 1000u);

	written = 0;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		uint64_t cap = atomic_load(&g_capacity);
		if (data_len % SECTOR != 0 || h.sector > cap || data_len / SECTOR > cap - h.sector) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (file_io(segs, data_first, data_last, h.sector * SECTOR, h.type == VIRTIO_BLK_T_IN) != 0) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (h.type == VIRTIO_BLK_T_IN) {
			written = data_len;
			log_writes(q, segs, data_first, data_last);
		}
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		status = fdatasync(g_file) == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		char id[32];
		uint32_t left = VIRTIO_BLK_ID_BYTES;   /* the serial: 20 bytes, NUL-padded */
		memset(id, 0, sizeof(id));
		snprintf(id, sizeof(id), "hp-blk-%ld", (long)getpid());
		for (int k = data_first; k < data_last && left > 0; k++) {
			uint32_t c = segs[k].len < left ? segs[k].len : left;
			memcpy(segs[k].host, id + (VIRTIO_BLK_ID_BYTES - left), c);
			left -= c;
			written += c;
		}
		log_writes(q, segs, data_first, data_last);
		break;
	}
	default:
		status = VIRTIO_BLK_S_UNSUPP;
	}
	*segs[n - 1].host = status;
	log_writes(q, segs, n - 1, n);
	return written + 1;
}

/*
 * Completes head: in the inflight area first (the head joins the batch about to be published), then the used entry
 * and used.idx (release: the data and status above are visible before it), then the area learns the batch is done.
 * A kill anywhere in between is repaired when the next hp-blk starts the ring.
 */
static void complete(struct queue *q, uint16_t head, uint32_t len)
{
	struct hp_vring_used *used = q->vr.used;
	uint16_t idx = used->idx;   /* only this thread writes it */
	uint16_t slot = idx & (q->vr.size - 1);

	if (q->tracked)
		hp_vhost_set_last_inflight_io_split(q->vid, 0, head);
	used->ring[slot].id = head;
	used->ring[slot].len = len;
	__atomic_store_n(&used->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
	if (LOGGING()) {
		hp_vhost_log_used_vring(q->vid, 0, offsetof(struct hp_vring_used, ring) + slot * sizeof(used->ring[0]),
					sizeof(used->ring[0]));
		hp_vhost_log_used_vring(q->vid, 0, offsetof(struct hp_vring_used, idx), sizeof(used->idx));
	}
	if (q->tracked)
		hp_vhost_clr_inflight_desc_split(q->vid, 0, (uint16_t)(idx + 1), head);
	hp_vhost_vring_call(q->vid, 0); /* honours EVENT_IDX / NO_INTERRUPT; a full barrier */
}

static void *worker(void *arg)
{
	struct queue *q = arg;
	struct hp_vhost_resubmit_info *re = q->tracked ? q->inflight.resubmit_inflight : NULL;

	/* What a killed hp-blk took and did not finish, oldest (lowest counter, last in the list) first. */
	if (re != NULL && re->resubmit_list != NULL) {
		for (int k = re->resubmit_num - 1; k >= 0; k--) {
			uint16_t head = re->resubmit_list[k].index;
			complete(q, head, serve(q, head));
		}
		printf("resubmitted %u requests\n", (unsigned)re->resubmit_num);
		fflush(stdout);
		re->resubmit_num = 0;
	}
	while (!atomic_load(&g_stop_worker)) {
		/* Acquire: the avail entries and descriptors behind this index are read after it. */
		uint16_t avail = __atomic_load_n(&q->vr.avail->idx, __ATOMIC_ACQUIRE);
		if (avail == q->last_avail) {
			usleep(50);
			continue;
		}
		if ((uint16_t)(avail - q->last_avail) > q->vr.size) {
			fprintf(stderr, "hp-blk: avail index jumped by more than the ring size; ring stopped\n");
			break;
		}
		while (q->last_avail != avail && !atomic_load(&g_stop_worker)) {
			uint16_t head = __atomic_load_n(&q->vr.avail->ring[q->last_avail & (q->vr.size - 1)], __ATOMIC_RELAXED);
			if (q->tracked)
				hp_vhost_set_inflight_desc_split(q->vid, 0, head);
			q->last_avail++;
			complete(q, head, serve(q, head));
		}
	}
	return NULL;
}

/* ---- device callbacks ---- */

static enum hp_vhost_msg_result pre_message(int vid, void *msg)
{
	uint32_t *hdr = msg;
	uint8_t *payload = (uint8_t *)msg + 12;
	uint32_t offset, size;
	struct blk_config cfg;
	(void)vid;

	if (hdr[0] == VHOST_USER_SET_CONFIG)
		return HP_VHOST_MSG_RESULT_OK; /* nothing writable in this config space: accepted, ignored */
	if (hdr[0] != VHOST_USER_GET_CONFIG)
		return HP_VHOST_MSG_RESULT_NOT_HANDLED;
	memcpy(&offset, payload, 4);
	memcpy(&size, payload + 4, 4);
	/* The library checked size <= 256 and offset + size inside the config space and the payload. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = atomic_load(&g_capacity);
	cfg.seg_max = SEG_MAX;
	cfg.blk_size = SECTOR;
	cfg.num_queues = 1;
	memset(payload + 12, 0, size);
	if (offset < sizeof(cfg))
		memcpy(payload + 12, (uint8_t *)&cfg + offset, size < sizeof(cfg) - offset ? size : sizeof(cfg) - offset);
	return HP_VHOST_MSG_RESULT_REPLY;
}

static const struct hp_vhost_user_extern_ops extern_ops = { .pre_msg_handle = pre_message };

static int new_connection(int vid)
{
	return hp_vhost_extern_callback_register(vid, &extern_ops, NULL);
}

static int new_device(int vid)
{
	struct queue *q = &g_q;
	uint16_t last_used;

	memset(q, 0, sizeof(*q));
	q->vid = vid;
	uint64_t features = 0;
	if (hp_vhost_get_negotiated_features(vid, &features) != 0 || (features & (1ULL << HP_VIRTIO_F_RING_PACKED)) ||
	    hp_vhost_get_mem_table(vid, &q->mem) != 0 || hp_vhost_get_vhost_vring(vid, 0, &q->vr) != 0 ||
	    hp_vhost_get_vring_base(vid, 0, &q->last_avail, &last_used) != 0) {
		fprintf(stderr, "hp-blk: device %d: %s\n", vid, hp_last_error());
		free(q->mem);
		q->mem = NULL;
		return -1;
	}
	atomic_store(&g_features, features);
	q->tracked = hp_vhost_get_vhost_ring_inflight(vid, 0, &q->inflight) == 0;
	atomic_store(&g_stop_worker, 0);
	if (pthread_create(&g_worker, NULL, worker, q) != 0) {
		free(q->mem);
		q->mem = NULL;
		return -1;
	}
	atomic_store(&g_vid, vid);
	printf("device %d started (inflight %s)\n", vid, q->tracked ? "tracked" : "not tracked");
	fflush(stdout);
	return 0;
}

/* Stops the worker before the library changes the ring; the ring base goes back for GET_VRING_BASE. */
static void destroy_device(int vid)
{
	struct queue *q = &g_q;
	if (atomic_load(&g_vid) != vid)
		return;
	atomic_store(&g_vid, -1);
	atomic_store(&g_stop_worker, 1);
	pthread_join(g_worker, NULL);
	hp_vhost_set_vring_base(vid, 0, q->last_avail, __atomic_load_n(&q->vr.used->idx, __ATOMIC_RELAXED));
	free(q->mem);
	q->mem = NULL;
	printf("device %d stopped\n", vid);
	fflush(stdout);
}

static int features_changed(int vid, uint64_t features)
{
	(void)vid;
	atomic_store(&g_features, features); /* VHOST_F_LOG_ALL on or off */
	return 0;
}

/* ---- main ---- */

static void on_signal(int sig) { g_signal = sig; }

static void notify_config_change(int need_reply)
{
	int vid = atomic_load(&g_vid);
	int rc = vid < 0 ? -ENODEV : hp_vhost_backend_config_change(vid, need_reply != 0);
	printf("config change (need_reply %d): %d%s%s\n", need_reply, rc, rc != 0 ? " " : "", rc != 0 ? hp_last_error() : "");
	fflush(stdout);
}

static uint64_t file_sectors(void)
{
	struct stat st;
	return fstat(g_file, &st) == 0 ? (uint64_t)st.st_size / SECTOR : 0;
}

int main(int argc, char **argv)
{
	static const struct hp_vhost_device_ops ops = {
		.new_device = new_device, .destroy_device = destroy_device, .features_changed = features_changed,
		.new_connection = new_connection,
	};
	const uint64_t features = (1ULL << HP_VIRTIO_F_VERSION_1) | (1ULL << HP_VHOST_USER_F_PROTOCOL_FEATURES) |
				  (1ULL << HP_VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << HP_VIRTIO_RING_F_EVENT_IDX) |
				  (1ULL << HP_VHOST_F_LOG_ALL) | (1ULL << VIRTIO_BLK_F_SEG_MAX) |
				  (1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_FLUSH);
	const uint64_t protocol = (1ULL << HP_VHOST_USER_PROTOCOL_F_MQ) | (1ULL << HP_VHOST_USER_PROTOCOL_F_LOG_SHMFD) |
				  (1ULL << HP_VHOST_USER_PROTOCOL_F_REPLY_ACK) |
				  (1ULL << HP_VHOST_USER_PROTOCOL_F_BACKEND_REQ) | (1ULL << HP_VHOST_USER_PROTOCOL_F_CONFIG) |
				  (1ULL << HP_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD) |
				  (1ULL << HP_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
	const char *file = NULL;
	uint64_t flags = 0;
	struct sigaction sa;

	hp_log_set_stream(stderr); /* the library writes no log line unless asked */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			g_path = argv[++i];
		else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "--client") == 0)
			flags |= HP_VHOST_USER_CLIENT;
		else if (strcmp(argv[i], "--io-delay-ms") == 0 && i + 1 < argc)
			g_io_delay_ms = (unsigned)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: hp-blk --socket PATH --file FILE [--client] [--io-delay-ms N]\n");
			return 2;
		}
	}
	if (g_path == NULL || file == NULL) {
		fprintf(stderr, "usage: hp-blk --socket PATH --file FILE [--client] [--io-delay-ms N]\n");
		return 2;
	}
	g_file = open(file, O_RDWR | O_CLOEXEC);
	if (g_file < 0) {
		perror(file);
		return 1;
	}
	atomic_store(&g_capacity, file_sectors());

	/* Handlers before the library (see hp-fwd's main.c: the runtime hands unclaimed signals back to them). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);

	if (hp_vhost_driver_register(g_path, flags) != 0 || hp_vhost_driver_set_features(g_path, features) != 0 ||
	    hp_vhost_driver_set_protocol_features(g_path, protocol) != 0 ||
	    hp_vhost_driver_set_max_queue_num(g_path, 1) != 0 || hp_vhost_driver_callback_register(g_path, &ops) != 0 ||
	    hp_vhost_driver_start(g_path) != 0) {
		fprintf(stderr, "hp-blk: %s\n", hp_last_error());
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	printf("hp-blk: %s %s, %s: %llu sectors\n", flags ? "connecting to" : "serving", g_path, file,
	       (unsigned long long)atomic_load(&g_capacity));
	fflush(stdout);

	/* The main thread watches the file's size (a resize is a config change) and the signals. */
	for (;;) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		uint64_t sectors;
		int sig;
		nanosleep(&ts, NULL);
		sig = g_signal;
		g_signal = 0;
		if (sig == SIGINT || sig == SIGTERM)
			break;
		if (sig == SIGUSR1 || sig == SIGUSR2)
			notify_config_change(sig == SIGUSR2);
		sectors = file_sectors();
		if (sectors != atomic_load(&g_capacity)) {
			atomic_store(&g_capacity, sectors);
			printf("capacity %llu sectors\n", (unsigned long long)sectors);
			notify_config_change(1);
		}
	}
	hp_vhost_driver_unregister(g_path);
	close(g_file);
	return 0;
}
