# SPDX-License-Identifier: MIT
"""Hostile input and hostile neighbours (issue 12): each test is one of the
defects found by attacking the tool, or a sibling of one.  Runs under
/usr/bin/python3.X of the server under test; some cases need root
(mknod)."""
import functools
import json
import os
import stat
import subprocess
import sys
import tarfile
import time
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)
from common import CMD, TAG, WRAPPER, main, readb  # noqa: E402

SDE = "1700000000"
ROOT = os.geteuid() == 0
# a fixed epoch unless a test says otherwise
tool = functools.partial(common.tool, sde=SDE)


def wheel(path, files, record=True):
    """A wheel holding files {name: bytes}, with a right RECORD."""
    import base64
    import hashlib
    di = "foo-1.0.dist-info"
    files = dict(files)
    files[di + "/METADATA"] = b"Metadata-Version: 2.1\nName: foo\n" \
                              b"Version: 1.0\n"
    files[di + "/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n" \
                           b"Tag: py3-none-any\n"
    rows = []
    for name, data in files.items():
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
        rows.append("%s,sha256=%s,%d" % (name, h.rstrip(b"=").decode(),
                                         len(data)))
    rows.append(di + "/RECORD,,")
    if record:
        files[di + "/RECORD"] = ("\n".join(rows) + "\n").encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


class Base(common.TempDirCase):
    prefix = "pcr-hostile-"

    def setUp(self):
        super().setUp()
        self.write("pkg/a.py", "x = 1\n")

    def refused(self, p, *words):
        self.assertIn(p.returncode, (1, 2), p.stderr)
        self.assertTrue(p.stderr.startswith(b"pycompile-repro: ") or
                        b"\npycompile-repro: " in p.stderr, p.stderr)
        for w in words:
            self.assertIn(w.encode() if isinstance(w, str) else w, p.stderr)


class TestOutputs(Base):
    # 1. a predictable archive temp name followed symlinks
    def test_symlink_at_the_temp_name_is_never_followed(self):
        victim = self.write("victim", "precious")
        code = ("import os,sys\n"
                "for i in range(64):\n"
                "    os.symlink(%r, 'out.tar.%%d.%%d.tmp' %% (os.getpid(), i))"
                "\nos.execv(sys.argv[1], sys.argv[1:])\n" % victim)
        p = subprocess.run([sys.executable, "-c", code] + CMD +
                           ["--tar", "out.tar", "pkg"], cwd=self.top,
                           capture_output=True,
                           env=dict(os.environ, SOURCE_DATE_EPOCH=SDE))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(readb(victim), b"precious")
        self.assertTrue(tarfile.is_tarfile(os.path.join(self.top,
                                                        "out.tar")))

    # 2. an archive written over a device node
    @unittest.skipUnless(ROOT, "mknod needs root")
    def test_device_nodes_are_never_replaced(self):
        for name in ("null.tar", "full.tar.gz"):
            dev = os.path.join(self.top, name)
            os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
            p = tool(["--tar", name, "pkg"], self.top)
            self.refused(p, "not a regular file")
            self.assertTrue(stat.S_ISCHR(os.stat(dev).st_mode))
        whl = wheel(os.path.join(self.top, "foo-1.0-py3-none-any.whl"),
                    {"foo/__init__.py": b"x = 1\n"})
        dev = os.path.join(self.top, "full")
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        p = tool(["--wheel", whl, "--output", dev], self.top)
        self.refused(p, "not a regular file")
        self.assertTrue(stat.S_ISCHR(os.stat(dev).st_mode))
        # a symlink as the output is refused too
        os.symlink("elsewhere", os.path.join(self.top, "link.tar"))
        p = tool(["--tar", "link.tar", "pkg"], self.top)
        self.refused(p, "symlink")

    # 3. a huge SOURCE_DATE_EPOCH crashed the zip writer
    def test_epoch_out_of_range_for_each_format(self):
        whl = wheel(os.path.join(self.top, "foo-1.0-py3-none-any.whl"),
                    {"foo/__init__.py": b"x = 1\n"})
        out = os.path.join(self.top, "out")
        os.mkdir(out)
        for sde in ("9223372036854775807", "67768036191676800", "-5",
                    "12a"):
            with self.subTest(sde=sde):
                p = tool(["--wheel", whl, "--output", out], self.top, sde=sde)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(b"SOURCE_DATE_EPOCH", p.stderr)
                p = tool(["--tar", "o.tar", "pkg"], self.top, sde=sde)
                self.assertEqual(p.returncode, 2, p.stderr)
        # within the year 9999 but past what a zip holds (2107)
        p = tool(["--wheel", whl, "--output", out], self.top,
                 sde="5000000000")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"cannot be stored in a zip", p.stderr)
        self.assertEqual(os.listdir(out), [])
        p = tool(["--tar", "o.tar", "pkg"], self.top, sde="5000000000")
        self.assertEqual(p.returncode, 0, p.stderr)

    # 9. a tar without sources recorded the newest source's time
    def test_tar_timestamp_pyc_match_their_own_sources(self):
        old = self.write("pkg/old.py", "y = 2\n")
        os.utime(old, (1000, 1000))
        p = tool(["--invalidation-mode", "timestamp", "--tar", "t.tar",
                  "pkg"], self.top, sde=None)
        self.assertEqual(p.returncode, 0, p.stderr)
        with tarfile.open(os.path.join(self.top, "t.tar")) as t:
            data = t.extractfile("pkg/__pycache__/old.%s.pyc" % TAG).read()
        self.assertEqual(int.from_bytes(data[8:12], "little"), 1000)

    def test_tar_names_are_relative_to_C(self):
        # as tar -C: NAME is taken relative to DIR
        p = tool(["--tar", "a.tar", "-C", "pkg", "a.py"], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        with tarfile.open(os.path.join(self.top, "a.tar")) as t:
            self.assertEqual(t.getnames(),
                             ["__pycache__", "__pycache__/a.%s.pyc" % TAG])
        self.write("db/m.py", "y = 1\n")
        p = tool(["--tar", "b.tar.gz", "-C", "pkg/..", "db"], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        with tarfile.open(os.path.join(self.top, "b.tar.gz")) as t:
            self.assertIn("db/__pycache__/m.%s.pyc" % TAG, t.getnames())
        # a name outside DIR is still refused
        p = tool(["--tar", "c.tar", "-C", "pkg", "../db"], self.top)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"is outside the -C directory pkg", p.stderr)

    def test_tar_needs_a_tar_name(self):
        for name in ("out.zip", "out.whl", "out.tar.bz3"):
            p = tool(["--tar", name, "pkg"], self.top)
            self.assertEqual(p.returncode, 2, name)
            self.assertFalse(os.path.exists(os.path.join(self.top, name)))

    def test_killed_runs_leave_no_temp_files_for_ever(self):
        """A temporary file is a killed writer's when its process is gone
        and it is older than an hour.  The age matters: a writer in
        another PID namespace (a container, an NFS client) has a PID we
        cannot see, and 0.2 removed its file as it was being written."""
        pc = os.path.join(self.top, "pkg", "__pycache__")
        os.makedirs(pc)
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = self.write("pkg/__pycache__/a.%s.pyc.%d.0.tmp"
                           % (TAG, dead.pid), "half")
        alive = self.write("pkg/__pycache__/a.%s.pyc.%d.0.tmp"
                           % (TAG, os.getpid()), "busy")
        other = self.write("pkg/__pycache__/notes.%d.0.tmp" % dead.pid, "x")
        # fresh, of a PID not running here: a writer in another PID
        # namespace, busy now
        foreign = self.write("pkg/__pycache__/b.%s.pyc.%d.0.tmp"
                             % (TAG, dead.pid), "busy")
        t = time.time() - 2 * 3600
        for path in (stale, alive, other):
            os.utime(path, (t, t))
        p = tool(["-f", "pkg"], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(stale))
        self.assertTrue(os.path.exists(alive))
        self.assertTrue(os.path.exists(other))
        self.assertTrue(os.path.exists(foreign))

    @unittest.skipUnless(ROOT, "chown needs root")
    def test_canonicalize_keeps_owner_group_and_mode(self):
        import py_compile
        src = os.path.join(self.top, "pkg", "a.py")
        pyc = py_compile.compile(src, doraise=True)  # not canonical
        data = readb(pyc)
        os.chown(pyc, 65534, 65534)
        os.chmod(pyc, 0o640)
        p = tool(["--canonicalize", pyc], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        st = os.stat(pyc)
        self.assertEqual((st.st_uid, st.st_gid), (65534, 65534))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertNotEqual(readb(pyc), bytes(data))


class TestInputs(Base):
    # 5. non-ASCII names in archives, whatever the locale
    def test_non_ascii_names_in_archives_under_the_c_locale(self):
        self.write("pkg/caf\u00e9.py", "x = 'caf\u00e9'\n")
        env = dict(os.environ, LC_ALL="C", LANG="C")
        p = tool(["--tar", "t.tar", "--include-sources", "pkg"], self.top,
                 env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        with tarfile.open(os.path.join(self.top, "t.tar"),
                          encoding="utf-8") as t:
            names = t.getnames()
        self.assertIn("pkg/caf\u00e9.py", names)
        self.assertIn("pkg/__pycache__/caf\u00e9.%s.pyc" % TAG, names)
        whl = wheel(os.path.join(self.top, "foo-1.0-py3-none-any.whl"),
                    {"foo/caf\u00e9.py": b"x = 1\n",
                     "foo/__init__.py": b""})
        p = tool(["--wheel", whl, "--output", "out.whl"], self.top, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        with zipfile.ZipFile(os.path.join(self.top, "out.whl")) as z:
            self.assertIn("foo/__pycache__/caf\u00e9.%s.pyc" % TAG,
                          z.namelist())
            info = z.getinfo("foo/caf\u00e9.py")
            self.assertTrue(info.flag_bits & 0x800)  # UTF-8 flag

    # 6. a small wheel whose source needs huge memory to compile
    def test_a_wheel_source_that_needs_too_much_memory(self):
        src = ("x = " + " + ".join(["1"] * 200000) + "\n").encode()
        whl = wheel(os.path.join(self.top, "foo-1.0-py3-none-any.whl"),
                    {"foo/__init__.py": src, "foo/ok.py": b"y = 1\n"})
        p = tool(["--memory-limit", "32", "--wheel", whl, "--output",
                  "out.whl"], self.top)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"foo/__init__.py: compiling it needs more memory "
                      b"than the limit of 32 MiB", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.top, "out.whl")))
        big = wheel(os.path.join(self.top, "big-1.0-py3-none-any.whl"),
                    {"big/__init__.py": b"#" * (65 << 20)})
        p = tool(["--wheel", big, "--output", "o2.whl"], self.top)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"too large", p.stderr)
        self.assertIn(b"the limit is 64 MiB", p.stderr)

    # 7. one huge source ended the whole -j1 run
    def test_a_huge_source_is_its_own_failure_at_any_j(self):
        self.write("pkg/z.py", "z = 1\n")
        with open(os.path.join(self.top, "pkg", "big.py"), "wb") as f:
            f.truncate(700 << 20)  # sparse
        for j in ("1", "2"):
            with self.subTest(j=j):
                p = tool(["-f", "-j", j, "pkg"], self.top)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(b"pkg/big.py: too large: 734003200 bytes, "
                              b"the limit is 64 MiB", p.stderr)
                self.assertIn(b"3 files: 2 compiled, 0 up to date, 1 "
                              b"failed", p.stderr)
                self.assertTrue(os.path.exists(pycref.cache_path(
                    os.path.join(self.top, "pkg", "z.py"))))

    # 11. a FIFO as --wheel input hung for ever
    def test_fifo_and_directory_as_wheel_input(self):
        os.mkfifo(os.path.join(self.top, "f-1.0-py3-none-any.whl"))
        p = tool(["--wheel", "f-1.0-py3-none-any.whl", "--output", "o.whl"],
                 self.top, timeout=20)
        self.refused(p, "not a regular file")
        os.mkdir(os.path.join(self.top, "d-1.0-py3-none-any.whl"))
        p = tool(["--wheel", "d-1.0-py3-none-any.whl", "--output", "o.whl"],
                 self.top)
        self.refused(p, "not a regular file")

    # 12. a source whose name has two dots and its old .pyc
    def test_wheel_replaces_the_pyc_of_a_dotted_source(self):
        whl = wheel(os.path.join(self.top, "foo-1.0-py3-none-any.whl"),
                    {"foo/b.c.py": b"x = 1\n",
                     "foo/__pycache__/b.c.%s.pyc" % TAG: b"stale",
                     "foo/__pycache__/b.c.cpython-310.opt-1.pyc": b"old"})
        p = tool(["--wheel", whl, "--output", "out.whl"], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        with zipfile.ZipFile(os.path.join(self.top, "out.whl")) as z:
            names = z.namelist()
            self.assertNotEqual(z.read("foo/__pycache__/b.c.%s.pyc" % TAG),
                                b"stale")
        self.assertNotIn("foo/__pycache__/b.c.cpython-310.opt-1.pyc", names)

    def test_wheel_input_must_be_a_zip_with_one_directory(self):
        # a gzip tar named .whl, as pip refuses it
        tgz = os.path.join(self.top, "foo-1.0-py3-none-any.whl")
        with tarfile.open(tgz, "w:gz") as t:
            t.add(os.path.join(self.top, "pkg"), "pkg")
        p = tool(["--wheel", tgz, "--output", "o.whl"], self.top)
        self.refused(p, "not a zip")
        # a zip whose local header names another file than its directory
        whl = wheel(os.path.join(self.top, "bar-1.0-py3-none-any.whl"),
                    {"foo/evil.py": b"x = 1\n"})
        data = bytearray(readb(whl))
        at = data.find(b"foo/evil.py")  # the first one: a local header
        data[at:at + 11] = b"foo/good.py"
        with open(whl, "wb") as f:
            f.write(data)
        p = tool(["--wheel", whl, "--output", "o.whl"], self.top)
        self.refused(p, "central directory and local headers disagree")


class TestReports(Base):
    # 4. --check exited 0 with a .pyc missing (0x1e in a name, long paths)
    def test_check_reports_every_pyc_whatever_its_name(self):
        odd = self.write("pkg/a\x1eb.py", "x = 1\n")
        deep = os.path.join(self.top, "pkg", *(["d" * 200] * 6), "m.py")
        os.makedirs(os.path.dirname(deep))
        with open(deep, "w") as f:
            f.write("y = 2\n")
        p = tool(["-q", "-o0", "-o1", "-o2", "pkg"], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        for src in (odd, deep):
            os.unlink(pycref.cache_path(src, 1))
        p = tool(["--check", "-o0", "-o1", "-o2", "--format", "json", "pkg"],
                 self.top)
        self.assertEqual(p.returncode, 1, p.stdout)
        files = json.loads(p.stdout)["files"]
        missing = sorted(os.path.join(self.top, f["source"]) for f in files
                         if f["class"] == "missing")
        self.assertEqual(missing, sorted([odd, deep]))
        self.assertEqual(len(files), 3 * 3)
        # a syntax error on a line holding 0x1e keeps its detail
        self.write("pkg/a\x1eb.py", "x = '\x1e' +\n")
        p = tool(["--check", "pkg"], self.top)
        self.assertIn(b"source-error", p.stdout)
        self.assertIn(b"SyntaxError", p.stdout)

    # 8. --check -x counted excluded files as identical
    def test_excluded_files_are_skipped_not_identical(self):
        self.write("pkg/b.py", "y = 2\n")
        tool(["-q", "pkg"], self.top)
        p = tool(["--check", "-x", "b\\.py", "--format", "json", "pkg"],
                 self.top)
        self.assertEqual(p.returncode, 0, p.stdout)
        report = json.loads(p.stdout)
        by = {f["source"].rsplit("/", 1)[1]: f for f in report["files"]}
        self.assertEqual(by["a.py"]["class"], "ok")
        self.assertEqual(by["b.py"]["class"], "skipped")
        self.assertEqual(by["b.py"]["status"], "skipped")
        self.assertEqual(report["totals"]["identical"], 1)
        self.assertEqual(report["totals"]["skipped"], 1)
        p = tool(["--check", "-x", "b\\.py", "pkg"], self.top)
        self.assertIn(b"1 identical", p.stderr)
        self.assertIn(b"1 skipped", p.stderr)

    # 10. JSON with names that are not UTF-8
    def test_json_names_are_lossless(self):
        names = [b"a\xc0\x80.py", b"b\xff.py", b"c\xed\xa0\x80.py",
                 "d\u00e9.py".encode()]
        for n in names:
            with open(os.path.join(os.fsencode(self.top), b"pkg", n),
                      "wb") as f:
                f.write(b"x = 1\n")
        p = tool(["--check", "--format", "json", "pkg"], self.top)
        report = json.loads(p.stdout)  # valid JSON
        got = sorted(os.fsencode(os.path.basename(f["source"]))
                     for f in report["files"])
        self.assertEqual(got, sorted(names + [b"a.py"]))


class TestCosts(Base):
    # --dump took n x depth
    def test_dump_of_a_deep_pyc_is_linear(self):
        depth, n = 1990, 1 << 20
        body = b")\x01" * depth + b"s" + n.to_bytes(4, "little") + \
            b"x" * n
        pyc = self.write("deep.pyc", pycref.importlib.util.MAGIC_NUMBER +
                         b"\x03\x00\x00\x00" + b"\0" * 8 + body)
        t = time.monotonic()
        p = subprocess.run(CMD + ["--dump", pyc], capture_output=True,
                           timeout=60 * (10 if WRAPPER else 1),
                           preexec_fn=lambda: __import__("resource")
                           .setrlimit(__import__("resource").RLIMIT_CPU,
                                      (20, 20)))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"1991 objects", p.stdout)
        self.assertLess(time.monotonic() - t, 60)


if __name__ == "__main__":
    main()
