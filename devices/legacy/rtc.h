/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VLAB_RTC_H
#define VLAB_RTC_H

#include <stddef.h>
#include <stdint.h>

struct state_buf;

/* MC146818 CMOS (devices/legacy/rtc.c): the clock is the host's, the bytes are ours. */
struct rtc {
	uint8_t index;		/* 0..127 */
	uint8_t cmos[128];
};

/*
 * Snapshot state ("rtc"). Load refuses an index beyond the CMOS with a
 * message and then leaves @r unchanged; safe with any tree.
 */
int rtc_state_save(struct rtc *r, struct state_buf *sb);
int rtc_state_load(struct rtc *r, const void *fdt, int node, char *err, size_t errlen);

#endif
