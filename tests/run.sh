#!/usr/bin/env bash
# tests/run.sh [--fuzz SECONDS] [--valgrind] BUILD_DIR... - run every
# test suite against each build directory (normal, sanitizer) and end with
# one line totalling them all: "N passed, N failed".  Exit 0 only if
# nothing failed and something ran.
#
# Suites: unit (Criterion), fuzz-replay (the fuzz target over saved and
# seed inputs), e2e (the binary, checked against CPython and compileall),
# parity (copies of /usr/lib/python3.11 and /usr/lib/python3/dist-packages
# compiled and compared byte for byte with CPython's own output); then,
# if asked, libFuzzer for SECONDS (build-fuzz/) and the e2e suites under
# valgrind (first build).
set -u
cd "$(dirname "$0")/.."
fuzz_seconds=0
valgrind=0
while [ $# -gt 0 ]; do
    case $1 in
    --fuzz) fuzz_seconds=$2; shift 2 ;;
    --valgrind) valgrind=1; shift ;;
    *) break ;;
    esac
done
PYTHON=${PYTHON:-/usr/bin/python3.11}
PARITY_TREES=${PARITY_TREES:-"/usr/lib/python3.11 /usr/lib/python3/dist-packages fixtures/tricky"}
total_pass=0
total_fail=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

add() { # suite-name passed failed
    printf '%-28s %6d passed, %d failed\n' "$1" "$2" "$3"
    total_pass=$((total_pass + $2))
    total_fail=$((total_fail + $3))
}

# Sets p and f from a suite's "PREFIX N passed, N failed" line in OUT (a
# missing line counts as a failure, and so does a non-zero exit status).
counts() { # out prefix
    local line
    line=$(grep -E "^$2 [0-9]+ passed" "$1" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(awk '{print $2}' <<<"$line")
        f=$(awk '{print $4}' <<<"$line")
    else
        p=0 f=1
    fi
    [ "$(cat "$1.rc")" != 0 ] && [ "$f" = 0 ] && f=1
    return 0
}

# Run a command, keep its output, show it only when the suite fails.
run_suite() { # name logfile command...
    local name=$1 out=$2
    shift 2
    "$@" >"$out" 2>&1
    local rc=$?
    echo "$rc" >"$out.rc"
}

for build in "$@"; do
    export PCR_BIN="$PWD/$build/pycompile-repro"
    if [ ! -x "$PCR_BIN" ]; then
        echo "no binary at $PCR_BIN (run make first)" >&2
        add "$build: build" 0 1
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
    wrapper=""

    # unit: Criterion prints "[====] Synthesis: Tested: N | Passing: N |
    # Failing: N | Crashing: N" on stderr.
    out=$log/$build-unit
    run_suite unit "$out" "$build/unit-tests" --jobs 2
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
    add "$build: unit" "$p" "$f"

    # fuzz-replay: saved hostile inputs and a seed corpus of real .pyc
    out=$log/$build-replay
    if [ ! -d "$log/seeds" ]; then
        tests/fuzz/seeds.sh "$log/seeds" "$PCR_BIN" "$PYTHON" >/dev/null 2>&1
    fi
    run_suite replay "$out" "$build/fuzz-replay" tests/fuzz/regressions "$log/seeds"
    counts "$out" fuzz-replay:
    [ "$f" != 0 ] && tail -n 40 "$out"
    add "$build: fuzz-replay" "$p" "$f"

    # e2e: the binary, run by Python's unittest, one suite per file.
    for suite in tests/e2e/test_*.py; do
        name=$(basename "$suite" .py)
        out=$log/$build-$name
        PCR_WRAPPER="$wrapper" run_suite "$name" "$out" "$PYTHON" "$suite"
        counts "$out" e2e:
        [ "$f" != 0 ] && tail -n 60 "$out"
        add "$build: e2e ${name#test_}" "$p" "$f"
    done

    # parity: real trees against CPython's bytes (not under valgrind).
    if [ -z "$wrapper" ]; then
        out=$log/$build-parity
        # shellcheck disable=SC2086
        run_suite parity "$out" "$PYTHON" tests/parity/parity.py \
            --tool "$PCR_BIN" --levels 0,1,2 $PARITY_TREES
        counts "$out" parity:
        grep -E '^parity: [0-9]+ source' "$out"
        [ "$f" != 0 ] && tail -n 40 "$out"
        add "$build: parity" "$p" "$f"
    fi
done

# Install, man pages, packages of the tool and sample packages built with
# each hook (once, with the first build).
out=$log/packaging
PCR_BIN="$PWD/$1/pycompile-repro" run_suite packaging "$out" "$PYTHON" tests/packaging/test_packaging.py
counts "$out" e2e:
[ "$f" != 0 ] && tail -n 60 "$out"
add "packaging" "$p" "$f"

# libFuzzer, bounded in time; a crash leaves build-fuzz/crash-* and fails.
if [ "$fuzz_seconds" -gt 0 ]; then
    out=$log/fuzz
    if [ -x build-fuzz/fuzz_pyc ]; then
        tests/fuzz/seeds.sh build-fuzz/seeds "$PWD/$1/pycompile-repro" "$PYTHON" >/dev/null 2>&1
        mkdir -p build-fuzz/corpus
        run_suite fuzz "$out" build-fuzz/fuzz_pyc -max_total_time="$fuzz_seconds" \
            -max_len=131072 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix=build-fuzz/crash- build-fuzz/corpus build-fuzz/seeds \
            tests/fuzz/regressions
        grep -E '^Done [0-9]+ runs' "$out" | sed 's/^/fuzz: /'
        if [ "$(cat "$out.rc")" = 0 ]; then add "fuzz (libFuzzer)" 1 0
        else tail -n 40 "$out"; add "fuzz (libFuzzer)" 0 1; fi
    else
        echo "no build-fuzz/fuzz_pyc (make fuzz-build)"
        add "fuzz (libFuzzer)" 0 1
    fi
fi

# The end-to-end suites again, the tool under valgrind (memcheck).
if [ "$valgrind" = 1 ]; then
    export PCR_BIN="$PWD/$1/pycompile-repro" PCR_DEBUG_RAW_MALLOC=1
    unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
    vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --suppressions=$PWD/tests/valgrind.supp"
    # (the whole-tree tests are left to the other builds: valgrind is slow)
    for suite in "tests/e2e/test_cli.py" "tests/e2e/test_check.py TestDump TestCheck.test_each_kind_of_damage_gets_its_class TestCanonicalize.test_keeps_mode_and_refuses_garbage"; do
        name=$(basename "${suite%% *}" .py)
        out=$log/valgrind-$name
        # shellcheck disable=SC2086
        PCR_WRAPPER="$vg" run_suite "$name" "$out" "$PYTHON" $suite
        counts "$out" e2e:
        [ "$f" != 0 ] && tail -n 60 "$out"
        add "valgrind: e2e ${name#test_}" "$p" "$f"
    done
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ] && [ "$total_pass" -gt 0 ]
