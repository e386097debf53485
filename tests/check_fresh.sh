#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/check_fresh.sh - the test command as a new machine runs it: a
# fresh clone of HEAD in a temporary directory, .ci/run there with CI=true
# and no stdin, every test cache (PYCOMPILE_REPRO_TEST_CACHE: chroots,
# corpora) a new empty directory, so that nothing an earlier run left
# behind is used.  Uncommitted changes are not in the clone (said first).
# Prints the wall time; the clone and the caches are removed after
# (KEEP=1 keeps them).  Ends with the run's own "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
top=$PWD
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "check-fresh: the work tree has uncommitted changes; they are" \
        "not tested (commit them first)" >&2
fi
tmp=$(mktemp -d /var/tmp/pcr-fresh.XXXXXX)
# as a checkout usually is: tests that run the tool as another user
# (nobody) must reach its compile servers
chmod 755 "$tmp"
trap '[ "${KEEP:-0}" = 1 ] || rm -rf --one-file-system "$tmp"' EXIT
git clone -q --no-hardlinks "$top" "$tmp/src" || exit 2
echo "check-fresh: $(git -C "$tmp/src" log -1 --format='%h %s') in $tmp/src"
mkdir -p "$tmp/cache"
start=$(date +%s)
(cd "$tmp/src" && env -u PCR_BIN -u PCR_CORPORA -u PYTHON_VERSIONS \
    CI=true PYCOMPILE_REPRO_TEST_CACHE="$tmp/cache" \
    bash .ci/run </dev/null)
rc=$?
end=$(date +%s)
echo "check-fresh: exit $rc after $(((end - start) / 60)) min $(((end - start) % 60)) s"
exit $rc
