/* SPDX-License-Identifier: MIT */
/* options.c - command-line options of pycompile-repro: py_compile's and
 * compileall's, with the same letters, and ours.  The verb is one value:
 * --check, --dump, --canonicalize, --remove, --help and --version exclude
 * each other. */
#define _GNU_SOURCE /* getopt_long */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    OPT_ALL_PACKAGES = 256,
    OPT_ALLOW_NO_COMPILER,
    OPT_BY_VALUE,
    OPT_CACHE_CLEAR,
    OPT_CACHE_DIR,
    OPT_CACHE_MAX,
    OPT_CACHE_SHARED,
    OPT_CACHE_STATS,
    OPT_CANONICALIZE,
    OPT_CHECK,
    OPT_CLAMP,
    OPT_DUMP,
    OPT_FORMAT,
    OPT_HARDLINK,
    OPT_INCLUDE_SOURCES,
    OPT_INVALIDATION,
    OPT_MEMORY_LIMIT,
    OPT_NO_VERIFY_RECORD,
    OPT_OUTPUT,
    OPT_PACKAGE,
    OPT_PYTHON,
    OPT_REMOVE,
    OPT_SERVER_DIR,
    OPT_SOURCELESS,
    OPT_TAR,
    OPT_VERIFY,
    OPT_WHEEL
};

/* Kept sorted by long name. */
static const struct option long_options[] = {
    {"all-packages", no_argument, NULL, OPT_ALL_PACKAGES},
    {"allow-no-compiler", no_argument, NULL, OPT_ALLOW_NO_COMPILER},
    {"by-value", no_argument, NULL, OPT_BY_VALUE},
    {"cache-clear", no_argument, NULL, OPT_CACHE_CLEAR},
    {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
    {"cache-max-size", required_argument, NULL, OPT_CACHE_MAX},
    {"cache-shared", no_argument, NULL, OPT_CACHE_SHARED},
    {"cache-stats", no_argument, NULL, OPT_CACHE_STATS},
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
    {"memory-limit", required_argument, NULL, OPT_MEMORY_LIMIT},
    {"no-verify-record", no_argument, NULL, OPT_NO_VERIFY_RECORD},
    {"null", no_argument, NULL, '0'},
    {"optimise", required_argument, NULL, 'o'},
    {"optimize", required_argument, NULL, 'o'},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"package", required_argument, NULL, OPT_PACKAGE},
    {"python", required_argument, NULL, OPT_PYTHON},
    {"quiet", no_argument, NULL, 'q'},
    {"remove", no_argument, NULL, OPT_REMOVE},
    {"server-dir", required_argument, NULL, OPT_SERVER_DIR},
    {"sourceless", no_argument, NULL, OPT_SOURCELESS},
    {"tar", required_argument, NULL, OPT_TAR},
    {"verbose", no_argument, NULL, 'v'},
    {"verify", optional_argument, NULL, OPT_VERIFY},
    {"version", no_argument, NULL, 'V'},
    {"wheel", required_argument, NULL, OPT_WHEEL},
    {"workers", required_argument, NULL, 'j'},
    {NULL, 0, NULL, 0},
};

