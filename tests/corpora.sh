#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/corpora.sh DIR - real-world corpora for the process-state tests:
# the module trees of Debian's python3-django (many small files) and
# python3-sympy (many big ones), fetched with apt-get download and
# unpacked into DIR/django and DIR/sympy when not there yet.  Each is
# unpacked in a private temporary directory and renamed into place, so
# an interrupted or concurrent run never leaves half a corpus.  Prints
# the directories.
set -eu
dir=$1
mkdir -p "$dir"
for pkg in django sympy; do
    if [ ! -d "$dir/$pkg" ]; then
        tmp=$(mktemp -d "$dir/.fetch-$pkg.XXXXXX")
        (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "python3-$pkg" >/dev/null &&
            dpkg-deb -x ./python3-"${pkg}"_*.deb x) || {
            rm -rf "$tmp"
            exit 1
        }
        mv -T "$tmp/x/usr/lib/python3/dist-packages/$pkg" "$dir/$pkg" 2>/dev/null ||
            [ -d "$dir/$pkg" ]
        rm -rf "$tmp"
    fi
    echo "$dir/$pkg"
done
