/* SPDX-License-Identifier: MIT */
/* check_pyc.h - the class of one .pyc against the bytes we would write
 * (check_pyc.c).  Not installed. */
#ifndef PCR_CHECK_PYC_H
#define PCR_CHECK_PYC_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include "common.h"

/* found: the .pyc's bytes, NULL when there is none; expected: what we
 * would write; version: "3.13.5", for the message.  The detail explains
 * (empty for ok). */
pcr_check_class pcr_classify(const pcr_buf *found, const pcr_buf *expected,
                             const char *version, char *detail, size_t size);

#endif
