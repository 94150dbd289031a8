// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile peer against one RC QP (devices/rdma/rc.c): the input is a
 * series of packets as a peer could forge them (opcode, PSN near the
 * QP's, AETH, READ request fields, payload length), each taken by
 * rc_receive() with the QP's own packets drawn between them. The QP has
 * SENDs, WRITEs and READs posted into exact-size buffers, so ASan sees a
 * response placed outside a READ's destination or data read outside a
 * message; the responder's memory is a buffer its read callback bounds.
 */
#include "fuzz.h"
#include "devices/rdma/rc.h"

#define MTU	256

static uint64_t remote64[512];
#define remote ((uint8_t *)remote64)

static int fz_recv(void *ctx, const struct roce_pkt *p, uint32_t off, bool first, bool last)
{
	/* The owner takes data into a 4 KiB buffer, or refuses; some lengths find no buffer. */
	if (p->payload_len % 64 == 7)
		return RC_RECV_RNR;
	return off + p->payload_len > sizeof(remote64) ? RC_NAK_REMOTE_ACCESS : 0;
}

static int fz_read(void *ctx, uint64_t va, uint32_t rkey, uint32_t len, const uint8_t **src)
{
	if (va > sizeof(remote64) || len > sizeof(remote64) - va)
		return RC_NAK_REMOTE_ACCESS;
	*src = remote + va;
	return 0;
}

static int fz_atomic(void *ctx, uint64_t va, uint32_t rkey, uint64_t **target)
{
	if ((va & 7) || va >= sizeof(remote64))
		return RC_NAK_REMOTE_ACCESS;
	*target = &remote64[va / 8];
	return 0;
}

static void fz_done(void *ctx, uint64_t id, enum rc_status st)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ops[] = {
		ROCE_SEND_FIRST, ROCE_SEND_MIDDLE, ROCE_SEND_LAST, ROCE_SEND_ONLY_IMM,
		ROCE_WRITE_FIRST, ROCE_WRITE_MIDDLE, ROCE_WRITE_LAST_IMM, ROCE_WRITE_ONLY,
		ROCE_READ_REQUEST, ROCE_READ_RESPONSE_FIRST, ROCE_READ_RESPONSE_MIDDLE,
		ROCE_READ_RESPONSE_LAST, ROCE_READ_RESPONSE_ONLY, ROCE_ACK,
		ROCE_CMP_SWAP, ROCE_FETCH_ADD, ROCE_ATOMIC_ACK,
	};
	uint8_t *msg[5], payload[MTU + 64];
	struct roce_pkt p, reply, out;
	struct rc_qp qp;
	uint64_t now = 1;
	size_t pos = 0;
	unsigned int i;

	rc_init(&qp, MTU, 0xfffff0, 0xfffff8, 1, 4, 3, fz_recv, fz_done, NULL);
	qp.read = fz_read;
	qp.atomic = fz_atomic;
	qp.rnr_retry = qp.rnr_retries = 2;
	for (i = 0; i < 4; i++) {
		static const uint8_t kinds[4] = { ROCE_SEND_ONLY, ROCE_WRITE_ONLY_IMM,
						  ROCE_READ_REQUEST, ROCE_READ_REQUEST };
		uint32_t len = 100 + 300 * i;
		struct rc_msg m = { .id = i, .op = kinds[i], .len = len, .va = 64 * i, .rkey = 1 };

		msg[i] = malloc(len);
		memset(msg[i], i, len);
		m.data = msg[i];
		m.dest = msg[i];
		rc_post(&qp, &m);
	}
	/* And an atomic, its original value into an exact 8 bytes. */
	msg[4] = malloc(8);
	rc_post(&qp, &(struct rc_msg){ .id = 4, .op = ROCE_FETCH_ADD, .va = 64, .swap_add = 1,
				       .dest = msg[4] });
	memset(payload, 0x5a, sizeof(payload));
	while (size - pos >= 8) {
		const uint8_t *b = data + pos;

		pos += 8;
		memset(&p, 0, sizeof(p));
		p.opcode = ops[b[0] % sizeof(ops)];
		p.ack_req = b[0] & 0x80;
		/* PSNs near both of the QP's, so that most land in its windows. */
		p.psn = ((b[1] & 1 ? 0xfffff0 : 0xfffff8) + (int8_t)b[2]) & RC_PSN_MASK;
		p.syndrome = b[3];
		p.va = b[4] * 16 + (b[3] & 8);
		p.swap_add = b[5];
		p.compare = b[4];
		p.orig = b[6];
		p.dma_len = b[5] * 8;
		p.payload_len = (uint32_t)b[6] * (MTU + 64) / 255;
		p.payload = payload;
		if (rc_receive(&qp, &p, now, &reply) && reply.opcode != ROCE_ACK)
			abort();	/* a reply is an ACK or NAK */
		for (i = 0; i < (b[7] & 7) && rc_next(&qp, now, &out); i++)
			;
		now += (uint64_t)(b[7] >> 3) * 10000;
		rc_tick(&qp, now);
	}
	for (i = 0; i < 5; i++)
		free(msg[i]);
	return 0;
}
