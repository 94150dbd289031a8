// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net receive side: the filter truth table for every rx mode, MAC
 * table and VLAN case; Toeplitz known answers (Microsoft's RSS
 * verification vectors); queue selection through the indirection table;
 * and the hash report in the header.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "devices/net/net_ctrl.h"
#include "devices/net/net_rx.h"

#define F(bit) (1ULL << (bit))

#define ALL_FEATURES							\
	(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_MAC) |		\
	 F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_CTRL_VQ) |		\
	 F(VIRTIO_NET_F_CTRL_RX) | F(VIRTIO_NET_F_CTRL_VLAN) |		\
	 F(VIRTIO_NET_F_CTRL_RX_EXTRA) | F(VIRTIO_NET_F_MQ) |		\
	 F(VIRTIO_NET_F_CTRL_MAC_ADDR) | F(VIRTIO_NET_F_HASH_REPORT) |	\
	 F(VIRTIO_NET_F_RSS) | F(VIRTIO_F_VERSION_1))

#define PAIRS 4
#define TCP 6
#define UDP 17

static const uint8_t own_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t other_mac[6] = { 0x52, 0x54, 0x00, 0x99, 0x99, 0x99 };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t mcast_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
static const uint8_t mcast2_mac[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* "Verifying the RSS Hash Calculation", Microsoft Windows driver docs. */
struct kat {
	const char *dst;
	uint16_t dport;
	const char *src;
	uint16_t sport;
	uint32_t ip_hash;	/* addresses only */
	uint32_t l4_hash;	/* addresses and ports */
};

static const struct kat ipv4_kats[] = {
	{ "161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e8fc2, 0x51ccc178 },
	{ "65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718262a, 0xc626b0ea },
	{ "12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0a5de, 0x5c2b394a },
	{ "209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xafc7327f },
	{ "202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d1809c5, 0x10e828a2 },
};

static const struct kat ipv6_kats[] = {
	{ "3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794,
	  0x2cc18cd5, 0x40207d3d },
	{ "ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230,
	  0x0f0c461c, 0xdde51bbf },
	{ "fe80::200:f8ff:fe21:67cf", 38024,
	  "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251,
	  0x4b61e985, 0x02d1feef },
};

#define N_IPV4_KATS (int)(sizeof(ipv4_kats) / sizeof(ipv4_kats[0]))
#define N_IPV6_KATS (int)(sizeof(ipv6_kats) / sizeof(ipv6_kats[0]))

static struct net_state st;
static uint8_t frame[2048];

static void setup(void)
{
	net_state_init(&st, own_mac, PAIRS);
	net_state_set_features(&st, ALL_FEATURES);
	st.promisc = 0;
}

static void use_ms_key(uint32_t types)
{
	st.hash.types = types;
	st.hash.key_len = sizeof(ms_key);
	memcpy(st.hash.key, ms_key, sizeof(ms_key));
}

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static size_t eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, peer_mac, 6);
	be16(f + 12, type);
	return 14;
}

/* An 802.1Q tagged header: TPID 0x8100, @tci, then @type. */
static size_t eth_vlan(uint8_t *f, const uint8_t *dst, uint16_t tci,
		       uint16_t type)
{
	eth(f, dst, 0x8100);
	be16(f + 14, tci);
	be16(f + 16, type);
	return 18;
}

static size_t l4(uint8_t *p, uint8_t proto, uint16_t sport, uint16_t dport)
{
	size_t len = proto == TCP ? 20 : proto == UDP ? 8 : 0;

	memset(p, 0, len);
	if (len) {
		be16(p, sport);
		be16(p + 2, dport);
	}
	if (proto == TCP)
		p[12] = 5 << 4;
	return len;
}

static size_t ipv4(uint8_t *f, size_t off, const struct kat *k, uint8_t proto,
		   uint16_t frag)
{
	uint8_t *ip = f + off;
	size_t n;

	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[8] = 64;
	ip[9] = proto;
	be16(ip + 6, frag);
	ck_assert_int_eq(inet_pton(AF_INET, k->src, ip + 12), 1);
	ck_assert_int_eq(inet_pton(AF_INET, k->dst, ip + 16), 1);
	n = l4(ip + 20, proto, k->sport, k->dport);
	be16(ip + 2, 20 + n);
	return off + 20 + n;
}

/* IPv6 with @ext (extension headers, first type @nh) before the L4 header. */
static size_t ipv6(uint8_t *f, size_t off, const struct kat *k, uint8_t proto,
		   uint8_t nh, const uint8_t *ext, size_t ext_len)
{
	uint8_t *ip = f + off;
	size_t n;

	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[6] = ext_len ? nh : proto;
	ip[7] = 64;
	ck_assert_int_eq(inet_pton(AF_INET6, k->src, ip + 8), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, k->dst, ip + 24), 1);
	if (ext_len)
		memcpy(ip + 40, ext, ext_len);
	n = l4(ip + 40 + ext_len, proto, k->sport, k->dport);
	be16(ip + 4, ext_len + n);
	return off + 40 + ext_len + n;
}

static size_t tcp4_frame(const struct kat *k)
{
	return ipv4(frame, eth(frame, own_mac, 0x0800), k, TCP, 0);
}

static size_t tcp6_frame(const struct kat *k)
{
	return ipv6(frame, eth(frame, own_mac, 0x86dd), k, TCP, 0, NULL, 0);
}

static size_t arp_frame(void)
{
	size_t n = eth(frame, bcast_mac, 0x0806);

	memset(frame + n, 0, 28);
	return n + 28;
}

/* Source, destination, source port, destination port: the hash input. */
static size_t tuple(uint8_t *in, int af, const struct kat *k, bool ports)
{
	size_t alen = af == AF_INET ? 4 : 16;

	ck_assert_int_eq(inet_pton(af, k->src, in), 1);
	ck_assert_int_eq(inet_pton(af, k->dst, in + alen), 1);
	if (!ports)
		return 2 * alen;
	be16(in + 2 * alen, k->sport);
	be16(in + 2 * alen + 2, k->dport);
	return 2 * alen + 4;
}

static bool accept_to(const uint8_t *dst)
{
	return net_rx_filter_accept(&st, frame, eth(frame, dst, 0x0800) + 46);
}

static bool accept_tagged(const uint8_t *dst, uint16_t tci)
{
	return net_rx_filter_accept(&st, frame,
				    eth_vlan(frame, dst, tci, 0x0800) + 46);
}

static void table_add(struct net_mac_table *t, const uint8_t *mac)
{
	memcpy(t->macs[t->count++], mac, 6);
}

/* ---- filter ---- */

START_TEST(filter_promisc_accepts_everything)
{
	st.promisc = 1;
	st.nouni = st.nomulti = st.nobcast = 1;
	ck_assert(accept_to(other_mac));
	ck_assert(accept_to(mcast_mac));
	ck_assert(accept_to(bcast_mac));
	ck_assert(accept_tagged(other_mac, 77));
}
END_TEST

START_TEST(filter_reset_state_accepts_everything)
{
	/* Drivers without CTRL_RX never leave the reset default. */
	net_state_init(&st, own_mac, 1);
	ck_assert(accept_to(other_mac));
	ck_assert(accept_to(mcast_mac));
}
END_TEST

START_TEST(filter_runt_frames)
{
	st.promisc = 1;
	eth(frame, own_mac, 0x0800);
	ck_assert(!net_rx_filter_accept(&st, frame, 13));
	ck_assert(!net_rx_filter_accept(&st, frame, 0));
	ck_assert(!net_rx_filter_accept(&st, NULL, 64));
	ck_assert(net_rx_filter_accept(&st, frame, 14));
}
END_TEST

START_TEST(filter_own_mac_only)
{
	ck_assert(accept_to(own_mac));
	ck_assert(!accept_to(other_mac));
	ck_assert(!accept_to(mcast_mac));
	ck_assert(accept_to(bcast_mac));
}
END_TEST

START_TEST(filter_follows_mac_addr_set)
{
	uint8_t cmd[8] = { VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET };

	memcpy(cmd + 2, other_mac, 6);
	ck_assert_uint_eq(net_ctrl_handle(&st, cmd, 8, NULL, 0, NULL),
			  VIRTIO_NET_OK);
	ck_assert(accept_to(other_mac));
	ck_assert(!accept_to(own_mac));
}
END_TEST

START_TEST(filter_unicast_table)
{
	table_add(&st.uni, other_mac);
	ck_assert(accept_to(other_mac));
	ck_assert(accept_to(own_mac));
	ck_assert(!accept_to(peer_mac));
}
END_TEST

START_TEST(filter_alluni)
{
	st.alluni = 1;
	ck_assert(accept_to(other_mac));
	ck_assert(!accept_to(mcast_mac));
}
END_TEST

START_TEST(filter_unicast_overflow)
{
	st.uni.overflow = 1;
	ck_assert(accept_to(other_mac));
	ck_assert(!accept_to(mcast_mac));
}
END_TEST

START_TEST(filter_nouni)
{
	table_add(&st.uni, other_mac);
	st.nouni = 1;
	ck_assert(!accept_to(own_mac));
	ck_assert(!accept_to(other_mac));
	st.alluni = 1;
	ck_assert(!accept_to(own_mac));
	st.uni.overflow = 1;
	ck_assert(!accept_to(own_mac));
	/* Only unicast is suppressed. */
	ck_assert(accept_to(bcast_mac));
	st.allmulti = 1;
	ck_assert(accept_to(mcast_mac));
}
END_TEST

START_TEST(filter_multicast_table)
{
	table_add(&st.multi, mcast_mac);
	ck_assert(accept_to(mcast_mac));
	ck_assert(!accept_to(mcast2_mac));
}
END_TEST

START_TEST(filter_tables_by_kind)
{
	/* A group address in the unicast table does not pass multicast. */
	table_add(&st.uni, mcast_mac);
	ck_assert(!accept_to(mcast_mac));
	table_add(&st.multi, other_mac);
	ck_assert(!accept_to(other_mac));
}
END_TEST

START_TEST(filter_allmulti)
{
	st.allmulti = 1;
	ck_assert(accept_to(mcast_mac));
	ck_assert(accept_to(mcast2_mac));
	ck_assert(!accept_to(other_mac));
}
END_TEST

START_TEST(filter_multicast_overflow)
{
	st.multi.overflow = 1;
	ck_assert(accept_to(mcast2_mac));
	ck_assert(!accept_to(other_mac));
}
END_TEST

START_TEST(filter_nomulti)
{
	table_add(&st.multi, mcast_mac);
	st.nomulti = 1;
	ck_assert(!accept_to(mcast_mac));
	st.allmulti = 1;
	ck_assert(!accept_to(mcast_mac));
	st.multi.overflow = 1;
	ck_assert(!accept_to(mcast2_mac));
	/* Broadcast is not multicast for NOMULTI. */
	ck_assert(accept_to(bcast_mac));
	ck_assert(accept_to(own_mac));
}
END_TEST

START_TEST(filter_nobcast)
{
	st.nobcast = 1;
	ck_assert(!accept_to(bcast_mac));
	st.allmulti = 1;
	ck_assert(!accept_to(bcast_mac));
	ck_assert(accept_to(mcast_mac));
	ck_assert(accept_to(own_mac));
}
END_TEST

START_TEST(filter_table_overflow_via_cvq)
{
	static uint8_t cmd[2 + 4 + 65 * 6 + 4];
	size_t off = 2;

	cmd[0] = VIRTIO_NET_CTRL_MAC;
	cmd[1] = VIRTIO_NET_CTRL_MAC_TABLE_SET;
	le16(cmd + off, 65);
	off += 4;
	for (int i = 0; i < 65; i++, off += 6) {
		memcpy(cmd + off, peer_mac, 6);
		cmd[off + 5] = i;
	}
	off += 4;	/* no multicast entries */
	ck_assert_uint_eq(net_ctrl_handle(&st, cmd, off, NULL, 0, NULL),
			  VIRTIO_NET_OK);
	ck_assert(accept_to(other_mac));
	ck_assert(!accept_to(mcast_mac));
}
END_TEST

START_TEST(filter_vlan_table)
{
	/* With CTRL_VLAN the table starts empty: tagged frames drop. */
	ck_assert(!accept_tagged(own_mac, 5));
	ck_assert(!accept_tagged(own_mac, 0));
	ck_assert(accept_to(own_mac));
	st.vlans[0] |= 1u << 5;
	ck_assert(accept_tagged(own_mac, 5));
	/* Priority and DEI bits are not part of the id. */
	ck_assert(accept_tagged(own_mac, 0xf005));
	ck_assert(!accept_tagged(own_mac, 6));
	/* The MAC filter still applies to tagged frames. */
	ck_assert(!accept_tagged(other_mac, 5));
	ck_assert(accept_tagged(bcast_mac, 5));
	st.nobcast = 1;
	ck_assert(!accept_tagged(bcast_mac, 5));
}
END_TEST

START_TEST(filter_vlan_via_cvq)
{
	uint8_t cmd[4] = { VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD };

	le16(cmd + 2, 4095);
	ck_assert_uint_eq(net_ctrl_handle(&st, cmd, 4, NULL, 0, NULL),
			  VIRTIO_NET_OK);
	ck_assert(accept_tagged(own_mac, 4095));
	cmd[1] = VIRTIO_NET_CTRL_VLAN_DEL;
	ck_assert_uint_eq(net_ctrl_handle(&st, cmd, 4, NULL, 0, NULL),
			  VIRTIO_NET_OK);
	ck_assert(!accept_tagged(own_mac, 4095));
}
END_TEST

START_TEST(filter_vlan_without_feature)
{
	net_state_set_features(&st, ALL_FEATURES & ~F(VIRTIO_NET_F_CTRL_VLAN));
	ck_assert(accept_tagged(own_mac, 5));
	ck_assert(accept_tagged(own_mac, 4095));
	ck_assert(!accept_tagged(other_mac, 5));
}
END_TEST

START_TEST(filter_vlan_truncated_tag)
{
	eth_vlan(frame, own_mac, 5, 0x0800);
	st.vlans[0] = ~0u;
	ck_assert(!net_rx_filter_accept(&st, frame, 17));
	ck_assert(net_rx_filter_accept(&st, frame, 18));
}
END_TEST

START_TEST(filter_vlan_only_8021q)
{
	/* An 802.1ad outer tag is not a C-VLAN the table could match. */
	eth(frame, own_mac, 0x88a8);
	be16(frame + 14, 5);
	be16(frame + 16, 0x0800);
	ck_assert(net_rx_filter_accept(&st, frame, 64));
}
END_TEST

/* ---- Toeplitz known answers ---- */

START_TEST(toeplitz_ipv4_kat)
{
	const struct kat *k = &ipv4_kats[_i];
	uint8_t in[12];

	ck_assert_uint_eq(net_toeplitz_hash(ms_key, 40, in,
					    tuple(in, AF_INET, k, false)),
			  k->ip_hash);
	ck_assert_uint_eq(net_toeplitz_hash(ms_key, 40, in,
					    tuple(in, AF_INET, k, true)),
			  k->l4_hash);
}
END_TEST

START_TEST(toeplitz_ipv6_kat)
{
	const struct kat *k = &ipv6_kats[_i];
	uint8_t in[36];

	ck_assert_uint_eq(net_toeplitz_hash(ms_key, 40, in,
					    tuple(in, AF_INET6, k, false)),
			  k->ip_hash);
	ck_assert_uint_eq(net_toeplitz_hash(ms_key, 40, in,
					    tuple(in, AF_INET6, k, true)),
			  k->l4_hash);
}
END_TEST

START_TEST(toeplitz_short_key_is_zero_padded)
{
	uint8_t key[40] = { 0 }, in[36];
	size_t n = tuple(in, AF_INET6, &ipv6_kats[0], true);

	memcpy(key, ms_key, 16);
	ck_assert_uint_eq(net_toeplitz_hash(ms_key, 16, in, n),
			  net_toeplitz_hash(key, 40, in, n));
	ck_assert_uint_eq(net_toeplitz_hash(ms_key, 0, in, n), 0);
	ck_assert_uint_eq(net_toeplitz_hash(NULL, 0, in, n), 0);
	ck_assert_uint_eq(net_toeplitz_hash(ms_key, 40, in, 0), 0);
}
END_TEST

/* ---- hashing whole frames ---- */

static void expect_hash(size_t len, uint32_t want, uint16_t want_report)
{
	uint32_t hash = 0xdeadbeef;
	uint16_t report = 0xffff;
	bool got = net_rss_hash(&st, frame, len, &hash, &report);

	ck_assert_uint_eq(report, want_report);
	ck_assert_uint_eq(got, want_report != VIRTIO_NET_HASH_REPORT_NONE);
	ck_assert_msg(hash == want, "hash %#x, expected %#x", hash, want);
}

START_TEST(rss_tcpv4_frame)
{
	use_ms_key(NET_HASH_TYPES_ALL);
	expect_hash(tcp4_frame(&ipv4_kats[_i]), ipv4_kats[_i].l4_hash,
		    VIRTIO_NET_HASH_REPORT_TCPv4);
}
END_TEST

START_TEST(rss_udpv4_frame)
{
	const struct kat *k = &ipv4_kats[_i];

	use_ms_key(NET_HASH_TYPES_ALL);
	expect_hash(ipv4(frame, eth(frame, own_mac, 0x0800), k, UDP, 0),
		    k->l4_hash, VIRTIO_NET_HASH_REPORT_UDPv4);
}
END_TEST

START_TEST(rss_ipv4_only)
{
	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_IPv4);
	expect_hash(tcp4_frame(&ipv4_kats[_i]), ipv4_kats[_i].ip_hash,
		    VIRTIO_NET_HASH_REPORT_IPv4);
}
END_TEST

START_TEST(rss_tcpv6_frame)
{
	use_ms_key(NET_HASH_TYPES_ALL);
	expect_hash(tcp6_frame(&ipv6_kats[_i]), ipv6_kats[_i].l4_hash,
		    VIRTIO_NET_HASH_REPORT_TCPv6);
}
END_TEST

START_TEST(rss_udpv6_frame)
{
	const struct kat *k = &ipv6_kats[_i];

	use_ms_key(NET_HASH_TYPES_ALL);
	expect_hash(ipv6(frame, eth(frame, own_mac, 0x86dd), k, UDP, 0, NULL, 0),
		    k->l4_hash, VIRTIO_NET_HASH_REPORT_UDPv6);
}
END_TEST

START_TEST(rss_ipv6_only)
{
	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_IPv6);
	expect_hash(tcp6_frame(&ipv6_kats[_i]), ipv6_kats[_i].ip_hash,
		    VIRTIO_NET_HASH_REPORT_IPv6);
}
END_TEST

START_TEST(rss_type_precedence)
{
	const struct kat *k = &ipv4_kats[0];
	size_t tcp = tcp4_frame(k);

	/* TCP frame, only UDP enabled: no L4 type applies. */
	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_UDPv4);
	expect_hash(tcp, 0, VIRTIO_NET_HASH_REPORT_NONE);
	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_UDPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv4);
	expect_hash(tcp, k->ip_hash, VIRTIO_NET_HASH_REPORT_IPv4);
	/* IPv6 types do not apply to IPv4 and the other way round. */
	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_IPv6);
	expect_hash(tcp, 0, VIRTIO_NET_HASH_REPORT_NONE);
	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_TCPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv4);
	expect_hash(tcp6_frame(&ipv6_kats[0]), 0, VIRTIO_NET_HASH_REPORT_NONE);
	use_ms_key(0);
	expect_hash(tcp4_frame(k), 0, VIRTIO_NET_HASH_REPORT_NONE);
}
END_TEST

