#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/pypkg/fetch-testsuites.sh ROOT - mmdebstrap's customize hook in
# tests/distros.sh: with the chroot's own apt, download (not install)
# Debian's libpython3.X-testsuite of each libpython3.X-stdlib in ROOT, at
# the same version, into ROOT/opt/pcr-testsuite, where
# tests/pypkg/testsuite.sh finds them.
set -e
root=$1
mkdir -p "$root/opt/pcr-testsuite"
chroot "$root" sh -c 'cd /opt/pcr-testsuite &&
    # installed ones only: dpkg also knows packages it merely heard of
    for s in $(dpkg-query -W -f="\${db:Status-Abbrev} \${Package}\n" \
                   "libpython3.*-stdlib" | sed -n "s/^ii  *//p"); do
        p=${s%-stdlib}-testsuite
        apt-get download -q "$p=$(dpkg-query -W -f="\${Version}" "$s")" || exit 1
    done'
