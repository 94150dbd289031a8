// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/rdma/rc.h"
#include "vmm/migrate/state.h"

static bool is_atomic(uint8_t op)
{
	return op == ROCE_CMP_SWAP || op == ROCE_FETCH_ADD;
}

/* Operations acknowledged only by their responses. */
static bool has_response(uint8_t op)
{
	return op == ROCE_READ_REQUEST || is_atomic(op);
}

static uint32_t psn_add(uint32_t psn, uint32_t n)
{
	return (psn + n) & RC_PSN_MASK;
}

static struct rc_msg *sq_at(struct rc_qp *qp, unsigned int i)
{
	return &qp->sq[(qp->sq_head + i) % RC_SQ_MAX];
}

static void fail_one(struct rc_qp *qp, uint64_t id, enum rc_status st);

static uint64_t timeout_ns(const struct rc_qp *qp)
{
	/* 4.096 us x 2^timeout (IBA 9.7.6.1.3). */
	return qp->timeout ? 4096ULL << qp->timeout : 0;
}

void rc_init(struct rc_qp *qp, uint32_t mtu, uint32_t sq_psn, uint32_t rq_psn, uint32_t dqpn,
	     uint8_t timeout, uint8_t retry_cnt, rc_recv_fn recv, rc_done_fn done, void *ctx)
{
	memset(qp, 0, sizeof(*qp));
	qp->mtu = mtu;
	qp->psn = qp->una = qp->psn_max = sq_psn & RC_PSN_MASK;
	qp->epsn = rq_psn & RC_PSN_MASK;
	qp->dqpn = dqpn;
	qp->timeout = timeout;
	qp->retry_cnt = qp->retries = retry_cnt;
	qp->rnr_retry = qp->rnr_retries = 7;
	qp->min_rnr_timer = 1;		/* 0.01 ms */
	qp->recv = recv;
	qp->done = done;
	qp->ctx = ctx;
}

void rc_set_requester(struct rc_qp *qp, uint32_t sq_psn, uint8_t timeout, uint8_t retry_cnt,
		      uint8_t rnr_retry)
{
	qp->psn = qp->una = qp->psn_max = sq_psn & RC_PSN_MASK;
	qp->timeout = timeout;
	qp->retry_cnt = qp->retries = retry_cnt & 7;
	qp->rnr_retry = qp->rnr_retries = rnr_retry & 7;
}

int rc_post(struct rc_qp *qp, const struct rc_msg *m)
{
	struct rc_msg *s;

	if (m->op != ROCE_SEND_ONLY && m->op != ROCE_SEND_ONLY_IMM && m->op != ROCE_WRITE_ONLY &&
	    m->op != ROCE_WRITE_ONLY_IMM && m->op != ROCE_READ_REQUEST &&
	    m->op != ROCE_CMP_SWAP && m->op != ROCE_FETCH_ADD)
		return -EINVAL;
	if ((is_atomic(m->op) && (m->va & 7)) || m->len > RC_MSG_MAX)
		return -EINVAL;
	if (qp->sq_count == RC_SQ_MAX)
		return -EAGAIN;
	s = sq_at(qp, qp->sq_count++);
	*s = *m;
	s->npkts = m->len && !is_atomic(m->op) ? (m->len + qp->mtu - 1) / qp->mtu : 1;
	return 0;
}

/*
 * The opcode of packet @k of @npkts of a message of kind @op: SEND and
 * WRITE number FIRST, MIDDLE, LAST, LAST_WITH_IMM consecutively.
 */
static uint8_t pkt_opcode(uint8_t op, uint32_t k, uint32_t npkts)
{
	bool imm = op == ROCE_SEND_ONLY_IMM || op == ROCE_WRITE_ONLY_IMM;
	uint8_t first = op == ROCE_SEND_ONLY || op == ROCE_SEND_ONLY_IMM ? ROCE_SEND_FIRST :
									   ROCE_WRITE_FIRST;

	if (npkts == 1)
		return op;
	if (!k)
		return first;
	if (k + 1 < npkts)
		return first + 1;
	return first + (imm ? 3 : 2);
}

static void make_reply(struct rc_qp *qp, struct roce_pkt *r, uint8_t syndrome, uint32_t psn);

/* A packet taking @n PSNs from qp->psn goes out: new, or again. */
static void count_sent(struct rc_qp *qp, uint32_t n)
{
	if (rc_psn_diff(qp->psn, qp->psn_max) < 0)
		qp->resent++;
	if (rc_psn_diff(psn_add(qp->psn, n), qp->psn_max) > 0)
		qp->psn_max = psn_add(qp->psn, n);
}

