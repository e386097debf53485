#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/check_all.sh - make test, then tests/distros.sh; their own last
# lines are totals, and the last line here totals both: "N passed, N failed".
# The chroots and corpora the second needs are made in the background
# while the first runs (downloading and unpacking overlap the host suites).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
prep_log=$(mktemp)
trap 'rm -f "$prep_log"' EXIT
prep=""
if [ "$(id -u)" = 0 ]; then
    tests/distros.sh --prepare >"$prep_log" 2>&1 &
    prep=$!
fi
start=$SECONDS
for step in "make --no-print-directory test" "tests/distros.sh"; do
    if [ "$step" = tests/distros.sh ] && [ -n "$prep" ]; then
        wait "$prep" || cat "$prep_log"
        echo "== chroots ready after $((SECONDS - start)) s"
    fi
    log=$(mktemp)
    echo "== $step"
    $step 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    t_counts "$log" "" "$rc"
    rm -f "$log"
    t_pass=$((t_pass + p))
    t_fail=$((t_fail + f))
    echo "== $step: $((SECONDS - start)) s since the start"
done
t_total
