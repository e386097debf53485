/* SPDX-License-Identifier: MIT */
/*
 * main.c - pycompile-repro-bazel: rules_python's precompiler with
 * pycompile-repro's bytes.  Without --persistent_worker it compiles the
 * --src/--src_name/--pyc triples of its arguments and exits (0 all
 * compiled, 1 a file failed, 2 usage or environment trouble; errors on
 * stderr); with it, it is a Bazel persistent worker (worker.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bzl.h"

static void
one_done(void *user, bzl_job *job)
{
    (void)user;
    (void)job;
}

static int
one_shot(int argc, char **argv)
{
    bzl_job job;
    bzl_error err;
    memset(&job, 0, sizeof job);
    if (bzl_args_parse(&job.args, argv, (size_t)argc, NULL, &err) != PCR_OK) {
        fprintf(stderr, BZL_PROG ": %s\n", err.msg);
        bzl_args_free(&job.args);
        return 2;
    }
    if (job.args.n == 0) {
        fprintf(stderr, BZL_PROG ": nothing to compile: no --src, "
                                 "--src_name, --pyc (see --help)\n");
        bzl_args_free(&job.args);
        return 2;
    }
    pcr *p = pcr_new();
    if (p == NULL) {
        fprintf(stderr, BZL_PROG ": out of memory\n");
        bzl_args_free(&job.args);
        return 2;
    }
    bzl_job *jobs[1] = {&job};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    bzl_compile(p, jobs, 1,
                cpus < 1    ? 1
                : cpus > 64 ? 64
                            : (int)cpus,
                one_done, NULL);
    pcr_free(p);
    if (job.output.len > 0) {
        fprintf(stderr, "%s\n", job.output.data);
    }
    int status = job.status;
    bzl_args_free(&job.args);
    bzl_buf_free(&job.output);
    return status;
}

static int
version(void)
{
    printf(BZL_PROG " %s (libpycompile-repro %s, canonical form %d)\n",
           PCR_VERSION, pcr_version_string(), pcr_canonical_form());
    pcr *p = pcr_new();
    if (p == NULL) {
        return 2;
    }
    int n = pcr_python_count(p);
    for (int i = 0; i < n; i++) {
        if (pcr_python_start(p, i) == PCR_OK) {
            printf("CPython %s: %s (%s)\n", pcr_python_series(p, i),
                   pcr_python_version(p, i), pcr_python_path(p, i));
        } else {
            printf("CPython %s: %s (cannot start: %s)\n",
                   pcr_python_series(p, i), pcr_python_path(p, i),
                   pcr_error_string(p));
        }
    }
    if (n <= 0) {
        printf("no compile server found\n");
    }
    pcr_free(p);
    return 0;
}

int
main(int argc, char **argv)
{
    int worker = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            bzl_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
            return version();
        }
        worker |= strcmp(argv[i], "--persistent_worker") == 0;
    }
    if (!worker) {
        return one_shot(argc - 1, argv + 1);
    }
    /* the startup arguments but --persistent_worker come before every
     * request's own */
    char **startup = calloc((size_t)argc, sizeof *startup);
    if (startup == NULL) {
        fprintf(stderr, BZL_PROG ": out of memory\n");
        return 2;
    }
    size_t n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--persistent_worker") != 0) {
            startup[n++] = argv[i];
        }
    }
    int status = bzl_worker(startup, n);
    free(startup);
    return status;
}
