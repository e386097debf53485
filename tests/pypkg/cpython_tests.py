# SPDX-License-Identifier: MIT
"""CPython's own Lib/test/test_py_compile.py and test_compileall.py run
against pycompile_repro.py_compile and pycompile_repro.compileall, in
place of the stdlib's.

    /usr/bin/python3.X tests/pypkg/cpython_tests.py [--testdir DIR]
        [--exceptions FILE] [--package DIR] [-v]

The test files come from Debian's libpython3.X-testsuite, unpacked by
tests/pypkg/testsuite.sh and given with --testdir (put first on
test.__path__: the test package itself comes from libpython3.X-stdlib);
without --testdir, from an installed libpython3.X-testsuite.  The tests'
own subprocesses must write bytecode: PYTHONDONTWRITEBYTECODE is unset.
Our modules are put in sys.modules under the stdlib's names before the
tests import them, so `import py_compile`, `import compileall` and
mock.patch('compileall.compile_file') all reach ours; sys.executable
becomes tests/pypkg/python-shim, so the tests' `python -m py_compile`
and `-m compileall` run ours too.

Every test must pass, or be listed in the exceptions file (default
tests/pypkg/exceptions.txt) with the reason it cannot apply.  A listed
test runs all the same, and passing is then a failure (the list must
stay as short as it can be).  Ends with one line:
"cpython-tests: N passed, N failed, N excepted, N skipped".
"""
import argparse
import fnmatch
import io
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SERIES = "%d.%d" % sys.version_info[:2]
MODULES = ("test_py_compile", "test_compileall")


def read_exceptions(path):
    """[(pattern, reason)] for this version.  A line is
    "[X.Y,X.Y:]PATTERN REASON", PATTERN an fnmatch pattern of test ids
    (test_compileall.*.test_compile_pool_called); '#' starts a comment."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            pattern, _, reason = line.partition(" ")
            if not reason.strip():
                raise SystemExit("%s:%d: an exception without a reason"
                                 % (path, n))
            if ":" in pattern:
                versions, pattern = pattern.split(":", 1)
                if SERIES not in versions.split(","):
                    continue
            out.append((pattern, reason.strip()))
    return out


def tests_of(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from tests_of(t)
        else:
            yield t


class Result(unittest.TextTestResult):
    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdir", help="a directory holding the test files")
    ap.add_argument("--exceptions",
                    default=os.path.join(HERE, "exceptions.txt"))
    ap.add_argument("--package", default=os.path.join(ROOT, "python"),
                    help="the directory holding pycompile_repro")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("patterns", nargs="*",
                    help="run only the tests whose id matches one")
    args = ap.parse_args()

    # the tests' own subprocesses import modules and expect .pyc written
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    pkgdir = os.path.abspath(args.package)
    sys.path.insert(0, pkgdir)
    from pycompile_repro import compileall as our_compileall
    from pycompile_repro import py_compile as our_py_compile
    sys.modules["py_compile"] = our_py_compile
    sys.modules["compileall"] = our_compileall

    os.environ["PCR_SHIM_PYTHON"] = sys.executable
    os.environ["PCR_SHIM_PKGDIR"] = pkgdir
    sys.executable = os.path.join(HERE, "python-shim")

    import test
    if args.testdir:
        test.__path__.insert(0, os.path.abspath(args.testdir))
    exceptions = read_exceptions(args.exceptions)

    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name in MODULES:
        mod = __import__("test." + name, fromlist=["*"])
        if args.testdir and not os.path.samefile(
                os.path.dirname(mod.__file__), args.testdir):
            raise SystemExit("%s is not from %s" % (mod.__file__,
                                                     args.testdir))
        if getattr(mod, "compileall", our_compileall) is not our_compileall:
            raise SystemExit("%s uses the stdlib's compileall" % name)
        if mod.py_compile is not our_py_compile:
            raise SystemExit("%s uses the stdlib's py_compile" % name)
        suite.addTests(loader.loadTestsFromModule(mod))

    passed = failed = excepted = skipped = 0
    used = set()
    stream = io.StringIO()
    runner = unittest.TextTestRunner(verbosity=0, stream=stream)
    for t in tests_of(suite):
        tid = t.id()[len("test."):] if t.id().startswith("test.") \
            else t.id()
        if args.patterns and not any(fnmatch.fnmatchcase(tid, p)
                                     for p in args.patterns):
            continue
        reason = None
        for pattern, why in exceptions:
            if fnmatch.fnmatchcase(tid, pattern):
                reason = why
                used.add(pattern)
                break
        stream.seek(0)
        stream.truncate()
        r = runner.run(t)
        bad = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
        if r.skipped and not bad:
            skipped += 1
            if args.verbose:
                print("skipped %s: %s" % (tid, r.skipped[0][1]))
            continue
        if reason is not None:
            if bad:
                excepted += 1
                if args.verbose:
                    print("excepted %s: %s" % (tid, reason))
            else:
                failed += 1
                print("FAIL %s: passes, but is listed as an exception (%s)"
                      % (tid, reason))
            continue
        if bad:
            failed += 1
            print("FAIL %s" % tid)
            print(stream.getvalue())
        else:
            passed += 1
    if not args.patterns:
        for pattern, why in exceptions:
            if pattern not in used:
                failed += 1
                print("FAIL exception %s matches no test (%s)"
                      % (pattern, why))
    print("cpython-tests: %d passed, %d failed, %d excepted, %d skipped"
          % (passed, failed, excepted, skipped))
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
