/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Driver side of one virtqueue: fills split or packed rings the driver
 * owns (descriptor chains, indirect tables, EVENT_IDX, IN_ORDER), decides
 * when the device needs a kick, and takes used buffers back. Everything
 * the ring code needs is in struct vdrv and memory its owner provides, so
 * the same file builds into vlab (the shadow virtqueue drives a device
 * through it; tests and benchmarks model a guest with it) and into the
 * freestanding test payloads (their polling virtio-net driver).
 *
 * The rings are reached through host pointers; the device sees them (and
 * the buffers) at the addresses the owner gives. Barriers are real, so the
 * device may run on another thread or CPU. One thread drives a vdrv.
 *
 *	vdrv_setup(&d, &rings, aux, size, features);	// rings zeroed
 *	id = vdrv_add(&d, bufs, out, in, false, cookie);
 *	vdrv_publish(&d);
 *	if (vdrv_kick_needed(&d))
 *		ring the doorbell;
 *	while (vdrv_get_used(&d, &cookie, &len) > 0)
 *		...;
 */
#ifndef VLAB_VIRTIO_VIRTQ_DRIVER_H
#define VLAB_VIRTIO_VIRTQ_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "virtio/ring_layout.h"

/* Entries of each id's slot in the indirect table pool. */
#define VDRV_IND_MAX		16
#define VDRV_F(bit)		(1ULL << (bit))

#define VDRV_AVAIL		(1u << VRING_PACKED_DESC_F_AVAIL)
#define VDRV_USED		(1u << VRING_PACKED_DESC_F_USED)
#define VDRV_EVENT_WRAP		(1u << VRING_PACKED_EVENT_F_WRAP_CTR)

/* One segment of a buffer, at the address the device uses. */
struct vdrv_buf {
	uint64_t addr;
	uint32_t len;
};

/* What the driver remembers of one outstanding buffer. */
struct vdrv_slot {
	uint64_t cookie;
	uint32_t in_len;	/* what an in-order batch implies was written */
	uint16_t ndescs;	/* ring descriptors the buffer holds */
	bool busy;
};

/* Bytes of the owner's memory vdrv_setup() needs for @size entries. */
#define VDRV_AUX_BYTES(size)	((size_t)(size) * (sizeof(struct vdrv_slot) + sizeof(uint16_t)))

/*
 * Where the rings are: host pointers the driver writes through, and the
 * addresses the device is told. @ind/@ind_addr: a pool of
 * size * VDRV_IND_MAX descriptors for indirect tables (NULL: no indirect
 * buffers).
 */
struct vdrv_rings {
	void *desc, *driver, *device, *ind;
	uint64_t desc_addr, driver_addr, device_addr, ind_addr;
};

struct vdrv {
	uint64_t features;
	uint16_t size;
	bool packed, event_idx, in_order;

	/* Device addresses of the rings and the indirect pool. */
	uint64_t desc_addr, driver_addr, device_addr, ind_addr;
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
	struct vdrv_slot *slot;		/* start of the owner's aux memory */
	void *owner;			/* the owner's, untouched here */
};

/*
 * Take over @rings for a queue of @size entries (split: a power of two)
 * with the ring-affecting subset of @features: the ring areas are zeroed
 * and the driver state reset. @aux: VDRV_AUX_BYTES(size) bytes, 8-aligned,
 * owned by the caller for as long as the vdrv is used.
 */
void vdrv_setup(struct vdrv *d, const struct vdrv_rings *rings, void *aux, uint16_t size,
		uint64_t features);

/*
 * Queue a buffer of @out readable then @in writable segments, remembered
 * with @cookie. Returns its id (split: head index), or -ENOSPC (ring full,
 * or indirect and no pool or too many segments). Split buffers become
 * visible at vdrv_publish(); packed ones at once, as in Linux.
 */
int vdrv_add(struct vdrv *d, const struct vdrv_buf *b, unsigned int out, unsigned int in,
	     bool indirect, uint64_t cookie);
/* Make what vdrv_add() wrote visible to the device (split: avail->idx). */
void vdrv_publish(struct vdrv *d);
/* Should the driver kick the device for what it published since last time? */
bool vdrv_kick_needed(struct vdrv *d);

/* Was anything published since the last vdrv_kick_needed()? */
static inline bool vdrv_added_since_kick(const struct vdrv *d)
{
	return d->packed ? d->kick_added != 0 : d->avail_idx != d->kick_old;
}

/* Any used buffer waiting? */
bool vdrv_more_used(struct vdrv *d);
/*
 * Take the next used buffer: 1 with its cookie and written length (either
 * may be NULL), 0 if none, -EPROTO if the device wrote something no driver
 * could accept (an id it does not own).
 */
int vdrv_get_used(struct vdrv *d, uint64_t *cookie, uint32_t *len);

/* Ask for no interrupts (flags, or a used_event the device never reaches). */
void vdrv_disable_cb(struct vdrv *d);
/* Ask for an interrupt at the next used buffer; true if some are already there. */
bool vdrv_enable_cb(struct vdrv *d);

/* Split EVENT_IDX fields: used_event ends the avail ring, avail_event the used ring. */
static inline uint16_t *vdrv_used_event_p(struct vdrv *d)
{
	return (uint16_t *)((uint8_t *)d->avail + 4 + 2 * d->size);
}

static inline uint16_t *vdrv_avail_event_p(struct vdrv *d)
{
	return (uint16_t *)((uint8_t *)d->used + 4 + 8 * d->size);
}

/* Device address of buffer @id's indirect table in the pool. */
static inline uint64_t vdrv_ind_table(const struct vdrv *d, uint16_t id)
{
	return d->ind_addr + (uint64_t)id * VDRV_IND_MAX * 16;
}

#endif
