/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The front end's half of the vhost-user protocol (as QEMU speaks it to a
 * backend such as DPDK's vhost PMD): messages over a unix stream socket,
 * file descriptors beside them (SCM_RIGHTS). vlab is the front end: it
 * connects, owns the guest's memory and rings, and hands the backend the
 * memory table, the ring addresses and the kick/call eventfds.
 *
 * Every reply is checked (request code, flags, size) before a byte of it
 * is used: a backend that lies gets an error, never more.
 */
#ifndef VLAB_VHOST_USER_H
#define VLAB_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vhost_types.h>

enum vhu_request {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_LOG_BASE = 6,
	VHU_SET_LOG_FD = 7,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_SET_VRING_ERR = 14,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18,
};

/* Header flags: version 1 in bits 0-1, then reply and need-reply. */
#define VHU_VERSION		0x1u
#define VHU_VERSION_MASK	0x3u
#define VHU_FLAG_REPLY		(1u << 2)
#define VHU_FLAG_NEED_REPLY	(1u << 3)

/* The virtio feature bit that says the backend speaks protocol features. */
#define VHU_F_PROTOCOL_FEATURES	30

/* Protocol feature bits. */
#define VHU_PROTOCOL_F_MQ		0
#define VHU_PROTOCOL_F_LOG_SHMFD	1
#define VHU_PROTOCOL_F_REPLY_ACK	3

/* SET_VRING_KICK/CALL payload: the ring index, and "no fd" (polling). */
#define VHU_VRING_IDX_MASK	0xffu
#define VHU_VRING_NOFD		(1u << 8)

#define VHU_MAX_REGIONS		8
#define VHU_MAX_FDS		8
#define VHU_HDR_SIZE		12

struct vhu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;		/* the front end's own address of it */
	uint64_t mmap_offset;
};

struct vhu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhu_region regions[VHU_MAX_REGIONS];
};

struct vhu_log {
	uint64_t size;
	uint64_t offset;
};

struct vhu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	union {
		uint64_t u64;
		struct vhost_vring_state state;
		struct vhost_vring_addr addr;
		struct vhu_mem_table mem;
		struct vhu_log log;
	} payload;
} __attribute__((packed));

/* One connection to a backend; all of it is the caller's to lock. */
struct vhu_conn {
	int fd;
	uint64_t features;		/* what the backend offered */
	uint64_t protocol_features;	/* negotiated */
	uint32_t queue_num;		/* GET_QUEUE_NUM, with MQ; else 0 */
	int timeout_ms;			/* a backend silent this long is dead */
	char err[160];			/* why the last call failed */
};

/*
 * Connect to the backend listening on @path and learn what it offers:
 * GET_FEATURES, and with PROTOCOL_FEATURES the protocol features we both
 * know (MQ, REPLY_ACK, LOG_SHMFD), GET_QUEUE_NUM with MQ, then SET_OWNER.
 * -1 with @c->err on failure (the socket closed).
 */
int vhu_connect(struct vhu_conn *c, const char *path);
/* The same on a connected @c->fd (a test's socketpair): the socket stays open. */
int vhu_handshake(struct vhu_conn *c);
void vhu_close(struct vhu_conn *c);

/*
 * Send @req with @len payload bytes and @nfds descriptors. With REPLY_ACK
 * negotiated and @ack, waits for the backend's ack (0 means success).
 * For GET_* requests use vhu_get(). 0, or -1 with @c->err.
 */
int vhu_send(struct vhu_conn *c, uint32_t req, const void *payload, uint32_t len,
	     const int *fds, int nfds, bool ack);
/* Send @req with @in (u64 or vring state), read the reply's u64 / state into @out. */
int vhu_get(struct vhu_conn *c, uint32_t req, const void *in, uint32_t in_len, void *out,
	    uint32_t out_len);

/*
 * Share the dirty log (a memfd of @size bytes, one bit per guest page):
 * the backend maps it and answers. Needs LOG_SHMFD.
 */
int vhu_set_log_base(struct vhu_conn *c, int fd, uint64_t size);
/* Convenience wrappers, each one message. */
int vhu_set_u64(struct vhu_conn *c, uint32_t req, uint64_t v, bool ack);
int vhu_set_state(struct vhu_conn *c, uint32_t req, uint32_t index, uint32_t num);
int vhu_set_fd(struct vhu_conn *c, uint32_t req, uint32_t index, int fd);

/*
 * Check a reply as it came off the socket (@buf, @len bytes, header
 * included) to request @req whose payload must be @want bytes: version,
 * reply flag, request code, size. 0, or -1 with why in @err. The only
 * parser of what the backend says (fuzz_vhost_user).
 */
int vhu_reply_check(const void *buf, size_t len, uint32_t req, uint32_t want, char *err,
		    size_t errlen);

#endif
