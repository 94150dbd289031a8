// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "devices/rdma/roce.h"
#include "vmm/core/bytes.h"

#define ETH_P_IPV4	0x0800
#define ETH_P_IPV6	0x86dd
#define IPPROTO_UDP_	17
/* The CRC-32 of eight 0xff bytes, the LRH a RoCEv2 packet does not have. */
#define ICRC_SEED	0xdebb20e3u

/*
 * Slicing by 8: crc_table[k][i] is the CRC of byte i followed by k zero
 * bytes, so eight bytes fold in with eight lookups (the ICRC was a quarter
 * of the device's CPU one byte at a time). A constant once built. Where
 * the CPU has PCLMULQDQ, runs of 64 bytes and more are folded with
 * carry-less multiplies instead, six times faster again.
 */
static uint32_t crc_table[8][256];
/*
 * icrc_seed_back[k]: the CRC register that k zero bytes take to ICRC_SEED.
 * Zeros before the packet then cost nothing to the CRC, so the folds can
 * start early enough to end on the packet's last byte: no byte-table tail.
 */
static uint32_t icrc_seed_back[64];
static bool crc_clmul, crc_vclmul;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
	uint32_t c, i, k;

	for (i = 0; i < 256; i++) {
		for (c = i, k = 0; k < 8; k++)
			c = (c >> 1) ^ (c & 1 ? 0xedb88320u : 0);
		crc_table[0][i] = c;
	}
	for (k = 1; k < 8; k++)
		for (i = 0; i < 256; i++)
			crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^
					  crc_table[0][crc_table[k - 1][i] & 0xff];
	/*
	 * A zero byte steps the register to (c >> 8) ^ table[c & 0xff]; the
	 * table's top bytes are all different, so the top byte names c & 0xff
	 * and the step runs backwards.
	 */
	icrc_seed_back[0] = ICRC_SEED;
	for (k = 1; k < 64; k++) {
		c = icrc_seed_back[k - 1];
		for (i = 0; crc_table[0][i] >> 24 != c >> 24; i++)
			;
		icrc_seed_back[k] = (c ^ crc_table[0][i]) << 8 | i;
	}
#ifdef __x86_64__
	__builtin_cpu_init();
	crc_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
	crc_vclmul = crc_clmul && __builtin_cpu_supports("avx512f") &&
		     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("vpclmulqdq");
#endif
}

static uint32_t crc32_sliced(uint32_t crc, const uint8_t *p, size_t n)
{
	for (; n >= 8; p += 8, n -= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
				     (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
			      (uint32_t)p[7] << 24;

		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		      crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
	}
	while (n--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#ifdef __x86_64__
#include <immintrin.h>

#define CLMUL_TARGET __attribute__((target("pclmul,sse4.1")))

/* Fold @x forward: its low and high halves times @k's, carry-less, xor @y. */
static inline CLMUL_TARGET __m128i fold(__m128i x, __m128i k, __m128i y)
{
	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
					   _mm_clmulepi64_si128(x, k, 0x11)), y);
}

/*
 * Constants: for a fold over D bits, x^(D+32) and x^(D-32) mod P,
 * bit-reflected and shifted left once (low and high qword).
 */
#define K512	_mm_set_epi64x(0x1c6e41596, 0x154442bd4)	/* 4 x 128 bits */
#define K384	_mm_set_epi64x(0x174359406, 0x03db1ecdc)
#define K256	_mm_set_epi64x(0x15a546366, 0x0f1da05aa)
#define K128	_mm_set_epi64x(0x0ccaa009e, 0x1751997d0)

/* The four lanes folded 64 bytes at a time (and @n more bytes at @p, n % 16 == 0) to 32 bits. */
static inline CLMUL_TARGET uint32_t crc_reduce(__m128i x1, __m128i x2, __m128i x3, __m128i x4,
					       const uint8_t *p, size_t n)
{
	const __m128i k3k4 = K128;
	const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);
	const __m128i poly_mu = _mm_set_epi64x(0x1f7011641, 0x1db710641);
	const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);

	/* Each lane straight to the last one's place: one multiply deep, not three. */
	x1 = fold(x1, K384, fold(x2, K256, fold(x3, k3k4, x4)));
	for (; n >= 16; p += 16, n -= 16)
		x1 = fold(x1, k3k4, _mm_loadu_si128((const __m128i *)p));
	/* 128 bits to 64. */
	x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), _mm_clmulepi64_si128(x1, k3k4, 0x10));
	x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00),
			   _mm_srli_si128(x1, 4));
	/* Barrett: 64 bits to 32. */
	x2 = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly_mu, 0x10);
	x2 = _mm_clmulepi64_si128(_mm_and_si128(x2, low32), poly_mu, 0x00);
	return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x1, x2), 1);
}

