#!/usr/bin/perl
# SPDX-License-Identifier: MIT
# debhelper sequence addon: Build-Depends: dh-sequence-pycompile-repro
use warnings;
use strict;
use Debian::Debhelper::Dh_Lib;

insert_after('dh_install', 'dh_pycompile_repro');

1;
