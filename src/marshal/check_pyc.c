/* SPDX-License-Identifier: MIT */
/*
 * check_pyc.c - comparing a .pyc written by anyone with the bytes we
 * would write.
 *
 * The class of a difference is decided from the cheapest evidence first:
 * missing file, magic, flags, the source hash or mtime/size, and only
 * then the code itself -- canonicalising the file's marshal data tells a
 * file that merely is not canonical (compileall, py_compile, pip) from
 * one whose code differs, and the diff names the first differing object.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "check_pyc.h"
#include "header.h"
#include "marshal_diff.h"

struct verdict {
    pcr_check_class cls;
    char *detail;
    size_t size;
};

static void set(struct verdict *v, pcr_check_class c, const char *fmt, ...)
    PCR_PRINTF(3, 4);

static void
set(struct verdict *v, pcr_check_class c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, v->size, fmt, ap);
    va_end(ap);
    v->cls = c;
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
header_matches(struct verdict *v, const pcr_buf *pyc,
               const unsigned char want[PCR_HEADER_SIZE], const char *version)
{
    pcr_header got, exp;
    pcr_error e;
    if (pcr_header_unpack(pyc->data, pyc->len, &got, &e) != PCR_OK) {
        if (pyc->len >= 4 && pcr_le32(pyc->data) != pcr_le32(want) &&
            (pcr_le32(pyc->data) >> 16) == 0x0a0d) {
            set(v, PCR_CHECK_MAGIC, "written by another Python (magic %u)",
                (unsigned)(pcr_le32(pyc->data) & 0xffff));
        } else {
            set(v, PCR_CHECK_DIFFERENT, "corrupt: %s", e.msg);
        }
        return 0;
    }
    pcr_header_unpack(want, 16, &exp, NULL);
    if (got.magic != exp.magic) {
        set(v, PCR_CHECK_MAGIC,
            "written by another Python (magic %u, expected %u for CPython "
            "%s)",
            (unsigned)(got.magic & 0xffff), (unsigned)(exp.magic & 0xffff),
            version);
        return 0;
    }
    if (got.flags != exp.flags) {
        set(v, PCR_CHECK_MODE, "%s .pyc where %s is expected",
            mode_of_flags(got.flags), mode_of_flags(exp.flags));
        return 0;
    }
    if (memcmp(pyc->data + 8, want + 8, 8) != 0) {
        if (exp.flags & 1) {
            set(v, PCR_CHECK_STALE,
                "source hash in the .pyc does not match the source (edited "
                "since it was compiled)");
        } else {
            set(v, PCR_CHECK_STALE,
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
compare_code(struct verdict *v, const pcr_buf *pyc, const pcr_buf *want)
{
    if (pyc->len == want->len &&
        memcmp(pyc->data, want->data, pyc->len) == 0) {
        set(v, PCR_CHECK_OK, "identical");
        return;
    }
    uint32_t magic = pcr_le32(pyc->data);
    const unsigned char *body = pyc->data + PCR_HEADER_SIZE;
    size_t blen = pyc->len - PCR_HEADER_SIZE;
    const unsigned char *wbody = want->data + PCR_HEADER_SIZE;
    size_t wlen = want->len - PCR_HEADER_SIZE;
    pcr_buf canon;
    pcr_error e;
    if (pcr_canonicalize(body, blen, pcr_layout_for_magic(magic), &canon,
                         &e) != PCR_OK) {
        set(v, PCR_CHECK_DIFFERENT, "corrupt: %s", e.msg);
        return;
    }
    if (canon.len == wlen && memcmp(canon.data, wbody, wlen) == 0) {
        set(v, PCR_CHECK_NOT_CANONICAL,
            "same code, but not in canonical form %d (as compileall, "
            "py_compile or pip write it); fix: rewrite it with "
            "pycompile-repro (--canonicalize, or compile with -f)",
            PCR_CANONICAL_FORM);
    } else {
        char where[900];
        pcr_marshal_diff(canon.data, canon.len, wbody, wlen, magic, where,
                         sizeof where);
        set(v, PCR_CHECK_DIFFERENT, "different code: %s (found vs expected)",
            where);
    }
    pcr_buf_free(&canon);
}

pcr_check_class
pcr_classify(const pcr_buf *found, const pcr_buf *expected,
             const char *version, char *detail, size_t size)
{
    struct verdict v = {PCR_CHECK_OK, detail, size};
    detail[0] = '\0';
    if (found == NULL) {
        set(&v, PCR_CHECK_MISSING, "no .pyc");
    } else if (header_matches(&v, found, expected->data, version)) {
        compare_code(&v, found, expected);
    }
    return v.cls;
}
