// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net: the device around net_state (devices/net/net_state.h), the control
 * queue handler (net_ctrl.c) and the receive decisions (net_rx.c).
 *
 * Threads: one worker per queue pair owns that pair's TX and RX queues;
 * worker 0 also owns the control queue and reads the backend, steering
 * each frame (RSS) into the inbox of the pair that must receive it. So
 * every virtqueue is touched by exactly one thread. Each queue's doorbell
 * eventfd sits on the worker that owns the queue (net_queue_worker), so a
 * kick never passes through the main thread.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/net/net_backend.h"
#include "devices/net/vhost_user_net.h"
#include "devices/net/virtio_net.h"
#include "devices/net/net_ctrl.h"
#include "devices/net/net_rx.h"
#include "vmm/core/bytes.h"
#include "devices/net/net_state.h"
#include "virtio/virtio.h"
#include "virtio/virtio_pci.h"
#include "vmm/migrate/state.h"
#include "vmm/core/vm.h"
#include "vmm/core/worker.h"

#define NET_QUEUE_SIZE		256
#define NET_INBOX_FRAMES	256
#define NET_PCI_CLASS		0x020000

struct net_frame {
	uint32_t len;
	uint32_t hash;
	uint16_t report;
	uint8_t data[];
};

/* Interrupt coalescing state of one data queue. */
struct net_coal_state {
	uint32_t pending;	/* used buffers not yet signalled */
	bool timer_armed;
};

struct net_pair {
	struct virtio_net *net;
	int idx;
	struct worker worker;	/* kick bits: KICK_RX, KICK_TX, KICK_CTRL */
	bool worker_ready;	/* worker_init() succeeded */
	struct worker_timer coal_timer;	/* coalescing deadline */
	bool backend_watched;	/* worker 0: be.fd is on its loop */
	bool backend_readable;	/* worker 0: be.fd said so this batch */
	/* Frames steered here by worker 0, waiting for RX buffers. */
	pthread_mutex_t inbox_lock;
	struct net_frame *inbox[NET_INBOX_FRAMES];
	unsigned int inbox_head, inbox_count;
	struct net_coal_state coal[2];	/* rx, tx */
	uint8_t *scratch;		/* frame assembly buffer */
};

struct virtio_net {
	struct virtio_dev vdev;
	struct vm *vm;
	pthread_mutex_t lock;		/* net_state vs config reads */
	struct net_state st;
	struct net_backend be;
	bool backend_paused;		/* worker 0: inbox full, stop reading */
	int nr_pairs;			/* max queue pairs offered */
	struct net_pair pairs[NET_MAX_QUEUE_PAIRS];
	struct net_frame *held;		/* worker 0: read but not yet steerable */
	struct net_frame *rx_in;	/* worker 0: where it reads the backend */
	uint8_t *ctrl_result;		/* worker 0: CVQ command result */
	const char *hub_spec;		/* incoming: hub joined in net_load() */
	const char *pcap;		/* and its capture file */
	uint64_t pcap_max;		/* where a capture stops, bytes */
	/*
	 * A function sharing the port. Worker 0 holds port_lock over a
	 * batch's calls to it, and so does a change: one cleared is not
	 * running, nor called again, once virtio_net_set_port_rx() returns.
	 */
	pthread_mutex_t port_lock;
	virtio_net_port_rx port_rx;
	void *port_opaque;
	bool port_burst;		/* the port's function is sending a burst (its own lock) */
	uint64_t poll_ns;		/* how long an empty TX queue or backend is polled */
};

#define KICK_RX		(1u << 0)
#define KICK_TX		(1u << 1)
#define KICK_CTRL	(1u << 2)
#define KICK_TX_POLL	(1u << 3)	/* a polling round, not a doorbell */
#define KICK_RX_POLL	(1u << 4)	/* a polling round of the backend */
#define KICK_POLLS	(KICK_TX_POLL | KICK_RX_POLL)

