/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Payload entry: Xen PVH note, the 32-bit entry, and the CPL0 set-up that
 * takes the CPU to 64-bit CPL3 where the test body runs.
 *
 * On the kvm_pvm hosts we develop on, CPL0 code is emulated one
 * instruction at a time (~1M instructions/s) while CPL3 code runs
 * natively. So everything that can be computed at assembly time is (the
 * page tables are 72 KiB of initialised data), the few descriptors whose
 * address fields cannot be expressed as relocations are filled by short
 * loops, and control leaves CPL0 after a few hundred instructions.
 */

#include "layout.h"

#define X86_CR0_PE		(1 << 0)
#define X86_CR0_MP		(1 << 1)
#define X86_CR0_EM		(1 << 2)
#define X86_CR0_NE		(1 << 5)
#define X86_CR0_WP		(1 << 16)
#define X86_CR0_PG		(1 << 31)

#define X86_CR4_PAE		(1 << 5)
#define X86_CR4_OSFXSR		(1 << 9)
#define X86_CR4_OSXMMEXCPT	(1 << 10)

#define MSR_EFER		0xc0000080
#define EFER_LME		(1 << 8)

#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE2 (1 << 3)

#define PTE_P			(1 << 0)
#define PTE_RW			(1 << 1)
#define PTE_US			(1 << 2)
#define PTE_PWT			(1 << 3)
#define PTE_PCD			(1 << 4)
#define PTE_PS			(1 << 7)

/*
 * RFLAGS for CPL3: IOPL=3 so the test body does port I/O itself; IF=0.
 * kvm_pvm runs guest CPL3 in host ring 3 and withholds IOPL (the test
 * body sees IOPL=0), so there port I/O raises #GP and payload_trap()
 * completes it at CPL0 instead.
 */
#define USER_RFLAGS		((3 << 12) | (1 << 1))
#define LAPIC_EOI		0xfee000b0

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/*
 * The PVH entry note. The descriptor is the 32-bit physical entry
 * address, as the PVH ABI defines it (Linux emits it as a .quad on
 * 64-bit; readers accept both sizes).
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long	2f - 1f			/* namesz */
	.long	4f - 3f			/* descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz	"Xen"
2:	.balign 4
3:	.long	pvh_start32
4:	.balign 4

	.section .text.boot, "ax"
	.code32
	.globl	pvh_start32
pvh_start32:
	/*
	 * 32-bit protected mode, paging off, flat segments, no usable stack.
	 * EBX holds the hvm_start_info address; ESI keeps it (rdmsr/wrmsr
	 * and cpuid below only touch EAX-EDX).
	 */
	cli
	cld
	movl	%ebx, %esi

	lgdt	gdt_desc

	movl	$(X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT), %eax
	movl	%eax, %cr4

	movl	$pml4, %eax
	movl	%eax, %cr3

	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr

	/* EM off and MP on: SSE instructions must not trap as x87 ones. */
	movl	%cr0, %eax
	andl	$~X86_CR0_EM, %eax
	orl	$(X86_CR0_PG | X86_CR0_WP | X86_CR0_NE | X86_CR0_MP | X86_CR0_PE), %eax
	movl	%eax, %cr0

	ljmp	$KERNEL_CS, $start64

	.code64
start64:
	movl	$KERNEL_DS, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	movq	$kstack_top, %rsp

	/*
	 * TSS descriptor: base bits are scattered over the descriptor, which
	 * no relocation can express, so assemble it here.
	 */
	movl	$tss, %eax
	movl	%eax, %edx
	andl	$0xffffff, %eax
	shlq	$16, %rax
	shrl	$24, %edx
	shlq	$56, %rdx
	orq	%rdx, %rax
	movabsq	$((0x89 << 40) | (TSS_SIZE - 1)), %rdx	/* P, 64-bit TSS */
	orq	%rdx, %rax
	movq	%rax, gdt_tss
	movw	$TSS_SEL, %ax
	ltr	%ax

	/*
	 * IDT: 32 interrupt gates, one per exception vector, each stub 16
	 * bytes apart. Image addresses are below 4 GiB, so the upper half of
	 * every gate stays zero as assembled.
	 */
	movl	$idt, %edi
	movl	$isr_stubs, %ebx
	movl	$NR_VECTORS, %ecx
