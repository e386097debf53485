# SPDX-License-Identifier: MIT
"""The content-addressed cache (--cache-dir): hits compile nothing and
start no server (the cache keeps what a server's hello said under the
identity of its files, the libpython it mapped included), damaged
entries are misses, --verify never reads it,
--check only when told to, processes share it, --cache-max-size trims the
least recently used.  Runs under /usr/bin/python3.X of the server under
test."""
import functools
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import fake_servers  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)
from common import BIN, CMD, PYVER, STDLIB, main, readb  # noqa: E402

HASH = ["--invalidation-mode", "checked-hash"]
# whole trees through the cache: a longer bound than the default
tool = functools.partial(common.tool, timeout=600)


UNITS = {"byte": 1, "bytes": 1, "KiB": 1024, "MiB": 1024 ** 2,
         "GiB": 1024 ** 3}


def stats(p):
    """The counts of the --cache-stats line; "bytes" the size (from the
    human unit it is printed in, to its precision)."""
    line = [x for x in p.stderr.decode().splitlines() if "cache:" in x][-1]
    words = line.split("cache: ")[1].replace(";", ",").split(", ")
    out = {}
    for w in words:
        n, unit = w.split()[:2]
        if n.replace(".", "").isdigit():
            if unit in UNITS:
                out["bytes"] = float(n) * UNITS[unit]
            else:
                out[unit] = float(n)
    return out


class Base(common.TempDirCase):
    prefix = "pcr-cache-"

    def setUp(self):
        super().setUp()
        self.tree = os.path.join(self.top, "json")
        shutil.copytree(os.path.join(STDLIB, "json"), self.tree,
                        ignore=shutil.ignore_patterns("__pycache__"))
        self.n = sum(f.endswith(".py") for f in os.listdir(self.tree))
        self.cache = os.path.join(self.top, "cache")

    def pycs(self):
        pc = os.path.join(self.tree, "__pycache__")
        return {f: readb(os.path.join(pc, f)) for f in sorted(os.listdir(pc))}

    def clean(self):
        shutil.rmtree(os.path.join(self.tree, "__pycache__"), True)

    def run_cached(self, *extra, env=None):
        return tool(HASH + ["-q", "--cache-dir", self.cache, "--cache-stats"]
                    + list(extra) + ["json"], self.top, env=env)


