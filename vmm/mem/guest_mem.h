/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest physical memory and the one accessor every device uses to reach it.
 *
 * Every access is bounds-checked against the RAM regions; every write marks
 * the pages it touches in the device-side dirty bitmap (merged with KVM's
 * dirty log by migration). Devices never do arithmetic on host pointers to
 * guest memory: they ask guest_mem_map() for a checked span.
 */
#ifndef VLAB_GUEST_MEM_H
#define VLAB_GUEST_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/mem/mem_view.h"

#define GM_PAGE_SHIFT	12
#define GM_PAGE_SIZE	(1ULL << GM_PAGE_SHIFT)
#define GM_MAX_REGIONS	4

/* x86 layout: RAM below the 32-bit PCI/APIC hole, the rest from 4 GiB. */
#define GM_HOLE_START	0xc0000000ULL
#define GM_HOLE_END	0x100000000ULL

struct guest_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
	int fd;		/* the memfd behind it, mapped shared at host; -1: none */
};

struct guest_mem {
	struct guest_mem_region regions[GM_MAX_REGIONS];
	int nr_regions;
	uint64_t ram_size;		/* total RAM bytes */
	uint64_t gpa_end;		/* highest RAM gpa + 1 */
	uint8_t *base;			/* one host address range for all regions */
	uint64_t map_size;
	bool owns_mapping;
	/* Device-side dirty log: one bit per page of [0, gpa_end). */
	unsigned long *dirty;
	uint64_t dirty_bits;
	/* RAM by guest-physical address, read/write: the identity view. */
	struct mem_view view;
};

static inline struct mem_view *guest_mem_view(struct guest_mem *gm)
{
	return &gm->view;
}

/* Map @ram_size bytes of anonymous memory and lay it out around the hole. */
int guest_mem_init(struct guest_mem *gm, uint64_t ram_size);
/*
 * The same with a memfd per region, mapped shared into the same kind of
 * host range: another process (vhost-user, a local migration's
 * destination) can map the memory from the fd. No THP where the host
 * gives shmem none: first touches cost more (README, --mem-backend).
 */
int guest_mem_init_memfd(struct guest_mem *gm, uint64_t ram_size);
/*
 * Map @fd (a memfd of at least the region's size, as another vlab's
 * guest_mem_init_memfd() made it) in place of region @i's memory (either
 * kind), at the same
 * host address: pointers into RAM stay valid, KVM refaults from the new
 * mapping. Takes @fd on success. -errno, the region unchanged, if not.
 */
int guest_mem_replace(struct guest_mem *gm, int i, int fd);
/*
 * Another process runs the guest in this RAM now (a local migration):
 * private memory goes in its place and the memfds are closed, so that
 * nothing here (a device's teardown, a late read) can reach it.
 */
void guest_mem_release(struct guest_mem *gm);
/* Use a caller-owned buffer as guest RAM at gpa 0 (unit tests). */
int guest_mem_init_buffer(struct guest_mem *gm, void *buf, uint64_t size);
void guest_mem_exit(struct guest_mem *gm);

/*
 * Host pointer to [gpa, gpa+len), or NULL if any byte lies outside RAM or
 * the span crosses regions. A @write mapping marks the span dirty now; a
 * caller that writes through the pointer while a migration may be running
 * maps with @write false and calls guest_mem_mark_dirty() after writing
 * (see guest_mem_write()).
 */
void *guest_mem_map(struct guest_mem *gm, uint64_t gpa, uint64_t len, bool write);
int guest_mem_read(struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len);
int guest_mem_write(struct guest_mem *gm, uint64_t gpa, const void *buf, uint64_t len);
int guest_mem_fill(struct guest_mem *gm, uint64_t gpa, int c, uint64_t len);
bool guest_mem_is_ram(struct guest_mem *gm, uint64_t gpa, uint64_t len);

/*
 * Set in @bm (one bit per page of [0, gpa_end)) the RAM pages that may
 * hold data: those the host kernel has a page or a swap entry for (the
 * memfd's data, or /proc/self/pagemap for a buffer). A page the guest never touched has neither and
 * reads as zero, so migration and snapshots skip it unread; reading it
 * would fault in a zero page (for a big idle guest, seconds of page
 * faults and page tables). -errno if the kernel cannot tell: then assume
 * every page.
 */
int guest_mem_touched(struct guest_mem *gm, unsigned long *bm);

void guest_mem_mark_dirty(struct guest_mem *gm, uint64_t gpa, uint64_t len);
/* Move the device dirty bits into @out (same layout) and clear them. */
void guest_mem_dirty_collect(struct guest_mem *gm, unsigned long *out);

#endif
