// SPDX-License-Identifier: GPL-2.0
/*
 * net_count: a paced, numbered frame stream between two guests on a vlab
 * hub, for live migration under traffic. Either guest may be migrated
 * while the frames flow; the receiver keeps everything it learns in guest
 * memory, so the destination's copy of that memory is what gets checked.
 *
 * role=send peer=MAC: says hello until the receiver answers, then sends
 * count=N numbered frames at rate=R frames/s. The last tail=T of them go
 * out only once the switch has been seen (gate=): gate=peer waits for the
 * receiver's announcement (it was migrated), gate=self for this guest's
 * own STATUS_ANNOUNCE (it was migrated), gate=none does not wait. Then a
 * few END frames. It never resends: a frame lost on the wire stays lost.
 *
 * role=recv: answers hellos and counts, per sequence number, how often it
 * took that frame from the RX used ring (a byte per frame, in guest
 * memory). At END it checks that no number came twice, that at least
 * min_pct= percent (50) of all frames and of the tail arrived (the tail is
 * sent after the switch: the moved ring must keep working), and that the
 * device's own count of frames it put into the RX ring (DEVICE_STATS,
 * migrated with the device) equals the frames the driver took out of it:
 * a frame the device acknowledged and the guest never saw was lost in
 * guest memory, one it saw twice was duplicated. With moved=1 it also
 * wants min_pct= of the tail's worth of frames taken after its move.
 *
 * Either role: when STATUS_ANNOUNCE comes up (the destination raises it
 * after a migration) the guest broadcasts an announcement frame and acks
 * it on the control queue. moved=1 makes not seeing it a failure.
 *
 * cmdline: role=send|recv peer=MAC count=N (8000) tail=T (500)
 * rate=FRAMES/S (2000) gate=none|peer|self (none) moved=0|1 size=BYTES (64)
 * min_pct=P (50) timeout=S (40), stats=0|1 (1; 0: the device's counters are
 * not asked, for a device without DEVICE_STATS), and the vpmd options
 * (ring=, qsize=).
 */
#include "virtio_pmd.h"

PAYLOAD_NAME("net_count");

#define TAG_DATA		0x44415441	/* "DATA" */
#define TAG_HELLO		0x48454c4f	/* "HELO" */
#define TAG_REPLY		0x5245504c	/* "REPL" */
#define TAG_ANNOUNCE		0x414e4e43	/* "ANNC" */
#define TAG_END			0x454e4421	/* "END!" */
#define CTRL_SEQ		0xffffffffu	/* seq of every non-data frame */

#define COUNT_MAX		(1u << 20)
#define HELLO_EVERY_US		20000
#define STATUS_EVERY_US		2000	/* STATUS_ANNOUNCE poll: an MMIO exit */
#define TX_FULL_US		2000000
#define MAX_LAG_US		20000	/* pacing never bursts more than this */
#define END_FRAMES		5
#define ANNOUNCE_FRAMES		3
#define SETTLE_US		200000

#define VIRTIO_NET_F_GUEST_ANNOUNCE	21
#define VIRTIO_NET_F_DEVICE_STATS	50
#define VIRTIO_NET_S_ANNOUNCE		2
#define VIRTIO_NET_CTRL_ANNOUNCE	3
#define  VIRTIO_NET_CTRL_ANNOUNCE_ACK	0
#define VIRTIO_NET_CTRL_STATS		8
#define  VIRTIO_NET_CTRL_STATS_GET	1
#define STATS_TYPE_RX_BASIC		(1ULL << 0)
#define STATS_TYPE_TX_BASIC		(1ULL << 16)

static struct vpmd_config cfg;
static struct vpmd_dev dev;
static uint8_t frame[VPMD_FRAME_MAX], rxbuf[VPMD_FRAME_MAX];
static uint8_t peer[VPMD_ETH_ALEN];
static uint32_t count, tail, pattern_len;
static uint64_t give_up;

/* Frames the driver took from the RX used ring, whatever they were. */
static uint64_t taken;
/* STATUS_ANNOUNCE seen (and acked), and when the next poll is due. */
static bool announced;
static bool use_stats;		/* stats=1: reconcile with DEVICE_STATS */
static uint64_t next_status;

static bool timed_out(const char *what)
{
	if (!vpmd_expired(give_up))
		return false;
	printf("net_count: gave up %s\n", what);
	return true;
}

