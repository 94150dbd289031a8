/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A virtio driver model for tests and benchmarks: writes split or packed
 * rings into guest memory the way a guest driver does (descriptor chains,
 * indirect tables, EVENT_IDX, IN_ORDER), reads used entries back, and has
 * raw helpers to craft the malformed rings a hostile driver could publish.
 *
 * Header-only (static inline), so any test binary can include it. The
 * model is the "guest": it writes its rings through host views obtained
 * once with guest_mem_map(.., write=false), so it never touches the device
 * dirty log. Barriers are real: it is safe to run against the device on
 * another thread (tests/bench/bench_virtq.c does).
 */
#ifndef VLAB_TESTS_VIRTQ_DRIVER_H
#define VLAB_TESTS_VIRTQ_DRIVER_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "virtio/virtq.h"
#include "vmm/mem/guest_mem.h"

/* Entries of each id's slot in the indirect table pool. */
#define VDRV_IND_MAX		16
#define VDRV_F(bit)		(1ULL << (bit))

#define VDRV_AVAIL		(1u << VRING_PACKED_DESC_F_AVAIL)
#define VDRV_USED		(1u << VRING_PACKED_DESC_F_USED)
#define VDRV_EVENT_WRAP		(1u << VRING_PACKED_EVENT_F_WRAP_CTR)

struct vdrv_buf {
	uint64_t gpa;
	uint32_t len;
};

struct vdrv_slot {
	uint32_t cookie;
	uint32_t in_len;	/* what an in-order batch implies was written */
	uint16_t ndescs;	/* ring descriptors the buffer holds */
	bool busy;
};

struct vdrv {
	struct guest_mem *gm;
	uint64_t features;
	uint16_t size;
	bool packed, event_idx, in_order;

	/* Layout, from vdrv_init(): rings, indirect pool, first free gpa. */
	uint64_t desc_gpa, driver_gpa, device_gpa, ind_gpa, end_gpa;
	union {
		struct vring_desc *desc;
		struct vring_packed_desc *pdesc;
	};
	union {
		struct vring_avail *avail;
		struct vring_packed_desc_event *drv_event;
	};
	union {
		struct vring_used *used;
		struct vring_packed_desc_event *dev_event;
	};
	uint8_t *ind;

	uint16_t num_free;		/* free descriptors */
	/* split */
	uint16_t free_head;
	uint16_t avail_idx;		/* written to the avail ring */
	uint16_t last_used_idx;
	uint16_t inorder_next;		/* in-order: oldest outstanding head */
	/* packed */
	uint16_t next_avail;
	bool avail_wrap;
	uint16_t last_used;
	bool used_wrap;
	uint16_t free_id;
	/* kick decisions: what was published at the previous one */
	uint16_t kick_old;
	bool kick_old_wrap;
	uint32_t kick_added;
	/* IN_ORDER: the used entry standing for a batch */
	bool batch_valid;
	uint16_t batch_id;
	uint32_t batch_len;

	uint16_t *next;			/* split free list / packed id list */
	struct vdrv_slot *slot;
};

