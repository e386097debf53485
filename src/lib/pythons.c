/* SPDX-License-Identifier: MIT */
/*
 * pythons.c - which CPython versions there are (the compile servers
 * installed) and which of them compiles a given source.
 *
 * Servers are found in the first of: pcr_set_server_dir, the variable
 * PYCOMPILE_REPRO_SERVER_DIR, ../libexec/pycompile-repro beside the
 * running program (an installed tree, wherever its prefix), libexec/
 * pycompile-repro beside it (the build tree), and the LIBEXECDIR built
 * in.  A server is an executable named cpython-X.Y.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handle.h"

#ifndef PCR_LIBEXECDIR
#define PCR_LIBEXECDIR "/usr/local/libexec/pycompile-repro"
#endif

/* "3.13" -> 3, 13; 0 if the text is not X.Y. */
static int
parse_series(const char *s, size_t n, int *major, int *minor)
{
    char buf[16];
    char *end;
    if (n == 0 || n >= sizeof buf) {
        return 0;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    long a = strtol(buf, &end, 10);
    if (end == buf || *end != '.' || a < 3 || a > 9) {
        return 0;
    }
    const char *m = end + 1;
    long b = strtol(m, &end, 10);
    if (end == m || *end != '\0' || b < 0 || b > 99) {
        return 0;
    }
    *major = (int)a;
    *minor = (int)b;
    return 1;
}

static int
by_series(const void *a, const void *b)
{
    int ma, na, mb, nb;
    const pcr_python *x = a, *y = b;
    parse_series(x->series, strlen(x->series), &ma, &na);
    parse_series(y->series, strlen(y->series), &mb, &nb);
    return ma != mb ? ma - mb : na - nb;
}

static int
is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
server_dir(pcr *p, char *out, size_t size)
{
    const char *env = getenv("PYCOMPILE_REPRO_SERVER_DIR");
    if (p->server_dir != NULL) {
        snprintf(out, size, "%s", p->server_dir);
        return;
    }
    if (env != NULL && env[0] != '\0') {
        snprintf(out, size, "%s", env);
        return;
    }
    char exe[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            snprintf(out, size, "%s/../libexec/pycompile-repro", exe);
            if (is_dir(out)) {
                return;
            }
            snprintf(out, size, "%s/libexec/pycompile-repro", exe);
            if (is_dir(out)) {
                return;
            }
        }
    }
    snprintf(out, size, "%s", PCR_LIBEXECDIR);
}

/* The version /usr/bin/python3 points at ("python3.13"), if any. */
static int
system_default(int *major, int *minor)
{
    char link[PATH_MAX];
    ssize_t n = readlink("/usr/bin/python3", link, sizeof link - 1);
    if (n <= 0) {
        return 0;
    }
    link[n] = '\0';
    const char *base = strrchr(link, '/');
    base = base ? base + 1 : link;
    if (strncmp(base, "python", 6) != 0) {
        return 0;
    }
    return parse_series(base + 6, strlen(base + 6), major, minor);
}

pcr_status
pcr_discover(pcr *p)
{
    if (p->discovered) {
        return PCR_OK;
    }
    char dir[PATH_MAX];
    server_dir(p, dir, sizeof dir);
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            int major, minor;
            if (strncmp(e->d_name, "cpython-", 8) != 0 ||
                !parse_series(e->d_name + 8, strlen(e->d_name + 8), &major,
                              &minor)) {
                continue;
            }
            char path[PATH_MAX + 320];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
                access(path, X_OK) != 0) {
                continue;
            }
            pcr_python *np = realloc(p->py, (size_t)(p->npy + 1) * sizeof *np);
            char *c = strdup(path);
            if (np == NULL || c == NULL) {
                free(c);
                if (np != NULL) {
                    p->py = np;
                }
                closedir(d);
                return pcr_fail(p, PCR_ENV, "out of memory");
            }
            p->py = np;
            pcr_python *py = &p->py[p->npy++];
            memset(py, 0, sizeof *py);
            py->path = c;
            snprintf(py->series, sizeof py->series, "%d.%d", major, minor);
            snprintf(py->tag, sizeof py->tag, "cpython-%d%d", major, minor);
        }
        closedir(d);
    }
    if (p->npy > 1) {
        qsort(p->py, (size_t)p->npy, sizeof *p->py, by_series);
    }
    p->wanted = calloc((size_t)p->npy + 1, 1);
    if (p->wanted == NULL) {
        return pcr_fail(p, PCR_ENV, "out of memory");
    }
    int major, minor;
    p->default_py = p->npy - 1; /* the newest */
    if (system_default(&major, &minor)) {
        char s[16];
        snprintf(s, sizeof s, "%d.%d", major, minor);
        for (int i = 0; i < p->npy; i++) {
            if (strcmp(p->py[i].series, s) == 0) {
                p->default_py = i;
            }
        }
    }
    p->discovered = 1;
    if (p->npy == 0) {
        return pcr_fail(p, PCR_ENV,
                        "no compile server found in %s (cpython-X.Y; "
                        "set PYCOMPILE_REPRO_SERVER_DIR?)",
                        dir);
    }
    return PCR_OK;
}

