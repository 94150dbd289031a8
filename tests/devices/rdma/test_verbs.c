// SPDX-License-Identifier: GPL-2.0
/*
 * The virtio-rdma control commands on the device's verbs objects, as a
 * guest driver sends them (bytes in, bytes out): queries, PDs, CQs, MRs
 * (DMA, user, fast-registration), QPs through the connection path a
 * kernel ULP takes (the attribute masks the rdma_cm uses), AHs and GIDs;
 * objects in use kept, bad requests refused whole with a reason, and the
 * data path told what changes.
 */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "devices/rdma/verbs.h"

#define RAM_END		(64ULL << 20)

static struct rdma_verbs v;
static uint32_t changed[8], destroyed[8], armed[8];
static enum rdma_qp_state changed_old[8];
static int nchanged, ndestroyed, narmed;
static uint8_t out[RDMA_CTRL_REPLY_MAX];
static size_t out_len;

static void on_changed(void *opaque, uint32_t qpn, enum rdma_qp_state old)
{
	if (nchanged < 8) {
		changed_old[nchanged] = old;
		changed[nchanged++] = qpn;
	}
}

static void on_destroy(void *opaque, uint32_t qpn)
{
	if (ndestroyed < 8)
		destroyed[ndestroyed++] = qpn;
}

static void on_armed(void *opaque, uint32_t cqn)
{
	if (narmed < 8)
		armed[narmed++] = cqn;
}

static const struct rdma_verbs_ops ops = {
	.qp_changed = on_changed, .qp_destroy = on_destroy, .cq_armed = on_armed,
};

static void setup(void)
{
	struct rdma_verbs_config cfg = {
		.max_cq = 4, .max_qp = 4, .max_cqe = 256, .max_qp_wr = 64, .max_sge = 4,
		.max_inline = 64, .max_mr = 8, .max_pd = 2, .max_ah = 2,
		.max_fast_reg_pages = 32, .max_qp_rd_atom = 8, .max_mtu = VIRTIO_RDMA_MTU_4096,
		.mac = { 0x52, 0x54, 0, 0, 0, 0x11 }, .ram_end = RAM_END,
	};

	ck_assert_int_eq(rdma_verbs_init(&v, &cfg, &ops, NULL), 0);
	nchanged = ndestroyed = narmed = 0;
}

static void teardown(void)
{
	rdma_verbs_exit(&v);
}

/* Send {cmd, @args}; the status. The reply is in out[1 .. out_len). */
static int cmd(uint8_t c, const void *args, size_t len)
{
	uint8_t req[1 + 4096];

	ck_assert_uint_le(len, sizeof(req) - 1);
	req[0] = c;
	if (len)
		memcpy(req + 1, args, len);
	out_len = rdma_verbs_ctrl(&v, req, 1 + len, out, sizeof(out));
	ck_assert_uint_ge(out_len, 1);
	return out[0];
}

static uint32_t reply32(size_t off)
{
	uint32_t x;

	ck_assert_uint_ge(out_len, 1 + off + 4);
	memcpy(&x, out + 1 + off, 4);
	return le32toh(x);
}

static uint32_t h_cmd(uint8_t c, uint32_t h)
{
	struct virtio_rdma_handle a = { htole32(h) };

	return cmd(c, &a, sizeof(a));
}

static uint32_t create_pd(void)
{
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_CREATE_PD, NULL, 0), 0);
	return reply32(0);
}

static uint32_t create_cq(uint32_t cqe)
{
	struct virtio_rdma_create_cq a = { htole32(cqe) };

	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_CREATE_CQ, &a, sizeof(a)), 0);
	ck_assert_uint_eq(reply32(4), cqe);
	return reply32(0);
}

static int create_qp(uint8_t type, uint32_t pd, uint32_t cq, uint32_t *qpn)
{
	struct virtio_rdma_create_qp a = {
		.pdn = htole32(pd), .qp_type = type, .send_cqn = htole32(cq),
		.recv_cqn = htole32(cq), .max_send_wr = htole32(16), .max_recv_wr = htole32(16),
		.max_send_sge = htole32(2), .max_recv_sge = htole32(2),
	};
	int st = cmd(VIRTIO_RDMA_CMD_CREATE_QP, &a, sizeof(a));

	if (!st)
		*qpn = reply32(0);
	return st;
}

