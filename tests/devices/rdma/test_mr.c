// SPDX-License-Identifier: GPL-2.0
/*
 * Memory regions: every access checked (key and its variant, PD, rights,
 * bounds, overflow) and turned into guest-physical segments that follow
 * the page list from its first-page offset; fast registration under a new
 * key each time, invalidation, the local-only DMA region.
 */
#include <check.h>
#include <errno.h>

#include "check_main.h"
#include "devices/rdma/mr.h"

#define RAM	(64ULL << 20)
#define RW	(RDMA_ACCESS_LOCAL_WRITE | RDMA_ACCESS_REMOTE_WRITE | RDMA_ACCESS_REMOTE_READ)

static struct rdma_mr_table t;

static void setup(void)
{
	ck_assert_int_eq(rdma_mr_table_init(&t, 16, RAM), 0);
}

static void teardown(void)
{
	rdma_mr_table_exit(&t);
}

static const char *refused(uint32_t key, uint32_t pd, uint32_t access, uint64_t va,
			   uint64_t len)
{
	struct rdma_seg s[8];
	const char *why = NULL;

	ck_assert_int_eq(rdma_mr_translate(&t, key, pd, access, va, len, s, 8, &why), -1);
	return why;
}

/* Three scattered pages, entered 0x100 into the first; contiguous ones merge. */
START_TEST(user_region_segments)
{
	const uint64_t pages[3] = { 0x5000, 0x9000, 0xa000 };
	struct rdma_seg s[8];
	int64_t key = rdma_mr_alloc(&t, 1, RDMA_MR_USER, 0, 0);
	int n;

	ck_assert_int_gt(key, 0);
	ck_assert_int_eq(rdma_mr_register(&t, key, 0x7f0000001000ULL, 3 * 4096 - 0x200, RW,
					  pages, 3, 12, 0x100), 0);
	/* All of it: 0x5100.., then 0x9000..0xaeff as one. */
	n = rdma_mr_translate(&t, key, 1, RDMA_ACCESS_REMOTE_WRITE, 0x7f0000001000ULL,
			      3 * 4096 - 0x200, s, 8, NULL);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(s[0].gpa, 0x5100);
	ck_assert_uint_eq(s[0].len, 4096 - 0x100);
	ck_assert_uint_eq(s[1].gpa, 0x9000);
	ck_assert_uint_eq(s[1].len, 2 * 4096 - 0x100);
	/* A middle slice crossing into the second page. */
	n = rdma_mr_translate(&t, key, 1, RDMA_ACCESS_LOCAL_READ, 0x7f0000001000ULL + 3800, 100,
			      s, 8, NULL);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(s[0].gpa, 0x5000 + 0x100 + 3800);
	ck_assert_uint_eq(s[0].len, 40);
	ck_assert_uint_eq(s[1].gpa, 0x9000);
	ck_assert_uint_eq(s[1].len, 60);
	/* Zero bytes: nothing to do, nothing refused. */
	ck_assert_int_eq(rdma_mr_translate(&t, key, 1, RDMA_ACCESS_REMOTE_READ,
					   0x7f0000001000ULL, 0, s, 8, NULL), 0);
	/* Room for one segment only. */
	ck_assert_int_eq(rdma_mr_translate(&t, key, 1, 0, 0x7f0000001000ULL, 8000, s, 1, NULL),
			 -1);
	/* Registered once. */
	ck_assert_int_eq(rdma_mr_register(&t, key, 0, 4096, RW, pages, 1, 12, 0), -EINVAL);
}
END_TEST

START_TEST(accesses_checked)
{
	const uint64_t pages[1] = { 0x10000 };
	int64_t key = rdma_mr_alloc(&t, 1, RDMA_MR_USER, 0, 0);
	uint64_t va = 0x1000;

	ck_assert_int_eq(rdma_mr_register(&t, key, va, 4096, RDMA_ACCESS_LOCAL_WRITE |
					  RDMA_ACCESS_REMOTE_READ, pages, 1, 12, 0), 0);
	ck_assert_str_eq(refused(key, 2, 0, va, 8), "the region is another protection domain's");
	ck_assert_str_eq(refused(key, 1, RDMA_ACCESS_REMOTE_WRITE, va, 8),
			 "the region does not allow this access");
	ck_assert_str_eq(refused(key, 1, 0, va - 1, 8), "outside the region");
	ck_assert_str_eq(refused(key, 1, 0, va + 4090, 8), "outside the region");
	ck_assert_str_eq(refused(key, 1, 0, va + 8, UINT64_MAX - 4), "outside the region");
	ck_assert_str_eq(refused(key, 1, 0, UINT64_MAX, 2), "outside the region");
	ck_assert_str_eq(refused(key ^ 1, 1, 0, va, 8),
			 "no region has this key (freed, or an older registration's)");
	ck_assert_str_eq(refused(0x7fff00, 1, 0, va, 8),
			 "no region has this key (freed, or an older registration's)");
	/* Bad registrations: remote write without local write, pages unaligned or past RAM. */
	key = rdma_mr_alloc(&t, 1, RDMA_MR_USER, 0, 0);
	ck_assert_int_eq(rdma_mr_register(&t, key, va, 4096, RDMA_ACCESS_REMOTE_WRITE, pages, 1,
					  12, 0), -EINVAL);
	ck_assert_int_eq(rdma_mr_register(&t, key, va, 4096, RW, (uint64_t[]){ 0x10010 }, 1, 12,
					  0), -EINVAL);
	ck_assert_int_eq(rdma_mr_register(&t, key, va, 4096, RW, (uint64_t[]){ RAM }, 1, 12, 0),
			 -EINVAL);
	ck_assert_int_eq(rdma_mr_register(&t, key, va, 8192, RW, pages, 1, 12, 0), -EINVAL);
	ck_assert_int_eq(rdma_mr_register(&t, key, UINT64_MAX - 10, 4096, RW, pages, 1, 12, 0),
			 -EINVAL);
	/* Freed: its key is nobody's. */
	ck_assert_int_eq(rdma_mr_free(&t, key), 0);
	ck_assert_int_eq(rdma_mr_free(&t, key), -ENOENT);
}
END_TEST

