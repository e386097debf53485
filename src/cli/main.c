/* SPDX-License-Identifier: MIT */
/*
 * main.c - pycompile-repro: a thin layer over libpycompile-repro.  It
 * parses the options, hands them and the operands to a library handle,
 * runs the one verb asked for (looked up in one table) and reports the
 * events: "pycompile-repro: FILE: what went wrong" for errors,
 * compileall's "Compiling 'FILE'..." listing for trees, a progress line
 * on a terminal, a summary line, --check's report.
 *
 * Exit status: 0 all good, 1 a file failed (or --check found a
 * difference), 2 usage or environment trouble.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

struct ui {
    const cli_options *o;
    pcr *p;
    cli_report report;
    cli_ap *ap;      /* --all-packages */
    int listing;     /* print "Compiling '...'" lines */
    int show_errors; /* print per-file errors */
    int summary;     /* print the summary line */
    int progress;    /* stderr is a terminal: progress line */
    int several;     /* several Python versions: name them */
    size_t compiled, current, failed, skipped, changed, seen;
    size_t last_listed;
    int listed_any;
    int archive_refused; /* --check: an archive no reader agrees on */
    double start, last_progress;
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
clear_progress(struct ui *u)
{
    if (u->progress) {
        fputs("\r\033[K", stderr);
    }
}

/* The terminal's width (80 when it does not say). */
static int
columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) {
        return ws.ws_col;
    }
    return 80;
}

/* "N/M files, R files/s: FILE", FILE the source the event names (the
 * last one finished), its head cut to fit the line: so a run that stalls
 * shows where it is. */
static void
show_progress(struct ui *u, const pcr_event *ev)
{
    double t = now();
    size_t done = pcr_event_done(ev), total = pcr_event_total(ev);
    if (!u->progress || (t - u->last_progress < 0.1 && done < total)) {
        return;
    }
    u->last_progress = t;
    double secs = t - u->start;
    char head[96];
    int n = snprintf(head, sizeof head, "%zu/%zu files, %.0f files/s", done,
                     total, secs > 0 ? (double)done / secs : 0.0);
    const char *name = pcr_event_source(ev);
    int room = columns() - 1 - n - 2;
    fprintf(stderr, "\r\033[K%s", head);
    if (name == NULL || name[0] == '\0' || room < 8) {
        return;
    }
    size_t len = strlen(name);
    fputs(": ", stderr);
    if (len > (size_t)room) {
        name += len - (size_t)room + 3;
        while ((*name & 0xc0) == 0x80) {
            name++; /* not in the middle of a UTF-8 character */
        }
        fputs("...", stderr);
    }
    for (; *name; name++) {
        /* a control character in a name must not move the cursor */
        unsigned char c = (unsigned char)*name;
        fputc(c < 0x20 || c == 0x7f ? '?' : c, stderr);
    }
}

/* compileall lists a file once, before trying it. */
static void
list_once(struct ui *u, const pcr_event *ev)
{
    size_t i = pcr_event_index(ev);
    if (!u->listing || (u->listed_any && u->last_listed == i)) {
        return;
    }
    u->listed_any = 1;
    u->last_listed = i;
    clear_progress(u);
    printf("Compiling '%s'...\n", pcr_event_source(ev));
}

static void
error_for(struct ui *u, const pcr_event *ev, const char *what)
{
    char *name = NULL;
    const char *py = pcr_event_python(ev);
    if (u->several && py != NULL) {
        size_t n = strlen(what) + strlen(py) + 16;
        if ((name = malloc(n)) != NULL) {
            snprintf(name, n, "%s (CPython %s)", what, py);
            what = name;
        }
    }
    clear_progress(u);
    fflush(stdout);
    cli_error_line(what, pcr_event_message(ev));
    free(name);
}

static void
on_source(struct ui *u, const pcr_event *ev)
{
    switch (pcr_event_outcome(ev)) {
    case PCR_COMPILED:
        u->compiled++;
        list_once(u, ev);
        return;
    case PCR_UP_TO_DATE:
        u->current++;
        return;
    case PCR_SKIPPED:
        u->skipped++;
        return;
    case PCR_FAILED:
        break;
    }
    u->failed++;
    list_once(u, ev);
    if (u->show_errors || pcr_event_status(ev) == PCR_ENV) {
        error_for(u, ev, pcr_event_source(ev));
    }
}