static uint64_t net_device_features(const struct virtio_net *net)
{
	uint64_t f = (1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |
		     (1ULL << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | (1ULL << VIRTIO_NET_F_MAC) |
		     (1ULL << VIRTIO_NET_F_MRG_RXBUF) | (1ULL << VIRTIO_NET_F_STATUS) |
		     (1ULL << VIRTIO_NET_F_CTRL_VQ) | (1ULL << VIRTIO_NET_F_CTRL_RX) |
		     (1ULL << VIRTIO_NET_F_CTRL_VLAN) | (1ULL << VIRTIO_NET_F_CTRL_RX_EXTRA) |
		     (1ULL << VIRTIO_NET_F_GUEST_ANNOUNCE) | (1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR) |
		     (1ULL << VIRTIO_NET_F_RSS) | (1ULL << VIRTIO_NET_F_HASH_REPORT) |
		     (1ULL << VIRTIO_NET_F_NOTF_COAL) | (1ULL << VIRTIO_NET_F_VQ_NOTF_COAL) |
		     (1ULL << VIRTIO_NET_F_DEVICE_STATS) | (1ULL << VIRTIO_NET_F_SPEED_DUPLEX);

	if (net->nr_pairs > 1)
		f |= 1ULL << VIRTIO_NET_F_MQ;
	if (net->st.mtu)
		f |= 1ULL << VIRTIO_NET_F_MTU;
	return f;
}

static uint64_t net_get_features(struct virtio_dev *vdev)
{
	return net_device_features(vdev->priv);
}

static int net_set_features(struct virtio_dev *vdev, uint64_t features)
{
	struct virtio_net *net = vdev->priv;

	pthread_mutex_lock(&net->lock);
	net_state_set_features(&net->st, features);
	pthread_mutex_unlock(&net->lock);
	return 0;
}

static void net_config_read_op(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_net *net = vdev->priv;

	net_config_read(&net->st, &net->lock, off, buf, len);
}

static void net_config_write(struct virtio_dev *vdev, uint32_t off, const void *buf,
			     uint32_t len)
{
	/* virtio 1.x: the config space is read-only for the driver (MAC set goes via CVQ). */
}

/* ---- interrupts with coalescing (NOTF_COAL) ---- */

static void net_coal_arm(struct net_pair *p, uint32_t usecs)
{
	worker_timer_arm(&p->coal_timer, (uint64_t)usecs * 1000);
}

/* @which: 0 rx, 1 tx. Called after a flush of @n used buffers. */
static void net_used(struct net_pair *p, int which, uint32_t n)
{
	struct virtio_net *net = p->net;
	uint16_t q = 2 * p->idx + which;
	struct net_coal *c = &net->st.coal_vq[q];
	struct net_coal_state *cs = &p->coal[which];

	cs->pending += n;
	if (!cs->pending)
		return;
	if (c->max_packets > 1 && cs->pending < c->max_packets) {
		if (c->max_usecs && !cs->timer_armed) {
			net_coal_arm(p, c->max_usecs);
			cs->timer_armed = true;
		}
		return;
	}
	if (!c->max_packets && c->max_usecs) {
		if (!cs->timer_armed) {
			net_coal_arm(p, c->max_usecs);
			cs->timer_armed = true;
		}
		return;
	}
	cs->pending = 0;
	virtio_dev_notify_used(&net->vdev, q);
	if (which == 0)
		net->st.rxq_stats[p->idx].interrupts++;
	else
		net->st.txq_stats[p->idx].interrupts++;
}

static void net_coal_expired(struct worker_timer *t, void *opaque)
{
	struct net_pair *p = opaque;
	int which;

	for (which = 0; which < 2; which++) {
		struct net_coal_state *cs = &p->coal[which];

		cs->timer_armed = false;
		if (cs->pending) {
			cs->pending = 0;
			virtio_dev_notify_used(&p->net->vdev, 2 * p->idx + which);
		}
	}
}

/* ---- transmit ---- */

/* Complete a partial checksum the driver left to the device (VIRTIO_NET_F_CSUM). */
static void net_tx_csum(uint8_t *frame, size_t len, const struct virtio_net_hdr_v1 *h)
{
	uint32_t start = h->csum_start, off = h->csum_offset;

	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || start >= len || off + 2 > len - start)
		return;
	put_be16(frame + start + off, inet_csum_fold(inet_csum_add(0, frame + start, len - start)));
}

static bool net_stopping(struct net_pair *p)
{
	return worker_stopping(&p->worker);
}

/*
 * The readable segments of @elem from byte @skip on, @len bytes of them, as
 * an iovec for the backend. A guest that rewrites the frame meanwhile only
 * changes what it sends.
 */
static int net_tx_iov(const struct virtq_elem *elem, size_t skip, size_t len,
		      struct iovec *iov)
{
	int i, n = 0;

	for (i = 0; i < elem->out_num && len; i++) {
		size_t l = elem->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		iov[n++] = (struct iovec){ (uint8_t *)elem->iov[i].iov_base + skip, l };
		len -= l;
		skip = 0;
	}
	return n;
}

/*
 * @kicked: the driver rang the doorbell (not a polling round). With
 * poll-us, a queue the driver keeps filling is polled by the worker with
 * notifications off until it has stayed empty that long: a guest sending
 * in a stream then pays for no doorbell (an exit, and a wake-up of this
 * worker) per frame, each of which would otherwise find the queue just
 * drained and notifications back on. The worker keeps serving its other
 * events (the backend, RX) between rounds.
 */
static void net_tx(struct net_pair *p, bool kicked)
{
	struct virtio_net *net = p->net;
	struct virtq *vq = &net->vdev.vqs[2 * p->idx + 1];
	struct net_txq_stats *stats = &net->st.txq_stats[p->idx];
	struct virtq_elem elem;
	uint32_t done = 0;
	int r = 0;

	if (kicked)
		stats->notifications++;
	for (;;) {
		virtq_disable_notify(vq);
		while (!net_stopping(p) && (r = virtq_pop(vq, &elem)) > 0) {
			struct virtio_net_hdr_v1 hdr;
			/* Same header both ways: 20 bytes once HASH_REPORT is on. */
			size_t hl = net_rx_hdr_len(&net->st), len;
			struct virtq_cursor c;

			virtq_cursor_init(&c, &elem, false);
			len = virtq_cursor_read(&c, p->scratch, hl);
			len += elem.out_len - len > NET_FRAME_MAX ? NET_FRAME_MAX
								  : elem.out_len - len;
			if (len < hl + 14) {
				stats->drop_malformed++;
				stats->drops++;
			} else {
				struct iovec iov[VIRTQ_MAX_SEGS];
				int n;

				memcpy(&hdr, p->scratch, sizeof(hdr));
				if (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
					/* The checksum goes into a copy, never into guest memory. */
					virtq_cursor_read(&c, p->scratch + hl, len - hl);
					net_tx_csum(p->scratch + hl, len - hl, &hdr);
					iov[0] = (struct iovec){ p->scratch + hl, len - hl };
					n = 1;
				} else {
					/* Straight from guest memory: no copy of our own. */
					n = net_tx_iov(&elem, hl, len - hl, iov);
				}
				if (net_backend_send(&net->be, iov, n) == 0) {
					stats->packets++;
					stats->bytes += len - hl;
				} else {
					stats->drops++;
				}
			}
			virtq_fill(vq, &elem, 0);
			done++;
		}
		virtq_flush(vq);
		if (r < 0) {
			virtio_dev_needs_reset(&net->vdev, vq->broken_reason ?
					       vq->broken_reason : "bad TX descriptor");
			return;
		}
		/*
		 * Asked to stop (stop-and-copy, reset): leave the rest in the
		 * ring rather than push it all out first. A hub peer that does
		 * not read costs HUB_WAIT_MS a frame, so a full ring kept the
		 * paused guest waiting up to a second; net_start() kicks every
		 * queue, here or on the destination, and the rest goes then.
		 */
		if (net_stopping(p))
			break;
		if (net->poll_ns) {
			if (done || kicked)
				worker_poll(&p->worker, KICK_TX_POLL, net->poll_ns);
			if (worker_polling(&p->worker))
				break;
		}
		if (!virtq_enable_notify(vq))
			break;
	}
	net_used(p, 1, done);
}

/* ---- receive ---- */

#define NET_RX_MAX_BUFS	32
/* Used buffers published at once, at most: the driver starts on them meanwhile. */
#define NET_RX_FLUSH_BATCH	32

/*
 * Copy one frame into RX buffers (several with MRG_RXBUF). Returns 1 when
 * delivered, 0 when there are not enough buffers yet (nothing consumed,
 * the frame is kept), -1 when the frame was dropped or the queue broke.
 * The caller flushes (and signals) once per batch: the used index is a
 * line the driver polls, so each publication costs a cache-line transfer.
 */
static int net_rx_deliver(struct net_pair *p, const struct net_frame *f, uint32_t *used)
{
	struct virtio_net *net = p->net;
	struct virtq *vq = &net->vdev.vqs[2 * p->idx];
	bool mrg = virtio_dev_has(&net->vdev, VIRTIO_NET_F_MRG_RXBUF);
	size_t hl = net_rx_hdr_len(&net->st), total = hl + f->len, room = 0, off = 0;
	struct virtio_net_hdr_v1_hash hdr;
	static __thread struct virtq_elem elems[NET_RX_MAX_BUFS];
	int n = 0, i, r;

	/* Take enough buffers first, so a frame is either whole or not at all. */
	while (room < total && n < (mrg ? NET_RX_MAX_BUFS : 1)) {
		r = virtq_pop(vq, &elems[n]);
		if (r < 0) {
			virtio_dev_needs_reset(&net->vdev, vq->broken_reason ?
					       vq->broken_reason : "bad RX descriptor");
			return -1;
		}
		if (r == 0)
			break;
		room += elems[n++].in_len;
	}
	if (room < total) {
		if (n == (mrg ? NET_RX_MAX_BUFS : 1)) {
			/* Buffers that can never hold it: drop the frame, not the queue. */
			for (i = 0; i < n; i++)
				virtq_fill(vq, &elems[i], 0);
			*used += n;
			net->st.rxq_stats[p->idx].drops++;
			return -1;
		}
		while (n--)
			virtq_unpop(vq, &elems[n]);
		return 0;
	}

	memset(&hdr, 0, sizeof(hdr));
	hdr.hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE;
	hdr.hdr.num_buffers = n;
	net_rx_fill_hash_report(&net->st, &hdr, f->hash, f->report);
	for (i = 0; i < n; i++) {
		struct virtq_cursor c;

		/* The header goes at the start of the first buffer only. */
		virtq_cursor_init(&c, &elems[i], true);
		if (off < hl)
			off += virtq_cursor_write(&c, (uint8_t *)&hdr + off, hl - off);
		if (off >= hl)
			off += virtq_cursor_write(&c, f->data + (off - hl), total - off);
		virtq_fill(vq, &elems[i], c.done);
	}
	*used += n;
	net->st.rxq_stats[p->idx].packets++;
	net->st.rxq_stats[p->idx].bytes += f->len;
	return 1;
}

static void net_rx_drain_inbox(struct net_pair *p)
{
	struct virtio_net *net = p->net;
	struct virtq *vq = &net->vdev.vqs[2 * p->idx];
	uint32_t used = 0, published = 0;

	if (!vq->enabled)
		return;
	/*
	 * Buffers are asked for (notifications on) only when they ran out;
	 * while frames flow the driver's reposts need no doorbell.
	 */
	if (p->inbox_count && !vq->notify_off)
		virtq_disable_notify(vq);
	for (;;) {
		struct net_frame *f;
		int r;

		pthread_mutex_lock(&p->inbox_lock);
		f = p->inbox_count ? p->inbox[p->inbox_head] : NULL;
		pthread_mutex_unlock(&p->inbox_lock);
		if (!f)
			break;
		r = net_rx_deliver(p, f, &used);
		if (r == 0) {
			virtq_flush(vq);
			/* Polling: the next round looks again, no kick needed. */
			if (worker_polling(&p->worker))
				break;
			/* No buffers: ask for a kick, and retry if some raced in. */
			if (virtq_enable_notify(vq)) {
				virtq_disable_notify(vq);
				continue;
			}
			break;
		}
		pthread_mutex_lock(&p->inbox_lock);
		p->inbox_head = (p->inbox_head + 1) % NET_INBOX_FRAMES;
		p->inbox_count--;
		pthread_mutex_unlock(&p->inbox_lock);
		free(f);
		if (vq->broken)
			break;
		if (used - published >= NET_RX_FLUSH_BATCH) {
			virtq_flush(vq);
			published = used;
		}
	}
	virtq_flush(vq);
	net_used(p, 0, used);
}

/*
 * Worker 0: move frames from the backend into the inboxes of their pairs,
 * or straight into pair 0's RX buffers when its inbox is empty (nothing
 * queued ahead of the frame; no allocation, no lock). Returns how many
 * frames were for the guest (not those the port's function took or the
 * filter dropped: they are no reason to poll).
 */
static int net_rx_steer(struct virtio_net *net)
{
	struct net_pair *p0 = &net->pairs[0];
	struct virtq *vq0 = &net->vdev.vqs[0];
	struct net_frame *in = net->rx_in;
	int budget = 64, got = 0;
	uint32_t used = 0;

	while (budget--) {
		struct net_frame *f = net->held;
		struct net_pair *dst;
		ssize_t n;

		if (!f) {
			n = net_backend_recv(&net->be, in->data, NET_FRAME_MAX);
			if (n <= 0)
				break;
			if (net->port_rx && net->port_rx(net->port_opaque, in->data, n))
				continue;
			if (!net_rx_filter_accept(&net->st, in->data, n))
				continue;
			got++;
			in->len = n;
			dst = &net->pairs[net_rx_select_queue(&net->st, in->data, in->len,
							      &in->hash, &in->report) % net->nr_pairs];
			/* Only this worker fills or empties pair 0's inbox. */
			if (dst == p0 && !p0->inbox_count && vq0->enabled && !vq0->broken) {
				if (!vq0->notify_off)
					virtq_disable_notify(vq0);
				if (net_rx_deliver(p0, in, &used))
					continue;
			}
			/* Its own size: a 64 KiB block a frame cost page faults. */
			f = malloc(sizeof(*f) + n);
			if (!f)
				break;
			memcpy(f, in, sizeof(*f) + n);
		} else {
			net->held = NULL;
			dst = &net->pairs[net_rx_select_queue(&net->st, f->data, f->len,
							      &f->hash, &f->report) % net->nr_pairs];
		}
		pthread_mutex_lock(&dst->inbox_lock);
		if (dst->inbox_count == NET_INBOX_FRAMES) {
			pthread_mutex_unlock(&dst->inbox_lock);
			/* That pair is backed up: hold the frame, stop reading. */
			net->held = f;
			net->backend_paused = true;
			break;
		}
		dst->inbox[(dst->inbox_head + dst->inbox_count) % NET_INBOX_FRAMES] = f;
		dst->inbox_count++;
		pthread_mutex_unlock(&dst->inbox_lock);
		if (dst != p0)
			worker_kick(&dst->worker, KICK_RX);
	}
	if (used) {
		virtq_flush(vq0);
		net_used(p0, 0, used);
	}
	return got;
}

/* The port's function has seen this batch's frames: it may wake its worker now. */
static void net_port_rx_batch_end(struct virtio_net *net)
{
	if (net->port_rx)
		net->port_rx(net->port_opaque, NULL, 0);
}

/* ---- control queue ---- */

static void net_ctrl(struct virtio_net *net)
{
	net_ctrl_serve(&net->vdev, &net->st, &net->lock, net->pairs[0].scratch,
		       net->ctrl_result);
}

/* ---- workers ---- */

/* Worker 0 reads the backend only while the inboxes have room. */
static void net_backend_readable(int fd, void *opaque)
{
	struct net_pair *p = opaque;

	/* net_run() reads it after the batch, steering as room allows. */
	p->backend_readable = true;
}

static void net_watch_backend(struct net_pair *p)
{
	struct virtio_net *net = p->net;
	bool watch = p->idx == 0 && net->be.fd >= 0 && !net->backend_paused;

	if (watch == p->backend_watched)
		return;
	if (watch)
		worker_add_fd(&p->worker, net->be.fd, net_backend_readable, p);
	else
		worker_del_fd(&p->worker, net->be.fd);
	p->backend_watched = watch;
}

/* One batch of a pair's worker: whatever was kicked, then the receive side. */
static void net_run(struct worker *w, uint32_t kicked, void *opaque)
{
	struct net_pair *p = opaque;
	struct virtio_net *net = p->net;

	if (virtio_dev_status(&net->vdev) & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	if (kicked & KICK_CTRL)
		net_ctrl(net);
	if (kicked & (KICK_TX | KICK_TX_POLL))
		net_tx(p, kicked & KICK_TX);
	if (p->idx == 0) {
		int got = 0;

		/* RX buffers arrived: the held frame may fit now. */
		if (kicked & KICK_RX)
			net->backend_paused = false;
		/*
		 * A polling round reads only if the backend says a frame
		 * waits: an empty read would tell the hub's writers that we
		 * sleep (a system call, and a wake-up datagram from each).
		 */
		pthread_mutex_lock(&net->port_lock);
		if ((kicked & ~KICK_POLLS) || !worker_polling(w) || p->backend_readable ||
		    net_backend_pending(&net->be))
			got = net_rx_steer(net);
		p->backend_readable = false;
		net_port_rx_batch_end(net);
		pthread_mutex_unlock(&net->port_lock);
		/*
		 * Frames are streaming in from a backend that says cheaply
		 * whether more wait: look again before sleeping, as TX does.
		 * A sleep and a wake-up per few frames cost more than they carry.
		 */
		if (got && net->poll_ns && net_backend_can_poll(&net->be))
			worker_poll(w, KICK_RX_POLL, net->poll_ns);
	}
	net_rx_drain_inbox(p);
	/* Room again: let worker 0 read the backend (itself included). */
	if (p->inbox_count < NET_INBOX_FRAMES / 2 && net->backend_paused)
		worker_kick(&net->pairs[0].worker, KICK_RX);
	net_watch_backend(p);
}

/* The pair whose worker services queue @q: its own, or pair 0 for the CVQ. */
static struct net_pair *net_queue_pair(struct virtio_net *net, uint16_t q)
{
	if (q == net_state_cvq_index(&net->st))
		return &net->pairs[0];
	if (q / 2 < net->nr_pairs)
		return &net->pairs[q / 2];
	return NULL;
}

static struct worker *net_queue_worker(struct virtio_dev *vdev, uint16_t q)
{
	struct net_pair *p = net_queue_pair(vdev->priv, q);

	return p ? &p->worker : NULL;
}

static void net_queue_notify(struct virtio_dev *vdev, uint16_t q)
{
	struct virtio_net *net = vdev->priv;
	struct net_pair *p = net_queue_pair(net, q);
	uint32_t bit;

	if (!p)
		return;
	if (q == net_state_cvq_index(&net->st)) {
		bit = KICK_CTRL;
	} else {
		bit = (q & 1) ? KICK_TX : KICK_RX;
		if (!(q & 1))
			net->st.rxq_stats[q / 2].notifications++;
	}
	/* Kept while the worker is stopped: it looks at the queue when it starts. */
	worker_kick(&p->worker, bit);
}

static void net_stop_workers(struct virtio_net *net)
{
	int i;

	for (i = 0; i < net->nr_pairs; i++)
		if (net->pairs[i].worker_ready)
			worker_stop(&net->pairs[i].worker);
}

/* Frames steered to @p but not delivered: gone, like frames on a wire. */
static void net_inbox_drop(struct net_pair *p)
{
	pthread_mutex_lock(&p->inbox_lock);
	while (p->inbox_count) {
		free(p->inbox[p->inbox_head]);
		p->inbox_head = (p->inbox_head + 1) % NET_INBOX_FRAMES;
		p->inbox_count--;
	}
	pthread_mutex_unlock(&p->inbox_lock);
}

static void net_drop_frames(struct virtio_net *net)
{
	int i;

	for (i = 0; i < net->nr_pairs; i++) {
		struct net_pair *p = &net->pairs[i];

		net_inbox_drop(p);
		memset(p->coal, 0, sizeof(p->coal));
		__atomic_store_n(&p->worker.kicked, 0, __ATOMIC_RELAXED);
	}
	free(net->held);
	net->held = NULL;
	net->backend_paused = false;
}

static int net_start(struct virtio_dev *vdev)
{
	struct virtio_net *net = vdev->priv;
	int i;

	for (i = 0; i < net->nr_pairs; i++)
		if (worker_start(&net->pairs[i].worker))
			return -1;
	/* Pick up anything the driver queued before DRIVER_OK. */
	for (i = 0; i < vdev->nr_queues; i++)
		net_queue_notify(vdev, i);
	return 0;
}

static void net_reset(struct virtio_dev *vdev)
{
	struct virtio_net *net = vdev->priv;

	net_stop_workers(net);
	net_drop_frames(net);
	pthread_mutex_lock(&net->lock);
	net_state_reset(&net->st);
	pthread_mutex_unlock(&net->lock);
}

/*
 * Simplest safe order for a queue reset or (re-)enable: stop every worker
 * (worker 0 steers frames into every pair and owns the CVQ), let the core
 * change the queue, start them again.
 */
static void net_queue_stop(struct virtio_dev *vdev, uint16_t q)
{
	net_stop_workers(vdev->priv);
}

static void net_queue_restart(struct virtio_dev *vdev, uint16_t q)
{
	if ((virtio_dev_status(vdev) & (VIRTIO_CONFIG_S_DRIVER_OK |
					VIRTIO_CONFIG_S_NEEDS_RESET)) == VIRTIO_CONFIG_S_DRIVER_OK)
		net_start(vdev);
}

/* Called between stop and restart: frames waiting for a reset RX queue go. */
static void net_queue_reset(struct virtio_dev *vdev, uint16_t q)
{
	struct virtio_net *net = vdev->priv;

	if (q % 2 == 0 && q / 2 < net->nr_pairs)
		net_inbox_drop(&net->pairs[q / 2]);
	pthread_mutex_lock(&net->lock);
	net_state_coal_vq_reenable(&net->st, q);
	pthread_mutex_unlock(&net->lock);
}

/* ---- migration ---- */

static int net_save(struct virtio_dev *vdev, struct state_buf *sb)
{
	struct virtio_net *net = vdev->priv;

	return net_state_save_locked(sb, &net->st, &net->lock, NULL);
}

static int net_load(struct virtio_dev *vdev, const void *fdt, int node, char *err,
		    size_t errlen)
{
	struct virtio_net *net = vdev->priv;
	struct net_state st;
	int ret;

	pthread_mutex_lock(&net->lock);
	ret = net_state_load_checked(fdt, node, &st, &net->st, vdev->host_features, "virtio-net",
				     err, errlen);
	pthread_mutex_unlock(&net->lock);
	if (ret)
		return -1;
	/* The source has stopped its device: join the hub now (see virtio_net_create). */
	if (net->hub_spec) {
		if (net_backend_open(&net->be, net->hub_spec, net->pcap, net->pcap_max, err,
				     errlen))
			return -1;
		net->hub_spec = NULL;
	}
	pthread_mutex_lock(&net->lock);
	net->st = st;
	pthread_mutex_unlock(&net->lock);
	return 0;
}

/* Stop-and-copy: no worker may touch a ring or guest memory any more. */
static void net_quiesce(struct virtio_dev *vdev)
{
	net_stop_workers(vdev->priv);
}

static void net_unquiesce(struct virtio_dev *vdev)
{
	if ((virtio_dev_status(vdev) & (VIRTIO_CONFIG_S_DRIVER_OK |
					VIRTIO_CONFIG_S_NEEDS_RESET)) == VIRTIO_CONFIG_S_DRIVER_OK)
		net_start(vdev);
}

/* On the destination: ask the driver to announce the guest's new location. */
static void net_migrated(struct virtio_dev *vdev)
{
	struct virtio_net *net = vdev->priv;

	net_announce_moved(vdev, &net->st, &net->lock);
}

static const struct virtio_dev_ops virtio_net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.pci_class = NET_PCI_CLASS,
	.config_size = sizeof(struct virtio_net_config),
	.get_features = net_get_features,
	.set_features = net_set_features,
	.config_read = net_config_read_op,
	.config_write = net_config_write,
	.queue_worker = net_queue_worker,
	.queue_notify = net_queue_notify,
	.start = net_start,
	.reset = net_reset,
	.queue_stop = net_queue_stop,
	.queue_restart = net_queue_restart,
	.queue_reset = net_queue_reset,
	.save = net_save,
	.load = net_load,
	.quiesce = net_quiesce,
	.unquiesce = net_unquiesce,
	.migrated = net_migrated,
};

void virtio_net_free(struct virtio_dev *vdev)
{
	struct virtio_net *net;
	int i;

	if (!vdev)
		return;
	net = vdev->priv;
	net_stop_workers(net);
	net_drop_frames(net);
	for (i = 0; i < NET_MAX_QUEUE_PAIRS; i++) {
		struct net_pair *p = &net->pairs[i];

		if (!p->net)
			continue;
		worker_timer_exit(&p->coal_timer);
		if (p->worker_ready)
			worker_exit(&p->worker);
		free(p->scratch);
	}
	net_backend_close(&net->be);
	virtio_dev_exit(&net->vdev);
	free(net->ctrl_result);
	free(net->rx_in);
	free(net);
}

struct virtio_dev *virtio_net_new(struct guest_mem *mem, const struct net_config *nc,
				  int index, bool incoming, char *err, size_t errlen)
{
	struct virtio_net *net = calloc(1, sizeof(*net));
	uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 + index };
	int i;

	if (!net) {
		snprintf(err, errlen, "virtio-net: out of memory");
		return NULL;
	}
	pthread_mutex_init(&net->lock, NULL);
	pthread_mutex_init(&net->port_lock, NULL);
	net->be.fd = net->be.loop_wr = -1;
	if (nc->mac_set)
		memcpy(mac, nc->mac, 6);
	net->nr_pairs = nc->queue_pairs;
	net->ctrl_result = malloc(NET_CTRL_RESULT_MAX);
	net->rx_in = malloc(sizeof(*net->rx_in) + NET_FRAME_MAX);
	net_state_init(&net->st, mac, net->nr_pairs);
	net->st.mtu = nc->mtu;
	net->poll_ns = (uint64_t)nc->poll_us * 1000;
	for (i = 0; i < net->nr_pairs; i++) {
		struct net_pair *p = &net->pairs[i];
		char name[16];

		p->net = net;
		p->idx = i;
		pthread_mutex_init(&p->inbox_lock, NULL);
		snprintf(name, sizeof(name), "net-pair%d", i);
		p->worker_ready = !worker_init(&p->worker, name, net_run, p);
		p->coal_timer.fd = -1;
		p->scratch = malloc(NET_FRAME_MAX + 64 > NET_CTRL_MAX ? NET_FRAME_MAX + 64 :
				    NET_CTRL_MAX);
		if (!p->worker_ready || !p->scratch ||
		    worker_timer_init(&p->coal_timer, &p->worker, net_coal_expired, p))
			goto nomem;
	}
	if (!net->ctrl_result || !net->rx_in)
		goto nomem;
	/* rx0, tx0, ..., rxN-1, txN-1, ctrl */
	if (virtio_dev_init(&net->vdev, &virtio_net_ops, net, mem, 2 * net->nr_pairs + 1,
			    NET_QUEUE_SIZE))
		goto nomem;
	net->pcap_max = (uint64_t)nc->pcap_max_mb << 20;
	if (net_backend_open(&net->be, nc->backend, nc->pcap, net->pcap_max, err, errlen))
		goto fail;
	/*
	 * An incoming guest's hub endpoint must not exist before the source
	 * has stopped its device: peers would queue copies of the frames the
	 * source is still receiving (and delivering), which this device would
	 * then put in the guest's RX ring a second time after the switch; and
	 * nobody reads that queue, so once full it stalls every sender on the
	 * hub HUB_WAIT_MS per frame. Opened above only to check --net early;
	 * net_load() opens it again, after the source's quiesce.
	 */
	if (incoming && net->be.kind == NET_BACKEND_HUB) {
		net_backend_close(&net->be);
		net->hub_spec = nc->backend;
		net->pcap = nc->pcap;
	}
	return &net->vdev;
nomem:
	snprintf(err, errlen, "virtio-net: out of memory or file descriptors");
fail:
	virtio_net_free(&net->vdev);
	return NULL;
}

