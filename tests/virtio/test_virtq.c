// SPDX-License-Identifier: GPL-2.0
/* Virtqueue device side against the driver model: split, packed, hostile rings. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "virtio/virtq.h"
#include "virtio/vdrv_guest.h"

#define RAM_SIZE	(16ULL << 20)
#define RING_BASE	0x1000
#define PAGE		4096ULL

#define F_V1		VDRV_F(VIRTIO_F_VERSION_1)
#define F_PACKED	VDRV_F(VIRTIO_F_RING_PACKED)
#define F_IND		VDRV_F(VIRTIO_RING_F_INDIRECT_DESC)
#define F_EVENT		VDRV_F(VIRTIO_RING_F_EVENT_IDX)
#define F_INORDER	VDRV_F(VIRTIO_F_IN_ORDER)

static uint8_t *ram;
static struct guest_mem gm;
static struct vdrv drv;
static struct virtq vq;
static struct virtq_elem elem;
static struct virtq_elem elems[64];
static uint64_t data;		/* first gpa after the driver's rings */

static void setup(void)
{
	ram = aligned_alloc(PAGE, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, RAM_SIZE);
	ck_assert_int_eq(guest_mem_init_buffer(&gm, ram, RAM_SIZE), 0);
	memset(&drv, 0, sizeof(drv));
}

static void teardown(void)
{
	vdrv_exit(&drv);
	guest_mem_exit(&gm);
	free(ram);
}

static void start(uint16_t size, uint64_t features)
{
	ck_assert_int_eq(vdrv_init(&drv, &gm, RING_BASE, size, features | F_V1), 0);
	ck_assert_int_eq(vdrv_attach(&drv, &vq), 0);
	data = vdrv_end_gpa(&drv);
}

static uint64_t slot_gpa(unsigned int i)
{
	return data + (uint64_t)i * 256;
}

static uint8_t *host(uint64_t gpa)
{
	return ram + gpa;
}

/* One buffer of @out readable and/or @in writable bytes, published. */
static int add1(uint32_t out, uint32_t in, uint32_t cookie, unsigned int slot)
{
	struct vdrv_buf b[2];
	unsigned int n = 0;
	int id;

	if (out)
		b[n++] = (struct vdrv_buf){ slot_gpa(slot), out };
	if (in)
		b[n++] = (struct vdrv_buf){ slot_gpa(slot) + 128, in };
	id = vdrv_add(&drv, b, out ? 1 : 0, in ? 1 : 0, false, cookie);
	ck_assert_int_ge(id, 0);
	vdrv_publish(&drv);
	return id;
}

static void expect_used(uint32_t cookie, uint32_t len)
{
	uint64_t c;
	uint32_t l;

	ck_assert_int_eq(vdrv_get_used(&drv, &c, &l), 1);
	ck_assert_uint_eq(c, cookie);
	ck_assert_uint_eq(l, len);
}

/* Driver adds one 64-byte TX buffer, device takes and returns it. */
static void roundtrip(uint32_t cookie)
{
	add1(64, 0, cookie, cookie % 16);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	virtq_push(&vq, &elem, 0);
	expect_used(cookie, 0);
}

static unsigned long *dirty_words(void)
{
	size_t n = (gm.dirty_bits + 63) / 64;

	return calloc(n, sizeof(unsigned long));
}

static void dirty_clear(void)
{
	unsigned long *w = dirty_words();

	guest_mem_dirty_collect(&gm, w);
	free(w);
}

/* Collect the dirty log and return how many pages it holds. */
static unsigned int dirty_collect(unsigned long **out)
{
	unsigned long *w = dirty_words();
	unsigned int i, n = 0;

	guest_mem_dirty_collect(&gm, w);
	for (i = 0; i < (gm.dirty_bits + 63) / 64; i++)
		n += __builtin_popcountl(w[i]);
	*out = w;
	return n;
}

static bool page_dirty(const unsigned long *w, uint64_t gpa)
{
	uint64_t pfn = gpa / PAGE;

	return w[pfn / 64] & (1UL << (pfn % 64));
}

/*
 * The next pop must fail with @err and break the queue for good, without
 * writing a byte of guest memory or a bit of the dirty log.
 */
static void expect_broken(int err)
{
	uint8_t *copy = malloc(RAM_SIZE);
	unsigned long *w;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, ram, RAM_SIZE);
	dirty_clear();

	ck_assert_int_eq(virtq_pop(&vq, &elem), err);
	ck_assert(vq.broken);
	ck_assert_ptr_nonnull(vq.broken_reason);
	ck_assert_int_eq(virtq_pop(&vq, &elem), -EIO);
	virtq_push(&vq, &elem, 0);
	ck_assert(!virtq_should_notify(&vq));

	ck_assert(memcmp(copy, ram, RAM_SIZE) == 0);
	ck_assert_uint_eq(dirty_collect(&w), 0);
	free(w);
	free(copy);
}

/* ---- split ---- */

START_TEST(split_roundtrip_single)
{
	int id;

	start(8, 0);
	memset(host(slot_gpa(0)), 0xab, 64);
	id = add1(64, 0, 77, 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.id, id);
	ck_assert_uint_eq(elem.out_num, 1);
	ck_assert_uint_eq(elem.in_num, 0);
	ck_assert_uint_eq(elem.out_len, 64);
	ck_assert_ptr_eq(elem.iov[0].iov_base, host(slot_gpa(0)));
	ck_assert_uint_eq(elem.iov[0].iov_len, 64);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 0);
	ck_assert_int_eq(vdrv_get_used(&drv, NULL, NULL), 0);
	virtq_push(&vq, &elem, 0);
	expect_used(77, 0);
	ck_assert_int_eq(vdrv_get_used(&drv, NULL, NULL), 0);
	ck_assert_uint_eq(drv.num_free, 8);
}
END_TEST

static void chain_out_in(bool indirect)
{
	struct vdrv_buf b[4] = {
		{ data, 16 }, { data + 0x100, 100 },
		{ data + 0x1000, 50 }, { data + 0x2000, 200 },
	};
	struct iovec *in;
	int id;

	memset(host(data), 0x11, 16);
	memset(host(data + 0x100), 0x22, 100);
	id = vdrv_add(&drv, b, 2, 2, indirect, 5);
	ck_assert_int_ge(id, 0);
	vdrv_publish(&drv);

	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.id, id);
	ck_assert_uint_eq(elem.out_num, 2);
	ck_assert_uint_eq(elem.in_num, 2);
	ck_assert_uint_eq(elem.out_len, 116);
	ck_assert_uint_eq(elem.in_len, 250);
	ck_assert_uint_eq(elem.ndescs, indirect ? 1 : 4);
	ck_assert_uint_eq(((uint8_t *)virtq_elem_out(&elem)[1].iov_base)[99], 0x22);
	in = virtq_elem_in(&elem);
	ck_assert_ptr_eq(in[0].iov_base, host(data + 0x1000));
	ck_assert_uint_eq(in[1].iov_len, 200);
	memset(in[0].iov_base, 0x5a, 50);
	memset(in[1].iov_base, 0x5a, 180);
	virtq_push(&vq, &elem, 230);
	expect_used(5, 230);
	ck_assert_uint_eq(host(data + 0x2000)[179], 0x5a);
	ck_assert_uint_eq(host(data + 0x2000)[180], 0);
	ck_assert_uint_eq(drv.num_free, drv.size);
}

START_TEST(split_chain_out_in)
{
	start(8, 0);
	chain_out_in(false);
}
END_TEST

