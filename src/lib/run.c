/* SPDX-License-Identifier: MIT */
/*
 * run.c - pcr_run: the handle's settings become a plan, the verb is
 * looked up in one table, and its jobs run through one loop.
 *
 * The loop takes jobs from their source (the walk, or a list) into a
 * window of at most WINDOW_JOBS, so memory does not grow with the tree;
 * among the jobs in the window it opens the largest first (a big file
 * started last would finish alone), keeping at most a few per server and
 * WINDOW_BYTES of sources open; it runs the steps the jobs defer (cache
 * lookups and stores, checks, writes: never inside a server's reply
 * callback); and it delivers each job's events in job order as soon as
 * every earlier job is done, so the output is the same for any number of
 * servers.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "paths.h"
#include "run.h"

#define WINDOW_JOBS 1024
#define WINDOW_BYTES ((uint64_t)256 << 20)
/* A -x request carries the paths of at least this many new jobs. */
#define REGEX_BATCH (WINDOW_JOBS / 2)

struct pcr_slot {
    pcr_job job;
    void *state;
    unsigned char opened, finished;
};

struct pcr_step {
    pcr_status (*fn)(pcr_runner *r, void *arg);
    void *arg;
    pcr_step *next;
};

/* ------------------------------------------------------------ events */

void
pcr_run_emit(pcr_runner *r, const pcr_event *ev)
{
    if (ev->kind == PCR_EV_SOURCE || ev->kind == PCR_EV_PYC ||
        ev->kind == PCR_EV_ARCHIVE) {
        if (ev->status == PCR_ENV) {
            r->trouble = 1;
        }
        int fine_class =
            ev->cls == PCR_CHECK_OK || ev->cls == PCR_CHECK_SKIPPED ||
            (ev->cls == PCR_CHECK_NO_COMPILER && r->plan->allow_no_compiler);
        if (ev->status != PCR_OK || (ev->kind == PCR_EV_PYC && !fine_class)) {
            r->failed = 1;
        }
    }
    if (r->cb != NULL) {
        r->cb(r->user, ev);
    }
}

static const char *
series(pcr_runner *r, int py)
{
    return py >= 0 ? r->py->v[py].series : NULL;
}

void
pcr_run_emit_source(pcr_runner *r, size_t i, int py, pcr_outcome oc,
                    pcr_status st, const char *msg)
{
    pcr_event ev = {.kind = PCR_EV_SOURCE,
                    .index = i,
                    .source = pcr_run_job(r, i)->path,
                    .python = series(r, py),
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
                    .python = series(r, py),
                    .level = level,
                    .cls = cls,
                    .status = cls == PCR_CHECK_UNREADABLE ? PCR_ENV : PCR_OK,
                    .message = detail};
    if (cls == PCR_CHECK_SOURCE_ERROR) {
        ev.status = PCR_FAIL;
    }
    pcr_run_emit(r, &ev);
}

void
pcr_run_warning(pcr_runner *r, const char *msg)
{
    pcr_event ev = {.kind = PCR_EV_WARNING, .level = -1, .message = msg};
    pcr_run_emit(r, &ev);
}

/* ------------------------------------------------------------ window */

static pcr_slot *
slot(pcr_runner *r, size_t i)
{
    return &r->ring[i % r->cap];
}

pcr_job *
pcr_run_job(pcr_runner *r, size_t i)
{
    return &slot(r, i)->job;
}

void **
pcr_run_state(pcr_runner *r, size_t i)
{
    return &slot(r, i)->state;
}

/* The heap of jobs not opened yet: the largest on top, the earliest first
 * among equals (so that equal sizes open in job order). */
static int
before(pcr_runner *r, size_t a, size_t b)
{
    uint64_t sa = slot(r, a)->job.size, sb = slot(r, b)->job.size;
    return sa != sb ? sa > sb : a < b;
}

static void
heap_push(pcr_runner *r, size_t i)
{
    size_t k = r->nheap++;
    r->heap[k] = i;
    while (k > 0 && before(r, r->heap[k], r->heap[(k - 1) / 2])) {
        size_t p = (k - 1) / 2, t = r->heap[p];
        r->heap[p] = r->heap[k];
        r->heap[k] = t;
        k = p;
    }
}

