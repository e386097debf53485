/* SPDX-License-Identifier: MIT */
/*
 * wheel.c - the wheel format (PEP 427): which entries of a wheel are
 * compiled, and the rebuilt wheel's entries.
 *
 * Python files of the importable tree (not .dist-info, and in NAME.data/
 * only purelib and platlib) are compiled, with their path below the
 * importable root as the recorded name (after -p).  The output keeps
 * every other entry's bytes, adds the .pyc files (or puts NAME.pyc in
 * place of NAME.py with --sourceless) and drops the .pyc files they
 * replace (any tag and level of the same source), says the python tag of
 * its interpreter (cp313) in WHEEL's Tag lines, and gets a new RECORD;
 * entries are sorted bytewise with .dist-info last and RECORD last.  The
 * input's RECORD must list every file with its SHA-256 and size.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "pcr_archive.h"

/* ------------------------------------------------------------- RECORD */

static int
is_signature(const char *name, const char *record)
{
    size_t n = strlen(record);
    return strncmp(name, record, n) == 0 &&
           (strcmp(name + n, ".jws") == 0 || strcmp(name + n, ".p7s") == 0);
}

/* RECORD's size field: empty, or the size in plain digits (" 12",
 * "+12" and "12abc" are not 12). */
static int
size_matches(const char *field, size_t len)
{
    size_t n = strlen(field);
    if (n == 0) {
        return 1;
    }
    if (n > 20 || strspn(field, "0123456789") != n) {
        return 0;
    }
    return strtoull(field, NULL, 10) == len;
}

static int
row_by_path(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return strcmp(((const pcr_record_row *)a)->path,
                  ((const pcr_record_row *)b)->path);
}

/* The first row (in RECORD's order) for path, in rows sorted stably by
 * path; NULL if none. */
static const pcr_record_row *
find_row(const pcr_record_row *rows, size_t n, const char *path)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* the lower bound: the first of equal paths */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(rows[mid].path, path) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n && strcmp(rows[lo].path, path) == 0 ? &rows[lo] : NULL;
}

static int
entry_by_name(const void *key, const void *e)
{
    return strcmp(key, ((const pcr_aentry *)e)->name);
}

/* RECORD against the entries (in->v sorted by name, unique): every file
 * listed with its hash and size, and every row a file of the wheel.
 * n log n: the rows are sorted, the entries already are. */
