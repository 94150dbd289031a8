// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net control virtqueue: every command class, its effect on the
 * device state, and for each malformed or unsupported variant an ERR that
 * leaves the state as it was.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "devices/net/net_ctrl.h"
#include "vmm/core/bytes.h"

#define F(bit) (1ULL << (bit))

/* Every feature a fully capable driver accepts. */
#define ALL_FEATURES							\
	(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |		\
	 F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | F(VIRTIO_NET_F_MAC) |	\
	 F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |	\
	 F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_CTRL_VQ) |		\
	 F(VIRTIO_NET_F_CTRL_RX) | F(VIRTIO_NET_F_CTRL_VLAN) |		\
	 F(VIRTIO_NET_F_CTRL_RX_EXTRA) | F(VIRTIO_NET_F_GUEST_ANNOUNCE) | \
	 F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_CTRL_MAC_ADDR) |		\
	 F(VIRTIO_NET_F_DEVICE_STATS) | F(VIRTIO_NET_F_VQ_NOTF_COAL) |	\
	 F(VIRTIO_NET_F_NOTF_COAL) | F(VIRTIO_NET_F_HASH_REPORT) |	\
	 F(VIRTIO_NET_F_RSS) | F(VIRTIO_F_VERSION_1))

#define PAIRS 4
/* Room for an RSS_CONFIG with a 256-entry table. */
#define RSS_BUF 1024

static const uint8_t perm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static struct net_state st;
static struct net_state before;
static struct net_ctrl_reply rep;
static uint8_t out[1024];
static size_t out_cap;

static void setup(void)
{
	net_state_init(&st, perm_mac, PAIRS);
	net_state_set_features(&st, ALL_FEATURES);
	out_cap = sizeof(out);
}

static void drop_feature(unsigned int bit)
{
	net_state_set_features(&st, st.features & ~F(bit));
}

static uint8_t cmd(uint8_t cls, uint8_t c, const void *data, size_t len)
{
	static uint8_t buf[8192];

	ck_assert_uint_le(len + 2, sizeof(buf));
	buf[0] = cls;
	buf[1] = c;
	if (len)
		memcpy(buf + 2, data, len);
	memset(out, 0xee, sizeof(out));
	return net_ctrl_handle(&st, buf, len + 2, out, out_cap, &rep);
}

static void ok(uint8_t cls, uint8_t c, const void *data, size_t len)
{
	ck_assert_msg(cmd(cls, c, data, len) == VIRTIO_NET_OK,
		      "class %u cmd %u len %zu should succeed", cls, c, len);
}

/* ERR, and only the control queue counters moved. */
static void err(uint8_t cls, uint8_t c, const void *data, size_t len)
{
	memcpy(&before, &st, sizeof(st));
	ck_assert_msg(cmd(cls, c, data, len) == VIRTIO_NET_ERR,
		      "class %u cmd %u len %zu should fail", cls, c, len);
	ck_assert_uint_eq(st.cvq_stats.command_num,
			  before.cvq_stats.command_num + 1);
	ck_assert_uint_eq(st.cvq_stats.ok_num, before.cvq_stats.ok_num);
	ck_assert_uint_eq(rep.len, 0);
	ck_assert_uint_eq(rep.effects, 0);
	before.cvq_stats = st.cvq_stats;
	ck_assert_msg(!memcmp(&st, &before, sizeof(st)),
		      "class %u cmd %u changed state on error", cls, c);
}




static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint16_t rd16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

/* ---- defaults ---- */

START_TEST(init_defaults)
{
	net_state_init(&st, perm_mac, PAIRS);
	ck_assert_uint_eq(st.features, 0);
	ck_assert_mem_eq(st.mac, perm_mac, 6);
	ck_assert_uint_eq(st.status, VIRTIO_NET_S_LINK_UP);
	ck_assert_uint_eq(st.max_queue_pairs, PAIRS);
	ck_assert_uint_eq(st.curr_queue_pairs, 1);
	ck_assert_uint_eq(st.promisc, 1);
	ck_assert_uint_eq(st.allmulti | st.alluni | st.nomulti | st.nouni |
			  st.nobcast, 0);
	ck_assert_uint_eq(st.uni.count + st.multi.count, 0);
	ck_assert_uint_eq(st.uni.overflow + st.multi.overflow, 0);
	ck_assert(!net_vlan_test(&st, 0));
	ck_assert(!net_vlan_test(&st, 4095));
	ck_assert_uint_eq(st.rss.enabled, 0);
	ck_assert_uint_eq(st.hash.types, 0);
	ck_assert_uint_eq(st.coal_tx.max_packets + st.coal_rx.max_usecs, 0);
	ck_assert_uint_eq(st.rss_max_key_size, 40);
	ck_assert_uint_eq(st.rss_max_table_len, 128);
	ck_assert_uint_eq(st.supported_hash_types, NET_HASH_TYPES_ALL);
}
END_TEST

START_TEST(init_clamps_pairs)
{
	net_state_init(&st, perm_mac, 0);
	ck_assert_uint_eq(st.max_queue_pairs, 1);
	net_state_init(&st, perm_mac, 1000);
	ck_assert_uint_eq(st.max_queue_pairs, NET_MAX_QUEUE_PAIRS);
}
END_TEST

START_TEST(reset_restores_everything)
{
	static struct net_state fresh;
	uint8_t b = 0, mac[6] = { 0x02, 1, 2, 3, 4, 5 }, v[8] = { 0 };

	ok(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &b, 1);
	b = 1;
	ok(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, &b, 1);
	ok(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6);
	put_le16(v, 7);
	ok(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 2);
	put_le16(v, 3);
	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, v, 2);
	put_le32(v, 5);
	ok(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, v, 8);
	ck_assert(net_state_announce(&st, 3));
	st.rxq_stats[0].packets = 9;

	net_state_reset(&st);
	net_state_init(&fresh, perm_mac, PAIRS);
	ck_assert(!memcmp(&st, &fresh, sizeof(st)));
}
END_TEST

START_TEST(reset_keeps_link_state)
{
	st.status = 0;
	net_state_reset(&st);
	ck_assert_uint_eq(st.status, 0);
	st.status = VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE;
	net_state_reset(&st);
	ck_assert_uint_eq(st.status, VIRTIO_NET_S_LINK_UP);
}
END_TEST

START_TEST(features_enable_offloads)
{
	ck_assert_uint_eq(st.guest_offloads,
			  F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
			  F(VIRTIO_NET_F_GUEST_TSO6));
}
END_TEST

START_TEST(max_pairs_needs_mq_or_rss)
{
	ck_assert_uint_eq(net_state_max_pairs(&st), PAIRS);
	ck_assert_uint_eq(net_state_cvq_index(&st), 2 * PAIRS);
	drop_feature(VIRTIO_NET_F_MQ);
	ck_assert_uint_eq(net_state_max_pairs(&st), PAIRS);
	drop_feature(VIRTIO_NET_F_RSS);
	ck_assert_uint_eq(net_state_max_pairs(&st), 1);
	ck_assert_uint_eq(net_state_cvq_index(&st), 2);
	/* A corrupt restore cannot push the count past the arrays. */
	net_state_set_features(&st, ALL_FEATURES);
	st.max_queue_pairs = 60000;
	ck_assert_uint_eq(net_state_max_pairs(&st), NET_MAX_QUEUE_PAIRS);
}
END_TEST

