// SPDX-License-Identifier: GPL-2.0
/*
 * RoCEv2 packets: every opcode vlab speaks built and read back (IPv4 and
 * IPv6, every padding), the ICRC checked against an independent CRC-32 of
 * the masked packet behind eight 0xff bytes, the fields routers change
 * left out of it, and every kind of malformed frame refused without a
 * byte read past its end.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "devices/rdma/roce.h"

static const uint8_t ops[] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
	0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x16, 0x17,
	0x20, 0x24, 0x2b, 0x64, 0x65,
};

/* zlib's CRC-32, bit by bit: nothing shared with roce.c. */
static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;
	int k;

	while (n--) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (c & 1 ? 0xedb88320u : 0);
	}
	return ~c;
}

static void sample(struct roce_pkt *p, uint8_t opcode, bool ipv6, const uint8_t *data,
		   uint32_t len)
{
	int has = roce_opcode_headers(opcode);

	memset(p, 0, sizeof(*p));
	memcpy(p->dmac, "\x52\x54\x00\x00\x00\x02", 6);
	memcpy(p->smac, "\x52\x54\x00\x00\x00\x01", 6);
	p->ipv6 = ipv6;
	memcpy(p->sip, ipv6 ? "\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" : "\x0a\0\0\x01", ipv6 ? 16 : 4);
	memcpy(p->dip, ipv6 ? "\xfe\x80\0\0\0\0\0\0\0\0\0\0\0\0\0\x02" : "\x0a\0\0\x02", ipv6 ? 16 : 4);
	p->ttl = 64;
	p->tclass = 0x10;
	p->flow_label = ipv6 ? 0x12345 : 0;
	p->sport = 0xc123;
	p->opcode = opcode;
	p->solicited = true;
	p->ack_req = true;
	p->pkey = ROCE_DEFAULT_PKEY;
	p->dqpn = 0x000abc;
	p->psn = 0xfffffe;
	p->qkey = 0x80010000;
	p->sqpn = 1;
	p->va = 0x1122334455667788ULL;
	p->rkey = 0xdeadbeef;
	p->dma_len = 4096;
	p->syndrome = 0x1f;
	p->msn = 0x123456;
	p->swap_add = 7;
	p->compare = 9;
	p->orig = 11;
	p->imm = 0xcafef00d;
	if (has & ROCE_HAS_PAYLOAD) {
		p->payload = data;
		p->payload_len = len;
	}
}

static void same(const struct roce_pkt *a, const struct roce_pkt *b)
{
	int has = roce_opcode_headers(a->opcode);

	ck_assert_mem_eq(a->dmac, b->dmac, 6);
	ck_assert_mem_eq(a->smac, b->smac, 6);
	ck_assert(a->ipv6 == b->ipv6);
	ck_assert_mem_eq(a->sip, b->sip, a->ipv6 ? 16 : 4);
	ck_assert_mem_eq(a->dip, b->dip, a->ipv6 ? 16 : 4);
	ck_assert_uint_eq(a->ttl, b->ttl);
	ck_assert_uint_eq(a->tclass, b->tclass);
	ck_assert_uint_eq(a->flow_label, b->flow_label);
	ck_assert_uint_eq(a->sport, b->sport);
	ck_assert_uint_eq(a->opcode, b->opcode);
	ck_assert(a->solicited == b->solicited && a->ack_req == b->ack_req);
	ck_assert_uint_eq(a->pkey, b->pkey);
	ck_assert_uint_eq(a->dqpn, b->dqpn);
	ck_assert_uint_eq(a->psn, b->psn);
	if (has & ROCE_HAS_DETH) {
		ck_assert_uint_eq(a->qkey, b->qkey);
		ck_assert_uint_eq(a->sqpn, b->sqpn);
	}
	if (has & (ROCE_HAS_RETH | ROCE_HAS_ATOMICETH)) {
		ck_assert_uint_eq(a->va, b->va);
		ck_assert_uint_eq(a->rkey, b->rkey);
	}
	if (has & ROCE_HAS_RETH)
		ck_assert_uint_eq(a->dma_len, b->dma_len);
	if (has & ROCE_HAS_ATOMICETH) {
		ck_assert_uint_eq(a->swap_add, b->swap_add);
		ck_assert_uint_eq(a->compare, b->compare);
	}
	if (has & ROCE_HAS_AETH) {
		ck_assert_uint_eq(a->syndrome, b->syndrome);
		ck_assert_uint_eq(a->msn, b->msn);
	}
	if (has & ROCE_HAS_ATOMICACKETH)
		ck_assert_uint_eq(a->orig, b->orig);
	if (has & ROCE_HAS_IMM)
		ck_assert_uint_eq(a->imm, b->imm);
	if (has & ROCE_HAS_IETH)
		ck_assert_uint_eq(a->rkey, b->rkey);
	ck_assert_uint_eq(a->payload_len, b->payload_len);
	if (a->payload_len)
		ck_assert_mem_eq(a->payload, b->payload, a->payload_len);
}

