/*
 * wheel.c - adding reproducible .pyc files to a wheel (PEP 427).
 *
 * The input is read with libarchive and trusted in nothing: entry names
 * must be relative and free of "..", each name appears once, only regular
 * files and directories are accepted, every entry and the whole are
 * bounded in uncompressed size (counted while reading, not taken from the
 * headers), and the RECORD must list every file with its SHA-256 and
 * size.  Python files of the importable tree (not .dist-info, and in
 * NAME.data/ only purelib and platlib) are compiled with their path inside
 * the wheel as the recorded name (after -p).  The output keeps every other
 * entry's bytes, adds the .pyc files (or puts NAME.pyc in place of
 * NAME.py with --sourceless), says cp311 in WHEEL's Tag lines, and gets a
 * new RECORD; entries are sorted bytewise with .dist-info last and RECORD
 * last.
 */
#define _GNU_SOURCE /* memmem */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcr_private.h"

#define MAX_ENTRY_SIZE ((uint64_t)256 << 20) /* uncompressed, per entry */
#define MAX_TOTAL_SIZE ((uint64_t)1 << 30)   /* uncompressed, in all */
#define MAX_ENTRIES 100000
#define ZIP_EPOCH 315532800 /* 1980-01-01: DOS times start there */

/* ------------------------------------------------------------ reading */

static pcr_status
check_name(const char *name, pcr_error *err)
{
    if (name[0] == '\0' || name[0] == '/' || strchr(name, '\\') != NULL) {
        return pcr_set_error(err, PCR_FAIL,
                             "refusing entry '%s': not a relative path", name);
    }
    const char *p = name;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if ((n == 2 && strncmp(p, "..", 2) == 0) || (n == 1 && p[0] == '.') ||
            (n == 0 && slash != NULL)) {
            return pcr_set_error(err, PCR_FAIL,
                                 "refusing entry '%s': '.', '..' or an "
                                 "empty part in its path",
                                 name);
        }
        p += n + (slash != NULL);
    }
    return PCR_OK;
}

pcr_status
pcr_archive_read(const char *path, pcr_alist *in, pcr_error *err)
{
    struct archive *a = archive_read_new();
    memset(in, 0, sizeof *in);
    if (a == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    archive_read_support_format_zip(a);
    archive_read_support_format_tar(a);
    archive_read_support_filter_all(a);
    pcr_status rc = PCR_OK;
    uint64_t total = 0;
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
        rc = pcr_set_error(err, PCR_FAIL, "cannot read the archive: %s",
                           archive_error_string(a));
        goto end;
    }
    struct archive_entry *e;
    int r;
    unsigned char *buf = NULL;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *raw = archive_entry_pathname(e);
        if (raw == NULL) {
            rc = pcr_set_error(err, PCR_FAIL, "an entry has no name");
            break;
        }
        while (strncmp(raw, "./", 2) == 0) {
            raw += 2; /* tar's "./pkg": the same name as "pkg" */
        }
        if (raw[0] == '\0') {
            continue; /* "./" itself */
        }
        char *name = strdup(raw);
        if (name == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
            break;
        }
        size_t n = strlen(name);
        int is_dir = archive_entry_filetype(e) == AE_IFDIR ||
                     (n > 0 && name[n - 1] == '/');
        while (n > 0 && name[n - 1] == '/') {
            name[--n] = '\0';
        }
        if ((rc = check_name(name, err)) != PCR_OK) {
            free(name);
            break;
        }
        mode_t type = archive_entry_filetype(e);
        if (!is_dir && type != AE_IFREG) {
            rc = pcr_set_error(
                err, PCR_FAIL,
                "refusing entry '%s': a %s, not a regular "
                "file",
                name, type == AE_IFLNK ? "symbolic link" : "special file");
            free(name);
            break;
        }
        if (in->n >= MAX_ENTRIES) {
            rc = pcr_set_error(err, PCR_FAIL, "more than %d entries",
                               MAX_ENTRIES);
            free(name);
            break;
        }
        /* Read, counting the bytes ourselves: sizes in headers lie. */
        size_t len = 0, cap = 0;
        la_ssize_t got;
        char chunk[65536];
        while (!is_dir &&
               (got = archive_read_data(a, chunk, sizeof chunk)) > 0) {
            if (len + (size_t)got > MAX_ENTRY_SIZE ||
                total + (uint64_t)got > MAX_TOTAL_SIZE) {
                rc = pcr_set_error(err, PCR_FAIL,
                                   "refusing entry '%s': larger than the "
                                   "limits (%llu MiB an entry, %llu MiB in "
                                   "all)",
                                   name,
                                   (unsigned long long)(MAX_ENTRY_SIZE >> 20),
                                   (unsigned long long)(MAX_TOTAL_SIZE >> 20));
                break;
            }
            if (len + (size_t)got > cap) {
                cap = (len + (size_t)got) * 2;
                unsigned char *nb = realloc(buf, cap);
                if (nb == NULL) {
                    rc = pcr_set_error(err, PCR_ENV, "out of memory");
                    break;
                }
                buf = nb;
            }
            memcpy(buf + len, chunk, (size_t)got);
            len += (size_t)got;
            total += (uint64_t)got;
        }
        if (rc == PCR_OK && !is_dir && got < 0) {
            rc = pcr_set_error(err, PCR_FAIL, "cannot read '%s': %s", name,
                               archive_error_string(a));
        }
        if (rc == PCR_OK) {
            rc = pcr_alist_add(in, name, is_dir,
                               (archive_entry_perm(e) & 0111) ? 0755 : 0644, 0,
                               buf, len, err);
        }
        free(name);
        if (rc != PCR_OK) {
            break;
        }
    }
    free(buf);
    if (rc == PCR_OK && r != ARCHIVE_EOF) {
        rc = pcr_set_error(err, PCR_FAIL, "cannot read the archive: %s",
                           archive_error_string(a));
    }
    if (rc != PCR_OK) {
        pcr_alist_free(in);
    }
