// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/net/virtio_net.h"
#include "devices/rdma/roce.h"
#include "devices/rdma/verbs.h"
#include "devices/rdma/virtio_rdma.h"
#include "devices/rdma/vrdma.h"
#include "virtio/virtio.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtq.h"
#include "vmm/core/device.h"
#include "vmm/core/vm.h"
#include "vmm/core/worker.h"
#include "vmm/control/json.h"
#include "vmm/mem/guest_mem.h"
#include "vmm/migrate/state.h"

#define KICK_VQ		1u		/* a data or CQ vq was kicked: every QP is looked at */
#define KICK_WIRE	2u		/* frames in the inbox */
#define KICK_CTRL	4u		/* the control vq was kicked */
#define QSIZE		1024	/* a vq takes a queue's whole 512 WRs at once */
#define CTRL_MAX	(1 + sizeof(struct virtio_rdma_reg_user_mr) + 8 * RDMA_USER_MR_MAX_PAGES)
#define MR_SEGS		64

static uint16_t cq_vq(uint32_t cqn)
{
	return 1 + cqn;
}

static uint16_t sq_vq(const struct vrdma *d, uint32_t qpn)
{
	return 1 + d->conf.cqs + 2 * (qpn - 1);
}

/* A driver broke one of its rings: the device wants a reset, nothing else is harmed. */
static void vq_broken(struct vrdma *d, struct virtq *vq)
{
	virtio_dev_needs_reset(&d->vdev, vq->broken_reason ? vq->broken_reason :
				   "a malformed descriptor");
}

/* Each CQ's backlog, as long as the longest CQ: 0 or -ENOMEM. */
int vrdma_cqs_alloc(struct vrdma *d, uint32_t max_cqe)
{
	for (uint32_t i = 0; i < d->conf.cqs; i++) {
		d->cqs[i].backlog = calloc(max_cqe, sizeof(*d->cqs[i].backlog));
		d->cqs[i].solicited = calloc(max_cqe, 1);
		if (!d->cqs[i].backlog || !d->cqs[i].solicited)
			return -ENOMEM;
	}
	return 0;
}

/* What @v holds dropped: its send WRs' data, both queues emptied. */
static void vqp_drop(struct vqp *v)
{
	for (uint32_t k = 0; k < RC_SQ_MAX; k++) {
		free(v->sq[k].buf);
		v->sq[k].buf = NULL;
	}
	v->sq_head = v->sq_tail = 0;
	v->rq_count = v->rq_head = 0;
}

/*
 * Every QP's queues dropped, whatever its state: a reset, a device freed,
 * a scratch device a load refused, or the device a load replaces (its
 * positions may be anything: every slot is looked at, not head to tail).
 * Only the device's QPs: the others' 160 KiB each were never touched, and
 * looking at them faulted in megabytes at every load.
 */
static void qps_drop(struct vrdma *d)
{
	for (uint32_t i = 0; i < d->conf.qps; i++)
		vqp_drop(&d->qps[i]);
}

static void cqs_free(struct vrdma *d)
{
	for (uint32_t i = 0; i < VIRTIO_RDMA_MAX_CQS; i++) {
		free(d->cqs[i].backlog);
		free(d->cqs[i].solicited);
		d->cqs[i].backlog = NULL;
		d->cqs[i].solicited = NULL;
	}
}

/* Everything the verbs made, and the data path's copies of it, freed. */
void vrdma_objects_free(struct vrdma *d)
{
	qps_drop(d);
	rdma_verbs_exit(&d->verbs);
	cqs_free(d);
}

/* ---- completions ---- */

/*
 * Completions reached the driver: an interrupt if the CQ is armed for
 * any (NEXT), or for solicited ones and @solicited says one of them was
 * a receive with SE set or an error (IBA 11.4.2.2, ib_req_notify_cq()).
 */
static void cq_signal(struct vrdma *d, uint32_t cqn, bool solicited)
{
	struct rdma_cq *cq = &d->verbs.cqs[cqn];

	if ((cq->notify & VIRTIO_RDMA_NOTIFY_NEXT) ||
	    ((cq->notify & VIRTIO_RDMA_NOTIFY_SOLICITED) && solicited)) {
		cq->notify = 0;
		virtio_dev_signal_queue(&d->vdev, cq_vq(cqn));
	}
}

/* Write what waits for @cqn into the buffers its vq has. */
static void cq_drain(struct vrdma *d, uint32_t cqn)
{
	struct virtq *vq = &d->vdev.vqs[cq_vq(cqn)];
	struct vcq *c = &d->cqs[cqn];
	struct virtq_elem elem;
	struct virtq_cursor cur;
	bool pushed = false, wake_solicited = false;
	int r = 0;

again:
	while (c->count || c->overrun) {
		struct virtio_rdma_cqe overrun = { .status = VIRTIO_RDMA_CQ_OVERRUN };
		const struct virtio_rdma_cqe *e = c->count ? &c->backlog[c->head] : &overrun;

		r = virtq_pop(vq, &elem);
		if (r < 0)
			vq_broken(d, vq);
		if (r <= 0)
			break;
		virtq_cursor_init(&cur, &elem, true);
		if (elem.in_len < sizeof(*e) || virtq_cursor_write(&cur, e, sizeof(*e)) != sizeof(*e)) {
			virtio_dev_needs_reset(&d->vdev, "a CQ buffer shorter than a completion");
			return;
		}
		virtq_fill(vq, &elem, sizeof(*e));
		pushed = true;
		/* The overrun entry is an error too. */
		wake_solicited |= e->status != VIRTIO_RDMA_WC_SUCCESS ||
				  (c->count && c->solicited[c->head]);
		if (c->count) {
			c->head = (c->head + 1) % d->verbs.cqs[cqn].cqe;
			c->count--;
		} else {
			c->overrun = false;
		}
		d->stats.completions++;
	}
	/*
	 * The driver kicks for the buffers it adds only while completions wait
	 * for one: a kick per completion would wake this worker for nothing.
	 */
	if (!c->count && !c->overrun) {
		if (!vq->notify_off)
			virtq_disable_notify(vq);
	} else if (!r && virtq_enable_notify(vq)) {
		goto again;	/* buffers came before the driver saw the request */
	}
	if (pushed) {
		virtq_flush(vq);
		cq_signal(d, cqn, wake_solicited);
	}
}

/* A completion for @cqn; @solicited: a receive whose message had SE set. */
static void cq_add(struct vrdma *d, uint32_t cqn, const struct virtio_rdma_cqe *e,
		   bool solicited)
{
	struct vcq *c = &d->cqs[cqn];
	uint32_t size = d->verbs.cqs[cqn].cqe, slot;

	if (c->count == size) {
		/* The driver polls too slowly: IB calls that a CQ error. */
		c->overrun = true;
		d->stats.cq_overruns++;
		return;
	}
	slot = (c->head + c->count++) % size;
	c->backlog[slot] = *e;
	c->solicited[slot] = solicited;
	cq_drain(d, cqn);
}

static uint8_t wc_opcode(uint8_t wr_opcode)
{
	switch (wr_opcode) {
	case VIRTIO_RDMA_WR_RDMA_WRITE:
	case VIRTIO_RDMA_WR_RDMA_WRITE_IMM:
		return VIRTIO_RDMA_WC_RDMA_WRITE;
	case VIRTIO_RDMA_WR_RDMA_READ:
		return VIRTIO_RDMA_WC_RDMA_READ;
	case VIRTIO_RDMA_WR_ATOMIC_CMP_SWP:
		return VIRTIO_RDMA_WC_COMP_SWAP;
	case VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD:
		return VIRTIO_RDMA_WC_FETCH_ADD;
	case VIRTIO_RDMA_WR_LOCAL_INV:
		return VIRTIO_RDMA_WC_LOCAL_INV;
	case VIRTIO_RDMA_WR_REG_MR:
		return VIRTIO_RDMA_WC_REG_MR;
	default:
		return VIRTIO_RDMA_WC_SEND;
	}
}

/* ---- guest memory through MRs ---- */

/*
 * Copy between @buf and the memory @len bytes at @va under @key name for
 * @qp (@access the right it needs); with @buf NULL, only check that the
 * key grants it all. 0, or a VIRTIO_RDMA_WC_* status.
 */
static int mr_copy(struct vrdma *d, const struct rdma_qp *qp, uint32_t key, uint32_t access,
		   uint64_t va, uint8_t *buf, uint64_t len, bool to_guest)
{
	struct rdma_seg segs[MR_SEGS];
	struct mem_view *v = guest_mem_view(d->gm);

	while (len) {
		uint64_t n = len < (uint64_t)MR_SEGS << 12 ? len : (uint64_t)(MR_SEGS - 1) << 12;
		int i, nr = rdma_mr_translate(&d->verbs.mrs, key, qp->pd, access, va, n, segs,
					      MR_SEGS, NULL);

		if (nr < 0)
			return VIRTIO_RDMA_WC_LOC_PROT_ERR;
		for (i = 0; buf && i < nr; i++) {
			if (to_guest ? mem_view_write(v, segs[i].gpa, buf, segs[i].len) :
				       mem_view_read(v, segs[i].gpa, buf, segs[i].len))
				return VIRTIO_RDMA_WC_LOC_ACCESS_ERR;
			buf += segs[i].len;
		}
		va += n;
		len -= n;
	}
	return 0;
}

/*
 * Gather (or scatter) @len bytes of @buf from (into) the memory a WR's
 * @n SGEs name, @off bytes into it: 0 or a VIRTIO_RDMA_WC_* status.
 */
