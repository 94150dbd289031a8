/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvpanic (PCI 1b36:0011, as QEMU's pvpanic-pci): the guest kernel's
 * pvpanic driver writes PANICKED to a one-byte register when it panics,
 * and vlab ends with status 1 and one clear line instead of hanging at a
 * dead guest. Reading the register gives the events this device handles.
 */
#ifndef VLAB_PVPANIC_H
#define VLAB_PVPANIC_H

#include <stdint.h>

#include "devices/legacy/pci.h"

#define PVPANIC_VENDOR_ID	0x1b36	/* Red Hat, as QEMU's pvpanic-pci */
#define PVPANIC_DEVICE_ID	0x0011
#define PVPANIC_PANICKED	(1u << 0)
#define PVPANIC_CRASH_LOADED	(1u << 1)
#define PVPANIC_EVENTS		(PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)
#define PVPANIC_BAR_SIZE	16	/* the smallest memory BAR */

struct vm;

struct pvpanic {
	struct pci_device pci;
	struct vm *vm;
	uint8_t last_event;	/* the latest event the guest wrote */
};

/* BAR 0: offset 0 reads the supported events; a write reports events. */
void pvpanic_access(void *opaque, uint64_t off, void *data, int len, bool is_write);

#endif
