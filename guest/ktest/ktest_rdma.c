// SPDX-License-Identifier: GPL-2.0
/*
 * RDMA through the kernel's own stack: two guests, each with a vlab NIC
 * and a virtio-rdma device on it (the vrdma driver), addresses from ip=.
 * One is the rdma_cm server (vlab_ktest.rdma_listen=1), the other its
 * client (vlab_ktest.rdma_connect=IP). The rdma_cm resolves the address
 * (ARP through the netdev), the route (RoCEv2 GIDs) and connects over the
 * GSI QP; then the client drives and both check:
 *
 *   rdma_send_recv   a 4 KiB SEND each way, every byte checked
 *   rdma_write_read  RDMA WRITE 64 KiB into the server's fast-registered
 *                    region and READ it back; the server checks it too
 *   rdma_hold        with vlab_ktest.rdma_hold_s=N, the same in rounds
 *                    for N seconds after "holding" (the host migrates one
 *                    of the guests meanwhile); each round checked by both
 *   rdma_disconnect  both see the disconnection
 *
 * Both sides run the same cases in the same order, so the TAP lines match.
 */
#include <linux/delay.h>
#include <linux/inet.h>
#include <linux/jiffies.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <net/net_namespace.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>

#include "vlab_ktest.h"

#define KR_PORT		18515
#define KR_MSG_BYTES	4096
#define KR_REGION	(64 * 1024)
#define KR_WAIT_S	120	/* for the peer's next message: it may be migrating */
#define KR_CONNECT_S	300	/* for the connection: the peer boots at the same time */

enum { KR_WR_SEND = 1, KR_WR_RECV, KR_WR_REG, KR_WR_RDMA };
enum { KR_HELLO = 1, KR_REPLY, KR_REGION_MSG, KR_DONE, KR_VERDICT, KR_BYE };

struct kr_msg {
	__le32 type;
	__le32 round;
	__le64 addr;
	__le32 rkey;
	__le32 len;
	__le32 bad;		/* KR_VERDICT: 0, or 1 + the first bad word */
	__le32 rsvd;
};

struct kr {
	bool server;
	struct rdma_cm_id *listen, *id;
	wait_queue_head_t wq;
	unsigned long seen;		/* bit per rdma_cm event seen */
	int error_event, error_status;

	struct ib_device *dev;
	struct ib_pd *pd;
	struct ib_cq *scq, *rcq;
	void *send_buf, *recv_buf;
	u64 send_dma, recv_dma;
	void *region;			/* server: the target; client: the local side */
	struct scatterlist region_sg;
	bool region_mapped;
	struct ib_mr *mr;
	u64 peer_addr;
	u32 peer_rkey;
	bool up;
};

static struct kr kr = { .error_event = -1 };

static bool kr_role(struct vlab_ktest *t)
{
	kr.server = t->rdma_listen;
	return t->rdma_listen || t->rdma_connect[0];
}

static int kr_cm_event(struct rdma_cm_id *id, struct rdma_cm_event *ev)
{
	struct kr *c = id->context;

	switch (ev->event) {
	case RDMA_CM_EVENT_CONNECT_REQUEST:
		if (c->id)
			return -EBUSY;	/* one connection; the rdma_cm destroys this id */
		c->id = id;
		break;
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
	case RDMA_CM_EVENT_CONNECT_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_REJECTED:
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		c->error_event = ev->event;
		c->error_status = ev->status;
		break;
	default:
		break;
	}
	set_bit(ev->event, &c->seen);
	wake_up(&c->wq);
	return 0;
}

/* 0 once @event was seen; -ETIMEDOUT, or -EIO after an error event. */
static int kr_wait_event(struct kr *c, enum rdma_cm_event_type event, unsigned int secs)
{
	wait_event_timeout(c->wq, test_bit(event, &c->seen) || c->error_event >= 0, secs * HZ);
	if (test_bit(event, &c->seen))
		return 0;
	return c->error_event >= 0 ? -EIO : -ETIMEDOUT;
}

static u32 kr_word(u32 seed, size_t i)
{
	return (u32)((i + 1) * 0x9e3779b1u) ^ (seed * 0x85ebca6bu) ^ 0x766c6162;
}

static void kr_fill(void *buf, size_t len, u32 seed)
{
	u32 *w = buf;
	size_t i;

	for (i = 0; i < len / 4; i++)
		w[i] = kr_word(seed, i);
}

