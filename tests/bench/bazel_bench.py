# SPDX-License-Identifier: MIT
"""Benchmark of pycompile-repro-bazel, rules_python's precompiler interface
(not a test: it measures, it does not judge).

    bazel_bench.py latency --bin build/pycompile-repro-bazel [--python X.Y]
                           [--rules-python PRECOMPILER.PY] [-n 300]
    bazel_bench.py build --precompiler PATH --module DIR --tool PCR
                         [--rules-python PRECOMPILER.PY] [--modules 2000]
                         [--python X.Y] [--flags default|overlap|both]

latency: a small file compiled again and again through a warm worker, one
request at a time (singleplex, as Bazel's requestId 0): the round trip
seen by the client, and the worker's own account (--worker_verbose: from
a request's arrival to its answer, and the compile step alone: handle
reset, options, pcr_run), and the protocol alone (a request refused
before compiling); against one process per file (one-shot, as without a
worker).  With --rules-python, the same for rules_python's
tools/precompiler/precompiler.py run by /usr/bin/pythonX.Y.

build: the 2,000-module workspace of tests/bazel (make_workspace.py) built
clean with Bazel (needs bazel: Debian sid's bazel-bootstrap), the
PyCompile actions as a worker and one-shot (--strategy=PyCompile=local),
with Bazel's default flags and with --local_cpu_resources=8 --jobs=16
(several requests overlap on a small machine); wall time of the build
command, then how many .pyc equal the pycompile-repro command line's.  With
--rules-python, the same workspace with rules_python's precompiler (run by
/usr/bin/pythonX.Y) side by side.  rules_python's source is not part of
this project: fetch it yourself for a local comparison.
"""
import argparse
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
SMALL = ('"""A small module."""\nimport os\n\nLIMIT = 10\n\n\n'
         "def f(x, y=2):\n    return [x * y, os.sep, 'a', {'k': x}]\n\n\n"
         "class C:\n    def m(self):\n        return f(LIMIT)\n")


