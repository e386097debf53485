# SPDX-License-Identifier: MIT
"""Bench: the Python package (pycompile_repro) against the stdlib's
py_compile and compileall, in the same process.  Not a test: numbers.

    /usr/bin/python3.X tests/bench/pypkg_bench.py [--rounds N]
        [--files N] [--corpus DIR...]

with PYCOMPILE_REPRO_LIBRARY and PYCOMPILE_REPRO_SERVER_DIR naming a
build (default: build/), run from anywhere: every measurement runs in a
fresh python3.X -I -S process started in an empty neutral directory, the
trees given as absolute paths.

  one-by-one  N small files (default 1,000), py_compile.compile() called
              on each in turn, timestamp mode: ours (pycompile_repro:
              one library run per call through the one kept handle)
              against the stdlib's; the first call of each (ours starts
              its server there) apart.
  dir         compile_dir(DIR, quiet=1, workers=0) of a fresh copy of
              each corpus (default: this Python's standard library and
              Debian's python3-django from tests/corpora.sh), every
              __pycache__ removed first: ours against compileall's.

Rounds are interleaved (ours, stdlib, ours, ...); medians.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SERIES = "%d.%d" % sys.version_info[:2]

CHILD_ONE = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
which, files = sys.argv[2], sys.argv[3:]
if which == "ours":
    from pycompile_repro import py_compile
else:
    import py_compile
t0 = time.perf_counter()
py_compile.compile(files[0], doraise=True)
t1 = time.perf_counter()
for f in files[1:]:
    py_compile.compile(f, doraise=True)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""

CHILD_DIR = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
which, tree = sys.argv[2], sys.argv[3]
if which == "ours":
    from pycompile_repro import compileall
    import pycompile_repro._lib  # loaded before the clock starts
    pycompile_repro._lib.lib()
else:
    import compileall
t0 = time.perf_counter()
compileall.compile_dir(tree, quiet=2, workers=0)
t1 = time.perf_counter()
c = os.times()
print(t1 - t0, c.user + c.system + c.children_user + c.children_system)
"""


def clean(tree):
    for d, dirs, _files in os.walk(tree):
        if "__pycache__" in dirs:
            shutil.rmtree(os.path.join(d, "__pycache__"))
            dirs.remove("__pycache__")


def child(code, args, cwd):
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("SOURCE_DATE_EPOCH", None)
    p = subprocess.run([sys.executable, "-I", "-S", "-c", code,
                        os.path.join(ROOT, "python")] + args,
                       cwd=cwd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("bench child failed: %s" % p.stderr[-2000:])
    return [float(x) for x in p.stdout.split()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--corpus", nargs="*")
    args = ap.parse_args()
    os.environ.setdefault("PYCOMPILE_REPRO_LIBRARY", os.path.join(
        ROOT, "build", "libpycompile-repro.so.0.2.0"))
    os.environ.setdefault("PYCOMPILE_REPRO_SERVER_DIR", os.path.join(
        ROOT, "build", "libexec", "pycompile-repro"))
    work = tempfile.mkdtemp(prefix="pcr-pypkg-bench-")
    neutral = os.path.join(work, "cwd")
    os.mkdir(neutral)
    try:
        small = os.path.join(work, "small")
        os.mkdir(small)
        files = []
        for i in range(args.files):
            f = os.path.join(small, "m%04d.py" % i)
            with open(f, "w") as fh:
                fh.write("X = %d\n\ndef f(a, b=%d):\n    return a + b + X\n"
                         "\nclass C:\n    y = 'v%d'\n" % (i, i, i))
            files.append(f)
        res = {"ours": [], "stdlib": []}
        for _ in range(args.rounds):
            for which in ("ours", "stdlib"):
                clean(small)
                res[which].append(child(CHILD_ONE, [which] + files,
                                        neutral))
        print("one-by-one: %d files, py_compile.compile() each, %d rounds,"
              " medians (python %s)" % (args.files, args.rounds, SERIES))
        med = {}
        for which, runs in res.items():
            first = statistics.median(r[0] for r in runs)
            rest = statistics.median(r[1] for r in runs)
            med[which] = rest
            print("  %-7s first call %7.2f ms; the other %d: %7.3f s, "
                  "%6.3f ms per file" % (which, first * 1e3, args.files - 1,
                                         rest, rest * 1e3 /
                                         (args.files - 1)))
        print("  ratio ours/stdlib: %.2f" % (med["ours"] / med["stdlib"]))

        corpora = args.corpus
        if corpora is None:
            cache = subprocess.run(
                ["bash", "-c", ". tests/lib.sh && t_cache_dir"], cwd=ROOT,
                capture_output=True, text=True).stdout.strip()
            out = subprocess.run(["tests/corpora.sh",
                                  os.path.join(cache, "corpora")],
                                 cwd=ROOT, capture_output=True, text=True)
            django = [d for d in out.stdout.split() if
                      d.endswith("/django")]
            corpora = ["/usr/lib/python" + SERIES] + django
        for corpus in corpora:
            tree = os.path.join(work, "tree")
            shutil.rmtree(tree, True)
            shutil.copytree(corpus, tree, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
            n = sum(1 for _d, _s, fs in os.walk(tree)
                    for f in fs if f.endswith(".py"))
            res = {"ours": [], "stdlib": []}
            for _ in range(args.rounds):
                for which in ("ours", "stdlib"):
                    clean(tree)
                    res[which].append(child(CHILD_DIR, [which, tree],
                                            neutral))
            print("dir: compile_dir(workers=0) of %s (%d .py), %d rounds, "
                  "medians" % (corpus, n, args.rounds))
            wall = {}
            for which, runs in res.items():
                wall[which] = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[1] for r in runs)
                print("  %-7s %7.3f s wall, %7.3f s CPU (all processes)"
                      % (which, wall[which], cpu))
            print("  ratio ours/stdlib: %.2f" % (wall["ours"] /
                                                 wall["stdlib"]))
    finally:
        shutil.rmtree(work, True)


if __name__ == "__main__":
    main()
