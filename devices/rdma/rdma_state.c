// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio-rdma device's state for a move (a migration, a snapshot):
 * quiesced and saved at the source, loaded at the destination into a
 * scratch device, checked whole, then taken over, and resumed. The tree:
 * "rdma" with the PDs in use, then a node per GID, CQ (its completions
 * still waiting for a buffer), AH, MR (its pages) and QP (its send and
 * receive WRs, and its RC transport, devices/rdma/rc.c).
 */
#include <endian.h>
#include <errno.h>
#include <libfdt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/rdma/vrdma.h"
#include "vmm/core/vm.h"
#include "vmm/migrate/state.h"

/*
 * A CQ node's version. 2: "backlog-solicited", which waiting completions
 * wake a CQ armed for solicited events; 1 has none (a version 1 stream
 * loads with none marked: its source did not know SE either).
 */
#define CQ_NODE_VERSION	2

static const struct state_field cq_fields[] = {
	STATE_UINT(struct rdma_cq, cqe, "cqe"),
	STATE_UINT(struct rdma_cq, notify, "notify"),
};

static const struct state_field ah_fields[] = {
	STATE_UINT(struct rdma_ah, pd, "pd"),
	STATE_BYTES(struct rdma_ah, av, "av"),
};

static const struct state_field gid_fields[] = {
	STATE_UINT(struct rdma_gid, type, "type"),
	STATE_BYTES(struct rdma_gid, gid, "gid"),
};

static const struct state_field mr_fields[] = {
	STATE_UINT(struct rdma_mr, type, "type"),
	STATE_UINT(struct rdma_mr, key, "key"),
	STATE_UINT(struct rdma_mr, pd, "pd"),
	STATE_UINT(struct rdma_mr, access, "access"),
	STATE_BOOL(struct rdma_mr, valid, "valid"),
	STATE_UINT(struct rdma_mr, va, "va"),
	STATE_UINT(struct rdma_mr, length, "length"),
	STATE_UINT(struct rdma_mr, page_shift, "page-shift"),
	STATE_UINT(struct rdma_mr, offset, "offset"),
	STATE_UINT(struct rdma_mr, npages, "npages"),
	STATE_UINT(struct rdma_mr, max_pages, "max-pages"),
};

static const struct state_field qp_fields[] = {
	STATE_UINT(struct rdma_qp, type, "type"),
	STATE_UINT(struct rdma_qp, state, "state"),
	STATE_UINT(struct rdma_qp, pd, "pd"),
	STATE_UINT(struct rdma_qp, send_cq, "send-cq"),
	STATE_UINT(struct rdma_qp, recv_cq, "recv-cq"),
	STATE_BOOL(struct rdma_qp, sq_sig_all, "sq-sig-all"),
	STATE_UINT(struct rdma_qp, max_send_wr, "max-send-wr"),
	STATE_UINT(struct rdma_qp, max_recv_wr, "max-recv-wr"),
	STATE_UINT(struct rdma_qp, max_send_sge, "max-send-sge"),
	STATE_UINT(struct rdma_qp, max_recv_sge, "max-recv-sge"),
	STATE_UINT(struct rdma_qp, max_inline, "max-inline"),
	STATE_UINT(struct rdma_qp, path_mtu, "path-mtu"),
	STATE_UINT(struct rdma_qp, timeout, "timeout"),
	STATE_UINT(struct rdma_qp, retry_cnt, "retry-cnt"),
	STATE_UINT(struct rdma_qp, rnr_retry, "rnr-retry"),
	STATE_UINT(struct rdma_qp, min_rnr_timer, "min-rnr-timer"),
	STATE_UINT(struct rdma_qp, max_rd_atomic, "max-rd-atomic"),
	STATE_UINT(struct rdma_qp, max_dest_rd_atomic, "max-dest-rd-atomic"),
	STATE_UINT(struct rdma_qp, qkey, "qkey"),
	STATE_UINT(struct rdma_qp, rq_psn, "rq-psn"),
	STATE_UINT(struct rdma_qp, sq_psn, "sq-psn"),
	STATE_UINT(struct rdma_qp, dest_qpn, "dest-qpn"),
	STATE_UINT(struct rdma_qp, access, "access"),
	STATE_BYTES(struct rdma_qp, av, "av"),
};

