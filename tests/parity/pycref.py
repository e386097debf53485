# SPDX-License-Identifier: MIT
"""Reference .pyc bytes computed by CPython itself, for the tests.

Run this with the interpreter of the compile server under test
(/usr/bin/python3.X of the same distribution).  It computes what the tool
must write:

    header + canonical(marshal.dumps(compile(source_bytes, dfile, 'exec',
                                             dont_inherit=True, optimize=N)))

`canonical` is canonical form 2 (docs/canonical-form.md), written here for
the tests independently of src/marshal/canonical.c: the marshal data is read
into Python objects (references resolved to the same object), each object
gets a structural value, and the stream is written again from the values.
"""
import importlib.util
import marshal
import os
import struct
import sys

FORM = 2
FLAG_REF = 0x80

# (first, last magic, series, code fields, names slots, consts, name,
#  qualname, filename slot) -- from Python/marshal.c of each series
_LAYOUTS = [
    (3400, 3429, (3, 8), "iiiiiiooooooooio", {8, 9, 10, 11}, 7, 13, None,
     12),
    (3430, 3449, (3, 10), "iiiiiiooooooooio", {8, 9, 10, 11}, 7, 13, None,
     12),
    (3450, 3499, (3, 11), "iiiiiooooooooioo", {7, 8}, 6, 11, 12, 10),
    (3500, 3549, (3, 12), "iiiiiooooooooioo", {7, 8}, 6, 11, 12, 10),
    (3550, 3599, (3, 13), "iiiiiooooooooioo", {7, 8}, 6, 11, 12, 10),
    (3600, 3649, (3, 14), "iiiiiooooooooioo", {7, 8}, 6, 11, 12, 10),
    (3650, 3699, (3, 15), "iiiiiooooooooioo", {7, 8}, 6, 11, 12, 10),
]


def layout(magic_number):
    m = struct.unpack("<H", magic_number[:2])[0]
    for lay in _LAYOUTS:
        if lay[0] <= m <= lay[1]:
            return lay
    raise ValueError("unknown magic %d" % m)


class BadMarshal(Exception):
    pass


class Obj:
    """One marshal object; references in the stream are the same Obj.  A
    str's data is its value in UTF-8, whatever type wrote it."""
    __slots__ = ("kind", "data", "kids", "ints")

    def __init__(self, kind, data=None):
        self.kind = kind    # 'str', 'bytes', 'int', 'float', 'complex',
        self.data = data    # 'ftext', 'ctext', 'tuple', 'list', 'dict',
        self.kids = []      # 'set', 'frozenset', 'slice', 'code', or a
        self.ints = []      # singleton code ('N', 'T', ...)


SINGLETONS = "0NFTS."


class Reader:
    def __init__(self, data, lay):
        self.d = data
        self.p = 0
        self.refs = []
        self.lay = lay

    def take(self, n):
        if n < 0 or self.p + n > len(self.d):
            raise BadMarshal("truncated")
        v = self.d[self.p:self.p + n]
        self.p += n
        return v

    def i32(self):
        return struct.unpack("<i", self.take(4))[0]

    def byte(self):
        return self.take(1)[0]

    def obj(self):
        code = self.byte()
        flag, t = code & FLAG_REF, chr(code & 0x7F)
        if t in SINGLETONS:
            return Obj(t)
        if t == "r":
            i = self.i32()
            if not 0 <= i < len(self.refs) or self.refs[i] is None:
                raise BadMarshal("bad reference")
            return self.refs[i]
        o = Obj(None)
        if flag:
            idx = len(self.refs)
            # code objects, frozensets, slices and frozendicts are usable
            # only whole
            self.refs.append(None if t in "c>:}" else o)
        if t == "i":
            o.kind, o.data = "int", self.i32()
        elif t == "I":
            o.kind, o.data = "int", struct.unpack("<q", self.take(8))[0]
        elif t == "l":
            n = self.i32()
            digits = struct.unpack("<%dH" % abs(n), self.take(2 * abs(n)))
            v = sum(dg << (15 * k) for k, dg in enumerate(digits))
            o.kind, o.data = "int", -v if n < 0 else v
        elif t == "g":
            o.kind, o.data = "float", self.take(8)
        elif t == "y":
            o.kind, o.data = "complex", self.take(16)
        elif t == "f":
            o.kind, o.data = "ftext", self.take(self.byte())
        elif t == "x":
            o.kind, o.data = "ctext", (self.take(self.byte()),
                                       self.take(self.byte()))
        elif t == "s":
            o.kind, o.data = "bytes", self.take(self.i32())
        elif t in "tu":
            o.kind, o.data = "str", _text(self.take(self.i32()), "utf-8")
        elif t in "aA":
            o.kind, o.data = "str", _text(self.take(self.i32()), "latin-1")
        elif t in "zZ":
            o.kind, o.data = "str", _text(self.take(self.byte()), "latin-1")
        elif t in ")([<>":
            n = self.byte() if t == ")" else self.i32()
            o.kind = {")": "tuple", "(": "tuple", "[": "list", "<": "set",
                      ">": "frozenset"}[t]
            o.kids = [self.obj() for _ in range(n)]
        elif t in "{}":
            o.kind = "dict" if t == "{" else "frozendict"
            while True:
                k = self.obj()
                if k.kind == "0":
                    break
                o.kids += [k, self.obj()]
        elif t == ":":
            o.kind = "slice"
            o.kids = [self.obj() for _ in range(3)]
        elif t == "c":
            o.kind = "code"
            for f in self.lay[3]:
                if f == "i":
                    o.ints.append(self.i32())
                else:
                    o.kids.append(self.obj())
        else:
            raise BadMarshal("unknown type %r" % t)
        if flag and t in "c>:}":
            self.refs[idx] = o
        return o


