/* SPDX-License-Identifier: MIT */
/*
 * handle.c - the pcr handle: options set by the caller, the last error,
 * and the accessors of the events handed to the caller's callback.
 * Setters copy their strings; getters return borrowed pointers.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "canonical.h"
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

PCR_API pcr *
pcr_new(void)
{
    pcr *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    p->mode = pcr_default_invalidation();
    p->workers = 1;
    p->epoch = -1;
    p->memory_limit = (uint64_t)1 << 30;
    p->walk.maxlevels = 1000; /* compileall: sys.getrecursionlimit() */
    p->walk.suffix = ".py";
    p->default_py = -1;
    p->dump = stdout;
    return p;
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
clear_operands(pcr *p)
{
    for (size_t i = 0; i < p->noperands; i++) {
        free(p->operands[i].path);
        free(p->operands[i].record);
        free(p->operands[i].pyc);
    }
    free(p->operands);
    p->operands = NULL;
    p->noperands = 0;
    free_list(p->restrict_dirs, p->nrestrict);
    p->restrict_dirs = NULL;
    p->nrestrict = 0;
    free(p->tar_out);
    free(p->tar_base);
    free(p->wheel_in);
    free(p->wheel_out);
    p->tar_out = p->tar_base = p->wheel_in = p->wheel_out = NULL;
}

PCR_API void
pcr_free(pcr *p)
{
    if (p == NULL) {
        return;
    }
    free(p->ddir);
    free(p->strip);
    free(p->prepend);
    free(p->exclude);
    free((char *)p->walk.limit_sl_dest);
    clear_operands(p);
    free_list(p->restrict_dirs, p->nrestrict);
    free(p->server_dir);
    free(p->cache_dir);
    for (int i = 0; i < p->npy; i++) {
        free(p->py[i].path);
        free(p->py[i].build);
    }
    free(p->py);
    free(p->wanted);
    free(p);
}

