/*
 * main.c - pycompile-repro: a thin layer over the library.  It parses
 * the options, starts the embedded interpreter once, compiles every file
 * (going on after a failure) and reports errors as
 * "pycompile-repro: FILE: what went wrong".
 *
 * Exit status: 0 all good, 1 a file failed, 2 usage or environment.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PROG "pycompile-repro"

static void
report(const pcr_cli *cli, const char *file, const char *msg)
{
    if (cli->quiet >= 1 && file != NULL) {
        return; /* -q silences per-file errors (py_compile's -q) */
    }
    if (file == NULL) {
        fprintf(stderr, PROG ": %s\n", msg);
    } else if (strchr(msg, '\n') != NULL) {
        /* CPython's File/line/caret block, as python prints it. */
        fprintf(stderr, PROG ": %s: cannot compile:\n%s\n", file, msg);
    } else {
        fprintf(stderr, PROG ": %s: %s\n", file, msg);
    }
}

static void
print_version(void)
{
    printf(PROG " %s\n", PCR_VERSION);
    printf("CPython %s embedded (%s)\n", pcr_python_version(),
           pcr_python_build());
    uint32_t m = pcr_magic_number();
    printf("magic %u (%02x %02x %02x %02x), cache tag %s\n",
           (unsigned)(m & 0xffff), m & 0xff, (m >> 8) & 0xff,
           (m >> 16) & 0xff, m >> 24, pcr_cache_tag());
}

/* Compile one file; returns 0 on success, 1 on a per-file failure, 2 when
 * the run cannot go on. */
static int
compile_one(const pcr_cli *cli, const char *path)
{
    pcr_error err;
    pcr_status rc = pcr_compile_file(&cli->opt, path, NULL, &err);
    if (rc == PCR_OK) {
        return 0;
    }
    if (rc == PCR_ENV) {
        report(cli, NULL, err.msg);
        return 2;
    }
    report(cli, path, err.msg);
    return 1;
}

static int
compile_stdin(const pcr_cli *cli, int *failed)
{
    pcr_error err;
    char **names;
    size_t n;
    if (pcr_cli_read_names(stdin, cli->null_names ? '\0' : '\n', &names, &n,
                           &err) != PCR_OK) {
        report(cli, NULL, err.msg);
        return 2;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc < 2; i++) {
        rc = compile_one(cli, names[i]);
        *failed += rc == 1;
    }
    pcr_cli_free_names(names);
    return rc == 2 ? 2 : 0;
}

int
main(int argc, char **argv)
{
    pcr_cli cli;
    pcr_error err;
    if (pcr_cli_parse(argc, argv, &cli, &err) != PCR_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        fprintf(stderr, "Try '" PROG " --help' for more information.\n");
        return 2;
    }
    if (cli.help) {
        pcr_cli_usage(stdout);
        return 0;
    }
    if (pcr_runtime_init(&err) != PCR_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    int status = 0, failed = 0;
    if (cli.version) {
        print_version();
    } else {
        for (int i = 0; i < cli.nfiles && status < 2; i++) {
            int rc = strcmp(cli.files[i], "-") == 0
                         ? compile_stdin(&cli, &failed)
                         : compile_one(&cli, cli.files[i]);
            if (rc == 2) {
                status = 2;
            }
            failed += rc == 1;
        }
    }
    if (fflush(stdout) != 0) {
        status = 2;
    }
    if (pcr_runtime_fini(&err) != PCR_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        status = 2;
    }
    if (status == 0 && failed > 0) {
        status = 1;
    }
    return status;
}
