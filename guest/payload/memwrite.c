// SPDX-License-Identifier: GPL-2.0
/*
 * memwrite: fills all RAM above the payload with a pattern derived from
 * each 8-byte word's physical address and a seed (cmdline "seed="),
 * then reads it all back. It is the plain-memory check of the VMM's RAM
 * layout and, at CPL3 speed, a real-rate memory dirtier.
 *
 * cmdline: seed=N (default 0x5eed); passes=N (default 1) writes RAM N
 * times, pass p with seed + p, and verifies the last pass. The first
 * pass also pays for the host populating guest memory; later passes show
 * the steady dirtying rate.
 */
#include "payload.h"

PAYLOAD_NAME("memwrite");

#define LOW_SKIP	(2ULL << 20)	/* below 2 MiB: VMM tables, payload */
#define MAX_REPORT	8

static inline uint64_t pattern(uint64_t pa, uint64_t seed)
{
	/* Distinct per word and per seed; one multiply keeps it cheap. */
	return (pa * 0x9e3779b97f4a7c15ULL) ^ seed;
}

static bool clip(const struct hvm_memmap_table_entry *e, uint64_t floor,
		 uint64_t *lo, uint64_t *hi)
{
	uint64_t start = e->addr, end = e->addr + e->size;

	if (e->type != HVM_MEMMAP_TYPE_RAM)
		return false;
	if (start < floor)
		start = floor;
	if (end > PAYLOAD_MAPPED_LIMIT)
		end = PAYLOAD_MAPPED_LIMIT;
	start = (start + 7) & ~7ULL;
	end &= ~7ULL;
	*lo = start;
	*hi = end;
	return start < end;
}

static void fill(uint64_t lo, uint64_t hi, uint64_t seed)
{
	uint64_t pa;

	for (pa = lo; pa < hi; pa += 8)
		*(uint64_t *)pa = pattern(pa, seed);
}

static uint64_t verify(uint64_t lo, uint64_t hi, uint64_t seed,
		       uint64_t bad)
{
	uint64_t pa;

	for (pa = lo; pa < hi; pa += 8) {
		uint64_t want = pattern(pa, seed), got = *(uint64_t *)pa;

		if (got == want)
			continue;
		if (bad < MAX_REPORT)
			printf("memwrite: 0x%lx: read 0x%016lx want 0x%016lx\n",
			       pa, got, want);
		bad++;
	}
	return bad;
}

static void report(const char *what, unsigned int pass, uint64_t bytes,
		   uint64_t cycles)
{
	uint64_t us = payload_tsc_to_us(cycles);

	printf("memwrite: pass %u: %s %lu MiB in ", pass, what, bytes >> 20);
	if (us)
		printf("%lu ms (%lu MiB/s)\n", us / 1000,
		       (bytes >> 20) * 1000000 / us);
	else
		printf("%lu TSC cycles\n", cycles);
}

int payload_main(void)
{
	uint64_t seed = payload_arg_u64("seed", 0x5eed);
	uint64_t passes = payload_arg_u64("passes", 1);
	uint64_t floor = (payload_image_end() + 4095) & ~4095ULL;
	const struct hvm_memmap_table_entry *map;
	uint64_t lo, hi, bytes = 0, bad = 0, t0;
	unsigned int i, nr, pass;

	if (floor < LOW_SKIP)
		floor = LOW_SKIP;
	if (!passes)
		passes = 1;
	map = payload_memmap(&nr);
	if (!nr) {
		printf("memwrite: no memory map\n");
		return 1;
	}
	printf("memwrite: seed 0x%lx, %lu passes, RAM from 0x%lx, tsc %lu kHz\n",
	       seed, passes, floor, payload_tsc_khz());

	for (pass = 0; pass < passes; pass++) {
		t0 = rdtsc();
		bytes = 0;
		for (i = 0; i < nr; i++) {
			if (!clip(&map[i], floor, &lo, &hi))
				continue;
			fill(lo, hi, seed + pass);
			bytes += hi - lo;
		}
		barrier();
		report("wrote", pass + 1, bytes, rdtsc() - t0);
	}
	if (!bytes) {
		printf("memwrite: no RAM above 0x%lx\n", floor);
		return 1;
	}

	t0 = rdtsc();
	for (i = 0; i < nr; i++)
		if (clip(&map[i], floor, &lo, &hi))
			bad = verify(lo, hi, seed + passes - 1, bad);
	report("verified", passes, bytes, rdtsc() - t0);
	if (bad) {
		printf("memwrite: %lu of %lu words wrong\n", bad, bytes / 8);
		return 1;
	}
	return 0;
}
