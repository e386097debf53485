/* SPDX-License-Identifier: MIT */
/*
 * py_compile.c - source bytes to canonical marshal data, through CPython's
 * own compile() and marshal, and CPython's own source hash.
 *
 * We call builtins.compile with a bytes object, exactly as importlib's
 * SourceLoader.source_to_code does: CPython then honours the coding
 * cookie and BOM and rejects NUL bytes itself.  (A C-string API such as
 * Py_CompileStringObject would stop at the first NUL.)
 */
#include "server_private.h"

#include <marshal.h>
#include <stdlib.h>
#include <string.h>

#include "canonical.h"

static PyObject *builtin_compile; /* builtins.compile */
static PyObject *source_hash_fn;  /* _imp.source_hash */
static PyObject *magic_key;       /* int: the source hash key */

static pcr_status
lookup(const char *module, const char *name, PyObject **out, pcr_error *err)
{
    if (*out != NULL) {
        return PCR_OK;
    }
    PyObject *mod = PyImport_ImportModule(module);
    if (mod == NULL) {
        return srv_py_error(err, PCR_ENV, "cannot start Python");
    }
    *out = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    if (*out == NULL) {
        return srv_py_error(err, PCR_ENV, "cannot start Python");
    }
    return PCR_OK;
}

/*
 * The message py_compile's PyCompileError carries: for syntax errors
 * (SyntaxError and its subclasses IndentationError, TabError) the
 * File/line/caret/message block of traceback.format_exception_only; for
 * anything else "Sorry: TYPE: VALUE".  A MemoryError caused by our own
 * budget says so.
 */
static pcr_status
compile_error(pcr_error *err)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    pcr_status rc = PCR_FAIL;
    PyObject *lines = NULL, *text = NULL;

    /* CPython raises MemoryError itself for some deep sources (py_compile
     * says "Sorry: MemoryError"); only our budget gets our message. */
    if (srv_memory_limit_hit()) {
        pcr_set_error(err, PCR_FAIL,
                      "compiling it needs more memory than the limit of "
                      "%zu MiB per source (--memory-limit)",
                      srv_memory_limit() >> 20);
        goto end;
    }
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
        PyObject *name = PyType_GetName((PyTypeObject *)type);
        PyObject *vs = value ? PyObject_Str(value) : NULL;
        const char *n = name ? PyUnicode_AsUTF8(name) : NULL;
        const char *v = vs ? PyUnicode_AsUTF8(vs) : NULL;
        PyErr_Clear();
        pcr_set_error(err, PCR_FAIL, "Sorry: %s: %s", n ? n : "Error",
                      v ? v : "");
        Py_XDECREF(name);
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
compile_code(PyObject *bytes, const char *dfile, int optimize)
{
    PyObject *code = NULL, *args = NULL, *kwargs = NULL;
    /* The file system decoding (UTF-8, surrogateescape) that os.fsdecode
     * applies to a path given as bytes. */
    PyObject *name = PyUnicode_DecodeFSDefault(dfile);
    if (name == NULL) {
        goto end;
    }
    args = Py_BuildValue("(OOs)", bytes, name, "exec");
    kwargs = Py_BuildValue("{s:O,s:i}", "dont_inherit", Py_True, "optimize",
                           optimize);
    if (args == NULL || kwargs == NULL) {
        goto end;
    }
    code = PyObject_Call(builtin_compile, args, kwargs);
end:
    Py_XDECREF(name);
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    return code;
}

pcr_status
srv_source_object(const unsigned char *src, size_t len, PyObject **out,
                  pcr_error *err)
{
    if (len > (size_t)PY_SSIZE_T_MAX) {
        return pcr_set_error(err, PCR_FAIL, "source too large");
    }
    *out = PyBytes_FromStringAndSize((const char *)src, (Py_ssize_t)len);
    return *out != NULL ? PCR_OK : compile_error(err);
}

pcr_status
srv_compile(PyObject *source, const char *dfile, int optimize, pcr_buf *out,
            pcr_error *err)
{
    out->data = NULL;
    out->len = 0;
    pcr_status rc = lookup("builtins", "compile", &builtin_compile, err);
    if (rc != PCR_OK) {
        return rc;
    }
    PyObject *code = compile_code(source, dfile, optimize);
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
    if (PyBytes_AsStringAndSize(data, &ptr, &n) < 0) {
        rc = compile_error(err);
    } else {
        rc = pcr_canonicalize((const unsigned char *)ptr, (size_t)n,
                              pcr_layout_for_magic(srv_magic()), out, err);
        if (rc != PCR_OK) {
            /* Our own reader rejecting CPython's output is our bug.  (The
             * cause is copied first: err->msg is also the destination.) */
            char cause[sizeof err->msg];
            snprintf(cause, sizeof cause, "%s", err->msg);
            pcr_set_error(err, PCR_ENV,
                          "cannot canonicalise CPython's own marshal "
                          "data (a bug in pycompile-repro): %.3000s",
                          cause);
            rc = PCR_ENV;
        }
    }
    Py_DECREF(data);
    return rc;
}

pcr_status
srv_source_hash(const unsigned char *src, size_t len, unsigned char out[8],
                pcr_error *err)
{
    pcr_status rc = lookup("_imp", "source_hash", &source_hash_fn, err);
    if (rc != PCR_OK) {
        return rc;
    }
    if (magic_key == NULL &&
        (magic_key = PyLong_FromUnsignedLong(srv_magic())) == NULL) {
        return srv_py_error(err, PCR_ENV, "source hash");
    }
    /* Wrap the bytes without copying: a memoryview over our buffer. */
    PyObject *view =
        PyMemoryView_FromMemory((char *)src, (Py_ssize_t)len, PyBUF_READ);
    if (view == NULL) {
        return srv_py_error(err, PCR_FAIL, "source hash");
    }
    PyObject *h =
        PyObject_CallFunctionObjArgs(source_hash_fn, magic_key, view, NULL);
    Py_DECREF(view);
    if (h == NULL) {
        return srv_py_error(err, PCR_FAIL, "source hash");
    }
    rc = PCR_OK;
    if (!PyBytes_Check(h) || PyBytes_GET_SIZE(h) != 8) {
        rc = pcr_set_error(err, PCR_ENV,
                           "source hash: unexpected result from CPython");
    } else {
        memcpy(out, PyBytes_AS_STRING(h), 8);
    }
    Py_DECREF(h);
    return rc;
}
