/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The simulated NIC's firmware: every command the driver side issues
 * (vq objects, memory keys, suspend/resume, reset, CVQ commands) costs the
 * time the one table in fw.c says, each figure with its public source.
 * Commands run on a firmware queue: serial by default, or up to
 * FW_PARALLEL_SLOTS at once with the "async firmware commands" option
 * (Linux 6.12's parallel mlx5 commands). The queue waits real time, scaled
 * by @scale (1.0 = calibrated, 0 = no waiting), and always accounts the
 * unscaled model time, which tests check instead of the clock.
 */
#ifndef VLAB_VDPA_FW_H
#define VLAB_VDPA_FW_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Commands the parallel queue runs at once (fitted, see fw.c). */
#define FW_PARALLEL_SLOTS	16

enum fw_cmd {
	FW_CREATE_VQ,		/* vq object with its CQ/QP resources */
	FW_MODIFY_VQ,		/* addresses, indices, or RDY on a pre-created object */
	FW_QUERY_VQ,		/* read back state and indices */
	FW_SUSPEND_VQ,		/* modify to SUSPEND */
	FW_RESUME_VQ,		/* modify SUSPEND -> RDY */
	FW_DESTROY_VQ,
	FW_CREATE_MKEY,		/* a direct key over <= 1 GiB, charged per GiB */
	FW_CREATE_IMKEY,	/* the indirect key over the whole space */
	FW_DESTROY_MKEY,	/* per key */
	FW_PIN,			/* pinning newly mapped guest memory, per GiB */
	FW_RESET,		/* device reset, besides destroying its objects */
	FW_CVQ_CMD,		/* one control-queue command handled by the driver */
	FW_SETUP_DEVICE,	/* DRIVER_OK's device-wide objects (RQT, TIR, steering) */
	FW_NR_CMDS,
};

struct fw_cost {
	const char *name;
	uint64_t ns;		/* per command, or per GiB for the per-GiB ones */
	bool per_gib;
	bool fitted;		/* not published: chosen to match a published total */
	const char *source;
};

/* The table (fw.c). */
extern const struct fw_cost fw_costs[FW_NR_CMDS];

struct fw {
	double scale;		/* real time per model time; 0: do not wait */
	bool parallel;		/* async firmware commands */
	pthread_mutex_t lock;	/* one queue: commands from several threads serialize */
	/* Accounting, in model time (unscaled). */
	uint64_t count[FW_NR_CMDS];
	uint64_t model_ns;	/* what the queue was busy for */
	/* Between fw_batch_begin() and fw_batch_end(): issued, not yet waited for. */
	unsigned int batch_depth;
	unsigned int batch_n[FW_NR_CMDS];
	uint64_t batch_ns[FW_NR_CMDS];	/* their serial cost */
};

void fw_init(struct fw *fw, double scale, bool parallel);
void fw_exit(struct fw *fw);

/*
 * Run @n commands of kind @cmd issued together (@gib: GiB each covers,
 * for the per-GiB kinds): serial, they take n times the cost; parallel,
 * ceil(n / FW_PARALLEL_SLOTS) times. Returns the model time charged.
 */
uint64_t fw_run(struct fw *fw, enum fw_cmd cmd, unsigned int n, uint64_t gib);

/*
 * A driver that issues a set of commands without waiting for each (one
 * per vq, say): fw_run() between begin and end only queues them, and end
 * charges and waits once, each kind as if issued together (parallel:
 * rounds of FW_PARALLEL_SLOTS). Nests; the outermost end charges. Returns
 * the model time charged (0 from an inner end).
 */
void fw_batch_begin(struct fw *fw);
uint64_t fw_batch_end(struct fw *fw);

#endif