void
cli_usage(FILE *out)
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
        "                           for one .pyc per level (default 0;\n"
        "                           also spelt --optimise)\n"
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
        "  --clamp-mtime            with SOURCE_DATE_EPOCH: a source newer\n"
        "                           than it gets its time first, so that a\n"
        "                           timestamp .pyc is reproducible\n"
        "                           (Fedora); with --tar: entries older\n"
        "                           than it keep their own time\n"
        "\n"
        "Archives:\n"
        "  --tar OUT [-C DIR]       write the .pyc files into a\n"
        "                           reproducible OUT (.tar, .tar.gz,\n"
        "                           .tar.xz, .tar.zst), names relative\n"
        "                           to DIR (default .)\n"
        "  --include-sources        put the sources in the tar too\n"
        "  --wheel IN --output OUT  a wheel with .pyc added (OUT may be a\n"
        "                           directory); RECORD and WHEEL rewritten\n"
        "  --sourceless             .pyc in place of the sources\n"
        "  --no-verify-record       accept an input RECORD that does not\n"
        "                           match its contents\n"
        "\n"
        "Packages:\n"
        "  --package PKG            the Python files dpkg lists for the\n"
        "                           installed package PKG (repeatable; as\n"
        "                           py3compile -p PKG; DIR operands then\n"
        "                           restrict it)\n"
        "  --remove                 delete the .pyc files of the sources:\n"
        "                           every cache tag and level (py3clean)\n"
        "\n"
        "Proving it:\n"
        "  --verify[=N]             compile each file N times (2 to 10,\n"
        "                           default 2), the extra times in fresh\n"
        "                           servers (one each, about 30 MB) with\n"
        "                           other hash seeds and another order; a\n"
        "                           difference is an error and nothing is\n"
        "                           written\n"
        "  --check                  write nothing: compare the .pyc files\n"
        "                           with what would be written; exit 1 if\n"
        "                           any is missing, stale or different\n"
        "  --allow-no-compiler      --check: a .pyc of a Python with no\n"
        "                           compile server here is not a failure\n"
        "  --by-value               --check: a .pyc with the same code in\n"
        "                           another layout (not-canonical) is fine\n"
        "  --all-packages           --check every installed Debian\n"
        "                           package's .pyc against its source (a\n"
        "                           tamper check; with --by-value on a\n"
        "                           system py3compile compiled)\n"
        "  --format text|json       the --check report (default text)\n"
        "  --dump FILE.pyc...       print header and marshal tree\n"
        "  --canonicalize FILE|DIR...  rewrite existing .pyc files (from\n"
        "                           any tool) in canonical form, in place\n"
        "\n"
        "Which Python:\n"
        "  --python X.Y             compile for CPython X.Y (repeatable;\n"
        "                           all: every version installed); by\n"
        "                           default a file under lib/pythonX.Y/ is\n"
        "                           compiled for X.Y, any other for the\n"
        "                           system's python3\n"
        "  --memory-limit MIB       memory one source may take to compile\n"
        "                           (default 1024; 0: no limit)\n"
        "\n"
        "Cache:\n"
        "  --cache-dir DIR          keep compiled code in DIR, keyed by its\n"
        "                           source, name, level and CPython build;\n"
        "                           a hit compiles nothing (also\n"
        "                           PYCOMPILE_REPRO_CACHE_DIR; --check\n"
        "                           reads it only with --cache-dir)\n"
        "  --cache-max-size SIZE    trim the least recently used entries\n"
        "                           beyond SIZE (bytes, or K, M, G;\n"
        "                           default 1G, or\n"
        "                           PYCOMPILE_REPRO_CACHE_MAX_SIZE; 0: no\n"
        "                           limit)\n"
        "  --cache-shared           accept a cache directory other users\n"
        "                           can write (they can plant entries)\n"
        "  --cache-stats            print hits, misses and the cache's size\n"
        "                           (alone: the cache's size)\n"
        "  --cache-clear            alone: empty the cache\n"
        "\n"
        "How:\n"
        "  -j, --workers N          N compile servers per Python version\n"
        "                           (default 1; 0: one per CPU, shared\n"
        "                           among the --verify rounds)\n"
        "  -q, --quiet              with directories: -q hides the\n"
        "                           listing, -qq the errors too; with\n"
        "                           files: -q hides the errors; --check:\n"
        "                           -q only the problems, -qq nothing\n"
        "  -v, --verbose            list compiled files and print the\n"
        "                           summary for plain files too\n"
        "  -h, --help               this help\n"
        "  -V, --version            versions of the tool, its canonical\n"
        "                           form and every CPython it compiles for\n"
        "\n"
        "Every file is compiled even after a failure.  Exit status: 0 all\n"
        "compiled or up to date (--check: all identical), 1 some file\n"
        "failed (--check: some .pyc differs or is missing), 2 usage or\n"
        "environment trouble.\n",
        out);
}

pcr_status
cli_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double mult = *end == 'K' || *end == 'k'   ? 1024.0
                  : *end == 'M' || *end == 'm' ? 1048576.0
                  : *end == 'G' || *end == 'g' ? 1073741824.0
                  : *end == '\0'               ? 1.0
                                               : -1.0;
    if (*end != '\0') {
        end++;
    }
    if (errno || end == s || *end != '\0' || mult < 0 || v < 0 ||
        v * mult > 1e18) {
        return PCR_ENV;
    }
    *out = (uint64_t)(v * mult);
    return PCR_OK;
}

