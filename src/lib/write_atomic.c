/* SPDX-License-Identifier: MIT */
/*
 * write_atomic.c - putting a file in place so that a reader, a crash or a
 * kill never sees half of it: write a temporary file in the target's
 * directory, then rename(2) over the target (importlib's _write_atomic).
 * The one writer serves .pyc files and archives alike.
 *
 * The temporary file is TARGET.PID.N.tmp, created O_EXCL|O_NOFOLLOW, so
 * nobody can plant a symlink there; the target is refused if it is a
 * symlink or not a regular file, checked before and again just before
 * the rename.  The usual termination signals are held back while the
 * temporary file of a .pyc exists, so an interrupted run leaves neither a
 * truncated .pyc nor a stray temporary file; a SIGKILL can leave one,
 * which pcr_clean_stale_temps removes once its process is gone and it is
 * an hour old.
 */
#define _GNU_SOURCE /* O_CLOEXEC, O_NOFOLLOW with strndup */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"

/* The helpers take the directory path is relative to: AT_FDCWD, or the
 * cache's bucket, opened without following a symlink (cache_dir.c). */
static pcr_status
check_target(int dir, const char *path, pcr_error *err)
{
    struct stat st;
    if (fstatat(dir, path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return PCR_OK; /* ENOTDIR: ensure_dir explains it */
        }
        return pcr_set_errno(err, PCR_FAIL, errno, "cannot stat %s", path);
    }
    if (S_ISLNK(st.st_mode)) {
        return pcr_set_error(err, PCR_FAIL,
                             "%s is a symlink; refusing to replace it", path);
    }
    if (!S_ISREG(st.st_mode)) {
        return pcr_set_error(
            err, PCR_FAIL,
            "%s exists and is not a regular file; refusing to replace it",
            path);
    }
    return PCR_OK;
}

pcr_status
pcr_check_target(const char *path, pcr_error *err)
{
    return check_target(AT_FDCWD, path, err);
}

static pcr_status
ensure_dir(int at, const char *path, pcr_error *err)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path) {
        return PCR_OK;
    }
    char *dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    pcr_status rc = PCR_OK;
    struct stat st;
    if (mkdirat(at, dir, 0777) != 0) {
        int e = errno;
        if (e != EEXIST) {
            rc = pcr_set_errno(err, PCR_FAIL, e, "cannot create %s", dir);
        } else if (fstatat(at, dir, &st, 0) != 0 || !S_ISDIR(st.st_mode)) {
            rc = pcr_set_error(err, PCR_FAIL,
                               "%s exists and is not a directory", dir);
        }
    }
    free(dir);
    return rc;
}

/* Hold back the termination signals while a temporary file exists. */
static void
block_signals(sigset_t *saved)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &block, saved);
}

static int
temp_name(char *tmp, size_t size, const char *path)
{
    /* shared by every thread: atomic, so two never make the same name */
    static atomic_ulong counter;
    unsigned long k = atomic_fetch_add(&counter, 1);
    int n = snprintf(tmp, size, "%s.%ld.%lu.tmp", path, (long)getpid(), k);
    return n >= 0 && (size_t)n < size;
}

/* Create a fresh temporary file beside path; *why: errno of a failure. */
static pcr_status
try_create_temp(int dir, const char *path, int mode, char *tmp, size_t size,
                int *fd, int *why, pcr_error *err)
{
    *fd = -1;
    *why = 0;
    for (int tries = 0; tries < 100; tries++) {
        if (!temp_name(tmp, size, path)) {
            return pcr_set_error(err, PCR_FAIL, "path too long: %s", path);
        }
        *fd = openat(dir, tmp,
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     mode & 0666);
        if (*fd >= 0) {
            return PCR_OK;
        }
        if (errno != EEXIST) {
            *why = errno;
            return pcr_set_errno(err, PCR_FAIL, errno, "cannot create %s",
                                 tmp);
        }
    }
    return pcr_set_error(err, PCR_FAIL,
                         "cannot create a temporary file beside %s", path);
}

/* The directory is made only when the file cannot be created without it:
 * it nearly always exists, and mkdir + stat were two of a warm-cache
 * write's eleven system calls. */
static pcr_status
create_temp(int dir, const char *path, int mode, char *tmp, size_t size,
            int *fd, pcr_error *err)
{
    int why;
    pcr_status rc = try_create_temp(dir, path, mode, tmp, size, fd, &why, err);
    if (rc != PCR_OK && (why == ENOENT || why == ENOTDIR)) {
        rc = ensure_dir(dir, path, err);
        if (rc == PCR_OK) {
            rc = try_create_temp(dir, path, mode, tmp, size, fd, &why, err);
        }
    }
    return rc;
}

/* Final step: re-check the target (it may have been replaced by a
 * symlink or a device meanwhile), then rename. */
static pcr_status
put_in_place(int dir, const char *tmp, const char *path, pcr_error *err)
{
    pcr_status rc = check_target(dir, path, err);
    if (rc == PCR_OK && renameat(dir, tmp, dir, path) != 0) {
        rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot rename to %s", path);
    }
    if (rc != PCR_OK) {
        unlinkat(dir, tmp, 0);
    }
    return rc;
}

