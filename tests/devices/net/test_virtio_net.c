// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net in-process, with its real worker threads and the loop
 * backend: a driver model resets and re-enables busy TX and RX queues
 * (VIRTIO_F_RING_RESET) while frames flow, and the device's saved state
 * refuses corrupt values. Build this file with -fsanitize=thread to see
 * the queue reset race of issue 15 (it had 17 reports in 300 resets).
 */
#include <check.h>
#include <errno.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "devices/net/net_backend.h"
#include "devices/net/virtio_net.h"
#include "state_test.h"
#include "virtio_dev_test.h"
#include "devices/net/net_state.h"
#include "virtio/vdrv_guest.h"
#include "vmm/core/vm.h"

#define MEM_SIZE	(4 << 20)
#define QSIZE		64
#define RX_Q		0
#define TX_Q		1
#define RX_RING		0x10000
#define TX_RING		0x40000
#define TX_BUFS		0x100000	/* QSIZE frames of FRAME_LEN, written once */
#define RX_BUFS		0x200000	/* up to 256 buffers of RX_BUF_LEN */
#define HDR_LEN		sizeof(struct virtio_net_hdr_v1)
#define FRAME_LEN	(HDR_LEN + 60)
#define RX_BUF_LEN	2048
#define RESETS		300
#define F(bit)		(1ULL << (bit))

static uint8_t *ram;
static struct guest_mem gm;
static struct virtio_dev *vdev;
static struct vdrv rx, tx;
static uint32_t tx_cookie;
static struct net_config nc;
static char hub_dir[64], hub_spec[96];

static uint8_t *host(uint64_t gpa)
{
	return ram + gpa;
}

static void setup_with(const char *backend, int poll_us)
{
	char err[256];
	int i;

	memset(&nc, 0, sizeof(nc));
	snprintf(nc.backend, sizeof(nc.backend), "%s", backend);
	nc.queue_pairs = 1;
	nc.mtu = 1500;
	nc.poll_us = poll_us;

	ram = aligned_alloc(4096, MEM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, MEM_SIZE);
	ck_assert_int_eq(guest_mem_init_buffer(&gm, ram, MEM_SIZE), 0);
	vdev = virtio_net_new(&gm, &nc, 0, false, err, sizeof(err));
	ck_assert_msg(vdev, "%s", err);
	/* Every TX buffer holds the same frame, written before any worker runs. */
	for (i = 0; i < QSIZE; i++) {
		uint8_t *f = host(TX_BUFS + (uint64_t)i * FRAME_LEN);

		memset(f, 0, HDR_LEN);
		memset(f + HDR_LEN, 0xff, 6);		/* broadcast */
		memcpy(f + HDR_LEN + 6, "\x52\x54\x00\x00\x00\x01", 6);
		f[HDR_LEN + 12] = 0x88;
		f[HDR_LEN + 13] = 0xb5;		/* local experimental ethertype */
		memset(f + HDR_LEN + 14, i, 46);
	}
	memset(&rx, 0, sizeof(rx));
	memset(&tx, 0, sizeof(tx));
	tx_cookie = 0;
}

static void setup(void)
{
	setup_with("loop", 0);
}

