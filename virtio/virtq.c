// SPDX-License-Identifier: GPL-2.0
/*
 * Virtqueue device side, split and packed (virtio 1.2, 2.7 and 2.8).
 *
 * The queue reaches memory through views (vmm/mem/mem_view.h): the ring
 * areas through its ring view, translated at enable into host pointers and
 * again whenever that view's generation moves; the buffers and indirect
 * tables through its data view, translated per descriptor, one segment per
 * piece of the view they cross. The two are one view except on a vDPA
 * device whose descriptor group has its own address space. Dirty marks
 * land in guest-physical space whatever the view. Everything read from
 * the rings is read once into a local before it is checked, since the
 * driver may change it under us.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "virtio/virtq.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "virtio 1.x rings are little-endian: add byte swaps for this host");

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

/* Shared with the driver: single accesses the compiler may not split or redo. */
#define vq_load(p)		__atomic_load_n(p, __ATOMIC_RELAXED)
#define vq_load_acquire(p)	__atomic_load_n(p, __ATOMIC_ACQUIRE)
#define vq_store(p, v)		__atomic_store_n(p, v, __ATOMIC_RELAXED)
#define vq_store_release(p, v)	__atomic_store_n(p, v, __ATOMIC_RELEASE)

#define PACKED_F_AVAIL		(1u << VRING_PACKED_DESC_F_AVAIL)
#define PACKED_F_USED		(1u << VRING_PACKED_DESC_F_USED)
#define PACKED_EVENT_WRAP	(1u << VRING_PACKED_EVENT_F_WRAP_CTR)

#define DESC_SIZE		sizeof(struct vring_desc)

_Static_assert(sizeof(struct vring_desc) == sizeof(struct vring_packed_desc),
	       "both layouts use 16-byte descriptors");

static int vq_fail(struct virtq *vq, int err, const char *why)
{
	vq->broken = true;
	vq->broken_reason = why;
	return err;
}

/* Split: the event fields sit right after each ring's last entry. */
static inline uint16_t *split_used_event(struct virtq *vq)
{
	return (uint16_t *)((uint8_t *)vq->avail + 4 + 2 * vq->size);
}

static inline uint16_t *split_avail_event(struct virtq *vq)
{
	return (uint16_t *)((uint8_t *)vq->used + 4 +
			    sizeof(struct vring_used_elem) * vq->size);
}

/* Dirty-log [addr, addr + len) of a ring area, through the view. */
static inline void vq_mark(struct virtq *vq, uint64_t addr, uint64_t len)
{
	if (likely(vq->ring_view->identity))
		guest_mem_mark_dirty(vq->ring_view->gm, addr, len);
	else
		mem_view_mark_dirty(vq->ring_view, addr, len);
}

void virtq_reset(struct virtq *vq)
{
	struct mem_view *view = vq->view, *ring_view = vq->ring_view;
	uint16_t max_size = vq->max_size;
	uint64_t features = vq->features;
	struct virtq_stats stats = vq->stats;

	memset(vq, 0, sizeof(*vq));
	vq->stats = stats;
	vq->view = view;
	vq->ring_view = ring_view;
	vq->max_size = max_size;
	vq->features = features;
	vq->size = max_size;
	/* Packed rings: both wrap counters start at 1. */
	vq->avail_wrap_counter = true;
	vq->used_wrap_counter = true;
	vq->signalled_used_wrap = true;
}

void virtq_init(struct virtq *vq, struct mem_view *view, uint16_t max_size)
{
	memset(vq, 0, sizeof(*vq));
	vq->view = vq->ring_view = view;
	vq->max_size = max_size > VIRTQ_MAX_SIZE ? VIRTQ_MAX_SIZE : max_size;
	virtq_reset(vq);
}

void virtq_set_features(struct virtq *vq, uint64_t features)
{
	/* The rings were mapped for the layout they have: fixed until a reset. */
	if (vq->enabled)
		return;
	vq->features = features & VIRTQ_RING_FEATURES;
}

#define bad(...) do { snprintf(why, whylen, __VA_ARGS__); return -EINVAL; } while (0)

