// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/net/net_ctrl.h"
#include "devices/net/net_rx.h"
#include "devices/vdpa/sim_net.h"

#define F(bit)		(1ULL << (bit))
#define HDR_LEN		sizeof(struct virtio_net_hdr_v1)
#define KICK_BACKEND	(1u << 31)
#define SIM_CTRL_MAX	4096

static struct vdpa_sim_net *to_sim(struct vdpa_dev *d)
{
	return (struct vdpa_sim_net *)((char *)d - offsetof(struct vdpa_sim_net, dev));
}

static uint64_t sim_offered(const struct vdpa_sim_net_config *c)
{
	/* What mlx5_vdpa offers for a NIC, less the offloads this data path lacks. */
	uint64_t f = F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_ACCESS_PLATFORM) |
		     F(VIRTIO_F_RING_PACKED) | F(VIRTIO_RING_F_INDIRECT_DESC) |
		     F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) |
		     F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_MAC_ADDR) |
		     F(VIRTIO_NET_F_CTRL_VLAN);

	if (c->queue_pairs > 1)
		f |= F(VIRTIO_NET_F_MQ);
	if (c->mtu)
		f |= F(VIRTIO_NET_F_MTU);
	if (c->model == VDPA_SIM_FULL)
		f |= F(VIRTIO_NET_F_CTRL_RX) | F(VIRTIO_NET_F_CTRL_RX_EXTRA) |
		     F(VIRTIO_NET_F_GUEST_ANNOUNCE) | F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) |
		     F(VIRTIO_NET_F_NOTF_COAL) | F(VIRTIO_NET_F_VQ_NOTF_COAL) |
		     F(VIRTIO_NET_F_DEVICE_STATS) | F(VIRTIO_F_IN_ORDER);
	return f;
}

/* ---- data path, on the device's worker ---- */

