# SPDX-License-Identifier: MIT
"""End-to-end tests: run the pycompile-repro binary ($PCR_BIN) and check
exit codes, messages and the files it writes against CPython's own
behaviour (this file runs under /usr/bin/python3.X, the interpreter of the
compile server under test)."""
import importlib.util
import marshal
import os
import platform
import shutil
import stat
import subprocess
import sys
import traceback
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)
from common import BIN, TAG, main, readb, tool  # noqa: E402


def load_code(pyc):
    return marshal.loads(readb(pyc)[16:])


class Base(common.TempDirCase):
    prefix = "pcr-e2e-"

    def pyc(self, src, level=0):
        return pycref.cache_path(src, level)

    def assert_ok(self, proc):
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())


class TestUsage(Base):
    def test_help_goes_to_stdout_with_status_0(self):
        p = tool(["--help"])
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"usage: pycompile-repro", p.stdout)
        self.assertEqual(p.stderr, b"")

    def test_usage_errors_exit_2(self):
        for args in (["--no-such-option", "x.py"], [], ["-o"],
                     ["-o", "3", "x.py"], ["-o", "one", "x.py"],
                     ["--invalidation-mode", "sometimes", "x.py"],
                     ["-d", "/d", "-s", "/s", "x.py"],
                     ["-0", "x.py"]):
            with self.subTest(args=args):
                p = tool(args)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertTrue(p.stderr.startswith(b"pycompile-repro: "),
                                p.stderr)

    def test_version_names_the_embedded_cpython(self):
        p = tool(["--version"])
        self.assert_ok(p)
        out = p.stdout.decode()
        self.assertIn("CPython %s (" % platform.python_version(), out)
        self.assertIn(TAG, out)
        self.assertIn(str(int.from_bytes(importlib.util.MAGIC_NUMBER[:2],
                                         "little")), out)


class TestCompile(Base):
    def test_bytes_equal_cpython_reference_all_levels_and_modes(self):
        src = self.write("mod.py", '"""doc"""\nassert 1\nx = "-"\n'
                         "def f(a, *, b=2):\n    '''fdoc'''\n"
                         "    return {a, 'é', b'x', 1.5, 2j, 10**30}\n")
        for mode in ("timestamp", "checked-hash", "unchecked-hash"):
            p = tool(["--invalidation-mode", mode, "-o", "0", "-o", "1",
                     "-o", "2", src])
            self.assert_ok(p)
            for lv in (0, 1, 2):
                with self.subTest(mode=mode, level=lv):
                    with open(self.pyc(src, lv), "rb") as f:
                        got = f.read()
                    self.assertEqual(got, pycref.expected_pyc(src, None, lv,
                                                              mode))

    def test_levels_give_distinct_files(self):
        src = self.write("m.py", '"""doc"""\nassert False\n')
        self.assert_ok(tool(["-o", "2", "-o", "0", "-o", "2", src]))
        names = sorted(os.listdir(os.path.join(self.top, "__pycache__")))
        self.assertEqual(names, ["m.%s.opt-2.pyc" % TAG, "m.%s.pyc" % TAG])
        c0 = load_code(self.pyc(src, 0))
        c2 = load_code(self.pyc(src, 2))
        self.assertEqual(c0.co_consts[0], "doc")
        self.assertNotIn("doc", c2.co_consts)

    def test_default_mode_follows_source_date_epoch(self):
        src = self.write("m.py", "x = 1\n")
        cases = {None: 0, "": 0, "1700000000": 3}
        for sde, flags in cases.items():
            self.assert_ok(tool([src], sde=sde))
            with open(self.pyc(src), "rb") as f:
                head = f.read(16)
            with self.subTest(sde=sde):
                self.assertEqual(int.from_bytes(head[4:8], "little"), flags)

    def test_timestamp_header_has_mtime_and_size(self):
        src = self.write("m.py", "x = 1\n")
        os.utime(src, (0, 1234567890.75))
        self.assert_ok(tool(["--invalidation-mode", "timestamp", src]))
        with open(self.pyc(src), "rb") as f:
            head = f.read(16)
        self.assertEqual(head[:4], importlib.util.MAGIC_NUMBER)
        self.assertEqual(int.from_bytes(head[8:12], "little"), 1234567890)
        self.assertEqual(int.from_bytes(head[12:16], "little"), 6)

    def test_one_character_strings_are_always_interned(self):
        src = self.write("m.py", 'x = "-"\ny = "\\xe9"\n')
        self.assert_ok(tool([src]))
        with open(self.pyc(src), "rb") as f:
            data = f.read()
        self.assertIn(b"Z\x01-", data)
        self.assertNotIn(b"z\x01-", data)

    def test_names_from_stdin_lines_and_nul(self):
        a = self.write("a.py", "a = 1\n")
        b = self.write("we\nird.py", "b = 1\n")
        self.assert_ok(tool(["-"], stdin=(a + "\n\n").encode()))
        self.assertTrue(os.path.exists(self.pyc(a)))
        self.assert_ok(tool(["-0", "-"], stdin=(b + "\0").encode()))
        self.assertTrue(os.path.exists(self.pyc(b)))

    def test_mode_follows_the_source_like_importlib(self):
        src = self.write("m.py", "x = 1\n", mode=0o444)
        old = os.umask(0o022)
        try:
            self.assert_ok(tool([src]))
        finally:
            os.umask(old)
        self.assertEqual(stat.S_IMODE(os.stat(self.pyc(src)).st_mode), 0o644)
        src2 = self.write("n.py", "x = 1\n", mode=0o640)
        self.assert_ok(tool([src2]))
        self.assertEqual(stat.S_IMODE(os.stat(self.pyc(src2)).st_mode),
                         0o640)

    def test_no_temporary_files_left(self):
        srcs = [self.write("p%d.py" % i, "x = %d\n" % i) for i in range(20)]
        self.assert_ok(tool(srcs))
        left = os.listdir(os.path.join(self.top, "__pycache__"))
        self.assertEqual(len(left), 20, left)
        self.assertTrue(all(n.endswith(".pyc") for n in left))


