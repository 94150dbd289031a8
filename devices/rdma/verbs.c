// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/rdma/verbs.h"

static const char *const cmd_names[VIRTIO_RDMA_CMD_NR] = {
	[VIRTIO_RDMA_CMD_QUERY_DEVICE] = "QUERY_DEVICE",
	[VIRTIO_RDMA_CMD_QUERY_PORT] = "QUERY_PORT",
	[VIRTIO_RDMA_CMD_CREATE_CQ] = "CREATE_CQ",
	[VIRTIO_RDMA_CMD_DESTROY_CQ] = "DESTROY_CQ",
	[VIRTIO_RDMA_CMD_CREATE_PD] = "CREATE_PD",
	[VIRTIO_RDMA_CMD_DESTROY_PD] = "DESTROY_PD",
	[VIRTIO_RDMA_CMD_GET_DMA_MR] = "GET_DMA_MR",
	[VIRTIO_RDMA_CMD_REG_USER_MR] = "REG_USER_MR",
	[VIRTIO_RDMA_CMD_DEREG_MR] = "DEREG_MR",
	[VIRTIO_RDMA_CMD_CREATE_QP] = "CREATE_QP",
	[VIRTIO_RDMA_CMD_MODIFY_QP] = "MODIFY_QP",
	[VIRTIO_RDMA_CMD_QUERY_QP] = "QUERY_QP",
	[VIRTIO_RDMA_CMD_DESTROY_QP] = "DESTROY_QP",
	[VIRTIO_RDMA_CMD_CREATE_AH] = "CREATE_AH",
	[VIRTIO_RDMA_CMD_DESTROY_AH] = "DESTROY_AH",
	[VIRTIO_RDMA_CMD_ADD_GID] = "ADD_GID",
	[VIRTIO_RDMA_CMD_DEL_GID] = "DEL_GID",
	[VIRTIO_RDMA_CMD_REQ_NOTIFY_CQ] = "REQ_NOTIFY_CQ",
	[VIRTIO_RDMA_CMD_ALLOC_MR] = "ALLOC_MR",
};

const char *rdma_verbs_cmd_name(uint8_t cmd)
{
	return cmd < VIRTIO_RDMA_CMD_NR ? cmd_names[cmd] : "?";
}

uint32_t rdma_mtu_bytes(uint8_t mtu)
{
	return mtu >= VIRTIO_RDMA_MTU_256 && mtu <= VIRTIO_RDMA_MTU_4096 ? 128u << mtu : 0;
}

int rdma_verbs_init(struct rdma_verbs *v, const struct rdma_verbs_config *cfg,
		    const struct rdma_verbs_ops *ops, void *opaque)
{
	const struct rdma_verbs_config *c = cfg;

	memset(v, 0, sizeof(*v));
	if (!c->max_cq || c->max_cq > 1024 || c->max_qp < 2 || c->max_qp > 1024 ||
	    !c->max_cqe || c->max_cqe > 65536 || !c->max_qp_wr || c->max_qp_wr > RC_SQ_MAX ||
	    !c->max_sge || c->max_sge > 32 || c->max_inline > 400 || c->max_mr < 2 ||
	    !c->max_pd || c->max_pd > 65536 || !c->max_ah || c->max_ah > 65536 ||
	    !c->max_fast_reg_pages || c->max_fast_reg_pages > RDMA_MR_MAX_PAGES ||
	    !c->max_qp_rd_atom || c->max_qp_rd_atom > RC_RD_MAX ||
	    !rdma_mtu_bytes(c->max_mtu))
		return -EINVAL;
	v->cfg = *cfg;
	v->ops = ops;
	v->opaque = opaque;
	v->pd_used = calloc(c->max_pd, sizeof(*v->pd_used));
	v->cqs = calloc(c->max_cq, sizeof(*v->cqs));
	v->qps = calloc(c->max_qp, sizeof(*v->qps));
	v->ahs = calloc(c->max_ah, sizeof(*v->ahs));
	if (!v->pd_used || !v->cqs || !v->qps || !v->ahs ||
	    rdma_mr_table_init(&v->mrs, c->max_mr, c->ram_end)) {
		rdma_verbs_exit(v);
		return -ENOMEM;
	}
	return 0;
}

void rdma_verbs_exit(struct rdma_verbs *v)
{
	rdma_mr_table_exit(&v->mrs);
	free(v->pd_used);
	free(v->cqs);
	free(v->qps);
	free(v->ahs);
	v->pd_used = NULL;
	v->cqs = NULL;
	v->qps = NULL;
	v->ahs = NULL;
}

void rdma_verbs_reset(struct rdma_verbs *v)
{
	struct rdma_verbs_config cfg = v->cfg;
	const struct rdma_verbs_ops *ops = v->ops;
	void *opaque = v->opaque;

	rdma_verbs_exit(v);
	/* The same limits as before cannot fail but for memory. */
	if (rdma_verbs_init(v, &cfg, ops, opaque))
		abort();
}

