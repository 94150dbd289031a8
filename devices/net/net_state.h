/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-net device state: everything the control virtqueue sets and the
 * receive path reads, in one struct of plain fixed-size fields so that it
 * can be saved and restored as a whole (snapshots, live migration).
 */
#ifndef VLAB_VIRTIO_NET_STATE_H
#define VLAB_VIRTIO_NET_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

/*
 * Definitions from virtio 1.3 that older <linux/virtio_net.h> lack; the
 * values are the spec's, guarded so a newer header wins.
 */
#ifndef VIRTIO_NET_F_DEVICE_STATS
#define VIRTIO_NET_F_DEVICE_STATS	50
#endif
#ifndef VIRTIO_NET_F_VQ_NOTF_COAL
#define VIRTIO_NET_F_VQ_NOTF_COAL	52
#endif
#ifndef VIRTIO_NET_F_GUEST_USO4
#define VIRTIO_NET_F_GUEST_USO4		54
#define VIRTIO_NET_F_GUEST_USO6		55
#define VIRTIO_NET_F_HOST_USO		56
#endif
#ifndef VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET
#define VIRTIO_NET_CTRL_NOTF_COAL_VQ_SET	2
#define VIRTIO_NET_CTRL_NOTF_COAL_VQ_GET	3
#endif
#ifndef VIRTIO_NET_CTRL_STATS
#define VIRTIO_NET_CTRL_STATS		8
#define VIRTIO_NET_CTRL_STATS_QUERY	0
#define VIRTIO_NET_CTRL_STATS_GET	1

#define VIRTIO_NET_STATS_TYPE_CVQ	(1ULL << 32)
#define VIRTIO_NET_STATS_TYPE_RX_BASIC	(1ULL << 0)
#define VIRTIO_NET_STATS_TYPE_RX_CSUM	(1ULL << 1)
#define VIRTIO_NET_STATS_TYPE_RX_GSO	(1ULL << 2)
#define VIRTIO_NET_STATS_TYPE_RX_SPEED	(1ULL << 3)
#define VIRTIO_NET_STATS_TYPE_TX_BASIC	(1ULL << 16)
#define VIRTIO_NET_STATS_TYPE_TX_CSUM	(1ULL << 17)
#define VIRTIO_NET_STATS_TYPE_TX_GSO	(1ULL << 18)
#define VIRTIO_NET_STATS_TYPE_TX_SPEED	(1ULL << 19)

/* A reply's type is the bit number of its capability. */
#define VIRTIO_NET_STATS_TYPE_REPLY_CVQ		32
#define VIRTIO_NET_STATS_TYPE_REPLY_RX_BASIC	0
#define VIRTIO_NET_STATS_TYPE_REPLY_RX_CSUM	1
#define VIRTIO_NET_STATS_TYPE_REPLY_RX_GSO	2
#define VIRTIO_NET_STATS_TYPE_REPLY_RX_SPEED	3
#define VIRTIO_NET_STATS_TYPE_REPLY_TX_BASIC	16
#define VIRTIO_NET_STATS_TYPE_REPLY_TX_CSUM	17
#define VIRTIO_NET_STATS_TYPE_REPLY_TX_GSO	18
#define VIRTIO_NET_STATS_TYPE_REPLY_TX_SPEED	19
#endif

#define NET_MAX_QUEUE_PAIRS	16
#define NET_MAX_DATA_VQS	(2 * NET_MAX_QUEUE_PAIRS)
/* Per table; a longer list sets the table's overflow flag instead. */
#define NET_MAC_TABLE_ENTRIES	64
#define NET_VLAN_IDS		4096
/* The spec's minimums for a device offering RSS / HASH_REPORT. */
#define NET_RSS_MAX_TABLE	128
#define NET_RSS_MAX_KEY		40