/* A hub with the device's default polling window. */
static void setup_hub(void)
{
	snprintf(hub_dir, sizeof(hub_dir), "/tmp/vlab-net-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(hub_dir));
	snprintf(hub_spec, sizeof(hub_spec), "hub=%s/h", hub_dir);
	setup_with(hub_spec, NET_POLL_US_DEFAULT);
}

static void teardown(void)
{
	virtio_net_free(vdev);
	vdrv_exit(&rx);
	vdrv_exit(&tx);
	guest_mem_exit(&gm);
	free(ram);
}

static void teardown_hub(void)
{
	char cmd[96];

	teardown();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", hub_dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* (Re)lay the driver's rings for queue @q, @size entries, and enable it. */
static void queue_up_sized(struct vdrv *d, uint16_t q, uint64_t base, uint16_t size)
{
	vdrv_exit(d);
	ck_assert_int_eq(vdrv_init(d, &gm, base, size, vdev->guest_features), 0);
	ck_assert(vdrv_enable_on(d, vdev, q));
}

static void queue_up(struct vdrv *d, uint16_t q, uint64_t base)
{
	queue_up_sized(d, q, base, QSIZE);
}

static void queue_reset(uint16_t q)
{
	pthread_mutex_lock(&vdev->lock);
	vdev->queue_select = q;
	virtio_dev_reset_queue(vdev);
	ck_assert(vdev->queue_reset_done[q]);
	ck_assert(!vdev->vqs[q].enabled);
	pthread_mutex_unlock(&vdev->lock);
}

static void kick(uint16_t q)
{
	vdev->ops->queue_notify(vdev, q);
}

/* A driver with @rx_size RX buffers and QSIZE TX buffers. */
static void bring_up_rx(uint16_t rx_size)
{
	virtio_dev_test_features_ok(vdev, F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_RESET) |
				    F(VIRTIO_NET_F_MAC));
	queue_up_sized(&rx, RX_Q, RX_RING, rx_size);
	ck_assert_uint_le(vdrv_end_gpa(&rx), TX_RING);
	queue_up(&tx, TX_Q, TX_RING);
	virtio_dev_test_driver_ok(vdev);
}

static void bring_up(void)
{
	bring_up_rx(QSIZE);
}

/* Reclaim used RX buffers and offer every free one again. */
static unsigned int rx_refill(void)
{
	unsigned int got = 0;
	uint64_t cookie;
	uint32_t len;

	while (vdrv_get_used(&rx, &cookie, &len) > 0)
		got++;
	while (rx.num_free) {
		struct vdrv_buf b = { RX_BUFS + (uint64_t)(rx.free_head % QSIZE) * RX_BUF_LEN,
				      RX_BUF_LEN };

		ck_assert_int_ge(vdrv_add(&rx, &b, 0, 1, false, 0), 0);
	}
	vdrv_publish(&rx);
	kick(RX_Q);
	return got;
}

/* Reclaim sent frames and queue up to @n more. */
static unsigned int tx_send(unsigned int n)
{
	unsigned int done = 0;
	uint64_t cookie;
	uint32_t len;

	while (vdrv_get_used(&tx, &cookie, &len) > 0)
		done++;
	while (n-- && tx.num_free) {
		struct vdrv_buf b = { TX_BUFS + (uint64_t)(tx_cookie % QSIZE) * FRAME_LEN,
				      FRAME_LEN };

		ck_assert_int_ge(vdrv_add(&tx, &b, 1, 0, false, tx_cookie++), 0);
	}
	vdrv_publish(&tx);
	kick(TX_Q);
	return done;
}

/*
 * A guest resetting its busy TX and RX queues over and over. Before the
 * fix a restarted worker could be inside virtq_pop() on the queue while
 * virtq_reset() zeroed it, and enabling raced the same way.
 */
START_TEST(queue_reset_while_busy)
{
	unsigned int i, sent = 0, received = 0;

	bring_up();
	for (i = 0; i < RESETS; i++) {
		rx_refill();
		tx_send(8);
		sched_yield();
		if (i % 3 == 2) {
			queue_reset(RX_Q);
			queue_up(&rx, RX_Q, RX_RING);
		} else {
			queue_reset(TX_Q);
			queue_up(&tx, TX_Q, TX_RING);
		}
		ck_assert_msg(!(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET),
			      "needs reset after %u queue resets", i);
	}
	/*
	 * Still a working NIC: frames go out and come back. Polls without a
	 * time limit of its own (the test timeout is the backstop).
	 */
	while (sent < 16 || received < 16) {
		sent += tx_send(16 - (sent < 16 ? sent : 16));
		received += rx_refill();
		sched_yield();
	}
	ck_assert(!(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET));
	ck_assert(!vdev->vqs[TX_Q].broken && !vdev->vqs[RX_Q].broken);
}
END_TEST

/* ---- receive: when the driver must ring, and order ---- */

/* Offer @n free RX buffers (cookie: the buffer's address); a kick only if asked. */
static bool rx_offer(unsigned int n)
{
	while (n-- && rx.num_free) {
		uint64_t gpa = RX_BUFS + (uint64_t)(rx.free_head % rx.size) * RX_BUF_LEN;
		struct vdrv_buf b = { gpa, RX_BUF_LEN };

		ck_assert_int_ge(vdrv_add(&rx, &b, 0, 1, false, gpa), 0);
	}
	vdrv_publish(&rx);
	if (!vdrv_kick_needed(&rx))
		return false;
	kick(RX_Q);
	return true;
}

/* Take one used RX buffer: the frame's first payload byte, or -1 if none. */
static int rx_take(void)
{
	uint64_t gpa;
	uint32_t len;

	if (vdrv_get_used(&rx, &gpa, &len) <= 0)
		return -1;
	ck_assert_uint_eq(len, FRAME_LEN);
	return host(gpa)[HDR_LEN + 14];
}

/*
 * While posted buffers last, a driver that refills never has to ring:
 * the device turns RX notifications off when frames flow and on only
 * when it runs out (then the refill's kick is what wakes it).
 */
START_TEST(rx_kick_only_when_buffers_ran_out)
{
	unsigned int got = 0;
	int b;

	bring_up();
	rx_offer(QSIZE);
	kick(RX_Q);
	tx_send(16);
	while (got < 16) {
		b = rx_take();
		if (b < 0) {
			sched_yield();
			continue;
		}
		ck_assert_int_eq(b, got);
		got++;
	}
	ck_assert_msg(!rx_offer(16), "a refill with buffers to spare asked for a kick");
	ck_assert(!(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET));
}
END_TEST

/*
 * More frames than the device's inbox holds (256), with no RX buffers
 * posted: the device stops reading its backend. Then a 256-entry RX ring
 * takes the whole inbox without running out, so no kick will come: the
 * device must start reading again by itself. Every frame arrives once, in
 * order (the loop backend holds what is not read).
 */
START_TEST(rx_backlog_drains_in_order)
{
	const unsigned int total = 5 * QSIZE;
	unsigned int done = 0, got = 0;
	uint64_t since = vlab_now_ns();
	int b;

	bring_up_rx(256);
	/* No RX buffers yet: the device fills its inbox, then leaves the rest. */
	while (done < total) {
		done += tx_send(total - tx_cookie);
		sched_yield();
	}
	while (got < total) {
		b = rx_take();
		if (b < 0) {
			rx_offer(rx.size);
			/* Only a stall gets here: a minute without one frame. */
			ck_assert_msg(vlab_now_ns() - since < 60 * 1000000000ULL,
				      "RX stalled after %u of %u frames", got, total);
			sched_yield();
			continue;
		}
		ck_assert_int_eq(b, got % QSIZE);
		got++;
		since = vlab_now_ns();
	}
	ck_assert(!(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET));
}
END_TEST

/* Wait for RX frame @want (its first payload byte), refilling as asked. */
static void rx_expect(int want)
{
	uint64_t since = vlab_now_ns();
	int b;

	while ((b = rx_take()) < 0) {
		rx_offer(QSIZE);
		ck_assert_msg(vlab_now_ns() - since < 60 * 1000000000ULL,
			      "frame %d never arrived", want);
		sched_yield();
	}
	ck_assert_int_eq(b, want);
}

/*
 * A hub endpoint streams frames in, and the device polls the hub for a
 * while after each; once that window has closed the device sleeps, and a
 * frame sent then must still wake it (the hub's wake-up generation).
 */
START_TEST(rx_hub_wakes_after_polling)
{
	struct net_backend peer;
	uint8_t f[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 9,
			  0x88, 0xb5 };
	struct iovec iov = { f, sizeof(f) };
	char err[256];
	int i, round;

	ck_assert_msg(!net_backend_open(&peer, hub_spec, NULL, 0, err, sizeof(err)), "%s", err);
	bring_up();
	rx_offer(QSIZE);
	kick(RX_Q);
	for (i = 0; i < 40; i++) {
		f[14] = i;
		ck_assert_int_eq(net_backend_send(&peer, &iov, 1), 0);
	}
	for (i = 0; i < 40; i++)
		rx_expect(i);
	for (round = 0; round < 3; round++) {
		/* 400 times the polling window: the device is asleep now. */
		usleep(NET_POLL_US_DEFAULT * 400);
		f[14] = 100 + round;
		ck_assert_int_eq(net_backend_send(&peer, &iov, 1), 0);
		rx_expect(100 + round);
	}
	net_backend_close(&peer);
}
END_TEST

/* The next frame from @be, waiting for a wake-up when none is there: its length. */
static ssize_t peer_recv(struct net_backend *be, uint8_t *buf, size_t len)
{
	struct pollfd pfd = { .fd = be->fd, .events = POLLIN };
	ssize_t n;

	while (!(n = net_backend_recv(be, buf, len)))
		ck_assert_msg(poll(&pfd, 1, 60000) == 1, "no wake-up in 60 s");
	return n;
}

/*
 * The port's frames sent as a burst (virtio_net_port_burst(), as the RDMA
 * device sends a window) reach a peer on the hub in order; a begin or end
 * said twice is one (a second begin would deadlock on the hub's lock, a
 * second end unlock it twice), and once the burst ends the hub is free
 * for a plain send (else this hangs to the case's timeout).
 */
START_TEST(port_burst_on_the_hub)
{
	struct net_backend peer;
	uint8_t f[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 9,
			  0x88, 0xb5 }, got[128];
	struct iovec iov = { f, sizeof(f) };
	char err[256];
	int i;

	ck_assert_msg(!net_backend_open(&peer, hub_spec, NULL, 0, err, sizeof(err)), "%s", err);
	virtio_net_port_burst(vdev, true);
	virtio_net_port_burst(vdev, true);
	for (i = 0; i < 40; i++) {
		f[14] = i;
		ck_assert_int_eq(virtio_net_port_sendv(vdev, &iov, 1), 0);
	}
	virtio_net_port_burst(vdev, false);
	virtio_net_port_burst(vdev, false);
	for (i = 0; i < 40; i++) {
		ck_assert_int_eq(peer_recv(&peer, got, sizeof(got)), sizeof(f));
		ck_assert_uint_eq(got[14], i);
	}
	f[14] = 77;
	ck_assert_int_eq(virtio_net_port_send(vdev, f, sizeof(f)), 0);
	ck_assert_int_eq(peer_recv(&peer, got, sizeof(got)), sizeof(f));
	ck_assert_uint_eq(got[14], 77);
	ck_assert_uint_eq(peer.hub.rx_lost, 0);
	net_backend_close(&peer);
}
END_TEST

/* ---- a function sharing the port ---- */

struct port_fn {
	int calls, inside, release;
};

/* Takes every frame; holds the NIC's worker inside until released. */
static bool port_fn_rx(void *opaque, const void *frame, size_t len)
{
	struct port_fn *pf = opaque;

	if (!frame)
		return false;
	__atomic_add_fetch(&pf->calls, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&pf->inside, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&pf->release, __ATOMIC_SEQ_CST))
		sched_yield();
	__atomic_store_n(&pf->inside, 0, __ATOMIC_SEQ_CST);
	return true;
}

