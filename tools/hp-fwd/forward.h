/* Devices and their forwarding threads: one polling thread per queue pair, started by new_device and joined
 * before destroy_device returns (an atomic per-device state, as DPDK's examples keep). */
#ifndef HP_FWD_FORWARD_H
#define HP_FWD_FORWARD_H

#include <hotpath.h>

#include "options.h"

/* Creates the mbuf pool and the txonly frame, and remembers the options. 0, or -1 with a message on stderr. */
int forward_init(const struct fwd_options *o);

/* The device callbacks to register for the socket. */
const struct hp_vhost_device_ops *forward_ops(void);

/* Seconds during which at least one device was running (new_device to destroy_device), so far. */
double forward_active_seconds(void);

/* Stops every running device (normally already stopped by unregister) and frees the pool. */
void forward_fini(void);

#endif
