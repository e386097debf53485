/* SPDX-License-Identifier: MIT */
/*
 * archive_in.c - reading an archive someone else made (a wheel, or a tar
 * to --check), trusting nothing in it: names must be relative and free of
 * "." and "..", only regular files and directories are accepted, every
 * entry and the whole are bounded in size (counted while reading, not
 * taken from the headers), and a zip must be a zip -- not a tar with a
 * zip's name -- whose local headers name the same files as its central
 * directory (pip and installers read the central directory, streaming
 * readers the local headers; a zip where they differ shows each a
 * different wheel).
 *
 * Names are bytes: libarchive runs under a UTF-8 locale in this thread
 * (uselocale), so a zip's UTF-8 names arrive as UTF-8 whatever the
 * caller's locale (in the C locale libarchive fails to convert them).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lazy_libs.h"
#include "pcr_archive.h"

#define MAX_ENTRY_SIZE PCR_AR_MAX_ENTRY_SIZE /* uncompressed, per entry */
#define MAX_TOTAL_SIZE PCR_AR_MAX_TOTAL_SIZE /* uncompressed, in all */
#define MAX_ENTRIES PCR_AR_MAX_ENTRIES

enum { AS_TAR, AS_ZIP, AS_RAW }; /* AS_RAW: a tar's decompressed stream */

static pcr_status
check_name(const char *name, pcr_error *err)
{
    if (name[0] == '\0' || name[0] == '/' || strchr(name, '\\') != NULL) {
        return pcr_set_error(err, PCR_FAIL,
                             "refusing entry '%s': not a relative path", name);
    }
    const char *p = name;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if ((n == 2 && strncmp(p, "..", 2) == 0) || (n == 1 && p[0] == '.') ||
            (n == 0 && slash != NULL)) {
            return pcr_set_error(err, PCR_FAIL,
                                 "refusing entry '%s': '.', '..' or an "
                                 "empty part in its path",
                                 name);
        }
        p += n + (slash != NULL);
    }
    return PCR_OK;
}

static const char *
entry_name(struct archive_entry *e)
{
    const char *n = archive_entry_pathname_utf8(e);
    return n != NULL ? n : archive_entry_pathname(e);
}

/* Open a regular file without blocking (a FIFO would hang libarchive's
 * own open), or say what it is. */
static int
open_regular(const char *path, pcr_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        pcr_set_errno(err, PCR_FAIL, errno, "cannot open it");
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        pcr_set_error(err, PCR_FAIL, "not a regular file");
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

static struct archive *
open_reader(const char *path, int kind, int seekable, int *fdp, pcr_error *err)
{
    if (pcr_lazy_archive(err) != PCR_OK) {
        return NULL;
    }
    int fd = open_regular(path, err);
    if (fd < 0) {
        return NULL;
    }
    struct archive *a = archive_read_new();
    if (a == NULL) {
        close(fd);
        pcr_set_error(err, PCR_ENV, "out of memory");
        return NULL;
    }
    *fdp = fd;
    int zip = kind == AS_ZIP;
    if (kind == AS_RAW) {
        archive_read_support_format_raw(a);
        archive_read_support_filter_all(a);
    } else if (zip) {
        if (seekable) {
            archive_read_support_format_zip_seekable(a);
        } else {
            archive_read_support_format_zip_streamable(a);
        }
        /* names without the UTF-8 flag: CP437 would be right, but pip
         * takes them as UTF-8 too */
        archive_read_set_options(a, "zip:hdrcharset=UTF-8");
    } else {
        archive_read_support_format_tar(a);
        archive_read_support_filter_all(a);
        archive_read_set_options(a, "hdrcharset=UTF-8");
    }
    if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
        pcr_set_error(err, PCR_FAIL, "cannot read it as %s: %s",
                      zip ? "a zip" : "a tar",
                      archive_error_string(a) ? archive_error_string(a)
                                              : "unknown format");
        archive_read_free(a);
        close(fd);
        return NULL;
    }
    return a;
}

