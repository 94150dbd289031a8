// SPDX-License-Identifier: GPL-2.0
/*
 * The RC transport over a simulated wire that drops, duplicates and
 * reorders packets (both ways, at set rates, from a fixed seed, so every
 * run is the same): SENDs, WRITEs and READs mixed, every message
 * delivered exactly once, in order, intact, every READ bringing back what
 * the WRITEs before it left there, each completed once, in order; retries run out on a dead wire;
 * a responder refuses a MIDDLE without its FIRST. Packets cross the wire
 * as RoCEv2 frames (roce_build/roce_parse), so the encoding is exercised
 * too.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "devices/rdma/rc.h"
#include "vmm/migrate/state.h"

#define MTU		1024
#define NMSG		300
#define MAXLEN		5000
#define WIRE_MAX	512
#define FRAME_MAX	(MTU + 128)
#define REMOTE		(64 * 1024)

struct wire {
	uint8_t frame[WIRE_MAX][FRAME_MAX];
	size_t len[WIRE_MAX];
	unsigned int n;
	unsigned int drop, dup, reorder;	/* per mille */
};

static uint32_t rng = 1;

static uint32_t rnd(void)
{
	rng = rng * 1103515245 + 12345;
	return rng >> 8;
}

static void wire_put(struct wire *w, const struct roce_pkt *p)
{
	struct roce_pkt q = *p;
	unsigned int copies = 1, i;

	q.ttl = 64;
	memcpy(q.sip, "\x0a\0\0\x01", 4);
	memcpy(q.dip, "\x0a\0\0\x02", 4);
	if (rnd() % 1000 < w->drop)
		return;
	if (rnd() % 1000 < w->dup)
		copies = 2;
	for (i = 0; i < copies && w->n < WIRE_MAX; i++) {
		w->len[w->n] = roce_build(w->frame[w->n], FRAME_MAX, &q);
		ck_assert_uint_gt(w->len[w->n], 0);
		/* Overtake the one before it. */
		if (w->n && rnd() % 1000 < w->reorder) {
			uint8_t tmp[FRAME_MAX];
			size_t l = w->len[w->n];

			memcpy(tmp, w->frame[w->n], l);
			memcpy(w->frame[w->n], w->frame[w->n - 1], w->len[w->n - 1]);
			w->len[w->n] = w->len[w->n - 1];
			memcpy(w->frame[w->n - 1], tmp, l);
			w->len[w->n - 1] = l;
		}
		w->n++;
	}
}

/* What the responder's owner saw, and the requester's completions. */
struct peer {
	struct rc_msg posted[NMSG];
	uint8_t data[NMSG][MAXLEN];
	uint8_t read_into[NMSG][MAXLEN];	/* READ destinations */
	uint8_t read_want[NMSG][MAXLEN];	/* what each READ must bring back */
	unsigned int next_recv, delivered, completed, reads, adds, adds_done;
	unsigned char orig_seen[NMSG];		/* FETCH_ADD results, each value once */
	uint8_t buf[MAXLEN];		/* the message being received */
	uint8_t remote[REMOTE] __attribute__((aligned(8)));	/* what WRITEs land in */
	bool failed;
	enum rc_status last_status;
	unsigned int statuses[5];
	unsigned int rnr_mode;			/* 1: refuse some once or twice, 2: always */
	unsigned char rnr_given[NMSG];
};

static struct peer pr;

