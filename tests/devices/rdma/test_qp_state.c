// SPDX-License-Identifier: GPL-2.0
/*
 * The QP state machine: the path every connection takes (RESET -> INIT ->
 * RTR -> RTS) with exactly the attributes the IB specification asks for,
 * per transport; each required attribute's absence and each stray one
 * named; every transition the table lacks refused; RESET and ERR reachable
 * from anywhere.
 */
#include <check.h>

#include "check_main.h"
#include "devices/rdma/qp_state.h"

#define A(x)	RDMA_QP_##x
#define ST	RDMA_QP_STATE

static const uint32_t to_init[RDMA_QPT_NR] = {
	[RDMA_QPT_RC] = A(PKEY_INDEX) | A(PORT) | A(ACCESS_FLAGS),
	[RDMA_QPT_UC] = A(PKEY_INDEX) | A(PORT) | A(ACCESS_FLAGS),
	[RDMA_QPT_UD] = A(PKEY_INDEX) | A(PORT) | A(QKEY),
	[RDMA_QPT_GSI] = A(PKEY_INDEX) | A(QKEY),
};
static const uint32_t to_rtr[RDMA_QPT_NR] = {
	[RDMA_QPT_RC] = A(AV) | A(PATH_MTU) | A(DEST_QPN) | A(RQ_PSN) | A(MAX_DEST_RD_ATOMIC) |
			A(MIN_RNR_TIMER),
	[RDMA_QPT_UC] = A(AV) | A(PATH_MTU) | A(DEST_QPN) | A(RQ_PSN),
};
static const uint32_t to_rts[RDMA_QPT_NR] = {
	[RDMA_QPT_RC] = A(TIMEOUT) | A(RETRY_CNT) | A(RNR_RETRY) | A(SQ_PSN) | A(MAX_QP_RD_ATOMIC),
	[RDMA_QPT_UC] = A(SQ_PSN),
	[RDMA_QPT_UD] = A(SQ_PSN),
	[RDMA_QPT_GSI] = A(SQ_PSN),
};

static enum rdma_qp_modify_err check(enum rdma_qp_type t, enum rdma_qp_state cur,
				     enum rdma_qp_state next, uint32_t mask, uint32_t *bad)
{
	return rdma_qp_modify_check(t, cur, next, mask, bad);
}

/* The connection path, and each required attribute left out in turn. */
START_TEST(connect_path_needs_exactly_its_attributes)
{
	static const struct {
		enum rdma_qp_state from, to;
		const uint32_t *req;
	} steps[] = {
		{ RDMA_QPS_RESET, RDMA_QPS_INIT, to_init },
		{ RDMA_QPS_INIT, RDMA_QPS_RTR, to_rtr },
		{ RDMA_QPS_RTR, RDMA_QPS_RTS, to_rts },
	};
	unsigned int t, i, b;
	uint32_t bad;

	for (t = 0; t < RDMA_QPT_NR; t++) {
		for (i = 0; i < 3; i++) {
			uint32_t req = steps[i].req[t];

			ck_assert_msg(check(t, steps[i].from, steps[i].to, ST | req, &bad) ==
				      RDMA_QP_MODIFY_OK, "type %u: %s -> %s", t,
				      rdma_qp_state_name(steps[i].from),
				      rdma_qp_state_name(steps[i].to));
			for (b = 0; b < 32; b++) {
				if (!(req & (1u << b)))
					continue;
				ck_assert_int_eq(check(t, steps[i].from, steps[i].to,
						       ST | (req & ~(1u << b)), &bad),
						 RDMA_QP_MODIFY_MISSING);
				ck_assert_uint_eq(bad, 1u << b);
			}
		}
	}
	/* Named: the first missing one. */
	ck_assert_int_eq(check(RDMA_QPT_RC, RDMA_QPS_INIT, RDMA_QPS_RTR, ST | A(AV), &bad),
			 RDMA_QP_MODIFY_MISSING);
	ck_assert_str_eq(rdma_qp_attr_name(bad), "path_mtu");
}
END_TEST

