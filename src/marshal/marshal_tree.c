/* SPDX-License-Identifier: MIT */
/*
 * marshal_tree.c - the marshal stream walker.
 *
 * Reads one marshal object into a flat array of nodes in stream order,
 * recording for each object where it starts and ends, its type, whether
 * FLAG_REF was set, and the reference index CPython's reader would give
 * it.  Used to canonicalise our own output, and by --check and --dump on
 * files anyone may have written, so nothing in the input is trusted:
 * every length is checked against the bytes left, nesting stops at
 * CPython's own limit, references must name an object already
 * registered (and, for code objects and frozensets, completed, as
 * CPython's reader demands), and unknown type codes are errors.
 *
 * Reference numbering follows Python/marshal.c r_object: an object is
 * registered when its type byte carries FLAG_REF, in pre-order
 * (containers before their contents); the singletons (None, True, ...)
 * and TYPE_REF itself are never registered even if flagged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marshal_tree.h"

struct reader {
    const unsigned char *data;
    size_t len;
    size_t pos;
    unsigned depth;
    const pcr_layout *layout;
    pcr_mtree *tree;
    uint32_t cap_nodes, cap_refs;
    uint8_t *ref_open; /* reserved, not yet complete (code, frozenset) */
    pcr_error *err;
};

static pcr_status
bad(struct reader *r, size_t at, const char *what)
{
    return pcr_set_error(r->err, PCR_FAIL,
                         "bad marshal data at offset %zu: %s", at, what);
}

static pcr_status
need(struct reader *r, size_t n)
{
    if (r->len - r->pos < n) {
        return bad(r, r->pos, "truncated");
    }
    return PCR_OK;
}

static pcr_status
read_u8(struct reader *r, uint32_t *v)
{
    if (need(r, 1) != PCR_OK) {
        return PCR_FAIL;
    }
    *v = r->data[r->pos++];
    return PCR_OK;
}

static pcr_status
read_i32(struct reader *r, int32_t *v)
{
    if (need(r, 4) != PCR_OK) {
        return PCR_FAIL;
    }
    *v = (int32_t)pcr_le32(r->data + r->pos);
    r->pos += 4;
    return PCR_OK;
}

static pcr_status
skip(struct reader *r, size_t n)
{
    if (need(r, n) != PCR_OK) {
        return PCR_FAIL;
    }
    r->pos += n;
    return PCR_OK;
}

static pcr_status
new_node(struct reader *r, uint32_t parent, unsigned slot, uint32_t *out)
{
    pcr_mtree *t = r->tree;
    if (t->nnodes == r->cap_nodes) {
        uint32_t cap = r->cap_nodes ? r->cap_nodes * 2 : 256;
        pcr_mnode *nodes = realloc(t->nodes, (size_t)cap * sizeof *nodes);
        if (nodes == NULL) {
            return pcr_set_error(r->err, PCR_ENV, "out of memory");
        }
        t->nodes = nodes;
        r->cap_nodes = cap;
    }
    pcr_mnode *n = &t->nodes[t->nnodes];
    memset(n, 0, sizeof *n);
    n->offset = (uint32_t)r->pos;
    n->parent = parent;
    n->ref = PCR_NONE;
    n->slot = slot > 0xffff ? 0xffff : (uint16_t)slot;
    if (parent != PCR_NONE) {
        t->nodes[parent].nkids++;
    }
    *out = t->nnodes++;
    return PCR_OK;
}

/* Give node its reference index (CPython: r_ref / r_ref_reserve). */
static pcr_status
register_ref(struct reader *r, uint32_t node, int open)
{
    pcr_mtree *t = r->tree;
    if (t->nrefs == r->cap_refs) {
        uint32_t cap = r->cap_refs ? r->cap_refs * 2 : 256;
        uint32_t *refs = realloc(t->refs, (size_t)cap * sizeof *refs);
        if (refs != NULL) {
            t->refs = refs;
        }
        uint32_t *uses = realloc(t->ref_uses, (size_t)cap * sizeof *uses);
        if (uses != NULL) {
            t->ref_uses = uses;
        }
        uint8_t *op = realloc(r->ref_open, cap);
        if (op != NULL) {
            r->ref_open = op;
        }
        if (refs == NULL || uses == NULL || op == NULL) {
            return pcr_set_error(r->err, PCR_ENV, "out of memory");
        }
        r->cap_refs = cap;
    }
    t->refs[t->nrefs] = node;
    t->ref_uses[t->nrefs] = 0;
    r->ref_open[t->nrefs] = (uint8_t)open;
    t->nodes[node].ref = t->nrefs++;
    return PCR_OK;
}