int vrdma_sge_copy(struct vrdma *d, const struct rdma_qp *qp, const struct virtio_rdma_sge *sge,
		    uint16_t n, uint32_t off, uint8_t *buf, uint32_t len, bool to_guest)
{
	uint32_t done = 0;
	uint16_t i;
	int r;

	for (i = 0; i < n && done < len; i++) {
		uint32_t l = le32toh(sge[i].length), take;

		if (off >= l) {
			off -= l;
			continue;
		}
		take = l - off < len - done ? l - off : len - done;
		r = mr_copy(d, qp, le32toh(sge[i].lkey),
			    to_guest ? RDMA_ACCESS_LOCAL_WRITE : RDMA_ACCESS_LOCAL_READ,
			    le64toh(sge[i].addr) + off, buf + done, take, to_guest);
		if (r)
			return r;
		off = 0;
		done += take;
	}
	return done == len ? 0 : VIRTIO_RDMA_WC_LOC_LEN_ERR;
}

static uint64_t sge_total(const struct virtio_rdma_sge *sge, uint16_t n)
{
	uint64_t t = 0;
	uint16_t i;

	for (i = 0; i < n; i++)
		t += le32toh(sge[i].length);
	return t;
}

/* ---- the send queue ---- */

/* Completions in the send queue's order, as far as they are done. */
static void sq_complete(struct vrdma *d, struct vqp *vq, struct rdma_qp *qp)
{
	while (vq->sq_head != vq->sq_tail) {
		struct swqe *w = &vq->sq[vq->sq_head % RC_SQ_MAX];

		if (!w->done)
			break;
		if (w->signaled || qp->sq_sig_all || w->status != VIRTIO_RDMA_WC_SUCCESS) {
			struct virtio_rdma_cqe e = {
				.wr_id = htole64(w->wr_id), .status = w->status,
				.opcode = wc_opcode(w->opcode), .byte_len = htole32(w->byte_len),
				.qp_num = htole32(vq->qpn),
			};

			cq_add(d, qp->send_cq, &e, false);
		}
		free(w->buf);
		w->buf = NULL;
		vq->sq_head++;
	}
}

static void sq_done(struct vqp *vq, struct swqe *w, uint8_t status)
{
	w->done = true;
	w->status = status;
}

/* The transport finished message @id. */
static void rc_done(void *ctx, uint64_t id, enum rc_status st)
{
	struct vqp *vq = ctx;
	struct vrdma *d = vq->dev;
	struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, vq->qpn);
	struct swqe *w = &vq->sq[id % RC_SQ_MAX];
	static const uint8_t status[] = {
		[RC_OK] = VIRTIO_RDMA_WC_SUCCESS,
		[RC_RETRY_EXCEEDED] = VIRTIO_RDMA_WC_RETRY_EXC_ERR,
		[RC_REMOTE_ERROR] = VIRTIO_RDMA_WC_REM_ACCESS_ERR,
		[RC_FLUSHED] = VIRTIO_RDMA_WC_WR_FLUSH_ERR,
		[RC_RNR_RETRY_EXCEEDED] = VIRTIO_RDMA_WC_RNR_RETRY_EXC_ERR,
		[RC_LOCAL_ERROR] = VIRTIO_RDMA_WC_LOC_PROT_ERR,
	};
	uint8_t s = st < sizeof(status) ? status[st] : VIRTIO_RDMA_WC_GENERAL_ERR;

	if (!qp || w->done)
		return;
	/* READ and atomic results into the requester's buffers. */
	if (s == VIRTIO_RDMA_WC_SUCCESS && w->buf &&
	    (w->opcode == VIRTIO_RDMA_WR_RDMA_READ || w->opcode == VIRTIO_RDMA_WR_ATOMIC_CMP_SWP ||
	     w->opcode == VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD))
		s = vrdma_sge_copy(d, qp, w->sge, w->num_sge, 0, w->buf, w->len, true);
	sq_done(vq, w, s);
	/* An error completion takes the QP to ERR (IBA 10.8.3.3). */
	if (s != VIRTIO_RDMA_WC_SUCCESS)
		qp->rc.error = true;
}

/*
 * Whether the @n SGEs of a send WR name @len bytes the QP may read: 0 or
 * a VIRTIO_RDMA_WC_* status, as gathering them would give.
 */
static int sge_check(struct vrdma *d, const struct rdma_qp *qp, const struct virtio_rdma_sge *sge,
		     uint16_t n, uint64_t len)
{
	uint16_t i;
	int r;

	if (sge_total(sge, n) < len)
		return VIRTIO_RDMA_WC_LOC_LEN_ERR;
	for (i = 0; i < n; i++) {
		if (!sge[i].length)
			continue;
		r = mr_copy(d, qp, le32toh(sge[i].lkey), RDMA_ACCESS_LOCAL_READ,
			    le64toh(sge[i].addr), NULL, le32toh(sge[i].length), false);
		if (r)
			return r;
	}
	return 0;
}

/*
 * rc_payload_fn: a packet's data, read from the SGEs of its send WR when
 * it goes out (again, if it is sent again), as a NIC's DMA reads the
 * buffer: in place where it is one run of host memory (one copy, into the
 * frame), else gathered into the bounce buffer.
 */
static int rc_payload(void *ctx, uint64_t id, uint32_t off, uint32_t len, const uint8_t **data)
{
	struct vqp *v = ctx;
	struct vrdma *d = v->dev;
	const struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, v->qpn);
	const struct swqe *w = &v->sq[id % RC_SQ_MAX];
	uint32_t o = off;
	uint16_t i;

	if (!qp || len > BOUNCE)
		return -1;
	for (i = 0; i < w->num_sge; i++) {
		uint32_t l = le32toh(w->sge[i].length);
		struct rdma_seg seg;
		const uint8_t *p;

		if (o >= l) {
			o -= l;
			continue;
		}
		if (len > l - o ||
		    rdma_mr_translate(&d->verbs.mrs, le32toh(w->sge[i].lkey), qp->pd,
				      RDMA_ACCESS_LOCAL_READ, le64toh(w->sge[i].addr) + o, len,
				      &seg, 1, NULL) != 1)
			break;
		p = mem_view_map(guest_mem_view(d->gm), seg.gpa, len, MV_READ);
		if (!p)
			break;
		*data = p;
		return 0;
	}
	*data = v->bounce;
	return vrdma_sge_copy(d, qp, w->sge, w->num_sge, off, v->bounce, len, false);
}

/*
 * The @len bytes of data of the send WR at d->wr, described by @w, into
 * a buffer of their own at *@data (the caller frees it): the WR's inline
 * data, or gathered from its SGEs. 0 or a VIRTIO_RDMA_WC_* status.
 */
static int wr_gather(struct vrdma *d, const struct rdma_qp *qp, const struct swqe *w,
		     uint32_t len, uint8_t **data)
{
	*data = malloc(len ? len : 1);
	if (!*data)
		return VIRTIO_RDMA_WC_GENERAL_ERR;
	if (!w->inlined)
		return vrdma_sge_copy(d, qp, w->sge, w->num_sge, 0, *data, len, false);
	memcpy(*data, d->wr + sizeof(struct virtio_rdma_send_wr), len);
	return 0;
}

static void wire_send(struct vrdma *d, const struct roce_pkt *p);
static bool av_address(struct vrdma *d, const struct virtio_rdma_av *av, uint32_t qpn,
		       struct roce_pkt *p);

/*
 * A UD or GSI SEND: one packet to the address handle's port and the QP
 * the WR names, under the WR's Q_Key (or the QP's, if the WR's has its
 * top bit set, as IBA has it). Done when sent: a status.
 */
static uint8_t ud_send(struct vrdma *d, struct rdma_qp *qp, uint32_t qpn,
		       const struct virtio_rdma_send_wr *wr, struct swqe *w, uint64_t total)
{
	uint32_t ahn = le32toh(wr->ud.ahn), qkey = le32toh(wr->ud.remote_qkey);
	const struct rdma_ah *ah;
	struct roce_pkt p;
	uint8_t *data;
	int r;

	if (wr->opcode != VIRTIO_RDMA_WR_SEND && wr->opcode != VIRTIO_RDMA_WR_SEND_IMM)
		return VIRTIO_RDMA_WC_LOC_QP_OP_ERR;
	if (qp->state != RDMA_QPS_RTS)
		return VIRTIO_RDMA_WC_LOC_QP_OP_ERR;
	if (total > rdma_mtu_bytes(d->verbs.cfg.max_mtu))
		return VIRTIO_RDMA_WC_LOC_LEN_ERR;
	if (ahn >= d->verbs.cfg.max_ah || !d->verbs.ahs[ahn].used ||
	    d->verbs.ahs[ahn].pd != qp->pd)
		return VIRTIO_RDMA_WC_LOC_QP_OP_ERR;
	ah = &d->verbs.ahs[ahn];
	r = wr_gather(d, qp, w, (uint32_t)total, &data);
	memset(&p, 0, sizeof(p));
	if (!r && av_address(d, &ah->av, qpn, &p)) {
		p.opcode = ROCE_UD | (wr->opcode == VIRTIO_RDMA_WR_SEND ? ROCE_SEND_ONLY :
							   ROCE_SEND_ONLY_IMM);
		p.solicited = wr->send_flags & VIRTIO_RDMA_SEND_SOLICITED;
		p.dqpn = le32toh(wr->ud.remote_qpn) & RC_PSN_MASK;
		p.psn = qp->sq_psn;
		qp->sq_psn = (qp->sq_psn + 1) & RC_PSN_MASK;
		p.qkey = (qkey & 0x80000000u) ? qp->qkey : qkey;
		p.sqpn = qpn;
		p.imm = be32toh(wr->imm_or_inv);
		p.payload = data;
		p.payload_len = (uint32_t)total;
		wire_send(d, &p);
		w->byte_len = (uint32_t)total;
	} else if (!r) {
		r = VIRTIO_RDMA_WC_LOC_QP_OP_ERR;	/* the AH names no GID of ours */
	}
	free(data);
	return (uint8_t)r;
}

