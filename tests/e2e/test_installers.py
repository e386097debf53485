# SPDX-License-Identifier: MIT
"""README's "With pip, installer, compileall and uv", tried as written:
the section is there; pypa/installer and pip (when this interpreter has
them: Debian's python3-installer and python3-pip) compile over a wheel's
canonical .pyc unless told not to; --no-compile-bytecode / --no-compile
and then pycompile-repro give a tree --check passes; what they compile is
not-canonical (fine --by-value) and --canonicalize makes it pass; pip
--target records its temporary directory.  (uv is not in Debian
bookworm: its lines are not run.)  Runs under /usr/bin/python3.X of the
server under test."""
import importlib.util
import os
import subprocess
import sys
import sysconfig
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import PYVER, main, pycs_of, tool  # noqa: E402
from test_usability import make_wheel  # noqa: E402

README = os.path.join(common.HERE, "..", "..", "README.md")
SDE = {"SOURCE_DATE_EPOCH": "1700000000"}


def have(module):
    return importlib.util.find_spec(module) is not None


def classes(p):
    """{class: count} of a text --check report."""
    out = {}
    for line in p.stdout.decode().splitlines():
        cls = line.split(": ")[1]
        out[cls] = out.get(cls, 0) + 1
    return out


class TestReadme(common.TempDirCase):
    def test_the_section_is_there(self):
        if not os.path.exists(README):
            self.skipTest("no README.md beside the tests")
        with open(README, encoding="utf-8") as f:
            text = f.read()
        for heading in ("\n## With pip, installer, compileall and uv\n",
                        "\n### What the Debian hook changes, and costs\n"):
            self.assertTrue(heading in text, "README lacks " + heading)
        section = text[text.index("## With pip, installer"):]
        section = section[:section.index("\n## ", 5)]
        for word in ("--no-compile ", "--no-compile-bytecode",
                     "--canonicalize", "not-canonical", "--by-value",
                     "uv pip install", "compileall"):
            self.assertIn(word, section)


class Installs(common.TempDirCase):
    prefix = "pcr-installers-"

    def setUp(self):
        super().setUp()
        self.pure = make_wheel(self.top)
        out = os.path.join(self.top, "ours")
        p = tool(["--wheel", self.pure, "--output", out + "/"], self.top,
                 extra_env=SDE)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.ours = os.path.join(out, os.listdir(out)[0])
        with zipfile.ZipFile(self.ours) as z:
            self.wheel_pycs = {n: z.read(n) for n in z.namelist()
                               if n.endswith(".pyc")}
        self.assertTrue(self.wheel_pycs)

    def run_ok(self, args):
        p = subprocess.run([sys.executable] + args, cwd=self.top,
                           capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


@__import__("unittest").skipUnless(have("installer"), "no pypa/installer")
class TestInstaller(Installs):
    site = sysconfig.get_path("purelib")

    def install(self, name, wheel, *opts):
        dest = os.path.join(self.top, name)
        self.run_ok(["-m", "installer", "--destdir", dest] + list(opts)
                    + [wheel])
        return dest, dest + self.site

    def check(self, dest, site, *opts):
        return tool(["--check", "-o", "0", "-o", "1", "-s", dest, "-p", "/"]
                    + list(opts) + [site], self.top)

    def test_the_readme_lines(self):
        # by default it compiles levels 0 and 1, over the wheel's .pyc
        dest, site = self.install("d1", self.ours)
        installed = pycs_of(site)
        self.assertEqual(len(installed), 2 * len(self.wheel_pycs))
        for name, data in self.wheel_pycs.items():
            self.assertNotEqual(installed[os.path.relpath(name)], data)
        # not-canonical: the same code; fine by value; --canonicalize
        p = self.check(dest, site)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(classes(p), {"not-canonical": 4})
        self.assertEqual(self.check(dest, site, "--by-value").returncode, 0)
        p = tool(["--canonicalize", site], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.check(dest, site)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # --no-compile-bytecode keeps the wheel's own, byte for byte
        # (newer installer, sid's, skips a wheel's __pycache__ entries:
        # then nothing is left to keep, and the tool's run below applies)
        dest, site = self.install("d2", self.ours, "--no-compile-bytecode")
        installed = pycs_of(site)
        if installed:
            self.assertEqual({os.path.relpath(n): d
                              for n, d in self.wheel_pycs.items()}, installed)
        # a wheel without .pyc, then the tool, as the README says
        dest, site = self.install("d3", self.pure, "--no-compile-bytecode")
        self.assertEqual(pycs_of(site), {})
        p = tool(["-q", "-j0", "-o", "0", "-o", "1", "-s", dest, "-p", "/",
                  site], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.check(dest, site)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


@__import__("unittest").skipUnless(have("pip"), "no pip")
class TestPip(Installs):
    def install(self, name, wheel, *opts):
        target = os.path.join(self.top, name)
        self.run_ok(["-m", "pip", "install", "--no-index", "--no-deps",
                     "--disable-pip-version-check", "--target", target]
                    + list(opts) + [wheel])
        return target

    def test_the_readme_lines(self):
        # --target compiles elsewhere: its .pyc record a temporary
        # directory, other code even by value; and over the wheel's own
        target = self.install("t1", self.ours)
        for name, data in self.wheel_pycs.items():
            self.assertNotEqual(pycs_of(target)[os.path.relpath(name)], data)
        p = tool(["--check", "--by-value", target], self.top)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(set(classes(p)), {"different"})
        self.assertIn(b"pip-target-", p.stdout)
        # --no-compile keeps the wheel's .pyc
        target = self.install("t2", self.ours, "--no-compile")
        self.assertEqual(pycs_of(target), {os.path.relpath(n): d for n, d
                                           in self.wheel_pycs.items()})
        # --no-compile, then the tool
        target = self.install("t3", self.pure, "--no-compile")
        self.assertEqual(pycs_of(target), {})
        p = tool(["-q", "-j0", "--python", PYVER, target], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = tool(["--check", target], self.top)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    main()
