/* SPDX-License-Identifier: GPL-2.0 */
/* One virtual machine: the KVM handles, memory, buses, vCPUs and devices. */
#ifndef VLAB_VM_H
#define VLAB_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/x86/boot.h"
#include "vmm/core/config.h"
#include "vmm/core/event_loop.h"
#include "vmm/mem/guest_mem.h"
#include "vmm/core/iobus.h"

struct vm;

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Why KVM_RUN returned, as the control socket's watch reports it. */
enum vcpu_exit_kind {
	VCPU_EXIT_IO,
	VCPU_EXIT_MMIO,
	VCPU_EXIT_INTR,			/* a signal: kicks, pauses */
	VCPU_EXIT_DIRTY_RING_FULL,
	VCPU_EXIT_EMULATION,		/* an instruction KVM rejected (--cpu-quirks) */
	VCPU_EXIT_OTHER,
	VCPU_NR_EXIT_KINDS,
};

const char *vcpu_exit_kind_name(enum vcpu_exit_kind k);

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	uint64_t exits;
	/* Written by the vCPU thread only, read relaxed by the control socket. */
	uint64_t exits_by[VCPU_NR_EXIT_KINDS];
	struct kvm_dirty_gfn *dirty_gfns;	/* --dirty-ring: KVM's ring, mapped */
	uint32_t dirty_fetch;			/* next entry to harvest */
};

/* Why the VM stopped; becomes the process exit status. */
struct state_buf;

/*
 * A device instance's part in snapshots and migration. save() writes the
 * properties of the device's node (already begun, named @name); load()
 * reads them back on the destination before any vCPU runs. quiesce()
 * stops the device's workers for stop-and-copy, unquiesce() restarts them
 * (source after a failed migration, destination after load).
 */
struct vm_dev_state {
	const char *name;
	uint32_t version;
	int (*save)(void *opaque, struct state_buf *sb);
	int (*load)(void *opaque, const void *fdt, int node, char *err, size_t errlen);
	void (*quiesce)(void *opaque);
	void (*unquiesce)(void *opaque);
	/* Destination, once the guest runs again (e.g. announce the NIC). */
	void (*migrated)(void *opaque);
	/*
	 * Optional, for devices slow to start: during pre-copy the source
	 * saves, while running, what lets the destination prepare its device
	 * ahead (save_early: properties and nodes of the current node, or
	 * nothing); the destination's preload() prepares from it. Advisory:
	 * the state at the switch-over decides, and preload only logs errors.
	 */
	int (*save_early)(void *opaque, struct state_buf *sb);
	void (*preload)(void *opaque, const void *fdt, int node);
	void *opaque;
	struct vm_dev_state *next;
};

enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_POWEROFF,
	VM_STOP_RESET,
	VM_STOP_CRASH,
	VM_STOP_USER,		/* escape key or signal */
	VM_STOP_TEST_EXIT,	/* guest wrote the test-exit port */
	VM_STOP_MIGRATED,	/* the guest now runs at the destination */
	VM_STOP_PANIC,		/* the guest kernel reported a panic (pvpanic) */
};

struct vm {
	struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct guest_mem mem;
	struct io_bus pio;
	struct io_bus mmio;
	struct event_loop loop;		/* main thread: console, doorbells, signals */
	struct irq_routing *irq;
	struct vcpu *cpus;
	int nr_cpus;
	struct kvm_cpuid2 *cpuid;	/* what KVM supports, before per-vCPU edits */
	bool quirks;			/* finish rejected instructions etc. */
	/*
	 * KVM_CAP_EXCEPTION_PAYLOAD on: a pending exception keeps its payload
	 * (#PF's CR2, #DB's DR6) apart until delivery, so a vCPU saved between
	 * the exception and its delivery restores exactly.
	 */
	bool exception_payload;
	unsigned int quirk_seen;	/* bitmask of quirk_kind already logged */
	struct boot_entry entry;

	/* Stop protocol: first vm_stop() wins; main waits on stop_fd. */
	pthread_mutex_t stop_lock;
	enum vm_stop_reason stop_reason;
	int exit_code;
	int stop_fd;			/* eventfd */

