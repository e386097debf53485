/*
 * pyc_check.c - --check and --canonicalize: comparing .pyc files written
 * by anyone with the bytes we would write, and repairing their form.
 *
 * The class of a difference is decided from the cheapest evidence first:
 * missing file, magic, flags, the source hash or mtime/size, and only
 * then the code itself -- canonicalising the file's marshal data tells a
 * file that merely is not canonical (compileall, py_compile) from one
 * whose code differs, and the walker names the first differing object.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pcr_private.h"

static const char *const class_names[] = {
    "ok",         "missing",      "other-python",
    "other-mode", "stale",        "not-canonical",
    "different",  "source-error", "unreadable"};

const char *
pcr_check_class_name(pcr_check_class c)
{
    return (unsigned)c < sizeof class_names / sizeof class_names[0]
               ? class_names[c]
               : "?";
}

void
pcr_check_results_free(pcr_check_result *res, int n)
{
    for (int i = 0; i < n; i++) {
        free(res[i].pyc);
        res[i].pyc = NULL;
    }
}

static pcr_check_class set(pcr_check_result *r, pcr_check_class c,
                           const char *fmt, ...) PCR_PRINTF(3, 4);

static pcr_check_class
set(pcr_check_result *r, pcr_check_class c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
    r->cls = c;
    return c;
}

static const char *
mode_of_flags(uint32_t flags)
{
    return flags == 0   ? "timestamp"
           : flags == 3 ? "checked-hash"
           : flags == 1 ? "unchecked-hash"
                        : "invalid";
}

/* Everything the header can tell; 1 when it matches what we write. */
static int
header_matches(pcr_check_result *r, const pcr_buf *pyc,
               const unsigned char want[16])
{
    pcr_header got, exp;
    pcr_error e;
    if (pcr_header_unpack(pyc->data, pyc->len, &got, &e) != PCR_OK) {
        if (pyc->len >= 4 && pcr_le32(pyc->data) != pcr_le32(want) &&
            (pcr_le32(pyc->data) >> 16) == 0x0a0d) {
            set(r, PCR_CHECK_MAGIC, "written by another Python (magic %u)",
                (unsigned)(pcr_le32(pyc->data) & 0xffff));
        } else {
            set(r, PCR_CHECK_DIFFERENT, "corrupt: %s", e.msg);
        }
        return 0;
    }
    pcr_header_unpack(want, 16, &exp, NULL);
    if (got.magic != exp.magic) {
        set(r, PCR_CHECK_MAGIC,
            "written by another Python (magic %u, expected %u for CPython "
            "%s)",
            (unsigned)(got.magic & 0xffff), (unsigned)(exp.magic & 0xffff),
            pcr_python_version());
        return 0;
    }
    if (got.flags != exp.flags) {
        set(r, PCR_CHECK_MODE, "%s .pyc where %s is expected",
            mode_of_flags(got.flags), mode_of_flags(exp.flags));
        return 0;
    }
    if (memcmp(pyc->data + 8, want + 8, 8) != 0) {
        if (exp.flags & 1) {
            set(r, PCR_CHECK_STALE,
                "source hash in the .pyc does not match the source (edited "
                "since it was compiled)");
        } else {
            set(r, PCR_CHECK_STALE,
                "the .pyc records mtime %u and size %u, the source has "
                "mtime %u and size %u",
                (unsigned)got.mtime, (unsigned)got.size, (unsigned)exp.mtime,
                (unsigned)exp.size);
        }
        return 0;
    }
    return 1;
}

/* Compare the code: identical, not canonical, or different. */
static void
compare_code(pcr_check_result *r, const pcr_buf *pyc, const pcr_buf *want)
{
    const unsigned char *body = pyc->data + PCR_HEADER_SIZE;
    size_t blen = pyc->len - PCR_HEADER_SIZE;
    if (pyc->len == want->len &&
        memcmp(pyc->data, want->data, pyc->len) == 0) {
        set(r, PCR_CHECK_OK, "identical");
        return;
    }
    unsigned char *canon = malloc(blen ? blen : 1);
    if (canon == NULL) {
        set(r, PCR_CHECK_DIFFERENT, "out of memory");
        return;
    }
    memcpy(canon, body, blen);
    pcr_error e;
    uint32_t magic = pcr_magic_number();
    if (pcr_marshal_canonicalize(canon, blen, pcr_code_layout(magic), &e) !=
        PCR_OK) {
        set(r, PCR_CHECK_DIFFERENT, "corrupt: %s", e.msg);
    } else if (blen == want->len - PCR_HEADER_SIZE &&
               memcmp(canon, want->data + PCR_HEADER_SIZE, blen) == 0) {
        set(r, PCR_CHECK_NOT_CANONICAL,
            "same code, but not in canonical form (as compileall or "
            "py_compile write it); fix: rewrite it with pycompile-repro "
            "(--canonicalize, or compile with -f)");
    } else {
        char where[900];
        pcr_marshal_diff(canon, blen, want->data + PCR_HEADER_SIZE,
                         want->len - PCR_HEADER_SIZE, magic, where,
                         sizeof where);
        set(r, PCR_CHECK_DIFFERENT, "different code: %s (found vs expected)",
            where);
    }
    free(canon);
}

