# SPDX-License-Identifier: MIT
"""Benchmark: pycompile-repro against CPython's own tools and against the
floor, side by side on the same corpora.

    make bench            (or: python3 tests/bench/bench.py --tool BIN)

Corpora (copied into a temporary directory, never compiled in place):
  stdlib   /usr/lib/python3.X of the version benchmarked
  django   Debian's python3-django   (apt-get download + dpkg-deb -x,
  sympy    Debian's python3-sympy     cached in build/bench/); sympy is the
                                      compile-heavy one (many big files)

Every command runs from a neutral, empty directory with the tree given as
an absolute path, and CPython runs with -I: `python3 -m compileall` from
inside a tree would put that tree first on sys.path and import its own
modules from the uncompiled copy on every run.

For each corpus the runs are interleaved ROUNDS times; medians.
  fresh     every __pycache__ removed first
            ours: pycompile-repro -q -j0 --invalidation-mode checked-hash
            ref:  python3.X -I -m compileall -q -j0 --invalidation-mode
                  checked-hash
  rebuild   the same again on the up-to-date tree
  verify    ours with --verify, against compileall's fresh build
  cache     ours with --cache-dir warm from an earlier build of the same
            tree, its __pycache__ removed again, against compileall's
            fresh build (when the tool has --cache-dir)
  floor     compile + marshal of every file (level 0) in one process of
            libpython3.X embedded (a Py_BytesMain program linked against
            the same library our compile servers embed): its CPU time
            (user + sys) divided by the number of cores.  That is what
            compiling through Debian's libpython costs at best: Debian's
            /usr/bin/python3.X is a static PGO+LTO build and compiles about
            1.3x faster than its libpython3.X.so.
  files     the file work alone, no compiling: the walk, reading every
            source, and writing it as its .pyc would be written (a
            temporary file in __pycache__, then rename), from one
            python3.X -I -S process, wall time, right after the same
            clean as a fresh build.  A fresh build cannot take less on
            this file system; its /compall is the least any --cache-dir
            run can reach.
  one-file  one small file, process start to exit, against
            python3.X -I -m py_compile
  baseline  with --baseline TOOL: another build's fresh build and one
            file, run in the same rounds (before/after on a noisy machine)

Ratios: ours / compileall and ours / floor (wall time).  Peak RSS is the
largest resident size of any single process of each tool (ours: the
fresh, rebuild and cache runs, and the --verify runs apart).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))

# The sources of the trees given, in the walk's order, and their bytes:
# shared by the floor and the file-work scripts.
WALK = r"""
import os, sys
def sources():
    for top in sys.argv[1:]:
        for d, dirs, files in os.walk(top):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            for f in sorted(files):
                if f.endswith(".py"):
                    p = os.path.join(d, f)
                    with open(p, "rb") as fh:
                        yield d, f, p, fh.read()
"""

FLOOR_SCRIPT = WALK + r"""
import marshal
for d, f, p, src in sources():
    try:
        marshal.dumps(compile(src, p, "exec", dont_inherit=True))
    except (SyntaxError, ValueError):
        pass
"""

FILES_SCRIPT = WALK + r"""
import time
tag = sys.implementation.cache_tag
t = time.perf_counter()
for d, f, p, data in sources():
    pc = os.path.join(d, "__pycache__")
    target = os.path.join(pc, "%s.%s.pyc" % (f[:-3], tag))
    tmp = "%s.%d.tmp" % (target, os.getpid())
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileNotFoundError:
        os.mkdir(pc)
        fd = os.open(tmp, flags, 0o644)
    os.write(fd, data)
    os.close(fd)
    os.rename(tmp, target)
