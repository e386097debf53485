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
 *
 * Beside the entries, in the same sealed form ("PCRS"), what a compile
 * server's hello said (magic number, build, cache tag) under the identity
 * of the files that made it: see pcr_cache_get_server.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "canonical.h"
#include "lazy_libs.h"
#include "marshal_format.h"
#include "protocol.h"
#include "source_hash.h"

#define MAGIC "PCRC"
#define SERVER_MAGIC "PCRS"
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

/* A sealed blob, as the backend stores it: kind (4) | u32 FORMAT | key
 * (32) | SHA-256 of the payload (32) | u64 payload length | payload. */
static size_t
seal_begin(pcr_wbuf *w, const char kind[4], const pcr_cache_key *key)
{
    unsigned char zero[32 + 8] = {0};
    pcr_wbuf_bytes(w, kind, 4);
    pcr_wbuf_u32(w, FORMAT);
    pcr_wbuf_bytes(w, key->sha, 32);
    pcr_wbuf_bytes(w, zero, sizeof zero);
    return w->len;
}

static void
seal_end(pcr_wbuf *w)
{
    if (!w->failed) {
        uint64_t n = (uint64_t)w->len - HEAD;
        pcr_put_le32(w->data + 72, (uint32_t)n);
        pcr_put_le32(w->data + 76, (uint32_t)(n >> 32));
        sha256(w->data + HEAD, w->len - HEAD, w->data + 40);
    }
}

/* Is blob a whole sealed blob of this kind and key?  Its payload then. */
static const unsigned char *
unseal(const pcr_buf *blob, const char kind[4], const pcr_cache_key *key,
       size_t *len)
{
    const unsigned char *f = blob->data;
    if (blob->len < HEAD || memcmp(f, kind, 4) != 0 ||
        pcr_le32(f + 4) != FORMAT || memcmp(f + 8, key->sha, 32) != 0) {
        return NULL;
    }
    uint64_t n = (uint64_t)pcr_le32(f + 72) | (uint64_t)pcr_le32(f + 76) << 32;
    unsigned char sum[32];
    if (n != blob->len - HEAD) {
        return NULL;
    }
    sha256(f + HEAD, blob->len - HEAD, sum);
    if (memcmp(sum, f + 40, 32) != 0) {
        return NULL;
    }
    *len = blob->len - HEAD;
    return f + HEAD;
}

/* Is blob the entry of key, whole, for these source bytes? */
static int
entry_holds(const pcr_buf *blob, const pcr_cache_key *key,
            const pcr_python *py, const unsigned char *src, size_t len)
{
    size_t n;
    const unsigned char *p = unseal(blob, MAGIC, key, &n);
    unsigned char want[8];
    if (p == NULL || n < 8) {
        return 0;
    }
    return !pcr_source_hash(py->magic, src, len, want) ||
           memcmp(want, p, 8) == 0;
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
    seal_begin(&w, MAGIC, key);
    pcr_wbuf_bytes(&w, hash, 8);
    pcr_wbuf_bytes(&w, body->data, body->len);
    seal_end(&w);
    pcr_error err;
    if (!w.failed &&
        c->ops->put(c->self, key, w.data, w.len, &err) == PCR_OK) {
        c->count[PCR_CACHE_WRITTEN]++;
    } else {
        c->count[PCR_CACHE_ERRORS]++;
    }
    pcr_wbuf_free(&w);
}

/* ------------------------------------------------------- server facts */

static void
put_u64s(pcr_wbuf *w, const uint64_t *v, int n)
{
    for (int i = 0; i < n; i++) {
        pcr_wbuf_u32(w, (uint32_t)v[i]);
        pcr_wbuf_u32(w, (uint32_t)(v[i] >> 32));
    }
}

/* The record's key: the server's path and identity, and what else
 * decides which libpython the dynamic loader gives it: its cache and
 * preload list, and GLIBC_TUNABLES.  Where the loader is steered by the
 * environment (LD_LIBRARY_PATH, LD_PRELOAD, LD_AUDIT) there is no record:
 * their directories' subdirectories (glibc-hwcaps/...), an empty entry
 * (the working directory) and $ORIGIN make the search too wide to key, so
 * a server starts.  A server with a RUNPATH names no libpython in its
 * hello (py_runtime.c), so it gets no record either.  The libpython itself
 * is checked on reading.  0, or -1 (key zeroed): no record here. */
static int
server_key(const pcr_python *py, pcr_cache_key *key)
{
    static const char *const steer[] = {"LD_LIBRARY_PATH", "LD_PRELOAD",
                                        "LD_AUDIT"};
    static const char *const files[] = {"/etc/ld.so.cache",
                                        "/etc/ld.so.preload"};
    memset(key, 0, sizeof *key);
    for (size_t i = 0; i < sizeof steer / sizeof *steer; i++) {
        if (getenv(steer[i]) != NULL) {
            return -1;
        }
    }
    pcr_wbuf w = {0};
    uint64_t id[PCR_FILE_ID_WORDS];
    pcr_wbuf_blob(&w, "pycompile-repro server 3", 24);
    pcr_wbuf_blob(&w, py->path, strlen(py->path));
    pcr_file_id(py->path, id);
    put_u64s(&w, id, PCR_FILE_ID_WORDS);
    const char *t = getenv("GLIBC_TUNABLES");
    pcr_wbuf_u32(&w, t != NULL);
    pcr_wbuf_blob(&w, t ? t : "", t ? strlen(t) : 0);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        pcr_file_id(files[i], id);
        put_u64s(&w, id, PCR_FILE_ID_WORDS);
    }
    int ok = !w.failed;
    if (ok) {
        sha256(w.data, w.len, key->sha);
    }
    pcr_wbuf_free(&w);
    return ok ? 0 : -1;
}

