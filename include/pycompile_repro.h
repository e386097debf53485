/* SPDX-License-Identifier: MIT */
/*
 * pycompile_repro.h - public interface of libpycompile-repro.
 *
 * The library byte-compiles Python sources into .pyc files whose bytes do
 * not depend on the process, machine or build path that made them.  It
 * links no libpython: compiling is done by compile servers, one small
 * program per CPython version (LIBEXECDIR/pycompile-repro/cpython-X.Y),
 * which the library starts and talks to over pipes.  Reading, checking,
 * canonicalising and dumping .pyc files of CPython 3.8 to 3.14 needs no
 * server.
 *
 * Use: pcr_new(), set options, add operands, then pcr_run() one verb; the
 * callback receives events (one per source and Python version, one per
 * .pyc checked, ...) in the order of the operands, whatever the number of
 * workers.  Every call returns a pcr_status; on failure pcr_error_string()
 * says why.  The library never prints (except --dump's output, to the
 * stream given) and never exits.  A handle can run again (pcr_reset):
 * the compile servers it started stay running, idle, between runs, so
 * that the next run starts none; pcr_free() stops them (one that does not
 * exit when told is killed after 2 s).  A server that went away while
 * idle (a Ctrl-C to the process group, the OOM killer) is replaced at the
 * next run, and no file is failed for it.  Servers inherit no descriptor
 * of the caller's but stderr.
 *
 * Threads: a handle is used by one thread at a time (one handle per
 * thread); independent handles may run at once in independent threads.
 * The callback runs in the thread that called pcr_run; from it, the
 * handle's setters and pcr_run refuse (PCR_ENV): a run's settings do not
 * change under it.  A handle must not be used in a child process after
 * fork().
 *
 * Process-wide effects: the library starts child processes (the compile
 * servers; they belong to the handle until pcr_free) and waits for them
 * by their pid, so a caller that reaps every child (waitpid(-1) in a
 * SIGCHLD handler) takes them away.  Writes to the servers never raise
 * SIGPIPE (sockets written with MSG_NOSIGNAL): no signal mask or handler
 * is changed.  While a wheel (a zip) is written, TZ is set to UTC0 and
 * restored after, under a lock: libarchive's zip writer takes DOS times
 * from localtime_r(), and no adjusted time can avoid it because it writes
 * the same time into its UT field; other threads that read local time in
 * that moment see UTC.  Nothing else (no locale, no environment variable)
 * is changed.
 *
 * All symbols start with pcr_ / PCR_.  Strings returned are borrowed and
 * valid until the next call on the same handle, unless said otherwise.
 */
#ifndef PYCOMPILE_REPRO_H
#define PYCOMPILE_REPRO_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(PCR_BUILDING_LIBRARY)
#define PCR_API __attribute__((visibility("default")))
#else
#define PCR_API
#endif

#define PCR_VERSION_MAJOR 0
#define PCR_VERSION_MINOR 2
#define PCR_VERSION_PATCH 0
#define PCR_VERSION "0.2.0"
#define PCR_VERSION_NUMBER                                                    \
    (PCR_VERSION_MAJOR * 10000 + PCR_VERSION_MINOR * 100 + PCR_VERSION_PATCH)

/* The version of the library actually linked, its canonical form, and
 * the libraries it uses ("libarchive 3.6.2 zlib/1.2.13 ..., OpenSSL
 * 3.0.x"). */
PCR_API unsigned pcr_version_number(void);
PCR_API const char *pcr_version_string(void);
PCR_API int pcr_canonical_form(void);
PCR_API const char *pcr_library_versions(void);

typedef enum pcr_status {
    PCR_OK = 0,   /* success */
    PCR_FAIL = 1, /* this item failed (bad source, unwritable target, ...) */
    PCR_ENV = 2   /* usage or environment trouble: the run cannot go on */
} pcr_status;

typedef struct pcr pcr; /* a handle: options, servers, the last error */

PCR_API pcr *pcr_new(void); /* NULL when out of memory */
PCR_API void pcr_free(pcr *p);
/* Why the last call on p failed. */
PCR_API const char *pcr_error_string(const pcr *p);

/* ----------------------------------------------------------- options */

typedef enum pcr_invalidation {
    PCR_TIMESTAMP = 0,
    PCR_CHECKED_HASH = 1,
    PCR_UNCHECKED_HASH = 2
} pcr_invalidation;

/* "timestamp", "checked-hash", "unchecked-hash" (also CHECKED_HASH ...);
 * -1 if unknown. */
PCR_API int pcr_invalidation_parse(const char *name);
PCR_API const char *pcr_invalidation_name(pcr_invalidation mode);

