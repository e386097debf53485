/* SPDX-License-Identifier: MIT */
/*
 * frame.h - length-prefixed frames and the buffers that build and read
 * them (frame.c).  A frame is  u32 length | u8 type | payload,  length
 * counting the type byte and the payload; integers are u32 little-endian;
 * a blob is a u32 byte count followed by the bytes.  Not installed.
 */
#ifndef PCR_FRAME_H
#define PCR_FRAME_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* A frame never exceeds this: the largest source (PCR_MAX_SOURCE) plus
 * its three bodies fit easily. */
#define PCR_PROTO_MAX_FRAME ((uint32_t)1 << 31)

/* A growable byte buffer for building frames. */
typedef struct pcr_wbuf {
    unsigned char *data;
    size_t len, cap;
    int failed; /* an allocation failed: the content is incomplete */
} pcr_wbuf;

void pcr_wbuf_u8(pcr_wbuf *w, unsigned v);
void pcr_wbuf_u32(pcr_wbuf *w, uint32_t v);
void pcr_wbuf_bytes(pcr_wbuf *w, const void *p, size_t n);
void pcr_wbuf_blob(pcr_wbuf *w, const void *p, size_t n);
/* Start a frame of this type; pcr_wbuf_end_frame fills in its length. */
size_t pcr_wbuf_begin_frame(pcr_wbuf *w, unsigned type);
void pcr_wbuf_end_frame(pcr_wbuf *w, size_t start);
void pcr_wbuf_free(pcr_wbuf *w);

/* A bounds-checked cursor over a received payload. */
typedef struct pcr_rbuf {
    const unsigned char *p, *end;
    int bad; /* read past the end, or a blob longer than what is left */
} pcr_rbuf;

uint32_t pcr_rbuf_u32(pcr_rbuf *r);
const unsigned char *pcr_rbuf_bytes(pcr_rbuf *r, size_t n);
/* A blob: its bytes (not NUL-terminated) and length. */
const unsigned char *pcr_rbuf_blob(pcr_rbuf *r, size_t *n);

#endif
