// SPDX-License-Identifier: GPL-2.0
/*
 * vrdma: the verbs. Objects are the device's (PD, CQ, QP, MR and AH
 * numbers come back from its control commands); work requests travel in
 * the QP's vqs, completions come back in the buffers posted on each CQ's
 * vq. Buffers are allocated per work request: the device copies a WR out
 * as soon as it sees it, so a buffer lives for microseconds.
 */
#include <linux/log2.h>
#include <linux/slab.h>
#include <linux/virtio.h>
#include <rdma/ib_addr.h>

#include "vrdma.h"

#define VRDMA_ACCESS_MASK	(IB_ACCESS_LOCAL_WRITE | IB_ACCESS_REMOTE_WRITE | \
				 IB_ACCESS_REMOTE_READ | IB_ACCESS_REMOTE_ATOMIC)

/* ---- PDs ---- */

static int vrdma_alloc_pd(struct ib_pd *ibpd, struct ib_udata *udata)
{
	struct virtio_rdma_create_pd_reply r;
	int ret;

	ret = vrdma_ctrl(to_vdev(ibpd->device), VIRTIO_RDMA_CMD_CREATE_PD, NULL, 0, &r, sizeof(r));
	if (!ret)
		to_vpd(ibpd)->pdn = le32_to_cpu(r.pdn);
	return ret;
}

static int vrdma_dealloc_pd(struct ib_pd *ibpd, struct ib_udata *udata)
{
	return vrdma_ctrl_handle(to_vdev(ibpd->device), VIRTIO_RDMA_CMD_DESTROY_PD,
				 to_vpd(ibpd)->pdn);
}

/* ---- MRs ---- */

static struct ib_mr *vrdma_mr_new(struct ib_pd *ibpd, u8 cmd, const void *q, size_t qlen,
				  u32 max_pages)
{
	struct vrdma_mr *mr = kzalloc(sizeof(*mr), GFP_KERNEL);
	struct virtio_rdma_mr_reply r;
	int ret;

	if (!mr)
		return ERR_PTR(-ENOMEM);
	if (max_pages) {
		mr->pages = kcalloc(max_pages, sizeof(*mr->pages), GFP_KERNEL);
		if (!mr->pages) {
			kfree(mr);
			return ERR_PTR(-ENOMEM);
		}
		mr->max_pages = max_pages;
	}
	ret = vrdma_ctrl(to_vdev(ibpd->device), cmd, q, qlen, &r, sizeof(r));
	if (ret) {
		kfree(mr->pages);
		kfree(mr);
		return ERR_PTR(ret);
	}
	mr->ibmr.lkey = le32_to_cpu(r.lkey);
	mr->ibmr.rkey = le32_to_cpu(r.rkey);
	return &mr->ibmr;
}

/* DMA addresses are guest-physical (no IOMMU between the guest and vlab). */
static struct ib_mr *vrdma_get_dma_mr(struct ib_pd *ibpd, int access)
{
	struct virtio_rdma_get_dma_mr q = {
		.pdn = cpu_to_le32(to_vpd(ibpd)->pdn),
		.access = cpu_to_le32(access & IB_ACCESS_LOCAL_WRITE),
	};

	return vrdma_mr_new(ibpd, VIRTIO_RDMA_CMD_GET_DMA_MR, &q, sizeof(q), 0);
}

static struct ib_mr *vrdma_alloc_mr(struct ib_pd *ibpd, enum ib_mr_type type, u32 max_num_sg)
{
	struct virtio_rdma_alloc_mr q = {
		.pdn = cpu_to_le32(to_vpd(ibpd)->pdn),
		.max_num_sg = cpu_to_le32(max_num_sg),
	};

	if (type != IB_MR_TYPE_MEM_REG)
		return ERR_PTR(-EOPNOTSUPP);
	if (!max_num_sg || max_num_sg > ibpd->device->attrs.max_fast_reg_page_list_len)
		return ERR_PTR(-EINVAL);
	return vrdma_mr_new(ibpd, VIRTIO_RDMA_CMD_ALLOC_MR, &q, sizeof(q), max_num_sg);
}

/* Kernel users only: user-space verbs are not provided. */
static struct ib_mr *vrdma_reg_user_mr(struct ib_pd *pd, u64 start, u64 length, u64 virt,
				       int access, struct ib_udata *udata)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static int vrdma_dereg_mr(struct ib_mr *ibmr, struct ib_udata *udata)
{
	struct vrdma_mr *mr = to_vmr(ibmr);
	int ret;

	ret = vrdma_ctrl_handle(to_vdev(ibmr->device), VIRTIO_RDMA_CMD_DEREG_MR, ibmr->lkey);
	if (ret)
		return ret;
	kfree(mr->pages);
	kfree(mr);
	return 0;
}

