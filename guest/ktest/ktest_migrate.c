// SPDX-License-Identifier: GPL-2.0
/*
 * A test that is still running while the VMM migrates the guest: with
 * vlab_ktest.hold_s=N it fills a buffer, announces "holding" on the
 * console (the host starts the migration when it sees that), keeps
 * sleeping and re-checking for N seconds, and passes if memory, timers
 * and interrupts all carried on. The rest of the TAP then comes from the
 * destination.
 */
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "vlab_ktest.h"

#define HOLD_BYTES	(4 << 20)

static u64 hold_pattern(size_t i)
{
	return (u64)i * 0x9e3779b97f4a7c15ULL ^ 0x766c6162;
}

static enum vlab_ktest_result migration_hold(struct vlab_ktest *t)
{
	unsigned long start, end;
	size_t i, n = HOLD_BYTES / sizeof(u64);
	u64 *buf;
	bool ok = true;

	if (!t->hold_s)
		return vlab_ktest_skip(t, "vlab_ktest.hold_s not given");
	buf = vmalloc(HOLD_BYTES);
	if (!buf)
		return vlab_ktest_fail(t, "no memory");
	for (i = 0; i < n; i++)
		buf[i] = hold_pattern(i);
	vlab_ktest_diag(t, "holding %u s", t->hold_s);
	start = jiffies;
	end = start + t->hold_s * HZ;
	while (time_before(jiffies, end)) {
		msleep(100);
		/* Touch a slice each time so the pre-copy has pages to chase. */
		for (i = (jiffies * 4096) % n; i < n; i += 4096)
			buf[i] = hold_pattern(i);
	}
	for (i = 0; i < n; i++)
		if (buf[i] != hold_pattern(i)) {
			ok = false;
			break;
		}
	vfree(buf);
	vlab_ktest_diag(t, "held for %u ms", jiffies_to_msecs(jiffies - start));
	if (!ok)
		return vlab_ktest_fail(t, "buffer word %zu changed", i);
	return VLAB_KTEST_PASS;
}

static const struct vlab_ktest_case migrate_cases[] = {
	{ "migration_hold", migration_hold },
};

VLAB_KTEST_SUITE(ktest_migrate, migrate_cases);