int virtq_state_check(const struct virtq *vq, uint16_t max_size, uint64_t features,
		      char *why, size_t whylen)
{
	bool packed = virtq_is_packed(vq);
	uint32_t n = vq->size, used;

	if (vq->max_size != max_size)
		bad("max-size: %u, this device offers %u", vq->max_size, max_size);
	if (vq->features & ~VIRTQ_RING_FEATURES)
		bad("features: 0x%llx are not ring features",
		    (unsigned long long)(vq->features & ~VIRTQ_RING_FEATURES));
	/* Enable takes the ring subset of the negotiated features, frozen since. */
	if (vq->enabled && vq->features != (features & VIRTQ_RING_FEATURES))
		bad("features: 0x%llx on an enabled queue, negotiated 0x%llx",
		    (unsigned long long)vq->features,
		    (unsigned long long)(features & VIRTQ_RING_FEATURES));
	if (!n || n > max_size)
		bad("size: %u, not 1..%u", n, max_size);
	if (vq->enabled && !packed && (n & (n - 1)))
		bad("size: %u, an enabled split queue's size is a power of two", n);

	/* Packed positions are ring slots; split indices run free. */
	if (packed && vq->last_avail_idx >= n)
		bad("last-avail-idx: %u, not below the size %u", vq->last_avail_idx, n);
	if (packed && vq->used_idx >= n)
		bad("used-idx: %u, not below the size %u", vq->used_idx, n);
	if (packed && vq->signalled_used >= n)
		bad("signalled-used: %u, not below the size %u", vq->signalled_used, n);

	/*
	 * Filled but unflushed entries: fill flushes before they could lap
	 * the ring, so with the folded ones they never exceed it. Split
	 * counts buffers, packed descriptors (a buffer takes at least one).
	 */
	if (!vq->fold_bufs != !vq->fold_descs || vq->fold_bufs > vq->fold_descs)
		bad("fold-bufs: %u buffers in %u descriptors", vq->fold_bufs, vq->fold_descs);
	if (vq->fold_bufs > 1 && !virtq_has_feature(vq, VIRTIO_F_IN_ORDER))
		bad("fold-bufs: %u folded buffers without IN_ORDER", vq->fold_bufs);
	if (vq->fold_bufs && vq->fold_id >= n)
		bad("fold-id: %u, not below the size %u", vq->fold_id, n);
	used = (uint32_t)vq->pending + (packed ? vq->fold_descs : vq->fold_bufs);
	if (used > n)
		bad("pending: %u unflushed and %u folded entries in a ring of %u",
		    vq->pending, packed ? vq->fold_descs : vq->fold_bufs, n);
	if ((vq->pending || vq->fold_bufs) && !vq->enabled)
		bad("pending: unflushed entries on a disabled queue");
	if (!packed && (vq->pending_first_id || vq->pending_first_flags ||
			vq->pending_first_len))
		bad("pending-first-id: a batch head on a split queue");
	/* Packed: the batch head sits at used_idx, in the used lap. */
	if (packed && vq->pending) {
		uint16_t flags = vq->used_wrap_counter ?
				 PACKED_F_AVAIL | PACKED_F_USED : 0;

		if (vq->pending_first_id >= n)
			bad("pending-first-id: %u, not below the size %u",
			    vq->pending_first_id, n);
		if (vq->pending_first_flags != flags)
			bad("pending-first-flags: 0x%x, the used lap needs 0x%x",
			    vq->pending_first_flags, flags);
	}
	return 0;
}

#undef bad

int virtq_set_size(struct virtq *vq, uint16_t size)
{
	if (vq->enabled)
		return -EBUSY;
	if (!size || size > vq->max_size)
		return -EINVAL;
	vq->size = size;
	return 0;
}

static int vq_map_rings(struct virtq *vq)
{
	bool packed = virtq_is_packed(vq);
	bool event = virtq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX);
	uint16_t n = vq->size;
	void *desc, *drv, *dev;

	if (!n || n > vq->max_size)
		return vq_fail(vq, -EINVAL, "queue size out of range");
	if (!packed && (n & (n - 1)))
		return vq_fail(vq, -EINVAL, "split queue size not a power of two");
	/* Spec alignment: descriptors 16, the other areas 2 or 4. */
	if ((vq->desc_addr & 15) || (vq->device_addr & 3) ||
	    (vq->driver_addr & (packed ? 3 : 1)))
		return vq_fail(vq, -EINVAL, "misaligned ring address");
	if (packed && (vq->last_avail_idx >= n || vq->used_idx >= n))
		return vq_fail(vq, -EINVAL, "packed ring position beyond size");

	/*
	 * Generation first: a change that lands while we translate moves it
	 * again, and the next use translates once more.
	 */
	vq->view_gen = mem_view_gen(vq->ring_view);
	/* Packed: the device writes used descriptors into the ring itself. */
	desc = mem_view_map(vq->ring_view, vq->desc_addr, virtq_desc_bytes(n),
			    packed ? MV_RW : MV_READ);
	drv = mem_view_map(vq->ring_view, vq->driver_addr,
			   virtq_driver_bytes(n, packed, event), MV_READ);
	dev = mem_view_map(vq->ring_view, vq->device_addr,
			   virtq_device_bytes(n, packed, event), MV_RW);
	if (!desc || !drv || !dev)
		return vq_fail(vq, -EFAULT, "ring area not mapped, read-only or not contiguous");
	/* A view may map an aligned address to an unaligned host one (an IOTLB entry can). */
	if (((uintptr_t)desc & 15) || ((uintptr_t)dev & 3) ||
	    ((uintptr_t)drv & (packed ? 3 : 1)))
		return vq_fail(vq, -EFAULT, "ring area misaligned where the view maps it");

	vq->desc = desc;
	vq->avail = drv;
	vq->used = dev;
	/* Re-read avail->idx at the next pop rather than trust a stale copy. */
	vq->shadow_avail_idx = vq->last_avail_idx;
	return 0;
}

