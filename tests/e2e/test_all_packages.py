# SPDX-License-Identifier: MIT
"""--check --all-packages, the bytecode tamper check of a Debian system,
on a stand-in dpkg database (DPKG_ADMINDIR) whose file lists name sources
in a temporary tree, with .pyc written by CPython's py_compile as
py3compile writes them: by value they pass; a .pyc whose code was changed
is named 'different' with its package.  (The real system, public modules
and missing .pyc included, is tests/packaging/tamper_check.sh, in a
chroot.)  Runs under /usr/bin/python3.X of the server under test."""
import json
import marshal
import os
import py_compile
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)
from common import main, tool  # noqa: E402


def replace_constant(code, old, new):
    """code with every constant old (in nested code too) made new."""
    consts = []
    for c in code.co_consts:
        if isinstance(c, type(code)):
            c = replace_constant(c, old, new)
        elif c == old and type(c) is type(old):
            c = new
        consts.append(c)
    return code.replace(co_consts=tuple(consts))


def tamper(pyc, old, new):
    """Change one constant of a .pyc's code, keeping its header: the file
    still looks up to date to CPython's importer."""
    with open(pyc, "rb") as f:
        data = f.read()
    code = replace_constant(marshal.loads(data[16:]), old, new)
    with open(pyc, "wb") as f:
        f.write(data[:16] + marshal.dumps(code))


class TestAllPackages(common.TempDirCase):
    prefix = "pcr-allpkg-"

    def setUp(self):
        super().setUp()
        tree = os.path.join(self.top, "usr", "share", "demo")
        self.src = {}
        for name, text in (("a", "A = 1\n"),
                           ("b", "LIMIT = 1000\ndef f():\n"
                                 "    return LIMIT + 7\n"),
                           ("c", "C = 'x'\n"),
                           ("bad", "def broken(:\n"),
                           ("plain", "P = 2\n")):
            self.src[name] = common.write(os.path.join(tree, name + ".py"),
                                          text)
        # as py3compile leaves them: timestamp .pyc from CPython itself;
        # none for bad.py (it does not compile) nor for plain.py
        for name in ("a", "b"):
            py_compile.compile(self.src[name], doraise=True,
                               invalidation_mode=py_compile.
                               PycInvalidationMode.TIMESTAMP)
        # one in another mode: checked in that mode, by value too
        py_compile.compile(self.src["c"], doraise=True,
                           invalidation_mode=py_compile.
                           PycInvalidationMode.CHECKED_HASH)
        admin = os.path.join(self.top, "dpkg")
        os.makedirs(os.path.join(admin, "info"))
        with open(os.path.join(admin, "info", "python3-demo.list"),
                  "w") as f:
            f.write("/.\n%s\n" % tree)
            for path in self.src.values():
                f.write(path + "\n")
        with open(os.path.join(admin, "info", "no-python.list"), "w") as f:
            f.write("/.\n/usr/bin/true\n")
        self.env = dict(os.environ, DPKG_ADMINDIR=admin)

    def check(self, *args):
        # (not --python: with --all-packages it is a usage error)
        return tool(["--check", "--all-packages"] + list(args),
                    cwd=self.top, env=self.env, explicit=False)

    def test_untouched_passes_by_value_and_a_changed_constant_is_found(self):
        p = self.check("--by-value")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout, b"")
        self.assertRegex(p.stderr.decode(),
                         r"checked 3 \.pyc: \d identical, \d the same code")
        self.assertIn(b"5 Python sources of 1 installed packages",
                      p.stderr)
        # not by value: CPython's own .pyc are not canonical
        if not all(pycref.canonicalize(d[16:]) == d[16:] for d in (
                open(pycref.cache_path(self.src[n]), "rb").read()
                for n in ("a", "b", "c"))):
            self.assertEqual(self.check().returncode, 1)
        tamper(pycref.cache_path(self.src["b"]), 1000, 1001)
        p = self.check("--by-value")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        lines = p.stdout.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith(
            pycref.cache_path(self.src["b"]) + ": different: "), lines)
        self.assertIn("1001", lines[0])
        self.assertTrue(lines[0].endswith(" [python3-demo]"), lines)
        p = self.check("--by-value", "--format", "json")
        self.assertEqual(p.returncode, 1)
        report = json.loads(p.stdout)
        self.assertTrue(report["by_value"])
        bad = [f for f in report["files"] if f["status"] != "ok"]
        self.assertEqual([(f["class"], f["package"]) for f in bad],
                         [("different", "python3-demo")])
        self.assertEqual(report["totals"]["differ"], 1)
        # the checked-hash one was compared in its own mode
        c = [f for f in report["files"] if f["source"] == self.src["c"]]
        self.assertEqual(len(c), 1)
        self.assertIn(c[0]["class"], ("ok", "not-canonical"))

    def test_a_hash_pyc_with_other_code_is_found_too(self):
        tamper(pycref.cache_path(self.src["c"]), "x", "y")
        p = self.check("--by-value")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(b"c.", p.stdout)
        self.assertIn(b": different: ", p.stdout)

    def test_usage(self):
        for args in (["x.py"], ["--package", "make"], ["-o", "1"],
                     ["--python", "3.11"]):
            with self.subTest(args=args):
                p = self.check(*args)
                self.assertEqual(p.returncode, 2)
        p = tool(["--all-packages"], explicit=False)
        self.assertEqual(p.returncode, 2)
        env = dict(self.env, DPKG_ADMINDIR=os.path.join(self.top, "none"))
        p = tool(["--check", "--all-packages"], env=env, explicit=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"cannot read dpkg's file lists", p.stderr)


if __name__ == "__main__":
    main()
