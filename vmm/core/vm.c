// SPDX-License-Identifier: GPL-2.0
/* VM lifetime: KVM setup, memory slots, irqchip, devices, boot, vCPUs. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm/mem/dirty_ring.h"
#include "vmm/core/irq.h"
#include "vmm/core/vm.h"

/* Addresses KVM on VMX needs for its real-mode helpers, inside the hole. */
#define KVM_TSS_ADDR		0xfffbd000ULL
#define KVM_IDENTITY_MAP_ADDR	0xfffbc000ULL
#define KVM_MAX_CPUID_ENTRIES	256

static struct vm_init_hook *init_hooks;

void vm_init_hook_register(struct vm_init_hook *hook)
{
	struct vm_init_hook **p = &init_hooks;

	while (*p && (*p)->level <= hook->level)
		p = &(*p)->next;
	hook->next = *p;
	*p = hook;
}

int vm_dev_state_register(struct vm *vm, const struct vm_dev_state *tmpl)
{
	struct vm_dev_state *d = malloc(sizeof(*d)), **p;

	if (!d)
		return -ENOMEM;
	*d = *tmpl;
	d->next = NULL;
	for (p = &vm->dev_states; *p; p = &(*p)->next)
		if (!strcmp((*p)->name, d->name)) {
			free(d);
			return -EEXIST;
		}
	*p = d;
	return 0;
}

void vm_dev_state_unregister(struct vm *vm, const char *name)
{
	struct vm_dev_state **p, *d;

	for (p = &vm->dev_states; (d = *p); p = &d->next)
		if (!strcmp(d->name, name)) {
			*p = d->next;
			free(d);
			return;
		}
}

const char *vm_state_name(struct vm *vm)
{
	if (__atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) != VM_RUNNING)
		return "stopping";
	return __atomic_load_n(&vm->paused, __ATOMIC_ACQUIRE) ? "paused" : "running";
}

uint64_t vlab_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t vlab_coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void vlab_log(const char *fmt, ...)
{
	va_list ap;

	/* \r: the terminal may be in raw mode while the guest runs. */
	fputs("vlab: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\r\n", stderr);
}

#define fail(...) do { snprintf(err, errlen, __VA_ARGS__); goto out_err; } while (0)

static int vm_check_caps(struct vm *vm, char *err, size_t errlen)
{
	static const struct { int cap; const char *name; } need[] = {
		{ KVM_CAP_IRQCHIP, "IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "USER_MEMORY" },
		{ KVM_CAP_IOEVENTFD, "IOEVENTFD" },
		{ KVM_CAP_IRQFD, "IRQFD" },
		{ KVM_CAP_PIT2, "PIT2" },
		{ KVM_CAP_EXT_CPUID, "EXT_CPUID" },
	};
	size_t i;

	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
			snprintf(err, errlen, "KVM lacks KVM_CAP_%s", need[i].name);
			return -1;
		}
	}
	return 0;
}

int vm_set_memory_slots(struct vm *vm, uint32_t flags)
{
	int i;

	for (i = 0; i < vm->mem.nr_regions; i++) {
		struct guest_mem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.flags = flags,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return -errno;
	}
	return 0;
}

