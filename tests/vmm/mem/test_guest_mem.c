// SPDX-License-Identifier: GPL-2.0
/* Guest RAM layout, bounds-checked access and the device-side dirty log. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "vmm/mem/guest_mem.h"

#define MiB	(1ULL << 20)
#define GiB	(1ULL << 30)
#define PAGE	GM_PAGE_SIZE
#define BPL	(8 * sizeof(unsigned long))

static struct guest_mem gm;

static void teardown(void)
{
	guest_mem_exit(&gm);
}

static bool dirty(uint64_t pfn)
{
	return gm.dirty[pfn / BPL] & (1UL << (pfn % BPL));
}

static int nr_dirty(void)
{
	uint64_t i;
	int n = 0;

	for (i = 0; i < gm.dirty_bits; i++)
		n += dirty(i);
	return n;
}

/* Check exactly the pages [first, last] are dirty, then clear everything. */
static void expect_dirty_range(uint64_t first, uint64_t last)
{
	uint64_t i;

	for (i = 0; i < gm.dirty_bits; i++)
		ck_assert_msg(dirty(i) == (i >= first && i <= last),
			      "page %llu dirty=%d, expected [%llu, %llu]",
			      (unsigned long long)i, dirty(i),
			      (unsigned long long)first, (unsigned long long)last);
	memset(gm.dirty, 0, (gm.dirty_bits + BPL - 1) / BPL * sizeof(unsigned long));
}

/* ---- layout ---- */

START_TEST(layout_256m)
{
	ck_assert_int_eq(guest_mem_init(&gm, 256 * MiB), 0);
	ck_assert_int_eq(gm.nr_regions, 1);
	ck_assert_uint_eq(gm.regions[0].gpa, 0);
	ck_assert_uint_eq(gm.regions[0].size, 256 * MiB);
	ck_assert_ptr_eq(gm.regions[0].host, gm.base);
	ck_assert_uint_eq(gm.ram_size, 256 * MiB);
	ck_assert_uint_eq(gm.gpa_end, 256 * MiB);
	ck_assert_uint_eq(gm.dirty_bits, 256 * MiB / PAGE);
	ck_assert(gm.owns_mapping);
	ck_assert_ptr_nonnull(gm.dirty);
	ck_assert_int_eq(nr_dirty(), 0);
	ck_assert(guest_mem_is_ram(&gm, 0, 256 * MiB));
	ck_assert(!guest_mem_is_ram(&gm, 0, 256 * MiB + 1));
	ck_assert(!guest_mem_is_ram(&gm, 256 * MiB, 1));
}
END_TEST

START_TEST(layout_3g_at_hole)
{
	ck_assert_int_eq(guest_mem_init(&gm, 3 * GiB), 0);
	ck_assert_int_eq(gm.nr_regions, 1);
	ck_assert_uint_eq(gm.regions[0].gpa, 0);
	ck_assert_uint_eq(gm.regions[0].size, GM_HOLE_START);
	ck_assert_uint_eq(gm.gpa_end, GM_HOLE_START);
	ck_assert(guest_mem_is_ram(&gm, GM_HOLE_START - 1, 1));
	ck_assert(!guest_mem_is_ram(&gm, GM_HOLE_START, 1));
	ck_assert(!guest_mem_is_ram(&gm, GM_HOLE_END, 1));
}
END_TEST

START_TEST(layout_4g)
{
	ck_assert_int_eq(guest_mem_init(&gm, 4 * GiB), 0);
	ck_assert_int_eq(gm.nr_regions, 2);
	ck_assert_uint_eq(gm.regions[0].gpa, 0);
	ck_assert_uint_eq(gm.regions[0].size, GM_HOLE_START);
	ck_assert_ptr_eq(gm.regions[0].host, gm.base);
	ck_assert_uint_eq(gm.regions[1].gpa, GM_HOLE_END);
	ck_assert_uint_eq(gm.regions[1].size, 1 * GiB);
	ck_assert_ptr_eq(gm.regions[1].host, gm.base + GM_HOLE_START);
	ck_assert_uint_eq(gm.ram_size, 4 * GiB);
	ck_assert_uint_eq(gm.map_size, 4 * GiB);
	ck_assert_uint_eq(gm.gpa_end, 5 * GiB);
	ck_assert_uint_eq(gm.dirty_bits, 5 * GiB / PAGE);

	ck_assert(!guest_mem_is_ram(&gm, GM_HOLE_START, 1));
	ck_assert(!guest_mem_is_ram(&gm, GM_HOLE_END - 1, 1));
	ck_assert(guest_mem_is_ram(&gm, GM_HOLE_END, GiB));
	ck_assert(!guest_mem_is_ram(&gm, GM_HOLE_END, GiB + 1));
	ck_assert(!guest_mem_is_ram(&gm, 5 * GiB, 1));
}
END_TEST

