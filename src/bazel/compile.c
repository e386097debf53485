/* SPDX-License-Identifier: MIT */
/*
 * compile.c - jobs onto the one library handle.  A run with named .pyc
 * files (pcr_add_file) takes one Python version and one level, so the
 * jobs are grouped by version, mode and level, and each group is one
 * pcr_run with up to one server per CPU (started while work waits).  A job is
 * reported done as soon as the event of its last file arrives, not when
 * its group ends.  The handle is reset between groups (operands and
 * options); the servers it started may stay up for the next run.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bzl.h"

typedef struct group {
    const char *pyver; /* borrowed from the first job's args */
    int mode, level;
    size_t nfiles;
} group;

typedef struct slot {
    bzl_job *job;
} slot;

typedef struct run_ctx {
    slot *slots; /* one per file added, by event index */
    size_t nslots;
    bzl_done_fn done;
    void *user;
} run_ctx;

static int
same_group(const group *g, const bzl_args *a)
{
    if (g->mode != a->mode || g->level != a->level) {
        return 0;
    }
    if (g->pyver == NULL || a->pyver == NULL) {
        return g->pyver == a->pyver;
    }
    return strcmp(g->pyver, a->pyver) == 0;
}

static void
job_error(bzl_job *job, int status, const char *file, const char *msg)
{
    if (status > job->status) {
        job->status = status;
    }
    if (job->output.len > 0) {
        bzl_buf_str(&job->output, "\n");
    }
    bzl_buf_str(&job->output, BZL_PROG ": ");
    if (file != NULL) {
        bzl_buf_str(&job->output, file);
        bzl_buf_str(&job->output, ": ");
        if (strchr(msg, '\n') != NULL) {
            /* CPython's File/line/caret block, as python prints it */
            bzl_buf_str(&job->output, "cannot compile:\n");
        }
    }
    bzl_buf_str(&job->output, msg);
    size_t n = job->output.len;
    while (n > 0 && job->output.data[n - 1] == '\n') {
        job->output.data[--n] = '\0';
    }
    job->output.len = n;
}

static void
file_done(run_ctx *c, bzl_job *job)
{
    if (job->left > 0 && --job->left == 0) {
        c->done(c->user, job);
    }
}

static void
on_event(void *user, const pcr_event *ev)
{
    run_ctx *c = user;
    pcr_event_type kind = pcr_event_kind(ev);
    if (kind == PCR_EV_WARNING) {
        /* CPython's warnings (py_compile shows them on stderr too) */
        const char *m = pcr_event_message(ev);
        if (m[0]) {
            fprintf(stderr, "%s%s", strchr(m, '\n') ? "" : BZL_PROG ": ", m);
            if (m[strlen(m) - 1] != '\n') {
                fputc('\n', stderr);
            }
        }
        return;
    }
    if (kind != PCR_EV_SOURCE) {
        return;
    }
    size_t i = pcr_event_index(ev);
    if (i >= c->nslots || c->slots[i].job == NULL) {
        return;
    }
    bzl_job *job = c->slots[i].job;
    c->slots[i].job = NULL; /* one event per file */
    if (pcr_event_outcome(ev) == PCR_FAILED) {
        job_error(job, pcr_event_status(ev) == PCR_ENV ? 2 : 1,
                  pcr_event_source(ev), pcr_event_message(ev));
    }
    file_done(c, job);
}

/* Every job of the group failed for one reason. */
static void
fail_group(run_ctx *c, bzl_job **jobs, size_t n, const group *g,
           const char *msg)
{
    for (size_t k = 0; k < n; k++) {
        bzl_job *job = jobs[k];
        if (job->left > 0 && same_group(g, &job->args)) {
            job_error(job, 2, NULL, msg);
            job->left = 0;
            c->done(c->user, job);
        }
    }
}

/* The series the library compiles for when none is asked for. */
static const char *
default_series(pcr *p)
{
    int i = pcr_python_default(p);
    return i >= 0 ? pcr_python_series(p, i) : NULL;
}

static pcr_status
configure(pcr *p, const group *g, int workers, char *msg, size_t size)
{
    const char *pyver = g->pyver;
    int bad = pcr_reset(p, PCR_RESET_OPERANDS | PCR_RESET_OPTIONS) != PCR_OK;
    /* py_compile always writes */
    bad = bad || pcr_set_flag(p, PCR_FLAG_FORCE, 1) != PCR_OK;
    bad = bad || pcr_add_level(p, g->level) != PCR_OK;
    bad = bad || pcr_set_invalidation(p, (pcr_invalidation)g->mode) != PCR_OK;
    bad = bad || pcr_set_workers(p, workers) != PCR_OK;
    if (bad) {
        snprintf(msg, size, "%s", pcr_error_string(p));
        return PCR_ENV;
    }
    if (pyver == NULL) {
        /* one version for every file, whatever its path says */
        pyver = default_series(p);
        if (pyver == NULL) {
            snprintf(msg, size, "no compile server installed: %s",
                     pcr_error_string(p));
            return PCR_ENV;
        }
    }
    /* which servers there are, for a clear message */
    char have[256] = "";
    size_t len = 0;
    int count = pcr_python_count(p), found = 0;
    for (int i = 0; i < count; i++) {
        const char *series = pcr_python_series(p, i);
        found |= strcmp(series, pyver) == 0;
        if (len < sizeof have - 16) {
            int w = snprintf(have + len, sizeof have - len, "%s%s",
                             i ? ", " : "", series);
            len += w > 0 ? (size_t)w : 0;
        }
    }
    if (!found) {
        if (strspn(pyver, "0123456789.") != strlen(pyver) ||
            strchr(pyver, '.') == NULL) {
            snprintf(msg, size, "--python_version takes X.Y, not '%s'", pyver);
        } else {
            snprintf(msg, size,
                     "--python_version %s: no compile server for CPython %s "
                     "is installed (installed: %s)",
                     pyver, pyver, count > 0 ? have : "none");
        }
        return PCR_ENV;
    }
    if (pcr_add_python(p, pyver) != PCR_OK) {
        snprintf(msg, size, "--python_version %s: %s", pyver,
                 pcr_error_string(p));
        return PCR_ENV;
    }
    return PCR_OK;
}

