/* SPDX-License-Identifier: MIT */
/*
 * run.c - pcr_run: the operands become jobs, the verb is looked up in one
 * table, and the jobs run through one loop.
 *
 * The loop keeps a window of open jobs (bounded in number and in source
 * bytes, so memory does not grow with the tree), opens them largest
 * first (a big file started last would finish alone), and delivers each
 * job's events in job order as soon as every earlier job is done, so the
 * output is the same for any number of servers.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cache.h"
#include "run.h"
#include "paths.h"

#define WINDOW_BYTES ((uint64_t)256 << 20)

/* ------------------------------------------------------------ events */

void
pcr_run_emit(pcr_runner *r, const pcr_event *ev)
{
    if (ev->kind == PCR_EV_SOURCE || ev->kind == PCR_EV_PYC ||
        ev->kind == PCR_EV_ARCHIVE) {
        if (ev->status == PCR_ENV) {
            r->trouble = 1;
        }
        if (ev->status != PCR_OK ||
            (ev->kind == PCR_EV_PYC && ev->cls != PCR_CHECK_OK &&
             ev->cls != PCR_CHECK_NO_COMPILER &&
             ev->cls != PCR_CHECK_SKIPPED)) {
            r->failed = 1;
        }
    }
    if (r->cb != NULL) {
        r->cb(r->user, ev);
    }
}

void
pcr_run_emit_source(pcr_runner *r, size_t i, int py, pcr_outcome oc,
                    pcr_status st, const char *msg)
{
    pcr_event ev = {.kind = PCR_EV_SOURCE,
                    .index = i,
                    .source = r->jobs.v[i].path,
                    .python = py >= 0 ? r->p->py[py].series : NULL,
                    .level = -1,
                    .outcome = oc,
                    .status = st,
                    .message = msg};
    pcr_run_emit(r, &ev);
}

void
pcr_run_emit_pyc(pcr_runner *r, size_t i, const char *source, const char *pyc,
                 int py, int level, pcr_check_class cls, const char *detail)
{
    pcr_event ev = {.kind = PCR_EV_PYC,
                    .index = i,
                    .source = source,
                    .pyc = pyc,
                    .python = py >= 0 ? r->p->py[py].series : NULL,
                    .level = level,
                    .cls = cls,
                    .status = cls == PCR_CHECK_UNREADABLE ? PCR_ENV : PCR_OK,
                    .message = detail};
    if (cls == PCR_CHECK_SOURCE_ERROR) {
        ev.status = PCR_FAIL;
    }
    pcr_run_emit(r, &ev);
}

/* ------------------------------------------------------------ the loop */

void
pcr_run_finish(pcr_runner *r, size_t i)
{
    if (r->finished[i]) {
        return;
    }
    r->finished[i] = 1;
    r->nfinished++;
    r->open--;
    r->open_bytes -= r->jobs.v[i].size;
    pcr_event ev = {.kind = PCR_EV_PROGRESS,
                    .index = i,
                    .source = r->jobs.v[i].path,
                    .level = -1,
                    .done = r->nfinished,
                    .total = r->jobs.n};
    if (r->cb != NULL) {
        r->cb(r->user, &ev);
    }
}

static const pcr_jobs *sort_jobs;

static int
by_size_desc(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const pcr_job *v = sort_jobs->v;
    if (v[i].size != v[j].size) {
        return v[i].size > v[j].size ? -1 : 1;
    }
    return i < j ? -1 : i > j; /* stable: job order */
}