/* 0, or 1 + the index of the first word that is not the pattern's. */
static u32 kr_check(const void *buf, size_t len, u32 seed)
{
	const u32 *w = buf;
	size_t i;

	for (i = 0; i < len / 4; i++)
		if (w[i] != kr_word(seed, i))
			return i + 1;
	return 0;
}

static int kr_wait_wc(struct kr *c, struct ib_cq *cq, u64 wr_id, struct ib_wc *wc,
		      unsigned int secs, struct vlab_ktest *t)
{
	unsigned long end = jiffies + secs * HZ;
	int n;

	while (!(n = ib_poll_cq(cq, 1, wc))) {
		if (time_after(jiffies, end)) {
			vlab_ktest_fail(t, "no completion for WR %llu in %u s", wr_id, secs);
			return -ETIMEDOUT;
		}
		usleep_range(50, 200);
	}
	if (n < 0) {
		vlab_ktest_fail(t, "poll_cq: %d", n);
		return n;
	}
	if (wc->status != IB_WC_SUCCESS || wc->wr_id != wr_id) {
		vlab_ktest_fail(t, "WR %llu: completion %llu, %s", wr_id, wc->wr_id,
				ib_wc_status_msg(wc->status));
		return -EIO;
	}
	return 0;
}

static int kr_post_recv(struct kr *c, struct vlab_ktest *t)
{
	struct ib_sge sge = {
		.addr = c->recv_dma, .length = KR_MSG_BYTES, .lkey = c->pd->local_dma_lkey,
	};
	struct ib_recv_wr wr = { .wr_id = KR_WR_RECV, .sg_list = &sge, .num_sge = 1 };
	int ret = ib_post_recv(c->id->qp, &wr, NULL);

	if (ret)
		vlab_ktest_fail(t, "post_recv: %d", ret);
	return ret;
}

/* Send the message in send_buf (@len bytes); with @imm as immediate data if @with_imm. */
static int kr_send(struct kr *c, size_t len, bool with_imm, u32 imm, struct vlab_ktest *t)
{
	struct ib_sge sge = {
		.addr = c->send_dma, .length = len, .lkey = c->pd->local_dma_lkey,
	};
	struct ib_send_wr wr = {
		.wr_id = KR_WR_SEND, .sg_list = &sge, .num_sge = 1,
		.opcode = with_imm ? IB_WR_SEND_WITH_IMM : IB_WR_SEND,
		.send_flags = IB_SEND_SIGNALED,
		.ex.imm_data = cpu_to_be32(imm),
	};
	struct ib_wc wc;
	int ret;

	ib_dma_sync_single_for_device(c->dev, c->send_dma, KR_MSG_BYTES, DMA_TO_DEVICE);
	ret = ib_post_send(c->id->qp, &wr, NULL);
	if (ret) {
		vlab_ktest_fail(t, "post_send: %d", ret);
		return ret;
	}
	return kr_wait_wc(c, c->scq, KR_WR_SEND, &wc, KR_WAIT_S, t);
}

static struct kr_msg *kr_out(struct kr *c, u32 type, u32 round)
{
	struct kr_msg *m = c->send_buf;

	memset(m, 0, sizeof(*m));
	m->type = cpu_to_le32(type);
	m->round = cpu_to_le32(round);
	return m;
}

/* The next message, of @type; a receive is posted again before it returns. */
static struct kr_msg *kr_recv(struct kr *c, u32 type, struct ib_wc *wc, struct vlab_ktest *t)
{
	struct kr_msg *m = c->recv_buf;

	if (kr_wait_wc(c, c->rcq, KR_WR_RECV, wc, KR_WAIT_S, t))
		return NULL;
	ib_dma_sync_single_for_cpu(c->dev, c->recv_dma, KR_MSG_BYTES, DMA_FROM_DEVICE);
	if (wc->byte_len < sizeof(*m) || le32_to_cpu(m->type) != type) {
		vlab_ktest_fail(t, "expected message %u, got %u bytes of type %u", type,
				wc->byte_len, le32_to_cpu(m->type));
		return NULL;
	}
	return m;
}

