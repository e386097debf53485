/* SPDX-License-Identifier: MIT */
/*
 * handle.h - the handle (struct pcr): the caller's settings, the last
 * error, and what outlives a run: the compile servers found and started
 * (the engine keeps them warm from one run to the next), the cache, and
 * the events handed to the caller.  A run never reads the settings: it
 * gets a plan made from them (plan.c).
 */
#ifndef PCR_HANDLE_H
#define PCR_HANDLE_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include <stdio.h>

#include "common.h"
#include "header.h"
#include "plan.h"
#include "pythons.h"

typedef struct pcr_engine pcr_engine;

/* What the setters set (handle.c); pcr_reset puts it back to defaults. */
typedef struct pcr_settings {
    int levels[PCR_MAX_LEVELS];
    int nlevels; /* 0: level 0 */
    pcr_invalidation mode;
    int mode_set;
    char *ddir, *strip, *prepend;
    int force, legacy, hardlink_dupes, include_sources, sourceless,
        no_verify_record, clamp_mtime, all_tags, canonicalize_existing,
        allow_no_compiler;
    int workers;
    int verify;
    uint64_t memory_limit;
    int64_t epoch; /* -1: none */
    int maxlevels;
    char *exclude, *limit_sl_dest;
    char *pycache_prefix; /* sys.pycache_prefix, or NULL */
    pcr_operand *operands;
    size_t noperands;
    char **restrict_dirs;
    size_t nrestrict;
    char *tar_out, *tar_base, *wheel_in, *wheel_out;
    FILE *dump;
    char **pythons; /* "X.Y" asked for (checked when added) */
    size_t npythons;
    int want_all;
} pcr_settings;

struct pcr {
    pcr_error err;
    pcr_settings set;
    /* the servers: found once (again after pcr_set_server_dir), started
     * by the engine, which keeps them between runs */
    char *server_dir;
    int discovered;
    int running; /* inside pcr_run: setters refuse */
    pcr_pythons py;
    pcr_engine *engine;
    /* the content-addressed cache (cache.c): opened and checked at the
     * start of each run that uses it (and by pcr_cache_clear), kept for
     * its counters until the next; refused (with a warning) when the
     * directory is not safe to trust */
    char *cache_dir;
    uint64_t cache_max;
    int cache_shared;
    int cache_want_totals;
    pcr_cache *cache;
    char *cache_refused; /* why it was refused, or NULL */
};

pcr_status pcr_fail(pcr *p, pcr_status st, const char *fmt, ...)
    PCR_PRINTF(3, 4);
/* Find the servers once; PCR_ENV with p->err filled when there is none. */
pcr_status pcr_discover(pcr *p);
/* The handle's engine, made when first needed (NULL: out of memory). */
pcr_engine *pcr_handle_engine(pcr *p);
/* The cache for a run, opened (made when missing) and checked afresh:
 * NULL when none is set, or when it is refused (*why then says why). */
pcr_cache *pcr_handle_cache(pcr *p, const char **why);

/* The plan of one run (plan.c): p's settings resolved (levels, versions,
 * working directory, ...).  PCR_ENV with a message on trouble. */
pcr_status pcr_plan_make(pcr *p, pcr_verb verb, pcr_plan *plan,
                         pcr_error *err);

/* ------------------------------------------------------------ events */

struct pcr_event {
    pcr_event_type kind;
    size_t index;
    const char *source, *pyc, *python, *message;
    int level;
    pcr_outcome outcome;
    pcr_check_class cls;
    pcr_status status;
    int changed;
    size_t done, total;
};

/* py_compile's default mode: CHECKED_HASH when SOURCE_DATE_EPOCH is set
 * and not empty. */
pcr_invalidation pcr_default_invalidation(void);

#endif