static int on_recv(void *ctx, const struct roce_pkt *p, uint32_t off, bool first, bool last)
{
	struct peer *x = ctx;
	const struct rc_msg *m;
	bool write = p->opcode >= ROCE_WRITE_FIRST;

	/* READs and atomics are not the owner's to receive: the next SEND or WRITE. */
	while (x->next_recv < NMSG && (x->posted[x->next_recv].op == ROCE_READ_REQUEST ||
					  x->posted[x->next_recv].op == ROCE_FETCH_ADD))
		x->next_recv++;
	ck_assert_uint_lt(x->next_recv, NMSG);
	m = &x->posted[x->next_recv];
	/* No receive buffer yet: RNR (every third SEND, twice; or always). */
	if (first && !write && (x->rnr_mode == 2 ||
				(x->rnr_mode == 1 && x->next_recv % 3 == 0 &&
				 x->rnr_given[x->next_recv] < 2))) {
		x->rnr_given[x->next_recv]++;
		return RC_RECV_RNR;
	}
	ck_assert_uint_le(off + p->payload_len, m->len);
	if (write) {
		/* The RETH came with the first packet; later ones continue at off. */
		ck_assert_uint_le(m->va + off + p->payload_len, REMOTE);
		if (p->payload_len)
			memcpy(x->remote + m->va + off, p->payload, p->payload_len);
	} else if (p->payload_len) {
		memcpy(x->buf + off, p->payload, p->payload_len);
	}
	if (first && (p->opcode == ROCE_WRITE_FIRST || p->opcode == ROCE_WRITE_ONLY ||
		      p->opcode == ROCE_WRITE_ONLY_IMM)) {
		ck_assert_uint_eq(p->va, m->va);
		ck_assert_uint_eq(p->dma_len, m->len);
	}
	if (last) {
		bool imm = p->opcode == ROCE_SEND_LAST_IMM || p->opcode == ROCE_SEND_ONLY_IMM ||
			   p->opcode == ROCE_WRITE_LAST_IMM || p->opcode == ROCE_WRITE_ONLY_IMM;

		ck_assert_uint_eq(off + p->payload_len, m->len);
		ck_assert_msg(!memcmp(write ? x->remote + m->va : x->buf, x->data[x->next_recv],
				      m->len), "message %u arrived changed", x->next_recv);
		ck_assert(imm == (m->op == ROCE_SEND_ONLY_IMM || m->op == ROCE_WRITE_ONLY_IMM));
		if (imm)
			ck_assert_uint_eq(p->imm, m->imm);
		x->delivered++;
		x->next_recv++;
	}
	return 0;
}

/* The responder's 8-byte counter for FETCH_ADD, the last 8 bytes of its memory. */
#define COUNTER	(REMOTE - 8)

static int on_atomic(void *ctx, uint64_t va, uint32_t rkey, uint64_t **target)
{
	struct peer *x = ctx;

	if (va != COUNTER)
		return RC_NAK_REMOTE_ACCESS;
	*target = (uint64_t *)(x->remote + va);
	return 0;
}

/* The responder's memory, to READ from; outside it is a remote access error. */
static int on_read(void *ctx, uint64_t va, uint32_t rkey, uint32_t len, const uint8_t **src)
{
	struct peer *x = ctx;

	if (va > REMOTE || len > REMOTE - va)
		return RC_NAK_REMOTE_ACCESS;
	*src = x->remote + va;
	return 0;
}

static void on_done(void *ctx, uint64_t id, enum rc_status st)
{
	struct peer *x = ctx;

	ck_assert_uint_eq(id, x->completed);
	if (st == RC_OK && x->posted[id].op == ROCE_FETCH_ADD) {
		uint64_t orig;

		memcpy(&orig, x->read_into[id], 8);
		ck_assert_uint_lt(orig, NMSG);
		ck_assert_msg(!x->orig_seen[orig], "FETCH_ADD saw %llu twice: done twice",
			      (unsigned long long)orig);
		x->orig_seen[orig] = 1;
		x->adds_done++;
		x->reads++;	/* not the owner's to receive either */
	}
	if (st == RC_OK && x->posted[id].op == ROCE_READ_REQUEST) {
		ck_assert_msg(!memcmp(x->read_into[id], x->read_want[id], x->posted[id].len),
			      "READ %llu brought back something else", (unsigned long long)id);
		x->reads++;
	}
	x->completed++;
	x->statuses[st]++;
	x->last_status = st;
}

