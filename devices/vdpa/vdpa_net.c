// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <libfdt.h>
#include <stddef.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/net/net_ctrl.h"
#include "devices/net/net_replay.h"
#include "devices/vdpa/vdpa_net.h"
#include "virtio/virtio.h"
#include "virtio/svq.h"
#include "vmm/control/json.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtq_driver.h"
#include "vmm/core/bytes.h"
#include "vmm/core/device.h"
#include "vmm/core/vm.h"
#include "vmm/migrate/dirty.h"
#include "vmm/migrate/state.h"

#define F(bit)		(1ULL << (bit))
#define QUEUE_MAX	256
/* The CVQ shadow in address space 1: rings, then the bounce buffers. */
#define SHADOW_IOVA	0x10000ULL
#define SHADOW_QSIZE	16
#define SH_DESC		0x0000
#define SH_DRIVER	0x1000
#define SH_DEVICE	0x2000
#define SH_CMD		0x3000		/* class, command, data */
#define SH_ACK		0x4000		/* ack, then the command's result */
#define SH_SIZE		0x5000
#define CMD_MAX		(SH_ACK - SH_CMD)
#define RESULT_MAX	(SH_SIZE - SH_ACK - 1)
#define CVQ_TIMEOUT_MS	10000
/* Shadow data rings, in address space 0 far above guest RAM: 1 MiB a vq. */
#define SVQ_IOVA	(1ULL << 46)
#define SVQ_IOVA_STEP	(1ULL << 20)
/* Worker kick bits. */
#define KICK_CVQ	1u
#define KICK_SVQ	2u		/* poll every shadowed queue */

/*
 * What a migration or snapshot carries besides the transport's rings and
 * net_state: whether the device ran, and each vq's ring base as the
 * suspended device read it back (the used index; in-flight buffers are
 * handed out again at the destination).
 */
struct fe_mig {
	bool running;
	uint16_t base[VDPA_HW_MAX_VQS];
};

static const struct state_field fe_mig_fields[] = {
	STATE_BOOL(struct fe_mig, running, "running"),
	STATE_UINT_ARRAY(struct fe_mig, base, "vring-base"),
};

/*
 * The guest's ring set-up, as the device is programmed from it: taken
 * from the transport, or at the destination from the early state the
 * source sends during pre-copy (so the device can be started ahead).
 */
struct fe_rings {
	uint32_t status;
	uint64_t features;
	uint16_t nr_queues;
	uint16_t size[VDPA_HW_MAX_VQS];
	uint16_t enabled[VDPA_HW_MAX_VQS];
	uint64_t desc[VDPA_HW_MAX_VQS], driver[VDPA_HW_MAX_VQS], device[VDPA_HW_MAX_VQS];
};

static const struct state_field fe_rings_fields[] = {
	STATE_UINT(struct fe_rings, status, "status"),
	STATE_UINT(struct fe_rings, features, "guest-features"),
	STATE_UINT(struct fe_rings, nr_queues, "queues"),
	STATE_UINT_ARRAY(struct fe_rings, size, "size"),
	STATE_UINT_ARRAY(struct fe_rings, enabled, "enabled"),
	STATE_UINT_ARRAY(struct fe_rings, desc, "desc"),
	STATE_UINT_ARRAY(struct fe_rings, driver, "driver"),
	STATE_UINT_ARRAY(struct fe_rings, device, "device"),
};

/* What the control state replays as, byte for byte (to compare two states). */
struct fe_replay_rec {
	uint8_t *p;
	size_t len, cap;
};

enum fe_program_mode {
	FE_START,		/* the guest's DRIVER_OK: every vq at once */
	FE_RESTORE,		/* the migrated state: replay, then the data vqs */
	FE_AHEAD,		/* the early state: replay, data vqs enabled suspended */
};

struct vdpa_fe {
	struct virtio_dev vdev;
	struct vm *vm;
	struct vdpa_net_conf conf;
	struct vdpa_sim_net *sim;
	struct vdpa_dev *d;
	pthread_mutex_t lock;
	struct net_state st;		/* what the device acked */
	int kick[VDPA_HW_MAX_VQS];	/* the transport's doorbells, read by the device */
	int call[VDPA_HW_MAX_VQS];	/* the device's interrupts, read by our worker */
	int call_cur[VDPA_HW_MAX_VQS];	/* what the device has: call[q] or the vector's irqfd */
	struct fe_call {
		struct vdpa_fe *fe;
		uint16_t q;
	} calls[VDPA_HW_MAX_VQS];
	struct worker worker;
	bool worker_ready, started;
	/*
	 * Shadowed, each queue pair's SVQs run on a thread of their own
	 * (svq-threads=pair, the default) rather than on @worker with the
	 * CVQ: pairs forward side by side, as a multiqueue guest's do.
	 */
	struct fe_pair {
		struct vdpa_fe *fe;
		uint16_t p;
		struct worker worker;
		bool ready;
	} pairs[VDPA_HW_MAX_PAIRS];
	uint8_t *shadow;
	struct vdrv cvq;
	uint8_t cvq_aux[VDRV_AUX_BYTES(SHADOW_QSIZE)] __attribute__((aligned(8)));
	int cvq_kick, cvq_call;
	int config_call;		/* the device's config/status changes */
	struct fe_mig mig;		/* read at quiesce, or loaded */
	/*
	 * DEVICE_STATS: st's queue counters are what earlier devices counted
	 * (none at first; at a destination, the source's), added to every
	 * STATS_GET the device answers. dev_stats: the device's own, read at
	 * quiesce and added to st's in what is saved.
	 */
	struct net_state *dev_stats;
	bool dev_stats_read;
	bool suspended;			/* quiesced at the source */
	bool restore_pending;		/* loaded: program the device at unquiesce */
	/*
	 * Destination: started ahead from the early state (programmed,
	 * control state replayed, suspended), on ahead_thread. At the
	 * switch-over, if the final state has the same rings and control
	 * state, only the ring bases are set and the device resumed.
	 */
	bool ahead, ahead_thread_running;
	pthread_t ahead_thread;
	struct fe_rings ahead_rings;
	struct fe_replay_rec ahead_replay;

	/*
	 * While migration logs dirty pages, the data vqs go through shadow
	 * virtqueues (virtio/svq.h) so that the device's writes are logged.
	 * switch_lock orders the switches against start, reset and quiesce.
	 */
	pthread_mutex_t switch_lock;
	bool svq_wanted;		/* dirty logging is on */
	bool desc_asid;			/* data vq rings have a group of their own */
	bool persist;			/* maps survive a device reset (IOTLB_PERSIST) */
	bool mapped;			/* guest RAM and the CVQ shadow are in the IOTLBs */
	bool svq_on;
	struct fe_svq {
		struct svq svq;
		void *mem;
		size_t len;
		int kick, call;		/* ours: the device reads and signals them */
		struct vdpa_notify_area db;	/* the device's doorbell, or db.reg NULL */
	} svqs[VDPA_HW_MAX_VQS];
	struct dirty_source dirty;
	bool dirty_registered;
};

/*
 * Every IOTLB message goes through here: with no-batch the batch markers
 * are dropped, and the device rebuilds its keys at each message.
 */
static int fe_iotlb(struct vdpa_fe *fe, uint32_t asid, uint8_t type, uint64_t iova,
		    uint64_t size, void *uaddr, uint8_t perm)
{
	if (fe->conf.no_batch &&
	    (type == VHOST_IOTLB_BATCH_BEGIN || type == VHOST_IOTLB_BATCH_END))
		return 0;
	return vdpa_iotlb(fe->d, asid, type, iova, size, uaddr, perm);
}

/* ---- the guest's control queue, shadowed ---- */

/*
 * Forward the command in the bounce buffer (@len bytes) with room for
 * @room result bytes; the device's ack, or VIRTIO_NET_ERR if it never
 * answers. @written: bytes the device wrote (ack included).
 */
static uint8_t fe_cvq_forward(struct vdpa_fe *fe, size_t len, size_t room, uint32_t *written)
{
	struct vdrv_buf b[2] = { { SHADOW_IOVA + SH_CMD, len },
				 { SHADOW_IOVA + SH_ACK, 1 + room } };
	struct pollfd p = { fe->cvq_call, POLLIN, 0 };
	uint64_t cookie, n, one = 1;
	int r;

	fe->shadow[SH_ACK] = VIRTIO_NET_ERR;
	*written = 0;
	if (vdrv_add(&fe->cvq, b, 1, 1, false, 1) < 0)
		return VIRTIO_NET_ERR;
	vdrv_publish(&fe->cvq);
	if (vdrv_kick_needed(&fe->cvq) && write(fe->cvq_kick, &one, sizeof(one)) < 0)
		return VIRTIO_NET_ERR;
	while (!(r = vdrv_get_used(&fe->cvq, &cookie, written))) {
		if (poll(&p, 1, CVQ_TIMEOUT_MS) != 1) {
			vlab_log("vdpa: the device did not answer a control command");
			return VIRTIO_NET_ERR;
		}
		if (read(fe->cvq_call, &n, sizeof(n)) < 0)
			break;
	}
	return r == 1 && *written ? fe->shadow[SH_ACK] : VIRTIO_NET_ERR;
}