PCR_API pcr_status
pcr_add_python(pcr *p, const char *version)
{
    pcr_status rc = pcr_discover(p);
    if (rc != PCR_OK) {
        return rc;
    }
    if (strcmp(version, "all") == 0) {
        p->want_all = 1;
        return PCR_OK;
    }
    int major, minor;
    if (!parse_series(version, strlen(version), &major, &minor)) {
        return pcr_fail(p, PCR_ENV,
                        "--python takes X.Y (such as 3.13) or all, not "
                        "'%s'",
                        version);
    }
    char s[16];
    snprintf(s, sizeof s, "%d.%d", major, minor);
    for (int i = 0; i < p->npy; i++) {
        if (strcmp(p->py[i].series, s) == 0) {
            p->wanted[i] = 1;
            p->want_any = 1;
            return PCR_OK;
        }
    }
    return pcr_fail(p, PCR_ENV, "no compile server for CPython %s here", s);
}

int
pcr_python_by_tag(const pcr *p, const char *tag, size_t len)
{
    for (int i = 0; i < p->npy; i++) {
        if (strlen(p->py[i].tag) == len &&
            memcmp(p->py[i].tag, tag, len) == 0) {
            return i;
        }
    }
    return -1;
}

/* X.Y from ".../lib/pythonX.Y/..." or ".../lib64/pythonX.Y/...", looking
 * at the path made absolute (lexically). */
static int
series_of_path(const char *path, char *out, size_t size)
{
    static char cwd[PATH_MAX];
    if (path[0] != '/' && cwd[0] == '\0' && getcwd(cwd, sizeof cwd) == NULL) {
        cwd[0] = '\0';
    }
    char full[2 * PATH_MAX];
    snprintf(full, sizeof full, "%s%s%s", path[0] == '/' ? "" : cwd,
             path[0] == '/' ? "" : "/", path);
    int found = 0;
    for (const char *s = full; (s = strstr(s, "/python")) != NULL; s++) {
        const char *v = s + 7, *end = strchr(v, '/');
        int major, minor;
        if (end == NULL) {
            break;
        }
        int lib = (s - full >= 4 && strncmp(s - 4, "/lib", 4) == 0) ||
                  (s - full >= 6 && strncmp(s - 6, "/lib64", 6) == 0);
        if (lib && parse_series(v, (size_t)(end - v), &major, &minor)) {
            snprintf(out, size, "%d.%d", major, minor);
            found = 1; /* the innermost counts */
        }
    }
    return found;
}

pcr_status
pcr_versions_for(pcr *p, const char *path, int *out, int *n, pcr_error *err)
{
    *n = 0;
    if (p->want_all || p->want_any) {
        for (int i = 0; i < p->npy; i++) {
            if (p->want_all || p->wanted[i]) {
                out[(*n)++] = i;
            }
        }
        return PCR_OK;
    }
    char s[16];
    if (series_of_path(path, s, sizeof s)) {
        for (int i = 0; i < p->npy; i++) {
            if (strcmp(p->py[i].series, s) == 0) {
                out[(*n)++] = i;
                return PCR_OK;
            }
        }
        return pcr_set_error(err, PCR_FAIL,
                             "no compile server for CPython %s, which this "
                             "path is for (lib/python%s)",
                             s, s);
    }
    if (p->default_py < 0) {
        return pcr_set_error(err, PCR_ENV, "no compile server");
    }
    out[(*n)++] = p->default_py;
    return PCR_OK;
}

/* ------------------------------------------------------ public facts */

PCR_API int
pcr_python_count(pcr *p)
{
    return pcr_discover(p) == PCR_OK ? p->npy : 0;
}

static const pcr_python *
py_at(pcr *p, int i)
{
    return (pcr_discover(p) == PCR_OK && i >= 0 && i < p->npy) ? &p->py[i]
                                                               : NULL;
}

PCR_API const char *
pcr_python_series(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py ? py->series : NULL;
}

PCR_API const char *
pcr_python_path(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py ? py->path : NULL;
}

PCR_API const char *
pcr_python_version(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py && py->started ? py->version : NULL;
}

PCR_API const char *
pcr_python_build(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py && py->started ? py->build : NULL;
}

PCR_API const char *
pcr_python_cache_tag(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py ? py->tag : NULL;
}

PCR_API uint32_t
pcr_python_magic(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py && py->started ? py->magic : 0;
}

PCR_API int
pcr_python_default(pcr *p)
{
    return pcr_discover(p) == PCR_OK ? p->default_py : -1;
}
