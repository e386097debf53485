/* SPDX-License-Identifier: MIT */
/* pyc.c - a .pyc as bytes: header + body, whether one is current, the
 * names of cache files (see pyc.h). */
#include <stdlib.h>
#include <string.h>

#include "canonical.h"
#include "header.h"
#include "marshal_tree.h"
#include "pyc.h"

pcr_status
pcr_assemble(const unsigned char header[PCR_HEADER_SIZE], const pcr_buf *body,
             pcr_buf *out, pcr_error *err)
{
    out->data = malloc(PCR_HEADER_SIZE + body->len);
    if (out->data == NULL) {
        out->len = 0;
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    memcpy(out->data, header, PCR_HEADER_SIZE);
    if (body->len) {
        memcpy(out->data + PCR_HEADER_SIZE, body->data, body->len);
    }
    out->len = PCR_HEADER_SIZE + body->len;
    return PCR_OK;
}

int
pcr_pyc_is_current(const unsigned char *pyc, size_t len,
                   const unsigned char header[PCR_HEADER_SIZE],
                   const char *record)
{
    if (len < PCR_HEADER_SIZE || memcmp(pyc, header, PCR_HEADER_SIZE) != 0) {
        return 0;
    }
    /* compileall stops at the header (gh-117204): we also make sure the
     * file records the name we would record (-d, -s, -p), and that it is
     * canonical (a .pyc that another tool wrote is written again). */
    const pcr_layout *L = pcr_layout_for_magic(pcr_le32(pyc));
    const unsigned char *body = pyc + PCR_HEADER_SIZE;
    size_t blen = len - PCR_HEADER_SIZE;
    pcr_mtree tree;
    if (L == NULL || pcr_mtree_parse(body, blen, L, &tree, NULL) != PCR_OK) {
        return 0;
    }
    int current = 0;
    const unsigned char *name;
    size_t n;
    uint32_t fn = tree.nodes[0].type == TYPE_CODE
                      ? pcr_mtree_child(&tree, 0, (unsigned)L->filename_slot)
                      : PCR_NONE;
    if (fn != PCR_NONE &&
        pcr_mtree_string(&tree, body, fn, &name, &n) == PCR_OK) {
        current = n == strlen(record) && memcmp(name, record, n) == 0;
    }
    if (current) {
        pcr_buf canon;
        pcr_error err;
        current = pcr_canonicalize_tree(body, blen, L, &tree, &canon, &err) ==
                      PCR_OK &&
                  canon.len == blen && memcmp(canon.data, body, blen) == 0;
        pcr_buf_free(&canon);
    }
    pcr_mtree_free(&tree);
    return current;
}

int
pcr_pyc_name_parse(const char *name, const char *base, size_t blen,
                   const char **tag, size_t *tlen, int *level)
{
    size_t len = strlen(name);
    if (len <= blen + 5 || strncmp(name, base, blen) != 0 ||
        name[blen] != '.' || strcmp(name + len - 4, ".pyc") != 0) {
        return 0;
    }
    const char *t = name + blen + 1;
    size_t n = len - blen - 1 - 4;
    *level = 0;
    if (n > 6 && strncmp(t + n - 6, ".opt-", 5) == 0 &&
        (t[n - 1] == '1' || t[n - 1] == '2')) {
        *level = t[n - 1] - '0';
        n -= 6;
    }
    if (n == 0 || memchr(t, '.', n) != NULL) {
        return 0; /* another source's (a.b.py gives a.b.TAG.pyc) */
    }
    *tag = t;
    *tlen = n;
    return 1;
}

size_t
pcr_source_base_len(const char *base)
{
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? (size_t)(dot - base) : strlen(base);
}