typedef enum pcr_flag {
    PCR_FLAG_FORCE = 1,             /* compile even when up to date */
    PCR_FLAG_LEGACY,                /* -b: SOURCE.pyc beside the source */
    PCR_FLAG_HARDLINK_DUPES,        /* hard-link equal .pyc of the levels */
    PCR_FLAG_INCLUDE_SOURCES,       /* tar: the sources too */
    PCR_FLAG_SOURCELESS,            /* wheel: NAME.pyc in place of NAME.py */
    PCR_FLAG_NO_VERIFY_RECORD,      /* wheel: accept a RECORD that is wrong */
    PCR_FLAG_CLAMP_MTIME,           /* sources newer than SOURCE_DATE_EPOCH
                                       get its time (in-place), or archive
                                       entries keep older times (tar) */
    PCR_FLAG_ALL_TAGS,              /* --remove: every cache tag and level */
    PCR_FLAG_CANONICALIZE_EXISTING, /* compile: an up-to-date .pyc that
                                       is not canonical is rewritten */
    PCR_FLAG_ALLOW_NO_COMPILER      /* check: a .pyc of a version with no
                                       server here (no-compiler) does not
                                       fail the run */
} pcr_flag;

PCR_API pcr_status pcr_set_flag(pcr *p, pcr_flag flag, int on);
/* 0, 1 or 2; call once per level wanted (none: level 0). */
PCR_API pcr_status pcr_add_level(pcr *p, int level);
PCR_API pcr_status pcr_set_invalidation(pcr *p, pcr_invalidation mode);
/* compileall's -d, -s and -p (any may be NULL; -d excludes -s and -p). */
PCR_API pcr_status pcr_set_record_names(pcr *p, const char *ddir,
                                        const char *strip,
                                        const char *prepend);
/* Worker processes per Python version and --verify round (0: one per
 * CPU, shared among the rounds). */
PCR_API pcr_status pcr_set_workers(pcr *p, int n);
/* --verify=N: N compiles per file, N - 1 of them in independent servers
 * (other hash seed, other order); 0 or 1: off; at most PCR_VERIFY_MAX. */
#define PCR_VERIFY_MAX 10
PCR_API pcr_status pcr_set_verify(pcr *p, int copies);
/* Memory a server may use to compile one source (bytes; 0: no limit). */
PCR_API pcr_status pcr_set_memory_limit(pcr *p, uint64_t bytes);
/* SOURCE_DATE_EPOCH for archives and PCR_FLAG_CLAMP_MTIME (-1: none). */
PCR_API pcr_status pcr_set_epoch(pcr *p, int64_t epoch);

/* A content-addressed cache of compiled code in dir (NULL: none), shared
 * safely by processes and machines (NFS); max_size bytes (0: no limit),
 * least recently used entries removed first.  A hit compiles nothing
 * (one server per version still starts, to say which exact CPython it
 * is).  --verify never reads it.  The directory must belong to the user
 * (or root), not be writable by others and not be a symlink, else a run
 * goes on without it and says so in a warning event (checked, and made
 * when missing, at the start of each run); pcr_set_cache_shared(p, 1) accepts
 * a directory shared between users (then anyone who can write there can
 * plant an entry: see pcr_set_cache_shared in the man page). */
PCR_API pcr_status pcr_set_cache(pcr *p, const char *dir, uint64_t max_size);
PCR_API pcr_status pcr_set_cache_shared(pcr *p, int shared);
/* Remove every entry of the cache. */
PCR_API pcr_status pcr_cache_clear(pcr *p);
/* What the cache did in the last run.  entries and bytes are counted when
 * a maximum size is set or want_totals was set before the run. */
typedef enum pcr_cache_counter {
    PCR_CACHE_HITS = 0,
    PCR_CACHE_MISSES,
    PCR_CACHE_WRITTEN,
    PCR_CACHE_ERRORS,
    PCR_CACHE_DAMAGED, /* entries that did not prove their key: removed */
    PCR_CACHE_TRIMMED, /* removed to stay under the size */
    PCR_CACHE_ENTRIES,
    PCR_CACHE_BYTES,
    PCR_CACHE_COUNTERS /* how many there are (more may come) */
} pcr_cache_counter;
PCR_API pcr_status pcr_cache_totals(pcr *p, int want_totals);
PCR_API uint64_t pcr_cache_stat(const pcr *p, pcr_cache_counter which);
PCR_API const char *pcr_cache_counter_name(pcr_cache_counter which);
/* Deprecated (the struct cannot grow): use pcr_cache_stat. */
typedef struct pcr_cache_stats {
    uint64_t hits, misses, written, errors, damaged, trimmed;
    uint64_t entries, bytes;
} pcr_cache_stats;
PCR_API void pcr_get_cache_stats(const pcr *p, pcr_cache_stats *out);