static pcr_status usage_error(cli_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static pcr_status
usage_error(cli_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return PCR_ENV;
}

static pcr_status
parse_int(const char *s, long lo, long hi, const char *what, long *out,
          cli_error *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return usage_error(err, "invalid %s '%s' (%ld to %ld)", what, s, lo,
                           hi);
    }
    *out = v;
    return PCR_OK;
}

static pcr_status
set_verb(cli_options *o, cli_verb verb, cli_error *err)
{
    if (o->verb != CLI_COMPILE && o->verb != verb) {
        return usage_error(err, "--check, --dump, --canonicalize and "
                                "--remove exclude each other");
    }
    o->verb = verb;
    return PCR_OK;
}

/* Combinations that make no sense are usage errors, said before any
 * work is done. */
static pcr_status
validate(cli_options *o, cli_error *err)
{
    int compiling = o->verb == CLI_COMPILE;
    int operands = o->nfiles > 0 || o->list != NULL || o->npackages > 0 ||
                   o->wheel != NULL;
    if (o->cache_clear && (operands || !compiling)) {
        return usage_error(err, "--cache-clear goes alone (with "
                                "--cache-dir or PYCOMPILE_REPRO_CACHE_DIR)");
    }
    if (!operands && compiling && (o->cache_stats || o->cache_clear)) {
        o->verb = CLI_CACHE; /* the cache alone, as ccache -s and -C */
        return PCR_OK;
    }
    if (o->verify && !compiling) {
        return usage_error(err, "--verify applies only when compiling");
    }
    if (o->tar != NULL && o->wheel != NULL) {
        return usage_error(err, "--tar and --wheel exclude each other");
    }
    if ((o->tar || o->wheel) && !compiling && o->verb != CLI_CHECK) {
        return usage_error(err, "--tar and --wheel go with compiling or "
                                "--check");
    }
    if (o->wheel != NULL) {
        if (o->output == NULL && compiling) {
            return usage_error(err, "--wheel needs --output");
        }
        if (o->nfiles > 0 || o->npackages > 0 || o->list != NULL ||
            o->all_packages) {
            return usage_error(err, "--wheel takes no other operands");
        }
        return PCR_OK;
    }
    if ((o->base || o->include_sources) && o->tar == NULL) {
        return usage_error(err, "-C and --include-sources apply to --tar");
    }
    if ((o->sourceless || o->no_verify_record || o->output) &&
        o->wheel == NULL) {
        return usage_error(err, "--output, --sourceless and "
                                "--no-verify-record apply to --wheel");
    }
    if ((o->json || o->allow_no_compiler || o->by_value || o->all_packages) &&
        o->verb != CLI_CHECK) {
        return usage_error(err, "--format, --allow-no-compiler, --by-value "
                                "and --all-packages apply only to --check");
    }
    if (o->all_packages) {
        if (o->nfiles > 0 || o->list != NULL || o->npackages > 0 ||
            o->tar != NULL || o->npythons > 0 || o->nlevels > 0 ||
            o->mode >= 0 || o->regex || o->ddir || o->strip || o->prepend) {
            return usage_error(err, "--all-packages takes no files, "
                                    "packages, archives, --python, -o, "
                                    "--invalidation-mode, -x, -d, -s or -p: "
                                    "it checks what dpkg installed, as "
                                    "Debian compiles it");
        }
        return PCR_OK;
    }
    if (o->ddir != NULL && (o->strip != NULL || o->prepend != NULL)) {
        return usage_error(err, "-d cannot be combined with -s or -p");
    }
    if (o->hardlink_dupes && o->nlevels < 2) {
        return usage_error(err, "--hardlink-dupes needs at least two "
                                "optimisation levels (-o)");
    }
    if (o->nfiles == 0 && o->list == NULL && o->npackages == 0) {
        return usage_error(err, "no files to %s",
                           compiling              ? "compile"
                           : o->verb == CLI_CHECK ? "check"
                                                  : "read");
    }
    int dash = 0;
    for (int i = 0; i < o->nfiles; i++) {
        dash += strcmp(o->files[i], "-") == 0;
    }
    if (o->list != NULL && strcmp(o->list, "-") == 0) {
        dash++;
    }
    if (dash > 1) {
        return usage_error(err, "stdin can be read only once");
    }
    if (o->null_names && !dash) {
        return usage_error(err, "-0 only applies to names read from stdin");
    }
    return PCR_OK;
}

