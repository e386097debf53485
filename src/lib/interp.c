/*
 * interp.c - the embedded CPython: started once per process from an
 * isolated configuration so that nothing of the caller's environment can
 * change the bytes we produce.
 *
 * Decisions (see docs/design.md):
 *  - PyConfig_InitIsolatedConfig: PYTHON* variables, the user site and the
 *    current directory are ignored.  Isolation still leaves site import on
 *    and a random hash seed, so both are set by hand.
 *  - UTF-8 mode, so file names become str the same way whatever LANG says.
 *  - home is the prefix of the libpython we were built against
 *    (PCR_PYTHON_HOME), so no python3 found on PATH and no pyvenv.cfg can
 *    redirect the standard library.
 *  - Every one-character latin-1 string is interned at start-up (CPython
 *    3.13 does this itself): marshal writes a one-character constant as
 *    'Z'/'t' when the singleton is interned and 'z'/'u' when it is not
 *    (gh-93317), so interning them all makes the output independent of
 *    what the process did before.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp_private.h"
#include "pcr_private.h"

#ifndef PCR_PYTHON_HOME
#define PCR_PYTHON_HOME "/usr"
#endif

static int ready;
static unsigned long hash_seed; /* 0 unless --verify's servers set it */
static uint32_t magic;
static char cache_tag[64];
static char version[32];
static PyObject *builtin_compile; /* builtins.compile */
static PyObject *source_hash_fn;  /* _imp.source_hash */
static PyObject *magic_key;       /* int: the source hash key */
static PyObject *latin1_chars;    /* tuple keeping the interned strings */

static pcr_status
status_error(pcr_error *err, const char *what, PyStatus st)
{
    return pcr_set_error(err, PCR_ENV, "cannot start Python: %s%s%s", what,
                         st.err_msg ? ": " : "", st.err_msg ? st.err_msg : "");
}

/* Describe the pending Python exception in err and clear it. */
pcr_status
pcr_py_error(pcr_error *err, pcr_status status, const char *what)
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

static pcr_status
intern_latin1(pcr_error *err)
{
    latin1_chars = PyTuple_New(256);
    if (latin1_chars == NULL) {
        return pcr_py_error(err, PCR_ENV, "cannot start Python");
    }
    for (int c = 0; c < 256; c++) {
        PyObject *s = PyUnicode_FromOrdinal(c);
        if (s == NULL) {
            return pcr_py_error(err, PCR_ENV, "cannot start Python");
        }
        PyUnicode_InternInPlace(&s);
        PyTuple_SET_ITEM(latin1_chars, c, s); /* steals s */
    }
    return PCR_OK;
}

static pcr_status
lookup(const char *module, const char *name, PyObject **out, pcr_error *err)
{
    PyObject *mod = PyImport_ImportModule(module);
    if (mod == NULL) {
        return pcr_py_error(err, PCR_ENV, "cannot start Python");
    }
    *out = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    if (*out == NULL) {
        return pcr_py_error(err, PCR_ENV, "cannot start Python");
    }
    return PCR_OK;
}

static pcr_status
configure(PyConfig *config, pcr_error *err)
{
    PyStatus st;
    config->site_import = 0;
    config->user_site_directory = 0;
    config->use_hash_seed = 1;
    config->hash_seed = hash_seed;
    config->write_bytecode = 0;
    config->install_signal_handlers = 0;
    config->parse_argv = 0;
    config->safe_path = 1;
    config->pathconfig_warnings = 0;
    config->buffered_stdio = 1;
    st = PyConfig_SetBytesString(config, &config->home, PCR_PYTHON_HOME);
    if (PyStatus_Exception(st)) {
        return status_error(err, "home", st);
    }
    st = PyConfig_SetBytesString(config, &config->program_name,
                                 "pycompile-repro");
    if (PyStatus_Exception(st)) {
        return status_error(err, "program name", st);
    }
    /* Without this, getpath looks for "python3" on PATH and reads any
     * pyvenv.cfg it finds beside it. */
    st = PyConfig_SetBytesString(config, &config->executable,
                                 PCR_PYTHON_HOME "/bin/python3");
    if (PyStatus_Exception(st)) {
        return status_error(err, "executable", st);
    }
    return PCR_OK;
}

