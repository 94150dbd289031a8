// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/net/net_ctrl.h"
#include "devices/net/net_state.h"
#include "devices/net/vhost_user.h"
#include "devices/net/vhost_user_net.h"
#include "virtio/virtio.h"
#include "virtio/virtio_pci.h"
#include "vmm/core/config.h"
#include "vmm/core/vm.h"
#include "vmm/core/worker.h"
#include "vmm/migrate/dirty.h"
#include "vmm/migrate/state.h"

#define F(bit)		(1ULL << (bit))
#define QUEUE_MAX	1024
#define PREFIX		"vhost-user="
/* Worker kick bits. */
#define KICK_CVQ	1u
#define KICK_IRQ	2u		/* re-hand the backend the right call fds */
/* A backend that went away is looked for again this often. */
#define RETRY_NS	(1000ULL * 1000 * 1000)

/* Served by vlab whatever the backend offers: the backend never sees them. */
#define VHUN_OURS (F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_CTRL_VQ) | \
		   F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_MTU))
/* What the backend must also offer for the guest to see it. */
#define VHUN_BACKEND (F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_F_VERSION_1) | \
		      F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_RING_F_INDIRECT_DESC) | \
		      F(VIRTIO_F_RING_PACKED))

/*
 * What a migration carries besides the transport's rings and net_state:
 * whether the backend ran the rings, and each ring's base as
 * GET_VRING_BASE gave it back when the source stopped it.
 */
struct vhun_mig {
	bool running;
	uint16_t base[NET_MAX_DATA_VQS];
};

static const struct state_field vhun_mig_fields[] = {
	STATE_BOOL(struct vhun_mig, running, "running"),
	STATE_UINT_ARRAY(struct vhun_mig, base, "vring-base"),
};

struct vhu_net {
	struct virtio_dev vdev;
	struct vm *vm;
	struct net_config conf;
	pthread_mutex_t lock;		/* st and the connection */
	struct vhu_conn conn;
	struct net_state st;
	uint16_t nr_data;		/* data vqs: 2 per queue pair */
	int kick[NET_MAX_DATA_VQS];	/* the transport's doorbells, read by the backend */
	int call[NET_MAX_DATA_VQS];	/* ours, when the vector has no irqfd */
	int call_cur[NET_MAX_DATA_VQS];	/* what the backend has: call[q] or an irqfd */
	bool running[NET_MAX_DATA_VQS];	/* handed to the backend */
	struct vhu_call {
		struct vhu_net *n;
		uint16_t q;
	} calls[NET_MAX_DATA_VQS];
	struct worker worker;
	bool worker_ready, started;
	struct worker_timer retry;	/* reconnecting to a restarted backend */
	bool retry_ready;
	uint8_t *cmd, *result;		/* control queue buffers */
	struct vhun_mig mig;		/* read at quiesce, or loaded */
	bool suspended;			/* source: stopped for the switch-over */
	bool restore_pending;		/* loaded: start the backend at unquiesce */
	/* The backend's writes, while a migration logs them: its shared log. */
	bool logging;
	uint64_t *log;
	size_t log_size;
	uint64_t log_pages;		/* pages the backend's log gave, this migration */
	int log_fd;
	struct dirty_source dirty;
	bool dirty_registered;
};

bool vhost_user_net_backend(const char *backend)
{
	return !strncmp(backend, PREFIX, strlen(PREFIX));
}

/* ---- interrupts and doorbells ---- */

/* The backend signalled a queue whose vector has no irqfd: raise it our way. */
static void vhun_on_call(int fd, void *opaque)
{
	struct vhu_call *c = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) > 0)
		virtio_dev_signal_queue(&c->n->vdev, c->q);
}

/* Straight into KVM through the vector's irqfd when it has one, else our eventfd. */
static int vhun_call_fd(struct vhu_net *n, uint16_t q)
{
	const struct virtio_transport_ops *t = n->vdev.transport;
	int fd = t && t->queue_irqfd ? t->queue_irqfd(&n->vdev, q) : -1;

	return fd >= 0 ? fd : n->call[q];
}