/* Register the region for @access through an IB_WR_REG_MR work request. */
static int kr_fast_reg(struct kr *c, int access, struct vlab_ktest *t)
{
	struct ib_reg_wr wr = {
		.wr.wr_id = KR_WR_REG, .wr.opcode = IB_WR_REG_MR,
		.wr.send_flags = IB_SEND_SIGNALED, .mr = c->mr, .access = access,
	};
	struct ib_wc wc;
	int n, ret;

	n = ib_map_mr_sg(c->mr, &c->region_sg, 1, NULL, PAGE_SIZE);
	if (n != 1) {
		vlab_ktest_fail(t, "map_mr_sg: %d", n);
		return -EIO;
	}
	ib_update_fast_reg_key(c->mr, ib_inc_rkey(c->mr->rkey));
	wr.key = c->mr->rkey;
	ret = ib_post_send(c->id->qp, &wr.wr, NULL);
	if (ret) {
		vlab_ktest_fail(t, "post REG_MR: %d", ret);
		return ret;
	}
	return kr_wait_wc(c, c->scq, KR_WR_REG, &wc, KR_WAIT_S, t);
}

/* RDMA WRITE or READ the whole region from/to the peer's. */
static int kr_rdma(struct kr *c, enum ib_wr_opcode op, struct vlab_ktest *t)
{
	struct ib_sge sge = { .addr = c->mr->iova, .length = KR_REGION, .lkey = c->mr->lkey };
	struct ib_rdma_wr wr = {
		.wr.wr_id = KR_WR_RDMA, .wr.opcode = op, .wr.send_flags = IB_SEND_SIGNALED,
		.wr.sg_list = &sge, .wr.num_sge = 1,
		.remote_addr = c->peer_addr, .rkey = c->peer_rkey,
	};
	struct ib_wc wc;
	int ret;

	ret = ib_post_send(c->id->qp, &wr.wr, NULL);
	if (ret) {
		vlab_ktest_fail(t, "post %s: %d", op == IB_WR_RDMA_READ ? "READ" : "WRITE", ret);
		return ret;
	}
	return kr_wait_wc(c, c->scq, KR_WR_RDMA, &wc, KR_WAIT_S, t);
}

/* Hand the region to the CPU or to the device (a no-op without an IOMMU). */
static void kr_region_sync(struct kr *c, bool for_cpu)
{
	u64 dma = sg_dma_address(&c->region_sg);

	if (for_cpu)
		ib_dma_sync_single_for_cpu(c->dev, dma, KR_REGION, DMA_BIDIRECTIONAL);
	else
		ib_dma_sync_single_for_device(c->dev, dma, KR_REGION, DMA_BIDIRECTIONAL);
}

static void kr_teardown(struct kr *c)
{
	if (c->id && c->id->qp)
		rdma_destroy_qp(c->id);
	if (c->mr)
		ib_dereg_mr(c->mr);
	if (c->region_mapped)
		ib_dma_unmap_sg(c->dev, &c->region_sg, 1, DMA_BIDIRECTIONAL);
	if (c->send_dma)
		ib_dma_unmap_single(c->dev, c->send_dma, KR_MSG_BYTES, DMA_TO_DEVICE);
	if (c->recv_dma)
		ib_dma_unmap_single(c->dev, c->recv_dma, KR_MSG_BYTES, DMA_FROM_DEVICE);
	if (c->scq)
		ib_free_cq(c->scq);
	if (c->rcq)
		ib_free_cq(c->rcq);
	if (c->pd)
		ib_dealloc_pd(c->pd);
	if (c->id)
		rdma_destroy_id(c->id);
	if (c->listen)
		rdma_destroy_id(c->listen);
	kfree(c->send_buf);
	kfree(c->recv_buf);
	kfree(c->region);
	*c = (struct kr){ .server = c->server, .error_event = -1 };
	init_waitqueue_head(&c->wq);
}