/* The four lanes @x folded over the 64 bytes at @q. */
static inline CLMUL_TARGET void fold64(__m128i x[4], const uint8_t *q)
{
	int i;

	for (i = 0; i < 4; i++)
		x[i] = fold(x[i], K512, _mm_loadu_si128((const __m128i *)(q + 16 * i)));
}

/*
 * The reflected CRC-32 of the @hn bytes at @head (64 or 128) and then @n
 * more at @p (a multiple of 16) by folding (Intel, "Fast CRC Computation
 * for Generic Polynomials Using PCLMULQDQ", 2009; the constants are
 * x^(D+32) and x^(D-32) mod P for a fold over D bits, bit-reflected and
 * shifted left once, as Linux's crc32-pclmul_asm.S has them): four 128-bit
 * lanes folded 64 bytes at a time, then into one lane, then 16 bytes at
 * a time, then to 64 bits and a Barrett reduction to 32. @head apart: the
 * ICRC's masked headers come from a copy, the rest from the frame, in one
 * run.
 */
static CLMUL_TARGET uint32_t crc32_clmul(uint32_t crc, const uint8_t *head, size_t hn,
					 const uint8_t *p, size_t n)
{
	__m128i x[4];
	int i;

	for (i = 0; i < 4; i++)
		x[i] = _mm_loadu_si128((const __m128i *)(head + 16 * i));
	x[0] = _mm_xor_si128(x[0], _mm_cvtsi32_si128((int)crc));
	if (hn > 64)
		fold64(x, head + 64);
	for (; n >= 64; p += 64, n -= 64)
		fold64(x, p);
	return crc_reduce(x[0], x[1], x[2], x[3], p, n);
}

#define VCLMUL_TARGET __attribute__((target("pclmul,sse4.1,avx512f,avx512vl,vpclmulqdq")))

/* Fold @x's four lanes forward by @k's distance, xor @y: 64 bytes at once. */
static inline VCLMUL_TARGET __m512i fold4(__m512i x, __m512i k, __m512i y)
{
	return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
					 _mm512_clmulepi64_epi128(x, k, 0x11), y, 0x96);
}

/*
 * The same with 512-bit carry-less multiplies (hn + n >= 256): four
 * registers of four lanes folded 256 bytes at a time, each straight into
 * the last one's place, 64 bytes at a time, then its lanes as above. Some
 * three times the speed of the 128-bit loop on a kilobyte, where the CPU
 * has VPCLMULQDQ; on a packet it is the chain of multiplies at the end
 * that costs, so no fold waits for another it need not.
 */
