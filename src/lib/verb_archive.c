/* SPDX-License-Identifier: MIT */
/*
 * verb_archive.c - the archive verbs: --tar and --wheel write an archive
 * of compiled sources; with --check they compare an archive's .pyc with
 * what we would put there.  Sources are compiled through the servers like
 * any tree (compile_jobs.c, so -j and --verify apply); the bytes are kept
 * in memory and the archive is written only when every source compiled:
 * one failure leaves no archive.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_pyc.h"
#include "compile_jobs.h"
#include "files.h"
#include "handle.h"
#include "paths.h"
#include "pcr_archive.h"
#include "walk.h"

#define ZIP_EPOCH 315532800 /* 1980-01-01: DOS times start there */

struct astate {
    pcr_jobs jobs;     /* every source, known before compiling */
    pcr_alist entries; /* .pyc (and sources) collected */
    char **names;      /* tar: each job's entry name */
    size_t nnames;
    int64_t epoch;
    const pcr_wheel *wheel;
    int py;         /* wheel: the one version */
    int sourceless; /* wheel */
};

static struct astate *
ast(pcr_runner *r)
{
    return r->outer;
}

static void
emit_archive(pcr_runner *r, const char *path, pcr_status st, const char *msg)
{
    pcr_event ev = {.kind = PCR_EV_ARCHIVE,
                    .index = 0,
                    .source = path,
                    .pyc = path,
                    .level = -1,
                    .status = st,
                    .outcome = st == PCR_OK ? PCR_COMPILED : PCR_FAILED,
                    .message = msg};
    pcr_run_emit(r, &ev);
}

static void
notice(pcr_runner *r, const char *msg)
{
    pcr_event ev = {.kind = PCR_EV_WARNING, .level = -1, .message = msg};
    pcr_run_emit(r, &ev);
}

/* ----------------------------------------------------------------- tar */

/* With --clamp-mtime an older file keeps its own time. */
static int64_t
entry_time(pcr_runner *r, int64_t mtime)
{
    int64_t epoch = ast(r)->epoch;
    return r->plan->clamp_mtime && mtime < epoch ? mtime : epoch;
}

static pcr_status
tar_load(pcr_runner *r, size_t i, pcr_source *src, pcr_error *err)
{
    struct astate *a = ast(r);
    if (a->names[i] == NULL) {
        return pcr_set_error(err, PCR_FAIL, "is outside the -C directory %s",
                             r->plan->tar_base ? r->plan->tar_base : ".");
    }
    /* --check: a source that is not there is trouble (PCR_ENV), as in
     * the tree's check */
    const char *path = pcr_run_job(r, i)->path;
    pcr_status rc =
        r->plan->verb == PCR_VERB_CHECK
            ? pcr_source_read_to_check(path, PCR_MAX_SOURCE, src, err)
            : pcr_source_read(path, PCR_MAX_SOURCE, src, err);
    if (rc == PCR_OK && r->plan->include_sources) {
        rc = pcr_alist_add(&a->entries, a->names[i], 0,
                           (src->mode & 0111) ? 0755 : 0644,
                           entry_time(r, src->mtime_sec), src->bytes.data,
                           src->bytes.len, err);
    }
    return rc;
}

static char *
tar_target(pcr_runner *r, size_t i, int py, int level)
{
    return pcr_cache_path(ast(r)->names[i], r->py->v[py].tag, level);
}

static char *
tar_record(pcr_runner *r, size_t i)
{
    return pcr_record_name(ast(r)->names[i], pcr_run_job(r, i)->relpath,
                           r->plan->ddir, r->plan->strip, r->plan->prepend);
}

/* A timestamp .pyc must match its source as extracted: the source entry's
 * time when the tar holds the sources, else the source's own time. */
static int64_t
tar_mtime(pcr_runner *r, size_t i, const pcr_source *src)
{
    (void)i;
    return r->plan->include_sources ? entry_time(r, src->mtime_sec)
                                    : src->mtime_sec;
}

static pcr_status
keep_pycs(pcr_runner *r, size_t i, pcr_compiled *c, pcr_error *err)
{
    (void)i;
    struct astate *a = ast(r);
    pcr_status rc = PCR_OK;
    int64_t t = a->wheel ? a->epoch : entry_time(r, c->mtime);
    for (int l = 0; l < c->nlevels && rc == PCR_OK; l++) {
        rc = pcr_alist_add(&a->entries, c->path[l], 0, 0644, t, c->pyc[l].data,
                           c->pyc[l].len, err);
    }
    return rc;
}

