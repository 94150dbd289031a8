// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/vdpa/hw.h"

#define GIB	(1ULL << 30)

static const char *const as_names[VDPA_HW_ASIDS] = { "vdpa-as0", "vdpa-as1" };

const char *vdpa_vq_state_name(enum vdpa_vq_state s)
{
	static const char *const names[] = { "NONE", "INIT", "RDY", "SUSPEND", "ERR" };

	return s <= VDPA_VQ_ERR ? names[s] : "?";
}

int vdpa_hw_init(struct vdpa_hw *hw, uint16_t nr_vqs, double fw_scale, bool fw_parallel)
{
	int i, r;

	if (!nr_vqs || nr_vqs > VDPA_HW_MAX_VQS)
		return -EINVAL;
	memset(hw, 0, sizeof(*hw));
	pthread_mutex_init(&hw->lock, NULL);
	fw_init(&hw->fw, fw_scale, fw_parallel);
	hw->nr_vqs = nr_vqs;
	/* rx0, tx0, ..., then the CVQ when the count is odd. */
	hw->cvq = (nr_vqs & 1) ? nr_vqs - 1 : -1;
	hw->features = 1ULL << VIRTIO_F_VERSION_1;
	/* No guest_mem: entries are host addresses, and DMA is not logged. */
	for (i = 0; i < VDPA_HW_ASIDS; i++) {
		r = iotlb_view_init(&hw->as[i], NULL, as_names[i]);
		if (r)
			return r;
	}
	hw->batch = calloc(VDPA_HW_BATCH_MAX, sizeof(*hw->batch));
	return hw->batch ? 0 : -ENOMEM;
}

void vdpa_hw_exit(struct vdpa_hw *hw)
{
	int i;

	for (i = 0; i < VDPA_HW_ASIDS; i++)
		iotlb_view_exit(&hw->as[i]);
	free(hw->batch);
	hw->batch = NULL;
	fw_exit(&hw->fw);
	pthread_mutex_destroy(&hw->lock);
}

uint32_t vdpa_hw_vq_group(const struct vdpa_hw *hw, uint16_t idx)
{
	return idx == hw->cvq ? VDPA_HW_GROUP_CVQ : VDPA_HW_GROUP_DATA;
}

uint32_t vdpa_hw_vq_desc_group(const struct vdpa_hw *hw, uint16_t idx)
{
	return hw->desc_asid && idx != hw->cvq ? VDPA_HW_GROUP_DESC : vdpa_hw_vq_group(hw, idx);
}

static struct iotlb_view *vq_as(struct vdpa_hw *hw, uint16_t idx)
{
	return &hw->as[hw->group_asid[vdpa_hw_vq_group(hw, idx)]];
}

static struct iotlb_view *vq_ring_as(struct vdpa_hw *hw, uint16_t idx)
{
	return &hw->as[hw->group_asid[vdpa_hw_vq_desc_group(hw, idx)]];
}

/* ---- memory keys ---- */

static uint64_t as_bytes(struct iotlb_view *iv)
{
	uint64_t n = 0;
	size_t i;

	pthread_rwlock_rdlock(&iv->lock);
	for (i = 0; i < iv->nr; i++)
		n += iv->entries[i].size;
	pthread_rwlock_unlock(&iv->lock);
	return n;
}

/*
 * What mlx5 does when a map changes: running vqs of the space are
 * suspended, the keys rebuilt (a direct key per GiB, one indirect key,
 * new memory pinned), and the vqs resumed.
 */
static void rebuild_keys(struct vdpa_hw *hw, uint32_t asid)
{
	uint64_t gib = (as_bytes(&hw->as[asid]) + GIB - 1) / GIB;
	unsigned int running = 0, i;

	for (i = 0; i < hw->nr_vqs; i++)
		if (hw->vqs[i].state == VDPA_VQ_RDY && (int)i != hw->cvq &&
		    (vq_as(hw, i) == &hw->as[asid] || vq_ring_as(hw, i) == &hw->as[asid]))
			running++;
	fw_run(&hw->fw, FW_SUSPEND_VQ, running, 0);
	fw_run(&hw->fw, FW_DESTROY_MKEY, hw->mkeys[asid] ? hw->mkeys[asid] + 1 : 0, 0);
	fw_run(&hw->fw, FW_CREATE_MKEY, gib, 1);
	fw_run(&hw->fw, FW_CREATE_IMKEY, gib ? 1 : 0, 0);
	if (gib > hw->mapped_gib[asid])
		fw_run(&hw->fw, FW_PIN, 1, gib - hw->mapped_gib[asid]);
	fw_run(&hw->fw, FW_RESUME_VQ, running, 0);
	hw->mkeys[asid] = gib;
	hw->mapped_gib[asid] = gib;
	hw->map_rebuilds++;
	hw->as_rebuilds[asid]++;
}

