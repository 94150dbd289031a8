/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory regions of an RDMA device: every access a work request or a peer
 * makes is checked here (key, protection domain, access rights, bounds)
 * and turned into guest-physical segments, which the device then reads or
 * writes through the guest's memory view (so each byte written is in the
 * dirty log). The on-wire virtual address is kept apart from the pages:
 * an MR maps [va, va + length) onto a list of guest pages, the first
 * entered at an offset.
 *
 * Keys are index << 8 | an 8-bit variant (lkey == rkey). A user MR is
 * registered once; a fast-registration MR (the kernel's IB_WR_REG_MR) is
 * allocated empty, registered and invalidated again (IB_WR_LOCAL_INV or a
 * SEND_WITH_INVALIDATE), each registration under a key whose variant the
 * driver picks, so a peer holding an old key finds it refused. A DMA MR
 * covers guest RAM with va == GPA, for local access only.
 */
#ifndef VLAB_RDMA_MR_H
#define VLAB_RDMA_MR_H

#include <stdbool.h>
#include <stdint.h>

/* enum ib_access_flags */
#define RDMA_ACCESS_LOCAL_WRITE		(1u << 0)
#define RDMA_ACCESS_REMOTE_WRITE	(1u << 1)
#define RDMA_ACCESS_REMOTE_READ		(1u << 2)
#define RDMA_ACCESS_REMOTE_ATOMIC	(1u << 3)
/* What an access needs besides the flags above: reading is always allowed locally. */
#define RDMA_ACCESS_LOCAL_READ		0

#define RDMA_MR_MAX_PAGES	(1u << 20)	/* 4 GiB of 4 KiB pages */

enum rdma_mr_type {
	RDMA_MR_USER,		/* registered with its pages at once */
	RDMA_MR_FAST,		/* pages and key given by each registration */
	RDMA_MR_DMA,		/* all of guest RAM, va == GPA, local only */
};

struct rdma_mr {
	bool used;
	enum rdma_mr_type type;
	uint32_t key;
	uint32_t pd;
	uint32_t access;
	bool valid;			/* registered and not invalidated */
	uint64_t va, length;
	uint32_t page_shift;		/* 12..30 */
	uint32_t offset;		/* of byte 0 in the first page */
	uint32_t npages, max_pages;
	uint64_t *pages;		/* GPA of each page, page aligned */
};

struct rdma_mr_table {
	struct rdma_mr *mrs;
	uint32_t max;
	uint64_t ram_end;		/* DMA MRs: [0, ram_end) */
};

struct rdma_seg {
	uint64_t gpa;
	uint32_t len;
};

int rdma_mr_table_init(struct rdma_mr_table *t, uint32_t max, uint64_t ram_end);
void rdma_mr_table_exit(struct rdma_mr_table *t);

/*
 * A new MR in @pd: a USER or DMA one registered at once (DMA: @access
 * local only), a FAST one empty with room for @max_pages. Its key, or
 * -ENOSPC / -EINVAL.
 */
int64_t rdma_mr_alloc(struct rdma_mr_table *t, uint32_t pd, enum rdma_mr_type type,
		      uint32_t access, uint32_t max_pages);
/*
 * (Re)register the MR that @key's index names (USER once, FAST whenever it
 * is not valid) under @key (its variant now the one to use): [va, va +
 * length) onto @pages (GPAs, each page aligned, @npages of 1 << @page_shift
 * bytes) from @offset into the first. 0, -ENOENT, -EBUSY (still valid),
 * -EINVAL (a page not aligned, outside RAM, too few or too many pages).
 */
int rdma_mr_register(struct rdma_mr_table *t, uint32_t key, uint64_t va, uint64_t length,
		     uint32_t access, const uint64_t *pages, uint32_t npages,
		     uint32_t page_shift, uint32_t offset);
/* Invalidate a FAST MR under @key (LOCAL_INV): 0, -ENOENT, -EINVAL (not FAST). */
int rdma_mr_invalidate(struct rdma_mr_table *t, uint32_t key);
int rdma_mr_free(struct rdma_mr_table *t, uint32_t key);

/*
 * An access of @len bytes at @va through @key from @pd needing @access
 * (RDMA_ACCESS_*): the guest-physical segments, at most @max (each within
 * one page); their count, or -1 with *@why: unknown or stale key, another
 * PD, the right missing, outside the region, or too many segments.
 */
int rdma_mr_translate(const struct rdma_mr_table *t, uint32_t key, uint32_t pd,
		      uint32_t access, uint64_t va, uint64_t len, struct rdma_seg *segs,
		      int max, const char **why);

#endif