/* The names a zip's local headers give, in order. */
static pcr_status
local_names(const char *path, char ***names, size_t *n, pcr_error *err)
{
    *names = NULL;
    *n = 0;
    int fd;
    struct archive *a = open_reader(path, AS_ZIP, 0, &fd, err);
    if (a == NULL) {
        return PCR_FAIL;
    }
    struct archive_entry *e;
    size_t cap = 0;
    pcr_status rc = PCR_OK;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK &&
           *n < MAX_ENTRIES) {
        const char *name = entry_name(e);
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(*names, cap * sizeof *nn);
            if (nn == NULL) {
                rc = pcr_set_error(err, PCR_ENV, "out of memory");
                break;
            }
            *names = nn;
        }
        if (((*names)[*n] = strdup(name ? name : "")) == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
            break;
        }
        (*n)++;
    }
    if (rc == PCR_OK && r != ARCHIVE_EOF && r != ARCHIVE_OK) {
        rc = pcr_set_error(err, PCR_FAIL, "cannot read the zip: %s",
                           archive_error_string(a));
    }
    archive_read_free(a);
    close(fd);
    return rc;
}

/* The names of a zip's central directory, in order, read by hand: the
 * reader libarchive offers takes the local headers' names. */
static pcr_status
central_names(const char *path, char ***names, size_t *n, pcr_error *err)
{
    *names = NULL;
    *n = 0;
    int fd = open_regular(path, err);
    if (fd < 0) {
        return PCR_FAIL;
    }
    struct stat st;
    fstat(fd, &st);
    pcr_status rc = PCR_OK;
    size_t tail = st.st_size < 65557 ? (size_t)st.st_size : 65557;
    unsigned char *buf = malloc(tail ? tail : 1), *cd = NULL;
    uint64_t cd_off = 0, cd_size = 0, count = 0;
    if (buf == NULL ||
        pread(fd, buf, tail, st.st_size - (off_t)tail) != (ssize_t)tail) {
        rc = pcr_set_error(err, PCR_FAIL, "cannot read the zip");
        goto end;
    }
    long e = (long)tail - 22;
    while (e >= 0 && pcr_le32(buf + e) != 0x06054b50u) {
        e--;
    }
    if (e < 0) {
        rc = pcr_set_error(err, PCR_FAIL,
                           "not a zip (no end of central "
                           "directory)");
        goto end;
    }
    count = buf[e + 10] | (unsigned)buf[e + 11] << 8;
    cd_size = pcr_le32(buf + e + 12);
    cd_off = pcr_le32(buf + e + 16);
    if (cd_off == 0xffffffffu || count == 0xffff) {
        /* zip64: the locator just before points to the real record */
        unsigned char rec[56];
        if (e < 20 || pcr_le32(buf + e - 20) != 0x07064b50u ||
            pread(fd, rec, 56,
                  (off_t)(pcr_le32(buf + e - 12) |
                          (uint64_t)pcr_le32(buf + e - 8) << 32)) != 56 ||
            pcr_le32(rec) != 0x06064b50u) {
            rc = pcr_set_error(err, PCR_FAIL, "a broken zip64 record");
            goto end;
        }
        count = pcr_le32(rec + 32) | (uint64_t)pcr_le32(rec + 36) << 32;
        cd_size = pcr_le32(rec + 40) | (uint64_t)pcr_le32(rec + 44) << 32;
        cd_off = pcr_le32(rec + 48) | (uint64_t)pcr_le32(rec + 52) << 32;
    }
    if (count > MAX_ENTRIES || cd_size > (uint64_t)st.st_size ||
        cd_off > (uint64_t)st.st_size - cd_size) {
        rc = pcr_set_error(err, PCR_FAIL,
                           "a zip with an impossible "
                           "central directory");
        goto end;
    }
    cd = malloc(cd_size ? cd_size : 1);
    *names = calloc(count ? count : 1, sizeof **names);
    if (cd == NULL || *names == NULL) {
        rc = pcr_set_error(err, PCR_ENV, "out of memory");
        goto end;
    }
    if (pread(fd, cd, cd_size, (off_t)cd_off) != (ssize_t)cd_size) {
        rc = pcr_set_error(err, PCR_FAIL, "cannot read the zip");
        goto end;
    }
    size_t pos = 0;
    for (uint64_t k = 0; k < count && rc == PCR_OK; k++) {
        if (cd_size - pos < 46 || pcr_le32(cd + pos) != 0x02014b50u) {
            rc = pcr_set_error(err, PCR_FAIL, "a broken central directory");
            break;
        }
        size_t nl = cd[pos + 28] | (size_t)cd[pos + 29] << 8;
        size_t xl = cd[pos + 30] | (size_t)cd[pos + 31] << 8;
        size_t cl = cd[pos + 32] | (size_t)cd[pos + 33] << 8;
        if (cd_size - pos - 46 < nl + xl + cl) {
            rc = pcr_set_error(err, PCR_FAIL, "a broken central directory");
            break;
        }
        if (((*names)[k] = strndup((char *)cd + pos + 46, nl)) == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
            break;
        }
        (*n)++;
        pos += 46 + nl + xl + cl;
    }
end:
    free(buf);
    free(cd);
    close(fd);
    return rc;
}

