/*
 * pycompile_repro.h - public interface of libpycompile-repro.
 *
 * The library byte-compiles Python sources into .pyc files whose bytes do
 * not depend on the process, machine or build path that made them.  It
 * embeds CPython (libpython3) for the compiler itself; callers of this
 * header do not need CPython's headers.
 *
 * Conventions: every public symbol starts with pcr_ / PCR_.  Functions
 * return a pcr_status and, on failure, fill the pcr_error the caller
 * passed in; the library never prints and never exits.  Buffers and
 * strings returned through out-parameters belong to the caller (free them
 * with pcr_buf_free / free).
 */
#ifndef PYCOMPILE_REPRO_H
#define PYCOMPILE_REPRO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PCR_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

typedef enum pcr_status {
    PCR_OK = 0,   /* success */
    PCR_FAIL = 1, /* this item failed (bad source, unwritable target, ...) */
    PCR_ENV = 2   /* environment trouble: the run cannot go on */
} pcr_status;

#define PCR_ERROR_MAX 4096

typedef struct pcr_error {
    char msg[PCR_ERROR_MAX]; /* human-readable, without the file name */
} pcr_error;

/* ---------------------------------------------------------------- buffers */

typedef struct pcr_buf {
    unsigned char *data;
    size_t len;
} pcr_buf;

void pcr_buf_free(pcr_buf *buf);

/* ------------------------------------------------- embedded interpreter */

/*
 * Start the embedded interpreter once per process, from an isolated
 * configuration: PYTHON* variables ignored, no site, fixed hash seed, no
 * bytecode written, no signal handlers, UTF-8 mode; every one-character
 * latin-1 string is interned (see docs/design.md).  Returns PCR_ENV with a
 * message if CPython cannot start.
 */
pcr_status pcr_runtime_init(pcr_error *err);
/* The hash seed the next pcr_runtime_init uses (default 0); --verify's
 * independent processes use others. */
void pcr_runtime_set_hash_seed(unsigned long seed);
/* Finalize; safe to call when not initialised. */
pcr_status pcr_runtime_fini(pcr_error *err);
int pcr_runtime_ready(void);

/* Facts about the embedded CPython; valid after pcr_runtime_init. */
const char *pcr_python_version(void); /* e.g. "3.11.2" */
const char *pcr_python_build(void);   /* Py_GetVersion(), full text */
const char *pcr_cache_tag(void);      /* e.g. "cpython-311" */
uint32_t pcr_magic_number(void);      /* first 4 header bytes, little-endian */

/* ------------------------------------------------------------- compiling */

typedef enum pcr_invalidation {
    PCR_TIMESTAMP = 0,
    PCR_CHECKED_HASH = 1,
    PCR_UNCHECKED_HASH = 2
} pcr_invalidation;

/* py_compile's rule: CHECKED_HASH if SOURCE_DATE_EPOCH is set and
 * non-empty, else TIMESTAMP. */
pcr_invalidation pcr_default_invalidation(void);
/* "timestamp", "checked-hash", "unchecked-hash" (also with '_' and upper
 * case, as py_compile's enum names).  Returns -1 if unknown. */
int pcr_invalidation_parse(const char *name);
const char *pcr_invalidation_name(pcr_invalidation mode);

/*
 * Compile source bytes as compile(src, dfile, 'exec', dont_inherit=True,
 * optimize=optimize) does, marshal the code object and return the
 * canonical marshal data (see pcr_marshal_canonicalize).  A compile error
 * is PCR_FAIL with CPython's own text in err->msg (for syntax errors the
 * File/line/caret/message block).
 */
pcr_status pcr_compile_to_marshal(const unsigned char *src, size_t len,
                                  const char *dfile, int optimize,
                                  pcr_buf *out, pcr_error *err);

/* CPython's own source hash (_imp.source_hash keyed with the magic). */
pcr_status pcr_source_hash(const unsigned char *src, size_t len,
                           unsigned char out[8], pcr_error *err);

/* ---------------------------------------------------- PEP 552 header */

#define PCR_HEADER_SIZE 16

