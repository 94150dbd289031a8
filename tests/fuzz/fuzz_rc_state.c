// SPDX-License-Identifier: GPL-2.0
/*
 * A moved RC QP's state from a hostile stream (devices/rdma/rc.c rc_load):
 * the input is a state tree. Whatever it says, the load refuses it or
 * leaves a QP that then runs: it sends what it has, takes a few packets
 * (an ACK of everything, a READ request, a SEND) and goes through its
 * timers, with no read or write outside the QP and the buffers attached
 * to its messages, which are exact-size (ASan sees any overrun).
 *
 * Seeds (FUZZ_MAKE_SEEDS=DIR): QPs saved with messages of each kind
 * queued, some sent and some acknowledged, and READ responses queued.
 */
#include "fuzz.h"
#include "devices/rdma/rc.h"
#include "vmm/migrate/state.h"

static uint8_t remote[8192] __attribute__((aligned(8)));

static int fz_read(void *ctx, uint64_t va, uint32_t rkey, uint32_t len, const uint8_t **src)
{
	if (va > sizeof(remote) || len > sizeof(remote) - va)
		return RC_NAK_REMOTE_ACCESS;
	*src = remote + va;
	return 0;
}

static int fz_recv(void *ctx, const struct roce_pkt *p, uint32_t off, bool first, bool last)
{
	return 0;
}

static int fz_atomic(void *ctx, uint64_t va, uint32_t rkey, uint64_t **target)
{
	if ((va & 7) || va >= sizeof(remote))
		return RC_NAK_REMOTE_ACCESS;
	*target = (uint64_t *)(remote + va);
	return 0;
}

static void fz_done(void *ctx, uint64_t id, enum rc_status st)
{
}

static void make_seeds(const char *dir)
{
	static uint8_t data[3000];
	struct state_buf sb;
	struct roce_pkt p, r;
	struct rc_qp qp;
	char name[32];
	int i, k;

	for (k = 0; k < 4; k++) {
		rc_init(&qp, 1024, 0xfffff0 + k, 0x100, 7, 10, 7, fz_recv, fz_done, NULL);
		qp.read = fz_read;
		qp.atomic = fz_atomic;
		for (i = 0; i < 6; i++) {
			static const uint8_t ops[6] = { ROCE_SEND_ONLY, ROCE_WRITE_ONLY_IMM,
							ROCE_READ_REQUEST, ROCE_FETCH_ADD,
							ROCE_SEND_ONLY_IMM, ROCE_CMP_SWAP };

			rc_post(&qp, &(struct rc_msg){ .id = i, .op = ops[i],
						      .len = ops[i] >= ROCE_CMP_SWAP ? 0 : 1000 * i,
						      .data = data, .dest = data, .va = 8 * i });
		}
		for (i = 0; i < 2 * k && rc_next(&qp, 0, &p); i++)
			;
		/* A READ request from the peer: responses queued. */
		p = (struct roce_pkt){ .opcode = ROCE_READ_REQUEST, .psn = 0x100, .va = 64,
				       .dma_len = 2500 };
		rc_receive(&qp, &p, 0, &r);
		if (state_buf_init(&sb) || rc_save(&qp, &sb) || state_buf_finish(&sb))
			exit(1);
		snprintf(name, sizeof(name), "qp%d", k);
		fuzz_write_seed(dir, name, state_blob(&sb), state_blob_size(&sb));
		state_buf_free(&sb);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_MAKE_SEEDS");

	if (dir)
		make_seeds(dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *bufs[RC_SQ_MAX];
	struct roce_pkt p, r;
	struct rc_qp qp;
	char err[160];
	unsigned int i, n = 0;

	if (state_check(data, size, err, sizeof(err)))
		return 0;
	rc_init(&qp, 1024, 0, 0, 0, 0, 0, fz_recv, fz_done, NULL);
	qp.read = fz_read;
	qp.atomic = fz_atomic;
	if (rc_load(&qp, data, 0, err, sizeof(err)))
		return 0;
	/* The owner attaches each message's buffer again, of its length exactly. */
	for (i = 0; i < qp.sq_count; i++)
		if (qp.sq[(qp.sq_head + i) % RC_SQ_MAX].len > (1u << 20))
			return 0;	/* valid, but more memory than a fuzz run affords */
	for (i = 0; i < qp.sq_count; i++) {
		struct rc_msg *m = &qp.sq[(qp.sq_head + i) % RC_SQ_MAX];
		size_t len = m->op == ROCE_CMP_SWAP || m->op == ROCE_FETCH_ADD ? 8 : m->len;

		bufs[n] = malloc(len ? len : 1);
		memset(bufs[n], 0, len ? len : 1);
		m->data = m->dest = bufs[n++];
	}
	rc_resume(&qp, 1);
	for (i = 0; i < 200 && rc_next(&qp, 1, &p); i++)
		;
	p = (struct roce_pkt){ .opcode = ROCE_ACK, .psn = (qp.psn - 1) & RC_PSN_MASK };
	rc_receive(&qp, &p, 2, &r);
	p = (struct roce_pkt){ .opcode = ROCE_SEND_ONLY, .psn = qp.epsn, .ack_req = true };
	rc_receive(&qp, &p, 2, &r);
	rc_tick(&qp, 1ULL << 40);
	for (i = 0; i < 200 && rc_next(&qp, 1ULL << 41, &p); i++)
		;
	for (i = 0; i < n; i++)
		free(bufs[i]);
	return 0;
}