/* Worker: a vector moved, was masked or unmasked; n->lock held. */
static void vhun_calls_update(struct vhu_net *n)
{
	uint64_t v;
	uint16_t q;
	int old;

	for (q = 0; q < n->nr_data; q++) {
		int fd = vhun_call_fd(n, q);

		if (!n->running[q] || fd == n->call_cur[q])
			continue;
		if (vhu_set_fd(&n->conn, VHU_SET_VRING_CALL, q, fd)) {
			vlab_log("vhost-user: %s", n->conn.err);
			continue;
		}
		old = n->call_cur[q];
		n->call_cur[q] = fd;
		/* Off our eventfd: what it still holds is an interrupt owed now. */
		if (old == n->call[q] && read(old, &v, sizeof(v)) > 0)
			virtio_dev_signal_queue(&n->vdev, q);
	}
}

static void vhun_run(struct worker *w, uint32_t kicked, void *opaque)
{
	struct vhu_net *n = opaque;

	if (kicked & KICK_CVQ)
		net_ctrl_serve(&n->vdev, &n->st, &n->lock, n->cmd, n->result);
	if (kicked & KICK_IRQ) {
		pthread_mutex_lock(&n->lock);
		if (n->started)
			vhun_calls_update(n);
		pthread_mutex_unlock(&n->lock);
	}
}

/* Data queues: the backend reads KVM's doorbell eventfd itself. */
static int vhun_queue_kick_fd(struct virtio_dev *vdev, uint16_t q, int fd)
{
	struct vhu_net *n = vdev->priv;

	if (q >= n->nr_data)
		return -1;		/* the control queue: ours */
	n->kick[q] = fd;
	return 0;
}

static struct worker *vhun_queue_worker(struct virtio_dev *vdev, uint16_t q)
{
	return &((struct vhu_net *)vdev->priv)->worker;
}

static void vhun_queue_notify(struct virtio_dev *vdev, uint16_t q)
{
	worker_kick(&((struct vhu_net *)vdev->priv)->worker, KICK_CVQ);
}

/* Called on the thread that changed the vector: the socket is the worker's. */
static void vhun_irq_changed(struct virtio_dev *vdev)
{
	worker_kick(&((struct vhu_net *)vdev->priv)->worker, KICK_IRQ);
}

/* ---- handing the backend memory and rings ---- */

static int vhun_mem_table(struct vhu_net *n)
{
	struct guest_mem *gm = n->vdev.mem;
	struct vhu_mem_table t = { .nregions = gm->nr_regions };
	int fds[VHU_MAX_REGIONS], i;

	if (gm->nr_regions > VHU_MAX_REGIONS)
		return -1;
	for (i = 0; i < gm->nr_regions; i++) {
		const struct guest_mem_region *r = &gm->regions[i];

		t.regions[i] = (struct vhu_region){ .gpa = r->gpa, .size = r->size,
						    .uaddr = (uintptr_t)r->host };
		fds[i] = r->fd;
	}
	return vhu_send(&n->conn, VHU_SET_MEM_TABLE, &t,
			offsetof(struct vhu_mem_table, regions) + i * sizeof(t.regions[0]), fds, i,
			true);
}

/* Bytes of each part of a ring of @size entries: descriptors, driver, device. */
static void vhun_ring_sizes(bool packed, uint16_t size, uint64_t len[3])
{
	len[0] = 16ULL * size;
	len[1] = packed ? 4 : 6 + 2ULL * size;
	len[2] = packed ? 4 : 6 + 8ULL * size;
}

/*
 * Queue @q as the guest set it up, to the backend: our addresses of its
 * rings, the used ring's guest address for the dirty log, and where the
 * backend starts (@base; packed: bit 15 the wrap counter).
 */