int virtq_set_addrs(struct virtq *vq, uint64_t desc, uint64_t driver,
		    uint64_t device)
{
	/*
	 * Filled but unflushed entries live in the old ring (packed: the
	 * batch head is still to be written there): moving now would publish
	 * them on the new ring without their contents.
	 */
	if (vq->enabled && (vq->pending || vq->fold_bufs))
		return -EBUSY;
	vq->desc_addr = desc;
	vq->driver_addr = driver;
	vq->device_addr = device;
	if (!vq->enabled)
		return 0;
	return vq_map_rings(vq);
}

int virtq_set_views(struct virtq *vq, struct mem_view *ring, struct mem_view *data)
{
	vq->ring_view = ring;
	vq->view = data;
	if (!vq->enabled || vq->broken)
		return 0;
	return vq_map_rings(vq);
}

int virtq_set_base(struct virtq *vq, uint16_t base)
{
	if (vq->pending || vq->fold_bufs)
		return -EBUSY;
	if (virtq_is_packed(vq)) {
		if ((base & 0x7fff) >= vq->size)
			return -EINVAL;
		vq->last_avail_idx = vq->used_idx = base & 0x7fff;
		vq->avail_wrap_counter = vq->used_wrap_counter = base >> 15;
		vq->used_since_signal = 0;
	} else {
		vq->last_avail_idx = vq->used_idx = vq->shadow_avail_idx = base;
	}
	vq->signalled_used_valid = false;
	return 0;
}

int virtq_get_base(const struct virtq *vq, uint16_t *base)
{
	if (vq->pending || vq->fold_bufs || vq->last_avail_idx != vq->used_idx ||
	    vq->avail_wrap_counter != vq->used_wrap_counter)
		return -EBUSY;
	*base = vq->used_idx | (virtq_is_packed(vq) && vq->used_wrap_counter ? 0x8000 : 0);
	return 0;
}

int virtq_set_view(struct virtq *vq, struct mem_view *view)
{
	return virtq_set_views(vq, view, view);
}

/*
 * Usable now: enabled, not broken, and the cached ring pointers belong to
 * the view's current generation (re-derived if not; failing that breaks
 * the queue).
 */
static inline bool vq_ready(struct virtq *vq)
{
	if (unlikely(vq->broken || !vq->enabled))
		return false;
	if (unlikely(mem_view_gen(vq->ring_view) != vq->view_gen))
		return !vq_map_rings(vq);
	return true;
}

int virtq_enable(struct virtq *vq)
{
	int r;

	if (vq->broken)
		return -EIO;
	r = vq_map_rings(vq);
	if (r)
		return r;
	vq->enabled = true;
	return 0;
}

/*
 * A descriptor the identity fast path could not take: translate it into
 * as many segments as pieces of the view it crosses, after @n used ones.
 */
static int __attribute__((noinline))
vq_translate_desc(struct virtq *vq, struct virtq_elem *elem, unsigned int n,
		  uint64_t addr, uint32_t len, bool write)
{
	struct mem_seg seg[VIRTQ_MAX_SEGS];
	int i, nseg;

	nseg = mem_view_translate(vq->view, addr, len, write ? MV_WRITE : MV_READ,
				  seg, VIRTQ_MAX_SEGS - n);
	if (nseg == -E2BIG)
		return vq_fail(vq, -E2BIG, "more than VIRTQ_MAX_SEGS segments");
	if (nseg == -EPERM)
		return vq_fail(vq, -EFAULT, "descriptor without the access it needs");
	if (nseg < 0)
		return vq_fail(vq, -EFAULT, "descriptor outside mapped memory");
	for (i = 0; i < nseg; i++) {
		elem->iov[n + i].iov_base = seg[i].host;
		elem->iov[n + i].iov_len = seg[i].len;
		elem->gpa[n + i] = seg[i].gpa;
	}
	return nseg;
}

