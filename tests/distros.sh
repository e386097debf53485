#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/distros.sh [--prepare] - build the project and run its suites
# (unit, fuzz-replay, e2e and parity, for every CPython of the
# distribution) in Debian chroots: trixie (3.13) and sid (3.14 as python3,
# 3.13 and 3.15 beside it, so one run uses several servers); and in
# bookworm, trixie and sid the packaging test of a real Debian package
# (tests/packaging/deb_system.sh), in trixie make rpm with rpmlint 2.x
# and the RPM step on Debian's own rpm, in sid the RPM tests with two
# Python versions in one build root and the Bazel test (tests/bazel:
# sid's bazel-bootstrap running pycompile-repro-bazel as rules_python's
# precompiler).  Ends with "N passed, N failed".
#
# Each chroot is made once with mmdebstrap from the Debian archive and
# kept, pristine, in $(t_cache_dir)/chroots (tests/lib.sh:
# PYCOMPILE_REPRO_TEST_CACHE, default /var/cache/pycompile-repro).  A run
# never changes it: it works in an overlay (a new empty upper layer per
# run, removed after), so packages installed, users and files made by one
# run are gone for the next.  A chroot made for another package list, or
# left half made by an interrupted run, is made again.  With --prepare,
# only the chroots and the corpora are made (make check-all starts this
# in the background while the host suites run).  Needs root.
# PCR_DISTROS chooses ("bookworm trixie sid").
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
top=$PWD
prepare=0
[ "${1:-}" = --prepare ] && prepare=1
cache_root=$(t_cache_dir)
cache=$cache_root/chroots
distros=${PCR_DISTROS:-"bookworm trixie sid"}
# bookworm is this machine's own release: its suites run outside (make
# test); only the packaging test, which installs packages, runs inside
suites_in=${PCR_SUITES_IN:-"trixie sid"}
mirror=${PCR_MIRROR:-http://deb.debian.org/debian}
# What every chroot holds: the build and test dependencies, and what
# tests/packaging/deb_system.sh installs, so that runs download nothing
# but the source package they rebuild.
common=build-essential,pkg-config,libpython3-dev,python3,libarchive-dev,libssl-dev,libcriterion-dev,python3-installer,python3-wheel,python3-yaml,git,debhelper,dh-python,python3-all,libpython3-all-dev,dpkg-dev,fakeroot,lintian,autopkgtest,ca-certificates
# Bumped when what a chroot must hold changes in a way the list does not show.
chroot_format=3
# Debian's libpython3.X-testsuite of every CPython in the chroot, fetched
# as .deb files into /opt/pcr-testsuite (never installed: its broken test
# sources would join /usr/lib/python3.X, which the suites compile whole);
# tests/pypkg/testsuite.sh unpacks them for CPython's own tests of
# py_compile and compileall run against python/pycompile_repro.
testsuite_hook="$top/tests/pypkg/fetch-testsuites.sh \"\$1\""


packages_of() { # distro
    local extra=""
    [ "$1" = sid ] && extra=",libpython3.13-dev,python3.13,rpm,rpm2cpio,cpio,bazel-bootstrap,nginx"
    # make rpm with rpmlint 2.7, and the step on Debian's own rpm
    [ "$1" = trixie ] && extra=",rpm,rpmlint,rpm2cpio,cpio,elfutils"
    echo "$common$extra"
}

if [ "$(id -u)" != 0 ]; then
    echo "tests/distros.sh needs root (mmdebstrap, chroot, mount)" >&2
    t_add "distros" 0 1
    t_total
    exit 1
fi

mkdir -p "$cache" || {
    t_add "distros: $cache" 0 1
    t_total
    exit 1
}
# One run at a time per cache: two would make the same chroot at once.
exec 9>"$cache/.lock"
flock 9

# Everything this run mounted, innermost last; unmounted on any exit.
mounts=()
runs=()
cleanup() {
    local k
    for ((k = ${#mounts[@]} - 1; k >= 0; k--)); do
        umount -l "${mounts[$k]}" 2>/dev/null
    done
    mounts=()
    for k in "${runs[@]}"; do
        rm -rf --one-file-system "$k"
    done
    runs=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The pristine chroot of a distribution: made when missing, half made, or
# made for another package list.  0 when it is ready.
ensure_chroot() { # distro
    local d=$1 dir=$cache/$1 stamp want
    want="format $chroot_format; $d; $(packages_of "$d")"
    stamp=$dir/.pcr-chroot
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "making the $d chroot in $dir ..."
    rm -rf "$dir" "$dir.new"
    # the archive's snapshots can carry an expired Release; the packages
    # are still checked against the archive's keys
    if ! mmdebstrap --variant=apt \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --customize-hook="$testsuite_hook" \
        --include="$(packages_of "$d")" "$d" "$dir.new" "$mirror" \
        >"$cache/$d.log" 2>&1; then
        tail -n 20 "$cache/$d.log"
        rm -rf "$dir.new"
        return 1
    fi
    echo "$want" >"$dir.new/.pcr-chroot"
    mv "$dir.new" "$dir"
}

corpora_dir=$cache_root/corpora
get_corpora() {
    tests/corpora.sh "$corpora_dir" >/dev/null
}

if [ "$prepare" = 1 ]; then
    rc=0
    get_corpora || { echo "prepare: corpora failed"; rc=1; }
    for d in $distros; do
        ensure_chroot "$d" || { echo "prepare: $d chroot failed"; rc=1; }
    done
    exit $rc
fi

have_corpora=0
get_corpora && have_corpora=1

# A throwaway root over the pristine chroot: an overlay with a new upper
# layer (a copy where overlays do not work).  Sets $root.
enter_run() { # distro
    local run
    run=$(mktemp -d "$cache/run-$1.XXXXXX") || return 1
    runs+=("$run")
    mkdir -p "$run/upper" "$run/work" "$run/root"
    if mount -t overlay overlay \
        -o "lowerdir=$cache/$1,upperdir=$run/upper,workdir=$run/work" \
        "$run/root" 2>/dev/null; then
        mounts+=("$run/root")
    else
        cp -a "$cache/$1/." "$run/root/" || return 1
    fi
    root=$run/root
    # /proc (the front end finds its servers through /proc/self/exe) and
    # a private /dev/pts (the progress-line tests need a terminal)
    mount -t proc proc "$root/proc" && mounts+=("$root/proc")
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" &&
        mounts+=("$root/dev/pts") && ln -sf pts/ptmx "$root/dev/ptmx"
    # the checkout as it is (tracked files and this work tree's changes,
    # no build output)
    mkdir -p "$root/src/pycompile-repro"
    git ls-files -z --cached --others --exclude-standard |
        xargs -0 tar -cf - --ignore-failed-read 2>/dev/null |
        tar -xf - -C "$root/src/pycompile-repro"
    corpora=""
    if [ "$have_corpora" = 1 ]; then
        cp -r "$corpora_dir" "$root/src/corpora"
        corpora="/src/corpora/django /src/corpora/sympy"
    fi
}

in_chroot() { # command
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 CI="${CI:-}" PCR_CORPORA="$corpora" \
        /bin/bash -c "$1"
}

# in_chroot, its output in $out and kept as $cache/$d.LOG.log, its
# status in $rc
in_chroot_logged() { # log command
    in_chroot "$2" >"$out" 2>&1
    rc=$?
    cp "$out" "$cache/$d.$1.log"
}

# the totals line of a suite's output, added under a name
total_of() { # name file rc
    t_counts "$2" "" "$3"
    [ "$f" != 0 ] && tail -n 40 "$2"
    t_add "$1" "$p" "$f"
}

for d in $distros; do
    if ! ensure_chroot "$d"; then
        t_add "$d: chroot" 0 1
        continue
    fi
    if ! enter_run "$d"; then
        t_add "$d: overlay" 0 1
        cleanup
        continue
    fi
    out=$(mktemp)
    if [[ " $suites_in " == *" $d "* ]]; then
        in_chroot_logged suites 'cd /src/pycompile-repro && make -j2 all unit >/tmp/build.log 2>&1 || { tail -n 30 /tmp/build.log; exit 1; }; make --no-print-directory test-suites'
        grep -E '^[^ ].* [0-9]+ passed, [0-9]+ failed$|^parity: [0-9]+ source|^process-state: [a-z]' "$out" |
            grep -v '^[0-9]* passed' | sed "s/^/$d: /"
        total_of "$d: all suites" "$out" "$rc"
    fi
    # --check --all-packages on the system as the archive's packages left
    # it (before deb_system.sh installs anything of ours), then tampered
    in_chroot_logged tamper 'bash /src/pycompile-repro/tests/packaging/tamper_check.sh /src/pycompile-repro'
    grep -E '^(FAIL|tamper-check): ' "$out" | sed "s/^/$d: /"
    total_of "$d: tamper check" "$out" "$rc"
    # a real Debian package with the addon, installed
    in_chroot_logged deb-system 'bash /src/pycompile-repro/tests/packaging/deb_system.sh /src/pycompile-repro'
    grep -E '^(FAIL|deb-system): ' "$out" | sed "s/^/$d: /"
    total_of "$d: deb-system" "$out" "$rc"
    # make rpm passes rpmlint 2.x; the step on Debian's rpm (macro order)
    if [ "$d" = trixie ]; then
        in_chroot_logged rpm 'cd /src/pycompile-repro && make -s all >/dev/null 2>&1 && python3 tests/packaging/test_packaging.py TestPackagesOfTheTool.test_make_rpm TestDebianRpm'
        grep -E '^(FAIL|ERROR)' "$out" | sed "s/^/$d: /"
        t_counts "$out" e2e: "$rc"
        [ "$f" != 0 ] && tail -n 40 "$out"
        t_add "$d: rpm (rpmlint, Debian's rpm)" "$p" "$f"
    fi
    # a real Bazel (sid's bazel-bootstrap, offline) running
    # pycompile-repro-bazel as rules_python runs its precompiler
    if [ "$d" = sid ]; then
        in_chroot_logged bazel 'cd /src/pycompile-repro && bash tests/bazel/bazel_test.sh'
        grep -E '^bazel: [^:]* \([0-9.]+s\) |^bazel: [0-9.]+ s in all' "$out" |
            sed -E "s/^/$d: /; s/ +[0-9]+ passed, [0-9]+ failed$//"
        total_of "$d: bazel" "$out" "$rc"
    fi
    # RPM with two Python versions in one build root (sid has 3.13, 3.14)
    if [ "$d" = sid ]; then
        in_chroot_logged rpm 'cd /src/pycompile-repro && make -s all >/dev/null 2>&1 && python3 tests/packaging/test_packaging.py TestRpm'
        grep -E '^(FAIL|ERROR)' "$out" | sed "s/^/$d: /"
        t_counts "$out" e2e: "$rc"
        [ "$f" != 0 ] && tail -n 40 "$out"
        t_add "$d: rpm" "$p" "$f"
    fi
    rm -f "$out"
    cleanup
done

t_total