static VCLMUL_TARGET uint32_t crc32_vclmul(uint32_t crc, const uint8_t *head, size_t hn,
					   const uint8_t *p, size_t n)
{
	const __m512i k2048 = _mm512_broadcast_i32x4(_mm_set_epi64x(0x1322d1430, 0x11542778a));
	const __m512i k1536 = _mm512_broadcast_i32x4(_mm_set_epi64x(0x12e958ac4, 0x1821d8bc0));
	const __m512i k1024 = _mm512_broadcast_i32x4(_mm_set_epi64x(0x14a7fe880, 0x1e88ef372));
	const __m512i k512 = _mm512_broadcast_i32x4(K512);
	__m512i z0, z1, z2, z3;

	z0 = _mm512_xor_si512(_mm512_loadu_si512(head),
			      _mm512_inserti32x4(_mm512_setzero_si512(),
						 _mm_cvtsi32_si128((int)crc), 0));
	if (hn > 64) {
		z1 = _mm512_loadu_si512(head + 64);
	} else {
		z1 = _mm512_loadu_si512(p);
		p += 64;
		n -= 64;
	}
	z2 = _mm512_loadu_si512(p);
	z3 = _mm512_loadu_si512(p + 64);
	for (p += 128, n -= 128; n >= 256; p += 256, n -= 256) {
		z0 = fold4(z0, k2048, _mm512_loadu_si512(p));
		z1 = fold4(z1, k2048, _mm512_loadu_si512(p + 64));
		z2 = fold4(z2, k2048, _mm512_loadu_si512(p + 128));
		z3 = fold4(z3, k2048, _mm512_loadu_si512(p + 192));
	}
	z0 = fold4(z0, k1536, fold4(z1, k1024, fold4(z2, k512, z3)));
	for (; n >= 64; p += 64, n -= 64)
		z0 = fold4(z0, k512, _mm512_loadu_si512(p));
	return crc_reduce(_mm512_extracti32x4_epi32(z0, 0), _mm512_extracti32x4_epi32(z0, 1),
			  _mm512_extracti32x4_epi32(z0, 2), _mm512_extracti32x4_epi32(z0, 3), p, n);
}

/*
 * CRC of the @hn bytes at @head (64 or 128), then @n at @p (n % 16 == 0),
 * the fastest way the CPU has.
 */
static uint32_t crc32_fold(uint32_t crc, const uint8_t *head, size_t hn, const uint8_t *p,
			   size_t n)
{
	if (crc_vclmul && hn + n >= 256)
		return crc32_vclmul(crc, head, hn, p, n);
	return crc32_clmul(crc, head, hn, p, n);
}
#endif

/* Reflected CRC-32 without the final inversion (Linux's crc32_le). */
static uint32_t crc32_raw(uint32_t crc, const uint8_t *p, size_t n)
{
#ifdef __x86_64__
	if (crc_clmul && n >= 64) {
		size_t folded = n & ~(size_t)15;

		crc = crc32_fold(crc, p, 64, p + 64, folded - 64);
		p += folded;
		n -= folded;
	}
#endif
	return crc32_sliced(crc, p, n);
}

/* 24-bit fields (QPNs, PSNs, MSNs); the rest is vmm/core/bytes.h's. */
static void put24(uint8_t *p, uint32_t v)
{
	p[0] = v >> 16;
	p[1] = v >> 8;
	p[2] = v;
}

static uint32_t get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | p[1] << 8 | p[2];
}

