/*
 * interp_private.h - what the library's CPython-facing files share.  Only
 * files that include <Python.h> include this one.
 */
#ifndef PCR_INTERP_PRIVATE_H
#define PCR_INTERP_PRIVATE_H

#include <Python.h>

#include "pycompile_repro.h"

/* Describe the pending Python exception in err (and clear it). */
pcr_status pcr_py_error(pcr_error *err, pcr_status status, const char *what);

/* Borrowed references, valid while the runtime is up. */
PyObject *pcr_py_compile_fn(void);
PyObject *pcr_py_source_hash_fn(void);
PyObject *pcr_py_magic_key(void);

#endif
