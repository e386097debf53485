/* SPDX-License-Identifier: MIT */
/* fd_io.c - whole-buffer read and write on a file descriptor, retrying
 * short transfers and EINTR (used by the atomic writer and the pool). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <unistd.h>

#include "common.h"

int
pcr_fd_transfer(int fd, void *buf, size_t len, int writing)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1; /* error, or EOF before len bytes */
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