START_TEST(split_indirect)
{
	start(8, F_IND);
	chain_out_in(true);
	chain_out_in(false);
}
END_TEST

/*
 * Indirect tables need no alignment (virtio 1.2, 2.7.5.3: "anywhere in
 * memory"): tables at odd addresses are read correctly. They are written
 * here as bytes, since a descriptor pointer there would be misaligned.
 * Under -fsanitize=undefined the device's old aligned loads failed this.
 */
static const unsigned int odd_offsets[] = { 1, 2, 4, 8, 15 };

static void put_split_entry(uint64_t table, uint32_t i, uint64_t addr, uint32_t len,
			    uint16_t flags, uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(host(table + 16ULL * i), &d, sizeof(d));
}

static void put_packed_entry(uint64_t table, uint32_t i, uint64_t addr, uint32_t len,
			     uint16_t flags)
{
	struct vring_packed_desc d = { .addr = addr, .len = len, .flags = flags };

	memcpy(host(table + 16ULL * i), &d, sizeof(d));
}

static void expect_out16_in32(void)
{
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.out_num, 1);
	ck_assert_uint_eq(elem.in_num, 1);
	ck_assert_uint_eq(elem.out_len, 16);
	ck_assert_uint_eq(elem.in_len, 32);
	ck_assert_ptr_eq(elem.iov[0].iov_base, host(data));
	ck_assert_ptr_eq(elem.iov[1].iov_base, host(data + 64));
	virtq_push(&vq, &elem, 32);
}

START_TEST(split_indirect_unaligned)
{
	unsigned int k;

	start(8, F_IND);
	for (k = 0; k < sizeof(odd_offsets) / sizeof(odd_offsets[0]); k++) {
		uint64_t table = 0x800000 + 0x1000 * k + odd_offsets[k];

		put_split_entry(table, 0, data, 16, VRING_DESC_F_NEXT, 1);
		put_split_entry(table, 1, data + 64, 32, VRING_DESC_F_WRITE, 0);
		vdrv_raw_desc(&drv, k, table, 32, VRING_DESC_F_INDIRECT, 0);
		vdrv_raw_avail(&drv, k);
		expect_out16_in32();
	}
	ck_assert(!vq.broken);
}
END_TEST

START_TEST(packed_indirect_unaligned)
{
	unsigned int k;

	start(8, F_PACKED | F_IND);
	for (k = 0; k < sizeof(odd_offsets) / sizeof(odd_offsets[0]); k++) {
		uint64_t table = 0x800000 + 0x1000 * k + odd_offsets[k];

		put_packed_entry(table, 0, data, 16, 0);
		put_packed_entry(table, 1, data + 64, 32, VRING_DESC_F_WRITE);
		vdrv_raw_packed(&drv, table, 32, k, VRING_DESC_F_INDIRECT);
		expect_out16_in32();
	}
	ck_assert(!vq.broken);
}
END_TEST

static void many_in_flight(void)
{
	bool seen[64] = { 0 };
	uint64_t c;
	uint32_t l;
	int i;

	for (i = 0; i < 64; i++)
		add1(0, 1 + i % 32, i, i);
	ck_assert_int_eq(vdrv_add(&drv, &(struct vdrv_buf){ data, 1 }, 1, 0, false, 99),
			 -ENOSPC);
	ck_assert_uint_eq(virtq_avail_count(&vq), 64);
	for (i = 0; i < 64; i++)
		ck_assert_int_eq(virtq_pop(&vq, &elems[i]), 1);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 0);
	/* Complete out of order, as a device with parallel backends would. */
	for (i = 63; i >= 0; i--)
		virtq_fill(&vq, &elems[i], elems[i].in_len);
	virtq_flush(&vq);
	for (i = 0; i < 64; i++) {
		ck_assert_int_eq(vdrv_get_used(&drv, &c, &l), 1);
		ck_assert_uint_lt(c, 64);
		ck_assert(!seen[c]);
		seen[c] = true;
		ck_assert_uint_eq(l, 1 + c % 32);
	}
	ck_assert_int_eq(vdrv_get_used(&drv, &c, &l), 0);
	ck_assert_uint_eq(drv.num_free, 64);
}

START_TEST(split_many_in_flight)
{
	start(64, 0);
	many_in_flight();
	many_in_flight();
}
END_TEST

static void index_wrap(unsigned int iters)
{
	unsigned int i;

	/* Keep three in flight so the wrap happens with work outstanding. */
	for (i = 0; i < 3; i++)
		add1(8, 0, i, i);
	for (i = 0; i < iters; i++) {
		ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
		virtq_push(&vq, &elem, 0);
		expect_used(i, 0);
		add1(8, 0, i + 3, (i + 3) % 16);
	}
}

START_TEST(split_index_wrap)
{
	start(4, 0);
	index_wrap(70000);
	ck_assert_uint_eq(vq.used_idx, (uint16_t)70000);
	ck_assert_uint_eq(vq.last_avail_idx, (uint16_t)70000);
	ck_assert_uint_eq(drv.avail->idx, (uint16_t)70003);
}
END_TEST

START_TEST(split_avail_count_empty)
{
	start(8, 0);
	ck_assert(virtq_empty(&vq));
	add1(8, 0, 1, 1);
	add1(8, 0, 2, 2);
	add1(8, 0, 3, 3);
	ck_assert(!virtq_empty(&vq));
	ck_assert_uint_eq(virtq_avail_count(&vq), 3);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(virtq_avail_count(&vq), 2);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert(virtq_empty(&vq));
	ck_assert_uint_eq(virtq_avail_count(&vq), 0);
}
END_TEST

START_TEST(split_size_32768)
{
	int i;

	start(32768, F_IND);
	ck_assert_uint_eq(vq.size, 32768);
	for (i = 0; i < 4; i++)
		chain_out_in(i & 1);
	roundtrip(9);
}
END_TEST

START_TEST(split_size_rules)
{
	virtq_init(&vq, guest_mem_view(&gm), 256);
	ck_assert_uint_eq(vq.size, 256);
	ck_assert_int_eq(virtq_set_size(&vq, 0), -EINVAL);
	ck_assert_int_eq(virtq_set_size(&vq, 512), -EINVAL);
	ck_assert_int_eq(virtq_set_size(&vq, 100), 0);
	ck_assert_int_eq(virtq_set_addrs(&vq, 0x10000, 0x20000, 0x30000), 0);
	ck_assert_int_eq(virtq_enable(&vq), -EINVAL);
	ck_assert(!vq.enabled);
	ck_assert(vq.broken);
	virtq_reset(&vq);
	ck_assert_int_eq(virtq_set_size(&vq, 128), 0);
	ck_assert_int_eq(virtq_set_addrs(&vq, 0x10000, 0x20000, 0x30000), 0);
	ck_assert_int_eq(virtq_enable(&vq), 0);
	ck_assert_int_eq(virtq_set_size(&vq, 64), -EBUSY);
}
END_TEST

