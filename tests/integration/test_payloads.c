// SPDX-License-Identifier: GPL-2.0
/*
 * Boot each freestanding payload (guest/payload/) under KVM with
 * build/vlab and check its exit status and console. These are the first
 * tests that run guest code for real: PVH entry, long mode, the CPL3
 * test body, port I/O exits, the exit port and the exception path.
 */
#include <check.h>

#include "check_main.h"
#include "vlab_run.h"

#define RUN_TIMEOUT	60	/* seconds; vlab is killed after this */

struct payload_case {
	const char *name;
	const char *mem;
	const char *cmdline;		/* NULL: vlab's default */
	int status;
	const char *const expect[8];	/* console substrings, NULL-ended */
};

/*
 * Boot build/payloads/<name>.elf and compare. Returns true on a match;
 * on a mismatch, says what differed and dumps the run for the log.
 */
static bool run_payload(const struct payload_case *c, struct vlab_result *r)
{
	char kernel[PATH_MAX], rel[64];
	const char *args[12];
	bool ok = true;
	int n = 0, i;

	snprintf(rel, sizeof(rel), "payloads/%s.elf", c->name);
	vlab_build_path(kernel, sizeof(kernel), rel);
	ck_assert_msg(!access(kernel, R_OK), "%s: %s (run make payloads)",
		      kernel, strerror(errno));

	args[n++] = "--kernel";
	args[n++] = kernel;
	args[n++] = "--mem";
	args[n++] = c->mem;
	if (c->cmdline) {
		args[n++] = "--cmdline";
		args[n++] = c->cmdline;
	}
	args[n] = NULL;

	ck_assert_msg(!vlab_run(r, RUN_TIMEOUT, args), "%s: cannot run vlab",
		      c->name);
	if (r->timed_out) {
		fprintf(stderr, "%s: killed after %d s\n", c->name, RUN_TIMEOUT);
		ok = false;
	} else if (r->status != c->status) {
		fprintf(stderr, "%s: exit status %d, want %d\n", c->name,
			r->status, c->status);
		ok = false;
	}
	for (i = 0; c->expect[i]; i++) {
		if (!strstr(r->console, c->expect[i])) {
			fprintf(stderr, "%s: console lacks \"%s\"\n", c->name,
				c->expect[i]);
			ok = false;
		}
	}
	if (!ok)
		vlab_result_dump(r, c->name);
	return ok;
}

static void check_payload(const struct payload_case *c)
{
	struct vlab_result r;
	bool ok = run_payload(c, &r);

	vlab_console_echo(&r, c->name);
	vlab_console_echo(&r, "payload: ");
	printf("%s: vlab ran %.2f s\n", c->name, r.seconds);
	vlab_result_free(&r);
	ck_assert_msg(ok, "payload %s: see the log above", c->name);
}

START_TEST(test_hello)
{
	static const struct payload_case c = {
		.name = "hello",
		.mem = "64M",
		.cmdline = "console=ttyS0 probe=0x2a",
		.status = 0,
		.expect = {
			"hello from CPL3",
			"cpl 3 ",
			"cmdline \"console=ttyS0 probe=0x2a",
			"hello: arg probe=0x2a (42)",
			"payload: hello ok",
		},
	};

	VLAB_SKIP_UNLESS_RUNNABLE();
	check_payload(&c);
}
END_TEST

START_TEST(test_memwrite)
{
	static const struct payload_case c = {
		.name = "memwrite",
		.mem = "512M",
		.cmdline = "seed=0x1234abcd passes=2",
		.status = 0,
		.expect = {
			"memwrite: seed 0x1234abcd, 2 passes",
			"memwrite: pass 1: wrote ",
			"memwrite: pass 2: wrote ",
			"memwrite: pass 2: verified ",
			"payload: memwrite ok",
		},
	};
	struct vlab_result r;
	unsigned long mib = 0;
	const char *p;
	bool ok;

	VLAB_SKIP_UNLESS_RUNNABLE();
	ok = run_payload(&c, &r);
	vlab_console_echo(&r, "memwrite");
	vlab_console_echo(&r, "payload: ");
	printf("memwrite: vlab ran %.2f s\n", r.seconds);
	p = strstr(r.console, "pass 2: verified ");
	if (p)
		sscanf(p, "pass 2: verified %lu MiB", &mib);
	vlab_result_free(&r);
	ck_assert_msg(ok, "payload memwrite: see the log above");
	/* All of 512 MiB but the first 2 MiB, less whatever the VMM reserves. */
	ck_assert_msg(mib >= 480 && mib <= 510,
		      "memwrite covered %lu MiB of 512 MiB", mib);
}
END_TEST

START_TEST(test_fault)
{
	/* 0x80 | 14: the #PF handler's exit status. */
	static const struct payload_case c = {
		.name = "fault",
		.mem = "64M",
		.status = 0x80 | 14,
		.expect = {
			"fault: reading 0x400001234",
			"payload: fault trap #PF (vector 14) error 0x4 ",
			"cr2 0x400001234",
			"cs 0x23",
			"payload: fault exit 0x8e",
		},
	};

	VLAB_SKIP_UNLESS_RUNNABLE();
	check_payload(&c);
}
END_TEST

static Suite *payloads_suite(void)
{
	Suite *s = suite_create("payloads");
	TCase *tc = tcase_create("boot");

	/* Each run has its own 60 s deadline; leave Check room above it. */
	tcase_set_timeout(tc, RUN_TIMEOUT + 30);
	tcase_add_test(tc, test_hello);
	tcase_add_test(tc, test_memwrite);
	tcase_add_test(tc, test_fault);
	suite_add_tcase(s, tc);
	return s;
}

VLAB_TEST_MAIN(payloads_suite)