/* The responder's next READ response, if one is waiting. */
static bool next_read_response(struct rc_qp *qp, struct roce_pkt *p)
{
	struct rc_rd *rd = &qp->rd[qp->rd_head];
	uint32_t n;

	if (!qp->rd_count)
		return false;
	make_reply(qp, p, RC_AETH_ACK | 0x1f, rd->psn);
	if (rd->atomic) {
		p->opcode = ROCE_ATOMIC_ACK;
		p->orig = rd->orig;
		qp->rd_head = (qp->rd_head + 1) % RC_RD_MAX;
		qp->rd_count--;
		return true;
	}
	if (rd->left == 1)
		p->opcode = rd->first ? ROCE_READ_RESPONSE_ONLY : ROCE_READ_RESPONSE_LAST;
	else
		p->opcode = rd->first ? ROCE_READ_RESPONSE_FIRST : ROCE_READ_RESPONSE_MIDDLE;
	n = rd->len < qp->mtu ? rd->len : qp->mtu;
	p->payload = NULL;
	p->payload_len = n;
	/* Read now, not at the request: the state holds addresses, never pointers. */
	if (n && (!qp->read || qp->read(qp->ctx, rd->va, rd->rkey, n, &p->payload))) {
		qp->error = true;
		make_reply(qp, p, RC_AETH_NAK | RC_NAK_REMOTE_ACCESS, rd->psn);
		return true;
	}
	rd->va += n;
	rd->len -= n;
	rd->psn = psn_add(rd->psn, 1);
	rd->first = 0;
	if (!--rd->left) {
		qp->rd_head = (qp->rd_head + 1) % RC_RD_MAX;
		qp->rd_count--;
	}
	return true;
}

bool rc_next(struct rc_qp *qp, uint64_t now_ns, struct roce_pkt *p)
{
	struct rc_msg *m;
	uint32_t off, npsn;

	if (qp->error)
		return false;
	if (next_read_response(qp, p))
		return true;
	if (qp->rnr_until_ns) {
		if (now_ns < qp->rnr_until_ns)
			return false;
		qp->rnr_until_ns = 0;
	}
	/*
	 * Moved: what the peer sent meanwhile is lost; "expecting epsn" makes it
	 * send again now rather than at its timer (a NAK acknowledges only what
	 * came before epsn, which we have).
	 */
	if (qp->resync_owed) {
		qp->resync_owed = false;
		qp->ack_owed = false;
		make_reply(qp, p, RC_AETH_NAK | RC_NAK_PSN_SEQ, qp->epsn);
		return true;
	}
	/* The responder's output stays in PSN order: an ACK after the responses before it. */
	if (qp->ack_owed) {
		qp->ack_owed = false;
		make_reply(qp, p, RC_AETH_ACK | 0x1f, qp->ack_owed_psn);
		return true;
	}
	if (qp->send_msg >= qp->sq_count || rc_psn_diff(qp->psn, qp->una) >= rc_window(qp))
		return false;
	m = sq_at(qp, qp->send_msg);
	if (!qp->send_pkt)
		m->first_psn = qp->psn;
	memset(p, 0, sizeof(*p));
	p->pkey = ROCE_DEFAULT_PKEY;
	p->dqpn = qp->dqpn;
	p->psn = qp->psn;
	p->rkey = m->rkey;
	off = qp->send_pkt * qp->mtu;
	if (is_atomic(m->op)) {
		p->opcode = m->op;
		p->va = m->va;
		p->swap_add = m->swap_add;
		p->compare = m->compare;
		p->ack_req = true;
		npsn = 1;
	} else if (m->op == ROCE_READ_REQUEST) {
		/* One request for the rest of the data; it takes a PSN per response. */
		p->opcode = ROCE_READ_REQUEST;
		p->va = m->va + off;
		p->dma_len = m->len - off;
		p->ack_req = true;
		npsn = m->npkts - qp->send_pkt;
	} else {
		p->opcode = pkt_opcode(m->op, qp->send_pkt, m->npkts);
		p->payload = m->len && m->data ? m->data + off : NULL;
		p->payload_len = m->len - off < qp->mtu ? m->len - off : qp->mtu;
		if (m->len && !m->data &&
		    (!qp->payload || qp->payload(qp->ctx, m->id, off, p->payload_len, &p->payload))) {
			fail_one(qp, m->id, RC_LOCAL_ERROR);
			return false;
		}
		p->va = m->va;
		p->dma_len = m->len;
		p->imm = m->imm;
		/* The responder raises a solicited event for the message once it is all there. */
		p->solicited = m->solicited && qp->send_pkt + 1 == m->npkts;
		/* An ACK at each message's end, and often enough to keep the window open. */
		p->ack_req = qp->send_pkt + 1 == m->npkts || ++qp->since_ack_req >= rc_ack_every(qp);
		if (p->ack_req)
			qp->since_ack_req = 0;
		npsn = 1;
	}
	count_sent(qp, npsn);
	qp->psn = psn_add(qp->psn, npsn);
	qp->send_pkt += npsn;
	if (qp->send_pkt == m->npkts) {
		qp->send_msg++;
		qp->send_pkt = 0;
	}
	qp->sent++;
	if (!qp->deadline_ns && timeout_ns(qp))
		qp->deadline_ns = now_ns + timeout_ns(qp);
	return true;
}