START_TEST(layout_6g)
{
	uint32_t v = 0x11223344, r = 0;

	ck_assert_int_eq(guest_mem_init(&gm, 6 * GiB), 0);
	ck_assert_int_eq(gm.nr_regions, 2);
	ck_assert_uint_eq(gm.regions[1].gpa, 4 * GiB);
	ck_assert_uint_eq(gm.regions[1].size, 3 * GiB);
	ck_assert_uint_eq(gm.gpa_end, 7 * GiB);

	/* The first byte above 4 GiB is the host byte after the low region. */
	ck_assert_int_eq(guest_mem_write(&gm, 4 * GiB, &v, sizeof(v)), 0);
	ck_assert_int_eq(memcmp(gm.base + GM_HOLE_START, &v, sizeof(v)), 0);
	ck_assert_int_eq(guest_mem_read(&gm, 4 * GiB, &r, sizeof(r)), 0);
	ck_assert_uint_eq(r, v);
	ck_assert(dirty(4 * GiB / PAGE));
	ck_assert_int_eq(nr_dirty(), 1);

	ck_assert_int_eq(guest_mem_write(&gm, 7 * GiB - 4, &v, 4), 0);
	ck_assert_int_eq(guest_mem_write(&gm, 7 * GiB - 3, &v, 4), -EFAULT);
	ck_assert_int_eq(guest_mem_write(&gm, GM_HOLE_START, &v, 1), -EFAULT);
}
END_TEST

START_TEST(init_bad_sizes)
{
	ck_assert_int_eq(guest_mem_init(&gm, 0), -EINVAL);
	ck_assert_int_eq(guest_mem_init(&gm, 1), -EINVAL);
	ck_assert_int_eq(guest_mem_init(&gm, 256 * MiB + 1), -EINVAL);
	ck_assert_int_eq(guest_mem_init(&gm, PAGE - 1), -EINVAL);
	ck_assert_int_eq(gm.nr_regions, 0);
	ck_assert_ptr_null(gm.base);
	/* One page is the smallest that works. */
	ck_assert_int_eq(guest_mem_init(&gm, PAGE), 0);
	ck_assert_uint_eq(gm.dirty_bits, 1);
}
END_TEST

START_TEST(init_buffer)
{
	static uint8_t buf[16 * PAGE + 100];
	uint8_t b;

	ck_assert_int_eq(guest_mem_init_buffer(&gm, buf, sizeof(buf)), 0);
	ck_assert_int_eq(gm.nr_regions, 1);
	ck_assert_ptr_eq(gm.regions[0].host, buf);
	ck_assert_uint_eq(gm.regions[0].gpa, 0);
	ck_assert_uint_eq(gm.regions[0].size, sizeof(buf));
	ck_assert(!gm.owns_mapping);
	/* Partial last page still has a dirty bit. */
	ck_assert_uint_eq(gm.dirty_bits, 17);

	buf[sizeof(buf) - 1] = 0x42;
	ck_assert_int_eq(guest_mem_read(&gm, sizeof(buf) - 1, &b, 1), 0);
	ck_assert_uint_eq(b, 0x42);
	ck_assert_int_eq(guest_mem_read(&gm, sizeof(buf), &b, 1), -EFAULT);
	b = 0x99;
	ck_assert_int_eq(guest_mem_write(&gm, sizeof(buf) - 1, &b, 1), 0);
	ck_assert_uint_eq(buf[sizeof(buf) - 1], 0x99);
	ck_assert(dirty(16));

	/* exit must not unmap a buffer it does not own, and clears the struct. */
	guest_mem_exit(&gm);
	ck_assert_ptr_null(gm.base);
	ck_assert_ptr_null(gm.dirty);
	buf[0] = 1;	/* still ours */
}
END_TEST

