/* SPDX-License-Identifier: MIT */
/*
 * paths.c - where a .pyc goes (PEP 3147/488), which file name it records
 * (compileall's -d/-s/-p), and paths made absolute lexically.
 */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"

/* importlib.util.cache_from_source(path, optimization=level or ''):
 * head/__pycache__/BASE.TAG[.opt-N].pyc, where BASE is the name up to its
 * last dot.  A name without a dot keeps importlib's quirk: "foo" gives
 * "foocpython-311.pyc". */
char *
pcr_cache_path(const char *source, const char *tag, int optimize)
{
    const char *slash = strrchr(source, '/');
    size_t headlen = slash ? (size_t)(slash - source) + 1 : 0;
    const char *tail = source + headlen;
    const char *dot = strrchr(tail, '.');
    const char *base, *sep;
    size_t baselen;
    if (dot != NULL && dot != tail) {
        base = tail;
        baselen = (size_t)(dot - tail);
        sep = ".";
    } else if (dot != NULL) { /* ".name": rpartition gives base "" */
        base = dot + 1;
        baselen = strlen(base);
        sep = ".";
    } else {
        base = tail;
        baselen = strlen(tail);
        sep = "";
    }
    char opt[16] = "";
    if (optimize > 0) {
        snprintf(opt, sizeof opt, ".opt-%d", optimize);
    }
    size_t n = headlen + strlen("__pycache__/") + baselen + 1 + strlen(tag) +
               strlen(opt) + strlen(".pyc") + 1;
    char *out = malloc(n);
    if (out == NULL) {
        return NULL;
    }
    snprintf(out, n, "%.*s__pycache__/%.*s%s%s%s.pyc", (int)headlen, source,
             (int)baselen, base, sep, tag, opt);
    return out;
}

/* importlib's _path_join on POSIX: the parts that are not empty, each
 * without its trailing slashes, joined by one slash. */
static char *
py_join(const char *const *parts, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) {
        len += strlen(parts[i]) + 1;
    }
    char *out = malloc(len), *o = out;
    if (out == NULL) {
        return NULL;
    }
    int first = 1;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(parts[i]);
        if (k == 0) {
            continue;
        }
        while (k > 0 && parts[i][k - 1] == '/') {
            k--;
        }
        if (!first) {
            *o++ = '/';
        }
        memcpy(o, parts[i], k);
        o += k;
        first = 0;
    }
    *o = '\0';
    return out;
}

char *
pcr_prefix_cache_path(const char *prefix, const char *cwd, const char *source,
                      const char *tag, int optimize)
{
    /* the file name, as without a prefix */
    char *plain = pcr_cache_path(source, tag, optimize);
    if (plain == NULL) {
        return NULL;
    }
    const char *filename = strrchr(plain, '/') + 1;
    /* _path_split: the head is all before the last slash ("" for
     * "/x.py" too, which importlib then takes as relative) */
    const char *slash = strrchr(source, '/');
    char *head = strndup(source, slash ? (size_t)(slash - source) : 0);
    if (head != NULL && head[0] != '/') {
        const char *parts[] = {cwd, head};
        char *abs = py_join(parts, 2);
        free(head);
        head = abs;
    }
    char *out = NULL;
    if (head != NULL) {
        const char *rel = head;
        while (*rel == '/') {
            rel++;
        }
        const char *parts[] = {prefix, rel, filename};
        out = py_join(parts, 3);
    }
    free(head);
    free(plain);
    return out;
}

/* os.path.join(a, b) for two parts. */
static char *
join(const char *a, const char *b)
{
    if (b[0] == '/' || a[0] == '\0') {
        return strdup(b);
    }
    size_t la = strlen(a);
    int slash = a[la - 1] != '/';
    char *out = malloc(la + (size_t)slash + strlen(b) + 1);
    if (out != NULL) {
        memcpy(out, a, la);
        if (slash) {
            out[la] = '/';
        }
        strcpy(out + la + (size_t)slash, b);
    }
    return out;
}

/* If path starts with the directory prefix (compared by components),
 * return what follows it; else NULL. */
static const char *
after_prefix(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    while (n > 1 && prefix[n - 1] == '/') {
        n--; /* "build/" and "build" are the same prefix */
    }
    if (strncmp(path, prefix, n) != 0) {
        return NULL;
    }
    if (n == 1 && prefix[0] == '/') {
        return path[0] == '/' ? path + 1 : NULL;
    }
    if (path[n] == '\0') {
        return path + n;
    }
    if (path[n] != '/') {
        return NULL; /* "/buildroot" is not a prefix of "/buildroot2/x" */
    }
    while (path[n] == '/') {
        n++;
    }
    return path + n;
}

char *
pcr_record_name(const char *source, const char *relpath, const char *ddir,
                const char *strip, const char *prepend)
{
    char *name;
    if (ddir != NULL) {
        const char *rel = relpath;
        if (rel == NULL) {
            const char *slash = strrchr(source, '/');
            rel = slash ? slash + 1 : source;
        }
        name = join(ddir, rel);
    } else {
        name = strdup(source);
    }
    if (name == NULL) {
        return NULL;
    }
    if (strip != NULL) {
        /* compileall strips from the full source path, even with -d. */
        const char *rest = after_prefix(source, strip);
        if (rest != NULL) {
            char *s = strdup(rest);
            free(name);
            if (s == NULL) {
                return NULL;
            }
            name = s;
        }
    }
    if (prepend != NULL) {
        char *p = join(prepend, name);
        free(name);
        name = p;
    }
    return name;
}

int
pcr_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

char *
pcr_path_join(const char *dir, const char *name)
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

char *
pcr_absolute_path(const char *cwd, const char *path)
{
    if (path[0] != '/' && cwd == NULL) {
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