START_TEST(fill_config_layout)
{
	struct virtio_net_config cfg;
	const uint8_t *p = (const uint8_t *)&cfg;

	st.mtu = 9000;
	st.speed = 10000;
	st.duplex = 1;
	net_state_fill_config(&st, &cfg);
	ck_assert_mem_eq(p, perm_mac, 6);
	ck_assert_uint_eq(rd16(p + 6), VIRTIO_NET_S_LINK_UP);
	ck_assert_uint_eq(rd16(p + 8), PAIRS);
	ck_assert_uint_eq(rd16(p + 10), 9000);
	ck_assert_uint_eq(rd16(p + 12) | rd16(p + 14) << 16, 10000);
	ck_assert_uint_eq(p[16], 1);
	ck_assert_uint_eq(p[17], 40);
	ck_assert_uint_eq(rd16(p + 18), 128);
	ck_assert_uint_eq(rd16(p + 20), NET_HASH_TYPES_ALL);
}
END_TEST

/* ---- general ---- */

START_TEST(short_or_null_commands)
{
	uint8_t one = VIRTIO_NET_CTRL_RX;

	memcpy(&before, &st, sizeof(st));
	ck_assert_uint_eq(net_ctrl_handle(&st, NULL, 0, out, out_cap, &rep),
			  VIRTIO_NET_ERR);
	ck_assert_uint_eq(net_ctrl_handle(&st, &one, 1, out, out_cap, &rep),
			  VIRTIO_NET_ERR);
	ck_assert_uint_eq(net_ctrl_handle(&st, &one, 0, NULL, 0, NULL),
			  VIRTIO_NET_ERR);
	ck_assert_uint_eq(st.cvq_stats.command_num, 3);
	ck_assert_uint_eq(st.cvq_stats.ok_num, 0);
}
END_TEST

START_TEST(unknown_class_and_command)
{
	uint8_t b = 1;
	int cls;

	/* 7 (HASH_TUNNEL) and 9 (RSS contexts) are not offered. */
	for (cls = 7; cls < 256; cls++)
		if (cls != VIRTIO_NET_CTRL_STATS)
			err(cls, 0, &b, 1);
	err(VIRTIO_NET_CTRL_RX, 6, &b, 1);
	err(VIRTIO_NET_CTRL_MAC, 2, &b, 1);
	err(VIRTIO_NET_CTRL_VLAN, 2, &b, 1);
	err(VIRTIO_NET_CTRL_ANNOUNCE, 1, NULL, 0);
	err(VIRTIO_NET_CTRL_MQ, 3, &b, 1);
	err(VIRTIO_NET_CTRL_GUEST_OFFLOADS, 1, &b, 1);
	err(VIRTIO_NET_CTRL_NOTF_COAL, 4, &b, 1);
	err(VIRTIO_NET_CTRL_STATS, 2, NULL, 0);
}
END_TEST

START_TEST(everything_needs_ctrl_vq)
{
	uint8_t b = 0;

	drop_feature(VIRTIO_NET_F_CTRL_VQ);
	err(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &b, 1);
}
END_TEST

START_TEST(counts_commands)
{
	uint8_t b = 0;

	ok(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &b, 1);
	err(VIRTIO_NET_CTRL_RX, 99, &b, 1);
	ck_assert_uint_eq(st.cvq_stats.command_num, 2);
	ck_assert_uint_eq(st.cvq_stats.ok_num, 1);
}
END_TEST

/* ---- RX ---- */

START_TEST(rx_modes_toggle)
{
	uint8_t *flags[] = { &st.promisc, &st.allmulti, &st.alluni,
			     &st.nomulti, &st.nouni, &st.nobcast };
	uint8_t on = 1, off = 0;
	int c;

	for (c = 0; c < 6; c++) {
		ok(VIRTIO_NET_CTRL_RX, c, &on, 1);
		ck_assert_uint_eq(*flags[c], 1);
		ck_assert_uint_eq(rep.effects, NET_CTRL_FX_RX_FILTER);
		ok(VIRTIO_NET_CTRL_RX, c, &off, 1);
		ck_assert_uint_eq(*flags[c], 0);
	}
}
END_TEST

START_TEST(rx_any_nonzero_is_on)
{
	uint8_t v = 0x80;

	ok(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &v, 1);
	ck_assert_uint_eq(st.allmulti, 1);
}
END_TEST

START_TEST(rx_bad_length)
{
	uint8_t v[2] = { 1, 1 };
	int c;

	for (c = 0; c < 6; c++) {
		err(VIRTIO_NET_CTRL_RX, c, v, 0);
		err(VIRTIO_NET_CTRL_RX, c, v, 2);
	}
}
END_TEST

START_TEST(rx_needs_ctrl_rx)
{
	uint8_t v = 0;

	drop_feature(VIRTIO_NET_F_CTRL_RX);
	err(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &v, 1);
	err(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &v, 1);
	/* The extra modes have their own feature bit. */
	ok(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, &v, 1);
}
END_TEST

START_TEST(rx_extra_needs_rx_extra)
{
	uint8_t v = 1;
	int c;

	drop_feature(VIRTIO_NET_F_CTRL_RX_EXTRA);
	for (c = VIRTIO_NET_CTRL_RX_ALLUNI; c <= VIRTIO_NET_CTRL_RX_NOBCAST; c++)
		err(VIRTIO_NET_CTRL_RX, c, &v, 1);
	ok(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &v, 1);
}
END_TEST

/* ---- MAC ---- */

/* A TABLE_SET body with @nu unicast and @nm multicast entries. */
static size_t mac_tables(uint8_t *p, uint32_t nu, uint32_t nm)
{
	size_t off = 0;
	uint32_t i;

	put_le32(p, nu);
	off += 4;
	for (i = 0; i < nu; i++, off += 6) {
		uint8_t m[6] = { 0x02, 0, 0, 0, i >> 8, i };

		memcpy(p + off, m, 6);
	}
	put_le32(p + off, nm);
	off += 4;
	for (i = 0; i < nm; i++, off += 6) {
		uint8_t m[6] = { 0x01, 0, 0x5e, 0, i >> 8, i };

		memcpy(p + off, m, 6);
	}
	return off;
}

START_TEST(mac_table_set)
{
	static uint8_t p[4096];
	size_t n = mac_tables(p, 2, 3);

	ok(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n);
	ck_assert_uint_eq(st.uni.count, 2);
	ck_assert_uint_eq(st.multi.count, 3);
	ck_assert_mem_eq(st.uni.macs[1], p + 4 + 6, 6);
	ck_assert_mem_eq(st.multi.macs[2], p + 4 + 12 + 4 + 12, 6);
	ck_assert_uint_eq(st.uni.overflow | st.multi.overflow, 0);
	ck_assert_uint_eq(rep.effects, NET_CTRL_FX_RX_FILTER);

	/* A later, smaller list replaces the old one entirely. */
	n = mac_tables(p, 0, 1);
	ok(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n);
	ck_assert_uint_eq(st.uni.count, 0);
	ck_assert_uint_eq(st.multi.count, 1);
	ck_assert_mem_eq(st.uni.macs[0], (uint8_t[6]){ 0 }, 6);
}
END_TEST

