// SPDX-License-Identifier: GPL-2.0
/*
 * net_cvq: the virtio-net control queue, command by command, and the
 * receive filter each command implies, through `--net loop` (every frame
 * the device sends comes back to it, so the device's own receive filter
 * decides what the driver sees).
 *
 * Whether a frame was dropped is decided without timeouts: each probe
 * sends its frames followed by a sentinel addressed to our own MAC. The
 * loop keeps frames in order and the filter sees them in order, so once
 * the sentinel is received every frame sent before it has either arrived
 * or been dropped.
 *
 * Commands checked (virtio 1.2, 5.1.6.5): RX PROMISC off/on, NOBCAST
 * (CTRL_RX_EXTRA), MAC TABLE_SET, MAC ADDR_SET (and the configuration
 * space following it), VLAN ADD/DEL, and malformed commands that must be
 * answered VIRTIO_NET_ERR while the device and its filter state carry on.
 *
 * cmdline: ring=split|packed and the other vpmd options.
 */
#include "virtio_pmd.h"

PAYLOAD_NAME("net_cvq");

#define PROBE_TIMEOUT_US	2000000
#define PROBE_MAX		16
#define SENTINEL		0xff
#define PATTERN_LEN		32

struct probe {
	const char *what;
	const uint8_t *dst;
	int vid;
	bool arrives;		/* expected */
};

static struct vpmd_config cfg;
static struct vpmd_dev dev;
static uint8_t own[VPMD_ETH_ALEN];	/* the station address right now */
static uint8_t frame[VPMD_FRAME_MAX], rxbuf[VPMD_FRAME_MAX];
static unsigned int step, checks, failures;

static const uint8_t foreign[VPMD_ETH_ALEN] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
static const uint8_t foreign2[VPMD_ETH_ALEN] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcd };
static const uint8_t new_mac[VPMD_ETH_ALEN] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x42 };
static const uint8_t group[VPMD_ETH_ALEN] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
static const uint8_t group2[VPMD_ETH_ALEN] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };

static void fail(void)
{
	failures++;
}

/* Send @n probe frames and the sentinel; compare what came back with what should. */
static void probe(const char *name, const struct probe *p, unsigned int n)
{
	bool seen[PROBE_MAX] = { false }, done = false;
	uint64_t deadline;
	unsigned int i;
	uint32_t len;
	int vid;

	step++;
	for (i = 0; i <= n; i++) {
		bool sentinel = i == n;
		uint32_t flen = vpmd_frame_build(frame, sentinel ? own : p[i].dst, own,
						 sentinel ? VPMD_NO_VLAN : p[i].vid, i,
						 step << 8 | (sentinel ? SENTINEL : i),
						 PATTERN_LEN);

		if (vpmd_tx(&dev, frame, flen)) {
			printf("net_cvq: %s: TX queue full\n", name);
			fail();
			return;
		}
	}
	deadline = vpmd_deadline_us(PROBE_TIMEOUT_US);
	while (!done && !vpmd_expired(deadline)) {
		struct vpmd_test_hdr *h;
		int r = vpmd_rx(&dev, rxbuf, sizeof(rxbuf), &len);

		vpmd_tx_reap(&dev);
		if (r <= 0)
			continue;
		h = vpmd_frame_parse(rxbuf, len, &vid);
		if (!h || h->tag >> 8 != step)
			continue;	/* left over from an earlier probe */
		if ((h->tag & 0xff) == SENTINEL) {
			done = true;
		} else if ((h->tag & 0xff) < n) {
			i = h->tag & 0xff;
			if (vid != p[i].vid) {
				printf("net_cvq: %s: %s: VLAN %d came back as %d\n",
				       name, p[i].what, p[i].vid, vid);
				fail();
			}
			seen[i] = true;
		}
	}
	if (!done) {
		printf("net_cvq: %s: the sentinel to %s never arrived; status 0x%x\n",
		       name, vpmd_mac_str(own), vpmd_status(&dev));
		fail();
		return;
	}
	printf("net_cvq: %s:", name);
	for (i = 0; i < n; i++) {
		checks++;
		printf(" %s %s%s", p[i].what, seen[i] ? "in" : "dropped",
		       seen[i] != p[i].arrives ? " (WRONG)" : "");
		if (seen[i] != p[i].arrives)
			fail();
		printf(i + 1 < n ? "," : "\n");
	}
}

