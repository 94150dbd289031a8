// SPDX-License-Identifier: GPL-2.0
/*
 * RoCEv2 frames from the wire (devices/rdma/roce.c): the input is a frame.
 * Whatever it holds, roce_parse() reads nothing past it; a frame it takes
 * is built again from what it read and must read back the same (the
 * parser and the builder agree on every field). Each input is tried as it
 * is and with its checksums and ICRC made right, to get past them.
 *
 * Seeds (FUZZ_MAKE_SEEDS=DIR): one good frame per opcode, IPv4 and IPv6,
 * built by roce_build(), with a payload of 0 to 3 bytes (every padding).
 */
#include "fuzz.h"
#include "devices/rdma/roce.h"

static const uint8_t ops[] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
	0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x16, 0x17, 0x20, 0x2b, 0x64, 0x65,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_MAKE_SEEDS");
	uint8_t frame[256], data[3] = { 1, 2, 3 };
	unsigned int i, v6;
	char name[32];
	size_t n;

	for (v6 = 0; dir && v6 < 2; v6++) {
		for (i = 0; i < sizeof(ops); i++) {
			struct roce_pkt p = {
				.ipv6 = v6, .ttl = 64, .opcode = ops[i], .pkey = ROCE_DEFAULT_PKEY,
				.dqpn = 17, .psn = i, .ack_req = true, .sport = 0xc000 + i,
			};

			if (roce_opcode_headers(ops[i]) & ROCE_HAS_PAYLOAD) {
				p.payload = data;
				p.payload_len = i % 4;
			}
			n = roce_build(frame, sizeof(frame), &p);
			snprintf(name, sizeof(name), "%s-op%02x", v6 ? "v6" : "v4", ops[i]);
			if (n)
				fuzz_write_seed(dir, name, frame, n);
		}
	}
	return 0;
}

/*
 * Most mutants die at a checksum: make the IPv4 header checksum, the IPv6
 * UDP checksum (none) and the ICRC right where the lengths allow, so the
 * headers behind them are explored too.
 */
static void repair(uint8_t *f, size_t size)
{
	size_t iph, end;
	uint32_t sum = 0, icrc;
	bool v6;
	int i;

	if (size < 14 + 20)
		return;
	v6 = f[12] == 0x86 && f[13] == 0xdd;
	iph = v6 ? 40 : 20;
	if (size < 14 + iph + 8 + 12 + 4)
		return;
	end = v6 ? 14 + iph + (f[18] << 8 | f[19]) : 14 + (f[16] << 8 | f[17]);
	if (end > size || end < 14 + iph + 8 + 12 + 4)
		return;
	if (v6) {
		f[14 + 40 + 6] = f[14 + 40 + 7] = 0;
	} else {
		f[24] = f[25] = 0;
		for (i = 0; i < 20; i += 2)
			sum += f[14 + i] << 8 | f[14 + i + 1];
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		f[24] = ~sum >> 8;
		f[25] = ~sum;
	}
	icrc = roce_icrc(f + 14, end - 4 - 14, v6);
	f[end - 4] = icrc;
	f[end - 3] = icrc >> 8;
	f[end - 2] = icrc >> 16;
	f[end - 1] = icrc >> 24;
}

/* Parse; a frame taken must build back to one that reads the same. */
static void parse_and_rebuild(const uint8_t *frame, size_t size)
{
	struct roce_pkt p, q;
	const char *why;
	uint8_t *again;
	size_t n;

	if (roce_parse(frame, size, &p, &why) == 0) {
		n = roce_frame_len(&p);
		again = malloc(n);
		if (roce_build(again, n, &p) != n ||
		    roce_parse(again, n, &q, &why) != 0 ||
		    q.opcode != p.opcode || q.psn != p.psn || q.dqpn != p.dqpn ||
		    q.payload_len != p.payload_len ||
		    memcmp(q.payload, p.payload, p.payload_len) || q.rkey != p.rkey ||
		    q.va != p.va || q.imm != p.imm || q.msn != p.msn) {
			fprintf(stderr, "fuzz_roce: a frame read did not build back the same\n");
			abort();
		}
		free(again);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exact-size copies: ASan sees any read past the frame. */
	uint8_t *copy = malloc(size ? size : 1);

	memcpy(copy, data, size);
	parse_and_rebuild(copy, size);
	repair(copy, size);
	parse_and_rebuild(copy, size);
	free(copy);
	return 0;
}
