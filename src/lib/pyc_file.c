/*
 * pyc_file.c - one source file to its .pyc files: read it once, then for
 * each optimisation level compile, canonicalise, put the PEP 552 header in
 * front and write the cache file atomically.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pcr_private.h"

void
pcr_options_init(pcr_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->mode = pcr_default_invalidation();
    opt->clamp_epoch = -1;
}

/* Fedora's clamp_source_mtime: a source newer than SOURCE_DATE_EPOCH gets
 * that time, so a TIMESTAMP .pyc is both reproducible and valid. */
static pcr_status
clamp_source(const char *path, int64_t epoch, pcr_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
        (int64_t)st.st_mtim.tv_sec < epoch ||
        ((int64_t)st.st_mtim.tv_sec == epoch && st.st_mtim.tv_nsec == 0)) {
        return PCR_OK; /* reading it will say what is wrong, if anything */
    }
    struct timespec times[2] = {{.tv_nsec = UTIME_OMIT},
                                {.tv_sec = (time_t)epoch, .tv_nsec = 0}};
    if (utimensat(AT_FDCWD, path, times, 0) != 0) {
        return pcr_set_errno(err, PCR_FAIL, errno,
                             "cannot clamp the mtime to %lld",
                             (long long)epoch);
    }
    return PCR_OK;
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

/* The header bytes we would write for this source. */
pcr_status
pcr_pyc_header(const pcr_options *opt, const pcr_source *src,
               unsigned char out[16], pcr_error *err)
{
    unsigned char hash[8] = {0};
    if (opt->mode != PCR_TIMESTAMP) {
        pcr_status rc =
            pcr_source_hash(src->bytes.data, src->bytes.len, hash, err);
        if (rc != PCR_OK) {
            return rc;
        }
    }
    pcr_header h;
    pcr_header_init(&h, opt->mode,
                    pcr_mtime32(src->mtime_sec, src->mtime_nsec),
                    (uint32_t)(src->size & 0xffffffffu), hash);
    pcr_header_pack(&h, out);
    return PCR_OK;
}

