# SPDX-License-Identifier: MIT
"""End-to-end tests of pycompile-repro-bazel ($PCR_BAZEL_BIN, else beside
$PCR_BIN): rules_python's precompiler interface, one-shot and as a Bazel
persistent worker (JSON protocol), run as Bazel runs it.  Every .pyc must
be byte for byte what the pycompile-repro command line writes for the same
source, version, level and mode with the same recorded name, whatever the
worker compiled before (a module with the identifier é first; strings "{"
and "}" after the first response).  Runs under /usr/bin/python3.X, the
interpreter of the compile server under test."""
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import fake_servers  # noqa: E402
from common import BIN, PYVER, WRAPPER, main, readb, write  # noqa: E402

BAZEL_BIN = os.path.abspath(os.environ.get(
    "PCR_BAZEL_BIN", os.path.join(os.path.dirname(BIN),
                                  "pycompile-repro-bazel")))
SLOW = 10 if WRAPPER else 1
TIMEOUT = 60 * SLOW
RESPONSE_KEYS = {"requestId", "exitCode", "output", "wasCancelled"}


def triple(src, name, pyc):
    return ["--src", src, "--src_name", name, "--pyc", pyc]


_REFERENCE = {}


def cli_bytes(source_bytes, name, level=0, mode="checked-hash"):
    """What the pycompile-repro command line writes for a source recording
    name (a relative path), at level, in mode."""
    key = (source_bytes, name, level, mode)
    if key not in _REFERENCE:
        _REFERENCE[key] = _cli_bytes(source_bytes, name, level, mode)
    return _REFERENCE[key]


def _cli_bytes(source_bytes, name, level, mode):
    d = tempfile.mkdtemp(prefix="pcr-bzl-ref-")
    try:
        write(os.path.join(d, name), source_bytes)
        # (the reference, not the run under test: never under $PCR_WRAPPER)
        p = common.tool(["-o", str(level), "--invalidation-mode", mode, name],
                        cwd=d, wrapped=False, timeout=60)
        if p.returncode != 0:
            raise AssertionError("reference compile failed: %s"
                                 % p.stderr.decode(errors="replace"))
        stem = os.path.splitext(os.path.basename(name))[0]
        opt = ".opt-%d" % level if level else ""
        return readb(os.path.join(
            d, os.path.dirname(name), "__pycache__",
            "%s.%s%s.pyc" % (stem, sys.implementation.cache_tag, opt)))
    finally:
        shutil.rmtree(d, True)


def one_shot(args, cwd):
    return subprocess.run(WRAPPER + [BAZEL_BIN] + args, cwd=cwd,
                          capture_output=True, timeout=TIMEOUT)


