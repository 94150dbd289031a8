// SPDX-License-Identifier: GPL-2.0
/* PCI config space, conf1 ports, BAR sizing and BAR mapping onto the buses. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check_main.h"
#include "devices/legacy/pci.h"
#include "state_test.h"
#include "vmm/core/vm.h"

static struct pci_host host;
static struct vm vm;
static struct pci_device dev, dev2;

/* Handler records the last access to a BAR. */
struct hit {
	int calls;
	uint64_t off;
	bool is_write;
};

static struct hit bar_hit, bar_hit2;

static void bar_handler(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct hit *h = opaque;

	h->calls++;
	h->off = off;
	h->is_write = is_write;
	if (!is_write)
		memset(data, 0x3c, len);
}

/* Config-space-only tests: no VM behind the host. */
static void setup_novm(void)
{
	pci_host_init(&host, NULL);
	memset(&dev, 0, sizeof(dev));
	memset(&dev2, 0, sizeof(dev2));
	memset(&bar_hit, 0, sizeof(bar_hit));
	memset(&bar_hit2, 0, sizeof(bar_hit2));
}

/* BAR mapping tests: a fake VM with just its two buses. */
static void setup_vm(void)
{
	memset(&vm, 0, sizeof(vm));
	io_bus_init(&vm.pio, "pio");
	io_bus_init(&vm.mmio, "mmio");
	setup_novm();
	host.vm = &vm;
}

static void teardown_vm(void)
{
	io_bus_exit(&vm.pio);
	io_bus_exit(&vm.mmio);
}

static uint32_t rd(int slot, uint32_t off, int len)
{
	return pci_cfg_read(&host, 0, slot, 0, off, len);
}

static void wr(struct pci_device *d, uint32_t off, int len, uint32_t v)
{
	pci_cfg_write(&host, 0, d->slot, 0, off, len, v);
}

/* conf1 port helpers: @port is 0xcf8..0xcff. */
static void conf1_out(unsigned int port, int len, uint32_t v)
{
	uint8_t b[4];

	memcpy(b, &v, 4);
	pci_conf1_access(&host, port - 0xcf8, b, len, true);
}

static uint32_t conf1_in(unsigned int port, int len)
{
	uint32_t v = 0;

	pci_conf1_access(&host, port - 0xcf8, &v, len, false);
	return v;
}

static uint32_t conf1_addr(int bus, int slot, int fn, int reg)
{
	return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | reg;
}

static bool mmio_hits(uint64_t addr)
{
	uint32_t v = 0;

	return io_bus_access(&vm.mmio, addr, &v, 4, false);
}

static bool pio_hits(uint64_t addr)
{
	uint8_t v = 0;

	return io_bus_access(&vm.pio, addr, &v, 1, false);
}

static void add_dev(struct pci_device *d, uint16_t devid)
{
	pci_device_init(d, "testdev", 0x1af4, devid, 0x020000, 3);
	ck_assert_int_gt(pci_register(&host, d), 0);
}

/* ---- config space ---- */

START_TEST(host_bridge)
{
	ck_assert_ptr_eq(host.devs[0], &host.bridge);
	ck_assert_int_eq(host.bridge.slot, 0);
	ck_assert_uint_eq(rd(0, PCI_VENDOR_ID, 2), 0x1b36);
	ck_assert_uint_eq(rd(0, PCI_DEVICE_ID, 2), 0x0008);
	ck_assert_uint_eq(rd(0, PCI_CLASS_DEVICE, 2), 0x0600);
	ck_assert_uint_eq(rd(0, PCI_CLASS_PROG, 1), 0);
	ck_assert_uint_eq(rd(0, PCI_HEADER_TYPE, 1), 0);
	ck_assert_uint_eq(rd(0, 0, 4), 0x00081b36);
	ck_assert_uint_eq(rd(0, 0x08, 4), 0x06000000);
	ck_assert_uint_eq(host.next_mmio, PCI_MMIO_WINDOW_BASE);
	ck_assert_uint_eq(host.next_io, PCI_IO_WINDOW_BASE);
}
END_TEST

