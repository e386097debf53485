#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/tsan/run.sh BINARY TREE - the ThreadSanitizer test: for 2, 4 and 8
# threads, a copy of TREE per thread, the threads program over them, then
# every copy's .pyc compared with the first's.  Ends with
# "tsan: N passed, N failed".
set -u
bin=$1
tree=$2
pass=0
fail=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
for n in 2 4 8; do
    dirs=()
    for i in $(seq 1 "$n"); do
        mkdir -p "$work/$n/$i"
        cp -r "$tree" "$work/$n/$i/pkg"
        find "$work/$n/$i" -name __pycache__ -prune -exec rm -rf {} +
        # constants whose canonical form sorts sets (canonical.c order_set)
        printf '%s\n' "x = {'a', 'b', '(', '_'}" \
            "def f(v):" "    return v in {'é', '-', 'x', b'y', 3.5}" \
            >"$work/$n/$i/pkg/consts.py"
        dirs+=("$work/$n/$i/pkg")
    done
    out=$("$bin" "$n" "${dirs[@]}" 2>&1)
    rc=$?
    if [ "$rc" != 0 ]; then
        echo "$out" | tail -n 40
        echo "FAIL: $n threads (exit $rc)"
        fail=$((fail + 1))
        continue
    fi
    # the same bytes in every copy
    same=1
    ref=$(cd "${dirs[0]}" && find . -name '*.pyc' -print0 | sort -z |
        xargs -0 sha256sum)
    for d in "${dirs[@]:1}"; do
        got=$(cd "$d" && find . -name '*.pyc' -print0 | sort -z |
            xargs -0 sha256sum)
        [ "$got" = "$ref" ] || same=0
    done
    if [ "$same" = 1 ] && [ -n "$ref" ]; then
        pass=$((pass + 1))
    else
        echo "FAIL: $n threads: the copies' .pyc differ"
        fail=$((fail + 1))
    fi
done
echo "tsan: $pass passed, $fail failed"
[ "$fail" = 0 ]