static void sim_notify(struct vdpa_sim_net *sim, uint16_t idx)
{
	/* The VMM may swap it at any time (an irqfd, or its own eventfd while masked). */
	int fd = __atomic_load_n(&sim->vqs[idx].call_fd, __ATOMIC_ACQUIRE);
	uint64_t one = 1;

	if (fd < 0 || !virtq_should_notify(&sim->hw.vqs[idx].vq))
		return;
	virtq_count(&sim->hw.vqs[idx].vq.stats.irqs, 1);
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

/* A vq that faulted: the device wants a reset, as a real one would say. */
static void sim_fault(struct vdpa_sim_net *sim)
{
	uint64_t one = 1;

	pthread_mutex_lock(&sim->lock);
	sim->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	pthread_mutex_unlock(&sim->lock);
	if (sim->config_fd >= 0 && write(sim->config_fd, &one, sizeof(one)) < 0)
		return;
}

/*
 * The ring looked empty: ask the driver to kick again (with EVENT_IDX,
 * publish avail_event). True if buffers came meanwhile: look again.
 */
static bool sim_wants_kick(struct vdpa_sim_net *sim, uint16_t idx)
{
	struct virtq *vq = &sim->hw.vqs[idx].vq;

	/* The data path owns a RDY vq: its state is read without the lock. */
	return __atomic_load_n(&sim->hw.vqs[idx].state, __ATOMIC_ACQUIRE) == VDPA_VQ_RDY &&
	       virtq_enable_notify(vq);
}

/* DEVICE_STATS' basic counters, as the emulated NIC keeps them. */
static void sim_count_tx(struct vdpa_sim_net *sim, uint16_t idx, bool sent, size_t len)
{
	struct net_txq_stats *t = &sim->st.txq_stats[idx / 2];

	pthread_mutex_lock(&sim->lock);
	if (sent) {
		t->packets++;
		t->bytes += len;
	} else {
		t->drops++;
	}
	pthread_mutex_unlock(&sim->lock);
}

static void sim_count_rx(struct vdpa_sim_net *sim, bool delivered, size_t len)
{
	struct net_rxq_stats *r = &sim->st.rxq_stats[0];

	pthread_mutex_lock(&sim->lock);
	if (delivered) {
		r->packets++;
		r->bytes += len;
	} else {
		r->drops++;
	}
	pthread_mutex_unlock(&sim->lock);
}

static void sim_tx(struct vdpa_sim_net *sim, uint16_t idx)
{
	struct virtq_elem elem;
	struct virtq_cursor c;
	bool used = false;
	size_t len;
	int r;

	do {
		while ((r = vdpa_hw_vq_pop(&sim->hw, idx, &elem)) > 0) {
			virtq_cursor_init(&c, &elem, false);
			len = virtq_cursor_read(&c, sim->frame, NET_FRAME_MAX + HDR_LEN);
			if (len > HDR_LEN + 14) {
				struct iovec iov = { sim->frame + HDR_LEN, len - HDR_LEN };

				bool sent = !net_backend_send(&sim->be, &iov, 1);

				sim->tx_frames += sent;
				sim_count_tx(sim, idx, sent, iov.iov_len);
			}
			vdpa_hw_vq_push(&sim->hw, idx, &elem, 0);
			used = true;
		}
	} while (!r && sim_wants_kick(sim, idx));
	if (r < 0)
		sim_fault(sim);
	if (used)
		sim_notify(sim, idx);
}

/* The held frame into the first RX queue; false if no buffer is there yet. */
static bool sim_rx_deliver(struct vdpa_sim_net *sim)
{
	struct virtio_net_hdr_v1 hdr = { .num_buffers = 1 };
	struct virtq_elem elem;
	struct virtq_cursor c;
	int r;

	r = vdpa_hw_vq_pop(&sim->hw, 0, &elem);
	if (!r && sim_wants_kick(sim, 0))
		r = vdpa_hw_vq_pop(&sim->hw, 0, &elem);
	if (r <= 0) {
		if (r < 0) {
			sim_fault(sim);
			sim->held = 0;	/* nowhere to go: dropped */
			sim->rx_dropped++;
			sim_count_rx(sim, false, 0);
			return true;
		}
		return false;
	}
	virtq_cursor_init(&c, &elem, true);
	virtq_cursor_write(&c, &hdr, HDR_LEN);
	virtq_cursor_write(&c, sim->held_frame, sim->held);
	if (c.done < HDR_LEN + sim->held)
		sim->rx_dropped++;	/* buffer too small: the spec says drop */
	else
		sim->rx_frames++;
	sim_count_rx(sim, c.done >= HDR_LEN + sim->held, sim->held);
	vdpa_hw_vq_push(&sim->hw, 0, &elem, c.done);
	sim->held = 0;
	sim_notify(sim, 0);
	return true;
}

static void sim_watch_backend(struct vdpa_sim_net *sim, bool on);

static void sim_rx(struct vdpa_sim_net *sim)
{
	ssize_t n;
	bool ok;

	for (;;) {
		if (sim->held && !sim_rx_deliver(sim)) {
			/* No buffer: stop reading until the driver adds some. */
			sim_watch_backend(sim, false);
			return;
		}
		n = net_backend_recv(&sim->be, sim->held_frame, NET_FRAME_MAX);
		if (n <= 0)
			break;
		pthread_mutex_lock(&sim->lock);
		ok = net_rx_filter_accept(&sim->st, sim->held_frame, n);
		pthread_mutex_unlock(&sim->lock);
		if (ok)
			sim->held = n;
	}
	sim_watch_backend(sim, true);
}

/* What mlx5_vdpa's driver handles in software; everything with model=full. */
static bool sim_ctrl_supported(const struct vdpa_sim_net *sim, const uint8_t *cmd, size_t len)
{
	if (sim->cfg.model == VDPA_SIM_FULL)
		return true;
	if (len < 2)
		return false;
	return (cmd[0] == VIRTIO_NET_CTRL_MAC && cmd[1] == VIRTIO_NET_CTRL_MAC_ADDR_SET) ||
	       (cmd[0] == VIRTIO_NET_CTRL_MQ && cmd[1] == VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) ||
	       cmd[0] == VIRTIO_NET_CTRL_VLAN;
}

static void sim_ctrl(struct vdpa_sim_net *sim, uint16_t idx)
{
	uint8_t cmd[SIM_CTRL_MAX], result[SIM_CTRL_MAX], ack;
	struct net_ctrl_reply reply = { 0 };
	struct virtq_elem elem;
	struct virtq_cursor c;
	bool used = false;
	size_t len;
	int r;

	while ((r = vdpa_hw_vq_pop(&sim->hw, idx, &elem)) > 0 ||
	       (!r && sim_wants_kick(sim, idx) && (r = vdpa_hw_vq_pop(&sim->hw, idx, &elem)) > 0)) {
		virtq_cursor_init(&c, &elem, false);
		len = virtq_cursor_read(&c, cmd, sizeof(cmd));
		fw_run(&sim->hw.fw, FW_CVQ_CMD, 1, 0);
		ack = VIRTIO_NET_ERR;
		reply.len = 0;
		pthread_mutex_lock(&sim->lock);
		if (elem.in_len && sim_ctrl_supported(sim, cmd, len))
			ack = net_ctrl_handle(&sim->st, cmd, len, result,
					      elem.in_len - 1 < sizeof(result) ? elem.in_len - 1 :
					      sizeof(result), &reply);
		pthread_mutex_unlock(&sim->lock);
		virtq_cursor_init(&c, &elem, true);
		if (virtq_cursor_write(&c, &ack, 1))
			virtq_cursor_write(&c, result, reply.len);
		vdpa_hw_vq_push(&sim->hw, idx, &elem, c.done);
		used = true;
	}
	if (r < 0)
		sim_fault(sim);
	if (used)
		sim_notify(sim, idx);
}

static void sim_run(struct worker *w, uint32_t kicked, void *opaque)
{
	struct vdpa_sim_net *sim = opaque;
	uint16_t i;

	for (i = 0; i < sim->nr_vqs; i++) {
		if (!(kicked & (1u << i)))
			continue;
		if (i == sim->hw.cvq)
			sim_ctrl(sim, i);
		else if (i & 1)
			sim_tx(sim, i);
		else if (i == 0)
			kicked |= KICK_BACKEND;	/* new RX buffers: held frame, then more */
	}
	if (kicked & KICK_BACKEND)
		sim_rx(sim);
}

static void sim_on_kick(int fd, void *opaque)
{
	struct vdpa_sim_vq *v = opaque;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) > 0) {
		virtq_count(&v->sim->hw.vqs[v->idx].vq.stats.kicks, n);
		worker_kick_local(&v->sim->worker, 1u << v->idx);
	}
}

