/* SPDX-License-Identifier: MIT */
/*
 * warm_runs - one small file compiled again and again on one library
 * handle, as a Bazel worker or a Python tool calls the library: each run
 * is pcr_add_file, pcr_run, pcr_reset, timed from the first call to the
 * last, and compiles (forced, as a worker's request does: never "up to
 * date"); the servers stay warm between runs (the first run starts one and
 * is left out).  Prints the median, the 90th percentile and the largest,
 * in milliseconds.  A benchmark, not a test.
 *
 *     warm_runs DIR [RUNS]     (DIR: where the source and .pyc go)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pycompile_repro.h"

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: warm_runs DIR [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 1000;
    if (runs < 1) {
        runs = 1;
    }
    char src[4096], pyc[4096];
    snprintf(src, sizeof src, "%s/warm_small.py", argv[1]);
    snprintf(pyc, sizeof pyc, "%s/warm_small.pyc", argv[1]);
    FILE *f = fopen(src, "w");
    if (f == NULL) {
        perror(src);
        return 2;
    }
    fputs("def hello(name):\n    return 'hello ' + name\n", f);
    fclose(f);
    pcr *p = pcr_new();
    double *t = calloc((size_t)runs, sizeof *t);
    if (p == NULL || t == NULL ||
        pcr_set_invalidation(p, PCR_CHECKED_HASH) != PCR_OK ||
        pcr_set_flag(p, PCR_FLAG_FORCE, 1) != PCR_OK) {
        fprintf(stderr, "warm_runs: out of memory\n");
        return 2;
    }
    for (int i = -1; i < runs; i++) {
        double t0 = now_ms();
        if (pcr_add_file(p, src, "warm_small.py", pyc) != PCR_OK ||
            pcr_run(p, PCR_VERB_COMPILE, NULL, NULL) != PCR_OK ||
            pcr_reset(p, PCR_RESET_OPERANDS) != PCR_OK) {
            fprintf(stderr, "warm_runs: %s\n", pcr_error_string(p));
            return 1;
        }
        if (i >= 0) {
            t[i] = now_ms() - t0;
        }
    }
    qsort(t, (size_t)runs, sizeof *t, by_value);
    printf("warm runs in %s: %d, median %.3f ms, p90 %.3f ms, max %.3f ms\n",
           argv[1], runs, t[runs / 2], t[runs * 9 / 10], t[runs - 1]);
    free(t);
    pcr_free(p);
    return 0;
}
