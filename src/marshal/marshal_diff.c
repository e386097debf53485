/* SPDX-License-Identifier: MIT */
/*
 * marshal_diff.c - where two marshal streams first differ, said the way a
 * person can act on: "code object 'K.m', field co_consts: ...".
 *
 * Both trees are walked in stream (pre-)order side by side; the first
 * node whose type, flag, child count or own bytes (the bytes before its
 * first child) differ is the first differing object.  Its nearest
 * enclosing code object gives the qualified name, and the child of that
 * code object on the way down gives the field.
 */
#include <stdio.h>
#include <string.h>

#include "marshal_diff.h"
#include "marshal_tree.h"

/* Bytes of a node that belong to it alone (not to its children). */
static size_t
own_len(const pcr_mtree *t, uint32_t i)
{
    const pcr_mnode *n = &t->nodes[i];
    if (n->nkids > 0 && i + 1 < t->nnodes) {
        return t->nodes[i + 1].offset - n->offset;
    }
    return n->end - n->offset;
}

static void
quote(char *out, size_t size, const pcr_mtree *t, const unsigned char *data,
      uint32_t node)
{
    const unsigned char *s;
    size_t n;
    if (pcr_mtree_string(t, data, node, &s, &n) != PCR_OK) {
        uint32_t r = pcr_mtree_resolve(t, node);
        unsigned type = r < t->nnodes ? t->nodes[r].type : '?';
        if (type == 'i') {
            snprintf(out, size, "%d",
                     (int32_t)pcr_le32(data + t->nodes[r].offset + 1));
        } else {
            snprintf(out, size, "a '%c' object", type);
        }
        return;
    }
    size_t k = 0;
    out[k++] = '\'';
    for (size_t i = 0; i < n && k + 8 < size; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
            out[k++] = (char)c;
        } else {
            k += (size_t)snprintf(out + k, size - k, "\\x%02x", c);
        }
        if (i == 60 && n > 64) {
            k += (size_t)snprintf(out + k, size - k, "...");
            break;
        }
    }
    snprintf(out + k, size - k, "'");
}

/* "code object 'NAME', field FIELD" for node i, or "the top level". */
static const char *
field_name(const pcr_layout *L, unsigned slot)
{
    return L != NULL && slot < strlen(L->fields) ? L->names[slot] : "?";
}

/* co_qualname, or co_name before 3.11. */
static uint32_t
code_name(const pcr_mtree *t, uint32_t code)
{
    const pcr_layout *L = t->layout;
    if (L == NULL) {
        return PCR_NONE;
    }
    int slot = L->qualname_slot >= 0 ? L->qualname_slot : L->name_slot;
    return pcr_mtree_child(t, code, (unsigned)slot);
}

static void
locate(char *out, size_t size, const pcr_mtree *t, const unsigned char *data,
       uint32_t i)
{
    uint32_t child = i, p = t->nodes[i].parent;
    while (p != PCR_NONE && t->nodes[p].type != 'c') {
        child = p;
        p = t->nodes[p].parent;
    }
    if (p == PCR_NONE) {
        snprintf(out, size, "%s",
                 t->nodes[i].type == 'c' ? "the module's code object"
                                         : "the top-level object");
        return;
    }
    char name[128];
    uint32_t q = code_name(t, p);
    if (q != PCR_NONE) {
        quote(name, sizeof name, t, data, q);
    } else {
        snprintf(name, sizeof name, "?");
    }
    snprintf(out, size, "code object %s, field %s", name,
             field_name(t->layout, t->nodes[child].slot));
}

/* The int32 fields of code object i, in layout order, with their field
 * numbers; they sit between the children, so walk the layout. */
static int
code_ints(const pcr_mtree *t, const unsigned char *data, uint32_t i,
          int32_t *vals, unsigned *fields, int max)
{
    const char *layout = t->layout ? t->layout->fields : NULL;
    size_t pos = t->nodes[i].offset + 1;
    uint32_t child = i + 1;
    int n = 0;
    for (unsigned f = 0; layout != NULL && layout[f] != '\0'; f++) {
        if (layout[f] == 'i') {
            if (n < max) {
                vals[n] = (int32_t)pcr_le32(data + pos);
                fields[n++] = f;
            }
            pos += 4;
        } else if (child < t->nnodes) {
            pos = t->nodes[child].end; /* skip the child's subtree */
            uint32_t end = t->nodes[child].end;
            while (child < t->nnodes && t->nodes[child].offset < end) {
                child++;
            }
        }
    }
    return n;
}

