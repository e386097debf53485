#!/bin/bash
# SPDX-License-Identifier: MIT
#
# tests/packaging/deb_system.sh - the Debian hooks as a maintainer and a
# user meet them, inside a Debian chroot (root; tests/distros.sh runs it):
#
#  1. make deb from the release tarball; lintian; install our packages;
#     run their autopkgtests (autopkgtest -B ... -- null).
#  2. A real dh_python3 + pybuild package from the archive (apt-get source
#     python-idna), rebuilt with dh-sequence-pycompile-repro added.
#  3. Installed: every .pyc canonical by an independent reference
#     (tests/parity/pycref.py); --check --package exits 0, also after
#     py3compile -p, the rtinstall hooks and the rtupdate hooks (run as
#     python3's postinst runs them).  The archive's own build, byte-compiled
#     by py3compile alone, is not canonical: the check can fail.
#  4. Two installs under different umask, TZ and cwd: identical bytes; no
#     progress line or escape code on a terminal; purge leaves no
#     __pycache__.
#  5. Without the tool (the addon only recommends it): the package
#     installs with py3compile's .pyc; the tool installed afterwards makes
#     them canonical (the same bytes); removing it leaves them valid;
#     purging the package (py3clean alone) leaves nothing.
# Ends with "N passed, N failed".
set -u
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
src=${1:-/src/pycompile-repro}
work=/tmp/pcr-deb-system
pkg=python3-idna
moddir=/usr/lib/python3/dist-packages/idna
pass=0
fail=0

ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { # description command...
    local d=$1
    shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
leftovers() { # what a run (or an earlier, interrupted one) installed
    dpkg --purge python3-adtsample "$pkg" dh-pycompile-repro \
        libpycompile-repro-dev libpycompile-repro0 pycompile-repro \
        >/dev/null 2>&1
}
finish() {
    # the chroot is kept for the next run: take our packages out again
    leftovers
    rm -f /etc/apt/sources.list.d/pcr-src.list
    echo "deb-system: $pass passed, $fail failed"
    echo "$pass passed, $fail failed"
    exit $((fail > 0))
}
quiet() { # command... : output only on failure
    local log
    log=$(mktemp)
    if "$@" >"$log" 2>&1; then rm -f "$log"; return 0; fi
    tail -n 40 "$log"
    rm -f "$log"
    return 1
}

rm -rf "$work"
mkdir -p "$work"
leftovers
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-sid}")
[ -n "$codename" ] || codename=sid
pyvers=$(py3versions -i | sed 's/python//g')
echo "deb-system: Debian $codename, supported Pythons: $pyvers"

quiet apt-get update || { bad "apt-get update"; finish; }
quiet apt-get install -y --no-install-recommends debhelper dh-python \
    python3-all libpython3-all-dev dpkg-dev fakeroot lintian autopkgtest \
    ca-certificates || { bad "installing the build tools"; finish; }

# 1. our packages
cd "$src" || exit 2
if quiet make deb; then
    ok "make deb from the release tarball, lintian without errors"
else
    bad "make deb"
    finish
fi
debs=$(ls dist/pycompile-repro_*.deb dist/dh-pycompile-repro_*.deb \
    dist/libpycompile-repro0_*.deb dist/libpycompile-repro-dev_*.deb)
check "install pycompile-repro, dh-pycompile-repro, libpycompile-repro0, -dev" \
    quiet apt-get install -y --reinstall --no-install-recommends $(printf './%s ' $debs)
for v in $pyvers; do
    check "a compile server for Python $v is installed" \
        test -x /usr/libexec/pycompile-repro/cpython-$v
done
check "autopkgtests pass (autopkgtest -B, null runner)" \
    quiet autopkgtest -B build/pkgsrc/pycompile-repro-* -- null

# 2. a real dh_python3/pybuild package, rebuilt with the addon
echo "deb-src http://deb.debian.org/debian $codename main" \
    >/etc/apt/sources.list.d/pcr-src.list
