# SPDX-License-Identifier: MIT
"""The binding: libpycompile-repro.so.0's public API (pycompile_repro.h)
through ctypes.

Why ctypes and not a limited-API (abi3) extension module: the library's
interface is plain C (an opaque handle, ints, strings, one callback), so
ctypes covers it with no compiler at install time and one file that runs
on every CPython from 3.11 on; an abi3 module would need building at each
install against a Python.h, for no gain here (a call costs microseconds
either way; a compile is a round trip to a compile server).

One library handle is kept for the life of the process, so the compile
servers it starts are reused from call to call once the library keeps
them warm across pcr_run.  The library is not thread-safe yet: every
call takes one lock.  When handles become safe in independent threads,
set HANDLE_PER_THREAD = True: each thread then gets its own handle and
no lock is taken.

Where the library is: $PYCOMPILE_REPRO_LIBRARY, else the path `make
install` wrote into _config.py, else the soname through the dynamic
linker.  The compile servers: $PYCOMPILE_REPRO_SERVER_DIR, else the
directory _config.py names, else the library's own default.
"""
import ctypes
import os
import sys
import threading

try:
    from . import _config
except ImportError:  # a source tree: nothing installed
    _config = None

# The one line to change once the library says handles are thread-safe.
HANDLE_PER_THREAD = False

SONAME = "libpycompile-repro.so.0"

# pycompile_repro.h
OK, FAIL, ENV = 0, 1, 2
TIMESTAMP, CHECKED_HASH, UNCHECKED_HASH = 0, 1, 2
FLAG_FORCE, FLAG_LEGACY, FLAG_HARDLINK_DUPES = 1, 2, 3
FLAG_CANONICALIZE_EXISTING = 9
VERB_COMPILE, VERB_CHECK, VERB_CANONICALIZE = 0, 1, 2
EV_SOURCE, EV_PYC, EV_ARCHIVE, EV_WARNING, EV_PROGRESS = 1, 2, 3, 4, 5
COMPILED, UP_TO_DATE, SKIPPED, FAILED = 0, 1, 2, 3
RESET_ALL = 1 | 2

# This interpreter's series: the .pyc it reads are the ones to write.
SERIES = "%d.%d" % sys.version_info[:2]


class Error(RuntimeError):
    """The library cannot do what was asked at all (no compile server for
    this Python, no library, a server that cannot start): not a fault of
    one source file."""


class Event:
    """One event of a run, copied out of the callback (the library's
    strings live only during the callback)."""

    __slots__ = ("kind", "index", "source", "pyc", "python", "level",
                 "outcome", "cls", "status", "message", "changed")

    def __repr__(self):
        return "Event(%s)" % ", ".join(
            "%s=%r" % (k, getattr(self, k)) for k in self.__slots__)


CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)

_SIGNATURES = {
    # name: (restype, argtypes)
    "pcr_new": (ctypes.c_void_p, []),
    "pcr_free": (None, [ctypes.c_void_p]),
    "pcr_error_string": (ctypes.c_char_p, [ctypes.c_void_p]),
    "pcr_version_string": (ctypes.c_char_p, []),
    "pcr_canonical_form": (ctypes.c_int, []),
    "pcr_set_flag": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int,
                                    ctypes.c_int]),
    "pcr_add_level": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "pcr_set_invalidation": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "pcr_set_record_names": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p,
                                            ctypes.c_char_p,
                                            ctypes.c_char_p]),
    "pcr_set_workers": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "pcr_set_server_dir": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    "pcr_add_python": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    "pcr_set_max_depth": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
    "pcr_add_operand": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    "pcr_add_file": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p,
                                    ctypes.c_char_p, ctypes.c_char_p]),
    "pcr_reset": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint]),
    "pcr_run": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, CALLBACK,
                               ctypes.c_void_p]),
    "pcr_event_kind": (ctypes.c_int, [ctypes.c_void_p]),
    "pcr_event_index": (ctypes.c_size_t, [ctypes.c_void_p]),
    "pcr_event_source": (ctypes.c_char_p, [ctypes.c_void_p]),
    "pcr_event_pyc": (ctypes.c_char_p, [ctypes.c_void_p]),
    "pcr_event_python": (ctypes.c_char_p, [ctypes.c_void_p]),
    "pcr_event_level": (ctypes.c_int, [ctypes.c_void_p]),
    "pcr_event_outcome": (ctypes.c_int, [ctypes.c_void_p]),
    "pcr_event_class": (ctypes.c_int, [ctypes.c_void_p]),
    "pcr_event_status": (ctypes.c_int, [ctypes.c_void_p]),
    "pcr_event_message": (ctypes.c_char_p, [ctypes.c_void_p]),
    "pcr_event_changed": (ctypes.c_int, [ctypes.c_void_p]),
    "pcr_check_class_name": (ctypes.c_char_p, [ctypes.c_int]),
}

