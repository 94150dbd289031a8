// SPDX-License-Identifier: GPL-2.0
/*
 * Memory views: the identity view of guest RAM and IOTLB views, alone and
 * under a running virtqueue (segments across entries, permission faults,
 * dirty marks in guest-physical space, unmap/remap and view switches while
 * the queue runs).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "virtio/virtq.h"
#include "virtio/vdrv_guest.h"
#include "vmm/mem/guest_mem.h"
#include "vmm/mem/mem_view.h"

#define PAGE		GM_PAGE_SIZE
#define MEM_SIZE	(16ULL << 20)
#define BPL		(8 * sizeof(unsigned long))

static struct guest_mem gm;
static void *ram;
static struct iotlb_view iv;

static void setup(void)
{
	ram = aligned_alloc(PAGE, MEM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, MEM_SIZE);
	ck_assert_int_eq(guest_mem_init_buffer(&gm, ram, MEM_SIZE), 0);
	ck_assert_int_eq(iotlb_view_init(&iv, &gm, "test iotlb"), 0);
}

static void teardown(void)
{
	iotlb_view_exit(&iv);
	guest_mem_exit(&gm);
	free(ram);
}

static bool page_dirty(uint64_t gpa)
{
	uint64_t pfn = gpa / PAGE;

	return gm.dirty[pfn / BPL] & (1UL << (pfn % BPL));
}

static void clear_dirty(void)
{
	memset(gm.dirty, 0, (gm.dirty_bits + BPL - 1) / BPL * sizeof(unsigned long));
}

static int nr_dirty(void)
{
	uint64_t i;
	int n = 0;

	for (i = 0; i < gm.dirty_bits; i++)
		n += !!(gm.dirty[i / BPL] & (1UL << (i % BPL)));
	return n;
}

/* ---- identity view ---- */

START_TEST(identity_one_segment)
{
	struct mem_view *v = guest_mem_view(&gm);
	struct mem_seg s[4];

	ck_assert_int_eq(mem_view_translate(v, 0x5000, 0x3000, MV_RW, s, 4), 1);
	ck_assert_ptr_eq(s[0].host, (uint8_t *)ram + 0x5000);
	ck_assert_uint_eq(s[0].gpa, 0x5000);
	ck_assert_uint_eq(s[0].len, 0x3000);
	ck_assert_int_eq(mem_view_translate(v, MEM_SIZE - 8, 16, MV_READ, s, 4), -EFAULT);
	ck_assert_int_eq(mem_view_translate(v, UINT64_MAX - 4, 16, MV_READ, s, 4), -EFAULT);
	ck_assert_ptr_eq(mem_view_map(v, 0x1000, 64, MV_RW), (uint8_t *)ram + 0x1000);
}
END_TEST

/* ---- IOTLB view alone ---- */

START_TEST(iotlb_map_rules)
{
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x10000, 0, 0, MV_RW), -EINVAL);
	ck_assert_int_eq(iotlb_map_gpa(&iv, UINT64_MAX - PAGE + 2, PAGE, 0, MV_RW), -EINVAL);
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x10000, PAGE, 0, 0), -EINVAL);
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x10000, PAGE, MEM_SIZE - 16, MV_RW), -EFAULT);
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x10000, 4 * PAGE, 0, MV_RW), 0);
	/* Any overlap is refused, whichever side. */
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x10000 + 3 * PAGE, PAGE, 0, MV_RW), -EEXIST);
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x10000 - PAGE, 2 * PAGE, 0, MV_RW), -EEXIST);
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x10000 + 4 * PAGE, PAGE, 0, MV_RW), 0);
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x10000 - PAGE, PAGE, 0, MV_RW), 0);
	ck_assert_uint_eq(iotlb_count(&iv), 3);
}
END_TEST