struct rdma_qp *rdma_verbs_qp(struct rdma_verbs *v, uint32_t qpn)
{
	return qpn >= 1 && qpn <= v->cfg.max_qp && v->qps[qpn - 1].used ? &v->qps[qpn - 1] :
									  NULL;
}

/* ---- one command: checked in full, then applied ---- */

struct ctrl {
	struct rdma_verbs *v;
	const uint8_t *req;		/* the command's struct, after the cmd byte */
	size_t len;
	uint8_t *out;			/* the reply's struct, after the status byte */
	size_t out_len;
};

/* A refusal: @err (a positive errno) with the reason kept for the log. */
static int refuse(struct ctrl *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct ctrl *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->v->last_error, sizeof(c->v->last_error), fmt, ap);
	va_end(ap);
	return err;
}

/* The command's struct, exactly @size bytes of it (more is refused too). */
static int take(struct ctrl *c, void *s, size_t size)
{
	memset(s, 0, size);
	if (c->len != size)
		return refuse(c, EINVAL, "%zu bytes of arguments, the command has %zu", c->len,
			      size);
	memcpy(s, c->req, size);
	return 0;
}

static void *reply(struct ctrl *c, size_t size)
{
	c->out_len = size;
	memset(c->out, 0, size);
	return c->out;
}

static int query_device(struct ctrl *c)
{
	const struct rdma_verbs_config *cfg = &c->v->cfg;
	struct virtio_rdma_query_device_reply *r;
	uint64_t guid = 0;
	int i;

	if (c->len)
		return refuse(c, EINVAL, "QUERY_DEVICE takes no arguments");
	r = reply(c, sizeof(*r));
	/* EUI-64 from the MAC, as RoCE devices derive theirs. */
	for (i = 0; i < 3; i++)
		guid = guid << 8 | cfg->mac[i];
	guid = guid << 16 | 0xfffe;
	for (i = 3; i < 6; i++)
		guid = guid << 8 | cfg->mac[i];
	r->sys_image_guid = htole64(guid ^ (2ULL << 56));
	r->max_mr_size = htole64((uint64_t)RDMA_MR_MAX_PAGES << 12);
	r->page_size_cap = htole64(0x40001000ULL);	/* 4 KiB .. 1 GiB pages */
	r->device_cap_flags = htole64(VIRTIO_RDMA_DEVICE_MEM_MGT_EXTENSIONS |
				      VIRTIO_RDMA_DEVICE_RC_RNR_NAK_GEN);
	r->vendor_id = htole32(0x1af4);			/* virtio */
	r->vendor_part_id = htole32(VIRTIO_ID_RDMA);
	r->hw_ver = htole32(1);
	r->max_qp = htole32(cfg->max_qp);
	r->max_qp_wr = htole32(cfg->max_qp_wr);
	r->max_sge = htole32(cfg->max_sge);
	r->max_cq = htole32(cfg->max_cq);
	r->max_cqe = htole32(cfg->max_cqe);
	r->max_mr = htole32(cfg->max_mr - 1);		/* index 0 is nobody's */
	r->max_pd = htole32(cfg->max_pd);
	r->max_ah = htole32(cfg->max_ah);
	r->max_qp_rd_atom = htole32(cfg->max_qp_rd_atom);
	r->max_qp_init_rd_atom = htole32(cfg->max_qp_rd_atom);
	r->max_fast_reg_page_list_len = htole32(cfg->max_fast_reg_pages);
	r->max_inline = htole32(cfg->max_inline);
	r->atomic_cap = 1;				/* IB_ATOMIC_HCA */
	return 0;
}

static int query_port(struct ctrl *c)
{
	struct virtio_rdma_query_port q;
	struct virtio_rdma_query_port_reply *r;
	int e = take(c, &q, sizeof(q));

	if (e)
		return e;
	if (q.port != 1)
		return refuse(c, EINVAL, "port %u: the device has port 1", q.port);
	r = reply(c, sizeof(*r));
	r->gid_tbl_len = htole32(RDMA_GID_TBL_LEN);
	r->max_msg_sz = htole32(RC_MSG_MAX);
	r->state = VIRTIO_RDMA_PORT_ACTIVE;
	r->max_mtu = r->active_mtu = c->v->cfg.max_mtu;
	r->active_width = 1;				/* IB_WIDTH_1X */
	r->active_speed = 1 << 5;			/* IB_SPEED_EDR, 25 Gb/s */
	r->phys_state = 5;				/* LinkUp */
	return 0;
}

static bool pd_ok(struct rdma_verbs *v, uint32_t pd)
{
	return pd < v->cfg.max_pd && v->pd_used[pd];
}