START_TEST(device_header)
{
	add_dev(&dev, 0x1000);
	ck_assert_int_eq(dev.slot, 1);
	ck_assert_str_eq(dev.name, "testdev");
	ck_assert_uint_eq(rd(1, 0, 4), 0x10001af4);
	ck_assert_uint_eq(rd(1, PCI_REVISION_ID, 1), 3);
	ck_assert_uint_eq(rd(1, 0x08, 4), 0x02000003);
	ck_assert_uint_eq(rd(1, PCI_COMMAND, 2), 0);
	ck_assert_uint_eq(rd(1, PCI_BAR0, 4), 0);
	/* Unaligned and single-byte reads within the dword. */
	ck_assert_uint_eq(rd(1, 1, 2), 0x001a);
	ck_assert_uint_eq(rd(1, 3, 1), 0x10);
}
END_TEST

START_TEST(empty_slots_all_ones)
{
	int slot;

	for (slot = 1; slot < PCI_MAX_DEVICES; slot++) {
		ck_assert_uint_eq(rd(slot, 0, 4), 0xffffffff);
		ck_assert_uint_eq(rd(slot, 0, 2), 0xffff);
		ck_assert_uint_eq(rd(slot, 2, 1), 0xff);
	}
	/* Out-of-range slots from a direct caller. */
	ck_assert_uint_eq(rd(-1, 0, 4), 0xffffffff);
	ck_assert_uint_eq(rd(PCI_MAX_DEVICES, 0, 4), 0xffffffff);
	/* Writes to empty slots are harmless. */
	pci_cfg_write(&host, 0, 5, 0, PCI_COMMAND, 2, 0xffff);
	ck_assert_uint_eq(rd(5, 0, 4), 0xffffffff);
}
END_TEST

START_TEST(other_function_or_bus)
{
	add_dev(&dev, 0x1000);
	ck_assert_uint_eq(pci_cfg_read(&host, 0, 1, 1, 0, 4), 0xffffffff);
	ck_assert_uint_eq(pci_cfg_read(&host, 0, 1, 7, 0, 2), 0xffff);
	ck_assert_uint_eq(pci_cfg_read(&host, 1, 1, 0, 0, 4), 0xffffffff);
	ck_assert_uint_eq(pci_cfg_read(&host, 255, 0, 0, 0, 4), 0xffffffff);
	ck_assert_uint_eq(pci_cfg_read(&host, 0, 0, 3, 0, 1), 0xff);
	/* Writes there do not land on function 0. */
	pci_cfg_write(&host, 0, 1, 1, PCI_INTERRUPT_LINE, 1, 0x0b);
	pci_cfg_write(&host, 1, 1, 0, PCI_INTERRUPT_LINE, 1, 0x0c);
	ck_assert_uint_eq(rd(1, PCI_INTERRUPT_LINE, 1), 0);
}
END_TEST

START_TEST(offset_past_end)
{
	add_dev(&dev, 0x1000);
	dev.wmask[0xff] = 0xff;
	ck_assert_uint_eq(rd(1, 0xfc, 4), 0);
	ck_assert_uint_eq(rd(1, 0xfe, 2), 0);
	ck_assert_uint_eq(rd(1, 0xfd, 4), 0xffffffff);
	ck_assert_uint_eq(rd(1, 0xff, 2), 0xffff);
	ck_assert_uint_eq(rd(1, 0x100, 1), 0xff);
	ck_assert_uint_eq(rd(1, 0xffffffff, 1), 0xff);
	/* A write running past the end changes nothing, not even its first bytes. */
	wr(&dev, 0xfe, 4, 0xaabbccdd);
	ck_assert_uint_eq(rd(1, 0xff, 1), 0);
	wr(&dev, 0xff, 1, 0x5a);
	ck_assert_uint_eq(rd(1, 0xff, 1), 0x5a);
	/* Offsets where off + len wraps a uint32_t must not reach cfg[]. */
	ck_assert_uint_eq(rd(1, 0xfffffffe, 4), 0xffffffff);
	ck_assert_uint_eq(rd(1, 0xfffffffc, 4), 0xffffffff);
	wr(&dev, 0xfffffffe, 4, 0);
	wr(&dev, 0xffffffff, 1, 0);
	ck_assert_uint_eq(rd(1, 0, 4), 0x10001af4);
}
END_TEST

