/*
 * canonical.c - the canonical form of marshal data.
 *
 * CPython's marshal sets FLAG_REF on an object when its reference count is
 * above one, so the bytes depend on what else the process holds
 * (gh-78274, gh-98819, gh-129724).  The canonical form keeps FLAG_REF only
 * on objects that a later TYPE_REF really points to and renumbers the
 * references in stream order -- Fedora's marshalparser --fix form.
 *
 * One more rule, ours: a one-character latin-1 string is written as
 * interned ('Z', 'A' or 't').  marshal writes such a string as interned
 * only if the process-wide singleton happens to be interned (gh-93317);
 * we intern all of them at start-up, and this rule gives .pyc files from
 * other tools the same form.  The type of the object does not change, and
 * the reader registers both codes alike.
 *
 * The rewrite flips bits, changes type codes of the same size and patches
 * 4-byte indices, so the length never changes and it is done in place.
 */
#include <stdlib.h>

#include "pcr_private.h"

#define FLAG_REF 0x80

/* A non-interned string of exactly one character below U+0100? */
static int
one_latin1_char(unsigned type, const unsigned char *p)
{
    switch (type) {
    case 'z':
        return p[1] == 1;
    case 'a':
        return pcr_le32(p + 1) == 1;
    case 'u': {
        uint32_t n = pcr_le32(p + 1);
        /* UTF-8: one ASCII byte, or C2/C3 + continuation (U+0080-00FF) */
        return (n == 1 && p[5] < 0x80) ||
               (n == 2 && (p[5] == 0xc2 || p[5] == 0xc3) &&
                (p[6] & 0xc0) == 0x80);
    }
    default:
        return 0;
    }
}

pcr_status
pcr_marshal_canonicalize(unsigned char *data, size_t len, const char *layout,
                         pcr_error *err)
{
    pcr_mtree tree;
    pcr_status rc = pcr_mtree_parse(data, len, layout, &tree, err);
    if (rc != PCR_OK) {
        return rc;
    }
    /* New index of each kept reference: its rank among the kept ones.
     * Registration is in stream order, so ranks follow stream order. */
    uint32_t *renumber = malloc(((size_t)tree.nrefs + 1) * sizeof *renumber);
    if (renumber == NULL) {
        pcr_mtree_free(&tree);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < tree.nrefs; i++) {
        renumber[i] = tree.ref_uses[i] ? kept++ : PCR_NONE;
    }
    for (uint32_t i = 0; i < tree.nnodes; i++) {
        const pcr_mnode *n = &tree.nodes[i];
        unsigned char *code = data + n->offset;
        if (one_latin1_char(n->type, code)) {
            *code =
                (unsigned char)((*code & FLAG_REF) | (n->type == 'z'   ? 'Z'
                                                      : n->type == 'a' ? 'A'
                                                                       : 't'));
        }
        if (n->type == 'r') {
            pcr_put_le32(data + n->offset + 1, renumber[n->ref]);
        }
        int keep = n->ref != PCR_NONE && n->type != 'r' &&
                   renumber[n->ref] != PCR_NONE;
        if (keep) {
            data[n->offset] |= FLAG_REF;
        } else {
            data[n->offset] &= (unsigned char)~FLAG_REF;
        }
    }
    free(renumber);
    pcr_mtree_free(&tree);
    return PCR_OK;
}
