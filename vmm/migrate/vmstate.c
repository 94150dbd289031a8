// SPDX-License-Identifier: GPL-2.0
/*
 * What a stream carries besides RAM: the configuration the destination
 * must match (one node per device kind) and the VM's state tree, plus
 * quiescing the devices around it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <linux/kvm.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/control/control.h"
#include "vmm/x86/cpu_state.h"
#include "vmm/mem/dirty_ring.h"
#include "vmm/control/json.h"
#include "vmm/migrate/migrate.h"
#include "vmm/migrate/state.h"
#include "vmm/core/vm.h"
#include "vmm/core/worker.h"
#include "vmm/migrate/internal.h"

/* ---- configuration both ends must agree on ---- */

int mig_config_save(struct vm *vm, struct state_buf *sb)
{
	const struct device_kind *k;
	int i;

	state_begin_node(sb, "config", MIG_CONFIG_VERSION);
	state_put_u64(sb, "mem-size", vm->cfg->mem_size);
	state_put_u32(sb, "cpus", vm->nr_cpus);
	/* Every device kind: how many, and what each must match. */
	for (k = device_kinds(); k; k = k->next) {
		int n = vm_config_count(vm->cfg, k);

		state_begin_nodef(sb, 1, "kind-%s", k->option);
		state_put_u32(sb, "count", n);
		for (i = 0; i < n; i++) {
			state_begin_nodef(sb, 1, "%s@%d", k->option, i);
			if (k->config_save)
				k->config_save(vm_config_device(vm->cfg, k, i), sb);
			state_end_node(sb);
		}
		state_end_node(sb);
	}
	return state_end_node(sb);
}

int mig_config_check(struct vm *vm, const void *fdt, size_t len, char *err, size_t errlen)
{
	const struct device_kind *k;
	uint64_t mem;
	uint32_t cpus, count, ver;
	int node, i, sub, inst;
	char name[64], why[192];

	if (state_check(fdt, len, err, errlen))
		return -1;
	node = state_subnode(fdt, 0, "config", MIG_CONFIG_VERSION, &ver, err, errlen);
	if (node < 0 ||
	    state_get_u64(fdt, node, "mem-size", &mem, err, errlen) ||
	    state_get_u32(fdt, node, "cpus", &cpus, err, errlen))
		return -1;
	if (ver < MIG_CONFIG_VERSION) {
		snprintf(err, errlen, "the source is an older vlab (configuration format %u, "
			 "this vlab reads %u)", ver, MIG_CONFIG_VERSION);
		return -1;
	}
	if (mem != vm->cfg->mem_size) {
		snprintf(err, errlen, "configuration mismatch: the source has --mem %lluM, this vlab %lluM",
			 (unsigned long long)(mem >> 20),
			 (unsigned long long)(vm->cfg->mem_size >> 20));
		return -1;
	}
	if ((int)cpus != vm->nr_cpus) {
		snprintf(err, errlen, "configuration mismatch: the source has --cpus %u, this vlab %d",
			 cpus, vm->nr_cpus);
		return -1;
	}
	/* A kind the source does not know has no node: it had none of them. */
	for (k = device_kinds(); k; k = k->next) {
		int n = vm_config_count(vm->cfg, k);

		snprintf(name, sizeof(name), "kind-%s", k->option);
		count = 0;
		sub = fdt_subnode_offset(fdt, node, name);
		if (sub >= 0 && state_get_u32(fdt, sub, "count", &count, err, errlen))
			return -1;
		if ((int)count != n) {
			snprintf(err, errlen, "configuration mismatch: the source has %u --%s, "
				 "this vlab %d", count, k->option, n);
			return -1;
		}
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "%s@%d", k->option, i);
			inst = state_subnode(fdt, sub, name, 1, &ver, err, errlen);
			if (inst < 0)
				return -1;
			if (k->config_check &&
			    k->config_check(vm_config_device(vm->cfg, k, i), fdt, inst, why,
					    sizeof(why))) {
				snprintf(err, errlen, "configuration mismatch: %s %d has %s",
					 k->noun, i, why);
				return -1;
			}
		}
	}
	return 0;
}


/* ---- state ---- */

