/* SPDX-License-Identifier: MIT */
/*
 * verb_check.c - --check of a tree: a sink of the compile pipeline
 * (compile_jobs.c) that compares every .pyc with what would be written,
 * and writes nothing.  Results travel as records (one per .pyc) from the
 * sink to the caller's events, in job order.
 *
 * For each source, the .pyc of each version it is compiled for (and each
 * level) are checked; a missing one is a record of class missing (or
 * source-error when the source does not compile).  Other versions' .pyc
 * of the same source found in its __pycache__ are checked too, with the
 * server of their cache tag, or recorded as no-compiler when there is
 * none here.
 *
 * A source that cannot be read at all (a name that does not exist) gets
 * no records: one PCR_EV_SOURCE, failed with PCR_ENV, as compiling
 * reports it, so that no .pyc name is made up for a typo.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_pyc.h"
#include "compile_jobs.h"
#include "paths.h"
#include "pyc_files.h"

/* __pycache__ listings of the last few directories (the walk visits a
 * directory's sources together). */
#define LISTINGS 8

struct record {
    char *pyc;
    int py;
    int level;
    pcr_check_class cls;
    char *detail;
    int filled;
};

struct records {
    struct record *v;
    int n;
    int unread; /* the source could not be read (e.g. is not there) */
};

struct listing {
    char *dir;    /* the .pyc directory, with its trailing slash */
    char **names; /* sorted */
    size_t n;
};

/* A record the compare step has not filled in yet; should one stay so,
 * it fails the check rather than pass it. */
#define UNFILLED PCR_CHECK_UNREADABLE, "not checked (internal error)", 0

struct ctx {
    struct listing ls[LISTINGS];
    int next; /* the slot to reuse */
};

static int
add_record(struct records *rs, const char *pyc, int py, int level,
           pcr_check_class cls, const char *detail, int filled)
{
    struct record *nv = realloc(rs->v, (size_t)(rs->n + 1) * sizeof *nv);
    if (nv == NULL) {
        return -1;
    }
    rs->v = nv;
    struct record *r = &rs->v[rs->n];
    *r = (struct record){strdup(pyc ? pyc : ""),       py,    level, cls,
                         strdup(detail ? detail : ""), filled};
    if (r->pyc == NULL || r->detail == NULL) {
        free(r->pyc);
        free(r->detail);
        return -1;
    }
    rs->n++;
    return 0;
}

static void
fill(struct record *r, pcr_check_class cls, const char *detail)
{
    char *d = strdup(detail);
    if (d != NULL) {
        free(r->detail);
        r->detail = d;
    }
    r->cls = cls;
    r->filled = 1;
}

static struct records *
records_of(pcr_runner *r, size_t i)
{
    void **slot = pcr_compile_sink_state(r, i);
    if (*slot == NULL) {
        *slot = calloc(1, sizeof(struct records));
    }
    return *slot;
}

/* ----------------------------------------------------------- listings */

