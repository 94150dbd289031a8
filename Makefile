# SPDX-License-Identifier: GPL-2.0
#
# vlab: build the VMM, its tests, guest payloads and the guest kernel.
#
#   make            build build/vlab
#   make test       unit tests (Check) and KVM payload integration tests
#   make guest      guest kernel + initramfs (slow the first time, cached)
#   make check-linux  boot the guest kernel and check its in-kernel TAP
#   make bench-boot   time to "Run /init", vlab against QEMU
#   make bench-virtq  ring throughput, beside the commit before memory views
#                     and beside Linux's tools/virtio/ringtest
#   make bench-vdpa-datapath  the vDPA NIC's passthrough path beside virtio-net
#   make bench-svq    the same run: passthrough vs the shadow virtqueue
#   make bench-vdpa   vDPA migration downtime step by step, against the records
#   make bench-migrate-local  downtime of mode=local beside pre-copy
#   make bench-hub    64-byte frames between two PMD guests on a hub
#   make bench-rdma   RC WRITE latency and bandwidth, beside the hub's copy limit
#                     and the devices alone (those two need no KVM)
#   make bench-rdma-migrate  an RDMA guest moved under load: downtime, the peer's stall
#   make bench-dash   the dirty payload's write rate with and without vlab dash
#   make demo         two guests on a hub, one moved back and forth under vlab dash
#   make test SANITIZE=1  the tests with ASan + UBSan + LSan (build/san)
#   make fuzz         libFuzzer targets in build/fuzz (clang)
#   make fuzz-smoke   every fuzz target for a fixed number of inputs

CC	?= gcc
O	:= build
CFLAGS	?= -O2 -g

# make test SANITIZE=1: the same VMM and tests built with ASan, UBSan and
# LeakSanitizer into build/san (payloads stay freestanding, as always).
ifeq ($(SANITIZE),1)
O	:= build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	     -fno-omit-frame-pointer
CFLAGS	+= $(SAN_FLAGS)
export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
# The sanitizers run code a few times slower: Check's timeouts (hang
# bounds, not timings) stretch with it, or a slow machine fails them.
export CK_TIMEOUT_MULTIPLIER ?= 4
endif

CFLAGS	+= -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	   -Wno-format-truncation -D_GNU_SOURCE -MMD -MP -I. -pthread -mcx16
LDLIBS	+= -pthread -lfdt

CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt)

# Every .c under these folders, at any depth, is part of the VMM; main.c
# is the only file the unit tests do not link.
SRCS	:= $(sort $(filter-out vmm/dash/%,$(shell find vmm devices virtio -name '*.c')))
OBJS	:= $(SRCS:%.c=$(O)/%.o)
LIB_OBJS := $(filter-out $(O)/vmm/core/main.o,$(OBJS))

TEST_SRCS := $(sort $(shell find tests -name 'test_*.c'))
TEST_BINS := $(TEST_SRCS:%.c=$(O)/%)
# test scripts, TAP on stdout (VLAB_BUILD_DIR tells them the build)
TEST_SCRIPTS := tests/linux/test-tap-parse.sh tests/bench/test-rdma-stream.sh

