// SPDX-License-Identifier: GPL-2.0
/*
 * The shadow virtqueue between a guest model (virtio/virtq_driver.c on
 * rings in a guest_mem buffer, tests/virtio/vdrv_guest.h) and the
 * simulated vDPA hardware (devices/vdpa/hw.c), which reaches guest RAM at
 * IOVA = GPA and the shadow rings at their own IOVA, with no dirty log of
 * its own. Buffers go through in every ring layout, the device's writes
 * land in the dirty log by used length, a full shadow ring parks, stop
 * rewinds what is in flight, and a lying device is caught.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "devices/vdpa/hw.h"
#include "virtio/svq.h"
#include "virtio/vdrv_guest.h"

#define RAM_SIZE	(1 << 20)
#define RING_BASE	0x10000
#define BUFS		0x80000		/* two pages per buffer */
#define SH_IOVA		0x100000000ULL
#define Q		0
#define PAGE		4096

static uint8_t *ram, *sh;
static struct guest_mem gm;
static struct vdpa_hw hw;
static struct vdrv drv;
static struct virtq gvq;
static struct svq s;
static unsigned long dirty[RAM_SIZE / PAGE / 64 + 1];

static void setup(void)
{
	ram = aligned_alloc(PAGE, RAM_SIZE);
	sh = aligned_alloc(PAGE, 64 * PAGE);
	ck_assert(ram && sh);
	memset(ram, 0, RAM_SIZE);
	ck_assert_int_eq(guest_mem_init_buffer(&gm, ram, RAM_SIZE), 0);
	ck_assert_int_eq(vdpa_hw_init(&hw, 1, 0, false), 0);
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, 0, RAM_SIZE, (uintptr_t)ram, MV_RW), 0);
}

static void teardown(void)
{
	svq_exit(&s);
	vdpa_hw_exit(&hw);
	guest_mem_exit(&gm);
	free(sh);
	free(ram);
}

/* Guest rings of @size, the VMM's device side on them, an SVQ, the device on the shadow. */
static void start(uint16_t size, uint64_t features)
{
	uint64_t desc, drv_a, dev_a, ro, ro_len, rw, rw_len;

	features |= VDRV_F(VIRTIO_F_VERSION_1);
	ck_assert_int_eq(vdrv_init(&drv, &gm, RING_BASE, size, features), 0);
	virtq_init(&gvq, guest_mem_view(&gm), 256);
	virtq_set_features(&gvq, features);
	ck_assert_int_eq(virtq_set_size(&gvq, size), 0);
	ck_assert_int_eq(virtq_set_addrs(&gvq, drv.desc_addr, drv.driver_addr, drv.device_addr), 0);
	ck_assert_int_eq(virtq_enable(&gvq), 0);

	ck_assert_uint_le(svq_ring_bytes(size, features), 64 * PAGE);
	ck_assert_int_eq(svq_init(&s, &gvq, features, sh, SH_IOVA), 0);
	svq_areas(&s, &ro, &ro_len, &rw, &rw_len);
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, SH_IOVA + ro, ro_len, (uintptr_t)sh + ro,
					      MV_READ), 0);
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, SH_IOVA + rw, rw_len, (uintptr_t)sh + rw,
					      MV_RW), 0);
	hw.features = features;
	svq_rings(&s, &desc, &drv_a, &dev_a);
	ck_assert_int_eq(vdpa_hw_vq_set_num(&hw, Q, size), 0);
	ck_assert_int_eq(vdpa_hw_vq_set_addr(&hw, Q, desc, drv_a, dev_a), 0);
	ck_assert_int_eq(vdpa_hw_vq_set_base(&hw, Q, svq_base(&s)), 0);
	ck_assert_int_eq(vdpa_hw_vq_create(&hw, Q), 0);
	ck_assert_int_eq(vdpa_hw_vq_ready(&hw, Q), 0);
	guest_mem_dirty_collect(&gm, dirty);
}