/* Move what is on @w into @to; replies go on @back. */
static void deliver(struct wire *w, struct rc_qp *to, struct wire *back, uint64_t now)
{
	struct roce_pkt p, reply;
	const char *why;
	unsigned int i;

	for (i = 0; i < w->n; i++) {
		ck_assert_msg(roce_parse(w->frame[i], w->len[i], &p, &why) == 0, "%s", why);
		if (rc_receive(to, &p, now, &reply))
			wire_put(back, &reply);
	}
	w->n = 0;
}

static struct wire ab, ba;
static struct rc_qp a, b;

static uint8_t rnr_retry_for_run = 7;
static unsigned int move_a_at, move_b_at;	/* step + 1 at which a QP moves (0: never) */
static unsigned int moves_done;

/*
 * A QP moves (a migration): its state saved, a fresh QP made with the same
 * callbacks loads it, the buffers are attached again by message id, and
 * what was on the wire meanwhile is lost.
 */
static void move_qp(struct rc_qp *qp, uint64_t now)
{
	struct state_buf sb;
	struct rc_qp fresh;
	char err[160] = "";
	unsigned int i;

	ck_assert_int_eq(state_buf_init(&sb), 0);
	ck_assert_int_eq(rc_save(qp, &sb), 0);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
	rc_init(&fresh, 4096, 0, 0, 0, 0, 0, qp->recv, qp->done, qp->ctx);
	fresh.read = qp->read;
	fresh.atomic = qp->atomic;
	ck_assert_msg(rc_load(&fresh, state_blob(&sb), 0, err, sizeof(err)) == 0, "%s", err);
	state_buf_free(&sb);
	for (i = 0; i < fresh.sq_count; i++) {
		struct rc_msg *m = &fresh.sq[(fresh.sq_head + i) % RC_SQ_MAX];

		ck_assert_ptr_null(m->data);
		m->data = pr.data[m->id];
		m->dest = pr.read_into[m->id];
	}
	*qp = fresh;
	rc_resume(qp, now);
	ab.n = ba.n = 0;
	moves_done++;
}

/*
 * @n messages from a to b over a wire with these rates, the peer record
 * as the caller set it; returns the steps taken.
 */
static unsigned int run_keep(unsigned int n, unsigned int drop, unsigned int dup,
			     unsigned int reorder, uint32_t seed)
{
	unsigned int posted = 0, step, i;
	uint64_t now = 1000;
	struct roce_pkt p;

	memset(&ab, 0, sizeof(ab));
	memset(&ba, 0, sizeof(ba));
	rng = seed;
	for (i = REMOTE / 2; i < REMOTE; i++)
		pr.remote[i] = (uint8_t)(i * 13 + 5);
	memset(pr.remote + COUNTER, 0, 8);
	ab.drop = ba.drop = drop;
	ab.dup = ba.dup = dup;
	ab.reorder = ba.reorder = reorder;
	/* Both PSNs start near the 24-bit wrap. */
	rc_init(&a, MTU, 0xffff00, 0x1234, 2, 10, 7, NULL, on_done, &pr);
	a.rnr_retry = a.rnr_retries = rnr_retry_for_run;
	rc_init(&b, MTU, 0x1234, 0xffff00, 1, 10, 7, on_recv, NULL, &pr);
	b.read = on_read;
	b.atomic = on_atomic;
	for (i = 0; i < n; i++) {
		struct rc_msg *m = &pr.posted[i];
		uint32_t k;

		static const uint8_t kinds[6] = { ROCE_SEND_ONLY, ROCE_SEND_ONLY_IMM,
						  ROCE_WRITE_ONLY, ROCE_WRITE_ONLY_IMM,
						  ROCE_READ_REQUEST, ROCE_FETCH_ADD };

		m->id = i;
		/* An RNR test's receiver refuses SENDs: make them all SENDs. */
		m->op = pr.rnr_mode == 2 ? ROCE_SEND_ONLY : kinds[rnd() % 6];
		m->len = rnd() % 4 == 0 ? rnd() % 8 : rnd() % MAXLEN;
		for (k = 0; k < m->len; k++)
			pr.data[i][k] = (uint8_t)(rnd() >> 3);
		m->data = pr.data[i];
		/*
		 * WRITEs land in the lower half, READs read the upper half: a
		 * READ asked again may run after later WRITEs (the IB allows
		 * it), so what it reads must not change.
		 */
		m->va = rnd() % (REMOTE / 2 - MAXLEN);
		m->rkey = 0x100 + i;
		m->imm = 0xabc00000 + i;
		if (m->op == ROCE_READ_REQUEST) {
			m->va += REMOTE / 2;
			if (m->va + m->len > COUNTER)
				m->va = COUNTER - m->len;
			m->dest = pr.read_into[i];
			memcpy(pr.read_want[i], pr.remote + m->va, m->len);
		}
		if (m->op == ROCE_FETCH_ADD) {
			m->va = COUNTER;
			m->swap_add = 1;
			m->len = 0;
			m->dest = pr.read_into[i];
			pr.adds++;
		}
	}
	for (step = 0; step < 200000 && pr.completed < n; step++) {
		while (posted < n && !rc_post(&a, &pr.posted[posted]))
			posted++;
		for (i = 0; i < 8 && rc_next(&a, now, &p); i++)
			wire_put(&ab, &p);
		/* b moves while a's packets are on their way: they are lost. */
		if (step + 1 == move_b_at)
			move_qp(&b, now);
		deliver(&ab, &b, &ba, now);
		/* The responder's READ responses, and the ACKs owed after them. */
		for (i = 0; i < 8 && rc_next(&b, now, &p); i++)
			wire_put(&ba, &p);
		/* a moves while b's answers are on their way. */
		if (step + 1 == move_a_at)
			move_qp(&a, now);
		deliver(&ba, &a, &ab, now);
		now += 100000;		/* 100 us a step */
		rc_tick(&a, now);
		if (a.error)
			break;
	}
	return step;
}

