/* SPDX-License-Identifier: MIT */
/*
 * cache.h - the content-addressed cache of compiled code (cache.c), in
 * the manner of ccache, over a storage backend (cache_dir.c: a local or
 * NFS directory; others plug in through pcr_cache_backend).
 *
 * An entry is the canonical marshal data of one source at one level,
 * with CPython's source hash beside it.  Its key is the SHA-256 of the
 * canonical form version, the server's exact CPython build string and
 * magic number, the level, the recorded file name and the source bytes.
 * The entry carries its key and a checksum of its content, and a hit
 * needs all three to hold (plus the source hash, where the front end can
 * compute it): an entry at another key's path, a damaged one, or one
 * made for other source bytes is a miss.
 *
 * The pipeline calls the cache in two places only, both steps of the job
 * loop, never inside a server's reply callback: a lookup before a source
 * is sent to a server, and a store after its reply is checked.
 */
#ifndef PCR_CACHE_H
#define PCR_CACHE_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "common.h"
#include "pythons.h"

typedef struct pcr_cache_key {
    unsigned char sha[32];
} pcr_cache_key;

/* A storage backend: opaque blobs by key.  Each call returns a status;
 * the cache layer counts, checks and never fails a run on its account. */
typedef struct pcr_cache_backend {
    const char *name;
    /* 1 and the blob (malloc'd) on a hit, 0 on a miss. */
    int (*get)(void *self, const pcr_cache_key *key, pcr_buf *blob);
    pcr_status (*put)(void *self, const pcr_cache_key *key,
                      const unsigned char *blob, size_t len, pcr_error *err);
    /* The entry is bad (wrong key, checksum, size): remove it if ours. */
    void (*drop)(void *self, const pcr_cache_key *key);
    /* Remove least recently used entries down to max (0: no limit) and
     * count what is left. */
    pcr_status (*trim)(void *self, uint64_t max, uint64_t *entries,
                       uint64_t *bytes, uint64_t *trimmed, pcr_error *err);
    /* Remove every entry. */
    pcr_status (*clear)(void *self, uint64_t *removed, pcr_error *err);
    void (*close)(void *self);
} pcr_cache_backend;

/* A cache over a backend (self is the backend's, closed with the cache);
 * max_size bytes (0: no limit). */
pcr_cache *pcr_cache_new(const pcr_cache_backend *ops, void *self,
                         uint64_t max_size);
/* The local-directory backend: NULL with a message when dir is not safe
 * to trust, shared (another owner, group-writable) only when allowed
 * (cache_dir.c). */
pcr_cache *pcr_cache_open_dir(const char *dir, uint64_t max_size, int shared,
                              pcr_error *err);
void pcr_cache_free(pcr_cache *c);

void pcr_cache_make_key(const pcr_python *py, const char *record, int level,
                        const unsigned char *src, size_t len,
                        pcr_cache_key *key);
/* 1 on a hit (body malloc'd, hash filled); 0 on a miss. */
int pcr_cache_get(pcr_cache *c, const pcr_cache_key *key, const pcr_python *py,
                  const unsigned char *src, size_t len, pcr_buf *body,
                  unsigned char hash[8]);
/* Store an entry; failures are counted, never fatal. */
void pcr_cache_put(pcr_cache *c, const pcr_cache_key *key, const pcr_buf *body,
                   const unsigned char hash[8]);
/* What a compile server's hello said, kept under the identity of its
 * files (its path, inode, size and times; the loader's variables, library
 * directories and cache), so that a run whose every source is in the cache
 * starts no interpreter (cache.c).  The record names the libpython the
 * server mapped, with that file's identity, and holds only while the same
 * file is there: an upgraded libpython under the same server is a miss.
 * get: the key (kept for put and drop); 1 and py's facts filled
 * (py->identified set: a later hello must agree), 0 when unknown.  put:
 * after a real hello, only while the key and the libpython are what they
 * were when the server started.  drop: a hello disagreed. */
int pcr_cache_get_server(pcr_cache *c, pcr_python *py, pcr_cache_key *key);
void pcr_cache_put_server(pcr_cache *c, const pcr_python *py,
                          const pcr_cache_key *key);
void pcr_cache_drop_server(pcr_cache *c, const pcr_cache_key *key);
/* After a run: trimmed to the maximum size, and counted when asked. */
void pcr_cache_finish(pcr_cache *c, int want_totals);
/* Counters: reset when a run starts. */
void pcr_cache_begin_run(pcr_cache *c);
uint64_t pcr_cache_counter_get(const pcr_cache *c, pcr_cache_counter which);
const char *pcr_cache_counter_label(pcr_cache_counter which);
pcr_status pcr_cache_remove_all(pcr_cache *c, pcr_error *err);
/* A backend's notice for the user (a read-only directory, a bad bucket):
 * the first kept, then handed out once (the handle opens the cache
 * afresh for each run: once a run). */
void pcr_cache_warn(pcr_cache *c, const char *msg);
const char *pcr_cache_take_warning(pcr_cache *c);

#endif
