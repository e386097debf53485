# SPDX-License-Identifier: MIT
"""tests/bazel/make_workspace.py - write the Bazel test workspace.

    make_workspace.py --out WS --precompiler PATH --module DIR
                      [--modules 2000] [--django DIR] [--bench]

WS gets: the template (tests/bazel/workspace: the PyCompile rule, the
offline stubs), MODULE.bazel and .bazelrc (offline: every module
overridden, an empty file:// registry), the exec tools toolchain whose
precompiler is pycompile_repro_precompiler(path = PATH) from the module in
DIR (contrib/bazel as installed), N generated modules in packages of 100
(gen/pNN, CPython GEN_PY), and Django's tree (django/, CPython DJANGO_PY)
when given.  manifest.json lists every (source, .pyc, version, level,
mode) for check_pycs.py.
"""
import argparse
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PER_PACKAGE = 100
STUBS = ["apple_support", "buildozer", "protobuf", "zlib"]

# The packages' settings: (python, level, mode) by package number.
MODES = ["checked_hash", "unchecked_hash"]


def tag(version):
    return "cpython-" + version.replace(".", "")


def module_source(i):
    """A small module, different for each i, with what makes marshal
    output depend on a process's history: short strings and names shared
    between modules, one-character strings, "{" and "}", identifiers
    outside ASCII, constants of every type."""
    k = i % 7
    lines = [
        '"""Generated module %d."""' % i,
        "import os",
        "",
        "NAME = %r" % ("mod%d" % i),
        "LIMIT = %d" % (i * 37 % 1000),
        "SHARED = ('a', 'b', '{', '}', 'shared', %d)" % (i % 5),
        "BIG = %d" % (2 ** (64 + i % 50)),
        "RATIO = %r" % (i / 7.0),
        "Z = %dj" % (i % 11),
        "BLOB = %r" % bytes([i % 256, (i * 3) % 256]),
        "KEYS = frozenset({'x', 'y', %r})" % ("k%d" % (i % 13)),
        "",
        "",
        "class Thing%d:" % i,
        "    kind = %r" % ("kind%d" % k),
        "",
        "    def __init__(self, value=None):",
        "        self.value = value if value is not None else LIMIT",
        "",
        "    def render(self):",
        "        return f\"{{{self.value}}} {NAME!r} {self.kind:>8}\"",
        "",
        "    @property",
        "    def pairs(self):",
        "        return {k: v for k, v in zip('abc', range(%d))}" % (k + 1),
        "",
        "",
        "def helper_%d(items, *, sep=','):" % i,
        "    out = []",
        "    for n, item in enumerate(items):",
        "        if n %% %d == 0:" % (k + 2),
        "            out.append(str(item))",
        "        elif isinstance(item, (int, float)):",
        "            out.append('{' + repr(item) + '}')",
        "        else:",
        "            try:",
        "                out.append(os.fspath(item))",
        "            except TypeError as exc:",
        "                out.append(type(exc).__name__)",
        "    return sep.join(out)",
        "",
        "",
        "def gen(n):",
        "    yield from (x * x for x in range(n) if x % 3)",
        "",
        "",
        "async def fetch(session, path=%r):" % ("/p/%d" % i),
        "    async with session.get(path) as r:",
        "        return await r.text()",
    ]
    if i % 50 == 0:
        lines += ["", "", "é = %d" % i, "def f_é(é=é):", "    return é + 1"]
    if i % 23 == 0:
        lines += ["", "", "match_me = lambda v: [y for y in v if y]"]
    return "\n".join(lines) + "\n"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def build_file(srcs_expr, version, level, mode):
    return (
        'load("//rules:precompile.bzl", "py_precompiled")\n\n'
        "py_precompiled(\n"
        '    name = "pycs",\n'
        "    srcs = %s,\n"
        '    python_version = "%s",\n'
        '    pyc_tag = "%s",\n'
        "    optimize = %d,\n"
        '    invalidation_mode = "%s",\n'
        ")\n" % (srcs_expr, version, tag(version), level, mode))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--precompiler", required=True,
                    help="absolute path of pycompile-repro-bazel")
    ap.add_argument("--module", required=True,
                    help="the pycompile_repro Bazel module (contrib/bazel)")
    ap.add_argument("--modules", type=int, default=2000)
    ap.add_argument("--django", help="Django's package directory")
    ap.add_argument("--gen-python", default="3.14")
    ap.add_argument("--django-python", default="3.13")
    ap.add_argument("--worker", type=int, default=1,
                    help="0: the precompiler asks for no worker")
    a = ap.parse_args()

    ws = os.path.abspath(a.out)
    shutil.copytree(os.path.join(HERE, "workspace"), ws)
    write(os.path.join(ws, "MODULE.bazel"),
          'module(name = "pcr_bazel_test")\n\n'
          'bazel_dep(name = "pycompile_repro", version = "0.2.0")\n\n'
          'register_toolchains("//toolchains:all")\n')
    rc = [
        "# offline: no registry, no lock file, every module overridden",
        "common --registry=file://%workspace%/empty-registry",
        "common --noenable_workspace",
        "common --lockfile_mode=off",
        "common --override_module=pycompile_repro=%s"
        % os.path.abspath(a.module),
    ]
    rc += ["common --override_module=%s=%%workspace%%/stubs/%s" % (m, m)
           for m in STUBS]
    write(os.path.join(ws, ".bazelrc"), "\n".join(rc) + "\n")
    os.makedirs(os.path.join(ws, "empty-registry"))
    write(os.path.join(ws, "toolchains", "BUILD.bazel"),
          'load("@pycompile_repro//:defs.bzl", '
          '"pycompile_repro_precompiler")\n'
          'load("//rules:precompile.bzl", "py_exec_tools_toolchain")\n\n'
          "pycompile_repro_precompiler(\n"
          '    name = "precompiler",\n'
          "    path = %s,\n"
          "    worker = %s,\n"
          ")\n\n"
          "py_exec_tools_toolchain(\n"
          '    name = "exec_tools",\n'
          '    precompiler = ":precompiler",\n'
          ")\n\n"
          "toolchain(\n"
          '    name = "exec_tools_toolchain",\n'
          '    toolchain = ":exec_tools",\n'
          '    toolchain_type = "//rules:exec_tools_toolchain_type",\n'
          ")\n" % (json.dumps(a.precompiler),
                   "True" if a.worker else "False"))

    manifest = []
    npkg = (a.modules + PER_PACKAGE - 1) // PER_PACKAGE
    for p in range(npkg):
        pkg = "gen/p%02d" % p
        # the last package: -O2 and unchecked hashes; the rest as
        # rules_python's fastbuild default (level 0, checked hashes)
        last = p == npkg - 1 and npkg > 1
        level, mode = (2, MODES[1]) if last else (0, MODES[0])
        names = []
        for i in range(p * PER_PACKAGE, min(a.modules, (p + 1) * PER_PACKAGE)):
            name = "m%04d.py" % i
            names.append(name)
            write(os.path.join(ws, pkg, name), module_source(i))
            manifest.append({
                "src": "%s/%s" % (pkg, name),
                "pyc": "%s/__pycache__/%s.%s.pyc"
                       % (pkg, name[:-3], tag(a.gen_python)),
                "python": a.gen_python, "level": level, "mode": mode})
        write(os.path.join(ws, pkg, "BUILD.bazel"),
              build_file('glob(["*.py"])', a.gen_python, level, mode))
    if a.django:
        dst = os.path.join(ws, "django")
        for root, dirs, files in os.walk(a.django):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            rel = os.path.relpath(root, a.django)
            for f in sorted(files):
                if not f.endswith(".py"):
                    continue
                src = os.path.normpath(os.path.join("django", rel, f))
                os.makedirs(os.path.join(ws, os.path.dirname(src)),
                            exist_ok=True)
                shutil.copyfile(os.path.join(root, f), os.path.join(ws, src))
                manifest.append({
                    "src": src,
                    "pyc": "%s/__pycache__/%s.%s.pyc"
                           % (os.path.dirname(src), f[:-3],
                              tag(a.django_python)),
                    "python": a.django_python, "level": 0,
                    "mode": MODES[0]})
        write(os.path.join(dst, "BUILD.bazel"),
              build_file('glob(["**/*.py"])', a.django_python, 0, MODES[0]))
    with open(os.path.join(ws, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=0)
    print("workspace: %s, %d sources" % (ws, len(manifest)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
