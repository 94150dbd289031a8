// SPDX-License-Identifier: GPL-2.0
/*
 * net_pmd: two guests exchanging frames through a vlab hub, each driven
 * by the polling driver (virtio_pmd.c).
 *
 * role=pong echoes every frame with ethertype 0x88b5 back to its source
 * (addresses swapped) until it has echoed count=N distinct sequence
 * numbers, then lingers briefly for retransmissions and exits 0.
 *
 * role=ping peer=MAC first sends a warm-up frame until one comes back (the
 * peer may still be booting), then sends count=N frames with sequence
 * numbers, keeping up to window=W of them in flight, and checks every echo
 * (addresses, sequence, length and pattern). A frame without an echo
 * after rto_ms is sent again; after timeout= seconds it gives up. It
 * reports round-trip times and frames per second and exits 0 only if
 * every frame came back intact.
 *
 * role=blast peer=MAC sends count=N frames as fast as the device takes
 * them in bursts of burst=B (32), handed over with one doorbell at most
 * each, as a DPDK PMD sends; nothing is expected back (a null sink), and
 * it reports frames per second and doorbells:
 * the transmit path alone, with the device's notification suppression
 * deciding how often the driver kicks. make bench-net runs it.
 *
 * role=sink counts the frames with ethertype 0x88b5 that arrive (a blast
 * aimed at it, through a hub) until count=N came or none for quiet_ms=MS
 * (500) after the first, and reports frames per second from the first to
 * the last; it exits 0 if any came within timeout=. make bench-hub runs it.
 *
 * cmdline: role=ping|pong|blast|sink peer=52:54:00:.. count=N (1000) window=W (1)
 * size=BYTES pattern bytes per frame (64) rto_ms=MS (50) timeout=S (30)
 * linger_ms=MS (100), and the vpmd options (ring=split|packed, qsize=,
 * mrg=, rxbuf=).
 */
#include "virtio_pmd.h"

PAYLOAD_NAME("net_pmd");

#define WARMUP_SEQ		0xffffffffu
#define WARMUP_EVERY_US		20000
#define TAG_PING		0x50494e47	/* "PING" */
#define WINDOW_MAX		128
#define COUNT_MAX		(1u << 20)
#define DRAIN_TIMEOUT_US	1000000

static struct vpmd_config cfg;
static struct vpmd_dev dev;
static uint8_t frame[VPMD_FRAME_MAX], rxbuf[VPMD_FRAME_MAX];
static uint8_t peer[VPMD_ETH_ALEN];
static uint32_t count, pattern_len;

/* Queue a frame, reaping TX completions until there is room. */
static int send_frame(const uint8_t *f, uint32_t len)
{
	uint64_t deadline = vpmd_deadline_us(DRAIN_TIMEOUT_US);

	while (vpmd_tx(&dev, f, len)) {
		vpmd_tx_reap(&dev);
		if (vpmd_expired(deadline)) {
			printf("net_pmd: TX queue stays full; status 0x%x\n",
			       vpmd_status(&dev));
			return -1;
		}
	}
	return 0;
}

static void drain_tx(void)
{
	uint64_t deadline = vpmd_deadline_us(DRAIN_TIMEOUT_US);

	while (vpmd_tx_pending(&dev) && !vpmd_expired(deadline))
		vpmd_tx_reap(&dev);
}

static bool is_ours(const uint8_t *f, uint32_t len)
{
	return len >= VPMD_ETH_HLEN && f[12] == (VPMD_ETHERTYPE >> 8) &&
	       f[13] == (VPMD_ETHERTYPE & 0xff);
}

/* ---- pong ---- */