/* ---- the --net device kind ---- */

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5], &tail) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	/* A multicast address cannot be a NIC's own. */
	return (mac[0] & 1) ? -1 : 0;
}

int net_parse_spec(const char *s, const char *opt, struct net_config *nc,
		   int (*extra)(const char *tok, void *ctx, char *err, size_t errlen),
		   void *ctx, char *err, size_t errlen)
{
	char buf[512], *tok, *save = NULL;
	bool first = true;

	memset(nc, 0, sizeof(*nc));
	nc->queue_pairs = 1;
	nc->poll_us = NET_POLL_US_DEFAULT;
	nc->pcap_max_mb = NET_PCAP_MAX_MB_DEFAULT;
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "%s: option too long", opt);
		return -1;
	}
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long v;

		if (first) {
			first = false;
			if (strncmp(tok, "hub=", 4) && strncmp(tok, "tap=", 4) &&
			    strcmp(tok, "loop") && strcmp(tok, "null") &&
			    (strcmp(opt, "--net") || !vhost_user_net_backend(tok))) {
				snprintf(err, errlen, "%s: '%s' is not hub=DIR, tap=NAME, loop or null%s",
					 opt, tok, strcmp(opt, "--net") ? "" : " (or vhost-user=SOCK)");
				return -1;
			}
			if (!strcmp(tok, "hub=") || !strcmp(tok, "tap=") ||
			    !strcmp(tok, "vhost-user=")) {
				snprintf(err, errlen, "%s: '%s' needs a value", opt, tok);
				return -1;
			}
			snprintf(nc->backend, sizeof(nc->backend), "%s", tok);
		} else if (!strncmp(tok, "mac=", 4)) {
			if (parse_mac(tok + 4, nc->mac)) {
				snprintf(err, errlen, "%s: mac '%s' is not a unicast xx:xx:xx:xx:xx:xx",
					 opt, tok + 4);
				return -1;
			}
			nc->mac_set = true;
		} else if (!strncmp(tok, "queues=", 7)) {
			errno = 0;
			v = strtol(tok + 7, &end, 10);
			if (errno || end == tok + 7 || *end || v < 1 || v > 16) {
				snprintf(err, errlen, "%s: queues '%s' is not 1..16", opt, tok + 7);
				return -1;
			}
			nc->queue_pairs = v;
		} else if (!strncmp(tok, "pcap=", 5)) {
			if (!tok[5] || strlen(tok + 5) >= sizeof(nc->pcap)) {
				snprintf(err, errlen, "%s: pcap needs a file name (under %zu bytes)",
					 opt, sizeof(nc->pcap));
				return -1;
			}
			snprintf(nc->pcap, sizeof(nc->pcap), "%s", tok + 5);
		} else if (!strncmp(tok, "pcap-max=", 9)) {
			errno = 0;
			v = strtol(tok + 9, &end, 10);
			if (errno || end == tok + 9 || *end || v < 1 || v > NET_PCAP_MAX_MB_LIMIT) {
				snprintf(err, errlen, "%s: pcap-max '%s' is not 1..%u (MiB)", opt,
					 tok + 9, NET_PCAP_MAX_MB_LIMIT);
				return -1;
			}
			nc->pcap_max_mb = v;
		} else if (!strncmp(tok, "poll-us=", 8)) {
			errno = 0;
			v = strtol(tok + 8, &end, 10);
			if (errno || end == tok + 8 || *end || v < 0 || v > NET_POLL_US_MAX) {
				snprintf(err, errlen, "%s: poll-us '%s' is not 0..%d", opt, tok + 8,
					 NET_POLL_US_MAX);
				return -1;
			}
			nc->poll_us = v;
		} else if (!strncmp(tok, "mtu=", 4)) {
			errno = 0;
			v = strtol(tok + 4, &end, 10);
			if (errno || end == tok + 4 || *end || v < 68 || v > 65535) {
				snprintf(err, errlen, "%s: mtu '%s' is not 68..65535", opt, tok + 4);
				return -1;
			}
			nc->mtu = v;
		} else if (extra) {
			int r = extra(tok, ctx, err, errlen);

			if (r)
				return -1;
		} else {
			snprintf(err, errlen, "%s: unknown option '%s'", opt, tok);
			return -1;
		}
	}
	if (first) {
		snprintf(err, errlen, "%s: needs a backend", opt);
		return -1;
	}
	return 0;
}

