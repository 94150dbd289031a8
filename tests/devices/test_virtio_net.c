// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net in-process, with its real worker threads and the loop
 * backend: a driver model resets and re-enables busy TX and RX queues
 * (VIRTIO_F_RING_RESET) while frames flow, and the device's saved state
 * refuses corrupt values. Build this file with -fsanitize=thread to see
 * the queue reset race of issue 15 (it had 17 reports in 300 resets).
 */
#include <check.h>
#include <linux/virtio_net.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "devices/virtio_net.h"
#include "state_test.h"
#include "virtio/net_state.h"
#include "virtio/virtq_driver.h"
#include "vmm/vm.h"

#define MEM_SIZE	(4 << 20)
#define QSIZE		64
#define RX_Q		0
#define TX_Q		1
#define RX_RING		0x10000
#define TX_RING		0x40000
#define TX_BUFS		0x100000	/* QSIZE frames of FRAME_LEN, written once */
#define RX_BUFS		0x200000	/* QSIZE buffers of RX_BUF_LEN */
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

static uint8_t *host(uint64_t gpa)
{
	return ram + gpa;
}

static void setup(void)
{
	struct net_config nc = { .backend = "loop", .queue_pairs = 1, .mtu = 1500 };
	char err[256];
	int i;

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

static void teardown(void)
{
	virtio_net_free(vdev);
	vdrv_exit(&rx);
	vdrv_exit(&tx);
	guest_mem_exit(&gm);
	free(ram);
}

/* Transport register writes, as virtio-pci makes them: under vdev->lock. */
static void set_status(uint8_t status)
{
	pthread_mutex_lock(&vdev->lock);
	virtio_dev_set_status_locked(vdev, status);
	pthread_mutex_unlock(&vdev->lock);
}

/* (Re)lay the driver's rings for queue @q and enable it. */
static void queue_up(struct vdrv *d, uint16_t q, uint64_t base)
{
	vdrv_exit(d);
	ck_assert_int_eq(vdrv_init(d, &gm, base, QSIZE, vdev->guest_features), 0);
	pthread_mutex_lock(&vdev->lock);
	vdev->queue_select = q;
	virtio_dev_set_queue_size(vdev, QSIZE);
	virtio_dev_set_queue_addr(vdev, 0, false, d->desc_gpa);
	virtio_dev_set_queue_addr(vdev, 1, false, d->driver_gpa);
	virtio_dev_set_queue_addr(vdev, 2, false, d->device_gpa);
	virtio_dev_enable_queue(vdev);
	ck_assert(vdev->vqs[q].enabled);
	pthread_mutex_unlock(&vdev->lock);
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

static void bring_up(void)
{
	uint64_t f = F(VIRTIO_F_VERSION_1) | F(VIRTIO_F_RING_RESET) | F(VIRTIO_NET_F_MAC);
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	set_status(s);
	pthread_mutex_lock(&vdev->lock);
	vdev->driver_feature_select = 0;
	virtio_dev_write_driver_features(vdev, (uint32_t)f);
	vdev->driver_feature_select = 1;
	virtio_dev_write_driver_features(vdev, f >> 32);
	pthread_mutex_unlock(&vdev->lock);
	set_status(s | VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert(vdev->status & VIRTIO_CONFIG_S_FEATURES_OK);
	queue_up(&rx, RX_Q, RX_RING);
	queue_up(&tx, TX_Q, TX_RING);
	set_status(s | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* Reclaim used RX buffers and offer every free one again. */
static unsigned int rx_refill(void)
{
	unsigned int got = 0;
	uint32_t cookie, len;

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
	uint32_t cookie, len;

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
	set_status(0);
	state_test_roundtrip(save_net, load_net, vdev);
}
END_TEST

/* The raw net-state bytes with one corrupt field: refused, device unchanged. */
START_TEST(state_corrupt_refused)
{
	static const struct {
		size_t off, size;
		uint32_t val;
		const char *msg;
	} bad[] = {
#define AT(field) offsetof(struct net_state, field), sizeof(((struct net_state *)0)->field)
		{ AT(curr_queue_pairs), 2, "net-state: curr_queue_pairs = 2, not 1..1" },
		{ AT(max_queue_pairs), 2, "net-state: the source NIC has another MAC, queue count" },
		{ AT(uni.count), 1000, "net-state: uni.count = 1000" },
		{ AT(rss.table_mask), 255, "net-state: rss.table_mask = 255" },
		{ AT(hash.key_len), 200, "net-state: hash.key_len = 200" },
		{ AT(promisc), 134, "net-state: promisc = 134, not 0 or 1" },
#undef AT
	};
	struct state_buf good, sb, after;
	struct net_state st;
	char err[256];
	unsigned int i;
	int node, len;
	void *p;

	state_test_save(&good, save_net, vdev);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		state_test_save(&sb, save_net, vdev);
		node = state_test_node(&sb, "/dev");
		p = (void *)fdt_getprop(sb.fdt, node, "net-state", &len);
		ck_assert_int_eq(len, sizeof(st));
		/* FDT values are only 4-byte aligned: edit a copy. */
		memcpy(&st, p, sizeof(st));
		memcpy((uint8_t *)&st + bad[i].off, &bad[i].val, bad[i].size);
		memcpy(p, &st, sizeof(st));
		err[0] = 0;
		ck_assert_int_eq(load_net(vdev, sb.fdt, node, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, bad[i].msg), "case %u: \"%s\" lacks \"%s\"", i, err,
			      bad[i].msg);
		state_test_save(&after, save_net, vdev);
		ck_assert(state_test_same(&good, &after));
		state_buf_free(&sb);
		state_buf_free(&after);
	}
	state_buf_free(&good);
}
END_TEST

static Suite *virtio_net_suite(void)
{
	Suite *s = suite_create("virtio_net");
	TCase *tc = tcase_create("queue_reset");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, queue_reset_while_busy);
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, state_roundtrip);
	tcase_add_test(tc, state_corrupt_refused);
	suite_add_tcase(s, tc);
	return s;
}

VLAB_TEST_MAIN(virtio_net_suite)
