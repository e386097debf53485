/* SPDX-License-Identifier: MIT */
/*
 * compile_jobs.c - the compile pipeline (compile_jobs.h).
 *
 * A job's life:
 *   open     its versions and their .pyc paths, the first server of each
 *            version (its hello: magic number, build), the source read
 *   current? unless forced: if every .pyc is current (our header, our
 *            recorded name, canonical bytes) nothing is compiled.  In the
 *            hash modes the header needs CPython's source hash: computed
 *            here for the series source_hash.c knows, else asked of a
 *            server first when every .pyc exists
 *   lookup   the cache (a step of the loop), when one is set and no
 *            --verify asks to compile
 *   submit   one COMPILE request for all levels; with --verify one more
 *            per round, to independent servers (other hash seed, order)
 *   replies  kept as they come; the last one defers the rest
 *   verify   the rounds compared: a difference fails the version
 *   store    the cache (a step), then the sink
 *   deliver  the sink's events, in job order
 * Server reply callbacks only keep what they got and defer the next step:
 * the cache and the sink are called from the loop.
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

struct job;

struct version {
    struct job *job;
    int py;
    int nlevels;
    int levels[PCR_MAX_LEVELS];
    char *path[PCR_MAX_LEVELS];
    unsigned char header[PCR_HEADER_SIZE];
    int replies_due;
    int have_hash;
    unsigned cached; /* levels (bit l) that came from the cache */
    unsigned char hash[8];
    pcr_buf body[PCR_MAX_LEVELS]; /* round 0 */
    pcr_buf *vbody;               /* [round - 1][level] */
    char *verify_error; /* the first failure of an independent compile */
    pcr_status status;
    pcr_outcome outcome;
    char *msg;
    char *warnings;
    int done;
};

struct job {
    size_t index;
    pcr_source src;
    char *record;
    int nver;
    struct version *v;
    int remaining;
    pcr_status status; /* the job as a whole failed before versions */
    char *msg;
    pcr_outcome outcome;
    int no_compiler;
    void *sink;
};

struct state {
    char **cleaned; /* directories already rid of stale temp files */
    size_t ncleaned;
    const pcr_compile_hooks *h;
    int rounds; /* --verify's independent rounds */
};

struct reqctx {
    pcr_runner *r;
    struct version *v;
    int round;
};

static struct state *
state_of(pcr_runner *r)
{
    return r->vstate;
}

static struct job *
job_of(pcr_runner *r, size_t i)
{
    return *pcr_run_state(r, i);
}

void **
pcr_compile_sink_state(pcr_runner *r, size_t i)
{
    return &job_of(r, i)->sink;
}

static void
set_msg(char **slot, const char *msg)
{
    free(*slot);
    *slot = strdup(msg ? msg : "");
}

/* ------------------------------------------------------------ finishing */

static void
free_bodies(struct state *s, struct version *v)
{
    for (int l = 0; l < PCR_MAX_LEVELS; l++) {
        pcr_buf_free(&v->body[l]);
    }
    if (v->vbody != NULL) {
        for (int k = 0; k < s->rounds * v->nlevels; k++) {
            pcr_buf_free(&v->vbody[k]);
        }
        free(v->vbody);
        v->vbody = NULL;
    }
}

static void
free_job(struct state *s, struct job *j)
{
    for (int vi = 0; vi < j->nver; vi++) {
        struct version *v = &j->v[vi];
        for (int l = 0; l < PCR_MAX_LEVELS; l++) {
            free(v->path[l]);
        }
        free_bodies(s, v);
        free(v->verify_error);
        free(v->msg);
        free(v->warnings);
    }
    free(j->v);
    free(j->record);
    free(j->msg);
    pcr_source_free(&j->src);
    free(j);
}