START_TEST(split_direct_chain_ending_indirect)
{
	uint64_t t = data + 0x4000;

	/* Legal in split rings: only INDIRECT together with NEXT is forbidden. */
	start(8, F_IND);
	vdrv_raw_desc(&drv, 0, data, 16, VRING_DESC_F_NEXT, 1);
	vdrv_raw_desc(&drv, 1, t, 32, VRING_DESC_F_INDIRECT, 0);
	vdrv_raw_table(&drv, t, 0, data + 0x100, 32,
		       VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	vdrv_raw_table(&drv, t, 1, data + 0x200, 32, VRING_DESC_F_WRITE, 0);
	vdrv_raw_avail(&drv, 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.out_num, 1);
	ck_assert_uint_eq(elem.in_num, 2);
	ck_assert_uint_eq(elem.ndescs, 2);
	ck_assert_uint_eq(elem.in_len, 64);
}
END_TEST

START_TEST(split_unpop)
{
	int a, b;

	start(8, 0);
	a = add1(8, 0, 1, 1);
	b = add1(8, 0, 2, 2);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.id, a);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.id, b);
	virtq_unpop(&vq, &elem);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.id, b);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 0);
}
END_TEST

/* ---- packed ---- */

START_TEST(packed_roundtrip_single)
{
	int id;

	start(8, F_PACKED);
	id = add1(64, 0, 77, 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.id, id);
	ck_assert_uint_eq(elem.ndescs, 1);
	ck_assert_uint_eq(elem.out_len, 64);
	ck_assert_ptr_eq(elem.iov[0].iov_base, host(slot_gpa(0)));
	ck_assert_int_eq(virtq_pop(&vq, &elem), 0);
	ck_assert_int_eq(vdrv_get_used(&drv, NULL, NULL), 0);
	virtq_push(&vq, &elem, 0);
	expect_used(77, 0);
	ck_assert_uint_eq(vq.used_idx, 1);
	ck_assert_uint_eq(vq.last_avail_idx, 1);
}
END_TEST

START_TEST(packed_chain_out_in)
{
	start(8, F_PACKED);
	chain_out_in(false);
	ck_assert_uint_eq(vq.used_idx, 4);
}
END_TEST

START_TEST(packed_indirect)
{
	start(8, F_PACKED | F_IND);
	chain_out_in(true);
	chain_out_in(false);
	ck_assert_uint_eq(vq.used_idx, 5);
}
END_TEST

START_TEST(packed_many_in_flight)
{
	start(64, F_PACKED);
	many_in_flight();
	many_in_flight();
}
END_TEST

START_TEST(packed_wrap_counters)
{
	unsigned int i, flips = 0;
	bool last;

	/* Size 5 and chains of 1..3 so laps end mid-chain. */
	start(5, F_PACKED);
	last = vq.avail_wrap_counter;
	for (i = 0; i < 3000; i++) {
		unsigned int n = 1 + i % 3, k;
		struct vdrv_buf b[3];

		for (k = 0; k < n; k++)
			b[k] = (struct vdrv_buf){ slot_gpa(k), 16 };
		ck_assert_int_ge(vdrv_add(&drv, b, n - 1, 1, false, i), 0);
		ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
		ck_assert_uint_eq(elem.ndescs, n);
		ck_assert_uint_eq(elem.in_num, 1);
		virtq_push(&vq, &elem, 10);
		expect_used(i, 10);
		if (vq.avail_wrap_counter != last)
			flips++;
		last = vq.avail_wrap_counter;
		ck_assert_uint_lt(vq.last_avail_idx, 5);
		ck_assert_uint_eq(vq.last_avail_idx, vq.used_idx);
		ck_assert(vq.avail_wrap_counter == vq.used_wrap_counter);
	}
	/* 6000 descriptors over a ring of 5: one lap every 5. */
	ck_assert_uint_eq(flips, 1200);
}
END_TEST

START_TEST(packed_index_wrap)
{
	start(4, F_PACKED);
	index_wrap(70000);
	ck_assert_uint_eq(vq.used_idx, 70000 % 4);
}
END_TEST

START_TEST(packed_any_size)
{
	static const uint16_t sizes[] = { 1, 3, 100, 32768 };
	unsigned int i;

	for (i = 0; i < 4; i++) {
		vdrv_exit(&drv);
		start(sizes[i], F_PACKED | F_IND);
		ck_assert_uint_eq(vq.size, sizes[i]);
		roundtrip(i);
		roundtrip(i + 10);
		if (sizes[i] >= 4)
			chain_out_in(false);
		chain_out_in(true);
	}
}
END_TEST

START_TEST(packed_unpop)
{
	struct vdrv_buf b[3] = { { data, 8 }, { data + 64, 8 }, { data + 128, 8 } };
	int id;

	start(4, F_PACKED);
	roundtrip(1);
	roundtrip(2);
	/* A chain of 3 from position 2 crosses the end of the ring. */
	id = vdrv_add(&drv, b, 3, 0, false, 3);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(vq.last_avail_idx, 1);
	ck_assert(!vq.avail_wrap_counter);
	virtq_unpop(&vq, &elem);
	ck_assert_uint_eq(vq.last_avail_idx, 2);
	ck_assert(vq.avail_wrap_counter);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(elem.id, id);
	virtq_push(&vq, &elem, 0);
	expect_used(3, 0);
}
END_TEST

/* ---- notification suppression ---- */

START_TEST(split_no_interrupt_flag)
{
	start(8, 0);
	roundtrip(1);
	ck_assert(virtq_should_notify(&vq));
	ck_assert(!virtq_should_notify(&vq));	/* nothing new */
	vdrv_disable_cb(&drv);
	roundtrip(2);
	ck_assert(!virtq_should_notify(&vq));
	ck_assert(!vdrv_enable_cb(&drv));
	roundtrip(3);
	ck_assert(virtq_should_notify(&vq));
}
END_TEST

START_TEST(split_used_event)
{
	int i;

	start(16, F_EVENT);
	roundtrip(0);
	ck_assert(virtq_should_notify(&vq));
	/* Interrupt once the used index moves past 3. */
	vdrv_set_used_event(&drv, 3);
	roundtrip(1);
	ck_assert(!virtq_should_notify(&vq));	/* used 2 */
	roundtrip(2);
	ck_assert(!virtq_should_notify(&vq));	/* used 3 */
	roundtrip(3);
	ck_assert(virtq_should_notify(&vq));	/* used 4 */
	roundtrip(4);
	ck_assert(!virtq_should_notify(&vq));
	/* A batch that jumps over the event still notifies once. */
	vdrv_set_used_event(&drv, 6);
	for (i = 0; i < 3; i++)
		add1(8, 0, 10 + i, i);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(virtq_pop(&vq, &elems[i]), 1);
		virtq_fill(&vq, &elems[i], 0);
	}
	virtq_flush(&vq);
	ck_assert(virtq_should_notify(&vq));
	ck_assert(!virtq_should_notify(&vq));
}
END_TEST

START_TEST(split_avail_event)
{
	start(16, F_EVENT);
	add1(8, 0, 0, 0);
	ck_assert(vdrv_kick_needed(&drv));
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(vdrv_avail_event(&drv), 1);
	add1(8, 0, 1, 1);
	add1(8, 0, 2, 2);
	ck_assert(vdrv_kick_needed(&drv));
	/* Polling: avail_event stays behind, so the driver stops kicking. */
	virtq_disable_notify(&vq);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(vdrv_avail_event(&drv), 1);
	add1(8, 0, 3, 3);
	ck_assert(!vdrv_kick_needed(&drv));
	/* Re-enabling finds the unkicked buffer. */
	ck_assert(virtq_enable_notify(&vq));
	ck_assert_uint_eq(vdrv_avail_event(&drv), 3);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(vdrv_avail_event(&drv), 4);
	ck_assert(!virtq_enable_notify(&vq));
	add1(8, 0, 4, 4);
	ck_assert(vdrv_kick_needed(&drv));
}
END_TEST