static int vrdma_set_page(struct ib_mr *ibmr, u64 addr)
{
	struct vrdma_mr *mr = to_vmr(ibmr);

	if (mr->npages == mr->max_pages)
		return -ENOMEM;
	mr->pages[mr->npages++] = cpu_to_le64(addr);
	return 0;
}

static int vrdma_map_mr_sg(struct ib_mr *ibmr, struct scatterlist *sg, int nents,
			   unsigned int *sg_offset)
{
	to_vmr(ibmr)->npages = 0;
	return ib_sg_to_pages(ibmr, sg, nents, sg_offset, vrdma_set_page);
}

/* ---- CQs ---- */

static int vrdma_create_cq(struct ib_cq *ibcq, const struct ib_cq_init_attr *attr,
			   struct ib_udata *udata)
{
	struct vrdma_dev *dev = to_vdev(ibcq->device);
	struct vrdma_cq *cq = to_vcq(ibcq);
	struct virtio_rdma_create_cq q = { .cqe = cpu_to_le32(attr->cqe) };
	struct virtio_rdma_create_cq_reply r;
	unsigned long flags;
	int ret;

	if (attr->flags || udata)
		return -EOPNOTSUPP;
	ret = vrdma_ctrl(dev, VIRTIO_RDMA_CMD_CREATE_CQ, &q, sizeof(q), &r, sizeof(r));
	if (ret)
		return ret;
	cq->cqn = le32_to_cpu(r.cqn);
	if (cq->cqn >= dev->max_cq) {
		vrdma_ctrl_handle(dev, VIRTIO_RDMA_CMD_DESTROY_CQ, cq->cqn);
		return -EIO;
	}
	cq->vq = dev->vqs[1 + cq->cqn];
	spin_lock_init(&cq->lock);
	ibcq->cqe = le32_to_cpu(r.cqe);
	spin_lock_irqsave(&dev->table_lock, flags);
	dev->cqs[cq->cqn] = cq;
	spin_unlock_irqrestore(&dev->table_lock, flags);
	return 0;
}

/* Give a completion buffer back to the device; the caller kicks. */
static void vrdma_cqe_repost(struct virtqueue *vq, struct virtio_rdma_cqe *e)
{
	struct scatterlist sg;

	sg_init_one(&sg, e, sizeof(*e));
	/* The ring has room: this buffer just came out of it. */
	WARN_ON_ONCE(virtqueue_add_inbuf(vq, &sg, 1, e, GFP_ATOMIC));
}

/* Buffers for every CQ vq, posted once at probe and reused by each CQ created on it. */
int vrdma_cq_rings_init(struct vrdma_dev *dev)
{
	u32 i, j, n;

	for (i = 0; i < dev->max_cq; i++) {
		struct virtqueue *vq = dev->vqs[1 + i];
		struct virtio_rdma_cqe *e;

		n = virtqueue_get_vring_size(vq);
		e = kcalloc(n, sizeof(*e), GFP_KERNEL);
		if (!e)
			return -ENOMEM;
		dev->cqe_bufs[i] = e;
		for (j = 0; j < n; j++)
			vrdma_cqe_repost(vq, &e[j]);
		virtqueue_kick(vq);
	}
	return 0;
}

static int vrdma_destroy_cq(struct ib_cq *ibcq, struct ib_udata *udata)
{
	struct vrdma_dev *dev = to_vdev(ibcq->device);
	struct vrdma_cq *cq = to_vcq(ibcq);
	struct virtio_rdma_cqe *e;
	unsigned long flags;
	unsigned int len;
	int ret;

	ret = vrdma_ctrl_handle(dev, VIRTIO_RDMA_CMD_DESTROY_CQ, cq->cqn);
	if (ret)
		return ret;
	spin_lock_irqsave(&dev->table_lock, flags);
	dev->cqs[cq->cqn] = NULL;
	spin_unlock_irqrestore(&dev->table_lock, flags);
	/* Completions nobody polled: their buffers serve the next CQ. */
	spin_lock_irqsave(&cq->lock, flags);
	while ((e = virtqueue_get_buf(cq->vq, &len)))
		vrdma_cqe_repost(cq->vq, e);
	virtqueue_kick(cq->vq);
	spin_unlock_irqrestore(&cq->lock, flags);
	return 0;
}