typedef struct pcr_header {
    uint32_t magic;
    uint32_t flags; /* bit 0: hash-based, bit 1: check_source */
    /* TIMESTAMP: */
    uint32_t mtime;
    uint32_t size;
    /* hash-based: */
    unsigned char hash[8];
} pcr_header;

/* Header fields for a source; mtime/size are the source's stat values
 * (truncated to 32 bits as importlib does); hash is only used in the hash
 * modes. */
void pcr_header_init(pcr_header *h, pcr_invalidation mode, uint32_t mtime,
                     uint32_t size, const unsigned char hash[8]);
void pcr_header_pack(const pcr_header *h, unsigned char out[16]);
pcr_status pcr_header_unpack(const unsigned char *data, size_t len,
                             pcr_header *h, pcr_error *err);
/* importlib's truncation of an st_mtime (seconds + nanoseconds). */
uint32_t pcr_mtime32(int64_t sec, long nsec);

/* ------------------------------------------------------- marshal walker */

/*
 * The marshal stream walker reads marshal data (version 4, as CPython
 * 3.7-3.13 write it) into a flat array of nodes.  It never trusts its
 * input: lengths are checked against the data, nesting is limited,
 * references must point to objects already registered, and unknown type
 * codes are errors.
 */
#define PCR_NONE UINT32_MAX
#define PCR_MARSHAL_MAX_DEPTH 2000

typedef struct pcr_mnode {
    uint32_t offset; /* offset of the type byte */
    uint32_t end;    /* offset just past the object */
    uint32_t parent; /* node index of the container, PCR_NONE at the root */
    uint32_t ref;    /* registered object: its reference index; TYPE_REF:
                        the index it points to; else PCR_NONE */
    uint32_t nkids;  /* number of direct children */
    uint16_t slot;   /* position in the parent (field or element number,
                        saturating at 65535) */
    uint8_t type;    /* type code without FLAG_REF */
    uint8_t flagged; /* FLAG_REF was set on the type byte */
} pcr_mnode;

typedef struct pcr_mtree {
    pcr_mnode *nodes; /* in stream (pre-)order; nodes[0] is the root */
    uint32_t nnodes;
    uint32_t *refs; /* reference index -> node index */
    uint32_t nrefs;
    uint32_t *ref_uses;      /* reference index -> number of TYPE_REF to it */
    const char *code_fields; /* layout used for code objects */
} pcr_mtree;

/* Slot of co_filename in a 3.11-3.13 code object. */
#define PCR_CODE_FILENAME_SLOT 10

/* Code object layout, from the .pyc magic number; NULL if unknown.  The
 * layout is a string of 'i' (int32) and 'o' (object) fields. */
const char *pcr_code_layout(uint32_t magic);
/* Name of field number i of a code object for this magic, or NULL. */
const char *pcr_code_field_name(uint32_t magic, unsigned i);

/* Parse one object filling the whole of data (trailing bytes are an
 * error).  layout: pcr_code_layout() of the file's magic. */
pcr_status pcr_mtree_parse(const unsigned char *data, size_t len,
                           const char *layout, pcr_mtree *tree,
                           pcr_error *err);
void pcr_mtree_free(pcr_mtree *tree);
/* Follow TYPE_REF nodes to the object they stand for. */
uint32_t pcr_mtree_resolve(const pcr_mtree *tree, uint32_t node);
/* Child number slot of a container node (after resolving), or PCR_NONE. */
uint32_t pcr_mtree_child(const pcr_mtree *tree, uint32_t node, unsigned slot);
/* The bytes of a string-like node (s t u a A z Z), resolved. */
pcr_status pcr_mtree_string(const pcr_mtree *tree, const unsigned char *data,
                            uint32_t node, const unsigned char **ptr,
                            size_t *len);

/*
 * Rewrite marshal data, in place, into the canonical form: FLAG_REF kept
 * only on objects that a TYPE_REF refers to, references renumbered in
 * stream order.  The length never changes.  This is the form Fedora's
 * marshalparser --fix produces.
 */
