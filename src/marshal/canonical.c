/* SPDX-License-Identifier: MIT */
/*
 * canonical.c - canonical form 2 of marshal data: the same bytes for the
 * same code object, whatever the state of the process that marshalled it.
 * docs/canonical-form.md gives each rule and the measurement behind it.
 *
 * The data is parsed (marshal_tree.c), every object gets a value, and the
 * stream is written again from those values:
 *   1. A string is interned when some occurrence of its text sits where
 *      the CPython series interns it (names, and for 3.12+ co_name,
 *      co_qualname and co_filename), or is a constant made only of ASCII
 *      letters, digits and '_', or is one latin-1 character.
 *   2. Equal immutable values (str, bytes, int, float, complex, and
 *      tuples, frozensets and slices made only of such values) are one
 *      object: written in full where first met, then as references.
 *      Code objects, lists, dicts and sets are never merged; an object
 *      the input itself shares stays shared.
 *   3. FLAG_REF only on objects that a reference points back to;
 *      references numbered in stream order, as CPython's reader counts.
 *   4. Set and frozenset elements ordered by their own canonical bytes
 *      (written alone, without references).
 *   5. Each value in its one encoding: ints in TYPE_INT when they fit in
 *      32 bits, else TYPE_LONG; strings as ASCII (short when < 256) when
 *      they are ASCII, else as UTF-8; tuples small when < 256 elements.
 *
 * A string's value is its code points, whatever its type: the ASCII types
 * (a A z Z) are read by CPython as latin-1 (any byte, one code point
 * each), the others (t u) as UTF-8.  Every rule above works on the
 * string's text in UTF-8 -- an 'a' string with a byte >= 0x80 is written
 * as the UTF-8 'u' string of the same code points, never with its raw
 * bytes, and is equal to that 'u' string.
 */
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "marshal_tree.h"
#include "protocol.h"

/* ------------------------------------------------- a hash-consing table */

/* Keys are a tag and a byte string; values are u32.  A key built in a
 * scratch buffer is copied into the arena; a key that is a payload of the
 * input (a string's text) stays there, as the input outlives the table:
 * copying every text was a fifth of a rebuild's time. */
struct table {
    uint32_t *slots; /* entry index + 1, 0 = empty */
    uint32_t nslots;
    struct entry {
        uint64_t hash;
        const unsigned char *ext; /* the key in the input, or NULL */
        size_t off, len;          /* off: in the arena, when ext is NULL */
        uint32_t value;
        uint8_t tag;
    } * entries;
    uint32_t n, cap;
    pcr_wbuf arena;
};

enum key_kind { KEY_COPY, KEY_IN_INPUT };

/* Eight bytes a step (FNV-1a a byte a step was 9% of a rebuild's time:
 * code strings are long).  Only table placement depends on it, never the
 * output: keys are compared byte for byte. */
static uint64_t
hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603u ^ n;
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15u;
        h ^= h >> 29;
    }
    for (; i < n; i++) {
        h = (h ^ p[i]) * 1099511628211u;
    }
    return h ^ h >> 32;
}

static int
table_grow(struct table *t)
{
    uint32_t ns = t->nslots ? t->nslots * 2 : 1024;
    uint32_t *slots = calloc(ns, sizeof *slots);
    if (slots == NULL) {
        return -1;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t s = (uint32_t)(t->entries[i].hash & (ns - 1));
        while (slots[s] != 0) {
            s = (s + 1) & (ns - 1);
        }
        slots[s] = i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = ns;
    return 0;
}

static const unsigned char *
key_bytes(const struct table *t, const struct entry *e)
{
    return e->ext != NULL ? e->ext : t->arena.data + e->off;
}

/* Find (tag, key), whose hash_bytes is h; if absent, insert it with
 * value.  Returns the entry, or NULL when out of memory.  *found tells
 * which. */
static struct entry *
table_get(struct table *t, uint64_t h, unsigned tag, const unsigned char *key,
          size_t len, enum key_kind kind, uint32_t value, int *found)
{
    if ((t->n + 1) * 2 > t->nslots && table_grow(t) != 0) {
        return NULL;
    }
    h ^= (uint64_t)tag << 56;
    uint32_t s = (uint32_t)(h & (t->nslots - 1));
    while (t->slots[s] != 0) {
        struct entry *e = &t->entries[t->slots[s] - 1];
        /* len 0: the arena may still be NULL (only empty keys so far) */
        if (e->hash == h && e->len == len && e->tag == tag &&
            (len == 0 || memcmp(key_bytes(t, e), key, len) == 0)) {
            *found = 1;
            return e;
        }
        s = (s + 1) & (t->nslots - 1);
    }
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 1024;
        struct entry *ne = realloc(t->entries, cap * sizeof *ne);
        if (ne == NULL) {
            return NULL;
        }
        t->entries = ne;
        t->cap = cap;
    }
    struct entry *e = &t->entries[t->n];
    *e = (struct entry){
        .hash = h, .len = len, .value = value, .tag = (uint8_t)tag};
    if (kind == KEY_IN_INPUT) {
        e->ext = key;
    } else {
        e->off = t->arena.len;
        pcr_wbuf_bytes(&t->arena, key, len);
        if (t->arena.failed) {
            return NULL;
        }
    }
    t->slots[s] = ++t->n;
    *found = 0;
    return e;
}

