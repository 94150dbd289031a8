// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net control virtqueue (virtio 1.3, "Control Virtqueue"): decode
 * a command, validate it completely, then apply it to struct net_state.
 * Validation comes first in every handler so that a rejected command
 * changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/net/net_ctrl.h"
#include "virtio/virtio.h"
#include "vmm/core/bytes.h"
#include "vmm/migrate/state.h"

/* Statistics a receiveq (vq 2i) and a transmitq (vq 2i + 1) may report. */
#define STATS_RX_TYPES (VIRTIO_NET_STATS_TYPE_RX_BASIC | VIRTIO_NET_STATS_TYPE_RX_CSUM | \
			VIRTIO_NET_STATS_TYPE_RX_GSO | VIRTIO_NET_STATS_TYPE_RX_SPEED)
#define STATS_TX_TYPES (VIRTIO_NET_STATS_TYPE_TX_BASIC | VIRTIO_NET_STATS_TYPE_TX_CSUM | \
			VIRTIO_NET_STATS_TYPE_TX_GSO | VIRTIO_NET_STATS_TYPE_TX_SPEED)

/* sizeof(struct virtio_net_stats_reply_hdr) and one entry of a GET. */
#define STATS_REPLY_HDR_LEN	8
#define STATS_QUERY_ENTRY_LEN	16
#define STATS_MAX_COUNTERS	6

struct ctrl_cmd {
	const uint8_t *data;	/* command-specific-data */
	size_t len;
	uint8_t *out;		/* command-specific-result */
	size_t out_cap;
	size_t out_len;
	unsigned int effects;
};







void net_state_init(struct net_state *st, const uint8_t mac[6],
		    uint16_t max_queue_pairs)
{
	memset(st, 0, sizeof(*st));
	memcpy(st->perm_mac, mac, sizeof(st->perm_mac));
	if (max_queue_pairs < 1)
		max_queue_pairs = 1;
	if (max_queue_pairs > NET_MAX_QUEUE_PAIRS)
		max_queue_pairs = NET_MAX_QUEUE_PAIRS;
	st->max_queue_pairs = max_queue_pairs;
	st->mtu = 1500;
	st->speed = UINT32_MAX;
	st->duplex = 0xff;
	st->rss_max_key_size = NET_RSS_MAX_KEY;
	st->rss_max_table_len = NET_RSS_MAX_TABLE;
	st->supported_hash_types = NET_HASH_TYPES_ALL;
	st->status = VIRTIO_NET_S_LINK_UP;
	net_state_reset(st);
}

void net_state_reset(struct net_state *st)
{
	st->features = 0;
	memcpy(st->mac, st->perm_mac, sizeof(st->mac));
	/* The link is the backend's business; only the request is dropped. */
	st->status &= ~VIRTIO_NET_S_ANNOUNCE;
	st->announce_rounds = 0;
	st->curr_queue_pairs = 1;

	/* Promiscuous, so that a driver without CTRL_RX receives everything. */
	st->promisc = 1;
	st->allmulti = 0;
	st->alluni = 0;
	st->nomulti = 0;
	st->nouni = 0;
	st->nobcast = 0;
	memset(&st->uni, 0, sizeof(st->uni));
	memset(&st->multi, 0, sizeof(st->multi));
	/* Empty; it only filters once CTRL_VLAN is negotiated. */
	memset(st->vlans, 0, sizeof(st->vlans));

	memset(&st->rss, 0, sizeof(st->rss));
	memset(&st->hash, 0, sizeof(st->hash));
	st->guest_offloads = 0;

	memset(&st->coal_tx, 0, sizeof(st->coal_tx));
	memset(&st->coal_rx, 0, sizeof(st->coal_rx));
	memset(st->coal_vq, 0, sizeof(st->coal_vq));

	memset(&st->cvq_stats, 0, sizeof(st->cvq_stats));
	memset(st->rxq_stats, 0, sizeof(st->rxq_stats));
	memset(st->txq_stats, 0, sizeof(st->txq_stats));
}

void net_state_set_features(struct net_state *st, uint64_t features)
{
	st->features = features;
	/* Negotiating an offload enables it (spec: backward compatibility). */
	st->guest_offloads = features & NET_GUEST_OFFLOADS_MASK;
}

uint16_t net_state_max_pairs(const struct net_state *st)
{
	uint16_t n = st->max_queue_pairs;

	if (!net_has_feature(st, VIRTIO_NET_F_MQ) &&
	    !net_has_feature(st, VIRTIO_NET_F_RSS))
		return 1;
	/* Clamped so that a corrupt restored state cannot index past arrays. */
	if (n < 1)
		return 1;
	return n > NET_MAX_QUEUE_PAIRS ? NET_MAX_QUEUE_PAIRS : n;
}

bool net_state_announce(struct net_state *st, uint8_t rounds)
{
	if (!rounds || !net_has_feature(st, VIRTIO_NET_F_GUEST_ANNOUNCE) ||
	    !net_has_feature(st, VIRTIO_NET_F_STATUS))
		return false;
	st->status |= VIRTIO_NET_S_ANNOUNCE;
	st->announce_rounds = rounds - 1;
	return true;
}

void net_state_coal_vq_reenable(struct net_state *st, uint16_t vq)
{
	if (vq >= NET_MAX_DATA_VQS)
		return;
	st->coal_vq[vq] = vq & 1 ? st->coal_tx : st->coal_rx;
}

