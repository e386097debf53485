/* SPDX-License-Identifier: MIT */
/*
 * verb_pyc.c - the verbs that need no compile server: --dump and
 * --canonicalize on .pyc files of any version 3.8-3.14, and --remove of
 * the .pyc files of sources (one version, or every tag and level as
 * py3clean does).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "canonical.h"
#include "dump.h"
#include "header.h"
#include "pyc_files.h"
#include "run.h"
#include "walk.h"

static void
emit(pcr_runner *r, size_t i, const char *pyc, pcr_status st, int changed,
     const char *msg)
{
    pcr_event ev = {.kind = PCR_EV_PYC,
                    .index = i,
                    .source = pyc,
                    .pyc = pyc,
                    .level = -1,
                    .cls = st == PCR_OK ? PCR_CHECK_OK : PCR_CHECK_UNREADABLE,
                    .status = st,
                    .changed = changed,
                    .message = msg};
    pcr_run_emit(r, &ev);
}

/* -------------------------------------------------------- canonicalize */

static pcr_status
canonicalize_file(const char *path, int *changed, pcr_error *err)
{
    *changed = 0;
    pcr_source f;
    pcr_status rc = pcr_source_read(path, PCR_MAX_PYC, &f, err);
    if (rc != PCR_OK) {
        return rc;
    }
    pcr_header h;
    const pcr_layout *L = NULL;
    pcr_buf canon = {0}, out = {0};
    rc = pcr_header_unpack(f.bytes.data, f.bytes.len, &h, err);
    if (rc == PCR_OK && (L = pcr_layout_for_magic(h.magic)) == NULL) {
        rc = pcr_set_error(err, PCR_FAIL, "unknown Python version (magic %u)",
                           (unsigned)(h.magic & 0xffff));
    }
    if (rc == PCR_OK) {
        rc = pcr_canonicalize(f.bytes.data + PCR_HEADER_SIZE,
                              f.bytes.len - PCR_HEADER_SIZE, L, &canon, err);
    }
    if (rc == PCR_OK) {
        rc = pcr_assemble(f.bytes.data, &canon, &out, err);
    }
    if (rc == PCR_OK && (out.len != f.bytes.len ||
                         memcmp(out.data, f.bytes.data, out.len) != 0)) {
        rc = pcr_write_atomic(path, out.data, out.len,
                              (int)(f.mode & 07777) | PCR_EXACT_MODE, err);
        *changed = rc == PCR_OK;
    }
    pcr_buf_free(&canon);
    pcr_buf_free(&out);
    pcr_source_free(&f);
    return rc;
}

/* These verbs work in job order, in deliver: opening a job only says it
 * is ready. */
static pcr_status
open_now(pcr_runner *r, size_t i)
{
    pcr_run_finish(r, i);
    return PCR_OK;
}

static void
canonicalize_job(pcr_runner *r, size_t i)
{
    const pcr_job *job = pcr_run_job(r, i);
    pcr_error e;
    int changed = 0;
    pcr_status st = job->error  ? pcr_set_error(&e, PCR_FAIL, "%s", job->error)
                    : job->skip ? PCR_OK
                                : canonicalize_file(job->path, &changed, &e);
    if (!job->skip) {
        emit(r, i, job->path, st, changed, st == PCR_OK ? "" : e.msg);
    }
}

pcr_status
pcr_verb_canonicalize(pcr_runner *r)
{
    static const pcr_verb_ops ops = {open_now, canonicalize_job, NULL};
    return pcr_run_tree(r, ".pyc", 1, &ops);
}

/* ---------------------------------------------------------------- dump */