quiet apt-get update || { bad "apt-get update with deb-src"; finish; }
cd "$work" || exit 2
# The archive's source where it serves it; this machine's mirror answers
# 404 for some .orig tarballs, and then the source is assembled from the
# binary package: its modules, a setup.py, and a dh_python3/pybuild
# debian/ directory of the same name and version.
assemble_source() {
    rm -rf idna-src bin && mkdir -p idna-src/debian/source bin
    (cd bin && apt-get download "$pkg" >/dev/null 2>&1) || return 1
    dpkg-deb -x bin/${pkg}_*.deb bin/x || return 1
    local version upstream
    version=$(dpkg-deb -f bin/${pkg}_*.deb Version)
    upstream=${version%-*}
    cp -r bin/x/usr/lib/python3/dist-packages/idna idna-src/
    find idna-src -name __pycache__ -prune -exec rm -rf {} +
    cat >idna-src/setup.py <<PY
from setuptools import setup
setup(name="idna", version="${upstream%%+*}", packages=["idna"],
      package_data={"idna": ["py.typed"]})
PY
    echo '1.0' >idna-src/debian/source/format
    cat >idna-src/debian/control <<CTRL
Source: python-idna
Section: python
Priority: optional
Maintainer: pycompile-repro tests <tests@lists.example.org>
Build-Depends: debhelper-compat (= 13), dh-sequence-python3, dh-python,
 python3-all, python3-setuptools
Standards-Version: 4.6.2
Rules-Requires-Root: no

Package: $pkg
Architecture: all
Depends: \${python3:Depends}, \${misc:Depends}
Description: Python IDNA2008 (RFC 5891) handling (Python 3)
 Rebuilt from the binary package for pycompile-repro's tests.
CTRL
    printf '#!/usr/bin/make -f\nexport PYBUILD_NAME=idna\n%%:\n\tdh $@ --buildsystem=pybuild\n' \
        >idna-src/debian/rules
    chmod +x idna-src/debian/rules
    cat >idna-src/debian/changelog <<CL
python-idna ($version) unstable; urgency=medium

  * Assembled from the binary package for pycompile-repro's tests.

 -- pycompile-repro tests <tests@lists.example.org>  Wed, 25 Nov 2026 00:00:00 +0000
CL
    printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: Kim Davies\nLicense: BSD-3-clause\n' \
        >idna-src/debian/copyright
}
if quiet apt-get source --download-only python-idna &&
    quiet dpkg-source -x python-idna_*.dsc idna-src; then
    ok "apt-get source python-idna"
elif assemble_source; then
    ok "python-idna assembled from the binary package (apt-get source failed)"
else
    bad "python-idna: neither apt-get source nor the binary package"
    finish
fi
check "build dependencies of python-idna" \
    quiet apt-get build-dep -y --no-install-recommends ./idna-src

# The archive's build first: py3compile alone leaves non-canonical .pyc
quiet apt-get install -y --no-install-recommends "$pkg"
if pycompile-repro -q --check --python all --package "$pkg" >"$work/archive-check" 2>&1; then
    bad "the archive's $pkg (py3compile only) should not pass --check"
else
    ok "the archive's $pkg, compiled by py3compile only, fails --check: $(grep -c 'not-canonical\|different\|other-mode' "$work/archive-check") .pyc; $(tail -n 1 "$work/archive-check")"
fi

sed -i 's/^Build-Depends:/Build-Depends: dh-sequence-pycompile-repro,/' idna-src/debian/control
# as the addon's documentation asks at debhelper compat 13: the tool is
# recommended through ${misc:Recommends}
sed -i "/^Package: $pkg\$/a Recommends: \${misc:Recommends}" idna-src/debian/control
if (cd idna-src && DEB_BUILD_OPTIONS=nocheck quiet dpkg-buildpackage -us -uc -b); then
    ok "python-idna builds with dh-sequence-pycompile-repro (dh_python3, pybuild)"
else
    bad "python-idna with the addon"
    finish
fi
deb=$(ls "$work"/${pkg}_*_all.deb)
mkdir ctrl && dpkg-deb -e "$deb" ctrl
check "postinst runs py3compile, then the pycompile-repro hook" \
    bash -c "grep -n 'py3compile -p $pkg' ctrl/postinst >/dev/null &&
             grep -n 'debian-hook configure $pkg' ctrl/postinst >/dev/null &&
             [ \$(grep -n '^\s*py3compile -p' ctrl/postinst | head -n 1 | cut -d: -f1) -lt \
               \$(grep -n 'debian-hook configure' ctrl/postinst | cut -d: -f1) ]"
check "the autoscript marker names dh_pycompile_repro's version" \
    grep -q "dh_pycompile_repro/[0-9]" ctrl/postinst
check "the package registers its module directory" \
    bash -c "dpkg-deb --fsys-tarfile '$deb' | tar -xOf - ./usr/share/pycompile-repro/packages/$pkg | grep -qx 'public /usr/lib/python3/dist-packages'"
check "Recommends: pycompile-repro, and no Depends on it" \
    bash -c "dpkg-deb -f '$deb' Recommends | grep -qx pycompile-repro &&
             ! dpkg-deb -f '$deb' Depends | grep -q pycompile-repro"

canonical() { # every installed .pyc of the package canonical (pycref.py)
    find "$moddir" -name '*.pyc' -print0 | sort -z |
        xargs -0 python3 -I -S "$src/tests/parity/pycref.py" --is-canonical
}
checked() { # --check --package, for every version and the default
    pycompile-repro -q --check --package "$pkg" &&
        pycompile-repro -q --check --python all --package "$pkg"
}
hashes() {
    find "$moddir" -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum
}
pyc_count() {
    find "$moddir" -name '*.pyc' | wc -l
}

