# SPDX-License-Identifier: MIT
"""pycompile_repro (the Python package) against the pycompile-repro
binary: the same bytes for the same options, the errors, threads, fork,
no import of what is compiled, no process-wide change, check() and
canonicalize(), the -m forms, and a wheel installed with pypa/installer
using pycompile_repro.compileall for its bytecode step.

Run under /usr/bin/python3.X with $PCR_BIN (the binary),
$PYCOMPILE_REPRO_LIBRARY and $PYCOMPILE_REPRO_SERVER_DIR (a build), and
$PCR_PYPKG_DIR (the directory holding pycompile_repro; default python/).
Ends with "pypkg: N passed, N failed, N skipped".
"""
import importlib.util
import io
import os
import py_compile as std_py_compile
import shutil
import signal
import subprocess
import sys
import threading
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PKGDIR = os.path.abspath(os.environ.get("PCR_PYPKG_DIR",
                                        os.path.join(ROOT, "python")))
sys.path.insert(0, PKGDIR)
import pycompile_repro  # noqa: E402
from pycompile_repro import compileall, py_compile  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import common  # noqa: E402
from common import PYVER, TAG, main, pycs_of, readb  # noqa: E402

SOURCES = {
    "plain.py": "x = 123\n",
    "consts.py": ('"""doc"""\nA = ("a", "-", 1.5, 2**70, b"b", None)\n'
                  'S = frozenset({"_", "(", "x"})\n'
                  'def f(a, *, b=1):\n    "doc f"\n    assert a\n'
                  '    return {"é": [a, b]}\n'
                  'class K:\n    def m(self):\n        return lambda: 1j\n'),
    "pkg/__init__.py": "from . import mod\n",
    "pkg/mod.py": "import os\nVALUE = os.sep * 2\n",
    "pkg/sub/deep.py": "def g():\n    yield from range(3)\n",
    "latin.py": b"# -*- coding: latin-1 -*-\nS = '\xe9'\n",
}


def write_tree(root, files=SOURCES):
    for name, data in files.items():
        path = common.write(os.path.join(root, name), data)
        os.utime(path, (1700000000, 1700000000))


def cli(args, env=None, cwd=None):
    """The command line, which must succeed; env adds to the environment."""
    p = common.tool(args, cwd=cwd, extra_env=env)
    if p.returncode != 0:
        raise AssertionError("%s: %s" % (args, p.stderr.decode()))
    return p


def clear_pycs(root):
    """Remove every .pyc and __pycache__ below root; {rel: bytes} before."""
    before = pycs_of(root)
    for d, dirs, files in os.walk(root):
        for f in files:
            if f.endswith(".pyc"):
                os.unlink(os.path.join(d, f))
    return before


class Base(common.TempDirCase):
    prefix = "pcr-pypkg-"

    def setUp(self):
        super().setUp()
        self.saved_sde = os.environ.pop("SOURCE_DATE_EPOCH", None)
        self.addCleanup(self.restore_sde)

    def restore_sde(self):
        os.environ.pop("SOURCE_DATE_EPOCH", None)
        if self.saved_sde is not None:
            os.environ["SOURCE_DATE_EPOCH"] = self.saved_sde

    def tree(self, name="t"):
        root = os.path.join(self.top, name)
        write_tree(root)
        return root


