"""Reference .pyc bytes computed by CPython itself, for the tests.

Run this with the interpreter whose libpython pycompile-repro embeds
(/usr/bin/python3.11 on Debian).  It computes what the tool must write:

    header + canonical(marshal.dumps(compile(source_bytes, dfile, 'exec',
                                             dont_inherit=True, optimize=N)))

The canonicaliser here is written for the tests, independently of the C
walker in src/lib: a recursive reader that records, for every object, the
position of its type byte and whether some TYPE_REF points back at it, then
clears FLAG_REF on the objects nobody references and renumbers the
references that remain; one-character latin-1 strings get the interned
type code (Z, A, t).
"""
import importlib.util
import marshal
import struct
import sys

FLAG_REF = 0x80

# Process state that the canonical form does not cure: marshal writes a
# one-character latin-1 string as interned when the singleton happens to
# be interned.  The project's convention is that all of them are.
_INTERNED = [sys.intern(chr(i)) for i in range(256)]


class BadMarshal(Exception):
    pass


class _Reader:
    """Walks marshal version 4 data as Python/marshal.c r_object does."""

    SINGLETONS = b"0NFTS."

    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.flag_pos = []  # ref index -> offset of the type byte
        self.ref_sites = []  # (offset of the 4-byte index, ref index)
        self.unflag = []  # offsets of flagged bytes that register nothing
        self.one_char = []  # (offset, interned code) of 1-char strings

    def byte(self):
        if self.pos >= len(self.data):
            raise BadMarshal("truncated")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise BadMarshal("truncated")
        self.pos += n

    def i32(self):
        if self.pos + 4 > len(self.data):
            raise BadMarshal("truncated")
        (v,) = struct.unpack_from("<i", self.data, self.pos)
        self.pos += 4
        return v

    def obj(self):
        at = self.pos
        code = self.byte()
        flag, t = code & FLAG_REF, chr(code & ~FLAG_REF)
        if t in "0NFTS.":
            if flag:
                self.unflag.append(at)
            return t
        if t == "r":
            if flag:
                self.unflag.append(at)
            site = self.pos
            idx = self.i32()
            if not 0 <= idx < len(self.flag_pos):
                raise BadMarshal("bad reference")
            self.ref_sites.append((site, idx))
            return t
        if flag:
            self.flag_pos.append(at)
        if t == "i":
            self.take(4)
        elif t == "I" or t == "g":
            self.take(8)
        elif t == "y":
            self.take(16)
        elif t == "f":
            self.take(self.byte())
        elif t == "x":
            self.take(self.byte())
            self.take(self.byte())
        elif t == "l":
            self.take(2 * abs(self.i32()))
        elif t in "stuaA":
            n = self.i32()
            text = self.data[self.pos:self.pos + n]
            self.take(n)
            if t in "ua" and len(text.decode("utf-8", "surrogatepass")) == 1 \
                    and ord(text.decode("utf-8", "surrogatepass")) < 256:
                self.one_char.append((at, "t" if t == "u" else "A"))
        elif t in "zZ":
            n = self.byte()
            self.take(n)
            if t == "z" and n == 1:
                self.one_char.append((at, "Z"))
        elif t == ")":
            for _ in range(self.byte()):
                self.obj()
        elif t in "([<>":
            for _ in range(self.i32()):
                self.obj()
        elif t == "{":
            while self.obj() != "0":
                self.obj()
        elif t == "c":
            # 3.11: five int32, eight objects, int32, two objects
            self.take(20)
            for _ in range(8):
                self.obj()
            self.take(4)
            self.obj()
            self.obj()
        else:
            raise BadMarshal("unknown type %r at %d" % (t, at))
        return t


def canonicalize(data):
    """FLAG_REF only where referenced, references renumbered."""
    r = _Reader(data)
    r.obj()
    if r.pos != len(data):
        raise BadMarshal("trailing data")
    used = sorted({idx for _, idx in r.ref_sites})
    new_index = {old: new for new, old in enumerate(used)}
    out = bytearray(data)
    for idx, at in enumerate(r.flag_pos):
        if idx not in new_index:
            out[at] &= ~FLAG_REF
    for at in r.unflag:
        out[at] &= ~FLAG_REF
    for site, idx in r.ref_sites:
        struct.pack_into("<I", out, site, new_index[idx])
    # A one-character latin-1 string is written as interned, whatever the
    # process that marshalled it had interned (gh-93317).
    for at, code in r.one_char:
        out[at] = (out[at] & FLAG_REF) | ord(code)
    return bytes(out)


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
    import os
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
