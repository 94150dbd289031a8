// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU threads: set up CPUID/MSRs/LAPIC and the boot state, run KVM_RUN and
 * dispatch exits. vCPU threads only dispatch; device work that can block
 * belongs to device workers.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/mem/dirty_ring.h"
#include "vmm/mem/gva.h"
#include "vmm/x86/quirks.h"
#include "vmm/core/vm.h"

#define SIG_VCPU_KICK	SIGUSR1

#define MSR_IA32_MISC_ENABLE	0x000001a0
#define MISC_ENABLE_FAST_STRING	(1ULL << 0)

#define APIC_LVT_LINT0		0x350
#define APIC_LVT_LINT1		0x360
#define APIC_MODE_NMI		0x4
#define APIC_MODE_EXTINT	0x7

#define X86_CR0_PE	(1ULL << 0)
#define X86_CR0_ET	(1ULL << 4)
#define X86_CR0_PG	(1ULL << 31)
#define X86_CR4_PAE	(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

#define CPUID_1_ECX_CX16	(1u << 13)
#define CPUID_1_ECX_HYPERVISOR	(1u << 31)
#define CPUID_1_EDX_HTT		(1u << 28)

static void vcpu_kick_handler(int sig)
{
	/* Only here to make KVM_RUN return -EINTR. */
}

static void vcpu_kick_install_once(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };

	sigaction(SIG_VCPU_KICK, &sa, NULL);
}

void vcpu_kick_install(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, vcpu_kick_install_once);
}

int vcpu_create(struct vm *vm, struct vcpu *cpu, int id)
{
	cpu->vm = vm;
	cpu->id = id;
	cpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (cpu->fd < 0)
		return -1;
	cpu->run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE,
			MAP_SHARED, cpu->fd, 0);
	if (cpu->run == MAP_FAILED) {
		cpu->run = NULL;
		return -1;
	}
	if (vcpu_setup_cpuid(cpu))
		return -1;
	{
		struct {
			struct kvm_msrs hdr;
			struct kvm_msr_entry e[1];
		} msrs = {
			.hdr.nmsrs = 1,
			.e[0] = { .index = MSR_IA32_MISC_ENABLE,
				  .data = MISC_ENABLE_FAST_STRING },
		};

		if (ioctl(cpu->fd, KVM_SET_MSRS, &msrs) != 1)
			vlab_log("vCPU %d: KVM_SET_MSRS MISC_ENABLE failed", id);
	}
	{
		struct kvm_lapic_state lapic;

		/* Virtual-wire mode: PIC through LINT0, NMI through LINT1. */
		if (ioctl(cpu->fd, KVM_GET_LAPIC, &lapic) < 0)
			return -1;
		*(uint32_t *)&lapic.regs[APIC_LVT_LINT0] = APIC_MODE_EXTINT << 8;
		*(uint32_t *)&lapic.regs[APIC_LVT_LINT1] = APIC_MODE_NMI << 8;
		if (ioctl(cpu->fd, KVM_SET_LAPIC, &lapic) < 0)
			return -1;
	}
	{
		struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

		if (ioctl(cpu->fd, KVM_SET_FPU, &fpu) < 0)
			return -1;
	}
	return 0;
}

void vcpu_destroy(struct vcpu *cpu)
{
	dirty_ring_unmap_vcpu(cpu);
	if (cpu->run)
		munmap(cpu->run, cpu->vm->vcpu_mmap_size);
	cpu->run = NULL;
	if (cpu->fd > 0)
		close(cpu->fd);
	cpu->fd = -1;
}

static unsigned int order_base_2(unsigned int n)
{
	unsigned int s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	unsigned int i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

static bool cpuid_is_amd(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);

	/* "AuthenticAMD" / "HygonGenuine" use the 0x8000_00xx topology leaves. */
	return e && (e->ebx == 0x68747541 || e->ebx == 0x6f677948);
}

