/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The queue pair state machine of the IB specification (IBA 10.3, the
 * Modify QP verb): which state changes a driver may ask for, and which
 * attributes each must and may carry, per transport. The attribute bits
 * are the kernel's (enum ib_qp_attr_mask) so that a guest driver passes
 * its mask through unchanged. Everything not in the table is refused with
 * a reason; the error states are entered by the device (SQE on a send
 * queue error of UC/UD, ERR on any fatal one) or by asking for ERR.
 */
#ifndef VLAB_RDMA_QP_STATE_H
#define VLAB_RDMA_QP_STATE_H

#include <stdbool.h>
#include <stdint.h>

enum rdma_qp_type {
	RDMA_QPT_RC,
	RDMA_QPT_UC,
	RDMA_QPT_UD,
	RDMA_QPT_GSI,		/* QP1: management datagrams, UD-like */
	RDMA_QPT_NR,
};

enum rdma_qp_state {
	RDMA_QPS_RESET,
	RDMA_QPS_INIT,
	RDMA_QPS_RTR,
	RDMA_QPS_RTS,
	RDMA_QPS_SQD,
	RDMA_QPS_SQE,
	RDMA_QPS_ERR,
	RDMA_QPS_NR,
};

/* enum ib_qp_attr_mask */
#define RDMA_QP_STATE			(1u << 0)
#define RDMA_QP_CUR_STATE		(1u << 1)
#define RDMA_QP_EN_SQD_ASYNC_NOTIFY	(1u << 2)
#define RDMA_QP_ACCESS_FLAGS		(1u << 3)
#define RDMA_QP_PKEY_INDEX		(1u << 4)
#define RDMA_QP_PORT			(1u << 5)
#define RDMA_QP_QKEY			(1u << 6)
#define RDMA_QP_AV			(1u << 7)
#define RDMA_QP_PATH_MTU		(1u << 8)
#define RDMA_QP_TIMEOUT			(1u << 9)
#define RDMA_QP_RETRY_CNT		(1u << 10)
#define RDMA_QP_RNR_RETRY		(1u << 11)
#define RDMA_QP_RQ_PSN			(1u << 12)
#define RDMA_QP_MAX_QP_RD_ATOMIC	(1u << 13)
#define RDMA_QP_ALT_PATH		(1u << 14)
#define RDMA_QP_MIN_RNR_TIMER		(1u << 15)
#define RDMA_QP_SQ_PSN			(1u << 16)
#define RDMA_QP_MAX_DEST_RD_ATOMIC	(1u << 17)
#define RDMA_QP_PATH_MIG_STATE		(1u << 18)
#define RDMA_QP_CAP			(1u << 19)
#define RDMA_QP_DEST_QPN		(1u << 20)

enum rdma_qp_modify_err {
	RDMA_QP_MODIFY_OK,
	RDMA_QP_MODIFY_ILLEGAL,		/* no such transition for this transport */
	RDMA_QP_MODIFY_MISSING,		/* a required attribute is not in the mask */
	RDMA_QP_MODIFY_EXTRA,		/* an attribute the transition does not take */
};

/*
 * May a @type QP in @cur be modified with @mask (RDMA_QP_*; with
 * RDMA_QP_STATE, to @next; without, its attributes in @cur)? The verdict;
 * *@bad (if not NULL) gets the attributes missing or not taken. Values
 * (a CUR_STATE that is not the QP's, a PSN wider than 24 bits) are the
 * caller's to check.
 */
enum rdma_qp_modify_err rdma_qp_modify_check(enum rdma_qp_type type, enum rdma_qp_state cur,
					     enum rdma_qp_state next, uint32_t mask,
					     uint32_t *bad);
const char *rdma_qp_modify_strerror(enum rdma_qp_modify_err e);

const char *rdma_qp_state_name(enum rdma_qp_state s);
/* The name of the lowest attribute bit in @mask ("path_mtu"), or "?". */
const char *rdma_qp_attr_name(uint32_t mask);

#endif
