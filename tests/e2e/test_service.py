# SPDX-License-Identifier: MIT
"""The library as a long-lived service (issue 19): one handle, many runs,
servers kept warm between them and checked before they are used; what a
server that stalls, lies in its hello or sends a body that is not marshal
data gets; the cache's trust rules.  The library is loaded with ctypes
(build/libpycompile-repro.so); misbehaving servers are fake_servers.py
proxies.  Runs under /usr/bin/python3.X of the server under test."""
import ctypes
import glob
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import fake_servers  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)
from common import BIN, LIBRARY, PYVER, main, readb, tool  # noqa: E402

PCR_OK, PCR_FAIL, PCR_ENV = 0, 1, 2
VERB_COMPILE = 0
RESET_OPERANDS = 1
HASH = ["--invalidation-mode", "checked-hash"]


def load():
    so = sorted(glob.glob(LIBRARY + ".*.*.*"))
    lib = ctypes.CDLL(so[-1] if so else LIBRARY)
    lib.pcr_new.restype = ctypes.c_void_p
    lib.pcr_free.argtypes = [ctypes.c_void_p]
    lib.pcr_error_string.restype = ctypes.c_char_p
    lib.pcr_error_string.argtypes = [ctypes.c_void_p]
    for name, args in (("pcr_set_server_dir", [ctypes.c_char_p]),
                       ("pcr_add_python", [ctypes.c_char_p]),
                       ("pcr_add_operand", [ctypes.c_char_p]),
                       ("pcr_add_file", [ctypes.c_char_p] * 3),
                       ("pcr_set_invalidation", [ctypes.c_int]),
                       ("pcr_reset", [ctypes.c_uint]),
                       ("pcr_set_cache", [ctypes.c_char_p, ctypes.c_uint64]),
                       ("pcr_run", [ctypes.c_int, ctypes.c_void_p,
                                    ctypes.c_void_p])):
        f = getattr(lib, name)
        f.argtypes = [ctypes.c_void_p] + args
        f.restype = ctypes.c_int
    lib.pcr_cache_stat.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.pcr_cache_stat.restype = ctypes.c_uint64
    return lib


class Base(common.TempDirCase):
    prefix = "pcr-service-"

    def fake(self, mode, name=None):
        return fake_servers.make(os.path.join(self.top, name or "srv"),
                                 fake_servers.real_server(BIN, PYVER), mode)

    def mount_tmpfs(self, path):
        """A small tmpfs on path, unmounted after the test (a test that
        needs one to make a read-only file system is skipped without)."""
        if shutil.which("mount") is None:
            self.skipTest("no mount command here (a minimal chroot)")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "pcr",
                           path], capture_output=True).returncode:
            self.skipTest("cannot mount a tmpfs here (not root?)")
        self.addCleanup(subprocess.run, ["umount", "-l", path])

    def starts(self, log):
        if not os.path.exists(log):
            return 0
        with open(log) as f:
            return len(f.read().splitlines())

    def cli_pyc(self, source_text, rel="m.py"):
        """The .pyc the command line writes for this source (hash mode),
        given as rel."""
        d = tempfile.mkdtemp(dir=self.top)
        path = common.write(os.path.join(d, rel), source_text)
        p = tool(HASH + [rel], d)
        self.assertEqual(p.returncode, 0, p.stderr)
        return readb(pycref.cache_path(path))


class HandleBase(Base):
    """A handle of the library, loaded with ctypes, in self.p."""

    def setUp(self):
        super().setUp()
        # a sanitizer build's library needs its runtime loaded first (and
        # aborts this process when it is not)
        so = sorted(glob.glob(LIBRARY + ".*.*.*"))
        if so and (b"libasan" in readb(so[-1]) or b"libtsan" in readb(so[-1])):
            self.skipTest("a sanitizer build's library")
        self.lib = load()
        self.p = self.lib.pcr_new()
        self.assertTrue(self.p)
        self.addCleanup(self.lib.pcr_free, self.p)

    def ok(self, rc):
        self.assertEqual(rc, PCR_OK, self.lib.pcr_error_string(self.p))