/*
 * Topology the guest sees: one package, one core per vCPU, no SMT, APIC
 * ID = vCPU index. Leaf 0xb is rebuilt with both levels because KVM may
 * report it with only sub-leaf 0.
 */
static void cpuid_set_topology(struct kvm_cpuid2 *c, unsigned int n, unsigned int id,
			       bool amd)
{
	unsigned int bits = order_base_2(n), i, lvl;
	struct kvm_cpuid_entry2 *e;

	for (i = 0; i < c->nent; i++) {
		e = &c->entries[i];
		if (e->function == 0xb || e->function == 0x1f) {
			c->entries[i--] = c->entries[--c->nent];
			continue;
		}
	}
	e = cpuid_find(c, 0, 0);
	if (e && e->eax >= 0xb) {
		for (lvl = 0; lvl < 3; lvl++) {
			e = &c->entries[c->nent++];
			memset(e, 0, sizeof(*e));
			e->function = 0xb;
			e->index = lvl;
			e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
			e->edx = id;
			e->ecx = lvl;
			if (lvl == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx |= 1 << 8;	/* SMT level */
			} else if (lvl == 1) {
				e->eax = bits;
				e->ebx = n;
				e->ecx |= 2 << 8;	/* core level */
			}
		}
	}
	if (!amd)
		return;
	e = cpuid_find(c, 0x80000001, 0);
	if (e && n > 1)
		e->ecx |= 1 << 1;	/* CmpLegacy: cores, not threads */
	e = cpuid_find(c, 0x80000008, 0);
	if (e)
		e->ecx = (e->ecx & ~0xf0ffu) | (bits << 12) | (n - 1);
	e = cpuid_find(c, 0x8000001e, 0);
	if (e) {
		e->eax = id;
		e->ebx = id & 0xff;	/* core id; one thread per core */
		e->ecx = 0;		/* node 0, one node */
	}
}

int vcpu_setup_cpuid(struct vcpu *cpu)
{
	struct vm *vm = cpu->vm;
	/* Room for the rebuilt 0xb sub-leaves. */
	size_t sz = sizeof(struct kvm_cpuid2) +
		    (vm->cpuid->nent + 4) * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	unsigned int n = vm->nr_cpus ? vm->nr_cpus : vm->cfg->nr_cpus;
	struct kvm_cpuid_entry2 *e;
	int ret;

	if (!c)
		return -1;
	memcpy(c, vm->cpuid, sizeof(struct kvm_cpuid2) +
	       vm->cpuid->nent * sizeof(struct kvm_cpuid_entry2));
	e = cpuid_find(c, 1, 0);
	if (e) {
		e->ebx = (e->ebx & 0x0000ffff) | (n << 16) | ((uint32_t)cpu->id << 24);
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (n > 1)
			e->edx |= CPUID_1_EDX_HTT;
		/* The emulating host cannot run LOCK CMPXCHG16B at CPL0. */
		if (vm->quirks)
			e->ecx &= ~CPUID_1_ECX_CX16;
	}
	e = cpuid_find(c, 4, 0);
	for (; e && e < c->entries + c->nent && e->function == 4; e++)
		e->eax = (e->eax & 0x3ffffff) | ((n - 1) << 26);
	cpuid_set_topology(c, n, cpu->id, cpuid_is_amd(c));
	ret = ioctl(cpu->fd, KVM_SET_CPUID2, c);
	free(c);
	return ret < 0 ? -1 : 0;
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1,
		.l = code64 ? 1 : 0, .g = 1,
	};
}

