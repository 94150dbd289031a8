/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vlab in-kernel tests: a table-driven TAP runner.
 *
 * Adding tests:
 *  - a new case in an existing file: one line in that file's case table;
 *  - a new file: define a case table and VLAB_KTEST_SUITE(name, table),
 *    declare the suite below, list it in vlab_ktest_suites[] in
 *    vlab_ktest.c and add the object to the Makefile.
 *
 * A case returns VLAB_KTEST_PASS, or the result of vlab_ktest_fail() or
 * vlab_ktest_skip(), which record the reason printed after the result.
 */
#ifndef VLAB_KTEST_H
#define VLAB_KTEST_H

#include <linux/compiler.h>
#include <linux/kernel.h>

enum vlab_ktest_result {
	VLAB_KTEST_PASS,
	VLAB_KTEST_FAIL,
	VLAB_KTEST_SKIP,
};

/* What a case gets: the command-line expectations and a reason buffer. */
struct vlab_ktest {
	unsigned int cpus;	/* vlab_ktest.cpus=, 0 if not given */
	unsigned int mem_mb;	/* vlab_ktest.mem_mb=, 0 if not given */
	const char *net_peer;	/* vlab_ktest.net_peer=, "" if not given */
	unsigned int hold_s;	/* vlab_ktest.hold_s=, 0 if not given */
	unsigned int net_hold_s;	/* vlab_ktest.net_hold_s=, 0 if not given */
	bool rdma_listen;	/* vlab_ktest.rdma_listen=1: the rdma_cm server */
	const char *rdma_connect;	/* vlab_ktest.rdma_connect=IP: its client, "" if not */
	unsigned int rdma_hold_s;	/* vlab_ktest.rdma_hold_s=, 0 if not given */
	char reason[128];
};

struct vlab_ktest_case {
	const char *name;
	enum vlab_ktest_result (*run)(struct vlab_ktest *t);
};

struct vlab_ktest_suite {
	const char *name;
	const struct vlab_ktest_case *cases;
	unsigned int count;
};

#define VLAB_KTEST_SUITE(sym, table)					\
	const struct vlab_ktest_suite sym = {				\
		.name = #sym,						\
		.cases = table,						\
		.count = ARRAY_SIZE(table),				\
	}

__printf(2, 3)
enum vlab_ktest_result vlab_ktest_fail(struct vlab_ktest *t,
				       const char *fmt, ...);
__printf(2, 3)
enum vlab_ktest_result vlab_ktest_skip(struct vlab_ktest *t,
				       const char *fmt, ...);
/* A "# ..." diagnostic line; TAP consumers ignore it. */
__printf(2, 3)
void vlab_ktest_diag(struct vlab_ktest *t, const char *fmt, ...);

/* The suites, one per test file. */
extern const struct vlab_ktest_suite ktest_basic;
extern const struct vlab_ktest_suite ktest_net;
extern const struct vlab_ktest_suite ktest_migrate;
extern const struct vlab_ktest_suite ktest_rdma;

#endif /* VLAB_KTEST_H */
