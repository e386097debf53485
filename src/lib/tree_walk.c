/* SPDX-License-Identifier: MIT */
/*
 * tree_walk.c - turning operands into a list of source files, as
 * compileall walks directories (_walk_dir and the filters at the start of
 * compile_file), in a deterministic order: the names of each directory
 * sorted bytewise, whatever order the file system returns.
 *
 * Django's tree has five names that are not sources for each one that is
 * (locale files): the directory entry's type spares them any stat, and a
 * source or directory gets one stat relative to its directory, where
 * compileall's lstat + stat of a full path cost a third of a warm-cache
 * build.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#define _DEFAULT_SOURCE   /* d_type, DT_* */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "paths.h"
#include "walk.h"

static char *
join(const char *dir, const char *name)
{
    size_t ld = strlen(dir), ln = strlen(name);
    int slash = ld > 0 && dir[ld - 1] != '/';
    char *out = malloc(ld + (size_t)slash + ln + 1);
    if (out != NULL) {
        memcpy(out, dir, ld);
        if (slash) {
            out[ld] = '/';
        }
        memcpy(out + ld + (size_t)slash, name, ln + 1);
    }
    return out;
}

static pcr_status
push(pcr_jobs *jobs, char *path, char *relpath, uint64_t size, char *error,
     int skip, pcr_error *err)
{
    if (jobs->n == jobs->cap) {
        size_t cap = jobs->cap ? jobs->cap * 2 : 256;
        pcr_job *v = realloc(jobs->v, cap * sizeof *v);
        if (v == NULL) {
            free(path);
            free(relpath);
            free(error);
            return pcr_set_error(err, PCR_ENV, "out of memory");
        }
        jobs->v = v;
        jobs->cap = cap;
    }
    jobs->v[jobs->n++] =
        (pcr_job){path, relpath, size, error, skip, 0, NULL, NULL};
    return PCR_OK;
}

static pcr_status
push_error(pcr_jobs *jobs, const char *path, int errnum, const char *what,
           pcr_error *err)
{
    pcr_error tmp;
    pcr_set_errno(&tmp, PCR_FAIL, errnum, "%s", what);
    char *p = strdup(path), *e = strdup(tmp.msg);
    if (p == NULL || e == NULL) {
        free(p);
        free(e);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    return push(jobs, p, NULL, 0, e, 0, err);
}

/* compileall's -e: a symlink must resolve to somewhere below DIR.  (-x,
 * a Python regular expression, is applied after the walk by a compile
 * server: run.c.) */
static int
filtered(const char *path, int is_link, const pcr_walk *wo)
{
    if (wo->limit_sl_dest != NULL && is_link) {
        char limit[PATH_MAX], target[PATH_MAX];
        if (realpath(wo->limit_sl_dest, limit) == NULL ||
            realpath(path, target) == NULL) {
            return 1;
        }
        /* "limit in Path(target).parents": a proper ancestor */
        size_t n = strlen(limit);
        if (strcmp(limit, "/") == 0) {
            return strcmp(target, "/") == 0;
        }
        return !(strncmp(target, limit, n) == 0 && target[n] == '/');
    }
    return 0;
}

/* A directory entry: its name and d_type (DT_UNKNOWN when the file
 * system does not say). */
struct entry {
    char *name;
    unsigned char type;
};

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name,
                  ((const struct entry *)b)->name);
}

static pcr_status walk(pcr_jobs *jobs, const char *dir, const char *rel,
                       int levels, const pcr_walk *wo, pcr_error *err);

/* One entry of the directory dfd (dir): a subdirectory is walked, a
 * regular *.py file pushed, anything else ignored, as compile_file does. */