/* ------------------------------------------------------ Python versions */

/* Where the compile servers are (default: PYCOMPILE_REPRO_SERVER_DIR,
 * else next to the program, else the built-in LIBEXECDIR); a relative
 * directory is taken against the working directory of this call.
 * Setting another directory replaces the list of servers (those started
 * are stopped); setting the same one again keeps them warm, unless none
 * was found there last time (then it is looked at again). */
PCR_API pcr_status pcr_set_server_dir(pcr *p, const char *dir);
/* Compile for "X.Y" (repeatable) or "all" (every server found).  With
 * none, a path under .../lib/pythonX.Y/ is compiled for X.Y and anything
 * else for the default python3 (/usr/bin/python3's version when a server
 * for it exists, else the newest server). */
PCR_API pcr_status pcr_add_python(pcr *p, const char *version);
/* The servers found: count, then facts about server i.  The version
 * strings need the server started (pcr_python_start). */
PCR_API int pcr_python_count(pcr *p);
PCR_API const char *pcr_python_series(pcr *p, int i); /* "3.13" */
PCR_API const char *pcr_python_path(pcr *p, int i);
PCR_API pcr_status pcr_python_start(pcr *p, int i);
PCR_API const char *pcr_python_version(pcr *p, int i); /* "3.13.5" */
PCR_API const char *pcr_python_build(pcr *p, int i);   /* sys.version */
PCR_API const char *pcr_python_cache_tag(pcr *p, int i);
PCR_API uint32_t pcr_python_magic(pcr *p, int i);
PCR_API int pcr_python_default(pcr *p); /* index, or -1 if none */

/* ----------------------------------------------------------- operands */

/* compileall's walk options: -r depth (-l is 0), -x regex (Python re
 * syntax), -e symlink limit. */
PCR_API pcr_status pcr_set_max_depth(pcr *p, int levels);
PCR_API pcr_status pcr_set_exclude(pcr *p, const char *regex);
PCR_API pcr_status pcr_set_symlink_limit(pcr *p, const char *dir);
/* sys.pycache_prefix (PYTHONPYCACHEPREFIX; the library never reads the
 * variable): the .pyc of a source go to
 * PREFIX/ABSDIR/NAME.TAG[.opt-N].pyc, as importlib.util.cache_from_source
 * gives them (a relative source's directory joined to getcwd(), textually),
 * their directories made; NULL or "": __pycache__ (the default).  Not for
 * the legacy layout, archives, or a file added with its own .pyc name. */
PCR_API pcr_status pcr_set_pycache_prefix(pcr *p, const char *prefix);
/* A file (compiled whatever its name) or a directory (walked as
 * compileall does).  For --dump and --canonicalize, .pyc files. */
PCR_API pcr_status pcr_add_operand(pcr *p, const char *path);
/* A file compiled to exactly one .pyc, as py_compile.compile(source,
 * cfile=pyc, dfile=record) does: record (NULL: as for an operand) is the
 * name the code objects record, pyc (NULL: the cache path) where the .pyc
 * goes.  A run with such a file takes one level and one Python version. */
PCR_API pcr_status pcr_add_file(pcr *p, const char *source, const char *record,
                                const char *pyc);
/* A file that must also lie below dir (py3compile -p PKG DIR): files
 * outside every such directory are skipped.  Repeatable. */
PCR_API pcr_status pcr_add_restriction(pcr *p, const char *dir);

/* Archives: --tar OUT (-C base), --wheel IN --output OUT; NULL: none
 * (back to writing .pyc files beside the sources). */
PCR_API pcr_status pcr_set_tar(pcr *p, const char *out, const char *base);
PCR_API pcr_status pcr_set_wheel(pcr *p, const char *in, const char *out);

/* Make the handle ready for another run.  PCR_RESET_OPERANDS: operands,
 * files, restrictions and archives cleared; PCR_RESET_OPTIONS: every other
 * setting back to what pcr_new gives, but the server directory and the
 * cache.  The compile servers already started stay running. */
#define PCR_RESET_OPERANDS 1u
#define PCR_RESET_OPTIONS 2u
PCR_API pcr_status pcr_reset(pcr *p, unsigned what);

/* ------------------------------------------------------------ running */

