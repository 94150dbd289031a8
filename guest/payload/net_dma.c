// SPDX-License-Identifier: GPL-2.0
/*
 * net_dma: what a NIC writes into guest memory, checked after a move.
 *
 * The guest sends numbered frames to itself through a loop backend
 * (--net loop or --vdpa loop). A migration that does not track the
 * device's writes (a passthrough vDPA NIC) leaves receive buffers at the
 * destination older than what the device had acknowledged putting in
 * them, and this payload finds them.
 *
 * The check: after sequence number S is sent, two laps of the receive
 * ring are taken (every buffer refilled at least once, the ring being
 * used in order) without the guest reading a byte of any buffer, then
 * every buffer must hold a frame numbered S or later. Not reading matters:
 * where KVM shadows the guest's page tables a read can map a page
 * writable and mark it dirty, and migration would then send the page
 * again and hide the loss.
 *
 * secs=S (5): traffic, reading every frame, for S seconds; then the laps
 * and the check.
 *
 * until=request, for a migration test, in phases the test steps through
 * with `vlab ctl SOCK test-request value=N` (the test-exit device's port):
 *   1. two laps, reading every frame, then idle: "net_dma: every buffer
 *      written; idle until asked", until the port reads 1 or more. A
 *      migration started now sends the buffers with no frame in flight.
 *      With stream=1, traffic instead, reading every frame, all along.
 *   2. on 1: the two unread laps; "net_dma: quiet after F frames", and
 *      nothing more until the port reads 2 or more;
 *   3. on 2: the check.
 * setmac=1: first move the NIC to another MAC address and switch
 * promiscuous mode off (CTRL_MAC_ADDR, CTRL_RX); then every other frame
 * goes to the old address (tag 1), and one of those received, or found
 * in a buffer, is bad: the device must keep filtering (across a
 * migration, a vDPA device must have the settings replayed into it).
 * cvq_churn=1 (with stream=1): a VLAN added after each batch of frames, so
 * the control state changes all through a migration.
 * ballast=PAGES: in phases 1 and 2, also write that many pages round robin
 * (4 a loop), so that pre-copy cannot converge before the guest is quiet.
 *
 * The report: net_dma: F frames, B bad, L lost, S of N buffers stale
 * Bad: a frame read that is not the next one sent (a duplicate, an old
 * one, a malformed one), or a completion the driver refused. Lost: frames
 * skipped in the sequence while reading (a loop backend's queue does not
 * migrate), counted, not failed. Exit 0 only if nothing was bad or stale.
 * cmdline: secs=S, until=request, stream=1, size=BYTES (1000), ballast=PAGES
 * (0), setmac=1, cvq_churn=1, and the vpmd options.
 */
#include "virtio_pmd.h"

PAYLOAD_NAME("net_dma");

#define IDLE_US		200000		/* the receive queue quiet this long: drained */
#define CHECK_US	20000		/* how often to look at the request port */
#define LAPS_US		10000000	/* two laps of the receive ring, at most */

static struct vpmd_config cfg;
static struct vpmd_dev dev;
static uint8_t frame[VPMD_FRAME_MAX], rxbuf[VPMD_FRAME_MAX];
static uint64_t frames, bad, lost;
static uint32_t seq, next_seq, frame_size;
static uint8_t old_mac[VPMD_ETH_ALEN];	/* setmac: frames to it must not arrive */
static bool decoys;
static uint8_t *heavy;			/* the ballast */
static uint64_t ballast, ballast_next;

/* Dirty 4 more pages of the ballast, round robin. */
static void write_ballast(void)
{
	int k;

	for (k = 0; heavy && k < 4; k++, ballast_next = (ballast_next + 1) % ballast)
		heavy[ballast_next * 4096 + (frames & 4095)] = (uint8_t)ballast_next;
}

/* Take every used receive buffer (reading it, or not); -1 if the queue broke. */
static int rx_all(bool read)
{
	struct vpmd_test_hdr *h;
	uint32_t len;
	int r, n = 0, vid;

	for (;;) {
		r = read ? vpmd_rx(&dev, rxbuf, sizeof(rxbuf), &len) : vpmd_rx_skip(&dev);
		if (r <= 0)
			break;
		n++;
		frames++;
		if (!read)
			continue;
		h = vpmd_frame_parse(rxbuf, len, &vid);
		if (!h || h->seq < next_seq || h->tag) {
			bad++;
			continue;
		}
		lost += h->seq - next_seq;
		next_seq = h->seq + 1;
	}
	if (r < 0)
		bad++;
	return dev.rx.broken ? -1 : n;
}

/* Send and take frames until @want more were taken or @us passed, then drain. */
static void traffic(uint64_t want, uint64_t us, bool read)
{
	uint64_t end = vpmd_deadline_us(us), until = frames + want, idle;
	uint32_t flen = 0, built = seq + 1;

	while (frames < until && !vpmd_expired(end)) {
		bool decoy = decoys && (seq & 1);

		/* Built once per number: a full TX ring has us try the same frame again. */
		if (built != seq) {
			flen = vpmd_frame_build(frame, decoy ? old_mac : dev.mac, dev.mac,
						VPMD_NO_VLAN, seq, decoy, frame_size);
			built = seq;
		}
		if (!vpmd_tx(&dev, frame, flen))
			seq++;
		vpmd_tx_reap(&dev);
		if (rx_all(read) < 0 || dev.tx.broken)
			return;
		write_ballast();
	}
	idle = vpmd_deadline_us(IDLE_US);
	while (!vpmd_expired(idle) && !dev.rx.broken) {
		vpmd_tx_reap(&dev);
		if (rx_all(read) > 0)
			idle = vpmd_deadline_us(IDLE_US);
		write_ballast();
	}
}