print(time.perf_counter() - t)
"""

RUN_HELPER = r"""
import os, resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[2:], cwd=sys.argv[1], stdout=subprocess.DEVNULL)
t = time.perf_counter() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.returncode, t, u.ru_utime + u.ru_stime, u.ru_maxrss)
"""


def run(py, cmd, cwd):
    """Run cmd from cwd in a child of a fresh helper: returns (status,
    wall seconds, CPU seconds of the whole process tree, peak RSS KiB of
    its largest process)."""
    out = subprocess.run([py, "-I", "-S", "-c", RUN_HELPER, cwd] + cmd,
                         capture_output=True, text=True, check=True)
    rc, wall, cpu, rss = out.stdout.split()
    return int(rc), float(wall), float(cpu), int(rss)


def clean(tree):
    for dirpath, dirs, _ in os.walk(tree):
        if "__pycache__" in dirs:
            shutil.rmtree(os.path.join(dirpath, "__pycache__"))
            dirs.remove("__pycache__")


def count_py(tree):
    return sum(f.endswith(".py") for _, _, fs in os.walk(tree) for f in fs)


def deb_tree(cache, package, subdir):
    """A module tree from a Debian package, extracted once into cache."""
    dest = os.path.join(cache, subdir)
    if os.path.isdir(dest):
        return dest
    os.makedirs(cache, exist_ok=True)
    subprocess.run(["apt-get", "download", package], cwd=cache, check=True,
                   capture_output=True)
    deb = sorted(f for f in os.listdir(cache)
                 if f.startswith(package + "_") and f.endswith(".deb"))[-1]
    x = os.path.join(cache, "x-" + subdir)
    shutil.rmtree(x, True)
    subprocess.run(["dpkg-deb", "-x", deb, x], cwd=cache, check=True)
    shutil.move(os.path.join(x, "usr", "lib", "python3", "dist-packages",
                             subdir), dest)
    shutil.rmtree(x)
    return dest


def floor_program(cache, version):
    """A Py_BytesMain program linked against libpython3.X (embed)."""
    exe = os.path.join(cache, "pyembed-" + version)
    if os.path.exists(exe):
        return exe
    os.makedirs(cache, exist_ok=True)
    src = os.path.join(cache, "pyembed.c")
    with open(src, "w") as f:
        f.write("#include <Python.h>\nint main(int argc, char **argv)\n"
                "{\n    return Py_BytesMain(argc, argv);\n}\n")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs",
                            "python-%s-embed" % version], check=True,
                           capture_output=True, text=True).stdout.split()
    subprocess.run(["cc", "-O2", "-o", exe, src] + flags, check=True)
    return exe


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def tool_has(tool, option):
    return option.encode() in subprocess.run(
        [tool, "--help"], capture_output=True).stdout


def bench_tree(args, py, floor_exe, tree, neutral, cache_dir):
    ours = [args.tool, "-q", "-j0", "--invalidation-mode", "checked-hash"]
    if args.version_flag:
        ours += ["--python", args.python]
    ref = [py, "-I", "-m", "compileall", "-q", "-j0",
           "--invalidation-mode", "checked-hash", tree]
    floor = [floor_exe, "-I", "-S", "-c", FLOOR_SCRIPT, tree]
    t = {k: ([], []) for k in ("fresh", "rebuild", "verify", "cache",
                               "files", "baseline")}
    base = None
    if args.baseline:
        base = [args.baseline, "-q", "-j0", "--invalidation-mode",
                "checked-hash"]
        if tool_has(args.baseline, "--python"):
            base += ["--python", args.python]
        base.append(tree)
    floor_cpu = []
    # peak RSS: ours without and with --verify, compileall, the baseline
    rss = {"ours": 0, "verify": 0, "compileall": 0, "baseline": 0}
    cores = os.cpu_count()

    def timed(kind, i, cmd):
        rc, wall, _, m = run(py, cmd, neutral)
        if rc not in (0, 1):
            sys.exit("%s exited %d" % (" ".join(cmd), rc))
        t[kind][i].append(wall)
        who = ("compileall" if i == 1 else
               kind if kind in ("verify", "baseline") else "ours")
        rss[who] = max(rss[who], m)

    for _ in range(args.rounds):
        clean(tree)
        _, _, cpu, _ = run(py, floor, neutral)
        floor_cpu.append(cpu)
        for i, cmd in ((0, ours + [tree]), (1, ref)):
            clean(tree)
            timed("fresh", i, cmd)
            timed("rebuild", i, cmd)
        clean(tree)
        out = subprocess.run([py, "-I", "-S", "-c", FILES_SCRIPT, tree],
                             cwd=neutral, capture_output=True, text=True,
                             check=True)
        t["files"][0].append(float(out.stdout))
        t["files"][1].append(t["fresh"][1][-1])
        if base:
            # another build of the tool, interleaved with ours: on a noisy
            # machine only runs side by side compare
            clean(tree)
            timed("baseline", 0, base)
            t["baseline"][1].append(t["fresh"][1][-1])
        if args.verify:
            clean(tree)
            timed("verify", 0, ours + ["--verify", tree])
            t["verify"][1].append(t["fresh"][1][-1])
        if cache_dir:
            # warm the cache with one build, empty the tree, build again
            clean(tree)
            shutil.rmtree(cache_dir, True)
            run(py, ours + ["--cache-dir", cache_dir, tree], neutral)
            clean(tree)
            timed("cache", 0, ours + ["--cache-dir", cache_dir, tree])
            t["cache"][1].append(t["fresh"][1][-1])
    fl = median(floor_cpu) / cores
    rows = []
    for k in ("fresh", "rebuild", "verify", "cache", "files", "baseline"):
        a, b = t[k]
        if a and b:
            rows.append((k, median(a), median(b), fl))
    return rows, rss


def bench_one_file(args, py, neutral):
    d = tempfile.mkdtemp(prefix="pcr-bench-")
    try:
        src = os.path.join(d, "small.py")
        with open(src, "w") as f:
            f.write("def hello(name):\n    return 'hello ' + name\n")
        ours = [args.tool] + (["--python", args.python]
                              if args.version_flag else []) + [src]
        base = None
        if args.baseline:
            base = [args.baseline] + (
                ["--python", args.python]
                if tool_has(args.baseline, "--python") else []) + [src]
        a, b, c = [], [], []
        for _ in range(max(args.rounds, 40)):  # start-up time is noisy
            shutil.rmtree(os.path.join(d, "__pycache__"), True)
            a.append(run(py, ours, neutral)[1])
            shutil.rmtree(os.path.join(d, "__pycache__"), True)
            b.append(run(py, [py, "-I", "-m", "py_compile", src],
                         neutral)[1])
            if base:
                shutil.rmtree(os.path.join(d, "__pycache__"), True)
                c.append(run(py, base, neutral)[1])
        return median(a), median(b), (median(c) if c else None)
    finally:
        shutil.rmtree(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", default=os.path.join(TOP, "build",
                                                   "pycompile-repro"))
    ap.add_argument("--python", default="%d.%d" % sys.version_info[:2],
                    help="CPython version benchmarked (X.Y)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--corpora", default="stdlib,django,sympy")
    ap.add_argument("--cache", default=os.path.join(TOP, "build", "bench"))
    ap.add_argument("--baseline", metavar="TOOL",
                    help="another build of pycompile-repro, run beside "
                    "ours in every round (rows 'baseline': its fresh build "
                    "and one file)")
    args = ap.parse_args()
    args.tool = os.path.abspath(args.tool)
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
    args.version_flag = tool_has(args.tool, "--python")
    args.verify = tool_has(args.tool, "--verify")
    has_cache = tool_has(args.tool, "--cache-dir")
    py = "/usr/bin/python" + args.python
    floor_exe = floor_program(args.cache, args.python)
    work = tempfile.mkdtemp(prefix="pcr-bench-")
    neutral = os.path.join(work, "neutral")
    os.mkdir(neutral)
    sources = {
        "stdlib": lambda: "/usr/lib/python" + args.python,
        "django": lambda: deb_tree(args.cache, "python3-django", "django"),
        "sympy": lambda: deb_tree(args.cache, "python3-sympy", "sympy"),
    }
    try:
        print("pycompile-repro benchmark, %s, CPython %s, %d cores, "
              "%d rounds, medians" % (time.strftime("%Y-%m-%d"),
                                      args.python, os.cpu_count(),
                                      args.rounds))
        print("%-7s %-8s %6s %9s %11s %9s %8s %8s"
              % ("corpus", "run", "files", "ours (s)", "compileall",
                 "floor (s)", "/compall", "/floor"))
        for name in filter(None, args.corpora.split(",")):
            try:
                src = sources[name]()
            except (subprocess.CalledProcessError, OSError) as e:
                print("%s corpus unavailable (%s); skipped" % (name, e))
                continue
            tree = os.path.join(work, name)
            shutil.copytree(src, tree, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
            cache_dir = (os.path.join(work, "cache-" + name)
                         if has_cache else None)
            rows, rss = bench_tree(args, py, floor_exe, tree, neutral,
                                   cache_dir)
            n = count_py(tree)
            for k, a, b, fl in rows:
                print("%-7s %-8s %6d %9.3f %11.3f %9.3f %8.3f %8s"
                      % (name, k, n, a, b, fl, a / b,
                         "%.3f" % (a / fl)
                         if k in ("fresh", "verify", "files", "baseline")
                         else "-"))
            print("%-7s %-8s peak RSS per process: ours %d KiB (with "
                  "--verify %d KiB), compileall %d KiB%s"
                  % (name, "memory", rss["ours"], rss["verify"],
                     rss["compileall"],
                     ", baseline %d KiB" % rss["baseline"]
                     if args.baseline else ""))
            shutil.rmtree(tree)
        a, b, c = bench_one_file(args, py, neutral)
        print("%-7s %-8s %6d %9.3f %11.3f %9s %8.3f %8s"
              % ("small", "one-file", 1, a, b, "-", a / b, "-"))
        if c is not None:
            print("%-7s %-8s %6d %9.3f %11.3f %9s %8.3f %8s"
                  % ("small", "baseline", 1, c, b, "-", c / b, "-"))
        print("(one-file against python%s -I -m py_compile; the rest "
              "against python%s -I -m compileall -j0)"
              % (args.python, args.python))
    finally:
        shutil.rmtree(work, True)


if __name__ == "__main__":
    main()
