/* SPDX-License-Identifier: MIT */
/*
 * pyc.h - a .pyc as bytes (pyc.c): header + body, whether an existing one
 * is current, and the names importlib gives cache files.  Not installed.
 */
#ifndef PCR_PYC_H
#define PCR_PYC_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include "common.h"
#include "header.h"

/* The largest .pyc read back (they are a few times their source). */
#define PCR_MAX_PYC ((size_t)512 << 20)

/* header + body, malloc'd. */
pcr_status pcr_assemble(const unsigned char header[PCR_HEADER_SIZE],
                        const pcr_buf *body, pcr_buf *out, pcr_error *err);

/* Is this .pyc current: exactly our header, the recorded name we would
 * record, and canonical marshal data?  (Otherwise it is compiled again.) */
int pcr_pyc_is_current(const unsigned char *pyc, size_t len,
                       const unsigned char header[PCR_HEADER_SIZE],
                       const char *record);

/* Is name (in a __pycache__) BASE.TAG[.opt-N].pyc for this base?  Then
 * 1, with the tag (no dots) and the level. */
int pcr_pyc_name_parse(const char *name, const char *base, size_t blen,
                       const char **tag, size_t *tlen, int *level);
/* The length of a source's base name (up to its last dot, as importlib). */
size_t pcr_source_base_len(const char *base);

#endif
