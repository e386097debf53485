/* SPDX-License-Identifier: MIT */
/*
 * files.h - reading sources (source_file.c) and writing files atomically
 * (write_atomic.c).
 */
#ifndef PCR_FILES_H
#define PCR_FILES_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include <sys/types.h>

#include "common.h"

/* The largest source compiled (and read from a wheel): larger ones are
 * refused before any memory is spent on them. */
#define PCR_MAX_SOURCE ((size_t)64 << 20)

typedef struct pcr_source {
    pcr_buf bytes;
    int64_t mtime_sec;
    long mtime_nsec;
    uint64_t size;
    mode_t mode;
} pcr_source;

/* Read a regular file of at most max bytes (FIFOs, devices and
 * directories are refused without blocking). */
pcr_status pcr_source_read(const char *path, size_t max, pcr_source *src,
                           pcr_error *err);
/* The same for --check: a source that is not there (a typo, a name that
 * does not exist: no stat) is no problem of a .pyc but trouble, PCR_ENV,
 * with the words compiling uses ("cannot open: No such file or
 * directory"). */
pcr_status pcr_source_read_to_check(const char *path, size_t max,
                                    pcr_source *src, pcr_error *err);
void pcr_source_free(pcr_source *src);

/* Atomic writes (write_atomic.c): a temporary file beside the target
 * (O_EXCL|O_NOFOLLOW), then rename.  Refuses a symlink or a non-regular
 * target.  mode: masked by the umask, or exact with PCR_EXACT_MODE. */
#define PCR_EXACT_MODE 0x10000
pcr_status pcr_write_atomic(const char *path, const unsigned char *data,
                            size_t len, int mode, pcr_error *err);
/* The same with path relative to the directory open at fd dir (the
 * cache's bucket: nothing of the path above it is looked up again). */
pcr_status pcr_write_atomic_at(int dir, const char *path,
                               const unsigned char *data, size_t len, int mode,
                               pcr_error *err);
/* Open a temporary file beside path for a writer that streams (the
 * archives); *tmp receives its name.  Commit renames it over path after
 * checking path again; abort removes it. */
pcr_status pcr_temp_open(const char *path, int mode, char **tmp, int *fd,
                         pcr_error *err);
pcr_status pcr_temp_commit(const char *tmp, const char *path, pcr_error *err);
void pcr_temp_abort(const char *tmp);
pcr_status pcr_link_atomic(const char *existing, const char *path,
                           pcr_error *err);
/* Is path a regular file or absent (else the error says what it is)? */
pcr_status pcr_check_target(const char *path, pcr_error *err);
/* A temporary file older than this is what a killed writer left (the
 * cache's, and a .pyc's or an archive's whose process is gone): a writer
 * takes seconds, and one elsewhere (another PID namespace, an NFS client)
 * has a PID that means nothing here. */
#define PCR_STALE_TEMP_SECONDS 3600
/* Remove temporary files (NAME.PID.N.tmp, NAME ending in stem) in dir
 * whose process is gone and older than PCR_STALE_TEMP_SECONDS: what a
 * SIGKILL left. */
void pcr_clean_stale_temps(const char *dir, const char *stem);

#endif