static void sim_on_backend(int fd, void *opaque)
{
	struct vdpa_sim_net *sim = opaque;

	worker_kick_local(&sim->worker, KICK_BACKEND);
}

static void sim_watch_backend(struct vdpa_sim_net *sim, bool on)
{
	if (sim->be.fd < 0 || sim->be_watched == on)
		return;
	if (on)
		worker_add_fd(&sim->worker, sim->be.fd, sim_on_backend, sim);
	else
		worker_del_fd(&sim->worker, sim->be.fd);
	sim->be_watched = on;
}

/* ---- control: the vhost-vdpa vocabulary ---- */

static void sim_stop(struct vdpa_sim_net *sim)
{
	if (sim->worker_running)
		worker_stop(&sim->worker);
	sim->worker_running = false;
}

static int sim_start_worker(struct vdpa_sim_net *sim)
{
	uint16_t i;

	if (sim->worker_running)
		return 0;
	if (worker_start(&sim->worker))
		return -EIO;
	sim->worker_running = true;
	/* Look at every queue once: buffers may predate the kick fds. */
	for (i = 0; i < sim->nr_vqs; i++)
		worker_kick(&sim->worker, 1u << i);
	worker_kick(&sim->worker, KICK_BACKEND);
	return 0;
}

/* Program vq @i into a RDY object. */
static int sim_vq_start(struct vdpa_sim_net *sim, uint16_t i)
{
	struct vdpa_sim_vq *v = &sim->vqs[i];
	bool made = vdpa_hw_vq_query(&sim->hw, i, NULL) == VDPA_VQ_INIT &&
		    sim->hw.vqs[i].num == v->num;
	int r = 0;

	/* A pre-created object of the right size is only modified. */
	if (!made) {
		vdpa_hw_vq_destroy(&sim->hw, i);
		r = vdpa_hw_vq_set_num(&sim->hw, i, v->num);
	}
	if (!r)
		r = vdpa_hw_vq_set_addr(&sim->hw, i, v->desc, v->driver, v->device);
	if (!r)
		r = vdpa_hw_vq_set_base(&sim->hw, i, v->base);
	if (!r && !made)
		r = vdpa_hw_vq_create(&sim->hw, i);
	if (!r)
		r = vdpa_hw_vq_ready(&sim->hw, i);
	return r;
}

static void sim_reset(struct vdpa_sim_net *sim)
{
	uint16_t i;

	sim_stop(sim);
	sim->suspended = false;
	vdpa_hw_reset(&sim->hw);
	sim->hw.cvq = sim->nr_vqs - 1;
	if (sim->cfg.precreate)
		vdpa_hw_precreate(&sim->hw);
	for (i = 0; i < sim->nr_vqs; i++) {
		sim->vqs[i].num = sim->vqs[i].base = 0;
		sim->vqs[i].desc = sim->vqs[i].driver = sim->vqs[i].device = 0;
		sim->vqs[i].enabled = false;
	}
	pthread_mutex_lock(&sim->lock);
	net_state_reset(&sim->st);
	sim->status = 0;
	pthread_mutex_unlock(&sim->lock);
	sim->held = 0;
}

