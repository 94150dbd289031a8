// SPDX-License-Identifier: GPL-2.0
/* Common configuration rules of virtio 1.2 (section 2, 3 and 4.1.4.3). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtio.h"
#include "vmm/control/json.h"
#include "vmm/migrate/state.h"

/* Transport and ring features every vlab device offers. */
#define VIRTIO_COMMON_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | VIRTQ_RING_FEATURES)

int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops,
		    void *priv, struct guest_mem *mem, uint16_t nr_queues,
		    uint16_t queue_max)
{
	int i;

	memset(vdev, 0, sizeof(*vdev));
	vdev->ops = ops;
	vdev->priv = priv;
	vdev->mem = mem;
	vdev->nr_queues = nr_queues;
	pthread_mutex_init(&vdev->lock, NULL);
	vdev->vqs = calloc(nr_queues, sizeof(*vdev->vqs));
	vdev->queue_vector = calloc(nr_queues, sizeof(*vdev->queue_vector));
	vdev->queue_reset_done = calloc(nr_queues, sizeof(*vdev->queue_reset_done));
	if (!vdev->vqs || !vdev->queue_vector || !vdev->queue_reset_done) {
		virtio_dev_exit(vdev);
		return -ENOMEM;
	}
	for (i = 0; i < nr_queues; i++) {
		virtq_init(&vdev->vqs[i], guest_mem_view(mem), queue_max);
		vdev->queue_vector[i] = VIRTIO_MSI_NO_VECTOR;
	}
	vdev->config_vector = VIRTIO_MSI_NO_VECTOR;
	vdev->host_features = VIRTIO_COMMON_FEATURES |
			      (ops->get_features ? ops->get_features(vdev) : 0);
	return 0;
}

void virtio_dev_exit(struct virtio_dev *vdev)
{
	free(vdev->vqs);
	free(vdev->queue_vector);
	free(vdev->queue_reset_done);
	vdev->vqs = NULL;
	vdev->queue_vector = NULL;
	vdev->queue_reset_done = NULL;
}

uint32_t virtio_dev_read_device_features(struct virtio_dev *vdev)
{
	if (vdev->device_feature_select > 1)
		return 0;
	return (uint32_t)(vdev->host_features >> (32 * vdev->device_feature_select));
}

void virtio_dev_write_driver_features(struct virtio_dev *vdev, uint32_t val)
{
	unsigned int shift;

	/* Features are frozen once FEATURES_OK is set. */
	if ((virtio_dev_status(vdev) & VIRTIO_CONFIG_S_FEATURES_OK) ||
	    vdev->driver_feature_select > 1)
		return;
	shift = 32 * vdev->driver_feature_select;
	vdev->guest_features &= ~(0xffffffffULL << shift);
	vdev->guest_features |= (uint64_t)val << shift;
}

/* Caller holds vdev->lock. */
static void virtio_dev_reset_locked(struct virtio_dev *vdev)
{
	int i;

	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	for (i = 0; i < vdev->nr_queues; i++) {
		virtq_reset(&vdev->vqs[i]);
		vdev->queue_vector[i] = VIRTIO_MSI_NO_VECTOR;
		vdev->queue_reset_done[i] = false;
	}
	vdev->config_vector = VIRTIO_MSI_NO_VECTOR;
	vdev->guest_features = 0;
	vdev->device_feature_select = vdev->driver_feature_select = 0;
	vdev->queue_select = 0;
	virtio_dev_store_status(vdev, 0);
}