START_TEST(every_opcode_round_trips)
{
	uint8_t data[64], frame[512];
	struct roce_pkt p, q;
	const char *why = NULL;
	unsigned int i, v6, len;
	size_t n;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	for (v6 = 0; v6 < 2; v6++)
		for (i = 0; i < sizeof(ops); i++)
			for (len = 0; len < 8; len++) {
				sample(&p, ops[i], v6, data, len);
				n = roce_build(frame, sizeof(frame), &p);
				ck_assert_uint_eq(n, roce_frame_len(&p));
				ck_assert_uint_eq(n % 4, (ROCE_ETH_HLEN + (v6 ? 40 : 20)) % 4);
				ck_assert_msg(roce_parse(frame, n, &q, &why) == 0, "opcode 0x%02x v6 %u "
					      "len %u: %s", ops[i], v6, len, why);
				same(&p, &q);
			}
}
END_TEST

/*
 * roce_build_sg()'s three pieces, laid end to end, are roce_build()'s
 * frame, for every opcode and payload sizes about each of the ICRC's
 * paths; IPv6 is refused (its UDP checksum covers the payload).
 */
START_TEST(gathered_frame_is_the_frame)
{
	static const uint32_t sizes[] = { 0, 1, 3, 4, 23, 24, 25, 40, 41, 56, 200, 232, 1024,
					  1023, 4096 };
	static uint8_t data[4096], frame[4096 + 256], joined[4096 + 256], hdr[128];
	struct iovec iov[3];
	struct roce_pkt p;
	unsigned int i, k;
	size_t n, m;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 131 + 7);
	for (i = 0; i < sizeof(ops); i++)
		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			sample(&p, ops[i], 0, data, sizes[k]);
			n = roce_build(frame, sizeof(frame), &p);
			m = roce_build_sg(hdr, sizeof(hdr), &p, iov);
			ck_assert_uint_eq(m, n);
			if (!n)
				continue;	/* no payload for this opcode */
			if (p.payload_len)
				ck_assert_ptr_eq(iov[1].iov_base, p.payload);
			ck_assert_ptr_nonnull(iov[1].iov_base);
			ck_assert_uint_eq(iov[0].iov_len + iov[1].iov_len + iov[2].iov_len, n);
			memcpy(joined, iov[0].iov_base, iov[0].iov_len);
			memcpy(joined + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
			memcpy(joined + iov[0].iov_len + iov[1].iov_len, iov[2].iov_base,
			       iov[2].iov_len);
			ck_assert_msg(!memcmp(joined, frame, n), "opcode 0x%02x, %u bytes", ops[i],
				      sizes[k]);
		}
	sample(&p, ROCE_SEND_ONLY, 1, data, 100);
	ck_assert_uint_eq(roce_build_sg(hdr, sizeof(hdr), &p, iov), 0);
	sample(&p, ROCE_SEND_ONLY, 0, data, 100);
	ck_assert_uint_eq(roce_build_sg(hdr, 40, &p, iov), 0);	/* headers do not fit */
}
END_TEST

