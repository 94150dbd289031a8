// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net receive side: the receive filter (virtio 1.3 "Packet Receive
 * Filtering", "Setting MAC Address Filtering", "VLAN Filtering"), the
 * Toeplitz hash ("Hash calculation for incoming packets") and receive
 * queue selection ("Receive-side scaling (RSS)"). Every header read is
 * bounds-checked against the frame length.
 */
#include <string.h>

#include "devices/net/net_rx.h"
#include "vmm/core/bytes.h"

#define ETH_HDR_LEN	14
#define VLAN_TAG_LEN	4
#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_IPV6	0x86dd
#define ETHERTYPE_VLAN	0x8100
#define ETHERTYPE_QINQ	0x88a8

#define PROTO_TCP	6
#define PROTO_UDP	17
#define IPV6_HOPOPTS	0
#define IPV6_ROUTING	43
#define IPV6_FRAGMENT	44
#define IPV6_AH		51
#define IPV6_DSTOPTS	60
#define IPV6_OPT_PAD1	0
#define IPV6_OPT_HOME	0xc9	/* Home Address option (RFC 6275) */
#define IPV6_MAX_EXT	8	/* headers walked before giving up */

#define TCP_HDR_MIN	20
#define UDP_HDR_LEN	8

/* Where the hash report lives in struct virtio_net_hdr_v1_hash. */
#define HDR_HASH_VALUE_OFF	12
#define HDR_HASH_REPORT_OFF	16
#define HDR_HASH_PAD_OFF	18

/*
 * Key for automatic steering without RSS: the verification key that
 * Microsoft publishes for Toeplitz, so flows spread like on real NICs.
 */
static const uint8_t flow_key[NET_RSS_MAX_KEY] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* The parts of a frame that hashing looks at; pointers into the frame. */
struct rx_flow {
	int ip_version;		/* 4, 6, or 0 if neither */
	int l4_proto;		/* PROTO_TCP, PROTO_UDP, or 0 */
	bool ipv6_ext;		/* IPv6 extension headers present */
	const uint8_t *src;	/* source and destination addresses */
	const uint8_t *dst;
	const uint8_t *home;	/* Home Address option, or NULL */
	const uint8_t *rt2_dst;	/* type 2 routing header address, or NULL */
	const uint8_t *ports;	/* source port then destination port */
};




static bool mac_table_has(const struct net_mac_table *t, const uint8_t *mac)
{
	uint32_t n = t->count < NET_MAC_TABLE_ENTRIES ?
		     t->count : NET_MAC_TABLE_ENTRIES;
	uint32_t i;

	for (i = 0; i < n; i++)
		if (!memcmp(t->macs[i], mac, ETH_ALEN))
			return true;
	return false;
}

bool net_rx_filter_accept(const struct net_state *st, const void *frame,
			  size_t len)
{
	static const uint8_t bcast[ETH_ALEN] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff
	};
	const uint8_t *dst = frame;
	uint16_t vid;

	if (!frame || len < ETH_HDR_LEN)
		return false;
	/* Promiscuous overrides every other mode, the VLAN filter included. */
	if (st->promisc)
		return true;

	if (net_has_feature(st, VIRTIO_NET_F_CTRL_VLAN) &&
	    get_be16(dst + 12) == ETHERTYPE_VLAN) {
		if (len < ETH_HDR_LEN + VLAN_TAG_LEN)
			return false;
		vid = get_be16(dst + 14) & 0xfff;
		if (!net_vlan_test(st, vid))
			return false;
	}

	/* Broadcast is only subject to NOBCAST, not to NOMULTI. */
	if (!memcmp(dst, bcast, ETH_ALEN))
		return !st->nobcast;

	if (dst[0] & 1) {
		if (st->nomulti)
			return false;
		if (st->allmulti || st->multi.overflow)
			return true;
		return mac_table_has(&st->multi, dst);
	}

	if (st->nouni)
		return false;
	if (st->alluni || st->uni.overflow)
		return true;
	if (!memcmp(dst, st->mac, ETH_ALEN))
		return true;
	return mac_table_has(&st->uni, dst);
}

