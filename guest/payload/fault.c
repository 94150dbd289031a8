// SPDX-License-Identifier: GPL-2.0
/*
 * fault: reads an address just past the identity map, so the CPL3 access
 * takes a not-present #PF. The IDT handler reports it and exits with
 * 0x80 | 14; returning from payload_main() means no fault was raised.
 */
#include "payload.h"

PAYLOAD_NAME("fault");

#define FAULT_ADDR	(PAYLOAD_MAPPED_LIMIT + 0x1234)

int payload_main(void)
{
	volatile uint64_t *p = (volatile uint64_t *)FAULT_ADDR;
	uint64_t v;

	printf("fault: reading 0x%lx, past the identity map; expect #PF\n",
	       (uint64_t)FAULT_ADDR);
	v = *p;
	printf("fault: read 0x%lx without a fault\n", v);
	return 1;
}
