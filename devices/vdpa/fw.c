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
#define SETUP_DEVICE_MS	800

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
	/*
	 * Mapping guest RAM for the device's DMA (pin, IOMMU map), less the
	 * keys charged apart: moving that map out of the switch-over cut a
	 * guest's downtime by 2.63 s at 39 GB and 8.89 s at 128 GB, 67-69 ms/GB.
	 */
	[FW_PIN] = { "pin", MS(66), true, false,
		"derived: downtime 4.72 -> 2.09 s (39 GB), 14.72 -> 5.83 s (128 GB) with the "
		"map made at init, less create-mkey; "
		"20250522145839.59974-1-jonah.palmer@oracle.com" },
	[FW_RESET] = { "reset", MS(5), false, true,
		"fitted: not published; a reset also destroys its vqs and keys, charged apart" },
	[FW_CVQ_CMD] = { "cvq-command", US(4), false, false,
		"derived: ~4100 commands in 13.7-20.5 ms (3-5 us each); "
		"cover.1693287885.git.yin31149@gmail.com" },
	[FW_SETUP_DEVICE] = { "setup-device", MS(SETUP_DEVICE_MS), false, true,
		"fitted to the seed's rows where only a device restart is left "
		"(1701970793-6865-1-git-send-email-si-wei.liu@oracle.com); NVIDIA "
		"reports vq creation and RSS set-up 'may take above 200ms' "
		"(20230918044932.1433744-1-yajunw@nvidia.com)" },
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

/* @n commands of @each ns issued together. */
static uint64_t fw_cost(const struct fw *fw, unsigned int n, uint64_t each)
{
	return (fw->parallel ? (n + FW_PARALLEL_SLOTS - 1) / FW_PARALLEL_SLOTS : n) * each;
}

/* The queue is busy for the whole time: later commands wait behind it. Locked. */
static void fw_wait(struct fw *fw, uint64_t ns)
{
	double wait = ns * fw->scale;

	fw->model_ns += ns;
	if (wait >= 1) {
		struct timespec ts = { (time_t)(wait / 1e9), (long)((uint64_t)wait % 1000000000) };

		while (nanosleep(&ts, &ts))
			;
	}
}

uint64_t fw_run(struct fw *fw, enum fw_cmd cmd, unsigned int n, uint64_t gib)
{
	const struct fw_cost *c = &fw_costs[cmd];
	uint64_t each = c->per_gib ? c->ns * (gib ? gib : 1) : c->ns, ns;

	if (!n)
		return 0;
	pthread_mutex_lock(&fw->lock);
	fw->count[cmd] += n;
	if (fw->batch_depth) {
		fw->batch_n[cmd] += n;
		fw->batch_ns[cmd] += n * each;
		ns = 0;
	} else {
		ns = fw_cost(fw, n, each);
		fw_wait(fw, ns);
	}
	pthread_mutex_unlock(&fw->lock);
	return ns;
}

void fw_batch_begin(struct fw *fw)
{
	pthread_mutex_lock(&fw->lock);
	fw->batch_depth++;
	pthread_mutex_unlock(&fw->lock);
}

uint64_t fw_batch_end(struct fw *fw)
{
	uint64_t ns = 0;
	int i;

	pthread_mutex_lock(&fw->lock);
	if (fw->batch_depth && !--fw->batch_depth) {
		/* Each kind in rounds, at the average cost of its commands. */
		for (i = 0; i < FW_NR_CMDS; i++) {
			if (fw->batch_n[i])
				ns += fw_cost(fw, fw->batch_n[i], fw->batch_ns[i] / fw->batch_n[i]);
			fw->batch_n[i] = 0;
			fw->batch_ns[i] = 0;
		}
		fw_wait(fw, ns);
	}
	pthread_mutex_unlock(&fw->lock);
	return ns;
}
