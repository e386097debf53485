/* SPDX-License-Identifier: MIT */
/*
 * args.c - rules_python's precompiler arguments (precompiler.py's
 * argparse parser): --invalidation_mode, --optimize, --python_version,
 * the --src/--src_name/--pyc triples, --persistent_worker, and the
 * --log_level and --worker_impl that its worker takes (accepted, unused).
 * An argument starting with '@' names a file of arguments, one a line,
 * as argparse's fromfile_prefix_chars="@" reads it.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bzl.h"

/* An @file may hold more @files; argparse follows them all. */
#define MAX_DEPTH 8
#define MAX_ARGS_FILE ((size_t)64 << 20)

typedef struct vec {
    char **v;
    size_t n, cap;
} vec;

static int
vec_push(vec *a, char *s)
{
    if (s == NULL) {
        return -1;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        char **v = realloc(a->v, cap * sizeof *v);
        if (v == NULL) {
            free(s);
            return -1;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    return 0;
}

static void
vec_free(vec *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->v[i]);
    }
    free(a->v);
    memset(a, 0, sizeof *a);
}

/* path below dir when it is relative and dir is given. */
static char *
below(const char *dir, const char *path)
{
    if (dir == NULL || dir[0] == '\0' || path[0] == '/') {
        return strdup(path);
    }
    size_t dl = strlen(dir), pl = strlen(path);
    int slash = dir[dl - 1] != '/';
    char *s = malloc(dl + (size_t)slash + pl + 1);
    if (s != NULL) {
        memcpy(s, dir, dl);
        if (slash) {
            s[dl] = '/';
        }
        memcpy(s + dl + slash, path, pl + 1);
    }
    return s;
}

/* The whole of a small file; NULL with a message. */
static char *
slurp(const char *path, size_t *len, bzl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        bzl_fail(err, "%s: cannot read the arguments file: %s", path,
                 strerror(errno));
        return NULL;
    }
    struct stat st;
    char *data = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        bzl_fail(err, "%s: the arguments file is not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > MAX_ARGS_FILE) {
        bzl_fail(err, "%s: an arguments file over 64 MiB", path);
        goto out;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    data = malloc(cap);
    if (data == NULL) {
        bzl_fail(err, "out of memory");
        goto out;
    }
    for (;;) {
        if (n + 1 == cap) {
            /* grew since fstat: read up to the limit */
            if (cap > MAX_ARGS_FILE) {
                bzl_fail(err, "%s: an arguments file over 64 MiB", path);
                free(data);
                data = NULL;
                goto out;
            }
            char *d = realloc(data, cap * 2);
            if (d == NULL) {
                bzl_fail(err, "out of memory");
                free(data);
                data = NULL;
                goto out;
            }
            data = d;
            cap *= 2;
        }
        ssize_t r = read(fd, data + n, cap - 1 - n);
        if (r == 0) {
            break;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            bzl_fail(err, "%s: cannot read the arguments file: %s", path,
                     strerror(errno));
            free(data);
            data = NULL;
            goto out;
        }
        n += (size_t)r;
    }
    data[n] = '\0';
    *len = n;
out:
    close(fd);
    return data;
}

static int expand(vec *out, const char *arg, const char *dir, int depth,
                  bzl_error *err);

/* The arguments of an @file: one a line ('\n', "\r\n"); no quoting. */
static int
expand_file(vec *out, const char *name, const char *dir, int depth,
            bzl_error *err)
{
    if (depth >= MAX_DEPTH) {
        bzl_fail(err, "@%s: arguments files nested more than %d deep", name,
                 MAX_DEPTH);
        return -1;
    }
    char *path = below(dir, name);
    if (path == NULL) {
        bzl_fail(err, "out of memory");
        return -1;
    }
    size_t len;
    char *data = slurp(path, &len, err);
    free(path);
    if (data == NULL) {
        return -1;
    }
    int rc = 0;
    size_t start = 0;
    while (start < len && rc == 0) {
        char *nl = memchr(data + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - data) : len;
        size_t stop = end;
        if (stop > start && data[stop - 1] == '\r') {
            stop--;
        }
        if (memchr(data + start, '\0', stop - start) != NULL) {
            bzl_fail(err, "@%s: an argument holds a NUL byte", name);
            rc = -1;
            break;
        }
        data[stop] = '\0';
        rc = expand(out, data + start, dir, depth + 1, err);
        start = end + 1;
    }
    free(data);
    return rc;
}

