/* cli_options.c - command-line options of pycompile-repro: py_compile's
 * and compileall's, with the same letters. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/pcr_private.h"
#include "cli.h"

enum {
    OPT_INVALIDATION = 256,
    OPT_HARDLINK,
    OPT_CHECK,
    OPT_VERIFY,
    OPT_FORMAT,
    OPT_DUMP,
    OPT_CANONICALIZE,
    OPT_VERIFY_SERVER,
    OPT_TAR,
    OPT_WHEEL,
    OPT_OUTPUT,
    OPT_INCLUDE_SOURCES,
    OPT_CLAMP,
    OPT_SOURCELESS,
    OPT_NO_VERIFY_RECORD,
    OPT_PACKAGE,
    OPT_REMOVE
};

/* Kept sorted by long name. */
static const struct option long_options[] = {
    {"canonicalize", no_argument, NULL, OPT_CANONICALIZE},
    {"check", no_argument, NULL, OPT_CHECK},
    {"clamp-mtime", no_argument, NULL, OPT_CLAMP},
    {"dump", no_argument, NULL, OPT_DUMP},
    {"force", no_argument, NULL, 'f'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"hardlink-dupes", no_argument, NULL, OPT_HARDLINK},
    {"help", no_argument, NULL, 'h'},
    {"include-sources", no_argument, NULL, OPT_INCLUDE_SOURCES},
    {"invalidation-mode", required_argument, NULL, OPT_INVALIDATION},
    {"no-verify-record", no_argument, NULL, OPT_NO_VERIFY_RECORD},
    {"null", no_argument, NULL, '0'},
    {"optimize", required_argument, NULL, 'o'},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"package", required_argument, NULL, OPT_PACKAGE},
    {"quiet", no_argument, NULL, 'q'},
    {"remove", no_argument, NULL, OPT_REMOVE},
    {"sourceless", no_argument, NULL, OPT_SOURCELESS},
    {"tar", required_argument, NULL, OPT_TAR},
    {"verbose", no_argument, NULL, 'v'},
    {"verify", optional_argument, NULL, OPT_VERIFY},
    {"verify-server", no_argument, NULL, OPT_VERIFY_SERVER},
    {"version", no_argument, NULL, 'V'},
    {"wheel", required_argument, NULL, OPT_WHEEL},
    {"workers", required_argument, NULL, 'j'},
    {NULL, 0, NULL, 0},
};

