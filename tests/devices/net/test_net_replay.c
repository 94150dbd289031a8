// SPDX-License-Identifier: GPL-2.0
/*
 * The receive-side state as control-queue commands (devices/net/net_replay.c):
 * a state built by real commands, replayed into a freshly reset state
 * with the same features, comes out equal in everything a command sets;
 * every replayed command is accepted; a default state replays nothing;
 * and with only the features mlx5_vdpa offers, only its classes appear.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "devices/net/net_ctrl.h"
#include "devices/net/net_replay.h"
#include "vmm/core/bytes.h"

#define F(bit)		(1ULL << (bit))
#define ALL		(F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_RX) |			\
			 F(VIRTIO_NET_F_CTRL_RX_EXTRA) | F(VIRTIO_NET_F_CTRL_VLAN) |		\
			 F(VIRTIO_NET_F_CTRL_MAC_ADDR) | F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_RSS) | \
			 F(VIRTIO_NET_F_HASH_REPORT) | F(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) |	\
			 F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |		\
			 F(VIRTIO_NET_F_NOTF_COAL) | F(VIRTIO_NET_F_VQ_NOTF_COAL) |		\
			 F(VIRTIO_NET_F_STATUS) | F(VIRTIO_F_VERSION_1))
#define MLX5		(F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_CTRL_MAC_ADDR) |		\
			 F(VIRTIO_NET_F_MQ) | F(VIRTIO_NET_F_CTRL_VLAN) | F(VIRTIO_F_VERSION_1))

static const uint8_t mac0[6] = { 0x52, 0x54, 0, 0, 0, 1 };
static struct net_state a, b;
static unsigned int classes;		/* bit per class replayed */
static int replayed;

static void fresh(struct net_state *st, uint64_t features)
{
	net_state_init(st, mac0, 4);
	net_state_set_features(st, features);
}

static void send(struct net_state *st, uint8_t cls, uint8_t c, const void *data, size_t len)
{
	uint8_t buf[1024], out[64];

	buf[0] = cls;
	buf[1] = c;
	memcpy(buf + 2, data, len);
	ck_assert_msg(net_ctrl_handle(st, buf, len + 2, out, sizeof(out), NULL) == VIRTIO_NET_OK,
		      "class %u command %u refused", cls, c);
}

/* Apply each replayed command to b: every one must be accepted. */
static int apply(void *opaque, uint8_t cls, uint8_t c, const void *data, size_t len)
{
	send(&b, cls, c, data, len);
	classes |= 1u << cls;
	replayed++;
	return 0;
}

/* What a command can set must match; statistics and announcements are not replayed. */
static void ck_same(void)
{
	ck_assert_mem_eq(b.mac, a.mac, 6);
	ck_assert_uint_eq(b.curr_queue_pairs, a.curr_queue_pairs);
	ck_assert_uint_eq(b.promisc, a.promisc);
	ck_assert_uint_eq(b.allmulti, a.allmulti);
	ck_assert_uint_eq(b.alluni, a.alluni);
	ck_assert_uint_eq(b.nomulti, a.nomulti);
	ck_assert_uint_eq(b.nouni, a.nouni);
	ck_assert_uint_eq(b.nobcast, a.nobcast);
	ck_assert_mem_eq(&b.uni, &a.uni, sizeof(a.uni));
	ck_assert_mem_eq(&b.multi, &a.multi, sizeof(a.multi));
	ck_assert_mem_eq(b.vlans, a.vlans, sizeof(a.vlans));
	ck_assert_uint_eq(b.rss.enabled, a.rss.enabled);
	if (a.rss.enabled)
		ck_assert_mem_eq(&b.rss, &a.rss, sizeof(a.rss));
	ck_assert_mem_eq(&b.hash, &a.hash, sizeof(a.hash));
	ck_assert_uint_eq(b.guest_offloads, a.guest_offloads);
	ck_assert_mem_eq(&b.coal_tx, &a.coal_tx, sizeof(a.coal_tx));
	ck_assert_mem_eq(&b.coal_rx, &a.coal_rx, sizeof(a.coal_rx));
	ck_assert_mem_eq(b.coal_vq, a.coal_vq, sizeof(a.coal_vq));
}

static void replay_into_fresh(uint64_t features)
{
	fresh(&b, features);
	classes = 0;
	replayed = 0;
	ck_assert_int_eq(net_replay(&a, apply, NULL), replayed);
	ck_same();
}

START_TEST(defaults_replay_nothing)
{
	fresh(&a, ALL);
	replay_into_fresh(ALL);
	ck_assert_int_eq(replayed, 0);
}
END_TEST