START_TEST(rss_ipv4_fragments)
{
	const struct kat *k = &ipv4_kats[1];

	use_ms_key(NET_HASH_TYPES_ALL);
	/* More-fragments, then a non-zero offset: addresses only. */
	expect_hash(ipv4(frame, eth(frame, own_mac, 0x0800), k, TCP, 0x2000),
		    k->ip_hash, VIRTIO_NET_HASH_REPORT_IPv4);
	expect_hash(ipv4(frame, eth(frame, own_mac, 0x0800), k, UDP, 0x0010),
		    k->ip_hash, VIRTIO_NET_HASH_REPORT_IPv4);
	/* Don't-fragment is not a fragment. */
	expect_hash(ipv4(frame, eth(frame, own_mac, 0x0800), k, TCP, 0x4000),
		    k->l4_hash, VIRTIO_NET_HASH_REPORT_TCPv4);
}
END_TEST

START_TEST(rss_ipv4_options)
{
	const struct kat *k = &ipv4_kats[2];
	size_t off = eth(frame, own_mac, 0x0800), n;
	uint8_t *ip = frame + off;

	use_ms_key(NET_HASH_TYPES_ALL);
	ipv4(frame, off, k, TCP, 0);
	/* Insert 4 bytes of options: IHL 6, ports move back. */
	memmove(ip + 24, ip + 20, 20);
	memset(ip + 20, 1, 4);	/* NOPs */
	ip[0] = 0x46;
	be16(ip + 2, 44);
	n = off + 44;
	expect_hash(n, k->l4_hash, VIRTIO_NET_HASH_REPORT_TCPv4);
	/* IHL below 5 or beyond the frame is not IPv4. */
	ip[0] = 0x44;
	expect_hash(n, 0, VIRTIO_NET_HASH_REPORT_NONE);
	ip[0] = 0x4f;
	expect_hash(off + 40, 0, VIRTIO_NET_HASH_REPORT_NONE);
}
END_TEST

