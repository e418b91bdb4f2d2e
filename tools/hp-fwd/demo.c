#include "demo.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * The demo needs hp-frontend (tools/HotPath.Frontend.Cli: HotPath's C# virtio frontend as a traffic generator),
 * which is not in this build yet, so the demo says so and fails instead of showing numbers it did not measure.
 */
int run_demo(const char *argv0, unsigned seconds)
{
	char exe[PATH_MAX], frontend[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	(void)argv0;
	(void)seconds;
	if (n <= 0)
		n = 0;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash != NULL)
		slash[1] = '\0';
	snprintf(frontend, sizeof(frontend), "%shp-frontend", exe);
	fprintf(stderr,
		"hp-fwd --demo: not available in this build: it needs %s (HotPath's own frontend as a traffic\n"
		"generator, tools/HotPath.Frontend.Cli), which has not been built yet. Use a real peer meanwhile, e.g.\n"
		"  hp-fwd --socket /tmp/hp.sock --mode io &\n"
		"  ../shared/interop/virtio-user-peer.sh /tmp/hp.sock txonly 10\n",
		frontend);
	return 1;
}