static pcr_status
verify_record(const pcr_alist *in, const char *record_name,
              const pcr_buf *record, pcr_error *err)
{
    pcr_record_row *rows = NULL;
    size_t n = 0;
    pcr_status rc =
        pcr_record_parse(record->data, record->len, &rows, &n, err);
    if (rc != PCR_OK) {
        return rc;
    }
    /* the rows as written first: their order is what the messages name */
    pcr_record_row *sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (sorted == NULL) {
        pcr_record_free(rows, n);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    if (n > 0) {
        memcpy(sorted, rows, n * sizeof *rows);
    }
    if (pcr_sort(sorted, n, sizeof *sorted, row_by_path, NULL) != 0) {
        rc = pcr_set_error(err, PCR_ENV, "out of memory");
    }
    for (size_t i = 0; i < in->n && rc == PCR_OK; i++) {
        const pcr_aentry *x = &in->v[i];
        if (x->is_dir || strcmp(x->name, record_name) == 0 ||
            is_signature(x->name, record_name)) {
            continue;
        }
        const pcr_record_row *r = find_row(sorted, n, x->name);
        char hash[64];
        if (r == NULL) {
            rc = pcr_set_error(err, PCR_FAIL,
                               "RECORD does not list '%s' (use "
                               "--no-verify-record to accept it)",
                               x->name);
        } else if (strncmp(r->hash, "sha256=", 7) != 0) {
            rc = pcr_set_error(err, PCR_FAIL,
                               "RECORD: '%s' has no sha256 hash", x->name);
        } else if ((rc = pcr_record_hash(x->data.data, x->data.len, hash,
                                         err)) == PCR_OK &&
                   (strcmp(hash, r->hash) != 0 ||
                    !size_matches(r->size, x->data.len))) {
            rc = pcr_set_error(err, PCR_FAIL,
                               "RECORD does not match the contents of '%s' "
                               "(use --no-verify-record to accept it)",
                               x->name);
        }
    }
    for (size_t k = 0; k < n && rc == PCR_OK; k++) {
        const pcr_aentry *e = strcmp(rows[k].path, record_name) == 0
                                  ? NULL
                                  : bsearch(rows[k].path, in->v, in->n,
                                            sizeof *in->v, entry_by_name);
        if (strcmp(rows[k].path, record_name) != 0 &&
            (e == NULL || e->is_dir)) {
            rc = pcr_set_error(err, PCR_FAIL,
                               "RECORD lists '%s', which is not in the "
                               "wheel",
                               rows[k].path);
        }
    }
    free(sorted); /* shares its strings with rows */
    pcr_record_free(rows, n);
    return rc;
}

/* Append to RECORD: a field quoted as Python's csv module would (quote),
 * or raw separators. */
static void
put(pcr_buf *b, size_t *cap, const char *s, int quote_if_needed,
    pcr_status *rc)
{
    int quote = quote_if_needed && strpbrk(s, ",\"\r\n") != NULL;
    size_t need = b->len + 2 * strlen(s) + 4;
    if (need > *cap) {
        *cap = need * 2;
        unsigned char *nd = realloc(b->data, *cap);
        if (nd == NULL) {
            *rc = PCR_ENV;
            return;
        }
        b->data = nd;
    }
    if (quote) {
        b->data[b->len++] = '"';
    }
    for (; *s; s++) {
        if (*s == '"' && quote) {
            b->data[b->len++] = '"';
        }
        b->data[b->len++] = (unsigned char)*s;
    }
    if (quote) {
        b->data[b->len++] = '"';
    }
}

/* ------------------------------------------------------------ building */

/* The one NAME.dist-info directory (malloc'd), or NULL with *rc set. */
static char *
distinfo_of(const pcr_alist *in, pcr_error *err, pcr_status *rc)
{
    char *found = NULL;
    for (size_t i = 0; i < in->n; i++) {
        const char *name = in->v[i].name;
        const char *slash = strchr(name, '/');
        size_t n = slash ? (size_t)(slash - name) : strlen(name);
        if (n > 10 && strncmp(name + n - 10, ".dist-info", 10) == 0) {
            if (found != NULL &&
                (strncmp(found, name, n) != 0 || found[n] != '\0')) {
                free(found);
                *rc = pcr_set_error(err, PCR_FAIL,
                                    "more than one .dist-info directory");
                return NULL;
            }
            if (found == NULL && (found = strndup(name, n)) == NULL) {
                *rc = pcr_set_error(err, PCR_ENV, "out of memory");
                return NULL;
            }
        }
    }
    if (found == NULL) {
        *rc = pcr_set_error(err, PCR_FAIL,
                            "no .dist-info directory: not a wheel");
    }
    return found;
}

/* The import path of a Python file, or NULL if it is not compiled: in
 * the root, or below NAME.data/purelib or NAME.data/platlib. */
static const char *
import_path(const char *name, const char *distinfo)
{
    size_t n = strlen(name);
    if (n < 3 || strcmp(name + n - 3, ".py") != 0) {
        return NULL;
    }
    size_t d = strlen(distinfo);
    if (strncmp(name, distinfo, d) == 0 && name[d] == '/') {
        return NULL;
    }
    const char *slash = strchr(name, '/');
    if (slash && slash - name > 5 && strncmp(slash - 5, ".data", 5) == 0) {
        if (strncmp(slash + 1, "purelib/", 8) == 0 ||
            strncmp(slash + 1, "platlib/", 8) == 0) {
            return slash + 9;
        }
        return NULL; /* scripts, headers, data: not importable */
    }
    return name;
}

/* The Tag lines already written, as offsets into the output: a set by
 * hash (a WHEEL file may hold many Tag lines; searching the output for
 * each was quadratic). */
struct tagset {
    size_t *off, *len; /* slot -> line in out; len 0 = empty */
    size_t cap, n;
};

static uint64_t
line_hash(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211u;
    }
    return h;
}

/* Is the line already in the set (lines live in out)?  If not, add it.
 * -1 when out of memory. */
