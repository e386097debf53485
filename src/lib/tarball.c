/*
 * tarball.c - the entries of a reproducible tar of compiled sources:
 * names relative to -C DIR (a path outside it is an error), .pyc files in
 * __pycache__ beside their sources (and the sources with
 * --include-sources), every parent directory, all sorted bytewise, times
 * from SOURCE_DATE_EPOCH (older ones kept with --clamp-mtime), modes 0644
 * or 0755.  The recorded file name is the entry name, unless -d/-s/-p say
 * otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcr_private.h"

/* Lexically normalise path (made absolute with the current directory):
 * no ".", "..", or repeated slashes.  The result has no trailing slash. */
static char *
normalise(const char *path)
{
    char cwd[PATH_MAX];
    if (path[0] != '/' && getcwd(cwd, sizeof cwd) == NULL) {
        return NULL;
    }
    size_t n = (path[0] == '/' ? 0 : strlen(cwd) + 1) + strlen(path) + 2;
    char *full = malloc(n), *out = malloc(n);
    if (full == NULL || out == NULL) {
        free(full);
        free(out);
        return NULL;
    }
    if (path[0] == '/') {
        snprintf(full, n, "%s", path);
    } else {
        snprintf(full, n, "%s/%s", cwd, path);
    }
    size_t k = 0;
    char *save = NULL;
    for (char *part = strtok_r(full, "/", &save); part != NULL;
         part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0) {
            continue;
        }
        if (strcmp(part, "..") == 0) {
            while (k > 0 && out[k - 1] != '/') {
                k--;
            }
            if (k > 0) {
                k--; /* the slash */
            }
            continue;
        }
        out[k++] = '/';
        size_t m = strlen(part);
        memcpy(out + k, part, m);
        k += m;
    }
    out[k] = '\0';
    free(full);
    return out;
}

/* path relative to base, or NULL (with *outside set) if not below it. */
static char *
relative_to(const char *path, const char *base, int *outside)
{
    *outside = 0;
    char *p = normalise(path), *b = normalise(base);
    char *rel = NULL;
    if (p != NULL && b != NULL) {
        size_t n = strlen(b);
        if (strncmp(p, b, n) == 0 && p[n] == '/' && p[n + 1] != '\0') {
            rel = strdup(p + n + 1);
        } else if (n == 0 && p[0] == '/') {
            rel = strdup(p + 1); /* base is "/" */
        } else {
            *outside = 1;
        }
    }
    free(p);
    free(b);
    return rel;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const pcr_aentry *)a)->name,
                  ((const pcr_aentry *)b)->name);
}

static int
by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int64_t
entry_time(const pcr_tar_options *to, int64_t mtime)
{
    return to->clamp_mtime && mtime < to->epoch ? mtime : to->epoch;
}

/* Add a directory entry for every parent of every entry. */
static pcr_status
add_parents(const pcr_tar_options *to, pcr_alist *l, pcr_error *err)
{
    size_t nfiles = l->n, cap = 64, n = 0;
    char **dirs = malloc(cap * sizeof *dirs);
    pcr_status rc =
        dirs ? PCR_OK : pcr_set_error(err, PCR_ENV, "out of memory");
    for (size_t i = 0; i < nfiles && rc == PCR_OK; i++) {
        const char *name = l->v[i].name;
        for (const char *s = strchr(name, '/'); s && rc == PCR_OK;
             s = strchr(s + 1, '/')) {
            if (n == cap) {
                cap *= 2;
                char **nd = realloc(dirs, cap * sizeof *nd);
                if (nd == NULL) {
                    rc = pcr_set_error(err, PCR_ENV, "out of memory");
                    break;
                }
                dirs = nd;
            }
            if ((dirs[n] = strndup(name, (size_t)(s - name))) == NULL) {
                rc = pcr_set_error(err, PCR_ENV, "out of memory");
                break;
            }
            n++;
        }
    }
    if (rc == PCR_OK && n > 1) {
        qsort(dirs, n, sizeof *dirs, by_str);
    }
    for (size_t i = 0; i < n && rc == PCR_OK; i++) {
        if (i > 0 && strcmp(dirs[i], dirs[i - 1]) == 0) {
            continue;
        }
        /* with --clamp-mtime an older directory keeps its own time */
        int64_t t = to->epoch;
        size_t len = strlen(to->base) + strlen(dirs[i]) + 2;
        char *ondisk = malloc(len);
        struct stat st;
        if (ondisk != NULL) {
            snprintf(ondisk, len, "%s/%s", to->base, dirs[i]);
            if (stat(ondisk, &st) == 0) {
                t = entry_time(to, (int64_t)st.st_mtim.tv_sec);
            }
            free(ondisk);
        }
        rc = pcr_alist_add(l, dirs[i], 1, 0755, t, NULL, 0, err);
    }
    for (size_t i = 0; i < n; i++) {
        free(dirs[i]);
    }
    free(dirs);
    return rc;
}