START_TEST(mac_table_full_fits)
{
	static uint8_t p[4096];
	size_t n = mac_tables(p, NET_MAC_TABLE_ENTRIES, NET_MAC_TABLE_ENTRIES);

	ok(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n);
	ck_assert_uint_eq(st.uni.count, NET_MAC_TABLE_ENTRIES);
	ck_assert_uint_eq(st.multi.count, NET_MAC_TABLE_ENTRIES);
	ck_assert_uint_eq(st.uni.overflow | st.multi.overflow, 0);
}
END_TEST

START_TEST(mac_table_overflow)
{
	static uint8_t p[4096];
	size_t n = mac_tables(p, NET_MAC_TABLE_ENTRIES + 1, 2);

	ok(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n);
	ck_assert_uint_eq(st.uni.overflow, 1);
	ck_assert_uint_eq(st.uni.count, 0);
	ck_assert_uint_eq(st.multi.overflow, 0);
	ck_assert_uint_eq(st.multi.count, 2);

	n = mac_tables(p, 1, 200);
	ok(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n);
	ck_assert_uint_eq(st.uni.overflow, 0);
	ck_assert_uint_eq(st.uni.count, 1);
	ck_assert_uint_eq(st.multi.overflow, 1);
}
END_TEST

START_TEST(mac_table_malformed)
{
	static uint8_t p[4096];
	size_t n = mac_tables(p, 2, 3);

	/* Every truncation, and one byte too many. */
	for (size_t len = 0; len < n; len++)
		err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, len);
	p[n] = 0;
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n + 1);

	/* Counts that claim more than the data holds, up to 2^32 - 1. */
	n = mac_tables(p, 2, 3);
	put_le32(p, 3);
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n);
	put_le32(p, 0xffffffff);
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n);
	n = mac_tables(p, 2, 3);
	put_le32(p + 16, 0xffffffff);
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n);
	put_le32(p + 16, 2);
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n);
}
END_TEST

START_TEST(mac_table_needs_ctrl_rx)
{
	static uint8_t p[64];
	size_t n = mac_tables(p, 1, 1);

	drop_feature(VIRTIO_NET_F_CTRL_RX);
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n);
}
END_TEST

START_TEST(mac_addr_set)
{
	uint8_t mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };

	ok(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6);
	ck_assert_mem_eq(st.mac, mac, 6);
	ck_assert_mem_eq(st.perm_mac, perm_mac, 6);
	ck_assert_uint_eq(rep.effects, NET_CTRL_FX_RX_FILTER | NET_CTRL_FX_CONFIG);
}
END_TEST

START_TEST(mac_addr_set_bad)
{
	uint8_t mac[7] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0 };
	uint8_t group[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
	uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t zero[6] = { 0 };

	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 5);
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 7);
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 0);
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, group, 6);
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, bcast, 6);
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, zero, 6);
}
END_TEST

START_TEST(mac_addr_set_feature)
{
	uint8_t mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };

	/* Linux sends ADDR_SET with CTRL_MAC_ADDR even without CTRL_RX. */
	drop_feature(VIRTIO_NET_F_CTRL_RX);
	ok(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6);
	drop_feature(VIRTIO_NET_F_CTRL_MAC_ADDR);
	mac[5] = 1;
	err(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6);
}
END_TEST

/* ---- VLAN ---- */

START_TEST(vlan_add_del)
{
	uint8_t v[2];

	put_le16(v, 100);
	ok(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 2);
	ck_assert(net_vlan_test(&st, 100));
	ck_assert(!net_vlan_test(&st, 101));
	put_le16(v, 4095);
	ok(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 2);
	put_le16(v, 0);
	ok(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 2);
	ck_assert(net_vlan_test(&st, 4095) && net_vlan_test(&st, 0));
	put_le16(v, 100);
	ok(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL, v, 2);
	ck_assert(!net_vlan_test(&st, 100));
	ck_assert(net_vlan_test(&st, 4095));
	/* Deleting an absent id, or adding twice, is fine. */
	ok(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL, v, 2);
	put_le16(v, 0);
	ok(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 2);
	ck_assert_uint_eq(rep.effects, NET_CTRL_FX_RX_FILTER);
}
END_TEST

START_TEST(vlan_bad)
{
	uint8_t v[3] = { 0 };

	put_le16(v, 4096);
	err(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 2);
	err(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL, v, 2);
	put_le16(v, 0xffff);
	err(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 2);
	put_le16(v, 5);
	err(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 1);
	err(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 3);
	drop_feature(VIRTIO_NET_F_CTRL_VLAN);
	err(VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 2);
}
END_TEST

/* ---- ANNOUNCE ---- */

START_TEST(announce_ack)
{
	ck_assert(net_state_announce(&st, 2));
	ck_assert_uint_eq(st.status, VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
	ck_assert_uint_eq(st.announce_rounds, 1);
	ok(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0);
	ck_assert_uint_eq(st.status, VIRTIO_NET_S_LINK_UP);
	ck_assert_uint_eq(rep.effects, NET_CTRL_FX_CONFIG);
	/* A second ACK with nothing pending is harmless. */
	ok(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0);
}
END_TEST

START_TEST(announce_bad)
{
	uint8_t b = 0;

	ck_assert(!net_state_announce(&st, 0));
	ck_assert(net_state_announce(&st, 1));
	err(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, &b, 1);
	err(VIRTIO_NET_CTRL_ANNOUNCE, 1, NULL, 0);
	drop_feature(VIRTIO_NET_F_GUEST_ANNOUNCE);
	err(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0);
	ck_assert(st.status & VIRTIO_NET_S_ANNOUNCE);
}
END_TEST

START_TEST(announce_needs_features)
{
	drop_feature(VIRTIO_NET_F_STATUS);
	ck_assert(!net_state_announce(&st, 1));
	net_state_set_features(&st, ALL_FEATURES);
	drop_feature(VIRTIO_NET_F_GUEST_ANNOUNCE);
	ck_assert(!net_state_announce(&st, 1));
	ck_assert_uint_eq(st.status, VIRTIO_NET_S_LINK_UP);
}
END_TEST

/* ---- MQ ---- */

START_TEST(mq_pairs_set)
{
	uint8_t v[2];
	int n;

	for (n = 1; n <= PAIRS; n++) {
		put_le16(v, n);
		ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, v, 2);
		ck_assert_uint_eq(st.curr_queue_pairs, n);
		ck_assert_uint_eq(rep.effects, NET_CTRL_FX_QUEUES);
	}
}
END_TEST

START_TEST(mq_pairs_set_bad)
{
	uint8_t v[3] = { 0 };

	put_le16(v, 0);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, v, 2);
	put_le16(v, PAIRS + 1);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, v, 2);
	put_le16(v, 0x8000);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, v, 2);
	put_le16(v, 2);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, v, 1);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, v, 3);
	drop_feature(VIRTIO_NET_F_MQ);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, v, 2);
}
END_TEST

static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* An RSS_CONFIG body; table[i] = (i + 1) % max_tx_vq. */
static size_t rss_config(uint8_t *p, uint32_t types, uint16_t entries,
			 uint16_t unclassified, uint16_t max_tx_vq,
			 uint8_t key_len)
{
	size_t off = 8;
	int i;

	put_le32(p, types);
	put_le16(p + 4, entries - 1);
	put_le16(p + 6, unclassified);
	for (i = 0; i < entries; i++, off += 2)
		put_le16(p + off, max_tx_vq ? (i + 1) % max_tx_vq : 0);
	put_le16(p + off, max_tx_vq);
	p[off + 2] = key_len;
	memcpy(p + off + 3, ms_key, key_len > 40 ? 40 : key_len);
	return off + 3 + key_len;
}

