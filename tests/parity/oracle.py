# SPDX-License-Identifier: MIT
"""The oracle: CPython's own .pyc bytes for a list of files, computed in a
fresh process (run it as pythonX.Y -I -S oracle.py) that imports nothing
but what pycref needs -- never the modules it compiles.

    oracle.py OUTDIR LEVELS MODE < NUL-separated paths

writes OUTDIR/<n>-<level>.pyc with header + canonical form 2 of
marshal.dumps(compile(...)) for the n-th path, or OUTDIR/<n>.err holding
the name of the exception CPython raises compiling it.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pycref  # noqa: E402


def main():
    out, levels, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    levels = [int(x) for x in levels.split(",")]
    paths = [p for p in sys.stdin.buffer.read().split(b"\0") if p]
    for n, path in enumerate(paths):
        path = os.fsdecode(path)
        for lv in levels:
            try:
                data = pycref.expected_pyc(path, None, lv, mode)
            except (SyntaxError, ValueError, RecursionError,
                    MemoryError) as exc:
                with open(os.path.join(out, "%d.err" % n), "w") as f:
                    f.write(type(exc).__name__)
                break
            with open(os.path.join(out, "%d-%d.pyc" % (n, lv)), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