static int vhun_vring(struct vhu_net *n, uint16_t q, uint32_t base)
{
	struct virtq *vq = &n->vdev.vqs[q];
	bool packed = virtio_dev_has(&n->vdev, VIRTIO_F_RING_PACKED);
	uint64_t gpa[3] = { vq->desc_addr, vq->driver_addr, vq->device_addr }, len[3];
	struct vhost_vring_addr a = { .index = q, .flags = 1u << VHOST_VRING_F_LOG,
				      .log_guest_addr = vq->device_addr };
	void *host[3];
	int i;

	vhun_ring_sizes(packed, vq->size, len);
	for (i = 0; i < 3; i++) {
		host[i] = guest_mem_map(n->vdev.mem, gpa[i], len[i], false);
		if (!host[i]) {
			snprintf(n->conn.err, sizeof(n->conn.err),
				 "queue %u: ring outside guest RAM", q);
			return -1;
		}
	}
	a.desc_user_addr = (uintptr_t)host[0];
	a.avail_user_addr = (uintptr_t)host[1];
	a.used_user_addr = (uintptr_t)host[2];
	n->call_cur[q] = vhun_call_fd(n, q);
	if (vhu_set_state(&n->conn, VHU_SET_VRING_NUM, q, vq->size) ||
	    vhu_send(&n->conn, VHU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, true) ||
	    vhu_set_state(&n->conn, VHU_SET_VRING_BASE, q, base) ||
	    vhu_set_fd(&n->conn, VHU_SET_VRING_KICK, q, n->kick[q]) ||
	    vhu_set_fd(&n->conn, VHU_SET_VRING_CALL, q, n->call_cur[q]))
		return -1;
	n->running[q] = true;
	if ((n->conn.features & F(VHU_F_PROTOCOL_FEATURES)) &&
	    vhu_set_state(&n->conn, VHU_SET_VRING_ENABLE, q, 1))
		return -1;
	return 0;
}

/*
 * Stop every ring the backend runs (GET_VRING_BASE), their bases into
 * @base if not NULL; n->lock held. The used rings are marked dirty here:
 * the backend wrote them last.
 */
static void vhun_stop_rings(struct vhu_net *n, uint16_t *base)
{
	bool packed = virtio_dev_has(&n->vdev, VIRTIO_F_RING_PACKED);
	struct vhost_vring_state s;
	uint64_t len[3];
	uint16_t q;

	for (q = 0; q < n->nr_data; q++) {
		if (!n->running[q])
			continue;
		n->running[q] = false;
		s = (struct vhost_vring_state){ .index = q };
		if (n->conn.fd < 0 ||
		    vhu_get(&n->conn, VHU_GET_VRING_BASE, &s, sizeof(s), &s, sizeof(s))) {
			vlab_log("vhost-user: stopping queue %u: %s", q, n->conn.err);
			continue;
		}
		if (s.index != q)
			vlab_log("vhost-user: GET_VRING_BASE answered for queue %u, not %u",
				 s.index, q);
		else if (base)
			base[q] = s.num;
		vhun_ring_sizes(packed, n->vdev.vqs[q].size, len);
		guest_mem_mark_dirty(n->vdev.mem, n->vdev.vqs[q].device_addr, len[2]);
	}
}

/* What the backend is to do of the guest's features, and log its writes if asked. */
static uint64_t vhun_backend_features(const struct vhu_net *n)
{
	return (n->vdev.guest_features & n->conn.features & ~VHUN_OURS) |
	       (n->conn.features & F(VHU_F_PROTOCOL_FEATURES)) |
	       (n->logging ? F(VHOST_F_LOG_ALL) : 0);
}

/* Everything the backend needs to run the rings, from @base (NULL: fresh); n->lock held. */
static int vhun_program(struct vhu_net *n, const uint16_t *base)
{
	bool packed = virtio_dev_has(&n->vdev, VIRTIO_F_RING_PACKED);
	uint16_t q;
	int r;

	r = vhu_set_u64(&n->conn, VHU_SET_FEATURES, vhun_backend_features(n), true) ?:
	    vhun_mem_table(n);
	/* A fresh packed ring: both wrap counters start at 1 (bit 15). */
	for (q = 0; !r && q < n->nr_data; q++)
		if (n->vdev.vqs[q].enabled)
			r = vhun_vring(n, q, base ? base[q] : packed ? 0x8000 : 0);
	if (r) {
		vlab_log("vhost-user: starting the NIC: %s", n->conn.err);
		vhun_stop_rings(n, NULL);
		return -1;
	}
	n->started = true;
	return 0;
}

/* DRIVER_OK (transport lock held: the rings cannot change). */
static int vhun_start(struct virtio_dev *vdev)
{
	struct vhu_net *n = vdev->priv;
	int r;

	pthread_mutex_lock(&n->lock);
	/* A backend away (restarting) gets the rings when it is back. */
	if (n->conn.fd < 0) {
		n->started = true;
		r = 0;
	} else {
		r = vhun_program(n, NULL);
	}
	pthread_mutex_unlock(&n->lock);
	return r;
}