static size_t
heap_pop(pcr_runner *r)
{
    size_t top = r->heap[0];
    r->heap[0] = r->heap[--r->nheap];
    size_t k = 0;
    for (;;) {
        size_t l = 2 * k + 1, m = k;
        if (l < r->nheap && before(r, r->heap[l], r->heap[m])) {
            m = l;
        }
        if (l + 1 < r->nheap && before(r, r->heap[l + 1], r->heap[m])) {
            m = l + 1;
        }
        if (m == k) {
            return top;
        }
        size_t t = r->heap[m];
        r->heap[m] = r->heap[k];
        r->heap[k] = t;
        k = m;
    }
}

void
pcr_run_finish(pcr_runner *r, size_t i)
{
    pcr_slot *s = slot(r, i);
    if (s->finished) {
        return;
    }
    s->finished = 1;
    r->nfinished++;
    r->open--;
    r->open_bytes -= s->job.size;
    pcr_event ev = {.kind = PCR_EV_PROGRESS,
                    .index = i,
                    .source = s->job.path,
                    .level = -1,
                    .done = r->nfinished,
                    .total = r->next};
    if (r->cb != NULL) {
        r->cb(r->user, &ev);
    }
}

/* ------------------------------------------------------------- steps */

pcr_status
pcr_run_defer(pcr_runner *r, pcr_status (*fn)(pcr_runner *r, void *arg),
              void *arg)
{
    pcr_step *s = malloc(sizeof *s);
    if (s == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    *s = (pcr_step){fn, arg, NULL};
    if (r->steps_tail != NULL) {
        r->steps_tail->next = s;
    } else {
        r->steps = s;
    }
    r->steps_tail = s;
    return PCR_OK;
}

static pcr_status
run_steps(pcr_runner *r)
{
    pcr_status rc = PCR_OK;
    while (r->steps != NULL && rc == PCR_OK) {
        pcr_step *s = r->steps;
        r->steps = s->next;
        if (r->steps == NULL) {
            r->steps_tail = NULL;
        }
        rc = s->fn(r, s->arg);
        free(s);
    }
    return rc;
}

static void
drop_steps(pcr_runner *r)
{
    while (r->steps != NULL) {
        pcr_step *s = r->steps;
        r->steps = s->next;
        free(s); /* their args belong to jobs, freed by the verb's drop */
    }
    r->steps_tail = NULL;
}

/* --------------------------------------------------- arriving jobs */

/* py3compile -p PKG DIR: only files below one of the directories. */
static pcr_status
restrict_job(pcr_runner *r, pcr_job *job)
{
    const pcr_plan *plan = r->plan;
    if (plan->nrestrict == 0 || job->skip || job->error != NULL) {
        return PCR_OK;
    }
    char *a = pcr_absolute_path(plan->cwd, job->path);
    if (a == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    int inside = 0;
    for (size_t k = 0; k < plan->nrestrict && !inside; k++) {
        size_t dl = strlen(plan->restrict_dirs[k]); /* 0 for "/" */
        inside = strncmp(a, plan->restrict_dirs[k], dl) == 0 && a[dl] == '/';
    }
    free(a);
    job->skip = !inside;
    return PCR_OK;
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
            pcr_run_job(x->r, x->index[k])->skip = 1;
        }
    }
}

/* -x: compileall searches the pattern in each path with Python's re; one
 * request per batch of new jobs, to a server that compiles nothing. */
static pcr_status
exclude_jobs(pcr_runner *r, size_t from, size_t to)
{
    const pcr_plan *plan = r->plan;
    if (plan->exclude == NULL || from == to) {
        return PCR_OK;
    }
    char **paths = calloc(to - from, sizeof *paths);
    size_t *index = calloc(to - from, sizeof *index);
    if (paths == NULL || index == NULL) {
        free(paths);
        free(index);
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        pcr_job *job = pcr_run_job(r, i);
        if (!job->skip && job->error == NULL) {
            paths[n] = job->path;
            index[n++] = i;
        }
    }
    struct regex_ctx x = {.r = r, .index = index};
    pcr_request rq = {.kind = PCR_MSG_REGEX,
                      .py = r->py->default_py,
                      .round = PCR_ROUND_AUX,
                      .pattern = plan->exclude,
                      .paths = paths,
                      .npaths = n,
                      .done = regex_done,
                      .ctx = &x};
    pcr_status rc = n ? pcr_engine_submit(r->eng, &rq, &r->err) : PCR_OK;
    while (n && rc == PCR_OK && !x.done) {
        rc = pcr_engine_step(r->eng, -1, &r->err);
    }
    if (rc == PCR_OK && n && x.status != PCR_OK) {
        rc =
            pcr_set_error(&r->err, PCR_ENV, "-x %s: %s", plan->exclude, x.msg);
    }
    free(paths);
    free(index);
    return rc;
}

