/* SPDX-License-Identifier: MIT */
/*
 * compile_jobs.c - each job compiled for each of its Python versions
 * (compile_jobs.h).
 *
 * Per job and version:
 *   1. Unless forced: if every .pyc is current (our header, our recorded
 *      name, canonical bytes) nothing is compiled.  In the hash modes the
 *      header needs CPython's source hash: computed here for the series
 *      source_hash.c knows, else asked of a server first when every .pyc
 *      exists (when one is missing we compile straight away and get the
 *      hash with the code).
 *   2. One COMPILE request for all levels; with --verify one more per
 *      round, to independent servers (other hash seed, other order).
 *   3. When every reply is in: a failure, or a difference between the
 *      rounds, fails the version and nothing is written; else the sink
 *      gets the finished bytes of every level at once.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cache.h"
#include "compile_jobs.h"
#include "marshal_diff.h"
#include "paths.h"
#include "pyc_files.h"
#include "source_hash.h"
#include "walk.h"

struct version {
    int py;
    char *path[3];
    unsigned char header[16];
    int replies_due;
    int have_primary;
    pcr_buf body[3];    /* round 0 */
    pcr_buf *vbody;     /* [round - 1][level] */
    char *verify_error; /* the first failure of an independent compile */
    pcr_status status;
    pcr_outcome outcome;
    char *msg;
    char *warnings;
    int done;
};

struct job {
    pcr_source src;
    int have_src;
    char *record;
    int nver;
    struct version v[PCR_MAX_PY];
    int remaining;
    pcr_status status; /* the job as a whole failed before versions */
    char *msg;
    pcr_outcome outcome;
};

struct state {
    char **cleaned; /* directories already rid of stale temp files */
    size_t ncleaned;
    const pcr_compile_hooks *h;
    struct job **jobs;
    int nlevels;
    const int *levels;
    int rounds; /* --verify's independent rounds */
};

struct reqctx {
    pcr_runner *r;
    size_t job;
    int vi;
    int round;
};

static struct state *
state_of(pcr_runner *r)
{
    return r->vstate;
}

static void
set_msg(char **slot, const char *msg)
{
    free(*slot);
    *slot = strdup(msg ? msg : "");
}

/* ------------------------------------------------------------ finishing */

static void
free_version(struct state *s, struct version *v)
{
    for (int l = 0; l < 3; l++) {
        free(v->path[l]);
        pcr_buf_free(&v->body[l]);
    }
    if (v->vbody != NULL) {
        for (int k = 0; k < s->rounds * s->nlevels; k++) {
            pcr_buf_free(&v->vbody[k]);
        }
        free(v->vbody);
    }
    free(v->verify_error);
    free(v->msg);
    free(v->warnings);
}

static void
version_done(pcr_runner *r, size_t i, int vi)
{
    struct state *s = state_of(r);
    struct job *j = s->jobs[i];
    struct version *v = &j->v[vi];
    if (v->done) {
        return;
    }
    v->done = 1;
    for (int l = 0; l < 3; l++) {
        pcr_buf_free(&v->body[l]);
    }
    if (--j->remaining == 0) {
        pcr_source_free(&j->src);
        j->have_src = 0;
        pcr_run_finish(r, i);
    }
}

static void
version_fails(pcr_runner *r, size_t i, int vi, pcr_status st, const char *msg)
{
    struct version *v = &state_of(r)->jobs[i]->v[vi];
    v->status = st;
    v->outcome = PCR_FAILED;
    set_msg(&v->msg, msg);
    version_done(r, i, vi);
}

/* The first time a run writes into a directory, remove the temporary
 * files a killed run left there. */
static void
clean_once(struct state *s, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    for (size_t k = 0; k < s->ncleaned; k++) {
        if (strlen(s->cleaned[k]) == n &&
            strncmp(s->cleaned[k], path, n) == 0) {
            return;
        }
    }
    char **nc = realloc(s->cleaned, (s->ncleaned + 1) * sizeof *nc);
    char *dir = n ? strndup(path, n) : strdup(".");
    if (nc == NULL || dir == NULL) {
        free(dir);
        if (nc != NULL) {
            s->cleaned = nc;
        }
        return;
    }
    s->cleaned = nc;
    s->cleaned[s->ncleaned++] = dir;
    pcr_clean_stale_temps(n ? dir : ".", ".pyc");
}

