/* SPDX-License-Identifier: MIT */
/* source_hash.h - _imp.source_hash without a server (source_hash.c) */
#ifndef PCR_SOURCE_HASH_H
#define PCR_SOURCE_HASH_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include <stddef.h>
#include <stdint.h>

/* SipHash-c-d of p with key (k0, k1), as CPython's pyhash.c computes it */
uint64_t pcr_siphash(int c_rounds, int d_rounds, uint64_t k0, uint64_t k1,
                     const unsigned char *p, size_t len);

/* The 8 bytes importlib stores in a hash-based .pyc of this magic, into
 * out: 1; 0 when this series is not known here (ask the server). */
int pcr_source_hash(uint32_t magic, const unsigned char *src, size_t len,
                    unsigned char out[8]);

#endif