# The dashboard (vmm/dash/) is a program of its own, built only where
# pkg-config finds SDL2: the VMM never links it, and without SDL2 the rest
# builds and `vlab dash` says how to get it.
SDL_CFLAGS := $(shell pkg-config --cflags sdl2 2>/dev/null)
SDL_LIBS   := $(shell pkg-config --libs sdl2 2>/dev/null)
DASH_SRCS  := $(sort $(wildcard vmm/dash/*.c))
DASH_OBJS  := $(DASH_SRCS:%.c=$(O)/%.o)
DASH_BIN   := $(if $(SDL_LIBS),$(O)/vlab-dash)

all: $(O)/vlab $(DASH_BIN)

$(O)/vlab: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(O)/vlab-dash: $(DASH_OBJS) $(O)/vmm/control/json.o
	$(CC) $(CFLAGS) -o $@ $^ $(SDL_LIBS)

$(DASH_OBJS): $(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SDL_CFLAGS) -c -o $@ $<

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(O)/libvlab.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(O)/tests/%: tests/%.c $(O)/libvlab.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -Itests -o $@ $< -Wl,--whole-archive $(O)/libvlab.a -Wl,--no-whole-archive $(CHECK_LIBS) $(LDLIBS)

-include guest/payload/payload.mk

unit-tests: $(TEST_BINS)

# Unit tests first (no VM), then payload integration tests under KVM.
test: all unit-tests payloads $(O)/tests/bench/rdma_stream
	@VLAB_BUILD_DIR=$(O) tests/run-tests.sh $(TEST_BINS) $(TEST_SCRIPTS)

deps:
	@bash .ci/deps.sh

guest:
	$(MAKE) -C guest

check-linux: all guest
	tests/linux/check-linux.sh

bench-boot: all guest
	tests/bench/bench-boot.sh

# Virtqueue throughput: driver model on CPU 0, device on CPU 1, Mpps table;
# then side by side with the bench of BENCH_BASE (a git revision, default
# the commit before memory views) built in a worktree, ratios and spread.
BENCH_BASE ?= e8a8f34^
bench-virtq: $(O)/tests/bench/bench_virtq
	$(O)/tests/bench/bench_virtq
	tests/bench/bench-virtq-vs.sh $(O)/tests/bench/bench_virtq '$(BENCH_BASE)'
	tests/bench/bench-virtq-ringtest.sh $(O)/tests/bench/bench_virtq

$(O)/tests/bench/bench_virtq: tests/bench/bench_virtq.c $(O)/virtio/virtq.o $(O)/vmm/mem/guest_mem.o $(O)/vmm/mem/mem_view.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $^ $(LDLIBS)

.PHONY: bench-virtq

# The simulated vDPA NIC's passthrough TX path next to emulated virtio-net.
bench-vdpa-datapath bench-svq: $(O)/tests/bench/bench_vdpa
	$(O)/tests/bench/bench_vdpa

.PHONY: bench-vdpa-datapath bench-svq

# Migration downtime of vDPA NICs step by step (SVQ switch, stop-and-copy),
# cost model at scale 1.0, beside the published records.
bench-vdpa: all payloads
	tests/bench/bench-vdpa.sh

.PHONY: bench-vdpa

# RC RDMA WRITE latency and bandwidth between two vlab processes, beside
# the hub's raw frame copy limit.
bench-rdma: all payloads $(O)/tests/bench/hub_copy $(O)/tests/bench/unix_copy \
	    $(O)/tests/bench/rdma_stream
	tests/bench/bench-rdma.sh

# The devices' own stream, no guest, no KVM: vlab's NICs, hub and RDMA
# devices in one process or two (-p); make test runs short ones.
$(O)/tests/bench/rdma_stream: tests/bench/rdma_stream.c $(O)/libvlab.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(O)/libvlab.a $(LDLIBS)

# The copy limits the benches print their ratios against.
$(O)/tests/bench/unix_copy: tests/bench/unix_copy.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

$(O)/tests/bench/hub_copy: tests/bench/hub_copy.c $(O)/libvlab.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(O)/libvlab.a $(LDLIBS)

# An RDMA guest live-migrated under WRITE load from its peer: downtime and the
# peer's longest stall, 256 MiB and 1 GiB, against the same traffic unmoved.
bench-rdma-migrate: all payloads
	tests/bench/bench-rdma-migrate.sh

.PHONY: bench-rdma bench-rdma-migrate

# The same PMD payload on vlab and on QEMU's userspace virtio-net: Mpps to
# a sink, round-trip latency, exits and doorbells per frame.
bench-net: all payloads
	tests/bench/bench-net.sh

.PHONY: bench-net

# 64-byte frames between two PMD guests on a hub, beside unix datagrams.
bench-hub: all payloads $(O)/tests/bench/hub_copy $(O)/tests/bench/unix_copy
	tests/bench/bench-hub.sh

.PHONY: bench-hub

# Two guests on a hub, one moved back and forth while `vlab dash` shows it.
demo: all payloads
	tests/demo/demo.sh

# The dashboard's cost to the guest: the dirty payload's write rate with
# and without a dashboard attached, side by side, best of several runs.
bench-dash: all payloads
	tests/bench/bench-dash.sh

.PHONY: demo bench-dash

# Live migration, vlab against QEMU -M microvm: 256M/1G/4G guests, idle and
# dirtying at 100 and 1000 MB/s, against the unix-socket copy limit.
bench-migrate: all payloads $(O)/tests/bench/unix_copy
	tests/bench/bench-migrate.sh

# Local migration (mode=local, RAM by file descriptor) beside pre-copy:
# downtime for 256M/4G/16G guests, best of BENCH_REPEAT with the spread.
bench-migrate-local: all payloads
	tests/bench/bench-migrate-local.sh

.PHONY: bench-migrate bench-migrate-local

# libFuzzer targets (tests/fuzz/fuzz_*.c) with ASan + UBSan, built by clang
# into build/fuzz; `make fuzz-smoke` runs each for a fixed number of inputs.
FUZZ_CC		?= clang
FUZZ_O		:= build/fuzz
FUZZ_FLAGS	:= -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		   -fno-omit-frame-pointer -std=gnu11 -D_GNU_SOURCE -I. -Itests -pthread -mcx16
FUZZ_SRCS	:= $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS	:= $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ_O)/%)
FUZZ_LIB_OBJS	:= $(patsubst %.c,$(FUZZ_O)/obj/%.o,$(filter-out vmm/core/main.c,$(SRCS)))

fuzz: $(FUZZ_BINS)

$(FUZZ_O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_O)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJS) -lfdt

fuzz-smoke: fuzz
	tests/fuzz/smoke.sh $(FUZZ_O)

.PHONY: fuzz fuzz-smoke
# Objects shared by every target: keep them between builds.
.SECONDARY: $(FUZZ_LIB_OBJS)
-include $(FUZZ_LIB_OBJS:.o=.d)

clean:
	rm -rf $(O)

.PHONY: deps all test unit-tests guest check-linux bench-boot clean payloads
-include $(OBJS:.o=.d) $(DASH_OBJS:.o=.d) $(TEST_BINS:=.d)