uint32_t net_toeplitz_hash(const uint8_t *key, size_t key_len,
			   const uint8_t *in, size_t in_len)
{
	uint32_t window = 0, hash = 0;
	size_t i;
	int bit;

	/* The window is the 32 key bits starting at the input bit's index. */
	for (i = 0; i < 4; i++)
		window = window << 8 | (i < key_len ? key[i] : 0);

	for (i = 0; i < in_len; i++) {
		uint8_t next = i + 4 < key_len ? key[i + 4] : 0;

		for (bit = 7; bit >= 0; bit--) {
			if (in[i] & (1u << bit))
				hash ^= window;
			window = window << 1 | ((next >> bit) & 1);
		}
	}
	return hash;
}

/* Scan a destination options header for the Home Address option. */
static const uint8_t *ipv6_find_home(const uint8_t *opt, size_t len)
{
	size_t off = 2;

	while (off < len) {
		uint8_t type = opt[off];
		uint8_t olen;

		if (type == IPV6_OPT_PAD1) {
			off++;
			continue;
		}
		if (len - off < 2)
			break;
		olen = opt[off + 1];
		if (len - off - 2 < olen)
			break;
		if (type == IPV6_OPT_HOME && olen == 16)
			return opt + off + 2;
		off += 2 + olen;
	}
	return NULL;
}

static void parse_l4(struct rx_flow *fl, const uint8_t *f, size_t len,
		     size_t off, uint8_t proto)
{
	if (proto == PROTO_TCP && len >= off && len - off >= TCP_HDR_MIN)
		fl->l4_proto = PROTO_TCP;
	else if (proto == PROTO_UDP && len >= off && len - off >= UDP_HDR_LEN)
		fl->l4_proto = PROTO_UDP;
	else
		return;
	fl->ports = f + off;
}

static void parse_ipv4(struct rx_flow *fl, const uint8_t *f, size_t len,
		       size_t off)
{
	const uint8_t *ip = f + off;
	size_t ihl;

	if (len - off < 20 || ip[0] >> 4 != 4)
		return;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	if (ihl < 20 || len - off < ihl || get_be16(ip + 2) < ihl)
		return;
	fl->ip_version = 4;
	fl->src = ip + 12;
	fl->dst = ip + 16;
	/* A fragment (MF set or an offset) has no usable transport header. */
	if (get_be16(ip + 6) & 0x3fff)
		return;
	parse_l4(fl, f, len, off + ihl, ip[9]);
}

static void parse_ipv6(struct rx_flow *fl, const uint8_t *f, size_t len,
		       size_t off)
{
	const uint8_t *ip = f + off;
	uint8_t next;
	size_t hlen;
	int i;

	if (len - off < 40 || ip[0] >> 4 != 6)
		return;
	fl->ip_version = 6;
	fl->src = ip + 8;
	fl->dst = ip + 24;
	next = ip[6];
	off += 40;

	for (i = 0; i < IPV6_MAX_EXT; i++) {
		const uint8_t *h = f + off;

		if (next != IPV6_HOPOPTS && next != IPV6_ROUTING &&
		    next != IPV6_FRAGMENT && next != IPV6_AH &&
		    next != IPV6_DSTOPTS)
			break;
		fl->ipv6_ext = true;
		if (len - off < 8)
			return;
		if (next == IPV6_FRAGMENT)
			hlen = 8;
		else if (next == IPV6_AH)
			hlen = ((size_t)h[1] + 2) * 4;
		else
			hlen = ((size_t)h[1] + 1) * 8;
		if (len - off < hlen)
			return;

		if (next == IPV6_DSTOPTS && !fl->home)
			fl->home = ipv6_find_home(h, hlen);
		if (next == IPV6_ROUTING && h[2] == 2 && hlen >= 24)
			fl->rt2_dst = h + 8;
		/* Fragment offset or M flag: the transport header may be absent. */
		if (next == IPV6_FRAGMENT && get_be16(h + 2) & 0xfff9)
			return;
		next = h[0];
		off += hlen;
	}
	parse_l4(fl, f, len, off, next);
}