class TestWarmHandle(HandleBase):
    """One handle, many runs: the servers started by the first stay."""

    def setUp(self):
        super().setUp()
        self.log = os.path.join(self.top, "starts.log")
        self.srv = self.fake("log-starts:" + self.log)
        self.old = os.getcwd()
        self.addCleanup(os.chdir, self.old)

    def run_file(self, source, pyc):
        """source compiled to pyc, recorded as m.py (as cli_pyc)"""
        self.ok(self.lib.pcr_add_file(self.p, source.encode(), b"m.py",
                                      pyc.encode()))
        self.ok(self.lib.pcr_run(self.p, VERB_COMPILE, None, None))
        self.ok(self.lib.pcr_reset(self.p, RESET_OPERANDS))

    def test_five_runs_start_one_server(self):
        self.ok(self.lib.pcr_set_server_dir(self.p, self.srv.encode()))
        self.ok(self.lib.pcr_set_invalidation(self.p, 1))  # checked-hash
        for i in range(5):
            text = "x = %d\n" % (1000 + i)
            src = self.write("s%d.py" % i, text)
            pyc = src + "c"
            self.run_file(src, pyc)
            self.assertEqual(readb(pyc), self.cli_pyc(text), i)
        self.assertEqual(self.starts(self.log), 1)

    def test_the_same_server_dir_again_keeps_them_another_restarts(self):
        self.ok(self.lib.pcr_set_server_dir(self.p, self.srv.encode()))
        src = self.write("a.py", "x = 1\n")
        self.run_file(src, src + "c")
        self.ok(self.lib.pcr_set_server_dir(self.p, self.srv.encode()))
        self.run_file(src, src + "c")
        self.assertEqual(self.starts(self.log), 1)
        other = self.fake("log-starts:" + self.log, "srv2")
        self.ok(self.lib.pcr_set_server_dir(self.p, other.encode()))
        self.run_file(src, src + "c")
        self.assertEqual(self.starts(self.log), 2)

    def test_relative_names_follow_the_working_directory_of_each_run(self):
        self.ok(self.lib.pcr_set_server_dir(self.p, self.srv.encode()))
        self.ok(self.lib.pcr_set_invalidation(self.p, 1))
        texts = {"one": "x = 'one'\n", "two": "x = 'two'\n"}
        for d, text in texts.items():
            self.write(os.path.join(d, "m.py"), text)
        for d, text in texts.items():
            os.chdir(os.path.join(self.top, d))
            self.ok(self.lib.pcr_add_operand(self.p, b"m.py"))
            self.ok(self.lib.pcr_run(self.p, VERB_COMPILE, None, None))
            self.ok(self.lib.pcr_reset(self.p, RESET_OPERANDS))
            got = readb(pycref.cache_path(os.path.join(self.top, d, "m.py")))
            self.assertEqual(got, self.cli_pyc(text), d)
        self.assertEqual(self.starts(self.log), 1)

    def test_setting_the_server_dir_twice_lists_each_server_once(self):
        self.lib.pcr_python_count.argtypes = [ctypes.c_void_p]
        for d in (self.srv, self.srv, self.fake("", "srv2")):
            self.ok(self.lib.pcr_set_server_dir(self.p, d.encode()))
            self.assertEqual(self.lib.pcr_python_count(self.p), 1, d)

    def children(self):
        """The compile servers this process started (its children)."""
        me = os.getpid()
        out = []
        for task in os.listdir("/proc/%d/task" % me):
            try:  # a thread (the one that freed the handle) may be gone
                with open("/proc/%d/task/%s/children" % (me, task)) as f:
                    out += [int(x) for x in f.read().split()]
            except FileNotFoundError:
                continue
        return out

    def test_a_server_killed_between_runs_is_replaced_quietly(self):
        """(a Ctrl-C meant for a REPL reaches the servers too)"""
        self.ok(self.lib.pcr_set_server_dir(self.p, self.srv.encode()))
        self.lib.pcr_set_workers.argtypes = [ctypes.c_void_p, ctypes.c_int]
        for workers in (1, 3):
            self.ok(self.lib.pcr_set_workers(self.p, workers))
            srcs = [self.write("w%d/m%d.py" % (workers, i), "x = %d\n" % i)
                    for i in range(6)]
            for src in srcs:
                self.ok(self.lib.pcr_add_file(self.p, src.encode(), None,
                                              None))
            self.ok(self.lib.pcr_run(self.p, VERB_COMPILE, None, None))
            kids = self.children()
            self.assertTrue(kids)
            for pid in kids:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
            for src in srcs:
                os.unlink(pycref.cache_path(src))
            self.ok(self.lib.pcr_run(self.p, VERB_COMPILE, None, None))
            self.ok(self.lib.pcr_reset(self.p, RESET_OPERANDS))
            for src in srcs:
                self.assertTrue(os.path.exists(pycref.cache_path(src)), src)

    def test_a_server_upgraded_between_runs_is_taken_as_it_is(self):
        marker = os.path.join(self.top, "upgraded")
        srv = self.fake("upgraded-if:" + marker, "srv-up")
        self.ok(self.lib.pcr_set_server_dir(self.p, srv.encode()))
        self.lib.pcr_set_flag.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                          ctypes.c_int]
        self.ok(self.lib.pcr_set_flag(self.p, 1, 1))  # force: compile
        src = self.write("a.py", "x = 1\n")
        self.run_file(src, src + "c")
        open(marker, "w").close()  # the package manager upgrades it
        self.lib.pcr_set_memory_limit.argtypes = [ctypes.c_void_p,
                                                  ctypes.c_uint64]
        self.ok(self.lib.pcr_set_memory_limit(self.p, 512 << 20))  # restart
        self.run_file(src, src + "c")
        self.run_file(src, src + "c")

    def test_freeing_a_handle_never_waits_for_a_server_forever(self):
        srv = self.fake("linger", "srv-linger")
        q = self.lib.pcr_new()
        self.ok(self.lib.pcr_set_server_dir(q, srv.encode()))
        src = self.write("a.py", "x = 1\n")
        self.assertEqual(self.lib.pcr_add_file(q, src.encode(), None, None),
                         PCR_OK)
        self.assertEqual(self.lib.pcr_run(q, VERB_COMPILE, None, None),
                         PCR_OK)
        t = threading.Thread(target=self.lib.pcr_free, args=(q,),
                             daemon=True)
        t.start()
        t.join(10)
        alive = t.is_alive()
        if alive:  # let the test end: the server goes, pcr_free returns
            for pid in self.children():
                os.kill(pid, signal.SIGKILL)
            t.join(10)
        self.assertFalse(alive, "pcr_free still waiting after 10 s")
        self.assertEqual(self.children(), [])

    def test_servers_hold_none_of_the_callers_descriptors(self):
        r, w = os.pipe()
        os.set_inheritable(w, True)  # as a careless caller leaves it
        self.ok(self.lib.pcr_set_server_dir(self.p, self.srv.encode()))
        src = self.write("a.py", "x = 1\n")
        self.run_file(src, src + "c")
        os.close(w)
        ready = select.select([r], [], [], 5)[0]
        self.assertTrue(ready, "the pipe's writer is still open somewhere")
        self.assertEqual(os.read(r, 1), b"")
        os.close(r)

    def test_the_callback_cannot_change_the_running_handle(self):
        lib = self.lib
        self.ok(lib.pcr_set_server_dir(self.p, self.srv.encode()))
        got = []
        CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)

        @CB
        def cb(user, ev):
            got.append(lib.pcr_reset(self.p, RESET_OPERANDS))
            got.append(lib.pcr_run(self.p, VERB_COMPILE, None, None))

        src = self.write("a.py", "x = 1\n")
        self.ok(lib.pcr_add_file(self.p, src.encode(), None, None))
        self.ok(lib.pcr_run(self.p, VERB_COMPILE, cb, None))
        self.assertTrue(got)
        self.assertEqual(set(got), {PCR_ENV})
        self.assertTrue(os.path.exists(pycref.cache_path(src)))

    def test_a_relative_server_dir_still_works_after_chdir(self):
        lib = self.lib
        os.chdir(os.path.dirname(self.srv))
        self.ok(lib.pcr_set_server_dir(self.p,
                                       os.path.basename(self.srv).encode()))
        src = self.write("a.py", "x = 1\n")
        self.run_file(src, src + "c")
        os.chdir("/")
        lib.pcr_set_memory_limit.argtypes = [ctypes.c_void_p, ctypes.c_uint64]
        self.ok(lib.pcr_set_memory_limit(self.p, 512 << 20))  # a new server
        self.run_file(src, src + "c")

    def test_no_server_yet_then_one_installed(self):
        lib = self.lib
        d = os.path.join(self.top, "later")
        os.mkdir(d)
        self.ok(lib.pcr_set_server_dir(self.p, d.encode()))
        src = self.write("a.py", "x = 1\n")
        self.ok(lib.pcr_add_file(self.p, src.encode(), None, None))
        self.assertEqual(lib.pcr_run(self.p, VERB_COMPILE, None, None),
                         PCR_ENV)
        os.symlink(fake_servers.real_server(BIN, PYVER),
                   os.path.join(d, "cpython-" + PYVER))
        self.ok(lib.pcr_set_server_dir(self.p, d.encode()))
        self.ok(lib.pcr_run(self.p, VERB_COMPILE, None, None))

    def test_a_removed_working_directory_is_trouble_not_a_guess(self):
        self.ok(self.lib.pcr_set_server_dir(self.p, self.srv.encode()))
        src = self.write("a.py", "x = 1\n")
        gone = os.path.join(self.top, "gone")
        os.mkdir(gone)
        os.chdir(gone)
        os.rmdir(gone)
        self.ok(self.lib.pcr_add_file(self.p, src.encode(), None, None))
        self.assertEqual(self.lib.pcr_run(self.p, VERB_COMPILE, None, None),
                         PCR_ENV)
        self.assertIn(b"working directory",
                      self.lib.pcr_error_string(self.p))

    def test_null_arguments_are_errors_not_crashes(self):
        lib = self.lib
        self.assertEqual(lib.pcr_add_file(self.p, None, None, None), PCR_ENV)
        self.assertEqual(lib.pcr_add_operand(self.p, None), PCR_ENV)
        self.assertEqual(lib.pcr_set_server_dir(None, b"/x"), PCR_ENV)
        self.assertEqual(lib.pcr_run(None, VERB_COMPILE, None, None),
                         PCR_ENV)
        self.assertTrue(lib.pcr_error_string(None))
        lib.pcr_free(None)
        # the handle still works after them
        self.ok(lib.pcr_set_server_dir(self.p, self.srv.encode()))
        src = self.write("a.py", "x = 1\n")
        self.run_file(src, src + "c")