/* The entries of one source: its .pyc files (and itself). */
static pcr_status
add_source(const pcr_tar_options *to, const pcr_job *job, pcr_alist *l,
           pcr_error *err)
{
    const pcr_options *opt = to->opt;
    int outside;
    char *name = relative_to(job->path, to->base, &outside);
    if (name == NULL) {
        return outside
                   ? pcr_set_error(err, PCR_FAIL,
                                   "is outside the -C directory %s", to->base)
                   : pcr_set_error(err, PCR_ENV, "out of memory");
    }
    pcr_source src;
    pcr_status rc = pcr_source_read(job->path, &src, err);
    if (rc != PCR_OK) {
        free(name);
        return rc;
    }
    char *record = pcr_record_name(name, job->relpath, opt->ddir, opt->strip,
                                   opt->prepend);
    int64_t t = entry_time(to, src.mtime_sec);
    /* A timestamp .pyc must match the source as extracted: the entry's
     * time, not the one on this disk. */
    src.mtime_sec = t;
    src.mtime_nsec = 0;
    int nlevels = opt->nlevels ? opt->nlevels : 1;
    unsigned char header[PCR_HEADER_SIZE];
    rc = pcr_pyc_header(opt, &src, header, err); /* hash once */
    for (int i = 0; i < nlevels && rc == PCR_OK; i++) {
        int level = opt->nlevels ? opt->levels[i] : 0;
        pcr_buf pyc;
        char *cpath = pcr_cache_path(name, level);
        if (record == NULL || cpath == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
        } else if ((rc = pcr_pyc_assemble(header, &src, record, level, &pyc,
                                          err)) == PCR_OK) {
            rc = pcr_alist_add(l, cpath, 0, 0644, t, pyc.data, pyc.len, err);
            pcr_buf_free(&pyc);
        }
        free(cpath);
    }
    if (rc == PCR_OK && to->include_sources) {
        rc = pcr_alist_add(l, name, 0, (src.mode & 0111) ? 0755 : 0644, t,
                           src.bytes.data, src.bytes.len, err);
    }
    free(record);
    free(name);
    pcr_source_free(&src);
    return rc;
}

pcr_status
pcr_tar_entries(const pcr_tar_options *to, const pcr_jobs *jobs,
                pcr_alist *out, pcr_error *err)
{
    memset(out, 0, sizeof *out);
    size_t failed = 0;
    pcr_error first = {{0}}, e;
    for (size_t i = 0; i < jobs->n; i++) {
        const pcr_job *job = &jobs->v[i];
        pcr_status rc = PCR_OK;
        if (job->skip) {
            continue;
        }
        if (job->error != NULL) {
            rc = pcr_set_error(&e, PCR_FAIL, "%s", job->error);
        } else {
            rc = add_source(to, job, out, &e);
        }
        if (rc == PCR_ENV) {
            pcr_alist_free(out);
            return pcr_set_error(err, PCR_ENV, "%s", e.msg);
        }
        if (rc != PCR_OK && failed++ == 0) {
            snprintf(first.msg, sizeof first.msg, "%.1000s: %.3000s",
                     job->path, e.msg);
        }
    }
    if (failed) {
        pcr_alist_free(out);
        if (failed > 1) {
            return pcr_set_error(err, PCR_FAIL,
                                 "%.4000s\n(and %zu more "
                                 "failed)",
                                 first.msg, failed - 1);
        }
        return pcr_set_error(err, PCR_FAIL, "%s", first.msg);
    }
    pcr_status rc = add_parents(to, out, err);
    if (rc != PCR_OK) {
        pcr_alist_free(out);
        return rc;
    }
    if (out->n > 1) {
        qsort(out->v, out->n, sizeof *out->v, by_name);
    }
    for (size_t i = 1; i < out->n; i++) {
        if (strcmp(out->v[i].name, out->v[i - 1].name) == 0) {
            pcr_status r = pcr_set_error(err, PCR_FAIL, "%s is named twice",
                                         out->v[i].name);
            pcr_alist_free(out);
            return r;
        }
    }
    return PCR_OK;
}