static void
version_done(pcr_runner *r, struct version *v)
{
    if (v->done) {
        return;
    }
    v->done = 1;
    free_bodies(state_of(r), v);
    struct job *j = v->job;
    if (--j->remaining == 0) {
        pcr_source_free(&j->src); /* the source is not needed any more */
        pcr_run_finish(r, j->index);
    }
}

/* Tell a sink that sees failures about this one. */
static void
tell_failure(pcr_runner *r, struct version *v)
{
    const pcr_compile_hooks *h = state_of(r)->h;
    if (h->store == NULL || !h->sees_failures) {
        return;
    }
    pcr_compiled c = {.py = v->py,
                      .nlevels = v->nlevels,
                      .status = v->status,
                      .msg = v->msg ? v->msg : ""};
    memcpy(c.levels, v->levels, sizeof c.levels);
    memcpy(c.path, v->path, sizeof c.path);
    pcr_error err;
    h->store(r, v->job->index, &c, &err);
}

static void
version_fails(pcr_runner *r, struct version *v, pcr_status st, const char *msg)
{
    v->status = st;
    v->outcome = PCR_FAILED;
    set_msg(&v->msg, msg);
    tell_failure(r, v);
    version_done(r, v);
}

/* mkdir -p dir, as py_compile's os.makedirs (mode 0777 less the
 * umask): below a pycache prefix the whole chain may be missing. */
static void
make_dirs(char *dir)
{
    struct stat st;
    if (dir[0] == '\0' || stat(dir, &st) == 0) {
        return;
    }
    char *slash = strrchr(dir, '/');
    if (slash != NULL && slash != dir) {
        *slash = '\0';
        make_dirs(dir);
        *slash = '/';
    }
    (void)mkdir(dir, 0777); /* a failure is said by the write */
}

/* The first time a run writes into a directory, remove the temporary
 * files a killed run left there (below a pycache prefix, make it
 * first). */
static void
clean_once(struct state *s, const pcr_plan *plan, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    for (size_t k = 0; k < s->ncleaned; k++) {
        if (strlen(s->cleaned[k]) == n &&
            strncmp(s->cleaned[k], path, n) == 0) {
            return;
        }
    }
    /* keep the last few directories only: a walk visits each once */
    if (s->ncleaned == 64) {
        free(s->cleaned[0]);
        memmove(s->cleaned, s->cleaned + 1, 63 * sizeof *s->cleaned);
        s->ncleaned--;
    }
    char *dir = n ? strndup(path, n) : strdup(".");
    if (dir == NULL) {
        return;
    }
    s->cleaned[s->ncleaned++] = dir;
    if (plan->pycache_prefix != NULL) {
        make_dirs(dir);
    }
    pcr_clean_stale_temps(dir, ".pyc");
}

/* Write the levels to their paths (the tree's sink). */
static pcr_status
store_files(pcr_runner *r, pcr_compiled *c, pcr_error *err)
{
    pcr_status rc = PCR_OK;
    clean_once(state_of(r), r->plan, c->path[0]);
    /* importlib's _calc_mode: the source's mode, owner-writable */
    int mode = (int)((c->mode | 0200) & 0666);
    for (int l = 0; l < c->nlevels && rc == PCR_OK; l++) {
        int dupe =
            l > 0 && r->plan->hardlink_dupes && !r->plan->legacy &&
            c->pyc[l].len == c->pyc[l - 1].len &&
            memcmp(c->pyc[l].data, c->pyc[l - 1].data, c->pyc[l].len) == 0;
        rc = dupe ? pcr_link_atomic(c->path[l - 1], c->path[l], err)
                  : pcr_write_atomic(c->path[l], c->pyc[l].data, c->pyc[l].len,
                                     mode, err);
    }
    return rc;
}

