// SPDX-License-Identifier: GPL-2.0
#include <stddef.h>

#include "devices/rdma/qp_state.h"

#define S(x)	RDMA_QP_##x

struct qp_trans {
	bool valid;
	uint32_t req[RDMA_QPT_NR], opt[RDMA_QPT_NR];
};

/* UD's attribute rules, which GSI shares except where a row says otherwise. */
#define UDG(ud)		[RDMA_QPT_UD] = (ud), [RDMA_QPT_GSI] = (ud)

/* What a QP entering or staying in RTS may change (the same in all three rows). */
#define RTS_OPT								\
	[RDMA_QPT_RC] = S(CUR_STATE) | S(ALT_PATH) | S(ACCESS_FLAGS) |		\
			S(MIN_RNR_TIMER) | S(PATH_MIG_STATE),			\
	[RDMA_QPT_UC] = S(CUR_STATE) | S(ALT_PATH) | S(ACCESS_FLAGS) |		\
			S(PATH_MIG_STATE),					\
	UDG(S(CUR_STATE) | S(QKEY))

/* IBA 10.3.1, table "QP state transition attributes", as [from][to]. */
static const struct qp_trans qp_table[RDMA_QPS_NR][RDMA_QPS_NR] = {
	[RDMA_QPS_RESET] = {
		[RDMA_QPS_RESET] = { .valid = true },
		[RDMA_QPS_INIT] = {
			.valid = true,
			.req = {
				[RDMA_QPT_RC] = S(PKEY_INDEX) | S(PORT) | S(ACCESS_FLAGS),
				[RDMA_QPT_UC] = S(PKEY_INDEX) | S(PORT) | S(ACCESS_FLAGS),
				[RDMA_QPT_UD] = S(PKEY_INDEX) | S(PORT) | S(QKEY),
				[RDMA_QPT_GSI] = S(PKEY_INDEX) | S(QKEY),
			},
		},
	},
	[RDMA_QPS_INIT] = {
		[RDMA_QPS_INIT] = {
			.valid = true,
			.opt = {
				[RDMA_QPT_RC] = S(PKEY_INDEX) | S(PORT) | S(ACCESS_FLAGS),
				[RDMA_QPT_UC] = S(PKEY_INDEX) | S(PORT) | S(ACCESS_FLAGS),
				UDG(S(PKEY_INDEX) | S(PORT) | S(QKEY)),
			},
		},
		[RDMA_QPS_RTR] = {
			.valid = true,
			.req = {
				[RDMA_QPT_RC] = S(AV) | S(PATH_MTU) | S(DEST_QPN) | S(RQ_PSN) |
						S(MAX_DEST_RD_ATOMIC) | S(MIN_RNR_TIMER),
				[RDMA_QPT_UC] = S(AV) | S(PATH_MTU) | S(DEST_QPN) | S(RQ_PSN),
			},
			.opt = {
				[RDMA_QPT_RC] = S(ALT_PATH) | S(ACCESS_FLAGS) | S(PKEY_INDEX),
				[RDMA_QPT_UC] = S(ALT_PATH) | S(ACCESS_FLAGS) | S(PKEY_INDEX),
				UDG(S(PKEY_INDEX) | S(QKEY)),
			},
		},
	},
	[RDMA_QPS_RTR] = {
		[RDMA_QPS_RTS] = {
			.valid = true,
			.req = {
				[RDMA_QPT_RC] = S(TIMEOUT) | S(RETRY_CNT) | S(RNR_RETRY) | S(SQ_PSN) |
						S(MAX_QP_RD_ATOMIC),
				[RDMA_QPT_UC] = S(SQ_PSN),
				UDG(S(SQ_PSN)),
			},
			.opt = {
				RTS_OPT,
			},
		},
	},
	[RDMA_QPS_RTS] = {
		[RDMA_QPS_RTS] = {
			.valid = true,
			.opt = {
				RTS_OPT,
			},
		},
		[RDMA_QPS_SQD] = {
			.valid = true,
			.opt = {
				[RDMA_QPT_RC] = S(EN_SQD_ASYNC_NOTIFY),
				[RDMA_QPT_UC] = S(EN_SQD_ASYNC_NOTIFY),
				UDG(S(EN_SQD_ASYNC_NOTIFY)),
			},
		},
	},
	[RDMA_QPS_SQD] = {
		[RDMA_QPS_RTS] = {
			.valid = true,
			.opt = {
				RTS_OPT,
			},
		},
		[RDMA_QPS_SQD] = {
			.valid = true,
			.opt = {
				[RDMA_QPT_RC] = S(PORT) | S(AV) | S(TIMEOUT) | S(RETRY_CNT) |
						S(RNR_RETRY) | S(MAX_QP_RD_ATOMIC) |
						S(MAX_DEST_RD_ATOMIC) | S(ALT_PATH) | S(ACCESS_FLAGS) |
						S(PKEY_INDEX) | S(MIN_RNR_TIMER) | S(PATH_MIG_STATE),
				[RDMA_QPT_UC] = S(AV) | S(ALT_PATH) | S(ACCESS_FLAGS) |
						S(PKEY_INDEX) | S(PATH_MIG_STATE),
				UDG(S(PKEY_INDEX) | S(QKEY)),
			},
		},
	},
	[RDMA_QPS_SQE] = {
		/* Only unreliable transports recover from a send queue error. */
		[RDMA_QPS_RTS] = {
			.valid = true,
			.opt = {
				[RDMA_QPT_UC] = S(CUR_STATE) | S(ACCESS_FLAGS),
				UDG(S(CUR_STATE) | S(QKEY)),
			},
		},
	},
};

