// SPDX-License-Identifier: GPL-2.0
/*
 * Save and restore everything KVM holds for a running VM, in-process and
 * without the migration machinery: a memwrite payload runs, the VM is
 * paused mid-run and its KVM state saved; then
 *  - the state is loaded back into the same VM over clobbered registers,
 *    and the payload must carry on as if nothing happened;
 *  - the state and a plain copy of guest RAM go into a second VM created
 *    from the same configuration, which must finish the payload: its
 *    final "verified ... memwrite ok" proves RAM and CPU state both made it.
 * Also prints how long save and restore take, and the blob size.
 */
#include <check.h>
#include <libfdt.h>
#include <poll.h>
#include <sys/ioctl.h>

#include "check_main.h"
#include "vlab_run.h"

#include "devices/legacy/uart8250.h"
#include "vmm/core/config.h"
#include "vmm/x86/cpu_state.h"
#include "vmm/migrate/state.h"
#include "vmm/core/vm.h"

#define PASSES		40	/* memwrite passes: a few seconds in all */
#define RUN_TIMEOUT	60.0
#define CONSOLE_MAX	(256 * 1024)
#define BENCH_ROUNDS	50

struct tvm {
	struct vm_config cfg;
	struct vm vm;
	bool created;
	char kernel[PATH_MAX];
	char cpus[8];
	char cmdline[64];
	char console[CONSOLE_MAX];
	size_t con_len;
};

/*
 * devices/legacy/test_exit.c registers port 0x501 from a constructor, and a
 * static library only contributes objects whose symbols are referenced:
 * a test binary linked against libvlab.a does not get it. Stand in for
 * it (and step aside if it is there after all).
 */
static void tvm_exit_port(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	uint32_t v = 0;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	memcpy(&v, data, len < 4 ? len : 4);
	vm_stop(opaque, VM_STOP_TEST_EXIT, v & 0xff);
}

static struct tvm *tvm_new(const char *payload, const char *mem, int cpus, int passes)
{
	struct tvm *t = calloc(1, sizeof(*t));
	char rel[64], err[256];
	char *argv[16];
	int argc = 0, ret;

	ck_assert_ptr_nonnull(t);
	snprintf(rel, sizeof(rel), "payloads/%s.elf", payload);
	vlab_build_path(t->kernel, sizeof(t->kernel), rel);
	ck_assert_msg(!access(t->kernel, R_OK), "%s: %s (run make payloads)", t->kernel,
		      strerror(errno));
	snprintf(t->cpus, sizeof(t->cpus), "%d", cpus);
	snprintf(t->cmdline, sizeof(t->cmdline), "passes=%d", passes);
	argv[argc++] = "run";
	argv[argc++] = "--kernel";
	argv[argc++] = t->kernel;
	argv[argc++] = "--mem";
	argv[argc++] = (char *)mem;
	argv[argc++] = "--cpus";
	argv[argc++] = t->cpus;
	argv[argc++] = "--cmdline";
	argv[argc++] = t->cmdline;
	argv[argc++] = "--console";
	argv[argc++] = "none";
	argv[argc] = NULL;
	ck_assert_msg(!cli_parse_run(argc, argv, &t->cfg, err, sizeof(err)), "cli: %s", err);
	ck_assert_msg(!vm_create(&t->vm, &t->cfg, err, sizeof(err)), "vm_create: %s", err);
	t->created = true;
	ret = io_bus_register(&t->vm.pio, 0x501, 4, tvm_exit_port, &t->vm, "test-exit");
	ck_assert_msg(!ret || ret == -EBUSY, "port 0x501: %s", strerror(-ret));
	return t;
}

static void tvm_free(struct tvm *t)
{
	if (t->created) {
		vm_stop(&t->vm, VM_STOP_USER, 0);
		vm_join(&t->vm);
		vm_destroy(&t->vm);
	}
	free(t);
}