static void vhun_reset(struct virtio_dev *vdev)
{
	struct vhu_net *n = vdev->priv;

	pthread_mutex_lock(&n->lock);
	vhun_stop_rings(n, NULL);
	n->started = n->suspended = n->restore_pending = false;
	net_state_reset(&n->st);
	pthread_mutex_unlock(&n->lock);
}

static int vhun_set_features(struct virtio_dev *vdev, uint64_t features)
{
	struct vhu_net *n = vdev->priv;

	pthread_mutex_lock(&n->lock);
	net_state_set_features(&n->st, features);
	pthread_mutex_unlock(&n->lock);
	return 0;
}

static uint64_t vhun_get_features(struct virtio_dev *vdev)
{
	struct vhu_net *n = vdev->priv;
	uint64_t f = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_CTRL_VQ) |
		     F(VIRTIO_NET_F_MRG_RXBUF);

	if (n->conf.queue_pairs > 1)
		f |= F(VIRTIO_NET_F_MQ);
	if (n->conf.mtu)
		f |= F(VIRTIO_NET_F_MTU);
	return f;
}

static void vhun_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	struct vhu_net *n = vdev->priv;

	net_config_read(&n->st, &n->lock, off, buf, len);
}

static void vhun_config_write(struct virtio_dev *vdev, uint32_t off, const void *buf,
			      uint32_t len)
{
}

/* ---- a backend that restarts ---- */

static void vhun_on_conn(int fd, void *opaque);

/* Worker, n->lock held: the connection is gone; look for the backend again. */
static void vhun_lost(struct vhu_net *n)
{
	uint16_t q;

	worker_del_fd(&n->worker, n->conn.fd);
	vhu_close(&n->conn);
	for (q = 0; q < n->nr_data; q++)
		n->running[q] = false;
	vlab_log("vhost-user: the backend went away; reconnecting");
	worker_timer_arm(&n->retry, RETRY_NS);
}

/*
 * The backend says nothing unasked, so the socket turns readable on its
 * own only when the backend went away. A reply that woke us was read by
 * whoever asked for it, under n->lock, before we get here.
 */
static void vhun_on_conn(int fd, void *opaque)
{
	struct vhu_net *n = opaque;
	char junk[256];
	ssize_t r;

	pthread_mutex_lock(&n->lock);
	if (n->conn.fd == fd) {
		r = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			vhun_lost(n);
		else if (r > 0)
			vlab_log("vhost-user: %zd bytes the backend sent unasked, dropped", r);
	}
	pthread_mutex_unlock(&n->lock);
}

/*
 * Where a restarted backend picks a split ring up: the used index in
 * guest memory (buffers the old one took but never used are served
 * again). A packed ring keeps no such index: its position is lost.
 */
static int vhun_restart_bases(struct vhu_net *n, uint16_t *base)
{
	uint16_t q;

	if (virtio_dev_has(&n->vdev, VIRTIO_F_RING_PACKED))
		return -1;
	for (q = 0; q < n->nr_data; q++) {
		base[q] = 0;
		if (n->vdev.vqs[q].enabled &&
		    guest_mem_read(n->vdev.mem, n->vdev.vqs[q].device_addr + 2, &base[q], 2))
			return -1;
	}
	return 0;
}

static void vhun_on_retry(struct worker_timer *t, void *opaque)
{
	struct vhu_net *n = opaque;
	uint16_t base[NET_MAX_DATA_VQS];
	uint64_t had = n->conn.features;
	bool fail = false;

	pthread_mutex_lock(&n->lock);
	if (n->conn.fd >= 0)
		goto out;
	if (vhu_connect(&n->conn, n->conf.backend + strlen(PREFIX))) {
		worker_timer_arm(&n->retry, RETRY_NS);
		goto out;
	}
	if ((had & ~n->conn.features) || worker_add_fd(&n->worker, n->conn.fd, vhun_on_conn, n)) {
		vlab_log("vhost-user: the restarted backend offers less than before");
		vhu_close(&n->conn);
		fail = n->started;
		goto out;
	}
	vlab_log("vhost-user: reconnected to the backend");
	if (n->started)
		fail = vhun_restart_bases(n, base) || vhun_program(n, base);
out:
	pthread_mutex_unlock(&n->lock);
	if (fail)
		virtio_dev_needs_reset(&n->vdev, "the vhost-user backend restarted and cannot go on");
}