void net_state_fill_config(const struct net_state *st,
			   struct virtio_net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->mac, st->mac, sizeof(cfg->mac));
	/* Little-endian as virtio 1.x defines it, whatever the host is. */
	put_le16((uint8_t *)&cfg->status, st->status);
	put_le16((uint8_t *)&cfg->max_virtqueue_pairs, st->max_queue_pairs);
	put_le16((uint8_t *)&cfg->mtu, st->mtu);
	put_le32((uint8_t *)&cfg->speed, st->speed);
	cfg->duplex = st->duplex;
	cfg->rss_max_key_size = st->rss_max_key_size;
	put_le16((uint8_t *)&cfg->rss_max_indirection_table_length,
		 st->rss_max_table_len);
	put_le32((uint8_t *)&cfg->supported_hash_types,
		 st->supported_hash_types);
}

#define bad(...) do { snprintf(why, whylen, __VA_ARGS__); return -1; } while (0)

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len--)
		if (*b++)
			return false;
	return true;
}

static int mac_table_check(const struct net_mac_table *t, const char *name, char *why,
			   size_t whylen)
{
	/* mac_table_store(): a list that did not fit is an empty table + overflow. */
	if (t->overflow > 1)
		bad("%s.overflow = %u, not 0 or 1", name, t->overflow);
	if (t->count > NET_MAC_TABLE_ENTRIES)
		bad("%s.count = %u, the table has %u entries", name, t->count,
		    NET_MAC_TABLE_ENTRIES);
	if (t->overflow && t->count)
		bad("%s.count = %u with overflow set", name, t->count);
	if (!all_zero((const uint8_t *)t->macs + (size_t)t->count * ETH_ALEN,
		      (size_t)(NET_MAC_TABLE_ENTRIES - t->count) * ETH_ALEN))
		bad("%s: addresses beyond count %u", name, t->count);
	return 0;
}

int net_state_check(const struct net_state *st, const struct net_state *cur,
		    uint64_t host_features, char *why, size_t whylen)
{
	const uint8_t *flags[] = { &st->promisc, &st->allmulti, &st->alluni, &st->nomulti,
				   &st->nouni, &st->nobcast };
	static const char *const flag_names[] = { "promisc", "allmulti", "alluni", "nomulti",
						  "nouni", "nobcast" };
	uint16_t pairs = st->max_queue_pairs, limit, i;
	uint8_t key_max;

	/* Identity and configuration are this device's (set up from --net). */
	if (memcmp(st->perm_mac, cur->perm_mac, ETH_ALEN) ||
	    st->max_queue_pairs != cur->max_queue_pairs || st->mtu != cur->mtu ||
	    st->speed != cur->speed || st->duplex != cur->duplex ||
	    st->rss_max_key_size != cur->rss_max_key_size ||
	    st->rss_max_table_len != cur->rss_max_table_len ||
	    st->supported_hash_types != cur->supported_hash_types)
		bad("the source NIC has another MAC, queue count, MTU or RSS limits");
	if (pairs < 1 || pairs > NET_MAX_QUEUE_PAIRS)
		bad("max_queue_pairs = %u, not 1..%u", pairs, NET_MAX_QUEUE_PAIRS);
	if (st->features & ~host_features)
		bad("features 0x%llx were not offered",
		    (unsigned long long)(st->features & ~host_features));
	if (st->status & ~(VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE))
		bad("status = 0x%x has unknown bits", st->status);
	/* VQ_PAIRS_SET and RSS_CONFIG keep it within the pairs that exist. */
	if (st->curr_queue_pairs < 1 || st->curr_queue_pairs > pairs)
		bad("curr_queue_pairs = %u, not 1..%u", st->curr_queue_pairs, pairs);

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (*flags[i] > 1)
			bad("%s = %u, not 0 or 1", flag_names[i], *flags[i]);
	if (mac_table_check(&st->uni, "uni", why, whylen) ||
	    mac_table_check(&st->multi, "multi", why, whylen))
		return -1;
	/* vlans: 4096 bits for 4096 IDs, every pattern is one the driver can set. */

	/* RSS_CONFIG: table_mask + 1 entries, a power of two within the limit. */
	if (st->rss.enabled > 1)
		bad("rss.enabled = %u, not 0 or 1", st->rss.enabled);
	if (st->rss.table_mask >= NET_RSS_MAX_TABLE ||
	    st->rss.table_mask >= st->rss_max_table_len ||
	    (st->rss.table_mask & (st->rss.table_mask + 1)))
		bad("rss.table_mask = %u: the table length is not a power of two up to %u",
		    st->rss.table_mask, st->rss_max_table_len < NET_RSS_MAX_TABLE ?
		    st->rss_max_table_len : NET_RSS_MAX_TABLE);
	if (st->rss.max_tx_vq > pairs || (st->rss.enabled && !st->rss.max_tx_vq))
		bad("rss.max_tx_vq = %u, not 1..%u", st->rss.max_tx_vq, pairs);
	limit = st->rss.max_tx_vq ? st->rss.max_tx_vq : 1;
	if (st->rss.unclassified_queue >= limit)
		bad("rss.unclassified_queue = %u, not below %u", st->rss.unclassified_queue,
		    limit);
	for (i = 0; i < NET_RSS_MAX_TABLE; i++) {
		if (i <= st->rss.table_mask && st->rss.table[i] >= limit)
			bad("rss.table[%u] = %u, not below %u", i, st->rss.table[i], limit);
		if (i > st->rss.table_mask && st->rss.table[i])
			bad("rss.table[%u] = %u, beyond the table length %u", i,
			    st->rss.table[i], st->rss.table_mask + 1);
	}

	key_max = st->rss_max_key_size < NET_RSS_MAX_KEY ? st->rss_max_key_size :
							   NET_RSS_MAX_KEY;
	if (st->hash.key_len > key_max)
		bad("hash.key_len = %u, the key has at most %u bytes", st->hash.key_len,
		    key_max);
	if (!all_zero(st->hash.key + st->hash.key_len, NET_RSS_MAX_KEY - st->hash.key_len))
		bad("hash.key: bytes beyond key_len %u", st->hash.key_len);
	if (st->hash.types & ~st->supported_hash_types)
		bad("hash.types = 0x%x, supported 0x%x", st->hash.types,
		    st->supported_hash_types);
	if (st->guest_offloads & ~(st->features & NET_GUEST_OFFLOADS_MASK))
		bad("guest_offloads = 0x%llx, not a subset of the negotiated offloads",
		    (unsigned long long)st->guest_offloads);
	return 0;
}

