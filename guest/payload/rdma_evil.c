// SPDX-License-Identifier: GPL-2.0
/*
 * rdma_evil: a hostile driver of the virtio-rdma device, on one guest
 * whose NIC loops its frames back (`--net loop --rdma net=0`), with QP 2
 * connected to itself. What it gets for each attack is checked:
 *   - control requests of the wrong length, of no command, with a page
 *     outside guest RAM or a page count its bytes do not hold, destroying
 *     a PD in use, an illegal QP transition: each refused with its errno;
 *   - work requests with a key that is nobody's, an address outside RAM
 *     through the DMA MR, too many SGEs, a remote WRITE outside the MR (the
 *     MR untouched), a remote READ through the local-only DMA MR: each an
 *     error completion (and the QP in ERR, reset and connected again for
 *     the next);
 *   - a completion buffer shorter than a completion, then a descriptor
 *     outside RAM: the device wants a reset (NEEDS_RESET), nothing else.
 * After each device break the driver resets it and the same exchange
 * works again; the VMM runs on to the end.
 *
 * cmdline: mac=M (the NIC's, for the QP's own address vector)
 */
#include "rdma_pmd.h"

PAYLOAD_NAME("rdma_evil");

#define OK		VIRTIO_RDMA_WC_SUCCESS
#define IP		0x0100000a	/* 10.0.0.1, network order */
#define EINVAL		22
#define EBUSY		16
#define EOPNOTSUPP	95
#define BEYOND_RAM	0xfff00000000ULL

static struct vpmd_dev nic;
static struct rpmd r;
static uint8_t mac[6];
static uint8_t *buf, *mr;
static uint32_t mr_key, qpn;
static const uint32_t access = VIRTIO_RDMA_ACCESS_REMOTE_WRITE | VIRTIO_RDMA_ACCESS_REMOTE_READ;

static int fail(const char *what)
{
	printf("rdma_evil: %s\n", what);
	return -1;
}

/* The device from scratch: objects, an MR, QP 2 connected to itself. */
static int bring_up(uint32_t cq_buf_len)
{
	return rpmd_up(&r, cq_buf_len) || rpmd_objects(&r, IP) ||
	       rpmd_reg_mr(&r, mr, 16384, access | VIRTIO_RDMA_ACCESS_LOCAL_WRITE, &mr_key) ||
	       rpmd_create_qp(&r, &qpn) || rpmd_connect(&r, qpn, qpn, IP, mac, access) ? -1 : 0;
}

/* A SEND to itself arrives: the QP and the device work. */
static int loop_send(uint64_t id)
{
	memset(buf + 4096, 0, 256);
	memset(buf, (int)id, 200);
	if (rpmd_post_recv(&r, id + 1000, buf + 4096, 256) ||
	    rpmd_post_send(&r, VIRTIO_RDMA_WR_SEND, id, buf, 200, 0, 0, 0, 0))
		return -1;
	/* Its two completions, in either order. */
	for (int i = 0; i < 2; i++) {
		struct virtio_rdma_cqe e;

		if (rpmd_next_cqe(&r, &e) || e.status != OK || e.byte_len != 200 ||
		    (e.wr_id != id && e.wr_id != id + 1000))
			return fail("a SEND to itself did not arrive");
	}
	return memcmp(buf, buf + 4096, 200) ? fail("the SEND's data is wrong") : 0;
}

static int reconnect(void)
{
	return rpmd_modify_state(&r, qpn, VIRTIO_RDMA_QPS_RESET) ||
	       rpmd_connect(&r, qpn, qpn, IP, mac, access) ? fail("reconnect") : 0;
}

static int refused(uint8_t cmd, const void *args, uint32_t len, int want, const char *what)
{
	int st = rpmd_ctrl(&r, cmd, args, len, NULL, 0);

	if (st != want) {
		printf("rdma_evil: %s: status %d, wanted %d\n", what, st, want);
		return -1;
	}
	printf("rdma_evil: %s: refused (%d)\n", what, st);
	return 0;
}

static int control_attacks(void)
{
	struct {
		struct virtio_rdma_reg_user_mr h;
		uint64_t page;
	} __attribute__((packed)) um = {
		.h = { .pdn = r.pd, .access = 1, .virt_addr = 0x1000, .length = 4096, .npages = 1,
		       .page_shift = 12 },
		.page = BEYOND_RAM,
	};
	struct virtio_rdma_modify_qp m = { .qpn = qpn };
	uint32_t h = r.pd;
	uint8_t junk[3] = { 1, 2, 3 };

	m.attr.attr_mask = 1;
	m.attr.qp_state = VIRTIO_RDMA_QPS_INIT;
	if (refused(VIRTIO_RDMA_CMD_CREATE_CQ, junk, 3, EINVAL, "CREATE_CQ of 3 bytes") ||
	    refused(77, NULL, 0, EOPNOTSUPP, "command 77") ||
	    refused(VIRTIO_RDMA_CMD_REG_USER_MR, &um, sizeof(um), EINVAL,
		    "an MR page outside RAM"))
		return -1;
	um.h.npages = 100000;
	if (refused(VIRTIO_RDMA_CMD_REG_USER_MR, &um, sizeof(um), EINVAL,
		    "100000 MR pages in 8 bytes") ||
	    refused(VIRTIO_RDMA_CMD_DESTROY_PD, &h, 4, EBUSY, "destroying the PD in use") ||
	    refused(VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), EINVAL, "RTS -> INIT"))
		return -1;
	return loop_send(1);
}