/* An unknown or ambiguous long option, with the names it could mean. */
static pcr_status
unknown_option(const char *arg, cli_error *err)
{
    enum { N = sizeof long_options / sizeof long_options[0] - 1 };
    const char *names[N];
    const char *word = strncmp(arg, "--", 2) == 0 ? arg + 2 : arg;
    size_t len = strcspn(word, "="), nprefix = 0;
    char list[512] = "";
    for (size_t k = 0; k < N; k++) {
        names[k] = long_options[k].name;
        if (word != arg && word[len] == '=' && strlen(names[k]) == len &&
            strncmp(names[k], word, len) == 0) {
            return usage_error(err, "option --%s takes no value", names[k]);
        }
        if (len > 0 && strncmp(names[k], word, len) == 0) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof list - used, "%s--%s",
                     nprefix ? ", " : "", names[k]);
            nprefix++;
        }
    }
    if (nprefix > 1) {
        return usage_error(err, "option --%.*s is ambiguous: %s", (int)len,
                           word, list);
    }
    const char *best = word != arg ? cli_suggest(word, names, N) : NULL;
    if (best != NULL) {
        return usage_error(err, "unknown option --%.*s; did you mean --%s?",
                           (int)len, word, best);
    }
    return usage_error(err, "unknown option %s", arg);
}