end:
    archive_read_free(a);
    return rc;
}

/* ------------------------------------------------------------- RECORD */

typedef struct row {
    char *path, *hash, *size;
} row;

/* Python's csv module, default dialect: ',' separated, '"' quoted, ""
 * for a quote inside quotes.  Fields are returned malloc'd. */
static int
csv_field(const char **p, const char *end, char **out)
{
    size_t cap = 64, n = 0;
    char *f = malloc(cap);
    if (f == NULL) {
        return -1;
    }
    int quoted = *p < end && **p == '"';
    if (quoted) {
        (*p)++;
    }
    while (*p < end) {
        char c = **p;
        if (quoted && c == '"') {
            if (*p + 1 < end && (*p)[1] == '"') {
                (*p)++;
            } else {
                quoted = 0;
                (*p)++;
                continue;
            }
        } else if (!quoted && (c == ',' || c == '\n' || c == '\r')) {
            break;
        }
        if (n + 1 >= cap) {
            cap *= 2;
            char *nf = realloc(f, cap);
            if (nf == NULL) {
                free(f);
                return -1;
            }
            f = nf;
        }
        f[n++] = c;
        (*p)++;
    }
    f[n] = '\0';
    *out = f;
    return 0;
}

static void
free_rows(row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].path);
        free(rows[i].hash);
        free(rows[i].size);
    }
    free(rows);
}

static pcr_status
parse_record(const pcr_buf *b, row **out, size_t *nout, pcr_error *err)
{
    const char *p = (const char *)b->data, *end = p + b->len;
    row *rows = NULL;
    size_t n = 0, cap = 0;
    while (p < end) {
        if (*p == '\n' || *p == '\r') {
            p++;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            row *nr = realloc(rows, cap * sizeof *nr);
            if (nr == NULL) {
                free_rows(rows, n);
                return pcr_set_error(err, PCR_ENV, "out of memory");
            }
            rows = nr;
        }
        row *r = &rows[n];
        memset(r, 0, sizeof *r);
        char **fields[3] = {&r->path, &r->hash, &r->size};
        for (int k = 0; k < 3; k++) {
            if (k > 0) {
                if (p < end && *p == ',') {
                    p++;
                } else {
                    break;
                }
            }
            if (csv_field(&p, end, fields[k]) != 0) {
                free_rows(rows, n + 1);
                return pcr_set_error(err, PCR_ENV, "out of memory");
            }
        }
        n++;
        if (r->hash == NULL || r->size == NULL) {
            free_rows(rows, n);
            return pcr_set_error(err, PCR_FAIL,
                                 "RECORD: a row without three fields");
        }
        while (p < end && *p != '\n') {
            p++; /* ignore extra fields */
        }
    }
    *out = rows;
    *nout = n;
    return PCR_OK;
}

