/* SPDX-License-Identifier: MIT */
/*
 * child.c - compile server processes (child.h).
 *
 * posix_spawn is cheap even when the front end holds much memory.  The
 * child talks over a socket rather than pipes so that our writes can use
 * MSG_NOSIGNAL: a server that dies while we write to it gives EPIPE, never
 * a SIGPIPE that would kill the caller's process, and no signal mask has
 * to be held around a run.
 */
#define _GNU_SOURCE /* SOCK_CLOEXEC */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"

extern char **environ;

pcr_status
pcr_child_spawn(const char *path, char *const argv[], pid_t *pid, int *fd,
                pcr_error *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return pcr_set_errno(err, PCR_ENV, errno, "cannot create a socket");
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
    /* the caller's descriptors without FD_CLOEXEC stay with the caller: a
     * server kept warm for hours must not hold a pipe's end or a lock */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    posix_spawnattr_init(&at);
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(pid, path, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return pcr_set_errno(err, PCR_ENV, rc,
                             "cannot start the compile server %s", path);
    }
    int fl = fcntl(sv[0], F_GETFL);
    if (fl < 0 || fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) != 0) {
        int en = errno;
        kill(*pid, SIGKILL);
        pcr_child_reap(*pid, NULL);
        close(sv[0]);
        return pcr_set_errno(err, PCR_ENV, en, "cannot set up a socket");
    }
    *fd = sv[0];
    return PCR_OK;
}

void
pcr_child_reap(pid_t pid, int *status)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (status != NULL) {
        *status = st;
    }
}

int
pcr_child_exited(pid_t pid, int *status)
{
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR) {
    }
    if (r == pid && status != NULL) {
        *status = st;
    }
    return r == pid;
}

void
pcr_child_reap_within(pid_t pid, double grace, int *status)
{
    struct timespec tick = {0, 2000000}; /* 2 ms */
    for (double waited = 0; waited < grace; waited += 0.002) {
        if (pcr_child_exited(pid, status)) {
            return;
        }
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
    pcr_child_reap(pid, status);
}

void
pcr_child_describe(int status, char *out, size_t size)
{
    if (WIFSIGNALED(status)) {
        snprintf(out, size, "killed by signal %d", WTERMSIG(status));
    } else {
        snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
    }
}

long long
pcr_child_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    /* "pid (comm) state ...": comm may hold spaces and parentheses, so
     * count fields from the last ')'; utime and stime are fields 14, 15 */
    char *p = strrchr(buf, ')');
    long long utime = 0, stime = 0;
    if (p == NULL ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld",
               &utime, &stime) != 2) {
        return -1;
    }
    return utime + stime;
}
