# SPDX-License-Identifier: MIT
"""Real-world parity: compile a copy of a real tree with pycompile-repro and
compare every .pyc, byte for byte, with CPython's own output, computed by
oracle.py in a fresh `pythonX.Y -I -S` process that imports nothing it
compiles (pycref: header + canonical form 2 of marshal.dumps(compile())).

Checks, for the tree and each optimisation level asked for:
  1. every file CPython compiles gives exactly the reference bytes;
  2. every file CPython rejects is rejected by the tool too (no .pyc, the
     file named on stderr);
  3. compiling the same trees again as directories with two worker
     processes (another order: largest first, many files per process),
     under a hostile environment (PYTHON* variables, another locale,
     another umask), gives CPython's bytes too.

Usage: parity.py --tool BIN --python X.Y [--levels 0,1,2] [--sample N] TREE...
--sample N keeps every N-th source of each tree (sorted; the same files
every run): the quick loop's parity (make test-quick).
Prints "parity: N passed, N failed" (one per compared file and check).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pycref  # noqa: E402


def sources(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            if name.endswith(".py"):
                out.append(os.path.join(dirpath, name))
    return sorted(out)


def copy_tree(tree, dest):
    shutil.copytree(tree, dest, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc",
                                                  "*.so"))


def run_tool(tool, version, files, levels, env=None, trees=None):
    """Run the tool -j 1 on a list of files given on stdin, or, with
    trees, -j 2 on directories walked by the tool itself."""
    cmd = [tool, "--python", version, "--invalidation-mode", "checked-hash"]
    for lv in levels:
        cmd += ["-o", str(lv)]
    if trees:
        return subprocess.run(cmd + ["-q", "-j", "2"] + trees,
                              capture_output=True, env=env)
    cmd += ["-0", "-"]
    names = b"".join(os.fsencode(f) + b"\0" for f in files)
    return subprocess.run(cmd, input=names, capture_output=True, env=env)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def oracle(python, files, levels, work):
    """{(path, level): expected bytes or None (CPython rejects it)} and
    the reason of each rejection, from a fresh interpreter."""
    out = tempfile.mkdtemp(prefix="oracle-", dir=work)
    names = b"".join(os.fsencode(f) + b"\0" for f in files)
    subprocess.run([python, "-I", "-S",
                    os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 "oracle.py"),
                    out, ",".join(map(str, levels)), "checked-hash"],
                   input=names, check=True)
    want, why = {}, {}
    for n, path in enumerate(files):
        err = os.path.join(out, "%d.err" % n)
        if os.path.exists(err):
            with open(err) as f:
                why[path] = f.read()
        for lv in levels:
            want[path, lv] = read(os.path.join(out, "%d-%d.pyc" % (n, lv)))
    shutil.rmtree(out)
    return want, why


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--python", required=True, help="X.Y under test")
    ap.add_argument("--levels", default="0")
    ap.add_argument("--sample", type=int, default=1,
                    help="keep every N-th source of each tree")
    ap.add_argument("trees", nargs="+")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    passed = failed = 0
    t0 = time.monotonic()
    work = tempfile.mkdtemp(prefix="pcr-parity-")
    try:
        files = []
        for i, tree in enumerate(args.trees):
            dest = os.path.join(work, "a", str(i))
            copy_tree(tree, dest)
            found = sources(dest)
            if args.sample > 1:
                for k, path in enumerate(found):
                    if k % args.sample:
                        os.unlink(path)
                found = found[::args.sample]
            files += found

        t1 = time.monotonic()
        proc = run_tool(args.tool, args.python, files, levels)
        t_tool = time.monotonic() - t1
        stderr = proc.stderr.decode("utf-8", "replace")
        if proc.returncode not in (0, 1):
            print("FAIL tool exited %d: %s" % (proc.returncode, stderr[:2000]))
            failed += 1

        python = "/usr/bin/python" + args.python
        expected, reasons = oracle(python, files, levels, work)
        rejected = len(reasons)
        for path in files:
            for lv in levels:
                cpath = pycref.cache_path(path, lv)
                got = read(cpath)
                want = expected[path, lv]
                why = reasons.get(path)
                if want is None:
                    if got is None and (path + ":") in stderr:
                        passed += 1
                    else:
                        failed += 1
                        print("FAIL %s (-o %d): CPython rejects it (%s) but "
                              "the tool %s" % (path, lv, why,
                                               "wrote a .pyc" if got
                                               else "said nothing"))
                elif got == want:
                    passed += 1
                else:
                    failed += 1
                    where = next((i for i, (a, b) in
                                  enumerate(zip(got or b"", want))
                                  if a != b), None)
                    print("FAIL %s (-o %d): differs from CPython's bytes "
                          "(first at offset %s; %s vs %s bytes)"
                          % (path, lv, where, len(got or b""), len(want)))

        # The same trees again, walked by the tool with two workers (so
        # in another order, largest first, several files per process),
        # under a hostile environment and another umask.
        other = os.path.join(work, "b")
        shutil.copytree(os.path.join(work, "a"), other, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        trees = [os.path.join(other, str(i)) for i in range(len(args.trees))]
        env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONOPTIMIZE="2",
                   PYTHONDONTWRITEBYTECODE="", PYTHONPATH=work,
                   PYTHONHOME="/nonexistent", PYTHONUTF8="0", LC_ALL="C",
                   LANG="C", PYTHONWARNINGS="error")
        old = os.umask(0o077)
        try:
            proc2 = run_tool(args.tool, args.python, None, levels, env, trees)
        finally:
            os.umask(old)
        bfiles = [os.path.join(other, os.path.relpath(
            path, os.path.join(work, "a"))) for path in files]
        bwant, _ = oracle(python, bfiles, levels, work)
        same = differ = 0
        for path in files:
            for lv in levels:
                a = read(pycref.cache_path(path, lv))
                b = read(pycref.cache_path(
                    os.path.join(other, os.path.relpath(
                        path, os.path.join(work, "a"))), lv))
                # The recorded file name differs (a/ vs b/), so compare
                # with the b-tree's own reference instead of with a.
                if a is None and b is None:
                    same += 1
                    continue
                bpath = os.path.join(other, os.path.relpath(
                    path, os.path.join(work, "a")))
                want = bwant[bpath, lv]
                if b == want:
                    same += 1
                else:
                    differ += 1
                    print("FAIL %s (-o %d): the -j 2 tree run in a hostile "
                          "environment gives other bytes" % (bpath, lv))
        if proc2.returncode != proc.returncode:
            differ += 1
            print("FAIL exit status %d in the second run, %d in the first"
                  % (proc2.returncode, proc.returncode))
            print(proc2.stderr.decode("utf-8", "replace")[-3000:])
        passed += same
        failed += differ
        print("parity: %d source files, %d level(s), %d rejected by CPython;"
              " tool run %.1f s; total %.1f s"
              % (len(files), len(levels), rejected, t_tool,
                 time.monotonic() - t0))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("parity: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
