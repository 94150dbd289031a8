// SPDX-License-Identifier: GPL-2.0
/*
 * Two virtio-rdma devices in one process, each with its own guest memory
 * and worker, their ports wired to each other (a wire that can drop
 * frames), driven as a guest driver would: control requests on vq 0, CQ
 * buffers posted on the CQ's vq, work requests on a QP's send and receive
 * vqs (virtio/virtq_driver.c rings in guest memory). An RC connection
 * brought up with the rdma_cm's attributes carries SEND, SEND_WITH_IMM,
 * RDMA WRITE (with immediate), RDMA READ, FETCH_ADD and CMP_SWAP; a bad
 * rkey ends in an error completion and the QP in ERR, with the target's
 * memory untouched; and over a wire that drops one frame in ten,
 * everything still arrives once (the transport's timers, through the
 * device's); and B moved to a fresh device in the middle of such a stream.
 * A CQ armed for solicited events is interrupted only by completions of
 * receives whose message had SE set, and by errors (a stand-in transport
 * counts the interrupts).
 */
#include <check.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "rdma_req.h"
#include "devices/net/virtio_net.h"
#include "devices/rdma/verbs.h"
#include "devices/rdma/virtio_rdma.h"
#include "virtio/vdrv_guest.h"
#include "virtio_dev_test.h"
#include "vmm/core/vm.h"

#define MEM		(8 << 20)
#define QS		64
#define CQS		2
#define QPS		4
#define CTRL_VQ		0
#define CQ_VQ		1		/* CQ 0 */
#define QPN		2		/* the first RC QP */
#define SQ_VQ		(1 + CQS + 2 * (QPN - 1))
#define RQ_VQ		(SQ_VQ + 1)
#define GSQ_VQ		(1 + CQS)	/* QP 1, the GSI QP */
#define GRQ_VQ		(GSQ_VQ + 1)
#define RINGS		0x10000
#define CTRL_BUF	0x200000	/* a request, its reply at +0x80000 */
#define CQ_BUFS		0x300000	/* QS completions */
#define WR_BUF		0x310000	/* work requests, 512 bytes each */
#define DATA		0x400000	/* 1 MiB of data buffers */
#define MR_AREA		0x600000	/* the user MR peers write and read: 64 KiB */
#define MR_VA		0x7f0000000000ULL

struct node {
	uint8_t *ram;
	struct guest_mem gm;
	struct virtio_dev *vdev;
	struct vdrv ctrl, cq, sq, rq, gsq, grq;	/* gsq, grq: the GSI QP's */
	uint32_t pd, cq_n, dma_key, mr_key, qpn;
	uint8_t mac[6];
	uint32_t ip;
	unsigned int wr_slot;
	unsigned int cq_irqs;		/* interrupts of its CQ's vq (atomic) */
	struct node *peer;
};

static struct node A, B;
static unsigned int drop_every;		/* drop every Nth frame, 0 never */
static unsigned int frames_sent;
static uint64_t wire_rand;
static unsigned int cut_to_a;		/* frames A still gets before its wire is cut */
static bool cut_armed, a_cut;
static struct node *wire_down_to;	/* every frame to it is lost, while set */
static pthread_mutex_t wire_lock = PTHREAD_MUTEX_INITIALIZER;

static int wire_send(void *opaque, const void *frame, size_t len)
{
	struct node *n = opaque;

	/* Under the lock: a device being moved is NULL meanwhile (its frames are lost). */
	pthread_mutex_lock(&wire_lock);
	frames_sent++;
	/* Armed, the wire to A lets cut_to_a more frames pass, then none. */
	if (cut_armed && n->peer == &A) {
		if (cut_to_a)
			cut_to_a--;
		else
			a_cut = true, cut_armed = false;
	}
	if ((a_cut && n->peer == &A) || n->peer == wire_down_to) {
		pthread_mutex_unlock(&wire_lock);
		return 0;
	}
	/*
	 * One frame in drop_every lost, at random (a fixed seed): a fixed
	 * pattern could meet go-back-N's bursts at the same PSN every time.
	 */
	wire_rand = wire_rand * 6364136223846793005ULL + 1442695040888963407ULL;
	if (!(drop_every && (wire_rand >> 33) % drop_every == 0) && n->peer->vdev)
		ck_assert(virtio_rdma_receive(n->peer->vdev, frame, len));
	pthread_mutex_unlock(&wire_lock);
	return 0;
}

static void queue_up(struct node *n, struct vdrv *d, uint16_t q, uint64_t base)
{
	struct virtio_dev *vdev = n->vdev;

	ck_assert_int_eq(vdrv_init(d, &n->gm, base, QS, vdev->guest_features), 0);
	ck_assert(vdrv_enable_on(d, vdev, q));
}

/* A stand-in transport: it counts the interrupts of the node's CQ. */
static void count_signal(struct virtio_dev *vdev, uint16_t q)
{
	struct node *n = vdev->transport_priv;

	if (q == CQ_VQ)
		__atomic_fetch_add(&n->cq_irqs, 1, __ATOMIC_RELAXED);
}

static const struct virtio_transport_ops counting_transport = { .signal_queue = count_signal };

static void count_irqs(struct node *n, struct virtio_dev *vdev)
{
	vdev->transport = &counting_transport;
	vdev->transport_priv = n;
}