/* Complete and drop the oldest message with @st. */
static void complete_head(struct rc_qp *qp, enum rc_status st)
{
	struct rc_msg *m = sq_at(qp, 0);

	qp->sq_head = (qp->sq_head + 1) % RC_SQ_MAX;
	qp->sq_count--;
	if (qp->send_msg)
		qp->send_msg--;
	if (qp->done)
		qp->done(qp->ctx, m->id, st);
}

/* Message @id ends with @st, everything else queued as flushed; the QP is in ERR. */
static void fail_one(struct rc_qp *qp, uint64_t id, enum rc_status st)
{
	qp->error = true;
	qp->deadline_ns = 0;
	while (qp->sq_count)
		complete_head(qp, sq_at(qp, 0)->id == id ? st : RC_FLUSHED);
}

/* Everything still queued ends with @st; the QP is in ERR. */
static void fail_all(struct rc_qp *qp, enum rc_status st)
{
	qp->error = true;
	qp->deadline_ns = 0;
	if (qp->sq_count)
		complete_head(qp, st);
	while (qp->sq_count)
		complete_head(qp, RC_FLUSHED);
}

/* Messages whose last packet is now acknowledged: done. */
static void complete_acked(struct rc_qp *qp)
{
	while (qp->sq_count && qp->send_msg > 0 &&
	       rc_psn_diff(qp->una, psn_add(sq_at(qp, 0)->first_psn, sq_at(qp, 0)->npkts)) >= 0)
		complete_head(qp, RC_OK);
}

/* The retransmit timer runs while anything is unacknowledged. */
static void timer_rearm(struct rc_qp *qp, uint64_t now_ns)
{
	qp->deadline_ns = qp->una != qp->psn && timeout_ns(qp) ? now_ns + timeout_ns(qp) : 0;
}

/* Send again from the oldest unacknowledged PSN: find its message and packet. */
static void go_back(struct rc_qp *qp)
{
	unsigned int i;

	for (i = 0; i < qp->sq_count && i <= qp->send_msg; i++) {
		struct rc_msg *m = sq_at(qp, i);
		int32_t d = rc_psn_diff(qp->una, m->first_psn);

		if (i == qp->send_msg && !qp->send_pkt)
			break;		/* not started: nothing of it in flight */
		if (d >= 0 && (uint32_t)d < m->npkts) {
			qp->send_msg = i;
			qp->send_pkt = (uint32_t)d;
			qp->psn = qp->una;
			return;
		}
	}
}

/* Is a READ, not all of whose responses came, before @acked? Moves una up to it. */
static bool read_in_way(struct rc_qp *qp, uint32_t acked)
{
	unsigned int i;

	for (i = 0; i < qp->sq_count && i < qp->send_msg + (qp->send_pkt ? 1 : 0); i++) {
		struct rc_msg *m = sq_at(qp, i);
		uint32_t end = psn_add(m->first_psn, m->npkts);

		if (rc_psn_diff(end, qp->una) <= 0)
			continue;		/* all acknowledged already */
		if (rc_psn_diff(m->first_psn, acked) >= 0)
			return false;		/* not reached by this ACK */
		if (has_response(m->op)) {
			/* What comes before the READ is acknowledged all the same. */
			if (rc_psn_diff(m->first_psn, qp->una) > 0)
				qp->una = m->first_psn;
			complete_acked(qp);
			return true;
		}
	}
	return false;
}

/* The RNR NAK timer's code in ns (IBA table 45; 0 is the longest, 655.36 ms). */
static uint64_t rnr_delay_ns(uint8_t code)
{
	static const uint32_t us100[32] = {
		6553600, 100, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200, 4800, 6400, 9600,
		12800, 19200, 25600, 38400, 51200, 76800, 102400, 153600, 204800, 307200,
		409600, 614400, 819200, 1228800, 1638400, 2457600, 3276800, 4915200,
	};

	return (uint64_t)us100[code & 31] * 100;
}

/* Requester: an ACK or NAK; everything before @psn (and @psn itself for an ACK) is done. */
static void requester_ack(struct rc_qp *qp, const struct roce_pkt *in, uint64_t now_ns)
{
	uint8_t kind = in->syndrome >> 5;
	uint32_t acked = kind == 3 || kind == 1 ? in->psn : psn_add(in->psn, 1);
	int32_t ahead = rc_psn_diff(acked, qp->una);

	/* Older than what we know, or beyond what was sent: stale or bogus. */
	if (ahead < 0 || rc_psn_diff(acked, qp->psn) > 0)
		return;
	/*
	 * A READ's PSNs are acknowledged by its responses only: an ACK past a
	 * READ whose responses are missing means they were lost (IBA 9.7.5.1.3,
	 * implied NAK): stop at it and ask again.
	 */
	if (ahead > 0 && read_in_way(qp, acked)) {
		go_back(qp);
		qp->deadline_ns = timeout_ns(qp) ? now_ns + timeout_ns(qp) : 0;
		return;
	}
	qp->una = acked;
	complete_acked(qp);
	if (ahead > 0) {
		qp->retries = qp->retry_cnt;
		qp->rnr_retries = qp->rnr_retry;
	}
	if (kind == 1) {
		/* No buffer there yet: wait, then send again from that PSN. */
		qp->rnr_naks_rx++;
		if (qp->rnr_retry != 7 && !qp->rnr_retries--) {
			fail_all(qp, RC_RNR_RETRY_EXCEEDED);
			return;
		}
		go_back(qp);
		qp->rnr_until_ns = now_ns + rnr_delay_ns(in->syndrome);
		qp->deadline_ns = timeout_ns(qp) ? qp->rnr_until_ns + timeout_ns(qp) : 0;
		return;
	}
	if (kind == 3) {
		qp->naks_rx++;
		if ((in->syndrome & 0x1f) == RC_NAK_PSN_SEQ) {
			go_back(qp);
		} else {
			fail_all(qp, RC_REMOTE_ERROR);
			return;
		}
	}
	timer_rearm(qp, now_ns);
}