START_TEST(read_only_fields)
{
	add_dev(&dev, 0x1000);
	wr(&dev, PCI_VENDOR_ID, 4, 0x12345678);
	ck_assert_uint_eq(rd(1, 0, 4), 0x10001af4);
	wr(&dev, 0x08, 4, 0xffffffff);
	ck_assert_uint_eq(rd(1, 0x08, 4), 0x02000003);
	wr(&dev, PCI_HEADER_TYPE, 1, 0x80);
	ck_assert_uint_eq(rd(1, PCI_HEADER_TYPE, 1), 0);
	/* COMMAND keeps only IO, MEMORY, MASTER, INTX_DISABLE. */
	wr(&dev, PCI_COMMAND, 2, 0xffff);
	ck_assert_uint_eq(rd(1, PCI_COMMAND, 2), 0x0407);
	/* STATUS is read-only here. */
	wr(&dev, PCI_STATUS, 2, 0xffff);
	ck_assert_uint_eq(rd(1, PCI_STATUS, 2), 0);
	/* Interrupt line, cache line size and latency timer are writable; pin is not. */
	wr(&dev, PCI_INTERRUPT_LINE, 2, 0xffff);
	ck_assert_uint_eq(rd(1, PCI_INTERRUPT_LINE, 1), 0xff);
	ck_assert_uint_eq(rd(1, PCI_INTERRUPT_PIN, 1), 0);
	wr(&dev, 0x0c, 2, 0x4010);
	ck_assert_uint_eq(rd(1, 0x0c, 2), 0x4010);
	/* No BAR declared: BAR registers read 0 and ignore writes. */
	wr(&dev, PCI_BAR0, 4, 0xffffffff);
	ck_assert_uint_eq(rd(1, PCI_BAR0, 4), 0);
	/* The host bridge is just as read-only. */
	pci_cfg_write(&host, 0, 0, 0, PCI_VENDOR_ID, 2, 0);
	ck_assert_uint_eq(rd(0, 0, 2), 0x1b36);
}
END_TEST

/* Hook bookkeeping. */
static int hook_calls;
static uint32_t hook_off;
static int hook_len;
static struct pci_device *hook_dev;

static void hook(struct pci_device *d, uint32_t off, int len)
{
	hook_calls++;
	hook_dev = d;
	hook_off = off;
	hook_len = len;
	/* The write is visible (applied) by the time the hook runs. */
	ck_assert_uint_eq(d->cfg[PCI_INTERRUPT_LINE], 0x0e);
}

START_TEST(cfg_written_hook)
{
	hook_calls = 0;
	add_dev(&dev, 0x1000);
	dev.cfg_written = hook;
	wr(&dev, PCI_INTERRUPT_LINE, 1, 0x0e);
	ck_assert_int_eq(hook_calls, 1);
	ck_assert_ptr_eq(hook_dev, &dev);
	ck_assert_uint_eq(hook_off, PCI_INTERRUPT_LINE);
	ck_assert_int_eq(hook_len, 1);
	/* Also for read-only fields (the device may care about the attempt). */
	wr(&dev, PCI_VENDOR_ID, 2, 0);
	ck_assert_int_eq(hook_calls, 2);
	ck_assert_uint_eq(hook_off, 0);
	ck_assert_int_eq(hook_len, 2);
	/* Through conf1: the offset includes the data-port byte. */
	conf1_out(0xcf8, 4, conf1_addr(0, 1, 0, 0x3c));
	conf1_out(0xcfe, 2, 0x0102);
	ck_assert_int_eq(hook_calls, 3);
	ck_assert_uint_eq(hook_off, 0x3e);
	ck_assert_int_eq(hook_len, 2);
	/* Not called for reads, other functions or out-of-range writes. */
	rd(1, 0, 4);
	pci_cfg_write(&host, 0, 1, 2, PCI_INTERRUPT_LINE, 1, 0x0e);
	wr(&dev, 0xff, 2, 0);
	ck_assert_int_eq(hook_calls, 3);
}
END_TEST

START_TEST(register_full)
{
	static struct pci_device many[PCI_MAX_DEVICES];
	int i;

	for (i = 1; i < PCI_MAX_DEVICES; i++) {
		pci_device_init(&many[i], "d", 0x1af4, i, 0xff0000, 0);
		ck_assert_int_eq(pci_register(&host, &many[i]), i);
	}
	pci_device_init(&many[0], "extra", 0x1af4, 0, 0xff0000, 0);
	ck_assert_int_eq(pci_register(&host, &many[0]), -ENOSPC);
	ck_assert_int_eq(many[0].slot, -1);
	ck_assert_uint_eq(rd(31, PCI_DEVICE_ID, 2), 31);
}
END_TEST

/* ---- conf1 ports ---- */

