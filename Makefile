# pycompile-repro - plain Makefile.
#
#   make            the front end (build/pycompile-repro), its library
#                   (build/libpycompile-repro.{a,so}) and one compile server
#                   per CPython found (build/libexec/pycompile-repro/
#                   cpython-X.Y); PYTHON_VERSIONS="3.13 3.14" chooses
#   make deps       install the missing Debian packages that building (and
#                   make example, make install) needs (root); package-deps
#                   adds make deb's and make rpm's, test-deps everything
#                   the tests need (make check-all installs them first)
#   make test-quick the edit-test loop (about 2 minutes): unit, fuzz
#                   replay, end-to-end, and parity on a sample of the trees
#   make test       build, then run every suite in the normal build and
#                   again under ASan+UBSan, valgrind, packaging, libFuzzer;
#                   ends with "N passed, N failed"
#   make test-suites  the suites of one build, parity on whole trees (what
#                   the distribution chroots run)
#   make test-distros  the suites in Debian trixie and sid chroots, the
#                   packaging tests in bookworm, trixie and sid
#                   (tests/distros.sh)
#   make check-all  test, then test-distros: what CI runs
#   make check-fresh  check-all as a new machine runs it: a fresh clone of
#                   HEAD in a temporary directory, every test cache
#                   (PYCOMPILE_REPRO_TEST_CACHE) new and empty
#   make sanitize   only the ASan+UBSan build (build-asan/)
#   make valgrind   the unit and end-to-end suites under valgrind
#   make fuzz       libFuzzer on the .pyc reader for FUZZ_SECONDS (60)
#   make bench      speed against compileall and the embedded-compile floor
#   make example    compile the shipped example and run it from its .pyc
#   make format     clang-format every C file
#   make install / uninstall / dist / deb / rpm

CC ?= cc
PKG_CONFIG ?= pkg-config
BUILD ?= build

# Every python-3.X-embed pkg-config module installed (Debian and Fedora
# ship one per libpython3.X-dev), oldest first.
PYTHON_VERSIONS ?= $(shell $(PKG_CONFIG) --list-all 2>/dev/null | \
    sed -n 's/^python-\(3\.[0-9]*\)-embed .*/\1/p' | sort -t. -k2,2n)
# The interpreter tests use as their oracle: the system's python3.
PYTHON ?= /usr/bin/python3

# Warning flags live apart so that a user's CFLAGS does not drop them.
WARNFLAGS = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wundef
CFLAGS ?= -O2 -g
STD = -std=c11

ifeq ($(strip $(PYTHON_VERSIONS)),)
  ifeq ($(filter deps package-deps test-deps help clean dist check-fresh,$(MAKECMDGOALS)),)
    $(error no python-3.X-embed found by pkg-config: run 'make deps' (Debian: libpython3-dev))
  endif
endif

ifeq ($(SANITIZE),1)
  SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
             -fno-omit-frame-pointer
  CFLAGS = -O1 -g
endif
ifeq ($(SANITIZE),thread)
  SANFLAGS = -fsanitize=thread -fno-omit-frame-pointer
  CFLAGS = -O1 -g
endif
ifeq ($(SANITIZE),fuzz)
  SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined \
             -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  CFLAGS = -O1 -g
