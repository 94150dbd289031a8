// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "devices/net/net_replay.h"
#include "vmm/core/bytes.h"

struct replay {
	net_replay_fn emit;
	void *opaque;
	int n;
};

static int cmd(struct replay *r, uint8_t cls, uint8_t c, const void *data, size_t len)
{
	int e = r->emit(r->opaque, cls, c, data, len);

	if (e < 0)
		return e;
	r->n++;
	return 0;
}

static int replay_mac(const struct net_state *st, struct replay *r)
{
	if (!net_has_feature(st, VIRTIO_NET_F_CTRL_MAC_ADDR) ||
	    !memcmp(st->mac, st->perm_mac, sizeof(st->mac)))
		return 0;
	return cmd(r, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, st->mac, 6);
}

/* struct virtio_net_rss_config with @max_tx_vq, the table of @st (or one entry 0). */
static int rss_config(const struct net_state *st, struct replay *r, bool table,
		      uint16_t max_tx_vq)
{
	uint8_t b[8 + 2 * NET_RSS_MAX_TABLE + 3 + NET_RSS_MAX_KEY];
	uint16_t entries = table ? st->rss.table_mask + 1 : 1, i;
	size_t off;

	put_le32(b, st->hash.types);
	put_le16(b + 4, table ? st->rss.table_mask : 0);
	put_le16(b + 6, table ? st->rss.unclassified_queue : 0);
	for (i = 0; i < entries; i++)
		put_le16(b + 8 + 2 * i, table ? st->rss.table[i] : 0);
	off = 8 + 2 * entries;
	put_le16(b + off, max_tx_vq);
	b[off + 2] = st->hash.key_len;
	memcpy(b + off + 3, st->hash.key, st->hash.key_len);
	return cmd(r, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, b,
		   off + 3 + st->hash.key_len);
}

static int replay_mq(const struct net_state *st, struct replay *r)
{
	bool mq = net_has_feature(st, VIRTIO_NET_F_MQ);
	bool rss = net_has_feature(st, VIRTIO_NET_F_RSS);
	uint8_t b[13 + NET_RSS_MAX_KEY];
	int e;

	if (rss && st->rss.enabled)
		return rss_config(st, r, true, st->rss.max_tx_vq);
	/* Pairs without MQ: only RSS could have set them (then hash took over). */
	if (st->curr_queue_pairs != 1 && !mq && rss) {
		e = rss_config(st, r, false, st->curr_queue_pairs);
		if (e)
			return e;
	}
	if (net_has_feature(st, VIRTIO_NET_F_HASH_REPORT) && (st->hash.types || st->hash.key_len)) {
		memset(b, 0, sizeof(b));
		put_le32(b, st->hash.types);
		b[12] = st->hash.key_len;
		memcpy(b + 13, st->hash.key, st->hash.key_len);
		e = cmd(r, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_HASH_CONFIG, b,
			13 + st->hash.key_len);
		if (e)
			return e;
	}
	if (st->curr_queue_pairs != 1 && mq) {
		put_le16(b, st->curr_queue_pairs);
		return cmd(r, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, b, 2);
	}
	return 0;
}

static int replay_offloads(const struct net_state *st, struct replay *r)
{
	uint8_t b[8];

	if (!net_has_feature(st, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) ||
	    st->guest_offloads == (st->features & NET_GUEST_OFFLOADS_MASK))
		return 0;
	put_le64(b, st->guest_offloads);
	return cmd(r, VIRTIO_NET_CTRL_GUEST_OFFLOADS, VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, b, 8);
}

static int replay_rx(const struct net_state *st, struct replay *r)
{
	/* Reset defaults: promiscuous on, the rest off. */
	const struct {
		uint8_t c, on, def;
		bool extra;
	} modes[] = {
		{ VIRTIO_NET_CTRL_RX_PROMISC, st->promisc, 1, false },
		{ VIRTIO_NET_CTRL_RX_ALLMULTI, st->allmulti, 0, false },
		{ VIRTIO_NET_CTRL_RX_ALLUNI, st->alluni, 0, true },
		{ VIRTIO_NET_CTRL_RX_NOMULTI, st->nomulti, 0, true },
		{ VIRTIO_NET_CTRL_RX_NOUNI, st->nouni, 0, true },
		{ VIRTIO_NET_CTRL_RX_NOBCAST, st->nobcast, 0, true },
	};
	unsigned int i;
	int e;

	if (!net_has_feature(st, VIRTIO_NET_F_CTRL_RX))
		return 0;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (modes[i].on == modes[i].def ||
		    (modes[i].extra && !net_has_feature(st, VIRTIO_NET_F_CTRL_RX_EXTRA)))
			continue;
		e = cmd(r, VIRTIO_NET_CTRL_RX, modes[i].c, &modes[i].on, 1);
		if (e)
			return e;
	}
	return 0;
}

