/* SPDX-License-Identifier: MIT */
/*
 * handle.c - the pcr handle: settings set by the caller, the last error,
 * the servers and the cache that outlive a run, and the accessors of the
 * events handed to the caller's callback.  Setters copy their strings and
 * refuse NULL where a value is needed; getters return borrowed pointers.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"
#include "canonical.h"
#include "engine.h"
#include "handle.h"
#include "lazy_libs.h"

PCR_API unsigned
pcr_version_number(void)
{
    return PCR_VERSION_NUMBER;
}

PCR_API const char *
pcr_version_string(void)
{
    return PCR_VERSION;
}

PCR_API int
pcr_canonical_form(void)
{
    return PCR_CANONICAL_FORM;
}

pcr_invalidation
pcr_default_invalidation(void)
{
    /* py_compile._get_default_invalidation_mode: set *and* non-empty. */
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    return (sde != NULL && sde[0] != '\0') ? PCR_CHECKED_HASH : PCR_TIMESTAMP;
}

static void
settings_defaults(pcr_settings *s)
{
    memset(s, 0, sizeof *s);
    s->mode = pcr_default_invalidation();
    s->workers = 1;
    s->epoch = -1;
    s->memory_limit = (uint64_t)1 << 30;
    s->maxlevels = 1000; /* compileall: sys.getrecursionlimit() */
    s->dump = stdout;
}

static void
free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

static void
clear_operands(pcr_settings *s)
{
    for (size_t i = 0; i < s->noperands; i++) {
        free(s->operands[i].path);
        free(s->operands[i].record);
        free(s->operands[i].pyc);
    }
    free(s->operands);
    s->operands = NULL;
    s->noperands = 0;
    free_list(s->restrict_dirs, s->nrestrict);
    s->restrict_dirs = NULL;
    s->nrestrict = 0;
    free(s->tar_out);
    free(s->tar_base);
    free(s->wheel_in);
    free(s->wheel_out);
    s->tar_out = s->tar_base = s->wheel_in = s->wheel_out = NULL;
}

/* Everything but the operands (clear_operands). */
static void
clear_options(pcr_settings *s)
{
    free(s->ddir);
    free(s->strip);
    free(s->prepend);
    free(s->exclude);
    free(s->limit_sl_dest);
    free(s->pycache_prefix);
    free_list(s->pythons, s->npythons);
    pcr_operand *ops = s->operands;
    size_t nops = s->noperands;
    char **rd = s->restrict_dirs;
    size_t nrd = s->nrestrict;
    char *to = s->tar_out, *tb = s->tar_base, *wi = s->wheel_in,
         *wo = s->wheel_out;
    settings_defaults(s);
    s->operands = ops;
    s->noperands = nops;
    s->restrict_dirs = rd;
    s->nrestrict = nrd;
    s->tar_out = to;
    s->tar_base = tb;
    s->wheel_in = wi;
    s->wheel_out = wo;
}

static void
close_cache(pcr *p)
{
    pcr_cache_free(p->cache);
    p->cache = NULL;
    free(p->cache_refused);
    p->cache_refused = NULL;
}

PCR_API pcr *
pcr_new(void)
{
    pcr *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    settings_defaults(&p->set);
    p->py.default_py = -1;
    return p;
}

PCR_API void
pcr_free(pcr *p)
{
    if (p == NULL) {
        return;
    }
    pcr_engine_free(p->engine);
    close_cache(p);
    free(p->cache_dir);
    clear_operands(&p->set);
    clear_options(&p->set);
    free(p->server_dir);
    pcr_pythons_clear(&p->py);
    free(p);
}

PCR_API const char *
pcr_error_string(const pcr *p)
{
    return p ? p->err.msg : "no handle (NULL)";
}

pcr_status
pcr_fail(pcr *p, pcr_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err.msg, sizeof p->err.msg, fmt, ap);
    va_end(ap);
    return st;
}

/* Every entry point takes a handle; NULL is an error, never a crash. */
/* Every setter: a handle, and not one in the middle of pcr_run (its
 * callback must not change what the run is reading). */