int roce_opcode_headers(uint8_t opcode)
{
	static const int8_t rc[0x18] = {
		[ROCE_SEND_FIRST] = 0, [ROCE_SEND_MIDDLE] = 0, [ROCE_SEND_LAST] = 0,
		[ROCE_SEND_LAST_IMM] = ROCE_HAS_IMM, [ROCE_SEND_ONLY] = 0,
		[ROCE_SEND_ONLY_IMM] = ROCE_HAS_IMM, [ROCE_WRITE_FIRST] = ROCE_HAS_RETH,
		[ROCE_WRITE_MIDDLE] = 0, [ROCE_WRITE_LAST] = 0, [ROCE_WRITE_LAST_IMM] = ROCE_HAS_IMM,
		[ROCE_WRITE_ONLY] = ROCE_HAS_RETH, [ROCE_WRITE_ONLY_IMM] = ROCE_HAS_RETH | ROCE_HAS_IMM,
		[ROCE_READ_REQUEST] = ROCE_HAS_RETH, [ROCE_READ_RESPONSE_FIRST] = ROCE_HAS_AETH,
		[ROCE_READ_RESPONSE_MIDDLE] = 0, [ROCE_READ_RESPONSE_LAST] = ROCE_HAS_AETH,
		[ROCE_READ_RESPONSE_ONLY] = ROCE_HAS_AETH, [ROCE_ACK] = ROCE_HAS_AETH,
		[ROCE_ATOMIC_ACK] = ROCE_HAS_AETH | ROCE_HAS_ATOMICACKETH,
		[ROCE_CMP_SWAP] = ROCE_HAS_ATOMICETH, [ROCE_FETCH_ADD] = ROCE_HAS_ATOMICETH,
		[0x15] = -1,
		[ROCE_SEND_LAST_INV] = ROCE_HAS_IETH, [ROCE_SEND_ONLY_INV] = ROCE_HAS_IETH,
	};
	uint8_t op = opcode & 0x1f;
	int has;

	switch (opcode & 0xe0) {
	case ROCE_RC:
		if (op >= sizeof(rc) || rc[op] < 0)
			return -1;
		has = rc[op];
		break;
	case ROCE_UC:
		/* SEND and RDMA WRITE only. */
		if (op > ROCE_WRITE_ONLY_IMM)
			return -1;
		has = rc[op];
		break;
	case ROCE_UD:
		if (op != ROCE_SEND_ONLY && op != ROCE_SEND_ONLY_IMM)
			return -1;
		has = ROCE_HAS_DETH | rc[op];
		break;
	default:
		return -1;
	}
	/* Data: sends, writes and read responses, not requests, ACKs or atomics. */
	if (op <= ROCE_WRITE_ONLY_IMM || (op >= ROCE_READ_RESPONSE_FIRST &&
					 op <= ROCE_READ_RESPONSE_ONLY) ||
	    op == ROCE_SEND_LAST_INV || op == ROCE_SEND_ONLY_INV)
		has |= ROCE_HAS_PAYLOAD;
	return has;
}

size_t roce_ext_len(unsigned int has)
{
	return (has & ROCE_HAS_DETH ? 8 : 0) + (has & ROCE_HAS_RETH ? 16 : 0) +
	       (has & ROCE_HAS_ATOMICETH ? 28 : 0) + (has & ROCE_HAS_AETH ? 4 : 0) +
	       (has & ROCE_HAS_ATOMICACKETH ? 8 : 0) + (has & ROCE_HAS_IMM ? 4 : 0) +
	       (has & ROCE_HAS_IETH ? 4 : 0);
}

/* The ICRC's copy of the IP, UDP and BTH headers at @ip, masked, into @m: its length. */
static size_t icrc_masked(uint8_t *m, const uint8_t *ip, bool ipv6)
{
	size_t iph = ipv6 ? ROCE_IPV6_HLEN : ROCE_IPV4_HLEN, masked = iph + ROCE_UDP_HLEN + ROCE_BTH_LEN;

	memcpy(m, ip, masked);
	if (ipv6) {
		m[0] |= 0x0f;		/* traffic class, high nibble */
		m[1] = m[2] = m[3] = 0xff;	/* traffic class, flow label */
		m[7] = 0xff;		/* hop limit */
	} else {
		m[1] = 0xff;		/* TOS */
		m[8] = 0xff;		/* TTL */
		m[10] = m[11] = 0xff;	/* header checksum */
	}
	m[iph + 6] = m[iph + 7] = 0xff;		/* UDP checksum */
	m[iph + ROCE_UDP_HLEN + 4] = 0xff;	/* BTH resv8a */
	return masked;
}

/*
 * The ICRC of an IP packet in pieces: @hlen bytes of headers at @ip (the
 * masked IP, UDP and BTH headers at least), @plen bytes at @pl, @pad zeros.
 */
