# SPDX-License-Identifier: MIT
"""End-to-end tests of the front end and its compile servers: which
version compiles what, what happens when a server dies, cannot start or
talks nonsense, the memory limit, and what the shared library exports.
Runs under /usr/bin/python3.X, the interpreter of the server under test
(PYVER)."""
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import fake_servers  # noqa: E402
import pycref  # noqa: E402  (common puts tests/parity on the path)
from common import (BIN, PYVER, SERVER_DIR, TAG, main, readb,  # noqa: E402
                    tool)

TOP = os.path.normpath(os.path.join(HERE, "..", ".."))


class Base(common.TempDirCase):
    prefix = "pcr-servers-"

    def fake(self, mode):
        return fake_servers.make(os.path.join(self.top, "srv-" + mode),
                                 fake_servers.real_server(BIN, PYVER), mode)


class TestVersions(Base):
    def test_path_under_lib_pythonXY_picks_that_version(self):
        # without --python: a file below lib/pythonX.Y/ is for X.Y
        src = self.write("root/usr/lib/python%s/m.py" % PYVER, "x = 1\n")
        p = tool(["root"], self.top, explicit=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(readb(pycref.cache_path(src)),
                         pycref.expected_pyc(src, os.path.relpath(
                             src, self.top), 0, "timestamp"))

    def test_a_version_with_no_server_fails_that_file(self):
        other = self.write("root/usr/lib/python3.99/m.py", "x = 1\n")
        ok = self.write("root/usr/lib/python%s/n.py" % PYVER, "x = 1\n")
        p = tool(["-q", "root"], self.top, explicit=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"no compile server for CPython 3.99", p.stderr)
        self.assertTrue(os.path.exists(pycref.cache_path(ok)))
        self.assertFalse(os.path.exists(os.path.join(
            os.path.dirname(other), "__pycache__")))
        # --check: a class of its own; a check that could not look fails
        # (no false green in CI) unless --allow-no-compiler says skipping
        # is fine
        p = tool(["--check", "root/usr/lib/python3.99"], self.top,
                 explicit=False)
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn(b"no-compiler", p.stdout)
        self.assertIn(b"--allow-no-compiler", p.stderr)
        p = tool(["--check", "--allow-no-compiler",
                  "root/usr/lib/python3.99"], self.top, explicit=False)
        self.assertEqual(p.returncode, 0, p.stdout)
        # allowed: counted in the summary, not listed as a problem
        self.assertEqual(p.stdout, b"")
        self.assertIn(b"no-compiler 1", p.stderr)

    def test_python_all_writes_one_pyc_per_version(self):
        src = self.write("m.py", "x = 1\n")
        p = tool(["--python", "all", "m.py"], self.top, explicit=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        tags = sorted(f.split(".")[1] for f in os.listdir(
            os.path.join(self.top, "__pycache__")))
        servers = sorted("cpython-" + f.split("-")[1].replace(".", "")
                         for f in os.listdir(SERVER_DIR))
        self.assertEqual(tags, servers)
        self.assertIn(TAG, tags)
        self.assertEqual(readb(pycref.cache_path(src)),
                         pycref.expected_pyc(src, "m.py", 0, "timestamp"))

    def test_unknown_python_is_a_usage_error(self):
        for v in ("3.99", "python3", "3"):
            with self.subTest(v=v):
                p = tool(["--python", v, "x.py"], self.top, explicit=False)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertTrue(p.stderr.startswith(b"pycompile-repro: "))

    def test_version_lists_every_server(self):
        p = tool(["--version"], self.top, explicit=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout.decode()
        self.assertIn("canonical form 2", out)
        for f in os.listdir(SERVER_DIR):
            self.assertIn(os.path.join(SERVER_DIR, f), out)
        self.assertIn(sys.version.split()[0], out)
        self.assertIn("libarchive", out)


class TestServerTrouble(Base):
    def test_a_server_that_dies_fails_only_its_file(self):
        srv = self.fake("die-on")
        names = ["a.py", "b.py", "c.py"]
        for n in names:
            self.write(n, "x = 1\n")
        self.write("bad.py", "DIE = 1\n")
        for j in ("1", "2"):
            with self.subTest(j=j):
                shutil.rmtree(os.path.join(self.top, "__pycache__"), True)
                p = tool(["--server-dir", srv, "-j", j, "-f", "a.py",
                          "bad.py", "b.py", "c.py"], self.top)
                self.assertEqual(p.returncode, 1, p.stderr)
                err = p.stderr.decode()
                self.assertIn("pycompile-repro: bad.py: the compile server "
                              "for CPython %s killed by signal 9" % PYVER,
                              err)
                self.assertEqual(err.count("pycompile-repro:"), 1, err)
                for n in names:
                    self.assertTrue(os.path.exists(pycref.cache_path(
                        os.path.join(self.top, n))), n)

    def test_a_server_that_cannot_start_is_trouble(self):
        self.write("a.py", "x = 1\n")
        for mode, said in (("no-hello", "did not start (exited with "
                                        "status 3)"),
                           ("error-hello", "cannot start: this "
                                           "installation is broken"),
                           ("garbage", "broke the protocol")):
            with self.subTest(mode=mode):
                p = tool(["--server-dir", self.fake(mode), "a.py"], self.top)
                # garbage after a good hello fails that source (exit 1),
                # naming the server; a server that cannot start, the run
                self.assertEqual(p.returncode, 1 if mode == "garbage" else 2,
                                 p.stderr)
                self.assertIn(said, p.stderr.decode())
                self.assertFalse(os.path.exists(
                    os.path.join(self.top, "__pycache__", "a.%s.pyc" % TAG)))

    def test_no_server_at_all(self):
        empty = os.path.join(self.top, "empty")
        os.mkdir(empty)
        self.write("a.py", "x = 1\n")
        p = tool(["--server-dir", empty, "a.py"], self.top, explicit=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"no compile server found", p.stderr)

    def test_memory_limit_is_that_files_failure(self):
        # a 2 MB source of additions: the compiler's AST needs far more
        # than 16 MiB
        with open(os.path.join(self.top, "big.py"), "w") as f:
            f.write("x = " + " + ".join(["1"] * 400000) + "\n")
        self.write("a.py", "x = 1\n")
        self.write("z.py", "x = 1\n")
        for j in ("1", "2"):
            with self.subTest(j=j):
                p = tool(["-j", j, "-f", "--memory-limit", "16", "a.py",
                          "big.py", "z.py"], self.top)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(b"big.py: compiling it needs more memory than "
                              b"the limit of 16 MiB", p.stderr)
                for n in ("a.py", "z.py"):
                    self.assertTrue(os.path.exists(pycref.cache_path(
                        os.path.join(self.top, n))))

    def test_the_server_is_not_for_people(self):
        server = fake_servers.real_server(BIN, PYVER)
        p = subprocess.run([server, "--nonsense"], capture_output=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"usage", p.stderr)


class TestLibrary(common.TempDirCase):
    prefix = "pcr-lazy-"

    def test_shared_library_exports_only_the_public_api(self):
        with open(os.path.join(TOP, "include", "pycompile_repro.h")) as f:
            header = f.read()
        declared = set(re.findall(r"PCR_API\s[^;(]*?\b(pcr_\w+)\s*\(",
                                  header))
        self.assertGreater(len(declared), 40)
        version = re.search(r'#define PCR_VERSION "([^"]+)"', header)[1]
        so = os.path.join(os.path.dirname(BIN),
                          "libpycompile-repro.so." + version)
        out = subprocess.run(["nm", "-D", "--defined-only", so],
                             capture_output=True, text=True,
                             check=True).stdout
        exported = {line.split()[-1] for line in out.splitlines()
                    if line.split()[1] in ("T", "D", "B", "R")}
        self.assertEqual(exported, declared)

    def test_archive_and_crypto_libraries_are_loaded_only_when_used(self):
        # linked, libarchive and libcrypto cost every start about 11 ms
        with open(os.path.join(TOP, "include", "pycompile_repro.h")) as fh:
            version = re.search(r'#define PCR_VERSION "([^"]+)"',
                                fh.read())[1]
        for f in (BIN, os.path.join(os.path.dirname(BIN),
                                    "libpycompile-repro.so." + version)):
            needed = subprocess.run(["readelf", "-d", f], capture_output=True,
                                    text=True, check=True).stdout
            self.assertNotIn("libarchive", needed, f)
            self.assertNotIn("libcrypto", needed, f)
        src = self.write("m.py", "x = 1\n")
        env = dict(os.environ, LD_DEBUG="files")
        plain = tool([src], env=env)
        self.assertEqual(plain.returncode, 0, plain.stderr[-2000:])
        self.assertNotIn(b"libarchive.so", plain.stderr)
        self.assertNotIn(b"libcrypto.so", plain.stderr)
        tar = tool(["--tar", os.path.join(self.top, "o.tar"), "-C", self.top,
                    src], env=env)
        self.assertEqual(tar.returncode, 0, tar.stderr[-2000:])
        self.assertIn(b"libarchive.so", tar.stderr)
        ver = tool(["--version"])
        self.assertEqual(ver.returncode, 0, ver.stderr)
        self.assertRegex(ver.stdout.decode(),
                         r"libarchive \d+\.\d+.*OpenSSL \d")


if __name__ == "__main__":
    main()
