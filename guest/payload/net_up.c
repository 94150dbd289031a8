// SPDX-License-Identifier: GPL-2.0
/*
 * net_up: every virtio-net function on bus 0 brought up with pairs=N queue
 * pairs (MQ: every pair's rings set up, VQ_PAIRS_SET N), then idle, so that
 * a test or benchmark can move the guest and time what the devices cost
 * (make bench-vdpa). Nothing is sent: the measurement is the devices'.
 *
 * Idle until the test-exit port reads 1 or more (`vlab ctl SOCK
 * test-request value=1`) or secs= seconds pass; then every device must
 * still be live (DRIVER_OK, not NEEDS_RESET) and, with pairs > 1, take
 * VQ_PAIRS_SET again.
 *
 * cmdline: pairs=N (1), secs=S (600), and the vpmd options.
 * Output: "net_up: N NIC(s) up, P pair(s) each", "net_up: N NIC(s) still up".
 */
#include "virtio_pmd.h"

PAYLOAD_NAME("net_up");

#define NICS_MAX	4
#define CHECK_US	20000

static struct vpmd_config cfg;
static struct vpmd_dev devs[NICS_MAX];

int payload_main(void)
{
	uint64_t secs = payload_arg_u64("secs", 600), end, next;
	unsigned int n, live = 0;

	vpmd_config_init(&cfg);
	if (vpmd_config_from_cmdline(&cfg))
		return 1;
	for (n = 0; n < NICS_MAX && !vpmd_probe_nth(&devs[n], n); n++)
		if (vpmd_init(&devs[n], &cfg))
			return 1;
	if (!n) {
		printf("net_up: no virtio-net function\n");
		return 1;
	}
	printf("net_up: %u NIC(s) up, %u pair(s) each\n", n, cfg.pairs);
	end = vpmd_deadline_us(secs * 1000000);
	next = vpmd_deadline_us(CHECK_US);
	while (!vpmd_expired(end)) {
		if (vpmd_expired(next)) {
			if (inb(TEST_REQUEST_PORT) >= 1)
				break;
			next = vpmd_deadline_us(CHECK_US);
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		uint8_t st = vpmd_status(&devs[i]);
		uint16_t pairs = cfg.pairs;

		if (!(st & VIRTIO_STATUS_DRIVER_OK) || (st & VIRTIO_STATUS_NEEDS_RESET)) {
			printf("net_up: NIC %u: status 0x%x\n", i, st);
			continue;
		}
		/* A device that lost its control path says so here (mlx5 models MQ, not RX). */
		if (pairs > 1 && vpmd_ctrl(&devs[i], VIRTIO_NET_CTRL_MQ,
					   VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs,
					   sizeof(pairs)) != VIRTIO_NET_OK) {
			printf("net_up: NIC %u: a control command failed\n", i);
			continue;
		}
		live++;
	}
	printf("net_up: %u NIC(s) still up\n", live);
	return live == n ? 0 : 1;
}
