/* SPDX-License-Identifier: MIT */
/*
 * run.h - one pcr_run: the loop that takes jobs from a source into a
 * bounded window, opens them largest first, runs the steps they defer,
 * drives the compile servers, and hands their events to the caller in job
 * order (run.c).  The verbs (verb_*.c) plug in through pcr_verb_ops.
 */
#ifndef PCR_RUN_H
#define PCR_RUN_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "cache.h"
#include "engine.h"
#include "handle.h"
#include "plan.h"
#include "walk.h"

typedef struct pcr_runner pcr_runner;

typedef struct pcr_verb_ops {
    /* Start job i (jobs are opened largest first).  The verb calls
     * pcr_run_finish when the job is complete, now or later. */
    pcr_status (*open)(pcr_runner *r, size_t i);
    /* Emit job i's events and free its state (in job order). */
    void (*deliver)(pcr_runner *r, size_t i);
    /* Free job i's state after an abort (it will not be delivered). */
    void (*drop)(pcr_runner *r, size_t i);
} pcr_verb_ops;

typedef struct pcr_slot pcr_slot;
/* What run.c knows of a version from the cache's record of its server. */
typedef struct pcr_known {
    unsigned char state; /* KNOWN_* (run.c) */
    pcr_cache_key key;   /* the record's, taken before its servers start */
} pcr_known;
typedef struct pcr_step pcr_step;

struct pcr_runner {
    const pcr_plan *plan;
    pcr_pythons *py; /* the plan's, with the hello facts the engine fills */
    pcr_engine *eng;
    pcr_cache *cache; /* the plan's, or NULL */
    pcr_callback cb;
    void *user;
    const pcr_verb_ops *ops;
    void *vstate; /* the verb's */
    void *outer;  /* the archive verbs', around compile_jobs */
    /* the window: jobs first .. next-1, at most cap of them */
    pcr_job_source src;
    pcr_slot *ring;
    size_t cap, first, next;
    size_t *heap; /* jobs not opened yet, largest on top */
    size_t nheap;
    size_t open, nfinished;
    uint64_t open_bytes;
    int source_done;
    pcr_step *steps, *steps_tail; /* deferred work (pcr_run_defer) */
    int start_rounds;     /* servers to start as sources appear (0: no) */
    unsigned char *early; /* per python: its servers were started */
    int nearly;
    pcr_known *known; /* per python: from the cache? (run.c) */
    int failed;       /* some item failed or differs: PCR_FAIL */
    int trouble;      /* PCR_ENV seen */
    pcr_error err;
};

/* Job i, while it is in the window. */
pcr_job *pcr_run_job(pcr_runner *r, size_t i);
/* The verb's state of job i (a slot for a pointer). */
void **pcr_run_state(pcr_runner *r, size_t i);

/* Run every job of src through ops, delivering them all.  With
 * r->start_rounds set, the first server of each version (and --verify
 * round) a source needs starts as soon as the source is found.  -x,
 * -e and directory restrictions are applied as jobs arrive. */
pcr_status pcr_run_jobs(pcr_runner *r, pcr_job_source src,
                        const pcr_verb_ops *ops);
/* The tree's jobs: a walk of the plan's operands, for files ending in
 * suffix (into __pycache__ too when asked). */
pcr_status pcr_run_tree(pcr_runner *r, const char *suffix, int into_pycache,
                        const pcr_verb_ops *ops);
void pcr_run_finish(pcr_runner *r, size_t i);
/* Work to do in the loop, outside every server's reply callback: fn(r,
 * arg) runs before the loop next waits for the servers.  PCR_ENV from fn
 * ends the run. */
pcr_status pcr_run_defer(pcr_runner *r,
                         pcr_status (*fn)(pcr_runner *r, void *arg),
                         void *arg);
/* Start the first server of version py if none is up, and wait for its
 * hello (its magic number and build). */
pcr_status pcr_run_hello(pcr_runner *r, int py);

void pcr_run_emit(pcr_runner *r, const pcr_event *ev);
/* Event helpers. */
void pcr_run_emit_source(pcr_runner *r, size_t i, int py, pcr_outcome oc,
                         pcr_status st, const char *msg);
void pcr_run_emit_pyc(pcr_runner *r, size_t i, const char *source,
                      const char *pyc, int py, int level, pcr_check_class cls,
                      const char *detail);
void pcr_run_warning(pcr_runner *r, const char *msg);

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
