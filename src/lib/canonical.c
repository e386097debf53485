/*
 * canonical.c - the canonical form of marshal data.
 *
 * CPython's marshal sets FLAG_REF on an object when its reference count is
 * above one, so the bytes depend on what else the process holds
 * (gh-78274, gh-98819, gh-129724).  The canonical form keeps FLAG_REF only
 * on objects that a later TYPE_REF really points to and renumbers the
 * references in stream order -- Fedora's marshalparser --fix form.  The
 * rewrite flips bits and patches 4-byte indices, so the length never
 * changes and it is done in place.
 */
#include <stdlib.h>

#include "pcr_private.h"

#define FLAG_REF 0x80

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
