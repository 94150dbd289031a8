/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-net receive decisions for one Ethernet frame (no virtio header):
 * whether the receive filter passes it, its Toeplitz hash, and which
 * receive queue it goes to. Reads struct net_state, never changes it.
 */
#ifndef VLAB_VIRTIO_NET_RX_H
#define VLAB_VIRTIO_NET_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/net/net_state.h"

/*
 * True if the device passes @frame to the driver under the rx mode, MAC
 * tables, own MAC and (with CTRL_VLAN) the VLAN filter.
 */
bool net_rx_filter_accept(const struct net_state *st, const void *frame,
			  size_t len);

/*
 * The Toeplitz hash of @in under @key; key bytes past @key_len count as
 * zero, so any key length is safe.
 */
uint32_t net_toeplitz_hash(const uint8_t *key, size_t key_len,
			   const uint8_t *in, size_t in_len);

/*
 * Hash @frame with the enabled hash types and key (st->hash), as the spec's
 * "Hash calculation for incoming packets" defines. Returns false, with
 * *hash 0 and *report VIRTIO_NET_HASH_REPORT_NONE, if no enabled type
 * applies; otherwise *report is the VIRTIO_NET_HASH_REPORT_* of the type.
 */
bool net_rss_hash(const struct net_state *st, const void *frame, size_t len,
		  uint32_t *hash, uint16_t *report);

/*
 * The receive queue (0-based pair number, < curr_queue_pairs) for @frame:
 * the RSS indirection table when RSS_CONFIG is in force, otherwise a flow
 * hash across the pairs in use. *hash and *report are what the hash report
 * carries (computed with RSS or HASH_REPORT, else zero / NONE).
 */
uint16_t net_rx_select_queue(const struct net_state *st, const void *frame,
			     size_t len, uint32_t *hash, uint16_t *report);

/* Bytes of virtio-net header each receive buffer starts with. */
size_t net_rx_hdr_len(const struct net_state *st);

/*
 * Fill hash_value and hash_report of a struct virtio_net_hdr_v1_hash at
 * @hdr when HASH_REPORT is negotiated; otherwise leave it alone.
 */
void net_rx_fill_hash_report(const struct net_state *st, void *hdr,
			     uint32_t hash, uint16_t report);

#endif