/* Queue a frame, reaping TX completions until there is room. */
static int send_frame(const uint8_t *f, uint32_t len)
{
	uint64_t deadline = vpmd_deadline_us(TX_FULL_US);

	while (vpmd_tx(&dev, f, len)) {
		vpmd_tx_reap(&dev);
		if (vpmd_expired(deadline)) {
			printf("net_count: TX queue stays full; status 0x%x\n",
			       vpmd_status(&dev));
			return -1;
		}
	}
	return 0;
}

static int send_ctrl_frame(const uint8_t *dst, uint32_t tag)
{
	uint32_t len = vpmd_frame_build(frame, dst, dev.mac, VPMD_NO_VLAN,
					CTRL_SEQ, tag, 0);

	return send_frame(frame, len);
}

/*
 * A control command with a result buffer (vpmd_ctrl() has only the ack):
 * class, command, data out; ack, result in. The ack, or -1 on timeout.
 */
static int ctrl_cmd(uint8_t cls, uint8_t cmd, const void *data, uint32_t len,
		    void *result, uint32_t result_len)
{
	static uint8_t *buf;
	struct vpmd_sg sg[4];
	unsigned int out = 0, in = 0;
	uint64_t deadline;

	if (!buf) {
		buf = vpmd_alloc(4096, 64);
		if (!buf)
			return -1;
	}
	if (len > 1024 || result_len > 2048)
		return -1;
	buf[0] = cls;
	buf[1] = cmd;
	memcpy(buf + 64, data, len);
	buf[1100] = 0xa5;	/* neither OK nor ERR */
	sg[out++] = (struct vpmd_sg){ buf, 2 };
	if (len)
		sg[out++] = (struct vpmd_sg){ buf + 64, len };
	sg[out + in++] = (struct vpmd_sg){ buf + 1100, 1 };
	if (result_len)
		sg[out + in++] = (struct vpmd_sg){ buf + 1152, result_len };
	if (vpmd_queue_add(&dev.ctrl, sg, out, in, buf))
		return -1;
	vpmd_queue_kick(&dev.ctrl);
	deadline = vpmd_deadline_us(2000000);
	while (!vpmd_queue_get_used(&dev.ctrl, NULL)) {
		if (vpmd_expired(deadline)) {
			printf("net_count: control command %u.%u not completed\n", cls, cmd);
			return -1;
		}
	}
	if (result_len)
		memcpy(result, buf + 1152, result_len);
	return __atomic_load_n(&buf[1100], __ATOMIC_RELAXED);
}

/*
 * The device's basic counters of queue @vq (struct virtio_net_stats_rx_basic
 * or _tx_basic: notifications, packets, bytes, interrupts, drops, and
 * drop_overruns or drop_malformed). 0 or -1.
 */
static int queue_stats(uint16_t vq, uint64_t v[6])
{
	uint64_t types = vq & 1 ? STATS_TYPE_TX_BASIC : STATS_TYPE_RX_BASIC;
	uint8_t req[16] = { 0 }, reply[8 + 6 * 8];
	int ack;

	req[0] = vq;
	req[1] = vq >> 8;
	memcpy(req + 8, &types, 8);
	ack = ctrl_cmd(VIRTIO_NET_CTRL_STATS, VIRTIO_NET_CTRL_STATS_GET, req, sizeof(req),
		       reply, sizeof(reply));
	/* struct virtio_net_stats_reply_hdr: type, reserved, vq_index, reserved, size */
	if (ack != VIRTIO_NET_OK || (reply[2] | reply[3] << 8) != vq ||
	    (reply[6] | reply[7] << 8) != sizeof(reply)) {
		printf("net_count: STATS_GET of queue %u: ack %d\n", vq, ack);
		return -1;
	}
	memcpy(v, reply + 8, 6 * 8);
	return 0;
}

/*
 * Every STATUS_EVERY_US: has the device raised STATUS_ANNOUNCE? Then this
 * guest was migrated: announce it to the hub and ack (5.1.6.5.4).
 */
static int poll_announce(void)
{
	int i, ack;

	if (announced || !vpmd_expired(next_status))
		return 0;
	next_status = vpmd_deadline_us(STATUS_EVERY_US);
	if (!(vpmd_read_net_status(&dev) & VIRTIO_NET_S_ANNOUNCE))
		return 0;
	announced = true;
	for (i = 0; i < ANNOUNCE_FRAMES; i++)
		if (send_ctrl_frame(vpmd_bcast, TAG_ANNOUNCE))
			return -1;
	ack = vpmd_ctrl(&dev, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK,
			NULL, 0);
	if (ack != VIRTIO_NET_OK) {
		printf("net_count: ANNOUNCE_ACK: %d\n", ack);
		return -1;
	}
	if (vpmd_read_net_status(&dev) & VIRTIO_NET_S_ANNOUNCE) {
		printf("net_count: STATUS_ANNOUNCE still set after the ack\n");
		return -1;
	}
	return 1;
}

