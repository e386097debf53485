# SPDX-License-Identifier: MIT
"""The front end's memory on a big tree: a generated tree of N tiny
sources (default 100,000: 200 directories of 500) on tmpfs, compiled once
(checked-hash, -j2); prints the wall time and the front end's peak RSS
(the compile servers are other processes, counted apart by the kernel).
A benchmark, not a test.

    python3 tests/bench/big_tree.py --tool build/pycompile-repro [--files N]
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--files", type=int, default=100000)
    ap.add_argument("--per-dir", type=int, default=500)
    ap.add_argument("--where", default="/dev/shm")
    args = ap.parse_args()
    top = tempfile.mkdtemp(prefix="pcr-big-", dir=args.where)
    try:
        ndirs = (args.files + args.per_dir - 1) // args.per_dir
        made = 0
        for d in range(ndirs):
            sub = os.path.join(top, "pkg%03d" % d)
            os.mkdir(sub)
            for i in range(min(args.per_dir, args.files - made)):
                with open(os.path.join(sub, "m%03d.py" % i), "w") as f:
                    f.write("X = %d\n" % i)
                made += 1
        # the front end's own peak: VmHWM of its /proc/PID/status, read
        # while it runs (its servers are other processes)
        t = time.monotonic()
        p = subprocess.Popen([os.path.abspath(args.tool), "-q", "-j2",
                              "--invalidation-mode", "checked-hash", top],
                             cwd=args.where)
        hwm = 0
        while p.poll() is None:
            try:
                with open("/proc/%d/status" % p.pid) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            hwm = max(hwm, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.05)
        wall = time.monotonic() - t
        print("big tree: %d files, exit %d, %.1f s, front end peak RSS "
              "%d KiB (VmHWM)" % (made, p.returncode, wall, hwm))
        return p.returncode
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