/*
 * One send WR of @n bytes at d->wr for @qp: checked, its data gathered,
 * handed to the transport (or done at once, for local operations).
 */
static void sq_post(struct vrdma *d, struct vqp *vq, struct rdma_qp *qp, size_t n)
{
	const struct virtio_rdma_send_wr *wr = (const void *)d->wr;
	struct swqe *w = &vq->sq[vq->sq_tail % RC_SQ_MAX];
	struct rc_msg m = { .id = vq->sq_tail };
	uint16_t nsge = le16toh(wr->num_sge);
	uint64_t total;
	int r = 0;

	memset(w, 0, sizeof(*w));
	vq->sq_tail++;
	w->wr_id = le64toh(wr->wr_id);
	w->opcode = wr->opcode;
	w->signaled = wr->send_flags & VIRTIO_RDMA_SEND_SIGNALED;
	if (n < sizeof(*wr) || nsge > MAX_SGE || nsge > qp->max_send_sge ||
	    (!(wr->send_flags & VIRTIO_RDMA_SEND_INLINE) &&
	     n < sizeof(*wr) + nsge * sizeof(struct virtio_rdma_sge))) {
		sq_done(vq, w, VIRTIO_RDMA_WC_LOC_LEN_ERR);
		return;
	}
	if (qp->state == RDMA_QPS_ERR) {
		sq_done(vq, w, VIRTIO_RDMA_WC_WR_FLUSH_ERR);
		return;
	}
	if (wr->send_flags & VIRTIO_RDMA_SEND_INLINE) {
		/* What follows the WR is data, not SGEs: nothing to gather again later. */
		w->inlined = true;
		total = le32toh(wr->inline_len);
		if (total > qp->max_inline || n < sizeof(*wr) + total) {
			sq_done(vq, w, VIRTIO_RDMA_WC_LOC_LEN_ERR);
			return;
		}
	} else {
		w->num_sge = nsge;
		memcpy(w->sge, d->wr + sizeof(*wr), nsge * sizeof(struct virtio_rdma_sge));
		total = sge_total(w->sge, nsge);
	}
	if (total > VIRTIO_RDMA_MSG_MAX) {
		sq_done(vq, w, VIRTIO_RDMA_WC_LOC_LEN_ERR);
		return;
	}
	if (qp->type == RDMA_QPT_UD || qp->type == RDMA_QPT_GSI) {
		sq_done(vq, w, ud_send(d, qp, vq->qpn, wr, w, total));
		return;
	}
	switch (wr->opcode) {
	case VIRTIO_RDMA_WR_SEND:
	case VIRTIO_RDMA_WR_SEND_IMM:
	case VIRTIO_RDMA_WR_RDMA_WRITE:
	case VIRTIO_RDMA_WR_RDMA_WRITE_IMM:
		w->len = (uint32_t)total;
		/* Inline data is the WR's: kept. SGEs are read packet by packet (rc_payload()). */
		if (w->inlined)
			r = wr_gather(d, qp, w, w->len, &w->buf);
		else
			r = sge_check(d, qp, w->sge, w->num_sge, w->len);
		w->byte_len = w->len;
		m.data = w->buf;
		m.len = w->len;
		m.imm = be32toh(wr->imm_or_inv);
		m.solicited = wr->opcode != VIRTIO_RDMA_WR_RDMA_WRITE &&
			      (wr->send_flags & VIRTIO_RDMA_SEND_SOLICITED);
		m.op = wr->opcode == VIRTIO_RDMA_WR_SEND ? ROCE_SEND_ONLY :
		       wr->opcode == VIRTIO_RDMA_WR_SEND_IMM ? ROCE_SEND_ONLY_IMM :
		       wr->opcode == VIRTIO_RDMA_WR_RDMA_WRITE ? ROCE_WRITE_ONLY : ROCE_WRITE_ONLY_IMM;
		if (wr->opcode == VIRTIO_RDMA_WR_RDMA_WRITE ||
		    wr->opcode == VIRTIO_RDMA_WR_RDMA_WRITE_IMM) {
			m.va = le64toh(wr->rdma.remote_addr);
			m.rkey = le32toh(wr->rdma.rkey);
		}
		break;
	case VIRTIO_RDMA_WR_RDMA_READ:
		w->len = w->byte_len = (uint32_t)total;
		w->buf = calloc(1, total ? total : 1);
		if (!w->buf) {
			r = VIRTIO_RDMA_WC_GENERAL_ERR;
			break;
		}
		m.op = ROCE_READ_REQUEST;
		m.dest = w->buf;
		m.len = w->len;
		m.va = le64toh(wr->rdma.remote_addr);
		m.rkey = le32toh(wr->rdma.rkey);
		break;
	case VIRTIO_RDMA_WR_ATOMIC_CMP_SWP:
	case VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD:
		if (total != 8 || (le64toh(wr->atomic.remote_addr) & 7)) {
			r = VIRTIO_RDMA_WC_LOC_LEN_ERR;
			break;
		}
		w->len = w->byte_len = 8;
		w->buf = malloc(8);
		if (!w->buf) {
			r = VIRTIO_RDMA_WC_GENERAL_ERR;
			break;
		}
		m.op = wr->opcode == VIRTIO_RDMA_WR_ATOMIC_CMP_SWP ? ROCE_CMP_SWAP : ROCE_FETCH_ADD;
		m.dest = w->buf;
		m.len = 8;
		m.va = le64toh(wr->atomic.remote_addr);
		m.rkey = le32toh(wr->atomic.rkey);
		m.compare = le64toh(wr->atomic.compare_add);
		m.swap_add = wr->opcode == VIRTIO_RDMA_WR_ATOMIC_CMP_SWP ?
			     le64toh(wr->atomic.swap) : le64toh(wr->atomic.compare_add);
		break;
	case VIRTIO_RDMA_WR_LOCAL_INV:
		r = rdma_mr_invalidate(&d->verbs.mrs, le32toh(wr->imm_or_inv)) ?
		    VIRTIO_RDMA_WC_LOC_PROT_ERR : 0;
		sq_done(vq, w, r);
		return;
	case VIRTIO_RDMA_WR_REG_MR: {
		uint32_t np = le32toh(wr->reg.npages);
		uint64_t *pages;

		if (!np || np > d->verbs.cfg.max_fast_reg_pages) {
			sq_done(vq, w, VIRTIO_RDMA_WC_LOC_LEN_ERR);
			return;
		}
		pages = malloc(np * sizeof(*pages));
		if (!pages) {
			sq_done(vq, w, VIRTIO_RDMA_WC_GENERAL_ERR);
			return;
		}
		r = mem_view_read(guest_mem_view(d->gm), le64toh(wr->reg.pages_gpa), pages,
				  np * sizeof(*pages)) ? VIRTIO_RDMA_WC_LOC_ACCESS_ERR : 0;
		for (uint32_t i = 0; !r && i < np; i++)
			pages[i] = le64toh(pages[i]);
		/* The MR must be in the QP's PD. */
		if (!r) {
			uint32_t idx = le32toh(wr->reg.key) >> 8;

			if (idx >= d->verbs.mrs.max || !d->verbs.mrs.mrs[idx].used ||
			    d->verbs.mrs.mrs[idx].pd != qp->pd ||
			    rdma_mr_register(&d->verbs.mrs, le32toh(wr->reg.key),
					     le64toh(wr->reg.iova), le64toh(wr->reg.length),
					     le32toh(wr->reg.access), pages, np, wr->reg.page_shift,
					     le32toh(wr->reg.offset)))
				r = VIRTIO_RDMA_WC_LOC_PROT_ERR;
		}
		free(pages);
		sq_done(vq, w, r);
		return;
	}
	default:
		r = VIRTIO_RDMA_WC_LOC_QP_OP_ERR;
	}
	if (!r && rc_post(&qp->rc, &m))
		r = VIRTIO_RDMA_WC_LOC_QP_OP_ERR;
	if (r) {
		sq_done(vq, w, r);
		qp->rc.error = true;
	}
}

/* Take the send WRs the driver posted, while the QP can hold them. */
static void sq_take(struct vrdma *d, uint32_t qpn)
{
	struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, qpn);
	struct virtq *vq = &d->vdev.vqs[sq_vq(d, qpn)];
	struct vqp *v = vqp_of(d, qpn);
	struct virtq_elem elem;
	struct virtq_cursor c;
	size_t n;
	int r = 0;

	/* Posted in INIT or RTR: they wait in the ring for RTS. */
	if (!qp || !vq->enabled || (qp->state != RDMA_QPS_RTS && qp->state != RDMA_QPS_ERR))
		return;
again:
	while (v->sq_tail - v->sq_head < qp->max_send_wr && (r = virtq_pop(vq, &elem)) > 0) {
		virtq_cursor_init(&c, &elem, false);
		n = virtq_cursor_read(&c, d->wr, sizeof(d->wr));
		/* Copied out: the driver has its buffer back at once. */
		virtq_push(vq, &elem, 0);
		sq_post(d, v, qp, n);
	}
	if (r < 0) {
		vq_broken(d, vq);
		return;
	}
	sq_complete(d, v, qp);
	/*
	 * While messages are out, what ends them (an ACK, the timer) brings
	 * us back to this ring anyway: a kick per post would only wake the
	 * worker for what the next look finds.
	 */
	if (v->sq_tail != v->sq_head) {
		if (!vq->notify_off)
			virtq_disable_notify(vq);
	} else if (vq->notify_off && virtq_enable_notify(vq)) {
		goto again;	/* posted before the driver saw kicks wanted again */
	}
}

/* ---- the receive queue ---- */

