/*
 * pcr_private.h - helpers shared by the library's own files; not
 * installed.  Only pcr_-prefixed symbols leave a translation unit.
 */
#ifndef PCR_PRIVATE_H
#define PCR_PRIVATE_H

#include "pycompile_repro.h"

#if defined(__GNUC__)
#define PCR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PCR_PRINTF(a, b)
#endif

/* Fill err (if not NULL) and return status. */
pcr_status pcr_set_error(pcr_error *err, pcr_status status, const char *fmt,
                         ...) PCR_PRINTF(3, 4);
/* Same, followed by ": " and strerror(errnum). */
pcr_status pcr_set_errno(pcr_error *err, pcr_status status, int errnum,
                         const char *fmt, ...) PCR_PRINTF(4, 5);

/* The header we would write for src, and header + canonical marshal of
 * one level: callers compiling several levels hash the source once
 * (pyc_file.c). */
pcr_status pcr_pyc_header(const pcr_options *opt, const pcr_source *src,
                          unsigned char out[16], pcr_error *err);
pcr_status pcr_pyc_assemble(const unsigned char header[16],
                            const pcr_source *src, const char *record_name,
                            int optimize, pcr_buf *out, pcr_error *err);

/* Read (writing = 0) or write all len bytes; 0, or -1 on error or early
 * EOF (fd_io.c). */
int pcr_fd_transfer(int fd, void *buf, size_t len, int writing);

/* Keep the embedded interpreter consistent across fork(2) (interp.c). */
void pcr_runtime_before_fork(void);
void pcr_runtime_after_fork(int child);

/* Little-endian helpers used by the header and the marshal walker. */
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

#endif /* PCR_PRIVATE_H */
