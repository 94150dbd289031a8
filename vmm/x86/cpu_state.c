// SPDX-License-Identifier: GPL-2.0
/*
 * Save and restore what KVM holds for a VM (see cpu_state.h for the tree).
 *
 * Plain KVM structs are written through field tables, one property per
 * field, so a dump reads like the structs and a field that moves in a
 * future kernel header cannot silently shift the format. The LAPIC page
 * and the XSAVE area are architectural layouts and go in as bytes.
 */
#include <errno.h>
#include <libfdt.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/x86/cpu_state.h"
#include "vmm/core/vm.h"

#define MSR_IA32_TSC		0x00000010
#define MSR_MTRR_PHYSBASE0	0x00000200
#define MSR_MTRR_FIX64K		0x00000250
#define MSR_MTRR_FIX16K_80000	0x00000258
#define MSR_MTRR_FIX16K_A0000	0x00000259
#define MSR_MTRR_FIX4K_C0000	0x00000268
#define MSR_MTRR_DEF_TYPE	0x000002ff
#define MSR_IA32_TSC_DEADLINE	0x000006e0
#define MSR_TSC_AUX		0xc0000103

/* KVM emulates this many variable-range MTRR pairs (KVM_NR_VAR_MTRR). */
#define NR_VAR_MTRR		8

/* XSAVE legacy area (FXSAVE layout) and header, in bytes. */
#define XSAVE_LEGACY_SIZE	512
#define XSAVE_HDR_XSTATE_BV	512
#define XSTATE_FP_SSE		0x3ULL

#define fail(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

/* ---- field tables ---- */

#define R(m) STATE_UINT(struct kvm_regs, m, #m)
static const struct state_field regs_fields[] = {
	R(rax), R(rbx), R(rcx), R(rdx), R(rsi), R(rdi), R(rsp), R(rbp),
	R(r8), R(r9), R(r10), R(r11), R(r12), R(r13), R(r14), R(r15),
	R(rip), R(rflags),
};
#undef R

#define SEG(m, n) STATE_UINT(struct kvm_segment, m, n)
static const struct state_field segment_fields[] = {
	SEG(base, "base"), SEG(limit, "limit"), SEG(selector, "selector"),
	SEG(type, "type"), SEG(present, "present"), SEG(dpl, "dpl"), SEG(db, "db"),
	SEG(s, "s"), SEG(l, "l"), SEG(g, "g"), SEG(avl, "avl"),
	SEG(unusable, "unusable"),
};
#undef SEG

static const struct state_field dtable_fields[] = {
	STATE_UINT(struct kvm_dtable, base, "base"),
	STATE_UINT(struct kvm_dtable, limit, "limit"),
};

/* The part kvm_sregs and kvm_sregs2 share, laid out identically. */
#define S(m) STATE_UINT(struct kvm_sregs, m, #m)
static const struct state_field sregs_fields[] = {
	S(cr0), S(cr2), S(cr3), S(cr4), S(cr8), S(efer),
	STATE_UINT(struct kvm_sregs, apic_base, "apic-base"),
};
#undef S
_Static_assert(offsetof(struct kvm_sregs, apic_base) ==
	       offsetof(struct kvm_sregs2, apic_base),
	       "kvm_sregs and kvm_sregs2 must share their leading fields");

static const struct {
	const char *name;
	size_t off;
} sregs_segments[] = {
	{ "cs", offsetof(struct kvm_sregs, cs) },
	{ "ds", offsetof(struct kvm_sregs, ds) },
	{ "es", offsetof(struct kvm_sregs, es) },
	{ "fs", offsetof(struct kvm_sregs, fs) },
	{ "gs", offsetof(struct kvm_sregs, gs) },
	{ "ss", offsetof(struct kvm_sregs, ss) },
	{ "tr", offsetof(struct kvm_sregs, tr) },
	{ "ldt", offsetof(struct kvm_sregs, ldt) },
}, sregs_dtables[] = {
	{ "gdt", offsetof(struct kvm_sregs, gdt) },
	{ "idt", offsetof(struct kvm_sregs, idt) },
};

#define F(m, n) STATE_UINT(struct kvm_fpu, m, n)
static const struct state_field fpu_fields[] = {
	STATE_BYTES(struct kvm_fpu, fpr, "fpr"),
	F(fcw, "fcw"), F(fsw, "fsw"), F(ftwx, "ftwx"),
	F(last_opcode, "last-opcode"), F(last_ip, "last-ip"), F(last_dp, "last-dp"),
	STATE_BYTES(struct kvm_fpu, xmm, "xmm"),
	F(mxcsr, "mxcsr"),
};
#undef F

#define E(m, n) STATE_UINT(struct kvm_vcpu_events, m, n)
static const struct state_field events_fields[] = {
	E(exception.injected, "exception-injected"),
	E(exception.nr, "exception-nr"),
	E(exception.has_error_code, "exception-has-error-code"),
	E(exception.pending, "exception-pending"),
	E(exception.error_code, "exception-error-code"),
	E(interrupt.injected, "interrupt-injected"),
	E(interrupt.nr, "interrupt-nr"),
	E(interrupt.soft, "interrupt-soft"),
	E(interrupt.shadow, "interrupt-shadow"),
	E(nmi.injected, "nmi-injected"),
	E(nmi.pending, "nmi-pending"),
	E(nmi.masked, "nmi-masked"),
	E(sipi_vector, "sipi-vector"),
	E(flags, "flags"),
	E(smi.smm, "smi-smm"),
	E(smi.pending, "smi-pending"),
	E(smi.smm_inside_nmi, "smi-smm-inside-nmi"),
	E(smi.latched_init, "smi-latched-init"),
	E(triple_fault.pending, "triple-fault-pending"),
	E(exception_has_payload, "exception-has-payload"),
	E(exception_payload, "exception-payload"),
};
#undef E

static const struct state_field debugregs_fields[] = {
	STATE_U64_ARRAY(struct kvm_debugregs, db, "db"),
	STATE_UINT(struct kvm_debugregs, dr6, "dr6"),
	STATE_UINT(struct kvm_debugregs, dr7, "dr7"),
	STATE_UINT(struct kvm_debugregs, flags, "flags"),
};