/* With a cache, a version's facts (magic number, build) may come from the
 * cache's record of its server's files instead of a hello, so that a run
 * whose every source is a hit starts no interpreter (25 ms a version).
 * Looked up once a run, before the version's servers start: the record's
 * key is taken then, and a run that had to start them records what they
 * said under it (record_servers).  Not with --verify, which always
 * compiles. */
enum { KNOWN_UNTRIED, KNOWN_RECORD, KNOWN_MISSED, KNOWN_RUNNING };

static int
known_from_cache(pcr_runner *r, int py)
{
    if (r->cache == NULL || r->plan->rounds > 1) {
        return 0;
    }
    if (r->known == NULL &&
        (r->known = calloc((size_t)r->py->n + 1, sizeof *r->known)) == NULL) {
        return 0;
    }
    pcr_python *v = &r->py->v[py];
    pcr_known *k = &r->known[py];
    if (k->state == KNOWN_UNTRIED) {
        k->state = v->started                                   ? KNOWN_RUNNING
                   : pcr_cache_get_server(r->cache, v, &k->key) ? KNOWN_RECORD
                                                                : KNOWN_MISSED;
    }
    return k->state == KNOWN_RECORD && v->identified == 1;
}

/* After the run: what the servers it started said, for the next run; a
 * record a hello disagreed with, dropped (and the version's facts with
 * it: the next run asks its servers). */
static void
record_servers(pcr_runner *r)
{
    for (int py = 0; r->known != NULL && py < r->py->n; py++) {
        pcr_python *v = &r->py->v[py];
        const pcr_known *k = &r->known[py];
        if (v->identified < 0) {
            if (k->state == KNOWN_RECORD) {
                pcr_cache_drop_server(r->cache, &k->key);
            }
            v->identified = 0;
        } else if (k->state == KNOWN_MISSED && v->started && !v->identified) {
            pcr_cache_put_server(r->cache, v, &k->key);
        }
    }
}

/* A source was found: start its versions' servers now, so that their
 * start-up (25 ms of an interpreter's initialisation) overlaps the rest of
 * the walk instead of following it. */
static void
start_early(pcr_runner *r, const pcr_job *job)
{
    int py[PCR_MAX_PY], n = 0;
    pcr_error e;
    if (r->start_rounds == 0 || r->nearly == r->py->n || job->skip ||
        job->error != NULL ||
        pcr_versions_for(r->plan, job->path, py, &n, &e) != PCR_OK) {
        return; /* the job reports it */
    }
    for (int k = 0; k < n; k++) {
        if (!r->early[py[k]]) {
            r->early[py[k]] = 1;
            r->nearly++;
            if (!known_from_cache(r, py[k])) {
                pcr_engine_prestart(r->eng, py[k], r->start_rounds);
            }
        }
    }
}

/* Take jobs from the source while the window has room: in batches
 * (one -x request each) unless forced. */
static pcr_status
refill(pcr_runner *r, int force)
{
    size_t from = r->next;
    if (r->source_done ||
        (!force && r->next - r->first > r->cap - REGEX_BATCH)) {
        return PCR_OK;
    }
    while (!r->source_done && r->next - r->first < r->cap) {
        pcr_slot *s = slot(r, r->next);
        memset(s, 0, sizeof *s);
        int got = r->src.next(r->src.self, &s->job, &r->err);
        if (got < 0) {
            return PCR_ENV;
        }
        if (got == 0) {
            r->source_done = 1;
            break;
        }
        if (restrict_job(r, &s->job) != PCR_OK) {
            pcr_job_clear(&s->job);
            return PCR_ENV;
        }
        r->next++;
        if (r->plan->exclude == NULL) {
            /* at the first source, not after the window's whole walk:
             * with -x, after the pattern has spoken (below) */
            start_early(r, &s->job);
        }
    }
    pcr_status rc = exclude_jobs(r, from, r->next);
    for (size_t i = from; i < r->next && rc == PCR_OK; i++) {
        start_early(r, pcr_run_job(r, i));
        heap_push(r, i);
    }
    return rc;
}

