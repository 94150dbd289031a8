/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hub backend: vlab processes that name one directory exchange frames
 * through shared-memory rings (design at the top of net_hub.c).
 */
#ifndef VLAB_NET_HUB_H
#define VLAB_NET_HUB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#define NET_HUB_MAX_PEERS	64
#define NET_HUB_RING_BYTES	(8u << 20)	/* a sender's frames, wrapped */
#define NET_HUB_REC_HDR		16		/* struct hub_rec */
#define NET_HUB_REC_PAD		0xffffffffu	/* len of a record that fills the end */

/* Start of a peer's shared memory; its frames follow at NET_HUB_HDR_BYTES. */
struct hub_ring {
	uint32_t magic;
	uint32_t version;
	uint64_t size;				/* data bytes: NET_HUB_RING_BYTES */
	uint8_t pad0[48];
	uint64_t head __attribute__((aligned(64)));	/* records end here (release) */
	uint64_t reserve __attribute__((aligned(64)));	/* written up to here */
	uint64_t sleep __attribute__((aligned(64)));	/* the owner's sleep generation */
};

#define NET_HUB_HDR_BYTES	4096u

/* A record: its ring position (a check on the index) and frame length. */
struct hub_rec {
	uint64_t pos;
	uint32_t len;
	uint32_t zero;
};

struct net_hub_peer {
	char id[32];			/* "PID-N" of its port-ID and ring-ID */
	int sock;			/* connected to its port: its wake-ups */
	const struct hub_ring *ring;	/* its frames, mapped read-only */
	uint64_t rd;			/* our next byte in its ring */
	uint64_t woken;			/* its sleep generation we last woke */
	bool seen;
	bool gone;			/* its port is: read what it left, then drop it */
};

struct net_hub {
	char dir[108];
	char port[108];			/* our socket: wake-ups arrive here */
	char link[108];			/* ring-ID -> /proc/PID/fd/N of our memfd */
	char id[32];
	int memfd;
	struct hub_ring *ring;		/* ours, read-write */
	uint64_t head;			/* private copy of ring->head */
	struct net_hub_peer peers[NET_HUB_MAX_PEERS];
	int nr_peers;
	int next;			/* peer read first: round robin */
	uint64_t last_scan_ns, last_look_ns;
	struct timespec dir_mtime;
	pthread_mutex_t lock;
	uint64_t burst_looked;		/* head at this burst's last wake-up look */
	uint64_t rx_lost;		/* times frames were lost: lapped, corrupt, too big */
};

/* Join the hub in @dir; @fd gets the socket that is readable on a wake-up. */
int net_hub_open(struct net_hub *hub, const char *dir, int *fd, char *err, size_t errlen);
void net_hub_close(struct net_hub *hub);
/* Never blocks: a receiver that lags a whole ring behind loses frames. */
int net_hub_send(struct net_hub *hub, const struct iovec *iov, int iovcnt);
/*
 * A burst of frames from one thread: the hub's lock held from begin to
 * end, and the fence and the look at sleeping readers that each
 * net_hub_send() makes done at the end, and within the burst once every
 * NET_HUB_BURST_WAKE bytes of ring (an eighth of it: a reader asleep
 * meanwhile is woken long before the ring could lap it). A window of RDMA
 * packets is a quarter of that: one look, at the end. Waking a reader
 * every 16 frames (until 2026-12-05) made it preempt the sender where the
 * two share a CPU, and where they do not it started only microseconds
 * sooner: both rdma_stream streams were faster with the one look.
 */
#define NET_HUB_BURST_WAKE	(NET_HUB_RING_BYTES / 8)
void net_hub_burst_begin(struct net_hub *hub);
int net_hub_burst_send(struct net_hub *hub, const struct iovec *iov, int iovcnt);
void net_hub_burst_end(struct net_hub *hub);
/* One frame into @buf: its length, or 0 when none waits (a wake-up is then asked for). */
ssize_t net_hub_recv(struct net_hub *hub, int fd, void *buf, size_t len);
/* Whether a peer's ring holds a frame for us: memory reads only, no sleep declared. */
bool net_hub_pending(struct net_hub *hub);
/*
 * For the watch stream: our sleep generation, and each peer's unread
 * bytes, its generation and the one we last woke, and whether it left.
 */
struct json_writer;
void net_hub_watch(struct net_hub *hub, struct json_writer *w);

/*
 * Read the record at *@rd of @ring (@size data bytes, trusted: the mapping's
 * own) into @buf; everything in @ring is another process's and is checked.
 * Returns the frame's length (and advances *@rd), 0 when there is nothing to
 * read, or -1 when a record was skipped (*@lost counts it; call again).
 */
ssize_t net_hub_ring_read(const struct hub_ring *ring, uint64_t size, uint64_t *rd, void *buf,
			  size_t len, uint64_t *lost);
/* Append one frame (1 byte or more) to our own @ring at *@head. 0, or -EMSGSIZE. */
int net_hub_ring_write(struct hub_ring *ring, uint64_t size, uint64_t *head,
		       const struct iovec *iov, int iovcnt);

#endif