static int create_cq(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	struct virtio_rdma_create_cq q;
	struct virtio_rdma_create_cq_reply *r;
	uint32_t cqe, i;
	int e = take(c, &q, sizeof(q));

	if (e)
		return e;
	cqe = le32toh(q.cqe);
	if (!cqe || cqe > v->cfg.max_cqe)
		return refuse(c, EINVAL, "cqe %u: 1..%u", cqe, v->cfg.max_cqe);
	for (i = 0; i < v->cfg.max_cq && v->cqs[i].used; i++)
		;
	if (i == v->cfg.max_cq)
		return refuse(c, ENOSPC, "all %u CQs in use", v->cfg.max_cq);
	v->cqs[i] = (struct rdma_cq){ .used = true, .cqe = cqe };
	r = reply(c, sizeof(*r));
	r->cqn = htole32(i);
	r->cqe = htole32(cqe);
	return 0;
}

static int handle(struct ctrl *c, uint32_t *h)
{
	struct virtio_rdma_handle q;
	int e = take(c, &q, sizeof(q));

	*h = le32toh(q.handle);
	return e;
}

static int destroy_cq(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	uint32_t cqn, i;
	int e = handle(c, &cqn);

	if (e)
		return e;
	if (cqn >= v->cfg.max_cq || !v->cqs[cqn].used)
		return refuse(c, ENOENT, "no CQ %u", cqn);
	for (i = 0; i < v->cfg.max_qp; i++)
		if (v->qps[i].used && (v->qps[i].send_cq == cqn || v->qps[i].recv_cq == cqn))
			return refuse(c, EBUSY, "CQ %u: QP %u completes into it", cqn, i + 1);
	v->cqs[cqn].used = false;
	return 0;
}

static int create_pd(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	struct virtio_rdma_create_pd_reply *r;
	uint32_t i;

	if (c->len)
		return refuse(c, EINVAL, "CREATE_PD takes no arguments");
	for (i = 0; i < v->cfg.max_pd && v->pd_used[i]; i++)
		;
	if (i == v->cfg.max_pd)
		return refuse(c, ENOSPC, "all %u PDs in use", v->cfg.max_pd);
	v->pd_used[i] = true;
	r = reply(c, sizeof(*r));
	r->pdn = htole32(i);
	return 0;
}

static int destroy_pd(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	uint32_t pd, i;
	int e = handle(c, &pd);

	if (e)
		return e;
	if (!pd_ok(v, pd))
		return refuse(c, ENOENT, "no PD %u", pd);
	for (i = 0; i < v->cfg.max_qp; i++)
		if (v->qps[i].used && v->qps[i].pd == pd)
			return refuse(c, EBUSY, "PD %u: QP %u is in it", pd, i + 1);
	for (i = 0; i < v->mrs.max; i++)
		if (v->mrs.mrs[i].used && v->mrs.mrs[i].pd == pd)
			return refuse(c, EBUSY, "PD %u: MR 0x%x is in it", pd, v->mrs.mrs[i].key);
	for (i = 0; i < v->cfg.max_ah; i++)
		if (v->ahs[i].used && v->ahs[i].pd == pd)
			return refuse(c, EBUSY, "PD %u: AH %u is in it", pd, i);
	v->pd_used[pd] = false;
	return 0;
}

static int mr_reply(struct ctrl *c, int64_t key)
{
	struct virtio_rdma_mr_reply *r = reply(c, sizeof(*r));

	r->lkey = r->rkey = htole32((uint32_t)key);
	return 0;
}

static int get_dma_mr(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	struct virtio_rdma_get_dma_mr q;
	uint32_t pd, access;
	int64_t key;
	int e = take(c, &q, sizeof(q));

	if (e)
		return e;
	pd = le32toh(q.pdn);
	access = le32toh(q.access);
	if (!pd_ok(v, pd))
		return refuse(c, ENOENT, "no PD %u", pd);
	key = rdma_mr_alloc(&v->mrs, pd, RDMA_MR_DMA, access, 0);
	if (key < 0)
		return refuse(c, (int)-key, "DMA MR with access 0x%x: %s", access,
			      key == -EINVAL ? "local write only" : "no MR left");
	return mr_reply(c, key);
}