void rc_tick(struct rc_qp *qp, uint64_t now_ns)
{
	if (qp->error || !qp->deadline_ns || now_ns < qp->deadline_ns)
		return;
	qp->timeouts++;
	if (!qp->retries) {
		fail_all(qp, RC_RETRY_EXCEEDED);
		return;
	}
	qp->retries--;
	go_back(qp);
	qp->deadline_ns = now_ns + timeout_ns(qp);
}

static void make_reply(struct rc_qp *qp, struct roce_pkt *r, uint8_t syndrome, uint32_t psn)
{
	memset(r, 0, sizeof(*r));
	r->opcode = ROCE_ACK;
	r->pkey = ROCE_DEFAULT_PKEY;
	r->dqpn = qp->dqpn;
	r->psn = psn;
	r->syndrome = syndrome;
	r->msn = qp->msn & RC_PSN_MASK;
}

/* An ACK of everything up to @psn: now, or after the READ responses queued before it. */
static bool ack(struct rc_qp *qp, struct roce_pkt *reply, uint32_t psn)
{
	if (qp->rd_count) {
		qp->ack_owed = true;
		qp->ack_owed_psn = psn;
		return false;
	}
	make_reply(qp, reply, RC_AETH_ACK | 0x1f, psn);
	return true;
}

/* A request from beyond epsn: one PSN-sequence NAK until the gap is filled. */
static bool nak_gap(struct rc_qp *qp, struct roce_pkt *reply)
{
	qp->out_of_seq++;
	if (qp->nak_sent)
		return false;
	qp->nak_sent = true;
	make_reply(qp, reply, RC_AETH_NAK | RC_NAK_PSN_SEQ, qp->epsn);
	return true;
}

static bool op_first(uint8_t op)
{
	return op == ROCE_SEND_FIRST || op == ROCE_SEND_ONLY || op == ROCE_SEND_ONLY_IMM ||
	       op == ROCE_WRITE_FIRST || op == ROCE_WRITE_ONLY || op == ROCE_WRITE_ONLY_IMM;
}

static bool op_last(uint8_t op)
{
	return op == ROCE_SEND_LAST || op == ROCE_SEND_LAST_IMM || op == ROCE_SEND_ONLY ||
	       op == ROCE_SEND_ONLY_IMM || op == ROCE_WRITE_LAST || op == ROCE_WRITE_LAST_IMM ||
	       op == ROCE_WRITE_ONLY || op == ROCE_WRITE_ONLY_IMM;
}

/* Responder: a request packet. */
static bool responder(struct rc_qp *qp, const struct roce_pkt *in, struct roce_pkt *reply)
{
	int32_t d = rc_psn_diff(in->psn, qp->epsn);
	bool first = op_first(in->opcode), last = op_last(in->opcode);
	int r;

	if (d < 0) {
		/* Seen: say how far we are, take nothing (IBA 9.9.2.1). */
		qp->dups++;
		return ack(qp, reply, psn_add(qp->epsn, RC_PSN_MASK));
	}
	if (d > 0)
		return nak_gap(qp, reply);
	/* In order: a FIRST or ONLY starts a message, a MIDDLE or LAST continues one. */
	if (first == qp->in_msg || (in->payload_len != qp->mtu && !last) ||
	    in->payload_len > qp->mtu) {
		qp->error = true;
		make_reply(qp, reply, RC_AETH_NAK | RC_NAK_INVALID, qp->epsn);
		return true;
	}
	if (first)
		qp->msg_off = 0;
	r = qp->recv ? qp->recv(qp->ctx, in, qp->msg_off, first, last) : 0;
	if (r == RC_RECV_RNR) {
		/* Not taken: epsn stays, the requester comes back after the timer. */
		make_reply(qp, reply, RC_AETH_RNR | (qp->min_rnr_timer & 31), in->psn);
		return true;
	}
	if (r) {
		qp->error = true;
		make_reply(qp, reply, RC_AETH_NAK | (r & 0x1f), qp->epsn);
		return true;
	}
	qp->nak_sent = false;
	qp->msg_off += in->payload_len;
	qp->in_msg = !last;
	if (last)
		qp->msn = (qp->msn + 1) & RC_PSN_MASK;
	qp->epsn = psn_add(qp->epsn, 1);
	if (!in->ack_req)
		return false;
	return ack(qp, reply, in->psn);
}

