/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The "hardware" of the simulated mlx5-like vDPA NIC: what a driver on the
 * other side of a vhost-vdpa-style interface programs. It reaches memory
 * only through its own IOTLBs (one per address space) and marks nothing
 * in vlab's dirty log, like DMA from a real NIC: entries carry host
 * addresses (vhost-vdpa's uaddr), never GPAs.
 *
 *  - Address spaces and groups as in mlx5_vdpa: 2 ASIDs; vq groups data
 *    0, CVQ 1, data descriptors 2, each pointing at an ASID.
 *  - IOTLB messages: update and invalidate, applied at once or, between
 *    batch begin and end, all together at the end. Each application
 *    rebuilds that address space's memory keys (charged to the firmware:
 *    direct keys per GiB, one indirect key, pinning of what is new).
 *  - Virtqueue objects with mlx5's states NONE/INIT/RDY/SUSPEND/ERR:
 *    size, addresses and base change only in NONE, INIT or SUSPEND; a
 *    suspended vq reads back its used index (in-flight buffers rewound).
 *  - A DMA fault (unmapped or read-only IOVA, or a malformed ring) puts
 *    only that vq in ERR and counts it; nothing outside the map is touched.
 *
 * Control calls come from one thread at a time (hw->lock); the data path
 * (vdpa_hw_vq_pop/push) runs on one thread per vq while it is RDY.
 */
#ifndef VLAB_VDPA_HW_H
#define VLAB_VDPA_HW_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/vdpa/fw.h"
#include "virtio/virtq.h"
#include "vmm/mem/mem_view.h"

#define VDPA_HW_ASIDS		2
#define VDPA_HW_GROUPS		3
#define VDPA_HW_GROUP_DATA	0
#define VDPA_HW_GROUP_CVQ	1
#define VDPA_HW_GROUP_DESC	2
#define VDPA_HW_MAX_QSIZE	256
#define VDPA_HW_MAX_PAIRS	16
#define VDPA_HW_MAX_VQS		(2 * VDPA_HW_MAX_PAIRS + 1)
/* Messages one batch may hold. */
#define VDPA_HW_BATCH_MAX	4096

enum vdpa_vq_state {
	VDPA_VQ_NONE,		/* no object */
	VDPA_VQ_INIT,		/* created, not processing */
	VDPA_VQ_RDY,		/* processing */
	VDPA_VQ_SUSPEND,	/* stopped, indices kept */
	VDPA_VQ_ERR,		/* faulted: destroy to recover */
};

struct vdpa_vq {
	enum vdpa_vq_state state;
	uint16_t num;
	uint64_t desc, driver, device;	/* IOVAs */
	uint16_t avail_base;		/* split: next avail index; packed: idx | wrap << 15 */
	uint64_t faults;
	const char *fault;		/* why it went to ERR */
	struct virtq vq;		/* the ring engine, through the group's ASID */
};

struct vdpa_iotlb_msg {
	bool invalidate;
	uint32_t asid;
	uint64_t iova, size, uaddr;
	unsigned int perm;
};

struct vdpa_hw {
	pthread_mutex_t lock;
	struct fw fw;
	uint64_t features;		/* negotiated: ring layout for the vqs */
	bool persist_iotlb;		/* maps survive reset (IOTLB_PERSIST) */
	bool desc_asid;			/* data vq rings in group DESC (DESC_ASID) */
	uint16_t nr_vqs;
	int cvq;			/* index of the control vq (group CVQ), -1 none */
	struct iotlb_view as[VDPA_HW_ASIDS];
	uint32_t group_asid[VDPA_HW_GROUPS];
	uint64_t mapped_gib[VDPA_HW_ASIDS];	/* what the keys of each space cover */
	uint32_t mkeys[VDPA_HW_ASIDS];		/* direct keys in place */
	bool set_up;			/* DRIVER_OK's device-wide objects exist */
	bool batching;
	struct vdpa_iotlb_msg *batch;
	uint32_t nr_batch;
	uint64_t map_rebuilds;
	uint64_t as_rebuilds[VDPA_HW_ASIDS];	/* the same, per address space */
	struct vdpa_vq vqs[VDPA_HW_MAX_VQS];
};