START_TEST(mq_rss_config)
{
	uint8_t p[RSS_BUF];
	size_t n = rss_config(p, NET_HASH_TYPES_ALL, 128, 2, 3, 40);

	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	ck_assert_uint_eq(st.rss.enabled, 1);
	ck_assert_uint_eq(st.rss.table_mask, 127);
	ck_assert_uint_eq(st.rss.unclassified_queue, 2);
	ck_assert_uint_eq(st.rss.table[0], 1);
	ck_assert_uint_eq(st.rss.table[2], 0);
	ck_assert_uint_eq(st.rss.table[127], 128 % 3);
	ck_assert_uint_eq(st.rss.max_tx_vq, 3);
	ck_assert_uint_eq(st.curr_queue_pairs, 3);
	ck_assert_uint_eq(st.hash.types, NET_HASH_TYPES_ALL);
	ck_assert_uint_eq(st.hash.key_len, 40);
	ck_assert_mem_eq(st.hash.key, ms_key, 40);
	ck_assert_uint_eq(rep.effects, NET_CTRL_FX_QUEUES | NET_CTRL_FX_HASH);
}
END_TEST

START_TEST(mq_rss_config_small)
{
	uint8_t p[RSS_BUF];
	size_t n = rss_config(p, VIRTIO_NET_RSS_HASH_TYPE_IPv4, 1, 0, 1, 0);

	/* One entry, no key, and hash types off are all legal. */
	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	ck_assert_uint_eq(st.rss.table_mask, 0);
	ck_assert_uint_eq(st.hash.key_len, 0);
	n = rss_config(p, 0, 4, 0, 2, 16);
	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	ck_assert_uint_eq(st.hash.types, 0);
	ck_assert_mem_eq(st.hash.key + 16, (uint8_t[24]){ 0 }, 24);
}
END_TEST

START_TEST(mq_rss_config_without_mq)
{
	uint8_t p[RSS_BUF];
	size_t n = rss_config(p, NET_HASH_TYPES_ALL, 8, 0, PAIRS, 40);

	/* RSS alone also opens the max_virtqueue_pairs queues. */
	drop_feature(VIRTIO_NET_F_MQ);
	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	ck_assert_uint_eq(st.curr_queue_pairs, PAIRS);
}
END_TEST

START_TEST(mq_rss_config_bad_values)
{
	uint8_t p[RSS_BUF];
	size_t n;

	n = rss_config(p, 1u << 9, 8, 0, 2, 40);	/* unknown hash type */
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	n = rss_config(p, 1, 256, 0, 2, 40);		/* table too long */
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	n = rss_config(p, 1, 6, 0, 2, 40);		/* not a power of two */
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	n = rss_config(p, 1, 8, 0, 2, 41);		/* key too long */
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	n = rss_config(p, 1, 8, 0, 0, 40);		/* no queues */
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	n = rss_config(p, 1, 8, 0, PAIRS + 1, 40);	/* too many queues */
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	n = rss_config(p, 1, 8, 2, 2, 40);		/* unclassified queue */
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	n = rss_config(p, 1, 8, 0x8000, 2, 40);		/* reserved bit set */
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	n = rss_config(p, 1, 8, 0, 2, 40);
	put_le16(p + 8 + 2 * 5, 2);				/* table entry */
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
}
END_TEST

START_TEST(mq_rss_config_bad_length)
{
	uint8_t p[RSS_BUF];
	size_t n = rss_config(p, 1, 8, 0, 2, 40), len;

	for (len = 0; len < n; len++)
		err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, len);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n + 1);
	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
}
END_TEST

START_TEST(mq_rss_config_needs_rss)
{
	uint8_t p[RSS_BUF];
	size_t n = rss_config(p, 1, 8, 0, 2, 40);

	drop_feature(VIRTIO_NET_F_RSS);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
}
END_TEST

START_TEST(mq_last_command_wins)
{
	uint8_t p[RSS_BUF], v[2];
	size_t n = rss_config(p, NET_HASH_TYPES_ALL, 8, 0, 2, 40);

	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	put_le16(v, 4);
	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, v, 2);
	ck_assert_uint_eq(st.rss.enabled, 0);
	ck_assert_uint_eq(st.curr_queue_pairs, 4);
	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	ck_assert_uint_eq(st.rss.enabled, 1);
	ck_assert_uint_eq(st.curr_queue_pairs, 2);
}
END_TEST

static size_t hash_config(uint8_t *p, uint32_t types, uint8_t key_len)
{
	put_le32(p, types);
	memset(p + 4, 0, 8);
	p[12] = key_len;
	memcpy(p + 13, ms_key, key_len > 40 ? 40 : key_len);
	return 13 + key_len;
}

START_TEST(mq_hash_config)
{
	uint8_t p[128];
	size_t n = hash_config(p, VIRTIO_NET_RSS_HASH_TYPE_TCPv4, 40);

	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, p, n);
	ck_assert_uint_eq(st.hash.types, VIRTIO_NET_RSS_HASH_TYPE_TCPv4);
	ck_assert_mem_eq(st.hash.key, ms_key, 40);
	ck_assert_uint_eq(st.rss.enabled, 0);
	ck_assert_uint_eq(st.curr_queue_pairs, 1);
	/* Drivers have left RSS fields in the reserved words; ignored. */
	n = hash_config(p, VIRTIO_NET_RSS_HASH_TYPE_UDPv6, 20);
	memset(p + 4, 0xa5, 8);
	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, p, n);
	ck_assert_uint_eq(st.hash.types, VIRTIO_NET_RSS_HASH_TYPE_UDPv6);
	ck_assert_uint_eq(st.hash.key_len, 20);
	ck_assert_mem_eq(st.hash.key + 20, (uint8_t[20]){ 0 }, 20);
}
END_TEST

START_TEST(mq_hash_config_bad)
{
	uint8_t p[128];
	size_t n = hash_config(p, 1, 40), len;

	for (len = 0; len < n; len++)
		err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, p, len);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, p, n + 1);
	n = hash_config(p, 1, 41);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, p, n);
	n = hash_config(p, 1u << 12, 40);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, p, n);
	n = hash_config(p, 1, 40);
	drop_feature(VIRTIO_NET_F_HASH_REPORT);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, p, n);
}
END_TEST

