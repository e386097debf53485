# SPDX-License-Identifier: MIT
"""Benchmark: reading a wheel with many entries (issue 23, item 9: checking
RECORD was quadratic, 60,000 entries took 18 s).

    python3 tests/bench/wheel_record.py --tool build/pycompile-repro \\
        [--entries 60000 99990] [--sources 5] [--python 3.11]

Writes, in a temporary directory, a wheel of ENTRIES files: SOURCES small
Python modules, the rest small data files, and a RECORD that lists them
all with their hashes; then times, for each size,
  wheel   pycompile-repro --wheel W --output DIR  (RECORD checked, the
          sources compiled, a new wheel written)
  check   pycompile-repro --check --wheel OUT     (the rebuilt wheel: its
          RECORD, and each .pyc found among all its entries)
Prints one line per size: entries, seconds.  With few sources (the
default) the time left is the archive handling, not compiling; many
sources (--sources 20000) make many .pyc to look up in check.  The rebuilt
wheel holds ENTRIES + SOURCES entries, under the 100,000 a wheel may have.
"""
import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile


def make_wheel(path, entries, sources):
    rows = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        def add(name, data):
            z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
            h = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
            rows.append("%s,sha256=%s,%d\n"
                        % (name, h.rstrip(b"=").decode(), len(data)))
        meta = [("big-1.0.dist-info/METADATA",
                 b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\n"),
                ("big-1.0.dist-info/WHEEL",
                 b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                 b"Tag: py3-none-any\n")]
        ndata = entries - sources - len(meta) - 1  # - RECORD
        for i in range(sources):
            add("big/m%04d.py" % i, b"X = %d\n" % i)
        for i in range(ndata):
            add("big/data/d%03d/f%06d.txt" % (i // 1000, i), b"%d\n" % i)
        for name, data in meta:
            add(name, data)
        rows.append("big-1.0.dist-info/RECORD,,\n")
        z.writestr(zipfile.ZipInfo("big-1.0.dist-info/RECORD",
                                   (2020, 1, 1, 0, 0, 0)),
                   "".join(rows).encode())


def timed(cmd):
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True)
    dt = time.monotonic() - t
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd),
                                           p.stderr.decode()[-2000:]))
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", default="build/pycompile-repro")
    ap.add_argument("--entries", type=int, nargs="+", default=[60000, 99990])
    ap.add_argument("--sources", type=int, default=5)
    ap.add_argument("--python", default="%d.%d" % sys.version_info[:2])
    a = ap.parse_args()
    tool = os.path.abspath(a.tool)
    top = tempfile.mkdtemp(prefix="pcr-bench-wheel-")
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    os.environ.update(env)
    try:
        for n in a.entries:
            whl = os.path.join(top, "big-1.0-py3-none-any.whl")
            make_wheel(whl, n, a.sources)
            out = os.path.join(top, "out")
            os.makedirs(out, exist_ok=True)
            t_wheel = timed([tool, "--python", a.python, "-q", "--wheel", whl,
                             "--output", out])
            rebuilt = os.path.join(out, os.listdir(out)[0])
            t_check = timed([tool, "--python", a.python, "-q", "--check",
                             "--wheel", rebuilt])
            print("%6d entries (%d MB): wheel %7.2f s   check %7.2f s"
                  % (n, os.path.getsize(whl) >> 20, t_wheel, t_check),
                  flush=True)
            shutil.rmtree(out)
            os.unlink(whl)
    finally:
        shutil.rmtree(top, True)


if __name__ == "__main__":
    main()
