/* SPDX-License-Identifier: MIT */
/*
 * plan.h - one run's plan (plan.c): everything a run needs to know,
 * taken from the handle's settings when pcr_run starts and never changed
 * after.  Verbs and stages read the plan; none of them sees the handle's
 * settings, and nothing edits them during a run.  A verb that needs other
 * values (a wheel: one version, hash-based .pyc) makes a copy of the plan
 * with those fields changed.
 */
#ifndef PCR_PLAN_H
#define PCR_PLAN_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include <stdio.h>

#include "common.h"
#include "header.h" /* PCR_MAX_LEVELS */
#include "walk.h"

typedef struct pcr_cache pcr_cache;
typedef struct pcr_pythons pcr_pythons;

typedef enum pcr_target {
    PCR_TARGET_TREE = 0, /* .pyc files beside the sources */
    PCR_TARGET_TAR,      /* a tar of them */
    PCR_TARGET_WHEEL     /* a wheel with them */
} pcr_target;

typedef struct pcr_plan {
    pcr_verb verb;
    pcr_target target;
    /* what to write */
    int levels[PCR_MAX_LEVELS]; /* sorted, at least one */
    int nlevels;
    pcr_invalidation mode;
    int mode_set; /* asked for, not py_compile's default */
    const char *ddir, *strip, *prepend;
    int force, legacy, hardlink_dupes, include_sources, sourceless,
        no_verify_record, clamp_mtime, all_tags, canonicalize_existing,
        allow_no_compiler;
    int servers; /* per Python version and round */
    int rounds;  /* compiles per source: 1, or --verify's N */
    uint64_t memory_limit;
    int64_t epoch; /* SOURCE_DATE_EPOCH, -1: none */
    /* what to read */
    pcr_walk walk;
    const char *exclude; /* -x */
    const pcr_operand *operands;
    size_t noperands;
    char **restrict_dirs; /* absolute, lexically normalised (owned) */
    size_t nrestrict;
    const char *tar_out, *tar_base, *wheel_in, *wheel_out;
    FILE *dump;
    /* which Python versions: every one, the ones asked for, or by path */
    const pcr_pythons *py;
    unsigned char *want; /* per python: asked for (owned; NULL if none) */
    int want_all;
    int only_py; /* >= 0: this one alone (a wheel's) */
    char *cwd;   /* the working directory when the run started (owned) */
    /* sys.pycache_prefix (not for -b, archives or a given .pyc name), and
     * os.getcwd(), the physical working directory importlib joins a
     * relative source's directory to (owned) */
    const char *pycache_prefix;
    char *phys_cwd;
    pcr_cache *cache; /* or NULL */
} pcr_plan;

/* Release what the plan owns (the plan itself is the caller's). */
void pcr_plan_free(pcr_plan *plan);

#endif
