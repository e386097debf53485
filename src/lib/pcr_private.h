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
