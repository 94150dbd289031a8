// SPDX-License-Identifier: GPL-2.0
/* Polling virtio-rdma driver for test payloads; see rdma_pmd.h. */
#include "rdma_pmd.h"

/* enum ib_qp_attr_mask */
#define A_STATE			(1u << 0)
#define A_ACCESS		(1u << 3)
#define A_PKEY			(1u << 4)
#define A_PORT			(1u << 5)
#define A_AV			(1u << 7)
#define A_PATH_MTU		(1u << 8)
#define A_TIMEOUT		(1u << 9)
#define A_RETRY_CNT		(1u << 10)
#define A_RNR_RETRY		(1u << 11)
#define A_RQ_PSN		(1u << 12)
#define A_MAX_QP_RD_ATOMIC	(1u << 13)
#define A_MIN_RNR_TIMER		(1u << 15)
#define A_SQ_PSN		(1u << 16)
#define A_MAX_DEST_RD_ATOMIC	(1u << 17)
#define A_DEST_QPN		(1u << 20)

#define CTRL_REPLY		2048
#define WR_BYTES		256

static int fail(const char *what)
{
	printf("rdma_pmd: %s\n", what);
	return -1;
}

int rpmd_parse_ip(const char *s, uint32_t *out)
{
	uint32_t v = 0, part = 0, dots = 0;
	bool digit = false;

	if (!s)
		return -1;
	for (;; s++) {
		if (*s >= '0' && *s <= '9') {
			part = part * 10 + (uint32_t)(*s - '0');
			digit = true;
			if (part > 255)
				return -1;
		} else if ((*s == '.' || !*s) && digit) {
			v = v << 8 | part;
			part = 0;
			digit = false;
			if (!*s)
				break;
			if (++dots > 3)
				return -1;
		} else {
			return -1;
		}
	}
	if (dots != 3)
		return -1;
	*out = __builtin_bswap32(v);
	return 0;
}

static void gid_of(uint32_t addr, uint8_t gid[16])
{
	memset(gid, 0, 16);
	gid[10] = gid[11] = 0xff;
	memcpy(gid + 12, &addr, 4);
}

static void post_cq_buf(struct rpmd *r, uint8_t *b)
{
	struct vpmd_sg sg = { b, r->cq_buf_len };

	vpmd_queue_add(&r->cq, &sg, 0, 1, b);
	vpmd_queue_kick(&r->cq);
}

int rpmd_up(struct rpmd *r, uint32_t cq_buf_len)
{
	uint32_t i, sq_index;

	memset(r, 0, sizeof(*r));
	if (vpmd_probe_id(&r->dev, VIRTIO_ID_RDMA, 0) ||
	    vpmd_negotiate(&r->dev, 0, VPMD_BIT(VIRTIO_F_VERSION_1)))
		return fail("no virtio-rdma device to drive");
	for (i = 0; i < sizeof(r->cfg); i++)
		((uint8_t *)&r->cfg)[i] = mmio_read8(r->dev.device + i);
	sq_index = 1 + r->cfg.max_cq + 2 * (RPMD_QPN - 1);
	if (vpmd_queue_setup(&r->dev, &r->ctrl, 0, RPMD_QS) ||
	    vpmd_queue_setup(&r->dev, &r->cq, 1, RPMD_QS) ||
	    vpmd_queue_setup(&r->dev, &r->sq, sq_index, RPMD_QS) ||
	    vpmd_queue_setup(&r->dev, &r->rq, sq_index + 1, RPMD_QS) || vpmd_driver_ok(&r->dev))
		return fail("queue set-up failed");
	r->ctrl_buf = vpmd_alloc(CTRL_REPLY + 512, 4096);
	r->cqes = vpmd_alloc(RPMD_CQ_BUFS * 64, 64);
	r->wrs = vpmd_alloc(RPMD_QS * WR_BYTES + RPMD_QS * 64, 64);
	if (!r->ctrl_buf || !r->cqes || !r->wrs)
		return fail("out of memory");
	r->cq_buf_len = cq_buf_len ? cq_buf_len : sizeof(struct virtio_rdma_cqe);
	r->wait_us = RPMD_WAIT_US;
	for (i = 0; i < RPMD_CQ_BUFS; i++)
		post_cq_buf(r, r->cqes + i * 64);
	return 0;
}