static void fe_ctrl(struct vdpa_fe *fe)
{
	uint16_t q = net_state_cvq_index(&fe->st);
	struct virtq *vq = &fe->vdev.vqs[q];
	struct virtq_elem elem;
	struct virtq_cursor c;
	int r;

	while ((r = virtq_pop(vq, &elem)) > 0) {
		uint8_t *cmd = fe->shadow + SH_CMD, ack = VIRTIO_NET_ERR;
		size_t len, room = elem.in_len ? elem.in_len - 1 : 0;
		uint32_t written = 0;

		virtq_cursor_init(&c, &elem, false);
		len = virtq_cursor_read(&c, cmd, CMD_MAX);
		if (room > RESULT_MAX)
			room = RESULT_MAX;
		if (elem.in_len)
			ack = fe_cvq_forward(fe, len, room, &written);
		/* Counters: the device's since it started, plus those carried to it. */
		if (ack == VIRTIO_NET_OK && len >= 2 && cmd[0] == VIRTIO_NET_CTRL_STATS &&
		    cmd[1] == VIRTIO_NET_CTRL_STATS_GET && written > 1) {
			pthread_mutex_lock(&fe->lock);
			net_ctrl_stats_merge(&fe->st, fe->shadow + SH_ACK + 1, written - 1, true);
			pthread_mutex_unlock(&fe->lock);
		}
		if (ack == VIRTIO_NET_OK) {
			struct net_ctrl_reply reply = { 0 };
			uint8_t scratch[RESULT_MAX];

			/* The device took it: our copy follows. */
			pthread_mutex_lock(&fe->lock);
			net_ctrl_handle(&fe->st, cmd, len, scratch, sizeof(scratch), &reply);
			pthread_mutex_unlock(&fe->lock);
			/* A new MAC (or announce ack) is a config change for the driver. */
			if (reply.effects & NET_CTRL_FX_CONFIG)
				virtio_dev_config_changed(&fe->vdev);
		}
		virtq_cursor_init(&c, &elem, true);
		if (virtq_cursor_write(&c, &ack, 1) && written > 1)
			virtq_cursor_write(&c, fe->shadow + SH_ACK + 1, written - 1);
		virtq_push(vq, &elem, c.done);
	}
	if (r < 0) {
		virtio_dev_needs_reset(&fe->vdev, vq->broken_reason ? vq->broken_reason :
				       "bad control descriptor");
		return;
	}
	virtio_dev_notify_used(&fe->vdev, q);
}

/* ---- interrupts and doorbells ---- */

/* The device decided the driver wants this interrupt: raise it. */
static void fe_on_call(int fd, void *opaque)
{
	struct fe_call *c = opaque;
	struct virtio_dev *vdev = &c->fe->vdev;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) > 0)
		virtio_dev_signal_queue(vdev, c->q);
}

/* The device's status or config changed: an error becomes the guest's NEEDS_RESET. */
static void fe_on_config(int fd, void *opaque)
{
	struct vdpa_fe *fe = opaque;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0)
		return;
	if (fe->d->ops->get_status(fe->d) & VIRTIO_CONFIG_S_NEEDS_RESET)
		virtio_dev_needs_reset(&fe->vdev, "the vDPA device reported an error");
	else
		virtio_dev_config_changed(&fe->vdev);
}

/* ---- shadow virtqueues: the data path while migration logs dirty pages ---- */

static void fe_svq_fail(struct vdpa_fe *fe, uint16_t q)
{
	vlab_log("vdpa: vq %u: shadow virtqueue: %s", q, fe->svqs[q].svq.error);
	virtio_dev_needs_reset(&fe->vdev, fe->svqs[q].svq.error);
}

/* The guest's buffers to the shadow ring, kicking the device if it wants it. */
static void fe_svq_avail(struct vdpa_fe *fe, uint16_t q)
{
	struct fe_svq *fs = &fe->svqs[q];
	uint64_t one = 1;
	int r = svq_avail(&fs->svq);

	if (r < 0)
		fe_svq_fail(fe, q);
	else if (r > 0 && fs->db.reg)
		vdpa_doorbell(&fs->db);
	else if (r > 0 && write(fs->kick, &one, sizeof(one)) < 0)
		vlab_log("vdpa: vq %u: shadow kick: %s", q, strerror(errno));
}

/* The device's completions to the guest's ring; the guest's interrupt if it wants one. */
static void fe_svq_used(struct vdpa_fe *fe, uint16_t q)
{
	struct fe_svq *fs = &fe->svqs[q];
	int r = svq_used(&fs->svq);

	if (r < 0) {
		fe_svq_fail(fe, q);
		return;
	}
	/* The shadow's guest ring is the transport's queue @q. */
	if (r > 0)
		virtio_dev_notify_used(&fe->vdev, q);
	if (fs->svq.parked >= 0)
		fe_svq_avail(fe, q);
}

static void fe_on_guest_kick(int fd, void *opaque)
{
	struct fe_call *c = opaque;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) > 0) {
		virtq_count(&c->fe->vdev.vqs[c->q].stats.kicks, n);
		fe_svq_avail(c->fe, c->q);
	}
}

static void fe_on_svq_call(int fd, void *opaque)
{
	struct fe_call *c = opaque;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) > 0)
		fe_svq_used(c->fe, c->q);
}

/*
 * Forward what data queues [@first, @end) have, again and again while
 * they make progress and for svq-poll microseconds after (a device
 * completing or a guest adding within that needs no wake-up), unless
 * the worker is asked to stop or has other work (@others kicked).
 */
static void fe_svq_poll(struct vdpa_fe *fe, struct worker *w, uint16_t first, uint16_t end,
			uint32_t others)
{
	struct svq_poll poll = { .poll_ns = fe->conf.svq_poll_us * 1000ULL };
	uint64_t moved, before;
	uint16_t q;

	for (;;) {
		moved = 0;
		for (q = first; fe->svq_on && q < end; q++) {
			struct svq *s = &fe->svqs[q].svq;

			if (!fe->svqs[q].mem)
				continue;
			before = s->forwarded + s->completed;
			fe_svq_used(fe, q);
			fe_svq_avail(fe, q);
			moved += s->forwarded + s->completed - before;
		}
		if (!fe->svq_on || worker_stopping(w) ||
		    (__atomic_load_n(&w->kicked, __ATOMIC_RELAXED) & others) ||
		    !svq_poll_again(&poll, moved))
			return;
	}
}

static void fe_run(struct worker *w, uint32_t kicked, void *opaque)
{
	struct vdpa_fe *fe = opaque;

	if (kicked & KICK_CVQ)
		fe_ctrl(fe);
	if ((kicked & KICK_SVQ) && fe->conf.svq_one_thread)
		fe_svq_poll(fe, w, 0, fe->vdev.nr_queues - 1, KICK_CVQ);
}

/* A queue pair's SVQ thread: its two queues only. */
static void fe_pair_run(struct worker *w, uint32_t kicked, void *opaque)
{
	struct fe_pair *pr = opaque;

	fe_svq_poll(pr->fe, w, 2 * pr->p, 2 * pr->p + 2, 0);
}

/* The thread that forwards data queue @q while shadowed. */
static struct worker *fe_svq_worker(struct vdpa_fe *fe, uint16_t q)
{
	return fe->conf.svq_one_thread ? &fe->worker : &fe->pairs[q / 2].worker;
}

static void fe_workers_stop(struct vdpa_fe *fe)
{
	unsigned int p;

	worker_stop(&fe->worker);
	for (p = 0; p < VDPA_HW_MAX_PAIRS; p++)
		if (fe->pairs[p].ready)
			worker_stop(&fe->pairs[p].worker);
}

static int fe_workers_start(struct vdpa_fe *fe)
{
	unsigned int p;
	int r = worker_start(&fe->worker);

	for (p = 0; p < VDPA_HW_MAX_PAIRS; p++)
		if (fe->pairs[p].ready)
			r = worker_start(&fe->pairs[p].worker) ?: r;
	return r;
}

/* Look at the CVQ and every shadowed queue again (after a switch or a stop). */
static void fe_workers_kick(struct vdpa_fe *fe)
{
	unsigned int p;

	worker_kick(&fe->worker, KICK_CVQ | KICK_SVQ);
	for (p = 0; p < VDPA_HW_MAX_PAIRS; p++)
		if (fe->pairs[p].ready)
			worker_kick(&fe->pairs[p].worker, KICK_SVQ);
}

/* Data queues: the device reads KVM's doorbell eventfd itself. */
static int fe_queue_kick_fd(struct virtio_dev *vdev, uint16_t q, int fd)
{
	struct vdpa_fe *fe = vdev->priv;

	if (q == vdev->nr_queues - 1)
		return -1;		/* the CVQ (with MQ, the last one): ours */
	fe->kick[q] = fd;
	return 0;
}

static struct worker *fe_queue_worker(struct virtio_dev *vdev, uint16_t q)
{
	return &((struct vdpa_fe *)vdev->priv)->worker;
}

static void fe_queue_notify(struct virtio_dev *vdev, uint16_t q)
{
	struct vdpa_fe *fe = vdev->priv;

	worker_kick(&fe->worker, KICK_CVQ);
}

/* ---- programming the device ---- */

/*
 * Where the device signals queue @q: straight into KVM through the
 * vector's irqfd when the transport has one (no VMM thread in between),
 * else our eventfd, whose worker raises the interrupt through the
 * transport (masked vectors go pending, INTx sets the ISR).
 */
static int fe_call_fd(struct vdpa_fe *fe, uint16_t q)
{
	const struct virtio_transport_ops *t = fe->vdev.transport;
	int fd = t && t->queue_irqfd ? t->queue_irqfd(&fe->vdev, q) : -1;

	return fd >= 0 ? fd : fe->call[q];
}