#define P(m, n) STATE_UINT(struct kvm_pic_state, m, n)
static const struct state_field pic_fields[] = {
	P(last_irr, "last-irr"), P(irr, "irr"), P(imr, "imr"), P(isr, "isr"),
	P(priority_add, "priority-add"), P(irq_base, "irq-base"),
	P(read_reg_select, "read-reg-select"), P(poll, "poll"),
	P(special_mask, "special-mask"), P(init_state, "init-state"),
	P(auto_eoi, "auto-eoi"), P(rotate_on_auto_eoi, "rotate-on-auto-eoi"),
	P(special_fully_nested_mode, "special-fully-nested-mode"),
	P(init4, "init4"), P(elcr, "elcr"), P(elcr_mask, "elcr-mask"),
};
#undef P

static const struct state_field ioapic_fields[] = {
	STATE_UINT(struct kvm_ioapic_state, base_address, "base-address"),
	STATE_UINT(struct kvm_ioapic_state, ioregsel, "ioregsel"),
	STATE_UINT(struct kvm_ioapic_state, id, "id"),
	STATE_UINT(struct kvm_ioapic_state, irr, "irr"),
	STATE_U64_ARRAY(struct kvm_ioapic_state, redirtbl, "redirtbl"),
};

/*
 * count_load_time is left out on purpose: it is a host ktime, meaningless
 * on another host, and KVM_SET_PIT2 restarts each counter from "count" at
 * the moment of the ioctl anyway.
 */
#define C(m, n) STATE_UINT(struct kvm_pit_channel_state, m, n)
static const struct state_field pit_channel_fields[] = {
	C(count, "count"), C(latched_count, "latched-count"),
	C(count_latched, "count-latched"), C(status_latched, "status-latched"),
	C(status, "status"), C(read_state, "read-state"),
	C(write_state, "write-state"), C(write_latch, "write-latch"),
	C(rw_mode, "rw-mode"), C(mode, "mode"), C(bcd, "bcd"), C(gate, "gate"),
};
#undef C

static const struct state_field clock_fields[] = {
	STATE_UINT(struct kvm_clock_data, clock, "clock"),
	STATE_UINT(struct kvm_clock_data, flags, "flags"),
	STATE_UINT(struct kvm_clock_data, realtime, "realtime"),
	STATE_UINT(struct kvm_clock_data, host_tsc, "host-tsc"),
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- host capabilities and the MSR list, probed once per process ---- */

struct kvm_host_caps {
	int xsave_size;		/* 0: no XSAVE; else bytes KVM_GET_XSAVE(2) fills */
	bool xsave2;
	bool xcrs;
	bool sregs2;
	bool debugregs;
	bool tsc_control;
	uint32_t *msrs;		/* candidates for save */
	int nr_msrs;
};

static struct kvm_host_caps host_caps;
static int host_caps_err;
static pthread_mutex_t host_caps_lock = PTHREAD_MUTEX_INITIALIZER;
static bool host_caps_done;

static bool msr_listed(const uint32_t *list, int n, uint32_t idx)
{
	int i;

	for (i = 0; i < n; i++)
		if (list[i] == idx)
			return true;
	return false;
}

/*
 * Candidates: everything KVM_GET_MSR_INDEX_LIST names, plus the MTRRs and
 * TSC_AUX, which KVM emulates per vCPU but leaves out of that list
 * (userspace such as QEMU is expected to know them). vcpu_state_save then
 * keeps whichever of these KVM_GET_MSRS actually reads.
 */
static int probe_msrs(int kvm_fd, struct kvm_host_caps *c)
{
	struct kvm_msr_list probe = { .nmsrs = 0 }, *list;
	/* MTRRdefType, 3 fixed 64K/16K, 8 fixed 4K, the variable pairs, TSC_AUX. */
	uint32_t extra[4 + 8 + 2 * NR_VAR_MTRR + 1];
	int n_extra = 0, i;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return -errno;
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
	if (!list)
		return -ENOMEM;
	list->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return -errno;
	}

	extra[n_extra++] = MSR_MTRR_DEF_TYPE;
	extra[n_extra++] = MSR_MTRR_FIX64K;
	extra[n_extra++] = MSR_MTRR_FIX16K_80000;
	extra[n_extra++] = MSR_MTRR_FIX16K_A0000;
	for (i = 0; i < 8; i++)
		extra[n_extra++] = MSR_MTRR_FIX4K_C0000 + i;
	for (i = 0; i < 2 * NR_VAR_MTRR; i++)
		extra[n_extra++] = MSR_MTRR_PHYSBASE0 + i;
	extra[n_extra++] = MSR_TSC_AUX;

	c->msrs = calloc(list->nmsrs + n_extra, sizeof(uint32_t));
	if (!c->msrs) {
		free(list);
		return -ENOMEM;
	}
	memcpy(c->msrs, list->indices, list->nmsrs * sizeof(uint32_t));
	c->nr_msrs = list->nmsrs;
	for (i = 0; i < n_extra; i++)
		if (!msr_listed(c->msrs, c->nr_msrs, extra[i]))
			c->msrs[c->nr_msrs++] = extra[i];
	free(list);
	return 0;
}

static const struct kvm_host_caps *kvm_host_caps(struct vm *vm, int *errp)
{
	struct kvm_host_caps *c = &host_caps;
	int r;

	pthread_mutex_lock(&host_caps_lock);
	if (!host_caps_done) {
		r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
		c->xsave2 = r > 0;
		if (r > 0)
			c->xsave_size = r;
		else if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0)
			c->xsave_size = sizeof(struct kvm_xsave);
		c->xcrs = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
		c->sregs2 = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SREGS2) > 0;
		c->debugregs = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DEBUGREGS) > 0;
		c->tsc_control = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL) > 0;
		host_caps_err = probe_msrs(vm->kvm_fd, c);
		host_caps_done = true;
	}
	pthread_mutex_unlock(&host_caps_lock);
	*errp = host_caps_err;
	return host_caps_err ? NULL : c;
}