static inline uint64_t vdrv_align(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static inline void *vdrv_view(struct vdrv *d, uint64_t gpa, uint64_t len)
{
	return guest_mem_map(d->gm, gpa, len, false);
}

/*
 * Lay the rings out from @base (each area page-aligned, so tests can tell
 * their dirty pages apart) and reset the driver state. Buffers go at
 * d->end_gpa and above.
 */
static inline int vdrv_init(struct vdrv *d, struct guest_mem *gm, uint64_t base,
			    uint16_t size, uint64_t features)
{
	uint64_t dsz, drsz, dvsz;
	unsigned int i;

	memset(d, 0, sizeof(*d));
	d->gm = gm;
	d->size = size;
	d->features = features;
	d->packed = features & VDRV_F(VIRTIO_F_RING_PACKED);
	d->event_idx = features & VDRV_F(VIRTIO_RING_F_EVENT_IDX);
	d->in_order = features & VDRV_F(VIRTIO_F_IN_ORDER);

	dsz = virtq_desc_bytes(size);
	drsz = virtq_driver_bytes(size, d->packed, d->event_idx);
	dvsz = virtq_device_bytes(size, d->packed, d->event_idx);
	d->desc_gpa = vdrv_align(base, 4096);
	d->driver_gpa = vdrv_align(d->desc_gpa + dsz, 4096);
	d->device_gpa = vdrv_align(d->driver_gpa + drsz, 4096);
	d->ind_gpa = vdrv_align(d->device_gpa + dvsz, 4096);
	d->end_gpa = vdrv_align(d->ind_gpa + (uint64_t)size * VDRV_IND_MAX * 16, 4096);

	d->desc = vdrv_view(d, d->desc_gpa, dsz);
	d->avail = vdrv_view(d, d->driver_gpa, drsz);
	d->used = vdrv_view(d, d->device_gpa, dvsz);
	d->ind = vdrv_view(d, d->ind_gpa, (uint64_t)size * VDRV_IND_MAX * 16);
	if (!d->desc || !d->avail || !d->used || !d->ind)
		return -EFAULT;
	/* A driver hands the device zeroed rings. */
	memset(d->desc, 0, dsz);
	memset(d->avail, 0, drsz);
	memset(d->used, 0, dvsz);

	d->next = calloc(size, sizeof(*d->next));
	d->slot = calloc(size, sizeof(*d->slot));
	if (!d->next || !d->slot)
		return -ENOMEM;
	for (i = 0; i < size; i++)
		d->next[i] = i + 1 < size ? i + 1 : 0;
	d->num_free = size;
	d->avail_wrap = true;
	d->used_wrap = true;
	d->kick_old_wrap = true;
	return 0;
}

static inline void vdrv_exit(struct vdrv *d)
{
	free(d->next);
	free(d->slot);
	d->next = NULL;
	d->slot = NULL;
}

/* Configure and enable @vq on these rings, as a transport would. */
static inline int vdrv_attach(struct vdrv *d, struct virtq *vq)
{
	int r;

	virtq_init(vq, guest_mem_view(d->gm), d->size);
	virtq_set_features(vq, d->features);
	r = virtq_set_size(vq, d->size);
	if (!r)
		r = virtq_set_addrs(vq, d->desc_gpa, d->driver_gpa, d->device_gpa);
	if (!r)
		r = virtq_enable(vq);
	return r;
}

static inline uint64_t vdrv_ind_table(struct vdrv *d, uint16_t id)
{
	return d->ind_gpa + (uint64_t)id * VDRV_IND_MAX * 16;
}

/* Record the buffer; fields one by one, a struct copy stalls on store forwarding. */
static inline void vdrv_slot_set(struct vdrv *d, uint16_t id, uint32_t cookie,
				 uint32_t in_len, uint16_t ndescs)
{
	struct vdrv_slot *s = &d->slot[id];

	s->cookie = cookie;
	s->in_len = in_len;
	s->ndescs = ndescs;
	s->busy = true;
	d->num_free -= ndescs;
}

static inline int vdrv_add_split(struct vdrv *d, const struct vdrv_buf *b,
				 unsigned int out, unsigned int n, bool indirect,
				 uint32_t cookie, uint32_t in_len)
{
	uint16_t mask = d->size - 1, head = d->free_head, i = head, prev;
	unsigned int k, ndescs;

	if (indirect) {
		struct vring_desc *t = (void *)(d->ind + (vdrv_ind_table(d, head) - d->ind_gpa));

		for (k = 0; k < n; k++) {
			t[k].addr = b[k].gpa;
			t[k].len = b[k].len;
			t[k].flags = (k >= out ? VRING_DESC_F_WRITE : 0) |
				     (k + 1 < n ? VRING_DESC_F_NEXT : 0);
			t[k].next = k + 1 < n ? k + 1 : 0;
		}
		d->desc[head].addr = vdrv_ind_table(d, head);
		d->desc[head].len = n * sizeof(*t);
		d->desc[head].flags = VRING_DESC_F_INDIRECT;
		d->desc[head].next = 0;
		i = d->in_order ? (head + 1) & mask : d->next[head];
		ndescs = 1;
	} else {
		for (k = 0; k < n; k++) {
			prev = i;
			d->desc[i].addr = b[k].gpa;
			d->desc[i].len = b[k].len;
			d->desc[i].flags = (k >= out ? VRING_DESC_F_WRITE : 0) |
					   (k + 1 < n ? VRING_DESC_F_NEXT : 0);
			i = d->in_order ? (i + 1) & mask : d->next[i];
			d->desc[prev].next = k + 1 < n ? i : 0;
		}
		ndescs = n;
	}
	d->free_head = i;
	vdrv_slot_set(d, head, cookie, in_len, ndescs);
	d->avail->ring[d->avail_idx & mask] = head;
	d->avail_idx++;
	return head;
}

static inline int vdrv_add_packed(struct vdrv *d, const struct vdrv_buf *b,
				  unsigned int out, unsigned int n, bool indirect,
				  uint32_t cookie, uint32_t in_len)
{
	uint16_t head = d->next_avail, pos = head, id, head_flags = 0;
	bool wrap = d->avail_wrap;
	unsigned int k, ndescs;

	id = d->in_order ? head : d->free_id;
	if (indirect) {
		struct vring_packed_desc *t = (void *)(d->ind + (vdrv_ind_table(d, id) - d->ind_gpa));

		for (k = 0; k < n; k++) {
			t[k].addr = b[k].gpa;
			t[k].len = b[k].len;
			t[k].id = 0;
			t[k].flags = k >= out ? VRING_DESC_F_WRITE : 0;
		}
		d->pdesc[pos].addr = vdrv_ind_table(d, id);
		d->pdesc[pos].len = n * sizeof(*t);
		d->pdesc[pos].id = id;
		head_flags = VRING_DESC_F_INDIRECT | (wrap ? VDRV_AVAIL : VDRV_USED);
		if (++pos == d->size) {
			pos = 0;
			wrap = !wrap;
		}
		ndescs = 1;
	} else {
		for (k = 0; k < n; k++) {
			uint16_t f = (wrap ? VDRV_AVAIL : VDRV_USED) |
				     (k >= out ? VRING_DESC_F_WRITE : 0) |
				     (k + 1 < n ? VRING_DESC_F_NEXT : 0);

			d->pdesc[pos].addr = b[k].gpa;
			d->pdesc[pos].len = b[k].len;
			d->pdesc[pos].id = id;
			if (k == 0)
				head_flags = f;
			else
				d->pdesc[pos].flags = f;
			if (++pos == d->size) {
				pos = 0;
				wrap = !wrap;
			}
		}
		ndescs = n;
	}
	if (!d->in_order)
		d->free_id = d->next[id];
	d->next_avail = pos;
	d->avail_wrap = wrap;
	d->kick_added += ndescs;
	vdrv_slot_set(d, id, cookie, in_len, ndescs);
	/* Release: the chain is complete before its head becomes available. */
	__atomic_store_n(&d->pdesc[head].flags, head_flags, __ATOMIC_RELEASE);
	return id;
}

/*
 * Queue a buffer of @out readable then @in writable segments. Returns its
 * id (split: head index), or -ENOSPC. Split buffers become visible at
 * vdrv_publish(); packed ones at once, as in Linux.
 */
static inline int vdrv_add(struct vdrv *d, const struct vdrv_buf *b,
			   unsigned int out, unsigned int in, bool indirect,
			   uint32_t cookie)
{
	unsigned int n = out + in, k;
	uint32_t in_len = 0;

	if (!n || (indirect ? 1 : n) > d->num_free ||
	    (indirect && n > VDRV_IND_MAX))
		return -ENOSPC;
	for (k = out; k < n; k++)
		in_len += b[k].len;
	if (d->packed)
		return vdrv_add_packed(d, b, out, n, indirect, cookie, in_len);
	return vdrv_add_split(d, b, out, n, indirect, cookie, in_len);
}

static inline void vdrv_publish(struct vdrv *d)
{
	/* Release: descriptors and ring entries before the index covering them. */
	if (!d->packed)
		__atomic_store_n(&d->avail->idx, d->avail_idx, __ATOMIC_RELEASE);
}

/* Split EVENT_IDX fields: used_event ends the avail ring, avail_event the used ring. */
static inline uint16_t *vdrv_used_event_p(struct vdrv *d)
{
	return (uint16_t *)((uint8_t *)d->avail + 4 + 2 * d->size);
}

static inline uint16_t *vdrv_avail_event_p(struct vdrv *d)
{
	return (uint16_t *)((uint8_t *)d->used + 4 + 8 * d->size);
}

/* Should the driver kick the device for what it published since last time? */
static inline bool vdrv_kick_needed(struct vdrv *d)
{
	uint32_t size = d->size, added, old, ev;
	uint16_t flags, off_wrap;

	/* Full barrier: publish before reading the device's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!d->packed) {
		uint16_t o = d->kick_old, n = d->avail_idx;

		d->kick_old = n;
		if (d->event_idx)
			return vring_need_event(__atomic_load_n(vdrv_avail_event_p(d),
								__ATOMIC_RELAXED), n, o);
		return o != n && !(__atomic_load_n(&d->used->flags, __ATOMIC_RELAXED) &
				   VRING_USED_F_NO_NOTIFY);
	}
	added = d->kick_added;
	old = d->kick_old + (d->kick_old_wrap ? size : 0);
	d->kick_added = 0;
	d->kick_old = d->next_avail;
	d->kick_old_wrap = d->avail_wrap;
	if (!added)
		return false;
	flags = __atomic_load_n(&d->dev_event->flags, __ATOMIC_RELAXED) & 3;
	if (flags == VRING_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VRING_PACKED_EVENT_FLAG_DESC || !d->event_idx || added >= size)
		return true;
	off_wrap = __atomic_load_n(&d->dev_event->off_wrap, __ATOMIC_RELAXED);
	ev = (off_wrap & ~VDRV_EVENT_WRAP) + ((off_wrap & VDRV_EVENT_WRAP) ? size : 0);
	return (ev + 2 * size - old) % (2 * size) < added;
}

static inline void vdrv_release(struct vdrv *d, uint16_t id)
{
	struct vdrv_slot *s = &d->slot[id];
	uint16_t last = id, k;

	if (!d->in_order) {
		if (d->packed) {
			d->next[id] = d->free_id;
			d->free_id = id;
		} else {
			for (k = 1; k < s->ndescs; k++)
				last = d->next[last];
			d->next[last] = d->free_head;
			d->free_head = id;
		}
	}
	d->num_free += s->ndescs;
	s->busy = false;
}

static inline bool vdrv_packed_is_used(struct vdrv *d, uint16_t pos, bool wrap)
{
	/* Acquire: pairs with the device's release of the flags. */
	uint16_t f = __atomic_load_n(&d->pdesc[pos].flags, __ATOMIC_ACQUIRE);

	return !!(f & VDRV_AVAIL) == wrap && !!(f & VDRV_USED) == wrap;
}

/* Any used buffer waiting? */
static inline bool vdrv_more_used(struct vdrv *d)
{
	if (d->batch_valid)
		return true;
	if (d->packed)
		return vdrv_packed_is_used(d, d->last_used, d->used_wrap);
	return d->last_used_idx != __atomic_load_n(&d->used->idx, __ATOMIC_ACQUIRE);
}

/*
 * Take the next used buffer: 1 with its cookie and written length, 0 if
 * none, -EPROTO if the device wrote something no driver could accept.
 */
static inline int vdrv_get_used(struct vdrv *d, uint32_t *cookie, uint32_t *len)
{
	uint16_t id;
	uint32_t l;

	if (d->in_order && !d->batch_valid) {
		if (!vdrv_more_used(d))
			return 0;
		if (d->packed) {
			d->batch_id = d->pdesc[d->last_used].id;
			d->batch_len = d->pdesc[d->last_used].len;
		} else {
			struct vring_used_elem *e = &d->used->ring[d->last_used_idx & (d->size - 1)];

			d->batch_id = e->id;
			d->batch_len = e->len;
		}
		if (d->batch_id >= d->size || !d->slot[d->batch_id].busy)
			return -EPROTO;
		d->batch_valid = true;
	}
	if (d->in_order) {
		/* The oldest outstanding buffer; the batch entry names the last. */
		id = d->packed ? d->last_used : d->inorder_next;
		if (!d->slot[id].busy)
			return -EPROTO;
		if (id == d->batch_id) {
			l = d->batch_len;
			d->batch_valid = false;
		} else {
			l = d->slot[id].in_len;
		}
		d->inorder_next = (id + d->slot[id].ndescs) & (d->size - 1);
	} else if (d->packed) {
		if (!vdrv_packed_is_used(d, d->last_used, d->used_wrap))
			return 0;
		id = d->pdesc[d->last_used].id;
		l = d->pdesc[d->last_used].len;
		if (id >= d->size || !d->slot[id].busy)
			return -EPROTO;
	} else {
		struct vring_used_elem *e;

		if (!vdrv_more_used(d))
			return 0;
		e = &d->used->ring[d->last_used_idx & (d->size - 1)];
		id = e->id;
		l = e->len;
		if (id >= d->size || !d->slot[id].busy)
			return -EPROTO;
	}

	if (d->packed) {
		uint32_t pos = d->last_used + d->slot[id].ndescs;

		if (pos >= d->size) {
			pos -= d->size;
			d->used_wrap = !d->used_wrap;
		}
		d->last_used = pos;
	} else {
		d->last_used_idx++;
	}
	if (cookie)
		*cookie = d->slot[id].cookie;
	if (len)
		*len = l;
	vdrv_release(d, id);
	return 1;
}

/* Ask for no interrupts (flags, or a used_event the device never reaches). */
static inline void vdrv_disable_cb(struct vdrv *d)
{
	if (d->packed)
		d->drv_event->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	else if (d->event_idx)
		*vdrv_used_event_p(d) = d->last_used_idx - 1;
	else
		d->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
}

/* Ask for an interrupt at the next used buffer; true if some are already there. */
static inline bool vdrv_enable_cb(struct vdrv *d)
{
	if (d->packed) {
		if (d->event_idx) {
			d->drv_event->off_wrap = d->last_used |
						 (d->used_wrap ? VDRV_EVENT_WRAP : 0);
			d->drv_event->flags = VRING_PACKED_EVENT_FLAG_DESC;
		} else {
			d->drv_event->flags = VRING_PACKED_EVENT_FLAG_ENABLE;
		}
	} else if (d->event_idx) {
		*vdrv_used_event_p(d) = d->last_used_idx;
	} else {
		d->avail->flags = 0;
	}
	/* Full barrier: the request is visible before we look at the ring. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vdrv_more_used(d);
}

/* Split EVENT_IDX: interrupt when the used index passes @idx. */
static inline void vdrv_set_used_event(struct vdrv *d, uint16_t idx)
{
	*vdrv_used_event_p(d) = idx;
}

/* Packed: write the driver event suppression structure directly. */
static inline void vdrv_set_driver_event(struct vdrv *d, uint16_t flags,
					 uint16_t pos, bool wrap)
{
	d->drv_event->off_wrap = pos | (wrap ? VDRV_EVENT_WRAP : 0);
	d->drv_event->flags = flags;
}

/* Split EVENT_IDX: the device's avail_event. */
static inline uint16_t vdrv_avail_event(struct vdrv *d)
{
	return *vdrv_avail_event_p(d);
}

/* ---- raw writers for malformed rings ---- */

/* Split: descriptor @i of the ring's table. */
static inline void vdrv_raw_desc(struct vdrv *d, uint16_t i, uint64_t addr,
				 uint32_t len, uint16_t flags, uint16_t next)
{
	d->desc[i].addr = addr;
	d->desc[i].len = len;
	d->desc[i].flags = flags;
	d->desc[i].next = next;
}

/* Split layout entry @i of a table at @table (an indirect table). */
static inline void vdrv_raw_table(struct vdrv *d, uint64_t table, uint32_t i,
				  uint64_t addr, uint32_t len, uint16_t flags,
				  uint16_t next)
{
	struct vring_desc *t = vdrv_view(d, table + 16ULL * i, 16);

	t->addr = addr;
	t->len = len;
	t->flags = flags;
	t->next = next;
}

/* Packed layout entry @i of an indirect table at @table. */
static inline void vdrv_raw_ptable(struct vdrv *d, uint64_t table, uint32_t i,
				   uint64_t addr, uint32_t len, uint16_t flags)
{
	struct vring_packed_desc *t = vdrv_view(d, table + 16ULL * i, 16);

	t->addr = addr;
	t->len = len;
	t->id = 0;
	t->flags = flags;
}

/* Split: offer @head and publish. */
static inline void vdrv_raw_avail(struct vdrv *d, uint16_t head)
{
	d->avail->ring[d->avail_idx & (d->size - 1)] = head;
	d->avail_idx++;
	vdrv_publish(d);
}

/* Split: publish any avail->idx at all. */
static inline void vdrv_raw_avail_idx(struct vdrv *d, uint16_t idx)
{
	__atomic_store_n(&d->avail->idx, idx, __ATOMIC_RELEASE);
}

/*
 * Packed: write the next ring descriptor, available in the current lap,
 * with @flags (NEXT/WRITE/INDIRECT) added, and step past it.
 */
static inline void vdrv_raw_packed(struct vdrv *d, uint64_t addr, uint32_t len,
				   uint16_t id, uint16_t flags)
{
	struct vring_packed_desc *p = &d->pdesc[d->next_avail];

	p->addr = addr;
	p->len = len;
	p->id = id;
	__atomic_store_n(&p->flags, flags | (d->avail_wrap ? VDRV_AVAIL : VDRV_USED),
			 __ATOMIC_RELEASE);
	if (++d->next_avail == d->size) {
		d->next_avail = 0;
		d->avail_wrap = !d->avail_wrap;
	}
}

#endif
