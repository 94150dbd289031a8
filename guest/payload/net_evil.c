// SPDX-License-Identifier: GPL-2.0
/*
 * net_evil: a malicious virtio-net driver. It publishes on the TX queue
 * what no correct driver would (a descriptor loop, a buffer outside guest
 * RAM) and checks that the device answers the way virtio 1.2 section
 * 2.1.2 asks: DEVICE_NEEDS_RESET in the status, nothing worse, and a reset
 * followed by a fresh initialisation brings it back to work, proved by a
 * frame round trip through `--net loop`. It also checks that the device
 * refuses a driver that does not accept VERSION_1 (FEATURES_OK must not
 * stick).
 *
 * cmdline: ring=split|packed, qsize=, and the other vpmd options.
 */
#include "virtio_pmd.h"

PAYLOAD_NAME("net_evil");

#define NEEDS_RESET_TIMEOUT_US	2000000
#define ROUND_TRIP_TIMEOUT_US	2000000
/* Far above any guest RAM, still a canonical address. */
#define BAD_ADDR		0x00007f0000000000ULL

static struct vpmd_config cfg;
static struct vpmd_dev dev;
static uint8_t frame[VPMD_FRAME_MAX], rxbuf[VPMD_FRAME_MAX];
static uint32_t round_trip_tag;

/* One frame to our own MAC through the loop backend, and back. */
static int round_trip(const char *when)
{
	uint64_t deadline, t0 = rdtsc();
	uint32_t tag = ++round_trip_tag, len, flen;
	int vid, r;

	flen = vpmd_frame_build(frame, dev.mac, dev.mac, VPMD_NO_VLAN, 1, tag, 200);
	if (vpmd_tx(&dev, frame, flen)) {
		printf("net_evil: %s: cannot queue the frame\n", when);
		return -1;
	}
	deadline = vpmd_deadline_us(ROUND_TRIP_TIMEOUT_US);
	while (!vpmd_expired(deadline)) {
		struct vpmd_test_hdr *h;

		vpmd_tx_reap(&dev);
		r = vpmd_rx(&dev, rxbuf, sizeof(rxbuf), &len);
		if (r < 0)
			return -1;
		if (!r)
			continue;
		/* Frames queued before a reset may still come out of the loop. */
		h = vpmd_frame_parse(rxbuf, len, &vid);
		if (!h || h->tag != tag)
			continue;
		if (len != flen || memcmp(rxbuf, frame, 12)) {
			printf("net_evil: %s: frame came back changed (%u bytes, sent %u)\n",
			       when, len, flen);
			return -1;
		}
		printf("net_evil: %s: round trip ok in %lu us\n", when,
		       payload_tsc_to_us(rdtsc() - t0));
		return 0;
	}
	printf("net_evil: %s: frame did not come back; status 0x%x\n", when,
	       vpmd_status(&dev));
	return -1;
}

/*
 * Split: two descriptors that name each other as next. Packed: every
 * descriptor of the ring made available with NEXT set, so the chain never
 * ends (the packed layout's way of looping). Neither touches the driver's
 * bookkeeping: the device must be reset afterwards anyway.
 */
static void publish_loop(struct vpmd_queue *q, void *buf)
{
	struct vdrv *d = &q->vr;
	uint16_t i;

	if (!q->packed) {
		uint16_t a = d->free_head, b = d->next[a];

		d->desc[a] = (struct vring_desc){
			(uintptr_t)buf, 64, VRING_DESC_F_NEXT, b };
		d->desc[b] = (struct vring_desc){
			(uintptr_t)buf, 64, VRING_DESC_F_NEXT, a };
		d->avail->ring[d->avail_idx & (q->size - 1)] = a;
		d->avail_idx++;
		printf("net_evil: split: descriptors %u -> %u -> %u ... on TX\n", a, b, a);
	} else {
		uint16_t pos = d->next_avail, head = pos, head_flags = 0;
		bool wrap = d->avail_wrap;

		for (i = 0; i < q->size; i++) {
			uint16_t flags = VRING_DESC_F_NEXT | (wrap ? VDRV_AVAIL : VDRV_USED);

			d->pdesc[pos].addr = (uintptr_t)buf;
			d->pdesc[pos].len = 64;
			d->pdesc[pos].id = 0;
			if (i == 0)
				head_flags = flags;
			else
				d->pdesc[pos].flags = flags;
			if (++pos == q->size) {
				pos = 0;
				wrap = !wrap;
			}
		}
		__atomic_store_n(&d->pdesc[head].flags, head_flags, __ATOMIC_RELEASE);
		d->kick_added += q->size;
		printf("net_evil: packed: all %u descriptors chained with NEXT on TX\n",
		       q->size);
	}
	vpmd_queue_kick(q);
}

