# SPDX-License-Identifier: MIT
"""End-to-end tests for archives: reproducible tarballs and wheels with
.pyc files, read back with Python's tarfile and zipfile, installed with
Debian's python3-installer, and hostile wheels refused."""
import base64
import csv
import functools
import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)
from common import CPTAG, TAG, TAGB, WRAPPER, main, readb  # noqa: E402

SDE = "1700000000"
# the archive suites run with a fixed epoch unless a test says otherwise
tool = functools.partial(common.tool, sde=SDE)


def record_ok(whl):
    """An independent RECORD check: every entry hashed and sized."""
    with zipfile.ZipFile(whl) as z:
        names = z.namelist()
        rec_name = [n for n in names if n.endswith(".dist-info/RECORD")][0]
        rows = list(csv.reader(io.StringIO(z.read(rec_name).decode())))
        listed = {r[0]: r for r in rows}
        assert set(listed) == set(names), (set(listed) ^ set(names))
        for name in names:
            path, h, size = listed[name]
            if name == rec_name:
                assert h == "" and size == "", rows[-1]
                continue
            data = z.read(name)
            want = base64.urlsafe_b64encode(
                hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert h == "sha256=" + want, name
            assert int(size) == len(data), name
    return True


class Base(common.TempDirCase):
    prefix = "pcr-arch-"

    def import_trace(self, module, path_dir):
        return subprocess.run([sys.executable, "-B", "-v", "-c",
                               "import %s" % module],
                              cwd=path_dir, capture_output=True,
                              check=True).stderr


class TestTar(Base):
    @staticmethod
    def make_src(self, root, order):
        files = {"pkg/__init__.py": "from .b import B\n",
                 "pkg/b.py": "B = ('-', 'x y')\n",
                 "pkg/sub/c.py": "def c():\n    return '-'\n",
                 "pkg/tool.py": "print('run')\n"}
        for rel in (sorted(files) if order else sorted(files, reverse=True)):
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(files[rel])
        os.chmod(os.path.join(root, "pkg/tool.py"), 0o755)

    def test_reproducible_under_tz_umask_cwd_and_order(self):
        a, b = os.path.join(self.top, "a"), os.path.join(self.top, "b")
        self.make_src(self, a, True)
        self.make_src(self, b, False)
        os.utime(os.path.join(b, "pkg", "b.py"), (1, 1))
        out = {}
        for ext in (".tar", ".tar.gz", ".tar.xz", ".tar.zst"):
            p1 = tool(["--tar", os.path.join(self.top, "1" + ext),
                       "--include-sources", "-C", a, os.path.join(a, "pkg")],
                      cwd=self.top, extra_env={"TZ": "Asia/Tokyo"},
                      umask=0o022)
            p2 = tool(["--tar", os.path.join(self.top, "2" + ext),
                       "--include-sources", "pkg"], cwd=b,
                      extra_env={"TZ": "America/New_York"}, umask=0o077)
            self.assertEqual(p1.returncode, 0, p1.stderr)
            self.assertEqual(p2.returncode, 0, p2.stderr)
            out[ext] = readb(os.path.join(self.top, "1" + ext))
            self.assertEqual(out[ext],
                             readb(os.path.join(self.top, "2" + ext)), ext)
        self.assertEqual(out[".tar.gz"][4:8], b"\0\0\0\0")  # gzip MTIME
        self.assertEqual(out[".tar.zst"][:4], b"\x28\xb5\x2f\xfd")
        self.assertEqual(out[".tar.xz"][:6], b"\xfd7zXZ\0")

    def test_entries_sorted_owned_stamped_and_importable(self):
        a = os.path.join(self.top, "a")
        self.make_src(self, a, True)
        out = os.path.join(self.top, "o.tar.gz")
        p = tool(["--tar", out, "--include-sources", "pkg"], cwd=a)
        self.assertEqual(p.returncode, 0, p.stderr)
        with tarfile.open(out) as t:
            members = t.getmembers()
            names = [m.name for m in members]
            self.assertEqual(names, sorted(names))
            self.assertIn(("pkg/__pycache__/b." + TAG + ".pyc"), names)
            self.assertIn("pkg/sub", names)
            for m in members:
                self.assertEqual((m.uid, m.gid, m.uname, m.gname),
                                 (0, 0, "root", "root"))
                self.assertEqual(m.mtime, int(SDE))
                self.assertNotIn("atime", m.pax_headers)
                self.assertNotIn("ctime", m.pax_headers)
                want = 0o755 if m.isdir() or m.name.endswith("tool.py") \
                    else 0o644
                self.assertEqual(stat.S_IMODE(m.mode), want, m.name)
            dest = os.path.join(self.top, "x")
            t.extractall(dest)
        pyc = os.path.join(dest, "pkg", "__pycache__", ("b." + TAG + ".pyc"))
        self.assertEqual(readb(pyc)[4:8], b"\3\0\0\0")  # checked-hash
        trace = self.import_trace("pkg", dest)
        self.assertIn(("code object from '%s'" % pyc).encode(), trace)
        # the recorded name is the entry name
        self.assertEqual(readb(pyc), pycref.expected_pyc(
            os.path.join(dest, "pkg", "b.py"), "pkg/b.py"))

    def test_errors(self):
        a = os.path.join(self.top, "a")
        self.make_src(self, a, True)
        out = os.path.join(self.top, "o.tar")
        # outside -C
        p = tool(["--tar", out, "-C", os.path.join(a, "pkg"),
                  os.path.join(a, "pkg", "..", "pkg", "b.py"),
                  os.path.join(a, "other.py")], cwd=a)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"outside the -C directory", p.stderr)
        self.assertFalse(os.path.exists(out))
        # bad SOURCE_DATE_EPOCH
        for bad in ("-1", "soon", "1.5", " 1"):
            p = tool(["--tar", out, "pkg"], cwd=a, sde=bad)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn(b"SOURCE_DATE_EPOCH", p.stderr)
        # a source that does not compile: no archive at all
        self.write("a/pkg/bad.py", "def (:\n")
        p = tool(["--tar", out, "pkg"], cwd=a)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"pkg/bad.py", p.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertEqual([f for f in os.listdir(self.top)
                          if f.startswith("o.tar")], [])
        # an unknown extension is a usage error
        self.assertEqual(tool(["--tar", "o.rar", "pkg"], cwd=a).returncode,
                         2)

    def test_without_epoch_says_which_time_and_clamp_keeps_older(self):
        a = os.path.join(self.top, "a")
        self.make_src(self, a, True)
        for rel in ("pkg/__init__.py", "pkg/b.py", "pkg/sub/c.py",
                    "pkg/tool.py"):
            os.utime(os.path.join(a, rel), (1000, 1000))
        os.utime(os.path.join(a, "pkg/b.py"), (500, 500))
        out = os.path.join(self.top, "o.tar")
        p = tool(["--tar", out, "pkg"], cwd=a, sde=None)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"SOURCE_DATE_EPOCH is not set: the archive's times "
                      b"are 1000", p.stderr)
        p = tool(["--tar", out, "--clamp-mtime", "pkg"], cwd=a, sde="900")
        self.assertEqual(p.returncode, 0, p.stderr)
        with tarfile.open(out) as t:
            times = {m.name: m.mtime for m in t.getmembers()}
        self.assertEqual(times[("pkg/__pycache__/b." + TAG + ".pyc")], 500)
        self.assertEqual(times[("pkg/__pycache__/c." + TAG + ".pyc")
                               .replace("c.", "__init__.")], 900)