static pcr_status
read_data(struct archive *a, const char *name, uint64_t *total, pcr_buf *out,
          pcr_error *err)
{
    size_t cap = 0;
    la_ssize_t got;
    char chunk[65536];
    out->data = NULL;
    out->len = 0;
    while ((got = archive_read_data(a, chunk, sizeof chunk)) > 0) {
        if (out->len + (size_t)got > MAX_ENTRY_SIZE ||
            *total + (uint64_t)got > MAX_TOTAL_SIZE) {
            pcr_buf_free(out);
            return pcr_set_error(err, PCR_FAIL,
                                 "refusing entry '%s': larger than the "
                                 "limits (%llu MiB an entry, %llu MiB in "
                                 "all)",
                                 name,
                                 (unsigned long long)(MAX_ENTRY_SIZE >> 20),
                                 (unsigned long long)(MAX_TOTAL_SIZE >> 20));
        }
        if (out->len + (size_t)got > cap) {
            cap = (out->len + (size_t)got) * 2;
            unsigned char *nb = realloc(out->data, cap);
            if (nb == NULL) {
                pcr_buf_free(out);
                return pcr_set_error(err, PCR_ENV, "out of memory");
            }
            out->data = nb;
        }
        memcpy(out->data + out->len, chunk, (size_t)got);
        out->len += (size_t)got;
        *total += (uint64_t)got;
    }
    if (got < 0) {
        pcr_buf_free(out);
        return pcr_set_error(err, PCR_FAIL, "cannot read '%s': %s", name,
                             archive_error_string(a));
    }
    return PCR_OK;
}

static pcr_status read_archive(const char *path, int zip, pcr_alist *in,
                               pcr_error *err);

