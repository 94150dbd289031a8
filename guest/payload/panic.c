// SPDX-License-Identifier: GPL-2.0
/*
 * panic: what a guest kernel's pvpanic driver does when it panics. Finds
 * the pvpanic-pci function, checks the events it offers and writes
 * PANICKED; vlab must then end with status 1. Exits 10+ if anything on
 * the way is wrong, so a test can tell a missing device from a VMM that
 * ignored the event (the payload then spins until the test's timeout).
 */
#include "payload.h"

PAYLOAD_NAME("panic");

#define PVPANIC_VENDOR		0x1b36
#define PVPANIC_DEVICE		0x0011
#define PVPANIC_PANICKED	0x1

int payload_main(void)
{
	int slot = pci_find(PVPANIC_VENDOR, PVPANIC_DEVICE);
	uint64_t bar;
	uint8_t events;

	if (slot < 0) {
		printf("panic: no pvpanic function on bus 0\n");
		return 10;
	}
	bar = pci_bar_addr(slot, 0);
	if (!bar)
		return 11;
	pci_write16(slot, PCI_COMMAND, PCI_COMMAND_MEMORY);
	events = mmio_read8(bar);
	printf("panic: pvpanic at slot %d, bar 0x%lx, events 0x%x\n", slot, bar, events);
	if (!(events & PVPANIC_PANICKED))
		return 12;
	mmio_write8(bar, PVPANIC_PANICKED);
	for (;;)
		barrier();
}