class TestSameBytesAsTheTool(Base):
    def test_py_compile_each_level_and_mode(self):
        a = self.tree("a")
        modes = {"timestamp": py_compile.PycInvalidationMode.TIMESTAMP,
                 "checked-hash": py_compile.PycInvalidationMode.CHECKED_HASH,
                 "unchecked-hash":
                     py_compile.PycInvalidationMode.UNCHECKED_HASH}
        for name in SOURCES:
            for level in (0, 1, 2):
                for mname, mode in modes.items():
                    with self.subTest(name=name, level=level, mode=mname):
                        src = os.path.join(a, name)
                        got = py_compile.compile(src, optimize=level,
                                                 invalidation_mode=mode,
                                                 doraise=True)
                        opt = level if level else ""
                        self.assertEqual(got, importlib.util.cache_from_source(
                            src, optimization=opt))
                        ours = readb(got)
                        os.unlink(got)
                        cli(["-o", str(level), "--invalidation-mode",
                             mname, src])
                        self.assertEqual(ours, readb(got))

    def test_cfile_and_dfile(self):
        a = self.tree("a")
        src = os.path.join(a, "consts.py")
        out = os.path.join(self.top, "out", "x.pyc")
        os.makedirs(os.path.dirname(out))
        self.assertEqual(py_compile.compile(src, cfile=out,
                                            dfile="/usr/lib/x/consts.py"),
                         out)
        cli(["-f", "-d", "/usr/lib/x", src])
        self.assertEqual(readb(out), readb(importlib.util.cache_from_source(
            src)))
        code = std_marshal_code(out)
        self.assertEqual(code.co_filename, "/usr/lib/x/consts.py")

    def test_source_date_epoch_default(self):
        a = self.tree("a")
        os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
        got = py_compile.compile(os.path.join(a, "plain.py"))
        self.assertEqual(readb(got)[4:8], b"\x03\0\0\0")  # checked-hash
        ours = readb(got)
        os.unlink(got)
        cli([os.path.join(a, "plain.py")],
            env={"SOURCE_DATE_EPOCH": "1700000000"})
        self.assertEqual(ours, readb(got))

    def test_compile_dir_with_each_naming(self):
        for kind, kwargs, flags in [
                ("plain", {}, []),
                ("ddir", {"ddir": "/usr/lib/python3/dist-packages"},
                 ["-d", "/usr/lib/python3/dist-packages"]),
                ("strip", {"stripdir": "@ROOT", "prependdir": "/opt"},
                 ["-s", "@ROOT", "-p", "/opt"])]:
            for workers in (1, 0):
                with self.subTest(kind=kind, workers=workers):
                    a = self.tree("a-%s-%d" % (kind, workers))
                    kw = {k: (a if v == "@ROOT" else v)
                          for k, v in kwargs.items()}
                    self.assertTrue(compileall.compile_dir(
                        a, quiet=2, workers=workers, optimize=[0, 1, 2],
                        hardlink_dupes=True, **kw))
                    ours = clear_pycs(a)
                    cli(["-q", "-o", "0", "-o", "1", "-o", "2",
                         "--hardlink-dupes"] +
                        [a if f == "@ROOT" else f for f in flags] + [a])
                    self.assertEqual(len(ours), 3 * len(SOURCES))
                    self.assertEqual(ours, pycs_of(a))

    def test_compile_file_levels_legacy(self):
        a = self.tree("a")
        self.assertTrue(compileall.compile_file(
            os.path.join(a, "consts.py"), quiet=2, legacy=True))
        ours = clear_pycs(a)
        cli(["-b", os.path.join(a, "consts.py")])
        self.assertEqual(ours, pycs_of(a))
        self.assertEqual(list(ours), ["consts.pyc"])

    def test_stdlib_output_differs_only_where_it_is_not_canonical(self):
        # the reason for all this: the same bytes whatever the process did
        a = self.tree("a")
        src = os.path.join(a, "consts.py")
        first = readb(py_compile.compile(src))
        sys.intern("-")
        compile(readb(os.path.join(a, "pkg/mod.py")), "x", "exec")
        self.assertEqual(readb(py_compile.compile(src)), first)


def std_marshal_code(pyc):
    import marshal
    return marshal.loads(readb(pyc)[16:])


