/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pyc.c - libFuzzer target for everything that reads .pyc files
 * written by others: the header, the marshal walker, the canonicaliser,
 * the structural diff and --dump.  None of them may crash, hang, leak or
 * read out of bounds on any input.  And two properties of canonical form
 * 2 on whatever input it accepts:
 *   - it is a fixed point: canonicalising the output again changes
 *     nothing;
 *   - it keeps the value: the output, read back, is the same value as the
 *     input (checked here with a comparison of our own that resolves
 *     references, compares sets as sets and strings by their code points,
 *     each type decoded as CPython's reader does: latin-1 for a A z Z,
 *     UTF-8 for t u), so marshal.loads() of both gives equal objects;
 *   - it stays loadable: the output is read back by the walker, which
 *     refuses what CPython's reader refuses (a 'u' string that is not
 *     UTF-8, for one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "dump.h"
#include "header.h"
#include "marshal_diff.h"
#include "marshal_tree.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

struct side {
    const pcr_mtree *t;
    const unsigned char *d;
};

static long budget; /* comparisons left; a DAG can expand a lot */

static uint32_t
kid(const struct side *s, uint32_t node, uint32_t k)
{
    /* the k-th direct child of node (node resolved) */
    uint32_t i = node + 1, seen = 0;
    while (i < s->t->nnodes && s->t->nodes[i].parent == node) {
        if (seen++ == k) {
            return i;
        }
        uint32_t end = s->t->nodes[i].end;
        i++;
        while (i < s->t->nnodes && s->t->nodes[i].offset < end) {
            i++;
        }
    }
    return PCR_NONE;
}

static int
kind_of(unsigned t)
{
    switch (t) {
    case 'a':
    case 'A':
    case 'z':
    case 'Z':
    case 'u':
    case 't':
        return 'u'; /* str, compared by code points */
    case 'i':
    case 'I':
    case 'l':
        return 'i';
    case '(':
    case ')':
        return '(';
    default:
        return (int)t;
    }
}

/* An int's value when it fits in 120 bits (8 digits of 15, enough for any
 * 'I'); *ok = 0 for longer ones (compared as bytes then, after the same
 * normalisation on both sides). */
static __int128
int_of(const struct side *s, uint32_t i, int *ok)
{
    const pcr_mnode *n = &s->t->nodes[i];
    const unsigned char *p = s->d + n->offset + 1;
    *ok = 1;
    if (n->type == 'i') {
        return (int32_t)pcr_le32(p);
    }
    if (n->type == 'I') {
        return (int64_t)((uint64_t)pcr_le32(p) | (uint64_t)pcr_le32(p + 4)
                                                     << 32);
    }
    int32_t cnt = (int32_t)pcr_le32(p);
    int64_t nd = cnt < 0 ? -(int64_t)cnt : cnt;
    __int128 v = 0;
    if (nd > 8) {
        *ok = 0;
        return 0;
    }
    for (int64_t k = nd - 1; k >= 0; k--) {
        v = v << 15 | (p[4 + 2 * k] | (int64_t)p[5 + 2 * k] << 8);
    }
    return cnt < 0 ? -v : v;
}

/* The code point at s[*k] of a string of this type, *k moved past it:
 * latin-1 for the ASCII types (any byte), UTF-8 for t and u (which the
 * walker has checked). */
static uint32_t
code_point(unsigned type, const unsigned char *s, size_t n, size_t *k)
{
    unsigned char b = s[(*k)++];
    if ((type != 'u' && type != 't') || b < 0x80) {
        return b;
    }
    int more = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : 1;
    uint32_t cp = b & (0x3f >> more);
    for (int m = 0; m < more && *k < n; m++) {
        cp = cp << 6 | (s[(*k)++] & 0x3f);
    }
    return cp;
}

/* Two strings of any types: the same code points? */
static int
equal_text(const struct side *a, uint32_t i, const struct side *b, uint32_t j)
{
    const unsigned char *sa, *sb;
    size_t la, lb, ka = 0, kb = 0;
    unsigned ta = a->t->nodes[i].type, tb = b->t->nodes[j].type;
    pcr_mtree_string(a->t, a->d, i, &sa, &la);
    pcr_mtree_string(b->t, b->d, j, &sb, &lb);
    while (ka < la && kb < lb) {
        if (code_point(ta, sa, la, &ka) != code_point(tb, sb, lb, &kb)) {
            return 0;
        }
    }
    return ka == la && kb == lb;
}

static int equal(const struct side *a, uint32_t i, const struct side *b,
                 uint32_t j, int depth);

/* Every element of one set equal to its own element of the other: 1;
 * -1 when an element found no match but some comparison was undecided (a
 * set that contains itself recurses until the depth limit). */
