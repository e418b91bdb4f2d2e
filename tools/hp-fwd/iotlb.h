/* --iommu: the library's per-vring IOTLB counters (iotlb_hits, iotlb_misses), kept per queue pair across devices. */
#ifndef HP_FWD_IOTLB_H
#define HP_FWD_IOTLB_H

#include <stdint.h>

struct iotlb_figures {
	uint64_t hits, misses;
};

/* Device vid is going (destroy_device, with --vring-stats or --iommu): prints a vring_stats line per vring; adds what its vrings counted since its previous call to the queue pairs'
 * totals (a vid's vrings keep counting across resets of the same connection). */
void iotlb_device_gone(int vid, unsigned nr_qp);
/* Queue pair qp's totals over the devices gone so far. */
struct iotlb_figures iotlb_queue(unsigned qp);

#endif
