// SPDX-License-Identifier: GPL-2.0
/*
 * rdma_rc: RC traffic between two guests, each on its own vlab with a
 * virtio-rdma device on a NIC of a shared hub (`--net hub=DIR,mac=M
 * --rdma net=0`), driven at CPL3 by polling: control requests on vq 0,
 * completions in buffers on CQ 0's vq, work requests on QP 2's send and
 * receive vqs (virtio/virtio_rdma.h). The NIC itself is brought up (its
 * port carries the RoCEv2 frames) and left alone.
 *
 * Both sides make a PD, a CQ, a DMA MR for their own buffers, a user MR
 * over 132 KiB others may write, read and update, and an RC QP taken to
 * RTS towards the peer's QP 2. Then:
 *   client: SEND hello {its MR's address and rkey}; the server answers
 *   with its own; client WRITEs 64 KiB into the server's MR and says so
 *   with a zero-length WRITE_WITH_IMM; the server checks it, WRITEs 64 KiB
 *   back and SENDs "done"; the client checks that, READs 64 KiB the server
 *   filled, FETCH_ADDs the server's counter 100 times (each original value
 *   seen once, in order), READs the counter (100) and SENDs "bye".
 * Every byte is checked against a pattern; "rdma_rc: ok" at the end.
 *
 * cmdline: role=server|client ip=A.B.C.D peer_ip=A.B.C.D peer_mac=M
 */
#include "virtio_pmd.h"
#include "virtio/virtio_rdma.h"

PAYLOAD_NAME("rdma_rc");

#define QS		64
#define CQ_BUFS		64
#define MR_BYTES	(132u << 10)
#define CHUNK		(64u << 10)
#define COUNTER_OFF	(128u << 10)
#define MSG_BYTES	64
#define WAIT_US		20000000	/* a peer that is slow to start, or retransmissions */
#define QPN		2
#define MAGIC		0x72646d61	/* "rdma" */

struct hello {
	uint32_t magic;
	uint32_t rkey;
	uint64_t va;
	char text[16];
};

static struct vpmd_dev nic, dev;
static struct vpmd_queue ctrl_q, cq_q, sq, rq;
static struct virtio_rdma_config cfg;
static uint8_t *ctrl_buf, *cqes, *wrs, *msgs, *mr, *local;
static uint32_t pd, cqn, dma_key, mr_key, wr_next;
static uint8_t peer_mac[6];
static uint32_t ip, peer_ip;		/* network order */
static struct hello peer;

static int fail(const char *what)
{
	printf("rdma_rc: %s\n", what);
	return -1;
}

static int parse_ip(const char *s, uint32_t *out)
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

/* A control request; its status, the reply's data in @out. */
static int ctrl(uint8_t cmd, const void *args, uint32_t len, void *out, uint32_t out_len)
{
	struct vpmd_sg sg[2] = { { ctrl_buf, 1 + len }, { ctrl_buf + 2048, 512 } };
	uint64_t end = vpmd_deadline_us(WAIT_US);

	ctrl_buf[0] = cmd;
	if (len)
		memcpy(ctrl_buf + 1, args, len);
	ctrl_buf[2048] = 0xee;
	if (vpmd_queue_add(&ctrl_q, sg, 1, 1, ctrl_buf))
		return -1;
	vpmd_queue_kick(&ctrl_q);
	while (!vpmd_queue_get_used(&ctrl_q, NULL))
		if (vpmd_expired(end))
			return fail("no answer on the control queue");
	if (!ctrl_buf[2048] && out)
		memcpy(out, ctrl_buf + 2049, out_len);
	return ctrl_buf[2048];
}

static int ctrl32(uint8_t cmd, const void *args, uint32_t len, uint32_t *v)
{
	int st = ctrl(cmd, args, len, v, 4);

	if (st)
		printf("rdma_rc: control command %u refused: %d\n", cmd, st);
	return st ? -1 : 0;
}

static void post_cq_buf(uint8_t *b)
{
	struct vpmd_sg sg = { b, sizeof(struct virtio_rdma_cqe) };

	vpmd_queue_add(&cq_q, &sg, 0, 1, b);
	vpmd_queue_kick(&cq_q);
}

