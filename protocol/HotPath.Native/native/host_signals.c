/*
 * Linked into libhotpath.so. The NativeAOT runtime sets SIGPIPE to SIG_IGN when it starts (on the first call into
 * the library); a library must not change its host process's signal dispositions. The constructor runs when the
 * library is loaded, before the runtime starts, and saves the host's SIGPIPE disposition; the managed module
 * initializer (HostProcess.cs) puts it back once the runtime is up. HotPath itself never needs SIGPIPE ignored: its
 * socket sends use MSG_NOSIGNAL.
 */
#include <signal.h>
#include <stddef.h>

static struct sigaction saved_sigpipe;
static int saved;

__attribute__((constructor)) static void hp_save_host_signals(void)
{
	saved = sigaction(SIGPIPE, NULL, &saved_sigpipe) == 0;
}

__attribute__((visibility("hidden"))) int hp_internal_restore_host_signals(void)
{
	return saved ? sigaction(SIGPIPE, &saved_sigpipe, NULL) : -1;
}
