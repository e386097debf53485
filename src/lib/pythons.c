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

#include "paths.h"
#include "pythons.h"

#ifndef PCR_LIBEXECDIR
#define PCR_LIBEXECDIR "/usr/local/libexec/pycompile-repro"
#endif

int
pcr_parse_series(const char *s, size_t n, int *major, int *minor)
{
    /* exactly D.D or D.DD: no sign, space or leading zero, so that one
     * version has one name (cpython-3.011 is not 3.11) */
    if (n < 3 || n > 4 || s[0] < '1' || s[0] > '9' || s[1] != '.' ||
        s[2] < '0' || s[2] > '9' ||
        (n == 4 && (s[2] == '0' || s[3] < '0' || s[3] > '9'))) {
        return 0;
    }
    *major = s[0] - '0';
    *minor = n == 4 ? (s[2] - '0') * 10 + (s[3] - '0') : s[2] - '0';
    return 1;
}

static int
by_series(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    int ma, na, mb, nb;
    const pcr_python *x = a, *y = b;
    pcr_parse_series(x->series, strlen(x->series), &ma, &na);
    pcr_parse_series(y->series, strlen(y->series), &mb, &nb);
    return ma != mb ? ma - mb : na - nb;
}

static int
is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* dir made absolute against today's working directory (malloc'd): a
 * handle's servers are started again in later runs, from anywhere */
static char *
absolute(const char *dir)
{
    if (dir[0] == '/') {
        return strdup(dir);
    }
    char *cwd = getcwd(NULL, 0);
    char *out = cwd != NULL ? pcr_path_join(cwd, dir) : NULL;
    free(cwd);
    return out;
}

/* The directory of the servers (malloc'd). */
static char *
server_dir(const char *given)
{
    const char *env = getenv("PYCOMPILE_REPRO_SERVER_DIR");
    if (given != NULL) {
        return absolute(given);
    }
    if (env != NULL && env[0] != '\0') {
        return absolute(env);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            const char *const rel[] = {"/../libexec/pycompile-repro",
                                       "/libexec/pycompile-repro"};
            for (size_t i = 0; i < 2; i++) {
                char *d = pcr_path_join(exe, rel[i] + 1);
                if (d == NULL || is_dir(d)) {
                    return d;
                }
                free(d);
            }
        }
    }
    return strdup(PCR_LIBEXECDIR);
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
    return pcr_parse_series(base + 6, strlen(base + 6), major, minor);
}

void
pcr_pythons_clear(pcr_pythons *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->v[i].path);
        free(t->v[i].build);
        free(t->v[i].lib);
        free(t->v[i].exe);
    }
    free(t->v);
    free(t->dir);
    memset(t, 0, sizeof *t);
    t->default_py = -1;
}