START_TEST(conf1_address_latch)
{
	ck_assert_uint_eq(conf1_in(0xcf8, 4), 0);
	conf1_out(0xcf8, 4, 0x80000000);
	ck_assert_uint_eq(conf1_in(0xcf8, 4), 0x80000000);
	/* Low two bits and reserved bits 24..30 do not latch. */
	conf1_out(0xcf8, 4, 0xffffffff);
	ck_assert_uint_eq(conf1_in(0xcf8, 4), 0x80fffffc);
	/* Byte/word accesses to 0xcf8..0xcfb neither latch nor read it. */
	conf1_out(0xcf8, 4, conf1_addr(0, 0, 0, 0));
	conf1_out(0xcf8, 1, 0x12);
	conf1_out(0xcf9, 1, 0x06);	/* the PC reset port */
	conf1_out(0xcf8, 2, 0x1234);
	conf1_out(0xcfa, 2, 0x1234);
	ck_assert_uint_eq(host.addr, 0x80000000);
	ck_assert_uint_eq(conf1_in(0xcf8, 1), 0xff);
	ck_assert_uint_eq(conf1_in(0xcf9, 1), 0xff);
	ck_assert_uint_eq(conf1_in(0xcfa, 2), 0xffff);
}
END_TEST

START_TEST(conf1_data)
{
	add_dev(&dev, 0xabcd);
	conf1_out(0xcf8, 4, conf1_addr(0, 0, 0, 0));
	ck_assert_uint_eq(conf1_in(0xcfc, 4), 0x00081b36);
	ck_assert_uint_eq(conf1_in(0xcfc, 2), 0x1b36);
	ck_assert_uint_eq(conf1_in(0xcfe, 2), 0x0008);
	ck_assert_uint_eq(conf1_in(0xcfd, 1), 0x1b);
	ck_assert_uint_eq(conf1_in(0xcfe, 1), 0x08);
	ck_assert_uint_eq(conf1_in(0xcff, 1), 0x00);

	conf1_out(0xcf8, 4, conf1_addr(0, 0, 0, 0x08));
	ck_assert_uint_eq(conf1_in(0xcfc, 4), 0x06000000);
	ck_assert_uint_eq(conf1_in(0xcfe, 2), 0x0600);
	ck_assert_uint_eq(conf1_in(0xcff, 1), 0x06);

	conf1_out(0xcf8, 4, conf1_addr(0, 1, 0, 0));
	ck_assert_uint_eq(conf1_in(0xcfc, 4), 0xabcd1af4);
	/* Writes through the data port, byte at offset 3 of the dword. */
	conf1_out(0xcf8, 4, conf1_addr(0, 1, 0, 0x0c));
	conf1_out(0xcfd, 1, 0x40);	/* latency timer */
	ck_assert_uint_eq(rd(1, 0x0d, 1), 0x40);
	conf1_out(0xcfc, 1, 0x10);
	ck_assert_uint_eq(conf1_in(0xcfc, 2), 0x4010);

	/* Empty slot, other function, other bus: all ones through the ports too. */
	conf1_out(0xcf8, 4, conf1_addr(0, 7, 0, 0));
	ck_assert_uint_eq(conf1_in(0xcfc, 4), 0xffffffff);
	conf1_out(0xcf8, 4, conf1_addr(0, 1, 1, 0));
	ck_assert_uint_eq(conf1_in(0xcfc, 4), 0xffffffff);
	conf1_out(0xcf8, 4, conf1_addr(3, 1, 0, 0));
	ck_assert_uint_eq(conf1_in(0xcfc, 2), 0xffff);
}
END_TEST

START_TEST(conf1_disabled)
{
	add_dev(&dev, 0xabcd);
	/* Enable bit clear: reads all ones, writes go nowhere. */
	conf1_out(0xcf8, 4, conf1_addr(0, 1, 0, 0x3c) & ~0x80000000u);
	ck_assert_uint_eq(conf1_in(0xcfc, 4), 0xffffffff);
	ck_assert_uint_eq(conf1_in(0xcfd, 1), 0xff);
	conf1_out(0xcfc, 1, 0x0a);
	ck_assert_uint_eq(rd(1, PCI_INTERRUPT_LINE, 1), 0);
	conf1_out(0xcf8, 4, conf1_addr(0, 1, 0, 0x3c));
	conf1_out(0xcfc, 1, 0x0a);
	ck_assert_uint_eq(rd(1, PCI_INTERRUPT_LINE, 1), 0x0a);
}
END_TEST