#undef bad

static uint8_t ctrl_rx(struct net_state *st, uint8_t cmd, struct ctrl_cmd *c)
{
	unsigned int need = VIRTIO_NET_F_CTRL_RX_EXTRA;
	uint8_t *flag;

	switch (cmd) {
	case VIRTIO_NET_CTRL_RX_PROMISC:
		flag = &st->promisc;
		need = VIRTIO_NET_F_CTRL_RX;
		break;
	case VIRTIO_NET_CTRL_RX_ALLMULTI:
		flag = &st->allmulti;
		need = VIRTIO_NET_F_CTRL_RX;
		break;
	case VIRTIO_NET_CTRL_RX_ALLUNI:
		flag = &st->alluni;
		break;
	case VIRTIO_NET_CTRL_RX_NOMULTI:
		flag = &st->nomulti;
		break;
	case VIRTIO_NET_CTRL_RX_NOUNI:
		flag = &st->nouni;
		break;
	case VIRTIO_NET_CTRL_RX_NOBCAST:
		flag = &st->nobcast;
		break;
	default:
		return VIRTIO_NET_ERR;
	}
	if (!net_has_feature(st, need) || c->len != 1)
		return VIRTIO_NET_ERR;
	/* The uapi header defines any non-zero byte as "on". */
	*flag = c->data[0] != 0;
	c->effects |= NET_CTRL_FX_RX_FILTER;
	return VIRTIO_NET_OK;
}

/*
 * One table of MAC_TABLE_SET: le32 count, then count addresses. Checks
 * the count against what is left before trusting it.
 */
static bool mac_list_parse(const struct ctrl_cmd *c, size_t *off,
			   uint32_t *count, const uint8_t **macs)
{
	size_t left = c->len - *off;

	if (left < 4)
		return false;
	*count = get_le32(c->data + *off);
	left -= 4;
	if (*count > left / ETH_ALEN)
		return false;
	*macs = c->data + *off + 4;
	*off += 4 + (size_t)*count * ETH_ALEN;
	return true;
}

static void mac_table_store(struct net_mac_table *t, const uint8_t *macs,
			    uint32_t count)
{
	memset(t, 0, sizeof(*t));
	if (count > NET_MAC_TABLE_ENTRIES) {
		t->overflow = 1;
		return;
	}
	t->count = count;
	memcpy(t->macs, macs, (size_t)count * ETH_ALEN);
}

static uint8_t ctrl_mac(struct net_state *st, uint8_t cmd, struct ctrl_cmd *c)
{
	static const uint8_t zero[ETH_ALEN];
	const uint8_t *uni, *multi;
	uint32_t n_uni, n_multi;
	size_t off = 0;

	switch (cmd) {
	case VIRTIO_NET_CTRL_MAC_TABLE_SET:
		if (!net_has_feature(st, VIRTIO_NET_F_CTRL_RX))
			return VIRTIO_NET_ERR;
		if (!mac_list_parse(c, &off, &n_uni, &uni) ||
		    !mac_list_parse(c, &off, &n_multi, &multi) || off != c->len)
			return VIRTIO_NET_ERR;
		mac_table_store(&st->uni, uni, n_uni);
		mac_table_store(&st->multi, multi, n_multi);
		c->effects |= NET_CTRL_FX_RX_FILTER;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MAC_ADDR_SET:
		/*
		 * Linux sends this with CTRL_MAC_ADDR alone, so CTRL_RX is not
		 * required even though the spec puts it in the MAC class.
		 */
		if (!net_has_feature(st, VIRTIO_NET_F_CTRL_MAC_ADDR) ||
		    c->len != ETH_ALEN)
			return VIRTIO_NET_ERR;
		/* A station address is neither a group nor all zeroes. */
		if ((c->data[0] & 1) || !memcmp(c->data, zero, ETH_ALEN))
			return VIRTIO_NET_ERR;
		memcpy(st->mac, c->data, ETH_ALEN);
		c->effects |= NET_CTRL_FX_RX_FILTER | NET_CTRL_FX_CONFIG;
		return VIRTIO_NET_OK;
	}
	return VIRTIO_NET_ERR;
}