/* Append one descriptor; the checks here apply to every descriptor kind. */
static inline int vq_add_seg(struct virtq *vq, struct virtq_elem *elem,
			     uint64_t addr, uint32_t len, bool write)
{
	unsigned int n = elem->out_num + elem->in_num;
	void *p = NULL;
	int nseg = 1;

	if (unlikely(!len))
		return vq_fail(vq, -EINVAL, "zero-length descriptor");
	if (unlikely(n >= VIRTQ_MAX_SEGS))
		return vq_fail(vq, -E2BIG, "more than VIRTQ_MAX_SEGS segments");
	if (write) {
		if (unlikely(__builtin_add_overflow(elem->in_len, len, &elem->in_len)))
			return vq_fail(vq, -EINVAL, "buffer larger than 4 GiB");
	} else {
		if (unlikely(elem->in_num))
			return vq_fail(vq, -EINVAL,
				       "readable descriptor after a writable one");
		if (unlikely(__builtin_add_overflow(elem->out_len, len, &elem->out_len)))
			return vq_fail(vq, -EINVAL, "buffer larger than 4 GiB");
	}
	/* Guest RAM by GPA, inside one region: one segment, no indirect call. */
	if (likely(vq->view->identity))
		p = guest_mem_map(vq->view->gm, addr, len, false);
	if (likely(p)) {
		elem->iov[n].iov_base = p;
		elem->iov[n].iov_len = len;
		elem->gpa[n] = addr;
	} else {
		nseg = vq_translate_desc(vq, elem, n, addr, len, write);
		if (unlikely(nseg < 0))
			return nseg;
	}
	if (write)
		elem->in_num += nseg;
	else
		elem->out_num += nseg;
	return 0;
}

static inline void vq_elem_clear(struct virtq_elem *elem)
{
	elem->out_num = 0;
	elem->in_num = 0;
	elem->out_len = 0;
	elem->in_len = 0;
}

/*
 * Checks shared by split and packed before following an indirect table.
 * Unlike the ring's own descriptor table, an indirect table may sit
 * "anywhere in memory" (virtio 1.2, 2.7.5.3: no alignment is required), so
 * it is only ever read through vq_table_desc(), never through a pointer to
 * a descriptor.
 */
static int vq_indirect_table(struct virtq *vq, uint64_t addr, uint32_t len,
			     uint16_t flags, const uint8_t **table)
{
	if (unlikely(!virtq_has_feature(vq, VIRTIO_RING_F_INDIRECT_DESC)))
		return vq_fail(vq, -EINVAL, "INDIRECT without INDIRECT_DESC");
	if (unlikely(flags & VRING_DESC_F_NEXT))
		return vq_fail(vq, -EINVAL, "INDIRECT combined with NEXT");
	if (unlikely(!len || len % DESC_SIZE))
		return vq_fail(vq, -EINVAL,
			       "indirect table length zero or not a multiple of 16");
	*table = mem_view_map(vq->view, addr, len, MV_READ);
	if (unlikely(!*table))
		return vq_fail(vq, -EFAULT,
			       "indirect table not mapped or not contiguous");
	return 0;
}

/*
 * Entry @i of an indirect table, copied out at whatever alignment the
 * driver chose. The copy is checked afterwards, so a driver changing the
 * table meanwhile only hurts itself; both layouts are 16 plain bytes.
 */
static inline void vq_table_desc(const uint8_t *table, uint32_t i, void *desc)
{
	memcpy(desc, table + (size_t)i * DESC_SIZE, DESC_SIZE);
}

/* ---- split ring (2.7) ---- */

/*
 * Walk the chain at @head. A direct chain may end in one indirect
 * descriptor (the spec only forbids INDIRECT with NEXT); counting visits
 * against the table size catches loops.
 */
static int split_read_chain(struct virtq *vq, uint16_t head,
			    struct virtq_elem *elem)
{
	const uint8_t *table = NULL;	/* indirect table, once followed */
	uint32_t max = vq->size, count = 0, ndescs = 0;
	bool indirect = false;
	uint16_t i = head;
	int r;

	for (;;) {
		struct vring_desc d;
		uint64_t addr;
		uint32_t len;
		uint16_t flags;

		if (indirect) {
			vq_table_desc(table, i, &d);
		} else {
			/* The ring's table is 16-byte aligned (vq_map_rings). */
			d.addr = vq_load(&vq->desc[i].addr);
			d.len = vq_load(&vq->desc[i].len);
			d.flags = vq_load(&vq->desc[i].flags);
			d.next = vq_load(&vq->desc[i].next);
		}
		addr = d.addr;
		len = d.len;
		flags = d.flags;

		if (unlikely(++count > max))
			return vq_fail(vq, -ELOOP,
				       "descriptor loop or chain longer than the queue");
		if (!indirect)
			ndescs++;
		if (unlikely(flags & VRING_DESC_F_INDIRECT)) {
			if (indirect)
				return vq_fail(vq, -EINVAL,
					       "indirect descriptor inside an indirect table");
			r = vq_indirect_table(vq, addr, len, flags, &table);
			if (r)
				return r;
			max = len / DESC_SIZE;
			count = 0;
			indirect = true;
			i = 0;
			continue;
		}
		r = vq_add_seg(vq, elem, addr, len, flags & VRING_DESC_F_WRITE);
		if (unlikely(r))
			return r;
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
		if (unlikely(i >= max))
			return vq_fail(vq, -EINVAL, "next index beyond the table");
	}
	elem->ndescs = ndescs;
	return 0;
}

