# SPDX-License-Identifier: MIT
"""compileall, with reproducible output.

compile_dir, compile_file, compile_path and main with CPython's
signatures (every argument of 3.11 and later), return values and output;
the .pyc files are written by libpycompile-repro through the compile
server of this interpreter's version, in canonical form: byte for byte
what `pycompile-repro` writes for the same sources, recorded names,
levels and invalidation mode.

    from pycompile_repro import compileall
    compileall.compile_dir("build/lib", quiet=1, workers=0)

Differences, each on purpose:
  - compile_dir walks the tree as compileall does, then compiles every
    file it kept in one library run with `workers` compile servers
    (0: one per CPU); it starts no ProcessPoolExecutor and does not call
    compile_file per file.
  - A .pyc is up to date, and left alone without force, when it has the
    header, recorded name and canonical bytes we would write (compileall
    looks at the timestamp header only, and recompiles every hash-based
    .pyc, CPython gh-121577).
  - All the levels of a source are written, or none.
"""
import filecmp
import importlib.util
import os
import sys
from pathlib import Path

from . import _lib
from . import py_compile

__all__ = ["compile_dir", "compile_file", "compile_path"]


def _walk_dir(dir, maxlevels, quiet=0, out=print):
    """compileall._walk_dir (the same listing, order and limits), with
    scandir's file types instead of a stat per name.  Yields (fullname,
    is a regular file); its lines go to out()."""
    if quiet < 2 and isinstance(dir, os.PathLike):
        dir = os.fspath(dir)
    if not quiet:
        out('Listing {!r}...'.format(dir))
    try:
        with os.scandir(dir) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        if quiet < 2:
            out("Can't list {!r}".format(dir))
        entries = []
    for entry in entries:
        name = entry.name
        if name == '__pycache__':
            continue
        fullname = os.path.join(dir, name)
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if not is_dir:
            try:
                is_file = entry.is_file()
            except OSError:
                is_file = False
            yield fullname, is_file
        elif (maxlevels > 0 and name != os.curdir and name != os.pardir and
              not entry.is_symlink()):
            yield from _walk_dir(fullname, maxlevels=maxlevels - 1,
                                 quiet=quiet, out=out)


# CPython 3.13 strips only a real prefix of the path, and says so when
# stripdir is none; before, it removed every part equal to the part of
# stripdir at the same place.
STRIP_PREFIX_ONLY = sys.version_info >= (3, 13)


def _dfile(fullname, ddir, stripdir, prependdir, quiet=0, out=print):
    """The name recorded in the code objects, as compileall.compile_file
    of this Python computes it."""
    name = os.path.basename(fullname)
    dfile = None
    if ddir is not None:
        dfile = os.path.join(ddir, name)
    if stripdir is not None:
        fullname_parts = fullname.split(os.path.sep)
        stripdir_parts = stripdir.split(os.path.sep)
        if STRIP_PREFIX_ONLY:
            if stripdir_parts != fullname_parts[:len(stripdir_parts)]:
                if quiet < 2:
                    out("The stripdir path {!r} is not a valid prefix for "
                        "source path {!r}; ignoring".format(stripdir,
                                                            fullname))
            else:
                dfile = os.path.join(
                    *fullname_parts[len(stripdir_parts):])
        else:
            ddir_parts = list(fullname_parts)
            for spart, opart in zip(stripdir_parts, fullname_parts):
                if spart == opart:
                    ddir_parts.remove(spart)
            dfile = os.path.join(*ddir_parts)
    if prependdir is not None:
        if dfile is None:
            dfile = os.path.join(prependdir, fullname)
        else:
            dfile = os.path.join(prependdir, dfile)
    return dfile


def _levels(optimize, hardlink_dupes):
    if isinstance(optimize, int):
        optimize = [optimize]
    optimize = sorted(set(optimize))
    if hardlink_dupes and len(optimize) < 2:
        raise ValueError("Hardlinking of duplicated bytecode makes sense "
                         "only for more than one optimization level")
    return optimize


def _cfile(fullname, level, legacy):
    if legacy:
        return fullname + 'c'
    if level >= 0:
        opt = level if level >= 1 else ''
        return importlib.util.cache_from_source(fullname, optimization=opt)
    return importlib.util.cache_from_source(fullname)


def _skipped(fullname, rx, limit_sl_dest):
    if rx is not None and rx.search(fullname):
        return True
    if limit_sl_dest is not None and os.path.islink(fullname):
        if (Path(limit_sl_dest).resolve()
                not in Path(fullname).resolve().parents):
            return True
    return False