/* A vector moved, was masked or unmasked: hand the device the right fd. */
static void fe_irq_changed(struct virtio_dev *vdev)
{
	struct vdpa_fe *fe = vdev->priv;
	uint16_t q;
	uint64_t n;
	int fd;

	pthread_mutex_lock(&fe->switch_lock);
	/* Shadowed, the device signals us, and we the guest through the transport. */
	if (!fe->started || fe->svq_on) {
		pthread_mutex_unlock(&fe->switch_lock);
		return;
	}
	pthread_mutex_lock(&fe->lock);
	for (q = 0; q + 1 < vdev->nr_queues; q++) {
		struct vhost_vring_file f = { q, fe_call_fd(fe, q) };

		if (f.fd == fe->call_cur[q] || fe->d->ops->set_vring_call(fe->d, &f))
			continue;
		fd = fe->call_cur[q];
		fe->call_cur[q] = f.fd;
		/* Off our eventfd: what it still holds is an interrupt owed now. */
		if (fd == fe->call[q] && read(fd, &n, sizeof(n)) > 0)
			virtio_dev_signal_queue(vdev, q);
	}
	pthread_mutex_unlock(&fe->lock);
	pthread_mutex_unlock(&fe->switch_lock);
}

/* A vq the guest enabled, programmed; enabled on the device now, or later (@now false). */
static int fe_vring(struct vdpa_fe *fe, uint16_t q, uint16_t num, uint16_t first,
		    uint64_t desc, uint64_t driver, uint64_t device, int kick, int call,
		    bool enabled, bool now)
{
	const struct vdpa_dev_ops *o = fe->d->ops;
	struct vhost_vring_state n = { q, num }, base = { q, first }, en = { q, 1 };
	struct vhost_vring_addr a = { .index = q, .desc_user_addr = desc,
				      .avail_user_addr = driver, .used_user_addr = device };
	struct vhost_vring_file k = { q, kick }, c = { q, call };

	if (!enabled)
		return 0;
	return o->set_vring_num(fe->d, &n) ?: o->set_vring_addr(fe->d, &a) ?:
	       o->set_vring_base(fe->d, &base) ?: o->set_vring_kick(fe->d, &k) ?:
	       o->set_vring_call(fe->d, &c) ?: (now ? o->set_vring_enable(fe->d, &en) : 0);
}

/* One replayed command through the shadow CVQ; the device must ack it. */
static int fe_replay_cmd(void *opaque, uint8_t cls, uint8_t cmd, const void *data, size_t len)
{
	struct vdpa_fe *fe = opaque;
	uint32_t written;

	if (len + 2 > CMD_MAX)
		return -E2BIG;
	fe->shadow[SH_CMD] = cls;
	fe->shadow[SH_CMD + 1] = cmd;
	memcpy(fe->shadow + SH_CMD + 2, data, len);
	if (fe_cvq_forward(fe, len + 2, 0, &written) != VIRTIO_NET_OK) {
		vlab_log("vdpa: the device refused replayed control command %u/%u", cls, cmd);
		return -EIO;
	}
	return 0;
}

static uint64_t fe_backend_features(const struct vdpa_fe *fe)
{
	return F(VHOST_BACKEND_F_IOTLB_MSG_V2) | F(VHOST_BACKEND_F_IOTLB_BATCH) |
	       F(VHOST_BACKEND_F_IOTLB_ASID) | F(VHOST_BACKEND_F_SUSPEND) |
	       F(VHOST_BACKEND_F_RESUME) | F(VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK) |
	       (fe->desc_asid ? F(VHOST_BACKEND_F_DESC_ASID) : 0) |
	       (fe->persist ? F(VHOST_BACKEND_F_IOTLB_PERSIST) : 0);
}

/*
 * Guest RAM GPA -> host in address space 0, the CVQ shadow in 1, one
 * batch. Done once at start-up unless late-map (the costly part of a
 * destination's device start, so not during the switch-over; with
 * IOTLB_PERSIST a reset keeps it), else at each DRIVER_OK.
 */
static int fe_map_all(struct vdpa_fe *fe)
{
	struct guest_mem *gm = &fe->vm->mem;
	int i, r = fe_iotlb(fe, 0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0);

	for (i = 0; !r && i < gm->nr_regions; i++)
		r = fe_iotlb(fe, 0, VHOST_IOTLB_UPDATE, gm->regions[i].gpa, gm->regions[i].size,
			     gm->regions[i].host, VHOST_ACCESS_RW);
	/*
	 * The CVQ shadow's driver area is the device's to read only; its
	 * descriptor table writable, as a packed ring's must be (the layout is
	 * not known before the guest negotiates).
	 */
	r = r ?: fe_iotlb(fe, 1, VHOST_IOTLB_UPDATE, SHADOW_IOVA + SH_DESC, SH_DRIVER - SH_DESC,
			  fe->shadow + SH_DESC, VHOST_ACCESS_RW);
	r = r ?: fe_iotlb(fe, 1, VHOST_IOTLB_UPDATE, SHADOW_IOVA + SH_DRIVER,
			  SH_DEVICE - SH_DRIVER, fe->shadow + SH_DRIVER, VHOST_ACCESS_RO);
	r = r ?: fe_iotlb(fe, 1, VHOST_IOTLB_UPDATE, SHADOW_IOVA + SH_DEVICE,
			  SH_SIZE - SH_DEVICE, fe->shadow + SH_DEVICE, VHOST_ACCESS_RW);
	r = fe_iotlb(fe, 0, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0) ?: r;
	fe->mapped = !r;
	return r;
}

/* A device being prepared ahead (fe_preload()) is done after this. */
static void fe_ahead_join(struct vdpa_fe *fe)
{
	if (!fe->ahead_thread_running)
		return;
	pthread_join(fe->ahead_thread, NULL);
	fe->ahead_thread_running = false;
}

/* The transport's ring set-up (the caller keeps the guest from changing it). */
static void fe_rings_from_vdev(struct vdpa_fe *fe, struct fe_rings *r)
{
	struct virtio_dev *vdev = &fe->vdev;
	uint16_t q;

	memset(r, 0, sizeof(*r));
	r->status = virtio_dev_status(vdev);
	r->features = vdev->guest_features;
	r->nr_queues = vdev->nr_queues;
	for (q = 0; q < vdev->nr_queues && q < VDPA_HW_MAX_VQS; q++) {
		r->size[q] = vdev->vqs[q].size;
		r->enabled[q] = vdev->vqs[q].enabled;
		r->desc[q] = vdev->vqs[q].desc_addr;
		r->driver[q] = vdev->vqs[q].driver_addr;
		r->device[q] = vdev->vqs[q].device_addr;
	}
}

static int fe_replay_record(void *opaque, uint8_t cls, uint8_t cmd, const void *data,
			    size_t len)
{
	struct fe_replay_rec *rec = opaque;
	size_t need = rec->len + 4 + len;

	if (need > rec->cap) {
		size_t cap = need * 2;
		uint8_t *p = realloc(rec->p, cap);

		if (!p)
			return -ENOMEM;
		rec->p = p;
		rec->cap = cap;
	}
	rec->p[rec->len++] = cls;
	rec->p[rec->len++] = cmd;
	put_le16(rec->p + rec->len, len);
	rec->len += 2;
	memcpy(rec->p + rec->len, data, len);
	rec->len += len;
	return 0;
}

/* @st's control state as the commands a replay sends; -errno if it cannot say. */
static int fe_replay_bytes(const struct net_state *st, struct fe_replay_rec *rec)
{
	rec->len = 0;
	return net_replay(st, fe_replay_record, rec) < 0 ? -ENOMEM : 0;
}

/*
 * Program the device from @rings: negotiated as the guest did, guest RAM
 * in address space 0 (once), the CVQ's group in space 1 with the shadow
 * ring, the data queues straight to the device.
 *   FE_START: the guest's DRIVER_OK; every vq at once, from the first index.
 *   FE_RESTORE: the migrated state, @base the source's ring bases; the
 *   control state is replayed before the data vqs start.
 *   FE_AHEAD: the early state during pre-copy; replayed as well, then the
 *   device suspended and its data vqs enabled suspended, our workers not
 *   started: fe_resume_ahead() finishes it at the switch-over.
 */
static int fe_program(struct vdpa_fe *fe, const struct fe_rings *rings, const uint16_t *base,
		      enum fe_program_mode mode)
{
	const struct vdpa_dev_ops *o = fe->d->ops;
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	struct vhost_vring_state cvq_group = { VDPA_HW_GROUP_CVQ, 1 };
	uint16_t cvq = net_state_cvq_index(&fe->st), q;
	bool packed = rings->features & F(VIRTIO_F_RING_PACKED);
	/* Packed: index 0 of the first lap, both wrap counters 1 (bit 15). */
	uint16_t first = packed ? 0x8000 : 0;
	int r;

