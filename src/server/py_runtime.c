/* SPDX-License-Identifier: MIT */
/*
 * py_runtime.c - the compile server's embedded CPython: started once per
 * process from an isolated configuration so that nothing of the caller's
 * environment can change the bytes it produces.
 *
 * Decisions (see docs/design.md):
 *  - PyConfig_InitIsolatedConfig: PYTHON* variables, the user site and the
 *    current directory are ignored.  Isolation still leaves site import on
 *    and a random hash seed, so both are set by hand (the seed comes from
 *    the front end: 0, or another for --verify's servers).
 *  - UTF-8 mode, so file names become str the same way whatever LANG says.
 *  - home is the prefix of the libpython this server was built against
 *    (PCR_PYTHON_HOME), so no python3 found on PATH and no pyvenv.cfg can
 *    redirect the standard library.
 *  - Every one-character latin-1 string is interned at start-up, as
 *    CPython 3.13 does itself (gh-93317).
 *  - A memory budget (py_memory.c), installed before the interpreter
 *    starts.
 */
#include "server_private.h" /* <Python.h> first: it sets _GNU_SOURCE */

#include <dlfcn.h> /* dladdr */
#include <link.h>  /* _DYNAMIC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "marshal_format.h" /* pcr_layout_for_magic */

#ifndef PCR_PYTHON_HOME
#define PCR_PYTHON_HOME "/usr"
#endif

static uint32_t magic;
static char cache_tag[64];
static char version[32];
static PyObject *latin1_chars; /* tuple keeping the interned strings */

/* ------------------------------------------------------------ start */

static pcr_status
status_error(pcr_error *err, const char *what, PyStatus st)
{
    return pcr_set_error(err, PCR_ENV, "cannot start Python: %s%s%s", what,
                         st.err_msg ? ": " : "", st.err_msg ? st.err_msg : "");
}

static pcr_status
intern_latin1(pcr_error *err)
{
    latin1_chars = PyTuple_New(256);
    if (latin1_chars == NULL) {
        return srv_py_error(err, PCR_ENV, "cannot start Python");
    }
    for (int c = 0; c < 256; c++) {
        PyObject *s = PyUnicode_FromOrdinal(c);
        if (s == NULL) {
            return srv_py_error(err, PCR_ENV, "cannot start Python");
        }
        PyUnicode_InternInPlace(&s);
        PyTuple_SET_ITEM(latin1_chars, c, s); /* steals s */
    }
    return PCR_OK;
}

static pcr_status
configure(PyConfig *config, unsigned long seed, pcr_error *err)
{
    PyStatus st;
    config->site_import = 0;
    config->user_site_directory = 0;
    config->use_hash_seed = 1;
    config->hash_seed = seed;
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
srv_runtime_init(unsigned long hash_seed, pcr_error *err)
{
    PyPreConfig pre;
    PyPreConfig_InitIsolatedConfig(&pre);
    pre.utf8_mode = 1;
    int raw_malloc = getenv("PCR_DEBUG_RAW_MALLOC") != NULL;
    if (raw_malloc) {
        /* For valgrind and sanitizers only; does not change any byte. */
        pre.allocator = PYMEM_ALLOCATOR_MALLOC;
    }
    PyStatus st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st)) {
        return status_error(err, "pre-initialization", st);
    }
    srv_memory_install(raw_malloc);

    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    pcr_status rc = configure(&config, hash_seed, err);
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
        (rc = srv_capture_warnings(err)) != PCR_OK) {
        return rc;
    }
    long m = PyImport_GetMagicNumber();
    const char *tag = PyImport_GetMagicTag();
    if (m == -1 || tag == NULL) {
        return srv_py_error(err, PCR_ENV, "cannot read the magic number");
    }
    magic = (uint32_t)m;
    if (pcr_layout_for_magic(magic) == NULL) {
        /* A CPython newer than this pycompile-repro: say so at start-up
         * rather than fail on every file. */
        return pcr_set_error(err, PCR_ENV,
                             "CPython %.*s (magic number %u) is not known "
                             "to this pycompile-repro: its marshal format "
                             "needs a newer release",
                             (int)strcspn(Py_GetVersion(), " "),
                             Py_GetVersion(), (unsigned)(magic & 0xffff));
    }
    snprintf(cache_tag, sizeof cache_tag, "%s", tag);
    /* Py_GetVersion() is "3.11.2 (main, ...)": keep the first word. */
    snprintf(version, sizeof version, "%.*s",
             (int)strcspn(Py_GetVersion(), " "), Py_GetVersion());
    return PCR_OK;
}