void
pcr_cli_usage(FILE *out)
{
    fputs(
        "usage: pycompile-repro [OPTIONS] FILE|DIR...\n"
        "       pycompile-repro [OPTIONS] -      (names on stdin)\n"
        "\n"
        "Byte-compile Python sources into reproducible .pyc files\n"
        "(DIR/__pycache__/NAME.TAG[.opt-N].pyc), bit for bit the same on\n"
        "every run, machine and build path.  Directories are walked as\n"
        "compileall does.\n"
        "\n"
        "What to compile:\n"
        "  -                        read names from stdin, one a line\n"
        "  -0, --null               with -: names are NUL-separated\n"
        "  -i LIST                  also the files and directories named\n"
        "                           in LIST, one a line (- for stdin)\n"
        "  -l                       do not recurse into subdirectories\n"
        "  -r N                     recurse N levels deep (default 1000)\n"
        "  -x REGEX                 skip paths where the Python regular\n"
        "                           expression REGEX is found\n"
        "  -e DIR                   skip symlinks that lead outside DIR\n"
        "  -f, --force              compile even files that are up to date\n"
        "\n"
        "What to write:\n"
        "  -o, --optimize LEVEL     optimisation level 0, 1 or 2; repeat\n"
        "                           for one .pyc per level (default 0)\n"
        "  --invalidation-mode MODE timestamp, checked-hash or\n"
        "                           unchecked-hash (default: checked-hash\n"
        "                           if SOURCE_DATE_EPOCH is set, else\n"
        "                           timestamp)\n"
        "  -d DIR                   record DIR/NAME (DIR/RELPATH in a\n"
        "                           tree) as the file name in the code\n"
        "  -s PREFIX                strip PREFIX from the recorded name\n"
        "  -p PREFIX                prepend PREFIX to the recorded name\n"
        "                           (after -s); -d excludes -s and -p\n"
        "  -b                       legacy layout: SOURCE.pyc beside the\n"
        "                           source instead of __pycache__\n"
        "  --hardlink-dupes         hard-link the .pyc of successive\n"
        "                           levels when their bytes are equal\n"
        "\n"
        "Archives:\n"
        "  --tar OUT [-C DIR]       write the .pyc files into a\n"
        "                           reproducible OUT (.tar, .tar.gz,\n"
        "                           .tar.xz, .tar.zst), names relative\n"
        "                           to DIR (default .)\n"
        "  --include-sources        put the sources in the tar too\n"
        "  --clamp-mtime            keep times older than\n"
        "                           SOURCE_DATE_EPOCH (else all are it)\n"
        "  --wheel IN --output OUT  a wheel with .pyc added (OUT may be a\n"
        "                           directory); RECORD and WHEEL rewritten\n"
        "  --sourceless             .pyc in place of the sources\n"
        "  --no-verify-record       accept an input RECORD that does not\n"
        "                           match its contents\n"
        "\n"
        "Packages:\n"
        "  --package PKG            compile the Python files dpkg lists for\n"
        "                           the installed package PKG (as\n"
        "                           py3compile -p PKG)\n"
        "  --remove                 delete the .pyc files that compiling\n"
        "                           would write (as py3clean)\n"
        "  --clamp-mtime            with SOURCE_DATE_EPOCH: sources newer\n"
        "                           than it get its time first, so a\n"
        "                           timestamp .pyc is reproducible (Fedora)\n"
        "\n"
        "Proving it:\n"
        "  --verify[=N]             compile each file N times (default 2):\n"
        "                           also in fresh processes with other hash\n"
        "                           seeds and another order; a difference\n"
        "                           is an error and nothing is written\n"
        "  --check                  write nothing: compare the .pyc files\n"
        "                           with what would be written; exit 1 if\n"
        "                           any is missing, stale or different\n"
        "  --format text|json       the --check report (default text)\n"
        "  --dump FILE.pyc...       print header and marshal tree\n"
        "  --canonicalize FILE|DIR...  rewrite existing .pyc files (from\n"
        "                           any tool) in canonical form, in place\n"
        "\n"
        "How:\n"
        "  -j, --workers N          N worker processes (0: one per CPU)\n"
        "  -q, --quiet              with directories: -q hides the\n"
        "                           listing, -qq the errors too; with\n"
        "                           files: -q hides the errors\n"
        "  -v, --verbose            list compiled files and print the\n"
        "                           summary for plain files too\n"
        "  -h, --help               this help\n"
        "  -V, --version            versions of the tool and of the\n"
        "                           embedded CPython\n"
        "\n"
        "Every file is compiled even after a failure.  Exit status: 0 all\n"
        "compiled or up to date (--check: all identical), 1 some file\n"
        "failed (--check: some .pyc differs or is missing), 2 usage or\n"
        "environment trouble.\n",
        out);
}

static pcr_status
parse_int(const char *s, long lo, long hi, const char *what, long *out,
          pcr_error *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return pcr_set_error(err, PCR_ENV, "invalid %s '%s' (%ld to %ld)",
                             what, s, lo, hi);
    }
    *out = v;
    return PCR_OK;
}

static pcr_status
set_mode(pcr_cli *cli, pcr_cli_mode mode, pcr_error *err)
{
    if (cli->mode != PCR_MODE_COMPILE && cli->mode != mode) {
        return pcr_set_error(err, PCR_ENV,
                             "--check, --dump and --canonicalize exclude "
                             "each other");
    }
    cli->mode = mode;
    return PCR_OK;
}

