/* Stopping a child process the way a user at the terminal does: shared by hp-fwd --demo (hp-fwd, hp-frontend)
 * and the C tests (dpdk-testpmd as their peer). */
#ifndef HP_FWD_CHILD_H
#define HP_FWD_CHILD_H

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* SIGINT (the child prints its final statistics), then SIGKILL after 10 s. Always reaps; a pid <= 0 is no child. */
static inline void child_stop(pid_t pid)
{
	int status;
	if (pid <= 0)
		return;
	kill(pid, SIGINT);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

#endif