class TestCacheEveryRun(HandleBase):
    """One handle, many runs: the cache directory is made when missing and
    checked at the start of each run, its warnings given in each run they
    apply to.  (0.2 opened and checked it once per handle: after rm -rf
    every store failed, unsaid, for the handle's life; a directory made
    writable by others was still used; a refusal lasted though its cause
    was gone; the read-only warning came in the first run only.)"""

    EV_WARNING = 4
    COUNTERS = ("hits", "misses", "written", "errors")

    def setUp(self):
        super().setUp()
        lib = self.lib
        lib.pcr_event_kind.argtypes = [ctypes.c_void_p]
        lib.pcr_event_message.argtypes = [ctypes.c_void_p]
        lib.pcr_event_message.restype = ctypes.c_char_p
        self.warnings = []

        def collect(user, ev):
            if lib.pcr_event_kind(ev) == self.EV_WARNING:
                self.warnings.append(lib.pcr_event_message(ev).decode())
        self.cb = ctypes.CFUNCTYPE(None, ctypes.c_void_p,
                                   ctypes.c_void_p)(collect)
        self.ok(lib.pcr_set_server_dir(self.p, common.SERVER_DIR.encode()))
        self.ok(lib.pcr_set_invalidation(self.p, 1))  # checked-hash
        self.src = self.write("m.py", "x = 'every run'\n")
        self.ok(lib.pcr_add_operand(self.p, self.src.encode()))
        self.cache = os.path.join(self.top, "cache")
        self.use(self.cache)

    def use(self, cache):
        self.ok(self.lib.pcr_set_cache(self.p, cache.encode(), 0))

    def run_once(self):
        """A run (the .pyc removed first): its cache counters, and its
        warnings."""
        shutil.rmtree(os.path.join(self.top, "__pycache__"), True)
        self.warnings = []
        self.ok(self.lib.pcr_run(self.p, VERB_COMPILE, self.cb, None))
        got = {n: self.lib.pcr_cache_stat(self.p, i)
               for i, n in enumerate(self.COUNTERS)}
        return got, self.warnings

    def entries(self, cache=None):
        return [f for _, _, fs in os.walk(cache or self.cache) for f in fs]

    def test_a_removed_cache_is_made_again(self):
        self.assertEqual(self.run_once()[0]["written"], 1)
        shutil.rmtree(self.cache)
        for _ in range(2):
            st, warnings = self.run_once()
            self.assertEqual((st["written"], st["errors"], warnings),
                             (1 - _, 0, []))
            self.assertEqual(len(self.entries()), 1)

    def test_a_cache_made_writable_by_others_is_refused_from_then_on(self):
        self.assertEqual(self.run_once()[0]["written"], 1)
        os.chmod(self.cache, 0o777)
        for _ in range(2):
            st, warnings = self.run_once()
            self.assertEqual(st["hits"], 0)
            self.assertEqual(len(warnings), 1, warnings)
            self.assertIn("no cache used in this run", warnings[0])
            self.assertIn("writable by others", warnings[0])
        os.chmod(self.cache, 0o700)
        self.assertEqual(self.run_once(), (dict(hits=1, misses=0, written=0,
                                                errors=0), []))

    def test_a_refusal_lasts_one_run(self):
        with open(self.cache, "w"):
            pass
        st, warnings = self.run_once()
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("is not a directory", warnings[0])
        os.unlink(self.cache)
        os.mkdir(self.cache, 0o700)
        st, warnings = self.run_once()
        self.assertEqual((st["written"], warnings), (1, []))

    def test_a_symlink_is_refused_as_a_symlink(self):
        real = os.path.join(self.top, "real")
        os.mkdir(real, 0o700)
        link = os.path.join(self.top, "link")
        os.symlink(real, link)
        self.use(link)
        st, warnings = self.run_once()
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("no cache used in this run", warnings[0])
        self.assertIn("is a symlink", warnings[0])
        self.assertEqual(self.entries(real), [])

    def test_the_read_only_warning_is_given_in_every_run(self):
        os.makedirs(self.cache)
        self.mount_tmpfs(self.cache)
        os.chmod(self.cache, 0o700)
        self.assertEqual(self.run_once(), (dict(hits=0, misses=1, written=1,
                                                errors=0), []))
        subprocess.run(["mount", "-o", "remount,ro", self.cache], check=True)
        for _ in range(2):
            st, warnings = self.run_once()
            self.assertEqual(st["hits"], 1)
            self.assertEqual(len(warnings), 1, warnings)
            self.assertIn("read-only", warnings[0])


