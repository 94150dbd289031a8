// SPDX-License-Identifier: GPL-2.0
/*
 * The dirty log and its sources on a real KVM VM (created, never run):
 * device writes through the memory views, a source a device registers
 * (its pages show up, migration code untouched), and a source that fails
 * to start stops the ones already started.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "integration/vlab_run.h"
#include "vmm/core/config.h"
#include "vmm/core/vm.h"
#include "vmm/migrate/dirty.h"

static struct vm vm;
static struct vm_config cfg;
static bool created;

static void vm_up(void)
{
	char kernel[PATH_MAX], err[256];
	char *argv[] = { "run", "--kernel", kernel, "--mem", "64M", "--console", "none", NULL };

	vlab_build_path(kernel, sizeof(kernel), "payloads/hello.elf");
	ck_assert_msg(!access(kernel, R_OK), "%s (run make payloads)", kernel);
	memset(&cfg, 0, sizeof(cfg));
	ck_assert_msg(!cli_parse_run(7, argv, &cfg, err, sizeof(err)), "cli: %s", err);
	ck_assert_msg(!vm_create(&vm, &cfg, err, sizeof(err)), "vm_create: %s", err);
	created = true;
}

static void teardown(void)
{
	if (created)
		vm_destroy(&vm);
	created = false;
}

static bool bit(const struct dirty_log *dl, uint64_t page)
{
	return dl->bm[page / (8 * sizeof(long))] >> (page % (8 * sizeof(long))) & 1;
}

static uint64_t count(const struct dirty_log *dl)
{
	uint64_t n = 0, w;

	for (w = 0; w < dl->words; w++)
		n += __builtin_popcountl(dl->bm[w]);
	return n;
}

/* A device that writes guest RAM its own way and says which page. */
struct fake_writer {
	struct dirty_source src;
	int fail_start;
	int started, stopped;
	uint64_t page;		/* reported at the next collect, if != 0 */
};

/* Starts that wait for each other (meet > 0): they can only both return 0 side by side. */
static int meet_arrived, meet_wanted;

static int fw_start(void *opaque)
{
	struct fake_writer *f = opaque;
	double deadline = vlab__now() + 10;

	if (meet_wanted) {
		__atomic_add_fetch(&meet_arrived, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&meet_arrived, __ATOMIC_SEQ_CST) < meet_wanted)
			if (vlab__now() > deadline)
				return -ETIMEDOUT;
	}
	if (f->fail_start)
		return f->fail_start;
	f->started++;
	return 0;
}

static int fw_collect(void *opaque, unsigned long *bm)
{
	struct fake_writer *f = opaque;

	if (f->page) {
		bm[f->page / (8 * sizeof(long))] |= 1UL << (f->page % (8 * sizeof(long)));
		f->page = 0;
	}
	return 0;
}

static void fw_stop(void *opaque)
{
	struct fake_writer *f = opaque;

	f->stopped++;
}

static void fw_init(struct fake_writer *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	f->src = (struct dirty_source){ .name = name, .start = fw_start, .collect = fw_collect,
					.stop = fw_stop, .opaque = f };
}

START_TEST(device_writes_and_registered_sources)
{
	struct dirty_log dl = { 0 };
	struct fake_writer w;
	uint8_t b = 1;

	VLAB_SKIP_UNLESS_RUNNABLE();
	vm_up();
	fw_init(&w, "fake");
	dirty_source_register(&vm, &w.src);
	guest_mem_write(&vm.mem, 5 * GM_PAGE_SIZE, &b, 1);	/* before: not logged */
	ck_assert_int_eq(dirty_log_start(&dl, &vm), 0);
	ck_assert_int_eq(w.started, 1);
	ck_assert_int_eq(dl.nr_src, 3);

	guest_mem_write(&vm.mem, 10 * GM_PAGE_SIZE + 7, &b, 1);
	w.page = 300;
	ck_assert_int_eq(dirty_log_sync(&dl), 0);
	ck_assert(bit(&dl, 10));
	ck_assert(bit(&dl, 300));
	ck_assert(!bit(&dl, 5));
	ck_assert_uint_eq(count(&dl), 2);
	/* Each sync holds only what was written since the one before. */
	ck_assert_int_eq(dirty_log_sync(&dl), 0);
	ck_assert_uint_eq(count(&dl), 0);

	dirty_log_stop(&dl);
	ck_assert_int_eq(w.stopped, 1);
	ck_assert_ptr_null(dl.bm);
	dirty_source_unregister(&vm, &w.src);
	ck_assert_ptr_null(vm.dirty_sources);
}
END_TEST

START_TEST(failed_start_stops_the_started)
{
	struct dirty_log dl = { 0 };
	struct fake_writer ok, bad;

	VLAB_SKIP_UNLESS_RUNNABLE();
	vm_up();
	fw_init(&ok, "ok");
	fw_init(&bad, "bad");
	bad.fail_start = -EIO;
	/* Newest first: ok starts, then bad fails. */
	dirty_source_register(&vm, &bad.src);
	dirty_source_register(&vm, &ok.src);
	ck_assert_int_eq(dirty_log_start(&dl, &vm), -EIO);
	ck_assert_int_eq(ok.started, 1);
	ck_assert_int_eq(ok.stopped, 1);
	ck_assert_int_eq(bad.stopped, 0);
	ck_assert_ptr_null(dl.bm);
	ck_assert(!dl.logging);
	/* And the log can start again once the source is gone. */
	dirty_source_unregister(&vm, &bad.src);
	ck_assert_int_eq(dirty_log_start(&dl, &vm), 0);
	ck_assert_int_eq(ok.started, 2);
	dirty_log_stop(&dl);
	ck_assert_int_eq(ok.stopped, 2);
	dirty_source_unregister(&vm, &ok.src);
}
END_TEST

/*
 * The devices' sources start side by side (each waits here for the other
 * two: in turn, the first would give up after 10 s), and of three with
 * the middle one failing, the other two are stopped and it is not.
 */
START_TEST(sources_start_together)
{
	struct dirty_log dl = { 0 };
	struct fake_writer a, b, c;

	VLAB_SKIP_UNLESS_RUNNABLE();
	vm_up();
	fw_init(&a, "a");
	fw_init(&b, "b");
	fw_init(&c, "c");
	dirty_source_register(&vm, &a.src);
	dirty_source_register(&vm, &b.src);
	dirty_source_register(&vm, &c.src);
	meet_arrived = 0;
	meet_wanted = 3;
	ck_assert_int_eq(dirty_log_start(&dl, &vm), 0);
	ck_assert_int_eq(a.started + b.started + c.started, 3);
	ck_assert_int_eq(dl.nr_src, 5);
	dirty_log_stop(&dl);

	b.fail_start = -EIO;
	meet_arrived = 0;
	ck_assert_int_eq(dirty_log_start(&dl, &vm), -EIO);
	meet_wanted = 0;
	ck_assert_int_eq(a.started, 2);
	ck_assert_int_eq(c.started, 2);
	ck_assert_int_eq(a.stopped, 2);
	ck_assert_int_eq(c.stopped, 2);
	ck_assert_int_eq(b.stopped, 1);
	ck_assert(!dl.logging);
	dirty_source_unregister(&vm, &a.src);
	dirty_source_unregister(&vm, &b.src);
	dirty_source_unregister(&vm, &c.src);
}
END_TEST

VLAB_SUITE_MAIN("dirty", "log", NULL, teardown, 60,
	device_writes_and_registered_sources, failed_start_stops_the_started,
	sources_start_together);
