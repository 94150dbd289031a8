/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A polling virtio-rdma driver for test payloads (virtio/virtio_rdma.h),
 * on the payload PMD's virtio-pci layer (virtio_pmd.h): the control
 * queue, CQ 0's vq with completion buffers always posted, and one QP's
 * send and receive vqs. Requests wait for their answer by polling, with a
 * deadline; everything runs at CPL3 on identity-mapped memory (gpa == va).
 *
 *	struct rpmd r;
 *
 *	rpmd_up(&r, 0) || rpmd_objects(&r, ip) || rpmd_create_qp(&r, &qpn) ||
 *	rpmd_connect(&r, qpn, peer_qpn, peer_ip, peer_mac, access);
 *	rpmd_post_send(&r, VIRTIO_RDMA_WR_SEND, 1, buf, len, 0, 0, 0, 0);
 *	rpmd_expect(&r, 1, VIRTIO_RDMA_WC_SEND, len);
 */
#ifndef PAYLOAD_RDMA_PMD_H
#define PAYLOAD_RDMA_PMD_H

#include "virtio_pmd.h"
#include "virtio/virtio_rdma.h"

#define RPMD_QS		256
#define RPMD_CQ_BUFS	64
#define RPMD_WAIT_US	20000000	/* a peer slow to start, or retransmissions */
#define RPMD_QPN	2		/* the one QP a payload drives */

struct rpmd {
	struct vpmd_dev dev;
	struct vpmd_queue ctrl, cq, sq, rq;
	struct virtio_rdma_config cfg;
	uint8_t *ctrl_buf, *cqes, *wrs;
	uint32_t pd, cqn, dma_key, wr_next;
	uint32_t cq_buf_len;		/* of each posted completion buffer */
	uint64_t wait_us;		/* for a completion (RPMD_WAIT_US after rpmd_up) */
	uint8_t path_mtu;		/* VIRTIO_RDMA_MTU_* for rpmd_connect (0: 1024) */
	bool irq;			/* the CQ and control queue interrupt (rpmd_cq_irq) */
};

/*
 * Probe, negotiate, the queues of CQ 0 and QP 2, DRIVER_OK, completion
 * buffers of @cq_buf_len bytes (0: a completion's size). Again to reset.
 */
int rpmd_up(struct rpmd *r, uint32_t cq_buf_len);
/* A control request: its status (0 or an errno), -1 if unanswered; the reply in @out. */
int rpmd_ctrl(struct rpmd *r, uint8_t cmd, const void *args, uint32_t len, void *out,
	      uint32_t out_len);
/* The same for a request whose reply starts with a u32 it wants: 0 or -1 (printed). */
int rpmd_ctrl32(struct rpmd *r, uint8_t cmd, const void *args, uint32_t len, uint32_t *v);
/* GID 0 for @ip (network order), a PD, CQ 0, a DMA MR for local buffers. */
int rpmd_objects(struct rpmd *r, uint32_t ip);
/* A user MR over @bytes at @buf (page aligned) with @access; its key. */
int rpmd_reg_mr(struct rpmd *r, void *buf, uint32_t bytes, uint32_t access, uint32_t *key);
/* An RC QP on CQ 0: 128 send WRs, 32 receive WRs. */
int rpmd_create_qp(struct rpmd *r, uint32_t *qpn);
/* INIT, RTR, RTS towards @peer_qpn at @peer_ip/@peer_mac, with remote @access. */
int rpmd_connect(struct rpmd *r, uint32_t qpn, uint32_t peer_qpn, uint32_t peer_ip,
		 const uint8_t peer_mac[6], uint32_t access);
/* Modify the QP to @state with nothing else (RESET, ERR): the status. */
int rpmd_modify_state(struct rpmd *r, uint32_t qpn, uint8_t state);

/* A send WR as given, with @n SGEs after it: 0 or -1. */
int rpmd_post_send_wr(struct rpmd *r, const struct virtio_rdma_send_wr *wr,
		      const struct virtio_rdma_sge *sge, unsigned int n);
/* One SGE over the DMA MR, signaled; @add is FETCH_ADD's addend. */
int rpmd_post_send(struct rpmd *r, uint8_t opcode, uint64_t wr_id, const void *addr,
		   uint32_t len, uint64_t remote, uint32_t rkey, uint32_t imm, uint64_t add);
/* The same with its send flags (VIRTIO_RDMA_SEND_*) given. */
int rpmd_post_send_flags(struct rpmd *r, uint32_t flags, uint8_t opcode, uint64_t wr_id,
			 const void *addr, uint32_t len, uint64_t remote, uint32_t rkey,
			 uint32_t imm, uint64_t add);
int rpmd_post_recv(struct rpmd *r, uint64_t wr_id, void *addr, uint32_t len);
/* The next completion: 0 with *@e, -1 after RPMD_WAIT_US (printed). */
int rpmd_next_cqe(struct rpmd *r, struct virtio_rdma_cqe *e);
/*
 * CQ 0's interrupt to @vector, for rpmd_wait_cqe() (after rpmd_up():
 * payload_lapic_enable(), the CQ vq's MSI-X entry), and the control
 * queue's, so rpmd_ctrl() halts for its answer too: 0 or -1.
 */
int rpmd_cq_irq(struct rpmd *r, uint8_t vector);
/*
 * The next completion, halting the vCPU (payload_wait_irq()) while there
 * is none: the CQ armed, looked at once more, then the wait. 0 or -1.
 */
int rpmd_wait_cqe(struct rpmd *r, struct virtio_rdma_cqe *e);
/* The next completion is @wr_id's, @status, @opcode, @len bytes (~0u: any): 0 or -1. */
int rpmd_expect(struct rpmd *r, uint64_t wr_id, uint8_t status, uint8_t opcode, uint32_t len);

/* "A.B.C.D" to network order: 0 or -1. */
int rpmd_parse_ip(const char *s, uint32_t *out);

#endif
