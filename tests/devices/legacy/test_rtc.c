// SPDX-License-Identifier: GPL-2.0
/* RTC saved state: round trip, and an index beyond the CMOS refused with the device unchanged. */
#include <check.h>

#include "check_main.h"
#include "devices/legacy/rtc.h"
#include "state_test.h"

static struct rtc rtc;

static int save_rtc(void *dev, struct state_buf *sb)
{
	return rtc_state_save(dev, sb);
}

static int load_rtc(void *dev, const void *fdt, int node, char *err, size_t errlen)
{
	return rtc_state_load(dev, fdt, node, err, errlen);
}

static void setup(void)
{
	memset(&rtc, 0, sizeof(rtc));
	rtc.index = 0x7f;
	rtc.cmos[0x7f] = 0xa5;
	rtc.cmos[0x10] = 0x3c;
}

START_TEST(state_roundtrip)
{
	struct state_buf sb;
	char err[256];

	state_test_roundtrip(save_rtc, load_rtc, &rtc);
	state_test_save(&sb, save_rtc, &rtc);
	memset(&rtc, 0, sizeof(rtc));
	ck_assert_int_eq(rtc_state_load(&rtc, sb.fdt, state_test_node(&sb, "/dev"), err,
					sizeof(err)), 0);
	ck_assert_uint_eq(rtc.index, 0x7f);
	ck_assert_uint_eq(rtc.cmos[0x7f], 0xa5);
	ck_assert_uint_eq(rtc.cmos[0x10], 0x3c);
	state_buf_free(&sb);
}
END_TEST

START_TEST(state_corrupt_refused)
{
	/* Was silently masked to 0x00 before: an index the port cannot hold. */
	state_test_refused(save_rtc, load_rtc, &rtc, "index", 0x80,
			   "rtc: index 0x80, the CMOS has 0x80 bytes");
	state_test_refused(save_rtc, load_rtc, &rtc, "index", 0xff, "rtc: index 0xff");
	state_test_refused(save_rtc, load_rtc, &rtc, "index", 0x100, "does not fit in 8 bits");
}
END_TEST

VLAB_SUITE_MAIN("rtc", "state", setup, NULL, 0, state_roundtrip, state_corrupt_refused);