static void
dump_job(pcr_runner *r, size_t i)
{
    const pcr_job *job = pcr_run_job(r, i);
    FILE *out = r->plan->dump;
    pcr_error e;
    pcr_status st = PCR_OK;
    if (job->skip) {
        return;
    }
    if (job->error != NULL) {
        st = pcr_set_error(&e, PCR_FAIL, "%s", job->error);
    } else {
        pcr_source f;
        st = pcr_source_read(job->path, PCR_MAX_PYC, &f, &e);
        if (st == PCR_OK) {
            /* a name line when there may be several */
            if (r->plan->noperands > 1 || job->relpath != NULL || i > 0) {
                fprintf(out, "%s%s:\n", i > 0 ? "\n" : "", job->path);
            }
            st = pcr_dump_pyc(out, f.bytes.data, f.bytes.len, &e);
            pcr_source_free(&f);
        }
    }
    fflush(out);
    emit(r, i, job->path, st, 0, st == PCR_OK ? "" : e.msg);
}

pcr_status
pcr_verb_dump(pcr_runner *r)
{
    static const pcr_verb_ops ops = {open_now, dump_job, NULL};
    return pcr_run_tree(r, ".pyc", 1, &ops);
}

/* -------------------------------------------------------------- remove */

static void
remove_one(pcr_runner *r, size_t i, const char *pyc)
{
    struct stat st;
    if (lstat(pyc, &st) != 0 || !S_ISREG(st.st_mode)) {
        return;
    }
    if (unlink(pyc) == 0) {
        emit(r, i, pyc, PCR_OK, 1, "removed");
    } else {
        char msg[512];
        snprintf(msg, sizeof msg, "cannot remove: %s", strerror(errno));
        emit(r, i, pyc, PCR_FAIL, 0, msg);
    }
}

/* py3clean: DIR/__pycache__/BASE.*.pyc (or below the pycache prefix),
 * whatever the tag and level. */
static void
remove_all_tags(pcr_runner *r, size_t i, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path + 1) : 0;
    const char *base = path + dlen;
    size_t blen = pcr_source_base_len(base);
    char *pc = pcr_pyc_dir(r->plan, path);
    if (pc == NULL) {
        return;
    }
    pc[strlen(pc) - 1] = '\0'; /* its trailing slash */
    DIR *d = opendir(pc);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            const char *tag;
            size_t tlen;
            int level;
            if (!pcr_pyc_name_parse(e->d_name, base, blen, &tag, &tlen,
                                    &level)) {
                continue;
            }
            char *full = malloc(strlen(pc) + strlen(e->d_name) + 2);
            if (full != NULL) {
                sprintf(full, "%s/%s", pc, e->d_name);
                remove_one(r, i, full);
                free(full);
            }
        }
        closedir(d);
        rmdir(pc); /* only if now empty */
    }
    free(pc);
}

static void
remove_job(pcr_runner *r, size_t i)
{
    const pcr_plan *plan = r->plan;
    const pcr_job *job = pcr_run_job(r, i);
    if (job->skip || job->error) {
        return;
    }
    if (plan->all_tags) {
        remove_all_tags(r, i, job->path);
        return;
    }
    int py[PCR_MAX_PY], npy = 0;
    pcr_error e;
    if (pcr_versions_for(plan, job->path, py, &npy, &e) != PCR_OK) {
        emit(r, i, job->path, PCR_FAIL, 0, e.msg);
        return;
    }
    for (int k = 0; k < npy; k++) {
        for (int l = 0; l < plan->nlevels; l++) {
            char *pyc = pcr_output_path(plan, r->py, job->path, py[k],
                                        plan->levels[l]);
            if (pyc == NULL) {
                emit(r, i, job->path, PCR_ENV, 0, "out of memory");
                return;
            }
            remove_one(r, i, pyc);
            char *slash = strrchr(pyc, '/');
            if (slash != NULL && !plan->legacy) {
                *slash = '\0';
                rmdir(pyc); /* only if now empty */
            }
            free(pyc);
        }
    }
}

pcr_status
pcr_verb_remove(pcr_runner *r)
{
    static const pcr_verb_ops ops = {open_now, remove_job, NULL};
    return pcr_run_tree(r, ".py", 0, &ops);
}
