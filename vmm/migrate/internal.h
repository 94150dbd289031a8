/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Between the parts of migration, not for the rest of vlab:
 *   stream.c    records, checksums, throttled sending, receiving, URIs
 *   dirty.c     the dirty log and its sources (dirty.h)
 *   vmstate.c   the configuration check and the state tree
 *   precopy.c   the source: rounds, stop-and-copy, the migration thread
 *   incoming.c  the destination
 *   commands.c  control commands and status
 */
#ifndef VLAB_MIGRATE_INTERNAL_H
#define VLAB_MIGRATE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "vmm/mem/guest_mem.h"
#include "vmm/migrate/migrate.h"

struct json_value;
struct json_writer;
struct state_buf;
struct vm;

#define BITS_PER_LONG		(8 * sizeof(unsigned long))
#define MIG_ACK			"VLABMIG-OK\n"
/* A local destination has mapped the source's memory: the source may pause. */
#define MIG_MAPPED		"VLABMIG-MAPPED\n"
#define MIG_ACK_TIMEOUT_MS	30000
/* 2: a node per device kind (1 had "nics" for --net only). */
#define MIG_CONFIG_VERSION	2
#define MIG_WAITING		"this vlab is waiting for an incoming migration stream"

/* stream.c */
void mig_fail(struct migration *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int mig_write_full(int fd, const struct iovec *iov, int n);
int mig_read_full(int fd, void *buf, size_t len);
int mig_send(struct migration *m, uint32_t type, uint64_t addr, const void *data,
	     uint64_t len, bool has_payload);
int mig_send_ram(struct migration *m, uint64_t gpa, const uint8_t *host, uint64_t npages);
int mig_open_uri(const char *uri, bool dest, char *err, size_t errlen);
/* File descriptors that came with the stream (SCM_RIGHTS on a unix socket). */
struct mig_fds {
	int fd[GM_MAX_REGIONS];
	int nr;
	bool too_many;		/* more came than fit: closed, and refused */
};
void mig_fds_close(struct mig_fds *fds);
int mig_send_fds(struct migration *m, uint32_t type, uint64_t addr, const void *data,
		 uint64_t len, bool has_payload, const int *fds, int nr_fds);
/* The next record's header; with @fds, those that came with it too. */
int mig_recv_rec(int fd, struct mig_rec *rec, struct mig_fds *fds, char *err, size_t errlen);
ssize_t mig_read_slice(int fd, uint8_t *p, uint64_t left, char *err, size_t errlen);
int mig_recv_payload(int fd, void *buf, const struct mig_rec *rec, char *err,
		     size_t errlen);

/* vmstate.c */
int mig_config_save(struct vm *vm, struct state_buf *sb);
int mig_config_check(struct vm *vm, const void *fdt, size_t len, char *err, size_t errlen);
int mig_state_save(struct vm *vm, struct state_buf *sb);
int mig_state_load(struct vm *vm, const void *fdt, size_t len, char *err, size_t errlen);
/* The early state of the devices that have one: 1 saved, 0 none has, <0 error. */
int mig_early_save(struct vm *vm, struct state_buf *sb);
void mig_early_load(struct vm *vm, const void *fdt, size_t len);
/* Quiesce (true) or restart every device that registered state. */
void mig_devices(struct vm *vm, bool quiesce);

/* precopy.c */
int mig_start(struct vm *vm, const char *uri, bool snapshot, const struct json_value *req,
	      struct json_writer *reply);

/* local.c: guest RAM handed over by file descriptor (mode=local) */
int mig_send_memory(struct migration *m);
int mig_recv_memory(struct vm *vm, int fd, const struct mig_rec *rec, struct mig_fds *fds,
		    char *err, size_t errlen);

/* incoming.c */
void mig_incoming_cancel(struct migration *m);

#endif
