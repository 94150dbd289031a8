// SPDX-License-Identifier: GPL-2.0
/* The migration stream's checksum: streamed, tails, and what it catches. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "vmm/migrate/migrate.h"

#define BUF	(64 * 1024 + 37)	/* whole blocks and a tail */

static uint8_t *random_buf(size_t len, unsigned int seed)
{
	uint8_t *b = malloc(len);
	size_t i;

	ck_assert_ptr_nonnull(b);
	srand(seed);
	for (i = 0; i < len; i++)
		b[i] = rand();
	return b;
}

/* Any split into whole 64-byte blocks plus the tail gives the one-shot sum. */
START_TEST(streamed_equals_whole)
{
	uint8_t *b = random_buf(BUF, 1);
	uint64_t whole = mig_csum(b, BUF, 0x1000);
	int i;

	for (i = 0; i < 200; i++) {
		struct mig_csum ck;
		uint64_t off = 0;

		mig_csum_init(&ck, 0x1000, BUF);
		while (off < BUF) {
			uint64_t n = (uint64_t)(rand() % 40) * 64;

			if (!n || off + n > BUF)
				n = BUF - off;
			mig_csum_update(&ck, b + off, n);
			off += n;
		}
		ck_assert_uint_eq(mig_csum_final(&ck), whole);
	}
	free(b);
}
END_TEST

START_TEST(lengths_and_tails)
{
	static const uint64_t lens[] = { 0, 1, 7, 63, 64, 65, 4096, BUF };
	uint8_t *b = random_buf(BUF, 2);
	unsigned int i;

	/* A tail is its own block padded with zeros; the length keeps them apart. */
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct mig_csum ck;

		mig_csum_init(&ck, 7, lens[i]);
		mig_csum_update(&ck, b, lens[i]);
		ck_assert_uint_eq(mig_csum_final(&ck), mig_csum(b, lens[i], 7));
		if (i)
			ck_assert_uint_ne(mig_csum(b, lens[i], 7), mig_csum(b, lens[i - 1], 7));
	}
	free(b);
}
END_TEST

/* Every single-bit flip, anywhere in a page, changes the sum. */
START_TEST(catches_bit_flips)
{
	uint8_t *b = random_buf(4096, 3);
	uint64_t good = mig_csum(b, 4096, 0), bit;

	for (bit = 0; bit < 4096 * 8; bit++) {
		b[bit / 8] ^= 1u << (bit % 8);
		ck_assert_msg(mig_csum(b, 4096, 0) != good, "bit %llu", (unsigned long long)bit);
		b[bit / 8] ^= 1u << (bit % 8);
	}
	free(b);
}
END_TEST

/* Moved data, another address, trailing zeros: all different. */
START_TEST(catches_moves_and_lengths)
{
	uint8_t *b = random_buf(8192, 4), tmp[64];
	uint64_t good = mig_csum(b, 8192, 0);
	int i;

	for (i = 1; i < 128; i++) {
		memcpy(tmp, b, 64);			/* swap block 0 and block i */
		memcpy(b, b + 64 * i, 64);
		memcpy(b + 64 * i, tmp, 64);
		ck_assert_uint_ne(mig_csum(b, 8192, 0), good);
		memcpy(b + 64 * i, b, 64);
		memcpy(b, tmp, 64);
	}
	ck_assert_uint_eq(mig_csum(b, 8192, 0), good);
	/* Lanes: swap two 8-byte words inside a block. */
	memcpy(tmp, b, 8);
	memcpy(b, b + 8, 8);
	memcpy(b + 8, tmp, 8);
	ck_assert_uint_ne(mig_csum(b, 8192, 0), good);
	memcpy(b + 8, b, 8);
	memcpy(b, tmp, 8);
	ck_assert_uint_ne(mig_csum(b, 8192, 0x1000), good);	/* seed = address */
	memset(b + 8000, 0, 192);
	ck_assert_uint_ne(mig_csum(b, 8000, 0), mig_csum(b, 8001, 0));
	ck_assert_uint_ne(mig_csum(b, 8000, 0), mig_csum(b, 8064, 0));
	free(b);
}
END_TEST

VLAB_SUITE_MAIN("migrate", "csum", NULL, NULL, 0,
	streamed_equals_whole, lengths_and_tails, catches_bit_flips,
	catches_moves_and_lengths);