START_TEST(split_no_notify_flag)
{
	start(8, 0);
	add1(8, 0, 0, 0);
	ck_assert(vdrv_kick_needed(&drv));
	virtq_disable_notify(&vq);
	ck_assert_uint_eq(drv.used->flags, VRING_USED_F_NO_NOTIFY);
	add1(8, 0, 1, 1);
	ck_assert(!vdrv_kick_needed(&drv));
	ck_assert(virtq_enable_notify(&vq));
	ck_assert_uint_eq(drv.used->flags, 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert(!virtq_enable_notify(&vq));
	add1(8, 0, 2, 2);
	ck_assert(vdrv_kick_needed(&drv));
}
END_TEST

START_TEST(packed_driver_event_flags)
{
	start(8, F_PACKED);
	roundtrip(1);
	ck_assert(virtq_should_notify(&vq));
	ck_assert(!virtq_should_notify(&vq));
	vdrv_disable_cb(&drv);
	roundtrip(2);
	ck_assert(!virtq_should_notify(&vq));
	ck_assert(!vdrv_enable_cb(&drv));
	roundtrip(3);
	ck_assert(virtq_should_notify(&vq));
}
END_TEST

START_TEST(packed_driver_event_desc)
{
	start(4, F_PACKED | F_EVENT);
	roundtrip(0);
	ck_assert(virtq_should_notify(&vq));
	/* Wants the used descriptor at position 3 of this lap. */
	vdrv_set_driver_event(&drv, VRING_PACKED_EVENT_FLAG_DESC, 3, true);
	roundtrip(1);				/* writes position 1 */
	ck_assert(!virtq_should_notify(&vq));
	roundtrip(2);				/* 2 */
	ck_assert(!virtq_should_notify(&vq));
	roundtrip(3);				/* 3 */
	ck_assert(virtq_should_notify(&vq));
	ck_assert(!vq.used_wrap_counter);
	/* Position 1 of the next lap (wrap counter 0). */
	vdrv_set_driver_event(&drv, VRING_PACKED_EVENT_FLAG_DESC, 1, false);
	roundtrip(4);				/* 0, lap 2 */
	ck_assert(!virtq_should_notify(&vq));
	roundtrip(5);				/* 1, lap 2 */
	ck_assert(virtq_should_notify(&vq));
	/* Same offset, other lap: not reached. */
	vdrv_set_driver_event(&drv, VRING_PACKED_EVENT_FLAG_DESC, 2, true);
	roundtrip(6);
	ck_assert(!virtq_should_notify(&vq));
	/* vdrv_enable_cb asks for the next one. */
	ck_assert(!vdrv_enable_cb(&drv));
	roundtrip(7);
	ck_assert(virtq_should_notify(&vq));
}
END_TEST

START_TEST(packed_device_event)
{
	start(8, F_PACKED | F_EVENT);
	add1(8, 0, 0, 0);
	ck_assert(vdrv_kick_needed(&drv));
	virtq_disable_notify(&vq);
	ck_assert_uint_eq(drv.dev_event->flags, VRING_PACKED_EVENT_FLAG_DISABLE);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	add1(8, 0, 1, 1);
	ck_assert(!vdrv_kick_needed(&drv));
	ck_assert(virtq_enable_notify(&vq));
	ck_assert_uint_eq(drv.dev_event->flags, VRING_PACKED_EVENT_FLAG_DESC);
	ck_assert_uint_eq(drv.dev_event->off_wrap, 1 | VDRV_EVENT_WRAP);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(drv.dev_event->off_wrap, 2 | VDRV_EVENT_WRAP);
	ck_assert(!virtq_enable_notify(&vq));
	add1(8, 0, 2, 2);
	ck_assert(vdrv_kick_needed(&drv));
	/* The device wants position 3 next; adding at 3 and 4 still kicks. */
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	add1(8, 0, 3, 3);
	add1(8, 0, 4, 4);
	ck_assert(vdrv_kick_needed(&drv));
}
END_TEST

START_TEST(packed_device_event_no_idx)
{
	start(8, F_PACKED);
	virtq_disable_notify(&vq);
	add1(8, 0, 0, 0);
	ck_assert(!vdrv_kick_needed(&drv));
	ck_assert(virtq_enable_notify(&vq));
	ck_assert_uint_eq(drv.dev_event->flags, VRING_PACKED_EVENT_FLAG_ENABLE);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert(!virtq_enable_notify(&vq));
	add1(8, 0, 1, 1);
	ck_assert(vdrv_kick_needed(&drv));
}
END_TEST

/* ---- IN_ORDER ---- */

START_TEST(split_in_order_batch)
{
	int i;

	start(8, F_INORDER);
	for (i = 0; i < 4; i++)
		add1(64, 0, 20 + i, i);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(virtq_pop(&vq, &elems[i]), 1);
		ck_assert_uint_eq(elems[i].id, i);
		virtq_fill(&vq, &elems[i], 0);
	}
	ck_assert_uint_eq(drv.used->idx, 0);
	virtq_flush(&vq);
	/* One used entry for the batch, naming its last buffer. */
	ck_assert_uint_eq(drv.used->idx, 4);
	ck_assert_uint_eq(drv.used->ring[0].id, 3);
	ck_assert_uint_eq(drv.used->ring[1].id, 0);
	ck_assert_uint_eq(drv.used->ring[1].len, 0);
	for (i = 0; i < 4; i++)
		expect_used(20 + i, 0);
	ck_assert_int_eq(vdrv_get_used(&drv, NULL, NULL), 0);
}
END_TEST

START_TEST(split_in_order_partial_not_folded)
{
	static const uint32_t lens[4] = { 100, 40, 100, 100 };
	int i;

	start(8, F_INORDER);
	for (i = 0; i < 4; i++)
		add1(0, 100, i, i);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(virtq_pop(&vq, &elems[i]), 1);
		virtq_fill(&vq, &elems[i], lens[i]);
	}
	virtq_flush(&vq);
	/* A short buffer ends a batch: its length must reach the driver. */
	ck_assert_uint_eq(drv.used->idx, 4);
	ck_assert_uint_eq(drv.used->ring[0].id, 1);
	ck_assert_uint_eq(drv.used->ring[0].len, 40);
	ck_assert_uint_eq(drv.used->ring[2].id, 3);
	ck_assert_uint_eq(drv.used->ring[2].len, 100);
	for (i = 0; i < 4; i++)
		expect_used(i, lens[i]);
}
END_TEST

START_TEST(packed_in_order_batch)
{
	struct vdrv_buf b[2] = { { data, 8 }, { data + 64, 8 } };
	uint16_t avail_flags;
	int i;

	start(8, F_PACKED | F_INORDER);
	ck_assert_int_eq(vdrv_add(&drv, b, 1, 0, false, 0), 0);
	ck_assert_int_eq(vdrv_add(&drv, b, 2, 0, false, 1), 1);
	ck_assert_int_eq(vdrv_add(&drv, b, 1, 0, false, 2), 3);
	avail_flags = drv.pdesc[1].flags;
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(virtq_pop(&vq, &elems[i]), 1);
		virtq_fill(&vq, &elems[i], 0);
	}
	virtq_flush(&vq);
	/* One used descriptor at the batch start, with the last buffer's id. */
	ck_assert_uint_eq(drv.pdesc[0].id, 3);
	ck_assert_uint_eq(drv.pdesc[0].flags & (VDRV_AVAIL | VDRV_USED),
			  VDRV_AVAIL | VDRV_USED);
	ck_assert_uint_eq(drv.pdesc[1].flags, avail_flags);
	ck_assert_uint_eq(vq.used_idx, 4);
	for (i = 0; i < 3; i++)
		expect_used(i, 0);
	ck_assert_int_eq(vdrv_get_used(&drv, NULL, NULL), 0);
}
END_TEST

