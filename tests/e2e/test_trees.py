# SPDX-License-Identifier: MIT
"""End-to-end tests for whole trees: every compileall option we support is
run side by side with CPython's own compileall (/usr/bin/python3.X -m
compileall) on two copies of the same tree, and the set of files written,
their order in the listing and the exit codes must agree.  Our bytes must
also equal CPython's canonical reference."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)
from common import (BIN, CMD, PYVER, STDLIB, TAG, main, readb,  # noqa: E402
                    tool)


def compileall(args, cwd, stdin=b""):
    env = dict(os.environ)
    env.pop("SOURCE_DATE_EPOCH", None)
    return subprocess.run([sys.executable, "-m", "compileall"] + args,
                          cwd=cwd, env=env, input=stdin,
                          capture_output=True, timeout=120)


def pycs(root):
    """Relative paths of every .pyc under root, sorted."""
    out = []
    for dirpath, _, files in os.walk(root):
        out += [os.path.relpath(os.path.join(dirpath, f), root)
                for f in files if f.endswith(".pyc")]
    return sorted(out)


def clean(root):
    """Remove every .pyc and every __pycache__ we could have made."""
    for rel in pycs(root):
        os.unlink(os.path.join(root, rel))
    for dirpath, dirs, files in os.walk(root):
        if os.path.basename(dirpath) == "__pycache__" and not files:
            os.rmdir(dirpath)


def compiled_lines(stdout):
    return re.findall(r"^Compiling '(.*)'\.\.\.$", stdout.decode(), re.M)


class TreeBase(common.TempDirCase):
    prefix = "pcr-tree-"

    def setUp(self):
        super().setUp()
        self.outside = os.path.join(self.top, "outside")
        self.write("outside/ext.py", "EXT = 1\n")
        self.write("outside/extdir/e.py", "E = 1\n")
        self.a = self.make_tree("a")
        self.b = self.make_tree("b")

    def make_tree(self, name):
        root = os.path.join(self.top, name)
        files = {
            "pkg/__init__.py": "",
            "pkg/a.py": "A = '-'\n",
            "pkg/notes.txt": "not python\n",
            "pkg/Z_last.py": "Z = 1\n",
            "pkg/bad.py": "def f(:\n",
            "pkg/sub/c.py": "def c():\n    '''doc'''\n    assert c\n",
            "pkg/sub/deep/d.py": "D = {'x', 'y'}\n",
            "pkg/sub/deep/deeper/e.py": "E = 2\n",
            "pkg/__pycache__/junk.py": "junk = 1\n",
            "pkg/skipme/s.py": "S = 1\n",
        }
        for rel, text in files.items():
            common.write(os.path.join(root, rel), text)
        pkg = os.path.join(root, "pkg")
        os.makedirs(os.path.join(pkg, "emptydir"))  # (once crashed UBSan)
        os.symlink(os.path.join(self.outside, "ext.py"),
                   os.path.join(pkg, "link_out.py"))
        os.symlink(os.path.join(pkg, "a.py"), os.path.join(pkg, "link_in.py"))
        os.symlink(os.path.join(self.outside, "extdir"),
                   os.path.join(pkg, "linkdir"))
        os.symlink("/nonexistent/x.py", os.path.join(pkg, "broken.py"))
        os.mkfifo(os.path.join(pkg, "fifo.py"))
        return root


class TestAgainstCompileall(TreeBase):
    CASES = [
        [],
        ["-l"],
        ["-r", "1"],
        ["-r", "0"],
        ["-l", "-r", "2"],
        ["-x", "skip|deeper"],
        ["-x", r"a\.py$"],
        ["-e", "pkg"],
        ["-b"],
        ["-o", "0", "-o", "2"],
        ["-q"],
        ["-qq"],
    ]

    def test_same_files_listing_and_status_as_compileall(self):
        for extra in self.CASES:
            with self.subTest(options=extra):
                clean(self.a)
                clean(self.b)
                ref = compileall(extra + ["pkg"], cwd=self.a)
                got = tool(extra + ["pkg"], cwd=self.b)
                self.assertEqual(got.returncode, ref.returncode,
                                 (got.stderr, ref.stdout))
                self.assertEqual(pycs(self.b), pycs(self.a))
                self.assertEqual(compiled_lines(got.stdout),
                                 compiled_lines(ref.stdout))
                if "-qq" in extra:
                    self.assertEqual(got.stderr, b"")
                    self.assertEqual(got.stdout, b"")
                else:
                    self.assertIn(b"pkg/bad.py", got.stderr)

    def test_bytes_equal_reference_with_d(self):
        got = tool(["-d", "/dest", "--invalidation-mode", "checked-hash",
                    "pkg"], cwd=self.b)
        self.assertEqual(got.returncode, 1)
        src = os.path.join(self.b, "pkg", "sub", "deep", "d.py")
        want = pycref.expected_pyc(src, "/dest/sub/deep/d.py")
        self.assertEqual(readb(pycref.cache_path(src)), want)
        # compileall -d records the same names
        ref = compileall(["-d", "/dest", "--invalidation-mode",
                          "checked-hash", "pkg"], cwd=self.a)
        self.assertEqual(ref.returncode, 1)
        import marshal
        for rel in pycs(self.a):
            a = marshal.loads(readb(os.path.join(self.a, rel))[16:])
            b = marshal.loads(readb(os.path.join(self.b, rel))[16:])
            self.assertEqual(a.co_filename, b.co_filename)

    def test_input_list_and_stdin(self):
        listing = "pkg/a.py\n  pkg/sub  \n\n"
        with open(os.path.join(self.a, "list"), "w") as f:
            f.write(listing)
        with open(os.path.join(self.b, "list"), "w") as f:
            f.write(listing)
        ref = compileall(["-i", "list"], cwd=self.a)
        got = tool(["-i", "list"], cwd=self.b)
        self.assertEqual(got.returncode, ref.returncode)
        self.assertEqual(pycs(self.b), pycs(self.a))
        shutil.rmtree(os.path.join(self.b, "pkg", "sub", "__pycache__"))
        got = tool(["-i", "-"], cwd=self.b, stdin=b"pkg/sub\n")
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertTrue(os.path.exists(os.path.join(
            self.b, "pkg", "sub", "__pycache__", ("c." + TAG + ".pyc"))))

    def test_hardlink_dupes_like_compileall(self):
        args = ["-o", "0", "-o", "1", "-o", "2", "--hardlink-dupes", "pkg"]
        compileall(args, cwd=self.a)
        tool(args, cwd=self.b)

        def links(root):
            out = {}
            for rel in pycs(root):
                st = os.stat(os.path.join(root, rel))
                out[rel] = st.st_nlink
            return out
        self.assertEqual(links(self.b), links(self.a))
        # a.py has no docstring or assert: all three levels are one inode
        d = os.path.join(self.b, "pkg", "__pycache__")
        inodes = {os.stat(os.path.join(d, ("a." + TAG + "%s.pyc") % s)).st_ino
                  for s in ("", ".opt-1", ".opt-2")}
        self.assertEqual(len(inodes), 1)

    def test_usage_errors(self):
        for args in (["--hardlink-dupes", "pkg"], ["-j", "-1", "pkg"],
                     ["-r", "x", "pkg"], ["-x", "(", "pkg"],
                     ["-i", "/nonexistent/list"]):
            with self.subTest(args=args):
                self.assertEqual(tool(args, cwd=self.b).returncode, 2)


class TestUpToDate(TreeBase):
    def run_b(self, args):
        p = tool(args + ["-x", "bad", "pkg"], cwd=self.b)
        self.assertEqual(p.returncode, 0, p.stderr)
        return compiled_lines(p.stdout)

    def mtimes(self):
        return {rel: os.stat(os.path.join(self.b, rel)).st_mtime_ns
                for rel in pycs(self.b)}

    def test_second_run_compiles_nothing_in_every_mode(self):
        for mode in ("timestamp", "checked-hash", "unchecked-hash"):
            with self.subTest(mode=mode):
                args = ["--invalidation-mode", mode]
                self.assertNotEqual(self.run_b(args), [])
                before = self.mtimes()
                self.assertEqual(self.run_b(args), [])
                self.assertEqual(self.mtimes(), before)

    def test_changes_that_force_a_recompile(self):
        base = ["--invalidation-mode", "checked-hash"]
        all_files = self.run_b(base)
        # an edited source (same size, same second): only that file
        src = os.path.join(self.b, "pkg", "a.py")
        st = os.stat(src)
        with open(src, "w") as f:
            f.write("A = '+'\n")
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
        # (link_in.py is a symlink to a.py: its source changed too)
        self.assertEqual(self.run_b(base), ["pkg/a.py", "pkg/link_in.py"])
        # another recorded name (-d) or mode: everything (gh-117204)
        self.assertEqual(self.run_b(base + ["-d", "/x"]), all_files)
        self.assertEqual(self.run_b(["--invalidation-mode", "timestamp",
                                     "-d", "/x"]), all_files)
        # -f: everything, even when current
        self.assertEqual(self.run_b(["--invalidation-mode", "timestamp",
                                     "-d", "/x", "-f"]), all_files)
        # a truncated .pyc is not current
        pyc = pycref.cache_path(os.path.join(self.b, "pkg", "sub", "c.py"))
        with open(pyc, "r+b") as f:
            f.truncate(40)
        self.assertEqual(self.run_b(["--invalidation-mode", "timestamp",
                                     "-d", "/x"]), ["pkg/sub/c.py"])

    def test_summary_line(self):
        p = tool(["-x", "bad", "pkg"], cwd=self.b)
        self.assertRegex(p.stderr.decode(),
                         r"pycompile-repro: 9 files: 9 compiled, 0 up to "
                         r"date, 0 failed in [0-9.]+ s\n$")
        self.assertIn(b"Compiling ", p.stdout)
        self.assertNotIn(b"\r", p.stderr)  # no progress line off a tty
        # -q: neither the listing nor the summary (a postinst's output)
        p = tool(["-q", "-f", "-x", "bad", "pkg"], cwd=self.b)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"", b""))


class TestWorkers(TreeBase):
    def test_same_bytes_and_reports_for_any_number_of_workers(self):
        stdlib = os.path.join(self.top, "lib")
        shutil.copytree((STDLIB + "/email"), stdlib,
                        ignore=shutil.ignore_patterns("__pycache__"))
        with open(os.path.join(stdlib, "broken1.py"), "w") as f:
            f.write("x = (\n")
        with open(os.path.join(stdlib, "broken2.py"), "w") as f:
            f.write("  y = 1\n")
        results = []
        for j in ("1", "2", "0", "7"):
            p = tool(["-f", "-j", j, "--invalidation-mode", "checked-hash",
                      "-o", "0", "-o", "1", "lib"], cwd=self.top)
            self.assertEqual(p.returncode, 1)
            files = {rel: readb(os.path.join(stdlib, rel))
                     for rel in pycs(stdlib)}
            err = re.sub(rb"in [0-9.]+ s", b"", p.stderr)
            results.append((files, p.stdout, err))
        for other in results[1:]:
            self.assertEqual(other, results[0])
        files = results[0][0]
        self.assertGreater(len(files), 40)
        for rel, data in files.items():
            if ".opt-" in rel:
                continue
            src = os.path.join(stdlib, os.path.dirname(os.path.dirname(rel)),
                               os.path.basename(rel).split(".")[0] + ".py")
            self.assertEqual(data, pycref.expected_pyc(
                src, os.path.join("lib", os.path.relpath(src, stdlib))))


class TestInterrupted(TreeBase):
    def stdlib(self):
        lib = os.path.join(self.top, "lib")
        shutil.copytree(STDLIB, lib, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__",
                                                      "config-*"))
        return lib

    def interrupt(self, lib, sig, after):
        import signal
        import time
        env = dict(os.environ)
        env.pop("SOURCE_DATE_EPOCH", None)
        p = subprocess.Popen(CMD + ["-qq", "-j", "2",
                                        "--invalidation-mode",
                                        "checked-hash", "lib"],
                             cwd=self.top, env=env, start_new_session=True)
        # Kill once the first .pyc is in place (plus `after` seconds), not
        # after a fixed delay: under ASan on a busy machine nothing may be
        # written for seconds.
        deadline = time.monotonic() + 120
        while not pycs(lib) and p.poll() is None and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(after)
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        p.wait(timeout=60)
        time.sleep(0.2)  # let any orphan finish dying
        written = [os.path.join(lib, r) for r in pycs(lib)]
        for path in written:
            src = os.path.join(os.path.dirname(os.path.dirname(path)),
                               os.path.basename(path).split(".")[0] + ".py")
            rel = os.path.relpath(src, self.top)
            self.assertEqual(readb(path), pycref.expected_pyc(src, rel),
                             "%s is not complete" % path)
        temps = [f for _, _, fs in os.walk(lib) for f in fs
                 if f.endswith(".tmp")]
        return written, temps

    def test_kill_never_leaves_a_truncated_pyc(self):
        import signal
        lib = self.stdlib()
        written, _ = self.interrupt(lib, signal.SIGKILL, 0.1)
        self.assertGreater(len(written), 0)
        self.assertLess(len(written), 600)  # it really was interrupted

    def test_sigterm_leaves_no_temporary_files(self):
        import signal
        lib = self.stdlib()
        written, temps = self.interrupt(lib, signal.SIGTERM, 0.1)
        self.assertEqual(temps, [])
        self.assertGreater(len(written), 0)


class TestProgress(TreeBase):
    def on_a_terminal(self, *args):
        return common.on_a_terminal([BIN, "--python", PYVER] + list(args),
                                    self.b)

    def test_progress_line_on_a_terminal(self):
        out = self.on_a_terminal("-f", "-x", "bad", "pkg")
        # (the total counts every job, the filtered bad.py too)
        self.assertRegex(out, rb"\r\x1b\[K10/10 files, \d+ files/s")
        self.assertIn(b"9 files: 9 compiled", out)

    def test_no_progress_with_q(self):
        # -q asks for quiet: no progress line even on a terminal (apt's
        # term.log records a postinst's terminal output)
        out = self.on_a_terminal("-f", "-q", "-x", "bad", "pkg")
        self.assertNotIn(b"\x1b[K", out)
        self.assertNotIn(b"files:", out)


if __name__ == "__main__":
    main()
