/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reliable connected transport of one QP, both halves, on RoCEv2
 * packets (devices/rdma/roce.h), with no memory of its own: the requester
 * cuts posted SEND and RDMA WRITE messages (with or without immediate)
 * into path-MTU packets, sends RDMA READ requests (a READ of N packets
 * takes N PSNs, its responses carry them) with consecutive 24-bit PSNs, keeps a
 * window of them unacknowledged (RC_WINDOW_BYTES, RC_WINDOW packets at
 * most), asks for an ACK on each message's last packet and every quarter
 * window (RC_ACK_EVERY packets at most), and goes back to the oldest
 * unacknowledged PSN on a PSN-sequence NAK or when the retransmit timer
 * (4.096 us x 2^timeout) runs out, retry_cnt times at most; the responder
 * takes packets only in PSN order, checks that FIRST/MIDDLE/LAST follow
 * each other, hands each packet's data to its owner once, acknowledges
 * (cumulatively, with the MSN) where asked, answers a duplicate with an
 * ACK of what it has and a packet from the future with one PSN-sequence
 * NAK until the gap is filled; a READ request (new, or a duplicate: a
 * requester asking again from where its responses went missing) queues
 * its responses, sent before the QP's own requests. The requester takes
 * READ responses only in PSN order; one that skips ahead sends it back to
 * ask again from the first missing.
 *
 * A receiver without a buffer (rc_recv_fn returns RC_RECV_RNR) answers
 * with an RNR NAK carrying its min_rnr_timer; the requester waits that
 * long and sends again from that PSN, rnr_retry times (7: without end).
 *
 * Atomics (compare-and-swap, fetch-and-add) run once: their results are
 * kept, and a duplicate request is answered from them. The checks an MR
 * makes are the owner's (rc_recv_fn, rc_read_fn, rc_atomic_fn refuse with
 * a NAK code).
 */
#ifndef VLAB_RDMA_RC_H
#define VLAB_RDMA_RC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/rdma/roce.h"

/* Messages posted and not yet completed: the MAD layer's QP1 wants 512 receives. */
#define RC_SQ_MAX	512
/*
 * The "rc" state node: 2 keeps only the messages held, not the whole
 * ring; 3 adds "sq-solicited", their SE flags (a version 2 node loads with
 * none set).
 */
#define RC_STATE_VERSION	3
/*
 * In flight: RC_WINDOW_BYTES of packets, RC_WINDOW at most. More than
 * about 512 KiB outran the caches of the copies on the way and halved
 * bench-rdma's stream; fewer than 256 KiB left it waiting for ACKs.
 */
#define RC_WINDOW	256
#define RC_WINDOW_BYTES	(256u << 10)
/*
 * An ACK asked for every quarter window, every RC_ACK_EVERY packets at
 * most: each ACK costs both ends a frame and often a wake-up, and a
 * quarter keeps three quarters in flight while it comes. Every 16 at a
 * 1024-byte MTU cost 6% more device CPU a packet than every 64.
 */
#define RC_ACK_EVERY	64
#define RC_PSN_MASK	0xffffffu
#define RC_MSG_MAX	(1u << 31)	/* bytes in one message (IBA: 2^31) */

/* AETH syndromes (IBA 9.7.5.1.1). */
#define RC_AETH_ACK		0x00	/* | credit count */
#define RC_AETH_NAK		0x60	/* | code */
#define RC_NAK_PSN_SEQ		0
#define RC_NAK_INVALID		1
#define RC_NAK_REMOTE_ACCESS	2
#define RC_NAK_REMOTE_OP	3
#define RC_AETH_RNR		0x20	/* | the RNR timer's code */
/* What rc_recv_fn returns when there is no receive buffer yet: an RNR NAK. */
#define RC_RECV_RNR		0x100

enum rc_status {
	RC_OK,
	RC_RETRY_EXCEEDED,	/* no ACK after retry_cnt retransmissions */
	RC_REMOTE_ERROR,	/* the responder NAKed (access, operation, request) */
	RC_FLUSHED,		/* the QP went to ERR with the message still queued */
	RC_RNR_RETRY_EXCEEDED,	/* the responder had no buffer rnr_retry times */
	RC_LOCAL_ERROR,		/* the message's data could not be read (rc_payload_fn) */
};