/*
 * Requester: a READ response. Only the next PSN is taken (its data placed,
 * everything before it acknowledged); one that skips ahead means some went
 * missing: ask again from there.
 */
static void requester_read_response(struct rc_qp *qp, const struct roce_pkt *in,
				    uint64_t now_ns)
{
	struct rc_msg *m = NULL;
	unsigned int i;
	int32_t k;

	/*
	 * Not asked for (since a go-back, the request is still to be sent
	 * again: taking the old answer would move una past the next PSN).
	 */
	if (rc_psn_diff(in->psn, qp->psn) >= 0)
		return;
	if (in->psn != qp->una) {
		if (rc_psn_diff(in->psn, qp->una) < 0)
			return;		/* seen already */
		/* Responses missing before it: ask again from the first (go_back). */
		if (read_in_way(qp, in->psn)) {
			qp->reads_again++;
			go_back(qp);
			return;
		}
		/* It acknowledges the SENDs and WRITEs before it (IBA 9.7.5.1.2). */
		qp->una = in->psn;
	}
	/* Everything before it is done: the messages that ended before una. */
	for (i = 0; i < qp->sq_count; i++) {
		m = sq_at(qp, i);
		k = rc_psn_diff(in->psn, m->first_psn);
		if (k >= 0 && (uint32_t)k < m->npkts)
			break;
	}
	/* The response must be the kind its request was. */
	if (i == qp->sq_count || (in->opcode == ROCE_ATOMIC_ACK ? !is_atomic(m->op) :
							      m->op != ROCE_READ_REQUEST))
		return;
	/* The messages before it (their PSNs are below una) are done. */
	complete_acked(qp);
	if (is_atomic(m->op)) {
		if (m->dest)
			memcpy(m->dest, &in->orig, sizeof(in->orig));
	} else {
		if ((uint32_t)k * qp->mtu + in->payload_len > m->len ||
		    (in->payload_len != qp->mtu && (uint32_t)k + 1 < m->npkts)) {
			fail_all(qp, RC_REMOTE_ERROR);
			return;
		}
		if (in->payload_len)
			memcpy(m->dest + (size_t)k * qp->mtu, in->payload, in->payload_len);
	}
	qp->una = psn_add(qp->una, 1);
	qp->retries = qp->retry_cnt;
	if ((uint32_t)k + 1 == m->npkts && qp->send_msg > 0)
		complete_head(qp, RC_OK);
	timer_rearm(qp, now_ns);
}

/* Responder: a READ request at epsn, or a duplicate of one. */
static bool responder_read(struct rc_qp *qp, const struct roce_pkt *in, struct roce_pkt *reply,
			   bool again)
{
	uint32_t npkts = in->dma_len ? (in->dma_len + qp->mtu - 1) / qp->mtu : 1;
	const uint8_t *src = NULL;
	struct rc_rd *rd;
	int r;

	if (qp->rd_count == RC_RD_MAX)
		return false;	/* too many at once: the requester will ask again */
	r = qp->read ? qp->read(qp->ctx, in->va, in->rkey, in->dma_len, &src) : RC_NAK_INVALID;
	if (r) {
		qp->error = true;
		make_reply(qp, reply, RC_AETH_NAK | (r & 0x1f), in->psn);
		return true;
	}
	rd = &qp->rd[(qp->rd_head + qp->rd_count++) % RC_RD_MAX];
	*rd = (struct rc_rd){ .psn = in->psn, .left = npkts, .first = 1, .va = in->va,
			      .rkey = in->rkey, .len = in->dma_len };
	if (!again) {
		qp->epsn = psn_add(qp->epsn, npkts);
		qp->nak_sent = false;
	}
	return false;
}

/* Responder: an atomic at epsn (done once, its result kept) or a duplicate (answered from it). */
static bool responder_atomic(struct rc_qp *qp, const struct roce_pkt *in, struct roce_pkt *reply,
			     bool again)
{
	uint64_t *target = NULL, orig;
	struct rc_rd *rd;
	unsigned int i;
	int r;

	if (qp->rd_count == RC_RD_MAX)
		return false;
	if (again) {
		for (i = 0; i < RC_ATOMIC_SAVED; i++)
			if (qp->saved[i].used && qp->saved[i].psn == in->psn)
				break;
		/* Older than what is kept: cannot be answered without doing it twice. */
		if (i == RC_ATOMIC_SAVED)
			return false;
		orig = qp->saved[i].orig;
		qp->atomic_replays++;
	} else {
		r = qp->atomic && !(in->va & 7) ?
		    qp->atomic(qp->ctx, in->va, in->rkey, &target) : RC_NAK_INVALID;
		if (r) {
			qp->error = true;
			make_reply(qp, reply, RC_AETH_NAK | (r & 0x1f), in->psn);
			return true;
		}
		/* Through memcpy: the owner's pointer need not be aligned for the host. */
		memcpy(&orig, target, sizeof(orig));
		if (in->opcode == ROCE_FETCH_ADD) {
			uint64_t sum = orig + in->swap_add;

			memcpy(target, &sum, sizeof(sum));
		} else if (orig == in->compare) {
			memcpy(target, &in->swap_add, sizeof(in->swap_add));
		}
		qp->saved[qp->saved_next].psn = in->psn;
		qp->saved[qp->saved_next].orig = orig;
		qp->saved[qp->saved_next].used = true;
		qp->saved_next = (qp->saved_next + 1) % RC_ATOMIC_SAVED;
		qp->epsn = psn_add(qp->epsn, 1);
		qp->nak_sent = false;
	}
	rd = &qp->rd[(qp->rd_head + qp->rd_count++) % RC_RD_MAX];
	*rd = (struct rc_rd){ .atomic = true, .orig = orig, .psn = in->psn, .left = 1 };
	return false;
}