/* The CQ vq's interrupt: the device raises it only for an armed CQ. */
void vrdma_cq_event(struct virtqueue *vq)
{
	struct vrdma_dev *dev = vq->vdev->priv;
	struct vrdma_cq *cq;

	spin_lock(&dev->table_lock);
	cq = dev->cqs[vq->index - 1];
	if (cq && cq->ibcq.comp_handler)
		cq->ibcq.comp_handler(&cq->ibcq, cq->ibcq.cq_context);
	spin_unlock(&dev->table_lock);
}

static int vrdma_wc_flags(u8 f)
{
	int flags = 0;

	if (f & VIRTIO_RDMA_WC_GRH)
		flags |= IB_WC_GRH;
	if (f & VIRTIO_RDMA_WC_WITH_IMM)
		flags |= IB_WC_WITH_IMM;
	if (f & VIRTIO_RDMA_WC_WITH_INVALIDATE)
		flags |= IB_WC_WITH_INVALIDATE;
	if (f & VIRTIO_RDMA_WC_WITH_SMAC)
		flags |= IB_WC_WITH_SMAC;
	if (f & VIRTIO_RDMA_WC_WITH_NETWORK_HDR_TYPE)
		flags |= IB_WC_WITH_NETWORK_HDR_TYPE;
	return flags;
}

/* Fill @wc from @e; false if its QP is gone (then the completion is dropped). */
static bool vrdma_wc_fill(struct vrdma_dev *dev, const struct virtio_rdma_cqe *e,
			  struct ib_wc *wc)
{
	u32 qpn = le32_to_cpu(e->qp_num);
	struct vrdma_qp *qp = qpn && qpn <= dev->max_qp ? READ_ONCE(dev->qps[qpn - 1]) : NULL;

	if (!qp)
		return false;
	memset(wc, 0, sizeof(*wc));
	wc->wr_id = le64_to_cpu(e->wr_id);
	wc->status = e->status;
	wc->opcode = e->opcode;
	wc->byte_len = le32_to_cpu(e->byte_len);
	wc->qp = &qp->ibqp;
	wc->src_qp = le32_to_cpu(e->src_qp);
	wc->wc_flags = vrdma_wc_flags(e->wc_flags);
	if (e->wc_flags & VIRTIO_RDMA_WC_WITH_IMM)
		memcpy(&wc->ex.imm_data, &e->imm_or_inv, sizeof(wc->ex.imm_data));
	else if (e->wc_flags & VIRTIO_RDMA_WC_WITH_INVALIDATE)
		wc->ex.invalidate_rkey = le32_to_cpu(e->imm_or_inv);
	wc->pkey_index = le16_to_cpu(e->pkey_index);
	memcpy(wc->smac, e->smac, ETH_ALEN);
	wc->vlan_id = le16_to_cpu(e->vlan_id);
	wc->network_hdr_type = e->network_hdr_type;
	wc->port_num = 1;
	return true;
}

static int vrdma_poll_cq(struct ib_cq *ibcq, int num, struct ib_wc *wc)
{
	struct vrdma_dev *dev = to_vdev(ibcq->device);
	struct vrdma_cq *cq = to_vcq(ibcq);
	struct virtio_rdma_cqe *e;
	bool overrun = false, reposted = false;
	unsigned long flags;
	unsigned int len;
	int n = 0;

	spin_lock_irqsave(&cq->lock, flags);
	while (n < num && (e = virtqueue_get_buf(cq->vq, &len))) {
		if (len < sizeof(*e))
			dev_warn_ratelimited(&dev->vdev->dev, "CQ %u: a %u-byte completion\n",
					     cq->cqn, len);
		else if (e->status == VIRTIO_RDMA_CQ_OVERRUN)
			overrun = true;
		else if (vrdma_wc_fill(dev, e, &wc[n]))
			n++;
		vrdma_cqe_repost(cq->vq, e);
		reposted = true;
	}
	if (reposted)
		virtqueue_kick(cq->vq);
	spin_unlock_irqrestore(&cq->lock, flags);

	if (overrun && ibcq->event_handler) {
		struct ib_event ev = { .device = ibcq->device, .event = IB_EVENT_CQ_ERR,
				       .element.cq = ibcq };

		ibcq->event_handler(&ev, ibcq->cq_context);
	}
	return n;
}