# 3. installed
cd /tmp || exit 2
check "dpkg -i the rebuilt package" quiet dpkg -i "$deb"
n=$(pyc_count)
want=$(($(find "$moddir" -name '*.py' | wc -l) * $(echo $pyvers | wc -w)))
check "one .pyc per module and supported version ($n, want $want)" \
    test "$n" = "$want"
check "every installed .pyc is canonical (independent reference)" canonical
check "--check --package exits 0 after the postinst" checked
before=$(hashes)
echo "installed .pyc: $n files, sha256 of their sha256sum list: $(echo "$before" | sha256sum | cut -c1-16)"
quiet py3compile -p "$pkg"
check "py3compile -p leaves the bytes alone" test "$before" = "$(hashes)"
check "--check --package exits 0 after py3compile" checked
for v in $pyvers; do
    for hook in /usr/share/python3/runtime.d/*.rtinstall; do
        quiet "$hook" rtinstall "python$v"
    done
done
check "the rtinstall hooks leave the bytes alone" test "$before" = "$(hashes)"
check "--check --package exits 0 after the rtinstall hooks" checked
# as python3's postinst does after a change of the default version: the
# public .pyc of the old default removed, then rtupdate, post-rtupdate
def=$(py3versions -d)
py3clean -p "$pkg"
for phase in rtupdate post-rtupdate; do
    for hook in /usr/share/python3/runtime.d/*.rtupdate; do
        [ -x "$hook" ] && quiet "$hook" "$phase" "$def" "$def"
    done
done
check "after py3clean and the rtupdate hooks: the same bytes again" \
    test "$before" = "$(hashes)"
check "--check --package exits 0 after the rtupdate hooks" checked

# 4. reproducible installs, quiet on a terminal, clean purge
# the interpreter writes .opt-1.pyc of its own (the "purge leaves files"
# report): prerm must take them too
for v in $pyvers; do
    (cd / && "python$v" -O -c 'import idna.core')
done
check "python -O wrote .opt-1.pyc to be purged" \
    test -n "$(find "$moddir" -name '*.opt-1.pyc' | head -n 1)"
check "dpkg --purge" quiet dpkg --purge "$pkg"
check "purge leaves no module directory or __pycache__ behind" \
    test ! -e "$moddir"
mkdir -p /tmp/elsewhere
# on a terminal, as apt runs maintainer scripts (python3's pty: util-linux's
# script is not in every release's minimal system)
python3 -c 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)' \
    sh -c "cd /tmp/elsewhere && umask 077 && TZ=Asia/Tokyo dpkg -i '$deb'" \
    >"$work/tty.log" 2>&1
check "install under umask 077, TZ=Asia/Tokyo, another cwd" \
    dpkg -s "$pkg" >/dev/null 2>&1
check "... gives the same bytes" test "$before" = "$(hashes)"
if grep -q $'\e\\[' "$work/tty.log" || grep -q 'files:' "$work/tty.log"; then
    bad "the postinst wrote progress or a summary on a terminal"
    cat -v "$work/tty.log" | tail -n 5
else
    ok "the postinst writes no progress line on a terminal"
fi
quiet dpkg --purge "$pkg"
check "purge leaves nothing behind (second time)" test ! -e "$moddir"

# 5. without the tool (it is only recommended): the package installs and
# keeps py3compile's .pyc; installing the tool later makes them canonical
# (its postinst compiles every registered package); purge is clean
quiet dpkg --purge dh-pycompile-repro libpycompile-repro-dev \
    libpycompile-repro0 pycompile-repro
check "without the tool: dpkg -i the rebuilt package" quiet dpkg -i "$deb"
check "... its .pyc are py3compile's (one per module and version)" \
    test "$(pyc_count)" = "$want"
if canonical >/dev/null 2>&1; then
    bad "... and not canonical (py3compile alone)"
else
    ok "... and not canonical (py3compile alone)"
fi
check "installing the tool afterwards" \
    quiet bash -c "cd '$src' && apt-get install -y --no-install-recommends $(printf './%s ' $debs)"
check "... makes them canonical: the same bytes as with the tool first" \
    test "$before" = "$(hashes)"
check "--check --package exits 0" checked
quiet dpkg --purge dh-pycompile-repro libpycompile-repro-dev \
    libpycompile-repro0 pycompile-repro
check "removing the tool leaves the .pyc, still valid" \
    test "$(pyc_count)" = "$want"
check "then purging the package (py3clean alone) leaves nothing" \
    quiet dpkg --purge "$pkg"
check "... behind" test ! -e "$moddir"
finish