START_TEST(conf1_linux_probe)
{
	/*
	 * pci_check_type1(): write 0x80000000 to 0xcf8 and read it back,
	 * then pci_sanity_check() finds a host bridge or a known vendor.
	 */
	uint32_t saved = conf1_in(0xcf8, 4);

	conf1_out(0xcfb, 1, 0x01);
	conf1_out(0xcf8, 4, 0x80000000);
	ck_assert_uint_eq(conf1_in(0xcf8, 4), 0x80000000);
	conf1_out(0xcf8, 4, saved);
	conf1_out(0xcf8, 4, conf1_addr(0, 0, 0, PCI_CLASS_DEVICE & ~3));
	ck_assert_uint_eq(conf1_in(0xcfe, 2), 0x0600);
}
END_TEST

/* ---- BARs ---- */

START_TEST(bar_sizing_mem32)
{
	add_dev(&dev, 1);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 0x1000, false, false, NULL, NULL), 0);
	ck_assert_uint_eq(rd(1, PCI_BAR0, 4), PCI_MMIO_WINDOW_BASE);
	ck_assert_uint_eq(dev.bars[0].size, 0x1000);
	wr(&dev, PCI_BAR0, 4, 0xffffffff);
	ck_assert_uint_eq(rd(1, PCI_BAR0, 4), 0xfffff000);
	wr(&dev, PCI_BAR0, 4, 0xe0000000);
	ck_assert_uint_eq(rd(1, PCI_BAR0, 4), 0xe0000000);
	/* Low bits below the size are not writable. */
	wr(&dev, PCI_BAR0, 4, 0xe0000fff);
	ck_assert_uint_eq(rd(1, PCI_BAR0, 4), 0xe0000000);
	/* Byte writes to the BAR work on their byte. */
	wr(&dev, PCI_BAR0 + 3, 1, 0xd0);
	ck_assert_uint_eq(rd(1, PCI_BAR0, 4), 0xd0000000);
	/* The next BAR register is untouched. */
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 4, 4), 0);
}
END_TEST

START_TEST(bar_sizing_io)
{
	add_dev(&dev, 1);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 1, 0x20, true, false, NULL, NULL), 0);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 4, 4), PCI_IO_WINDOW_BASE | PCI_BAR_IO);
	wr(&dev, PCI_BAR0 + 4, 4, 0xffffffff);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 4, 4), 0xffffffe1);
	wr(&dev, PCI_BAR0 + 4, 4, 0);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 4, 4), PCI_BAR_IO);	/* flag stays */
	ck_assert_uint_eq(host.next_io, PCI_IO_WINDOW_BASE + 0x20);
}
END_TEST

START_TEST(bar_sizing_mem64)
{
	add_dev(&dev, 1);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 2, 0x4000, false, true, NULL, NULL), 0);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 8, 4), PCI_MMIO_WINDOW_BASE | PCI_BAR_MEM64);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 12, 4), 0);
	wr(&dev, PCI_BAR0 + 8, 4, 0xffffffff);
	wr(&dev, PCI_BAR0 + 12, 4, 0xffffffff);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 8, 4), 0xffffc000 | PCI_BAR_MEM64);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 12, 4), 0xffffffff);
	/* Place it above 4 GiB. */
	wr(&dev, PCI_BAR0 + 8, 4, 0x40000000);
	wr(&dev, PCI_BAR0 + 12, 4, 0x2);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 8, 4), 0x40000000 | PCI_BAR_MEM64);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 12, 4), 2);
}
END_TEST

START_TEST(bar_small_sizes_rounded)
{
	add_dev(&dev, 1);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 4, false, false, NULL, NULL), 0);
	ck_assert_uint_eq(dev.bars[0].size, 16);
	wr(&dev, PCI_BAR0, 4, 0xffffffff);
	ck_assert_uint_eq(rd(1, PCI_BAR0, 4), 0xfffffff0);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 1, 1, true, false, NULL, NULL), 0);
	ck_assert_uint_eq(dev.bars[1].size, 4);
	wr(&dev, PCI_BAR0 + 4, 4, 0xffffffff);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 4, 4), 0xfffffffd);
}
END_TEST