static int pong(void)
{
	uint64_t timeout_us = payload_arg_u64("timeout", 30) * 1000000;
	uint64_t linger_us = payload_arg_u64("linger_ms", 100) * 1000;
	uint64_t idle = vpmd_deadline_us(timeout_us), linger = 0;
	uint64_t echoed = 0, repeats = 0, foreign = 0, t0 = 0;
	uint8_t *seen = vpmd_alloc(count, 8);
	uint32_t distinct = 0, len;
	int vid;

	if (!seen)
		return 1;
	printf("net_pmd: pong: %s, echoing until %u distinct frames\n",
	       vpmd_mac_str(dev.mac), count);
	for (;;) {
		struct vpmd_test_hdr *h;
		int r = vpmd_rx(&dev, rxbuf, sizeof(rxbuf), &len);

		if (r < 0)
			return 2;
		if (r > 0 && is_ours(rxbuf, len) &&
		    memcmp(rxbuf + VPMD_ETH_ALEN, dev.mac, VPMD_ETH_ALEN)) {
			/* Parse before reflecting: the pattern check needs the frame as sent. */
			h = vpmd_frame_parse(rxbuf, len, &vid);
			vpmd_frame_reflect(rxbuf, dev.mac);
			if (send_frame(rxbuf, len))
				return 3;
			if (!echoed++)
				t0 = rdtsc();
			idle = vpmd_deadline_us(timeout_us);
			if (!h || h->seq == WARMUP_SEQ) {
				/* Echoed all the same: the pinger judges. */
			} else if (h->seq >= count || seen[h->seq]) {
				repeats++;
			} else {
				seen[h->seq] = 1;
				if (++distinct == count)
					linger = vpmd_deadline_us(linger_us);
			}
		} else if (r > 0) {
			foreign++;
		}
		vpmd_tx_reap(&dev);
		/* Stay a little for a last echo the pinger may have to ask for again. */
		if (linger && vpmd_expired(linger))
			break;
		if (vpmd_expired(idle)) {
			printf("net_pmd: pong: nothing for %lu s after %u of %u frames\n",
			       timeout_us / 1000000, distinct, count);
			return 4;
		}
	}
	drain_tx();
	printf("net_pmd: pong: echoed %lu frames (%u distinct, %lu repeats, %lu other frames ignored) in %lu ms\n",
	       echoed, distinct, repeats, foreign, payload_tsc_to_us(rdtsc() - t0) / 1000);
	printf("net_pmd: pong: %lu TX kicks (%lu suppressed), %lu RX kicks\n",
	       dev.tx.kicks, dev.tx.kicks_suppressed, dev.rx.kicks);
	return 0;
}

/* ---- ping ---- */

/* Shell sort: the runtime has no qsort, and N is at most a million. */
static void sort_u32(uint32_t *a, uint32_t n)
{
	uint32_t gap, i, j, v;

	for (gap = n / 2; gap; gap = gap == 2 ? 1 : gap * 5 / 11) {
		for (i = gap; i < n; i++) {
			v = a[i];
			for (j = i; j >= gap && a[j - gap] > v; j -= gap)
				a[j] = a[j - gap];
			a[j] = v;
		}
	}
}

static uint32_t cycles_to_ns(uint64_t c)
{
	uint64_t khz = payload_tsc_khz(), ns;

	if (!khz)
		return 0;
	ns = c * 1000000 / khz;
	return ns > 0xffffffffu ? 0xffffffffu : (uint32_t)ns;
}

static void print_us(const char *label, uint32_t ns)
{
	printf(" %s %u.%03u", label, ns / 1000, ns % 1000);
}

/*
 * Check an echo: it must come from the peer, to us, and carry a ping
 * frame exactly as we built it. Returns the header, or NULL (counted).
 */
static struct vpmd_test_hdr *check_echo(uint32_t len, uint64_t *bad)
{
	struct vpmd_test_hdr *h;
	int vid;

	if (!is_ours(rxbuf, len))
		return NULL;
	h = vpmd_frame_parse(rxbuf, len, &vid);
	if (!h || h->tag != TAG_PING || vid != VPMD_NO_VLAN ||
	    memcmp(rxbuf, dev.mac, VPMD_ETH_ALEN) ||
	    memcmp(rxbuf + VPMD_ETH_ALEN, peer, VPMD_ETH_ALEN) ||
	    (h->seq != WARMUP_SEQ && (h->seq >= count || h->len != pattern_len))) {
		if (*bad < 4)
			printf("net_pmd: ping: bad echo of %u bytes (dst %s src %s seq %u)\n",
			       len, vpmd_mac_str(rxbuf), vpmd_mac_str(rxbuf + 6),
			       h ? h->seq : 0);
		(*bad)++;
		return NULL;
	}
	return h;
}

static int warm_up(uint64_t give_up)
{
	uint64_t next = 0, t0 = rdtsc(), bad = 0;
	uint32_t len, flen;

	for (;;) {
		struct vpmd_test_hdr *h;
		int r;

		if (vpmd_expired(give_up)) {
			printf("net_pmd: ping: no echo from %s\n", vpmd_mac_str(peer));
			return -1;
		}
		if (vpmd_expired(next)) {
			flen = vpmd_frame_build(frame, peer, dev.mac, VPMD_NO_VLAN,
						WARMUP_SEQ, TAG_PING, pattern_len);
			if (send_frame(frame, flen))
				return -1;
			next = vpmd_deadline_us(WARMUP_EVERY_US);
		}
		vpmd_tx_reap(&dev);
		r = vpmd_rx(&dev, rxbuf, sizeof(rxbuf), &len);
		if (r < 0)
			return -1;
		if (r <= 0)
			continue;
		h = check_echo(len, &bad);
		if (h && h->seq == WARMUP_SEQ)
			break;
	}
	printf("net_pmd: ping: %s answered after %lu ms\n", vpmd_mac_str(peer),
	       payload_tsc_to_us(rdtsc() - t0) / 1000);
	return 0;
}