/* Returns how many buffers are available, or a negative errno. */
static int split_fetch_avail_idx(struct virtq *vq)
{
	uint16_t idx, n;

	/*
	 * Acquire: pairs with the driver's release of avail->idx, so the
	 * ring entries and descriptors it covers are read after it.
	 */
	idx = vq_load_acquire(&vq->avail->idx);
	n = idx - vq->last_avail_idx;
	if (unlikely(n > vq->size))
		return vq_fail(vq, -EINVAL, "avail idx ahead by more than the queue size");
	vq->shadow_avail_idx = idx;
	return n;
}

static int split_pop(struct virtq *vq, struct virtq_elem *elem)
{
	uint16_t head;
	int r;

	if (vq->last_avail_idx == vq->shadow_avail_idx) {
		r = split_fetch_avail_idx(vq);
		if (r <= 0)
			return r;
	}
	head = vq_load(&vq->avail->ring[vq->last_avail_idx & (vq->size - 1)]);
	if (unlikely(head >= vq->size))
		return vq_fail(vq, -EINVAL, "head index beyond the queue");
	elem->id = head;
	vq_elem_clear(elem);
	r = split_read_chain(vq, head, elem);
	if (unlikely(r))
		return r;
	vq->last_avail_idx++;
	/* Keep the driver kicking: avail_event tracks what we took. */
	if (unlikely(!vq->notify_off) &&
	    virtq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX)) {
		vq_store(split_avail_event(vq), vq->last_avail_idx);
		vq_mark(vq, vq->device_addr + 4 +
			sizeof(struct vring_used_elem) * vq->size, 2);
	}
	return 1;
}

/* ---- packed ring (2.8) ---- */

static inline bool packed_is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & PACKED_F_AVAIL) == wrap &&
	       !!(flags & PACKED_F_USED) != wrap;
}

/* The table is sequential; only WRITE counts, NEXT and id are ignored. */
static int packed_read_indirect(struct virtq *vq, struct virtq_elem *elem,
				uint64_t addr, uint32_t len, uint16_t flags)
{
	const uint8_t *table;
	uint32_t i, n = len / DESC_SIZE;
	int r;

	r = vq_indirect_table(vq, addr, len, flags, &table);
	if (r)
		return r;
	for (i = 0; i < n; i++) {
		struct vring_packed_desc d;

		vq_table_desc(table, i, &d);
		if (unlikely(d.flags & VRING_DESC_F_INDIRECT))
			return vq_fail(vq, -EINVAL,
				       "indirect descriptor inside an indirect table");
		r = vq_add_seg(vq, elem, d.addr, d.len, d.flags & VRING_DESC_F_WRITE);
		if (unlikely(r))
			return r;
	}
	return 0;
}

static void packed_write_avail_event(struct virtq *vq)
{
	vq_store(&vq->device_event->off_wrap,
		 vq->last_avail_idx |
		 (vq->avail_wrap_counter ? PACKED_EVENT_WRAP : 0));
	vq_mark(vq, vq->device_addr, 2);
}

