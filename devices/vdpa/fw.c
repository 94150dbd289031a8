// SPDX-License-Identifier: GPL-2.0
/*
 * The firmware cost model's one table. Figures are ConnectX-6 Dx numbers
 * from mailing-list cover letters (open lore.kernel.org/r/<Message-ID>),
 * summarised in shared/ref/vdpa-costs.md. "derived" means divided out of a
 * published total; "fitted" (fitted = true) means no figure was published
 * and the value was chosen so a published total comes out.
 */
#include <string.h>
#include <time.h>

#include "devices/vdpa/fw.h"

#define MS(x)	((uint64_t)((x) * 1000000.0))
#define US(x)	((uint64_t)((x) * 1000.0))

const struct fw_cost fw_costs[FW_NR_CMDS] = {
	[FW_CREATE_VQ] = { "create-vq", MS(11.6), false, false,
		"derived: ~370 ms for 32 vqs with CQ/QP creation and resume; "
		"20240708-stage-vdpa-vq-precreate-v3-0-afe3c766e393@nvidia.com" },
	[FW_MODIFY_VQ] = { "modify-vq", MS(1.9), false, false,
		"derived: ~60 ms for 32 pre-created vqs, config and resume; same series" },
	/* A suspend is a modify (state) plus a query (indices): 1.16 ms in all. */
	[FW_QUERY_VQ] = { "query-vq", MS(0.3), false, true,
		"fitted: with suspend-vq sums to the derived 1.16 ms/vq below" },
	[FW_SUSPEND_VQ] = { "suspend-vq", MS(0.86), false, true,
		"derived 37 ms for 32 vqs serial (1.16 ms/vq) less query-vq; "
		"20240816090159.1967650-1-dtatulea@nvidia.com (Linux 6.12)" },
	[FW_RESUME_VQ] = { "resume-vq", MS(0.5), false, false,
		"derived: 16 ms for 32 vqs serial; same series" },
	[FW_DESTROY_VQ] = { "destroy-vq", MS(1.0), false, true,
		"fitted: not published; of the order of a modify" },
	[FW_CREATE_MKEY] = { "create-mkey", MS(1.95), true, true,
		"fitted per GiB so 256 GB x 4 devices is ~2 s serial, as "
		"20240830105838.2666587-2-dtatulea@nvidia.com reports" },
	[FW_CREATE_IMKEY] = { "create-indirect-mkey", MS(0.5), false, true,
		"fitted: one per map, small beside the direct keys" },
	[FW_DESTROY_MKEY] = { "destroy-mkey", MS(0.25), false, true,
		"fitted: deletion is 8x faster in parallel than serial "
		"(20240821114100.2261167-2-dtatulea@nvidia.com); serial value chosen" },
	[FW_PIN] = { "pin", MS(20), true, false,
		"derived: 50/100/200 GB warm pin 7.8/8.8/10.8 s, ~20 ms/GB; "
		"1e58dd8c-3418-4843-9620-3819e9ee31f3@oracle.com" },
	[FW_RESET] = { "reset", MS(5), false, true,
		"fitted: not published; a reset also destroys its vqs and keys, charged apart" },
	[FW_CVQ_CMD] = { "cvq-command", US(4), false, false,
		"derived: ~4100 commands in 13.7-20.5 ms (3-5 us each); "
		"cover.1693287885.git.yin31149@gmail.com" },
};

/*
 * FW_PARALLEL_SLOTS = 16: suspend of 32 vqs goes 37 -> 2.5 ms with async
 * commands (~15x); 16 slots give 2 rounds of 1.16 ms = 2.3 ms (fitted).
 */

void fw_init(struct fw *fw, double scale, bool parallel)
{
	memset(fw, 0, sizeof(*fw));
	fw->scale = scale;
	fw->parallel = parallel;
	pthread_mutex_init(&fw->lock, NULL);
}

void fw_exit(struct fw *fw)
{
	pthread_mutex_destroy(&fw->lock);
}

uint64_t fw_run(struct fw *fw, enum fw_cmd cmd, unsigned int n, uint64_t gib)
{
	const struct fw_cost *c = &fw_costs[cmd];
	uint64_t each = c->per_gib ? c->ns * (gib ? gib : 1) : c->ns, rounds, ns;
	double wait;

	if (!n)
		return 0;
	rounds = fw->parallel ? (n + FW_PARALLEL_SLOTS - 1) / FW_PARALLEL_SLOTS : n;
	ns = rounds * each;
	pthread_mutex_lock(&fw->lock);
	fw->count[cmd] += n;
	fw->model_ns += ns;
	/* The queue is busy for the whole time: later commands wait behind it. */
	wait = ns * fw->scale;
	if (wait >= 1) {
		struct timespec ts = { (time_t)(wait / 1e9), (long)((uint64_t)wait % 1000000000) };

		while (nanosleep(&ts, &ts))
			;
	}
	pthread_mutex_unlock(&fw->lock);
	return ns;
}