static uint8_t ctrl_vlan(struct net_state *st, uint8_t cmd, struct ctrl_cmd *c)
{
	uint16_t vid;

	if (!net_has_feature(st, VIRTIO_NET_F_CTRL_VLAN) || c->len != 2)
		return VIRTIO_NET_ERR;
	vid = get_le16(c->data);
	if (vid >= NET_VLAN_IDS)
		return VIRTIO_NET_ERR;

	switch (cmd) {
	case VIRTIO_NET_CTRL_VLAN_ADD:
		st->vlans[vid / 32] |= 1u << (vid % 32);
		break;
	case VIRTIO_NET_CTRL_VLAN_DEL:
		st->vlans[vid / 32] &= ~(1u << (vid % 32));
		break;
	default:
		return VIRTIO_NET_ERR;
	}
	c->effects |= NET_CTRL_FX_RX_FILTER;
	return VIRTIO_NET_OK;
}

static uint8_t ctrl_announce(struct net_state *st, uint8_t cmd,
			     struct ctrl_cmd *c)
{
	if (cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK || c->len != 0 ||
	    !net_has_feature(st, VIRTIO_NET_F_GUEST_ANNOUNCE))
		return VIRTIO_NET_ERR;
	/* An ACK without a pending request is harmless, so it is OK too. */
	st->status &= ~VIRTIO_NET_S_ANNOUNCE;
	c->effects |= NET_CTRL_FX_CONFIG;
	return VIRTIO_NET_OK;
}

static uint8_t mq_pairs_set(struct net_state *st, struct ctrl_cmd *c)
{
	uint16_t pairs;

	if (!net_has_feature(st, VIRTIO_NET_F_MQ) || c->len != 2)
		return VIRTIO_NET_ERR;
	pairs = get_le16(c->data);
	if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN ||
	    pairs > net_state_max_pairs(st))
		return VIRTIO_NET_ERR;
	st->curr_queue_pairs = pairs;
	/* The last multiqueue command decides the mode: automatic steering. */
	st->rss.enabled = 0;
	c->effects |= NET_CTRL_FX_QUEUES;
	return VIRTIO_NET_OK;
}

static uint8_t hash_key_limit(const struct net_state *st)
{
	return st->rss_max_key_size < NET_RSS_MAX_KEY ?
	       st->rss_max_key_size : NET_RSS_MAX_KEY;
}

/*
 * struct virtio_net_rss_config: le32 hash_types, le16 indirection_table_mask,
 * le16 unclassified_queue, le16 indirection_table[mask + 1], le16 max_tx_vq,
 * u8 hash_key_length, u8 hash_key_data[hash_key_length].
 */
static uint8_t mq_rss_config(struct net_state *st, struct ctrl_cmd *c)
{
	const uint8_t *p = c->data;
	uint16_t mask, unclassified, max_tx_vq, max_table;
	uint32_t types, entries, i;
	uint8_t key_len;
	size_t off;

	if (!net_has_feature(st, VIRTIO_NET_F_RSS) || c->len < 8)
		return VIRTIO_NET_ERR;
	types = get_le32(p);
	mask = get_le16(p + 4);
	unclassified = get_le16(p + 6);

	max_table = st->rss_max_table_len < NET_RSS_MAX_TABLE ?
		    st->rss_max_table_len : NET_RSS_MAX_TABLE;
	/* The table length, mask + 1, is a power of two within the maximum. */
	if (mask >= max_table || (mask & (mask + 1)))
		return VIRTIO_NET_ERR;
	entries = (uint32_t)mask + 1;
	off = 8 + 2 * entries;
	if (c->len < off + 3)
		return VIRTIO_NET_ERR;
	max_tx_vq = get_le16(p + off);
	key_len = p[off + 2];
	if (c->len != off + 3 + key_len)
		return VIRTIO_NET_ERR;

	if (types & ~st->supported_hash_types || key_len > hash_key_limit(st))
		return VIRTIO_NET_ERR;
	if (max_tx_vq < 1 || max_tx_vq > net_state_max_pairs(st))
		return VIRTIO_NET_ERR;
	/* Receive queues beyond the pairs in use would never be serviced. */
	if (unclassified >= max_tx_vq)
		return VIRTIO_NET_ERR;
	for (i = 0; i < entries; i++)
		if (get_le16(p + 8 + 2 * i) >= max_tx_vq)
			return VIRTIO_NET_ERR;

	memset(&st->rss, 0, sizeof(st->rss));
	st->rss.enabled = 1;
	st->rss.table_mask = mask;
	st->rss.unclassified_queue = unclassified;
	for (i = 0; i < entries; i++)
		st->rss.table[i] = get_le16(p + 8 + 2 * i);
	st->rss.max_tx_vq = max_tx_vq;

	memset(&st->hash, 0, sizeof(st->hash));
	st->hash.types = types;
	st->hash.key_len = key_len;
	memcpy(st->hash.key, p + off + 3, key_len);

	/* Same effect as VQ_PAIRS_SET with max_tx_vq pairs. */
	st->curr_queue_pairs = max_tx_vq;
	c->effects |= NET_CTRL_FX_QUEUES | NET_CTRL_FX_HASH;
	return VIRTIO_NET_OK;
}

/*
 * struct virtio_net_hash_config: le32 hash_types, le16 reserved[4],
 * u8 hash_key_length, u8 hash_key_data[hash_key_length]. The reserved
 * words mirror the RSS layout; they are ignored because drivers have put
 * RSS leftovers there.
 */
