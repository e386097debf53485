#!/usr/bin/perl
# SPDX-License-Identifier: MIT
# debhelper sequence addon: Build-Depends: dh-sequence-pycompile-repro.
# dh_pycompile_repro runs once the files are in place (after dh_python3,
# which dh-python inserts before dh_installinit, and dh_link), so that its
# postinst snippet follows py3compile's.
use warnings;
use strict;
use Debian::Debhelper::Dh_Lib;

insert_after('dh_link', 'dh_pycompile_repro');

1;