pcr_status
pcr_run_jobs(pcr_runner *r)
{
    size_t n = r->jobs.n;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    r->finished = calloc(n ? n : 1, 1);
    if (order == NULL || r->finished == NULL) {
        free(order);
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
    }
    sort_jobs = &r->jobs;
    qsort(order, n, sizeof *order, by_size_desc);
    int servers = pcr_servers_per_round(r->p);
    size_t window = (size_t)servers * (r->p->verify ? 16 : 8) + 16;
    size_t next = 0;
    pcr_status rc = PCR_OK;
    while (r->delivered < n && rc == PCR_OK) {
        while (next < n && (r->open == 0 || (r->open < window &&
                                             r->open_bytes < WINDOW_BYTES))) {
            size_t i = order[next++];
            r->open++;
            r->open_bytes += r->jobs.v[i].size;
            rc = r->ops->open(r, i);
            if (rc != PCR_OK) {
                break;
            }
        }
        while (r->delivered < n && r->finished[r->delivered]) {
            r->ops->deliver(r, r->delivered++);
        }
        if (rc != PCR_OK || r->delivered == n) {
            break;
        }
        if (pcr_engine_pending(r->eng) == 0 && next == n) {
            rc = pcr_set_error(&r->err, PCR_ENV,
                               "internal error: %zu jobs wait for nothing",
                               n - r->nfinished);
            break;
        }
        if (pcr_engine_pending(r->eng) > 0) {
            rc = pcr_engine_step(r->eng, &r->err);
        }
    }
    free(order);
    return rc;
}

/* --------------------------------------------------- collecting jobs */

/* py3compile -p PKG DIR: only files below one of the directories. */
static pcr_status
apply_restrictions(pcr_runner *r)
{
    const pcr *p = r->p;
    if (p->nrestrict == 0) {
        return PCR_OK;
    }
    char **dirs = calloc(p->nrestrict, sizeof *dirs);
    pcr_status rc =
        dirs ? PCR_OK : pcr_set_error(&r->err, PCR_ENV, "out of memory");
    for (size_t k = 0; k < p->nrestrict && rc == PCR_OK; k++) {
        if ((dirs[k] = pcr_absolute_path(p->restrict_dirs[k])) == NULL) {
            rc = pcr_set_error(&r->err, PCR_ENV, "out of memory");
        }
    }
    for (size_t i = 0; i < r->jobs.n && rc == PCR_OK; i++) {
        pcr_job *job = &r->jobs.v[i];
        char *a = pcr_absolute_path(job->path);
        int inside = 0;
        for (size_t k = 0; a != NULL && k < p->nrestrict && !inside; k++) {
            size_t dl = strlen(dirs[k]); /* 0 for "/" */
            inside = strncmp(a, dirs[k], dl) == 0 && a[dl] == '/';
        }
        if (a == NULL) {
            rc = pcr_set_error(&r->err, PCR_ENV, "out of memory");
        } else if (!inside) {
            job->skip = 1;
        }
        free(a);
    }
    for (size_t k = 0; k < p->nrestrict; k++) {
        free(dirs[k]);
    }
    free(dirs);
    return rc;
}

struct regex_ctx {
    pcr_runner *r;
    size_t *index; /* job of each path sent */
    int done;
    pcr_status status;
    char msg[PCR_ERROR_MAX];
};

static void
regex_done(void *ctx, pcr_reply *rep)
{
    struct regex_ctx *x = ctx;
    x->done = 1;
    x->status = rep->status;
    if (rep->status != PCR_OK) {
        snprintf(x->msg, sizeof x->msg, "%s", rep->message);
        return;
    }
    for (size_t k = 0; k < rep->nmatches; k++) {
        if (rep->matches[k]) {
            x->r->jobs.v[x->index[k]].skip = 1;
        }
    }
}

/* -x: compileall searches the pattern in each path with Python's re;
 * one request to a server that compiles nothing. */
static pcr_status
apply_exclude(pcr_runner *r)
{
    pcr *p = r->p;
    if (p->exclude == NULL || r->jobs.n == 0) {
        return PCR_OK;
    }
    char **paths = calloc(r->jobs.n, sizeof *paths);
    size_t *index = calloc(r->jobs.n, sizeof *index);
    if (paths == NULL || index == NULL) {
        free(paths);
        free(index);
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < r->jobs.n; i++) {
        if (!r->jobs.v[i].skip && r->jobs.v[i].error == NULL) {
            paths[n] = r->jobs.v[i].path;
            index[n++] = i;
        }
    }
    struct regex_ctx x = {.r = r, .index = index};
    pcr_request rq = {.kind = PCR_MSG_REGEX,
                      .py = p->default_py,
                      .round = PCR_ROUND_AUX,
                      .pattern = p->exclude,
                      .paths = paths,
                      .npaths = n,
                      .done = regex_done,
                      .ctx = &x};
    pcr_status rc = pcr_engine_submit(r->eng, &rq, &r->err);
    while (rc == PCR_OK && !x.done) {
        rc = pcr_engine_step(r->eng, &r->err);
    }
    if (rc == PCR_OK && x.status != PCR_OK) {
        rc = pcr_set_error(&r->err, PCR_ENV, "-x %s: %s", p->exclude, x.msg);
    }
    free(paths);
    free(index);
    return rc;
}

