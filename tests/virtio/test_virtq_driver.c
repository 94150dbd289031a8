// SPDX-License-Identifier: GPL-2.0
/*
 * virtio/virtq_driver.c on rings in plain memory, as the payloads and the
 * shadow virtqueue use it (addresses the device sees are whatever the
 * owner says; here the host pointers). The device is played by hand here;
 * test_virtq drives the same code against the real device side.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "virtio/virtq_driver.h"

#define QSIZE	8

static uint8_t rings[3][4096] __attribute__((aligned(4096)));
static uint8_t pool[QSIZE * VDRV_IND_MAX * 16] __attribute__((aligned(16)));
static uint8_t aux[VDRV_AUX_BYTES(QSIZE)] __attribute__((aligned(8)));
static struct vdrv d;

static void setup_ring(uint64_t features, bool with_pool)
{
	struct vdrv_rings r = {
		.desc = rings[0], .driver = rings[1], .device = rings[2],
		.desc_addr = (uintptr_t)rings[0], .driver_addr = (uintptr_t)rings[1],
		.device_addr = (uintptr_t)rings[2],
		.ind = with_pool ? pool : NULL, .ind_addr = with_pool ? (uintptr_t)pool : 0,
	};

	memset(rings, 0xee, sizeof(rings));
	vdrv_setup(&d, &r, aux, QSIZE, features);
}

/* The device (split): mark buffer @id used with @len. */
static void split_use(uint16_t id, uint32_t len)
{
	uint16_t i = d.used->idx;

	d.used->ring[i % QSIZE].id = id;
	d.used->ring[i % QSIZE].len = len;
	__atomic_store_n(&d.used->idx, i + 1, __ATOMIC_RELEASE);
}

static int add_one(uint64_t cookie, bool indirect)
{
	struct vdrv_buf b[2] = { { 0x1000, 64 }, { 0x2000, 128 } };

	return vdrv_add(&d, b, 1, 1, indirect, cookie);
}

START_TEST(setup_zeroes_rings_and_state)
{
	setup_ring(0, false);
	ck_assert_uint_eq(rings[0][0], 0);
	ck_assert_uint_eq(rings[0][QSIZE * 16 - 1], 0);
	ck_assert_uint_eq(rings[1][4 + 2 * QSIZE - 1], 0);
	ck_assert_uint_eq(rings[2][4 + 8 * QSIZE - 1], 0);
	/* Only the areas: the byte after the split used ring is the owner's. */
	ck_assert_uint_eq(rings[2][4 + 8 * QSIZE], 0xee);
	ck_assert_uint_eq(d.num_free, QSIZE);
	ck_assert_uint_eq(d.desc_addr, (uintptr_t)rings[0]);
	ck_assert(!vdrv_more_used(&d));
}
END_TEST

START_TEST(indirect_needs_a_pool)
{
	setup_ring(0, false);
	ck_assert_int_eq(add_one(1, true), -ENOSPC);
	ck_assert_uint_eq(d.num_free, QSIZE);
	setup_ring(0, true);
	ck_assert_int_eq(add_one(1, true), 0);
	ck_assert_uint_eq(d.desc[0].flags, VRING_DESC_F_INDIRECT);
	ck_assert_uint_eq(d.desc[0].addr, (uintptr_t)pool);
	ck_assert_uint_eq(d.desc[0].len, 32);
	/* One ring descriptor for the whole buffer. */
	ck_assert_uint_eq(d.num_free, QSIZE - 1);
}
END_TEST

START_TEST(split_kick_decisions)
{
	setup_ring(0, false);
	ck_assert(!vdrv_added_since_kick(&d));
	ck_assert(!vdrv_kick_needed(&d));
	ck_assert_int_ge(add_one(1, false), 0);
	vdrv_publish(&d);
	ck_assert_uint_eq(d.avail->idx, 1);
	ck_assert(vdrv_added_since_kick(&d));
	ck_assert(vdrv_kick_needed(&d));
	/* Decided: nothing new since. */
	ck_assert(!vdrv_added_since_kick(&d));
	ck_assert(!vdrv_kick_needed(&d));
	/* The device asks not to be kicked: added, yet no kick. */
	d.used->flags = VRING_USED_F_NO_NOTIFY;
	ck_assert_int_ge(add_one(2, false), 0);
	vdrv_publish(&d);
	ck_assert(vdrv_added_since_kick(&d));
	ck_assert(!vdrv_kick_needed(&d));
}
END_TEST

START_TEST(packed_kick_decisions)
{
	setup_ring(VDRV_F(VIRTIO_F_RING_PACKED), false);
	ck_assert_int_eq(add_one(1, false), 0);
	/* Packed buffers are visible at once: the head's flags say available. */
	ck_assert_uint_eq(d.pdesc[0].flags & (VDRV_AVAIL | VDRV_USED), VDRV_AVAIL);
	ck_assert(vdrv_added_since_kick(&d));
	ck_assert(vdrv_kick_needed(&d));
	ck_assert(!vdrv_kick_needed(&d));
	d.dev_event->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
	ck_assert_int_ge(add_one(2, false), 0);
	ck_assert(vdrv_added_since_kick(&d));
	ck_assert(!vdrv_kick_needed(&d));
}
END_TEST

/* Out-of-order completion over several laps: cookies, lengths, free list. */
START_TEST(split_out_of_order_laps)
{
	int ids[QSIZE], i, lap;
	uint64_t cookie;
	uint32_t len;

	setup_ring(0, false);
	for (lap = 0; lap < 3; lap++) {
		/* Two descriptors each: QSIZE / 2 buffers fill the ring. */
		for (i = 0; i < QSIZE / 2; i++) {
			ids[i] = add_one(100 * lap + i, false);
			ck_assert_int_ge(ids[i], 0);
		}
		ck_assert_int_eq(add_one(999, false), -ENOSPC);
		vdrv_publish(&d);
		for (i = QSIZE / 2 - 1; i >= 0; i--)
			split_use(ids[i], 10 + i);
		for (i = QSIZE / 2 - 1; i >= 0; i--) {
			ck_assert_int_eq(vdrv_get_used(&d, &cookie, &len), 1);
			ck_assert_uint_eq(cookie, 100 * lap + i);
			ck_assert_uint_eq(len, 10 + i);
		}
		ck_assert_int_eq(vdrv_get_used(&d, &cookie, &len), 0);
		ck_assert_uint_eq(d.num_free, QSIZE);
	}
}
END_TEST

START_TEST(device_using_what_it_does_not_own)
{
	uint64_t cookie = 7;

	setup_ring(0, false);
	split_use(3, 0);
	ck_assert_int_eq(vdrv_get_used(&d, &cookie, NULL), -EPROTO);
	ck_assert_uint_eq(cookie, 7);
	setup_ring(0, false);
	split_use(QSIZE + 1, 0);
	ck_assert_int_eq(vdrv_get_used(&d, NULL, NULL), -EPROTO);

	setup_ring(VDRV_F(VIRTIO_F_RING_PACKED), false);
	d.pdesc[0].id = 5;
	d.pdesc[0].flags = VDRV_AVAIL | VDRV_USED;
	ck_assert(vdrv_more_used(&d));
	ck_assert_int_eq(vdrv_get_used(&d, NULL, NULL), -EPROTO);
}
END_TEST

VLAB_SUITE_MAIN("virtq_driver", "plain_memory", NULL, NULL, 0,
	setup_zeroes_rings_and_state, indirect_needs_a_pool, split_kick_decisions,
	packed_kick_decisions, split_out_of_order_laps,
	device_using_what_it_does_not_own);
