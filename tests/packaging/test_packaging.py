# SPDX-License-Identifier: MIT
"""Packaging tests on this machine: make install / uninstall into
temporary roots, the man pages, the packages of the tool (make deb, make
rpm, from the release tarball), the debhelper addon building a sample
Debian package (dpkg-buildpackage) and the RPM step building sample RPMs
(rpmbuild), each built twice, at different times and paths, with the .pyc
payloads compared byte for byte and checked canonical by the independent
reference (tests/parity/pycref.py).  The tool is installed into a temporary
DESTDIR, never onto the machine; installing packages is the business of
tests/packaging/deb_system.sh, in chroots."""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from common import main, pycs_of, readb  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)

VERSION = re.search(rb'#define PCR_VERSION "([^"]+)"', readb(os.path.join(
    TOP, "include", "pycompile_repro.h"))).group(1).decode()
EPOCH = 1700000000


def sh(cmd, **kw):
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    return subprocess.run(cmd, **kw)


def canonical(data):
    return pycref.canonicalize(data[16:], data[:4]) == data[16:]


def servers():
    d = os.path.join(TOP, "build", "libexec", "pycompile-repro")
    return sorted((f[len("cpython-"):] for f in os.listdir(d)
                   if f.startswith("cpython-")),
                  key=lambda v: tuple(map(int, v.split("."))))


def tag(v):
    return "cpython-" + v.replace(".", "")


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="pcr-pkg-")
        cls.dest = os.path.join(cls.tmp, "root")
        sh(["make", "-s", "-C", TOP, "install", "PREFIX=/usr",
            "DESTDIR=" + cls.dest])
        cls.tool = cls.dest + "/usr/bin/pycompile-repro"
        cls.env = dict(os.environ)
        cls.env["PATH"] = cls.dest + "/usr/bin:" + os.environ["PATH"]
        cls.env["PERL5LIB"] = cls.dest + "/usr/share/perl5"
        cls.env["DH_AUTOSCRIPTDIR"] = \
            cls.dest + "/usr/share/debhelper/autoscripts"
        cls.env["DH_VERBOSE"] = "1"
        cls.env.pop("DEB_BUILD_OPTIONS", None)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)