struct rc_msg {
	uint64_t id;
	uint8_t op;		/* the kind: ROCE_SEND_ONLY(_IMM), ROCE_WRITE_ONLY(_IMM),
				   ROCE_READ_REQUEST, ROCE_CMP_SWAP, ROCE_FETCH_ADD */
	const uint8_t *data;	/* SEND, WRITE; NULL: each packet's from rc_payload_fn */
	uint8_t *dest;		/* READ: where the data goes; atomics: the original 8 bytes */
	uint32_t len;
	uint64_t va;		/* WRITE, READ: the peer's */
	uint32_t rkey;		/* WRITE, READ */
	uint32_t imm;
	bool solicited;		/* SEND, WRITE with immediate: SE on the last packet */
	uint64_t swap_add, compare;	/* atomics */
	/* requester's bookkeeping */
	uint32_t first_psn, npkts;
};

/*
 * A request packet's data for the owner (responder side): @off bytes into
 * the message whose first packet it belongs to. 0 to take it, or a NAK
 * code (RC_NAK_*) to refuse the message.
 */
typedef int (*rc_recv_fn)(void *ctx, const struct roce_pkt *p, uint32_t off, bool first,
			  bool last);
/* A posted message is done (requester side), in posting order. */
typedef void (*rc_done_fn)(void *ctx, uint64_t id, enum rc_status st);
/*
 * The data of a packet of message @id with no @data of its own (requester
 * side): its @len bytes @off bytes into the message, in *@data until the
 * next call. Read for each packet sent, and again for each sent again, as
 * a NIC's DMA reads the posted buffer. 0, or nonzero if it cannot be
 * read: the message fails with RC_LOCAL_ERROR, the QP goes to ERR.
 */
typedef int (*rc_payload_fn)(void *ctx, uint64_t id, uint32_t off, uint32_t len,
			     const uint8_t **data);
/*
 * A READ request (responder side): where its @len bytes at @va under
 * @rkey are to be read from, in *@src; 0, or a NAK code (RC_NAK_*).
 */
typedef int (*rc_read_fn)(void *ctx, uint64_t va, uint32_t rkey, uint32_t len,
			  const uint8_t **src);
/*
 * An atomic request (responder side): the 8 bytes at @va under @rkey
 * (aligned, with remote atomic access), in *@target; 0 or a NAK code.
 */
typedef int (*rc_atomic_fn)(void *ctx, uint64_t va, uint32_t rkey, uint64_t **target);

#define RC_ATOMIC_SAVED	8	/* atomic results kept for duplicates */

#define RC_RD_MAX	8	/* READ requests answered at once (max_dest_rd_atomic) */

struct rc_rd {
	bool atomic;		/* an ATOMIC_ACK carrying @orig, not READ data */
	uint64_t orig;
	uint32_t psn;		/* of the next response */
	uint32_t left;		/* responses still to send */
	uint32_t first;		/* 1 if the next is the request's first response */
	uint64_t va;		/* of the next response's data (read through rc_read_fn) */
	uint32_t rkey;
	uint32_t len;		/* bytes still to send */
};

struct rc_qp {
	uint32_t mtu;		/* path MTU: 256..4096 */
	uint8_t timeout;	/* 4.096 us x 2^timeout, 0: no timer */
	uint8_t retry_cnt;	/* 0..7 */
	uint8_t rnr_retry;	/* 0..7, 7: without end */
	uint8_t min_rnr_timer;	/* responder: the code its RNR NAKs carry (IBA table) */
	uint32_t dqpn;
	bool error;		/* in ERR: nothing more is sent or taken */
	void *ctx;
	rc_recv_fn recv;
	rc_done_fn done;
	rc_read_fn read;
	rc_atomic_fn atomic;
	rc_payload_fn payload;

	/* requester */
	struct rc_msg sq[RC_SQ_MAX];
	unsigned int sq_head, sq_count;	/* oldest not completed, how many */
	unsigned int send_msg;		/* index from sq_head of the message being sent */
	uint32_t send_pkt;		/* its next packet */
	uint32_t psn;			/* next PSN to send */
	uint32_t una;			/* oldest unacknowledged */
	uint32_t psn_max;		/* next PSN never sent: below it, sent again */
	uint32_t since_ack_req;
	uint64_t deadline_ns;		/* retransmit timer, 0: stopped */
	uint8_t retries;		/* left */
	uint8_t rnr_retries;		/* left */
	uint64_t rnr_until_ns;		/* after an RNR NAK: send nothing before */
	uint64_t rnr_naks_rx;
	uint64_t sent, resent, timeouts, naks_rx;