/* PD, CQs, the RC QP on @c->id, buffers and the MR; one receive posted. */
static int kr_setup(struct kr *c, struct vlab_ktest *t)
{
	struct ib_qp_init_attr qa = {
		.cap = { .max_send_wr = 8, .max_recv_wr = 8, .max_send_sge = 1, .max_recv_sge = 1 },
		.sq_sig_type = IB_SIGNAL_REQ_WR,
		.qp_type = IB_QPT_RC,
	};
	int ret;

	c->dev = c->id->device;
	c->pd = ib_alloc_pd(c->dev, 0);
	if (IS_ERR(c->pd)) {
		ret = PTR_ERR(c->pd);
		c->pd = NULL;
		return vlab_ktest_fail(t, "alloc_pd: %d", ret), ret;
	}
	c->scq = ib_alloc_cq(c->dev, NULL, 16, 0, IB_POLL_DIRECT);
	c->rcq = IS_ERR(c->scq) ? NULL : ib_alloc_cq(c->dev, NULL, 16, 0, IB_POLL_DIRECT);
	if (IS_ERR_OR_NULL(c->scq) || IS_ERR_OR_NULL(c->rcq)) {
		ret = IS_ERR(c->scq) ? PTR_ERR(c->scq) : PTR_ERR(c->rcq);
		if (IS_ERR(c->scq))
			c->scq = NULL;
		if (IS_ERR(c->rcq))
			c->rcq = NULL;
		return vlab_ktest_fail(t, "alloc_cq: %d", ret), ret;
	}
	qa.send_cq = c->scq;
	qa.recv_cq = c->rcq;
	ret = rdma_create_qp(c->id, c->pd, &qa);
	if (ret)
		return vlab_ktest_fail(t, "rdma_create_qp: %d", ret), ret;

	c->send_buf = kzalloc(KR_MSG_BYTES, GFP_KERNEL);
	c->recv_buf = kzalloc(KR_MSG_BYTES, GFP_KERNEL);
	c->region = kzalloc(KR_REGION, GFP_KERNEL);
	if (!c->send_buf || !c->recv_buf || !c->region)
		return vlab_ktest_fail(t, "no memory"), -ENOMEM;
	c->send_dma = ib_dma_map_single(c->dev, c->send_buf, KR_MSG_BYTES, DMA_TO_DEVICE);
	if (ib_dma_mapping_error(c->dev, c->send_dma))
		c->send_dma = 0;
	c->recv_dma = ib_dma_map_single(c->dev, c->recv_buf, KR_MSG_BYTES, DMA_FROM_DEVICE);
	if (ib_dma_mapping_error(c->dev, c->recv_dma))
		c->recv_dma = 0;
	sg_init_one(&c->region_sg, c->region, KR_REGION);
	c->region_mapped = ib_dma_map_sg(c->dev, &c->region_sg, 1, DMA_BIDIRECTIONAL) == 1;
	if (!c->send_dma || !c->recv_dma || !c->region_mapped)
		return vlab_ktest_fail(t, "DMA mapping failed"), -EIO;
	c->mr = ib_alloc_mr(c->pd, IB_MR_TYPE_MEM_REG, KR_REGION / PAGE_SIZE);
	if (IS_ERR(c->mr)) {
		ret = PTR_ERR(c->mr);
		c->mr = NULL;
		return vlab_ktest_fail(t, "alloc_mr: %d", ret), ret;
	}
	return kr_post_recv(c, t);
}

static struct rdma_cm_id *kr_new_id(struct kr *c)
{
	return rdma_create_id(&init_net, kr_cm_event, c, RDMA_PS_TCP, IB_QPT_RC);
}

static enum vlab_ktest_result kr_serve(struct kr *c, struct vlab_ktest *t)
{
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(KR_PORT) };
	struct rdma_conn_param cp = {
		.responder_resources = 1, .initiator_depth = 1, .rnr_retry_count = 7,
	};
	int ret;

	c->listen = kr_new_id(c);
	if (IS_ERR(c->listen)) {
		ret = PTR_ERR(c->listen);
		c->listen = NULL;
		return vlab_ktest_fail(t, "rdma_create_id: %d", ret);
	}
	ret = rdma_bind_addr(c->listen, (struct sockaddr *)&any);
	if (!ret)
		ret = rdma_listen(c->listen, 1);
	if (ret)
		return vlab_ktest_fail(t, "bind/listen on port %u: %d", KR_PORT, ret);
	vlab_ktest_diag(t, "rdma: listening on port %u", KR_PORT);
	ret = kr_wait_event(c, RDMA_CM_EVENT_CONNECT_REQUEST, KR_CONNECT_S + t->rdma_hold_s);
	if (ret)
		return vlab_ktest_fail(t, "no connection request: %d", ret);
	if (kr_setup(c, t))
		return VLAB_KTEST_FAIL;
	rdma_lock_handler(c->id);
	ret = rdma_accept(c->id, &cp);
	rdma_unlock_handler(c->id);
	if (ret)
		return vlab_ktest_fail(t, "rdma_accept: %d", ret);
	ret = kr_wait_event(c, RDMA_CM_EVENT_ESTABLISHED, KR_WAIT_S);
	if (ret)
		return vlab_ktest_fail(t, "not established: %d (event %d status %d)", ret,
					c->error_event, c->error_status);
	return VLAB_KTEST_PASS;
}

