/* SPDX-License-Identifier: MIT */
/*
 * cache.c - the content-addressed store of compiled bodies (cache.h).
 *
 * Layout: DIR/v1/XY/<64 hex digits of the key>, one file per entry:
 *   "PCRC" | u32 1 | SHA-256 of the payload (32) | u64 payload length |
 *   payload = source hash (8) | canonical marshal data
 * An entry is written to a temporary file (O_EXCL, so processes and
 * machines sharing the directory over NFS never write the same file) and
 * renamed into place; readers check the length and the checksum, and a
 * damaged entry is a miss, removed.  A hit sets the entry's mtime, so the
 * least recently used entries go first when --cache-max-size trims.
 * Server hellos are kept in DIR/v1/servers/.
 */
#define _GNU_SOURCE /* utimensat, strndup */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "lazy_libs.h"
#include "canonical.h"
#include "protocol.h"
#include "files.h"

#define MAGIC "PCRC"
#define HEAD (4 + 4 + 32 + 8)

static void
sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

static void
hex(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void
pcr_cache_make_key(const pcr *p, int py, const char *record, int level,
                   const unsigned char *src, size_t len, pcr_cache_key *key)
{
    const pcr_python *v = &p->py[py];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char head[64];
    unsigned int n = 32;
    /* every variable field preceded by its length: no two key tuples
     * give the same stream */
    pcr_put_le32(head, PCR_CANONICAL_FORM);
    pcr_put_le32(head + 4, v->magic);
    pcr_put_le32(head + 8, (uint32_t)level);
    pcr_put_le32(head + 12, (uint32_t)strlen(v->build ? v->build : ""));
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, "pycompile-repro cache 1", 23);
    EVP_DigestUpdate(ctx, head, 16);
    EVP_DigestUpdate(ctx, v->build ? v->build : "",
                     strlen(v->build ? v->build : ""));
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

static char *
entry_path(const pcr *p, const pcr_cache_key *key)
{
    char h[65];
    hex(key->sha, 32, h);
    size_t n = strlen(p->cache_dir) + 80;
    char *path = malloc(n);
    if (path != NULL) {
        snprintf(path, n, "%s/v1/%.2s/%s", p->cache_dir, h, h + 2);
    }
    return path;
}

static int
read_all(const char *path, pcr_buf *out)
{
    pcr_source s;
    if (pcr_source_read(path, PCR_MAX_SOURCE * 8, &s, NULL) != PCR_OK) {
        return 0;
    }
    *out = s.bytes;
    return 1;
}

int
pcr_cache_get(pcr *p, const pcr_cache_key *key, pcr_buf *body,
              unsigned char hash[8])
{
    body->data = NULL;
    body->len = 0;
    char *path = entry_path(p, key);
    pcr_buf f = {0};
    int ok = path != NULL && read_all(path, &f);
    if (ok) {
        unsigned char sum[32];
        uint64_t n = f.len >= HEAD ? (uint64_t)pcr_le32(f.data + 40) |
                                         (uint64_t)pcr_le32(f.data + 44) << 32
                                   : 0;
        ok = f.len >= HEAD + 8 && memcmp(f.data, MAGIC, 4) == 0 &&
             pcr_le32(f.data + 4) == 1 && n == f.len - HEAD;
        if (ok) {
            sha256(f.data + HEAD, f.len - HEAD, sum);
            ok = memcmp(sum, f.data + 8, 32) == 0;
        }
        if (!ok) {
            unlink(path); /* damaged: a miss, and gone */
            p->cache_damaged++;
        }
    }
    if (ok) {
        memcpy(hash, f.data + HEAD, 8);
        body->len = f.len - HEAD - 8;
        body->data = malloc(body->len ? body->len : 1);
        if (body->data == NULL) {
            ok = 0;
        } else {
            memcpy(body->data, f.data + HEAD + 8, body->len);
            /* least recently used: a hit is a use */
            struct timespec now[2] = {{.tv_nsec = UTIME_OMIT},
                                      {.tv_nsec = UTIME_NOW}};
            utimensat(AT_FDCWD, path, now, 0);
        }
    }
    pcr_buf_free(&f);
    free(path);
    if (ok) {
        p->cache_hits++;
    } else {
        p->cache_misses++;
    }
    return ok;
}

void
pcr_cache_put(pcr *p, const pcr_cache_key *key, const pcr_buf *body,
              const unsigned char hash[8])
{
    char *path = entry_path(p, key);
    pcr_wbuf w = {0};
    pcr_wbuf_bytes(&w, MAGIC, 4);
    pcr_wbuf_u32(&w, 1);
    unsigned char zero[32] = {0};
    pcr_wbuf_bytes(&w, zero, 32);
    uint64_t n = 8 + (uint64_t)body->len;
    pcr_wbuf_u32(&w, (uint32_t)n);
    pcr_wbuf_u32(&w, (uint32_t)(n >> 32));
    pcr_wbuf_bytes(&w, hash, 8);
    pcr_wbuf_bytes(&w, body->data, body->len);
    pcr_error err;
    if (path != NULL && !w.failed) {
        sha256(w.data + HEAD, w.len - HEAD, w.data + 8);
        if (pcr_write_atomic(path, w.data, w.len, 0644 | PCR_EXACT_MODE,
                             &err) == PCR_OK) {
            p->cache_written++;
        } else {
            p->cache_errors++;
        }
    }
    pcr_wbuf_free(&w);
    free(path);
}

/* ------------------------------------------------------------ hellos */

static char *
hello_path(const pcr *p, int py)
{
    const pcr_python *v = &p->py[py];
    struct stat st;
    if (stat(v->path, &st) != 0) {
        return NULL;
    }
    char id[4200];
    int k =
        snprintf(id, sizeof id, "%s|%llu|%llu|%llu|%lld.%09ld", v->path,
                 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                 (unsigned long long)st.st_size, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec);
    unsigned char sum[32];
    sha256(id, (size_t)k, sum);
    char h[65];
    hex(sum, 32, h);
    size_t n = strlen(p->cache_dir) + 100;
    char *path = malloc(n);
    if (path != NULL) {
        snprintf(path, n, "%s/v1/servers/%s", p->cache_dir, h);
    }
    return path;
}

int
pcr_cache_get_hello(pcr *p, int py)
{
    char *path = hello_path(p, py);
    pcr_buf f = {0};
    int ok = path != NULL && read_all(path, &f);
    free(path);
    if (!ok) {
        return 0;
    }
    pcr_rbuf r = {f.data, f.data + f.len, 0};
    uint32_t form = pcr_rbuf_u32(&r), magic = pcr_rbuf_u32(&r);
    size_t vl, bl, tl;
    const unsigned char *ver = pcr_rbuf_blob(&r, &vl);
    const unsigned char *build = pcr_rbuf_blob(&r, &bl);
    const unsigned char *tag = pcr_rbuf_blob(&r, &tl);
    pcr_python *v = &p->py[py];
    ok = !r.bad && form == PCR_CANONICAL_FORM && tl == strlen(v->tag) &&
         memcmp(tag, v->tag, tl) == 0 && vl < sizeof v->version;
    if (ok) {
        v->magic = magic;
        v->canonical_form = (int)form;
        snprintf(v->version, sizeof v->version, "%.*s", (int)vl, ver);
        free(v->build);
        v->build = strndup((const char *)build, bl);
        v->started = v->build != NULL;
        ok = v->started;
    }
    pcr_buf_free(&f);
    return ok;
}

void
pcr_cache_put_hello(pcr *p, int py)
{
    const pcr_python *v = &p->py[py];
    char *path = hello_path(p, py);
    pcr_wbuf w = {0};
    pcr_wbuf_u32(&w, (uint32_t)v->canonical_form);
    pcr_wbuf_u32(&w, v->magic);
    pcr_wbuf_blob(&w, v->version, strlen(v->version));
    pcr_wbuf_blob(&w, v->build ? v->build : "",
                  v->build ? strlen(v->build) : 0);
    pcr_wbuf_blob(&w, v->tag, strlen(v->tag));
    pcr_error err;
    if (path != NULL && !w.failed) {
        pcr_write_atomic(path, w.data, w.len, 0644 | PCR_EXACT_MODE, &err);
    }
    pcr_wbuf_free(&w);
    free(path);
}

/* ------------------------------------------------------------- trim */

struct ent {
    int64_t mtime;
    uint64_t size;
    char *path;
};

static int
by_mtime(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    if (x->mtime != y->mtime) {
        return x->mtime < y->mtime ? -1 : 1;
    }
    return strcmp(x->path, y->path);
}

void
pcr_cache_finish(pcr *p)
{
    if (p->cache_dir == NULL || (!p->cache_max && !p->cache_want_stats)) {
        return;
    }
    struct ent *v = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    char dir[4200];
    for (int b = 0; b < 256; b++) {
        snprintf(dir, sizeof dir, "%s/v1/%02x", p->cache_dir, b);
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strlen(e->d_name) != 62) {
                continue; /* ".", "..", temporary files */
            }
            char path[4300];
            struct stat st;
            if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >=
                    (int)sizeof path ||
                lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
                continue;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                struct ent *nv = realloc(v, cap * sizeof *nv);
                if (nv == NULL) {
                    break;
                }
                v = nv;
            }
            v[n].mtime =
                (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
            v[n].size = (uint64_t)st.st_size;
            v[n].path = strdup(path);
            total += v[n].size;
            n++;
        }
        if (d != NULL) {
            closedir(d);
        }
    }
    if (p->cache_max && total > p->cache_max && n > 0) {
        qsort(v, n, sizeof *v, by_mtime);
        uint64_t goal = p->cache_max / 10 * 9;
        for (size_t i = 0; i < n && total > goal; i++) {
            if (v[i].path != NULL && unlink(v[i].path) == 0) {
                total -= v[i].size;
                p->cache_trimmed++;
                v[i].size = 0;
            }
        }
    }
    p->cache_entries = 0;
    for (size_t i = 0; i < n; i++) {
        p->cache_entries += v[i].size != 0;
        free(v[i].path);
    }
    p->cache_bytes = total;
    free(v);
}