START_TEST(rss_truncated_transport)
{
	const struct kat *k = &ipv4_kats[3];
	size_t n = tcp4_frame(k);

	use_ms_key(NET_HASH_TYPES_ALL);
	/* A TCP header cut short falls back to the addresses. */
	expect_hash(n - 1, k->ip_hash, VIRTIO_NET_HASH_REPORT_IPv4);
	expect_hash(n - 20, k->ip_hash, VIRTIO_NET_HASH_REPORT_IPv4);
	/* An IPv4 header cut short is no IP at all. */
	expect_hash(n - 21, 0, VIRTIO_NET_HASH_REPORT_NONE);
	expect_hash(14, 0, VIRTIO_NET_HASH_REPORT_NONE);
	expect_hash(10, 0, VIRTIO_NET_HASH_REPORT_NONE);
}
END_TEST

START_TEST(rss_vlan_tagged)
{
	const struct kat *k = &ipv4_kats[4];
	size_t n;

	use_ms_key(NET_HASH_TYPES_ALL);
	n = ipv4(frame, eth_vlan(frame, own_mac, 10, 0x0800), k, TCP, 0);
	expect_hash(n, k->l4_hash, VIRTIO_NET_HASH_REPORT_TCPv4);
	/* QinQ: 802.1ad outer, 802.1Q inner. */
	eth(frame, own_mac, 0x88a8);
	be16(frame + 14, 20);
	be16(frame + 16, 0x8100);
	be16(frame + 18, 10);
	be16(frame + 20, 0x0800);
	n = ipv4(frame, 22, k, TCP, 0);
	expect_hash(n, k->l4_hash, VIRTIO_NET_HASH_REPORT_TCPv4);
}
END_TEST

