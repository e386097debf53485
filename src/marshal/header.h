/* SPDX-License-Identifier: MIT */
/*
 * header.h - the 16-byte PEP 552 header of a .pyc (header.c).  Not
 * installed.
 */
#ifndef PCR_HEADER_H
#define PCR_HEADER_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include "common.h"

#define PCR_HEADER_SIZE 16
/* Optimisation levels: 0, 1 and 2 (a .pyc each). */
#define PCR_MAX_LEVELS 3

typedef struct pcr_header {
    uint32_t magic;
    uint32_t flags; /* bit 0: hash-based, bit 1: check_source */
    uint32_t mtime; /* TIMESTAMP */
    uint32_t size;
    unsigned char hash[8]; /* hash-based */
} pcr_header;

void pcr_header_init(pcr_header *h, uint32_t magic, pcr_invalidation mode,
                     uint32_t mtime, uint32_t size,
                     const unsigned char hash[8]);
void pcr_header_pack(const pcr_header *h, unsigned char out[PCR_HEADER_SIZE]);
pcr_status pcr_header_unpack(const unsigned char *data, size_t len,
                             pcr_header *h, pcr_error *err);
/* importlib's truncation of an st_mtime (seconds + nanoseconds). */
uint32_t pcr_mtime32(int64_t sec, long nsec);

#endif
