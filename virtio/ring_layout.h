/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bytes of each area of a virtqueue of @size entries (virtio 1.2, 2.7 and
 * 2.8): what a driver lays out and a device validates. Freestanding: the
 * test payloads use it too.
 */
#ifndef VLAB_VIRTIO_RING_LAYOUT_H
#define VLAB_VIRTIO_RING_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

static inline uint64_t virtq_desc_bytes(uint16_t size)
{
	return sizeof(struct vring_desc) * (uint64_t)size;
}

static inline uint64_t virtq_driver_bytes(uint16_t size, bool packed, bool event_idx)
{
	if (packed)
		return sizeof(struct vring_packed_desc_event);
	/* flags, idx, ring[size], used_event */
	return 4 + 2ULL * size + (event_idx ? 2 : 0);
}

static inline uint64_t virtq_device_bytes(uint16_t size, bool packed, bool event_idx)
{
	if (packed)
		return sizeof(struct vring_packed_desc_event);
	/* flags, idx, ring[size], avail_event */
	return 4 + sizeof(struct vring_used_elem) * (uint64_t)size + (event_idx ? 2 : 0);
}

#endif