static void kick(struct node *n, struct vdrv *d, uint16_t q)
{
	vdrv_publish(d);
	n->vdev->ops->queue_notify(n->vdev, q);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One used buffer of @d, waiting for it (a stalled machine only comes near the bound). */
static uint32_t wait_used(struct vdrv *d, uint64_t *cookie)
{
	double end = now_s() + 30;
	uint32_t len;
	int r;

	while ((r = vdrv_get_used(d, cookie, &len)) == 0) {
		ck_assert_msg(now_s() < end, "nothing used in 30 s");
		usleep(100);
	}
	ck_assert_int_eq(r, 1);
	return len;
}

/* A control request; the status, and the reply's data in @out. */
static int ctrl(struct node *n, uint8_t cmd, const void *args, size_t len, void *out,
		size_t out_len)
{
	uint8_t *req = n->ram + CTRL_BUF, *rep = n->ram + CTRL_BUF + 0x80000;
	struct vdrv_buf b[2] = { { CTRL_BUF, 1 + len }, { CTRL_BUF + 0x80000, 256 } };
	uint64_t cookie;
	uint32_t got;

	req[0] = cmd;
	if (len)
		memcpy(req + 1, args, len);
	memset(rep, 0xee, 256);
	ck_assert_int_ge(vdrv_add(&n->ctrl, b, 1, 1, false, 7), 0);
	kick(n, &n->ctrl, CTRL_VQ);
	got = wait_used(&n->ctrl, &cookie);
	ck_assert_uint_ge(got, 1);
	if (!rep[0] && out)
		memcpy(out, rep + 1, out_len);
	return rep[0];
}

static uint32_t ctrl32(struct node *n, uint8_t cmd, const void *args, size_t len)
{
	uint32_t v = 0;

	ck_assert_int_eq(ctrl(n, cmd, args, len, &v, 4), 0);
	return le32toh(v);
}

/* @count buffers for completions on the node's CQ; each one's cookie is its address. */
static void post_cq_bufs(struct node *n, unsigned int count)
{
	static unsigned int next;
	unsigned int i;

	for (i = 0; i < count; i++) {
		uint64_t gpa = CQ_BUFS + (uint64_t)(next++ % 1024) * 64;
		struct vdrv_buf b = { gpa, 48 };

		ck_assert_int_ge(vdrv_add(&n->cq, &b, 0, 1, false, gpa), 0);
	}
	kick(n, &n->cq, CQ_VQ);
}

/* The next completion on the node's CQ (a buffer for it posted again). */
static struct virtio_rdma_cqe next_cqe(struct node *n)
{
	struct virtio_rdma_cqe e;
	uint64_t gpa;

	ck_assert_uint_eq(wait_used(&n->cq, &gpa), sizeof(e));
	memcpy(&e, n->ram + gpa, sizeof(e));
	post_cq_bufs(n, 1);
	return e;
}

static void node_up(struct node *n, uint8_t id)
{
	struct virtio_rdma_conf conf = { .cqs = CQS, .qps = QPS };
	struct rdma_port port = { wire_send, n, { 0x52, 0x54, 0, 0, 0x77, id } };
	char err[256];

	n->ram = aligned_alloc(4096, MEM);
	ck_assert_ptr_nonnull(n->ram);
	memset(n->ram, 0, MEM);
	ck_assert_int_eq(guest_mem_init_buffer(&n->gm, n->ram, MEM), 0);
	memcpy(n->mac, port.mac, 6);
	n->ip = htobe32(0x0a000000 | id);
	n->vdev = virtio_rdma_new(&n->gm, &conf, &port, err, sizeof(err));
	ck_assert_msg(n->vdev, "%s", err);
	n->cq_irqs = 0;
	count_irqs(n, n->vdev);
	virtio_dev_test_features_ok(n->vdev, 1ULL << VIRTIO_F_VERSION_1);
	queue_up(n, &n->ctrl, CTRL_VQ, RINGS);
	queue_up(n, &n->cq, CQ_VQ, RINGS + 0x20000);
	queue_up(n, &n->sq, SQ_VQ, RINGS + 0x40000);
	queue_up(n, &n->rq, RQ_VQ, RINGS + 0x60000);
	queue_up(n, &n->gsq, GSQ_VQ, RINGS + 0x80000);
	queue_up(n, &n->grq, GRQ_VQ, RINGS + 0xa0000);
	virtio_dev_test_driver_ok(n->vdev);
}

static void node_down(struct node *n)
{
	struct virtio_dev *vdev;

	/* Off the wire first: the peer may still be answering it (an RNR NAK, say). */
	pthread_mutex_lock(&wire_lock);
	vdev = n->vdev;
	n->vdev = NULL;
	pthread_mutex_unlock(&wire_lock);
	virtio_rdma_free(vdev);
	vdrv_exit(&n->ctrl);
	vdrv_exit(&n->cq);
	vdrv_exit(&n->sq);
	vdrv_exit(&n->rq);
	vdrv_exit(&n->gsq);
	vdrv_exit(&n->grq);
	guest_mem_exit(&n->gm);
	free(n->ram);
}

/* PD, CQ, a DMA MR, a user MR over MR_AREA, an RC QP in INIT, its GID. */
static void node_objects(struct node *n)
{
	struct virtio_rdma_add_gid g = { .index = 0, .type = VIRTIO_RDMA_GID_ROCE_V2 };
	struct virtio_rdma_create_cq cq = { htole32(256) };
	struct virtio_rdma_get_dma_mr dma;
	struct {
		struct virtio_rdma_reg_user_mr h;
		uint64_t pages[16];
	} __attribute__((packed)) u;
	struct virtio_rdma_create_qp qp = {
		.qp_type = VIRTIO_RDMA_QPT_RC, .max_send_wr = htole32(64), .max_recv_wr = htole32(64),
		.max_send_sge = htole32(4), .max_recv_sge = htole32(4),
		.max_inline_data = htole32(64),
	};
	struct virtio_rdma_modify_qp m = { 0 };
	int i;

	rdma_req_gid_v4(n->ip, g.gid);
	ck_assert_int_eq(ctrl(n, VIRTIO_RDMA_CMD_ADD_GID, &g, sizeof(g), NULL, 0), 0);
	n->pd = ctrl32(n, VIRTIO_RDMA_CMD_CREATE_PD, NULL, 0);
	n->cq_n = ctrl32(n, VIRTIO_RDMA_CMD_CREATE_CQ, &cq, sizeof(cq));
	ck_assert_uint_eq(n->cq_n, 0);
	dma = (struct virtio_rdma_get_dma_mr){ htole32(n->pd),
					       htole32(VIRTIO_RDMA_ACCESS_LOCAL_WRITE) };
	n->dma_key = ctrl32(n, VIRTIO_RDMA_CMD_GET_DMA_MR, &dma, sizeof(dma));
	memset(&u, 0, sizeof(u));
	u.h.pdn = htole32(n->pd);
	u.h.access = htole32(VIRTIO_RDMA_ACCESS_LOCAL_WRITE | VIRTIO_RDMA_ACCESS_REMOTE_WRITE |
			     VIRTIO_RDMA_ACCESS_REMOTE_READ | VIRTIO_RDMA_ACCESS_REMOTE_ATOMIC);
	u.h.virt_addr = htole64(MR_VA);
	u.h.length = htole64(16 << 12);
	u.h.npages = htole32(16);
	u.h.page_shift = 12;
	for (i = 0; i < 16; i++)
		u.pages[i] = htole64(MR_AREA + ((uint64_t)i << 12));
	n->mr_key = ctrl32(n, VIRTIO_RDMA_CMD_REG_USER_MR, &u, sizeof(u));
	qp.pdn = htole32(n->pd);
	qp.send_cqn = qp.recv_cqn = htole32(n->cq_n);
	n->qpn = ctrl32(n, VIRTIO_RDMA_CMD_CREATE_QP, &qp, sizeof(qp));
	ck_assert_uint_eq(n->qpn, QPN);
	m.qpn = htole32(n->qpn);
	m.attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_PKEY_INDEX | RDMA_QP_PORT |
				   RDMA_QP_ACCESS_FLAGS);
	m.attr.qp_state = VIRTIO_RDMA_QPS_INIT;
	m.attr.port_num = 1;
	m.attr.qp_access_flags = htole32(VIRTIO_RDMA_ACCESS_REMOTE_WRITE |
					 VIRTIO_RDMA_ACCESS_REMOTE_READ |
					 VIRTIO_RDMA_ACCESS_REMOTE_ATOMIC);
	ck_assert_int_eq(ctrl(n, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0), 0);
	post_cq_bufs(n, 32);
}

/* INIT -> RTR -> RTS towards @n's peer, as the rdma_cm does it. */
static void node_connect(struct node *n, uint32_t sq_psn, uint32_t rq_psn)
{
	struct virtio_rdma_modify_qp m = { .qpn = htole32(n->qpn) };

	rdma_req_rtr(&m, n->peer->qpn, VIRTIO_RDMA_MTU_1024, rq_psn, n->peer->ip, n->peer->mac);
	m.attr.max_dest_rd_atomic = 8;
	m.attr.min_rnr_timer = 1;
	ck_assert_int_eq(ctrl(n, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0), 0);
	rdma_req_rts(&m, sq_psn);
	m.attr.max_rd_atomic = 8;
	ck_assert_int_eq(ctrl(n, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0), 0);
}