class TestCache(Base):
    def test_a_warm_cache_compiles_nothing(self):
        log = os.path.join(self.top, "starts.log")
        srv = fake_servers.make(os.path.join(self.top, "srv"),
                                fake_servers.real_server(BIN, PYVER),
                                "log-starts:" + log)
        p = self.run_cached("--server-dir", srv, "-o0", "-o1")
        self.assertEqual(p.returncode, 0, p.stderr)
        s = stats(p)
        self.assertEqual((s["hits"], s["misses"], s["written"]),
                         (0, 2 * self.n, 2 * self.n))
        first = self.pycs()
        starts = readb(log).count(b"started")
        self.assertGreater(starts, 0)
        self.clean()
        p = self.run_cached("--server-dir", srv, "-o0", "-o1")
        self.assertEqual(p.returncode, 0, p.stderr)
        s = stats(p)
        self.assertEqual((s["hits"], s["misses"]), (2 * self.n, 0))
        self.assertEqual(self.pycs(), first)
        # no server: the cache knows which CPython build the server is
        self.assertEqual(readb(log).count(b"started"), starts)
        # the bytes are what compiling gives
        for f in os.listdir(self.tree):
            if f.endswith(".py"):
                src = os.path.join(self.tree, f)
                self.assertEqual(readb(pycref.cache_path(src)),
                                 pycref.expected_pyc(src, "json/" + f))

    def warm(self, srv, log, env=None):
        """Fill the cache through srv; the starts so far."""
        for _ in range(2):
            self.clean()
            p = self.run_cached("--server-dir", srv, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(stats(p)["hits"], self.n)
        return readb(log).count(b"started")

    def test_a_changed_server_file_is_asked_again(self):
        log = os.path.join(self.top, "starts.log")
        srv = fake_servers.make(os.path.join(self.top, "srv"),
                                fake_servers.real_server(BIN, PYVER),
                                "log-starts:" + log)
        starts = self.warm(srv, log)
        self.clean()
        path = os.path.join(srv, "cpython-" + PYVER)
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
        p = self.run_cached("--server-dir", srv)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(stats(p)["hits"], self.n)
        self.assertEqual(readb(log).count(b"started"), starts + 1)

    def test_no_record_where_the_loader_is_steered(self):
        """Under LD_LIBRARY_PATH (here a copy of libpython of its own), as
        under LD_PRELOAD or LD_AUDIT, the search is too wide to key
        (glibc-hwcaps subdirectories, an empty entry for the working
        directory, $ORIGIN): every run asks the server."""
        real = fake_servers.real_server(BIN, PYVER)
        need = subprocess.run(["ldd", real], capture_output=True).stdout
        lib = [w for w in need.decode().split()
               if "/libpython%s" % PYVER in w]
        if not lib:
            self.skipTest("the server does not load a shared libpython")
        d = os.path.join(self.top, "libdir")
        os.mkdir(d)
        shutil.copy(lib[0], os.path.join(d, os.path.basename(lib[0])))
        log = os.path.join(self.top, "starts.log")
        srv = fake_servers.make(os.path.join(self.top, "srv"), real,
                                "log-starts:" + log)
        for var, value in (("LD_LIBRARY_PATH", d),
                           ("LD_LIBRARY_PATH", ":" + d),
                           ("LD_PRELOAD", ""), ("LD_AUDIT", "")):
            with self.subTest(var=var, value=value):
                shutil.rmtree(self.cache, True)
                env = dict(os.environ, **{var: value})
                starts = readb(log).count(b"started") if os.path.exists(
                    log) else 0
                self.assertEqual(self.warm(srv, log, env) - starts, 2)
        # and without: the second run starts none
        shutil.rmtree(self.cache, True)
        starts = readb(log).count(b"started")
        self.assertEqual(self.warm(srv, log) - starts, 1)

    def wrapper(self, body):
        """A server directory whose cpython-X.Y is a shell script that logs
        its start and runs body; (the directory, the log)."""
        d = os.path.join(self.top, "wrap")
        os.makedirs(d, exist_ok=True)
        log = os.path.join(self.top, "wrap-starts.log")
        path = os.path.join(d, "cpython-" + PYVER)
        with open(path, "w") as f:
            f.write("#!/bin/sh\necho started >> '%s'\n%s\n" % (log, body))
        os.chmod(path, 0o755)
        return d, log

    def test_a_wrapper_is_followed_to_the_program_it_runs(self):
        """A wrapper script as the server: the record holds only while the
        program it ran is the same file (the hello names it: an upgrade of
        that program behind an unchanged wrapper is a miss), and there is
        none when the wrapper steers the loader itself."""
        real = fake_servers.real_server(BIN, PYVER)
        prog = os.path.join(self.top, "prog")
        shutil.copy(real, prog)
        srv, log = self.wrapper('exec "%s" "$@"' % prog)
        self.assertEqual(self.warm(srv, log), 1)
        shutil.copy(real, prog + ".new")
        os.rename(prog + ".new", prog)  # as dpkg installs a file
        self.clean()
        p = self.run_cached("--server-dir", srv)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(stats(p)["hits"], self.n)
        self.assertEqual(readb(log).count(b"started"), 2)
        os.unlink(log)
        shutil.rmtree(self.cache)
        srv, log = self.wrapper('LD_LIBRARY_PATH=/nowhere exec "%s" "$@"'
                                % real)
        self.assertEqual(self.warm(srv, log), 2)

    def test_a_server_with_a_runpath_gets_no_record(self):
        """A server linked with -Wl,-rpath (a Python in /opt) searches a
        directory the record's key does not cover: it names no libpython
        in its hello, and every run asks it."""
        build = os.path.dirname(BIN)
        objs = sorted(glob.glob(os.path.join(build, "server-" + PYVER,
                                             "*.o")))
        core = os.path.join(build, "libpcr-core.a")
        cc = shutil.which("cc")
        if not objs or not cc or not os.path.exists(core):
            self.skipTest("no server objects or no C compiler here")
        d = os.path.join(self.top, "rp")
        os.makedirs(os.path.join(d, "lib"))
        relinked = os.path.join(d, "cpython-" + PYVER)
        p = subprocess.run([cc, "-o", relinked] + objs +
                           [core, "-lpython" + PYVER, "-lm",
                            "-Wl,-rpath," + os.path.join(d, "lib")],
                           capture_output=True)
        if p.returncode != 0:
            self.skipTest("cannot link a server here: %s" % p.stderr[-300:])
        log = os.path.join(self.top, "starts.log")
        srv = fake_servers.make(os.path.join(self.top, "srv"), relinked,
                                "log-starts:" + log)
        self.assertEqual(self.warm(srv, log), 2)

    def test_a_record_a_hello_disagrees_with_is_dropped(self):
        """Should a server say another build than the cache recorded for
        its files, the run stops (its hits may be of that other build), no
        .pyc of that version is written from then on, whatever server says
        so next (-j2: a sibling's hello), and the record goes: the next
        run asks the server."""
        for jobs in ("-j1", "-j2"):
            with self.subTest(jobs=jobs):
                self.disagreeing_hello(jobs)

    def disagreeing_hello(self, jobs):
        top = tempfile.mkdtemp(dir=self.top)
        log = os.path.join(top, "starts.log")
        marker = os.path.join(top, "upgraded")
        srv = fake_servers.make(os.path.join(top, "srv"),
                                fake_servers.real_server(BIN, PYVER),
                                "log-starts:%s+upgraded-if:%s" % (log, marker))
        shutil.rmtree(self.cache, True)
        self.warm(srv, log)
        open(marker, "w").close()
        self.clean()
        news = [os.path.join(self.tree, "new_module%d.py" % i)
                for i in range(4)]
        for i, new in enumerate(news):  # misses: servers start
            with open(new, "w") as f:
                f.write("x = %d\n" % i)
        p = self.run_cached("--server-dir", srv, jobs)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"not the build the cache recorded", p.stderr)
        for new in news:
            self.assertFalse(os.path.exists(pycref.cache_path(new)))
        self.clean()
        p = self.run_cached("--server-dir", srv, jobs)
        self.assertEqual(p.returncode, 0, p.stderr)
        s = stats(p)  # another build: nothing of the old one is used
        self.assertEqual((s["hits"], s["misses"]), (0, self.n + len(news)))
        for new in news:
            self.assertTrue(os.path.exists(pycref.cache_path(new)))
            os.unlink(new)

    def test_a_hit_is_not_written_again(self):
        """A hit only reads its entry (and marks it used): 0.2 stored it
        again, a temporary file and a rename per hit, "written" counting
        hits."""
        def inodes():
            return {f: os.stat(f).st_ino for f in common.cache_entries(self.cache)}
        p = self.run_cached("-o0", "-o1")
        self.assertEqual(p.returncode, 0, p.stderr)
        before = inodes()
        self.assertEqual(len(before), 2 * self.n)
        self.clean()
        p = self.run_cached("-o0", "-o1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b" 0 written", p.stderr)
        self.assertEqual(stats(p)["hits"], 2 * self.n)
        self.assertEqual(inodes(), before)
        # a level missing from the cache: only that one is stored
        self.clean()
        p = self.run_cached("-o0", "-o2")
        s = stats(p)
        self.assertEqual((s["hits"], s["misses"], s["written"]),
                         (self.n, self.n, self.n))
        after = inodes()
        self.assertEqual({f: after[f] for f in before}, before)

    def test_the_key_holds_name_level_and_source(self):
        self.run_cached()
        self.clean()
        p = self.run_cached("-d", "/elsewhere")  # another recorded name
        self.assertEqual(stats(p)["hits"], 0)
        self.clean()
        p = self.run_cached("-o", "2")  # another level
        self.assertEqual(stats(p)["hits"], 0)
        with open(os.path.join(self.tree, "tool.py"), "a") as f:
            f.write("\n# edited\n")
        self.clean()
        p = self.run_cached()
        self.assertEqual((stats(p)["hits"], stats(p)["misses"]),
                         (self.n - 1, 1))

    def test_a_damaged_entry_is_a_miss_never_a_wrong_pyc(self):
        self.run_cached()
        want = self.pycs()
        entries = common.cache_entries(self.cache)
        self.assertEqual(len(entries), self.n)
        for i, e in enumerate(entries):
            data = bytearray(readb(e))
            if i % 3 == 0:
                data[-1] ^= 0xFF       # a flipped bit in the code
            elif i % 3 == 1:
                data = data[:len(data) // 2]  # truncated
            else:
                data[60] ^= 0x01       # in the hash area
            with open(e, "wb") as f:
                f.write(data)
        self.clean()
        p = self.run_cached()
        self.assertEqual(p.returncode, 0, p.stderr)
        s = stats(p)
        self.assertEqual((s["hits"], s["damaged"]), (0, self.n))
        self.assertEqual(self.pycs(), want)

    def test_verify_never_reads_and_check_only_when_told(self):
        self.run_cached()
        self.clean()
        p = self.run_cached("--verify")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(stats(p)["hits"], 0)
        env = dict(os.environ, PYCOMPILE_REPRO_CACHE_DIR=self.cache)
        p = tool(HASH + ["--check", "--cache-stats", "json"], self.top,
                 env=env)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertNotIn(b"cache:", p.stderr)  # the variable is not --check's
        p = tool(HASH + ["--check", "--cache-dir", self.cache,
                         "--cache-stats", "json"], self.top)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertEqual(stats(p)["hits"], self.n)
        # the variable works for compiling
        self.clean()
        p = tool(HASH + ["-q", "--cache-stats", "json"], self.top, env=env)
        self.assertEqual(stats(p)["hits"], self.n)

    def test_processes_share_it(self):
        trees = []
        for k in range(4):
            t = os.path.join(self.top, "t%d" % k)
            shutil.copytree(self.tree, os.path.join(t, "json"))
            trees.append(t)
        env = dict(os.environ)
        env.pop("SOURCE_DATE_EPOCH", None)
        procs = [subprocess.Popen(CMD + HASH + ["-q", "-f", "-d", "pkg",
                                                "--cache-dir", self.cache,
                                                "json"], cwd=t, env=env)
                 for t in trees for _ in range(2)]
        self.assertEqual([p.wait(timeout=300) for p in procs],
                         [0] * len(procs))
        first = None
        for t in trees:
            pc = os.path.join(t, "json", "__pycache__")
            got = {f: readb(os.path.join(pc, f)) for f in os.listdir(pc)}
            first = first or got
            self.assertEqual(got, first)
        temps = [f for _, _, fs in os.walk(self.cache) for f in fs
                 if f.endswith(".tmp")]
        self.assertEqual(temps, [])

    def test_max_size_trims_the_least_recently_used(self):
        self.run_cached("-o0", "-o1", "-o2")
        total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in
                    os.walk(os.path.join(self.cache, "v2")) for f in fs
                    if len(f) == 62)
        self.clean()
        self.run_cached("-o0")  # level 0 is now the most recently used
        p = self.run_cached("-o0", "--cache-max-size", str(total // 2), "-f")
        s = stats(p)
        self.assertGreater(s["trimmed"], 0)
        self.assertLessEqual(s["bytes"], total // 2)
        self.clean()
        p = self.run_cached("-o0")
        self.assertEqual(stats(p)["hits"], self.n)  # level 0 survived

    def test_a_default_limit_and_the_variable(self):
        """As ccache: a default maximum (1 GiB), stated by --help and
        --cache-stats; PYCOMPILE_REPRO_CACHE_MAX_SIZE sets another,
        --cache-max-size overrides it, 0 is no limit."""
        usage = tool(["--help"], self.top).stdout.decode()
        opt = usage[usage.index("--cache-max-size"):]
        opt = opt[:opt.index("\n  --")]
        self.assertIn("default 1G", opt)
        self.assertIn("PYCOMPILE_REPRO_CACHE_MAX_SIZE", opt)
        env = dict(os.environ)
        env.pop("PYCOMPILE_REPRO_CACHE_DIR", None)
        env.pop("PYCOMPILE_REPRO_CACHE_MAX_SIZE", None)
        p = self.run_cached("-o0", "-o1", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(stats(p)["trimmed"], 0)
        self.assertRegex(p.stderr.decode(), r"entries, \S+ \S+ of 1\.0 GiB\n")
        total = stats(p)["bytes"]
        small = dict(env, PYCOMPILE_REPRO_CACHE_MAX_SIZE="%dK"
                     % (total // 2048))
        self.clean()
        p = self.run_cached("-o0", "-o1", "-f", env=small)
        self.assertEqual(p.returncode, 0, p.stderr)
        s = stats(p)
        self.assertGreater(s["trimmed"], 0)
        self.assertLessEqual(s["bytes"], total // 2)
        # the option wins over the variable; 0: no limit
        self.clean()
        p = self.run_cached("-o0", "-o1", "-f", "--cache-max-size", "0",
                            env=small)
        s = stats(p)
        self.assertEqual(s["trimmed"], 0)
        self.assertNotIn(b" of ", p.stderr)
        self.assertGreater(s["bytes"], total // 2)
        # stated alone too
        p = tool(["--cache-stats", "--cache-dir", self.cache], self.top,
                 env=small)
        self.assertIn(b" of %d.0 KiB\n" % (total // 2048), p.stderr)
        # a value that is no size is a usage error naming the variable
        bad = dict(env, PYCOMPILE_REPRO_CACHE_MAX_SIZE="lots")
        p = self.run_cached(env=bad)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"PYCOMPILE_REPRO_CACHE_MAX_SIZE: invalid cache size "
                      b"'lots'", p.stderr)

    def test_a_copy_elsewhere_hits_only_with_the_same_recorded_name(self):
        """README: the recorded name is part of the key."""
        p = self.run_cached()
        copy = os.path.join(self.top, "copy", "json")
        shutil.copytree(self.tree, copy,
                        ignore=shutil.ignore_patterns("__pycache__"))
        p = tool(HASH + ["-q", "--cache-dir", self.cache, "--cache-stats",
                         os.path.join("copy", "json")], self.top)
        self.assertEqual(stats(p)["hits"], 0)
        for where in (self.tree, copy):
            shutil.rmtree(os.path.join(where, "__pycache__"), True)
            p = tool(HASH + ["-q", "--cache-dir", self.cache,
                             "--cache-stats", "-d", "json", where], self.top)
        self.assertEqual(stats(p)["hits"], self.n)


if __name__ == "__main__":
    main()