int rpmd_ctrl(struct rpmd *r, uint8_t cmd, const void *args, uint32_t len, void *out,
	      uint32_t out_len)
{
	uint8_t *req = len + 1 <= CTRL_REPLY ? r->ctrl_buf : vpmd_alloc(len + 1, 64);
	struct vpmd_sg sg[2] = { { req, 1 + len }, { r->ctrl_buf + CTRL_REPLY, 512 } };
	uint64_t end = vpmd_deadline_us(RPMD_WAIT_US);
	uint8_t *rep = r->ctrl_buf + CTRL_REPLY;

	if (!req)
		return fail("out of memory");
	req[0] = cmd;
	if (len)
		memcpy(req + 1, args, len);
	rep[0] = 0xee;
	if (vpmd_queue_add(&r->ctrl, sg, 1, 1, r->ctrl_buf))
		return -1;
	vpmd_queue_kick(&r->ctrl);
	/*
	 * With interrupts on, halt for the answer: spinning here held a CPU
	 * from the device threads that must give it (a third of one, for the
	 * arming in each wait of a waiting stream).
	 */
	while (!vpmd_queue_get_used(&r->ctrl, NULL)) {
		if (r->irq) {
			/* Asked for anew each time: the vpmd queue polls, and asks for none. */
			if (!vdrv_enable_cb(&r->ctrl.vr))
				payload_wait_irq();
			vdrv_disable_cb(&r->ctrl.vr);
		} else if (vpmd_expired(end))
			return fail("no answer on the control queue");
	}
	if (!rep[0] && out)
		memcpy(out, rep + 1, out_len);
	return rep[0];
}

int rpmd_ctrl32(struct rpmd *r, uint8_t cmd, const void *args, uint32_t len, uint32_t *v)
{
	int st = rpmd_ctrl(r, cmd, args, len, v, 4);

	if (st)
		printf("rdma_pmd: control command %u refused: %d\n", cmd, st);
	return st ? -1 : 0;
}

int rpmd_objects(struct rpmd *r, uint32_t ip)
{
	struct virtio_rdma_add_gid g = { .index = 0, .type = VIRTIO_RDMA_GID_ROCE_V2 };
	struct virtio_rdma_create_cq c = { RPMD_CQ_BUFS };
	struct virtio_rdma_get_dma_mr dma = { 0, VIRTIO_RDMA_ACCESS_LOCAL_WRITE };

	gid_of(ip, g.gid);
	if (rpmd_ctrl(r, VIRTIO_RDMA_CMD_ADD_GID, &g, sizeof(g), NULL, 0) ||
	    rpmd_ctrl32(r, VIRTIO_RDMA_CMD_CREATE_PD, NULL, 0, &r->pd) ||
	    rpmd_ctrl32(r, VIRTIO_RDMA_CMD_CREATE_CQ, &c, sizeof(c), &r->cqn))
		return fail("GID, PD or CQ refused");
	dma.pdn = r->pd;
	return rpmd_ctrl32(r, VIRTIO_RDMA_CMD_GET_DMA_MR, &dma, sizeof(dma), &r->dma_key);
}

int rpmd_reg_mr(struct rpmd *r, void *buf, uint32_t bytes, uint32_t access, uint32_t *key)
{
	uint32_t npages = (bytes + 4095) / 4096, i;
	struct virtio_rdma_reg_user_mr *um;
	uint8_t *u = vpmd_alloc(sizeof(*um) + 8 * npages, 64);

	if (!u)
		return fail("out of memory");
	um = (void *)u;
	um->pdn = r->pd;
	um->access = access;
	um->virt_addr = (uintptr_t)buf;
	um->length = bytes;
	um->npages = npages;
	um->page_shift = 12;
	for (i = 0; i < npages; i++) {
		uint64_t a = (uintptr_t)buf + (uint64_t)i * 4096;

		memcpy(u + sizeof(*um) + 8 * i, &a, 8);
	}
	return rpmd_ctrl32(r, VIRTIO_RDMA_CMD_REG_USER_MR, u, sizeof(*um) + 8 * npages, key);
}