/* The ICRC is zlib's CRC-32 of eight 0xff bytes and the masked IP packet, stored LSB first. */
START_TEST(icrc_is_the_masked_crc)
{
	/*
	 * Payloads that take each path of roce.c's CRC: bytes alone, 64-byte
	 * folds, a 16-byte fold, 8-byte steps and a tail, an MTU and some;
	 * and about where the masked headers and the packet fold in one run
	 * (from 80 bytes of IP packet: 40 of payload over IPv4), and where the
	 * 512-bit folds take over (from 256 bytes) and loop (256 at a time).
	 */
	static const uint32_t sizes[] = { 13, 39, 40, 41, 56, 64, 80, 200, 215, 216, 232, 471,
					  472, 500, 728, 1024, 4096 + 5 };
	static uint8_t data[4096 + 5], frame[4096 + 256], m[4096 + 256 + 8];
	const unsigned int nsizes = sizeof(sizes) / sizeof(sizes[0]);
	struct roce_pkt p;
	unsigned int v6, i, k, size;
	size_t n, iph, len;
	uint32_t want;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 131 + 7);
	/*
	 * Then every length from 0 to 1100, with two header lengths: the
	 * zeros put before the packet, and whether the folds start from 64
	 * bytes or 128, follow the length modulo 64.
	 */
	for (k = 0; k < 2 * nsizes + 4 * 1101; k++) {
		v6 = k & 1;
		size = k < 2 * nsizes ? sizes[k / 2] : (k - 2 * nsizes) / 4;
		sample(&p, k < 2 * nsizes || !(k & 2) ? ROCE_SEND_ONLY : ROCE_WRITE_ONLY_IMM, v6,
		       data, size);
		n = roce_build(frame, sizeof(frame), &p);
		ck_assert_uint_gt(n, 0);
		iph = v6 ? 40 : 20;
		len = n - ROCE_ETH_HLEN - ROCE_ICRC_LEN;
		memset(m, 0xff, 8);
		memcpy(m + 8, frame + ROCE_ETH_HLEN, len);
		if (v6) {
			m[8] |= 0x0f;
			m[9] = m[10] = m[11] = 0xff;
			m[8 + 7] = 0xff;
		} else {
			m[8 + 1] = m[8 + 8] = m[8 + 10] = m[8 + 11] = 0xff;
		}
		m[8 + iph + 6] = m[8 + iph + 7] = 0xff;
		m[8 + iph + 8 + 4] = 0xff;
		want = crc32_bitwise(m, 8 + len);
		ck_assert_uint_eq(frame[n - 4] | frame[n - 3] << 8 | frame[n - 2] << 16 |
				  (uint32_t)frame[n - 1] << 24, want);
	}
}
END_TEST

/* What a router may change (TTL, TOS, the BTH's reserved byte) leaves the ICRC good. */
START_TEST(router_fields_outside_icrc)
{
	uint8_t data[8] = "payload", frame[256], *ip = frame + ROCE_ETH_HLEN;
	struct roce_pkt p, q;
	const char *why = NULL;
	uint32_t sum = 0;
	size_t n;
	int i;

	sample(&p, ROCE_WRITE_ONLY, false, data, sizeof(data));
	n = roce_build(frame, sizeof(frame), &p);
	ip[1] = 0x2e;			/* TOS */
	ip[8] = 3;			/* TTL */
	ip[10] = ip[11] = 0;
	for (i = 0; i < 20; i += 2)
		sum += ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = ~sum >> 8;
	ip[11] = ~sum;
	ip[20 + 8 + 4] = 0x5a;		/* BTH resv8a */
	ck_assert_msg(roce_parse(frame, n, &q, &why) == 0, "%s", why);
	ck_assert_uint_eq(q.ttl, 3);
	/* A payload byte is not such a field. */
	frame[n - 6] ^= 1;
	ck_assert_int_eq(roce_parse(frame, n, &q, &why), -1);
	ck_assert_str_eq(why, "ICRC");
}
END_TEST

static void refused(const uint8_t *frame, size_t n, const char *want)
{
	struct roce_pkt q;
	const char *why = NULL;

	ck_assert_int_eq(roce_parse(frame, n, &q, &why), -1);
	ck_assert_msg(why && !strcmp(why, want), "refused for \"%s\", want \"%s\"", why, want);
}

START_TEST(malformed_refused)
{
	uint8_t data[16] = { 0 }, frame[256], f[256];
	struct roce_pkt p, q;
	size_t n, k;

	sample(&p, ROCE_SEND_ONLY, false, data, sizeof(data));
	n = roce_build(frame, sizeof(frame), &p);

	/* Not RoCEv2: the netdev's, not an error. */
	memcpy(f, frame, n);
	f[12] = 0x08, f[13] = 0x06;		/* ARP */
	ck_assert_int_eq(roce_parse(f, n, &q, NULL), 1);
	memcpy(f, frame, n);
	f[14 + 20 + 3] ^= 1;			/* UDP port 4790 */
	ck_assert_int_eq(roce_parse(f, n, &q, NULL), 1);

	memcpy(f, frame, n);
	f[14 + 10] ^= 0x10;
	refused(f, n, "IPv4 header checksum");
	memcpy(f, frame, n);
	f[14] = 0x46;
	refused(f, n, "IPv4 options");
	memcpy(f, frame, n);
	f[14 + 4] ^= 0xff;			/* id: the checksum no longer fits either */
	refused(f, n, "IPv4 header checksum");
	/* Lengths: a frame cut short, at every length, is refused or not RoCE. */
	for (k = 0; k < n; k++) {
		uint8_t *cut = malloc(k ? k : 1);

		memcpy(cut, frame, k);
		ck_assert_int_ne(roce_parse(cut, k, &q, NULL), 0);
		free(cut);
	}
	/* A frame padded past the IP length: the IP length rules. */
	memcpy(f, frame, n);
	ck_assert_int_eq(roce_parse(f, n + 10, &q, NULL), 0);
	ck_assert_uint_eq(q.payload_len, sizeof(data));
}
END_TEST

