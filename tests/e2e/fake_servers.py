# SPDX-License-Identifier: MIT
"""Compile servers that misbehave, for the tests: each is a small proxy in
front of the real server (same name, cpython-X.Y, in its own directory
given to pycompile-repro with --server-dir) that changes what it is told
to change.  The protocol is in src/common/protocol.h."""
import os
import stat
import struct
import sys

PROXY = r'''#!%(python)s -I
import os, signal, struct, subprocess, sys
REAL = %(real)r
MODE = %(mode)r
args = sys.argv[1:]
seed = int(args[args.index("--hash-seed") + 1]) if "--hash-seed" in args else 0
MODES = MODE.split("+")  # several at once: "log-starts:FILE+die-on"
for m in MODES:
    if m.startswith("log-starts:"):
        with open(m.split(":", 1)[1], "a") as log:
            log.write("started seed=%%d\n" %% seed)
UPGRADED = [m.split(":", 1)[1] for m in MODES if m.startswith("upgraded-if:")]
# "gate:FILE": a source holding GATE is held (FILE.held is made) until FILE
# exists, so that a test knows a compile is in flight for as long as it likes
GATE = [m.split(":", 1)[1] for m in MODES if m.startswith("gate:")]
LINGER = "linger" in MODES  # stays after its input ends
MODE = [m for m in MODES
        if not m.startswith(("log-starts:", "upgraded-if:", "gate:"))
        and m != "linger"] or [""]
MODE = MODE[0]
if MODE == "no-hello":
    sys.exit(3)
if MODE == "stall-hello":
    import time
    time.sleep(3600)
inp, out = sys.stdin.buffer, sys.stdout.buffer
def frame(f):
    head = f.read(4)
    if len(head) < 4:
        return None
    n = struct.unpack("<I", head)[0]
    return f.read(n)
def send(f, payload):
    f.write(struct.pack("<I", len(payload)) + payload)
    f.flush()
if MODE == "error-hello":
    msg = b"this installation is broken"
    send(out, b"E" + struct.pack("<I", len(msg)) + msg)
    sys.exit(2)
real = subprocess.Popen([REAL] + args, stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE)
hello = frame(real.stdout)
if MODE == "bad-magic":  # another series' magic number (3.8's 3413)
    hello = hello[:5] + struct.pack("<I", 0x0A0D0D55) + hello[9:]
if UPGRADED and os.path.exists(UPGRADED[0]):
    # another build of the series: its sys.version (the hello's build)
    # differs, as after a distribution's point release
    p = 1 + 12
    vl = struct.unpack_from("<I", hello, p)[0]
    p += 4 + vl
    bl = struct.unpack_from("<I", hello, p)[0]
    b = hello[p + 4:p + 4 + bl] + b" (upgraded)"
    hello = hello[:p] + struct.pack("<I", len(b)) + b + hello[p + 4 + bl:]
send(out, hello)                               # hello
if MODE == "garbage":
    out.write(b"\xff\xff\xff\xff garbage")
    out.flush()
    sys.exit(0)
while True:
    req = frame(inp)
    if req is None:
        break
    if req[:1] == b"C":
        # id flags nlevels levels... name source
        p = 1 + 8
        nlev = struct.unpack_from("<I", req, p)[0]
        p += 4 + 4 * nlev
        nlen = struct.unpack_from("<I", req, p)[0]
        p += 4 + nlen
        slen = struct.unpack_from("<I", req, p)[0]
        src = req[p + 4:p + 4 + slen]
        if GATE and b"GATE" in src:
            import time
            open(GATE[0] + ".held", "w").close()
            while not os.path.exists(GATE[0]):
                time.sleep(0.01)
        if MODE == "die-on" and b"DIE" in src:
            os.kill(os.getpid(), signal.SIGKILL)
        if MODE == "stall-on" and b"STALL" in src:
            import time
            time.sleep(3600)  # alive, answering nothing, using no CPU
        if MODE == "bad-body" and b"BAD" in src:
            # a well-formed reply whose code is not marshal data
            rid, flags = req[1:5], struct.unpack_from("<I", req, 5)[0]
            body = b"\x00garbage, not a code object"
            reply = (b"R" + rid + struct.pack("<I", 0) +
                     (b"\0" * 8 if flags & 1 else b"") +
                     struct.pack("<I", nlev) +
                     (struct.pack("<I", len(body)) + body) * nlev +
                     struct.pack("<I", 0))
            send(out, reply)
            continue
        if MODE == "seed-changes-source" and seed != 0:
            src = src.replace(b"1", b"2")
            req = req[:p] + struct.pack("<I", len(src)) + src
    send(real.stdin, req)
    send(out, frame(real.stdout))
real.stdin.close()
real.wait()
if LINGER:
    import time
    time.sleep(3600)  # a wrapper that does not go when its input ends
'''


def make(directory, real_server, mode):
    """A server directory with one misbehaving cpython-X.Y; returns it."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, os.path.basename(real_server))
    with open(path, "w") as f:
        f.write(PROXY % {"python": sys.executable, "real": real_server,
                         "mode": mode})
    os.chmod(path, stat.S_IRWXU)
    return directory


def real_server(bin_path, series):
    """The real server beside the built binary."""
    return os.path.join(os.path.dirname(bin_path), "libexec",
                        "pycompile-repro", "cpython-" + series)