class TestErrors(Base):
    def test_syntax_error_as_py_compile(self):
        bad = os.path.join(self.top, "bad.py")
        with open(bad, "w") as f:
            f.write("def f(:\n")
        for mod in (py_compile, std_py_compile):
            with self.assertRaises(mod.PyCompileError) as cm:
                mod.compile(bad, doraise=True)
            if mod is py_compile:
                ours = cm.exception
            else:
                theirs = cm.exception
        self.assertEqual(ours.msg, theirs.msg)
        self.assertEqual(ours.exc_type_name, theirs.exc_type_name)
        self.assertEqual(str(ours.exc_value), str(theirs.exc_value))
        self.assertFalse(os.path.exists(
            importlib.util.cache_from_source(bad)))

    def test_indentation_error_message_as_py_compile(self):
        bad = os.path.join(self.top, "ind.py")
        with open(bad, "w") as f:
            f.write("if x:\npass\n")
        msgs = []
        for mod in (py_compile, std_py_compile):
            with self.assertRaises(mod.PyCompileError) as cm:
                mod.compile(bad, doraise=True, dfile="shown.py")
            msgs.append(cm.exception.msg)
        self.assertEqual(msgs[0], msgs[1])
        self.assertIn("Sorry: IndentationError", msgs[0])

    def test_missing_source_raises_oserror(self):
        with self.assertRaises(FileNotFoundError):
            py_compile.compile(os.path.join(self.top, "nope.py"))

    def test_directory_as_source_raises_as_py_compile(self):
        for mod in (py_compile, std_py_compile):
            with self.assertRaises(IsADirectoryError):
                mod.compile(self.top, cfile=os.path.join(self.top, "x.pyc"))

    def test_doraise_false_writes_to_stderr(self):
        bad = os.path.join(self.top, "bad.py")
        with open(bad, "w") as f:
            f.write("x (\n")
        err = io.StringIO()
        old, sys.stderr = sys.stderr, err
        try:
            self.assertIsNone(py_compile.compile(bad))
        finally:
            sys.stderr = old
        self.assertIn("SyntaxError", err.getvalue())

    def test_no_server_for_this_version_says_so(self):
        empty = os.path.join(self.top, "servers")
        os.mkdir(empty)
        # another version's server only: cpython-3.1 is no real series
        os.symlink(os.path.join(os.environ["PYCOMPILE_REPRO_SERVER_DIR"],
                                "cpython-" + PYVER),
                   os.path.join(empty, "cpython-3.1"))
        src = os.path.join(self.top, "a.py")
        with open(src, "w") as f:
            f.write("x = 1\n")
        code = ("import sys; sys.path.insert(0, %r)\n"
                "import pycompile_repro\n"
                "from pycompile_repro import py_compile\n"
                "try:\n    py_compile.compile(%r)\n"
                "except pycompile_repro.Error as e:\n"
                "    print('Error:', e)\n" % (PKGDIR, src))
        env = dict(os.environ, PYCOMPILE_REPRO_SERVER_DIR=empty)
        p = subprocess.run([sys.executable, "-c", code], env=env,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("no compile server for CPython %s" % PYVER, p.stdout)
        p = subprocess.run([sys.executable, "-m",
                            "pycompile_repro.py_compile", src],
                           env=dict(env, PYTHONPATH=PKGDIR),
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("no compile server for CPython %s" % PYVER, p.stderr)
        self.assertFalse(os.path.exists(
            importlib.util.cache_from_source(src)))

    def test_symlink_cfile_refused(self):
        src = os.path.join(self.top, "a.py")
        with open(src, "w") as f:
            f.write("x = 1\n")
        link = os.path.join(self.top, "a.pyc")
        os.symlink(os.path.join(self.top, "elsewhere"), link)
        with self.assertRaises(FileExistsError):
            py_compile.compile(src, cfile=link)
        self.assertFalse(os.path.exists(os.path.join(self.top, "elsewhere")))


class TestOutput(Base):
    def test_compile_dir_prints_what_compileall_prints(self):
        import compileall as std_compileall
        import contextlib
        files = dict(SOURCES)
        files["pkg/bad.py"] = "x = (\n"
        files["pkg/data.txt"] = "not python\n"
        files["pkg/sub/zz.py"] = "if 1:\n\tx = '\\d'\n"
        outs = []
        for mod, name in ((compileall, "ours"), (std_compileall, "std")):
            root = os.path.join(self.top, "t")  # the same names
            shutil.rmtree(root, True)
            write_tree(root, files)
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                ok = mod.compile_dir(root, stripdir=os.path.join(root, "pkg"),
                                     prependdir="/x")
            outs.append((ok, buf.getvalue()))
        self.assertEqual(outs[0], outs[1])
        self.assertIn("Listing", outs[0][1])
        self.assertIn("SyntaxError", outs[0][1])


class TestProcess(Base):
    def test_two_threads_at_once(self):
        a = self.tree("a")
        names = [n for n in SOURCES]
        want = {}
        for n in names:
            want[n] = readb(py_compile.compile(os.path.join(a, n)))
        errors = []

        def worker(k):
            try:
                for _ in range(15):
                    for n in names:
                        out = os.path.join(self.top, "t%d" % k,
                                           n.replace("/", "_") + "c")
                        os.makedirs(os.path.dirname(out), exist_ok=True)
                        py_compile.compile(os.path.join(a, n), cfile=out,
                                           doraise=True)
                        if readb(out) != want[n]:
                            errors.append((k, n))
            except BaseException as e:  # noqa
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,))
                   for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])

    def test_fork_child_gets_its_own_handle(self):
        a = self.tree("a")
        src = os.path.join(a, "plain.py")
        want = readb(py_compile.compile(src))
        os.unlink(importlib.util.cache_from_source(src))
        pid = os.fork()
        if pid == 0:
            try:
                ok = readb(py_compile.compile(src)) == want
            except BaseException:
                ok = False
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        # and the parent's handle still works
        self.assertEqual(readb(py_compile.compile(src)), want)

    def test_nothing_is_imported_or_run(self):
        marker = os.path.join(self.top, "ran")
        src = os.path.join(self.top, "sidefx_pcr_module.py")
        with open(src, "w") as f:
            f.write("open(%r, 'w').close()\nraise SystemExit(3)\n" % marker)
        before = set(sys.modules)
        self.assertTrue(compileall.compile_dir(self.top, quiet=2))
        py_compile.compile(src, doraise=True)
        self.assertFalse(os.path.exists(marker))
        self.assertNotIn("sidefx_pcr_module", sys.modules)
        self.assertEqual(set(sys.modules) - before, set())

    def test_process_state_unchanged(self):
        a = self.tree("a")
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        handlers = {s: signal.getsignal(s) for s in
                    (signal.SIGPIPE, signal.SIGCHLD, signal.SIGINT,
                     signal.SIGTERM)}
        env = dict(os.environ)
        cwd = os.getcwd()
        umask = os.umask(0o22)
        os.umask(umask)
        compileall.compile_dir(a, quiet=2, workers=0)
        py_compile.compile(os.path.join(a, "plain.py"))
        self.assertEqual(signal.pthread_sigmask(signal.SIG_BLOCK, []), mask)
        self.assertEqual({s: signal.getsignal(s) for s in handlers},
                         handlers)
        self.assertEqual(dict(os.environ), env)
        self.assertEqual(os.getcwd(), cwd)
        self.assertEqual(os.umask(umask), umask)


