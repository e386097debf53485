/* SPDX-License-Identifier: MIT */
/*
 * marshal_tree.h - the marshal stream walker (marshal_tree.c): one marshal
 * object read into a flat array of nodes in stream order.  Not installed.
 *
 * The walker never trusts its input: lengths are checked against the
 * data, nesting is limited, references must point to objects already
 * registered (and complete, for the kinds CPython's reader reserves),
 * unknown type codes are errors, and so is a UTF-8 string (t, u) that
 * CPython's reader would not decode.
 */
#ifndef PCR_MARSHAL_TREE_H
#define PCR_MARSHAL_TREE_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include "marshal_format.h"
#include "common.h"

#define PCR_NONE UINT32_MAX
#define PCR_MARSHAL_MAX_DEPTH 2000

typedef struct pcr_mnode {
    uint32_t offset; /* offset of the type byte */
    uint32_t end;    /* offset just past the object */
    uint32_t parent; /* node index of the container, PCR_NONE at the root */
    uint32_t ref;    /* registered object: its reference index; TYPE_REF:
                        the index it points to; else PCR_NONE */
    uint32_t nkids;  /* number of direct children */
    uint16_t slot;   /* position in the parent (field or element number,
                        saturating at 65535) */
    uint8_t type;    /* type code without FLAG_REF */
    uint8_t flagged; /* FLAG_REF was set on the type byte */
} pcr_mnode;

typedef struct pcr_mtree {
    pcr_mnode *nodes; /* in stream (pre-)order; nodes[0] is the root */
    uint32_t nnodes;
    uint32_t *refs; /* reference index -> node index */
    uint32_t nrefs;
    uint32_t *ref_uses;       /* reference index -> number of TYPE_REF to it */
    const pcr_layout *layout; /* code objects' layout, or NULL */
} pcr_mtree;

/* Parse one object filling the whole of data (trailing bytes are an
 * error).  layout: of the file's magic, or NULL (then code objects are an
 * error). */
pcr_status pcr_mtree_parse(const unsigned char *data, size_t len,
                           const pcr_layout *layout, pcr_mtree *tree,
                           pcr_error *err);
void pcr_mtree_free(pcr_mtree *tree);
/* Follow a TYPE_REF node to the object it stands for. */
uint32_t pcr_mtree_resolve(const pcr_mtree *tree, uint32_t node);
/* Child number slot of a container node (after resolving), or PCR_NONE. */
uint32_t pcr_mtree_child(const pcr_mtree *tree, uint32_t node, unsigned slot);
/* Is s valid UTF-8 as CPython's reader takes TYPE_UNICODE: shortest
 * forms up to U+10FFFF, surrogates allowed ("surrogatepass")? */
int pcr_utf8_valid(const unsigned char *s, size_t n);
/* The bytes of a string-like node (s t u a A z Z), resolved: UTF-8 for t
 * and u, latin-1 (one byte a code point, any byte) for a A z Z -- as
 * CPython's reader takes them. */
pcr_status pcr_mtree_string(const pcr_mtree *tree, const unsigned char *data,
                            uint32_t node, const unsigned char **ptr,
                            size_t *len);

#endif