/* ---- vCPU save ---- */

struct vcpu_snapshot {
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	union {
		struct kvm_sregs s1;
		struct kvm_sregs2 s2;
	} sregs;
	bool sregs2;
	struct kvm_xsave *xsave;	/* NULL: fpu holds the FPU state */
	int xsave_size;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	bool has_xcrs;
	struct kvm_debugregs dbg;
	bool has_dbg;
	struct kvm_msrs *msrs;		/* the ones KVM_GET_MSRS read */
	uint32_t *refused;		/* listed, but KVM_GET_MSRS would not read */
	int nr_refused;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	int tsc_khz;			/* 0 if KVM cannot tell */
};

static void vcpu_snapshot_free(struct vcpu_snapshot *s)
{
	free(s->xsave);
	free(s->msrs);
	free(s->refused);
}

/*
 * KVM_GET_MSRS stops at the first MSR it cannot read and returns how many
 * it did. Read in a loop: keep what was read, note the refused one, carry
 * on after it.
 */
static int read_msrs(struct vcpu *cpu, const struct kvm_host_caps *c,
		     struct vcpu_snapshot *s, struct state_buf *sb)
{
	size_t hdr = sizeof(struct kvm_msrs), ent = sizeof(struct kvm_msr_entry);
	struct kvm_msrs *todo;
	int i, done = 0, left = c->nr_msrs;

	todo = calloc(1, hdr + left * ent);
	s->msrs = calloc(1, hdr + left * ent);
	s->refused = calloc(left ? left : 1, sizeof(uint32_t));
	if (!todo || !s->msrs || !s->refused) {
		free(todo);
		return state_buf_fail(sb, -ENOMEM, "out of memory");
	}
	for (i = 0; i < left; i++)
		todo->entries[i].index = c->msrs[i];
	while (left > 0) {
		int r;

		todo->nmsrs = left;
		r = ioctl(cpu->fd, KVM_GET_MSRS, todo);
		if (r < 0) {
			free(todo);
			return state_buf_fail(sb, -errno, "vCPU %d: KVM_GET_MSRS: %s",
					      cpu->id, strerror(errno));
		}
		memcpy(&s->msrs->entries[done], todo->entries, r * ent);
		done += r;
		if (r == left)
			break;
		s->refused[s->nr_refused++] = todo->entries[r].index;
		left -= r + 1;
		memmove(todo->entries, &todo->entries[r + 1], left * ent);
	}
	s->msrs->nmsrs = done;
	free(todo);
	return 0;
}

#define vcpu_ioctl(cpu, sb, req, arg)					\
	(ioctl((cpu)->fd, (req), (arg)) < 0 ?				\
	 state_buf_fail((sb), -errno, "vCPU %d: " #req ": %s",		\
			(cpu)->id, strerror(errno)) : 0)

/*
 * Gather in the order Firecracker and QEMU found safe: MP state first,
 * because KVM_GET_MP_STATE processes pending INIT/SIPI and may change
 * the LAPIC and registers; the LAPIC before the events, and the events
 * last, because the other GETs may still move an interrupt along.
 */
static int vcpu_snapshot_take(struct vcpu *cpu, const struct kvm_host_caps *c,
			      struct vcpu_snapshot *s, struct state_buf *sb)
{
	memset(s, 0, sizeof(*s));
	if (vcpu_ioctl(cpu, sb, KVM_GET_MP_STATE, &s->mp) ||
	    vcpu_ioctl(cpu, sb, KVM_GET_REGS, &s->regs))
		return sb->err;
	s->sregs2 = c->sregs2;
	if (s->sregs2 ? vcpu_ioctl(cpu, sb, KVM_GET_SREGS2, &s->sregs.s2) :
			vcpu_ioctl(cpu, sb, KVM_GET_SREGS, &s->sregs.s1))
		return sb->err;
	if (c->xsave_size) {
		s->xsave_size = c->xsave_size;
		s->xsave = calloc(1, c->xsave_size);
		if (!s->xsave)
			return state_buf_fail(sb, -ENOMEM, "out of memory");
		if (c->xsave2 ? vcpu_ioctl(cpu, sb, KVM_GET_XSAVE2, s->xsave) :
				vcpu_ioctl(cpu, sb, KVM_GET_XSAVE, s->xsave))
			return sb->err;
	} else if (vcpu_ioctl(cpu, sb, KVM_GET_FPU, &s->fpu)) {
		return sb->err;
	}
	s->has_xcrs = c->xcrs;
	if (s->has_xcrs && vcpu_ioctl(cpu, sb, KVM_GET_XCRS, &s->xcrs))
		return sb->err;
	s->has_dbg = c->debugregs;
	if (s->has_dbg && vcpu_ioctl(cpu, sb, KVM_GET_DEBUGREGS, &s->dbg))
		return sb->err;
	if (read_msrs(cpu, c, s, sb))
		return sb->err;
	if (vcpu_ioctl(cpu, sb, KVM_GET_LAPIC, &s->lapic) ||
	    vcpu_ioctl(cpu, sb, KVM_GET_VCPU_EVENTS, &s->events))
		return sb->err;
	s->tsc_khz = ioctl(cpu->fd, KVM_GET_TSC_KHZ, 0);
	if (s->tsc_khz < 0)
		s->tsc_khz = 0;
	return 0;
}