/* The guest offers @n device-writable buffers of @len, a page apart from BUFS + @first pages. */
static void offer(unsigned int first, unsigned int n, uint32_t len)
{
	unsigned int i;

	for (i = first; i < first + n; i++) {
		struct vdrv_buf b = { BUFS + (uint64_t)i * 2 * PAGE, len };

		ck_assert_int_ge(vdrv_add(&drv, &b, 0, 1, false, i), 0);
	}
	vdrv_publish(&drv);
}

/* The device takes @n buffers and writes @len bytes of @fill into each. */
static void device_fill(unsigned int n, uint32_t len, uint8_t fill)
{
	struct virtq_elem e;

	while (n--) {
		ck_assert_int_eq(vdpa_hw_vq_pop(&hw, Q, &e), 1);
		ck_assert_uint_ge(e.in_len, len);
		memset(e.iov[0].iov_base, fill, len);
		vdpa_hw_vq_push(&hw, Q, &e, len);
	}
}

static bool page_dirty(uint64_t gpa)
{
	uint64_t p = gpa / PAGE;

	return dirty[p / 64] & (1UL << (p % 64));
}

static const uint64_t layouts[] = {
	0,
	VDRV_F(VIRTIO_RING_F_EVENT_IDX),
	VDRV_F(VIRTIO_F_IN_ORDER),
	VDRV_F(VIRTIO_F_RING_PACKED),
	VDRV_F(VIRTIO_F_RING_PACKED) | VDRV_F(VIRTIO_RING_F_EVENT_IDX),
	VDRV_F(VIRTIO_F_RING_PACKED) | VDRV_F(VIRTIO_F_IN_ORDER),
};

/*
 * Three laps of a 16-entry ring through the shadow: every buffer comes
 * back to the guest in order with the device's bytes and length, and the
 * pages the device wrote are dirty, by used length: the second page of a
 * two-page buffer only when the device wrote into it.
 */
START_TEST(forward_and_complete)
{
	uint64_t cookie;
	uint32_t len;
	unsigned int lap, i;

	start(16, layouts[_i]);
	for (lap = 0; lap < 3; lap++) {
		offer(0, 16, 2 * PAGE);
		ck_assert_int_ge(svq_avail(&s), 0);
		ck_assert_uint_eq(s.forwarded, 16 * (lap + 1));
		device_fill(16, lap == 2 ? PAGE + 1 : 100, 0xa0 + lap);
		ck_assert_int_eq(svq_used(&s), 16);
		guest_mem_dirty_collect(&gm, dirty);
		for (i = 0; i < 16; i++) {
			ck_assert_int_eq(vdrv_get_used(&drv, &cookie, &len), 1);
			ck_assert_uint_eq(cookie, i);
			ck_assert_uint_eq(len, lap == 2 ? PAGE + 1 : 100);
			ck_assert_uint_eq(ram[BUFS + i * 2 * PAGE + 99], 0xa0 + lap);
			ck_assert(page_dirty(BUFS + (uint64_t)i * 2 * PAGE));
			ck_assert(page_dirty(BUFS + (uint64_t)i * 2 * PAGE + PAGE) == (lap == 2));
		}
		ck_assert_int_eq(vdrv_get_used(&drv, &cookie, &len), 0);
	}
	ck_assert_uint_eq(s.forwarded, 48);
	ck_assert_uint_eq(s.completed, 48);
	ck_assert_uint_eq(s.inflight, 0);
}
END_TEST

/*
 * Guest chains of four segments behind one indirect descriptor each: the
 * shadow ring (direct descriptors, same size) holds four at a time, the
 * fifth waits parked, and completions let the rest through.
 */
