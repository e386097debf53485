/* SPDX-License-Identifier: MIT */
/* Unit tests: command-line parsing and the stdin name list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../src/cli/cli.h"

static pcr_status
parse(cli_options *cli, cli_error *err, int argc, const char **argv)
{
    /* getopt permutes argv: give it a copy. */
    static char *copy[32];
    for (int i = 0; i < argc; i++) {
        copy[i] = (char *)argv[i];
    }
    copy[argc] = NULL;
    return cli_parse(argc, copy, cli, err);
}

Test(options, levels_sorted_unique_and_files_in_any_order)
{
    cli_options cli;
    cli_error err;
    const char *argv[] = {"pcr",        "-o", "2",   "a.py",
                          "--optimize", "0",  "-o2", "b.py"};
    cr_assert_eq(parse(&cli, &err, 8, argv), PCR_OK, "%s", err.msg);
    cr_assert_eq(cli.nlevels, 2); /* duplicates dropped */
    cr_assert_eq(cli.levels[0], 2);
    cr_assert_eq(cli.levels[1], 0);
    cr_assert_eq(cli.nfiles, 2);
    cr_assert_str_eq(cli.files[0], "a.py");
    cr_assert_str_eq(cli.files[1], "b.py");
}

Test(options, invalidation_mode_and_paths)
{
    cli_options cli;
    cli_error err;
    const char *argv[] = {"pcr",
                          "--invalidation-mode",
                          "unchecked-hash",
                          "-s",
                          "/b",
                          "-p",
                          "/",
                          "-q",
                          "-q",
                          "x.py"};
    cr_assert_eq(parse(&cli, &err, 10, argv), PCR_OK, "%s", err.msg);
    cr_assert_eq(cli.mode, PCR_UNCHECKED_HASH);
    cr_assert_str_eq(cli.strip, "/b");
    cr_assert_str_eq(cli.prepend, "/");
    cr_assert_eq(cli.quiet, 2);
}

Test(options, usage_errors)
{
    cli_options cli;
    cli_error err;
    const char *none[] = {"pcr"};
    cr_assert_eq(parse(&cli, &err, 1, none), PCR_ENV);
    const char *badlevel[] = {"pcr", "-o", "3", "x.py"};
    cr_assert_eq(parse(&cli, &err, 4, badlevel), PCR_ENV);
    cr_assert(strstr(err.msg, "'3'") != NULL, "%s", err.msg);
    const char *badmode[] = {"pcr", "--invalidation-mode=x", "x.py"};
    cr_assert_eq(parse(&cli, &err, 3, badmode), PCR_ENV);
    const char *d_and_s[] = {"pcr", "-d", "d", "-s", "s", "x.py"};
    cr_assert_eq(parse(&cli, &err, 6, d_and_s), PCR_ENV);
    const char *unknown[] = {"pcr", "-Z", "x.py"};
    cr_assert_eq(parse(&cli, &err, 3, unknown), PCR_ENV);
    cr_assert(strstr(err.msg, "-Z") != NULL, "%s", err.msg);
    const char *missing[] = {"pcr", "x.py", "-o"};
    cr_assert_eq(parse(&cli, &err, 3, missing), PCR_ENV);
    const char *null_no_dash[] = {"pcr", "-0", "x.py"};
    cr_assert_eq(parse(&cli, &err, 3, null_no_dash), PCR_ENV);
}

Test(options, help_needs_no_files)
{
    cli_options cli;
    cli_error err;
    const char *argv[] = {"pcr", "--help"};
    cr_assert_eq(parse(&cli, &err, 2, argv), PCR_OK);
    cr_assert_eq(cli.verb, CLI_HELP);
}

Test(options, names_from_stream)
{
    const char text[] = "a.py\n\nb c.py\nlast.py";
    FILE *in = fmemopen((void *)text, sizeof text - 1, "r");
    char **names;
    size_t n;
    cli_error err;
    cr_assert_eq(cli_read_names(in, '\n', 0, &names, &n, &err), PCR_OK);
    fclose(in);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "a.py");
    cr_assert_str_eq(names[1], "b c.py");
    cr_assert_str_eq(names[2], "last.py");
    cr_assert_null(names[3]);
    cli_free_names(names);

    const char nul[] = "we\nird.py\0x.py\0";
    in = fmemopen((void *)nul, sizeof nul - 1, "r");
    cr_assert_eq(cli_read_names(in, '\0', 0, &names, &n, &err), PCR_OK);
    fclose(in);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(names[0], "we\nird.py");
    cli_free_names(names);
}

Test(options, one_verb_at_a_time)
{
    cli_options cli;
    cli_error err;
    const char *two[] = {"pcr", "--check", "--remove", "x.py"};
    cr_assert_eq(parse(&cli, &err, 4, two), PCR_ENV);
    const char *tar_zip[] = {"pcr", "--tar", "a.tar", "--wheel", "w.whl"};
    cr_assert_eq(parse(&cli, &err, 5, tar_zip), PCR_ENV);
    const char *pythons[] = {"pcr",      "--python", "3.13",
                             "--python", "3.14",     "x.py"};
    cr_assert_eq(parse(&cli, &err, 6, pythons), PCR_OK, "%s", err.msg);
    cr_assert_eq(cli.npythons, 2);
    cr_assert_str_eq(cli.pythons[1], "3.14");
    const char *pkgs[] = {"pcr", "--package", "a", "--package", "b"};
    cr_assert_eq(parse(&cli, &err, 5, pkgs), PCR_OK, "%s", err.msg);
    cr_assert_eq(cli.npackages, 2);
}

Test(options, source_date_epoch_range)
{
    int set;
    int64_t v;
    cli_error err;
    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    cr_assert_eq(cli_source_date_epoch(&set, &v, &err), PCR_OK);
    cr_assert(set && v == 1700000000);
    setenv("SOURCE_DATE_EPOCH", "9223372036854775807", 1);
    cr_assert_eq(cli_source_date_epoch(&set, &v, &err), PCR_ENV);
    setenv("SOURCE_DATE_EPOCH", "-1", 1);
    cr_assert_eq(cli_source_date_epoch(&set, &v, &err), PCR_ENV);
    setenv("SOURCE_DATE_EPOCH", "", 1);
    cr_assert_eq(cli_source_date_epoch(&set, &v, &err), PCR_OK);
    cr_assert(!set);
    unsetenv("SOURCE_DATE_EPOCH");
}
