# SPDX-License-Identifier: MIT
"""tests/pypkg/shim.py - behind python-shim, which stands in for
sys.executable while CPython's test_py_compile and test_compileall run
against pycompile_repro: runs the same interpreter ($PCR_SHIM_PYTHON)
with the same arguments, except that "-m py_compile" and "-m compileall"
run pycompile_repro's modules (from $PCR_SHIM_PKGDIR, put first on
sys.path even under -I or -S)."""
import os
import sys

MODULES = ("py_compile", "compileall")
BOOT = ("import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
        "runpy.run_module('pycompile_repro.' + sys.argv.pop(1), "
        "run_name='__main__', alter_sys=True)")


def main():
    real = os.environ["PCR_SHIM_PYTHON"]
    args = sys.argv[1:]
    opts = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-m" and i + 1 < len(args) and args[i + 1] in MODULES:
            os.execv(real, [real] + opts +
                     ["-c", BOOT, os.environ["PCR_SHIM_PKGDIR"],
                      args[i + 1]] + args[i + 2:])
        if a in ("-X", "-W"):
            opts += args[i:i + 2]
            i += 2
        elif a.startswith("-") and a not in ("-", "-c", "-m", "--"):
            opts.append(a)
            i += 1
        else:
            break
    os.execv(real, [real] + args)


main()