pcr_status pcr_marshal_canonicalize(unsigned char *data, size_t len,
                                    const char *layout, pcr_error *err);

/* Where two marshal streams (of a .pyc with this magic) first differ:
 * PCR_OK if they are identical; else PCR_FAIL and out says which code
 * object and field, with both values where they are strings or ints. */
pcr_status pcr_marshal_diff(const unsigned char *a, size_t alen,
                            const unsigned char *b, size_t blen,
                            uint32_t magic, char *out, size_t outlen);

/* ------------------------------------------------------------------ paths */

/* importlib.util.cache_from_source(path, optimization=level or ''). */
char *pcr_cache_path(const char *source, int optimize);

/*
 * The name recorded in the code objects (co_filename), as compileall
 * computes it: ddir joined with relpath (the path of the source relative
 * to the directory argument, or its base name for a file argument), then
 * strip removed from the front of the path and prepend put before it.
 * Any of ddir, strip, prepend may be NULL; with all NULL the result is the
 * source path itself.  Returns NULL on allocation failure.
 */
char *pcr_record_name(const char *source, const char *relpath,
                      const char *ddir, const char *strip,
                      const char *prepend);

/* ------------------------------------------------------------ file I/O */

typedef struct pcr_source {
    pcr_buf bytes;
    int64_t mtime_sec;
    long mtime_nsec;
    uint64_t size;
    mode_t mode;
} pcr_source;

/* Read a source file.  Only regular files are read (a FIFO, a directory
 * or a device is refused without blocking). */
pcr_status pcr_source_read(const char *path, pcr_source *src, pcr_error *err);
void pcr_source_free(pcr_source *src);

/*
 * Write data to path atomically: a temporary file in the same directory,
 * then rename.  Refuses (PCR_FAIL, nothing written) when path is a symlink
 * or exists and is not a regular file.  mode is masked by the umask.  The
 * parent directory is created (mode 0777 & ~umask) if missing.
 */
pcr_status pcr_write_atomic(const char *path, const unsigned char *data,
                            size_t len, mode_t mode, pcr_error *err);
/* Replace path atomically with data, giving it exactly this mode (no
 * umask): for rewriting an existing file in place. */
pcr_status pcr_replace_atomic(const char *path, const unsigned char *data,
                              size_t len, mode_t mode, pcr_error *err);
/* Make path a hard link to existing, atomically (link to a temporary name,
 * then rename), with the same refusals as pcr_write_atomic. */
pcr_status pcr_link_atomic(const char *existing, const char *path,
                           pcr_error *err);

/* -------------------------------------------------------- whole files */

#define PCR_MAX_LEVELS 3

typedef struct pcr_options {
    int levels[PCR_MAX_LEVELS]; /* optimisation levels, sorted, unique */
    int nlevels;                /* 0 means level 0 only */
    pcr_invalidation mode;
    const char *ddir;    /* -d */
    const char *strip;   /* -s */
    const char *prepend; /* -p */
    int force;           /* -f: compile even when up to date */
    int legacy;          /* -b: write SOURCEc beside the source */
    int hardlink_dupes;  /* hard-link equal files of successive levels */
    int64_t clamp_epoch; /* --clamp-mtime: a source newer than this gets
                            this mtime before compiling; -1: off */
    /* Called with each level's bytes (level_index into levels) once all
     * are compiled and before any is written; a failure stops the file
     * (--verify). */
    pcr_status (*before_write)(void *ctx, int level_index, const pcr_buf *pyc,
                               pcr_error *err);
    void *before_write_ctx;
} pcr_options;

/* What happened to one source. */
typedef enum pcr_outcome {
    PCR_COMPILED = 0,
    PCR_UP_TO_DATE = 1, /* every .pyc already had the bytes' header and
                           recorded name: nothing written */
    PCR_SKIPPED = 2     /* filtered out (-x, -e, not a .py in a tree) */
} pcr_outcome;

void pcr_options_init(pcr_options *opt);
/* Add an optimisation level (0, 1, 2); duplicates are ignored. */
pcr_status pcr_options_add_level(pcr_options *opt, int level, pcr_error *err);