static void put_sregs(struct state_buf *sb, const struct vcpu_snapshot *s)
{
	/* The shared leading part is at the same offsets in both structs. */
	const uint8_t *base = (const uint8_t *)&s->sregs;
	size_t i;

	state_begin_node(sb, "sregs", CPU_STATE_VERSION);
	state_put_fields(sb, base, sregs_fields, NELEM(sregs_fields));
	if (s->sregs2) {
		state_put_u32(sb, "flags", s->sregs.s2.flags);
		state_put_u64_array(sb, "pdptrs", (const uint64_t *)s->sregs.s2.pdptrs, 4);
	} else {
		state_put_u64_array(sb, "interrupt-bitmap",
				    (const uint64_t *)s->sregs.s1.interrupt_bitmap, 4);
	}
	for (i = 0; i < NELEM(sregs_segments); i++)
		state_put_struct(sb, sregs_segments[i].name, CPU_STATE_VERSION,
				 base + sregs_segments[i].off, segment_fields,
				 NELEM(segment_fields));
	for (i = 0; i < NELEM(sregs_dtables); i++)
		state_put_struct(sb, sregs_dtables[i].name, CPU_STATE_VERSION,
				 base + sregs_dtables[i].off, dtable_fields,
				 NELEM(dtable_fields));
	state_end_node(sb);
}

static void put_msrs(struct state_buf *sb, const struct vcpu_snapshot *s)
{
	uint32_t i;

	state_begin_node(sb, "msrs", CPU_STATE_VERSION);
	/* For whoever reads a dump: what this host would not let us save. */
	if (s->nr_refused) {
		fdt32_t *p = state_put_placeholder(sb, "refused",
						   s->nr_refused * sizeof(fdt32_t));

		for (i = 0; p && i < (uint32_t)s->nr_refused; i++)
			p[i] = cpu_to_fdt32(s->refused[i]);
	}
	for (i = 0; i < s->msrs->nmsrs; i++) {
		char name[16];

		snprintf(name, sizeof(name), "0x%08x", s->msrs->entries[i].index);
		state_put_u64(sb, name, s->msrs->entries[i].data);
	}
	state_end_node(sb);
}

int vcpu_state_save(struct vcpu *cpu, struct state_buf *sb)
{
	const struct kvm_host_caps *c;
	struct vcpu_snapshot s;
	uint32_t i;
	int ret;

	if (sb->err)
		return sb->err;
	c = kvm_host_caps(cpu->vm, &ret);
	if (!c)
		return state_buf_fail(sb, ret, "cannot list KVM's MSRs: %s", strerror(-ret));
	if (vcpu_snapshot_take(cpu, c, &s, sb))
		goto out;

	state_begin_nodef(sb, CPU_STATE_VERSION, "cpu@%d", cpu->id);
	/* Properties first: an FDT node lists them before its children. */
	state_put_u32(sb, "mp-state", s.mp.mp_state);
	if (s.tsc_khz)
		state_put_u32(sb, "tsc-khz", s.tsc_khz);
	state_put_bytes(sb, "lapic", s.lapic.regs, sizeof(s.lapic.regs));
	if (s.xsave)
		state_put_bytes(sb, "xsave", s.xsave, s.xsave_size);

	state_begin_node(sb, "regs", CPU_STATE_VERSION);
	state_put_fields(sb, &s.regs, regs_fields, NELEM(regs_fields));
	state_end_node(sb);
	put_sregs(sb, &s);
	if (!s.xsave) {
		state_begin_node(sb, "fpu", CPU_STATE_VERSION);
		state_put_fields(sb, &s.fpu, fpu_fields, NELEM(fpu_fields));
		state_end_node(sb);
	}
	if (s.has_xcrs) {
		state_begin_node(sb, "xcrs", CPU_STATE_VERSION);
		state_put_u32(sb, "flags", s.xcrs.flags);
		for (i = 0; i < s.xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++) {
			char name[16];

			snprintf(name, sizeof(name), "xcr%u", s.xcrs.xcrs[i].xcr);
			state_put_u64(sb, name, s.xcrs.xcrs[i].value);
		}
		state_end_node(sb);
	}
	put_msrs(sb, &s);
	if (s.has_dbg) {
		state_begin_node(sb, "debugregs", CPU_STATE_VERSION);
		state_put_fields(sb, &s.dbg, debugregs_fields, NELEM(debugregs_fields));
		state_end_node(sb);
	}
	state_begin_node(sb, "events", CPU_STATE_VERSION);
	state_put_fields(sb, &s.events, events_fields, NELEM(events_fields));
	state_end_node(sb);
	state_end_node(sb);
out:
	vcpu_snapshot_free(&s);
	return sb->err;
}

/* ---- vCPU load ---- */

static const char *cpu_name(const struct vcpu *cpu, char *buf, size_t len)
{
	snprintf(buf, len, "vCPU %d", cpu->id);
	return buf;
}

#define load_ioctl(cpu, req, arg)						\
	do {									\
		char __n[16];							\
										\
		if (ioctl((cpu)->fd, (req), (arg)) < 0)				\
			fail("%s: " #req ": %s", cpu_name(cpu, __n, sizeof(__n)), \
			     strerror(errno));					\
	} while (0)

static int load_sregs(struct vcpu *cpu, const struct kvm_host_caps *c, const void *fdt,
		      int parent, char *err, size_t errlen)
{
	union {
		struct kvm_sregs s1;
		struct kvm_sregs2 s2;
	} u;
	uint8_t *base = (uint8_t *)&u;
	bool saved2;
	size_t i;
	int node;

	memset(&u, 0, sizeof(u));
	node = state_subnode(fdt, parent, "sregs", CPU_STATE_VERSION, NULL, err, errlen);
	if (node < 0 || state_get_fields(fdt, node, base, sregs_fields,
					 NELEM(sregs_fields), err, errlen))
		return -1;
	for (i = 0; i < NELEM(sregs_segments); i++)
		if (state_get_struct(fdt, node, sregs_segments[i].name, CPU_STATE_VERSION,
				     base + sregs_segments[i].off, segment_fields,
				     NELEM(segment_fields), err, errlen))
			return -1;
	for (i = 0; i < NELEM(sregs_dtables); i++)
		if (state_get_struct(fdt, node, sregs_dtables[i].name, CPU_STATE_VERSION,
				     base + sregs_dtables[i].off, dtable_fields,
				     NELEM(dtable_fields), err, errlen))
			return -1;

	/*
	 * Either flavour loads on either host. From SREGS to SREGS2 the
	 * interrupt bitmap is dropped: it only mirrors an injected external
	 * interrupt, which the events node restores. From SREGS2 to SREGS the
	 * PDPTRs are dropped and KVM reloads them from CR3 for PAE paging,
	 * as it always did before SREGS2.
	 */
	saved2 = state_has(fdt, node, "pdptrs");
	if (c->sregs2) {
		if (saved2) {
			uint32_t flags;

			if (state_get_u32(fdt, node, "flags", &flags, err, errlen) ||
			    state_get_u64_array(fdt, node, "pdptrs", (uint64_t *)u.s2.pdptrs, 4,
						err, errlen))
				return -1;
			u.s2.flags = flags;
		} else {
			memset(u.s2.pdptrs, 0, sizeof(u.s2.pdptrs));
			u.s2.flags = 0;
		}
		load_ioctl(cpu, KVM_SET_SREGS2, &u.s2);
	} else {
		memset(u.s1.interrupt_bitmap, 0, sizeof(u.s1.interrupt_bitmap));
		if (!saved2 && state_get_u64_array(fdt, node, "interrupt-bitmap",
						   (uint64_t *)u.s1.interrupt_bitmap, 4, err, errlen))
			return -1;
		load_ioctl(cpu, KVM_SET_SREGS, &u.s1);
	}
	return 0;
}