	/* Doorbells were handed out at attach: the CVQ must be the last queue. */
	if (cvq != rings->nr_queues - 1) {
		vlab_log("vdpa: with queues=%u the driver must negotiate VIRTIO_NET_F_MQ",
			 (rings->nr_queues - 1) / 2);
		return -1;
	}
	r = o->set_backend_features(fe->d, fe_backend_features(fe));
	r = r ?: o->set_status(fe->d, s);
	r = r ?: o->set_config_call(fe->d, fe->config_call);
	r = r ?: o->set_features(fe->d, rings->features | F(VIRTIO_F_ACCESS_PLATFORM));
	r = r ?: o->set_status(fe->d, s | VIRTIO_CONFIG_S_FEATURES_OK);
	if (!r && !(o->get_status(fe->d) & VIRTIO_CONFIG_S_FEATURES_OK))
		r = -EINVAL;
	r = r ?: o->set_group_asid(fe->d, &cvq_group);
	if (!r && !fe->mapped)
		r = fe_map_all(fe);
	for (q = 0; !r && q < rings->nr_queues; q++) {
		if (q == cvq)
			continue;
		fe->call_cur[q] = fe_call_fd(fe, q);
		/* Restoring: data vqs start only once the replay has set the filters. */
		r = fe_vring(fe, q, rings->size[q], base ? base[q] : first, rings->desc[q],
			     rings->driver[q], rings->device[q], fe->kick[q], fe->call_cur[q],
			     rings->enabled[q], mode == FE_START);
	}
	if (!r) {
		struct vdrv_rings sh = {
			.desc = fe->shadow + SH_DESC, .driver = fe->shadow + SH_DRIVER,
			.device = fe->shadow + SH_DEVICE, .desc_addr = SHADOW_IOVA + SH_DESC,
			.driver_addr = SHADOW_IOVA + SH_DRIVER,
			.device_addr = SHADOW_IOVA + SH_DEVICE,
		};

		/* One ring layout for every vq of the device: the guest's. */
		vdrv_setup(&fe->cvq, &sh, fe->cvq_aux, SHADOW_QSIZE, rings->features);
		r = fe_vring(fe, cvq, SHADOW_QSIZE, first, sh.desc_addr, sh.driver_addr,
			     sh.device_addr, fe->cvq_kick, fe->cvq_call, true, true);
	}
	r = r ?: o->set_status(fe->d, s | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	if (!r && (o->get_status(fe->d) & VIRTIO_CONFIG_S_NEEDS_RESET))
		r = -EIO;
	/*
	 * At the destination the device is fresh: what the guest set through
	 * its control queue is replayed (deltas from the reset defaults),
	 * then the data vqs start (ahead: enabled while suspended, so they
	 * start with the resume).
	 */
	if (!r && mode != FE_START) {
		int n = net_replay(&fe->st, fe_replay_cmd, fe);

		r = n < 0 ? n : 0;
		if (n > 0)
			vlab_log("vdpa: %d control command(s) replayed into the device%s", n,
				 mode == FE_AHEAD ? " ahead" : "");
		if (!r && mode == FE_AHEAD)
			r = o->suspend(fe->d);
		for (q = 0; !r && q < cvq; q++) {
			struct vhost_vring_state en = { q, 1 };

			if (rings->enabled[q])
				r = o->set_vring_enable(fe->d, &en);
		}
	}
	if (r) {
		vlab_log("vdpa: the device did not start: %s", strerror(-r));
		for (q = 0; q < rings->nr_queues; q++)
			if (fe->sim->hw.vqs[q].state == VDPA_VQ_ERR)
				vlab_log("vdpa: vq %u: %s", q, fe->sim->hw.vqs[q].fault);
		return -1;
	}
	if (mode == FE_AHEAD)
		return 0;
	fe->started = true;
	return fe_workers_start(fe) ? -1 : 0;
}

/* Interrupts the device raised while we were stopped may be lost: raise them all. */
static void fe_signal_all(struct vdpa_fe *fe)
{
	uint16_t q;

	for (q = 0; q < fe->vdev.nr_queues; q++)
		virtio_dev_signal_queue(&fe->vdev, q);
}

/* ---- switching between passthrough and shadow virtqueues ---- */

/*
 * With DESC_ASID the data vqs' rings have a group of their own: moved to
 * address space 1 (with the shadows) for the shadowed data path, back to 0
 * (guest RAM) for passthrough. The device is suspended.
 */
static int fe_desc_group_asid(struct vdpa_fe *fe, uint32_t asid)
{
	struct vhost_vring_state g = { 0, 0 }, ga;
	int r;

	if (!fe->desc_asid)
		return 0;
	r = fe->d->ops->get_vring_desc_group(fe->d, &g);
	ga = (struct vhost_vring_state){ g.num, asid };
	return r ?: fe->d->ops->set_group_asid(fe->d, &ga);
}

/* Where the shadow rings are mapped. */
static uint32_t fe_svq_asid(const struct vdpa_fe *fe)
{
	return fe->desc_asid ? 1 : 0;
}

/* Forget queue @q's shadow (the device no longer uses it). */
static void fe_svq_free(struct vdpa_fe *fe, uint16_t q)
{
	struct fe_svq *fs = &fe->svqs[q];

	if (fs->kick >= 0)
		close(fs->kick);
	if (fs->call >= 0) {
		worker_del_fd(fe_svq_worker(fe, q), fs->call);
		close(fs->call);
	}
	fs->kick = fs->call = -1;
	fs->db.reg = NULL;
	if (!fs->mem)
		return;
	worker_del_fd(fe_svq_worker(fe, q), fe->kick[q]);
	svq_exit(&fs->svq);
	munmap(fs->mem, fs->len);
	fs->mem = NULL;
}

/*
 * Shadow -> passthrough, the device suspended and our worker stopped: take
 * the device's last completions, give what is still in flight back to the
 * guest's ring, and point each vq at the guest's rings from the guest's
 * position with the guest's doorbell and interrupt. The caller resumes
 * (or not, at stop-and-copy) and raises the guests' interrupts.
 */
static int fe_svq_stop(struct vdpa_fe *fe)
{
	const struct vdpa_dev_ops *o = fe->d->ops;
	struct virtio_dev *vdev = &fe->vdev;
	uint16_t q, base;
	uint64_t one = 1;
	int r = 0, e;

	fe_iotlb(fe, fe_svq_asid(fe), VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0);
	for (q = 0; q + 1 < vdev->nr_queues; q++) {
		struct fe_svq *fs = &fe->svqs[q];
		struct virtq *vq = &vdev->vqs[q];
		struct vhost_vring_addr a = { .index = q, .desc_user_addr = vq->desc_addr,
					      .avail_user_addr = vq->driver_addr,
					      .used_user_addr = vq->device_addr };
		struct vhost_vring_state b = { q, 0 };
		struct vhost_vring_file k = { q, fe->kick[q] }, c = { q, -1 };

		if (!fs->mem)
			continue;
		svq_used(&fs->svq);
		e = svq_rewind(&fs->svq) ?: virtq_get_base(vq, &base);
		if (e) {
			vlab_log("vdpa: vq %u: buffers in flight cannot go back to the guest", q);
			r = e;
			base = vq->used_idx;
		}
		b.num = base;
		fe->call_cur[q] = c.fd = fe_call_fd(fe, q);
		e = o->set_vring_addr(fe->d, &a) ?: o->set_vring_base(fe->d, &b) ?:
		    o->set_vring_kick(fe->d, &k) ?: o->set_vring_call(fe->d, &c);
		r = r ?: e;
		fe_iotlb(fe, fe_svq_asid(fe), VHOST_IOTLB_INVALIDATE,
			   SVQ_IOVA + q * SVQ_IOVA_STEP, fs->len, NULL, 0);
		fe_svq_free(fe, q);
		/* Anything the guest published meanwhile: the device looks again. */
		if (write(fe->kick[q], &one, sizeof(one)) < 0)
			r = r ?: -errno;
	}
	fe_iotlb(fe, fe_svq_asid(fe), VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0);
	e = fe_desc_group_asid(fe, 0);
	fe->svq_on = false;
	return r ?: e;
}

/*
 * Passthrough -> shadow, our worker stopped: suspend the device, start
 * each guest ring where the device left it, map the shadow rings (one
 * batch), point the vqs at them with our doorbells and interrupts,
 * resume. The guest's doorbells now wake our worker.
 */
static int fe_svq_start(struct vdpa_fe *fe)
{
	const struct vdpa_dev_ops *o = fe->d->ops;
	struct virtio_dev *vdev = &fe->vdev;
	uint64_t features = vdev->guest_features;
	uint16_t q, nq = vdev->nr_queues - 1;
	uint32_t as = fe_svq_asid(fe);
	int r = o->suspend(fe->d);

	r = r ?: fe_desc_group_asid(fe, 1);
	r = r ?: fe_iotlb(fe, as, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0);
	for (q = 0; !r && q < nq; q++) {
		struct virtq *vq = &vdev->vqs[q];
		struct fe_svq *fs = &fe->svqs[q];
		struct vhost_vring_state base = { q, 0 };
		uint64_t iova = SVQ_IOVA + q * SVQ_IOVA_STEP, ro, ro_len, rw, rw_len;

		if (!vq->enabled)
			continue;
		r = o->get_vring_base(fe->d, &base) ?: virtq_set_base(vq, base.num);
		if (r)
			break;
		fs->len = svq_ring_bytes(vq->size, features);
		fs->mem = mmap(NULL, fs->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (fs->mem == MAP_FAILED) {
			fs->mem = NULL;
			r = -ENOMEM;
			break;
		}
		fs->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		fs->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fs->kick < 0 || fs->call < 0 || svq_init(&fs->svq, vq, features, fs->mem, iova)) {
			munmap(fs->mem, fs->len);
			fs->mem = NULL;
			fe_svq_free(fe, q);
			r = -ENOMEM;
			break;
		}
		svq_areas(&fs->svq, &ro, &ro_len, &rw, &rw_len);
		r = fe_iotlb(fe, as, VHOST_IOTLB_UPDATE, iova + ro, ro_len,
			       (uint8_t *)fs->mem + ro, VHOST_ACCESS_RO) ?:
		    fe_iotlb(fe, as, VHOST_IOTLB_UPDATE, iova + rw, rw_len,
			       (uint8_t *)fs->mem + rw, VHOST_ACCESS_RW);
	}
	r = fe_iotlb(fe, as, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0) ?: r;
	for (q = 0; !r && q < nq; q++) {
		struct fe_svq *fs = &fe->svqs[q];
		struct vhost_vring_addr a = { .index = q };
		struct vhost_vring_state b = { q, 0 };
		struct vhost_vring_file k = { q, fs->kick }, c = { q, fs->call };
		uint64_t desc, drv, dev;

		if (!fs->mem)
			continue;
		/* The doorbell if the device has one (the kick eventfd stays as well). */
		if (fe->conf.no_doorbell || !o->get_vq_notification ||
		    o->get_vq_notification(fe->d, q, &fs->db))
			fs->db.reg = NULL;
		svq_rings(&fs->svq, &desc, &drv, &dev);
		a.desc_user_addr = desc;
		a.avail_user_addr = drv;
		a.used_user_addr = dev;
		b.num = svq_base(&fs->svq);
		r = o->set_vring_addr(fe->d, &a) ?: o->set_vring_base(fe->d, &b) ?:
		    o->set_vring_kick(fe->d, &k) ?: o->set_vring_call(fe->d, &c) ?:
		    worker_add_fd(fe_svq_worker(fe, q), fe->kick[q], fe_on_guest_kick,
				  &fe->calls[q]) ?:
		    worker_add_fd(fe_svq_worker(fe, q), fs->call, fe_on_svq_call, &fe->calls[q]);
	}
	fe->svq_on = true;
	if (r) {
		vlab_log("vdpa: cannot switch to shadow virtqueues: %s", strerror(-r));
		fe_svq_stop(fe);
	}
	return o->resume(fe->d) ?: r;
}

/*
 * QEMU's way to the shadows (switch=reset), kept to measure what the
 * suspend-based switch saves: stop the device, read where each vq is,
 * reset it (its objects go, and its maps without IOTLB_PERSIST), start it
 * again from those bases as a destination does (maps, vq objects, control
 * state replayed), then put the shadows in.
 */
static int fe_svq_start_reset(struct vdpa_fe *fe)
{
	const struct vdpa_dev_ops *o = fe->d->ops;
	uint16_t base[VDPA_HW_MAX_VQS] = { 0 }, q;
	int r = o->suspend(fe->d);

	for (q = 0; !r && q + 1 < fe->vdev.nr_queues; q++) {
		struct vhost_vring_state s = { q, 0 };

		r = o->get_vring_base(fe->d, &s);
		base[q] = s.num;
	}
	if (r)
		return r;
	o->set_status(fe->d, 0);
	if (!fe->persist)
		fe->mapped = false;
	{
		struct fe_rings rings;

		fe_rings_from_vdev(fe, &rings);
		r = fe_program(fe, &rings, base, FE_RESTORE);
	}
	/* fe_program() starts our workers: the switch wants them stopped. */
	fe_workers_stop(fe);
	return r ?: fe_svq_start(fe);
}

/* Switch the data path of a running device, with our worker stopped meanwhile. */
static int fe_svq_toggle(struct vdpa_fe *fe, bool on)
{
	int r;

	fe_workers_stop(fe);
	if (on && fe->conf.switch_reset) {
		r = fe_svq_start_reset(fe);
	} else if (on) {
		r = fe_svq_start(fe);
	} else {
		r = fe->d->ops->suspend(fe->d);
		r = r ?: fe_svq_stop(fe);
		r = fe->d->ops->resume(fe->d) ?: r;
	}
	fe_workers_start(fe);
	fe_workers_kick(fe);
	return r;
}

/*
 * Dirty logging starts or stops (a migration begins or ends): switch a
 * running device. A start that fails fails the migration: passthrough
 * writes would be lost.
 */
static int fe_svq_switch(struct vdpa_fe *fe, bool on)
{
	const char *fail = NULL;
	int r = 0;

	pthread_mutex_lock(&fe->switch_lock);
	fe->svq_wanted = on;
	if (fe->started && !fe->suspended && fe->svq_on != on) {
		uint64_t t0 = vlab_now_ns(), rebuilds = fe->sim->hw.as_rebuilds[0];

		r = fe_svq_toggle(fe, on);
		if (r)
			fail = on ? "the vDPA device could not switch to shadow virtqueues" :
				    "the vDPA device could not return to passthrough";
		else
			vlab_log("vdpa: data queues %s (%.1f ms, guest RAM's map rebuilt %llu "
				 "time(s)%s)", on ? "through shadow virtqueues" : "back in passthrough",
				 (vlab_now_ns() - t0) / 1e6,
				 (unsigned long long)(fe->sim->hw.as_rebuilds[0] - rebuilds),
				 !on ? "" : fe->conf.no_doorbell || !fe->d->ops->get_vq_notification ?
				 ", kicks by eventfd" : ", kicks by doorbell");
		fe_signal_all(fe);
	}
	pthread_mutex_unlock(&fe->switch_lock);
	if (fail)
		virtio_dev_needs_reset(&fe->vdev, fail);
	return r;
}

static int fe_dirty_start(void *opaque)
{
	return fe_svq_switch(opaque, true);
}

/* Nothing of its own: the shadow virtqueues log through the guest's views. */
static int fe_dirty_collect(void *opaque, unsigned long *bm)
{
	return 0;
}

static void fe_dirty_stop(void *opaque)
{
	fe_svq_switch(opaque, false);
}

static int fe_start(struct virtio_dev *vdev)
{
	struct vdpa_fe *fe = vdev->priv;
	struct fe_rings rings;
	int r;

	/* Called with the transport's lock held: the rings cannot change. */
	fe_rings_from_vdev(fe, &rings);
	pthread_mutex_lock(&fe->switch_lock);
	r = fe_program(fe, &rings, NULL, FE_START);
	/* Started during a migration: its writes must be logged from the first. */
	if (!r && fe->svq_wanted)
		r = fe_svq_toggle(fe, true);
	pthread_mutex_unlock(&fe->switch_lock);
	return r ? -1 : 0;
}

static void fe_reset(struct virtio_dev *vdev)
{
	struct vdpa_fe *fe = vdev->priv;
	uint16_t q;

	fe_ahead_join(fe);
	pthread_mutex_lock(&fe->switch_lock);
	fe_workers_stop(fe);
	fe->d->ops->set_status(fe->d, 0);
	if (!fe->persist)
		fe->mapped = false;
	for (q = 0; q < VDPA_HW_MAX_VQS; q++)
		fe_svq_free(fe, q);
	fe->svq_on = false;
	pthread_mutex_lock(&fe->lock);
	net_state_reset(&fe->st);
	pthread_mutex_unlock(&fe->lock);
	fe->started = fe->suspended = fe->restore_pending = fe->ahead = false;
	pthread_mutex_unlock(&fe->switch_lock);
}

static int fe_set_features(struct virtio_dev *vdev, uint64_t features)
{
	struct vdpa_fe *fe = vdev->priv;

	pthread_mutex_lock(&fe->lock);
	net_state_set_features(&fe->st, features);
	pthread_mutex_unlock(&fe->lock);
	return 0;
}

static void fe_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	struct vdpa_fe *fe = vdev->priv;
	const uint32_t at = offsetof(struct virtio_net_config, status);
	uint16_t announce;