static void add_gid(uint16_t index, uint32_t ipv4)
{
	struct virtio_rdma_add_gid a = { .index = htole16(index), .type = VIRTIO_RDMA_GID_ROCE_V2 };

	a.gid[10] = a.gid[11] = 0xff;
	memcpy(a.gid + 12, &ipv4, 4);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_ADD_GID, &a, sizeof(a)), 0);
}

static int modify(uint32_t qpn, const struct virtio_rdma_qp_attr *attr)
{
	struct virtio_rdma_modify_qp a = { .qpn = htole32(qpn), .attr = *attr };

	return cmd(VIRTIO_RDMA_CMD_MODIFY_QP, &a, sizeof(a));
}

#define M(x)	RDMA_QP_##x

START_TEST(queries)
{
	struct virtio_rdma_query_device_reply d;
	struct virtio_rdma_query_port_reply p;
	struct virtio_rdma_query_port port = { 1 };

	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_QUERY_DEVICE, NULL, 0), 0);
	ck_assert_uint_eq(out_len, 1 + sizeof(d));
	memcpy(&d, out + 1, sizeof(d));
	ck_assert_uint_eq(le32toh(d.max_qp), 4);
	ck_assert_uint_eq(le32toh(d.max_mr), 7);
	ck_assert_uint_eq(le32toh(d.vendor_part_id), VIRTIO_ID_RDMA);
	ck_assert(le64toh(d.device_cap_flags) & VIRTIO_RDMA_DEVICE_MEM_MGT_EXTENSIONS);
	/* EUI-64 of 52:54:00:00:00:11 with the universal bit flipped. */
	ck_assert_uint_eq(le64toh(d.sys_image_guid), 0x505400fffe000011ULL);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_QUERY_PORT, &port, sizeof(port)), 0);
	memcpy(&p, out + 1, sizeof(p));
	ck_assert_uint_eq(p.state, VIRTIO_RDMA_PORT_ACTIVE);
	ck_assert_uint_eq(p.active_mtu, VIRTIO_RDMA_MTU_4096);
	ck_assert_uint_eq(le32toh(p.gid_tbl_len), RDMA_GID_TBL_LEN);
	port.port = 2;
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_QUERY_PORT, &port, sizeof(port)), EINVAL);
	ck_assert_str_eq(v.last_error, "port 2: the device has port 1");
	ck_assert_uint_eq(out_len, 1);
}
END_TEST

/* Every command with one byte too many or too few is refused, and unknown ones. */
START_TEST(lengths_and_unknown_commands)
{
	static const size_t sizes[VIRTIO_RDMA_CMD_NR] = {
		[VIRTIO_RDMA_CMD_QUERY_PORT] = sizeof(struct virtio_rdma_query_port),
		[VIRTIO_RDMA_CMD_CREATE_CQ] = sizeof(struct virtio_rdma_create_cq),
		[VIRTIO_RDMA_CMD_DESTROY_CQ] = 4, [VIRTIO_RDMA_CMD_DESTROY_PD] = 4,
		[VIRTIO_RDMA_CMD_GET_DMA_MR] = sizeof(struct virtio_rdma_get_dma_mr),
		[VIRTIO_RDMA_CMD_REG_USER_MR] = sizeof(struct virtio_rdma_reg_user_mr),
		[VIRTIO_RDMA_CMD_DEREG_MR] = 4,
		[VIRTIO_RDMA_CMD_CREATE_QP] = sizeof(struct virtio_rdma_create_qp),
		[VIRTIO_RDMA_CMD_MODIFY_QP] = sizeof(struct virtio_rdma_modify_qp),
		[VIRTIO_RDMA_CMD_QUERY_QP] = 4, [VIRTIO_RDMA_CMD_DESTROY_QP] = 4,
		[VIRTIO_RDMA_CMD_CREATE_AH] = sizeof(struct virtio_rdma_create_ah),
		[VIRTIO_RDMA_CMD_DESTROY_AH] = 4,
		[VIRTIO_RDMA_CMD_ADD_GID] = sizeof(struct virtio_rdma_add_gid),
		[VIRTIO_RDMA_CMD_DEL_GID] = 4,
		[VIRTIO_RDMA_CMD_REQ_NOTIFY_CQ] = sizeof(struct virtio_rdma_req_notify_cq),
		[VIRTIO_RDMA_CMD_ALLOC_MR] = sizeof(struct virtio_rdma_alloc_mr),
	};
	uint8_t zeros[256] = { 0 };
	uint8_t c;

	for (c = 0; c < VIRTIO_RDMA_CMD_NR; c++) {
		ck_assert_msg(cmd(c, zeros, sizes[c] + 1) == EINVAL, "%s: one byte more",
			      rdma_verbs_cmd_name(c));
		ck_assert_uint_eq(out_len, 1);
		if (sizes[c])
			ck_assert_msg(cmd(c, zeros, sizes[c] - 1) == EINVAL, "%s: one byte less",
				      rdma_verbs_cmd_name(c));
	}
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_NR, NULL, 0), EOPNOTSUPP);
	ck_assert_int_eq(cmd(0xff, NULL, 0), EOPNOTSUPP);
	out_len = rdma_verbs_ctrl(&v, zeros, 0, out, sizeof(out));
	ck_assert_uint_eq(out_len, 1);
	ck_assert_uint_eq(out[0], EINVAL);
	/* Nothing was made by any of it. */
	ck_assert(!v.pd_used[0] && !v.cqs[0].used && !v.qps[0].used && !v.qps[1].used);
}
END_TEST