int cli_parse_net(const char *s, struct net_config *nc, char *err, size_t errlen)
{
	return net_parse_spec(s, "--net", nc, NULL, NULL, err, errlen);
}

static int net_kind_parse(const char *arg, void *config, char *err, size_t errlen)
{
	return cli_parse_net(arg, config, err, errlen);
}

/* A destination must offer the same queues and MTU (the MAC is state). */
static void net_kind_config_save(const void *config, struct state_buf *sb)
{
	const struct net_config *nc = config;

	state_put_u32(sb, "queue-pairs", nc->queue_pairs);
	state_put_u32(sb, "mtu", nc->mtu);
}

static int net_kind_config_check(const void *config, const void *fdt, int node, char *err,
				 size_t errlen)
{
	const struct net_config *nc = config;
	uint32_t qp, mtu;

	if (state_get_u32(fdt, node, "queue-pairs", &qp, err, errlen) ||
	    state_get_u32(fdt, node, "mtu", &mtu, err, errlen))
		return -1;
	if ((int)qp != nc->queue_pairs || (int)mtu != nc->mtu) {
		snprintf(err, errlen, "queues=%u mtu=%u at the source", qp, mtu);
		return -1;
	}
	return 0;
}


bool virtio_net_has_port(const struct virtio_dev *vdev)
{
	return vdev->ops == &virtio_net_ops;
}