def _text(raw, encoding):
    """A string's value, kept as its UTF-8 bytes: CPython's reader takes
    the ASCII types (a A z Z) as latin-1, any byte a code point, and t u as
    UTF-8 with surrogates ("surrogatepass"); what it cannot decode it does
    not load.  Equal strings are then equal bytes, whatever their type."""
    try:
        return raw.decode(encoding, "surrogatepass").encode(
            "utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise BadMarshal("a string that is not %s" % encoding)


def _name_chars(b):
    return all(c == 95 or 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122
               for c in b)


def _one_latin1(b):
    try:
        s = b.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return False
    return len(s) == 1 and ord(s) < 256


class Canon:
    MERGEABLE = {"str", "bytes", "int", "float", "complex", "ftext",
                 "ctext", "tuple", "frozenset", "slice", "frozendict"}

    def __init__(self, root, lay):
        self.root = root
        self.lay = lay
        self.series = lay[2]
        self.interned = {}
        self.value = {}   # id(obj) -> value key
        self.keep = []    # keeps objects alive for id()
        self.vote(root, "other", set())
        self.values(root, set())

    # rule 1 --------------------------------------------------------------
    def vote(self, o, ctx, seen):
        if (id(o), ctx) in seen:
            return
        seen.add((id(o), ctx))
        if o.kind == "str":
            b = o.data
            if ctx == "name":
                v = True
            elif ctx == "co_name":
                v = self.series >= (3, 12) or not b.startswith(b"<")
            elif ctx in ("qualname", "filename"):
                v = self.series >= (3, 12)
            elif ctx == "consts":
                v = _name_chars(b)
            else:
                v = False
            v = v or _one_latin1(b)
            self.interned[b] = self.interned.get(b, False) or v
            return
        if o.kind == "code":
            (_, _, _, fields, names, consts, co_name, qual, fname) = self.lay
            slots = [i for i, f in enumerate(fields) if f == "o"]
            for slot, k in zip(slots, o.kids):
                c = ("names" if slot in names else
                     "consts" if slot == consts else
                     "co_name" if slot == co_name else
                     "qualname" if slot == qual else
                     "filename" if slot == fname else "other")
                self.vote(k, c, seen)
            return
        for k in o.kids:
            if o.kind in ("tuple", "frozenset", "slice"):
                c = {"names": "name", "consts": "consts"}.get(ctx, "other")
            else:
                c = "other"
            self.vote(k, c, seen)

    # rules 2 and 4 -------------------------------------------------------
    def values(self, o, path):
        """Structural value of o; unique (identity) for what is never
        merged, and for objects on a cycle."""
        if o.kind in SINGLETONS:
            return ("single", o.kind)
        if id(o) in self.value:
            return self.value[id(o)]
        if id(o) in path:
            return None  # a cycle: the caller is not mergeable
        path.add(id(o))
        kids = [self.values(k, path) for k in o.kids]
        path.discard(id(o))
        if o.kind in ("set", "frozenset"):
            order = sorted(range(len(o.kids)),
                           key=lambda i: self.write(o.kids[i], None))
            o.kids = [o.kids[i] for i in order]
            kids = [kids[i] for i in order]
        mergeable = o.kind in self.MERGEABLE and all(
            k is not None and k[0] != "unique" for k in kids)
        if not mergeable:
            self.keep.append(o)
            v = ("unique", id(o))
        elif o.kind in ("tuple", "frozenset", "slice", "frozendict"):
            v = (o.kind, tuple(kids))
        else:
            v = (o.kind, o.data)
        self.value[id(o)] = v
        return v

    # rules 3 and 5 -------------------------------------------------------
    def write(self, o, state, depth=0):
        """o's bytes; state None: plainly (every object in full, no
        FLAG_REF), else the canonical stream (state: seen, uses, refs)."""
        if depth > 2000:
            raise BadMarshal("too deep")
        if o.kind in SINGLETONS:
            return o.kind.encode()
        flag = 0
        if state is not None:
            v = self.value[id(o)]
            if v in state["index"]:
                return b"r" + struct.pack("<I", state["index"][v])
            if state["uses"].get(v, 0) > 0:
                flag = FLAG_REF
                state["index"][v] = state["next"]
                state["next"] += 1
            else:
                state["index"][v] = None  # met, never referenced again
        out = self.body(o, flag, state, depth)
        return out

    def body(self, o, flag, state, depth):
        k = o.kind
        w = lambda c: bytes([ord(c) | flag])  # noqa: E731
        if k == "str":
            b = o.data
            ascii_ = all(c < 128 for c in b)
            interned = self.interned.get(b, False)
            if ascii_ and len(b) < 256:
                return w("Z" if interned else "z") + bytes([len(b)]) + b
            code = ("A" if interned else "a") if ascii_ else \
                ("t" if interned else "u")
            return w(code) + struct.pack("<I", len(b)) + b
        if k == "bytes":
            return w("s") + struct.pack("<I", len(o.data)) + o.data
        if k == "int":
            v = o.data
            if -2**31 <= v < 2**31:
                return w("i") + struct.pack("<i", v)
            m, digits = abs(v), []
            while m:
                digits.append(m & 0x7FFF)
                m >>= 15
            n = len(digits)
            return (w("l") + struct.pack("<i", -n if v < 0 else n)
                    + struct.pack("<%dH" % n, *digits))
        if k == "float":
            return w("g") + o.data
        if k == "complex":
            return w("y") + o.data
        if k == "ftext":
            return w("f") + bytes([len(o.data)]) + o.data
        if k == "ctext":
            a, b = o.data
            return w("x") + bytes([len(a)]) + a + bytes([len(b)]) + b
        kids = b"".join(self.write(c, state, depth + 1) for c in o.kids) \
            if k != "code" else None
        if k == "tuple":
            n = len(o.kids)
            head = (w(")") + bytes([n])) if n < 256 else \
                (w("(") + struct.pack("<I", n))
            return head + kids
        if k in ("list", "set", "frozenset"):
            c = {"list": "[", "set": "<", "frozenset": ">"}[k]
            return w(c) + struct.pack("<I", len(o.kids)) + kids
        if k in ("dict", "frozendict"):
            return w("{" if k == "dict" else "}") + kids + b"0"
        if k == "slice":
            return w(":") + kids
        if k == "code":
            out = [w("c")]
            ints, objs = iter(o.ints), iter(o.kids)
            for f in self.lay[3]:
                if f == "i":
                    out.append(struct.pack("<i", next(ints)))
                else:
                    out.append(self.write(next(objs), state, depth + 1))
            return b"".join(out)
        raise BadMarshal(k)

    def count(self, o, uses, met, depth=0):
        if depth > 2000:
            raise BadMarshal("too deep")
        if o.kind in SINGLETONS:
            return
        v = self.value[id(o)]
        if v in met:
            uses[v] = uses.get(v, 0) + 1
            return
        met.add(v)
        for k in o.kids:
            self.count(k, uses, met, depth + 1)

    def stream(self):
        uses = {}
        self.count(self.root, uses, set())
        return self.write(self.root, {"uses": uses, "index": {}, "next": 0})


def canonicalize(data, magic_number=None):
    """Canonical form 2 of marshal data of this CPython (or of the series
    whose magic number is given)."""
    lay = layout(magic_number or importlib.util.MAGIC_NUMBER)
    # The recursion this needs is raised for it alone: CPython derives the
    # compiler's own limit from sys.getrecursionlimit(), so leaving it
    # raised would let the next compile() accept deeper sources.
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        r = Reader(data, lay)
        root = r.obj()
        if r.p != len(data):
            raise BadMarshal("trailing data")
        return Canon(root, lay).stream()
    finally:
        sys.setrecursionlimit(old)


def header(source_bytes, mode, mtime=None, size=None):
    magic = importlib.util.MAGIC_NUMBER
    if mode == "timestamp":
        return (magic + struct.pack("<I", 0)
                + struct.pack("<II", int(mtime) & 0xFFFFFFFF,
                              size & 0xFFFFFFFF))
    flags = 3 if mode == "checked-hash" else 1
    return (magic + struct.pack("<I", flags)
            + importlib.util.source_hash(source_bytes))


def expected_pyc(path, dfile=None, optimize=0, mode="checked-hash"):
    """The bytes pycompile-repro must write for path, or raise the
    exception CPython raises compiling it."""
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, dfile or path, "exec", dont_inherit=True,
                   optimize=optimize)
    body = canonicalize(marshal.dumps(code))
    st = os.stat(path)
    return header(source, mode, st.st_mtime, st.st_size) + body


def cache_path(path, optimize=0):
    return importlib.util.cache_from_source(
        path, optimization=optimize if optimize else "")


def main(argv):
    """pycref.py --is-canonical FILE.pyc...: exit 0 when every body is in
    canonical form 2 (for the series its magic number names)."""
    if len(argv) < 1 or argv[0] != "--is-canonical":
        sys.exit("usage: pycref.py --is-canonical FILE.pyc...")
    bad = 0
    for path in argv[1:]:
        with open(path, "rb") as f:
            data = f.read()
        body = data[16:]
        try:
            same = canonicalize(body, data[:4]) == body
        except Exception as e:  # noqa: BLE001 - reported per file
            print("%s: %s" % (path, e))
            same = False
        if not same:
            print("%s: not canonical" % path)
            bad += 1
    print("pycref: %d files, %d not canonical" % (len(argv) - 1, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
