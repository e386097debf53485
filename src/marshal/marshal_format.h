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

/* What a type code is (marshal_types.c): one row per code, the one place
 * that says which codes exist, since which marshal version, and whether
 * equal values of it may be shared by the canonical form. */
typedef enum pcr_mkind {
    PCR_MK_NULL,      /* '0': ends a dict */
    PCR_MK_SINGLETON, /* None, False, True, StopIteration, Ellipsis */
    PCR_MK_REF,       /* a back-reference */
    PCR_MK_NUMBER,    /* int, long, float, complex */
    PCR_MK_BYTES,
    PCR_MK_STR,
    PCR_MK_SEQUENCE, /* tuple, list, set, frozenset */
    PCR_MK_MAPPING,  /* dict, frozendict: pairs, then NULL */
    PCR_MK_SLICE,    /* three objects */
    PCR_MK_CODE
} pcr_mkind;

typedef struct pcr_mtype {
    unsigned char code;
    const char *name; /* for people: "short ascii (interned)" */
    pcr_mkind kind;
    int8_t since_version;   /* the marshal version that brought it */
    unsigned mergeable : 1; /* immutable: equal values may be one object */
    unsigned reserves : 1;  /* CPython's reader reserves its reference
                               before reading its contents */
} pcr_mtype;

/* The row of a type code (FLAG_REF cleared), or NULL if none. */
const pcr_mtype *pcr_mtype_of(unsigned code);

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
    unsigned flags;      /* PCR_LAYOUT_* */
} pcr_layout;

/* What differs between series besides the code object's fields. */
#define PCR_LAYOUT_CO_NAME_INTERNED 1u /* every co_name interned (3.12+) */
#define PCR_LAYOUT_SIPHASH13                                                  \
    2u /* source hash SipHash-1-3 (3.11+; before:                             \
          SipHash-2-4, asked of the server) */

/* The layout for a magic number (full 32-bit .pyc value), or NULL. */
const pcr_layout *pcr_layout_for_magic(uint32_t magic);

#endif