class TestCheckArchives(Base):
    def test_check_tar(self):
        src = os.path.join(self.top, "a")
        TestTar.make_src(None, src, True)
        out = os.path.join(self.top, "o.tar.xz")
        self.assertEqual(tool(["--tar", out, "pkg"], cwd=src).returncode, 0)
        p = tool(["--check", "--tar", out, "pkg"], cwd=src)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(b"4 identical, 0 differ", p.stderr)
        with open(os.path.join(src, "pkg", "b.py"), "a") as f:
            f.write("C = 3\n")
        p = tool(["--check", "--tar", out, "--format", "json", "pkg"],
                 cwd=src)
        self.assertEqual(p.returncode, 1)
        import json
        report = json.loads(p.stdout)
        bad = [f for f in report["files"] if f["class"] != "ok"]
        self.assertEqual(len(bad), 1)
        self.assertEqual(bad[0]["class"], "stale")
        self.assertTrue(bad[0]["pyc"].endswith(
            (":pkg/__pycache__/b." + TAG + ".pyc")))

    def test_check_reports_in_name_order_for_every_j(self):
        """A tar's and a wheel's check list their .pyc sorted by name, as
        a directory's check does, the same for every -j and every run
        (before: largest first, in the order the servers finished)."""
        src = os.path.join(self.top, "a")
        # sizes not in name order, some large enough to take a while
        for k in range(12):
            size = (k * 7919) % 12
            common.write(os.path.join(src, "pkg", "m%02d.py" % k),
                         "X = %r\n" % list(range(size * 400)))
        out = os.path.join(self.top, "o.tar")
        self.assertEqual(tool(["--tar", out, "pkg"], cwd=src).returncode, 0)
        for k in (1, 4, 6, 9):  # stale: problem lines in the text report
            with open(os.path.join(src, "pkg", "m%02d.py" % k), "a") as f:
                f.write("Y = 1\n")
        reports = set()
        for j in ("1", "2", "1", "2", "2"):
            p = tool(["--check", "--tar", out, "-j", j, "--format", "json",
                      "pkg"], cwd=src)
            self.assertEqual(p.returncode, 1, p.stderr)
            import json
            pycs = [f["pyc"] for f in json.loads(p.stdout)["files"]]
            self.assertEqual(pycs, sorted(pycs))
            self.assertEqual(len(pycs), 12)
            t = tool(["--check", "--tar", out, "-j", j, "pkg"], cwd=src)
            self.assertEqual(t.returncode, 1)
            reports.add((p.stdout, t.stdout))
        self.assertEqual(len(reports), 1)
        lines = t.stdout.decode().splitlines()
        self.assertEqual([x.split(": ")[0].rsplit("/", 1)[1][:3]
                          for x in lines], ["m01", "m04", "m06", "m09"])
        # a wheel's check likewise
        whl = os.path.join(self.top, "w", "pkg-1.0-py3-none-any.whl")
        os.makedirs(os.path.dirname(whl))
        with zipfile.ZipFile(whl, "w") as z:
            for k in range(12):
                name = "pkg/m%02d.py" % k
                with open(os.path.join(src, name), "rb") as f:
                    z.writestr(name, f.read())
            z.writestr("pkg-1.0.dist-info/METADATA",
                       "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n")
            z.writestr("pkg-1.0.dist-info/WHEEL",
                       "Wheel-Version: 1.0\nGenerator: t\n"
                       "Root-Is-Purelib: true\nTag: py3-none-any\n")
        reports = set()
        for j in ("1", "2", "1", "2"):
            p = tool(["--check", "--wheel", whl, "-j", j, "--no-verify-record",
                      "--format", "json"], cwd=self.top)
            self.assertEqual(p.returncode, 1, p.stderr)
            pycs = [f["pyc"] for f in json.loads(p.stdout)["files"]]
            self.assertEqual(pycs, sorted(pycs))
            reports.add(p.stdout)
        self.assertEqual(len(reports), 1)

    def test_check_wheel(self):
        whl = TestWheel.debian_wheel(self)
        out = os.path.join(self.top, "out", ("PyYAML-6.0-" + CPTAG + "-none-any.whl"))
        os.makedirs(os.path.dirname(out))
        p = tool(["--wheel", whl, "--output", os.path.dirname(out)],
                 cwd=self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = tool(["--check", "--wheel", out], cwd=self.top)
        self.assertEqual(p.returncode, 0, p.stdout)
        # the input has no .pyc at all
        p = tool(["--check", "--wheel", whl], cwd=self.top)
        self.assertEqual(p.returncode, 1)
        self.assertIn((b"yaml/__pycache__/loader." + TAGB + b".pyc: missing"),
                      p.stdout)
        # a tampered .pyc, with RECORD made to match it
        tampered = os.path.join(self.top, "t", os.path.basename(out))
        os.makedirs(os.path.dirname(tampered))
        with zipfile.ZipFile(out) as zin, \
                zipfile.ZipFile(tampered, "w") as zout:
            rows = []
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename == ("yaml/__pycache__/nodes." + TAG + ".pyc"):
                    data = data.replace(b"ScalarNode", b"ScalarNoda")
                if info.filename.endswith("RECORD"):
                    continue
                zout.writestr(info, data)
                h = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
                rows.append("%s,sha256=%s,%d\n" % (
                    info.filename, h.rstrip(b"=").decode(), len(data)))
            rows.append("PyYAML-6.0.dist-info/RECORD,,\n")
            zout.writestr("PyYAML-6.0.dist-info/RECORD", "".join(rows))
        p = tool(["--check", "--wheel", tampered], cwd=self.top)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"nodes." + TAGB + b".pyc: different: different code: "
                      b"code object", p.stdout)
        self.assertIn(b"'ScalarNoda' vs 'ScalarNode'", p.stdout)
        self.assertNotIn(b"RECORD", p.stdout)
        # a RECORD that does not match
        broken = os.path.join(self.top, "b", os.path.basename(out))
        os.makedirs(os.path.dirname(broken))
        with zipfile.ZipFile(out) as zin, \
                zipfile.ZipFile(broken, "w") as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename == "yaml/nodes.py":
                    data += b"# edited\n"
                zout.writestr(info, data)
        p = tool(["--check", "--wheel", broken], cwd=self.top)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"RECORD: different: RECORD does not match the "
                      b"contents of 'yaml/nodes.py'", p.stdout)
        self.assertIn((b"nodes." + TAGB + b".pyc: stale"), p.stdout)