_load_lock = threading.Lock()
_lib = None


def library_path():
    """The file dlopen is given."""
    env = os.environ.get("PYCOMPILE_REPRO_LIBRARY")
    if env:
        return env
    if _config is not None and getattr(_config, "LIBRARY", None):
        return _config.LIBRARY
    return SONAME


def server_dir():
    """The compile servers' directory, or None for the library's own
    default (which also reads $PYCOMPILE_REPRO_SERVER_DIR)."""
    if os.environ.get("PYCOMPILE_REPRO_SERVER_DIR"):
        return None
    if _config is not None and getattr(_config, "SERVER_DIR", None):
        return _config.SERVER_DIR
    return None


def lib():
    """The loaded library, its functions typed (loaded once)."""
    global _lib
    if _lib is not None:
        return _lib
    with _load_lock:
        if _lib is None:
            path = library_path()
            try:
                dll = ctypes.CDLL(path)
            except OSError as e:
                raise Error("cannot load %s (set PYCOMPILE_REPRO_LIBRARY?): "
                            "%s" % (path, e)) from None
            for name, (restype, argtypes) in _SIGNATURES.items():
                f = getattr(dll, name)
                f.restype = restype
                f.argtypes = argtypes
            _lib = dll
    return _lib


def _dec(b):
    return None if b is None else os.fsdecode(b)


def fsenc(path):
    """A path (str, bytes or os.PathLike) as the library takes it."""
    return None if path is None else os.fsencode(path)


