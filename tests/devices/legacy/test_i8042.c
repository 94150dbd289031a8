// SPDX-License-Identifier: GPL-2.0
/* i8042 saved state: round trip, and corrupt values refused with the device unchanged. */
#include <check.h>

#include "check_main.h"
#include "devices/legacy/i8042.h"
#include "state_test.h"

static struct i8042 kbd;

static int save_kbd(void *dev, struct state_buf *sb)
{
	return i8042_state_save(dev, sb);
}

static int load_kbd(void *dev, const void *fdt, int node, char *err, size_t errlen)
{
	return i8042_state_load(dev, fdt, node, err, errlen);
}

static void setup(void)
{
	kbd = (struct i8042){ .ctr = 0x47, .out = 0x55, .out_full = true };
}

START_TEST(state_roundtrip)
{
	struct state_buf sb;
	char err[256];

	state_test_roundtrip(save_kbd, load_kbd, &kbd);
	state_test_save(&sb, save_kbd, &kbd);
	kbd = (struct i8042){ 0 };
	ck_assert_int_eq(i8042_state_load(&kbd, sb.fdt, state_test_node(&sb, "/dev"), err,
					  sizeof(err)), 0);
	ck_assert_uint_eq(kbd.ctr, 0x47);
	ck_assert_uint_eq(kbd.out, 0x55);
	ck_assert(kbd.out_full);
	ck_assert(!kbd.want_ctr);
	state_buf_free(&sb);
}
END_TEST

START_TEST(state_corrupt_refused)
{
	state_test_refused(save_kbd, load_kbd, &kbd, "out-full", 134,
			   "\"out-full\" = 134 is not a boolean (0 or 1)");
	state_test_refused(save_kbd, load_kbd, &kbd, "want-ctr", 2, "is not a boolean");
	state_test_refused(save_kbd, load_kbd, &kbd, "ctr", 0x100, "does not fit in 8 bits");
}
END_TEST

VLAB_SUITE_MAIN("i8042", "state", setup, NULL, 0, state_roundtrip, state_corrupt_refused);
