# SPDX-License-Identifier: MIT
"""Canonical form 2 on many encodings of the same values: each .pyc is
re-encoded at random (FLAG_REF on any object, references or full copies
of repeated values, interned or not, short or long string and tuple codes,
ints as TYPE_INT, TYPE_LONG or TYPE_INT64, frozenset elements in any
order), as processes in other states could write it.  `pycompile-repro
--canonicalize` must give every variant exactly the bytes it gives the
original, which load (marshal.loads) as equal code objects; and the
independent Python implementation (tests/parity/pycref.py) must agree.
Runs under /usr/bin/python3.X of the server under test."""
import marshal
import os
import random
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)
from common import STDLIB, main, readb, tool  # noqa: E402

FLAG = 0x80
MODULES = ["argparse.py", "json/decoder.py", "string.py", "fractions.py",
           "email/_header_value_parser.py", "dataclasses.py"]


class Writer:
    """Writes a pycref object graph as marshal data, choosing at random
    among the encodings CPython's reader accepts."""

    def __init__(self, rng, lay):
        self.rng = rng
        self.lay = lay
        self.index = {}  # id(obj) -> reference index, when flagged
        self.count = 0
        self.complete = set()

    def flag(self, o):
        if self.rng.random() < 0.5:
            self.index[id(o)] = self.count
            self.count += 1
            return FLAG
        return 0

    def write(self, o):
        k = o.kind
        if k in pycref.SINGLETONS:
            return k.encode()
        if id(o) in self.index and id(o) in self.complete and \
                self.rng.random() < 0.7:
            return b"r" + struct.pack("<I", self.index[id(o)])
        if k in ("list", "dict", "set", "code") and id(o) in self.complete:
            # identity matters for these: only a reference keeps it
            if id(o) in self.index:
                return b"r" + struct.pack("<I", self.index[id(o)])
        f = self.flag(o) if id(o) not in self.index or \
            self.rng.random() < 0.3 else 0
        out = self.body(o, f)
        self.complete.add(id(o))
        return out

    def body(self, o, f):
        k, rng = o.kind, self.rng
        if k == "str":
            b = o.data  # the value in UTF-8
            interned = rng.random() < 0.5
            text = b.decode("utf-8", "surrogatepass")
            if all(c < 128 for c in b) or \
                    (max(map(ord, text)) < 256 and rng.random() < 0.5):
                # the ASCII types hold latin-1: CPython reads any byte
                b = text.encode("latin-1")
                if len(b) < 256 and rng.random() < 0.7:
                    return bytes([ord("Z" if interned else "z") | f,
                                  len(b)]) + b
                return bytes([ord("A" if interned else "a") | f]) + \
                    struct.pack("<I", len(b)) + b
            return bytes([ord("t" if interned else "u") | f]) + \
                struct.pack("<I", len(b)) + b
        if k == "int":
            v = o.data
            choice = rng.random()
            if -2**31 <= v < 2**31 and choice < 0.5:
                return bytes([ord("i") | f]) + struct.pack("<i", v)
            if -2**63 <= v < 2**63 and choice < 0.7:
                return bytes([ord("I") | f]) + struct.pack("<q", v)
            m, digits = abs(v), []
            while m:
                digits.append(m & 0x7FFF)
                m >>= 15
            return bytes([ord("l") | f]) + struct.pack(
                "<i", -len(digits) if v < 0 else len(digits)) + \
                struct.pack("<%dH" % len(digits), *digits)
        if k == "float":
            return bytes([ord("g") | f]) + o.data
        if k == "complex":
            return bytes([ord("y") | f]) + o.data
        if k == "bytes":
            return bytes([ord("s") | f]) + struct.pack("<I", len(o.data)) + \
                o.data
        if k == "tuple":
            n = len(o.kids)
            head = bytes([ord(")") | f, n]) if n < 256 and \
                rng.random() < 0.7 else \
                bytes([ord("(") | f]) + struct.pack("<I", n)
            return head + b"".join(self.write(c) for c in o.kids)
        if k in ("frozenset", "set"):
            kids = list(o.kids)
            rng.shuffle(kids)
            return bytes([ord(">" if k == "frozenset" else "<") | f]) + \
                struct.pack("<I", len(kids)) + \
                b"".join(self.write(c) for c in kids)
        if k == "list":
            return bytes([ord("[") | f]) + struct.pack("<I", len(o.kids)) + \
                b"".join(self.write(c) for c in o.kids)
        if k == "dict":
            return bytes([ord("{") | f]) + \
                b"".join(self.write(c) for c in o.kids) + b"0"
        if k == "slice":
            return bytes([ord(":") | f]) + \
                b"".join(self.write(c) for c in o.kids)
        if k == "code":
            out = [bytes([ord("c") | f])]
            ints, objs = iter(o.ints), iter(o.kids)
            for fl in self.lay[3]:
                out.append(struct.pack("<i", next(ints)) if fl == "i"
                           else self.write(next(objs)))
            return b"".join(out)
        raise ValueError(k)