static pcr_status read_object(struct reader *r, uint32_t parent, unsigned slot,
                              int allow_null);

static pcr_status
read_children(struct reader *r, uint32_t node, int64_t n)
{
    /* Every object takes at least one byte: a count larger than what is
     * left is a lie, whatever it claims. */
    if (n < 0 || (uint64_t)n > r->len - r->pos) {
        return bad(r, r->tree->nodes[node].offset, "size out of range");
    }
    for (int64_t i = 0; i < n; i++) {
        if (read_object(r, node, (unsigned)(i > 0xffff ? 0xffff : i), 0) !=
            PCR_OK) {
            return PCR_FAIL;
        }
    }
    return PCR_OK;
}

static pcr_status
read_long(struct reader *r, size_t at)
{
    int32_t n;
    if (read_i32(r, &n) != PCR_OK) {
        return PCR_FAIL;
    }
    if (n == 0) {
        return PCR_OK;
    }
    int64_t digits = n < 0 ? -(int64_t)n : n;
    if (digits > 0x7fffffff || (uint64_t)digits * 2 > r->len - r->pos) {
        return bad(r, at, "long size out of range");
    }
    for (int64_t i = 0; i < digits; i++) {
        unsigned d = r->data[r->pos] | (unsigned)r->data[r->pos + 1] << 8;
        r->pos += 2;
        /* CPython's own bound (marshal.c r_PyLong). */
        if (d > 0x8000) {
            return bad(r, at, "digit out of range in long");
        }
        if (i == digits - 1 && d == 0) {
            return bad(r, at, "unnormalized long data");
        }
    }
    return PCR_OK;
}

/* Valid UTF-8 as CPython's reader decodes TYPE_UNICODE and
 * TYPE_INTERNED ("surrogatepass"): shortest forms up to U+10FFFF, and the
 * three-byte forms of surrogates too. */
int
pcr_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char b = s[i];
        size_t more;
        unsigned char lo = 0x80, hi = 0xbf; /* bounds of the 2nd byte */
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xc2 && b <= 0xdf) {
            more = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
            more = 2;
            lo = b == 0xe0 ? 0xa0 : 0x80; /* no overlong forms */
        } else if (b >= 0xf0 && b <= 0xf4) {
            more = 3;
            lo = b == 0xf0 ? 0x90 : 0x80;
            hi = b == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
        } else {
            return 0;
        }
        if (n - i - 1 < more || s[i + 1] < lo || s[i + 1] > hi) {
            return 0;
        }
        for (size_t k = 2; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
        }
        i += 1 + more;
    }
    return 1;
}

static pcr_status
read_code(struct reader *r, uint32_t node)
{
    const char *fields = r->layout->fields;
    for (unsigned i = 0; fields[i] != '\0'; i++) {
        if (fields[i] == 'i') {
            int32_t v;
            if (read_i32(r, &v) != PCR_OK) {
                return PCR_FAIL;
            }
        } else if (read_object(r, node, i, 0) != PCR_OK) {
            return PCR_FAIL;
        }
    }
    return PCR_OK;
}

