/* SPDX-License-Identifier: MIT */
/* pyc_bytes.c - where a .pyc goes, its header, and whether an existing
 * one is current (see pyc_bytes.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "canonical.h"
#include "marshal_tree.h"
#include "pyc_bytes.h"

char *
pcr_output_path(const pcr *p, const char *source, int py, int level)
{
    if (p->legacy) {
        /* compileall -b: fullname + 'c', whatever the level */
        size_t n = strlen(source);
        char *out = malloc(n + 2);
        if (out != NULL) {
            memcpy(out, source, n);
            memcpy(out + n, "c", 2);
        }
        return out;
    }
    return pcr_cache_path(source, p->py[py].tag, level);
}

void
pcr_make_header(const pcr *p, int py, const pcr_source *src,
                const unsigned char hash[8], unsigned char out[16])
{
    static const unsigned char zero[8];
    pcr_header h;
    pcr_header_init(&h, p->py[py].magic, p->mode,
                    pcr_mtime32(src->mtime_sec, src->mtime_nsec),
                    (uint32_t)(src->size & 0xffffffffu), hash ? hash : zero);
    pcr_header_pack(&h, out);
}

pcr_status
pcr_assemble(const unsigned char header[16], const pcr_buf *body, pcr_buf *out,
             pcr_error *err)
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
                   const unsigned char header[16], const char *record)
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

pcr_status
pcr_read_pyc(const char *path, pcr_buf *out, int *missing, pcr_error *err)
{
    out->data = NULL;
    out->len = 0;
    *missing = 0;
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            *missing = 1;
            return pcr_set_error(err, PCR_FAIL, "no .pyc");
        }
        return pcr_set_errno(err, PCR_FAIL, errno, "cannot stat");
    }
    pcr_source s;
    pcr_status rc = pcr_source_read(path, PCR_MAX_PYC, &s, err);
    if (rc == PCR_OK) {
        *out = s.bytes;
    }
    return rc;
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