/* The header of version v, for this hash (NULL: timestamp mode). */
static void
make_header(pcr_runner *r, struct version *v, const unsigned char *hash)
{
    const struct state *s = state_of(r);
    struct job *j = v->job;
    pcr_make_header(r->plan, r->py, v->py, &j->src, hash, v->header);
    if (s->h->mtime != NULL && r->plan->mode == PCR_TIMESTAMP) {
        pcr_source tmp = j->src;
        tmp.mtime_sec = s->h->mtime(r, j->index, &j->src);
        tmp.mtime_nsec = 0;
        pcr_make_header(r->plan, r->py, v->py, &tmp, NULL, v->header);
    }
}

/* Every reply is in (a step of the loop): the cache stores the bodies,
 * the rounds are compared, the bytes built and handed to the sink. */
static pcr_status
version_complete(pcr_runner *r, void *arg)
{
    struct state *s = state_of(r);
    struct version *v = arg;
    struct job *j = v->job;
    if (v->status != PCR_OK) {
        tell_failure(r, v);
        version_done(r, v);
        return PCR_OK;
    }
    if (v->verify_error != NULL) {
        version_fails(r, v, PCR_FAIL, v->verify_error);
        return PCR_OK;
    }
    for (int k = 0; k < s->rounds; k++) {
        for (int l = 0; l < v->nlevels; l++) {
            const pcr_buf *a = &v->body[l];
            const pcr_buf *b = &v->vbody[k * v->nlevels + l];
            if (a->len == b->len && memcmp(a->data, b->data, a->len) == 0) {
                continue;
            }
            char where[1024], msg[2048];
            pcr_marshal_diff(a->data, a->len, b->data, b->len,
                             r->py->v[v->py].magic, where, sizeof where);
            snprintf(msg, sizeof msg,
                     "not reproducible: an independent compile (hash seed "
                     "%d, %s order) gave other bytes; first difference: %s",
                     k + 1, (k + 1) % 2 ? "reverse" : "queue", where);
            version_fails(r, v, PCR_FAIL, msg);
            return PCR_OK;
        }
    }
    if (r->cache != NULL && v->have_hash && s->rounds == 0) {
        for (int l = 0; l < v->nlevels; l++) {
            if (v->cached & 1u << l) {
                continue; /* a hit is not stored again: a write per hit */
            }
            pcr_cache_key key;
            pcr_cache_make_key(&r->py->v[v->py], j->record, v->levels[l],
                               j->src.bytes.data, j->src.bytes.len, &key);
            pcr_cache_put(r->cache, &key, &v->body[l], v->hash);
        }
    }
    make_header(r, v, v->have_hash ? v->hash : NULL);
    pcr_compiled c = {.py = v->py,
                      .nlevels = v->nlevels,
                      .status = PCR_OK,
                      .mode = j->src.mode,
                      .mtime = j->src.mtime_sec};
    memcpy(c.levels, v->levels, sizeof c.levels);
    pcr_error err;
    pcr_status rc = PCR_OK;
    for (int l = 0; l < v->nlevels && rc == PCR_OK; l++) {
        c.path[l] = v->path[l];
        rc = pcr_assemble(v->header, &v->body[l], &c.pyc[l], &err);
    }
    if (rc == PCR_OK) {
        rc = s->h->store ? s->h->store(r, j->index, &c, &err)
                         : store_files(r, &c, &err);
    }
    for (int l = 0; l < v->nlevels; l++) {
        pcr_buf_free(&c.pyc[l]);
    }
    if (rc != PCR_OK) {
        version_fails(r, v, rc, err.msg);
        return PCR_OK;
    }
    v->outcome = PCR_COMPILED;
    version_done(r, v);
    return PCR_OK;
}

/* ------------------------------------------------------------- replies */