/* ---- bounds ---- */

START_TEST(map_bounds)
{
	const uint64_t size = 64 * PAGE;
	uint8_t *p;

	ck_assert_int_eq(guest_mem_init(&gm, size), 0);
	p = guest_mem_map(&gm, 0, size, false);
	ck_assert_ptr_eq(p, gm.base);
	ck_assert_ptr_eq(guest_mem_map(&gm, size - 1, 1, false), gm.base + size - 1);
	ck_assert_ptr_null(guest_mem_map(&gm, size - 1, 2, false));
	ck_assert_ptr_null(guest_mem_map(&gm, size, 1, false));
	ck_assert_ptr_null(guest_mem_map(&gm, 0, size + 1, false));
	/* Zero-length spans inside RAM are fine; at the end they are not. */
	ck_assert_ptr_eq(guest_mem_map(&gm, 5, 0, false), gm.base + 5);
	ck_assert_ptr_null(guest_mem_map(&gm, size, 0, false));
}
END_TEST

START_TEST(map_hostile)
{
	uint8_t b[16];

	ck_assert_int_eq(guest_mem_init(&gm, 6 * GiB), 0);
	/* gpa + len would wrap to something small and look like RAM. */
	ck_assert_ptr_null(guest_mem_map(&gm, UINT64_MAX, 1, false));
	ck_assert_ptr_null(guest_mem_map(&gm, UINT64_MAX, 2, true));
	ck_assert_ptr_null(guest_mem_map(&gm, UINT64_MAX - 7, 16, true));
	ck_assert_ptr_null(guest_mem_map(&gm, 16, UINT64_MAX, true));
	ck_assert_ptr_null(guest_mem_map(&gm, 0, UINT64_MAX, false));
	ck_assert_ptr_null(guest_mem_map(&gm, 4 * GiB, UINT64_MAX - 4 * GiB + 1, true));
	ck_assert_ptr_null(guest_mem_map(&gm, 4 * GiB + 1, UINT64_MAX, true));
	ck_assert_ptr_null(guest_mem_map(&gm, 1ULL << 63, 1ULL << 63, true));
	ck_assert_int_eq(guest_mem_read(&gm, UINT64_MAX - 3, b, 8), -EFAULT);
	ck_assert_int_eq(guest_mem_write(&gm, UINT64_MAX - 3, b, 8), -EFAULT);
	ck_assert_int_eq(guest_mem_fill(&gm, UINT64_MAX, 0, 2), -EFAULT);
	ck_assert(!guest_mem_is_ram(&gm, UINT64_MAX, 1));
	ck_assert(!guest_mem_is_ram(&gm, 1, UINT64_MAX));
	/* Nothing was marked dirty by any of the rejected writes. */
	ck_assert_int_eq(nr_dirty(), 0);
}
END_TEST

START_TEST(span_across_regions)
{
	uint8_t b[2] = { 1, 2 };

	ck_assert_int_eq(guest_mem_init(&gm, 4 * GiB), 0);
	/* The hole is in between, so no span may bridge the two regions. */
	ck_assert_ptr_null(guest_mem_map(&gm, GM_HOLE_START - 1, 2, false));
	ck_assert_ptr_null(guest_mem_map(&gm, GM_HOLE_START - 1,
					 GM_HOLE_END - GM_HOLE_START + 2, false));
	ck_assert_ptr_null(guest_mem_map(&gm, 0, 5 * GiB, false));
	ck_assert_int_eq(guest_mem_write(&gm, GM_HOLE_START - 1, b, 2), -EFAULT);
	ck_assert_int_eq(guest_mem_read(&gm, GM_HOLE_END - 1, b, 2), -EFAULT);
	ck_assert_int_eq(guest_mem_fill(&gm, GM_HOLE_START - 1, 0, 2), -EFAULT);
	ck_assert_int_eq(nr_dirty(), 0);
	/* Either side on its own is fine. */
	ck_assert_int_eq(guest_mem_write(&gm, GM_HOLE_START - 2, b, 2), 0);
	ck_assert_int_eq(guest_mem_write(&gm, GM_HOLE_END, b, 2), 0);
}
END_TEST

/* ---- dirty log ---- */

