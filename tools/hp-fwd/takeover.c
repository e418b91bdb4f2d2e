#include "takeover.h"

#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include <hotpath.h>

#include "output.h"

static int g_wakeup_fd = -1;
static atomic_bool g_handed;

void takeover_set_wakeup(int fd) { g_wakeup_fd = fd; }

void takeover_complete(const char *path)
{
	char line[160], c = 'T';
	ssize_t n;
	snprintf(line, sizeof(line), "takeover_complete path=%s", path);
	out_line(line);
	/* The main loop unregisters and exits (this thread is the library's and must not). Any byte wakes it, so a
	 * full pipe already holds the wake-up. */
	atomic_store(&g_handed, true);
	n = write(g_wakeup_fd, &c, 1);
	(void)n;
}

bool takeover_handed(void) { return atomic_load(&g_handed); }

static const char *state_name(uint32_t state)
{
	switch (state) {
	case HP_VHOST_TAKEOVER_NONE: return "none";
	case HP_VHOST_TAKEOVER_TAKEN: return "taken";
	case HP_VHOST_TAKEOVER_HANDED: return "handed";
	case HP_VHOST_TAKEOVER_FALLBACK: return "fallback";
	}
	return "unknown";
}

int takeover_print_info(const char *socket)
{
	struct hp_vhost_takeover_info info;
	char line[192];
	if (hp_vhost_driver_takeover_info(socket, &info) != 0) {
		fprintf(stderr, "hp-fwd: takeover info: %s\n", hp_last_error());
		return -1;
	}
	snprintf(line, sizeof(line), "takeover state=%s devices=%u pause_ns=%llu peer_pid=%d", state_name(info.state),
		 info.devices, (unsigned long long)info.pause_ns, info.peer_pid);
	out_line(line);
	return 0;
}
