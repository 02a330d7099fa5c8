# OmniRun operator tooling.
#
#   make                 build bin/omnictl bin/omni-console bin/omni-worker bin/omni-sim
#   make check           install missing -dev packages, build, run every test
#   make demo            build, start omni-sim + workers + sessions, open the console
#   make bench           benchmarks (bench/)
#   make format          clang-format the C sources (make check runs format-check)
#   make fuzz FUZZ_SECONDS=N   run every libFuzzer target for N seconds
#   make install PREFIX=/usr/local DESTDIR=
#
# Variables: DEVELOPER=1 (-Werror and a long warning list),
#            SANITIZE=address,undefined (sanitizer build), V=1 (echo commands).

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
PKG_CONFIG ?= pkg-config
FUZZ_SECONDS ?= 3
FUZZ_CC ?= clang

ifneq ($(V),1)
Q = @
QCC = @echo "  CC      $@";
QLD = @echo "  LINK    $@";
QAR = @echo "  AR      $@";
endif

pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

CURL_LIBS   = $(call pc_libs,libcurl)
CJSON_LIBS  = $(call pc_libs,libcjson)
CURSES_LIBS = $(call pc_libs,ncursesw)
EDIT_LIBS   = $(call pc_libs,libedit)
MHD_LIBS    = $(call pc_libs,libmicrohttpd)
CMOCKA_LIBS = $(call pc_libs,cmocka)
PCRE_LIBS   = $(call pc_libs,libpcre2-8)
ARCHIVE_LIBS = $(call pc_libs,libarchive)
SECCOMP_LIBS = $(call pc_libs,libseccomp)
CRYPTO_LIBS = $(call pc_libs,libcrypto)
DEP_CFLAGS  = $(call pc_cflags,libcurl libcjson ncursesw libedit libmicrohttpd libpcre2-8 libseccomp libcrypto)

# Two warnings are off in every build, the default one included (which must
# print none): callbacks keep their table's signature whether or not they use
# every parameter, and every snprintf into a fixed buffer truncates on purpose.
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Wno-unused-parameter \
              -Wno-format-truncation -MMD -MP -Ilib $(DEP_CFLAGS)
DEV_CFLAGS  = -Werror -Wshadow -Wformat=2 -Wformat-security -Wstrict-prototypes \
              -Wmissing-prototypes -Wold-style-definition -Wpointer-arith -Wcast-align \
              -Wwrite-strings -Wundef -Wvla -Wnull-dereference -Wdouble-promotion \
              -Wimplicit-fallthrough
ifneq ($(findstring clang,$(shell $(CC) --version 2>/dev/null | head -1)),)
DEV_CFLAGS += -Wno-unknown-warning-option
endif
ifeq ($(DEVELOPER),1)
BASE_CFLAGS += $(DEV_CFLAGS)
endif
ifneq ($(SANITIZE),)
BASE_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_LDFLAGS  = -fsanitize=$(SANITIZE)
endif
ALL_CFLAGS  = $(BASE_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_LDFLAGS) $(LDFLAGS)

# B=name builds everything under build-name/ (objects, archive, programs), so
# several builds can share one tree; tests then run with OMNI_BIN=build-name/bin.
ifneq ($(B),)
BUILD = build-$(B)
LIB   = $(BUILD)/libomni.a
BIN   = $(BUILD)/bin
else
BUILD = build
LIB   = lib/libomni.a
BIN   = bin
endif
export OMNI_BIN := $(abspath $(BIN))

