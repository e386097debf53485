#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/corpora.sh DIR - real-world corpora for the process-state tests:
# the module trees of Debian's python3-django (many small files) and
# python3-sympy (many big ones), fetched once with apt-get download and
# unpacked into DIR/django and DIR/sympy.  Prints the directories made.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
for pkg in django sympy; do
    if [ ! -d "$pkg" ]; then
        rm -rf "x-$pkg" ./*"python3-${pkg}_"*.deb
        apt-get download -q "python3-$pkg" >/dev/null
        dpkg-deb -x ./python3-"${pkg}"_*.deb "x-$pkg"
        mv "x-$pkg/usr/lib/python3/dist-packages/$pkg" "$pkg"
        rm -rf "x-$pkg" ./python3-"${pkg}"_*.deb
    fi
    echo "$dir/$pkg"
done