endif

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
LIBEXECDIR ?= $(PREFIX)/libexec
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PERL5DIR ?= $(PREFIX)/share/perl5
AUTOSCRIPTDIR ?= $(PREFIX)/share/debhelper/autoscripts
PY3RUNTIMEDIR ?= $(PREFIX)/share/python3/runtime.d
# the Bazel module (contrib/bazel), for local_path_override
BAZELMODDIR ?= $(PREFIX)/share/pycompile-repro/bazel
RPMCONFIGDIR ?= $(PREFIX)/lib/rpm
RPMMACRODIR ?= $(RPMCONFIGDIR)/macros.d
# loaded after macros.python-srpm, whose %__brp_python_bytecompile it replaces
RPMMACROFILE = macros.zz-pycompile-repro
# Debian's rpm reads macros.d before its platform file: this one is for
# /etc/rpm (RPM_ETC=/etc/rpm links it there; see the file)
RPMDEBIANFILE = macros.pycompile-repro-debian
RPM_ETC ?=
INSTALL ?= install
# The Python package (python/pycompile_repro): into the system's module
# directory (Debian's; Fedora: /usr/lib/python3.X/site-packages).  Its
# _config.py, written at install, names the library it loads with ctypes
# (a bare soname is found by the dynamic linker: packages use that) and
# the compile servers' directory.
PYTHON_SITEDIR ?= $(PREFIX)/lib/python3/dist-packages
PYTHON_LIBRARY ?= $(LIBDIR)/$(SONAME)
PY_PKG_SRC := $(sort $(wildcard python/pycompile_repro/*.py))

ALL_CFLAGS = $(STD) $(WARNFLAGS) $(CFLAGS) $(SANFLAGS) -fPIC -MMD -MP
ALL_CPPFLAGS = -Iinclude $(AR_CFLAGS) $(CPPFLAGS)
# libarchive writes tar and zip; OpenSSL's libcrypto gives SHA-256 for the
# cache and a wheel's RECORD.  Both are loaded with dlopen when first needed
# (src/lib/lazy_libs.c: linked, they cost every start about 11 ms), so only
# their headers and sonames are taken here.  AR_LIBS links the probe that
# tells packaging tools about them (shlibdeps-probe).
AR_LIBS := $(shell $(PKG_CONFIG) --libs libarchive libcrypto 2>/dev/null)
AR_CFLAGS := $(shell $(PKG_CONFIG) --cflags libarchive libcrypto 2>/dev/null)
soname_of = $(shell readelf -d "$$($(PKG_CONFIG) --variable=libdir $(1))/$(2)" \
    2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
ARCHIVE_SONAME := $(call soname_of,libarchive,libarchive.so)
CRYPTO_SONAME := $(call soname_of,libcrypto,libcrypto.so)
LIB_LIBS = -lpthread -ldl $(LDLIBS)

# The layers: src/common (errors, buffers, frames, the protocol) and
# src/marshal (the .pyc format: layouts, tree, canonical form, diff,
# dump) are built once and linked into both the library and the compile
# servers; src/lib is the library; src/cli and src/server the programs.
CORE_SRC := $(sort $(wildcard src/common/*.c src/marshal/*.c))
LIB_SRC := $(sort $(wildcard src/lib/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
BAZEL_SRC := $(sort $(wildcard src/bazel/*.c))
SERVER_SRC := $(sort $(wildcard src/server/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))

CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
BAZEL_OBJ := $(BAZEL_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

LIB_A := $(BUILD)/libpycompile-repro.a
VERSION := $(shell sed -n 's/^\#define PCR_VERSION "\(.*\)"/\1/p' include/pycompile_repro.h)
SONAME := libpycompile-repro.so.0
LIB_SO := $(BUILD)/libpycompile-repro.so.$(VERSION)
BIN := $(BUILD)/pycompile-repro
# rules_python's precompiler and a Bazel persistent worker (src/bazel)
BAZEL_BIN := $(BUILD)/pycompile-repro-bazel
SERVER_DIR := $(BUILD)/libexec/pycompile-repro
SERVERS := $(PYTHON_VERSIONS:%=$(SERVER_DIR)/cpython-%)
UNIT_BIN := $(BUILD)/unit-tests
REPLAY_BIN := $(BUILD)/fuzz-replay

.PHONY: all deps package-deps test-deps test check check-all check-fresh \
        test-quick test-suites test-distros unit sanitize valgrind corpora \
        example format clean bench fuzz fuzz-build install uninstall dist \
        tsan tsan-build \
        deb rpm servers

all: $(BIN) $(BAZEL_BIN) $(LIB_A) $(LIB_SO) $(SERVERS)
servers: $(SERVERS)

# The library exports only PCR_API symbols (tests/unit checks the list).
CORE_INC = -Isrc/common -Isrc/marshal
$(CORE_OBJ): EXTRA_CFLAGS = -fvisibility=hidden -DPCR_INTERNAL $(CORE_INC)
$(LIB_OBJ): EXTRA_CFLAGS = -fvisibility=hidden -DPCR_INTERNAL \
    -DPCR_BUILDING_LIBRARY $(CORE_INC) -Isrc/lib \
    -DPCR_LIBEXECDIR='"$(LIBEXECDIR)/pycompile-repro"' \
    $(if $(ARCHIVE_SONAME),-DPCR_ARCHIVE_SONAME='"$(ARCHIVE_SONAME)"') \
    $(if $(CRYPTO_SONAME),-DPCR_CRYPTO_SONAME='"$(CRYPTO_SONAME)"')

# Links what the library loads with dlopen, so that dpkg-shlibdeps (and
# rpm's dependency generator, through the spec) learn the packages.
$(BUILD)/shlibdeps-probe: tests/packaging/shlibdeps-probe.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< \
	    -Wl,--no-as-needed $(AR_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(EXTRA_CFLAGS) -c -o $@ $<

CORE_A := $(BUILD)/libpcr-core.a
$(CORE_A): $(CORE_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(LIB_SO): $(CORE_OBJ) $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LIB_LIBS)

$(LIB_A): $(CORE_OBJ) $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB_A)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB_A) $(LIB_LIBS)

$(BAZEL_BIN): $(BAZEL_OBJ) $(LIB_A)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(BAZEL_OBJ) $(LIB_A) $(LIB_LIBS)

# One compile server per CPython version: the server's own files built
# against that version's headers, linked with its libpython and the
# library's marshal code (canonical form, protocol).  Python's headers
# are system headers (-isystem): our warnings are for our code (3.15's
# pyport.h trips -Wundef).
define server_rules
$(BUILD)/server-$(1)/%.o: src/server/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CPPFLAGS) $$(ALL_CFLAGS) -DPCR_INTERNAL $$(CORE_INC) \
	    $$(patsubst -I%,-isystem %,$$(shell $$(PKG_CONFIG) --cflags python-$(1)-embed)) \
	    -DPCR_PYTHON_HOME='"$$(shell $$(PKG_CONFIG) --variable=prefix python-$(1)-embed)"' \
	    -c -o $$@ $$<

$(SERVER_DIR)/cpython-$(1): $(SERVER_SRC:src/server/%.c=$(BUILD)/server-$(1)/%.o) $(CORE_A)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) $$(LDFLAGS) -o $$@ \
	    $(SERVER_SRC:src/server/%.c=$(BUILD)/server-$(1)/%.o) $(CORE_A) \
	    $$(shell $$(PKG_CONFIG) --libs python-$(1)-embed) -lm $$(LDLIBS)

-include $(wildcard $(BUILD)/server-$(1)/*.d)
endef
$(foreach v,$(PYTHON_VERSIONS),$(eval $(call server_rules,$(v))))

# Criterion's parameterised tests break in a PIE (see docs/design.md).
UNIT_CLI_OBJ := $(filter-out $(BUILD)/src/cli/main.o,$(CLI_OBJ))
$(UNIT_BIN): $(UNIT_OBJ) $(UNIT_CLI_OBJ) $(LIB_A)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -no-pie -o $@ $(UNIT_OBJ) $(UNIT_CLI_OBJ) $(LIB_A) \
	    $(shell $(PKG_CONFIG) --libs criterion) $(LIB_LIBS)

# The fuzz target replayed over saved inputs, in any build.
$(REPLAY_BIN): $(BUILD)/tests/fuzz/fuzz_pyc.o $(BUILD)/tests/fuzz/replay.o $(LIB_A)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(BUILD)/tests/fuzz/fuzz_pyc.o \
	    $(BUILD)/tests/fuzz/replay.o $(LIB_A) $(LIB_LIBS)
$(BUILD)/tests/fuzz/%.o: EXTRA_CFLAGS = -DPCR_INTERNAL $(CORE_INC) -Isrc/lib

unit: $(UNIT_BIN) $(REPLAY_BIN)
$(BUILD)/tests/unit/%.o: EXTRA_CFLAGS = -D_POSIX_C_SOURCE=200809L \
    -DPCR_INTERNAL -DPCR_BUILDING_LIBRARY $(CORE_INC) -Isrc/lib

# libFuzzer with ASan+UBSan (clang), seeded with real .pyc files: ours and
# CPython's compileall output (not canonical).  FUZZ_SECONDS bounds it.
FUZZ_SECONDS ?= 60
fuzz-build:
	$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang SANITIZE=fuzz \
	    build-fuzz/libpycompile-repro.a build-fuzz/tests/fuzz/fuzz_pyc.o
	clang -fsanitize=fuzzer,address,undefined -o build-fuzz/fuzz_pyc \
	    build-fuzz/tests/fuzz/fuzz_pyc.o build-fuzz/libpycompile-repro.a $(LIB_LIBS)

fuzz: all fuzz-build
	tests/fuzz/seeds.sh build-fuzz/seeds $(BIN) $(PYTHON)
	mkdir -p build-fuzz/corpus
	build-fuzz/fuzz_pyc -max_total_time=$(FUZZ_SECONDS) -max_len=131072 \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/crash- \
	    build-fuzz/corpus build-fuzz/seeds tests/fuzz/regressions

# The whole suite: normal build, then the sanitizer build.  tests/run.sh
# prints one line per suite and a final "N passed, N failed".
# The real-world corpora of the process-state tests (tests/corpora.sh),
# kept with the other test caches (tests/lib.sh: PYCOMPILE_REPRO_TEST_CACHE).
CORPORA_DIR ?= $(shell bash -c '. tests/lib.sh && t_cache_dir')/corpora
corpora:
	tests/corpora.sh $(CORPORA_DIR) >/dev/null

test check: all unit fuzz-build tsan-build corpora
	$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 all unit
	PYTHON_VERSIONS="$(PYTHON_VERSIONS)" \
	PCR_CORPORA="$(CORPORA_DIR)/django $(CORPORA_DIR)/sympy" \
	    tests/run.sh --fuzz $(FUZZ_SECONDS) --valgrind --packaging --tsan \
	    $(BUILD) build-asan

# The edit-test loop: every suite of the normal build, parity on every
# PARITY_SAMPLE-th source of the trees, no process-state corpora.
PARITY_SAMPLE ?= 5
test-quick: all unit
	PYTHON_VERSIONS="$(PYTHON_VERSIONS)" PCR_CORPORA= \
	    tests/run.sh --sample $(PARITY_SAMPLE) $(BUILD)

# Without the sanitizer build, valgrind, packaging and libFuzzer, parity on
# whole trees: what the distribution chroots run (tests/distros.sh, which
# passes the corpora in PCR_CORPORA).
test-suites: all unit
	PYTHON_VERSIONS="$(PYTHON_VERSIONS)" tests/run.sh $(BUILD)

test-distros:
	tests/distros.sh

# Everything: make test here, then the suites and the packaging tests in
# Debian chroots; the last line totals both.
check-all: test-deps
	tests/check_all.sh

# check-all in a fresh clone of HEAD with new, empty test caches.
check-fresh:
	tests/check_fresh.sh

# Independent handles in independent threads under ThreadSanitizer: the
# library built with -fsanitize=thread (build-tsan/), the compile servers
# of the normal build.
TSAN_BIN := $(BUILD)/tsan-threads
$(TSAN_BIN): tests/tsan/threads.c $(LIB_A)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_A) $(LIB_LIBS)
tsan-build:
	$(MAKE) --no-print-directory BUILD=build-tsan SANITIZE=thread \
	    build-tsan/tsan-threads
tsan: all tsan-build
	PYCOMPILE_REPRO_SERVER_DIR=$(CURDIR)/$(SERVER_DIR) \
	    tests/tsan/run.sh build-tsan/tsan-threads \
	    /usr/lib/python$(lastword $(PYTHON_VERSIONS))/json

sanitize:
	$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 all unit
	PYTHON_VERSIONS="$(PYTHON_VERSIONS)" tests/run.sh build-asan

valgrind: all unit
	PYTHON_VERSIONS="$(PYTHON_VERSIONS)" tests/run.sh --valgrind-only $(BUILD)

example: all
	$(BIN) -v fixtures/example/greet.py fixtures/example/textstats.py
	@ls -l fixtures/example/__pycache__
	cd fixtures/example && $(PYTHON) -c 'import greet; greet.main()'

format:
	clang-format -i $(CORE_SRC) $(LIB_SRC) $(CLI_SRC) $(BAZEL_SRC) $(SERVER_SRC) $(UNIT_SRC) \
	    $(wildcard src/*/*.h include/*.h tests/fuzz/*.c)

# Debian packages, installed only when missing (root): what building
# needs; what make deb and make rpm add; what the tests add.
# libpython3-dev is the distribution's default CPython; more versions come
# with their own libpython3.X-dev.
BUILD_DEPS = gcc make pkg-config libpython3-dev python3 libarchive-dev \
             libssl-dev
PACKAGE_DEPS = $(BUILD_DEPS) build-essential debhelper dh-python dpkg-dev \
               fakeroot lintian perl man-db git rpm rpmlint python3-all \
               libpython3-all-dev elfutils debugedit
TEST_DEPS = $(PACKAGE_DEPS) libcriterion-dev valgrind clang libclang-rt-dev \
            python3-installer python3-wheel mmdebstrap libpython3-all-dev \
            python3-all autopkgtest rpm2cpio cpio
define install_missing
	@clang_rt=$$(apt-cache show libclang-rt-dev >/dev/null 2>&1 && \
	    echo libclang-rt-dev || echo libclang-rt-14-dev); \
	missing=$$(for p in $(patsubst libclang-rt-dev,$$clang_rt,$(sort $(1))); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	        grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -q --no-install-recommends $$missing; \
	else echo "$(2): all installed"; fi
endef
deps:
	$(call install_missing,$(BUILD_DEPS),build dependencies)
# The commands a target needs (COMMAND:PACKAGE ...): said, with the way
# to get them, before anything is done.
define need_commands
	@missing=""; for c in $(1); do command -v $${c%%:*} >/dev/null 2>&1 || \
	    missing="$$missing $${c#*:}"; done; \
	if [ -n "$$missing" ]; then \
	    echo "make $@ needs the Debian packages$$missing: run 'make" \
	        "package-deps' (root) to install them" >&2; exit 1; fi
endef
package-deps:
	$(call install_missing,$(PACKAGE_DEPS),packaging dependencies)
test-deps:
	$(call install_missing,$(TEST_DEPS),test dependencies)

# Regenerated every time: it holds PREFIX, which make cannot see change.
.PHONY: $(BUILD)/pycompile-repro.pc
$(BUILD)/pycompile-repro.pc: pycompile-repro.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(LIB_LIBS)|' $< > $@

$(BUILD)/dh_pycompile_repro.1: contrib/debian/dh_pycompile_repro
	pod2man --section=1 --center=pycompile-repro --release=$(VERSION) $< $@

HOOK = $(LIBEXECDIR)/pycompile-repro/debian-hook
install: all $(BUILD)/pycompile-repro.pc $(BUILD)/dh_pycompile_repro.1
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(LIBEXECDIR)/pycompile-repro \
	    $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(PKGCONFIGDIR) \
	    $(DESTDIR)$(PERL5DIR)/Debian/Debhelper/Sequence \
	    $(DESTDIR)$(AUTOSCRIPTDIR) $(DESTDIR)$(RPMMACRODIR) \
	    $(DESTDIR)$(PY3RUNTIMEDIR) $(DESTDIR)$(BAZELMODDIR)
	$(INSTALL) -m 755 $(BIN) $(DESTDIR)$(BINDIR)/pycompile-repro
	$(INSTALL) -m 755 $(BAZEL_BIN) $(DESTDIR)$(BINDIR)/pycompile-repro-bazel
	$(INSTALL) -m 755 $(SERVERS) $(DESTDIR)$(LIBEXECDIR)/pycompile-repro/
	$(INSTALL) -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libpycompile-repro.a
	$(INSTALL) -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libpycompile-repro.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libpycompile-repro.so
	$(INSTALL) -m 644 include/pycompile_repro.h $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 644 $(BUILD)/pycompile-repro.pc $(DESTDIR)$(PKGCONFIGDIR)/
	$(INSTALL) -m 644 docs/pycompile-repro.1 docs/pycompile-repro-bazel.1 \
	    $(DESTDIR)$(MANDIR)/man1/
	# the Python package, told where the library and servers are
	$(INSTALL) -d $(DESTDIR)$(PYTHON_SITEDIR)/pycompile_repro
	$(INSTALL) -m 644 $(PY_PKG_SRC) $(DESTDIR)$(PYTHON_SITEDIR)/pycompile_repro/
	printf '%s\n' '# SPDX-License-Identifier: MIT' \
	    '"""Where make install put the library and the compile servers."""' \
	    'LIBRARY = "$(PYTHON_LIBRARY)"' \
	    'SERVER_DIR = "$(LIBEXECDIR)/pycompile-repro"' \
	    > $(DESTDIR)$(PYTHON_SITEDIR)/pycompile_repro/_config.py
	# Debian: the addon, its snippets, the hook they call, runtime.d hooks
	$(INSTALL) -m 755 contrib/debian/dh_pycompile_repro $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 644 $(BUILD)/dh_pycompile_repro.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 644 contrib/debian/pycompile_repro.pm \
	    $(DESTDIR)$(PERL5DIR)/Debian/Debhelper/Sequence/
	$(INSTALL) -m 755 contrib/debian/debian-hook $(DESTDIR)$(HOOK)
	for f in postinst prerm; do \
	    sed 's|@HOOK@|$(HOOK)|g' contrib/debian/autoscripts/$$f-pycompile-repro \
	        > $(DESTDIR)$(AUTOSCRIPTDIR)/$$f-pycompile-repro && \
	    chmod 644 $(DESTDIR)$(AUTOSCRIPTDIR)/$$f-pycompile-repro || exit 1; \
	done
	for f in rtinstall rtupdate; do \
	    sed 's|@HOOK@|$(HOOK)|g' contrib/debian/runtime-hook.in \
	        > $(DESTDIR)$(PY3RUNTIMEDIR)/pycompile-repro.$$f && \
	    chmod 755 $(DESTDIR)$(PY3RUNTIMEDIR)/pycompile-repro.$$f || exit 1; \
	done
	# Bazel: the module whose precompiler runs the installed program
	$(INSTALL) -m 644 contrib/bazel/BUILD.bazel $(DESTDIR)$(BAZELMODDIR)/
	sed 's|^    version = .*|    version = "$(VERSION)",|' contrib/bazel/MODULE.bazel \
	    > $(DESTDIR)$(BAZELMODDIR)/MODULE.bazel
	sed -e 's|^DEFAULT_PATH = .*|DEFAULT_PATH = "$(BINDIR)/pycompile-repro-bazel"|' \
	    -e 's|^DEFAULT_STAMP = .*|DEFAULT_STAMP = "pycompile-repro $(VERSION)"|' \
	    contrib/bazel/defs.bzl > $(DESTDIR)$(BAZELMODDIR)/defs.bzl
	chmod 644 $(DESTDIR)$(BAZELMODDIR)/defs.bzl $(DESTDIR)$(BAZELMODDIR)/MODULE.bazel
	# RPM: the build-root step and the macros; for Debian's rpm, which
	# reads macros.d before its platform file, a file to read last
	# (RPM_ETC=/etc/rpm installs it there)
	$(INSTALL) -m 644 contrib/rpm/macros.pycompile-repro \
	    $(DESTDIR)$(RPMMACRODIR)/$(RPMMACROFILE)
	{ cat contrib/rpm/macros.pycompile-repro-debian; \
	  sed -e '/^#/d' -e 's|%{_rpmconfigdir}/brp-pycompile-repro|$(RPMCONFIGDIR)/brp-pycompile-repro|' \
	    contrib/rpm/macros.pycompile-repro; } \
	    > $(DESTDIR)$(RPMCONFIGDIR)/$(RPMDEBIANFILE)
	chmod 644 $(DESTDIR)$(RPMCONFIGDIR)/$(RPMDEBIANFILE)
	$(if $(RPM_ETC),$(INSTALL) -d $(DESTDIR)$(RPM_ETC) && \
	    ln -sf $(RPMCONFIGDIR)/$(RPMDEBIANFILE) \
	        $(DESTDIR)$(RPM_ETC)/macros.pycompile-repro)
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/rpm/brp-pycompile-repro \
	    > $(DESTDIR)$(RPMCONFIGDIR)/brp-pycompile-repro
	chmod 755 $(DESTDIR)$(RPMCONFIGDIR)/brp-pycompile-repro

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pycompile-repro $(DESTDIR)$(BINDIR)/dh_pycompile_repro \
	    $(DESTDIR)$(BINDIR)/pycompile-repro-bazel \
	    $(DESTDIR)$(MANDIR)/man1/pycompile-repro-bazel.1 \
	    $(DESTDIR)$(LIBDIR)/libpycompile-repro.a \
	    $(DESTDIR)$(LIBDIR)/libpycompile-repro.so* \
	    $(DESTDIR)$(INCLUDEDIR)/pycompile_repro.h \
	    $(DESTDIR)$(PKGCONFIGDIR)/pycompile-repro.pc \
	    $(DESTDIR)$(MANDIR)/man1/pycompile-repro.1 \
	    $(DESTDIR)$(MANDIR)/man1/dh_pycompile_repro.1 \
	    $(DESTDIR)$(PERL5DIR)/Debian/Debhelper/Sequence/pycompile_repro.pm \
	    $(DESTDIR)$(AUTOSCRIPTDIR)/postinst-pycompile-repro \
	    $(DESTDIR)$(AUTOSCRIPTDIR)/prerm-pycompile-repro \
	    $(DESTDIR)$(PY3RUNTIMEDIR)/pycompile-repro.rtinstall \
	    $(DESTDIR)$(PY3RUNTIMEDIR)/pycompile-repro.rtupdate \
	    $(DESTDIR)$(RPMMACRODIR)/$(RPMMACROFILE) \
	    $(DESTDIR)$(RPMCONFIGDIR)/$(RPMDEBIANFILE) \
	    $(DESTDIR)$(RPMCONFIGDIR)/brp-pycompile-repro \
	    $(if $(RPM_ETC),$(DESTDIR)$(RPM_ETC)/macros.pycompile-repro)
	rm -rf $(DESTDIR)$(LIBEXECDIR)/pycompile-repro $(DESTDIR)$(BAZELMODDIR)
	rmdir $(DESTDIR)$(PREFIX)/share/pycompile-repro 2>/dev/null || true
	rm -rf $(DESTDIR)$(PYTHON_SITEDIR)/pycompile_repro

# A release tarball of the committed tree (git archive), and packages
# built from such a tarball: deb and rpm need no .git.
DIST_TAR = dist/pycompile-repro-$(VERSION).tar.gz
# In a git checkout: the tracked files as they are in the work tree (git
# stash create records uncommitted changes without touching anything); in
# an unpacked release tarball: its files again, without build output.
dist:
	mkdir -p dist
	if [ -d .git ]; then \
	    rev=$$(git stash create); \
	    git archive --format=tar --prefix=pycompile-repro-$(VERSION)/ \
	        $${rev:-HEAD} | gzip -n > $(DIST_TAR); \
	else \
	    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
	        --exclude=./build --exclude=./build-asan --exclude=./build-fuzz \
	        --exclude=./dist --transform 's|^\.|pycompile-repro-$(VERSION)|' \
	        -cf - . | gzip -n > $(DIST_TAR); \
	fi

SRC_TREE = build/pkgsrc/pycompile-repro-$(VERSION)
deb:
	$(call need_commands,dpkg-buildpackage:dpkg-dev dh:debhelper \
	    dh_python3:dh-python lintian:lintian py3versions:python3)
	rm -rf build/pkgsrc && mkdir -p build/pkgsrc dist
	$(MAKE) dist
	tar -xzf $(DIST_TAR) -C build/pkgsrc
	cp -r contrib/debian/debian $(SRC_TREE)/debian
	cd $(SRC_TREE) && dpkg-buildpackage -us -uc -b
	mv build/pkgsrc/*_$(VERSION)_*.deb dist/
	lintian --fail-on error dist/*_$(VERSION)_*.deb

# A -debuginfo package needs find-debuginfo (debugedit) and eu-strip
# (elfutils): without them rpm makes an empty one and leaves the binaries
# unstripped, so none is made.  rpmlint: one filter file serves rpmlint
# 2.4 (bookworm) and 2.7 (trixie), with and without a -debuginfo package,
# so a filter one of them does not need is not an error of the packages
# (--ignore-unused-rpmlintrc).
RPM_NODEBUG = $(if $(and $(shell command -v eu-strip 2>/dev/null),$(shell \
    command -v find-debuginfo 2>/dev/null)),,yes)
rpm:
	$(call need_commands,rpmbuild:rpm)
	rm -rf build/rpm dist/pycompile-repro*-$(VERSION)-*.rpm
	mkdir -p build/rpm/SOURCES dist
	$(MAKE) dist
	cp $(DIST_TAR) build/rpm/SOURCES/
	$(if $(RPM_NODEBUG),@echo "make rpm: no eu-strip (elfutils) or" \
	    "find-debuginfo (debugedit): no -debuginfo package")
	rpmbuild --define "_topdir $(CURDIR)/build/rpm" --nodeps \
	    $(if $(RPM_NODEBUG),--define "debug_package %{nil}") \
	    -bb contrib/rpm/pycompile-repro.spec
	cp build/rpm/RPMS/*/*pycompile-repro*-$(VERSION)-*.rpm dist/
	! command -v rpmlint >/dev/null || rpmlint --ignore-unused-rpmlintrc \
	    -r contrib/rpm/pycompile-repro.rpmlintrc dist/*pycompile-repro*-$(VERSION)-*.rpm

clean:
	rm -rf build build-asan build-fuzz build-tsan dist \
	    fixtures/example/__pycache__

-include $(CORE_OBJ:.o=.d) $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(BAZEL_OBJ:.o=.d) \
    $(UNIT_OBJ:.o=.d) \
    $(wildcard $(BUILD)/tests/fuzz/*.d)

# Speed against compileall and the floor on real corpora (see
# tests/bench/bench.py); not part of the test suite.
VALIDATE_BIN := $(BUILD)/validate-cost
$(VALIDATE_BIN): tests/bench/validate_cost.c $(CORE_A)
	$(CC) $(ALL_CFLAGS) -Iinclude -DPCR_INTERNAL $(CORE_INC) $(LDFLAGS) -o $@ \
	    tests/bench/validate_cost.c $(CORE_A)

WARM_BIN := $(BUILD)/warm-runs
$(WARM_BIN): tests/bench/warm_runs.c $(LIB_A)
	$(CC) $(ALL_CFLAGS) -Iinclude $(LDFLAGS) -o $@ tests/bench/warm_runs.c \
	    $(LIB_A) $(LIB_LIBS)

# Speed against compileall and the floor; what checking the servers'
# replies costs (the walker over the standard library's .pyc); the front
# end's peak memory on
# a 100,000-file tree; one file on one warm handle, 1,000 runs, on tmpfs
# and on the build directory's file system.
bench: all $(WARM_BIN) $(VALIDATE_BIN)
	$(PYTHON) tests/bench/bench.py --tool $(BIN)
	$(VALIDATE_BIN) /usr/lib/python$(lastword $(PYTHON_VERSIONS))
	$(PYTHON) tests/bench/big_tree.py --tool $(BIN)
	d=$$(mktemp -d /dev/shm/pcr-warm.XXXXXX) && \
	    PYCOMPILE_REPRO_SERVER_DIR=$(CURDIR)/$(SERVER_DIR) $(WARM_BIN) $$d 1000; \
	    rm -rf $$d
	d=$$(mktemp -d $(CURDIR)/$(BUILD)/pcr-warm.XXXXXX) && \
	    PYCOMPILE_REPRO_SERVER_DIR=$(CURDIR)/$(SERVER_DIR) $(WARM_BIN) $$d 1000; \
	    rm -rf $$d
