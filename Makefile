# SPDX-License-Identifier: GPL-2.0
# tcpwatch: everything is built out of tree into $(B).
#
#   make            daemon, BPF object + skeleton, test tools
#   make run        install deps, build, start the daemon (BPF source)
#   make test       every test: unit, host integration, QEMU VM
#   make kmod       the kernel module against $(KDIR)
#   make vmtest-debug  the module's suite on a lockdep/KASAN kernel
#   make bench      overhead benchmark
#   make install    [DESTDIR=] [PREFIX=/usr/local]: daemon, man pages,
#                   unit, logrotate, default file, completion, DKMS source,
#                   Prometheus alerting rules and Grafana dashboard
#   make deb        tcpwatch and tcpwatch-dkms .debs in $(B)/deb
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (default 10)
#   make V=1        show full commands

B        ?= build
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
CLANG    ?= clang
CC       ?= gcc
BPFTOOL  ?= $(firstword $(wildcard /usr/sbin/bpftool) bpftool)
KDIR     ?= /lib/modules/$(shell uname -r)/build
# One version for the daemon, the packages and the DKMS tree; the tests
# check it against `tcpwatch version` and debian/changelog.
VERSION  := $(shell cat VERSION)

LIBBPF_CFLAGS := $(shell pkg-config --cflags libbpf 2>/dev/null)
LIBBPF_LIBS   := $(or $(shell pkg-config --libs libbpf 2>/dev/null),-lbpf -lelf -lz)
MNL_LIBS      := $(or $(shell pkg-config --libs libmnl 2>/dev/null),-lmnl)
# tcpwatch top: the screen and the daemon's JSON answers
TOP_LIBS      := $(or $(shell pkg-config --libs ncursesw json-c 2>/dev/null),-lncursesw -ltinfo -ljson-c)
MHD_LIBS      := $(or $(shell pkg-config --libs libmicrohttpd 2>/dev/null),-lmicrohttpd)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	    -Wmissing-prototypes -Wno-unused-parameter
CFLAGS   ?= -O2 -g
# CPPFLAGS and LDFLAGS as the environment gives them: dpkg-buildflags
# passes hardening (_FORTIFY_SOURCE, -z now) through them.
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CPPFLAGS) $(CFLAGS) -Iinclude -Iuser \
	      -I$(B) $(LIBBPF_CFLAGS)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	     -fno-sanitize-recover=all
# sd_notify (Type=notify) and dropping capabilities after start-up
SVC_LIBS      := $(or $(shell pkg-config --libs libsystemd libcap-ng 2>/dev/null),-lsystemd -lcap-ng)
LDLIBS   := $(LIBBPF_LIBS) $(MNL_LIBS) $(TOP_LIBS) $(MHD_LIBS) $(SVC_LIBS) -lpthread