START_TEST(rss_non_ip)
{
	use_ms_key(NET_HASH_TYPES_ALL);
	expect_hash(arp_frame(), 0, VIRTIO_NET_HASH_REPORT_NONE);
	/* EtherType says IPv4 but the version nibble does not. */
	tcp4_frame(&ipv4_kats[0]);
	frame[14] = 0x65;
	expect_hash(64, 0, VIRTIO_NET_HASH_REPORT_NONE);
	tcp6_frame(&ipv6_kats[0]);
	frame[14] = 0x40;
	expect_hash(100, 0, VIRTIO_NET_HASH_REPORT_NONE);
}
END_TEST

/* A hop-by-hop options header with only padding, next header @next. */
static size_t ext_hopopts(uint8_t *p, uint8_t next)
{
	memset(p, 0, 8);
	p[0] = next;
	p[2] = 1;	/* PadN, 4 bytes */
	p[3] = 4;
	return 8;
}

START_TEST(rss_ipv6_ext_skipped)
{
	const struct kat *k = &ipv6_kats[_i];
	uint8_t ext[8];
	size_t n;

	ext_hopopts(ext, TCP);
	n = ipv6(frame, eth(frame, own_mac, 0x86dd), k, TCP, 0, ext, 8);
	/* Without _EX types the extension headers are skipped over. */
	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_IPv6);
	expect_hash(n, k->l4_hash, VIRTIO_NET_HASH_REPORT_TCPv6);
	/* With them, and no home address or routing header, same input. */
	use_ms_key(NET_HASH_TYPES_ALL);
	expect_hash(n, k->l4_hash, VIRTIO_NET_HASH_REPORT_TCPv6_EX);
	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_IP_EX);
	expect_hash(n, k->ip_hash, VIRTIO_NET_HASH_REPORT_IPv6_EX);
}
END_TEST