static int reg_user_mr(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	struct virtio_rdma_reg_user_mr q;
	uint32_t pd, npages, i;
	uint64_t *pages;
	int64_t key;
	int r;

	if (c->len < sizeof(q))
		return refuse(c, EINVAL, "REG_USER_MR: %zu bytes, at least %zu", c->len,
			      sizeof(q));
	memcpy(&q, c->req, sizeof(q));
	pd = le32toh(q.pdn);
	npages = le32toh(q.npages);
	if (!npages || npages > RDMA_USER_MR_MAX_PAGES ||
	    c->len != sizeof(q) + (size_t)npages * 8)
		return refuse(c, EINVAL, "REG_USER_MR: %u pages in %zu bytes", npages, c->len);
	if (!pd_ok(v, pd))
		return refuse(c, ENOENT, "no PD %u", pd);
	pages = malloc((size_t)npages * sizeof(*pages));
	if (!pages)
		return refuse(c, ENOMEM, "REG_USER_MR: out of memory");
	for (i = 0; i < npages; i++) {
		uint64_t p;

		memcpy(&p, c->req + sizeof(q) + (size_t)i * 8, 8);
		pages[i] = le64toh(p);
	}
	key = rdma_mr_alloc(&v->mrs, pd, RDMA_MR_USER, le32toh(q.access), 0);
	r = key < 0 ? (int)key :
	    rdma_mr_register(&v->mrs, (uint32_t)key, le64toh(q.virt_addr), le64toh(q.length),
			     le32toh(q.access), pages, npages, q.page_shift, le32toh(q.offset));
	free(pages);
	if (r) {
		if (key >= 0)
			rdma_mr_free(&v->mrs, (uint32_t)key);
		return refuse(c, -r, "REG_USER_MR: %s", r == -ENOSPC ? "no MR left" :
			      "pages, offset, length or access not valid");
	}
	return mr_reply(c, key);
}

static int alloc_mr(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	struct virtio_rdma_alloc_mr q;
	uint32_t pd, n;
	int64_t key;
	int e = take(c, &q, sizeof(q));

	if (e)
		return e;
	pd = le32toh(q.pdn);
	n = le32toh(q.max_num_sg);
	if (!pd_ok(v, pd))
		return refuse(c, ENOENT, "no PD %u", pd);
	if (!n || n > v->cfg.max_fast_reg_pages)
		return refuse(c, EINVAL, "max_num_sg %u: 1..%u", n, v->cfg.max_fast_reg_pages);
	key = rdma_mr_alloc(&v->mrs, pd, RDMA_MR_FAST, 0, n);
	if (key < 0)
		return refuse(c, (int)-key, "ALLOC_MR: no MR left");
	return mr_reply(c, key);
}

static int dereg_mr(struct ctrl *c)
{
	uint32_t key;
	int e = handle(c, &key), r;

	if (e)
		return e;
	r = rdma_mr_free(&c->v->mrs, key);
	return r ? refuse(c, -r, "no MR with key 0x%x", key) : 0;
}

static enum rdma_qp_type qp_type(uint8_t t)
{
	switch (t) {
	case VIRTIO_RDMA_QPT_GSI:
		return RDMA_QPT_GSI;
	case VIRTIO_RDMA_QPT_RC:
		return RDMA_QPT_RC;
	case VIRTIO_RDMA_QPT_UC:
		return RDMA_QPT_UC;
	case VIRTIO_RDMA_QPT_UD:
		return RDMA_QPT_UD;
	default:
		return RDMA_QPT_NR;
	}
}

static int create_qp(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	const struct rdma_verbs_config *cfg = &v->cfg;
	struct virtio_rdma_create_qp q;
	struct virtio_rdma_create_qp_reply *r;
	struct rdma_qp *qp;
	enum rdma_qp_type type;
	uint32_t pd, scq, rcq, i;
	int e = take(c, &q, sizeof(q));

	if (e)
		return e;
	pd = le32toh(q.pdn);
	scq = le32toh(q.send_cqn);
	rcq = le32toh(q.recv_cqn);
	type = qp_type(q.qp_type);
	if (type == RDMA_QPT_NR || type == RDMA_QPT_UC)
		return refuse(c, EOPNOTSUPP, "QP type %u: GSI, RC or UD", q.qp_type);
	if (!pd_ok(v, pd))
		return refuse(c, ENOENT, "no PD %u", pd);
	if (scq >= cfg->max_cq || !v->cqs[scq].used || rcq >= cfg->max_cq || !v->cqs[rcq].used)
		return refuse(c, ENOENT, "send CQ %u or receive CQ %u does not exist", scq, rcq);
	if (!le32toh(q.max_send_wr) || le32toh(q.max_send_wr) > cfg->max_qp_wr ||
	    !le32toh(q.max_recv_wr) || le32toh(q.max_recv_wr) > cfg->max_qp_wr ||
	    le32toh(q.max_send_sge) > cfg->max_sge || le32toh(q.max_recv_sge) > cfg->max_sge ||
	    le32toh(q.max_inline_data) > cfg->max_inline)
		return refuse(c, EINVAL, "QP sizes beyond the device's (%u WRs, %u SGEs, %u inline)",
			      cfg->max_qp_wr, cfg->max_sge, cfg->max_inline);
	/* QPN 1 is the GSI QP, the only one; the others from QPN 2. */
	if (type == RDMA_QPT_GSI) {
		if (v->qps[0].used)
			return refuse(c, EBUSY, "the GSI QP exists");
		i = 0;
	} else {
		for (i = 1; i < cfg->max_qp && v->qps[i].used; i++)
			;
		if (i == cfg->max_qp)
			return refuse(c, ENOSPC, "all %u QPs in use", cfg->max_qp - 1);
	}
	qp = &v->qps[i];
	memset(qp, 0, sizeof(*qp));
	qp->used = true;
	qp->type = type;
	qp->state = RDMA_QPS_RESET;
	qp->pd = pd;
	qp->send_cq = scq;
	qp->recv_cq = rcq;
	qp->sq_sig_all = q.sq_sig_all;
	qp->max_send_wr = le32toh(q.max_send_wr);
	qp->max_recv_wr = le32toh(q.max_recv_wr);
	qp->max_send_sge = le32toh(q.max_send_sge);
	qp->max_recv_sge = le32toh(q.max_recv_sge);
	qp->max_inline = le32toh(q.max_inline_data);
	qp->path_mtu = VIRTIO_RDMA_MTU_1024;
	/* The GSI QP's Q_Key, which IBA fixes. */
	if (type == RDMA_QPT_GSI)
		qp->qkey = 0x80010000;
	r = reply(c, sizeof(*r));
	r->qpn = htole32(i + 1);
	return 0;
}

