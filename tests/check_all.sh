#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/check_all.sh - make test, then tests/distros.sh; their own last
# lines are totals, and the last line here totals both: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
for step in "make --no-print-directory test" "tests/distros.sh"; do
    log=$(mktemp)
    echo "== $step"
    $step 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    rm -f "$log"
    if [ -n "$line" ]; then
        pass=$((pass + $(awk '{print $1}' <<<"$line")))
        f=$(awk '{print $3}' <<<"$line")
    else
        f=1
    fi
    [ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
    fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