/* ------------------------------------------------------------ the loop */

static size_t
open_limit(const pcr_runner *r)
{
    return (size_t)r->plan->servers * (r->plan->rounds > 1 ? 16 : 8) + 16;
}

static void
release(pcr_runner *r, size_t i, int delivered)
{
    pcr_slot *s = slot(r, i);
    if (!delivered && s->opened && r->ops->drop != NULL) {
        r->ops->drop(r, i);
    }
    pcr_job_clear(&s->job);
    s->state = NULL;
}

pcr_status
pcr_run_jobs(pcr_runner *r, pcr_job_source src, const pcr_verb_ops *ops)
{
    r->src = src;
    r->ops = ops;
    r->cap = WINDOW_JOBS;
    r->ring = calloc(r->cap, sizeof *r->ring);
    r->heap = calloc(r->cap, sizeof *r->heap);
    if (r->start_rounds > 0) {
        r->early = calloc((size_t)r->py->n + 1, 1);
    }
    if (r->ring == NULL || r->heap == NULL ||
        (r->start_rounds > 0 && r->early == NULL)) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    size_t limit = open_limit(r);
    pcr_status rc = PCR_OK;
    for (;;) {
        rc = refill(r, r->first == r->next);
        while (rc == PCR_OK && r->nheap > 0 &&
               (r->open == 0 ||
                (r->open < limit && r->open_bytes < WINDOW_BYTES))) {
            size_t i = heap_pop(r);
            pcr_slot *s = slot(r, i);
            s->opened = 1;
            r->open++;
            r->open_bytes += s->job.size;
            rc = ops->open(r, i);
        }
        if (rc == PCR_OK) {
            rc = run_steps(r);
        }
        while (rc == PCR_OK && r->first < r->next &&
               slot(r, r->first)->finished) {
            ops->deliver(r, r->first);
            release(r, r->first, 1);
            r->first++;
        }
        if (rc != PCR_OK ||
            (r->source_done && r->first == r->next && r->nheap == 0)) {
            break;
        }
        if (r->steps != NULL || (r->nheap > 0 && r->open < limit &&
                                 r->open_bytes < WINDOW_BYTES)) {
            continue;
        }
        if (pcr_engine_pending(r->eng) == 0) {
            if (r->next - r->first < r->cap && !r->source_done) {
                /* nothing to wait for: take more */
                if ((rc = refill(r, 1)) != PCR_OK) {
                    break;
                }
                continue;
            }
            rc = pcr_set_error(&r->err, PCR_ENV,
                               "internal error: %zu jobs wait for nothing",
                               r->next - r->first);
            break;
        }
        rc = pcr_engine_step(r->eng, -1, &r->err);
    }
    /* After an abort: the jobs still in the window are dropped. */
    drop_steps(r);
    for (size_t i = r->first; i < r->next; i++) {
        release(r, i, 0);
    }
    r->first = r->next;
    return rc;
}

pcr_status
pcr_run_tree(pcr_runner *r, const char *suffix, int into_pycache,
             const pcr_verb_ops *ops)
{
    pcr_walk wo = r->plan->walk;
    wo.suffix = suffix;
    wo.into_pycache = into_pycache;
    pcr_walker *w =
        pcr_walker_new(&wo, r->plan->operands, r->plan->noperands, NULL);
    if (w == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    pcr_status rc = pcr_run_jobs(r, pcr_walker_source(w), ops);
    pcr_walker_free(w);
    return rc;
}

pcr_status
pcr_run_hello(pcr_runner *r, int py)
{
    if (known_from_cache(r, py) ||
        (r->py->v[py].started && pcr_engine_servers(r->eng) > 0)) {
        return PCR_OK;
    }
    return pcr_engine_hello(r->eng, py, &r->err);
}

/* ------------------------------------------------------------ dispatch */

static const struct verb {
    pcr_verb verb;
    pcr_target target;
    int servers; /* needs compile servers */
    pcr_status (*fn)(pcr_runner *r);
} verbs[] = {
    {PCR_VERB_COMPILE, PCR_TARGET_TREE, 1, pcr_verb_compile},
    {PCR_VERB_COMPILE, PCR_TARGET_TAR, 1, pcr_verb_tar},
    {PCR_VERB_COMPILE, PCR_TARGET_WHEEL, 1, pcr_verb_wheel},
    {PCR_VERB_CHECK, PCR_TARGET_TREE, 1, pcr_verb_check},
    {PCR_VERB_CHECK, PCR_TARGET_TAR, 1, pcr_verb_check_tar},
    {PCR_VERB_CHECK, PCR_TARGET_WHEEL, 1, pcr_verb_check_wheel},
    {PCR_VERB_CANONICALIZE, PCR_TARGET_TREE, 0, pcr_verb_canonicalize},
    {PCR_VERB_DUMP, PCR_TARGET_TREE, 0, pcr_verb_dump},
    {PCR_VERB_REMOVE, PCR_TARGET_TREE, 0, pcr_verb_remove},
};

static const struct verb *
find_verb(pcr_verb verb, pcr_target target)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (verbs[i].verb == verb && verbs[i].target == target) {
            return &verbs[i];
        }
    }
    return NULL;
}