int virtio_net_set_port_rx(struct virtio_dev *vdev, virtio_net_port_rx rx, void *opaque)
{
	struct virtio_net *net = vdev->priv;
	int ret = 0;

	pthread_mutex_lock(&net->port_lock);
	if (rx && net->port_rx) {
		ret = -EBUSY;
	} else {
		net->port_rx = rx;
		net->port_opaque = rx ? opaque : NULL;
	}
	pthread_mutex_unlock(&net->port_lock);
	return ret;
}

int virtio_net_port_send(struct virtio_dev *vdev, const void *frame, size_t len)
{
	struct iovec iov = { (void *)frame, len };

	return virtio_net_port_sendv(vdev, &iov, 1);
}

int virtio_net_port_sendv(struct virtio_dev *vdev, const struct iovec *iov, int n)
{
	struct virtio_net *net = vdev->priv;

	if (net->port_burst)
		return net_backend_send_burst(&net->be, iov, n);
	return net_backend_send(&net->be, iov, n);
}

void virtio_net_port_burst(struct virtio_dev *vdev, bool begin)
{
	struct virtio_net *net = vdev->priv;

	if (begin == net->port_burst)
		return;
	net_backend_burst(&net->be, begin);
	net->port_burst = begin;
}

void virtio_net_port_mac(struct virtio_dev *vdev, uint8_t mac[6])
{
	struct virtio_net *net = vdev->priv;

	pthread_mutex_lock(&net->lock);
	memcpy(mac, net->st.perm_mac, 6);
	pthread_mutex_unlock(&net->lock);
}