/* One attempt: resolve, route, connect. -EAGAIN when the server is not there yet. */
static int kr_try_connect(struct kr *c, const struct sockaddr_in *dst, struct vlab_ktest *t)
{
	struct rdma_conn_param cp = {
		.responder_resources = 1, .initiator_depth = 1,
		.retry_count = 7, .rnr_retry_count = 7,
	};
	int ret;

	c->id = kr_new_id(c);
	if (IS_ERR(c->id)) {
		ret = PTR_ERR(c->id);
		c->id = NULL;
		return vlab_ktest_fail(t, "rdma_create_id: %d", ret), ret;
	}
	ret = rdma_resolve_addr(c->id, NULL, (struct sockaddr *)dst, 5000);
	if (ret || kr_wait_event(c, RDMA_CM_EVENT_ADDR_RESOLVED, 10))
		return -EAGAIN;
	ret = rdma_resolve_route(c->id, 5000);
	if (ret || kr_wait_event(c, RDMA_CM_EVENT_ROUTE_RESOLVED, 10))
		return -EAGAIN;
	if (kr_setup(c, t))
		return -EIO;
	ret = rdma_connect(c->id, &cp);
	if (ret)
		return -EAGAIN;
	return kr_wait_event(c, RDMA_CM_EVENT_ESTABLISHED, 60) ? -EAGAIN : 0;
}

static enum vlab_ktest_result kr_connect(struct kr *c, struct vlab_ktest *t)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(KR_PORT) };
	unsigned long end = jiffies + KR_CONNECT_S * HZ;
	unsigned int tries = 0;
	int ret;

	if (!in4_pton(t->rdma_connect, -1, (u8 *)&dst.sin_addr.s_addr, -1, NULL))
		return vlab_ktest_fail(t, "rdma_connect=%s is not an IPv4 address",
				       t->rdma_connect);
	for (;;) {
		tries++;
		ret = kr_try_connect(c, &dst, t);
		if (ret != -EAGAIN)
			break;
		if (time_after(jiffies, end))
			return vlab_ktest_fail(t, "no connection to %s in %u tries (event %d status %d)",
					       t->rdma_connect, tries, c->error_event,
					       c->error_status);
		/* The server may still be booting: start again from nothing. */
		kr_teardown(c);
		msleep(1000);
	}
	if (ret)
		return VLAB_KTEST_FAIL;
	vlab_ktest_diag(t, "rdma: connected to %s on %s after %u tries", t->rdma_connect,
			dev_name(&c->dev->dev), tries);
	return VLAB_KTEST_PASS;
}

static enum vlab_ktest_result kr_case_connect(struct vlab_ktest *t)
{
	enum vlab_ktest_result r;

	init_waitqueue_head(&kr.wq);
	if (!kr_role(t))
		return vlab_ktest_skip(t, "no vlab_ktest.rdma_listen or rdma_connect");
	r = kr.server ? kr_serve(&kr, t) : kr_connect(&kr, t);
	kr.up = r == VLAB_KTEST_PASS;
	if (kr.up) {
		struct ib_qp_init_attr init;
		struct ib_qp_attr qa;
		int ret = ib_query_qp(kr.id->qp, &qa, IB_QP_STATE, &init);

		/* The device's own view, through QUERY_QP: both ends ready to send. */
		if (ret || qa.qp_state != IB_QPS_RTS)
			return vlab_ktest_fail(t, "query_qp: %d, state %d (not RTS)", ret,
					       qa.qp_state);
	}
	return r;
}

static enum vlab_ktest_result kr_need_up(struct vlab_ktest *t)
{
	if (!kr_role(t))
		return vlab_ktest_skip(t, "no vlab_ktest.rdma_listen or rdma_connect");
	if (!kr.up)
		return vlab_ktest_fail(t, "not connected");
	return VLAB_KTEST_PASS;
}

static enum vlab_ktest_result rdma_send_recv(struct vlab_ktest *t)
{
	size_t off = sizeof(struct kr_msg);
	enum vlab_ktest_result r = kr_need_up(t);
	struct kr *c = &kr;
	struct ib_wc wc;
	u32 bad;