/* Move the guest's console output out of the UART ring into t->console. */
static void tvm_drain(struct tvm *t)
{
	int n;

	while (t->con_len < CONSOLE_MAX - 1 &&
	       (n = uart8250_take_output(t->vm.uart, (uint8_t *)t->console + t->con_len,
					 CONSOLE_MAX - 1 - t->con_len)) > 0)
		t->con_len += n;
	t->console[t->con_len] = '\0';
}

static bool tvm_stopped(struct tvm *t)
{
	return __atomic_load_n(&t->vm.stop_reason, __ATOMIC_ACQUIRE) != VM_RUNNING;
}

/* Wait until the console shows @needle; false on a stop or timeout. */
static bool tvm_wait_console(struct tvm *t, const char *needle, double timeout)
{
	double end = vlab__now() + timeout;

	for (;;) {
		tvm_drain(t);
		if (strstr(t->console, needle))
			return true;
		if (tvm_stopped(t) || vlab__now() > end)
			return false;
		usleep(2000);
	}
}

/* Wait for the VM to stop by itself, then join its vCPUs. */
static bool tvm_wait_stop(struct tvm *t, double timeout)
{
	struct pollfd p = { .fd = t->vm.stop_fd, .events = POLLIN };
	double end = vlab__now() + timeout;

	while (!tvm_stopped(t) && vlab__now() < end) {
		poll(&p, 1, 20);
		tvm_drain(t);
	}
	if (!tvm_stopped(t))
		return false;
	vm_join(&t->vm);
	tvm_drain(t);
	return true;
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* Highest N in "memwrite: pass N: wrote" lines. */
static int last_pass(const char *con)
{
	const char *p = con;
	int last = 0;

	while ((p = strstr(p, "memwrite: pass "))) {
		char *end;
		long n = strtol(p + 15, &end, 10);

		if (!strncmp(end, ": wrote", 7) && n > last)
			last = n;
		p += 15;
	}
	return last;
}

/*
 * The payload times each pass with RDTSC. A TSC that jumped backwards
 * across the restore shows as an absurd duration (the delta wraps).
 */
static void assert_sane_pass_times(const char *con)
{
	const char *p = con;
	unsigned long ms;

	while ((p = strstr(p, " MiB in "))) {
		if (sscanf(p, " MiB in %lu ms", &ms) == 1)
			ck_assert_msg(ms < 60000, "a pass took %lu ms: TSC went backwards?\n%s",
				      ms, con);
		p += 8;
	}
}

static double now_us(void)
{
	return vlab__now() * 1e6;
}

static struct state_buf save_all(struct vm *vm, double *us)
{
	struct state_buf sb;
	double t0 = now_us();

	ck_assert_int_eq(state_buf_init(&sb), 0);
	vm_kvm_state_save(vm, &sb);
	ck_assert_msg(!state_buf_finish(&sb), "save: %s", state_buf_strerror(&sb));
	if (us)
		*us = now_us() - t0;
	return sb;
}

static void load_all(struct vm *vm, const struct state_buf *sb, double *us)
{
	char err[256];
	double t0 = now_us();

	ck_assert_msg(!state_check(state_blob(sb), state_blob_size(sb), err, sizeof(err)),
		      "check: %s", err);
	ck_assert_msg(!vm_kvm_state_load(vm, state_blob(sb), err, sizeof(err)),
		      "load: %s", err);
	if (us)
		*us = now_us() - t0;
}

/* Property @name of cpu@0/@sub in both blobs must be identical. */
static void assert_same_prop(const void *a, const void *b, const char *path,
			     const char *name)
{
	int na = fdt_path_offset(a, path), nb = fdt_path_offset(b, path), la, lb;
	const void *pa, *pb;

	ck_assert_msg(na >= 0 && nb >= 0, "%s missing", path);
	pa = fdt_getprop(a, na, name, &la);
	pb = fdt_getprop(b, nb, name, &lb);
	ck_assert_msg(pa && pb, "%s:%s missing", path, name);
	ck_assert_msg(la == lb && !memcmp(pa, pb, la), "%s:%s differs after the round trip",
		      path, name);
}

/* Every property of @path (and its children) identical, bar @skip. */
static void assert_same_node(const void *a, const void *b, const char *path,
			     const char *skip)
{
	int na = fdt_path_offset(a, path), prop, child;

	ck_assert_msg(na >= 0, "%s missing", path);
	fdt_for_each_property_offset(prop, a, na) {
		const char *name;

		fdt_getprop_by_offset(a, prop, &name, NULL);
		if (skip && !strcmp(name, skip))
			continue;
		assert_same_prop(a, b, path, name);
	}
	fdt_for_each_subnode(child, a, na) {
		char sub[256];

		snprintf(sub, sizeof(sub), "%s/%s", path, fdt_get_name(a, child, NULL));
		assert_same_node(a, b, sub, skip);
	}
}

static void print_msr_report(const void *fdt)
{
	int node = fdt_path_offset(fdt, "/kvm/cpu@0/msrs"), prop, n = 0, len, i;
	const fdt32_t *refused;

	fdt_for_each_property_offset(prop, fdt, node)
		n++;
	refused = fdt_getprop(fdt, node, "refused", &len);
	printf("cpu_state: %d MSRs saved per vCPU", n - 1 - !!refused);
	if (refused) {
		printf("; KVM_GET_MSRS refused");
		for (i = 0; i < len / 4; i++)
			printf(" 0x%08x", fdt32_to_cpu(refused[i]));
	}
	printf("\n");
}

START_TEST(restore_same_vm)
{
	struct tvm *t;
	struct state_buf a, b;
	int before;

	VLAB_SKIP_UNLESS_RUNNABLE();
	t = tvm_new("memwrite", "64M", 1, PASSES);
	ck_assert_int_eq(vm_start(&t->vm), 0);
	ck_assert_msg(tvm_wait_console(t, "memwrite: pass 2:", RUN_TIMEOUT),
		      "payload did not get going:\n%s", t->console);
	vm_pause(&t->vm);
	ck_assert(!tvm_stopped(t));
	a = save_all(&t->vm, NULL);

	/*
	 * Clobber the boot CPU: back to the payload's entry point. If the
	 * load did not restore everything, the payload would start over
	 * (a second banner) or crash.
	 */
	ck_assert_int_eq(vcpu_setup_boot(&t->vm.cpus[0], &t->vm.entry), 0);
	load_all(&t->vm, &a, NULL);

	/* What was saved is what KVM now holds (the TSC has moved on). */
	b = save_all(&t->vm, NULL);
	assert_same_node(state_blob(&a), state_blob(&b), "/kvm/cpu@0/regs", NULL);
	assert_same_node(state_blob(&a), state_blob(&b), "/kvm/cpu@0/sregs", NULL);
	assert_same_node(state_blob(&a), state_blob(&b), "/kvm/cpu@0/events", NULL);
	assert_same_node(state_blob(&a), state_blob(&b), "/kvm/irqchip", NULL);
	assert_same_prop(state_blob(&a), state_blob(&b), "/kvm/cpu@0", "mp-state");
	assert_same_prop(state_blob(&a), state_blob(&b), "/kvm/cpu@0", "lapic");
	if (state_has(state_blob(&a), fdt_path_offset(state_blob(&a), "/kvm/cpu@0"),
		      "xsave"))
		assert_same_prop(state_blob(&a), state_blob(&b), "/kvm/cpu@0", "xsave");
	else
		assert_same_node(state_blob(&a), state_blob(&b), "/kvm/cpu@0/fpu", NULL);
	assert_same_node(state_blob(&a), state_blob(&b), "/kvm/cpu@0/msrs", "0x00000010");
	state_buf_free(&b);

	before = last_pass(t->console);
	vm_resume(&t->vm);
	ck_assert_msg(tvm_wait_stop(t, RUN_TIMEOUT), "payload did not finish:\n%s",
		      t->console);
	ck_assert_msg(t->vm.stop_reason == VM_STOP_TEST_EXIT && t->vm.exit_code == 0,
		      "stop %d exit %d:\n%s", t->vm.stop_reason, t->vm.exit_code, t->console);
	ck_assert_msg(strstr(t->console, "payload: memwrite ok"), "%s", t->console);
	ck_assert_int_eq(count_of(t->console, "memwrite: seed"), 1);
	ck_assert_int_eq(last_pass(t->console), PASSES);
	ck_assert_int_lt(before, PASSES);
	assert_sane_pass_times(t->console);
	printf("cpu_state: same VM: paused after pass %d of %d, resumed and finished\n",
	       before, PASSES);
	state_buf_free(&a);
	tvm_free(t);
}
END_TEST

/*
 * A blob from a host without XSAVE carries an "fpu" node instead of the
 * "xsave" bytes. This host has XSAVE, so make such a blob by hand from
 * KVM_GET_FPU and check it loads (through the FXSAVE conversion) to the
 * same FPU state.
 */
static void *blob_with_fpu_node(const struct state_buf *sb, const struct kvm_fpu *fpu)
{
	int size = state_blob_size(sb) + 4096, cpu, node;
	void *fdt = malloc(size);
	fdt64_t v;

	ck_assert_int_eq(fdt_open_into(state_blob(sb), fdt, size), 0);
	cpu = fdt_path_offset(fdt, "/kvm/cpu@0");
	ck_assert_int_eq(fdt_delprop(fdt, cpu, "xsave"), 0);
	node = fdt_add_subnode(fdt, cpu, "fpu");
	ck_assert_int_ge(node, 0);
	ck_assert_int_eq(fdt_setprop_u32(fdt, node, "version", 1), 0);
	ck_assert_int_eq(fdt_setprop(fdt, node, "fpr", fpu->fpr, sizeof(fpu->fpr)), 0);
	ck_assert_int_eq(fdt_setprop_u32(fdt, node, "fcw", fpu->fcw), 0);
	ck_assert_int_eq(fdt_setprop_u32(fdt, node, "fsw", fpu->fsw), 0);
	ck_assert_int_eq(fdt_setprop_u32(fdt, node, "ftwx", fpu->ftwx), 0);
	ck_assert_int_eq(fdt_setprop_u32(fdt, node, "last-opcode", fpu->last_opcode), 0);
	v = cpu_to_fdt64(fpu->last_ip);
	ck_assert_int_eq(fdt_setprop(fdt, node, "last-ip", &v, sizeof(v)), 0);
	v = cpu_to_fdt64(fpu->last_dp);
	ck_assert_int_eq(fdt_setprop(fdt, node, "last-dp", &v, sizeof(v)), 0);
	ck_assert_int_eq(fdt_setprop(fdt, node, "xmm", fpu->xmm, sizeof(fpu->xmm)), 0);
	ck_assert_int_eq(fdt_setprop_u32(fdt, node, "mxcsr", fpu->mxcsr), 0);
	ck_assert_int_eq(fdt_pack(fdt), 0);
	return fdt;
}

START_TEST(restore_fpu_format)
{
	struct kvm_fpu fpu, junk, back;
	struct state_buf sb;
	struct tvm *t;
	char err[256];
	void *fdt;
	int fd;

	VLAB_SKIP_UNLESS_RUNNABLE();
	t = tvm_new("memwrite", "64M", 1, PASSES);
	fd = t->vm.cpus[0].fd;
	ck_assert_int_eq(vm_start(&t->vm), 0);
	ck_assert(tvm_wait_console(t, "memwrite: pass 2:", RUN_TIMEOUT));
	vm_pause(&t->vm);
	sb = save_all(&t->vm, NULL);
	ck_assert_int_eq(ioctl(fd, KVM_GET_FPU, &fpu), 0);
	fdt = blob_with_fpu_node(&sb, &fpu);
	ck_assert_int_eq(state_check(fdt, fdt_totalsize(fdt), err, sizeof(err)), 0);

	junk = fpu;
	junk.mxcsr = 0x1f80 ^ 0x6000;	/* another rounding mode */
	memset(junk.xmm, 0xa5, sizeof(junk.xmm));
	ck_assert_int_eq(ioctl(fd, KVM_SET_FPU, &junk), 0);
	ck_assert_msg(!vm_kvm_state_load(&t->vm, fdt, err, sizeof(err)), "%s", err);
	ck_assert_int_eq(ioctl(fd, KVM_GET_FPU, &back), 0);
	ck_assert_uint_eq(back.mxcsr, fpu.mxcsr);
	ck_assert_uint_eq(back.fcw, fpu.fcw);
	ck_assert_uint_eq(back.ftwx, fpu.ftwx);
	ck_assert_int_eq(memcmp(back.xmm, fpu.xmm, sizeof(fpu.xmm)), 0);
	ck_assert_int_eq(memcmp(back.fpr, fpu.fpr, sizeof(fpu.fpr)), 0);

	vm_resume(&t->vm);
	ck_assert_msg(tvm_wait_stop(t, RUN_TIMEOUT), "%s", t->console);
	ck_assert_msg(t->vm.exit_code == 0 && strstr(t->console, "payload: memwrite ok"),
		      "%s", t->console);
	free(fdt);
	state_buf_free(&sb);
	tvm_free(t);
}
END_TEST

static void bench(struct vm *vm, int cpus)
{
	double save_us[BENCH_ROUNDS], load_us[BENCH_ROUNDS], tmp;
	struct state_buf sb;
	size_t size = 0;
	int i, j;

	for (i = 0; i < BENCH_ROUNDS; i++) {
		sb = save_all(vm, &save_us[i]);
		size = state_blob_size(&sb);
		load_all(vm, &sb, &load_us[i]);
		state_buf_free(&sb);
	}
	for (i = 0; i < BENCH_ROUNDS; i++)
		for (j = i + 1; j < BENCH_ROUNDS; j++) {
			if (save_us[j] < save_us[i]) {
				tmp = save_us[i]; save_us[i] = save_us[j]; save_us[j] = tmp;
			}
			if (load_us[j] < load_us[i]) {
				tmp = load_us[i]; load_us[i] = load_us[j]; load_us[j] = tmp;
			}
		}
	printf("cpu_state: %d vCPU%s: blob %zu bytes; save min %.0f / median %.0f us; "
	       "restore min %.0f / median %.0f us (%d rounds)\n", cpus, cpus > 1 ? "s" : "",
	       size, save_us[0], save_us[BENCH_ROUNDS / 2], load_us[0],
	       load_us[BENCH_ROUNDS / 2], BENCH_ROUNDS);
}

static void migrate_to_second_vm(int cpus)
{
	struct tvm *src, *dst;
	struct state_buf sb;
	double save_us, load_us, copy_us, t0;
	int i, at;

	VLAB_SKIP_UNLESS_RUNNABLE();
	src = tvm_new("memwrite", "64M", cpus, PASSES);
	ck_assert_int_eq(vm_start(&src->vm), 0);
	ck_assert_msg(tvm_wait_console(src, "memwrite: pass 2:", RUN_TIMEOUT),
		      "payload did not get going:\n%s", src->console);
	/*
	 * At once: the switch lands in pass 3. A sleep here let a loaded
	 * machine oversleep past the last write pass (2 of 20 runs), leaving
	 * the destination only the verification to do.
	 */
	vm_pause(&src->vm);
	ck_assert_msg(!tvm_stopped(src), "payload finished before the switch:\n%s",
		      src->console);
	tvm_drain(src);
	at = last_pass(src->console);
	sb = save_all(&src->vm, &save_us);

	/* The destination: same configuration, memory copied over, state loaded. */
	dst = tvm_new("memwrite", "64M", cpus, PASSES);
	ck_assert_int_eq(dst->vm.mem.nr_regions, src->vm.mem.nr_regions);
	t0 = now_us();
	for (i = 0; i < src->vm.mem.nr_regions; i++) {
		ck_assert_uint_eq(dst->vm.mem.regions[i].size, src->vm.mem.regions[i].size);
		memcpy(dst->vm.mem.regions[i].host, src->vm.mem.regions[i].host,
		       src->vm.mem.regions[i].size);
	}
	copy_us = now_us() - t0;
	load_all(&dst->vm, &sb, &load_us);
	printf("cpu_state: %d vCPU%s: moved after pass %d of %d: save %.0f us, restore "
	       "%.0f us, blob %zu bytes (RAM copy %.0f us)\n", cpus, cpus > 1 ? "s" : "",
	       at, PASSES, save_us, load_us, state_blob_size(&sb), copy_us);
	if (cpus == 1)
		print_msr_report(state_blob(&sb));

	/* Only one of them may run the guest: the source goes first. */
	tvm_free(src);
	ck_assert_int_eq(vm_start(&dst->vm), 0);
	ck_assert_msg(tvm_wait_stop(dst, RUN_TIMEOUT), "destination did not finish:\n%s",
		      dst->console);
	ck_assert_msg(dst->vm.stop_reason == VM_STOP_TEST_EXIT && dst->vm.exit_code == 0,
		      "destination: stop %d exit %d:\n%s", dst->vm.stop_reason,
		      dst->vm.exit_code, dst->console);
	ck_assert_msg(strstr(dst->console, "memwrite: pass 40: verified 62 MiB"), "%s",
		      dst->console);
	ck_assert_msg(strstr(dst->console, "payload: memwrite ok"), "%s", dst->console);
	/* It carried on where the source stopped, not from the start. */
	ck_assert_msg(!strstr(dst->console, "memwrite: seed"), "%s", dst->console);
	ck_assert_int_eq(last_pass(dst->console), PASSES);
	assert_sane_pass_times(dst->console);
	state_buf_free(&sb);
	tvm_free(dst);
}

/*
 * A #PF KVM holds pending, not yet delivered, with its CR2 as a payload:
 * saved and restored exactly, without running the guest (deterministic;
 * restore_same_vm met this case only when the pause fell just so).
 */
START_TEST(pending_exception_round_trip)
{
	struct kvm_vcpu_events ev, got;
	struct state_buf a;
	struct tvm *t;
	int fd;

	VLAB_SKIP_UNLESS_RUNNABLE();
	t = tvm_new("memwrite", "64M", 1, PASSES);
	if (ioctl(t->vm.kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXCEPTION_PAYLOAD) <= 0) {
		tvm_free(t);
		printf("pending_exception_round_trip: KVM_CAP_EXCEPTION_PAYLOAD absent, skipped\n");
		return;
	}
	fd = t->vm.cpus[0].fd;
	ck_assert_int_eq(ioctl(fd, KVM_GET_VCPU_EVENTS, &ev), 0);
	ev.exception.pending = 1;
	ev.exception.injected = 0;
	ev.exception.nr = 14;
	ev.exception.has_error_code = 1;
	ev.exception.error_code = 6;		/* user write to a non-present page */
	ev.exception_has_payload = 1;
	ev.exception_payload = 0x7fff0123ULL;	/* the faulting address, for CR2 */
	ev.flags |= KVM_VCPUEVENT_VALID_PAYLOAD;
	ck_assert_msg(!ioctl(fd, KVM_SET_VCPU_EVENTS, &ev),
		      "KVM_SET_VCPU_EVENTS with a payload: %s (cap not enabled?)", strerror(errno));
	ck_assert(t->vm.exception_payload);
	a = save_all(&t->vm, NULL);

	/* Clear it, then restore: exactly the pending #PF and its payload again. */
	ev.exception.pending = 0;
	ev.exception_has_payload = 0;
	ev.exception_payload = 0;
	ck_assert_int_eq(ioctl(fd, KVM_SET_VCPU_EVENTS, &ev), 0);
	load_all(&t->vm, &a, NULL);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(ioctl(fd, KVM_GET_VCPU_EVENTS, &got), 0);
	ck_assert_uint_eq(got.exception.pending, 1);
	ck_assert_uint_eq(got.exception.injected, 0);
	ck_assert_uint_eq(got.exception.nr, 14);
	ck_assert_uint_eq(got.exception.error_code, 6);
	ck_assert_uint_eq(got.exception_has_payload, 1);
	ck_assert_uint_eq(got.exception_payload, 0x7fff0123ULL);

	/* A host without the cap refuses such a state rather than lose CR2. */
	{
		char err[256] = "";

		t->vm.exception_payload = false;
		ck_assert_int_eq(vm_kvm_state_load(&t->vm, state_blob(&a), err, sizeof(err)),
				 -1);
		ck_assert_msg(strstr(err, "needs KVM_CAP_EXCEPTION_PAYLOAD"), "%s", err);
		t->vm.exception_payload = true;
	}
	state_buf_free(&a);
	tvm_free(t);
}
END_TEST

START_TEST(restore_second_vm)
{
	migrate_to_second_vm(1);
}
END_TEST

START_TEST(restore_second_vm_smp)
{
	migrate_to_second_vm(4);
}
END_TEST

/* Save/restore cost, measured on a paused VM (restores into itself). */
START_TEST(timing)
{
	static const int cpus[] = { 1, 4 };
	size_t k;

	VLAB_SKIP_UNLESS_RUNNABLE();
	for (k = 0; k < sizeof(cpus) / sizeof(cpus[0]); k++) {
		struct tvm *t = tvm_new("memwrite", "64M", cpus[k], 1000000);

		ck_assert_int_eq(vm_start(&t->vm), 0);
		ck_assert(tvm_wait_console(t, "memwrite: pass 1:", RUN_TIMEOUT));
		vm_pause(&t->vm);
		bench(&t->vm, cpus[k]);
		/* And it still runs afterwards. */
		vm_resume(&t->vm);
		t->con_len = 0;
		t->console[0] = '\0';
		ck_assert_msg(tvm_wait_console(t, "wrote", RUN_TIMEOUT),
			      "no progress after %d save/restore rounds", BENCH_ROUNDS);
		tvm_free(t);
	}
}
END_TEST

START_TEST(dump_state)
{
	struct tvm *t;
	struct state_buf sb;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	VLAB_SKIP_UNLESS_RUNNABLE();
	t = tvm_new("hello", "64M", 2, 1);
	/* Not started: the state of a freshly built VM is valid too. */
	sb = save_all(&t->vm, NULL);
	f = open_memstream(&buf, &len);
	state_dump(state_blob(&sb), f);
	fclose(f);
	ck_assert_msg(strstr(buf, "\tkvm {\n\t\tversion = <0x01>;\n\t\tnr-cpus = <0x02>;\n"),
		      "%s", buf);
	ck_assert(strstr(buf, "\t\tcpu@1 {\n"));
	ck_assert(strstr(buf, "\t\t\t\trip = <0x00 "));
	ck_assert(strstr(buf, "\t\t\tioapic {\n"));
	ck_assert(strstr(buf, "\t\tclock {\n"));
	free(buf);
	state_buf_free(&sb);
	tvm_free(t);
}
END_TEST

static Suite *cpu_state_suite(void)
{
	Suite *s = suite_create("cpu_state");
	TCase *tc = tcase_create("kvm");

	tcase_set_timeout(tc, 3 * RUN_TIMEOUT);
	tcase_add_test(tc, dump_state);
	tcase_add_test(tc, restore_same_vm);
	tcase_add_test(tc, pending_exception_round_trip);
	tcase_add_test(tc, restore_second_vm);
	tcase_add_test(tc, restore_second_vm_smp);
	tcase_add_test(tc, restore_fpu_format);
	tcase_add_test(tc, timing);
	suite_add_tcase(s, tc);
	return s;
}

VLAB_TEST_MAIN(cpu_state_suite)