/* The time of the archive's entries: SOURCE_DATE_EPOCH, or (said) the
 * newest source's mtime, so the same files give the same tar. */
static void
tar_epoch(pcr_runner *r)
{
    struct astate *a = ast(r);
    if (r->plan->epoch >= 0) {
        a->epoch = r->plan->epoch;
        return;
    }
    a->epoch = 0;
    for (size_t i = 0; i < a->jobs.n; i++) {
        struct stat st;
        if (!a->jobs.v[i].skip && stat(a->jobs.v[i].path, &st) == 0 &&
            st.st_mtim.tv_sec > a->epoch) {
            a->epoch = st.st_mtim.tv_sec;
        }
    }
    if (r->plan->verb == PCR_VERB_COMPILE) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "SOURCE_DATE_EPOCH is not set: the archive's times are "
                 "%lld, the newest source's mtime",
                 (long long)a->epoch);
        notice(r, msg);
    }
}

/* Compile the jobs into a->entries (tar). */
static pcr_status
tar_build(pcr_runner *r, struct astate *a)
{
    const char *base = r->plan->tar_base ? r->plan->tar_base : ".";
    r->start_rounds = r->plan->rounds;
    /* every source first: the names, and the archive's time when
     * SOURCE_DATE_EPOCH is not set, depend on all of them */
    pcr_walker *w = pcr_walker_new(&r->plan->walk, r->plan->operands,
                                   r->plan->noperands, r->plan->tar_base);
    if (w == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    pcr_status rc = pcr_jobs_collect(&a->jobs, w, &r->err);
    pcr_walker_free(w);
    if (rc != PCR_OK) {
        return rc;
    }
    a->names = calloc(a->jobs.n ? a->jobs.n : 1, sizeof *a->names);
    if (a->names == NULL) {
        return pcr_set_error(&r->err, PCR_ENV, "out of memory");
    }
    a->nnames = a->jobs.n;
    for (size_t i = 0; i < a->jobs.n; i++) {
        int outside;
        a->names[i] = pcr_tar_entry_name(r->plan->cwd, a->jobs.v[i].path, base,
                                         &outside);
        if (a->names[i] == NULL && !outside) {
            return pcr_set_error(&r->err, PCR_ENV, "out of memory");
        }
    }
    r->outer = a;
    tar_epoch(r);
    pcr_compile_hooks h = {.load = tar_load,
                           .target = tar_target,
                           .record = tar_record,
                           .store = keep_pycs,
                           .mtime = tar_mtime};
    return pcr_compile_jobs(r, pcr_jobs_source(&a->jobs), &h);
}

static void
free_astate(pcr_runner *r, struct astate *a)
{
    (void)r;
    if (a->names != NULL) {
        for (size_t i = 0; i < a->nnames; i++) {
            free(a->names[i]);
        }
        free(a->names);
    }
    pcr_jobs_free(&a->jobs);
    pcr_alist_free(&a->entries);
}

pcr_status
pcr_verb_tar(pcr_runner *r)
{
    const char *out = r->plan->tar_out;
    int format = pcr_aformat_from_name(out);
    if (format < 0 || format == PCR_AR_ZIP) {
        return pcr_set_error(&r->err, PCR_ENV,
                             "--tar %s: the name must end in .tar, .tar.gz, "
                             ".tgz, .tar.xz or .tar.zst",
                             out);
    }
    struct astate a = {0};
    pcr_status rc = tar_build(r, &a);
    pcr_error e;
    if (rc == PCR_OK && r->failed) {
        emit_archive(r, out, PCR_FAIL,
                     "not written: some sources failed (above)");
    } else if (rc == PCR_OK) {
        pcr_status st = pcr_tar_add_parents(
            &a.entries, r->plan->tar_base ? r->plan->tar_base : ".", a.epoch,
            r->plan->clamp_mtime, &e);
        if (st == PCR_OK) {
            st = pcr_alist_sort_unique(&a.entries, &e);
        }
        if (st == PCR_OK) {
            st = pcr_archive_write(out, format, &a.entries, &e);
        }
        emit_archive(r, out, st, st == PCR_OK ? "" : e.msg);
    }
    free_astate(r, &a);
    return rc;
}

/* ------------------------------------------------------------ checking */

/* The files of an entry list, sorted by name for lookups. */
typedef struct files_index {
    const pcr_aentry **v;
    size_t n;
} files_index;

static int
by_entry_name(const void *a, const void *b)
{
    return strcmp((*(const pcr_aentry *const *)a)->name,
                  (*(const pcr_aentry *const *)b)->name);
}

static int
index_files(const pcr_alist *l, files_index *ix)
{
    ix->n = 0;
    ix->v = malloc((l->n ? l->n : 1) * sizeof *ix->v);
    if (ix->v == NULL) {
        return -1;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (!l->v[i].is_dir) {
            ix->v[ix->n++] = &l->v[i];
        }
    }
    qsort(ix->v, ix->n, sizeof *ix->v, by_entry_name);
    return 0;
}

static const pcr_aentry *
find_entry(const files_index *ix, const char *name)
{
    pcr_aentry key = {.name = (char *)name};
    const pcr_aentry *k = &key;
    const pcr_aentry **f =
        bsearch(&k, ix->v, ix->n, sizeof *ix->v, by_entry_name);
    return f != NULL ? *f : NULL;
}

static int
is_pyc(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".pyc") == 0;
}

