# SPDX-License-Identifier: MIT
"""End-to-end tests of the friction a new user meets (issue 22): option
typos, spellings, what --help states, where summaries go, what -q does to
--check, --wheel into a new directory, the listing on a terminal, and the
cache alone.  Runs under /usr/bin/python3.X, the interpreter of the
server under test (PYVER)."""
import json
import os
import re
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)
from common import BIN, PYVER, main, on_a_terminal, tool  # noqa: E402


class Base(common.TempDirCase):
    prefix = "pcr-usability-"

    def write(self, rel, text="x = 1\n"):
        return super().write(rel, text)


class TestSmallThings(Base):
    def test_a_typo_gets_a_suggestion(self):
        for arg, want in (("--chekc", b"did you mean --check?"),
                          ("--verion", b"did you mean --version?"),
                          ("--invalidaton-mode=timestamp",
                           b"did you mean --invalidation-mode?"),
                          ("--ca", b"--ca is ambiguous: --cache-clear, --cache-dir"),
                          ("--check=yes", b"option --check takes no value")):
            with self.subTest(arg=arg):
                p = tool([arg, "x.py"], self.top)
                self.assertEqual(p.returncode, 2)
                self.assertIn(want, p.stderr)
        # far from every option: no guess
        p = tool(["--no-compile", "x.py"], self.top)
        self.assertEqual(p.returncode, 2)
        self.assertNotIn(b"did you mean", p.stderr)

    def test_optimise_is_accepted_as_the_help_spells_it(self):
        src = self.write("m.py")
        p = tool(["--optimise", "1", src], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.exists(pycref.cache_path(src, 1)))

    def test_python_without_a_server_lists_the_servers(self):
        p = tool(["--python", "3.99", "x.py"], self.top, explicit=False)
        self.assertEqual(p.returncode, 2)
        line = [x for x in p.stderr.decode().splitlines()
                if "compile servers here:" in x]
        self.assertEqual(len(line), 1, p.stderr)
        self.assertIn(" " + PYVER, line[0])

    def test_help_states_the_default_workers_and_each_option_once(self):
        usage = tool(["--help"], self.top).stdout.decode()
        j = usage[usage.index("-j, --workers"):]
        self.assertIn("default 1", j[:200])
        for opt in re.findall(r"(?m)^  (?:-\w, )?(--[a-z-]+)", usage):
            with self.subTest(opt=opt):
                self.assertEqual(len(re.findall(
                    r"(?m)^  (?:-\w, )?" + opt + r"\b", usage)), 1)

    def test_readme_table_lists_every_option(self):
        """README's option table names every option --help names (it
        left out --remove, which the Debian addon and prerm use)."""
        readme = os.path.join(common.HERE, "..", "..", "README.md")
        if not os.path.exists(readme):
            self.skipTest("no README.md beside the tests")
        with open(readme, encoding="utf-8") as f:
            text = f.read()
        table = text[text.index("| option | meaning |"):]
        table = table[:table.index("\n\n")]
        # the first column of each row
        firsts = " ".join(row.split(" | ")[0]
                          for row in table.splitlines()[2:])
        in_table = set(re.findall(r"(?<![\w-])(--?[\w][\w-]*)", firsts))
        usage = tool(["--help"], self.top).stdout.decode()
        in_help = set()
        for short, long_ in re.findall(
                r"(?m)^  (-\w)?(?:, )?(--[a-z-]+)?", usage):
            in_help |= {o for o in (short, long_) if o}
        in_help |= set(re.findall(r"also spelt (--[a-z-]+)", usage))
        self.assertIn("--remove", in_help)
        self.assertEqual(sorted(in_help - in_table), [])


class TestStreams(Base):
    """stdout: one line per file; every "pycompile-repro:" line (errors,
    notes, summaries) on stderr, for compiling and checking alike."""

    def test_summaries_go_to_stderr_and_stdout_is_per_file(self):
        self.write("pkg/a.py")
        self.write("pkg/b.py")
        p = tool(["pkg"], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode().splitlines(),
                         ["Compiling 'pkg/a.py'...",
                          "Compiling 'pkg/b.py'..."])
        self.assertIn(b"pycompile-repro: 2 files: 2 compiled", p.stderr)
        os.unlink(pycref.cache_path(os.path.join(self.top, "pkg", "b.py")))
        p = tool(["--check", "pkg"], self.top)
        self.assertEqual(p.returncode, 1)
        lines = p.stdout.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"^pkg/__pycache__/b\.\S+\.pyc: missing: ")
        self.assertRegex(p.stderr.decode(),
                         r"pycompile-repro: checked 2 \.pyc: 1 identical, "
                         r"1 differ \(missing 1\), 0 errors in ")
        p = tool(["--canonicalize", "pkg"], self.top)
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"pycompile-repro: 1 .pyc files, 0 rewritten",
                      p.stderr)