START_TEST(rss_limits_follow_config)
{
	uint8_t p[RSS_BUF];
	size_t n;

	/* A device configured with smaller limits enforces them. */
	st.rss_max_table_len = 16;
	st.rss_max_key_size = 20;
	st.supported_hash_types = VIRTIO_NET_RSS_HASH_TYPE_IPv4;
	n = rss_config(p, 1, 32, 0, 2, 20);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	n = rss_config(p, 1, 16, 0, 2, 21);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	n = rss_config(p, 2, 16, 0, 2, 20);
	err(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
	n = rss_config(p, 1, 16, 0, 2, 20);
	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
}
END_TEST

/* ---- GUEST_OFFLOADS ---- */

START_TEST(guest_offloads_set)
{
	uint8_t v[8];

	put_le64(v, F(VIRTIO_NET_F_GUEST_CSUM));
	ok(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
	   v, 8);
	ck_assert_uint_eq(st.guest_offloads, F(VIRTIO_NET_F_GUEST_CSUM));
	ck_assert_uint_eq(rep.effects, NET_CTRL_FX_OFFLOADS);
	put_le64(v, 0);
	ok(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
	   v, 8);
	ck_assert_uint_eq(st.guest_offloads, 0);
}
END_TEST

START_TEST(guest_offloads_bad)
{
	uint8_t v[9] = { 0 };

	/* UFO is an offload, but it was not negotiated. */
	put_le64(v, F(VIRTIO_NET_F_GUEST_UFO));
	err(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
	    v, 8);
	/* MQ was negotiated, but it is not an offload. */
	put_le64(v, F(VIRTIO_NET_F_MQ));
	err(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
	    v, 8);
	put_le64(v, 1ULL << 63);
	err(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
	    v, 8);
	put_le64(v, 0);
	err(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
	    v, 4);
	err(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
	    v, 9);
	drop_feature(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
	err(VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
	    v, 8);
}
END_TEST

/* ---- NOTF_COAL ---- */

static void coal_set(uint8_t c, uint32_t pkts, uint32_t usecs)
{
	uint8_t v[8];

	put_le32(v, pkts);
	put_le32(v + 4, usecs);
	ok(VIRTIO_NET_CTRL_NOTF_COAL, c, v, 8);
	ck_assert_uint_eq(rep.effects, NET_CTRL_FX_COAL);
}

static void coal_vq_set(uint16_t vq, uint32_t pkts, uint32_t usecs)
{
	uint8_t v[12];

	put_le16(v, vq);
	put_le16(v + 2, 0xffff);	/* reserved: ignored */
	put_le32(v + 4, pkts);
	put_le32(v + 8, usecs);
	ok(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET, v, 12);
}

static void coal_vq_get(uint16_t vq, uint32_t pkts, uint32_t usecs)
{
	uint8_t v[4] = { 0 };

	put_le16(v, vq);
	ok(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_GET, v, 4);
	ck_assert_uint_eq(rep.len, 8);
	ck_assert_uint_eq(rd64(out) & 0xffffffff, pkts);
	ck_assert_uint_eq(rd64(out) >> 32, usecs);
	ck_assert_uint_eq(out[8], 0xee);
}

START_TEST(coal_tx_rx_set)
{
	coal_set(VIRTIO_NET_CTRL_NOTF_COAL_TX_SET, 32, 100);
	ck_assert_uint_eq(st.coal_tx.max_packets, 32);
	ck_assert_uint_eq(st.coal_tx.max_usecs, 100);
	coal_set(VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 8, 50);
	ck_assert_uint_eq(st.coal_rx.max_packets, 8);
	ck_assert_uint_eq(st.coal_rx.max_usecs, 50);
	ck_assert_uint_eq(st.coal_vq[0].max_packets, 8);
	ck_assert_uint_eq(st.coal_vq[1].max_packets, 32);
	ck_assert_uint_eq(st.coal_vq[2 * PAIRS - 1].max_usecs, 100);
}
END_TEST

/* The six-command example of the spec's "Notifications Coalescing". */
START_TEST(coal_spec_example)
{
	coal_set(VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, 10, 11);
	coal_vq_set(0, 20, 21);
	coal_vq_get(0, 20, 21);
	coal_vq_get(2, 10, 11);
	coal_vq_set(1, 30, 31);
	coal_set(VIRTIO_NET_CTRL_NOTF_COAL_TX_SET, 40, 41);
	coal_vq_get(1, 40, 41);
	coal_vq_get(3, 40, 41);
	coal_vq_get(0, 20, 21);
}
END_TEST

START_TEST(coal_vq_reenable)
{
	coal_set(VIRTIO_NET_CTRL_NOTF_COAL_TX_SET, 4, 5);
	coal_vq_set(1, 7, 7);
	coal_vq_set(2, 7, 7);
	net_state_coal_vq_reenable(&st, 1);
	net_state_coal_vq_reenable(&st, 2);
	net_state_coal_vq_reenable(&st, 9999);
	ck_assert_uint_eq(st.coal_vq[1].max_packets, 4);
	ck_assert_uint_eq(st.coal_vq[2].max_packets, 0);
}
END_TEST

START_TEST(coal_bad)
{
	uint8_t v[13] = { 0 };

	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_TX_SET, v, 7);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, v, 9);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET, v, 8);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET, v, 13);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_GET, v, 12);
	/* The control queue and queues past the last pair are not data vqs. */
	put_le16(v, 2 * PAIRS);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET, v, 12);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_GET, v, 4);
	put_le16(v, 0xffff);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET, v, 12);
	/* Without MQ or RSS only the first pair exists. */
	drop_feature(VIRTIO_NET_F_MQ);
	drop_feature(VIRTIO_NET_F_RSS);
	put_le16(v, 2);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET, v, 12);
	put_le16(v, 1);
	ok(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET, v, 12);
}
END_TEST

START_TEST(coal_vq_get_needs_room)
{
	uint8_t v[4] = { 0 };

	out_cap = 7;
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_GET, v, 4);
	ck_assert_uint_eq(net_ctrl_handle(&st, (uint8_t[6]){ 6, 3, 0, 0, 0, 0 },
					  6, NULL, 64, &rep), VIRTIO_NET_ERR);
}
END_TEST

START_TEST(coal_features)
{
	uint8_t v[12] = { 0 };

	drop_feature(VIRTIO_NET_F_NOTF_COAL);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_TX_SET, v, 8);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, v, 8);
	ok(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET, v, 12);
	drop_feature(VIRTIO_NET_F_VQ_NOTF_COAL);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET, v, 12);
	err(VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_GET, v, 4);
}
END_TEST

/* ---- STATS ---- */

START_TEST(stats_query)
{
	uint64_t caps;

	ok(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_QUERY, NULL, 0);
	ck_assert_uint_eq(rep.len, 8);
	caps = rd64(out);
	ck_assert_uint_eq(caps, net_ctrl_stats_caps(&st));
	ck_assert(caps & VIRTIO_NET_STATS_TYPE_CVQ);
	ck_assert(caps & VIRTIO_NET_STATS_TYPE_RX_BASIC);
	ck_assert(caps & VIRTIO_NET_STATS_TYPE_TX_BASIC);
	ck_assert(caps & VIRTIO_NET_STATS_TYPE_RX_CSUM);
	ck_assert(caps & VIRTIO_NET_STATS_TYPE_TX_CSUM);
	ck_assert(caps & VIRTIO_NET_STATS_TYPE_RX_GSO);
	/* No HOST_TSO or HOST_USO negotiated. */
	ck_assert(!(caps & VIRTIO_NET_STATS_TYPE_TX_GSO));
	ck_assert_uint_eq(rep.effects, 0);
}
END_TEST