/* The next completion: 0 with *@e, -1 after WAIT_US. */
static int next_cqe(struct virtio_rdma_cqe *e)
{
	uint64_t end = vpmd_deadline_us(WAIT_US);
	uint8_t *b;

	while (!(b = vpmd_queue_get_used(&cq_q, NULL)))
		if (vpmd_expired(end))
			return fail("no completion");
	memcpy(e, b, sizeof(*e));
	post_cq_buf(b);
	return 0;
}

static int expect(uint64_t wr_id, uint8_t opcode, uint32_t len)
{
	struct virtio_rdma_cqe e;

	if (next_cqe(&e))
		return -1;
	if (e.status != VIRTIO_RDMA_WC_SUCCESS || e.wr_id != wr_id || e.opcode != opcode ||
	    (len != ~0u && e.byte_len != len)) {
		printf("rdma_rc: completion wr %lu status %u opcode %u len %u; wanted wr %lu "
		       "opcode %u len %u\n", (unsigned long)e.wr_id, e.status, e.opcode, e.byte_len, wr_id,
		       opcode, len);
		return -1;
	}
	return 0;
}

static int post_send(uint8_t opcode, uint64_t wr_id, const void *addr, uint32_t len,
		     uint64_t remote, uint32_t rkey, uint32_t imm, uint64_t add)
{
	uint8_t *w = wrs + (uint64_t)(wr_next++ % QS) * 256;
	struct virtio_rdma_send_wr *wr = (void *)w;
	struct virtio_rdma_sge *sge = (void *)(wr + 1);
	struct vpmd_sg sg = { w, sizeof(*wr) + sizeof(*sge) };

	memset(w, 0, 256);
	wr->wr_id = wr_id;
	wr->opcode = opcode;
	wr->send_flags = VIRTIO_RDMA_SEND_SIGNALED;
	wr->num_sge = 1;
	wr->imm_or_inv = __builtin_bswap32(imm);
	if (opcode == VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD) {
		wr->atomic.remote_addr = remote;
		wr->atomic.rkey = rkey;
		wr->atomic.compare_add = add;
	} else {
		wr->rdma.remote_addr = remote;
		wr->rdma.rkey = rkey;
	}
	sge->addr = (uintptr_t)addr;
	sge->length = len;
	sge->lkey = dma_key;
	/* The device copies the WR out and gives the buffer back at once. */
	while (vpmd_queue_get_used(&sq, NULL))
		;
	if (vpmd_queue_add(&sq, &sg, 1, 0, w))
		return fail("the send queue is full");
	vpmd_queue_kick(&sq);
	return 0;
}

static int post_recv(uint64_t wr_id, void *addr, uint32_t len)
{
	uint8_t *w = wrs + (uint64_t)QS * 256 + (uint64_t)(wr_id % QS) * 64;
	struct virtio_rdma_recv_wr *wr = (void *)w;
	struct virtio_rdma_sge *sge = (void *)(wr + 1);
	struct vpmd_sg sg = { w, sizeof(*wr) + sizeof(*sge) };

	memset(w, 0, 64);
	wr->wr_id = wr_id;
	wr->num_sge = 1;
	sge->addr = (uintptr_t)addr;
	sge->length = len;
	sge->lkey = dma_key;
	while (vpmd_queue_get_used(&rq, NULL))
		;
	if (vpmd_queue_add(&rq, &sg, 1, 0, w))
		return fail("the receive queue is full");
	vpmd_queue_kick(&rq);
	return 0;
}