static int
tagset_seen(struct tagset *t, const pcr_buf *out, size_t off, size_t len)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        size_t *no = calloc(cap, sizeof *no), *nl = calloc(cap, sizeof *nl);
        if (no == NULL || nl == NULL) {
            free(no);
            free(nl);
            return -1;
        }
        for (size_t i = 0; i < t->cap; i++) {
            if (t->len[i] == 0) {
                continue;
            }
            size_t s = line_hash(out->data + t->off[i], t->len[i]) & (cap - 1);
            while (nl[s] != 0) {
                s = (s + 1) & (cap - 1);
            }
            no[s] = t->off[i];
            nl[s] = t->len[i];
        }
        free(t->off);
        free(t->len);
        t->off = no;
        t->len = nl;
        t->cap = cap;
    }
    const unsigned char *line = out->data + off;
    size_t s = line_hash(line, len) & (t->cap - 1);
    while (t->len[s] != 0) {
        if (t->len[s] == len &&
            memcmp(out->data + t->off[s], line, len) == 0) {
            return 1;
        }
        s = (s + 1) & (t->cap - 1);
    }
    t->off[s] = off;
    t->len[s] = len;
    t->n++;
    return 0;
}

/* WHEEL with every Tag's python tag replaced by ours, duplicates
 * dropped. */
static pcr_status
rewrite_wheel_file(const pcr_buf *in, const char *tag, pcr_buf *out,
                   pcr_error *err)
{
    out->data = malloc(in->len * 2 + 64);
    out->len = 0;
    if (out->data == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    struct tagset seen = {0};
    pcr_status rc = PCR_OK;
    const char *p = (const char *)in->data, *end = p + in->len;
    while (p < end && rc == PCR_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[1024];
        if (n >= 5 && strncmp(p, "Tag: ", 5) == 0 && n < sizeof line) {
            const char *dash = memchr(p + 5, '-', n - 5);
            snprintf(line, sizeof line, "Tag: %s%.*s\n", tag,
                     dash ? (int)(p + n - dash) : 0, dash ? dash : "");
            size_t len = strlen(line);
            memcpy(out->data + out->len, line, len);
            int dup = tagset_seen(&seen, out, out->len, len);
            if (dup < 0) {
                rc = pcr_set_error(err, PCR_ENV, "out of memory");
            } else if (!dup) {
                out->len += len; /* else left there, overwritten */
            }
        } else {
            memcpy(out->data + out->len, p, n);
            out->len += n;
            if (nl) {
                out->data[out->len++] = '\n';
            }
        }
        p += n + (nl != NULL);
    }
    free(seen.off);
    free(seen.len);
    if (rc != PCR_OK) {
        pcr_buf_free(out);
    }
    return rc;
}

static int
wheel_order(const void *a, const void *b, void *ctx)
{
    const char *distinfo = ctx;
    const char *x = ((const pcr_aentry *)a)->name;
    const char *y = ((const pcr_aentry *)b)->name;
    size_t d = strlen(distinfo);
    int dx = strncmp(x, distinfo, d) == 0 && x[d] == '/';
    int dy = strncmp(y, distinfo, d) == 0 && y[d] == '/';
    if (dx != dy) {
        return dx - dy; /* .dist-info last */
    }
    int rx = dx && strcmp(x + d, "/RECORD") == 0;
    int ry = dy && strcmp(y + d, "/RECORD") == 0;
    if (rx != ry) {
        return rx - ry; /* RECORD last of all */
    }
    return strcmp(x, y);
}

/* The source a .pyc entry belongs to: DIR/__pycache__/BASE.TAG[.opt-N].pyc
 * and DIR/BASE.pyc both belong to DIR/BASE.py (malloc'd), else NULL. */
static char *
source_of_pyc(const char *name)
{
    size_t n = strlen(name);
    if (n < 5 || strcmp(name + n - 4, ".pyc") != 0) {
        return NULL;
    }
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    size_t dirlen = (size_t)(base - name);
    char *out = malloc(n + 4);
    if (out == NULL) {
        return NULL;
    }
    if (dirlen >= 12 && strncmp(name + dirlen - 12, "__pycache__/", 12) == 0) {
        /* strip .pyc, an .opt-N, then .TAG (which has no dots) */
        size_t k = n - 4;
        if (k >= 6 && strncmp(name + k - 6, ".opt-", 5) == 0) {
            k -= 6;
        }
        while (k > dirlen && name[k - 1] != '.') {
            k--;
        }
        if (k <= dirlen + 1) {
            free(out);
            return NULL;
        }
        snprintf(out, n + 4, "%.*s%.*s.py", (int)(dirlen - 12), name,
                 (int)(k - 1 - dirlen), base);
    } else {
        snprintf(out, n + 4, "%.*s", (int)(n - 1), name);
    }
    return out;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const pcr_aentry *)a)->name,
                  ((const pcr_aentry *)b)->name);
}