static void parse_frame(struct rx_flow *fl, const uint8_t *f, size_t len)
{
	size_t off = 12;
	uint16_t type;
	int tags;

	memset(fl, 0, sizeof(*fl));
	if (!f || len < ETH_HDR_LEN)
		return;
	type = get_be16(f + off);
	off += 2;
	/* Up to two tags: 802.1Q, or 802.1ad outer plus 802.1Q inner. */
	for (tags = 0; tags < 2; tags++) {
		if (type != ETHERTYPE_VLAN && type != ETHERTYPE_QINQ)
			break;
		if (len - off < VLAN_TAG_LEN)
			return;
		type = get_be16(f + off + 2);
		off += VLAN_TAG_LEN;
	}
	if (type == ETHERTYPE_IPV4)
		parse_ipv4(fl, f, len, off);
	else if (type == ETHERTYPE_IPV6)
		parse_ipv6(fl, f, len, off);
}

/*
 * Pick the hash type by the spec's precedence (TCP, then UDP, then IP;
 * for IPv6 with extension headers the _EX types first) and lay out its
 * input: source address, destination address, then the ports.
 */
static size_t hash_input(const struct rx_flow *fl, uint32_t types,
			 uint8_t *in, uint16_t *report)
{
	size_t alen = fl->ip_version == 4 ? 4 : 16;
	const uint8_t *src = fl->src, *dst = fl->dst;
	bool tcp = fl->l4_proto == PROTO_TCP, udp = fl->l4_proto == PROTO_UDP;
	bool ports = false;

	*report = VIRTIO_NET_HASH_REPORT_NONE;
	if (fl->ip_version == 4) {
		if (tcp && types & VIRTIO_NET_RSS_HASH_TYPE_TCPv4)
			*report = VIRTIO_NET_HASH_REPORT_TCPv4;
		else if (udp && types & VIRTIO_NET_RSS_HASH_TYPE_UDPv4)
			*report = VIRTIO_NET_HASH_REPORT_UDPv4;
		else if (types & VIRTIO_NET_RSS_HASH_TYPE_IPv4)
			*report = VIRTIO_NET_HASH_REPORT_IPv4;
	} else if (fl->ip_version == 6) {
		if (fl->ipv6_ext) {
			if (tcp && types & VIRTIO_NET_RSS_HASH_TYPE_TCP_EX)
				*report = VIRTIO_NET_HASH_REPORT_TCPv6_EX;
			else if (udp && types & VIRTIO_NET_RSS_HASH_TYPE_UDP_EX)
				*report = VIRTIO_NET_HASH_REPORT_UDPv6_EX;
			else if (types & VIRTIO_NET_RSS_HASH_TYPE_IP_EX)
				*report = VIRTIO_NET_HASH_REPORT_IPv6_EX;
		}
		if (*report != VIRTIO_NET_HASH_REPORT_NONE) {
			if (fl->home)
				src = fl->home;
			if (fl->rt2_dst)
				dst = fl->rt2_dst;
		} else if (tcp && types & VIRTIO_NET_RSS_HASH_TYPE_TCPv6) {
			*report = VIRTIO_NET_HASH_REPORT_TCPv6;
		} else if (udp && types & VIRTIO_NET_RSS_HASH_TYPE_UDPv6) {
			*report = VIRTIO_NET_HASH_REPORT_UDPv6;
		} else if (types & VIRTIO_NET_RSS_HASH_TYPE_IPv6) {
			*report = VIRTIO_NET_HASH_REPORT_IPv6;
		}
	}
	if (*report == VIRTIO_NET_HASH_REPORT_NONE)
		return 0;

	switch (*report) {
	case VIRTIO_NET_HASH_REPORT_TCPv4:
	case VIRTIO_NET_HASH_REPORT_UDPv4:
	case VIRTIO_NET_HASH_REPORT_TCPv6:
	case VIRTIO_NET_HASH_REPORT_UDPv6:
	case VIRTIO_NET_HASH_REPORT_TCPv6_EX:
	case VIRTIO_NET_HASH_REPORT_UDPv6_EX:
		ports = true;
		break;
	}
	memcpy(in, src, alen);
	memcpy(in + alen, dst, alen);
	if (!ports)
		return 2 * alen;
	memcpy(in + 2 * alen, fl->ports, 4);
	return 2 * alen + 4;
}

