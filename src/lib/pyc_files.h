/* SPDX-License-Identifier: MIT */
/*
 * pyc_files.h - .pyc files as the verbs meet them (pyc_files.c): where
 * one goes, the header we would write, reading one back.
 */
#ifndef PCR_PYC_FILES_H
#define PCR_PYC_FILES_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "files.h"
#include "plan.h"
#include "pyc.h"
#include "pythons.h"

/* Where the .pyc of source goes for this Python and level: the cache
 * path (below the pycache prefix when one is set), or SOURCEc with -b. */
char *pcr_output_path(const pcr_plan *plan, const pcr_pythons *t,
                      const char *source, int py, int level);

/* The directory holding the .pyc of source (not -b), with a trailing
 * slash, as pcr_output_path names it: DIR/__pycache__/ (__pycache__/ for
 * a bare name), or its place below the pycache prefix. */
char *pcr_pyc_dir(const pcr_plan *plan, const char *source);

/* The header for a source: mtime and size (TIMESTAMP) or the hash. */
void pcr_make_header(const pcr_plan *plan, const pcr_pythons *t, int py,
                     const pcr_source *src, const unsigned char hash[8],
                     unsigned char out[PCR_HEADER_SIZE]);

/* Read an existing .pyc: PCR_OK with the bytes, PCR_FAIL with *missing set
 * when there is none, PCR_FAIL with a message when it cannot be read. */
pcr_status pcr_read_pyc(const char *path, pcr_buf *out, int *missing,
                        pcr_error *err);

#endif
