// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/core/device.h"
#include "vmm/core/vm.h"

static struct device_kind *kinds;

void device_kind_register(struct device_kind *kind)
{
	struct device_kind **p;

	/* A kind whose config does not fit is a build mistake: say so at once. */
	if (kind->config_size > DEVICE_CONFIG_MAX) {
		fprintf(stderr, "vlab: device kind --%s: config of %zu bytes, at most %d\n",
			kind->option, kind->config_size, DEVICE_CONFIG_MAX);
		abort();
	}
	for (p = &kinds; *p; p = &(*p)->next)
		;
	kind->next = NULL;
	*p = kind;
}

const struct device_kind *device_kinds(void)
{
	return kinds;
}

void *device_create(struct vm *vm, const struct device_kind *kind, const void *config,
		    int index, char *err, size_t errlen)
{
	void *dev;

	if (vm->nr_devices == VLAB_MAX_DEVICES) {
		snprintf(err, errlen, "no room for a device %d", VLAB_MAX_DEVICES + 1);
		return NULL;
	}
	if (!kind->create) {
		snprintf(err, errlen, "--%s devices cannot be created on a VM", kind->option);
		return NULL;
	}
	dev = kind->create(vm, config, index, err, errlen);
	if (!dev)
		return NULL;
	vm->devices[vm->nr_devices].kind = kind;
	vm->devices[vm->nr_devices].dev = dev;
	vm->nr_devices++;
	return dev;
}

/* After the vCPUs are gone, before guest RAM is: newest first. */
static void devices_vm_exit(struct vm *vm)
{
	while (vm->nr_devices)
		device_destroy(vm, vm->devices[vm->nr_devices - 1].dev);
}

/*
 * Every device of the command line, in order, but those that attach to
 * another device after the rest; on failure none is left.
 */
static int devices_vm_init(struct vm *vm)
{
	char err[256];
	int pass, i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < vm->cfg->nr_devs; i++) {
			const struct device_conf *c = &vm->cfg->devs[i];

			if (c->kind->after_others != pass)
				continue;
			if (!device_create(vm, c->kind, c->config, c->index, err, sizeof(err))) {
				vlab_log("%s", err);
				devices_vm_exit(vm);
				return -EINVAL;
			}
		}
	}
	return 0;
}

void *device_find(struct vm *vm, const struct device_kind *kind, int index)
{
	int i;

	for (i = 0; i < vm->nr_devices; i++)
		if (vm->devices[i].kind == kind && index-- == 0)
			return vm->devices[i].dev;
	return NULL;
}

void device_destroy(struct vm *vm, void *dev)
{
	int i;

	for (i = 0; i < vm->nr_devices; i++) {
		if (vm->devices[i].dev != dev)
			continue;
		vm->devices[i].kind->destroy(vm, dev);
		memmove(&vm->devices[i], &vm->devices[i + 1],
			(vm->nr_devices - i - 1) * sizeof(vm->devices[0]));
		vm->nr_devices--;
		return;
	}
}

VM_INIT(devices_vm_init, devices_vm_exit, VM_INIT_DEVICE + 5);
