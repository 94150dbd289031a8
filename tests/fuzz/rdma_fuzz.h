/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the virtio-rdma fuzz targets share: a device on 256 KiB of guest
 * RAM driven on the fuzzer's thread (the device's _sync hooks), set up as
 * a peer would find it: an RC QP 2 in RTS towards 10.0.0.2's QP 2, a GSI
 * QP in RTR, a user MR others may write, read and update, receive WRs
 * posted; every frame it sends must parse as RoCEv2.
 */
#ifndef VLAB_TESTS_FUZZ_RDMA_FUZZ_H
#define VLAB_TESTS_FUZZ_RDMA_FUZZ_H

#include <endian.h>

#include "fuzz.h"
#include "rdma_req.h"
#include "devices/rdma/roce.h"
#include "devices/rdma/verbs.h"
#include "devices/rdma/virtio_rdma.h"
#include "virtio/virtio.h"

#define RAM		(256u << 10)
#define MR_AT		0x8000
#define MR_LEN		0x4000
#define MR_VA		0x7f0000000000ULL
#define RECV_AT		0x10000		/* two of 512 bytes */
#define GSI_RECV_AT	0x18000		/* one of 512 bytes */
#define OUR_IP		0x0100000a	/* 10.0.0.1 */
#define PEER_IP		0x0200000a	/* 10.0.0.2 */

static uint8_t *ram;
static struct guest_mem gm;
static uint32_t mr_key, dma_key;
static const uint8_t our_mac[6] = { 0x52, 0x54, 0, 0, 0x60, 1 };
static const uint8_t peer_mac[6] = { 0x52, 0x54, 0, 0, 0x60, 2 };

static inline int sink(void *opaque, const void *frame, size_t len)
{
	struct roce_pkt p;
	const char *why;

	if (roce_parse(frame, len, &p, &why))
		abort();	/* the device sent something that is not RoCEv2 */
	return 0;
}

static inline uint32_t ctrl(struct virtio_dev *v, uint8_t cmd, const void *args, size_t len)
{
	uint8_t req[1 + 256], rep[RDMA_CTRL_REPLY_MAX];
	uint32_t x = 0;

	req[0] = cmd;
	if (len)
		memcpy(req + 1, args, len);
	if (virtio_rdma_ctrl_sync(v, req, 1 + len, rep, sizeof(rep)) < 1 || rep[0])
		abort();	/* the set-up itself was refused */
	memcpy(&x, rep + 1, 4);
	return le32toh(x);
}

/* The device's objects, from a device just reset. */
static inline void device_setup(struct virtio_dev *v)
{
	struct virtio_rdma_add_gid g = { .type = VIRTIO_RDMA_GID_ROCE_V2 };
	struct virtio_rdma_create_cq cq = { htole32(16) };	/* its saved state fits max_len */
	struct virtio_rdma_get_dma_mr dma = { 0, htole32(VIRTIO_RDMA_ACCESS_LOCAL_WRITE) };
	struct {
		struct virtio_rdma_reg_user_mr h;
		uint64_t pages[4];
	} __attribute__((packed)) um = { .h = {
		.access = htole32(15), .virt_addr = htole64(MR_VA), .length = htole64(MR_LEN),
		.npages = htole32(4), .page_shift = 12 } };
	struct virtio_rdma_create_qp qp = {
		.qp_type = VIRTIO_RDMA_QPT_RC, .max_send_wr = htole32(16),
		.max_recv_wr = htole32(16), .max_send_sge = htole32(1), .max_recv_sge = htole32(1),
		.max_inline_data = htole32(64),
	};
	struct virtio_rdma_modify_qp m = { .qpn = htole32(2) };
	uint32_t i;

	rdma_req_gid_v4(OUR_IP, g.gid);
	ctrl(v, VIRTIO_RDMA_CMD_ADD_GID, &g, sizeof(g));
	ctrl(v, VIRTIO_RDMA_CMD_CREATE_PD, NULL, 0);
	ctrl(v, VIRTIO_RDMA_CMD_CREATE_CQ, &cq, sizeof(cq));
	dma_key = ctrl(v, VIRTIO_RDMA_CMD_GET_DMA_MR, &dma, sizeof(dma));
	for (i = 0; i < 4; i++)
		um.pages[i] = htole64(MR_AT + i * 4096);
	mr_key = ctrl(v, VIRTIO_RDMA_CMD_REG_USER_MR, &um, sizeof(um));
	ctrl(v, VIRTIO_RDMA_CMD_CREATE_QP, &qp, sizeof(qp));
	m.attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_PKEY_INDEX | RDMA_QP_PORT |
				   RDMA_QP_ACCESS_FLAGS);
	m.attr.qp_state = VIRTIO_RDMA_QPS_INIT;
	m.attr.port_num = 1;
	m.attr.qp_access_flags = htole32(14);
	ctrl(v, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m));
	rdma_req_rtr(&m, 2, VIRTIO_RDMA_MTU_256, 100, PEER_IP, peer_mac);
	m.attr.max_dest_rd_atomic = 4;
	ctrl(v, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m));
	rdma_req_rts(&m, 500);
	ctrl(v, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m));
	qp.qp_type = VIRTIO_RDMA_QPT_GSI;
	ctrl(v, VIRTIO_RDMA_CMD_CREATE_QP, &qp, sizeof(qp));
	m.qpn = htole32(1);
	m.attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_PKEY_INDEX | RDMA_QP_QKEY);
	m.attr.qp_state = VIRTIO_RDMA_QPS_INIT;
	m.attr.qkey = htole32(0x80010000);
	ctrl(v, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m));
	m.attr.attr_mask = htole32(RDMA_QP_STATE);
	m.attr.qp_state = VIRTIO_RDMA_QPS_RTR;
	ctrl(v, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m));
	if (virtio_rdma_post_recv_sync(v, 2, 1, RECV_AT, 512, dma_key) ||
	    virtio_rdma_post_recv_sync(v, 2, 2, RECV_AT + 512, 512, dma_key) ||
	    virtio_rdma_post_recv_sync(v, 1, 3, GSI_RECV_AT, 512, dma_key))
		abort();
}

static inline struct virtio_dev *device(void)
{
	struct virtio_rdma_conf conf = { .cqs = 1, .qps = 3 };
	struct rdma_port port = { sink, NULL, { 0 } };
	struct virtio_dev *v;
	char err[256];

	memcpy(port.mac, our_mac, 6);
	v = virtio_rdma_new(&gm, &conf, &port, err, sizeof(err));
	if (!v)
		abort();
	return v;
}

/* A packet's addresses from the peer (10.0.0.2) to the device (10.0.0.1). */
static inline void peer_pkt(struct roce_pkt *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->dmac, our_mac, 6);
	memcpy(p->smac, peer_mac, 6);
	memcpy(p->sip, &(uint32_t){ PEER_IP }, 4);
	memcpy(p->dip, &(uint32_t){ OUR_IP }, 4);
	p->ttl = 64;
	p->sport = 0xc001;
	p->pkey = ROCE_DEFAULT_PKEY;
}

#endif