#define NET_HASH_TYPES_ALL						\
	(VIRTIO_NET_RSS_HASH_TYPE_IPv4 | VIRTIO_NET_RSS_HASH_TYPE_TCPv4 |	\
	 VIRTIO_NET_RSS_HASH_TYPE_UDPv4 | VIRTIO_NET_RSS_HASH_TYPE_IPv6 |	\
	 VIRTIO_NET_RSS_HASH_TYPE_TCPv6 | VIRTIO_NET_RSS_HASH_TYPE_UDPv6 |	\
	 VIRTIO_NET_RSS_HASH_TYPE_IP_EX | VIRTIO_NET_RSS_HASH_TYPE_TCP_EX |	\
	 VIRTIO_NET_RSS_HASH_TYPE_UDP_EX)

/* Offloads CTRL_GUEST_OFFLOADS_SET may toggle (bits below 64 only). */
#define NET_GUEST_OFFLOADS_MASK						\
	((1ULL << VIRTIO_NET_F_GUEST_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) | \
	 (1ULL << VIRTIO_NET_F_GUEST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_ECN) | \
	 (1ULL << VIRTIO_NET_F_GUEST_UFO) | (1ULL << VIRTIO_NET_F_GUEST_USO4) | \
	 (1ULL << VIRTIO_NET_F_GUEST_USO6))

struct net_mac_table {
	uint32_t count;
	/* The driver sent more than fit: accept every address of this kind. */
	uint8_t overflow;
	uint8_t macs[NET_MAC_TABLE_ENTRIES][6];
};

/* Receive steering set by VIRTIO_NET_CTRL_MQ_RSS_CONFIG. */
struct net_rss {
	uint8_t enabled;
	uint16_t table_mask;		/* table has table_mask + 1 entries */
	uint16_t unclassified_queue;	/* receive queue number, 0-based */
	uint16_t table[NET_RSS_MAX_TABLE];
	uint16_t max_tx_vq;
};

/* Hash parameters shared by RSS steering and hash reporting. */
struct net_hash {
	uint32_t types;			/* enabled VIRTIO_NET_RSS_HASH_TYPE_* */
	uint8_t key_len;
	uint8_t key[NET_RSS_MAX_KEY];	/* zero beyond key_len */
};

struct net_coal {
	uint32_t max_packets;
	uint32_t max_usecs;
};

/* Counters in the order of the spec's STATS_GET replies. */
struct net_cvq_stats {
	uint64_t command_num;
	uint64_t ok_num;
};

struct net_rxq_stats {
	uint64_t notifications;
	uint64_t packets;
	uint64_t bytes;
	uint64_t interrupts;
	uint64_t drops;
	uint64_t drop_overruns;
	uint64_t csum_valid;
	uint64_t needs_csum;
	uint64_t csum_none;
	uint64_t csum_bad;
	uint64_t gso_packets;
	uint64_t gso_bytes;
	uint64_t gso_packets_coalesced;
	uint64_t gso_bytes_coalesced;
	uint64_t ratelimit_packets;
	uint64_t ratelimit_bytes;
};

struct net_txq_stats {
	uint64_t notifications;
	uint64_t packets;
	uint64_t bytes;
	uint64_t interrupts;
	uint64_t drops;
	uint64_t drop_malformed;
	uint64_t csum_none;
	uint64_t needs_csum;
	uint64_t gso_packets;
	uint64_t gso_bytes;
	uint64_t gso_segments;
	uint64_t gso_segments_bytes;
	uint64_t gso_packets_noseg;
	uint64_t gso_bytes_noseg;
	uint64_t ratelimit_packets;
	uint64_t ratelimit_bytes;
};

struct net_state {
	/* Negotiated features (driver's accepted subset), 0 until FEATURES_OK. */
	uint64_t features;

	/* Device identity and configuration space; survive a reset. */
	uint8_t perm_mac[6];
	uint16_t max_queue_pairs;	/* 1..NET_MAX_QUEUE_PAIRS */
	uint16_t mtu;
	uint32_t speed;			/* Mbit/s, 0xffffffff unknown */
	uint8_t duplex;			/* 1 full, 0 half, 0xff unknown */
	uint8_t rss_max_key_size;
	uint16_t rss_max_table_len;
	uint32_t supported_hash_types;

	/* Configuration space fields that change at run time. */
	uint8_t mac[6];			/* perm_mac until MAC_ADDR_SET */
	uint16_t status;		/* VIRTIO_NET_S_LINK_UP | _ANNOUNCE */
	uint8_t announce_rounds;	/* announcements still to request */