	if (r != VLAB_KTEST_PASS)
		return r;
	if (!c->server) {
		kr_out(c, KR_HELLO, 0);
		kr_fill(c->send_buf + off, KR_MSG_BYTES - off, 1);
		if (kr_send(c, KR_MSG_BYTES, false, 0, t) || !kr_recv(c, KR_REPLY, &wc, t))
			return VLAB_KTEST_FAIL;
	} else {
		if (!kr_recv(c, KR_HELLO, &wc, t))
			return VLAB_KTEST_FAIL;
	}
	if (wc.byte_len != KR_MSG_BYTES)
		return vlab_ktest_fail(t, "received %u bytes, sent %u", wc.byte_len, KR_MSG_BYTES);
	bad = kr_check(c->recv_buf + off, KR_MSG_BYTES - off, c->server ? 1 : 2);
	if (kr_post_recv(c, t))
		return VLAB_KTEST_FAIL;
	if (c->server) {
		kr_out(c, KR_REPLY, 0);
		kr_fill(c->send_buf + off, KR_MSG_BYTES - off, 2);
		if (kr_send(c, KR_MSG_BYTES, false, 0, t))
			return VLAB_KTEST_FAIL;
	}
	if (bad)
		return vlab_ktest_fail(t, "received word %u differs", bad - 1);
	return VLAB_KTEST_PASS;
}

/*
 * Server: wait for the client's DONE of @round, check the region holds
 * that round's pattern and answer with the verdict. Returns 1 on BYE.
 */
static int kr_serve_round(struct kr *c, u32 *round, struct vlab_ktest *t)
{
	struct kr_msg *m, *v;
	struct ib_wc wc;
	u32 bad;

	if (kr_wait_wc(c, c->rcq, KR_WR_RECV, &wc, KR_WAIT_S + t->rdma_hold_s, t))
		return -EIO;
	ib_dma_sync_single_for_cpu(c->dev, c->recv_dma, KR_MSG_BYTES, DMA_FROM_DEVICE);
	m = c->recv_buf;
	if (le32_to_cpu(m->type) == KR_BYE)
		return 1;
	if (le32_to_cpu(m->type) != KR_DONE || !(wc.wc_flags & IB_WC_WITH_IMM) ||
	    be32_to_cpu(wc.ex.imm_data) != le32_to_cpu(m->round)) {
		vlab_ktest_fail(t, "expected DONE with the round as immediate data, got type %u",
				le32_to_cpu(m->type));
		return -EIO;
	}
	*round = le32_to_cpu(m->round);
	kr_region_sync(c, true);
	bad = kr_check(c->region, KR_REGION, 100 + *round);
	if (kr_post_recv(c, t))
		return -EIO;
	v = kr_out(c, KR_VERDICT, *round);
	v->bad = cpu_to_le32(bad);
	if (kr_send(c, sizeof(*v), false, 0, t))
		return -EIO;
	if (bad) {
		vlab_ktest_fail(t, "round %u: region word %u differs", *round, bad - 1);
		return -EIO;
	}
	return 0;
}

/* Client: write round @round's pattern, read it back, check; the server checks too. */
static int kr_client_round(struct kr *c, u32 round, struct vlab_ktest *t)
{
	struct kr_msg *m;
	struct ib_wc wc;
	u32 bad;

	kr_fill(c->region, KR_REGION, 100 + round);
	kr_region_sync(c, false);
	if (kr_rdma(c, IB_WR_RDMA_WRITE, t))
		return -EIO;
	memset(c->region, 0, KR_REGION);
	kr_region_sync(c, false);
	if (kr_rdma(c, IB_WR_RDMA_READ, t))
		return -EIO;
	kr_region_sync(c, true);
	bad = kr_check(c->region, KR_REGION, 100 + round);
	if (bad) {
		vlab_ktest_fail(t, "round %u: word %u read back differs", round, bad - 1);
		return -EIO;
	}
	kr_out(c, KR_DONE, round);
	if (kr_send(c, sizeof(struct kr_msg), true, round, t))
		return -EIO;
	m = kr_recv(c, KR_VERDICT, &wc, t);
	if (!m || kr_post_recv(c, t))
		return -EIO;
	if (le32_to_cpu(m->round) != round || m->bad) {
		vlab_ktest_fail(t, "round %u: the server saw round %u, bad word %u", round,
				le32_to_cpu(m->round), le32_to_cpu(m->bad));
		return -EIO;
	}
	return 0;
}