	/* Pause protocol: vCPUs park in vcpu_thread while paused is set. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	bool paused;
	int nr_parked;

	/* Devices keep their state in their own structs; these are the roots. */
	struct vm_dev_state *dev_states;	/* in registration order */
	int nr_inited;			/* init hooks that succeeded, in order */
	uint8_t test_request;		/* port 0x510, set by `test-request` */
	struct pvpanic *pvpanic;
	struct device devices[VLAB_MAX_DEVICES];	/* created from the command line */
	int nr_devices;
	struct migration *mig;
	/* Set by a device whose state cannot move (why, for the refusal). */
	const char *migration_blocker;
	struct dirty_ring *dirty_ring;	/* --dirty-ring, else NULL (bitmap) */
	struct dirty_source *dirty_sources;	/* more writers of guest RAM (migrate/dirty.h) */
	bool incoming;			/* state comes from a stream, not a boot */

	struct uart8250 *uart;
	struct i8042 *i8042;
	struct rtc *rtc;
	struct pci_host *pci;
	int console_out;		/* fd the UART writes guest output to */
};

int vm_create(struct vm *vm, struct vm_config *cfg, char *err, size_t errlen);
void vm_destroy(struct vm *vm);
int vm_start(struct vm *vm);
/* Ask every vCPU to leave KVM_RUN and the main loop to finish. */
void vm_stop(struct vm *vm, enum vm_stop_reason why, int exit_code);
void vm_join(struct vm *vm);
/* Stop all vCPUs at an instruction boundary and wait until they are parked. */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/* "running", "paused" or "stopping", as status and pause/resume report it. */
const char *vm_state_name(struct vm *vm);
/* Called by a vCPU thread that saw vm->paused; returns when resumed. */
void vm_park_vcpu(struct vm *vm);
/* Assert (level 1) or deassert a GSI on the in-kernel irqchip. */
void vm_irq_line(struct vm *vm, int gsi, int level);
/* (Re)register every RAM region as a KVM slot with @flags (e.g. dirty logging). */
int vm_set_memory_slots(struct vm *vm, uint32_t flags);

/* Device init hooks, run in order by vm_create after memory and irqchip. */
struct vm_init_hook {
	const char *name;
	int level;		/* lower runs first */
	int (*init)(struct vm *vm);
	void (*exit)(struct vm *vm);
	struct vm_init_hook *next;
};

enum {
	VM_INIT_BUS = 10,	/* PCI host */
	VM_INIT_DEVICE = 20,	/* legacy devices */
	VM_INIT_LATE = 90,
};

void vm_init_hook_register(struct vm_init_hook *hook);
/* Copy @tmpl into the VM's list of device states; node names must be unique. */
int vm_dev_state_register(struct vm *vm, const struct vm_dev_state *tmpl);
void vm_dev_state_unregister(struct vm *vm, const char *name);

#define VM_INIT(fn_init, fn_exit, lvl)					\
	static struct vm_init_hook __hook_##fn_init = {			\
		.name = #fn_init, .level = (lvl),			\
		.init = (fn_init), .exit = (fn_exit),			\
	};								\
	static void __attribute__((constructor)) __reg_##fn_init(void) \
	{								\
		vm_init_hook_register(&__hook_##fn_init);		\
	}

/* vcpu.c */
int vcpu_create(struct vm *vm, struct vcpu *cpu, int id);
void vcpu_destroy(struct vcpu *cpu);
int vcpu_setup_boot(struct vcpu *cpu, const struct boot_entry *entry);
int vcpu_setup_cpuid(struct vcpu *cpu);
void vcpu_dump(struct vcpu *cpu, FILE *f);
void *vcpu_thread(void *arg);
void vcpu_kick(struct vcpu *cpu);
/* The kick signal's handler; must exist before any vCPU thread can be kicked. */
void vcpu_kick_install(void);

void vlab_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* CLOCK_MONOTONIC in nanoseconds: every interval vlab measures. */
uint64_t vlab_now_ns(void);
/*
 * CLOCK_MONOTONIC_COARSE: to the clock tick, a few times cheaper; for
 * rate limits on a per-frame path that need nothing finer than the tick.
 */
uint64_t vlab_coarse_ns(void);

#endif