/* One bad WR: the error completion it must get, then the QP made usable again. */
static int bad_wr(struct virtio_rdma_send_wr *wr, struct virtio_rdma_sge *sge, unsigned int n,
		  uint8_t status, uint8_t opcode, const char *what)
{
	if (rpmd_post_send_wr(&r, wr, sge, n) || rpmd_expect(&r, wr->wr_id, status, opcode, ~0u))
		return fail(what);
	printf("rdma_evil: %s: error completion %u\n", what, status);
	return reconnect() || loop_send(wr->wr_id + 1);
}

static int wr_attacks(void)
{
	struct virtio_rdma_send_wr wr;
	struct virtio_rdma_sge sge[9];
	unsigned int i;

	memset(&wr, 0, sizeof(wr));
	wr.send_flags = VIRTIO_RDMA_SEND_SIGNALED;
	wr.num_sge = 1;
	for (i = 0; i < 9; i++)
		sge[i] = (struct virtio_rdma_sge){ (uintptr_t)buf, 8, r.dma_key };
	wr.wr_id = 10;
	wr.opcode = VIRTIO_RDMA_WR_SEND;
	sge[0].lkey = 0x7777700;
	if (bad_wr(&wr, sge, 1, VIRTIO_RDMA_WC_LOC_PROT_ERR, VIRTIO_RDMA_WC_SEND,
		   "a key that is nobody's"))
		return -1;
	wr.wr_id = 20;
	sge[0] = (struct virtio_rdma_sge){ BEYOND_RAM, 64, r.dma_key };
	if (bad_wr(&wr, sge, 1, VIRTIO_RDMA_WC_LOC_PROT_ERR, VIRTIO_RDMA_WC_SEND,
		   "an address beyond RAM"))
		return -1;
	wr.wr_id = 30;
	wr.num_sge = 9;
	sge[0] = sge[1];
	if (bad_wr(&wr, sge, 9, VIRTIO_RDMA_WC_LOC_LEN_ERR, VIRTIO_RDMA_WC_SEND, "9 SGEs"))
		return -1;
	wr.wr_id = 40;
	wr.num_sge = 1;
	wr.opcode = VIRTIO_RDMA_WR_RDMA_WRITE;
	wr.rdma.remote_addr = (uintptr_t)mr + 16384 - 4;
	wr.rdma.rkey = mr_key;
	memset(mr, 0x5a, 16384);
	/*
	 * The QP is its own responder: the responder's error puts the one QP
	 * in ERR before the requester takes the NAK, so the WRITE completes
	 * flushed (two QPs: test_virtio_rdma sees REM_ACCESS_ERR).
	 */
	if (bad_wr(&wr, sge, 1, VIRTIO_RDMA_WC_WR_FLUSH_ERR, VIRTIO_RDMA_WC_RDMA_WRITE,
		   "a WRITE across the MR's end"))
		return -1;
	for (i = 0; i < 16384; i++)
		if (mr[i] != 0x5a)
			return fail("the refused WRITE changed the MR");
	wr.wr_id = 50;
	wr.opcode = VIRTIO_RDMA_WR_RDMA_READ;
	wr.rdma.remote_addr = (uintptr_t)buf;
	wr.rdma.rkey = r.dma_key;
	return bad_wr(&wr, sge, 1, VIRTIO_RDMA_WC_WR_FLUSH_ERR, VIRTIO_RDMA_WC_RDMA_READ,
		      "a READ through the local-only DMA MR");
}

/* Wait for the device to say it wants a reset. */
static int wants_reset(const char *what)
{
	uint64_t end = vpmd_deadline_us(RPMD_WAIT_US);

	while (!(vpmd_status(&r.dev) & VIRTIO_STATUS_NEEDS_RESET))
		if (vpmd_expired(end))
			return fail(what);
	printf("rdma_evil: %s: the device wants a reset\n", what);
	return 0;
}

static int ring_attacks(void)
{
	struct vpmd_sg sg = { (const void *)BEYOND_RAM, 72 };

	/*
	 * Completion buffers of 8 bytes: the first completion cannot be
	 * written. A SEND to itself with a receive posted, so that it
	 * completes: with none it is refused RNR for ever (rnr_retry 7), and
	 * only a retransmit timeout now and then, by chance, ended it.
	 */
	if (bring_up(8) || rpmd_post_recv(&r, 61, buf + 4096, 256) ||
	    rpmd_post_send(&r, VIRTIO_RDMA_WR_SEND, 60, buf, 8, 0, 0, 0, 0) ||
	    wants_reset("a completion buffer of 8 bytes"))
		return -1;
	if (bring_up(0) || loop_send(70))
		return fail("the device did not work again after its reset");
	/* A send WR whose descriptor points outside RAM. */
	if (vpmd_queue_add(&r.sq, &sg, 1, 0, buf))
		return -1;
	vpmd_queue_kick(&r.sq);
	if (wants_reset("a descriptor outside RAM"))
		return -1;
	return bring_up(0) || loop_send(80) ? fail("the device did not work again") : 0;
}

int payload_main(void)
{
	struct vpmd_config nc;

	if (!payload_arg("mac") || vpmd_parse_mac(payload_arg("mac"), mac)) {
		printf("rdma_evil: needs mac=M, the NIC's\n");
		return 1;
	}
	vpmd_config_init(&nc);
	buf = vpmd_alloc(8192, 4096);
	mr = vpmd_alloc(16384, 4096);
	if (!buf || !mr || vpmd_probe(&nic) || vpmd_init(&nic, &nc) || bring_up(0) ||
	    loop_send(0) || control_attacks() || wr_attacks() || ring_attacks())
		return 1;
	printf("rdma_evil: every attack refused, the device works after each\n");
	return 0;
}
