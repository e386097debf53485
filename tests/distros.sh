#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/distros.sh - build the project and run its suites (unit,
# fuzz-replay, e2e and parity, for every CPython of the distribution) in
# Debian chroots: trixie (3.13) and sid (3.14 as python3, 3.13 beside it,
# so one run uses two servers); and in bookworm, trixie and sid the
# packaging test of a real Debian package (tests/packaging/deb_system.sh),
# in sid also the RPM tests with two Python versions in one build root.
# Ends with "N passed, N failed".
#
# The chroots are made once with mmdebstrap from the Debian archive and
# kept in PCR_CHROOT_CACHE (default /var/cache/pycompile-repro/chroots,
# outside the checkout), so a second run reuses them; delete a directory
# there to make it again.  Needs root.  PCR_DISTROS chooses ("trixie sid").
set -u
cd "$(dirname "$0")/.."
top=$PWD
cache=${PCR_CHROOT_CACHE:-/var/cache/pycompile-repro/chroots}
distros=${PCR_DISTROS:-"bookworm trixie sid"}
# bookworm is this machine's own release: its suites run outside (make
# test); only the packaging test, which installs packages, runs inside
suites_in=${PCR_SUITES_IN:-"trixie sid"}
mirror=${PCR_MIRROR:-http://deb.debian.org/debian}
common=build-essential,pkg-config,libpython3-dev,python3,libarchive-dev,libssl-dev,libcriterion-dev,python3-installer,python3-wheel,python3-yaml,git,debhelper,dh-python,python3-all,libpython3-all-dev,dpkg-dev,fakeroot,lintian
total_pass=0
total_fail=0

add() {
    printf '%-34s %6d passed, %d failed\n' "$1" "$2" "$3"
    total_pass=$((total_pass + $2))
    total_fail=$((total_fail + $3))
}

if [ "$(id -u)" != 0 ]; then
    echo "tests/distros.sh needs root (mmdebstrap, chroot)" >&2
    add "distros" 0 1
    echo "$total_pass passed, $total_fail failed"
    exit 1
fi

make_chroot() { # distro dir
    local extra=""
    [ "$1" = sid ] && extra=",libpython3.13-dev,python3.13,rpm,rpm2cpio,cpio"
    rm -rf "$2.new"
    mkdir -p "$(dirname "$2")"
    # the archive's snapshots can carry an expired Release; the packages
    # are still checked against the archive's keys
    mmdebstrap --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
        --include="$common$extra" "$1" "$2.new" "$mirror" &&
        mv "$2.new" "$2"
}

for d in $distros; do
    dir=$cache/$d
    if [ ! -x "$dir/usr/bin/python3" ]; then
        echo "making the $d chroot in $dir (once) ..."
        if ! make_chroot "$d" "$dir" >"$cache.$d.log" 2>&1; then
            tail -n 20 "$cache.$d.log"
            add "$d: chroot" 0 1
            continue
        fi
    fi
    # a clean copy of the checkout (tracked files and this work tree's
    # changes, no build output)
    rm -rf "$dir/src/pycompile-repro"
    mkdir -p "$dir/src/pycompile-repro"
    git ls-files -z --cached --others --exclude-standard |
        xargs -0 tar -cf - --ignore-failed-read 2>/dev/null |
        tar -xf - -C "$dir/src/pycompile-repro"
    # /proc (the front end finds its servers through /proc/self/exe) and
    # a private /dev/pts (the progress-line tests need a terminal)
    mounted=""
    if ! mountpoint -q "$dir/proc"; then
        mount -t proc proc "$dir/proc" && mounted="$dir/proc"
    fi
    if ! mountpoint -q "$dir/dev/pts"; then
        mount -t devpts -o newinstance,ptmxmode=0666 devpts "$dir/dev/pts" &&
            mounted="$mounted $dir/dev/pts" &&
            ln -sf pts/ptmx "$dir/dev/ptmx"
    fi
    # the real-world corpora, fetched on this machine (tests/corpora.sh)
    rm -rf "$dir/src/corpora"
    corpora=""
    if tests/corpora.sh "$top/build/corpora" >/dev/null; then
        cp -r "$top/build/corpora" "$dir/src/corpora"
        corpora="/src/corpora/django /src/corpora/sympy"
    fi
    out=$(mktemp)
    in_chroot() {
        chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 CI="${CI:-}" PCR_CORPORA="$corpora" \
            /bin/bash -c "$1"
    }
    # the totals line of a suite's output, added under a name
    total_of() { # name file rc
        local line p f
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$2" | tail -n 1)
        if [ -n "$line" ]; then
            p=$(awk '{print $1}' <<<"$line")
            f=$(awk '{print $3}' <<<"$line")
        else
            p=0 f=1
            tail -n 40 "$2"
        fi
        [ "$3" != 0 ] && [ "$f" = 0 ] && f=1
        add "$1" "$p" "$f"
    }
    if [[ " $suites_in " == *" $d "* ]]; then
        in_chroot 'cd /src/pycompile-repro && make -j2 all unit >/tmp/build.log 2>&1 || { tail -n 30 /tmp/build.log; exit 1; }; make --no-print-directory test-quick' \
            >"$out" 2>&1
        rc=$?
        cp "$out" "$cache/$d.suites.log"
        grep -E '^[^ ].* [0-9]+ passed, [0-9]+ failed$|^parity: [0-9]+ source|^process-state: [a-z]' "$out" |
            grep -v '^[0-9]* passed' | sed "s/^/$d: /"
        total_of "$d: all suites" "$out" "$rc"
    fi
    # a real Debian package with the addon, installed
    in_chroot 'bash /src/pycompile-repro/tests/packaging/deb_system.sh /src/pycompile-repro' \
        >"$out" 2>&1
    rc=$?
    cp "$out" "$cache/$d.deb-system.log"
    grep -E '^(FAIL|deb-system): ' "$out" | sed "s/^/$d: /"
    total_of "$d: deb-system" "$out" "$rc"
    # RPM with two Python versions in one build root (sid has 3.13, 3.14)
    if [ "$d" = sid ]; then
        in_chroot 'apt-get install -y --no-install-recommends rpm rpm2cpio cpio >/dev/null 2>&1; cd /src/pycompile-repro && make -s all >/dev/null 2>&1 && python3 tests/packaging/test_packaging.py TestRpm' \
            >"$out" 2>&1
        rc=$?
        cp "$out" "$cache/$d.rpm.log"
        grep -E '^(FAIL|ERROR)' "$out" | sed "s/^/$d: /"
        # the suite's own totals line reads "e2e: N passed, N failed, ..."
        totals=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 passed, \2 failed/p' "$out")
        echo "$totals" >>"$out"
        total_of "$d: rpm" "$out" "$rc"
    fi
    rm -f "$out"
    # what this run mounted, and only that (lazily: an orphan may linger)
    for m in $mounted; do
        umount -l "$m"
    done
done

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ] && [ "$total_pass" -gt 0 ]