static void rq_take(struct vrdma *d, uint32_t qpn)
{
	struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, qpn);
	struct virtq *vq = &d->vdev.vqs[sq_vq(d, qpn) + 1];
	struct vqp *v = vqp_of(d, qpn);
	struct virtq_elem elem;
	struct virtq_cursor c;
	struct virtio_rdma_recv_wr wr;
	int r = 0;

	if (!qp || !vq->enabled || qp->state == RDMA_QPS_RESET)
		return;
	while (v->rq_count < qp->max_recv_wr && (r = virtq_pop(vq, &elem)) > 0) {
		struct rwqe *w = &v->rq[(v->rq_head + v->rq_count) % RC_SQ_MAX];
		uint16_t n;

		virtq_cursor_init(&c, &elem, false);
		memset(&wr, 0, sizeof(wr));
		memset(w, 0, sizeof(*w));
		virtq_cursor_read(&c, &wr, sizeof(wr));
		n = (uint16_t)le32toh(wr.num_sge);
		w->wr_id = le64toh(wr.wr_id);
		if (n > MAX_SGE || n > qp->max_recv_sge ||
		    virtq_cursor_read(&c, w->sge, n * sizeof(w->sge[0])) != n * sizeof(w->sge[0]))
			n = 0xffff;	/* completes with a length error when used */
		w->num_sge = n;
		virtq_push(vq, &elem, 0);
		if (qp->state == RDMA_QPS_ERR) {
			struct virtio_rdma_cqe e = {
				.wr_id = htole64(w->wr_id), .status = VIRTIO_RDMA_WC_WR_FLUSH_ERR,
				.opcode = VIRTIO_RDMA_WC_RECV, .qp_num = htole32(qpn),
			};

			cq_add(d, qp->recv_cq, &e, false);
			continue;
		}
		v->rq_count++;
	}
	if (r < 0)
		vq_broken(d, vq);
}

/* A receive WR to fill: one taken, or one posted since this round began. */
static bool rq_ready(struct vrdma *d, struct vqp *v)
{
	if (!v->rq_count)
		rq_take(d, v->qpn);
	return v->rq_count;
}

/* The oldest receive WR completes; @solicited: its message had SE set. */
static void rq_complete(struct vrdma *d, struct vqp *v, struct rdma_qp *qp, uint8_t status,
			uint8_t opcode, uint32_t len, bool imm, uint32_t imm_data, bool solicited)
{
	struct rwqe *w = &v->rq[v->rq_head];
	struct virtio_rdma_cqe e = {
		.wr_id = htole64(w->wr_id), .status = status, .opcode = opcode,
		.wc_flags = imm ? VIRTIO_RDMA_WC_WITH_IMM : 0, .byte_len = htole32(len),
		.imm_or_inv = htobe32(imm_data), .qp_num = htole32(v->qpn),
		.src_qp = htole32(qp->dest_qpn),
	};

	v->rq_head = (v->rq_head + 1) % RC_SQ_MAX;
	v->rq_count--;
	cq_add(d, qp->recv_cq, &e, solicited);
}

/* ---- the responder's side of RC, the transport's callbacks ---- */

static bool qp_allows(const struct rdma_qp *qp, uint32_t access)
{
	return (qp->access & access) == access;
}

static int rc_recv(void *ctx, const struct roce_pkt *p, uint32_t off, bool first, bool last)
{
	struct vqp *v = ctx;
	struct vrdma *d = v->dev;
	struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, v->qpn);
	uint8_t op = p->opcode & 0x1f;
	bool send = op <= ROCE_SEND_ONLY_IMM || op == ROCE_SEND_LAST_INV ||
		    op == ROCE_SEND_ONLY_INV;
	bool imm = op == ROCE_SEND_LAST_IMM || op == ROCE_SEND_ONLY_IMM ||
		   op == ROCE_WRITE_LAST_IMM || op == ROCE_WRITE_ONLY_IMM;

	if (!qp)
		return RC_NAK_INVALID;
	if (send) {
		struct rwqe *w;

		if (!rq_ready(d, v))
			return RC_RECV_RNR;
		w = &v->rq[v->rq_head];
		if (first)
			v->recv_bad = false;
		if (!v->recv_bad && p->payload_len &&
		    (w->num_sge == 0xffff || (uint64_t)off + p->payload_len >
					      sge_total(w->sge, w->num_sge)))
			v->recv_bad = true;
		if (!v->recv_bad && p->payload_len &&
		    vrdma_sge_copy(d, qp, w->sge, w->num_sge, off, (uint8_t *)p->payload, p->payload_len,
			     true))
			v->recv_bad = true;
		if (last) {
			rq_complete(d, v, qp, v->recv_bad ? VIRTIO_RDMA_WC_LOC_LEN_ERR :
					      VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV,
				    off + p->payload_len, imm, p->imm, p->solicited);
			if (v->recv_bad)
				return RC_NAK_INVALID;
		}
		return 0;
	}
	/* RDMA WRITE: the RETH on the first packet says where. */
	if (first) {
		if (!qp_allows(qp, VIRTIO_RDMA_ACCESS_REMOTE_WRITE))
			return RC_NAK_REMOTE_ACCESS;
		v->write_va = p->va;
		v->write_rkey = p->rkey;
	}
	if (p->payload_len &&
	    mr_copy(d, qp, v->write_rkey, RDMA_ACCESS_REMOTE_WRITE, v->write_va + off,
		    (uint8_t *)p->payload, p->payload_len, true))
		return RC_NAK_REMOTE_ACCESS;
	if (last && imm) {
		if (!rq_ready(d, v))
			return RC_RECV_RNR;
		rq_complete(d, v, qp, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV_RDMA_IMM,
			    off + p->payload_len, true, p->imm, p->solicited);
	}
	return 0;
}

static int rc_read(void *ctx, uint64_t va, uint32_t rkey, uint32_t len, const uint8_t **src)
{
	struct vqp *v = ctx;
	struct vrdma *d = v->dev;
	struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, v->qpn);
	/*
	 * A short one is read now; a longer one is checked whole when it
	 * comes, and its data read packet by packet.
	 */
	uint8_t *buf = len <= BOUNCE ? v->bounce : NULL;

	if (!qp || !qp_allows(qp, VIRTIO_RDMA_ACCESS_REMOTE_READ) ||
	    mr_copy(d, qp, rkey, RDMA_ACCESS_REMOTE_READ, va, buf, len, false))
		return RC_NAK_REMOTE_ACCESS;
	*src = buf;
	return 0;
}

static int rc_atomic(void *ctx, uint64_t va, uint32_t rkey, uint64_t **target)
{
	struct vqp *v = ctx;
	struct vrdma *d = v->dev;
	struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, v->qpn);
	struct rdma_seg seg;

	if (!qp || !qp_allows(qp, VIRTIO_RDMA_ACCESS_REMOTE_ATOMIC) ||
	    rdma_mr_translate(&d->verbs.mrs, rkey, qp->pd, RDMA_ACCESS_REMOTE_ATOMIC, va, 8, &seg,
			      1, NULL) != 1)
		return RC_NAK_REMOTE_ACCESS;
	/* Aligned, so within a page: one host pointer. Dirty once written (after). */
	*target = guest_mem_map(d->gm, seg.gpa, 8, false);
	if (!*target)
		return RC_NAK_REMOTE_ACCESS;
	v->dirty_gpa = seg.gpa;
	v->dirty_owed = true;
	return 0;
}

/* RC QP @qp's transport reports to the device's side of it, @v. */
void vrdma_rc_attach(struct rdma_qp *qp, struct vqp *v)
{
	qp->rc.ctx = v;
	qp->rc.recv = rc_recv;
	qp->rc.done = rc_done;
	qp->rc.read = rc_read;
	qp->rc.atomic = rc_atomic;
	qp->rc.payload = rc_payload;
}

/* ---- the wire ---- */

static bool gid_v4(const uint8_t *gid)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(gid, prefix, 12);
}

/* The GID of an IP address: IPv6 as it is, IPv4 mapped (::ffff:a.b.c.d). */
static void gid_from_ip(uint8_t gid[16], const uint8_t *ip, bool ipv6)
{
	if (ipv6) {
		memcpy(gid, ip, 16);
		return;
	}
	memset(gid, 0, 10);
	gid[10] = gid[11] = 0xff;
	memcpy(gid + 12, ip, 4);
}

/* Addresses of a packet to @av: its MAC and GID, and the source GID it names. */
static bool av_address(struct vrdma *d, const struct virtio_rdma_av *av, uint32_t qpn,
		       struct roce_pkt *p)
{
	const struct rdma_gid *sgid = &d->verbs.gids[av->sgid_index % RDMA_GID_TBL_LEN];

	if (!sgid->valid)
		return false;
	memcpy(p->dmac, av->dmac, 6);
	memcpy(p->smac, d->port.mac, 6);
	p->ipv6 = !(gid_v4(sgid->gid) && gid_v4(av->dgid));
	memset(p->sip, 0, 16);
	memset(p->dip, 0, 16);
	if (p->ipv6) {
		memcpy(p->sip, sgid->gid, 16);
		memcpy(p->dip, av->dgid, 16);
	} else {
		memcpy(p->sip, sgid->gid + 12, 4);
		memcpy(p->dip, av->dgid + 12, 4);
	}
	p->ttl = av->hop_limit ? av->hop_limit : 64;
	p->tclass = av->traffic_class;
	p->flow_label = le32toh(av->flow_label) & 0xfffff;
	p->sport = 0xc000 | (qpn & 0x3fff);
	p->pkey = ROCE_DEFAULT_PKEY;
	return true;
}

/*
 * A packet to the port. With data, where the port gathers, in pieces: the
 * payload (guest memory, as rc_payload() found it) is copied once, into
 * the wire, not into a frame first.
 */
