// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-rdma control requests from a hostile driver (devices/rdma/verbs.c):
 * the input is a series of requests, each a length byte and that many
 * bytes ({cmd; arguments}). Whatever they are, a reply fits its buffer and
 * says 0 or an errno, a refusal carries no reply data, and the objects
 * stay consistent: every QP's PD and CQs, every MR's and AH's PD exist, a
 * QP past RESET has a path MTU, and the transport of an RC QP in RTR or
 * later runs at that MTU with 24-bit PSNs.
 *
 * Seeds (FUZZ_MAKE_SEEDS=DIR): the requests that bring an RC QP to RTS
 * and a GSI QP to INIT, as a driver sends them.
 */
#include <endian.h>

#include "fuzz.h"
#include "devices/rdma/verbs.h"

static const struct rdma_verbs_config cfg = {
	.max_cq = 4, .max_qp = 4, .max_cqe = 64, .max_qp_wr = 16, .max_sge = 4,
	.max_inline = 64, .max_mr = 8, .max_pd = 4, .max_ah = 4, .max_fast_reg_pages = 16,
	.max_qp_rd_atom = 8, .max_mtu = VIRTIO_RDMA_MTU_4096, .ram_end = 1 << 24,
};

static void check(const struct rdma_verbs *v)
{
	uint32_t i;

	for (i = 0; i < v->cfg.max_qp; i++) {
		const struct rdma_qp *qp = &v->qps[i];

		if (!qp->used)
			continue;
		if (qp->pd >= v->cfg.max_pd || !v->pd_used[qp->pd] ||
		    qp->send_cq >= v->cfg.max_cq || !v->cqs[qp->send_cq].used ||
		    qp->recv_cq >= v->cfg.max_cq || !v->cqs[qp->recv_cq].used)
			abort();	/* a QP on something destroyed */
		if (!rdma_mtu_bytes(qp->path_mtu))
			abort();
		if (qp->type == RDMA_QPT_RC && qp->state >= RDMA_QPS_RTR &&
		    qp->state <= RDMA_QPS_RTS &&
		    (qp->rc.mtu != rdma_mtu_bytes(qp->path_mtu) || qp->rc.psn > RC_PSN_MASK ||
		     qp->rc.epsn > RC_PSN_MASK))
			abort();
	}
	for (i = 0; i < v->mrs.max; i++)
		if (v->mrs.mrs[i].used && (v->mrs.mrs[i].pd >= v->cfg.max_pd ||
					   !v->pd_used[v->mrs.mrs[i].pd]))
			abort();
	for (i = 0; i < v->cfg.max_ah; i++)
		if (v->ahs[i].used && !v->pd_used[v->ahs[i].pd])
			abort();
}

static void put_req(uint8_t *buf, size_t *len, uint8_t cmd, const void *args, size_t n)
{
	buf[(*len)++] = (uint8_t)(n + 1);
	buf[(*len)++] = cmd;
	if (n)
		memcpy(buf + *len, args, n);
	*len += n;
}

static void make_seeds(const char *dir)
{
	uint8_t buf[2048];
	size_t len = 0;
	struct virtio_rdma_create_cq cq = { htole32(16) };
	struct virtio_rdma_add_gid gid = { .type = VIRTIO_RDMA_GID_ROCE_V2,
					   .gid = { [10] = 0xff, [11] = 0xff, 192, 168, 1, 2 } };
	struct virtio_rdma_create_qp qp = {
		.qp_type = VIRTIO_RDMA_QPT_RC, .max_send_wr = htole32(8), .max_recv_wr = htole32(8),
		.max_send_sge = htole32(1), .max_recv_sge = htole32(1),
	};
	struct virtio_rdma_modify_qp m = { .qpn = htole32(2) };
	struct virtio_rdma_get_dma_mr dma = { 0, htole32(1) };

	put_req(buf, &len, VIRTIO_RDMA_CMD_CREATE_PD, NULL, 0);
	put_req(buf, &len, VIRTIO_RDMA_CMD_CREATE_CQ, &cq, sizeof(cq));
	put_req(buf, &len, VIRTIO_RDMA_CMD_ADD_GID, &gid, sizeof(gid));
	put_req(buf, &len, VIRTIO_RDMA_CMD_GET_DMA_MR, &dma, sizeof(dma));
	put_req(buf, &len, VIRTIO_RDMA_CMD_CREATE_QP, &qp, sizeof(qp));
	m.attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_PKEY_INDEX | RDMA_QP_PORT |
				   RDMA_QP_ACCESS_FLAGS);
	m.attr.qp_state = VIRTIO_RDMA_QPS_INIT;
	m.attr.port_num = 1;
	put_req(buf, &len, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m));
	m.attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_AV | RDMA_QP_PATH_MTU |
				   RDMA_QP_DEST_QPN | RDMA_QP_RQ_PSN | RDMA_QP_MAX_DEST_RD_ATOMIC |
				   RDMA_QP_MIN_RNR_TIMER);
	m.attr.qp_state = VIRTIO_RDMA_QPS_RTR;
	m.attr.path_mtu = VIRTIO_RDMA_MTU_1024;
	m.attr.dest_qp_num = htole32(3);
	m.attr.rq_psn = htole32(100);
	put_req(buf, &len, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m));
	m.attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_TIMEOUT | RDMA_QP_RETRY_CNT |
				   RDMA_QP_RNR_RETRY | RDMA_QP_SQ_PSN | RDMA_QP_MAX_QP_RD_ATOMIC);
	m.attr.qp_state = VIRTIO_RDMA_QPS_RTS;
	m.attr.timeout = 14;
	m.attr.retry_cnt = 7;
	m.attr.sq_psn = htole32(200);
	put_req(buf, &len, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m));
	m.qpn = htole32(2);
	put_req(buf, &len, VIRTIO_RDMA_CMD_QUERY_QP, &m.qpn, 4);
	fuzz_write_seed(dir, "rc-to-rts", buf, len);

	len = 0;
	qp.qp_type = VIRTIO_RDMA_QPT_GSI;
	put_req(buf, &len, VIRTIO_RDMA_CMD_CREATE_PD, NULL, 0);
	put_req(buf, &len, VIRTIO_RDMA_CMD_CREATE_CQ, &cq, sizeof(cq));
	put_req(buf, &len, VIRTIO_RDMA_CMD_CREATE_QP, &qp, sizeof(qp));
	m.qpn = htole32(1);
	m.attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_PKEY_INDEX | RDMA_QP_QKEY);
	m.attr.qp_state = VIRTIO_RDMA_QPS_INIT;
	put_req(buf, &len, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m));
	put_req(buf, &len, VIRTIO_RDMA_CMD_DESTROY_QP, &m.qpn, 4);
	put_req(buf, &len, VIRTIO_RDMA_CMD_DESTROY_PD, &m.qpn, 4);
	fuzz_write_seed(dir, "gsi-init", buf, len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_MAKE_SEEDS");

	if (dir)
		make_seeds(dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[RDMA_CTRL_REPLY_MAX];
	struct rdma_verbs v;
	size_t n, r;

	if (rdma_verbs_init(&v, &cfg, NULL, NULL))
		return 0;
	while (size) {
		n = data[0] < size - 1 ? data[0] : size - 1;
		r = rdma_verbs_ctrl(&v, data + 1, n, out, sizeof(out));
		if (r < 1 || r > sizeof(out) || (out[0] && r != 1))
			abort();	/* a reply that does not fit, or data with a refusal */
		check(&v);
		data += 1 + n;
		size -= 1 + n;
	}
	rdma_verbs_exit(&v);
	return 0;
}
