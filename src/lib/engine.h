/* SPDX-License-Identifier: MIT */
/*
 * engine.h - compile servers and the requests sent to them (engine.c).
 * Not installed.
 *
 * A pool of servers serves one (Python version, round): round 0 is the
 * normal compile (hash seed 0), round r >= 1 is --verify's r-th
 * independent compile (hash seed r, its own fresh processes, requests
 * taken in another order), and round PCR_ROUND_AUX is a lone server for
 * -x that compiles nothing.  Requests are queued per pool and handed to
 * an idle server; replies come back through a callback, in the calling
 * thread, from pcr_engine_step.
 */
#ifndef PCR_ENGINE_H
#define PCR_ENGINE_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "handle.h"
#include "protocol.h"

#define PCR_ROUND_AUX (-1)

typedef struct pcr_engine pcr_engine;

typedef struct pcr_reply {
    pcr_status status; /* PCR_FAIL: this source; PCR_ENV: trouble */
    char *message;     /* what went wrong (status != PCR_OK) */
    int have_hash;
    unsigned char hash[8];
    int nbodies;
    pcr_buf body[3];        /* canonical marshal data, one per level */
    char *warnings;         /* CPython's warnings while compiling, or "" */
    unsigned char *matches; /* REGEX: one byte per path */
    size_t nmatches;
} pcr_reply;

/* Called once per request; it may take (and NULL) the reply's buffers,
 * and may submit more requests. */
typedef void (*pcr_reply_fn)(void *ctx, pcr_reply *reply);

typedef struct pcr_request {
    int kind;  /* PCR_MSG_COMPILE, PCR_MSG_HASH or PCR_MSG_REGEX */
    int py;    /* index into p->py */
    int round; /* 0, a --verify round, or PCR_ROUND_AUX */
    int want_hash;
    int nlevels;
    int levels[3];
    const char *name;         /* recorded file name */
    const unsigned char *src; /* borrowed until the callback */
    size_t len;
    const char *pattern; /* REGEX */
    char *const *paths;
    size_t npaths;
    pcr_reply_fn done;
    void *ctx;
} pcr_request;

/* servers: per pool (0: pcr_servers_per_round). */
pcr_engine *pcr_engine_new(pcr *p, int servers);
/* Servers per (version, round): -j N, or for -j 0 the CPUs shared among
 * the --verify rounds (at least one). */
int pcr_servers_per_round(const pcr *p);
/* Stop every server (killing them when abort is set) and free. */
void pcr_engine_free(pcr_engine *e, int abort);
/* Start the first server of python py's pools for rounds 0..rounds-1
 * without waiting for it, so that its start-up overlaps the caller's work
 * (a failure to start is reported by the hello or the first request). */
void pcr_engine_prestart(pcr_engine *e, int py, int rounds);
/* Start python py's first server and wait for its hello: afterwards
 * p->py[py] holds its magic number and versions. */
pcr_status pcr_engine_hello(pcr_engine *e, int py, pcr_error *err);
pcr_status pcr_engine_submit(pcr_engine *e, const pcr_request *rq,
                             pcr_error *err);
/* Wait for I/O and handle it (replies run their callbacks).  PCR_ENV on
 * trouble that ends the run. */
pcr_status pcr_engine_step(pcr_engine *e, pcr_error *err);
/* Requests queued or in flight. */
size_t pcr_engine_pending(const pcr_engine *e);
void pcr_reply_clear(pcr_reply *r);

#endif
