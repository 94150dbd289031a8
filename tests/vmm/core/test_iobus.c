// SPDX-License-Identifier: GPL-2.0
/* Range registration and dispatch on a port I/O / MMIO bus. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "vmm/core/iobus.h"

static struct io_bus bus;

/* What the last handler call saw. */
struct rec {
	int calls;
	uint64_t off;
	int len;
	bool is_write;
	uint32_t wdata;
};

static struct rec ra, rb;

static void handler(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct rec *r = opaque;

	r->calls++;
	r->off = off;
	r->len = len;
	r->is_write = is_write;
	if (is_write) {
		r->wdata = 0;
		memcpy(&r->wdata, data, len < 4 ? len : 4);
	} else {
		memset(data, 0xa5, len);
	}
}

static void setup(void)
{
	io_bus_init(&bus, "test");
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
}

static void teardown(void)
{
	io_bus_exit(&bus);
}

static bool touch(uint64_t addr)
{
	uint8_t b = 0;

	return io_bus_access(&bus, addr, &b, 1, false);
}

static void check_sorted(void)
{
	int i;

	for (i = 1; i < bus.nr; i++)
		ck_assert_msg(bus.ranges[i - 1].base + bus.ranges[i - 1].len <=
			      bus.ranges[i].base, "ranges %d and %d out of order", i - 1, i);
}

START_TEST(init_empty)
{
	ck_assert_str_eq(bus.name, "test");
	ck_assert_int_eq(bus.nr, 0);
	ck_assert(!touch(0));
	ck_assert(!touch(UINT64_MAX));
	ck_assert_int_eq(io_bus_unregister(&bus, 0), -ENOENT);
}
END_TEST

START_TEST(dispatch_with_offset)
{
	uint32_t v = 0xdeadbeef;
	uint8_t rd[4] = { 0 };

	ck_assert_int_eq(io_bus_register(&bus, 0x3f8, 8, handler, &ra, "com1"), 0);
	ck_assert(io_bus_access(&bus, 0x3fb, &v, 4, true));
	ck_assert_int_eq(ra.calls, 1);
	ck_assert_uint_eq(ra.off, 3);
	ck_assert_int_eq(ra.len, 4);
	ck_assert(ra.is_write);
	ck_assert_uint_eq(ra.wdata, 0xdeadbeef);

	ck_assert(io_bus_access(&bus, 0x3f8, rd, 2, false));
	ck_assert_int_eq(ra.calls, 2);
	ck_assert_uint_eq(ra.off, 0);
	ck_assert_int_eq(ra.len, 2);
	ck_assert(!ra.is_write);
	ck_assert_uint_eq(rd[0], 0xa5);
	ck_assert_uint_eq(rd[1], 0xa5);
	ck_assert_uint_eq(rd[2], 0);

	ck_assert(touch(0x3ff));
	ck_assert_uint_eq(ra.off, 7);
	ck_assert(!touch(0x3f7));
	ck_assert(!touch(0x400));
	ck_assert_int_eq(ra.calls, 3);
}
END_TEST