static void wire_send(struct vrdma *d, const struct roce_pkt *p)
{
	struct iovec iov[3];
	size_t n;

	if (d->port.sendv && p->payload_len &&
	    roce_build_sg(d->frame, sizeof(d->frame), p, iov)) {
		if (!d->port.sendv(d->port.opaque, iov, 3))
			d->stats.tx_frames++;
		return;
	}
	n = roce_build(d->frame, sizeof(d->frame), p);
	if (!n || d->port.send(d->port.opaque, d->frame, n))
		return;
	d->stats.tx_frames++;
}

/* QP @qpn if it is RC with its transport running (RTR to SQE), else NULL. */
struct rdma_qp *vrdma_rc_live(struct vrdma *d, uint32_t qpn)
{
	struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, qpn);

	return qp && qp->type == RDMA_QPT_RC && qp->state >= RDMA_QPS_RTR &&
	       qp->state != RDMA_QPS_ERR ? qp : NULL;
}

/*
 * Everything the transport of each RC QP may send now, as one burst on
 * the port (begun at its first packet): a window's packets cost the hub
 * one lock and one look at sleeping readers, at the end. The NIC's
 * thread gets here only at its batch's end, after the batch's reads: a
 * burst open while it reads the hub would wait on the hub's lock it holds.
 */
static void qps_send(struct vrdma *d)
{
	uint64_t now = vlab_now_ns();
	bool burst = false;
	uint32_t qpn;

	for (qpn = 2; qpn <= d->conf.qps; qpn++) {
		struct rdma_qp *qp = vrdma_rc_live(d, qpn);
		struct roce_pkt p;
		int budget = RC_WINDOW;

		if (!qp)
			continue;
		memset(&p, 0, sizeof(p));
		while (budget-- && rc_next(&qp->rc, now, &p)) {
			if (!burst && d->port.burst) {
				d->port.burst(d->port.opaque, true);
				burst = true;
			}
			if (av_address(d, &qp->av, qpn, &p))
				wire_send(d, &p);
			memset(&p, 0, sizeof(p));
		}
	}
	if (burst)
		d->port.burst(d->port.opaque, false);
}

/*
 * A datagram for a UD or GSI QP: into its next receive WR, after the
 * 40-byte GRH (IPv4: its header at offset 20, as Linux's RoCE drivers
 * place it), if the Q_Key is the QP's; else dropped, as IBA has it.
 */
static void ud_receive(struct vrdma *d, struct rdma_qp *qp, const struct roce_pkt *p,
		       const uint8_t *frame)
{
	struct vqp *v = vqp_of(d, p->dqpn);
	uint8_t grh[VIRTIO_RDMA_GRH_BYTES] = { 0 };
	struct rwqe *w;
	uint8_t status = VIRTIO_RDMA_WC_SUCCESS;
	uint32_t len = VIRTIO_RDMA_GRH_BYTES + p->payload_len;
	uint8_t op = p->opcode;

	if ((op != (ROCE_UD | ROCE_SEND_ONLY) && op != (ROCE_UD | ROCE_SEND_ONLY_IMM)) ||
	    qp->state < RDMA_QPS_RTR || qp->state == RDMA_QPS_ERR || p->qkey != qp->qkey ||
	    !rq_ready(d, v)) {
		d->stats.rx_dropped++;
		return;
	}
	d->stats.rx_frames++;
	if (p->ipv6)
		memcpy(grh, frame + ROCE_ETH_HLEN, ROCE_IPV6_HLEN);
	else
		memcpy(grh + 20, frame + ROCE_ETH_HLEN, ROCE_IPV4_HLEN);
	w = &v->rq[v->rq_head];
	if (w->num_sge == 0xffff || len > sge_total(w->sge, w->num_sge))
		status = VIRTIO_RDMA_WC_LOC_LEN_ERR;
	else
		status = vrdma_sge_copy(d, qp, w->sge, w->num_sge, 0, grh, sizeof(grh), true) ?:
			 vrdma_sge_copy(d, qp, w->sge, w->num_sge, sizeof(grh), (uint8_t *)p->payload,
				  p->payload_len, true);
	{
		struct virtio_rdma_cqe e = {
			.wr_id = htole64(w->wr_id), .status = status,
			.opcode = VIRTIO_RDMA_WC_RECV,
			.wc_flags = VIRTIO_RDMA_WC_GRH | VIRTIO_RDMA_WC_WITH_SMAC |
				    VIRTIO_RDMA_WC_WITH_NETWORK_HDR_TYPE |
				    (op & 1 ? VIRTIO_RDMA_WC_WITH_IMM : 0),
			.network_hdr_type = p->ipv6 ? VIRTIO_RDMA_NETWORK_IPV6 :
						      VIRTIO_RDMA_NETWORK_IPV4,
			.byte_len = htole32(len), .imm_or_inv = htobe32(p->imm),
			.qp_num = htole32(p->dqpn), .src_qp = htole32(p->sqpn),
		};

		memcpy(e.smac, p->smac, 6);
		v->rq_head = (v->rq_head + 1) % RC_SQ_MAX;
		v->rq_count--;
		cq_add(d, qp->recv_cq, &e, p->solicited);
	}
}

/* One frame for a QP of ours, at @now (one clock read serves a batch). */
static void wire_take(struct vrdma *d, const uint8_t *frame, size_t len, uint64_t now)
{
	struct roce_pkt p, reply;
	struct rdma_qp *qp;
	struct vqp *v;
	const char *why;
	uint8_t sgid[16];

	if (roce_parse(frame, len, &p, &why)) {
		d->stats.rx_bad++;
		return;
	}
	qp = rdma_verbs_qp(&d->verbs, p.dqpn);
	if (qp && (qp->type == RDMA_QPT_UD || qp->type == RDMA_QPT_GSI)) {
		ud_receive(d, qp, &p, frame);
		return;
	}
	/* RC: from its peer only (its GID), in a state that takes packets. */
	gid_from_ip(sgid, p.sip, p.ipv6);
	if (!qp || qp->type != RDMA_QPT_RC || (p.opcode & 0xe0) != ROCE_RC ||
	    qp->state < RDMA_QPS_RTR || qp->state == RDMA_QPS_ERR ||
	    memcmp(sgid, qp->av.dgid, 16)) {
		d->stats.rx_dropped++;
		return;
	}
	d->stats.rx_frames++;
	v = vqp_of(d, p.dqpn);
	memset(&reply, 0, sizeof(reply));
	if (rc_receive(&qp->rc, &p, now, &reply) && av_address(d, &qp->av, p.dqpn, &reply))
		wire_send(d, &reply);
	if (v->dirty_owed) {
		guest_mem_mark_dirty(d->gm, v->dirty_gpa, 8);
		v->dirty_owed = false;
	}
	sq_complete(d, v, qp);
}

/*
 * Each frame is taken where it lies: the NIC's thread fills only slots
 * past the counted ones, so the head slot stays ours until we move past
 * it (and a reset empties the inbox only with this worker stopped).
 */
static void wire_drain(struct vrdma *d)
{
	for (;;) {
		const uint8_t *frame;
		size_t len;

		pthread_mutex_lock(&d->wire_lock);
		if (!d->inbox_count) {
			pthread_mutex_unlock(&d->wire_lock);
			return;
		}
		len = d->inbox_len[d->inbox_head];
		frame = d->inbox[d->inbox_head];
		pthread_mutex_unlock(&d->wire_lock);
		wire_take(d, frame, len, vlab_now_ns());
		pthread_mutex_lock(&d->wire_lock);
		d->inbox_head = (d->inbox_head + 1) % INBOX_FRAMES;
		d->inbox_count--;
		pthread_mutex_unlock(&d->wire_lock);
	}
}

/* The verbs' GID table, for the wire side to see which frames are the device's. */
void vrdma_gids_publish(struct vrdma *d)
{
	pthread_mutex_lock(&d->wire_lock);
	memcpy(d->gids, d->verbs.gids, sizeof(d->gids));
	pthread_mutex_unlock(&d->wire_lock);
}

/* The IP destination of a UDP 4791 frame (IPv4 mapped into a GID), or false. */
static bool frame_roce_dst(const uint8_t *f, size_t len, uint8_t gid[16])
{
	uint16_t type;
	size_t ip;

	if (len < ROCE_ETH_HLEN + ROCE_IPV4_HLEN + ROCE_UDP_HLEN)
		return false;
	type = (uint16_t)(f[12] << 8 | f[13]);
	ip = ROCE_ETH_HLEN;
	if (type == 0x0800) {
		size_t ihl = (f[ip] & 0xf) * 4u;

		if (f[ip + 9] != 17 || ihl < 20 || len < ip + ihl + ROCE_UDP_HLEN ||
		    (f[ip + ihl + 2] << 8 | f[ip + ihl + 3]) != ROCE_UDP_PORT)
			return false;
		gid_from_ip(gid, f + ip + 16, false);
		return true;
	}
	if (type == 0x86dd) {
		if (len < ip + ROCE_IPV6_HLEN + ROCE_UDP_HLEN || f[ip + 6] != 17 ||
		    (f[ip + 42] << 8 | f[ip + 43]) != ROCE_UDP_PORT)
			return false;
		gid_from_ip(gid, f + ip + 24, true);
		return true;
	}
	return false;
}

/*
 * Whether @frame is for one of the GIDs in @gids: the verbs' (under
 * d->lock) or the copy published for other threads (under d->wire_lock).
 */
static bool frame_ours(const struct rdma_gid *gids, const void *frame, size_t len)
{
	uint8_t gid[16];
	int i;

	if (!frame_roce_dst(frame, len, gid))
		return false;
	for (i = 0; i < RDMA_GID_TBL_LEN; i++)
		if (gids[i].valid && !memcmp(gids[i].gid, gid, 16))
			return true;
	return false;
}