START_TEST(pds_cqs_and_what_uses_them)
{
	uint32_t pd = create_pd(), pd2 = create_pd(), cq = create_cq(16), qpn;
	struct virtio_rdma_create_cq big = { htole32(257) };
	struct virtio_rdma_req_notify_cq n = { .flags = htole32(VIRTIO_RDMA_NOTIFY_NEXT) };

	ck_assert_uint_ne(pd, pd2);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_CREATE_PD, NULL, 0), ENOSPC);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_CREATE_CQ, &big, sizeof(big)), EINVAL);
	ck_assert_int_eq(create_qp(VIRTIO_RDMA_QPT_RC, pd, cq, &qpn), 0);
	ck_assert_uint_eq(qpn, 2);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DESTROY_PD, pd), EBUSY);
	ck_assert_str_eq(v.last_error, "PD 0: QP 2 is in it");
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DESTROY_CQ, cq), EBUSY);
	n.cqn = htole32(cq);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_REQ_NOTIFY_CQ, &n, sizeof(n)), 0);
	ck_assert_int_eq(narmed, 1);
	ck_assert_uint_eq(v.cqs[cq].notify, VIRTIO_RDMA_NOTIFY_NEXT);
	n.flags = htole32(4);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_REQ_NOTIFY_CQ, &n, sizeof(n)), EINVAL);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DESTROY_QP, qpn), 0);
	ck_assert_int_eq(ndestroyed, 1);
	ck_assert_uint_eq(destroyed[0], qpn);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DESTROY_QP, qpn), ENOENT);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DESTROY_CQ, cq), 0);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DESTROY_PD, pd), 0);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DESTROY_PD, pd), ENOENT);
	ck_assert_int_eq(create_qp(VIRTIO_RDMA_QPT_RC, pd, cq, &qpn), ENOENT);
}
END_TEST