static void *net_kind_create(struct vm *vm, const void *config, int index, char *err,
			     size_t errlen)
{
	const struct net_config *nc = config;
	struct virtio_dev *vdev;

	if (vhost_user_net_backend(nc->backend))
		return vhost_user_net_create(vm, nc, index, err, errlen);
	vdev = virtio_net_new(&vm->mem, config, index, vm->cfg->incoming, err, errlen);
	if (!vdev)
		return NULL;
	((struct virtio_net *)vdev->priv)->vm = vm;
	if (virtio_pci_attach(vm, vdev)) {
		virtio_net_free(vdev);
		snprintf(err, errlen, "virtio-net: cannot attach to PCI");
		return NULL;
	}
	return vdev;
}

/* Workers stop first: they own the doorbells the transport takes back. */
static void net_kind_destroy(struct vm *vm, void *dev)
{
	struct virtio_dev *vdev = dev;

	if (vhost_user_net_is(vdev)) {
		vhost_user_net_destroy(vm, dev);
		return;
	}
	net_stop_workers(vdev->priv);
	virtio_pci_detach(vdev);
	virtio_net_free(vdev);
}

static void net_kind_watch(void *dev, struct json_writer *w)
{
	struct virtio_dev *vdev = dev;
	struct virtio_net *net = vdev->priv;

	virtio_dev_watch_queues(vdev, w);
	net_backend_watch(&net->be, w);
}