/* header + canonical marshal for one level. */
pcr_status
pcr_pyc_assemble(const unsigned char header[16], const pcr_source *src,
                 const char *record_name, int optimize, pcr_buf *out,
                 pcr_error *err)
{
    out->data = NULL;
    out->len = 0;
    pcr_buf body;
    pcr_status rc = pcr_compile_to_marshal(src->bytes.data, src->bytes.len,
                                           record_name, optimize, &body, err);
    if (rc != PCR_OK) {
        return rc;
    }
    out->data = malloc(PCR_HEADER_SIZE + body.len);
    if (out->data == NULL) {
        pcr_buf_free(&body);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    memcpy(out->data, header, PCR_HEADER_SIZE);
    memcpy(out->data + PCR_HEADER_SIZE, body.data, body.len);
    out->len = PCR_HEADER_SIZE + body.len;
    pcr_buf_free(&body);
    return PCR_OK;
}

pcr_status
pcr_build_pyc(const pcr_options *opt, const pcr_source *src,
              const char *record_name, int optimize, pcr_buf *out,
              pcr_error *err)
{
    unsigned char header[PCR_HEADER_SIZE];
    out->data = NULL;
    out->len = 0;
    pcr_status rc = pcr_pyc_header(opt, src, header, err);
    if (rc != PCR_OK) {
        return rc;
    }
    return pcr_pyc_assemble(header, src, record_name, optimize, out, err);
}

char *
pcr_output_path(const pcr_options *opt, const char *source, int optimize)
{
    if (opt->legacy) {
        /* compileall -b: fullname + 'c', whatever the level */
        size_t n = strlen(source);
        char *out = malloc(n + 2);
        if (out != NULL) {
            memcpy(out, source, n);
            out[n] = 'c';
            out[n + 1] = '\0';
        }
        return out;
    }
    return pcr_cache_path(source, optimize);
}

int
pcr_pyc_is_current(const unsigned char *pyc, size_t len,
                   const unsigned char header[16], const char *record_name)
{
    if (len < PCR_HEADER_SIZE || memcmp(pyc, header, PCR_HEADER_SIZE) != 0) {
        return 0;
    }
    /* compileall stops at the header (gh-117204): we also make sure the
     * file records the name we would record (-d, -s, -p). */
    const char *layout = pcr_code_layout(pcr_le32(pyc));
    pcr_mtree tree;
    if (layout == NULL ||
        pcr_mtree_parse(pyc + PCR_HEADER_SIZE, len - PCR_HEADER_SIZE, layout,
                        &tree, NULL) != PCR_OK) {
        return 0;
    }
    int current = 0;
    const unsigned char *name;
    size_t n;
    uint32_t fn = tree.nodes[0].type == 'c'
                      ? pcr_mtree_child(&tree, 0, PCR_CODE_FILENAME_SLOT)
                      : PCR_NONE;
    if (fn != PCR_NONE && pcr_mtree_string(&tree, pyc + PCR_HEADER_SIZE, fn,
                                           &name, &n) == PCR_OK) {
        current =
            n == strlen(record_name) && memcmp(name, record_name, n) == 0;
    }
    pcr_mtree_free(&tree);
    return current;
}

/* Read an existing output file, if it is a regular file of sane size. */
static int
read_existing(const char *path, pcr_buf *out)
{
    pcr_source s;
    if (pcr_source_read(path, &s, NULL) != PCR_OK) {
        return 0;
    }
    *out = s.bytes;
    return 1;
}

static int
all_current(const pcr_options *opt, const char *path,
            const unsigned char header[16], const char *record,
            const int *levels, int nlevels)
{
    for (int i = 0; i < nlevels; i++) {
        char *cpath = pcr_output_path(opt, path, levels[i]);
        pcr_buf old = {0};
        int ok = cpath != NULL && read_existing(cpath, &old) &&
                 pcr_pyc_is_current(old.data, old.len, header, record);
        pcr_buf_free(&old);
        free(cpath);
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

pcr_status
pcr_compile_file(const pcr_options *opt, const char *path, const char *relpath,
                 pcr_outcome *outcome, pcr_error *err)
{
    static const int level0[1] = {0};
    const int *levels = opt->nlevels ? opt->levels : level0;
    int nlevels = opt->nlevels ? opt->nlevels : 1;
    *outcome = PCR_COMPILED;
    pcr_source src;
    pcr_status rc = PCR_OK;
    if (opt->clamp_epoch >= 0) {
        rc = clamp_source(path, opt->clamp_epoch, err);
    }
    if (rc == PCR_OK) {
        rc = pcr_source_read(path, &src, err);
    }
    if (rc != PCR_OK) {
        return rc;
    }
    char *record =
        pcr_record_name(path, relpath, opt->ddir, opt->strip, opt->prepend);
    if (record == NULL) {
        pcr_source_free(&src);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    pcr_buf pyc[PCR_MAX_LEVELS] = {{0}};
    char *cpath[PCR_MAX_LEVELS] = {0};
    unsigned char header[PCR_HEADER_SIZE];

    /* Hashing the source costs far less than compiling it. */
    rc = pcr_pyc_header(opt, &src, header, err);
    if (rc == PCR_OK && !opt->force &&
        all_current(opt, path, header, record, levels, nlevels)) {
        *outcome = PCR_UP_TO_DATE;
        goto end;
    }
    /* Compile every level before writing any, so that a source that
     * fails leaves all its existing .pyc files as they were. */
    for (int i = 0; i < nlevels && rc == PCR_OK; i++) {
        rc = pcr_pyc_assemble(header, &src, record, levels[i], &pyc[i], err);
        if (rc == PCR_OK &&
            (cpath[i] = pcr_output_path(opt, path, levels[i])) == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
        }
    }
    for (int i = 0; i < nlevels && rc == PCR_OK && opt->before_write; i++) {
        rc = opt->before_write(opt->before_write_ctx, i, &pyc[i], err);
    }
    /* importlib's _calc_mode: the source's mode, owner-writable. */
    mode_t mode = (src.mode | 0200) & 0666;
    for (int i = 0; i < nlevels && rc == PCR_OK; i++) {
        int dupe = i > 0 && opt->hardlink_dupes && !opt->legacy &&
                   pyc[i].len == pyc[i - 1].len &&
                   memcmp(pyc[i].data, pyc[i - 1].data, pyc[i].len) == 0;
        rc = dupe ? pcr_link_atomic(cpath[i - 1], cpath[i], err)
                  : pcr_write_atomic(cpath[i], pyc[i].data, pyc[i].len, mode,
                                     err);
    }
end:
    for (int i = 0; i < nlevels; i++) {
        pcr_buf_free(&pyc[i]);
        free(cpath[i]);
    }
    free(record);
    pcr_source_free(&src);
    return rc;
}
