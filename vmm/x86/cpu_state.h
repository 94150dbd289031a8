/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Everything KVM holds for a VM, saved into and restored from the state
 * tree (vmm/migrate/state.h): per vCPU the registers, special registers, FPU/XSAVE,
 * XCRs, MSRs (TSC included), LAPIC, pending events, MP state and debug
 * registers; per VM the PICs, IOAPIC, PIT and kvmclock.
 *
 *	/kvm				version, nr-cpus
 *		cpu@N			version, mp-state, tsc-khz, lapic, xsave
 *			regs, sregs (cs ... ldt, gdt, idt), fpu (no XSAVE),
 *			xcrs, msrs, debugregs, events
 *		irqchip			pic-master, pic-slave, ioapic
 *		pit			channel@0..2
 *		clock
 *
 * The VM must be paused (vm_pause()) or not yet started around a save and
 * a load: vCPU state read while the vCPU runs is torn. Loading needs a VM
 * created with the same configuration (vCPU count, memory layout, CPUID)
 * and the guest memory restored separately, complete before the vCPUs run
 * again (KVM rewrites the guest's kvmclock page on the next entry); the
 * blob's root must have been checked with state_check() first.
 */
#ifndef VLAB_CPU_STATE_H
#define VLAB_CPU_STATE_H

#include <stddef.h>

#include "vmm/migrate/state.h"

struct vcpu;
struct vm;

/* Node versions this code writes and the newest it reads. */
#define KVM_STATE_VERSION	1	/* /kvm */
#define CPU_STATE_VERSION	1	/* /kvm/cpu@N and its children */
#define IRQCHIP_STATE_VERSION	1	/* /kvm/irqchip, /kvm/pit */
#define CLOCK_STATE_VERSION	1	/* /kvm/clock */

/* One "cpu@<id>" node under the current node. */
int vcpu_state_save(struct vcpu *cpu, struct state_buf *sb);
/* Restore a vCPU from its "cpu@<id>" node at offset @node. */
int vcpu_state_load(struct vcpu *cpu, const void *fdt, int node, char *err, size_t errlen);

/* "irqchip" (PIC master, PIC slave, IOAPIC) and "pit" under the current node. */
int vm_irqchip_state_save(struct vm *vm, struct state_buf *sb);
/* @node: the parent holding "irqchip" and "pit" (the /kvm node). */
int vm_irqchip_state_load(struct vm *vm, const void *fdt, int node, char *err, size_t errlen);

/* "clock" (kvmclock) under the current node. */
int vm_clock_state_save(struct vm *vm, struct state_buf *sb);
/* @node: the parent holding "clock". kvmclock continues from the saved value. */
int vm_clock_state_load(struct vm *vm, const void *fdt, int node, char *err, size_t errlen);

/* The whole "kvm" node: every vCPU, irqchip, PIT and clock. */
int vm_kvm_state_save(struct vm *vm, struct state_buf *sb);
/* Restore from the "kvm" child of the root of @fdt. */
int vm_kvm_state_load(struct vm *vm, const void *fdt, char *err, size_t errlen);

#endif
