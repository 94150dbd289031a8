/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RoCEv2 on the wire: Ethernet, IPv4 or IPv6, UDP to port 4791, the IB
 * Base Transport Header, the extension headers the opcode calls for
 * (RETH, AETH, ImmDt, IETH, DETH, AtomicETH, AtomicAckETH), the payload
 * padded to 4 bytes, and the invariant CRC. One struct describes a packet;
 * roce_build() writes it and roce_parse() reads one back, checking every
 * length, the headers the opcode needs, and the ICRC: anything a peer
 * could forge is refused with a reason, and nothing outside the frame is
 * read.
 *
 * ICRC (IBA annex A17, as Linux's rdma_rxe computes it): CRC-32 over eight
 * 0xff bytes standing for the LRH, then the IP header, UDP header, BTH and
 * everything after it up to the ICRC, with the fields a router may change
 * set to ones: IPv4 TOS, TTL and header checksum (IPv6 traffic class, flow
 * label and hop limit), the UDP checksum, and the BTH's reserved byte.
 * Stored least significant byte first.
 */
#ifndef VLAB_RDMA_ROCE_H
#define VLAB_RDMA_ROCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define ROCE_UDP_PORT		4791
#define ROCE_ETH_HLEN		14
#define ROCE_IPV4_HLEN		20
#define ROCE_IPV6_HLEN		40
#define ROCE_UDP_HLEN		8
#define ROCE_BTH_LEN		12
#define ROCE_ICRC_LEN		4
#define ROCE_DEFAULT_PKEY	0xffff

/* Transport service, the opcode's top three bits. */
#define ROCE_RC			0x00
#define ROCE_UC			0x20
#define ROCE_UD			0x60

/* RC opcodes (IBA 9.2.1); UD's SEND_ONLY(_WITH_IMM) are ROCE_UD | 0x04 (0x05). */
enum roce_opcode {
	ROCE_SEND_FIRST = 0x00,
	ROCE_SEND_MIDDLE = 0x01,
	ROCE_SEND_LAST = 0x02,
	ROCE_SEND_LAST_IMM = 0x03,
	ROCE_SEND_ONLY = 0x04,
	ROCE_SEND_ONLY_IMM = 0x05,
	ROCE_WRITE_FIRST = 0x06,
	ROCE_WRITE_MIDDLE = 0x07,
	ROCE_WRITE_LAST = 0x08,
	ROCE_WRITE_LAST_IMM = 0x09,
	ROCE_WRITE_ONLY = 0x0a,
	ROCE_WRITE_ONLY_IMM = 0x0b,
	ROCE_READ_REQUEST = 0x0c,
	ROCE_READ_RESPONSE_FIRST = 0x0d,
	ROCE_READ_RESPONSE_MIDDLE = 0x0e,
	ROCE_READ_RESPONSE_LAST = 0x0f,
	ROCE_READ_RESPONSE_ONLY = 0x10,
	ROCE_ACK = 0x11,
	ROCE_ATOMIC_ACK = 0x12,
	ROCE_CMP_SWAP = 0x13,
	ROCE_FETCH_ADD = 0x14,
	ROCE_SEND_LAST_INV = 0x16,
	ROCE_SEND_ONLY_INV = 0x17,
};

/* Extension headers, in wire order. */
#define ROCE_HAS_DETH		(1u << 0)
#define ROCE_HAS_RETH		(1u << 1)
#define ROCE_HAS_ATOMICETH	(1u << 2)
#define ROCE_HAS_AETH		(1u << 3)
#define ROCE_HAS_ATOMICACKETH	(1u << 4)
#define ROCE_HAS_IMM		(1u << 5)
#define ROCE_HAS_IETH		(1u << 6)
#define ROCE_HAS_PAYLOAD	(1u << 7)	/* may carry data */

struct roce_pkt {
	/* Ethernet */
	uint8_t dmac[6], smac[6];
	/* IP: IPv4 addresses are the first 4 bytes */
	bool ipv6;
	uint8_t sip[16], dip[16];
	uint8_t ttl;			/* IPv6: hop limit */
	uint8_t tclass;			/* IPv4 TOS, IPv6 traffic class */
	uint32_t flow_label;		/* IPv6 */
	uint16_t sport;			/* UDP source port: flow entropy */
	/* BTH */
	uint8_t opcode;
	bool solicited, mig_req, ack_req;
	uint16_t pkey;
	uint32_t dqpn;			/* 24 bits */
	uint32_t psn;			/* 24 bits */
	/* extension headers, as the opcode calls for (roce_opcode_headers()) */
	uint32_t qkey, sqpn;		/* DETH */
	uint64_t va;			/* RETH, AtomicETH */
	uint32_t rkey;			/* RETH, AtomicETH, IETH */
	uint32_t dma_len;		/* RETH */
	uint8_t syndrome;		/* AETH */
	uint32_t msn;			/* AETH, 24 bits */
	uint64_t swap_add, compare;	/* AtomicETH */
	uint64_t orig;			/* AtomicAckETH */
	uint32_t imm;			/* ImmDt (host order; big-endian on the wire) */
	/* payload (roce_parse(): points into the frame) */
	const uint8_t *payload;
	uint32_t payload_len;
};

/* The extension headers of @opcode (ROCE_HAS_*), or -1 if it is not one vlab speaks. */
int roce_opcode_headers(uint8_t opcode);
/* Bytes of the headers in @has, BTH not included. */
size_t roce_ext_len(unsigned int has);

/* Frame bytes roce_build() writes for @p. */
size_t roce_frame_len(const struct roce_pkt *p);
/*
 * Write @p into @buf (@cap bytes): the frame's length, or 0 if it does
 * not fit or @p is not a packet (unknown opcode, payload where the opcode
 * carries none, 24-bit fields too wide).
 */
size_t roce_build(uint8_t *buf, size_t cap, const struct roce_pkt *p);
/*
 * The same frame in three pieces for a gathering send, the payload not
 * copied: its headers, then its pad and ICRC, written into @hdr (@cap
 * bytes), and @iov the headers, @p->payload and the tail, in that order.
 * The frame's length, or 0 where roce_build() would fail or @p is IPv6
 * (its UDP checksum covers the payload: roce_build() then).
 */
size_t roce_build_sg(uint8_t *hdr, size_t cap, const struct roce_pkt *p, struct iovec iov[3]);
/*
 * Read a frame: 0 and @p filled (payload pointing into @frame); 1 if it is
 * not RoCEv2 at all (another ethertype, protocol or port: the netdev's);
 * -1 with *@why set if it claims to be RoCEv2 and is malformed (lengths,
 * version, a header its opcode needs, the ICRC).
 */
int roce_parse(const uint8_t *frame, size_t len, struct roce_pkt *p, const char **why);

/* The ICRC of the IP packet at @ip, @len bytes up to the ICRC itself. */
uint32_t roce_icrc(const uint8_t *ip, size_t len, bool ipv6);

#endif