class TestCheckAndCanonicalize(Base):
    def test_check_records(self):
        a = self.tree("a")
        self.assertTrue(compileall.compile_dir(a, quiet=2))
        recs = pycompile_repro.check(a)
        self.assertEqual(len(recs), len(SOURCES))
        self.assertTrue(all(r.ok for r in recs), recs)
        self.assertEqual({r.python for r in recs}, {PYVER})
        os.unlink(importlib.util.cache_from_source(
            os.path.join(a, "plain.py")))
        with open(os.path.join(a, "pkg/mod.py"), "a") as f:
            f.write("# edited\n")
        status = {os.path.relpath(r.source, a): r.status
                  for r in pycompile_repro.check(a)}
        self.assertEqual(status["plain.py"], "missing")
        self.assertEqual(status["pkg/mod.py"], "stale")
        self.assertEqual(status["consts.py"], "ok")
        # a name that is not there: one record naming it, no .pyc made up
        nope = os.path.join(a, "nope.py")
        recs = pycompile_repro.check([os.path.join(a, "consts.py"), nope])
        self.assertEqual(recs[-1], pycompile_repro.CheckRecord(
            nope, None, None, -1, "unreadable",
            "cannot open: No such file or directory"))

    def test_canonicalize_stdlib_output(self):
        a = self.tree("a")
        for n in SOURCES:
            std_py_compile.compile(os.path.join(a, n), doraise=True)
        recs = pycompile_repro.canonicalize(a)
        self.assertEqual(len(recs), len(SOURCES))
        self.assertTrue(any(r.changed for r in recs))
        self.assertEqual([r.error for r in recs], [""] * len(recs))
        ours = clear_pycs(a)
        # the tool with py_compile's recorded names (the paths as given)
        for n in SOURCES:
            cli([os.path.join(a, n)])
        self.assertEqual(ours, pycs_of(a))


