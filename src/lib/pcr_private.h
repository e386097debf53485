/* SPDX-License-Identifier: MIT */
/*
 * pcr_private.h - what the library's own files share; not installed.
 * Everything here is hidden from the shared library's exports (built
 * with -fvisibility=hidden; only PCR_API symbols are exported).
 */
#ifndef PCR_PRIVATE_H
#define PCR_PRIVATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pycompile_repro.h"

#if defined(__GNUC__)
#define PCR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PCR_PRINTF(a, b)
#endif

/* ------------------------------------------------ errors and buffers */

#define PCR_ERROR_MAX 4096

typedef struct pcr_error {
    char msg[PCR_ERROR_MAX]; /* human-readable, without the file name */
} pcr_error;

/* Fill err (if not NULL) and return status. */
pcr_status pcr_set_error(pcr_error *err, pcr_status status, const char *fmt,
                         ...) PCR_PRINTF(3, 4);
/* Same, followed by ": " and strerror(errnum). */
pcr_status pcr_set_errno(pcr_error *err, pcr_status status, int errnum,
                         const char *fmt, ...) PCR_PRINTF(4, 5);

typedef struct pcr_buf {
    unsigned char *data;
    size_t len;
} pcr_buf;

void pcr_buf_free(pcr_buf *buf);

/* Read (writing = 0) or write all len bytes; 0, or -1 on error or early
 * EOF (fd_io.c). */
int pcr_fd_transfer(int fd, void *buf, size_t len, int writing);

/* Little-endian helpers. */
static inline uint32_t
pcr_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline void
pcr_put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* ---------------------------------------------- PEP 552 header (header.c) */

#define PCR_HEADER_SIZE 16

typedef struct pcr_header {
    uint32_t magic;
    uint32_t flags; /* bit 0: hash-based, bit 1: check_source */
    uint32_t mtime; /* TIMESTAMP */
    uint32_t size;
    unsigned char hash[8]; /* hash-based */
} pcr_header;

pcr_invalidation pcr_default_invalidation(void);
void pcr_header_init(pcr_header *h, uint32_t magic, pcr_invalidation mode,
                     uint32_t mtime, uint32_t size,
                     const unsigned char hash[8]);
void pcr_header_pack(const pcr_header *h, unsigned char out[16]);
pcr_status pcr_header_unpack(const unsigned char *data, size_t len,
                             pcr_header *h, pcr_error *err);
/* importlib's truncation of an st_mtime (seconds + nanoseconds). */
uint32_t pcr_mtime32(int64_t sec, long nsec);

/* -------------------------------------------------------- paths.c */

/* importlib.util.cache_from_source(path, optimization=level or '') for
 * this cache tag. */
char *pcr_cache_path(const char *source, const char *tag, int optimize);
/* The name recorded in code objects (compileall's -d/-s/-p). */
char *pcr_record_name(const char *source, const char *relpath,
                      const char *ddir, const char *strip,
                      const char *prepend);
/* s ends with suffix (possibly all of it). */
int pcr_ends_with(const char *s, const char *suffix);
/* path made absolute with the current directory and normalised lexically
 * (no ".", "..", repeated or trailing slashes; symlinks not resolved):
 * "/" becomes "".  NULL when out of memory or without a cwd. */
char *pcr_absolute_path(const char *path);

/* ------------------------------------------- files (source_file.c, ...) */

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
void pcr_source_free(pcr_source *src);

/* Atomic writes (write_atomic.c): a temporary file beside the target
 * (O_EXCL|O_NOFOLLOW), then rename.  Refuses a symlink or a non-regular
 * target.  mode: masked by the umask, or exact with PCR_EXACT_MODE. */
#define PCR_EXACT_MODE 0x10000
pcr_status pcr_write_atomic(const char *path, const unsigned char *data,
                            size_t len, int mode, pcr_error *err);
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
/* Remove temporary files (NAME.PID.N.tmp, NAME ending in stem) in dir
 * whose process is gone: what a SIGKILL left. */