class TestCheckQuiet(Base):
    """--check: -q prints the problem lines only, -qq nothing; neither
    changes the exit status or a JSON report; exit 2 is always said."""

    def setUp(self):
        super().setUp()
        for name in ("a", "b", "c"):
            self.write("pkg/%s.py" % name, "x = '%s'\n" % name)
        self.write("pkg/d.py", "y = 1\n")
        self.assertEqual(tool(["-qq", "pkg"], self.top).returncode, 0)
        os.unlink(pycref.cache_path(os.path.join(self.top, "pkg", "b.py")))
        os.utime(os.path.join(self.top, "pkg", "c.py"), (0, 0))

    def test_each_level(self):
        loud = tool(["--check", "pkg"], self.top)
        q = tool(["--check", "-q", "pkg"], self.top)
        qq = tool(["--check", "-qq", "pkg"], self.top)
        for p in (loud, q, qq):
            self.assertEqual(p.returncode, 1)
        self.assertIn(b"checked 4 .pyc", loud.stderr)
        self.assertEqual(q.stdout, loud.stdout)
        self.assertEqual(len(q.stdout.splitlines()), 2, q.stdout)  # b, c
        self.assertEqual(q.stderr, b"")
        self.assertEqual(qq.stdout + qq.stderr, b"")
        js = [tool(["--check", "--format", "json"] + q + ["pkg"], self.top)
              for q in ([], ["-q"], ["-qq"])]
        for p in js:
            self.assertEqual(p.returncode, 1)
        self.assertEqual(js[0].stdout, js[2].stdout)
        self.assertEqual(js[2].stderr, b"")
        # exit 2 is said however quiet
        path = pycref.cache_path(os.path.join(self.top, "pkg", "a.py"))
        os.unlink(path)
        os.mkdir(path)
        p = tool(["--check", "-qq", "pkg"], self.top)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"unreadable", p.stdout)