static uint8_t mq_hash_config(struct net_state *st, struct ctrl_cmd *c)
{
	uint32_t types;
	uint8_t key_len;

	if (!net_has_feature(st, VIRTIO_NET_F_HASH_REPORT) || c->len < 13)
		return VIRTIO_NET_ERR;
	types = get_le32(c->data);
	key_len = c->data[12];
	if (c->len != 13u + key_len)
		return VIRTIO_NET_ERR;
	if (types & ~st->supported_hash_types || key_len > hash_key_limit(st))
		return VIRTIO_NET_ERR;

	memset(&st->hash, 0, sizeof(st->hash));
	st->hash.types = types;
	st->hash.key_len = key_len;
	memcpy(st->hash.key, c->data + 13, key_len);
	/* Hash calculation only: steering goes back to automatic. */
	st->rss.enabled = 0;
	c->effects |= NET_CTRL_FX_QUEUES | NET_CTRL_FX_HASH;
	return VIRTIO_NET_OK;
}

static uint8_t ctrl_mq(struct net_state *st, uint8_t cmd, struct ctrl_cmd *c)
{
	switch (cmd) {
	case VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET:
		return mq_pairs_set(st, c);
	case VIRTIO_NET_CTRL_MQ_RSS_CONFIG:
		return mq_rss_config(st, c);
	case VIRTIO_NET_CTRL_MQ_HASH_CONFIG:
		return mq_hash_config(st, c);
	}
	return VIRTIO_NET_ERR;
}

static uint8_t ctrl_guest_offloads(struct net_state *st, uint8_t cmd,
				   struct ctrl_cmd *c)
{
	uint64_t offloads;

	if (cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET || c->len != 8 ||
	    !net_has_feature(st, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS))
		return VIRTIO_NET_ERR;
	offloads = get_le64(c->data);
	if (offloads & ~(st->features & NET_GUEST_OFFLOADS_MASK))
		return VIRTIO_NET_ERR;
	st->guest_offloads = offloads;
	c->effects |= NET_CTRL_FX_OFFLOADS;
	return VIRTIO_NET_OK;
}

/* Coalescing applies to data queues only; each one counts as enabled. */
static bool coal_vq_valid(const struct net_state *st, uint16_t vq)
{
	return vq < 2 * net_state_max_pairs(st);
}

static uint8_t ctrl_notf_coal(struct net_state *st, uint8_t cmd,
			      struct ctrl_cmd *c)
{
	struct net_coal coal;
	uint16_t vq;
	int i;

	switch (cmd) {
	case VIRTIO_NET_CTRL_NOTF_COAL_TX_SET:
	case VIRTIO_NET_CTRL_NOTF_COAL_RX_SET:
		if (!net_has_feature(st, VIRTIO_NET_F_NOTF_COAL) || c->len != 8)
			return VIRTIO_NET_ERR;
		coal.max_packets = get_le32(c->data);
		coal.max_usecs = get_le32(c->data + 4);
		/* Overrides earlier VQ_SET values of every queue of the kind. */
		if (cmd == VIRTIO_NET_CTRL_NOTF_COAL_TX_SET) {
			st->coal_tx = coal;
			for (i = 1; i < NET_MAX_DATA_VQS; i += 2)
				st->coal_vq[i] = coal;
		} else {
			st->coal_rx = coal;
			for (i = 0; i < NET_MAX_DATA_VQS; i += 2)
				st->coal_vq[i] = coal;
		}
		break;
	case VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET:
		/* le16 vq_index, le16 reserved, le32 max_packets, le32 max_usecs */
		if (!net_has_feature(st, VIRTIO_NET_F_VQ_NOTF_COAL) ||
		    c->len != 12)
			return VIRTIO_NET_ERR;
		vq = get_le16(c->data);
		if (!coal_vq_valid(st, vq))
			return VIRTIO_NET_ERR;
		st->coal_vq[vq].max_packets = get_le32(c->data + 4);
		st->coal_vq[vq].max_usecs = get_le32(c->data + 8);
		break;
	case VIRTIO_NET_CTRL_NOTF_COAL_VQ_GET:
		/* vq_index and reserved are read; struct virtio_net_ctrl_coal written. */
		if (!net_has_feature(st, VIRTIO_NET_F_VQ_NOTF_COAL) ||
		    c->len != 4 || c->out_cap < 8)
			return VIRTIO_NET_ERR;
		vq = get_le16(c->data);
		if (!coal_vq_valid(st, vq))
			return VIRTIO_NET_ERR;
		put_le32(c->out, st->coal_vq[vq].max_packets);
		put_le32(c->out + 4, st->coal_vq[vq].max_usecs);
		c->out_len = 8;
		return VIRTIO_NET_OK;
	default:
		return VIRTIO_NET_ERR;
	}
	c->effects |= NET_CTRL_FX_COAL;
	return VIRTIO_NET_OK;
}