class Handle:
    """A library handle: settings for one run at a time, servers kept."""

    def __init__(self):
        self.L = lib()
        self.p = self.L.pcr_new()
        if not self.p:
            raise MemoryError("pcr_new")
        self.pid = os.getpid()
        d = server_dir()
        if d is not None:
            self._check(self.L.pcr_set_server_dir(self.p, fsenc(d)))

    def error(self):
        return _dec(self.L.pcr_error_string(self.p)) or "failed"

    def _check(self, rc):
        if rc != OK:
            raise Error(self.error())

    def close(self):
        if self.p and self.pid == os.getpid():
            self.L.pcr_free(self.p)
        self.p = None

    def run(self, verb, setup, on_event=None):
        """Reset the handle, let setup(handle) set options and operands,
        run verb; on_event(Event) is called for each event as it comes
        (an exception it raises is raised again after the run).
        Returns (status, [Event...])."""
        L, p = self.L, self.p
        self._check(L.pcr_reset(p, RESET_ALL))
        setup(self)
        events = []
        raised = []

        def callback(_user, ev):
            try:
                e = Event()
                e.kind = L.pcr_event_kind(ev)
                if e.kind == EV_PROGRESS:
                    return
                e.index = L.pcr_event_index(ev)
                e.source = _dec(L.pcr_event_source(ev))
                e.pyc = _dec(L.pcr_event_pyc(ev))
                e.python = _dec(L.pcr_event_python(ev))
                e.level = L.pcr_event_level(ev)
                e.outcome = L.pcr_event_outcome(ev)
                e.cls = L.pcr_event_class(ev)
                e.status = L.pcr_event_status(ev)
                e.message = (L.pcr_event_message(ev) or b"").decode(
                    "utf-8", "surrogateescape")
                e.changed = L.pcr_event_changed(ev)
                events.append(e)
                if on_event is not None and not raised:
                    on_event(e)
            except BaseException as exc:  # never unwind through C
                raised.append(exc)

        cb = CALLBACK(callback)
        rc = L.pcr_run(p, verb, cb, None)
        if raised:
            raise raised[0]
        return rc, events

    # -- setters, each checked
    def python(self, series=SERIES):
        if self.L.pcr_add_python(self.p, series.encode()) != OK:
            raise Error("no compile server for CPython %s (the version of "
                        "this interpreter, %s) is installed: %s"
                        % (series, sys.executable, self.error()))

    def level(self, level):
        self._check(self.L.pcr_add_level(self.p, level))

    def mode(self, mode):
        self._check(self.L.pcr_set_invalidation(self.p, mode))

    def flag(self, flag, on):
        self._check(self.L.pcr_set_flag(self.p, flag, 1 if on else 0))

    def workers(self, n):
        self._check(self.L.pcr_set_workers(self.p, n))

    def max_depth(self, n):
        self._check(self.L.pcr_set_max_depth(self.p, n))

    def record_names(self, ddir, strip, prepend):
        self._check(self.L.pcr_set_record_names(
            self.p, fsenc(ddir), fsenc(strip), fsenc(prepend)))

    def operand(self, path):
        self._check(self.L.pcr_add_operand(self.p, fsenc(path)))

    def file(self, source, record, pyc):
        self._check(self.L.pcr_add_file(self.p, fsenc(source), fsenc(record),
                                        fsenc(pyc)))

    def class_name(self, cls):
        return _dec(self.L.pcr_check_class_name(cls))


_shared = None
_shared_lock = threading.Lock()
_local = threading.local()


class _ThreadHandle:
    """A thread's own handle, freed (its servers stopped) when the
    thread ends and its local storage goes."""

    def __init__(self):
        self.h = Handle()

    def __del__(self):
        self.h.close()


class _Locked:
    """`with handle() as h:` - the process's handle, held alone (or,
    with HANDLE_PER_THREAD, this thread's own)."""

    def __enter__(self):
        global _shared
        if HANDLE_PER_THREAD:
            t = getattr(_local, "t", None)
            if t is None or t.h.pid != os.getpid():
                t = _local.t = _ThreadHandle()
            return t.h
        _shared_lock.acquire()
        try:
            # after fork, the parent's servers are not ours: a new handle
            # (the old one is left alone, it belongs to the parent)
            if _shared is None or _shared.pid != os.getpid():
                _shared = Handle()
        except BaseException:
            _shared_lock.release()
            raise
        return _shared

    def __exit__(self, *exc):
        if not HANDLE_PER_THREAD:
            _shared_lock.release()
        return False


def handle():
    return _Locked()


def _after_fork_in_child():
    # a lock another thread held at fork() would stay held in the child
    global _shared_lock
    _shared_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def mode_of(invalidation_mode):
    """PycInvalidationMode (ours or the stdlib's: matched by name) or None
    (py_compile's default: CHECKED_HASH when SOURCE_DATE_EPOCH is set and
    not empty) as the library's number."""
    if invalidation_mode is None:
        return CHECKED_HASH if os.environ.get("SOURCE_DATE_EPOCH") \
            else TIMESTAMP
    name = getattr(invalidation_mode, "name", invalidation_mode)
    modes = {"TIMESTAMP": TIMESTAMP, "CHECKED_HASH": CHECKED_HASH,
             "UNCHECKED_HASH": UNCHECKED_HASH}
    if not isinstance(name, str) or name.upper() not in modes:
        raise ValueError("unknown invalidation mode: %r"
                         % (invalidation_mode,))
    return modes[name.upper()]