class TestInstall(Installed):
    def test_layout(self):
        for rel in ("usr/bin/pycompile-repro", "usr/bin/dh_pycompile_repro",
                    "usr/lib/libpycompile-repro.a",
                    "usr/lib/libpycompile-repro.so." + VERSION,
                    "usr/lib/libpycompile-repro.so.0",
                    "usr/lib/libpycompile-repro.so",
                    "usr/include/pycompile_repro.h",
                    "usr/lib/pkgconfig/pycompile-repro.pc",
                    "usr/libexec/pycompile-repro/debian-hook",
                    "usr/share/python3/runtime.d/pycompile-repro.rtinstall",
                    "usr/share/python3/runtime.d/pycompile-repro.rtupdate",
                    "usr/share/man/man1/pycompile-repro.1",
                    "usr/share/man/man1/dh_pycompile_repro.1",
                    "usr/share/perl5/Debian/Debhelper/Sequence/"
                    "pycompile_repro.pm",
                    "usr/share/debhelper/autoscripts/postinst-pycompile-repro",
                    "usr/lib/rpm/macros.d/macros.zz-pycompile-repro",
                    "usr/lib/rpm/brp-pycompile-repro",
                    "usr/lib/python3/dist-packages/pycompile_repro/"
                    "compileall.py"):
            with self.subTest(path=rel):
                self.assertTrue(os.path.lexists(os.path.join(self.dest, rel)))
        for v in servers():
            self.assertTrue(os.access(os.path.join(
                self.dest, "usr/libexec/pycompile-repro/cpython-" + v),
                os.X_OK))
        so = sh(["objdump", "-p", os.path.join(
            self.dest, "usr/lib/libpycompile-repro.so." + VERSION)]).stdout
        self.assertIn(b"SONAME               libpycompile-repro.so.0", so)
        # the snippets and hooks call the hook where it is installed
        hook = b"/usr/libexec/pycompile-repro/debian-hook"
        for rel in ("usr/share/debhelper/autoscripts/postinst-pycompile-repro",
                    "usr/share/debhelper/autoscripts/prerm-pycompile-repro",
                    "usr/share/python3/runtime.d/pycompile-repro.rtupdate"):
            self.assertIn(hook, readb(os.path.join(self.dest, rel)))

    def test_addon_declares_the_release_version(self):
        text = readb(os.path.join(self.dest, "usr/bin/dh_pycompile_repro"))
        self.assertIn(("our $VERSION = '%s';" % VERSION).encode(), text)

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
                    "int main(void) {\n"
                    "    pcr *p = pcr_new();\n"
                    "    if (p == NULL) return 2;\n"
                    '    printf("%s\\n", PCR_VERSION);\n'
                    "    pcr_free(p);\n    return 0;\n}\n")
        exe = os.path.join(self.tmp, "use")
        sh(["cc", "-o", exe, src] + flags)
        out = sh([exe], env=dict(env, LD_LIBRARY_PATH=os.path.join(
            prefix, "lib"))).stdout
        self.assertEqual(out.strip(), VERSION.encode())
        # the Python package finds that library and its servers by itself
        src = os.path.join(self.tmp, "mod.py")
        with open(src, "w") as f:
            f.write("x = 1\n")
        penv = {k: v for k, v in os.environ.items()
                if not k.startswith("PYCOMPILE_REPRO_")}
        penv["PYTHONPATH"] = os.path.join(prefix, "lib/python3/dist-packages")
        sh([sys.executable, "-m", "pycompile_repro.py_compile", src],
           env=penv)
        pyc = importlib.util.cache_from_source(src)
        self.assertEqual(readb(pyc)[:4], importlib.util.MAGIC_NUMBER)
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
        usage = sh([self.tool, "--help"]).stdout.decode()
        longs = set(re.findall(r"(--[a-z][a-z-]+)", usage))
        shorts = set(re.findall(r"^\s+(-[a-zA-Z0-9])\b", usage, re.M))
        self.assertGreater(len(longs), 20)
        missing = [opt for opt in sorted(longs | shorts)
                   if not re.search(r"(^|\s|\[)" + re.escape(opt) + r"\b",
                                    page)]
        self.assertEqual(missing, [], "options not in the man page")
        for section in ("EXIT STATUS", "EXAMPLES", "ENVIRONMENT", "FILES"):
            self.assertIn(section, page[:0] or page.split("\n"),
                          section) if False else \
                self.assertTrue(re.search(r"(?m)^" + section + "$", page),
                                section)
        # no groff warning (lintian's groff-message: a line that starts
        # with ".pyc" is a macro call)
        for page_path in (os.path.join(TOP, "docs", "pycompile-repro.1"),
                          os.path.join(self.dest, "usr/share/man/man1/"
                                       "dh_pycompile_repro.1")):
            w = sh(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8",
                    "-Z", page_path], env=dict(env, LC_ALL="C.UTF-8",
                                               MANROFFSEQ=""))
            self.assertEqual(w.stderr, b"", page_path)
        dh = re.sub(r".\x08", "", sh(["man", "-l", os.path.join(
            self.dest, "usr/share/man/man1/dh_pycompile_repro.1")],
            env=env).stdout.decode())
        for word in ("dh-sequence-pycompile-repro", "--exclude",
                     "parallel=", "py3compile"):
            self.assertIn(word, dh)