pcr_check_class
pcr_check_pyc(const pcr_buf *found, const pcr_buf *expected, char *detail,
              size_t size)
{
    pcr_check_result r;
    memset(&r, 0, sizeof r);
    if (found == NULL) {
        set(&r, PCR_CHECK_MISSING, "no .pyc");
    } else if (header_matches(&r, found, expected->data)) {
        compare_code(&r, found, expected);
    }
    snprintf(detail, size, "%s", r.detail);
    return r.cls;
}

static void
read_pyc(pcr_check_result *r, const char *cpath, pcr_buf *out)
{
    pcr_source s;
    pcr_error e;
    out->data = NULL;
    out->len = 0;
    struct stat st;
    if (lstat(cpath, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            set(r, PCR_CHECK_MISSING, "no .pyc");
        } else {
            set(r, PCR_CHECK_UNREADABLE, "cannot stat: %s", strerror(errno));
        }
        return;
    }
    if (pcr_source_read(cpath, &s, &e) != PCR_OK) {
        set(r, PCR_CHECK_UNREADABLE, "%s", e.msg);
        return;
    }
    *out = s.bytes;
}

pcr_status
pcr_check_file(const pcr_options *opt, const char *path, const char *relpath,
               pcr_check_result res[PCR_MAX_LEVELS], int *nres, pcr_error *err)
{
    static const int level0[1] = {0};
    const int *levels = opt->nlevels ? opt->levels : level0;
    int nlevels = opt->nlevels ? opt->nlevels : 1;
    memset(res, 0, sizeof *res * PCR_MAX_LEVELS);
    *nres = nlevels;
    for (int i = 0; i < nlevels; i++) {
        res[i].level = levels[i];
        res[i].pyc = pcr_output_path(opt, path, levels[i]);
        if (res[i].pyc == NULL) {
            pcr_check_results_free(res, i);
            return pcr_set_error(err, PCR_ENV, "out of memory");
        }
    }
    pcr_source src;
    pcr_error e;
    pcr_status rc = PCR_OK;
    if (pcr_source_read(path, &src, &e) != PCR_OK) {
        for (int i = 0; i < nlevels; i++) {
            set(&res[i], PCR_CHECK_SOURCE_ERROR, "source: %s", e.msg);
        }
        return PCR_FAIL;
    }
    char *record =
        pcr_record_name(path, relpath, opt->ddir, opt->strip, opt->prepend);
    if (record == NULL) {
        pcr_source_free(&src);
        pcr_check_results_free(res, nlevels);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    unsigned char header[PCR_HEADER_SIZE];
    pcr_status hrc = pcr_pyc_header(opt, &src, header, &e);
    for (int i = 0; i < nlevels; i++) {
        pcr_check_result *r = &res[i];
        pcr_buf pyc, want = {0};
        read_pyc(r, r->pyc, &pyc);
        if (pyc.data == NULL) {
            rc = PCR_FAIL;
            continue;
        }
        pcr_status brc = hrc == PCR_OK ? pcr_pyc_assemble(header, &src, record,
                                                          levels[i], &want, &e)
                                       : hrc;
        if (brc == PCR_ENV) {
            pcr_buf_free(&pyc);
            pcr_check_results_free(res, nlevels);
            free(record);
            pcr_source_free(&src);
            return pcr_set_error(err, PCR_ENV, "%s", e.msg);
        }
        if (brc != PCR_OK) {
            set(r, PCR_CHECK_SOURCE_ERROR, "the source does not compile: %s",
                e.msg);
        } else if (header_matches(r, &pyc, want.data)) {
            compare_code(r, &pyc, &want);
        }
        if (r->cls != PCR_CHECK_OK) {
            rc = PCR_FAIL;
        }
        pcr_buf_free(&pyc);
        pcr_buf_free(&want);
    }
    free(record);
    pcr_source_free(&src);
    return rc;
}

pcr_status
pcr_canonicalize_file(const char *path, int *changed, pcr_error *err)
{
    *changed = 0;
    pcr_source f;
    pcr_status rc = pcr_source_read(path, &f, err);
    if (rc != PCR_OK) {
        return rc;
    }
    pcr_header h;
    const char *layout = NULL;
    rc = pcr_header_unpack(f.bytes.data, f.bytes.len, &h, err);
    if (rc == PCR_OK && (layout = pcr_code_layout(h.magic)) == NULL) {
        rc = pcr_set_error(err, PCR_FAIL, "unknown Python version (magic %u)",
                           (unsigned)(h.magic & 0xffff));
    }
    unsigned char *copy = NULL;
    if (rc == PCR_OK) {
        copy = malloc(f.bytes.len);
        if (copy == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
        }
    }
    if (rc == PCR_OK) {
        memcpy(copy, f.bytes.data, f.bytes.len);
        rc = pcr_marshal_canonicalize(copy + PCR_HEADER_SIZE,
                                      f.bytes.len - PCR_HEADER_SIZE, layout,
                                      err);
    }
    if (rc == PCR_OK && memcmp(copy, f.bytes.data, f.bytes.len) != 0) {
        rc = pcr_replace_atomic(path, copy, f.bytes.len, f.mode, err);
        *changed = rc == PCR_OK;
    }
    free(copy);
    pcr_source_free(&f);
    return rc;
}