static int packed_pop(struct virtq *vq, struct virtq_elem *elem)
{
	uint16_t pos = vq->last_avail_idx, n = 0, id, flags;
	bool wrap = vq->avail_wrap_counter;
	const struct vring_packed_desc *d = &vq->pdesc[pos];
	uint32_t len;
	uint64_t addr;
	int r;

	/*
	 * Acquire: the driver makes the head available last, with release
	 * (spec: scatter-gather), so the whole chain is readable once its
	 * flags say so.
	 */
	flags = vq_load_acquire(&d->flags);
	if (!packed_is_avail(flags, wrap))
		return 0;
	vq_elem_clear(elem);
	addr = vq_load(&d->addr);
	len = vq_load(&d->len);
	id = vq_load(&d->id);

	for (;;) {
		if (unlikely(flags & VRING_DESC_F_INDIRECT)) {
			/* The spec forbids it in a NEXT-linked list. */
			if (n)
				return vq_fail(vq, -EINVAL,
					       "indirect descriptor inside a chain");
			r = packed_read_indirect(vq, elem, addr, len, flags);
			if (r)
				return r;
			n = 1;
			break;
		}
		r = vq_add_seg(vq, elem, addr, len, flags & VRING_DESC_F_WRITE);
		if (unlikely(r))
			return r;
		n++;
		if (likely(!(flags & VRING_DESC_F_NEXT)))
			break;
		if (unlikely(n >= vq->size))
			return vq_fail(vq, -ELOOP, "chain longer than the queue");
		if (++pos == vq->size) {
			pos = 0;
			wrap = !wrap;
		}
		d = &vq->pdesc[pos];
		flags = vq_load(&d->flags);
		addr = vq_load(&d->addr);
		len = vq_load(&d->len);
		/* The buffer id is the one in the last descriptor. */
		id = vq_load(&d->id);
	}
	if (unlikely(id >= vq->size))
		return vq_fail(vq, -EINVAL, "buffer id beyond the queue");

	elem->id = id;
	elem->ndescs = n;
	pos = vq->last_avail_idx + n;
	if (pos >= vq->size) {
		pos -= vq->size;
		vq->avail_wrap_counter = !vq->avail_wrap_counter;
	}
	vq->last_avail_idx = pos;
	if (unlikely(!vq->notify_off) &&
	    virtq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		packed_write_avail_event(vq);
	return 1;
}

/* ---- common entry points ---- */

int virtq_pop(struct virtq *vq, struct virtq_elem *elem)
{
	if (unlikely(!vq_ready(vq)))
		return vq->broken ? -EIO : 0;
	if (virtq_is_packed(vq))
		return packed_pop(vq, elem);
	return split_pop(vq, elem);
}

void virtq_unpop(struct virtq *vq, const struct virtq_elem *elem)
{
	if (!virtq_is_packed(vq)) {
		vq->last_avail_idx--;
		return;
	}
	if (vq->last_avail_idx >= elem->ndescs) {
		vq->last_avail_idx -= elem->ndescs;
	} else {
		vq->last_avail_idx += vq->size - elem->ndescs;
		vq->avail_wrap_counter = !vq->avail_wrap_counter;
	}
}

/* Dirty-log the first @len bytes of the writable segments. */
static void vq_log_written(struct virtq *vq, const struct virtq_elem *elem,
			   uint32_t len)
{
	unsigned int i, end = elem->out_num + elem->in_num;

	for (i = elem->out_num; len && i < end; i++) {
		uint32_t n = elem->iov[i].iov_len;

		if (n > len)
			n = len;
		if (elem->gpa[i] != MV_NO_GPA)
			guest_mem_mark_dirty(vq->view->gm, elem->gpa[i], n);
		len -= n;
	}
}

/* Dirty-log @count entries of @esize bytes from @first, wrapping at size. */
static void vq_log_ring(struct virtq *vq, uint64_t base, uint32_t first,
			uint32_t count, uint32_t esize)
{
	uint32_t n = vq->size - first;

	if (n > count)
		n = count;
	vq_mark(vq, base + (uint64_t)first * esize, (uint64_t)n * esize);
	if (count > n)
		vq_mark(vq, base, (uint64_t)(count - n) * esize);
}

/* Write the used entry for the folded buffers (not yet published). */
static inline void vq_emit(struct virtq *vq)
{
	if (virtq_is_packed(vq)) {
		uint32_t pos = vq->used_idx + vq->pending;
		bool wrap = vq->used_wrap_counter;
		struct vring_packed_desc *d;
		uint16_t flags;

		if (pos >= vq->size) {
			pos -= vq->size;
			wrap = !wrap;
		}
		d = &vq->pdesc[pos];
		flags = wrap ? PACKED_F_AVAIL | PACKED_F_USED : 0;
		if (!vq->pending) {
			/*
			 * The batch head is written whole by flush: one
			 * store burst to a line the driver may be polling.
			 */
			vq->pending_first_id = vq->fold_id;
			vq->pending_first_len = vq->fold_len;
			vq->pending_first_flags = flags;
		} else {
			vq_store(&d->id, vq->fold_id);
			vq_store(&d->len, vq->fold_len);
			/*
			 * Release: id and len before the flags. The driver
			 * reads past the batch head only after flush
			 * releases it, so later entries may go first.
			 */
			vq_store_release(&d->flags, flags);
		}
		vq->pending += vq->fold_descs;
	} else {
		struct vring_used_elem *u;

		u = &vq->used->ring[(uint16_t)(vq->used_idx + vq->pending) &
				    (vq->size - 1)];
		vq_store(&u->id, vq->fold_id);
		vq_store(&u->len, vq->fold_len);
		vq->pending += vq->fold_bufs;
	}
	vq->fold_bufs = 0;
	vq->fold_descs = 0;
}

void virtq_flush(struct virtq *vq)
{
	if (unlikely(!vq_ready(vq)))
		return;
	if (vq->fold_bufs)
		vq_emit(vq);
	if (!vq->pending)
		return;

	/*
	 * The dirty log is written after the data it covers: a concurrent
	 * collector that clears a bit and copies the page must not be able
	 * to miss a store that comes after it.
	 */
	if (virtq_is_packed(vq)) {
		struct vring_packed_desc *head = &vq->pdesc[vq->used_idx];
		uint32_t pos = vq->used_idx + vq->pending;

		vq_store(&head->id, vq->pending_first_id);
		vq_store(&head->len, vq->pending_first_len);
		/*
		 * Release: every id/len written since the last flush is
		 * visible before the head's flags hand the batch over.
		 */
		vq_store_release(&head->flags, vq->pending_first_flags);
		vq_log_ring(vq, vq->desc_addr, vq->used_idx, vq->pending,
			    DESC_SIZE);
		if (pos >= vq->size) {
			pos -= vq->size;
			vq->used_wrap_counter = !vq->used_wrap_counter;
		}
		vq->used_idx = pos;
		vq->used_since_signal += vq->pending;
	} else {
		uint16_t first = vq->used_idx & (vq->size - 1);

		vq->used_idx += vq->pending;
		/*
		 * Release: pairs with the driver's acquire of used->idx, so
		 * the entries are visible before the index that covers them.
		 */
		vq_store_release(&vq->used->idx, vq->used_idx);
		vq_log_ring(vq, vq->device_addr + 4, first, vq->pending,
			    sizeof(struct vring_used_elem));
		vq_mark(vq, vq->device_addr + 2, 2);
	}
	vq->pending = 0;
}

void virtq_fill(struct virtq *vq, const struct virtq_elem *elem, uint32_t len)
{
	uint32_t room;

	if (unlikely(!vq_ready(vq)))
		return;
	if (len > elem->in_len)
		len = elem->in_len;
	if (len)
		vq_log_written(vq, elem, len);

	/* Never let unpublished entries lap the ring: flush first. */
	if (virtq_is_packed(vq))
		room = (uint32_t)vq->pending + vq->fold_descs + elem->ndescs;
	else
		room = (uint32_t)vq->pending + vq->fold_bufs + 1;
	if (unlikely(room > vq->size))
		virtq_flush(vq);

	virtq_count(&vq->stats.used, 1);
	vq->fold_bufs++;
	vq->fold_descs += elem->ndescs;
	vq->fold_id = elem->id;
	vq->fold_len = len;
	/*
	 * In-order use of descriptors: one used entry (the last buffer's)
	 * may stand for a batch; the driver then assumes the earlier ones
	 * were written in full, so only those may be folded.
	 */
	if (!virtq_has_feature(vq, VIRTIO_F_IN_ORDER) || len != elem->in_len)
		vq_emit(vq);
}

void virtq_push(struct virtq *vq, const struct virtq_elem *elem, uint32_t len)
{
	virtq_fill(vq, elem, len);
	virtq_flush(vq);
}

/* ---- notifications: flags, EVENT_IDX, packed event suppression ---- */

static bool packed_should_notify(struct virtq *vq)
{
	uint32_t size = vq->size, since = vq->used_since_signal;
	uint32_t old, ev;
	uint16_t flags, off_wrap;
	bool valid = vq->signalled_used_valid;

	old = vq->signalled_used + (vq->signalled_used_wrap ? size : 0);
	vq->signalled_used = vq->used_idx;
	vq->signalled_used_wrap = vq->used_wrap_counter;
	vq->signalled_used_valid = true;
	vq->used_since_signal = 0;
	if (valid && !since)
		return false;

	flags = vq_load(&vq->driver_event->flags) & 3;
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC ||
	    !virtq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX) ||
	    !valid || since >= size)
		return true;
	/*
	 * Positions plus wrap counter form an index modulo 2 * size; notify
	 * if the one the driver asked for is among those just used.
	 */
	off_wrap = vq_load(&vq->driver_event->off_wrap);
	ev = (off_wrap & ~PACKED_EVENT_WRAP) +
	     ((off_wrap & PACKED_EVENT_WRAP) ? size : 0);
	return (ev + 2 * size - old) % (2 * size) < since;
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old, new;
	bool valid;

	if (unlikely(!vq_ready(vq)))
		return false;
	/*
	 * Full barrier: the used index we published must be visible before
	 * we read the driver's suppression state, or we race with a driver
	 * re-enabling interrupts and both sides wait (pairs with the
	 * driver's barrier between writing used_event/flags and re-checking
	 * the used ring).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (virtq_is_packed(vq))
		return packed_should_notify(vq);

	old = vq->signalled_used;
	new = vq->used_idx;
	valid = vq->signalled_used_valid;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (valid && old == new)
		return false;
	if (virtq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		return !valid ||
		       vring_need_event(vq_load(split_used_event(vq)), new, old);
	return !(vq_load(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

static void vq_write_dev_flags(struct virtq *vq, uint16_t flags)
{
	uint16_t *p = virtq_is_packed(vq) ? &vq->device_event->flags :
					    &vq->used->flags;
	uint64_t off = virtq_is_packed(vq) ? 2 : 0;

	/* Skip the store when nothing changes: it costs a cache line. */
	if (vq_load(p) == flags)
		return;
	vq_store(p, flags);
	vq_mark(vq, vq->device_addr + off, 2);
}