static void
table_free(struct table *t)
{
    free(t->slots);
    free(t->entries);
    pcr_wbuf_free(&t->arena);
}

/* ------------------------------------------------------------- state */

/* Position of a node, for the interning rule. */
enum ctx {
    CTX_OTHER,
    CTX_NAMES,
    CTX_NAME,
    CTX_CONSTS,
    CTX_CO_NAME,
    CTX_QUALNAME,
    CTX_FILENAME
};

struct canon {
    const unsigned char *data;
    const pcr_mtree *t;
    const pcr_layout *layout;
    pcr_error *err;
    uint32_t n;
    /* children of each node in output order (input node indices, TYPE_REF
     * nodes included): kids[kstart[i] .. kstart[i] + nkids) */
    uint32_t *kids, *kstart;
    uint8_t *interned; /* per string node, after the vote */
    /* per string node: its text as UTF-8 (the payload itself, or a
     * latin-1 payload transcoded into utf8_arena) */
    const unsigned char **text_ptr;
    size_t *text_len;
    pcr_wbuf utf8_arena;
    uint64_t *text_hash; /* per str/bytes node: hash_bytes | 1, 0 unknown */
    uint32_t *val;       /* value id of each non-reference node */
    uint8_t *state;      /* 0 not reached, 1 open, 2 done (value ids) */
    uint8_t *shared;     /* value of the node may be merged with equals */
    struct table values, texts;
    uint32_t nvalues;
    /* emission, indexed by value id */
    uint32_t *uses, *refidx;
    uint8_t *seen;
    uint32_t nextref;
    pcr_wbuf out;
    size_t plain_budget; /* bytes the set-ordering keys may still cost */
};

static pcr_status
oom(struct canon *c)
{
    return pcr_set_error(c->err, PCR_ENV, "out of memory");
}

static uint32_t
resolve(const struct canon *c, uint32_t i)
{
    return pcr_mtree_resolve(c->t, i);
}

static int
is_str(unsigned type)
{
    return type == TYPE_UNICODE || type == TYPE_INTERNED ||
           type == TYPE_ASCII || type == TYPE_ASCII_INTERNED ||
           type == TYPE_SHORT_ASCII || type == TYPE_SHORT_ASCII_INTERNED;
}

static int
is_singleton(unsigned type)
{
    return type == TYPE_NULL || type == TYPE_NONE || type == TYPE_FALSE ||
           type == TYPE_TRUE || type == TYPE_STOPITER || type == TYPE_ELLIPSIS;
}

/* The payload of a bytes node, or a string's text (UTF-8). */
static const unsigned char *
payload(const struct canon *c, uint32_t i, size_t *len)
{
    const unsigned char *p;
    i = resolve(c, i);
    if (is_str(c->t->nodes[i].type)) {
        *len = c->text_len[i];
        return c->text_ptr[i];
    }
    if (pcr_mtree_string(c->t, c->data, i, &p, len) != PCR_OK) {
        *len = 0;
        return NULL;
    }
    return p;
}

/* Every string's text as UTF-8: t and u strings are UTF-8 already (the
 * walker checked), a A z Z strings latin-1, transcoded when they hold a
 * byte >= 0x80. */