static const struct state_field vqp_fields[] = {
	STATE_UINT(struct vqp, sq_head, "sq-head"),
	STATE_UINT(struct vqp, sq_tail, "sq-tail"),
	STATE_UINT(struct vqp, rq_head, "rq-head"),
	STATE_UINT(struct vqp, rq_count, "rq-count"),
	STATE_UINT(struct vqp, write_va, "write-va"),
	STATE_UINT(struct vqp, write_rkey, "write-rkey"),
	STATE_BOOL(struct vqp, recv_bad, "recv-bad"),
};

/*
 * A send WR node's version. 2: "inline-data", the data of an inline SEND
 * or WRITE not yet done (its num-sge is 0); 1 has none, and gathers every
 * outstanding WR's data again from its SGEs.
 */
#define SWQE_NODE_VERSION	2

static const struct state_field swqe_fields[] = {
	STATE_UINT(struct swqe, wr_id, "wr-id"),
	STATE_UINT(struct swqe, opcode, "opcode"),
	STATE_BOOL(struct swqe, signaled, "signaled"),
	STATE_BOOL(struct swqe, done, "done"),
	STATE_UINT(struct swqe, status, "status"),
	STATE_UINT(struct swqe, byte_len, "byte-len"),
	STATE_UINT(struct swqe, num_sge, "num-sge"),
	STATE_BYTES(struct swqe, sge, "sge"),
	STATE_UINT(struct swqe, len, "len"),
};

static const struct state_field rwqe_fields[] = {
	STATE_UINT(struct rwqe, wr_id, "wr-id"),
	STATE_UINT(struct rwqe, num_sge, "num-sge"),
	STATE_BYTES(struct rwqe, sge, "sge"),
};

/*
 * Stopped for a move: a READ in progress has part of its data in its
 * buffer, which does not travel. It goes into the guest's target memory
 * now (before the last dirty pass; a READ's target is undefined until it
 * completes), and the destination takes it back from there.
 */
void vrdma_quiesce(struct virtio_dev *vdev)
{
	struct vrdma *d = vdev->priv;
	uint32_t qpn;

	vrdma_stop(d);
	pthread_mutex_lock(&d->lock);
	for (qpn = 2; qpn <= d->conf.qps; qpn++) {
		struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, qpn);
		struct vqp *q = vqp_of(d, qpn);

		if (!qp || qp->type != RDMA_QPT_RC)
			continue;
		for (uint64_t pos = q->sq_head; pos != q->sq_tail; pos++) {
			struct swqe *w = &q->sq[pos % RC_SQ_MAX];

			if (!w->done && w->opcode == VIRTIO_RDMA_WR_RDMA_READ && w->buf)
				vrdma_sge_copy(d, qp, w->sge, w->num_sge, 0, w->buf, w->len, true);
		}
	}
	pthread_mutex_unlock(&d->lock);
}