static int vrdma_req_notify_cq(struct ib_cq *ibcq, enum ib_cq_notify_flags flags)
{
	struct vrdma_cq *cq = to_vcq(ibcq);
	struct virtio_rdma_req_notify_cq q = {
		.cqn = cpu_to_le32(cq->cqn),
		.flags = cpu_to_le32((flags & IB_CQ_SOLICITED_MASK) == IB_CQ_SOLICITED ?
				     VIRTIO_RDMA_NOTIFY_SOLICITED : VIRTIO_RDMA_NOTIFY_NEXT),
	};
	unsigned long irqflags;
	bool pending;
	int ret;

	ret = vrdma_ctrl(to_vdev(ibcq->device), VIRTIO_RDMA_CMD_REQ_NOTIFY_CQ, &q, sizeof(q),
			 NULL, 0);
	if (ret || !(flags & IB_CQ_REPORT_MISSED_EVENTS))
		return ret;
	spin_lock_irqsave(&cq->lock, irqflags);
	pending = virtqueue_poll(cq->vq, virtqueue_enable_cb_prepare(cq->vq));
	spin_unlock_irqrestore(&cq->lock, irqflags);
	return pending;
}

/* ---- QPs ---- */

static u8 vrdma_qp_type(enum ib_qp_type t)
{
	switch (t) {
	case IB_QPT_GSI:
		return VIRTIO_RDMA_QPT_GSI;
	case IB_QPT_RC:
		return VIRTIO_RDMA_QPT_RC;
	case IB_QPT_UD:
		return VIRTIO_RDMA_QPT_UD;
	default:
		return 0;
	}
}

/* Free the WR buffers the device has given back. */
static void vrdma_wr_reclaim(struct virtqueue *vq)
{
	unsigned int len;
	void *buf;

	while ((buf = virtqueue_get_buf(vq, &len)))
		kfree(buf);
}

static int vrdma_create_qp(struct ib_qp *ibqp, struct ib_qp_init_attr *init,
			   struct ib_udata *udata)
{
	struct vrdma_dev *dev = to_vdev(ibqp->device);
	struct vrdma_qp *qp = to_vqp(ibqp);
	struct ib_qp_cap *cap = &init->cap;
	struct virtio_rdma_create_qp_reply r;
	struct virtio_rdma_create_qp q = {
		.pdn = cpu_to_le32(to_vpd(ibqp->pd)->pdn),
		.qp_type = vrdma_qp_type(init->qp_type),
		.sq_sig_all = init->sq_sig_type == IB_SIGNAL_ALL_WR,
		.send_cqn = cpu_to_le32(to_vcq(init->send_cq)->cqn),
		.recv_cqn = cpu_to_le32(to_vcq(init->recv_cq)->cqn),
		/* The device wants room for at least one WR each way. */
		.max_send_wr = cpu_to_le32(max(cap->max_send_wr, 1U)),
		.max_recv_wr = cpu_to_le32(max(cap->max_recv_wr, 1U)),
		.max_send_sge = cpu_to_le32(cap->max_send_sge),
		.max_recv_sge = cpu_to_le32(cap->max_recv_sge),
		.max_inline_data = cpu_to_le32(cap->max_inline_data),
	};
	unsigned long flags;
	u32 i;
	int ret;

	if (udata || init->srq || init->create_flags || !q.qp_type)
		return -EOPNOTSUPP;
	/* The MAD layer sizes QP1 by module parameters, not by the device. */
	if (init->qp_type == IB_QPT_GSI &&
	    (cap->max_send_wr > dev->max_qp_wr || cap->max_recv_wr > dev->max_qp_wr))
		dev_warn(&dev->vdev->dev,
			 "QP1 wants %u send and %u receive WRs, the device holds %u: boot with ib_core.send_queue_size=%u ib_core.recv_queue_size=%u\n",
			 cap->max_send_wr, cap->max_recv_wr, dev->max_qp_wr, dev->max_qp_wr,
			 dev->max_qp_wr);
	ret = vrdma_ctrl(dev, VIRTIO_RDMA_CMD_CREATE_QP, &q, sizeof(q), &r, sizeof(r));
	if (ret)
		return ret;
	qp->qpn = le32_to_cpu(r.qpn);
	if (!qp->qpn || qp->qpn > dev->max_qp) {
		vrdma_ctrl_handle(dev, VIRTIO_RDMA_CMD_DESTROY_QP, qp->qpn);
		return -EIO;
	}
	i = qp->qpn - 1;
	qp->sq = dev->vqs[1 + dev->max_cq + 2 * i];
	qp->rq = dev->vqs[2 + dev->max_cq + 2 * i];
	spin_lock_init(&qp->sq_lock);
	spin_lock_init(&qp->rq_lock);
	qp->max_send_sge = cap->max_send_sge;
	qp->max_recv_sge = cap->max_recv_sge;
	qp->max_inline = cap->max_inline_data;
	ibqp->qp_num = qp->qpn;
	spin_lock_irqsave(&dev->table_lock, flags);
	dev->qps[i] = qp;
	spin_unlock_irqrestore(&dev->table_lock, flags);
	return 0;
}