static pcr_status
visit(pcr_jobs *jobs, int dfd, const char *dir, const char *rel,
      const struct entry *ent, int levels, const pcr_walk *wo, pcr_error *err)
{
    const char *name = ent->name;
    int known = ent->type == DT_REG || ent->type == DT_DIR;
    int source = pcr_ends_with(name, wo->suffix);
    if (ent->type == DT_REG && !source) {
        return PCR_OK; /* the common case: no stat, no allocation */
    }
    struct stat lst, st;
    int is_link = !known &&
                  fstatat(dfd, name, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
                  S_ISLNK(lst.st_mode);
    int ok = fstatat(dfd, name, &st, 0) == 0;
    if (!ok || (!S_ISDIR(st.st_mode) && (!S_ISREG(st.st_mode) || !source))) {
        return PCR_OK; /* only regular *.py files and directories */
    }
    char *path = join(dir, name);
    char *relpath = rel[0] ? join(rel, name) : strdup(name);
    if (path == NULL || relpath == NULL) {
        free(path);
        free(relpath);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    pcr_status rc = PCR_OK;
    if (S_ISDIR(st.st_mode)) {
        /* compileall: recurse unless a symlink or too deep */
        if (levels > 0 && !is_link) {
            rc = walk(jobs, path, relpath, levels - 1, wo, err);
        }
        free(path);
        free(relpath);
        return rc;
    }
    int skip = filtered(path, is_link, wo);
    if (!skip && wo->found != NULL) {
        wo->found(wo->found_ctx, path);
    }
    return push(jobs, path, relpath, (uint64_t)st.st_size, NULL, skip, err);
}

static pcr_status
walk(pcr_jobs *jobs, const char *dir, const char *rel, int levels,
     const pcr_walk *wo, pcr_error *err)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return push_error(jobs, dir, errno, "cannot list directory", err);
    }
    struct entry *names = NULL;
    size_t n = 0, cap = 0;
    pcr_status rc = PCR_OK;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (strcmp(e->d_name, "__pycache__") == 0 && !wo->into_pycache)) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct entry *nn = realloc(names, cap * sizeof *nn);
            if (nn == NULL) {
                rc = pcr_set_error(err, PCR_ENV, "out of memory");
                goto end;
            }
            names = nn;
        }
        names[n].type = e->d_type;
        if ((names[n].name = strdup(e->d_name)) == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
            goto end;
        }
        n++;
    }
    if (errno != 0) {
        rc = push_error(jobs, dir, errno, "cannot list directory", err);
        goto end;
    }
    if (n > 1) {
        qsort(names, n, sizeof *names, by_name);
    }
    for (size_t i = 0; i < n && rc == PCR_OK; i++) {
        rc = visit(jobs, dirfd(d), dir, rel, &names[i], levels, wo, err);
    }
end:
    for (size_t i = 0; i < n; i++) {
        free(names[i].name);
    }
    free(names);
    closedir(d);
    return rc;
}

pcr_status
pcr_jobs_add(pcr_jobs *jobs, const char *operand, const pcr_walk *wo,
             pcr_error *err)
{
    struct stat st, lst;
    if (stat(operand, &st) == 0 && S_ISDIR(st.st_mode)) {
        return walk(jobs, operand, "", wo->maxlevels, wo, err);
    }
    /* A file operand: compiled whatever its name (py_compile); what it is
     * is checked when it is read, so errors name the file. */
    char *path = strdup(operand);
    if (path == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    int is_link = lstat(operand, &lst) == 0 && S_ISLNK(lst.st_mode);
    int skip = filtered(operand, is_link, wo);
    uint64_t size = stat(operand, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (!skip && wo->found != NULL) {
        wo->found(wo->found_ctx, path);
    }
    return push(jobs, path, NULL, size, NULL, skip, err);
}

void
pcr_jobs_free(pcr_jobs *jobs)
{
    if (jobs != NULL) {
        for (size_t i = 0; i < jobs->n; i++) {
            free(jobs->v[i].path);
            free(jobs->v[i].relpath);
            free(jobs->v[i].error);
            free(jobs->v[i].record);
            free(jobs->v[i].pyc);
        }
        free(jobs->v);
        memset(jobs, 0, sizeof *jobs);
    }
}