static unsigned int run(unsigned int n, unsigned int drop, unsigned int dup,
			unsigned int reorder, uint32_t seed)
{
	memset(&pr, 0, sizeof(pr));
	return run_keep(n, drop, dup, reorder, seed);
}

START_TEST(clean_wire)
{
	unsigned int steps = run(NMSG, 0, 0, 0, 7);


	ck_assert_uint_eq(pr.delivered + pr.reads, NMSG);
	ck_assert_uint_gt(pr.reads, 30);
	ck_assert_uint_eq(pr.completed, NMSG);
	ck_assert_uint_eq(pr.statuses[RC_OK], NMSG);
	ck_assert_uint_eq(a.resent, 0);
	ck_assert_uint_eq(b.dups + b.out_of_seq, 0);
	printf("clean: %u messages, %llu packets in %u steps\n", NMSG,
	       (unsigned long long)a.sent, steps);
}
END_TEST

/* 5% lost, 3% doubled, 5% overtaking, both ways: still exactly once, in order. */
START_TEST(lossy_wire)
{
	unsigned int seed;
	uint64_t replays = 0;

	for (seed = 1; seed <= 4; seed++) {
		run(NMSG, 50, 30, 50, seed * 977);
		ck_assert_msg(!a.error, "seed %u: the requester gave up", seed);
		ck_assert_uint_eq(pr.delivered + pr.reads, NMSG);
		ck_assert_uint_eq(pr.completed, NMSG);
		ck_assert_uint_eq(pr.statuses[RC_OK], NMSG);
		ck_assert_uint_eq(pr.adds_done, pr.adds);
		ck_assert_uint_eq(*(uint64_t *)(pr.remote + COUNTER), pr.adds);
		ck_assert_uint_gt(a.resent, 0);
		ck_assert_uint_gt(b.dups, 0);
		ck_assert_uint_gt(b.out_of_seq, 0);
		replays += b.atomic_replays;
		printf("lossy seed %u: %llu packets, %llu resent, %llu timeouts, %llu NAKs, "
		       "%llu READs asked again; responder saw %llu duplicates, %llu out of "
		       "order\n", seed, (unsigned long long)a.sent, (unsigned long long)a.resent,
		       (unsigned long long)a.timeouts, (unsigned long long)a.naks_rx,
		       (unsigned long long)a.reads_again, (unsigned long long)b.dups,
		       (unsigned long long)b.out_of_seq);
	}
	/* Some FETCH_ADDs were asked twice and answered from the kept result. */
	ck_assert_uint_gt(replays, 0);
}
END_TEST