static int
expand(vec *out, const char *arg, const char *dir, int depth, bzl_error *err)
{
    if (arg[0] == '@') {
        return expand_file(out, arg + 1, dir, depth, err);
    }
    if (vec_push(out, strdup(arg)) != 0) {
        bzl_fail(err, "out of memory");
        return -1;
    }
    return 0;
}

void
bzl_args_free(bzl_args *a)
{
    for (size_t i = 0; i < a->nsrc; i++) {
        free(a->src[i]);
    }
    for (size_t i = 0; i < a->nname; i++) {
        free(a->name[i]);
    }
    for (size_t i = 0; i < a->npyc; i++) {
        free(a->pyc[i]);
    }
    free(a->src);
    free(a->name);
    free(a->pyc);
    free(a->t);
    free(a->pyver);
    memset(a, 0, sizeof *a);
}

static int
push_str(char ***list, size_t *n, char *s)
{
    if (s == NULL) {
        return -1;
    }
    char **v = realloc(*list, (*n + 1) * sizeof *v);
    if (v == NULL) {
        free(s);
        return -1;
    }
    *list = v;
    v[(*n)++] = s;
    return 0;
}

/* "-1", "0", "1", "2" (argparse's int() takes surrounding blanks and a
 * '+'; py_compile then refuses anything else). */
static int
parse_level(const char *s, int *level)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    int neg = 0;
    if (*s == '+' || *s == '-') {
        neg = *s == '-';
        s++;
    }
    if (*s < '0' || *s > '9') {
        return -1;
    }
    long v = 0;
    while (*s >= '0' && *s <= '9' && v < 100) {
        v = v * 10 + (*s++ - '0');
    }
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s != '\0') {
        return -1;
    }
    v = neg ? -v : v;
    if (v < -1 || v > 2) {
        return -1;
    }
    /* -1: the interpreter's own level, 0 for precompiler.py (no -O) */
    *level = v < 0 ? 0 : (int)v;
    return 0;
}

/* py_compile.PycInvalidationMode[value.upper()] */
static int
parse_mode(const char *s)
{
    if (strcasecmp(s, "checked_hash") == 0) {
        return PCR_CHECKED_HASH;
    }
    if (strcasecmp(s, "unchecked_hash") == 0) {
        return PCR_UNCHECKED_HASH;
    }
    if (strcasecmp(s, "timestamp") == 0) {
        return PCR_TIMESTAMP;
    }
    return -1;
}

static const char *const with_value[] = {
    "--invalidation_mode", "--log_level", "--optimize", "--pyc",
    "--python_version",    "--src",       "--src_name", "--worker_impl",
};

/* The option arg names (with its value after '=' or in the next
 * argument); NULL if it is not one that takes a value. */
static const char *
option_name(const char *arg, const char **inline_value)
{
    for (size_t i = 0; i < sizeof with_value / sizeof with_value[0]; i++) {
        size_t n = strlen(with_value[i]);
        if (strncmp(arg, with_value[i], n) == 0) {
            if (arg[n] == '\0') {
                *inline_value = NULL;
                return with_value[i];
            }
            if (arg[n] == '=') {
                *inline_value = arg + n + 1;
                return with_value[i];
            }
        }
    }
    return NULL;
}

static pcr_status
take_option(bzl_args *a, const char *opt, const char *val, const char *dir,
            bzl_error *err)
{
    int oom = 0;
    if (strcmp(opt, "--invalidation_mode") == 0) {
        a->mode = parse_mode(val);
        if (a->mode < 0) {
            bzl_fail(err,
                     "--invalidation_mode: unknown mode '%s' (checked_hash, "
                     "unchecked_hash or timestamp)",
                     val);
            return PCR_ENV;
        }
    } else if (strcmp(opt, "--optimize") == 0) {
        if (parse_level(val, &a->level) != 0) {
            bzl_fail(err, "--optimize takes -1, 0, 1 or 2, not '%s'", val);
            return PCR_ENV;
        }
    } else if (strcmp(opt, "--python_version") == 0) {
        free(a->pyver);
        a->pyver = strdup(val);
        oom = a->pyver == NULL;
    } else if (strcmp(opt, "--src") == 0) {
        oom = push_str(&a->src, &a->nsrc, below(dir, val)) != 0;
    } else if (strcmp(opt, "--src_name") == 0) {
        oom = push_str(&a->name, &a->nname, strdup(val)) != 0;
    } else if (strcmp(opt, "--pyc") == 0) {
        oom = push_str(&a->pyc, &a->npyc, below(dir, val)) != 0;
    }
    /* --log_level, --worker_impl: precompiler.py's own worker's knobs */
    if (oom) {
        bzl_fail(err, "out of memory");
        return PCR_ENV;
    }
    return PCR_OK;
}

