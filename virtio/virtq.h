/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Device side of one virtio 1.2 virtqueue: split and packed layouts,
 * indirect descriptors, EVENT_IDX, IN_ORDER and RING_RESET.
 *
 * Memory is reached only through the queue's view (vmm/mem/mem_view.h): guest
 * RAM by GPA, or an IOTLB of a device address space. Every descriptor is
 * translated and permission-checked, and every byte the device writes for
 * the driver (used entries, notification fields, the written part of the
 * device-writable buffers) is marked dirty in guest-physical space.
 *
 * A driver that publishes something malformed makes virtq_pop() return a
 * negative errno and leaves vq->broken set: from then on the queue does
 * nothing until virtq_reset(), and the caller sets DEVICE_NEEDS_RESET on its
 * device. Nothing outside this queue is affected.
 *
 * Typical device loop:
 *
 *	virtq_disable_notify(vq);
 *	for (;;) {
 *		while ((r = virtq_pop(vq, &elem)) > 0)
 *			virtq_fill(vq, &elem, handle(&elem));
 *		virtq_flush(vq);
 *		if (r < 0)
 *			break;			// set DEVICE_NEEDS_RESET
 *		if (virtq_should_notify(vq))
 *			raise the queue's interrupt;
 *		if (!virtq_enable_notify(vq))
 *			break;			// wait for the next kick
 *		virtq_disable_notify(vq);
 *	}
 *
 * One thread at a time per queue; different queues are independent.
 */
#ifndef VLAB_VIRTIO_VIRTQ_H
#define VLAB_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "virtio/ring_layout.h"
#include "vmm/mem/guest_mem.h"
#include "vmm/mem/mem_view.h"

/* Largest queue either layout allows (split sizes are powers of two). */
#define VIRTQ_MAX_SIZE		32768

/*
 * Most segments one buffer may have, indirect ones included. A longer
 * chain is refused as malformed (-E2BIG); block devices advertise
 * seg_max below this.
 */
#define VIRTQ_MAX_SEGS		128

/* The negotiated features that change how the ring is read or written. */
#define VIRTQ_RING_FEATURES	((1ULL << VIRTIO_RING_F_INDIRECT_DESC) |	\
				 (1ULL << VIRTIO_RING_F_EVENT_IDX) |		\
				 (1ULL << VIRTIO_F_RING_PACKED) |		\
				 (1ULL << VIRTIO_F_IN_ORDER) |			\
				 (1ULL << VIRTIO_F_RING_RESET))

/*
 * One buffer taken from the ring. iov[0 .. out_num) are the device-readable
 * (driver to device) segments, iov[out_num .. out_num + in_num) the
 * device-writable ones; the driver guarantees readable before writable.
 * A descriptor that crosses pieces of the view takes several segments.
 * Host pointers stay valid while guest RAM is mapped; gpa[] keeps each
 * segment's guest-physical address for the dirty log (MV_NO_GPA: VMM
 * memory, not logged).
 */
struct virtq_elem {
	uint16_t id;		/* split: head index; packed: buffer id */
	uint16_t ndescs;	/* ring descriptors it occupies (packed) */
	uint16_t out_num;
	uint16_t in_num;
	uint32_t out_len;	/* bytes in the readable segments */
	uint32_t in_len;	/* bytes in the writable segments */
	struct iovec iov[VIRTQ_MAX_SEGS];
	uint64_t gpa[VIRTQ_MAX_SEGS];
};

static inline struct iovec *virtq_elem_out(struct virtq_elem *elem)
{
	return elem->iov;
}

static inline struct iovec *virtq_elem_in(struct virtq_elem *elem)
{
	return elem->iov + elem->out_num;
}

/*
 * A cursor over one side of a popped buffer: reads gather from its
 * readable segments, writes scatter into its writable ones, each picking up
 * where the last call stopped. @done counts the bytes moved, which for the
 * writable side is the length to give virtq_fill().
 */
struct virtq_cursor {
	const struct iovec *iov;
	unsigned int nr;	/* segments left, iov[0] the current one */
	size_t off;		/* bytes of iov[0] already used */
	size_t done;
};

/* Over the device-readable (@in false) or device-writable (@in true) segments. */
void virtq_cursor_init(struct virtq_cursor *c, const struct virtq_elem *elem, bool in);
/* Copy up to @len bytes out of the buffer; returns how many (short at its end). */
size_t virtq_cursor_read(struct virtq_cursor *c, void *buf, size_t len);
/* Copy up to @len bytes into the buffer; returns how many (short when full). */
size_t virtq_cursor_write(struct virtq_cursor *c, const void *buf, size_t len);
/* Bytes left on this side. */
size_t virtq_cursor_left(const struct virtq_cursor *c);