/*
 * One frame from the RX ring: its test header (NULL for anything else),
 * 0 if the ring is empty, -1 on a malformed completion.
 */
static int rx_one(struct vpmd_test_hdr **h)
{
	uint32_t len;
	int vid, r = vpmd_rx(&dev, rxbuf, sizeof(rxbuf), &len);

	if (r <= 0)
		return r;
	taken++;
	*h = vpmd_frame_parse(rxbuf, len, &vid);
	if (*h && (vid != VPMD_NO_VLAN || memcmp(rxbuf + VPMD_ETH_ALEN, dev.mac, 6) == 0))
		*h = NULL;
	return 1;
}

static bool from_peer(void)
{
	return !memcmp(rxbuf + VPMD_ETH_ALEN, peer, VPMD_ETH_ALEN);
}

/* ---- sender ---- */

enum gate { GATE_NONE, GATE_PEER, GATE_SELF };

static int hello(void)
{
	uint64_t next = 0, t0 = rdtsc();
	struct vpmd_test_hdr *h;
	int r;

	for (;;) {
		if (timed_out("waiting for the receiver"))
			return -1;
		if (vpmd_expired(next)) {
			if (send_ctrl_frame(peer, TAG_HELLO))
				return -1;
			next = vpmd_deadline_us(HELLO_EVERY_US);
		}
		vpmd_tx_reap(&dev);
		r = rx_one(&h);
		if (r < 0)
			return -1;
		if (r > 0 && h && h->tag == TAG_REPLY && from_peer())
			break;
	}
	printf("net_count: send: %s answered after %lu ms\n", vpmd_mac_str(peer),
	       payload_tsc_to_us(rdtsc() - t0) / 1000);
	return 0;
}

static int sender(void)
{
	const char *g = payload_arg("gate");
	uint64_t rate = payload_arg_u64("rate", 2000), period, lag, next, t0, t_switch = 0;
	uint32_t seq = 0, seq_at_switch = 0, i;
	uint64_t tx[6];
	bool switched = false, waited = false;
	enum gate gate = GATE_NONE;
	struct vpmd_test_hdr *h;
	int r;

	if (g && !strcmp(g, "peer"))
		gate = GATE_PEER;
	else if (g && !strcmp(g, "self"))
		gate = GATE_SELF;
	else if (g && strcmp(g, "none")) {
		printf("net_count: gate=%s is not none, peer or self\n", g);
		return 1;
	}
	if (!rate || rate > 1000000) {
		printf("net_count: rate=%lu is not 1..1000000\n", rate);
		return 1;
	}
	period = vpmd_us_to_tsc(1000000) / rate;
	lag = vpmd_us_to_tsc(MAX_LAG_US);
	printf("net_count: send: %s -> %s, %u frames at %lu/s, the last %u after %s\n",
	       vpmd_mac_str(dev.mac), vpmd_mac_str(peer), count, rate, tail,
	       gate == GATE_PEER ? "the receiver announces its move" :
	       gate == GATE_SELF ? "this guest has moved" : "no switch");
	if (hello())
		return 2;
	printf("net_count: send: streaming\n");

	t0 = next = rdtsc();
	while (seq < count) {
		uint64_t now = rdtsc();

		if (timed_out("sending"))
			return 3;
		r = poll_announce();
		if (r < 0)
			return 4;
		if (r > 0 && gate == GATE_SELF)
			switched = true;
		/* Anything from the receiver: its announcement after a move. */
		while ((r = rx_one(&h)) > 0) {
			if (h && h->tag == TAG_ANNOUNCE && from_peer() && gate == GATE_PEER &&
			    !switched)
				switched = true;
		}
		if (r < 0)
			return 5;
		if (switched && !t_switch) {
			t_switch = rdtsc();
			seq_at_switch = seq;
			printf("net_count: send: switch seen after %u frames, %lu ms in\n",
			       seq, payload_tsc_to_us(t_switch - t0) / 1000);
		}
		vpmd_tx_reap(&dev);
		if (seq == count - tail && gate != GATE_NONE && !switched) {
			/* The tail waits for the switch. */
			if (!waited)
				printf("net_count: send: %u frames sent, waiting for the switch\n",
				       seq);
			waited = true;
			next = now;
			continue;
		}
		if ((int64_t)(now - next) < 0)
			continue;
		i = vpmd_frame_build(frame, peer, dev.mac, VPMD_NO_VLAN, seq, TAG_DATA,
				     pattern_len);
		if (send_frame(frame, i))
			return 6;
		seq++;
		next += period;
		/* Behind (a stalled TX queue, a pause): catch up only a little. */
		if ((int64_t)(now - next) > (int64_t)lag)
			next = now - lag;
	}
	for (i = 0; i < END_FRAMES; i++) {
		uint64_t until = vpmd_deadline_us(2000);

		if (send_ctrl_frame(peer, TAG_END))
			return 7;
		while (!vpmd_expired(until))
			vpmd_tx_reap(&dev);
	}
	while (vpmd_tx_pending(&dev) && !timed_out("draining TX"))
		vpmd_tx_reap(&dev);
	if (gate != GATE_NONE && !switched) {
		printf("net_count: send: no switch seen\n");
		return 8;
	}
	printf("net_count: send: %u frames in %lu ms", count,
	       payload_tsc_to_us(rdtsc() - t0) / 1000);
	if (t_switch)
		printf(", %u of them after the switch", count - seq_at_switch);
	printf("\n");
	if (!queue_stats(1, tx))
		printf("net_count: send: device TX queue: %lu frames, %lu dropped by the hub\n",
		       tx[1], tx[4]);
	return 0;
}