/* 15% lost, 5% doubled, 10% overtaking: slower, still exactly once. */
START_TEST(very_lossy_wire)
{
	unsigned int seed;

	for (seed = 1; seed <= 2; seed++) {
		run(NMSG, 150, 50, 100, seed * 31337);
		ck_assert_msg(!a.error, "seed %u: the requester gave up", seed);
		ck_assert_uint_eq(pr.delivered + pr.reads, NMSG);
		ck_assert_uint_eq(pr.statuses[RC_OK], NMSG);
		printf("very lossy seed %u: %llu packets, %llu resent, %llu timeouts\n", seed,
		       (unsigned long long)a.sent, (unsigned long long)a.resent,
		       (unsigned long long)a.timeouts);
	}
}
END_TEST

/* Receivers short of buffers: RNR NAKs, the requester waits and sends again; nothing lost. */
START_TEST(rnr_then_delivered)
{
	unsigned int i, refused = 0;

	memset(&pr, 0, sizeof(pr));
	pr.rnr_mode = 1;
	run_keep(NMSG, 50, 30, 50, 4242);
	ck_assert(!a.error);
	ck_assert_uint_eq(pr.delivered + pr.reads, NMSG);
	ck_assert_uint_eq(pr.statuses[RC_OK], NMSG);
	for (i = 0; i < NMSG; i++)
		refused += pr.rnr_given[i];
	ck_assert_uint_gt(refused, 20);
	ck_assert_uint_ge(a.rnr_naks_rx, 1);
	printf("rnr: %u refusals, %llu RNR NAKs taken\n", refused,
	       (unsigned long long)a.rnr_naks_rx);
}
END_TEST

/* A receiver that never has a buffer: rnr_retry (2) RNR NAKs waited out, then failure. */
START_TEST(rnr_retries_run_out)
{
	memset(&pr, 0, sizeof(pr));
	pr.rnr_mode = 2;
	rnr_retry_for_run = 2;
	run_keep(5, 0, 0, 0, 9);
	rnr_retry_for_run = 7;
	ck_assert(a.error);
	ck_assert_uint_eq(a.rnr_naks_rx, 3);
	ck_assert_uint_eq(pr.statuses[RC_RNR_RETRY_EXCEEDED], 1);
	ck_assert_uint_eq(pr.statuses[RC_FLUSHED], 4);
}
END_TEST

/*
 * Each QP moves mid-stream (its state through the versioned state tree,
 * what was on the wire lost), a few times, over a lossy wire: still every
 * message exactly once, in order, every atomic done once.
 */
START_TEST(moved_mid_stream)
{
	unsigned int seed;

	for (seed = 1; seed <= 3; seed++) {
		moves_done = 0;
		move_a_at = 17 * seed;
		move_b_at = 29 * seed;
		run(NMSG, 50, 30, 50, seed * 4099);
		move_a_at = move_b_at = 0;
		ck_assert_uint_eq(moves_done, 2);
		ck_assert_msg(!a.error && !b.error, "seed %u: a QP went to ERR", seed);
		ck_assert_uint_eq(pr.delivered + pr.reads, NMSG);
		ck_assert_uint_eq(pr.statuses[RC_OK], NMSG);
		ck_assert_uint_eq(*(uint64_t *)(pr.remote + COUNTER), pr.adds);
	}
}
END_TEST

/*
 * On a clean wire, each QP moved twice: what was on the wire at each move
 * is lost, yet neither side waits for a timer, because the moved QP
 * resends at once and tells its peer where it is.
 */