int rpmd_create_qp(struct rpmd *r, uint32_t *qpn)
{
	struct virtio_rdma_create_qp qp = {
		.pdn = r->pd, .qp_type = VIRTIO_RDMA_QPT_RC, .send_cqn = r->cqn,
		.recv_cqn = r->cqn, .max_send_wr = 128, .max_recv_wr = 32, .max_send_sge = 2,
		.max_recv_sge = 2,
	};

	if (rpmd_ctrl32(r, VIRTIO_RDMA_CMD_CREATE_QP, &qp, sizeof(qp), qpn))
		return -1;
	return *qpn == RPMD_QPN ? 0 : fail("the QP is not QP 2");
}

int rpmd_connect(struct rpmd *r, uint32_t qpn, uint32_t peer_qpn, uint32_t peer_ip,
		 const uint8_t peer_mac[6], uint32_t access)
{
	struct virtio_rdma_modify_qp m = { .qpn = qpn };

	m.attr.attr_mask = A_STATE | A_PKEY | A_PORT | A_ACCESS;
	m.attr.qp_state = VIRTIO_RDMA_QPS_INIT;
	m.attr.port_num = 1;
	m.attr.qp_access_flags = access;
	if (rpmd_ctrl(r, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0))
		return fail("QP to INIT refused");
	m.attr.attr_mask = A_STATE | A_AV | A_PATH_MTU | A_DEST_QPN | A_RQ_PSN |
			   A_MAX_DEST_RD_ATOMIC | A_MIN_RNR_TIMER;
	m.attr.qp_state = VIRTIO_RDMA_QPS_RTR;
	m.attr.path_mtu = r->path_mtu ? r->path_mtu : VIRTIO_RDMA_MTU_1024;
	m.attr.dest_qp_num = peer_qpn;
	m.attr.rq_psn = 0x1000;
	m.attr.max_dest_rd_atomic = 4;
	m.attr.min_rnr_timer = 1;
	gid_of(peer_ip, m.attr.ah_attr.dgid);
	memcpy(m.attr.ah_attr.dmac, peer_mac, 6);
	if (rpmd_ctrl(r, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0))
		return fail("QP to RTR refused");
	m.attr.attr_mask = A_STATE | A_TIMEOUT | A_RETRY_CNT | A_RNR_RETRY | A_SQ_PSN |
			   A_MAX_QP_RD_ATOMIC;
	m.attr.qp_state = VIRTIO_RDMA_QPS_RTS;
	/*
	 * 537 ms, 8 tries (4.3 s in all): a loaded machine (CI, a sanitizer
	 * build, the peer's hub still learning where a moved guest went)
	 * held a frame past 8 x 268 ms once.
	 */
	m.attr.timeout = 17;
	m.attr.retry_cnt = 7;
	m.attr.rnr_retry = 7;
	m.attr.sq_psn = 0x1000;
	m.attr.max_rd_atomic = 4;
	if (rpmd_ctrl(r, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0))
		return fail("QP to RTS refused");
	return 0;
}

int rpmd_modify_state(struct rpmd *r, uint32_t qpn, uint8_t state)
{
	struct virtio_rdma_modify_qp m = { .qpn = qpn };

	m.attr.attr_mask = A_STATE;
	m.attr.qp_state = state;
	return rpmd_ctrl(r, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0);
}

int rpmd_post_send_wr(struct rpmd *r, const struct virtio_rdma_send_wr *wr,
		      const struct virtio_rdma_sge *sge, unsigned int n)
{
	uint8_t *w = r->wrs + (uint64_t)(r->wr_next++ % RPMD_QS) * WR_BYTES;
	struct vpmd_sg sg = { w, (uint32_t)(sizeof(*wr) + n * sizeof(*sge)) };

	if (sg.len > WR_BYTES)
		return fail("a WR larger than its slot");
	memcpy(w, wr, sizeof(*wr));
	if (n)
		memcpy(w + sizeof(*wr), sge, n * sizeof(*sge));
	/* The device copies the WR out and gives the buffer back at once. */
	while (vpmd_queue_get_used(&r->sq, NULL))
		;
	if (vpmd_queue_add(&r->sq, &sg, 1, 0, w))
		return fail("the send queue is full");
	vpmd_queue_kick(&r->sq);
	return 0;
}

