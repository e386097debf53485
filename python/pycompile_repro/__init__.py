# SPDX-License-Identifier: MIT
"""pycompile_repro: reproducible .pyc files from Python, through
libpycompile-repro.

    from pycompile_repro import py_compile    # in place of py_compile
    from pycompile_repro import compileall    # in place of compileall

Beyond the two stdlib modules:
    check(paths)          the records of `pycompile-repro --check`
    canonicalize(paths)   rewrite .pyc files in canonical form, in place

Every .pyc is written for this interpreter's version by that version's
compile server; pycompile_repro.Error says so when none is installed.
"""
import os
from typing import NamedTuple, Optional

from . import _lib
from ._lib import Error

__all__ = ["check", "canonicalize", "CheckRecord", "CanonicalizeRecord",
           "Error", "library_version", "canonical_form"]


class CheckRecord(NamedTuple):
    """One .pyc as `pycompile-repro --check` sees it."""
    source: str
    pyc: Optional[str]
    python: Optional[str]  # "3.13"
    level: int             # -1: none
    status: str            # "ok", "missing", "stale", "not-canonical", ...
    detail: str            # the first difference, or what went wrong

    @property
    def ok(self):
        return self.status == "ok"


class CanonicalizeRecord(NamedTuple):
    """One .pyc canonicalize() looked at."""
    pyc: str
    changed: bool  # rewritten
    error: str     # "" when all went well


def _paths(paths):
    if isinstance(paths, (str, bytes, os.PathLike)):
        return [paths]
    return list(paths)


def check(paths, optimize=-1, invalidation_mode=None, *, ddir=None,
          stripdir=None, prependdir=None, legacy=False, maxlevels=None):
    """Compare the .pyc of the sources in paths (files or directories,
    walked as compileall walks) with what would be written, writing
    nothing.  Returns one CheckRecord per .pyc (per source, with pyc
    None, for a source checked as a whole: excluded, of a version with no
    server here, or not there to read), in the order of the sources.  The record names
    follow pycompile-repro's -d, -s and -p."""
    levels = [optimize] if isinstance(optimize, int) else list(optimize)
    from .py_compile import _level
    mode = _lib.mode_of(invalidation_mode)

    def setup(h):
        h.python()
        for level in sorted({_level(o) for o in levels}):
            h.level(level)
        h.mode(mode)
        h.flag(_lib.FLAG_LEGACY, legacy)
        h.record_names(ddir, stripdir, prependdir)
        if maxlevels is not None:
            h.max_depth(maxlevels)
        for p in _paths(paths):
            h.operand(p)

    with _lib.handle() as h:
        rc, events = h.run(_lib.VERB_CHECK, setup)
        names = {c: h.class_name(c) for c in range(16)}
        if rc == _lib.ENV and not any(e.kind == _lib.EV_PYC for e in events):
            raise Error(h.error())
    out = []
    for e in events:
        if e.kind == _lib.EV_PYC:
            out.append(CheckRecord(e.source, e.pyc, e.python, e.level,
                                   names.get(e.cls, "?"), e.message))
        elif e.kind == _lib.EV_SOURCE and e.outcome == _lib.FAILED:
            # a source that could not be read at all (not there: the
            # check could not look) or compiled: no .pyc to name
            out.append(CheckRecord(e.source, None, e.python, -1,
                                   "unreadable" if e.status == _lib.ENV
                                   else "source-error", e.message))
    return out


def canonicalize(paths):
    """Rewrite the .pyc files in paths (files, or directories searched
    for .pyc) in canonical form, in place, whoever wrote them.  Returns
    one CanonicalizeRecord per .pyc."""
    def setup(h):
        for p in _paths(paths):
            h.operand(p)

    with _lib.handle() as h:
        rc, events = h.run(_lib.VERB_CANONICALIZE, setup)
        if rc == _lib.ENV and not any(e.kind == _lib.EV_PYC for e in events):
            raise Error(h.error())
    return [CanonicalizeRecord(e.pyc, bool(e.changed),
                               e.message if e.status != _lib.OK else "")
            for e in events if e.kind == _lib.EV_PYC]


def library_version():
    """libpycompile-repro's version string ("0.2.0")."""
    return _lib.lib().pcr_version_string().decode()


def canonical_form():
    """The canonical form the library writes (docs/canonical-form.md)."""
    return _lib.lib().pcr_canonical_form()
