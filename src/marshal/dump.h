/* SPDX-License-Identifier: MIT */
/* dump.h - a .pyc printed for people: header, then the marshal tree with
 * offsets, FLAG_REF marks and references (dump.c).  Not installed. */
#ifndef PCR_DUMP_H
#define PCR_DUMP_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include <stdio.h>

#include "common.h"

pcr_status pcr_dump_pyc(FILE *out, const unsigned char *data, size_t len,
                        pcr_error *err);

#endif