static int vrdma_destroy_qp(struct ib_qp *ibqp, struct ib_udata *udata)
{
	struct vrdma_dev *dev = to_vdev(ibqp->device);
	struct vrdma_qp *qp = to_vqp(ibqp);
	unsigned long flags;
	int ret;

	ret = vrdma_ctrl_handle(dev, VIRTIO_RDMA_CMD_DESTROY_QP, qp->qpn);
	if (ret)
		return ret;
	spin_lock_irqsave(&dev->table_lock, flags);
	dev->qps[qp->qpn - 1] = NULL;
	spin_unlock_irqrestore(&dev->table_lock, flags);
	spin_lock_irqsave(&qp->sq_lock, flags);
	vrdma_wr_reclaim(qp->sq);
	spin_unlock_irqrestore(&qp->sq_lock, flags);
	spin_lock_irqsave(&qp->rq_lock, flags);
	vrdma_wr_reclaim(qp->rq);
	spin_unlock_irqrestore(&qp->rq_lock, flags);
	return 0;
}

static void vrdma_av_from(struct virtio_rdma_av *av, const struct rdma_ah_attr *ah)
{
	const struct ib_global_route *grh = rdma_ah_read_grh(ah);

	memcpy(av->dgid, grh->dgid.raw, sizeof(av->dgid));
	av->flow_label = cpu_to_le32(grh->flow_label);
	av->sgid_index = grh->sgid_index;
	av->hop_limit = grh->hop_limit;
	av->traffic_class = grh->traffic_class;
	memcpy(av->dmac, ah->roce.dmac, ETH_ALEN);
}

static int vrdma_modify_qp(struct ib_qp *ibqp, struct ib_qp_attr *attr, int mask,
			   struct ib_udata *udata)
{
	struct vrdma_qp *qp = to_vqp(ibqp);
	struct virtio_rdma_modify_qp q = { .qpn = cpu_to_le32(qp->qpn) };
	struct virtio_rdma_qp_attr *a = &q.attr;

	if (udata || (mask & ~IB_QP_ATTR_STANDARD_BITS))
		return -EOPNOTSUPP;
	a->attr_mask = cpu_to_le32(mask);
	a->qp_state = attr->qp_state;
	a->cur_qp_state = attr->cur_qp_state;
	a->path_mtu = attr->path_mtu;
	a->timeout = attr->timeout;
	a->retry_cnt = attr->retry_cnt;
	a->rnr_retry = attr->rnr_retry;
	a->min_rnr_timer = attr->min_rnr_timer;
	a->max_rd_atomic = attr->max_rd_atomic;
	a->max_dest_rd_atomic = attr->max_dest_rd_atomic;
	a->qkey = cpu_to_le32(attr->qkey);
	a->rq_psn = cpu_to_le32(attr->rq_psn);
	a->sq_psn = cpu_to_le32(attr->sq_psn);
	a->dest_qp_num = cpu_to_le32(attr->dest_qp_num);
	a->qp_access_flags = cpu_to_le32(attr->qp_access_flags & VRDMA_ACCESS_MASK);
	a->pkey_index = cpu_to_le16(attr->pkey_index);
	a->port_num = attr->port_num;
	if (mask & IB_QP_AV)
		vrdma_av_from(&a->ah_attr, &attr->ah_attr);
	return vrdma_ctrl(to_vdev(ibqp->device), VIRTIO_RDMA_CMD_MODIFY_QP, &q, sizeof(q),
			  NULL, 0);
}

static int vrdma_query_qp(struct ib_qp *ibqp, struct ib_qp_attr *attr, int mask,
			  struct ib_qp_init_attr *init)
{
	struct virtio_rdma_handle h = { .handle = cpu_to_le32(to_vqp(ibqp)->qpn) };
	struct virtio_rdma_qp_attr a;
	int ret;