static void
on_event(void *user, const pcr_event *ev)
{
    struct ui *u = user;
    const cli_options *o = u->o;
    if (pcr_event_kind(ev) == PCR_EV_ARCHIVE &&
        pcr_event_status(ev) != PCR_OK) {
        u->archive_refused = 1;
    }
    switch (pcr_event_kind(ev)) {
    case PCR_EV_PROGRESS:
        show_progress(u, ev);
        return;
    case PCR_EV_WARNING:
        /* a check's notes are not problems: -q hides them */
        if (o->quiet < (o->verb == CLI_CHECK ? 1 : 2)) {
            const char *m = pcr_event_message(ev);
            clear_progress(u);
            fflush(stdout);
            fprintf(stderr, "%s%s",
                    m[0] && strchr(m, '\n') ? "" : CLI_PROG ": ", m);
            if (m[0] && m[strlen(m) - 1] != '\n') {
                fputc('\n', stderr);
            }
        }
        return;
    case PCR_EV_SOURCE:
        if (o->verb == CLI_CHECK) {
            /* a source that failed as a whole (not there, or, in an
             * archive's check, not compiling) is part of the report */
            const char *package = NULL;
            if (pcr_event_outcome(ev) == PCR_FAILED &&
                (u->ap == NULL || cli_ap_keep(u->ap, ev, &package))) {
                clear_progress(u);
                cli_report_source(&u->report, ev, package);
            }
            return;
        }
        on_source(u, ev);
        return;
    case PCR_EV_ARCHIVE:
        if (pcr_event_status(ev) != PCR_OK) {
            if (o->quiet < 2 || pcr_event_status(ev) == PCR_ENV) {
                error_for(u, ev, pcr_event_pyc(ev));
            }
        } else if (o->wheel != NULL && o->verb == CLI_COMPILE &&
                   o->quiet == 0) {
            printf("%s\n", pcr_event_pyc(ev));
        }
        return;
    case PCR_EV_PYC:
        break;
    }
    /* PCR_EV_PYC */
    u->seen++;
    if (o->verb == CLI_CHECK) {
        clear_progress(u);
        const char *package = NULL;
        if (u->ap != NULL && !cli_ap_keep(u->ap, ev, &package)) {
            return; /* not a finding (--all-packages) */
        }
        cli_report_record(&u->report, ev, package);
        return;
    }
    if (pcr_event_status(ev) != PCR_OK) {
        u->failed++;
        if (o->quiet < 2 || pcr_event_status(ev) == PCR_ENV) {
            error_for(u, ev, pcr_event_pyc(ev));
        }
        return;
    }
    if (pcr_event_changed(ev)) {
        u->changed++;
        if (o->verb == CLI_CANONICALIZE && o->quiet == 0) {
            printf("Canonicalized '%s'\n", pcr_event_pyc(ev));
        }
    }
}

/* ------------------------------------------------------- the handle */

static int
usage_trouble(pcr *p)
{
    fprintf(stderr, CLI_PROG ": %s\n", pcr_error_string(p));
    return 2;
}

/* Names read from a stream (one a line, or NUL-separated), each added
 * as an operand; a directory among them makes the run a tree run.
 * Returns 0 or the exit code. */
static int
add_names(pcr *p, FILE *in, int null_names, int strip, int *tree)
{
    cli_error err;
    char **names;
    size_t n;
    if (cli_read_names(in, null_names ? '\0' : '\n', strip, &names, &n,
                       &err) != PCR_OK) {
        fprintf(stderr, CLI_PROG ": %s\n", err.msg);
        return 2;
    }
    for (size_t k = 0; k < n; k++) {
        struct stat st;
        *tree |= stat(names[k], &st) == 0 && S_ISDIR(st.st_mode);
        if (pcr_add_operand(p, names[k]) != PCR_OK) {
            cli_free_names(names);
            return usage_trouble(p);
        }
    }
    cli_free_names(names);
    return 0;
}