class TestCheckMissingOperand(Base):
    """--check of a name that does not exist (a typo in a CI path) says
    what compiling says, "NAME: cannot open: ...", and exits 2 (the check
    could not look), never a made-up .pyc "missing" or "source-error"
    (exit 1: "you forgot to build")."""

    NAMES = ("srcc", "nodir/", "nope.py")

    def setUp(self):
        super().setUp()
        self.write("src.py")
        self.assertEqual(tool(["-q", "src.py"], self.top).returncode, 0)

    def test_text_json_and_quiet(self):
        for name in self.NAMES:
            with self.subTest(name=name):
                said = ("pycompile-repro: %s: cannot open: No such file or "
                        "directory\n" % name).encode()
                # compiling says it so (exit 1: a file failed, as py_compile)
                p = tool([name], self.top)
                self.assertEqual(p.returncode, 1)
                self.assertIn(said, p.stderr)
                # checking: the same words, exit 2, and the good file is
                # still checked
                p = tool(["--check", "src.py", name], self.top)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn(said, p.stderr)
                self.assertNotIn(b"__pycache__", p.stdout + p.stderr)
                self.assertNotIn(b"source-error", p.stdout + p.stderr)
                self.assertEqual(p.stdout, b"")
                self.assertIn(b"checked 2 .pyc: 1 identical, 0 differ, "
                              b"1 error in ", p.stderr)
                # -qq: still said, it is why the status is 2
                p = tool(["--check", "-qq", name], self.top)
                self.assertEqual(p.returncode, 2)
                self.assertIn(said, p.stderr)
                # JSON: one record naming the source, no .pyc
                p = tool(["--check", "--format", "json", "src.py", name],
                         self.top)
                self.assertEqual(p.returncode, 2, p.stderr)
                report = json.loads(p.stdout)
                self.assertEqual(report["files"][1], {
                    "source": name, "pyc": None, "python": None,
                    "level": -1, "status": "error", "class": "unreadable",
                    "detail": "cannot open: No such file or directory"})
                self.assertEqual(report["files"][0]["status"], "ok")
                self.assertEqual(report["totals"]["errors"], 1)
                self.assertEqual(report["totals"]["by_class"]["unreadable"],
                                 1)

    def test_in_a_tar_check_too(self):
        env = {"SOURCE_DATE_EPOCH": "1700000000"}
        p = tool(["--tar", "t.tar", "src.py"], self.top, extra_env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = tool(["--check", "--tar", "t.tar", "src.py"], self.top,
                 extra_env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = tool(["--check", "--tar", "t.tar", "src.py", "nope.py"],
                 self.top, extra_env=env)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn(b"pycompile-repro: ./nope.py: cannot open: No such "
                      b"file or directory\n", p.stderr)
        p = tool(["--check", "--tar", "t.tar", "--format", "json", "src.py",
                  "nope.py"], self.top, extra_env=env)
        self.assertEqual(p.returncode, 2, p.stderr)
        bad = [f for f in json.loads(p.stdout)["files"]
               if f["status"] != "ok"]
        self.assertEqual(bad, [{
            "source": "./nope.py", "pyc": None, "python": None, "level": -1,
            "status": "error", "class": "unreadable",
            "detail": "cannot open: No such file or directory"}])
        # a source that does not compile fails a tar check (exit 0 before)
        self.write("bad.py", "def f(:\n")
        p = tool(["--check", "--tar", "t.tar", "src.py", "bad.py"],
                 self.top, extra_env=env)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(b"pycompile-repro: ./bad.py: ", p.stderr)


class TestPycachePrefix(Base):
    """PYTHONPYCACHEPREFIX (sys.pycache_prefix) is honoured as importlib
    honours it: the .pyc go to PREFIX + the source's absolute directory +
    NAME.TAG[.opt-N].pyc, the paths compileall and py_compile write
    (before: ignored, __pycache__ written where that Python never looks);
    said once; not used, and said, where the .pyc are for elsewhere
    (archives, -b, --package)."""

    def setUp(self):
        super().setUp()
        self.write("pkg/__init__.py")
        self.write("pkg/sub/m.py", "def f():\n    return 'x'\n")
        self.write("one.py", "y = 2\n")
        self.write("two.py", "z = 3\n")
        self.ops = ["pkg", "./one.py", os.path.join(self.top, "two.py")]

    def files_below(self, root):
        out = {}
        for d, _dirs, fs in os.walk(root):
            for f in fs:
                p = os.path.join(d, f)
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, root)] = fh.read()
        return out

    def test_written_where_compileall_writes_them(self):
        import shutil
        import subprocess
        for prefix in ("pfx", os.path.join(self.top, "abs pfx", "x")):
            with self.subTest(prefix=prefix):
                for d, dirs, _fs in os.walk(self.top):
                    if "__pycache__" in dirs:
                        shutil.rmtree(os.path.join(d, "__pycache__"))
                root = os.path.join(self.top, prefix)
                env = {"PYTHONPYCACHEPREFIX": prefix}
                # -B: compileall's own imports write nothing there (where
                # the standard library has no .pyc yet, as in a chroot)
                subprocess.run([sys.executable, "-B", "-m", "compileall",
                                "-q", "-o", "0", "-o", "1"] + self.ops,
                               cwd=self.top, check=True,
                               env=dict(os.environ, **env))
                theirs = self.files_below(root)
                self.assertTrue(theirs)
                shutil.rmtree(root)
                p = tool(["-o", "0", "-o", "1"] + self.ops, self.top,
                         extra_env=env)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn(b"PYTHONPYCACHEPREFIX", p.stderr)
                ours = self.files_below(root)
                self.assertEqual(sorted(ours), sorted(theirs))
                self.assertEqual([f for f in self.files_below(self.top)
                                  if "__pycache__" in f], [])
                # the bytes are those of the same run into __pycache__
                p = tool(["-q", "-o", "0", "-o", "1"] + self.ops, self.top)
                self.assertEqual(p.returncode, 0, p.stderr)
                plain = {os.path.basename(k): v for k, v in
                         self.files_below(self.top).items()
                         if "__pycache__" in k}
                self.assertEqual({os.path.basename(k): v
                                  for k, v in ours.items()}, plain)
                # up to date, checked, and removed, all in the prefix
                p = tool(["-o", "0", "-o", "1"] + self.ops, self.top,
                         extra_env=env)
                self.assertIn(b" 0 compiled, ", p.stderr)
                p = tool(["--check", "-o", "0", "-o", "1"] + self.ops,
                         self.top, extra_env=env)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                p = tool(["-q", "--remove"] + self.ops, self.top,
                         extra_env=env)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual([f for f in self.files_below(root)
                                  if f.endswith(".pyc")], [])
                p = tool(["--check"] + self.ops, self.top, extra_env=env)
                self.assertEqual(p.returncode, 1)
                self.assertIn(b": missing: ", p.stdout)
                # -q: not said
                p = tool(["-q", "pkg"], self.top, extra_env=env)
                self.assertEqual(p.stderr, b"")
                shutil.rmtree(root)

    def test_not_used_where_the_pyc_are_for_elsewhere(self):
        env = {"PYTHONPYCACHEPREFIX": "pfx", "SOURCE_DATE_EPOCH": "1"}
        p = tool(["--tar", "t.tar", "pkg"], self.top, extra_env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"PYTHONPYCACHEPREFIX is set but not used", p.stderr)
        import tarfile
        with tarfile.open(os.path.join(self.top, "t.tar")) as t:
            self.assertTrue(all("/__pycache__/" in n or not
                                n.endswith(".pyc") for n in t.getnames()))
        p = tool(["-b", "one.py"], self.top, extra_env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"PYTHONPYCACHEPREFIX is set but not used", p.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.top, "one.pyc")))
        self.assertFalse(os.path.exists(os.path.join(self.top, "pfx")))
        # empty: no prefix, as Python
        p = tool(["one.py"], self.top,
                 extra_env={"PYTHONPYCACHEPREFIX": ""})
        self.assertEqual(p.stderr, b"")
        self.assertTrue(os.path.exists(pycref.cache_path(
            os.path.join(self.top, "one.py"))))