/* Random batches, chain lengths and short writes across many laps. */
static void in_order_stress(uint16_t size, uint64_t features)
{
	uint32_t seed = 12345, next_cookie = 0, expect = 0;
	unsigned int iter;

	start(size, features | F_INORDER);
	for (iter = 0; iter < 3000; iter++) {
		unsigned int batch, i;
		uint64_t c;
		uint32_t l;

		seed = seed * 1103515245 + 12345;
		batch = 1 + (seed >> 16) % 3;
		for (i = 0; i < batch; i++) {
			struct vdrv_buf b[2] = { { data, 12 }, { data + 512, 64 } };
			bool two = (seed >> (8 + i)) & 1;

			ck_assert_int_ge(vdrv_add(&drv, two ? b : b + 1, two, 1,
						  false, next_cookie++), 0);
		}
		vdrv_publish(&drv);
		for (i = 0; i < batch; i++) {
			ck_assert_int_eq(virtq_pop(&vq, &elems[i]), 1);
			/* Odd cookies get a short write. */
			virtq_fill(&vq, &elems[i], (expect + i) & 1 ? 20 : 64);
		}
		virtq_flush(&vq);
		while (vdrv_get_used(&drv, &c, &l) == 1) {
			ck_assert_uint_eq(c, expect);
			ck_assert_uint_eq(l, c & 1 ? 20 : 64);
			expect++;
		}
	}
	ck_assert_uint_eq(expect, next_cookie);
	ck_assert_uint_eq(drv.num_free, size);
}

/*
 * A transmit queue's pattern: the driver adds any number of out-only
 * buffers, the device takes any number of those and returns them (length
 * 0, so they fold), and the driver reaps any number of the returned, each
 * at its own pace, across many laps of a 256-entry ring.
 */
static void in_order_tx_pace(uint64_t features)
{
	uint32_t seed = 777, added = 0, popped = 0, reaped = 0;
	unsigned int iter, i, n;
	uint64_t c;
	uint32_t l;

	start(256, features | F_INORDER);
	for (iter = 0; iter < 20000; iter++) {
		seed = seed * 1103515245 + 12345;
		n = (seed >> 16) % 40;
		for (i = 0; i < n && drv.num_free; i++) {
			struct vdrv_buf b = { data, 60 };

			ck_assert_int_ge(vdrv_add(&drv, &b, 1, 0, false, added++), 0);
		}
		vdrv_publish(&drv);
		n = (seed >> 8) % 64;
		for (i = 0; i < n && virtq_pop(&vq, &elems[0]) == 1; i++) {
			virtq_fill(&vq, &elems[0], 0);
			popped++;
		}
		virtq_flush(&vq);
		n = (seed >> 24) % 50;
		for (i = 0; i < n && vdrv_get_used(&drv, &c, &l) == 1; i++) {
			ck_assert_uint_eq(c, reaped);
			ck_assert_uint_eq(l, 0);
			reaped++;
		}
	}
	while (vdrv_get_used(&drv, &c, &l) == 1)
		ck_assert_uint_eq(c, reaped++);
	ck_assert_uint_eq(reaped, popped);
}

/* A whole ring returned in one batch, then the next lap the same. */
static void in_order_full_ring(uint64_t features)
{
	uint32_t added = 0, reaped = 0, lap, i;
	uint64_t c;
	uint32_t l;

	start(16, features | F_INORDER);
	for (lap = 0; lap < 3; lap++) {
		for (i = 0; i < 16; i++) {
			struct vdrv_buf b = { data, 60 };

			ck_assert_int_ge(vdrv_add(&drv, &b, 1, 0, false, added++), 0);
		}
		vdrv_publish(&drv);
		for (i = 0; i < 16; i++) {
			ck_assert_int_eq(virtq_pop(&vq, &elems[0]), 1);
			virtq_fill(&vq, &elems[0], 0);
		}
		virtq_flush(&vq);
		while (vdrv_get_used(&drv, &c, &l) == 1)
			ck_assert_uint_eq(c, reaped++);
		ck_assert_uint_eq(reaped, added);
	}
}

START_TEST(split_in_order_full_ring)
{
	in_order_full_ring(0);
}
END_TEST

START_TEST(packed_in_order_full_ring)
{
	in_order_full_ring(F_PACKED);
}
END_TEST

START_TEST(split_in_order_tx_pace)
{
	in_order_tx_pace(0);
}
END_TEST

START_TEST(packed_in_order_tx_pace)
{
	in_order_tx_pace(F_PACKED);
}
END_TEST

START_TEST(split_in_order_stress)
{
	in_order_stress(8, 0);
}
END_TEST

START_TEST(packed_in_order_stress)
{
	in_order_stress(7, F_PACKED);
}
END_TEST

/* ---- reset ---- */

START_TEST(split_ring_reset)
{
	start(8, F_EVENT);
	roundtrip(1);
	add1(8, 0, 2, 2);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	virtq_reset(&vq);
	ck_assert(!vq.enabled);
	ck_assert(!vq.broken);
	ck_assert_uint_eq(vq.size, 8);
	ck_assert_uint_eq(vq.last_avail_idx, 0);
	ck_assert_uint_eq(vq.used_idx, 0);
	ck_assert_uint_eq(vq.desc_addr, 0);
	ck_assert(virtq_has_feature(&vq, VIRTIO_RING_F_EVENT_IDX));
	ck_assert_int_eq(virtq_pop(&vq, &elem), 0);

	/* The driver sets the queue up again, somewhere else. */
	vdrv_exit(&drv);
	ck_assert_int_eq(vdrv_init(&drv, &gm, 0x400000, 8, F_V1 | F_EVENT), 0);
	ck_assert_int_eq(virtq_set_addrs(&vq, drv.desc_addr, drv.driver_addr,
					 drv.device_addr), 0);
	ck_assert_int_eq(virtq_enable(&vq), 0);
	roundtrip(3);
	ck_assert_uint_eq(vq.used_idx, 1);
}
END_TEST

START_TEST(packed_ring_reset)
{
	start(3, F_PACKED);
	roundtrip(1);
	roundtrip(2);
	roundtrip(3);
	ck_assert(!vq.used_wrap_counter);
	virtq_reset(&vq);
	ck_assert(vq.avail_wrap_counter);
	ck_assert(vq.used_wrap_counter);
	ck_assert_uint_eq(vq.last_avail_idx, 0);
	vdrv_exit(&drv);
	ck_assert_int_eq(vdrv_init(&drv, &gm, RING_BASE, 3, F_V1 | F_PACKED), 0);
	ck_assert_int_eq(virtq_set_addrs(&vq, drv.desc_addr, drv.driver_addr,
					 drv.device_addr), 0);
	ck_assert_int_eq(virtq_enable(&vq), 0);
	roundtrip(4);
	roundtrip(5);
}
END_TEST

