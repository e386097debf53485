"""Benchmark: pycompile-repro against CPython's own tools, side by side.

    make bench            (or: python3.11 tests/bench/bench.py --tool BIN)

Corpora: a copy of /usr/lib/python3.11, and the Django tree from Debian's
python3-django (apt-get download + dpkg-deb -x, cached in build/bench/).
For each corpus the two tools' runs are interleaved, ROUNDS times, and the
medians and their ratio are printed for:

  fresh      every __pycache__ removed first
             ours: pycompile-repro -q -j0 --invalidation-mode checked-hash
             ref:  python3.11 -m compileall -q -j0 --invalidation-mode
                   checked-hash
  rebuild    the same commands again on an up-to-date tree
  verify     ours with --verify against compileall's fresh build (only
             when the tool has --verify)
  one file   one small file, process start to exit, against
             python3.11 -m py_compile

and the peak resident memory of any single process of each tool (the
largest ru_maxrss among the tool's processes).
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PY = "/usr/bin/python3.11"
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))


def rss_wrapper(cmd, cwd):
    """Run cmd in a child of a fresh helper process: the helper's
    RUSAGE_CHILDREN maximum is then the tool's largest process alone."""
    helper = ("import resource,subprocess,sys,time;"
              "t=time.perf_counter();"
              "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL);"
              "t=time.perf_counter()-t;"
              "print(r.returncode,t,"
              "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([PY, "-c", helper] + cmd, cwd=cwd,
                         capture_output=True, text=True, check=True)
    rc, secs, rss = out.stdout.split()
    return int(rc), float(secs), int(rss)


def clean(tree):
    for dirpath, dirs, _ in os.walk(tree):
        if "__pycache__" in dirs:
            shutil.rmtree(os.path.join(dirpath, "__pycache__"))
            dirs.remove("__pycache__")


def count_py(tree):
    return sum(f.endswith(".py") for _, _, fs in os.walk(tree) for f in fs)


def django_tree(cache):
    dest = os.path.join(cache, "django")
    if os.path.isdir(dest):
        return dest
    os.makedirs(cache, exist_ok=True)
    subprocess.run(["apt-get", "download", "python3-django"], cwd=cache,
                   check=True, capture_output=True)
    deb = [f for f in os.listdir(cache) if f.startswith("python3-django")
           and f.endswith(".deb")][0]
    subprocess.run(["dpkg-deb", "-x", deb, "x"], cwd=cache, check=True)
    src = os.path.join(cache, "x", "usr", "lib", "python3", "dist-packages",
                       "django")
    shutil.move(src, dest)
    shutil.rmtree(os.path.join(cache, "x"))
    return dest


def median(xs):
    return statistics.median(xs)


def bench_tree(tool, name, tree, rounds, has_verify):
    ours = [tool, "-q", "-j0", "--invalidation-mode", "checked-hash", "."]
    ref = [PY, "-m", "compileall", "-q", "-j0", "--invalidation-mode",
           "checked-hash", "."]
    times = {k: ([], []) for k in ("fresh", "rebuild", "verify")}
    rss = [0, 0]
    for _ in range(rounds):
        for i, cmd in ((0, ours), (1, ref)):
            clean(tree)
            rc, t, m = rss_wrapper(cmd, tree)
            times["fresh"][i].append(t)
            rss[i] = max(rss[i], m)
            rc2, t2, m2 = rss_wrapper(cmd, tree)
            times["rebuild"][i].append(t2)
            rss[i] = max(rss[i], m2)
            if rc not in (0, 1) or rc2 not in (0, 1):
                sys.exit("%s failed on %s" % (cmd[0], name))
        if has_verify:
            clean(tree)
            _, t, _ = rss_wrapper(ours[:1] + ["--verify"] + ours[1:], tree)
            times["verify"][0].append(t)
            clean(tree)
            _, t, _ = rss_wrapper(ref, tree)
            times["verify"][1].append(t)
    rows = []
    for k in ("fresh", "rebuild", "verify"):
        a, b = times[k]
        if a and b:
            rows.append((k, median(a), median(b), median(a) / median(b)))
    return rows, rss


def bench_one_file(tool, rounds):
    d = tempfile.mkdtemp(prefix="pcr-bench-")
    try:
        with open(os.path.join(d, "small.py"), "w") as f:
            f.write("def hello(name):\n    return 'hello ' + name\n")
        a, b = [], []
        for _ in range(rounds):
            shutil.rmtree(os.path.join(d, "__pycache__"), True)
            a.append(rss_wrapper([tool, "small.py"], d)[1])
            shutil.rmtree(os.path.join(d, "__pycache__"), True)
            b.append(rss_wrapper([PY, "-m", "py_compile", "small.py"], d)[1])
        return median(a), median(b)
    finally:
        shutil.rmtree(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", default=os.path.join(TOP, "build",
                                                   "pycompile-repro"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cache", default=os.path.join(TOP, "build", "bench"))
    args = ap.parse_args()
    tool = os.path.abspath(args.tool)
    has_verify = b"--verify" in subprocess.run(
        [tool, "--help"], capture_output=True).stdout
    work = tempfile.mkdtemp(prefix="pcr-bench-")
    try:
        corpora = [("stdlib", "/usr/lib/python3.11")]
        try:
            corpora.append(("django", django_tree(args.cache)))
        except (subprocess.CalledProcessError, IndexError, OSError) as e:
            print("django corpus unavailable (%s); skipped" % e)
        print("pycompile-repro benchmark, %s, %d cores, %d rounds, "
              "medians" % (time.strftime("%Y-%m-%d"), os.cpu_count(),
                           args.rounds))
        print("%-8s %-8s %6s %10s %12s %7s" % ("corpus", "run", "files",
                                               "ours (s)", "CPython (s)",
                                               "ratio"))
        for name, src in corpora:
            tree = os.path.join(work, name)
            shutil.copytree(src, tree, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
            n = count_py(tree)
            rows, rss = bench_tree(tool, name, tree, args.rounds,
                                   has_verify)
            for k, a, b, r in rows:
                print("%-8s %-8s %6d %10.3f %12.3f %7.3f"
                      % (name, k, n, a, b, r))
            print("%-8s %-8s peak RSS per process: ours %d KiB, "
                  "compileall %d KiB" % (name, "memory", rss[0], rss[1]))
        a, b = bench_one_file(tool, max(args.rounds, 10))
        print("%-8s %-8s %6d %10.3f %12.3f %7.3f"
              % ("small", "one-file", 1, a, b, a / b))
        print("(reference for one-file: python3.11 -m py_compile; for the "
              "rest: python3.11 -m compileall -j0)")
    finally:
        shutil.rmtree(work, True)


if __name__ == "__main__":
    main()