class TestCommandLines(Base):
    def run_m(self, mod, *args, **kw):
        env = dict(os.environ, PYTHONPATH=PKGDIR)
        return subprocess.run([sys.executable, "-m", mod] + list(args),
                              env=env, capture_output=True, **kw)

    def test_m_compileall(self):
        a = self.tree("a")
        p = self.run_m("pycompile_repro.compileall", "-q", "-j0", "-o0",
                       "-o1", a)
        self.assertEqual(p.returncode, 0, p.stderr)
        ours = clear_pycs(a)
        cli(["-q", "-j0", "-o0", "-o1", a])
        self.assertEqual(ours, pycs_of(a))

    def test_m_py_compile(self):
        a = self.tree("a")
        bad = os.path.join(a, "bad.py")
        with open(bad, "w") as f:
            f.write("x = (\n")
        p = self.run_m("pycompile_repro.py_compile",
                       os.path.join(a, "plain.py"), bad)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"SyntaxError", p.stderr)
        self.assertTrue(os.path.exists(importlib.util.cache_from_source(
            os.path.join(a, "plain.py"))))
        p = self.run_m("pycompile_repro.py_compile", "-",
                       input=os.path.join(a, "latin.py").encode())
        self.assertEqual(p.returncode, 0, p.stderr)


class TestInstaller(Base):
    """A wheel installed with pypa/installer, whose bytecode step is
    switched to pycompile_repro.compileall: the .pyc are the tool's."""

    def make_wheel(self):
        import base64
        import hashlib
        whl = os.path.join(self.top, "demo-1.0-py3-none-any.whl")
        files = {"demo/__init__.py": SOURCES["consts.py"],
                 "demo/sub/mod.py": SOURCES["pkg/sub/deep.py"],
                 "demo-1.0.dist-info/METADATA":
                     "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
                 "demo-1.0.dist-info/WHEEL":
                     "Wheel-Version: 1.0\nGenerator: hand\n"
                     "Root-Is-Purelib: true\nTag: py3-none-any\n"}
        record = []
        with zipfile.ZipFile(whl, "w") as z:
            for name, text in files.items():
                data = text.encode()
                z.writestr(name, data)
                digest = base64.urlsafe_b64encode(
                    hashlib.sha256(data).digest()).rstrip(b"=").decode()
                record.append("%s,sha256=%s,%d" % (name, digest, len(data)))
            record.append("demo-1.0.dist-info/RECORD,,")
            z.writestr("demo-1.0.dist-info/RECORD", "\n".join(record) + "\n")
        return whl

    def test_installer_bytecode_step(self):
        try:
            import installer
            import installer.destinations
            from installer.sources import WheelFile
            from installer.destinations import SchemeDictionaryDestination
        except ImportError:
            self.skipTest("no python3-installer")
        whl = self.make_wheel()
        prefix = "/usr/lib/python3/dist-packages"
        destdir = os.path.join(self.top, "root")
        scheme = {k: prefix for k in ("purelib", "platlib")}
        scheme.update(headers="/usr/include", scripts="/usr/bin",
                      data="/usr")
        # the switch: installer.destinations imports compileall; one
        # assignment gives it ours
        # (installer 0.7 imports it at the top of destinations.py, newer
        # ones inside the compile step: then the module itself is swapped)
        swap_module = not hasattr(installer.destinations, "compileall")
        saved = (sys.modules.get("compileall") if swap_module
                 else installer.destinations.compileall)
        if swap_module:
            sys.modules["compileall"] = compileall
        else:
            installer.destinations.compileall = compileall
        try:
            dest = SchemeDictionaryDestination(
                scheme, interpreter=sys.executable, script_kind="posix",
                bytecode_optimization_levels=(0, 1), destdir=destdir)
            with WheelFile.open(whl) as source:
                installer.install(source, dest, {})
        finally:
            if swap_module:
                if saved is None:
                    sys.modules.pop("compileall", None)
                else:
                    sys.modules["compileall"] = saved
            else:
                installer.destinations.compileall = saved
        site = destdir + prefix
        ours = clear_pycs(site)
        self.assertEqual(len(ours), 4, sorted(ours))
        # the tool over the installed sources, with the same names
        for rel in ("demo/__init__.py", "demo/sub/mod.py"):
            d = os.path.dirname(os.path.join(prefix, rel))
            cli(["-q", "-o", "0", "-o", "1", "-d", d,
                 os.path.join(site, rel)])
        self.assertEqual(ours, pycs_of(site))
        code = std_marshal_code(os.path.join(
            site, "demo/__pycache__/__init__.%s.pyc" % TAG))
        self.assertEqual(code.co_filename, prefix + "/demo/__init__.py")


if __name__ == "__main__":
    main("pypkg")