	ret = vrdma_ctrl(to_vdev(ibqp->device), VIRTIO_RDMA_CMD_QUERY_QP, &h, sizeof(h), &a,
			 sizeof(a));
	if (ret)
		return ret;
	memset(attr, 0, sizeof(*attr));
	attr->qp_state = a.qp_state;
	attr->cur_qp_state = a.cur_qp_state;
	attr->path_mtu = a.path_mtu;
	attr->timeout = a.timeout;
	attr->retry_cnt = a.retry_cnt;
	attr->rnr_retry = a.rnr_retry;
	attr->min_rnr_timer = a.min_rnr_timer;
	attr->max_rd_atomic = a.max_rd_atomic;
	attr->max_dest_rd_atomic = a.max_dest_rd_atomic;
	attr->sq_draining = a.sq_draining;
	attr->qkey = le32_to_cpu(a.qkey);
	attr->rq_psn = le32_to_cpu(a.rq_psn);
	attr->sq_psn = le32_to_cpu(a.sq_psn);
	attr->dest_qp_num = le32_to_cpu(a.dest_qp_num);
	attr->qp_access_flags = le32_to_cpu(a.qp_access_flags);
	attr->pkey_index = le16_to_cpu(a.pkey_index);
	attr->port_num = 1;
	attr->cap.max_send_wr = le32_to_cpu(a.max_send_wr);
	attr->cap.max_recv_wr = le32_to_cpu(a.max_recv_wr);
	attr->cap.max_send_sge = le32_to_cpu(a.max_send_sge);
	attr->cap.max_recv_sge = le32_to_cpu(a.max_recv_sge);
	attr->cap.max_inline_data = le32_to_cpu(a.max_inline_data);
	memset(init, 0, sizeof(*init));
	init->send_cq = ibqp->send_cq;
	init->recv_cq = ibqp->recv_cq;
	init->qp_type = ibqp->qp_type;
	init->cap = attr->cap;
	return 0;
}

/* ---- work requests ---- */

static int vrdma_wr_opcode(enum ib_wr_opcode op)
{
	switch (op) {
	case IB_WR_RDMA_WRITE:
		return VIRTIO_RDMA_WR_RDMA_WRITE;
	case IB_WR_RDMA_WRITE_WITH_IMM:
		return VIRTIO_RDMA_WR_RDMA_WRITE_IMM;
	case IB_WR_SEND:
		return VIRTIO_RDMA_WR_SEND;
	case IB_WR_SEND_WITH_IMM:
		return VIRTIO_RDMA_WR_SEND_IMM;
	case IB_WR_RDMA_READ:
		return VIRTIO_RDMA_WR_RDMA_READ;
	case IB_WR_ATOMIC_CMP_AND_SWP:
		return VIRTIO_RDMA_WR_ATOMIC_CMP_SWP;
	case IB_WR_ATOMIC_FETCH_AND_ADD:
		return VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD;
	case IB_WR_LOCAL_INV:
		return VIRTIO_RDMA_WR_LOCAL_INV;
	case IB_WR_SEND_WITH_INV:
		return VIRTIO_RDMA_WR_SEND_INV;
	case IB_WR_REG_MR:
		return VIRTIO_RDMA_WR_REG_MR;
	default:
		return -EINVAL;
	}
}

/* The variable part of a send WR: the opcode's own fields. */
static void vrdma_send_wr_args(struct virtio_rdma_send_wr *w, const struct ib_send_wr *wr)
{
	switch (wr->opcode) {
	case IB_WR_RDMA_WRITE:
	case IB_WR_RDMA_WRITE_WITH_IMM:
	case IB_WR_RDMA_READ:
		w->rdma.remote_addr = cpu_to_le64(rdma_wr(wr)->remote_addr);
		w->rdma.rkey = cpu_to_le32(rdma_wr(wr)->rkey);
		break;
	case IB_WR_ATOMIC_CMP_AND_SWP:
	case IB_WR_ATOMIC_FETCH_AND_ADD:
		w->atomic.remote_addr = cpu_to_le64(atomic_wr(wr)->remote_addr);
		w->atomic.compare_add = cpu_to_le64(atomic_wr(wr)->compare_add);
		w->atomic.swap = cpu_to_le64(atomic_wr(wr)->swap);
		w->atomic.rkey = cpu_to_le32(atomic_wr(wr)->rkey);
		break;
	case IB_WR_REG_MR: {
		const struct ib_reg_wr *reg = reg_wr(wr);
		struct vrdma_mr *mr = to_vmr(reg->mr);
		u64 page = reg->mr->page_size;

		w->reg.key = cpu_to_le32(reg->key);
		w->reg.access = cpu_to_le32(reg->access & VRDMA_ACCESS_MASK);
		w->reg.iova = cpu_to_le64(reg->mr->iova);
		w->reg.length = cpu_to_le64(reg->mr->length);
		w->reg.pages_gpa = cpu_to_le64(virt_to_phys(mr->pages));
		w->reg.npages = cpu_to_le32(mr->npages);
		w->reg.page_shift = ilog2(page);
		/* ib_sg_to_pages() keeps the first SGE's offset in the iova. */
		w->reg.offset = cpu_to_le32(reg->mr->iova & (page - 1));
		break;
	}
	default:
		break;
	}
	if (wr->opcode == IB_WR_RDMA_WRITE_WITH_IMM || wr->opcode == IB_WR_SEND_WITH_IMM)
		memcpy(&w->imm_or_inv, &wr->ex.imm_data, sizeof(w->imm_or_inv));
	else if (wr->opcode == IB_WR_SEND_WITH_INV || wr->opcode == IB_WR_LOCAL_INV)
		w->imm_or_inv = cpu_to_le32(wr->ex.invalidate_rkey);
}

