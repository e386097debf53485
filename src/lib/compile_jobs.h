/* SPDX-License-Identifier: MIT */
/*
 * compile_jobs.h - compiling every job for its Python versions, through
 * the servers (compile_jobs.c): read the source once, hash it once, ask
 * for every level at once, check --verify's independent compiles, then
 * hand the finished .pyc bytes to a sink.  The tree verb writes them to
 * __pycache__; the archive verbs keep them for the archive.  Not
 * installed.
 */
#ifndef PCR_COMPILE_JOBS_H
#define PCR_COMPILE_JOBS_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "run.h"
#include "files.h"

typedef struct pcr_compiled {
    int py; /* python index */
    int nlevels;
    pcr_buf pyc[3]; /* header + canonical body, per level */
    char *path[3];  /* where each goes (tree: the cache path) */
    pcr_outcome outcome;
    pcr_status status;
    char *msg;
    char *warnings;
    mode_t mode;   /* the source's permission bits */
    int64_t mtime; /* the source's mtime */
} pcr_compiled;

typedef struct pcr_compile_hooks {
    /* Read job i's source (default: the file at its path). */
    pcr_status (*load)(pcr_runner *r, size_t i, pcr_source *src,
                       pcr_error *err);
    /* Where the .pyc of job i goes (default: pcr_output_path). */
    char *(*target)(pcr_runner *r, size_t i, int py, int level);
    /* The recorded name of job i (default: compileall's -d/-s/-p). */
    char *(*record)(pcr_runner *r, size_t i);
    /* The finished bytes of one job and version (NULL: write them
     * atomically to their paths, hard-linking equal levels if asked). */
    pcr_status (*store)(pcr_runner *r, size_t i, pcr_compiled *c,
                        pcr_error *err);
    /* Give the header this mtime instead of the source's (tar). */
    int64_t (*mtime)(pcr_runner *r, size_t i, const pcr_source *src);
    int check_current; /* skip sources whose .pyc are all current */
} pcr_compile_hooks;

/* Compile every job of r; events: one PCR_EV_SOURCE per job and version
 * (plus PCR_EV_WARNING for CPython's warnings). */
pcr_status pcr_compile_jobs(pcr_runner *r, const pcr_compile_hooks *hooks);
/* Compiles per source: 1, or --verify's N (the first and N - 1 rounds in
 * independent servers). */
int pcr_compile_rounds(const pcr *p);

#endif