static int
equal_sets(const struct side *a, uint32_t i, const struct side *b, uint32_t j,
           uint32_t n, int depth)
{
    char *used = calloc(n ? n : 1, 1);
    int ok = used != NULL ? 1 : -1;
    for (uint32_t x = 0; x < n && ok == 1; x++) {
        int found = 0, undecided = 0;
        for (uint32_t y = 0; y < n && !found; y++) {
            if (used[y]) {
                continue;
            }
            int r = equal(a, kid(a, i, x), b, kid(b, j, y), depth + 1);
            if (r > 0) {
                used[y] = found = 1;
            }
            undecided |= r < 0;
        }
        ok = found ? 1 : undecided ? -1 : 0;
    }
    free(used);
    return ok;
}

/* 1 equal, 0 different, -1 undecided (budget spent). */
static int
equal(const struct side *a, uint32_t i, const struct side *b, uint32_t j,
      int depth)
{
    if (--budget < 0 || depth > 2100) {
        return -1;
    }
    i = pcr_mtree_resolve(a->t, i);
    j = pcr_mtree_resolve(b->t, j);
    const pcr_mnode *x = &a->t->nodes[i], *y = &b->t->nodes[j];
    if (kind_of(x->type) != kind_of(y->type)) {
        return 0;
    }
    const unsigned char *sa, *sb;
    size_t la, lb;
    switch (kind_of(x->type)) {
    case 'u':
        return equal_text(a, i, b, j);
    case 's':
        pcr_mtree_string(a->t, a->d, i, &sa, &la);
        pcr_mtree_string(b->t, b->d, j, &sb, &lb);
        return la == lb && memcmp(sa, sb, la) == 0;
    case 'i': {
        int oka, okb;
        __int128 va = int_of(a, i, &oka), vb = int_of(b, j, &okb);
        if (oka && okb) {
            return va == vb;
        }
        return x->end - x->offset == y->end - y->offset &&
               memcmp(a->d + x->offset + 1, b->d + y->offset + 1,
                      x->end - x->offset - 1) == 0;
    }
    default:
        break;
    }
    if (x->nkids != y->nkids) {
        return 0;
    }
    int container = strchr("([<>{:c", kind_of(x->type)) != NULL;
    if (!container) {
        /* floats, complex, singletons: the same bytes */
        return x->end - x->offset == y->end - y->offset &&
               memcmp(a->d + x->offset + 1, b->d + y->offset + 1,
                      x->end - x->offset - 1) == 0;
    }
    if (x->type == '<' || x->type == '>') {
        return budget < 0 ? -1 : equal_sets(a, i, b, j, x->nkids, depth);
    }
    for (uint32_t k = 0; k < x->nkids; k++) {
        int r = equal(a, kid(a, i, k), b, kid(b, j, k), depth + 1);
        if (r != 1) {
            return r;
        }
    }
    if (x->type == 'c') {
        /* the int fields: in the input between the children; compare the
         * bytes before the first child and at each layout 'i' */
        const char *f = a->t->layout->fields;
        size_t pa = x->offset + 1, pb = y->offset + 1;
        uint32_t k = 0;
        for (; *f; f++) {
            if (*f == 'i') {
                if (memcmp(a->d + pa, b->d + pb, 4) != 0) {
                    return 0;
                }
                pa += 4;
                pb += 4;
            } else {
                pa = a->t->nodes[kid(a, i, k)].end;
                pb = b->t->nodes[kid(b, j, k)].end;
                k++;
            }
        }
    }
    return 1;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static FILE *devnull;
    if (devnull == NULL) {
        devnull = fopen("/dev/null", "w");
    }
    pcr_error err;
    pcr_header h;
    pcr_dump_pyc(devnull, data, size, &err);
    if (pcr_header_unpack(data, size, &h, &err) != PCR_OK) {
        return 0;
    }
    const pcr_layout *layout = pcr_layout_for_magic(h.magic);
    const unsigned char *body = data + PCR_HEADER_SIZE;
    size_t len = size - PCR_HEADER_SIZE;
    pcr_buf a, b;
    if (pcr_canonicalize(body, len, layout, &a, &err) != PCR_OK) {
        return 0;
    }
    if (pcr_canonicalize(a.data, a.len, layout, &b, &err) != PCR_OK ||
        b.len != a.len || memcmp(a.data, b.data, a.len) != 0) {
        abort(); /* canonical form must be a fixed point */
    }
    pcr_buf_free(&b);
    char msg[512];
    pcr_marshal_diff(body, len, a.data, a.len, h.magic, msg, sizeof msg);
    pcr_mtree ti, to;
    if (pcr_mtree_parse(body, len, layout, &ti, &err) != PCR_OK ||
        pcr_mtree_parse(a.data, a.len, layout, &to, &err) != PCR_OK) {
        abort(); /* both were accepted once */
    }
    struct side si = {&ti, body}, so = {&to, a.data};
    budget = 200000;
    if (equal(&si, 0, &so, 0, 0) == 0) {
        abort(); /* the canonical form changed the value */
    }
    pcr_mtree_free(&ti);
    pcr_mtree_free(&to);
    pcr_buf_free(&a);
    return 0;
}
