/* Hitless upgrade (issue 18): hp-fwd --takeover takes a running hp-fwd's devices over; every hp-fwd serves
 * takeovers (HP_VHOST_USER_TAKEOVER_ALLOW) and exits, with its final summary, once its devices were handed over. */
#ifndef HP_FWD_TAKEOVER_H
#define HP_FWD_TAKEOVER_H

#include <stdbool.h>

/* Where takeover_complete wakes the main loop: the write end of its (non-blocking) wake-up pipe. */
void takeover_set_wakeup(int fd);

/* takeover_complete callback (control thread): prints "takeover_complete path=P", marks the devices handed over
 * and wakes the main loop. */
void takeover_complete(const char *path);

/* True once takeover_complete came: the main loop then unregisters, prints its summary and exits 0. */
bool takeover_handed(void);

/* Prints "takeover state=S devices=N pause_ns=N peer_pid=P" from hp_vhost_driver_takeover_info (the state as none,
 * taken, handed or fallback). 0, or -1 with the library's error on stderr. */
int takeover_print_info(const char *socket);

#endif
