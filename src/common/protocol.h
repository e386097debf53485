/* SPDX-License-Identifier: MIT */
/*
 * protocol.h - the pipe protocol between the front end and a compile
 * server (src/server).  Shared by both sides; not installed.
 *
 * Every message is a frame:  u32 length | u8 type | payload
 * where length counts the type byte and the payload.  Integers are u32
 * little-endian; a blob is a u32 byte count followed by the bytes.
 *
 * Front end -> server:
 *   'C' COMPILE  id flags nlevels level... name:blob source:blob
 *                flags bit 0: also return the source hash
 *   'H' HASH     id source:blob
 *   'X' REGEX    id pattern:blob count path:blob...
 * Server -> front end:
 *   'W' HELLO    proto magic canonical_form version:blob build:blob tag:blob
 *                (once, as soon as the interpreter is up)
 *   'E' ERROR    message:blob (instead of HELLO: the server cannot start)
 *   'R' REPLY    id status, then for status 0:
 *                  COMPILE: [hash:8 bytes] nlevels body:blob... warnings:blob
 *                  HASH:    hash:8 bytes
 *                  REGEX:   matches:blob (one byte, 0 or 1, per path)
 *                and for status 1 (this source fails) or 2 (trouble):
 *                  message:blob
 *
 * The server answers requests in the order it receives them.
 */
#ifndef PCR_PROTOCOL_H
#define PCR_PROTOCOL_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define PCR_PROTO_VERSION 1
/* A frame never exceeds this: the largest source (PCR_MAX_SOURCE) plus
 * its three bodies fit easily. */
#define PCR_PROTO_MAX_FRAME ((uint32_t)1 << 31)

enum {
    PCR_MSG_COMPILE = 'C',
    PCR_MSG_HASH = 'H',
    PCR_MSG_REGEX = 'X',
    PCR_MSG_HELLO = 'W',
    PCR_MSG_ERROR = 'E',
    PCR_MSG_REPLY = 'R'
};

#define PCR_COMPILE_WANT_HASH 1u

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