START_TEST(full_shadow_parks)
{
	uint64_t cookie;
	uint32_t len;
	unsigned int i, done = 0;

	start(16, VDRV_F(VIRTIO_RING_F_INDIRECT_DESC));
	for (i = 0; i < 16; i++) {
		struct vdrv_buf b[4];
		unsigned int k;

		for (k = 0; k < 4; k++)
			b[k] = (struct vdrv_buf){ BUFS + (uint64_t)i * 2 * PAGE + k * 512, 512 };
		ck_assert_int_ge(vdrv_add(&drv, b, 0, 4, true, i), 0);
	}
	vdrv_publish(&drv);
	ck_assert_int_eq(svq_avail(&s), 1);
	ck_assert_uint_eq(s.forwarded, 4);
	ck_assert_int_ge(s.parked, 0);
	while (done < 16) {
		device_fill(s.forwarded - done, 512, 0x77);
		ck_assert_int_gt(svq_used(&s), 0);
		while (vdrv_get_used(&drv, &cookie, &len) == 1) {
			ck_assert_uint_eq(cookie, done++);
			ck_assert_uint_eq(len, 512);
		}
		ck_assert_int_ge(svq_avail(&s), 0);
	}
	ck_assert_int_eq(s.parked, -1);
	ck_assert_uint_eq(s.inflight, 0);
}
END_TEST

/*
 * Stop with buffers in flight: those the device completed stay used, the
 * others go back to the guest's ring and are offered again, in order.
 */
START_TEST(rewind_returns_in_flight)
{
	struct virtq_elem e;
	unsigned int i;

	start(16, layouts[_i]);
	offer(0, 8, PAGE);
	ck_assert_int_ge(svq_avail(&s), 0);
	device_fill(3, 10, 0x11);
	ck_assert_int_eq(svq_used(&s), 3);
	ck_assert_uint_eq(s.inflight, 5);
	ck_assert_int_eq(svq_rewind(&s), 0);
	ck_assert_uint_eq(s.inflight, 0);
	for (i = 3; i < 8; i++) {
		ck_assert_int_eq(virtq_pop(&gvq, &e), 1);
		ck_assert_uint_eq(e.gpa[0], BUFS + (uint64_t)i * 2 * PAGE);
	}
	ck_assert_int_eq(virtq_pop(&gvq, &e), 0);
}
END_TEST

/* A device that completed out of order: rewinding would offer a used buffer again. */
START_TEST(rewind_refused_out_of_order)
{
	struct virtq_elem a, b;

	start(16, 0);
	offer(0, 3, PAGE);
	ck_assert_int_ge(svq_avail(&s), 0);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, Q, &a), 1);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, Q, &b), 1);
	vdpa_hw_vq_push(&hw, Q, &b, 1);
	ck_assert_int_eq(svq_used(&s), 1);
	ck_assert_int_eq(svq_rewind(&s), -EBUSY);
	ck_assert_uint_eq(s.inflight, 2);
	ck_assert_uint_eq(gvq.last_avail_idx, 3);
}
END_TEST

/* A used entry for a buffer the device was never given stops the queue. */
START_TEST(device_lies_about_ids)
{
	struct virtq_elem e;

	start(16, 0);
	offer(0, 2, PAGE);
	ck_assert_int_ge(svq_avail(&s), 0);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, Q, &e), 1);
	e.id = 9;
	vdpa_hw_vq_push(&hw, Q, &e, 1);
	ck_assert_int_eq(svq_used(&s), -EPROTO);
	ck_assert_str_eq(s.error, "the device used a buffer it was not given");
	ck_assert_int_eq(svq_avail(&s), -EIO);
}
END_TEST

static Suite *svq_suite(void)
{
	Suite *su = suite_create("svq");
	TCase *tc = tcase_create("svq");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, forward_and_complete, 0, sizeof(layouts) / sizeof(layouts[0]));
	tcase_add_test(tc, full_shadow_parks);
	tcase_add_loop_test(tc, rewind_returns_in_flight, 0, sizeof(layouts) / sizeof(layouts[0]));
	tcase_add_test(tc, rewind_refused_out_of_order);
	tcase_add_test(tc, device_lies_about_ids);
	suite_add_tcase(su, tc);
	return su;
}

VLAB_TEST_MAIN(svq_suite)