class TestCacheRecordOnOneHandle(HandleBase):
    """The cache's record of what a server is, on a long-lived handle: a
    record a real hello disagreed with is trusted by no later run of the
    handle (they ask the server)."""

    COUNTERS = TestCacheEveryRun.COUNTERS

    def setUp(self):
        super().setUp()
        lib = self.lib
        self.log = os.path.join(self.top, "starts.log")
        self.marker = os.path.join(self.top, "upgraded")
        self.srv = self.fake("log-starts:%s+upgraded-if:%s"
                             % (self.log, self.marker))
        self.ok(lib.pcr_set_server_dir(self.p, self.srv.encode()))
        self.ok(lib.pcr_set_invalidation(self.p, 1))  # checked-hash
        self.src = self.write("m.py", "x = 'every run'\n")
        self.ok(lib.pcr_add_operand(self.p, self.src.encode()))
        self.cache = os.path.join(self.top, "cache")
        self.ok(lib.pcr_set_cache(self.p, self.cache.encode(), 0))

    def run_once(self):
        """A run (the .pyc removed first): its cache counters."""
        shutil.rmtree(os.path.join(self.top, "__pycache__"), True)
        self.ok(self.lib.pcr_run(self.p, VERB_COMPILE, None, None))
        return {n: self.lib.pcr_cache_stat(self.p, i)
                for i, n in enumerate(self.COUNTERS)}

    def test_a_record_found_wrong_is_not_trusted_again(self):
        # another process fills the cache, and the record of the server
        p = tool(HASH + ["--cache-dir", self.cache, "--server-dir", self.srv,
                         self.src], self.top)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.starts(self.log), 1)
        # this handle's first run: a hit, and no server (the record)
        self.assertEqual(self.run_once()["hits"], 1)
        self.assertEqual(self.starts(self.log), 1)
        # the server now says another build; a miss makes it speak
        open(self.marker, "w").close()
        self.write("n.py", "y = 'a miss'\n")
        self.ok(self.lib.pcr_add_operand(
            self.p, os.path.join(self.top, "n.py").encode()))
        shutil.rmtree(os.path.join(self.top, "__pycache__"), True)
        rc = self.lib.pcr_run(self.p, VERB_COMPILE, None, None)
        self.assertEqual(rc, PCR_ENV)  # (the CLI's test reads the message)
        # the next runs of this handle ask the server: nothing of the old
        # build is taken, and the new build's entries serve from then on
        st = self.run_once()
        self.assertEqual((st["hits"], st["misses"]), (0, 2))
        self.assertEqual(self.starts(self.log), 3)
        self.assertTrue(os.path.exists(pycref.cache_path(self.src)))
        st = self.run_once()
        self.assertEqual((st["hits"], st["misses"]), (2, 0))
        self.assertEqual(self.starts(self.log), 3)


