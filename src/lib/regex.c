/*
 * regex.c - compileall's -x: a Python regular expression searched in each
 * path.  Evaluated by the embedded interpreter's own re module, so the
 * pattern language is exactly compileall's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>

#include "interp_private.h"
#include "pcr_private.h"

struct pcr_regex {
    PyObject *search; /* bound method pattern.search */
};

pcr_status
pcr_regex_compile(const char *pattern, pcr_regex **out, pcr_error *err)
{
    *out = NULL;
    if (!pcr_runtime_ready()) {
        return pcr_set_error(err, PCR_ENV, "Python is not initialised");
    }
    PyObject *re = PyImport_ImportModule("re");
    if (re == NULL) {
        return pcr_py_error(err, PCR_ENV, "cannot import re");
    }
    PyObject *pat = PyUnicode_DecodeFSDefault(pattern);
    PyObject *compiled =
        pat ? PyObject_CallMethod(re, "compile", "O", pat) : NULL;
    Py_XDECREF(pat);
    Py_DECREF(re);
    if (compiled == NULL) {
        return pcr_py_error(err, PCR_ENV, "invalid regular expression");
    }
    pcr_regex *rx = malloc(sizeof *rx);
    if (rx == NULL) {
        Py_DECREF(compiled);
        return pcr_set_error(err, PCR_ENV, "out of memory");
    }
    rx->search = PyObject_GetAttrString(compiled, "search");
    Py_DECREF(compiled);
    if (rx->search == NULL) {
        free(rx);
        return pcr_py_error(err, PCR_ENV, "invalid regular expression");
    }
    *out = rx;
    return PCR_OK;
}

int
pcr_regex_search(const pcr_regex *rx, const char *text)
{
    PyObject *s = PyUnicode_DecodeFSDefault(text);
    PyObject *m = s ? PyObject_CallOneArg(rx->search, s) : NULL;
    Py_XDECREF(s);
    if (m == NULL) {
        PyErr_Clear();
        return 0;
    }
    int found = m != Py_None;
    Py_DECREF(m);
    return found;
}

void
pcr_regex_free(pcr_regex *rx)
{
    if (rx != NULL) {
        if (Py_IsInitialized()) {
            Py_XDECREF(rx->search);
        }
        free(rx);
    }
}
