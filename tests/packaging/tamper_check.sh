#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/packaging/tamper_check.sh - pycompile-repro --check --all-packages
# on a real Debian system that never used our hooks, inside a Debian
# chroot (root; tests/distros.sh runs it in a throwaway overlay):
#
#  1. The system as the archive's packages left it (py3compile's .pyc):
#     --by-value exits 0; without it, not-canonical .pyc fail it.  Timed,
#     with the number of .pyc checked.
#  2. One installed .pyc with one constant changed (the header kept, so
#     CPython would load it): named 'different', with its package; exit 1.
#  3. One public .pyc removed: 'missing'; a stale one (source touched):
#     'stale'.
#  4. Put back: exit 0 again.
# Ends with "N passed, N failed".
set -u
export LC_ALL=C.UTF-8
src=${1:-/src/pycompile-repro}
tool=$src/build/pycompile-repro
work=/tmp/pcr-tamper
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
finish() {
    echo "tamper-check: $pass passed, $fail failed"
    echo "$pass passed, $fail failed"
    exit $((fail > 0))
}
rm -rf "$work"
mkdir -p "$work"
cd "$src" || exit 2
if ! make -s all >"$work/build.log" 2>&1; then
    tail -n 20 "$work/build.log"
    bad "make all"
    finish
fi
cd "$work" || exit 2
py=$(readlink -f /usr/bin/python3)
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-sid}")
echo "tamper-check: Debian ${codename:-sid}, $py, servers:" \
    $(ls "$src/build/libexec/pycompile-repro" | sed 's/cpython-//')

# 1. as installed
start=$(date +%s%N)
"$tool" --check --all-packages --by-value >"$work/1.out" 2>"$work/1.err"
rc=$?
end=$(date +%s%N)
cat "$work/1.err"
if [ $rc = 0 ] && [ ! -s "$work/1.out" ]; then
    ok "an untouched system passes by value"
else
    bad "an untouched system passes by value (exit $rc)"
    head -n 20 "$work/1.out"
fi
n=$(sed -n 's/.*checked \([0-9]*\) \.pyc.*/\1/p' "$work/1.err")
echo "tamper-check: $n .pyc checked in $(((end - start) / 1000000)) ms" \
    "(wall, $(nproc) CPUs)"
if [ "${n:-0}" -ge 500 ]; then
    ok "it checked the installed .pyc ($n)"
else
    bad "it checked the installed .pyc (${n:-none})"
fi
if "$tool" --check --all-packages -q >/dev/null 2>&1; then
    bad "not by value, py3compile's .pyc are not canonical: exit 1"
else
    ok "not by value, py3compile's .pyc are not canonical: exit 1"
fi

# 2. one constant changed in one installed .pyc of a public module
target=""
for pkg in python3-yaml python3-wheel python3-pygments; do
    for f in $(dpkg -L "$pkg" 2>/dev/null | grep '^/usr/lib/python3/dist-packages/.*\.py$' | sort); do
        pyc=$(python3 -I -S -c 'import importlib.util, sys; print(importlib.util.cache_from_source(sys.argv[1]))' "$f")
        if [ -f "$pyc" ] && python3 -I -S - "$pyc" <<'PY'
import marshal, sys
with open(sys.argv[1], "rb") as f:
    data = f.read()
code = marshal.loads(data[16:])
sys.exit(0 if any(type(c) is int and c not in (0, 1, -1)
                  for c in code.co_consts) else 1)
PY
        then
            target=$pyc
            owner=$pkg
            break 2
        fi
    done
done
if [ -z "$target" ]; then
    bad "an installed .pyc with an integer constant to change"
    finish
fi
cp -p "$target" "$work/saved.pyc"
python3 -I -S - "$target" <<'PY'
import marshal, sys
path = sys.argv[1]
with open(path, "rb") as f:
    data = f.read()
code = marshal.loads(data[16:])
consts = list(code.co_consts)
for i, c in enumerate(consts):
    if type(c) is int and c not in (0, 1, -1):
        consts[i] = c + 1
        print("tamper-check: %s: constant %d made %d" % (path, c, c + 1))
        break
with open(path, "wb") as f:
    f.write(data[:16] + marshal.dumps(code.replace(co_consts=tuple(consts))))
PY
touch -r "$work/saved.pyc" "$target"
"$tool" --check --all-packages --by-value >"$work/2.out" 2>"$work/2.err"
rc=$?
cat "$work/2.out"
if [ $rc = 1 ] && [ "$(wc -l <"$work/2.out")" = 1 ] &&
    grep -q "^$target: different: different code: .* \[$owner\]\$" "$work/2.out"; then
    ok "the changed .pyc is named 'different', with its package ($owner)"
else
    bad "the changed .pyc is named 'different' (exit $rc)"
fi
cp -p "$work/saved.pyc" "$target"

# 3. missing and stale
victim=$(dpkg -L python3-wheel 2>/dev/null | grep '^/usr/lib/python3/dist-packages/.*\.py$' | sort | head -n 1)
vpyc=$(python3 -I -S -c 'import importlib.util, sys; print(importlib.util.cache_from_source(sys.argv[1]))' "$victim")
if [ -f "$vpyc" ]; then
    mv "$vpyc" "$work/victim.pyc"
    "$tool" --check --all-packages --by-value >"$work/3.out" 2>&1
    rc=$?
    if [ $rc = 1 ] && grep -q "^$vpyc: missing: .*\[python3-wheel\]\$" "$work/3.out"; then
        ok "a removed public .pyc is 'missing'"
    else
        bad "a removed public .pyc is 'missing' (exit $rc)"
        head -n 5 "$work/3.out"
    fi
    mv "$work/victim.pyc" "$vpyc"
    touch -r "$victim" "$work/stamp"
    touch "$victim"
    "$tool" --check --all-packages --by-value >"$work/4.out" 2>&1
    rc=$?
    if [ $rc = 1 ] && grep -q "^$vpyc: stale: " "$work/4.out"; then
        ok "a touched source makes its .pyc 'stale'"
    else
        bad "a touched source makes its .pyc 'stale' (exit $rc)"
    fi
    touch -r "$work/stamp" "$victim"
else
    bad "python3-wheel's first module has a .pyc ($vpyc)"
fi

# 4. put back
if "$tool" --check --all-packages --by-value -q; then
    ok "put back, the system passes again"
else
    bad "put back, the system passes again"
fi
finish
