/* SPDX-License-Identifier: MIT */
/* pyc_files.c - where a .pyc goes, the header we would give it, and
 * reading one back (see pyc_files.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "files.h"
#include "header.h"
#include "paths.h"
#include "pyc_files.h"

char *
pcr_output_path(const pcr_plan *plan, const pcr_pythons *t, const char *source,
                int py, int level)
{
    if (plan->legacy) {
        /* compileall -b: fullname + 'c', whatever the level */
        size_t n = strlen(source);
        char *out = malloc(n + 2);
        if (out != NULL) {
            memcpy(out, source, n);
            memcpy(out + n, "c", 2);
        }
        return out;
    }
    if (plan->pycache_prefix != NULL) {
        return pcr_prefix_cache_path(plan->pycache_prefix, plan->phys_cwd,
                                     source, t->v[py].tag, level);
    }
    return pcr_cache_path(source, t->v[py].tag, level);
}

char *
pcr_pyc_dir(const pcr_plan *plan, const char *source)
{
    const char *slash = strrchr(source, '/');
    size_t dlen = slash ? (size_t)(slash - source + 1) : 0;
    if (plan->pycache_prefix == NULL) {
        size_t n = dlen + sizeof "__pycache__/";
        char *out = malloc(n);
        if (out != NULL) {
            snprintf(out, n, "%.*s__pycache__/", (int)dlen, source);
        }
        return out;
    }
    char *p = pcr_prefix_cache_path(plan->pycache_prefix, plan->phys_cwd,
                                    source, "t", 0);
    char *cut = p ? strrchr(p, '/') : NULL;
    if (cut != NULL) {
        cut[1] = '\0';
    }
    return p;
}

void
pcr_make_header(const pcr_plan *plan, const pcr_pythons *t, int py,
                const pcr_source *src, const unsigned char hash[8],
                unsigned char out[PCR_HEADER_SIZE])
{
    static const unsigned char zero[8];
    pcr_header h;
    pcr_header_init(&h, t->v[py].magic, plan->mode,
                    pcr_mtime32(src->mtime_sec, src->mtime_nsec),
                    (uint32_t)(src->size & 0xffffffffu), hash ? hash : zero);
    pcr_header_pack(&h, out);
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