/* An existing file rewritten in place keeps its mode, owner and group. */
static pcr_status
keep_owner(int fd, int dir, const char *path, pcr_error *err)
{
    struct stat st;
    if (fstatat(dir, path, &st, 0) != 0) {
        return PCR_OK;
    }
    if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
        fchown(fd, st.st_uid, st.st_gid) != 0) {
        return pcr_set_errno(err, PCR_FAIL, errno,
                             "cannot keep the owner of %s", path);
    }
    return PCR_OK;
}

pcr_status
pcr_write_atomic_at(int dir, const char *path, const unsigned char *data,
                    size_t len, int mode, pcr_error *err)
{
    int exact = (mode & PCR_EXACT_MODE) != 0;
    pcr_status rc = check_target(dir, path, err);
    if (rc != PCR_OK) {
        return rc;
    }
    sigset_t saved;
    block_signals(&saved);
    char tmp[PATH_MAX];
    int fd;
    rc = create_temp(dir, path, mode, tmp, sizeof tmp, &fd, err);
    if (rc == PCR_OK) {
        if (pcr_fd_transfer(fd, (void *)data, len, 1) != 0 ||
            (exact && fchmod(fd, (mode_t)(mode & 07777)) != 0)) {
            rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot write %s", tmp);
        } else if (exact) {
            rc = keep_owner(fd, dir, path, err);
        }
        if (close(fd) != 0 && rc == PCR_OK) {
            rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot write %s", tmp);
        }
        rc = rc == PCR_OK ? put_in_place(dir, tmp, path, err)
                          : (unlinkat(dir, tmp, 0), rc);
    }
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return rc;
}

pcr_status
pcr_write_atomic(const char *path, const unsigned char *data, size_t len,
                 int mode, pcr_error *err)
{
    return pcr_write_atomic_at(AT_FDCWD, path, data, len, mode, err);
}

pcr_status
pcr_temp_open(const char *path, int mode, char **tmp, int *fd, pcr_error *err)
{
    *tmp = NULL;
    pcr_status rc = pcr_check_target(path, err);
    char name[PATH_MAX];
    if (rc == PCR_OK) {
        rc = create_temp(AT_FDCWD, path, mode, name, sizeof name, fd, err);
    }
    if (rc == PCR_OK && (*tmp = strdup(name)) == NULL) {
        close(*fd);
        unlink(name);
        rc = pcr_set_error(err, PCR_ENV, "out of memory");
    }
    return rc;
}

pcr_status
pcr_temp_commit(const char *tmp, const char *path, pcr_error *err)
{
    return put_in_place(AT_FDCWD, tmp, path, err);
}

void
pcr_temp_abort(const char *tmp)
{
    if (tmp != NULL) {
        unlink(tmp);
    }
}

pcr_status
pcr_link_atomic(const char *existing, const char *path, pcr_error *err)
{
    pcr_status rc = pcr_check_target(path, err);
    if (rc != PCR_OK) {
        return rc;
    }
    sigset_t saved;
    block_signals(&saved);
    char tmp[PATH_MAX];
    int done = 0;
    for (int tries = 0; tries < 100 && !done && rc == PCR_OK; tries++) {
        if (!temp_name(tmp, sizeof tmp, path)) {
            rc = pcr_set_error(err, PCR_FAIL, "path too long: %s", path);
        } else if (link(existing, tmp) == 0) {
            done = 1;
        } else if (errno != EEXIST) {
            rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot link %s to %s",
                               tmp, existing);
        }
    }
    if (rc == PCR_OK) {
        rc = done ? put_in_place(AT_FDCWD, tmp, path, err)
                  : pcr_set_error(err, PCR_FAIL,
                                  "cannot create a temporary link beside %s",
                                  path);
    }
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return rc;
}

/* NAME.PID.N.tmp whose PID is no longer a process: left by a SIGKILL.
 * Only names whose NAME ends with stem (".pyc", or an archive's own
 * name), regular files we own, only when kill(PID, 0) says no such
 * process, and only when older than PCR_STALE_TEMP_SECONDS: a PID of
 * another PID namespace (a container, an NFS client sharing the tree)
 * is no process here, though its writer is busy with the file. */
void
pcr_clean_stale_temps(const char *dir, const char *stem)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 9 || strcmp(e->d_name + n - 4, ".tmp") != 0) {
            continue;
        }
        /* ... .PID.N.tmp: walk back over N and PID */
        const char *end = e->d_name + n - 4, *p = end;
        while (p > e->d_name && p[-1] >= '0' && p[-1] <= '9') {
            p--;
        }
        if (p == end || p == e->d_name || p[-1] != '.') {
            continue;
        }
        const char *q = p - 1;
        while (q > e->d_name && q[-1] >= '0' && q[-1] <= '9') {
            q--;
        }
        if (q == p - 1 || q == e->d_name || q[-1] != '.') {
            continue;
        }
        size_t before = (size_t)(q - 1 - e->d_name), sl = strlen(stem);
        if (before < sl || strncmp(q - 1 - sl, stem, sl) != 0) {
            continue;
        }
        long pid = strtol(q, NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 ||
            errno != ESRCH) {
            continue;
        }
        struct stat st;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >=
                (int)sizeof path ||
            lstat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
            st.st_uid != geteuid() ||
            time(NULL) - st.st_mtime <= PCR_STALE_TEMP_SECONDS) {
            continue;
        }
        unlink(path);
    }
    closedir(d);
}