/* Time does not move with the device: each RC QP resynchronises with its peer at once. */
void vrdma_unquiesce(struct virtio_dev *vdev)
{
	struct vrdma *d = vdev->priv;
	uint64_t now = vlab_now_ns();
	uint32_t qpn;

	if (!(virtio_dev_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	for (qpn = 2; qpn <= d->conf.qps; qpn++) {
		struct rdma_qp *qp = vrdma_rc_live(d, qpn);

		if (qp)
			rc_resume(&qp->rc, now);
	}
	vrdma_start(vdev);
}

int vrdma_save(struct virtio_dev *vdev, struct state_buf *sb)
{
	struct vrdma *d = vdev->priv;
	struct rdma_verbs *v = &d->verbs;
	uint32_t i, k;

	state_begin_node(sb, "rdma", 1);
	/* Properties first, then the child nodes (the tree's order). */
	state_put_bytes(sb, "pd-used", v->pd_used, v->cfg.max_pd);
	for (i = 0; i < RDMA_GID_TBL_LEN; i++) {
		if (!v->gids[i].valid)
			continue;
		state_begin_nodef(sb, 1, "gid@%u", i);
		state_put_fields(sb, &v->gids[i], gid_fields, ARRAY_SIZE(gid_fields));
		state_end_node(sb);
	}
	for (i = 0; i < v->cfg.max_cq; i++) {
		const struct vcq *c = &d->cqs[i];

		if (!v->cqs[i].used)
			continue;
		state_begin_nodef(sb, CQ_NODE_VERSION, "cq@%u", i);
		state_put_fields(sb, &v->cqs[i], cq_fields, ARRAY_SIZE(cq_fields));
		state_put_u32(sb, "overrun", c->overrun);
		state_put_u32(sb, "backlog-head", c->head);
		state_put_bytes(sb, "backlog", c->backlog, (size_t)v->cqs[i].cqe * sizeof(*c->backlog));
		state_put_bytes(sb, "backlog-solicited", c->solicited, v->cqs[i].cqe);
		state_put_u32(sb, "backlog-count", c->count);
		state_end_node(sb);
	}
	for (i = 0; i < v->cfg.max_ah; i++) {
		if (!v->ahs[i].used)
			continue;
		state_begin_nodef(sb, 1, "ah@%u", i);
		state_put_fields(sb, &v->ahs[i], ah_fields, ARRAY_SIZE(ah_fields));
		state_end_node(sb);
	}
	for (i = 1; i < v->mrs.max; i++) {
		const struct rdma_mr *mr = &v->mrs.mrs[i];

		if (!mr->used)
			continue;
		state_begin_nodef(sb, 1, "mr@%u", i);
		state_put_fields(sb, mr, mr_fields, ARRAY_SIZE(mr_fields));
		if (mr->npages)
			state_put_u64_array(sb, "pages", mr->pages, mr->npages);
		state_end_node(sb);
	}
	for (i = 1; i <= d->conf.qps; i++) {
		const struct rdma_qp *qp = rdma_verbs_qp(v, i);
		const struct vqp *q = vqp_of(d, i);

		if (!qp)
			continue;
		state_begin_nodef(sb, 1, "qp@%u", i);
		state_put_fields(sb, qp, qp_fields, ARRAY_SIZE(qp_fields));
		state_put_fields(sb, q, vqp_fields, ARRAY_SIZE(vqp_fields));
		for (uint64_t pos = q->sq_head; pos != q->sq_tail; pos++) {
			const struct swqe *w = &q->sq[pos % RC_SQ_MAX];

			state_begin_nodef(sb, SWQE_NODE_VERSION, "swqe@%u",
					  (unsigned int)(pos % RC_SQ_MAX));
			state_put_fields(sb, w, swqe_fields, ARRAY_SIZE(swqe_fields));
			/* Inline data is nowhere in guest memory: it goes with the WR. */
			if (w->inlined && !w->done && w->buf)
				state_put_bytes(sb, "inline-data", w->buf, w->len);
			state_end_node(sb);
		}
		for (k = 0; k < q->rq_count; k++) {
			unsigned int slot = (q->rq_head + k) % RC_SQ_MAX;

			state_begin_nodef(sb, 1, "rwqe@%u", slot);
			state_put_fields(sb, &q->rq[slot], rwqe_fields, ARRAY_SIZE(rwqe_fields));
			state_end_node(sb);
		}
		if (qp->type == RDMA_QPT_RC && qp->state >= RDMA_QPS_RTR)
			rc_save(&qp->rc, sb);
		state_end_node(sb);
	}
	state_end_node(sb);
	return sb->err;
}

/* ---- loading: everything into a scratch device, checked, then taken over ---- */

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "virtio-rdma: ");
	va_start(ap, fmt);
	vsnprintf(err + n, errlen > (size_t)n ? errlen - n : 0, fmt, ap);
	va_end(ap);
	return -1;
}

/* Child "@base@@i" of @parent if there is one, else -1 (quietly). */
static int child(const void *fdt, int parent, const char *base, unsigned int i)
{
	char name[32];

	snprintf(name, sizeof(name), "%s@%u", base, i);
	return fdt_subnode_offset(fdt, parent, name);
}