/* Spin (writing the ballast if @busy) until the request port reads @value or more. */
static void wait_request(uint8_t value, bool busy)
{
	uint64_t check = 0;

	for (;;) {
		if (busy)
			write_ballast();
		if (vpmd_expired(check)) {
			/* A port read traps to the #GP handler here: not every loop. */
			if (inb(TEST_REQUEST_PORT) >= value)
				return;
			check = vpmd_deadline_us(CHECK_US);
		}
	}
}

/* Buffers that do not hold a frame numbered @first or later. */
static uint32_t buffers_stale(uint32_t first)
{
	uint32_t i, stale = 0;
	int vid;

	for (i = 0; i < dev.rx.size; i++) {
		uint8_t *b = dev.rx_bufs + (uint64_t)i * dev.rx_buf_len + dev.hdr_len;
		struct vpmd_test_hdr *h = vpmd_frame_parse(b, VPMD_ETH_HLEN + sizeof(*h) +
							   frame_size, &vid);

		if (h && h->tag)
			bad++;		/* a decoy got through the filter */
		else if (!h || h->seq < first)
			stale++;
	}
	return stale;
}

/* Another MAC address, promiscuous mode off: only frames to it come in. */
static int set_mac(void)
{
	uint8_t mac[VPMD_ETH_ALEN], off = 0;

	if (!vpmd_has(&dev, VIRTIO_NET_F_CTRL_MAC_ADDR) || !vpmd_has(&dev, VIRTIO_NET_F_CTRL_RX)) {
		printf("net_dma: setmac=1 needs CTRL_MAC_ADDR and CTRL_RX\n");
		return -1;
	}
	memcpy(mac, dev.mac, sizeof(mac));
	mac[5] ^= 0x80;
	if (vpmd_ctrl(&dev, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6) ||
	    vpmd_ctrl(&dev, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &off, 1)) {
		printf("net_dma: the device refused the new MAC or promiscuous off\n");
		return -1;
	}
	memcpy(old_mac, dev.mac, sizeof(mac));
	memcpy(dev.mac, mac, sizeof(mac));
	decoys = true;
	printf("net_dma: MAC %s, promiscuous off\n", vpmd_mac_str(mac));
	return 0;
}

int payload_main(void)
{
	const char *until = payload_arg("until");
	bool until_request = until && !strcmp(until, "request");
	uint64_t secs = payload_arg_u64("secs", 5), size = payload_arg_u64("size", 1000);
	uint32_t stale, first;

	ballast = payload_arg_u64("ballast", 0);
	heavy = ballast ? vpmd_alloc(ballast * 4096, 4096) : NULL;
	vpmd_config_init(&cfg);
	if (vpmd_config_from_cmdline(&cfg) || vpmd_probe(&dev) || vpmd_init(&dev, &cfg) ||
	    (ballast && !heavy) || (payload_arg_u64("setmac", 0) && set_mac()))
		return 1;
	if (size > VPMD_FRAME_MAX - VPMD_ETH_HLEN - sizeof(struct vpmd_test_hdr))
		size = VPMD_FRAME_MAX - VPMD_ETH_HLEN - sizeof(struct vpmd_test_hdr);
	frame_size = (uint32_t)size;
	printf("net_dma: %s ring%s, %u buffers of %u bytes, %lu-byte frames to itself\n",
	       vpmd_config_ring(&cfg), vpmd_has(&dev, VIRTIO_F_IN_ORDER) ? " in order" : "",
	       dev.rx.size, dev.rx_buf_len, size);

	if (until_request && payload_arg_u64("stream", 0)) {
		bool churn = payload_arg_u64("cvq_churn", 0);
		uint16_t vid = 0;

		if (churn && !vpmd_has(&dev, VIRTIO_NET_F_CTRL_VLAN)) {
			printf("net_dma: cvq_churn=1 needs CTRL_VLAN\n");
			return 1;
		}
		printf("net_dma: streaming until asked\n");
		while (!dev.rx.broken && !dev.tx.broken && inb(TEST_REQUEST_PORT) == 0) {
			traffic(16 * dev.rx.size, LAPS_US, true);
			/* The control state changes all along (untagged frames pass). */
			vid = vid % 4000 + 1;
			if (churn && vpmd_ctrl(&dev, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD,
					       &vid, 2)) {
				printf("net_dma: the device refused VLAN %u\n", vid);
				bad++;
			}
		}
	} else if (until_request) {
		traffic(2 * dev.rx.size, LAPS_US, true);
		printf("net_dma: every buffer written; idle until asked\n");
		wait_request(1, true);
	} else {
		traffic(UINT64_MAX / 2, secs * 1000000, true);
	}
	lost += seq - next_seq;
	first = seq;
	traffic(2 * dev.rx.size, LAPS_US, false);
	printf("net_dma: quiet after %lu frames\n", frames);
	if (until_request)
		wait_request(2, false);

	stale = buffers_stale(first);
	printf("net_dma: %lu frames, %lu bad, %lu lost, %u of %u buffers stale%s\n", frames,
	       bad, lost, stale, dev.rx.size,
	       dev.rx.broken || dev.tx.broken ? " (a queue broke)" : "");
	return bad || stale || dev.rx.broken || dev.tx.broken || !frames;
}