def _report(fullname, err, quiet):
    """compile_file's message for a source that failed."""
    if quiet >= 2:
        return
    elif quiet:
        print('*** Error compiling {!r}...'.format(fullname))
    else:
        print('*** ', end='')
    if isinstance(err, py_compile.PyCompileError):
        # escape non-printable characters in msg
        encoding = sys.stdout.encoding or sys.getdefaultencoding()
        msg = err.msg.encode(encoding,
                             errors='backslashreplace').decode(encoding)
        print(msg)
    else:
        print(err.__class__.__name__ + ':', err)


def _failure(fullname, dfile, optimize, legacy, message):
    """Why a source failed, as the exception compileall would have met:
    FileExistsError for a symlink or special .pyc, the OSError of
    reading, PyCompileError, the OSError of writing."""
    cfiles = [_cfile(fullname, o, legacy) for o in optimize]
    for cfile in cfiles:
        try:
            py_compile._check_target(cfile)
        except FileExistsError as e:
            return e
    for o, cfile in zip(optimize, cfiles):
        err = py_compile._diagnose(fullname, cfile, dfile, o)
        if err is not None:
            return err
    err = py_compile._unexplained(message)
    if isinstance(err, MemoryError):
        err = py_compile.PyCompileError(MemoryError, err, dfile or fullname)
    return err


def _compile_sources(sources, optimize, force, quiet, legacy, mode,
                     workers, hardlink_dupes, pending=None):
    """Compile [(fullname, dfile)] in one library run per level set, with
    compile_file's output; True if every source succeeded.  pending:
    (lines, marks), the walk's output lines and, per source, how many of
    them come before it: printed in that order as the sources finish."""
    lines, marks = pending or ([], [])
    shown = [0]

    def show(upto):
        while shown[0] < upto:
            print(lines[shown[0]])
            shown[0] += 1

    try:
        return _compile_listed(sources, optimize, force, quiet, legacy,
                               mode, workers, hardlink_dupes,
                               lambda i: show(marks[i]) if marks else None)
    finally:
        show(len(lines))


def _compile_listed(sources, optimize, force, quiet, legacy, mode, workers,
                    hardlink_dupes, before):
    if not sources:
        return True
    levels = sorted({py_compile._level(o) for o in optimize})
    if any(level not in (0, 1, 2) for level in levels):
        # compile() itself refuses the level: as compileall, per file
        ok = True
        for i, (fullname, dfile) in enumerate(sources):
            before(i)
            _report(fullname, _failure(fullname, dfile, optimize, legacy,
                                       'bad optimization level'), quiet)
            ok = False
        return ok
    # importlib's cache paths, unless a pycache_prefix moves them: then
    # each level is a run of its own with the paths given
    own_paths = legacy or sys.pycache_prefix is None
    runs = [levels] if own_paths else [[level] for level in levels]
    if not own_paths:
        # the library makes the last directory only, as importlib does
        for fullname, _dfile in sources:
            for level in levels:
                parent = os.path.dirname(os.path.dirname(
                    _cfile(fullname, level, legacy)))
                if parent:
                    os.makedirs(parent, exist_ok=True)
    failed = {}
    compiled = set()
    for run_levels in runs:
        _run(sources, run_levels, force, mode, workers,
             hardlink_dupes and own_paths, legacy, own_paths, compiled,
             failed, optimize, quiet, before)
        before = _nothing
    if hardlink_dupes and not own_paths:
        _link_dupes(sources, levels, legacy, compiled, failed)
    return not failed


def _nothing(_i):
    pass