pcr_status
pcr_archive_read(const char *path, int zip, pcr_alist *in, pcr_error *err)
{
    void *locale = pcr_locale_utf8_begin();
    pcr_status rc = read_archive(path, zip, in, err);
    pcr_locale_end(locale);
    return rc;
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

/* A name as the reader keeps it: without leading "./" and trailing '/'
 * (start and length in *len). */
static const char *
normal_name(const char *raw, size_t *len)
{
    while (strncmp(raw, "./", 2) == 0) {
        raw += 2;
    }
    size_t n = strlen(raw);
    while (n > 0 && raw[n - 1] == '/') {
        n--;
    }
    *len = n;
    return raw;
}

static int
same_name(const char *a, const char *b)
{
    size_t na, nb;
    a = normal_name(a, &na);
    b = normal_name(b, &nb);
    return na == nb && memcmp(a, b, na) == 0;
}

/* A tar's member names as the strict reader gives them. */
static pcr_status
scanned_names(const char *path, char ***names, size_t *n, pcr_error *err)
{
    int fd;
    struct archive *a = open_reader(path, AS_RAW, 0, &fd, err);
    if (a == NULL) {
        return PCR_FAIL;
    }
    pcr_status rc = pcr_tar_scan(a, names, n, err);
    archive_read_free(a);
    close(fd);
    return rc;
}

static int
by_entry_name(const void *a, const void *b)
{
    return strcmp((*(const pcr_aentry *const *)a)->name,
                  (*(const pcr_aentry *const *)b)->name);
}

/* The entry named by the first len bytes of name in v (sorted), or
 * NULL. */
static const pcr_aentry *
find_sorted(const pcr_aentry *const *v, size_t n, const char *name, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(v[mid]->name, name, len);
        if (c == 0) {
            c = v[mid]->name[len] != '\0';
        }
        if (c == 0) {
            return v[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* Every name once (a directory may repeat), and no file as the parent of
 * another entry: extractors keep the last of two, or fail half-way, where
 * our reader would look at the first.  n log n. */
static pcr_status
check_unique(const pcr_alist *in, pcr_error *err)
{
    if (in->n == 0) {
        return PCR_OK;
    }
    const pcr_aentry **v = malloc(in->n * sizeof *v);
    if (v == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    for (size_t i = 0; i < in->n; i++) {
        v[i] = &in->v[i];
    }
    qsort(v, in->n, sizeof *v, by_entry_name);
    pcr_status rc = PCR_OK;
    for (size_t i = 1; i < in->n && rc == PCR_OK; i++) {
        if (strcmp(v[i]->name, v[i - 1]->name) != 0 ||
            (v[i]->is_dir && v[i - 1]->is_dir)) {
            continue;
        }
        rc = pcr_set_error(err, PCR_FAIL,
                           v[i]->is_dir == v[i - 1]->is_dir
                               ? "refusing entry '%s': the archive holds it "
                                 "twice (extractors keep the last one)"
                               : "refusing entry '%s': the archive holds it "
                                 "as a file and as a directory",
                           v[i]->name);
    }
    for (size_t i = 0; i < in->n && rc == PCR_OK; i++) {
        const char *name = in->v[i].name;
        for (const char *sl = strchr(name, '/'); sl && rc == PCR_OK;
             sl = strchr(sl + 1, '/')) {
            size_t len = (size_t)(sl - name);
            const pcr_aentry *parent = find_sorted(v, in->n, name, len);
            if (parent != NULL && !parent->is_dir) {
                rc = pcr_set_error(err, PCR_FAIL,
                                   "refusing entry '%s': '%.*s' is a file in "
                                   "the archive, not a directory",
                                   name, (int)len, name);
            }
        }
    }
    free(v);
    return rc;
}

static pcr_status
read_archive(const char *path, int zip, pcr_alist *in, pcr_error *err)
{
    memset(in, 0, sizeof *in);
    char **locals = NULL, **centrals = NULL, **scanned = NULL;
    size_t nlocals = 0, ncentrals = 0, nscanned = 0;
    if (zip && (central_names(path, &centrals, &ncentrals, err) != PCR_OK ||
                local_names(path, &locals, &nlocals, err) != PCR_OK)) {
        free_names(centrals, ncentrals);
        free_names(locals, nlocals);
        return PCR_FAIL;
    }
    int mismatch = zip && ncentrals != nlocals;
    if (mismatch) {
        pcr_set_error(err, PCR_FAIL,
                      "refusing a zip whose central directory and local "
                      "headers disagree (%zu and %zu entries)",
                      ncentrals, nlocals);
    }
    for (size_t i = 0; zip && !mismatch && i < ncentrals; i++) {
        if (strcmp(centrals[i], locals[i]) != 0) {
            pcr_set_error(err, PCR_FAIL,
                          "refusing a zip whose central directory and "
                          "local headers disagree (entry %zu: '%s' and "
                          "'%s')",
                          i + 1, centrals[i], locals[i]);
            mismatch = 1;
        }
    }
    if (mismatch) {
        free_names(centrals, ncentrals);
        free_names(locals, nlocals);
        return PCR_FAIL;
    }
    int fd = -1;
    struct archive *a = open_reader(path, zip ? AS_ZIP : AS_TAR, 1, &fd, err);
    pcr_status rc = a ? PCR_OK : PCR_FAIL;
    if (rc == PCR_OK && !zip) { /* after libarchive's open: its message */
        rc = scanned_names(path, &scanned, &nscanned, err);
    }
    uint64_t total = 0;
    struct archive_entry *e;
    int r = ARCHIVE_EOF;
    size_t k = 0; /* headers read */
    while (rc == PCR_OK &&
           (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *raw = entry_name(e);
        if (raw == NULL) {
            rc = pcr_set_error(err, PCR_FAIL, "an entry has no name");
            break;
        }
        if (!zip && (k >= nscanned || !same_name(raw, scanned[k]))) {
            rc = pcr_set_error(err, PCR_FAIL,
                               "refusing a tar that readers name "
                               "differently (member %zu: '%s' or '%s')",
                               k + 1, raw, k < nscanned ? scanned[k] : "");
            break;
        }
        k++;
        while (strncmp(raw, "./", 2) == 0) {
            raw += 2; /* tar's "./pkg": the same name as "pkg" */
        }
        if (raw[0] == '\0') {
            continue; /* "./" itself */
        }
        char *name = strdup(raw);
        if (name == NULL) {
            rc = pcr_set_error(err, PCR_ENV, "out of memory");
            break;
        }
        size_t n = strlen(name);
        mode_t type = archive_entry_filetype(e);
        int is_dir = type == AE_IFDIR || (n > 0 && name[n - 1] == '/');
        while (n > 0 && name[n - 1] == '/') {
            name[--n] = '\0';
        }
        pcr_buf data = {0};
        if ((rc = check_name(name, err)) != PCR_OK) {
            /* named below */
        } else if (!is_dir &&
                   (type != AE_IFREG || archive_entry_hardlink(e) != NULL)) {
            rc = pcr_set_error(err, PCR_FAIL,
                               "refusing entry '%s': a %s, not a regular "
                               "file",
                               name,
                               archive_entry_hardlink(e) != NULL ? "hard link"
                               : type == AE_IFLNK ? "symbolic link"
                                                  : "special file");
        } else if (in->n >= MAX_ENTRIES) {
            rc = pcr_set_error(err, PCR_FAIL, "more than %d entries",
                               MAX_ENTRIES);
        } else if (!is_dir) {
            rc = read_data(a, name, &total, &data, err);
        }
        if (rc == PCR_OK) {
            rc = pcr_alist_add(in, name, is_dir,
                               (archive_entry_perm(e) & 0111) ? 0755 : 0644, 0,
                               data.data, data.len, err);
        }
        pcr_buf_free(&data);
        free(name);
    }
    if (rc == PCR_OK && r != ARCHIVE_EOF) {
        rc = pcr_set_error(err, PCR_FAIL, "cannot read the archive: %s",
                           archive_error_string(a));
    }
    if (rc == PCR_OK && !zip && k != nscanned) {
        rc = pcr_set_error(err, PCR_FAIL,
                           "refusing a tar that readers see differently "
                           "(%zu or %zu members)",
                           k, nscanned);
    }
    if (rc == PCR_OK) {
        rc = check_unique(in, err);
    }
    if (rc != PCR_OK) {
        pcr_alist_free(in);
    }
    if (a != NULL) {
        archive_read_free(a);
        close(fd);
    }
    free_names(locals, nlocals);
    free_names(centrals, ncentrals);
    free_names(scanned, nscanned);
    return rc;
}