/* FXSAVE layout <-> struct kvm_fpu, for a blob and a host that disagree on XSAVE. */
static void fxsave_to_fpu(const uint8_t *fx, struct kvm_fpu *fpu)
{
	memset(fpu, 0, sizeof(*fpu));
	memcpy(&fpu->fcw, fx + 0, 2);
	memcpy(&fpu->fsw, fx + 2, 2);
	fpu->ftwx = fx[4];
	memcpy(&fpu->last_opcode, fx + 6, 2);
	memcpy(&fpu->last_ip, fx + 8, 8);
	memcpy(&fpu->last_dp, fx + 16, 8);
	memcpy(&fpu->mxcsr, fx + 24, 4);
	memcpy(fpu->fpr, fx + 32, sizeof(fpu->fpr));
	memcpy(fpu->xmm, fx + 160, sizeof(fpu->xmm));
}

static void fpu_to_fxsave(const struct kvm_fpu *fpu, uint8_t *fx)
{
	memcpy(fx + 0, &fpu->fcw, 2);
	memcpy(fx + 2, &fpu->fsw, 2);
	fx[4] = fpu->ftwx;
	memcpy(fx + 6, &fpu->last_opcode, 2);
	memcpy(fx + 8, &fpu->last_ip, 8);
	memcpy(fx + 16, &fpu->last_dp, 8);
	memcpy(fx + 24, &fpu->mxcsr, 4);
	memcpy(fx + 32, fpu->fpr, sizeof(fpu->fpr));
	memcpy(fx + 160, fpu->xmm, sizeof(fpu->xmm));
}

static int load_fpu(struct vcpu *cpu, const struct kvm_host_caps *c, const void *fdt,
		    int node, char *err, size_t errlen)
{
	struct kvm_fpu fpu;
	const uint8_t *xs = NULL;
	size_t len = 0;
	int sub;

	if (state_has(fdt, node, "xsave")) {
		xs = state_get_blob(fdt, node, "xsave", &len, err, errlen);
		if (!xs)
			return -1;
		if (len < sizeof(struct kvm_xsave))
			fail("vCPU %d: xsave is %zu bytes, want at least %zu", cpu->id,
			     len, sizeof(struct kvm_xsave));
	} else {
		sub = state_subnode(fdt, node, "fpu", CPU_STATE_VERSION, NULL, err, errlen);
		if (sub < 0 || state_get_fields(fdt, sub, &fpu, fpu_fields,
						NELEM(fpu_fields), err, errlen))
			return -1;
	}

	if (c->xsave_size) {
		/*
		 * KVM_SET_XSAVE reads as many bytes as this host's XSAVE area
		 * (KVM_CAP_XSAVE2); a shorter blob is padded with zeroes,
		 * which means "component in its initial state".
		 */
		size_t size = c->xsave_size > (int)len ? (size_t)c->xsave_size : len;
		uint8_t *buf = calloc(1, size);
		int ret;

		if (!buf)
			fail("out of memory");
		if (xs) {
			memcpy(buf, xs, len);
		} else {
			uint64_t bv = XSTATE_FP_SSE;

			fpu_to_fxsave(&fpu, buf);
			memcpy(buf + XSAVE_HDR_XSTATE_BV, &bv, sizeof(bv));
		}
		ret = ioctl(cpu->fd, KVM_SET_XSAVE, buf);
		free(buf);
		if (ret < 0)
			fail("vCPU %d: KVM_SET_XSAVE: %s", cpu->id, strerror(errno));
		return 0;
	}
	if (xs) {
		uint64_t bv;

		/* Only x87 and SSE state survive the trip through KVM_SET_FPU. */
		memcpy(&bv, xs + XSAVE_HDR_XSTATE_BV, sizeof(bv));
		if (bv & ~XSTATE_FP_SSE)
			fail("vCPU %d: saved XSAVE state has components 0x%llx this host "
			     "cannot load without KVM_CAP_XSAVE", cpu->id,
			     (unsigned long long)(bv & ~XSTATE_FP_SSE));
		fxsave_to_fpu(xs, &fpu);
	}
	load_ioctl(cpu, KVM_SET_FPU, &fpu);
	return 0;
}