def _run(sources, levels, force, mode, workers, hardlink, legacy, own_paths,
         compiled, failed, optimize, quiet, before):
    def setup(h):
        h.python()
        for level in levels:
            h.level(level)
        h.mode(mode)
        h.flag(_lib.FLAG_FORCE, force)
        h.flag(_lib.FLAG_LEGACY, legacy)
        h.flag(_lib.FLAG_HARDLINK_DUPES, hardlink)
        h.workers(workers)
        for fullname, dfile in sources:
            h.file(fullname, dfile or fullname,
                   None if own_paths else _cfile(fullname, levels[0], legacy))

    listed = set()

    def on_event(e):
        if e.kind == _lib.EV_WARNING:
            py_compile._warn([e])
            return
        if e.kind != _lib.EV_SOURCE:
            return
        i = e.index
        fullname, dfile = sources[i]
        before(i)
        if e.outcome == _lib.COMPILED:
            compiled.add(i)
        if e.outcome not in (_lib.COMPILED, _lib.FAILED):
            return
        if not quiet and i not in listed:
            print('Compiling {!r}...'.format(fullname))
            listed.add(i)
        if e.outcome == _lib.FAILED and i not in failed:
            err = _failure(fullname, dfile, optimize, legacy, e.message)
            failed[i] = err
            _report(fullname, err, quiet)

    with _lib.handle() as h:
        rc, events = h.run(_lib.VERB_COMPILE, setup, on_event)
        if rc == _lib.ENV and not any(e.kind == _lib.EV_SOURCE
                                      and e.status != _lib.ENV
                                      for e in events):
            raise _lib.Error(h.error())


def _link_dupes(sources, levels, legacy, compiled, failed):
    """compileall's deduplication, for .pyc in a pycache_prefix."""
    for i, (fullname, _dfile) in enumerate(sources):
        if i in failed or i not in compiled:
            continue
        for prev, level in zip(levels, levels[1:]):
            cfile, previous = (_cfile(fullname, level, legacy),
                               _cfile(fullname, prev, legacy))
            if filecmp.cmp(cfile, previous, shallow=False):
                os.unlink(cfile)
                os.link(previous, cfile)


def compile_dir(dir, maxlevels=None, ddir=None, force=False,
                rx=None, quiet=0, legacy=False, optimize=-1, workers=1,
                invalidation_mode=None, *, stripdir=None,
                prependdir=None, limit_sl_dest=None, hardlink_dupes=False):
    """Byte-compile all modules in the given directory tree.

    Arguments (only dir is required):

    dir:       the directory to byte-compile
    maxlevels: maximum recursion level (default `sys.getrecursionlimit()`)
    ddir:      the directory that will be prepended to the path to the
               file as it is compiled into each byte-code file.
    force:     if True, force compilation, even if the .pyc are up to date
    quiet:     full output with False or 0, errors only with 1,
               no output with 2
    legacy:    if True, produce legacy pyc paths instead of PEP 3147 paths
    optimize:  int or list of optimization levels or -1 for level of
               the interpreter. Multiple levels leads to multiple compiled
               files each with one optimization level.
    workers:   compile servers (0: one per CPU)
    invalidation_mode: how the up-to-dateness of the pyc will be checked
    stripdir:  part of path to left-strip from source file path
    prependdir: path to prepend to beginning of original file path, applied
               after stripdir
    limit_sl_dest: ignore symlinks if they are pointing outside of
                   the defined path
    hardlink_dupes: hardlink duplicated pyc files
    """
    if ddir is not None and (stripdir is not None or prependdir is not None):
        raise ValueError(("Destination dir (ddir) cannot be used "
                          "in combination with stripdir or prependdir"))
    if ddir is not None:
        stripdir = dir
        prependdir = ddir
        ddir = None
    if workers < 0:
        raise ValueError('workers must be greater or equal to 0')
    if maxlevels is None:
        maxlevels = sys.getrecursionlimit()
    mode = _lib.mode_of(invalidation_mode)
    stripdir = os.fspath(stripdir) if stripdir is not None else None
    sources = []
    levels = None
    # the walk's lines, printed in order between the sources' own as
    # they finish (compileall prints them as its generator goes)
    lines, marks = [], []
    for fullname, is_file in _walk_dir(dir, quiet=quiet,
                                       maxlevels=maxlevels,
                                       out=lines.append):
        # compile_file's first steps, met at every name walked
        dfile = _dfile(fullname, None, stripdir, prependdir, quiet,
                       lines.append)
        if levels is None:
            levels = _levels(optimize, hardlink_dupes)
        if (is_file and fullname.endswith('.py') and
                not _skipped(fullname, rx, limit_sl_dest)):
            sources.append((fullname, dfile))
            marks.append(len(lines))
    return _compile_sources(sources, levels or [], force, quiet, legacy,
                            mode, workers, hardlink_dupes, (lines, marks))


