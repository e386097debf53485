/*
 * pyc_file.c - one source file to its .pyc files: read it once, then for
 * each optimisation level compile, canonicalise, put the PEP 552 header in
 * front and write the cache file atomically.
 */
#include <stdlib.h>
#include <string.h>

#include "pcr_private.h"

void
pcr_options_init(pcr_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->mode = pcr_default_invalidation();
}

pcr_status
pcr_options_add_level(pcr_options *opt, int level, pcr_error *err)
{
    if (level < 0 || level > 2) {
        return pcr_set_error(err, PCR_FAIL,
                             "optimisation level must be 0, 1 or 2, not %d",
                             level);
    }
    int i = 0;
    while (i < opt->nlevels && opt->levels[i] < level) {
        i++;
    }
    if (i < opt->nlevels && opt->levels[i] == level) {
        return PCR_OK;
    }
    memmove(opt->levels + i + 1, opt->levels + i,
            (size_t)(opt->nlevels - i) * sizeof opt->levels[0]);
    opt->levels[i] = level;
    opt->nlevels++;
    return PCR_OK;
}

pcr_status
pcr_build_pyc(const pcr_options *opt, const pcr_source *src,
              const char *record_name, int optimize, pcr_buf *out,
              pcr_error *err)
{
    unsigned char hash[8] = {0};
    pcr_status rc;
    out->data = NULL;
    out->len = 0;
    if (opt->mode != PCR_TIMESTAMP) {
        rc = pcr_source_hash(src->bytes.data, src->bytes.len, hash, err);
        if (rc != PCR_OK) {
            return rc;
        }
    }
    pcr_buf body;
    rc = pcr_compile_to_marshal(src->bytes.data, src->bytes.len,
                                record_name, optimize, &body, err);
    if (rc != PCR_OK) {
        return rc;
    }
    pcr_header h;
    pcr_header_init(&h, opt->mode,
                    pcr_mtime32(src->mtime_sec, src->mtime_nsec),
                    (uint32_t)(src->size & 0xffffffffu), hash);
    out->data = malloc(PCR_HEADER_SIZE + body.len);
    if (out->data == NULL) {
        pcr_buf_free(&body);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    pcr_header_pack(&h, out->data);
    memcpy(out->data + PCR_HEADER_SIZE, body.data, body.len);
    out->len = PCR_HEADER_SIZE + body.len;
    pcr_buf_free(&body);
    return PCR_OK;
}

pcr_status
pcr_compile_file(const pcr_options *opt, const char *path,
                 const char *relpath, pcr_error *err)
{
    static const int level0[1] = {0};
    const int *levels = opt->nlevels ? opt->levels : level0;
    int nlevels = opt->nlevels ? opt->nlevels : 1;
    pcr_source src;
    pcr_status rc = pcr_source_read(path, &src, err);
    if (rc != PCR_OK) {
        return rc;
    }
    char *record =
        pcr_record_name(path, relpath, opt->ddir, opt->strip, opt->prepend);
    if (record == NULL) {
        pcr_source_free(&src);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    /* Compile every level before writing any, so that a source that
     * fails leaves all its existing .pyc files as they were. */
    pcr_buf pyc[PCR_MAX_LEVELS] = {{0}};
    for (int i = 0; i < nlevels && rc == PCR_OK; i++) {
        rc = pcr_build_pyc(opt, &src, record, levels[i], &pyc[i], err);
    }
    /* importlib's _calc_mode: the source's mode, owner-writable. */
    mode_t mode = (src.mode | 0200) & 0666;
    for (int i = 0; i < nlevels && rc == PCR_OK; i++) {
        char *cpath = pcr_cache_path(path, levels[i]);
        if (cpath == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
            break;
        }
        rc = pcr_write_atomic(cpath, pyc[i].data, pyc[i].len, mode, err);
        free(cpath);
    }
    for (int i = 0; i < nlevels; i++) {
        pcr_buf_free(&pyc[i]);
    }
    free(record);
    pcr_source_free(&src);
    return rc;
}
