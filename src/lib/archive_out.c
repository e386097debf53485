/* SPDX-License-Identifier: MIT */
/*
 * archive_out.c - writing a list of entries as a reproducible tar or zip
 * with libarchive: entries sorted by the caller, owner 0:0 "root",
 * normalised modes, whole-second mtimes, restricted pax (no atime/ctime
 * records), gzip without time or name, and the output written to a
 * temporary file (O_EXCL|O_NOFOLLOW, write_atomic.c) renamed into place,
 * so an error leaves nothing behind and the target must be a regular
 * file or absent.
 *
 * Names are bytes, whatever the caller's locale: libarchive runs under a
 * UTF-8 locale in this thread, so UTF-8 names are written as UTF-8 (zip:
 * with the UTF-8 flag, as wheels want).
 *
 * libarchive's zip writer converts mtimes to DOS date/time with
 * localtime_r(), and writes the same mtime into its UT extra field, so no
 * adjusted mtime can fix the DOS field alone: the zip is written with
 * TZ=UTC0, restored afterwards -- the one process-wide change the library
 * makes (said in pycompile_repro.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lazy_libs.h"
#include "pcr_archive.h"
#include "paths.h"

int
pcr_aformat_from_name(const char *path)
{
    if (pcr_ends_with(path, ".tar")) {
        return PCR_AR_TAR;
    }
    if (pcr_ends_with(path, ".tar.gz") || pcr_ends_with(path, ".tgz")) {
        return PCR_AR_TAR_GZ;
    }
    if (pcr_ends_with(path, ".tar.xz")) {
        return PCR_AR_TAR_XZ;
    }
    if (pcr_ends_with(path, ".tar.zst")) {
        return PCR_AR_TAR_ZST;
    }
    if (pcr_ends_with(path, ".whl")) {
        return PCR_AR_ZIP;
    }
    return -1;
}

pcr_status
pcr_alist_add(pcr_alist *l, const char *name, int is_dir, mode_t mode,
              int64_t mtime, const unsigned char *data, size_t len,
              pcr_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        pcr_aentry *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            return pcr_set_error(err, PCR_ENV, "out of memory");
        }
        l->v = v;
        l->cap = cap;
    }
    pcr_aentry *e = &l->v[l->n];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    if (e->name == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    e->is_dir = is_dir;
    e->mode = mode;
    e->mtime = mtime;
    if (!is_dir) {
        e->data.data = malloc(len ? len : 1);
        if (e->data.data == NULL) {
            free(e->name);
            return pcr_set_error(err, PCR_ENV, "out of memory");
        }
        if (len) {
            memcpy(e->data.data, data, len);
        }
        e->data.len = len;
    }
    l->n++;
    return PCR_OK;
}

void
pcr_alist_free(pcr_alist *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        pcr_buf_free(&l->v[i].data);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const pcr_aentry *)a)->name,
                  ((const pcr_aentry *)b)->name);
}

pcr_status
pcr_alist_sort_unique(pcr_alist *l, pcr_error *err)
{
    if (l->n > 1) {
        qsort(l->v, l->n, sizeof *l->v, by_name);
    }
    for (size_t i = 1; i < l->n; i++) {
        if (strcmp(l->v[i].name, l->v[i - 1].name) == 0) {
            return pcr_set_error(err, PCR_FAIL, "%s is named twice",
                                 l->v[i].name);
        }
    }
    return PCR_OK;
}

static pcr_status
la_error(struct archive *a, const char *what, pcr_error *err)
{
    return pcr_set_error(err, PCR_FAIL, "%s: %s", what,
                         archive_error_string(a) ? archive_error_string(a)
                                                 : "libarchive error");
}

static pcr_status
configure(struct archive *a, int format, pcr_error *err)
{
    int r = ARCHIVE_OK;
    if (format == PCR_AR_ZIP) {
        r = archive_write_set_format_zip(a);
        if (r == ARCHIVE_OK) {
            r = archive_write_zip_set_compression_deflate(a);
        }
        if (r == ARCHIVE_OK) {
            r = archive_write_set_options(a, "zip:hdrcharset=UTF-8");
        }
    } else {
        r = archive_write_set_format_pax_restricted(a);
        if (r == ARCHIVE_OK && format == PCR_AR_TAR_GZ) {
            r = archive_write_add_filter_gzip(a);
            /* no time (and no name) in the gzip header */
            if (r == ARCHIVE_OK) {
                r = archive_write_set_options(a, "gzip:!timestamp");
            }
        } else if (r == ARCHIVE_OK && format == PCR_AR_TAR_XZ) {
            r = archive_write_add_filter_xz(a);
        } else if (r == ARCHIVE_OK && format == PCR_AR_TAR_ZST) {
            r = archive_write_add_filter_zstd(a);
        }
    }
    return r == ARCHIVE_OK ? PCR_OK : la_error(a, "archive format", err);
}

