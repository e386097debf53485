#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/run.sh [--fuzz SECONDS] [--valgrind] [--valgrind-only] [--packaging]
#              [--tsan] [--sample N] BUILD_DIR...
# Run every test suite against each build directory (normal, sanitizer)
# and end with one line totalling them all: "N passed, N failed".  Exit 0
# only if nothing failed and something ran.
#
# Suites: unit (Criterion), fuzz-replay (the fuzz target over saved and
# seed inputs); then for each CPython version with a compile server
# (PYTHON_VERSIONS, else every server built), with /usr/bin/pythonX.Y as
# the oracle: e2e (the binary, checked against CPython, compileall,
# tarfile, zipfile, installer) and parity (copies of /usr/lib/pythonX.Y,
# /usr/lib/python3/dist-packages and fixtures/tricky compiled and compared
# byte for byte with CPython's own output) and, when PCR_CORPORA names
# corpus directories, process-state (tests/parity/process_state.py); with
# the first build, the Python package (tests/pypkg: its own tests, and
# CPython's test_py_compile and test_compileall run against it); then,
# if asked, the packaging
# tests, libFuzzer for SECONDS (build-fuzz/) and the e2e suites under
# valgrind (first build).
set -u
cd "$(dirname "$0")/.."
fuzz_seconds=0
valgrind=0
packaging=0
tsan=0
sample=1
suites=1
while [ $# -gt 0 ]; do
    case $1 in
    --fuzz) fuzz_seconds=$2; shift 2 ;;
    --valgrind) valgrind=1; shift ;;
    --valgrind-only) valgrind=1; suites=0; shift ;;
    --packaging) packaging=1; shift ;;
    --tsan) tsan=1; shift ;;
    --sample) sample=$2; shift 2 ;;
    *) break ;;
    esac
done
. tests/lib.sh
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

versions=${PYTHON_VERSIONS:-$(ls "$1/libexec/pycompile-repro" 2>/dev/null |
    sed -n 's/^cpython-//p' | sort -t. -k2,2n)}
