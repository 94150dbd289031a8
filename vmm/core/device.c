// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>

#include "vmm/core/device.h"

static struct device_kind *kinds;

void device_kind_register(struct device_kind *kind)
{
	struct device_kind **p;

	/* A kind whose config does not fit is a build mistake: say so at once. */
	if (kind->config_size > DEVICE_CONFIG_MAX) {
		fprintf(stderr, "vlab: device kind --%s: config of %zu bytes, at most %d\n",
			kind->option, kind->config_size, DEVICE_CONFIG_MAX);
		abort();
	}
	for (p = &kinds; *p; p = &(*p)->next)
		;
	kind->next = NULL;
	*p = kind;
}

const struct device_kind *device_kinds(void)
{
	return kinds;
}
