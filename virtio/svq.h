/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shadow virtqueue: the VMM between a guest's ring and a device that
 * cannot log its own writes (a vDPA device). The guest's buffers are
 * popped with the ordinary device side of the ring (virtio/virtq.c, on the
 * guest's view), re-published with the same layout on a shadow ring the
 * VMM owns (virtio/virtq_driver.c), whose addresses the device is given;
 * completions go back to the guest's used ring through virtq_fill(),
 * which marks every page the device wrote (by used length) in the dirty
 * log, in guest-physical space.
 *
 * Buffers are handed over by address: the device reaches guest memory at
 * IOVA = GPA (address space 0, as in passthrough), so no data is copied.
 * A full shadow ring parks the element popped last until a completion
 * frees room. On stop, elements still in flight go back to the guest's
 * ring (newest first), so nothing is lost or done twice; that needs the
 * device to have completed in order, which vhost-vdpa's vq base already
 * assumes (it reports the used index as the next to offer).
 *
 *	svq_init(&s, guest_vq, features, mem, iova);	// mem: svq_ring_bytes()
 *	// device: rings at svq_rings(&s), base svq_base(&s)
 *	guest kick:   if (svq_avail(&s) > 0) kick the device;
 *	device call:  if (svq_used(&s) > 0) interrupt the guest if it wants one
 *	              (virtq_should_notify() on the guest's ring);
 *	              if (s.parked >= 0) svq_avail(&s) again;
 *	svq_rewind(&s); svq_exit(&s);
 * One thread drives an svq.
 */
#ifndef VLAB_VIRTIO_SVQ_H
#define VLAB_VIRTIO_SVQ_H

#include "virtio/virtq.h"
#include "virtio/virtq_driver.h"

struct svq {
	struct virtq *guest;		/* the guest's ring, device side */
	struct vdrv shadow;		/* ours, driver side */
	uint8_t *mem;			/* shadow rings, zeroed at init */
	uint64_t iova;			/* where the device sees them */
	uint8_t *aux;
	struct virtq_elem *elems;	/* by shadow cookie (a slot) */
	uint32_t *seq;			/* pop order of each busy slot */
	uint16_t *popped;		/* slot of each pop, by order modulo size */
	bool *busy;
	uint16_t *free;			/* stack of free slots */
	uint16_t nr_free;
	uint16_t size;
	uint32_t pops, inflight;
	int parked;			/* slot of an element waiting for room, or -1 */
	const char *error;		/* set once the queue cannot go on */
	/* counters */
	uint64_t forwarded, completed, device_kicks;
};

/* Bytes of shadow ring memory for a guest ring of @size entries with @features. */
size_t svq_ring_bytes(uint16_t size, uint64_t features);
/*
 * Shadow @guest (enabled, its position already the device's) with rings
 * in @mem (page aligned, svq_ring_bytes()) that the device reaches at
 * @iova. 0, or -ENOMEM.
 */
int svq_init(struct svq *s, struct virtq *guest, uint64_t features, void *mem, uint64_t iova);
void svq_exit(struct svq *s);
/* The shadow rings' addresses (for set_vring_addr) and the base to give the device. */
void svq_rings(const struct svq *s, uint64_t *desc, uint64_t *driver, uint64_t *device);
uint16_t svq_base(const struct svq *s);
/* The shadow areas the device reads only, and the one it writes (for the IOTLB). */
void svq_areas(const struct svq *s, uint64_t *ro_off, uint64_t *ro_len, uint64_t *rw_off,
	       uint64_t *rw_len);

/*
 * Move the guest's new buffers to the shadow ring. Returns 1 if the
 * device should be kicked, 0 if not, <0 if the guest's ring is broken or
 * a buffer cannot be forwarded (s->error says why).
 */
int svq_avail(struct svq *s);
/*
 * Move the device's completions to the guest's used ring (dirty-logged)
 * and publish them. Returns how many, or -EPROTO if the device used a
 * buffer it was not given. Whether the guest wants an interrupt for them
 * is the caller's to ask (virtq_should_notify() on the guest's ring).
 */
int svq_used(struct svq *s);
/*
 * Give every element still in flight back to the guest's ring, newest
 * first, and forget the shadow ring. -EBUSY (nothing changed) if the
 * device completed out of order, so that rewinding would offer a used
 * buffer again.
 */
int svq_rewind(struct svq *s);

/*
 * Busy-polling a set of shadowed queues: again while they make progress,
 * and for @poll_ns after the last (0: not at all). The clock is read only
 * every 32 idle rounds: it costs more than a look at the rings.
 *
 *	struct svq_poll p = { .poll_ns = us * 1000 };
 *	do { moved = forward and complete; } while (svq_poll_again(&p, moved));
 */
struct svq_poll {
	uint64_t poll_ns;
	uint64_t until;
	unsigned int spins;
};

uint64_t vlab_now_ns(void);

static inline bool svq_poll_again(struct svq_poll *p, bool moved)
{
	if (!p->poll_ns)
		return false;
	if (moved || !p->until) {
		p->until = vlab_now_ns() + p->poll_ns;
		p->spins = 0;
		return true;
	}
	return ++p->spins % 32 || vlab_now_ns() < p->until;
}

#endif