	if (fe->d->ops->get_config(fe->d, off, buf, len))
		memset(buf, 0, len);
	/*
	 * A fresh device at the destination knows nothing of the move: the
	 * announcement request is ours (as QEMU does for vhost-vdpa), until
	 * the guest acks it through the control queue.
	 */
	pthread_mutex_lock(&fe->lock);
	announce = fe->st.status & VIRTIO_NET_S_ANNOUNCE;
	pthread_mutex_unlock(&fe->lock);
	if (announce && off <= at && off + len > at)
		((uint8_t *)buf)[at - off] |= VIRTIO_NET_S_ANNOUNCE;
}

static void fe_config_write(struct virtio_dev *vdev, uint32_t off, const void *buf,
			    uint32_t len)
{
}

/* ---- migration and snapshots ---- */

/*
 * The suspended device's DEVICE_STATS counters into fe->dev_stats (its
 * vendor vq statistics): they travel with the state, added to what was
 * carried, so that the destination's new device goes on counting from
 * them. Read after the suspend, so no frame is counted that is not in
 * guest memory, and none missed.
 */
static void fe_stats_read(struct vdpa_fe *fe)
{
	uint16_t q, cvq = net_state_cvq_index(&fe->st);
	uint8_t res[1024];
	int n;

	fe->dev_stats_read = false;
	if (!fe->dev_stats || !net_has_feature(&fe->st, VIRTIO_NET_F_DEVICE_STATS))
		return;
	if (!fe->d->ops->get_vq_stats) {
		vlab_log("vdpa: the device's counters cannot be read; they restart at the destination");
		return;
	}
	pthread_mutex_lock(&fe->lock);
	*fe->dev_stats = fe->st;
	pthread_mutex_unlock(&fe->lock);
	memset(fe->dev_stats->rxq_stats, 0, sizeof(fe->dev_stats->rxq_stats));
	memset(fe->dev_stats->txq_stats, 0, sizeof(fe->dev_stats->txq_stats));
	for (q = 0; q < cvq; q++) {
		n = fe->d->ops->get_vq_stats(fe->d, q, res, sizeof(res));
		if (n < 0) {
			vlab_log("vdpa: vq %u: counters not readable (%s); they restart at the "
				 "destination", q, strerror(-n));
			return;
		}
		net_ctrl_stats_merge(fe->dev_stats, res, n, false);
	}
	fe->dev_stats_read = true;
}