/* Add dir/name as a server when it is an executable regular file. */
static pcr_status
add_server(pcr_pythons *t, const char *dir, const char *name, int major,
           int minor, pcr_error *err)
{
    char *path = pcr_path_join(dir, name);
    if (path == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    struct stat st;
    if (t->n >= PCR_MAX_PY || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
        access(path, X_OK) != 0) {
        free(path);
        return PCR_OK;
    }
    pcr_python *v = realloc(t->v, (size_t)(t->n + 1) * sizeof *v);
    if (v == NULL) {
        free(path);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    t->v = v;
    pcr_python *py = &t->v[t->n++];
    memset(py, 0, sizeof *py);
    py->path = path;
    snprintf(py->series, sizeof py->series, "%d.%d", major, minor);
    snprintf(py->tag, sizeof py->tag, "cpython-%d%d", major, minor);
    return PCR_OK;
}

pcr_status
pcr_pythons_discover(pcr_pythons *t, const char *given, pcr_error *err)
{
    pcr_pythons_clear(t);
    if ((t->dir = server_dir(given)) == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    pcr_status rc = PCR_OK;
    DIR *d = opendir(t->dir);
    struct dirent *e;
    while (d != NULL && rc == PCR_OK && (e = readdir(d)) != NULL) {
        int major, minor;
        if (strncmp(e->d_name, "cpython-", 8) == 0 &&
            pcr_parse_series(e->d_name + 8, strlen(e->d_name + 8), &major,
                             &minor)) {
            rc = add_server(t, t->dir, e->d_name, major, minor, err);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    if (rc == PCR_OK &&
        pcr_sort(t->v, (size_t)t->n, sizeof *t->v, by_series, NULL) != 0) {
        rc = pcr_set_error(err, PCR_ENV, "out of memory");
    }
    if (rc != PCR_OK) {
        return rc;
    }
    int major, minor;
    t->default_py = t->n - 1; /* the newest */
    if (system_default(&major, &minor)) {
        char s[16];
        snprintf(s, sizeof s, "%d.%d", major, minor);
        int i = pcr_python_by_series(t, s);
        if (i >= 0) {
            t->default_py = i;
        }
    }
    if (t->n == 0) {
        return pcr_set_error(err, PCR_ENV,
                             "no compile server found in %s (cpython-X.Y; "
                             "set PYCOMPILE_REPRO_SERVER_DIR?)",
                             t->dir);
    }
    return PCR_OK;
}

int
pcr_python_by_series(const pcr_pythons *t, const char *series)
{
    for (int i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].series, series) == 0) {
            return i;
        }
    }
    return -1;
}

int
pcr_python_by_tag(const pcr_pythons *t, const char *tag, size_t len)
{
    for (int i = 0; i < t->n; i++) {
        if (strlen(t->v[i].tag) == len && memcmp(t->v[i].tag, tag, len) == 0) {
            return i;
        }
    }
    return -1;
}

/* X.Y from ".../lib/pythonX.Y/..." or ".../lib64/pythonX.Y/...", looking
 * at the path made absolute (lexically) from the run's working directory;
 * 0 when none, -1 when out of memory. */
static int
series_of_path(const char *cwd, const char *path, char *out, size_t size)
{
    char *full = path[0] == '/' ? strdup(path) : pcr_path_join(cwd, path);
    if (full == NULL) {
        return -1;
    }
    int found = 0;
    for (const char *s = full; (s = strstr(s, "/python")) != NULL; s++) {
        const char *v = s + 7, *end = strchr(v, '/');
        int major, minor;
        if (end == NULL) {
            break;
        }
        int lib = (s - full >= 4 && strncmp(s - 4, "/lib", 4) == 0) ||
                  (s - full >= 6 && strncmp(s - 6, "/lib64", 6) == 0);
        if (lib && pcr_parse_series(v, (size_t)(end - v), &major, &minor)) {
            snprintf(out, size, "%d.%d", major, minor);
            found = 1; /* the innermost counts */
        }
    }
    free(full);
    return found;
}

pcr_status
pcr_versions_for(const pcr_plan *plan, const char *path, int *out, int *n,
                 pcr_error *err)
{
    const pcr_pythons *t = plan->py;
    *n = 0;
    if (plan->only_py >= 0) {
        out[(*n)++] = plan->only_py;
        return PCR_OK;
    }
    if (plan->want_all || plan->want != NULL) {
        for (int i = 0; i < t->n; i++) {
            if (plan->want_all || plan->want[i]) {
                out[(*n)++] = i;
            }
        }
        return PCR_OK;
    }
    char s[16];
    int found = series_of_path(plan->cwd, path, s, sizeof s);
    if (found < 0) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    if (found) {
        int i = pcr_python_by_series(t, s);
        if (i >= 0) {
            out[(*n)++] = i;
            return PCR_OK;
        }
        return pcr_set_error(err, PCR_FAIL,
                             "no compile server for CPython %s, which this "
                             "path is for (lib/python%s)",
                             s, s);
    }
    if (t->default_py < 0) {
        return pcr_set_error(err, PCR_ENV, "no compile server");
    }
    out[(*n)++] = t->default_py;
    return PCR_OK;
}
