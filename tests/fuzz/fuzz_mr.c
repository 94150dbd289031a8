// SPDX-License-Identifier: GPL-2.0
/*
 * Memory regions against any keys, PDs, addresses and lengths a driver or
 * a peer could give (devices/rdma/mr.c): the input is a series of
 * operations (allocate, register, invalidate, free, translate). Whatever
 * they are, every segment an access is turned into lies inside guest RAM
 * (the registration refused pages outside it), and the segments add up
 * to the access's length.
 */
#include "fuzz.h"
#include "devices/rdma/mr.h"

#define RAM	(1ULL << 24)

static uint64_t get(const uint8_t **p, size_t *left, unsigned int n)
{
	uint64_t v = 0;

	while (n-- && *left) {
		v = v << 8 | **p;
		(*p)++;
		(*left)--;
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rdma_mr_table t;
	struct rdma_seg segs[16];
	uint64_t pages[8];
	uint32_t keys[8] = { 0 };
	unsigned int i;

	if (rdma_mr_table_init(&t, 8, RAM))
		return 0;
	while (size >= 2) {
		uint8_t op = (uint8_t)get(&data, &size, 1), k = op >> 4 & 7;
		int64_t r;

		switch (op & 7) {
		case 0:
			r = rdma_mr_alloc(&t, op >> 7, (enum rdma_mr_type)(get(&data, &size, 1) % 3),
					  (uint32_t)get(&data, &size, 1) & 15, 1 + (op & 8));
			if (r > 0)
				keys[k] = (uint32_t)r;
			break;
		case 1: {
			uint32_t n = (uint32_t)get(&data, &size, 1) % 9, shift = 12 + (op >> 7) * 9;

			for (i = 0; i < n; i++)
				pages[i] = (get(&data, &size, 2) << 12) & (RAM - 1) &
					   ~((1ULL << shift) - 1);
			rdma_mr_register(&t, keys[k] ^ (uint32_t)get(&data, &size, 1),
					 get(&data, &size, 8), get(&data, &size, 4),
					 (uint32_t)get(&data, &size, 1) & 15, pages, n, shift,
					 (uint32_t)get(&data, &size, 2) & ((1u << shift) - 1));
			break;
		}
		case 2:
			rdma_mr_invalidate(&t, keys[k]);
			break;
		case 3:
			rdma_mr_free(&t, keys[k]);
			break;
		default: {
			uint64_t va = get(&data, &size, 8), len = get(&data, &size, 3), sum = 0;
			int n = rdma_mr_translate(&t, keys[k] ^ (op & 0x80 ? 1 : 0), op >> 6 & 1,
						  (uint32_t)get(&data, &size, 1) & 15, va, len, segs,
						  16, NULL);

			for (i = 0; n > 0 && i < (unsigned int)n; i++) {
				if (segs[i].gpa >= RAM || RAM - segs[i].gpa < segs[i].len)
					abort();	/* outside guest RAM */
				sum += segs[i].len;
			}
			if (n >= 0 && sum != len)
				abort();		/* not the access's length */
		}
		}
	}
	rdma_mr_table_exit(&t);
	return 0;
}