/* Headers the opcode needs, payloads it forbids, a version that is not 0. */
START_TEST(transport_rules)
{
	uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, frame[256];
	struct roce_pkt p, q;
	const char *why = NULL;
	size_t n;

	/* A READ request carries no data: build refuses to make one. */
	sample(&p, ROCE_READ_REQUEST, false, NULL, 0);
	p.payload = data;
	p.payload_len = 4;
	ck_assert_uint_eq(roce_build(frame, sizeof(frame), &p), 0);
	/* 24-bit fields, a frame too small, an opcode not spoken. */
	sample(&p, ROCE_SEND_ONLY, false, data, 4);
	p.psn = 1 << 24;
	ck_assert_uint_eq(roce_build(frame, sizeof(frame), &p), 0);
	sample(&p, ROCE_SEND_ONLY, false, data, 4);
	ck_assert_uint_eq(roce_build(frame, roce_frame_len(&p) - 1, &p), 0);
	p.opcode = 0x15;
	ck_assert_uint_eq(roce_build(frame, sizeof(frame), &p), 0);
	ck_assert_int_eq(roce_opcode_headers(0x2c), -1);	/* UC has no READ */
	ck_assert_int_eq(roce_opcode_headers(0x66), -1);	/* UD sends only */
	ck_assert_int_eq(roce_opcode_headers(0x80), -1);

	/* An ACK with bytes after its AETH (ICRC made good): refused. */
	sample(&p, ROCE_SEND_ONLY, false, data, 8);
	n = roce_build(frame, sizeof(frame), &p);
	frame[14 + 20 + 8] = ROCE_ACK;	/* 8 bytes: the AETH, then 4 of data */
	frame[14 + 20 + 8 + 1] &= ~0x30;	/* no pad */
	{
		uint32_t icrc = roce_icrc(frame + 14, n - 14 - 4, false);

		memcpy(frame + n - 4, &icrc, 4);
	}
	ck_assert_int_eq(roce_parse(frame, n, &q, &why), -1);
	ck_assert_str_eq(why, "data after a header that carries none");
	/* TVer 1. */
	frame[14 + 20 + 8] = ROCE_SEND_ONLY;
	frame[14 + 20 + 8 + 1] |= 0x01;
	{
		uint32_t icrc = roce_icrc(frame + 14, n - 14 - 4, false);

		memcpy(frame + n - 4, &icrc, 4);
	}
	ck_assert_int_eq(roce_parse(frame, n, &q, &why), -1);
	ck_assert_str_eq(why, "transport header version not 0");
}
END_TEST

/* Over IPv6 the UDP checksum covers the datagram; zero (none) is taken as it is. */
START_TEST(ipv6_udp_checksum)
{
	uint8_t data[5] = "six", frame[256];
	struct roce_pkt p, q;
	const char *why = NULL;
	size_t n, csum = ROCE_ETH_HLEN + 40 + 6;

	sample(&p, ROCE_SEND_ONLY_IMM, true, data, sizeof(data));
	n = roce_build(frame, sizeof(frame), &p);
	ck_assert(frame[csum] | frame[csum + 1]);
	frame[csum] ^= 0x40;
	ck_assert_int_eq(roce_parse(frame, n, &q, &why), -1);
	ck_assert_str_eq(why, "UDP checksum");
	frame[csum] = frame[csum + 1] = 0;
	ck_assert_msg(roce_parse(frame, n, &q, &why) == 0, "%s", why);
	ck_assert_uint_eq(q.imm, 0xcafef00d);
}
END_TEST

VLAB_SUITE_MAIN("roce", "wire", NULL, NULL, 0,
	every_opcode_round_trips, gathered_frame_is_the_frame, icrc_is_the_masked_crc, router_fields_outside_icrc,
	malformed_refused, transport_rules, ipv6_udp_checksum);