/*
 * What a queue did, for the control socket's watch: kicks taken (an
 * eventfd read may carry several), interrupts raised, buffers returned.
 * Each has one writer at a time and is read relaxed from another thread;
 * they survive a queue reset (the rates a client computes stay smooth).
 */
struct virtq_stats {
	uint64_t kicks;
	uint64_t irqs;
	uint64_t used;
};

/* Relaxed adds: cheap, and enough for counters read elsewhere. */
static inline void virtq_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static inline uint64_t virtq_counter(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/*
 * All state of one queue. Every field before "Not state" is a plain value
 * a migration stream can carry, unflushed entries included (a restore
 * checks them with virtq_state_check()); the rest is recomputed by
 * virtq_enable().
 */
struct virtq {
	/* Configuration, written by the transport. */
	uint16_t max_size;		/* what the device offers */
	uint16_t size;			/* what the driver chose */
	uint64_t desc_addr;		/* descriptor table / ring */
	uint64_t driver_addr;		/* avail ring / driver event suppression */
	uint64_t device_addr;		/* used ring / device event suppression */
	uint64_t features;		/* VIRTQ_RING_FEATURES subset */
	bool enabled;
	bool broken;			/* driver published garbage: stop */

	/*
	 * Ring progress. Split: free-running 16-bit indices. Packed: ring
	 * positions below size plus the two wrap counters (both start at 1).
	 */
	uint16_t last_avail_idx;
	uint16_t shadow_avail_idx;	/* split: avail->idx last read */
	uint16_t used_idx;
	bool avail_wrap_counter;
	bool used_wrap_counter;

	/* Notification suppression. */
	bool notify_off;		/* device asked the driver not to kick */
	uint16_t signalled_used;	/* used position at the last should_notify */
	bool signalled_used_valid;
	bool signalled_used_wrap;	/* packed */
	uint32_t used_since_signal;	/* packed: descriptors used since then */

	/*
	 * Used entries written but not yet published (virtq_fill without
	 * virtq_flush). Split counts buffers, packed counts descriptors.
	 */
	uint16_t pending;
	/* Packed: the batch head's used descriptor, stored last by flush. */
	uint16_t pending_first_id;
	uint16_t pending_first_flags;
	uint32_t pending_first_len;
	/* IN_ORDER: buffers folded into one used entry not yet written. */
	uint16_t fold_bufs;
	uint16_t fold_descs;
	uint16_t fold_id;
	uint32_t fold_len;

	/*
	 * Not state: the memory views the queue works through (buffers and
	 * indirect tables through @view, the three ring areas through
	 * @ring_view: the same view unless a vDPA device puts its descriptor
	 * group in another address space), and host pointers to the ring
	 * areas derived at @ring_view's generation @view_gen (re-derived when
	 * it moves on).
	 */
	struct mem_view *view;
	struct mem_view *ring_view;
	uint32_t view_gen;
	const char *broken_reason;	/* static text, for logs and tests */
	struct virtq_stats stats;
	union {
		struct vring_desc *desc;
		struct vring_packed_desc *pdesc;
	};
	union {
		struct vring_avail *avail;
		struct vring_packed_desc_event *driver_event;
	};
	union {
		struct vring_used *used;
		struct vring_packed_desc_event *device_event;
	};
};

static inline bool virtq_has_feature(const struct virtq *vq, unsigned int bit)
{
	return vq->features & (1ULL << bit);
}

static inline bool virtq_is_packed(const struct virtq *vq)
{
	return virtq_has_feature(vq, VIRTIO_F_RING_PACKED);
}


/* Fresh, disabled queue offering @max_size entries (1..32768). */
void virtq_init(struct virtq *vq, struct mem_view *view, uint16_t max_size);
/*
 * Work through @view from now on (a vq group moved to another address
 * space). With the queue's worker stopped; an enabled queue re-derives its
 * ring areas at once (-EFAULT/-EINVAL leave it broken). Buffers popped
 * before keep the host pointers they were given.
 */
int virtq_set_view(struct virtq *vq, struct mem_view *view);
/* The same, with the ring areas through @ring and the buffers through @data. */
int virtq_set_views(struct virtq *vq, struct mem_view *ring, struct mem_view *data);
/*
 * Where a device left the queue, in vhost's vring base form (split: the
 * next index; packed: next index | wrap counter << 15), for avail and used
 * alike: set on a queue with nothing filled and unflushed (-EBUSY) before
 * taking over from the device; read (-EBUSY while buffers are in flight)
 * before handing it back.
 */
int virtq_set_base(struct virtq *vq, uint16_t base);
int virtq_get_base(const struct virtq *vq, uint16_t *base);
/* Keep the ring-affecting subset of the negotiated @features (not on an enabled queue). */
void virtq_set_features(struct virtq *vq, uint64_t features);
/* Queue size the driver chose; checked against the layout at enable. */
int virtq_set_size(struct virtq *vq, uint16_t size);
/*
 * Ring addresses. On an enabled queue the areas are re-validated at once
 * (-EFAULT/-EINVAL leave the queue broken), and the call is refused with
 * -EBUSY, changing nothing, while filled entries are not flushed yet
 * (virtq_flush() first).
 */
int virtq_set_addrs(struct virtq *vq, uint64_t desc, uint64_t driver,
		    uint64_t device);
/*
 * Validate size, alignment and that every ring area is mapped (descriptor
 * and device areas writable) and contiguous in the view, then cache host
 * pointers to them. Also the restore path after migration:
 * state fields set, virtq_enable() rebuilds the derived part.
 */
int virtq_enable(struct virtq *vq);
/* Back to the state of virtq_init() (queue reset, VIRTIO_F_RING_RESET). */
void virtq_reset(struct virtq *vq);

/*
 * Could this device have produced @vq's state fields (everything before
 * "Not state"), whatever its driver did? @max_size is what the device
 * offers, @features the negotiated features (enabled queues use exactly
 * their ring subset). Checks every field the ring code indexes or counts
 * with against size and layout, so that a restored queue can never make
 * virtq_* touch memory outside its rings: positions, pending and folded
 * counts, the packed batch head, features. Ring addresses are checked by
 * virtq_enable(). Returns 0, or -EINVAL with "field: reason" in @why.
 * Safe with any contents.
 */
int virtq_state_check(const struct virtq *vq, uint16_t max_size, uint64_t features,
		      char *why, size_t whylen);

/*
 * Take the next available buffer: 1 with @elem filled, 0 if the ring is
 * empty (or the queue is disabled), negative errno if the driver published
 * something malformed (vq->broken is then set, vq->broken_reason says why):
 * -EFAULT address or length not mapped with the access it needs, -ELOOP descriptor loop or
 * chain longer than the queue, -E2BIG more than VIRTQ_MAX_SEGS segments,
 * -EINVAL any other rule broken, -EIO the queue was already broken.
 */
int virtq_pop(struct virtq *vq, struct virtq_elem *elem);
/* Give back the buffers popped last (newest first), e.g. no frame to fill. */
void virtq_unpop(struct virtq *vq, const struct virtq_elem *elem);
/*
 * Return a buffer with @len bytes written to its writable segments
 * (clamped to elem->in_len); call it after writing them, as it marks those
 * bytes dirty. Nothing is visible to the driver before virtq_flush().
 * With IN_ORDER, buffers whose writable part was written in full are
 * folded into one used entry as the spec allows (the driver then assumes
 * their full length).
 */
void virtq_fill(struct virtq *vq, const struct virtq_elem *elem, uint32_t len);
/* Publish everything filled since the last flush. */
void virtq_flush(struct virtq *vq);
/* virtq_fill() + virtq_flush(). */
void virtq_push(struct virtq *vq, const struct virtq_elem *elem, uint32_t len);

/*
 * After a flush: does the driver want an interrupt for what was used since
 * the last call? Honours VRING_AVAIL_F_NO_INTERRUPT, used_event or the
 * packed driver event suppression structure.
 */
bool virtq_should_notify(struct virtq *vq);
/* Ask the driver not to kick (used->flags, or packed device event). */
void virtq_disable_notify(struct virtq *vq);
/*
 * Ask the driver to kick again (avail_event / packed event offset with
 * EVENT_IDX). Returns true if the caller must pop again: buffers arrived
 * meanwhile and the driver may have skipped the kick, or the queue is
 * broken (virtq_pop then says so).
 */
bool virtq_enable_notify(struct virtq *vq);

/*
 * Buffers the driver made available that the device has not taken yet,
 * read from another thread than the queue's (the watch): split rings
 * only, -1 for packed ones or a disabled queue.
 */
int virtq_fill_level(const struct virtq *vq);

/* Buffers available (packed: counted by walking the ring). */
unsigned int virtq_avail_count(struct virtq *vq);
bool virtq_empty(struct virtq *vq);

#endif
