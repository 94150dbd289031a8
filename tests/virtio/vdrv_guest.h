/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The driver side of virtio/virtq_driver.h as a guest model for tests and
 * benchmarks: lays the rings out in guest memory, attaches a device queue
 * to them, and adds raw writers to craft the malformed rings a hostile
 * driver could publish.
 *
 * The model is the "guest": it writes its rings through host views
 * obtained once with guest_mem_map(.., write=false), so it never touches
 * the device dirty log.
 */
#ifndef VLAB_TESTS_VDRV_GUEST_H
#define VLAB_TESTS_VDRV_GUEST_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtio.h"
#include "virtio/virtq.h"
#include "virtio/virtq_driver.h"
#include "vmm/mem/guest_mem.h"

static inline uint64_t vdrv_align(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static inline struct guest_mem *vdrv_gm(struct vdrv *d)
{
	return d->owner;
}

static inline void *vdrv_view(struct vdrv *d, uint64_t gpa, uint64_t len)
{
	return guest_mem_map(vdrv_gm(d), gpa, len, false);
}

static inline uint64_t vdrv_pool_bytes(uint16_t size)
{
	return (uint64_t)size * VDRV_IND_MAX * 16;
}

/* First free guest address after what vdrv_init() laid out. */
static inline uint64_t vdrv_end_gpa(const struct vdrv *d)
{
	return vdrv_align(d->ind_addr + vdrv_pool_bytes(d->size), 4096);
}

/*
 * Lay the rings out from @base (each area page-aligned, so tests can tell
 * their dirty pages apart) and reset the driver state. Buffers go at
 * vdrv_end_gpa() and above.
 */
static inline int vdrv_init(struct vdrv *d, struct guest_mem *gm, uint64_t base,
			    uint16_t size, uint64_t features)
{
	bool packed = features & VDRV_F(VIRTIO_F_RING_PACKED);
	bool event_idx = features & VDRV_F(VIRTIO_RING_F_EVENT_IDX);
	uint64_t dsz = virtq_desc_bytes(size);
	uint64_t drsz = virtq_driver_bytes(size, packed, event_idx);
	uint64_t dvsz = virtq_device_bytes(size, packed, event_idx);
	struct vdrv_rings r;
	void *aux;

	memset(d, 0, sizeof(*d));
	r.desc_addr = vdrv_align(base, 4096);
	r.driver_addr = vdrv_align(r.desc_addr + dsz, 4096);
	r.device_addr = vdrv_align(r.driver_addr + drsz, 4096);
	r.ind_addr = vdrv_align(r.device_addr + dvsz, 4096);
	r.desc = guest_mem_map(gm, r.desc_addr, dsz, false);
	r.driver = guest_mem_map(gm, r.driver_addr, drsz, false);
	r.device = guest_mem_map(gm, r.device_addr, dvsz, false);
	r.ind = guest_mem_map(gm, r.ind_addr, vdrv_pool_bytes(size), false);
	if (!r.desc || !r.driver || !r.device || !r.ind)
		return -EFAULT;
	aux = aligned_alloc(8, vdrv_align(VDRV_AUX_BYTES(size), 8));
	if (!aux)
		return -ENOMEM;
	vdrv_setup(d, &r, aux, size, features);
	d->owner = gm;
	return 0;
}

static inline void vdrv_exit(struct vdrv *d)
{
	free(d->slot);
	d->slot = NULL;
	d->next = NULL;
}

/* Configure and enable @vq on these rings, as a transport would. */
static inline int vdrv_attach(struct vdrv *d, struct virtq *vq)
{
	int r;

	virtq_init(vq, guest_mem_view(vdrv_gm(d)), d->size);
	virtq_set_features(vq, d->features);
	r = virtq_set_size(vq, d->size);
	if (!r)
		r = virtq_set_addrs(vq, d->desc_addr, d->driver_addr, d->device_addr);
	if (!r)
		r = virtq_enable(vq);
	return r;
}

/* Transport register writes, as virtio-pci makes them: under vdev->lock. */
static inline void vdrv_dev_status(struct virtio_dev *vdev, uint8_t status)
{
	pthread_mutex_lock(&vdev->lock);
	virtio_dev_set_status_locked(vdev, status);
	pthread_mutex_unlock(&vdev->lock);
}

/* Negotiate @features (VERSION_1 among them) as a driver would: whether FEATURES_OK held. */
static inline bool vdrv_dev_features_ok(struct virtio_dev *vdev, uint64_t features)
{
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	vdrv_dev_status(vdev, s);
	pthread_mutex_lock(&vdev->lock);
	vdev->driver_feature_select = 0;
	virtio_dev_write_driver_features(vdev, (uint32_t)features);
	vdev->driver_feature_select = 1;
	virtio_dev_write_driver_features(vdev, features >> 32);
	pthread_mutex_unlock(&vdev->lock);
	vdrv_dev_status(vdev, s | VIRTIO_CONFIG_S_FEATURES_OK);
	return virtio_dev_status(vdev) & VIRTIO_CONFIG_S_FEATURES_OK;
}

/* DRIVER_OK after vdrv_dev_features_ok() (and any queue set-up): whether it held. */
static inline bool vdrv_dev_driver_ok(struct virtio_dev *vdev)
{
	vdrv_dev_status(vdev, virtio_dev_status(vdev) | VIRTIO_CONFIG_S_DRIVER_OK);
	return virtio_dev_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK;
}

/*
 * Queue @q of device @vdev on these rings, set and enabled through the
 * device's transport-facing calls under its lock, as virtio-pci does it:
 * whether it is enabled.
 */
static inline bool vdrv_enable_on(struct vdrv *d, struct virtio_dev *vdev, uint16_t q)
{
	bool on;

	pthread_mutex_lock(&vdev->lock);
	vdev->queue_select = q;
	virtio_dev_set_queue_size(vdev, d->size);
	virtio_dev_set_queue_addr(vdev, 0, false, d->desc_addr);
	virtio_dev_set_queue_addr(vdev, 1, false, d->driver_addr);
	virtio_dev_set_queue_addr(vdev, 2, false, d->device_addr);
	virtio_dev_enable_queue(vdev);
	on = vdev->vqs[q].enabled;
	pthread_mutex_unlock(&vdev->lock);
	return on;
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