/*
 * Stop-and-copy: our worker first (a CVQ command in flight completes),
 * then the device, whose vq bases are read back.
 */
static void fe_quiesce(struct virtio_dev *vdev)
{
	struct vdpa_fe *fe = vdev->priv;
	uint16_t q, cvq = vdev->nr_queues - 1;

	uint64_t t0 = vlab_now_ns();

	pthread_mutex_lock(&fe->switch_lock);
	memset(&fe->mig, 0, sizeof(fe->mig));
	if (!fe->started)
		goto out;
	fe_workers_stop(fe);
	fe->d->ops->suspend(fe->d);
	fe_stats_read(fe);
	/* Shadowed: what the device finished goes to the guest, the rest back. */
	if (fe->svq_on && fe_svq_stop(fe))
		vlab_log("vdpa: stop-and-copy: the shadow virtqueues did not stop cleanly");
	for (q = 0; q < cvq; q++) {
		struct vhost_vring_state s = { q, 0 };

		if (!fe->d->ops->get_vring_base(fe->d, &s))
			fe->mig.base[q] = s.num;
	}
	fe->mig.running = true;
	fe->suspended = true;
	vlab_log("vdpa: device stopped for the switch-over in %.1f ms", (vlab_now_ns() - t0) / 1e6);
out:
	pthread_mutex_unlock(&fe->switch_lock);
}

/* ---- the destination's device started ahead, from the early state ---- */