static int
take_str(pcr_rbuf *r, char *out, size_t size)
{
    size_t n;
    const unsigned char *p = pcr_rbuf_blob(r, &n);
    if (p == NULL || n == 0 || n >= size || memchr(p, 0, n) != NULL) {
        return -1;
    }
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

/* One file a record depends on: a path and its identity then.  "Still
 * the same": the path (links followed) gives the same identity now. */
typedef struct server_file {
    char *path;
    uint64_t id[PCR_FILE_ID_WORDS];
} server_file;

static int
file_unchanged(const char *path, const uint64_t id[PCR_FILE_ID_WORDS])
{
    uint64_t now[PCR_FILE_ID_WORDS], none[PCR_FILE_ID_WORDS] = {0};
    return path != NULL && path[0] == '/' &&
           memcmp(id, none, sizeof none) != 0 && pcr_file_id(path, now) == 0 &&
           memcmp(id, now, sizeof now) == 0;
}

static int
take_file(pcr_rbuf *r, server_file *f)
{
    if ((f->path = malloc(4097)) == NULL || take_str(r, f->path, 4097) != 0) {
        return -1;
    }
    for (int i = 0; i < PCR_FILE_ID_WORDS; i++) {
        f->id[i] = pcr_rbuf_u32(r);
        f->id[i] |= (uint64_t)pcr_rbuf_u32(r) << 32;
    }
    return r->bad ? -1 : 0;
}

static void
put_file(pcr_wbuf *w, const char *path, const uint64_t id[PCR_FILE_ID_WORDS])
{
    pcr_wbuf_blob(w, path, strlen(path));
    put_u64s(w, id, PCR_FILE_ID_WORDS);
}

int
pcr_cache_get_server(pcr_cache *c, pcr_python *py, pcr_cache_key *key)
{
    pcr_buf blob = {0};
    if (server_key(py, key) != 0 || !c->ops->get(c->self, key, &blob)) {
        return 0;
    }
    size_t n;
    const unsigned char *p = unseal(&blob, SERVER_MAGIC, key, &n);
    pcr_rbuf r = {p, p ? p + n : NULL, 0};
    char version[32], tag[16], *build = malloc(4097);
    server_file lib = {0}, exe = {0};
    uint32_t form = 0, magic = 0;
    int ok = p != NULL && build != NULL;
    if (ok) {
        form = pcr_rbuf_u32(&r);
        magic = pcr_rbuf_u32(&r);
        ok = take_str(&r, version, sizeof version) == 0 &&
             take_str(&r, build, 4097) == 0 &&
             take_str(&r, tag, sizeof tag) == 0 && take_file(&r, &lib) == 0 &&
             take_file(&r, &exe) == 0 && !r.bad && r.p == r.end;
    }
    const pcr_layout *L = ok ? pcr_layout_for_magic(magic) : NULL;
    ok = ok && form == PCR_CANONICAL_FORM && strcmp(tag, py->tag) == 0 &&
         L != NULL && strcmp(L->series, py->series) == 0 &&
         /* the same libpython by the name the loader opened, and the same
          * program behind the server's file, still there */
         file_unchanged(lib.path, lib.id) && file_unchanged(exe.path, exe.id);
    if (ok) {
        free(py->build);
        free(py->lib);
        free(py->exe);
        py->build = build;
        py->lib = lib.path;
        py->exe = exe.path;
        build = lib.path = exe.path = NULL;
        memcpy(py->lib_id, lib.id, sizeof lib.id);
        memcpy(py->exe_id, exe.id, sizeof exe.id);
        py->magic = magic;
        py->canonical_form = (int)form;
        snprintf(py->version, sizeof py->version, "%s", version);
        py->started = 1;
        py->identified = 1;
    } else if (p == NULL) {
        c->ops->drop(c->self, key);
    }
    free(build);
    free(lib.path);
    free(exe.path);
    pcr_buf_free(&blob);
    return ok;
}

void
pcr_cache_put_server(pcr_cache *c, const pcr_python *py,
                     const pcr_cache_key *key)
{
    if (!py->started || py->identified) {
        return; /* no hello of its own */
    }
    /* The server's files and the loader's settings as they were when the
     * server was started (the key was taken then), and the libpython and
     * program as they were at its hello: else what the hello said may not
     * be theirs.  A server that could not name them gets no record. */
    pcr_cache_key now;
    if (server_key(py, &now) != 0 ||
        memcmp(now.sha, key->sha, sizeof now.sha) != 0 ||
        !file_unchanged(py->lib, py->lib_id) ||
        !file_unchanged(py->exe, py->exe_id)) {
        return;
    }
    pcr_wbuf w = {0};
    seal_begin(&w, SERVER_MAGIC, key);
    pcr_wbuf_u32(&w, (uint32_t)py->canonical_form);
    pcr_wbuf_u32(&w, py->magic);
    pcr_wbuf_blob(&w, py->version, strlen(py->version));
    pcr_wbuf_blob(&w, py->build, strlen(py->build));
    pcr_wbuf_blob(&w, py->tag, strlen(py->tag));
    put_file(&w, py->lib, py->lib_id);
    put_file(&w, py->exe, py->exe_id);
    seal_end(&w);
    pcr_error err; /* not counted: the counters are the entries' */
    if (!w.failed) {
        (void)c->ops->put(c->self, key, w.data, w.len, &err);
    }
    pcr_wbuf_free(&w);
}

void
pcr_cache_drop_server(pcr_cache *c, const pcr_cache_key *key)
{
    c->ops->drop(c->self, key);
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