enum rdma_qp_modify_err rdma_qp_modify_check(enum rdma_qp_type type, enum rdma_qp_state cur,
					     enum rdma_qp_state next, uint32_t mask,
					     uint32_t *bad)
{
	const struct qp_trans *t;
	uint32_t req, opt, attrs = mask & ~(RDMA_QP_STATE);

	if (bad)
		*bad = 0;
	if (type >= RDMA_QPT_NR || cur >= RDMA_QPS_NR || next >= RDMA_QPS_NR)
		return RDMA_QP_MODIFY_ILLEGAL;
	if (!(mask & RDMA_QP_STATE))
		next = cur;
	/* To RESET or ERR from anywhere, with nothing else. */
	if (next == RDMA_QPS_RESET || next == RDMA_QPS_ERR) {
		if (!(mask & RDMA_QP_STATE))
			return RDMA_QP_MODIFY_ILLEGAL;
		req = 0;
		opt = 0;
	} else {
		t = &qp_table[cur][next];
		/* SQE -> RTS is UC/UD only: RC has no attributes there, and no entry. */
		if (!t->valid || (cur == RDMA_QPS_SQE && type == RDMA_QPT_RC))
			return RDMA_QP_MODIFY_ILLEGAL;
		req = t->req[type];
		opt = t->opt[type];
	}
	if (req & ~attrs) {
		if (bad)
			*bad = req & ~attrs;
		return RDMA_QP_MODIFY_MISSING;
	}
	if (attrs & ~(req | opt)) {
		if (bad)
			*bad = attrs & ~(req | opt);
		return RDMA_QP_MODIFY_EXTRA;
	}
	return RDMA_QP_MODIFY_OK;
}

const char *rdma_qp_modify_strerror(enum rdma_qp_modify_err e)
{
	switch (e) {
	case RDMA_QP_MODIFY_OK:
		return "ok";
	case RDMA_QP_MODIFY_ILLEGAL:
		return "no such state transition for this QP type";
	case RDMA_QP_MODIFY_MISSING:
		return "a required attribute is missing";
	case RDMA_QP_MODIFY_EXTRA:
		return "an attribute the transition does not take";
	}
	return "?";
}

const char *rdma_qp_state_name(enum rdma_qp_state s)
{
	static const char *const names[RDMA_QPS_NR] = {
		"RESET", "INIT", "RTR", "RTS", "SQD", "SQE", "ERR",
	};

	return s < RDMA_QPS_NR ? names[s] : "?";
}

const char *rdma_qp_attr_name(uint32_t mask)
{
	static const char *const names[] = {
		"state", "cur_state", "en_sqd_async_notify", "access_flags", "pkey_index",
		"port", "qkey", "av", "path_mtu", "timeout", "retry_cnt", "rnr_retry", "rq_psn",
		"max_rd_atomic", "alt_path", "min_rnr_timer", "sq_psn", "max_dest_rd_atomic",
		"path_mig_state", "cap", "dest_qpn",
	};
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (mask & (1u << i))
			return names[i];
	return "?";
}