/* The source, running: the rings and control state, for the destination to start ahead. */
static int fe_save_early(struct virtio_dev *vdev, struct state_buf *sb)
{
	struct vdpa_fe *fe = vdev->priv;
	struct fe_rings rings;

	pthread_mutex_lock(&vdev->lock);
	fe_rings_from_vdev(fe, &rings);
	pthread_mutex_unlock(&vdev->lock);
	if (!(rings.status & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    (rings.status & VIRTIO_CONFIG_S_NEEDS_RESET))
		return 0;	/* nothing to start */
	state_put_struct(sb, "rings", 1, &rings, fe_rings_fields, ARRAY_SIZE(fe_rings_fields));
	return net_state_save_locked(sb, &fe->st, &fe->lock, NULL);
}

static void *fe_ahead_run(void *opaque)
{
	struct vdpa_fe *fe = opaque;
	uint64_t t0 = vlab_now_ns();
	int r;

	pthread_mutex_lock(&fe->switch_lock);
	r = fe_program(fe, &fe->ahead_rings, NULL, FE_AHEAD);
	if (!r)
		r = fe_replay_bytes(&fe->st, &fe->ahead_replay);
	fe->ahead = !r;
	if (r)
		fe->d->ops->set_status(fe->d, 0);
	pthread_mutex_unlock(&fe->switch_lock);
	if (!r)
		vlab_log("vdpa: device prepared ahead from the early state in %.1f ms",
			 (vlab_now_ns() - t0) / 1e6);
	else
		vlab_log("vdpa: could not prepare the device ahead; it starts at the switch-over");
	return NULL;
}

/*
 * The destination, during pre-copy: program the fresh device from the
 * early state on a thread of its own (the firmware takes its time; the
 * stream goes on meanwhile). Checked as the final state would be; on any
 * doubt it is left for the switch-over.
 */
static void fe_preload(struct virtio_dev *vdev, const void *fdt, int node)
{
	struct vdpa_fe *fe = vdev->priv;
	struct fe_rings rings;
	struct net_state *st;
	char err[256];
	uint16_t q;
	int r;

	if (fe->conf.no_ahead || fdt_subnode_offset(fdt, node, "rings") < 0)
		return;
	st = malloc(sizeof(*st));
	if (!st)
		return;
	memset(&rings, 0, sizeof(rings));	/* compared whole, padding too */
	r = state_get_struct(fdt, node, "rings", 1, &rings, fe_rings_fields,
			     ARRAY_SIZE(fe_rings_fields), err, sizeof(err));
	if (!r && (rings.nr_queues != vdev->nr_queues ||
		   (rings.features & ~vdev->host_features))) {
		snprintf(err, sizeof(err), "queues or features differ from this device's");
		r = -1;
	}
	for (q = 0; !r && q < rings.nr_queues; q++) {
		if (rings.enabled[q] && (!rings.size[q] || rings.size[q] > vdev->vqs[q].max_size ||
					 (rings.size[q] & (rings.size[q] - 1)))) {
			snprintf(err, sizeof(err), "vq %u: ring size %u", q, rings.size[q]);
			r = -1;
		}
	}
	if (!r) {
		pthread_mutex_lock(&fe->lock);
		r = net_state_load_checked(fdt, node, st, &fe->st, rings.features, "vdpa-net",
					   err, sizeof(err));
		pthread_mutex_unlock(&fe->lock);
	}
	if (r) {
		vlab_log("vdpa: early state not used: %s", err);
		free(st);
		return;
	}
	fe_ahead_join(fe);
	pthread_mutex_lock(&fe->switch_lock);
	if (fe->started || fe->restore_pending) {
		pthread_mutex_unlock(&fe->switch_lock);
		free(st);
		return;
	}
	/* A second early state (a new stream): start over. */
	if (fe->ahead)
		fe->d->ops->set_status(fe->d, 0);
	fe->ahead = false;
	pthread_mutex_lock(&fe->lock);
	fe->st = *st;
	pthread_mutex_unlock(&fe->lock);
	fe->ahead_rings = rings;
	pthread_mutex_unlock(&fe->switch_lock);
	free(st);
	fe->ahead_thread_running = !pthread_create(&fe->ahead_thread, NULL, fe_ahead_run, fe);
}

/*
 * The switch-over, switch_lock held: if the device was prepared ahead
 * and the final state has the same rings and control state, set each
 * data vq's base and resume (one batch of firmware commands). 1 if so, 0
 * if the device must be programmed (it is reset), <0 on error.
 */
static int fe_resume_ahead(struct vdpa_fe *fe)
{
	const struct vdpa_dev_ops *o = fe->d->ops;
	struct fe_replay_rec now = { 0 };
	struct fe_rings rings;
	const char *why = NULL;
	uint16_t q;
	int r = 0;

	if (!fe->ahead)
		return 0;
	fe->ahead = false;
	fe_rings_from_vdev(fe, &rings);
	if (memcmp(&rings, &fe->ahead_rings, sizeof(rings)))
		why = "the guest changed its rings";
	else if (fe_replay_bytes(&fe->st, &now) || now.len != fe->ahead_replay.len ||
		 (now.len && memcmp(now.p, fe->ahead_replay.p, now.len)))
		why = "the guest changed its control state";
	free(now.p);
	if (why) {
		vlab_log("vdpa: %s since the early state: the device is programmed again", why);
		o->set_status(fe->d, 0);
		return 0;
	}
	for (q = 0; !r && q + 1 < rings.nr_queues; q++) {
		struct vhost_vring_state b = { q, fe->mig.base[q] };
		struct vhost_vring_file c;

		if (!rings.enabled[q])
			continue;
		fe->call_cur[q] = fe_call_fd(fe, q);
		c = (struct vhost_vring_file){ q, fe->call_cur[q] };
		r = o->set_vring_base(fe->d, &b) ?: o->set_vring_call(fe->d, &c);
	}
	r = r ?: o->resume(fe->d);
	if (r) {
		vlab_log("vdpa: the device prepared ahead did not resume: %s", strerror(-r));
		return -1;
	}
	fe->started = true;
	return fe_workers_start(fe) ? -1 : 1;
}

/*
 * At the source after a failed or cancelled migration (or a snapshot):
 * resume. At the destination: program the fresh device from the loaded
 * state, starting each data vq at the source's base.
 */
static void fe_unquiesce(struct virtio_dev *vdev)
{
	struct vdpa_fe *fe = vdev->priv;
	uint8_t st = virtio_dev_status(vdev);
	const char *fail = NULL;
	int r;

	pthread_mutex_lock(&fe->switch_lock);
	if (fe->restore_pending) {
		bool mapped = fe->mapped;
		uint64_t t0 = vlab_now_ns();

		fe->restore_pending = false;
		if (!fe->mig.running || (st & VIRTIO_CONFIG_S_NEEDS_RESET) ||
		    !(st & VIRTIO_CONFIG_S_DRIVER_OK))
			goto out;
		r = fe_resume_ahead(fe);
		if (r > 0) {
			vlab_log("vdpa: device started from the migrated state in %.1f ms (prepared "
				 "during pre-copy: resumed)", (vlab_now_ns() - t0) / 1e6);
		} else {
			struct fe_rings rings;

			fe_rings_from_vdev(fe, &rings);
			if (r < 0 || fe_program(fe, &rings, fe->mig.base, FE_RESTORE)) {
				fail = "the vDPA device did not start at the destination";
				goto out;
			}
			vlab_log("vdpa: device started from the migrated state in %.1f ms (guest "
				 "RAM mapped %s)", (vlab_now_ns() - t0) / 1e6,
				 mapped ? "at start-up" : "now");
		}
	} else if (fe->suspended) {
		/* In passthrough: stop-and-copy took the shadows down. */
		fe->suspended = false;
		fe->dev_stats_read = false;
		if (fe->d->ops->resume(fe->d) || fe_workers_start(fe)) {
			fail = "the vDPA device did not resume";
			goto out;
		}
	} else {
		goto out;
	}
	fe_workers_kick(fe);
	fe_signal_all(fe);
out:
	pthread_mutex_unlock(&fe->switch_lock);
	if (fail)
		virtio_dev_needs_reset(vdev, fail);
}

/* At the destination: ask the guest to announce its new location. */
static void fe_migrated(struct virtio_dev *vdev)
{
	struct vdpa_fe *fe = vdev->priv;

	net_announce_moved(vdev, &fe->st, &fe->lock);
}

static int fe_save(struct virtio_dev *vdev, struct state_buf *sb)
{
	struct vdpa_fe *fe = vdev->priv;

	state_put_struct(sb, "passthrough", 1, &fe->mig, fe_mig_fields,
			 ARRAY_SIZE(fe_mig_fields));
	/* What the device counted goes on from the carried counters. */
	return net_state_save_locked(sb, &fe->st, &fe->lock,
				     fe->dev_stats_read ? fe->dev_stats : NULL);
}

/*
 * Checked in full before anything is taken over. The common virtio state
 * is already loaded: ring sizes and layout are the source's.
 */
static int fe_load(struct virtio_dev *vdev, const void *fdt, int node, char *err,
		   size_t errlen)
{
	struct vdpa_fe *fe = vdev->priv;
	bool packed = vdev->guest_features & F(VIRTIO_F_RING_PACKED);
	struct fe_mig m = { 0 };
	struct net_state st;
	uint16_t q;
	int r;

	/* A device being prepared ahead is done first (it reads fe->st). */
	fe_ahead_join(fe);
	if (state_get_struct(fdt, node, "passthrough", 1, &m, fe_mig_fields,
			     ARRAY_SIZE(fe_mig_fields), err, errlen))
		return -1;
	for (q = 0; q + 1 < vdev->nr_queues; q++) {
		if (packed && (m.base[q] & 0x7fff) >= vdev->vqs[q].size) {
			snprintf(err, errlen, "vdpa-net: vq %u: base 0x%x outside a ring of %u", q,
				 m.base[q], vdev->vqs[q].size);
			return -1;
		}
	}
	for (; q < VDPA_HW_MAX_VQS; q++) {
		if (m.base[q]) {
			snprintf(err, errlen, "vdpa-net: vring-base for vq %u, which is not a data vq",
				 q);
			return -1;
		}
	}
	pthread_mutex_lock(&fe->lock);
	r = net_state_load_checked(fdt, node, &st, &fe->st, vdev->host_features, "vdpa-net", err,
				   errlen);
	pthread_mutex_unlock(&fe->lock);
	if (r)
		return -1;
	/* The source has stopped its device: on the wire now (see vdpa_sim_net_attach). */
	if (fe->sim->cfg.defer_backend && fe->sim->be.fd < 0 &&
	    vdpa_sim_net_attach(fe->sim, err, errlen))
		return -1;
	pthread_mutex_lock(&fe->lock);
	fe->st = st;
	pthread_mutex_unlock(&fe->lock);
	fe->mig = m;
	fe->restore_pending = true;
	return 0;
}

static const struct virtio_dev_ops fe_ops = {
	.name = "vdpa-net",
	.device_id = VIRTIO_ID_NET,
	.pci_class = 0x020000,
	.config_size = sizeof(struct virtio_net_config),
	.set_features = fe_set_features,
	.config_read = fe_config_read,
	.config_write = fe_config_write,
	.queue_kick_fd = fe_queue_kick_fd,
	.queue_worker = fe_queue_worker,
	.queue_notify = fe_queue_notify,
	.start = fe_start,
	.reset = fe_reset,
	.save = fe_save,
	.load = fe_load,
	.quiesce = fe_quiesce,
	.unquiesce = fe_unquiesce,
	.migrated = fe_migrated,
	.save_early = fe_save_early,
	.preload = fe_preload,
	.irq_changed = fe_irq_changed,
};

/* ---- the --vdpa device kind ---- */

static void fe_free(struct vdpa_fe *fe)
{
	int i;

	fe_ahead_join(fe);
	free(fe->ahead_replay.p);
	for (i = 0; i < VDPA_HW_MAX_VQS; i++)
		fe_svq_free(fe, i);
	if (fe->worker_ready)
		worker_exit(&fe->worker);
	for (i = 0; i < VDPA_HW_MAX_PAIRS; i++)
		if (fe->pairs[i].ready)
			worker_exit(&fe->pairs[i].worker);
	if (fe->sim)
		vdpa_sim_net_free(fe->sim);
	for (i = 0; i < VDPA_HW_MAX_VQS; i++)
		if (fe->call[i] >= 0)
			close(fe->call[i]);
	if (fe->cvq_kick >= 0)
		close(fe->cvq_kick);
	if (fe->cvq_call >= 0)
		close(fe->cvq_call);
	if (fe->config_call >= 0)
		close(fe->config_call);
	if (fe->shadow)
		munmap(fe->shadow, SH_SIZE);
	free(fe->dev_stats);
	if (fe->vdev.vqs)
		virtio_dev_exit(&fe->vdev);
	free(fe);
}

static void *vdpa_kind_create(struct vm *vm, const void *config, int index, char *err,
			      size_t errlen)
{
	const struct vdpa_net_conf *c = config;
	struct vdpa_sim_net_config sc = {
		.model = c->model, .queue_pairs = c->net.queue_pairs, .mtu = c->net.mtu,
		.fw_scale = c->fw_scale, .fw_parallel = c->fw_async, .precreate = !c->no_precreate,
		.mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x66 + index },
	};
	struct vdpa_fe *fe = calloc(1, sizeof(*fe));
	uint16_t nvq = 2 * c->net.queue_pairs + 1, i;
	uint64_t offered;

	if (!fe) {
		snprintf(err, errlen, "vdpa: out of memory");
		return NULL;
	}
	fe->vm = vm;
	fe->conf = *c;
	pthread_mutex_init(&fe->lock, NULL);
	pthread_mutex_init(&fe->switch_lock, NULL);
	fe->cvq_kick = fe->cvq_call = fe->config_call = -1;
	fe->worker.wake_fd = -1;
	for (i = 0; i < VDPA_HW_MAX_VQS; i++) {
		fe->kick[i] = fe->call[i] = fe->call_cur[i] = -1;
		fe->svqs[i].kick = fe->svqs[i].call = -1;
		fe->calls[i].fe = fe;
		fe->calls[i].q = i;
	}
	if (c->net.mac_set)
		memcpy(sc.mac, c->net.mac, 6);
	snprintf(sc.backend, sizeof(sc.backend), "%s", c->net.backend);
	snprintf(sc.pcap, sizeof(sc.pcap), "%s", c->net.pcap);
	sc.pcap_max_mb = c->net.pcap_max_mb;
	/* As virtio-net: an incoming guest joins a hub once the source let go (fe_load). */
	sc.defer_backend = vm->cfg->incoming && !strncmp(sc.backend, "hub=", 4);
	fe->sim = vdpa_sim_net_new(&sc, err, errlen);
	if (!fe->sim)
		goto fail;
	fe->d = &fe->sim->dev;
	/* Shadow rings in a space of their own: the switch leaves guest RAM's map alone. */
	offered = fe->d->ops->get_backend_features(fe->d);
	fe->desc_asid = !c->no_desc_asid && (offered & F(VHOST_BACKEND_F_DESC_ASID));
	fe->persist = !c->no_persist && (offered & F(VHOST_BACKEND_F_IOTLB_PERSIST));
	net_state_init(&fe->st, sc.mac, c->net.queue_pairs);
	fe->st.mtu = c->net.mtu;
	fe->shadow = mmap(NULL, SH_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	fe->dev_stats = calloc(1, sizeof(*fe->dev_stats));
	fe->cvq_kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fe->cvq_call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fe->config_call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fe->worker_ready = !worker_init(&fe->worker, "vdpa-fe", fe_run, fe);
	if (fe->shadow == MAP_FAILED)
		fe->shadow = NULL;
	if (!fe->shadow || !fe->dev_stats || fe->cvq_kick < 0 || fe->cvq_call < 0 ||
	    fe->config_call < 0 ||
	    !fe->worker_ready || worker_add_fd(&fe->worker, fe->config_call, fe_on_config, fe))
		goto nomem;
	for (i = 0; !c->svq_one_thread && i < c->net.queue_pairs; i++) {
		char name[16];

		snprintf(name, sizeof(name), "vdpa-svq%u", i);
		fe->pairs[i] = (struct fe_pair){ .fe = fe, .p = i };
		fe->pairs[i].worker.wake_fd = -1;
		if (worker_init(&fe->pairs[i].worker, name, fe_pair_run, &fe->pairs[i]))
			goto nomem;
		fe->pairs[i].ready = true;
	}
	for (i = 0; i < nvq; i++) {
		fe->call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fe->call[i] < 0 || worker_add_fd(&fe->worker, fe->call[i], fe_on_call,
						     &fe->calls[i]))
			goto nomem;
	}
	if (virtio_dev_init(&fe->vdev, &fe_ops, fe, &vm->mem, nvq, QUEUE_MAX))
		goto nomem;
	/* Guest RAM into the device now, not at DRIVER_OK or a migration's switch-over. */
	if (!c->late_map && (fe->d->ops->set_backend_features(fe->d, fe_backend_features(fe)) ||
			     fe_map_all(fe))) {
		snprintf(err, errlen, "vdpa: the device did not take guest RAM's map");
		goto fail;
	}
	/* What the device offers, as the guest must see it: no IOMMU in front of it. */
	fe->vdev.host_features = fe->d->ops->get_features(fe->d) & ~F(VIRTIO_F_ACCESS_PLATFORM);
	if (virtio_pci_attach(vm, &fe->vdev)) {
		snprintf(err, errlen, "vdpa: cannot attach to PCI");
		goto fail;
	}
	/* Migration switches the data path to shadow virtqueues (unless told not to). */
	if (!c->unsafe_migrate) {
		fe->dirty = (struct dirty_source){
			.name = "vdpa-svq", .start = fe_dirty_start, .collect = fe_dirty_collect,
			.stop = fe_dirty_stop, .opaque = fe,
		};
		dirty_source_register(vm, &fe->dirty);
		fe->dirty_registered = true;
	}
	return fe;
nomem:
	snprintf(err, errlen, "vdpa: out of memory");
fail:
	fe_free(fe);
	return NULL;
}