class TestServersChecked(Base):
    """What a server sends is checked before it is used."""

    def test_a_server_that_keeps_dying_fails_its_pool(self):
        log = os.path.join(self.top, "starts.log")
        srv = self.fake("die-on+log-starts:" + log)
        names = ["d%d.py" % i for i in range(5)]
        for n in names:
            self.write(n, "DIE = 1\n")
        p = tool(["--server-dir", srv] + names, self.top)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"keeps dying (3 times in a row", p.stderr)
        # the first server and two restarts; none after the third death
        self.assertEqual(self.starts(log), 3)

    def test_a_server_that_stops_answering_is_killed(self):
        srv = self.fake("stall-on")
        self.write("a.py", "x = 1\n")
        self.write("stuck.py", "STALL = 1\n")
        t = time.monotonic()
        p = tool(["--server-dir", srv, "a.py", "stuck.py"], self.top,
                 extra_env={"PYCOMPILE_REPRO_STALL_SECONDS": "1"})
        took = time.monotonic() - t
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"stuck.py: the compile server ", p.stderr)
        self.assertIn(b"stopped answering", p.stderr)
        self.assertLess(took, 30)
        self.assertTrue(os.path.exists(pycref.cache_path(
            os.path.join(self.top, "a.py"))))
        self.assertFalse(os.path.exists(pycref.cache_path(
            os.path.join(self.top, "stuck.py"))))

    def test_a_server_that_never_says_hello_is_trouble(self):
        self.write("a.py", "x = 1\n")
        p = tool(["--server-dir", self.fake("stall-hello"), "a.py"],
                 self.top, extra_env={"PYCOMPILE_REPRO_STALL_SECONDS": "1"})
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"stopped answering", p.stderr)

    def test_a_hello_with_another_series_magic_is_refused(self):
        self.write("a.py", "x = 1\n")
        p = tool(["--server-dir", self.fake("bad-magic"), "a.py"], self.top)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"magic", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.top,
                                                     "__pycache__")))

    def test_a_body_that_is_not_marshal_data_is_never_written(self):
        self.write("a.py", "x = 1\n")
        self.write("bad.py", "BAD = 1\n")
        p = tool(["--server-dir", self.fake("bad-body"), "a.py", "bad.py"],
                 self.top)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"bad.py: the compile server", p.stderr)
        self.assertTrue(os.path.exists(pycref.cache_path(
            os.path.join(self.top, "a.py"))))
        self.assertFalse(os.path.exists(pycref.cache_path(
            os.path.join(self.top, "bad.py"))))

    def test_only_exact_server_names_count(self):
        real = fake_servers.real_server(BIN, PYVER)
        d = os.path.join(self.top, "names")
        os.mkdir(d)
        for name in ("cpython-3.011", "cpython-3.11x", "cpython-3",
                     "cpython-03.11", "cpython-3.11.1", "cpython-.11"):
            os.symlink(real, os.path.join(d, name))
        p = tool(["--server-dir", d, "--version"], self.top, explicit=False)
        self.assertNotIn(b"3.011", p.stdout + p.stderr)
        self.write("a.py", "x = 1\n")
        p = tool(["--server-dir", d, "a.py"], self.top, explicit=False)
        self.assertEqual(p.returncode, 2, p.stderr)