def compile_file(fullname, ddir=None, force=False, rx=None, quiet=0,
                 legacy=False, optimize=-1,
                 invalidation_mode=None, *, stripdir=None, prependdir=None,
                 limit_sl_dest=None, hardlink_dupes=False):
    """Byte-compile one file.

    Arguments (only fullname is required):

    fullname:  the file to byte-compile
    ddir:      if given, the directory name compiled in to the
               byte-code file.
    force:     if True, force compilation, even if the .pyc are up to date
    quiet:     full output with False or 0, errors only with 1,
               no output with 2
    legacy:    if True, produce legacy pyc paths instead of PEP 3147 paths
    optimize:  int or list of optimization levels or -1 for level of
               the interpreter. Multiple levels leads to multiple compiled
               files each with one optimization level.
    invalidation_mode: how the up-to-dateness of the pyc will be checked
    stripdir:  part of path to left-strip from source file path
    prependdir: path to prepend to beginning of original file path, applied
               after stripdir
    limit_sl_dest: ignore symlinks if they are pointing outside of
                   the defined path.
    hardlink_dupes: hardlink duplicated pyc files
    """
    if ddir is not None and (stripdir is not None or prependdir is not None):
        raise ValueError(("Destination dir (ddir) cannot be used "
                          "in combination with stripdir or prependdir"))
    fullname = os.fspath(fullname)
    stripdir = os.fspath(stripdir) if stripdir is not None else None
    dfile = _dfile(fullname, ddir, stripdir, prependdir, quiet)
    optimize = _levels(optimize, hardlink_dupes)
    mode = _lib.mode_of(invalidation_mode)
    if _skipped(fullname, rx, limit_sl_dest):
        return True
    if not (os.path.isfile(fullname) and
            os.path.basename(fullname)[-3:] == '.py'):
        return True
    return _compile_sources([(fullname, dfile)], optimize, force, quiet,
                            legacy, mode, 1, hardlink_dupes)


def compile_path(skip_curdir=1, maxlevels=0, force=False, quiet=0,
                 legacy=False, optimize=-1,
                 invalidation_mode=None):
    """Byte-compile all module on sys.path.

    Arguments (all optional):

    skip_curdir: if true, skip current directory (default True)
    maxlevels:   max recursion level (default 0)
    force: as for compile_dir() (default False)
    quiet: as for compile_dir() (default 0)
    legacy: as for compile_dir() (default False)
    optimize: as for compile_dir() (default -1)
    invalidation_mode: as for compiler_dir()
    """
    success = True
    for dir in sys.path:
        if (not dir or dir == os.curdir) and skip_curdir:
            if quiet < 2:
                print('Skipping current directory')
        else:
            success = success and compile_dir(
                dir,
                maxlevels,
                None,
                force,
                quiet=quiet,
                legacy=legacy,
                optimize=optimize,
                invalidation_mode=invalidation_mode,
            )
    return success


