# SPDX-License-Identifier: MIT
"""py_compile, with reproducible output.

The same names, signatures, return values and exceptions as CPython's
py_compile; the .pyc is written by libpycompile-repro through the compile
server of this interpreter's version, in canonical form: byte for byte
what `pycompile-repro` writes for the same source, recorded name, level
and invalidation mode.

    from pycompile_repro import py_compile
    py_compile.compile("pkg/mod.py")
"""
import builtins
import enum
import importlib.util
import os
import re
import sys
import traceback
import warnings

from . import _lib

__all__ = ["compile", "main", "PyCompileError", "PycInvalidationMode"]


class PyCompileError(Exception):
    """Exception raised when an error occurs while attempting to
    compile the file (as py_compile.PyCompileError: exc_type_name,
    exc_value, file, msg)."""

    def __init__(self, exc_type, exc_value, file, msg=''):
        exc_type_name = exc_type.__name__
        if exc_type is SyntaxError:
            tbtext = ''.join(traceback.format_exception_only(
                exc_type, exc_value))
            errmsg = tbtext.replace('File "<string>"', 'File "%s"' % file)
        else:
            errmsg = "Sorry: %s: %s" % (exc_type_name, exc_value)
        Exception.__init__(self, msg or errmsg, exc_type_name, exc_value,
                           file)
        self.exc_type_name = exc_type_name
        self.exc_value = exc_value
        self.file = file
        self.msg = msg or errmsg

    def __str__(self):
        return self.msg


class PycInvalidationMode(enum.Enum):
    TIMESTAMP = 1
    CHECKED_HASH = 2
    UNCHECKED_HASH = 3


def _get_default_invalidation_mode():
    if os.environ.get('SOURCE_DATE_EPOCH'):
        return PycInvalidationMode.CHECKED_HASH
    else:
        return PycInvalidationMode.TIMESTAMP


def _check_target(cfile):
    """py_compile's refusal to replace a symlink or a special file."""
    if os.path.islink(cfile):
        msg = ('{} is a symlink and will be changed into a regular file if '
               'import writes a byte-compiled file to it')
        raise FileExistsError(msg.format(cfile))
    elif os.path.exists(cfile) and not os.path.isfile(cfile):
        msg = ('{} is a non-regular file and will be changed into a regular '
               'one if import writes a byte-compiled file to it')
        raise FileExistsError(msg.format(cfile))


def _level(optimize):
    return sys.flags.optimize if optimize < 0 else optimize