bool rc_receive(struct rc_qp *qp, const struct roce_pkt *in, uint64_t now_ns,
		struct roce_pkt *reply)
{
	if (qp->error)
		return false;
	if (in->opcode == ROCE_ACK) {
		requester_ack(qp, in, now_ns);
		return false;
	}
	if ((in->opcode >= ROCE_READ_RESPONSE_FIRST && in->opcode <= ROCE_READ_RESPONSE_ONLY) ||
	    in->opcode == ROCE_ATOMIC_ACK) {
		requester_read_response(qp, in, now_ns);
		return false;
	}
	if (in->opcode == ROCE_READ_REQUEST || is_atomic(in->opcode)) {
		int32_t d = rc_psn_diff(in->psn, qp->epsn);

		if (d > 0)
			return nak_gap(qp, reply);
		if (d < 0)
			qp->dups++;
		if (is_atomic(in->opcode))
			return responder_atomic(qp, in, reply, d < 0);
		return responder_read(qp, in, reply, d < 0);
	}
	if ((in->opcode & 0xe0) != ROCE_RC || in->opcode > ROCE_WRITE_ONLY_IMM)
		return false;
	return responder(qp, in, reply);
}

/* ---- migration ---- */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const struct state_field rc_fields[] = {
	STATE_UINT(struct rc_qp, mtu, "mtu"),
	STATE_UINT(struct rc_qp, timeout, "timeout"),
	STATE_UINT(struct rc_qp, retry_cnt, "retry-cnt"),
	STATE_UINT(struct rc_qp, rnr_retry, "rnr-retry"),
	STATE_UINT(struct rc_qp, min_rnr_timer, "min-rnr-timer"),
	STATE_UINT(struct rc_qp, dqpn, "dest-qpn"),
	STATE_BOOL(struct rc_qp, error, "error"),
	STATE_UINT(struct rc_qp, sq_head, "sq-head"),
	STATE_UINT(struct rc_qp, sq_count, "sq-count"),
	STATE_UINT(struct rc_qp, send_msg, "send-msg"),
	STATE_UINT(struct rc_qp, send_pkt, "send-pkt"),
	STATE_UINT(struct rc_qp, psn, "sq-psn"),
	STATE_UINT(struct rc_qp, una, "una"),
	STATE_UINT(struct rc_qp, psn_max, "psn-max"),
	STATE_UINT(struct rc_qp, since_ack_req, "since-ack-req"),
	STATE_UINT(struct rc_qp, retries, "retries"),
	STATE_UINT(struct rc_qp, rnr_retries, "rnr-retries"),
	STATE_UINT(struct rc_qp, epsn, "rq-psn"),
	STATE_UINT(struct rc_qp, msn, "msn"),
	STATE_UINT(struct rc_qp, msg_off, "msg-off"),
	STATE_BOOL(struct rc_qp, in_msg, "in-msg"),
	STATE_BOOL(struct rc_qp, nak_sent, "nak-sent"),
	STATE_UINT(struct rc_qp, rd_head, "rd-head"),
	STATE_UINT(struct rc_qp, rd_count, "rd-count"),
	STATE_BOOL(struct rc_qp, ack_owed, "ack-owed"),
	STATE_UINT(struct rc_qp, ack_owed_psn, "ack-owed-psn"),
	STATE_UINT(struct rc_qp, saved_next, "atomic-saved-next"),
};

static const struct state_field msg_fields[] = {
	STATE_UINT(struct rc_msg, id, "id"),
	STATE_UINT(struct rc_msg, op, "op"),
	STATE_UINT(struct rc_msg, len, "len"),
	STATE_UINT(struct rc_msg, va, "va"),
	STATE_UINT(struct rc_msg, rkey, "rkey"),
	STATE_UINT(struct rc_msg, imm, "imm"),
	STATE_UINT(struct rc_msg, swap_add, "swap-add"),
	STATE_UINT(struct rc_msg, compare, "compare"),
	STATE_UINT(struct rc_msg, first_psn, "first-psn"),
	STATE_UINT(struct rc_msg, npkts, "npkts"),
};