/*
 * Build the complete .pyc bytes (header + canonical marshal) of a source
 * already read, for one optimisation level.
 */
pcr_status pcr_build_pyc(const pcr_options *opt, const pcr_source *src,
                         const char *record_name, int optimize, pcr_buf *out,
                         pcr_error *err);

/* Where the .pyc for a level goes (cache path, or SOURCEc with -b). */
char *pcr_output_path(const pcr_options *opt, const char *source,
                      int optimize);

/*
 * Compile one source file to its cache file(s), one per requested level.
 * relpath is as for pcr_record_name (NULL: base name).  Unless opt->force,
 * a source whose .pyc files all carry the header we would write (magic,
 * flags, source hash or mtime and size) and record the same file name
 * (the root code object's co_filename) is left alone: *outcome is
 * PCR_UP_TO_DATE.  Nothing is written for a source that fails to compile.
 */
pcr_status pcr_compile_file(const pcr_options *opt, const char *path,
                            const char *relpath, pcr_outcome *outcome,
                            pcr_error *err);

/* Is this .pyc (data, len) current for the source: same header bytes as
 * we would write, and the same recorded name? */
int pcr_pyc_is_current(const unsigned char *pyc, size_t len,
                       const unsigned char header[16],
                       const char *record_name);

/* ------------------------------------------------- checking and repair */

typedef enum pcr_check_class {
    PCR_CHECK_OK = 0,
    PCR_CHECK_MISSING,       /* no .pyc where one is expected */
    PCR_CHECK_MAGIC,         /* written by another Python */
    PCR_CHECK_MODE,          /* another invalidation mode */
    PCR_CHECK_STALE,         /* source hash, or mtime/size, no longer
                                match the source */
    PCR_CHECK_NOT_CANONICAL, /* same code, but not in canonical form (as
                                compileall or py_compile write it) */
    PCR_CHECK_DIFFERENT,     /* different code: other file name, other
                                optimisation, tampered or corrupt */
    PCR_CHECK_SOURCE_ERROR,  /* the source cannot be read or compiled */
    PCR_CHECK_UNREADABLE     /* the .pyc exists but cannot be read */
} pcr_check_class;

/* Short stable name of a class ("ok", "missing", "other-python", ...). */
const char *pcr_check_class_name(pcr_check_class c);

typedef struct pcr_check_result {
    int level;
    pcr_check_class cls;
    char *pyc; /* path of the .pyc looked at (malloc'd) */
    char detail[1024];
} pcr_check_result;

/*
 * Compare the .pyc files of one source, one per requested level, with the
 * bytes we would write; nothing is written.  Fills res[0..*nres-1] (free
 * with pcr_check_results_free).  Returns PCR_OK when every one is
 * identical, PCR_FAIL otherwise, PCR_ENV for trouble that ends the run.
 */
pcr_status pcr_check_file(const pcr_options *opt, const char *path,
                          const char *relpath,
                          pcr_check_result res[PCR_MAX_LEVELS], int *nres,
                          pcr_error *err);
void pcr_check_results_free(pcr_check_result *res, int n);

/* Class of one .pyc's bytes (found; NULL when missing) against the bytes
 * we would write; detail explains. */
pcr_check_class pcr_check_pyc(const pcr_buf *found, const pcr_buf *expected,
                              char *detail, size_t size);

/* Rewrite a .pyc written by any tool into the canonical form, in place and
 * atomically (its mode is kept).  *changed tells whether bytes changed. */
pcr_status pcr_canonicalize_file(const char *path, int *changed,
                                 pcr_error *err);

/* Print a .pyc: header, then the marshal tree with offsets, FLAG_REF
 * marks, reference indices and targets. */
#include <stdio.h>
pcr_status pcr_dump(FILE *out, const unsigned char *data, size_t len,
                    pcr_error *err);

/* --------------------------------------------------------------- trees */

/* A Python regular expression (re module semantics, as compileall -x),
 * evaluated by the embedded interpreter. */
typedef struct pcr_regex pcr_regex;
pcr_status pcr_regex_compile(const char *pattern, pcr_regex **out,
                             pcr_error *err);
