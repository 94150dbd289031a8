/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reliable connected transport of one QP, both halves, on RoCEv2
 * packets (devices/rdma/roce.h), with no memory of its own: the requester
 * cuts posted SEND and RDMA WRITE messages (with or without immediate)
 * into path-MTU packets with consecutive 24-bit PSNs, keeps at most
 * RC_WINDOW of them unacknowledged, asks for an ACK on each message's
 * last packet and every RC_ACK_EVERY packets, and goes back to the oldest
 * unacknowledged PSN on a PSN-sequence NAK or when the retransmit timer
 * (4.096 us x 2^timeout) runs out, retry_cnt times at most; the responder
 * takes packets only in PSN order, checks that FIRST/MIDDLE/LAST follow
 * each other, hands each packet's data to its owner once, acknowledges
 * (cumulatively, with the MSN) where asked, answers a duplicate with an
 * ACK of what it has and a packet from the future with one PSN-sequence
 * NAK until the gap is filled.
 *
 * What is not here yet: RDMA READ and atomics, RNR NAKs (a receiver with
 * no buffer), the opcode/length checks an MR makes (the owner's
 * rc_recv_fn refuses with a NAK code).
 */
#ifndef VLAB_RDMA_RC_H
#define VLAB_RDMA_RC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/rdma/roce.h"

#define RC_SQ_MAX	64	/* messages posted and not yet completed */
#define RC_WINDOW	64	/* packets in flight */
#define RC_ACK_EVERY	16	/* an ACK asked for at least this often */
#define RC_PSN_MASK	0xffffffu

/* AETH syndromes (IBA 9.7.5.1.1). */
#define RC_AETH_ACK		0x00	/* | credit count */
#define RC_AETH_NAK		0x60	/* | code */
#define RC_NAK_PSN_SEQ		0
#define RC_NAK_INVALID		1
#define RC_NAK_REMOTE_ACCESS	2
#define RC_NAK_REMOTE_OP	3

enum rc_status {
	RC_OK,
	RC_RETRY_EXCEEDED,	/* no ACK after retry_cnt retransmissions */
	RC_REMOTE_ERROR,	/* the responder NAKed (access, operation, request) */
	RC_FLUSHED,		/* the QP went to ERR with the message still queued */
};

struct rc_msg {
	uint64_t id;
	uint8_t op;		/* ROCE_SEND_ONLY(_IMM) or ROCE_WRITE_ONLY(_IMM): the kind */
	const uint8_t *data;
	uint32_t len;
	uint64_t va;		/* WRITE */
	uint32_t rkey;		/* WRITE */
	uint32_t imm;
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

struct rc_qp {
	uint32_t mtu;		/* path MTU: 256..4096 */
	uint8_t timeout;	/* 4.096 us x 2^timeout, 0: no timer */
	uint8_t retry_cnt;	/* 0..7 */
	uint32_t dqpn;
	bool error;		/* in ERR: nothing more is sent or taken */
	void *ctx;
	rc_recv_fn recv;
	rc_done_fn done;

	/* requester */
	struct rc_msg sq[RC_SQ_MAX];
	unsigned int sq_head, sq_count;	/* oldest not completed, how many */
	unsigned int send_msg;		/* index from sq_head of the message being sent */
	uint32_t send_pkt;		/* its next packet */
	uint32_t psn;			/* next PSN to send */
	uint32_t una;			/* oldest unacknowledged */
	uint32_t since_ack_req;
	uint64_t deadline_ns;		/* retransmit timer, 0: stopped */
	uint8_t retries;		/* left */
	uint64_t sent, resent, timeouts, naks_rx;

	/* responder */
	uint32_t epsn;			/* next PSN expected */
	uint32_t msn;			/* messages completed */
	uint32_t msg_off;		/* into the message being received */
	bool in_msg;			/* between a FIRST and its LAST */
	bool nak_sent;			/* a sequence NAK is out for epsn */
	uint64_t dups, out_of_seq;
};

/* 24-bit PSN difference a - b, as a signed number. */
static inline int32_t rc_psn_diff(uint32_t a, uint32_t b)
{
	return (int32_t)((a - b) << 8) >> 8;
}

void rc_init(struct rc_qp *qp, uint32_t mtu, uint32_t sq_psn, uint32_t rq_psn, uint32_t dqpn,
	     uint8_t timeout, uint8_t retry_cnt, rc_recv_fn recv, rc_done_fn done, void *ctx);
/* Queue a message: 0, -EAGAIN (the queue is full), -EINVAL (not SEND/WRITE). */
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

#endif
