/* SPDX-License-Identifier: MIT */
/* marshal_diff.h - where two marshal streams first differ, said the way
 * a person can act on (marshal_diff.c).  Not installed. */
#ifndef PCR_MARSHAL_DIFF_H
#define PCR_MARSHAL_DIFF_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include "common.h"

/* PCR_OK if identical; else PCR_FAIL and out says which code object and
 * field, with both values where they are strings or ints. */
pcr_status pcr_marshal_diff(const unsigned char *a, size_t alen,
                            const unsigned char *b, size_t blen,
                            uint32_t magic, char *out, size_t outlen);

#endif