static uint32_t icrc_pieces(const uint8_t *ip, size_t hlen, const uint8_t *pl, size_t plen,
			    size_t pad, bool ipv6)
{
	static const uint8_t zeros[3];
	uint8_t m[128];
	size_t masked;
	uint32_t crc;

	pthread_once(&crc_once, crc_table_init);
#ifdef __x86_64__
	/*
	 * One folding run over the packet: the masked headers, then the
	 * payload's first plen % 64 bytes, copied after as many zeros as make
	 * them 64 or 128 bytes, the seed stepped back over the zeros; the
	 * rest of the payload folds where it lies, 64 bytes at a time.
	 */
	if (crc_clmul && !pad && hlen + plen % 64 <= sizeof(m)) {
		size_t take = plen % 64, hn = (hlen + take + 63) & ~(size_t)63, k = hn - hlen - take;

		memset(m, 0, k);
		masked = icrc_masked(m + k, ip, ipv6);
		memcpy(m + k + masked, ip + masked, hlen - masked);
		if (take)	/* no payload: @pl may be NULL */
			memcpy(m + k + hlen, pl, take);
		return ~crc32_fold(icrc_seed_back[k], m, hn, plen > take ? pl + take : NULL,
				   plen - take);
	}
#endif
	masked = icrc_masked(m, ip, ipv6);
	memcpy(m + masked, ip + masked, hlen - masked);
	crc = crc32_raw(ICRC_SEED, m, hlen);
	crc = crc32_raw(crc, pl, plen);
	return ~crc32_raw(crc, zeros, pad);
}

uint32_t roce_icrc(const uint8_t *ip, size_t len, bool ipv6)
{
	size_t masked = (ipv6 ? ROCE_IPV6_HLEN : ROCE_IPV4_HLEN) + ROCE_UDP_HLEN + ROCE_BTH_LEN;

	if (len < masked)
		return 0;
	return icrc_pieces(ip, masked, ip + masked, len - masked, 0, ipv6);
}

/* UDP over IPv6: the checksum is not optional (RFC 8200 8.1). */
static uint16_t udp6_csum(const uint8_t *ip6, const uint8_t *udp, size_t len)
{
	uint32_t sum = inet_csum_add(0, ip6 + 8, 32);
	uint16_t c;

	sum += (uint32_t)len + IPPROTO_UDP_;
	sum = inet_csum_add(sum, udp, len);
	c = inet_csum_fold(sum);
	return c ? c : 0xffff;
}

static size_t ip_len(bool ipv6)
{
	return ipv6 ? ROCE_IPV6_HLEN : ROCE_IPV4_HLEN;
}

/* The BTH pad count: zeros after the payload, to a multiple of 4 bytes. */
static size_t pad_len(const struct roce_pkt *p)
{
	return (4 - (p->payload_len & 3)) & 3;
}

size_t roce_frame_len(const struct roce_pkt *p)
{
	int has = roce_opcode_headers(p->opcode);
	size_t pad = pad_len(p);

	if (has < 0)
		return 0;
	return ROCE_ETH_HLEN + ip_len(p->ipv6) + ROCE_UDP_HLEN + ROCE_BTH_LEN + roce_ext_len(has) +
	       p->payload_len + pad + ROCE_ICRC_LEN;
}

/* The extension headers in @has, from @p, at @q; returns the end. */
static uint8_t *put_ext(uint8_t *q, unsigned int has, const struct roce_pkt *p)
{
	if (has & ROCE_HAS_DETH) {
		put_be32(q, p->qkey);
		q[4] = 0;
		put24(q + 5, p->sqpn);
		q += 8;
	}
	if (has & ROCE_HAS_RETH) {
		put_be64(q, p->va);
		put_be32(q + 8, p->rkey);
		put_be32(q + 12, p->dma_len);
		q += 16;
	}
	if (has & ROCE_HAS_ATOMICETH) {
		put_be64(q, p->va);
		put_be32(q + 8, p->rkey);
		put_be64(q + 12, p->swap_add);
		put_be64(q + 20, p->compare);
		q += 28;
	}
	if (has & ROCE_HAS_AETH) {
		q[0] = p->syndrome;
		put24(q + 1, p->msn);
		q += 4;
	}
	if (has & ROCE_HAS_ATOMICACKETH) {
		put_be64(q, p->orig);
		q += 8;
	}
	if (has & ROCE_HAS_IMM) {
		put_be32(q, p->imm);
		q += 4;
	}
	if (has & ROCE_HAS_IETH) {
		put_be32(q, p->rkey);
		q += 4;
	}
	return q;
}