/* A WR's scatter/gather list in the device's layout, after its header. */
static void vrdma_sges_put(struct virtio_rdma_sge *sge, const struct ib_sge *sg, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		sge[i].addr = cpu_to_le64(sg[i].addr);
		sge[i].length = cpu_to_le32(sg[i].length);
		sge[i].lkey = cpu_to_le32(sg[i].lkey);
	}
}

static int vrdma_post_one_send(struct vrdma_qp *qp, const struct ib_send_wr *wr)
{
	bool inl = wr->send_flags & IB_SEND_INLINE;
	struct virtio_rdma_send_wr *w;
	struct virtio_rdma_sge *sge;
	struct scatterlist sg;
	size_t size, data = 0;
	int op = vrdma_wr_opcode(wr->opcode), i, ret;

	if (op < 0 || wr->num_sge < 0 || (!inl && wr->num_sge > qp->max_send_sge))
		return -EINVAL;
	if (inl) {
		for (i = 0; i < wr->num_sge; i++)
			data += wr->sg_list[i].length;
		if (data > qp->max_inline)
			return -EINVAL;
	} else {
		data = wr->num_sge * sizeof(*sge);
	}
	size = sizeof(*w) + data;
	w = kzalloc(size, GFP_ATOMIC);
	if (!w)
		return -ENOMEM;
	w->wr_id = cpu_to_le64(wr->wr_id);
	w->opcode = op;
	w->send_flags = (wr->send_flags & IB_SEND_FENCE ? VIRTIO_RDMA_SEND_FENCE : 0) |
			(wr->send_flags & IB_SEND_SIGNALED ? VIRTIO_RDMA_SEND_SIGNALED : 0) |
			(wr->send_flags & IB_SEND_SOLICITED ? VIRTIO_RDMA_SEND_SOLICITED : 0) |
			(inl ? VIRTIO_RDMA_SEND_INLINE : 0);
	vrdma_send_wr_args(w, wr);
	if (qp->ibqp.qp_type == IB_QPT_UD || qp->ibqp.qp_type == IB_QPT_GSI) {
		w->ud.ahn = cpu_to_le32(to_vah(ud_wr(wr)->ah)->ahn);
		w->ud.remote_qpn = cpu_to_le32(ud_wr(wr)->remote_qpn);
		w->ud.remote_qkey = cpu_to_le32(ud_wr(wr)->remote_qkey);
	}
	if (inl) {
		u8 *p = (u8 *)(w + 1);

		/* Inline data is named by kernel virtual addresses. */
		for (i = 0; i < wr->num_sge; i++) {
			memcpy(p, (void *)(uintptr_t)wr->sg_list[i].addr, wr->sg_list[i].length);
			p += wr->sg_list[i].length;
		}
		w->inline_len = cpu_to_le32(data);
	} else {
		vrdma_sges_put((struct virtio_rdma_sge *)(w + 1), wr->sg_list, wr->num_sge);
		w->num_sge = cpu_to_le16(wr->num_sge);
	}
	sg_init_one(&sg, w, size);
	ret = virtqueue_add_outbuf(qp->sq, &sg, 1, w, GFP_ATOMIC);
	if (ret)
		kfree(w);
	return ret;
}

static int vrdma_post_send(struct ib_qp *ibqp, const struct ib_send_wr *wr,
			   const struct ib_send_wr **bad)
{
	struct vrdma_qp *qp = to_vqp(ibqp);
	unsigned long flags;
	int ret = 0, posted = 0;

	spin_lock_irqsave(&qp->sq_lock, flags);
	vrdma_wr_reclaim(qp->sq);
	for (; wr; wr = wr->next, posted++) {
		ret = vrdma_post_one_send(qp, wr);
		if (ret) {
			*bad = wr;
			break;
		}
	}
	if (posted)
		virtqueue_kick(qp->sq);
	spin_unlock_irqrestore(&qp->sq_lock, flags);
	return ret;
}