/* A well-formed buffer whose address is outside guest RAM. */
static void publish_bad_addr(struct vpmd_queue *q)
{
	struct vpmd_sg sg = { (const void *)BAD_ADDR, 64 };

	printf("net_evil: TX buffer at 0x%llx\n", BAD_ADDR);
	vpmd_queue_add(q, &sg, 1, 0, (void *)1);
	vpmd_queue_kick(q);
}

static int wait_needs_reset(const char *what)
{
	uint64_t t0 = rdtsc(), deadline = vpmd_deadline_us(NEEDS_RESET_TIMEOUT_US);
	uint8_t st;

	do {
		st = vpmd_status(&dev);
		if (st & VIRTIO_STATUS_NEEDS_RESET) {
			printf("net_evil: %s: DEVICE_NEEDS_RESET after %lu us (status 0x%x)\n",
			       what, payload_tsc_to_us(rdtsc() - t0), st);
			return 0;
		}
	} while (!vpmd_expired(deadline));
	printf("net_evil: %s: status 0x%x, no DEVICE_NEEDS_RESET\n", what, st);
	return -1;
}

/* A driver that does not accept VERSION_1 must be refused (modern-only device). */
static int check_legacy_refused(void)
{
	uint8_t st;

	if (vpmd_reset(&dev))
		return -1;
	vpmd_set_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_write32(dev.common + 0x08, 0);	/* driver_feature_select */
	mmio_write32(dev.common + 0x0c, VPMD_BIT(VIRTIO_NET_F_MAC));
	mmio_write32(dev.common + 0x08, 1);
	mmio_write32(dev.common + 0x0c, 0);
	vpmd_set_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			VIRTIO_STATUS_FEATURES_OK);
	st = vpmd_status(&dev);
	if (st & VIRTIO_STATUS_FEATURES_OK) {
		printf("net_evil: FEATURES_OK stuck without VERSION_1 (status 0x%x)\n", st);
		return -1;
	}
	printf("net_evil: features without VERSION_1 refused (status 0x%x)\n", st);
	return 0;
}

static int recover(const char *what)
{
	if (vpmd_reset(&dev) || vpmd_init(&dev, &cfg)) {
		printf("net_evil: %s: re-initialisation failed\n", what);
		return -1;
	}
	return round_trip(what);
}

int payload_main(void)
{
	static uint8_t victim[64];

	vpmd_config_init(&cfg);
	if (vpmd_config_from_cmdline(&cfg) || vpmd_probe(&dev) || vpmd_init(&dev, &cfg))
		return 1;
	printf("net_evil: %s ring, queue size %u, features 0x%lx, mac %s\n",
	       vpmd_config_ring(&cfg), dev.tx.size, dev.features,
	       vpmd_mac_str(dev.mac));
	if (round_trip("before"))
		return 2;

	publish_loop(&dev.tx, victim);
	if (wait_needs_reset("descriptor loop"))
		return 3;
	if (recover("after loop + reset"))
		return 4;

	publish_bad_addr(&dev.tx);
	if (wait_needs_reset("address outside RAM"))
		return 5;
	if (check_legacy_refused())
		return 6;
	if (recover("after bad address + reset"))
		return 7;

	/* The device still works in the ordinary way after all that. */
	if (round_trip("final"))
		return 8;
	vpmd_reset(&dev);
	return 0;
}