START_TEST(read_not_dirty)
{
	uint8_t b[3 * PAGE];

	ck_assert_int_eq(guest_mem_init(&gm, 16 * PAGE), 0);
	ck_assert_int_eq(guest_mem_read(&gm, PAGE - 10, b, sizeof(b)), 0);
	ck_assert_ptr_nonnull(guest_mem_map(&gm, 0, 16 * PAGE, false));
	ck_assert(guest_mem_is_ram(&gm, 0, PAGE));
	ck_assert_int_eq(nr_dirty(), 0);
}
END_TEST

START_TEST(write_marks_pages)
{
	uint8_t b[3 * PAGE];

	memset(b, 0xab, sizeof(b));
	ck_assert_int_eq(guest_mem_init(&gm, 16 * PAGE), 0);

	ck_assert_int_eq(guest_mem_write(&gm, 0, b, 1), 0);
	expect_dirty_range(0, 0);
	ck_assert_int_eq(guest_mem_write(&gm, 3 * PAGE, b, PAGE), 0);
	expect_dirty_range(3, 3);
	/* Straddles 4|5 with two bytes. */
	ck_assert_int_eq(guest_mem_write(&gm, 5 * PAGE - 1, b, 2), 0);
	expect_dirty_range(4, 5);
	ck_assert_int_eq(gm.base[5 * PAGE - 1], 0xab);
	ck_assert_int_eq(gm.base[5 * PAGE], 0xab);
	/* Ends exactly on a page boundary: the next page stays clean. */
	ck_assert_int_eq(guest_mem_write(&gm, 6 * PAGE + 8, b, 2 * PAGE - 8), 0);
	expect_dirty_range(6, 7);
	/* The last byte of RAM. */
	ck_assert_int_eq(guest_mem_write(&gm, 16 * PAGE - 1, b, 1), 0);
	expect_dirty_range(15, 15);
	/* A zero-length write marks nothing. */
	ck_assert_int_eq(guest_mem_write(&gm, 9 * PAGE, b, 0), 0);
	ck_assert_int_eq(nr_dirty(), 0);
}
END_TEST

START_TEST(fill_and_map_mark_pages)
{
	uint8_t *p;

	ck_assert_int_eq(guest_mem_init(&gm, 16 * PAGE), 0);
	ck_assert_int_eq(guest_mem_fill(&gm, 2 * PAGE + 100, 0x5c, 2 * PAGE), 0);
	ck_assert_int_eq(gm.base[2 * PAGE + 99], 0);
	ck_assert_int_eq(gm.base[2 * PAGE + 100], 0x5c);
	ck_assert_int_eq(gm.base[4 * PAGE + 99], 0x5c);
	ck_assert_int_eq(gm.base[4 * PAGE + 100], 0);
	expect_dirty_range(2, 4);

	p = guest_mem_map(&gm, 10 * PAGE - 4, 8, true);
	ck_assert_ptr_eq(p, gm.base + 10 * PAGE - 4);
	expect_dirty_range(9, 10);

	ck_assert_int_eq(guest_mem_fill(&gm, 11 * PAGE, 0, 0), 0);
	ck_assert_int_eq(nr_dirty(), 0);
}
END_TEST

START_TEST(dirty_high_region)
{
	uint8_t b = 7;

	ck_assert_int_eq(guest_mem_init(&gm, 4 * GiB), 0);
	/* Pages are numbered by gpa, so the hole has (clean) bits too. */
	ck_assert_int_eq(guest_mem_write(&gm, 5 * GiB - 1, &b, 1), 0);
	ck_assert(dirty(5 * GiB / PAGE - 1));
	ck_assert_int_eq(guest_mem_write(&gm, GM_HOLE_END, &b, 1), 0);
	ck_assert(dirty(GM_HOLE_END / PAGE));
	ck_assert_int_eq(nr_dirty(), 2);
}
END_TEST