START_TEST(iotlb_segments_across_entries)
{
	struct mem_view *v = &iv.view;
	struct mem_seg s[4];

	/* Three adjacent IOVA pages backed by scattered guest pages. */
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x100000, PAGE, 0x9000, MV_RW), 0);
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x101000, PAGE, 0x3000, MV_RW), 0);
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x102000, PAGE, 0x7000, MV_READ), 0);

	ck_assert_int_eq(mem_view_translate(v, 0x100ff0, 0x1020, MV_READ, s, 4), 3);
	ck_assert_uint_eq(s[0].gpa, 0x9ff0);
	ck_assert_uint_eq(s[0].len, 0x10);
	ck_assert_ptr_eq(s[0].host, (uint8_t *)ram + 0x9ff0);
	ck_assert_uint_eq(s[1].gpa, 0x3000);
	ck_assert_uint_eq(s[1].len, PAGE);
	ck_assert_uint_eq(s[2].gpa, 0x7000);
	ck_assert_uint_eq(s[2].len, 0x10);
	/* Too few segments: the first ones are given, -E2BIG says more follow. */
	ck_assert_int_eq(mem_view_translate(v, 0x100ff0, 0x1020, MV_READ, s, 2), -E2BIG);
	ck_assert_uint_eq(s[1].gpa, 0x3000);
	/* The last page is read-only; past it nothing is mapped. */
	ck_assert_int_eq(mem_view_translate(v, 0x100ff0, 0x1020, MV_WRITE, s, 4), -EPERM);
	ck_assert_int_eq(mem_view_translate(v, 0x102ff0, 0x20, MV_READ, s, 4), -EFAULT);
	ck_assert_int_eq(mem_view_translate(v, 0xff000, 0x2000, MV_READ, s, 4), -EFAULT);
	/* Scattered in host memory: no single pointer for it. */
	ck_assert_ptr_null(mem_view_map(v, 0x100ff0, 0x20, MV_READ));
	ck_assert_ptr_eq(mem_view_map(v, 0x101010, 0x20, MV_READ), (uint8_t *)ram + 0x3010);
}
END_TEST

START_TEST(iotlb_copy_and_dirty_in_gpa_space)
{
	struct mem_view *v = &iv.view;
	uint8_t buf[0x1800], back[0x1800];
	size_t i;

	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x40000000, PAGE, 0x20000, MV_RW), 0);
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x40001000, PAGE, 0x50000, MV_RW), 0);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i * 7;
	clear_dirty();
	ck_assert_int_eq(mem_view_write(v, 0x40000400, buf, sizeof(buf)), 0);
	ck_assert_int_eq(memcmp((uint8_t *)ram + 0x20400, buf, 0xc00), 0);
	ck_assert_int_eq(memcmp((uint8_t *)ram + 0x50000, buf + 0xc00, 0xc00), 0);
	/* Marked where the bytes are, not at the IOVA. */
	ck_assert(page_dirty(0x20000));
	ck_assert(page_dirty(0x50000));
	ck_assert_int_eq(nr_dirty(), 2);
	ck_assert_int_eq(mem_view_read(v, 0x40000400, back, sizeof(back)), 0);
	ck_assert_int_eq(memcmp(back, buf, sizeof(buf)), 0);

	clear_dirty();
	mem_view_mark_dirty(v, 0x40001ff0, 0x100);	/* runs off the map: the mapped part */
	ck_assert(page_dirty(0x50000));
	ck_assert_int_eq(nr_dirty(), 1);
	ck_assert_int_eq(mem_view_write(v, 0x40001ff0, buf, 0x20), -EFAULT);
}
END_TEST

/* A write over many pages marks each of them and no other, across bitmap words. */
START_TEST(marks_across_bitmap_words)
{
	struct mem_view *v = guest_mem_view(&gm);
	static uint8_t buf[80 * PAGE];
	uint64_t run = 60 * PAGE;	/* pages 60..139: three words */

	memset(buf, 0x5a, sizeof(buf));
	clear_dirty();
	ck_assert_int_eq(mem_view_write(v, run + 8, buf, sizeof(buf) - 16), 0);
	ck_assert_int_eq(nr_dirty(), 80);
	ck_assert(page_dirty(run) && page_dirty(run + 79 * PAGE));
	ck_assert(!page_dirty(run - PAGE) && !page_dirty(run + 80 * PAGE));
	clear_dirty();
	mem_view_mark_dirty(v, 0, MEM_SIZE);
	ck_assert_int_eq(nr_dirty(), (int)(MEM_SIZE / PAGE));
}
END_TEST

START_TEST(iotlb_host_entries_not_logged)
{
	static uint8_t shadow[2 * 4096];
	struct mem_seg s[2];

	ck_assert_int_eq(iotlb_map_host(&iv, 0x8000, sizeof(shadow), shadow, MV_RW), 0);
	ck_assert_int_eq(mem_view_translate(&iv.view, 0x8010, 16, MV_WRITE, s, 2), 1);
	ck_assert_ptr_eq(s[0].host, shadow + 0x10);
	ck_assert_uint_eq(s[0].gpa, MV_NO_GPA);
	clear_dirty();
	ck_assert_int_eq(mem_view_write(&iv.view, 0x8000, "abc", 3), 0);
	ck_assert_int_eq(nr_dirty(), 0);
	ck_assert_int_eq(memcmp(shadow, "abc", 3), 0);
}
END_TEST