def tar_header(name, typ=tarfile.REGTYPE, size=0, fmt=tarfile.USTAR_FORMAT,
               prefix=None):
    """One raw 512-byte tar header, whatever it says."""
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mtime, ti.mode = typ, size, int(SDE), 0o644
    h = bytearray(ti.tobuf(fmt))
    if prefix is not None:  # a prefix field where the format has none
        h[345:345 + len(prefix) + 1] = prefix + b"\0"
    return tar_checksum(h)


def tar_checksum(h):
    h = bytearray(h)
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def tar_pad(data):
    return data + b"\0" * (-len(data) % 512)


def tar_member(name, data, typ=tarfile.REGTYPE, fmt=tarfile.USTAR_FORMAT,
               prefix=None):
    return tar_header(name, typ, len(data), fmt, prefix) + tar_pad(data)


def pax_body(**records):
    out = b""
    for k, v in records.items():
        r = b" %s=%s\n" % (k.encode(), v)
        n = len(r) + 1
        while len(str(n)) + len(r) != n:
            n += 1
        out += str(n).encode() + r
    return out


class TestCheckTarAmbiguous(Base):
    """--check --tar reads a tar as every extractor would, or refuses it:
    a .pyc given twice, or named so that GNU tar, tarfile and libarchive
    see different files, must never be called identical (issue 23, item
    4: ours then a .pyc of zeros passed, and tar extracted the zeros)."""

    def setUp(self):
        super().setUp()
        self.src = os.path.join(self.top, "a")
        TestTar.make_src(None, self.src, True)
        out = os.path.join(self.top, "ours.tar")
        p = tool(["--tar", out, "pkg"], cwd=self.src)
        self.assertEqual(p.returncode, 0, p.stderr)
        with tarfile.open(out) as t:
            t.getmembers()
            end = t.offset  # after the last member: no end marker
        self.ours = readb(out)[:end]
        self.target = "pkg/__pycache__/b." + TAG + ".pyc"
        with tarfile.open(out) as t:
            self.zeros = b"\0" * t.getmember(self.target).size

    def check(self, tail, name):
        path = os.path.join(self.top, name + ".tar")
        with open(path, "wb") as f:
            f.write(self.ours + tail + b"\0" * 1024)
        return path, tool(["--check", "--tar", path, "pkg"], cwd=self.src)

    def extracted(self, path, how):
        dest = os.path.join(self.top, "x-" + how + os.path.basename(path))
        os.makedirs(dest)
        if how == "tarfile":
            with tarfile.open(path) as t:
                try:
                    t.extractall(dest)
                except OSError:
                    pass
        else:
            subprocess.run(["tar", "-xf", path, "-C", dest],
                           capture_output=True)
        pyc = os.path.join(dest, self.target)
        return readb(pyc) if os.path.isfile(pyc) else None

    def test_ours_and_harmless_variants_pass(self):
        for name, tail in {
                "ours": b"",
                "directory-again": tar_member("pkg/", b"", tarfile.DIRTYPE),
                "global-comment": tar_member(
                    "pax_global_header", pax_body(comment=b"abc"),
                    tarfile.XGLTYPE)}.items():
            with self.subTest(case=name):
                path, p = self.check(tail, name)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn(b"4 identical, 0 differ", p.stderr)

    def test_ambiguous_tars_are_refused(self):
        t, z = self.target.encode(), self.zeros
        hidden = tar_member(self.target, z)
        cases = {
            # the case: tar(1) and tarfile extract the last one
            "duplicate": tar_member(self.target, z),
            "dot-slash": tar_member("./" + self.target, z),
            "file-and-directory": tar_member(self.target + "/", b"",
                                             tarfile.DIRTYPE),
            "file-as-parent": tar_member(self.target + "/x", z),
            "regular-named-like-a-directory": tar_member(self.target + "/",
                                                         z),
            "directory-with-data": tar_member("d/", hidden,
                                              tarfile.DIRTYPE),
            "global-path": tar_member("g", pax_body(path=t),
                                      tarfile.XGLTYPE)
            + tar_member("junk", z),
            "global-size": tar_member("g", pax_body(size=b"0"),
                                      tarfile.XGLTYPE)
            + tar_member("junk", hidden),
            # GNU tar takes the pax name, libarchive and tarfile the GNU one
            "gnu-long-name-and-pax": tar_member(
                "././@LongLink", b"junk\0", tarfile.GNUTYPE_LONGNAME,
                tarfile.GNU_FORMAT)
            + tar_member("x", pax_body(path=t), tarfile.XHDTYPE)
            + tar_member("other", z),
            "two-pax-headers": tar_member("x", pax_body(path=b"junk"),
                                          tarfile.XHDTYPE)
            + tar_member("x", pax_body(path=t), tarfile.XHDTYPE)
            + tar_member("other", z),
            "gnu-prefix-field": tar_member(
                os.path.basename(self.target), z, fmt=tarfile.GNU_FORMAT,
                prefix=os.path.dirname(self.target).encode()),
            "sparse-key": tar_member("x", pax_body(**{
                "GNU.sparse.name": t, "GNU.sparse.major": b"1",
                "GNU.sparse.minor": b"0"}), tarfile.XHDTYPE)
            + tar_member("other", z),
            # tarfile stops at this header, libarchive reads on
            "bad-number": tar_checksum(tar_header("junk")[:100]
                                       + b"0644x\0\0\0"
                                       + tar_header("junk")[108:])
            + tar_member("pkg/__pycache__/c.pyc", z),
        }
        for name, tail in cases.items():
            with self.subTest(case=name):
                path, p = self.check(tail, name)
                self.assertEqual(p.returncode, 1, (p.stdout, p.stderr))
                self.assertIn(b"refusing", p.stderr)
                self.assertNotRegex(p.stdout, rb"[1-9][0-9]* identical")
        # the refusals are not pedantry: extractors take the zeros
        for name, how in (("duplicate", "tar"), ("duplicate", "tarfile"),
                          ("global-path", "tar"),
                          ("global-path", "tarfile"),
                          ("gnu-long-name-and-pax", "tar"),
                          ("regular-named-like-a-directory", "tarfile"),
                          ("gnu-prefix-field", "tarfile")):
            if (name, how) == ("regular-named-like-a-directory",
                               "tarfile") and sys.version_info >= (3, 14):
                continue  # 3.14's tarfile no longer takes that member
            with self.subTest(extracted=name, by=how):
                path = os.path.join(self.top, name + ".tar")
                self.assertEqual(self.extracted(path, how), z)