START_TEST(bar_allocation_aligned)
{
	add_dev(&dev, 1);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 0x1000, false, false, NULL, NULL), 0);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 1, 0x100000, false, false, NULL, NULL), 0);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 2, 0x1000, false, false, NULL, NULL), 0);
	ck_assert_uint_eq(rd(1, PCI_BAR0, 4), 0xe0000000);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 4, 4), 0xe0100000);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 8, 4), 0xe0200000);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 3, 0x8, true, false, NULL, NULL), 0);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 4, 0x100, true, false, NULL, NULL), 0);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 12, 4), 0xc000 | PCI_BAR_IO);
	ck_assert_uint_eq(rd(1, PCI_BAR0 + 16, 4), 0xc100 | PCI_BAR_IO);
}
END_TEST

START_TEST(bar_errors)
{
	uint64_t mmio = host.next_mmio, io = host.next_io;

	add_dev(&dev, 1);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 0, false, false, NULL, NULL), -EINVAL);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 0x1800, false, false, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 3, true, false, NULL, NULL), -EINVAL);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 5, 0x1000, false, true, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 6, 0x1000, false, false, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, -1, 0x1000, false, false, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 0x100, true, true, NULL, NULL),
			 -EINVAL);
	/* Larger than the window. */
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, PCI_MMIO_WINDOW_SIZE * 2, false,
					    false, NULL, NULL), -ENOSPC);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 1ULL << 40, false, true, NULL,
					    NULL), -ENOSPC);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, PCI_IO_WINDOW_SIZE * 2, true,
					    false, NULL, NULL), -ENOSPC);
	/* Failures allocate nothing and leave the BAR unused. */
	ck_assert_uint_eq(host.next_mmio, mmio);
	ck_assert_uint_eq(host.next_io, io);
	ck_assert_uint_eq(dev.bars[0].size, 0);
	ck_assert_uint_eq(rd(1, PCI_BAR0, 4), 0);
	/* Bar 5 as 32-bit, bar 4 as 64-bit are fine; the window fills exactly. */
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 5, 0x1000, false, false, NULL, NULL), 0);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 3, 0x1000, false, true, NULL, NULL), 0);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, PCI_MMIO_WINDOW_SIZE / 2, false,
					    false, NULL, NULL), 0);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 1, PCI_MMIO_WINDOW_SIZE / 2, false,
					    false, NULL, NULL), -ENOSPC);
}
END_TEST

/* ---- BAR mapping on the fake VM's buses ---- */

START_TEST(bar_map_mem)
{
	add_dev(&dev, 1);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 0x1000, false, false,
					    bar_handler, &bar_hit), 0);
	/* Decode is off after reset. */
	ck_assert(!mmio_hits(0xe0000000));
	wr(&dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert(mmio_hits(0xe0000000));
	ck_assert(mmio_hits(0xe0000ffc));
	ck_assert_int_eq(bar_hit.calls, 2);
	ck_assert_uint_eq(bar_hit.off, 0xffc);
	ck_assert(!mmio_hits(0xe0001000));
	ck_assert(!pio_hits(0xe000));
	ck_assert(dev.bars[0].mapped);

	/* Moving the BAR while enabled moves the mapping. */
	wr(&dev, PCI_BAR0, 4, 0xe1000000);
	ck_assert(!mmio_hits(0xe0000000));
	ck_assert(mmio_hits(0xe1000010));
	ck_assert_uint_eq(bar_hit.off, 0x10);
	ck_assert_uint_eq(dev.bars[0].mapped_at, 0xe1000000);
	ck_assert_int_eq(vm.mmio.nr, 1);

	/* Disabling memory decode unmaps it. */
	wr(&dev, PCI_COMMAND, 2, 0);
	ck_assert(!mmio_hits(0xe1000010));
	ck_assert_int_eq(vm.mmio.nr, 0);
	ck_assert(!dev.bars[0].mapped);
	/* IO decode alone does not map a memory BAR. */
	wr(&dev, PCI_COMMAND, 2, PCI_COMMAND_IO);
	ck_assert_int_eq(vm.mmio.nr, 0);
	/* Byte write of the command register low byte re-enables. */
	wr(&dev, PCI_COMMAND, 1, PCI_COMMAND_MEMORY);
	ck_assert(mmio_hits(0xe1000000));
}
END_TEST

