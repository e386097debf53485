/* SPDX-License-Identifier: MIT */
/*
 * pythons.h - the CPython versions there are: one compile server each,
 * found in a directory (pythons.c), with what each said in its hello;
 * and which of them compiles a given source.
 */
#ifndef PCR_PYTHONS_H
#define PCR_PYTHONS_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include "common.h"
#include "plan.h"

/* Versions one source is compiled for, and servers a directory may hold
 * (cpython-3.0 to cpython-3.99 at most). */
#define PCR_MAX_PY 100

typedef struct pcr_python {
    char series[8]; /* "3.13", from the server's name */
    char tag[16];   /* "cpython-313" (checked against its hello) */
    char *path;
    /* from its hello (engine.c), or from the cache's record of an earlier
     * hello of the same files (identified, until a hello confirms it) */
    int started;
    int identified;
    uint32_t magic;
    int canonical_form;
    char version[32];
    char *build; /* sys.version: the exact build */
    char *lib;   /* the libpython it loaded ("" unknown), and that file's */
    uint64_t lib_id[PCR_FILE_ID_WORDS]; /* identity at the hello; */
    char *exe;                          /* the program that ran, and its */
    uint64_t exe_id[PCR_FILE_ID_WORDS];
} pcr_python;

struct pcr_pythons {
    pcr_python *v;
    int n;
    int default_py; /* /usr/bin/python3's, else the newest; -1: none */
    char *dir;      /* where they were found */
};

/* Find the servers in dir (NULL: PYCOMPILE_REPRO_SERVER_DIR, beside the
 * program, LIBEXECDIR), replacing whatever t held.  PCR_ENV with a message
 * when there is none. */
pcr_status pcr_pythons_discover(pcr_pythons *t, const char *dir,
                                pcr_error *err);
void pcr_pythons_clear(pcr_pythons *t);
/* Index of "X.Y" (strict: canonical digits), or -1. */
int pcr_python_by_series(const pcr_pythons *t, const char *series);
/* Index of the python whose cache tag is tag, or -1. */
int pcr_python_by_tag(const pcr_pythons *t, const char *tag, size_t len);
/* "3.13" -> 3, 13 when the text is exactly a series (no sign, space or
 * leading zero); else 0. */
int pcr_parse_series(const char *s, size_t n, int *major, int *minor);

/* The versions source path is compiled for under plan: out[] gets python
 * indices (*n of them).  PCR_FAIL with a message when the path asks for a
 * version (lib/pythonX.Y/) that has no server. */
pcr_status pcr_versions_for(const pcr_plan *plan, const char *path, int *out,
                            int *n, pcr_error *err);

#endif