class TestPackagesOfTheTool(unittest.TestCase):
    def test_make_dist_works_without_git(self):
        sh(["make", "-s", "-C", TOP, "dist"])
        tar = os.path.join(TOP, "dist", "pycompile-repro-%s.tar.gz" % VERSION)
        with tarfile.open(tar) as t:
            names = set(t.getnames())
        top = "pycompile-repro-%s/" % VERSION
        for rel in ("Makefile", "LICENSE", "contrib/debian/debian/control",
                    "contrib/rpm/pycompile-repro.spec"):
            self.assertIn(top + rel, names)
        self.assertFalse(any("/.git/" in n for n in names))
        tmp = tempfile.mkdtemp(prefix="pcr-dist-")
        try:
            with tarfile.open(tar) as t:
                t.extractall(tmp)
            tree = os.path.join(tmp, top)
            sh(["make", "-s", "-C", tree, "dist"])
            with tarfile.open(os.path.join(tree, "dist", os.path.basename(
                    tar))) as t:
                again = set(t.getnames())
            self.assertEqual({n.rstrip("/") for n in again},
                             {n.rstrip("/") for n in names} |
                             {top.rstrip("/")})
        finally:
            shutil.rmtree(tmp, True)

    def test_make_deb_splits_and_is_lintian_clean(self):
        p = sh(["make", "-C", TOP, "deb"], check=False)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr)[-3000:])
        # no warning from the build tools (the shlibdeps probe once drew
        # two from dpkg-shlibdeps), and none from lintian
        out = (p.stdout + p.stderr).decode()
        self.assertEqual(re.findall(r"(?m)^(?:dpkg-\S+: warning: .*|W: .*)$",
                                    out), [])
        dist = os.path.join(TOP, "dist")
        arch = sh(["dpkg", "--print-architecture"]).stdout.decode().strip()

        def deb(name, a=arch):
            return os.path.join(dist, "%s_%s_%s.deb" % (name, VERSION, a))

        def field(d, f):
            return sh(["dpkg-deb", "-f", d, f]).stdout.decode().strip()

        def listing(d):
            return sh(["dpkg-deb", "-c", d]).stdout.decode()

        tool = deb("pycompile-repro")
        self.assertEqual(field(tool, "Section"), "utils")
        self.assertEqual(field(tool, "Multi-Arch"), "foreign")
        files = listing(tool)
        for f in ("./usr/bin/pycompile-repro",
                  "./usr/libexec/pycompile-repro/debian-hook",
                  "./usr/share/python3/runtime.d/pycompile-repro.rtupdate"):
            self.assertIn(f, files)
        # its postinst compiles the packages registered before it came
        ctl = tempfile.mkdtemp(prefix="pcr-deb-")
        sh(["dpkg-deb", "-e", tool, ctl])
        self.assertIn("debian-hook post-rtupdate",
                      open(os.path.join(ctl, "postinst")).read())
        shutil.rmtree(ctl)
        self.assertRegex(files, r"\./usr/libexec/pycompile-repro/cpython-3\.")
        self.assertNotIn("perl5", files)
        self.assertNotIn("libpycompile-repro.so", files)
        addon = deb("dh-pycompile-repro", "all")
        self.assertIn("dh-sequence-pycompile-repro", field(addon, "Provides"))
        self.assertIn("debhelper", field(addon, "Depends"))
        self.assertIn("Sequence/pycompile_repro.pm", listing(addon))
        lib = deb("libpycompile-repro0")
        self.assertEqual(field(lib, "Multi-Arch"), "same")
        # what the library loads with dlopen is named (the probe), and
        # the probe itself is in no package
        for d in (tool, lib):
            self.assertRegex(field(d, "Depends"), r"libarchive\d")
            self.assertRegex(field(d, "Depends"), r"libssl\d")
            self.assertNotIn("shlibdeps-probe", listing(d))
        self.assertRegex(listing(lib), r"libpycompile-repro\.so\.0")
        py = deb("python3-pycompile-repro", "all")
        self.assertIn("libpycompile-repro0", field(py, "Depends"))
        self.assertIn("pycompile_repro/compileall.py", listing(py))
        dev = listing(deb("libpycompile-repro-dev"))
        for f in ("pycompile_repro.h", "libpycompile-repro.a",
                  "pycompile-repro.pc"):
            self.assertIn(f, dev)
        ctl = os.path.join(tempfile.mkdtemp(prefix="pcr-deb-"), "x")
        sh(["dpkg-deb", "-x", tool, ctl])
        copyright_ = readb(os.path.join(
            ctl, "usr/share/doc/pycompile-repro/copyright")).decode()
        self.assertIn("License: MIT", copyright_)
        self.assertIn("Permission is hereby granted", copyright_)
        shutil.rmtree(os.path.dirname(ctl))
        lint = sh(["lintian", deb("pycompile-repro"), addon, lib,
                   deb("libpycompile-repro-dev"), py], check=False)
        self.assertNotRegex(lint.stdout.decode(), r"(?m)^E: ")

    def test_make_rpm(self):
        p = sh(["make", "-C", TOP, "rpm"], check=False)
        self.assertEqual(p.returncode, 0, (p.stdout + p.stderr)[-3000:])
        dist = os.path.join(TOP, "dist")

        def files(name):
            return sh(["rpm", "-qlp", os.path.join(dist, name)]
                      ).stdout.decode().split()

        main_ = files("pycompile-repro-%s-1.x86_64.rpm" % VERSION)
        self.assertIn("/usr/bin/pycompile-repro", main_)
        self.assertTrue(any(f.startswith("/usr/libexec/pycompile-repro/"
                                         "cpython-") for f in main_))
        self.assertFalse(any("libpycompile-repro.so" in f for f in main_))
        macros = files("pycompile-repro-rpm-macros-%s-1.noarch.rpm" % VERSION)
        self.assertIn("/usr/lib/rpm/brp-pycompile-repro", macros)
        self.assertIn("/usr/lib/rpm/macros.d/macros.zz-pycompile-repro",
                      macros)
        py = files("python3-pycompile-repro-%s-1.noarch.rpm" % VERSION)
        self.assertTrue(any(f.endswith("pycompile_repro/compileall.py")
                            for f in py), py)
        devel = files("pycompile-repro-devel-%s-1.x86_64.rpm" % VERSION)
        self.assertTrue(any(f.endswith("pycompile_repro.h") for f in devel))
        info = sh(["rpm", "-qip", os.path.join(
            dist, "pycompile-repro-%s-1.x86_64.rpm" % VERSION)]).stdout
        self.assertRegex(info, rb"License\s*: MIT")
        self.assertRegex(info, rb"URL\s*: https://")
        # make rpm ran rpmlint; it fails on any error
        self.assertIn(b"0 errors", p.stdout)