START_TEST(overlap_rejected)
{
	ck_assert_int_eq(io_bus_register(&bus, 0x1000, 0x100, handler, &ra, "a"), 0);
	/* Overlapping the start, the end, inside, around, identical. */
	ck_assert_int_eq(io_bus_register(&bus, 0xf00, 0x101, handler, &rb, "b"), -EBUSY);
	ck_assert_int_eq(io_bus_register(&bus, 0x10ff, 0x10, handler, &rb, "b"), -EBUSY);
	ck_assert_int_eq(io_bus_register(&bus, 0x1010, 0x10, handler, &rb, "b"), -EBUSY);
	ck_assert_int_eq(io_bus_register(&bus, 0x800, 0x1000, handler, &rb, "b"), -EBUSY);
	ck_assert_int_eq(io_bus_register(&bus, 0x1000, 0x100, handler, &rb, "b"), -EBUSY);
	ck_assert_int_eq(io_bus_register(&bus, 0x1000, 1, handler, &rb, "b"), -EBUSY);
	ck_assert_int_eq(io_bus_register(&bus, 0x10ff, 1, handler, &rb, "b"), -EBUSY);
	ck_assert_int_eq(bus.nr, 1);
	/* Adjacent on both sides is fine. */
	ck_assert_int_eq(io_bus_register(&bus, 0xf00, 0x100, handler, &rb, "below"), 0);
	ck_assert_int_eq(io_bus_register(&bus, 0x1100, 0x100, handler, &rb, "above"), 0);
	ck_assert_int_eq(bus.nr, 3);
	check_sorted();
	/* Now a range spanning a gap-less group overlaps several. */
	ck_assert_int_eq(io_bus_register(&bus, 0xeff, 0x300, handler, &rb, "c"), -EBUSY);

	ck_assert(touch(0xfff));
	ck_assert_int_eq(rb.calls, 1);
	ck_assert(touch(0x1000));
	ck_assert_int_eq(ra.calls, 1);
	ck_assert_uint_eq(ra.off, 0);
	ck_assert(touch(0x10ff));
	ck_assert_int_eq(ra.calls, 2);
	ck_assert_uint_eq(ra.off, 0xff);
	ck_assert(touch(0x1100));
	ck_assert_int_eq(rb.calls, 2);
	ck_assert_uint_eq(rb.off, 0);
}
END_TEST

START_TEST(bad_ranges)
{
	ck_assert_int_eq(io_bus_register(&bus, 0x10, 0, handler, &ra, "zero"), -EINVAL);
	ck_assert_int_eq(io_bus_register(&bus, UINT64_MAX, 2, handler, &ra, "wrap"), -EINVAL);
	ck_assert_int_eq(io_bus_register(&bus, 1, UINT64_MAX, handler, &ra, "wrap"), -EINVAL);
	ck_assert_int_eq(io_bus_register(&bus, UINT64_MAX - 0xf, 0x20, handler, &ra, "wrap"),
			 -EINVAL);
	ck_assert_int_eq(bus.nr, 0);
	/* The top of the address space short of the last byte is fine. */
	ck_assert_int_eq(io_bus_register(&bus, UINT64_MAX - 0x10, 0x10, handler, &ra, "top"), 0);
	ck_assert(touch(UINT64_MAX - 1));
	ck_assert_uint_eq(ra.off, 0xf);
	ck_assert(!touch(UINT64_MAX));
	/* Address 0 and the whole low range. */
	ck_assert_int_eq(io_bus_register(&bus, 0, UINT64_MAX - 0x10, handler, &rb, "low"), 0);
	ck_assert(touch(0));
	ck_assert(touch(UINT64_MAX - 0x11));
	ck_assert_int_eq(rb.calls, 2);
	ck_assert_uint_eq(rb.off, UINT64_MAX - 0x11);
}
END_TEST

START_TEST(unregister)
{
	ck_assert_int_eq(io_bus_register(&bus, 0x60, 1, handler, &ra, "a"), 0);
	ck_assert_int_eq(io_bus_register(&bus, 0x64, 1, handler, &rb, "b"), 0);
	ck_assert_int_eq(io_bus_register(&bus, 0x70, 2, handler, &rb, "c"), 0);
	/* Only the exact base unregisters. */
	ck_assert_int_eq(io_bus_unregister(&bus, 0x71), -ENOENT);
	ck_assert_int_eq(io_bus_unregister(&bus, 0x65), -ENOENT);
	ck_assert_int_eq(io_bus_unregister(&bus, 0x62), -ENOENT);
	ck_assert_int_eq(bus.nr, 3);

	ck_assert_int_eq(io_bus_unregister(&bus, 0x64), 0);
	ck_assert_int_eq(bus.nr, 2);
	ck_assert(!touch(0x64));
	ck_assert(touch(0x60));
	ck_assert(touch(0x71));
	ck_assert_int_eq(io_bus_unregister(&bus, 0x64), -ENOENT);

	/* The freed range can be registered again, differently. */
	ck_assert_int_eq(io_bus_register(&bus, 0x61, 0xf, handler, &rb, "d"), 0);
	ck_assert(touch(0x64));
	ck_assert_uint_eq(rb.off, 3);
	check_sorted();

	ck_assert_int_eq(io_bus_unregister(&bus, 0x60), 0);
	ck_assert_int_eq(io_bus_unregister(&bus, 0x61), 0);
	ck_assert_int_eq(io_bus_unregister(&bus, 0x70), 0);
	ck_assert_int_eq(bus.nr, 0);
	ck_assert(!touch(0x60));
	ck_assert(!touch(0x70));
}
END_TEST