/* One command; its ack must be @want. */
static int command(const char *what, uint8_t cls, uint8_t cmd, const void *data,
		   uint32_t len, int want)
{
	int ack = vpmd_ctrl(&dev, cls, cmd, data, len);

	checks++;
	if (ack != want) {
		printf("net_cvq: %s: ack %d, want %d\n", what, ack, want);
		fail();
		return -1;
	}
	printf("net_cvq: %s: %s\n", what, ack == VIRTIO_NET_OK ? "OK" : "ERR");
	return 0;
}

static int rx_mode(const char *what, uint8_t cmd, uint8_t on)
{
	return command(what, VIRTIO_NET_CTRL_RX, cmd, &on, 1, VIRTIO_NET_OK);
}

/* MAC TABLE_SET data: le32 count and addresses, unicast then multicast. */
static uint32_t mac_tables(uint8_t *buf, const uint8_t *const *uni, uint32_t nu,
			   const uint8_t *const *multi, uint32_t nm)
{
	uint32_t off = 0, i;

	memcpy(buf + off, &nu, 4);
	off += 4;
	for (i = 0; i < nu; i++, off += VPMD_ETH_ALEN)
		memcpy(buf + off, uni[i], VPMD_ETH_ALEN);
	memcpy(buf + off, &nm, 4);
	off += 4;
	for (i = 0; i < nm; i++, off += VPMD_ETH_ALEN)
		memcpy(buf + off, multi[i], VPMD_ETH_ALEN);
	return off;
}

static void check_config_mac(const char *what, const uint8_t *want)
{
	uint8_t mac[VPMD_ETH_ALEN];

	vpmd_read_mac(&dev, mac);
	checks++;
	if (memcmp(mac, want, VPMD_ETH_ALEN)) {
		printf("net_cvq: %s: config space mac %s, want %s\n", what,
		       vpmd_mac_str(mac), vpmd_mac_str(want));
		fail();
	}
}

static void check_alive(const char *what)
{
	uint8_t st = vpmd_status(&dev);

	checks++;
	if ((st & VIRTIO_STATUS_NEEDS_RESET) || !(st & VIRTIO_STATUS_DRIVER_OK)) {
		printf("net_cvq: %s: status 0x%x\n", what, st);
		fail();
	}
}

static void malformed(void)
{
	static const uint8_t mcast_station[VPMD_ETH_ALEN] = { 0x03, 0, 0, 0, 0, 1 };
	uint8_t hdr[2] = { VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET };
	uint8_t lie[12] = { 0xe8, 0x03, 0, 0 };	/* 1000 unicast entries, 8 bytes follow */
	uint8_t two[2] = { 1, 0 }, vid[2] = { 0x00, 0x10 };	/* VID 4096 */
	struct vpmd_sg sg[2] = { { hdr, 2 }, { lie, sizeof(lie) } };
	int ack;

	ack = vpmd_ctrl_raw(&dev, sg, 2);
	checks++;
	if (ack != VIRTIO_NET_ERR) {
		printf("net_cvq: MAC TABLE_SET counting 1000 entries in 12 bytes: ack %d\n", ack);
		fail();
	} else {
		printf("net_cvq: MAC TABLE_SET counting 1000 entries in 12 bytes: ERR\n");
	}
	/* Only the class byte: the header itself is short. */
	sg[0].len = 1;
	ack = vpmd_ctrl_raw(&dev, sg, 1);
	checks++;
	if (ack != VIRTIO_NET_ERR) {
		printf("net_cvq: a 1-byte command: ack %d\n", ack);
		fail();
	} else {
		printf("net_cvq: a 1-byte command: ERR\n");
	}
	command("RX PROMISC with 2 data bytes", VIRTIO_NET_CTRL_RX,
		VIRTIO_NET_CTRL_RX_PROMISC, two, 2, VIRTIO_NET_ERR);
	command("class 0x55", 0x55, 0, two, 1, VIRTIO_NET_ERR);
	command("MAC ADDR_SET to a group address", VIRTIO_NET_CTRL_MAC,
		VIRTIO_NET_CTRL_MAC_ADDR_SET, mcast_station, VPMD_ETH_ALEN,
		VIRTIO_NET_ERR);
	command("VLAN ADD 4096", VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD,
		vid, 2, VIRTIO_NET_ERR);
	check_alive("after malformed commands");
}