static pcr_status
check(pcr_cli *cli, pcr_error *err)
{
    if (cli->mode == PCR_MODE_VERIFY_SERVER) {
        return PCR_OK;
    }
    if (cli->verify && cli->mode != PCR_MODE_COMPILE) {
        return pcr_set_error(err, PCR_ENV,
                             "--verify applies only when compiling");
    }
    if (cli->tar != NULL && cli->wheel != NULL) {
        return pcr_set_error(err, PCR_ENV,
                             "--tar and --wheel exclude each "
                             "other");
    }
    if (cli->tar != NULL && pcr_aformat_from_name(cli->tar) < 0) {
        return pcr_set_error(err, PCR_ENV,
                             "--tar %s: the name must end in .tar, .tar.gz, "
                             ".tar.xz or .tar.zst",
                             cli->tar);
    }
    if (cli->wheel != NULL) {
        if (cli->output == NULL && cli->mode != PCR_MODE_CHECK) {
            return pcr_set_error(err, PCR_ENV, "--wheel needs --output");
        }
        if (cli->nfiles > 0) {
            return pcr_set_error(err, PCR_ENV,
                                 "--wheel takes no other operands");
        }
        return PCR_OK;
    }
    if ((cli->base || cli->include_sources) && cli->tar == NULL) {
        return pcr_set_error(err, PCR_ENV,
                             "-C and --include-sources apply to --tar");
    }
    if ((cli->sourceless || cli->no_verify_record || cli->output) &&
        cli->wheel == NULL) {
        return pcr_set_error(err, PCR_ENV,
                             "--output, --sourceless and "
                             "--no-verify-record apply to --wheel");
    }
    if (cli->json && cli->mode != PCR_MODE_CHECK) {
        return pcr_set_error(err, PCR_ENV, "--format applies only to --check");
    }
    if (cli->opt.ddir != NULL &&
        (cli->opt.strip != NULL || cli->opt.prepend != NULL)) {
        return pcr_set_error(err, PCR_ENV,
                             "-d cannot be combined with -s or -p");
    }
    if (cli->opt.hardlink_dupes && cli->opt.nlevels < 2) {
        return pcr_set_error(err, PCR_ENV,
                             "--hardlink-dupes needs at least two "
                             "optimisation levels (-o)");
    }
    if (cli->remove && (cli->mode != PCR_MODE_COMPILE || cli->tar)) {
        return pcr_set_error(err, PCR_ENV,
                             "--remove excludes the other "
                             "modes");
    }
    if (cli->clamp_mtime && cli->tar == NULL) {
        int set;
        int64_t v;
        if (pcr_source_date_epoch(&set, &v, err) != PCR_OK) {
            return PCR_ENV;
        }
        if (!set) {
            return pcr_set_error(err, PCR_ENV,
                                 "--clamp-mtime needs SOURCE_DATE_EPOCH");
        }
        if (cli->mode == PCR_MODE_COMPILE) {
            cli->opt.clamp_epoch = v; /* --check leaves sources alone */
        }
    }
    if (cli->nfiles == 0 && cli->list == NULL && cli->package == NULL) {
        return pcr_set_error(err, PCR_ENV, "no files to %s",
                             cli->mode == PCR_MODE_COMPILE ? "compile"
                             : cli->mode == PCR_MODE_CHECK ? "check"
                                                           : "read");
    }
    int dash = 0;
    for (int i = 0; i < cli->nfiles; i++) {
        dash += strcmp(cli->files[i], "-") == 0;
    }
    if (cli->list != NULL && strcmp(cli->list, "-") == 0) {
        dash++;
    }
    if (dash > 1) {
        return pcr_set_error(err, PCR_ENV, "stdin can be read only once");
    }
    if (cli->null_names && !dash) {
        return pcr_set_error(err, PCR_ENV,
                             "-0 only applies to names read from stdin");
    }
    return PCR_OK;
}