/* ---- migration: the backend's dirty log, the rings' bases ---- */

static void vhun_log_free(struct vhu_net *n)
{
	if (n->log)
		munmap(n->log, n->log_size);
	if (n->log_fd >= 0)
		close(n->log_fd);
	n->log = NULL;
	n->log_fd = -1;
}

/* A log for every page of guest RAM, shared with the backend; LOG_ALL on. */
static int vhun_dirty_start(void *opaque)
{
	struct vhu_net *n = opaque;
	uint64_t pages = n->vdev.mem->dirty_bits;
	int r = -1;

	pthread_mutex_lock(&n->lock);
	if (!(n->conn.features & F(VHOST_F_LOG_ALL))) {
		vlab_log("vhost-user: the backend cannot log its writes (no VHOST_F_LOG_ALL)");
		goto out;
	}
	n->log_size = (pages + 63) / 64 * 8;
	n->log_fd = memfd_create("vlab-vhost-log", MFD_CLOEXEC);
	if (n->log_fd < 0 || ftruncate(n->log_fd, n->log_size))
		goto fail;
	n->log = mmap(NULL, n->log_size, PROT_READ | PROT_WRITE, MAP_SHARED, n->log_fd, 0);
	if (n->log == MAP_FAILED) {
		n->log = NULL;
		goto fail;
	}
	n->logging = true;
	n->log_pages = 0;
	if (vhu_set_log_base(&n->conn, n->log_fd, n->log_size) ||
	    (n->started && vhu_set_u64(&n->conn, VHU_SET_FEATURES, vhun_backend_features(n),
				       true))) {
		vlab_log("vhost-user: dirty log: %s", n->conn.err);
		n->logging = false;
		goto fail;
	}
	r = 0;
	goto out;
fail:
	vhun_log_free(n);
out:
	pthread_mutex_unlock(&n->lock);
	return r;
}

static int vhun_dirty_collect(void *opaque, unsigned long *bm)
{
	struct vhu_net *n = opaque;
	size_t w;

	pthread_mutex_lock(&n->lock);
	/* The backend sets bits with atomic ORs while we take them. */
	for (w = 0; n->log && w < n->log_size / 8; w++) {
		uint64_t v = __atomic_exchange_n(&n->log[w], 0, __ATOMIC_ACQ_REL);

		bm[w] |= v;
		n->log_pages += __builtin_popcountll(v);
	}
	pthread_mutex_unlock(&n->lock);
	return 0;
}

static void vhun_dirty_stop(void *opaque)
{
	struct vhu_net *n = opaque;

	pthread_mutex_lock(&n->lock);
	vlab_log("vhost-user: the backend's dirty log gave %llu pages",
		 (unsigned long long)n->log_pages);
	n->logging = false;
	if (n->started && vhu_set_u64(&n->conn, VHU_SET_FEATURES, vhun_backend_features(n), true))
		vlab_log("vhost-user: dirty log off: %s", n->conn.err);
	vhun_log_free(n);
	pthread_mutex_unlock(&n->lock);
}

/* Source, vCPUs paused: the backend stops each ring and says where it stood. */
static void vhun_quiesce(struct virtio_dev *vdev)
{
	struct vhu_net *n = vdev->priv;

	pthread_mutex_lock(&n->lock);
	memset(&n->mig, 0, sizeof(n->mig));
	if (n->started) {
		/* With the backend away, the rings stand where its successor would start. */
		if (n->conn.fd < 0 && vhun_restart_bases(n, n->mig.base))
			vlab_log("vhost-user: the backend is away: packed rings move without "
				 "their position");
		vhun_stop_rings(n, n->mig.base);
		n->mig.running = true;
		n->started = false;
		n->suspended = true;
	}
	pthread_mutex_unlock(&n->lock);
}

/*
 * Destination: the backend takes the rings over from the migrated bases.
 * Source whose migration failed: the same, from where it stopped.
 */
