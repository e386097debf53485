/* SPDX-License-Identifier: MIT */
/*
 * verb_check.c - --check: compare every .pyc of every source with what we
 * would write, writing nothing.  Results travel as records (one per .pyc)
 * from the reply callbacks to the caller's events, in job order.
 *
 * For each source, the .pyc of each version it is compiled for (and each
 * level) are checked; a missing one is a record of class missing.  Other
 * versions' .pyc of the same source found in its __pycache__ are checked
 * too, with the server of their cache tag, or recorded as no-compiler
 * when there is none here (which fails nothing).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "check_pyc.h"
#include "paths.h"
#include "pyc_files.h"
#include "run.h"
#include "walk.h"

#define MAX_VERSIONS (2 * PCR_MAX_PY)

struct record {
    char *pyc;
    int py;
    int level;
    pcr_check_class cls;
    char *detail;
};

struct version {
    int py;
    int nlev;
    int level[3];
    pcr_buf found[3];
    int rec[3]; /* record of each level, or -1 when already decided */
};

struct job {
    pcr_source src;
    char *record_name;
    struct record *rec;
    int nrec, cap;
    struct version v[MAX_VERSIONS];
    int nver;
    int pending;
};

/* __pycache__ listings, one per directory of the jobs */
struct listing {
    char *dir;
    char **names; /* sorted */
    size_t n;
};

struct state {
    struct job **jobs;
    int nlevels;
    const int *levels;
    struct listing *ls;
    size_t nls;
};

struct reqctx {
    pcr_runner *r;
    size_t job;
    int vi;
};

static int
add_record(struct job *j, const char *pyc, int py, int level,
           pcr_check_class cls, const char *detail)
{
    if (j->nrec == j->cap) {
        int cap = j->cap ? j->cap * 2 : 4;
        struct record *nr = realloc(j->rec, (size_t)cap * sizeof *nr);
        if (nr == NULL) {
            return -1;
        }
        j->rec = nr;
        j->cap = cap;
    }
    struct record *r = &j->rec[j->nrec];
    r->pyc = strdup(pyc ? pyc : "");
    r->detail = strdup(detail ? detail : "");
    r->py = py;
    r->level = level;
    r->cls = cls;
    if (r->pyc == NULL || r->detail == NULL) {
        free(r->pyc);
        free(r->detail);
        return -1;
    }
    return j->nrec++;
}

static void
set_record(struct job *j, int k, pcr_check_class cls, const char *detail)
{
    j->rec[k].cls = cls;
    free(j->rec[k].detail);
    j->rec[k].detail = strdup(detail);
}

/* ----------------------------------------------------------- listings */

static int
by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? strndup(path, (size_t)(slash - path + 1)) : strdup("");
}

/* The __pycache__ names of path's directory (read once per directory). */
static const struct listing *
listing_for(struct state *s, const char *path)
{
    char *dir = dir_of(path);
    if (dir == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < s->nls; i++) {
        if (strcmp(s->ls[i].dir, dir) == 0) {
            free(dir);
            return &s->ls[i];
        }
    }
    struct listing *nl = realloc(s->ls, (s->nls + 1) * sizeof *nl);
    if (nl == NULL) {
        free(dir);
        return NULL;
    }
    s->ls = nl;
    struct listing *l = &s->ls[s->nls++];
    *l = (struct listing){dir, NULL, 0};
    size_t n = strlen(dir) + 16;
    char *pc = malloc(n);
    DIR *d = NULL;
    if (pc != NULL) {
        snprintf(pc, n, "%s__pycache__", dir);
        d = opendir(pc);
        free(pc);
    }
    if (d != NULL) {
        size_t cap = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".pyc") != 0) {
                continue;
            }
            if (l->n == cap) {
                cap = cap ? cap * 2 : 64;
                char **nn = realloc(l->names, cap * sizeof *nn);
                if (nn == NULL) {
                    break;
                }
                l->names = nn;
            }
            if ((l->names[l->n] = strdup(e->d_name)) != NULL) {
                l->n++;
            }
        }
        closedir(d);
        if (l->n > 1) {
            qsort(l->names, l->n, sizeof *l->names, by_str);
        }
    }
    return l;
}