def variant(body, seed):
    lay = pycref.layout(pycref.importlib.util.MAGIC_NUMBER)
    r = pycref.Reader(body, lay)
    root = r.obj()
    return Writer(random.Random(seed), lay).write(root)


class TestVariants(common.TempDirCase):
    prefix = "pcr-canon-"

    def test_every_encoding_canonicalises_to_the_same_bytes(self):
        sys.setrecursionlimit(20000)
        srcs = []
        for m in MODULES:
            src = os.path.join(STDLIB, m)
            if os.path.exists(src):
                dest = os.path.join(self.top, m.replace("/", "_"))
                shutil.copy(src, dest)
                srcs.append(dest)
        fixture = os.path.join(HERE, "..", "..", "fixtures", "tricky",
                               "mixed_constants.py")
        shutil.copy(fixture, self.top)
        srcs.append(os.path.join(self.top, "mixed_constants.py"))
        # strings below U+0100 but not ASCII: the variants write them as
        # latin-1 in the ASCII types too (issue 23, item 5: they came out
        # as 'u' strings of latin-1 bytes, which CPython cannot load)
        latin = os.path.join(self.top, "latin.py")
        with open(latin, "w", encoding="utf-8") as f:
            f.write("caf\u00e9 = ('\u00e9', 'caf\u00e9', '\u00ff' * 300, "
                    "'x\\x80', '\u00c3\u00a9', '\u00e9\u20ac', "
                    "frozenset({'\u00e0', '\u00e1', 'b'}))\n"
                    "def f(\u00e0=1):\n    return caf\u00e9, \u00e0\n")
        srcs.append(latin)
        p = tool(["--invalidation-mode", "checked-hash"] + srcs)
        self.assertEqual(p.returncode, 0, p.stderr)
        variants = os.path.join(self.top, "v")
        os.mkdir(variants)
        expected = {}
        n = 0
        for src in srcs:
            pyc = readb(pycref.cache_path(src))
            header, body = pyc[:16], pyc[16:]
            self.assertEqual(pycref.canonicalize(body), body)
            for seed in range(12):
                v = variant(body, seed * 7919 + n)
                if seed == 0:
                    self.assertNotEqual(v, body)  # it did re-encode
                self.assertEqual(marshal.loads(v), marshal.loads(body))
                # the independent implementation agrees on each variant
                self.assertEqual(pycref.canonicalize(v), body)
                name = os.path.join(variants, "%d.pyc" % n)
                with open(name, "wb") as f:
                    f.write(header + v)
                expected[name] = pyc
                n += 1
        p = tool(["-qq", "--canonicalize", variants])
        self.assertEqual(p.returncode, 0, p.stderr)
        same = 0
        for name, want in expected.items():
            got = readb(name)
            self.assertEqual(got, want, name)
            self.assertEqual(pycref.canonicalize(got[16:]), got[16:])
            same += 1
        self.assertGreater(same, 60)


if __name__ == "__main__":
    main()