static int port_cleared;

static void *port_clear(void *arg)
{
	ck_assert_int_eq(virtio_net_set_port_rx(vdev, NULL, NULL), 0);
	__atomic_store_n(&port_cleared, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * Clearing the port's function waits for the NIC's worker to leave it
 * (the RDMA device is freed right after), and it is not called again:
 * the next frame goes to the guest. Before the fix the clear returned
 * while the worker was inside.
 */
START_TEST(port_cleared_while_in_use)
{
	struct port_fn pf = { 0 };
	pthread_t t;

	ck_assert_int_eq(virtio_net_set_port_rx(vdev, port_fn_rx, &pf), 0);
	ck_assert_int_eq(virtio_net_set_port_rx(vdev, port_fn_rx, &pf), -EBUSY);
	bring_up();
	tx_send(1);
	while (!__atomic_load_n(&pf.inside, __ATOMIC_SEQ_CST))
		sched_yield();
	port_cleared = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, port_clear, NULL), 0);
	/* Whatever the wait, the clear must still be waiting: the worker is inside. */
	usleep(50 * 1000);
	ck_assert_msg(!__atomic_load_n(&port_cleared, __ATOMIC_SEQ_CST),
		      "the port was cleared with its function running");
	__atomic_store_n(&pf.release, 1, __ATOMIC_SEQ_CST);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert(port_cleared);
	ck_assert_int_eq(pf.calls, 1);
	/* The next frame (TX buffer 1) is the guest's. */
	tx_send(1);
	rx_expect(1);
	ck_assert_int_eq(pf.calls, 1);
}
END_TEST