#define NEED_HANDLE(p)                                                        \
    do {                                                                      \
        if ((p) == NULL) {                                                    \
            return PCR_ENV;                                                   \
        }                                                                     \
        if ((p)->running) {                                                   \
            return pcr_fail((p), PCR_ENV,                                     \
                            "the handle is running: not from its callback");  \
        }                                                                     \
    } while (0)

/* Replace *slot with a copy of s (NULL allowed). */
static pcr_status
set_str(pcr *p, char **slot, const char *s)
{
    char *c = NULL;
    if (s != NULL && (c = strdup(s)) == NULL) {
        return pcr_fail(p, PCR_ENV, "out of memory");
    }
    free(*slot);
    *slot = c;
    return PCR_OK;
}

static pcr_status
push_str(pcr *p, char ***v, size_t *n, const char *s, const char *what)
{
    if (s == NULL || s[0] == '\0') {
        return pcr_fail(p, PCR_ENV, "%s: an empty name", what);
    }
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (nv == NULL) {
        return pcr_fail(p, PCR_ENV, "out of memory");
    }
    *v = nv;
    if ((nv[*n] = strdup(s)) == NULL) {
        return pcr_fail(p, PCR_ENV, "out of memory");
    }
    (*n)++;
    return PCR_OK;
}

/* ------------------------------------------------------------ options */

static const char *const mode_names[] = {"timestamp", "checked-hash",
                                         "unchecked-hash"};

PCR_API int
pcr_invalidation_parse(const char *name)
{
    char norm[32];
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= sizeof norm) {
        return -1;
    }
    /* compileall's spelling (checked-hash) and the enum's (CHECKED_HASH) */
    for (size_t i = 0; i <= n; i++) {
        norm[i] = name[i] == '_' ? '-' : name[i];
    }
    for (int m = 0; m < 3; m++) {
        if (strcasecmp(norm, mode_names[m]) == 0) {
            return m;
        }
    }
    return -1;
}

PCR_API const char *
pcr_invalidation_name(pcr_invalidation mode)
{
    return (unsigned)mode < 3 ? mode_names[mode] : "?";
}

PCR_API pcr_status
pcr_set_flag(pcr *p, pcr_flag flag, int on)
{
    NEED_HANDLE(p);
    pcr_settings *s = &p->set;
    int *slot;
    switch (flag) {
    case PCR_FLAG_FORCE:
        slot = &s->force;
        break;
    case PCR_FLAG_LEGACY:
        slot = &s->legacy;
        break;
    case PCR_FLAG_HARDLINK_DUPES:
        slot = &s->hardlink_dupes;
        break;
    case PCR_FLAG_INCLUDE_SOURCES:
        slot = &s->include_sources;
        break;
    case PCR_FLAG_SOURCELESS:
        slot = &s->sourceless;
        break;
    case PCR_FLAG_NO_VERIFY_RECORD:
        slot = &s->no_verify_record;
        break;
    case PCR_FLAG_CLAMP_MTIME:
        slot = &s->clamp_mtime;
        break;
    case PCR_FLAG_ALL_TAGS:
        slot = &s->all_tags;
        break;
    case PCR_FLAG_CANONICALIZE_EXISTING:
        slot = &s->canonicalize_existing;
        break;
    case PCR_FLAG_ALLOW_NO_COMPILER:
        slot = &s->allow_no_compiler;
        break;
    default:
        return pcr_fail(p, PCR_ENV, "unknown flag %d", (int)flag);
    }
    *slot = on != 0;
    return PCR_OK;
}