static void setup(void)
{
	drop_every = frames_sent = cut_to_a = 0;
	cut_armed = a_cut = false;
	wire_down_to = NULL;
	wire_rand = 1;
	node_up(&A, 1);
	node_up(&B, 2);
	A.peer = &B;
	B.peer = &A;
	node_objects(&A);
	node_objects(&B);
	node_connect(&A, 0x100, 0xfffff0);
	node_connect(&B, 0xfffff0, 0x100);	/* B's PSNs wrap at 2^24 */
}

static void teardown(void)
{
	node_down(&A);
	node_down(&B);
}

/* A send WR in the node's next WR slot (512 bytes), at *@at: signaled, the rest 0. */
static struct virtio_rdma_send_wr *wr_new(struct node *n, uint8_t opcode, uint64_t wr_id,
					  uint64_t *at)
{
	struct virtio_rdma_send_wr *wr;

	*at = WR_BUF + (uint64_t)(n->wr_slot++ % 64) * 512;
	wr = (void *)(n->ram + *at);
	memset(wr, 0, 512);
	wr->wr_id = htole64(wr_id);
	wr->opcode = opcode;
	wr->send_flags = VIRTIO_RDMA_SEND_SIGNALED;
	return wr;
}

/* The @len-byte send WR at @at on the node's send vq. */
static void wr_post(struct node *n, uint64_t at, uint32_t len, uint64_t wr_id)
{
	struct vdrv_buf b = { at, len };

	ck_assert_int_ge(vdrv_add(&n->sq, &b, 1, 0, false, wr_id), 0);
	kick(n, &n->sq, SQ_VQ);
}

/* Posted, and taken: the device gave the buffer back, having copied the WR out. */
static void wr_post_taken(struct node *n, uint64_t at, uint32_t len, uint64_t wr_id)
{
	uint64_t cookie;

	wr_post(n, at, len, wr_id);
	do
		wait_used(&n->sq, &cookie);
	while (cookie != wr_id);
}

#define SGE_WR_LEN	(sizeof(struct virtio_rdma_send_wr) + sizeof(struct virtio_rdma_sge))

/* A send WR of @len bytes at @addr, one SGE over MR @key, SGE_WR_LEN bytes at *@at. */
static struct virtio_rdma_send_wr *sge_wr(struct node *n, uint8_t opcode, uint64_t wr_id,
					  uint64_t addr, uint32_t len, uint32_t key, uint64_t *at)
{
	struct virtio_rdma_send_wr *wr = wr_new(n, opcode, wr_id, at);
	struct virtio_rdma_sge *sge = (void *)(wr + 1);

	wr->num_sge = htole16(1);
	*sge = (struct virtio_rdma_sge){ htole64(addr), htole32(len), htole32(key) };
	return wr;
}

/* A send WR with one SGE over the DMA MR. */
static void post_send(struct node *n, uint8_t opcode, uint64_t wr_id, uint64_t gpa, uint32_t len,
		      uint64_t remote, uint32_t rkey, uint32_t imm, uint64_t cmp_add, uint64_t swap)
{
	uint64_t at;
	struct virtio_rdma_send_wr *wr = sge_wr(n, opcode, wr_id, gpa, len, n->dma_key, &at);

	wr->imm_or_inv = htobe32(imm);
	if (opcode == VIRTIO_RDMA_WR_ATOMIC_CMP_SWP || opcode == VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD) {
		wr->atomic.remote_addr = htole64(remote);
		wr->atomic.rkey = htole32(rkey);
		wr->atomic.compare_add = htole64(cmp_add);
		wr->atomic.swap = htole64(swap);
	} else {
		wr->rdma.remote_addr = htole64(remote);
		wr->rdma.rkey = htole32(rkey);
	}
	wr_post(n, at, SGE_WR_LEN, wr_id);
	/* The device gives the WR's buffer back at once (it copied it out). */
	while (vdrv_get_used(&n->sq, NULL, NULL) > 0)
		;
}

/* A receive WR of one SGE over the DMA MR on @d (vq @q), its descriptor at @at. */
static void post_recv_on(struct node *n, struct vdrv *d, uint16_t q, uint64_t at, uint64_t wr_id,
			 uint64_t gpa, uint32_t len)
{
	struct virtio_rdma_recv_wr *wr = (void *)(n->ram + at);
	struct virtio_rdma_sge *sge = (void *)(wr + 1);
	struct vdrv_buf b = { at, sizeof(*wr) + sizeof(*sge) };

	memset(wr, 0, 64);
	wr->wr_id = htole64(wr_id);
	wr->num_sge = htole32(1);
	*sge = (struct virtio_rdma_sge){ htole64(gpa), htole32(len), htole32(n->dma_key) };
	ck_assert_int_ge(vdrv_add(d, &b, 1, 0, false, wr_id), 0);
	kick(n, d, q);
	/* The device gives the WR's buffer back at once (it copied it out). */
	while (vdrv_get_used(d, NULL, NULL) > 0)
		;
}

static void post_recv(struct node *n, uint64_t wr_id, uint64_t gpa, uint32_t len)
{
	post_recv_on(n, &n->rq, RQ_VQ, WR_BUF + 0x8000 + (uint64_t)(n->wr_slot++ % 64) * 64,
		     wr_id, gpa, len);
}