static uint8_t pattern(uint32_t seed, uint32_t i)
{
	return (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

static void fill(uint8_t *p, uint32_t len, uint32_t seed)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern(seed, i);
}

static int check(const uint8_t *p, uint32_t len, uint32_t seed, const char *what)
{
	uint32_t i;

	for (i = 0; i < len; i++) {
		if (p[i] != pattern(seed, i)) {
			printf("rdma_rc: %s: byte %u is 0x%x, not 0x%x\n", what, i, p[i],
			       pattern(seed, i));
			return -1;
		}
	}
	printf("rdma_rc: %s: %u bytes right\n", what, len);
	return 0;
}

/* The device, its objects, and QP 2 in RTS towards the peer's QP 2. */
static int rdma_up(void)
{
	struct virtio_rdma_add_gid g = { .index = 0, .type = VIRTIO_RDMA_GID_ROCE_V2 };
	struct virtio_rdma_create_cq c = { CQ_BUFS };
	struct virtio_rdma_get_dma_mr dma = { 0, VIRTIO_RDMA_ACCESS_LOCAL_WRITE };
	struct virtio_rdma_create_qp qp = {
		.qp_type = VIRTIO_RDMA_QPT_RC, .max_send_wr = 32, .max_recv_wr = 32,
		.max_send_sge = 1, .max_recv_sge = 1,
	};
	struct virtio_rdma_modify_qp m = { .qpn = QPN };
	uint32_t npages = MR_BYTES / 4096, i, qpn, sq_index;
	uint8_t *u;
	struct virtio_rdma_reg_user_mr *um;
	unsigned int k;

	if (vpmd_probe_id(&dev, VIRTIO_ID_RDMA, 0) ||
	    vpmd_negotiate(&dev, 0, VPMD_BIT(VIRTIO_F_VERSION_1)))
		return fail("no virtio-rdma device to drive");
	for (i = 0; i < sizeof(cfg); i++)
		((uint8_t *)&cfg)[i] = mmio_read8(dev.device + i);
	sq_index = 1 + cfg.max_cq + 2 * (QPN - 1);
	if (vpmd_queue_setup(&dev, &ctrl_q, 0, QS) || vpmd_queue_setup(&dev, &cq_q, 1, QS) ||
	    vpmd_queue_setup(&dev, &sq, sq_index, QS) ||
	    vpmd_queue_setup(&dev, &rq, sq_index + 1, QS) || vpmd_driver_ok(&dev))
		return fail("queue set-up failed");
	ctrl_buf = vpmd_alloc(4096 + 8 * npages + 64, 4096);
	cqes = vpmd_alloc(CQ_BUFS * 64, 64);
	wrs = vpmd_alloc(QS * 256 + QS * 64, 64);
	msgs = vpmd_alloc(QS * MSG_BYTES, 64);
	mr = vpmd_alloc(MR_BYTES, 4096);
	local = vpmd_alloc(2 * CHUNK + 4096, 4096);
	if (!ctrl_buf || !cqes || !wrs || !msgs || !mr || !local)
		return fail("out of memory");
	for (k = 0; k < CQ_BUFS; k++)
		post_cq_buf(cqes + k * 64);

	gid_of(ip, g.gid);
	if (ctrl(VIRTIO_RDMA_CMD_ADD_GID, &g, sizeof(g), NULL, 0) ||
	    ctrl32(VIRTIO_RDMA_CMD_CREATE_PD, NULL, 0, &pd) ||
	    ctrl32(VIRTIO_RDMA_CMD_CREATE_CQ, &c, sizeof(c), &cqn))
		return fail("GID, PD or CQ refused");
	dma.pdn = pd;
	if (ctrl32(VIRTIO_RDMA_CMD_GET_DMA_MR, &dma, sizeof(dma), &dma_key))
		return -1;
	/* The user MR: the pages under mr[] (gpa == va here), at their own address. */
	u = vpmd_alloc(sizeof(*um) + 8 * npages, 64);
	if (!u)
		return fail("out of memory");
	um = (void *)u;
	um->pdn = pd;
	um->access = VIRTIO_RDMA_ACCESS_LOCAL_WRITE | VIRTIO_RDMA_ACCESS_REMOTE_WRITE |
		     VIRTIO_RDMA_ACCESS_REMOTE_READ | VIRTIO_RDMA_ACCESS_REMOTE_ATOMIC;
	um->virt_addr = (uintptr_t)mr;
	um->length = MR_BYTES;
	um->npages = npages;
	um->page_shift = 12;
	for (i = 0; i < npages; i++) {
		uint64_t a = (uintptr_t)mr + (uint64_t)i * 4096;

		memcpy(u + sizeof(*um) + 8 * i, &a, 8);
	}
	if (ctrl32(VIRTIO_RDMA_CMD_REG_USER_MR, u, sizeof(*um) + 8 * npages, &mr_key))
		return -1;
	qp.pdn = pd;
	qp.send_cqn = qp.recv_cqn = cqn;
	if (ctrl32(VIRTIO_RDMA_CMD_CREATE_QP, &qp, sizeof(qp), &qpn) || qpn != QPN)
		return fail("QP 2 not made");
	m.attr.attr_mask = (1 << 0) | (1 << 4) | (1 << 5) | (1 << 3);	/* state pkey port access */
	m.attr.qp_state = VIRTIO_RDMA_QPS_INIT;
	m.attr.port_num = 1;
	m.attr.qp_access_flags = um->access & ~VIRTIO_RDMA_ACCESS_LOCAL_WRITE;
	if (ctrl(VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0))
		return fail("QP to INIT refused");
	/* state av path_mtu dest_qpn rq_psn max_dest_rd_atomic min_rnr_timer */
	m.attr.attr_mask = (1 << 0) | (1 << 7) | (1 << 8) | (1 << 20) | (1 << 12) | (1 << 17) |
			   (1 << 15);
	m.attr.qp_state = VIRTIO_RDMA_QPS_RTR;
	m.attr.path_mtu = VIRTIO_RDMA_MTU_1024;
	m.attr.dest_qp_num = QPN;
	m.attr.rq_psn = 0x1000;
	m.attr.max_dest_rd_atomic = 4;
	m.attr.min_rnr_timer = 1;
	gid_of(peer_ip, m.attr.ah_attr.dgid);
	memcpy(m.attr.ah_attr.dmac, peer_mac, 6);
	if (ctrl(VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0))
		return fail("QP to RTR refused");
	/* state timeout retry_cnt rnr_retry sq_psn max_rd_atomic */
	m.attr.attr_mask = (1 << 0) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 16) | (1 << 13);
	m.attr.qp_state = VIRTIO_RDMA_QPS_RTS;
	m.attr.timeout = 14;		/* 67 ms */
	m.attr.retry_cnt = 7;
	m.attr.rnr_retry = 7;
	m.attr.sq_psn = 0x1000;
	m.attr.max_rd_atomic = 4;
	if (ctrl(VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL, 0))
		return fail("QP to RTS refused");
	for (k = 0; k < 8; k++)
		if (post_recv(100 + k, msgs + k * MSG_BYTES, MSG_BYTES))
			return -1;
	return 0;
}