void virtq_disable_notify(struct virtq *vq)
{
	if (unlikely(!vq_ready(vq)))
		return;
	vq->notify_off = true;
	if (virtq_is_packed(vq))
		vq_write_dev_flags(vq, VRING_PACKED_EVENT_FLAG_DISABLE);
	else if (!virtq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		vq_write_dev_flags(vq, VRING_USED_F_NO_NOTIFY);
	/* Split with EVENT_IDX: a stale avail_event lets at most one kick through. */
}

bool virtq_enable_notify(struct virtq *vq)
{
	bool event = virtq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX);

	if (unlikely(!vq_ready(vq)))
		return vq->broken;
	vq->notify_off = false;
	if (virtq_is_packed(vq)) {
		if (event)
			packed_write_avail_event(vq);
		vq_write_dev_flags(vq, event ? VRING_PACKED_EVENT_FLAG_DESC :
					       VRING_PACKED_EVENT_FLAG_ENABLE);
	} else if (event) {
		vq_store(split_avail_event(vq), vq->last_avail_idx);
		vq_mark(vq, vq->device_addr + 4 +
			sizeof(struct vring_used_elem) * vq->size, 2);
	} else {
		vq_write_dev_flags(vq, 0);
	}
	/*
	 * Full barrier: the driver must be able to see the re-enable before
	 * we look at the ring again, else a buffer it added without kicking
	 * (it still saw notifications off) would wait forever.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !virtq_empty(vq) || vq->broken;
}

bool virtq_empty(struct virtq *vq)
{
	if (unlikely(!vq_ready(vq)))
		return true;
	if (virtq_is_packed(vq))
		/* Acquire: as in packed_pop. */
		return !packed_is_avail(vq_load_acquire(&vq->pdesc[vq->last_avail_idx].flags),
					vq->avail_wrap_counter);
	if (vq->last_avail_idx != vq->shadow_avail_idx)
		return false;
	return split_fetch_avail_idx(vq) <= 0;
}

