# workqd: one Makefile, every knob at the top and overridable.
#
#   make                      build daemon/workqd, daemon/workqctl, plugins/*.so
#   make check                unit and integration tests (each under a timeout)
#   make check SANITIZE=address,undefined    the same, instrumented (builds in build/)
#   make install PREFIX=/usr DESTDIR=/tmp/stage
#   make deps                 install the Debian 12 packages needed to build, test, run
#   make run                  private redis-server + workqd on the sample config
#   make bench                the benchmark (see README, Performance)

VERSION      = 0.1.0

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib
PLUGINDIR   ?= $(LIBDIR)/workqd/plugins
INCLUDEDIR  ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SYSCONFDIR  ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR     ?= $(LIBDIR)/systemd/system
MANDIR      ?= $(PREFIX)/share/man
DESTDIR     ?=

CC          ?= cc
PKG_CONFIG  ?= pkg-config
INSTALL     ?= install
CFLAGS      ?= -O2 -g
LDFLAGS     ?=
WERROR      ?=
SANITIZE    ?=
TEST_TIMEOUT ?= 300
V           ?=

comma := ,
ifneq ($(SANITIZE),)
O ?= build/san-$(subst $(comma),-,$(SANITIZE))
else
O ?= .
endif

ifeq ($(V),)
Q = @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

PKGS        = libevent hiredis yaml-0.1
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
DEP_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)
LIBEVENT_LIBS := $(shell $(PKG_CONFIG) --libs libevent 2>/dev/null)

WARN        = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Wpointer-arith -Wformat=2 -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARN       += -Werror
endif
ifneq ($(SANITIZE),)
SANFLAGS    = -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

ALL_CPPFLAGS = -D_GNU_SOURCE -Icore/include -iquote core -DWQ_VERSION='"$(VERSION)"' \
               -DWQ_PLUGINDIR='"$(PLUGINDIR)"' -DWQ_SYSCONFDIR='"$(SYSCONFDIR)"' $(CPPFLAGS)
ALL_CFLAGS   = -std=c11 -pthread -fPIC $(CFLAGS) $(WARN) $(SANFLAGS) $(DEP_CFLAGS) -MMD -MP
ALL_LDFLAGS  = -pthread $(SANFLAGS) $(LDFLAGS)
LIBS         = $(DEP_LIBS) -ldl -lm
PLUGIN_LDFLAGS = -shared -Wl,-z,defs -Wl,-z,noexecstack

