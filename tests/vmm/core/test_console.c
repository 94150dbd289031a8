// SPDX-License-Identifier: GPL-2.0
/* The console's escape-key filter: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A. */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "vmm/core/console.h"

#define ESC	CONSOLE_ESCAPE

static struct console con;
static uint8_t out[256];
static size_t nout;

static void setup(void)
{
	memset(&con, 0, sizeof(con));
	con.in_fd = -1;
	con.out_fd = -1;
	memset(out, 0xee, sizeof(out));
	nout = 12345;
}

static enum console_action filter(const void *in, size_t len)
{
	memset(out, 0xee, sizeof(out));
	nout = 12345;
	return console_filter(&con, in, len, out, &nout);
}

START_TEST(plain_bytes_pass)
{
	const uint8_t in[] = "hello\r\n\x7f\x1b[A\x00\xff";

	ck_assert_int_eq(filter(in, sizeof(in)), CONSOLE_PASS);
	ck_assert_uint_eq(nout, sizeof(in));
	ck_assert_int_eq(memcmp(out, in, sizeof(in)), 0);
	ck_assert(!con.escape);
	/* Nothing in, nothing out. */
	ck_assert_int_eq(filter("", 0), CONSOLE_PASS);
	ck_assert_uint_eq(nout, 0);
}
END_TEST

START_TEST(escape_x_quits)
{
	ck_assert_int_eq(filter("ab\x01x", 4), CONSOLE_QUIT);
	/* Bytes before the escape still go to the guest. */
	ck_assert_uint_eq(nout, 2);
	ck_assert_int_eq(memcmp(out, "ab", 2), 0);
	ck_assert_int_eq(filter("\x01X", 2), CONSOLE_QUIT);
	ck_assert_uint_eq(nout, 0);
	/* What follows the quit is not consumed into the output. */
	ck_assert_int_eq(filter("\x01xzzz", 5), CONSOLE_QUIT);
	ck_assert_uint_eq(nout, 0);
}
END_TEST

START_TEST(double_escape_sends_one)
{
	ck_assert_int_eq(filter("a\x01\x01" "b", 4), CONSOLE_PASS);
	ck_assert_uint_eq(nout, 3);
	ck_assert_int_eq(memcmp(out, "a\x01" "b", 3), 0);
	ck_assert(!con.escape);
	/* Three in a row: one sent, one pending. */
	ck_assert_int_eq(filter("\x01\x01\x01", 3), CONSOLE_PASS);
	ck_assert_uint_eq(nout, 1);
	ck_assert_uint_eq(out[0], ESC);
	ck_assert(con.escape);
	ck_assert_int_eq(filter("x", 1), CONSOLE_QUIT);
}
END_TEST

START_TEST(escape_split_across_calls)
{
	ck_assert_int_eq(filter("abc\x01", 4), CONSOLE_PASS);
	ck_assert_uint_eq(nout, 3);
	ck_assert(con.escape);
	ck_assert_int_eq(filter("x", 1), CONSOLE_QUIT);
	ck_assert_uint_eq(nout, 0);

	setup();
	ck_assert_int_eq(filter("\x01", 1), CONSOLE_PASS);
	ck_assert_uint_eq(nout, 0);
	ck_assert_int_eq(filter("\x01", 1), CONSOLE_PASS);
	ck_assert_uint_eq(nout, 1);
	ck_assert_uint_eq(out[0], ESC);
	ck_assert(!con.escape);

	/* An empty read in between keeps the pending escape. */
	ck_assert_int_eq(filter("\x01", 1), CONSOLE_PASS);
	ck_assert_int_eq(filter("", 0), CONSOLE_PASS);
	ck_assert(con.escape);
	ck_assert_int_eq(filter("X", 1), CONSOLE_QUIT);
}
END_TEST

START_TEST(unknown_escape_passes_both)
{
	ck_assert_int_eq(filter("\x01q", 2), CONSOLE_PASS);
	ck_assert_uint_eq(nout, 2);
	ck_assert_uint_eq(out[0], ESC);
	ck_assert_uint_eq(out[1], 'q');
	/* Split: the escape byte comes out with the next call. */
	ck_assert_int_eq(filter("z\x01", 2), CONSOLE_PASS);
	ck_assert_uint_eq(nout, 1);
	ck_assert_int_eq(filter("c", 1), CONSOLE_PASS);
	ck_assert_uint_eq(nout, 2);
	ck_assert_uint_eq(out[0], ESC);
	ck_assert_uint_eq(out[1], 'c');
	ck_assert(!con.escape);
}
END_TEST

START_TEST(help_escape)
{
	int saved = dup(STDERR_FILENO);
	int null = open("/dev/null", O_WRONLY);

	/* Ctrl-A h prints help to stderr and passes nothing to the guest. */
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(null, 0);
	dup2(null, STDERR_FILENO);
	ck_assert_int_eq(filter("a\x01h" "b\x01?\x01H", 8), CONSOLE_PASS);
	dup2(saved, STDERR_FILENO);
	close(null);
	close(saved);
	ck_assert_uint_eq(nout, 2);
	ck_assert_int_eq(memcmp(out, "ab", 2), 0);
	ck_assert(!con.escape);
}
END_TEST

START_TEST(output_bounded)
{
	uint8_t in[64];
	unsigned int seed = 7;
	int round;
	size_t len, i;

	/* Random mixes of escapes and bytes never write past len + 1. */
	for (round = 0; round < 20000; round++) {
		len = rand_r(&seed) % sizeof(in);
		for (i = 0; i < len; i++) {
			int r = rand_r(&seed) % 4;

			in[i] = r == 0 ? ESC : r == 1 ? 'a' + rand_r(&seed) % 26 :
				rand_r(&seed) & 0xff;
			/* Keep out quit and help: this is about sizes. */
			if (strchr("xXhH?", in[i]) && in[i])
				in[i] = 'y';
		}
		filter(in, len);
		/* Plain checks in the loop: each ck_assert costs a pipe write. */
		if (nout > len + 1)
			ck_abort_msg("round %d: %zu bytes out of %zu in", round, nout, len);
		for (i = len + 1; i < sizeof(out); i++)
			if (out[i] != 0xee)
				ck_abort_msg("round %d: wrote out[%zu] with len %zu", round, i, len);
	}
	/* The worst case: escape pending, then an unknown escape. */
	setup();
	filter("\x01", 1);
	ck_assert_int_eq(filter("q", 1), CONSOLE_PASS);
	ck_assert_uint_eq(nout, 2);
	ck_assert_uint_eq(out[2], 0xee);
}
END_TEST

VLAB_SUITE_MAIN("console", "filter", setup, NULL, 0,
	plain_bytes_pass, escape_x_quits, double_escape_sends_one,
	escape_split_across_calls, unknown_escape_passes_both, help_escape,
	output_bounded);