def _diagnose(file, cfile, dfile, optimize):
    """The library could not make the .pyc: find out why the way
    py_compile would have met it, and return the exception: the OSError
    of reading the source, PyCompileError from compiling it (compiled
    here, only to get CPython's exception object; nothing is imported),
    or the OSError of writing the .pyc (its directory is made here, as
    py_compile makes it).  None when none of them fails now."""
    try:
        with open(file, 'rb') as f:  # as importlib's get_data
            source = f.read()
    except OSError as e:
        return e
    try:
        builtins.compile(source, dfile or file, 'exec',
                         dont_inherit=True, optimize=optimize)
    except Exception as err:
        return PyCompileError(err.__class__, err, dfile or file)
    if cfile is not None:
        dirname = os.path.dirname(cfile)
        try:
            if dirname:
                os.makedirs(dirname, exist_ok=True)
            probe = '%s.%d.probe' % (cfile, os.getpid())
            fd = os.open(probe, os.O_EXCL | os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            return e
    return None


def _unexplained(message):
    """The library's own reason, when nothing here explains a failure
    (a server's memory limit, a file changed meanwhile)."""
    if 'memory' in message:
        return MemoryError(message)
    return OSError(message)


_WARNING_LINE = re.compile(r'^(.*?):(\d+): (\w+): (.*)$')


def _warn(events):
    """CPython's own warnings from the compile (SyntaxWarning,
    DeprecationWarning, ...), as the server's warnings module printed
    them, issued again here so that this process's filters decide, as
    they do for py_compile: each "FILE:LINE: CATEGORY: MESSAGE" line,
    followed by the source line, becomes warnings.warn_explicit; text
    that is not such a line goes to stderr as it is."""
    for e in events:
        if e.kind != _lib.EV_WARNING or not e.message:
            continue
        for line in e.message.splitlines():
            m = _WARNING_LINE.match(line)
            category = m and getattr(builtins, m.group(3), None)
            if (m and isinstance(category, type) and
                    issubclass(category, Warning)):
                warnings.warn_explicit(m.group(4), category, m.group(1),
                                       int(m.group(2)))
            elif m or not line.startswith('  '):
                sys.stderr.write(line + '\n')


def _compile_one(file, cfile, dfile, level, mode, force=True):
    """One source to one .pyc through the library; the SOURCE event."""
    record = os.fspath(dfile or file)

    def setup(h):
        h.python()
        h.level(level)
        h.mode(mode)
        h.flag(_lib.FLAG_FORCE, force)
        h.file(file, record, cfile)

    with _lib.handle() as h:
        rc, events = h.run(_lib.VERB_COMPILE, setup)
        trouble = rc == _lib.ENV and not any(e.kind == _lib.EV_SOURCE
                                             for e in events)
        message = h.error()
    if trouble:
        # the run stopped before the file (a directory, say): the error
        # of reading it, if any, is the one py_compile raises
        err = _diagnose(file, None, dfile, level)
        if isinstance(err, OSError):
            raise err
        raise _lib.Error(message)
    _warn(events)
    for e in events:
        if e.kind == _lib.EV_SOURCE:
            return e
    raise _lib.Error("no result for %s" % file)


def compile(file, cfile=None, dfile=None, doraise=False, optimize=-1,
            invalidation_mode=None, quiet=0):
    """Byte-compile one Python source file to Python bytecode, as
    py_compile.compile does (the same arguments, return value and
    exceptions), writing the canonical .pyc pycompile-repro writes.

    Returns the path of the .pyc, or None after a compile error when
    doraise is false (the error is written to stderr unless quiet >= 2).
    Raises PyCompileError (doraise, quiet < 2), FileExistsError when
    cfile is a symlink or not a regular file, OSError when the source
    cannot be read or the .pyc not written, pycompile_repro.Error when
    no compile server serves this Python.
    """
    if invalidation_mode is None:
        invalidation_mode = _get_default_invalidation_mode()
    if cfile is None:
        if optimize >= 0:
            optimization = optimize if optimize >= 1 else ''
            cfile = importlib.util.cache_from_source(file,
                                                     optimization=optimization)
        else:
            cfile = importlib.util.cache_from_source(file)
    _check_target(cfile)
    level = _level(optimize)
    mode = _lib.mode_of(invalidation_mode)
    if level in (0, 1, 2):
        ev = _compile_one(file, cfile, dfile, level, mode)
        if ev.outcome in (_lib.COMPILED, _lib.UP_TO_DATE):
            return cfile
        err = _diagnose(file, cfile, dfile, optimize)
        if err is None:
            # a directory was missing above the one the library makes
            ev = _compile_one(file, cfile, dfile, level, mode)
            if ev.outcome in (_lib.COMPILED, _lib.UP_TO_DATE):
                return cfile
            err = _diagnose(file, cfile, dfile, optimize) or \
                _unexplained(ev.message)
    else:
        err = _diagnose(file, cfile, dfile, optimize) or \
            _unexplained('optimize must be -1, 0, 1 or 2')
    if isinstance(err, MemoryError):
        err = PyCompileError(MemoryError, err, dfile or file)
    if not isinstance(err, PyCompileError):
        raise err
    if quiet < 2:
        if doraise:
            raise err
        else:
            sys.stderr.write(err.msg + '\n')
    return


def main():
    import argparse

    description = 'A simple command-line interface for py_compile module.'
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        '-q', '--quiet',
        action='store_true',
        help='Suppress error output',
    )
    parser.add_argument(
        'filenames',
        nargs='+',
        help='Files to compile',
    )
    args = parser.parse_args()
    if args.filenames == ['-']:
        filenames = [filename.rstrip('\n')
                     for filename in sys.stdin.readlines()]
    else:
        filenames = args.filenames
    for filename in filenames:
        filename = filename.rstrip('\n')
        try:
            compile(filename, doraise=True)
        except PyCompileError as error:
            if args.quiet:
                parser.exit(1)
            else:
                parser.exit(1, error.msg)
        except OSError as error:
            if args.quiet:
                parser.exit(1)
            else:
                parser.exit(1, str(error))
        except _lib.Error as error:
            parser.exit(2, '%s: %s\n' % (parser.prog, error))


if __name__ == "__main__":
    main()
