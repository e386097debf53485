#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/fuzz/seeds.sh DIR TOOL PYTHON - a seed corpus of real .pyc files:
# a slice of PYTHON's standard library compiled by pycompile-repro
# (canonical) and by CPython's compileall (not canonical), plus the tricky
# fixtures.
set -eu
dir=$1 tool=$2 python=$3
ver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
rm -rf "$dir" "$dir.src"
mkdir -p "$dir" "$dir.src"
for m in json email/mime collections; do
    mkdir -p "$dir.src/$m"
    cp "/usr/lib/python$ver/$m/"*.py "$dir.src/$m/"
done
cp fixtures/tricky/constants.py fixtures/tricky/latin1_cookie.py "$dir.src/"
"$tool" --python "$ver" -qq -o 0 -o 2 --invalidation-mode checked-hash \
    "$dir.src" || true
i=0
for f in $(find "$dir.src" -name '*.pyc' | sort); do
    cp "$f" "$dir/ours-$i.pyc"; i=$((i + 1))
done
find "$dir.src" -name __pycache__ -prune -exec rm -rf {} +
"$python" -I -m compileall -q --invalidation-mode timestamp "$dir.src" >/dev/null || true
for f in $(find "$dir.src" -name '*.pyc' | sort); do
    cp "$f" "$dir/cpython-$i.pyc"; i=$((i + 1))
done
rm -rf "$dir.src"
echo "seeds: $i .pyc files in $dir"
