/* SPDX-License-Identifier: MIT */
/*
 * child.h - child processes (child.c): a compile server started with
 * posix_spawn, its stdin and stdout one end of a socket pair; reaping it;
 * saying how it ended; and the CPU time it has used (for the watchdog).
 */
#ifndef PCR_CHILD_H
#define PCR_CHILD_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include <sys/types.h>

#include "common.h"

/* Start path with argv; *fd is our end of the socket (non-blocking,
 * close-on-exec).  The child gets an empty signal mask and SIGPIPE at its
 * default, whatever the caller's thread has, and no descriptor of the
 * caller's but the socket (as stdin and stdout) and stderr. */
pcr_status pcr_child_spawn(const char *path, char *const argv[], pid_t *pid,
                           int *fd, pcr_error *err);
/* Wait for it (EINTR retried); *status as waitpid gives it. */
void pcr_child_reap(pid_t pid, int *status);
/* Wait at most grace seconds for it to exit by itself, then kill it. */
void pcr_child_reap_within(pid_t pid, double grace, int *status);
/* Has it exited (reaped now, *status filled)?  Never waits. */
int pcr_child_exited(pid_t pid, int *status);
/* "exited with status 3", "killed by signal 9" */
void pcr_child_describe(int status, char *out, size_t size);
/* User + system CPU time it has used, in clock ticks; -1 if unknown. */
long long pcr_child_cpu_ticks(pid_t pid);

#endif