static int ping(void)
{
	uint32_t window = payload_arg_u64("window", 1);
	uint64_t rto = vpmd_us_to_tsc(payload_arg_u64("rto_ms", 50) * 1000);
	uint64_t give_up = vpmd_deadline_us(payload_arg_u64("timeout", 30) * 1000000);
	uint64_t retrans = 0, dups = 0, bad = 0, sum = 0, t0, elapsed, now;
	uint64_t *sent = vpmd_alloc((uint64_t)count * 8, 8);
	uint32_t *rtt = vpmd_alloc((uint64_t)count * 4, 8);
	uint8_t *acked = vpmd_alloc(count, 8);
	uint32_t base = 0, next = 0, done = 0, len, flen, s;

	if (!sent || !rtt || !acked)
		return 1;
	if (window < 1 || window > WINDOW_MAX) {
		printf("net_pmd: window=%u is not 1..%u\n", window, WINDOW_MAX);
		return 1;
	}
	printf("net_pmd: ping: %s -> %s, %u frames of %u bytes, window %u\n",
	       vpmd_mac_str(dev.mac), vpmd_mac_str(peer), count,
	       VPMD_ETH_HLEN + (uint32_t)sizeof(struct vpmd_test_hdr) + pattern_len,
	       window);
	if (warm_up(give_up))
		return 2;

	t0 = rdtsc();
	while (done < count) {
		struct vpmd_test_hdr *h;
		int r;

		if (vpmd_expired(give_up)) {
			printf("net_pmd: ping: gave up with %u of %u frames answered (oldest %u)\n",
			       done, count, base);
			return 3;
		}
		while (next < count && next - base < window) {
			flen = vpmd_frame_build(frame, peer, dev.mac, VPMD_NO_VLAN,
						next, TAG_PING, pattern_len);
			if (send_frame(frame, flen))
				return 4;
			sent[next++] = rdtsc();
		}
		vpmd_tx_reap(&dev);
		while ((r = vpmd_rx(&dev, rxbuf, sizeof(rxbuf), &len)) > 0) {
			now = rdtsc();
			h = check_echo(len, &bad);
			if (!h || h->seq == WARMUP_SEQ)
				continue;
			if (acked[h->seq]) {
				dups++;
				continue;
			}
			acked[h->seq] = 1;
			/* From the copy that came back, which may be a resend. */
			rtt[done++] = cycles_to_ns(now - h->tsc);
			sum += rtt[done - 1];
			while (base < next && acked[base])
				base++;
		}
		if (r < 0)
			return 5;
		/* Resend whatever in the window has waited longer than rto. */
		now = rdtsc();
		if (base < next && now - sent[base] > rto) {
			for (s = base; s < next; s++) {
				if (acked[s] || now - sent[s] <= rto)
					continue;
				flen = vpmd_frame_build(frame, peer, dev.mac, VPMD_NO_VLAN,
							s, TAG_PING, pattern_len);
				if (send_frame(frame, flen))
					return 4;
				sent[s] = rdtsc();
				retrans++;
			}
		}
	}
	elapsed = rdtsc() - t0;
	drain_tx();

	sort_u32(rtt, count);
	printf("net_pmd: ping: %u/%u echoes ok, %lu retransmits, %lu duplicates, %lu bad\n",
	       done, count, retrans, dups, bad);
	printf("net_pmd: ping: rtt us");
	print_us("min", rtt[0]);
	print_us("avg", sum / count);
	print_us("p50", rtt[count / 2]);
	print_us("p99", rtt[count - 1 - count / 100]);
	print_us("max", rtt[count - 1]);
	printf("\n");
	if (payload_tsc_to_us(elapsed))
		printf("net_pmd: ping: %u round trips in %lu ms: %lu frames/s each way\n",
		       count, payload_tsc_to_us(elapsed) / 1000,
		       (uint64_t)count * 1000000 / payload_tsc_to_us(elapsed));
	printf("net_pmd: ping: %lu TX kicks (%lu suppressed), %lu RX kicks, %lu RX frames\n",
	       dev.tx.kicks, dev.tx.kicks_suppressed, dev.rx.kicks, dev.stats.rx_frames);
	return bad ? 6 : 0;
}

/* ---- blast ---- */

