# SPDX-License-Identifier: MIT
"""The process-state property of canonical form 2 (docs/canonical-form.md):
CPython's own .pyc of a corpus, made in processes in very different
states, all canonicalise to exactly the bytes pycompile-repro compiles.

    process_state.py --tool BIN --python X.Y CORPUS...

Run it under /usr/bin/pythonX.Y.  For each corpus (a directory), every
source is compiled (level 0, checked-hash, recorded name "corpus/REL"):
  ours  pycompile-repro -d corpus
  (a)   a fresh `python -I -S` py_compile per file
  (b)   compileall over the whole tree in one process
  (c)   one process that first imports 100+ standard modules, then for
        each file imports the module under test and compiles it
  (d)   compileall with PYTHONHASHSEED=random (and without -I)
then (a)-(d) are canonicalised with `pycompile-repro --canonicalize` and
compared byte for byte with ours.  Files CPython rejects are left out.
Prints "process-state: N passed, N failed" (one per file and scenario)
and a line per corpus with its counts.
"""
import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

STDLIB_IMPORTS = """
import abc, argparse, ast, asyncio, base64, bisect, bz2, calendar, cmd
import codecs, collections, colorsys, configparser, contextlib, copy
import csv, dataclasses, datetime, decimal, difflib, dis, email, enum
import filecmp, fnmatch, fractions, ftplib, functools, getopt, gettext
import glob, gzip, hashlib, heapq, hmac, html, html.parser, http
import http.client, imaplib, importlib, inspect, io, ipaddress
import itertools, json, keyword, linecache, locale, logging, lzma
import mailbox, mimetypes, numbers, operator, optparse, os, pathlib
import pickle, pkgutil, platform, plistlib, poplib, pprint, queue
import quopri, random, re, reprlib, sched, secrets, selectors, shelve
import shlex, shutil, signal, smtplib, socket, sqlite3, ssl, stat
import statistics, string, stringprep, struct, subprocess, symtable
import tarfile, tempfile, textwrap, threading, timeit, token, tokenize
import trace, traceback, types, typing, unicodedata, unittest, urllib
import urllib.parse, urllib.request, uuid, warnings, wave, weakref
import xml.dom.minidom, xml.etree.ElementTree, zipfile, zlib
"""

DIRTY = r"""
import importlib, os, py_compile, sys
sys.dont_write_bytecode = True
%s
root, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.dirname(root))
for line in sys.stdin.read().splitlines():
    rel = line
    name = rel[:-3].replace("/", ".")
    if name.endswith(".__init__"):
        name = name[:-9]
    for mod in (name, os.path.basename(root) + "." + name):
        try:
            importlib.import_module(mod)
            break
        except BaseException:
            pass
    try:
        py_compile.compile(os.path.join(root, rel),
                           cfile=os.path.join(out, rel + "c"),
                           dfile="corpus/" + rel, doraise=True,
                           invalidation_mode=
                           py_compile.PycInvalidationMode.CHECKED_HASH)
    except BaseException:
        pass
""" % STDLIB_IMPORTS

FRESH = r"""
import py_compile, sys
try:
    py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile=sys.argv[3],
                       doraise=True, invalidation_mode=
                       py_compile.PycInvalidationMode.CHECKED_HASH)
except py_compile.PyCompileError:
    pass
"""


def sources(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return out


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("corpora", nargs="+")
    args = ap.parse_args()
    py = "/usr/bin/python" + args.python
    work = tempfile.mkdtemp(prefix="pcr-state-")
    passed = failed = 0
    env = dict(os.environ)
    env.pop("SOURCE_DATE_EPOCH", None)
    try:
        for corpus in args.corpora:
            name = os.path.basename(os.path.normpath(corpus))
            base = os.path.join(work, name)
            tree = os.path.join(base, "corpus")
            shutil.copytree(corpus, tree, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__",
                                                          "*.pyc", "*.so"))
            rels = sources(tree)
            outs = {k: os.path.join(base, k) for k in "abcd"}
            for d in outs.values():
                os.makedirs(d)
            # ours, written as REL.pyc (-b) to compare easily
            subprocess.run([args.tool, "--python", args.python, "-qq", "-j",
                            "0", "-b", "-d", "corpus", "--invalidation-mode",
                            "checked-hash", tree], env=env)
            ours = {r: read(os.path.join(tree, r + "c")) for r in rels}
            # (a) a fresh process per file
            def fresh(rel):
                subprocess.run([py, "-I", "-S", "-c", FRESH,
                                os.path.join(tree, rel),
                                os.path.join(outs["a"], rel + "c"),
                                "corpus/" + rel], env=env,
                               capture_output=True)
            for rel in rels:
                for k in "abcd":
                    os.makedirs(os.path.dirname(os.path.join(outs[k], rel)),
                                exist_ok=True)
            with concurrent.futures.ThreadPoolExecutor(2) as ex:
                list(ex.map(fresh, rels))
            # (b) compileall in one process (legacy layout, then moved)
            btree = os.path.join(base, "btree")
            shutil.copytree(tree, btree, symlinks=True,
                            ignore=shutil.ignore_patterns(
                "*.pyc"))
            subprocess.run([py, "-I", "-m", "compileall", "-q", "-b", "-d",
                            "corpus", "--invalidation-mode", "checked-hash",
                            btree], env=env, capture_output=True)
            # (c) a process full of imports, importing each module first
            subprocess.run([py, "-I", "-c", DIRTY, tree, outs["c"]],
                           input="\n".join(rels).encode(), env=env,
                           capture_output=True, cwd=base)
            # (d) compileall with a random hash seed, not isolated
            dtree = os.path.join(base, "dtree")
            shutil.copytree(tree, dtree, symlinks=True,
                            ignore=shutil.ignore_patterns(
                "*.pyc"))
            denv = dict(env, PYTHONHASHSEED="random")
            subprocess.run([py, "-S", "-m", "compileall", "-q", "-b", "-d",
                            "corpus", "--invalidation-mode", "checked-hash",
                            dtree], env=denv, capture_output=True)
            for rel in rels:
                for k, t in (("b", btree), ("d", dtree)):
                    src = os.path.join(t, rel + "c")
                    if os.path.exists(src):
                        shutil.move(src, os.path.join(outs[k], rel + "c"))
            for k in "abcd":
                subprocess.run([args.tool, "-qq", "--canonicalize",
                                outs[k]], env=env)
            counts = {k: [0, 0, 0] for k in "abcd"}  # same, differ, none
            for rel in rels:
                want = ours[rel]
                for k in "abcd":
                    got = read(os.path.join(outs[k], rel + "c"))
                    if got is None and want is None:
                        continue  # CPython and we both reject it
                    if got is None:
                        counts[k][2] += 1
                        if k != "c":  # (c) may fail to import/compile
                            failed += 1
                            print("FAIL %s (%s): CPython wrote no .pyc"
                                  % (rel, k))
                        continue
                    if got == want:
                        counts[k][0] += 1
                        passed += 1
                    else:
                        counts[k][1] += 1
                        failed += 1
                        print("FAIL %s/%s (%s): canonicalised CPython "
                              "output differs from ours" % (name, rel, k))
            print("process-state: %s, CPython %s, %d files: %s" % (
                name, args.python, len(rels),
                "; ".join("(%s) %d equal, %d differ, %d missing"
                          % (k, *counts[k]) for k in "abcd")))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("process-state: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