pcr_status
pcr_cli_parse(int argc, char **argv, pcr_cli *cli, pcr_error *err)
{
    memset(cli, 0, sizeof *cli);
    pcr_options_init(&cli->opt);
    pcr_walk_options_init(&cli->walk);
    cli->workers = 1;
    int mode = -1, recursion = -1, no_recurse = 0;
    int c;
    long v = 0;
    optind = 0; /* full reset, so tests may parse several times */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":0bC:d:e:fhi:j:lo:p:qr:s:vVx:",
                            long_options, NULL)) != -1) {
        switch (c) {
        case '0':
            cli->null_names = 1;
            break;
        case 'b':
            cli->opt.legacy = 1;
            break;
        case 'C':
            cli->base = optarg;
            break;
        case 'd':
            cli->opt.ddir = optarg;
            break;
        case 'e':
            /* compileall treats -e "" as no limit */
            cli->walk.limit_sl_dest = optarg[0] ? optarg : NULL;
            break;
        case 'f':
            cli->opt.force = 1;
            break;
        case 'h':
            cli->help = 1;
            break;
        case 'i':
            cli->list = optarg;
            break;
        case 'j':
            if (parse_int(optarg, 0, 1024, "number of workers", &v, err)) {
                return PCR_ENV;
            }
            cli->workers = (int)v;
            break;
        case 'l':
            no_recurse = 1;
            break;
        case 'o':
            if (parse_int(optarg, 0, 2, "optimisation level", &v, err)) {
                return PCR_ENV;
            }
            pcr_options_add_level(&cli->opt, (int)v, err);
            break;
        case 'p':
            cli->opt.prepend = optarg;
            break;
        case 'q':
            cli->quiet++;
            break;
        case 'r':
            if (parse_int(optarg, 0, INT_MAX, "recursion depth", &v, err)) {
                return PCR_ENV;
            }
            recursion = (int)v;
            break;
        case 's':
            cli->opt.strip = optarg;
            break;
        case 'v':
            cli->verbose = 1;
            break;
        case 'V':
            cli->version = 1;
            break;
        case 'x':
            cli->regex = optarg;
            break;
        case OPT_HARDLINK:
            cli->opt.hardlink_dupes = 1;
            break;
        case OPT_TAR:
            cli->tar = optarg;
            break;
        case OPT_WHEEL:
            cli->wheel = optarg;
            break;
        case OPT_OUTPUT:
            cli->output = optarg;
            break;
        case OPT_INCLUDE_SOURCES:
            cli->include_sources = 1;
            break;
        case OPT_CLAMP:
            cli->clamp_mtime = 1;
            break;
        case OPT_SOURCELESS:
            cli->sourceless = 1;
            break;
        case OPT_NO_VERIFY_RECORD:
            cli->no_verify_record = 1;
            break;
        case OPT_PACKAGE:
            cli->package = optarg;
            break;
        case OPT_REMOVE:
            cli->remove = 1;
            break;
        case OPT_CHECK:
            if (set_mode(cli, PCR_MODE_CHECK, err) != PCR_OK) {
                return PCR_ENV;
            }
            break;
        case OPT_DUMP:
            if (set_mode(cli, PCR_MODE_DUMP, err) != PCR_OK) {
                return PCR_ENV;
            }
            break;
        case OPT_CANONICALIZE:
            if (set_mode(cli, PCR_MODE_CANONICALIZE, err) != PCR_OK) {
                return PCR_ENV;
            }
            break;
        case OPT_VERIFY_SERVER:
            cli->mode = PCR_MODE_VERIFY_SERVER;
            break;
        case OPT_VERIFY:
            cli->verify = 2;
            if (optarg != NULL &&
                parse_int(optarg, 2, 100, "--verify count", &v, err)) {
                return PCR_ENV;
            }
            if (optarg != NULL) {
                cli->verify = (int)v;
            }
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "json") == 0) {
                cli->json = 1;
            } else if (strcmp(optarg, "text") == 0) {
                cli->json = 0;
            } else {
                return pcr_set_error(
                    err, PCR_ENV, "invalid format '%s' (text, json)", optarg);
            }
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
        cli->mode_given = 1;
    }
    if (cli->verify) {
        cli->opt.force = 1; /* verify every file, even up-to-date ones */
    }
    /* compileall: -r takes precedence over -l */
    if (recursion >= 0) {
        cli->walk.maxlevels = recursion;
    } else if (no_recurse) {
        cli->walk.maxlevels = 0;
    }
    cli->files = argv + optind;
    cli->nfiles = argc - optind;
    if (cli->help || cli->version) {
        return PCR_OK;
    }
    return check(cli, err);
}
