# kvfs: one GNU Makefile.  Targets: all check lint install clean mount
# umount soak bench bench-sync.  Quiet unless V=1.

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS = fuse3 sqlite3 inih jansson libcurl

CFLAGS ?= -O2 -g
WARN = -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter
ifdef CI
WARN += -Werror
endif
ifdef SANITIZE
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif
CPPFLAGS += -D_GNU_SOURCE -DFUSE_USE_VERSION=314 -Isrc
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
LIBS = $(PKG_LIBS) -lpthread

ifndef V
Q = @
QCC = @echo "  CC      $@";
QLD = @echo "  LD      $@";
endif

SRCS = \
	src/attr.c \
	src/cli.c \
	src/config.c \
	src/file.c \
	src/inode.c \
	src/fs.c \
	src/log.c \
	src/main.c \
	src/name.c \
	src/notify.c \
	src/perm.c \
	src/remote.c \
	src/store_pending.c \
	src/store_remote.c \
	src/store_sqlite.c

UNIT_TESTS = \
	tests/unit/test_attr.bin \
	tests/unit/test_config.bin \
	tests/unit/test_name.bin \
	tests/unit/test_perm.bin \
	tests/unit/test_remote.bin \
	tests/unit/test_store.bin

all: kvfs

build/%.o: src/%.c
	@mkdir -p build
	$(QCC)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(WARN) $(CFLAGS) -MMD -MP \
		-c -o $@ $<

kvfs: $(SRCS:src/%.c=build/%.o)
	$(QLD)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Each unit test links only the modules it tests.
tests/unit/test_attr.bin: build/attr.o
tests/unit/test_config.bin: build/config.o build/log.o
tests/unit/test_name.bin: build/name.o build/log.o
tests/unit/test_perm.bin: build/perm.o
tests/unit/test_store.bin: build/store_sqlite.o build/store_pending.o \
	build/name.o build/log.o
tests/unit/test_remote.bin: build/remote.o build/log.o

tests/unit/%.bin: tests/unit/%.c tests/unit/check.h
	$(QLD)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(WARN) $(CFLAGS) $(LDFLAGS) \
		-o $@ $< $(filter %.o,$^) $(LIBS)

unit: $(UNIT_TESTS)

# Every test: install what the tests need (missing packages only),
# build, then the unit binaries and the integration scripts that mount.
check:
	$(Q)mount-scripts/setup.sh --tests
	$(Q)$(MAKE) --no-print-directory kvfs unit
	$(Q)tests/run.sh

# libFuzzer harnesses (clang): `make fuzz` runs each for FUZZ_SECONDS over
# the checked-in corpus; make check runs them briefly (t_fuzz.sh).
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 300
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc

build/fuzz/fuzz_name: tests/fuzz/fuzz_name.c src/name.c src/name.h
	@mkdir -p build/fuzz
	$(QLD)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_name.c src/name.c

build/fuzz/fuzz_config: tests/fuzz/fuzz_config.c src/config.c src/log.c
	@mkdir -p build/fuzz
	$(QLD)$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ \
		tests/fuzz/fuzz_config.c src/config.c src/log.c $(PKG_LIBS)

build/fuzz/fuzz_attr: tests/fuzz/fuzz_attr.c src/attr.c src/attr.h \
		src/store_sqlite.c src/store.h src/name.c src/log.c
	@mkdir -p build/fuzz
	$(QLD)$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ \
		tests/fuzz/fuzz_attr.c src/attr.c src/store_sqlite.c \
		src/name.c src/log.c $(PKG_LIBS)

fuzzers: build/fuzz/fuzz_name build/fuzz/fuzz_config build/fuzz/fuzz_attr

fuzz: fuzzers
	$(Q)for f in name config attr; do \
		mkdir -p build/fuzz/found-$$f; \
		build/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=build/fuzz/crash-$$f- \
			build/fuzz/found-$$f tests/fuzz/corpus/$$f || exit 1; \
	done

# Every unit test under valgrind: any memory error or leak (definite,
# indirect or possible) fails.  make check runs it too (t_valgrind.sh).
VALGRIND = valgrind -q --error-exitcode=1 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect,possible

valgrind: unit
	$(Q)fail=0; for t in $(UNIT_TESTS); do \
		echo "  VALGRIND $$t"; \
		$(VALGRIND) --log-file=$$t.valgrind $$t >/dev/null || fail=1; \
		cat $$t.valgrind; rm -f $$t.valgrind; \
	done; exit $$fail

lint:
	$(Q)fail=0; for f in src/*.[ch] tests/unit/*.[ch]; do \
		clang-format --dry-run --Werror $$f || fail=1; done; \
	awk 'length > 80 { print FILENAME ":" FNR ": over 80 columns"; \
		bad = 1 } END { exit bad }' src/*.[ch] || fail=1; \
	exit $$fail

SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system

install: kvfs
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 0755 kvfs $(DESTDIR)$(PREFIX)/bin/kvfs
	install -m 0644 man/kvfs.1 $(DESTDIR)$(PREFIX)/share/man/man1/kvfs.1
	sed 's|@BINDIR@|$(PREFIX)/bin|' mount-scripts/kvfs@.service \
		>$(DESTDIR)$(SYSTEMD_UNIT_DIR)/kvfs@.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/kvfs@.service

# Install what is missing, build, mount the default config on $(MNT).
MNT = mnt
mount:
	$(Q)mount-scripts/setup.sh
	$(Q)$(MAKE) --no-print-directory kvfs
	$(Q)mount-scripts/mount-default.sh '$(MNT)'

umount:
	$(Q)fusermount3 -u '$(MNT)'

# The long versions of the reliability tests: the soak for 60 s, 50
# files of 25 MiB open at once, 30 crash rounds of each kind.
soak: kvfs
	$(Q)KVFS_SOAK_SEC=60 KVFS_SOAK_FULL=1 KVFS_CRASH_ROUNDS=30 \
		KVFS_TEST_TIMEOUT=1200 tests/run.sh t_soak
	$(Q)KVFS_SOAK_SEC=60 KVFS_SOAK_FULL=1 KVFS_CRASH_ROUNDS=30 \
		KVFS_TEST_TIMEOUT=1200 tests/run.sh t_spill
	$(Q)KVFS_CRASH_ROUNDS=30 KVFS_TEST_TIMEOUT=1200 tests/run.sh t_crash

# What `[store] sync = full` costs against normal (no assertion).
bench-sync: kvfs
	$(Q)bench/sync.sh

# The benchmark: kvfs against tmpfs, passthrough_ll and rclone;
# prints one table.  Counts via BENCH_* (bench/run.sh); BENCH_QUICK=1
# for a smoke run.  Never part of check: it asserts no time.
.PHONY: bench
bench: kvfs
	$(Q)bench/run.sh

clean:
	rm -rf build kvfs tests/unit/*.bin

.PHONY: all unit check lint install mount umount clean fuzzers fuzz \
	valgrind soak bench-sync
-include $(wildcard build/*.d)