static pcr_status
read_body(struct reader *r, uint32_t node, int type, int flagged,
          int allow_null)
{
    size_t at = r->tree->nodes[node].offset;
    int32_t n;
    uint32_t b;

    switch (type) {
    case '0': /* NULL: only as the end of a dict */
        if (!allow_null) {
            return bad(r, at, "NULL object where a value is required");
        }
        return PCR_OK;
    case 'N':
    case 'F':
    case 'T':
    case 'S':
    case '.':
        return PCR_OK; /* singletons: never registered */
    case 'r':
        if (read_i32(r, &n) != PCR_OK) {
            return PCR_FAIL;
        }
        if (n < 0 || (uint32_t)n >= r->tree->nrefs || r->ref_open[n]) {
            return bad(r, at, "invalid reference");
        }
        r->tree->nodes[node].ref = (uint32_t)n;
        r->tree->ref_uses[n]++;
        return PCR_OK;
    default:
        break;
    }

    /* Everything else is registered when flagged; containers and code
     * objects before their contents. */
    /* CPython's reader reserves these before reading their contents
     * (r_ref_reserve) and fills the slot only when complete. */
    const pcr_mtype *mt = pcr_mtype_of((unsigned)type);
    if (mt == NULL) {
        return bad(r, at, "unknown type code");
    }
    if (r->layout != NULL && mt->since_version > r->layout->marshal_version) {
        char what[128];
        snprintf(what, sizeof what, "a %s before marshal version %d", mt->name,
                 mt->since_version);
        return bad(r, at, what);
    }
    int open = mt->reserves;
    if (flagged && register_ref(r, node, open) != PCR_OK) {
        return PCR_FAIL;
    }
    pcr_status rc = PCR_OK;
    switch (type) {
    case 'i':
        rc = skip(r, 4);
        break;
    case 'I':
        rc = skip(r, 8);
        break;
    case 'l':
        rc = read_long(r, at);
        break;
    case 'f':
        if ((rc = read_u8(r, &b)) == PCR_OK) {
            rc = skip(r, b);
        }
        break;
    case 'x':
        rc = read_u8(r, &b);
        if (rc == PCR_OK) {
            rc = skip(r, b);
        }
        if (rc == PCR_OK) {
            rc = read_u8(r, &b);
        }
        if (rc == PCR_OK) {
            rc = skip(r, b);
        }
        break;
    case 'g':
        rc = skip(r, 8);
        break;
    case 'y':
        rc = skip(r, 16);
        break;
    case 's':
    case 't':
    case 'u':
    case 'a':
    case 'A':
        if ((rc = read_i32(r, &n)) == PCR_OK) {
            rc = n < 0 ? bad(r, at, "size out of range") : skip(r, (size_t)n);
        }
        /* a/A (and z/Z) hold latin-1, any byte; t/u UTF-8, which CPython
         * refuses to load when it is not */
        if (rc == PCR_OK && (type == 't' || type == 'u') &&
            !pcr_utf8_valid(r->data + r->pos - (size_t)n, (size_t)n)) {
            rc = bad(r, at, "a string that is not UTF-8");
        }
        break;
    case 'z':
    case 'Z':
        if ((rc = read_u8(r, &b)) == PCR_OK) {
            rc = skip(r, b);
        }
        break;
    case ')':
        if ((rc = read_u8(r, &b)) == PCR_OK) {
            rc = read_children(r, node, b);
        }
        break;
    case '(':
    case '[':
    case '<':
    case '>':
        if ((rc = read_i32(r, &n)) == PCR_OK) {
            rc = read_children(r, node, n);
        }
        break;
    case TYPE_FROZENDICT: /* pairs as in a dict */
    case '{':
        for (unsigned i = 0;; i += 2) {
            uint32_t key = r->tree->nnodes; /* the node read next */
            if (read_object(r, node, i, 1) != PCR_OK) {
                return PCR_FAIL;
            }
            if (r->tree->nodes[key].type == '0') { /* NULL ends a dict */
                break;
            }
            if (read_object(r, node, i + 1, 0) != PCR_OK) {
                return PCR_FAIL;
            }
        }
        rc = PCR_OK;
        break;
    case TYPE_SLICE:
        for (unsigned i = 0; i < 3 && rc == PCR_OK; i++) {
            rc = read_object(r, node, i, 0);
        }
        break;
    case 'c':
        if (r->layout == NULL) {
            return bad(r, at, "code object of an unknown Python version");
        }
        rc = read_code(r, node);
        break;
    default:
        return bad(r, at, "unknown type code");
    }
    if (rc == PCR_OK && flagged && open) {
        r->ref_open[r->tree->nodes[node].ref] = 0;
    }
    return rc;
}

