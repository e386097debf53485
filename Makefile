# pycompile-repro - plain Makefile.
#
#   make            library (build/libpycompile-repro.a) and the tool
#                   (build/pycompile-repro)
#   make deps       install missing Debian build/test dependencies (root)
#   make test       build, then run every suite in the normal build and
#                   again under ASan+UBSan; ends with "N passed, N failed"
#   make sanitize   only the ASan+UBSan build (build-asan/)
#   make valgrind   the unit and end-to-end suites under valgrind
#   make fuzz       libFuzzer on the .pyc reader for FUZZ_SECONDS (60)
#   make bench      speed against compileall and py_compile
#   make example    compile the shipped example and run it from its .pyc
#   make format     clang-format every C file

CC ?= cc
PKG_CONFIG ?= pkg-config
PYTHON ?= /usr/bin/python3.11
BUILD ?= build

# Warning flags live apart so that a user's CFLAGS does not drop them.
WARNFLAGS = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wundef
CFLAGS ?= -O2 -g
STD = -std=c11

ifneq ($(shell $(PKG_CONFIG) --exists python3-embed && echo yes),yes)
  ifeq ($(filter deps help,$(MAKECMDGOALS)),)
    $(error python3-embed not found by pkg-config: run 'make deps' (Debian: libpython3-dev))
  endif
endif

PY_CFLAGS := $(shell $(PKG_CONFIG) --cflags python3-embed 2>/dev/null)
PY_LIBS := $(shell $(PKG_CONFIG) --libs python3-embed 2>/dev/null)
# The prefix of the libpython we link: the embedded interpreter's home.
PY_HOME := $(shell $(PKG_CONFIG) --variable=prefix python3-embed 2>/dev/null)

ifeq ($(SANITIZE),1)
  SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
             -fno-omit-frame-pointer
  CFLAGS = -O1 -g
endif
ifeq ($(SANITIZE),fuzz)
  SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined \
             -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  CFLAGS = -O1 -g
endif

ALL_CFLAGS = $(STD) $(WARNFLAGS) $(CFLAGS) $(SANFLAGS) -fPIC -MMD -MP
ALL_CPPFLAGS = -Iinclude $(AR_CFLAGS) $(CPPFLAGS)
# libarchive writes tar and zip; OpenSSL's libcrypto gives SHA-256 for a
# wheel's RECORD.
AR_LIBS := $(shell $(PKG_CONFIG) --libs libarchive libcrypto 2>/dev/null)
AR_CFLAGS := $(shell $(PKG_CONFIG) --cflags libarchive libcrypto 2>/dev/null)
LDLIBS_ALL = $(PY_LIBS) $(AR_LIBS) -lpthread -lm $(LDLIBS)

