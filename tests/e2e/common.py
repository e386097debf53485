# SPDX-License-Identifier: MIT
"""What the end-to-end suites share: where the binary under test is
($PCR_BIN, optionally under $PCR_WRAPPER such as valgrind), the CPython
version under test (this interpreter's: each suite runs under
/usr/bin/python3.X of the server it tests), running the tool, a test
case with a temporary directory, small file helpers, and the suites'
closing line "e2e: N passed, N failed, N skipped".

Each suite runs as a script (tests/run.sh: /usr/bin/python3.X
tests/e2e/test_X.py) and puts this directory on sys.path itself (so -I
works too); importing this module puts tests/parity there as well
(pycref).  tests/packaging and tests/pypkg use it too."""
import os
import shutil
import subprocess
import sys
import tempfile
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
         umask=None, explicit=True, wrapped=True, timeout=120):
    """Run the tool and return the CompletedProcess (output captured).

    The environment is env (default: this process's), always without
    SOURCE_DATE_EPOCH unless sde gives one and without
    PYTHONPYCACHEPREFIX; without
    PYCOMPILE_REPRO_CACHE_DIR unless env is given; then extra_env on
    top.  --python PYVER unless explicit is false; under $PCR_WRAPPER
    unless wrapped is false (a reference run, not the run under test);
    umask for the run if given; under $PCR_WRAPPER the timeout is ten
    times longer."""
    e = dict(os.environ if env is None else env)
    e.pop("SOURCE_DATE_EPOCH", None)
    e.pop("PYTHONPYCACHEPREFIX", None)  # where the .pyc go: tests say
    if env is None:
        e.pop("PYCOMPILE_REPRO_CACHE_DIR", None)
    if sde is not None:
        e["SOURCE_DATE_EPOCH"] = sde
    e.update(extra_env or {})
    cmd = ((WRAPPER if wrapped else []) + [BIN]
           + (["--python", PYVER] if explicit else []) + list(args))
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


def cache_entries(cache):
    """A --cache-dir's entries of compiled code ("PCRC"), sorted: not its
    records of what the servers said ("PCRS"), nor temporary files."""
    out = []
    for d, _, files in os.walk(cache):
        for f in files:
            path = os.path.join(d, f)
            if not f.endswith(".tmp") and readb(path)[:4] == b"PCRC":
                out.append(path)
    return sorted(out)


def write(path, data, mode=None):
    """Write data (str as UTF-8, or bytes) to path, making its parent
    directories; chmod it to mode if given; return path."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    if mode is not None:
        os.chmod(path, mode)
    return path


def pycs_of(root):
    """{relative path: bytes} of every .pyc below root."""
    out = {}
    for d, _dirs, files in os.walk(root):
        for f in files:
            if f.endswith(".pyc"):
                p = os.path.join(d, f)
                out[os.path.relpath(p, root)] = readb(p)
    return out


def on_a_terminal(cmd, cwd, cols=None):
    """Run cmd (not under $PCR_WRAPPER) in cwd with a pseudo-terminal as
    its stdout and stderr, cols columns wide if given; return all it
    wrote."""
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        if cols is not None:
            import fcntl
            import struct
            import termios
            fcntl.ioctl(0, termios.TIOCSWINSZ,
                        struct.pack("HHHH", 24, cols, 0, 0))
        os.chdir(cwd)
        os.execv(cmd[0], cmd)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    return out


class TempDirCase(unittest.TestCase):
    """A test with a new directory self.top (named after prefix, removed
    after the test) and write(rel, data, mode) below it."""
    prefix = "pcr-e2e-"

    def setUp(self):
        self.top = tempfile.mkdtemp(prefix=self.prefix)
        self.addCleanup(shutil.rmtree, self.top, True)

    def write(self, rel, data, mode=None):
        return write(os.path.join(self.top, rel), data, mode)


def main(label="e2e"):
    """unittest.main, then one line "LABEL: N passed, N failed, N skipped"
    counting tests (a test with failing subtests counts once); exit 1 if
    any failed."""
    result = unittest.main(exit=False, verbosity=1).result

    def test_of(t):  # a failed subtest counts as its test
        return getattr(t, "test_case", t).id()
    bad = {test_of(t) for t, _ in result.failures + result.errors}
    bad |= {test_of(t) for t in result.unexpectedSuccesses}
    # (an error in setUpClass fails tests that never ran: no negatives)
    print("%s: %d passed, %d failed, %d skipped"
          % (label, max(0, result.testsRun - len(bad) - len(result.skipped)),
             len(bad), len(result.skipped)))
    sys.exit(1 if bad else 0)