static pcr_status
read_object(struct reader *r, uint32_t parent, unsigned slot, int allow_null)
{
    uint32_t node = 0, code = 0;
    if (++r->depth > PCR_MARSHAL_MAX_DEPTH) {
        return bad(r, r->pos, "nesting too deep");
    }
    if (new_node(r, parent, slot, &node) != PCR_OK ||
        read_u8(r, &code) != PCR_OK) {
        return PCR_FAIL;
    }
    pcr_mnode *n = &r->tree->nodes[node];
    n->type = (uint8_t)(code & ~FLAG_REF);
    n->flagged = (code & FLAG_REF) != 0;
    pcr_status rc = read_body(r, node, n->type, n->flagged, allow_null);
    if (rc == PCR_OK) {
        r->tree->nodes[node].end = (uint32_t)r->pos;
    }
    r->depth--;
    return rc;
}

pcr_status
pcr_mtree_parse(const unsigned char *data, size_t len,
                const pcr_layout *layout, pcr_mtree *tree, pcr_error *err)
{
    memset(tree, 0, sizeof *tree);
    tree->layout = layout;
    if (len >= 0xffffffffu) {
        return pcr_set_error(err, PCR_FAIL, "marshal data too large");
    }
    struct reader r = {
        .data = data, .len = len, .layout = layout, .tree = tree, .err = err};
    pcr_status rc = read_object(&r, PCR_NONE, 0, 0);
    if (rc == PCR_OK && r.pos != len) {
        rc = bad(&r, r.pos, "trailing data after the object");
    }
    free(r.ref_open);
    if (rc != PCR_OK) {
        pcr_mtree_free(tree);
    }
    return rc;
}

void
pcr_mtree_free(pcr_mtree *tree)
{
    if (tree != NULL) {
        free(tree->nodes);
        free(tree->refs);
        free(tree->ref_uses);
        memset(tree, 0, sizeof *tree);
    }
}

uint32_t
pcr_mtree_resolve(const pcr_mtree *tree, uint32_t node)
{
    /* A reference always points at an object registered earlier, which
     * is never itself a TYPE_REF, so one step is enough. */
    if (node < tree->nnodes && tree->nodes[node].type == 'r') {
        node = tree->refs[tree->nodes[node].ref];
    }
    return node;
}

uint32_t
pcr_mtree_child(const pcr_mtree *tree, uint32_t node, unsigned slot)
{
    node = pcr_mtree_resolve(tree, node);
    if (node >= tree->nnodes) {
        return PCR_NONE;
    }
    /* Children follow their parent in stream order; walk siblings by
     * skipping each child's subtree (nodes whose offset is before the
     * child's end). */
    uint32_t i = node + 1;
    while (i < tree->nnodes && tree->nodes[i].parent == node) {
        if (tree->nodes[i].slot == slot) {
            return i;
        }
        uint32_t end = tree->nodes[i].end;
        i++;
        while (i < tree->nnodes && tree->nodes[i].offset < end) {
            i++;
        }
    }
    return PCR_NONE;
}

pcr_status
pcr_mtree_string(const pcr_mtree *tree, const unsigned char *data,
                 uint32_t node, const unsigned char **ptr, size_t *len)
{
    node = pcr_mtree_resolve(tree, node);
    if (node >= tree->nnodes) {
        return PCR_FAIL;
    }
    const pcr_mnode *n = &tree->nodes[node];
    switch (n->type) {
    case 'z':
    case 'Z':
        *ptr = data + n->offset + 2;
        *len = data[n->offset + 1];
        return PCR_OK;
    case 's':
    case 't':
    case 'u':
    case 'a':
    case 'A':
        *ptr = data + n->offset + 5;
        *len = pcr_le32(data + n->offset + 1);
        return PCR_OK;
    default:
        return PCR_FAIL;
    }
}