static int load_mrs(struct vrdma *t, const void *fdt, int rn, char *err, size_t errlen)
{
	struct rdma_verbs *v = &t->verbs;
	uint32_t i;

	for (i = 1; i < v->mrs.max; i++) {
		struct rdma_mr m = { 0 };
		int n = child(fdt, rn, "mr", i);
		uint64_t page;

		if (n < 0)
			continue;
		if (state_node_version(fdt, n, 1, err, errlen) < 0 ||
		    state_get_fields(fdt, n, &m, mr_fields, ARRAY_SIZE(mr_fields), err, errlen))
			return -1;
		page = 1ULL << (m.page_shift & 63);
		if (m.type > RDMA_MR_DMA || m.key >> 8 != i || m.pd >= v->cfg.max_pd ||
		    !v->pd_used[m.pd] || (m.access & ~15u) ||
		    (m.type != RDMA_MR_DMA && (m.page_shift < 12 || m.page_shift > 30 ||
					       m.offset >= page)) || m.npages > m.max_pages ||
		    m.max_pages > RDMA_MR_MAX_PAGES ||
		    (m.type == RDMA_MR_DMA && (m.npages || m.max_pages)) ||
		    (m.type == RDMA_MR_USER && m.npages != m.max_pages) ||
		    (m.valid && m.type != RDMA_MR_DMA &&
		     (!m.length || m.va + m.length < m.va ||
		      m.npages != (m.offset + m.length + page - 1) >> m.page_shift)))
			return bad(err, errlen, "mr@%u: values no MR can have", i);
		if (m.max_pages) {
			m.pages = calloc(m.max_pages, sizeof(*m.pages));
			if (!m.pages)
				return bad(err, errlen, "out of memory");
		}
		v->mrs.mrs[i] = m;	/* freed with the table from here on */
		v->mrs.mrs[i].used = true;
		if (m.npages &&
		    state_get_u64_array(fdt, n, "pages", m.pages, m.npages, err, errlen))
			return -1;
		for (uint32_t k = 0; k < m.npages; k++)
			if ((m.pages[k] & (page - 1)) || m.pages[k] >= v->mrs.ram_end ||
			    v->mrs.ram_end - m.pages[k] < page)
				return bad(err, errlen, "mr@%u: page %u outside guest RAM", i, k);
	}
	return 0;
}

static int load_cqs_ahs_gids(struct vrdma *t, const void *fdt, int rn, char *err,
			     size_t errlen)
{
	struct rdma_verbs *v = &t->verbs;
	uint32_t i, u;

	for (i = 0; i < RDMA_GID_TBL_LEN; i++) {
		struct rdma_gid g = { 0 };
		int n = child(fdt, rn, "gid", i);

		if (n < 0)
			continue;
		if (state_node_version(fdt, n, 1, err, errlen) < 0 ||
		    state_get_fields(fdt, n, &g, gid_fields, ARRAY_SIZE(gid_fields), err, errlen))
			return -1;
		if (g.type != VIRTIO_RDMA_GID_ROCE_V2 || g.gid[0] == 0xff)
			return bad(err, errlen, "gid@%u: not a RoCE v2 unicast GID", i);
		g.valid = true;
		v->gids[i] = g;
	}
	for (i = 0; i < v->cfg.max_cq; i++) {
		struct vcq *c = &t->cqs[i];
		struct rdma_cq cq = { 0 };
		int n = child(fdt, rn, "cq", i), ver;

		if (n < 0)
			continue;
		ver = state_node_version(fdt, n, CQ_NODE_VERSION, err, errlen);
		if (ver < 0 ||
		    state_get_fields(fdt, n, &cq, cq_fields, ARRAY_SIZE(cq_fields), err, errlen) ||
		    state_get_bool(fdt, n, "overrun", &c->overrun, err, errlen) ||
		    state_get_u32(fdt, n, "backlog-head", &c->head, err, errlen) ||
		    state_get_u32(fdt, n, "backlog-count", &c->count, err, errlen))
			return -1;
		if (!cq.cqe || cq.cqe > v->cfg.max_cqe || cq.notify > 3 || c->head >= cq.cqe ||
		    c->count > cq.cqe)
			return bad(err, errlen, "cq@%u: values no CQ can have", i);
		if (state_get_bytes(fdt, n, "backlog", c->backlog,
				    (size_t)cq.cqe * sizeof(*c->backlog), err, errlen) ||
		    (ver >= 2 && state_get_bytes(fdt, n, "backlog-solicited", c->solicited, cq.cqe,
						 err, errlen)))
			return -1;
		for (u = 0; u < cq.cqe; u++)
			if (c->solicited[u] > 1)
				return bad(err, errlen, "cq@%u: backlog-solicited[%u] is %u, not 0 or 1",
					   i, u, c->solicited[u]);
		cq.used = true;
		v->cqs[i] = cq;
	}
	for (i = 0; i < v->cfg.max_ah; i++) {
		struct rdma_ah ah = { 0 };
		int n = child(fdt, rn, "ah", i);

		if (n < 0)
			continue;
		if (state_node_version(fdt, n, 1, err, errlen) < 0 ||
		    state_get_fields(fdt, n, &ah, ah_fields, ARRAY_SIZE(ah_fields), err, errlen))
			return -1;
		u = ah.av.sgid_index;
		if (ah.pd >= v->cfg.max_pd || !v->pd_used[ah.pd] || u >= RDMA_GID_TBL_LEN ||
		    !v->gids[u].valid)
			return bad(err, errlen, "ah@%u: a PD or GID that does not exist", i);
		ah.used = true;
		v->ahs[i] = ah;
	}
	return 0;
}

