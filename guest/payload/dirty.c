// SPDX-License-Identifier: GPL-2.0
/*
 * dirty: a memory dirtier for migration tests. It writes pages round-robin
 * over all RAM above 2 MiB at a set rate (rate= MB/s, 0 = as fast as it
 * can) for secs= seconds, stamping each page with its address and the
 * round it was written in. Then it checks every page: after a live
 * migration any page the migration lost, or a stale copy of one, shows up
 * as a wrong address or round.
 *
 * cmdline: rate=MB/s (default 100), secs=N (default 5), seed=N.
 *
 * until=request: write until the test says so with `vlab ctl SOCK
 * test-request` (port 0x510 reads non-zero; checked about every 250 ms),
 * secs= being only the limit. Migration tests use it so that no hop, on
 * however slow a machine, finds the guest already done.
 *
 * fill=1 stamps every page once (round 0) first, as fast as it can, and
 * says "dirty: filled" when done; secs= count from then. idle=1 (implies
 * fill=1 unless fill=0) writes nothing after that and only spins until
 * secs= have passed, then checks. Migration benchmarks use fill=1 so all
 * of RAM holds data before they start, and idle=1 as the guest that
 * dirties nothing.
 */
#include "payload.h"

PAYLOAD_NAME("dirty");

#define LOW_SKIP	(2ULL << 20)
#define PAGE		4096ULL
#define MAX_PAGES	(1ULL << 22)	/* 16 GiB */

struct stamp {
	uint64_t magic;
	uint64_t pa;
	uint64_t round;
	uint64_t check;
};

static uint64_t page_pa[64];	/* RAM ranges: start and page count */
static uint64_t page_cnt[64];
static int nr_ranges;
static uint64_t total_pages;

static uint64_t nth_page(uint64_t n)
{
	int i;

	for (i = 0; i < nr_ranges; i++) {
		if (n < page_cnt[i])
			return page_pa[i] + n * PAGE;
		n -= page_cnt[i];
	}
	return 0;
}

static void stamp_page(uint64_t pa, uint64_t round, uint64_t seed)
{
	struct stamp *s = (struct stamp *)pa;
	uint64_t *w = (uint64_t *)pa;

	s->magic = seed;
	s->pa = pa;
	s->round = round;
	s->check = seed ^ pa ^ (round * 0x9e3779b97f4a7c15ULL);
	/* Touch the rest of the page too, as real workloads would. */
	w[511] = s->check;
}

/* Stamp pages round-robin from the @k-th at @per_ms a millisecond (0: flat out). */
static uint64_t run_rate(uint64_t k, uint64_t per_ms, uint64_t khz, uint64_t t0,
			 uint64_t deadline, uint64_t seed, bool until_request)
{
	uint64_t n, tick = t0, bursts = 0;

	while (rdtsc() < deadline) {
		/* A port read traps to the #GP handler here: not every burst. */
		if (until_request && !(++bursts % 256) && inb(TEST_REQUEST_PORT))
			break;
		uint64_t burst = per_ms ? per_ms : 4096;

		for (n = 0; n < burst; n++, k++)
			stamp_page(nth_page(k % total_pages), k / total_pages, seed);
		if (per_ms) {
			/* Pace by wall time: catch up if behind, wait if ahead. */
			tick += khz;
			while (rdtsc() < tick)
				;
		}
	}
	return k;
}

int payload_main(void)
{
	const struct hvm_start_info *si = payload_start_info();
	const struct hvm_memmap_table_entry *mm = (const void *)si->memmap_paddr;
	uint64_t rate = payload_arg_u64("rate", 100), secs = payload_arg_u64("secs", 5);
	uint64_t seed = payload_arg_u64("seed", 0xd1d1), khz = payload_tsc_khz();
	uint64_t idle = payload_arg_u64("idle", 0), fill = payload_arg_u64("fill", idle);
	const char *until = payload_arg("until");
	bool until_request = until && !strcmp(until, "request");
	uint64_t k = 0, t0, deadline, per_ms, bad = 0, n;
	unsigned int i;

	for (i = 0; i < si->memmap_entries && nr_ranges < 64; i++) {
		uint64_t lo = mm[i].addr, hi = mm[i].addr + mm[i].size;

		if (mm[i].type != HVM_MEMMAP_TYPE_RAM)
			continue;
		if (lo < LOW_SKIP)
			lo = LOW_SKIP;
		if (hi > PAYLOAD_MAPPED_LIMIT)
			hi = PAYLOAD_MAPPED_LIMIT;
		lo = (lo + PAGE - 1) & ~(PAGE - 1);
		hi &= ~(PAGE - 1);
		if (lo >= hi)
			continue;
		page_pa[nr_ranges] = lo;
		page_cnt[nr_ranges++] = (hi - lo) / PAGE;
		total_pages += (hi - lo) / PAGE;
	}
	if (!khz || !total_pages) {
		printf("dirty: no TSC frequency or no RAM\n");
		return 2;
	}
	per_ms = rate ? (rate << 20) / PAGE / 1000 : 0;
	if (rate && !per_ms)
		per_ms = 1;
	if (idle)
		printf("dirty: %llu pages, idle for %llu s%s\n", (unsigned long long)total_pages,
		       (unsigned long long)secs, fill ? " after one fill" : "");
	else
		printf("dirty: %llu pages, %llu MB/s for %llu s\n", (unsigned long long)total_pages,
		       (unsigned long long)rate, (unsigned long long)secs);
	t0 = rdtsc();
	if (fill) {
		for (; k < total_pages; k++)
			stamp_page(nth_page(k), 0, seed);
		printf("dirty: filled %llu MB in %llu ms\n",
		       (unsigned long long)(total_pages * PAGE >> 20),
		       (unsigned long long)((rdtsc() - t0) / khz));
		t0 = rdtsc();
	}
	deadline = t0 + secs * khz * 1000;
	if (idle) {
		while (rdtsc() < deadline)
			asm volatile("pause");
	} else {
		k = run_rate(k, per_ms, khz, t0, deadline, seed, until_request);
	}
	printf("dirty: wrote %llu pages (%llu MB) in %llu ms; checking\n",
	       (unsigned long long)k, (unsigned long long)(k * PAGE >> 20),
	       (unsigned long long)((rdtsc() - t0) / khz));
	for (n = 0; n < total_pages && n < k; n++) {
		uint64_t pa = nth_page(n), r = k / total_pages;
		const struct stamp *s = (const struct stamp *)pa;

		/* Page n was last written in round r if n < k % total, else r - 1. */
		if (n >= k % total_pages)
			r--;
		if (s->magic != seed || s->pa != pa || s->round != r ||
		    s->check != (seed ^ pa ^ (r * 0x9e3779b97f4a7c15ULL)) ||
		    ((uint64_t *)pa)[511] != s->check) {
			if (bad < 8)
				printf("dirty: page 0x%llx: round %llu, want %llu\n",
				       (unsigned long long)pa, (unsigned long long)s->round,
				       (unsigned long long)r);
			bad++;
		}
	}
	printf("dirty: %llu bad pages of %llu checked\n", (unsigned long long)bad,
	       (unsigned long long)(k < total_pages ? k : total_pages));
	return bad ? 1 : 0;
}