/* A reply is kept; the last one of a version defers the rest. */
static void
on_compile(void *ctx, pcr_reply *rep)
{
    struct reqctx *x = ctx;
    pcr_runner *r = x->r;
    struct version *v = x->v;
    if (x->round == 0) {
        if (rep->status != PCR_OK) {
            v->status = rep->status;
            v->outcome = PCR_FAILED;
            set_msg(&v->msg, rep->message);
        } else {
            for (int l = 0; l < v->nlevels; l++) {
                v->body[l] = rep->body[l];
                rep->body[l].data = NULL;
            }
            v->have_hash = rep->have_hash;
            memcpy(v->hash, rep->hash, 8);
            if (rep->warnings != NULL && rep->warnings[0] != '\0') {
                set_msg(&v->warnings, rep->warnings);
            }
        }
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
        for (int l = 0; l < v->nlevels; l++) {
            v->vbody[(x->round - 1) * v->nlevels + l] = rep->body[l];
            rep->body[l].data = NULL;
        }
    }
    free(x);
    if (--v->replies_due == 0 &&
        pcr_run_defer(r, version_complete, v) != PCR_OK) {
        r->trouble = 1; /* out of memory: the loop ends the run */
    }
}

static pcr_status after_hash(pcr_runner *r, void *arg);

static void
on_hash(void *ctx, pcr_reply *rep)
{
    struct reqctx *x = ctx;
    pcr_runner *r = x->r;
    struct version *v = x->v;
    free(x);
    if (rep->status != PCR_OK) {
        v->status = rep->status;
        set_msg(&v->msg, rep->message);
    } else {
        v->have_hash = 1;
        memcpy(v->hash, rep->hash, 8);
    }
    if (pcr_run_defer(r, after_hash, v) != PCR_OK) {
        r->trouble = 1;
    }
}