static struct hello *my_hello(const char *text)
{
	struct hello *h = (void *)(msgs + (QS - 1) * MSG_BYTES);

	memset(h, 0, sizeof(*h));
	h->magic = MAGIC;
	h->rkey = mr_key;
	h->va = (uintptr_t)mr;
	memcpy(h->text, text, strlen(text) + 1);
	return h;
}

/* The next SEND from the peer (its receive buffer reposted): 0 with *@h. */
static int recv_msg(struct hello *h, const char *want)
{
	struct virtio_rdma_cqe e;
	uint8_t *b;

	if (next_cqe(&e))
		return -1;
	if (e.status != VIRTIO_RDMA_WC_SUCCESS || e.opcode != VIRTIO_RDMA_WC_RECV ||
	    e.wr_id < 100 || e.wr_id >= 108 || e.byte_len != sizeof(*h)) {
		printf("rdma_rc: expected a message, got status %u opcode %u wr %lu len %u\n",
		       e.status, e.opcode, (unsigned long)e.wr_id, e.byte_len);
		return -1;
	}
	b = msgs + (e.wr_id - 100) * MSG_BYTES;
	memcpy(h, b, sizeof(*h));
	if (h->magic != MAGIC || strcmp(h->text, want)) {
		printf("rdma_rc: a message that is not \"%s\"\n", want);
		return -1;
	}
	printf("rdma_rc: got \"%s\"\n", want);
	return post_recv(e.wr_id, b, MSG_BYTES);
}

static int send_msg(uint64_t wr_id, const char *text)
{
	struct hello *h = my_hello(text);

	return post_send(VIRTIO_RDMA_WR_SEND, wr_id, h, sizeof(*h), 0, 0, 0, 0) ?:
	       expect(wr_id, VIRTIO_RDMA_WC_SEND, sizeof(*h));
}