def make_wheel(where, name="demo"):
    """A small pure wheel with a correct RECORD (zipfile only)."""
    import base64
    import hashlib
    path = os.path.join(where, "%s-1.0-py3-none-any.whl" % name)
    files = {"%s/__init__.py" % name: b"VALUE = 1\n",
             "%s/mod.py" % name: b"def f():\n    return 2\n",
             "%s-1.0.dist-info/METADATA" % name:
                 b"Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n"
                 % name.encode(),
             "%s-1.0.dist-info/WHEEL" % name:
                 b"Wheel-Version: 1.0\nGenerator: test\n"
                 b"Root-Is-Purelib: true\nTag: py3-none-any\n"}
    record = ""
    for n, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
        record += "%s,sha256=%s,%d\n" % (n, digest.rstrip(b"=").decode(),
                                          len(data))
    record += "%s-1.0.dist-info/RECORD,,\n" % name
    files["%s-1.0.dist-info/RECORD" % name] = record.encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    return path


class TestCheckHints(Base):
    def test_other_mode_says_how_to_check_as_written(self):
        self.write("pkg/a.py")
        self.write("pkg/b.py")
        self.assertEqual(tool(["-q", "--invalidation-mode", "checked-hash",
                               "pkg"], self.top).returncode, 0)
        p = tool(["--check", "pkg"], self.top)  # no SOURCE_DATE_EPOCH
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout.count(b": other-mode: "), 2)
        self.assertIn(b"2 .pyc are in another invalidation mode than "
                      b"timestamp", p.stderr)
        self.assertIn(b"use --invalidation-mode checked-hash", p.stderr)
        self.assertIn(b"SOURCE_DATE_EPOCH is not set", p.stderr)
        p = tool(["--check", "--invalidation-mode", "checked-hash", "pkg"],
                 self.top)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn(b"invalidation mode", p.stderr)

    def test_check_wheel_says_nothing_of_the_times_it_does_not_write(self):
        whl = make_wheel(self.top)
        out = os.path.join(self.top, "out")
        os.mkdir(out)
        p = tool(["--wheel", whl, "--output", out], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        # writing one: the note stays
        self.assertIn(b"SOURCE_DATE_EPOCH is not set", p.stderr)
        built = os.path.join(out, os.listdir(out)[0])
        p = tool(["--check", "--wheel", built], self.top)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn(b"SOURCE_DATE_EPOCH", p.stderr)


class TestWheelOutput(Base):
    def test_output_dir_with_a_slash_is_made(self):
        whl = make_wheel(self.top)
        p = tool(["--wheel", whl, "--output", "newdir/"], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, b"newdir/demo-1.0-cp%s-none-any.whl\n"
                         % PYVER.replace(".", "").encode())
        self.assertEqual(os.listdir(os.path.join(self.top, "newdir")),
                         ["demo-1.0-cp%s-none-any.whl"
                          % PYVER.replace(".", "")])
        # an existing directory, written with slashes: no "//"
        os.mkdir(os.path.join(self.top, "out"))
        p = tool(["--wheel", whl, "--output", "out//"], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(b"//", p.stdout)
        self.assertTrue(p.stdout.startswith(b"out/demo-1.0-"), p.stdout)

    def test_a_failed_run_leaves_no_new_directory(self):
        p = tool(["--wheel", os.path.join(self.top, "none-1.0-py3-none-"
                                          "any.whl"),
                  "--output", "a/b/c/"], self.top)
        self.assertNotEqual(p.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(self.top, "a")))
        self.write("file")
        p = tool(["--wheel", make_wheel(self.top), "--output", "file/x/"],
                 self.top)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"file/x/: cannot make the output directory", p.stderr)