START_TEST(memory_regions)
{
	uint32_t pd = create_pd(), key, i;
	struct virtio_rdma_get_dma_mr dma = { htole32(pd), htole32(VIRTIO_RDMA_ACCESS_LOCAL_WRITE) };
	struct {
		struct virtio_rdma_reg_user_mr h;
		uint64_t pages[3];
	} __attribute__((packed)) u = {
		.h = { .pdn = htole32(pd), .access = htole32(VIRTIO_RDMA_ACCESS_LOCAL_WRITE |
							     VIRTIO_RDMA_ACCESS_REMOTE_WRITE),
		       .virt_addr = htole64(0x7f0000000100ULL), .length = htole64(8192),
		       .npages = htole32(3), .page_shift = 12, .offset = htole32(0x100) },
		.pages = { htole64(0x10000), htole64(0x30000), htole64(0x20000) },
	};
	struct virtio_rdma_alloc_mr fr = { htole32(pd), htole32(16) };
	struct rdma_seg segs[4];
	const char *why;

	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_GET_DMA_MR, &dma, sizeof(dma)), 0);
	ck_assert_uint_eq(reply32(0), reply32(4));
	dma.access = htole32(VIRTIO_RDMA_ACCESS_REMOTE_READ);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_GET_DMA_MR, &dma, sizeof(dma)), EINVAL);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_REG_USER_MR, &u, sizeof(u)), 0);
	key = reply32(0);
	/* Bytes 0x1000..0x1100 of the region: the end of page 0 and the start of page 1. */
	ck_assert_int_eq(rdma_mr_translate(&v.mrs, key, pd, RDMA_ACCESS_REMOTE_WRITE,
					   0x7f0000000100ULL + 0xe00, 0x300, segs, 4, &why), 2);
	ck_assert_uint_eq(segs[0].gpa, 0x10f00);
	ck_assert_uint_eq(segs[1].gpa, 0x30000);
	/* A page list that does not add up, a page outside RAM, the wrong byte count. */
	u.h.npages = htole32(2);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_REG_USER_MR, &u, sizeof(u.h) + 16), EINVAL);
	u.h.npages = htole32(3);
	u.pages[2] = htole64(RAM_END);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_REG_USER_MR, &u, sizeof(u)), EINVAL);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_REG_USER_MR, &u, sizeof(u) - 1), EINVAL);
	/* The refused ones left no MR behind: 6 more fit (8 minus index 0 minus 1 DMA). */
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_ALLOC_MR, &fr, sizeof(fr)), 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_ALLOC_MR, &fr, sizeof(fr)), 0);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_ALLOC_MR, &fr, sizeof(fr)), ENOSPC);
	fr.max_num_sg = htole32(33);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_ALLOC_MR, &fr, sizeof(fr)), EINVAL);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DESTROY_PD, pd), EBUSY);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DEREG_MR, key), 0);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DEREG_MR, key), ENOENT);
}
END_TEST

/*
 * An RC QP the way the kernel's rdma_cm brings it up (ib_modify_qp masks
 * of cma_modify_qp_rtr/rts), then the values it carries in the transport.
 */