class TestRecordedNames(Base):
    SRC = "def f():\n    def g():\n        pass\n    return g\n"

    def filenames(self, pyc):
        code = load_code(pyc)
        inner = [c for c in code.co_consts if hasattr(c, "co_filename")][0]
        return code.co_filename, inner.co_filename

    def test_default_is_the_path_as_given(self):
        src = self.write("pkg/m.py", self.SRC)
        self.assert_ok(tool(["pkg/m.py"], cwd=self.top))
        self.assertEqual(self.filenames(self.pyc(src)),
                         ("pkg/m.py", "pkg/m.py"))

    def test_d_records_dir_and_base_name(self):
        src = self.write("pkg/m.py", self.SRC)
        self.assert_ok(tool(["-d", "/usr/lib/x", src]))
        self.assertEqual(self.filenames(self.pyc(src)),
                         ("/usr/lib/x/m.py",) * 2)
        self.assertEqual(readb(self.pyc(src)),
                         pycref.expected_pyc(src, "/usr/lib/x/m.py",
                                             mode="timestamp"))

    def test_s_and_p_strip_build_root(self):
        src = self.write("root/usr/lib/m.py", self.SRC)
        root = os.path.join(self.top, "root")
        self.assert_ok(tool(["-s", root, "-p", "/", src]))
        self.assertEqual(self.filenames(self.pyc(src)),
                         ("/usr/lib/m.py",) * 2)
        self.assertNotIn(self.top.encode(), readb(self.pyc(src)))

    def test_s_that_is_not_a_prefix_leaves_the_path(self):
        src = self.write("root/m.py", self.SRC)
        self.assert_ok(tool(["-s", self.top + "/ro", src]))
        self.assertEqual(self.filenames(self.pyc(src))[0], src)