/* The walk found a source: start its versions' servers now, so that their
 * start-up (25 ms of an interpreter's initialisation) overlaps the rest of
 * the walk instead of following it. */
static void
start_early(void *ctx, const char *path)
{
    pcr_runner *r = ctx;
    pcr *p = r->p;
    int py[PCR_MAX_PY], n = 0;
    pcr_error e;
    if (r->nearly == p->npy ||
        pcr_versions_for(p, path, py, &n, &e) != PCR_OK) {
        return; /* the job reports it */
    }
    for (int k = 0; k < n; k++) {
        if (r->early[py[k]]) {
            continue;
        }
        r->early[py[k]] = 1;
        r->nearly++;
        /* a warm cache may know the server without it (pcr_run_hello) */
        if (!p->py[py[k]].started &&
            !(p->cache_dir != NULL && pcr_cache_get_hello(p, py[k]))) {
            pcr_engine_prestart(r->eng, py[k], r->start_rounds);
        }
    }
}

pcr_status
pcr_run_collect(pcr_runner *r, const char *suffix, int into_pycache)
{
    pcr_walk wo = r->p->walk;
    wo.suffix = suffix;
    wo.into_pycache = into_pycache;
    if (r->start_rounds > 0) {
        free(r->early);
        r->nearly = 0;
        if ((r->early = calloc((size_t)r->p->npy + 1, 1)) == NULL) {
            return pcr_set_error(&r->err, PCR_ENV, "out of memory");
        }
        wo.found = start_early;
        wo.found_ctx = r;
    }
    /* tar -C DIR: relative names are relative to DIR */
    const char *base = r->p->tar_out ? r->p->tar_base : NULL;
    for (size_t i = 0; i < r->p->noperands; i++) {
        const pcr_operand *o = &r->p->operands[i];
        const char *op = o->path;
        char *joined = NULL;
        if (base != NULL && op[0] != '/') {
            size_t n = strlen(base) + strlen(op) + 2;
            if ((joined = malloc(n)) == NULL) {
                return pcr_set_error(&r->err, PCR_ENV, "out of memory");
            }
            snprintf(joined, n, "%s/%s", base, op);
        }
        size_t before = r->jobs.n;
        pcr_status rc =
            pcr_jobs_add(&r->jobs, joined ? joined : op, &wo, &r->err);
        free(joined);
        if (rc != PCR_OK) {
            return rc;
        }
        if (o->record != NULL || o->pyc != NULL) {
            /* pcr_add_file: one file, its name and .pyc given */
            if (r->jobs.n != before + 1 || r->jobs.v[before].relpath) {
                return pcr_set_error(&r->err, PCR_ENV,
                                     "%s: a directory, where a file with "
                                     "its own .pyc name was given",
                                     op);
            }
            pcr_job *job = &r->jobs.v[before];
            if ((o->record && !(job->record = strdup(o->record))) ||
                (o->pyc && !(job->pyc = strdup(o->pyc)))) {
                return pcr_set_error(&r->err, PCR_ENV, "out of memory");
            }
        }
    }
    pcr_status rc = apply_restrictions(r);
    if (rc == PCR_OK) {
        rc = apply_exclude(r);
    }
    return rc;
}

pcr_status
pcr_run_hello(pcr_runner *r, int py)
{
    if (r->p->py[py].started) {
        return PCR_OK;
    }
    /* a warm cache knows the server: no need to start it to ask */
    if (r->p->cache_dir != NULL && pcr_cache_get_hello(r->p, py)) {
        return PCR_OK;
    }
    pcr_status rc = pcr_engine_hello(r->eng, py, &r->err);
    if (rc == PCR_OK && r->p->cache_dir != NULL) {
        pcr_cache_put_hello(r->p, py);
    }
    return rc;
}