static pcr_status
decode_strings(struct canon *c)
{
    c->text_ptr = calloc((size_t)c->n + 1, sizeof *c->text_ptr);
    c->text_len = calloc((size_t)c->n + 1, sizeof *c->text_len);
    size_t *off = calloc((size_t)c->n + 1, sizeof *off);
    if (c->text_ptr == NULL || c->text_len == NULL || off == NULL) {
        free(off);
        return oom(c);
    }
    for (uint32_t i = 0; i < c->n; i++) {
        unsigned type = c->t->nodes[i].type;
        const unsigned char *p;
        size_t len;
        if (!is_str(type) ||
            pcr_mtree_string(c->t, c->data, i, &p, &len) != PCR_OK) {
            continue;
        }
        size_t high = 0;
        if (type != TYPE_UNICODE && type != TYPE_INTERNED) {
            for (size_t k = 0; k < len; k++) {
                high += p[k] >= 0x80;
            }
        }
        if (high == 0) {
            c->text_ptr[i] = p;
            c->text_len[i] = len;
            continue;
        }
        off[i] = c->utf8_arena.len + 1; /* 0: not in the arena */
        for (size_t k = 0; k < len; k++) {
            if (p[k] < 0x80) {
                pcr_wbuf_u8(&c->utf8_arena, p[k]);
            } else {
                pcr_wbuf_u8(&c->utf8_arena, 0xc0 | p[k] >> 6);
                pcr_wbuf_u8(&c->utf8_arena, 0x80 | (p[k] & 0x3f));
            }
        }
        c->text_len[i] = len + high;
    }
    if (c->utf8_arena.failed) {
        free(off);
        return oom(c);
    }
    for (uint32_t i = 0; i < c->n; i++) { /* the arena moves no more */
        if (off[i] != 0) {
            c->text_ptr[i] = c->utf8_arena.data + off[i] - 1;
        }
    }
    free(off);
    return PCR_OK;
}

/* The payload of a string or bytes node and its hash, computed once: a
 * text is looked up several times (votes, then values). */
static const unsigned char *
text(const struct canon *c, uint32_t i, size_t *len, uint64_t *h)
{
    const unsigned char *p = payload(c, i, len);
    if (c->text_hash[i] == 0) {
        c->text_hash[i] = hash_bytes(p, *len) | 1;
    }
    *h = c->text_hash[i];
    return p;
}

/* ----------------------------------------------- children, in order */

static pcr_status
build_children(struct canon *c)
{
    uint32_t n = c->n;
    c->kstart = calloc((size_t)n + 1, sizeof *c->kstart);
    c->kids = malloc(((size_t)n + 1) * sizeof *c->kids);
    uint32_t *fill = calloc((size_t)n + 1, sizeof *fill);
    if (c->kstart == NULL || c->kids == NULL || fill == NULL) {
        free(fill);
        return oom(c);
    }
    for (uint32_t i = 1; i < n; i++) {
        c->kstart[c->t->nodes[i].parent + 1]++;
    }
    for (uint32_t i = 0; i < n; i++) {
        c->kstart[i + 1] += c->kstart[i];
    }
    for (uint32_t i = 1; i < n; i++) {
        uint32_t p = c->t->nodes[i].parent;
        c->kids[c->kstart[p] + fill[p]++] = i;
    }
    free(fill);
    return PCR_OK;
}

/* ------------------------------------------------ rule 1: interning */

/* The position of a child, from its parent's kind and position. */
static enum ctx
child_ctx(const struct canon *c, uint32_t parent, enum ctx pctx,
          uint32_t child)
{
    const pcr_mnode *p = &c->t->nodes[parent];
    const pcr_layout *L = c->layout;
    if (p->type == TYPE_CODE && L != NULL) {
        int slot = c->t->nodes[child].slot;
        if (slot < 32 && (L->name_slots >> slot) & 1) {
            return CTX_NAMES;
        }
        if (slot == L->consts_slot) {
            return CTX_CONSTS;
        }
        if (slot == L->name_slot) {
            return CTX_CO_NAME;
        }
        if (slot == L->qualname_slot) {
            return CTX_QUALNAME;
        }
        if (slot == L->filename_slot) {
            return CTX_FILENAME;
        }
        return CTX_OTHER;
    }
    if (p->type == TYPE_TUPLE || p->type == TYPE_SMALL_TUPLE ||
        p->type == TYPE_FROZENSET || p->type == TYPE_SLICE) {
        switch (pctx) {
        case CTX_NAMES:
            return CTX_NAME;
        case CTX_CONSTS:
            return CTX_CONSTS;
        default:
            return CTX_OTHER;
        }
    }
    return CTX_OTHER;
}

static int
ascii_name_chars(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_')) {
            return 0;
        }
    }
    return 1;
}