class TestBadInput(Base):
    def cpython_message(self, src):
        """What py_compile says for a syntax error in src."""
        with open(src, "rb") as f:
            data = f.read()
        try:
            compile(data, src, "exec", dont_inherit=True)
        except SyntaxError as e:
            return "".join(traceback.format_exception_only(type(e), e))
        except (ValueError, MemoryError, RecursionError) as e:
            return "Sorry: %s: %s" % (type(e).__name__, e)
        self.fail("CPython compiled %s" % src)

    def test_each_bad_file_fails_alone_with_cpythons_message(self):
        good1 = self.write("good1.py", "x = 1\n")
        good2 = self.write("good2.py", "y = 2\n")
        bad = {
            "syntax.py": "def f(:\n    pass\n",
            "indent.py": "if x:\npass\n",
            "tab.py": "if x:\n\tpass\n        pass\n",
            "nul.py": b"x = 1\0\n",
            "undecodable.py": b"x = '\xff\xfe'\n",
            "unknown_coding.py": "# -*- coding: nosuchcodec -*-\nx = 1\n",
            "conflict.py": b"\xef\xbb\xbf# coding: latin-1\nx = 1\n",
            "nested_parens.py": "x = " + "(" * 300 + ")" * 300 + "\n",
            "deep_expr.py": "x = " + "-" * 200000 + "1\n",
            "deep_blocks.py": "".join(" " * i + "if x:\n"
                                      for i in range(120)) + " " * 120
                              + "pass\n",
        }
        paths = [self.write(n, d) for n, d in bad.items()]
        p = tool([good1] + paths + [good2])
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        for path in paths:
            with self.subTest(file=os.path.basename(path)):
                self.assertFalse(os.path.exists(self.pyc(path)))
                self.assertIn("pycompile-repro: %s: " % path, err)
                self.assertIn(self.cpython_message(path).rstrip("\n"), err)
        self.assertTrue(os.path.exists(self.pyc(good1)))
        self.assertTrue(os.path.exists(self.pyc(good2)))

    def test_quiet_hides_errors_but_not_the_status(self):
        bad = self.write("bad.py", "def (\n")
        p = tool(["-q", bad])
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, b"")

    def test_missing_fifo_and_device(self):
        os.mkfifo(os.path.join(self.top, "fifo.py"))
        names = ["missing.py", "fifo.py", "/dev/null"]
        p = tool([os.path.join(self.top, n) for n in names], timeout=20)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertIn("missing.py: cannot open: No such file", err)
        self.assertIn("fifo.py: is a FIFO", err)
        self.assertIn("/dev/null: is a device", err)

    def test_pycache_is_a_file(self):
        src = self.write("m.py", "x = 1\n")
        self.write("__pycache__", "not a directory")
        p = tool([src])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"is not a directory", p.stderr)

    def test_target_symlink_or_directory_is_left_alone(self):
        src = self.write("m.py", "x = 1\n")
        victim = self.write("victim", "precious")
        os.mkdir(os.path.join(self.top, "__pycache__"))
        os.symlink(victim, self.pyc(src))
        p = tool([src])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"is a symlink", p.stderr)
        self.assertTrue(os.path.islink(self.pyc(src)))
        self.assertEqual(readb(victim), b"precious")
        os.unlink(self.pyc(src))
        os.mkdir(self.pyc(src))
        p = tool([src])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"not a regular file", p.stderr)
        self.assertTrue(os.path.isdir(self.pyc(src)))

    def test_failed_recompile_keeps_the_old_pyc(self):
        src = self.write("m.py", "x = 1\n")
        args = ["--invalidation-mode", "checked-hash", "-o", "0", "-o", "1"]
        self.assert_ok(tool(args + [src]))
        before = [readb(self.pyc(src, lv)) for lv in (0, 1)]
        self.write("m.py", "x = (\n")
        self.assertEqual(tool(args + [src]).returncode, 1)
        after = [readb(self.pyc(src, lv)) for lv in (0, 1)]
        self.assertEqual(before, after)

    @unittest.skipUnless(shutil.which("setpriv") and os.geteuid() == 0,
                         "needs root and setpriv to drop privileges")
    def test_unwritable_directory(self):
        src = self.write("m.py", "x = 1\n")
        os.chmod(self.top, 0o755)
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", BIN, src],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"cannot create", p.stderr)
        self.assertIn(b"Permission denied", p.stderr)


class TestCPythonUsesOurFiles(Base):
    def import_verbose(self, module):
        """Import module in a fresh CPython; return its -v trace."""
        return subprocess.run([sys.executable, "-B", "-v", "-c",
                               "import " + module], cwd=self.top,
                              capture_output=True, check=True).stderr

    def test_import_with_source_hash_checked(self):
        self.write("pkg_ours/__init__.py", "")
        src = self.write("pkg_ours/m.py", "def f():\n    return 1\n")
        self.assert_ok(tool(["--invalidation-mode", "checked-hash", src]))
        # importlib says where the code object came from.
        trace = self.import_verbose("pkg_ours.m")
        self.assertIn(("# code object from '%s'" % self.pyc(src)).encode(),
                      trace)
        # After an edit the checked hash no longer matches: CPython must
        # compile the source instead, so the test can tell the two apart.
        self.write("pkg_ours/m.py", "def f():\n    return 2\n")
        trace = self.import_verbose("pkg_ours.m")
        self.assertNotIn(self.pyc(src).encode() + b"'", trace)
        self.assertIn(("# code object from %s" % src).encode(), trace)

    def test_sourceless_import_runs(self):
        src = self.write("lonely.py", "def f():\n    return 6 * 7\n")
        self.assert_ok(tool([src]))
        shutil.move(self.pyc(src), os.path.join(self.top, "lonely.pyc"))
        os.unlink(src)
        out = subprocess.run([sys.executable, "-c",
                              "import lonely; print(lonely.f())"],
                             cwd=self.top, capture_output=True, check=True)
        self.assertEqual(out.stdout.strip(), b"42")