static uint32_t sim_get_device_id(struct vdpa_dev *d)
{
	return VIRTIO_ID_NET;
}

static uint64_t sim_get_features(struct vdpa_dev *d)
{
	return to_sim(d)->offered;
}

static int sim_set_features(struct vdpa_dev *d, uint64_t features)
{
	struct vdpa_sim_net *sim = to_sim(d);

	if (sim->status & VIRTIO_CONFIG_S_FEATURES_OK)
		return -EBUSY;
	if (features & ~sim->offered)
		return -EINVAL;
	pthread_mutex_lock(&sim->lock);
	net_state_set_features(&sim->st, features);
	pthread_mutex_unlock(&sim->lock);
	sim->hw.features = features;
	return 0;
}

static uint64_t sim_get_backend_features(struct vdpa_dev *d)
{
	return to_sim(d)->backend_offered;
}

static int sim_set_backend_features(struct vdpa_dev *d, uint64_t features)
{
	struct vdpa_sim_net *sim = to_sim(d);

	if (features & ~sim->backend_offered)
		return -EOPNOTSUPP;
	/* As vhost-vdpa: a descriptor group of its own needs address spaces. */
	if ((features & F(VHOST_BACKEND_F_DESC_ASID)) &&
	    !(features & F(VHOST_BACKEND_F_IOTLB_ASID)))
		return -EINVAL;
	sim->backend_features = features;
	sim->hw.persist_iotlb = features & F(VHOST_BACKEND_F_IOTLB_PERSIST);
	sim->hw.desc_asid = features & F(VHOST_BACKEND_F_DESC_ASID);
	return 0;
}

static uint8_t sim_get_status(struct vdpa_dev *d)
{
	struct vdpa_sim_net *sim = to_sim(d);
	uint8_t s;

	pthread_mutex_lock(&sim->lock);
	s = sim->status;
	pthread_mutex_unlock(&sim->lock);
	return s;
}

static int sim_driver_ok(struct vdpa_sim_net *sim)
{
	uint16_t i;
	int r = 0;

	/* The driver issues the commands of every vq before waiting for any. */
	fw_batch_begin(&sim->hw.fw);
	vdpa_hw_setup(&sim->hw);
	for (i = 0; i < sim->nr_vqs; i++) {
		struct vdpa_sim_vq *v = &sim->vqs[i];

		if (!v->enabled)
			continue;
		if (sim_vq_start(sim, i))
			r = -EIO;
		if (v->kick_fd >= 0)
			worker_add_fd(&sim->worker, v->kick_fd, sim_on_kick, v);
	}
	fw_batch_end(&sim->hw.fw);
	return sim_start_worker(sim) ?: r;
}