PCR_API pcr_status
pcr_add_level(pcr *p, int level)
{
    NEED_HANDLE(p);
    pcr_settings *s = &p->set;
    if (level < 0 || level >= PCR_MAX_LEVELS) {
        return pcr_fail(p, PCR_ENV,
                        "optimisation level must be 0, 1 or 2, not %d", level);
    }
    int i = 0;
    while (i < s->nlevels && s->levels[i] < level) {
        i++;
    }
    if (i < s->nlevels && s->levels[i] == level) {
        return PCR_OK;
    }
    memmove(s->levels + i + 1, s->levels + i,
            (size_t)(s->nlevels - i) * sizeof s->levels[0]);
    s->levels[i] = level;
    s->nlevels++;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_invalidation(pcr *p, pcr_invalidation mode)
{
    NEED_HANDLE(p);
    if ((unsigned)mode > 2) {
        return pcr_fail(p, PCR_ENV, "unknown invalidation mode");
    }
    p->set.mode = mode;
    p->set.mode_set = 1;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_record_names(pcr *p, const char *ddir, const char *strip,
                     const char *prepend)
{
    NEED_HANDLE(p);
    pcr_settings *s = &p->set;
    if (ddir != NULL && (strip != NULL || prepend != NULL)) {
        return pcr_fail(p, PCR_ENV, "-d cannot be combined with -s or -p");
    }
    if (set_str(p, &s->ddir, ddir) != PCR_OK ||
        set_str(p, &s->strip, strip) != PCR_OK ||
        set_str(p, &s->prepend, prepend) != PCR_OK) {
        return PCR_ENV;
    }
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_workers(pcr *p, int n)
{
    NEED_HANDLE(p);
    if (n < 0 || n > 1024) {
        return pcr_fail(p, PCR_ENV, "workers must be 0 to 1024");
    }
    p->set.workers = n;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_verify(pcr *p, int copies)
{
    NEED_HANDLE(p);
    if (copies < 0 || copies > PCR_VERIFY_MAX) {
        return pcr_fail(p, PCR_ENV, "--verify takes 2 to %d copies",
                        PCR_VERIFY_MAX);
    }
    p->set.verify = copies > 1 ? copies : 0;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_memory_limit(pcr *p, uint64_t bytes)
{
    NEED_HANDLE(p);
    p->set.memory_limit = bytes;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_epoch(pcr *p, int64_t epoch)
{
    NEED_HANDLE(p);
    p->set.epoch = epoch < 0 ? -1 : epoch;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_max_depth(pcr *p, int levels)
{
    NEED_HANDLE(p);
    p->set.maxlevels = levels < 0 ? 0 : levels;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_exclude(pcr *p, const char *regex)
{
    NEED_HANDLE(p);
    return set_str(p, &p->set.exclude, regex && regex[0] ? regex : NULL);
}

PCR_API pcr_status
pcr_set_symlink_limit(pcr *p, const char *dir)
{
    NEED_HANDLE(p);
    /* compileall treats -e "" as no limit */
    return set_str(p, &p->set.limit_sl_dest, dir && dir[0] ? dir : NULL);
}

PCR_API pcr_status
pcr_set_pycache_prefix(pcr *p, const char *prefix)
{
    NEED_HANDLE(p);
    /* Python takes an empty PYTHONPYCACHEPREFIX as none */
    return set_str(p, &p->set.pycache_prefix,
                   prefix && prefix[0] ? prefix : NULL);
}

PCR_API pcr_status
pcr_set_dump_stream(pcr *p, FILE *out)
{
    NEED_HANDLE(p);
    p->set.dump = out ? out : stdout;
    return PCR_OK;
}

/* ----------------------------------------------------------- operands */

static pcr_status
push_operand(pcr *p, const char *path, const char *record, const char *pyc)
{
    pcr_settings *s = &p->set;
    if (path == NULL || path[0] == '\0') {
        return pcr_fail(p, PCR_ENV, "an empty file name");
    }
    pcr_operand *v =
        realloc(s->operands, (s->noperands + 1) * sizeof *s->operands);
    if (v == NULL) {
        return pcr_fail(p, PCR_ENV, "out of memory");
    }
    s->operands = v;
    pcr_operand o = {strdup(path), record ? strdup(record) : NULL,
                     pyc ? strdup(pyc) : NULL};
    if (o.path == NULL || (record && !o.record) || (pyc && !o.pyc)) {
        free(o.path);
        free(o.record);
        free(o.pyc);
        return pcr_fail(p, PCR_ENV, "out of memory");
    }
    s->operands[s->noperands++] = o;
    return PCR_OK;
}

PCR_API pcr_status
pcr_add_operand(pcr *p, const char *path)
{
    NEED_HANDLE(p);
    return push_operand(p, path, NULL, NULL);
}

PCR_API pcr_status
pcr_add_file(pcr *p, const char *source, const char *record, const char *pyc)
{
    NEED_HANDLE(p);
    if (record != NULL && record[0] == '\0') {
        return pcr_fail(p, PCR_ENV, "an empty recorded name");
    }
    if (pyc != NULL && pyc[0] == '\0') {
        return pcr_fail(p, PCR_ENV, "an empty .pyc name");
    }
    return push_operand(p, source, record, pyc);
}

PCR_API pcr_status
pcr_add_restriction(pcr *p, const char *dir)
{
    NEED_HANDLE(p);
    return push_str(p, &p->set.restrict_dirs, &p->set.nrestrict, dir,
                    "a directory restriction");
}

PCR_API pcr_status
pcr_set_tar(pcr *p, const char *out, const char *base)
{
    NEED_HANDLE(p);
    if (set_str(p, &p->set.tar_out, out) != PCR_OK) {
        return PCR_ENV;
    }
    return set_str(p, &p->set.tar_base, base);
}

PCR_API pcr_status
pcr_set_wheel(pcr *p, const char *in, const char *out)
{
    NEED_HANDLE(p);
    if (set_str(p, &p->set.wheel_in, in) != PCR_OK) {
        return PCR_ENV;
    }
    return set_str(p, &p->set.wheel_out, out);
}

PCR_API pcr_status
pcr_reset(pcr *p, unsigned what)
{
    NEED_HANDLE(p);
    if (what & ~(unsigned)(PCR_RESET_OPERANDS | PCR_RESET_OPTIONS)) {
        return pcr_fail(p, PCR_ENV, "pcr_reset: unknown bits %#x", what);
    }
    if (what & PCR_RESET_OPERANDS) {
        clear_operands(&p->set);
    }
    if (what & PCR_RESET_OPTIONS) {
        clear_options(&p->set);
    }
    p->err.msg[0] = '\0';
    return PCR_OK;
}

/* ------------------------------------------------------ Python versions */

pcr_status
pcr_discover(pcr *p)
{
    if (p->discovered && p->py.n > 0) {
        return PCR_OK;
    }
    /* found nothing last time: look again (servers may be installed
     * since) */
    /* servers of an earlier directory stop before the table changes */
    pcr_engine_free(p->engine);
    p->engine = NULL;
    pcr_status rc = pcr_pythons_discover(&p->py, p->server_dir, &p->err);
    p->discovered = 1;
    return rc;
}

PCR_API pcr_status
pcr_set_server_dir(pcr *p, const char *dir)
{
    NEED_HANDLE(p);
    if (p->discovered && p->py.n > 0 && dir != NULL && p->server_dir != NULL &&
        strcmp(dir, p->server_dir) == 0) {
        return PCR_OK; /* the same: its servers stay warm */
    }
    pcr_status rc = set_str(p, &p->server_dir, dir);
    if (rc == PCR_OK) {
        p->discovered = 0; /* found again, replacing the list, when needed */
    }
    return rc;
}

PCR_API pcr_status
pcr_add_python(pcr *p, const char *version)
{
    NEED_HANDLE(p);
    if (version == NULL) {
        return pcr_fail(p, PCR_ENV, "--python takes X.Y or all, not NULL");
    }
    pcr_status rc = pcr_discover(p);
    if (rc != PCR_OK) {
        return rc;
    }
    if (strcmp(version, "all") == 0) {
        p->set.want_all = 1;
        return PCR_OK;
    }
    int major, minor;
    if (!pcr_parse_series(version, strlen(version), &major, &minor)) {
        return pcr_fail(p, PCR_ENV,
                        "--python takes X.Y (such as 3.13) or all, not '%s'",
                        version);
    }
    if (pcr_python_by_series(&p->py, version) < 0) {
        size_t k = 0;
        char list[512] = "";
        for (int i = 0; i < p->py.n && k < sizeof list - 16; i++) {
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s",
                                  i ? ", " : "", p->py.v[i].series);
        }
        return pcr_fail(p, PCR_ENV,
                        "no compile server for CPython %s here (there %s: "
                        "%s)",
                        version, p->py.n == 1 ? "is" : "are", list);
    }
    for (size_t i = 0; i < p->set.npythons; i++) {
        if (strcmp(p->set.pythons[i], version) == 0) {
            return PCR_OK;
        }
    }
    return push_str(p, &p->set.pythons, &p->set.npythons, version, "--python");
}

static const pcr_python *
py_at(pcr *p, int i)
{
    return (p != NULL && pcr_discover(p) == PCR_OK && i >= 0 && i < p->py.n)
               ? &p->py.v[i]
               : NULL;
}

PCR_API int
pcr_python_count(pcr *p)
{
    return p != NULL && pcr_discover(p) == PCR_OK ? p->py.n : 0;
}

PCR_API const char *
pcr_python_series(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py ? py->series : NULL;
}

PCR_API const char *
pcr_python_path(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py ? py->path : NULL;
}

PCR_API const char *
pcr_python_version(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py && py->started ? py->version : NULL;
}

PCR_API const char *
pcr_python_build(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py && py->started ? py->build : NULL;
}

PCR_API const char *
pcr_python_cache_tag(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py ? py->tag : NULL;
}

PCR_API uint32_t
pcr_python_magic(pcr *p, int i)
{
    const pcr_python *py = py_at(p, i);
    return py && py->started ? py->magic : 0;
}

PCR_API int
pcr_python_default(pcr *p)
{
    return p != NULL && pcr_discover(p) == PCR_OK ? p->py.default_py : -1;
}

/* The engine: made when first needed, kept until the handle is freed or
 * the server directory changes. */
pcr_engine *
pcr_handle_engine(pcr *p)
{
    if (p->engine == NULL) {
        p->engine = pcr_engine_new(&p->py);
    }
    return p->engine;
}

PCR_API pcr_status
pcr_python_start(pcr *p, int i)
{
    NEED_HANDLE(p);
    pcr_status rc = pcr_discover(p);
    if (rc != PCR_OK) {
        return rc;
    }
    if (i < 0 || i >= p->py.n) {
        return pcr_fail(p, PCR_ENV, "no such compile server");
    }
    if (p->py.v[i].started && !p->py.v[i].identified) {
        return PCR_OK;
    }
    pcr_engine *e = pcr_handle_engine(p);
    if (e == NULL) {
        return pcr_fail(p, PCR_ENV, "out of memory");
    }
    pcr_engine_run run = {.servers = 1, .memory_limit = p->set.memory_limit};
    pcr_engine_begin(e, &run);
    rc = pcr_engine_hello(e, i, &p->err);
    pcr_engine_end(e, rc == PCR_ENV);
    return rc;
}

/* ------------------------------------------------------------- cache */

PCR_API pcr_status
pcr_set_cache(pcr *p, const char *dir, uint64_t max_size)
{
    NEED_HANDLE(p);
    close_cache(p);
    p->cache_max = max_size;
    pcr_status rc = set_str(p, &p->cache_dir, dir && dir[0] ? dir : NULL);
    if (rc == PCR_OK && p->cache_dir != NULL) {
        pcr_error e; /* the cache's keys and checksums are SHA-256 */
        if (pcr_lazy_crypto(&e) != PCR_OK) {
            return pcr_fail(p, PCR_ENV, "%s", e.msg);
        }
    }
    return rc;
}

PCR_API pcr_status
pcr_set_cache_shared(pcr *p, int shared)
{
    NEED_HANDLE(p);
    if ((shared != 0) != p->cache_shared) {
        close_cache(p);
    }
    p->cache_shared = shared != 0;
    return PCR_OK;
}

pcr_cache *
pcr_handle_cache(pcr *p, const char **why)
{
    *why = NULL;
    /* opened and checked afresh for each run: between the runs of a
     * long-lived handle the directory may be removed, made writable by
     * others, or the cause of a refusal gone */
    close_cache(p);
    if (p->cache_dir == NULL) {
        return NULL;
    }
    pcr_error e;
    p->cache =
        pcr_cache_open_dir(p->cache_dir, p->cache_max, p->cache_shared, &e);
    if (p->cache == NULL) {
        size_t n = strlen(e.msg) + 64;
        if ((p->cache_refused = malloc(n)) != NULL) {
            snprintf(p->cache_refused, n, "no cache used in this run: %s",
                     e.msg);
        }
    }
    *why = p->cache_refused;
    return p->cache;
}

PCR_API pcr_status
pcr_cache_clear(pcr *p)
{
    NEED_HANDLE(p);
    const char *why;
    if (p->cache_dir == NULL) {
        return pcr_fail(p, PCR_ENV, "no cache directory is set");
    }
    pcr_cache *c = pcr_handle_cache(p, &why);
    if (c == NULL) {
        return pcr_fail(p, PCR_ENV, "%s", why ? why : "out of memory");
    }
    pcr_cache_begin_run(c);
    pcr_error e;
    if (pcr_cache_remove_all(c, &e) != PCR_OK) {
        return pcr_fail(p, PCR_FAIL, "%s", e.msg);
    }
    return PCR_OK;
}

PCR_API pcr_status
pcr_cache_totals(pcr *p, int want_totals)
{
    NEED_HANDLE(p);
    p->cache_want_totals = want_totals != 0;
    return PCR_OK;
}

PCR_API uint64_t
pcr_cache_stat(const pcr *p, pcr_cache_counter which)
{
    return p != NULL && p->cache != NULL
               ? pcr_cache_counter_get(p->cache, which)
               : 0;
}

PCR_API const char *
pcr_cache_counter_name(pcr_cache_counter which)
{
    return pcr_cache_counter_label(which);
}

PCR_API void
pcr_get_cache_stats(const pcr *p, pcr_cache_stats *out)
{
    if (out == NULL) {
        return;
    }
    *out = (pcr_cache_stats){pcr_cache_stat(p, PCR_CACHE_HITS),
                             pcr_cache_stat(p, PCR_CACHE_MISSES),
                             pcr_cache_stat(p, PCR_CACHE_WRITTEN),
                             pcr_cache_stat(p, PCR_CACHE_ERRORS),
                             pcr_cache_stat(p, PCR_CACHE_DAMAGED),
                             pcr_cache_stat(p, PCR_CACHE_TRIMMED),
                             pcr_cache_stat(p, PCR_CACHE_ENTRIES),
                             pcr_cache_stat(p, PCR_CACHE_BYTES)};
}

/* ------------------------------------------------------------- events */

static const char *const class_names[PCR_CHECK_CLASSES] = {
    "ok",         "missing",       "other-python", "other-mode",
    "stale",      "not-canonical", "different",    "source-error",
    "unreadable", "no-compiler",   "skipped"};

PCR_API const char *
pcr_check_class_name(pcr_check_class c)
{
    return (unsigned)c < PCR_CHECK_CLASSES ? class_names[c] : "?";
}

PCR_API pcr_event_type
pcr_event_kind(const pcr_event *ev)
{
    return ev->kind;
}

PCR_API size_t
pcr_event_index(const pcr_event *ev)
{
    return ev->index;
}

PCR_API const char *
pcr_event_source(const pcr_event *ev)
{
    return ev->source;
}

PCR_API const char *
pcr_event_pyc(const pcr_event *ev)
{
    return ev->pyc;
}

PCR_API const char *
pcr_event_python(const pcr_event *ev)
{
    return ev->python;
}

PCR_API int
pcr_event_level(const pcr_event *ev)
{
    return ev->level;
}

PCR_API pcr_outcome
pcr_event_outcome(const pcr_event *ev)
{
    return ev->outcome;
}

PCR_API pcr_check_class
pcr_event_class(const pcr_event *ev)
{
    return ev->cls;
}

PCR_API pcr_status
pcr_event_status(const pcr_event *ev)
{
    return ev->status;
}

PCR_API const char *
pcr_event_message(const pcr_event *ev)
{
    return ev->message ? ev->message : "";
}

PCR_API int
pcr_event_changed(const pcr_event *ev)
{
    return ev->changed;
}

PCR_API size_t
pcr_event_done(const pcr_event *ev)
{
    return ev->done;
}

PCR_API size_t
pcr_event_total(const pcr_event *ev)
{
    return ev->total;
}