/* ---- receiver ---- */

/*
 * Take what is left in the RX ring, then compare with the device's count:
 * the query is answered by the thread that fills the RX ring, so every
 * frame it counted is in the ring before the query's reply.
 */
static int reconcile(uint64_t *delivered)
{
	struct vpmd_test_hdr *h;
	uint64_t v[6];
	int tries, r;

	for (tries = 0; tries < 20; tries++) {
		uint64_t settle = vpmd_deadline_us(SETTLE_US / 4);

		while (!vpmd_expired(settle))
			if (rx_one(&h) < 0)
				return -1;
		if (queue_stats(0, v))
			return -1;
		while ((r = rx_one(&h)) > 0)
			;
		if (r < 0)
			return -1;
		*delivered = v[1];
		if (taken <= v[1])
			break;	/* equal, or frames went missing */
		/* More came after the query: ask again. */
	}
	return 0;
}

static int receiver(void)
{
	uint32_t min_pct = payload_arg_u64("min_pct", 50), head = count - tail;
	uint8_t *seen = vpmd_alloc(count, 64);
	uint64_t dups = 0, other = 0, bad = 0, hellos = 0, delivered = 0;
	uint32_t got = 0, got_tail = 0, got_after = 0, max_before = 0, gaps = 0;
	uint32_t gap_start = 0, gap_len = 0, run, s, ends = 0;
	uint64_t t0 = 0;
	bool ok = true;
	struct vpmd_test_hdr *h;
	int r;

	if (!seen)
		return 1;
	printf("net_count: recv: %s, counting %u frames (the last %u sent after any switch)\n",
	       vpmd_mac_str(dev.mac), count, tail);
	while (!ends) {
		if (timed_out("receiving"))
			return 2;
		r = poll_announce();
		if (r < 0)
			return 3;
		if (r > 0) {
			printf("net_count: recv: moved: STATUS_ANNOUNCE after %u frames (highest %u)\n",
			       got, max_before);
		}
		r = rx_one(&h);
		if (r < 0)
			return 4;
		if (r == 0)
			continue;
		if (!h) {
			other++;
			continue;
		}
		if (h->tag == TAG_HELLO) {
			/* The sender is whoever says hello. */
			memcpy(peer, rxbuf + VPMD_ETH_ALEN, VPMD_ETH_ALEN);
			hellos++;
			if (send_ctrl_frame(peer, TAG_REPLY))
				return 5;
			vpmd_tx_reap(&dev);
		} else if (h->tag == TAG_END && from_peer()) {
			ends++;
		} else if (h->tag == TAG_DATA && from_peer()) {
			if (h->seq >= count || h->len != pattern_len) {
				bad++;
				continue;
			}
			if (!t0)
				t0 = rdtsc();
			if (seen[h->seq]++) {
				if (dups++ < 8)
					printf("net_count: recv: frame %u came again (%u times now)\n",
					       h->seq, seen[h->seq]);
				if (seen[h->seq] == 0xff)
					seen[h->seq]--;
				continue;
			}
			got++;
			if (h->seq >= head)
				got_tail++;
			if (announced)
				got_after++;
			if (!announced && h->seq > max_before)
				max_before = h->seq;
		} else {
			other++;
		}
	}
	vpmd_tx_reap(&dev);
	if (!use_stats)
		delivered = taken;	/* not checked: stats=0 */
	else if (reconcile(&delivered))
		return 6;

	/* Losses: how many runs of missing numbers, and the longest. */
	for (s = 0, run = 0; s <= count; s++) {
		if (s < count && !seen[s]) {
			run++;
			continue;
		}
		if (run) {
			gaps++;
			if (run > gap_len) {
				gap_len = run;
				gap_start = s - run;
			}
		}
		run = 0;
	}
	printf("net_count: recv: %u of %u frames (%u%%), %u of the last %u; %lu duplicates, %lu bad\n",
	       got, count, (uint32_t)((uint64_t)got * 100 / count), got_tail, tail, dups, bad);
	printf("net_count: recv: lost %u in %u gaps, the longest %u frames from %u\n",
	       count - got, gaps, gap_len, gap_start);
	if (announced)
		printf("net_count: recv: %u frames taken from the RX ring after the move\n",
		       got_after);
	if (use_stats)
		printf("net_count: recv: device put %lu frames in the RX ring, the driver took %lu (%lu hellos, %lu other, %u ends)\n",
		       delivered, taken, hellos, other, ends);
	else
		printf("net_count: recv: the driver took %lu frames (%lu hellos, %lu other, %u ends); device count not asked (stats=0)\n",
		       taken, hellos, other, ends);
	if (t0)
		printf("net_count: recv: stream took %lu ms\n",
		       payload_tsc_to_us(rdtsc() - t0) / 1000);
	if (dups || bad) {
		printf("net_count: recv: FAIL: duplicate or bad frames in guest memory\n");
		ok = false;
	}
	if (delivered != taken) {
		printf("net_count: recv: FAIL: the device acknowledged %lu frames, the guest has %lu\n",
		       delivered, taken);
		ok = false;
	}
	if ((uint64_t)got * 100 < (uint64_t)count * min_pct ||
	    (uint64_t)got_tail * 100 < (uint64_t)tail * min_pct) {
		printf("net_count: recv: FAIL: fewer than %u%% of the frames\n", min_pct);
		ok = false;
	}
	/* The moved RX ring keeps working: the tail at least came through it. */
	if (payload_arg_u64("moved", 0) && (uint64_t)got_after * 100 < (uint64_t)tail * min_pct) {
		printf("net_count: recv: FAIL: %u frames after the move\n", got_after);
		ok = false;
	}
	return ok ? 0 : 7;
}

