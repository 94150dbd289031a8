// SPDX-License-Identifier: GPL-2.0
/*
 * vlab in-kernel tests: what the VMM hands every guest (CPUs, memory,
 * timer interrupts, PCI) and a basic allocator smoke test.
 */

#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "vlab_ktest.h"

static enum vlab_ktest_result online_cpus(struct vlab_ktest *t)
{
	unsigned int online = num_online_cpus();

	if (!t->cpus)
		return vlab_ktest_skip(t, "vlab_ktest.cpus not given");
	if (online != t->cpus)
		return vlab_ktest_fail(t, "%u CPUs online, expected %u",
				       online, t->cpus);
	return VLAB_KTEST_PASS;
}

/*
 * totalram_pages() leaves out what the kernel reserved for itself (image,
 * memmap, low 1 MiB), a few percent on a small guest; 10% is the slack.
 */
static enum vlab_ktest_result memory_size(struct vlab_ktest *t)
{
	unsigned long got = totalram_pages() >> (20 - PAGE_SHIFT);
	unsigned long want = t->mem_mb;

	if (!want)
		return vlab_ktest_skip(t, "vlab_ktest.mem_mb not given");
	vlab_ktest_diag(t, "totalram %lu MiB, guest memory %lu MiB",
			got, want);
	if (got * 10 < want * 9 || got * 10 > want * 11)
		return vlab_ktest_fail(t, "totalram %lu MiB, not within 10%% of %lu MiB",
				       got, want);
	return VLAB_KTEST_PASS;
}

/*
 * Timer interrupts arrive: jiffies must move within 2 s. The wait is a
 * bounded udelay() loop rather than a sleep, which would never return if
 * the tick is dead. Short steps keep it quick even when loops_per_jiffy
 * is far too high for an emulated CPU (an lpj= from the command line).
 */
static enum vlab_ktest_result jiffies_advance(struct vlab_ktest *t)
{
	const unsigned int step_us = 100, max_us = 2 * USEC_PER_SEC;
	unsigned long j0 = jiffies;
	u64 t0 = ktime_get_ns();
	unsigned int us;

	for (us = 0; us < max_us && !time_after(jiffies, j0); us += step_us)
		udelay(step_us);

	if (!time_after(jiffies, j0))
		return vlab_ktest_fail(t, "jiffies stuck at %lu for %u us of udelay",
				       j0, us);
	vlab_ktest_diag(t, "jiffies moved after %u us of udelay, %llu us of ktime",
			us, (ktime_get_ns() - t0) / NSEC_PER_USEC);
	return VLAB_KTEST_PASS;
}

static enum vlab_ktest_result kmalloc_smoke(struct vlab_ktest *t)
{
	const size_t len = 4096;
	enum vlab_ktest_result res = VLAB_KTEST_PASS;
	u8 *a, *b;
	size_t i;

	a = kmalloc(len, GFP_KERNEL);
	b = kmalloc(len, GFP_KERNEL);
	if (!a || !b) {
		res = vlab_ktest_fail(t, "kmalloc(%zu) failed", len);
		goto out;
	}

	memset(a, 0x5a, len);
	for (i = 0; i < len; i++)
		b[i] = 0x5a;
	if (memcmp(a, b, len)) {
		res = vlab_ktest_fail(t, "memset and byte loop differ");
		goto out;
	}

	b[len - 1] ^= 0xff;
	if (!memcmp(a, b, len))
		res = vlab_ktest_fail(t, "memcmp missed a changed last byte");
out:
	kfree(b);
	kfree(a);
	return res;
}

#ifdef CONFIG_PCI
static enum vlab_ktest_result pci_root_bus(struct vlab_ktest *t)
{
	struct pci_dev *dev = NULL;

	if (!pci_find_bus(0, 0))
		return vlab_ktest_fail(t, "no PCI bus 0000:00");

	/* The device list helps whoever debugs the VMM's PCI model. */
	for_each_pci_dev(dev)
		vlab_ktest_diag(t, "pci %s %04x:%04x class %06x",
				pci_name(dev), dev->vendor, dev->device,
				dev->class);
	return VLAB_KTEST_PASS;
}

/* vlab's pvpanic-pci function is there and its driver took it. */
static enum vlab_ktest_result pvpanic_bound(struct vlab_ktest *t)
{
	struct pci_dev *dev = pci_get_device(0x1b36, 0x0011, NULL);
	enum vlab_ktest_result res = VLAB_KTEST_PASS;

	if (!dev)
		return vlab_ktest_fail(t, "no pvpanic PCI function 1b36:0011");
	if (!dev->dev.driver)
		res = vlab_ktest_fail(t, "pvpanic %s has no driver (CONFIG_PVPANIC_PCI?)",
				      pci_name(dev));
	else
		vlab_ktest_diag(t, "pvpanic %s bound to %s", pci_name(dev),
				dev->dev.driver->name);
	pci_dev_put(dev);
	return res;
}
#else
static enum vlab_ktest_result pci_root_bus(struct vlab_ktest *t)
{
	return vlab_ktest_skip(t, "CONFIG_PCI is off");
}

static enum vlab_ktest_result pvpanic_bound(struct vlab_ktest *t)
{
	return vlab_ktest_skip(t, "CONFIG_PCI is off");
}
#endif

static const struct vlab_ktest_case basic_cases[] = {
	{ "online_cpus", online_cpus },
	{ "memory_size", memory_size },
	{ "jiffies_advance", jiffies_advance },
	{ "kmalloc_smoke", kmalloc_smoke },
	{ "pci_root_bus", pci_root_bus },
	{ "pvpanic_bound", pvpanic_bound },
};

VLAB_KTEST_SUITE(ktest_basic, basic_cases);
