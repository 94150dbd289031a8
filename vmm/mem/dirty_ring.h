/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM's dirty ring (KVM_CAP_DIRTY_LOG_RING), the alternative to the dirty
 * bitmap for live migration: while dirty logging is on, KVM pushes each
 * page a vCPU writes into that vCPU's ring instead of a bitmap. vlab
 * harvests the rings into a bitmap of its own, so migration code sees
 * the same thing in both modes.
 */
#ifndef VLAB_DIRTY_RING_H
#define VLAB_DIRTY_RING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vcpu;

#define DIRTY_RING_MIN		1024	/* entries per vCPU */
#define DIRTY_RING_MAX		65536

struct dirty_ring {
	uint32_t entries;		/* per vCPU, a power of two */
	pthread_mutex_t lock;		/* one harvester at a time */
	unsigned long *pending;		/* gpa pages harvested, not yet collected */
	uint64_t pending_words;
	uint64_t *gpas;			/* harvested, before the rings are reset */
	uint64_t nr_harvested;		/* statistics */
	uint64_t nr_full_exits;
};

/* Before any vCPU exists: ask KVM for rings of @entries. */
int dirty_ring_enable(struct vm *vm, uint32_t entries, char *err, size_t errlen);
/* After KVM_CREATE_VCPU: map the vCPU's ring. */
int dirty_ring_map_vcpu(struct vcpu *cpu);
void dirty_ring_unmap_vcpu(struct vcpu *cpu);
/*
 * Move every entry KVM pushed into the pending bitmap, then reset the
 * rings (re-protecting those pages). Any thread; the vCPU threads call it
 * on KVM_EXIT_DIRTY_RING_FULL, which they cannot run past otherwise.
 */
void dirty_ring_harvest(struct vm *vm);
/* Harvest, then OR the pending pages into @out (or drop them if NULL). */
void dirty_ring_collect(struct vm *vm, unsigned long *out);
void dirty_ring_free(struct vm *vm);

#endif