int vcpu_setup_boot(struct vcpu *cpu, const struct boot_entry *entry)
{
	bool lm = entry->mode == BOOT_MODE_LINUX64;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(cpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	seg_flat(&sregs.cs, entry->cs, 0xb, lm);
	seg_flat(&sregs.ds, entry->ds, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = entry->gdt_base;
	sregs.gdt.limit = entry->gdt_limit;
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET;
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (lm) {
		sregs.cr0 |= X86_CR0_PG;
		sregs.cr3 = entry->cr3;
		sregs.cr4 = X86_CR4_PAE;
		sregs.efer = EFER_LME | EFER_LMA;
	}
	if (ioctl(cpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return -1;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = entry->rip;
	regs.rsi = entry->rsi;
	regs.rbx = entry->rbx;
	return ioctl(cpu->fd, KVM_SET_REGS, &regs) < 0 ? -1 : 0;
}

void vcpu_kick(struct vcpu *cpu)
{
	if (!cpu->run)
		return;
	__atomic_store_n(&cpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (cpu->started)
		pthread_kill(cpu->thread, SIG_VCPU_KICK);
}

static void vcpu_mmu(struct kvm_sregs *s, struct gva_mmu *mmu)
{
	mmu->cr0 = s->cr0;
	mmu->cr3 = s->cr3;
	mmu->cr4 = s->cr4;
	mmu->efer = s->efer;
}

void vcpu_dump(struct vcpu *cpu, FILE *f)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct gva_mmu mmu;
	uint8_t code[32];
	uint64_t stack[8];
	int i;

	if (ioctl(cpu->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(cpu->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(f, "vCPU %d: cannot read registers: %s\r\n", cpu->id, strerror(errno));
		return;
	}
	fprintf(f, "vCPU %d registers:\r\n", cpu->id);
	fprintf(f, " rip %016llx rsp %016llx rflags %016llx\r\n", r.rip, r.rsp, r.rflags);
	fprintf(f, " rax %016llx rbx %016llx rcx %016llx rdx %016llx\r\n", r.rax, r.rbx, r.rcx, r.rdx);
	fprintf(f, " rsi %016llx rdi %016llx rbp %016llx r8  %016llx\r\n", r.rsi, r.rdi, r.rbp, r.r8);
	fprintf(f, " r9  %016llx r10 %016llx r11 %016llx r12 %016llx\r\n", r.r9, r.r10, r.r11, r.r12);
	fprintf(f, " r13 %016llx r14 %016llx r15 %016llx\r\n", r.r13, r.r14, r.r15);
	fprintf(f, " cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx\r\n",
		s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	fprintf(f, " cs %04x base %llx l %d db %d dpl %d  ss %04x  gs base %llx\r\n",
		s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.cs.dpl, s.ss.selector, s.gs.base);
	fprintf(f, " gdt %llx/%x idt %llx/%x apic_base %llx\r\n",
		s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit, s.apic_base);
	vcpu_mmu(&s, &mmu);
	if (!gva_read(&cpu->vm->mem, &mmu, s.cs.base + r.rip, code, sizeof(code))) {
		fprintf(f, " code:");
		for (i = 0; i < (int)sizeof(code); i++)
			fprintf(f, " %02x", code[i]);
		fprintf(f, "\r\n");
	}
	if (!gva_read(&cpu->vm->mem, &mmu, s.ss.base + r.rsp, stack, sizeof(stack))) {
		fprintf(f, " stack:");
		for (i = 0; i < 8; i++)
			fprintf(f, " %016llx", (unsigned long long)stack[i]);
		fprintf(f, "\r\n");
	}
}

/* Memory callbacks for the quirk finisher: guest linear addresses. */
struct vcpu_quirk_mem {
	struct vcpu *cpu;
	struct gva_mmu mmu;
	uint64_t fault_gva;
	uint32_t fault_err;
};

/* Record the first faulting byte of [gva, gva+len) and its #PF error code. */
static void vcpu_quirk_fault(struct vcpu_quirk_mem *m, uint64_t gva, size_t len, bool write)
{
	uint64_t a = gva, gpa;
	uint32_t pf = 0;

	m->fault_gva = gva;
	m->fault_err = write ? GVA_PF_WRITE : 0;
	while (a - gva < len) {
		if (gva_translate(&m->cpu->vm->mem, &m->mmu, a, write, &gpa, &pf)) {
			m->fault_gva = a;
			m->fault_err = pf;
			return;
		}
		a = (a | (GM_PAGE_SIZE - 1)) + 1;
	}
}

static int vcpu_quirk_read(void *opaque, uint64_t gva, void *buf, size_t len)
{
	struct vcpu_quirk_mem *m = opaque;

	if (gva_read(&m->cpu->vm->mem, &m->mmu, gva, buf, len)) {
		vcpu_quirk_fault(m, gva, len, false);
		return -1;
	}
	return 0;
}

static int vcpu_quirk_write(void *opaque, uint64_t gva, const void *buf, size_t len)
{
	struct vcpu_quirk_mem *m = opaque;

	if (gva_write(&m->cpu->vm->mem, &m->mmu, gva, buf, len)) {
		vcpu_quirk_fault(m, gva, len, true);
		return -1;
	}
	return 0;
}

static int vcpu_quirk_cmpxchg16(void *opaque, uint64_t gva, uint64_t expect[2],
				const uint64_t desired[2], bool *swapped)
{
	struct vcpu_quirk_mem *m = opaque;
	unsigned __int128 *p, old, want, neu;
	uint64_t gpa;
	uint32_t pf;

	if (gva_translate(&m->cpu->vm->mem, &m->mmu, gva, true, &gpa, &pf) ||
	    !(p = guest_mem_map(&m->cpu->vm->mem, gpa, 16, false))) {
		m->fault_gva = gva;
		m->fault_err = pf | GVA_PF_WRITE;
		return -1;
	}
	/* Other vCPUs run concurrently: this must be a real atomic. */
	want = ((unsigned __int128)expect[1] << 64) | expect[0];
	neu = ((unsigned __int128)desired[1] << 64) | desired[0];
	old = __sync_val_compare_and_swap(p, want, neu);
	*swapped = old == want;
	if (*swapped)	/* after the write: see guest_mem_write() */
		guest_mem_mark_dirty(&m->cpu->vm->mem, gpa, 16);
	expect[0] = (uint64_t)old;
	expect[1] = (uint64_t)(old >> 64);
	return 0;
}

static void vcpu_inject(struct vcpu *cpu, int vector, bool has_err, uint32_t err)
{
	struct kvm_vcpu_events ev;

	if (ioctl(cpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return;
	ev.exception.injected = 1;
	ev.exception.nr = vector;
	ev.exception.has_error_code = has_err;
	ev.exception.error_code = err;
	ev.flags = 0;
	if (ioctl(cpu->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		vlab_log("vCPU %d: cannot inject vector %d: %s", cpu->id, vector,
			 strerror(errno));
}

/* Finish an instruction the host's emulator rejected. 0 if done. */
static int vcpu_finish_rejected(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	struct vm *vm = cpu->vm;
	struct vcpu_quirk_mem mem = { .cpu = cpu };
	struct quirk_cpu q;
	struct quirk_insn insn;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_fpu fpu;
	uint8_t bytes[15];
	size_t n = 0;
	unsigned int bit;

	if (ioctl(cpu->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(cpu->fd, KVM_GET_SREGS, &s) < 0 ||
	    ioctl(cpu->fd, KVM_GET_FPU, &fpu) < 0)
		return -1;
	vcpu_mmu(&s, &mem.mmu);

	if ((run->emulation_failure.flags &
	     KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) &&
	    run->emulation_failure.insn_size) {
		n = run->emulation_failure.insn_size;
		if (n > sizeof(bytes))
			n = sizeof(bytes);
		memcpy(bytes, run->emulation_failure.insn_bytes, n);
	} else {
		/* Read what we can; the tail may sit on an unmapped page. */
		for (n = 0; n < sizeof(bytes); n++)
			if (gva_read(&vm->mem, &mem.mmu, s.cs.base + r.rip + n, &bytes[n], 1))
				break;
	}

	memset(&q, 0, sizeof(q));
	q.gpr[0] = r.rax; q.gpr[1] = r.rcx; q.gpr[2] = r.rdx; q.gpr[3] = r.rbx;
	q.gpr[4] = r.rsp; q.gpr[5] = r.rbp; q.gpr[6] = r.rsi; q.gpr[7] = r.rdi;
	q.gpr[8] = r.r8; q.gpr[9] = r.r9; q.gpr[10] = r.r10; q.gpr[11] = r.r11;
	q.gpr[12] = r.r12; q.gpr[13] = r.r13; q.gpr[14] = r.r14; q.gpr[15] = r.r15;
	q.rip = r.rip;
	q.rflags = r.rflags;
	q.mxcsr = fpu.mxcsr;
	q.long_mode = s.cs.l;
	q.def32 = s.cs.db;
	q.fs_base = s.fs.base;
	q.gs_base = s.gs.base;
	q.read_mem = vcpu_quirk_read;
	q.write_mem = vcpu_quirk_write;
	q.cmpxchg16 = vcpu_quirk_cmpxchg16;
	q.opaque = &mem;

	if (quirk_decode(bytes, n, &q, &insn))
		return -1;

	bit = 1u << insn.kind;
	if (!(__atomic_fetch_or(&vm->quirk_seen, bit, __ATOMIC_RELAXED) & bit))
		vlab_log("finishing '%s' for the host's instruction emulator (logged once)",
			 quirk_kind_name(insn.kind));

	if (quirk_finish(&insn, &q) && q.inject_vector < 0)
		return -1;

	r.rax = q.gpr[0]; r.rcx = q.gpr[1]; r.rdx = q.gpr[2]; r.rbx = q.gpr[3];
	r.rsp = q.gpr[4]; r.rbp = q.gpr[5]; r.rsi = q.gpr[6]; r.rdi = q.gpr[7];
	r.r8 = q.gpr[8]; r.r9 = q.gpr[9]; r.r10 = q.gpr[10]; r.r11 = q.gpr[11];
	r.r12 = q.gpr[12]; r.r13 = q.gpr[13]; r.r14 = q.gpr[14]; r.r15 = q.gpr[15];
	r.rip = q.rip;
	r.rflags = q.rflags;
	if (ioctl(cpu->fd, KVM_SET_REGS, &r) < 0)
		return -1;
	if (q.mxcsr != fpu.mxcsr) {
		fpu.mxcsr = q.mxcsr;
		if (ioctl(cpu->fd, KVM_SET_FPU, &fpu) < 0)
			return -1;
	}
	if (q.inject_vector == 14) {
		s.cr2 = mem.fault_gva;
		if (ioctl(cpu->fd, KVM_SET_SREGS, &s) < 0)
			return -1;
		vcpu_inject(cpu, 14, true, mem.fault_err);
	} else if (q.inject_vector >= 0) {
		vcpu_inject(cpu, q.inject_vector, q.inject_has_error, q.inject_error);
	}
	return 0;
}

static void vcpu_handle_io(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool wr = run->io.direction == KVM_EXIT_IO_OUT;
	uint32_t i;

	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		if (!io_bus_access(&cpu->vm->pio, run->io.port, data, run->io.size, wr) && !wr)
			memset(data, 0xff, run->io.size);	/* nothing there: bus float */
	}
}

static void vcpu_handle_mmio(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;

	if (!io_bus_access(&cpu->vm->mmio, run->mmio.phys_addr, run->mmio.data,
			   run->mmio.len, run->mmio.is_write) && !run->mmio.is_write)
		memset(run->mmio.data, 0xff, run->mmio.len);
}

static void vcpu_crash(struct vcpu *cpu, const char *why)
{
	vlab_log("vCPU %d: %s", cpu->id, why);
	vcpu_dump(cpu, stderr);
	vm_stop(cpu->vm, VM_STOP_CRASH, VLAB_EXIT_GUEST_CRASH);
}

const char *vcpu_exit_kind_name(enum vcpu_exit_kind k)
{
	static const char *const names[VCPU_NR_EXIT_KINDS] = {
		[VCPU_EXIT_IO] = "io", [VCPU_EXIT_MMIO] = "mmio", [VCPU_EXIT_INTR] = "intr",
		[VCPU_EXIT_DIRTY_RING_FULL] = "dirty_ring_full",
		[VCPU_EXIT_EMULATION] = "emulation", [VCPU_EXIT_OTHER] = "other",
	};

	return k < VCPU_NR_EXIT_KINDS ? names[k] : "?";
}

static enum vcpu_exit_kind vcpu_exit_kind(const struct kvm_run *run)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return VCPU_EXIT_IO;
	case KVM_EXIT_MMIO:
		return VCPU_EXIT_MMIO;
	case KVM_EXIT_INTR:
		return VCPU_EXIT_INTR;
	case KVM_EXIT_DIRTY_RING_FULL:
		return VCPU_EXIT_DIRTY_RING_FULL;
	case KVM_EXIT_INTERNAL_ERROR:
		return VCPU_EXIT_EMULATION;
	default:
		return VCPU_EXIT_OTHER;
	}
}

/* One writer (this vCPU's thread): a relaxed load and store, no locked add. */
static void vcpu_count_exit(struct vcpu *cpu, enum vcpu_exit_kind k)
{
	__atomic_store_n(&cpu->exits_by[k], cpu->exits_by[k] + 1, __ATOMIC_RELAXED);
}

/* Handle one exit; false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	char why[128];

	vcpu_count_exit(cpu, vcpu_exit_kind(run));

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(cpu);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(cpu);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_DIRTY_RING_FULL:
		/*
		 * KVM will not run this vCPU again until its ring has room.
		 * Harvesting is bookkeeping, not device I/O, and must happen
		 * now, so the vCPU thread does it itself.
		 */
		__atomic_add_fetch(&cpu->vm->dirty_ring->nr_full_exits, 1, __ATOMIC_RELAXED);
		dirty_ring_harvest(cpu->vm);
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; treat as power-off. */
		vm_stop(cpu->vm, VM_STOP_POWEROFF, 0);
		return false;
	case KVM_EXIT_SHUTDOWN:
		vcpu_crash(cpu, "triple fault (guest crashed)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_stop(cpu->vm, VM_STOP_POWEROFF, 0);
			return false;
		case KVM_SYSTEM_EVENT_RESET:
			vm_stop(cpu->vm, VM_STOP_RESET, 0);
			return false;
		default:
			snprintf(why, sizeof(why), "system event %u", run->system_event.type);
			vcpu_crash(cpu, why);
			return false;
		}
	case KVM_EXIT_INTERNAL_ERROR:
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
		    cpu->vm->quirks && !vcpu_finish_rejected(cpu))
			return true;
		snprintf(why, sizeof(why), "KVM internal error, suberror %u%s",
			 run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
			 (cpu->vm->quirks ? " (instruction not finishable)" :
			  " (emulation failed; try --cpu-quirks on)") : "");
		vcpu_crash(cpu, why);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "VM entry failed, reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_crash(cpu, why);
		return false;
	default:
		snprintf(why, sizeof(why), "unhandled exit reason %u", run->exit_reason);
		vcpu_crash(cpu, why);
		return false;
	}
}

void *vcpu_thread(void *arg)
{
	struct vcpu *cpu = arg;
	struct vm *vm = cpu->vm;
	sigset_t set;

	vcpu_kick_install();
	sigemptyset(&set);
	sigaddset(&set, SIG_VCPU_KICK);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	while (__atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) == VM_RUNNING) {
		if (ioctl(cpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/*
				 * A kick: KVM has completed any pending I/O exit,
				 * so the vCPU state is consistent to park (and save).
				 */
				cpu->run->immediate_exit = 0;
				vcpu_count_exit(cpu, VCPU_EXIT_INTR);
				if (__atomic_load_n(&vm->paused, __ATOMIC_ACQUIRE))
					vm_park_vcpu(vm);
				continue;
			}
			vcpu_crash(cpu, strerror(errno));
			break;
		}
		cpu->exits++;
		if (!vcpu_handle_exit(cpu))
			break;
	}
	return NULL;
}