/*
 * Plain loads the queue's thread may be changing under us: a display
 * value, never used to touch the ring. The ring pointer, if stale, still
 * points into guest RAM, which stays mapped.
 */
int virtq_fill_level(const struct virtq *vq)
{
	struct vring_avail *avail;
	uint16_t n, size;

	if (!__atomic_load_n(&vq->enabled, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&vq->broken, __ATOMIC_RELAXED) || virtq_is_packed(vq))
		return -1;
	avail = __atomic_load_n(&vq->avail, __ATOMIC_RELAXED);
	size = __atomic_load_n(&vq->size, __ATOMIC_RELAXED);
	if (!avail)
		return -1;
	n = __atomic_load_n(&avail->idx, __ATOMIC_RELAXED) -
	    __atomic_load_n(&vq->last_avail_idx, __ATOMIC_RELAXED);
	return n > size ? -1 : n;
}

unsigned int virtq_avail_count(struct virtq *vq)
{
	uint32_t pos, i, bufs = 0;
	bool wrap;
	int r;

	if (unlikely(!vq_ready(vq)))
		return 0;
	if (!virtq_is_packed(vq)) {
		r = split_fetch_avail_idx(vq);
		return r < 0 ? 0 : (uint16_t)(vq->shadow_avail_idx - vq->last_avail_idx);
	}
	pos = vq->last_avail_idx;
	wrap = vq->avail_wrap_counter;
	for (i = 0; i < vq->size; i++) {
		/* Acquire per descriptor: each may have just been published. */
		uint16_t flags = vq_load_acquire(&vq->pdesc[pos].flags);

		if (!packed_is_avail(flags, wrap))
			break;
		if (!(flags & VRING_DESC_F_NEXT))
			bufs++;
		if (++pos == vq->size) {
			pos = 0;
			wrap = !wrap;
		}
	}
	return bufs;
}

/* ---- cursor over a popped buffer ---- */

void virtq_cursor_init(struct virtq_cursor *c, const struct virtq_elem *elem, bool in)
{
	c->iov = in ? elem->iov + elem->out_num : elem->iov;
	c->nr = in ? elem->in_num : elem->out_num;
	c->off = 0;
	c->done = 0;
}

/* Copy between the segments and @buf, in the direction @to_iov says. */
static size_t virtq_cursor_copy(struct virtq_cursor *c, void *buf, size_t len, bool to_iov)
{
	uint8_t *p = buf;
	size_t moved = 0;

	while (c->nr && moved < len) {
		size_t n = c->iov->iov_len - c->off;
		uint8_t *seg = (uint8_t *)c->iov->iov_base + c->off;

		if (n > len - moved)
			n = len - moved;
		if (to_iov)
			memcpy(seg, p + moved, n);
		else
			memcpy(p + moved, seg, n);
		moved += n;
		c->off += n;
		if (c->off == c->iov->iov_len) {
			c->iov++;
			c->nr--;
			c->off = 0;
		}
	}
	c->done += moved;
	return moved;
}

size_t virtq_cursor_read(struct virtq_cursor *c, void *buf, size_t len)
{
	return virtq_cursor_copy(c, buf, len, false);
}

size_t virtq_cursor_write(struct virtq_cursor *c, const void *buf, size_t len)
{
	return virtq_cursor_copy(c, (void *)buf, len, true);
}

size_t virtq_cursor_left(const struct virtq_cursor *c)
{
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < c->nr; i++)
		n += c->iov[i].iov_len;
	return n - c->off;
}
