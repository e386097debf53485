# SPDX-License-Identifier: MIT
"""tests/bazel/check_pycs.py - every .pyc Bazel made against our own.

    check_pycs.py reference WS REF --tool PYCOMPILE_REPRO
    check_pycs.py compare WS REF BAZEL_BIN [--expect-all]

reference: copies the sources of WS/manifest.json into REF and compiles
them there with the pycompile-repro command line, from REF, so that each
records the same name as its PyCompile action (its short path), one run
per Python version, level and mode.
compare: each .pyc of the manifest under BAZEL_BIN must be byte for byte
the reference's; prints "check: N identical, N different, N missing" and
exits 1 on any difference or missing file.
"""
import collections
import json
import os
import shutil
import subprocess
import sys


def load(ws):
    with open(os.path.join(ws, "manifest.json")) as f:
        return json.load(f)


def ref_pyc(entry):
    """Where the command line writes the entry's .pyc (its cache path:
    .opt-N for levels 1 and 2, as importlib names them)."""
    d, name = os.path.split(entry["src"])
    tag = "cpython-" + entry["python"].replace(".", "")
    opt = ".opt-%d" % entry["level"] if entry["level"] else ""
    return os.path.join(d, "__pycache__", "%s.%s%s.pyc" % (name[:-3], tag,
                                                           opt))


def reference(ws, ref, tool):
    entries = load(ws)
    if os.path.isdir(ref):
        shutil.rmtree(ref)
    groups = collections.defaultdict(list)
    for e in entries:
        dst = os.path.join(ref, e["src"])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(os.path.join(ws, e["src"]), dst)
        groups[(e["python"], e["level"], e["mode"])].append(e["src"])
    for (python, level, mode), srcs in sorted(groups.items()):
        cmd = [tool, "--python", python, "-o", str(level),
               "--invalidation-mode", mode.replace("_", "-"), "-"]
        p = subprocess.run(cmd, cwd=ref, input="\n".join(srcs).encode(),
                           capture_output=True)
        if p.returncode != 0:
            sys.stderr.write(p.stderr.decode(errors="replace"))
            print("reference: %s failed with status %d"
                  % (" ".join(cmd), p.returncode))
            return 1
    print("reference: %d sources in %d runs" % (len(entries), len(groups)))
    return 0


def compare(ws, ref, bin_dir, show=10):
    same = diff = missing = 0
    for e in load(ws):
        try:
            with open(os.path.join(bin_dir, e["pyc"]), "rb") as f:
                got = f.read()
        except OSError:
            missing += 1
            if missing <= show:
                print("missing: %s" % e["pyc"])
            continue
        with open(os.path.join(ref, ref_pyc(e)), "rb") as f:
            want = f.read()
        if got == want:
            same += 1
        else:
            diff += 1
            if diff <= show:
                print("different: %s" % e["pyc"])
    print("check: %d identical, %d different, %d missing"
          % (same, diff, missing))
    return 0 if diff == 0 and missing == 0 and same > 0 else 1


def main(argv):
    if len(argv) == 5 and argv[0] == "reference" and argv[3] == "--tool":
        return reference(argv[1], argv[2], argv[4])
    if len(argv) == 4 and argv[0] == "compare":
        return compare(argv[1], argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
