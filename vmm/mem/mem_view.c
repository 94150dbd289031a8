// SPDX-License-Identifier: GPL-2.0
/*
 * Memory views: helpers common to every view, and the IOTLB view (a sorted
 * array of non-overlapping entries, binary-searched under a read lock).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/mem/guest_mem.h"
#include "vmm/mem/mem_view.h"

/* Segments translated at a time by the copy and dirty helpers. */
#define MV_BATCH	8

void *mem_view_map(struct mem_view *v, uint64_t addr, uint64_t len,
		   unsigned int perm)
{
	struct mem_seg seg[MV_BATCH];
	int i, n;

	n = mem_view_translate(v, addr, len, perm, seg, MV_BATCH);
	if (n <= 0)
		return NULL;
	for (i = 1; i < n; i++)
		if ((uint8_t *)seg[i - 1].host + seg[i - 1].len != seg[i].host)
			return NULL;
	return seg[0].host;
}

void mem_seg_mark_dirty(struct mem_view *v, const struct mem_seg *seg,
			uint64_t len)
{
	if (seg->gpa != MV_NO_GPA)
		guest_mem_mark_dirty(v->gm, seg->gpa, len < seg->len ? len : seg->len);
}

/*
 * Walk [addr, addr + len) a batch of segments at a time. A batch that
 * does not cover everything ends with -E2BIG; the walk resumes after it.
 */
static int mem_view_walk(struct mem_view *v, uint64_t addr, uint64_t len,
			 unsigned int perm,
			 int (*fn)(struct mem_view *v, struct mem_seg *s, void *arg),
			 void *arg)
{
	while (len) {
		struct mem_seg seg[MV_BATCH];
		int i, n, r;

		n = mem_view_translate(v, addr, len, perm, seg, MV_BATCH);
		if (n == -E2BIG)
			n = MV_BATCH;	/* the first MV_BATCH are filled */
		if (n < 0)
			return n;
		for (i = 0; i < n; i++) {
			r = fn(v, &seg[i], arg);
			if (r)
				return r;
			addr += seg[i].len;
			len -= seg[i].len;
		}
	}
	return 0;
}

static int mark_seg(struct mem_view *v, struct mem_seg *s, void *arg)
{
	mem_seg_mark_dirty(v, s, s->len);
	return 0;
}

void mem_view_mark_dirty(struct mem_view *v, uint64_t addr, uint64_t len)
{
	/* A view with no guest-physical space (a device's own DMA): nothing to log. */
	if (!v->gm)
		return;
	/* Fast path: identity views mark the address itself. */
	if (v->identity) {
		guest_mem_mark_dirty(v->gm, addr, len);
		return;
	}
	if (!mem_view_walk(v, addr, len, 0, mark_seg, NULL))
		return;
	/* Partly unmapped: mark what is mapped, a page at a time. */
	while (len) {
		uint64_t chunk = GM_PAGE_SIZE - (addr & (GM_PAGE_SIZE - 1));

		if (chunk > len)
			chunk = len;
		mem_view_walk(v, addr, chunk, 0, mark_seg, NULL);
		addr += chunk;
		len -= chunk;
	}
}

static int read_seg(struct mem_view *v, struct mem_seg *s, void *arg)
{
	uint8_t **p = arg;

	memcpy(*p, s->host, s->len);
	*p += s->len;
	return 0;
}

static int write_seg(struct mem_view *v, struct mem_seg *s, void *arg)
{
	const uint8_t **p = arg;

	memcpy(s->host, *p, s->len);
	*p += s->len;
	/* Write, then mark (see guest_mem_write()). */
	mem_seg_mark_dirty(v, s, s->len);
	return 0;
}

int mem_view_read(struct mem_view *v, uint64_t addr, void *buf, uint64_t len)
{
	uint8_t *p = buf;

	return len ? mem_view_walk(v, addr, len, MV_READ, read_seg, &p) : 0;
}

int mem_view_write(struct mem_view *v, uint64_t addr, const void *buf,
		   uint64_t len)
{
	const uint8_t *p = buf;

	return len ? mem_view_walk(v, addr, len, MV_WRITE, write_seg, &p) : 0;
}

/* ---- IOTLB views ---- */

static inline uint64_t entry_last(const struct iotlb_entry *e)
{
	return e->iova + (e->size - 1);
}