static bool gid_ok(struct rdma_verbs *v, uint8_t index)
{
	return index < RDMA_GID_TBL_LEN && v->gids[index].valid;
}

/* The attribute values in @a that @mask names: each in range. */
static int qp_attr_check(struct ctrl *c, const struct rdma_qp *qp, uint32_t mask,
			 const struct virtio_rdma_qp_attr *a)
{
	const struct rdma_verbs_config *cfg = &c->v->cfg;

	if ((mask & RDMA_QP_PATH_MTU) &&
	    (!rdma_mtu_bytes(a->path_mtu) || a->path_mtu > cfg->max_mtu))
		return refuse(c, EINVAL, "path_mtu %u: 1..%u", a->path_mtu, cfg->max_mtu);
	if ((mask & RDMA_QP_TIMEOUT) && a->timeout > 31)
		return refuse(c, EINVAL, "timeout %u: 0..31", a->timeout);
	if ((mask & RDMA_QP_RETRY_CNT) && a->retry_cnt > 7)
		return refuse(c, EINVAL, "retry_cnt %u: 0..7", a->retry_cnt);
	if ((mask & RDMA_QP_RNR_RETRY) && a->rnr_retry > 7)
		return refuse(c, EINVAL, "rnr_retry %u: 0..7", a->rnr_retry);
	if ((mask & RDMA_QP_MIN_RNR_TIMER) && a->min_rnr_timer > 31)
		return refuse(c, EINVAL, "min_rnr_timer %u: 0..31", a->min_rnr_timer);
	if ((mask & RDMA_QP_MAX_QP_RD_ATOMIC) && a->max_rd_atomic > cfg->max_qp_rd_atom)
		return refuse(c, EINVAL, "max_rd_atomic %u: 0..%u", a->max_rd_atomic,
			      cfg->max_qp_rd_atom);
	if ((mask & RDMA_QP_MAX_DEST_RD_ATOMIC) && a->max_dest_rd_atomic > cfg->max_qp_rd_atom)
		return refuse(c, EINVAL, "max_dest_rd_atomic %u: 0..%u", a->max_dest_rd_atomic,
			      cfg->max_qp_rd_atom);
	if ((mask & RDMA_QP_RQ_PSN) && le32toh(a->rq_psn) > RC_PSN_MASK)
		return refuse(c, EINVAL, "rq_psn 0x%x is wider than 24 bits", le32toh(a->rq_psn));
	if ((mask & RDMA_QP_SQ_PSN) && le32toh(a->sq_psn) > RC_PSN_MASK)
		return refuse(c, EINVAL, "sq_psn 0x%x is wider than 24 bits", le32toh(a->sq_psn));
	if ((mask & RDMA_QP_DEST_QPN) && le32toh(a->dest_qp_num) > RC_PSN_MASK)
		return refuse(c, EINVAL, "dest_qp_num 0x%x is wider than 24 bits",
			      le32toh(a->dest_qp_num));
	if ((mask & RDMA_QP_ACCESS_FLAGS) &&
	    (le32toh(a->qp_access_flags) & ~(uint32_t)(VIRTIO_RDMA_ACCESS_LOCAL_WRITE |
						       VIRTIO_RDMA_ACCESS_REMOTE_WRITE |
						       VIRTIO_RDMA_ACCESS_REMOTE_READ |
						       VIRTIO_RDMA_ACCESS_REMOTE_ATOMIC)))
		return refuse(c, EINVAL, "qp_access_flags 0x%x", le32toh(a->qp_access_flags));
	if ((mask & RDMA_QP_PKEY_INDEX) && le16toh(a->pkey_index))
		return refuse(c, EINVAL, "pkey_index %u: the table has index 0",
			      le16toh(a->pkey_index));
	if ((mask & RDMA_QP_PORT) && a->port_num != 1)
		return refuse(c, EINVAL, "port %u: the device has port 1", a->port_num);
	if ((mask & RDMA_QP_AV) && !gid_ok(c->v, a->ah_attr.sgid_index))
		return refuse(c, EINVAL, "sgid_index %u names no GID", a->ah_attr.sgid_index);
	if ((mask & (RDMA_QP_ALT_PATH | RDMA_QP_PATH_MIG_STATE | RDMA_QP_CAP |
		     RDMA_QP_EN_SQD_ASYNC_NOTIFY)))
		return refuse(c, EOPNOTSUPP, "%s is not supported",
			      rdma_qp_attr_name(mask & (RDMA_QP_ALT_PATH | RDMA_QP_PATH_MIG_STATE |
							RDMA_QP_CAP |
							RDMA_QP_EN_SQD_ASYNC_NOTIFY)));
	(void)qp;
	return 0;
}