/* One character below U+0100, in UTF-8 (a string's text). */
static int
one_latin1_char(const unsigned char *s, size_t n)
{
    return (n == 1 && s[0] < 0x80) ||
           (n == 2 && (s[0] == 0xc2 || s[0] == 0xc3) && (s[1] & 0xc0) == 0x80);
}

/* Would CPython (this series, fresh process) intern a string with this
 * text at this position?  Measured: docs/canonical-form.md. */
static int
interned_at(const struct canon *c, enum ctx ctx, const unsigned char *s,
            size_t n)
{
    int since_312 =
        c->layout != NULL && (c->layout->flags & PCR_LAYOUT_CO_NAME_INTERNED);
    switch (ctx) {
    case CTX_NAME:
        return 1;
    case CTX_CO_NAME:
        return since_312 || n == 0 || s[0] != '<';
    case CTX_QUALNAME:
    case CTX_FILENAME:
        return since_312;
    case CTX_CONSTS:
        return ascii_name_chars(s, n);
    default:
        return 0;
    }
}

/* Rule 1.  Every occurrence of a text votes, references included: the
 * graph is walked through them, once per (object, position), so a tuple
 * that is both a constant and co_names votes as both. */
static pcr_status
vote_interning(struct canon *c)
{
    uint8_t *done = calloc(c->n, 1); /* bit per position */
    c->interned = calloc(c->n, 1);
    size_t cap = 1024, sp = 0;
    uint64_t *stack = malloc(cap * sizeof *stack); /* node << 8 | ctx */
    pcr_status rc = PCR_OK;
    if (done == NULL || c->interned == NULL || stack == NULL) {
        rc = oom(c);
        goto end;
    }
    stack[sp++] = 0; /* the root, CTX_OTHER */
    done[0] = 1u << CTX_OTHER;
    while (sp > 0 && rc == PCR_OK) {
        uint32_t i = (uint32_t)(stack[--sp] >> 8);
        enum ctx ctx = (enum ctx)(stack[sp] & 0xff);
        const pcr_mnode *nd = &c->t->nodes[i];
        if (is_str(nd->type)) {
            size_t len;
            uint64_t h;
            const unsigned char *p = text(c, i, &len, &h);
            int vote = one_latin1_char(p, len) || interned_at(c, ctx, p, len);
            int found;
            struct entry *e = table_get(&c->texts, h, 0, p, len, KEY_IN_INPUT,
                                        (uint32_t)vote, &found);
            if (e == NULL) {
                rc = oom(c);
                break;
            }
            e->value |= (uint32_t)vote;
            continue;
        }
        for (uint32_t k = c->kstart[i]; k < c->kstart[i + 1]; k++) {
            uint32_t kid = c->kids[k];
            enum ctx kctx = child_ctx(c, i, ctx, kid);
            kid = resolve(c, kid);
            if (done[kid] & (1u << kctx)) {
                continue;
            }
            done[kid] |= (uint8_t)(1u << kctx);
            if (sp == cap) {
                cap *= 2;
                uint64_t *ns = realloc(stack, cap * sizeof *ns);
                if (ns == NULL) {
                    rc = oom(c);
                    break;
                }
                stack = ns;
            }
            stack[sp++] = (uint64_t)kid << 8 | kctx;
        }
    }
    for (uint32_t i = 0; i < c->n && rc == PCR_OK; i++) {
        if (is_str(c->t->nodes[i].type)) {
            size_t len;
            uint64_t h;
            const unsigned char *p = text(c, i, &len, &h);
            int found;
            struct entry *e =
                table_get(&c->texts, h, 0, p, len, KEY_IN_INPUT, 0, &found);
            if (e == NULL) {
                rc = oom(c);
                break;
            }
            c->interned[i] = (uint8_t)e->value;
        }
    }
end:
    free(done);
    free(stack);
    return rc;
}

/* --------------------------------------------- writing one object */

static void write_object(struct canon *c, pcr_wbuf *w, uint32_t node,
                         int share, unsigned depth, pcr_status *rc);

/* An int node's value when it fits in 32 bits (*fits), from 'i', 'I' or
 * 'l'. */