static int apply(struct vdpa_hw *hw, const struct vdpa_iotlb_msg *m)
{
	struct iotlb_view *iv = &hw->as[m->asid];

	if (m->invalidate)
		return iotlb_unmap(iv, m->iova, m->size);
	return iotlb_map_host(iv, m->iova, m->size, (void *)(uintptr_t)m->uaddr, m->perm);
}

static int iotlb_msg(struct vdpa_hw *hw, const struct vdpa_iotlb_msg *m)
{
	int r = 0;

	if (m->asid >= VDPA_HW_ASIDS || !m->size || m->iova + m->size - 1 < m->iova)
		return -EINVAL;
	pthread_mutex_lock(&hw->lock);
	if (hw->batching) {
		if (hw->nr_batch == VDPA_HW_BATCH_MAX)
			r = -ENOSPC;
		else
			hw->batch[hw->nr_batch++] = *m;
	} else {
		r = apply(hw, m);
		if (!r)
			rebuild_keys(hw, m->asid);
	}
	pthread_mutex_unlock(&hw->lock);
	return r;
}

int vdpa_hw_iotlb_update(struct vdpa_hw *hw, uint32_t asid, uint64_t iova, uint64_t size,
			 uint64_t uaddr, unsigned int perm)
{
	struct vdpa_iotlb_msg m = { false, asid, iova, size, uaddr, perm };

	return iotlb_msg(hw, &m);
}

int vdpa_hw_iotlb_invalidate(struct vdpa_hw *hw, uint32_t asid, uint64_t iova,
			     uint64_t size)
{
	struct vdpa_iotlb_msg m = { true, asid, iova, size, 0, 0 };

	return iotlb_msg(hw, &m);
}

int vdpa_hw_iotlb_batch_begin(struct vdpa_hw *hw)
{
	pthread_mutex_lock(&hw->lock);
	hw->batching = true;
	pthread_mutex_unlock(&hw->lock);
	return 0;
}

/* Every message in order, then one key rebuild per space touched. */
int vdpa_hw_iotlb_batch_end(struct vdpa_hw *hw)
{
	bool touched[VDPA_HW_ASIDS] = { false };
	uint32_t i;
	int r, ret = 0;

	pthread_mutex_lock(&hw->lock);
	for (i = 0; i < hw->nr_batch; i++) {
		r = apply(hw, &hw->batch[i]);
		if (r && !ret)
			ret = r;
		if (!r)
			touched[hw->batch[i].asid] = true;
	}
	for (i = 0; i < VDPA_HW_ASIDS; i++)
		if (touched[i])
			rebuild_keys(hw, i);
	hw->nr_batch = 0;
	hw->batching = false;
	pthread_mutex_unlock(&hw->lock);
	return ret;
}

int vdpa_hw_set_group_asid(struct vdpa_hw *hw, uint32_t group, uint32_t asid)
{
	uint16_t i;
	int r = 0;

	if (group >= VDPA_HW_GROUPS || asid >= VDPA_HW_ASIDS)
		return -EINVAL;
	pthread_mutex_lock(&hw->lock);
	for (i = 0; i < hw->nr_vqs; i++)
		if ((vdpa_hw_vq_group(hw, i) == group || vdpa_hw_vq_desc_group(hw, i) == group) &&
		    hw->vqs[i].state == VDPA_VQ_RDY)
			r = -EBUSY;
	if (!r)
		hw->group_asid[group] = asid;
	pthread_mutex_unlock(&hw->lock);
	return r;
}

/* ---- virtqueue objects ---- */

/* A command on vq @idx's object. The CVQ is mlx5's driver's, in software: free. */
static void vq_fw(struct vdpa_hw *hw, uint16_t idx, enum fw_cmd cmd)
{
	if ((int)idx != hw->cvq)
		fw_run(&hw->fw, cmd, 1, 0);
}

static struct vdpa_vq *vq_get(struct vdpa_hw *hw, uint16_t idx)
{
	return idx < hw->nr_vqs ? &hw->vqs[idx] : NULL;
}

static bool vq_settable(const struct vdpa_vq *v)
{
	return v->state == VDPA_VQ_NONE || v->state == VDPA_VQ_INIT ||
	       v->state == VDPA_VQ_SUSPEND;
}