/* The send WRs the transport still holds: their data (inline), or a place for a response. */
static int reattach(struct vrdma *t, struct rdma_qp *qp, struct vqp *q, char *err,
		    size_t errlen)
{
	unsigned int i, pending = 0;

	/* Every send WR not done is a message the transport holds, and only those. */
	for (uint64_t pos = q->sq_head; pos != q->sq_tail; pos++)
		pending += !q->sq[pos % RC_SQ_MAX].done;
	if (pending != qp->rc.sq_count)
		return bad(err, errlen, "qp@%u: %u send WRs outstanding, the transport holds %u",
			   q->qpn, pending, qp->rc.sq_count);

	for (i = 0; i < qp->rc.sq_count; i++) {
		struct rc_msg *m = &qp->rc.sq[(qp->rc.sq_head + i) % RC_SQ_MAX];
		struct swqe *w = &q->sq[m->id % RC_SQ_MAX];

		if (m->id < q->sq_head || m->id >= q->sq_tail || w->done || m->len != w->len ||
		    (w->inlined && m->op != ROCE_SEND_ONLY && m->op != ROCE_SEND_ONLY_IMM &&
		     m->op != ROCE_WRITE_ONLY && m->op != ROCE_WRITE_ONLY_IMM))
			return bad(err, errlen, "qp@%u: the transport holds a message its send "
				   "queue does not", q->qpn);
		if (w->inlined) {
			/* Its data came with the state. */
			m->data = w->buf;
			continue;
		}
		if (m->op != ROCE_READ_REQUEST && m->op != ROCE_CMP_SWAP && m->op != ROCE_FETCH_ADD) {
			/* Read from guest memory packet by packet, where the driver left it. */
			m->data = NULL;
			continue;
		}
		w->buf = malloc(w->len ? w->len : 1);
		if (!w->buf)
			return bad(err, errlen, "out of memory");
		if (m->op == ROCE_READ_REQUEST) {
			/* What arrived before the move is in the guest's memory (vrdma_quiesce). */
			if (vrdma_sge_copy(t, qp, w->sge, w->num_sge, 0, w->buf, w->len, false))
				return bad(err, errlen, "qp@%u: a READ's buffer is not readable",
					   q->qpn);
			m->dest = w->buf;
		} else {
			m->dest = w->buf;
		}
	}
	return 0;
}