CORE_SRC    = $(sort $(wildcard core/*.c))
CORE_OBJ    = $(CORE_SRC:%.c=$(O)/%.o)
LIBCORE     = $(O)/core/libworkqd.a
CTL_SRC     = $(sort $(wildcard daemon/ctl*.c))
WORKQD_SRC  = $(filter-out $(CTL_SRC),$(sort $(wildcard daemon/*.c)))
WORKQD      = $(O)/daemon/workqd
WORKQCTL    = $(if $(CTL_SRC),$(O)/daemon/workqctl)
PLUGINS     = $(patsubst %.c,$(O)/%.so,$(sort $(wildcard plugins/*.c)))
TEST_PLUGINS = $(patsubst %.c,$(O)/%.so,$(sort $(wildcard tests/plugins/*.c tests/fixtures/*.c)))
UNIT_TESTS  = $(patsubst %.c,$(O)/%,$(sort $(wildcard tests/unit/test_*.c)))
UNIT_SUPPORT = $(filter-out tests/unit/test_%,$(sort $(wildcard tests/unit/*.c)))
UNIT_SUPPORT_OBJ = $(UNIT_SUPPORT:%.c=$(O)/%.o)
INTEGRATION = $(sort $(wildcard tests/integration/t_*.sh))
BENCH_SRC   = $(sort $(wildcard tests/bench/*.c))
BENCH_BIN   = $(patsubst %.c,$(O)/%,$(BENCH_SRC))

ALL_OBJ     = $(CORE_OBJ) $(WORKQD_SRC:%.c=$(O)/%.o) $(CTL_SRC:%.c=$(O)/%.o) $(UNIT_SUPPORT_OBJ)

.PHONY: all check check-unit check-valgrind check-integration check-faults check-systemd install uninstall \
        clean deps run bench fuzz options
.DELETE_ON_ERROR:

all: $(WORKQD) $(WORKQCTL) $(PLUGINS) $(O)/workqd.pc

options:
	@echo "CC=$(CC) CFLAGS=$(ALL_CFLAGS)"
	@echo "PREFIX=$(PREFIX) PLUGINDIR=$(PLUGINDIR) SYSCONFDIR=$(SYSCONFDIR) UNITDIR=$(UNITDIR) O=$(O)"

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

# The installation paths compiled into workqd and workqctl (the default
# config file and plugin directory) and written into workqd.pc: rebuilt
# when they change.
PATHS_STAMP = $(O)/.paths
PATHS = $(PREFIX) $(PLUGINDIR) $(SYSCONFDIR) $(INCLUDEDIR) $(PKGCONFIGDIR)
$(PATHS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(PATHS)' | cmp -s - $@ || echo '$(PATHS)' > $@
$(O)/daemon/main.o $(O)/daemon/ctl.o $(O)/core/conf.o: $(PATHS_STAMP)
.PHONY: FORCE
FORCE:

$(LIBCORE): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(WORKQD): $(WORKQD_SRC:%.c=$(O)/%.o) $(LIBCORE)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

$(O)/daemon/workqctl: $(CTL_SRC:%.c=$(O)/%.o) $(LIBCORE)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

# Plugins include only <workqd/plugin.h> and link with -z defs: every symbol
# they use must come from a library they name (the host table covers workqd).
$(O)/plugins/http.so: PLUGIN_LIBS = $(LIBEVENT_LIBS)
$(O)/%.so: %.c core/include/workqd/plugin.h
	@mkdir -p $(dir $@)
	$(call say,SO,$@)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(PLUGIN_LDFLAGS) $< $(PLUGIN_LIBS) -o $@
	@chmod go-w $@

# Relocatable when the layout is the default one: pkg-config finds the
# header next to the .pc file, also in a DESTDIR staging tree.
PC_PREFIX = $(if $(and $(filter $(PREFIX)/include,$(INCLUDEDIR)),$(filter $(PREFIX)/lib/pkgconfig,$(PKGCONFIGDIR))),$${pcfiledir}/../..,$(PREFIX))
PC_INCLUDEDIR = $(if $(filter $(PREFIX)/include,$(INCLUDEDIR)),$${prefix}/include,$(INCLUDEDIR))

$(O)/workqd.pc: Makefile $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	$(Q)printf '%s\n' 'prefix=$(PC_PREFIX)' 'includedir=$(PC_INCLUDEDIR)' 'plugindir=$(PLUGINDIR)' '' \
	  'Name: workqd' 'Description: workqd job handler plugin SDK' 'Version: $(VERSION)' \
	  'Cflags: -I$${includedir} -fPIC' 'Libs: -shared -Wl,-z,defs -Wl,-z,noexecstack' > $@

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(UNIT_SUPPORT_OBJ) $(LIBCORE)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) $^ $(LIBS) $(CMOCKA_LIBS) -o $@

$(O)/tests/bench/%: $(O)/tests/bench/%.o $(LIBCORE)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@

check: check-unit check-integration

check-unit: $(UNIT_TESTS) $(TEST_PLUGINS)
	@fail=0; for t in $(UNIT_TESTS); do \
	  echo "== $$t"; \
	  WQ_TEST_PLUGIN_DIR=$(O)/tests/fixtures timeout -k 5 $(TEST_TIMEOUT) $$t || fail=1; \
	done; exit $$fail

# Every unit test under valgrind's memcheck (a build without sanitizers):
# any error or leak fails it.
VALGRIND ?= valgrind --quiet --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --track-fds=no
check-valgrind: all $(UNIT_TESTS) $(TEST_PLUGINS)
	@fail=0; for t in $(UNIT_TESTS); do \
	  echo "== valgrind $$t"; \
	  WQ_TEST_SLOW=1 WQ_TEST_PLUGIN_DIR=$(O)/tests/fixtures timeout -k 5 $(TEST_TIMEOUT) \
	    $(VALGRIND) $$t > $$t.valgrind.log 2>&1 || { fail=1; tail -n 40 $$t.valgrind.log; }; \
	done; \
	O=$(O) WQ_VALGRIND=1 sh tests/run-integration.sh $(VALGRIND_INTEGRATION) || fail=1; \
	exit $$fail

# The daemon under valgrind, end to end (tests that stop it while a
# handler still runs skip teardown on purpose and are left out).
VALGRIND_INTEGRATION = tests/integration/t_skeleton.sh tests/integration/t_retry.sh \
	tests/integration/t_badinput.sh tests/integration/t_http.sh \
	tests/integration/t_auth.sh tests/integration/t_connect.sh

check-integration: all $(TEST_PLUGINS) $(BENCH_BIN)
	@O=$(O) sh tests/run-integration.sh $(INTEGRATION)

check-faults: all $(TEST_PLUGINS) $(BENCH_BIN)
	@O=$(O) sh tests/run-integration.sh $(sort $(wildcard tests/faults/f_*.sh))

check-systemd: all $(TEST_PLUGINS)
	@O=$(O) timeout -k 15 600 sh tests/systemd/run.sh

# libFuzzer targets (clang): tests/fuzz/fuzz_NAME.c, seeded from
# tests/fuzz/corpus/NAME/, each run FUZZ_SECONDS with ASan and UBSan.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SRC      = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN      = $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_RUNS     = $(FUZZ_SRC:tests/fuzz/fuzz_%.c=fuzz-%)

FUZZ_FLAGS    = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJ      = $(CORE_SRC:%.c=build/fuzz/%.o)

build/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link \
	  $(ALL_CPPFLAGS) $(DEP_CFLAGS) -MMD -MP -c $< -o $@

build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(FUZZ_OBJ)
	$(call say,LD,$@)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $^ $(LIBS) -o $@

.PRECIOUS: build/fuzz/fuzz_% build/fuzz/%.o

fuzz: $(FUZZ_RUNS)

fuzz-%: build/fuzz/fuzz_%
	@rm -rf build/fuzz/work-$* && mkdir -p build/fuzz/work-$*
	@echo "== fuzz $* for $(FUZZ_SECONDS)s"
	$(Q)./build/fuzz/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	  -print_final_stats=1 build/fuzz/work-$* tests/fuzz/corpus/$* \
	  > build/fuzz/fuzz-$*.log 2>&1; rc=$$?; \
	  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' build/fuzz/fuzz-$*.log; \
	  if [ $$rc -ne 0 ]; then tail -n 60 build/fuzz/fuzz-$*.log; exit 1; fi

bench: all $(BENCH_BIN) $(TEST_PLUGINS)
	@O=$(O) sh tests/bench/run.sh

deps:
	@sh daemon/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@O=$(O) sh daemon/run-demo.sh

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(INCLUDEDIR)/workqd \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/workqd \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0755 $(WORKQD) $(WORKQCTL) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0755 $(PLUGINS) $(DESTDIR)$(PLUGINDIR)/
	$(INSTALL) -m 0644 core/include/workqd/plugin.h $(DESTDIR)$(INCLUDEDIR)/workqd/plugin.h
	$(INSTALL) -m 0644 $(O)/workqd.pc $(DESTDIR)$(PKGCONFIGDIR)/workqd.pc
	for u in systemd/*.service; do \
	  sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	      -e 's|@PLUGINDIR@|$(PLUGINDIR)|g' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/}; \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}; done
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/workqd/workqd.yaml ]; then \
	  echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/workqd/workqd.yaml"; \
	else \
	  sed -e 's|@PLUGINDIR@|$(PLUGINDIR)|g' etc/workqd.yaml > $(DESTDIR)$(SYSCONFDIR)/workqd/workqd.yaml; \
	  chmod 0644 $(DESTDIR)$(SYSCONFDIR)/workqd/workqd.yaml; fi
	for m in daemon/*.5 daemon/*.8; do [ -e "$$m" ] || continue; \
	  $(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/workqd $(DESTDIR)$(BINDIR)/workqctl \
	  $(DESTDIR)$(INCLUDEDIR)/workqd/plugin.h $(DESTDIR)$(PKGCONFIGDIR)/workqd.pc \
	  $(DESTDIR)$(UNITDIR)/workqd.service $(DESTDIR)$(UNITDIR)/workqd@.service \
	  $(DESTDIR)$(MANDIR)/man8/workqd.8 $(DESTDIR)$(MANDIR)/man5/workqd.yaml.5
	rm -f $(PLUGINS:$(O)/plugins/%=$(DESTDIR)$(PLUGINDIR)/%)
	@echo "left $(DESTDIR)$(SYSCONFDIR)/workqd/workqd.yaml in place"

clean:
	rm -rf build run
	find . -name '*.o' -o -name '*.d' -o -name '*.so' -o -name '*.a' | grep -v '^./.git' | xargs rm -f
	rm -f $(WORKQD) $(WORKQCTL) $(UNIT_TESTS) $(BENCH_BIN) workqd.pc

-include $(ALL_OBJ:.o=.d) $(wildcard build/fuzz/core/*.d build/fuzz/tests/fuzz/*.d)