START_TEST(reset_clears_broken)
{
	start(8, 0);
	vdrv_raw_avail(&drv, 9);
	ck_assert_int_eq(virtq_pop(&vq, &elem), -EINVAL);
	ck_assert_int_eq(virtq_enable(&vq), -EIO);
	virtq_reset(&vq);
	ck_assert(!vq.broken);
	ck_assert_ptr_null(vq.broken_reason);
	vdrv_exit(&drv);
	ck_assert_int_eq(vdrv_init(&drv, &gm, RING_BASE, 8, F_V1), 0);
	ck_assert_int_eq(virtq_set_addrs(&vq, drv.desc_addr, drv.driver_addr,
					 drv.device_addr), 0);
	ck_assert_int_eq(virtq_enable(&vq), 0);
	roundtrip(1);
}
END_TEST

/* ---- dirty log ---- */

static void dirty_exact(void)
{
	uint64_t a = vdrv_align(data, PAGE);
	struct vdrv_buf b[4] = {
		{ a, 100 },				/* readable */
		{ a + PAGE, PAGE },			/* writable x3 */
		{ a + 2 * PAGE, PAGE },
		{ a + 3 * PAGE, PAGE },
	};
	unsigned long *w;

	ck_assert_int_ge(vdrv_add(&drv, b, 1, 3, false, 1), 0);
	vdrv_publish(&drv);
	dirty_clear();
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	ck_assert_uint_eq(dirty_collect(&w), 0);	/* reading dirties nothing */
	free(w);

	virtq_push(&vq, &elem, PAGE + 100);
	ck_assert_uint_eq(dirty_collect(&w), 3);
	ck_assert(page_dirty(w, a + PAGE));
	ck_assert(page_dirty(w, a + 2 * PAGE));
	ck_assert(!page_dirty(w, a + 3 * PAGE));
	ck_assert(!page_dirty(w, a));
	/* The third page is the ring area the used entry went to. */
	ck_assert(page_dirty(w, drv.packed ? drv.desc_addr : drv.device_addr));
	free(w);
	expect_used(1, PAGE + 100);
}

START_TEST(split_dirty_exact)
{
	start(8, 0);
	dirty_exact();
}
END_TEST

START_TEST(packed_dirty_exact)
{
	start(8, F_PACKED);
	dirty_exact();
}
END_TEST

START_TEST(dirty_notify_fields)
{
	unsigned long *w;

	start(8, F_EVENT);
	dirty_clear();
	ck_assert(!virtq_enable_notify(&vq));
	ck_assert_uint_eq(dirty_collect(&w), 1);
	ck_assert(page_dirty(w, drv.device_addr + 4 + 8 * 8));
	free(w);
	virtq_disable_notify(&vq);
	ck_assert_uint_eq(dirty_collect(&w), 0);
	free(w);
}
END_TEST

/* ---- hostile split rings ---- */

static void bad_split_desc(uint64_t features, uint64_t addr, uint32_t len,
			   uint16_t flags, int err)
{
	start(8, features);
	vdrv_raw_desc(&drv, 0, addr, len, flags, 0);
	vdrv_raw_avail(&drv, 0);
	expect_broken(err);
}

START_TEST(bad_addr_outside_ram)
{
	bad_split_desc(0, RAM_SIZE + PAGE, 64, 0, -EFAULT);
}
END_TEST

START_TEST(bad_len_past_end)
{
	bad_split_desc(0, RAM_SIZE - 32, 64, VRING_DESC_F_WRITE, -EFAULT);
}
END_TEST

START_TEST(bad_addr_wraps)
{
	bad_split_desc(0, ~0ULL - 10, 64, 0, -EFAULT);
}
END_TEST

START_TEST(bad_zero_len)
{
	bad_split_desc(0, 0x800000, 0, 0, -EINVAL);
}
END_TEST

START_TEST(bad_loop)
{
	start(8, 0);
	vdrv_raw_desc(&drv, 0, data, 8, VRING_DESC_F_NEXT, 1);
	vdrv_raw_desc(&drv, 1, data, 8, VRING_DESC_F_NEXT, 2);
	vdrv_raw_desc(&drv, 2, data, 8, VRING_DESC_F_NEXT, 0);
	vdrv_raw_avail(&drv, 0);
	expect_broken(-ELOOP);
}
END_TEST

START_TEST(bad_self_loop)
{
	start(8, 0);
	vdrv_raw_desc(&drv, 5, data, 8, VRING_DESC_F_NEXT, 5);
	vdrv_raw_avail(&drv, 5);
	expect_broken(-ELOOP);
}
END_TEST