class TestDebianAddon(Installed):
    def build(self, where, broken=False, options=None, relation=None):
        src = os.path.join(where, "python-reprosample-1.0")
        shutil.copytree(os.path.join(HERE, "sample-deb"), src)
        if relation is not None:
            # the maintainer's choice of relation to the tool (or none)
            ctl = os.path.join(src, "debian", "control")
            with open(ctl) as f:
                text = f.read()
            text = text.replace("Depends: ${misc:Depends}\n"
                                "Recommends: ${misc:Recommends}\n",
                                relation)
            with open(ctl, "w") as f:
                f.write(text)
        if broken:
            with open(os.path.join(src, "reprosample", "bad.py"), "w") as f:
                f.write("def broken(:\n")
        env = dict(self.env)
        if options:
            env["DEB_BUILD_OPTIONS"] = options
        p = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b", "-d"],
                           cwd=src, env=env, capture_output=True)
        deb = os.path.join(where, "python3-reprosample_1.0_all.deb")
        doc = os.path.join(where, "python-reprosample-doc_1.0_all.deb")
        return p, deb, doc

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = os.path.join(cls.tmp, "deb-a")
        os.makedirs(cls.a)
        cls.first = cls.build(cls, cls.a, options="parallel=3")

    def control(self, deb, name):
        ctrl = tempfile.mkdtemp(dir=self.tmp)
        sh(["dpkg-deb", "-e", deb, ctrl])
        path = os.path.join(ctrl, name)
        return open(path).read() if os.path.exists(path) else ""

    def test_build_runs_the_verify_with_parallel_and_exclude(self):
        p, deb, _ = self.first
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr)
        out = p.stdout.decode()
        self.assertRegex(out, r"pycompile-repro --verify -j3 ")
        # -X skipme_: the module that does not compile is left out
        self.assertRegex(out, r"--verify .* -x \S*skipme_")
        self.assertIn("usr/share/reprotool", out)

    def test_parallel_1_is_one_server(self):
        where = os.path.join(self.tmp, "deb-p1")
        os.makedirs(where)
        p, _, _ = self.build(where, options="parallel=1 nocheck")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"pycompile-repro --verify -j1 ", p.stdout)
        self.assertNotIn(b"-j0", p.stdout)

    def test_package_contents_and_snippets(self):
        _, deb, _ = self.first
        listing = sh(["dpkg-deb", "-c", deb]).stdout
        # Debian ships no bytecode; the maintainer scripts compile it
        self.assertNotIn(b".pyc", listing)
        self.assertNotIn(b"__pycache__", listing)
        x = tempfile.mkdtemp(dir=self.tmp)
        sh(["dpkg-deb", "-x", deb, x])
        reg = open(os.path.join(
            x, "usr/share/pycompile-repro/packages/python3-reprosample")
        ).read().splitlines()
        self.assertEqual(reg, ["public /usr/lib/python3/dist-packages",
                               "private /usr/share/reprotool",
                               "exclude (?:skipme_)"])
        postinst = self.control(deb, "postinst")
        self.assertIn("/usr/libexec/pycompile-repro/debian-hook configure "
                      "python3-reprosample", postinst)
        self.assertIn("dh_pycompile_repro/" + VERSION, postinst)
        self.assertNotIn("UNDECLARED", postinst)
        self.assertIn("debian-hook remove python3-reprosample",
                      self.control(deb, "prerm"))

    def fields(self, deb):
        return {f: sh(["dpkg-deb", "-f", deb, f]).stdout.decode().strip()
                for f in ("Depends", "Recommends")}

    def test_the_tool_is_recommended_not_depended_on(self):
        p, deb, _ = self.first
        self.assertEqual(self.fields(deb), {"Depends": "",
                                            "Recommends": "pycompile-repro"})
        self.assertNotIn(b"unused", p.stderr)
        self.assertNotIn(b"neither ${misc:Recommends}", p.stderr)

    def test_a_maintainer_may_choose_a_hard_dependency(self):
        where = os.path.join(self.tmp, "deb-depends")
        os.makedirs(where)
        p, deb, _ = self.build(where, options="nocheck", relation=(
            "Depends: ${misc:Depends}, ${pycompile-repro:Depends}\n"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.fields(deb), {"Depends": "pycompile-repro",
                                            "Recommends": ""})
        self.assertNotIn(b"unused", p.stderr)

    def test_no_relation_at_compat_13_is_warned_about(self):
        where = os.path.join(self.tmp, "deb-none")
        os.makedirs(where)
        p, deb, _ = self.build(where, options="nocheck",
                               relation="Depends: ${misc:Depends}\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.fields(deb), {"Depends": "", "Recommends": ""})
        self.assertIn(b"python3-reprosample: debian/control uses neither "
                      b"${misc:Recommends} nor ${pycompile-repro:Depends}",
                      p.stderr)
        # the optional substvars draw no warning from dpkg-gencontrol
        self.assertNotIn(b"unused", p.stderr)

    def test_package_without_python_is_left_alone(self):
        _, _, doc = self.first
        self.assertTrue(os.path.exists(doc))
        self.assertEqual(self.fields(doc), {"Depends": "", "Recommends": ""})
        self.assertEqual(self.control(doc, "postinst"), "")
        self.assertNotIn(b"pycompile-repro", sh(["dpkg-deb", "-c", doc]
                                                ).stdout)

    def test_two_builds_give_the_same_package(self):
        _, deb1, _ = self.first
        time.sleep(1.1)
        b = os.path.join(self.tmp, "elsewhere", "deeper", "deb-b")
        os.makedirs(b)
        p2, deb2, _ = self.build(b)
        self.assertEqual(p2.returncode, 0, p2.stderr)
        self.assertEqual(readb(deb1), readb(deb2))

    def test_syntax_error_fails_the_build(self):
        where = os.path.join(self.tmp, "deb-broken")
        os.makedirs(where)
        p, deb, _ = self.build(where, broken=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"bad.py", p.stderr + p.stdout)
        self.assertFalse(os.path.exists(deb))


class TestDebianHook(Installed):
    """debian-hook as the maintainer scripts and runtime.d run it, with a
    py3versions that lists a version no server serves."""

    def hook(self, *args, versions):
        d = tempfile.mkdtemp(dir=self.tmp)
        fake = os.path.join(d, "bin")
        os.makedirs(fake)
        with open(os.path.join(fake, "py3versions"), "w") as f:
            f.write('#!/bin/sh\ncase $1 in -d) echo python%s ;; '
                    '*) echo %s ;; esac\n'
                    % (versions[0], " ".join("python" + v for v in versions)))
        os.chmod(os.path.join(fake, "py3versions"), 0o755)
        reg = os.path.join(d, "packages")
        os.makedirs(reg)
        for pkg in ("python3-one", "python3-two"):
            with open(os.path.join(reg, pkg), "w") as f:
                f.write("public %s\n" % os.path.join(d, "nothing-here"))
        env = dict(self.env, PYCOMPILE_REPRO_REGISTRY=reg,
                   PYCOMPILE_REPRO=self.tool,
                   PATH=fake + ":" + self.env["PATH"])
        return subprocess.run([self.dest + "/usr/libexec/pycompile-repro/"
                               "debian-hook"] + list(args), env=env,
                              capture_output=True)

    def test_a_version_without_a_server_is_said_once(self):
        have = servers()[-1]
        warning = (b"debian-hook): WARNING: Python 3.99 is installed, but "
                   b"pycompile-repro has no compile server for it")
        for args in (["configure", "python3-one"], ["post-rtupdate"],
                     ["rtinstall", "python3.99"]):
            with self.subTest(args=args):
                p = self.hook(*args, versions=[have, "3.99"])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr.count(warning), 1, p.stderr)
        # served versions only: not a word
        for args in (["configure", "python3-one"], ["post-rtupdate"],
                     ["rtinstall", "python" + have]):
            with self.subTest(args=args):
                p = self.hook(*args, versions=[have])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr, b"")