START_TEST(rc_qp_connection_path)
{
	uint32_t pd = create_pd(), cq = create_cq(64), qpn, gsi;
	struct virtio_rdma_qp_attr a = { 0 };
	struct virtio_rdma_qp_attr q;
	struct rdma_qp *qp;

	add_gid(0, 0x0201a8c0);		/* 192.168.1.2 */
	ck_assert_int_eq(create_qp(VIRTIO_RDMA_QPT_GSI, pd, cq, &gsi), 0);
	ck_assert_uint_eq(gsi, RDMA_GSI_QPN);
	ck_assert_int_eq(create_qp(VIRTIO_RDMA_QPT_GSI, pd, cq, &gsi), EBUSY);
	ck_assert_int_eq(create_qp(VIRTIO_RDMA_QPT_UC, pd, cq, &qpn), EOPNOTSUPP);
	ck_assert_int_eq(create_qp(VIRTIO_RDMA_QPT_RC, pd, cq, &qpn), 0);
	qp = rdma_verbs_qp(&v, qpn);
	ck_assert_ptr_nonnull(qp);

	/* Straight to RTR is not a transition the table has. */
	a.attr_mask = htole32(M(STATE));
	a.qp_state = VIRTIO_RDMA_QPS_RTR;
	ck_assert_int_eq(modify(qpn, &a), EINVAL);
	ck_assert_str_eq(v.last_error, "QP 2: RESET -> RTR: no such state transition for this QP type (-)");

	a.attr_mask = htole32(M(STATE) | M(PKEY_INDEX) | M(PORT) | M(ACCESS_FLAGS));
	a.qp_state = VIRTIO_RDMA_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = htole32(VIRTIO_RDMA_ACCESS_REMOTE_WRITE |
				    VIRTIO_RDMA_ACCESS_REMOTE_READ);
	ck_assert_int_eq(modify(qpn, &a), 0);
	ck_assert_int_eq(qp->state, RDMA_QPS_INIT);
	ck_assert_int_eq(nchanged, 1);
	ck_assert_int_eq(changed_old[0], RDMA_QPS_RESET);

	a.attr_mask = htole32(M(STATE) | M(AV) | M(PATH_MTU) | M(DEST_QPN) | M(RQ_PSN) |
			      M(MAX_DEST_RD_ATOMIC) | M(MIN_RNR_TIMER));
	a.qp_state = VIRTIO_RDMA_QPS_RTR;
	a.path_mtu = VIRTIO_RDMA_MTU_1024;
	a.dest_qp_num = htole32(0x11);
	a.rq_psn = htole32(0xabcdef);
	a.max_dest_rd_atomic = 8;
	a.min_rnr_timer = 12;
	a.ah_attr.sgid_index = 3;		/* no such GID */
	ck_assert_int_eq(modify(qpn, &a), EINVAL);
	ck_assert_str_eq(v.last_error, "sgid_index 3 names no GID");
	a.ah_attr.sgid_index = 0;
	a.rq_psn = htole32(0x1000000);
	ck_assert_int_eq(modify(qpn, &a), EINVAL);
	ck_assert_int_eq(qp->state, RDMA_QPS_INIT);	/* refused whole */
	a.rq_psn = htole32(0xabcdef);
	a.path_mtu = 6;
	ck_assert_int_eq(modify(qpn, &a), EINVAL);
	a.path_mtu = VIRTIO_RDMA_MTU_1024;
	ck_assert_int_eq(modify(qpn, &a), 0);
	ck_assert_uint_eq(qp->rc.mtu, 1024);
	ck_assert_uint_eq(qp->rc.epsn, 0xabcdef);
	ck_assert_uint_eq(qp->rc.dqpn, 0x11);
	ck_assert_uint_eq(qp->rc.min_rnr_timer, 12);

	/* RTS without the retry counts is missing attributes, named. */
	a.attr_mask = htole32(M(STATE) | M(TIMEOUT) | M(SQ_PSN) | M(MAX_QP_RD_ATOMIC));
	a.qp_state = VIRTIO_RDMA_QPS_RTS;
	ck_assert_int_eq(modify(qpn, &a), EINVAL);
	ck_assert_msg(strstr(v.last_error, "retry_cnt"), "%s", v.last_error);
	a.attr_mask = htole32(M(STATE) | M(TIMEOUT) | M(RETRY_CNT) | M(RNR_RETRY) | M(SQ_PSN) |
			      M(MAX_QP_RD_ATOMIC));
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 6;
	a.sq_psn = htole32(0x123456);
	a.max_rd_atomic = 8;
	ck_assert_int_eq(modify(qpn, &a), 0);
	ck_assert_uint_eq(qp->rc.psn, 0x123456);
	ck_assert_uint_eq(qp->rc.una, 0x123456);
	ck_assert_uint_eq(qp->rc.timeout, 14);
	ck_assert_uint_eq(qp->rc.retry_cnt, 7);
	ck_assert_uint_eq(qp->rc.rnr_retry, 6);

	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_QUERY_QP, qpn), 0);
	ck_assert_uint_eq(out_len, 1 + sizeof(q));
	memcpy(&q, out + 1, sizeof(q));
	ck_assert_uint_eq(q.qp_state, VIRTIO_RDMA_QPS_RTS);
	ck_assert_uint_eq(le32toh(q.sq_psn), 0x123456);
	ck_assert_uint_eq(le32toh(q.rq_psn), 0xabcdef);
	ck_assert_uint_eq(le32toh(q.dest_qp_num), 0x11);
	ck_assert_uint_eq(le32toh(q.max_send_wr), 16);

	/* RTS -> RTS: a new RNR timer (not a timeout: IBA has that only SQD -> SQD). */
	a.attr_mask = htole32(M(STATE) | M(TIMEOUT));
	a.qp_state = VIRTIO_RDMA_QPS_RTS;
	ck_assert_int_eq(modify(qpn, &a), EINVAL);
	/* cur_qp_state, if given, must be the QP's. */
	a.attr_mask = htole32(M(STATE) | M(CUR_STATE) | M(MIN_RNR_TIMER));
	a.cur_qp_state = VIRTIO_RDMA_QPS_RTR;
	a.min_rnr_timer = 20;
	ck_assert_int_eq(modify(qpn, &a), EINVAL);
	ck_assert_str_eq(v.last_error, "QP 2: cur_qp_state 2, it is RTS");
	a.cur_qp_state = VIRTIO_RDMA_QPS_RTS;
	ck_assert_int_eq(modify(qpn, &a), 0);
	ck_assert_uint_eq(qp->rc.min_rnr_timer, 20);
	ck_assert_uint_eq(qp->rc.timeout, 14);
	ck_assert_uint_eq(qp->rc.psn, 0x123456);	/* the transport kept its place */
	ck_assert_int_eq(nchanged, 3);			/* no state change, no news */
	/* ERR from anywhere, with nothing else: the transport stops; RESET clears it. */
	a.attr_mask = htole32(M(STATE) | M(CUR_STATE));
	a.qp_state = VIRTIO_RDMA_QPS_ERR;
	ck_assert_int_eq(modify(qpn, &a), EINVAL);
	a.attr_mask = htole32(M(STATE));
	ck_assert_int_eq(modify(qpn, &a), 0);
	ck_assert(qp->rc.error);
	a.attr_mask = htole32(M(STATE));
	a.qp_state = VIRTIO_RDMA_QPS_RESET;
	ck_assert_int_eq(modify(qpn, &a), 0);
	ck_assert(!qp->rc.error && !qp->rc.psn);
	ck_assert_int_eq(nchanged, 5);
	ck_assert_int_eq(changed_old[4], RDMA_QPS_ERR);
}
END_TEST

