/* SPDX-License-Identifier: MIT */
/*
 * pyc_bytes.h - small facts about .pyc files that the verbs share
 * (pyc_bytes.c): where one goes, the header we would write, whether an
 * existing one is current.  Not installed.
 */
#ifndef PCR_PYC_BYTES_H
#define PCR_PYC_BYTES_H

#include "marshal_format.h"
#include "pcr_private.h"

/* The largest .pyc read back (they are a few times their source). */
#define PCR_MAX_PYC ((size_t)512 << 20)

/* Where the .pyc of source goes for this Python and level: the cache
 * path, or SOURCEc with -b. */
char *pcr_output_path(const pcr *p, const char *source, int py, int level);

/* The header for a source: mtime and size (TIMESTAMP) or the hash. */
void pcr_make_header(const pcr *p, int py, const pcr_source *src,
                     const unsigned char hash[8], unsigned char out[16]);

/* header + body, malloc'd. */
pcr_status pcr_assemble(const unsigned char header[16], const pcr_buf *body,
                        pcr_buf *out, pcr_error *err);

/* Is this .pyc current: exactly our header, the recorded name we would
 * record, and canonical marshal data?  (Otherwise it is compiled again.) */
int pcr_pyc_is_current(const unsigned char *pyc, size_t len,
                       const unsigned char header[16], const char *record);

/* Read an existing .pyc: PCR_OK with the bytes, PCR_FAIL with *missing set
 * when there is none, PCR_FAIL with a message when it cannot be read. */
pcr_status pcr_read_pyc(const char *path, pcr_buf *out, int *missing,
                        pcr_error *err);

/* Is name (in a __pycache__) BASE.TAG[.opt-N].pyc for this base?  Then
 * 1, with the tag (no dots) and the level. */
int pcr_pyc_name_parse(const char *name, const char *base, size_t blen,
                       const char **tag, size_t *tlen, int *level);
/* The length of a source's base name (up to its last dot, as importlib). */
size_t pcr_source_base_len(const char *base);

#endif
