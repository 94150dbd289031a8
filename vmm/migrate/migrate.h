/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Live migration and snapshots. The stream is a header and a sequence of
 * checksummed records: configuration, RAM pages in pre-copy rounds, zero
 * ranges, then the KVM and device state (libfdt) and an end marker. The
 * same stream goes to another vlab (unix:, tcp:) or to a file (file:),
 * which is what a snapshot is.
 */
#ifndef VLAB_MIGRATE_H
#define VLAB_MIGRATE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm/migrate/dirty.h"

struct vm;

#define MIG_MAGIC		"VLABMIG1"
/* 2: eight-lane checksums, one per page; 3: early device state */
#define MIG_VERSION		3
/* 4: a local migration's stream: guest RAM by file descriptor, no pages */
#define MIG_VERSION_LOCAL	4
#define MIG_RUN_PAGES		256	/* most pages in a RAM record */
#define MIG_MAX_ROUNDS		30
/* Longest URI: "file:" and a path, or a unix socket (sun_path is shorter). */
#define MIG_URI_MAX		(PATH_MAX + 5)

enum mig_rec_type {
	MIG_REC_CONFIG = 1,	/* fdt: what the destination must match */
	MIG_REC_RAM,		/* addr = gpa, len = bytes of pages; payload: a u64
				 * checksum per page, then the pages; csum covers
				 * the checksums */
	MIG_REC_ZERO,		/* addr = gpa, len bytes now zero (no payload) */
	MIG_REC_ROUND,		/* addr = round number (progress only) */
	MIG_REC_STATE,		/* fdt: KVM and device state */
	MIG_REC_END,
	MIG_REC_EARLY,		/* fdt: device state to prepare with, during pre-copy */
	MIG_REC_MEMORY,		/* local: struct mig_mem_layout, the regions' memfds
				 * with it (SCM_RIGHTS), one per region in order */
};

/* MIG_REC_MEMORY's payload: nr_regions entries of region[] are sent. */
struct mig_mem_layout {
	uint32_t nr_regions;
	uint32_t reserved;	/* 0 */
	struct {
		uint64_t gpa;
		uint64_t size;
	} region[];
} __attribute__((packed));

struct mig_rec {
	uint32_t type;
	uint32_t flags;
	uint64_t addr;
	uint64_t len;
	uint64_t csum;		/* of the payload */
	uint64_t hcsum;		/* of the fields above */
} __attribute__((packed));

enum mig_state {
	MIG_NONE,
	MIG_ACTIVE,
	MIG_COMPLETED,
	MIG_FAILED,
	MIG_CANCELLED,
	MIG_INCOMING,		/* destination: waiting for or reading a stream */
};

struct migration {
	struct vm *vm;
	pthread_t thread;
	bool thread_running;
	enum mig_state state;
	bool snapshot;		/* pause, save, resume: no pre-copy, source keeps running */
	bool local;		/* mode=local: RAM goes by file descriptor, no pre-copy */
	bool cancel;
	bool committed;		/* the end marker is out: too late to cancel */
	bool stopped;		/* in stop-and-copy: the pause is ours */
	bool devices_held;	/* lost acknowledgement: devices wait for `resume` */
	int fd;
	char uri[MIG_URI_MAX + 1];
	char error[256];
	uint32_t downtime_limit_ms;
	uint64_t max_bandwidth;
	/* progress, read by status */
	int round;
	uint64_t bytes_sent;
	uint64_t pages_sent, zero_pages;
	uint64_t remaining_pages;
	double bandwidth;	/* bytes/s, last round */
	double dirty_rate;	/* bytes/s dirtied, last round */
	double expected_downtime_ms;
	double total_ms, downtime_ms;
	uint64_t start_ns;
	uint64_t *page_sums;	/* checksums of the pages of one RAM record */
	int pipe[2];		/* socket streams: guest pages go by splice */
	pthread_mutex_t lock;	/* fd against a cancelling shutdown() */
	char part[PATH_MAX + 8];	/* file: written here, renamed when complete */
	struct control_waiter *waiter;	/* wait=true: answered when it ends */
	int done_fd;		/* eventfd: the migration thread has ended */
	bool exiting;		/* vlab is stopping: cancelled by quit or a signal */
	/* destination */
	bool in_listening;	/* in_fd listens (unix:, tcp:), else a file: */
	int in_fd;
	int in_cancel_fd;	/* eventfd: stop waiting */
	int in_done_fd;		/* eventfd: the incoming thread has ended */
	int in_ret;
	char in_err[512];
	char in_path[108];	/* the unix: socket file we made, to remove */
	dev_t in_dev;
	ino_t in_ino;
	struct dirty_log dirty_log;	/* pages written since the last round */
	/*
	 * For the control socket's watch, one bit a page as in the dirty log:
	 * pages sent and not found dirty since, and what the last sync found
	 * dirty (this round's work). Written by the migration thread with
	 * relaxed stores, read the same way from the main thread; mig_start()
	 * allocates them and only the next start or migrate_exit() frees
	 * them, so a reader never sees them go.
	 */
	unsigned long *sent_bm, *pending_bm;
	uint64_t bm_words;
	uint64_t round_pages, round_sent;	/* this round's pages: all, sent */
};

/*
 * The "migration" object of status and watch: its state, and while one
 * runs or after it ended its phase, round, progress, rates and downtime.
 */
struct json_writer;
void migrate_write_status(struct vm *vm, struct json_writer *w);
/*
 * The phase a watch shows: "pre-copy", "handing-over" (mode=local, before
 * the pause), "stop-and-copy", "snapshot", or the state's name.
 */
const char *mig_phase_name(const struct migration *m);

/* Register the control commands and the status member. */
void migrate_init(struct vm *vm);
void migrate_exit(struct vm *vm);
/*
 * Destination: open or listen on @uri now (a bad URI or a path in use is
 * refused here, with a message), then wait for the stream and read it on
 * a thread while the event loop runs: status answers "waiting", and quit
 * or SIGINT/SIGTERM end the wait (migrate_exit() removes the socket
 * file). When the stream is in, the loop starts the vCPUs; when it is
 * refused, vlab stops with VLAB_EXIT_USAGE. @vm is created, not started.
 */
int migrate_incoming_start(struct vm *vm, const char *uri, char *err, size_t errlen);
/* After the destination's vCPUs run: restart devices, announce. */
void migrate_incoming_done(struct vm *vm);
/* Fast checksum for the stream, whole or streamed; exposed for tests. */
typedef uint64_t mig_lanes __attribute__((vector_size(16)));
struct mig_csum {
	mig_lanes a[4], c[4];
};
void mig_csum_init(struct mig_csum *ck, uint64_t seed, uint64_t len);
void mig_csum_update(struct mig_csum *ck, const void *p, uint64_t len);
uint64_t mig_csum_final(const struct mig_csum *ck);
uint64_t mig_csum(const void *p, uint64_t len, uint64_t seed);

/*
 * The destination's reader on a stream already open (a file: nobody is
 * acknowledged), into @vm: every record checked before it is used. For
 * fuzz targets and tests; vlab itself uses --incoming. 0 or -1 with @err.
 */
int migrate_receive_fd(struct vm *vm, int fd, char *err, size_t errlen);

#endif