static int64_t
int_value(const struct canon *c, uint32_t i, int *fits)
{
    const pcr_mnode *n = &c->t->nodes[i];
    const unsigned char *p = c->data + n->offset + 1;
    int64_t v = 0;
    *fits = 0;
    if (n->type == TYPE_INT) {
        *fits = 1;
        return (int32_t)pcr_le32(p);
    }
    if (n->type == TYPE_INT64) {
        uint64_t u = (uint64_t)pcr_le32(p) | (uint64_t)pcr_le32(p + 4) << 32;
        v = (int64_t)u;
    } else { /* TYPE_LONG: int32 count (sign), 15-bit digits */
        int32_t cnt = (int32_t)pcr_le32(p);
        int64_t nd = cnt < 0 ? -(int64_t)cnt : cnt;
        if (nd > 3) {
            return 0;
        }
        for (int64_t k = nd - 1; k >= 0; k--) {
            v = (v << 15) | (p[4 + 2 * k] | (int64_t)p[5 + 2 * k] << 8);
        }
        v = cnt < 0 ? -v : v;
    }
    *fits = v >= INT32_MIN && v <= INT32_MAX;
    return v;
}

/* An int64 that does not fit in 32 bits, as TYPE_LONG digits. */
static void
write_long64(pcr_wbuf *w, int64_t v)
{
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    unsigned digits[5];
    int nd = 0;
    while (m != 0) {
        digits[nd++] = (unsigned)(m & 0x7fff);
        m >>= 15;
    }
    pcr_wbuf_u32(w, (uint32_t)(v < 0 ? -nd : nd));
    for (int k = 0; k < nd; k++) {
        pcr_wbuf_u8(w, digits[k] & 0xff);
        pcr_wbuf_u8(w, digits[k] >> 8);
    }
}

/* The type byte and body of a leaf (str, bytes, number); flag is FLAG_REF
 * or 0. */
static void
write_leaf(struct canon *c, pcr_wbuf *w, uint32_t i, unsigned flag)
{
    const pcr_mnode *n = &c->t->nodes[i];
    const unsigned char *p = c->data + n->offset + 1;
    size_t len;
    if (is_str(n->type)) {
        const unsigned char *s = payload(c, i, &len);
        int ascii = 1;
        for (size_t k = 0; k < len && ascii; k++) {
            ascii = s[k] < 0x80;
        }
        int in = c->interned[i];
        if (ascii && len < 256) {
            pcr_wbuf_u8(
                w, (in ? TYPE_SHORT_ASCII_INTERNED : TYPE_SHORT_ASCII) | flag);
            pcr_wbuf_u8(w, (unsigned)len);
            pcr_wbuf_bytes(w, s, len);
        } else {
            pcr_wbuf_u8(w, (ascii ? (in ? TYPE_ASCII_INTERNED : TYPE_ASCII)
                                  : (in ? TYPE_INTERNED : TYPE_UNICODE)) |
                               flag);
            pcr_wbuf_blob(w, s, len);
        }
        return;
    }
    switch (n->type) {
    case TYPE_INT:
    case TYPE_INT64:
    case TYPE_LONG: {
        int fits;
        int64_t v = int_value(c, i, &fits);
        if (fits) {
            pcr_wbuf_u8(w, TYPE_INT | flag);
            pcr_wbuf_u32(w, (uint32_t)(int32_t)v);
        } else if (n->type == TYPE_INT64) {
            pcr_wbuf_u8(w, TYPE_LONG | flag);
            write_long64(w, v);
        } else { /* already normalised by the walker: copy */
            pcr_wbuf_u8(w, TYPE_LONG | flag);
            pcr_wbuf_bytes(w, p, n->end - n->offset - 1);
        }
        return;
    }
    default: /* bytes, floats, complex: their body as it is */
        pcr_wbuf_u8(w, n->type | flag);
        pcr_wbuf_bytes(w, p, n->end - n->offset - 1);
        return;
    }
}

