// SPDX-License-Identifier: GPL-2.0
/*
 * pvpanic-pci: a guest kernel panic ends vlab with status 1 and the line
 * "guest kernel panicked (pvpanic)". Registered after every other PCI
 * function, so adding it moved no existing device's slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/legacy/pvpanic.h"
#include "vmm/core/config.h"
#include "vmm/core/vm.h"

#define PCI_CLASS_SYSTEM_OTHER	0x088000

void pvpanic_access(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct pvpanic *p = opaque;
	uint8_t *b = data;

	if (!is_write) {
		memset(b, 0, len);
		if (off == 0)
			b[0] = PVPANIC_EVENTS;
		return;
	}
	if (off != 0)
		return;
	p->last_event = b[0];
	if (b[0] & PVPANIC_CRASH_LOADED)
		vlab_log("guest kernel crashed into its crash kernel (pvpanic)");
	if (b[0] & PVPANIC_PANICKED) {
		vlab_log("guest kernel panicked (pvpanic)");
		vm_stop(p->vm, VM_STOP_PANIC, VLAB_EXIT_GUEST_CRASH);
	}
}

static struct pvpanic *pvpanic_of(struct vm *vm)
{
	return vm->pvpanic;
}

static int pvpanic_vm_init(struct vm *vm)
{
	struct pvpanic *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	p->vm = vm;
	pci_device_init(&p->pci, "pvpanic", PVPANIC_VENDOR_ID, PVPANIC_DEVICE_ID,
			PCI_CLASS_SYSTEM_OTHER, 1);
	ret = pci_device_set_bar(vm->pci, &p->pci, 0, PVPANIC_BAR_SIZE, false, false,
				 pvpanic_access, p);
	if (ret >= 0)
		ret = pci_register(vm->pci, &p->pci);
	if (ret < 0) {
		free(p);
		return ret;
	}
	vm->pvpanic = p;
	return 0;
}

static void pvpanic_vm_exit(struct vm *vm)
{
	struct pvpanic *p = pvpanic_of(vm);

	if (!p)
		return;
	pci_unregister(vm->pci, &p->pci);
	free(p);
	vm->pvpanic = NULL;
}

VM_INIT(pvpanic_vm_init, pvpanic_vm_exit, VM_INIT_LATE);
