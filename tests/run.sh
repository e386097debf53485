#!/usr/bin/env bash
# tests/run.sh BUILD_DIR... - run every test suite against each build
# directory (normal, sanitizer) and end with one line totalling them all:
# "N passed, N failed".  Exit 0 only if nothing failed and something ran.
#
# Suites: unit (Criterion), e2e (the binary, checked against CPython),
# parity (a copy of /usr/lib/python3.11 and /usr/lib/python3/dist-packages
# compiled and compared byte for byte with CPython's own output).
set -u
cd "$(dirname "$0")/.."
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
    if [ "${PCR_VALGRIND:-0}" = 1 ]; then
        wrapper="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --suppressions=$PWD/tests/valgrind.supp"
        export PCR_DEBUG_RAW_MALLOC=1
    fi

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

    # e2e: the binary, run by Python's unittest, one suite per file.
    for suite in tests/e2e/test_*.py; do
        name=$(basename "$suite" .py)
        out=$log/$build-$name
        PCR_WRAPPER="$wrapper" run_suite "$name" "$out" "$PYTHON" "$suite"
        line=$(grep -E '^e2e: [0-9]+ passed' "$out" | tail -n 1)
        if [ -n "$line" ]; then
            p=$(awk '{print $2}' <<<"$line")
            f=$(awk '{print $4}' <<<"$line")
        else
            p=0 f=1
        fi
        [ "$(cat "$out.rc")" != 0 ] && [ "$f" = 0 ] && f=1
        [ "$f" != 0 ] && tail -n 60 "$out"
        add "$build: e2e ${name#test_}" "$p" "$f"
    done

    # parity: real trees against CPython's bytes (not under valgrind).
    if [ -z "$wrapper" ]; then
        out=$log/$build-parity
        # shellcheck disable=SC2086
        run_suite parity "$out" "$PYTHON" tests/parity/parity.py \
            --tool "$PCR_BIN" --levels 0,1,2 $PARITY_TREES
        line=$(grep -E '^parity: [0-9]+ passed' "$out" | tail -n 1)
        if [ -n "$line" ]; then
            p=$(awk '{print $2}' <<<"$line")
            f=$(awk '{print $4}' <<<"$line")
        else
            p=0 f=1
        fi
        [ "$(cat "$out.rc")" != 0 ] && [ "$f" = 0 ] && f=1
        grep -E '^parity: [0-9]+ source' "$out"
        [ "$f" != 0 ] && tail -n 40 "$out"
        add "$build: parity" "$p" "$f"
    fi
done

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ] && [ "$total_pass" -gt 0 ]