static void vdpa_kind_destroy(struct vm *vm, void *dev)
{
	struct vdpa_fe *fe = dev;

	fe_workers_stop(fe);
	fe->d->ops->set_status(fe->d, 0);
	virtio_pci_detach(&fe->vdev);
	if (fe->dirty_registered)
		dirty_source_unregister(vm, &fe->dirty);
	fe_free(fe);
}

static int vdpa_extra(const char *tok, void *ctx, char *err, size_t errlen)
{
	struct vdpa_net_conf *c = ctx;
	char *end;

	if (!strcmp(tok, "model=mlx5")) {
		c->model = VDPA_SIM_MLX5;
	} else if (!strcmp(tok, "model=full")) {
		c->model = VDPA_SIM_FULL;
	} else if (!strncmp(tok, "fw-scale=", 9)) {
		errno = 0;
		c->fw_scale = strtod(tok + 9, &end);
		if (errno || end == tok + 9 || *end || !(c->fw_scale >= 0 && c->fw_scale <= 100)) {
			snprintf(err, errlen, "--vdpa: fw-scale '%s' is not 0..100", tok + 9);
			return -1;
		}
	} else if (!strcmp(tok, "fw-async")) {
		c->fw_async = true;
	} else if (!strcmp(tok, "unsafe-migrate")) {
		c->unsafe_migrate = true;
	} else if (!strcmp(tok, "no-desc-asid")) {
		c->no_desc_asid = true;
	} else if (!strcmp(tok, "late-map")) {
		c->late_map = true;
	} else if (!strcmp(tok, "no-persist")) {
		c->no_persist = true;
	} else if (!strcmp(tok, "no-batch")) {
		c->no_batch = true;
	} else if (!strcmp(tok, "no-precreate")) {
		c->no_precreate = true;
	} else if (!strcmp(tok, "no-ahead")) {
		c->no_ahead = true;
	} else if (!strncmp(tok, "svq-poll=", 9)) {
		unsigned long us;

		errno = 0;
		us = strtoul(tok + 9, &end, 10);
		if (errno || end == tok + 9 || *end || us > 1000) {
			snprintf(err, errlen, "--vdpa: svq-poll '%s' is not 0..1000 (microseconds)",
				 tok + 9);
			return -1;
		}
		c->svq_poll_us = us;
	} else if (!strcmp(tok, "no-doorbell")) {
		c->no_doorbell = true;
	} else if (!strcmp(tok, "svq-threads=one")) {
		c->svq_one_thread = true;
	} else if (!strcmp(tok, "svq-threads=pair")) {
		c->svq_one_thread = false;
	} else if (!strcmp(tok, "switch=reset")) {
		c->switch_reset = true;
	} else if (!strcmp(tok, "switch=suspend")) {
		c->switch_reset = false;
	} else {
		snprintf(err, errlen, "--vdpa: unknown option '%s' (model=mlx5|full, queues=N, "
			 "mac=M, mtu=N, fw-scale=F, fw-async, svq-threads=pair|one, svq-poll=US, "
			 "no-doorbell, "
			 "switch=suspend|reset, no-desc-asid, late-map, no-persist, no-batch, "
			 "no-precreate, no-ahead, unsafe-migrate)", tok);
		return -1;
	}
	return 0;
}

int vdpa_parse(const char *arg, struct vdpa_net_conf *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->fw_scale = 1.0;
	c->svq_poll_us = 10;
	if (net_parse_spec(arg, "--vdpa", &c->net, vdpa_extra, c, err, errlen))
		return -1;
	if (c->net.queue_pairs > VDPA_HW_MAX_PAIRS) {
		snprintf(err, errlen, "--vdpa: queues=%d, the NIC has at most %d", c->net.queue_pairs,
			 VDPA_HW_MAX_PAIRS);
		return -1;
	}
	return 0;
}

static int vdpa_kind_parse(const char *arg, void *config, char *err, size_t errlen)
{
	return vdpa_parse(arg, config, err, errlen);
}

static void vdpa_kind_config_save(const void *config, struct state_buf *sb)
{
	const struct vdpa_net_conf *c = config;

	state_put_u32(sb, "queue-pairs", c->net.queue_pairs);
	state_put_u32(sb, "model", c->model);
}

static int vdpa_kind_config_check(const void *config, const void *fdt, int node, char *err,
				  size_t errlen)
{
	const struct vdpa_net_conf *c = config;
	uint32_t qp, model;

	if (state_get_u32(fdt, node, "queue-pairs", &qp, err, errlen) ||
	    state_get_u32(fdt, node, "model", &model, err, errlen))
		return -1;
	if ((int)qp != c->net.queue_pairs || model != c->model) {
		snprintf(err, errlen, "queues=%u model=%s at the source", qp,
			 model == VDPA_SIM_FULL ? "full" : "mlx5");
		return -1;
	}
	return 0;
}

/*
 * Per vq: the path it takes (passthrough, svq, or the control queue vlab
 * always shadows) and the device's vq object state. The counters come
 * from the engine of that path: the device's own vq in passthrough, the
 * guest's queue while shadowed, so they restart at a switch. A switch
 * under way holds switch_lock for firmware times: not waited for, the
 * vqs then say "switching".
 */
static void vdpa_kind_watch(void *dev, struct json_writer *w)
{
	struct vdpa_fe *fe = dev;
	struct vdpa_hw *hw = &fe->sim->hw;
	bool locked = !pthread_mutex_trylock(&fe->switch_lock);
	bool svq = locked && fe->svq_on;
	uint16_t q;

	json_key(w, "queues");
	json_arr_begin(w);
	for (q = 0; q < fe->vdev.nr_queues && q < VDPA_HW_MAX_VQS; q++) {
		struct virtq *gvq = &fe->vdev.vqs[q], *hvq = &hw->vqs[q].vq;
		bool cvq = (int)q == hw->cvq;
		enum vdpa_vq_state state = __atomic_load_n(&hw->vqs[q].state, __ATOMIC_RELAXED);
		struct virtq *vq = cvq || svq ? gvq : hvq;

		if (!__atomic_load_n(&gvq->enabled, __ATOMIC_RELAXED))
			continue;
		virtio_watch_queue(w, q, gvq->size, locked ? virtq_fill_level(vq) : -1,
				   &vq->stats);
		json_kv_string(w, "mode", cvq ? "cvq" : !locked ? "switching" :
			       svq ? "svq" : "passthrough");
		json_kv_string(w, "vq_state", vdpa_vq_state_name(state));
		json_obj_end(w);
	}
	json_arr_end(w);
	if (locked)
		pthread_mutex_unlock(&fe->switch_lock);
}

struct device_kind vdpa_net_kind = {
	.option = "vdpa",
	.noun = "vDPA NIC",
	.usage = "  --vdpa SPEC[,OPTS]   simulated mlx5-like vDPA NIC in passthrough (up to 4): SPEC\n"
		 "                       as --net; OPTS: model=mlx5|full, queues=N (1..16), mac=M,\n"
		 "                       mtu=N, fw-scale=F (1 = calibrated firmware times), fw-async,\n"
		 "                       svq-threads=pair|one (shadowed queues: a thread per pair),\n"
		 "                       svq-poll=US (a shadow thread polls this long after its\n"
		 "                       last work before it sleeps; 0..1000, default 10),\n"
		 "                       no-doorbell (the shadows kick by eventfd, not by a store\n"
		 "                       into the device's notify area);\n"
		 "                       migration downtime steps, each on unless turned off:\n"
		 "                       switch=suspend|reset (reset: to shadows as QEMU does),\n"
		 "                       no-desc-asid (shadow rings in guest RAM's address space),\n"
		 "                       late-map (guest RAM mapped at DRIVER_OK, not at start-up),\n"
		 "                       no-persist (a reset drops the maps), no-batch (a key\n"
		 "                       rebuild per IOTLB message), no-precreate (vq objects made\n"
		 "                       at DRIVER_OK), no-ahead (a destination does not start its\n"
		 "                       device from the early state during pre-copy); test only:\n"
		 "                       unsafe-migrate (no dirty tracking)\n",
	.max = 4,
	.config_size = sizeof(struct vdpa_net_conf),
	.parse = vdpa_kind_parse,
	.create = vdpa_kind_create,
	.destroy = vdpa_kind_destroy,
	.config_save = vdpa_kind_config_save,
	.config_check = vdpa_kind_config_check,
	.watch = vdpa_kind_watch,
};
DEVICE_KIND(vdpa_net_kind);