void virtio_dev_reset(struct virtio_dev *vdev)
{
	pthread_mutex_lock(&vdev->lock);
	virtio_dev_reset_locked(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

static bool virtio_dev_features_ok(struct virtio_dev *vdev)
{
	uint64_t f = vdev->guest_features;
	int i;

	if (f & ~vdev->host_features)
		return false;
	/* vlab is a modern-only device: legacy drivers are refused here. */
	if (!(f & (1ULL << VIRTIO_F_VERSION_1)))
		return false;
	if (vdev->ops->set_features && vdev->ops->set_features(vdev, f) < 0)
		return false;
	for (i = 0; i < vdev->nr_queues; i++)
		virtq_set_features(&vdev->vqs[i], f);
	return true;
}

void virtio_dev_set_status_locked(struct virtio_dev *vdev, uint8_t status)
{
	uint8_t old = virtio_dev_status(vdev);

	if (status == 0) {
		virtio_dev_reset_locked(vdev);
		return;
	}
	/* A device that needs reset ignores everything but a reset. */
	if (old & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	/*
	 * The driver must not clear a status bit (2.1.2); only a reset does.
	 * Keep them: clearing FEATURES_OK would unfreeze the features and let
	 * a second FEATURES_OK change the layout of rings already enabled.
	 */
	status |= old;
	if ((status & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* Refusal: FEATURES_OK stays clear and the driver sees it. */
		if (!virtio_dev_features_ok(vdev))
			status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		if (!(status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			status &= ~VIRTIO_CONFIG_S_DRIVER_OK;
		} else {
			__atomic_fetch_or(&vdev->status, status, __ATOMIC_ACQ_REL);
			if (vdev->ops->start && vdev->ops->start(vdev) < 0)
				status |= VIRTIO_CONFIG_S_NEEDS_RESET;
		}
	}
	/*
	 * Only adds bits (status holds old's): an OR cannot lose a
	 * NEEDS_RESET a worker set meanwhile.
	 */
	__atomic_fetch_or(&vdev->status, status, __ATOMIC_ACQ_REL);
}

void virtio_dev_set_status(struct virtio_dev *vdev, uint8_t status)
{
	pthread_mutex_lock(&vdev->lock);
	virtio_dev_set_status_locked(vdev, status);
	pthread_mutex_unlock(&vdev->lock);
}

static struct virtq *virtio_dev_selected(struct virtio_dev *vdev)
{
	if (vdev->queue_select >= vdev->nr_queues)
		return NULL;
	return &vdev->vqs[vdev->queue_select];
}

uint16_t virtio_dev_queue_size(struct virtio_dev *vdev)
{
	struct virtq *vq = virtio_dev_selected(vdev);

	return vq ? vq->size : 0;
}

void virtio_dev_set_queue_size(struct virtio_dev *vdev, uint16_t size)
{
	struct virtq *vq = virtio_dev_selected(vdev);

	/* Size is only writable before the queue is enabled. */
	if (vq && !vq->enabled)
		virtq_set_size(vq, size);
}

uint32_t virtio_dev_queue_addr(struct virtio_dev *vdev, int which, bool hi)
{
	struct virtq *vq = virtio_dev_selected(vdev);
	uint64_t a;

	if (!vq)
		return 0;
	a = which == 0 ? vq->desc_addr : which == 1 ? vq->driver_addr : vq->device_addr;
	return hi ? (uint32_t)(a >> 32) : (uint32_t)a;
}

void virtio_dev_set_queue_addr(struct virtio_dev *vdev, int which, bool hi, uint32_t val)
{
	struct virtq *vq = virtio_dev_selected(vdev);
	uint64_t *a;

	if (!vq || vq->enabled)
		return;
	a = which == 0 ? &vq->desc_addr : which == 1 ? &vq->driver_addr : &vq->device_addr;
	if (hi)
		*a = (*a & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		*a = (*a & ~0xffffffffULL) | val;
}

/*
 * A queue is changed by the transport only while no device worker can be
 * using it: a worker may be inside virtq_pop() on it at any time.
 */
static void virtio_dev_queue_stop(struct virtio_dev *vdev, uint16_t q)
{
	if (vdev->ops->queue_stop)
		vdev->ops->queue_stop(vdev, q);
}

static void virtio_dev_queue_restart(struct virtio_dev *vdev, uint16_t q)
{
	if (vdev->ops->queue_restart)
		vdev->ops->queue_restart(vdev, q);
}

void virtio_dev_enable_queue(struct virtio_dev *vdev)
{
	struct virtq *vq = virtio_dev_selected(vdev);
	uint16_t q = vdev->queue_select;
	char why[96];
	int ret;

	if (!vq || vq->enabled)
		return;
	virtio_dev_queue_stop(vdev, q);
	vq->features = 0;
	virtq_set_features(vq, vdev->guest_features);
	ret = virtq_set_addrs(vq, vq->desc_addr, vq->driver_addr, vq->device_addr);
	if (!ret)
		ret = virtq_enable(vq);
	virtio_dev_queue_restart(vdev, q);
	if (ret) {
		snprintf(why, sizeof(why), "queue %u cannot be enabled: %s",
			 vdev->queue_select, vq->broken_reason ? vq->broken_reason : "bad ring");
		__atomic_fetch_or(&vdev->status, VIRTIO_CONFIG_S_NEEDS_RESET, __ATOMIC_ACQ_REL);
		fprintf(stderr, "vlab: %s: %s\r\n", vdev->ops->name, why);
		if (vdev->transport && vdev->transport->signal_config)
			vdev->transport->signal_config(vdev);
		return;
	}
	vdev->queue_reset_done[vdev->queue_select] = false;
}

void virtio_dev_reset_queue(struct virtio_dev *vdev)
{
	struct virtq *vq = virtio_dev_selected(vdev);
	uint16_t q = vdev->queue_select;

	if (!vq || !virtio_dev_has(vdev, VIRTIO_F_RING_RESET))
		return;
	virtio_dev_queue_stop(vdev, q);
	virtq_reset(vq);
	vdev->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
	vdev->queue_reset_done[q] = true;
	if (vdev->ops->queue_reset)
		vdev->ops->queue_reset(vdev, q);
	virtio_dev_queue_restart(vdev, q);
}

void virtio_dev_signal_queue(struct virtio_dev *vdev, uint16_t q)
{
	if (q < vdev->nr_queues)
		virtq_count(&vdev->vqs[q].stats.irqs, 1);
	if (vdev->transport && vdev->transport->signal_queue)
		vdev->transport->signal_queue(vdev, q);
}

void virtio_watch_queue(struct json_writer *w, uint16_t q, uint16_t size, int fill,
			const struct virtq_stats *stats)
{
	json_obj_begin(w);
	json_kv_uint(w, "q", q);
	json_kv_uint(w, "size", size);
	if (fill >= 0)
		json_kv_int(w, "fill", fill);
	json_kv_uint(w, "kicks", virtq_counter(&stats->kicks));
	json_kv_uint(w, "irqs", virtq_counter(&stats->irqs));
	json_kv_uint(w, "used", virtq_counter(&stats->used));
}

void virtio_dev_watch_queues(struct virtio_dev *vdev, struct json_writer *w)
{
	uint16_t q;

	json_key(w, "queues");
	json_arr_begin(w);
	for (q = 0; q < vdev->nr_queues; q++) {
		struct virtq *vq = &vdev->vqs[q];

		if (!__atomic_load_n(&vq->enabled, __ATOMIC_RELAXED))
			continue;
		virtio_watch_queue(w, q, vq->size, virtq_fill_level(vq), &vq->stats);
		json_obj_end(w);
	}
	json_arr_end(w);
}

void virtio_dev_notify_used(struct virtio_dev *vdev, uint16_t q)
{
	if (q < vdev->nr_queues && virtq_should_notify(&vdev->vqs[q]))
		virtio_dev_signal_queue(vdev, q);
}

void virtio_dev_config_changed(struct virtio_dev *vdev)
{
	__atomic_fetch_add(&vdev->config_generation, 1, __ATOMIC_RELEASE);
	if (vdev->transport && vdev->transport->signal_config &&
	    (virtio_dev_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK))
		vdev->transport->signal_config(vdev);
}

void virtio_dev_needs_reset(struct virtio_dev *vdev, const char *why)
{
	uint8_t old = __atomic_fetch_or(&vdev->status, VIRTIO_CONFIG_S_NEEDS_RESET,
					__ATOMIC_ACQ_REL);

	if (old & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	fprintf(stderr, "vlab: %s: device needs reset: %s\r\n", vdev->ops->name, why);
	if (vdev->transport && vdev->transport->signal_config)
		vdev->transport->signal_config(vdev);
}

/* ---- migration ---- */

static const struct state_field virtio_dev_fields[] = {
	STATE_UINT(struct virtio_dev, host_features, "host-features"),
	STATE_UINT(struct virtio_dev, guest_features, "guest-features"),
	STATE_UINT(struct virtio_dev, device_feature_select, "device-feature-select"),
	STATE_UINT(struct virtio_dev, driver_feature_select, "driver-feature-select"),
	STATE_UINT(struct virtio_dev, status, "status"),
	STATE_UINT(struct virtio_dev, config_generation, "config-generation"),
	STATE_UINT(struct virtio_dev, queue_select, "queue-select"),
	STATE_UINT(struct virtio_dev, nr_queues, "queues"),
	STATE_UINT(struct virtio_dev, config_vector, "config-vector"),
};

/* Every plain field of struct virtq; the host pointers are rebuilt by enable. */
static const struct state_field virtq_fields[] = {
	STATE_UINT(struct virtq, max_size, "max-size"),
	STATE_UINT(struct virtq, size, "size"),
	STATE_UINT(struct virtq, desc_addr, "desc"),
	STATE_UINT(struct virtq, driver_addr, "driver"),
	STATE_UINT(struct virtq, device_addr, "device"),
	STATE_UINT(struct virtq, features, "features"),
	STATE_BOOL(struct virtq, enabled, "enabled"),
	STATE_BOOL(struct virtq, broken, "broken"),
	STATE_UINT(struct virtq, last_avail_idx, "last-avail-idx"),
	STATE_UINT(struct virtq, shadow_avail_idx, "shadow-avail-idx"),
	STATE_UINT(struct virtq, used_idx, "used-idx"),
	STATE_BOOL(struct virtq, avail_wrap_counter, "avail-wrap"),
	STATE_BOOL(struct virtq, used_wrap_counter, "used-wrap"),
	STATE_BOOL(struct virtq, notify_off, "notify-off"),
	STATE_UINT(struct virtq, signalled_used, "signalled-used"),
	STATE_BOOL(struct virtq, signalled_used_valid, "signalled-used-valid"),
	STATE_BOOL(struct virtq, signalled_used_wrap, "signalled-used-wrap"),
	STATE_UINT(struct virtq, used_since_signal, "used-since-signal"),
	STATE_UINT(struct virtq, pending, "pending"),
	STATE_UINT(struct virtq, pending_first_id, "pending-first-id"),
	STATE_UINT(struct virtq, pending_first_flags, "pending-first-flags"),
	STATE_UINT(struct virtq, pending_first_len, "pending-first-len"),
	STATE_UINT(struct virtq, fold_bufs, "fold-bufs"),
	STATE_UINT(struct virtq, fold_descs, "fold-descs"),
	STATE_UINT(struct virtq, fold_id, "fold-id"),
	STATE_UINT(struct virtq, fold_len, "fold-len"),
};

int virtio_dev_state_save(struct virtio_dev *vdev, struct state_buf *sb)
{
	int q;

	pthread_mutex_lock(&vdev->lock);
	state_put_fields(sb, vdev, virtio_dev_fields, ARRAY_SIZE(virtio_dev_fields));
	for (q = 0; q < vdev->nr_queues; q++) {
		struct virtq vq = vdev->vqs[q];

		/*
		 * A cache of avail->idx that enable rebuilds from
		 * last_avail_idx: saved as that, so a restored queue saves
		 * to the same bytes as its source.
		 */
		vq.shadow_avail_idx = vq.last_avail_idx;
		state_begin_nodef(sb, 1, "queue@%d", q);
		state_put_fields(sb, &vq, virtq_fields, ARRAY_SIZE(virtq_fields));
		state_put_u32(sb, "vector", vdev->queue_vector[q]);
		state_put_u32(sb, "reset-done", vdev->queue_reset_done[q]);
		state_end_node(sb);
	}
	pthread_mutex_unlock(&vdev->lock);
	return sb->err;
}

/* A vector the transport could have accepted (vpci_check_vector()). */
static bool virtio_dev_vector_ok(const struct virtio_dev *vdev, uint16_t vec)
{
	return vec == VIRTIO_MSI_NO_VECTOR || vec < vdev->nr_vectors;
}

/*
 * Nothing restored is trusted: all of it is read into copies and checked
 * against this device's configuration (the rings by virtq_state_check())
 * before the first field is taken over. In-flight state (unflushed used
 * entries, IN_ORDER folds, a packed batch head) is carried and checked
 * rather than forbidden, so that every state a running device can be in
 * saves as one that loads again.
 */
int virtio_dev_state_load(struct virtio_dev *vdev, const void *fdt, int node, char *err,
			  size_t errlen)
{
	const char *name = vdev->ops->name;
	struct virtio_dev tmp;
	struct virtq *vqs = NULL;
	uint16_t *vectors = NULL;
	bool *reset_done = NULL;
	char why[160], qname[24];
	uint32_t v, ver;
	int q, sub, ret = -1;

	pthread_mutex_lock(&vdev->lock);
	tmp = *vdev;
	if (state_get_fields(fdt, node, &tmp, virtio_dev_fields, ARRAY_SIZE(virtio_dev_fields),
			     err, errlen))
		goto out;
	if (tmp.nr_queues != vdev->nr_queues || tmp.host_features != vdev->host_features) {
		snprintf(err, errlen,
			 "%s: the source offered other features or queues (%u, 0x%llx; here %u, 0x%llx)",
			 name, tmp.nr_queues, (unsigned long long)tmp.host_features,
			 vdev->nr_queues, (unsigned long long)vdev->host_features);
		goto out;
	}
	if ((tmp.status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    (tmp.guest_features & ~tmp.host_features)) {
		snprintf(err, errlen, "%s: guest-features 0x%llx accepted but not offered",
			 name, (unsigned long long)(tmp.guest_features & ~tmp.host_features));
		goto out;
	}
	if (!virtio_dev_vector_ok(vdev, tmp.config_vector)) {
		snprintf(err, errlen, "%s: config-vector %u, the transport has %u vectors",
			 name, tmp.config_vector, vdev->nr_vectors);
		goto out;
	}

	vqs = calloc(vdev->nr_queues, sizeof(*vqs));
	vectors = calloc(vdev->nr_queues, sizeof(*vectors));
	reset_done = calloc(vdev->nr_queues, sizeof(*reset_done));
	if (!vqs || !vectors || !reset_done) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	for (q = 0; q < vdev->nr_queues; q++) {
		struct virtq *vq = &vqs[q];

		snprintf(qname, sizeof(qname), "queue@%d", q);
		sub = state_subnode(fdt, node, qname, 1, &ver, err, errlen);
		if (sub < 0)
			goto out;
		/* A fresh queue in the same view: no host pointer survives. */
		virtq_init(vq, vdev->vqs[q].view, vdev->vqs[q].max_size);
		vq->ring_view = vdev->vqs[q].ring_view;
		if (state_get_fields(fdt, sub, vq, virtq_fields, ARRAY_SIZE(virtq_fields),
				     err, errlen) ||
		    state_get_u32(fdt, sub, "vector", &v, err, errlen) ||
		    state_get_bool(fdt, sub, "reset-done", &reset_done[q], err, errlen))
			goto out;
		if (virtq_state_check(vq, vdev->vqs[q].max_size, tmp.guest_features,
				      why, sizeof(why))) {
			snprintf(err, errlen, "%s: queue %d: %s", name, q, why);
			goto out;
		}
		if (v > UINT16_MAX || !virtio_dev_vector_ok(vdev, v)) {
			snprintf(err, errlen,
				 "%s: queue %d: vector %u, the transport has %u vectors",
				 name, q, v, vdev->nr_vectors);
			goto out;
		}
		vectors[q] = v;
		/* Reads 1 from a ring reset until the queue is enabled again. */
		if (reset_done[q] && vq->enabled) {
			snprintf(err, errlen, "%s: queue %d: reset-done on an enabled queue",
				 name, q);
			goto out;
		}
		/* Rebuild the host views of the rings; a broken queue is never used. */
		if (vq->enabled && !vq->broken) {
			vq->enabled = false;
			if (virtq_enable(vq)) {
				snprintf(err, errlen, "%s: queue %d: rings: %s", name, q,
					 vq->broken_reason ? vq->broken_reason : "bad ring");
				goto out;
			}
		}
		if (vq->broken)
			vq->broken_reason = "broken on the source";
	}

	/* All good: take it over. */
	state_copy_fields(vdev, &tmp, virtio_dev_fields, ARRAY_SIZE(virtio_dev_fields));
	memcpy(vdev->vqs, vqs, vdev->nr_queues * sizeof(*vqs));
	memcpy(vdev->queue_vector, vectors, vdev->nr_queues * sizeof(*vectors));
	memcpy(vdev->queue_reset_done, reset_done, vdev->nr_queues * sizeof(*reset_done));
	ret = 0;
out:
	pthread_mutex_unlock(&vdev->lock);
	free(vqs);
	free(vectors);
	free(reset_done);
	return ret;
}

/* The common state alone, as a tree with a "virtio" node (for undo). */
static int virtio_dev_save_common(struct virtio_dev *vdev, struct state_buf *sb)
{
	if (state_buf_init(sb))
		return -1;
	state_begin_node(sb, "virtio", 1);
	virtio_dev_state_save(vdev, sb);
	state_end_node(sb);
	if (state_buf_finish(sb)) {
		state_buf_free(sb);
		return -1;
	}
	return 0;
}

int virtio_dev_save(struct virtio_dev *vdev, struct state_buf *sb)
{
	state_begin_node(sb, "virtio", 1);
	virtio_dev_state_save(vdev, sb);
	state_end_node(sb);
	if (vdev->ops->save) {
		state_begin_node(sb, "device", 1);
		vdev->ops->save(vdev, sb);
		state_end_node(sb);
	}
	return sb->err;
}

/*
 * The common and device state are each checked in full by their loaders
 * before they change anything. If the device refuses its part, the common
 * part goes back to what it was (it saves as state that loads again).
 */
int virtio_dev_load(struct virtio_dev *vdev, const void *fdt, int node, char *err,
		    size_t errlen)
{
	struct state_buf undo = { 0 };
	char ignored[64];
	int sub;

	sub = state_subnode(fdt, node, "virtio", 1, NULL, err, errlen);
	if (sub < 0)
		return -1;
	if (vdev->ops->load && virtio_dev_save_common(vdev, &undo)) {
		snprintf(err, errlen, "%s: cannot keep the state to restore on error",
			 vdev->ops->name);
		return -1;
	}
	if (virtio_dev_state_load(vdev, fdt, sub, err, errlen))
		goto fail;
	if (!vdev->ops->load)
		return 0;
	sub = state_subnode(fdt, node, "device", 1, NULL, err, errlen);
	if (sub >= 0 && !vdev->ops->load(vdev, fdt, sub, err, errlen)) {
		state_buf_free(&undo);
		return 0;
	}
	virtio_dev_state_load(vdev, undo.fdt,
			      state_subnode(undo.fdt, 0, "virtio", 1, NULL, ignored,
					    sizeof(ignored)),
			      ignored, sizeof(ignored));
fail:
	state_buf_free(&undo);
	return -1;
}

void virtio_dev_suspend(struct virtio_dev *vdev)
{
	if (vdev->ops->quiesce)
		vdev->ops->quiesce(vdev);
}

void virtio_dev_resume(struct virtio_dev *vdev)
{
	if (vdev->ops->unquiesce)
		vdev->ops->unquiesce(vdev);
}
