/* cli_options.c - command-line options of pycompile-repro. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/pcr_private.h"
#include "cli.h"

enum { OPT_INVALIDATION = 256 };

/* Kept sorted by long name. */
static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"invalidation-mode", required_argument, NULL, OPT_INVALIDATION},
    {"null", no_argument, NULL, '0'},
    {"optimize", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void
pcr_cli_usage(FILE *out)
{
    fputs(
        "usage: pycompile-repro [OPTIONS] FILE...\n"
        "       pycompile-repro [OPTIONS] -      (file names on stdin)\n"
        "\n"
        "Byte-compile Python sources into reproducible .pyc files\n"
        "(DIR/__pycache__/NAME.TAG[.opt-N].pyc), bit for bit the same on\n"
        "every run, machine and build path.\n"
        "\n"
        "  -o, --optimize LEVEL     optimisation level 0, 1 or 2; repeat\n"
        "                           for one .pyc per level (default 0)\n"
        "  --invalidation-mode MODE timestamp, checked-hash or\n"
        "                           unchecked-hash (default: checked-hash\n"
        "                           if SOURCE_DATE_EPOCH is set, else\n"
        "                           timestamp)\n"
        "  -d DIR                   record DIR/NAME as the file name in\n"
        "                           the code objects and tracebacks\n"
        "  -s PREFIX                strip PREFIX from the recorded name\n"
        "  -p PREFIX                prepend PREFIX to the recorded name\n"
        "                           (after -s); -d excludes -s and -p\n"
        "  -                        read file names from stdin, one a line\n"
        "  -0, --null               with -: names are NUL-separated\n"
        "  -q, --quiet              no error messages (exit status only)\n"
        "  -h, --help               this help\n"
        "  -V, --version            versions of the tool and of the\n"
        "                           embedded CPython\n"
        "\n"
        "Every file is compiled even after a failure.  Exit status: 0 all\n"
        "compiled, 1 some file failed, 2 usage or environment trouble.\n",
        out);
}

static pcr_status
parse_level(const char *s, int *level, pcr_error *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 2) {
        return pcr_set_error(err, PCR_ENV,
                             "invalid optimisation level '%s' (0, 1 or 2)",
                             s);
    }
    *level = (int)v;
    return PCR_OK;
}

pcr_status
pcr_cli_parse(int argc, char **argv, pcr_cli *cli, pcr_error *err)
{
    memset(cli, 0, sizeof *cli);
    pcr_options_init(&cli->opt);
    int mode = -1;
    int c;
    optind = 0; /* full reset, so tests may parse several times */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":0d:ho:p:qs:V", long_options,
                            NULL)) != -1) {
        int level = 0;
        switch (c) {
        case '0':
            cli->null_names = 1;
            break;
        case 'd':
            cli->opt.ddir = optarg;
            break;
        case 'h':
            cli->help = 1;
            break;
        case 'o':
            if (parse_level(optarg, &level, err) != PCR_OK) {
                return PCR_ENV;
            }
            pcr_options_add_level(&cli->opt, level, err);
            break;
        case 'p':
            cli->opt.prepend = optarg;
            break;
        case 'q':
            cli->quiet++;
            break;
        case 's':
            cli->opt.strip = optarg;
            break;
        case 'V':
            cli->version = 1;
            break;
        case OPT_INVALIDATION:
            mode = pcr_invalidation_parse(optarg);
            if (mode < 0) {
                return pcr_set_error(err, PCR_ENV,
                                     "invalid invalidation mode '%s' "
                                     "(timestamp, checked-hash, "
                                     "unchecked-hash)",
                                     optarg);
            }
            break;
        case ':':
            return pcr_set_error(err, PCR_ENV, "option %s needs a value",
                                 argv[optind - 1]);
        default:
            if (optopt != 0) {
                return pcr_set_error(err, PCR_ENV, "unknown option -%c",
                                     optopt);
            }
            return pcr_set_error(err, PCR_ENV, "unknown option %s",
                                 argv[optind - 1]);
        }
    }
    if (mode >= 0) {
        cli->opt.mode = (pcr_invalidation)mode;
    }
    cli->files = argv + optind;
    cli->nfiles = argc - optind;
    if (cli->help || cli->version) {
        return PCR_OK;
    }
    if (cli->opt.ddir != NULL &&
        (cli->opt.strip != NULL || cli->opt.prepend != NULL)) {
        return pcr_set_error(err, PCR_ENV,
                             "-d cannot be combined with -s or -p");
    }
    if (cli->nfiles == 0) {
        return pcr_set_error(err, PCR_ENV, "no files to compile");
    }
    if (cli->null_names) {
        int dash = 0;
        for (int i = 0; i < cli->nfiles; i++) {
            dash |= strcmp(cli->files[i], "-") == 0;
        }
        if (!dash) {
            return pcr_set_error(err, PCR_ENV,
                                 "-0 only applies to names read from "
                                 "stdin ('-')");
        }
    }
    return PCR_OK;
}