/* The server offers its region (registered for remote access); the client takes it. */
static int kr_exchange_region(struct kr *c, struct vlab_ktest *t)
{
	struct kr_msg *m;
	struct ib_wc wc;

	if (c->server) {
		if (kr_fast_reg(c, IB_ACCESS_LOCAL_WRITE | IB_ACCESS_REMOTE_WRITE |
				IB_ACCESS_REMOTE_READ, t))
			return -EIO;
		m = kr_out(c, KR_REGION_MSG, 0);
		m->addr = cpu_to_le64(c->mr->iova);
		m->rkey = cpu_to_le32(c->mr->rkey);
		m->len = cpu_to_le32(KR_REGION);
		return kr_send(c, sizeof(*m), false, 0, t);
	}
	if (kr_fast_reg(c, IB_ACCESS_LOCAL_WRITE, t))
		return -EIO;
	m = kr_recv(c, KR_REGION_MSG, &wc, t);
	if (!m)
		return -EIO;
	c->peer_addr = le64_to_cpu(m->addr);
	c->peer_rkey = le32_to_cpu(m->rkey);
	if (le32_to_cpu(m->len) != KR_REGION) {
		vlab_ktest_fail(t, "the server's region is %u bytes", le32_to_cpu(m->len));
		return -EIO;
	}
	return kr_post_recv(c, t);
}

static enum vlab_ktest_result rdma_write_read(struct vlab_ktest *t)
{
	enum vlab_ktest_result r = kr_need_up(t);
	u32 round = 0;

	if (r != VLAB_KTEST_PASS)
		return r;
	if (kr_exchange_region(&kr, t))
		return VLAB_KTEST_FAIL;
	if (kr.server ? kr_serve_round(&kr, &round, t) : kr_client_round(&kr, 0, t))
		return VLAB_KTEST_FAIL;
	vlab_ktest_diag(t, "rdma: %u KiB written and read back through rkey 0x%x",
			KR_REGION / 1024, kr.server ? kr.mr->rkey : kr.peer_rkey);
	return VLAB_KTEST_PASS;
}

static enum vlab_ktest_result rdma_hold(struct vlab_ktest *t)
{
	enum vlab_ktest_result r = kr_need_up(t);
	unsigned long start, end;
	u32 round = 0;
	int ret;

	if (r != VLAB_KTEST_PASS)
		return r;
	if (!t->rdma_hold_s)
		return vlab_ktest_skip(t, "vlab_ktest.rdma_hold_s not given");
	start = jiffies;
	if (kr.server) {
		while (!(ret = kr_serve_round(&kr, &round, t)))
			;
		if (ret < 0)
			return VLAB_KTEST_FAIL;
	} else {
		vlab_ktest_diag(t, "holding %u s with RDMA traffic", t->rdma_hold_s);
		end = start + t->rdma_hold_s * HZ;
		while (time_before(jiffies, end))
			if (kr_client_round(&kr, ++round, t))
				return VLAB_KTEST_FAIL;
		kr_out(&kr, KR_BYE, round);
		if (kr_send(&kr, sizeof(struct kr_msg), false, 0, t))
			return VLAB_KTEST_FAIL;
	}
	vlab_ktest_diag(t, "rdma: %u rounds of 64 KiB in %u ms, each checked by both sides",
			round, jiffies_to_msecs(jiffies - start));
	return VLAB_KTEST_PASS;
}

static enum vlab_ktest_result kr_case_disconnect(struct vlab_ktest *t)
{
	enum vlab_ktest_result r = kr_need_up(t);
	int ret;

	if (r != VLAB_KTEST_PASS) {
		kr_teardown(&kr);
		return r;
	}
	if (!kr.server)
		rdma_disconnect(kr.id);
	ret = kr_wait_event(&kr, RDMA_CM_EVENT_DISCONNECTED, KR_WAIT_S);
	kr_teardown(&kr);
	if (ret)
		return vlab_ktest_fail(t, "no DISCONNECTED event: %d", ret);
	return VLAB_KTEST_PASS;
}

static const struct vlab_ktest_case rdma_cases[] = {
	{ "rdma_connect", kr_case_connect },
	{ "rdma_send_recv", rdma_send_recv },
	{ "rdma_write_read", rdma_write_read },
	{ "rdma_hold", rdma_hold },
	{ "rdma_disconnect", kr_case_disconnect },
};

VLAB_KTEST_SUITE(ktest_rdma, rdma_cases);
