/* SPDX-License-Identifier: MIT */
/*
 * pcr_archive.h - reproducible tar and zip archives with libarchive
 * (archive_out.c, archive_in.c), and the wheel format (wheel.c).  Not
 * installed.
 */
#ifndef PCR_ARCHIVE_H
#define PCR_ARCHIVE_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "files.h"

enum { PCR_AR_TAR, PCR_AR_TAR_GZ, PCR_AR_TAR_XZ, PCR_AR_TAR_ZST, PCR_AR_ZIP };

/* Archive format from the output name (.tar, .tar.gz/.tgz, .tar.xz,
 * .tar.zst, .whl/.zip); -1 if none. */
int pcr_aformat_from_name(const char *path);

typedef struct pcr_aentry {
    char *name; /* path inside the archive, UTF-8 (zip) or bytes (tar) */
    int is_dir;
    mode_t mode; /* permission bits */
    int64_t mtime;
    pcr_buf data; /* regular files */
} pcr_aentry;

typedef struct pcr_alist {
    pcr_aentry *v;
    size_t n, cap;
} pcr_alist;

/* Append an entry (name and data are copied). */
pcr_status pcr_alist_add(pcr_alist *l, const char *name, int is_dir,
                         mode_t mode, int64_t mtime, const unsigned char *data,
                         size_t len, pcr_error *err);
void pcr_alist_free(pcr_alist *l);
/* Sort bytewise by name; PCR_FAIL naming a duplicate. */
pcr_status pcr_alist_sort_unique(pcr_alist *l, pcr_error *err);

/* Write the entries, in their order, as a reproducible archive: owner 0:0
 * root, restricted pax or zip, gzip without a timestamp, zip times in
 * UTC.  Written to a temporary file and renamed: an error leaves no
 * output, and the target must be a regular file or absent. */
pcr_status pcr_archive_write(const char *path, int format, const pcr_alist *l,
                             pcr_error *err);

/* Limits of an archive read (uncompressed). */
#define PCR_AR_MAX_ENTRY_SIZE ((uint64_t)256 << 20)
#define PCR_AR_MAX_TOTAL_SIZE ((uint64_t)1 << 30)
#define PCR_AR_MAX_ENTRIES 100000

/* Read an archive (zip: a zip and nothing else, as pip reads a wheel;
 * tar: a tar, compressed or not), refusing absolute or ".." names, links
 * and special files, sizes past the limits (counted while reading), and
 * whatever two readers could see differently: names that differ between
 * a zip's local and central headers, a tar whose headers a strict reading
 * (pcr_tar_scan) names otherwise than libarchive, a name given twice
 * ("./a" and "a", "a/" and "a" are one name; a directory may repeat), and
 * a file that is also the parent of another entry. */
pcr_status pcr_archive_read(const char *path, int zip, pcr_alist *out,
                            pcr_error *err);

/* The member names of a tar, read strictly from its decompressed stream
 * (raw: an archive opened with the raw format and every filter), in
 * order, as written (not normalised); PCR_FAIL for any header that GNU
 * tar, Python's tarfile and libarchive could resolve differently
 * (tar_scan.c).  names are malloc'd. */
struct archive;
pcr_status pcr_tar_scan(struct archive *raw, char ***names, size_t *n,
                        pcr_error *err);

/* libarchive converts names between UTF-8 and the locale's charset: run
 * it under a UTF-8 locale in this thread only (uselocale), so names work
 * whatever the caller's locale, and nothing process-wide changes.
 * Returns the locale to give back to pcr_locale_end. */
void *pcr_locale_utf8_begin(void);
void pcr_locale_end(void *previous);

/* A row of a wheel's RECORD: path, hash and size, as written. */
typedef struct pcr_record_row {
    char *path, *hash, *size;
} pcr_record_row;

/* RECORD read as Python's csv module reads it (pip and installer do):
 * ',' separated, '"' quoted with "" for a quote, quoted fields may hold
 * ',' and line ends; rows end at "\r\n", "\r" or "\n".  Empty lines
 * give no row, fields past the third are ignored; a row with fewer than
 * three fields, or a NUL byte anywhere, is an error (PCR_FAIL). */
pcr_status pcr_record_parse(const unsigned char *data, size_t len,
                            pcr_record_row **rows, size_t *n, pcr_error *err);
void pcr_record_free(pcr_record_row *rows, size_t n);

/* sha256=<urlsafe base64, no padding> of data, as RECORD wants. */
pcr_status pcr_record_hash(const unsigned char *data, size_t len, char out[64],
                           pcr_error *err);

/* ---------------------------------------------------------- tarball.c */

/* path relative to base (both made absolute lexically from cwd), or NULL
 * with *outside set when it is not below base. */
char *pcr_tar_entry_name(const char *cwd, const char *path, const char *base,
                         int *outside);
/* A directory entry for every parent of every entry of l (time: epoch,
 * or the directory's own when older and clamp is set). */
pcr_status pcr_tar_add_parents(pcr_alist *l, const char *base, int64_t epoch,
                               int clamp, pcr_error *err);

/* ------------------------------------------------------------ wheel.c */

typedef struct pcr_wheel {
    pcr_alist in;         /* the input's entries, sorted */
    char *distinfo;       /* NAME-VER.dist-info */
    char *record_name;    /* .../RECORD */
    char *record_problem; /* RECORD does not match (NULL: it does) */
    size_t *sources;      /* entries to compile (indices into in) */
    size_t nsources;
} pcr_wheel;

/* Read a wheel and check it (names, duplicates, RECORD and WHEEL present,
 * RECORD matching unless verify_record is 0: then the problem is kept in
 * record_problem). */
pcr_status pcr_wheel_open(const char *path, int verify_record, pcr_wheel *w,
                          pcr_error *err);
void pcr_wheel_close(pcr_wheel *w);
/* The path a source entry is imported as (below NAME.data/purelib or
 * platlib, or itself). */
const char *pcr_wheel_import_path(const pcr_wheel *w, const char *name);
/* The output entries: every input entry but RECORD, signatures and the
 * .pyc the compiled ones replace (and the sources, when sourceless),
 * WHEEL's Tag lines for this python tag ("cp313"), the compiled .pyc,
 * then RECORD.  Sorted, .dist-info last, RECORD last. */
pcr_status pcr_wheel_assemble(const pcr_wheel *w, const pcr_alist *pycs,
                              int sourceless, const char *pytag, int64_t mtime,
                              pcr_alist *out, pcr_error *err);
/* The output file name for an input wheel name: python tag -> pytag. */
char *pcr_wheel_output_name(const char *in, const char *pytag);

#endif