/* Write the levels to their paths (the tree's sink). */
static pcr_status
store_files(pcr_runner *r, size_t i, pcr_compiled *c, pcr_error *err)
{
    (void)i;
    pcr_status rc = PCR_OK;
    clean_once(state_of(r), c->path[0]);
    /* importlib's _calc_mode: the source's mode, owner-writable */
    int mode = (int)((c->mode | 0200) & 0666);
    for (int l = 0; l < c->nlevels && rc == PCR_OK; l++) {
        int dupe =
            l > 0 && r->p->hardlink_dupes && !r->p->legacy &&
            c->pyc[l].len == c->pyc[l - 1].len &&
            memcmp(c->pyc[l].data, c->pyc[l - 1].data, c->pyc[l].len) == 0;
        rc = dupe ? pcr_link_atomic(c->path[l - 1], c->path[l], err)
                  : pcr_write_atomic(c->path[l], c->pyc[l].data, c->pyc[l].len,
                                     mode, err);
    }
    return rc;
}

/* Every reply is in: compare the rounds, build the bytes, store. */
static void
version_complete(pcr_runner *r, size_t i, int vi)
{
    struct state *s = state_of(r);
    struct job *j = s->jobs[i];
    struct version *v = &j->v[vi];
    if (v->status != PCR_OK) {
        version_done(r, i, vi);
        return;
    }
    if (v->verify_error != NULL) {
        version_fails(r, i, vi, PCR_FAIL, v->verify_error);
        return;
    }
    for (int k = 0; k < s->rounds; k++) {
        for (int l = 0; l < s->nlevels; l++) {
            const pcr_buf *a = &v->body[l];
            const pcr_buf *b = &v->vbody[k * s->nlevels + l];
            if (a->len == b->len && memcmp(a->data, b->data, a->len) == 0) {
                continue;
            }
            char where[1024], msg[2048];
            pcr_marshal_diff(a->data, a->len, b->data, b->len,
                             r->p->py[v->py].magic, where, sizeof where);
            snprintf(msg, sizeof msg,
                     "not reproducible: an independent compile (hash seed "
                     "%d, %s order) gave other bytes; first difference: %s",
                     k + 1, (k + 1) % 2 ? "reverse" : "queue", where);
            version_fails(r, i, vi, PCR_FAIL, msg);
            return;
        }
    }
    pcr_compiled c = {.py = v->py,
                      .nlevels = s->nlevels,
                      .outcome = PCR_COMPILED,
                      .mode = j->src.mode,
                      .mtime = j->src.mtime_sec};
    pcr_error err;
    pcr_status rc = PCR_OK;
    for (int l = 0; l < s->nlevels && rc == PCR_OK; l++) {
        c.path[l] = v->path[l];
        rc = pcr_assemble(v->header, &v->body[l], &c.pyc[l], &err);
    }
    if (rc == PCR_OK) {
        rc = s->h->store ? s->h->store(r, i, &c, &err)
                         : store_files(r, i, &c, &err);
    }
    for (int l = 0; l < s->nlevels; l++) {
        pcr_buf_free(&c.pyc[l]);
    }
    if (rc != PCR_OK) {
        version_fails(r, i, vi, rc, err.msg);
        return;
    }
    v->outcome = PCR_COMPILED;
    version_done(r, i, vi);
}

/* ------------------------------------------------------------- replies */

static pcr_status submit_compile(pcr_runner *r, size_t i, int vi);
static void on_hash(void *ctx, pcr_reply *rep);

static void
on_compile(void *ctx, pcr_reply *rep)
{
    struct reqctx *x = ctx;
    pcr_runner *r = x->r;
    struct state *s = state_of(r);
    struct job *j = s->jobs[x->job];
    struct version *v = &j->v[x->vi];
    if (x->round == 0) {
        if (rep->status != PCR_OK) {
            v->status = rep->status;
            v->outcome = PCR_FAILED;
            set_msg(&v->msg, rep->message);
        } else {
            for (int l = 0; l < s->nlevels; l++) {
                v->body[l] = rep->body[l];
                rep->body[l].data = NULL;
                if (r->p->cache_dir != NULL && rep->have_hash) {
                    pcr_cache_key key;
                    pcr_cache_make_key(r->p, v->py, j->record, s->levels[l],
                                       j->src.bytes.data, j->src.bytes.len,
                                       &key);
                    pcr_cache_put(r->p, &key, &v->body[l], rep->hash);
                }
            }
            pcr_make_header(r->p, v->py, &j->src,
                            rep->have_hash ? rep->hash : NULL, v->header);
            if (s->h->mtime != NULL && r->p->mode == PCR_TIMESTAMP) {
                pcr_source tmp = j->src;
                tmp.mtime_sec = s->h->mtime(r, x->job, &j->src);
                tmp.mtime_nsec = 0;
                pcr_make_header(r->p, v->py, &tmp, NULL, v->header);
            }
            if (rep->warnings != NULL && rep->warnings[0] != '\0') {
                set_msg(&v->warnings, rep->warnings);
            }
        }
        v->have_primary = 1;
    } else if (rep->status != PCR_OK) {
        if (v->verify_error == NULL) {
            char msg[PCR_ERROR_MAX];
            snprintf(msg, sizeof msg,
                     "not reproducible: an independent compile (hash seed "
                     "%d) failed: %.3000s",
                     x->round, rep->message);
            set_msg(&v->verify_error, msg);
        }
    } else {
        for (int l = 0; l < s->nlevels; l++) {
            v->vbody[(x->round - 1) * s->nlevels + l] = rep->body[l];
            rep->body[l].data = NULL;
        }
    }
    size_t job = x->job;
    int vi = x->vi;
    free(x);
    if (--v->replies_due == 0) {
        version_complete(r, job, vi);
    }
}

