// SPDX-License-Identifier: GPL-2.0
/*
 * The firmware cost model: every command has a cost and a source, charges
 * add up serially and in rounds of FW_PARALLEL_SLOTS in parallel, and the
 * published totals the figures were derived or fitted from come out.
 * Model time only: nothing here depends on how fast this machine is.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "devices/vdpa/fw.h"

#define MS	1000000ULL

START_TEST(every_command_has_a_cost_and_source)
{
	int i;

	for (i = 0; i < FW_NR_CMDS; i++) {
		ck_assert_msg(fw_costs[i].name, "command %d has no entry", i);
		ck_assert_uint_gt(fw_costs[i].ns, 0);
		ck_assert_msg(fw_costs[i].source && strlen(fw_costs[i].source) > 10,
			      "%s: no source", fw_costs[i].name);
	}
}
END_TEST

START_TEST(serial_and_parallel_charges)
{
	struct fw fw;

	fw_init(&fw, 0, false);
	ck_assert_uint_eq(fw_run(&fw, FW_RESUME_VQ, 32, 0), 32 * fw_costs[FW_RESUME_VQ].ns);
	ck_assert_uint_eq(fw_run(&fw, FW_CREATE_MKEY, 3, 1), 3 * fw_costs[FW_CREATE_MKEY].ns);
	ck_assert_uint_eq(fw_run(&fw, FW_PIN, 1, 5), 5 * fw_costs[FW_PIN].ns);
	ck_assert_uint_eq(fw_run(&fw, FW_RESET, 0, 0), 0);
	ck_assert_uint_eq(fw.count[FW_RESUME_VQ], 32);
	ck_assert_uint_eq(fw.count[FW_CREATE_MKEY], 3);
	ck_assert_uint_eq(fw.model_ns, 32 * fw_costs[FW_RESUME_VQ].ns +
			  3 * fw_costs[FW_CREATE_MKEY].ns + 5 * fw_costs[FW_PIN].ns);
	fw_exit(&fw);

	fw_init(&fw, 0, true);
	/* 17 commands: two rounds of the parallel queue. */
	ck_assert_uint_eq(fw_run(&fw, FW_RESUME_VQ, 17, 0), 2 * fw_costs[FW_RESUME_VQ].ns);
	ck_assert_uint_eq(fw_run(&fw, FW_RESUME_VQ, 16, 0), fw_costs[FW_RESUME_VQ].ns);
	fw_exit(&fw);
}
END_TEST

/* Suspend of 32 vqs: 37 ms serial, 2.5 ms with async commands (Linux 6.12). */
START_TEST(published_suspend_totals)
{
	struct fw fw;
	uint64_t ns;

	fw_init(&fw, 0, false);
	ns = fw_run(&fw, FW_SUSPEND_VQ, 32, 0) + fw_run(&fw, FW_QUERY_VQ, 32, 0);
	ck_assert_msg(ns >= 36 * MS && ns <= 38 * MS, "serial suspend %llu ns",
		      (unsigned long long)ns);
	fw_exit(&fw);
	fw_init(&fw, 0, true);
	ns = fw_run(&fw, FW_SUSPEND_VQ, 32, 0) + fw_run(&fw, FW_QUERY_VQ, 32, 0);
	ck_assert_msg(ns >= 2 * MS && ns <= 3 * MS, "parallel suspend %llu ns",
		      (unsigned long long)ns);
	fw_exit(&fw);
}
END_TEST

/* Memory keys for 256 GB on 4 devices: ~2 s serial (the fitted figure). */
START_TEST(published_mkey_total)
{
	struct fw fw;
	uint64_t ns;

	fw_init(&fw, 0, false);
	ns = 4 * fw_run(&fw, FW_CREATE_MKEY, 256, 1);
	ck_assert_msg(ns >= 1900 * MS && ns <= 2100 * MS, "%llu ns", (unsigned long long)ns);
	fw_exit(&fw);
}
END_TEST

/*
 * Commands a driver issues without waiting for each (a batch) cost what
 * the same commands issued together do: serial, their sum; parallel,
 * rounds of each kind. Only the outermost end charges.
 */
START_TEST(batches_charge_at_the_end)
{
	struct fw fw;
	int i;

	fw_init(&fw, 0, true);
	fw_batch_begin(&fw);
	fw_batch_begin(&fw);
	for (i = 0; i < 32; i++)
		ck_assert_uint_eq(fw_run(&fw, FW_SUSPEND_VQ, 1, 0), 0);
	fw_run(&fw, FW_PIN, 1, 2);
	ck_assert_uint_eq(fw_batch_end(&fw), 0);
	ck_assert_uint_eq(fw.model_ns, 0);
	ck_assert_uint_eq(fw_batch_end(&fw), 2 * fw_costs[FW_SUSPEND_VQ].ns +
			  2 * fw_costs[FW_PIN].ns);
	ck_assert_uint_eq(fw.count[FW_SUSPEND_VQ], 32);
	/* Unbalanced: nothing to end, nothing charged. */
	ck_assert_uint_eq(fw_batch_end(&fw), 0);
	fw_exit(&fw);

	fw_init(&fw, 0, false);
	fw_batch_begin(&fw);
	for (i = 0; i < 32; i++)
		fw_run(&fw, FW_RESUME_VQ, 1, 0);
	ck_assert_uint_eq(fw_batch_end(&fw), 32 * fw_costs[FW_RESUME_VQ].ns);
	fw_exit(&fw);
}
END_TEST

/* Mapping 128 GB for a device: ~8.9 s, what mapping at init took out of the downtime. */
START_TEST(published_map_total)
{
	struct fw fw;
	uint64_t ns;

	fw_init(&fw, 0, false);
	ns = fw_run(&fw, FW_PIN, 1, 128) + fw_run(&fw, FW_CREATE_MKEY, 128, 1);
	ck_assert_msg(ns >= 8400 * MS && ns <= 9400 * MS, "%llu ns", (unsigned long long)ns);
	fw_exit(&fw);
}
END_TEST

VLAB_SUITE_MAIN("fw", "costs", NULL, NULL, 0,
	every_command_has_a_cost_and_source, serial_and_parallel_charges,
	published_suspend_totals, published_mkey_total, published_map_total,
	batches_charge_at_the_end);