uint64_t net_ctrl_stats_caps(const struct net_state *st)
{
	uint64_t caps;

	if (!net_has_feature(st, VIRTIO_NET_F_DEVICE_STATS))
		return 0;
	caps = VIRTIO_NET_STATS_TYPE_CVQ |
	       VIRTIO_NET_STATS_TYPE_RX_BASIC | VIRTIO_NET_STATS_TYPE_TX_BASIC |
	       VIRTIO_NET_STATS_TYPE_RX_SPEED | VIRTIO_NET_STATS_TYPE_TX_SPEED;
	/*
	 * Types whose feature is missing are left out rather than offered:
	 * Linux asks for every offered type and a single invalid one fails
	 * the whole GET.
	 */
	if (net_has_feature(st, VIRTIO_NET_F_GUEST_CSUM))
		caps |= VIRTIO_NET_STATS_TYPE_RX_CSUM;
	if (net_has_feature(st, VIRTIO_NET_F_CSUM))
		caps |= VIRTIO_NET_STATS_TYPE_TX_CSUM;
	if (net_has_feature(st, VIRTIO_NET_F_GUEST_TSO4) ||
	    net_has_feature(st, VIRTIO_NET_F_GUEST_TSO6))
		caps |= VIRTIO_NET_STATS_TYPE_RX_GSO;
	if (net_has_feature(st, VIRTIO_NET_F_HOST_TSO4) ||
	    net_has_feature(st, VIRTIO_NET_F_HOST_TSO6) ||
	    net_has_feature(st, VIRTIO_NET_F_HOST_USO))
		caps |= VIRTIO_NET_STATS_TYPE_TX_GSO;
	return caps;
}

/*
 * The counters of one reply type for one queue, in reply order (NULL for
 * none); returns how many. Both directions use it: replies are read from
 * these fields, and a device's replies are added into them.
 */
static int stats_fields(struct net_state *st, uint16_t vq, unsigned int type, uint64_t **f)
{
	/* vq was checked against the pairs that exist; the cvq uses neither. */
	struct net_rxq_stats *rx = &st->rxq_stats[vq / 2];
	struct net_txq_stats *tx = &st->txq_stats[vq / 2];
	int n = 0;

#define FIELD(x)	(f[n++] = &(x))
	switch (type) {
	case VIRTIO_NET_STATS_TYPE_REPLY_CVQ:
		FIELD(st->cvq_stats.command_num);
		FIELD(st->cvq_stats.ok_num);
		break;
	case VIRTIO_NET_STATS_TYPE_REPLY_RX_BASIC:
		FIELD(rx->notifications);
		FIELD(rx->packets);
		FIELD(rx->bytes);
		FIELD(rx->interrupts);
		FIELD(rx->drops);
		FIELD(rx->drop_overruns);
		break;
	case VIRTIO_NET_STATS_TYPE_REPLY_RX_CSUM:
		FIELD(rx->csum_valid);
		FIELD(rx->needs_csum);
		FIELD(rx->csum_none);
		FIELD(rx->csum_bad);
		break;
	case VIRTIO_NET_STATS_TYPE_REPLY_RX_GSO:
		FIELD(rx->gso_packets);
		FIELD(rx->gso_bytes);
		FIELD(rx->gso_packets_coalesced);
		FIELD(rx->gso_bytes_coalesced);
		break;
	case VIRTIO_NET_STATS_TYPE_REPLY_RX_SPEED:
		FIELD(rx->ratelimit_packets);
		FIELD(rx->ratelimit_bytes);
		break;
	case VIRTIO_NET_STATS_TYPE_REPLY_TX_BASIC:
		FIELD(tx->notifications);
		FIELD(tx->packets);
		FIELD(tx->bytes);
		FIELD(tx->interrupts);
		FIELD(tx->drops);
		FIELD(tx->drop_malformed);
		break;
	case VIRTIO_NET_STATS_TYPE_REPLY_TX_CSUM:
		FIELD(tx->csum_none);
		FIELD(tx->needs_csum);
		break;
	case VIRTIO_NET_STATS_TYPE_REPLY_TX_GSO:
		FIELD(tx->gso_packets);
		FIELD(tx->gso_bytes);
		FIELD(tx->gso_segments);
		FIELD(tx->gso_segments_bytes);
		FIELD(tx->gso_packets_noseg);
		FIELD(tx->gso_bytes_noseg);
		break;
	case VIRTIO_NET_STATS_TYPE_REPLY_TX_SPEED:
		FIELD(tx->ratelimit_packets);
		FIELD(tx->ratelimit_bytes);
		break;
	}
#undef FIELD
	return n;
}

/* Counters of one reply type for one queue; returns how many. */
static int stats_counters(const struct net_state *st, uint16_t vq,
			  unsigned int type, uint64_t *v)
{
	uint64_t *f[STATS_MAX_COUNTERS];
	int n = stats_fields((struct net_state *)st, vq, type, f), i;

	for (i = 0; i < n; i++)
		v[i] = *f[i];
	/* "including the current command", which is about to succeed */
	if (type == VIRTIO_NET_STATS_TYPE_REPLY_CVQ)
		v[1]++;
	return n;
}

/* The types a queue may be asked for: rx on even, tx on odd, cvq last. */
static bool stats_queue_types(const struct net_state *st, uint16_t vq,
			      uint64_t *types)
{
	if (vq == net_state_cvq_index(st))
		*types = VIRTIO_NET_STATS_TYPE_CVQ;
	else if (vq < net_state_cvq_index(st))
		*types = vq & 1 ? STATS_TX_TYPES : STATS_RX_TYPES;
	else
		return false;
	return true;
}

/*
 * Append one reply: struct virtio_net_stats_reply_hdr {u8 type, u8 reserved,
 * le16 vq_index, le16 reserved1, le16 size} and its le64 counters. False if
 * it does not fit; a partial reply would only confuse the driver's walk.
 */
