/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The verbs objects of a virtio-rdma device and its control commands
 * (virtio/virtio_rdma.h): protection domains, completion queues, queue
 * pairs with their attributes and state (devices/rdma/qp_state.h), memory
 * regions (devices/rdma/mr.h), address handles and the GID table. No
 * memory of the guest's and no queues: a control request comes in as
 * bytes already copied out of guest memory, and its reply goes out as
 * bytes; the device (the data path) hears about what changes for it
 * through rdma_verbs_ops.
 *
 * Every request is checked whole before anything changes: a bad one gets
 * a positive errno in the reply's status and a reason in last_error.
 * Objects in use are not destroyed (EBUSY): a PD with MRs, QPs or AHs; a
 * CQ a QP completes into.
 *
 *	rdma_verbs_init(&v, &cfg, ops, opaque);
 *	n = rdma_verbs_ctrl(&v, req, req_len, reply, sizeof(reply));
 */
#ifndef VLAB_RDMA_VERBS_H
#define VLAB_RDMA_VERBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/rdma/mr.h"
#include "devices/rdma/qp_state.h"
#include "devices/rdma/rc.h"
#include "virtio/virtio_rdma.h"

#define RDMA_GID_TBL_LEN	16
#define RDMA_GSI_QPN		1
#define RDMA_CTRL_REPLY_MAX	(1 + sizeof(struct virtio_rdma_qp_attr) + 16)
/* A REG_USER_MR request's page list, at most. */
#define RDMA_USER_MR_MAX_PAGES	(1u << 16)

struct rdma_verbs_config {
	uint32_t max_cq, max_qp, max_cqe, max_qp_wr, max_sge, max_inline;
	uint32_t max_mr, max_pd, max_ah, max_fast_reg_pages, max_qp_rd_atom;
	uint8_t max_mtu;		/* VIRTIO_RDMA_MTU_* */
	uint8_t mac[6];
	uint64_t ram_end;		/* guest RAM is [0, ram_end) */
};

struct rdma_cq {
	bool used;
	uint32_t cqe;
	uint32_t notify;		/* armed: VIRTIO_RDMA_NOTIFY_*, one shot */
};

struct rdma_ah {
	bool used;
	uint32_t pd;
	struct virtio_rdma_av av;
};

struct rdma_gid {
	bool valid;
	uint8_t type;
	uint8_t gid[16];
};

struct rdma_qp {
	bool used;
	enum rdma_qp_type type;
	enum rdma_qp_state state;
	uint32_t pd, send_cq, recv_cq;
	bool sq_sig_all;
	uint32_t max_send_wr, max_recv_wr, max_send_sge, max_recv_sge, max_inline;
	/* attributes, as Modify QP last set them */
	uint8_t path_mtu, timeout, retry_cnt, rnr_retry, min_rnr_timer;
	uint8_t max_rd_atomic, max_dest_rd_atomic;
	uint32_t qkey, rq_psn, sq_psn, dest_qpn, access;
	struct virtio_rdma_av av;
	/* RC: the transport, set up at RTR (responder) and RTS (requester) */
	struct rc_qp rc;
};

struct rdma_verbs;

/* What the data path hears (all optional). */
struct rdma_verbs_ops {
	/* @qpn went from @old to qp->state (RESET: drop its queues; ERR: flush them). */
	void (*qp_changed)(void *opaque, uint32_t qpn, enum rdma_qp_state old);
	/* @qpn is about to be destroyed: complete what it holds as flushed. */
	void (*qp_destroy)(void *opaque, uint32_t qpn);
	/* @cqn was armed: raise the interrupt now if a completion is already there. */
	void (*cq_armed)(void *opaque, uint32_t cqn);
};

struct rdma_verbs {
	struct rdma_verbs_config cfg;
	const struct rdma_verbs_ops *ops;
	void *opaque;
	bool *pd_used;
	struct rdma_cq *cqs;
	struct rdma_qp *qps;		/* by QPN - 1 */
	struct rdma_ah *ahs;
	struct rdma_gid gids[RDMA_GID_TBL_LEN];
	struct rdma_mr_table mrs;
	char last_error[128];
};

/* 0, -EINVAL (a limit out of range) or -ENOMEM. */
int rdma_verbs_init(struct rdma_verbs *v, const struct rdma_verbs_config *cfg,
		    const struct rdma_verbs_ops *ops, void *opaque);
void rdma_verbs_exit(struct rdma_verbs *v);
/* Everything destroyed, as after a device reset (no ops called). */
void rdma_verbs_reset(struct rdma_verbs *v);

/*
 * One control request {u8 cmd; ...} of @len bytes: the reply {u8 status;
 * ...} into @reply (at least RDMA_CTRL_REPLY_MAX bytes); its length.
 */
size_t rdma_verbs_ctrl(struct rdma_verbs *v, const uint8_t *req, size_t len, uint8_t *reply,
		       size_t cap);

/* The QP with @qpn, or NULL. */
struct rdma_qp *rdma_verbs_qp(struct rdma_verbs *v, uint32_t qpn);
/* Path MTU in bytes of a VIRTIO_RDMA_MTU_* value (0 if none). */
uint32_t rdma_mtu_bytes(uint8_t mtu);
const char *rdma_verbs_cmd_name(uint8_t cmd);

#endif
