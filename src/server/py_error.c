/* SPDX-License-Identifier: MIT */
/* py_error.c - a pending Python exception described in a pcr_error. */
#include "server_private.h"

pcr_status
srv_py_error(pcr_error *err, pcr_status status, const char *what)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    const char *tname = type ? ((PyTypeObject *)type)->tp_name : "error";
    PyObject *s = value ? PyObject_Str(value) : NULL;
    const char *text = s ? PyUnicode_AsUTF8(s) : NULL;
    if (text == NULL) {
        PyErr_Clear();
        text = "(no message)";
    }
    pcr_set_error(err, status, "%s: %s: %s", what, tname, text);
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return status;
}