/* Is there a compiled source of this name in the wheel? */
static int
is_compiled_source(const pcr_wheel *w, const char *name)
{
    pcr_aentry key = {.name = (char *)name};
    const pcr_aentry *e =
        bsearch(&key, w->in.v, w->in.n, sizeof *w->in.v, by_name);
    return e != NULL && !e->is_dir &&
           import_path(e->name, w->distinfo) != NULL;
}

const char *
pcr_wheel_import_path(const pcr_wheel *w, const char *name)
{
    return import_path(name, w->distinfo);
}

pcr_status
pcr_wheel_open(const char *path, int must_match, pcr_wheel *w, pcr_error *err)
{
    memset(w, 0, sizeof *w);
    pcr_status rc = pcr_archive_read(path, 1, &w->in, err);
    if (rc != PCR_OK) {
        return rc;
    }
    w->distinfo = distinfo_of(&w->in, err, &rc);
    if (rc == PCR_OK) {
        rc = pcr_alist_sort_unique(&w->in, err);
        if (rc != PCR_OK) {
            char msg[PCR_ERROR_MAX];
            snprintf(msg, sizeof msg, "refusing a wheel where %.3000s",
                     err->msg);
            pcr_set_error(err, PCR_FAIL, "%s", msg);
        }
    }
    size_t n = rc == PCR_OK ? strlen(w->distinfo) + 8 : 0;
    if (rc == PCR_OK && (w->record_name = malloc(n)) == NULL) {
        rc = pcr_set_error(err, PCR_ENV, "out of memory");
    }
    const pcr_aentry *record = NULL, *wheel = NULL;
    if (rc == PCR_OK) {
        snprintf(w->record_name, n, "%s/RECORD", w->distinfo);
    }
    char *wheel_name =
        rc == PCR_OK ? pcr_path_join(w->distinfo, "WHEEL") : NULL;
    if (rc == PCR_OK && wheel_name == NULL) {
        rc = pcr_set_error(err, PCR_ENV, "out of memory");
    }
    if (rc == PCR_OK) {
        for (size_t i = 0; i < w->in.n; i++) {
            if (strcmp(w->in.v[i].name, w->record_name) == 0) {
                record = &w->in.v[i];
            } else if (strcmp(w->in.v[i].name, wheel_name) == 0) {
                wheel = &w->in.v[i];
            }
        }
        if (record == NULL || wheel == NULL) {
            rc = pcr_set_error(err, PCR_FAIL, "%s has no RECORD or no WHEEL",
                               w->distinfo);
        }
    }
    if (rc == PCR_OK) {
        pcr_error rerr;
        pcr_status vr =
            verify_record(&w->in, w->record_name, &record->data, &rerr);
        if (vr == PCR_ENV) {
            rc = pcr_set_error(err, PCR_ENV, "%s", rerr.msg);
        } else if (vr != PCR_OK && must_match) {
            rc = pcr_set_error(err, PCR_FAIL, "%s", rerr.msg);
        } else if (vr != PCR_OK) {
            w->record_problem = strdup(rerr.msg);
        }
    }
    if (rc == PCR_OK) {
        w->sources = malloc((w->in.n ? w->in.n : 1) * sizeof *w->sources);
        if (w->sources == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
        }
    }
    for (size_t i = 0; rc == PCR_OK && i < w->in.n; i++) {
        if (!w->in.v[i].is_dir &&
            import_path(w->in.v[i].name, w->distinfo) != NULL) {
            w->sources[w->nsources++] = i;
        }
    }
    free(wheel_name);
    if (rc != PCR_OK) {
        pcr_wheel_close(w);
    }
    return rc;
}

void
pcr_wheel_close(pcr_wheel *w)
{
    pcr_alist_free(&w->in);
    free(w->distinfo);
    free(w->record_name);
    free(w->record_problem);
    free(w->sources);
    memset(w, 0, sizeof *w);
}