START_TEST(move_costs_no_timeout)
{
	moves_done = 0;
	move_a_at = 12;
	move_b_at = 25;
	run(NMSG, 0, 0, 0, 55);
	move_a_at = move_b_at = 0;
	ck_assert_uint_eq(moves_done, 2);
	ck_assert_uint_eq(pr.delivered + pr.reads, NMSG);
	ck_assert_uint_eq(pr.statuses[RC_OK], NMSG);
	ck_assert_uint_eq(a.timeouts, 0);
	ck_assert_uint_eq(a.retries, a.retry_cnt);
	ck_assert_uint_gt(a.naks_rx, 0);
	printf("moves on a clean wire: %llu packets, %llu sent again, %llu NAKs, 0 timeouts\n",
	       (unsigned long long)a.sent, (unsigned long long)a.resent,
	       (unsigned long long)a.naks_rx);
}
END_TEST

/*
 * The last message of a stream lost in the responder's move: with nothing
 * after it to reveal the gap, only the moved responder's word (a NAK for
 * the PSN it expects) spares the requester its timer.
 */
START_TEST(resync_spares_the_timer)
{
	unsigned int steps;

	moves_done = 0;
	move_b_at = 1;
	steps = run(1, 0, 0, 0, 77);
	move_b_at = 0;
	ck_assert_uint_eq(moves_done, 1);
	ck_assert_uint_eq(pr.completed, 1);
	ck_assert_uint_eq(a.timeouts, 0);
	ck_assert_uint_eq(a.naks_rx, 1);
	ck_assert_uint_lt(steps, 5);
}
END_TEST

/*
 * A READ request takes a PSN for each of its responses: with a 64 KiB
 * READ out at MTU 256, 256 PSNs are in flight, far past the packet
 * window, and the state still loads (a migration of such a requester
 * was refused once as "PSNs out of order").
 */
