/* SPDX-License-Identifier: MIT */
/*
 * server_private.h - what the compile server's files share.  The server
 * (cpython-X.Y) is the only program that includes <Python.h>; the front
 * end never links libpython.
 */
#ifndef PCR_SERVER_PRIVATE_H
#define PCR_SERVER_PRIVATE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "common.h"
#include "protocol.h"

/* py_runtime.c: the embedded interpreter, started once from an isolated
 * configuration with this hash seed. */
pcr_status srv_runtime_init(unsigned long hash_seed, pcr_error *err);
pcr_status srv_runtime_fini(pcr_error *err);
uint32_t srv_magic(void);
const char *srv_cache_tag(void);
const char *srv_version(void); /* "3.13.5" */
/* The name the loader opened libpython by (the server's own when
 * libpython is linked in statically) and that file's identity
 * (pcr_file_id), which must be the mapped file's; and the program's.
 * path "" when unknown, deleted since, no longer the file mapped, or when
 * a search path or the environment steers the loader (py_runtime.c). */
typedef struct srv_lib {
    char path[4096];
    uint64_t id[PCR_FILE_ID_WORDS];
    char exe[4096]; /* and the program running, "" with path */
    uint64_t exe_id[PCR_FILE_ID_WORDS];
} srv_lib;
void srv_libpython(srv_lib *lib);
/* py_memory.c: count allocations (all domains with the raw allocator of
 * leak-checked runs), before the interpreter starts.  Memory the
 * interpreter may allocate beyond what it held at start-up,
 * and whether the last failure was that limit (then reset). */
void srv_memory_install(int all_domains);
void srv_set_memory_limit(size_t bytes);
int srv_memory_limit_hit(void);
size_t srv_memory_limit(void);

/* py_error.c: describe the pending Python exception in err (and clear it). */
pcr_status srv_py_error(pcr_error *err, pcr_status status, const char *what);

/* py_compile.c: compile + marshal + canonicalise, one source, several
 * levels; and CPython's source hash. */
pcr_status srv_source_object(const unsigned char *src, size_t len,
                             PyObject **out, pcr_error *err);
pcr_status srv_compile(PyObject *source, const char *name, int optimize,
                       pcr_buf *out, pcr_error *err);
pcr_status srv_source_hash(const unsigned char *src, size_t len,
                           unsigned char out[8], pcr_error *err);
/* py_warnings.c: warnings CPython printed while compiling (SyntaxWarning,
 * ...), taken and cleared: a malloc'd string, possibly empty. */
char *srv_take_warnings(void);
pcr_status srv_capture_warnings(pcr_error *err);

/* py_regex.c: compileall's -x, a Python regular expression searched in
 * each path; matches[i] = 1 where found. */
pcr_status srv_regex_search(const char *pattern, size_t plen,
                            const char *const *paths, const size_t *lens,
                            size_t n, unsigned char *matches, pcr_error *err);

#endif