/* 1 if the pattern is found in text, 0 if not. */
int pcr_regex_search(const pcr_regex *rx, const char *text);
void pcr_regex_free(pcr_regex *rx);

typedef struct pcr_job {
    char *path;    /* as compileall builds it: os.path.join(dir, name) */
    char *relpath; /* relative to the directory operand; NULL for a file
                      named on the command line */
    uint64_t size; /* for scheduling the largest first */
    char *error;   /* the walk could not look at it (reported as failed) */
    int skip;      /* filtered out by -x or -e: reported as skipped */
} pcr_job;

typedef struct pcr_jobs {
    pcr_job *v;
    size_t n, cap;
} pcr_jobs;

typedef struct pcr_walk_options {
    int maxlevels;             /* directory depth (compileall -r); -l is 0 */
    const char *limit_sl_dest; /* -e: ignore symlinks leading outside */
    const pcr_regex *rx;       /* -x: skip paths where this is found */
    const char *suffix;        /* files kept in directories: ".py" */
    int into_pycache;          /* walk __pycache__ too (for .pyc files) */
} pcr_walk_options;

void pcr_walk_options_init(pcr_walk_options *wo);
/*
 * Add an operand: a file is one job (any name, as py_compile); a
 * directory is walked as compileall does -- names sorted bytewise,
 * __pycache__ skipped, symlinked directories not followed, only regular
 * *.py files kept, subdirectories down to maxlevels.  A directory that
 * cannot be listed, or a missing operand, becomes a job with an error.
 */
pcr_status pcr_jobs_add(pcr_jobs *jobs, const char *operand,
                        const pcr_walk_options *wo, pcr_error *err);
void pcr_jobs_free(pcr_jobs *jobs);

/* ---------------------------------------------------------------- pool */

/* The work done for one job, in whichever process runs it. */
typedef pcr_status (*pcr_work_fn)(void *ctx, const pcr_job *job,
                                  pcr_outcome *outcome, pcr_error *err);
/* Called in the calling process, in job order, once per job. */
typedef void (*pcr_result_fn)(void *ctx, size_t index, const pcr_job *job,
                              pcr_status status, pcr_outcome outcome,
                              const char *msg);
/* Called in the calling process after each finished job. */
typedef void (*pcr_progress_fn)(void *ctx, size_t done, size_t total);

/*
 * Run work over every job with `workers` processes forked from this one
 * after the interpreter was started (0: one per online CPU; 1: in this
 * process).  Jobs are handed out one at a time, largest first, so a few
 * big files do not hold up the end; results are delivered in job order
 * whatever the number of workers.  A worker that dies takes only its
 * current job with it (reported as failed); another takes its place.
 * Returns PCR_ENV if workers cannot be started.
 */
pcr_status pcr_pool_run(const pcr_jobs *jobs, int workers, pcr_work_fn work,
                        void *work_ctx, pcr_result_fn result,
                        pcr_progress_fn progress, void *report_ctx,
                        pcr_error *err);

/* ------------------------------------------------------------ archives */

enum { PCR_AR_TAR, PCR_AR_TAR_GZ, PCR_AR_TAR_XZ, PCR_AR_TAR_ZST, PCR_AR_ZIP };

/* Archive format from the output name (.tar, .tar.gz/.tgz, .tar.xz,
 * .tar.zst, .whl/.zip); -1 if none. */
int pcr_aformat_from_name(const char *path);

typedef struct pcr_aentry {
    char *name; /* path inside the archive (directories end without /) */
    int is_dir;
    mode_t mode; /* permission bits */
    int64_t mtime;
    pcr_buf data; /* regular files */
} pcr_aentry;

typedef struct pcr_alist {
    pcr_aentry *v;
    size_t n, cap;
} pcr_alist;

/* Append an entry (data is copied). */
pcr_status pcr_alist_add(pcr_alist *l, const char *name, int is_dir,
                         mode_t mode, int64_t mtime, const unsigned char *data,
                         size_t len, pcr_error *err);