int payload_main(void)
{
	const char *role = payload_arg("role"), *p = payload_arg("peer");
	bool send;
	int ret;

	count = payload_arg_u64("count", 8000);
	tail = payload_arg_u64("tail", 500);
	pattern_len = payload_arg_u64("size", 64);
	give_up = vpmd_deadline_us(payload_arg_u64("timeout", 40) * 1000000);
	if (!count || count > COUNT_MAX || tail > count) {
		printf("net_count: count=%u tail=%u: want 1..%u and tail <= count\n",
		       count, tail, COUNT_MAX);
		return 1;
	}
	if (pattern_len > 1024)
		pattern_len = 1024;
	if (!role || (strcmp(role, "send") && strcmp(role, "recv"))) {
		printf("net_count: role=send or role=recv, please\n");
		return 1;
	}
	send = !strcmp(role, "send");
	if (send && (!p || vpmd_parse_mac(p, peer))) {
		printf("net_count: send needs peer=xx:xx:xx:xx:xx:xx\n");
		return 1;
	}

	use_stats = payload_arg_u64("stats", 1);
	vpmd_config_init(&cfg);
	cfg.want |= VPMD_BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) | VPMD_BIT(VIRTIO_NET_F_DEVICE_STATS);
	cfg.need |= VPMD_BIT(VIRTIO_NET_F_MAC) | VPMD_BIT(VIRTIO_NET_F_CTRL_VQ) |
		    VPMD_BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) |
		    (use_stats ? VPMD_BIT(VIRTIO_NET_F_DEVICE_STATS) : 0);
	if (vpmd_config_from_cmdline(&cfg) || vpmd_probe(&dev) || vpmd_init(&dev, &cfg))
		return 1;
	printf("net_count: %s: %s ring, queue size %u, features 0x%lx\n", role,
	       vpmd_config_ring(&cfg), dev.rx.size, dev.features);
	next_status = 0;
	ret = send ? sender() : receiver();
	if (!ret && payload_arg_u64("moved", 0) && !announced) {
		printf("net_count: %s: FAIL: moved=1 but STATUS_ANNOUNCE never came\n", role);
		ret = 9;
	}
	if (announced)
		printf("net_count: %s: announced the move and acked STATUS_ANNOUNCE\n", role);
	return ret;
}