static pcr_status
parse_flat(bzl_args *a, const vec *v, const char *dir, bzl_error *err)
{
    for (size_t i = 0; i < v->n; i++) {
        const char *arg = v->v[i], *val;
        const char *opt = option_name(arg, &val);
        if (opt == NULL) {
            if (strcmp(arg, "--persistent_worker") == 0) {
                a->persistent_worker = 1;
                continue;
            }
            bzl_fail(err, "unrecognized argument '%s'", arg);
            return PCR_ENV;
        }
        if (val == NULL) {
            if (i + 1 == v->n) {
                bzl_fail(err, "%s needs a value", opt);
                return PCR_ENV;
            }
            val = v->v[++i];
        }
        pcr_status rc = take_option(a, opt, val, dir, err);
        if (rc != PCR_OK) {
            return rc;
        }
    }
    if (a->nsrc != a->nname || a->nsrc != a->npyc) {
        bzl_fail(err,
                 "mismatched number of --src (%zu), --src_name (%zu) and "
                 "--pyc (%zu) arguments",
                 a->nsrc, a->nname, a->npyc);
        return PCR_ENV;
    }
    a->t = calloc(a->nsrc ? a->nsrc : 1, sizeof *a->t);
    if (a->t == NULL) {
        bzl_fail(err, "out of memory");
        return PCR_ENV;
    }
    for (size_t i = 0; i < a->nsrc; i++) {
        a->t[i] = (bzl_triple){a->src[i], a->name[i], a->pyc[i]};
        if (!a->src[i][0] || !a->name[i][0] || !a->pyc[i][0]) {
            bzl_fail(err, "an empty --src, --src_name or --pyc");
            return PCR_ENV;
        }
    }
    a->n = a->nsrc;
    return PCR_OK;
}

pcr_status
bzl_args_parse(bzl_args *a, char *const *argv, size_t argc, const char *dir,
               bzl_error *err)
{
    memset(a, 0, sizeof *a);
    a->mode = PCR_CHECKED_HASH;
    vec flat = {0};
    pcr_status rc = PCR_OK;
    for (size_t i = 0; i < argc && rc == PCR_OK; i++) {
        if (expand(&flat, argv[i], dir, 0, err) != 0) {
            rc = PCR_ENV;
        }
    }
    if (rc == PCR_OK) {
        rc = parse_flat(a, &flat, dir, err);
    }
    vec_free(&flat);
    return rc;
}

void
bzl_usage(FILE *out)
{
    fputs("usage: " BZL_PROG " [--invalidation_mode MODE] [--optimize N]\n"
          "       [--python_version X.Y] --src PATH --src_name NAME --pyc "
          "OUT...\n"
          "       " BZL_PROG " --persistent_worker\n"
          "\n"
          "rules_python's precompiler (tools/precompiler/precompiler.py), "
          "with\n"
          "pycompile-repro's bytes: each OUT is what pycompile-repro "
          "writes for\n"
          "PATH, recording NAME as its file name.\n"
          "\n"
          "  --invalidation_mode MODE  checked_hash (default), "
          "unchecked_hash or\n"
          "                            timestamp, in any case\n"
          "  --optimize N              -1 (default: 0), 0, 1 or 2\n"
          "  --python_version X.Y      compile for CPython X.Y (default: "
          "python3's)\n"
          "  --src PATH --src_name NAME --pyc OUT\n"
          "                            one compile; repeatable\n"
          "  @FILE                     more arguments, one a line\n"
          "  --persistent_worker       a Bazel persistent worker: JSON "
          "WorkRequests\n"
          "                            on stdin, WorkResponses on stdout "
          "(multiplex,\n"
          "                            cancellation, sandboxDir)\n"
          "  -h, --help                this text\n"
          "  -V, --version             the tool's and the servers' "
          "versions\n"
          "\n"
          "Exit status: 0 all compiled, 1 a file failed, 2 usage or "
          "environment\n"
          "trouble.\n",
          out);
}
