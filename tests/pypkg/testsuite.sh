#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/pypkg/testsuite.sh X.Y - print the directory of CPython X.Y's own
# test files (test_py_compile.py, test_compileall.py and their data) from
# Debian's libpythonX.Y-testsuite of the same version as the installed
# libpythonX.Y-stdlib, unpacked (never installed: installed, its
# deliberately broken sources would join /usr/lib/pythonX.Y, which other
# suites compile whole) into the test cache, $(t_cache_dir)/testsuite.
# The .deb is taken from /opt/pcr-testsuite when there (tests/distros.sh
# puts it in the chroots), else fetched with apt-get download.
set -eu
v=$1
cd "$(dirname "$0")/../.."
. tests/lib.sh
pkg=libpython$v-testsuite
ver=$(dpkg-query -W -f='${Version}' "libpython$v-stdlib" 2>/dev/null) || {
    echo "testsuite.sh: libpython$v-stdlib is not installed" >&2
    exit 1
}
cache=$(t_cache_dir)/testsuite
dest=$cache/${pkg}_$ver
testdir=$dest/usr/lib/python$v/test
if [ -f "$testdir/test_compileall.py" ]; then
    echo "$testdir"
    exit 0
fi
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
deb=""
for d in /opt/pcr-testsuite/"${pkg}"_*.deb; do
    if [ -f "$d" ] && [ "$(dpkg-deb -f "$d" Version)" = "$ver" ]; then
        deb=$d
    fi
done
# The archive keeps only the newest revision of a release: a machine whose
# Python is older than the archive's (a security update it has not taken)
# gets the newest revision of the same upstream version, and is told.  The
# Debian revisions of one upstream version differ by security patches; the
# two test files are upstream's.
same_upstream() {
    apt-cache madison "$pkg" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' |
        while read -r cand; do
            [ "${cand%-*}" = "${ver%-*}" ] && echo "$cand"
        done | sort -V -r | head -n 1
}
if [ -z "$deb" ]; then
    if ! (cd "$tmp" && apt-get download -q "$pkg=$ver" >&2); then
        alt=$(same_upstream)
        if [ -z "$alt" ] || ! (cd "$tmp" && apt-get download -q "$pkg=$alt" >&2); then
            echo "testsuite.sh: cannot download $pkg=$ver (nor a revision of ${ver%-*})" >&2
            exit 1
        fi
        echo "testsuite.sh: $pkg=$ver is no longer in the archive; its test files are taken from $alt (upstream ${ver%-*} too)" >&2
    fi
    deb=$(ls "$tmp"/*.deb)
fi
dpkg-deb -x "$deb" "$tmp/x"
rm -rf "$dest"
mv "$tmp/x" "$dest"
echo "$testdir"