START_TEST(dirty_collect)
{
	size_t words;
	unsigned long *out;
	uint8_t b = 1;

	ck_assert_int_eq(guest_mem_init(&gm, 256 * PAGE), 0);
	words = (gm.dirty_bits + BPL - 1) / BPL;
	ck_assert_uint_eq(words, 256 / BPL);
	out = calloc(words, sizeof(*out));
	ck_assert_ptr_nonnull(out);

	guest_mem_write(&gm, 0, &b, 1);
	guest_mem_write(&gm, 65 * PAGE, &b, 1);
	guest_mem_write(&gm, 255 * PAGE, &b, 1);
	guest_mem_dirty_collect(&gm, out);
	ck_assert_uint_eq(out[0], 1UL);
	ck_assert_uint_eq(out[65 / BPL], 1UL << (65 % BPL) | (65 / BPL == 0 ? 1 : 0));
	ck_assert(out[255 / BPL] & (1UL << (255 % BPL)));
	/* The bits moved: the log is clean now. */
	ck_assert_int_eq(nr_dirty(), 0);

	/* A second collect with nothing new gives zeros. */
	memset(out, 0xff, words * sizeof(*out));
	guest_mem_dirty_collect(&gm, out);
	for (size_t i = 0; i < words; i++)
		ck_assert_uint_eq(out[i], 0);

	/* New writes after a collect show up in the next one only. */
	guest_mem_write(&gm, 3 * PAGE, &b, 1);
	guest_mem_dirty_collect(&gm, out);
	ck_assert_uint_eq(out[0], 1UL << 3);
	free(out);
}
END_TEST

/* A mark over set and clear bits of one word sets the clear ones. */
START_TEST(mark_dirty_partly_set)
{
	ck_assert_int_eq(guest_mem_init(&gm, 64 * PAGE), 0);
	guest_mem_mark_dirty(&gm, 3 * PAGE, PAGE);
	guest_mem_mark_dirty(&gm, 3 * PAGE, PAGE);
	guest_mem_mark_dirty(&gm, 2 * PAGE, 3 * PAGE);
	expect_dirty_range(2, 4);
	guest_mem_mark_dirty(&gm, 5 * PAGE, PAGE);
	expect_dirty_range(5, 5);
}
END_TEST

/*
 * What migration relies on: a writer stores a counter into a page and
 * marks it, over and over, while a collector takes the marks and copies
 * each marked page, as a pre-copy round sends it. Once the writer is done
 * and one last round has run, the copy holds the last value: no store
 * was lost between a mark and a collect.
 */
#define RACE_WRITES	2000000u

static void *race_writer(void *arg)
{
	uint64_t i;

	for (i = 1; i <= RACE_WRITES; i++) {
		uint64_t v = i;

		/* Two pages in one word, marked while the collector clears it. */
		guest_mem_write(&gm, 5 * PAGE + (i & 1) * PAGE, &v, sizeof(v));
		guest_mem_write(&gm, 9 * PAGE, &v, sizeof(v));
	}
	__atomic_store_n((bool *)arg, true, __ATOMIC_RELEASE);
	return NULL;
}

static void race_round(unsigned long *out, uint64_t *sent)
{
	guest_mem_dirty_collect(&gm, out);
	if (out[0] & (1UL << 9))
		ck_assert_int_eq(guest_mem_read(&gm, 9 * PAGE, sent, sizeof(*sent)), 0);
}

START_TEST(dirty_collect_races_writes)
{
	unsigned long out[1];
	uint64_t sent = 0;
	bool done = false;
	pthread_t t;

	ck_assert_int_eq(guest_mem_init(&gm, 64 * PAGE), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, race_writer, &done), 0);
	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE))
		race_round(out, &sent);
	pthread_join(t, NULL);
	race_round(out, &sent);
	ck_assert_uint_eq(sent, RACE_WRITES);
}
END_TEST

START_TEST(mark_dirty_clamped)
{
	ck_assert_int_eq(guest_mem_init(&gm, 8 * PAGE), 0);
	/* Beyond gpa_end, or wrapping, marks nothing and does not crash. */
	guest_mem_mark_dirty(&gm, 100 * PAGE, PAGE);
	guest_mem_mark_dirty(&gm, UINT64_MAX - 10, 100);
	guest_mem_mark_dirty(&gm, 0, 0);
	ck_assert_int_eq(nr_dirty(), 0);
	/* Partly beyond: only the pages that exist. */
	guest_mem_mark_dirty(&gm, 6 * PAGE, 10 * PAGE);
	expect_dirty_range(6, 7);
}
END_TEST

/* ---- memfd RAM ---- */

static bool touched(const unsigned long *bm, uint64_t pfn)
{
	return bm[pfn / BPL] & (1UL << (pfn % BPL));
}