def stats(xs):
    xs = sorted(xs)
    return {"median": statistics.median(xs), "p10": xs[len(xs) // 10],
            "p90": xs[(len(xs) * 9) // 10], "min": xs[0], "n": len(xs)}


def fmt(s, unit=1e3):
    return ("median %7.3f ms  p10 %7.3f  p90 %7.3f  min %7.3f  (n=%d)"
            % (s["median"] * unit, s["p10"] * unit, s["p90"] * unit,
               s["min"] * unit, s["n"]))


class StderrLines:
    def __init__(self, stream):
        self.lines = []
        self.t = threading.Thread(target=self._run, args=(stream,),
                                  daemon=True)
        self.t.start()

    def _run(self, stream):
        for line in stream:
            self.lines.append(line.decode(errors="replace"))


def worker_latency(cmd, d, version, n, verbose, floor=False):
    """Round trips of n requests; floor: requests refused before any
    compiling (an unknown argument), the cost of the protocol alone."""
    src = os.path.join(d, "small.py")
    p = subprocess.Popen(cmd + ["--persistent_worker"], cwd=d,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    err = StderrLines(p.stderr)
    rtt = []
    warm = 30
    for i in range(warm + n):
        args = ["--invalidation_mode", "checked_hash", "--optimize", "-1",
                "--python_version", version, "--src", src, "--src_name",
                "pkg/small.py", "--pyc", os.path.join(d, "out%d.pyc" % i)]
        if floor:
            args = ["--no-such-argument"]
        req = {"arguments": args, "requestId": 0}
        if verbose:
            req["verbosity"] = 1
        # rules_python's worker reads lines; ours takes either
        line = (json.dumps(req) + "\n").encode()
        t = time.perf_counter()
        p.stdin.write(line)
        p.stdin.flush()
        resp = p.stdout.readline()
        dt = time.perf_counter() - t
        if json.loads(resp).get("exitCode", 0) != (2 if floor else 0):
            raise SystemExit("request failed: %s" % resp)
        if i >= warm:
            rtt.append(dt)
    p.stdin.close()
    p.wait()
    err.t.join(10)
    inner = [float(m.group(1)) / 1e3 for m in
             (re.search(r"request \d+: .*, ([0-9.]+) ms$", line.strip())
              for line in err.lines) if m][warm:]
    batch = [float(m.group(1)) / 1e3 for m in
             (re.search(r"batch of 1 request\(s\): ([0-9.]+) ms", line)
              for line in err.lines) if m][warm:]
    return rtt, inner, batch


def one_shot_latency(cmd, d, version, n):
    src = os.path.join(d, "small.py")
    out = []
    for i in range(n + 3):
        args = ["--python_version", version, "--src", src, "--src_name",
                "pkg/small.py", "--pyc", os.path.join(d, "one%d.pyc" % i)]
        t = time.perf_counter()
        subprocess.run(cmd + args, check=True, cwd=d)
        if i >= 3:
            out.append(time.perf_counter() - t)
    return out


def latency(a):
    d = tempfile.mkdtemp(prefix="pcr-bazel-bench-")
    try:
        with open(os.path.join(d, "small.py"), "w") as f:
            f.write(SMALL)
        tools = [("pycompile-repro-bazel", [os.path.abspath(a.bin)], True)]
        if a.rules_python:
            tools.append(("rules_python precompiler.py",
                          ["/usr/bin/python" + a.python,
                           os.path.abspath(a.rules_python)], False))
        for name, cmd, ours in tools:
            rtt, inner, batch = worker_latency(cmd, d, a.python, a.n, ours)
            print("%s, warm worker, one request at a time:" % name)
            print("  round trip (client)       " + fmt(stats(rtt)))
            if inner:
                print("  arrival to answer (worker)" + fmt(stats(inner)))
            if batch:
                print("  compile step (reset, options, pcr_run)"
                      "\n                            " + fmt(stats(batch)))
            if ours:
                rtt, inner, _ = worker_latency(cmd, d, a.python, a.n, True,
                                               floor=True)
                print("  protocol alone: a request refused before compiling")
                print("    round trip (client)     " + fmt(stats(rtt)))
                print("    arrival to answer       " + fmt(stats(inner)))
            one = one_shot_latency(cmd, d, a.python, max(20, a.n // 10))
            print("%s, one-shot (a process per file):" % name)
            print("  process start to exit     " + fmt(stats(one)))
    finally:
        shutil.rmtree(d, True)
    return 0


def bazel_build(ws, ob, flags):
    subprocess.run(["bazel", "--output_base=" + ob, "clean"], cwd=ws,
                   capture_output=True)
    t = time.perf_counter()
    p = subprocess.run(["bazel", "--output_base=" + ob, "build", "//...",
                        "--color=no", "--curses=no", "--nosandbox_debug"]
                       + flags, cwd=ws, capture_output=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode(errors="replace")[-3000:])
        return None
    return dt


def build(a):
    root = tempfile.mkdtemp(prefix="pcr-bazel-bench-")
    variants = [("pycompile-repro-bazel", os.path.abspath(a.precompiler))]
    if a.rules_python:
        script = os.path.join(root, "rules-python-precompiler")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexec /usr/bin/python%s '%s' \"$@\"\n"
                    % (a.python, os.path.abspath(a.rules_python)))
        os.chmod(script, 0o755)
        variants.append(("rules_python precompiler.py", script))
    flag_sets = {"default": [], "overlap": ["--jobs=16",
                                            "--local_cpu_resources=8"]}
    chosen = ["default", "overlap"] if a.flags == "both" else [a.flags]
    ref = os.path.join(root, "ref")
    obs = []
    try:
        for k, (name, pre) in enumerate(variants):
            ws = os.path.join(root, "ws%d" % k)
            ob = os.path.join(root, "ob%d" % k)
            obs.append((ws, ob))
            cmd = [sys.executable, os.path.join(TOP, "tests", "bazel",
                                                "make_workspace.py"),
                   "--out", ws, "--precompiler", pre, "--module", a.module,
                   "--modules", str(a.modules), "--gen-python", a.python]
            subprocess.run(cmd, check=True, capture_output=True)
            if k == 0:
                subprocess.run([sys.executable, os.path.join(
                    TOP, "tests", "bazel", "check_pycs.py"), "reference",
                    ws, ref, "--tool", a.tool], check=True,
                    capture_output=True)
            modes = [m for m in (("worker", "worker"), ("one-shot", "local"))
                     if m[0] in a.modes.split(",")]
            for fs, (mode, strat), _ in itertools.product(
                    chosen, modes, range(a.rounds)):
                dt = bazel_build(ws, ob, flag_sets[fs] + [
                    "--strategy=PyCompile=" + strat])
                cmp = subprocess.run(
                    [sys.executable, os.path.join(
                        TOP, "tests", "bazel", "check_pycs.py"),
                     "compare", ws, ref, os.path.join(ws, "bazel-bin")],
                    capture_output=True).stdout.decode().strip()
                print("%-28s %-9s %-8s %s  %s"
                      % (name, mode, fs,
                         "%7.1f s" % dt if dt else " failed",
                         cmp.splitlines()[-1] if cmp else ""),
                      flush=True)
    finally:
        for ws, ob in obs:
            subprocess.run(["bazel", "--output_base=" + ob, "shutdown"],
                           cwd=ws, capture_output=True)
        shutil.rmtree(root, True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    la = sub.add_parser("latency")
    la.add_argument("--bin", default=os.path.join(TOP, "build",
                                                  "pycompile-repro-bazel"))
    la.add_argument("--python", default="%d.%d" % sys.version_info[:2])
    la.add_argument("--rules-python", help="precompiler.py")
    la.add_argument("-n", type=int, default=300)
    bu = sub.add_parser("build")
    bu.add_argument("--precompiler", required=True)
    bu.add_argument("--module", required=True)
    bu.add_argument("--tool", required=True, help="pycompile-repro")
    bu.add_argument("--modes", default="worker,one-shot",
                    help="worker, one-shot or both (comma-separated)")
    bu.add_argument("--rounds", type=int, default=1,
                    help="clean builds of each row")
    bu.add_argument("--rules-python", help="precompiler.py")
    bu.add_argument("--modules", type=int, default=2000)
    bu.add_argument("--python", default="%d.%d" % sys.version_info[:2])
    bu.add_argument("--flags", choices=["default", "overlap", "both"],
                    default="both")
    a = ap.parse_args()
    return latency(a) if a.what == "latency" else build(a)


if __name__ == "__main__":
    sys.exit(main())