static int blast(void)
{
	uint32_t burst = payload_arg_u64("burst", 32), flen, i, b;
	/* A backend starved of CPU may stall a while: wait up to timeout= for room. */
	uint64_t stall_us = payload_arg_u64("timeout", 30) * 1000000;
	uint64_t t0, elapsed, us, deadline;

	if (burst < 1 || burst > VPMD_QUEUE_MAX) {
		printf("net_pmd: burst=%u is not 1..%u\n", burst, VPMD_QUEUE_MAX);
		return 1;
	}
	flen = vpmd_frame_build(frame, peer, dev.mac, VPMD_NO_VLAN, 0, TAG_PING, pattern_len);
	printf("net_pmd: blast: %s -> %s, %u frames of %u bytes, bursts of %u\n",
	       vpmd_mac_str(dev.mac), vpmd_mac_str(peer), count, flen, burst);
	t0 = rdtsc();
	for (i = 0; i < count; i += b) {
		for (b = 0; b < burst && i + b < count; b++) {
			deadline = vpmd_deadline_us(stall_us);
			/* Full: hand over what is queued and take back what is done. */
			while (vpmd_tx_queue(&dev, frame, flen)) {
				vpmd_tx_flush(&dev);
				vpmd_tx_reap(&dev);
				if (vpmd_expired(deadline)) {
					printf("net_pmd: TX queue stays full; status 0x%x\n",
					       vpmd_status(&dev));
					return 2;
				}
			}
		}
		vpmd_tx_flush(&dev);
	}
	drain_tx();
	elapsed = rdtsc() - t0;
	if (vpmd_tx_pending(&dev)) {
		printf("net_pmd: blast: the device never took the last frames\n");
		return 3;
	}
	us = payload_tsc_to_us(elapsed);
	printf("net_pmd: blast: %u frames in %lu us: %lu frames/s\n", count, us,
	       us ? (uint64_t)count * 1000000 / us : 0);
	printf("net_pmd: blast: %lu TX kicks (%lu suppressed)\n", dev.tx.kicks,
	       dev.tx.kicks_suppressed);
	return 0;
}

/* ---- sink ---- */

static int sink(void)
{
	uint64_t quiet_us = payload_arg_u64("quiet_ms", 500) * 1000;
	uint64_t timeout_us = payload_arg_u64("timeout", 30) * 1000000;
	uint64_t deadline = vpmd_deadline_us(timeout_us), t0 = 0, t1 = 0, us;
	uint32_t got = 0, foreign = 0, len;

	printf("net_pmd: sink: %s ready for %u frames\n", vpmd_mac_str(dev.mac), count);
	while (got < count) {
		int r = vpmd_rx(&dev, rxbuf, sizeof(rxbuf), &len);

		if (r < 0)
			return 2;
		if (r > 0 && is_ours(rxbuf, len)) {
			t1 = rdtsc();
			if (!got++)
				t0 = t1;
			deadline = vpmd_deadline_us(quiet_us);
		} else if (r > 0) {
			foreign++;
		}
		if (vpmd_expired(deadline))
			break;
	}
	if (!got) {
		printf("net_pmd: sink: nothing in %lu s\n", timeout_us / 1000000);
		return 4;
	}
	us = payload_tsc_to_us(t1 - t0);
	printf("net_pmd: sink: %u frames in %lu us: %lu frames/s (%u others)\n", got, us,
	       us ? (uint64_t)(got - 1) * 1000000 / us : 0, foreign);
	return 0;
}

int payload_main(void)
{
	const char *role = payload_arg("role"), *p = payload_arg("peer");

	count = payload_arg_u64("count", 1000);
	pattern_len = payload_arg_u64("size", 64);
	if (!count || count > COUNT_MAX) {
		printf("net_pmd: count=%u is not 1..%u\n", count, COUNT_MAX);
		return 1;
	}
	if (pattern_len > VPMD_FRAME_MAX - VPMD_ETH_HLEN - sizeof(struct vpmd_test_hdr))
		pattern_len = VPMD_FRAME_MAX - VPMD_ETH_HLEN - sizeof(struct vpmd_test_hdr);
	if (!role || (strcmp(role, "ping") && strcmp(role, "pong") && strcmp(role, "blast") &&
		      strcmp(role, "sink"))) {
		printf("net_pmd: role=ping, pong, blast or sink, please\n");
		return 1;
	}
	if (strcmp(role, "pong") && strcmp(role, "sink") && (!p || vpmd_parse_mac(p, peer))) {
		printf("net_pmd: %s needs peer=xx:xx:xx:xx:xx:xx\n", role);
		return 1;
	}

	vpmd_config_init(&cfg);
	cfg.need |= VPMD_BIT(VIRTIO_NET_F_MAC);
	if (vpmd_config_from_cmdline(&cfg) || vpmd_probe(&dev) || vpmd_init(&dev, &cfg))
		return 1;
	printf("net_pmd: %s: %s ring, queue size %u, features 0x%lx%s\n", role,
	       vpmd_config_ring(&cfg), dev.rx.size, dev.features,
	       vpmd_has(&dev, VIRTIO_NET_F_MRG_RXBUF) ? " (mergeable rx buffers)" : "");
	if (!strcmp(role, "blast"))
		return blast();
	if (!strcmp(role, "sink"))
		return sink();
	return !strcmp(role, "ping") ? ping() : pong();
}