/* mkdir -p for the cache's own directories */
static void
make_dirs(const char *path)
{
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(buf, 0777);
            *s = '/';
        }
    }
    mkdir(buf, 0777);
}

/* ------------------------------------------------------------ dispatch */

enum target { TO_TREE, TO_TAR, TO_WHEEL };

static const struct verb {
    pcr_verb verb;
    enum target target;
    int servers; /* needs compile servers */
    pcr_status (*fn)(pcr_runner *r);
} verbs[] = {
    {PCR_VERB_COMPILE, TO_TREE, 1, pcr_verb_compile},
    {PCR_VERB_COMPILE, TO_TAR, 1, pcr_verb_tar},
    {PCR_VERB_COMPILE, TO_WHEEL, 1, pcr_verb_wheel},
    {PCR_VERB_CHECK, TO_TREE, 1, pcr_verb_check},
    {PCR_VERB_CHECK, TO_TAR, 1, pcr_verb_check_tar},
    {PCR_VERB_CHECK, TO_WHEEL, 1, pcr_verb_check_wheel},
    {PCR_VERB_CANONICALIZE, TO_TREE, 0, pcr_verb_canonicalize},
    {PCR_VERB_DUMP, TO_TREE, 0, pcr_verb_dump},
    {PCR_VERB_REMOVE, TO_TREE, 0, pcr_verb_remove},
};

PCR_API pcr_status
pcr_run(pcr *p, pcr_verb verb, pcr_callback cb, void *user)
{
    enum target t = p->wheel_in ? TO_WHEEL : p->tar_out ? TO_TAR : TO_TREE;
    const struct verb *v = NULL;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (verbs[i].verb == verb && verbs[i].target == t) {
            v = &verbs[i];
        }
    }
    if (v == NULL) {
        return pcr_fail(p, PCR_ENV, "this operation does not apply to %s",
                        t == TO_TAR ? "a tar" : "a wheel");
    }
    if (v->servers || p->exclude != NULL) {
        pcr_status rc = pcr_discover(p);
        if (rc != PCR_OK) {
            return rc;
        }
    }
    p->cache_hits = p->cache_misses = p->cache_written = 0;
    p->cache_errors = p->cache_damaged = p->cache_trimmed = 0;
    if (p->cache_dir != NULL) {
        char d[4200];
        snprintf(d, sizeof d, "%s/v1/servers", p->cache_dir);
        make_dirs(d);
    }
    pcr_runner r = {.p = p, .cb = cb, .user = user};
    r.eng = pcr_engine_new(p, p->workers);
    if (r.eng == NULL) {
        return pcr_fail(p, PCR_ENV, "out of memory");
    }
    pcr_status rc = v->fn(&r);
    pcr_engine_free(r.eng, rc == PCR_ENV);
    pcr_cache_finish(p);
    pcr_jobs_free(&r.jobs);
    free(r.finished);
    free(r.early);
    if (rc != PCR_OK) {
        snprintf(p->err.msg, sizeof p->err.msg, "%s", r.err.msg);
        return rc == PCR_ENV ? PCR_ENV : PCR_FAIL;
    }
    if (r.trouble) {
        pcr_fail(p, PCR_ENV, "some files could not be handled");
        return PCR_ENV;
    }
    if (r.failed) {
        pcr_fail(p, PCR_FAIL, "some files failed");
        return PCR_FAIL;
    }
    p->err.msg[0] = '\0';
    return PCR_OK;
}

PCR_API pcr_status
pcr_python_start(pcr *p, int i)
{
    pcr_status rc = pcr_discover(p);
    if (rc != PCR_OK) {
        return rc;
    }
    if (i < 0 || i >= p->npy) {
        return pcr_fail(p, PCR_ENV, "no such compile server");
    }
    if (p->py[i].started) {
        return PCR_OK;
    }
    pcr_engine *e = pcr_engine_new(p, 1);
    if (e == NULL) {
        return pcr_fail(p, PCR_ENV, "out of memory");
    }
    rc = pcr_engine_hello(e, i, &p->err);
    pcr_engine_free(e, 0);
    return rc;
}
