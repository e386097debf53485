/* SPDX-License-Identifier: MIT */
/*
 * cache.c - the cache layer over a storage backend (cache.h): keys,
 * entries that prove what they are, counters, trimming.
 *
 * An entry, as the backend stores it:
 *   "PCRC" | u32 2 | key (32) | SHA-256 of the payload (32) |
 *   u64 payload length | payload = source hash (8) | canonical marshal data
 * A hit needs the magic and version, the key to be the one asked for, the
 * length and the checksum to hold, and the source hash to be the one the
 * front end computes for these source bytes (3.11 and later; for older
 * series the key, which holds the source bytes, has to do).  Anything
 * else is a miss, counted as damaged, and the backend drops the entry.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "canonical.h"
#include "lazy_libs.h"
#include "protocol.h"
#include "source_hash.h"

#define MAGIC "PCRC"
#define FORMAT 2
#define HEAD (4 + 4 + 32 + 32 + 8)

struct pcr_cache {
    const pcr_cache_backend *ops;
    void *self;
    uint64_t max;
    uint64_t count[PCR_CACHE_COUNTERS];
    char warning[512];
    int warned; /* the warning was handed out */
};

static const char *const labels[PCR_CACHE_COUNTERS] = {
    "hits",    "misses",  "written", "errors",
    "damaged", "trimmed", "entries", "bytes"};

const char *
pcr_cache_counter_label(pcr_cache_counter which)
{
    return (unsigned)which < PCR_CACHE_COUNTERS ? labels[which] : "?";
}

pcr_cache *
pcr_cache_new(const pcr_cache_backend *ops, void *self, uint64_t max_size)
{
    pcr_cache *c = calloc(1, sizeof *c);
    if (c == NULL) {
        ops->close(self);
        return NULL;
    }
    c->ops = ops;
    c->self = self;
    c->max = max_size;
    return c;
}

void
pcr_cache_free(pcr_cache *c)
{
    if (c != NULL) {
        c->ops->close(c->self);
        free(c);
    }
}

uint64_t
pcr_cache_counter_get(const pcr_cache *c, pcr_cache_counter which)
{
    return (unsigned)which < PCR_CACHE_COUNTERS ? c->count[which] : 0;
}

void
pcr_cache_begin_run(pcr_cache *c)
{
    memset(c->count, 0, sizeof c->count);
}

static void
sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void
pcr_cache_make_key(const pcr_python *py, const char *record, int level,
                   const unsigned char *src, size_t len, pcr_cache_key *key)
{
    const char *build = py->build ? py->build : "";
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char head[16];
    unsigned int n = 32;
    /* every variable field preceded by its length: no two key tuples
     * give the same stream */
    pcr_put_le32(head, PCR_CANONICAL_FORM);
    pcr_put_le32(head + 4, py->magic);
    pcr_put_le32(head + 8, (uint32_t)level);
    pcr_put_le32(head + 12, (uint32_t)strlen(build));
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, "pycompile-repro cache 2", 23);
    EVP_DigestUpdate(ctx, head, 16);
    EVP_DigestUpdate(ctx, build, strlen(build));
    pcr_put_le32(head, (uint32_t)strlen(record));
    EVP_DigestUpdate(ctx, head, 4);
    EVP_DigestUpdate(ctx, record, strlen(record));
    pcr_put_le32(head, (uint32_t)len);
    pcr_put_le32(head + 4, (uint32_t)((uint64_t)len >> 32));
    EVP_DigestUpdate(ctx, head, 8);
    EVP_DigestUpdate(ctx, src, len);
    EVP_DigestFinal_ex(ctx, key->sha, &n);
    EVP_MD_CTX_free(ctx);
}

/* Is blob the entry of key, whole, for these source bytes? */
static int
entry_holds(const pcr_buf *blob, const pcr_cache_key *key,
            const pcr_python *py, const unsigned char *src, size_t len)
{
    const unsigned char *f = blob->data;
    if (blob->len < HEAD + 8 || memcmp(f, MAGIC, 4) != 0 ||
        pcr_le32(f + 4) != FORMAT || memcmp(f + 8, key->sha, 32) != 0) {
        return 0;
    }
    uint64_t n = (uint64_t)pcr_le32(f + 72) | (uint64_t)pcr_le32(f + 76) << 32;
    if (n != blob->len - HEAD) {
        return 0;
    }
    unsigned char sum[32], want[8];
    sha256(f + HEAD, blob->len - HEAD, sum);
    if (memcmp(sum, f + 40, 32) != 0) {
        return 0;
    }
    return !pcr_source_hash(py->magic, src, len, want) ||
           memcmp(want, f + HEAD, 8) == 0;
}