static const struct state_field rd_fields[] = {
	STATE_UINT(struct rc_rd, orig, "orig"),
	STATE_UINT(struct rc_rd, psn, "psn"),
	STATE_UINT(struct rc_rd, left, "left"),
	STATE_UINT(struct rc_rd, first, "first"),
	STATE_UINT(struct rc_rd, va, "va"),
	STATE_UINT(struct rc_rd, rkey, "rkey"),
	STATE_UINT(struct rc_rd, len, "len"),
};

struct rc_saved_atomic {
	uint32_t psn, used;
	uint64_t orig;
};

static const struct state_field saved_fields[] = {
	STATE_UINT(struct rc_saved_atomic, psn, "psn"),
	STATE_UINT(struct rc_saved_atomic, used, "used"),
	STATE_UINT(struct rc_saved_atomic, orig, "orig"),
};

int rc_save(const struct rc_qp *qp, struct state_buf *sb)
{
	struct rc_saved_atomic sa[RC_ATOMIC_SAVED];
	uint64_t atomic[RC_RD_MAX];
	uint8_t solicited[RC_SQ_MAX];
	struct rc_msg *window;
	unsigned int i;

	if (qp->sq_count > RC_SQ_MAX)
		return state_buf_fail(sb, -EINVAL, "rc: %u messages in a %u-message queue",
				      qp->sq_count, RC_SQ_MAX);
	window = malloc(RC_SQ_MAX * sizeof(*window));
	if (!window)
		return state_buf_fail(sb, -ENOMEM, "rc: out of memory");

	for (i = 0; i < RC_ATOMIC_SAVED; i++)
		sa[i] = (struct rc_saved_atomic){ qp->saved[i].psn, qp->saved[i].used,
						  qp->saved[i].orig };
	for (i = 0; i < RC_RD_MAX; i++)
		atomic[i] = qp->rd[i].atomic;
	/* Only the messages the QP holds, oldest first: most of the ring is empty. */
	for (i = 0; i < qp->sq_count; i++) {
		window[i] = qp->sq[(qp->sq_head + i) % RC_SQ_MAX];
		solicited[i] = window[i].solicited;
	}
	state_begin_node(sb, "rc", RC_STATE_VERSION);
	/* Properties first, then the child nodes (the tree's order). */
	state_put_fields(sb, qp, rc_fields, ARRAY_SIZE(rc_fields));
	state_put_u64_array(sb, "rd-atomic", atomic, RC_RD_MAX);
	if (qp->sq_count)
		state_put_bytes(sb, "sq-solicited", solicited, qp->sq_count);
	if (qp->sq_count)
		state_put_struct_array(sb, "sq", 1, window, sizeof(window[0]), qp->sq_count,
				       msg_fields, ARRAY_SIZE(msg_fields));
	state_put_struct_array(sb, "rd", 1, qp->rd, sizeof(qp->rd[0]), RC_RD_MAX, rd_fields,
			       ARRAY_SIZE(rd_fields));
	state_put_struct_array(sb, "atomic-saved", 1, sa, sizeof(sa[0]), RC_ATOMIC_SAVED,
			       saved_fields, ARRAY_SIZE(saved_fields));
	state_end_node(sb);
	free(window);
	return sb->err;
}

/* Is every value one a running QP could have? NULL, or what is wrong. */
static const char *rc_state_bad(const struct rc_qp *q)
{
	unsigned int i;

	if (q->mtu < 256 || q->mtu > 4096 || (q->mtu & (q->mtu - 1)))
		return "path MTU not 256..4096";
	if (q->retry_cnt > 7 || q->rnr_retry > 7 || q->retries > 7 || q->rnr_retries > 7 ||
	    q->timeout > 31 || q->min_rnr_timer > 31)
		return "a retry count or timer out of range";
	if ((q->dqpn | q->psn | q->una | q->psn_max | q->epsn | q->msn | q->ack_owed_psn) >> 24)
		return "a PSN, QPN or MSN wider than 24 bits";
	if (q->sq_head >= RC_SQ_MAX || q->sq_count > RC_SQ_MAX || q->send_msg > q->sq_count ||
	    (q->send_pkt && q->send_msg == q->sq_count))
		return "send queue positions out of range";
	/*
	 * In flight: RC_WINDOW packets, but a READ request takes a PSN for
	 * each response, so the span is bounded only by the 24-bit space.
	 */
	if (rc_psn_diff(q->psn, q->una) < 0 || rc_psn_diff(q->psn_max, q->psn) < 0)
		return "PSNs out of order";
	for (i = 0; i < q->sq_count; i++) {
		const struct rc_msg *m = &q->sq[(q->sq_head + i) % RC_SQ_MAX];
		bool atomic = m->op == ROCE_CMP_SWAP || m->op == ROCE_FETCH_ADD;

		if ((m->op != ROCE_SEND_ONLY && m->op != ROCE_SEND_ONLY_IMM &&
		     m->op != ROCE_WRITE_ONLY && m->op != ROCE_WRITE_ONLY_IMM &&
		     m->op != ROCE_READ_REQUEST && !atomic) ||
		    m->npkts != (m->len && !atomic ? (m->len + q->mtu - 1) / q->mtu : 1) ||
		    m->len > RC_MSG_MAX || m->first_psn >> 24 ||
		    (i == q->send_msg && q->send_pkt >= m->npkts))
			return "a queued message that is not one";
	}
	if (q->rd_head >= RC_RD_MAX || q->rd_count > RC_RD_MAX ||
	    q->saved_next >= RC_ATOMIC_SAVED)
		return "response queue positions out of range";
	for (i = 0; i < q->rd_count; i++) {
		const struct rc_rd *rd = &q->rd[(q->rd_head + i) % RC_RD_MAX];

		if (!rd->left || rd->psn >> 24 || rd->first > 1 ||
		    (!rd->atomic && rd->len > (uint64_t)rd->left * q->mtu))
			return "a queued response that is not one";
	}
	if (q->msg_off > (1u << 31))
		return "a message offset out of range";
	return NULL;
}