/* ---- saved state of the device part (struct net_state) ---- */

static int save_net(void *dev, struct state_buf *sb)
{
	struct virtio_dev *d = dev;

	return d->ops->save(d, sb);
}

static int load_net(void *dev, const void *fdt, int node, char *err, size_t errlen)
{
	struct virtio_dev *d = dev;

	return d->ops->load(d, fdt, node, err, errlen);
}

START_TEST(state_roundtrip)
{
	bring_up();
	virtio_dev_test_status(vdev, 0);
	state_test_roundtrip(save_net, load_net, vdev);
}
END_TEST

/* One corrupt field at a time: refused with its name, device unchanged. */
START_TEST(state_corrupt_refused)
{
	static const struct {
		const char *path, *prop;
		uint32_t val;
		const char *msg;
	} bad[] = {
		{ "/dev/net", "curr-queue-pairs", 2, "net-state: curr_queue_pairs = 2, not 1..1" },
		{ "/dev/net", "max-queue-pairs", 2,
		  "net-state: the source NIC has another MAC, queue count" },
		{ "/dev/net/uni", "count", 1000, "net-state: uni.count = 1000" },
		{ "/dev/net/rss", "table-mask", 255, "net-state: rss.table_mask = 255" },
		{ "/dev/net/hash", "key-len", 200, "net-state: hash.key_len = 200" },
		{ "/dev/net", "promisc", 134, "net-state: promisc = 134, not 0 or 1" },
		{ "/dev/net", "duplex", 0x100, "/dev/net: \"duplex\" = 0x100 does not fit in 8 bits" },
		{ "/dev/net", "version", 3, "version" },
		{ "/dev/net/txq-stats", "version", 0, "version" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		state_test_refused_at(save_net, load_net, vdev, bad[i].path, bad[i].prop,
				      bad[i].val, bad[i].msg);
}
END_TEST

/*
 * A tree from vlab before field tables: "net-state-version" 1 and the
 * struct as one blob. It still loads, to the same state; other versions
 * and corrupt fields in it are refused.
 */
static void save_v1(struct state_buf *sb, const struct net_state *st, uint32_t ver)
{
	ck_assert_int_eq(state_buf_init(sb), 0);
	state_begin_node(sb, "dev", 1);
	state_put_u32(sb, "net-state-version", ver);
	state_put_bytes(sb, "net-state", st, sizeof(*st));
	state_end_node(sb);
	ck_assert_int_eq(state_buf_finish(sb), 0);
}

START_TEST(state_version1_blob)
{
	struct state_buf now, v1, after;
	struct net_state st;
	char err[256] = "";

	bring_up();
	virtio_dev_suspend(vdev);	/* saved and loaded only with the workers stopped */
	state_test_save(&now, save_net, vdev);
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(net_state_load(now.fdt, state_test_node(&now, "/dev"), &st, err,
					sizeof(err)), 0);

	save_v1(&v1, &st, 1);
	ck_assert_msg(!load_net(vdev, v1.fdt, state_test_node(&v1, "/dev"), err, sizeof(err)),
		      "%s", err);
	state_test_save(&after, save_net, vdev);
	ck_assert(state_test_same(&now, &after));
	state_buf_free(&v1);
	state_buf_free(&after);

	save_v1(&v1, &st, 2);
	ck_assert_int_eq(load_net(vdev, v1.fdt, state_test_node(&v1, "/dev"), err,
				  sizeof(err)), -1);
	ck_assert_msg(strstr(err, "state version 2, this vlab reads 1 and 2"), "%s", err);
	state_buf_free(&v1);

	st.uni.count = 1000;
	save_v1(&v1, &st, 1);
	ck_assert_int_eq(load_net(vdev, v1.fdt, state_test_node(&v1, "/dev"), err,
				  sizeof(err)), -1);
	ck_assert_msg(strstr(err, "uni.count = 1000"), "%s", err);
	state_test_save(&after, save_net, vdev);
	ck_assert(state_test_same(&now, &after));
	state_buf_free(&v1);
	state_buf_free(&after);
	state_buf_free(&now);
}
END_TEST

static struct virtio_dev *make_net(void *ctx)
{
	struct net_config nc = { .backend = "loop", .queue_pairs = 1, .mtu = 1500 };
	char err[256];
	struct virtio_dev *d = virtio_net_new(&gm, &nc, 0, false, err, sizeof(err));

	ck_assert_msg(d, "%s", err);
	return d;
}

/*
 * The round trip every virtio device passes: mid-traffic, the NIC is
 * suspended, saved, loaded into a fresh one and resumed; the new NIC saves
 * to the same bytes and frames keep going out and coming back.
 */
START_TEST(state_moves_to_fresh_device)
{
	unsigned int sent = 0, received = 0;

	bring_up();
	while (sent < 24 || received < 24) {
		sent += tx_send(8);
		received += rx_refill();
		sched_yield();
	}
	tx_send(8);		/* some in flight at the move */
	rx_refill();
	vdev = virtio_dev_test_move(vdev, make_net, virtio_net_free, NULL);

	sent = received = 0;
	while (sent < 64 || received < 64) {
		sent += tx_send(8);
		received += rx_refill();
		sched_yield();
	}
	ck_assert(!(vdev->status & VIRTIO_CONFIG_S_NEEDS_RESET));
	ck_assert(!vdev->vqs[TX_Q].broken && !vdev->vqs[RX_Q].broken);
}
END_TEST

static Suite *virtio_net_suite(void)
{
	Suite *s = suite_create("virtio_net");

	vlab_tcase(s, "queue_reset", setup, teardown, 120, VLAB_TESTS(
		queue_reset_while_busy));

	vlab_tcase(s, "rx", setup, teardown, 120, VLAB_TESTS(
		rx_kick_only_when_buffers_ran_out, rx_backlog_drains_in_order));

	vlab_tcase(s, "port", setup, teardown, 120, VLAB_TESTS(port_cleared_while_in_use));

	vlab_tcase(s, "rx_hub", setup_hub, teardown_hub, 120, VLAB_TESTS(
		rx_hub_wakes_after_polling, port_burst_on_the_hub));

	vlab_tcase(s, "state", setup, teardown, 0, VLAB_TESTS(
		state_roundtrip, state_corrupt_refused, state_version1_blob,
		state_moves_to_fresh_device));
	return s;
}

VLAB_TEST_MAIN(virtio_net_suite)