static int vm_setup_memory(struct vm *vm, char *err, size_t errlen)
{
	int ret;

	ret = vm->cfg->mem_memfd ? guest_mem_init_memfd(&vm->mem, vm->cfg->mem_size) :
	      guest_mem_init(&vm->mem, vm->cfg->mem_size);
	if (ret) {
		snprintf(err, errlen, "cannot allocate %lluM of guest memory: %s",
			 (unsigned long long)(vm->cfg->mem_size >> 20), strerror(-ret));
		return -1;
	}
	if (vm_set_memory_slots(vm, 0)) {
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int vm_setup_irqchip(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = 0 };

	/* VMX wants these; other KVM flavours may not implement them. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0 && errno != ENOTTY)
		vlab_log("KVM_SET_TSS_ADDR: %s (continuing)", strerror(errno));
	{
		uint64_t idmap = KVM_IDENTITY_MAP_ADDR;

		ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP) < 0) {
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		snprintf(err, errlen, "KVM_CREATE_PIT2: %s", strerror(errno));
		return -1;
	}
	if (irq_routing_init(vm)) {
		snprintf(err, errlen, "KVM_SET_GSI_ROUTING: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int vm_get_supported_cpuid(struct vm *vm, char *err, size_t errlen)
{
	vm->cpuid = calloc(1, sizeof(*vm->cpuid) +
			   KVM_MAX_CPUID_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!vm->cpuid) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	vm->cpuid->nent = KVM_MAX_CPUID_ENTRIES;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, vm->cpuid) < 0) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int vm_run_init_hooks(struct vm *vm, char *err, size_t errlen)
{
	struct vm_init_hook *h;

	for (h = init_hooks; h; h = h->next) {
		int ret = h->init(vm);

		if (ret) {
			snprintf(err, errlen, "%s: %s", h->name, strerror(-ret));
			return -1;
		}
		vm->nr_inited++;
	}
	return 0;
}

/* The exits of the hooks whose init succeeded, last first. */
static void vm_run_exit_hooks(struct vm *vm)
{
	struct vm_init_hook *h;
	int i, n;

	for (n = vm->nr_inited; n > 0; n--) {
		for (h = init_hooks, i = 1; i < n; i++)
			h = h->next;
		if (h->exit)
			h->exit(vm);
	}
	vm->nr_inited = 0;
}

int vm_create(struct vm *vm, struct vm_config *cfg, char *err, size_t errlen)
{
	struct boot_config bc;
	int i, api;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->console_out = -1;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	io_bus_init(&vm->pio, "pio");
	io_bus_init(&vm->mmio, "mmio");
	if (event_loop_init(&vm->loop))
		fail("epoll: %s", strerror(errno));
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		fail("eventfd: %s", strerror(errno));

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		fail("cannot open /dev/kvm: %s%s", strerror(errno),
		     errno == ENOENT ? " (is the kvm module loaded?)" :
		     errno == EACCES ? " (add yourself to the kvm group)" : "");
	api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION)
		fail("KVM API version %d, vlab needs %d", api, KVM_API_VERSION);
	if (vm_check_caps(vm, err, errlen))
		goto out_err;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		fail("KVM_CREATE_VM: %s", strerror(errno));
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXCEPTION_PAYLOAD) > 0) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_EXCEPTION_PAYLOAD, .args[0] = 1,
		};

		vm->exception_payload = !ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
	}
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size <= 0)
		fail("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));

	switch (cfg->quirks) {
	case QUIRK_MODE_OFF:
		vm->quirks = false;
		break;
	case QUIRK_MODE_ON:
		vm->quirks = true;
		break;
	case QUIRK_MODE_AUTO:
		vm->quirks = quirk_host_detect();
		break;
	}
	if (vm->quirks) {
		if (cli_cmdline_add(cfg->cmdline, sizeof(cfg->cmdline), QUIRK_CMDLINE))
			fail("--cmdline: no room to add the host switches \"%s\"",
			     QUIRK_CMDLINE);
	}

	if (vm_setup_irqchip(vm, err, errlen) ||
	    vm_setup_memory(vm, err, errlen) ||
	    vm_get_supported_cpuid(vm, err, errlen) ||
	    vm_run_init_hooks(vm, err, errlen))
		goto out_err;

	bc = (struct boot_config){
		.kernel_path = cfg->kernel,
		.initrd_path = cfg->initrd,
		.cmdline = cfg->cmdline,
		.nr_cpus = cfg->nr_cpus,
	};
	/* An incoming guest brings its memory and CPU state in the stream. */
	vm->incoming = cfg->incoming != NULL;
	if (!vm->incoming) {
		if (boot_load(&vm->mem, &bc, &vm->entry, err, errlen))
			goto out_err;
		if (mptable_write(&vm->mem, cfg->nr_cpus))
			fail("cannot write the MP table for %d CPUs", cfg->nr_cpus);
	}

	vm->cpus = calloc(cfg->nr_cpus, sizeof(*vm->cpus));
	if (!vm->cpus)
		fail("out of memory");
	vm->nr_cpus = cfg->nr_cpus;
	/* KVM takes the ring size only while there are no vCPUs. */
	if (cfg->dirty_ring && dirty_ring_enable(vm, cfg->dirty_ring, err, errlen))
		goto out_err;
	for (i = 0; i < vm->nr_cpus; i++) {
		if (vcpu_create(vm, &vm->cpus[i], i))
			fail("cannot create vCPU %d: %s", i, strerror(errno));
		if (dirty_ring_map_vcpu(&vm->cpus[i]))
			fail("cannot map vCPU %d's dirty ring: %s", i, strerror(errno));
	}
	/* APs wait for INIT/SIPI in the in-kernel LAPIC; only the BSP is set up. */
	if (!vm->incoming && vcpu_setup_boot(&vm->cpus[0], &vm->entry))
		fail("cannot set the boot CPU state: %s", strerror(errno));
	return 0;

out_err:
	vm_destroy(vm);
	return -1;
}