START_TEST(bar_map_io)
{
	add_dev(&dev, 1);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 0x40, true, false,
					    bar_handler, &bar_hit), 0);
	wr(&dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert(!pio_hits(0xc000));
	wr(&dev, PCI_COMMAND, 2, PCI_COMMAND_IO);
	ck_assert(pio_hits(0xc03f));
	ck_assert_uint_eq(bar_hit.off, 0x3f);
	ck_assert(!pio_hits(0xc040));
	ck_assert_int_eq(vm.mmio.nr, 0);
	/* Through conf1, as a guest would. */
	conf1_out(0xcf8, 4, conf1_addr(0, 1, 0, PCI_BAR0));
	conf1_out(0xcfc, 4, 0xd000);
	ck_assert(!pio_hits(0xc000));
	ck_assert(pio_hits(0xd004));
	ck_assert_uint_eq(bar_hit.off, 4);
}
END_TEST

START_TEST(bar_map_sizing_while_enabled)
{
	add_dev(&dev, 1);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 2, 0x4000, false, true,
					    bar_handler, &bar_hit), 0);
	wr(&dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert(mmio_hits(0xe0000000));
	/* Both halves all ones: the address would wrap, so nothing is mapped. */
	wr(&dev, PCI_BAR0 + 8, 4, 0xffffffff);
	wr(&dev, PCI_BAR0 + 12, 4, 0xffffffff);
	ck_assert_int_eq(vm.mmio.nr, 0);
	ck_assert(!mmio_hits(0xffffffffffffc000ULL));
	/* Put it above 4 GiB. */
	wr(&dev, PCI_BAR0 + 8, 4, 0x00010000);
	wr(&dev, PCI_BAR0 + 12, 4, 0x1);
	ck_assert_int_eq(vm.mmio.nr, 1);
	ck_assert(mmio_hits(0x100010008ULL));
	ck_assert_uint_eq(bar_hit.off, 8);
	ck_assert(!mmio_hits(0x00010008));
	/* Address 0 is "unassigned". */
	wr(&dev, PCI_BAR0 + 8, 4, 0);
	wr(&dev, PCI_BAR0 + 12, 4, 0);
	ck_assert_int_eq(vm.mmio.nr, 0);
}
END_TEST

START_TEST(bar_map_overlap_left_unmapped)
{
	add_dev(&dev, 1);
	add_dev(&dev2, 2);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 0x1000, false, false,
					    bar_handler, &bar_hit), 0);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev2, 0, 0x1000, false, false,
					    bar_handler, &bar_hit2), 0);
	wr(&dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	/* The guest puts dev2's BAR on top of dev's. */
	wr(&dev2, PCI_BAR0, 4, 0xe0000000);
	wr(&dev2, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	ck_assert(!dev2.bars[0].mapped);
	ck_assert(mmio_hits(0xe0000000));
	ck_assert_int_eq(bar_hit.calls, 1);
	ck_assert_int_eq(bar_hit2.calls, 0);
	/* Moved away, it maps. */
	wr(&dev2, PCI_BAR0, 4, 0xe0002000);
	ck_assert(dev2.bars[0].mapped);
	ck_assert(mmio_hits(0xe0002000));
	ck_assert_int_eq(bar_hit2.calls, 1);
}
END_TEST

START_TEST(bar_without_handler_never_mapped)
{
	add_dev(&dev, 1);
	/* host.vm is set, but a BAR without fn must not touch the buses. */
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 0x1000, false, false, NULL, NULL), 0);
	wr(&dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	ck_assert_int_eq(vm.mmio.nr, 0);
	ck_assert_int_eq(vm.pio.nr, 0);
}
END_TEST

START_TEST(novm_bar_writes_safe)
{
	/* With vm == NULL, BARs without handlers can be sized and enabled. */
	add_dev(&dev, 1);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 0x1000, false, false, NULL, NULL), 0);
	wr(&dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	wr(&dev, PCI_BAR0, 4, 0xffffffff);
	ck_assert_uint_eq(rd(1, PCI_BAR0, 4), 0xfffff000);
}
END_TEST

/* ---- saved state ---- */

static int save_pci(void *h, struct state_buf *sb)
{
	return pci_host_state_save(h, sb);
}

static int load_pci(void *h, const void *fdt, int node, char *err, size_t errlen)
{
	return pci_host_state_load(h, fdt, node, err, errlen);
}

