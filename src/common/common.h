/* SPDX-License-Identifier: MIT */
/*
 * common.h - what every layer shares (src/common): the status and error
 * values functions return, byte buffers, little-endian helpers, whole
 * reads and writes of a descriptor, and a stable sort with a context.
 * Used by the library, the compile servers and the marshal code alike;
 * not installed.
 */
#ifndef PCR_COMMON_H
#define PCR_COMMON_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include <stddef.h>
#include <stdint.h>

#include "pycompile_repro.h" /* pcr_status */

#if defined(__GNUC__)
#define PCR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PCR_PRINTF(a, b)
#endif

/* ------------------------------------------------ errors and buffers */

#define PCR_ERROR_MAX 4096

typedef struct pcr_error {
    char msg[PCR_ERROR_MAX]; /* human-readable, without the file name */
} pcr_error;

/* Fill err (if not NULL) and return status. */
pcr_status pcr_set_error(pcr_error *err, pcr_status status, const char *fmt,
                         ...) PCR_PRINTF(3, 4);
/* Same, followed by ": " and strerror(errnum). */
pcr_status pcr_set_errno(pcr_error *err, pcr_status status, int errnum,
                         const char *fmt, ...) PCR_PRINTF(4, 5);

typedef struct pcr_buf {
    unsigned char *data;
    size_t len;
} pcr_buf;

void pcr_buf_free(pcr_buf *buf);

/* Read (writing = 0) or write all len bytes; 0, or -1 on error or early
 * EOF (fd_io.c). */
int pcr_fd_transfer(int fd, void *buf, size_t len, int writing);

/* Little-endian helpers. */
static inline uint32_t
pcr_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline void
pcr_put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* A stable merge sort with a context for the comparison (qsort has none,
 * and a global would not be thread-safe).  0, or -1 when out of memory
 * (then base is unchanged). */
int pcr_sort(void *base, size_t n, size_t size,
             int (*cmp)(const void *a, const void *b, void *ctx), void *ctx);

/* A file's identity (file_id.c): device, inode, size, modification and
 * change times.  pcr_file_id: 0, or -1 and all zero when there is no such
 * file. */
#define PCR_FILE_ID_WORDS 7
struct stat;
void pcr_file_id_of(const struct stat *st, uint64_t id[PCR_FILE_ID_WORDS]);
int pcr_file_id(const char *path, uint64_t id[PCR_FILE_ID_WORDS]);

#endif
