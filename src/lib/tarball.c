/* SPDX-License-Identifier: MIT */
/*
 * tarball.c - names and directories of a reproducible tar of compiled
 * sources: entry names relative to -C DIR (lexically; a path outside it
 * is an error), and a directory entry for every parent.  The tar verb is
 * in verb_archive.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcr_archive.h"
#include "paths.h"

/* path relative to base, or NULL (with *outside set) if not below it. */
static char *
relative_to(const char *cwd, const char *path, const char *base, int *outside)
{
    *outside = 0;
    char *p = pcr_absolute_path(cwd, path), *b = pcr_absolute_path(cwd, base);
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
by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *
pcr_tar_entry_name(const char *cwd, const char *path, const char *base,
                   int *outside)
{
    return relative_to(cwd, path, base, outside);
}

/* Add a directory entry for every parent of every entry. */
pcr_status
pcr_tar_add_parents(pcr_alist *l, const char *base, int64_t epoch, int clamp,
                    pcr_error *err)
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
        int64_t t = epoch;
        size_t len = strlen(base) + strlen(dirs[i]) + 2;
        char *ondisk = malloc(len);
        struct stat st;
        if (ondisk != NULL) {
            snprintf(ondisk, len, "%s/%s", base, dirs[i]);
            if (clamp && stat(ondisk, &st) == 0 &&
                (int64_t)st.st_mtim.tv_sec < epoch) {
                t = (int64_t)st.st_mtim.tv_sec;
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