# The default version: the system's python3, when it has a server.
default_py=$(readlink /usr/bin/python3 | sed -n 's/^python//p')
case " $versions " in *" $default_py "*) ;; *) default_py=${versions##* } ;; esac

# Sets p and f from a suite's "PREFIX N passed, N failed" line in OUT and
# its exit status in OUT.rc (tests/lib.sh).
counts() { # out prefix
    t_counts "$1" "$2" "$(cat "$1.rc")"
}

# Run a command, keep its output, show it only when the suite fails.
run_suite() { # logfile command...
    local out=$1
    shift
    "$@" >"$out" 2>&1
    echo "$?" >"$out.rc"
}

if [ -z "$versions" ]; then
    echo "no compile server built (run make first)" >&2
    t_add "servers" 0 1
fi

for build in "$@"; do
    [ "$suites" = 1 ] || break
    export PCR_BIN="$PWD/$build/pycompile-repro"
    if [ ! -x "$PCR_BIN" ]; then
        echo "no binary at $PCR_BIN (run make first)" >&2
        t_add "$build: build" 0 1
        continue
    fi
    unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS PCR_DEBUG_RAW_MALLOC
    if [ "$build" = build-asan ]; then
        # Distinct exit codes, so a sanitizer report can never pass for a
        # per-file failure (exit 1).
        export ASAN_OPTIONS=detect_leaks=1:exitcode=97:abort_on_error=0
        export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:exitcode=98
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=96
        export PCR_DEBUG_RAW_MALLOC=1
    fi

    # unit: Criterion prints "[====] Synthesis: Tested: N | Passing: N |
    # Failing: N | Crashing: N" on stderr.
    out=$log/$build-unit
    run_suite "$out" "$build/unit-tests" --jobs 2
    line=$(grep 'Synthesis:' "$out" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
        f=$(sed -E 's/.*Failing: ([0-9]+).*/\1/' <<<"$line")
        c=$(sed -E 's/.*Crashing: ([0-9]+).*/\1/' <<<"$line")
        f=$((f + c))
    else
        p=0 f=1
    fi
    [ "$(cat "$out.rc")" != 0 ] && [ "$f" = 0 ] && f=1
    [ "$f" != 0 ] && { grep -v '^\[----\] *$' "$out" | tail -n 40; }
    t_add "$build: unit" "$p" "$f"

    # fuzz-replay: saved hostile inputs and a seed corpus of real .pyc of
    # every version
    out=$log/$build-replay
    if [ ! -d "$log/seeds" ]; then
        mkdir -p "$log/seeds"
        for v in $versions; do
            tests/fuzz/seeds.sh "$log/seeds/$v" "$PCR_BIN" \
                "/usr/bin/python$v" >/dev/null 2>&1
        done
    fi
    run_suite "$out" "$build/fuzz-replay" tests/fuzz/regressions \
        fixtures/pyc "$log/seeds"
    counts "$out" fuzz-replay:
    [ "$f" != 0 ] && tail -n 40 "$out"
    t_add "$build: fuzz-replay" "$p" "$f"

    for v in $versions; do
        py=/usr/bin/python$v
        if [ ! -x "$py" ]; then
            echo "no $py: the oracle of the $v server is missing" >&2
            t_add "$build: oracle python$v" 0 1
            continue
        fi
        # e2e: the binary, run by Python's unittest, one suite per file.
        for suite in tests/e2e/test_*.py; do
            name=$(basename "$suite" .py)
            out=$log/$build-$v-$name
            run_suite "$out" "$py" "$suite"
            counts "$out" e2e:
            [ "$f" != 0 ] && tail -n 60 "$out"
            t_add "$build: $v e2e ${name#test_}" "$p" "$f"
        done
        # parity: real trees against CPython's bytes
        out=$log/$build-$v-parity
        trees="/usr/lib/python$v /usr/lib/python3/dist-packages fixtures/tricky"
        # shellcheck disable=SC2086
        run_suite "$out" "$py" tests/parity/parity.py --tool "$PCR_BIN" \
            --python "$v" --levels 0,1,2 --sample "$sample" \
            ${PARITY_TREES:-$trees}
        counts "$out" parity:
        grep -E '^parity: [0-9]+ source' "$out"
        [ "$f" != 0 ] && tail -n 40 "$out"
        t_add "$build: $v parity" "$p" "$f"
        # process-state: CPython's output from processes in other states
        # canonicalises to our bytes (first build only: it is long)
        if [ -n "${PCR_CORPORA:-}" ] && [ "$build" = "$1" ]; then
            out=$log/$build-$v-state
            # shellcheck disable=SC2086
            run_suite "$out" "$py" tests/parity/process_state.py \
                --tool "$PCR_BIN" --python "$v" "/usr/lib/python$v" \
                $PCR_CORPORA
            counts "$out" process-state:
            grep -E '^process-state: [^0-9]' "$out"
            [ "$f" != 0 ] && tail -n 40 "$out"
            t_add "$build: $v process-state" "$p" "$f"
        fi
        # the Python package (python/pycompile_repro) over this build's
        # library, loaded into python$v with ctypes (not the sanitizer
        # build: its library needs the sanitizer runtime preloaded):
        # our tests, then CPython's own test_py_compile and
        # test_compileall (libpython$v-testsuite) with its exceptions
        if [ "$build" = "$1" ] && [ "$build" != build-asan ]; then
            so=$(ls "$PWD/$build"/libpycompile-repro.so.*.*.* 2>/dev/null | head -n 1)
            out=$log/$build-$v-pypkg
            PYCOMPILE_REPRO_LIBRARY=$so \
                PYCOMPILE_REPRO_SERVER_DIR=$PWD/$build/libexec/pycompile-repro \
                run_suite "$out" "$py" tests/pypkg/test_pypkg.py
            counts "$out" pypkg:
            [ "$f" != 0 ] && tail -n 60 "$out"
            t_add "$build: $v pypkg" "$p" "$f"
            out=$log/$build-$v-cpython-tests
            if testdir=$(tests/pypkg/testsuite.sh "$v"); then
                # from a neutral directory: the tests make files in cwd
                (cd "$log" && PYCOMPILE_REPRO_LIBRARY=$so \
                    PYCOMPILE_REPRO_SERVER_DIR=$OLDPWD/$build/libexec/pycompile-repro \
                    run_suite "$out" "$py" "$OLDPWD/tests/pypkg/cpython_tests.py" \
                    --testdir "$testdir")
                counts "$out" cpython-tests:
                grep -E '^cpython-tests: ' "$out"
                [ "$f" != 0 ] && tail -n 60 "$out"
            else
                echo "no CPython $v test files (libpython$v-testsuite)" >&2
                p=0 f=1
            fi
            t_add "$build: $v cpython tests" "$p" "$f"
        fi
    done
done

# Install, man pages, packages of the tool and sample packages built with
# each hook (once, with the first build).
if [ "$packaging" = 1 ]; then
    out=$log/packaging
    PCR_BIN="$PWD/$1/pycompile-repro" run_suite "$out" \
        "/usr/bin/python$default_py" tests/packaging/test_packaging.py
    counts "$out" e2e:
    [ "$f" != 0 ] && tail -n 60 "$out"
    t_add "packaging" "$p" "$f"
fi

# Independent handles in independent threads, under ThreadSanitizer
# (build-tsan/, made by make tsan-build).
if [ "$tsan" = 1 ]; then
    out=$log/tsan
    if [ -x build-tsan/tsan-threads ]; then
        PYCOMPILE_REPRO_SERVER_DIR="$PWD/$1/libexec/pycompile-repro" \
            run_suite "$out" tests/tsan/run.sh build-tsan/tsan-threads \
            "/usr/lib/python${versions##* }/json"
        counts "$out" tsan:
        [ "$f" != 0 ] && tail -n 40 "$out"
        t_add "tsan (ThreadSanitizer)" "$p" "$f"
    else
        echo "no build-tsan/tsan-threads (make tsan-build)"
        t_add "tsan (ThreadSanitizer)" 0 1
    fi
fi

# libFuzzer, bounded in time; a crash leaves build-fuzz/crash-* and fails.
if [ "$fuzz_seconds" -gt 0 ]; then
    out=$log/fuzz
    if [ -x build-fuzz/fuzz_pyc ]; then
        rm -rf build-fuzz/seeds && mkdir -p build-fuzz/seeds build-fuzz/corpus
        for v in $versions; do
            tests/fuzz/seeds.sh "build-fuzz/seeds/$v" "$PWD/$1/pycompile-repro" \
                "/usr/bin/python$v" >/dev/null 2>&1
        done
        run_suite "$out" build-fuzz/fuzz_pyc -max_total_time="$fuzz_seconds" \
            -max_len=131072 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix=build-fuzz/crash- build-fuzz/corpus \
            $(ls -d build-fuzz/seeds/* 2>/dev/null) fixtures/pyc \
            tests/fuzz/regressions
        grep -E '^Done [0-9]+ runs' "$out" | sed 's/^/fuzz: /'
        if [ "$(cat "$out.rc")" = 0 ]; then t_add "fuzz (libFuzzer)" 1 0
        else tail -n 40 "$out"; t_add "fuzz (libFuzzer)" 0 1; fi
    else
        echo "no build-fuzz/fuzz_pyc (make fuzz-build)"
        t_add "fuzz (libFuzzer)" 0 1
    fi
fi

# The end-to-end suites again, the front end under valgrind (memcheck);
# the compile servers it starts run as they are.
if [ "$valgrind" = 1 ]; then
    export PCR_BIN="$PWD/$1/pycompile-repro"
    unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS PCR_DEBUG_RAW_MALLOC
    vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --suppressions=$PWD/tests/valgrind.supp"
    py=/usr/bin/python$default_py
    # (the whole-tree tests are left to the other builds: valgrind is slow)
    for suite in "tests/e2e/test_cli.py" "tests/e2e/test_servers.py TestServerTrouble TestVersions" "tests/e2e/test_check.py TestDump TestCheck.test_each_kind_of_damage_gets_its_class TestCanonicalize.test_keeps_mode_and_refuses_garbage" "tests/e2e/test_bazel.py TestWorker.test_bad_requests_are_answered_and_the_worker_goes_on TestWorker.test_overlapping_requests_all_answered_once TestCancel.test_a_queued_request_is_cancelled_and_never_written"; do
        name=$(basename "${suite%% *}" .py)
        out=$log/valgrind-$name
        # shellcheck disable=SC2086
        PCR_WRAPPER="$vg" run_suite "$out" "$py" $suite
        counts "$out" e2e:
        [ "$f" != 0 ] && tail -n 60 "$out"
        t_add "valgrind: e2e ${name#test_}" "$p" "$f"
    done
fi

t_total
