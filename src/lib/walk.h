/* SPDX-License-Identifier: MIT */
/*
 * walk.h - compileall's walk of the operands into jobs (tree_walk.c).
 */
#ifndef PCR_WALK_H
#define PCR_WALK_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "common.h"

typedef struct pcr_job {
    char *path;    /* as compileall builds it: os.path.join(dir, name) */
    char *relpath; /* relative to the directory operand; NULL for a file */
    uint64_t size; /* for scheduling the largest first */
    char *error;   /* the walk could not look at it */
    int skip;      /* filtered out by -x, -e or a restriction */
    int link;      /* a symlink (for -e) */
    char *record;  /* pcr_add_file: the recorded name, or NULL */
    char *pyc;     /* pcr_add_file: where the .pyc goes, or NULL */
} pcr_job;

typedef struct pcr_jobs {
    pcr_job *v;
    size_t n, cap;
} pcr_jobs;

typedef struct pcr_walk {
    int maxlevels;             /* directory depth (compileall -r) */
    const char *limit_sl_dest; /* -e */
    const char *suffix;        /* files kept in directories: ".py" */
    int into_pycache;          /* walk __pycache__ too (for .pyc files) */
    /* Told of each source kept, while the walk goes on (may be NULL). */
    void (*found)(void *ctx, const char *path);
    void *found_ctx;
} pcr_walk;

pcr_status pcr_jobs_add(pcr_jobs *jobs, const char *operand,
                        const pcr_walk *wo, pcr_error *err);
void pcr_jobs_free(pcr_jobs *jobs);

#endif