class TestCacheTrimming(Base):
    def test_no_memory_while_trimming_loses_nothing(self):
        """The trim's list of entries cannot grow past 1024 (realloc of
        2048 entries of 24 bytes fails): the run goes on, the heap intact.
        (0.2 doubled its capacity before the realloc and wrote past the
        block: glibc aborted, "corrupted size vs. prev_size".)"""
        if b"libasan" in readb(os.path.realpath(BIN)):
            self.skipTest("a sanitizer build: the shim cannot come first")
        shim = os.path.join(self.top, "failrealloc.so")
        if subprocess.run(["cc", "-shared", "-fPIC", "-o", shim,
                           os.path.join(HERE, "failrealloc.c"), "-ldl"],
                          capture_output=True).returncode != 0:
            self.skipTest("no C compiler")
        cache = os.path.join(self.top, "cache")
        for i in range(1500):  # in six buckets, in both layouts
            for layout in ("v1", "v2"):
                d = os.path.join(cache, layout, "%02x" % (i % 6))
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, "%062x" % i), "wb") as f:
                    f.write(b"junk")
        self.write("a.py", "x = 1\n")
        p = tool(["--cache-dir", cache, "--cache-max-size", "1G",
                  "--cache-stats", "a.py"], self.top,
                 extra_env={"LD_PRELOAD": shim,
                            "PCR_FAIL_REALLOC_AT": str(2048 * 24)})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.exists(pycref.cache_path(
            os.path.join(self.top, "a.py"))))