START_TEST(stats_caps_follow_features)
{
	drop_feature(VIRTIO_NET_F_GUEST_CSUM);
	drop_feature(VIRTIO_NET_F_CSUM);
	ck_assert(!(net_ctrl_stats_caps(&st) &
		    (VIRTIO_NET_STATS_TYPE_RX_CSUM | VIRTIO_NET_STATS_TYPE_TX_CSUM)));
	net_state_set_features(&st, st.features | F(VIRTIO_NET_F_HOST_USO));
	ck_assert(net_ctrl_stats_caps(&st) & VIRTIO_NET_STATS_TYPE_TX_GSO);
	drop_feature(VIRTIO_NET_F_DEVICE_STATS);
	ck_assert_uint_eq(net_ctrl_stats_caps(&st), 0);
}
END_TEST

START_TEST(stats_query_bad)
{
	uint8_t b = 0;

	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_QUERY, &b, 1);
	out_cap = 7;
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_QUERY, NULL, 0);
	out_cap = sizeof(out);
	drop_feature(VIRTIO_NET_F_DEVICE_STATS);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_QUERY, NULL, 0);
}
END_TEST

static size_t stats_req(uint8_t *p, size_t off, uint16_t vq, uint64_t types)
{
	memset(p + off, 0, 16);
	put_le16(p + off, vq);
	put_le64(p + off + 8, types);
	return off + 16;
}

START_TEST(stats_get_rx_basic)
{
	uint8_t p[16];

	st.rxq_stats[1].notifications = 1;
	st.rxq_stats[1].packets = 2;
	st.rxq_stats[1].bytes = 3;
	st.rxq_stats[1].interrupts = 4;
	st.rxq_stats[1].drops = 5;
	st.rxq_stats[1].drop_overruns = 0x1122334455667788ULL;
	stats_req(p, 0, 2, VIRTIO_NET_STATS_TYPE_RX_BASIC);
	ok(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
	ck_assert_uint_eq(rep.len, 56);
	ck_assert_uint_eq(out[0], VIRTIO_NET_STATS_TYPE_REPLY_RX_BASIC);
	ck_assert_uint_eq(out[1], 0);
	ck_assert_uint_eq(rd16(out + 2), 2);
	ck_assert_uint_eq(rd16(out + 4), 0);
	ck_assert_uint_eq(rd16(out + 6), 56);
	for (int i = 0; i < 5; i++)
		ck_assert_uint_eq(rd64(out + 8 + 8 * i), i + 1);
	ck_assert_uint_eq(rd64(out + 48), 0x1122334455667788ULL);
	ck_assert_uint_eq(out[56], 0xee);
}
END_TEST

START_TEST(stats_get_cvq_counts_itself)
{
	uint8_t p[16], b = 0;

	ok(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &b, 1);
	err(VIRTIO_NET_CTRL_RX, 77, &b, 1);
	stats_req(p, 0, 2 * PAIRS, VIRTIO_NET_STATS_TYPE_CVQ);
	ok(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
	ck_assert_uint_eq(rep.len, 24);
	ck_assert_uint_eq(out[0], VIRTIO_NET_STATS_TYPE_REPLY_CVQ);
	ck_assert_uint_eq(rd16(out + 2), 2 * PAIRS);
	ck_assert_uint_eq(rd16(out + 6), 24);
	ck_assert_uint_eq(rd64(out + 8), 3);	/* command_num */
	ck_assert_uint_eq(rd64(out + 16), 2);	/* ok_num */
	ck_assert_uint_eq(st.cvq_stats.ok_num, 2);
}
END_TEST

/*
 * The header allows out == NULL with out_cap == 0: a GET then answers OK
 * with no replies, without forming a pointer from NULL (UBSan caught
 * NULL + 0 in the reply writer).
 */
START_TEST(stats_get_null_out)
{
	uint8_t buf[2 + 16] = { VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET };

	stats_req(buf, 2, 2, VIRTIO_NET_STATS_TYPE_RX_BASIC);
	ck_assert_uint_eq(net_ctrl_handle(&st, buf, sizeof(buf), NULL, 0, &rep),
			  VIRTIO_NET_OK);
	ck_assert_uint_eq(rep.len, 0);
	/* And with a buffer too small for one reply, none is written. */
	memset(out, 0xee, sizeof(out));
	ck_assert_uint_eq(net_ctrl_handle(&st, buf, sizeof(buf), out, 8, &rep),
			  VIRTIO_NET_OK);
	ck_assert_uint_eq(rep.len, 0);
	ck_assert_uint_eq(out[0], 0xee);
}
END_TEST

START_TEST(stats_get_many)
{
	uint8_t p[48];
	size_t n = 0, off = 0;

	st.txq_stats[0].packets = 42;
	st.txq_stats[0].needs_csum = 43;
	st.rxq_stats[3].csum_bad = 44;
	n = stats_req(p, n, 1, VIRTIO_NET_STATS_TYPE_TX_CSUM |
		      VIRTIO_NET_STATS_TYPE_TX_BASIC);
	n = stats_req(p, n, 6, VIRTIO_NET_STATS_TYPE_RX_CSUM |
		      VIRTIO_NET_STATS_TYPE_RX_GSO | VIRTIO_NET_STATS_TYPE_RX_SPEED);
	n = stats_req(p, n, 0, 0);
	ok(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, n);
	/* Request order, and within a request ascending type. */
	ck_assert_uint_eq(out[off], VIRTIO_NET_STATS_TYPE_REPLY_TX_BASIC);
	ck_assert_uint_eq(rd64(out + off + 16), 42);
	off += rd16(out + off + 6);
	ck_assert_uint_eq(out[off], VIRTIO_NET_STATS_TYPE_REPLY_TX_CSUM);
	ck_assert_uint_eq(rd16(out + off + 6), 24);
	ck_assert_uint_eq(rd64(out + off + 16), 43);
	off += 24;
	ck_assert_uint_eq(out[off], VIRTIO_NET_STATS_TYPE_REPLY_RX_CSUM);
	ck_assert_uint_eq(rd16(out + off + 2), 6);
	ck_assert_uint_eq(rd64(out + off + 32), 44);
	off += rd16(out + off + 6);
	ck_assert_uint_eq(out[off], VIRTIO_NET_STATS_TYPE_REPLY_RX_GSO);
	off += rd16(out + off + 6);
	ck_assert_uint_eq(out[off], VIRTIO_NET_STATS_TYPE_REPLY_RX_SPEED);
	ck_assert_uint_eq(rd16(out + off + 6), 24);
	off += 24;
	ck_assert_uint_eq(rep.len, off);
	ck_assert_uint_eq(rep.len, 56 + 24 + 40 + 40 + 24);
}
END_TEST

START_TEST(stats_get_truncates_whole_replies)
{
	uint8_t p[32];
	size_t n = stats_req(p, 0, 0, VIRTIO_NET_STATS_TYPE_RX_BASIC);

	n = stats_req(p, n, 1, VIRTIO_NET_STATS_TYPE_TX_BASIC);
	out_cap = 56 + 55;
	ok(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, n);
	ck_assert_uint_eq(rep.len, 56);
	ck_assert_uint_eq(out[56], 0xee);
	out_cap = 0;
	ok(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, n);
	ck_assert_uint_eq(rep.len, 0);
}
END_TEST

START_TEST(stats_get_bad)
{
	uint8_t p[40] = { 0 };
	size_t n;

	/* Wrong-kind types, unknown types, out of range queues. */
	stats_req(p, 0, 0, VIRTIO_NET_STATS_TYPE_TX_BASIC);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
	stats_req(p, 0, 1, VIRTIO_NET_STATS_TYPE_RX_BASIC);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
	stats_req(p, 0, 2 * PAIRS, VIRTIO_NET_STATS_TYPE_RX_BASIC);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
	stats_req(p, 0, 0, VIRTIO_NET_STATS_TYPE_CVQ);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
	stats_req(p, 0, 0, 1ULL << 4);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
	stats_req(p, 0, 2 * PAIRS + 1, VIRTIO_NET_STATS_TYPE_TX_BASIC);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
	/* Type whose feature is off (TX_GSO needs HOST_TSO/USO). */
	stats_req(p, 0, 1, VIRTIO_NET_STATS_TYPE_TX_GSO);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
	/* One bad entry after a good one fails the whole command. */
	n = stats_req(p, 0, 0, VIRTIO_NET_STATS_TYPE_RX_BASIC);
	n = stats_req(p, n, 99, VIRTIO_NET_STATS_TYPE_RX_BASIC);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, n);
	ck_assert_uint_eq(out[0], 0xee);
	/* Not a whole number of entries. */
	stats_req(p, 0, 0, VIRTIO_NET_STATS_TYPE_RX_BASIC);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 15);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 17);
	drop_feature(VIRTIO_NET_F_DEVICE_STATS);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
}
END_TEST