static int load_xcrs(struct vcpu *cpu, const struct kvm_host_caps *c, const void *fdt,
		     int parent, char *err, size_t errlen)
{
	struct kvm_xcrs xcrs;
	uint32_t flags;
	int node, prop;

	if (fdt_subnode_offset(fdt, parent, "xcrs") < 0)
		return 0;
	node = state_subnode(fdt, parent, "xcrs", CPU_STATE_VERSION, NULL, err, errlen);
	if (node < 0 || state_get_u32(fdt, node, "flags", &flags, err, errlen))
		return -1;
	memset(&xcrs, 0, sizeof(xcrs));
	xcrs.flags = flags;
	fdt_for_each_property_offset(prop, fdt, node) {
		const char *name;
		unsigned int idx;
		int n = 0;

		if (!fdt_getprop_by_offset(fdt, prop, &name, NULL))
			continue;
		if (sscanf(name, "xcr%u%n", &idx, &n) != 1 || name[n])
			continue;
		if (xcrs.nr_xcrs >= KVM_MAX_XCRS)
			fail("vCPU %d: more than %d XCRs", cpu->id, KVM_MAX_XCRS);
		xcrs.xcrs[xcrs.nr_xcrs].xcr = idx;
		if (state_get_u64(fdt, node, name, (uint64_t *)&xcrs.xcrs[xcrs.nr_xcrs].value,
				  err, errlen))
			return -1;
		xcrs.nr_xcrs++;
	}
	/* A guest without XSAVE in CPUID has no XCR0 to restore. */
	if (!xcrs.nr_xcrs)
		return 0;
	if (!c->xcrs)
		fail("vCPU %d: state has XCRs but this host lacks KVM_CAP_XCRS", cpu->id);
	load_ioctl(cpu, KVM_SET_XCRS, &xcrs);
	return 0;
}

/*
 * KVM_SET_MSRS also stops at the first MSR it refuses and returns how
 * many it set: anything short of all of them names the culprit.
 */
static int set_msrs(struct vcpu *cpu, struct kvm_msrs *m, char *err, size_t errlen)
{
	int r;

	if (!m->nmsrs)
		return 0;
	r = ioctl(cpu->fd, KVM_SET_MSRS, m);
	if (r < 0)
		fail("vCPU %d: KVM_SET_MSRS: %s", cpu->id, strerror(errno));
	if ((uint32_t)r < m->nmsrs)
		fail("vCPU %d: KVM_SET_MSRS refused MSR 0x%08x = 0x%llx (entry %d of %u)",
		     cpu->id, m->entries[r].index,
		     (unsigned long long)m->entries[r].data, r + 1, m->nmsrs);
	return 0;
}

/* Split the saved MSRs: TSC_DEADLINE must wait for the LAPIC. */
static int read_saved_msrs(struct vcpu *cpu, const void *fdt, int parent,
			   struct kvm_msrs **main, struct kvm_msrs **late,
			   char *err, size_t errlen)
{
	size_t hdr = sizeof(struct kvm_msrs), ent = sizeof(struct kvm_msr_entry);
	int node, prop, n = 0;

	node = state_subnode(fdt, parent, "msrs", CPU_STATE_VERSION, NULL, err, errlen);
	if (node < 0)
		return -1;
	fdt_for_each_property_offset(prop, fdt, node)
		n++;
	*main = calloc(1, hdr + n * ent);
	*late = calloc(1, hdr + ent);
	if (!*main || !*late)
		fail("out of memory");
	fdt_for_each_property_offset(prop, fdt, node) {
		struct kvm_msr_entry e = { 0 };
		const char *name;
		unsigned int idx;
		int len = 0, k = 0;

		const void *val;
		fdt64_t be;

		val = fdt_getprop_by_offset(fdt, prop, &name, &len);
		if (!val)
			continue;
		if (!strcmp(name, "version") || !strcmp(name, "refused"))
			continue;
		if (sscanf(name, "0x%8x%n", &idx, &k) != 1 || name[k] || k != 10)
			fail("vCPU %d: msrs: unexpected property \"%s\"", cpu->id, name);
		if (len != sizeof(be))
			fail("vCPU %d: msrs: \"%s\" is %d bytes, want 8 (u64)", cpu->id,
			     name, len);
		memcpy(&be, val, sizeof(be));
		e.index = idx;
		e.data = fdt64_to_cpu(be);
		if (idx == MSR_IA32_TSC_DEADLINE)
			(*late)->entries[(*late)->nmsrs++] = e;
		else
			(*main)->entries[(*main)->nmsrs++] = e;
	}
	return 0;
}

/*
 * Restore order, after QEMU's kvm_arch_put_registers() and the KVM API
 * documentation, with the reason for each step:
 *  1. TSC rate, if it differs and KVM can scale: before the TSC value.
 *  2. sregs: CR0/CR4/EFER set the mode other state is checked against,
 *     and APIC_BASE (xAPIC or x2APIC) decides how KVM_SET_LAPIC reads
 *     the APIC ID.
 *  3. regs, FPU/XSAVE, XCRs.
 *  4. MSRs, TSC included, but not TSC_DEADLINE.
 *  5. LAPIC, then TSC_DEADLINE: KVM only arms the deadline when the
 *     restored LVT timer is in TSC-deadline mode, and compares it with
 *     the TSC restored in step 4.
 *  6. events after the LAPIC: an injected interrupt or NMI belongs to the
 *     restored LAPIC state, and KVM_SET_LAPIC must not be left to
 *     re-evaluate over them.
 *  7. debug registers.
 *  8. MP state last, so that nothing above (LAPIC, events) leaves the
 *     vCPU runnable or halted differently from how it was saved.
 * CPUID is not restored: vcpu_create() set it from the same configuration.
 */