static void vhun_unquiesce(struct virtio_dev *vdev)
{
	struct vhu_net *n = vdev->priv;
	uint8_t st = virtio_dev_status(vdev);
	bool fail = false;

	pthread_mutex_lock(&n->lock);
	if ((n->restore_pending || n->suspended) && n->mig.running &&
	    (st & VIRTIO_CONFIG_S_DRIVER_OK) && !(st & VIRTIO_CONFIG_S_NEEDS_RESET))
		fail = vhun_program(n, n->mig.base) < 0;
	n->restore_pending = n->suspended = false;
	pthread_mutex_unlock(&n->lock);
	if (fail)
		virtio_dev_needs_reset(vdev, "the vhost-user backend did not take the rings");
}

/* At the destination: ask the guest to announce its new location. */
static void vhun_migrated(struct virtio_dev *vdev)
{
	struct vhu_net *n = vdev->priv;

	net_announce_moved(vdev, &n->st, &n->lock);
}

static int vhun_save(struct virtio_dev *vdev, struct state_buf *sb)
{
	struct vhu_net *n = vdev->priv;

	state_put_struct(sb, "vhost-user", 1, &n->mig, vhun_mig_fields,
			 ARRAY_SIZE(vhun_mig_fields));
	return net_state_save_locked(sb, &n->st, &n->lock, NULL);
}

/* Checked in full before anything is taken over (the common state is loaded). */
static int vhun_load(struct virtio_dev *vdev, const void *fdt, int node, char *err,
		     size_t errlen)
{
	struct vhu_net *n = vdev->priv;
	bool packed = vdev->guest_features & F(VIRTIO_F_RING_PACKED);
	struct vhun_mig m = { 0 };
	struct net_state *st = malloc(sizeof(*st));
	uint16_t q;
	int r = -1;

	if (!st) {
		snprintf(err, errlen, "vhost-user: out of memory");
		return -1;
	}
	if (state_get_struct(fdt, node, "vhost-user", 1, &m, vhun_mig_fields,
			     ARRAY_SIZE(vhun_mig_fields), err, errlen))
		goto out;
	for (q = 0; q < NET_MAX_DATA_VQS; q++) {
		uint16_t at = packed ? m.base[q] & 0x7fff : 0;

		if ((q >= n->nr_data && m.base[q]) || (q < n->nr_data && at > vdev->vqs[q].size)) {
			snprintf(err, errlen, "vhost-user: vring-base 0x%x for queue %u", m.base[q],
				 q);
			goto out;
		}
	}
	pthread_mutex_lock(&n->lock);
	r = net_state_load_checked(fdt, node, st, &n->st, vdev->host_features, "vhost-user",
				   err, errlen);
	if (!r) {
		n->st = *st;
		n->mig = m;
		n->restore_pending = true;
	}
	pthread_mutex_unlock(&n->lock);
out:
	free(st);
	return r;
}

static const struct virtio_dev_ops vhun_ops = {
	.name = "vhost-user-net",
	.device_id = VIRTIO_ID_NET,
	.pci_class = 0x020000,
	.config_size = sizeof(struct virtio_net_config),
	.get_features = vhun_get_features,
	.set_features = vhun_set_features,
	.config_read = vhun_config_read,
	.config_write = vhun_config_write,
	.queue_kick_fd = vhun_queue_kick_fd,
	.queue_worker = vhun_queue_worker,
	.queue_notify = vhun_queue_notify,
	.start = vhun_start,
	.reset = vhun_reset,
	.irq_changed = vhun_irq_changed,
	.quiesce = vhun_quiesce,
	.unquiesce = vhun_unquiesce,
	.migrated = vhun_migrated,
	.save = vhun_save,
	.load = vhun_load,
};

bool vhost_user_net_is(const struct virtio_dev *vdev)
{
	return vdev->ops == &vhun_ops;
}

static void vhun_free(struct vhu_net *n)
{
	int i;

	if (n->retry_ready)
		worker_timer_exit(&n->retry);
	if (n->worker_ready)
		worker_exit(&n->worker);
	for (i = 0; i < NET_MAX_DATA_VQS; i++)
		if (n->call[i] >= 0)
			close(n->call[i]);
	vhu_close(&n->conn);
	vhun_log_free(n);
	if (n->vdev.vqs)
		virtio_dev_exit(&n->vdev);
	free(n->cmd);
	free(n->result);
	free(n);
}

