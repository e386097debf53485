/* SPDX-License-Identifier: MIT */
/*
 * cli.h - the pycompile-repro command line: its options, its input
 * lists and its output.  It uses only the library's public header; its
 * own symbols start with cli_.
 */
#ifndef CLI_H
#define CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pycompile_repro.h"

#define CLI_PROG "pycompile-repro"

typedef struct cli_error {
    char msg[1024];
} cli_error;

/* What to do: one verb. */
typedef enum cli_verb {
    CLI_COMPILE = 0,
    CLI_CHECK,
    CLI_DUMP,
    CLI_CANONICALIZE,
    CLI_REMOVE,
    CLI_HELP,
    CLI_VERSION,
    CLI_CACHE /* --cache-stats or --cache-clear alone */
} cli_verb;

typedef struct cli_options {
    cli_verb verb;
    int verify;    /* --verify[=N] */
    int mode;      /* --invalidation-mode, -1: default */
    int levels[3]; /* -o 0, 1, 2: each at most once */
    int nlevels;
    const char *ddir, *strip, *prepend;
    int force, legacy, hardlink_dupes;
    int maxlevels;       /* -r / -l; -1: default */
    const char *regex;   /* -x */
    const char *sl_dest; /* -e */
    const char *list;    /* -i */
    int quiet, verbose;
    int workers;
    int null_names;        /* -0 */
    int json;              /* --format json */
    int allow_no_compiler; /* --check: no-compiler is not a failure */
    int by_value;          /* --check: not-canonical is fine */
    int all_packages;      /* --check --all-packages */
    int workers_set;       /* -j given */
    const char *tar, *base, *wheel, *output;
    int include_sources, clamp_mtime, sourceless, no_verify_record;
    const char *packages[64];
    int npackages;
    const char *pythons[16];
    int npythons;
    uint64_t memory_limit; /* bytes; 0: the library's default */
    int memory_limit_set;
    const char *server_dir;
    const char *cache_dir; /* --cache-dir */
    uint64_t cache_max;    /* --cache-max-size, bytes */
    int cache_max_set;     /* given (else the variable, or the default) */
    int cache_stats;       /* --cache-stats */
    int cache_shared;      /* --cache-shared */
    int cache_clear;       /* --cache-clear */
    char **files;          /* operands, borrowed from argv */
    int nfiles;
} cli_options;

/* The cache's maximum when neither --cache-max-size nor
 * PYCOMPILE_REPRO_CACHE_MAX_SIZE says (ccache has one too: a cache must
 * not grow without bound by default). */
#define CLI_CACHE_MAX_DEFAULT ((uint64_t)1 << 30)

/* "123", "64K", "1.5M", "1G" (K, M, G: powers of 1024) into bytes;
 * PCR_ENV if it is no size. */
pcr_status cli_parse_size(const char *s, uint64_t *out);
/* Parse argv; on a usage error PCR_ENV with a message. */
pcr_status cli_parse(int argc, char **argv, cli_options *o, cli_error *err);
void cli_usage(FILE *out);
/* The name in names closest to word (an option without its "--"), when
 * it is near enough to be a typo; else NULL (suggest.c). */
const char *cli_suggest(const char *word, const char *const *names,
                        size_t count);

/* Names separated by sep ('\n' or '\0') from in; empty names skipped;
 * with trim, surrounding white space removed (compileall's -i).  A
 * NULL-terminated array freed with cli_free_names. */
pcr_status cli_read_names(FILE *in, int sep, int trim, char ***names,
                          size_t *n, cli_error *err);
void cli_free_names(char **names);

/* SOURCE_DATE_EPOCH: *set = 0 when unset or empty; PCR_ENV when it is
 * not an integer from 0 to 253402300799 (the year 9999). */
pcr_status cli_source_date_epoch(int *set, int64_t *value, cli_error *err);

/* --package: the files dpkg lists for each package, as operands; a
 * warning for a package that ships no Python file (package.c). */
pcr_status cli_add_packages(pcr *p, const cli_options *o, int *nfiles,
                            cli_error *err);

/* --output DIR/ of --wheel (outdir.c): path is the name without trailing
 * slashes; a name ending in '/' is a directory, made when missing.
 * cli_outdir_finish(d, failed) removes what was made if the run failed
 * and it is still empty. */
#define CLI_OUTDIR_MAX 32
typedef struct cli_outdir {
    char path[4096];
    char *made[CLI_OUTDIR_MAX];
    int nmade;
} cli_outdir;
pcr_status cli_outdir_prepare(cli_outdir *d, const char *out, cli_error *err);
void cli_outdir_finish(cli_outdir *d, int failed);

/* --check --all-packages (all_packages.c): cli_ap_run checks every
 * installed Debian package's bytecode, its events to cb, which passes
 * each through cli_ap_keep (0: not a finding, drop it; *package: the
 * source's package). */
typedef struct cli_ap cli_ap;
cli_ap *cli_ap_new(void);
pcr_status cli_ap_run(cli_ap *a, pcr *p, const cli_options *o, pcr_callback cb,
                      void *user, cli_error *err);
int cli_ap_keep(cli_ap *a, const pcr_event *ev, const char **package);
void cli_ap_summary(const cli_ap *a, int quiet);
void cli_ap_free(cli_ap *a);

/* "pycompile-repro: FILE: MSG" on stderr (output.c). */
void cli_error_line(const char *file, const char *msg);

/* --check's report, text or JSON (report.c). */
typedef struct cli_report {
    int json;
    int quiet; /* text: 1 only the problem lines, 2 nothing */
    int allow_no_compiler;
    int by_value; /* not-canonical (same code) is fine */
    pcr *p;
    FILE *out;
    size_t checked;
    size_t by_class[PCR_CHECK_CLASSES];
    /* other-mode: the mode checked for, why, and the modes found */
    int mode_asked; /* --invalidation-mode given */
    int packages;   /* --package: timestamp, as the Debian hooks write */
    pcr_invalidation mode;
    int epoch_set;        /* SOURCE_DATE_EPOCH set and not empty */
    size_t found_mode[4]; /* timestamp, checked, unchecked, unknown */
} cli_report;

void cli_report_begin(cli_report *r, const cli_options *o, FILE *out, pcr *p);
/* One .pyc; package (or NULL) is named with it (--all-packages). */
void cli_report_record(cli_report *r, const pcr_event *ev,
                       const char *package);
/* A source that failed as a whole (PCR_EV_SOURCE, no .pyc to name): a
 * record with "pyc": null, unreadable (PCR_ENV: e.g. the name does not
 * exist; exit 2) or source-error; as text, compiling's error line. */
void cli_report_source(cli_report *r, const pcr_event *ev,
                       const char *package);
/* Ends the report; the exit status (0, 1 or 2). */
int cli_report_end(cli_report *r, double seconds);
/* A JSON string, with bytes that are not UTF-8 escaped losslessly. */
void cli_json_string(FILE *out, const char *s);

#endif