/* Containers: type byte, count, then the children in output order. */
static void
write_container(struct canon *c, pcr_wbuf *w, uint32_t i, unsigned flag,
                int share, unsigned depth, pcr_status *rc)
{
    const pcr_mnode *n = &c->t->nodes[i];
    uint32_t k0 = c->kstart[i], nk = c->kstart[i + 1] - k0;
    switch (n->type) {
    case TYPE_TUPLE:
    case TYPE_SMALL_TUPLE:
        if (nk < 256) {
            pcr_wbuf_u8(w, TYPE_SMALL_TUPLE | flag);
            pcr_wbuf_u8(w, nk);
        } else {
            pcr_wbuf_u8(w, TYPE_TUPLE | flag);
            pcr_wbuf_u32(w, nk);
        }
        break;
    case TYPE_LIST:
    case TYPE_SET:
    case TYPE_FROZENSET:
        pcr_wbuf_u8(w, n->type | flag);
        pcr_wbuf_u32(w, nk);
        break;
    case TYPE_DICT:       /* pairs, then the NULL node that ends them */
    case TYPE_FROZENDICT: /* the same */
    case TYPE_SLICE:      /* three objects */
        pcr_wbuf_u8(w, n->type | flag);
        break;
    case TYPE_CODE: {
        /* int32 fields sit between the objects: take them from the
         * input, walking the layout. */
        pcr_wbuf_u8(w, TYPE_CODE | flag);
        size_t pos = n->offset + 1;
        uint32_t k = 0;
        for (const char *f = c->layout->fields; *f; f++) {
            if (*f == 'i') {
                pcr_wbuf_bytes(w, c->data + pos, 4);
                pos += 4;
            } else {
                uint32_t kid = c->kids[k0 + k++];
                write_object(c, w, kid, share, depth + 1, rc);
                pos = c->t->nodes[kid].end;
            }
        }
        return;
    }
    default:
        break;
    }
    for (uint32_t k = 0; k < nk; k++) {
        write_object(c, w, c->kids[k0 + k], share, depth + 1, rc);
    }
}

/*
 * Write one object.  share = 0: plainly, every occurrence in full and no
 * FLAG_REF (the keys that order sets); share = 1: the canonical stream,
 * using uses/refidx/seen (rule 2 and 3).
 */
static void
write_object(struct canon *c, pcr_wbuf *w, uint32_t node, int share,
             unsigned depth, pcr_status *rc)
{
    if (*rc != PCR_OK) {
        return;
    }
    if (depth > PCR_MARSHAL_MAX_DEPTH) {
        *rc = pcr_set_error(c->err, PCR_FAIL,
                            "cannot canonicalise: nesting too deep (or an "
                            "object that contains itself)");
        return;
    }
    if (!share && w->len > c->plain_budget) {
        *rc = pcr_set_error(c->err, PCR_FAIL,
                            "cannot canonicalise: the elements of a set "
                            "expand to more than %zu bytes",
                            c->plain_budget);
        return;
    }
    uint32_t i = resolve(c, node);
    const pcr_mnode *n = &c->t->nodes[i];
    if (is_singleton(n->type)) {
        pcr_wbuf_u8(w, n->type);
        return;
    }
    unsigned flag = 0;
    if (share) {
        uint32_t id = c->val[i];
        if (c->seen[id]) {
            pcr_wbuf_u8(w, TYPE_REF);
            pcr_wbuf_u32(w, c->refidx[id]);
            return;
        }
        c->seen[id] = 1;
        if (c->uses[id] > 0) {
            flag = FLAG_REF;
            c->refidx[id] = c->nextref++;
        }
    }
    int leaf = n->nkids == 0 && n->type != TYPE_CODE &&
               n->type != TYPE_TUPLE && n->type != TYPE_SMALL_TUPLE &&
               n->type != TYPE_LIST && n->type != TYPE_DICT &&
               n->type != TYPE_SET && n->type != TYPE_FROZENSET &&
               n->type != TYPE_SLICE && n->type != TYPE_FROZENDICT;
    if (leaf) {
        write_leaf(c, w, i, flag);
    } else {
        write_container(c, w, i, flag, share, depth, rc);
    }
}

/* The count pass of the canonical stream: how often each value is met
 * again after its first occurrence, in output order. */
static void
count_uses(struct canon *c, uint32_t node, unsigned depth, pcr_status *rc)
{
    if (*rc != PCR_OK) {
        return;
    }
    if (depth > PCR_MARSHAL_MAX_DEPTH) {
        *rc = pcr_set_error(c->err, PCR_FAIL,
                            "cannot canonicalise: nesting too deep");
        return;
    }
    uint32_t i = resolve(c, node);
    if (is_singleton(c->t->nodes[i].type)) {
        return;
    }
    uint32_t id = c->val[i];
    if (c->seen[id]) {
        c->uses[id]++;
        return;
    }
    c->seen[id] = 1;
    for (uint32_t k = c->kstart[i]; k < c->kstart[i + 1]; k++) {
        count_uses(c, c->kids[k], depth + 1, rc);
    }
}

/* --------------------------------------- rule 2 and 4: values, order */

struct keyed {
    uint32_t kid;
    size_t off, len;
};