static void qp_attr_apply(struct rdma_qp *qp, uint32_t mask, const struct virtio_rdma_qp_attr *a)
{
	if (mask & RDMA_QP_PATH_MTU)
		qp->path_mtu = a->path_mtu;
	if (mask & RDMA_QP_TIMEOUT)
		qp->timeout = a->timeout;
	if (mask & RDMA_QP_RETRY_CNT)
		qp->retry_cnt = a->retry_cnt;
	if (mask & RDMA_QP_RNR_RETRY)
		qp->rnr_retry = a->rnr_retry;
	if (mask & RDMA_QP_MIN_RNR_TIMER)
		qp->min_rnr_timer = a->min_rnr_timer;
	if (mask & RDMA_QP_MAX_QP_RD_ATOMIC)
		qp->max_rd_atomic = a->max_rd_atomic;
	if (mask & RDMA_QP_MAX_DEST_RD_ATOMIC)
		qp->max_dest_rd_atomic = a->max_dest_rd_atomic;
	if (mask & RDMA_QP_QKEY)
		qp->qkey = le32toh(a->qkey);
	if (mask & RDMA_QP_RQ_PSN)
		qp->rq_psn = le32toh(a->rq_psn);
	if (mask & RDMA_QP_SQ_PSN)
		qp->sq_psn = le32toh(a->sq_psn);
	if (mask & RDMA_QP_DEST_QPN)
		qp->dest_qpn = le32toh(a->dest_qp_num);
	if (mask & RDMA_QP_ACCESS_FLAGS)
		qp->access = le32toh(a->qp_access_flags);
	if (mask & RDMA_QP_AV)
		qp->av = a->ah_attr;
}

/* What a state change does to the transport (RC; UD and GSI keep no state). */
static void qp_enter(struct rdma_qp *qp, enum rdma_qp_state old)
{
	if (qp->type != RDMA_QPT_RC)
		return;
	if (qp->state == RDMA_QPS_RESET) {
		memset(&qp->rc, 0, sizeof(qp->rc));
	} else if (qp->state == RDMA_QPS_RTR && old == RDMA_QPS_INIT) {
		/* The owner's callbacks are the data path's, attached when it hears. */
		rc_init(&qp->rc, rdma_mtu_bytes(qp->path_mtu), 0, qp->rq_psn, qp->dest_qpn, 0, 0,
			NULL, NULL, NULL);
		qp->rc.min_rnr_timer = qp->min_rnr_timer;
	} else if (qp->state == RDMA_QPS_RTS && old == RDMA_QPS_RTR) {
		rc_set_requester(&qp->rc, qp->sq_psn, qp->timeout, qp->retry_cnt, qp->rnr_retry);
	} else if (qp->state == RDMA_QPS_ERR) {
		qp->rc.error = true;
	}
	/* RTS -> RTS or SQD -> RTS with new timer or retry counts. */
	if (qp->state == RDMA_QPS_RTS && old != RDMA_QPS_RTR) {
		qp->rc.timeout = qp->timeout;
		qp->rc.min_rnr_timer = qp->min_rnr_timer;
	}
}