static pcr_status
submit(pcr_runner *r, struct version *v, int kind, int round)
{
    struct job *j = v->job;
    struct reqctx *x = malloc(sizeof *x);
    if (x == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    *x = (struct reqctx){r, v, round};
    pcr_request rq = {.kind = kind,
                      .py = v->py,
                      .round = round,
                      .want_hash =
                          r->plan->mode != PCR_TIMESTAMP || r->cache != NULL,
                      .nlevels = v->nlevels,
                      .name = j->record,
                      .src = j->src.bytes.data,
                      .len = j->src.bytes.len,
                      .done = kind == PCR_MSG_HASH ? on_hash : on_compile,
                      .ctx = x};
    memcpy(rq.levels, v->levels, sizeof rq.levels);
    pcr_status rc = pcr_engine_submit(r->eng, &rq, &r->err);
    if (rc != PCR_OK) {
        free(x);
    }
    return rc;
}

/* Every level from the cache: then nothing is compiled (never with
 * --verify, whose point is to compile).  1 when it was a hit. */
static int
from_cache(pcr_runner *r, struct version *v)
{
    struct state *s = state_of(r);
    struct job *j = v->job;
    if (r->cache == NULL || s->rounds > 0) {
        return 0;
    }
    unsigned char hash[8];
    int all = 1;
    for (int l = 0; l < v->nlevels; l++) { /* each level counted */
        pcr_cache_key key;
        pcr_cache_make_key(&r->py->v[v->py], j->record, v->levels[l],
                           j->src.bytes.data, j->src.bytes.len, &key);
        int hit =
            pcr_cache_get(r->cache, &key, &r->py->v[v->py], j->src.bytes.data,
                          j->src.bytes.len, &v->body[l], hash);
        v->cached |= (unsigned)hit << l;
        all &= hit;
    }
    if (!all) {
        for (int l = 0; l < v->nlevels; l++) {
            pcr_buf_free(&v->body[l]);
        }
        return 0;
    }
    v->have_hash = 1;
    memcpy(v->hash, hash, 8);
    return 1;
}

/* Look up, else compile (called from the loop, never from a callback). */
static pcr_status
start_version(pcr_runner *r, struct version *v)
{
    struct state *s = state_of(r);
    if (from_cache(r, v)) {
        return version_complete(r, v);
    }
    v->replies_due = 1 + s->rounds;
    if (s->rounds > 0 && v->vbody == NULL) {
        v->vbody = calloc((size_t)(s->rounds * v->nlevels), sizeof *v->vbody);
        if (v->vbody == NULL) {
            return pcr_set_error(&r->err, PCR_ENV, "out of memory");
        }
    }
    pcr_status rc = PCR_OK;
    for (int round = 0; round <= s->rounds && rc == PCR_OK; round++) {
        rc = submit(r, v, PCR_MSG_COMPILE, round);
    }
    return rc;
}

static int
all_current(pcr_runner *r, struct version *v)
{
    for (int l = 0; l < v->nlevels; l++) {
        pcr_buf old;
        int missing;
        pcr_error e;
        int ok =
            pcr_read_pyc(v->path[l], &old, &missing, &e) == PCR_OK &&
            pcr_pyc_is_current(old.data, old.len, v->header, v->job->record);
        pcr_buf_free(&old);
        if (!ok) {
            return 0;
        }
    }
    (void)r;
    return 1;
}

/* The header for this hash (NULL in timestamp mode); if every .pyc is
 * current with it, the version is done as up to date: 1. */
static int
done_if_current(pcr_runner *r, struct version *v, const unsigned char *hash)
{
    make_header(r, v, hash);
    if (!all_current(r, v)) {
        return 0;
    }
    v->outcome = PCR_UP_TO_DATE;
    version_done(r, v);
    return 1;
}

static pcr_status
after_hash(pcr_runner *r, void *arg)
{
    struct version *v = arg;
    if (v->status != PCR_OK) {
        version_fails(r, v, v->status, v->msg);
        return PCR_OK;
    }
    if (done_if_current(r, v, v->hash)) {
        return PCR_OK;
    }
    return start_version(r, v);
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
    const char *path = pcr_run_job(r, i)->path;
    pcr_status rc = PCR_OK;
    if (r->plan->clamp_mtime && r->plan->epoch >= 0) {
        rc = clamp_source(path, r->plan->epoch, err);
    }
    if (rc == PCR_OK) {
        rc = pcr_source_read(path, PCR_MAX_SOURCE, src, err);
    }
    return rc;
}

static char *
record_default(pcr_runner *r, size_t i)
{
    const pcr_job *job = pcr_run_job(r, i);
    if (job->record != NULL) {
        return strdup(job->record);
    }
    return pcr_record_name(job->path, job->relpath, r->plan->ddir,
                           r->plan->strip, r->plan->prepend);
}

static char *
target_default(pcr_runner *r, size_t i, int py, int level)
{
    const pcr_job *job = pcr_run_job(r, i);
    return job->pyc ? strdup(job->pyc)
                    : pcr_output_path(r->plan, r->py, job->path, py, level);
}

/* The job fails as a whole (before or while reading its source). */
static pcr_status
job_fails(pcr_runner *r, struct job *j, pcr_status st, const char *msg)
{
    j->status = st;
    j->outcome = PCR_FAILED;
    set_msg(&j->msg, msg);
    if (state_of(r)->h->sees_failures) {
        for (int vi = 0; vi < j->nver; vi++) {
            j->v[vi].status = st;
            set_msg(&j->v[vi].msg, msg);
            tell_failure(r, &j->v[vi]);
        }
    }
    pcr_run_finish(r, j->index);
    return PCR_OK;
}

/* The versions of job i: the plan's, at its levels, then the sink's. */
static pcr_status
make_versions(pcr_runner *r, struct job *j, const int *py, int npy,
              pcr_error *e)
{
    const pcr_compile_hooks *h = state_of(r)->h;
    const pcr_plan *plan = r->plan;
    pcr_extra_version *extra = NULL;
    int nextra = 0;
    if (h->more != NULL &&
        h->more(r, j->index, py, npy, &extra, &nextra, e) != PCR_OK) {
        return PCR_ENV;
    }
    j->v = calloc((size_t)(npy + nextra) + 1, sizeof *j->v);
    if (j->v == NULL) {
        for (int k = 0; k < nextra; k++) {
            for (int l = 0; l < extra[k].nlevels; l++) {
                free(extra[k].path[l]);
            }
        }
        free(extra);
        return pcr_set_error(e, PCR_ENV, "out of memory");
    }
    for (int k = 0; k < npy; k++) {
        struct version *v = &j->v[j->nver++];
        v->job = j;
        v->py = py[k];
        v->nlevels = plan->nlevels;
        memcpy(v->levels, plan->levels, sizeof v->levels);
    }
    for (int k = 0; k < nextra; k++) {
        struct version *v = &j->v[j->nver++];
        v->job = j;
        v->py = extra[k].py;
        v->nlevels = extra[k].nlevels;
        memcpy(v->levels, extra[k].levels, sizeof v->levels);
        memcpy(v->path, extra[k].path, sizeof v->path);
    }
    free(extra);
    j->remaining = j->nver;
    return PCR_OK;
}

/* Where the plan's versions' .pyc go (the sink's own have theirs). */
static pcr_status
make_paths(pcr_runner *r, struct job *j, int npy)
{
    const pcr_compile_hooks *h = state_of(r)->h;
    for (int k = 0; k < npy; k++) {
        struct version *v = &j->v[k];
        for (int l = 0; l < v->nlevels; l++) {
            v->path[l] =
                h->target ? h->target(r, j->index, v->py, v->levels[l])
                          : target_default(r, j->index, v->py, v->levels[l]);
            if (v->path[l] == NULL) {
                return pcr_set_error(&r->err, PCR_ENV, "out of memory");
            }
        }
    }
    return PCR_OK;
}

static pcr_status
open_job(pcr_runner *r, size_t i)
{
    struct state *s = state_of(r);
    const pcr_compile_hooks *h = s->h;
    const pcr_job *job = pcr_run_job(r, i);
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    j->index = i;
    *pcr_run_state(r, i) = j;
    if (job->error != NULL || job->skip) {
        j->status = job->error ? PCR_FAIL : PCR_OK;
        j->outcome = job->error ? PCR_FAILED : PCR_SKIPPED;
        set_msg(&j->msg, job->error);
        pcr_run_finish(r, i);
        return PCR_OK;
    }
    pcr_error e;
    int py[PCR_MAX_PY], npy = 0;
    pcr_status rc = pcr_versions_for(r->plan, job->path, py, &npy, &e);
    if (rc == PCR_ENV) {
        return pcr_set_error(&r->err, PCR_ENV, "%s", e.msg);
    }
    if (rc != PCR_OK) {
        j->no_compiler = 1; /* a lib/pythonX.Y path, no X.Y server here */
        return job_fails(r, j, rc, e.msg);
    }
    for (int k = 0; k < npy; k++) {
        /* the first server of each version: its magic and build */
        if ((rc = pcr_run_hello(r, py[k])) != PCR_OK) {
            return rc;
        }
    }
    if (make_versions(r, j, py, npy, &e) != PCR_OK) {
        return pcr_set_error(&r->err, PCR_ENV, "%s", e.msg);
    }
    if (job->pyc != NULL && (npy > 1 || r->plan->nlevels > 1)) {
        snprintf(e.msg, sizeof e.msg,
                 "one .pyc name was given for %d .pyc files (one Python "
                 "version and one level only)",
                 npy * r->plan->nlevels);
        return job_fails(r, j, PCR_ENV, e.msg);
    }
    rc = h->load ? h->load(r, i, &j->src, &e) : load_file(r, i, &j->src, &e);
    if (rc != PCR_OK) {
        return job_fails(r, j, rc, e.msg);
    }
    j->record = h->record ? h->record(r, i) : record_default(r, i);
    if (j->record == NULL || make_paths(r, j, npy) != PCR_OK) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    if (j->nver == 0) {
        pcr_run_finish(r, i);
        return PCR_OK;
    }
    int check = h->check_current && !r->plan->force && s->rounds == 0;
    for (int vi = 0; vi < j->nver && rc == PCR_OK; vi++) {
        struct version *v = &j->v[vi];
        if (check && r->plan->mode == PCR_TIMESTAMP) {
            if (done_if_current(r, v, NULL)) {
                continue;
            }
        } else if (check) {
            int exist = 1;
            for (int l = 0; l < v->nlevels && exist; l++) {
                struct stat st;
                exist = lstat(v->path[l], &st) == 0;
            }
            unsigned char hash[8];
            if (exist &&
                pcr_source_hash(r->py->v[v->py].magic, j->src.bytes.data,
                                j->src.bytes.len, hash)) {
                if (done_if_current(r, v, hash)) {
                    continue;
                }
            } else if (exist) {
                rc = submit(r, v, PCR_MSG_HASH, 0);
                continue;
            }
        }
        rc = start_version(r, v);
    }
    return rc;
}

/* ------------------------------------------------------------ deliver */

static void
deliver_default(pcr_runner *r, size_t i, const pcr_job_result *res)
{
    if (res->nver == 0) {
        pcr_run_emit_source(r, i, -1, res->outcome, res->status, res->msg);
    }
    for (int vi = 0; vi < res->nver; vi++) {
        const pcr_version_result *v = &res->v[vi];
        pcr_run_emit_source(r, i, v->py, v->outcome, v->status, v->msg);
        if (v->warnings != NULL) {
            pcr_event ev = {.kind = PCR_EV_WARNING,
                            .index = i,
                            .source = pcr_run_job(r, i)->path,
                            .python = r->py->v[v->py].series,
                            .level = -1,
                            .message = v->warnings};
            pcr_run_emit(r, &ev);
        }
    }
}

static void
deliver_job(pcr_runner *r, size_t i)
{
    struct state *s = state_of(r);
    struct job *j = job_of(r, i);
    pcr_version_result vr[PCR_MAX_PY];
    /* a job that failed as a whole is reported once, not per version */
    int whole = j->status != PCR_OK || j->outcome != PCR_COMPILED;
    pcr_job_result res = {j->outcome,     j->status,           j->msg,
                          j->no_compiler, whole ? 0 : j->nver, vr};
    for (int vi = 0; vi < res.nver && vi < PCR_MAX_PY; vi++) {
        const struct version *v = &j->v[vi];
        vr[vi] = (pcr_version_result){v->py, v->outcome, v->status, v->msg,
                                      v->warnings};
    }
    if (s->h->deliver != NULL) {
        s->h->deliver(r, i, &res);
    } else {
        deliver_default(r, i, &res);
    }
    if (s->h->forget != NULL) {
        s->h->forget(r, i);
    }
    free_job(s, j);
    *pcr_run_state(r, i) = NULL;
}

static void
drop_job(pcr_runner *r, size_t i)
{
    struct state *s = state_of(r);
    struct job *j = job_of(r, i);
    if (j != NULL) {
        if (s->h->forget != NULL) {
            s->h->forget(r, i);
        }
        free_job(s, j);
        *pcr_run_state(r, i) = NULL;
    }
}

static const pcr_verb_ops ops = {open_job, deliver_job, drop_job};

pcr_status
pcr_compile_jobs(pcr_runner *r, pcr_job_source src,
                 const pcr_compile_hooks *hooks)
{
    struct state s = {.h = hooks};
    s.rounds = r->plan->rounds - 1;
    s.cleaned = calloc(64, sizeof *s.cleaned);
    if (s.cleaned == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    void *saved = r->vstate;
    r->vstate = &s;
    pcr_status rc = pcr_run_jobs(r, src, &ops);
    for (size_t k = 0; k < s.ncleaned; k++) {
        free(s.cleaned[k]);
    }
    free(s.cleaned);
    r->vstate = saved;
    return rc;
}