static pcr_status
submit(pcr_runner *r, size_t i, int vi, int kind, int round)
{
    struct state *s = state_of(r);
    struct job *j = s->jobs[i];
    struct reqctx *x = malloc(sizeof *x);
    if (x == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    *x = (struct reqctx){r, i, vi, round};
    pcr_request rq = {.kind = kind,
                      .py = j->v[vi].py,
                      .round = round,
                      .want_hash = r->p->mode != PCR_TIMESTAMP ||
                                   r->p->cache_dir != NULL,
                      .nlevels = s->nlevels,
                      .name = j->record,
                      .src = j->src.bytes.data,
                      .len = j->src.bytes.len,
                      .ctx = x};
    memcpy(rq.levels, s->levels, (size_t)s->nlevels * sizeof *s->levels);
    rq.done = kind == PCR_MSG_HASH ? on_hash : on_compile;
    pcr_status rc = pcr_engine_submit(r->eng, &rq, &r->err);
    if (rc != PCR_OK) {
        free(x);
    }
    return rc;
}

/* Every level from the cache: then nothing is compiled (never with
 * --verify, whose point is to compile). */
static int
from_cache(pcr_runner *r, size_t i, int vi)
{
    struct state *s = state_of(r);
    struct job *j = s->jobs[i];
    struct version *v = &j->v[vi];
    if (r->p->cache_dir == NULL || s->rounds > 0) {
        return 0;
    }
    unsigned char hash[8];
    int all = 1;
    for (int l = 0; l < s->nlevels; l++) {
        pcr_cache_key key;
        pcr_cache_make_key(r->p, v->py, j->record, s->levels[l],
                           j->src.bytes.data, j->src.bytes.len, &key);
        all &= pcr_cache_get(r->p, &key, &v->body[l], hash);
    }
    if (!all) {
        for (int l = 0; l < s->nlevels; l++) {
            pcr_buf_free(&v->body[l]);
        }
        return 0;
    }
    pcr_make_header(r->p, v->py, &j->src, hash, v->header);
    if (s->h->mtime != NULL && r->p->mode == PCR_TIMESTAMP) {
        pcr_source tmp = j->src;
        tmp.mtime_sec = s->h->mtime(r, i, &j->src);
        tmp.mtime_nsec = 0;
        pcr_make_header(r->p, v->py, &tmp, NULL, v->header);
    }
    version_complete(r, i, vi);
    return 1;
}

static pcr_status
submit_compile(pcr_runner *r, size_t i, int vi)
{
    struct state *s = state_of(r);
    struct version *v = &s->jobs[i]->v[vi];
    if (from_cache(r, i, vi)) {
        return PCR_OK;
    }
    v->replies_due = 1 + s->rounds;
    if (s->rounds > 0 && v->vbody == NULL) {
        v->vbody = calloc((size_t)(s->rounds * s->nlevels), sizeof *v->vbody);
        if (v->vbody == NULL) {
            return pcr_set_error(&r->err, PCR_ENV, "out of memory");
        }
    }
    pcr_status rc = PCR_OK;
    for (int round = 0; round <= s->rounds && rc == PCR_OK; round++) {
        rc = submit(r, i, vi, PCR_MSG_COMPILE, round);
    }
    return rc;
}

static int
all_current(pcr_runner *r, size_t i, int vi)
{
    struct state *s = state_of(r);
    struct job *j = s->jobs[i];
    struct version *v = &j->v[vi];
    for (int l = 0; l < s->nlevels; l++) {
        pcr_buf old;
        int missing;
        pcr_error e;
        int ok = pcr_read_pyc(v->path[l], &old, &missing, &e) == PCR_OK &&
                 pcr_pyc_is_current(old.data, old.len, v->header, j->record);
        pcr_buf_free(&old);
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

/* The header for this hash (NULL in timestamp mode); if every .pyc is
 * current with it, the version is done as up to date: 1. */
static int
done_if_current(pcr_runner *r, size_t i, int vi, const unsigned char *hash)
{
    struct job *j = state_of(r)->jobs[i];
    pcr_make_header(r->p, j->v[vi].py, &j->src, hash, j->v[vi].header);
    if (!all_current(r, i, vi)) {
        return 0;
    }
    j->v[vi].outcome = PCR_UP_TO_DATE;
    version_done(r, i, vi);
    return 1;
}

static void
on_hash(void *ctx, pcr_reply *rep)
{
    struct reqctx *x = ctx;
    pcr_runner *r = x->r;
    size_t i = x->job;
    int vi = x->vi;
    free(x);
    if (rep->status != PCR_OK) {
        version_fails(r, i, vi, rep->status, rep->message);
        return;
    }
    if (done_if_current(r, i, vi, rep->hash)) {
        return;
    }
    if (submit_compile(r, i, vi) != PCR_OK) {
        version_fails(r, i, vi, PCR_ENV, r->err.msg);
    }
}

/* --------------------------------------------------------------- open */

/* Fedora's clamp_source_mtime: a source newer than SOURCE_DATE_EPOCH gets
 * that time, so a TIMESTAMP .pyc is both reproducible and valid. */
static pcr_status
clamp_source(const char *path, int64_t epoch, pcr_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
        (int64_t)st.st_mtim.tv_sec < epoch ||
        ((int64_t)st.st_mtim.tv_sec == epoch && st.st_mtim.tv_nsec == 0)) {
        return PCR_OK; /* reading it will say what is wrong, if anything */
    }
    struct timespec times[2] = {{.tv_nsec = UTIME_OMIT},
                                {.tv_sec = (time_t)epoch, .tv_nsec = 0}};
    if (utimensat(AT_FDCWD, path, times, 0) != 0) {
        return pcr_set_errno(err, PCR_FAIL, errno,
                             "cannot clamp the mtime to %lld",
                             (long long)epoch);
    }
    return PCR_OK;
}

static pcr_status
load_file(pcr_runner *r, size_t i, pcr_source *src, pcr_error *err)
{
    const char *path = r->jobs.v[i].path;
    pcr_status rc = PCR_OK;
    if (r->p->clamp_mtime && r->p->epoch >= 0) {
        rc = clamp_source(path, r->p->epoch, err);
    }
    if (rc == PCR_OK) {
        rc = pcr_source_read(path, PCR_MAX_SOURCE, src, err);
    }
    return rc;
}

static char *
record_default(pcr_runner *r, size_t i)
{
    const pcr_job *job = &r->jobs.v[i];
    if (job->record != NULL) {
        return strdup(job->record);
    }
    return pcr_record_name(job->path, job->relpath, r->p->ddir, r->p->strip,
                           r->p->prepend);
}

static pcr_status
open_job(pcr_runner *r, size_t i)
{
    struct state *s = state_of(r);
    const pcr_compile_hooks *h = s->h;
    const pcr_job *job = &r->jobs.v[i];
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    s->jobs[i] = j;
    pcr_error e;
    if (job->error != NULL || job->skip) {
        j->status = job->error ? PCR_FAIL : PCR_OK;
        j->outcome = job->error ? PCR_FAILED : PCR_SKIPPED;
        set_msg(&j->msg, job->error);
        pcr_run_finish(r, i);
        return PCR_OK;
    }
    int py[PCR_MAX_PY], npy = 0;
    pcr_status rc = pcr_versions_for(r->p, job->path, py, &npy, &e);
    if (rc == PCR_OK) {
        rc = h->load ? h->load(r, i, &j->src, &e)
                     : load_file(r, i, &j->src, &e);
        j->have_src = rc == PCR_OK;
    }
    if (rc == PCR_OK) {
        j->record = h->record ? h->record(r, i) : record_default(r, i);
        if (j->record == NULL) {
            rc = pcr_set_error(&e, PCR_ENV, "out of memory");
        }
    }
    if (rc != PCR_OK) {
        j->status = rc;
        j->outcome = PCR_FAILED;
        set_msg(&j->msg, e.msg);
        pcr_run_finish(r, i);
        return PCR_OK;
    }
    if (rc == PCR_OK && job->pyc != NULL && (npy > 1 || s->nlevels > 1)) {
        rc = pcr_set_error(&e, PCR_ENV,
                           "one .pyc name was given for %d .pyc files "
                           "(one Python version and one level only)",
                           npy * s->nlevels);
        j->status = rc;
        j->outcome = PCR_FAILED;
        set_msg(&j->msg, e.msg);
        pcr_run_finish(r, i);
        return PCR_OK;
    }
    j->nver = npy;
    j->remaining = npy;
    for (int k = 0; k < npy; k++) {
        /* the first server of each version: its magic and cache tag */
        if ((rc = pcr_run_hello(r, py[k])) != PCR_OK) {
            return rc;
        }
    }
    int check = h->check_current && !r->p->force && !r->p->verify;
    for (int vi = 0; vi < npy; vi++) {
        struct version *v = &j->v[vi];
        v->py = py[vi];
        for (int l = 0; l < s->nlevels; l++) {
            v->path[l] = h->target  ? h->target(r, i, v->py, s->levels[l])
                         : job->pyc ? strdup(job->pyc)
                                    : pcr_output_path(r->p, job->path, v->py,
                                                      s->levels[l]);
            if (v->path[l] == NULL) {
                return pcr_set_error(&r->err, PCR_ENV, "out of memory");
            }
        }
    }
    for (int vi = 0; vi < npy; vi++) {
        struct version *v = &j->v[vi];
        if (check && r->p->mode == PCR_TIMESTAMP) {
            if (done_if_current(r, i, vi, NULL)) {
                continue;
            }
        } else if (check) {
            int exist = 1;
            for (int l = 0; l < s->nlevels && exist; l++) {
                struct stat st;
                exist = lstat(v->path[l], &st) == 0;
            }
            unsigned char hash[8];
            const pcr_python *pyv = &r->p->py[v->py];
            if (exist && pyv->started &&
                pcr_source_hash(pyv->magic, j->src.bytes.data,
                                j->src.bytes.len, hash)) {
                if (done_if_current(r, i, vi, hash)) {
                    continue;
                }
            } else if (exist) {
                rc = submit(r, i, vi, PCR_MSG_HASH, 0);
                if (rc != PCR_OK) {
                    return rc;
                }
                continue;
            }
        }
        rc = submit_compile(r, i, vi);
        if (rc != PCR_OK) {
            return rc;
        }
    }
    return PCR_OK;
}

/* ------------------------------------------------------------ deliver */

static void
deliver_job(pcr_runner *r, size_t i)
{
    struct state *s = state_of(r);
    struct job *j = s->jobs[i];
    if (j->nver == 0) {
        pcr_run_emit_source(r, i, -1, j->outcome, j->status, j->msg);
    }
    for (int vi = 0; vi < j->nver; vi++) {
        struct version *v = &j->v[vi];
        pcr_run_emit_source(r, i, v->py, v->outcome, v->status, v->msg);
        if (v->warnings != NULL) {
            pcr_event ev = {.kind = PCR_EV_WARNING,
                            .index = i,
                            .source = r->jobs.v[i].path,
                            .python = r->p->py[v->py].series,
                            .level = -1,
                            .message = v->warnings};
            pcr_run_emit(r, &ev);
        }
        free_version(s, v);
    }
    free(j->record);
    free(j->msg);
    pcr_source_free(&j->src);
    free(j);
    s->jobs[i] = NULL;
}

static const pcr_verb_ops ops = {open_job, deliver_job};

int
pcr_compile_rounds(const pcr *p)
{
    return p->verify > 1 ? p->verify : 1;
}

pcr_status
pcr_compile_jobs(pcr_runner *r, const pcr_compile_hooks *hooks)
{
    struct state s = {.h = hooks};
    s.nlevels = pcr_levels(r->p, &s.levels);
    s.rounds = pcr_compile_rounds(r->p) - 1;
    s.jobs = calloc(r->jobs.n ? r->jobs.n : 1, sizeof *s.jobs);
    if (s.jobs == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    r->vstate = &s;
    r->ops = &ops;
    pcr_status rc = pcr_run_jobs(r);
    /* After an abort, jobs still open are freed here. */
    for (size_t i = 0; i < r->jobs.n; i++) {
        struct job *j = s.jobs[i];
        if (j != NULL) {
            for (int vi = 0; vi < j->nver; vi++) {
                free_version(&s, &j->v[vi]);
            }
            free(j->record);
            free(j->msg);
            pcr_source_free(&j->src);
            free(j);
        }
    }
    for (size_t k = 0; k < s.ncleaned; k++) {
        free(s.cleaned[k]);
    }
    free(s.cleaned);
    free(s.jobs);
    r->vstate = NULL;
    return rc;
}