int rpmd_post_send_flags(struct rpmd *r, uint32_t flags, uint8_t opcode, uint64_t wr_id,
			 const void *addr, uint32_t len, uint64_t remote, uint32_t rkey,
			 uint32_t imm, uint64_t add)
{
	struct virtio_rdma_send_wr wr;
	struct virtio_rdma_sge sge = { (uintptr_t)addr, len, r->dma_key };

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = wr_id;
	wr.opcode = opcode;
	wr.send_flags = flags;
	wr.num_sge = 1;
	wr.imm_or_inv = __builtin_bswap32(imm);
	if (opcode == VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD) {
		wr.atomic.remote_addr = remote;
		wr.atomic.rkey = rkey;
		wr.atomic.compare_add = add;
	} else {
		wr.rdma.remote_addr = remote;
		wr.rdma.rkey = rkey;
	}
	return rpmd_post_send_wr(r, &wr, &sge, 1);
}

int rpmd_post_send(struct rpmd *r, uint8_t opcode, uint64_t wr_id, const void *addr,
		   uint32_t len, uint64_t remote, uint32_t rkey, uint32_t imm, uint64_t add)
{
	return rpmd_post_send_flags(r, VIRTIO_RDMA_SEND_SIGNALED, opcode, wr_id, addr, len,
				    remote, rkey, imm, add);
}

int rpmd_post_recv(struct rpmd *r, uint64_t wr_id, void *addr, uint32_t len)
{
	uint8_t *w = r->wrs + (uint64_t)RPMD_QS * WR_BYTES + (uint64_t)(wr_id % RPMD_QS) * 64;
	struct virtio_rdma_recv_wr *wr = (void *)w;
	struct virtio_rdma_sge *sge = (void *)(wr + 1);
	struct vpmd_sg sg = { w, sizeof(*wr) + sizeof(*sge) };

	memset(w, 0, 64);
	wr->wr_id = wr_id;
	wr->num_sge = 1;
	sge->addr = (uintptr_t)addr;
	sge->length = len;
	sge->lkey = r->dma_key;
	while (vpmd_queue_get_used(&r->rq, NULL))
		;
	if (vpmd_queue_add(&r->rq, &sg, 1, 0, w))
		return fail("the receive queue is full");
	vpmd_queue_kick(&r->rq);
	return 0;
}

int rpmd_next_cqe(struct rpmd *r, struct virtio_rdma_cqe *e)
{
	uint64_t end = vpmd_deadline_us(r->wait_us);
	uint8_t *b;

	while (!(b = vpmd_queue_get_used(&r->cq, NULL)))
		if (vpmd_expired(end))
			return fail("no completion");
	memcpy(e, b, sizeof(*e));
	post_cq_buf(r, b);
	return 0;
}

int rpmd_cq_irq(struct rpmd *r, uint8_t vector)
{
	payload_lapic_enable();
	if (vpmd_queue_irq(&r->dev, 1, vector) || vpmd_queue_irq(&r->dev, 0, vector))
		return -1;
	r->irq = true;
	return 0;
}

int rpmd_wait_cqe(struct rpmd *r, struct virtio_rdma_cqe *e)
{
	struct virtio_rdma_req_notify_cq arm = { .cqn = r->cqn,
						  .flags = VIRTIO_RDMA_NOTIFY_NEXT };
	uint8_t *b;

	while (!(b = vpmd_queue_get_used(&r->cq, NULL))) {
		if (rpmd_ctrl(r, VIRTIO_RDMA_CMD_REQ_NOTIFY_CQ, &arm, sizeof(arm), NULL, 0))
			return fail("arming the CQ");
		/* Armed: a completion from now on interrupts; one from before is seen here. */
		b = vpmd_queue_get_used(&r->cq, NULL);
		if (b)
			break;
		payload_wait_irq();
	}
	memcpy(e, b, sizeof(*e));
	post_cq_buf(r, b);
	return 0;
}

int rpmd_expect(struct rpmd *r, uint64_t wr_id, uint8_t status, uint8_t opcode, uint32_t len)
{
	struct virtio_rdma_cqe e;

	if (rpmd_next_cqe(r, &e))
		return -1;
	if (e.status != status || e.wr_id != wr_id || e.opcode != opcode ||
	    (len != ~0u && status == VIRTIO_RDMA_WC_SUCCESS && e.byte_len != len)) {
		printf("rdma_pmd: completion wr %lu status %u opcode %u len %u; wanted wr %lu "
		       "status %u opcode %u len %u\n", (unsigned long)e.wr_id, e.status, e.opcode,
		       e.byte_len, (unsigned long)wr_id, status, opcode, len);
		return -1;
	}
	return 0;
}
