// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net state in the saved-state tree, field by field.
 *
 * Version 2 is node "net": one property per field, a child node per
 * sub-struct, and per-queue arrays (coalescing, counters) as one node each
 * holding an array per field. Version 1 (vlab before field tables) was the
 * raw struct in property "net-state" with "net-state-version" = 1; it is
 * still read, since its layout is the struct's below.
 */
#include <stdio.h>
#include <string.h>

#include "devices/net/net_state.h"
#include "vmm/migrate/state.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define NET_NODE_VERSION	2

/* Version 1 blobs were this struct byte for byte: it must not change. */
_Static_assert(sizeof(struct net_state) == 6056,
	       "struct net_state changed: version-1 blobs no longer match it");

#define F(member, name)		STATE_UINT(struct net_state, member, name)

static const struct state_field net_fields[] = {
	F(features, "features"),
	STATE_BYTES(struct net_state, perm_mac, "perm-mac"),
	F(max_queue_pairs, "max-queue-pairs"),
	F(mtu, "mtu"),
	F(speed, "speed"),
	F(duplex, "duplex"),
	F(rss_max_key_size, "rss-max-key-size"),
	F(rss_max_table_len, "rss-max-table-len"),
	F(supported_hash_types, "supported-hash-types"),
	STATE_BYTES(struct net_state, mac, "mac"),
	F(status, "status"),
	F(announce_rounds, "announce-rounds"),
	F(curr_queue_pairs, "curr-queue-pairs"),
	F(promisc, "promisc"),
	F(allmulti, "allmulti"),
	F(alluni, "alluni"),
	F(nomulti, "nomulti"),
	F(nouni, "nouni"),
	F(nobcast, "nobcast"),
	STATE_UINT_ARRAY(struct net_state, vlans, "vlans"),
	F(guest_offloads, "guest-offloads"),
};

#undef F

static const struct state_field mac_table_fields[] = {
	STATE_UINT(struct net_mac_table, count, "count"),
	STATE_UINT(struct net_mac_table, overflow, "overflow"),
	STATE_BYTES(struct net_mac_table, macs, "macs"),
};

static const struct state_field rss_fields[] = {
	STATE_UINT(struct net_rss, enabled, "enabled"),
	STATE_UINT(struct net_rss, table_mask, "table-mask"),
	STATE_UINT(struct net_rss, unclassified_queue, "unclassified-queue"),
	STATE_UINT_ARRAY(struct net_rss, table, "table"),
	STATE_UINT(struct net_rss, max_tx_vq, "max-tx-vq"),
};

static const struct state_field hash_fields[] = {
	STATE_UINT(struct net_hash, types, "types"),
	STATE_UINT(struct net_hash, key_len, "key-len"),
	STATE_BYTES(struct net_hash, key, "key"),
};

static const struct state_field coal_fields[] = {
	STATE_UINT(struct net_coal, max_packets, "max-packets"),
	STATE_UINT(struct net_coal, max_usecs, "max-usecs"),
};

static const struct state_field cvq_stats_fields[] = {
	STATE_UINT(struct net_cvq_stats, command_num, "command-num"),
	STATE_UINT(struct net_cvq_stats, ok_num, "ok-num"),
};

#define RXQ(member, name)	STATE_UINT(struct net_rxq_stats, member, name)

static const struct state_field rxq_stats_fields[] = {
	RXQ(notifications, "notifications"),
	RXQ(packets, "packets"),
	RXQ(bytes, "bytes"),
	RXQ(interrupts, "interrupts"),
	RXQ(drops, "drops"),
	RXQ(drop_overruns, "drop-overruns"),
	RXQ(csum_valid, "csum-valid"),
	RXQ(needs_csum, "needs-csum"),
	RXQ(csum_none, "csum-none"),
	RXQ(csum_bad, "csum-bad"),
	RXQ(gso_packets, "gso-packets"),
	RXQ(gso_bytes, "gso-bytes"),
	RXQ(gso_packets_coalesced, "gso-packets-coalesced"),
	RXQ(gso_bytes_coalesced, "gso-bytes-coalesced"),
	RXQ(ratelimit_packets, "ratelimit-packets"),
	RXQ(ratelimit_bytes, "ratelimit-bytes"),
};

#undef RXQ
#define TXQ(member, name)	STATE_UINT(struct net_txq_stats, member, name)

static const struct state_field txq_stats_fields[] = {
	TXQ(notifications, "notifications"),
	TXQ(packets, "packets"),
	TXQ(bytes, "bytes"),
	TXQ(interrupts, "interrupts"),
	TXQ(drops, "drops"),
	TXQ(drop_malformed, "drop-malformed"),
	TXQ(csum_none, "csum-none"),
	TXQ(needs_csum, "needs-csum"),
	TXQ(gso_packets, "gso-packets"),
	TXQ(gso_bytes, "gso-bytes"),
	TXQ(gso_segments, "gso-segments"),
	TXQ(gso_segments_bytes, "gso-segments-bytes"),
	TXQ(gso_packets_noseg, "gso-packets-noseg"),
	TXQ(gso_bytes_noseg, "gso-bytes-noseg"),
	TXQ(ratelimit_packets, "ratelimit-packets"),
	TXQ(ratelimit_bytes, "ratelimit-bytes"),
};

