/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dirty log of guest RAM: which pages were written since the last
 * look, in guest-physical space (one bit a page of [0, gpa_end)),
 * whoever wrote them. Writers report through sources:
 *  - KVM's log of vCPU writes: the dirty bitmap with manual protect, or
 *    the per-vCPU dirty ring (--dirty-ring),
 *  - the memory views devices write through (guest_mem's own bitmap, in
 *    GPA space whatever the view),
 *  - any source registered on the VM with dirty_source_register(): a
 *    device that writes guest RAM some other way adds one, and migration
 *    tracks it without knowing the device.
 * Migration (pre-copy and snapshots) uses only dirty_log_*().
 */
#ifndef VLAB_MIGRATE_DIRTY_H
#define VLAB_MIGRATE_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

#define DIRTY_MAX_SOURCES	16

struct dirty_source {
	const char *name;
	/* Log from now on (optional). */
	int (*start)(void *opaque);
	/* OR the pages written since the last collect into @bm and forget them. */
	int (*collect)(void *opaque, unsigned long *bm);
	/* Stop logging (optional). */
	void (*stop)(void *opaque);
	void *opaque;
	struct dirty_source *next;	/* vm->dirty_sources */
};

/* Add or remove a source of @vm (not while a migration runs). */
void dirty_source_register(struct vm *vm, struct dirty_source *src);
void dirty_source_unregister(struct vm *vm, struct dirty_source *src);

struct dirty_log {
	struct vm *vm;
	unsigned long *bm;		/* the pages the last sync found */
	uint64_t words;
	bool logging;
	bool manual_protect;		/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled on the VM */
	unsigned long *scratch;		/* one source's bits at a time */
	struct dirty_source kvm, views;	/* the built-in sources */
	struct dirty_source *src[DIRTY_MAX_SOURCES];	/* built-in, then the VM's */
	int ret[DIRTY_MAX_SOURCES];			/* the VM's starts, in parallel */
	int nr_src;
};

/* Start every source: writes from now on are logged. */
int dirty_log_start(struct dirty_log *dl, struct vm *vm);
/* dl->bm = every page written since the last sync (or the start). */
int dirty_log_sync(struct dirty_log *dl);
/* Stop every source and free the bitmaps. */
void dirty_log_stop(struct dirty_log *dl);

#endif