/* A memfd per region, the same layout; what the guest touched is the memfd's data. */
START_TEST(memfd_layout_and_touched)
{
	unsigned long *bm;
	uint64_t hi;

	ck_assert_int_eq(guest_mem_init_memfd(&gm, 6 * GiB), 0);
	ck_assert_int_eq(gm.nr_regions, 2);
	ck_assert_int_ge(gm.regions[0].fd, 0);
	ck_assert_int_ge(gm.regions[1].fd, 0);
	ck_assert_uint_eq(gm.regions[1].gpa, GM_HOLE_END);
	ck_assert_ptr_eq(gm.regions[1].host, gm.base + GM_HOLE_START);
	hi = GM_HOLE_END + GiB;
	ck_assert_int_eq(guest_mem_fill(&gm, 5 * PAGE, 1, 2 * PAGE), 0);
	ck_assert_int_eq(guest_mem_fill(&gm, hi, 1, 1), 0);
	bm = calloc(gm.dirty_bits / BPL + 1, sizeof(*bm));
	ck_assert_int_eq(guest_mem_touched(&gm, bm), 0);
	ck_assert(!touched(bm, 4) && touched(bm, 5) && touched(bm, 6) && !touched(bm, 7));
	ck_assert(touched(bm, hi / PAGE) && !touched(bm, hi / PAGE + 1));
	free(bm);
}
END_TEST

/*
 * Another guest_mem's memfd mapped over a region: same host address, the
 * other's bytes, and a write shows on both sides. Our old contents go.
 */
START_TEST(memfd_replace)
{
	struct guest_mem other;
	uint8_t *host;
	int fd;

	ck_assert_int_eq(guest_mem_init_memfd(&gm, 64 * MiB), 0);
	ck_assert_int_eq(guest_mem_init_memfd(&other, 64 * MiB), 0);
	host = gm.regions[0].host;
	ck_assert_int_eq(guest_mem_fill(&gm, PAGE, 0x11, PAGE), 0);
	ck_assert_int_eq(guest_mem_fill(&other, 2 * PAGE, 0x22, PAGE), 0);
	fd = dup(other.regions[0].fd);
	ck_assert_int_eq(guest_mem_replace(&gm, 0, fd), 0);
	ck_assert_ptr_eq(gm.regions[0].host, host);
	ck_assert_int_eq(gm.regions[0].fd, fd);
	ck_assert_uint_eq(host[PAGE], 0);
	ck_assert_uint_eq(host[2 * PAGE], 0x22);
	host[3 * PAGE] = 0x33;
	ck_assert_uint_eq(other.regions[0].host[3 * PAGE], 0x33);
	/* Given up: private memory in its place, the other side untouched by our writes. */
	guest_mem_release(&gm);
	ck_assert_int_eq(gm.regions[0].fd, -1);
	host[4 * PAGE] = 0x44;
	ck_assert_uint_eq(other.regions[0].host[4 * PAGE], 0);
	/* Too small a memfd is refused, the region unchanged. */
	guest_mem_exit(&gm);
	ck_assert_int_eq(guest_mem_init_memfd(&gm, 128 * MiB), 0);
	fd = dup(other.regions[0].fd);
	ck_assert_int_eq(guest_mem_replace(&gm, 0, fd), -ERANGE);
	close(fd);
	guest_mem_exit(&other);
}
END_TEST

static Suite *guest_mem_suite(void)
{
	Suite *s = suite_create("guest_mem");

	vlab_tcase(s, "layout", NULL, teardown, 0, VLAB_TESTS(
		layout_256m, layout_3g_at_hole, layout_4g, layout_6g, init_bad_sizes,
		init_buffer));

	vlab_tcase(s, "bounds", NULL, teardown, 0, VLAB_TESTS(
		map_bounds, map_hostile, span_across_regions));

	vlab_tcase(s, "dirty", NULL, teardown, 0, VLAB_TESTS(
		read_not_dirty, write_marks_pages, fill_and_map_mark_pages,
		dirty_high_region, dirty_collect, mark_dirty_partly_set, mark_dirty_clamped,
		dirty_collect_races_writes));

	vlab_tcase(s, "memfd", NULL, teardown, 0, VLAB_TESTS(
		memfd_layout_and_touched, memfd_replace));
	return s;
}

VLAB_TEST_MAIN(guest_mem_suite)
