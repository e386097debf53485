# SPDX-License-Identifier: MIT
"""Packaging tests: make install / uninstall into temporary roots, the man
pages, and real packages built with each hook -- a Debian source package
using the debhelper addon (dpkg-buildpackage) and an RPM using the
%pycompile_repro macro (rpmbuild) -- each built twice, at different times
and paths, with the .pyc payloads compared byte for byte.  The tool is
installed into a temporary DESTDIR, never onto the machine."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from test_cli import main, readb  # noqa: E402


def sh(cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    return subprocess.run(cmd, **kw)


def pycs(root):
    out = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            if f.endswith(".pyc"):
                p = os.path.join(d, f)
                out[os.path.relpath(p, root)] = readb(p)
    return out


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pcr-pkg-")
        cls.dest = os.path.join(cls.tmp, "root")
        sh(["make", "-s", "-C", TOP, "install", "PREFIX=/usr",
            "DESTDIR=" + cls.dest])
        cls.env = dict(os.environ)
        cls.env["PATH"] = cls.dest + "/usr/bin:" + os.environ["PATH"]
        cls.env["PERL5LIB"] = cls.dest + "/usr/share/perl5"
        cls.env["DH_AUTOSCRIPTDIR"] = \
            cls.dest + "/usr/share/debhelper/autoscripts"
        cls.env["DH_VERBOSE"] = "1"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)


class TestInstall(Installed):
    def test_layout(self):
        for rel in ("usr/bin/pycompile-repro", "usr/bin/dh_pycompile_repro",
                    "usr/lib/libpycompile-repro.a",
                    "usr/lib/libpycompile-repro.so.0.1.0",
                    "usr/lib/libpycompile-repro.so.0",
                    "usr/lib/libpycompile-repro.so",
                    "usr/include/pycompile_repro.h",
                    "usr/lib/pkgconfig/pycompile-repro.pc",
                    "usr/share/man/man1/pycompile-repro.1",
                    "usr/share/man/man1/dh_pycompile_repro.1",
                    "usr/share/perl5/Debian/Debhelper/Sequence/"
                    "pycompile_repro.pm",
                    "usr/lib/rpm/macros.d/macros.pycompile-repro",
                    "usr/lib/rpm/brp-pycompile-repro"):
            with self.subTest(path=rel):
                self.assertTrue(os.path.lexists(os.path.join(self.dest, rel)))
        so = sh(["objdump", "-p", os.path.join(
            self.dest, "usr/lib/libpycompile-repro.so.0.1.0")]).stdout
        self.assertIn(b"SONAME               libpycompile-repro.so.0", so)

    def test_library_links_through_pkg_config_and_uninstall_cleans(self):
        prefix = os.path.join(self.tmp, "prefix")
        sh(["make", "-s", "-C", TOP, "install", "PREFIX=" + prefix])
        env = dict(os.environ,
                   PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
        flags = sh(["pkg-config", "--cflags", "--libs", "pycompile-repro"],
                   env=env).stdout.decode().split()
        src = os.path.join(self.tmp, "use.c")
        with open(src, "w") as f:
            f.write('#include <stdio.h>\n#include "pycompile_repro.h"\n'
                    "int main(void) {\n    pcr_error e;\n"
                    "    if (pcr_runtime_init(&e) != PCR_OK) return 2;\n"
                    '    printf("%s %s\\n", pcr_cache_tag(), PCR_VERSION);\n'
                    "    return pcr_runtime_fini(&e) == PCR_OK ? 0 : 3;\n}\n")
        exe = os.path.join(self.tmp, "use")
        sh(["cc", "-o", exe, src] + flags)
        out = sh([exe], env=dict(env, LD_LIBRARY_PATH=os.path.join(
            prefix, "lib"))).stdout
        self.assertEqual(out.strip(), b"cpython-311 0.1.0")
        sh(["make", "-s", "-C", TOP, "uninstall", "PREFIX=" + prefix])
        left = [os.path.join(d, f) for d, _, fs in os.walk(prefix)
                for f in fs]
        self.assertEqual(left, [])

    def test_man_pages_render_every_option(self):
        env = dict(os.environ, MANWIDTH="200", MAN_KEEP_FORMATTING="0")
        page = sh(["man", "-l", os.path.join(TOP, "docs",
                                             "pycompile-repro.1")],
                  env=env).stdout.decode()
        page = re.sub(r".\x08", "", page)
        usage = sh([os.path.join(self.dest, "usr/bin/pycompile-repro"),
                    "--help"]).stdout.decode()
        longs = set(re.findall(r"(--[a-z][a-z-]+)", usage))
        shorts = set(re.findall(r"^\s+(-[a-zA-Z0-9])\b", usage, re.M))
        self.assertGreater(len(longs), 20)
        for opt in sorted(longs | shorts):
            with self.subTest(option=opt):
                self.assertRegex(page, r"(^|\s|\[)" + re.escape(opt) +
                                 r"\b")
        for section in ("EXIT STATUS", "EXAMPLES", "ENVIRONMENT"):
            self.assertIn(section, page)
        dh = sh(["man", "-l", os.path.join(
            self.dest, "usr/share/man/man1/dh_pycompile_repro.1")],
            env=env).stdout.decode()
        self.assertIn("dh-sequence-pycompile-repro", re.sub(r".\x08", "",
                                                            dh))


class TestPackagesOfTheTool(unittest.TestCase):
    def test_make_deb_is_lintian_clean(self):
        p = sh(["make", "-C", TOP, "deb"], check=False)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr)[-3000:])
        deb = os.path.join(TOP, "dist", "pycompile-repro_0.1.0_amd64.deb")
        listing = sh(["dpkg-deb", "-c", deb]).stdout
        self.assertIn(b"./usr/bin/pycompile-repro", listing)
        self.assertIn(b"Sequence/pycompile_repro.pm", listing)
        self.assertIn(b"dh-sequence-pycompile-repro",
                      sh(["dpkg-deb", "-f", deb, "Provides"]).stdout)
        lint = sh(["lintian", deb], check=False)
        self.assertNotRegex(lint.stdout.decode(), r"(?m)^E: ")

    def test_make_rpm(self):
        p = sh(["make", "-C", TOP, "rpm"], check=False)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr)[-3000:])
        rpm = os.path.join(TOP, "dist", "pycompile-repro-0.1.0-1.x86_64.rpm")
        files = sh(["rpm", "-qlp", rpm]).stdout.decode().split()
        for f in ("/usr/bin/pycompile-repro",
                  "/usr/lib/rpm/brp-pycompile-repro",
                  "/usr/lib/rpm/macros.d/macros.pycompile-repro",
                  "/usr/share/man/man1/pycompile-repro.1"):
            self.assertIn(f, files)


class TestDebian(Installed):
    def build(self, where, broken=False):
        src = os.path.join(where, "python-reprosample-1.0")
        shutil.copytree(os.path.join(HERE, "sample-deb"), src)
        if broken:
            with open(os.path.join(src, "reprosample", "bad.py"), "w") as f:
                f.write("def broken(:\n")
        p = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b", "-d"],
                           cwd=src, env=self.env, capture_output=True)
        deb = os.path.join(where, "python3-reprosample_1.0_all.deb")
        return p, deb

    def test_sample_builds_twice_with_the_same_bytecode(self):
        a = os.path.join(self.tmp, "deb-a")
        b = os.path.join(self.tmp, "elsewhere", "deeper", "deb-b")
        os.makedirs(a)
        os.makedirs(b)
        p1, deb1 = self.build(a)
        self.assertEqual(p1.returncode, 0, p1.stdout[-3000:] + p1.stderr)
        self.assertIn(b"pycompile-repro --verify", p1.stdout)
        time.sleep(1.1)
        p2, deb2 = self.build(b)
        self.assertEqual(p2.returncode, 0, p2.stderr)
        # Debian ships no bytecode; the maintainer scripts compile it
        listing = sh(["dpkg-deb", "-c", deb1]).stdout
        self.assertNotIn(b".pyc", listing)
        self.assertNotIn(b"__pycache__", listing)
        ctrl = os.path.join(self.tmp, "ctrl")
        sh(["dpkg-deb", "-e", deb1, ctrl])
        self.assertIn("pycompile-repro -q --invalidation-mode checked-hash "
                      "--package python3-reprosample",
                      open(os.path.join(ctrl, "postinst")).read())
        self.assertIn("--remove --package python3-reprosample",
                      open(os.path.join(ctrl, "prerm")).read())
        self.assertIn("pycompile-repro", sh(["dpkg-deb", "-f", deb1,
                                             "Depends"]).stdout.decode())
        # what the postinst does, on two machines: the same bytes
        results = []
        for i, deb in enumerate((deb1, deb2)):
            root = os.path.join(self.tmp, "machine%d" % i)
            sh(["dpkg-deb", "-x", deb, root])
            site = os.path.join(root, "usr/lib/python3/dist-packages")
            sh(["pycompile-repro", "-q", "--invalidation-mode",
                "checked-hash", "-s", root, "-p", "/", site], env=self.env)
            results.append(pycs(root))
        self.assertEqual(len(results[0]), 2)
        self.assertEqual(results[0], results[1])

    def test_syntax_error_fails_the_build(self):
        where = os.path.join(self.tmp, "deb-broken")
        os.makedirs(where)
        p, deb = self.build(where, broken=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"bad.py", p.stderr + p.stdout)
        self.assertFalse(os.path.exists(deb))


class TestRpm(Installed):
    def build(self, topdir):
        os.makedirs(topdir)
        env = dict(self.env, SOURCE_DATE_EPOCH="1700000000")
        p = subprocess.run(
            ["rpmbuild",
             "--load", os.path.join(self.dest, "usr/lib/rpm/macros.d/"
                                    "macros.pycompile-repro"),
             "--define", "_topdir " + topdir,
             "--define", "sample_src " + os.path.join(HERE, "sample-deb"),
             # the hook from the temporary root, not from /usr/lib/rpm
             "--define", "_pycompile_repro_libexec " +
             os.path.join(self.dest, "usr/lib/rpm"),
             "--nodeps", "-bb", os.path.join(HERE, "sample-rpm",
                                             "reprosample.spec")],
            env=env, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        rpms = [os.path.join(d, f) for d, _, fs in os.walk(topdir)
                for f in fs if f.endswith(".noarch.rpm")]
        self.assertEqual(len(rpms), 1)
        out = os.path.join(topdir, "payload")
        os.makedirs(out)
        cpio = subprocess.run("rpm2cpio '%s' | cpio -idm --quiet" % rpms[0],
                              shell=True, cwd=out, capture_output=True)
        self.assertEqual(cpio.returncode, 0, cpio.stderr)
        return out

    def test_sample_builds_twice_with_the_same_bytecode(self):
        one = self.build(os.path.join(self.tmp, "rpm-1"))
        time.sleep(1.1)
        two = self.build(os.path.join(self.tmp, "other", "place", "rpm-2"))
        a, b = pycs(one), pycs(two)
        self.assertEqual(len(a), 4)  # two modules, -o 0 and -o 1
        self.assertEqual(a, b)
        pyc = os.path.join(one, "usr/lib/python3.11/site-packages/"
                           "reprosample/__pycache__/consts.cpython-311.pyc")
        data = readb(pyc)
        # Fedora's policy: timestamp, source mtime clamped to the epoch
        self.assertEqual(data[4:8], b"\0\0\0\0")
        self.assertEqual(int.from_bytes(data[8:12], "little"), 1700000000)
        src = os.path.join(one, "usr/lib/python3.11/site-packages/"
                           "reprosample/consts.py")
        self.assertEqual(int(os.stat(src).st_mtime), 1700000000)
        # no build path inside; the installed path is recorded
        for data in a.values():
            self.assertNotIn(b"BUILDROOT", data)
            self.assertIn(b"/usr/lib/python3.11/site-packages/reprosample/",
                          data)


if __name__ == "__main__":
    main()
