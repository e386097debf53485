# SPDX-License-Identifier: MIT
"""What the end-to-end suites share: where the binary under test is
($PCR_BIN, optionally under $PCR_WRAPPER such as valgrind), the CPython
version under test (this interpreter's: each suite runs under
/usr/bin/python3.X of the server it tests), running the tool, and the
suites' closing line "e2e: N passed, N failed, N skipped"."""
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "parity"))

BIN = os.path.abspath(os.environ.get("PCR_BIN", "build/pycompile-repro"))
# e.g. "valgrind -q --error-exitcode=99": runs the tool under a checker
WRAPPER = os.environ.get("PCR_WRAPPER", "").split()
TAG = sys.implementation.cache_tag
# The version under test is this interpreter's (the oracle's), always asked
# for explicitly: on a system whose python3 is another version (sid: 3.14
# beside 3.13) each server is tested against its own interpreter.
PYVER = "%d.%d" % sys.version_info[:2]
CMD = WRAPPER + [BIN, "--python", PYVER]
TAGB = TAG.encode()
CPTAG = "cp" + PYVER.replace(".", "")  # a wheel's python tag
CPTAGB = CPTAG.encode()
STDLIB = "/usr/lib/python" + PYVER
STDLIBB = STDLIB.encode()
SERVER_DIR = os.path.join(os.path.dirname(BIN), "libexec", "pycompile-repro")
LIBRARY = os.path.join(os.path.dirname(BIN), "libpycompile-repro.so")


def tool(args, cwd=None, sde=None, env=None, extra_env=None, stdin=b"",
         umask=None, explicit=True, timeout=120):
    """Run the tool: SOURCE_DATE_EPOCH only as sde says, the cache
    variable only in a given env; --python PYVER unless explicit is
    false; under $PCR_WRAPPER the timeout is ten times longer."""
    e = dict(os.environ if env is None else env)
    e.pop("SOURCE_DATE_EPOCH", None)
    if env is None:
        e.pop("PYCOMPILE_REPRO_CACHE_DIR", None)
    if sde is not None:
        e["SOURCE_DATE_EPOCH"] = sde
    e.update(extra_env or {})
    cmd = (CMD if explicit else WRAPPER + [BIN]) + list(args)
    old = os.umask(umask) if umask is not None else None
    try:
        return subprocess.run(cmd, cwd=cwd, env=e, input=stdin,
                              capture_output=True,
                              timeout=timeout * (10 if WRAPPER else 1))
    finally:
        if old is not None:
            os.umask(old)


def readb(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    """unittest.main, then one line "e2e: N passed, N failed" counting
    tests (a test with failing subtests counts once)."""
    result = unittest.main(exit=False, verbosity=1).result
    bad = {id(t) for t, _ in result.failures + result.errors}
    bad |= {id(t) for t in result.unexpectedSuccesses}
    nbad = len(bad)
    # (an error in setUpClass fails tests that never ran: no negatives)
    print("e2e: %d passed, %d failed, %d skipped"
          % (max(0, result.testsRun - nbad - len(result.skipped)), nbad,
             len(result.skipped)))
    sys.exit(1 if nbad else 0)