START_TEST(rss_ipv6_ex_needs_extension_headers)
{
	const struct kat *k = &ipv6_kats[0];

	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_TCP_EX | VIRTIO_NET_RSS_HASH_TYPE_IP_EX);
	expect_hash(tcp6_frame(k), 0, VIRTIO_NET_HASH_REPORT_NONE);
	use_ms_key(NET_HASH_TYPES_ALL);
	expect_hash(tcp6_frame(k), k->l4_hash, VIRTIO_NET_HASH_REPORT_TCPv6);
}
END_TEST

START_TEST(rss_ipv6_home_address)
{
	const struct kat *k = &ipv6_kats[1];
	uint8_t ext[24], in[36];
	size_t n, alen = 16;

	/* Destination options: Pad1, PadN(1), Home Address (type 0xc9). */
	memset(ext, 0, sizeof(ext));
	ext[0] = UDP;
	ext[1] = 2;		/* 24 bytes */
	ext[2] = 0;		/* Pad1 */
	ext[3] = 1;		/* PadN */
	ext[4] = 1;
	ext[6] = 0xc9;
	ext[7] = 16;
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::a", ext + 8), 1);
	n = ipv6(frame, eth(frame, own_mac, 0x86dd), k, UDP, 60, ext, 24);

	tuple(in, AF_INET6, k, true);
	memcpy(in, ext + 8, alen);
	use_ms_key(NET_HASH_TYPES_ALL);
	expect_hash(n, net_toeplitz_hash(ms_key, 40, in, 36),
		    VIRTIO_NET_HASH_REPORT_UDPv6_EX);
	/* The plain IPv6 types ignore the home address. */
	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_UDPv6);
	expect_hash(n, k->l4_hash, VIRTIO_NET_HASH_REPORT_UDPv6);
}
END_TEST

START_TEST(rss_ipv6_routing_type2)
{
	const struct kat *k = &ipv6_kats[2];
	uint8_t ext[24], in[36];
	size_t n;

	memset(ext, 0, sizeof(ext));
	ext[0] = TCP;
	ext[1] = 2;		/* 24 bytes */
	ext[2] = 2;		/* routing type 2 */
	ext[3] = 1;		/* segments left */
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::b", ext + 8), 1);
	n = ipv6(frame, eth(frame, own_mac, 0x86dd), k, TCP, 43, ext, 24);

	tuple(in, AF_INET6, k, false);
	memcpy(in + 16, ext + 8, 16);
	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_IP_EX);
	expect_hash(n, net_toeplitz_hash(ms_key, 40, in, 32),
		    VIRTIO_NET_HASH_REPORT_IPv6_EX);
	/* Another routing type carries no such address. */
	ext[2] = 0;
	n = ipv6(frame, eth(frame, own_mac, 0x86dd), k, TCP, 43, ext, 24);
	expect_hash(n, k->ip_hash, VIRTIO_NET_HASH_REPORT_IPv6_EX);
}
END_TEST

START_TEST(rss_ipv6_fragment)
{
	const struct kat *k = &ipv6_kats[0];
	uint8_t ext[8] = { TCP, 0, 0x00, 0x08, 0, 0, 0, 1 };	/* offset 1 */
	size_t n = ipv6(frame, eth(frame, own_mac, 0x86dd), k, TCP, 44, ext, 8);

	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_IPv6);
	expect_hash(n, k->ip_hash, VIRTIO_NET_HASH_REPORT_IPv6);
	/* First fragment with M set: still a fragment. */
	ext[3] = 0x01;
	n = ipv6(frame, eth(frame, own_mac, 0x86dd), k, TCP, 44, ext, 8);
	expect_hash(n, k->ip_hash, VIRTIO_NET_HASH_REPORT_IPv6);
	/* An atomic fragment (offset 0, no M) has its transport header. */
	ext[3] = 0;
	n = ipv6(frame, eth(frame, own_mac, 0x86dd), k, TCP, 44, ext, 8);
	expect_hash(n, k->l4_hash, VIRTIO_NET_HASH_REPORT_TCPv6);
}
END_TEST

