/*
 * marshal_layout.c - how each CPython version marshals a code object
 * (Python/marshal.c, TYPE_CODE), chosen by the .pyc magic number.
 *
 * A layout is a string with one letter per field: 'i' an int32, 'o' an
 * object.  Magic numbers within a release series share a layout; the
 * ranges cover the pre-releases of each series.
 */
#include <stddef.h>

#include "pcr_private.h"

struct layout {
    uint16_t first_magic, last_magic; /* low 16 bits of the magic */
    const char *fields;
    const char *const *names;
};

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

static const struct layout layouts[] = {
    {3390, 3399, "iiiiiooooooooio", names_37},   /* 3.7 */
    {3400, 3429, "iiiiiiooooooooio", names_38},  /* 3.8, 3.9 */
    {3430, 3449, "iiiiiiooooooooio", names_310}, /* 3.10 */
    {3450, 3599, "iiiiiooooooooioo", names_311}, /* 3.11 - 3.13 */
};

static const struct layout *
find(uint32_t magic)
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

const char *
pcr_code_layout(uint32_t magic)
{
    const struct layout *l = find(magic);
    return l ? l->fields : NULL;
}

const char *
pcr_code_field_name(uint32_t magic, unsigned i)
{
    const struct layout *l = find(magic);
    if (l == NULL) {
        return NULL;
    }
    size_t n = 0;
    while (l->fields[n] != '\0') {
        n++;
    }
    return i < n ? l->names[i] : NULL;
}