/* An attribute a transition does not take is refused, not ignored. */
START_TEST(stray_attributes_refused)
{
	uint32_t bad;

	/* UD has no path: an AV at RTR is a mistake. */
	ck_assert_int_eq(check(RDMA_QPT_UD, RDMA_QPS_INIT, RDMA_QPS_RTR, ST | A(AV), &bad),
			 RDMA_QP_MODIFY_EXTRA);
	ck_assert_uint_eq(bad, A(AV));
	/* RC takes no QKEY. */
	ck_assert_int_eq(check(RDMA_QPT_RC, RDMA_QPS_RESET, RDMA_QPS_INIT,
			       ST | to_init[RDMA_QPT_RC] | A(QKEY), &bad), RDMA_QP_MODIFY_EXTRA);
	ck_assert_str_eq(rdma_qp_attr_name(bad), "qkey");
	/* Optional ones are taken. */
	ck_assert_int_eq(check(RDMA_QPT_RC, RDMA_QPS_RTR, RDMA_QPS_RTS,
			       ST | to_rts[RDMA_QPT_RC] | A(MIN_RNR_TIMER) | A(CUR_STATE), &bad),
			 RDMA_QP_MODIFY_OK);
	/* Attributes in place, no state change: RTS takes access flags, not a PSN. */
	ck_assert_int_eq(check(RDMA_QPT_RC, RDMA_QPS_RTS, RDMA_QPS_RTS, A(ACCESS_FLAGS), &bad),
			 RDMA_QP_MODIFY_OK);
	ck_assert_int_eq(check(RDMA_QPT_RC, RDMA_QPS_RTS, RDMA_QPS_RTS, A(SQ_PSN), &bad),
			 RDMA_QP_MODIFY_EXTRA);
}
END_TEST

/* Every pair the table does not have is refused, for every transport. */
START_TEST(illegal_transitions_refused)
{
	static const bool legal[RDMA_QPS_NR][RDMA_QPS_NR] = {
		[RDMA_QPS_RESET] = { [RDMA_QPS_INIT] = true },
		[RDMA_QPS_INIT] = { [RDMA_QPS_INIT] = true, [RDMA_QPS_RTR] = true },
		[RDMA_QPS_RTR] = { [RDMA_QPS_RTS] = true },
		[RDMA_QPS_RTS] = { [RDMA_QPS_RTS] = true, [RDMA_QPS_SQD] = true },
		[RDMA_QPS_SQD] = { [RDMA_QPS_RTS] = true, [RDMA_QPS_SQD] = true },
		[RDMA_QPS_SQE] = { [RDMA_QPS_RTS] = true },
	};
	unsigned int t, from, to;

	for (t = 0; t < RDMA_QPT_NR; t++)
		for (from = 0; from < RDMA_QPS_NR; from++)
			for (to = 0; to < RDMA_QPS_NR; to++) {
				enum rdma_qp_modify_err e = check(t, from, to, ST, NULL);
				bool ok = legal[from][to] && !(t == RDMA_QPT_RC &&
							       from == RDMA_QPS_SQE);

				if (to == RDMA_QPS_RESET || to == RDMA_QPS_ERR) {
					ck_assert_int_eq(e, RDMA_QP_MODIFY_OK);
					continue;
				}
				/* Legal ones may still want attributes; never ILLEGAL. */
				if (ok)
					ck_assert_int_ne(e, RDMA_QP_MODIFY_ILLEGAL);
				else
					ck_assert_msg(e == RDMA_QP_MODIFY_ILLEGAL,
						      "type %u: %s -> %s allowed", t,
						      rdma_qp_state_name(from),
						      rdma_qp_state_name(to));
			}
	/* To RESET or ERR with anything more: refused. */
	ck_assert_int_eq(check(RDMA_QPT_RC, RDMA_QPS_RTS, RDMA_QPS_ERR, ST | A(SQ_PSN), NULL),
			 RDMA_QP_MODIFY_EXTRA);
	/* No state change asked in RESET or ERR: nothing to modify there. */
	ck_assert_int_eq(check(RDMA_QPT_RC, RDMA_QPS_ERR, RDMA_QPS_ERR, A(ACCESS_FLAGS), NULL),
			 RDMA_QP_MODIFY_ILLEGAL);
	/* Out of range. */
	ck_assert_int_eq(check(RDMA_QPT_NR, RDMA_QPS_RESET, RDMA_QPS_INIT, ST, NULL),
			 RDMA_QP_MODIFY_ILLEGAL);
	ck_assert_int_eq(check(RDMA_QPT_RC, RDMA_QPS_NR, RDMA_QPS_INIT, ST, NULL),
			 RDMA_QP_MODIFY_ILLEGAL);
}
END_TEST

VLAB_SUITE_MAIN("qp_state", "modify", NULL, NULL, 0,
	connect_path_needs_exactly_its_attributes, stray_attributes_refused,
	illegal_transitions_refused);
