/* SPDX-License-Identifier: MIT */
/*
 * marshal_types.c - the type codes of CPython's marshal format
 * (Python/marshal.c), one row each (marshal_format.h): the walker checks
 * a code against the version it came with, the canonicaliser asks which
 * values may be shared, the dump names them.
 */
#include <stddef.h>

#include "marshal_format.h"

static const pcr_mtype types[] = {
    {TYPE_NULL, "NULL", PCR_MK_NULL, 0, 0, 0},
    {TYPE_NONE, "None", PCR_MK_SINGLETON, 0, 1, 0},
    {TYPE_FALSE, "False", PCR_MK_SINGLETON, 0, 1, 0},
    {TYPE_TRUE, "True", PCR_MK_SINGLETON, 0, 1, 0},
    {TYPE_STOPITER, "StopIteration", PCR_MK_SINGLETON, 0, 1, 0},
    {TYPE_ELLIPSIS, "Ellipsis", PCR_MK_SINGLETON, 0, 1, 0},
    {TYPE_INT, "int32", PCR_MK_NUMBER, 0, 1, 0},
    {TYPE_INT64, "int64", PCR_MK_NUMBER, 0, 1, 0},
    {TYPE_FLOAT, "float", PCR_MK_NUMBER, 0, 1, 0},
    {TYPE_BINARY_FLOAT, "float", PCR_MK_NUMBER, 1, 1, 0},
    {TYPE_COMPLEX, "complex", PCR_MK_NUMBER, 0, 1, 0},
    {TYPE_BINARY_COMPLEX, "complex", PCR_MK_NUMBER, 1, 1, 0},
    {TYPE_LONG, "long", PCR_MK_NUMBER, 0, 1, 0},
    {TYPE_STRING, "bytes", PCR_MK_BYTES, 0, 1, 0},
    {TYPE_INTERNED, "str (interned)", PCR_MK_STR, 1, 1, 0},
    {TYPE_REF, "ref", PCR_MK_REF, 3, 0, 0},
    {TYPE_TUPLE, "tuple", PCR_MK_SEQUENCE, 0, 1, 0},
    {TYPE_SMALL_TUPLE, "small tuple", PCR_MK_SEQUENCE, 4, 1, 0},
    {TYPE_LIST, "list", PCR_MK_SEQUENCE, 0, 0, 0},
    {TYPE_SET, "set", PCR_MK_SEQUENCE, 2, 0, 0},
    {TYPE_FROZENSET, "frozenset", PCR_MK_SEQUENCE, 2, 1, 1},
    {TYPE_DICT, "dict", PCR_MK_MAPPING, 0, 0, 0},
    {TYPE_FROZENDICT, "frozendict", PCR_MK_MAPPING, 6, 1, 1},
    {TYPE_UNICODE, "str", PCR_MK_STR, 0, 1, 0},
    {TYPE_ASCII, "ascii", PCR_MK_STR, 4, 1, 0},
    {TYPE_ASCII_INTERNED, "ascii (interned)", PCR_MK_STR, 4, 1, 0},
    {TYPE_SHORT_ASCII, "short ascii", PCR_MK_STR, 4, 1, 0},
    {TYPE_SHORT_ASCII_INTERNED, "short ascii (interned)", PCR_MK_STR, 4, 1, 0},
    {TYPE_SLICE, "slice", PCR_MK_SLICE, 5, 1, 1},
    {TYPE_CODE, "code", PCR_MK_CODE, 0, 0, 1},
};

const pcr_mtype *
pcr_mtype_of(unsigned code)
{
    code &= ~(unsigned)FLAG_REF;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (types[i].code == code) {
            return &types[i];
        }
    }
    return NULL;
}
