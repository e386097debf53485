/* SPDX-License-Identifier: MIT */
/*
 * cache.h - the content-addressed store of compiled bodies (cache.c), in
 * the manner of ccache.  Not installed.
 *
 * An entry is the canonical marshal data of one source at one level,
 * with CPython's source hash beside it; its key is the SHA-256 of the
 * canonical form version, the server's exact CPython build string, the
 * magic number, the level, the recorded file name and the source bytes.
 * A hit needs no compile server at all.
 */
#ifndef PCR_CACHE_H
#define PCR_CACHE_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "handle.h"

typedef struct pcr_cache_key {
    unsigned char sha[32];
} pcr_cache_key;

void pcr_cache_make_key(const pcr *p, int py, const char *record, int level,
                        const unsigned char *src, size_t len,
                        pcr_cache_key *key);
/* 1 on a hit (body malloc'd, hash filled); 0 on a miss, including a
 * damaged entry (which is removed). */
int pcr_cache_get(pcr *p, const pcr_cache_key *key, pcr_buf *body,
                  unsigned char hash[8]);
/* Store an entry; failures are counted, never fatal. */
void pcr_cache_put(pcr *p, const pcr_cache_key *key, const pcr_buf *body,
                   const unsigned char hash[8]);
/* A server's hello, kept per server binary (path, inode, size, mtime), so
 * a warm cache starts no server.  1 if p->py[py] was filled. */
int pcr_cache_get_hello(pcr *p, int py);
void pcr_cache_put_hello(pcr *p, int py);
/* After a run: least recently used entries removed down to 90% of the
 * maximum size, and the totals counted (when stats or a maximum ask). */
void pcr_cache_finish(pcr *p);

#endif