static void fill(struct node *n, uint64_t gpa, uint32_t len, uint8_t seed)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		n->ram[gpa + i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

static void expect_cqe(const struct virtio_rdma_cqe *e, uint64_t wr_id, uint8_t status,
		       uint8_t opcode, uint32_t len)
{
	ck_assert_msg(e->status == status, "wr %llu: status %u, want %u",
		      (unsigned long long)le64toh(e->wr_id), e->status, status);
	ck_assert_uint_eq(le64toh(e->wr_id), wr_id);
	ck_assert_uint_eq(e->opcode, opcode);
	if (status == VIRTIO_RDMA_WC_SUCCESS)
		ck_assert_uint_eq(le32toh(e->byte_len), len);
}

/* SEND of 3000 bytes (three 1024-byte packets), SEND_WITH_IMM, a small inline-size one. */
START_TEST(send_and_receive)
{
	struct virtio_rdma_cqe e;

	post_recv(&B, 11, DATA, 4096);
	post_recv(&B, 12, DATA + 4096, 4096);
	fill(&A, DATA, 3000, 1);
	fill(&A, DATA + 4096, 100, 2);
	post_send(&A, VIRTIO_RDMA_WR_SEND, 1, DATA, 3000, 0, 0, 0, 0, 0);
	post_send(&A, VIRTIO_RDMA_WR_SEND_IMM, 2, DATA + 4096, 100, 0, 0, 0xcafe0001, 0, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 1, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, 3000);
	e = next_cqe(&A);
	expect_cqe(&e, 2, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, 100);
	e = next_cqe(&B);
	expect_cqe(&e, 11, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, 3000);
	ck_assert_uint_eq(le32toh(e.qp_num), QPN);
	ck_assert(!(e.wc_flags & VIRTIO_RDMA_WC_WITH_IMM));
	ck_assert_mem_eq(B.ram + DATA, A.ram + DATA, 3000);
	e = next_cqe(&B);
	expect_cqe(&e, 12, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, 100);
	ck_assert(e.wc_flags & VIRTIO_RDMA_WC_WITH_IMM);
	ck_assert_uint_eq(be32toh(e.imm_or_inv), 0xcafe0001);
	ck_assert_mem_eq(B.ram + DATA + 4096, A.ram + DATA + 4096, 100);
}
END_TEST

/* WRITE and WRITE_WITH_IMM into B's MR by virtual address, READ back, atomics. */
START_TEST(write_read_atomics)
{
	struct virtio_rdma_cqe e;
	uint64_t v;

	fill(&A, DATA, 10000, 3);
	post_send(&A, VIRTIO_RDMA_WR_RDMA_WRITE, 1, DATA, 10000, MR_VA + 100, B.mr_key, 0, 0, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 1, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RDMA_WRITE, 10000);
	ck_assert_mem_eq(B.ram + MR_AREA + 100, A.ram + DATA, 10000);

	post_recv(&B, 21, DATA, 64);
	post_send(&A, VIRTIO_RDMA_WR_RDMA_WRITE_IMM, 2, DATA, 500, MR_VA + 20000, B.mr_key,
		  0x12345678, 0, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 2, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RDMA_WRITE, 500);
	e = next_cqe(&B);
	expect_cqe(&e, 21, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV_RDMA_IMM, 500);
	ck_assert_uint_eq(be32toh(e.imm_or_inv), 0x12345678);
	ck_assert_mem_eq(B.ram + MR_AREA + 20000, A.ram + DATA, 500);

	/* READ 6000 bytes of B's MR into A's memory. */
	fill(&B, MR_AREA + 30000, 6000, 9);
	post_send(&A, VIRTIO_RDMA_WR_RDMA_READ, 3, DATA + 0x20000, 6000, MR_VA + 30000, B.mr_key,
		  0, 0, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 3, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RDMA_READ, 6000);
	ck_assert_mem_eq(A.ram + DATA + 0x20000, B.ram + MR_AREA + 30000, 6000);

	/* FETCH_ADD then CMP_SWAP on B's word at offset 40960. */
	v = htole64(1000);
	memcpy(B.ram + MR_AREA + 40960, &v, 8);
	post_send(&A, VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD, 4, DATA + 0x30000, 8, MR_VA + 40960,
		  B.mr_key, 0, 5, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 4, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_FETCH_ADD, 8);
	memcpy(&v, A.ram + DATA + 0x30000, 8);
	ck_assert_uint_eq(le64toh(v), 1000);
	post_send(&A, VIRTIO_RDMA_WR_ATOMIC_CMP_SWP, 5, DATA + 0x30008, 8, MR_VA + 40960,
		  B.mr_key, 0, 1005, 77);
	e = next_cqe(&A);
	expect_cqe(&e, 5, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_COMP_SWAP, 8);
	memcpy(&v, A.ram + DATA + 0x30008, 8);
	ck_assert_uint_eq(le64toh(v), 1005);
	memcpy(&v, B.ram + MR_AREA + 40960, 8);
	ck_assert_uint_eq(le64toh(v), 77);
}
END_TEST

/*
 * A WRITE under a wrong rkey: the responder NAKs, the requester completes
 * with a remote access error and its QP goes to ERR; B's memory is as it
 * was; a WR posted after that is flushed.
 */
START_TEST(bad_rkey_is_an_error_completion)
{
	struct virtio_rdma_cqe e;
	uint8_t before[256];

	memcpy(before, B.ram + MR_AREA, sizeof(before));
	fill(&A, DATA, 256, 5);
	post_send(&A, VIRTIO_RDMA_WR_RDMA_WRITE, 1, DATA, 256, MR_VA, B.mr_key ^ 0x100, 0, 0, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 1, VIRTIO_RDMA_WC_REM_ACCESS_ERR, VIRTIO_RDMA_WC_RDMA_WRITE, 0);
	ck_assert_mem_eq(B.ram + MR_AREA, before, sizeof(before));
	/* Outside the MR, with the right key: refused as well. */
	post_send(&A, VIRTIO_RDMA_WR_SEND, 2, DATA, 16, 0, 0, 0, 0, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 2, VIRTIO_RDMA_WC_WR_FLUSH_ERR, VIRTIO_RDMA_WC_SEND, 0);
}
END_TEST

static bool page_dirty(struct node *n, uint64_t gpa)
{
	uint64_t pfn = gpa / GM_PAGE_SIZE, bpl = 8 * sizeof(unsigned long);

	return __atomic_load_n(&n->gm.dirty[pfn / bpl], __ATOMIC_ACQUIRE) & (1UL << (pfn % bpl));
}

/*
 * Every page an RDMA WRITE reaches is marked dirty for migration, and no
 * other, before the responder acknowledges it.
 */
START_TEST(writes_are_marked_dirty)
{
	struct virtio_rdma_cqe e;
	uint64_t pg;

	memset(B.gm.dirty, 0, (B.gm.dirty_bits + 63) / 64 * sizeof(unsigned long));
	fill(&A, DATA, 10000, 4);
	post_send(&A, VIRTIO_RDMA_WR_RDMA_WRITE, 1, DATA, 10000, MR_VA + 100, B.mr_key, 0, 0, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 1, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RDMA_WRITE, 10000);
	for (pg = MR_AREA; pg < MR_AREA + 100 + 10000; pg += GM_PAGE_SIZE)
		ck_assert_msg(page_dirty(&B, pg), "page 0x%lx written, not marked", (unsigned long)pg);
	ck_assert(!page_dirty(&B, MR_AREA + 3 * GM_PAGE_SIZE));
	ck_assert_mem_eq(B.ram + MR_AREA + 100, A.ram + DATA, 10000);
}
END_TEST

static void set_wire_down_to(struct node *n)
{
	pthread_mutex_lock(&wire_lock);
	wire_down_to = n;
	pthread_mutex_unlock(&wire_lock);
}

/* Until the wire has carried (and here lost) a frame since @sent frames. */
static void wait_frames_past(unsigned int sent)
{
	double end = now_s() + 30;

	while (__atomic_load_n(&frames_sent, __ATOMIC_RELAXED) == sent) {
		ck_assert_msg(now_s() < end, "nothing sent in 30 s");
		usleep(100);
	}
}

/*
 * A WRITE's data is read from guest memory as each packet goes out, again
 * when it goes out again, as a NIC's DMA reads it: what the buffer holds
 * then is what arrives (there is no copy taken at the post), and a buffer
 * whose MR is gone by then ends the WRITE with a local protection error.
 */
START_TEST(send_data_is_read_when_sent)
{
	struct virtio_rdma_handle h = { htole32(A.mr_key) };
	struct virtio_rdma_send_wr *wr;
	struct virtio_rdma_cqe e;
	uint8_t before[4096];
	unsigned int sent;
	uint64_t at;

	/* Lost on the way, then changed, then sent again by the timer. */
	fill(&A, DATA, 3000, 11);
	set_wire_down_to(&B);
	sent = __atomic_load_n(&frames_sent, __ATOMIC_RELAXED);
	post_send(&A, VIRTIO_RDMA_WR_RDMA_WRITE, 1, DATA, 3000, MR_VA, B.mr_key, 0, 0, 0);
	wait_frames_past(sent);
	fill(&A, DATA, 3000, 12);
	set_wire_down_to(NULL);
	e = next_cqe(&A);
	expect_cqe(&e, 1, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RDMA_WRITE, 3000);
	ck_assert_mem_eq(B.ram + MR_AREA, A.ram + DATA, 3000);

	/* From A's user MR, deregistered while its packets were lost. */
	memcpy(before, B.ram + MR_AREA + 8192, sizeof(before));
	fill(&A, MR_AREA, 4096, 13);
	set_wire_down_to(&B);
	sent = __atomic_load_n(&frames_sent, __ATOMIC_RELAXED);
	wr = sge_wr(&A, VIRTIO_RDMA_WR_RDMA_WRITE, 2, MR_VA, 4096, A.mr_key, &at);
	wr->rdma.remote_addr = htole64(MR_VA + 8192);
	wr->rdma.rkey = htole32(B.mr_key);
	wr_post_taken(&A, at, SGE_WR_LEN, 2);
	wait_frames_past(sent);
	ck_assert_int_eq(ctrl(&A, VIRTIO_RDMA_CMD_DEREG_MR, &h, sizeof(h), NULL, 0), 0);
	set_wire_down_to(NULL);
	e = next_cqe(&A);
	expect_cqe(&e, 2, VIRTIO_RDMA_WC_LOC_PROT_ERR, VIRTIO_RDMA_WC_RDMA_WRITE, 0);
	ck_assert_mem_eq(B.ram + MR_AREA + 8192, before, sizeof(before));
}
END_TEST

static struct virtio_dev *make_fresh(void *ctx);

/*
 * @n moves: suspended, saved, a fresh device loaded from the tree, which
 * then saves the same bytes, and resumed; the frames sent to it
 * meanwhile are lost, and its wire is whole again after.
 */
static void node_move(struct node *n)
{
	struct virtio_dev *old;

	pthread_mutex_lock(&wire_lock);
	old = n->vdev;
	n->vdev = NULL;
	pthread_mutex_unlock(&wire_lock);
	old = virtio_dev_test_move(old, make_fresh, virtio_rdma_free, n);
	pthread_mutex_lock(&wire_lock);
	n->vdev = old;
	a_cut = false;
	pthread_mutex_unlock(&wire_lock);
}

/*
 * 40 messages from A to B, SENDs and WRITEs alternating, all posted, over
 * a wire that drops every @drop-th frame; after the @move_at-th post, B
 * moves (suspended, saved, a fresh device loaded from the tree, which
 * then saves the same bytes, and resumed; its frames lost meanwhile).
 * Every message arrives once, in order, intact, with B's QP number and
 * rkey what they were; no completion is lost or doubled.
 */
static void stream_40(unsigned int drop, int move_at)
{
	struct virtio_rdma_cqe e;
	int i, sends = 0;

	drop_every = drop;
	for (i = 0; i < 20; i++)
		post_recv(&B, 100 + i, DATA + 0x80000 + (uint64_t)i * 4096, 4096);
	for (i = 0; i < 40; i++) {
		fill(&A, DATA + (uint64_t)i * 4096, 3000, (uint8_t)(i + 7));
		if (i & 1) {
			post_send(&A, VIRTIO_RDMA_WR_SEND, i, DATA + (uint64_t)i * 4096, 3000, 0, 0,
				  0, 0, 0);
			sends++;
		} else {
			post_send(&A, VIRTIO_RDMA_WR_RDMA_WRITE, i, DATA + (uint64_t)i * 4096, 3000,
				  MR_VA + (uint64_t)(i / 2) * 3000, B.mr_key, 0, 0, 0);
		}
		if (i == move_at)
			node_move(&B);
	}
	for (i = 0; i < 40; i++) {
		e = next_cqe(&A);
		expect_cqe(&e, i, VIRTIO_RDMA_WC_SUCCESS,
			   i & 1 ? VIRTIO_RDMA_WC_SEND : VIRTIO_RDMA_WC_RDMA_WRITE, 3000);
	}
	for (i = 0; i < sends; i++) {
		e = next_cqe(&B);
		expect_cqe(&e, 100 + i, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, 3000);
		ck_assert_uint_eq(le32toh(e.qp_num), QPN);
		ck_assert_mem_eq(B.ram + DATA + 0x80000 + (uint64_t)i * 4096,
				 A.ram + DATA + (uint64_t)(2 * i + 1) * 4096, 3000);
	}
	for (i = 0; i < 40; i += 2)
		ck_assert_mem_eq(B.ram + MR_AREA + (uint64_t)(i / 2) * 3000,
				 A.ram + DATA + (uint64_t)i * 4096, 3000);
	/* Nothing more: no completion came twice. */
	usleep(50000);
	ck_assert_int_eq(vdrv_get_used(&B.cq, NULL, NULL), 0);
	ck_assert_int_eq(vdrv_get_used(&A.cq, NULL, NULL), 0);
}

/*
 * A moves with a 60 KiB READ half done: 20 of its 60 responses arrived
 * (in the buffer that does not travel: the data goes into A's target
 * memory when A stops, and comes back from there), then A's wire is cut
 * and A moves; the READ asks again from its first missing response and
 * completes with every byte right.
 */
START_TEST(move_with_a_read_half_done)
{
	struct virtio_rdma_cqe e;
	int i;

	fill(&B, MR_AREA, 60 << 10, 0x33);
	pthread_mutex_lock(&wire_lock);
	cut_to_a = 20;
	cut_armed = true;
	pthread_mutex_unlock(&wire_lock);
	post_send(&A, VIRTIO_RDMA_WR_RDMA_READ, 7, DATA, 60 << 10, MR_VA, B.mr_key, 0, 0, 0);
	for (i = 0; i < 3000 && !__atomic_load_n(&a_cut, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	ck_assert_msg(a_cut, "A's wire was never cut");
	usleep(20000);
	node_move(&A);
	e = next_cqe(&A);
	expect_cqe(&e, 7, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RDMA_READ, 60 << 10);
	ck_assert_mem_eq(A.ram + DATA, B.ram + MR_AREA, 60 << 10);
}
END_TEST

/* B moves in the middle of the stream, over a wire dropping one frame in ten. */
START_TEST(move_mid_stream)
{
	stream_40(10, 20);
}
END_TEST

/*
 * One frame in ten lost at random, both ways: 40 WRITEs and SENDs, posted
 * at once, still arrive, each once. (Seven retries in a row must all lose
 * the same packet or its ACK for a message to fail: about 0.2^8.)
 */
START_TEST(lossy_wire)
{
	stream_40(10, -1);
	ck_assert_uint_ge(frames_sent, 8);
}
END_TEST

/* The GSI QP (QP 1) through RTS, and an AH on @n towards its peer: its number. */
static uint32_t gsi_up(struct node *n)
{
	struct virtio_rdma_create_qp qp = {
		.pdn = htole32(n->pd), .qp_type = VIRTIO_RDMA_QPT_GSI, .send_cqn = 0,
		.recv_cqn = 0, .max_send_wr = htole32(16), .max_recv_wr = htole32(16),
		.max_send_sge = htole32(1), .max_recv_sge = htole32(1),
	};
	struct virtio_rdma_modify_qp m = { .qpn = htole32(RDMA_GSI_QPN) };
	struct virtio_rdma_create_ah ah = { .pdn = htole32(n->pd) };

	ck_assert_uint_eq(ctrl32(n, VIRTIO_RDMA_CMD_CREATE_QP, &qp, sizeof(qp)), RDMA_GSI_QPN);
	m.attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_PKEY_INDEX | RDMA_QP_QKEY);
	m.attr.qp_state = VIRTIO_RDMA_QPS_INIT;
	m.attr.qkey = htole32(0x80010000);
	ck_assert_int_eq(ctrl(n, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0), 0);
	m.attr.attr_mask = htole32(RDMA_QP_STATE);
	m.attr.qp_state = VIRTIO_RDMA_QPS_RTR;
	ck_assert_int_eq(ctrl(n, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0), 0);
	m.attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_SQ_PSN);
	m.attr.qp_state = VIRTIO_RDMA_QPS_RTS;
	m.attr.sq_psn = htole32(77);
	ck_assert_int_eq(ctrl(n, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0), 0);
	rdma_req_gid_v4(n->peer->ip, ah.av.dgid);
	memcpy(ah.av.dmac, n->peer->mac, 6);
	return ctrl32(n, VIRTIO_RDMA_CMD_CREATE_AH, &ah, sizeof(ah));
}

static void gsi_send(struct node *n, uint64_t wr_id, uint32_t ahn, uint32_t qkey, uint64_t gpa,
		     uint32_t len, uint8_t flags)
{
	uint64_t at = WR_BUF + 0xc000 + (uint64_t)(n->wr_slot++ % 16) * 256;
	struct virtio_rdma_send_wr *wr = (void *)(n->ram + at);
	struct virtio_rdma_sge *sge = (void *)(wr + 1);
	struct vdrv_buf b = { at, sizeof(*wr) + sizeof(*sge) };

	memset(wr, 0, 256);
	wr->wr_id = htole64(wr_id);
	wr->opcode = VIRTIO_RDMA_WR_SEND_IMM;
	wr->send_flags = VIRTIO_RDMA_SEND_SIGNALED | flags;
	wr->num_sge = htole16(1);
	wr->imm_or_inv = htobe32(0xabcd);
	wr->ud.ahn = htole32(ahn);
	wr->ud.remote_qpn = htole32(RDMA_GSI_QPN);
	wr->ud.remote_qkey = htole32(qkey);
	*sge = (struct virtio_rdma_sge){ htole64(gpa), htole32(len), htole32(n->dma_key) };
	ck_assert_int_ge(vdrv_add(&n->gsq, &b, 1, 0, false, wr_id), 0);
	kick(n, &n->gsq, GSQ_VQ);
}

static void gsi_recv(struct node *n, uint64_t wr_id, uint64_t gpa, uint32_t len)
{
	post_recv_on(n, &n->grq, GRQ_VQ, WR_BUF + 0xe000 + (uint64_t)(wr_id % 16) * 64, wr_id, gpa,
		     len);
}

/*
 * Datagrams on the GSI QP, as the rdma_cm's CM messages travel: the
 * receiver gets the GRH (the IPv4 header at offset 20) and the data after
 * it, the sender's QP and MAC and the immediate; a datagram under the
 * wrong Q_Key is dropped; one larger than the MTU is refused locally.
 */
START_TEST(gsi_datagrams)
{
	uint32_t ahn = gsi_up(&A);
	struct virtio_rdma_cqe e;
	uint32_t src_ip;

	gsi_up(&B);
	gsi_recv(&B, 31, DATA, 512);
	gsi_recv(&B, 32, DATA + 512, 512);
	fill(&A, DATA, 256, 4);
	gsi_send(&A, 1, ahn, 0x80010000, DATA, 256, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 1, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, 256);
	e = next_cqe(&B);
	expect_cqe(&e, 31, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, 40 + 256);
	ck_assert_uint_eq(le32toh(e.src_qp), RDMA_GSI_QPN);
	ck_assert_uint_eq(le32toh(e.qp_num), RDMA_GSI_QPN);
	ck_assert_mem_eq(e.smac, A.mac, 6);
	ck_assert_uint_eq(e.network_hdr_type, VIRTIO_RDMA_NETWORK_IPV4);
	ck_assert(e.wc_flags & VIRTIO_RDMA_WC_GRH);
	ck_assert(e.wc_flags & VIRTIO_RDMA_WC_WITH_IMM);
	ck_assert_uint_eq(be32toh(e.imm_or_inv), 0xabcd);
	ck_assert_uint_eq(B.ram[DATA + 20] >> 4, 4);		/* IPv4 at offset 20 */
	memcpy(&src_ip, B.ram + DATA + 20 + 12, 4);
	ck_assert_uint_eq(src_ip, A.ip);
	ck_assert_mem_eq(B.ram + DATA + 40, A.ram + DATA, 256);
	/* The wrong Q_Key: sent, and dropped at B; the next right one lands in WR 32. */
	gsi_send(&A, 2, ahn, 0x1234, DATA, 100, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 2, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, 100);
	gsi_send(&A, 3, ahn, 0x80010000, DATA, 100, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 3, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, 100);
	e = next_cqe(&B);
	expect_cqe(&e, 32, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, 40 + 100);
	/* Larger than the MTU: a local length error. */
	gsi_send(&A, 4, ahn, 0x80010000, DATA, 5000, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 4, VIRTIO_RDMA_WC_LOC_LEN_ERR, VIRTIO_RDMA_WC_SEND, 0);
}
END_TEST

/* @n's CQ armed for the next completion (NEXT) or the next solicited one (SOLICITED). */
static void arm(struct node *n, uint32_t flags)
{
	struct virtio_rdma_req_notify_cq r = { htole32(n->cq_n), htole32(flags) };

	ck_assert_int_eq(ctrl(n, VIRTIO_RDMA_CMD_REQ_NOTIFY_CQ, &r, sizeof(r), NULL, 0), 0);
}

/*
 * The interrupts of @n's CQ so far. A control request first: the worker
 * answers it only after the round that wrote the completions the caller
 * has seen (and raised their interrupt, if any) has ended.
 */
static unsigned int cq_irqs(struct node *n)
{
	ck_assert_int_eq(ctrl(n, VIRTIO_RDMA_CMD_QUERY_DEVICE, NULL, 0, NULL, 0), 0);
	return __atomic_load_n(&n->cq_irqs, __ATOMIC_RELAXED);
}

/* A SEND, or a WRITE_WITH_IMM into the peer's MR, of @len bytes at DATA; SE if @se. */
static void post_se(struct node *n, uint8_t opcode, uint64_t wr_id, uint32_t len, bool se)
{
	uint64_t at;
	struct virtio_rdma_send_wr *wr = sge_wr(n, opcode, wr_id, DATA, len, n->dma_key, &at);

	if (se)
		wr->send_flags |= VIRTIO_RDMA_SEND_SOLICITED;
	wr->imm_or_inv = htobe32(0x5e);
	wr->rdma.remote_addr = htole64(MR_VA);
	wr->rdma.rkey = htole32(n->peer->mr_key);
	wr_post_taken(n, at, SGE_WR_LEN, wr_id);
}

/*
 * B's CQ armed for solicited events: an RC receive without SE raises no
 * interrupt; one whose message had SE (a SEND in three packets, SE on the
 * last) does, once: the arming is used up; an error completion raises it
 * too.
 */
START_TEST(solicited_events_rc)
{
	struct virtio_rdma_cqe e;

	arm(&B, VIRTIO_RDMA_NOTIFY_SOLICITED);
	post_recv(&B, 11, DATA, 4096);
	post_recv(&B, 12, DATA + 4096, 4096);
	post_recv(&B, 13, DATA + 8192, 4096);
	post_se(&A, VIRTIO_RDMA_WR_SEND, 1, 3000, false);
	e = next_cqe(&A);
	expect_cqe(&e, 1, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, 3000);
	e = next_cqe(&B);
	expect_cqe(&e, 11, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, 3000);
	ck_assert_uint_eq(cq_irqs(&B), 0);

	post_se(&A, VIRTIO_RDMA_WR_SEND, 2, 3000, true);
	e = next_cqe(&A);
	expect_cqe(&e, 2, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, 3000);
	e = next_cqe(&B);
	expect_cqe(&e, 12, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, 3000);
	ck_assert_uint_eq(cq_irqs(&B), 1);

	/* Not armed again: a solicited WRITE_WITH_IMM raises nothing. */
	post_se(&A, VIRTIO_RDMA_WR_RDMA_WRITE_IMM, 3, 100, true);
	e = next_cqe(&A);
	expect_cqe(&e, 3, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RDMA_WRITE, 100);
	e = next_cqe(&B);
	expect_cqe(&e, 13, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV_RDMA_IMM, 100);
	ck_assert_uint_eq(cq_irqs(&B), 1);

	/* Armed, and an unsolicited SEND too long for the receive WR: an error completion. */
	arm(&B, VIRTIO_RDMA_NOTIFY_SOLICITED);
	post_recv(&B, 14, DATA, 16);
	post_se(&A, VIRTIO_RDMA_WR_SEND, 4, 100, false);
	e = next_cqe(&B);
	expect_cqe(&e, 14, VIRTIO_RDMA_WC_LOC_LEN_ERR, VIRTIO_RDMA_WC_RECV, 0);
	ck_assert_uint_eq(cq_irqs(&B), 2);
	e = next_cqe(&A);
	ck_assert_uint_ne(e.status, VIRTIO_RDMA_WC_SUCCESS);
}
END_TEST

/*
 * The same on the GSI QP: a datagram without SE raises no interrupt of a
 * CQ armed for solicited events (its completion's GRH and header-type
 * flags say nothing about SE), one with SE does; armed for the next
 * completion, any datagram does.
 */
START_TEST(solicited_events_ud)
{
	uint32_t ahn = gsi_up(&A);
	struct virtio_rdma_cqe e;

	gsi_up(&B);
	arm(&B, VIRTIO_RDMA_NOTIFY_SOLICITED);
	gsi_recv(&B, 31, DATA, 512);
	gsi_recv(&B, 32, DATA + 512, 512);
	gsi_recv(&B, 33, DATA + 1024, 512);
	gsi_send(&A, 1, ahn, 0x80010000, DATA, 64, 0);
	e = next_cqe(&A);
	expect_cqe(&e, 1, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, 64);
	e = next_cqe(&B);
	expect_cqe(&e, 31, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, 40 + 64);
	ck_assert_uint_eq(cq_irqs(&B), 0);
	gsi_send(&A, 2, ahn, 0x80010000, DATA, 64, VIRTIO_RDMA_SEND_SOLICITED);
	e = next_cqe(&A);
	expect_cqe(&e, 2, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, 64);
	e = next_cqe(&B);
	expect_cqe(&e, 32, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, 40 + 64);
	ck_assert_uint_eq(cq_irqs(&B), 1);
	arm(&B, VIRTIO_RDMA_NOTIFY_NEXT);
	gsi_send(&A, 3, ahn, 0x80010000, DATA, 64, 0);
	e = next_cqe(&B);
	expect_cqe(&e, 33, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, 40 + 64);
	ck_assert_uint_eq(cq_irqs(&B), 2);
}
END_TEST

/*
 * B's CQ, armed for solicited events, has 32 buffers: of 33 SENDs, the
 * last, solicited, completes with none left and waits in the device. B
 * moves; when the driver reads the CQ and gives buffers back, that
 * completion arrives and raises the interrupt.
 */
START_TEST(solicited_completion_moves_in_the_backlog)
{
	struct virtio_rdma_cqe e;
	int i;

	arm(&B, VIRTIO_RDMA_NOTIFY_SOLICITED);
	for (i = 0; i < 33; i++)
		post_recv(&B, 100 + i, DATA + (uint64_t)i * 4096, 4096);
	for (i = 0; i < 33; i++) {
		post_se(&A, VIRTIO_RDMA_WR_SEND, i, 64, i == 32);
		e = next_cqe(&A);
		expect_cqe(&e, i, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, 64);
	}
	/* A has its ACK: B's completion of the last is in B's backlog. */
	ck_assert_uint_eq(cq_irqs(&B), 0);
	node_move(&B);
	for (i = 0; i < 33; i++) {
		e = next_cqe(&B);
		expect_cqe(&e, 100 + i, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, 64);
	}
	ck_assert_uint_eq(cq_irqs(&B), 1);
}
END_TEST

/*
 * A moves with an inline SEND outstanding: B has no receive WR, so the
 * SEND waits behind RNR NAKs. Its data travels in A's state (it is not
 * in guest memory: the WR's buffer went back to the driver, which
 * overwrites it), and B gets it right once it posts a receive WR.
 */
START_TEST(move_with_an_inline_send_waiting)
{
	static const char msg[] = "inline: bytes, not SGEs, and gone from the WR buffer";
	struct virtio_rdma_cqe e;
	uint64_t at;
	struct virtio_rdma_send_wr *wr = wr_new(&A, VIRTIO_RDMA_WR_SEND, 9, &at);

	wr->send_flags |= VIRTIO_RDMA_SEND_INLINE;
	wr->inline_len = htole32(sizeof(msg));
	memcpy(wr + 1, msg, sizeof(msg));
	wr_post_taken(&A, at, sizeof(*wr) + sizeof(msg), 9);
	memset(A.ram + at, 0xa5, 512);
	node_move(&A);
	post_recv(&B, 41, DATA, 4096);
	e = next_cqe(&A);
	expect_cqe(&e, 9, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, sizeof(msg));
	e = next_cqe(&B);
	expect_cqe(&e, 41, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_RECV, sizeof(msg));
	ck_assert_mem_eq(B.ram + DATA, msg, sizeof(msg));
}
END_TEST

/* Load @sb into a fresh device for @n: 0, or -1 with the reason in @err. */
static int load_fresh(struct node *n, struct state_buf *sb, char *err, size_t errlen)
{
	struct virtio_dev *fresh = make_fresh(n);
	int r = virtio_dev_load(fresh, sb->fdt, state_test_node(sb, "/dev"), err, errlen);

	virtio_rdma_free(fresh);
	return r;
}

/*
 * A's state as a vlab before solicited flags and inline data saved it
 * (CQ and send WR nodes version 1, the RC node version 2, without
 * "backlog-solicited" and "sq-solicited") loads; a CQ node from a newer
 * vlab is refused, with the node and its version named.
 */
START_TEST(older_state_loads_newer_refused)
{
	struct virtio_rdma_cqe e;
	struct state_buf sb;
	char err[256] = "";

	/* B has no receive WR: the SEND stays outstanding, a send WR node. */
	post_se(&A, VIRTIO_RDMA_WR_SEND, 1, 64, true);
	virtio_dev_suspend(A.vdev);
	state_test_save(&sb, virtio_dev_test_save, A.vdev);
	ck_assert_int_eq(fdt_delprop(sb.fdt, state_test_node(&sb, "/dev/device/rdma/cq@0"),
				     "backlog-solicited"), 0);
	ck_assert_int_eq(fdt_delprop(sb.fdt, state_test_node(&sb, "/dev/device/rdma/qp@2/rc"),
				     "sq-solicited"), 0);
	state_test_patch(&sb, "/dev/device/rdma/cq@0", "version", 1);
	state_test_patch(&sb, "/dev/device/rdma/qp@2/swqe@0", "version", 1);
	state_test_patch(&sb, "/dev/device/rdma/qp@2/rc", "version", 2);
	ck_assert_msg(!load_fresh(&A, &sb, err, sizeof(err)), "%s", err);
	state_test_patch(&sb, "/dev/device/rdma/cq@0", "version", 3);
	ck_assert_int_eq(load_fresh(&A, &sb, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cq@0: version 3 is newer than this vlab understands (2)"),
		      "%s", err);
	state_buf_free(&sb);
	/* A goes on: the SEND arrives once B has somewhere to put it. */
	virtio_dev_resume(A.vdev);
	post_recv(&B, 21, DATA, 4096);
	e = next_cqe(&A);
	expect_cqe(&e, 1, VIRTIO_RDMA_WC_SUCCESS, VIRTIO_RDMA_WC_SEND, 64);
}
END_TEST

static struct virtio_dev *make_fresh(void *ctx)
{
	struct node *n = ctx;
	struct virtio_rdma_conf conf = { .cqs = CQS, .qps = QPS };
	struct rdma_port port = { wire_send, n, { 0 } };
	struct virtio_dev *v;
	char err[256];

	memcpy(port.mac, n->mac, 6);
	v = virtio_rdma_new(&n->gm, &conf, &port, err, sizeof(err));
	ck_assert_msg(v, "%s", err);
	count_irqs(n, v);
	return v;
}


static void refused(const char *arg, const char *msg)
{
	struct virtio_rdma_conf c;
	char err[256] = "";

	ck_assert_int_eq(virtio_rdma_parse(arg, &c, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, msg), "'%s': \"%s\" lacks \"%s\"", arg, err, msg);
}

START_TEST(option_grammar)
{
	struct virtio_rdma_conf c;
	char err[256];

	ck_assert_int_eq(virtio_rdma_parse("net=2,cqs=16,qps=2", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.net, 2);
	ck_assert_uint_eq(c.cqs, 16);
	ck_assert_uint_eq(c.qps, 2);
	ck_assert_int_eq(virtio_rdma_parse("net=0", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.cqs, 8);
	ck_assert_uint_eq(c.qps, 8);
	refused("cqs=2", "--rdma: needs net=N");
	refused("net=4", "--rdma: net '4' is not a NIC index 0..3");
	refused("net=-1", "--rdma: net '-1' is not a NIC index");
	refused("net=0,cqs=0", "--rdma: cqs '0' is not 1..16");
	refused("net=0,qps=17", "--rdma: qps '17' is not 2..16");
	refused("net=0,mtu=9000", "--rdma: unknown option 'mtu=9000'");
}
END_TEST

/*
 * The --rdma glue: a device on a virtio-net NIC's port, a second one
 * refused while the first holds it, and the port free again once the
 * first leaves; a device that is not an emulated NIC (as a vhost-user
 * --net is, whose frames its backend moves) refused with a message, not
 * taken for one.
 */
START_TEST(on_a_nic_port)
{
	struct virtio_rdma_conf conf = { .net = 0, .cqs = 1, .qps = 2 };
	struct virtio_dev *nic, *r1, *r2, *not_nic;
	struct guest_mem gm;
	struct net_config nc;
	uint8_t *ram = aligned_alloc(4096, MEM);
	char err[256];

	ck_assert_ptr_nonnull(ram);
	ck_assert_int_eq(guest_mem_init_buffer(&gm, ram, MEM), 0);
	ck_assert_int_eq(cli_parse_net("null,mac=52:54:00:00:42:09", &nc, err, sizeof(err)), 0);
	nic = virtio_net_new(&gm, &nc, 0, false, err, sizeof(err));
	ck_assert_msg(nic, "%s", err);
	r1 = virtio_rdma_new_on_nic(&gm, &conf, nic, err, sizeof(err));
	ck_assert_msg(r1, "%s", err);
	ck_assert_ptr_null(virtio_rdma_new_on_nic(&gm, &conf, nic, err, sizeof(err)));
	ck_assert_str_eq(err, "--rdma net=0: that NIC has an RDMA device already");
	virtio_rdma_leave_nic(r1, nic);
	r2 = virtio_rdma_new_on_nic(&gm, &conf, nic, err, sizeof(err));
	ck_assert_msg(r2, "%s", err);
	not_nic = r1;
	ck_assert_ptr_null(virtio_rdma_new_on_nic(&gm, &conf, not_nic, err, sizeof(err)));
	ck_assert_msg(strstr(err, "--rdma net=0: that NIC's frames are a vhost-user backend's"),
		      "%s", err);
	virtio_rdma_free(r1);
	virtio_rdma_leave_nic(r2, nic);
	virtio_rdma_free(r2);
	virtio_net_free(nic);
	guest_mem_exit(&gm);
	free(ram);
}
END_TEST

static Suite *rdma_suite(void)
{
	Suite *s = suite_create("virtio_rdma");

	vlab_tcase(s, "rc", setup, teardown, 60, VLAB_TESTS(send_and_receive,
		   write_read_atomics, bad_rkey_is_an_error_completion,
		   send_data_is_read_when_sent, writes_are_marked_dirty, lossy_wire,
		   gsi_datagrams, move_mid_stream, move_with_a_read_half_done,
		   solicited_events_rc, solicited_events_ud,
		   solicited_completion_moves_in_the_backlog, move_with_an_inline_send_waiting,
		   older_state_loads_newer_refused));
	vlab_tcase(s, "option", NULL, NULL, 0, VLAB_TESTS(option_grammar, on_a_nic_port));
	return s;
}

VLAB_TEST_MAIN(rdma_suite)