LIB_SRC := $(sort $(wildcard src/lib/*.c))
CLI_SRC := $(filter-out src/cli/main.c,$(sort $(wildcard src/cli/*.c)))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/src/cli/main.o
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

LIB_A := $(BUILD)/libpycompile-repro.a
VERSION := $(shell sed -n 's/^\#define PCR_VERSION "\(.*\)"/\1/p' include/pycompile_repro.h)
SONAME := libpycompile-repro.so.0
LIB_SO := $(BUILD)/libpycompile-repro.so.$(VERSION)
BIN := $(BUILD)/pycompile-repro
UNIT_BIN := $(BUILD)/unit-tests
REPLAY_BIN := $(BUILD)/fuzz-replay

.PHONY: all deps test check unit sanitize valgrind example format clean bench fuzz fuzz-build install uninstall deb rpm

all: $(BIN) $(LIB_A) $(LIB_SO)

$(LIB_SO): $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LDLIBS_ALL)

$(LIB_A): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(MAIN_OBJ) $(CLI_OBJ) $(LIB_A)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(CLI_OBJ) $(LIB_A) $(LDLIBS_ALL)

# Only the files that talk to CPython see its headers.
PY_SRC = src/lib/interp.c src/lib/compile.c src/lib/regex.c
$(PY_SRC:%.c=$(BUILD)/%.o): EXTRA_CFLAGS = $(PY_CFLAGS) -DPCR_PYTHON_HOME='"$(PY_HOME)"'
$(BUILD)/tests/unit/%.o: EXTRA_CFLAGS = -D_POSIX_C_SOURCE=200809L

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(EXTRA_CFLAGS) -c -o $@ $<

# Criterion's parameterised tests break in a PIE (see docs/design.md).
$(UNIT_BIN): $(UNIT_OBJ) $(CLI_OBJ) $(LIB_A)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -no-pie -o $@ $(UNIT_OBJ) $(CLI_OBJ) $(LIB_A) \
	    $(shell $(PKG_CONFIG) --libs criterion) $(LDLIBS_ALL)

# The fuzz target replayed over saved inputs, in any build.
$(REPLAY_BIN): $(BUILD)/tests/fuzz/fuzz_pyc.o $(BUILD)/tests/fuzz/replay.o $(LIB_A)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(BUILD)/tests/fuzz/fuzz_pyc.o \
	    $(BUILD)/tests/fuzz/replay.o $(LIB_A) $(LDLIBS_ALL)

unit: $(UNIT_BIN) $(REPLAY_BIN)

# libFuzzer with ASan+UBSan (clang), seeded with real .pyc files: ours and
# CPython's compileall output (not canonical).  FUZZ_SECONDS bounds it.
FUZZ_SECONDS ?= 60
fuzz-build:
	$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang SANITIZE=fuzz \
	    build-fuzz/libpycompile-repro.a build-fuzz/tests/fuzz/fuzz_pyc.o
	clang -fsanitize=fuzzer,address,undefined -o build-fuzz/fuzz_pyc \
	    build-fuzz/tests/fuzz/fuzz_pyc.o build-fuzz/libpycompile-repro.a $(LDLIBS_ALL)

fuzz: all fuzz-build
	tests/fuzz/seeds.sh build-fuzz/seeds $(BIN) $(PYTHON)
	mkdir -p build-fuzz/corpus
	build-fuzz/fuzz_pyc -max_total_time=$(FUZZ_SECONDS) -max_len=131072 \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/crash- \
	    build-fuzz/corpus build-fuzz/seeds tests/fuzz/regressions

# The whole suite: normal build, then the sanitizer build.  tests/run.sh
# prints one line per suite and a final "N passed, N failed".
test check: all unit fuzz-build
	$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 all unit
	PYTHON=$(PYTHON) tests/run.sh --fuzz $(FUZZ_SECONDS) --valgrind $(BUILD) build-asan

sanitize:
	$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 all unit
	PYTHON=$(PYTHON) tests/run.sh build-asan

valgrind: all unit
	PYTHON=$(PYTHON) tests/run.sh --valgrind $(BUILD)

example: all
	$(BIN) fixtures/example/greet.py fixtures/example/textstats.py
	@ls -l fixtures/example/__pycache__
	cd fixtures/example && $(PYTHON) -c 'import greet; greet.main()'

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) src/cli/main.c $(UNIT_SRC) \
	    $(wildcard src/lib/*.h src/cli/*.h include/*.h tests/fuzz/*.c)

# Debian packages needed to build and test; installs only what is missing.
DEB_DEPS = gcc make pkg-config libpython3-dev python3.11 libarchive-dev \
           libssl-dev libcriterion-dev valgrind clang libclang-rt-14-dev \
           python3-installer python3-wheel \
           debhelper lintian dpkg-dev fakeroot rpm rpm2cpio cpio man-db git \
           build-essential perl
deps:
	@missing=$$(for p in $(DEB_DEPS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	        grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -q --no-install-recommends $$missing; \
	else echo "build dependencies: all installed"; fi

# Installation (zstd's conventions): PREFIX, DESTDIR and the directories.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PERL5DIR ?= $(PREFIX)/share/perl5
AUTOSCRIPTDIR ?= $(PREFIX)/share/debhelper/autoscripts
RPMCONFIGDIR ?= $(PREFIX)/lib/rpm
RPMMACRODIR ?= $(RPMCONFIGDIR)/macros.d
INSTALL ?= install

# Regenerated every time: it holds PREFIX, which make cannot see change.
.PHONY: $(BUILD)/pycompile-repro.pc
$(BUILD)/pycompile-repro.pc: pycompile-repro.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(LDLIBS_ALL)|' $< > $@

$(BUILD)/dh_pycompile_repro.1: contrib/debian/dh_pycompile_repro
	pod2man --section=1 --center=pycompile-repro --release=$(VERSION) $< $@

install: all $(BUILD)/pycompile-repro.pc $(BUILD)/dh_pycompile_repro.1
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(PKGCONFIGDIR) \
	    $(DESTDIR)$(PERL5DIR)/Debian/Debhelper/Sequence \
	    $(DESTDIR)$(AUTOSCRIPTDIR) $(DESTDIR)$(RPMMACRODIR)
	$(INSTALL) -m 755 $(BIN) $(DESTDIR)$(BINDIR)/pycompile-repro
	$(INSTALL) -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libpycompile-repro.a
	$(INSTALL) -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libpycompile-repro.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libpycompile-repro.so
	$(INSTALL) -m 644 include/pycompile_repro.h $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 644 $(BUILD)/pycompile-repro.pc $(DESTDIR)$(PKGCONFIGDIR)/
	$(INSTALL) -m 644 docs/pycompile-repro.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 755 contrib/debian/dh_pycompile_repro $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 644 $(BUILD)/dh_pycompile_repro.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 644 contrib/debian/pycompile_repro.pm \
	    $(DESTDIR)$(PERL5DIR)/Debian/Debhelper/Sequence/
	$(INSTALL) -m 644 contrib/debian/autoscripts/postinst-pycompile-repro \
	    contrib/debian/autoscripts/prerm-pycompile-repro $(DESTDIR)$(AUTOSCRIPTDIR)/
	$(INSTALL) -m 644 contrib/rpm/macros.pycompile-repro $(DESTDIR)$(RPMMACRODIR)/
	$(INSTALL) -m 755 contrib/rpm/brp-pycompile-repro $(DESTDIR)$(RPMCONFIGDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pycompile-repro $(DESTDIR)$(BINDIR)/dh_pycompile_repro \
	    $(DESTDIR)$(LIBDIR)/libpycompile-repro.a \
	    $(DESTDIR)$(LIBDIR)/libpycompile-repro.so* \
	    $(DESTDIR)$(INCLUDEDIR)/pycompile_repro.h \
	    $(DESTDIR)$(PKGCONFIGDIR)/pycompile-repro.pc \
	    $(DESTDIR)$(MANDIR)/man1/pycompile-repro.1 \
	    $(DESTDIR)$(MANDIR)/man1/dh_pycompile_repro.1 \
	    $(DESTDIR)$(PERL5DIR)/Debian/Debhelper/Sequence/pycompile_repro.pm \
	    $(DESTDIR)$(AUTOSCRIPTDIR)/postinst-pycompile-repro \
	    $(DESTDIR)$(AUTOSCRIPTDIR)/prerm-pycompile-repro \
	    $(DESTDIR)$(RPMMACRODIR)/macros.pycompile-repro \
	    $(DESTDIR)$(RPMCONFIGDIR)/brp-pycompile-repro

# Packages, into dist/: a Debian binary package (from contrib/debian) and
# an RPM (from contrib/rpm), each built from the committed tree.
SRC_TREE = build/pkgsrc/pycompile-repro-$(VERSION)
deb:
	rm -rf build/pkgsrc && mkdir -p $(SRC_TREE) dist
	git ls-files -z | xargs -0 tar -cf - | tar -xf - -C $(SRC_TREE)
	cp -r contrib/debian/debian $(SRC_TREE)/debian
	cd $(SRC_TREE) && dpkg-buildpackage -us -uc -b
	mv build/pkgsrc/pycompile-repro_$(VERSION)_*.deb dist/
	lintian --fail-on error dist/pycompile-repro_$(VERSION)_*.deb

rpm:
	rm -rf build/rpm && mkdir -p build/rpm/SOURCES dist
	git ls-files -z | xargs -0 tar --transform 's|^|pycompile-repro-$(VERSION)/|' \
	    -czf build/rpm/SOURCES/pycompile-repro-$(VERSION).tar.gz
	rpmbuild --define "_topdir $(CURDIR)/build/rpm" --nodeps -bb contrib/rpm/pycompile-repro.spec
	cp build/rpm/RPMS/*/pycompile-repro-$(VERSION)-*.rpm dist/

clean:
	rm -rf build build-asan build-fuzz dist fixtures/example/__pycache__

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) \
    $(wildcard $(BUILD)/tests/fuzz/*.d)

# Speed against compileall / py_compile on real corpora (see
# tests/bench/bench.py); not part of the test suite.
bench: all
	$(PYTHON) tests/bench/bench.py --tool $(BIN)