void *vhost_user_net_create(struct vm *vm, const struct net_config *nc, int index, char *err,
			    size_t errlen)
{
	const char *path = nc->backend + strlen(PREFIX);
	uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 + index };
	struct vhu_net *n;
	uint16_t i;

	if (!vm->cfg->mem_memfd) {
		snprintf(err, errlen, "--net vhost-user needs guest RAM the backend can map: "
			 "add --mem-backend memfd");
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "vhost-user: out of memory");
		return NULL;
	}
	n->vm = vm;
	n->conf = *nc;
	n->nr_data = 2 * nc->queue_pairs;
	n->conn.fd = n->log_fd = -1;
	n->worker.wake_fd = -1;
	pthread_mutex_init(&n->lock, NULL);
	for (i = 0; i < NET_MAX_DATA_VQS; i++) {
		n->kick[i] = n->call[i] = n->call_cur[i] = -1;
		n->calls[i] = (struct vhu_call){ n, i };
	}
	if (nc->mac_set)
		memcpy(mac, nc->mac, 6);
	if (vhu_connect(&n->conn, path)) {
		snprintf(err, errlen, "vhost-user: %s", n->conn.err);
		goto fail;
	}
	if ((n->conn.features & F(VIRTIO_F_VERSION_1)) == 0) {
		snprintf(err, errlen, "vhost-user: the backend does not offer VIRTIO_F_VERSION_1");
		goto fail;
	}
	if (nc->queue_pairs > 1 && n->conn.queue_num < n->nr_data / 2) {
		snprintf(err, errlen, "vhost-user: queues=%d, the backend has %u queue pairs",
			 nc->queue_pairs, n->conn.queue_num);
		goto fail;
	}
	net_state_init(&n->st, mac, nc->queue_pairs);
	n->st.mtu = nc->mtu;
	n->cmd = malloc(NET_CTRL_MAX);
	n->result = malloc(NET_CTRL_RESULT_MAX);
	n->worker_ready = !worker_init(&n->worker, "vhost-user", vhun_run, n);
	if (!n->cmd || !n->result || !n->worker_ready)
		goto nomem;
	n->retry_ready = !worker_timer_init(&n->retry, &n->worker, vhun_on_retry, n);
	if (!n->retry_ready || worker_add_fd(&n->worker, n->conn.fd, vhun_on_conn, n))
		goto nomem;
	for (i = 0; i < n->nr_data; i++) {
		n->call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->call[i] < 0 ||
		    worker_add_fd(&n->worker, n->call[i], vhun_on_call, &n->calls[i]))
			goto nomem;
	}
	if (virtio_dev_init(&n->vdev, &vhun_ops, n, &vm->mem, n->nr_data + 1, QUEUE_MAX))
		goto nomem;
	/* Ring and transport features only as far as the backend has them. */
	n->vdev.host_features &= VHUN_OURS | (n->conn.features & VHUN_BACKEND);
	if (virtio_pci_attach(vm, &n->vdev)) {
		snprintf(err, errlen, "vhost-user: cannot attach to PCI");
		goto fail;
	}
	if (worker_start(&n->worker)) {
		virtio_pci_detach(&n->vdev);
		goto nomem;
	}
	/* Migration: the backend's writes into guest RAM, from its shared log. */
	n->dirty = (struct dirty_source){
		.name = "vhost-user", .start = vhun_dirty_start, .collect = vhun_dirty_collect,
		.stop = vhun_dirty_stop, .opaque = n,
	};
	dirty_source_register(vm, &n->dirty);
	n->dirty_registered = true;
	return n;
nomem:
	snprintf(err, errlen, "vhost-user: out of memory");
fail:
	vhun_free(n);
	return NULL;
}

void vhost_user_net_destroy(struct vm *vm, void *dev)
{
	struct vhu_net *n = dev;

	worker_stop(&n->worker);
	pthread_mutex_lock(&n->lock);
	vhun_stop_rings(n, NULL);
	pthread_mutex_unlock(&n->lock);
	virtio_pci_detach(&n->vdev);
	if (n->dirty_registered)
		dirty_source_unregister(vm, &n->dirty);
	vhun_free(n);
}
