/* SPDX-License-Identifier: MIT */
/*
 * marshal_format.h - CPython's marshal format as the front end reads and
 * writes it (Python/marshal.c): type codes under CPython's own names, and
 * the per-version layout of code objects, chosen by the .pyc magic
 * number (marshal_layout.c).  Not installed.
 */
#ifndef PCR_MARSHAL_FORMAT_H
#define PCR_MARSHAL_FORMAT_H

#if !defined(PCR_INTERNAL)
#error "an internal header of pycompile-repro: not installed, not for users"
#endif

#include <stdint.h>

#define TYPE_NULL '0'
#define TYPE_NONE 'N'
#define TYPE_FALSE 'F'
#define TYPE_TRUE 'T'
#define TYPE_STOPITER 'S'
#define TYPE_ELLIPSIS '.'
#define TYPE_INT 'i'
#define TYPE_INT64 'I' /* read, never written since 3.4 */
#define TYPE_FLOAT 'f'
#define TYPE_BINARY_FLOAT 'g'
#define TYPE_COMPLEX 'x'
#define TYPE_BINARY_COMPLEX 'y'
#define TYPE_LONG 'l'
#define TYPE_STRING 's' /* bytes */
#define TYPE_INTERNED 't'
#define TYPE_REF 'r'
#define TYPE_TUPLE '('
#define TYPE_LIST '['
#define TYPE_DICT '{'
#define TYPE_CODE 'c'
#define TYPE_UNICODE 'u'
#define TYPE_SET '<'
#define TYPE_FROZENSET '>'
#define TYPE_ASCII 'a'
#define TYPE_ASCII_INTERNED 'A'
#define TYPE_SMALL_TUPLE ')'
#define TYPE_SHORT_ASCII 'z'
#define TYPE_SHORT_ASCII_INTERNED 'Z'
#define TYPE_SLICE ':'      /* marshal version 5 (3.14) */
#define TYPE_FROZENDICT '}' /* marshal version 6 (3.15) */
#define FLAG_REF 0x80

/* How one CPython series marshals a code object.  fields has one letter
 * per field in stream order: 'i' an int32, 'o' an object. */
typedef struct pcr_layout {
    uint16_t first_magic, last_magic; /* low 16 bits of the magic */
    const char *series;               /* "3.11" */
    int marshal_version;              /* 4, or 5 with slices */
    const char *fields;
    const char *const *names; /* one per field: "co_consts", ... */
    int8_t filename_slot;     /* field numbers, -1 if absent */
    int8_t name_slot;
    int8_t qualname_slot;
    int8_t consts_slot;
    uint32_t name_slots; /* bit per field holding names (co_names, ...) */
} pcr_layout;

/* The layout for a magic number (full 32-bit .pyc value), or NULL. */
const pcr_layout *pcr_layout_for_magic(uint32_t magic);

#endif
