# SPDX-License-Identifier: MIT
"""--check --format json against its definition, docs/check-json.md: the
schema there (the JSON block after "<!-- schema -->", in the subset of
JSON Schema validate() below reads) and the invariants it lists, on real
reports of every kind: a clean tree, every class of problem, a name that
does not exist, no compiler, excluded files, --by-value, two levels, a
tar's and a wheel's check, and --all-packages on a stand-in dpkg
database.  Standard library only.  Runs under /usr/bin/python3.X of the
server under test."""
import base64
import hashlib
import json
import os
import py_compile
import re
import shutil
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)
from common import main, tool  # noqa: E402

DOC = os.path.join(common.HERE, "..", "..", "docs", "check-json.md")

STATUS = {"ok": "ok", "missing": "differs", "other-python": "differs",
          "other-mode": "differs", "stale": "differs",
          "not-canonical": "differs", "different": "differs",
          "source-error": "error", "unreadable": "error",
          "no-compiler": "skipped", "skipped": "skipped"}


def load_schema():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"<!-- schema -->\s*```json\n(.*?)\n```", text, re.S)
    if block is None:
        raise AssertionError("no schema block in docs/check-json.md")
    return json.loads(block.group(1))


TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict,
         "array": list, "null": type(None)}


def type_ok(value, name):
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def validate(value, schema, where="$"):
    """The errors of value against schema (the page's subset of JSON
    Schema), as a list of strings."""
    errors = []
    if "type" in schema:
        names = schema["type"]
        names = [names] if isinstance(names, str) else names
        if not any(type_ok(value, n) for n in names):
            return ["%s: %r is not %s" % (where, value, "/".join(names))]
    if "const" in schema and (value != schema["const"] or
                              type(value) is not type(schema["const"])):
        errors.append("%s: %r is not %r" % (where, value, schema["const"]))
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s: %r is not one of %s" % (where, value,
                                                   schema["enum"]))
    if isinstance(value, str) and "pattern" in schema and \
            re.fullmatch(schema["pattern"], value) is None:
        errors.append("%s: %r does not match %s" % (where, value,
                                                    schema["pattern"]))
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append("%s: %d < %d" % (where, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            errors.append("%s: %d > %d" % (where, value, schema["maximum"]))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append("%s: no %r" % (where, key))
        extra = schema.get("additionalProperties", True)
        for key, v in value.items():
            if key in props:
                errors += validate(v, props[key], "%s.%s" % (where, key))
            elif extra is False:
                errors.append("%s: %r is not in the schema" % (where, key))
            elif isinstance(extra, dict):
                errors += validate(v, extra, "%s.%s" % (where, key))
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errors += validate(v, schema["items"], "%s[%d]" % (where, i))
    return errors


def invariants(report, all_packages=False):
    """The errors of report against the page's invariants."""
    errors = []
    files, t = report["files"], report["totals"]
    bc = t["by_class"]
    counts = {c: 0 for c in bc}
    for f in files:
        counts[f["class"]] += 1
    if not (t["checked"] == len(files) == sum(bc.values())):
        errors.append("1: checked %d, %d records, by_class sums to %d"
                      % (t["checked"], len(files), sum(bc.values())))
    if counts != bc:
        errors.append("1: by_class %s, records %s" % (bc, counts))
    want = {"identical": bc["ok"],
            "errors": bc["source-error"] + bc["unreadable"],
            "skipped": bc["skipped"] + bc["no-compiler"],
            "same_code": bc["not-canonical"] if report["by_value"] else 0}
    for k, v in want.items():
        if t[k] != v:
            errors.append("2: %s is %d, not %d" % (k, t[k], v))
    if t["checked"] != (t["identical"] + t["same_code"] + t["differ"]
                        + t["errors"] + t["skipped"]):
        errors.append("2: the totals do not add up: %s" % t)
    series = {p["series"] for p in report["pythons"]}
    for i, f in enumerate(files):
        status = STATUS[f["class"]]
        if f["class"] == "not-canonical" and report["by_value"]:
            status = "ok"
        if f["status"] != status:
            errors.append("3: files[%d] %s is %s" % (i, f["class"],
                                                     f["status"]))
        if f["pyc"] is None and (f["level"] != -1 or f["class"] not in (
                "skipped", "no-compiler", "source-error", "unreadable")):
            errors.append("4: files[%d] %s" % (i, f))
        if f["python"] is not None and f["python"] not in series:
            errors.append("5: files[%d] python %s not in %s"
                          % (i, f["python"], series))
        if ("package" in f) != all_packages:
            errors.append("6: files[%d] %s" % (i, f))
    return errors


def make_wheel(path, files):
    """A wheel of files ({name: bytes}) with a right RECORD."""
    record = ""
    for n, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
        record += "%s,sha256=%s,%d\n" % (n, digest.rstrip(b"=").decode(),
                                          len(data))
    record += "demo-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
        z.writestr("demo-1.0.dist-info/RECORD", record)
    return path


class TestSchema(common.TempDirCase):
    prefix = "pcr-json-"

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(DOC):
            raise unittest_skip("no docs/check-json.md beside the tests")
        cls.schema = load_schema()

    def report(self, args, status, env=None, cwd=None, explicit=True,
               all_packages=False):
        """Run a JSON check, hold it to the page, return it."""
        p = tool(["--check", "--format", "json"] + args, cwd or self.top,
                 env=env, explicit=explicit)
        self.assertEqual(p.returncode, status, p.stdout + p.stderr)
        report = json.loads(p.stdout)
        self.assertEqual(validate(report, self.schema), [], p.stdout)
        self.assertEqual(invariants(report, all_packages), [], p.stdout)
        return report

    def classes(self, report):
        return sorted({f["class"] for f in report["files"]})

    def compiled_tree(self, *levels):
        for name, text in (("a", "A = 1\n"), ("b", "B = 'b'\n"),
                           ("c", "C = 3\n"), ("d", "D = 4\n"),
                           ("e", "E = 5\n"), ("f", "F = 6\n"),
                           ("g", "G = 7\n"), ("h", "H = 8\n")):
            self.write("pkg/%s.py" % name, text)
        self.write(os.fsdecode(b"pkg/x\xff.py"), "X = 9\n")  # not UTF-8
        lv = [a for lev in levels for a in ("-o", str(lev))]
        p = tool(["-q"] + lv + ["pkg"], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        return os.path.join(self.top, "pkg")

    def pyc(self, name, level=0):
        return pycref.cache_path(os.path.join(self.top, "pkg", name), level)

    def test_the_schema_is_strict(self):
        """The schema itself catches what it should: a key too many, a
        class it does not know, a wrong version."""
        tree = self.compiled_tree()
        report = self.report(["pkg"], 0)
        self.assertEqual(self.classes(report), ["ok"])
        self.assertTrue(any("\udcff" in f["source"]
                            for f in report["files"]))
        for change in (lambda r: r.update(extra=1),
                       lambda r: r["files"][0].update(cls="ok"),
                       lambda r: r["files"][0].update({"class": "odd"}),
                       lambda r: r.update(format_version=2),
                       lambda r: r["totals"]["by_class"].pop("skipped"),
                       lambda r: r["files"][0].update(level="0")):
            bad = json.loads(json.dumps(report))
            change(bad)
            self.assertNotEqual(validate(bad, self.schema), [])
        self.assertTrue(os.path.isdir(tree))

    def test_every_class_of_problem(self):
        self.compiled_tree(0, 1)
        import test_all_packages
        test_all_packages.tamper(self.pyc("b.py"), "b", "c")  # different
        os.unlink(self.pyc("c.py"))                       # missing
        with open(os.path.join(self.top, "pkg", "d.py"), "a") as f:
            f.write("# edited\n")                          # stale
        py_compile.compile(os.path.join(self.top, "pkg", "e.py"),
                           dfile="pkg/e.py", invalidation_mode=py_compile.
                           PycInvalidationMode.TIMESTAMP)  # not-canonical
        p = tool(["-q", "-f", "--invalidation-mode", "checked-hash",
                  "pkg/f.py"], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)        # other-mode
        with open(self.pyc("g.py"), "r+b") as f:
            f.write((3413).to_bytes(2, "little"))          # other-python
        with open(os.path.join(self.top, "pkg", "h.py"), "w") as f:
            f.write("def broken(:\n")                      # source-error
        report = self.report(["-o", "0", "-o", "1", "pkg"], 1)
        self.assertEqual(self.classes(report), [
            "different", "missing", "not-canonical", "ok", "other-mode",
            "other-python", "source-error", "stale"])
        self.assertEqual({f["level"] for f in report["files"]}, {0, 1})
        # --by-value: the same code is fine
        report = self.report(["--by-value", "-o", "0", "-o", "1", "pkg"], 1)
        self.assertTrue(report["by_value"])
        self.assertEqual(report["totals"]["same_code"], 1)
        # unreadable: a .pyc that is a directory, and a name not there
        os.unlink(self.pyc("a.py"))
        os.mkdir(self.pyc("a.py"))
        report = self.report(["pkg", "nope.py"], 2)
        self.assertIn("unreadable", self.classes(report))
        self.assertEqual(report["files"][-1]["pyc"], None)

    def test_no_compiler_and_skipped(self):
        self.compiled_tree()
        shutil.copy(self.pyc("a.py"), os.path.join(
            self.top, "pkg", "__pycache__", "a.cpython-399.pyc"))
        report = self.report(["-x", "b\\.py", "pkg"], 1)
        self.assertEqual(self.classes(report),
                         ["no-compiler", "ok", "skipped"])
        whole = [f for f in report["files"] if f["pyc"] is None]
        self.assertEqual([f["class"] for f in whole], ["skipped"])
        self.report(["--allow-no-compiler", "-x", "b\\.py", "pkg"], 0)
        # a source below lib/python3.99: checked as a whole, not at all
        self.write("root/usr/lib/python3.99/m.py", "M = 1\n")
        report = self.report(["root/usr/lib/python3.99"], 1, explicit=False)
        self.assertEqual([(f["class"], f["pyc"]) for f in report["files"]],
                         [("no-compiler", None)])

    def test_archives(self):
        self.compiled_tree()
        # (a tar holding a name that is not UTF-8 cannot be read back in
        # the C locale: libarchive's "Pathname can't be converted")
        os.unlink(os.path.join(self.top, os.fsdecode(b"pkg/x\xff.py")))
        env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
        p = tool(["--tar", "t.tar", "pkg"], self.top, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        report = self.report(["--tar", "t.tar", "pkg"], 0, env=env)
        self.assertTrue(all(f["pyc"].startswith("t.tar:") and
                            f["level"] == -1 for f in report["files"]))
        self.write("pkg/a.py", "def broken(:\n")
        report = self.report(["--tar", "t.tar", "pkg", "nope.py"], 2,
                             env=env)
        self.assertEqual(self.classes(report),
                         ["different", "ok", "source-error", "unreadable"])
        # a wheel's check, with a RECORD that does not match
        whl = os.path.join(self.top, "demo-1.0-py3-none-any.whl")
        make_wheel(whl, {"demo/__init__.py": b"V = 1\n",
                         "demo-1.0.dist-info/METADATA":
                             b"Metadata-Version: 2.1\nName: demo\n"
                             b"Version: 1.0\n",
                         "demo-1.0.dist-info/WHEEL":
                             b"Wheel-Version: 1.0\nTag: py3-none-any\n"
                             b"Root-Is-Purelib: true\n"})
        report = self.report(["--wheel", whl], 1, env=env)
        self.assertEqual(self.classes(report), ["missing"])
        with zipfile.ZipFile(whl, "a") as z:
            z.writestr("demo/extra.py", b"W = 2\n")
        report = self.report(["--wheel", whl, "--no-verify-record"], 1,
                             env=env)
        report = self.report(["--wheel", whl], 1, env=env)
        self.assertTrue(any(f["pyc"].endswith("RECORD")
                            for f in report["files"]))

    def test_all_packages(self):
        import test_all_packages
        stand_in = test_all_packages.TestAllPackages("test_usage")
        stand_in.setUp()
        self.addCleanup(stand_in.doCleanups)
        test_all_packages.tamper(pycref.cache_path(stand_in.src["b"]),
                                 1000, 1001)
        report = self.report(["--all-packages", "--by-value"], 1,
                             env=stand_in.env, cwd=stand_in.top,
                             explicit=False, all_packages=True)
        self.assertEqual({f["package"] for f in report["files"]},
                         {"python3-demo"})
        self.assertIn("different", self.classes(report))
        self.assertTrue(report["pythons"])


def unittest_skip(msg):
    import unittest
    return unittest.SkipTest(msg)


if __name__ == "__main__":
    main()