static int
by_plain_bytes(const void *a, const void *b, void *ctx)
{
    const unsigned char *base = ctx; /* the children's plain bytes */
    const struct keyed *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int r = memcmp(base + x->off, base + y->off, m);
    if (r != 0) {
        return r;
    }
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Rule 4: order a set's children by their plain canonical bytes. */
static pcr_status
order_set(struct canon *c, uint32_t i)
{
    uint32_t k0 = c->kstart[i], nk = c->kstart[i + 1] - k0;
    if (nk < 2) {
        return PCR_OK;
    }
    struct keyed *keys = malloc(nk * sizeof *keys);
    pcr_wbuf w = {0};
    pcr_status rc = keys ? PCR_OK : oom(c);
    for (uint32_t k = 0; k < nk && rc == PCR_OK; k++) {
        keys[k].kid = c->kids[k0 + k];
        keys[k].off = w.len;
        write_object(c, &w, keys[k].kid, 0, 0, &rc);
        keys[k].len = w.len - keys[k].off;
        if (w.failed) {
            rc = oom(c);
        } else if (w.len > c->plain_budget) {
            rc = pcr_set_error(c->err, PCR_FAIL,
                               "cannot canonicalise: the elements of a set "
                               "expand to more than %zu bytes",
                               c->plain_budget);
        }
    }
    if (rc == PCR_OK) {
        c->plain_budget -= w.len;
        if (pcr_sort(keys, nk, sizeof *keys, by_plain_bytes, w.data) != 0) {
            rc = oom(c);
        }
        for (uint32_t k = 0; k < nk && rc == PCR_OK; k++) {
            c->kids[k0 + k] = keys[k].kid;
        }
    }
    free(keys);
    pcr_wbuf_free(&w);
    return rc;
}

/* The hash-consing key of a node whose children have their values. */
static void
value_key(struct canon *c, pcr_wbuf *key, uint32_t i)
{
    const pcr_mnode *n = &c->t->nodes[i];
    if (n->nkids == 0 && n->type != TYPE_TUPLE &&
        n->type != TYPE_SMALL_TUPLE && n->type != TYPE_FROZENSET &&
        n->type != TYPE_SLICE && n->type != TYPE_FROZENDICT) {
        /* leaves: their canonical bytes (kind and value) */
        uint8_t saved = c->interned[i];
        c->interned[i] = 0; /* the text decides it; keep it out */
        write_leaf(c, key, i, 0);
        c->interned[i] = saved;
        return;
    }
    pcr_wbuf_u8(key, n->type == TYPE_SMALL_TUPLE ? TYPE_TUPLE : n->type);
    for (uint32_t k = c->kstart[i]; k < c->kstart[i + 1]; k++) {
        uint32_t kid = resolve(c, c->kids[k]);
        if (is_singleton(c->t->nodes[kid].type)) {
            pcr_wbuf_u8(key, 0);
            pcr_wbuf_u8(key, c->t->nodes[kid].type);
        } else {
            pcr_wbuf_u8(key, 1);
            pcr_wbuf_u32(key, c->val[kid]);
        }
    }
}

static int
mergeable_kind(unsigned type)
{
    const pcr_mtype *m = pcr_mtype_of(type);
    return m != NULL && m->mergeable;
}

/* Value ids, in post-order (children first).  A reference counts as its
 * target, which is complete unless it is an ancestor (a cycle, which
 * CPython's reader allows for tuples and lists): then the chain is not
 * mergeable. */
static pcr_status
assign_values(struct canon *c)
{
    uint32_t n = c->n;
    c->val = malloc((size_t)n * sizeof *c->val);
    c->state = calloc(n, 1);
    c->shared = calloc(n, 1);
    uint32_t *stack = malloc(((size_t)n + 1) * sizeof *stack);
    uint32_t *next = calloc(n, sizeof *next);
    pcr_wbuf key = {0};
    pcr_status rc = PCR_OK;
    if (c->val == NULL || c->state == NULL || c->shared == NULL ||
        stack == NULL || next == NULL) {
        rc = oom(c);
        goto end;
    }
    /* Ids 0..255 are never used by values (singletons carry their type
     * instead); provisional ids are unique. */
    c->nvalues = 256;
    uint32_t sp = 0;
    stack[sp++] = 0;
    c->state[0] = 1;
    c->val[0] = c->nvalues++;
    while (sp > 0 && rc == PCR_OK) {
        uint32_t i = stack[sp - 1];
        if (next[i] < c->kstart[i + 1] - c->kstart[i]) {
            uint32_t kid = c->kids[c->kstart[i] + next[i]++];
            if (c->t->nodes[kid].type == TYPE_REF ||
                is_singleton(c->t->nodes[kid].type)) {
                continue;
            }
            c->state[kid] = 1;
            c->val[kid] = c->nvalues++;
            stack[sp++] = kid;
            continue;
        }
        sp--;
        const pcr_mnode *nd = &c->t->nodes[i];
        int share = mergeable_kind(nd->type);
        for (uint32_t k = c->kstart[i]; k < c->kstart[i + 1] && share; k++) {
            uint32_t kid = resolve(c, c->kids[k]);
            share = is_singleton(c->t->nodes[kid].type) ||
                    (c->state[kid] == 2 && c->shared[kid]);
        }
        if (nd->type == TYPE_SET || nd->type == TYPE_FROZENSET) {
            rc = order_set(c, i);
        }
        if (rc == PCR_OK && share) {
            int found;
            struct entry *e;
            if (is_str(nd->type) || nd->type == TYPE_STRING) {
                /* a text's key is its payload, where it lies */
                size_t len;
                uint64_t h;
                const unsigned char *p = text(c, i, &len, &h);
                e = table_get(&c->values, h, is_str(nd->type) ? 1 : 2, p, len,
                              KEY_IN_INPUT, c->val[i], &found);
            } else {
                key.len = 0;
                value_key(c, &key, i);
                e = key.failed
                        ? NULL
                        : table_get(&c->values, hash_bytes(key.data, key.len),
                                    0, key.data, key.len, KEY_COPY, c->val[i],
                                    &found);
            }
            if (e == NULL) {
                rc = oom(c);
            } else {
                c->val[i] = e->value; /* the first node with this value */
            }
        }
        c->shared[i] = (uint8_t)share;
        c->state[i] = 2;
    }
end:
    free(stack);
    free(next);
    pcr_wbuf_free(&key);
    return rc;
}

/* ---------------------------------------------------------- the whole */

pcr_status
pcr_canonicalize(const unsigned char *data, size_t len,
                 const pcr_layout *layout, pcr_buf *out, pcr_error *err)
{
    out->data = NULL;
    out->len = 0;
    pcr_mtree t;
    pcr_status rc = pcr_mtree_parse(data, len, layout, &t, err);
    if (rc == PCR_OK) {
        rc = pcr_canonicalize_tree(data, len, layout, &t, out, err);
        pcr_mtree_free(&t);
    }
    return rc;
}

pcr_status
pcr_canonicalize_tree(const unsigned char *data, size_t len,
                      const pcr_layout *layout, const pcr_mtree *tree,
                      pcr_buf *out, pcr_error *err)
{
    out->data = NULL;
    out->len = 0;
    pcr_status rc;
    struct canon c = {.data = data,
                      .t = tree,
                      .layout = layout,
                      .err = err,
                      .n = tree->nnodes,
                      .plain_budget = 16 * len + (1u << 20)};
    c.text_hash = calloc((size_t)c.n + 1, sizeof *c.text_hash);
    if (c.text_hash == NULL) {
        rc = oom(&c);
    } else if ((rc = build_children(&c)) == PCR_OK &&
               (rc = decode_strings(&c)) == PCR_OK &&
               (rc = vote_interning(&c)) == PCR_OK) {
        rc = assign_values(&c);
    }
    if (rc == PCR_OK) {
        c.uses = calloc(c.nvalues, sizeof *c.uses);
        c.refidx = calloc(c.nvalues, sizeof *c.refidx);
        c.seen = calloc(c.nvalues, 1);
        if (c.uses == NULL || c.refidx == NULL || c.seen == NULL) {
            rc = oom(&c);
        }
    }
    if (rc == PCR_OK) {
        count_uses(&c, 0, 0, &rc);
    }
    if (rc == PCR_OK) {
        memset(c.seen, 0, c.nvalues);
        write_object(&c, &c.out, 0, 1, 0, &rc);
        if (rc == PCR_OK && c.out.failed) {
            rc = oom(&c);
        }
    }
    if (rc == PCR_OK) {
        out->data = c.out.data;
        out->len = c.out.len;
        c.out.data = NULL;
    }
    pcr_wbuf_free(&c.out);
    free(c.kids);
    free(c.kstart);
    free(c.interned);
    free(c.text_ptr);
    free(c.text_len);
    pcr_wbuf_free(&c.utf8_arena);
    free(c.text_hash);
    free(c.val);
    free(c.state);
    free(c.shared);
    free(c.uses);
    free(c.refidx);
    free(c.seen);
    table_free(&c.values);
    table_free(&c.texts);
    return rc;
}