START_TEST(rss_ipv6_truncated_extension)
{
	const struct kat *k = &ipv6_kats[0];
	uint8_t ext[8];
	size_t n;

	ext_hopopts(ext, TCP);
	ext[1] = 200;	/* claims 1608 bytes */
	n = ipv6(frame, eth(frame, own_mac, 0x86dd), k, TCP, 0, ext, 8);
	use_ms_key(VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_IPv6);
	expect_hash(n, k->ip_hash, VIRTIO_NET_HASH_REPORT_IPv6);
	expect_hash(14 + 40 + 4, k->ip_hash, VIRTIO_NET_HASH_REPORT_IPv6);
}
END_TEST

START_TEST(rss_key_from_state)
{
	const struct kat *k = &ipv4_kats[0];
	size_t n = tcp4_frame(k);

	use_ms_key(NET_HASH_TYPES_ALL);
	st.hash.key_len = 0;
	memset(st.hash.key, 0, sizeof(st.hash.key));
	/* Computed (the type applies) even though a zero key gives 0. */
	expect_hash(n, 0, VIRTIO_NET_HASH_REPORT_TCPv4);
}
END_TEST

/* ---- queue selection ---- */

/* RSS_CONFIG through the control queue: @entries, table[i] = map(i). */
static void rss_configure(uint32_t types, uint16_t entries, uint16_t unclassified,
			  uint16_t pairs)
{
	static uint8_t cmd[2 + 8 + 2 * 128 + 3 + 40];
	size_t off = 2;

	cmd[0] = VIRTIO_NET_CTRL_MQ;
	cmd[1] = VIRTIO_NET_CTRL_MQ_RSS_CONFIG;
	le16(cmd + off, types);
	le16(cmd + off + 2, types >> 16);
	le16(cmd + off + 4, entries - 1);
	le16(cmd + off + 6, unclassified);
	off += 8;
	for (int i = 0; i < entries; i++, off += 2)
		le16(cmd + off, (i * 7 + 3) % pairs);
	le16(cmd + off, pairs);
	cmd[off + 2] = 40;
	memcpy(cmd + off + 3, ms_key, 40);
	off += 3 + 40;
	ck_assert_uint_eq(net_ctrl_handle(&st, cmd, off, NULL, 0, NULL),
			  VIRTIO_NET_OK);
}

static void pairs_set(uint16_t pairs)
{
	uint8_t cmd[4] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET };

	le16(cmd + 2, pairs);
	ck_assert_uint_eq(net_ctrl_handle(&st, cmd, 4, NULL, 0, NULL),
			  VIRTIO_NET_OK);
}

START_TEST(select_single_queue)
{
	uint32_t hash;
	uint16_t report;

	ck_assert_uint_eq(net_rx_select_queue(&st, frame,
					      tcp4_frame(&ipv4_kats[0]),
					      &hash, &report), 0);
	/* HASH_REPORT negotiated but no hash types set yet. */
	ck_assert_uint_eq(hash, 0);
	ck_assert_uint_eq(report, VIRTIO_NET_HASH_REPORT_NONE);
}
END_TEST

START_TEST(select_rss_indirection)
{
	const struct kat *k = &ipv4_kats[_i];
	uint32_t hash;
	uint16_t report, q;

	rss_configure(NET_HASH_TYPES_ALL, 128, 0, PAIRS);
	q = net_rx_select_queue(&st, frame, tcp4_frame(k), &hash, &report);
	ck_assert_uint_eq(hash, k->l4_hash);
	ck_assert_uint_eq(report, VIRTIO_NET_HASH_REPORT_TCPv4);
	ck_assert_uint_eq(q, ((k->l4_hash & 127) * 7 + 3) % PAIRS);
	ck_assert_uint_eq(q, st.rss.table[k->l4_hash & 127]);
}
END_TEST

START_TEST(select_rss_ipv6_indirection)
{
	const struct kat *k = &ipv6_kats[_i];
	uint32_t hash;
	uint16_t report, q;

	rss_configure(VIRTIO_NET_RSS_HASH_TYPE_IPv6, 16, 1, 3);
	q = net_rx_select_queue(&st, frame, tcp6_frame(k), &hash, &report);
	ck_assert_uint_eq(hash, k->ip_hash);
	ck_assert_uint_eq(report, VIRTIO_NET_HASH_REPORT_IPv6);
	ck_assert_uint_eq(q, ((k->ip_hash & 15) * 7 + 3) % 3);
}
END_TEST

START_TEST(select_rss_unclassified)
{
	uint32_t hash;
	uint16_t report;

	rss_configure(NET_HASH_TYPES_ALL, 128, 3, PAIRS);
	ck_assert_uint_eq(net_rx_select_queue(&st, frame, arp_frame(),
					      &hash, &report), 3);
	ck_assert_uint_eq(report, VIRTIO_NET_HASH_REPORT_NONE);
	ck_assert_uint_eq(hash, 0);
	/* No hash types: everything is unclassified. */
	rss_configure(0, 128, 2, PAIRS);
	ck_assert_uint_eq(net_rx_select_queue(&st, frame,
					      tcp4_frame(&ipv4_kats[0]),
					      &hash, &report), 2);
}
END_TEST

START_TEST(select_rss_one_entry)
{
	uint32_t hash;
	uint16_t report;
	int i;

	rss_configure(NET_HASH_TYPES_ALL, 1, 0, 2);
	for (i = 0; i < N_IPV4_KATS; i++)
		ck_assert_uint_eq(net_rx_select_queue(&st, frame,
						      tcp4_frame(&ipv4_kats[i]),
						      &hash, &report), 1);
}
END_TEST

START_TEST(select_auto_steering)
{
	uint32_t hash;
	uint16_t report, q, seen = 0;
	int i;

	pairs_set(PAIRS);
	for (i = 0; i < N_IPV4_KATS; i++) {
		size_t n = tcp4_frame(&ipv4_kats[i]);

		q = net_rx_select_queue(&st, frame, n, &hash, &report);
		ck_assert_uint_lt(q, PAIRS);
		/* One flow, one queue. */
		ck_assert_uint_eq(net_rx_select_queue(&st, frame, n, &hash,
						      &report), q);
		seen |= 1u << q;
	}
	ck_assert_msg(__builtin_popcount(seen) >= 2, "flows not spread: %#x", seen);
	ck_assert_uint_eq(net_rx_select_queue(&st, frame, arp_frame(), &hash,
					      &report), 0);
}
END_TEST