static pcr_status
run_verb(pcr *p, pcr_verb verb, pcr_callback cb, void *user)
{
    pcr_target target = p->set.wheel_in  ? PCR_TARGET_WHEEL
                        : p->set.tar_out ? PCR_TARGET_TAR
                                         : PCR_TARGET_TREE;
    const struct verb *v = find_verb(verb, target);
    if (v == NULL) {
        return pcr_fail(p, PCR_ENV, "this operation does not apply to %s",
                        target == PCR_TARGET_TAR     ? "a tar"
                        : target == PCR_TARGET_WHEEL ? "a wheel"
                                                     : "a tree");
    }
    if (v->servers || p->set.exclude != NULL ||
        (verb == PCR_VERB_REMOVE && !p->set.all_tags)) {
        pcr_status rc = pcr_discover(p);
        if (rc != PCR_OK) {
            return rc;
        }
    }
    pcr_plan plan;
    pcr_runner r = {.cb = cb, .user = user, .py = &p->py};
    const char *refused = NULL;
    pcr_status rc = pcr_plan_make(p, verb, &plan, &r.err);
    /* a verb without servers opens the cache only to count it (a run
     * with no operands and the totals asked for: --cache-stats alone) */
    if (rc == PCR_OK && (v->servers || p->cache_want_totals)) {
        plan.cache = pcr_handle_cache(p, &refused);
    } else {
        plan.cache = NULL;
    }
    r.plan = &plan;
    r.cache = plan.cache;
    r.eng = rc == PCR_OK ? pcr_handle_engine(p) : NULL;
    if (rc == PCR_OK && r.eng == NULL) {
        rc = pcr_set_error(&r.err, PCR_ENV, "out of memory");
    }
    if (rc == PCR_OK) {
        pcr_engine_run run = {plan.servers, plan.memory_limit};
        pcr_engine_begin(r.eng, &run);
        if (r.cache != NULL) {
            pcr_cache_begin_run(r.cache);
        }
        if (refused != NULL) {
            pcr_run_warning(&r, refused);
        }
        rc = v->fn(&r);
        pcr_engine_end(r.eng, rc == PCR_ENV);
        if (r.cache != NULL) {
            record_servers(&r);
            pcr_cache_finish(r.cache, p->cache_want_totals);
            const char *w = pcr_cache_take_warning(r.cache);
            if (w != NULL) {
                pcr_run_warning(&r, w);
            }
        }
    }
    free(r.ring);
    free(r.heap);
    free(r.early);
    free(r.known);
    pcr_plan_free(&plan);
    if (rc != PCR_OK) {
        snprintf(p->err.msg, sizeof p->err.msg, "%s", r.err.msg);
        return rc == PCR_ENV ? PCR_ENV : PCR_FAIL;
    }
    if (r.trouble) {
        return pcr_fail(p, PCR_ENV, "some files could not be handled");
    }
    if (r.failed) {
        return pcr_fail(p, PCR_FAIL, "some files failed");
    }
    p->err.msg[0] = '\0';
    return PCR_OK;
}

PCR_API pcr_status
pcr_run(pcr *p, pcr_verb verb, pcr_callback cb, void *user)
{
    if (p == NULL) {
        return PCR_ENV;
    }
    if (p->running) {
        return pcr_fail(p, PCR_ENV, "pcr_run called from its own callback");
    }
    p->running = 1;
    pcr_status rc = run_verb(p, verb, cb, user);
    p->running = 0;
    return rc;
}