/* Index of the first entry whose last byte is >= @iova (nr if none). */
static size_t iotlb_lower(const struct iotlb_view *iv, uint64_t iova)
{
	size_t lo = 0, hi = iv->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (entry_last(&iv->entries[mid]) < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int iotlb_translate(struct mem_view *v, uint64_t addr, uint64_t len,
			   unsigned int perm, struct mem_seg *seg, int max)
{
	struct iotlb_view *iv = (struct iotlb_view *)v;
	int n = 0, r;
	size_t i;

	if (!len || addr + (len - 1) < addr)
		return -EFAULT;
	pthread_rwlock_rdlock(&iv->lock);
	i = iotlb_lower(iv, addr);
	for (;;) {
		const struct iotlb_entry *e = i < iv->nr ? &iv->entries[i] : NULL;
		uint64_t off, chunk;

		if (!e || e->iova > addr) {
			r = -EFAULT;
			break;
		}
		if ((e->perm & perm) != perm) {
			r = -EPERM;
			break;
		}
		if (n == max) {
			r = -E2BIG;
			break;
		}
		off = addr - e->iova;
		chunk = e->size - off < len ? e->size - off : len;
		seg[n].host = e->host + off;
		seg[n].gpa = e->gpa == MV_NO_GPA ? MV_NO_GPA : e->gpa + off;
		seg[n].len = chunk;
		n++;
		len -= chunk;
		if (!len) {
			r = n;
			break;
		}
		addr += chunk;
		i++;
	}
	pthread_rwlock_unlock(&iv->lock);
	return r;
}

static const struct mem_view_ops iotlb_view_ops = {
	.translate = iotlb_translate,
};

int iotlb_view_init(struct iotlb_view *iv, struct guest_mem *gm,
		    const char *name)
{
	memset(iv, 0, sizeof(*iv));
	iv->view.ops = &iotlb_view_ops;
	iv->view.gm = gm;
	iv->view.name = name;
	return -pthread_rwlock_init(&iv->lock, NULL);
}

void iotlb_view_exit(struct iotlb_view *iv)
{
	free(iv->entries);
	pthread_rwlock_destroy(&iv->lock);
	memset(iv, 0, sizeof(*iv));
}

static void iotlb_changed(struct iotlb_view *iv)
{
	__atomic_add_fetch(&iv->view.gen, 1, __ATOMIC_RELEASE);
}

/* Make room for @extra more entries; called with the write lock held. */
static int iotlb_reserve(struct iotlb_view *iv, size_t extra)
{
	struct iotlb_entry *e;
	size_t cap;

	if (iv->nr + extra <= iv->cap)
		return 0;
	cap = iv->cap ? iv->cap * 2 : 64;
	while (cap < iv->nr + extra)
		cap *= 2;
	e = realloc(iv->entries, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	iv->entries = e;
	iv->cap = cap;
	return 0;
}

static int iotlb_insert(struct iotlb_view *iv, const struct iotlb_entry *ne)
{
	size_t i;
	int r;

	if (!ne->size || entry_last(ne) < ne->iova || !(ne->perm & MV_RW) ||
	    (ne->perm & ~MV_RW))
		return -EINVAL;
	pthread_rwlock_wrlock(&iv->lock);
	i = iotlb_lower(iv, ne->iova);
	if (i < iv->nr && iv->entries[i].iova <= entry_last(ne)) {
		r = -EEXIST;
		goto out;
	}
	r = iotlb_reserve(iv, 1);
	if (r)
		goto out;
	memmove(&iv->entries[i + 1], &iv->entries[i],
		(iv->nr - i) * sizeof(*ne));
	iv->entries[i] = *ne;
	iv->nr++;
	iotlb_changed(iv);
out:
	pthread_rwlock_unlock(&iv->lock);
	return r;
}

int iotlb_map_gpa(struct iotlb_view *iv, uint64_t iova, uint64_t size,
		  uint64_t gpa, unsigned int perm)
{
	struct iotlb_entry e = {
		.iova = iova, .size = size, .gpa = gpa, .perm = perm,
	};

	if (!size)
		return -EINVAL;
	e.host = guest_mem_map(iv->view.gm, gpa, size, false);
	if (!e.host)
		return -EFAULT;
	return iotlb_insert(iv, &e);
}

int iotlb_map_host(struct iotlb_view *iv, uint64_t iova, uint64_t size,
		   void *host, unsigned int perm)
{
	struct iotlb_entry e = {
		.iova = iova, .size = size, .host = host, .gpa = MV_NO_GPA,
		.perm = perm,
	};

	return iotlb_insert(iv, &e);
}

int iotlb_unmap(struct iotlb_view *iv, uint64_t iova, uint64_t size)
{
	uint64_t last = iova + (size - 1);
	size_t i;
	int r = 0;

	if (!size || last < iova)
		return -EINVAL;
	pthread_rwlock_wrlock(&iv->lock);
	i = iotlb_lower(iv, iova);
	/* One entry covering the range from both sides splits in two. */
	if (i < iv->nr && iv->entries[i].iova < iova &&
	    entry_last(&iv->entries[i]) > last) {
		struct iotlb_entry *e;
		uint64_t cut;

		r = iotlb_reserve(iv, 1);
		if (r)
			goto out;
		e = &iv->entries[i];
		memmove(e + 1, e, (iv->nr - i) * sizeof(*e));
		iv->nr++;
		cut = last + 1 - e->iova;
		e[1].iova += cut;
		e[1].size -= cut;
		e[1].host += cut;
		if (e[1].gpa != MV_NO_GPA)
			e[1].gpa += cut;
		e->size = iova - e->iova;
		goto changed;
	}
	/* Head of the first entry survives. */
	if (i < iv->nr && iv->entries[i].iova < iova) {
		iv->entries[i].size = iova - iv->entries[i].iova;
		i++;
	}
	/* Entries inside the range go; the tail of the last one survives. */
	while (i < iv->nr && iv->entries[i].iova <= last) {
		struct iotlb_entry *e = &iv->entries[i];

		if (entry_last(e) > last) {
			uint64_t cut = last + 1 - e->iova;

			e->iova += cut;
			e->size -= cut;
			e->host += cut;
			if (e->gpa != MV_NO_GPA)
				e->gpa += cut;
			break;
		}
		memmove(e, e + 1, (iv->nr - i - 1) * sizeof(*e));
		iv->nr--;
	}
changed:
	iotlb_changed(iv);
out:
	pthread_rwlock_unlock(&iv->lock);
	return r;
}

void iotlb_clear(struct iotlb_view *iv)
{
	pthread_rwlock_wrlock(&iv->lock);
	iv->nr = 0;
	iotlb_changed(iv);
	pthread_rwlock_unlock(&iv->lock);
}

size_t iotlb_count(struct iotlb_view *iv)
{
	size_t n;

	pthread_rwlock_rdlock(&iv->lock);
	n = iv->nr;
	pthread_rwlock_unlock(&iv->lock);
	return n;
}