static int vrdma_post_recv(struct ib_qp *ibqp, const struct ib_recv_wr *wr,
			   const struct ib_recv_wr **bad)
{
	struct vrdma_qp *qp = to_vqp(ibqp);
	struct virtio_rdma_recv_wr *w;
	struct virtio_rdma_sge *sge;
	struct scatterlist sg;
	unsigned long flags;
	int ret = 0, posted = 0;
	size_t size;

	spin_lock_irqsave(&qp->rq_lock, flags);
	vrdma_wr_reclaim(qp->rq);
	for (; wr; wr = wr->next, posted++) {
		ret = -EINVAL;
		if (wr->num_sge < 0 || wr->num_sge > qp->max_recv_sge)
			goto bad;
		size = sizeof(*w) + wr->num_sge * sizeof(*sge);
		ret = -ENOMEM;
		w = kzalloc(size, GFP_ATOMIC);
		if (!w)
			goto bad;
		w->wr_id = cpu_to_le64(wr->wr_id);
		w->num_sge = cpu_to_le32(wr->num_sge);
		vrdma_sges_put((struct virtio_rdma_sge *)(w + 1), wr->sg_list, wr->num_sge);
		sg_init_one(&sg, w, size);
		ret = virtqueue_add_outbuf(qp->rq, &sg, 1, w, GFP_ATOMIC);
		if (ret) {
			kfree(w);
			goto bad;
		}
	}
	ret = 0;
	goto out;
bad:
	*bad = wr;
out:
	if (posted)
		virtqueue_kick(qp->rq);
	spin_unlock_irqrestore(&qp->rq_lock, flags);
	return ret;
}

/* ---- AHs ---- */

static int vrdma_create_ah(struct ib_ah *ibah, struct rdma_ah_init_attr *init,
			   struct ib_udata *udata)
{
	struct virtio_rdma_create_ah q = { .pdn = cpu_to_le32(to_vpd(ibah->pd)->pdn) };
	struct virtio_rdma_create_ah_reply r;
	int ret;

	if (udata)
		return -EOPNOTSUPP;
	vrdma_av_from(&q.av, init->ah_attr);
	ret = vrdma_ctrl(to_vdev(ibah->device), VIRTIO_RDMA_CMD_CREATE_AH, &q, sizeof(q),
			 &r, sizeof(r));
	if (!ret)
		to_vah(ibah)->ahn = le32_to_cpu(r.ahn);
	return ret;
}

static int vrdma_destroy_ah(struct ib_ah *ibah, u32 flags)
{
	return vrdma_ctrl_handle(to_vdev(ibah->device), VIRTIO_RDMA_CMD_DESTROY_AH,
				 to_vah(ibah)->ahn);
}

const struct ib_device_ops vrdma_dev_ops = {
	.alloc_pd = vrdma_alloc_pd,
	.dealloc_pd = vrdma_dealloc_pd,
	.get_dma_mr = vrdma_get_dma_mr,
	.alloc_mr = vrdma_alloc_mr,
	.reg_user_mr = vrdma_reg_user_mr,
	.dereg_mr = vrdma_dereg_mr,
	.map_mr_sg = vrdma_map_mr_sg,
	.create_cq = vrdma_create_cq,
	.destroy_cq = vrdma_destroy_cq,
	.poll_cq = vrdma_poll_cq,
	.req_notify_cq = vrdma_req_notify_cq,
	.create_qp = vrdma_create_qp,
	.modify_qp = vrdma_modify_qp,
	.query_qp = vrdma_query_qp,
	.destroy_qp = vrdma_destroy_qp,
	.post_send = vrdma_post_send,
	.post_recv = vrdma_post_recv,
	.create_ah = vrdma_create_ah,
	.destroy_ah = vrdma_destroy_ah,

	INIT_RDMA_OBJ_SIZE(ib_pd, vrdma_pd, ibpd),
	INIT_RDMA_OBJ_SIZE(ib_cq, vrdma_cq, ibcq),
	INIT_RDMA_OBJ_SIZE(ib_qp, vrdma_qp, ibqp),
	INIT_RDMA_OBJ_SIZE(ib_ah, vrdma_ah, ibah),
};