START_TEST(select_pairs_set_ends_rss)
{
	uint32_t hash;
	uint16_t report;

	rss_configure(NET_HASH_TYPES_ALL, 128, 3, PAIRS);
	pairs_set(1);
	/* Back to one queue; the hash is still reported. */
	ck_assert_uint_eq(net_rx_select_queue(&st, frame, arp_frame(),
					      &hash, &report), 0);
	ck_assert_uint_eq(net_rx_select_queue(&st, frame,
					      tcp4_frame(&ipv4_kats[0]),
					      &hash, &report), 0);
	ck_assert_uint_eq(hash, ipv4_kats[0].l4_hash);
}
END_TEST

START_TEST(select_hash_config_only)
{
	uint8_t cmd[2 + 13 + 40] = { VIRTIO_NET_CTRL_MQ,
				     VIRTIO_NET_CTRL_MQ_HASH_CONFIG };
	const struct kat *k = &ipv4_kats[2];
	uint32_t hash;
	uint16_t report;

	le16(cmd + 2, NET_HASH_TYPES_ALL);
	cmd[14] = 40;
	memcpy(cmd + 15, ms_key, 40);
	ck_assert_uint_eq(net_ctrl_handle(&st, cmd, sizeof(cmd), NULL, 0, NULL),
			  VIRTIO_NET_OK);
	ck_assert_uint_eq(net_rx_select_queue(&st, frame, tcp4_frame(k),
					      &hash, &report), 0);
	ck_assert_uint_eq(hash, k->l4_hash);
	ck_assert_uint_eq(report, VIRTIO_NET_HASH_REPORT_TCPv4);
}
END_TEST

START_TEST(select_no_hash_without_features)
{
	uint32_t hash;
	uint16_t report;

	use_ms_key(NET_HASH_TYPES_ALL);
	net_state_set_features(&st, F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_MQ));
	ck_assert_uint_eq(net_rx_select_queue(&st, frame,
					      tcp4_frame(&ipv4_kats[0]),
					      &hash, &report), 0);
	ck_assert_uint_eq(report, VIRTIO_NET_HASH_REPORT_NONE);
	ck_assert_uint_eq(hash, 0);
}
END_TEST

START_TEST(select_survives_corrupt_state)
{
	uint32_t hash;
	uint16_t report;
	size_t n = tcp4_frame(&ipv4_kats[0]);

	rss_configure(NET_HASH_TYPES_ALL, 128, 0, PAIRS);
	for (int i = 0; i < 128; i++)
		st.rss.table[i] = 1000 + i;
	st.rss.unclassified_queue = 0xffff;
	st.rss.table_mask = 0xffff;
	ck_assert_uint_lt(net_rx_select_queue(&st, frame, n, &hash, &report),
			  PAIRS);
	ck_assert_uint_lt(net_rx_select_queue(&st, frame, arp_frame(), &hash,
					      &report), PAIRS);
	st.curr_queue_pairs = 0;
	ck_assert_uint_eq(net_rx_select_queue(&st, frame, n, &hash, &report), 0);
	st.curr_queue_pairs = 999;
	st.hash.key_len = 255;
	ck_assert_uint_lt(net_rx_select_queue(&st, frame, n, &hash, &report),
			  PAIRS);
}
END_TEST

/* ---- header ---- */

START_TEST(hash_report_fill)
{
	uint8_t hdr[24];

	memset(hdr, 0xcc, sizeof(hdr));
	net_rx_fill_hash_report(&st, hdr, 0x51ccc178, VIRTIO_NET_HASH_REPORT_TCPv4);
	ck_assert_uint_eq(hdr[11], 0xcc);
	ck_assert_uint_eq(hdr[12], 0x78);
	ck_assert_uint_eq(hdr[13], 0xc1);
	ck_assert_uint_eq(hdr[14], 0xcc);
	ck_assert_uint_eq(hdr[15], 0x51);
	ck_assert_uint_eq(hdr[16], VIRTIO_NET_HASH_REPORT_TCPv4);
	ck_assert_uint_eq(hdr[17], 0);
	ck_assert_uint_eq(hdr[18] | hdr[19], 0);
	ck_assert_uint_eq(hdr[20], 0xcc);
	net_rx_fill_hash_report(&st, NULL, 1, 1);
}
END_TEST

START_TEST(hash_report_matches_struct)
{
	struct virtio_net_hdr_v1_hash h;
	const struct kat *k = &ipv6_kats[1];
	uint32_t hash, value;
	uint16_t report;

	use_ms_key(NET_HASH_TYPES_ALL);
	net_rx_select_queue(&st, frame, tcp6_frame(k), &hash, &report);
	memset(&h, 0, sizeof(h));
	net_rx_fill_hash_report(&st, &h, hash, report);
	memcpy(&value, (uint8_t *)&h + sizeof(h.hdr), 4);
	ck_assert_uint_eq(value, k->l4_hash);
	ck_assert_uint_eq(h.hash_report, VIRTIO_NET_HASH_REPORT_TCPv6);
}
END_TEST

START_TEST(hash_report_needs_feature)
{
	uint8_t hdr[20];

	net_state_set_features(&st, ALL_FEATURES & ~F(VIRTIO_NET_F_HASH_REPORT));
	memset(hdr, 0xcc, sizeof(hdr));
	net_rx_fill_hash_report(&st, hdr, 1, 1);
	for (int i = 0; i < 20; i++)
		ck_assert_uint_eq(hdr[i], 0xcc);
}
END_TEST