START_TEST(iotlb_unmap_splits)
{
	struct mem_seg s[4];
	uint32_t gen = mem_view_gen(&iv.view);

	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x10000, 8 * PAGE, 0x100000, MV_RW), 0);
	ck_assert_uint_ne(mem_view_gen(&iv.view), gen);
	/* A hole in the middle leaves a head and a tail. */
	ck_assert_int_eq(iotlb_unmap(&iv, 0x12000, 2 * PAGE), 0);
	ck_assert_uint_eq(iotlb_count(&iv), 2);
	ck_assert_int_eq(mem_view_translate(&iv.view, 0x11000, PAGE, MV_READ, s, 4), 1);
	ck_assert_uint_eq(s[0].gpa, 0x101000);
	ck_assert_int_eq(mem_view_translate(&iv.view, 0x12000, 1, MV_READ, s, 4), -EFAULT);
	ck_assert_int_eq(mem_view_translate(&iv.view, 0x13fff, 1, MV_READ, s, 4), -EFAULT);
	ck_assert_int_eq(mem_view_translate(&iv.view, 0x14000, PAGE, MV_READ, s, 4), 1);
	ck_assert_uint_eq(s[0].gpa, 0x104000);
	ck_assert_ptr_eq(s[0].host, (uint8_t *)ram + 0x104000);
	/* A range over both pieces' edges trims each. */
	ck_assert_int_eq(iotlb_unmap(&iv, 0x11800, 0x3000), 0);
	ck_assert_uint_eq(iotlb_count(&iv), 2);
	ck_assert_int_eq(mem_view_translate(&iv.view, 0x10000, 0x1800, MV_READ, s, 4), 1);
	ck_assert_int_eq(mem_view_translate(&iv.view, 0x11800, 1, MV_READ, s, 4), -EFAULT);
	ck_assert_int_eq(mem_view_translate(&iv.view, 0x14800, PAGE, MV_READ, s, 4), 1);
	ck_assert_uint_eq(s[0].gpa, 0x104800);
	/* Whole entries go; nothing left. */
	ck_assert_int_eq(iotlb_unmap(&iv, 0, 0x100000), 0);
	ck_assert_uint_eq(iotlb_count(&iv), 0);
	ck_assert_int_eq(iotlb_unmap(&iv, 0x10000, 0), -EINVAL);
}
END_TEST

START_TEST(iotlb_thousands_of_entries)
{
	struct mem_seg s[1];
	int i;

	/* Mapped in reverse order to exercise insertion in the middle. */
	for (i = 4095; i >= 0; i--)
		ck_assert_int_eq(iotlb_map_gpa(&iv, (uint64_t)i * 2 * PAGE, PAGE,
					       (uint64_t)(4095 - i) * PAGE, MV_RW), 0);
	ck_assert_uint_eq(iotlb_count(&iv), 4096);
	for (i = 0; i < 4096; i++) {
		ck_assert_int_eq(mem_view_translate(&iv.view, (uint64_t)i * 2 * PAGE + 8,
						    8, MV_READ, s, 1), 1);
		ck_assert_uint_eq(s[0].gpa, (uint64_t)(4095 - i) * PAGE + 8);
		ck_assert_int_eq(mem_view_translate(&iv.view, (uint64_t)i * 2 * PAGE + PAGE,
						    1, MV_READ, s, 1), -EFAULT);
	}
}
END_TEST

/* ---- a queue working through a view ---- */

static struct virtq vq;
static struct vdrv drv;
static struct virtq_elem elem;

/* Rings at 64 KiB (mapped iova == gpa); buffers named by IOVA. */
#define RING_BASE	0x10000
#define BUF_IOVA	0x40000000ULL

static void queue_start(struct mem_view *v, uint64_t features)
{
	ck_assert_int_eq(vdrv_init(&drv, &gm, RING_BASE, 64, features), 0);
	virtq_init(&vq, v, 64);
	virtq_set_features(&vq, features);
	ck_assert_int_eq(virtq_set_size(&vq, 64), 0);
	ck_assert_int_eq(virtq_set_addrs(&vq, drv.desc_addr, drv.driver_addr,
					 drv.device_addr), 0);
}

static void map_rings(void)
{
	ck_assert_int_eq(iotlb_map_gpa(&iv, RING_BASE, vdrv_end_gpa(&drv) - RING_BASE,
				       RING_BASE, MV_RW), 0);
}

