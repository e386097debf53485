/* SPDX-License-Identifier: MIT */
/*
 * handle.h - the handle (struct pcr: the caller's settings), the Python
 * versions found (pythons.c) and the events handed to the caller.
 */
#ifndef PCR_HANDLE_H
#define PCR_HANDLE_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "common.h"
#include "walk.h"

/* A file or directory to compile; pcr_add_file also names the recorded
 * name and the .pyc. */
typedef struct pcr_operand {
    char *path;
    char *record; /* or NULL */
    char *pyc;    /* or NULL */
} pcr_operand;

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
    pcr_operand *operands;
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

/* py_compile's default mode: CHECKED_HASH when SOURCE_DATE_EPOCH is set
 * and not empty. */
pcr_invalidation pcr_default_invalidation(void);

#endif
