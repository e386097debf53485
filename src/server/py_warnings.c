/* SPDX-License-Identifier: MIT */
/* py_warnings.c - CPython's warnings while compiling (SyntaxWarning, ...)
 * caught per request instead of printed. */
#include "server_private.h"

#include <stdlib.h>
#include <string.h>

static PyObject *warnings_sink; /* io.StringIO standing in for stderr */

/* Warnings are written to sys.stderr by the warnings machinery; a
 * StringIO there lets each reply carry its own file's warnings. */
pcr_status
srv_capture_warnings(pcr_error *err)
{
    PyObject *io = PyImport_ImportModule("io");
    PyObject *cls = io ? PyObject_GetAttrString(io, "StringIO") : NULL;
    Py_XDECREF(io);
    if (cls == NULL) {
        return srv_py_error(err, PCR_ENV, "cannot start Python");
    }
    warnings_sink = PyObject_CallNoArgs(cls);
    Py_DECREF(cls);
    if (warnings_sink == NULL ||
        PySys_SetObject("stderr", warnings_sink) != 0) {
        return srv_py_error(err, PCR_ENV, "cannot start Python");
    }
    return PCR_OK;
}

char *
srv_take_warnings(void)
{
    PyObject *v = PyObject_CallMethod(warnings_sink, "getvalue", NULL);
    const char *s = v ? PyUnicode_AsUTF8(v) : NULL;
    char *out = strdup(s ? s : "");
    if (s != NULL && s[0] != '\0') {
        PyObject *r = PyObject_CallMethod(warnings_sink, "seek", "i", 0);
        Py_XDECREF(r);
        r = PyObject_CallMethod(warnings_sink, "truncate", NULL);
        Py_XDECREF(r);
    }
    Py_XDECREF(v);
    PyErr_Clear();
    return out;
}