/* Post one device-writable buffer of @len at @iova and pop it. */
static int post_and_pop(uint64_t iova, uint32_t len, uint32_t cookie)
{
	struct vdrv_buf b = { iova, len };

	ck_assert_int_ge(vdrv_add(&drv, &b, 0, 1, false, cookie), 0);
	vdrv_publish(&drv);
	return virtq_pop(&vq, &elem);
}

static void complete(uint32_t written, uint32_t cookie)
{
	uint64_t c;
	uint32_t l;

	virtq_push(&vq, &elem, written);
	ck_assert_int_eq(vdrv_get_used(&drv, &c, &l), 1);
	ck_assert_uint_eq(c, cookie);
	ck_assert_uint_eq(l, written);
}

/* Write @len bytes of a pattern into the popped buffer's segments. */
static void fill_elem(uint32_t len, uint8_t seed)
{
	unsigned int i;
	uint32_t k = 0;

	for (i = elem.out_num; i < elem.out_num + elem.in_num && k < len; i++) {
		uint8_t *p = elem.iov[i].iov_base;
		size_t j;

		for (j = 0; j < elem.iov[i].iov_len && k < len; j++, k++)
			p[j] = seed + k;
	}
}

START_TEST(queue_buffer_split_across_entries)
{
	unsigned int i;

	queue_start(&iv.view, VDRV_F(VIRTIO_F_VERSION_1));
	map_rings();
	ck_assert_int_eq(virtq_enable(&vq), 0);
	/* Three IOVA pages, scattered in guest RAM. */
	ck_assert_int_eq(iotlb_map_gpa(&iv, BUF_IOVA, PAGE, 0x300000, MV_RW), 0);
	ck_assert_int_eq(iotlb_map_gpa(&iv, BUF_IOVA + PAGE, PAGE, 0x200000, MV_RW), 0);
	ck_assert_int_eq(iotlb_map_gpa(&iv, BUF_IOVA + 2 * PAGE, PAGE, 0x100000, MV_RW), 0);

	clear_dirty();
	ck_assert_int_eq(post_and_pop(BUF_IOVA + 0x800, 2 * PAGE, 7), 1);
	ck_assert_uint_eq(elem.in_num, 3);
	ck_assert_uint_eq(elem.in_len, 2 * PAGE);
	ck_assert_uint_eq(elem.gpa[0], 0x300800);
	ck_assert_uint_eq(elem.gpa[1], 0x200000);
	ck_assert_uint_eq(elem.gpa[2], 0x100000);
	ck_assert_uint_eq(elem.iov[2].iov_len, 0x800);
	fill_elem(0x1900, 1);
	complete(0x1900, 7);
	/* The bytes landed at the guest pages behind the IOVAs... */
	for (i = 0; i < 0x800; i++)
		ck_assert_uint_eq(((uint8_t *)ram)[0x300800 + i], (uint8_t)(1 + i));
	for (i = 0; i < 0x1000; i++)
		ck_assert_uint_eq(((uint8_t *)ram)[0x200000 + i], (uint8_t)(1 + 0x800 + i));
	for (i = 0; i < 0x100; i++)
		ck_assert_uint_eq(((uint8_t *)ram)[0x100000 + i], (uint8_t)(1 + 0x1800 + i));
	ck_assert_uint_eq(((uint8_t *)ram)[0x100100], 0);
	/* ... and were marked there (and the used ring), never at the IOVAs. */
	ck_assert(page_dirty(0x300000));
	ck_assert(page_dirty(0x200000));
	ck_assert(page_dirty(0x100000));
	ck_assert(page_dirty(drv.device_addr));
	ck_assert_int_eq(nr_dirty(), 4);
	clear_dirty();

	/* A shorter write marks only what it covers. */
	ck_assert_int_eq(post_and_pop(BUF_IOVA + 0x800, 2 * PAGE, 8), 1);
	complete(0x100, 8);
	ck_assert(page_dirty(0x300000));
	ck_assert(!page_dirty(0x200000));
	ck_assert(!page_dirty(0x100000));
	vdrv_exit(&drv);
}
END_TEST