class Worker:
    """pycompile-repro-bazel --persistent_worker, fed as Bazel feeds it."""

    def __init__(self, cwd, startup=(), env=None):
        self.proc = subprocess.Popen(
            WRAPPER + [BAZEL_BIN] + list(startup) + ["--persistent_worker"],
            cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=None if env is None else dict(os.environ, **env))
        self.lines = queue.Queue()
        self.raw = []
        self.stderr = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read_err,
                                           daemon=True)
        self.err_reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.raw.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _read_err(self):
        self.stderr = self.proc.stderr.read()

    def send_raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, request_id, args, sep=b"", **fields):
        req = {"arguments": args, "requestId": request_id}
        req.update(fields)
        # protobuf's printer, as Bazel writes: no white space, no newline
        self.send_raw(json.dumps(req, separators=(",", ":")).encode() + sep)

    def cancel(self, request_id):
        self.send_raw(json.dumps({"requestId": request_id,
                                  "cancel": True}).encode())

    def response(self, timeout=TIMEOUT):
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise AssertionError("the worker ended: %s"
                                 % self.stderr.decode(errors="replace"))
        obj = json.loads(line)
        assert isinstance(obj, dict) and set(obj) <= RESPONSE_KEYS, line
        return obj

    def responses(self, n):
        return [self.response() for _ in range(n)]

    def no_more(self, wait=0.3):
        try:
            line = self.lines.get(timeout=wait * SLOW)
        except queue.Empty:
            return True
        self.lines.put(line)
        return False

    def close(self):
        """Close stdin; the exit status and everything on stderr."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        rc = self.proc.wait(timeout=TIMEOUT)
        self.reader.join(TIMEOUT)
        self.err_reader.join(TIMEOUT)
        return rc, self.stderr.decode(errors="replace")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.reader.join(TIMEOUT)
        self.err_reader.join(TIMEOUT)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except BrokenPipeError:
                pass


E_ACUTE = "é = 1\ndef f(é=é):\n    return {é: 'é'}\n"
BRACES = ('D = {"{": "}", "}": "{"}\n'
          'def fmt(x):\n    return "{" + str(x) + "}"\n'
          'S = ("{", "}", "{}", "a")\n')


def module(i):
    return ('"""m%d"""\nimport os\nNAME = %r\nK = ("a", "b", "{", "}", %d)\n'
            "def f(x, y=%d):\n    return {'k': x, 'v': [y, NAME, 'é']}\n"
            "class C%d:\n    s = 'shared'\n    def m(self):\n"
            "        return f'{{{self.s}}}'\n" % (i, "m%d" % i, i, i, i))


class Base(common.TempDirCase):
    prefix = "pcr-e2e-bazel-"

    def setUp(self):
        super().setUp()
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            w.kill()

    def worker(self, startup=(), env=None):
        w = Worker(self.top, startup, env)
        self.workers.append(w)
        return w

    def src(self, name, text):
        self.write(name, text)
        return name

    def pyc(self, name):
        return readb(os.path.join(self.top, name))

    def args(self, src, name, pyc, level=-1, mode="checked_hash",
             version=PYVER):
        a = ["--invalidation_mode", mode, "--optimize", str(level)]
        if version is not None:
            a += ["--python_version", version]
        return a + triple(src, name, pyc)


class TestOneShot(Base):
    def test_every_level_and_mode_matches_the_command_line(self):
        s = self.src("pkg/mod.py", module(1) + BRACES)
        for level in (-1, 0, 1, 2):
            for mode, cli in (("checked_hash", "checked-hash"),
                              ("UNCHECKED_HASH", "unchecked-hash"),
                              ("Checked_Hash", "checked-hash")):
                with self.subTest(level=level, mode=mode):
                    out = "out/%d-%s.pyc" % (level, mode)
                    p = one_shot(self.args(s, "pkg/mod.py", out, level, mode),
                                 self.top)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertEqual(p.stdout, b"")
                    want = cli_bytes(module(1) + BRACES, "pkg/mod.py",
                                     max(level, 0), cli)
                    self.assertEqual(self.pyc(out), want)

    def test_name_is_what_the_pyc_records_not_the_path(self):
        s = self.src("bazel-out/k8/bin/x/y.py", "def f():\n    1/0\n")
        p = one_shot(self.args(s, "x/y.py", "y.pyc"), self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.pyc("y.pyc"),
                         cli_bytes("def f():\n    1/0\n", "x/y.py"))
        self.assertNotIn(b"bazel-out", self.pyc("y.pyc"))

    def test_default_mode_is_checked_hash_and_level_zero(self):
        s = self.src("a.py", "X = 1\n")
        # the version under test named, as rules_python always does: the
        # default version is another where python3 is not this one (sid)
        p = one_shot(["--python_version", PYVER] + triple(s, "a.py", "a.pyc"),
                     self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.pyc("a.pyc")[4:8], b"\x03\x00\x00\x00")
        self.assertEqual(self.pyc("a.pyc"), cli_bytes("X = 1\n", "a.py"))

    def test_arguments_from_files_one_a_line_nested(self):
        s = self.src("a.py", BRACES)
        write(os.path.join(self.top, "inner.params"),
              "--pyc\nout.pyc\n--optimize\n2\n")
        write(os.path.join(self.top, "outer.params"),
              "--invalidation_mode\r\nunchecked_hash\r\n--src\r\na.py\r\n"
              "--src_name\r\nlib/a.py\r\n@inner.params\r\n")
        p = one_shot(["--python_version=" + PYVER, "@outer.params"],
                     self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.pyc("out.pyc"),
                         cli_bytes(BRACES, "lib/a.py", 2, "unchecked-hash"))

    def test_several_triples_in_one_call(self):
        names = [self.src("p/m%d.py" % i, module(i)) for i in range(4)]
        args = ["--python_version", PYVER]
        for n in names:
            args += triple(n, n, n + "c")
        p = one_shot(args, self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        for i, n in enumerate(names):
            self.assertEqual(self.pyc(n + "c"), cli_bytes(module(i), n))

    def test_python_version_is_honoured_or_refused_clearly(self):
        s = self.src("a.py", "X = 1\n")
        p = one_shot(self.args(s, "a.py", "a.pyc", version="2.7"), self.top)
        self.assertEqual(p.returncode, 2)
        err = p.stderr.decode()
        self.assertIn("--python_version 2.7", err)
        self.assertIn("no compile server for CPython 2.7 is installed", err)
        self.assertIn("installed: ", err)
        self.assertIn(PYVER, err)
        self.assertFalse(os.path.exists(os.path.join(self.top, "a.pyc")))
        p = one_shot(self.args(s, "a.py", "a.pyc", version="three"),
                     self.top)
        self.assertEqual(p.returncode, 2)
        self.assertIn("three", p.stderr.decode())

    def test_usage_errors_exit_2_with_a_message(self):
        s = self.src("a.py", "X = 1\n")
        cases = [
            (triple(s, "a.py", "a.pyc")[:4], "mismatched number"),
            (triple(s, "a.py", "a.pyc") + ["--src", s], "mismatched number"),
            (["--bogus"] + triple(s, "a.py", "a.pyc"), "'--bogus'"),
            (["--optimize", "3"] + triple(s, "a.py", "a.pyc"), "--optimize"),
            (["--optimize", "x"] + triple(s, "a.py", "a.pyc"), "--optimize"),
            (["--invalidation_mode", "sometimes"]
             + triple(s, "a.py", "a.pyc"), "sometimes"),
            ([], "nothing to compile"),
            (["--src"], "needs a value"),
            (["@missing.params"], "missing.params"),
            (triple(s, "", "a.pyc"), "empty"),
        ]
        for args, what in cases:
            with self.subTest(args=args):
                p = one_shot(args, self.top)
                self.assertEqual(p.returncode, 2, p.stderr)
                err = p.stderr.decode()
                self.assertTrue(err.startswith("pycompile-repro-bazel: "),
                                err)
                self.assertIn(what, err)
        self.assertFalse(os.path.exists(os.path.join(self.top, "a.pyc")))

    def test_a_bad_source_exits_1_and_writes_nothing(self):
        s = self.src("bad.py", "def f(:\n")
        p = one_shot(self.args(s, "lib/bad.py", "bad.pyc"), self.top)
        self.assertEqual(p.returncode, 1)
        err = p.stderr.decode()
        self.assertIn("SyntaxError", err)
        self.assertIn('File "lib/bad.py", line 1', err)
        self.assertFalse(os.path.exists(os.path.join(self.top, "bad.pyc")))
        p = one_shot(self.args("nope.py", "nope.py", "nope.pyc"), self.top)
        self.assertEqual(p.returncode, 1)
        self.assertIn("nope.py", p.stderr.decode())

    def test_help_and_version(self):
        p = one_shot(["--help"], self.top)
        self.assertEqual(p.returncode, 0)
        for opt in ("--invalidation_mode", "--optimize", "--python_version",
                    "--src", "--src_name", "--pyc", "--persistent_worker"):
            self.assertIn(opt, p.stdout.decode())
        p = one_shot(["--version"], self.top)
        self.assertEqual(p.returncode, 0)
        self.assertIn("CPython %s:" % PYVER, p.stdout.decode())


class TestWorker(Base):
    def test_requests_compile_as_the_command_line_does(self):
        w = self.worker()
        names = [self.src("p/m%d.py" % i, module(i)) for i in range(6)]
        for i, n in enumerate(names):
            w.send(i + 1, self.args(n, n, n + "c", level=i % 3))
        got = {r["requestId"]: r for r in w.responses(len(names))}
        self.assertEqual(sorted(got), list(range(1, len(names) + 1)))
        for i, n in enumerate(names):
            self.assertEqual(got[i + 1]["exitCode"], 0, got[i + 1])
            self.assertEqual(self.pyc(n + "c"), cli_bytes(module(i), n,
                                                         i % 3))
        rc, err = w.close()
        self.assertEqual(rc, 0, err)
        self.assertIn("standard input closed", err)

    def test_singleplex_requests_in_turn(self):
        w = self.worker()
        for i in range(3):
            n = self.src("s%d.py" % i, module(i))
            w.send(0, self.args(n, n, n + "c"))
            r = w.response()
            self.assertEqual(r, {"requestId": 0, "exitCode": 0})
            self.assertEqual(self.pyc(n + "c"), cli_bytes(module(i), n))

    def test_bytes_do_not_depend_on_what_the_worker_compiled_before(self):
        """rules_python's worker changes 1,599 of 2,000 .pyc after one
        module with identifier é, and interns "{" and "}" for good after
        its first json.dumps: ours gives the one-shot bytes, the command
        line's bytes, in any order."""
        mods = [self.src("h/m%d.py" % i, module(i)) for i in range(8)]
        e = self.src("h/e.py", E_ACUTE)
        b = self.src("h/braces.py", BRACES)
        want = {n: cli_bytes(module(i), n) for i, n in enumerate(mods)}
        want[e] = cli_bytes(E_ACUTE, e)
        want[b] = cli_bytes(BRACES, b)
        # one-shot: a fresh process per file
        for n in want:
            p = one_shot(self.args(n, n, "one/" + n + "c"), self.top)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(self.pyc("one/" + n + "c"), want[n], n)
        orders = [[e] + mods + [b],           # é first
                  [b] + mods[::-1] + [e],     # braces first, reversed
                  mods[:4] + [e, b] + mods[4:]]
        for k, order in enumerate(orders):
            w = self.worker()
            for i, n in enumerate(order):
                # one at a time: each request follows a response
                w.send(i + 1, self.args(n, n, "w%d/%sc" % (k, n)))
                self.assertEqual(w.response()["exitCode"], 0)
            for n in order:
                self.assertEqual(self.pyc("w%d/%sc" % (k, n)), want[n],
                                 (k, n))
            w.close()
        # a fresh worker's first request and a later one
        for k, n in enumerate((b, mods[3])):
            w = self.worker()
            w.send(1, self.args(n, n, "first%d.pyc" % k))
            self.assertEqual(w.response()["exitCode"], 0)
            w.close()
            self.assertEqual(self.pyc("first%d.pyc" % k), want[n])

    def test_overlapping_requests_all_answered_once(self):
        w = self.worker()
        n = 24
        names = [self.src("o/m%d.py" % i, module(i)) for i in range(n)]
        for i, name in enumerate(names):
            w.send(100 + i, self.args(name, name, name + "c"))
        got = w.responses(n)
        self.assertEqual(sorted(r["requestId"] for r in got),
                         list(range(100, 100 + n)))
        self.assertTrue(all(r["exitCode"] == 0 for r in got), got)
        self.assertTrue(w.no_more())
        for i, name in enumerate(names):
            self.assertEqual(self.pyc(name + "c"), cli_bytes(module(i), name))

    def test_requests_with_or_without_separators(self):
        w = self.worker()
        s = self.src("a.py", module(1))
        req = lambda i: json.dumps({"requestId": i, "arguments":  # noqa
                                    self.args(s, s, "a%d.pyc" % i)})
        w.send_raw((req(1) + req(2) + "\n" + req(3) + "\r\n\t " +
                    json.dumps(json.loads(req(4)), indent=2)).encode())
        got = w.responses(4)
        self.assertEqual(sorted(r["requestId"] for r in got), [1, 2, 3, 4])
        for i in range(1, 5):
            self.assertEqual(self.pyc("a%d.pyc" % i), cli_bytes(module(1),
                                                               s))

    def test_fields_as_protobuf_writes_them(self):
        w = self.worker()
        s = self.src("a.py", module(2))
        # unknown fields ignored, proto names accepted, inputs with
        # base64 digests, verbosity, escapes Bazel's printer makes (=, <)
        args = self.args(s, s, "a.pyc")
        w.send_raw(json.dumps({
            "arguments": args, "inputs": [{"path": s, "digest": "q83v"}],
            "request_id": "7", "verbosity": 10, "futureField": {"x": [1]},
        }).replace("=", "\\u003d").encode())
        r = w.response()
        self.assertEqual(r, {"requestId": 7, "exitCode": 0})
        self.assertEqual(self.pyc("a.pyc"), cli_bytes(module(2), s))
        rc, err = w.close()
        self.assertEqual(rc, 0)
        self.assertIn("request 7: 1 file(s), exit 0", err)

    def test_startup_arguments_come_first(self):
        w = self.worker(startup=["--invalidation_mode", "unchecked_hash"])
        s = self.src("a.py", module(3))
        w.send(1, ["--python_version", PYVER] + triple(s, s, "a.pyc"))
        self.assertEqual(w.response()["exitCode"], 0)
        self.assertEqual(self.pyc("a.pyc"),
                         cli_bytes(module(3), s, 0, "unchecked-hash"))

    def test_sandbox_dir_is_prefixed_onto_relative_paths(self):
        w = self.worker()
        sb = "__sandbox/3/_main"
        write(os.path.join(self.top, sb, "pkg/a.py"), BRACES)
        write(os.path.join(self.top, sb, "a.params"),
              "\n".join(self.args("pkg/a.py", "pkg/a.py",
                                  "bazel-out/bin/pkg/a.pyc")) + "\n")
        w.send(1, ["@a.params"], sandboxDir=sb)
        self.assertEqual(w.response(), {"requestId": 1, "exitCode": 0})
        self.assertEqual(self.pyc(sb + "/bazel-out/bin/pkg/a.pyc"),
                         cli_bytes(BRACES, "pkg/a.py"))
        self.assertFalse(os.path.exists(os.path.join(self.top, "bazel-out")))
        # an absolute path stays as it is
        absrc = os.path.join(self.top, "abs.py")
        write(absrc, "X = 2\n")
        w.send(2, self.args(absrc, "abs.py", "abs.pyc"), sandboxDir=sb)
        self.assertEqual(w.response()["exitCode"], 0)
        self.assertEqual(self.pyc(sb + "/abs.pyc"), cli_bytes("X = 2\n",
                                                              "abs.py"))

    def test_bad_requests_are_answered_and_the_worker_goes_on(self):
        w = self.worker()
        good = self.src("good.py", module(4))
        bad = self.src("bad.py", "def f(:\n")
        write(os.path.join(self.top, "afile"), "x")
        cases = [
            (1, self.args("missing.py", "missing.py", "m.pyc"), 1,
             "missing.py"),
            (2, self.args(bad, "lib/bad.py", "bad.pyc"), 1, "SyntaxError"),
            (3, self.args(good, good, "afile/x.pyc"), 1, "afile"),
            (4, self.args(good, good, "v.pyc", version="2.7"), 2,
             "CPython 2.7"),
            (5, ["--bogus"], 2, "'--bogus'"),
            (6, [], 2, "nothing to compile"),
            (7, triple(good, good, "x.pyc")[:4], 2, "mismatched"),
            (8, ["@nope.params"], 2, "nope.params"),
        ]
        for rid, args, code, what in cases:
            w.send(rid, args)
        # arguments that are not a list of strings
        w.send_raw(b'{"requestId":9,"arguments":"--src"}')
        w.send_raw(b'{"requestId":10,"arguments":["--src",5]}')
        w.send_raw(b'{"requestId":11,"arguments":["a\\u0000b"]}')
        w.send_raw(b'{"requestId":12,"arguments":[],"sandboxDir":7}')
        w.send(13, self.args(good, good, "good.pyc"))
        got = {r["requestId"]: r for r in w.responses(13)}
        for rid, _, code, what in cases:
            with self.subTest(rid=rid):
                self.assertEqual(got[rid]["exitCode"], code, got[rid])
                self.assertIn(what, got[rid]["output"])
        for rid in (9, 10, 11, 12):
            self.assertEqual(got[rid]["exitCode"], 2, got[rid])
            self.assertIn("bad WorkRequest", got[rid]["output"])
        self.assertEqual(got[13], {"requestId": 13, "exitCode": 0})
        self.assertEqual(self.pyc("good.pyc"), cli_bytes(module(4), good))
        for f in ("m.pyc", "bad.pyc", "v.pyc", "x.pyc"):
            self.assertFalse(os.path.exists(os.path.join(self.top, f)), f)
        rc, err = w.close()
        self.assertEqual(rc, 0, err)

    def test_output_is_valid_json_whatever_the_message(self):
        w = self.worker()
        # a path that is not UTF-8, with a control character and a quote,
        # from an @file (JSON itself can only carry UTF-8)
        name = b"caf\xe9-\x01\"\\.py"
        write(os.path.join(self.top, "p.params"),
              b"--src\n" + name + b"\n--src_name\nx.py\n--pyc\nx.pyc\n")
        w.send(1, ["@p.params"])
        r = w.response()
        self.assertEqual(r["exitCode"], 1)
        self.assertIn("caf\ufffd-\x01\"\\.py", r["output"])

    def test_syntax_warnings_stay_off_stdout(self):
        w = self.worker()
        s = self.src("w.py", 'X = "\\d"\nassert (X, "msg")\n')
        w.send(1, self.args(s, s, "w.pyc"))
        self.assertEqual(w.response(), {"requestId": 1, "exitCode": 0})
        rc, err = w.close()
        self.assertEqual(rc, 0)
        self.assertEqual(len(w.raw), 1)
        self.assertIn("w.py", err)