/* Into the inbox, for the worker, or dropped, as a full NIC queue would (under d->wire_lock). */
static void inbox_add(struct vrdma *d, const void *frame, size_t len)
{
	unsigned int slot;

	if (len > FRAME_MAX || d->inbox_count == INBOX_FRAMES) {
		d->stats.rx_dropped++;
		return;
	}
	slot = (d->inbox_head + d->inbox_count++) % INBOX_FRAMES;
	memcpy(d->inbox[slot], frame, len);
	d->inbox_len[slot] = (uint16_t)len;
}

/* A frame for one of our GIDs goes into the inbox (or is dropped): true; else false. */
static bool inbox_put(struct vrdma *d, const void *frame, size_t len)
{
	bool ours;

	pthread_mutex_lock(&d->wire_lock);
	ours = frame_ours(d->gids, frame, len);
	if (ours)
		inbox_add(d, frame, len);
	pthread_mutex_unlock(&d->wire_lock);
	return ours;
}

bool virtio_rdma_receive(struct virtio_dev *vdev, const void *frame, size_t len)
{
	struct vrdma *d = vdev->priv;

	if (!inbox_put(d, frame, len))
		return false;
	worker_kick(&d->worker, KICK_WIRE);
	return true;
}

static void qp_flush(struct vrdma *d, uint32_t qpn, bool complete);

/* ---- control, timers, the worker ---- */

static void ctrl_take(struct vrdma *d)
{
	struct virtq *vq = &d->vdev.vqs[0];
	uint8_t reply[RDMA_CTRL_REPLY_MAX];
	struct virtq_elem elem;
	struct virtq_cursor c;
	size_t n, rn;
	int r;

	while ((r = virtq_pop(vq, &elem)) > 0) {
		if (!elem.in_len) {
			virtq_push(vq, &elem, 0);
			continue;
		}
		virtq_cursor_init(&c, &elem, false);
		if (elem.out_len > CTRL_MAX) {
			reply[0] = EINVAL;
			rn = 1;
		} else {
			n = virtq_cursor_read(&c, d->ctrl, CTRL_MAX);
			rn = rdma_verbs_ctrl(&d->verbs, d->ctrl, n, reply, sizeof(reply));
			if (reply[0])
				vlab_log("virtio-rdma: %s refused: %s",
					 rdma_verbs_cmd_name(n ? d->ctrl[0] : 0xff),
					 d->verbs.last_error);
		}
		virtq_cursor_init(&c, &elem, true);
		virtq_push(vq, &elem, (uint32_t)virtq_cursor_write(&c, reply, rn));
		virtio_dev_notify_used(&d->vdev, 0);
	}
	if (r < 0)
		virtio_dev_needs_reset(&d->vdev, vq->broken_reason ? vq->broken_reason :
				       "bad control descriptor");
	/* GIDs may have changed: the wire side sees them. */
	vrdma_gids_publish(d);
}

static void timers_arm(struct vrdma *d)
{
	uint64_t now = vlab_now_ns(), next = 0;
	uint32_t qpn;

	for (qpn = 2; qpn <= d->conf.qps; qpn++) {
		struct rdma_qp *qp = vrdma_rc_live(d, qpn);
		uint64_t t;

		if (!qp)
			continue;
		t = qp->rc.deadline_ns;
		if (qp->rc.rnr_until_ns > now && (!t || qp->rc.rnr_until_ns < t))
			t = qp->rc.rnr_until_ns;
		if (t && (!next || t < next))
			next = t;
	}
	/*
	 * The armed timer stays if it fires no later than @next (or nothing
	 * waits): it then fires early, finds nothing due, and the round after
	 * it arms the real deadline. Every ACK moves a retransmit deadline on,
	 * and a timerfd_settime() a batch cost more than one early wake-up a
	 * timeout.
	 */
	if (!d->timer_ready || !next || (d->timer_due && d->timer_due <= next))
		return;
	d->timer_due = next;
	worker_timer_arm(&d->timer, next > now ? next - now : 1);
}

static void timer_fired(struct worker_timer *t, void *opaque)
{
	struct vrdma *d = opaque;
	uint64_t now = vlab_now_ns();
	uint32_t qpn;

	pthread_mutex_lock(&d->lock);
	d->timer_due = 0;	/* fired: the next round arms it again */
	for (qpn = 2; qpn <= d->conf.qps; qpn++) {
		struct rdma_qp *qp = vrdma_rc_live(d, qpn);

		if (qp)
			rc_tick(&qp->rc, now);
	}
	pthread_mutex_unlock(&d->lock);
	worker_kick_local(&d->worker, KICK_WIRE);
}

/*
 * The transport of an RC QP stopped on an error (a NAK, retries used up,
 * a bad work request): the QP goes to ERR, as IBA has it, and what it
 * holds completes as flushed.
 */
static void qps_check_errors(struct vrdma *d)
{
	uint32_t qpn;

	for (qpn = 2; qpn <= d->conf.qps; qpn++) {
		struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, qpn);

		if (qp && qp->type == RDMA_QPT_RC && qp->rc.error && qp->state != RDMA_QPS_ERR &&
		    qp->state != RDMA_QPS_RESET) {
			qp->state = RDMA_QPS_ERR;
			qp_flush(d, qpn, true);
		}
	}
}

/*
 * What follows taking frames or doorbells: work requests posted meanwhile
 * (a send queue with messages out is not kicked), packets out,
 * completions, errors, timers.
 */
static void vrdma_progress(struct vrdma *d)
{
	uint32_t i;

	for (i = 1; i <= d->conf.qps; i++)
		sq_take(d, i);
	qps_send(d);
	for (i = 0; i < d->conf.cqs; i++)
		if (d->cqs[i].count || d->cqs[i].overrun)
			cq_drain(d, i);
	for (i = 1; i <= d->conf.qps; i++) {
		struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, i);

		if (qp)
			sq_complete(d, vqp_of(d, i), qp);
	}
	qps_check_errors(d);
	timers_arm(d);
}

static void vrdma_run(struct worker *w, uint32_t kicked, void *opaque)
{
	struct vrdma *d = opaque;
	uint32_t i;

	pthread_mutex_lock(&d->lock);
	if (kicked & KICK_CTRL)
		ctrl_take(d);
	/* Receive WRs before the frames that may need them (a datagram has no retry). */
	for (i = 1; i <= d->conf.qps; i++)
		rq_take(d, i);
	if (kicked & KICK_WIRE)
		wire_drain(d);
	/* Every QP's queues each round: they are few, and state changes free them. */
	vrdma_progress(d);
	pthread_mutex_unlock(&d->lock);
}

/* ---- what the verbs tell the data path ---- */

/* Everything outstanding on @qpn completes as flushed (ERR), or is dropped (RESET, destroy). */
static void qp_flush(struct vrdma *d, uint32_t qpn, bool complete)
{
	struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, qpn);
	struct vqp *v = vqp_of(d, qpn);

	if (!qp)
		return;
	for (uint64_t i = v->sq_head; i != v->sq_tail; i++) {
		struct swqe *w = &v->sq[i % RC_SQ_MAX];

		if (!w->done)
			sq_done(v, w, VIRTIO_RDMA_WC_WR_FLUSH_ERR);
	}
	if (complete) {
		sq_complete(d, v, qp);
		while (v->rq_count)
			rq_complete(d, v, qp, VIRTIO_RDMA_WC_WR_FLUSH_ERR, VIRTIO_RDMA_WC_RECV, 0,
				    false, 0, false);
	} else {
		vqp_drop(v);
	}
}

static void on_qp_changed(void *opaque, uint32_t qpn, enum rdma_qp_state old)
{
	struct vrdma *d = opaque;
	struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, qpn);
	struct vqp *v = vqp_of(d, qpn);

	if (qp->state == RDMA_QPS_RTR && old == RDMA_QPS_INIT && qp->type == RDMA_QPT_RC)
		vrdma_rc_attach(qp, v);
	if (qp->state == RDMA_QPS_ERR)
		qp_flush(d, qpn, true);
	else if (qp->state == RDMA_QPS_RESET)
		qp_flush(d, qpn, false);
	/* Work that waited for this state goes now. */
	worker_kick_local(&d->worker, KICK_VQ);
}

static void on_qp_destroy(void *opaque, uint32_t qpn)
{
	struct vrdma *d = opaque;

	qp_flush(d, qpn, true);
	qp_flush(d, qpn, false);
}

const struct rdma_verbs_ops vrdma_verbs_ops = {
	.qp_changed = on_qp_changed, .qp_destroy = on_qp_destroy,
};

/* ---- virtio (the state's save, load, quiesce and resume: rdma_state.c) ---- */

static void vrdma_config_read(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len)
{
	struct vrdma *d = vdev->priv;

	if (off <= sizeof(d->config) && len <= sizeof(d->config) - off)
		memcpy(buf, (uint8_t *)&d->config + off, len);
}

static struct worker *vrdma_queue_worker(struct virtio_dev *vdev, uint16_t q)
{
	return &((struct vrdma *)vdev->priv)->worker;
}

static void vrdma_queue_notify(struct virtio_dev *vdev, uint16_t q)
{
	struct vrdma *d = vdev->priv;

	worker_kick(&d->worker, q ? KICK_VQ : KICK_CTRL);
}

int vrdma_start(struct virtio_dev *vdev)
{
	struct vrdma *d = vdev->priv;

	if (worker_start(&d->worker))
		return -1;
	pthread_mutex_lock(&d->lock);
	d->live = true;
	pthread_mutex_unlock(&d->lock);
	worker_kick(&d->worker, KICK_CTRL | KICK_VQ | KICK_WIRE);
	return 0;
}

/* Frames from the NIC's thread go to the inbox from now on; the worker stops. */
void vrdma_stop(struct vrdma *d)
{
	pthread_mutex_lock(&d->lock);
	d->live = false;
	pthread_mutex_unlock(&d->lock);
	worker_stop(&d->worker);
}