START_TEST(long_read_in_flight_moves)
{
	static uint8_t dest[65536];
	struct rc_msg m = { .id = 1, .op = ROCE_READ_REQUEST, .dest = dest, .len = sizeof(dest),
			    .va = 0x1000, .rkey = 0x100 };
	struct state_buf sb;
	struct roce_pkt p;
	struct rc_qp q, fresh;
	char err[160] = "";

	rc_init(&q, 256, 0xfffff0, 0, 7, 14, 7, NULL, NULL, NULL);
	ck_assert_int_eq(rc_post(&q, &m), 0);
	ck_assert(rc_next(&q, 1, &p));
	ck_assert_int_eq(rc_psn_diff(q.psn, q.una), 256);
	ck_assert_int_eq(state_buf_init(&sb), 0);
	ck_assert_int_eq(rc_save(&q, &sb), 0);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
	rc_init(&fresh, 4096, 0, 0, 0, 0, 0, NULL, NULL, NULL);
	ck_assert_msg(rc_load(&fresh, state_blob(&sb), 0, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(fresh.psn, q.psn);
	state_buf_free(&sb);
}
END_TEST

/* A corrupt state is refused whole: the QP keeps what it had. */
START_TEST(corrupt_state_refused)
{
	struct state_buf sb;
	struct rc_qp q, before;
	char err[160] = "";

	rc_init(&q, 1024, 5, 6, 7, 10, 7, NULL, NULL, NULL);
	q.psn = 0x1000000;	/* 25 bits */
	ck_assert_int_eq(state_buf_init(&sb), 0);
	ck_assert_int_eq(rc_save(&q, &sb), 0);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
	rc_init(&q, 1024, 5, 6, 7, 10, 7, NULL, NULL, NULL);
	before = q;
	ck_assert_int_eq(rc_load(&q, state_blob(&sb), 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "rc: a PSN, QPN or MSN wider than 24 bits");
	ck_assert(!memcmp(&q, &before, sizeof(q)));
	state_buf_free(&sb);
}
END_TEST

/* Nothing gets through: after retry_cnt retransmissions the first fails, the rest flush. */
START_TEST(dead_wire_exhausts_retries)
{
	run(5, 1000, 0, 0, 3);
	ck_assert(a.error);
	ck_assert_uint_eq(pr.delivered, 0);
	ck_assert_uint_eq(a.timeouts, 8);
	ck_assert_uint_eq(pr.statuses[RC_RETRY_EXCEEDED], 1);
	ck_assert_uint_eq(pr.statuses[RC_FLUSHED], 4);
}
END_TEST

/* A MIDDLE with no FIRST before it: NAK (invalid request), and the responder stops. */
START_TEST(middle_without_first_refused)
{
	struct roce_pkt p = { .opcode = ROCE_SEND_MIDDLE, .psn = 0x1234, .payload_len = MTU }, r;
	static uint8_t data[MTU];

	memset(&pr, 0, sizeof(pr));
	p.payload = data;
	rc_init(&b, MTU, 0, 0x1234, 1, 10, 7, on_recv, NULL, &pr);
	ck_assert(rc_receive(&b, &p, 0, &r));
	ck_assert_uint_eq(r.opcode, ROCE_ACK);
	ck_assert_uint_eq(r.syndrome, RC_AETH_NAK | RC_NAK_INVALID);
	ck_assert(b.error);
	ck_assert_uint_eq(pr.delivered, 0);
}
END_TEST

/* Compare-and-swap: the first finds 0 and swaps in 5, the second finds 5 and leaves it. */
START_TEST(compare_and_swap)
{
	uint8_t got[2][8];
	struct roce_pkt p;
	uint64_t v;
	int i, step;

	memset(&pr, 0, sizeof(pr));
	memset(&ab, 0, sizeof(ab));
	memset(&ba, 0, sizeof(ba));
	rc_init(&a, MTU, 10, 20, 2, 10, 7, NULL, on_done, &pr);
	rc_init(&b, MTU, 20, 10, 1, 10, 7, on_recv, NULL, &pr);
	b.atomic = on_atomic;
	for (i = 0; i < 2; i++) {
		pr.posted[i] = (struct rc_msg){ .id = i, .op = ROCE_CMP_SWAP, .va = COUNTER,
						.compare = 0, .swap_add = i ? 9 : 5, .dest = got[i] };
		ck_assert_int_eq(rc_post(&a, &pr.posted[i]), 0);
	}
	/* Unaligned: refused when posted. */
	ck_assert_int_eq(rc_post(&a, &(struct rc_msg){ .op = ROCE_FETCH_ADD, .va = 4 }), -EINVAL);
	for (step = 0; step < 10 && pr.completed < 2; step++) {
		while (rc_next(&a, step, &p))
			wire_put(&ab, &p);
		deliver(&ab, &b, &ba, step);
		while (rc_next(&b, step, &p))
			wire_put(&ba, &p);
		deliver(&ba, &a, &ab, step);
	}
	ck_assert_uint_eq(pr.statuses[RC_OK], 2);
	memcpy(&v, got[0], 8);
	ck_assert_uint_eq(v, 0);
	memcpy(&v, got[1], 8);
	ck_assert_uint_eq(v, 5);
	ck_assert_uint_eq(*(uint64_t *)(pr.remote + COUNTER), 5);
}
END_TEST

/*
 * A message posted solicited carries SE on its last packet only, and
 * keeps it through a move (saved, loaded into a fresh QP); one posted
 * without it never carries it.
 */
START_TEST(solicited_on_the_last_packet)
{
	static uint8_t data[2500];
	bool se[5] = { false };
	struct state_buf sb;
	struct roce_pkt p;
	char err[160] = "";
	unsigned int n = 0, i;

	rc_init(&a, MTU, 10, 20, 2, 10, 7, NULL, NULL, NULL);
	ck_assert_int_eq(rc_post(&a, &(struct rc_msg){ .id = 0, .op = ROCE_SEND_ONLY,
						      .len = 2500, .solicited = true }), 0);
	ck_assert_int_eq(rc_post(&a, &(struct rc_msg){ .id = 1, .op = ROCE_SEND_ONLY,
						      .len = 100 }), 0);
	ck_assert_int_eq(rc_post(&a, &(struct rc_msg){ .id = 2, .op = ROCE_WRITE_ONLY_IMM,
						      .len = 8, .solicited = true }), 0);
	ck_assert_int_eq(state_buf_init(&sb), 0);
	ck_assert_int_eq(rc_save(&a, &sb), 0);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
	rc_init(&b, 4096, 0, 0, 0, 0, 0, NULL, NULL, NULL);
	ck_assert_msg(rc_load(&b, state_blob(&sb), 0, err, sizeof(err)) == 0, "%s", err);
	state_buf_free(&sb);
	for (i = 0; i < b.sq_count; i++)
		b.sq[(b.sq_head + i) % RC_SQ_MAX].data = data;
	while (n < 5 && rc_next(&b, 0, &p))
		se[n++] = p.solicited;
	ck_assert_uint_eq(n, 5);
	ck_assert(!se[0] && !se[1] && se[2]);	/* SEND FIRST, MIDDLE, LAST */
	ck_assert(!se[3]);			/* SEND ONLY, not solicited */
	ck_assert(se[4]);			/* WRITE ONLY WITH IMMEDIATE */
}
END_TEST

/*
 * With nothing acknowledged a requester sends one window: RC_WINDOW_BYTES
 * of its path MTU (64 packets of 4096, 256 of 1024), never more than
 * RC_WINDOW packets (256 of 256 bytes, not 1024); within one message it
 * asks for an ACK every quarter window (16 packets of 4096, 64 at most).
 */
START_TEST(window_follows_the_mtu)
{
	static const struct { uint32_t mtu, pkts, every; } cases[] = {
		{ 4096, 64, 16 }, { 2048, 128, 32 }, { 1024, 256, 64 }, { 256, 256, 64 },
	};
	static uint8_t data[1 << 20];
	struct roce_pkt p;
	unsigned int i, n, asked;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc_init(&a, cases[i].mtu, 10, 20, 2, 10, 7, NULL, NULL, NULL);
		ck_assert_int_eq(rc_post(&a, &(struct rc_msg){ .id = 0, .op = ROCE_WRITE_ONLY,
							      .len = sizeof(data),
							      .data = data }), 0);
		for (n = asked = 0; rc_next(&a, 0, &p); n++) {
			ck_assert_uint_le(n, RC_WINDOW);
			ck_assert_msg(p.ack_req == ((n + 1) % cases[i].every == 0),
				      "MTU %u: packet %u %s an ACK", cases[i].mtu, n,
				      p.ack_req ? "asks for" : "does not ask for");
			asked += p.ack_req;
		}
		ck_assert_msg(n == cases[i].pkts, "MTU %u: %u packets in flight, not %u",
			      cases[i].mtu, n, cases[i].pkts);
		ck_assert_uint_eq(asked, 4);
	}
}
END_TEST

START_TEST(psn_arithmetic_wraps)
{
	ck_assert_int_eq(rc_psn_diff(0x000001, 0xffffff), 2);
	ck_assert_int_eq(rc_psn_diff(0xffffff, 0x000001), -2);
	ck_assert_int_eq(rc_psn_diff(0x7fffff, 0), 0x7fffff);
	ck_assert_int_eq(rc_psn_diff(0x800000, 0), -0x800000);
}
END_TEST

VLAB_SUITE_MAIN("rc", "transport", NULL, NULL, 60,
	clean_wire, lossy_wire, very_lossy_wire, rnr_then_delivered, rnr_retries_run_out,
	compare_and_swap, moved_mid_stream, move_costs_no_timeout, resync_spares_the_timer,
	corrupt_state_refused, long_read_in_flight_moves, dead_wire_exhausts_retries,
	middle_without_first_refused, solicited_on_the_last_packet, window_follows_the_mtu,
	psn_arithmetic_wraps);