int vcpu_state_load(struct vcpu *cpu, const void *fdt, int node, char *err, size_t errlen)
{
	const struct kvm_host_caps *c;
	struct kvm_msrs *msrs = NULL, *late = NULL;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_debugregs dbg;
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	uint32_t khz;
	int sub, ret = -1, e;

	c = kvm_host_caps(cpu->vm, &e);
	if (!c)
		fail("cannot list KVM's MSRs: %s", strerror(-e));
	if (state_node_version(fdt, node, CPU_STATE_VERSION, err, errlen) < 0)
		return -1;

	if (state_has(fdt, node, "tsc-khz") && c->tsc_control) {
		if (state_get_u32(fdt, node, "tsc-khz", &khz, err, errlen))
			return -1;
		/*
		 * Best effort, as in QEMU: a TSC rate KVM cannot match should
		 * not stop a migration; the guest then runs at this host's rate.
		 */
		if ((int)khz != ioctl(cpu->fd, KVM_GET_TSC_KHZ, 0) &&
		    ioctl(cpu->fd, KVM_SET_TSC_KHZ, khz) < 0)
			vlab_log("vCPU %d: cannot set the TSC to %u kHz: %s", cpu->id,
				 khz, strerror(errno));
	}

	if (load_sregs(cpu, c, fdt, node, err, errlen))
		return -1;

	sub = state_subnode(fdt, node, "regs", CPU_STATE_VERSION, NULL, err, errlen);
	if (sub < 0 || state_get_fields(fdt, sub, &regs, regs_fields, NELEM(regs_fields),
					err, errlen))
		return -1;
	load_ioctl(cpu, KVM_SET_REGS, &regs);

	if (load_fpu(cpu, c, fdt, node, err, errlen) ||
	    load_xcrs(cpu, c, fdt, node, err, errlen))
		return -1;

	if (read_saved_msrs(cpu, fdt, node, &msrs, &late, err, errlen) ||
	    set_msrs(cpu, msrs, err, errlen))
		goto out;

	if (state_get_bytes(fdt, node, "lapic", lapic.regs, sizeof(lapic.regs),
			    err, errlen))
		goto out;
	if (ioctl(cpu->fd, KVM_SET_LAPIC, &lapic) < 0) {
		snprintf(err, errlen, "vCPU %d: KVM_SET_LAPIC: %s", cpu->id, strerror(errno));
		goto out;
	}
	if (set_msrs(cpu, late, err, errlen))
		goto out;

	memset(&ev, 0, sizeof(ev));
	sub = state_subnode(fdt, node, "events", CPU_STATE_VERSION, NULL, err, errlen);
	if (sub < 0 || state_get_fields(fdt, sub, &ev, events_fields,
					NELEM(events_fields), err, errlen))
		goto out;
	/*
	 * The GET flags say which optional parts were filled; on SET these
	 * bits say which parts to apply. NMI pending, SIPI vector and the
	 * interrupt shadow are always filled by GET, so always apply them.
	 */
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
		    KVM_VCPUEVENT_VALID_SHADOW;
	/*
	 * A source with KVM_CAP_EXCEPTION_PAYLOAD may have saved a pending
	 * exception and its payload apart; without the cap here KVM cannot
	 * take them, and dropping the payload would lose the guest's CR2.
	 */
	if ((ev.flags & KVM_VCPUEVENT_VALID_PAYLOAD) && !cpu->vm->exception_payload) {
		if (ev.exception.pending || ev.exception_has_payload) {
			snprintf(err, errlen, "vCPU %d: a pending exception with its payload "
				 "needs KVM_CAP_EXCEPTION_PAYLOAD, which this host lacks",
				 cpu->id);
			goto out;
		}
		ev.flags &= ~KVM_VCPUEVENT_VALID_PAYLOAD;
	}
	if (ioctl(cpu->fd, KVM_SET_VCPU_EVENTS, &ev) < 0) {
		snprintf(err, errlen, "vCPU %d: KVM_SET_VCPU_EVENTS: %s", cpu->id,
			 strerror(errno));
		goto out;
	}

	if (fdt_subnode_offset(fdt, node, "debugregs") >= 0) {
		memset(&dbg, 0, sizeof(dbg));
		sub = state_subnode(fdt, node, "debugregs", CPU_STATE_VERSION, NULL,
				    err, errlen);
		if (sub < 0 || state_get_fields(fdt, sub, &dbg, debugregs_fields,
						NELEM(debugregs_fields), err, errlen))
			goto out;
		if (ioctl(cpu->fd, KVM_SET_DEBUGREGS, &dbg) < 0) {
			snprintf(err, errlen, "vCPU %d: KVM_SET_DEBUGREGS: %s", cpu->id,
				 strerror(errno));
			goto out;
		}
	}

	if (state_get_u32(fdt, node, "mp-state", &mp.mp_state, err, errlen))
		goto out;
	if (ioctl(cpu->fd, KVM_SET_MP_STATE, &mp) < 0) {
		snprintf(err, errlen, "vCPU %d: KVM_SET_MP_STATE %u: %s", cpu->id,
			 mp.mp_state, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(msrs);
	free(late);
	return ret;
}

/* ---- VM-wide: PIC, IOAPIC, PIT, kvmclock ---- */

static const struct {
	const char *name;
	uint32_t chip_id;
} irqchips[] = {
	{ "pic-master", KVM_IRQCHIP_PIC_MASTER },
	{ "pic-slave", KVM_IRQCHIP_PIC_SLAVE },
	{ "ioapic", KVM_IRQCHIP_IOAPIC },
};

#define vm_ioctl(vm, sb, req, arg)					\
	(ioctl((vm)->vm_fd, (req), (arg)) < 0 ?				\
	 state_buf_fail((sb), -errno, #req ": %s", strerror(errno)) : 0)

int vm_irqchip_state_save(struct vm *vm, struct state_buf *sb)
{
	struct kvm_pit_state2 pit;
	size_t i;

	state_begin_node(sb, "irqchip", IRQCHIP_STATE_VERSION);
	for (i = 0; i < NELEM(irqchips); i++) {
		struct kvm_irqchip chip = { .chip_id = irqchips[i].chip_id };

		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
			return state_buf_fail(sb, -errno, "KVM_GET_IRQCHIP %s: %s",
					      irqchips[i].name, strerror(errno));
		state_begin_node(sb, irqchips[i].name, IRQCHIP_STATE_VERSION);
		if (chip.chip_id == KVM_IRQCHIP_IOAPIC)
			state_put_fields(sb, &chip.chip.ioapic, ioapic_fields,
					 NELEM(ioapic_fields));
		else
			state_put_fields(sb, &chip.chip.pic, pic_fields, NELEM(pic_fields));
		state_end_node(sb);
	}
	state_end_node(sb);

	if (vm_ioctl(vm, sb, KVM_GET_PIT2, &pit))
		return sb->err;
	state_begin_node(sb, "pit", IRQCHIP_STATE_VERSION);
	state_put_u32(sb, "flags", pit.flags);
	for (i = 0; i < 3; i++) {
		state_begin_nodef(sb, IRQCHIP_STATE_VERSION, "channel@%zu", i);
		state_put_fields(sb, &pit.channels[i], pit_channel_fields,
				 NELEM(pit_channel_fields));
		state_end_node(sb);
	}
	state_end_node(sb);
	return sb->err;
}

int vm_irqchip_state_load(struct vm *vm, const void *fdt, int parent, char *err,
			  size_t errlen)
{
	struct kvm_pit_state2 pit;
	int node, sub;
	size_t i;

	node = state_subnode(fdt, parent, "irqchip", IRQCHIP_STATE_VERSION, NULL,
			     err, errlen);
	if (node < 0)
		return -1;
	for (i = 0; i < NELEM(irqchips); i++) {
		struct kvm_irqchip chip;

		/* Start from KVM's view so fields we do not save keep their value. */
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = irqchips[i].chip_id;
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
			fail("KVM_GET_IRQCHIP %s: %s", irqchips[i].name, strerror(errno));
		sub = state_subnode(fdt, node, irqchips[i].name, IRQCHIP_STATE_VERSION,
				    NULL, err, errlen);
		if (sub < 0)
			return -1;
		if (chip.chip_id == KVM_IRQCHIP_IOAPIC ?
		    state_get_fields(fdt, sub, &chip.chip.ioapic, ioapic_fields,
				     NELEM(ioapic_fields), err, errlen) :
		    state_get_fields(fdt, sub, &chip.chip.pic, pic_fields,
				     NELEM(pic_fields), err, errlen))
			return -1;
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip) < 0)
			fail("KVM_SET_IRQCHIP %s: %s", irqchips[i].name, strerror(errno));
	}

	node = state_subnode(fdt, parent, "pit", IRQCHIP_STATE_VERSION, NULL, err, errlen);
	if (node < 0)
		return -1;
	memset(&pit, 0, sizeof(pit));
	if (state_get_u32(fdt, node, "flags", &pit.flags, err, errlen))
		return -1;
	for (i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "channel@%zu", i);
		sub = state_subnode(fdt, node, name, IRQCHIP_STATE_VERSION, NULL, err, errlen);
		if (sub < 0 || state_get_fields(fdt, sub, &pit.channels[i],
						pit_channel_fields,
						NELEM(pit_channel_fields), err, errlen))
			return -1;
	}
	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &pit) < 0)
		fail("KVM_SET_PIT2: %s", strerror(errno));
	return 0;
}