static bool stats_put_reply(struct ctrl_cmd *c, unsigned int type, uint16_t vq,
			    const uint64_t *v, int n)
{
	size_t size = STATS_REPLY_HDR_LEN + 8 * (size_t)n;
	uint8_t *p;
	int i;

	/* Room first: with out == NULL (out_cap 0) no pointer may be formed. */
	if (c->out_cap - c->out_len < size)
		return false;
	p = c->out + c->out_len;
	memset(p, 0, STATS_REPLY_HDR_LEN);
	p[0] = type;
	put_le16(p + 2, vq);
	put_le16(p + 6, size);
	for (i = 0; i < n; i++)
		put_le64(p + STATS_REPLY_HDR_LEN + 8 * i, v[i]);
	c->out_len += size;
	return true;
}

/*
 * STATS_GET: a list of {le16 vq_index, le16 reserved[3], le64 types_bitmap},
 * answered by one reply per (queue, type), in request order and ascending
 * type. Every entry is checked before any reply is written; replies that do
 * not fit in the driver's buffer are left out.
 */
static uint8_t stats_get(struct net_state *st, struct ctrl_cmd *c)
{
	uint64_t caps = net_ctrl_stats_caps(st), allowed, types;
	uint64_t v[STATS_MAX_COUNTERS];
	unsigned int type;
	size_t off;
	uint16_t vq;
	int n;

	if (c->len % STATS_QUERY_ENTRY_LEN)
		return VIRTIO_NET_ERR;
	for (off = 0; off < c->len; off += STATS_QUERY_ENTRY_LEN) {
		vq = get_le16(c->data + off);
		types = get_le64(c->data + off + 8);
		/* Unknown, unsupported or wrong-queue types fail it all. */
		if (!stats_queue_types(st, vq, &allowed) ||
		    types & ~(allowed & caps))
			return VIRTIO_NET_ERR;
	}

	for (off = 0; off < c->len; off += STATS_QUERY_ENTRY_LEN) {
		vq = get_le16(c->data + off);
		types = get_le64(c->data + off + 8);
		for (type = 0; type < 64; type++) {
			if (!((types >> type) & 1))
				continue;
			n = stats_counters(st, vq, type, v);
			if (!stats_put_reply(c, type, vq, v, n))
				return VIRTIO_NET_OK;
		}
	}
	return VIRTIO_NET_OK;
}

size_t net_ctrl_stats_query(const struct net_state *st, uint16_t vq, uint8_t *cmd, size_t cap)
{
	uint64_t types;

	if (cap < 2 + STATS_QUERY_ENTRY_LEN || !stats_queue_types(st, vq, &types) ||
	    vq == net_state_cvq_index(st) || !(types &= net_ctrl_stats_caps(st)))
		return 0;
	memset(cmd, 0, 2 + STATS_QUERY_ENTRY_LEN);
	cmd[0] = VIRTIO_NET_CTRL_STATS;
	cmd[1] = VIRTIO_NET_CTRL_STATS_GET;
	put_le16(cmd + 2, vq);
	put_le64(cmd + 2 + 8, types);
	return 2 + STATS_QUERY_ENTRY_LEN;
}

void net_ctrl_stats_merge(struct net_state *st, uint8_t *res, size_t len, bool into_reply)
{
	uint64_t *f[STATS_MAX_COUNTERS], types;
	size_t off = 0;

	while (len - off >= STATS_REPLY_HDR_LEN) {
		uint8_t *p = res + off;
		uint16_t vq = get_le16(p + 2), size = get_le16(p + 6);
		int n, i;

		if (size < STATS_REPLY_HDR_LEN || size > len - off)
			break;
		if (p[0] != VIRTIO_NET_STATS_TYPE_REPLY_CVQ && stats_queue_types(st, vq, &types) &&
		    vq != net_state_cvq_index(st)) {
			n = stats_fields(st, vq, p[0], f);
			for (i = 0; i < n && STATS_REPLY_HDR_LEN + 8 * (i + 1) <= size; i++) {
				uint8_t *v = p + STATS_REPLY_HDR_LEN + 8 * i;

				if (into_reply)
					put_le64(v, get_le64(v) + *f[i]);
				else
					*f[i] += get_le64(v);
			}
		}
		off += size;
	}
}

void net_state_stats_add(struct net_state *dst, const struct net_state *src)
{
	const uint64_t *s;
	uint64_t *d;
	size_t i;

	_Static_assert(sizeof(dst->rxq_stats) % 8 == 0 && sizeof(dst->txq_stats) % 8 == 0,
		       "queue counters are 64-bit words");
	d = (uint64_t *)dst->rxq_stats;
	s = (const uint64_t *)src->rxq_stats;
	for (i = 0; i < sizeof(dst->rxq_stats) / 8; i++)
		d[i] += s[i];
	d = (uint64_t *)dst->txq_stats;
	s = (const uint64_t *)src->txq_stats;
	for (i = 0; i < sizeof(dst->txq_stats) / 8; i++)
		d[i] += s[i];
}

int net_state_save_locked(struct state_buf *sb, const struct net_state *st,
			  pthread_mutex_t *lock, const struct net_state *extra)
{
	/* Too big for a worker's stack, and the save must not hold the lock. */
	struct net_state *copy = malloc(sizeof(*copy));

	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(lock);
	*copy = *st;
	pthread_mutex_unlock(lock);
	if (extra)
		net_state_stats_add(copy, extra);
	net_state_save(sb, copy);
	free(copy);
	return sb->err;
}