pcr_status
srv_runtime_fini(pcr_error *err)
{
    if (!Py_IsInitialized()) {
        return PCR_OK;
    }
    Py_CLEAR(latin1_chars);
    srv_set_memory_limit(0); /* finalising may allocate */
    if (Py_FinalizeEx() < 0) {
        return pcr_set_error(err, PCR_ENV, "Python finalization failed");
    }
    return PCR_OK;
}

uint32_t
srv_magic(void)
{
    return magic;
}

const char *
srv_cache_tag(void)
{
    return cache_tag;
}

const char *
srv_version(void)
{
    return version;
}

/* A RUNPATH or RPATH in this program (a build against a Python in /opt,
 * with -Wl,-rpath), or the loader's variables in its environment (a
 * wrapper that sets them), make a search the front end's record key does
 * not cover: such a server names no libpython, and gets no record. */
static int
loader_steered(void)
{
    static const char *const vars[] = {"LD_LIBRARY_PATH", "LD_PRELOAD",
                                       "LD_AUDIT"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        if (getenv(vars[i]) != NULL) {
            return 1;
        }
    }
    for (const ElfW(Dyn) *d = _DYNAMIC; d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_RUNPATH || d->d_tag == DT_RPATH) {
            return 1;
        }
    }
    return 0;
}

/* The inode of the file mapped at address at (/proc/self/maps), and its
 * path there (links resolved); 0 when unknown or deleted since. */
static unsigned long long
mapped_inode(uintptr_t at, char *path, size_t size)
{
    FILE *f = fopen("/proc/self/maps", "re");
    unsigned long long found = 0;
    if (f == NULL) {
        return 0;
    }
    char line[4096 + 128];
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo, hi;
        unsigned long long ino;
        int off = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*x:%*x %llu %n", &lo, &hi, &ino,
                   &off) < 3 ||
            at < lo || at >= hi || off == 0 || line[off] != '/') {
            continue;
        }
        size_t n = strcspn(line + off, "\n");
        const char *gone = " (deleted)";
        if (line[off + n] == '\n' && n < size &&
            !(n > strlen(gone) && memcmp(line + off + n - strlen(gone), gone,
                                         strlen(gone)) == 0)) {
            memcpy(path, line + off, n);
            path[n] = 0;
            found = ino;
        }
        break;
    }
    fclose(f);
    return found;
}

/* path's identity into id when path (links followed) is the regular file
 * of inode ino: the mapping holds that file, so no other file can have its
 * inode on its file system meanwhile.  (The device is not compared: on
 * btrfs and some overlayfs a mapping names another device than stat.) */
static int
identify(const char *path, unsigned long long ino, uint64_t *id)
{
    struct stat st;
    if (path[0] != '/' || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
        (unsigned long long)st.st_ino != ino) {
        return -1;
    }
    pcr_file_id_of(&st, id);
    return 0;
}

/* The front end keeps what this hello says under the identity of the
 * server's file, so that a later run can know the build without starting
 * an interpreter.  Which libpython the loader took is only known here: the
 * name it opened (dladdr: a soname link re-pointed later changes what that
 * name gives, which the front end checks by stat) and the program running
 * (a wrapper's real server, also checked). */
void
srv_libpython(srv_lib *lib)
{
    memset(lib, 0, sizeof *lib);
    if (loader_steered()) {
        return;
    }
    char mapped[4096];
    unsigned long long ino =
        mapped_inode((uintptr_t)(void *)Py_GetVersion, mapped, sizeof mapped);
    Dl_info info;
    const char *name = mapped; /* libpython linked in statically */
    if (dladdr((void *)Py_GetVersion, &info) != 0 && info.dli_fname != NULL &&
        info.dli_fname[0] == '/' &&
        strlen(info.dli_fname) < sizeof lib->path) {
        name = info.dli_fname;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    struct stat st;
    if (ino == 0 || n <= 0 || identify(name, ino, lib->id) != 0) {
        return;
    }
    exe[n] = 0;
    if (stat(exe, &st) != 0 || !S_ISREG(st.st_mode)) {
        memset(lib->id, 0, sizeof lib->id);
        return;
    }
    snprintf(lib->path, sizeof lib->path, "%s", name);
    memcpy(lib->exe, exe, (size_t)n + 1);
    pcr_file_id_of(&st, lib->exe_id);
}
