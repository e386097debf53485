/*
 * compile.c - source bytes to canonical marshal data, through CPython's
 * own compile() and marshal, and CPython's own source hash.
 *
 * We call builtins.compile with a bytes object, exactly as importlib's
 * SourceLoader.source_to_code does: CPython then honours the coding
 * cookie and BOM and rejects NUL bytes itself.  (A C-string API such as
 * Py_CompileStringObject would stop at the first NUL.)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>

#include <stdlib.h>
#include <string.h>

#include "interp_private.h"
#include "pcr_private.h"

/*
 * The message py_compile's PyCompileError carries: for syntax errors
 * (SyntaxError and its subclasses IndentationError, TabError) the
 * File/line/caret/message block of traceback.format_exception_only; for
 * anything else "Sorry: TYPE: VALUE".
 */
static pcr_status
compile_error(pcr_error *err)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    pcr_status rc = PCR_FAIL;
    PyObject *lines = NULL, *text = NULL;

    if (type == NULL) {
        rc = pcr_set_error(err, PCR_FAIL, "compile failed");
        goto end;
    }
    if (PyErr_GivenExceptionMatches(type, PyExc_SyntaxError)) {
        PyObject *tbmod = PyImport_ImportModule("traceback");
        if (tbmod != NULL) {
            lines = PyObject_CallMethod(tbmod, "format_exception_only", "OO",
                                        type, value);
            Py_DECREF(tbmod);
        }
        if (lines != NULL) {
            PyObject *empty = PyUnicode_FromString("");
            if (empty != NULL) {
                text = PyUnicode_Join(empty, lines);
                Py_DECREF(empty);
            }
        }
        const char *s = text ? PyUnicode_AsUTF8(text) : NULL;
        if (s != NULL) {
            /* Drop the final newline: the caller ends the line. */
            size_t n = strlen(s);
            while (n > 0 && s[n - 1] == '\n') {
                n--;
            }
            pcr_set_error(err, PCR_FAIL, "%.*s", (int)n, s);
            goto end;
        }
        PyErr_Clear();
    }
    {
        PyObject *vs = value ? PyObject_Str(value) : NULL;
        const char *v = vs ? PyUnicode_AsUTF8(vs) : NULL;
        if (v == NULL) {
            PyErr_Clear();
        }
        pcr_set_error(err, PCR_FAIL, "Sorry: %s: %s",
                      _PyType_Name((PyTypeObject *)type), v ? v : "");
        Py_XDECREF(vs);
    }
end:
    Py_XDECREF(lines);
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return rc;
}

static PyObject *
compile_code(const unsigned char *src, size_t len, const char *dfile,
             int optimize)
{
    PyObject *code = NULL, *args = NULL, *kwargs = NULL;
    PyObject *bytes =
        PyBytes_FromStringAndSize((const char *)src, (Py_ssize_t)len);
    /* The file system decoding (UTF-8, surrogateescape) that os.fsdecode
     * applies to a path given as bytes. */
    PyObject *name = PyUnicode_DecodeFSDefault(dfile);
    if (bytes == NULL || name == NULL) {
        goto end;
    }
    args = Py_BuildValue("(OOs)", bytes, name, "exec");
    kwargs = Py_BuildValue("{s:O,s:i}", "dont_inherit", Py_True, "optimize",
                           optimize);
    if (args == NULL || kwargs == NULL) {
        goto end;
    }
    code = PyObject_Call(pcr_py_compile_fn(), args, kwargs);
end:
    Py_XDECREF(bytes);
    Py_XDECREF(name);
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    return code;
}

pcr_status
pcr_compile_to_marshal(const unsigned char *src, size_t len, const char *dfile,
                       int optimize, pcr_buf *out, pcr_error *err)
{
    out->data = NULL;
    out->len = 0;
    if (!pcr_runtime_ready()) {
        return pcr_set_error(err, PCR_ENV, "Python is not initialised");
    }
    if (len > (size_t)PY_SSIZE_T_MAX) {
        return pcr_set_error(err, PCR_FAIL, "source too large");
    }
    PyObject *code = compile_code(src, len, dfile, optimize);
    if (code == NULL) {
        return compile_error(err);
    }
    PyObject *data = PyMarshal_WriteObjectToString(code, Py_MARSHAL_VERSION);
    Py_DECREF(code);
    if (data == NULL) {
        return compile_error(err);
    }
    char *ptr;
    Py_ssize_t n;
    pcr_status rc = PCR_OK;
    if (PyBytes_AsStringAndSize(data, &ptr, &n) < 0) {
        rc = compile_error(err);
        goto end;
    }
    out->data = malloc(n > 0 ? (size_t)n : 1);
    if (out->data == NULL) {
        rc = pcr_set_error(err, PCR_ENV, "out of memory");
        goto end;
    }
    memcpy(out->data, ptr, (size_t)n);
    out->len = (size_t)n;
    rc = pcr_marshal_canonicalize(out->data, out->len,
                                  pcr_code_layout(pcr_magic_number()), err);
    if (rc != PCR_OK) {
        /* Our own walker rejecting CPython's output is our bug. */
        pcr_buf_free(out);
        rc = PCR_ENV;
    }
end:
    Py_DECREF(data);
    return rc;
}

pcr_status
pcr_source_hash(const unsigned char *src, size_t len, unsigned char out[8],
                pcr_error *err)
{
    if (!pcr_runtime_ready()) {
        return pcr_set_error(err, PCR_ENV, "Python is not initialised");
    }
    /* Wrap the bytes without copying: a memoryview over our buffer. */
    PyObject *view =
        PyMemoryView_FromMemory((char *)src, (Py_ssize_t)len, PyBUF_READ);
    if (view == NULL) {
        return pcr_py_error(err, PCR_FAIL, "source hash");
    }
    PyObject *h = PyObject_CallFunctionObjArgs(pcr_py_source_hash_fn(),
                                               pcr_py_magic_key(), view, NULL);
    Py_DECREF(view);
    if (h == NULL) {
        return pcr_py_error(err, PCR_FAIL, "source hash");
    }
    pcr_status rc = PCR_OK;
    if (!PyBytes_Check(h) || PyBytes_GET_SIZE(h) != 8) {
        rc = pcr_set_error(err, PCR_ENV,
                           "source hash: unexpected result from CPython");
    } else {
        memcpy(out, PyBytes_AS_STRING(h), 8);
    }
    Py_DECREF(h);
    return rc;
}