/* Vq @idx with hw->lock held, or NULL for a bad index (lock not taken). */
static struct vdpa_vq *vq_lock(struct vdpa_hw *hw, uint16_t idx)
{
	struct vdpa_vq *v = vq_get(hw, idx);

	if (v)
		pthread_mutex_lock(&hw->lock);
	return v;
}

static int vq_unlock(struct vdpa_hw *hw, int ret)
{
	pthread_mutex_unlock(&hw->lock);
	return ret;
}

/* The size is fixed when the object is made (a new size is a new object). */
int vdpa_hw_vq_set_num(struct vdpa_hw *hw, uint16_t idx, uint16_t num)
{
	struct vdpa_vq *v;

	if (!num || num > VDPA_HW_MAX_QSIZE || (num & (num - 1)) || !(v = vq_lock(hw, idx)))
		return -EINVAL;
	if (v->state != VDPA_VQ_NONE)
		return vq_unlock(hw, -EBUSY);
	v->num = num;
	return vq_unlock(hw, 0);
}

int vdpa_hw_vq_set_addr(struct vdpa_hw *hw, uint16_t idx, uint64_t desc, uint64_t driver,
			uint64_t device)
{
	struct vdpa_vq *v = vq_lock(hw, idx);

	if (!v)
		return -EINVAL;
	if (!vq_settable(v))
		return vq_unlock(hw, -EBUSY);
	v->desc = desc;
	v->driver = driver;
	v->device = device;
	return vq_unlock(hw, 0);
}

int vdpa_hw_vq_set_base(struct vdpa_hw *hw, uint16_t idx, uint16_t base)
{
	struct vdpa_vq *v = vq_lock(hw, idx);

	if (!v)
		return -EINVAL;
	if (!vq_settable(v))
		return vq_unlock(hw, -EBUSY);
	v->avail_base = base;
	return vq_unlock(hw, 0);
}

int vdpa_hw_vq_create(struct vdpa_hw *hw, uint16_t idx)
{
	struct vdpa_vq *v = vq_lock(hw, idx);

	if (!v)
		return -EINVAL;
	if (v->state != VDPA_VQ_NONE || !v->num)
		return vq_unlock(hw, -EBUSY);
	vq_fw(hw, idx, FW_CREATE_VQ);
	v->state = VDPA_VQ_INIT;
	return vq_unlock(hw, 0);
}

static void vq_fault(struct vdpa_vq *v, const char *why)
{
	v->state = VDPA_VQ_ERR;
	v->faults++;
	v->fault = why;
}

/* The ring engine from the object's fields; the ring is checked here. */
static int vq_start(struct vdpa_hw *hw, uint16_t idx, struct vdpa_vq *v)
{
	struct virtq *vq = &v->vq;
	int r;

	virtq_init(vq, &vq_as(hw, idx)->view, VDPA_HW_MAX_QSIZE);
	virtq_set_views(vq, &vq_ring_as(hw, idx)->view, &vq_as(hw, idx)->view);
	virtq_set_features(vq, hw->features);
	r = virtq_set_size(vq, v->num);
	if (!r)
		r = virtq_set_addrs(vq, v->desc, v->driver, v->device);
	if (virtq_is_packed(vq)) {
		vq->last_avail_idx = vq->used_idx = v->avail_base & 0x7fff;
		vq->avail_wrap_counter = vq->used_wrap_counter = v->avail_base >> 15;
	} else {
		vq->last_avail_idx = vq->used_idx = vq->shadow_avail_idx = v->avail_base;
	}
	if (!r)
		r = virtq_enable(vq);
	if (r) {
		vq_fault(v, vq->broken_reason ? vq->broken_reason : "ring not mapped");
		return -EFAULT;
	}
	return 0;
}

int vdpa_hw_vq_ready(struct vdpa_hw *hw, uint16_t idx)
{
	struct vdpa_vq *v = vq_lock(hw, idx);
	int r;

	if (!v)
		return -EINVAL;
	if (v->state != VDPA_VQ_INIT && v->state != VDPA_VQ_SUSPEND)
		return vq_unlock(hw, -EBUSY);
	vq_fw(hw, idx, v->state == VDPA_VQ_INIT ? FW_MODIFY_VQ : FW_RESUME_VQ);
	r = vq_start(hw, idx, v);
	if (!r)
		v->state = VDPA_VQ_RDY;
	return vq_unlock(hw, r);
}