static int server(void)
{
	struct virtio_rdma_cqe e;
	uint64_t zero = 0;

	fill(mr + CHUNK, CHUNK, 3);
	memcpy(mr + COUNTER_OFF, &zero, 8);
	printf("rdma_rc: server ready\n");
	if (recv_msg(&peer, "hello") || send_msg(1, "welcome"))
		return -1;
	/* The client's WRITE, announced by a WRITE_WITH_IMM of nothing. */
	if (next_cqe(&e))
		return -1;
	if (e.status || e.opcode != VIRTIO_RDMA_WC_RECV_RDMA_IMM ||
	    __builtin_bswap32(e.imm_or_inv) != 0x5752) {
		printf("rdma_rc: expected WRITE_WITH_IMM 0x5752, got status %u opcode %u\n",
		       e.status, e.opcode);
		return -1;
	}
	if (post_recv(e.wr_id, msgs + (e.wr_id - 100) * MSG_BYTES, MSG_BYTES) ||
	    check(mr, CHUNK, 1, "the client's RDMA WRITE"))
		return -1;
	fill(local, CHUNK, 2);
	if (post_send(VIRTIO_RDMA_WR_RDMA_WRITE, 2, local, CHUNK, peer.va, peer.rkey, 0, 0) ||
	    expect(2, VIRTIO_RDMA_WC_RDMA_WRITE, CHUNK) || send_msg(3, "done") ||
	    recv_msg(&peer, "bye"))
		return -1;
	memcpy(&zero, mr + COUNTER_OFF, 8);
	if (zero != 100) {
		printf("rdma_rc: the counter is %lu, not 100\n", zero);
		return -1;
	}
	return 0;
}

static int client(void)
{
	uint64_t v;
	unsigned int i;

	if (send_msg(1, "hello") || recv_msg(&peer, "welcome"))
		return -1;
	fill(local, CHUNK, 1);
	if (post_send(VIRTIO_RDMA_WR_RDMA_WRITE, 2, local, CHUNK, peer.va, peer.rkey, 0, 0) ||
	    post_send(VIRTIO_RDMA_WR_RDMA_WRITE_IMM, 3, local, 0, peer.va, peer.rkey, 0x5752, 0) ||
	    expect(2, VIRTIO_RDMA_WC_RDMA_WRITE, CHUNK) || expect(3, VIRTIO_RDMA_WC_RDMA_WRITE, 0) ||
	    recv_msg(&peer, "done") || check(mr, CHUNK, 2, "the server's RDMA WRITE"))
		return -1;
	memset(local, 0, CHUNK);
	if (post_send(VIRTIO_RDMA_WR_RDMA_READ, 4, local, CHUNK, peer.va + CHUNK, peer.rkey, 0,
		      0) || expect(4, VIRTIO_RDMA_WC_RDMA_READ, CHUNK) ||
	    check(local, CHUNK, 3, "RDMA READ"))
		return -1;
	for (i = 0; i < 100; i++) {
		if (post_send(VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD, 10 + i, local + CHUNK, 8,
			      peer.va + COUNTER_OFF, peer.rkey, 0, 1) ||
		    expect(10 + i, VIRTIO_RDMA_WC_FETCH_ADD, 8))
			return -1;
		memcpy(&v, local + CHUNK, 8);
		if (v != i) {
			printf("rdma_rc: FETCH_ADD %u found %lu\n", i, v);
			return -1;
		}
	}
	if (post_send(VIRTIO_RDMA_WR_RDMA_READ, 200, local + CHUNK, 8, peer.va + COUNTER_OFF,
		      peer.rkey, 0, 0) || expect(200, VIRTIO_RDMA_WC_RDMA_READ, 8))
		return -1;
	memcpy(&v, local + CHUNK, 8);
	if (v != 100) {
		printf("rdma_rc: the counter reads %lu after 100 FETCH_ADDs\n", v);
		return -1;
	}
	printf("rdma_rc: 100 FETCH_ADDs, each original value once\n");
	return send_msg(5, "bye");
}

int payload_main(void)
{
	const char *role = payload_arg("role");
	struct vpmd_config nc;

	if (!role || (strcmp(role, "server") && strcmp(role, "client")) ||
	    parse_ip(payload_arg("ip"), &ip) || parse_ip(payload_arg("peer_ip"), &peer_ip) ||
	    !payload_arg("peer_mac") || vpmd_parse_mac(payload_arg("peer_mac"), peer_mac)) {
		printf("rdma_rc: needs role=server|client ip=A.B.C.D peer_ip=A.B.C.D peer_mac=M\n");
		return 1;
	}
	/* The NIC's port carries our frames: bring it up, then leave it. */
	vpmd_config_init(&nc);
	if (vpmd_probe(&nic) || vpmd_init(&nic, &nc) || rdma_up())
		return 1;
	printf("rdma_rc: %s up: QP %u, MR rkey 0x%x\n", role, QPN, mr_key);
	if (!strcmp(role, "server") ? server() : client())
		return 1;
	printf("rdma_rc: ok\n");
	return 0;
}
