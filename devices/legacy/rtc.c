// SPDX-License-Identifier: GPL-2.0
/*
 * MC146818 CMOS RTC at 0x70/0x71: the host's wall-clock time in BCD, so
 * the guest's boot-time clock read finishes at once (never "update in
 * progress"), plus the CMOS bytes nobody interprets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/legacy/rtc.h"
#include "vmm/migrate/state.h"
#include "vmm/core/vm.h"

#define RTC_INDEX	0x70
#define RTC_REG_A	0x0a
#define RTC_REG_B	0x0b
#define RTC_REG_C	0x0c
#define RTC_REG_D	0x0d
#define RTC_B_24H	0x02
#define RTC_D_VRT	0x80


static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t rtc_read(struct rtc *r, uint8_t idx)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	switch (idx) {
	case 0x00: return bcd(tm.tm_sec);
	case 0x02: return bcd(tm.tm_min);
	case 0x04: return bcd(tm.tm_hour);
	case 0x06: return bcd(tm.tm_wday + 1);
	case 0x07: return bcd(tm.tm_mday);
	case 0x08: return bcd(tm.tm_mon + 1);
	case 0x09: return bcd(tm.tm_year % 100);
	case 0x32: return bcd((tm.tm_year + 1900) / 100);
	case RTC_REG_A: return 0x26;	/* 32.768 kHz, 1024 Hz, UIP clear */
	case RTC_REG_B: return RTC_B_24H;
	case RTC_REG_C: return 0;
	case RTC_REG_D: return RTC_D_VRT;
	default: return r->cmos[idx & 0x7f];
	}
}

static void rtc_access(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct rtc *r = opaque;
	uint8_t *v = data;

	if (off == 0) {
		if (is_write)
			r->index = *v & 0x7f;	/* bit 7 is the NMI mask */
		else
			*v = r->index;
		return;
	}
	if (is_write)
		r->cmos[r->index] = *v;
	else
		*v = rtc_read(r, r->index);
}

/* The clock itself is the host's; only the CMOS bytes and index move. */
static const struct state_field rtc_fields[] = {
	STATE_UINT(struct rtc, index, "index"),
	STATE_BYTES(struct rtc, cmos, "cmos"),
};

int rtc_state_save(struct rtc *r, struct state_buf *sb)
{
	return state_put_fields(sb, r, rtc_fields, ARRAY_SIZE(rtc_fields));
}

int rtc_state_load(struct rtc *r, const void *fdt, int node, char *err, size_t errlen)
{
	struct rtc tmp = *r;

	if (state_get_fields(fdt, node, &tmp, rtc_fields, ARRAY_SIZE(rtc_fields), err, errlen))
		return -1;
	/* The index port keeps 7 bits (bit 7 is the NMI mask): cmos[] has 128 bytes. */
	if (tmp.index >= sizeof(tmp.cmos)) {
		snprintf(err, errlen, "rtc: index 0x%x, the CMOS has 0x%zx bytes", tmp.index,
			 sizeof(tmp.cmos));
		return -1;
	}
	*r = tmp;
	return 0;
}

static int rtc_save(void *opaque, struct state_buf *sb)
{
	return rtc_state_save(opaque, sb);
}

static int rtc_load(void *opaque, const void *fdt, int node, char *err, size_t errlen)
{
	return rtc_state_load(opaque, fdt, node, err, errlen);
}

static int rtc_vm_init(struct vm *vm)
{
	struct rtc *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	vm->rtc = r;
	vm_dev_state_register(vm, &(struct vm_dev_state){
		.name = "rtc", .version = 1, .opaque = r,
		.save = rtc_save, .load = rtc_load,
	});
	return io_bus_register(&vm->pio, RTC_INDEX, 2, rtc_access, r, "rtc");
}

static void rtc_vm_exit(struct vm *vm)
{
	free(vm->rtc);
	vm->rtc = NULL;
}

VM_INIT(rtc_vm_init, rtc_vm_exit, VM_INIT_DEVICE);
