/* SPDX-License-Identifier: MIT */
/*
 * paths.h - importlib's cache paths, the recorded file name (compileall's
 * -d/-s/-p) and lexical path helpers (paths.c).
 */
#ifndef PCR_PATHS_H
#define PCR_PATHS_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "common.h"

/* importlib.util.cache_from_source(path, optimization=level or '') for
 * this cache tag. */
char *pcr_cache_path(const char *source, const char *tag, int optimize);
/* The same with sys.pycache_prefix set, as importlib computes it:
 * PREFIX/ABSDIR/NAME.TAG[.opt-N].pyc, ABSDIR the source's directory made
 * absolute with cwd (os.getcwd()) textually, its leading slashes off. */
char *pcr_prefix_cache_path(const char *prefix, const char *cwd,
                            const char *source, const char *tag, int optimize);
/* The name recorded in code objects (compileall's -d/-s/-p). */
char *pcr_record_name(const char *source, const char *relpath,
                      const char *ddir, const char *strip,
                      const char *prepend);
/* s ends with suffix (possibly all of it). */
int pcr_ends_with(const char *s, const char *suffix);
/* path made absolute with cwd (the run's working directory) and
 * normalised lexically (no ".", "..", repeated or trailing slashes;
 * symlinks not resolved): "/" becomes "".  NULL when out of memory. */
char *pcr_absolute_path(const char *cwd, const char *path);
/* dir + "/" + name (no slash added after one), malloc'd; NULL when out of
 * memory. */
char *pcr_path_join(const char *dir, const char *name);

#endif