/* Other versions' .pyc of this source: BASE.TAG[.opt-N].pyc with a tag
 * we do not check already, at a level asked for. */
static void
find_other_tags(pcr_runner *r, struct state *s, size_t i, struct job *j)
{
    const char *path = r->jobs.v[i].path;
    const struct listing *l = listing_for(s, path);
    if (l == NULL || l->n == 0) {
        return;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t blen = pcr_source_base_len(base);
    for (size_t k = 0; k < l->n && j->nver < MAX_VERSIONS; k++) {
        const char *name = l->names[k];
        size_t len = strlen(name);
        const char *tag;
        size_t tlen;
        int level;
        if (!pcr_pyc_name_parse(name, base, blen, &tag, &tlen, &level)) {
            continue;
        }
        int wanted = 0;
        for (int l2 = 0; l2 < s->nlevels; l2++) {
            wanted |= s->levels[l2] == level;
        }
        int py = pcr_python_by_tag(r->p, tag, tlen);
        int known = 0;
        for (int vi = 0; vi < j->nver; vi++) {
            known |= py >= 0 && j->v[vi].py == py;
        }
        if (!wanted || known) {
            continue;
        }
        char *pyc = malloc(strlen(l->dir) + len + 16);
        if (pyc == NULL) {
            continue;
        }
        sprintf(pyc, "%s__pycache__/%s", l->dir, name);
        if (py < 0) {
            char detail[256];
            snprintf(detail, sizeof detail,
                     "a .pyc for %.*s, and no compile server for it here",
                     (int)tlen, tag);
            add_record(j, pyc, -1, level, PCR_CHECK_NO_COMPILER, detail);
        } else {
            /* group by version: one compile for all its levels */
            struct version *v = NULL;
            for (int vi = 0; vi < j->nver; vi++) {
                if (j->v[vi].py == py) {
                    v = &j->v[vi];
                }
            }
            if (v == NULL) {
                v = &j->v[j->nver++];
                memset(v, 0, sizeof *v);
                v->py = py;
            }
            if (v->nlev < 3) {
                v->level[v->nlev] = level;
                v->rec[v->nlev++] =
                    add_record(j, pyc, py, level, PCR_CHECK_OK, "");
            }
        }
        free(pyc);
    }
}

/* -------------------------------------------------------------- replies */

static void
job_done(pcr_runner *r, size_t i, struct job *j)
{
    if (j->pending == 0) {
        pcr_source_free(&j->src);
        for (int vi = 0; vi < j->nver; vi++) {
            for (int l = 0; l < 3; l++) {
                pcr_buf_free(&j->v[vi].found[l]);
            }
        }
        pcr_run_finish(r, i);
    }
}

static void
classify_levels(pcr_runner *r, struct job *j, struct version *v,
                const pcr_reply *rep)
{
    const pcr_python *py = &r->p->py[v->py];
    for (int l = 0; l < v->nlev; l++) {
        if (v->rec[l] < 0 || v->found[l].data == NULL) {
            continue;
        }
        if (rep->status != PCR_OK) {
            char msg[PCR_ERROR_MAX + 64];
            snprintf(msg, sizeof msg, "the source does not compile: %s",
                     rep->message);
            set_record(j, v->rec[l],
                       rep->status == PCR_ENV ? PCR_CHECK_UNREADABLE
                                              : PCR_CHECK_SOURCE_ERROR,
                       msg);
            continue;
        }
        unsigned char header[16];
        pcr_buf want;
        pcr_error e;
        char detail[1024];
        pcr_make_header(r->p, v->py, &j->src,
                        rep->have_hash ? rep->hash : NULL, header);
        if (pcr_assemble(header, &rep->body[l], &want, &e) != PCR_OK) {
            set_record(j, v->rec[l], PCR_CHECK_UNREADABLE, e.msg);
            continue;
        }
        pcr_check_class c = pcr_classify(&v->found[l], &want, py->version,
                                         detail, sizeof detail);
        set_record(j, v->rec[l], c, detail);
        pcr_buf_free(&want);
    }
}

static void
on_compile(void *ctx, pcr_reply *rep)
{
    struct reqctx *x = ctx;
    pcr_runner *r = x->r;
    size_t i = x->job;
    int vi = x->vi;
    free(x);
    struct state *s = r->vstate;
    struct job *j = s->jobs[i];
    classify_levels(r, j, &j->v[vi], rep);
    j->pending--;
    job_done(r, i, j);
}

/* Classify every level from the cache, when all are there. */
static int
from_cache(pcr_runner *r, struct job *j, struct version *v)
{
    if (r->p->cache_dir == NULL) {
        return 0;
    }
    pcr_reply rep = {0};
    int all = 1;
    for (int l = 0; l < v->nlev; l++) {
        pcr_cache_key key;
        pcr_cache_make_key(r->p, v->py, j->record_name, v->level[l],
                           j->src.bytes.data, j->src.bytes.len, &key);
        all &= pcr_cache_get(r->p, &key, &rep.body[l], rep.hash);
    }
    if (!all) {
        pcr_reply_clear(&rep);
        return 0;
    }
    rep.have_hash = 1;
    rep.nbodies = v->nlev;
    classify_levels(r, j, v, &rep);
    pcr_reply_clear(&rep);
    return 1;
}

/* ----------------------------------------------------------------- open */

static pcr_status
open_job(pcr_runner *r, size_t i)
{
    struct state *s = r->vstate;
    const pcr_job *job = &r->jobs.v[i];
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    s->jobs[i] = j;
    if (job->error != NULL || job->skip) {
        add_record(j, job->path, -1, -1,
                   job->error ? PCR_CHECK_SOURCE_ERROR : PCR_CHECK_SKIPPED,
                   job->error ? job->error
                              : "excluded (-x, -e or a directory "
                                "restriction): not checked");
        pcr_run_finish(r, i);
        return PCR_OK;
    }
    int py[PCR_MAX_PY], npy = 0;
    pcr_error e;
    pcr_status rc = pcr_versions_for(r->p, job->path, py, &npy, &e);
    if (rc == PCR_FAIL) {
        /* a lib/pythonX.Y path with no server for X.Y here */
        add_record(j, job->path, -1, -1, PCR_CHECK_NO_COMPILER, e.msg);
        pcr_run_finish(r, i);
        return PCR_OK;
    }
    if (rc != PCR_OK) {
        return pcr_set_error(&r->err, rc, "%s", e.msg);
    }
    for (int k = 0; k < npy; k++) {
        if ((rc = pcr_run_hello(r, py[k])) != PCR_OK) {
            return rc;
        }
        struct version *v = &j->v[j->nver++];
        v->py = py[k];
        v->nlev = s->nlevels;
        for (int l = 0; l < s->nlevels; l++) {
            v->level[l] = s->levels[l];
            char *pyc = job->pyc ? strdup(job->pyc)
                                 : pcr_output_path(r->p, job->path, py[k],
                                                   v->level[l]);
            if (pyc == NULL) {
                return pcr_set_error(&r->err, PCR_ENV, "out of memory");
            }
            v->rec[l] =
                add_record(j, pyc, py[k], v->level[l], PCR_CHECK_OK, "");
            free(pyc);
        }
    }
    if (!r->p->legacy && job->pyc == NULL) {
        find_other_tags(r, s, i, j);
    }
    rc = pcr_source_read(job->path, PCR_MAX_SOURCE, &j->src, &e);
    int source_ok = rc == PCR_OK;
    j->record_name = job->record
                         ? strdup(job->record)
                         : pcr_record_name(job->path, job->relpath, r->p->ddir,
                                           r->p->strip, r->p->prepend);
    if (j->record_name == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    for (int vi = 0; vi < j->nver; vi++) {
        struct version *v = &j->v[vi];
        int need = 0;
        for (int l = 0; l < v->nlev; l++) {
            struct record *rec = &j->rec[v->rec[l]];
            int missing;
            pcr_error pe;
            if (pcr_read_pyc(rec->pyc, &v->found[l], &missing, &pe) !=
                PCR_OK) {
                set_record(j, v->rec[l],
                           missing ? PCR_CHECK_MISSING : PCR_CHECK_UNREADABLE,
                           pe.msg);
            } else if (!source_ok) {
                char msg[PCR_ERROR_MAX + 16];
                snprintf(msg, sizeof msg, "source: %s", e.msg);
                set_record(j, v->rec[l], PCR_CHECK_SOURCE_ERROR, msg);
            } else {
                need = 1;
            }
        }
        if (!need) {
            continue;
        }
        if ((rc = pcr_run_hello(r, v->py)) != PCR_OK) {
            return rc;
        }
        if (from_cache(r, j, v)) {
            continue;
        }
        struct reqctx *x = malloc(sizeof *x);
        if (x == NULL) {
            return pcr_set_error(&r->err, PCR_ENV, "out of memory");
        }
        *x = (struct reqctx){r, i, vi};
        pcr_request rq = {.kind = PCR_MSG_COMPILE,
                          .py = v->py,
                          .want_hash = r->p->mode != PCR_TIMESTAMP,
                          .nlevels = v->nlev,
                          .name = j->record_name,
                          .src = j->src.bytes.data,
                          .len = j->src.bytes.len,
                          .done = on_compile,
                          .ctx = x};
        memcpy(rq.levels, v->level, sizeof v->level);
        if ((rc = pcr_engine_submit(r->eng, &rq, &r->err)) != PCR_OK) {
            free(x);
            return rc;
        }
        j->pending++;
    }
    job_done(r, i, j);
    return PCR_OK;
}

static void
deliver_job(pcr_runner *r, size_t i)
{
    struct state *s = r->vstate;
    struct job *j = s->jobs[i];
    for (int k = 0; k < j->nrec; k++) {
        struct record *rec = &j->rec[k];
        pcr_run_emit_pyc(r, i, r->jobs.v[i].path, rec->pyc, rec->py,
                         rec->level, rec->cls, rec->detail);
        free(rec->pyc);
        free(rec->detail);
    }
    free(j->rec);
    free(j->record_name);
    pcr_source_free(&j->src);
    free(j);
    s->jobs[i] = NULL;
}

static const pcr_verb_ops ops = {open_job, deliver_job};

pcr_status
pcr_verb_check(pcr_runner *r)
{
    r->start_rounds = 1;
    pcr_status rc = pcr_run_collect(r, ".py", 0);
    if (rc != PCR_OK) {
        return rc;
    }
    struct state s = {0};
    s.nlevels = pcr_levels(r->p, &s.levels);
    s.jobs = calloc(r->jobs.n ? r->jobs.n : 1, sizeof *s.jobs);
    if (s.jobs == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    r->vstate = &s;
    r->ops = &ops;
    rc = pcr_run_jobs(r);
    for (size_t i = 0; i < r->jobs.n; i++) {
        struct job *j = s.jobs[i];
        if (j == NULL) {
            continue;
        }
        for (int k = 0; k < j->nrec; k++) {
            free(j->rec[k].pyc);
            free(j->rec[k].detail);
        }
        for (int vi = 0; vi < j->nver; vi++) {
            for (int l = 0; l < 3; l++) {
                pcr_buf_free(&j->v[vi].found[l]);
            }
        }
        free(j->rec);
        free(j->record_name);
        pcr_source_free(&j->src);
        free(j);
    }
    for (size_t k = 0; k < s.nls; k++) {
        for (size_t m = 0; m < s.ls[k].n; m++) {
            free(s.ls[k].names[m]);
        }
        free(s.ls[k].names);
        free(s.ls[k].dir);
    }
    free(s.ls);
    free(s.jobs);
    r->vstate = NULL;
    return rc;
}