static int modify_qp(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	struct virtio_rdma_modify_qp q;
	enum rdma_qp_state cur, next;
	enum rdma_qp_modify_err me;
	struct rdma_qp *qp;
	uint32_t mask, bad, qpn;
	int e = take(c, &q, sizeof(q));

	if (e)
		return e;
	qpn = le32toh(q.qpn);
	qp = rdma_verbs_qp(v, qpn);
	if (!qp)
		return refuse(c, ENOENT, "no QP %u", qpn);
	mask = le32toh(q.attr.attr_mask);
	cur = qp->state;
	if ((mask & RDMA_QP_CUR_STATE) && q.attr.cur_qp_state != cur)
		return refuse(c, EINVAL, "QP %u: cur_qp_state %u, it is %s", qpn,
			      q.attr.cur_qp_state, rdma_qp_state_name(cur));
	next = (mask & RDMA_QP_STATE) ? q.attr.qp_state : cur;
	if (next >= RDMA_QPS_NR)
		return refuse(c, EINVAL, "QP %u: state %u", qpn, q.attr.qp_state);
	me = rdma_qp_modify_check(qp->type, cur, next, mask, &bad);
	if (me != RDMA_QP_MODIFY_OK)
		return refuse(c, EINVAL, "QP %u: %s -> %s: %s (%s)", qpn, rdma_qp_state_name(cur),
			      rdma_qp_state_name(next), rdma_qp_modify_strerror(me),
			      me == RDMA_QP_MODIFY_ILLEGAL ? "-" : rdma_qp_attr_name(bad));
	e = qp_attr_check(c, qp, mask, &q.attr);
	if (e)
		return e;
	qp_attr_apply(qp, mask, &q.attr);
	qp->state = next;
	if (next != cur || next == RDMA_QPS_RTS)
		qp_enter(qp, cur);
	if (next != cur && v->ops && v->ops->qp_changed)
		v->ops->qp_changed(v->opaque, qpn, cur);
	return 0;
}

static int query_qp(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	struct virtio_rdma_qp_attr *a;
	struct rdma_qp *qp;
	uint32_t qpn;
	int e = handle(c, &qpn);

	if (e)
		return e;
	qp = rdma_verbs_qp(v, qpn);
	if (!qp)
		return refuse(c, ENOENT, "no QP %u", qpn);
	a = reply(c, sizeof(*a));
	a->qp_state = a->cur_qp_state = qp->state;
	a->path_mtu = qp->path_mtu;
	a->timeout = qp->timeout;
	a->retry_cnt = qp->retry_cnt;
	a->rnr_retry = qp->rnr_retry;
	a->min_rnr_timer = qp->min_rnr_timer;
	a->max_rd_atomic = qp->max_rd_atomic;
	a->max_dest_rd_atomic = qp->max_dest_rd_atomic;
	a->qkey = htole32(qp->qkey);
	/* RC past RTR: where the transport is now. */
	a->rq_psn = htole32(qp->type == RDMA_QPT_RC && qp->state >= RDMA_QPS_RTR ?
			    qp->rc.epsn : qp->rq_psn);
	a->sq_psn = htole32(qp->type == RDMA_QPT_RC && qp->state >= RDMA_QPS_RTS ?
			    qp->rc.psn : qp->sq_psn);
	a->dest_qp_num = htole32(qp->dest_qpn);
	a->qp_access_flags = htole32(qp->access);
	a->port_num = 1;
	a->ah_attr = qp->av;
	a->max_send_wr = htole32(qp->max_send_wr);
	a->max_recv_wr = htole32(qp->max_recv_wr);
	a->max_send_sge = htole32(qp->max_send_sge);
	a->max_recv_sge = htole32(qp->max_recv_sge);
	a->max_inline_data = htole32(qp->max_inline);
	return 0;
}

static int destroy_qp(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	struct rdma_qp *qp;
	uint32_t qpn;
	int e = handle(c, &qpn);

	if (e)
		return e;
	qp = rdma_verbs_qp(v, qpn);
	if (!qp)
		return refuse(c, ENOENT, "no QP %u", qpn);
	/* Its outstanding work completes as flushed before the ack. */
	if (v->ops && v->ops->qp_destroy)
		v->ops->qp_destroy(v->opaque, qpn);
	memset(qp, 0, sizeof(*qp));
	return 0;
}

static int create_ah(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	struct virtio_rdma_create_ah q;
	struct virtio_rdma_create_ah_reply *r;
	uint32_t pd, i;
	int e = take(c, &q, sizeof(q));

	if (e)
		return e;
	pd = le32toh(q.pdn);
	if (!pd_ok(v, pd))
		return refuse(c, ENOENT, "no PD %u", pd);
	if (!gid_ok(v, q.av.sgid_index))
		return refuse(c, EINVAL, "sgid_index %u names no GID", q.av.sgid_index);
	for (i = 0; i < v->cfg.max_ah && v->ahs[i].used; i++)
		;
	if (i == v->cfg.max_ah)
		return refuse(c, ENOSPC, "all %u AHs in use", v->cfg.max_ah);
	v->ahs[i] = (struct rdma_ah){ .used = true, .pd = pd, .av = q.av };
	r = reply(c, sizeof(*r));
	r->ahn = htole32(i);
	return 0;
}

static int destroy_ah(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	uint32_t ahn;
	int e = handle(c, &ahn);

	if (e)
		return e;
	if (ahn >= v->cfg.max_ah || !v->ahs[ahn].used)
		return refuse(c, ENOENT, "no AH %u", ahn);
	v->ahs[ahn].used = false;
	return 0;
}

/* A RoCEv2 GID is an IPv6 address or an IPv4-mapped one: not a multicast or unspecified one. */
static bool gid_usable(const uint8_t *gid)
{
	static const uint8_t zero[16];

	return gid[0] != 0xff && memcmp(gid, zero, 16);
}