struct device_kind virtio_net_kind = {
	.option = "net",
	.noun = "NIC",
	.usage = "  --net SPEC[,OPTS]    virtio-net NIC (up to 4): SPEC is hub=DIR (vlab processes\n"
		 "                       sharing DIR see each other's frames), tap=NAME, loop, null,\n"
		 "                       or vhost-user=SOCK (a vhost-user backend serves the data\n"
		 "                       queues; needs --mem-backend memfd);\n"
		 "                       OPTS: mac=52:54:00:xx:xx:xx, queues=N (1..16), mtu=N,\n"
		 "                       pcap=FILE (every frame sent and received, pcap format),\n"
		 "                       pcap-max=N (MiB, default 1024: the capture stops there),\n"
		 "                       poll-us=N (0..1000, default 50: a sending guest's TX queue,\n"
		 "                       and a hub sending to it, are polled this long after they\n"
		 "                       go quiet, before doorbells and wake-ups)\n",
	.max = VLAB_MAX_NICS,
	.config_size = sizeof(struct net_config),
	.parse = net_kind_parse,
	.create = net_kind_create,
	.destroy = net_kind_destroy,
	.config_save = net_kind_config_save,
	.config_check = net_kind_config_check,
	.watch = net_kind_watch,
};
DEVICE_KIND(virtio_net_kind);
