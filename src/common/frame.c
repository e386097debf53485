/* SPDX-License-Identifier: MIT */
/* frame.c - building and reading length-prefixed frames (frame.h). */
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static int
reserve(pcr_wbuf *w, size_t n)
{
    if (w->failed) {
        return 0;
    }
    if (w->cap - w->len >= n) {
        return 1;
    }
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n) {
        if (cap > SIZE_MAX / 2) {
            w->failed = 1;
            return 0;
        }
        cap *= 2;
    }
    unsigned char *d = realloc(w->data, cap);
    if (d == NULL) {
        w->failed = 1;
        return 0;
    }
    w->data = d;
    w->cap = cap;
    return 1;
}

void
pcr_wbuf_u8(pcr_wbuf *w, unsigned v)
{
    if (reserve(w, 1)) {
        w->data[w->len++] = (unsigned char)v;
    }
}

void
pcr_wbuf_u32(pcr_wbuf *w, uint32_t v)
{
    if (reserve(w, 4)) {
        pcr_put_le32(w->data + w->len, v);
        w->len += 4;
    }
}

void
pcr_wbuf_bytes(pcr_wbuf *w, const void *p, size_t n)
{
    if (n > 0 && reserve(w, n)) {
        memcpy(w->data + w->len, p, n);
        w->len += n;
    }
}

void
pcr_wbuf_blob(pcr_wbuf *w, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        w->failed = 1;
        return;
    }
    pcr_wbuf_u32(w, (uint32_t)n);
    pcr_wbuf_bytes(w, p, n);
}

size_t
pcr_wbuf_begin_frame(pcr_wbuf *w, unsigned type)
{
    size_t start = w->len;
    pcr_wbuf_u32(w, 0);
    pcr_wbuf_u8(w, type);
    return start;
}

void
pcr_wbuf_end_frame(pcr_wbuf *w, size_t start)
{
    size_t n = w->len - start - 4;
    if (w->failed || n > PCR_PROTO_MAX_FRAME) {
        w->failed = 1;
        return;
    }
    pcr_put_le32(w->data + start, (uint32_t)n);
}

void
pcr_wbuf_free(pcr_wbuf *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}

uint32_t
pcr_rbuf_u32(pcr_rbuf *r)
{
    if (r->bad || r->end - r->p < 4) {
        r->bad = 1;
        return 0;
    }
    uint32_t v = pcr_le32(r->p);
    r->p += 4;
    return v;
}

const unsigned char *
pcr_rbuf_bytes(pcr_rbuf *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *p = r->p;
    r->p += n;
    return p;
}

const unsigned char *
pcr_rbuf_blob(pcr_rbuf *r, size_t *n)
{
    *n = pcr_rbuf_u32(r);
    const unsigned char *p = pcr_rbuf_bytes(r, *n);
    if (p == NULL) {
        *n = 0;
    }
    return p;
}