static bool hash_frame(const void *frame, size_t len, uint32_t types,
		       const uint8_t *key, size_t key_len, uint32_t *hash,
		       uint16_t *report)
{
	uint8_t in[36];
	struct rx_flow fl;
	size_t n;

	parse_frame(&fl, frame, len);
	n = hash_input(&fl, types, in, report);
	*hash = n ? net_toeplitz_hash(key, key_len, in, n) : 0;
	return n != 0;
}

bool net_rss_hash(const struct net_state *st, const void *frame, size_t len,
		  uint32_t *hash, uint16_t *report)
{
	size_t key_len = st->hash.key_len < NET_RSS_MAX_KEY ?
			 st->hash.key_len : NET_RSS_MAX_KEY;

	return hash_frame(frame, len, st->hash.types, st->hash.key, key_len,
			  hash, report);
}

uint16_t net_rx_select_queue(const struct net_state *st, const void *frame,
			     size_t len, uint32_t *hash, uint16_t *report)
{
	uint16_t pairs = st->curr_queue_pairs, queue;
	bool rss = st->rss.enabled && net_has_feature(st, VIRTIO_NET_F_RSS);
	uint32_t flow;
	uint16_t type;
	bool hashed = false;

	if (pairs < 1 || pairs > net_state_max_pairs(st))
		pairs = pairs < 1 ? 1 : net_state_max_pairs(st);

	*hash = 0;
	*report = VIRTIO_NET_HASH_REPORT_NONE;
	if (rss || net_has_feature(st, VIRTIO_NET_F_HASH_REPORT))
		hashed = net_rss_hash(st, frame, len, hash, report);

	if (rss) {
		if (hashed)
			queue = st->rss.table[*hash & st->rss.table_mask &
					      (NET_RSS_MAX_TABLE - 1)];
		else
			queue = st->rss.unclassified_queue;
		/* RSS_CONFIG validated the queues; this only guards restores. */
		return queue < pairs ? queue : queue % pairs;
	}
	if (pairs == 1)
		return 0;
	/*
	 * Automatic steering: keep each flow on one queue. Non-IP frames have
	 * no flow and go to the first queue.
	 */
	if (!hash_frame(frame, len, NET_HASH_TYPES_ALL, flow_key,
			sizeof(flow_key), &flow, &type))
		return 0;
	return flow % pairs;
}

size_t net_rx_hdr_len(const struct net_state *st)
{
	if (net_has_feature(st, VIRTIO_NET_F_HASH_REPORT))
		return sizeof(struct virtio_net_hdr_v1_hash);
	if (net_has_feature(st, VIRTIO_F_VERSION_1) ||
	    net_has_feature(st, VIRTIO_NET_F_MRG_RXBUF))
		return sizeof(struct virtio_net_hdr_v1);
	return sizeof(struct virtio_net_hdr);
}

void net_rx_fill_hash_report(const struct net_state *st, void *hdr,
			     uint32_t hash, uint16_t report)
{
	uint8_t *p = hdr;

	if (!p || !net_has_feature(st, VIRTIO_NET_F_HASH_REPORT))
		return;
	put_le32(p + HDR_HASH_VALUE_OFF, hash);
	put_le16(p + HDR_HASH_REPORT_OFF, report);
	put_le16(p + HDR_HASH_PAD_OFF, 0);
}
