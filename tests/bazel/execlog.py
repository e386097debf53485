# SPDX-License-Identifier: MIT
"""tests/bazel/execlog.py LOG N [--hits] - what Bazel's JSON execution
log (--execution_log_json_file) says of the PyCompile spawns: there must
be N of them, all successful, and with --hits every one a cache hit (disk
or remote cache), without it none.  Prints one line, "execlog: ..."; exit
status 1 when the log says otherwise."""
import collections
import json
import sys


def spawns(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    dec = json.JSONDecoder()
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return
        obj, i = dec.raw_decode(text, i)
        yield obj


def main(argv):
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--hits"):
        sys.stderr.write(__doc__)
        return 2
    want, hits = int(argv[1]), len(argv) == 3
    n = hit = failed = 0
    runners = collections.Counter()
    for s in spawns(argv[0]):
        if s.get("mnemonic") != "PyCompile":
            continue
        n += 1
        hit += bool(s.get("cacheHit"))
        failed += s.get("exitCode", 0) != 0
        runners[s.get("runner", "?")] += 1
    print("execlog: %d PyCompile spawns, %d cache hits, %d failed; %s"
          % (n, hit, failed,
             ", ".join("%s: %d" % kv for kv in sorted(runners.items()))))
    ok = n == want and failed == 0 and hit == (n if hits else 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