class TestTerminal(Base):
    def test_progress_line_names_a_file_and_fits_the_width(self):
        deep = "pkg/" + "d" * 70 + "/"
        for name in ("a", "b", "c"):
            self.write(deep + name + ".py", "x = %r\n" % name)
        out = on_a_terminal([BIN, "--python", PYVER, "pkg"], self.top,
                            cols=60)
        lines = [x for x in re.findall(rb"\r\x1b\[K([^\r\n]*)", out)
                 if b"files/s" in x]
        self.assertTrue(lines, out)
        self.assertRegex(lines[-1], rb"^3/3 files, \d+ files/s: \.\.\.d+/"
                         rb"[abc]\.py$")
        for line in lines:
            self.assertLessEqual(len(line), 59, line)
        # a short name whole
        self.write("short/m.py")
        out = on_a_terminal([BIN, "--python", PYVER, "short"], self.top,
                            cols=60)
        self.assertIn(b"1/1 files, ", out)
        self.assertRegex(out, rb"files/s: short/m\.py")


class TestCacheAlone(Base):
    def test_stats_and_clear_alone_in_human_units(self):
        cache = os.path.join(self.top, "cache")
        for i in range(3):
            self.write("pkg/m%d.py" % i, "X = %r\n" % ("x" * 2000 * i))
        p = tool(["-q", "--cache-dir", cache, "--cache-stats", "pkg"],
                 self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        # 3 bodies and the record of what the server said
        self.assertRegex(p.stderr.decode(),
                         r"cache: 0 hits, 3 misses, 3 written, 0 damaged, "
                         r"0 trimmed; 4 entries, \d+\.\d KiB of 1\.0 GiB\n")
        p = tool(["--cache-stats", "--cache-dir", cache], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stderr.decode(), r"^pycompile-repro: cache \S+: "
                         r"4 entries, \d+\.\d KiB of 1\.0 GiB\n$")
        # the variable names it too
        env = dict(os.environ, PYCOMPILE_REPRO_CACHE_DIR=cache)
        p = tool(["--cache-stats"], self.top, env=env)
        self.assertIn(b": 4 entries, ", p.stderr)
        p = tool(["--cache-clear"], self.top, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"4 entries removed", p.stderr)
        entries = [f for _, _, fs in os.walk(cache) for f in fs
                   if len(f) == 62]
        self.assertEqual(entries, [])
        p = tool(["--cache-stats", "--cache-dir", cache], self.top)
        self.assertIn(b": 0 entries, 0 bytes", p.stderr)
        # a warm start again after clearing: all misses
        p = tool(["-q", "-f", "--cache-dir", cache, "--cache-stats", "pkg"],
                 self.top)
        self.assertIn(b"0 hits, 3 misses", p.stderr)

    def test_usage(self):
        env = dict(os.environ)
        env.pop("PYCOMPILE_REPRO_CACHE_DIR", None)
        p = tool(["--cache-stats"], self.top, env=env)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"no cache: give --cache-dir", p.stderr)
        p = tool(["--cache-clear", "--cache-dir", "c", "x.py"], self.top)
        self.assertEqual(p.returncode, 2)
        p = tool(["--cache-stats", "--cache-dir", "none"], self.top)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"none there yet", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.top, "none")))


if __name__ == "__main__":
    main()
