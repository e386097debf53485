/* SPDX-License-Identifier: MIT */
/*
 * run.h - one pcr_run: the jobs, the servers, and the loop that opens
 * jobs largest first and hands their events to the caller in job order
 * (run.c).  The verbs (verb_*.c) plug in through struct pcr_verb_ops.
 * Not installed.
 */
#ifndef PCR_RUN_H
#define PCR_RUN_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "engine.h"
#include "handle.h"
#include "walk.h"

#define PCR_MAX_PY 16 /* versions one source is compiled for */

typedef struct pcr_runner pcr_runner;

typedef struct pcr_verb_ops {
    /* Start job i (called largest first).  The verb calls pcr_run_finish
     * when the job is complete, now or from a reply callback. */
    pcr_status (*open)(pcr_runner *r, size_t i);
    /* Emit job i's events and free its state (called in job order). */
    void (*deliver)(pcr_runner *r, size_t i);
} pcr_verb_ops;

struct pcr_runner {
    pcr *p;
    pcr_engine *eng;
    pcr_jobs jobs;
    pcr_callback cb;
    void *user;
    const pcr_verb_ops *ops;
    void *vstate; /* the verb's */
    void *outer;  /* the archive verbs', around compile_jobs */
    uint8_t *finished;
    size_t nfinished, delivered, open;
    uint64_t open_bytes;
    int start_rounds;     /* servers to start in the walk: rounds (0: no) */
    unsigned char *early; /* per python: its servers were started */
    int nearly;           /* how many of them */
    int failed;           /* some item failed or differs: PCR_FAIL */
    int trouble;          /* PCR_ENV seen */
    pcr_error err;
};

/* Walk the operands into r->jobs, applying restrictions and -x.  With
 * r->start_rounds set, the first server of each version (and --verify
 * round) a source needs starts as soon as the walk finds that source. */
pcr_status pcr_run_collect(pcr_runner *r, const char *suffix,
                           int into_pycache);
/* Start the first server of each Python version the jobs need. */
pcr_status pcr_run_hello(pcr_runner *r, int py);
/* Open every job and deliver them all. */
pcr_status pcr_run_jobs(pcr_runner *r);
void pcr_run_finish(pcr_runner *r, size_t i);
void pcr_run_emit(pcr_runner *r, const pcr_event *ev);
/* Event helpers. */
void pcr_run_emit_source(pcr_runner *r, size_t i, int py, pcr_outcome oc,
                         pcr_status st, const char *msg);
void pcr_run_emit_pyc(pcr_runner *r, size_t i, const char *source,
                      const char *pyc, int py, int level, pcr_check_class cls,
                      const char *detail);

/* The verbs (verb_*.c). */
pcr_status pcr_verb_compile(pcr_runner *r);
pcr_status pcr_verb_check(pcr_runner *r);
pcr_status pcr_verb_canonicalize(pcr_runner *r);
pcr_status pcr_verb_dump(pcr_runner *r);
pcr_status pcr_verb_remove(pcr_runner *r);
pcr_status pcr_verb_tar(pcr_runner *r);
pcr_status pcr_verb_check_tar(pcr_runner *r);
pcr_status pcr_verb_wheel(pcr_runner *r);
pcr_status pcr_verb_check_wheel(pcr_runner *r);

#endif