def slow_source():
    """A source that takes a server a good while to compile."""
    return "X = [\n" + "    1,\n" * 300000 + "]\n"


class TestCancel(Base):
    def test_cancel_of_an_unknown_or_finished_request_is_ignored(self):
        w = self.worker()
        s = self.src("a.py", module(1))
        w.send(1, self.args(s, s, "a.pyc"))
        self.assertEqual(w.response()["exitCode"], 0)
        w.cancel(1)
        w.cancel(99)
        w.send(2, self.args(s, s, "b.pyc"))
        self.assertEqual(w.response(), {"requestId": 2, "exitCode": 0})
        self.assertTrue(w.no_more())

    def held_worker(self):
        """A worker whose compile server holds a source with GATE in it
        until self.release(): a request is in flight for as long as a test
        needs, with no timing guess (which valgrind or a loaded machine
        defeats)."""
        self.gate = os.path.join(self.top, "go")
        srv = fake_servers.make(os.path.join(self.top, "srv"),
                                fake_servers.real_server(BIN, PYVER),
                                "gate:" + self.gate)
        w = self.worker(env={"PYCOMPILE_REPRO_SERVER_DIR": srv})
        return w, self.src("held.py", "# GATE\nX = 1\n")

    def until_held(self):
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(self.gate + ".held"):
            self.assertLess(time.monotonic(), deadline, "nothing was held")
            time.sleep(0.01)

    def release(self):
        open(self.gate, "w").close()

    def test_a_queued_request_is_cancelled_and_never_written(self):
        w, held = self.held_worker()
        s = self.src("a.py", module(1))
        w.send(1, self.args(held, held, "held.pyc"))
        self.until_held()  # request 1 is compiling
        w.send(2, self.args(s, s, "a.pyc"))
        w.cancel(2)
        self.assertEqual(w.response(), {"requestId": 2, "wasCancelled": True})
        self.release()
        self.assertEqual(w.response(), {"requestId": 1, "exitCode": 0})
        self.assertTrue(w.no_more())
        self.assertFalse(os.path.exists(os.path.join(self.top, "a.pyc")))
        self.assertTrue(os.path.exists(os.path.join(self.top, "held.pyc")))

    def test_a_running_request_is_answered_once(self):
        w, held = self.held_worker()
        w.send(1, self.args(held, held, "held.pyc"))
        self.until_held()
        w.cancel(1)
        w.cancel(1)
        self.release()
        r = w.response()
        self.assertEqual(r, {"requestId": 1, "wasCancelled": True})
        self.assertTrue(w.no_more())