START_TEST(stats_get_single_pair)
{
	uint8_t p[16];

	/* Without MQ/RSS the control queue is vq 2. */
	drop_feature(VIRTIO_NET_F_MQ);
	drop_feature(VIRTIO_NET_F_RSS);
	stats_req(p, 0, 2, VIRTIO_NET_STATS_TYPE_CVQ);
	ok(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
	stats_req(p, 0, 3, VIRTIO_NET_STATS_TYPE_TX_BASIC);
	err(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, p, 16);
}
END_TEST

/* ---- robustness ---- */

/*
 * Random commands, biased towards real classes and sane lengths: never a
 * crash, never a write past the result room, never a change on ERR.
 */
/* ---- restored state: net_state_check() ---- */

/* A busy state: MAC tables, RSS over 3 of 4 pairs with a full key. */
static void busy_state(void)
{
	static uint8_t p[4096];
	size_t n = mac_tables(p, 2, 3);

	ok(VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n);
	n = rss_config(p, NET_HASH_TYPES_ALL, 128, 2, 3, 40);
	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, p, n);
}

static int check_state(char *why, size_t len)
{
	struct net_state cur;

	net_state_init(&cur, perm_mac, PAIRS);
	return net_state_check(&st, &cur, ALL_FEATURES, why, len);
}

START_TEST(state_check_accepts_reachable)
{
	char why[160] = "";

	ck_assert_msg(!check_state(why, sizeof(why)), "%s", why);
	busy_state();
	ck_assert_msg(!check_state(why, sizeof(why)), "%s", why);
	/* Hash only and fewer pairs after RSS: the old table stays, disabled. */
	ok(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, (uint8_t[]){ 1, 0 }, 2);
	ck_assert_msg(!check_state(why, sizeof(why)), "%s", why);
	net_state_reset(&st);
	ck_assert_msg(!check_state(why, sizeof(why)), "%s", why);
}
END_TEST

START_TEST(state_check_refuses_corrupt)
{
	static const struct {
		size_t off, size;
		uint64_t val;
		const char *msg;
	} bad[] = {
#define AT(field) offsetof(struct net_state, field), sizeof(((struct net_state *)0)->field)
		{ AT(uni.count), 65, "uni.count = 65, the table has 64 entries" },
		{ AT(uni.count), 1, "uni: addresses beyond count 1" },
		{ AT(multi.overflow), 2, "multi.overflow = 2, not 0 or 1" },
		{ AT(multi.overflow), 1, "multi.count = 3 with overflow set" },
		{ AT(rss.table_mask), 200, "rss.table_mask = 200" },
		{ AT(rss.table_mask), 5, "rss.table_mask = 5" },
		{ AT(rss.table[3]), 3, "rss.table[3] = 3, not below 3" },
		{ AT(rss.max_tx_vq), 5, "rss.max_tx_vq = 5, not 1..4" },
		{ AT(rss.max_tx_vq), 0, "rss.max_tx_vq = 0, not 1..4" },
		{ AT(rss.unclassified_queue), 3, "rss.unclassified_queue = 3, not below 3" },
		{ AT(rss.enabled), 7, "rss.enabled = 7" },
		{ AT(curr_queue_pairs), 0, "curr_queue_pairs = 0, not 1..4" },
		{ AT(curr_queue_pairs), 5, "curr_queue_pairs = 5, not 1..4" },
		{ AT(max_queue_pairs), 17, "the source NIC has another MAC, queue count" },
		{ AT(mtu), 9000, "the source NIC has another MAC, queue count, MTU" },
		{ AT(rss_max_table_len), 4096, "the source NIC has another" },
		{ AT(hash.key_len), 41, "hash.key_len = 41, the key has at most 40 bytes" },
		{ AT(hash.types), 1u << 31, "hash.types = 0x80000000" },
		{ AT(promisc), 2, "promisc = 2, not 0 or 1" },
		{ AT(nobcast), 134, "nobcast = 134, not 0 or 1" },
		{ AT(status), 4, "status = 0x4 has unknown bits" },
		{ AT(features), 1ULL << 63, "features 0x8000000000000000 were not offered" },
#undef AT
	};
	struct net_state good;
	char why[160];
	unsigned int i;

	busy_state();
	good = st;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = good;
		memcpy((uint8_t *)&st + bad[i].off, &bad[i].val, bad[i].size);
		why[0] = 0;
		ck_assert_int_eq(check_state(why, sizeof(why)), -1);
		ck_assert_msg(strstr(why, bad[i].msg), "case %u: \"%s\" lacks \"%s\"", i, why,
			      bad[i].msg);
	}
	/* Beyond the key length, and an offload that was not negotiated. */
	st = good;
	st.hash.key_len = 10;
	ck_assert_int_eq(check_state(why, sizeof(why)), -1);
	ck_assert_str_eq(why, "hash.key: bytes beyond key_len 10");
	st = good;
	net_state_set_features(&st, st.features & ~F(VIRTIO_NET_F_GUEST_TSO4));
	st.guest_offloads |= F(VIRTIO_NET_F_GUEST_TSO4);
	ck_assert_int_eq(check_state(why, sizeof(why)), -1);
	ck_assert(strstr(why, "guest_offloads"));
}
END_TEST