/* REG_MR under a new key variant each time; LOCAL_INV; an old key refused. */
START_TEST(fast_registration)
{
	int64_t mr = rdma_mr_alloc(&t, 3, RDMA_MR_FAST, 0, 4);
	uint32_t k1 = (uint32_t)mr | 0x11, k2 = (uint32_t)mr | 0x22;
	struct rdma_seg s[4];

	ck_assert_int_gt(mr, 0);
	ck_assert_str_eq(refused((uint32_t)mr, 3, 0, 0, 1), "the region is invalidated");
	ck_assert_int_eq(rdma_mr_register(&t, k1, 0x2000, 8192, RW, (uint64_t[]){ 0x3000, 0x8000 },
					  2, 12, 0), 0);
	ck_assert_int_eq(rdma_mr_translate(&t, k1, 3, RDMA_ACCESS_REMOTE_WRITE, 0x2000, 8192, s, 4,
					   NULL), 2);
	ck_assert_str_eq(refused((uint32_t)mr, 3, 0, 0x2000, 1),
			 "no region has this key (freed, or an older registration's)");
	/* Valid: no second registration until invalidated. */
	ck_assert_int_eq(rdma_mr_register(&t, k2, 0, 4096, RW, (uint64_t[]){ 0x4000 }, 1, 12, 0),
			 -EBUSY);
	ck_assert_int_eq(rdma_mr_invalidate(&t, k2), -ENOENT);
	ck_assert_int_eq(rdma_mr_invalidate(&t, k1), 0);
	ck_assert_str_eq(refused(k1, 3, 0, 0x2000, 1), "the region is invalidated");
	ck_assert_int_eq(rdma_mr_register(&t, k2, 0, 4096, RW, (uint64_t[]){ 0x4000 }, 1, 12, 0),
			 0);
	ck_assert_str_eq(refused(k1, 3, 0, 0x2000, 1),
			 "no region has this key (freed, or an older registration's)");
	ck_assert_int_eq(rdma_mr_translate(&t, k2, 3, 0, 0, 4096, s, 4, NULL), 1);
	ck_assert_uint_eq(s[0].gpa, 0x4000);
	/* More pages than it was made for. */
	ck_assert_int_eq(rdma_mr_invalidate(&t, k2), 0);
	ck_assert_int_eq(rdma_mr_register(&t, k1, 0, 5 * 4096, RW,
					  (uint64_t[]){ 0, 0x1000, 0x2000, 0x3000, 0x4000 }, 5, 12,
					  0), -EINVAL);
}
END_TEST

/* The DMA region: guest RAM by GPA, local access only. */
START_TEST(dma_region_local_only)
{
	int64_t key = rdma_mr_alloc(&t, 1, RDMA_MR_DMA, RDMA_ACCESS_LOCAL_WRITE, 0);
	struct rdma_seg s[4];

	ck_assert_int_gt(key, 0);
	ck_assert_int_eq(rdma_mr_alloc(&t, 1, RDMA_MR_DMA, RDMA_ACCESS_REMOTE_READ, 0), -EINVAL);
	ck_assert_int_eq(rdma_mr_translate(&t, key, 1, RDMA_ACCESS_LOCAL_WRITE, 0x123456, 5000, s,
					   4, NULL), 1);
	ck_assert_uint_eq(s[0].gpa, 0x123456);
	ck_assert_uint_eq(s[0].len, 5000);
	ck_assert_str_eq(refused(key, 1, RDMA_ACCESS_REMOTE_READ, 0, 8),
			 "the region does not allow this access");
	ck_assert_str_eq(refused(key, 1, 0, RAM - 4, 8), "outside the region");
	ck_assert_int_eq(rdma_mr_register(&t, key, 0, 4096, RW, (uint64_t[]){ 0 }, 1, 12, 0),
			 -EINVAL);
}
END_TEST

START_TEST(table_fills)
{
	int i;

	for (i = 1; i < 16; i++)
		ck_assert_int_gt(rdma_mr_alloc(&t, 1, RDMA_MR_USER, 0, 0), 0);
	ck_assert_int_eq(rdma_mr_alloc(&t, 1, RDMA_MR_USER, 0, 0), -ENOSPC);
}
END_TEST

VLAB_SUITE_MAIN("mr", "regions", setup, teardown, 0,
	user_region_segments, accesses_checked, fast_registration, dma_region_local_only,
	table_fills);