class TestWorkerEnds(Base):
    def ends_with(self, data, what, status=2):
        w = self.worker()
        s = self.src("a.py", module(1))
        w.send(1, self.args(s, s, "a.pyc"))
        self.assertEqual(w.response()["exitCode"], 0)
        w.send_raw(data)
        rc = w.proc.wait(timeout=TIMEOUT)
        rc2, err = w.close()
        self.assertEqual(rc, status, err)
        self.assertIn(what, err)
        self.assertEqual(len(w.raw), 1, w.raw)
        return err

    def test_malformed_json_ends_the_worker(self):
        cases = [
            (b'{"requestId": 2, "arguments": [}', "malformed JSON"),
            (b'{"requestId": 2,}', "malformed JSON"),
            (b'{"requestId": 02}', "leading zero"),
            (b'{"a": "\xff"}', "not UTF-8"),
            (b'{"a": "\xc0\xaf"}', "not UTF-8"),
            (b'{"a": "\\ud800"}', "surrogate"),
            (b'{"a": "\\udc00"}', "surrogate"),
            (b'{"a": "\\x"}', "escape"),
            (b'{"a": "tab\there"}', "control character"),
            (b'{"a": tru}', "unknown word"),
            (b'{"a": 1e}', "exponent"),
            (b"[" * 100 + b"]" * 100, "nested"),
            (b"@nonsense", "starts no value"),
            (b"nonsense", "unknown word"),
            (b'["an array"]', "not a JSON object"),
            (b'{"requestId": 1.5}', "requestId"),
            (b'{"requestId": 4294967296}', "requestId"),
            (b'{"requestId": "x"}', "requestId"),
            (b'{"requestId": 3, "cancel": "yes"}', "cancel"),
        ]
        for data, what in cases:
            with self.subTest(data=data):
                self.ends_with(data, what)

    def test_a_value_cut_short_by_the_end_of_input(self):
        w = self.worker()
        w.send_raw(b'{"requestId": 2, "argu')
        rc, err = w.close()
        self.assertEqual(rc, 2, err)
        self.assertIn("malformed JSON", err)
        self.assertIn("ends inside a value", err)
        self.assertEqual(w.raw, [])

    def test_closed_stdin_ends_the_worker(self):
        w = self.worker()
        rc, err = w.close()
        self.assertEqual(rc, 0)
        self.assertIn("standard input closed", err)
        self.assertEqual(w.raw, [])

    def test_requests_before_the_end_are_answered(self):
        w = self.worker()
        names = [self.src("e%d.py" % i, module(i)) for i in range(3)]
        w.send_raw(b"".join(
            json.dumps({"requestId": i + 1,
                        "arguments": self.args(n, n, n + "c")}).encode()
            for i, n in enumerate(names)))
        rc, err = w.close()
        self.assertEqual(rc, 0, err)
        got = sorted(json.loads(line)["requestId"] for line in w.raw)
        self.assertEqual(got, [1, 2, 3])
        for i, n in enumerate(names):
            self.assertEqual(self.pyc(n + "c"), cli_bytes(module(i), n))

    def test_requests_before_malformed_input_are_answered(self):
        w = self.worker()
        s = self.src("a.py", module(1))
        w.send_raw(json.dumps({"requestId": 1, "arguments":
                               self.args(s, s, "a.pyc")}).encode()
                   + b'{"requestId": 2, oops}')
        rc = w.proc.wait(timeout=TIMEOUT)
        _, err = w.close()
        self.assertEqual(rc, 2, err)
        self.assertIn("malformed JSON", err)
        self.assertEqual([json.loads(line) for line in w.raw],
                         [{"requestId": 1, "exitCode": 0}])
        self.assertEqual(self.pyc("a.pyc"), cli_bytes(module(1), s))

    def test_closed_stdin_during_a_compile_writes_the_pyc_whole(self):
        w = self.worker()
        slow = self.src("slow.py", slow_source())
        w.send(1, self.args(slow, slow, "slow.pyc"))
        time.sleep(0.2 * SLOW)
        rc, err = w.close()
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.pyc("slow.pyc"), cli_bytes(slow_source(),
                                                         slow))
        left = [f for f in os.listdir(self.top) if f not in ("slow.py",
                                                             "slow.pyc")]
        self.assertEqual(left, [])

    def test_a_value_over_64_mib_is_refused(self):
        w = self.worker()
        big = b'{"requestId": 1, "arguments": ["' + b"a" * (65 << 20)
        try:
            w.send_raw(big + b'"]}')
        except BrokenPipeError:
            pass
        rc = w.proc.wait(timeout=TIMEOUT)
        self.assertEqual(rc, 2)
        _, err = w.close()
        self.assertIn("longer than 64 MiB", err)
        self.assertEqual(w.raw, [])


if __name__ == "__main__":
    main()
