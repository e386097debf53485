/* SPDX-License-Identifier: MIT */
/*
 * marshal_layout.c - how each CPython series marshals a code object
 * (Python/marshal.c, TYPE_CODE), keyed by the .pyc magic number, with
 * what else differs between series (flags).  With the type-code table
 * (marshal_types.c) it is the one place that knows versions: the walker,
 * the canonicaliser, the source hash, the diff and the dump read them.
 *
 * Magic ranges cover each series' pre-releases.  Field lists were checked
 * by parsing the standard library of 3.11, 3.13, 3.14 and 3.15 to the last
 * byte (tests/parity).
 */
#include <stddef.h>

#include "marshal_format.h"

static const char *const names_37[] = {
    "co_argcount", "co_kwonlyargcount", "co_nlocals",  "co_stacksize",
    "co_flags",    "co_code",           "co_consts",   "co_names",
    "co_varnames", "co_freevars",       "co_cellvars", "co_filename",
    "co_name",     "co_firstlineno",    "co_lnotab"};
static const char *const names_38[] = {
    "co_argcount",       "co_posonlyargcount",
    "co_kwonlyargcount", "co_nlocals",
    "co_stacksize",      "co_flags",
    "co_code",           "co_consts",
    "co_names",          "co_varnames",
    "co_freevars",       "co_cellvars",
    "co_filename",       "co_name",
    "co_firstlineno",    "co_lnotab"};
static const char *const names_310[] = {
    "co_argcount",       "co_posonlyargcount",
    "co_kwonlyargcount", "co_nlocals",
    "co_stacksize",      "co_flags",
    "co_code",           "co_consts",
    "co_names",          "co_varnames",
    "co_freevars",       "co_cellvars",
    "co_filename",       "co_name",
    "co_firstlineno",    "co_linetable"};
static const char *const names_311[] = {
    "co_argcount",        "co_posonlyargcount", "co_kwonlyargcount",
    "co_stacksize",       "co_flags",           "co_code",
    "co_consts",          "co_names",           "co_localsplusnames",
    "co_localspluskinds", "co_filename",        "co_name",
    "co_qualname",        "co_firstlineno",     "co_linetable",
    "co_exceptiontable"};

#define BIT(n) (1u << (n))
/* 3.7: names, varnames, freevars, cellvars */
#define NAMES_37 (BIT(7) | BIT(8) | BIT(9) | BIT(10))
#define NAMES_38 (BIT(8) | BIT(9) | BIT(10) | BIT(11))
/* 3.11+: co_names, co_localsplusnames */
#define NAMES_311 (BIT(7) | BIT(8))

static const pcr_layout layouts[] = {
    {3390, 3399, "3.7", 4, "iiiiiooooooooio", names_37, 11, 12, -1, 6,
     NAMES_37, 0},
    {3400, 3419, "3.8", 4, "iiiiiiooooooooio", names_38, 12, 13, -1, 7,
     NAMES_38, 0},
    {3420, 3429, "3.9", 4, "iiiiiiooooooooio", names_38, 12, 13, -1, 7,
     NAMES_38, 0},
    {3430, 3449, "3.10", 4, "iiiiiiooooooooio", names_310, 12, 13, -1, 7,
     NAMES_38, 0},
    {3450, 3499, "3.11", 4, "iiiiiooooooooioo", names_311, 10, 11, 12, 6,
     NAMES_311, PCR_LAYOUT_SIPHASH13},
    {3500, 3549, "3.12", 4, "iiiiiooooooooioo", names_311, 10, 11, 12, 6,
     NAMES_311, PCR_LAYOUT_SIPHASH13 | PCR_LAYOUT_CO_NAME_INTERNED},
    {3550, 3599, "3.13", 4, "iiiiiooooooooioo", names_311, 10, 11, 12, 6,
     NAMES_311, PCR_LAYOUT_SIPHASH13 | PCR_LAYOUT_CO_NAME_INTERNED},
    {3600, 3649, "3.14", 5, "iiiiiooooooooioo", names_311, 10, 11, 12, 6,
     NAMES_311, PCR_LAYOUT_SIPHASH13 | PCR_LAYOUT_CO_NAME_INTERNED},
    {3650, 3699, "3.15", 6, "iiiiiooooooooioo", names_311, 10, 11, 12, 6,
     NAMES_311, PCR_LAYOUT_SIPHASH13 | PCR_LAYOUT_CO_NAME_INTERNED},
};

const pcr_layout *
pcr_layout_for_magic(uint32_t magic)
{
    if ((magic >> 16) != 0x0a0d) {
        return NULL;
    }
    uint16_t m = (uint16_t)(magic & 0xffff);
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
        if (m >= layouts[i].first_magic && m <= layouts[i].last_magic) {
            return &layouts[i];
        }
    }
    return NULL;
}
