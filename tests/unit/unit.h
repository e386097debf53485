/* SPDX-License-Identifier: MIT */
/* unit.h - shared helpers for the Criterion unit tests.  They link the
 * static library and see its private headers (src/common, src/marshal,
 * src/lib). */
#ifndef PCR_UNIT_H
#define PCR_UNIT_H

#include <criterion/criterion.h>

#include "handle.h"

/* The magic numbers of the series the tests build streams for. */
#define MAGIC_311 0x0a0d0da7u /* 3495 */
#define MAGIC_314 0x0a0d0e2bu /* 3627 */

#endif
