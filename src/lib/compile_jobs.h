/* SPDX-License-Identifier: MIT */
/*
 * compile_jobs.h - the one compile pipeline (compile_jobs.c): every job
 * compiled for each of its Python versions through the servers, then
 * handed to a sink.  Read the source once, hash it once, ask for every
 * level at once, check --verify's independent compiles, then the sink:
 * the tree verb writes the .pyc atomically; the archive verbs keep them
 * for the archive; --check compares them with the .pyc that exist.
 *
 * A sink plugs in through pcr_compile_hooks; each hook may be NULL (the
 * tree's behaviour).
 */
#ifndef PCR_COMPILE_JOBS_H
#define PCR_COMPILE_JOBS_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "files.h"
#include "run.h"

/* One version of a job, done: its .pyc bytes per level, or why not. */
typedef struct pcr_compiled {
    int py; /* python index */
    int nlevels;
    int levels[PCR_MAX_LEVELS];
    pcr_buf pyc[PCR_MAX_LEVELS]; /* header + canonical body (when OK) */
    char *path[PCR_MAX_LEVELS];  /* where each goes (tree: the cache path) */
    pcr_status status;           /* PCR_OK, or this version failed */
    const char *msg;             /* why it failed */
    mode_t mode;                 /* the source's permission bits */
    int64_t mtime;               /* the source's mtime */
} pcr_compiled;

/* A version a sink adds to a job (--check: another version's .pyc found
 * beside the source), with its own levels and paths. */
typedef struct pcr_extra_version {
    int py;
    int nlevels;
    int levels[PCR_MAX_LEVELS];
    char *path[PCR_MAX_LEVELS]; /* taken by the pipeline */
} pcr_extra_version;

/* What the pipeline knows of a job when it is delivered. */
typedef struct pcr_version_result {
    int py;
    pcr_outcome outcome;
    pcr_status status;
    const char *msg;
    const char *warnings; /* NULL when none */
} pcr_version_result;

typedef struct pcr_job_result {
    pcr_outcome outcome; /* the job as a whole, when nver is 0 */
    pcr_status status;
    const char *msg;
    int no_compiler; /* its lib/pythonX.Y has no server here */
    int nver;
    const pcr_version_result *v;
} pcr_job_result;

typedef struct pcr_compile_hooks {
    /* Read job i's source (default: the file at its path). */
    pcr_status (*load)(pcr_runner *r, size_t i, pcr_source *src,
                       pcr_error *err);
    /* Where the .pyc of job i goes (default: pcr_output_path, or the
     * job's own .pyc name). */
    char *(*target)(pcr_runner *r, size_t i, int py, int level);
    /* The recorded name of job i (default: compileall's -d/-s/-p). */
    char *(*record)(pcr_runner *r, size_t i);
    /* More versions for job i, beyond the plan's (NULL: none); *n of them
     * in *v (malloc'd, taken by the pipeline). */
    pcr_status (*more)(pcr_runner *r, size_t i, const int *py, int npy,
                       pcr_extra_version **v, int *n, pcr_error *err);
    /* The finished bytes of one version (NULL: write them atomically to
     * their paths, hard-linking equal levels if asked).  With
     * sees_failures, also called for a version that failed. */
    pcr_status (*store)(pcr_runner *r, size_t i, pcr_compiled *c,
                        pcr_error *err);
    /* Give the header this mtime instead of the source's (tar). */
    int64_t (*mtime)(pcr_runner *r, size_t i, const pcr_source *src);
    /* Emit job i's events (default: one PCR_EV_SOURCE per version, and
     * CPython's warnings). */
    void (*deliver)(pcr_runner *r, size_t i, const pcr_job_result *res);
    /* Free what the sink keeps for job i (after deliver, or an abort). */
    void (*forget)(pcr_runner *r, size_t i);
    int check_current; /* skip sources whose .pyc are all current */
    int sees_failures; /* store is told of failed versions too */
    void *ctx;         /* the sink's */
} pcr_compile_hooks;

/* Compile every job of src; events: as the hooks' deliver says. */
pcr_status pcr_compile_jobs(pcr_runner *r, pcr_job_source src,
                            const pcr_compile_hooks *hooks);
/* The sink's slot for its own state of job i. */
void **pcr_compile_sink_state(pcr_runner *r, size_t i);

#endif