int rc_load(struct rc_qp *qp, const void *fdt, int parent, char *err, size_t errlen)
{
	struct rc_saved_atomic sa[RC_ATOMIC_SAVED];
	uint64_t atomic[RC_RD_MAX];
	uint8_t solicited[RC_SQ_MAX] = { 0 };
	struct rc_qp *q = malloc(sizeof(*q));
	struct rc_msg *window = malloc(RC_SQ_MAX * sizeof(*window));
	const char *bad;
	uint32_t version;
	unsigned int i;
	int node, r = -1;

	if (!q || !window) {
		snprintf(err, errlen, "rc: out of memory");
		goto out;
	}
	*q = *qp;
	node = state_subnode(fdt, parent, "rc", RC_STATE_VERSION, &version, err, errlen);
	if (node < 0)
		goto out;
	if (version < 2) {
		/* Version 1 kept a 64-message ring whole; its positions mean nothing here. */
		snprintf(err, errlen, "rc: state version %u, this build reads 2..%u", version,
			 RC_STATE_VERSION);
		goto out;
	}
	if (state_get_fields(fdt, node, q, rc_fields, ARRAY_SIZE(rc_fields), err, errlen))
		goto out;
	if (q->sq_head >= RC_SQ_MAX || q->sq_count > RC_SQ_MAX) {
		snprintf(err, errlen, "rc: send queue positions out of range");
		goto out;
	}
	if (q->sq_count &&
	    (state_get_struct_array(fdt, node, "sq", 1, window, sizeof(window[0]), q->sq_count,
				    msg_fields, ARRAY_SIZE(msg_fields), err, errlen) ||
	     /* Version 2 predates SE: its messages go without it, as they did. */
	     (version >= 3 && state_get_bytes(fdt, node, "sq-solicited", solicited, q->sq_count,
					      err, errlen))))
		goto out;
	for (i = 0; i < q->sq_count; i++) {
		if (solicited[i] > 1) {
			snprintf(err, errlen, "rc: sq-solicited %u is not 0 or 1", solicited[i]);
			goto out;
		}
		window[i].solicited = solicited[i];
		q->sq[(q->sq_head + i) % RC_SQ_MAX] = window[i];
	}
	if (state_get_struct_array(fdt, node, "rd", 1, q->rd, sizeof(q->rd[0]), RC_RD_MAX,
				   rd_fields, ARRAY_SIZE(rd_fields), err, errlen) ||
	    state_get_u64_array(fdt, node, "rd-atomic", atomic, RC_RD_MAX, err, errlen) ||
	    state_get_struct_array(fdt, node, "atomic-saved", 1, sa, sizeof(sa[0]),
				   RC_ATOMIC_SAVED, saved_fields, ARRAY_SIZE(saved_fields), err,
				   errlen))
		goto out;
	for (i = 0; i < RC_RD_MAX; i++) {
		if (atomic[i] > 1) {
			snprintf(err, errlen, "rc: rd-atomic %llu is not 0 or 1",
				 (unsigned long long)atomic[i]);
			goto out;
		}
		q->rd[i].atomic = atomic[i];
	}
	for (i = 0; i < RC_ATOMIC_SAVED; i++) {
		if (sa[i].used > 1 || sa[i].psn >> 24) {
			snprintf(err, errlen, "rc: a kept atomic result that is not one");
			goto out;
		}
		q->saved[i].psn = sa[i].psn;
		q->saved[i].used = sa[i].used;
		q->saved[i].orig = sa[i].orig;
	}
	bad = rc_state_bad(q);
	if (bad) {
		snprintf(err, errlen, "rc: %s", bad);
		goto out;
	}
	/* Buffers are the owner's to attach again; timers start at rc_resume(). */
	for (i = 0; i < RC_SQ_MAX; i++)
		q->sq[i].data = q->sq[i].dest = NULL;
	q->deadline_ns = q->rnr_until_ns = 0;
	*qp = *q;
	r = 0;
out:
	free(window);
	free(q);
	return r;
}

void rc_resume(struct rc_qp *qp, uint64_t now_ns)
{
	if (qp->error)
		return;
	if (qp->una != qp->psn) {
		go_back(qp);
		qp->deadline_ns = timeout_ns(qp) ? now_ns + timeout_ns(qp) : 0;
	}
	qp->resync_owed = true;
}