START_TEST(ahs_and_gids)
{
	uint32_t pd = create_pd();
	struct virtio_rdma_create_ah ah = { .pdn = htole32(pd) };
	struct virtio_rdma_add_gid g = { .index = htole16(16), .type = VIRTIO_RDMA_GID_ROCE_V2 };

	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_CREATE_AH, &ah, sizeof(ah)), EINVAL);
	add_gid(0, 0x0101a8c0);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_CREATE_AH, &ah, sizeof(ah)), 0);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_CREATE_AH, &ah, sizeof(ah)), 0);
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_CREATE_AH, &ah, sizeof(ah)), ENOSPC);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DESTROY_PD, pd), EBUSY);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DESTROY_AH, 1), 0);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DESTROY_AH, 1), ENOENT);
	/* GIDs: index in range, RoCE v2, a unicast address. */
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_ADD_GID, &g, sizeof(g)), EINVAL);
	g.index = htole16(1);
	g.type = 1;
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_ADD_GID, &g, sizeof(g)), EINVAL);
	g.type = VIRTIO_RDMA_GID_ROCE_V2;
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_ADD_GID, &g, sizeof(g)), EINVAL);
	g.gid[0] = 0xff;
	g.gid[15] = 1;
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_ADD_GID, &g, sizeof(g)), EINVAL);
	g.gid[0] = 0xfe;
	g.gid[1] = 0x80;
	ck_assert_int_eq(cmd(VIRTIO_RDMA_CMD_ADD_GID, &g, sizeof(g)), 0);
	ck_assert(v.gids[1].valid);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DEL_GID, 1), 0);
	ck_assert_int_eq(h_cmd(VIRTIO_RDMA_CMD_DEL_GID, 1), ENOENT);
}
END_TEST

START_TEST(bad_limits_refused)
{
	struct rdma_verbs w;
	struct rdma_verbs_config cfg = v.cfg;

	cfg.max_qp = 1;		/* no room beside the GSI QP */
	ck_assert_int_eq(rdma_verbs_init(&w, &cfg, NULL, NULL), -EINVAL);
	cfg = v.cfg;
	cfg.max_qp_rd_atom = RC_RD_MAX + 1;
	ck_assert_int_eq(rdma_verbs_init(&w, &cfg, NULL, NULL), -EINVAL);
	cfg = v.cfg;
	cfg.max_mtu = 0;
	ck_assert_int_eq(rdma_verbs_init(&w, &cfg, NULL, NULL), -EINVAL);
}
END_TEST

VLAB_SUITE_MAIN("verbs", "control", setup, teardown, 0,
	queries, lengths_and_unknown_commands, pds_cqs_and_what_uses_them, memory_regions,
	rc_qp_connection_path, ahs_and_gids, bad_limits_refused);
