// SPDX-License-Identifier: GPL-2.0
/*
 * vlab in-kernel tests: the runner.
 *
 * Booted with vlab_ktest.run=1, the kernel runs every suite from a late
 * initcall, prints TAP version 13 on the console:
 *
 *	TAP version 13
 *	1..N
 *	ok 1 - name
 *	not ok 2 - name # reason
 *	ok 3 - name # SKIP reason
 *	# vlab_ktest: N passed, M failed
 *
 * and then resets the machine (reboot=k on the command line makes that an
 * i8042 reset), so the VMM exits and the host judges the TAP. Nothing
 * here needs user space, which cannot make system calls on the emulating
 * kvm_pvm hosts.
 */

#include <linux/init.h>
#include <linux/moduleparam.h>
#include <linux/panic.h>
#include <linux/printk.h>
#include <linux/reboot.h>
#include <linux/stdarg.h>

#include "vlab_ktest.h"

static bool run;
module_param(run, bool, 0444);
MODULE_PARM_DESC(run, "Run the vlab tests at boot");

static bool reboot = true;
module_param(reboot, bool, 0444);
MODULE_PARM_DESC(reboot, "Reset the machine once the tests are done");

static unsigned int cpus;
module_param(cpus, uint, 0444);
MODULE_PARM_DESC(cpus, "Expected number of online CPUs (0: skip)");

static unsigned int mem_mb;
module_param(mem_mb, uint, 0444);
MODULE_PARM_DESC(mem_mb, "Guest memory size in MiB (0: skip)");

static char *net_peer = "";
module_param(net_peer, charp, 0444);
MODULE_PARM_DESC(net_peer, "MAC of another guest on the same hub to exchange frames with");

static bool panic_after;
module_param_named(panic, panic_after, bool, 0444);
MODULE_PARM_DESC(panic, "Panic once the tests are done (proves pvpanic ends the VMM)");

static unsigned int hold_s;
module_param(hold_s, uint, 0444);
MODULE_PARM_DESC(hold_s, "Seconds the migration test keeps running (0: skip)");

static unsigned int net_hold_s;
module_param(net_hold_s, uint, 0444);
MODULE_PARM_DESC(net_hold_s, "Seconds the NIC settings test keeps traffic up for a migration (0: skip)");

static bool rdma_listen;
module_param(rdma_listen, bool, 0444);
MODULE_PARM_DESC(rdma_listen, "Be the rdma_cm server of the RDMA tests");

static char *rdma_connect = "";
module_param(rdma_connect, charp, 0444);
MODULE_PARM_DESC(rdma_connect, "IPv4 address of the rdma_cm server to connect to");

static unsigned int rdma_hold_s;
module_param(rdma_hold_s, uint, 0444);
MODULE_PARM_DESC(rdma_hold_s, "Seconds the RDMA test keeps transferring for a migration (0: skip)");

static const struct vlab_ktest_suite *const vlab_ktest_suites[] = {
	&ktest_basic,
	&ktest_net,
	&ktest_migrate,
	&ktest_rdma,
};

static __printf(3, 0)
enum vlab_ktest_result vlab_ktest_vreason(struct vlab_ktest *t,
					  enum vlab_ktest_result res,
					  const char *fmt, va_list ap)
{
	vsnprintf(t->reason, sizeof(t->reason), fmt, ap);
	return res;
}

enum vlab_ktest_result vlab_ktest_fail(struct vlab_ktest *t,
				       const char *fmt, ...)
{
	enum vlab_ktest_result res;
	va_list ap;

	va_start(ap, fmt);
	res = vlab_ktest_vreason(t, VLAB_KTEST_FAIL, fmt, ap);
	va_end(ap);
	return res;
}

enum vlab_ktest_result vlab_ktest_skip(struct vlab_ktest *t,
				       const char *fmt, ...)
{
	enum vlab_ktest_result res;
	va_list ap;

	va_start(ap, fmt);
	res = vlab_ktest_vreason(t, VLAB_KTEST_SKIP, fmt, ap);
	va_end(ap);
	return res;
}

void vlab_ktest_diag(struct vlab_ktest *t, const char *fmt, ...)
{
	struct va_format vaf;
	va_list ap;

	va_start(ap, fmt);
	vaf.fmt = fmt;
	vaf.va = &ap;
	pr_info("# %pV\n", &vaf);
	va_end(ap);
}

static int __init vlab_ktest_init(void)
{
	unsigned int i, j, n = 0, total = 0, passed = 0, failed = 0;
	unsigned int skipped = 0;
	struct vlab_ktest t = {
		.cpus = cpus,
		.mem_mb = mem_mb,
		.net_peer = net_peer,
		.hold_s = hold_s,
		.net_hold_s = net_hold_s,
		.rdma_listen = rdma_listen,
		.rdma_connect = rdma_connect,
		.rdma_hold_s = rdma_hold_s,
	};

	if (!run)
		return 0;

	for (i = 0; i < ARRAY_SIZE(vlab_ktest_suites); i++)
		total += vlab_ktest_suites[i]->count;

	pr_info("TAP version 13\n");
	pr_info("1..%u\n", total);

	for (i = 0; i < ARRAY_SIZE(vlab_ktest_suites); i++) {
		const struct vlab_ktest_suite *s = vlab_ktest_suites[i];

		pr_info("# suite %s\n", s->name);
		for (j = 0; j < s->count; j++) {
			const struct vlab_ktest_case *c = &s->cases[j];

			t.reason[0] = '\0';
			n++;
			switch (c->run(&t)) {
			case VLAB_KTEST_PASS:
				pr_info("ok %u - %s\n", n, c->name);
				passed++;
				break;
			case VLAB_KTEST_SKIP:
				pr_info("ok %u - %s # SKIP %s\n", n, c->name,
					t.reason);
				passed++;
				skipped++;
				break;
			default:
				pr_info("not ok %u - %s # %s\n", n, c->name,
					t.reason);
				failed++;
				break;
			}
		}
	}

	if (skipped)
		pr_info("# vlab_ktest: %u of the passed were skipped\n",
			skipped);
	pr_info("# vlab_ktest: %u passed, %u failed\n", passed, failed);

	if (panic_after)
		panic("vlab_ktest: panic requested with vlab_ktest.panic=1");
	if (reboot) {
		pr_info("# vlab_ktest: resetting the machine\n");
		kernel_restart(NULL);
	}
	return 0;
}
/* After ip_auto_config() (a late initcall): the RDMA tests need ip=. */
late_initcall_sync(vlab_ktest_init);