START_TEST(fuzz_commands)
{
	static uint8_t buf[600], guard[1024];
	unsigned int seed = 12345;
	int i;

	for (i = 0; i < 100000; i++) {
		size_t len = rand_r(&seed) % (i & 1 ? 24 : sizeof(buf));
		size_t cap = rand_r(&seed) % 128;
		struct net_ctrl_reply r;
		uint8_t ack;

		for (size_t j = 0; j < len; j++)
			buf[j] = rand_r(&seed);
		if (len > 0)
			buf[0] %= 10;
		if (len > 1)
			buf[1] %= 5;
		if (i % 1000 == 0)
			setup();
		memcpy(&before, &st, sizeof(st));
		memset(guard, 0x5a, sizeof(guard));
		ack = net_ctrl_handle(&st, buf, len, guard, cap, &r);
		ck_assert(ack == VIRTIO_NET_OK || ack == VIRTIO_NET_ERR);
		ck_assert_uint_le(r.len, cap);
		for (size_t j = cap; j < sizeof(guard); j++)
			if (guard[j] != 0x5a)
				ck_abort_msg("wrote past the result room");
		if (ack == VIRTIO_NET_ERR) {
			before.cvq_stats = st.cvq_stats;
			ck_assert(!memcmp(&st, &before, sizeof(st)));
		}
		/* Invariants the receive path relies on. */
		ck_assert_uint_ge(st.curr_queue_pairs, 1);
		ck_assert_uint_le(st.curr_queue_pairs, net_state_max_pairs(&st));
		ck_assert_uint_le(st.uni.count, NET_MAC_TABLE_ENTRIES);
		ck_assert_uint_le(st.hash.key_len, NET_RSS_MAX_KEY);
		ck_assert_uint_lt(st.rss.table_mask, NET_RSS_MAX_TABLE);
		/* Whatever commands did, the state restores. */
		ck_assert(!check_state((char[160]){ 0 }, 160));
	}
}
END_TEST

/*
 * A moved device's counters: a source device's STATS_GET reply added into
 * a state (what travels), then that state added into a fresh device's
 * reply, comes out as the sum; CVQ replies are left alone; a reply whose
 * size runs past the result ends the walk with nothing changed beyond it.
 */
START_TEST(stats_carried_across_a_move)
{
	static struct net_state carried, fresh;
	uint8_t q[2 + 16], res[256];
	size_t n, len;

	st.rxq_stats[0].packets = 10;
	st.rxq_stats[0].bytes = 640;
	st.txq_stats[0].packets = 7;
	/* The source device's counters, read by query, into what travels. */
	carried = st;
	memset(carried.rxq_stats, 0, sizeof(carried.rxq_stats));
	memset(carried.txq_stats, 0, sizeof(carried.txq_stats));
	for (uint16_t vq = 0; vq < 2; vq++) {
		n = net_ctrl_stats_query(&st, vq, q, sizeof(q));
		ck_assert_uint_eq(n, 18);
		ck_assert_uint_eq(net_ctrl_handle(&st, q, n, res, sizeof(res), &rep), VIRTIO_NET_OK);
		net_ctrl_stats_merge(&carried, res, rep.len, false);
	}
	ck_assert_uint_eq(carried.rxq_stats[0].packets, 10);
	ck_assert_uint_eq(carried.rxq_stats[0].bytes, 640);
	ck_assert_uint_eq(carried.txq_stats[0].packets, 7);
	/* No query for the CVQ, nor past it, nor into a short buffer. */
	ck_assert_uint_eq(net_ctrl_stats_query(&st, 2 * PAIRS, q, sizeof(q)), 0);
	ck_assert_uint_eq(net_ctrl_stats_query(&st, 2 * PAIRS + 1, q, sizeof(q)), 0);
	ck_assert_uint_eq(net_ctrl_stats_query(&st, 0, q, 17), 0);

	/* The destination's fresh device counted 3 more: its reply says 13. */
	fresh = st;
	memset(fresh.rxq_stats, 0, sizeof(fresh.rxq_stats));
	memset(fresh.txq_stats, 0, sizeof(fresh.txq_stats));
	fresh.rxq_stats[0].packets = 3;
	n = net_ctrl_stats_query(&fresh, 0, q, sizeof(q));
	ck_assert_uint_eq(net_ctrl_handle(&fresh, q, n, res, sizeof(res), &rep), VIRTIO_NET_OK);
	len = rep.len;
	net_ctrl_stats_merge(&carried, res, len, true);
	ck_assert_uint_eq(res[0], VIRTIO_NET_STATS_TYPE_REPLY_RX_BASIC);
	ck_assert_uint_eq(rd64(res + 8 + 8), 13);
	ck_assert_uint_eq(rd64(res + 8 + 16), 640);

	/* A reply claiming more than there is: left as it is. */
	res[6] = 0xff;
	res[7] = 0x7f;
	net_ctrl_stats_merge(&carried, res, len, true);
	ck_assert_uint_eq(rd64(res + 8 + 8), 13);

	/* State to state: the counters add. */
	net_state_stats_add(&fresh, &carried);
	ck_assert_uint_eq(fresh.rxq_stats[0].packets, 13);
	ck_assert_uint_eq(fresh.rxq_stats[0].bytes, 640);
	ck_assert_uint_eq(fresh.txq_stats[0].packets, 7);
}
END_TEST

static Suite *net_ctrl_suite(void)
{
	Suite *s = suite_create("net_ctrl");

	vlab_tcase(s, "state", setup, NULL, 0, VLAB_TESTS(
		init_defaults, init_clamps_pairs, reset_restores_everything,
		reset_keeps_link_state, features_enable_offloads,
		max_pairs_needs_mq_or_rss, fill_config_layout));

	vlab_tcase(s, "general", setup, NULL, 0, VLAB_TESTS(
		short_or_null_commands, unknown_class_and_command,
		everything_needs_ctrl_vq, counts_commands));

	vlab_tcase(s, "rx", setup, NULL, 0, VLAB_TESTS(
		rx_modes_toggle, rx_any_nonzero_is_on, rx_bad_length, rx_needs_ctrl_rx,
		rx_extra_needs_rx_extra));

	vlab_tcase(s, "mac", setup, NULL, 0, VLAB_TESTS(
		mac_table_set, mac_table_full_fits, mac_table_overflow,
		mac_table_malformed, mac_table_needs_ctrl_rx, mac_addr_set,
		mac_addr_set_bad, mac_addr_set_feature));

	vlab_tcase(s, "vlan_announce", setup, NULL, 0, VLAB_TESTS(
		vlan_add_del, vlan_bad, announce_ack, announce_bad,
		announce_needs_features));

	vlab_tcase(s, "mq", setup, NULL, 0, VLAB_TESTS(
		mq_pairs_set, mq_pairs_set_bad, mq_rss_config, mq_rss_config_small,
		mq_rss_config_without_mq, mq_rss_config_bad_values,
		mq_rss_config_bad_length, mq_rss_config_needs_rss, mq_last_command_wins,
		mq_hash_config, mq_hash_config_bad, rss_limits_follow_config));

	vlab_tcase(s, "offloads_coal", setup, NULL, 0, VLAB_TESTS(
		guest_offloads_set, guest_offloads_bad, coal_tx_rx_set, coal_spec_example,
		coal_vq_reenable, coal_bad, coal_vq_get_needs_room, coal_features));

	vlab_tcase(s, "stats", setup, NULL, 0, VLAB_TESTS(
		stats_query, stats_caps_follow_features, stats_query_bad,
		stats_get_rx_basic, stats_get_cvq_counts_itself, stats_get_many,
		stats_get_null_out, stats_get_truncates_whole_replies, stats_get_bad,
		stats_get_single_pair, stats_carried_across_a_move));

	vlab_tcase(s, "restore", setup, NULL, 0, VLAB_TESTS(
		state_check_accepts_reachable, state_check_refuses_corrupt));

	vlab_tcase(s, "robustness", setup, NULL, 60, VLAB_TESTS(fuzz_commands));
	return s;
}

VLAB_TEST_MAIN(net_ctrl_suite)