START_TEST(unmapped_leaves_data)
{
	uint32_t v = 0x12345678;

	ck_assert_int_eq(io_bus_register(&bus, 0x100, 0x10, handler, &ra, "a"), 0);
	ck_assert(!io_bus_access(&bus, 0x200, &v, 4, false));
	ck_assert_uint_eq(v, 0x12345678);
	ck_assert(!io_bus_access(&bus, 0xff, &v, 4, true));
	ck_assert_int_eq(ra.calls, 0);
}
END_TEST

/* Per-range identity for the many-ranges test. */
struct slot {
	uint64_t base, len;
	int hits;
	uint64_t last_off;
};

static void slot_handler(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct slot *s = opaque;

	s->hits++;
	s->last_off = off;
}

START_TEST(many_ranges)
{
	enum { N = 100 };
	static struct slot slots[N];
	int order[N];
	int i, j;
	unsigned int seed = 12345;

	/* Non-overlapping ranges: slot i lives in [i * 0x1000, i * 0x1000 + len). */
	for (i = 0; i < N; i++) {
		slots[i].base = i * 0x1000ULL + (rand_r(&seed) % 0x800);
		slots[i].len = 1 + rand_r(&seed) % 0x800;
		slots[i].hits = 0;
		order[i] = i;
	}
	/* Register in a random order. */
	for (i = N - 1; i > 0; i--) {
		int k = rand_r(&seed) % (i + 1), t = order[i];

		order[i] = order[k];
		order[k] = t;
	}
	for (i = 0; i < N; i++) {
		struct slot *s = &slots[order[i]];

		ck_assert_int_eq(io_bus_register(&bus, s->base, s->len, slot_handler, s, "s"), 0);
		check_sorted();
	}
	ck_assert_int_eq(bus.nr, N);
	ck_assert_int_ge(bus.cap, N);
	for (i = 0; i < N; i++)
		ck_assert_uint_eq(bus.ranges[i].base, slots[i].base);

	/* Every slot's first, last and middle byte reaches it; the bytes around do not. */
	for (i = 0; i < N; i++) {
		struct slot *s = &slots[i];
		uint64_t probes[3] = { 0, s->len - 1, s->len / 2 };

		for (j = 0; j < 3; j++) {
			ck_assert(touch(s->base + probes[j]));
			ck_assert_int_eq(s->hits, j + 1);
			ck_assert_uint_eq(s->last_off, probes[j]);
		}
		if (s->base > i * 0x1000ULL)
			ck_assert(!touch(s->base - 1));
		ck_assert(!touch(s->base + s->len));
	}
	/* A duplicate of any of them is refused. */
	for (i = 0; i < N; i++)
		ck_assert_int_eq(io_bus_register(&bus, slots[i].base + slots[i].len - 1, 1,
						 slot_handler, NULL, "dup"), -EBUSY);

	/* Remove every other one; the rest still dispatch. */
	for (i = 0; i < N; i += 2)
		ck_assert_int_eq(io_bus_unregister(&bus, slots[i].base), 0);
	ck_assert_int_eq(bus.nr, N / 2);
	check_sorted();
	for (i = 0; i < N; i++) {
		slots[i].hits = 0;
		ck_assert(touch(slots[i].base) == (i & 1));
		ck_assert_int_eq(slots[i].hits, i & 1);
	}
}
END_TEST

VLAB_SUITE_MAIN("iobus", "iobus", setup, teardown, 0,
	init_empty, dispatch_with_offset, overlap_rejected, bad_ranges, unregister,
	unmapped_leaves_data, many_ranges);
