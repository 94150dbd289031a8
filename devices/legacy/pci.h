/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI host bridge with configuration mechanism #1 (0xcf8/0xcfc) on bus 0.
 * Devices describe their config space and BARs; the host handles sizing,
 * enable bits and mapping BARs onto the VM's I/O buses.
 */
#ifndef VLAB_PCI_H
#define VLAB_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/core/bytes.h"
#include "vmm/core/iobus.h"

struct vm;

#define PCI_CFG_SIZE		256
#define PCI_MAX_DEVICES		32
#define PCI_NR_BARS		6

#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_COMMAND		0x04
#define  PCI_COMMAND_IO		0x1
#define  PCI_COMMAND_MEMORY	0x2
#define  PCI_COMMAND_MASTER	0x4
#define  PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS		0x06
#define  PCI_STATUS_CAP_LIST	0x10
#define PCI_REVISION_ID		0x08
#define PCI_CLASS_PROG		0x09
#define PCI_CLASS_DEVICE	0x0a
#define PCI_HEADER_TYPE		0x0e
#define PCI_BAR0		0x10
#define PCI_SUBSYSTEM_VENDOR_ID	0x2c
#define PCI_SUBSYSTEM_ID	0x2e
#define PCI_CAPABILITY_LIST	0x34
#define PCI_INTERRUPT_LINE	0x3c
#define PCI_INTERRUPT_PIN	0x3d

#define PCI_BAR_IO		0x1
#define PCI_BAR_MEM64		0x4

/* 32-bit MMIO window for BARs the guest does not place itself. */
#define PCI_MMIO_WINDOW_BASE	0xe0000000ULL
#define PCI_MMIO_WINDOW_SIZE	0x10000000ULL
#define PCI_IO_WINDOW_BASE	0xc000
#define PCI_IO_WINDOW_SIZE	0x4000

struct pci_device;

/* @len (1..4) bytes at @p as a number. */
static inline uint32_t pci_get_le(const uint8_t *p, int len)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < len && i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

struct pci_bar {
	uint64_t size;		/* power of two; 0 = unused */
	bool io;
	bool mem64;		/* occupies this and the next BAR register */
	io_handler_fn fn;
	void *opaque;
	uint64_t mapped_at;	/* current address while mapped */
	bool mapped;
};

struct pci_device {
	const char *name;
	int slot;		/* assigned by pci_register */
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];	/* guest-writable bits */
	struct pci_bar bars[PCI_NR_BARS];
	/* After a guest config write has been applied (may be NULL). */
	void (*cfg_written)(struct pci_device *dev, uint32_t off, int len);
	/* Before a guest config read, to refresh computed bytes (may be NULL). */
	void (*cfg_read)(struct pci_device *dev, uint32_t off, int len);
	/* A BAR was mapped at @addr (@on) or unmapped (may be NULL). */
	void (*bar_mapped)(struct pci_device *dev, int bar, uint64_t addr, bool on);
	void *priv;
};

struct pci_host {
	pthread_mutex_t lock;
	struct vm *vm;
	uint32_t addr;		/* CONFIG_ADDRESS latch */
	struct pci_device *devs[PCI_MAX_DEVICES];
	struct pci_device bridge;
	uint64_t next_mmio, next_io;	/* BAR allocator */
};

/* Initialise @dev's header (type 0) with ids and class. */
void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision);
/* Declare BAR @n; a default address is allocated from the windows. */
int pci_device_set_bar(struct pci_host *host, struct pci_device *dev, int n,
		       uint64_t size, bool io, bool mem64, io_handler_fn fn, void *opaque);
/* Add to bus 0; returns the slot or -errno. */
int pci_register(struct pci_host *host, struct pci_device *dev);
/* Unmap its BARs and take it off the bus (device removal, teardown). */
void pci_unregister(struct pci_host *host, struct pci_device *dev);

/* Config access as the guest sees it (bus/dev/fn/offset). Exposed for tests. */
void pci_host_init(struct pci_host *host, struct vm *vm);
uint32_t pci_cfg_read(struct pci_host *host, int bus, int slot, int fn, uint32_t off, int len);
void pci_cfg_write(struct pci_host *host, int bus, int slot, int fn, uint32_t off, int len,
		   uint32_t val);
void pci_conf1_access(void *opaque, uint64_t off, void *data, int len, bool is_write);

/*
 * Snapshot state ("pci"): the CONFIG_ADDRESS latch and every device's
 * config space. Load refuses a latch or config bytes the guest could not
 * have written (read-only bits that differ from the device's) with a
 * message, and then changes nothing; safe with any tree.
 */
struct state_buf;
int pci_host_state_save(struct pci_host *host, struct state_buf *sb);
int pci_host_state_load(struct pci_host *host, const void *fdt, int node, char *err,
			size_t errlen);

#endif