typedef enum pcr_verb {
    PCR_VERB_COMPILE = 0,  /* write .pyc files (or the tar, or the wheel) */
    PCR_VERB_CHECK,        /* write nothing; compare what exists */
    PCR_VERB_CANONICALIZE, /* rewrite existing .pyc in canonical form */
    PCR_VERB_DUMP,         /* print existing .pyc files */
    PCR_VERB_REMOVE        /* delete the .pyc files of the sources */
} pcr_verb;

typedef enum pcr_event_type {
    PCR_EV_SOURCE = 1, /* a source is done for one Python version */
    PCR_EV_PYC,        /* one .pyc checked, canonicalised, dumped, removed */
    PCR_EV_ARCHIVE,    /* an archive written or checked */
    PCR_EV_WARNING,    /* CPython's warnings, or a notice about defaults */
    PCR_EV_PROGRESS    /* after each finished source */
} pcr_event_type;

typedef enum pcr_outcome {
    PCR_COMPILED = 0,   /* written */
    PCR_UP_TO_DATE = 1, /* every .pyc already right: nothing written */
    PCR_SKIPPED = 2,    /* filtered out (-x, -e, a restriction) */
    PCR_FAILED = 3      /* see the message */
} pcr_outcome;

typedef enum pcr_check_class {
    PCR_CHECK_OK = 0,
    PCR_CHECK_MISSING,       /* no .pyc where one is expected */
    PCR_CHECK_MAGIC,         /* written by another Python */
    PCR_CHECK_MODE,          /* another invalidation mode */
    PCR_CHECK_STALE,         /* source hash, or mtime/size, no longer
                                match the source */
    PCR_CHECK_NOT_CANONICAL, /* same code, not in canonical form */
    PCR_CHECK_DIFFERENT,     /* different code */
    PCR_CHECK_SOURCE_ERROR,  /* the source cannot be read or compiled */
    PCR_CHECK_UNREADABLE,    /* the .pyc exists but cannot be read */
    PCR_CHECK_NO_COMPILER,   /* a .pyc of a version with no server here */
    PCR_CHECK_SKIPPED        /* excluded (-x, -e): not checked */
} pcr_check_class;
#define PCR_CHECK_CLASSES 11

/* Short stable name of a class ("ok", "missing", "other-python", ...). */
PCR_API const char *pcr_check_class_name(pcr_check_class c);

typedef struct pcr_event pcr_event; /* valid during the callback only */
typedef void (*pcr_callback)(void *user, const pcr_event *ev);

/* Run a verb over the operands.  PCR_OK: every item succeeded (or, for
 * CHECK, every .pyc is identical); PCR_FAIL: some item failed or differs
 * (events say which); PCR_ENV: the run could not go on, or (CHECK) some
 * .pyc or source could not be read.  CHECK reports each .pyc as a
 * PCR_EV_PYC; a source that failed as a whole with no .pyc to name (one
 * that is not there: PCR_ENV, "cannot open: ..."; in a tar's check, one
 * that does not compile) as a failed PCR_EV_SOURCE, as compiling does. */
PCR_API pcr_status pcr_run(pcr *p, pcr_verb verb, pcr_callback cb, void *user);
/* --dump's output stream (default stdout). */
PCR_API pcr_status pcr_set_dump_stream(pcr *p, FILE *out);

PCR_API pcr_event_type pcr_event_kind(const pcr_event *ev);
/* Position of the source among the operands' sources (0, 1, ...). */
PCR_API size_t pcr_event_index(const pcr_event *ev);
PCR_API const char *pcr_event_source(const pcr_event *ev);
PCR_API const char *pcr_event_pyc(const pcr_event *ev);    /* or NULL */
PCR_API const char *pcr_event_python(const pcr_event *ev); /* "3.13" */
PCR_API int pcr_event_level(const pcr_event *ev);          /* -1: none */
PCR_API pcr_outcome pcr_event_outcome(const pcr_event *ev);
PCR_API pcr_check_class pcr_event_class(const pcr_event *ev);
PCR_API pcr_status pcr_event_status(const pcr_event *ev);
/* What went wrong, the check's detail, or CPython's warnings ("" if
 * none).  May hold newlines (CPython's syntax error block). */
PCR_API const char *pcr_event_message(const pcr_event *ev);
/* PCR_EV_PYC after CANONICALIZE: 1 if the file was rewritten. */
PCR_API int pcr_event_changed(const pcr_event *ev);
/* PCR_EV_PROGRESS: sources finished and in all. */
PCR_API size_t pcr_event_done(const pcr_event *ev);
PCR_API size_t pcr_event_total(const pcr_event *ev);

#ifdef __cplusplus
}
#endif

#endif /* PYCOMPILE_REPRO_H */