pcr_status
pcr_runtime_init(pcr_error *err)
{
    if (ready) {
        return PCR_OK;
    }
    PyPreConfig pre;
    PyPreConfig_InitIsolatedConfig(&pre);
    pre.utf8_mode = 1;
    if (getenv("PCR_DEBUG_RAW_MALLOC") != NULL) {
        /* For valgrind and sanitizers only; does not change any byte. */
        pre.allocator = PYMEM_ALLOCATOR_MALLOC;
    }
    PyStatus st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st)) {
        return status_error(err, "pre-initialization", st);
    }

    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    pcr_status rc = configure(&config, err);
    if (rc == PCR_OK) {
        st = Py_InitializeFromConfig(&config);
        if (PyStatus_Exception(st)) {
            rc = status_error(err, "initialization", st);
        }
    }
    PyConfig_Clear(&config);
    if (rc != PCR_OK) {
        return rc;
    }

    if ((rc = intern_latin1(err)) != PCR_OK ||
        (rc = lookup("builtins", "compile", &builtin_compile, err)) !=
            PCR_OK ||
        (rc = lookup("_imp", "source_hash", &source_hash_fn, err)) != PCR_OK) {
        return rc;
    }
    long m = PyImport_GetMagicNumber();
    const char *tag = PyImport_GetMagicTag();
    if (m == -1 || tag == NULL) {
        return pcr_py_error(err, PCR_ENV, "cannot read the magic number");
    }
    magic = (uint32_t)m;
    magic_key = PyLong_FromUnsignedLong(magic);
    if (magic_key == NULL) {
        return pcr_py_error(err, PCR_ENV, "cannot start Python");
    }
    snprintf(cache_tag, sizeof cache_tag, "%s", tag);
    /* Py_GetVersion() is "3.11.2 (main, ...)": keep the first word. */
    snprintf(version, sizeof version, "%.*s",
             (int)strcspn(Py_GetVersion(), " "), Py_GetVersion());
    ready = 1;
    return PCR_OK;
}

void
pcr_runtime_set_hash_seed(unsigned long seed)
{
    hash_seed = seed;
}

pcr_status
pcr_runtime_fini(pcr_error *err)
{
    if (!Py_IsInitialized()) {
        return PCR_OK;
    }
    Py_CLEAR(builtin_compile);
    Py_CLEAR(source_hash_fn);
    Py_CLEAR(magic_key);
    Py_CLEAR(latin1_chars);
    ready = 0;
    if (Py_FinalizeEx() < 0) {
        return pcr_set_error(err, PCR_ENV, "Python finalization failed");
    }
    return PCR_OK;
}

int
pcr_runtime_ready(void)
{
    return ready;
}

const char *
pcr_python_version(void)
{
    if (version[0] == '\0') {
        snprintf(version, sizeof version, "%.*s",
                 (int)strcspn(Py_GetVersion(), " "), Py_GetVersion());
    }
    return version;
}

const char *
pcr_python_build(void)
{
    return Py_GetVersion();
}

const char *
pcr_cache_tag(void)
{
    return cache_tag;
}

uint32_t
pcr_magic_number(void)
{
    return magic;
}

PyObject *
pcr_py_compile_fn(void)
{
    return builtin_compile;
}

PyObject *
pcr_py_source_hash_fn(void)
{
    return source_hash_fn;
}

PyObject *
pcr_py_magic_key(void)
{
    return magic_key;
}

void
pcr_runtime_before_fork(void)
{
    if (ready) {
        PyOS_BeforeFork();
    }
}

void
pcr_runtime_after_fork(int child)
{
    if (ready) {
        if (child) {
            PyOS_AfterFork_Child();
        } else {
            PyOS_AfterFork_Parent();
        }
    }
}
