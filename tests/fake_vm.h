/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A VM without KVM for in-process device tests: guest RAM in a plain
 * buffer, the I/O buses, the main event loop (nobody runs it) and the PCI
 * host. Enough for a device kind to create, attach and destroy its
 * instances; KVM ioctls fail (vm_fd -1), so doorbells take the MMIO-exit
 * path.
 */
#ifndef VLAB_TESTS_FAKE_VM_H
#define VLAB_TESTS_FAKE_VM_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/legacy/pci.h"
#include "vmm/core/irq.h"
#include "vmm/core/vm.h"

struct fake_vm {
	struct vm vm;
	struct vm_config cfg;
	struct pci_host host;
	uint8_t *ram;
};

static inline void fake_vm_init(struct fake_vm *f, size_t ram_size)
{
	memset(f, 0, sizeof(*f));
	f->ram = aligned_alloc(4096, ram_size);
	ck_assert_ptr_nonnull(f->ram);
	memset(f->ram, 0, ram_size);
	ck_assert_int_eq(guest_mem_init_buffer(&f->vm.mem, f->ram, ram_size), 0);
	f->vm.vm_fd = -1;
	f->vm.cfg = &f->cfg;
	ck_assert_int_eq(event_loop_init(&f->vm.loop), 0);
	io_bus_init(&f->vm.pio, "pio");
	io_bus_init(&f->vm.mmio, "mmio");
	pci_host_init(&f->host, &f->vm);
	f->vm.pci = &f->host;
	/* MSI routes are kept as on KVM; only the ioctls fail (no VM fd). */
	irq_routing_init(&f->vm);
	ck_assert_ptr_nonnull(f->vm.irq);
}

static inline void fake_vm_exit(struct fake_vm *f)
{
	while (f->vm.dev_states) {
		struct vm_dev_state *d = f->vm.dev_states;

		f->vm.dev_states = d->next;
		free(d);
	}
	irq_routing_exit(&f->vm);
	io_bus_exit(&f->vm.pio);
	io_bus_exit(&f->vm.mmio);
	event_loop_exit(&f->vm.loop);
	guest_mem_exit(&f->vm.mem);
	free(f->ram);
}

#endif