#undef TXQ

/*
 * The sub-structs and per-queue arrays, as child nodes of "net"; an array
 * is one node with a per-queue array for each field.
 */
struct net_sub {
	const char *name;
	size_t offset, stride;
	unsigned int count;		/* 1: a plain struct */
	const struct state_field *fields;
	size_t nfields;
};

#define SUB(member, name, tbl)						\
	{ name, offsetof(struct net_state, member), 0, 1, tbl, NELEM(tbl) }
#define SUBS(member, name, tbl)						\
	{ name, offsetof(struct net_state, member),			\
	  sizeof(((struct net_state *)0)->member[0]),			\
	  NELEM(((struct net_state *)0)->member), tbl, NELEM(tbl) }

static const struct net_sub net_subs[] = {
	SUB(uni, "uni", mac_table_fields),
	SUB(multi, "multi", mac_table_fields),
	SUB(rss, "rss", rss_fields),
	SUB(hash, "hash", hash_fields),
	SUB(coal_tx, "coal-tx", coal_fields),
	SUB(coal_rx, "coal-rx", coal_fields),
	SUBS(coal_vq, "coal-vq", coal_fields),
	SUB(cvq_stats, "cvq-stats", cvq_stats_fields),
	SUBS(rxq_stats, "rxq-stats", rxq_stats_fields),
	SUBS(txq_stats, "txq-stats", txq_stats_fields),
};

int net_state_save(struct state_buf *sb, const struct net_state *st)
{
	const uint8_t *base = (const uint8_t *)st;
	size_t k;

	state_begin_node(sb, "net", NET_NODE_VERSION);
	state_put_fields(sb, st, net_fields, NELEM(net_fields));
	for (k = 0; k < NELEM(net_subs); k++) {
		const struct net_sub *s = &net_subs[k];

		if (s->count == 1)
			state_put_struct(sb, s->name, NET_NODE_VERSION, base + s->offset,
					 s->fields, s->nfields);
		else
			state_put_struct_array(sb, s->name, NET_NODE_VERSION,
					       base + s->offset, s->stride, s->count,
					       s->fields, s->nfields);
	}
	return state_end_node(sb);
}

static int net_state_load_v1(const void *fdt, int parent, struct net_state *st,
			     char *err, size_t errlen)
{
	uint32_t ver;

	if (state_get_u32(fdt, parent, "net-state-version", &ver, err, errlen))
		return -1;
	if (ver != 1) {
		snprintf(err, errlen, "virtio-net: state version %u, this vlab reads 1 and %u",
			 ver, NET_NODE_VERSION);
		return -1;
	}
	return state_get_bytes(fdt, parent, "net-state", st, sizeof(*st), err, errlen);
}

int net_state_load(const void *fdt, int parent, struct net_state *st, char *err,
		   size_t errlen)
{
	uint8_t *base = (uint8_t *)st;
	size_t k;
	int node;

	if (!state_has(fdt, parent, "net-state-version"))
		node = state_subnode(fdt, parent, "net", NET_NODE_VERSION, NULL, err, errlen);
	else
		return net_state_load_v1(fdt, parent, st, err, errlen);
	if (node < 0 || state_get_fields(fdt, node, st, net_fields, NELEM(net_fields),
					 err, errlen))
		return -1;
	for (k = 0; k < NELEM(net_subs); k++) {
		const struct net_sub *s = &net_subs[k];
		int r;

		if (s->count == 1)
			r = state_get_struct(fdt, node, s->name, NET_NODE_VERSION,
					     base + s->offset, s->fields, s->nfields, err,
					     errlen);
		else
			r = state_get_struct_array(fdt, node, s->name, NET_NODE_VERSION,
						   base + s->offset, s->stride, s->count,
						   s->fields, s->nfields, err, errlen);
		if (r)
			return -1;
	}
	return 0;
}

int net_state_load_checked(const void *fdt, int parent, struct net_state *st,
			   const struct net_state *cur, uint64_t host_features, const char *who,
			   char *err, size_t errlen)
{
	char why[160];

	memset(st, 0, sizeof(*st));
	if (net_state_load(fdt, parent, st, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s", who, why);
		return -1;
	}
	/* Every count and index the receive path and the CVQ use, before any is. */
	if (net_state_check(st, cur, host_features, why, sizeof(why))) {
		snprintf(err, errlen, "%s: net-state: %s", who, why);
		return -1;
	}
	return 0;
}
