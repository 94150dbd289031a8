// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/rdma/mr.h"

#define DMA_SEG_MAX	(1u << 30)

int rdma_mr_table_init(struct rdma_mr_table *t, uint32_t max, uint64_t ram_end)
{
	memset(t, 0, sizeof(*t));
	if (!max || max > (1u << 24))
		return -EINVAL;
	t->mrs = calloc(max, sizeof(*t->mrs));
	t->max = max;
	t->ram_end = ram_end;
	return t->mrs ? 0 : -ENOMEM;
}

void rdma_mr_table_exit(struct rdma_mr_table *t)
{
	uint32_t i;

	for (i = 0; t->mrs && i < t->max; i++)
		free(t->mrs[i].pages);
	free(t->mrs);
	t->mrs = NULL;
}

static struct rdma_mr *mr_by_index(const struct rdma_mr_table *t, uint32_t key)
{
	uint32_t i = key >> 8;

	return i < t->max && t->mrs[i].used ? &t->mrs[i] : NULL;
}

/* IB: a region others may write or update must be locally writable too. */
static bool access_ok(uint32_t access)
{
	if (access & ~(RDMA_ACCESS_LOCAL_WRITE | RDMA_ACCESS_REMOTE_WRITE |
		       RDMA_ACCESS_REMOTE_READ | RDMA_ACCESS_REMOTE_ATOMIC))
		return false;
	return !(access & (RDMA_ACCESS_REMOTE_WRITE | RDMA_ACCESS_REMOTE_ATOMIC)) ||
	       (access & RDMA_ACCESS_LOCAL_WRITE);
}

int64_t rdma_mr_alloc(struct rdma_mr_table *t, uint32_t pd, enum rdma_mr_type type,
		      uint32_t access, uint32_t max_pages)
{
	struct rdma_mr *mr;
	uint32_t i;

	if (type == RDMA_MR_DMA && (access & ~RDMA_ACCESS_LOCAL_WRITE))
		return -EINVAL;
	if (type == RDMA_MR_FAST && (!max_pages || max_pages > RDMA_MR_MAX_PAGES))
		return -EINVAL;
	/* Index 0 is never handed out: key 0 is nobody's. */
	for (i = 1; i < t->max && t->mrs[i].used; i++)
		;
	if (i == t->max)
		return -ENOSPC;
	mr = &t->mrs[i];
	memset(mr, 0, sizeof(*mr));
	mr->used = true;
	mr->type = type;
	mr->key = i << 8;
	mr->pd = pd;
	if (type == RDMA_MR_FAST) {
		mr->pages = calloc(max_pages, sizeof(*mr->pages));
		if (!mr->pages) {
			mr->used = false;
			return -ENOMEM;
		}
		mr->max_pages = max_pages;
	} else if (type == RDMA_MR_DMA) {
		mr->access = access;
		mr->length = t->ram_end;
		mr->valid = true;
	}
	return mr->key;
}

int rdma_mr_register(struct rdma_mr_table *t, uint32_t key, uint64_t va, uint64_t length,
		     uint32_t access, const uint64_t *pages, uint32_t npages,
		     uint32_t page_shift, uint32_t offset)
{
	struct rdma_mr *mr = mr_by_index(t, key);
	uint64_t page = 1ULL << page_shift, need;
	uint32_t i;

	if (!mr)
		return -ENOENT;
	if (mr->type == RDMA_MR_DMA || (mr->type == RDMA_MR_USER && mr->npages))
		return -EINVAL;
	if (mr->valid)
		return -EBUSY;
	if (!access_ok(access) || page_shift < 12 || page_shift > 30 || offset >= page ||
	    !length || va + length < va || length > (uint64_t)RDMA_MR_MAX_PAGES << page_shift)
		return -EINVAL;
	need = (offset + length + page - 1) >> page_shift;
	if (npages != need || (mr->type == RDMA_MR_FAST && npages > mr->max_pages))
		return -EINVAL;
	for (i = 0; i < npages; i++)
		if (pages[i] & (page - 1) || pages[i] >= t->ram_end || t->ram_end - pages[i] < page)
			return -EINVAL;
	if (mr->type == RDMA_MR_USER) {
		mr->pages = malloc(npages * sizeof(*mr->pages));
		if (!mr->pages)
			return -ENOMEM;
		mr->max_pages = npages;
	}
	memcpy(mr->pages, pages, npages * sizeof(*pages));
	mr->npages = npages;
	mr->key = key;
	mr->va = va;
	mr->length = length;
	mr->access = access;
	mr->page_shift = page_shift;
	mr->offset = offset;
	mr->valid = true;
	return 0;
}

int rdma_mr_invalidate(struct rdma_mr_table *t, uint32_t key)
{
	struct rdma_mr *mr = mr_by_index(t, key);

	if (!mr || mr->key != key)
		return -ENOENT;
	if (mr->type != RDMA_MR_FAST)
		return -EINVAL;
	mr->valid = false;
	return 0;
}

int rdma_mr_free(struct rdma_mr_table *t, uint32_t key)
{
	struct rdma_mr *mr = mr_by_index(t, key);

	if (!mr || mr->key != key)
		return -ENOENT;
	free(mr->pages);
	memset(mr, 0, sizeof(*mr));
	return 0;
}

static int refuse(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -1;
}

int rdma_mr_translate(const struct rdma_mr_table *t, uint32_t key, uint32_t pd,
		      uint32_t access, uint64_t va, uint64_t len, struct rdma_seg *segs,
		      int max, const char **why)
{
	const struct rdma_mr *mr = mr_by_index(t, key);
	uint64_t off, page, chunk;
	uint32_t shift;
	int n = 0;

	if (!mr || mr->key != key)
		return refuse(why, "no region has this key (freed, or an older registration's)");
	if (!mr->valid)
		return refuse(why, "the region is invalidated");
	if (mr->pd != pd)
		return refuse(why, "the region is another protection domain's");
	if (access & ~mr->access)
		return refuse(why, "the region does not allow this access");
	if (va < mr->va || len > mr->length || va - mr->va > mr->length - len)
		return refuse(why, "outside the region");
	if (mr->type == RDMA_MR_DMA) {
		for (off = va; len; off += chunk, len -= chunk) {
			chunk = len < DMA_SEG_MAX ? len : DMA_SEG_MAX;
			if (n == max)
				return refuse(why, "more segments than the caller has room for");
			segs[n++] = (struct rdma_seg){ off, (uint32_t)chunk };
		}
		return n;
	}
	shift = mr->page_shift;
	page = 1ULL << shift;
	off = va - mr->va + mr->offset;
	while (len) {
		uint64_t in = off & (page - 1);

		uint64_t gpa = mr->pages[off >> shift] + in;

		chunk = page - in < len ? page - in : len;
		/* Contiguous pages make one segment. */
		if (n && segs[n - 1].gpa + segs[n - 1].len == gpa &&
		    segs[n - 1].len + chunk <= UINT32_MAX) {
			segs[n - 1].len += (uint32_t)chunk;
		} else {
			if (n == max)
				return refuse(why, "more segments than the caller has room for");
			segs[n++] = (struct rdma_seg){ gpa, (uint32_t)chunk };
		}
		off += chunk;
		len -= chunk;
	}
	return n;
}