START_TEST(queue_write_to_read_only_faults)
{
	queue_start(&iv.view, VDRV_F(VIRTIO_F_VERSION_1));
	map_rings();
	ck_assert_int_eq(virtq_enable(&vq), 0);
	ck_assert_int_eq(iotlb_map_gpa(&iv, BUF_IOVA, PAGE, 0x300000, MV_READ), 0);
	ck_assert_int_eq(post_and_pop(BUF_IOVA, 64, 1), -EFAULT);
	ck_assert(vq.broken);
	ck_assert_str_eq(vq.broken_reason, "descriptor without the access it needs");
	vdrv_exit(&drv);
}
END_TEST

START_TEST(queue_read_only_rings_refused)
{
	/* The device writes the used ring: a read-only device area cannot enable. */
	queue_start(&iv.view, VDRV_F(VIRTIO_F_VERSION_1));
	ck_assert_int_eq(iotlb_map_gpa(&iv, RING_BASE, drv.device_addr - RING_BASE,
				       RING_BASE, MV_RW), 0);
	ck_assert_int_eq(iotlb_map_gpa(&iv, drv.device_addr, vdrv_end_gpa(&drv) - drv.device_addr,
				       drv.device_addr, MV_READ), 0);
	ck_assert_int_eq(virtq_enable(&vq), -EFAULT);
	vdrv_exit(&drv);
}
END_TEST

START_TEST(queue_too_many_segments)
{
	int i;

	queue_start(&iv.view, VDRV_F(VIRTIO_F_VERSION_1));
	map_rings();
	ck_assert_int_eq(virtq_enable(&vq), 0);
	/* Every IOVA page in its own entry, non-adjacent guest pages. */
	for (i = 0; i < VIRTQ_MAX_SEGS + 1; i++)
		ck_assert_int_eq(iotlb_map_gpa(&iv, BUF_IOVA + (uint64_t)i * PAGE, PAGE,
					       0x100000 + (uint64_t)i * 2 * PAGE, MV_RW), 0);
	ck_assert_int_eq(post_and_pop(BUF_IOVA, VIRTQ_MAX_SEGS * PAGE, 1), 1);
	ck_assert_uint_eq(elem.in_num, VIRTQ_MAX_SEGS);
	complete(0, 1);
	ck_assert_int_eq(post_and_pop(BUF_IOVA, (VIRTQ_MAX_SEGS + 1) * PAGE, 2), -E2BIG);
	vdrv_exit(&drv);
}
END_TEST

START_TEST(queue_unmap_and_remap_while_running)
{
	queue_start(&iv.view, VDRV_F(VIRTIO_F_VERSION_1) | VDRV_F(VIRTIO_RING_F_EVENT_IDX));
	map_rings();
	ck_assert_int_eq(iotlb_map_gpa(&iv, BUF_IOVA, PAGE, 0x300000, MV_RW), 0);
	ck_assert_int_eq(virtq_enable(&vq), 0);
	ck_assert_int_eq(post_and_pop(BUF_IOVA, 64, 1), 1);
	complete(64, 1);

	/* Unmapped and mapped again elsewhere: the queue follows the new map. */
	ck_assert_int_eq(iotlb_unmap(&iv, BUF_IOVA, PAGE), 0);
	ck_assert_int_eq(iotlb_map_gpa(&iv, BUF_IOVA, PAGE, 0x380000, MV_RW), 0);
	ck_assert_int_eq(post_and_pop(BUF_IOVA, 64, 2), 1);
	ck_assert_uint_eq(elem.gpa[0], 0x380000);
	fill_elem(64, 9);
	complete(64, 2);
	ck_assert_uint_eq(((uint8_t *)ram)[0x380000], 9);

	/*
	 * The rings themselves move: same IOVAs, other guest pages holding
	 * a copy. The cached ring pointers must follow the generation.
	 */
	{
		uint64_t len = vdrv_end_gpa(&drv) - RING_BASE;

		memcpy((uint8_t *)ram + 0x800000, (uint8_t *)ram + RING_BASE, len);
		ck_assert_int_eq(iotlb_unmap(&iv, RING_BASE, len), 0);
		ck_assert_int_eq(iotlb_map_gpa(&iv, RING_BASE, len, 0x800000, MV_RW), 0);
		/* The driver model now writes its rings at the new place too. */
		drv.desc = (void *)((uint8_t *)ram + 0x800000 + (drv.desc_addr - RING_BASE));
		drv.avail = (void *)((uint8_t *)ram + 0x800000 + (drv.driver_addr - RING_BASE));
		drv.used = (void *)((uint8_t *)ram + 0x800000 + (drv.device_addr - RING_BASE));
	}
	clear_dirty();
	ck_assert_int_eq(post_and_pop(BUF_IOVA, 64, 3), 1);
	complete(16, 3);
	ck_assert(page_dirty(0x800000 + (drv.device_addr - RING_BASE)));
	ck_assert(!page_dirty(drv.device_addr));

	/* Rings gone: the queue breaks on its next use, touching nothing. */
	ck_assert_int_eq(iotlb_unmap(&iv, RING_BASE, vdrv_end_gpa(&drv) - RING_BASE), 0);
	ck_assert_int_eq(virtq_pop(&vq, &elem), -EIO);
	ck_assert(vq.broken);
	vdrv_exit(&drv);
}
END_TEST