static void vrdma_drop_state(struct vrdma *d)
{
	uint32_t i;

	pthread_mutex_lock(&d->lock);
	qps_drop(d);
	rdma_verbs_reset(&d->verbs);
	for (i = 0; i < d->conf.cqs; i++)
		d->cqs[i].head = d->cqs[i].count = 0, d->cqs[i].overrun = false;
	pthread_mutex_lock(&d->wire_lock);
	memset(d->gids, 0, sizeof(d->gids));
	d->inbox_count = 0;
	pthread_mutex_unlock(&d->wire_lock);
	pthread_mutex_unlock(&d->lock);
}

static void vrdma_reset(struct virtio_dev *vdev)
{
	struct vrdma *d = vdev->priv;

	vrdma_stop(d);
	if (d->timer_ready)
		worker_timer_arm(&d->timer, 0);
	d->timer_due = 0;
	vrdma_drop_state(d);
}

static const struct virtio_dev_ops vrdma_ops = {
	.name = "virtio-rdma",
	.device_id = VIRTIO_ID_RDMA,
	.pci_class = 0x020700,		/* network controller, InfiniBand */
	.config_size = sizeof(struct virtio_rdma_config),
	.config_read = vrdma_config_read,
	.queue_worker = vrdma_queue_worker,
	.queue_notify = vrdma_queue_notify,
	.start = vrdma_start,
	.reset = vrdma_reset,
	.save = vrdma_save,
	.load = vrdma_load,
	.quiesce = vrdma_quiesce,
	.unquiesce = vrdma_unquiesce,
};

struct virtio_dev *virtio_rdma_new(struct guest_mem *gm, const struct virtio_rdma_conf *conf,
				   const struct rdma_port *port, char *err, size_t errlen)
{
	struct rdma_verbs_config vc = {
		.max_cq = conf->cqs, .max_qp = conf->qps, .max_cqe = 4096, .max_qp_wr = RC_SQ_MAX,
		.max_sge = MAX_SGE, .max_inline = MAX_INLINE, .max_mr = 1024, .max_pd = 64,
		.max_ah = 256, .max_fast_reg_pages = 512, .max_qp_rd_atom = RC_RD_MAX,
		.max_mtu = VIRTIO_RDMA_MTU_4096, .ram_end = gm->ram_size,
	};
	struct vrdma *d;
	uint32_t i;

	/* MR pages may be anywhere in RAM, above the PCI hole too. */
	for (i = 0; i < (uint32_t)gm->nr_regions; i++)
		if (gm->regions[i].gpa + gm->regions[i].size > vc.ram_end)
			vc.ram_end = gm->regions[i].gpa + gm->regions[i].size;
	if (conf->cqs < 1 || conf->cqs > VIRTIO_RDMA_MAX_CQS || conf->qps < 2 ||
	    conf->qps > VIRTIO_RDMA_MAX_QPS) {
		snprintf(err, errlen, "virtio-rdma: cqs=1..%d and qps=2..%d (the GSI QP included)",
			 VIRTIO_RDMA_MAX_CQS, VIRTIO_RDMA_MAX_QPS);
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		goto nomem;
	d->gm = gm;
	d->conf = *conf;
	d->port = *port;
	memcpy(vc.mac, port->mac, 6);
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->wire_lock, NULL);
	d->inbox = malloc(INBOX_FRAMES * sizeof(*d->inbox));
	d->ctrl = malloc(CTRL_MAX);
	if (!d->inbox || !d->ctrl || rdma_verbs_init(&d->verbs, &vc, &vrdma_verbs_ops, d))
		goto nomem;
	if (vrdma_cqs_alloc(d, vc.max_cqe))
		goto nomem;
	for (i = 0; i < conf->qps; i++) {
		d->qps[i].dev = d;
		d->qps[i].qpn = i + 1;
	}
	d->config = (struct virtio_rdma_config){
		.max_cq = htole32(conf->cqs), .max_qp = htole32(conf->qps),
		.max_cqe = htole32(vc.max_cqe), .max_qp_wr = htole32(vc.max_qp_wr),
		.max_sge = htole32(vc.max_sge), .max_inline = htole32(vc.max_inline),
		.max_mr = htole32(vc.max_mr - 1), .max_pd = htole32(vc.max_pd),
		.max_ah = htole32(vc.max_ah), .max_fast_reg_pages = htole32(vc.max_fast_reg_pages),
		.max_qp_rd_atom = htole32(vc.max_qp_rd_atom), .gid_tbl_len = htole32(RDMA_GID_TBL_LEN),
		.port_state = VIRTIO_RDMA_PORT_ACTIVE, .max_mtu = vc.max_mtu,
	};
	memcpy(d->config.mac, port->mac, 6);
	if (virtio_dev_init(&d->vdev, &vrdma_ops, d, gm, 1 + conf->cqs + 2 * conf->qps, QSIZE) ||
	    worker_init(&d->worker, "rdma", vrdma_run, d))
		goto nomem;
	d->worker_ready = true;
	if (worker_timer_init(&d->timer, &d->worker, timer_fired, d))
		goto nomem;
	d->timer_ready = true;
	return &d->vdev;
nomem:
	snprintf(err, errlen, "virtio-rdma: out of memory");
	if (d)
		virtio_rdma_free(&d->vdev);
	return NULL;
}

void virtio_rdma_free(struct virtio_dev *vdev)
{
	struct vrdma *d = (struct vrdma *)vdev;	/* vdev is its first member */

	if (d->worker_ready)
		vrdma_stop(d);
	if (d->timer_ready)
		worker_timer_exit(&d->timer);
	if (d->worker_ready)
		worker_exit(&d->worker);
	vrdma_objects_free(d);
	if (d->vdev.vqs)
		virtio_dev_exit(&d->vdev);
	free(d->inbox);
	free(d->ctrl);
	pthread_mutex_destroy(&d->wire_lock);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

size_t virtio_rdma_ctrl_sync(struct virtio_dev *vdev, const uint8_t *req, size_t len,
			     uint8_t *reply, size_t cap)
{
	struct vrdma *d = vdev->priv;
	size_t n;

	pthread_mutex_lock(&d->lock);
	n = rdma_verbs_ctrl(&d->verbs, req, len, reply, cap);
	vrdma_gids_publish(d);
	pthread_mutex_unlock(&d->lock);
	return n;
}

int virtio_rdma_post_recv_sync(struct virtio_dev *vdev, uint32_t qpn, uint64_t wr_id,
			       uint64_t addr, uint32_t len, uint32_t lkey)
{
	struct vrdma *d = vdev->priv;
	struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, qpn);
	struct vqp *v;
	struct rwqe *w;

	if (!qp || qp->state == RDMA_QPS_RESET)
		return -EINVAL;
	v = vqp_of(d, qpn);
	if (v->rq_count == RC_SQ_MAX)
		return -ENOSPC;
	w = &v->rq[(v->rq_head + v->rq_count++) % RC_SQ_MAX];
	*w = (struct rwqe){ .wr_id = wr_id, .num_sge = 1 };
	w->sge[0] = (struct virtio_rdma_sge){ htole64(addr), htole32(len), htole32(lkey) };
	return 0;
}

int virtio_rdma_post_send_sync(struct virtio_dev *vdev, uint32_t qpn, const void *wr,
			       size_t len)
{
	struct vrdma *d = vdev->priv;
	struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, qpn);
	struct vqp *v;

	if (!qp || len > sizeof(d->wr) || (qp->state != RDMA_QPS_RTS && qp->state != RDMA_QPS_ERR))
		return -EINVAL;
	v = vqp_of(d, qpn);
	if (v->sq_tail - v->sq_head >= qp->max_send_wr)
		return -ENOSPC;
	memcpy(d->wr, wr, len);
	sq_post(d, v, qp, len);
	sq_complete(d, v, qp);
	qps_send(d);
	qps_check_errors(d);
	return 0;
}

void virtio_rdma_frame_sync(struct virtio_dev *vdev, const void *frame, size_t len)
{
	struct vrdma *d = vdev->priv;

	if (len > FRAME_MAX)
		return;
	wire_take(d, frame, len, vlab_now_ns());
	qps_send(d);
	qps_check_errors(d);
}

void virtio_rdma_get_stats(struct virtio_dev *vdev, struct virtio_rdma_stats *s)
{
	*s = ((struct vrdma *)vdev->priv)->stats;
}

/* ---- --rdma: a device on a vlab NIC's port ---- */

struct vrdma_handle {
	struct virtio_dev *rdma;
	struct virtio_dev *nic;
};

static int nic_send(void *opaque, const void *frame, size_t len)
{
	return virtio_net_port_send(opaque, frame, len);
}

static int nic_sendv(void *opaque, const struct iovec *iov, int n)
{
	return virtio_net_port_sendv(opaque, iov, n);
}

static void nic_burst(void *opaque, bool begin)
{
	virtio_net_port_burst(opaque, begin);
}

/*
 * The NIC's worker hands over what it read from the backend in one batch,
 * then calls with no frame. A frame is taken on this thread, where it
 * lies: a hop through the inbox to the device's worker cost a copy, a
 * wake-up and a switch a batch, and on a 2-CPU host with a polling vCPU
 * those, not the transport's work, bounded the stream. What the batch's
 * frames let go (packets, completions) goes at its end. Only while the
 * worker is stopped, or older frames wait for it, the inbox takes them,
 * and the worker is woken once a batch. The device's lock is held from
 * the batch's first call to its end (virtio-net always ends a batch it
 * began), so the worker waits at most one batch of frames.
 */