int payload_main(void)
{
	const uint8_t *uni[1] = { foreign }, *multi[1] = { group };
	uint8_t tables[64], perm[VPMD_ETH_ALEN], gen;
	uint16_t vid100 = 100;
	uint32_t tlen;

	vpmd_config_init(&cfg);
	/* NOBCAST lives in CTRL_RX_EXTRA; everything here needs the CVQ classes. */
	cfg.want |= VPMD_BIT(VIRTIO_NET_F_CTRL_RX_EXTRA);
	cfg.need |= VPMD_BIT(VIRTIO_NET_F_MAC) | VPMD_BIT(VIRTIO_NET_F_CTRL_VQ) |
		    VPMD_BIT(VIRTIO_NET_F_CTRL_RX) | VPMD_BIT(VIRTIO_NET_F_CTRL_VLAN) |
		    VPMD_BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) |
		    VPMD_BIT(VIRTIO_NET_F_CTRL_RX_EXTRA);
	if (vpmd_config_from_cmdline(&cfg) || vpmd_probe(&dev) || vpmd_init(&dev, &cfg))
		return 1;
	memcpy(own, dev.mac, VPMD_ETH_ALEN);
	memcpy(perm, dev.mac, VPMD_ETH_ALEN);
	printf("net_cvq: %s ring, queue size %u, features 0x%lx, mac %s\n",
	       vpmd_config_ring(&cfg), dev.ctrl.size, dev.features, vpmd_mac_str(own));

	/* Reset default: promiscuous, so even VLANs nobody added come in. */
	probe("default (promiscuous)", (const struct probe[]){
		{ "foreign", foreign, VPMD_NO_VLAN, true },
		{ "bcast", vpmd_bcast, VPMD_NO_VLAN, true },
		{ "group", group, VPMD_NO_VLAN, true },
		{ "vlan100", own, 100, true },
	}, 4);

	rx_mode("RX PROMISC off", VIRTIO_NET_CTRL_RX_PROMISC, 0);
	probe("promisc off", (const struct probe[]){
		{ "foreign", foreign, VPMD_NO_VLAN, false },
		{ "own", own, VPMD_NO_VLAN, true },
		{ "bcast", vpmd_bcast, VPMD_NO_VLAN, true },
		{ "group", group, VPMD_NO_VLAN, false },
		{ "vlan100", own, 100, false },
	}, 5);

	tlen = mac_tables(tables, uni, 1, multi, 1);
	command("MAC TABLE_SET uni [foreign] multi [group]", VIRTIO_NET_CTRL_MAC,
		VIRTIO_NET_CTRL_MAC_TABLE_SET, tables, tlen, VIRTIO_NET_OK);
	probe("mac table", (const struct probe[]){
		{ "foreign", foreign, VPMD_NO_VLAN, true },
		{ "foreign2", foreign2, VPMD_NO_VLAN, false },
		{ "group", group, VPMD_NO_VLAN, true },
		{ "group2", group2, VPMD_NO_VLAN, false },
	}, 4);
	tlen = mac_tables(tables, NULL, 0, NULL, 0);
	command("MAC TABLE_SET empty", VIRTIO_NET_CTRL_MAC,
		VIRTIO_NET_CTRL_MAC_TABLE_SET, tables, tlen, VIRTIO_NET_OK);
	probe("mac table empty", (const struct probe[]){
		{ "foreign", foreign, VPMD_NO_VLAN, false },
		{ "group", group, VPMD_NO_VLAN, false },
	}, 2);

	rx_mode("RX NOBCAST on", VIRTIO_NET_CTRL_RX_NOBCAST, 1);
	probe("nobcast", (const struct probe[]){
		{ "bcast", vpmd_bcast, VPMD_NO_VLAN, false },
	}, 1);
	rx_mode("RX NOBCAST off", VIRTIO_NET_CTRL_RX_NOBCAST, 0);
	probe("bcast again", (const struct probe[]){
		{ "bcast", vpmd_bcast, VPMD_NO_VLAN, true },
	}, 1);

	gen = vpmd_config_generation(&dev);
	if (!command("MAC ADDR_SET 52:54:00:00:00:42", VIRTIO_NET_CTRL_MAC,
		     VIRTIO_NET_CTRL_MAC_ADDR_SET, new_mac, VPMD_ETH_ALEN, VIRTIO_NET_OK)) {
		check_config_mac("after ADDR_SET", new_mac);
		checks++;
		if (vpmd_config_generation(&dev) == gen) {
			printf("net_cvq: ADDR_SET left config_generation at %u\n", gen);
			fail();
		}
		memcpy(own, new_mac, VPMD_ETH_ALEN);
	}
	probe("new station address", (const struct probe[]){
		{ "old-mac", perm, VPMD_NO_VLAN, false },
		{ "new-mac", new_mac, VPMD_NO_VLAN, true },
	}, 2);
	if (!command("MAC ADDR_SET back", VIRTIO_NET_CTRL_MAC,
		     VIRTIO_NET_CTRL_MAC_ADDR_SET, perm, VPMD_ETH_ALEN, VIRTIO_NET_OK))
		memcpy(own, perm, VPMD_ETH_ALEN);
	check_config_mac("after ADDR_SET back", perm);

	command("VLAN ADD 100", VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD,
		&vid100, 2, VIRTIO_NET_OK);
	probe("vlan 100 added", (const struct probe[]){
		{ "vlan100", own, 100, true },
		{ "vlan200", own, 200, false },
		{ "untagged", own, VPMD_NO_VLAN, true },
	}, 3);
	command("VLAN DEL 100", VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_DEL,
		&vid100, 2, VIRTIO_NET_OK);
	probe("vlan 100 deleted", (const struct probe[]){
		{ "vlan100", own, 100, false },
	}, 1);

	/* Refused, and nothing changed: promisc is still off, the MAC still ours. */
	malformed();
	probe("after malformed", (const struct probe[]){
		{ "foreign", foreign, VPMD_NO_VLAN, false },
		{ "own", own, VPMD_NO_VLAN, true },
	}, 2);
	check_config_mac("after malformed", perm);

	rx_mode("RX PROMISC on", VIRTIO_NET_CTRL_RX_PROMISC, 1);
	probe("promisc on", (const struct probe[]){
		{ "foreign", foreign, VPMD_NO_VLAN, true },
		{ "vlan200", own, 200, true },
	}, 2);

	check_alive("at the end");
	printf("net_cvq: %u checks, %u failed; %lu commands, %lu frames sent, %lu received\n",
	       checks, failures, dev.stats.ctrl_cmds, dev.stats.tx_frames,
	       dev.stats.rx_frames);
	vpmd_reset(&dev);
	return failures ? 1 : 0;
}