/*
 * Everything of @p's frame before its payload into @buf (the caller
 * checked that @len, the whole frame's length, is a packet's): the end
 * of the headers.
 */
static uint8_t *build_headers(uint8_t *buf, const struct roce_pkt *p, int has, size_t len,
			      size_t pad)
{
	size_t iph = ip_len(p->ipv6), udp_len = len - ROCE_ETH_HLEN - iph;
	uint8_t *ip = buf + ROCE_ETH_HLEN, *udp = ip + iph, *bth = udp + ROCE_UDP_HLEN;

	memcpy(buf, p->dmac, 6);
	memcpy(buf + 6, p->smac, 6);
	put_be16(buf + 12, p->ipv6 ? ETH_P_IPV6 : ETH_P_IPV4);
	if (p->ipv6) {
		put_be32(ip, 6u << 28 | (uint32_t)p->tclass << 20 | p->flow_label);
		put_be16(ip + 4, (uint16_t)udp_len);
		ip[6] = IPPROTO_UDP_;
		ip[7] = p->ttl;
		memcpy(ip + 8, p->sip, 16);
		memcpy(ip + 24, p->dip, 16);
	} else {
		ip[0] = 0x45;
		ip[1] = p->tclass;
		put_be16(ip + 2, (uint16_t)(len - ROCE_ETH_HLEN));
		put_be16(ip + 4, 0);
		put_be16(ip + 6, 0x4000);		/* don't fragment */
		ip[8] = p->ttl;
		ip[9] = IPPROTO_UDP_;
		put_be16(ip + 10, 0);
		memcpy(ip + 12, p->sip, 4);
		memcpy(ip + 16, p->dip, 4);
		put_be16(ip + 10, inet_csum_fold(inet_csum_add(0, ip, ROCE_IPV4_HLEN)));
	}
	put_be16(udp, p->sport);
	put_be16(udp + 2, ROCE_UDP_PORT);
	put_be16(udp + 4, (uint16_t)udp_len);
	put_be16(udp + 6, 0);
	bth[0] = p->opcode;
	bth[1] = (p->solicited ? 0x80 : 0) | (p->mig_req ? 0x40 : 0) | (uint8_t)(pad << 4);
	put_be16(bth + 2, p->pkey);
	bth[4] = 0;
	put24(bth + 5, p->dqpn);
	bth[8] = p->ack_req ? 0x80 : 0;
	put24(bth + 9, p->psn);
	return put_ext(bth + ROCE_BTH_LEN, has, p);
}

/* Whether @p can be a packet of @len bytes, in a buffer of @cap. */
static bool buildable(const struct roce_pkt *p, int has, size_t len, size_t cap)
{
	return has >= 0 && len && len <= cap && len - ROCE_ETH_HLEN <= 0xffff &&
	       (!p->payload_len || (has & ROCE_HAS_PAYLOAD)) && !(p->dqpn >> 24) &&
	       !(p->psn >> 24) && !(p->msn >> 24) && !(p->sqpn >> 24) && !(p->flow_label >> 20);
}