/* Every class a driver can change, with RSS steering on. */
START_TEST(every_class)
{
	uint8_t mac[6] = { 0x52, 0x54, 0, 0xaa, 0xbb, 0xcc }, one = 1, zero = 0;
	uint8_t tables[4 + 2 * 6 + 4 + 6] = { 2, 0, 0, 0, 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2,
					      1, 0, 0, 0, 1, 0, 0x5e, 0, 0, 1 };
	uint8_t rss[8 + 2 * 4 + 3 + 4], coal[8], vqc[12], v[2], off[8];
	uint16_t vid;

	fresh(&a, ALL);
	send(&a, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6);
	put_le32(rss, VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4);
	put_le16(rss + 4, 3);
	put_le16(rss + 6, 1);
	put_le16(rss + 8, 0);
	put_le16(rss + 10, 1);
	put_le16(rss + 12, 2);
	put_le16(rss + 14, 0);
	put_le16(rss + 16, 3);
	rss[18] = 4;
	memcpy(rss + 19, "\x11\x22\x33\x44", 4);
	send(&a, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, rss, sizeof(rss));
	put_le64(off, F(VIRTIO_NET_F_GUEST_CSUM));
	send(&a, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, off, 8);
	send(&a, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &zero, 1);
	send(&a, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, &one, 1);
	send(&a, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST, &one, 1);
	send(&a, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables, sizeof(tables));
	for (vid = 1; vid < 4000; vid += 999) {
		put_le16(v, vid);
		send(&a, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 2);
	}
	put_le32(coal, 16);
	put_le32(coal + 4, 50);
	send(&a, VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_TX_SET, coal, 8);
	put_le32(coal, 8);
	send(&a, VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, coal, 8);
	put_le16(vqc, 2);
	put_le16(vqc + 2, 0);
	put_le32(vqc + 4, 64);
	put_le32(vqc + 8, 7);
	send(&a, VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET, vqc, 12);

	replay_into_fresh(ALL);
	ck_assert_uint_eq(classes, (1u << VIRTIO_NET_CTRL_RX) | (1u << VIRTIO_NET_CTRL_MAC) |
			  (1u << VIRTIO_NET_CTRL_VLAN) | (1u << VIRTIO_NET_CTRL_MQ) |
			  (1u << VIRTIO_NET_CTRL_GUEST_OFFLOADS) |
			  (1u << VIRTIO_NET_CTRL_NOTF_COAL));
	/* MAC, RSS, offloads, 3 RX modes, tables, 5 VLANs, TX, RX, one queue. */
	ck_assert_int_eq(replayed, 1 + 1 + 1 + 3 + 1 + 5 + 3);
}
END_TEST

/* Hash reporting without steering, queue pairs by VQ_PAIRS_SET, an overflowed table. */
START_TEST(hash_pairs_and_overflow)
{
	uint8_t hash[13 + 2] = { 0 }, pairs[2], tables[4 + 6 * 65 + 4];

	fresh(&a, ALL);
	put_le32(hash, VIRTIO_NET_RSS_HASH_TYPE_UDPv6);
	hash[12] = 2;
	hash[13] = 0xab;
	hash[14] = 0xcd;
	send(&a, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, hash, sizeof(hash));
	put_le16(pairs, 3);
	send(&a, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pairs, 2);
	memset(tables, 0, sizeof(tables));
	put_le32(tables, 65);
	send(&a, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, tables, sizeof(tables));
	ck_assert_uint_eq(a.uni.overflow, 1);
	replay_into_fresh(ALL);
	ck_assert_int_eq(replayed, 3);
}
END_TEST

/* With mlx5_vdpa's features a driver can only set MAC, pairs and VLANs: so is the replay. */
START_TEST(mlx5_subset)
{
	uint8_t mac[6] = { 0x52, 0x54, 0, 1, 2, 3 }, pairs[2], v[2];

	fresh(&a, MLX5);
	send(&a, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6);
	put_le16(pairs, 2);
	send(&a, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, pairs, 2);
	put_le16(v, 100);
	send(&a, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 2);
	replay_into_fresh(MLX5);
	ck_assert_uint_eq(classes, (1u << VIRTIO_NET_CTRL_MAC) | (1u << VIRTIO_NET_CTRL_MQ) |
			  (1u << VIRTIO_NET_CTRL_VLAN));
	ck_assert_int_eq(replayed, 3);
}
END_TEST

static int refuse_third(void *opaque, uint8_t cls, uint8_t c, const void *data, size_t len)
{
	return ++replayed == 3 ? -5 : 0;
}

/* The first error stops the replay and is returned. */
START_TEST(emit_error_stops)
{
	uint8_t v[2];
	uint16_t vid;

	fresh(&a, ALL);
	for (vid = 10; vid < 15; vid++) {
		put_le16(v, vid);
		send(&a, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, v, 2);
	}
	replayed = 0;
	ck_assert_int_eq(net_replay(&a, refuse_third, NULL), -5);
	ck_assert_int_eq(replayed, 3);
}
END_TEST

VLAB_SUITE_MAIN("net_replay", "replay", NULL, NULL, 0,
	defaults_replay_nothing, every_class, hash_pairs_and_overflow, mlx5_subset,
	emit_error_stops);
