/* SPDX-License-Identifier: MIT */
/*
 * engine.h - compile servers and the requests sent to them (engine.c).
 *
 * A pool of servers serves one (Python version, round): round 0 is the
 * normal compile (hash seed 0), round r >= 1 is --verify's r-th
 * independent compile (hash seed r, its own processes, requests taken in
 * another order), and round PCR_ROUND_AUX is a lone server for -x that
 * compiles nothing.  Requests are queued per pool and handed to an idle
 * server; replies come back through a callback, in the calling thread,
 * from pcr_engine_step.
 *
 * An engine belongs to a handle and outlives runs: between
 * pcr_engine_begin and pcr_engine_end it serves one run; after it, its
 * servers stay up, idle, for the next run.  pcr_engine_free stops them.
 */
#ifndef PCR_ENGINE_H
#define PCR_ENGINE_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "common.h"
#include "header.h"
#include "protocol.h"
#include "pythons.h"

#define PCR_ROUND_AUX (-1)
/* Consecutive deaths of a pool's servers, each while working on a request
 * and without any reply between, after which the pool fails. */
#define PCR_MAX_DEATHS 3

typedef struct pcr_engine pcr_engine;

typedef struct pcr_reply {
    pcr_status status; /* PCR_FAIL: this source; PCR_ENV: trouble */
    char *message;     /* what went wrong (status != PCR_OK) */
    int have_hash;
    unsigned char hash[8];
    int nbodies;
    pcr_buf body[PCR_MAX_LEVELS]; /* canonical marshal data, per level */
    char *warnings;         /* CPython's warnings while compiling, or "" */
    unsigned char *matches; /* REGEX: one byte per path */
    size_t nmatches;
} pcr_reply;

/* Called once per request; it may take (and NULL) the reply's buffers,
 * and may submit more requests. */
typedef void (*pcr_reply_fn)(void *ctx, pcr_reply *reply);

typedef struct pcr_request {
    int kind;  /* PCR_MSG_COMPILE, PCR_MSG_HASH or PCR_MSG_REGEX */
    int py;    /* index into the pythons table */
    int round; /* 0, a --verify round, or PCR_ROUND_AUX */
    int want_hash;
    int nlevels;
    int levels[PCR_MAX_LEVELS];
    const char *name;         /* recorded file name */
    const unsigned char *src; /* borrowed until the callback */
    size_t len;
    const char *pattern; /* REGEX */
    char *const *paths;
    size_t npaths;
    pcr_reply_fn done;
    void *ctx;
} pcr_request;

/* What one run asks of the servers. */
typedef struct pcr_engine_run {
    int servers;           /* per pool (version and round) */
    uint64_t memory_limit; /* per source compiled (0: none) */
} pcr_engine_run;

/* An engine for the servers of py (whose hello facts it fills in). */
pcr_engine *pcr_engine_new(pcr_pythons *py);
/* Stop every server and free (NULL: nothing). */
void pcr_engine_free(pcr_engine *e);
/* A run starts: servers started for another memory limit are stopped,
 * and pools that failed in an earlier run may try again. */
void pcr_engine_begin(pcr_engine *e, const pcr_engine_run *run);
/* A run ends: with abort (or requests left), the servers still working
 * are killed and the queues dropped; idle servers stay up. */
void pcr_engine_end(pcr_engine *e, int abort);
/* Start the first server of python py's pools for rounds 0..rounds-1
 * without waiting for it, so that its start-up overlaps the caller's work
 * (a failure to start is reported by the hello or the first request). */
void pcr_engine_prestart(pcr_engine *e, int py, int rounds);
/* Start python py's first server if none is up and wait for its hello:
 * afterwards py's table entry holds its magic number and versions. */
pcr_status pcr_engine_hello(pcr_engine *e, int py, pcr_error *err);
pcr_status pcr_engine_submit(pcr_engine *e, const pcr_request *rq,
                             pcr_error *err);
/* Wait for I/O and handle it (replies run their callbacks), at most
 * timeout_ms (-1: until something happens).  PCR_ENV on trouble that
 * ends the run. */
pcr_status pcr_engine_step(pcr_engine *e, int timeout_ms, pcr_error *err);
/* Requests queued or in flight. */
size_t pcr_engine_pending(const pcr_engine *e);
/* Servers running (all pools). */
int pcr_engine_servers(const pcr_engine *e);
void pcr_reply_clear(pcr_reply *r);

#endif