static bool nic_rx(void *opaque, const void *frame, size_t len)
{
	struct vrdma *d = ((struct virtio_dev *)opaque)->priv;
	bool ours = false, take = false, kick = false;

	/* Held from a batch's first frame to its end: one lock pair a batch. */
	if (!d->rx_batch) {
		pthread_mutex_lock(&d->lock);
		d->rx_batch = true;
	}
	if (!frame) {
		kick = d->rx_unkicked;
		d->rx_unkicked = false;
	} else if ((ours = frame_ours(d->verbs.gids, frame, len))) {
		/* The inbox only grows meanwhile (virtio_rdma_receive()): a look will do. */
		take = d->live && len <= FRAME_MAX &&
		       !__atomic_load_n(&d->inbox_count, __ATOMIC_RELAXED);
		if (!take) {
			pthread_mutex_lock(&d->wire_lock);
			inbox_add(d, frame, len);
			d->rx_unkicked = true;
			pthread_mutex_unlock(&d->wire_lock);
		}
	}
	if (take) {
		if (!d->wire_took)
			d->wire_now = vlab_now_ns();
		wire_take(d, frame, len, d->wire_now);
		d->wire_took = true;
	} else if (!frame && d->wire_took) {
		if (d->live)
			vrdma_progress(d);
		d->wire_took = false;
	}
	if (frame)
		return ours;
	d->rx_batch = false;
	pthread_mutex_unlock(&d->lock);
	if (kick)
		worker_kick(&d->worker, KICK_WIRE);
	return ours;
}

static int rdma_parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || x < lo || x > hi)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

int virtio_rdma_parse(const char *arg, struct virtio_rdma_conf *c, char *err, size_t errlen)
{
	char buf[256], *tok, *save = NULL;
	bool have_net = false;
	uint32_t n;

	memset(c, 0, sizeof(*c));
	c->cqs = 8;
	c->qps = 8;
	if (strlen(arg) >= sizeof(buf)) {
		snprintf(err, errlen, "--rdma: '%.32s...' is too long", arg);
		return -1;
	}
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "net=", 4)) {
			if (rdma_parse_u32(tok + 4, 0, VLAB_MAX_NICS - 1, &n)) {
				snprintf(err, errlen, "--rdma: net '%s' is not a NIC index 0..%d",
					 tok + 4, VLAB_MAX_NICS - 1);
				return -1;
			}
			c->net = (int)n;
			have_net = true;
		} else if (!strncmp(tok, "cqs=", 4)) {
			if (rdma_parse_u32(tok + 4, 1, VIRTIO_RDMA_MAX_CQS, &c->cqs)) {
				snprintf(err, errlen, "--rdma: cqs '%s' is not 1..%d", tok + 4,
					 VIRTIO_RDMA_MAX_CQS);
				return -1;
			}
		} else if (!strncmp(tok, "qps=", 4)) {
			if (rdma_parse_u32(tok + 4, 2, VIRTIO_RDMA_MAX_QPS, &c->qps)) {
				snprintf(err, errlen, "--rdma: qps '%s' is not 2..%d (the GSI QP "
					 "included)", tok + 4, VIRTIO_RDMA_MAX_QPS);
				return -1;
			}
		} else {
			snprintf(err, errlen, "--rdma: unknown option '%s' (net=N, cqs=N, qps=N)", tok);
			return -1;
		}
	}
	if (!have_net) {
		snprintf(err, errlen, "--rdma: needs net=N, the --net NIC whose port it shares");
		return -1;
	}
	return 0;
}

static int rdma_kind_parse(const char *arg, void *config, char *err, size_t errlen)
{
	return virtio_rdma_parse(arg, config, err, errlen);
}

struct virtio_dev *virtio_rdma_new_on_nic(struct guest_mem *gm, const struct virtio_rdma_conf *c,
					  struct virtio_dev *nic, char *err, size_t errlen)
{
	struct rdma_port port = { .send = nic_send, .sendv = nic_sendv, .burst = nic_burst,
				  .opaque = nic };
	struct virtio_dev *rdma;

	if (!virtio_net_has_port(nic)) {
		snprintf(err, errlen, "--rdma net=%d: that NIC's frames are a vhost-user backend's; "
			 "the RDMA device shares the port of a NIC on a hub, tap, loop or null backend",
			 c->net);
		return NULL;
	}
	virtio_net_port_mac(nic, port.mac);
	rdma = virtio_rdma_new(gm, c, &port, err, errlen);
	if (!rdma)
		return NULL;
	if (virtio_net_set_port_rx(nic, nic_rx, rdma)) {
		snprintf(err, errlen, "--rdma net=%d: that NIC has an RDMA device already", c->net);
		virtio_rdma_free(rdma);
		return NULL;
	}
	return rdma;
}

void virtio_rdma_leave_nic(struct virtio_dev *rdma, struct virtio_dev *nic)
{
	/* Once this returns no NIC thread is in nic_rx(), nor enters it again. */
	virtio_net_set_port_rx(nic, NULL, NULL);
	vrdma_stop(rdma->priv);
}

static void *rdma_kind_create(struct vm *vm, const void *config, int index, char *err,
			      size_t errlen)
{
	const struct virtio_rdma_conf *c = config;
	struct vrdma_handle *h;

	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "virtio-rdma: out of memory");
		return NULL;
	}
	h->nic = device_find(vm, &virtio_net_kind, c->net);
	if (!h->nic) {
		snprintf(err, errlen, "--rdma net=%d: there is no --net NIC %d", c->net, c->net);
		free(h);
		return NULL;
	}
	h->rdma = virtio_rdma_new_on_nic(&vm->mem, c, h->nic, err, errlen);
	if (!h->rdma) {
		free(h);
		return NULL;
	}
	if (virtio_pci_attach(vm, h->rdma)) {
		snprintf(err, errlen, "virtio-rdma: cannot attach to PCI");
		virtio_rdma_leave_nic(h->rdma, h->nic);
		virtio_rdma_free(h->rdma);
		free(h);
		return NULL;
	}
	return h;
}

static void rdma_kind_destroy(struct vm *vm, void *dev)
{
	struct vrdma_handle *h = dev;

	virtio_rdma_leave_nic(h->rdma, h->nic);
	virtio_pci_detach(h->rdma);
	virtio_rdma_free(h->rdma);
	free(h);
}

static void rdma_kind_config_save(const void *config, struct state_buf *sb)
{
	const struct virtio_rdma_conf *c = config;

	state_put_u32(sb, "net", (uint32_t)c->net);
	state_put_u32(sb, "cqs", c->cqs);
	state_put_u32(sb, "qps", c->qps);
}

static int rdma_kind_config_check(const void *config, const void *fdt, int node, char *err,
				  size_t errlen)
{
	const struct virtio_rdma_conf *c = config;
	uint32_t net, cqs, qps;

	if (state_get_u32(fdt, node, "net", &net, err, errlen) ||
	    state_get_u32(fdt, node, "cqs", &cqs, err, errlen) ||
	    state_get_u32(fdt, node, "qps", &qps, err, errlen))
		return -1;
	if (net != (uint32_t)c->net || cqs != c->cqs || qps != c->qps) {
		snprintf(err, errlen, "net=%u cqs=%u qps=%u at the source", net, cqs, qps);
		return -1;
	}
	return 0;
}

/*
 * The QP table, read from the main thread while the worker changes it:
 * relaxed loads of each field, a display that may mix two moments.
 */
static void rdma_kind_watch(void *dev, struct json_writer *w)
{
	static const char *const types[RDMA_QPT_NR] = {
		[RDMA_QPT_RC] = "RC", [RDMA_QPT_UC] = "UC", [RDMA_QPT_UD] = "UD",
		[RDMA_QPT_GSI] = "GSI",
	};
	struct vrdma_handle *h = dev;
	struct vrdma *d = h->rdma->priv;
	uint32_t i;

	virtio_dev_watch_queues(h->rdma, w);
	json_key(w, "qps");
	json_arr_begin(w);
	for (i = 0; i < d->verbs.cfg.max_qp; i++) {
		struct rdma_qp *qp = &d->verbs.qps[i];
		enum rdma_qp_type type = __atomic_load_n(&qp->type, __ATOMIC_RELAXED);

		if (!__atomic_load_n(&qp->used, __ATOMIC_RELAXED))
			continue;
		json_obj_begin(w);
		json_kv_uint(w, "qpn", i + 1);
		json_kv_string(w, "type", type < RDMA_QPT_NR ? types[type] : "?");
		json_kv_string(w, "state",
			       rdma_qp_state_name(__atomic_load_n(&qp->state, __ATOMIC_RELAXED)));
		if (type == RDMA_QPT_RC) {
			json_kv_uint(w, "sq_psn", __atomic_load_n(&qp->rc.psn, __ATOMIC_RELAXED));
			json_kv_uint(w, "una_psn", __atomic_load_n(&qp->rc.una, __ATOMIC_RELAXED));
			json_kv_uint(w, "rq_psn", __atomic_load_n(&qp->rc.epsn, __ATOMIC_RELAXED));
			json_kv_uint(w, "resent", __atomic_load_n(&qp->rc.resent, __ATOMIC_RELAXED));
		}
		json_obj_end(w);
	}
	json_arr_end(w);
}

struct device_kind virtio_rdma_kind = {
	.option = "rdma",
	.noun = "RDMA device",
	.usage = "  --rdma net=N[,OPTS]  virtio-rdma device (ID 42) sharing the port of --net NIC N,\n"
		 "                       RoCEv2 on its wire (up to 4, one per NIC); OPTS: cqs=N\n"
		 "                       (1..16, default 8), qps=N (2..16 with the GSI QP, default 8)\n",
	.max = VLAB_MAX_NICS,
	.after_others = true,
	.config_size = sizeof(struct virtio_rdma_conf),
	.parse = rdma_kind_parse,
	.create = rdma_kind_create,
	.destroy = rdma_kind_destroy,
	.config_save = rdma_kind_config_save,
	.config_check = rdma_kind_config_check,
	.watch = rdma_kind_watch,
};
DEVICE_KIND(virtio_rdma_kind);
