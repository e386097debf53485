/*
 * cli.h - the pycompile-repro command line: option parsing and the input
 * list, kept apart from main.c so that unit tests can call them.
 */
#ifndef PCR_CLI_H
#define PCR_CLI_H

#include <stdio.h>

#include "pycompile_repro.h"

typedef enum pcr_cli_mode {
    PCR_MODE_COMPILE = 0,
    PCR_MODE_CHECK,        /* --check */
    PCR_MODE_DUMP,         /* --dump */
    PCR_MODE_CANONICALIZE, /* --canonicalize */
    PCR_MODE_VERIFY_SERVER /* --verify-server (internal, for --verify) */
} pcr_cli_mode;

typedef struct pcr_cli {
    pcr_cli_mode mode;
    int verify;           /* --verify[=N]: compiles per file, 0 = off */
    int mode_given;       /* --invalidation-mode was given */
    const char *package;  /* --package PKG: its files from dpkg */
    int remove;           /* --remove: delete the .pyc files instead */
    const char *tar;      /* --tar OUT */
    const char *wheel;    /* --wheel IN */
    const char *output;   /* --output OUT (wheel) */
    const char *base;     /* -C DIR (tar) */
    int include_sources;  /* --include-sources */
    int clamp_mtime;      /* --clamp-mtime */
    int sourceless;       /* --sourceless */
    int no_verify_record; /* --no-verify-record */
    int json;             /* --format json */
    pcr_options opt;
    pcr_walk_options walk;
    const char *regex; /* -x */
    const char *list;  /* -i FILE, "-" for stdin */
    int quiet;         /* -q count (compileall's levels) */
    int verbose;       /* -v: listing and summary even for plain files */
    int workers;       /* -j: 0 = one per CPU */
    int null_names;    /* -0: names on stdin are NUL-separated */
    int help;
    int version;
    char **files; /* operands, borrowed from argv */
    int nfiles;
} pcr_cli;

/* Parse argv.  PCR_OK, or PCR_ENV with a message for a usage error. */
pcr_status pcr_cli_parse(int argc, char **argv, pcr_cli *cli, pcr_error *err);
void pcr_cli_usage(FILE *out);

/* Read names separated by sep ('\n' or '\0') from in; empty names are
 * skipped; with trim, surrounding white space is removed (compileall's
 * -i).  *names is a NULL-terminated array the caller frees with
 * pcr_cli_free_names. */
pcr_status pcr_cli_read_names(FILE *in, int sep, int trim, char ***names,
                              size_t *n, pcr_error *err);
void pcr_cli_free_names(char **names);

/* "pycompile-repro: FILE: MSG" on stderr (messages.c). */
void pcr_cli_error(const char *file, const char *msg);

/* Archive commands (archive_cmds.c); each returns the exit status. */
int pcr_cli_run_tar(const pcr_cli *cli, const pcr_jobs *jobs);
int pcr_cli_run_wheel(const pcr_cli *cli);
int pcr_cli_check_tar(const pcr_cli *cli, const pcr_jobs *jobs);
int pcr_cli_check_wheel(const pcr_cli *cli);

#endif