struct churn {
	struct iotlb_view *iv;
	int rounds;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	int i;

	for (i = 0; i < c->rounds; i++) {
		uint64_t iova = 0x80000000ULL + (uint64_t)(i % 64) * PAGE;

		ck_assert_int_eq(iotlb_map_gpa(c->iv, iova, PAGE, 0x600000, MV_RW), 0);
		ck_assert_int_eq(iotlb_unmap(c->iv, iova, PAGE), 0);
	}
	return NULL;
}

START_TEST(queue_runs_while_map_changes)
{
	struct churn c = { &iv, 20000 };
	pthread_t t;
	uint32_t i;

	queue_start(&iv.view, VDRV_F(VIRTIO_F_VERSION_1) | VDRV_F(VIRTIO_F_RING_PACKED));
	map_rings();
	ck_assert_int_eq(iotlb_map_gpa(&iv, BUF_IOVA, 16 * PAGE, 0x300000, MV_RW), 0);
	ck_assert_int_eq(virtq_enable(&vq), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, churn_thread, &c), 0);
	/* Every buffer completes with its data while other entries come and go. */
	for (i = 0; i < 5000; i++) {
		uint64_t off = (uint64_t)(i % 16) * PAGE;

		ck_assert_int_eq(post_and_pop(BUF_IOVA + off, 128, i), 1);
		ck_assert_uint_eq(elem.gpa[0], 0x300000 + off);
		fill_elem(128, (uint8_t)i);
		complete(128, i);
		ck_assert_uint_eq(((uint8_t *)ram)[0x300000 + off + 5], (uint8_t)(i + 5));
	}
	pthread_join(t, NULL);
	ck_assert_uint_eq(iotlb_count(&iv), 2);
	vdrv_exit(&drv);
}
END_TEST

START_TEST(queue_switches_view_at_run_time)
{
	queue_start(guest_mem_view(&gm), VDRV_F(VIRTIO_F_VERSION_1));
	ck_assert_int_eq(virtq_enable(&vq), 0);
	ck_assert_int_eq(post_and_pop(0x300000, 64, 1), 1);
	ck_assert_uint_eq(elem.gpa[0], 0x300000);
	complete(64, 1);

	/* Into an address space where IOVA 0x300000 is another guest page. */
	map_rings();
	ck_assert_int_eq(iotlb_map_gpa(&iv, 0x300000, PAGE, 0x500000, MV_RW), 0);
	ck_assert_int_eq(virtq_set_view(&vq, &iv.view), 0);
	ck_assert_int_eq(post_and_pop(0x300000, 64, 2), 1);
	ck_assert_uint_eq(elem.gpa[0], 0x500000);
	complete(64, 2);

	/* Back to guest RAM by GPA. */
	ck_assert_int_eq(virtq_set_view(&vq, guest_mem_view(&gm)), 0);
	ck_assert_int_eq(post_and_pop(0x300000, 64, 3), 1);
	ck_assert_uint_eq(elem.gpa[0], 0x300000);
	complete(64, 3);

	/* A view without the rings: refused at once, the queue breaks. */
	iotlb_clear(&iv);
	ck_assert_int_eq(virtq_set_view(&vq, &iv.view), -EFAULT);
	ck_assert(vq.broken);
	vdrv_exit(&drv);
}
END_TEST

VLAB_SUITE_MAIN("mem_view", "views", setup, teardown, 60,
	identity_one_segment, iotlb_map_rules, iotlb_segments_across_entries,
	iotlb_copy_and_dirty_in_gpa_space, marks_across_bitmap_words, iotlb_host_entries_not_logged,
	iotlb_unmap_splits, iotlb_thousands_of_entries, queue_buffer_split_across_entries,
	queue_write_to_read_only_faults, queue_read_only_rings_refused,
	queue_too_many_segments, queue_unmap_and_remap_while_running,
	queue_runs_while_map_changes, queue_switches_view_at_run_time);