int vm_clock_state_save(struct vm *vm, struct state_buf *sb)
{
	struct kvm_clock_data clock;

	memset(&clock, 0, sizeof(clock));
	if (vm_ioctl(vm, sb, KVM_GET_CLOCK, &clock))
		return sb->err;
	state_begin_node(sb, "clock", CLOCK_STATE_VERSION);
	state_put_fields(sb, &clock, clock_fields, NELEM(clock_fields));
	return state_end_node(sb);
}

/*
 * kvmclock resumes at the saved value, with flags 0: the guest sees no
 * time pass while it was not running, the same as its TSC, which the MSRs
 * restore to the saved count. Keeping the two consistent matters more
 * than wall-clock time, which the guest corrects like after any pause.
 * (KVM_CLOCK_REALTIME with the saved "realtime" would instead advance
 * kvmclock by the time spent outside, for callers that want that.)
 */
int vm_clock_state_load(struct vm *vm, const void *fdt, int parent, char *err,
			size_t errlen)
{
	struct kvm_clock_data clock, saved;
	int node;

	node = state_subnode(fdt, parent, "clock", CLOCK_STATE_VERSION, NULL, err, errlen);
	if (node < 0 || state_get_fields(fdt, node, &saved, clock_fields,
					 NELEM(clock_fields), err, errlen))
		return -1;
	memset(&clock, 0, sizeof(clock));
	clock.clock = saved.clock;
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		fail("KVM_SET_CLOCK: %s", strerror(errno));
	return 0;
}

int vm_kvm_state_save(struct vm *vm, struct state_buf *sb)
{
	int i;

	state_begin_node(sb, "kvm", KVM_STATE_VERSION);
	state_put_u32(sb, "nr-cpus", vm->nr_cpus);
	for (i = 0; i < vm->nr_cpus && !sb->err; i++)
		vcpu_state_save(&vm->cpus[i], sb);
	vm_irqchip_state_save(vm, sb);
	vm_clock_state_save(vm, sb);
	return state_end_node(sb);
}

/*
 * PIC, IOAPIC and PIT before the vCPUs: restoring an IOAPIC or PIC may
 * deliver an interrupt to a LAPIC, and loading the LAPIC afterwards makes
 * its IRR/ISR exactly what was saved. kvmclock last, after every vCPU's
 * TSC is back, so KVM computes it against the final TSC offsets.
 */
int vm_kvm_state_load(struct vm *vm, const void *fdt, char *err, size_t errlen)
{
	uint32_t nr;
	int node, i;

	node = state_subnode(fdt, 0, "kvm", KVM_STATE_VERSION, NULL, err, errlen);
	if (node < 0 || state_get_u32(fdt, node, "nr-cpus", &nr, err, errlen))
		return -1;
	if (nr != (uint32_t)vm->nr_cpus)
		fail("state has %u vCPUs, this VM has %d", nr, vm->nr_cpus);
	if (vm_irqchip_state_load(vm, fdt, node, err, errlen))
		return -1;
	for (i = 0; i < vm->nr_cpus; i++) {
		char name[16];
		int cpu;

		snprintf(name, sizeof(name), "cpu@%d", vm->cpus[i].id);
		cpu = fdt_subnode_offset(fdt, node, name);
		if (cpu < 0)
			fail("/kvm: no node \"%s\"", name);
		if (vcpu_state_load(&vm->cpus[i], fdt, cpu, err, errlen))
			return -1;
	}
	return vm_clock_state_load(vm, fdt, node, err, errlen);
}