/* expected .pyc entries against the archive's (n log n: names are looked
 * up in sorted indexes, not by a walk of the other list), reported in
 * name order: the same for every -j and run */
static void
compare_entries(pcr_runner *r, const char *archive, const pcr_alist *expected,
                const pcr_alist *found, const char *version)
{
    char where[8192], detail[1024];
    files_index want, have;
    if (index_files(expected, &want) != 0 || index_files(found, &have) != 0) {
        free(want.v);
        emit_archive(r, archive, PCR_ENV, "out of memory");
        return;
    }
    /* in name order, as a directory's check reports (its walk is
     * sorted): the entries were kept as the servers finished, largest
     * first, in an order that changes with -j and from run to run */
    for (size_t i = 0; i < want.n; i++) {
        const pcr_aentry *x = want.v[i];
        if (!is_pyc(x->name)) {
            continue;
        }
        const pcr_aentry *f = find_entry(&have, x->name);
        pcr_check_class c = pcr_classify(f ? &f->data : NULL, &x->data,
                                         version, detail, sizeof detail);
        snprintf(where, sizeof where, "%s:%s", archive, x->name);
        pcr_run_emit_pyc(r, 0, archive, where, -1, -1, c, detail);
    }
    for (size_t i = 0; i < have.n; i++) {
        const pcr_aentry *f = have.v[i];
        if (is_pyc(f->name) && !find_entry(&want, f->name)) {
            snprintf(where, sizeof where, "%s:%s", archive, f->name);
            pcr_run_emit_pyc(r, 0, archive, where, -1, -1, PCR_CHECK_DIFFERENT,
                             "a .pyc with no source in the archive to check "
                             "it against");
        }
    }
    free(want.v);
    free(have.v);
}

static const char *
version_of_first(pcr_runner *r)
{
    for (int i = 0; i < r->py->n; i++) {
        if (r->py->v[i].started) {
            return r->py->v[i].version;
        }
    }
    return "?";
}

pcr_status
pcr_verb_check_tar(pcr_runner *r)
{
    const char *archive = r->plan->tar_out;
    /* the .pyc alone are compared: a plan without the sources */
    const pcr_plan *outer = r->plan;
    pcr_plan plan = *outer;
    plan.include_sources = 0;
    r->plan = &plan;
    struct astate a = {0};
    pcr_status rc = tar_build(r, &a);
    r->plan = outer;
    pcr_alist found = {0};
    pcr_error e;
    if (rc == PCR_OK) {
        pcr_status st = pcr_archive_read(archive, 0, &found, &e);
        if (st != PCR_OK) {
            emit_archive(r, archive, st, e.msg); /* refused: PCR_FAIL */
        } else {
            compare_entries(r, archive, &a.entries, &found,
                            version_of_first(r));
        }
    }
    pcr_alist_free(&found);
    free_astate(r, &a);
    return rc;
}

/* --------------------------------------------------------------- wheel */