pcr_status
pcr_wheel_assemble(const pcr_wheel *w, const pcr_alist *pycs, int sourceless,
                   const char *pytag, int64_t t, pcr_alist *out,
                   pcr_error *err)
{
    memset(out, 0, sizeof *out);
    char *wheel_name = pcr_path_join(w->distinfo, "WHEEL");
    pcr_status rc =
        wheel_name ? PCR_OK : pcr_set_error(err, PCR_ENV, "out of memory");
    for (size_t i = 0; rc == PCR_OK && i < w->in.n; i++) {
        const pcr_aentry *x = &w->in.v[i];
        char *src = x->is_dir ? NULL : source_of_pyc(x->name);
        int replaced = src != NULL && is_compiled_source(w, src);
        free(src);
        if (x->is_dir || strcmp(x->name, w->record_name) == 0 ||
            is_signature(x->name, w->record_name) || replaced ||
            (sourceless && import_path(x->name, w->distinfo) != NULL)) {
            continue; /* rebuilt or dropped; signatures no longer hold */
        }
        if (strcmp(x->name, wheel_name) == 0) {
            pcr_buf nw;
            rc = rewrite_wheel_file(&x->data, pytag, &nw, err);
            if (rc == PCR_OK) {
                rc = pcr_alist_add(out, x->name, 0, 0644, t, nw.data, nw.len,
                                   err);
                pcr_buf_free(&nw);
            }
            continue;
        }
        rc = pcr_alist_add(out, x->name, 0, x->mode, t, x->data.data,
                           x->data.len, err);
    }
    for (size_t i = 0; rc == PCR_OK && i < pycs->n; i++) {
        const pcr_aentry *x = &pycs->v[i];
        rc = pcr_alist_add(out, x->name, 0, 0644, t, x->data.data, x->data.len,
                           err);
    }
    if (rc == PCR_OK) {
        if (pcr_sort(out->v, out->n, sizeof *out->v, wheel_order,
                     w->distinfo) != 0) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
        }
        for (size_t i = 1; i < out->n && rc == PCR_OK; i++) {
            if (strcmp(out->v[i].name, out->v[i - 1].name) == 0) {
                rc =
                    pcr_set_error(err, PCR_FAIL, "'%s' would be written twice",
                                  out->v[i].name);
            }
        }
    }
    /* The new RECORD: every entry hashed, then its own row. */
    pcr_buf rec = {0};
    size_t cap = 0;
    for (size_t i = 0; rc == PCR_OK && i < out->n; i++) {
        char hash[64], size[32];
        rc = pcr_record_hash(out->v[i].data.data, out->v[i].data.len, hash,
                             err);
        snprintf(size, sizeof size, "%zu", out->v[i].data.len);
        put(&rec, &cap, out->v[i].name, 1, &rc);
        put(&rec, &cap, ",", 0, &rc);
        put(&rec, &cap, hash, 1, &rc);
        put(&rec, &cap, ",", 0, &rc);
        put(&rec, &cap, size, 1, &rc);
        put(&rec, &cap, "\n", 0, &rc);
    }
    if (rc == PCR_OK) {
        put(&rec, &cap, w->record_name, 1, &rc);
        put(&rec, &cap, ",,\n", 0, &rc);
    }
    if (rc == PCR_ENV) {
        pcr_set_error(err, PCR_ENV, "out of memory");
    } else if (rc == PCR_OK) {
        rc = pcr_alist_add(out, w->record_name, 0, 0644, t, rec.data, rec.len,
                           err);
    }
    pcr_buf_free(&rec);
    free(wheel_name);
    if (rc != PCR_OK) {
        pcr_alist_free(out);
    }
    return rc;
}

char *
pcr_wheel_output_name(const char *in, const char *pytag)
{
    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    size_t n = strlen(base);
    if (n < 5 || strcmp(base + n - 4, ".whl") != 0) {
        return NULL;
    }
    /* NAME-VER[-BUILD]-PY-ABI-PLAT.whl: replace PY */
    const char *dashes[3] = {NULL, NULL, NULL};
    int found = 0;
    for (const char *p = base + n - 4; p > base && found < 3; p--) {
        if (p[-1] == '-') {
            dashes[found++] = p - 1;
        }
    }
    if (found < 3) {
        return NULL;
    }
    const char *py = dashes[2] + 1, *abi = dashes[1];
    size_t len = (size_t)(py - base) + strlen(pytag) + strlen(abi) + 1;
    char *out = malloc(len);
    if (out != NULL) {
        snprintf(out, len, "%.*s%s%s", (int)(py - base), base, pytag, abi);
    }
    return out;
}