PCR_API const char *
pcr_error_string(const pcr *p)
{
    return p ? p->err.msg : "out of memory";
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
push_str(pcr *p, char ***v, size_t *n, const char *s)
{
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
    size_t n = strlen(name);
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
    int *slot;
    switch (flag) {
    case PCR_FLAG_FORCE:
        slot = &p->force;
        break;
    case PCR_FLAG_LEGACY:
        slot = &p->legacy;
        break;
    case PCR_FLAG_HARDLINK_DUPES:
        slot = &p->hardlink_dupes;
        break;
    case PCR_FLAG_INCLUDE_SOURCES:
        slot = &p->include_sources;
        break;
    case PCR_FLAG_SOURCELESS:
        slot = &p->sourceless;
        break;
    case PCR_FLAG_NO_VERIFY_RECORD:
        slot = &p->no_verify_record;
        break;
    case PCR_FLAG_CLAMP_MTIME:
        slot = &p->clamp_mtime;
        break;
    case PCR_FLAG_ALL_TAGS:
        slot = &p->all_tags;
        break;
    case PCR_FLAG_CANONICALIZE_EXISTING:
        slot = &p->canonicalize_existing;
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
    if (level < 0 || level > 2) {
        return pcr_fail(p, PCR_ENV,
                        "optimisation level must be 0, 1 or 2, not %d", level);
    }
    int i = 0;
    while (i < p->nlevels && p->levels[i] < level) {
        i++;
    }
    if (i < p->nlevels && p->levels[i] == level) {
        return PCR_OK;
    }
    memmove(p->levels + i + 1, p->levels + i,
            (size_t)(p->nlevels - i) * sizeof p->levels[0]);
    p->levels[i] = level;
    p->nlevels++;
    return PCR_OK;
}

/* The one place that says "no levels means level 0". */
int
pcr_levels(const pcr *p, const int **levels)
{
    static const int level0[1] = {0};
    *levels = p->nlevels ? p->levels : level0;
    return p->nlevels ? p->nlevels : 1;
}

PCR_API pcr_status
pcr_set_invalidation(pcr *p, pcr_invalidation mode)
{
    if ((unsigned)mode > 2) {
        return pcr_fail(p, PCR_ENV, "unknown invalidation mode");
    }
    p->mode = mode;
    p->mode_set = 1;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_record_names(pcr *p, const char *ddir, const char *strip,
                     const char *prepend)
{
    if (ddir != NULL && (strip != NULL || prepend != NULL)) {
        return pcr_fail(p, PCR_ENV, "-d cannot be combined with -s or -p");
    }
    if (set_str(p, &p->ddir, ddir) != PCR_OK ||
        set_str(p, &p->strip, strip) != PCR_OK ||
        set_str(p, &p->prepend, prepend) != PCR_OK) {
        return PCR_ENV;
    }
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_workers(pcr *p, int n)
{
    if (n < 0 || n > 1024) {
        return pcr_fail(p, PCR_ENV, "workers must be 0 to 1024");
    }
    p->workers = n;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_verify(pcr *p, int copies)
{
    if (copies < 0 || copies > PCR_VERIFY_MAX) {
        return pcr_fail(p, PCR_ENV, "--verify takes 2 to %d copies",
                        PCR_VERIFY_MAX);
    }
    p->verify = copies > 1 ? copies : 0;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_memory_limit(pcr *p, uint64_t bytes)
{
    p->memory_limit = bytes;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_epoch(pcr *p, int64_t epoch)
{
    p->epoch = epoch < 0 ? -1 : epoch;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_server_dir(pcr *p, const char *dir)
{
    p->discovered = 0;
    return set_str(p, &p->server_dir, dir);
}

PCR_API pcr_status
pcr_set_cache(pcr *p, const char *dir, uint64_t max_size)
{
    p->cache_max = max_size;
    if (dir && dir[0]) {
        pcr_error e; /* the cache's keys and checksums are SHA-256 */
        if (pcr_lazy_crypto(&e) != PCR_OK) {
            return pcr_fail(p, PCR_ENV, "%s", e.msg);
        }
    }
    return set_str(p, &p->cache_dir, dir && dir[0] ? dir : NULL);
}

PCR_API pcr_status
pcr_cache_totals(pcr *p, int want_totals)
{
    p->cache_want_stats = want_totals != 0;
    return PCR_OK;
}

PCR_API void
pcr_get_cache_stats(const pcr *p, pcr_cache_stats *out)
{
    *out = (pcr_cache_stats){
        p->cache_hits,    p->cache_misses,  p->cache_written, p->cache_errors,
        p->cache_damaged, p->cache_trimmed, p->cache_entries, p->cache_bytes};
}

PCR_API pcr_status
pcr_set_max_depth(pcr *p, int levels)
{
    p->walk.maxlevels = levels < 0 ? 0 : levels;
    return PCR_OK;
}

PCR_API pcr_status
pcr_set_exclude(pcr *p, const char *regex)
{
    return set_str(p, &p->exclude, regex);
}

PCR_API pcr_status
pcr_set_symlink_limit(pcr *p, const char *dir)
{
    /* compileall treats -e "" as no limit */
    return set_str(p, (char **)&p->walk.limit_sl_dest,
                   dir && dir[0] ? dir : NULL);
}

static pcr_status
push_operand(pcr *p, const char *path, const char *record, const char *pyc)
{
    if (path == NULL || path[0] == '\0') {
        return pcr_fail(p, PCR_ENV, "an empty file name");
    }
    pcr_operand *v =
        realloc(p->operands, (p->noperands + 1) * sizeof *p->operands);
    if (v == NULL) {
        return pcr_fail(p, PCR_ENV, "out of memory");
    }
    p->operands = v;
    pcr_operand o = {strdup(path), record ? strdup(record) : NULL,
                     pyc ? strdup(pyc) : NULL};
    if (o.path == NULL || (record && !o.record) || (pyc && !o.pyc)) {
        free(o.path);
        free(o.record);
        free(o.pyc);
        return pcr_fail(p, PCR_ENV, "out of memory");
    }
    p->operands[p->noperands++] = o;
    return PCR_OK;
}

PCR_API pcr_status
pcr_add_operand(pcr *p, const char *path)
{
    return push_operand(p, path, NULL, NULL);
}

PCR_API pcr_status
pcr_add_file(pcr *p, const char *source, const char *record, const char *pyc)
{
    if (record != NULL && record[0] == '\0') {
        return pcr_fail(p, PCR_ENV, "an empty recorded name");
    }
    if (pyc != NULL && pyc[0] == '\0') {
        return pcr_fail(p, PCR_ENV, "an empty .pyc name");
    }
    return push_operand(p, source, record, pyc);
}

PCR_API pcr_status
pcr_reset(pcr *p, unsigned what)
{
    if (what & ~(unsigned)(PCR_RESET_OPERANDS | PCR_RESET_OPTIONS)) {
        return pcr_fail(p, PCR_ENV, "pcr_reset: unknown bits %#x", what);
    }
    if (what & PCR_RESET_OPERANDS) {
        clear_operands(p);
    }
    if (what & PCR_RESET_OPTIONS) {
        free(p->ddir);
        free(p->strip);
        free(p->prepend);
        free(p->exclude);
        free((char *)p->walk.limit_sl_dest);
        p->ddir = p->strip = p->prepend = p->exclude = NULL;
        p->walk.limit_sl_dest = NULL;
        p->nlevels = 0;
        p->mode = pcr_default_invalidation();
        p->mode_set = 0;
        p->force = p->legacy = p->hardlink_dupes = p->include_sources = 0;
        p->sourceless = p->no_verify_record = p->clamp_mtime = 0;
        p->all_tags = p->canonicalize_existing = 0;
        p->workers = 1;
        p->verify = 0;
        p->memory_limit = (uint64_t)1 << 30;
        p->epoch = -1;
        p->walk.maxlevels = 1000;
        p->dump = stdout;
        p->want_all = p->want_any = 0;
        if (p->wanted != NULL) {
            memset(p->wanted, 0, (size_t)p->npy + 1);
        }
    }
    p->err.msg[0] = '\0';
    return PCR_OK;
}

PCR_API pcr_status
pcr_add_restriction(pcr *p, const char *dir)
{
    return push_str(p, &p->restrict_dirs, &p->nrestrict, dir);
}

PCR_API pcr_status
pcr_set_tar(pcr *p, const char *out, const char *base)
{
    if (set_str(p, &p->tar_out, out) != PCR_OK) {
        return PCR_ENV;
    }
    return set_str(p, &p->tar_base, base);
}

PCR_API pcr_status
pcr_set_wheel(pcr *p, const char *in, const char *out)
{
    if (set_str(p, &p->wheel_in, in) != PCR_OK) {
        return PCR_ENV;
    }
    return set_str(p, &p->wheel_out, out);
}

PCR_API pcr_status
pcr_set_dump_stream(pcr *p, FILE *out)
{
    p->dump = out ? out : stdout;
    return PCR_OK;
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