static pcr_status
wheel_load(pcr_runner *r, size_t i, pcr_source *src, pcr_error *err)
{
    const struct astate *a = ast(r);
    const pcr_aentry *x = &a->wheel->in.v[a->wheel->sources[i]];
    memset(src, 0, sizeof *src);
    if (x->data.len > PCR_MAX_SOURCE) {
        return pcr_set_error(err, PCR_FAIL,
                             "too large: %zu bytes, the limit is %zu MiB",
                             x->data.len, PCR_MAX_SOURCE >> 20);
    }
    src->bytes.data = malloc(x->data.len ? x->data.len : 1);
    if (src->bytes.data == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    if (x->data.len) {
        memcpy(src->bytes.data, x->data.data, x->data.len);
    }
    src->bytes.len = x->data.len;
    src->size = x->data.len;
    src->mtime_sec = a->epoch;
    src->mode = x->mode;
    return PCR_OK;
}

static char *
wheel_record(pcr_runner *r, size_t i)
{
    const struct astate *a = ast(r);
    const char *name = a->wheel->in.v[a->wheel->sources[i]].name;
    return pcr_record_name(pcr_wheel_import_path(a->wheel, name), NULL, NULL,
                           NULL, r->plan->prepend);
}

static char *
wheel_target(pcr_runner *r, size_t i, int py, int level)
{
    const struct astate *a = ast(r);
    const char *name = a->wheel->in.v[a->wheel->sources[i]].name;
    if (a->sourceless) { /* NAME.py -> NAME.pyc */
        size_t n = strlen(name);
        char *out = malloc(n + 2);
        if (out != NULL) {
            memcpy(out, name, n);
            memcpy(out + n, "c", 2);
        }
        return out;
    }
    return pcr_cache_path(name, r->py->v[py].tag, level);
}

/* A wheel holds the .pyc of one interpreter, hash-based unless asked
 * otherwise (installers give files new times). */
static pcr_status
wheel_setup(pcr_runner *r, pcr_wheel *w, struct astate *a, int verify_record)
{
    const pcr_plan *plan = r->plan;
    int n = 0;
    for (int i = 0; i < r->py->n; i++) {
        if (plan->want_all || (plan->want != NULL && plan->want[i])) {
            a->py = i;
            n++;
        }
    }
    if (n == 0) {
        a->py = r->py->default_py;
        n = a->py >= 0;
    }
    if (n != 1) {
        return pcr_set_error(&r->err, PCR_ENV,
                             "a wheel holds the .pyc of one Python version: "
                             "choose one with --python");
    }
    pcr_error e;
    pcr_status rc = pcr_wheel_open(plan->wheel_in, verify_record, w, &e);
    if (rc != PCR_OK) {
        emit_archive(r, plan->wheel_in, rc, e.msg);
        return rc == PCR_ENV ? pcr_set_error(&r->err, PCR_ENV, "%s", e.msg)
                             : PCR_FAIL;
    }
    a->wheel = w;
    a->epoch = plan->epoch >= 0 ? plan->epoch : ZIP_EPOCH;
    if (a->epoch < ZIP_EPOCH) {
        a->epoch = ZIP_EPOCH;
    }
    if (plan->epoch < 0 && plan->verb == PCR_VERB_COMPILE) {
        notice(r, "SOURCE_DATE_EPOCH is not set: the wheel's times are "
                  "1980-01-01 00:00 UTC");
    }
    for (size_t k = 0; k < w->nsources; k++) {
        pcr_job job = {0};
        job.path = strdup(w->in.v[w->sources[k]].name);
        job.size = w->in.v[w->sources[k]].data.len;
        if (job.path == NULL) {
            return pcr_set_error(&r->err, PCR_ENV, "out of memory");
        }
        if (pcr_jobs_push(&a->jobs, &job, &r->err) != PCR_OK) {
            return PCR_ENV;
        }
    }
    return PCR_OK;
}

/* A wheel holds one version's .pyc, hash-based unless asked otherwise
 * (installers give files new times): a plan of its own. */
static pcr_status
wheel_compile(pcr_runner *r, struct astate *a)
{
    const pcr_plan *outer = r->plan;
    pcr_plan plan = *outer;
    plan.only_py = a->py;
    if (!plan.mode_set) {
        plan.mode = PCR_CHECKED_HASH;
    }
    r->plan = &plan;
    r->outer = a;
    pcr_compile_hooks h = {.load = wheel_load,
                           .target = wheel_target,
                           .record = wheel_record,
                           .store = keep_pycs};
    pcr_status rc = pcr_compile_jobs(r, pcr_jobs_source(&a->jobs), &h);
    r->plan = outer;
    return rc;
}

static char *
wheel_output(pcr_runner *r, const char *pytag)
{
    const char *out = r->plan->wheel_out;
    struct stat st;
    if (out == NULL || stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return out ? strdup(out) : NULL;
    }
    char *name = pcr_wheel_output_name(r->plan->wheel_in, pytag);
    if (name == NULL) {
        return NULL;
    }
    size_t n = strlen(out) + strlen(name) + 2;
    char *path = malloc(n);
    if (path != NULL) {
        snprintf(path, n, "%s/%s", out, name);
    }
    free(name);
    return path;
}

pcr_status
pcr_verb_wheel(pcr_runner *r)
{
    pcr_wheel w;
    struct astate a = {0};
    a.sourceless = r->plan->sourceless;
    if (a.sourceless && r->plan->nlevels > 1) {
        return pcr_set_error(&r->err, PCR_ENV,
                             "--sourceless takes one optimisation level");
    }
    pcr_status rc = wheel_setup(r, &w, &a, !r->plan->no_verify_record);
    if (rc != PCR_OK) {
        pcr_jobs_free(&a.jobs);
        if (a.wheel != NULL) {
            pcr_wheel_close(&w);
        }
        return rc == PCR_FAIL ? PCR_OK : rc; /* said in an event */
    }
    rc = wheel_compile(r, &a);
    char pytag[32];
    const char *series = r->py->v[a.py].series;
    snprintf(pytag, sizeof pytag, "cp%.*s%s", (int)strcspn(series, "."),
             series, strchr(series, '.') + 1);
    char *out = wheel_output(r, pytag);
    pcr_alist entries;
    pcr_error e;
    if (rc == PCR_OK && out == NULL) {
        rc = pcr_set_error(&r->err, PCR_ENV,
                           "%s: not a wheel file name (NAME-VER-PY-ABI-"
                           "PLAT.whl)",
                           r->plan->wheel_in);
    } else if (rc == PCR_OK && r->failed) {
        emit_archive(r, out, PCR_FAIL,
                     "not written: some sources failed (above)");
    } else if (rc == PCR_OK) {
        pcr_status st = pcr_alist_sort_unique(&a.entries, &e);
        if (st == PCR_OK) {
            st = pcr_wheel_assemble(&w, &a.entries, a.sourceless, pytag,
                                    a.epoch, &entries, &e);
        }
        if (st == PCR_OK) {
            st = pcr_archive_write(out, PCR_AR_ZIP, &entries, &e);
            pcr_alist_free(&entries);
        }
        emit_archive(r, out, st, st == PCR_OK ? "" : e.msg);
    }
    free(out);
    pcr_alist_free(&a.entries);
    pcr_jobs_free(&a.jobs);
    pcr_wheel_close(&w);
    return rc;
}

pcr_status
pcr_verb_check_wheel(pcr_runner *r)
{
    pcr_wheel w;
    struct astate a = {0};
    pcr_status rc = wheel_setup(r, &w, &a, 0);
    if (rc != PCR_OK) {
        pcr_jobs_free(&a.jobs);
        if (a.wheel != NULL) {
            pcr_wheel_close(&w);
        }
        return rc == PCR_FAIL ? PCR_OK : rc; /* said in an event */
    }
    const char *archive = r->plan->wheel_in;
    if (w.record_problem != NULL) {
        char where[4300];
        snprintf(where, sizeof where, "%s:%s", archive, w.record_name);
        pcr_run_emit_pyc(r, 0, archive, where, -1, -1, PCR_CHECK_DIFFERENT,
                         w.record_problem);
    }
    rc = wheel_compile(r, &a);
    if (rc == PCR_OK) {
        compare_entries(r, archive, &a.entries, &w.in, r->py->v[a.py].version);
    }
    pcr_alist_free(&a.entries);
    pcr_jobs_free(&a.jobs);
    pcr_wheel_close(&w);
    return rc;
}
