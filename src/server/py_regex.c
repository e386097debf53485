/* SPDX-License-Identifier: MIT */
/*
 * py_regex.c - compileall's -x: a Python regular expression searched in
 * each path, evaluated by CPython's own re module so that the pattern
 * language is exactly compileall's.  The front end asks a server that
 * compiles nothing else, so importing re changes no compile.
 */
#include "server_private.h"

pcr_status
srv_regex_search(const char *pattern, size_t plen, const char *const *paths,
                 const size_t *lens, size_t n, unsigned char *matches,
                 pcr_error *err)
{
    PyObject *re = PyImport_ImportModule("re");
    if (re == NULL) {
        return srv_py_error(err, PCR_ENV, "cannot import re");
    }
    PyObject *pat =
        PyUnicode_DecodeFSDefaultAndSize(pattern, (Py_ssize_t)plen);
    PyObject *compiled =
        pat ? PyObject_CallMethod(re, "compile", "O", pat) : NULL;
    Py_XDECREF(pat);
    Py_DECREF(re);
    if (compiled == NULL) {
        /* A bad pattern is the user's mistake, not the machine's. */
        return srv_py_error(err, PCR_FAIL, "invalid regular expression");
    }
    PyObject *search = PyObject_GetAttrString(compiled, "search");
    Py_DECREF(compiled);
    if (search == NULL) {
        return srv_py_error(err, PCR_FAIL, "invalid regular expression");
    }
    pcr_status rc = PCR_OK;
    for (size_t i = 0; i < n; i++) {
        PyObject *s =
            PyUnicode_DecodeFSDefaultAndSize(paths[i], (Py_ssize_t)lens[i]);
        PyObject *m = s ? PyObject_CallOneArg(search, s) : NULL;
        Py_XDECREF(s);
        if (m == NULL) {
            rc = srv_py_error(err, PCR_FAIL, "regular expression");
            break;
        }
        matches[i] = m != Py_None;
        Py_DECREF(m);
    }
    Py_DECREF(search);
    return rc;
}