/* Operands: the files, "-" (names on stdin), -i LIST, --package. */
static int
add_operands(pcr *p, const cli_options *o, int *tree)
{
    cli_error err;
    int nfiles = 0;
    if (o->npackages > 0) {
        if (cli_add_packages(p, o, &nfiles, &err) != PCR_OK) {
            fprintf(stderr, CLI_PROG ": %s\n", err.msg);
            return 2;
        }
    }
    for (int i = 0; i < o->nfiles; i++) {
        const char *op = o->files[i];
        struct stat st;
        int is_dir = stat(op, &st) == 0 && S_ISDIR(st.st_mode);
        if (o->npackages > 0) {
            /* py3compile -p PKG DIR: DIR restricts the package's files */
            if (pcr_add_restriction(p, op) != PCR_OK) {
                return usage_trouble(p);
            }
            continue;
        }
        if (strcmp(op, "-") != 0) {
            *tree |= is_dir;
            if (pcr_add_operand(p, op) != PCR_OK) {
                return usage_trouble(p);
            }
            continue;
        }
        int rc = add_names(p, stdin, o->null_names, 0, tree);
        if (rc != 0) {
            return rc;
        }
    }
    if (o->list != NULL) {
        /* compileall -i: one name a line, white space stripped */
        *tree = 1;
        int from_stdin = strcmp(o->list, "-") == 0;
        FILE *in = from_stdin ? stdin : fopen(o->list, "r");
        if (in == NULL) {
            fprintf(stderr, CLI_PROG ": cannot read %s\n", o->list);
            return 2;
        }
        int rc = add_names(p, in, o->null_names, 1, tree);
        if (!from_stdin) {
            fclose(in);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (o->npackages > 0) {
        *tree = 1;
    }
    return 0;
}

/* --python X.Y that has no server: the error, and the servers there
 * are. */
static int
python_trouble(pcr *p)
{
    char msg[1100];
    snprintf(msg, sizeof msg, "%s", pcr_error_string(p));
    int n = pcr_python_count(p);
    fprintf(stderr, CLI_PROG ": %s\n", msg);
    if (n > 0) {
        fprintf(stderr, CLI_PROG ": compile servers here:");
        for (int i = 0; i < n; i++) {
            fprintf(stderr, " %s", pcr_python_series(p, i));
        }
        fprintf(stderr, " (--python X.Y or all; --version says more)\n");
    }
    return 2;
}

/* PYTHONPYCACHEPREFIX (sys.pycache_prefix): honoured where importlib
 * reads the .pyc of the sources compiled, checked or removed, so they go
 * where this environment's Python looks for them, as compileall and
 * py_compile write them; not where the .pyc are for another place (said
 * then, as is its use). */
static pcr_status
pycache_prefix(pcr *p, const cli_options *o)
{
    const char *prefix = getenv("PYTHONPYCACHEPREFIX");
    if (prefix == NULL || prefix[0] == '\0' ||
        (o->verb != CLI_COMPILE && o->verb != CLI_CHECK &&
         o->verb != CLI_REMOVE)) {
        return PCR_OK; /* empty: none, as Python takes it */
    }
    const char *why = o->tar != NULL || o->wheel != NULL
                          ? "an archive holds __pycache__ names"
                      : o->legacy ? "-b writes SOURCE.pyc beside the source, "
                                    "as compileall -b"
                      : o->npackages > 0 || o->all_packages
                          ? "an installed package's .pyc are in __pycache__, "
                            "where every user's Python looks"
                          : NULL;
    if (o->quiet == 0) {
        fflush(stdout);
        if (why != NULL) {
            fprintf(stderr,
                    CLI_PROG ": PYTHONPYCACHEPREFIX is set but not used: "
                             "%s\n",
                    why);
        } else {
            fprintf(stderr,
                    CLI_PROG ": PYTHONPYCACHEPREFIX is set: the .pyc are "
                             "below %s, where importlib looks for them "
                             "(unset it for __pycache__)\n",
                    prefix);
        }
    }
    return why != NULL ? PCR_OK : pcr_set_pycache_prefix(p, prefix);
}

static int cache_in_use;      /* a cache dir was given to the handle */
static const char *cache_dir; /* which */
static uint64_t cache_max;    /* its maximum size (0: none) */
static cli_outdir outdir;     /* --wheel --output DIR/ */

/* Every option onto the handle; 0, or the exit status. */
static int
configure(pcr *p, const cli_options *o)
{
    cli_error err;
    int set;
    int64_t epoch;
    if (cli_source_date_epoch(&set, &epoch, &err) != PCR_OK) {
        fprintf(stderr, CLI_PROG ": %s\n", err.msg);
        return 2;
    }
    if (o->clamp_mtime && !set) {
        fprintf(stderr, CLI_PROG ": --clamp-mtime needs SOURCE_DATE_EPOCH\n");
        return 2;
    }
    if (!set && o->verb == CLI_CHECK && o->wheel != NULL) {
        /* a check writes no wheel, so the time of its entries does not
         * matter: give the library the one it would take (1980, the
         * first a zip can hold), and it says nothing about it */
        set = 1;
        epoch = 315532800;
    }
    int bad = 0;
    bad |= set && pcr_set_epoch(p, epoch) != PCR_OK;
    bad |= o->server_dir && pcr_set_server_dir(p, o->server_dir) != PCR_OK;
    for (int i = 0; i < o->npythons && !bad; i++) {
        if (pcr_add_python(p, o->pythons[i]) != PCR_OK) {
            return python_trouble(p);
        }
    }
    for (int i = 0; i < o->nlevels && !bad; i++) {
        bad |= pcr_add_level(p, o->levels[i]) != PCR_OK;
    }
    if (o->mode >= 0 && !bad) {
        bad |= pcr_set_invalidation(p, (pcr_invalidation)o->mode) != PCR_OK;
    } else if (o->npackages > 0 && !bad) {
        /* --package: the mode the Debian hook writes (timestamp, which
         * py3compile leaves alone), whatever SOURCE_DATE_EPOCH says */
        bad |= pcr_set_invalidation(p, PCR_TIMESTAMP) != PCR_OK;
    }
    bad |= pcr_set_record_names(p, o->ddir, o->strip, o->prepend) != PCR_OK;
    bad |= pcr_set_flag(p, PCR_FLAG_FORCE, o->force) != PCR_OK;
    bad |= pcr_set_flag(p, PCR_FLAG_LEGACY, o->legacy) != PCR_OK;
    bad |= pcr_set_flag(p, PCR_FLAG_ALLOW_NO_COMPILER,
                        o->allow_no_compiler || o->all_packages) != PCR_OK;
    bad |= pcr_set_flag(p, PCR_FLAG_HARDLINK_DUPES, o->hardlink_dupes);
    bad |= pcr_set_flag(p, PCR_FLAG_INCLUDE_SOURCES, o->include_sources);
    bad |= pcr_set_flag(p, PCR_FLAG_SOURCELESS, o->sourceless);
    bad |= pcr_set_flag(p, PCR_FLAG_NO_VERIFY_RECORD, o->no_verify_record);
    /* in place, --clamp-mtime changes sources: never when only checking */
    bad |= pcr_set_flag(p, PCR_FLAG_CLAMP_MTIME,
                        o->clamp_mtime &&
                            (o->verb == CLI_COMPILE || o->tar != NULL));
    bad |= pcr_set_flag(p, PCR_FLAG_ALL_TAGS, o->verb == CLI_REMOVE);
    bad |= pcr_set_workers(p, o->workers) != PCR_OK;
    bad |= pcr_set_verify(p, o->verify) != PCR_OK;
    if (o->memory_limit_set) {
        bad |= pcr_set_memory_limit(p, o->memory_limit) != PCR_OK;
    }
    if (o->maxlevels >= 0) {
        bad |= pcr_set_max_depth(p, o->maxlevels) != PCR_OK;
    }
    bad |= pcr_set_exclude(p, o->regex) != PCR_OK;
    bad |= pycache_prefix(p, o) != PCR_OK;
    bad |= pcr_set_symlink_limit(p, o->sl_dest) != PCR_OK;
    /* the cache: --cache-dir, or the variable (not for --check, which
     * reads a cache only when told to) */
    const char *cache = o->cache_dir;
    const char *env = getenv("PYCOMPILE_REPRO_CACHE_DIR");
    if (cache == NULL && env != NULL && env[0] != '\0' &&
        (o->verb == CLI_COMPILE || o->verb == CLI_CACHE)) {
        cache = env;
    }
    cache_dir = cache;
    /* its maximum: the option, the variable, or the default */
    cache_max = o->cache_max;
    const char *max_env = getenv("PYCOMPILE_REPRO_CACHE_MAX_SIZE");
    if (!o->cache_max_set && max_env != NULL && max_env[0] != '\0') {
        if (cli_parse_size(max_env, &cache_max) != PCR_OK) {
            fprintf(stderr,
                    CLI_PROG ": PYCOMPILE_REPRO_CACHE_MAX_SIZE: invalid "
                             "cache size '%s' (a number of bytes, or with "
                             "K, M or G; 0: no limit)\n",
                    max_env);
            return 2;
        }
    } else if (!o->cache_max_set) {
        cache_max = CLI_CACHE_MAX_DEFAULT;
    }
    if (cache != NULL) {
        cache_in_use = 1;
        /* only a run that writes trims: a check, or the stats alone,
         * leave the cache as they found it (as ccache -s) */
        bad |= pcr_set_cache(p, cache,
                             o->verb == CLI_COMPILE ? cache_max : 0) != PCR_OK;
        bad |= pcr_cache_totals(p, o->cache_stats) != PCR_OK;
        bad |= pcr_set_cache_shared(p, o->cache_shared) != PCR_OK;
    }
    if (o->tar != NULL) {
        bad |= pcr_set_tar(p, o->tar, o->base ? o->base : ".") != PCR_OK;
    }
    if (o->wheel != NULL && !bad) {
        const char *out = o->output;
        if (out != NULL && o->verb == CLI_COMPILE) {
            if (cli_outdir_prepare(&outdir, out, &err) != PCR_OK) {
                fprintf(stderr, CLI_PROG ": %s\n", err.msg);
                return 2;
            }
            out = outdir.path;
        }
        bad |= pcr_set_wheel(p, o->wheel, out) != PCR_OK;
    }
    return bad ? usage_trouble(p) : 0;
}

/* ---------------------------------------------------------- the verbs */

static int
do_help(pcr *p, const cli_options *o)
{
    (void)p;
    (void)o;
    cli_usage(stdout);
    return 0;
}

static int
do_version(pcr *p, const cli_options *o)
{
    (void)o;
    printf(CLI_PROG " %s, canonical form %d\n", pcr_version_string(),
           pcr_canonical_form());
    printf("%s\n", pcr_library_versions());
    printf("compile servers:\n");
    int n = pcr_python_count(p);
    if (n == 0) {
        printf("no compile server found: %s\n", pcr_error_string(p));
        return 2;
    }
    int status = 0, def = pcr_python_default(p);
    for (int i = 0; i < n; i++) {
        if (pcr_python_start(p, i) != PCR_OK) {
            printf("  %s: cannot start: %s\n", pcr_python_series(p, i),
                   pcr_error_string(p));
            status = 2;
            continue;
        }
        uint32_t m = pcr_python_magic(p, i);
        printf("  %s: CPython %s\n", pcr_python_series(p, i),
               pcr_python_build(p, i));
        printf("        magic %u, cache tag %s%s\n", (unsigned)(m & 0xffff),
               pcr_python_cache_tag(p, i), i == def ? " (the default)" : "");
        printf("        %s\n", pcr_python_path(p, i));
    }
    return status;
}

/* "512 bytes", "12.3 KiB", "1.0 MiB", "2.5 GiB" */
static const char *
human(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(buf, size, "%llu byte%s", (unsigned long long)bytes,
                 bytes == 1 ? "" : "s");
        return buf;
    }
    double v = (double)bytes / 1024.0;
    int u = 0;
    while (v >= 1024.0 && u < 3) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
    return buf;
}

static void
print_cache_stats(pcr *p, const cli_options *o)
{
    if (!o->cache_stats || !cache_in_use) {
        return;
    }
    pcr_cache_stats st;
    pcr_get_cache_stats(p, &st);
    char size[32], max[48] = "";
    if (cache_max) {
        char m[32];
        snprintf(max, sizeof max, " of %s", human(cache_max, m, sizeof m));
    }
    fflush(stdout);
    if (o->verb == CLI_CACHE) {
        fprintf(stderr, CLI_PROG ": cache %s: %llu entries, %s%s\n", cache_dir,
                (unsigned long long)st.entries,
                human(st.bytes, size, sizeof size), max);
        return;
    }
    fprintf(stderr,
            CLI_PROG ": cache: %llu hits, %llu misses, %llu written, %llu "
                     "damaged, %llu trimmed; %llu entries, %s%s\n",
            (unsigned long long)st.hits, (unsigned long long)st.misses,
            (unsigned long long)st.written, (unsigned long long)st.damaged,
            (unsigned long long)st.trimmed, (unsigned long long)st.entries,
            human(st.bytes, size, sizeof size), max);
}

/* The cache's entries and bytes, counted by a run with no operands. */
static pcr_status
cache_count(pcr *p, pcr_cache_stats *st)
{
    if (pcr_cache_totals(p, 1) != PCR_OK ||
        pcr_run(p, PCR_VERB_DUMP, NULL, NULL) != PCR_OK) {
        return PCR_ENV;
    }
    pcr_get_cache_stats(p, st);
    return PCR_OK;
}

/* Every entry removed; the directory itself stays. */
static pcr_status
cache_clear(pcr *p)
{
    if (pcr_set_cache(p, cache_dir, 0) != PCR_OK) {
        return PCR_ENV;
    }
    return pcr_cache_clear(p);
}

/* --cache-stats or --cache-clear with no files: the cache alone, as
 * ccache -s and -C. */
static int
do_cache(pcr *p, const cli_options *o)
{
    if (cache_dir == NULL) {
        fprintf(stderr, CLI_PROG ": no cache: give --cache-dir DIR or set "
                                 "PYCOMPILE_REPRO_CACHE_DIR\n");
        return 2;
    }
    struct stat sb;
    if (stat(cache_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        /* nothing to count or clear; and asking makes nothing */
        if (o->cache_stats) {
            fprintf(stderr, CLI_PROG ": cache %s: none there yet\n",
                    cache_dir);
        }
        return 0;
    }
    pcr_cache_stats st;
    if (o->cache_clear) {
        char size[32];
        if (cache_count(p, &st) != PCR_OK || cache_clear(p) != PCR_OK) {
            return usage_trouble(p);
        }
        fprintf(stderr, CLI_PROG ": cache %s: %llu entries removed, %s\n",
                cache_dir, (unsigned long long)st.entries,
                human(st.bytes, size, sizeof size));
    }
    if (o->cache_stats) {
        if (cache_count(p, &st) != PCR_OK) {
            return usage_trouble(p);
        }
        print_cache_stats(p, o);
    }
    return 0;
}

static int
status_of_run(pcr *p, pcr_status rc, struct ui *u)
{
    print_cache_stats(p, u->o);
    if (rc == PCR_ENV) {
        clear_progress(u);
        fflush(stdout);
        fprintf(stderr, CLI_PROG ": %s\n", pcr_error_string(p));
        return 2;
    }
    return rc == PCR_FAIL ? 1 : 0;
}

static int
do_compile(pcr *p, const cli_options *o)
{
    int tree = 0;
    int st = add_operands(p, o, &tree);
    if (st != 0) {
        return st;
    }
    /* compileall's levels for trees, py_compile's for plain files */
    int verbose = tree || o->verbose;
    struct ui u = {.o = o, .p = p, .start = now()};
    u.listing = verbose && o->quiet == 0 && o->tar == NULL && !o->wheel;
    u.show_errors = verbose ? o->quiet < 2 : o->quiet == 0;
    u.summary = verbose && o->quiet == 0 && o->tar == NULL && !o->wheel;
    u.progress = o->quiet == 0 && isatty(STDERR_FILENO);
    u.several = o->npythons > 1 ||
                (o->npythons == 1 && strcmp(o->pythons[0], "all") == 0 &&
                 pcr_python_count(p) > 1);
    pcr_status rc = pcr_run(p, PCR_VERB_COMPILE, on_event, &u);
    clear_progress(&u);
    if (u.summary && rc != PCR_ENV) {
        fflush(stdout);
        fprintf(stderr,
                CLI_PROG ": %zu files: %zu compiled, %zu up to date, %zu "
                         "failed in %.2f s\n",
                u.compiled + u.current + u.failed, u.compiled, u.current,
                u.failed, now() - u.start);
    }
    return status_of_run(p, rc, &u);
}

static int
do_check(pcr *p, const cli_options *o)
{
    int tree = 0;
    int st = o->all_packages ? 0 : add_operands(p, o, &tree);
    if (st != 0) {
        return st;
    }
    struct ui u = {.o = o, .p = p, .start = now()};
    if (o->all_packages && (u.ap = cli_ap_new()) == NULL) {
        fprintf(stderr, CLI_PROG ": out of memory\n");
        return 2;
    }
    /* -q: the problems only; -qq: nothing but the exit status (and what
     * makes it 2) */
    u.show_errors = o->quiet < 2;
    u.progress = o->quiet == 0 && !o->json && isatty(STDERR_FILENO);
    u.several = o->npythons > 1;
    cli_report_begin(&u.report, o, stdout, p);
    pcr_status rc;
    cli_error err = {""};
    if (u.ap != NULL) {
        rc = cli_ap_run(u.ap, p, o, on_event, &u, &err);
    } else {
        rc = pcr_run(p, PCR_VERB_CHECK, on_event, &u);
    }
    clear_progress(&u);
    print_cache_stats(p, o);
    int status = cli_report_end(&u.report, now() - u.start);
    if (u.ap != NULL) {
        if (rc != PCR_ENV) {
            cli_ap_summary(u.ap, o->quiet);
        }
        cli_ap_free(u.ap);
        if (rc == PCR_ENV && err.msg[0] != '\0') {
            fprintf(stderr, CLI_PROG ": %s\n", err.msg);
            return 2;
        }
    }
    if (rc == PCR_ENV) {
        /* said even with -qq: it is why the status is 2 */
        fflush(stdout);
        fprintf(stderr, CLI_PROG ": %s\n", pcr_error_string(p));
        return 2;
    }
    /* an archive refused (said in its event) checks nothing: not a pass */
    return u.archive_refused && status == 0 ? 1 : status;
}

static int
do_pyc(pcr *p, const cli_options *o)
{
    int tree = 0;
    int st = add_operands(p, o, &tree);
    if (st != 0) {
        return st;
    }
    struct ui u = {.o = o, .p = p, .start = now()};
    pcr_verb verb = o->verb == CLI_DUMP     ? PCR_VERB_DUMP
                    : o->verb == CLI_REMOVE ? PCR_VERB_REMOVE
                                            : PCR_VERB_CANONICALIZE;
    pcr_status rc = pcr_run(p, verb, on_event, &u);
    if (o->verb == CLI_CANONICALIZE && o->quiet < 2 && rc != PCR_ENV) {
        fflush(stdout);
        fprintf(stderr, CLI_PROG ": %zu .pyc files, %zu rewritten\n", u.seen,
                u.changed);
    }
    if (o->verb == CLI_REMOVE && o->verbose && o->quiet < 2) {
        fprintf(stderr, CLI_PROG ": %zu .pyc files removed\n", u.changed);
    }
    return status_of_run(p, rc, &u);
}

static const struct verb {
    cli_verb verb;
    int (*run)(pcr *p, const cli_options *o);
} verbs[] = {
    {CLI_COMPILE, do_compile},  {CLI_CHECK, do_check}, {CLI_DUMP, do_pyc},
    {CLI_CANONICALIZE, do_pyc}, {CLI_REMOVE, do_pyc},  {CLI_HELP, do_help},
    {CLI_VERSION, do_version},  {CLI_CACHE, do_cache},
};

int
main(int argc, char **argv)
{
    cli_options o;
    cli_error err;
    if (cli_parse(argc, argv, &o, &err) != PCR_OK) {
        fprintf(stderr, CLI_PROG ": %s\n", err.msg);
        fprintf(stderr, "Try '" CLI_PROG " --help' for more information.\n");
        return 2;
    }
    pcr *p = pcr_new();
    if (p == NULL) {
        fprintf(stderr, CLI_PROG ": out of memory\n");
        return 2;
    }
    int status =
        o.verb == CLI_HELP || o.verb == CLI_VERSION ? 0 : configure(p, &o);
    if (status == 0 && o.verb == CLI_VERSION && o.server_dir != NULL) {
        pcr_set_server_dir(p, o.server_dir);
    }
    for (size_t i = 0; status == 0 && i < sizeof verbs / sizeof verbs[0];
         i++) {
        if (verbs[i].verb == o.verb) {
            status = verbs[i].run(p, &o);
            break;
        }
    }
    cli_outdir_finish(&outdir, status != 0);
    pcr_free(p);
    if (fflush(stdout) != 0 && status == 0) {
        status = 2;
    }
    return status;
}