static int
is_signature(const char *name, const char *record)
{
    size_t n = strlen(record);
    return strncmp(name, record, n) == 0 &&
           (strcmp(name + n, ".jws") == 0 || strcmp(name + n, ".p7s") == 0);
}

static pcr_status
verify_record(const pcr_alist *in, const char *record_name,
              const pcr_buf *record, pcr_error *err)
{
    row *rows = NULL;
    size_t n = 0;
    pcr_status rc = parse_record(record, &rows, &n, err);
    if (rc != PCR_OK) {
        return rc;
    }
    for (size_t i = 0; i < in->n && rc == PCR_OK; i++) {
        const pcr_aentry *x = &in->v[i];
        if (x->is_dir || strcmp(x->name, record_name) == 0 ||
            is_signature(x->name, record_name)) {
            continue;
        }
        const row *r = NULL;
        for (size_t k = 0; k < n && r == NULL; k++) {
            if (strcmp(rows[k].path, x->name) == 0) {
                r = &rows[k];
            }
        }
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
                    (r->size[0] != '\0' &&
                     strtoull(r->size, NULL, 10) != x->data.len))) {
            rc = pcr_set_error(err, PCR_FAIL,
                               "RECORD does not match the contents of '%s' "
                               "(use --no-verify-record to accept it)",
                               x->name);
        }
    }
    for (size_t k = 0; k < n && rc == PCR_OK; k++) {
        int found = strcmp(rows[k].path, record_name) == 0;
        for (size_t i = 0; i < in->n && !found; i++) {
            found =
                !in->v[i].is_dir && strcmp(in->v[i].name, rows[k].path) == 0;
        }
        if (!found) {
            rc = pcr_set_error(err, PCR_FAIL,
                               "RECORD lists '%s', which is not in the "
                               "wheel",
                               rows[k].path);
        }
    }
    free_rows(rows, n);
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