/* For two code objects whose own bytes match so far: the first int field
 * that differs, described; 0 if all are equal. */
static int
diff_code_ints(const pcr_mtree *ta, const unsigned char *a,
               const pcr_mtree *tb, const unsigned char *b, uint32_t i,
               char *out, size_t size)
{
    int32_t va[16], vb[16];
    unsigned fa[16], fb[16];
    int na = code_ints(ta, a, i, va, fa, 16);
    int nb = code_ints(tb, b, i, vb, fb, 16);
    for (int k = 0; k < na && k < nb; k++) {
        if (va[k] != vb[k]) {
            snprintf(out, size, "field %s: %d vs %d",
                     field_name(ta->layout, fa[k]), (int)va[k], (int)vb[k]);
            return 1;
        }
    }
    return 0;
}

pcr_status
pcr_marshal_diff(const unsigned char *a, size_t alen, const unsigned char *b,
                 size_t blen, uint32_t magic, char *out, size_t outlen)
{
    const pcr_layout *layout = pcr_layout_for_magic(magic);
    pcr_mtree ta, tb;
    pcr_error err;
    if (pcr_mtree_parse(a, alen, layout, &ta, &err) != PCR_OK) {
        snprintf(out, outlen, "first: %s", err.msg);
        return PCR_FAIL;
    }
    if (pcr_mtree_parse(b, blen, layout, &tb, &err) != PCR_OK) {
        pcr_mtree_free(&ta);
        snprintf(out, outlen, "second: %s", err.msg);
        return PCR_FAIL;
    }
    pcr_status rc = PCR_OK;
    uint32_t n = ta.nnodes < tb.nnodes ? ta.nnodes : tb.nnodes;
    uint32_t i = 0;
    char ints[200] = "";
    for (; i < n; i++) {
        const pcr_mnode *x = &ta.nodes[i], *y = &tb.nodes[i];
        size_t lx = own_len(&ta, i), ly = own_len(&tb, i);
        if (x->type != y->type || x->flagged != y->flagged ||
            x->nkids != y->nkids || x->parent != y->parent || lx != ly ||
            memcmp(a + x->offset, b + y->offset, lx) != 0) {
            break;
        }
        /* a code object's later int fields (co_firstlineno) lie between
         * its children */
        if (x->type == 'c' &&
            diff_code_ints(&ta, a, &tb, b, i, ints, sizeof ints)) {
            break;
        }
    }
    if (i == n && ta.nnodes == tb.nnodes) {
        snprintf(out, outlen, "no difference");
        goto end;
    }
    rc = PCR_FAIL;
    if (i == n) {
        i = n - 1;
    }
    char where[256], va[160], vb[160];
    locate(where, sizeof where, &ta, a, i);
    quote(va, sizeof va, &ta, a, i);
    quote(vb, sizeof vb, &tb, b, i);
    if (ta.nodes[i].type == 'c' && tb.nodes[i].type == 'c' &&
        (ints[0] != '\0' ||
         diff_code_ints(&ta, a, &tb, b, i, ints, sizeof ints))) {
        char name[128] = "?";
        uint32_t q = code_name(&ta, i);
        if (q != PCR_NONE) {
            quote(name, sizeof name, &ta, a, q);
        }
        snprintf(out, outlen, "code object %s, %s", name, ints);
    } else if (strcmp(va, vb) != 0) {
        snprintf(out, outlen, "%s: %s vs %s (offsets %u, %u)", where, va, vb,
                 ta.nodes[i].offset, tb.nodes[i].offset);
    } else {
        snprintf(out, outlen, "%s: objects differ (offsets %u, %u)", where,
                 ta.nodes[i].offset, tb.nodes[i].offset);
    }
end:
    pcr_mtree_free(&ta);
    pcr_mtree_free(&tb);
    return rc;
}