def rpm_macro_path():
    try:
        out = sh(["rpm", "--showrc"]).stdout.decode()
    except OSError:
        return ""
    m = re.search(r"^Macro path: (.*)$", out, re.M)
    return m.group(1) if m else ""


MACRO_PATH = rpm_macro_path()


def sha256(path):
    import hashlib
    return hashlib.sha256(readb(path)).hexdigest()


def set_hash(files):
    """A short hash of a set of files: names and bytes, sorted."""
    import hashlib
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name])
                 .hexdigest().encode() + b"\n")
    return h.hexdigest()[:16]


class TestDebianRpm(Installed):
    """The RPM step on Debian's own rpm, as it is: its platform file is read
    after macros.d (it defines %__brp_python_bytecompile and
    %_python_bytecompile_extra 1) and its %__os_install_post runs no
    Python step.  macros.pycompile-repro-debian, read last (from
    /etc/rpm/macros.*: here put at the end of the macro path), makes the
    step run; macros.zz-pycompile-repro alone, in macros.d, does nothing
    there (the trap the README documents)."""

    def build(self, extra_macro_files, pyvers, defines=()):
        topdir = tempfile.mkdtemp(dir=self.tmp)
        env = dict(self.env, SOURCE_DATE_EPOCH=str(EPOCH))
        parts = MACRO_PATH.split(":")
        # macros.d's place: right after /usr/lib/rpm/macros.d/macros.*
        at = next(i for i, x in enumerate(parts) if "macros.d" in x) + 1
        path = parts[:at] + extra_macro_files.get("macros.d", []) + \
            parts[at:] + extra_macro_files.get("etc", [])
        cmd = ["rpmbuild", "--macros", ":".join(path),
               "--define", "__brp_pycompile_repro " +
               os.path.join(self.dest, "usr/lib/rpm/brp-pycompile-repro"),
               "--define", "_topdir " + topdir,
               "--define", "sample_src " + os.path.join(HERE, "sample-deb"),
               "--define", "pyvers " + pyvers,
               "--define", "noarch 1", "--define", "precompile 0",
               "--define", "private 0"]
        for d in defines:
            cmd += ["--define", d]
        cmd += ["--nodeps", "-bb", os.path.join(HERE, "sample-rpm",
                                                 "reprosample.spec")]
        p = subprocess.run(cmd, env=env, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        rpms = [os.path.join(d, f) for d, _, fs in os.walk(topdir)
                for f in fs if f.endswith(".rpm")]
        out = os.path.join(topdir, "payload")
        os.makedirs(out)
        subprocess.run("rpm2cpio '%s' | cpio -idm --quiet" % rpms[0],
                       shell=True, cwd=out, check=True)
        return p, out

    @unittest.skipUnless(MACRO_PATH and "platform" in MACRO_PATH,
                         "needs an rpm with a platform macro file")
    def test_read_last_the_step_runs_with_fedoras_settings(self):
        v = servers()[-1]
        zz = os.path.join(self.dest, "usr/lib/rpm/macros.d/"
                          "macros.zz-pycompile-repro")
        deb = os.path.join(self.dest, "usr/lib/rpm/"
                           "macros.pycompile-repro-debian")
        # installed as on Debian: macros.d (too early) and /etc/rpm (last)
        p, out = self.build({"macros.d": [zz], "etc": [deb]}, v, defines=[
            "clamp_mtime_to_source_date_epoch 1"])
        got = pycs_of(out)
        self.assertEqual(len(got), 6, (p.stdout + p.stderr)[-2000:])
        for name, data in got.items():
            self.assertTrue(canonical(data), name)
            self.assertIn(tag(v), name)
            self.assertEqual(int.from_bytes(data[8:12], "little"), EPOCH)
        self.assertEqual(p.stdout.count(b"compiling .py files below"), 1)
        # the platform's %_python_bytecompile_extra 1 is overridden: the
        # step does not refuse
        self.assertNotIn(b"discontinued", p.stderr)

    @unittest.skipUnless(MACRO_PATH and "platform" in MACRO_PATH,
                         "needs an rpm with a platform macro file")
    def test_macros_d_alone_does_nothing_on_debians_rpm(self):
        zz = os.path.join(self.dest, "usr/lib/rpm/macros.d/"
                          "macros.zz-pycompile-repro")
        p, out = self.build({"macros.d": [zz]}, servers()[-1])
        self.assertEqual(pycs_of(out), {})
        self.assertNotIn(b"compiling .py files below", p.stdout)


class TestRpm(Installed):
    """The RPM step as Fedora runs it: fedora-like.macros stands in for
    redhat-rpm-config (which Debian's rpm lacks), our macros file is read
    after it, as macros.zz-pycompile-repro is on Fedora."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a wrapper that logs how the step calls the tool
        cls.log = os.path.join(cls.tmp, "calls.log")
        cls.wrapper = os.path.join(cls.tmp, "wrapper")
        with open(cls.wrapper, "w") as f:
            f.write('#!/bin/sh\necho "$*" >> %s\nexec %s "$@"\n'
                    % (cls.log, cls.tool))
        os.chmod(cls.wrapper, 0o755)
        cls.n = 0

    def build(self, ours=True, pyvers=None, noarch=True, precompile=False,
              private=False, defines=(), epoch=EPOCH, ok=True):
        TestRpm.n += 1
        topdir = os.path.join(self.tmp, "rpm-%d" % self.n,
                              "deeper" * (self.n % 2))
        os.makedirs(topdir)
        env = dict(self.env, PYCOMPILE_REPRO=self.wrapper)
        env.pop("SOURCE_DATE_EPOCH", None)
        if epoch is not None:
            env["SOURCE_DATE_EPOCH"] = str(epoch)
        if os.path.exists(self.log):
            os.unlink(self.log)
        # the macro files go on rpm's macro path, read as Fedora reads its
        # own (rpmbuild 6 forgets --load files when it builds the spec)
        path = [MACRO_PATH, os.path.join(HERE, "fedora-like.macros")]
        if ours:
            path.append(os.path.join(
                self.dest, "usr/lib/rpm/macros.d/macros.zz-pycompile-repro"))
        cmd = ["rpmbuild", "--macros", ":".join(path),
               "--define", "fedora_bytecompile " +
               os.path.join(HERE, "fedora-bytecompile")]
        if ours:
            # the step from the temporary root, not from /usr/lib/rpm
            cmd += ["--define", "__brp_pycompile_repro " +
                    os.path.join(self.dest, "usr/lib/rpm/brp-pycompile-repro")]
        cmd += ["--define", "_topdir " + topdir,
                "--define", "sample_src " + os.path.join(HERE, "sample-deb"),
                "--define", "pyvers " + (pyvers or servers()[-1]),
                "--define", "noarch %d" % noarch,
                "--define", "precompile %d" % precompile,
                "--define", "private %d" % private]
        for d in defines:
            cmd += ["--define", d]
        cmd += ["--nodeps", "-bb", os.path.join(HERE, "sample-rpm",
                                                 "reprosample.spec")]
        p = subprocess.run(cmd, env=env, capture_output=True)
        if not ok:
            return p, None
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        rpms = [os.path.join(d, f) for d, _, fs in os.walk(topdir)
                for f in fs if f.endswith(".rpm")]
        self.assertEqual(len(rpms), 1)
        out = os.path.join(topdir, "payload")
        os.makedirs(out)
        cpio = subprocess.run("rpm2cpio '%s' | cpio -idm --quiet" % rpms[0],
                              shell=True, cwd=out, capture_output=True)
        self.assertEqual(cpio.returncode, 0, cpio.stderr)
        return p, out, rpms[0]

    def calls(self):
        """How the step ran the tool to compile (not to ask --version)."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [c for c in f.read().splitlines() if c != "--version"]

    def test_fedora_step_alone_is_not_canonical(self):
        # the baseline: rpm's compileall step; what our step must fix
        p, out, _ = self.build(ours=False, pyvers="3.11"
                               if "3.11" in servers() else servers()[-1],
                               defines=["clamp_mtime_to_source_date_epoch 1"])
        got = pycs_of(out)
        self.assertTrue(got)
        self.assertFalse(all(canonical(d) for d in got.values()))

    def test_noarch_built_twice_identical_and_canonical(self):
        d = ["clamp_mtime_to_source_date_epoch 1"]
        p1, one, rpm1 = self.build(defines=d)
        # run once per directory, although rpm parses a noarch spec twice
        self.assertEqual(p1.stdout.count(b"compiling .py files below"), 1)
        time.sleep(1.1)
        _, two, rpm2 = self.build(defines=d)
        a, b = pycs_of(one), pycs_of(two)
        v = servers()[-1]
        self.assertEqual(len(a), 6)  # three modules, -o 0 and -o 1
        self.assertEqual(a, b)
        # the whole package, not only its .pyc (another build directory)
        self.assertEqual(sha256(rpm1), sha256(rpm2))
        print("noarch rpm built twice: sha256 %s; its .pyc set %s"
              % (sha256(rpm1)[:16], set_hash(a)), file=sys.stderr)
        for name, data in a.items():
            self.assertTrue(canonical(data), name)
            self.assertIn(tag(v), name)
            self.assertNotIn(b"BUILDROOT", data)
            self.assertIn(("/usr/lib/python%s/site-packages/reprosample/"
                           % v).encode(), data)
            # Fedora: timestamp; the source mtime clamped to the epoch
            self.assertEqual(data[4:8], b"\0\0\0\0")
            self.assertEqual(int.from_bytes(data[8:12], "little"), EPOCH)

    def test_arch_spec_built_twice_identical(self):
        d = ["clamp_mtime_to_source_date_epoch 1"]
        _, one, rpm1 = self.build(noarch=False, defines=d)
        time.sleep(1.1)
        _, two, rpm2 = self.build(noarch=False, defines=d)
        a = pycs_of(one)
        self.assertEqual(len(a), 6)
        self.assertTrue(all(k.startswith("usr/lib64/") for k in a))
        self.assertEqual(a, pycs_of(two))
        self.assertEqual(sha256(rpm1), sha256(rpm2))
        print("arch rpm built twice: sha256 %s; its .pyc set %s"
              % (sha256(rpm1)[:16], set_hash(a)), file=sys.stderr)
        self.assertTrue(all(canonical(x) for x in a.values()))

    def test_existing_pyc_are_rewritten_canonical(self):
        v = servers()[-1]
        p, out, _ = self.build(precompile=True, pyvers=v, defines=[
            "clamp_mtime_to_source_date_epoch 1"])
        got = pycs_of(out)
        self.assertEqual(len(got), 6)
        for name, data in got.items():
            self.assertTrue(canonical(data), name)

    def test_no_clamping_unless_asked(self):
        _, out, _ = self.build(defines=["clamp_mtime_to_source_date_epoch 0"])
        self.assertNotIn("--clamp-mtime", " ".join(self.calls()))
        v = servers()[-1]
        src = os.path.join(out, "usr/lib/python%s/site-packages/reprosample/"
                           "consts.py" % v)
        data = readb(os.path.join(os.path.dirname(src), "__pycache__",
                                  "consts.%s.pyc" % tag(v)))
        self.assertNotEqual(int(os.stat(src).st_mtime), EPOCH)
        self.assertEqual(int.from_bytes(data[8:12], "little"),
                         int(os.stat(src).st_mtime))
        _, out, _ = self.build(defines=["clamp_mtime_to_source_date_epoch 1"])
        self.assertIn("--clamp-mtime", " ".join(self.calls()))

    def test_smp_build_ncpus_sets_the_servers(self):
        self.build(defines=["_smp_build_ncpus 3"])
        self.assertTrue(self.calls())
        self.assertTrue(all(" -j 3 " in c for c in self.calls()),
                        self.calls())

    def test_bytecompile_extra_is_refused(self):
        p, _ = self.build(defines=["_python_bytecompile_extra 1"], ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"_python_bytecompile_extra is discontinued", p.stderr)

    def test_private_directory_macro(self):
        _, out, _ = self.build(private=True)
        default = os.path.basename(os.path.realpath("/usr/bin/python3"))[6:]
        got = pycs_of(os.path.join(out, "usr/share/reprotool"))
        self.assertEqual(sorted(got), [
            "__pycache__/helper.%s.opt-1.pyc" % tag(default),
            "__pycache__/helper.%s.pyc" % tag(default)])
        self.assertTrue(all(canonical(x) for x in got.values()))

    def test_two_python_versions_in_one_build_root(self):
        have = servers()
        if len(have) >= 2:
            vs = have[-2:]
            _, out, _ = self.build(pyvers=" ".join(vs), defines=[
                "clamp_mtime_to_source_date_epoch 1"])
            got = pycs_of(out)
            self.assertEqual(len(got), 12)
            for name in got:
                v = re.search(r"python(3\.\d+)/", name).group(1)
                self.assertIn("." + tag(v) + ".", name)
        else:
            # one server here (tests/distros.sh runs this in sid with two):
            # a version without a server fails the build, and says why
            p, _ = self.build(pyvers=have[0] + " 3.99", ok=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(b"brp-pycompile-repro: WARNING: no compile server "
                          b"for Python 3.99 here", p.stderr)


if __name__ == "__main__":
    main()