	/* responder */
	uint32_t epsn;			/* next PSN expected */
	uint32_t msn;			/* messages completed */
	uint32_t msg_off;		/* into the message being received */
	bool in_msg;			/* between a FIRST and its LAST */
	bool nak_sent;			/* a sequence NAK is out for epsn */
	struct rc_rd rd[RC_RD_MAX];	/* READ responses to send, oldest first */
	unsigned int rd_head, rd_count;
	struct { uint32_t psn; uint64_t orig; bool used; } saved[RC_ATOMIC_SAVED];
	unsigned int saved_next;	/* atomics done, for duplicates: not done twice */
	bool ack_owed;			/* an ACK to send once those have gone */
	bool resync_owed;		/* after a move: tell the peer where we are */
	uint32_t ack_owed_psn;
	uint64_t dups, out_of_seq, reads_again, atomic_replays;
};

/* 24-bit PSN difference a - b, as a signed number. */
static inline int32_t rc_psn_diff(uint32_t a, uint32_t b)
{
	return (int32_t)((a - b) << 8) >> 8;
}

/* Packets @qp may have unacknowledged: RC_WINDOW_BYTES of its path MTU. */
static inline int32_t rc_window(const struct rc_qp *qp)
{
	uint32_t n = qp->mtu ? RC_WINDOW_BYTES / qp->mtu : RC_WINDOW;

	return n < 1 ? 1 : n > RC_WINDOW ? RC_WINDOW : (int32_t)n;
}

/* Packets between ACK requests within a message. */
static inline uint32_t rc_ack_every(const struct rc_qp *qp)
{
	uint32_t n = (uint32_t)rc_window(qp) / 4;

	return n < 1 ? 1 : n > RC_ACK_EVERY ? RC_ACK_EVERY : n;
}

void rc_init(struct rc_qp *qp, uint32_t mtu, uint32_t sq_psn, uint32_t rq_psn, uint32_t dqpn,
	     uint8_t timeout, uint8_t retry_cnt, rc_recv_fn recv, rc_done_fn done, void *ctx);
/*
 * The requester's half from Modify QP to RTS (rc_init() set up the
 * responder's at RTR): first PSN, timer and retry counts. Nothing sent yet.
 */
void rc_set_requester(struct rc_qp *qp, uint32_t sq_psn, uint8_t timeout, uint8_t retry_cnt,
		      uint8_t rnr_retry);
/* Queue a message: 0, -EAGAIN (the queue is full), -EINVAL (not an operation above). */
int rc_post(struct rc_qp *qp, const struct rc_msg *m);
/*
 * The next packet to put on the wire (new, or again after a NAK or a
 * timeout): true and @p filled (BTH and transport fields; the caller adds
 * addresses), false if nothing may go now. Starts the timer.
 */
bool rc_next(struct rc_qp *qp, uint64_t now_ns, struct roce_pkt *p);
/*
 * A packet from the peer for this QP: requests go to the responder,
 * ACKs and NAKs to the requester. true if @reply (an ACK or NAK) must be
 * sent back.
 */
bool rc_receive(struct rc_qp *qp, const struct roce_pkt *in, uint64_t now_ns,
		struct roce_pkt *reply);
/* Time passes: the retransmit timer may go off (back to the oldest unacked PSN). */
void rc_tick(struct rc_qp *qp, uint64_t now_ns);

/*
 * The QP's transport state into a "rc" node of @sb (a migration, a
 * snapshot), and back: everything but the owner's callbacks and the
 * posted messages' buffers, which the owner attaches again by id after a
 * load (rc_msg.data and .dest). The load checks every value and changes
 * nothing on error. Then rc_resume() starts again at @now_ns (time does
 * not move with the QP): the requester sends again from its oldest
 * unacknowledged PSN at once, and the responder tells the peer the PSN it
 * expects (a PSN-sequence NAK), so that the peer sends again at once too:
 * packets lost in the move cost neither side a timeout or a retry.
 */
struct state_buf;
int rc_save(const struct rc_qp *qp, struct state_buf *sb);
int rc_load(struct rc_qp *qp, const void *fdt, int parent, char *err, size_t errlen);
void rc_resume(struct rc_qp *qp, uint64_t now_ns);

#endif