void pcr_clean_stale_temps(const char *dir, const char *stem);

/* ------------------------------------------------------ walking */

typedef struct pcr_job {
    char *path;    /* as compileall builds it: os.path.join(dir, name) */
    char *relpath; /* relative to the directory operand; NULL for a file */
    uint64_t size; /* for scheduling the largest first */
    char *error;   /* the walk could not look at it */
    int skip;      /* filtered out by -x, -e or a restriction */
    int link;      /* a symlink (for -e) */
} pcr_job;

typedef struct pcr_jobs {
    pcr_job *v;
    size_t n, cap;
} pcr_jobs;

typedef struct pcr_walk {
    int maxlevels;             /* directory depth (compileall -r) */
    const char *limit_sl_dest; /* -e */
    const char *suffix;        /* files kept in directories: ".py" */
    int into_pycache;          /* walk __pycache__ too (for .pyc files) */
    /* Told of each source kept, while the walk goes on (may be NULL). */
    void (*found)(void *ctx, const char *path);
    void *found_ctx;
} pcr_walk;

pcr_status pcr_jobs_add(pcr_jobs *jobs, const char *operand,
                        const pcr_walk *wo, pcr_error *err);
void pcr_jobs_free(pcr_jobs *jobs);

/* ----------------------------------------------------------- handle.c */

typedef struct pcr_python {
    char series[16]; /* "3.13", from the server's name */
    char tag[32];    /* "cpython-313" (checked against its hello) */
    char *path;
    /* from its hello */
    int started;
    uint32_t magic;
    int canonical_form;
    char version[32];
    char *build;
} pcr_python;

struct pcr {
    pcr_error err;
    /* what to write */
    int levels[3];
    int nlevels; /* 0: level 0 */
    pcr_invalidation mode;
    int mode_set;
    char *ddir, *strip, *prepend;
    int force, legacy, hardlink_dupes, include_sources, sourceless,
        no_verify_record, clamp_mtime, all_tags, canonicalize_existing;
    int workers;
    int verify;
    uint64_t memory_limit;
    int64_t epoch; /* -1: none */
    /* what to read */
    pcr_walk walk;
    char *exclude;
    char **operands;
    size_t noperands;
    char **restrict_dirs;
    size_t nrestrict;
    char *tar_out, *tar_base, *wheel_in, *wheel_out;
    FILE *dump;
    /* which Pythons */
    char *server_dir;
    int discovered;
    pcr_python *py;
    int npy;
    unsigned char *wanted; /* per python: asked for with pcr_add_python */
    int want_all, want_any;
    int default_py;
    /* the content-addressed cache (cache.c) */
    char *cache_dir;
    uint64_t cache_max;
    int cache_want_stats;
    uint64_t cache_hits, cache_misses, cache_written, cache_errors,
        cache_damaged, cache_trimmed, cache_entries, cache_bytes;
};

/* The levels asked for (level 0 when none). */
int pcr_levels(const pcr *p, const int **levels);
pcr_status pcr_fail(pcr *p, pcr_status st, const char *fmt, ...)
    PCR_PRINTF(3, 4);

/* pythons.c: find the servers; choose the versions of a source. */
pcr_status pcr_discover(pcr *p);
/* Fill out[] with python indices for path (*n of them); PCR_FAIL with a
 * message when a version is asked for that has no server. */
pcr_status pcr_versions_for(pcr *p, const char *path, int *out, int *n,
                            pcr_error *err);
/* Index of the python whose cache tag is tag, or -1. */
int pcr_python_by_tag(const pcr *p, const char *tag, size_t len);

/* ------------------------------------------------------------ events.c */

struct pcr_event {
    pcr_event_type kind;
    size_t index;
    const char *source, *pyc, *python, *message;
    int level;
    pcr_outcome outcome;
    pcr_check_class cls;
    pcr_status status;
    int changed;
    size_t done, total;
};

#endif /* PCR_PRIVATE_H */
