// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/legacy/pci.h"
#include "vmm/migrate/state.h"
#include "vmm/core/vm.h"

#define PCI_CONF1_ADDR		0xcf8
#define PCI_CONF1_DATA		0xcfc
#define PCI_CONF1_ENABLE	0x80000000u

void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision)
{
	memset(dev->cfg, 0, sizeof(dev->cfg));
	memset(dev->wmask, 0, sizeof(dev->wmask));
	memset(dev->bars, 0, sizeof(dev->bars));
	dev->name = name;
	dev->slot = -1;
	put_le16(dev->cfg + PCI_VENDOR_ID, vendor);
	put_le16(dev->cfg + PCI_DEVICE_ID, device);
	dev->cfg[PCI_REVISION_ID] = revision;
	dev->cfg[PCI_CLASS_PROG] = class_code & 0xff;
	put_le16(dev->cfg + PCI_CLASS_DEVICE, class_code >> 8);
	put_le16(dev->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
	      PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->wmask[0x0c] = 0xff;	/* cache line size */
	dev->wmask[0x0d] = 0xff;	/* latency timer */
}

int pci_device_set_bar(struct pci_host *host, struct pci_device *dev, int n,
		       uint64_t size, bool io, bool mem64, io_handler_fn fn, void *opaque)
{
	struct pci_bar *b;
	uint64_t addr, mask;
	uint64_t *next = io ? &host->next_io : &host->next_mmio;
	uint64_t end = io ? PCI_IO_WINDOW_BASE + PCI_IO_WINDOW_SIZE :
			    PCI_MMIO_WINDOW_BASE + PCI_MMIO_WINDOW_SIZE;

	if (n < 0 || n >= PCI_NR_BARS || (mem64 && n == PCI_NR_BARS - 1) ||
	    !size || (size & (size - 1)) || (io && mem64))
		return -EINVAL;
	if (!io && size < 16)
		size = 16;
	if (io && size < 4)
		size = 4;
	addr = (*next + size - 1) & ~(size - 1);
	if (addr + size > end)
		return -ENOSPC;
	*next = addr + size;

	b = &dev->bars[n];
	b->size = size;
	b->io = io;
	b->mem64 = mem64;
	b->fn = fn;
	b->opaque = opaque;
	mask = ~(size - 1);
	put_le32(dev->cfg + PCI_BAR0 + 4 * n, (uint32_t)addr |
	      (io ? PCI_BAR_IO : 0) | (mem64 ? PCI_BAR_MEM64 : 0));
	put_le32(dev->wmask + PCI_BAR0 + 4 * n, (uint32_t)mask & (io ? ~0x3u : ~0xfu));
	if (mem64) {
		put_le32(dev->cfg + PCI_BAR0 + 4 * (n + 1), addr >> 32);
		put_le32(dev->wmask + PCI_BAR0 + 4 * (n + 1), mask >> 32);
	}
	return 0;
}

int pci_register(struct pci_host *host, struct pci_device *dev)
{
	int slot;

	pthread_mutex_lock(&host->lock);
	for (slot = 0; slot < PCI_MAX_DEVICES; slot++)
		if (!host->devs[slot])
			break;
	if (slot == PCI_MAX_DEVICES) {
		pthread_mutex_unlock(&host->lock);
		return -ENOSPC;
	}
	host->devs[slot] = dev;
	dev->slot = slot;
	pthread_mutex_unlock(&host->lock);
	return slot;
}

void pci_unregister(struct pci_host *host, struct pci_device *dev)
{
	int n;

	pthread_mutex_lock(&host->lock);
	for (n = 0; n < PCI_NR_BARS; n++) {
		struct pci_bar *b = &dev->bars[n];

		if (!b->mapped)
			continue;
		io_bus_unregister(b->io ? &host->vm->pio : &host->vm->mmio, b->mapped_at);
		b->mapped = false;
		if (dev->bar_mapped)
			dev->bar_mapped(dev, n, b->mapped_at, false);
	}
	if (dev->slot >= 0 && dev->slot < PCI_MAX_DEVICES && host->devs[dev->slot] == dev)
		host->devs[dev->slot] = NULL;
	pthread_mutex_unlock(&host->lock);
}

static uint64_t pci_bar_addr(struct pci_device *dev, int n)
{
	struct pci_bar *b = &dev->bars[n];
	uint64_t a = pci_get_le(dev->cfg + PCI_BAR0 + 4 * n, 4);

	a &= b->io ? ~0x3ULL : ~0xfULL;
	a &= 0xffffffffULL;
	if (b->mem64)
		a |= (uint64_t)pci_get_le(dev->cfg + PCI_BAR0 + 4 * (n + 1), 4) << 32;
	return a;
}

/* Map or unmap each BAR so the buses match the command register and BARs. */
static void pci_update_mappings(struct pci_host *host, struct pci_device *dev)
{
	uint16_t cmd = dev->cfg[PCI_COMMAND] | dev->cfg[PCI_COMMAND + 1] << 8;
	int n;

	for (n = 0; n < PCI_NR_BARS; n++) {
		struct pci_bar *b = &dev->bars[n];
		struct io_bus *bus;
		uint64_t addr;
		bool want;

		if (!b->size || !b->fn)
			continue;
		bus = b->io ? &host->vm->pio : &host->vm->mmio;
		addr = pci_bar_addr(dev, n);
		want = (cmd & (b->io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)) &&
		       addr && addr + b->size > addr && !(addr & (b->size - 1));
		if (b->mapped && (!want || addr != b->mapped_at)) {
			io_bus_unregister(bus, b->mapped_at);
			b->mapped = false;
			if (dev->bar_mapped)
				dev->bar_mapped(dev, n, b->mapped_at, false);
		}
		if (want && !b->mapped) {
			if (io_bus_register(bus, addr, b->size, b->fn, b->opaque, dev->name)) {
				vlab_log("%s: BAR%d at 0x%llx overlaps another range; left unmapped",
					 dev->name, n, (unsigned long long)addr);
				continue;
			}
			b->mapped = true;
			b->mapped_at = addr;
			if (dev->bar_mapped)
				dev->bar_mapped(dev, n, addr, true);
		}
	}
}

static struct pci_device *pci_find(struct pci_host *host, int bus, int slot, int fn)
{
	if (bus != 0 || fn != 0 || slot < 0 || slot >= PCI_MAX_DEVICES)
		return NULL;
	return host->devs[slot];
}

uint32_t pci_cfg_read(struct pci_host *host, int bus, int slot, int fn, uint32_t off, int len)
{
	struct pci_device *dev;
	uint32_t v;

	pthread_mutex_lock(&host->lock);
	dev = pci_find(host, bus, slot, fn);
	if (!dev || off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - (int)off) {
		pthread_mutex_unlock(&host->lock);
		return 0xffffffffu >> (32 - 8 * len);
	}
	if (dev->cfg_read)
		dev->cfg_read(dev, off, len);
	v = pci_get_le(dev->cfg + off, len);
	pthread_mutex_unlock(&host->lock);
	return v;
}

void pci_cfg_write(struct pci_host *host, int bus, int slot, int fn, uint32_t off, int len,
		   uint32_t val)
{
	struct pci_device *dev;
	int i;

	pthread_mutex_lock(&host->lock);
	dev = pci_find(host, bus, slot, fn);
	if (!dev || off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - (int)off) {
		pthread_mutex_unlock(&host->lock);
		return;
	}
	for (i = 0; i < len; i++) {
		uint8_t m = dev->wmask[off + i], b = val >> (8 * i);

		dev->cfg[off + i] = (dev->cfg[off + i] & ~m) | (b & m);
	}
	if ((off < PCI_BAR0 + 4 * PCI_NR_BARS && off + len > PCI_BAR0) ||
	    (off <= PCI_COMMAND && off + len > PCI_COMMAND))
		pci_update_mappings(host, dev);
	pthread_mutex_unlock(&host->lock);
	if (dev->cfg_written)
		dev->cfg_written(dev, off, len);
}

void pci_conf1_access(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct pci_host *host = opaque;
	uint8_t *p = data;
	uint32_t v = 0, a;
	int i;

	if (off < 4) {
		/* CONFIG_ADDRESS: only whole-dword accesses latch it (0xcf9 is the reset port on PCs). */
		if (off != 0 || len != 4) {
			if (!is_write)
				memset(data, 0xff, len);
			return;
		}
		if (is_write)
			host->addr = pci_get_le(p, 4) & 0x80fffffc;
		else
			put_le32(p, host->addr);
		return;
	}
	a = host->addr;
	if (!(a & PCI_CONF1_ENABLE)) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	off = (a & 0xfc) + (off - 4);
	if (is_write) {
		v = pci_get_le(p, len);
		pci_cfg_write(host, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7, off, len, v);
	} else {
		v = pci_cfg_read(host, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7, off, len);
		for (i = 0; i < len; i++)
			p[i] = v >> (8 * i);
	}
}

void pci_host_init(struct pci_host *host, struct vm *vm)
{
	memset(host, 0, sizeof(*host));
	pthread_mutex_init(&host->lock, NULL);
	host->vm = vm;
	host->next_mmio = PCI_MMIO_WINDOW_BASE;
	host->next_io = PCI_IO_WINDOW_BASE;
	/* Host bridge class makes Linux's conf1 sanity check pass. */
	pci_device_init(&host->bridge, "host-bridge", 0x1b36, 0x0008, 0x060000, 0);
	pci_register(host, &host->bridge);
}

int pci_host_state_save(struct pci_host *host, struct state_buf *sb)
{
	int slot;

	pthread_mutex_lock(&host->lock);
	state_put_u32(sb, "conf1-addr", host->addr);
	for (slot = 0; slot < PCI_MAX_DEVICES; slot++) {
		if (!host->devs[slot])
			continue;
		state_begin_nodef(sb, 1, "slot@%d", slot);
		state_put_bytes(sb, "cfg", host->devs[slot]->cfg, PCI_CFG_SIZE);
		state_end_node(sb);
	}
	pthread_mutex_unlock(&host->lock);
	return sb->err;
}

/*
 * Config spaces come back as they were, then the BARs are mapped from them.
 * The guest can only have changed the bits in each device's write mask, so
 * every other bit must be this device's: ids, class, BAR size and type
 * bits, capability layout (e.g. the MSI-X table size). All slots are
 * checked before any is taken over.
 */
int pci_host_state_load(struct pci_host *host, const void *fdt, int node, char *err,
			size_t errlen)
{
	uint8_t (*cfg)[PCI_CFG_SIZE];
	uint32_t addr, ver;
	char name[16];
	int slot, sub, i, ret = -1;

	if (state_get_u32(fdt, node, "conf1-addr", &addr, err, errlen))
		return -1;
	if (addr & ~0x80fffffcu) {
		snprintf(err, errlen,
			 "pci: conf1-addr 0x%08x has bits CONFIG_ADDRESS does not keep", addr);
		return -1;
	}
	cfg = calloc(PCI_MAX_DEVICES, sizeof(*cfg));
	if (!cfg) {
		snprintf(err, errlen, "pci: out of memory");
		return -1;
	}
	pthread_mutex_lock(&host->lock);
	for (slot = 0; slot < PCI_MAX_DEVICES; slot++) {
		struct pci_device *dev = host->devs[slot];

		if (!dev)
			continue;
		snprintf(name, sizeof(name), "slot@%d", slot);
		sub = state_subnode(fdt, node, name, 1, &ver, err, errlen);
		if (sub < 0 ||
		    state_get_bytes(fdt, sub, "cfg", cfg[slot], PCI_CFG_SIZE, err, errlen))
			goto out;
		if (memcmp(cfg[slot], dev->cfg, 4)) {
			snprintf(err, errlen,
				 "pci slot %d: the source has a different device there", slot);
			goto out;
		}
		for (i = 0; i < PCI_CFG_SIZE; i++) {
			if ((cfg[slot][i] ^ dev->cfg[i]) & ~dev->wmask[i]) {
				snprintf(err, errlen,
					 "pci slot %d (%s): cfg byte 0x%02x = 0x%02x, read-only bits are 0x%02x",
					 slot, dev->name, i, cfg[slot][i],
					 dev->cfg[i] & ~dev->wmask[i]);
				goto out;
			}
		}
	}
	host->addr = addr;
	for (slot = 0; slot < PCI_MAX_DEVICES; slot++) {
		struct pci_device *dev = host->devs[slot];

		if (!dev)
			continue;
		memcpy(dev->cfg, cfg[slot], PCI_CFG_SIZE);
		pci_update_mappings(host, dev);
	}
	ret = 0;
out:
	pthread_mutex_unlock(&host->lock);
	free(cfg);
	return ret;
}

static int pci_host_save(void *opaque, struct state_buf *sb)
{
	return pci_host_state_save(opaque, sb);
}

static int pci_host_load(void *opaque, const void *fdt, int node, char *err, size_t errlen)
{
	return pci_host_state_load(opaque, fdt, node, err, errlen);
}

static int pci_vm_init(struct vm *vm)
{
	struct pci_host *host = calloc(1, sizeof(*host));

	if (!host)
		return -ENOMEM;
	pci_host_init(host, vm);
	vm->pci = host;
	vm_dev_state_register(vm, &(struct vm_dev_state){
		.name = "pci", .version = 1, .opaque = host,
		.save = pci_host_save, .load = pci_host_load,
	});
	return io_bus_register(&vm->pio, PCI_CONF1_ADDR, 8, pci_conf1_access, host, "pci-conf1");
}

static void pci_vm_exit(struct vm *vm)
{
	free(vm->pci);
	vm->pci = NULL;
}

VM_INIT(pci_vm_init, pci_vm_exit, VM_INIT_BUS);