# -mcpu=v3: atomic exchange and compare-and-swap (the drop rate limit)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -Iinclude -Ibpf $(LIBBPF_CFLAGS)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# user/: main.c wires the folders together; each folder is one layer
# (Documentation/architecture.md).
USER_SRCS := $(wildcard user/*.c user/*/*.c)
USER_HDRS := $(wildcard user/*/*.h)
LIB_SRCS  := $(filter-out user/main.c,$(USER_SRCS))
USER_OBJS := $(patsubst user/%.c,$(B)/user/%.o,$(USER_SRCS))
LIB_OBJS  := $(patsubst user/%.c,$(B)/user/%.o,$(LIB_SRCS))
SAN_OBJS  := $(patsubst user/%.c,$(B)/san/user/%.o,$(USER_SRCS))
SAN_LIB_OBJS := $(patsubst user/%.c,$(B)/san/user/%.o,$(LIB_SRCS))
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
SKELS     := $(patsubst bpf/%.bpf.c,$(B)/%.skel.h,$(BPF_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(B)/tests/%,$(TOOL_SRCS))

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps run test unit-test host-test vmtest vmtest-debug kmod kmod-clean bench \
	clean install deb fuzz fuzz-build

all: $(B)/tcpwatch $(B)/san/tcpwatch $(UNIT_BINS) $(TOOL_BINS)

deps:
	$(Q)scripts/install-deps.sh

# -- BPF ----------------------------------------------------------------
$(B)/%.bpf.o: bpf/%.bpf.c bpf/*.h include/uapi/tcpwatch.h | $(B)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(B)/%.skel.h: $(B)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# -- daemon -------------------------------------------------------------
$(B)/user/%.o: user/%.c $(USER_HDRS) include/uapi/tcpwatch.h $(SKELS) | $(B)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/san/user/%.o: user/%.c $(USER_HDRS) include/uapi/tcpwatch.h $(SKELS) | $(B)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(B)/tcpwatch: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(B)/san/tcpwatch: $(SAN_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) $^ $(LDLIBS) -o $@

# -- tests --------------------------------------------------------------
# Unit tests link the daemon's objects (sanitized) minus main().
$(B)/tests/test_%: tests/unit/test_%.c tests/unit/*.h $(SAN_LIB_OBJS) | $(B)
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -Itests/unit $< $(SAN_LIB_OBJS) \
		$(LDLIBS) -ljson-c -o $@

$(B)/tests/%: tests/tools/%.c include/uapi/tcpwatch.h | $(B)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< -lpthread -o $@

test: deps all fuzz-build
	$(Q)B=$(B) tests/run.sh

unit-test: all
	$(Q)B=$(B) tests/run.sh unit

host-test: all
	$(Q)B=$(B) tests/run.sh host

vmtest: all
	$(Q)B=$(B) tests/run.sh vm

# The module's suite (with TCPW_CYCLES load/unload cycles, default 100) on
# a debug kernel built from Debian's linux-source-6.1: lockdep, KASAN, RCU
# and atomic-sleep checks. Not part of make test: the first build takes
# ~25 min on 2 cores (scripts/vm/debug-kernel.sh), a boot under TCG ~1 min.
vmtest-debug: all
	$(Q)scripts/install-deps.sh --vm-debug
	$(Q)tree=$$(B=$(B) scripts/vm/debug-kernel.sh) && \
		B=$(B) TCPW_VM_KVERS=" " TCPW_VM_TREE=$$tree \
		scripts/vm/run.sh tests/vm/kmod.sh

# -- fuzzing ------------------------------------------------------------
# libFuzzer targets (tests/fuzz/fuzz_*.c) against the daemon's objects
# built by clang with ASan/UBSan. `make fuzz` runs each for
# FUZZ_SECONDS from the seeds in tests/fuzz/corpus/<target>/ (new inputs
# go to $(B)/fuzz/corpus/<target>/) and prints its executions.
FUZZ_SECONDS ?= 10
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS := $(patsubst user/%.c,$(B)/fuzz/user/%.o,$(LIB_SRCS))
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=all \
	     -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wno-unused-parameter \
	       -Iinclude -Iuser -I$(B) $(LIBBPF_CFLAGS) $(FUZZ_SAN)

$(B)/fuzz/user/%.o: user/%.c $(USER_HDRS) include/uapi/tcpwatch.h $(SKELS) | $(B)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_OBJS) | $(B)
	$(call msg,LINK-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJS) \
		$(LDLIBS) -ljson-c -lm -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: deps fuzz-build
	$(Q)B=$(B) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

# -- run ----------------------------------------------------------------
run: deps all
	$(B)/tcpwatch run --source $(or $(SOURCE),bpf) $(ARGS)

# -- install ------------------------------------------------------------
# Packages use PREFIX=/usr. /etc stays /etc, and the unit goes where
# systemd looks: /lib/systemd/system for /usr (Debian 12), else
# $(PREFIX)/lib/systemd/system (in systemd's search path for /usr/local).
PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
DKMSDIR  ?= $(PREFIX)/src/tcpwatch-$(VERSION)
SYSCONFDIR ?= /etc
DATADIR  ?= $(PREFIX)/share/tcpwatch
# kmod/*.mod.c is generated by a previous make kmod.
KMOD_SRCS := kmod/Kbuild $(filter-out %.mod.c,$(wildcard kmod/*.c kmod/*.h))

install: $(B)/tcpwatch
	install -D -m 0755 $(B)/tcpwatch $(DESTDIR)$(SBINDIR)/tcpwatch
	install -D -m 0644 man/tcpwatch.8 $(DESTDIR)$(MANDIR)/man8/tcpwatch.8
	install -D -m 0644 man/tcpwatch.4 $(DESTDIR)$(MANDIR)/man4/tcpwatch.4
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/sbin/tcpwatch|$(SBINDIR)/tcpwatch|' \
		contrib/systemd/tcpwatch.service > $(DESTDIR)$(UNITDIR)/tcpwatch.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tcpwatch.service
	install -D -m 0644 contrib/default/tcpwatch $(DESTDIR)$(SYSCONFDIR)/default/tcpwatch
	install -D -m 0644 contrib/logrotate/tcpwatch $(DESTDIR)$(SYSCONFDIR)/logrotate.d/tcpwatch
	install -D -m 0644 contrib/bash-completion/tcpwatch $(DESTDIR)$(BASHCOMPDIR)/tcpwatch
	install -D -m 0644 contrib/prometheus/tcpwatch-rules.yml $(DESTDIR)$(DATADIR)/prometheus/tcpwatch-rules.yml
	install -D -m 0644 contrib/grafana/tcpwatch.json $(DESTDIR)$(DATADIR)/grafana/tcpwatch.json
	@# The DKMS tree keeps the repository's layout (kmod/ next to
	@# include/uapi/), so kmod/Kbuild's -I$$(src)/../include finds the ABI.
	install -d $(DESTDIR)$(DKMSDIR)/kmod $(DESTDIR)$(DKMSDIR)/include/uapi
	install -m 0644 $(KMOD_SRCS) $(DESTDIR)$(DKMSDIR)/kmod/
	install -m 0644 include/uapi/tcpwatch.h $(DESTDIR)$(DKMSDIR)/include/uapi/
	sed 's/@VERSION@/$(VERSION)/' kmod/dkms.conf.in > $(DESTDIR)$(DKMSDIR)/dkms.conf
	chmod 0644 $(DESTDIR)$(DKMSDIR)/dkms.conf

# -- Debian packages ----------------------------------------------------
# Built from a copy of the tree in $(B)/deb/src, so that
# dpkg-buildpackage's ../*.deb land in $(B)/deb and debian/ stays clean.
deb:
	$(Q)B=$(B) scripts/deb.sh

# -- kernel module ------------------------------------------------------
# KDIR: the headers of the kernel to build for; the VM stage passes the
# Debian kernel's (scripts/vm/run.sh picks it).
kmod:
	$(Q)test -f $(KDIR)/Makefile || { \
		echo "make kmod: no kernel headers in $(KDIR): install linux-headers-$$(uname -r)," \
		     "or pass KDIR=/lib/modules/<version>/build" >&2; exit 1; }
	$(Q)$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod modules

kmod-clean:
	$(Q)test ! -f $(KDIR)/Makefile || \
		$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean

# -- benchmark ----------------------------------------------------------
# churn: the loopback connection generator; replay: the consumer's record
# path (the daemon's -O2 objects minus main()) fed a synthetic stream.
BENCH_BINS := $(B)/bench/churn $(B)/bench/replay

# The module's conditions run in the QEMU VM (scripts/vm/bench-kmod.sh)
# when it can start: QEMU and a kernel with modules and headers.
bench: deps all $(BENCH_BINS)
	$(Q)B=$(B) scripts/bench.sh
	$(Q)if command -v qemu-system-x86_64 >/dev/null && \
	    ls /lib/modules/*/build/Makefile >/dev/null 2>&1; then \
		B=$(B) TCPW_VM_TIMEOUT=$${TCPW_VM_TIMEOUT:-1800} \
			scripts/vm/run.sh scripts/vm/bench-kmod.sh; \
	else \
		echo "bench: no QEMU VM here (qemu-system-x86 and linux-headers-amd64: scripts/install-deps.sh): the kmod conditions did not run" >&2; \
	fi

$(B)/bench/churn: tests/bench/churn.c | $(B)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< -lpthread -o $@

$(B)/bench/replay: tests/bench/replay.c $(LIB_OBJS) $(USER_HDRS) | $(B)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(LIB_OBJS) $(LDLIBS) -o $@

$(B):
	$(Q)mkdir -p $(B)/user $(B)/san/user $(B)/tests

clean:
	rm -rf $(B)
	-rm -f kmod/*.o kmod/*.ko kmod/*.mod* kmod/.*.cmd kmod/Module.symvers \
		kmod/modules.order
