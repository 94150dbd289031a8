/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory views: how a device (or a ring) reaches memory by the addresses it
 * is given. A view translates (address, length, permission) into host
 * segments; each segment also says which guest-physical address it covers,
 * so that whatever the view, a write is marked dirty in guest-physical
 * space, where migration reads the dirty log.
 *
 * Two kinds:
 *  - the identity view of guest RAM (every struct guest_mem has one,
 *    guest_mem_view()): addresses are GPAs, everything is read/write;
 *  - an IOTLB view (iotlb_view_*): one per device address space, entries
 *    {iova, size, host, gpa, perm} changed at run time, as a vDPA device's
 *    IOTLB is by the VMM.
 *
 * Every change to what a view translates bumps its generation number: a
 * user that caches host pointers (a ring caches its ring areas) compares
 * the generation before using them and translates again when it moved.
 */
#ifndef VLAB_MEM_VIEW_H
#define VLAB_MEM_VIEW_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MV_READ		1u
#define MV_WRITE	2u
#define MV_RW		(MV_READ | MV_WRITE)

/* A segment of VMM memory that is not guest RAM: never dirty-logged. */
#define MV_NO_GPA	UINT64_MAX

struct guest_mem;

struct mem_seg {
	void *host;
	uint64_t gpa;		/* of host[0], or MV_NO_GPA */
	uint64_t len;
};

struct mem_view;

struct mem_view_ops {
	/*
	 * Translate [addr, addr + len), len > 0, with every byte allowing
	 * @perm, into at most @max segments in address order. Returns the
	 * number of segments, or -EFAULT (a byte is not mapped), -EPERM (a
	 * byte is mapped without @perm), -E2BIG (more than @max segments;
	 * the first @max are filled, so a caller can go on after them).
	 * Safe with any addr and len (no overflow).
	 */
	int (*translate)(struct mem_view *v, uint64_t addr, uint64_t len,
			 unsigned int perm, struct mem_seg *seg, int max);
};

struct mem_view {
	const struct mem_view_ops *ops;
	struct guest_mem *gm;	/* guest-physical space: the dirty log */
	uint32_t gen;		/* atomic: bumped after every change */
	bool identity;		/* guest RAM by GPA: users may take a fast path */
	const char *name;	/* for messages */
};

static inline int mem_view_translate(struct mem_view *v, uint64_t addr,
				     uint64_t len, unsigned int perm,
				     struct mem_seg *seg, int max)
{
	return v->ops->translate(v, addr, len, perm, seg, max);
}

static inline uint32_t mem_view_gen(const struct mem_view *v)
{
	return __atomic_load_n(&v->gen, __ATOMIC_ACQUIRE);
}

/*
 * Host pointer to [addr, addr + len) if it is mapped with @perm and
 * contiguous in host memory (it may span several entries), else NULL.
 * For structures read or written in place: ring areas, indirect tables.
 */
void *mem_view_map(struct mem_view *v, uint64_t addr, uint64_t len,
		   unsigned int perm);

/*
 * Mark the guest pages behind [addr, addr + len) dirty. Where part of the
 * range is not mapped, each page-sized piece that is wholly mapped still is.
 * A view without a guest_mem (a device whose DMA is not logged) marks
 * nothing, at once.
 */
void mem_view_mark_dirty(struct mem_view *v, uint64_t addr, uint64_t len);

/* Mark a translated segment's guest pages dirty (nothing for MV_NO_GPA). */
void mem_seg_mark_dirty(struct mem_view *v, const struct mem_seg *seg,
			uint64_t len);

/* Copy through the view; a write marks what it wrote dirty, after writing. */
int mem_view_read(struct mem_view *v, uint64_t addr, void *buf, uint64_t len);
int mem_view_write(struct mem_view *v, uint64_t addr, const void *buf,
		   uint64_t len);

/* ---- IOTLB views ---- */

struct iotlb_entry {
	uint64_t iova;
	uint64_t size;
	uint8_t *host;
	uint64_t gpa;		/* MV_NO_GPA for VMM buffers */
	unsigned int perm;
};

/*
 * Locking: translations take the read lock, changes the write lock, so a
 * queue's worker translates while another thread maps and unmaps. Entries
 * only ever point at guest RAM or at VMM buffers that outlive the view, so
 * a translation used after a concurrent unmap reaches memory that is still
 * there; whoever needs "no access after unmap" (a device reset, a vDPA
 * IOTLB invalidate) stops the queue's worker around the change, as a real
 * device drains its DMA.
 */
struct iotlb_view {
	struct mem_view view;
	pthread_rwlock_t lock;
	struct iotlb_entry *entries;	/* sorted by iova, never overlapping */
	size_t nr, cap;
};

int iotlb_view_init(struct iotlb_view *iv, struct guest_mem *gm,
		    const char *name);
void iotlb_view_exit(struct iotlb_view *iv);

/*
 * Map [iova, iova + size) to guest RAM at @gpa (must be RAM, in one
 * region) or, with iotlb_map_host(), to VMM memory that is not logged.
 * -EINVAL zero size, wrap-around or no permission; -EEXIST overlaps an
 * entry (unmap first); -EFAULT @gpa range is not RAM; -ENOMEM.
 */
int iotlb_map_gpa(struct iotlb_view *iv, uint64_t iova, uint64_t size,
		  uint64_t gpa, unsigned int perm);
int iotlb_map_host(struct iotlb_view *iv, uint64_t iova, uint64_t size,
		   void *host, unsigned int perm);
/* Remove every mapping of [iova, iova + size), splitting entries at the edges. */
int iotlb_unmap(struct iotlb_view *iv, uint64_t iova, uint64_t size);
/* Remove everything. */
void iotlb_clear(struct iotlb_view *iv);
size_t iotlb_count(struct iotlb_view *iv);

#endif