def main():
    """Script main program (compileall's command line)."""
    import argparse

    parser = argparse.ArgumentParser(
        description='Utilities to support installing Python libraries.')
    parser.add_argument('-l', action='store_const', const=0,
                        default=None, dest='maxlevels',
                        help="don't recurse into subdirectories")
    parser.add_argument('-r', type=int, dest='recursion',
                        help=('control the maximum recursion level. '
                              'if `-l` and `-r` options are specified, '
                              'then `-r` takes precedence.'))
    parser.add_argument('-f', action='store_true', dest='force',
                        help='force rebuild even if the .pyc are up to date')
    parser.add_argument('-q', action='count', dest='quiet', default=0,
                        help='output only error messages; -qq will suppress '
                             'the error messages as well.')
    parser.add_argument('-b', action='store_true', dest='legacy',
                        help=('use legacy (pre-PEP3147) compiled file '
                              'locations'))
    parser.add_argument('-d', metavar='DESTDIR', dest='ddir', default=None,
                        help=('directory to prepend to file paths for use in '
                              'compile-time tracebacks and in runtime '
                              'tracebacks in cases where the source file is '
                              'unavailable'))
    parser.add_argument('-s', metavar='STRIPDIR', dest='stripdir',
                        default=None,
                        help=('part of path to left-strip from path '
                              'to source file - for example buildroot. '
                              '`-d` and `-s` options cannot be '
                              'specified together.'))
    parser.add_argument('-p', metavar='PREPENDDIR', dest='prependdir',
                        default=None,
                        help=('path to add as prefix to path '
                              'to source file - for example / to make '
                              'it absolute when some part is removed '
                              'by `-s` option. '
                              '`-d` and `-p` options cannot be '
                              'specified together.'))
    parser.add_argument('-x', metavar='REGEXP', dest='rx', default=None,
                        help=('skip files matching the regular expression; '
                              'the regexp is searched for in the full path '
                              'of each file considered for compilation'))
    parser.add_argument('-i', metavar='FILE', dest='flist',
                        help=('add all the files and directories listed in '
                              'FILE to the list considered for compilation; '
                              'if "-", names are read from stdin'))
    parser.add_argument('compile_dest', metavar='FILE|DIR', nargs='*',
                        help=('zero or more file and directory names '
                              'to compile; if no arguments given, defaults '
                              'to the equivalent of -l sys.path'))
    parser.add_argument('-j', '--workers', default=1,
                        type=int, help='Run compileall concurrently')
    invalidation_modes = [mode.name.lower().replace('_', '-')
                          for mode in py_compile.PycInvalidationMode]
    parser.add_argument('--invalidation-mode',
                        choices=sorted(invalidation_modes),
                        help=('set .pyc invalidation mode; defaults to '
                              '"checked-hash" if the SOURCE_DATE_EPOCH '
                              'environment variable is set, and '
                              '"timestamp" otherwise.'))
    parser.add_argument('-o', action='append', type=int, dest='opt_levels',
                        help=('Optimization levels to run compilation with. '
                              'Default is -1 which uses the optimization '
                              'level of the Python interpreter itself '
                              '(see -O).'))
    parser.add_argument('-e', metavar='DIR', dest='limit_sl_dest',
                        help='Ignore symlinks pointing outsite of the DIR')
    parser.add_argument('--hardlink-dupes', action='store_true',
                        dest='hardlink_dupes',
                        help='Hardlink duplicated pyc files')

    args = parser.parse_args()
    compile_dests = args.compile_dest

    if args.rx:
        import re
        args.rx = re.compile(args.rx)

    if args.limit_sl_dest == "":
        args.limit_sl_dest = None

    if args.recursion is not None:
        maxlevels = args.recursion
    else:
        maxlevels = args.maxlevels

    if args.opt_levels is None:
        args.opt_levels = [-1]

    if len(args.opt_levels) == 1 and args.hardlink_dupes:
        parser.error(("Hardlinking of duplicated bytecode makes sense "
                      "only for more than one optimization level."))

    if args.ddir is not None and (
        args.stripdir is not None or args.prependdir is not None
    ):
        parser.error("-d cannot be used in combination with -s or -p")

    # if flist is provided then load it
    if args.flist:
        try:
            with (sys.stdin if args.flist == '-' else
                    open(args.flist, encoding="utf-8")) as f:
                for line in f:
                    compile_dests.append(line.strip())
        except OSError:
            if args.quiet < 2:
                print("Error reading file list {}".format(args.flist))
            return False

    if args.invalidation_mode:
        ivl_mode = args.invalidation_mode.replace('-', '_').upper()
        invalidation_mode = py_compile.PycInvalidationMode[ivl_mode]
    else:
        invalidation_mode = None

    success = True
    try:
        if compile_dests:
            for dest in compile_dests:
                if os.path.isfile(dest):
                    if not compile_file(dest, args.ddir, args.force, args.rx,
                                        args.quiet, args.legacy,
                                        invalidation_mode=invalidation_mode,
                                        stripdir=args.stripdir,
                                        prependdir=args.prependdir,
                                        optimize=args.opt_levels,
                                        limit_sl_dest=args.limit_sl_dest,
                                        hardlink_dupes=args.hardlink_dupes):
                        success = False
                else:
                    if not compile_dir(dest, maxlevels, args.ddir,
                                       args.force, args.rx, args.quiet,
                                       args.legacy, workers=args.workers,
                                       invalidation_mode=invalidation_mode,
                                       stripdir=args.stripdir,
                                       prependdir=args.prependdir,
                                       optimize=args.opt_levels,
                                       limit_sl_dest=args.limit_sl_dest,
                                       hardlink_dupes=args.hardlink_dupes):
                        success = False
            return success
        else:
            return compile_path(legacy=args.legacy, force=args.force,
                                quiet=args.quiet,
                                invalidation_mode=invalidation_mode)
    except KeyboardInterrupt:
        if args.quiet < 2:
            print("\n[interrupted]")
        return False
    except _lib.Error as e:
        print("{}: {}".format(parser.prog, e), file=sys.stderr)
        return False
    return True


if __name__ == '__main__':
    exit_status = int(not main())
    sys.exit(exit_status)