pcr_status
cli_parse(int argc, char **argv, cli_options *o, cli_error *err)
{
    memset(o, 0, sizeof *o);
    o->mode = -1;
    o->maxlevels = -1;
    o->workers = 1;
    int recursion = -1, no_recurse = 0, c;
    long v = 0;
    optind = 0; /* full reset, so tests may parse several times */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":0bC:d:e:fhi:j:lo:p:qr:s:vVx:",
                            long_options, NULL)) != -1) {
        switch (c) {
        case '0':
            o->null_names = 1;
            break;
        case 'b':
            o->legacy = 1;
            break;
        case 'C':
            o->base = optarg;
            break;
        case 'd':
            o->ddir = optarg;
            break;
        case 'e':
            o->sl_dest = optarg;
            break;
        case 'f':
            o->force = 1;
            break;
        case 'h':
            o->verb = CLI_HELP;
            return PCR_OK;
        case 'i':
            o->list = optarg;
            break;
        case 'j':
            if (parse_int(optarg, 0, 1024, "number of workers", &v, err)) {
                return PCR_ENV;
            }
            o->workers = (int)v;
            o->workers_set = 1;
            break;
        case 'l':
            no_recurse = 1;
            break;
        case 'o':
            if (parse_int(optarg, 0, 2, "optimisation level", &v, err)) {
                return PCR_ENV;
            }
            if (o->nlevels < 3) {
                int dup = 0;
                for (int k = 0; k < o->nlevels; k++) {
                    dup |= o->levels[k] == (int)v;
                }
                if (!dup) {
                    o->levels[o->nlevels++] = (int)v;
                }
            }
            break;
        case 'p':
            o->prepend = optarg;
            break;
        case 'q':
            o->quiet++;
            break;
        case 'r':
            if (parse_int(optarg, 0, INT_MAX, "recursion depth", &v, err)) {
                return PCR_ENV;
            }
            recursion = (int)v;
            break;
        case 's':
            o->strip = optarg;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'V':
            o->verb = CLI_VERSION;
            break;
        case 'x':
            o->regex = optarg;
            break;
        case OPT_CACHE_DIR:
            o->cache_dir = optarg;
            break;
        case OPT_CACHE_MAX:
            if (cli_parse_size(optarg, &o->cache_max) != PCR_OK) {
                return usage_error(err,
                                   "invalid cache size '%s' (a number "
                                   "of bytes, or with K, M or G)",
                                   optarg);
            }
            o->cache_max_set = 1;
            break;
        case OPT_ALL_PACKAGES:
            o->all_packages = 1;
            break;
        case OPT_ALLOW_NO_COMPILER:
            o->allow_no_compiler = 1;
            break;
        case OPT_BY_VALUE:
            o->by_value = 1;
            break;
        case OPT_CACHE_CLEAR:
            o->cache_clear = 1;
            break;
        case OPT_CACHE_SHARED:
            o->cache_shared = 1;
            break;
        case OPT_CACHE_STATS:
            o->cache_stats = 1;
            break;
        case OPT_CANONICALIZE:
            if (set_verb(o, CLI_CANONICALIZE, err) != PCR_OK) {
                return PCR_ENV;
            }
            break;
        case OPT_CHECK:
            if (set_verb(o, CLI_CHECK, err) != PCR_OK) {
                return PCR_ENV;
            }
            break;
        case OPT_CLAMP:
            o->clamp_mtime = 1;
            break;
        case OPT_DUMP:
            if (set_verb(o, CLI_DUMP, err) != PCR_OK) {
                return PCR_ENV;
            }
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "json") == 0) {
                o->json = 1;
            } else if (strcmp(optarg, "text") != 0) {
                return usage_error(err, "invalid format '%s' (text, json)",
                                   optarg);
            }
            break;
        case OPT_HARDLINK:
            o->hardlink_dupes = 1;
            break;
        case OPT_INCLUDE_SOURCES:
            o->include_sources = 1;
            break;
        case OPT_INVALIDATION:
            o->mode = pcr_invalidation_parse(optarg);
            if (o->mode < 0) {
                return usage_error(err,
                                   "invalid invalidation mode '%s' "
                                   "(timestamp, checked-hash, "
                                   "unchecked-hash)",
                                   optarg);
            }
            break;
        case OPT_MEMORY_LIMIT:
            if (parse_int(optarg, 0, 1L << 20, "memory limit (MiB)", &v,
                          err)) {
                return PCR_ENV;
            }
            o->memory_limit = (uint64_t)v << 20;
            o->memory_limit_set = 1;
            break;
        case OPT_NO_VERIFY_RECORD:
            o->no_verify_record = 1;
            break;
        case OPT_OUTPUT:
            o->output = optarg;
            break;
        case OPT_PACKAGE:
            if (o->npackages == 64) {
                return usage_error(err, "at most 64 --package options");
            }
            o->packages[o->npackages++] = optarg;
            break;
        case OPT_PYTHON:
            if (o->npythons == 16) {
                return usage_error(err, "at most 16 --python options");
            }
            o->pythons[o->npythons++] = optarg;
            break;
        case OPT_REMOVE:
            if (set_verb(o, CLI_REMOVE, err) != PCR_OK) {
                return PCR_ENV;
            }
            break;
        case OPT_SERVER_DIR:
            o->server_dir = optarg;
            break;
        case OPT_SOURCELESS:
            o->sourceless = 1;
            break;
        case OPT_TAR:
            o->tar = optarg;
            break;
        case OPT_VERIFY:
            o->verify = 2;
            if (optarg != NULL && parse_int(optarg, 2, PCR_VERIFY_MAX,
                                            "--verify count", &v, err)) {
                return PCR_ENV;
            }
            if (optarg != NULL) {
                o->verify = (int)v;
            }
            break;
        case OPT_WHEEL:
            o->wheel = optarg;
            break;
        case ':':
            return usage_error(err, "option %s needs a value",
                               argv[optind - 1]);
        default:
            if (optopt == 0) {
                return unknown_option(argv[optind - 1], err);
            }
            for (const struct option *lo = long_options; lo->name; lo++) {
                /* a known option: only a long one given a value */
                if (lo->val == optopt && lo->has_arg == no_argument) {
                    return usage_error(err, "option --%s takes no value",
                                       lo->name);
                }
            }
            return usage_error(err, "unknown option -%c", optopt);
        }
    }
    /* compileall: -r takes precedence over -l */
    o->maxlevels = recursion >= 0 ? recursion : no_recurse ? 0 : -1;
    o->files = argv + optind;
    o->nfiles = argc - optind;
    if (o->verb == CLI_VERSION) {
        return PCR_OK;
    }
    return validate(o, err);
}