/* The directories above a .pyc, as py_compile makes them (Bazel makes
 * them before an action; a command line may not).  A failure is left to
 * the write, which says what went wrong. */
static void
make_parents(const char *pyc)
{
    char *path = strdup(pyc);
    if (path == NULL) {
        return;
    }
    char *slash = strrchr(path, '/');
    if (slash != NULL && slash != path) {
        *slash = '\0';
        struct stat st;
        if (stat(path, &st) != 0) {
            for (char *q = path + 1; *q; q++) {
                if (*q == '/') {
                    *q = '\0';
                    mkdir(path, 0777);
                    *q = '/';
                }
            }
            mkdir(path, 0777);
        }
    }
    free(path);
}

static void
run_group(pcr *p, run_ctx *c, bzl_job **jobs, size_t n, const group *g,
          int max_workers)
{
    char msg[1024];
    /* the library starts a server only while work waits for one, and a
     * run asking for fewer than the last stops the extra ones: always
     * the most, so that a batch of one file stops none of them */
    if (configure(p, g, max_workers, msg, sizeof msg) != PCR_OK) {
        fail_group(c, jobs, n, g, msg);
        return;
    }
    c->nslots = 0;
    for (size_t k = 0; k < n; k++) {
        bzl_job *job = jobs[k];
        if (job->left == 0 || !same_group(g, &job->args)) {
            continue;
        }
        size_t first = c->nslots;
        for (size_t t = 0; t < job->args.n; t++) {
            const bzl_triple *tr = &job->args.t[t];
            make_parents(tr->pyc);
            if (pcr_add_file(p, tr->src, tr->name, tr->pyc) != PCR_OK) {
                job_error(job, 2, tr->src, pcr_error_string(p));
                /* its files already added still run: the job is done
                 * (failed) when they are, never before */
                job->left = c->nslots - first;
                if (job->left == 0) {
                    c->done(c->user, job);
                }
                break;
            }
            c->slots[c->nslots++].job = job;
        }
    }
    pcr_status rc = pcr_run(p, PCR_VERB_COMPILE, on_event, c);
    /* files the run never reported (it stopped: environment trouble) */
    for (size_t s = 0; s < c->nslots; s++) {
        bzl_job *job = c->slots[s].job;
        if (job != NULL && job->left > 0) {
            job_error(job, 2, NULL,
                      rc != PCR_OK ? pcr_error_string(p)
                                   : "the compile run reported nothing");
            job->left = 0;
            c->done(c->user, job);
        }
        c->slots[s].job = NULL;
    }
}

void
bzl_compile(pcr *p, bzl_job **jobs, size_t n, int max_workers,
            bzl_done_fn done, void *user)
{
    size_t nfiles = 0;
    for (size_t k = 0; k < n; k++) {
        nfiles += jobs[k]->args.n;
        jobs[k]->left = jobs[k]->args.n;
    }
    group *groups = calloc(n ? n : 1, sizeof *groups);
    slot *slots = calloc(nfiles ? nfiles : 1, sizeof *slots);
    run_ctx c = {.slots = slots, .done = done, .user = user};
    if (groups == NULL || slots == NULL) {
        for (size_t k = 0; k < n; k++) {
            job_error(jobs[k], 2, NULL, "out of memory");
            jobs[k]->left = 0;
            done(user, jobs[k]);
        }
        goto out;
    }
    size_t ngroups = 0;
    for (size_t k = 0; k < n; k++) {
        const bzl_args *a = &jobs[k]->args;
        size_t g = 0;
        while (g < ngroups && !same_group(&groups[g], a)) {
            g++;
        }
        if (g == ngroups) {
            groups[ngroups++] =
                (group){.pyver = a->pyver, .mode = a->mode, .level = a->level};
        }
        groups[g].nfiles += a->n;
    }
    if (max_workers < 1) {
        max_workers = 1;
    }
    for (size_t g = 0; g < ngroups; g++) {
        run_group(p, &c, jobs, n, &groups[g], max_workers);
    }
out:
    free(groups);
    free(slots);
}