/* Send WR @slot of QP node @n into @q (its data, if inline, into a buffer of its own). */
static int load_swqe(const struct rdma_qp *qp, struct vqp *q, const void *fdt, int n,
		     unsigned int slot, char *err, size_t errlen)
{
	struct swqe *w = &q->sq[slot];
	int wn = child(fdt, n, "swqe", slot), ver;

	if (wn < 0)
		return bad(err, errlen, "qp@%u: send WR %u is missing", q->qpn, slot);
	ver = state_node_version(fdt, wn, SWQE_NODE_VERSION, err, errlen);
	if (ver < 0 ||
	    state_get_fields(fdt, wn, w, swqe_fields, ARRAY_SIZE(swqe_fields), err, errlen))
		return -1;
	w->buf = NULL;
	w->inlined = ver >= 2 && state_has(fdt, wn, "inline-data");
	if (w->opcode > VIRTIO_RDMA_WR_REG_MR || w->num_sge > MAX_SGE ||
	    w->len > VIRTIO_RDMA_MSG_MAX || w->status > VIRTIO_RDMA_WC_GENERAL_ERR)
		return bad(err, errlen, "qp@%u: a send WR no driver could post", q->qpn);
	if (!w->inlined)
		return 0;
	if (w->done || w->num_sge || w->len > qp->max_inline ||
	    (w->opcode != VIRTIO_RDMA_WR_SEND && w->opcode != VIRTIO_RDMA_WR_SEND_IMM &&
	     w->opcode != VIRTIO_RDMA_WR_RDMA_WRITE && w->opcode != VIRTIO_RDMA_WR_RDMA_WRITE_IMM))
		return bad(err, errlen, "qp@%u: inline data no driver could post", q->qpn);
	w->buf = malloc(w->len ? w->len : 1);
	if (!w->buf)
		return bad(err, errlen, "out of memory");
	return state_get_bytes(fdt, wn, "inline-data", w->buf, w->len, err, errlen);
}

static int load_qps(struct vrdma *t, const void *fdt, int rn, char *err, size_t errlen)
{
	const struct rdma_verbs_config *cfg = &t->verbs.cfg;
	uint32_t i, k;

	for (i = 1; i <= t->conf.qps; i++) {
		struct rdma_qp *qp = &t->verbs.qps[i - 1];
		struct vqp *q = &t->qps[i - 1];
		int n = child(fdt, rn, "qp", i);

		if (n < 0)
			continue;
		memset(qp, 0, sizeof(*qp));
		if (state_node_version(fdt, n, 1, err, errlen) < 0 ||
		    state_get_fields(fdt, n, qp, qp_fields, ARRAY_SIZE(qp_fields), err, errlen) ||
		    state_get_fields(fdt, n, q, vqp_fields, ARRAY_SIZE(vqp_fields), err, errlen))
			return -1;
		qp->used = true;
		if (qp->type >= RDMA_QPT_NR || qp->type == RDMA_QPT_UC ||
		    (qp->type == RDMA_QPT_GSI) != (i == RDMA_GSI_QPN) || qp->state >= RDMA_QPS_NR ||
		    qp->pd >= cfg->max_pd || !t->verbs.pd_used[qp->pd] ||
		    qp->send_cq >= cfg->max_cq || !t->verbs.cqs[qp->send_cq].used ||
		    qp->recv_cq >= cfg->max_cq || !t->verbs.cqs[qp->recv_cq].used ||
		    !qp->max_send_wr || qp->max_send_wr > cfg->max_qp_wr || !qp->max_recv_wr ||
		    qp->max_recv_wr > cfg->max_qp_wr || qp->max_send_sge > cfg->max_sge ||
		    qp->max_recv_sge > cfg->max_sge || qp->max_inline > cfg->max_inline ||
		    !rdma_mtu_bytes(qp->path_mtu) || qp->path_mtu > cfg->max_mtu ||
		    qp->timeout > 31 || qp->retry_cnt > 7 || qp->rnr_retry > 7 ||
		    qp->min_rnr_timer > 31 || qp->max_rd_atomic > cfg->max_qp_rd_atom ||
		    qp->max_dest_rd_atomic > cfg->max_qp_rd_atom || qp->rq_psn > RC_PSN_MASK ||
		    qp->sq_psn > RC_PSN_MASK || qp->dest_qpn > RC_PSN_MASK || (qp->access & ~15u))
			return bad(err, errlen, "qp@%u: values no QP can have", i);
		if (q->sq_tail - q->sq_head > qp->max_send_wr || q->rq_head >= RC_SQ_MAX ||
		    q->rq_count > qp->max_recv_wr)
			return bad(err, errlen, "qp@%u: queues longer than the QP's", i);
		for (uint64_t pos = q->sq_head; pos != q->sq_tail; pos++) {
			if (load_swqe(qp, q, fdt, n, (unsigned int)(pos % RC_SQ_MAX), err, errlen))
				return -1;
		}
		for (k = 0; k < q->rq_count; k++) {
			unsigned int slot = (q->rq_head + k) % RC_SQ_MAX;
			struct rwqe *w = &q->rq[slot];
			int wn = child(fdt, n, "rwqe", slot);

			if (wn < 0)
				return bad(err, errlen, "qp@%u: receive WR %u is missing", i, slot);
			if (state_node_version(fdt, wn, 1, err, errlen) < 0 ||
			    state_get_fields(fdt, wn, w, rwqe_fields, ARRAY_SIZE(rwqe_fields), err,
					     errlen))
				return -1;
			if (w->num_sge > MAX_SGE && w->num_sge != 0xffff)
				return bad(err, errlen, "qp@%u: a receive WR no driver could post", i);
		}
		if (qp->type == RDMA_QPT_RC && qp->state >= RDMA_QPS_RTR) {
			if (!t->verbs.gids[qp->av.sgid_index % RDMA_GID_TBL_LEN].valid ||
			    qp->av.sgid_index >= RDMA_GID_TBL_LEN)
				return bad(err, errlen, "qp@%u: its address names no GID", i);
			if (rc_load(&qp->rc, fdt, n, err, errlen))
				return -1;
			if (qp->rc.mtu != rdma_mtu_bytes(qp->path_mtu) || qp->rc.dqpn != qp->dest_qpn)
				return bad(err, errlen, "qp@%u: transport and attributes disagree", i);
			vrdma_rc_attach(qp, q);
			if (reattach(t, qp, q, err, errlen))
				return -1;
		}
	}
	return 0;
}