class TestDistributionHelpers(Base):
    def test_clamp_mtime_before_compiling(self):
        src = self.write("m.py", "x = 1\n")
        os.utime(src, (5000, 5000))
        p = tool(["--clamp-mtime", "--invalidation-mode", "timestamp", src],
                 sde="1000")
        self.assert_ok(p)
        self.assertEqual(os.stat(src).st_mtime, 1000)
        head = readb(self.pyc(src))[:16]
        self.assertEqual(int.from_bytes(head[8:12], "little"), 1000)
        old = self.write("old.py", "y = 2\n")
        os.utime(old, (10, 10))  # older than the epoch: left alone
        self.assert_ok(tool(["--clamp-mtime", old], sde="1000"))
        self.assertEqual(os.stat(old).st_mtime, 10)
        self.assertEqual(tool(["--clamp-mtime", src]).returncode, 2)

    @unittest.skipUnless(shutil.which("dpkg-query"), "needs dpkg")
    def test_package_lists_what_dpkg_installed(self):
        self.assertEqual(tool(["--package", "no-such-package-here"])
                         .returncode, 2)
        self.assertEqual(tool(["--package", "Bad;Name"]).returncode, 2)
        # read-only: --check on an installed package with Python modules
        listing = subprocess.run(["dpkg-query", "-L", "python3-yaml"],
                                 capture_output=True)
        if listing.returncode != 0:
            self.skipTest("python3-yaml is not installed")
        want = sorted(p for p in listing.stdout.decode().split("\n")
                      if p.endswith(".py") and
                      p.startswith("/usr/lib/python3/"))
        p = tool(["--check", "--format", "json", "--package",
                 "python3-yaml"])
        self.assertIn(p.returncode, (0, 1), p.stderr)
        import json
        # (one record per .pyc: other versions' .pyc of a source too)
        got = sorted({f["source"] for f in json.loads(p.stdout)["files"]})
        self.assertEqual(got, want)

    @unittest.skipUnless(shutil.which("dpkg-query"), "needs dpkg")
    def test_package_works_as_py3compile_p(self):
        import json

        def modules(pkg):
            out = subprocess.run(["dpkg-query", "-L", pkg],
                                 capture_output=True)
            return sorted(p for p in out.stdout.decode().split("\n")
                          if p.endswith(".py") and
                          p.startswith("/usr/lib/python3/"))

        a, b = modules("python3-yaml"), modules("python3-wheel")
        if not a or not b:
            self.skipTest("python3-yaml and python3-wheel are needed")

        def checked(args, sde=None):
            p = tool(["--check", "--format", "json"] + args, sde=sde)
            self.assertIn(p.returncode, (0, 1), p.stderr)
            files = json.loads(p.stdout)["files"]
            return sorted({f["source"] for f in files}), files, p

        # repeatable: both packages, not only the last
        got, _, _ = checked(["--package", "python3-yaml",
                             "--package", "python3-wheel"])
        self.assertEqual(got, sorted(a + b))
        # a directory restricts the package's files to those below it
        sub = os.path.dirname(b[-1])
        got, _, _ = checked(["--package", "python3-wheel", sub])
        self.assertEqual(got, [f for f in b if f.startswith(sub + "/")])
        # the mode the Debian hook writes (timestamp), whatever
        # SOURCE_DATE_EPOCH says
        _, plain, _ = checked(["--package", "python3-yaml"])
        _, with_epoch, _ = checked(["--package", "python3-yaml"],
                                   sde="1700000000")
        self.assertEqual(plain, with_epoch)
        # a package without Python modules is said so
        p = tool(["--check", "--package", "make"])
        self.assertIn(b"make: the package has no Python modules", p.stderr)


class TestEnvironmentDoesNotMatter(Base):
    def test_same_bytes_under_hostile_environment_and_order(self):
        srcs = [self.write("m%d.py" % i,
                           "A = {'a', 'b', %d}\nB = ('-', '+', 'x y')\n"
                           "def f(x):\n    return x, '-', %d\n" % (i, i))
                for i in range(5)]
        self.assert_ok(tool(["--invalidation-mode", "checked-hash"] + srcs))
        first = [readb(self.pyc(s)) for s in srcs]
        env = dict(os.environ, PYTHONHASHSEED="random", PYTHONOPTIMIZE="2",
                   PYTHONPATH="/nonexistent", PYTHONHOME="/nonexistent",
                   LC_ALL="C", PYTHONUTF8="0", PYTHONINTMAXSTRDIGITS="640",
                   PYTHONWARNINGS="error", PYTHONSTARTUP="/etc/passwd")
        p = tool(["--invalidation-mode", "checked-hash"] + srcs[::-1],
                 env=env)
        self.assert_ok(p)
        self.assertEqual([readb(self.pyc(s)) for s in srcs],
                         first)


if __name__ == "__main__":
    main()