static int add_gid(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	struct virtio_rdma_add_gid q;
	uint16_t index;
	int e = take(c, &q, sizeof(q));

	if (e)
		return e;
	index = le16toh(q.index);
	if (index >= RDMA_GID_TBL_LEN)
		return refuse(c, EINVAL, "GID index %u: 0..%u", index, RDMA_GID_TBL_LEN - 1);
	if (q.type != VIRTIO_RDMA_GID_ROCE_V2)
		return refuse(c, EINVAL, "GID type %u: RoCE v2 (%u) only", q.type,
			      VIRTIO_RDMA_GID_ROCE_V2);
	if (!gid_usable(q.gid))
		return refuse(c, EINVAL, "GID %u: multicast or unspecified", index);
	v->gids[index].valid = true;
	v->gids[index].type = q.type;
	memcpy(v->gids[index].gid, q.gid, 16);
	return 0;
}

static int del_gid(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	uint32_t index;
	int e = handle(c, &index);

	if (e)
		return e;
	if (index >= RDMA_GID_TBL_LEN || !v->gids[index].valid)
		return refuse(c, ENOENT, "no GID %u", index);
	v->gids[index].valid = false;
	return 0;
}

static int req_notify_cq(struct ctrl *c)
{
	struct rdma_verbs *v = c->v;
	struct virtio_rdma_req_notify_cq q;
	uint32_t cqn, flags;
	int e = take(c, &q, sizeof(q));

	if (e)
		return e;
	cqn = le32toh(q.cqn);
	flags = le32toh(q.flags);
	if (cqn >= v->cfg.max_cq || !v->cqs[cqn].used)
		return refuse(c, ENOENT, "no CQ %u", cqn);
	if (!flags || (flags & ~(VIRTIO_RDMA_NOTIFY_SOLICITED | VIRTIO_RDMA_NOTIFY_NEXT)))
		return refuse(c, EINVAL, "notify flags 0x%x", flags);
	v->cqs[cqn].notify |= flags;
	if (v->ops && v->ops->cq_armed)
		v->ops->cq_armed(v->opaque, cqn);
	return 0;
}

size_t rdma_verbs_ctrl(struct rdma_verbs *v, const uint8_t *req, size_t len, uint8_t *out,
		       size_t cap)
{
	static int (*const cmds[VIRTIO_RDMA_CMD_NR])(struct ctrl *c) = {
		[VIRTIO_RDMA_CMD_QUERY_DEVICE] = query_device,
		[VIRTIO_RDMA_CMD_QUERY_PORT] = query_port,
		[VIRTIO_RDMA_CMD_CREATE_CQ] = create_cq,
		[VIRTIO_RDMA_CMD_DESTROY_CQ] = destroy_cq,
		[VIRTIO_RDMA_CMD_CREATE_PD] = create_pd,
		[VIRTIO_RDMA_CMD_DESTROY_PD] = destroy_pd,
		[VIRTIO_RDMA_CMD_GET_DMA_MR] = get_dma_mr,
		[VIRTIO_RDMA_CMD_REG_USER_MR] = reg_user_mr,
		[VIRTIO_RDMA_CMD_DEREG_MR] = dereg_mr,
		[VIRTIO_RDMA_CMD_CREATE_QP] = create_qp,
		[VIRTIO_RDMA_CMD_MODIFY_QP] = modify_qp,
		[VIRTIO_RDMA_CMD_QUERY_QP] = query_qp,
		[VIRTIO_RDMA_CMD_DESTROY_QP] = destroy_qp,
		[VIRTIO_RDMA_CMD_CREATE_AH] = create_ah,
		[VIRTIO_RDMA_CMD_DESTROY_AH] = destroy_ah,
		[VIRTIO_RDMA_CMD_ADD_GID] = add_gid,
		[VIRTIO_RDMA_CMD_DEL_GID] = del_gid,
		[VIRTIO_RDMA_CMD_REQ_NOTIFY_CQ] = req_notify_cq,
		[VIRTIO_RDMA_CMD_ALLOC_MR] = alloc_mr,
	};
	struct ctrl c = { .v = v, .out = out + 1 };
	int status;

	if (cap < RDMA_CTRL_REPLY_MAX)
		return 0;
	v->last_error[0] = '\0';
	if (!len) {
		status = refuse(&c, EINVAL, "an empty control request");
	} else if (req[0] >= VIRTIO_RDMA_CMD_NR) {
		status = refuse(&c, EOPNOTSUPP, "unknown command %u", req[0]);
	} else {
		c.req = req + 1;
		c.len = len - 1;
		status = cmds[req[0]](&c);
	}
	if (status)
		c.out_len = 0;
	out[0] = (uint8_t)status;
	return 1 + c.out_len;
}
