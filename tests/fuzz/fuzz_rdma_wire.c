// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile peer on the wire against a virtio-rdma device
 * (devices/rdma/virtio_rdma.c, driven on this thread through its _sync
 * hooks): an RC QP in RTS towards the peer with two receive WRs posted,
 * a GSI QP with one, a user MR others may write, read and update, all in
 * 256 KiB of guest RAM (one device, reset and set up again per input). The input is a series of packets, each described
 * by a few bytes (opcode, QP, PSN near the QP's, address and key near
 * the MR's, lengths, payload) and built into a RoCEv2 frame from the
 * peer with a correct ICRC, or, one time in eight, a frame of raw bytes.
 *
 * Whatever comes, the device writes guest memory only inside the MR and
 * the receive WRs' buffers (the rest of RAM is compared with a copy), and
 * every frame it sends back parses as RoCEv2.
 */
#include "rdma_fuzz.h"

static uint8_t *copy;

static uint64_t take(const uint8_t **p, size_t *left, unsigned int n)
{
	uint64_t v = 0;

	while (n-- && *left) {
		v = v << 8 | **p;
		(*p)++;
		(*left)--;
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ops[] = {
		ROCE_SEND_FIRST, ROCE_SEND_MIDDLE, ROCE_SEND_LAST, ROCE_SEND_LAST_IMM,
		ROCE_SEND_ONLY, ROCE_SEND_ONLY_IMM, ROCE_WRITE_FIRST, ROCE_WRITE_MIDDLE,
		ROCE_WRITE_LAST, ROCE_WRITE_LAST_IMM, ROCE_WRITE_ONLY, ROCE_WRITE_ONLY_IMM,
		ROCE_READ_REQUEST, ROCE_ACK, ROCE_CMP_SWAP, ROCE_FETCH_ADD,
		ROCE_READ_RESPONSE_ONLY, ROCE_ATOMIC_ACK, ROCE_UD | ROCE_SEND_ONLY,
		ROCE_UD | ROCE_SEND_ONLY_IMM,
	};
	static uint8_t frame[5000], payload[600];
	static struct virtio_dev *v;
	uint64_t i;

	if (!ram) {
		ram = aligned_alloc(4096, RAM);
		copy = malloc(RAM);
		if (!ram || !copy || guest_mem_init_buffer(&gm, ram, RAM))
			abort();
		for (i = 0; i < RAM; i++)
			copy[i] = (uint8_t)(i * 13 + (i >> 12));
		v = device();
	}
	memcpy(ram, copy, RAM);
	v->ops->reset(v);
	device_setup(v);
	while (size >= 4) {
		uint8_t sel = (uint8_t)take(&data, &size, 1);

		if ((sel & 7) == 7) {
			/* Raw bytes, as a frame: the parser's to refuse. */
			size_t n = take(&data, &size, 2) % (sizeof(frame) + 1);

			n = n < size ? n : size;
			memcpy(frame, data, n);
			data += n;
			size -= n;
			virtio_rdma_frame_sync(v, frame, n);
		} else {
			struct roce_pkt p;
			uint32_t plen;
			size_t n;

			peer_pkt(&p);
			p.opcode = ops[take(&data, &size, 1) % sizeof(ops)];
			p.dqpn = (sel >> 3) & 3;			/* 0..3: QP 1, 2, nobody's */
			p.psn = (100 + (uint32_t)take(&data, &size, 1) - 8) & RC_PSN_MASK;
			p.ack_req = sel & 0x20;
			p.va = MR_VA + (uint64_t)(int16_t)take(&data, &size, 2) * 4;
			p.rkey = (sel & 0x40) ? mr_key : (uint32_t)take(&data, &size, 4);
			p.dma_len = (uint32_t)take(&data, &size, 2);
			p.qkey = (sel & 0x80) ? 0x80010000 : (uint32_t)take(&data, &size, 4);
			p.sqpn = 2;
			p.syndrome = (uint8_t)take(&data, &size, 1);
			p.msn = 0;
			p.swap_add = take(&data, &size, 8);
			p.compare = take(&data, &size, 8);
			p.imm = 0x1234;
			plen = (uint32_t)take(&data, &size, 2) % sizeof(payload);
			memset(payload, 0xa5, plen);
			if (!(roce_opcode_headers(p.opcode) & ROCE_HAS_PAYLOAD))
				plen = 0;
			p.payload = payload;
			p.payload_len = plen;
			n = roce_build(frame, sizeof(frame), &p);
			if (n)
				virtio_rdma_frame_sync(v, frame, n);
		}
	}
	/* Nothing written outside the MR and the receive buffers. */
	if (memcmp(ram, copy, MR_AT) ||
	    memcmp(ram + MR_AT + MR_LEN, copy + MR_AT + MR_LEN, RECV_AT - MR_AT - MR_LEN) ||
	    memcmp(ram + RECV_AT + 1024, copy + RECV_AT + 1024, GSI_RECV_AT - RECV_AT - 1024) ||
	    memcmp(ram + GSI_RECV_AT + 512, copy + GSI_RECV_AT + 512, RAM - GSI_RECV_AT - 512))
		abort();
	return 0;
}