/* A device with a memory BAR the guest moved and enabled. */
static void busy_bus(void)
{
	add_dev(&dev, 1);
	ck_assert_int_eq(pci_device_set_bar(&host, &dev, 0, 0x1000, false, false,
					    bar_handler, &bar_hit), 0);
	wr(&dev, PCI_BAR0, 4, 0xe2000000);
	wr(&dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	conf1_out(0xcf8, 4, conf1_addr(0, 1, 0, 0x10));
}

START_TEST(state_roundtrip)
{
	struct state_buf sb;
	char err[256];

	busy_bus();
	state_test_roundtrip(save_pci, load_pci, &host);
	state_test_save(&sb, save_pci, &host);
	/* Decode off and the latch cleared, then the snapshot brings both back. */
	wr(&dev, PCI_COMMAND, 2, 0);
	conf1_out(0xcf8, 4, 0);
	ck_assert(!mmio_hits(0xe2000000));
	ck_assert_msg(!pci_host_state_load(&host, sb.fdt, state_test_node(&sb, "/dev"), err,
					   sizeof(err)), "%s", err);
	ck_assert(mmio_hits(0xe2000000));
	ck_assert_uint_eq(conf1_in(0xcf8, 4), conf1_addr(0, 1, 0, 0x10));
	state_buf_free(&sb);
}
END_TEST

/* One config byte of slot 1 changed in the saved tree. */
static void cfg_refused(uint32_t off, uint8_t val, const char *msg)
{
	struct state_buf good, sb, after;
	char err[256] = "";
	uint8_t *cfg;
	int node, len;

	state_test_save(&good, save_pci, &host);
	state_test_save(&sb, save_pci, &host);
	node = state_test_node(&sb, "/dev/slot@1");
	cfg = (uint8_t *)fdt_getprop(sb.fdt, node, "cfg", &len);
	ck_assert_int_eq(len, PCI_CFG_SIZE);
	cfg[off] = val;
	ck_assert_int_eq(load_pci(&host, sb.fdt, state_test_node(&sb, "/dev"), err,
				  sizeof(err)), -1);
	ck_assert_msg(strstr(err, msg), "\"%s\" lacks \"%s\"", err, msg);
	state_test_save(&after, save_pci, &host);
	ck_assert(state_test_same(&good, &after));
	ck_assert(mmio_hits(0xe2000000));
	state_buf_free(&good);
	state_buf_free(&sb);
	state_buf_free(&after);
}

START_TEST(state_corrupt_refused)
{
	busy_bus();
	state_test_refused(save_pci, load_pci, &host, "conf1-addr", 0x80000003,
			   "pci: conf1-addr 0x80000003 has bits CONFIG_ADDRESS does not keep");
	cfg_refused(PCI_VENDOR_ID, 0x12, "pci slot 1: the source has a different device there");
	cfg_refused(PCI_CLASS_DEVICE, 0x77, "cfg byte 0x0a = 0x77, read-only bits are 0x");
	/* BAR size bits: a 4 KiB BAR cannot sit at 0x...800. */
	cfg_refused(PCI_BAR0 + 1, 0x08, "cfg byte 0x11 = 0x08");
	cfg_refused(PCI_STATUS, 0xff, "cfg byte 0x06");
}
END_TEST

static Suite *pci_suite(void)
{
	Suite *s = suite_create("pci");

	vlab_tcase(s, "config", setup_novm, NULL, 0, VLAB_TESTS(
		host_bridge, device_header, empty_slots_all_ones, other_function_or_bus,
		offset_past_end, read_only_fields, cfg_written_hook, register_full));

	vlab_tcase(s, "conf1", setup_novm, NULL, 0, VLAB_TESTS(
		conf1_address_latch, conf1_data, conf1_disabled, conf1_linux_probe));

	vlab_tcase(s, "bar", setup_novm, NULL, 0, VLAB_TESTS(
		bar_sizing_mem32, bar_sizing_io, bar_sizing_mem64,
		bar_small_sizes_rounded, bar_allocation_aligned, bar_errors,
		novm_bar_writes_safe));

	vlab_tcase(s, "bar_map", setup_vm, teardown_vm, 0, VLAB_TESTS(
		bar_map_mem, bar_map_io, bar_map_sizing_while_enabled,
		bar_map_overlap_left_unmapped, bar_without_handler_never_mapped));

	vlab_tcase(s, "state", setup_vm, teardown_vm, 0, VLAB_TESTS(
		state_roundtrip, state_corrupt_refused));
	return s;
}

VLAB_TEST_MAIN(pci_suite)
