# SPDX-License-Identifier: GPL-2.0
#
# Freestanding test payloads, included by the top-level Makefile:
#   make payloads   ->  $(O)/payloads/<name>.elf
#
# Each payload is start.S + lib.c + <name>.c, linked at 1 MiB by payload.ld;
# the virtio-net payloads also link the polling driver, virtio_pmd.c, and
# the driver-side ring code it shares with vlab, virtio/virtq_driver.c.

PAYLOAD_DIR	:= guest/payload
PAYLOAD_OUT	:= $(O)/payloads
PAYLOADS_PMD	:= net_pmd net_cvq net_evil net_count net_dma net_up
PAYLOADS_RDMA	:= rdma_rc rdma_evil
PAYLOADS	:= hello memwrite fault dirty panic $(PAYLOADS_PMD) $(PAYLOADS_RDMA)

# -mcmodel=small: the image sits at 1 MiB, so every symbol address fits
#  the small model's 32-bit absolute relocations (-mcmodel=kernel would
#  want the image in the top 2 GiB of the address space instead).
# -mno-red-zone: code in lib.c also runs at CPL0, on the stack exceptions
#  are pushed to.
# -mgeneral-regs-only: no SSE/x87 state to reason about in test bodies.
# -fno-tree-loop-distribute-patterns: stops gcc turning memset()'s own
#  loop into a call to memset().
PAYLOAD_CFLAGS	:= -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter \
		   -ffreestanding -fno-tree-loop-distribute-patterns \
		   -fno-pic -fno-pie -mcmodel=small -mno-red-zone \
		   -mgeneral-regs-only -fno-stack-protector -fcf-protection=none \
		   -fno-asynchronous-unwind-tables -fno-omit-frame-pointer \
		   -MMD -MP -I$(PAYLOAD_DIR) -I.
PAYLOAD_LDFLAGS	:= -nostdlib -static -no-pie -Wl,-T,$(PAYLOAD_DIR)/payload.ld \
		   -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
		   -Wl,-z,noexecstack

PAYLOAD_ELFS	:= $(PAYLOADS:%=$(PAYLOAD_OUT)/%.elf)
PAYLOAD_KIT	:= $(PAYLOAD_OUT)/obj/start.o $(PAYLOAD_OUT)/obj/lib.o
PAYLOAD_OBJS	:= $(PAYLOADS:%=$(PAYLOAD_OUT)/obj/%.o)
# The polling driver and the ring code it shares with vlab (virtio/); the
# virtio-rdma payloads add the RDMA driver on top.
PAYLOAD_PMD	:= $(PAYLOAD_OUT)/obj/virtio_pmd.o $(PAYLOAD_OUT)/obj/virtq_driver.o
PAYLOAD_RPMD	:= $(PAYLOAD_PMD) $(PAYLOAD_OUT)/obj/rdma_pmd.o

payloads: $(PAYLOAD_ELFS)

# Extra objects a payload links, set per target below.
$(PAYLOADS_PMD:%=$(PAYLOAD_OUT)/%.elf): PAYLOAD_EXTRA := $(PAYLOAD_PMD)
$(PAYLOADS_PMD:%=$(PAYLOAD_OUT)/%.elf): $(PAYLOAD_PMD)
$(PAYLOADS_RDMA:%=$(PAYLOAD_OUT)/%.elf): PAYLOAD_EXTRA := $(PAYLOAD_RPMD)
$(PAYLOADS_RDMA:%=$(PAYLOAD_OUT)/%.elf): $(PAYLOAD_RPMD)

$(PAYLOAD_ELFS): $(PAYLOAD_OUT)/%.elf: $(PAYLOAD_OUT)/obj/%.o $(PAYLOAD_KIT) \
		 $(PAYLOAD_DIR)/payload.ld
	$(CC) $(PAYLOAD_LDFLAGS) -o $@ $(PAYLOAD_KIT) $(PAYLOAD_EXTRA) $< -lgcc

$(PAYLOAD_OBJS) $(PAYLOAD_OUT)/obj/lib.o $(PAYLOAD_OUT)/obj/virtio_pmd.o \
		$(PAYLOAD_OUT)/obj/rdma_pmd.o: $(PAYLOAD_OUT)/obj/%.o: $(PAYLOAD_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PAYLOAD_CFLAGS) -c -o $@ $<

$(PAYLOAD_OUT)/obj/virtq_driver.o: virtio/virtq_driver.c
	@mkdir -p $(dir $@)
	$(CC) $(PAYLOAD_CFLAGS) -c -o $@ $<

$(PAYLOAD_OUT)/obj/start.o: $(PAYLOAD_DIR)/start.S
	@mkdir -p $(dir $@)
	$(CC) $(PAYLOAD_CFLAGS) -c -o $@ $<

-include $(PAYLOAD_OBJS:.o=.d) $(PAYLOAD_KIT:.o=.d) $(PAYLOAD_RPMD:.o=.d)