static const char *
distinfo_of(const pcr_alist *in, pcr_error *err, pcr_status *rc)
{
    const char *found = NULL;
    for (size_t i = 0; i < in->n; i++) {
        const char *name = in->v[i].name;
        const char *slash = strchr(name, '/');
        size_t n = slash ? (size_t)(slash - name) : strlen(name);
        if (n > 10 && strncmp(name + n - 10, ".dist-info", 10) == 0) {
            if (found != NULL &&
                (strncmp(found, name, n) != 0 || found[n] != '\0')) {
                *rc = pcr_set_error(err, PCR_FAIL,
                                    "more than one .dist-info directory");
                return NULL;
            }
            if (found == NULL) {
                static char dir[4096];
                if (n >= sizeof dir) {
                    *rc = pcr_set_error(err, PCR_FAIL, "name too long");
                    return NULL;
                }
                memcpy(dir, name, n);
                dir[n] = '\0';
                found = dir;
            }
        }
    }
    if (found == NULL) {
        *rc = pcr_set_error(err, PCR_FAIL,
                            "no .dist-info directory: not a "
                            "wheel");
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

/* WHEEL with every Tag's python tag replaced by ours, duplicates
 * dropped. */
static pcr_status
rewrite_wheel_file(const pcr_buf *in, pcr_buf *out, pcr_error *err)
{
    char tag[32];
    const char *ct = pcr_cache_tag(); /* "cpython-311" */
    snprintf(tag, sizeof tag, "cp%s",
             strchr(ct, '-') ? strchr(ct, '-') + 1 : "3");
    out->data = malloc(in->len * 2 + 64);
    out->len = 0;
    if (out->data == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    const char *p = (const char *)in->data, *end = p + in->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[1024];
        if (n >= 5 && strncmp(p, "Tag: ", 5) == 0 && n < sizeof line) {
            const char *dash = memchr(p + 5, '-', n - 5);
            snprintf(line, sizeof line, "Tag: %s%.*s\n", tag,
                     dash ? (int)(p + n - dash) : 0, dash ? dash : "");
            if (!memmem(out->data, out->len, line, strlen(line))) {
                memcpy(out->data + out->len, line, strlen(line));
                out->len += strlen(line);
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
    return PCR_OK;
}

static const char *sort_distinfo;

static int
wheel_order(const void *a, const void *b)
{
    const char *x = ((const pcr_aentry *)a)->name;
    const char *y = ((const pcr_aentry *)b)->name;
    size_t d = strlen(sort_distinfo);
    int dx = strncmp(x, sort_distinfo, d) == 0 && x[d] == '/';
    int dy = strncmp(y, sort_distinfo, d) == 0 && y[d] == '/';
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

/* Is x a .pyc that compiling this wheel's sources produces again (so the
 * rebuilt one replaces it)?  a/__pycache__/b.TAG[.opt-N].pyc and a/b.pyc
 * both belong to a/b.py. */
static int
regenerated(const pcr_alist *in, const pcr_aentry *x)
{
    size_t n = strlen(x->name);
    if (n < 5 || strcmp(x->name + n - 4, ".pyc") != 0) {
        return 0;
    }
    char src[4200];
    const char *slash = strrchr(x->name, '/');
    const char *base = slash ? slash + 1 : x->name;
    size_t dirlen = (size_t)(base - x->name);
    if (dirlen >= 12 &&
        strncmp(x->name + dirlen - 12, "__pycache__/", 12) == 0) {
        size_t stem = strcspn(base, ".");
        snprintf(src, sizeof src, "%.*s%.*s.py", (int)(dirlen - 12), x->name,
                 (int)stem, base);
    } else {
        snprintf(src, sizeof src, "%.*s", (int)(n - 1), x->name);
    }
    for (size_t i = 0; i < in->n; i++) {
        if (strcmp(in->v[i].name, src) == 0) {
            return 1;
        }
    }
    return 0;
}

static pcr_status
add_pyc(const pcr_wheel_options *wo, const pcr_aentry *x, const char *ipath,
        int64_t t, pcr_alist *out, pcr_error *err)
{
    const pcr_options *opt = wo->opt;
    pcr_source src = {.bytes = x->data,
                      .mtime_sec = t,
                      .size = x->data.len,
                      .mode = x->mode};
    char *record = pcr_record_name(ipath, NULL, NULL, NULL, opt->prepend);
    if (record == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    int nlevels = opt->nlevels ? opt->nlevels : 1;
    unsigned char header[PCR_HEADER_SIZE];
    pcr_error e;
    pcr_status rc = pcr_pyc_header(opt, &src, header, &e); /* hash once */
    if (rc != PCR_OK) {
        pcr_set_error(err, rc, "%.1000s: %.3000s", x->name, e.msg);
    }
    for (int i = 0; i < nlevels && rc == PCR_OK; i++) {
        int level = opt->nlevels ? opt->levels[i] : 0;
        pcr_buf pyc;
        rc = pcr_pyc_assemble(header, &src, record, level, &pyc, &e);
        if (rc != PCR_OK) {
            pcr_set_error(err, rc, "%.1000s: %.3000s", x->name, e.msg);
            break;
        }
        char *name;
        if (wo->sourceless) { /* NAME.py -> NAME.pyc */
            size_t n = strlen(x->name);
            name = malloc(n + 2);
            if (name != NULL) {
                memcpy(name, x->name, n);
                memcpy(name + n, "c", 2);
            }
        } else {
            name = pcr_cache_path(x->name, level);
        }
        if (name == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
        } else {
            rc = pcr_alist_add(out, name, 0, 0644, t, pyc.data, pyc.len, err);
        }
        free(name);
        pcr_buf_free(&pyc);
    }
    free(record);
    return rc;
}

pcr_status
pcr_wheel_rebuild(const pcr_wheel_options *wo, const char *path,
                  pcr_alist *out, pcr_error *err)
{
    pcr_alist in = {0};
    memset(out, 0, sizeof *out);
    int64_t t = wo->epoch < ZIP_EPOCH ? ZIP_EPOCH : wo->epoch;
    if (wo->sourceless && wo->opt->nlevels > 1) {
        return pcr_set_error(err, PCR_ENV,
                             "--sourceless takes one optimisation level");
    }
    pcr_status rc = pcr_archive_read(path, &in, err);
    const char *distinfo = rc == PCR_OK ? distinfo_of(&in, err, &rc) : NULL;
    char record_name[4200], wheel_name[4200];
    if (rc == PCR_OK) {
        snprintf(record_name, sizeof record_name, "%s/RECORD", distinfo);
        snprintf(wheel_name, sizeof wheel_name, "%s/WHEEL", distinfo);
        /* duplicates: sort a copy of the names */
        sort_distinfo = distinfo;
        qsort(in.v, in.n, sizeof *in.v, wheel_order);
        for (size_t i = 1; i < in.n && rc == PCR_OK; i++) {
            if (strcmp(in.v[i].name, in.v[i - 1].name) == 0) {
                rc = pcr_set_error(err, PCR_FAIL,
                                   "refusing a wheel that has '%s' twice",
                                   in.v[i].name);
            }
        }
    }
    const pcr_aentry *record = NULL, *wheel = NULL;
    for (size_t i = 0; rc == PCR_OK && i < in.n; i++) {
        if (strcmp(in.v[i].name, record_name) == 0) {
            record = &in.v[i];
        } else if (strcmp(in.v[i].name, wheel_name) == 0) {
            wheel = &in.v[i];
        }
    }
    if (rc == PCR_OK && (record == NULL || wheel == NULL)) {
        rc = pcr_set_error(err, PCR_FAIL, "%s has no RECORD or no WHEEL",
                           distinfo);
    }
    if (rc == PCR_OK && wo->verify_record) {
        rc = verify_record(&in, record_name, &record->data, err);
    }
    for (size_t i = 0; rc == PCR_OK && i < in.n; i++) {
        const pcr_aentry *x = &in.v[i];
        const char *ipath = x->is_dir ? NULL : import_path(x->name, distinfo);
        if (x->is_dir || x == record || is_signature(x->name, record_name) ||
            regenerated(&in, x)) {
            continue; /* rebuilt below; signatures no longer hold */
        }
        if (x == wheel) {
            pcr_buf w;
            rc = rewrite_wheel_file(&x->data, &w, err);
            if (rc == PCR_OK) {
                rc = pcr_alist_add(out, x->name, 0, 0644, t, w.data, w.len,
                                   err);
                pcr_buf_free(&w);
            }
            continue;
        }
        if (ipath != NULL) {
            rc = add_pyc(wo, x, ipath, t, out, err);
            if (wo->sourceless) {
                continue;
            }
        }
        if (rc == PCR_OK) {
            rc = pcr_alist_add(out, x->name, 0, x->mode, t, x->data.data,
                               x->data.len, err);
        }
    }
    if (rc == PCR_OK) {
        qsort(out->v, out->n, sizeof *out->v, wheel_order);
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
        put(&rec, &cap, record_name, 1, &rc);
        put(&rec, &cap, ",,\n", 0, &rc);
    }
    if (rc == PCR_ENV) {
        pcr_set_error(err, PCR_ENV, "out of memory");
    } else if (rc == PCR_OK) {
        rc = pcr_alist_add(out, record_name, 0, 0644, t, rec.data, rec.len,
                           err);
    }
    pcr_buf_free(&rec);
    if (rc != PCR_OK) {
        pcr_alist_free(out);
    }
    pcr_alist_free(&in);
    return rc;
}

pcr_status
pcr_wheel_verify_record(const char *path, pcr_error *err)
{
    pcr_alist in;
    pcr_status rc = pcr_archive_read(path, &in, err);
    if (rc != PCR_OK) {
        return rc;
    }
    const char *distinfo = distinfo_of(&in, err, &rc);
    char record_name[4200];
    const pcr_aentry *record = NULL;
    if (rc == PCR_OK) {
        snprintf(record_name, sizeof record_name, "%s/RECORD", distinfo);
        for (size_t i = 0; i < in.n; i++) {
            if (strcmp(in.v[i].name, record_name) == 0) {
                record = &in.v[i];
            }
        }
        rc = record ? verify_record(&in, record_name, &record->data, err)
                    : pcr_set_error(err, PCR_FAIL, "no %s", record_name);
    }
    pcr_alist_free(&in);
    return rc;
}

char *
pcr_wheel_output_name(const char *in)
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
    const char *ct = pcr_cache_tag();
    const char *ver = strchr(ct, '-');
    size_t len = (size_t)(py - base) + 16 + strlen(abi) + 1;
    char *out = malloc(len);
    if (out != NULL) {
        snprintf(out, len, "%.*scp%s%s", (int)(py - base), base,
                 ver ? ver + 1 : "3", abi);
    }
    return out;
}