int vdpa_hw_init(struct vdpa_hw *hw, uint16_t nr_vqs, double fw_scale, bool fw_parallel);
void vdpa_hw_exit(struct vdpa_hw *hw);
/*
 * Destroy every vq object and the device-wide ones; the maps too unless
 * persist_iotlb. Groups back to ASID 0.
 */
void vdpa_hw_reset(struct vdpa_hw *hw);
/* The device-wide objects DRIVER_OK needs (RQT, TIR, steering), once until a reset. */
void vdpa_hw_setup(struct vdpa_hw *hw);
/*
 * mlx5's vq pre-creation: the device-wide objects and every vq object
 * (INIT, the largest size) made ahead, so that DRIVER_OK only modifies
 * them (addresses, base) and makes them ready. A vq whose size differs is
 * made again then.
 */
void vdpa_hw_precreate(struct vdpa_hw *hw);

/* The group a vq belongs to (hw->cvq: the CVQ's; by default the last vq of an odd count). */
uint32_t vdpa_hw_vq_group(const struct vdpa_hw *hw, uint16_t idx);
/*
 * The group a vq's ring areas are reached through: with desc_asid a data
 * vq's rings are in group DESC (mlx5's "data descriptors" group) while its
 * buffers stay in group DATA; otherwise the vq's own group.
 */
uint32_t vdpa_hw_vq_desc_group(const struct vdpa_hw *hw, uint16_t idx);
/* -EINVAL bad group or ASID, -EBUSY a vq of the group is RDY. */
int vdpa_hw_set_group_asid(struct vdpa_hw *hw, uint32_t group, uint32_t asid);

/* IOTLB messages; -EINVAL bad ASID or range, -ENOSPC batch full, else what applying said. */
int vdpa_hw_iotlb_batch_begin(struct vdpa_hw *hw);
int vdpa_hw_iotlb_batch_end(struct vdpa_hw *hw);
int vdpa_hw_iotlb_update(struct vdpa_hw *hw, uint32_t asid, uint64_t iova, uint64_t size,
			 uint64_t uaddr, unsigned int perm);
int vdpa_hw_iotlb_invalidate(struct vdpa_hw *hw, uint32_t asid, uint64_t iova,
			     uint64_t size);

/*
 * Virtqueue objects. Setters: -EBUSY unless NONE, INIT or SUSPEND (the
 * size: unless NONE, it is fixed when the object is made);
 * -EINVAL for a size that is not a power of two up to 256. Transitions
 * refuse with -EBUSY anything mlx5 would: create NONE -> INIT, ready
 * INIT or SUSPEND -> RDY (the ring is checked through the group's ASID:
 * a bad ring is a fault, -EFAULT and ERR), suspend RDY -> SUSPEND, destroy
 * any -> NONE.
 */
int vdpa_hw_vq_set_num(struct vdpa_hw *hw, uint16_t idx, uint16_t num);
int vdpa_hw_vq_set_addr(struct vdpa_hw *hw, uint16_t idx, uint64_t desc, uint64_t driver,
			uint64_t device);
int vdpa_hw_vq_set_base(struct vdpa_hw *hw, uint16_t idx, uint16_t base);
int vdpa_hw_vq_create(struct vdpa_hw *hw, uint16_t idx);
int vdpa_hw_vq_ready(struct vdpa_hw *hw, uint16_t idx);
int vdpa_hw_vq_suspend(struct vdpa_hw *hw, uint16_t idx);
int vdpa_hw_vq_destroy(struct vdpa_hw *hw, uint16_t idx);
/* State and base (in SUSPEND: the used index, in-flight buffers rewound). */
enum vdpa_vq_state vdpa_hw_vq_query(struct vdpa_hw *hw, uint16_t idx, uint16_t *base);

/*
 * Data path of a RDY vq: virtq_pop()/virtq_push() through its ASID. A
 * fault puts the vq in ERR (and counts it); pop then returns the error.
 */
int vdpa_hw_vq_pop(struct vdpa_hw *hw, uint16_t idx, struct virtq_elem *elem);
void vdpa_hw_vq_push(struct vdpa_hw *hw, uint16_t idx, const struct virtq_elem *elem,
		     uint32_t len);

const char *vdpa_vq_state_name(enum vdpa_vq_state s);

#endif
