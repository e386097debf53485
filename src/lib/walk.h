/* SPDX-License-Identifier: MIT */
/*
 * walk.h - the jobs of a run: compileall's walk of the operands, one
 * source at a time (tree_walk.c), or a list made in advance (an archive's
 * sources); both read through one pcr_job_source.
 */
#ifndef PCR_WALK_H
#define PCR_WALK_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "common.h"

typedef struct pcr_job {
    char *path;          /* as compileall builds it: os.path.join(dir,
                            name) (owned) */
    const char *relpath; /* relative to the directory operand: a suffix of
                            path; NULL for a file operand */
    uint64_t size;       /* for scheduling the largest first */
    char *error;         /* the walk could not look at it (owned) */
    unsigned skip : 1;   /* filtered out by -x, -e or a restriction */
    const char *record;  /* pcr_add_file: the recorded name, or NULL */
    const char *pyc;     /* pcr_add_file: where the .pyc goes, or NULL */
} pcr_job;

void pcr_job_clear(pcr_job *job);

/* Where jobs come from: 1 and *job filled (the caller owns it), 0 when
 * there are no more, -1 with err on trouble. */
typedef struct pcr_job_source {
    int (*next)(void *self, pcr_job *job, pcr_error *err);
    void *self;
} pcr_job_source;

typedef struct pcr_walk {
    int maxlevels;             /* directory depth (compileall -r) */
    const char *limit_sl_dest; /* -e */
    const char *suffix;        /* files kept in directories: ".py" */
    int into_pycache;          /* walk __pycache__ too (for .pyc files) */
} pcr_walk;

/* A file or directory to compile; pcr_add_file also names the recorded
 * name and the .pyc. */
typedef struct pcr_operand {
    char *path;
    char *record; /* or NULL */
    char *pyc;    /* or NULL */
} pcr_operand;

/* A walk of operands (each a file, compiled whatever its name, or a
 * directory walked as compileall walks it), in order, one job at a time:
 * memory holds the directories being walked, not the tree.  A relative
 * operand is taken below base when base is not NULL (tar -C).  An operand
 * with a recorded name or .pyc of its own (pcr_add_file) must be a file.
 * The walker borrows wo and ops.  NULL when out of memory. */
typedef struct pcr_walker pcr_walker;
pcr_walker *pcr_walker_new(const pcr_walk *wo, const pcr_operand *ops,
                           size_t n, const char *base);
int pcr_walker_next(pcr_walker *w, pcr_job *job, pcr_error *err);
void pcr_walker_free(pcr_walker *w);
pcr_job_source pcr_walker_source(pcr_walker *w);

/* A list of jobs made in advance. */
typedef struct pcr_jobs {
    pcr_job *v;
    size_t n, cap;
    size_t pos; /* read by the source */
} pcr_jobs;

pcr_status pcr_jobs_push(pcr_jobs *jobs, pcr_job *job, pcr_error *err);
/* Every job of a walk into the list. */
pcr_status pcr_jobs_collect(pcr_jobs *jobs, pcr_walker *w, pcr_error *err);
void pcr_jobs_free(pcr_jobs *jobs);
/* The list, one job at a time; jobs handed out are moved out of it. */
pcr_job_source pcr_jobs_source(pcr_jobs *jobs);

#endif