static uint8_t ctrl_stats(struct net_state *st, uint8_t cmd, struct ctrl_cmd *c)
{
	if (!net_has_feature(st, VIRTIO_NET_F_DEVICE_STATS))
		return VIRTIO_NET_ERR;

	switch (cmd) {
	case VIRTIO_NET_CTRL_STATS_QUERY:
		/* struct virtio_net_stats_capabilities: le64 supported_stats_types[1] */
		if (c->len != 0 || c->out_cap < 8)
			return VIRTIO_NET_ERR;
		put_le64(c->out, net_ctrl_stats_caps(st));
		c->out_len = 8;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_STATS_GET:
		return stats_get(st, c);
	}
	return VIRTIO_NET_ERR;
}

uint8_t net_ctrl_handle(struct net_state *st, const void *cmd, size_t cmd_len,
			void *out, size_t out_cap, struct net_ctrl_reply *reply)
{
	const uint8_t *p = cmd;
	struct ctrl_cmd c = { 0 };
	uint8_t ack;

	if (reply) {
		reply->len = 0;
		reply->effects = 0;
	}
	st->cvq_stats.command_num++;
	if (!p || cmd_len < sizeof(struct virtio_net_ctrl_hdr) ||
	    !net_has_feature(st, VIRTIO_NET_F_CTRL_VQ))
		return VIRTIO_NET_ERR;

	c.data = p + sizeof(struct virtio_net_ctrl_hdr);
	c.len = cmd_len - sizeof(struct virtio_net_ctrl_hdr);
	c.out = out;
	c.out_cap = out ? out_cap : 0;

	switch (p[0]) {
	case VIRTIO_NET_CTRL_RX:
		ack = ctrl_rx(st, p[1], &c);
		break;
	case VIRTIO_NET_CTRL_MAC:
		ack = ctrl_mac(st, p[1], &c);
		break;
	case VIRTIO_NET_CTRL_VLAN:
		ack = ctrl_vlan(st, p[1], &c);
		break;
	case VIRTIO_NET_CTRL_ANNOUNCE:
		ack = ctrl_announce(st, p[1], &c);
		break;
	case VIRTIO_NET_CTRL_MQ:
		ack = ctrl_mq(st, p[1], &c);
		break;
	case VIRTIO_NET_CTRL_GUEST_OFFLOADS:
		ack = ctrl_guest_offloads(st, p[1], &c);
		break;
	case VIRTIO_NET_CTRL_NOTF_COAL:
		ack = ctrl_notf_coal(st, p[1], &c);
		break;
	case VIRTIO_NET_CTRL_STATS:
		ack = ctrl_stats(st, p[1], &c);
		break;
	default:
		/* HASH_TUNNEL (7) and RSS contexts (9) are not offered. */
		ack = VIRTIO_NET_ERR;
		break;
	}
	if (ack != VIRTIO_NET_OK)
		return VIRTIO_NET_ERR;

	st->cvq_stats.ok_num++;
	if (reply) {
		reply->len = c.out_len;
		reply->effects = c.effects;
	}
	return VIRTIO_NET_OK;
}

void net_ctrl_serve(struct virtio_dev *vdev, struct net_state *st, pthread_mutex_t *lock,
		    uint8_t *cmd, uint8_t *result)
{
	struct virtq *vq = &vdev->vqs[net_state_cvq_index(st)];
	struct virtq_elem elem;
	int r;

	while ((r = virtq_pop(vq, &elem)) > 0) {
		struct net_ctrl_reply reply = { 0 };
		size_t len, out_cap;
		struct virtq_cursor c;
		uint8_t ack;

		virtq_cursor_init(&c, &elem, false);
		len = virtq_cursor_read(&c, cmd, NET_CTRL_MAX);
		out_cap = elem.in_len ? elem.in_len - 1 : 0;
		if (out_cap > NET_CTRL_RESULT_MAX)
			out_cap = NET_CTRL_RESULT_MAX;
		pthread_mutex_lock(lock);
		ack = elem.in_len ? net_ctrl_handle(st, cmd, len, result, out_cap, &reply)
				  : VIRTIO_NET_ERR;
		pthread_mutex_unlock(lock);
		/* Ack first, then the command-specific result (virtio 1.3). */
		virtq_cursor_init(&c, &elem, true);
		if (virtq_cursor_write(&c, &ack, 1))
			virtq_cursor_write(&c, result, reply.len);
		virtq_push(vq, &elem, c.done);
		if (reply.effects & NET_CTRL_FX_CONFIG)
			virtio_dev_config_changed(vdev);
	}
	if (r < 0) {
		virtio_dev_needs_reset(vdev, vq->broken_reason ? vq->broken_reason :
				       "bad control descriptor");
		return;
	}
	virtio_dev_notify_used(vdev, net_state_cvq_index(st));
}

void net_config_read(const struct net_state *st, pthread_mutex_t *lock, uint32_t off,
		     void *buf, uint32_t len)
{
	struct virtio_net_config cfg;

	pthread_mutex_lock(lock);
	net_state_fill_config(st, &cfg);
	pthread_mutex_unlock(lock);
	if (off < sizeof(cfg) && len <= sizeof(cfg) - off)
		memcpy(buf, (uint8_t *)&cfg + off, len);
	else
		memset(buf, 0, len);
}

void net_announce_moved(struct virtio_dev *vdev, struct net_state *st, pthread_mutex_t *lock)
{
	bool raise;

	pthread_mutex_lock(lock);
	raise = net_state_announce(st, 1);
	pthread_mutex_unlock(lock);
	if (raise)
		virtio_dev_config_changed(vdev);
}