static int
by_str(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_listing(struct listing *l)
{
    for (size_t m = 0; m < l->n; m++) {
        free(l->names[m]);
    }
    free(l->names);
    free(l->dir);
    memset(l, 0, sizeof *l);
}

/* The .pyc names in the directory of path's .pyc (its __pycache__, or
 * its place below the pycache prefix). */
static const struct listing *
listing_for(struct ctx *c, const pcr_plan *plan, const char *path)
{
    char *dir = pcr_pyc_dir(plan, path);
    if (dir == NULL) {
        return NULL;
    }
    for (int i = 0; i < LISTINGS; i++) {
        if (c->ls[i].dir != NULL && strcmp(c->ls[i].dir, dir) == 0) {
            free(dir);
            return &c->ls[i];
        }
    }
    struct listing *l = &c->ls[c->next];
    c->next = (c->next + 1) % LISTINGS;
    free_listing(l);
    l->dir = dir;
    DIR *d = opendir(dir);
    size_t cap = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (!pcr_ends_with(e->d_name, ".pyc") || strlen(e->d_name) < 5) {
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
    if (d != NULL) {
        closedir(d);
    }
    if (pcr_sort(l->names, l->n, sizeof *l->names, by_str, NULL) != 0) {
        free_listing(l);
        return NULL;
    }
    return l;
}

/* ------------------------------------------------------------- hooks */

/* The plan's .pyc of each version and level as records to fill, then
 * other versions' .pyc found beside the source: with a server, versions
 * to compile; without, no-compiler records. */
static pcr_status
more_versions(pcr_runner *r, size_t i, const int *py, int npy,
              pcr_extra_version **out, int *nout, pcr_error *err)
{
    const pcr_plan *plan = r->plan;
    const pcr_job *job = pcr_run_job(r, i);
    struct records *rs = records_of(r, i);
    if (rs == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    for (int k = 0; k < npy; k++) {
        for (int l = 0; l < plan->nlevels; l++) {
            char *pyc = job->pyc ? strdup(job->pyc)
                                 : pcr_output_path(plan, r->py, job->path,
                                                   py[k], plan->levels[l]);
            if (pyc == NULL ||
                add_record(rs, pyc, py[k], plan->levels[l], UNFILLED) != 0) {
                free(pyc);
                return pcr_set_error(err, PCR_ENV, "out of memory");
            }
            free(pyc);
        }
    }
    *out = NULL;
    *nout = 0;
    if (plan->legacy || job->pyc != NULL) {
        return PCR_OK;
    }
    const struct listing *l = listing_for(r->outer, plan, job->path);
    if (l == NULL || l->n == 0) {
        return PCR_OK;
    }
    pcr_extra_version *v = calloc(l->n, sizeof *v);
    if (v == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    const char *base = strrchr(job->path, '/');
    base = base ? base + 1 : job->path;
    size_t blen = pcr_source_base_len(base);
    pcr_status rc = PCR_OK;
    for (size_t k = 0; k < l->n && rc == PCR_OK; k++) {
        const char *tag;
        size_t tlen;
        int level, wanted = 0, known = 0;
        if (!pcr_pyc_name_parse(l->names[k], base, blen, &tag, &tlen,
                                &level)) {
            continue;
        }
        for (int m = 0; m < plan->nlevels; m++) {
            wanted |= plan->levels[m] == level;
        }
        int p = pcr_python_by_tag(r->py, tag, tlen);
        for (int m = 0; m < npy; m++) {
            known |= p >= 0 && py[m] == p;
        }
        if (!wanted || known) {
            continue;
        }
        char *full = pcr_path_join(l->dir, l->names[k]);
        if (full == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
            break;
        }
        if (p < 0) {
            char detail[256];
            snprintf(detail, sizeof detail,
                     "a .pyc for %.*s, and no compile server for it here",
                     (int)tlen, tag);
            if (add_record(rs, full, -1, level, PCR_CHECK_NO_COMPILER, detail,
                           1) != 0) {
                rc = pcr_set_error(err, PCR_ENV, "out of memory");
            }
            free(full);
            continue;
        }
        /* group by version: one compile for all its levels */
        int at = 0;
        while (at < *nout && v[at].py != p) {
            at++;
        }
        if (at == *nout) {
            if ((rc = pcr_run_hello(r, p)) != PCR_OK) {
                *err = r->err;
                free(full);
                break;
            }
            v[(*nout)++].py = p;
        }
        if (v[at].nlevels < PCR_MAX_LEVELS &&
            add_record(rs, full, p, level, UNFILLED) == 0) {
            v[at].levels[v[at].nlevels] = level;
            v[at].path[v[at].nlevels++] = full;
        } else {
            free(full);
        }
    }
    *out = v;
    return rc;
}

/* A version is done: each of its .pyc compared with the bytes we would
 * write, or, when the source does not compile, said so. */
static pcr_status
compare(pcr_runner *r, size_t i, pcr_compiled *c, pcr_error *err)
{
    (void)err;
    struct records *rs = records_of(r, i);
    const char *version = r->py->v[c->py].version;
    for (int l = 0; l < c->nlevels && rs != NULL; l++) {
        struct record *rec = NULL;
        for (int k = 0; k < rs->n && rec == NULL; k++) {
            if (!rs->v[k].filled && rs->v[k].py == c->py &&
                rs->v[k].level == c->levels[l]) {
                rec = &rs->v[k];
            }
        }
        if (rec == NULL) {
            continue;
        }
        if (c->status != PCR_OK) {
            char msg[PCR_ERROR_MAX + 64];
            snprintf(msg, sizeof msg, "the source does not compile: %s",
                     c->msg);
            fill(rec,
                 c->status == PCR_ENV ? PCR_CHECK_UNREADABLE
                                      : PCR_CHECK_SOURCE_ERROR,
                 msg);
            continue;
        }
        pcr_buf found;
        int missing;
        pcr_error pe;
        if (pcr_read_pyc(rec->pyc, &found, &missing, &pe) != PCR_OK) {
            fill(rec, missing ? PCR_CHECK_MISSING : PCR_CHECK_UNREADABLE,
                 pe.msg);
            continue;
        }
        char detail[1024];
        pcr_check_class cls =
            pcr_classify(&found, &c->pyc[l], version, detail, sizeof detail);
        fill(rec, cls, detail);
        pcr_buf_free(&found);
    }
    return PCR_OK;
}

/* The source, read as compiling reads it; one that is not there (a typo
 * in a CI path) is trouble, said as compiling says it, not a .pyc
 * problem. */
static pcr_status
load(pcr_runner *r, size_t i, pcr_source *src, pcr_error *err)
{
    pcr_status rc = pcr_source_read_to_check(pcr_run_job(r, i)->path,
                                             PCR_MAX_SOURCE, src, err);
    struct records *rs = rc == PCR_ENV ? records_of(r, i) : NULL;
    if (rs != NULL) {
        rs->unread = 1;
    }
    return rc;
}

static void
deliver(pcr_runner *r, size_t i, const pcr_job_result *res)
{
    const pcr_job *job = pcr_run_job(r, i);
    struct records *rs = records_of(r, i);
    if (rs != NULL && rs->unread) {
        /* no .pyc name made up for it: the source's event, as compiling
         * emits it (PCR_ENV: the check could not look) */
        pcr_run_emit_source(r, i, -1, PCR_FAILED, PCR_ENV, res->msg);
        return;
    }
    if (rs == NULL || (rs->n == 0 && res->nver == 0)) {
        /* the job as a whole: excluded, not walked, no server; no .pyc
         * to name */
        pcr_check_class cls = res->outcome == PCR_SKIPPED ? PCR_CHECK_SKIPPED
                              : res->no_compiler ? PCR_CHECK_NO_COMPILER
                              : res->status == PCR_ENV
                                  ? PCR_CHECK_UNREADABLE
                                  : PCR_CHECK_SOURCE_ERROR;
        pcr_run_emit_pyc(r, i, job->path, NULL, -1, -1, cls,
                         res->outcome == PCR_SKIPPED
                             ? "excluded (-x, -e or a directory "
                               "restriction): not checked"
                             : res->msg);
        return;
    }
    for (int k = 0; k < rs->n; k++) {
        const struct record *rec = &rs->v[k];
        pcr_run_emit_pyc(r, i, job->path, rec->pyc, rec->py, rec->level,
                         rec->cls, rec->detail);
    }
}

static void
forget(pcr_runner *r, size_t i)
{
    struct records *rs = *pcr_compile_sink_state(r, i);
    if (rs != NULL) {
        for (int k = 0; k < rs->n; k++) {
            free(rs->v[k].pyc);
            free(rs->v[k].detail);
        }
        free(rs->v);
        free(rs);
        *pcr_compile_sink_state(r, i) = NULL;
    }
}

pcr_status
pcr_verb_check(pcr_runner *r)
{
    struct ctx c = {0};
    r->outer = &c;
    r->start_rounds = 1;
    pcr_compile_hooks h = {.load = load,
                           .more = more_versions,
                           .store = compare,
                           .deliver = deliver,
                           .forget = forget,
                           .sees_failures = 1};
    pcr_walk wo = r->plan->walk;
    pcr_walker *w =
        pcr_walker_new(&wo, r->plan->operands, r->plan->noperands, NULL);
    pcr_status rc = w == NULL
                        ? pcr_set_error(&r->err, PCR_ENV, "out of memory")
                        : pcr_compile_jobs(r, pcr_walker_source(w), &h);
    pcr_walker_free(w);
    for (int k = 0; k < LISTINGS; k++) {
        free_listing(&c.ls[k]);
    }
    r->outer = NULL;
    return rc;
}