1:	movl	%ebx, %eax
	andl	$0xffff, %eax
	orl	$(KERNEL_CS << 16), %eax
	movl	%eax, (%rdi)
	movl	%ebx, %eax
	andl	$0xffff0000, %eax
	orl	$0x8e00, %eax			/* P, DPL0, 64-bit interrupt gate */
	movl	%eax, 4(%rdi)
	addl	$16, %edi
	addl	$ISR_STUB_SIZE, %ebx
	decl	%ecx
	jnz	1b
	/*
	 * Every vector above the exceptions: irq_stub, which acknowledges
	 * the local APIC and returns (interrupts are only ever taken in
	 * payload_trap()'s wait, where an interrupt just ends the HLT).
	 */
	movl	$irq_stub, %eax
	andl	$0xffff, %eax
	orl	$(KERNEL_CS << 16), %eax
	movl	$irq_stub, %ebx
	andl	$0xffff0000, %ebx
	orl	$0x8e00, %ebx
	movl	$(IDT_ENTRIES - NR_VECTORS), %ecx
1:	movl	%eax, (%rdi)
	movl	%ebx, 4(%rdi)
	addl	$16, %edi
	decl	%ecx
	jnz	1b
	/* #BP and #OF may be raised on purpose from CPL3 (int3, into). */
	orb	$0x60, idt + 3 * 16 + 5
	orb	$0x60, idt + 4 * 16 + 5
	/* #DF gets its own stack (IST1): the faulting stack may be bad. */
	orb	$1, idt + 8 * 16 + 4
	lidt	idt_desc

	/*
	 * KVM paravirtual clock, if offered: lets CPL3 turn TSC cycles into
	 * time without a calibration loop. Costs a handful of instructions.
	 */
	movl	$0x40000000, %eax
	cpuid
	cmpl	$0x4b4d564b, %ebx		/* "KVMK" */
	jne	2f
	cmpl	$0x40000001, %eax
	jb	2f
	movl	$0x40000001, %eax
	cpuid
	testl	$KVM_FEATURE_CLOCKSOURCE2, %eax
	jz	2f
	movl	$MSR_KVM_SYSTEM_TIME_NEW, %ecx
	movl	$(pvclock_page + 1), %eax	/* bit 0: enable */
	xorl	%edx, %edx
	wrmsr
2:
	/*
	 * To CPL3, with the start_info address as the first argument of
	 * payload_start(). DS/ES keep a DPL0 selector: IRETQ to CPL3 nulls
	 * them, which is what 64-bit user code expects.
	 */
	movl	%esi, %edi
	pushq	$USER_DS
	pushq	$ustack_top
	pushq	$USER_RFLAGS
	pushq	$USER_CS
	pushq	$user_entry
	iretq

/* Exception stubs: [error code,] vector, then the common path. */
	.balign	16