START_TEST(bad_next_out_of_range)
{
	start(8, 0);
	vdrv_raw_desc(&drv, 0, data, 8, VRING_DESC_F_NEXT, 8);
	vdrv_raw_avail(&drv, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_head_out_of_range)
{
	start(8, 0);
	vdrv_raw_avail(&drv, 8);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_avail_idx_jump)
{
	/* A valid buffer at the head: only the index itself is wrong. */
	start(8, 0);
	add1(8, 0, 1, 1);
	vdrv_raw_avail_idx(&drv, 9);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_avail_idx_backwards)
{
	start(8, 0);
	roundtrip(1);
	vdrv_raw_avail_idx(&drv, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_readable_after_writable)
{
	start(8, 0);
	vdrv_raw_desc(&drv, 0, data, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	vdrv_raw_desc(&drv, 1, data + 64, 8, 0, 0);
	vdrv_raw_avail(&drv, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_indirect_without_feature)
{
	bad_split_desc(0, 0x800000, 32, VRING_DESC_F_INDIRECT, -EINVAL);
}
END_TEST

START_TEST(bad_indirect_len_not_multiple)
{
	bad_split_desc(F_IND, 0x800000, 24, VRING_DESC_F_INDIRECT, -EINVAL);
}
END_TEST

START_TEST(bad_indirect_len_zero)
{
	bad_split_desc(F_IND, 0x800000, 0, VRING_DESC_F_INDIRECT, -EINVAL);
}
END_TEST

START_TEST(bad_indirect_outside_ram)
{
	bad_split_desc(F_IND, RAM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, -EFAULT);
}
END_TEST

START_TEST(bad_indirect_with_next)
{
	start(8, F_IND);
	vdrv_raw_table(&drv, 0x800000, 0, data, 8, 0, 0);
	vdrv_raw_desc(&drv, 0, 0x800000, 16,
		      VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	vdrv_raw_desc(&drv, 1, data, 8, 0, 0);
	vdrv_raw_avail(&drv, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_indirect_in_indirect)
{
	start(8, F_IND);
	vdrv_raw_table(&drv, 0x800000, 0, data, 8, VRING_DESC_F_NEXT, 1);
	vdrv_raw_table(&drv, 0x800000, 1, 0x810000, 16, VRING_DESC_F_INDIRECT, 0);
	vdrv_raw_table(&drv, 0x810000, 0, data, 8, 0, 0);
	vdrv_raw_desc(&drv, 0, 0x800000, 32, VRING_DESC_F_INDIRECT, 0);
	vdrv_raw_avail(&drv, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_indirect_loop)
{
	start(8, F_IND);
	vdrv_raw_table(&drv, 0x800000, 0, data, 8, VRING_DESC_F_NEXT, 1);
	vdrv_raw_table(&drv, 0x800000, 1, data, 8, VRING_DESC_F_NEXT, 0);
	vdrv_raw_desc(&drv, 0, 0x800000, 32, VRING_DESC_F_INDIRECT, 0);
	vdrv_raw_avail(&drv, 0);
	expect_broken(-ELOOP);
}
END_TEST

START_TEST(bad_indirect_next_out_of_range)
{
	start(8, F_IND);
	vdrv_raw_table(&drv, 0x800000, 0, data, 8, VRING_DESC_F_NEXT, 2);
	vdrv_raw_table(&drv, 0x800000, 1, data, 8, 0, 0);
	vdrv_raw_desc(&drv, 0, 0x800000, 32, VRING_DESC_F_INDIRECT, 0);
	vdrv_raw_avail(&drv, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(bad_too_many_segments)
{
	unsigned int i, n = VIRTQ_MAX_SEGS + 1;

	start(8, F_IND);
	for (i = 0; i < n; i++)
		vdrv_raw_table(&drv, 0x800000, i, data, 8,
			       i + 1 < n ? VRING_DESC_F_NEXT : 0, i + 1);
	vdrv_raw_desc(&drv, 0, 0x800000, 16 * n, VRING_DESC_F_INDIRECT, 0);
	vdrv_raw_avail(&drv, 0);
	expect_broken(-E2BIG);
}
END_TEST

/* ---- hostile packed rings ---- */

static void bad_packed_desc(uint64_t features, uint64_t addr, uint32_t len,
			    uint16_t id, uint16_t flags, int err)
{
	start(8, F_PACKED | features);
	vdrv_raw_packed(&drv, addr, len, id, flags);
	expect_broken(err);
}

START_TEST(packed_bad_addr)
{
	bad_packed_desc(0, RAM_SIZE, 64, 0, 0, -EFAULT);
}
END_TEST

START_TEST(packed_bad_zero_len)
{
	bad_packed_desc(0, 0x800000, 0, 0, 0, -EINVAL);
}
END_TEST

START_TEST(packed_bad_id)
{
	bad_packed_desc(0, 0x800000, 64, 8, 0, -EINVAL);
}
END_TEST

START_TEST(packed_bad_indirect_without_feature)
{
	bad_packed_desc(0, 0x800000, 32, 0, VRING_DESC_F_INDIRECT, -EINVAL);
}
END_TEST

START_TEST(packed_bad_indirect_with_next)
{
	start(8, F_PACKED | F_IND);
	vdrv_raw_ptable(&drv, 0x800000, 0, data, 8, 0);
	vdrv_raw_packed(&drv, 0x800000, 16, 0,
			VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT);
	vdrv_raw_packed(&drv, data, 8, 0, 0);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(packed_bad_indirect_in_chain)
{
	start(8, F_PACKED | F_IND);
	vdrv_raw_ptable(&drv, 0x800000, 0, data, 8, 0);
	vdrv_raw_packed(&drv, data, 8, 0, VRING_DESC_F_NEXT);
	vdrv_raw_packed(&drv, 0x800000, 16, 0, VRING_DESC_F_INDIRECT);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(packed_bad_indirect_in_indirect)
{
	start(8, F_PACKED | F_IND);
	vdrv_raw_ptable(&drv, 0x800000, 0, data, 8, 0);
	vdrv_raw_ptable(&drv, 0x800000, 1, 0x810000, 16, VRING_DESC_F_INDIRECT);
	vdrv_raw_packed(&drv, 0x800000, 32, 0, VRING_DESC_F_INDIRECT);
	expect_broken(-EINVAL);
}
END_TEST

START_TEST(packed_bad_indirect_len)
{
	bad_packed_desc(F_IND, 0x800000, 20, 0, VRING_DESC_F_INDIRECT, -EINVAL);
}
END_TEST

START_TEST(packed_bad_chain_longer_than_queue)
{
	int i;

	/* Every descriptor says NEXT: the walk would lap the ring. */
	start(4, F_PACKED);
	for (i = 0; i < 4; i++)
		vdrv_raw_packed(&drv, data, 8, 0, VRING_DESC_F_NEXT);
	expect_broken(-ELOOP);
}
END_TEST

START_TEST(packed_bad_readable_after_writable)
{
	start(8, F_PACKED);
	vdrv_raw_packed(&drv, data, 8, 0, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
	vdrv_raw_packed(&drv, data + 64, 8, 0, 0);
	expect_broken(-EINVAL);
}
END_TEST

/* ---- containment and ring addresses ---- */

START_TEST(broken_queue_isolated)
{
	struct vdrv drv2;
	struct virtq vq2;
	uint64_t c;
	uint32_t l;

	start(8, 0);
	ck_assert_int_eq(vdrv_init(&drv2, &gm, 0x600000, 8, F_V1 | F_PACKED), 0);
	ck_assert_int_eq(vdrv_attach(&drv2, &vq2), 0);
	vdrv_raw_avail(&drv, 200);
	expect_broken(-EINVAL);

	ck_assert_int_ge(vdrv_add(&drv2, &(struct vdrv_buf){ 0x700000, 32 }, 0, 1,
				  false, 42), 0);
	ck_assert_int_eq(virtq_pop(&vq2, &elem), 1);
	virtq_push(&vq2, &elem, 32);
	ck_assert_int_eq(vdrv_get_used(&drv2, &c, &l), 1);
	ck_assert_uint_eq(c, 42);
	ck_assert_uint_eq(l, 32);
	ck_assert(!vq2.broken);
	vdrv_exit(&drv2);
}
END_TEST

START_TEST(ring_addresses_checked)
{
	virtq_init(&vq, guest_mem_view(&gm), 256);
	ck_assert_int_eq(virtq_set_addrs(&vq, RAM_SIZE - 2048, 0x20000, 0x30000), 0);
	ck_assert_int_eq(virtq_enable(&vq), -EFAULT);
	ck_assert(!vq.enabled);
	virtq_reset(&vq);
	ck_assert_int_eq(virtq_set_addrs(&vq, 0x10008, 0x20000, 0x30000), 0);
	ck_assert_int_eq(virtq_enable(&vq), -EINVAL);
	virtq_reset(&vq);
	ck_assert_int_eq(virtq_set_addrs(&vq, 0x10000, 0x20001, 0x30000), 0);
	ck_assert_int_eq(virtq_enable(&vq), -EINVAL);
	virtq_reset(&vq);
	ck_assert_int_eq(virtq_set_addrs(&vq, 0x10000, 0x20000, 0x30002), 0);
	ck_assert_int_eq(virtq_enable(&vq), -EINVAL);
	virtq_reset(&vq);
	ck_assert_int_eq(virtq_set_addrs(&vq, 0x10000, 0x20000, 0x30000), 0);
	ck_assert_int_eq(virtq_enable(&vq), 0);
}
END_TEST

START_TEST(set_addrs_revalidates)
{
	start(8, 0);
	roundtrip(1);
	ck_assert_int_eq(virtq_set_addrs(&vq, RAM_SIZE, drv.driver_addr,
					 drv.device_addr), -EFAULT);
	ck_assert(vq.broken);
	ck_assert_int_eq(virtq_pop(&vq, &elem), -EIO);
}
END_TEST

/*
 * Moving an enabled queue's rings while used entries are filled but not
 * flushed would publish them on the new ring without their contents:
 * refused with -EBUSY, nothing changed, and the flush still lands on the
 * old ring.
 */
static void set_addrs_busy(uint64_t features)
{
	uint64_t desc, driver, device;

	start(8, features);
	desc = vq.desc_addr;
	driver = vq.driver_addr;
	device = vq.device_addr;
	add1(64, 0, 7, 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), 1);
	virtq_fill(&vq, &elem, 0);
	ck_assert_int_eq(virtq_set_addrs(&vq, desc + 0x10000, driver + 0x10000,
					 device + 0x10000), -EBUSY);
	ck_assert_uint_eq(vq.desc_addr, desc);
	ck_assert_uint_eq(vq.driver_addr, driver);
	ck_assert_uint_eq(vq.device_addr, device);
	ck_assert(!vq.broken);
	virtq_flush(&vq);
	expect_used(7, 0);
	/* Nothing pending: the same addresses are accepted again. */
	ck_assert_int_eq(virtq_set_addrs(&vq, desc, driver, device), 0);
	roundtrip(8);
}

START_TEST(set_addrs_busy_split)
{
	set_addrs_busy(0);
}
END_TEST

START_TEST(set_addrs_busy_split_in_order)
{
	set_addrs_busy(F_INORDER);
}
END_TEST

START_TEST(set_addrs_busy_packed)
{
	set_addrs_busy(F_PACKED);
}
END_TEST

START_TEST(set_addrs_busy_packed_in_order)
{
	set_addrs_busy(F_PACKED | F_INORDER);
}
END_TEST

/* ---- cursor over a popped buffer ---- */

/* Readable segments of 3, 0 and 5 bytes, writable ones of 2 and 4. */
static void cursor_elem(struct virtq_elem *e, uint8_t *rd, uint8_t *wr)
{
	memset(e, 0, sizeof(*e));
	e->out_num = 3;
	e->in_num = 2;
	e->iov[0] = (struct iovec){ rd, 3 };
	e->iov[1] = (struct iovec){ rd + 3, 0 };
	e->iov[2] = (struct iovec){ rd + 3, 5 };
	e->iov[3] = (struct iovec){ wr, 2 };
	e->iov[4] = (struct iovec){ wr + 10, 4 };
}

START_TEST(cursor_reads_across_segments)
{
	uint8_t rd[8] = "abcdefgh", wr[16], buf[16] = { 0 };
	struct virtq_elem e;
	struct virtq_cursor c;

	cursor_elem(&e, rd, wr);
	virtq_cursor_init(&c, &e, false);
	ck_assert_uint_eq(virtq_cursor_left(&c), 8);
	/* Stops inside the first segment, resumes there, crosses the empty one. */
	ck_assert_uint_eq(virtq_cursor_read(&c, buf, 2), 2);
	ck_assert_uint_eq(virtq_cursor_read(&c, buf + 2, 4), 4);
	ck_assert_uint_eq(virtq_cursor_left(&c), 2);
	/* Short at the end of the readable side: never reads the writable one. */
	ck_assert_uint_eq(virtq_cursor_read(&c, buf + 6, 10), 2);
	ck_assert_uint_eq(virtq_cursor_read(&c, buf + 8, 1), 0);
	ck_assert_mem_eq(buf, "abcdefgh", 8);
	ck_assert_uint_eq(buf[8], 0);
	ck_assert_uint_eq(c.done, 8);
}
END_TEST

START_TEST(cursor_writes_across_segments)
{
	uint8_t rd[8] = { 0 }, wr[16], src[8] = "12345678";
	struct virtq_elem e;
	struct virtq_cursor c;

	memset(wr, '.', sizeof(wr));
	cursor_elem(&e, rd, wr);
	virtq_cursor_init(&c, &e, true);
	ck_assert_uint_eq(virtq_cursor_left(&c), 6);
	ck_assert_uint_eq(virtq_cursor_write(&c, src, 1), 1);
	ck_assert_uint_eq(virtq_cursor_write(&c, src + 1, 3), 3);
	/* Full: the rest is refused, nothing beyond the segments written. */
	ck_assert_uint_eq(virtq_cursor_write(&c, src + 4, 4), 2);
	ck_assert_uint_eq(virtq_cursor_write(&c, src, 1), 0);
	ck_assert_uint_eq(c.done, 6);
	ck_assert_mem_eq(wr, "12........3456..", 16);
	ck_assert_mem_eq(rd, "\0\0\0\0\0\0\0\0", 8);
}
END_TEST

START_TEST(cursor_empty_side)
{
	uint8_t buf[4];
	struct virtq_elem e = { 0 };
	struct virtq_cursor c;

	virtq_cursor_init(&c, &e, true);
	ck_assert_uint_eq(virtq_cursor_left(&c), 0);
	ck_assert_uint_eq(virtq_cursor_write(&c, "x", 1), 0);
	virtq_cursor_init(&c, &e, false);
	ck_assert_uint_eq(virtq_cursor_read(&c, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(c.done, 0);
}
END_TEST

static Suite *virtq_suite(void)
{
	Suite *s = suite_create("virtq");

	vlab_tcase(s, "split", setup, teardown, 30, VLAB_TESTS(
		split_roundtrip_single, split_chain_out_in, split_indirect,
		split_indirect_unaligned, split_many_in_flight, split_index_wrap,
		split_avail_count_empty, split_size_32768, split_size_rules,
		split_direct_chain_ending_indirect, split_unpop));

	vlab_tcase(s, "packed", setup, teardown, 30, VLAB_TESTS(
		packed_roundtrip_single, packed_chain_out_in, packed_indirect,
		packed_indirect_unaligned, packed_many_in_flight, packed_wrap_counters,
		packed_index_wrap, packed_any_size, packed_unpop));

	vlab_tcase(s, "notify", setup, teardown, 0, VLAB_TESTS(
		split_no_interrupt_flag, split_used_event, split_avail_event,
		split_no_notify_flag, packed_driver_event_flags, packed_driver_event_desc,
		packed_device_event, packed_device_event_no_idx));

	vlab_tcase(s, "in_order_reset_dirty", setup, teardown, 120, VLAB_TESTS(
		split_in_order_batch, split_in_order_partial_not_folded,
		packed_in_order_batch, split_in_order_stress, packed_in_order_stress,
		split_in_order_tx_pace, packed_in_order_tx_pace, split_in_order_full_ring,
		packed_in_order_full_ring,
		split_ring_reset, packed_ring_reset, reset_clears_broken,
		split_dirty_exact, packed_dirty_exact, dirty_notify_fields));

	vlab_tcase(s, "cursor", NULL, NULL, 0, VLAB_TESTS(
		cursor_reads_across_segments, cursor_writes_across_segments,
		cursor_empty_side));

	vlab_tcase(s, "hostile", setup, teardown, 0, VLAB_TESTS(
		bad_addr_outside_ram, bad_len_past_end, bad_addr_wraps, bad_zero_len,
		bad_loop, bad_self_loop, bad_next_out_of_range, bad_head_out_of_range,
		bad_avail_idx_jump, bad_avail_idx_backwards, bad_readable_after_writable,
		bad_indirect_without_feature, bad_indirect_len_not_multiple,
		bad_indirect_len_zero, bad_indirect_outside_ram, bad_indirect_with_next,
		bad_indirect_in_indirect, bad_indirect_loop,
		bad_indirect_next_out_of_range, bad_too_many_segments, packed_bad_addr,
		packed_bad_zero_len, packed_bad_id, packed_bad_indirect_without_feature,
		packed_bad_indirect_with_next, packed_bad_indirect_in_chain,
		packed_bad_indirect_in_indirect, packed_bad_indirect_len,
		packed_bad_chain_longer_than_queue, packed_bad_readable_after_writable,
		broken_queue_isolated, ring_addresses_checked, set_addrs_revalidates,
		set_addrs_busy_split, set_addrs_busy_split_in_order,
		set_addrs_busy_packed, set_addrs_busy_packed_in_order));
	return s;
}

VLAB_TEST_MAIN(virtq_suite)