static pcr_status
write_entries(struct archive *a, int zip, const pcr_alist *l, pcr_error *err)
{
    struct archive_entry *e = archive_entry_new();
    if (e == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    pcr_status rc = PCR_OK;
    for (size_t i = 0; i < l->n && rc == PCR_OK; i++) {
        const pcr_aentry *x = &l->v[i];
        archive_entry_clear(e);
        /* the name's bytes; libarchive runs under a UTF-8 locale (see
         * pcr_locale_utf8_begin), so UTF-8 names go into pax and zip
         * headers as UTF-8, and a tar name that is not UTF-8 gets pax's
         * hdrcharset=BINARY */
        (void)zip;
        archive_entry_set_pathname(e, x->name);
        archive_entry_set_filetype(e, x->is_dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, x->mode & 07777);
        archive_entry_set_mtime(e, (time_t)x->mtime, 0);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        archive_entry_set_uname(e, "root");
        archive_entry_set_gname(e, "root");
        archive_entry_set_size(e, x->is_dir ? 0 : (la_int64_t)x->data.len);
        /* ARCHIVE_WARN: a tar name that is not UTF-8, written as its
         * bytes with pax's hdrcharset=BINARY */
        int hr = archive_write_header(a, e);
        if (hr != ARCHIVE_OK && hr != ARCHIVE_WARN) {
            rc = la_error(a, x->name, err);
        } else if (!x->is_dir && x->data.len > 0 &&
                   archive_write_data(a, x->data.data, x->data.len) !=
                       (la_ssize_t)x->data.len) {
            rc = la_error(a, x->name, err);
        }
    }
    archive_entry_free(e);
    return rc;
}

/* The times each format can hold: DOS dates run from 1980 to 2107;
 * tar (pax) takes anything, but readers stop at year 9999. */
static pcr_status
check_times(int format, const pcr_alist *l, pcr_error *err)
{
    int64_t lo = format == PCR_AR_ZIP ? 315532800 : 0;
    int64_t hi =
        format == PCR_AR_ZIP ? INT64_C(4354819198) : INT64_C(253402300799);
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].mtime < lo || l->v[i].mtime > hi) {
            return pcr_set_error(err, PCR_ENV,
                                 "time %lld of '%s' cannot be stored in %s "
                                 "(%lld to %lld; check SOURCE_DATE_EPOCH)",
                                 (long long)l->v[i].mtime, l->v[i].name,
                                 format == PCR_AR_ZIP ? "a zip" : "a tar",
                                 (long long)lo, (long long)hi);
        }
    }
    return PCR_OK;
}

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

pcr_status
pcr_archive_write(const char *path, int format, const pcr_alist *l,
                  pcr_error *err)
{
    pcr_status rc = pcr_lazy_archive(err);
    if (rc == PCR_OK) {
        rc = check_times(format, l, err);
    }
    char *tmp = NULL;
    int fd = -1;
    if (rc == PCR_OK) {
        /* what a killed run of ours left beside this archive */
        const char *slash = strrchr(path, '/');
        char *dir = slash ? strndup(path, (size_t)(slash - path)) : NULL;
        pcr_clean_stale_temps(dir ? dir : ".", slash ? slash + 1 : path);
        free(dir);
        rc = pcr_temp_open(path, 0644, &tmp, &fd, err);
    }
    if (rc != PCR_OK) {
        return rc;
    }
    struct archive *a = archive_write_new();
    if (a == NULL) {
        close(fd);
        pcr_temp_abort(tmp);
        free(tmp);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    /* zip: DOS times in UTC whatever TZ says (see the top of the file) */
    char *old_tz = NULL;
    int zip = format == PCR_AR_ZIP;
    if (zip) {
        /* one zip at a time in the process: two threads would restore
         * each other's TZ */
        pthread_mutex_lock(&tz_lock);
        const char *tz = getenv("TZ");
        old_tz = tz ? strdup(tz) : NULL;
        setenv("TZ", "UTC0", 1);
        tzset();
    }
    void *locale = pcr_locale_utf8_begin();
    rc = configure(a, format, err);
    if (rc == PCR_OK && archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        rc = la_error(a, tmp, err);
    } else if (rc == PCR_OK) {
        rc = write_entries(a, zip, l, err);
        if (archive_write_close(a) != ARCHIVE_OK && rc == PCR_OK) {
            rc = la_error(a, tmp, err);
        }
    }
    archive_write_free(a);
    pcr_locale_end(locale);
    if (zip) {
        if (old_tz) {
            setenv("TZ", old_tz, 1);
        } else {
            unsetenv("TZ");
        }
        free(old_tz);
        tzset();
        pthread_mutex_unlock(&tz_lock);
    }
    if (close(fd) != 0 && rc == PCR_OK) {
        rc = pcr_set_errno(err, PCR_FAIL, errno, "cannot write %s", tmp);
    }
    if (rc == PCR_OK) {
        rc = pcr_temp_commit(tmp, path, err);
    } else {
        pcr_temp_abort(tmp);
    }
    free(tmp);
    return rc;
}