void vm_destroy(struct vm *vm)
{
	int i;

	if (vm->cpus) {
		for (i = 0; i < vm->nr_cpus; i++)
			vcpu_destroy(&vm->cpus[i]);
		free(vm->cpus);
		vm->cpus = NULL;
	}
	dirty_ring_free(vm);
	if (vm->vm_fd >= 0)
		vm_run_exit_hooks(vm);
	while (vm->dev_states) {
		struct vm_dev_state *d = vm->dev_states;

		vm->dev_states = d->next;
		free(d);
	}
	free(vm->cpuid);
	vm->cpuid = NULL;
	irq_routing_exit(vm);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	guest_mem_exit(&vm->mem);
	io_bus_exit(&vm->pio);
	io_bus_exit(&vm->mmio);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	vm->stop_fd = -1;
	event_loop_exit(&vm->loop);
}

int vm_start(struct vm *vm)
{
	int i;

	vcpu_kick_install();
	for (i = 0; i < vm->nr_cpus; i++) {
		struct vcpu *cpu = &vm->cpus[i];

		char name[16];

		if (pthread_create(&cpu->thread, NULL, vcpu_thread, cpu)) {
			vm_stop(vm, VM_STOP_CRASH, VLAB_EXIT_GUEST_CRASH);
			return -1;
		}
		/* Named for top -H, perf and taskset. */
		snprintf(name, sizeof(name), "vcpu%d", cpu->id);
		pthread_setname_np(cpu->thread, name);
		cpu->started = true;
	}
	return 0;
}

void vm_stop(struct vm *vm, enum vm_stop_reason why, int exit_code)
{
	uint64_t one = 1;
	int i;

	pthread_mutex_lock(&vm->stop_lock);
	if (vm->stop_reason != VM_RUNNING) {
		pthread_mutex_unlock(&vm->stop_lock);
		return;
	}
	vm->stop_reason = why;
	vm->exit_code = exit_code;
	pthread_mutex_unlock(&vm->stop_lock);

	for (i = 0; i < vm->nr_cpus; i++)
		vcpu_kick(&vm->cpus[i]);
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	event_loop_stop(&vm->loop);
	/* Wake the loop out of epoll_wait. */
	if (write(vm->stop_fd, &one, sizeof(one)) < 0)
		vlab_log("stop eventfd: %s", strerror(errno));
}

void vm_join(struct vm *vm)
{
	int i;

	for (i = 0; i < vm->nr_cpus; i++) {
		if (vm->cpus[i].started)
			pthread_join(vm->cpus[i].thread, NULL);
		vm->cpus[i].started = false;
	}
}

void vm_pause(struct vm *vm)
{
	int i, running = 0;

	pthread_mutex_lock(&vm->pause_lock);
	if (vm->paused) {
		pthread_mutex_unlock(&vm->pause_lock);
		return;
	}
	__atomic_store_n(&vm->paused, true, __ATOMIC_RELEASE);
	for (i = 0; i < vm->nr_cpus; i++) {
		if (vm->cpus[i].started)
			running++;
		vcpu_kick(&vm->cpus[i]);
	}
	/* A vCPU that already stopped for good will never park: don't wait for it. */
	while (vm->nr_parked < running &&
	       __atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) == VM_RUNNING)
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	__atomic_store_n(&vm->paused, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_park_vcpu(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause_lock);
	vm->nr_parked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (vm->paused && __atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) == VM_RUNNING)
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->nr_parked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

void vm_irq_line(struct vm *vm, int gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		vlab_log("KVM_IRQ_LINE %d: %s", gsi, strerror(errno));
}
