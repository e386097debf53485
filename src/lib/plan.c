/* SPDX-License-Identifier: MIT */
/*
 * plan.c - a run's plan, made from the handle's settings when pcr_run
 * starts (plan.h): the levels (level 0 when none were asked for), the
 * servers per round (-j 0: the CPUs shared among --verify's rounds), the
 * directory restrictions made absolute, the versions asked for as
 * indices, and the working directory, read once per run so that a caller
 * that changes directory between runs is served right.
 */
#define _GNU_SOURCE /* get_current_dir_name */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handle.h"
#include "paths.h"

/* -j 0: one server per CPU, shared among the --verify rounds (four
 * servers on two CPUs took 15% more CPU than two, caches thrashing). */
static int
servers_per_round(int workers, int rounds)
{
    if (workers > 0) {
        return workers;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    int cpus = n > 0 ? (int)n : 1;
    return cpus / rounds > 1 ? cpus / rounds : 1;
}

void
pcr_plan_free(pcr_plan *plan)
{
    for (size_t i = 0; i < plan->nrestrict; i++) {
        free(plan->restrict_dirs[i]);
    }
    free(plan->restrict_dirs);
    free(plan->want);
    free(plan->cwd);
    free(plan->phys_cwd);
    memset(plan, 0, sizeof *plan);
}

/* The versions asked for, as indices into the servers found. */
static pcr_status
resolve_pythons(const pcr_settings *s, pcr_plan *plan, pcr_error *err)
{
    if (s->npythons == 0) {
        return PCR_OK;
    }
    plan->want = calloc((size_t)plan->py->n + 1, 1);
    if (plan->want == NULL) {
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    for (size_t k = 0; k < s->npythons; k++) {
        int i = pcr_python_by_series(plan->py, s->pythons[k]);
        if (i < 0) {
            return pcr_set_error(err, PCR_ENV,
                                 "no compile server for CPython %s here",
                                 s->pythons[k]);
        }
        plan->want[i] = 1;
    }
    return PCR_OK;
}

pcr_status
pcr_plan_make(pcr *p, pcr_verb verb, pcr_plan *plan, pcr_error *err)
{
    const pcr_settings *s = &p->set;
    memset(plan, 0, sizeof *plan);
    plan->verb = verb;
    plan->target = s->wheel_in  ? PCR_TARGET_WHEEL
                   : s->tar_out ? PCR_TARGET_TAR
                                : PCR_TARGET_TREE;
    plan->nlevels = s->nlevels ? s->nlevels : 1;
    memcpy(plan->levels, s->levels, sizeof plan->levels);
    if (s->nlevels == 0) {
        plan->levels[0] = 0;
    }
    plan->mode = s->mode;
    plan->mode_set = s->mode_set;
    plan->ddir = s->ddir;
    plan->strip = s->strip;
    plan->prepend = s->prepend;
    plan->force = s->force;
    plan->legacy = s->legacy;
    plan->hardlink_dupes = s->hardlink_dupes;
    plan->include_sources = s->include_sources;
    plan->sourceless = s->sourceless;
    plan->no_verify_record = s->no_verify_record;
    plan->clamp_mtime = s->clamp_mtime;
    plan->all_tags = s->all_tags;
    plan->canonicalize_existing = s->canonicalize_existing;
    plan->allow_no_compiler = s->allow_no_compiler;
    plan->rounds = s->verify > 1 ? s->verify : 1;
    plan->servers = servers_per_round(s->workers, plan->rounds);
    plan->memory_limit = s->memory_limit;
    plan->epoch = s->epoch;
    plan->walk.maxlevels = s->maxlevels;
    plan->walk.limit_sl_dest = s->limit_sl_dest;
    plan->walk.suffix = ".py";
    plan->exclude = s->exclude;
    plan->operands = s->operands;
    plan->noperands = s->noperands;
    plan->tar_out = s->tar_out;
    plan->tar_base = s->tar_base;
    plan->wheel_in = s->wheel_in;
    plan->wheel_out = s->wheel_out;
    plan->dump = s->dump ? s->dump : stdout;
    plan->py = &p->py;
    plan->want_all = s->want_all;
    plan->only_py = -1;
    plan->cache = p->cache;
    /* the working directory, read now: relative paths are resolved
     * against it (-p restrictions, lib/pythonX.Y/ paths, tar names) */
    plan->cwd = get_current_dir_name();
    if (plan->cwd == NULL) {
        /* removed, or out of reach: never guess another directory */
        return pcr_set_errno(err, PCR_ENV, errno,
                             "cannot tell the working directory");
    }
    if (s->pycache_prefix != NULL && !s->legacy &&
        plan->target == PCR_TARGET_TREE) {
        plan->pycache_prefix = s->pycache_prefix;
        plan->phys_cwd = getcwd(NULL, 0);
        if (plan->phys_cwd == NULL) {
            return pcr_set_errno(err, PCR_ENV, errno,
                                 "cannot tell the working directory");
        }
    }
    if (s->nrestrict > 0) {
        plan->restrict_dirs =
            calloc(s->nrestrict, sizeof *plan->restrict_dirs);
        if (plan->restrict_dirs == NULL) {
            return pcr_set_error(err, PCR_ENV, "out of memory");
        }
        for (size_t k = 0; k < s->nrestrict; k++) {
            plan->restrict_dirs[k] =
                pcr_absolute_path(plan->cwd, s->restrict_dirs[k]);
            if (plan->restrict_dirs[k] == NULL) {
                return pcr_set_error(err, PCR_ENV, "out of memory");
            }
            plan->nrestrict++;
        }
    }
    return resolve_pythons(s, plan, err);
}
