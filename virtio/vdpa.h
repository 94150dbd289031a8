/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A vDPA device as the VMM drives it, in the vhost-vdpa vocabulary and
 * with the uAPI's own structs and constants (<linux/vhost.h>), one op per
 * ioctl of /dev/vhost-vdpa-N: status, features, config, per-vq num, addr,
 * base, kick, call and enable, groups and address spaces, IOTLB messages
 * (v2, with ASID and batching), suspend and resume. The simulated NIC
 * (devices/vdpa/) implements it; a kernel vhost-vdpa backend can later
 * sit behind the same ops. Ops return 0 or a negative errno, as the ioctls
 * would.
 */
#ifndef VLAB_VIRTIO_VDPA_H
#define VLAB_VIRTIO_VDPA_H

#include <stdint.h>
#include <linux/vhost.h>
#include <linux/vhost_types.h>

/* Backend features newer than some distributions' uAPI headers. */
#ifndef VHOST_BACKEND_F_RESUME
#define VHOST_BACKEND_F_RESUME			0x5
#endif
#ifndef VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK
#define VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK	0x6
#endif
#ifndef VHOST_BACKEND_F_DESC_ASID
#define VHOST_BACKEND_F_DESC_ASID		0x7
#endif
#ifndef VHOST_BACKEND_F_IOTLB_PERSIST
#define VHOST_BACKEND_F_IOTLB_PERSIST		0x8
#endif

struct vdpa_dev;

/*
 * A vq's notify area (vhost-vdpa: the page mmap()ed at the vq's index):
 * a store of the vq index into @reg is the doorbell, a posted write with
 * no system call. A simulated device has no bus to see the store, so it
 * also gives @posted, which stands for the write reaching the device;
 * hardware leaves it NULL.
 */
struct vdpa_notify_area {
	volatile uint16_t *reg;
	void (*posted)(struct vdpa_notify_area *a, uint16_t value);
	void *dev;
	uint16_t idx;
};

/* Ring the doorbell of vq @a->idx. */
static inline void vdpa_doorbell(struct vdpa_notify_area *a)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);	/* the ring before the doorbell */
	*a->reg = a->idx;
	if (a->posted)
		a->posted(a, a->idx);
}

struct vdpa_dev_ops {
	uint32_t (*get_device_id)(struct vdpa_dev *d);
	uint64_t (*get_features)(struct vdpa_dev *d);
	int (*set_features)(struct vdpa_dev *d, uint64_t features);
	uint64_t (*get_backend_features)(struct vdpa_dev *d);
	int (*set_backend_features)(struct vdpa_dev *d, uint64_t features);
	uint8_t (*get_status)(struct vdpa_dev *d);
	/* Bits are only added; 0 resets the device. */
	int (*set_status)(struct vdpa_dev *d, uint8_t status);
	uint32_t (*get_config_size)(struct vdpa_dev *d);
	int (*get_config)(struct vdpa_dev *d, uint32_t off, void *buf, uint32_t len);
	int (*set_config)(struct vdpa_dev *d, uint32_t off, const void *buf, uint32_t len);
	/* Eventfd the device writes when its config or status changes (NEEDS_RESET). */
	int (*set_config_call)(struct vdpa_dev *d, int fd);
	uint32_t (*get_vqs_count)(struct vdpa_dev *d);
	uint16_t (*get_vring_num)(struct vdpa_dev *d);		/* largest ring */
	uint32_t (*get_group_num)(struct vdpa_dev *d);
	uint32_t (*get_as_num)(struct vdpa_dev *d);
	int (*get_iova_range)(struct vdpa_dev *d, struct vhost_vdpa_iova_range *r);
	int (*get_vring_group)(struct vdpa_dev *d, struct vhost_vring_state *s);
	/* VHOST_VDPA_GET_VRING_DESC_GROUP: where the vq's rings are (DESC_ASID). */
	int (*get_vring_desc_group)(struct vdpa_dev *d, struct vhost_vring_state *s);
	int (*set_group_asid)(struct vdpa_dev *d, const struct vhost_vring_state *s);
	int (*set_vring_num)(struct vdpa_dev *d, const struct vhost_vring_state *s);
	int (*set_vring_addr)(struct vdpa_dev *d, const struct vhost_vring_addr *a);
	int (*set_vring_base)(struct vdpa_dev *d, const struct vhost_vring_state *s);
	int (*get_vring_base)(struct vdpa_dev *d, struct vhost_vring_state *s);
	int (*set_vring_kick)(struct vdpa_dev *d, const struct vhost_vring_file *f);
	int (*set_vring_call)(struct vdpa_dev *d, const struct vhost_vring_file *f);
	int (*set_vring_enable)(struct vdpa_dev *d, const struct vhost_vring_state *s);
	/* VHOST_IOTLB_UPDATE, _INVALIDATE, _BATCH_BEGIN, _BATCH_END. */
	int (*iotlb_msg)(struct vdpa_dev *d, const struct vhost_msg_v2 *m);
	int (*suspend)(struct vdpa_dev *d);
	int (*resume)(struct vdpa_dev *d);
	/*
	 * Optional: data vq @idx's DEVICE_STATS counters as a STATS_GET result
	 * (reply headers and le64 counters) for every type it has, readable
	 * while suspended, as vdpa's vendor vq statistics are. Bytes written,
	 * or -errno.
	 */
	int (*get_vq_stats)(struct vdpa_dev *d, uint16_t idx, void *out, uint32_t cap);
	/* Optional: vq @idx's notify area (vhost-vdpa's mmap of its page), or -errno. */
	int (*get_vq_notification)(struct vdpa_dev *d, uint16_t idx, struct vdpa_notify_area *a);
};

struct vdpa_dev {
	const struct vdpa_dev_ops *ops;
};

/* One IOTLB message (v2) of @type for address space @asid. */
static inline int vdpa_iotlb(struct vdpa_dev *d, uint32_t asid, uint8_t type, uint64_t iova,
			     uint64_t size, void *host, uint8_t perm)
{
	struct vhost_msg_v2 m = { .type = VHOST_IOTLB_MSG_V2, .asid = asid };

	m.iotlb.type = type;
	m.iotlb.iova = iova;
	m.iotlb.size = size;
	m.iotlb.uaddr = (uintptr_t)host;
	m.iotlb.perm = perm;
	return d->ops->iotlb_msg(d, &m);
}

#endif