size_t roce_build(uint8_t *buf, size_t cap, const struct roce_pkt *p)
{
	int has = roce_opcode_headers(p->opcode);
	size_t len = roce_frame_len(p), iph = ip_len(p->ipv6), udp_len, pad;
	uint8_t *ip = buf + ROCE_ETH_HLEN, *udp = ip + iph, *q;

	if (!buildable(p, has, len, cap))
		return 0;
	pad = pad_len(p);
	udp_len = len - ROCE_ETH_HLEN - iph;
	q = build_headers(buf, p, has, len, pad);
	if (p->payload_len)
		memcpy(q, p->payload, p->payload_len);
	memset(q + p->payload_len, 0, pad);
	q += p->payload_len + pad;
	/* The ICRC sees the UDP checksum as ones: the checksum, over the ICRC too, comes last. */
	put_le32(q, roce_icrc(ip, (size_t)(q - ip), p->ipv6));
	if (p->ipv6)
		put_be16(udp + 6, udp6_csum(ip, udp, udp_len));
	return len;
}

size_t roce_build_sg(uint8_t *hdr, size_t cap, const struct roce_pkt *p, struct iovec iov[3])
{
	int has = roce_opcode_headers(p->opcode);
	size_t len = roce_frame_len(p), pad = pad_len(p), hl;
	uint8_t *q;

	if (p->ipv6 || !buildable(p, has, len, SIZE_MAX))
		return 0;
	hl = len - p->payload_len - pad - ROCE_ICRC_LEN;
	if (hl + pad + ROCE_ICRC_LEN > cap)
		return 0;
	q = build_headers(hdr, p, has, len, pad);
	memset(q, 0, pad);
	put_le32(q + pad, icrc_pieces(hdr + ROCE_ETH_HLEN, hl - ROCE_ETH_HLEN, p->payload,
				      p->payload_len, pad, false));
	iov[0] = (struct iovec){ hdr, hl };
	/* No payload: an empty piece that still points somewhere (a NULL one is no buffer). */
	iov[1] = (struct iovec){ p->payload_len ? (void *)p->payload : q, p->payload_len };
	iov[2] = (struct iovec){ q, pad + ROCE_ICRC_LEN };
	return len;
}

static int bad(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -1;
}