void pcr_alist_free(pcr_alist *l);

/* Write the entries, in their order, as a reproducible archive: owner 0:0
 * root, restricted pax or zip, gzip without a timestamp, zip times in
 * UTC.  Written to a temporary file and renamed: an error leaves no
 * output. */
pcr_status pcr_archive_write(const char *path, int format, const pcr_alist *l,
                             pcr_error *err);

/* SOURCE_DATE_EPOCH: PCR_OK with *set = 0 when unset or empty; PCR_ENV
 * when it is not a non-negative integer. */
pcr_status pcr_source_date_epoch(int *set, int64_t *value, pcr_error *err);

/* sha256=<urlsafe base64, no padding> of data, as RECORD wants. */
pcr_status pcr_record_hash(const unsigned char *data, size_t len, char out[64],
                           pcr_error *err);

typedef struct pcr_tar_options {
    const pcr_options *opt; /* levels, mode, -d/-s/-p (record names) */
    const char *base;       /* -C DIR: entry names are relative to it */
    int include_sources;
    int clamp_mtime; /* keep mtimes older than the epoch */
    int64_t epoch;   /* SOURCE_DATE_EPOCH, or the time chosen */
} pcr_tar_options;

/* Compile the jobs and collect the entries of a tar: the .pyc files (and
 * sources), every parent directory, sorted bytewise.  A source that fails
 * to compile fails the whole archive (the first error is in err). */
pcr_status pcr_tar_entries(const pcr_tar_options *to, const pcr_jobs *jobs,
                           pcr_alist *out, pcr_error *err);

typedef struct pcr_wheel_options {
    const pcr_options *opt; /* levels, mode, -p (recorded prefix) */
    int sourceless;         /* NAME.pyc in place of NAME.py */
    int verify_record;      /* the input's RECORD must match it */
    int64_t epoch;          /* entry times (clamped to 1980-01-01) */
} pcr_wheel_options;

/* Read a wheel, refusing what an attacker could use (absolute or ..
 * paths, duplicates, links, devices, sizes past the limits, a RECORD that
 * does not match), compile its Python files and build the new entry list
 * with RECORD and WHEEL rewritten. */
pcr_status pcr_wheel_rebuild(const pcr_wheel_options *wo, const char *in,
                             pcr_alist *out, pcr_error *err);
/* Read any archive libarchive knows (zip, tar and its compressions) into
 * entries, refusing absolute or ".." names, links and special files, and
 * sizes past the limits (256 MiB an entry, 1 GiB in all). */
pcr_status pcr_archive_read(const char *path, pcr_alist *out, pcr_error *err);
/* Does the wheel's RECORD list every file with its right hash and size? */
pcr_status pcr_wheel_verify_record(const char *path, pcr_error *err);
/* The output file name for an input wheel name: python tag -> cp311. */
char *pcr_wheel_output_name(const char *in);

/* -------------------------------------------------------------- verify */

/* Independent compiles of every job, made before writing (--verify). */
typedef struct pcr_verify pcr_verify;

/*
 * Compile every job copies - 1 more times, each round in `procs` fresh
 * processes started as server_argv (this program in a mode that calls
 * pcr_verify_serve on its stdin/stdout), round r with hash seed r and
 * another order of the jobs than the last.  The results are kept in *out.
 */
pcr_status pcr_verify_run(const pcr_options *opt, const pcr_jobs *jobs,
                          int copies, int procs, char *const server_argv[],
                          pcr_verify **out, pcr_error *err);
/* PCR_OK if every independent compile of job/level gave exactly these
 * bytes; PCR_FAIL naming the first differing object otherwise. */
pcr_status pcr_verify_compare(const pcr_verify *v, size_t job, int level_index,
                              const unsigned char *data, size_t len,
                              pcr_error *err);
void pcr_verify_free(pcr_verify *v);
/* The server side: read jobs from in_fd, answer on out_fd. */
pcr_status pcr_verify_serve(int in_fd, int out_fd, pcr_error *err);

#ifdef __cplusplus
}
#endif

#endif /* PYCOMPILE_REPRO_H */