isr_stubs:
	vec = 0
	.rept	NR_VECTORS
	.balign	ISR_STUB_SIZE
	/* Vectors for which the CPU pushes an error code itself. */
	.if !((vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || \
	      (vec == 21) || (vec == 29) || (vec == 30))
	pushq	$0
	.endif
	pushq	$vec
	.if vec == 13
	jmp	gp_stub
	.else
	jmp	isr_common
	.endif
	vec = vec + 1
	.endr

/*
 * #GP: a HLT at CPL3 is payload_wait_irq(), done here. Entered with
 * interrupts off (an interrupt gate), so one raised since the test body's
 * last look waits for the STI, whose shadow covers the HLT: none is
 * missed. A dozen instructions at CPL0, where kvm_pvm emulates each; the
 * way through isr_common and payload_trap() took a few hundred. The rest
 * (port I/O, real faults) goes on to isr_common.
 */
gp_stub:
	testb	$3, 24(%rsp)		/* CS: from CPL3? */
	jz	isr_common
	cmpq	$0, 8(%rsp)		/* no selector in the error code */
	jne	isr_common
	pushq	%rax
	movq	24(%rsp), %rax		/* RIP */
	cmpb	$0xf4, (%rax)		/* HLT */
	popq	%rax
	jne	isr_common
	sti
	hlt
	cli
	incq	payload_irq_wait_count(%rip)
	incq	16(%rsp)		/* past the HLT */
	addq	$16, %rsp		/* vector, error code */
	iretq

isr_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi		/* struct trap_frame * */
	movq	%rsp, %rbx		/* callee-saved: the frame survives the call */
	andq	$-16, %rsp
	/*
	 * Reports and exits, except for a CPL3 port I/O instruction that
	 * faulted because the hypervisor withheld IOPL: payload_trap()
	 * performs it, moves RIP past it, and returns here.
	 */
	call	payload_trap
	movq	%rbx, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp		/* vector, error code */
	iretq

/* An interrupt: EOI to the local APIC (xAPIC MMIO, identity mapped), nothing else. */
	.balign	16
irq_stub:
	pushq	%rax
	movabsq	$LAPIC_EOI, %rax
	movl	$0, (%rax)
	popq	%rax
	iretq

	.text
user_entry:
	/* RSP is 16-byte aligned here; the call makes the ABI's frame. */
	call	payload_start
	ud2

/*
 * Descriptor tables live in .data, not .bss: the CPL3 runtime zeroes .bss
 * after they have been filled in.
 */
	.data
	.balign	16
gdt:
	.quad	0
	.quad	0x00af9a000000ffff	/* KERNEL_CS: 64-bit code, DPL0 */
	.quad	0x00cf92000000ffff	/* KERNEL_DS */
	.quad	0x00cff2000000ffff	/* USER_DS: DPL3 */
	.quad	0x00affa000000ffff	/* USER_CS: 64-bit code, DPL3 */
gdt_tss:
	.quad	0			/* TSS: filled by start64 */
	.quad	0
gdt_end:

	/* Read as limit + 32-bit base in 32-bit mode; base is below 4 GiB. */
	.balign	8
	.word	0
	.word	0
	.word	0
gdt_desc:
	.word	gdt_end - gdt - 1
	.quad	gdt

	.balign	8
	.word	0
	.word	0
	.word	0
idt_desc:
	.word	IDT_ENTRIES * 16 - 1
	.quad	idt

	.balign	16
idt:
	.fill	IDT_ENTRIES * 16, 1, 0

	.balign	16
tss:
	.long	0
	.quad	kstack_top		/* RSP0: stack on entry from CPL3 */
	.quad	0			/* RSP1 */
	.quad	0			/* RSP2 */
	.quad	0
	.quad	dfstack_top		/* IST1 */
	.fill	6, 8, 0			/* IST2-7 */
	.quad	0
	.word	0
	.word	TSS_SIZE		/* I/O bitmap beyond the limit: IOPL rules */

/*
 * Identity map of 0 - PAYLOAD_MAPPED_GIB GiB with 2 MiB pages, all user
 * accessible so the CPL3 test body can reach any guest-physical address.
 * The 3-4 GiB MMIO hole is uncacheable (PCD|PWT).
 */
	.section .data.pgtable, "aw"
	.balign	4096
pml4:
	.quad	pdpt + (PTE_P | PTE_RW | PTE_US)
	.fill	511, 8, 0

	.balign	4096
pdpt:
	gib = 0
	.rept	PAYLOAD_MAPPED_GIB
	.quad	pd + gib * 4096 + (PTE_P | PTE_RW | PTE_US)
	gib = gib + 1
	.endr
	.fill	512 - PAYLOAD_MAPPED_GIB, 8, 0

	.balign	4096
pd:
	page = 0
	.rept	PAYLOAD_MAPPED_GIB * 512
	.if (page >= 3 * 512) && (page < 4 * 512)
	.quad	(page << 21) + (PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_PWT | PTE_PCD)
	.else
	.quad	(page << 21) + (PTE_P | PTE_RW | PTE_US | PTE_PS)
	.endif
	page = page + 1
	.endr

	/* Written by the host once MSR_KVM_SYSTEM_TIME_NEW points here. */
	.section .data.pvclock, "aw"
	.balign	64
	.globl	pvclock_page
pvclock_page:
	.fill	64, 1, 0

	.section .stack, "aw", @nobits
	.balign	4096
	.skip	KSTACK_SIZE
kstack_top:
	.skip	DFSTACK_SIZE
dfstack_top:
	.skip	USTACK_SIZE
	.globl	ustack_top
ustack_top:

	.section .note.GNU-stack, "", @progbits