int vdpa_hw_vq_suspend(struct vdpa_hw *hw, uint16_t idx)
{
	struct vdpa_vq *v = vq_lock(hw, idx);

	if (!v)
		return -EINVAL;
	if (v->state != VDPA_VQ_RDY)
		return vq_unlock(hw, -EBUSY);
	/* mlx5: a modify to SUSPEND, then a query of the indices. */
	vq_fw(hw, idx, FW_SUSPEND_VQ);
	vq_fw(hw, idx, FW_QUERY_VQ);
	/* In flight = popped, not used: the driver will offer them again. */
	v->avail_base = v->vq.used_idx |
			(virtq_is_packed(&v->vq) && v->vq.used_wrap_counter ? 0x8000 : 0);
	v->state = VDPA_VQ_SUSPEND;
	return vq_unlock(hw, 0);
}

int vdpa_hw_vq_destroy(struct vdpa_hw *hw, uint16_t idx)
{
	struct vdpa_vq *v = vq_lock(hw, idx);

	if (!v)
		return -EINVAL;
	if (v->state != VDPA_VQ_NONE)
		vq_fw(hw, idx, FW_DESTROY_VQ);
	memset(v, 0, sizeof(*v));
	return vq_unlock(hw, 0);
}

enum vdpa_vq_state vdpa_hw_vq_query(struct vdpa_hw *hw, uint16_t idx, uint16_t *base)
{
	struct vdpa_vq *v = vq_get(hw, idx);
	enum vdpa_vq_state s;

	if (!v)
		return VDPA_VQ_NONE;
	pthread_mutex_lock(&hw->lock);
	s = v->state;
	if (base)
		*base = v->avail_base;
	pthread_mutex_unlock(&hw->lock);
	return s;
}

void vdpa_hw_reset(struct vdpa_hw *hw)
{
	uint16_t i;

	fw_batch_begin(&hw->fw);
	for (i = 0; i < hw->nr_vqs; i++)
		vdpa_hw_vq_destroy(hw, i);
	fw_batch_end(&hw->fw);
	pthread_mutex_lock(&hw->lock);
	fw_run(&hw->fw, FW_RESET, 1, 0);
	hw->set_up = false;
	for (i = 0; i < VDPA_HW_GROUPS; i++)
		hw->group_asid[i] = 0;
	if (!hw->persist_iotlb) {
		for (i = 0; i < VDPA_HW_ASIDS; i++) {
			iotlb_clear(&hw->as[i]);
			fw_run(&hw->fw, FW_DESTROY_MKEY, hw->mkeys[i] ? hw->mkeys[i] + 1 : 0, 0);
			hw->mkeys[i] = 0;
			hw->mapped_gib[i] = 0;
		}
	}
	hw->nr_batch = 0;
	hw->batching = false;
	pthread_mutex_unlock(&hw->lock);
}

void vdpa_hw_setup(struct vdpa_hw *hw)
{
	pthread_mutex_lock(&hw->lock);
	if (!hw->set_up)
		fw_run(&hw->fw, FW_SETUP_DEVICE, 1, 0);
	hw->set_up = true;
	pthread_mutex_unlock(&hw->lock);
}

void vdpa_hw_precreate(struct vdpa_hw *hw)
{
	uint16_t i;

	vdpa_hw_setup(hw);
	fw_batch_begin(&hw->fw);
	for (i = 0; i < hw->nr_vqs; i++)
		if (vdpa_hw_vq_query(hw, i, NULL) == VDPA_VQ_NONE &&
		    !vdpa_hw_vq_set_num(hw, i, VDPA_HW_MAX_QSIZE))
			vdpa_hw_vq_create(hw, i);
	fw_batch_end(&hw->fw);
}

/* ---- data path ---- */

int vdpa_hw_vq_pop(struct vdpa_hw *hw, uint16_t idx, struct virtq_elem *elem)
{
	struct vdpa_vq *v = vq_get(hw, idx);
	int r;

	if (!v || v->state != VDPA_VQ_RDY)
		return v && v->state == VDPA_VQ_ERR ? -EIO : 0;
	r = virtq_pop(&v->vq, elem);
	if (r < 0)
		vq_fault(v, v->vq.broken_reason ? v->vq.broken_reason : "DMA fault");
	return r;
}

void vdpa_hw_vq_push(struct vdpa_hw *hw, uint16_t idx, const struct virtq_elem *elem,
		     uint32_t len)
{
	struct vdpa_vq *v = vq_get(hw, idx);

	if (v && v->state == VDPA_VQ_RDY)
		virtq_push(&v->vq, elem, len);
}