START_TEST(header_length)
{
	ck_assert_uint_eq(net_rx_hdr_len(&st), 20);
	net_state_set_features(&st, F(VIRTIO_F_VERSION_1));
	ck_assert_uint_eq(net_rx_hdr_len(&st), 12);
	net_state_set_features(&st, F(VIRTIO_NET_F_MRG_RXBUF));
	ck_assert_uint_eq(net_rx_hdr_len(&st), 12);
	net_state_set_features(&st, 0);
	ck_assert_uint_eq(net_rx_hdr_len(&st), 10);
}
END_TEST

/* ---- robustness ---- */

/*
 * Random frames in exactly-sized heap buffers (so a sanitizer sees any
 * over-read), biased towards IP, VLAN and IPv6 extension headers.
 */
START_TEST(fuzz_frames)
{
	static const uint16_t types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806 };
	static const uint8_t nexts[] = { 0, 6, 17, 43, 44, 51, 60, 59 };
	unsigned int seed = 777;
	uint32_t hash;
	uint16_t report;
	int i;

	rss_configure(NET_HASH_TYPES_ALL, 128, 1, PAIRS);
	for (i = 0; i < 50000; i++) {
		size_t len = rand_r(&seed) % 160;
		uint8_t *f = malloc(len ? len : 1);
		size_t j;

		ck_assert_ptr_nonnull(f);
		for (j = 0; j < len; j++)
			f[j] = rand_r(&seed);
		if (len > 14)
			be16(f + 12, types[rand_r(&seed) % 5]);
		if (len > 18 && rand_r(&seed) % 2)
			be16(f + 16, types[rand_r(&seed) % 2]);
		if (len > 15)
			f[14] = (f[12] == 0x86 ? 0x60 : 0x45) | (f[14] & 3);
		for (j = 20; j < len; j += 8)
			if (rand_r(&seed) % 3 == 0)
				f[j] = nexts[rand_r(&seed) % 8];
		if (i % 3 == 0)
			st.promisc = 0;
		net_rx_filter_accept(&st, f, len);
		ck_assert_uint_lt(net_rx_select_queue(&st, f, len, &hash,
						      &report), PAIRS);
		ck_assert_uint_le(report, VIRTIO_NET_HASH_REPORT_UDPv6_EX);
		if (i == 25000)
			pairs_set(3);
		free(f);
	}
}
END_TEST

static Suite *net_rx_suite(void)
{
	Suite *s = suite_create("net_rx");
	TCase *tc;

	vlab_tcase(s, "filter", setup, NULL, 0, VLAB_TESTS(
		filter_promisc_accepts_everything, filter_reset_state_accepts_everything,
		filter_runt_frames, filter_own_mac_only, filter_follows_mac_addr_set,
		filter_unicast_table, filter_alluni, filter_unicast_overflow,
		filter_nouni, filter_multicast_table, filter_tables_by_kind,
		filter_allmulti, filter_multicast_overflow, filter_nomulti,
		filter_nobcast, filter_table_overflow_via_cvq, filter_vlan_table,
		filter_vlan_via_cvq, filter_vlan_without_feature,
		filter_vlan_truncated_tag, filter_vlan_only_8021q));

	tc = tcase_create("toeplitz");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, toeplitz_ipv4_kat, 0, N_IPV4_KATS);
	tcase_add_loop_test(tc, toeplitz_ipv6_kat, 0, N_IPV6_KATS);
	tcase_add_test(tc, toeplitz_short_key_is_zero_padded);
	suite_add_tcase(s, tc);

	tc = tcase_create("hash");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, rss_tcpv4_frame, 0, N_IPV4_KATS);
	tcase_add_loop_test(tc, rss_udpv4_frame, 0, N_IPV4_KATS);
	tcase_add_loop_test(tc, rss_ipv4_only, 0, N_IPV4_KATS);
	tcase_add_loop_test(tc, rss_tcpv6_frame, 0, N_IPV6_KATS);
	tcase_add_loop_test(tc, rss_udpv6_frame, 0, N_IPV6_KATS);
	tcase_add_loop_test(tc, rss_ipv6_only, 0, N_IPV6_KATS);
	tcase_add_test(tc, rss_type_precedence);
	tcase_add_test(tc, rss_ipv4_fragments);
	tcase_add_test(tc, rss_ipv4_options);
	tcase_add_test(tc, rss_truncated_transport);
	tcase_add_test(tc, rss_vlan_tagged);
	tcase_add_test(tc, rss_non_ip);
	tcase_add_loop_test(tc, rss_ipv6_ext_skipped, 0, N_IPV6_KATS);
	tcase_add_test(tc, rss_ipv6_ex_needs_extension_headers);
	tcase_add_test(tc, rss_ipv6_home_address);
	tcase_add_test(tc, rss_ipv6_routing_type2);
	tcase_add_test(tc, rss_ipv6_fragment);
	tcase_add_test(tc, rss_ipv6_truncated_extension);
	tcase_add_test(tc, rss_key_from_state);
	suite_add_tcase(s, tc);

	tc = tcase_create("select");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, select_single_queue);
	tcase_add_loop_test(tc, select_rss_indirection, 0, N_IPV4_KATS);
	tcase_add_loop_test(tc, select_rss_ipv6_indirection, 0, N_IPV6_KATS);
	tcase_add_test(tc, select_rss_unclassified);
	tcase_add_test(tc, select_rss_one_entry);
	tcase_add_test(tc, select_auto_steering);
	tcase_add_test(tc, select_pairs_set_ends_rss);
	tcase_add_test(tc, select_hash_config_only);
	tcase_add_test(tc, select_no_hash_without_features);
	tcase_add_test(tc, select_survives_corrupt_state);
	suite_add_tcase(s, tc);

	vlab_tcase(s, "header", setup, NULL, 0, VLAB_TESTS(
		hash_report_fill, hash_report_matches_struct, hash_report_needs_feature,
		header_length));

	vlab_tcase(s, "robustness", setup, NULL, 60, VLAB_TESTS(fuzz_frames));
	return s;
}

VLAB_TEST_MAIN(net_rx_suite)