	uint16_t curr_queue_pairs;

	/* Receive filter (VIRTIO_NET_CTRL_RX, _MAC, _VLAN). */
	uint8_t promisc;
	uint8_t allmulti;
	uint8_t alluni;
	uint8_t nomulti;
	uint8_t nouni;
	uint8_t nobcast;
	struct net_mac_table uni;
	struct net_mac_table multi;
	uint32_t vlans[NET_VLAN_IDS / 32];

	struct net_rss rss;
	struct net_hash hash;

	/* Offloads currently enabled, a subset of the negotiated GUEST_* bits. */
	uint64_t guest_offloads;

	/* NOTF_COAL: the last TX_SET / RX_SET, and what each data vq uses. */
	struct net_coal coal_tx;
	struct net_coal coal_rx;
	struct net_coal coal_vq[NET_MAX_DATA_VQS];

	struct net_cvq_stats cvq_stats;
	struct net_rxq_stats rxq_stats[NET_MAX_QUEUE_PAIRS];
	struct net_txq_stats txq_stats[NET_MAX_QUEUE_PAIRS];
};

static inline bool net_has_feature(const struct net_state *st, unsigned int bit)
{
	return bit < 64 && (st->features >> bit) & 1;
}

/* Set up a new device: identity, capabilities, link up, then reset. */
void net_state_init(struct net_state *st, const uint8_t mac[6],
		    uint16_t max_queue_pairs);

/* Device reset: every driver-set value back to the spec's default. */
void net_state_reset(struct net_state *st);

/* FEATURES_OK accepted @features; enables the negotiated offloads. */
void net_state_set_features(struct net_state *st, uint64_t features);

/* Queue pairs that exist: max_queue_pairs with MQ or RSS, else 1. */
uint16_t net_state_max_pairs(const struct net_state *st);

/* Index of the control virtqueue (2N). */
static inline uint16_t net_state_cvq_index(const struct net_state *st)
{
	return 2 * net_state_max_pairs(st);
}

/*
 * Ask the driver to announce itself (after migration), @rounds times in
 * all. Returns true if STATUS_ANNOUNCE was raised, so the caller must
 * send a configuration change notification.
 */
bool net_state_announce(struct net_state *st, uint8_t rounds);

/* A data vq was re-enabled: it falls back to the TX_SET / RX_SET values. */
void net_state_coal_vq_reenable(struct net_state *st, uint16_t vq);

/* The device configuration space as the driver reads it. */
void net_state_fill_config(const struct net_state *st,
			   struct virtio_net_config *cfg);

/*
 * Could a device configured as @cur, offering @host_features, be in state
 * @st (restored from a stream)? The identity and configuration must be
 * @cur's, and every count, index and flag the control queue and receive
 * path use must be one the control commands could have set: MAC table
 * counts and overflow, RSS table length and entries, queue pairs, hash
 * key length and types, rx-mode flags, offloads. Returns 0, or -1 with the
 * field and why in @why. Safe with any bytes in @st.
 */
int net_state_check(const struct net_state *st, const struct net_state *cur,
		    uint64_t host_features, char *why, size_t whylen);

struct state_buf;

/*
 * Save @st as node "net" of the current node, field by field; load it back
 * from @parent's "net" node (or from a version-1 raw blob). Loading checks
 * each property's presence and width only: net_state_check() decides
 * whether the values make sense.
 */
int net_state_save(struct state_buf *sb, const struct net_state *st);
/*
 * A device's whole load: net_state_load() into @st, then net_state_check()
 * against @cur (its configuration) and @host_features; errors as
 * "@who: why" or "@who: net-state: why". The caller holds what guards @cur.
 */
int net_state_load_checked(const void *fdt, int parent, struct net_state *st,
			   const struct net_state *cur, uint64_t host_features, const char *who,
			   char *err, size_t errlen);
int net_state_load(const void *fdt, int parent, struct net_state *st, char *err,
		   size_t errlen);

static inline bool net_vlan_test(const struct net_state *st, uint16_t vid)
{
	return vid < NET_VLAN_IDS && (st->vlans[vid / 32] >> (vid % 32)) & 1;
}

#endif