int vrdma_load(struct virtio_dev *vdev, const void *fdt, int node, char *err,
		      size_t errlen)
{
	struct vrdma *d = vdev->priv, *t = calloc(1, sizeof(*t));
	uint8_t used[65536];
	uint32_t i;
	int rn, r = -1;

	if (!t)
		return bad(err, errlen, "out of memory");
	t->gm = d->gm;
	t->conf = d->conf;
	if (rdma_verbs_init(&t->verbs, &d->verbs.cfg, &vrdma_verbs_ops, d)) {
		free(t);
		return bad(err, errlen, "out of memory");
	}
	if (vrdma_cqs_alloc(t, d->verbs.cfg.max_cqe)) {
		bad(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < d->conf.qps; i++) {
		t->qps[i].dev = d;
		t->qps[i].qpn = i + 1;
	}
	rn = state_subnode(fdt, node, "rdma", 1, NULL, err, errlen);
	if (rn < 0 ||
	    state_get_bytes(fdt, rn, "pd-used", used, t->verbs.cfg.max_pd, err, errlen))
		goto out;
	for (i = 0; i < t->verbs.cfg.max_pd; i++) {
		if (used[i] > 1) {
			bad(err, errlen, "pd-used[%u] is %u, not 0 or 1", i, used[i]);
			goto out;
		}
		t->verbs.pd_used[i] = used[i];
	}
	if (load_cqs_ahs_gids(t, fdt, rn, err, errlen) || load_mrs(t, fdt, rn, err, errlen) ||
	    load_qps(t, fdt, rn, err, errlen))
		goto out;
	/* All good: take it over (the NIC's thread may be taking frames). */
	pthread_mutex_lock(&d->lock);
	vrdma_objects_free(d);
	d->verbs = t->verbs;
	memcpy(d->cqs, t->cqs, sizeof(d->cqs));
	memcpy(d->qps, t->qps, d->conf.qps * sizeof(d->qps[0]));
	for (i = 1; i <= d->conf.qps; i++) {
		struct rdma_qp *qp = rdma_verbs_qp(&d->verbs, i);

		if (qp && qp->rc.ctx)
			qp->rc.ctx = vqp_of(d, i);
	}
	vrdma_gids_publish(d);
	pthread_mutex_unlock(&d->lock);
	free(t);
	return 0;
out:
	vrdma_objects_free(t);
	free(t);
	return r;
}
