/* SPDX-License-Identifier: MIT */
/*
 * dump.c - a .pyc shown as a person needs it when a check fails: the
 * header, then one line per marshal object with its offset, type code,
 * FLAG_REF mark and reference index, and where each TYPE_REF points.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "dump.h"
#include "header.h"
#include "marshal_format.h"
#include "marshal_tree.h"

static const char *
type_name(unsigned t)
{
    const pcr_mtype *m = pcr_mtype_of(t);
    return m ? m->name : "?";
}

static void
print_value(FILE *out, const pcr_mtree *t, const unsigned char *data,
            uint32_t i)
{
    const pcr_mnode *n = &t->nodes[i];
    const unsigned char *s;
    size_t len;
    if (pcr_mtree_string(t, data, i, &s, &len) == PCR_OK && n->type != 'r') {
        fputs(" '", out);
        for (size_t k = 0; k < len && k < 80; k++) {
            if (s[k] >= 0x20 && s[k] < 0x7f && s[k] != '\'' && s[k] != '\\') {
                fputc(s[k], out);
            } else {
                fprintf(out, "\\x%02x", s[k]);
            }
        }
        fprintf(out, "'%s", len > 80 ? "..." : "");
        return;
    }
    switch (n->type) {
    case 'i':
        fprintf(out, " %" PRId32, (int32_t)pcr_le32(data + n->offset + 1));
        break;
    case '(':
    case ')':
    case '[':
    case '<':
    case '>':
        fprintf(out, " (%u items)", (unsigned)n->nkids);
        break;
    case '{':
    case '}':
        fprintf(out, " (%u pairs)", (unsigned)(n->nkids / 2));
        break;
    default:
        break;
    }
}

pcr_status
pcr_dump_pyc(FILE *out, const unsigned char *data, size_t len, pcr_error *err)
{
    pcr_header h;
    pcr_status rc = pcr_header_unpack(data, len, &h, err);
    if (rc != PCR_OK) {
        return rc;
    }
    fprintf(out, "header: magic %u (%02x %02x %02x %02x), flags %u (%s)",
            (unsigned)(h.magic & 0xffff), data[0], data[1], data[2], data[3],
            (unsigned)h.flags,
            h.flags == 0   ? "timestamp"
            : h.flags == 3 ? "checked-hash"
                           : "unchecked-hash");
    if (h.flags & 1) {
        fputs(", source hash ", out);
        for (int k = 0; k < 8; k++) {
            fprintf(out, "%02x", h.hash[k]);
        }
        fputc('\n', out);
    } else {
        fprintf(out, ", mtime %" PRIu32 ", size %" PRIu32 "\n", h.mtime,
                h.size);
    }
    const pcr_layout *layout = pcr_layout_for_magic(h.magic);
    if (layout == NULL) {
        return pcr_set_error(err, PCR_FAIL,
                             "unknown Python version (magic %u): cannot "
                             "read its code objects",
                             (unsigned)(h.magic & 0xffff));
    }
    pcr_mtree t;
    rc = pcr_mtree_parse(data + PCR_HEADER_SIZE, len - PCR_HEADER_SIZE, layout,
                         &t, err);
    if (rc != PCR_OK) {
        return rc;
    }
    const unsigned char *body = data + PCR_HEADER_SIZE;
    /* depth of each node from its parent's: parents come first */
    uint16_t *depths = malloc((size_t)t.nnodes * sizeof *depths);
    if (depths == NULL) {
        pcr_mtree_free(&t);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    pcr_buf canon;
    pcr_error ce;
    int canonical = pcr_canonicalize(body, len - PCR_HEADER_SIZE, layout,
                                     &canon, &ce) == PCR_OK &&
                    canon.len == len - PCR_HEADER_SIZE &&
                    memcmp(canon.data, body, canon.len) == 0;
    pcr_buf_free(&canon);
    fprintf(out, "CPython %s code, canonical form %d: %s\n", layout->series,
            PCR_CANONICAL_FORM, canonical ? "yes" : "no");
    fputs("offset  depth object\n", out);
    for (uint32_t i = 0; i < t.nnodes; i++) {
        const pcr_mnode *n = &t.nodes[i];
        unsigned depth = n->parent == PCR_NONE ? 0 : depths[n->parent] + 1u;
        depths[i] = (uint16_t)depth;
        fprintf(out, "%6u %*s", n->offset + PCR_HEADER_SIZE, (int)depth * 2,
                "");
        if (n->parent != PCR_NONE && t.nodes[n->parent].type == TYPE_CODE) {
            const char *f = n->slot < strlen(layout->fields)
                                ? layout->names[n->slot]
                                : "?";
            fprintf(out, "%s: ", f);
        }
        fprintf(out, "%c%s %s", n->type, n->flagged ? "+REF" : "",
                type_name(n->type));
        if (n->type == 'r') {
            uint32_t target = t.refs[n->ref];
            fprintf(out, " -> #%u (offset %u, %c)", (unsigned)n->ref,
                    t.nodes[target].offset + PCR_HEADER_SIZE,
                    t.nodes[target].type);
            print_value(out, &t, body, target);
        } else {
            print_value(out, &t, body, i);
            if (n->ref != PCR_NONE) {
                fprintf(out, "  [#%u, %u use%s]", (unsigned)n->ref,
                        (unsigned)t.ref_uses[n->ref],
                        t.ref_uses[n->ref] == 1 ? "" : "s");
            }
        }
        fputc('\n', out);
    }
    fprintf(out, "%u objects, %u references registered\n", (unsigned)t.nnodes,
            (unsigned)t.nrefs);
    free(depths);
    pcr_mtree_free(&t);
    return PCR_OK;
}
