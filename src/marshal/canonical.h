/* SPDX-License-Identifier: MIT */
/*
 * canonical.h - the canonical form of marshal data (canonical.c), version
 * PCR_CANONICAL_FORM; the rules and the measurements behind them are in
 * docs/canonical-form.md.  Not installed.
 */
#ifndef PCR_CANONICAL_H
#define PCR_CANONICAL_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include "marshal_format.h"
#include "marshal_tree.h"
#include "common.h"

#define PCR_CANONICAL_FORM 2

/* Re-serialise marshal data (one object, as a .pyc body) in the
 * canonical form.  layout: from the .pyc's magic number.  out is
 * malloc'd.  PCR_FAIL for data that is not valid marshal or cannot be
 * canonicalised (the message says why). */
pcr_status pcr_canonicalize(const unsigned char *data, size_t len,
                            const pcr_layout *layout, pcr_buf *out,
                            pcr_error *err);

/* The same, for data already parsed into tree (with the same layout). */
pcr_status pcr_canonicalize_tree(const unsigned char *data, size_t len,
                                 const pcr_layout *layout,
                                 const pcr_mtree *tree, pcr_buf *out,
                                 pcr_error *err);

#endif
