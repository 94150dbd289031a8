// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net's control queue commands and the receive path that obeys
 * them: the input is a feature byte, then commands (a length byte and that
 * many bytes: class, command, data) run through net_ctrl_handle(), then
 * frames (the rest, cut at the same kind of length bytes) put through the
 * receive filter, RSS queue selection and hash reporting, and read as a
 * device's STATS_GET result to carry counters (net_ctrl_stats_merge()).
 * Every state the commands leave must pass net_state_check(), as a
 * restored one must.
 */
#include <linux/virtio_net.h>

#include "fuzz.h"
#include "devices/net/net_ctrl.h"
#include "devices/net/net_rx.h"
#include "devices/net/net_state.h"

/* What the device offers (devices/net/virtio_net.c), picked bit by bit. */
static const unsigned int offered[] = {
	VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_CTRL_RX, VIRTIO_NET_F_CTRL_VLAN,
	VIRTIO_NET_F_MQ, VIRTIO_NET_F_RSS, VIRTIO_NET_F_HASH_REPORT,
	VIRTIO_NET_F_NOTF_COAL, VIRTIO_NET_F_VQ_NOTF_COAL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	uint64_t features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MAC) |
			    (1ULL << VIRTIO_NET_F_CTRL_RX_EXTRA) |
			    (1ULL << VIRTIO_NET_F_CTRL_MAC_ADDR) |
			    (1ULL << VIRTIO_NET_F_GUEST_ANNOUNCE) |
			    (1ULL << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) |
			    (1ULL << VIRTIO_NET_F_DEVICE_STATS) | (1ULL << VIRTIO_NET_F_GUEST_CSUM);
	static struct net_state st, cur;
	static uint8_t out[16384];
	struct net_ctrl_reply reply;
	size_t pos = 1, i;
	char why[160];
	unsigned int ncmds = 0;

	if (!size)
		return 0;
	for (i = 0; i < sizeof(offered) / sizeof(offered[0]); i++)
		if (data[0] & (1u << i))
			features |= 1ULL << offered[i];
	net_state_init(&st, mac, 4);
	net_state_set_features(&st, features);
	cur = st;

	/* Commands until a zero length byte. */
	while (pos < size && data[pos] && ncmds++ < 64) {
		size_t len = data[pos++];

		if (len > size - pos)
			len = size - pos;
		memset(&reply, 0, sizeof(reply));
		net_ctrl_handle(&st, data + pos, len, (data[0] & 0x80) ? NULL : out,
				(data[0] & 0x80) ? 0 : sizeof(out), &reply);
		pos += len;
		if (net_state_check(&st, &cur, features | (1ULL << VIRTIO_NET_F_MQ) |
				    (1ULL << VIRTIO_NET_F_RSS) |
				    (1ULL << VIRTIO_NET_F_HASH_REPORT) |
				    (1ULL << VIRTIO_NET_F_NOTF_COAL) |
				    (1ULL << VIRTIO_NET_F_VQ_NOTF_COAL) |
				    (1ULL << VIRTIO_NET_F_CTRL_VQ) |
				    (1ULL << VIRTIO_NET_F_CTRL_RX) |
				    (1ULL << VIRTIO_NET_F_CTRL_VLAN),
				    why, sizeof(why))) {
			fprintf(stderr, "fuzz_net: commands left a state a restore refuses: %s\n",
				why);
			abort();
		}
	}
	if (pos < size)
		pos++;
	/* Frames: the rest, in pieces of the same kind. */
	while (pos < size) {
		size_t len = data[pos++] * 8;
		uint8_t hdr[sizeof(struct virtio_net_hdr_v1_hash)];
		uint32_t hash;
		uint16_t report, q;

		if (len > size - pos)
			len = size - pos;
		net_rx_filter_accept(&st, data + pos, len);
		q = net_rx_select_queue(&st, data + pos, len, &hash, &report);
		if (q >= st.curr_queue_pairs) {
			fprintf(stderr, "fuzz_net: queue %u of %u pairs\n", q, st.curr_queue_pairs);
			abort();
		}
		net_rx_fill_hash_report(&st, hdr, hash, report);
		/* The same bytes as a device's STATS_GET result, merged both ways. */
		memcpy(out, data + pos, len);
		net_ctrl_stats_merge(&st, out, len, true);
		net_ctrl_stats_merge(&st, out, len, false);
		pos += len;
	}
	return 0;
}