class TestCacheTrust(Base):
    """A cache directory is trusted as git trusts a repository."""

    def setUp(self):
        super().setUp()
        self.src = self.write("pkg/m.py", "x = 'cached'\n")
        self.cache = os.path.join(self.top, "cache")

    def compile(self, *extra):
        shutil.rmtree(os.path.join(self.top, "pkg", "__pycache__"), True)
        return tool(HASH + ["--cache-dir", self.cache, "--cache-stats"]
                    + list(extra) + ["pkg"], self.top)

    def test_another_cpython_build_never_hits(self):
        """A server that loads another libpython of the same series (say
        through LD_LIBRARY_PATH) says another sys.version in its hello;
        the key holds it, so the first build's entries are not served.
        (A real second libpython3.X build is not on this machine; the
        fake server's hello stands in for it.)"""
        self.assertEqual(self.compile().returncode, 0)
        marker = os.path.join(self.top, "other-build")
        open(marker, "w").close()
        other = self.fake("upgraded-if:" + marker, "srv-other")
        p = self.compile("--server-dir", other)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"0 hits, 1 misses, 1 written", p.stderr)
        p = self.compile()
        self.assertIn(b"1 hits", p.stderr)

    def entries(self):
        return common.cache_entries(self.cache)

    def test_an_entry_under_another_key_is_damaged(self):
        self.write("pkg/n.py", "x = 'other'\n")
        self.assertEqual(self.compile().returncode, 0)
        a, b = self.entries()
        da, db = readb(a), readb(b)
        with open(a, "wb") as f:
            f.write(db)
        with open(b, "wb") as f:
            f.write(da)
        p = self.compile()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"2 damaged", p.stderr)
        self.assertEqual(readb(pycref.cache_path(self.src)),
                         self.cli_pyc("x = 'cached'\n", "pkg/m.py"))

    def test_a_forged_entry_is_damaged(self):
        self.assertEqual(self.compile().returncode, 0)
        (e,) = self.entries()
        data = bytearray(readb(e))
        i = data.find(b"cached")
        self.assertGreater(i, 0)
        data[i:i + 6] = b"forged"
        with open(e, "wb") as f:
            f.write(data)
        p = self.compile()
        self.assertIn(b"1 damaged", p.stderr)
        self.assertNotIn(b"forged", readb(pycref.cache_path(self.src)))

    def test_a_directory_others_can_write_is_refused(self):
        os.makedirs(self.cache)
        for how in ("group-writable", "foreign-owner"):
            with self.subTest(how=how):
                if how == "group-writable":
                    os.chmod(self.cache, 0o775)
                else:
                    os.chmod(self.cache, 0o755)
                    if os.geteuid() != 0:
                        self.skipTest("needs root to give it away")
                    os.chown(self.cache, 65534, 65534)
                p = self.compile()
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn(b"cache", p.stderr)
                self.assertIn(b"no cache used in this run", p.stderr)
                self.assertEqual(self.entries(), [])
                p = self.compile("--cache-shared")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertNotIn(b"no cache used in this run", p.stderr)
                self.assertEqual(len(self.entries()), 1)
                shutil.rmtree(os.path.join(self.cache, "v2"))

    def test_a_bucket_that_is_a_symlink_is_never_followed(self):
        """In a shared cache whoever can write DIR/v2 can replace a bucket
        by a symlink to a directory of the victim's.  0.2 followed it:
        entries were read and stored there, trimming removed the old
        *.tmp files there and --cache-clear every *.tmp and every
        62-character name."""
        self.assertEqual(self.compile("--cache-shared").returncode, 0)
        (e,) = self.entries()
        bucket = os.path.dirname(e)
        victim = os.path.join(self.top, "victim")
        os.mkdir(victim)
        files = {"draft.tmp": b"precious", "x" * 62: b"precious",
                 os.path.basename(e): readb(e)}
        for name, data in files.items():
            with open(os.path.join(victim, name), "wb") as f:
                f.write(data)
        t = time.time() - 2 * 3600
        os.utime(os.path.join(victim, "draft.tmp"), (t, t))
        inodes = {f: os.stat(os.path.join(victim, f)).st_ino for f in files}
        shutil.rmtree(bucket)
        os.symlink(victim, bucket)

        def untouched():
            self.assertTrue(os.path.islink(bucket))
            self.assertEqual(sorted(os.listdir(victim)), sorted(files))
            for name, data in files.items():
                path = os.path.join(victim, name)
                self.assertEqual(readb(path), data, name)
                self.assertEqual(os.stat(path).st_ino, inodes[name], name)

        p = self.compile("--cache-shared", "--cache-max-size", "1G")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"0 hits", p.stderr)
        self.assertIn(b"not a directory", p.stderr)
        self.assertIn(b"never followed", p.stderr)
        untouched()
        self.assertEqual(readb(pycref.cache_path(self.src)),
                         self.cli_pyc("x = 'cached'\n", "pkg/m.py"))
        p = tool(["--cache-dir", self.cache, "--cache-shared",
                  "--cache-clear"], self.top)
        self.assertIn(b"never followed", p.stderr)
        untouched()

    def test_old_temporary_files_are_removed(self):
        self.assertEqual(self.compile().returncode, 0)
        (e,) = self.entries()
        old = os.path.join(os.path.dirname(e), "killed-writer.tmp")
        new = os.path.join(os.path.dirname(e), "busy-writer.tmp")
        for path in (old, new):
            with open(path, "wb") as f:
                f.write(b"half")
        t = time.time() - 2 * 3600
        os.utime(old, (t, t))
        p = self.compile("--cache-max-size", "1G")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(old))
        self.assertTrue(os.path.exists(new))

    def test_a_read_only_cache_is_read_and_said(self):
        os.makedirs(self.cache)
        self.mount_tmpfs(self.cache)
        os.chmod(self.cache, 0o755)
        self.assertEqual(self.compile().returncode, 0)
        self.assertEqual(len(self.entries()), 1)
        self.write("pkg/n.py", "x = 'new'\n")
        subprocess.run(["mount", "-o", "remount,ro", self.cache], check=True)
        p = self.compile()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"read-only", p.stderr)
        self.assertIn(b"1 hits", p.stderr)
        self.assertTrue(os.path.exists(pycref.cache_path(
            os.path.join(self.top, "pkg", "n.py"))))


if __name__ == "__main__":
    main()