class TestWheel(Base):
    def debian_wheel(self):
        """A real wheel, packed from Debian's python3-yaml (pure part)."""
        src = os.path.join(self.top, "wsrc")
        shutil.copytree("/usr/lib/python3/dist-packages/yaml",
                        os.path.join(src, "yaml"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        di = os.path.join(src, "PyYAML-6.0.dist-info")
        os.makedirs(di)
        with open(os.path.join(di, "METADATA"), "w") as f:
            f.write("Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0\n")
        with open(os.path.join(di, "WHEEL"), "w") as f:
            f.write("Wheel-Version: 1.0\nGenerator: test\n"
                    "Root-Is-Purelib: true\nTag: py3-none-any\n")
        subprocess.run([sys.executable, "-m", "wheel", "pack", src, "-d",
                        self.top], check=True, capture_output=True)
        return os.path.join(self.top, "PyYAML-6.0-py3-none-any.whl")

    def test_rebuilt_wheel_installs_and_uses_our_pyc(self):
        whl = self.debian_wheel()
        outdir = os.path.join(self.top, "out")
        os.makedirs(outdir)
        p = tool(["--wheel", whl, "--output", outdir], cwd=self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = os.path.join(outdir, ("PyYAML-6.0-" + CPTAG + "-none-any.whl"))
        self.assertTrue(record_ok(out))
        with zipfile.ZipFile(out) as z:
            names = z.namelist()
            infos = z.infolist()
            wheel = z.read("PyYAML-6.0.dist-info/WHEEL").decode()
        self.assertIn(("Tag: " + CPTAG + "-none-any\n"), wheel)
        self.assertNotIn("py3-none", wheel)
        self.assertIn(("yaml/__pycache__/loader." + TAG + ".pyc"), names)
        self.assertEqual(names[-1], "PyYAML-6.0.dist-info/RECORD")
        body = [n for n in names if ".dist-info/" not in n]
        self.assertEqual(body, sorted(body))
        self.assertTrue(all(".dist-info/" in n
                            for n in names[len(body):]))
        for i in infos:
            self.assertEqual(i.date_time, time.gmtime(int(SDE))[:6])
            self.assertEqual((i.external_attr >> 16) & 0o7777, 0o644)
        # the same input again, another TZ and umask: the same bytes
        again = os.path.join(self.top, "again.whl")
        p = tool(["--wheel", whl, "--output", again], cwd=self.top,
                 extra_env={"TZ": "Pacific/Auckland"}, umask=0o077)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(readb(again), readb(out))
        # the same wheel with its entries in reverse order (another packer,
        # another file system): the same bytes again
        rev = os.path.join(self.top, "rev", os.path.basename(whl))
        os.makedirs(os.path.dirname(rev))
        with zipfile.ZipFile(whl) as zin, zipfile.ZipFile(rev, "w") as zout:
            for info in reversed(zin.infolist()):
                zout.writestr(info, zin.read(info))
        again = os.path.join(self.top, "again2.whl")
        p = tool(["--wheel", rev, "--output", again], cwd=self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(readb(again), readb(out))
        # installed by Debian's installer, imported from our .pyc
        dest = os.path.join(self.top, "root")
        inst = subprocess.run([sys.executable, "-m", "installer", "--destdir",
                               dest, "--prefix", "/usr",
                               "--no-compile-bytecode", out], check=True,
                              capture_output=True)
        site = [d for d, _, fs in os.walk(dest) if "__init__.py" in fs
                and d.endswith("/yaml")][0]
        import installer
        if int(installer.__version__.split(".")[0]) >= 1:
            # installer 1.0 and later skip a wheel's __pycache__ entries
            # ("poses a security risk"): only sourceless wheels carry
            # bytecode to them (test_sourceless_wheel_runs_without_sources)
            self.assertIn(b"Skip installing yaml/__pycache__/loader." + TAGB
                          + b".pyc", inst.stderr)
            self.assertFalse(os.path.exists(os.path.join(site,
                                                         "__pycache__")))
            return
        parent = os.path.dirname(site)
        trace = self.import_trace("yaml", parent)
        self.assertIn(b"code object from '" + site.encode() +
                      (b"/__pycache__/__init__." + TAGB + b".pyc'"), trace)
        run = subprocess.run([sys.executable, "-B", "-c",
                              "import yaml; print(yaml.safe_load('a: [1, 2]'))"],
                             cwd=parent, capture_output=True, check=True)
        self.assertEqual(run.stdout.strip(), b"{'a': [1, 2]}")
        # recorded names are paths inside the wheel
        pyc = os.path.join(site, "__pycache__", ("loader." + TAG + ".pyc"))
        self.assertEqual(readb(pyc),
                         pycref.expected_pyc(os.path.join(site, "loader.py"),
                                             "yaml/loader.py"))

    def test_sourceless_wheel_runs_without_sources(self):
        whl = self.debian_wheel()
        outdir = os.path.join(self.top, "sl")
        os.makedirs(outdir)
        p = tool(["--wheel", whl, "--output", outdir, "--sourceless",
                  "-p", "/usr/lib/python3/dist-packages"], cwd=self.top)
        out = os.path.join(outdir, ("PyYAML-6.0-" + CPTAG + "-none-any.whl"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(record_ok(out))
        with zipfile.ZipFile(out) as z:
            names = z.namelist()
        self.assertFalse([n for n in names if n.endswith(".py")])
        self.assertIn("yaml/loader.pyc", names)
        dest = os.path.join(self.top, "root")
        subprocess.run([sys.executable, "-m", "installer", "--destdir",
                        dest, "--prefix", "/usr", "--no-compile-bytecode",
                        out], check=True, capture_output=True)
        site = [d for d, _, fs in os.walk(dest) if d.endswith("/yaml")][0]
        run = subprocess.run([sys.executable, "-B", "-c",
                              "import yaml; print(yaml.safe_load('b: 3'));"
                              "print(yaml.loader.__file__)"],
                             cwd=os.path.dirname(site), capture_output=True,
                             check=True)
        self.assertEqual(run.stdout.split()[0:2], [b"{'b':", b"3}"])
        self.assertTrue(run.stdout.strip().endswith(b"loader.pyc"))
        code = __import__("marshal").loads(
            readb(os.path.join(site, "loader.pyc"))[16:])
        self.assertEqual(code.co_filename,
                         "/usr/lib/python3/dist-packages/yaml/loader.py")

    def hostile(self, entries, args=()):
        """Write a wheel from (name, data, mode) entries; run the tool on
        it; return the process and the output path."""
        path = os.path.join(self.top, "bad-1.0-py3-none-any.whl")
        with zipfile.ZipFile(path, "w") as z:
            for ename, data, mode in entries:
                info = zipfile.ZipInfo(ename, (2020, 1, 1, 0, 0, 0))
                info.external_attr = mode << 16
                z.writestr(info, data)
        out = os.path.join(self.top, "out.whl")
        p = tool(["--wheel", path, "--output", out] + list(args),
                 cwd=self.top)
        return p, out

    def assert_refused(self, p, out, why):
        self.assertEqual(p.returncode, 1, (why, p.stderr))
        self.assertTrue(p.stderr.startswith(b"pycompile-repro: "), p.stderr)
        self.assertEqual([f for f in os.listdir(self.top)
                          if f.startswith("out.whl")], [], why)

    def good_entries(self):
        files = [("bad/__init__.py", b"X = 1\n", 0o100644),
                 ("bad-1.0.dist-info/METADATA",
                  b"Metadata-Version: 2.1\nName: bad\nVersion: 1.0\n",
                  0o100644),
                 ("bad-1.0.dist-info/WHEEL",
                  b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                  b"Tag: py3-none-any\n", 0o100644)]
        rows = []
        for n, d, _ in files:
            h = base64.urlsafe_b64encode(hashlib.sha256(d).digest()) \
                .rstrip(b"=").decode()
            rows.append("%s,sha256=%s,%d\n" % (n, h, len(d)))
        rows.append("bad-1.0.dist-info/RECORD,,\n")
        return files + [("bad-1.0.dist-info/RECORD",
                         "".join(rows).encode(), 0o100644)]

    def test_each_refusal(self):
        good = self.good_entries()
        cases = {
            "absolute": good + [("/etc/evil.py", b"x", 0o100644)],
            "dotdot": good + [("bad/../../evil.py", b"x", 0o100644)],
            "duplicate": good + [("bad/__init__.py", b"Y = 2\n", 0o100644)],
            "symlink": good + [("bad/link.py", b"/etc/passwd", 0o120777)],
            "fifo": good + [("bad/fifo", b"", 0o010644)],
            "device": good + [("bad/dev", b"", 0o020644)],
            "record-mismatch": [(n, d if n != "bad/__init__.py"
                                 else b"X = 2\n", m) for n, d, m in good],
            "unlisted": good + [("bad/extra.py", b"E = 1\n", 0o100644)],
        }
        p, out = self.hostile(good)  # the control is accepted
        self.assertEqual(p.returncode, 0, p.stderr)
        os.unlink(out)
        for name, entries in cases.items():
            with self.subTest(case=name):
                p, out = self.hostile(entries)
                self.assert_refused(p, out, name)
        # a RECORD that does not match is accepted when asked to
        p, out = self.hostile(cases["record-mismatch"],
                              ["--no-verify-record"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(record_ok(out))

    def test_check_of_a_refused_wheel_fails(self):
        # a refused archive checks nothing: that is no pass (exit 1)
        good = self.good_entries()
        p, _ = self.hostile(good + [("bad/__init__.py", b"Y = 2\n",
                                     0o100644)])
        path = os.path.join(self.top, "bad-1.0-py3-none-any.whl")
        p = tool(["--check", "--wheel", path], cwd=self.top)
        self.assertEqual(p.returncode, 1, (p.stdout, p.stderr))
        self.assertIn(b"twice", p.stderr)

    @unittest.skipIf(WRAPPER, "a time bound, not for a checker's pace")
    def test_many_entries_take_linear_time(self):
        # RECORD was checked in quadratic time: 60,000 entries took 18 to
        # 31 s, 99,990 (under the 100,000 limit) 88 to 104 s (issue 23,
        # item 9); linear, 60,000 take about 1.5 s here
        n = 60000
        sys.path.insert(0, os.path.join(HERE, "..", "bench"))
        import wheel_record
        path = os.path.join(self.top, "big-1.0-py3-none-any.whl")
        wheel_record.make_wheel(path, n, 5)
        out = os.path.join(self.top, "out")
        os.mkdir(out)
        t = time.monotonic()
        p = tool(["--wheel", path, "--output", out], cwd=self.top)
        took = time.monotonic() - t
        self.assertEqual(p.returncode, 0, p.stderr)
        rebuilt = os.path.join(out, os.listdir(out)[0])
        t = time.monotonic()
        p = tool(["--check", "--wheel", rebuilt], cwd=self.top)
        took_check = time.monotonic() - t
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(b"5 identical", p.stderr)
        self.assertLess(took, 15, "--wheel of %d entries" % n)
        self.assertLess(took_check, 15, "--check --wheel of %d entries" % n)

    def test_zip_bomb_is_bounded(self):
        good = self.good_entries()
        path = os.path.join(self.top, "bomb-1.0-py3-none-any.whl")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for n, d, m in good:
                z.writestr(n, d)
            with z.open("bad/zeros.bin", "w", force_zip64=True) as f:
                chunk = b"\0" * (1 << 20)
                for _ in range(300):  # 300 MiB, about 300 KiB compressed
                    f.write(chunk)
        self.assertLess(os.path.getsize(path), 2 << 20)
        out = os.path.join(self.top, "out.whl")
        p = tool(["--wheel", path, "--output", out, "--no-verify-record"],
                 cwd=self.top)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"larger than the limits", p.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    main()
