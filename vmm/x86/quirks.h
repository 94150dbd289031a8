/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host quirks: finishing instructions that an emulating KVM (kvm_pvm) rejects.
 *
 * On such hosts guest CPL0 code is emulated and some instructions come back
 * to userspace as KVM_EXIT_INTERNAL_ERROR / KVM_INTERNAL_ERROR_EMULATION.
 * The decoder and finisher here are pure functions over a small CPU model so
 * that they can be unit-tested without a VM; vcpu.c glues them to KVM.
 */
#ifndef VLAB_QUIRKS_H
#define VLAB_QUIRKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum quirk_mode {
	QUIRK_MODE_OFF,		/* never finish instructions, never touch CPUID/cmdline */
	QUIRK_MODE_AUTO,	/* detect the emulating host */
	QUIRK_MODE_ON,		/* act as if the host were detected */
};

/* Kinds of rejected instruction we know how to finish. */
enum quirk_kind {
	QK_NONE = 0,
	QK_INT3,
	QK_FWAIT,
	QK_CLAC,
	QK_STAC,
	QK_POPCNT,
	QK_LDMXCSR,
	QK_STMXCSR,
	QK_CMPXCHG16B,
	QK_NR,
};

/*
 * Segment named by an override prefix. Only FS and GS have a base that is
 * not zero in a flat kernel (per-cpu data), so only those move the address.
 */
enum quirk_seg {
	QS_DEFAULT = 0,		/* no override prefix */
	QS_ES,
	QS_CS,
	QS_SS,
	QS_DS,
	QS_FS,
	QS_GS,
};

/* Decoded memory or register operand of a ModRM instruction. */
struct quirk_operand {
	bool is_reg;
	int reg;		/* GPR number 0..15 when is_reg */
	/*
	 * Linear address otherwise: the effective address (wrapped to the
	 * address size) plus fs_base/gs_base for an FS/GS override; the other
	 * segments are taken as flat.
	 */
	uint64_t ea;
};

struct quirk_insn {
	enum quirk_kind kind;
	unsigned int len;	/* total length in bytes, prefixes included */
	unsigned int opsize;	/* operand size in bytes (2, 4, 8) for POPCNT */
	int reg;		/* ModRM.reg GPR (destination of POPCNT) */
	struct quirk_operand rm;
	bool lock;
	enum quirk_seg seg;	/* segment override prefix, for reporting */
};

/*
 * GPR indices follow the x86 encoding: 0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp,
 * 5 rbp, 6 rsi, 7 rdi, 8..15 r8..r15.
 */
struct quirk_cpu {
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t rflags;
	uint32_t mxcsr;
	bool long_mode;		/* CS.L: 64-bit code segment */
	bool def32;		/* CS.D when !long_mode: 32-bit default operand size */
	uint64_t fs_base;	/* FS.base / GS.base (MSR_FS_BASE, MSR_GS_BASE) */
	uint64_t gs_base;
	/* Set by quirk_finish when the guest must take an exception. */
	int inject_vector;	/* -1 for none */
	bool inject_has_error;
	uint32_t inject_error;
	uint64_t fault_addr;	/* CR2 to load with an injected #PF (vector 14) */
	/* Guest linear memory access; return 0 on success, -1 on a fault. */
	int (*read_mem)(void *opaque, uint64_t gva, void *buf, size_t len);
	int (*write_mem)(void *opaque, uint64_t gva, const void *buf, size_t len);
	/*
	 * Atomic 16-byte compare-exchange at gva; may be NULL (then read+write).
	 * Returns 0 or -1 on a fault; when *swapped is false it must leave the
	 * memory's current contents in expect[] (low quadword first).
	 */
	int (*cmpxchg16)(void *opaque, uint64_t gva, uint64_t expect[2],
			 const uint64_t desired[2], bool *swapped);
	void *opaque;
};

/*
 * Decode the instruction at bytes[0..n). Returns 0 and fills @insn for a
 * known kind, -1 when the bytes are not an instruction we finish (or are
 * truncated). Effective addresses are computed from @cpu's registers.
 */
int quirk_decode(const uint8_t *bytes, size_t n, const struct quirk_cpu *cpu,
		 struct quirk_insn *insn);

/*
 * Apply @insn's architectural effect to @cpu (registers, flags, memory)
 * and advance rip. Returns 0 on success, -1 if it could not be finished
 * (memory fault: then inject_vector is set to 14 or 13 and rip unchanged).
 */
int quirk_finish(const struct quirk_insn *insn, struct quirk_cpu *cpu);

const char *quirk_kind_name(enum quirk_kind kind);

/* Is this KVM an emulating host (kvm_pvm)? Decided once, from facts on the host. */
bool quirk_host_detect(void);

/* quirk_host_detect() against another sysfs module directory (for tests). */
bool quirk_host_detect_in(const char *module_dir);

/* Kernel command-line switches such a host needs; appended unless already given. */
/*
 * ssse3: stock kernels mix their RNG with SSSE3 BLAKE2s; the host emulator
 * rejects SSE register moves at CPL0 and there are too many kinds to finish
 * (a Debian cloud kernel stops at "movd %ecx,%xmm15" without it).
 */
#define QUIRK_CMDLINE "noxsave clearcpuid=smap,popcnt,ssse3 nopv tsc=reliable"

#endif
