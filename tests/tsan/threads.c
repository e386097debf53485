/* SPDX-License-Identifier: MIT */
/*
 * threads.c - independent handles in independent threads, under
 * ThreadSanitizer (make tsan): each thread compiles its own copy of a
 * tree, checks it, canonicalises it, compiles it again (up to date) and
 * checks it once more, all at once with the others.  Every thread must
 * succeed, every copy must come out byte-identical (the recorded name is
 * the same), and TSan must report nothing (its exit code fails the run).
 *
 *   threads THREADS DIR...   (one directory per thread)
 * Prints "tsan: N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pycompile_repro.h"

struct job {
    const char *dir;
    int failures;
    char why[512];
    size_t events;
};

static void
count(void *user, const pcr_event *ev)
{
    struct job *j = user;
    j->events++;
    if (pcr_event_kind(ev) == PCR_EV_PYC &&
        pcr_event_class(ev) != PCR_CHECK_OK) {
        snprintf(j->why, sizeof j->why, "%s: %s", pcr_event_pyc(ev),
                 pcr_check_class_name(pcr_event_class(ev)));
    }
}

static int
step(struct job *j, pcr *p, pcr_verb verb, const char *what)
{
    pcr_reset(p, PCR_RESET_OPERANDS);
    pcr_add_operand(p, j->dir);
    pcr_status st = pcr_run(p, verb, count, j);
    if (st != PCR_OK) {
        snprintf(j->why, sizeof j->why, "%s %s: %s", what, j->dir,
                 pcr_error_string(p));
        j->failures++;
        return -1;
    }
    return 0;
}

static void *
work(void *arg)
{
    struct job *j = arg;
    pcr *p = pcr_new();
    if (p == NULL) {
        j->failures++;
        return NULL;
    }
    pcr_add_level(p, 0);
    pcr_add_level(p, 1);
    pcr_set_invalidation(p, PCR_CHECKED_HASH);
    pcr_set_record_names(p, "pkg", NULL, NULL);
    pcr_set_workers(p, 2);
    pcr_set_flag(p, PCR_FLAG_FORCE, 1);
    if (step(j, p, PCR_VERB_COMPILE, "compile") == 0 &&
        step(j, p, PCR_VERB_CHECK, "check") == 0 &&
        step(j, p, PCR_VERB_CANONICALIZE, "canonicalize") == 0) {
        pcr_set_flag(p, PCR_FLAG_FORCE, 0);
        if (step(j, p, PCR_VERB_COMPILE, "compile again") == 0) {
            step(j, p, PCR_VERB_CHECK, "check again");
        }
    }
    pcr_free(p);
    return NULL;
}

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 0;
    if (n < 1 || n > 64 || argc != n + 2) {
        fprintf(stderr, "usage: threads THREADS DIR... (one per thread)\n");
        return 2;
    }
    pthread_t *t = calloc((size_t)n, sizeof *t);
    struct job *jobs = calloc((size_t)n, sizeof *jobs);
    if (t == NULL || jobs == NULL) {
        return 2;
    }
    for (int i = 0; i < n; i++) {
        jobs[i].dir = argv[i + 2];
        if (pthread_create(&t[i], NULL, work, &jobs[i]) != 0) {
            fprintf(stderr, "cannot start thread %d\n", i);
            return 2;
        }
    }
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        if (jobs[i].failures == 0 && jobs[i].events > 0) {
            passed++;
        } else {
            failed++;
            printf("FAIL thread %d: %s\n", i, jobs[i].why);
        }
    }
    printf("tsan: %d passed, %d failed\n", passed, failed);
    free(t);
    free(jobs);
    return failed != 0;
}