int
pcr_cache_get(pcr_cache *c, const pcr_cache_key *key, const pcr_python *py,
              const unsigned char *src, size_t len, pcr_buf *body,
              unsigned char hash[8])
{
    body->data = NULL;
    body->len = 0;
    pcr_buf blob = {0};
    if (!c->ops->get(c->self, key, &blob)) {
        c->count[PCR_CACHE_MISSES]++;
        return 0;
    }
    int ok = entry_holds(&blob, key, py, src, len);
    if (ok) {
        memcpy(hash, blob.data + HEAD, 8);
        body->len = blob.len - HEAD - 8;
        body->data = malloc(body->len ? body->len : 1);
        ok = body->data != NULL;
        if (ok && body->len) {
            memcpy(body->data, blob.data + HEAD + 8, body->len);
        }
    } else {
        c->ops->drop(c->self, key);
        c->count[PCR_CACHE_DAMAGED]++;
    }
    pcr_buf_free(&blob);
    c->count[ok ? PCR_CACHE_HITS : PCR_CACHE_MISSES]++;
    return ok;
}

void
pcr_cache_put(pcr_cache *c, const pcr_cache_key *key, const pcr_buf *body,
              const unsigned char hash[8])
{
    pcr_wbuf w = {0};
    unsigned char zero[32] = {0};
    uint64_t n = 8 + (uint64_t)body->len;
    pcr_wbuf_bytes(&w, MAGIC, 4);
    pcr_wbuf_u32(&w, FORMAT);
    pcr_wbuf_bytes(&w, key->sha, 32);
    pcr_wbuf_bytes(&w, zero, 32);
    pcr_wbuf_u32(&w, (uint32_t)n);
    pcr_wbuf_u32(&w, (uint32_t)(n >> 32));
    pcr_wbuf_bytes(&w, hash, 8);
    pcr_wbuf_bytes(&w, body->data, body->len);
    pcr_error err;
    if (!w.failed) {
        sha256(w.data + HEAD, w.len - HEAD, w.data + 40);
        if (c->ops->put(c->self, key, w.data, w.len, &err) == PCR_OK) {
            c->count[PCR_CACHE_WRITTEN]++;
        } else {
            c->count[PCR_CACHE_ERRORS]++;
        }
    } else {
        c->count[PCR_CACHE_ERRORS]++;
    }
    pcr_wbuf_free(&w);
}

void
pcr_cache_finish(pcr_cache *c, int want_totals)
{
    if (!c->max && !want_totals) {
        return;
    }
    /* trimming walks every entry: only when something was added, or the
     * totals are asked for */
    if (!want_totals && c->count[PCR_CACHE_WRITTEN] == 0) {
        return;
    }
    pcr_error err;
    if (c->ops->trim(c->self, c->max, &c->count[PCR_CACHE_ENTRIES],
                     &c->count[PCR_CACHE_BYTES], &c->count[PCR_CACHE_TRIMMED],
                     &err) != PCR_OK) {
        c->count[PCR_CACHE_ERRORS]++;
    }
}

pcr_status
pcr_cache_remove_all(pcr_cache *c, pcr_error *err)
{
    uint64_t removed = 0;
    pcr_status rc = c->ops->clear(c->self, &removed, err);
    c->count[PCR_CACHE_TRIMMED] = removed;
    return rc;
}

void
pcr_cache_warn(pcr_cache *c, const char *msg)
{
    if (c->warning[0] == '\0') {
        snprintf(c->warning, sizeof c->warning, "%s", msg);
    }
}

const char *
pcr_cache_take_warning(pcr_cache *c)
{
    if (c->warning[0] == '\0' || c->warned) {
        return NULL;
    }
    c->warned = 1;
    return c->warning;
}
