# SPDX-License-Identifier: MIT
# tests/lib.sh - what the test scripts share (sourced, not run):
#   - totals: t_add NAME PASSED FAILED prints one line per suite and keeps
#     the sums; t_total prints the last line, "N passed, N failed", and
#     returns 0 only when nothing failed and something passed;
#   - t_counts FILE [PREFIX] [RC]: reads the last "PREFIX N passed, N
#     failed" line of FILE into $p and $f (a missing line, or a non-zero
#     RC with no failure counted, counts as one failure);
#   - t_cache_dir: where test caches live (chroots, corpora), from
#     PYCOMPILE_REPRO_TEST_CACHE, so that a fresh run can point them all
#     at a new empty directory (make check-fresh).

t_pass=0
t_fail=0

t_add() { # name passed failed
    printf '%-34s %6d passed, %d failed\n' "$1" "$2" "$3"
    t_pass=$((t_pass + $2))
    t_fail=$((t_fail + $3))
}

t_counts() { # file [prefix] [rc]
    local line prefix=${2:-}
    if [ -n "$prefix" ]; then
        line=$(grep -E "^$prefix [0-9]+ passed, [0-9]+ failed" "$1" | tail -n 1)
        line=${line#"$prefix "}
    else
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
    fi
    if [ -n "$line" ]; then
        p=$(awk '{print $1}' <<<"$line")
        f=$(awk '{print $3}' <<<"$line")
        f=${f%,}
    else
        p=0 f=1
    fi
    if [ -n "${3:-}" ] && [ "$3" != 0 ] && [ "$f" = 0 ]; then
        f=1
    fi
    return 0
}

t_total() {
    echo "$t_pass passed, $t_fail failed"
    [ "$t_fail" = 0 ] && [ "$t_pass" -gt 0 ]
}

t_cache_dir() {
    if [ -n "${PYCOMPILE_REPRO_TEST_CACHE:-}" ]; then
        echo "$PYCOMPILE_REPRO_TEST_CACHE"
    elif [ "$(id -u)" = 0 ]; then
        echo /var/cache/pycompile-repro
    else
        echo "${XDG_CACHE_HOME:-$HOME/.cache}/pycompile-repro"
    fi
}