LIB_SRCS     = $(wildcard lib/*.c)
ADMIN_SRCS   = $(wildcard admin/*.c)
CONSOLE_SRCS = $(wildcard console/*.c)
WORKER_SRCS  = $(wildcard worker/*.c)
SIM_SRCS     = $(wildcard sim/*.c)
UNIT_SRCS    = $(wildcard tests/unit/test_*.c)
FUZZ_SRCS    = $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

# A program is built once its main.c exists.
PROGRAMS = $(if $(wildcard admin/main.c),$(BIN)/omnictl) $(if $(wildcard console/main.c),$(BIN)/omni-console) \
           $(if $(wildcard worker/main.c),$(BIN)/omni-worker $(BIN)/omni-exec) $(if $(wildcard sim/main.c),$(BIN)/omni-sim)
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
FZ = build-fuzz$(if $(B),-$(B))
FUZZ_BINS = $(patsubst tests/fuzz/%.c,$(FZ)/%,$(FUZZ_SRCS))

# Worker objects other than main are linked into unit tests of the toolset.
WORKER_LIB_OBJS  = $(call obj,$(filter-out worker/main.c,$(WORKER_SRCS)))
SIM_LIB_OBJS     = $(call obj,$(filter-out sim/main.c,$(SIM_SRCS)))
ADMIN_LIB_OBJS   = $(call obj,$(filter-out admin/main.c,$(ADMIN_SRCS)))
CONSOLE_LIB_OBJS = $(call obj,$(filter-out console/main.c,$(CONSOLE_SRCS)))

.PHONY: format format-check microvm valgrind all check unit integration fuzz fuzz-smoke bench demo install clean deps soak conformance
all: $(PROGRAMS)

deps:
	$(Q)OMNI_DEPS_NODE=1 bash scripts/deps

# Rebuild everything when the flags change.
$(BUILD)/CFLAGS.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS)' > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi
FORCE:

$(BUILD)/%.o: %.c $(BUILD)/CFLAGS.stamp
	@mkdir -p $(dir $@)
	$(QCC)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(call obj,$(LIB_SRCS))
	$(QAR)rm -f $@ && ar rcs $@ $^

$(BIN)/omnictl: $(call obj,$(ADMIN_SRCS)) $(LIB)
	@mkdir -p $(BIN)
	$(QLD)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(EDIT_LIBS) $(MHD_LIBS) $(CURL_LIBS) $(CJSON_LIBS) -lpthread -lm

$(BIN)/omni-console: $(call obj,$(CONSOLE_SRCS)) $(LIB)
	@mkdir -p $(BIN)
	$(QLD)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CURSES_LIBS) $(CURL_LIBS) $(CJSON_LIBS) -lpthread -lm

$(BIN)/omni-worker: $(call obj,$(WORKER_SRCS)) $(LIB)
	@mkdir -p $(BIN)
	$(QLD)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PCRE_LIBS) $(ARCHIVE_LIBS) $(CURL_LIBS) $(CJSON_LIBS) -lpthread -lm

# The tool executor: the toolset and the executor protocol, no HTTP, no credential.
$(BIN)/omni-exec: $(call obj,$(wildcard worker/guest/*.c)) $(BUILD)/libworker.a $(LIB)
	@mkdir -p $(BIN)
	$(QLD)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SECCOMP_LIBS) $(PCRE_LIBS) $(CJSON_LIBS) -lpthread -lm

$(BIN)/omni-sim: $(call obj,$(SIM_SRCS)) $(LIB)
	@mkdir -p $(BIN)
	$(QLD)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(MHD_LIBS) $(ARCHIVE_LIBS) $(CURL_LIBS) $(CRYPTO_LIBS) $(CJSON_LIBS) -lpthread -lm

# Unit tests link the library plus each program's non-main objects through
# archives, so a test pulls in only the objects it uses.
PROG_ARCHIVES = $(BUILD)/libworker.a $(BUILD)/libsim.a $(BUILD)/libadmin.a $(BUILD)/libconsole.a
$(BUILD)/libworker.a: $(WORKER_LIB_OBJS)
$(BUILD)/libsim.a: $(SIM_LIB_OBJS)
$(BUILD)/libadmin.a: $(ADMIN_LIB_OBJS)
$(BUILD)/libconsole.a: $(CONSOLE_LIB_OBJS)
$(PROG_ARCHIVES):
	@mkdir -p $(dir $@)
	$(QAR)rm -f $@ && ar rcs $@ $^
$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(PROG_ARCHIVES) $(LIB)
	$(QLD)$(CC) $(ALL_LDFLAGS) -o $@ $< -Wl,--start-group $(PROG_ARCHIVES) $(LIB) -Wl,--end-group \
	    $(CMOCKA_LIBS) $(MHD_LIBS) $(CURSES_LIBS) $(EDIT_LIBS) $(PCRE_LIBS) $(ARCHIVE_LIBS) $(CURL_LIBS) $(CRYPTO_LIBS) $(CJSON_LIBS) -lpthread -lm

unit: $(UNIT_BINS)
	$(Q)fail=0; for t in $(UNIT_BINS); do \
	    echo "== $$t"; $$t || fail=1; done; exit $$fail

# The microVM guest (--sandbox microvm): Debian's cloud kernel and an
# initramfs with omni-exec, built by scripts/microvm-image (its downloads,
# from the Debian registry only, are cached). A host where it cannot be built
# goes on without it: the microVM tests then skip and say why.
microvm: $(BIN)/omni-exec
	$(Q)bash scripts/microvm-image --exec $(BIN)/omni-exec --out $(BIN)/microvm || \
	    { rm -rf $(BIN)/microvm; echo "make: the microVM guest was not built (its tests skip)" >&2; }

# A test driver of the egress proxy (t5420)
EGRESS_TRY = $(BUILD)/tests/helpers/egress-try
$(EGRESS_TRY): $(BUILD)/tests/helpers/egress-try.o $(BUILD)/worker/egress.o $(LIB)
	$(QLD)$(CC) $(ALL_LDFLAGS) -o $@ $^

# The simulator, omnictl and layout tests (t0-t2: no sandbox, no session uids,
# no terminal timing) and the worker tests that mostly wait (credentials,
# memory stores, threads, TLS and hostile servers: refusals and timeouts, no
# time bound tighter than seconds) run two at a time; the rest one at a time.
INTEGRATION_PAR = $(sort $(wildcard tests/integration/t[012]*.t) \
                    $(addprefix tests/integration/,t3010-worker-creds.t t3080-worker-memory.t \
                      t3150-worker-threads.t t5100-tls-private-ca.t t5200-hostile-responses.t \
                      t5200-hostile-worker.t))
INTEGRATION_SEQ = $(filter-out $(INTEGRATION_PAR),$(sort $(wildcard tests/integration/t*.t)))
integration: $(PROGRAMS) microvm $(EGRESS_TRY)
	$(Q)fail=0; export OMNI_BIN=$(abspath $(BIN)); \
	    prove -f --timer -j2 $(INTEGRATION_PAR) || fail=1; \
	    prove -f --timer $(INTEGRATION_SEQ) || fail=1; exit $$fail

# libFuzzer targets: built with clang, separately from the normal build.
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -Ilib $(DEP_CFLAGS) \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
$(FZ)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(QCC)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
$(FZ)/other/%.o: %.c
	@mkdir -p $(dir $@)
	$(QCC)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<
FUZZ_LIB_OBJS = $(patsubst lib/%.c,$(FZ)/lib/%.o,$(LIB_SRCS))
FUZZ_EXTRA_OBJS = $(patsubst %.c,$(FZ)/other/%.o,$(filter-out worker/main.c sim/main.c admin/main.c,$(WORKER_SRCS) $(SIM_SRCS) $(ADMIN_SRCS)))
# Program objects go in through an archive: a target pulls only what it uses
# (some reference symbols of the programs' main.c).
$(FZ)/libfuzzextra.a: $(FUZZ_EXTRA_OBJS)
	$(QAR)rm -f $@ && ar rcs $@ $^
$(FZ)/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS) $(FZ)/libfuzzextra.a
	@mkdir -p $(FZ)
	$(QLD)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< -Wl,--start-group $(FUZZ_LIB_OBJS) $(FZ)/libfuzzextra.a -Wl,--end-group \
	    $(MHD_LIBS) $(EDIT_LIBS) $(PCRE_LIBS) $(ARCHIVE_LIBS) $(CURL_LIBS) $(CRYPTO_LIBS) $(CJSON_LIBS) -lpthread -lm

# Keep the fuzz objects: they are intermediate to make, but rebuilding them
# with clang on every run costs more than the run.
.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZ_EXTRA_OBJS)

fuzz: $(FUZZ_BINS)
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_DIR=$(FZ) bash tests/fuzz/run.sh $(FUZZ_BINS)
fuzz-smoke: $(FUZZ_BINS)
	$(Q)FUZZ_SECONDS=2 FUZZ_DIR=$(FZ) bash tests/fuzz/run.sh $(FUZZ_BINS)

# The C sources as git tracks them (every .c and .h when this is no checkout).
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null | grep . || \
                find lib admin console worker sim tests bench -name '*.[ch]')
CLANG_FORMAT ?= clang-format

format:
	$(Q)$(CLANG_FORMAT) -i $(FORMAT_SRCS)
format-check:
	$(Q)$(CLANG_FORMAT) --dry-run -Werror $(FORMAT_SRCS) || \
	    { echo "make: these files need \`make format' ($(CLANG_FORMAT) --version: $$($(CLANG_FORMAT) --version))" >&2; exit 1; }

check: deps
	$(Q)$(MAKE) --no-print-directory format-check
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS)
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory integration
	$(Q)if command -v $(FUZZ_CC) >/dev/null; then $(MAKE) --no-print-directory fuzz-smoke; fi

# The omnictl and omni-worker integration tests again, under valgrind.
valgrind: all
	$(Q)OMNI_VALGRIND=1 OMNI_BIN=$(abspath $(BIN)) prove -f --timer $(wildcard tests/integration/t2*-omnictl-*.t tests/integration/t3*-worker-*.t)

bench: deps all
	$(Q)OMNI_DEPS_BENCH=1 bash scripts/deps
	$(Q)bash bench/run.sh

demo: deps all
	$(Q)bash scripts/demo

soak: deps all
	$(Q)bash tests/soak/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(filter-out %/omni-exec,$(PROGRAMS)) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(wildcard man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1/
	$(if $(wildcard man/*.8),install -m 0644 $(wildcard man/*.8) $(DESTDIR)$(PREFIX)/share/man/man8/)
	install -d $(DESTDIR)$(PREFIX)/lib/omni $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0644 worker/omni-worker.service $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -m 0644 worker/omni-worker-unprivileged.conf $(DESTDIR)$(PREFIX)/lib/omni/
	install -m 0755 $(BIN)/omni-exec $(DESTDIR)$(PREFIX)/lib/omni/
	install -m 0755 $(wildcard worker/spawn/*.sh) worker/spawn/firecracker-config $(DESTDIR)$(PREFIX)/lib/omni/
	$(if $(wildcard $(BIN)/microvm/vmlinuz),install -d $(DESTDIR)$(PREFIX)/lib/omni/microvm && \
	    install -m 0644 $(BIN)/microvm/vmlinuz $(BIN)/microvm/initrd.img $(BIN)/microvm/manifest \
	        $(DESTDIR)$(PREFIX)/lib/omni/microvm/)

clean:
	rm -rf $(BUILD) $(FZ) $(BIN) $(LIB)

-include $(shell find $(BUILD) $(FZ) -name '*.d' 2>/dev/null)