int roce_parse(const uint8_t *frame, size_t len, struct roce_pkt *p, const char **why)
{
	const uint8_t *ip = frame + ROCE_ETH_HLEN, *udp, *bth, *q, *end;
	uint16_t type, udp_len, csum;
	size_t iph, ext, pad;
	uint32_t icrc;
	int has;

	if (len < ROCE_ETH_HLEN)
		return 1;
	type = get_be16(frame + 12);
	if (type != ETH_P_IPV4 && type != ETH_P_IPV6)
		return 1;
	memset(p, 0, sizeof(*p));
	p->ipv6 = type == ETH_P_IPV6;
	iph = ip_len(p->ipv6);
	if (len < ROCE_ETH_HLEN + iph + ROCE_UDP_HLEN)
		return 1;
	if (p->ipv6) {
		uint32_t w = get_be32(ip);

		if (w >> 28 != 6 || ip[6] != IPPROTO_UDP_)
			return 1;
		p->tclass = (w >> 20) & 0xff;
		p->flow_label = w & 0xfffff;
		p->ttl = ip[7];
		if (get_be16(ip + 4) > len - ROCE_ETH_HLEN - iph)
			return bad(why, "IPv6 payload length past the frame");
		end = ip + iph + get_be16(ip + 4);
		memcpy(p->sip, ip + 8, 16);
		memcpy(p->dip, ip + 24, 16);
	} else {
		if (ip[0] >> 4 != 4 || ip[9] != IPPROTO_UDP_)
			return 1;
		if ((ip[0] & 0xf) != 5)
			return bad(why, "IPv4 options");
		if (get_be16(ip + 6) & 0x3fff)
			return bad(why, "an IPv4 fragment");
		if (get_be16(ip + 2) < iph || get_be16(ip + 2) > len - ROCE_ETH_HLEN)
			return bad(why, "IPv4 total length past the frame");
		if (inet_csum_fold(inet_csum_add(0, ip, ROCE_IPV4_HLEN)))
			return bad(why, "IPv4 header checksum");
		p->tclass = ip[1];
		p->ttl = ip[8];
		end = ip + get_be16(ip + 2);
		memcpy(p->sip, ip + 12, 4);
		memcpy(p->dip, ip + 16, 4);
	}
	udp = ip + iph;
	if (udp + ROCE_UDP_HLEN > end || get_be16(udp + 2) != ROCE_UDP_PORT)
		return 1;
	memcpy(p->dmac, frame, 6);
	memcpy(p->smac, frame + 6, 6);
	p->sport = get_be16(udp);
	udp_len = get_be16(udp + 4);
	if (udp_len != end - udp)
		return bad(why, "UDP length is not the IP payload's");
	csum = get_be16(udp + 6);
	if (p->ipv6 && csum) {
		uint8_t hdr[ROCE_UDP_HLEN];
		uint32_t sum;

		/* Summed with the checksum field as zero. */
		memcpy(hdr, udp, ROCE_UDP_HLEN);
		hdr[6] = hdr[7] = 0;
		sum = inet_csum_add(0, ip + 8, 32) + udp_len + IPPROTO_UDP_;
		sum = inet_csum_add(inet_csum_add(sum, hdr, ROCE_UDP_HLEN), udp + ROCE_UDP_HLEN,
			       udp_len - ROCE_UDP_HLEN);
		if ((inet_csum_fold(sum) ?: 0xffff) != csum)
			return bad(why, "UDP checksum");
	}
	bth = udp + ROCE_UDP_HLEN;
	if (end - bth < ROCE_BTH_LEN + ROCE_ICRC_LEN)
		return bad(why, "shorter than a BTH and an ICRC");
	icrc = roce_icrc(ip, (size_t)(end - ROCE_ICRC_LEN - ip), p->ipv6);
	if (icrc != ((uint32_t)end[-4] | end[-3] << 8 | end[-2] << 16 | (uint32_t)end[-1] << 24))
		return bad(why, "ICRC");
	p->opcode = bth[0];
	has = roce_opcode_headers(p->opcode);
	if (has < 0)
		return bad(why, "an opcode vlab does not speak");
	if (bth[1] & 0x0f)
		return bad(why, "transport header version not 0");
	p->solicited = bth[1] & 0x80;
	p->mig_req = bth[1] & 0x40;
	pad = (bth[1] >> 4) & 3;
	p->pkey = get_be16(bth + 2);
	p->dqpn = get24(bth + 5);
	p->ack_req = bth[8] & 0x80;
	p->psn = get24(bth + 9);
	ext = roce_ext_len(has);
	q = bth + ROCE_BTH_LEN;
	if ((size_t)(end - ROCE_ICRC_LEN - q) < ext + pad)
		return bad(why, "shorter than the headers its opcode needs");
	if (has & ROCE_HAS_DETH) {
		p->qkey = get_be32(q);
		p->sqpn = get24(q + 5);
		q += 8;
	}
	if (has & ROCE_HAS_RETH) {
		p->va = get_be64(q);
		p->rkey = get_be32(q + 8);
		p->dma_len = get_be32(q + 12);
		q += 16;
	}
	if (has & ROCE_HAS_ATOMICETH) {
		p->va = get_be64(q);
		p->rkey = get_be32(q + 8);
		p->swap_add = get_be64(q + 12);
		p->compare = get_be64(q + 20);
		q += 28;
	}
	if (has & ROCE_HAS_AETH) {
		p->syndrome = q[0];
		p->msn = get24(q + 1);
		q += 4;
	}
	if (has & ROCE_HAS_ATOMICACKETH) {
		p->orig = get_be64(q);
		q += 8;
	}
	if (has & ROCE_HAS_IMM) {
		p->imm = get_be32(q);
		q += 4;
	}
	if (has & ROCE_HAS_IETH) {
		p->rkey = get_be32(q);
		q += 4;
	}
	p->payload_len = (uint32_t)(end - ROCE_ICRC_LEN - q - pad);
	if (p->payload_len && !(has & ROCE_HAS_PAYLOAD))
		return bad(why, "data after a header that carries none");
	p->payload = q;
	return 0;
}
