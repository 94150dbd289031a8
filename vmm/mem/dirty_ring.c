// SPDX-License-Identifier: GPL-2.0
/*
 * KVM dirty rings. Each vCPU has a ring of struct kvm_dirty_gfn shared
 * with KVM: KVM sets KVM_DIRTY_GFN_F_DIRTY on the entries it pushes, we
 * read them in order from our fetch index, mark them KVM_DIRTY_GFN_F_RESET
 * and call KVM_RESET_DIRTY_RINGS, which re-protects those pages and frees
 * the entries. A page is published to the migration code only after that
 * reset: a write between our read of the page and its re-protection would
 * otherwise be lost.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "vmm/mem/dirty_ring.h"
#include "vmm/mem/guest_mem.h"
#include "vmm/core/vm.h"

#define BITS_PER_LONG	(8 * sizeof(unsigned long))

int dirty_ring_enable(struct vm *vm, uint32_t entries, char *err, size_t errlen)
{
	struct dirty_ring *dr;
	struct kvm_enable_cap cap = { 0 };
	int max;

	if (entries < DIRTY_RING_MIN || entries > DIRTY_RING_MAX || (entries & (entries - 1))) {
		snprintf(err, errlen, "--dirty-ring: %u is not a power of two in %u..%u",
			 entries, DIRTY_RING_MIN, DIRTY_RING_MAX);
		return -1;
	}
	/* ACQ_REL is the same ring with the memory ordering spelled out; prefer it. */
	cap.cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
	max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap.cap);
	if (max <= 0) {
		cap.cap = KVM_CAP_DIRTY_LOG_RING;
		max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap.cap);
	}
	if (max <= 0) {
		snprintf(err, errlen, "--dirty-ring: this KVM has no dirty ring "
			 "(KVM_CAP_DIRTY_LOG_RING); leave it out to use the dirty bitmap");
		return -1;
	}
	if ((uint64_t)entries * sizeof(struct kvm_dirty_gfn) > (uint64_t)max) {
		snprintf(err, errlen, "--dirty-ring: this KVM takes at most %zu entries",
			 max / sizeof(struct kvm_dirty_gfn));
		return -1;
	}
	cap.args[0] = entries * sizeof(struct kvm_dirty_gfn);
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		snprintf(err, errlen, "--dirty-ring: enabling it failed: %s", strerror(errno));
		return -1;
	}
	dr = calloc(1, sizeof(*dr));
	if (!dr) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	dr->entries = entries;
	pthread_mutex_init(&dr->lock, NULL);
	dr->pending_words = (vm->mem.dirty_bits + BITS_PER_LONG - 1) / BITS_PER_LONG;
	dr->pending = calloc(dr->pending_words, sizeof(unsigned long));
	dr->gpas = calloc((size_t)entries * vm->cfg->nr_cpus, sizeof(uint64_t));
	vm->dirty_ring = dr;
	if (!dr->pending || !dr->gpas) {
		dirty_ring_free(vm);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int dirty_ring_map_vcpu(struct vcpu *cpu)
{
	struct dirty_ring *dr = cpu->vm->dirty_ring;
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	if (!dr)
		return 0;
	p = mmap(NULL, dr->entries * sizeof(struct kvm_dirty_gfn), PROT_READ | PROT_WRITE,
		 MAP_SHARED, cpu->fd, KVM_DIRTY_LOG_PAGE_OFFSET * page);
	if (p == MAP_FAILED)
		return -1;
	cpu->dirty_gfns = p;
	cpu->dirty_fetch = 0;
	return 0;
}

void dirty_ring_unmap_vcpu(struct vcpu *cpu)
{
	if (cpu->dirty_gfns)
		munmap(cpu->dirty_gfns,
		       cpu->vm->dirty_ring->entries * sizeof(struct kvm_dirty_gfn));
	cpu->dirty_gfns = NULL;
}

/* The guest-physical address of a ring entry, or ~0 if KVM named no RAM of ours. */
static uint64_t dirty_gfn_gpa(struct vm *vm, const struct kvm_dirty_gfn *e)
{
	uint32_t slot = e->slot & 0xffff;	/* address space in the high half */
	const struct guest_mem_region *r;

	if ((e->slot >> 16) || slot >= (uint32_t)vm->mem.nr_regions)
		return ~0ULL;
	r = &vm->mem.regions[slot];
	if (e->offset >= r->size >> GM_PAGE_SHIFT)
		return ~0ULL;
	return r->gpa + (e->offset << GM_PAGE_SHIFT);
}

/* Called with dr->lock held. */
static void dirty_ring_harvest_locked(struct vm *vm)
{
	struct dirty_ring *dr = vm->dirty_ring;
	uint64_t n = 0, i;
	int c;

	for (c = 0; c < vm->nr_cpus; c++) {
		struct vcpu *cpu = &vm->cpus[c];

		if (!cpu->dirty_gfns)
			continue;
		for (;;) {
			struct kvm_dirty_gfn *e =
				&cpu->dirty_gfns[cpu->dirty_fetch & (dr->entries - 1)];

			if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
				break;
			dr->gpas[n++] = dirty_gfn_gpa(vm, e);
			__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
			cpu->dirty_fetch++;
		}
	}
	if (!n)
		return;
	/* Re-protect first, publish after (see the top of the file). */
	if (ioctl(vm->vm_fd, KVM_RESET_DIRTY_RINGS, 0) < 0)
		vlab_log("KVM_RESET_DIRTY_RINGS: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		uint64_t page = dr->gpas[i] >> GM_PAGE_SHIFT;

		if (dr->gpas[i] != ~0ULL && page < dr->pending_words * BITS_PER_LONG)
			dr->pending[page / BITS_PER_LONG] |= 1UL << (page % BITS_PER_LONG);
	}
	__atomic_add_fetch(&dr->nr_harvested, n, __ATOMIC_RELAXED);
}

void dirty_ring_harvest(struct vm *vm)
{
	struct dirty_ring *dr = vm->dirty_ring;

	if (!dr)
		return;
	pthread_mutex_lock(&dr->lock);
	dirty_ring_harvest_locked(vm);
	pthread_mutex_unlock(&dr->lock);
}

void dirty_ring_collect(struct vm *vm, unsigned long *out)
{
	struct dirty_ring *dr = vm->dirty_ring;
	uint64_t w;

	if (!dr)
		return;
	pthread_mutex_lock(&dr->lock);
	dirty_ring_harvest_locked(vm);
	for (w = 0; w < dr->pending_words; w++) {
		if (out)
			out[w] |= dr->pending[w];
		dr->pending[w] = 0;
	}
	pthread_mutex_unlock(&dr->lock);
}

void dirty_ring_free(struct vm *vm)
{
	struct dirty_ring *dr = vm->dirty_ring;

	if (!dr)
		return;
	free(dr->pending);
	free(dr->gpas);
	pthread_mutex_destroy(&dr->lock);
	free(dr);
	vm->dirty_ring = NULL;
}
