/*
 * write_atomic.c - putting a file in place so that a reader, a crash or a
 * kill never sees half of it: write a temporary file in the target's
 * directory, then rename(2) over the target (importlib's _write_atomic).
 * The usual termination signals are held back during the short window in
 * which the temporary file exists, so an interrupted run leaves neither a
 * truncated .pyc nor a stray temporary file (SIGKILL aside, which can at
 * worst leave a temporary file, never a truncated .pyc).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcr_private.h"

static pcr_status
check_target(const char *path, pcr_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
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

static pcr_status
ensure_dir(const char *path, pcr_error *err)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path) {
        return PCR_OK;
    }
    size_t n = (size_t)(slash - path);
    char *dir = strndup(path, n);
    if (dir == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    pcr_status rc = PCR_OK;
    struct stat st;
    if (mkdir(dir, 0777) != 0) {
        int e = errno;
        if (e != EEXIST) {
            rc = pcr_set_errno(err, PCR_FAIL, e, "cannot create %s", dir);
        } else if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
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
    static unsigned long counter;
    int n =
        snprintf(tmp, size, "%s.%ld.%lu.tmp", path, (long)getpid(), counter++);
    return n >= 0 && (size_t)n < size;
}

/* Final step shared by both writers: re-check the target (it may have
 * been replaced by a symlink or a directory meanwhile), then rename. */
static pcr_status
put_in_place(const char *tmp, const char *path, pcr_error *err)
{
    pcr_status rc = check_target(path, err);
    if (rc == PCR_OK && rename(tmp, path) != 0) {
        rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot rename to %s", path);
    }
    if (rc != PCR_OK) {
        unlink(tmp);
    }
    return rc;
}

static pcr_status
write_file(const char *path, const unsigned char *data, size_t len,
           mode_t mode, int exact_mode, pcr_error *err)
{
    pcr_status rc = check_target(path, err);
    if (rc == PCR_OK) {
        rc = ensure_dir(path, err);
    }
    if (rc != PCR_OK) {
        return rc;
    }
    sigset_t saved;
    block_signals(&saved);
    char tmp[PATH_MAX];
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        if (!temp_name(tmp, sizeof tmp, path)) {
            rc = pcr_set_error(err, PCR_FAIL, "path too long: %s", path);
            goto end;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  mode & 0666);
        if (fd < 0 && errno != EEXIST) {
            rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot create %s", tmp);
            goto end;
        }
    }
    if (fd < 0) {
        rc = pcr_set_error(err, PCR_FAIL,
                           "cannot create a temporary file beside %s", path);
        goto end;
    }
    if (pcr_fd_transfer(fd, (void *)data, len, 1) != 0 ||
        (exact_mode && fchmod(fd, mode & 07777) != 0)) {
        rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot write %s", tmp);
        close(fd);
        unlink(tmp);
        goto end;
    }
    if (close(fd) != 0) {
        rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot write %s", tmp);
        unlink(tmp);
        goto end;
    }
    rc = put_in_place(tmp, path, err);
end:
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return rc;
}

pcr_status
pcr_write_atomic(const char *path, const unsigned char *data, size_t len,
                 mode_t mode, pcr_error *err)
{
    return write_file(path, data, len, mode, 0, err);
}

pcr_status
pcr_replace_atomic(const char *path, const unsigned char *data, size_t len,
                   mode_t mode, pcr_error *err)
{
    return write_file(path, data, len, mode, 1, err);
}

pcr_status
pcr_link_atomic(const char *existing, const char *path, pcr_error *err)
{
    pcr_status rc = check_target(path, err);
    if (rc != PCR_OK) {
        return rc;
    }
    sigset_t saved;
    block_signals(&saved);
    char tmp[PATH_MAX];
    int done = 0;
    for (int tries = 0; tries < 100 && !done; tries++) {
        if (!temp_name(tmp, sizeof tmp, path)) {
            rc = pcr_set_error(err, PCR_FAIL, "path too long: %s", path);
            goto end;
        }
        if (link(existing, tmp) == 0) {
            done = 1;
        } else if (errno != EEXIST) {
            rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot link %s to %s",
                               tmp, existing);
            goto end;
        }
    }
    rc = done
             ? put_in_place(tmp, path, err)
             : pcr_set_error(err, PCR_FAIL,
                             "cannot create a temporary link beside %s", path);
end:
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    return rc;
}