int mig_state_save(struct vm *vm, struct state_buf *sb)
{
	struct vm_dev_state *d;

	if (state_buf_init(sb))
		return -ENOMEM;
	if (vm_kvm_state_save(vm, sb))
		return -EIO;
	state_begin_node(sb, "devices", 1);
	for (d = vm->dev_states; d; d = d->next) {
		state_begin_node(sb, d->name, d->version);
		if (d->save && d->save(d->opaque, sb))
			state_buf_fail(sb, -EIO, "saving %s failed", d->name);
		state_end_node(sb);
	}
	state_end_node(sb);
	return state_buf_finish(sb);
}

int mig_state_load(struct vm *vm, const void *fdt, size_t len, char *err, size_t errlen)
{
	struct vm_dev_state *d;
	uint32_t ver;
	int devs, node;

	if (state_check(fdt, len, err, errlen) || vm_kvm_state_load(vm, fdt, err, errlen))
		return -1;
	devs = state_subnode(fdt, 0, "devices", 1, &ver, err, errlen);
	if (devs < 0)
		return -1;
	for (d = vm->dev_states; d; d = d->next) {
		node = state_subnode(fdt, devs, d->name, d->version, &ver, err, errlen);
		if (node < 0)
			return -1;
		if (d->load && d->load(d->opaque, fdt, node, err, errlen))
			return -1;
	}
	return 0;
}

int mig_early_save(struct vm *vm, struct state_buf *sb)
{
	struct vm_dev_state *d;
	int n = 0;

	if (state_buf_init(sb))
		return -ENOMEM;
	state_begin_node(sb, "devices", 1);
	for (d = vm->dev_states; d; d = d->next) {
		if (!d->save_early)
			continue;
		state_begin_node(sb, d->name, d->version);
		if (d->save_early(d->opaque, sb))
			state_buf_fail(sb, -EIO, "saving %s's early state failed", d->name);
		state_end_node(sb);
		n++;
	}
	state_end_node(sb);
	if (state_buf_finish(sb))
		return -EIO;
	return n > 0;
}

/* Advisory: what does not parse is logged and left; the final state decides. */
void mig_early_load(struct vm *vm, const void *fdt, size_t len)
{
	struct vm_dev_state *d;
	char err[256];
	uint32_t ver;
	int devs, node;

	if (state_check(fdt, len, err, sizeof(err))) {
		vlab_log("incoming: early device state ignored: %s", err);
		return;
	}
	devs = state_subnode(fdt, 0, "devices", 1, &ver, err, sizeof(err));
	for (d = vm->dev_states; devs >= 0 && d; d = d->next) {
		if (!d->preload || fdt_subnode_offset(fdt, devs, d->name) < 0)
			continue;
		node = state_subnode(fdt, devs, d->name, d->version, &ver, err, sizeof(err));
		if (node < 0)
			vlab_log("incoming: early state of %s ignored: %s", d->name, err);
		else
			d->preload(d->opaque, fdt, node);
	}
}

#define MIG_MAX_DEV_STATES	64

struct mig_devices_job {
	struct vm_dev_state *d[MIG_MAX_DEV_STATES];
	bool quiesce;
};

static void mig_device(void *arg, unsigned int i)
{
	struct mig_devices_job *j = arg;

	if (j->quiesce)
		j->d[i]->quiesce(j->d[i]->opaque);
	else
		j->d[i]->unquiesce(j->d[i]->opaque);
}

/*
 * Every device at once: each stops or starts on its own (a vDPA NIC waits
 * on its own firmware), so the switch-over waits for the slowest, not the
 * sum.
 */
void mig_devices(struct vm *vm, bool quiesce)
{
	struct mig_devices_job j = { .quiesce = quiesce };
	struct vm_dev_state *d;
	unsigned int n = 0;

	for (d = vm->dev_states; d; d = d->next) {
		if (!(quiesce ? d->quiesce : d->unquiesce))
			continue;
		if (n == MIG_MAX_DEV_STATES) {
			mig_device(&(struct mig_devices_job){ .d = { d }, .quiesce = quiesce }, 0);
			continue;
		}
		j.d[n++] = d;
	}
	run_parallel(n, mig_device, &j);
}

