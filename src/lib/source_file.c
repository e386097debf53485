/* SPDX-License-Identifier: MIT */
/*
 * source_file.c - reading a source file without ever blocking or being
 * fooled: only regular files are read; a FIFO, a directory or a device is
 * refused (the FIFO is opened non-blocking, so naming one cannot hang).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files.h"

static const char *
kind(mode_t m)
{
    if (S_ISDIR(m)) {
        return "is a directory";
    }
    if (S_ISFIFO(m)) {
        return "is a FIFO, not a regular file";
    }
    if (S_ISSOCK(m)) {
        return "is a socket, not a regular file";
    }
    if (S_ISCHR(m) || S_ISBLK(m)) {
        return "is a device, not a regular file";
    }
    return "is not a regular file";
}

pcr_status
pcr_source_read(const char *path, size_t max, pcr_source *src, pcr_error *err)
{
    memset(src, 0, sizeof *src);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        return pcr_set_errno(err, PCR_FAIL, errno, "cannot open");
    }
    struct stat st;
    pcr_status rc = PCR_OK;
    if (fstat(fd, &st) != 0) {
        rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot stat");
        goto end;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = pcr_set_error(err, PCR_FAIL, "%s", kind(st.st_mode));
        goto end;
    }
    if ((uint64_t)st.st_size > max) {
        rc = pcr_set_error(err, PCR_FAIL,
                           "too large: %lld bytes, the limit is %zu MiB",
                           (long long)st.st_size, max >> 20);
        goto end;
    }
    /* Read to EOF rather than trusting st_size: the file may change. */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    unsigned char *buf = malloc(cap);
    if (buf == NULL) {
        rc = pcr_set_error(err, PCR_ENV, "out of memory");
        goto end;
    }
    for (;;) {
        if (len == cap) {
            if (cap > max) {
                free(buf);
                rc = pcr_set_error(err, PCR_FAIL,
                                   "too large: it grew past the limit of "
                                   "%zu MiB while being read",
                                   max >> 20);
                goto end;
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                rc = pcr_set_error(err, PCR_ENV, "out of memory");
                goto end;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            free(buf);
            rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot read");
            goto end;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    src->bytes.data = buf;
    src->bytes.len = len;
    src->mtime_sec = (int64_t)st.st_mtim.tv_sec;
    src->mtime_nsec = st.st_mtim.tv_nsec;
    src->size = (uint64_t)st.st_size;
    src->mode = st.st_mode;
end:
    close(fd);
    return rc;
}

pcr_status
pcr_source_read_to_check(const char *path, size_t max, pcr_source *src,
                         pcr_error *err)
{
    pcr_status rc = pcr_source_read(path, max, src, err);
    struct stat st;
    if (rc == PCR_FAIL && stat(path, &st) != 0) {
        rc = PCR_ENV; /* not there: the message is compiling's */
    }
    return rc;
}

void
pcr_source_free(pcr_source *src)
{
    if (src != NULL) {
        pcr_buf_free(&src->bytes);
    }
}
