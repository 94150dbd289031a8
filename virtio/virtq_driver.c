// SPDX-License-Identifier: GPL-2.0
/*
 * Driver side of a virtqueue (see virtq_driver.h). Builds hosted into vlab
 * and freestanding into the test payloads: memset is all it needs.
 */
#include <linux/errno.h>
#include <string.h>

#include "virtio/virtq_driver.h"

void vdrv_setup(struct vdrv *d, const struct vdrv_rings *r, void *aux, uint16_t size,
		uint64_t features)
{
	unsigned int i;

	memset(d, 0, sizeof(*d));
	d->size = size;
	d->features = features;
	d->packed = features & VDRV_F(VIRTIO_F_RING_PACKED);
	d->event_idx = features & VDRV_F(VIRTIO_RING_F_EVENT_IDX);
	d->in_order = features & VDRV_F(VIRTIO_F_IN_ORDER);
	d->desc = r->desc;
	d->avail = r->driver;
	d->used = r->device;
	d->ind = r->ind;
	d->desc_addr = r->desc_addr;
	d->driver_addr = r->driver_addr;
	d->device_addr = r->device_addr;
	d->ind_addr = r->ind_addr;
	/* A driver hands the device zeroed rings. */
	memset(d->desc, 0, virtq_desc_bytes(size));
	memset(d->avail, 0, virtq_driver_bytes(size, d->packed, d->event_idx));
	memset(d->used, 0, virtq_device_bytes(size, d->packed, d->event_idx));

	/* Slots first: they hold 8-byte cookies. */
	d->slot = aux;
	d->next = (uint16_t *)(d->slot + size);
	memset(d->slot, 0, sizeof(*d->slot) * size);
	for (i = 0; i < size; i++)
		d->next[i] = i + 1 < size ? i + 1 : 0;
	d->num_free = size;
	d->avail_wrap = true;
	d->used_wrap = true;
	d->kick_old_wrap = true;
}

/* Record the buffer; fields one by one, a struct copy stalls on store forwarding. */
static void vdrv_slot_set(struct vdrv *d, uint16_t id, uint64_t cookie, uint32_t in_len,
			  uint16_t ndescs)
{
	struct vdrv_slot *s = &d->slot[id];

	s->cookie = cookie;
	s->in_len = in_len;
	s->ndescs = ndescs;
	s->busy = true;
	d->num_free -= ndescs;
}

static void *vdrv_ind_host(struct vdrv *d, uint16_t id)
{
	return d->ind + (vdrv_ind_table(d, id) - d->ind_addr);
}

static int vdrv_add_split(struct vdrv *d, const struct vdrv_buf *b, unsigned int out,
			  unsigned int n, bool indirect, uint64_t cookie, uint32_t in_len)
{
	uint16_t mask = d->size - 1, head = d->free_head, i = head, prev;
	unsigned int k, ndescs;

	if (indirect) {
		struct vring_desc *t = vdrv_ind_host(d, head);

		for (k = 0; k < n; k++) {
			t[k].addr = b[k].addr;
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
			d->desc[i].addr = b[k].addr;
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

static int vdrv_add_packed(struct vdrv *d, const struct vdrv_buf *b, unsigned int out,
			   unsigned int n, bool indirect, uint64_t cookie, uint32_t in_len)
{
	uint16_t head = d->next_avail, pos = head, id, head_flags = 0;
	bool wrap = d->avail_wrap;
	unsigned int k, ndescs;

	id = d->in_order ? head : d->free_id;
	if (indirect) {
		struct vring_packed_desc *t = vdrv_ind_host(d, id);

		for (k = 0; k < n; k++) {
			t[k].addr = b[k].addr;
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
			/* 2.8.1: available means AVAIL == wrap counter, USED != it. */
			uint16_t f = (wrap ? VDRV_AVAIL : VDRV_USED) |
				     (k >= out ? VRING_DESC_F_WRITE : 0) |
				     (k + 1 < n ? VRING_DESC_F_NEXT : 0);

			d->pdesc[pos].addr = b[k].addr;
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

int vdrv_add(struct vdrv *d, const struct vdrv_buf *b, unsigned int out, unsigned int in,
	     bool indirect, uint64_t cookie)
{
	unsigned int n = out + in, k;
	uint32_t in_len = 0;

	if (!n || (indirect ? 1 : n) > d->num_free ||
	    (indirect && (n > VDRV_IND_MAX || !d->ind)))
		return -ENOSPC;
	for (k = out; k < n; k++)
		in_len += b[k].len;
	if (d->packed)
		return vdrv_add_packed(d, b, out, n, indirect, cookie, in_len);
	return vdrv_add_split(d, b, out, n, indirect, cookie, in_len);
}

void vdrv_publish(struct vdrv *d)
{
	/* Release: descriptors and ring entries before the index covering them. */
	if (!d->packed)
		__atomic_store_n(&d->avail->idx, d->avail_idx, __ATOMIC_RELEASE);
}

bool vdrv_kick_needed(struct vdrv *d)
{
	uint32_t size = d->size, added, old, ev;
	uint16_t flags, off_wrap;

	/*
	 * Full barrier: our publication must be visible before we read the
	 * device's suppression state, else a device re-enabling
	 * notifications and re-checking the ring could miss both.
	 */
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

/* Back onto the free list: the chain, then whatever was free. */
static void vdrv_release(struct vdrv *d, uint16_t id)
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

static bool vdrv_packed_is_used(struct vdrv *d, uint16_t pos, bool wrap)
{
	/* Acquire: pairs with the device's release of the flags. */
	uint16_t f = __atomic_load_n(&d->pdesc[pos].flags, __ATOMIC_ACQUIRE);

	/* 2.8.1: used means AVAIL == USED == the driver's used wrap counter. */
	return !!(f & VDRV_AVAIL) == wrap && !!(f & VDRV_USED) == wrap;
}

bool vdrv_more_used(struct vdrv *d)
{
	if (d->batch_valid)
		return true;
	if (d->packed)
		return vdrv_packed_is_used(d, d->last_used, d->used_wrap);
	return d->last_used_idx != __atomic_load_n(&d->used->idx, __ATOMIC_ACQUIRE);
}

int vdrv_get_used(struct vdrv *d, uint64_t *cookie, uint32_t *len)
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
		/* The used entry stands for the buffer's whole chain (2.8.7). */
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

void vdrv_disable_cb(struct vdrv *d)
{
	if (d->packed)
		d->drv_event->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	else if (d->event_idx)
		*vdrv_used_event_p(d) = d->last_used_idx - 1;
	else
		d->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
}

bool vdrv_enable_cb(struct vdrv *d)
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