/* One table as TABLE_SET carries it; an overflowed one as one entry too many. */
static size_t put_table(uint8_t *b, const struct net_mac_table *t)
{
	uint32_t n = t->overflow ? NET_MAC_TABLE_ENTRIES + 1 : t->count;

	put_le32(b, n);
	if (t->overflow)
		memset(b + 4, 0, 6 * n);
	else
		memcpy(b + 4, t->macs, 6 * n);
	return 4 + 6 * n;
}

static int replay_mac_tables(const struct net_state *st, struct replay *r)
{
	uint8_t b[2 * (4 + 6 * (NET_MAC_TABLE_ENTRIES + 1))];
	size_t len;

	if (!net_has_feature(st, VIRTIO_NET_F_CTRL_RX) ||
	    (!st->uni.count && !st->uni.overflow && !st->multi.count && !st->multi.overflow))
		return 0;
	len = put_table(b, &st->uni);
	len += put_table(b + len, &st->multi);
	return cmd(r, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, b, len);
}

static int replay_vlans(const struct net_state *st, struct replay *r)
{
	uint8_t b[2];
	uint32_t vid;
	int e;

	if (!net_has_feature(st, VIRTIO_NET_F_CTRL_VLAN))
		return 0;
	for (vid = 0; vid < NET_VLAN_IDS; vid++) {
		if (!(st->vlans[vid / 32] & (1u << (vid % 32))))
			continue;
		put_le16(b, vid);
		e = cmd(r, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, b, 2);
		if (e)
			return e;
	}
	return 0;
}

static int coal_set(struct replay *r, uint8_t c, const struct net_coal *k)
{
	uint8_t b[8];

	put_le32(b, k->max_packets);
	put_le32(b + 4, k->max_usecs);
	return cmd(r, VIRTIO_NET_CTRL_NOTF_COAL, c, b, 8);
}

static int replay_coal(const struct net_state *st, struct replay *r)
{
	static const struct net_coal off;
	uint16_t vq, nvq = 2 * net_state_max_pairs(st);
	uint8_t b[12];
	int e = 0;

	if (!net_has_feature(st, VIRTIO_NET_F_NOTF_COAL))
		return 0;
	if (memcmp(&st->coal_tx, &off, sizeof(off)))
		e = coal_set(r, VIRTIO_NET_CTRL_NOTF_COAL_TX_SET, &st->coal_tx);
	if (!e && memcmp(&st->coal_rx, &off, sizeof(off)))
		e = coal_set(r, VIRTIO_NET_CTRL_NOTF_COAL_RX_SET, &st->coal_rx);
	if (e || !net_has_feature(st, VIRTIO_NET_F_VQ_NOTF_COAL))
		return e;
	/* Queues whose values differ from what the global commands gave them. */
	for (vq = 0; vq < nvq && vq < NET_MAX_DATA_VQS; vq++) {
		const struct net_coal *k = &st->coal_vq[vq];

		if (!memcmp(k, vq & 1 ? &st->coal_tx : &st->coal_rx, sizeof(*k)))
			continue;
		put_le16(b, vq);
		put_le16(b + 2, 0);
		put_le32(b + 4, k->max_packets);
		put_le32(b + 8, k->max_usecs);
		e = cmd(r, VIRTIO_NET_CTRL_NOTF_COAL, VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET, b, 12);
		if (e)
			return e;
	}
	return 0;
}

int net_replay(const struct net_state *st, net_replay_fn emit, void *opaque)
{
	struct replay r = { emit, opaque, 0 };
	int e = replay_mac(st, &r) ?: replay_mq(st, &r) ?: replay_offloads(st, &r) ?:
		replay_rx(st, &r) ?: replay_mac_tables(st, &r) ?: replay_vlans(st, &r) ?:
		replay_coal(st, &r);

	return e ? e : r.n;
}