static int sim_set_status(struct vdpa_dev *d, uint8_t status)
{
	struct vdpa_sim_net *sim = to_sim(d);
	uint8_t old = sim_get_status(d), add = status & ~old;

	if (!status) {
		sim_reset(sim);
		return 0;
	}
	if ((status & old) != old)
		return -EINVAL;		/* bits are only added; 0 resets */
	if ((add & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(sim->st.features & F(VIRTIO_F_VERSION_1)))
		status &= ~VIRTIO_CONFIG_S_FEATURES_OK;	/* refused: the driver reads it back */
	if ((add & VIRTIO_CONFIG_S_FEATURES_OK) && (status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		pthread_mutex_lock(&sim->lock);
		sim->hw.cvq = net_state_cvq_index(&sim->st);
		pthread_mutex_unlock(&sim->lock);
	}
	pthread_mutex_lock(&sim->lock);
	sim->status = status;
	pthread_mutex_unlock(&sim->lock);
	if ((add & VIRTIO_CONFIG_S_DRIVER_OK) && sim_driver_ok(sim))
		sim_fault(sim);
	return 0;
}

static uint32_t sim_get_config_size(struct vdpa_dev *d)
{
	return sizeof(struct virtio_net_config);
}

static int sim_get_config(struct vdpa_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct vdpa_sim_net *sim = to_sim(d);
	struct virtio_net_config cfg;

	if (off > sizeof(cfg) || len > sizeof(cfg) - off)
		return -EINVAL;
	pthread_mutex_lock(&sim->lock);
	net_state_fill_config(&sim->st, &cfg);
	pthread_mutex_unlock(&sim->lock);
	memcpy(buf, (uint8_t *)&cfg + off, len);
	return 0;
}

static int sim_set_config(struct vdpa_dev *d, uint32_t off, const void *buf, uint32_t len)
{
	return -EPERM;		/* virtio 1.x: read-only for the driver */
}

static int sim_set_config_call(struct vdpa_dev *d, int fd)
{
	to_sim(d)->config_fd = fd;
	return 0;
}

static uint32_t sim_get_vqs_count(struct vdpa_dev *d)
{
	return to_sim(d)->nr_vqs;
}

static uint16_t sim_get_vring_num(struct vdpa_dev *d)
{
	return VDPA_HW_MAX_QSIZE;
}

static uint32_t sim_get_group_num(struct vdpa_dev *d)
{
	return VDPA_HW_GROUPS;
}

static uint32_t sim_get_as_num(struct vdpa_dev *d)
{
	return VDPA_HW_ASIDS;
}

static int sim_get_iova_range(struct vdpa_dev *d, struct vhost_vdpa_iova_range *r)
{
	r->first = 0;
	r->last = UINT64_MAX;
	return 0;
}

static struct vdpa_sim_vq *sim_vq(struct vdpa_sim_net *sim, uint32_t idx)
{
	return idx < sim->nr_vqs ? &sim->vqs[idx] : NULL;
}

static int sim_get_vring_group(struct vdpa_dev *d, struct vhost_vring_state *s)
{
	struct vdpa_sim_net *sim = to_sim(d);

	if (!sim_vq(sim, s->index))
		return -EINVAL;
	s->num = vdpa_hw_vq_group(&sim->hw, s->index);
	return 0;
}

static int sim_get_vring_desc_group(struct vdpa_dev *d, struct vhost_vring_state *s)
{
	struct vdpa_sim_net *sim = to_sim(d);

	if (!sim_vq(sim, s->index))
		return -EINVAL;
	s->num = vdpa_hw_vq_desc_group(&sim->hw, s->index);
	return 0;
}

static int sim_set_group_asid(struct vdpa_dev *d, const struct vhost_vring_state *s)
{
	struct vdpa_sim_net *sim = to_sim(d);

	if (s->num && !(sim->backend_features & F(VHOST_BACKEND_F_IOTLB_ASID)))
		return -EOPNOTSUPP;
	return vdpa_hw_set_group_asid(&sim->hw, s->index, s->num);
}

/* After DRIVER_OK a vq's ring changes only while it is suspended. */
static bool sim_vq_settable(struct vdpa_sim_net *sim, uint32_t idx)
{
	enum vdpa_vq_state st = vdpa_hw_vq_query(&sim->hw, idx, NULL);

	/* INIT: pre-created, not started (DRIVER_OK programs it). */
	return st == VDPA_VQ_NONE || st == VDPA_VQ_INIT || st == VDPA_VQ_SUSPEND;
}

static int sim_set_vring_num(struct vdpa_dev *d, const struct vhost_vring_state *s)
{
	struct vdpa_sim_net *sim = to_sim(d);
	struct vdpa_sim_vq *v = sim_vq(sim, s->index);

	if (!v || !s->num || s->num > VDPA_HW_MAX_QSIZE || (s->num & (s->num - 1)))
		return -EINVAL;
	/* A pre-created object of another size is made again at DRIVER_OK. */
	if (vdpa_hw_vq_query(&sim->hw, s->index, NULL) > VDPA_VQ_INIT)
		return -EBUSY;
	v->num = s->num;
	return 0;
}

static int sim_set_vring_addr(struct vdpa_dev *d, const struct vhost_vring_addr *a)
{
	struct vdpa_sim_net *sim = to_sim(d);
	struct vdpa_sim_vq *v = sim_vq(sim, a->index);

	if (!v)
		return -EINVAL;
	if (!sim_vq_settable(sim, a->index))
		return -EBUSY;
	v->desc = a->desc_user_addr;
	v->driver = a->avail_user_addr;
	v->device = a->used_user_addr;
	return vdpa_hw_vq_query(&sim->hw, a->index, NULL) == VDPA_VQ_SUSPEND ?
	       vdpa_hw_vq_set_addr(&sim->hw, a->index, v->desc, v->driver, v->device) : 0;
}

static int sim_set_vring_base(struct vdpa_dev *d, const struct vhost_vring_state *s)
{
	struct vdpa_sim_net *sim = to_sim(d);
	struct vdpa_sim_vq *v = sim_vq(sim, s->index);

	if (!v)
		return -EINVAL;
	if (!sim_vq_settable(sim, s->index))
		return -EBUSY;
	v->base = s->num;
	return vdpa_hw_vq_query(&sim->hw, s->index, NULL) == VDPA_VQ_SUSPEND ?
	       vdpa_hw_vq_set_base(&sim->hw, s->index, v->base) : 0;
}

static int sim_get_vring_base(struct vdpa_dev *d, struct vhost_vring_state *s)
{
	struct vdpa_sim_net *sim = to_sim(d);
	struct vdpa_sim_vq *v = sim_vq(sim, s->index);
	uint16_t base;

	if (!v)
		return -EINVAL;
	s->num = vdpa_hw_vq_query(&sim->hw, s->index, &base) <= VDPA_VQ_INIT ? v->base : base;
	return 0;
}

static int sim_set_vring_kick(struct vdpa_dev *d, const struct vhost_vring_file *f)
{
	struct vdpa_sim_net *sim = to_sim(d);
	struct vdpa_sim_vq *v = sim_vq(sim, f->index);
	bool live = sim->status & VIRTIO_CONFIG_S_DRIVER_OK;

	if (!v)
		return -EINVAL;
	if (live && v->kick_fd >= 0)
		worker_del_fd(&sim->worker, v->kick_fd);
	v->kick_fd = f->fd;
	if (live && v->kick_fd >= 0)
		worker_add_fd(&sim->worker, v->kick_fd, sim_on_kick, v);
	return 0;
}

static int sim_set_vring_call(struct vdpa_dev *d, const struct vhost_vring_file *f)
{
	struct vdpa_sim_vq *v = sim_vq(to_sim(d), f->index);

	if (!v)
		return -EINVAL;
	__atomic_store_n(&v->call_fd, f->fd, __ATOMIC_RELEASE);
	return 0;
}

static int sim_set_vring_enable(struct vdpa_dev *d, const struct vhost_vring_state *s)
{
	struct vdpa_sim_net *sim = to_sim(d);
	struct vdpa_sim_vq *v = sim_vq(sim, s->index);

	if (!v)
		return -EINVAL;
	if (!(sim_get_status(d) & VIRTIO_CONFIG_S_DRIVER_OK)) {
		v->enabled = s->num;
		return 0;
	}
	/* After DRIVER_OK: only enabling, and only if the driver asked for it. */
	if (!s->num || !(sim->backend_features & F(VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK)))
		return -EINVAL;
	if (v->enabled)
		return 0;
	v->enabled = true;
	/* Suspended: the object is made ready with the others at resume. */
	if (sim->suspended)
		return 0;
	if (sim_vq_start(sim, s->index))
		return -EIO;
	if (v->kick_fd >= 0)
		worker_add_fd(&sim->worker, v->kick_fd, sim_on_kick, v);
	worker_kick(&sim->worker, 1u << s->index);
	return 0;
}

static int sim_iotlb_msg(struct vdpa_dev *d, const struct vhost_msg_v2 *m)
{
	struct vdpa_sim_net *sim = to_sim(d);
	const struct vhost_iotlb_msg *i = &m->iotlb;
	unsigned int perm = 0;

	if (m->type != VHOST_IOTLB_MSG_V2)
		return -EINVAL;
	if (m->asid && !(sim->backend_features & F(VHOST_BACKEND_F_IOTLB_ASID)))
		return -EINVAL;
	switch (i->type) {
	case VHOST_IOTLB_UPDATE:
		if (i->perm & VHOST_ACCESS_RO)
			perm |= MV_READ;
		if (i->perm & VHOST_ACCESS_WO)
			perm |= MV_WRITE;
		return vdpa_hw_iotlb_update(&sim->hw, m->asid, i->iova, i->size, i->uaddr, perm);
	case VHOST_IOTLB_INVALIDATE:
		return vdpa_hw_iotlb_invalidate(&sim->hw, m->asid, i->iova, i->size);
	case VHOST_IOTLB_BATCH_BEGIN:
		return vdpa_hw_iotlb_batch_begin(&sim->hw);
	case VHOST_IOTLB_BATCH_END:
		return vdpa_hw_iotlb_batch_end(&sim->hw);
	default:
		return -EINVAL;
	}
}

/* Data path off, every running vq suspended with its indices kept. */
static int sim_suspend(struct vdpa_dev *d)
{
	struct vdpa_sim_net *sim = to_sim(d);
	uint16_t i;

	sim_stop(sim);
	sim->suspended = true;
	fw_batch_begin(&sim->hw.fw);
	for (i = 0; i < sim->nr_vqs; i++)
		if (vdpa_hw_vq_query(&sim->hw, i, NULL) == VDPA_VQ_RDY)
			vdpa_hw_vq_suspend(&sim->hw, i);
	fw_batch_end(&sim->hw.fw);
	return 0;
}

static int sim_resume(struct vdpa_dev *d)
{
	struct vdpa_sim_net *sim = to_sim(d);
	uint16_t i;
	int r = 0;

	if (!(sim->backend_features & F(VHOST_BACKEND_F_RESUME)))
		return -EOPNOTSUPP;
	sim->suspended = false;
	fw_batch_begin(&sim->hw.fw);
	for (i = 0; i < sim->nr_vqs; i++) {
		enum vdpa_vq_state st = vdpa_hw_vq_query(&sim->hw, i, NULL);

		if (st == VDPA_VQ_SUSPEND && vdpa_hw_vq_ready(&sim->hw, i))
			r = -EIO;
		/* Enabled while suspended (after DRIVER_OK): started now, in the batch. */
		if (st <= VDPA_VQ_INIT && sim->vqs[i].enabled &&
		    (sim_get_status(d) & VIRTIO_CONFIG_S_DRIVER_OK)) {
			if (sim_vq_start(sim, i))
				r = -EIO;
			if (sim->vqs[i].kick_fd >= 0)
				worker_add_fd(&sim->worker, sim->vqs[i].kick_fd, sim_on_kick,
					      &sim->vqs[i]);
		}
	}
	fw_batch_end(&sim->hw.fw);
	if (sim_get_status(d) & VIRTIO_CONFIG_S_DRIVER_OK)
		r = sim_start_worker(sim) ?: r;
	return r;
}

/* Answered from a copy: reading counters must not count as a command. */
/*
 * A store into a vq's notify area: the value names the vq, as a virtio
 * notify write does. A value that names no vq is dropped, as hardware
 * drops it. No system call unless the worker may be asleep.
 */
static void sim_doorbell(struct vdpa_notify_area *a, uint16_t value)
{
	struct vdpa_sim_net *sim = a->dev;

	if (value < sim->nr_vqs)
		worker_kick(&sim->worker, 1u << value);
}

static int sim_get_vq_notification(struct vdpa_dev *d, uint16_t idx, struct vdpa_notify_area *a)
{
	struct vdpa_sim_net *sim = to_sim(d);

	if (idx >= sim->nr_vqs)
		return -EINVAL;
	a->reg = &sim->vqs[idx].notify_reg;
	a->posted = sim_doorbell;
	a->dev = sim;
	a->idx = idx;
	return 0;
}

static int sim_get_vq_stats(struct vdpa_dev *d, uint16_t idx, void *out, uint32_t cap)
{
	struct vdpa_sim_net *sim = to_sim(d);
	struct net_ctrl_reply reply = { 0 };
	struct net_state *st = malloc(sizeof(*st));
	uint8_t q[32];
	size_t len;
	int r = -EINVAL;

	if (!st)
		return -ENOMEM;
	pthread_mutex_lock(&sim->lock);
	*st = sim->st;
	pthread_mutex_unlock(&sim->lock);
	len = net_ctrl_stats_query(st, idx, q, sizeof(q));
	if (len && net_ctrl_handle(st, q, len, out, cap, &reply) == VIRTIO_NET_OK)
		r = reply.len;
	free(st);
	return r;
}

static const struct vdpa_dev_ops sim_ops = {
	.get_device_id = sim_get_device_id,
	.get_features = sim_get_features,
	.set_features = sim_set_features,
	.get_backend_features = sim_get_backend_features,
	.set_backend_features = sim_set_backend_features,
	.get_status = sim_get_status,
	.set_status = sim_set_status,
	.get_config_size = sim_get_config_size,
	.get_config = sim_get_config,
	.set_config = sim_set_config,
	.set_config_call = sim_set_config_call,
	.get_vqs_count = sim_get_vqs_count,
	.get_vring_num = sim_get_vring_num,
	.get_group_num = sim_get_group_num,
	.get_as_num = sim_get_as_num,
	.get_iova_range = sim_get_iova_range,
	.get_vring_group = sim_get_vring_group,
	.get_vring_desc_group = sim_get_vring_desc_group,
	.set_group_asid = sim_set_group_asid,
	.set_vring_num = sim_set_vring_num,
	.set_vring_addr = sim_set_vring_addr,
	.set_vring_base = sim_set_vring_base,
	.get_vring_base = sim_get_vring_base,
	.set_vring_kick = sim_set_vring_kick,
	.set_vring_call = sim_set_vring_call,
	.set_vring_enable = sim_set_vring_enable,
	.iotlb_msg = sim_iotlb_msg,
	.suspend = sim_suspend,
	.resume = sim_resume,
	.get_vq_stats = sim_get_vq_stats,
	.get_vq_notification = sim_get_vq_notification,
};

/* The wire, and where its capture stops. */
static int sim_open_backend(struct vdpa_sim_net *sim, char *err, size_t errlen)
{
	return net_backend_open(&sim->be, sim->cfg.backend, sim->cfg.pcap,
				(uint64_t)sim->cfg.pcap_max_mb << 20, err, errlen);
}

struct vdpa_sim_net *vdpa_sim_net_new(const struct vdpa_sim_net_config *cfg, char *err,
				      size_t errlen)
{
	struct vdpa_sim_net *sim;
	uint16_t i;

	if (cfg->queue_pairs < 1 || cfg->queue_pairs > VDPA_HW_MAX_PAIRS) {
		snprintf(err, errlen, "vdpa-sim: queues=%u: 1 to %d", cfg->queue_pairs,
			 VDPA_HW_MAX_PAIRS);
		return NULL;
	}
	sim = calloc(1, sizeof(*sim));
	if (!sim) {
		snprintf(err, errlen, "vdpa-sim: out of memory");
		return NULL;
	}
	sim->dev.ops = &sim_ops;
	sim->cfg = *cfg;
	pthread_mutex_init(&sim->lock, NULL);
	sim->be.fd = sim->be.loop_wr = -1;
	sim->worker.wake_fd = -1;	/* not made yet: nothing to free */
	sim->config_fd = -1;
	sim->nr_vqs = 2 * cfg->queue_pairs + 1;
	for (i = 0; i < VDPA_HW_MAX_VQS; i++) {
		sim->vqs[i].kick_fd = sim->vqs[i].call_fd = -1;
		sim->vqs[i].sim = sim;
		sim->vqs[i].idx = i;
	}
	sim->offered = sim_offered(cfg);
	sim->backend_offered = F(VHOST_BACKEND_F_IOTLB_MSG_V2) | F(VHOST_BACKEND_F_IOTLB_BATCH) |
			       F(VHOST_BACKEND_F_IOTLB_ASID) | F(VHOST_BACKEND_F_SUSPEND) |
			       F(VHOST_BACKEND_F_RESUME) |
			       F(VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK) |
			       F(VHOST_BACKEND_F_IOTLB_PERSIST) | F(VHOST_BACKEND_F_DESC_ASID);
	net_state_init(&sim->st, cfg->mac, cfg->queue_pairs);
	sim->st.mtu = cfg->mtu;
	sim->frame = malloc(NET_FRAME_MAX + HDR_LEN);
	sim->held_frame = malloc(NET_FRAME_MAX);
	if (!sim->frame || !sim->held_frame ||
	    vdpa_hw_init(&sim->hw, sim->nr_vqs, cfg->fw_scale, cfg->fw_parallel) ||
	    worker_init(&sim->worker, "vdpa-sim", sim_run, sim)) {
		snprintf(err, errlen, "vdpa-sim: out of memory");
		vdpa_sim_net_free(sim);
		return NULL;
	}
	if (!cfg->defer_backend && sim_open_backend(sim, err, errlen)) {
		vdpa_sim_net_free(sim);
		return NULL;
	}
	if (cfg->precreate)
		vdpa_hw_precreate(&sim->hw);
	return sim;
}

int vdpa_sim_net_attach(struct vdpa_sim_net *sim, char *err, size_t errlen)
{
	if (sim->be.fd >= 0 || sim->worker_running) {
		snprintf(err, errlen, "vdpa-sim: already on its wire");
		return -1;
	}
	return sim_open_backend(sim, err, errlen);
}

void vdpa_sim_net_free(struct vdpa_sim_net *sim)
{
	if (!sim)
		return;
	sim_stop(sim);
	worker_exit(&sim->worker);
	net_backend_close(&sim->be);
	if (sim->hw.batch)
		vdpa_hw_exit(&sim->hw);
	free(sim->frame);
	free(sim->held_frame);
	pthread_mutex_destroy(&sim->lock);
	free(sim);
}
