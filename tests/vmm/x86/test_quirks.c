// SPDX-License-Identifier: GPL-2.0
/*
 * Decoder and finisher for the instructions kvm_pvm rejects. Every byte
 * sequence below was checked against `objdump -D -b binary -mi386:x86-64`
 * (or -mi386 for the 32-bit cases).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "vmm/x86/quirks.h"

#define RAX 0
#define RCX 1
#define RDX 2
#define RBX 3
#define RSP 4
#define RBP 5
#define RSI 6
#define RDI 7
#define R8  8
#define R9  9
#define R10 10
#define R11 11
#define R12 12
#define R13 13
#define R15 15

#define FLAG_CF		(1ULL << 0)
#define FLAG_PF		(1ULL << 2)
#define FLAG_AF		(1ULL << 4)
#define FLAG_ZF		(1ULL << 6)
#define FLAG_SF		(1ULL << 7)
#define FLAG_IF		(1ULL << 9)
#define FLAG_OF		(1ULL << 11)
#define FLAG_AC		(1ULL << 18)
#define ARITH_FLAGS	(FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF)

#define CODE_RIP	0xffffffff81000000ULL
#define MEM_BASE	0x10000ULL
#define MEM_SIZE	0x2000

/* Guest memory stand-in: MEM_SIZE bytes at MEM_BASE, everything else unmapped. */
struct fake_mem {
	uint8_t data[MEM_SIZE];
	int reads, writes, cmpxchgs;
	bool cmpxchg_faults;
};

static struct fake_mem mem;
static struct quirk_cpu cpu;
static struct quirk_insn insn;

static uint8_t *mem_at(uint64_t gva, size_t len)
{
	if (gva < MEM_BASE || gva + len > MEM_BASE + MEM_SIZE || gva + len < gva)
		return NULL;
	return mem.data + (gva - MEM_BASE);
}

static int fake_read(void *opaque, uint64_t gva, void *buf, size_t len)
{
	uint8_t *p = mem_at(gva, len);

	ck_assert_ptr_eq(opaque, &mem);
	if (!p)
		return -1;
	memcpy(buf, p, len);
	mem.reads++;
	return 0;
}

static int fake_write(void *opaque, uint64_t gva, const void *buf, size_t len)
{
	uint8_t *p = mem_at(gva, len);

	if (!p)
		return -1;
	memcpy(p, buf, len);
	mem.writes++;
	return 0;
}

static int fake_cmpxchg16(void *opaque, uint64_t gva, uint64_t expect[2],
			  const uint64_t desired[2], bool *swapped)
{
	uint8_t *p = mem_at(gva, 16);
	uint64_t old[2];

	mem.cmpxchgs++;
	if (!p || mem.cmpxchg_faults)
		return -1;
	memcpy(old, p, 16);
	*swapped = old[0] == expect[0] && old[1] == expect[1];
	if (*swapped)
		memcpy(p, desired, 16);
	else
		memcpy(expect, old, 16);
	return 0;
}

static void put64(uint64_t gva, uint64_t value)
{
	memcpy(mem_at(gva, 8), &value, 8);
}

static uint64_t get64(uint64_t gva)
{
	uint64_t value;

	memcpy(&value, mem_at(gva, 8), 8);
	return value;
}

static void put32(uint64_t gva, uint32_t value)
{
	memcpy(mem_at(gva, 4), &value, 4);
}

static uint32_t get32(uint64_t gva)
{
	uint32_t value;

	memcpy(&value, mem_at(gva, 4), 4);
	return value;
}

static void setup(void)
{
	memset(&mem, 0, sizeof(mem));
	memset(&cpu, 0, sizeof(cpu));
	memset(&insn, 0, sizeof(insn));
	cpu.long_mode = true;
	cpu.rip = CODE_RIP;
	cpu.rflags = 0x2;
	cpu.mxcsr = 0x1f80;
	cpu.inject_vector = -1;
	cpu.read_mem = fake_read;
	cpu.write_mem = fake_write;
	cpu.opaque = &mem;
}

static void set_mode32(void)
{
	cpu.long_mode = false;
	cpu.def32 = true;
	cpu.rip = 0xc1000000;
}

#define DECODE(...)							\
	({								\
		static const uint8_t bytes_[] = { __VA_ARGS__ };	\
		quirk_decode(bytes_, sizeof(bytes_), &cpu, &insn);	\
	})

/* Decode must succeed with the given kind and length. */
#define DECODE_OK(kind_, len_, ...)					\
	do {								\
		ck_assert_int_eq(DECODE(__VA_ARGS__), 0);		\
		ck_assert_int_eq(insn.kind, kind_);			\
		ck_assert_uint_eq(insn.len, len_);			\
	} while (0)

#define DECODE_FAILS(...)	ck_assert_int_eq(DECODE(__VA_ARGS__), -1)

/* ---- INT3, FWAIT, CLAC, STAC ---- */

START_TEST(test_int3_traps_after_the_instruction)
{
	DECODE_OK(QK_INT3, 1, 0xcc);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.rip, CODE_RIP + 1);
	ck_assert_int_eq(cpu.inject_vector, 3);
	ck_assert(!cpu.inject_has_error);
}
END_TEST

START_TEST(test_int3_32bit_wraps_eip)
{
	set_mode32();
	cpu.rip = 0xffffffff;
	DECODE_OK(QK_INT3, 1, 0xcc);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.rip, 0);
	ck_assert_int_eq(cpu.inject_vector, 3);
}
END_TEST

START_TEST(test_fwait_advances_and_clears_stale_injection)
{
	cpu.inject_vector = 99;
	cpu.inject_has_error = true;
	DECODE_OK(QK_FWAIT, 1, 0x9b);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.rip, CODE_RIP + 1);
	ck_assert_int_eq(cpu.inject_vector, -1);
	ck_assert(!cpu.inject_has_error);
}
END_TEST

START_TEST(test_clac_stac_toggle_ac_only)
{
	cpu.rflags = 0x2 | FLAG_IF | FLAG_CF;
	DECODE_OK(QK_STAC, 3, 0x0f, 0x01, 0xcb);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.rflags, 0x2 | FLAG_IF | FLAG_CF | FLAG_AC);
	ck_assert_uint_eq(cpu.rip, CODE_RIP + 3);

	DECODE_OK(QK_CLAC, 3, 0x0f, 0x01, 0xca);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.rflags, 0x2 | FLAG_IF | FLAG_CF);
	ck_assert_uint_eq(cpu.rip, CODE_RIP + 6);
	ck_assert_int_eq(cpu.inject_vector, -1);
}
END_TEST

START_TEST(test_clac_32bit)
{
	set_mode32();
	cpu.rflags |= FLAG_AC;
	DECODE_OK(QK_CLAC, 3, 0x0f, 0x01, 0xca);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.rflags & FLAG_AC, 0);
	ck_assert_uint_eq(cpu.rip, 0xc1000003);
}
END_TEST

START_TEST(test_clac_with_rep_prefix_is_not_clac)
{
	/* F3/F2 0F 01 CA are FRED's ERETU/ERETS. */
	DECODE_FAILS(0xf3, 0x0f, 0x01, 0xca);
	DECODE_FAILS(0xf2, 0x0f, 0x01, 0xca);
	DECODE_FAILS(0xf0, 0x0f, 0x01, 0xcb);
	DECODE_FAILS(0x0f, 0x01, 0xc1);		/* vmcall */
}
END_TEST

/* ---- POPCNT ---- */

START_TEST(test_popcnt_reg64)
{
	/* popcnt %rcx,%rax */
	cpu.gpr[RCX] = 0xf0f0f0f0f0f0f0f1ULL;
	cpu.gpr[RAX] = 0x1234;
	cpu.rflags = 0x2 | FLAG_IF | ARITH_FLAGS;
	DECODE_OK(QK_POPCNT, 5, 0xf3, 0x48, 0x0f, 0xb8, 0xc1);
	ck_assert_uint_eq(insn.opsize, 8);
	ck_assert_int_eq(insn.reg, RAX);
	ck_assert(insn.rm.is_reg);
	ck_assert_int_eq(insn.rm.reg, RCX);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.gpr[RAX], 33);
	ck_assert_uint_eq(cpu.rflags, 0x2 | FLAG_IF);
	ck_assert_uint_eq(cpu.rip, CODE_RIP + 5);
}
END_TEST

START_TEST(test_popcnt_reg32_zero_extends)
{
	/* popcnt %ecx,%eax: only ECX counts and RAX[63:32] is cleared. */
	cpu.gpr[RCX] = 0xffffffff00000003ULL;
	cpu.gpr[RAX] = ~0ULL;
	DECODE_OK(QK_POPCNT, 4, 0xf3, 0x0f, 0xb8, 0xc1);
	ck_assert_uint_eq(insn.opsize, 4);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.gpr[RAX], 2);
}
END_TEST

START_TEST(test_popcnt_reg16_keeps_upper_bits)
{
	/* popcnt %cx,%ax, with 66 before and after F3 */
	cpu.gpr[RCX] = 0xffffffffffff0007ULL;
	cpu.gpr[RAX] = 0x1234567890abcdefULL;
	DECODE_OK(QK_POPCNT, 5, 0x66, 0xf3, 0x0f, 0xb8, 0xc1);
	ck_assert_uint_eq(insn.opsize, 2);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.gpr[RAX], 0x1234567890ab0003ULL);

	DECODE_OK(QK_POPCNT, 5, 0xf3, 0x66, 0x0f, 0xb8, 0xc1);
	ck_assert_uint_eq(insn.opsize, 2);
}
END_TEST

START_TEST(test_popcnt_zero_source_sets_zf)
{
	cpu.gpr[RCX] = 0xffffffff00000000ULL;	/* zero as a 32-bit source */
	cpu.gpr[RAX] = 77;
	cpu.rflags = 0x2 | FLAG_CF | FLAG_SF;
	DECODE_OK(QK_POPCNT, 4, 0xf3, 0x0f, 0xb8, 0xc1);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.gpr[RAX], 0);
	ck_assert_uint_eq(cpu.rflags, 0x2 | FLAG_ZF);
}
END_TEST

START_TEST(test_popcnt_rex_r_b_registers)
{
	/* popcnt %r9,%r10 = f3 4d 0f b8 d1 */
	cpu.gpr[R9] = 0xff;
	DECODE_OK(QK_POPCNT, 5, 0xf3, 0x4d, 0x0f, 0xb8, 0xd1);
	ck_assert_int_eq(insn.reg, R10);
	ck_assert_int_eq(insn.rm.reg, R9);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.gpr[R10], 8);
}
END_TEST

START_TEST(test_popcnt_mem_base)
{
	/* popcnt (%rbx),%r9 */
	cpu.gpr[RBX] = MEM_BASE + 0x100;
	put64(MEM_BASE + 0x100, 0x8000000000000001ULL);
	DECODE_OK(QK_POPCNT, 5, 0xf3, 0x4c, 0x0f, 0xb8, 0x0b);
	ck_assert(!insn.rm.is_reg);
	ck_assert_uint_eq(insn.rm.ea, MEM_BASE + 0x100);
	ck_assert_int_eq(insn.reg, R9);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.gpr[R9], 2);
	ck_assert_int_eq(mem.reads, 1);
}
END_TEST

START_TEST(test_popcnt_rip_relative)
{
	/* popcnt 0x10(%rip),%rdx: relative to the next instruction */
	cpu.rip = MEM_BASE + 0x200;
	put64(MEM_BASE + 0x200 + 9 + 0x10, 0x7);
	DECODE_OK(QK_POPCNT, 9, 0xf3, 0x48, 0x0f, 0xb8, 0x15,
		  0x10, 0x00, 0x00, 0x00);
	ck_assert_uint_eq(insn.rm.ea, MEM_BASE + 0x200 + 9 + 0x10);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.gpr[RDX], 3);
	ck_assert_uint_eq(cpu.rip, MEM_BASE + 0x200 + 9);
}
END_TEST

START_TEST(test_popcnt_rip_relative_negative_and_rex_b)
{
	/* popcnt -0x20(%rip),%eax with a REX.B that must not matter */
	DECODE_OK(QK_POPCNT, 9, 0xf3, 0x41, 0x0f, 0xb8, 0x05,
		  0xe0, 0xff, 0xff, 0xff);
	ck_assert_uint_eq(insn.rm.ea, CODE_RIP + 9 - 0x20);
}
END_TEST

START_TEST(test_popcnt_sib_no_base_index_scale)
{
	/* popcnt 0x12345678(,%rcx,8),%eax */
	cpu.gpr[RCX] = 0x10;
	DECODE_OK(QK_POPCNT, 9, 0xf3, 0x0f, 0xb8, 0x04, 0xcd,
		  0x78, 0x56, 0x34, 0x12);
	ck_assert_uint_eq(insn.rm.ea, 0x12345678 + 0x80);
}
END_TEST

START_TEST(test_popcnt_sib_no_base_ignores_rex_b)
{
	/* popcnt 0x1000,%eax as f3 41 0f b8 04 25: disp32 only, not r13 */
	cpu.gpr[R13] = 0x5000;
	cpu.gpr[RBP] = 0x6000;
	DECODE_OK(QK_POPCNT, 10, 0xf3, 0x41, 0x0f, 0xb8, 0x04, 0x25,
		  0x00, 0x10, 0x00, 0x00);
	ck_assert_uint_eq(insn.rm.ea, 0x1000);
}
END_TEST

START_TEST(test_popcnt_sib_r12_index_and_rbp_base)
{
	/* popcnt (%rax,%r12,1),%eax: index 100 with REX.X is r12 */
	cpu.gpr[RAX] = 0x1000;
	cpu.gpr[R12] = 0x234;
	DECODE_OK(QK_POPCNT, 6, 0xf3, 0x42, 0x0f, 0xb8, 0x04, 0x20);
	ck_assert_uint_eq(insn.rm.ea, 0x1234);

	/* popcnt 0x8(%rbp,%riz,1),%eax: index 100 without REX.X is none */
	cpu.gpr[RBP] = 0x3000;
	DECODE_OK(QK_POPCNT, 6, 0xf3, 0x0f, 0xb8, 0x44, 0x25, 0x08);
	ck_assert_uint_eq(insn.rm.ea, 0x3008);
}
END_TEST

START_TEST(test_popcnt_sib_extended_regs_negative_disp)
{
	/* popcnt -0x8(%r12,%r13,4),%r15w */
	cpu.gpr[R12] = MEM_BASE + 0x400;
	cpu.gpr[R13] = 2;
	cpu.gpr[R15] = 0xaaaaaaaaaaaaaaaaULL;
	put64(MEM_BASE + 0x400, 0xffffULL);
	DECODE_OK(QK_POPCNT, 8, 0x66, 0xf3, 0x47, 0x0f, 0xb8, 0x7c, 0xac, 0xf8);
	ck_assert_uint_eq(insn.rm.ea, MEM_BASE + 0x400);
	ck_assert_uint_eq(insn.opsize, 2);
	ck_assert_int_eq(insn.reg, R15);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.gpr[R15], 0xaaaaaaaaaaaa0010ULL);
}
END_TEST

START_TEST(test_popcnt_r13_base_disp8)
{
	/* popcnt 0x0(%r13),%eax: r13 as a base needs mod=01 */
	cpu.gpr[R13] = 0x4440;
	DECODE_OK(QK_POPCNT, 6, 0xf3, 0x41, 0x0f, 0xb8, 0x45, 0x00);
	ck_assert_uint_eq(insn.rm.ea, 0x4440);
	/* popcnt 0x8(%r12),%r9d: r12 as a base needs a SIB */
	cpu.gpr[R12] = 0x100;
	DECODE_OK(QK_POPCNT, 7, 0xf3, 0x45, 0x0f, 0xb8, 0x4c, 0x24, 0x08);
	ck_assert_uint_eq(insn.rm.ea, 0x108);
	ck_assert_int_eq(insn.reg, R9);
}
END_TEST

START_TEST(test_popcnt_gs_relative)
{
	/* popcnt %gs:0x28,%rax: per-cpu data */
	cpu.gs_base = MEM_BASE + 0x800;
	put64(MEM_BASE + 0x828, 0xf);
	DECODE_OK(QK_POPCNT, 11, 0x65, 0xf3, 0x48, 0x0f, 0xb8, 0x04, 0x25,
		  0x28, 0x00, 0x00, 0x00);
	ck_assert_int_eq(insn.seg, QS_GS);
	ck_assert_uint_eq(insn.rm.ea, MEM_BASE + 0x828);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.gpr[RAX], 4);
}
END_TEST

START_TEST(test_popcnt_ds_override_ignored_in_64bit)
{
	cpu.fs_base = 0x9000;
	cpu.gpr[RBX] = 0x100;
	DECODE_OK(QK_POPCNT, 5, 0x3e, 0xf3, 0x0f, 0xb8, 0x0b);
	ck_assert_int_eq(insn.seg, QS_DS);
	ck_assert_uint_eq(insn.rm.ea, 0x100);
	DECODE_OK(QK_POPCNT, 5, 0x64, 0xf3, 0x0f, 0xb8, 0x0b);
	ck_assert_int_eq(insn.seg, QS_FS);
	ck_assert_uint_eq(insn.rm.ea, 0x9100);
}
END_TEST

START_TEST(test_popcnt_addr32_prefix)
{
	/* popcnt (%ebx),%ecx: the address wraps to 32 bits */
	cpu.gpr[RBX] = 0xdeadbeef00010010ULL;
	DECODE_OK(QK_POPCNT, 5, 0x67, 0xf3, 0x0f, 0xb8, 0x0b);
	ck_assert_uint_eq(insn.rm.ea, 0x10010);

	/* popcnt 0x4(%eip),%ecx */
	cpu.rip = 0x1fffffff0ULL;
	DECODE_OK(QK_POPCNT, 9, 0x67, 0xf3, 0x0f, 0xb8, 0x0d,
		  0x04, 0x00, 0x00, 0x00);
	ck_assert_uint_eq(insn.rm.ea, (0x1fffffff0ULL + 9 + 4) & 0xffffffff);
}
END_TEST

START_TEST(test_popcnt_rex_before_legacy_prefix_is_ignored)
{
	/* 48 f3 0f b8 c1: the REX.W is not adjacent to the opcode */
	DECODE_OK(QK_POPCNT, 5, 0x48, 0xf3, 0x0f, 0xb8, 0xc1);
	ck_assert_uint_eq(insn.opsize, 4);
}
END_TEST

START_TEST(test_popcnt_32bit_mode)
{
	set_mode32();
	/* popcnt 0x1000,%esi: absolute disp32, not RIP-relative */
	DECODE_OK(QK_POPCNT, 8, 0xf3, 0x0f, 0xb8, 0x35, 0x00, 0x10, 0x00, 0x00);
	ck_assert_uint_eq(insn.rm.ea, 0x1000);
	ck_assert_int_eq(insn.reg, RSI);

	/* popcnt %fs:0x4(%eax,%ebx,2),%edi, wrapping around 4 GiB */
	cpu.fs_base = 0xfffff000;
	cpu.gpr[RAX] = 0x10000;
	cpu.gpr[RBX] = 0x800;
	put32(MEM_BASE + 0x4, 0x11);
	DECODE_OK(QK_POPCNT, 7, 0x64, 0xf3, 0x0f, 0xb8, 0x7c, 0x58, 0x04);
	ck_assert_uint_eq(insn.rm.ea, MEM_BASE + 0x4);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.gpr[RDI], 2);
	ck_assert_uint_eq(cpu.rip, 0xc1000007);

	/* popcnt %cx,%dx */
	cpu.gpr[RCX] = 0x30003;
	cpu.gpr[RDX] = 0xffff0000;
	DECODE_OK(QK_POPCNT, 5, 0x66, 0xf3, 0x0f, 0xb8, 0xd1);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.gpr[RDX], 0xffff0002);
}
END_TEST

START_TEST(test_32bit_mode_rejects_rex_addr16_and_16bit_code)
{
	set_mode32();
	/* 0x48 is DEC EAX outside 64-bit mode */
	DECODE_FAILS(0x48, 0x0f, 0xc7, 0x0f);
	DECODE_FAILS(0xf3, 0x48, 0x0f, 0xb8, 0xc1);
	/* 16-bit addressing */
	DECODE_FAILS(0x67, 0xf3, 0x0f, 0xb8, 0x07);
	cpu.def32 = false;
	DECODE_FAILS(0xcc);
}
END_TEST

START_TEST(test_popcnt_memory_fault_injects_pf)
{
	cpu.gpr[RBX] = 0x500000;
	cpu.gpr[R9] = 1234;
	DECODE_OK(QK_POPCNT, 5, 0xf3, 0x4c, 0x0f, 0xb8, 0x0b);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), -1);
	ck_assert_int_eq(cpu.inject_vector, 14);
	ck_assert(cpu.inject_has_error);
	ck_assert_uint_eq(cpu.inject_error, 0);		/* read, supervisor */
	ck_assert_uint_eq(cpu.fault_addr, 0x500000);
	ck_assert_uint_eq(cpu.rip, CODE_RIP);
	ck_assert_uint_eq(cpu.gpr[R9], 1234);
}
END_TEST

START_TEST(test_popcnt_bad_prefixes_rejected)
{
	DECODE_FAILS(0x0f, 0xb8, 0xc1);			/* JMPE, no F3 */
	DECODE_FAILS(0xf2, 0xf3, 0x0f, 0xb8, 0xc1);
	DECODE_FAILS(0xf0, 0xf3, 0x0f, 0xb8, 0xc1);
}
END_TEST

/* ---- LDMXCSR / STMXCSR ---- */

START_TEST(test_ldmxcsr_loads)
{
	/* ldmxcsr (%rdi) */
	cpu.gpr[RDI] = MEM_BASE + 0x40;
	put32(MEM_BASE + 0x40, 0x9fc0);
	DECODE_OK(QK_LDMXCSR, 3, 0x0f, 0xae, 0x17);
	ck_assert_uint_eq(insn.rm.ea, MEM_BASE + 0x40);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.mxcsr, 0x9fc0);
	ck_assert_uint_eq(cpu.rip, CODE_RIP + 3);
	ck_assert_int_eq(cpu.inject_vector, -1);
}
END_TEST

START_TEST(test_ldmxcsr_reserved_bits_gp)
{
	cpu.gpr[RDI] = MEM_BASE + 0x40;
	put32(MEM_BASE + 0x40, 0x10000 | 0x1f80);
	DECODE_OK(QK_LDMXCSR, 3, 0x0f, 0xae, 0x17);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), -1);
	ck_assert_int_eq(cpu.inject_vector, 13);
	ck_assert(cpu.inject_has_error);
	ck_assert_uint_eq(cpu.inject_error, 0);
	ck_assert_uint_eq(cpu.mxcsr, 0x1f80);
	ck_assert_uint_eq(cpu.rip, CODE_RIP);
}
END_TEST

START_TEST(test_ldmxcsr_rip_relative_and_rex)
{
	/* ldmxcsr 0x100(%rip) */
	DECODE_OK(QK_LDMXCSR, 7, 0x0f, 0xae, 0x15, 0x00, 0x01, 0x00, 0x00);
	ck_assert_uint_eq(insn.rm.ea, CODE_RIP + 7 + 0x100);
	/* rex.R ldmxcsr (%rdi): REX.R does not change the /2 */
	cpu.gpr[RDI] = 0x40;
	DECODE_OK(QK_LDMXCSR, 4, 0x44, 0x0f, 0xae, 0x17);
	ck_assert_uint_eq(insn.rm.ea, 0x40);
}
END_TEST

START_TEST(test_stmxcsr_stores)
{
	/* stmxcsr -0x4(%rbp) */
	cpu.gpr[RBP] = MEM_BASE + 0x104;
	cpu.mxcsr = 0x1fa0;
	DECODE_OK(QK_STMXCSR, 4, 0x0f, 0xae, 0x5d, 0xfc);
	ck_assert_uint_eq(insn.rm.ea, MEM_BASE + 0x100);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(get32(MEM_BASE + 0x100), 0x1fa0);
	ck_assert_int_eq(mem.writes, 1);
	ck_assert_uint_eq(cpu.rip, CODE_RIP + 4);
}
END_TEST

START_TEST(test_stmxcsr_fault_is_write_pf)
{
	cpu.gpr[RBP] = 0x4;
	DECODE_OK(QK_STMXCSR, 4, 0x0f, 0xae, 0x5d, 0xfc);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), -1);
	ck_assert_int_eq(cpu.inject_vector, 14);
	ck_assert_uint_eq(cpu.inject_error, 2);
	ck_assert_uint_eq(cpu.fault_addr, 0);
	ck_assert_uint_eq(cpu.rip, CODE_RIP);
}
END_TEST

START_TEST(test_vex_mxcsr)
{
	/* vldmxcsr (%rsi) */
	cpu.gpr[RSI] = MEM_BASE;
	put32(MEM_BASE, 0x1f80 | 0x8000);
	DECODE_OK(QK_LDMXCSR, 4, 0xc5, 0xf8, 0xae, 0x16);
	ck_assert_uint_eq(insn.rm.ea, MEM_BASE);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.mxcsr, 0x9f80);

	/* vstmxcsr 0x8(%rsp) */
	cpu.gpr[RSP] = MEM_BASE + 0x10;
	DECODE_OK(QK_STMXCSR, 6, 0xc5, 0xf8, 0xae, 0x5c, 0x24, 0x08);
	ck_assert_uint_eq(insn.rm.ea, MEM_BASE + 0x18);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(get32(MEM_BASE + 0x18), 0x9f80);

	/* three-byte VEX: vldmxcsr (%r8), then (%rax) */
	cpu.gpr[R8] = 0x8888;
	cpu.gpr[RAX] = 0xaaaa;
	DECODE_OK(QK_LDMXCSR, 5, 0xc4, 0xc1, 0x78, 0xae, 0x10);
	ck_assert_uint_eq(insn.rm.ea, 0x8888);
	DECODE_OK(QK_LDMXCSR, 5, 0xc4, 0xe1, 0x78, 0xae, 0x10);
	ck_assert_uint_eq(insn.rm.ea, 0xaaaa);
}
END_TEST

START_TEST(test_vex_mxcsr_32bit_and_lds)
{
	set_mode32();
	/* vstmxcsr (%ecx) */
	cpu.gpr[RCX] = 0x2000;
	DECODE_OK(QK_STMXCSR, 4, 0xc5, 0xf8, 0xae, 0x19);
	ck_assert_uint_eq(insn.rm.ea, 0x2000);
	/* lds (%eax),%edi */
	DECODE_FAILS(0xc5, 0x38, 0xae, 0x19);
	/* lds -0x52(%eax),%edi and les 0x78(%ecx),%esp: VEX only in 64-bit mode */
	DECODE_FAILS(0xc5, 0x78, 0xae, 0x19);
	DECODE_FAILS(0xc4, 0x61, 0x78, 0xae, 0x10);
	cpu.long_mode = true;
	DECODE_OK(QK_STMXCSR, 4, 0xc5, 0x78, 0xae, 0x19);
	DECODE_OK(QK_LDMXCSR, 5, 0xc4, 0x61, 0x78, 0xae, 0x10);
}
END_TEST

START_TEST(test_mxcsr_bad_encodings_rejected)
{
	DECODE_FAILS(0xc5, 0xfc, 0xae, 0x16);		/* VEX.L=1 */
	DECODE_FAILS(0xc5, 0xf0, 0xae, 0x16);		/* vvvv in use */
	DECODE_FAILS(0xc5, 0xf9, 0xae, 0x16);		/* pp=66 */
	DECODE_FAILS(0xc5, 0xf8, 0xae, 0x26);		/* /4 */
	DECODE_FAILS(0xc4, 0xe2, 0x78, 0xae, 0x10);	/* map 0F38 */
	DECODE_FAILS(0x66, 0xc5, 0xf8, 0xae, 0x16);	/* prefix before VEX */
	DECODE_FAILS(0x48, 0xc5, 0xf8, 0xae, 0x16);	/* REX before VEX */
	DECODE_FAILS(0x0f, 0xae, 0xd0);			/* register form */
	DECODE_FAILS(0xf3, 0x0f, 0xae, 0xd0);		/* wrfsbase */
	DECODE_FAILS(0x0f, 0xae, 0x27);			/* xsave */
	DECODE_FAILS(0xf0, 0x0f, 0xae, 0x17);
}
END_TEST

/* ---- CMPXCHG16B ---- */

static void set_cmpxchg_regs(uint64_t rax, uint64_t rdx, uint64_t rbx, uint64_t rcx)
{
	cpu.gpr[RAX] = rax;
	cpu.gpr[RDX] = rdx;
	cpu.gpr[RBX] = rbx;
	cpu.gpr[RCX] = rcx;
}

START_TEST(test_cmpxchg16b_equal_stores)
{
	/* lock cmpxchg16b (%rdi) */
	cpu.gpr[RDI] = MEM_BASE + 0x100;
	put64(MEM_BASE + 0x100, 0x1111);
	put64(MEM_BASE + 0x108, 0x2222);
	set_cmpxchg_regs(0x1111, 0x2222, 0x3333, 0x4444);
	DECODE_OK(QK_CMPXCHG16B, 5, 0xf0, 0x48, 0x0f, 0xc7, 0x0f);
	ck_assert(insn.lock);
	ck_assert_uint_eq(insn.rm.ea, MEM_BASE + 0x100);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(get64(MEM_BASE + 0x100), 0x3333);
	ck_assert_uint_eq(get64(MEM_BASE + 0x108), 0x4444);
	ck_assert(cpu.rflags & FLAG_ZF);
	ck_assert_uint_eq(cpu.gpr[RAX], 0x1111);
	ck_assert_uint_eq(cpu.gpr[RDX], 0x2222);
	ck_assert_uint_eq(cpu.rip, CODE_RIP + 5);
}
END_TEST

START_TEST(test_cmpxchg16b_unequal_loads)
{
	/* cmpxchg16b 0x10(%rsp), no LOCK */
	cpu.gpr[RSP] = MEM_BASE + 0x0f0;
	put64(MEM_BASE + 0x100, 0xaaaa);
	put64(MEM_BASE + 0x108, 0xbbbb);
	set_cmpxchg_regs(0xaaaa, 0x2222, 0x3333, 0x4444);
	cpu.rflags = 0x2 | FLAG_ZF | FLAG_CF;
	DECODE_OK(QK_CMPXCHG16B, 6, 0x48, 0x0f, 0xc7, 0x4c, 0x24, 0x10);
	ck_assert(!insn.lock);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_uint_eq(cpu.rflags, 0x2 | FLAG_CF);
	ck_assert_uint_eq(cpu.gpr[RAX], 0xaaaa);
	ck_assert_uint_eq(cpu.gpr[RDX], 0xbbbb);
	ck_assert_uint_eq(get64(MEM_BASE + 0x100), 0xaaaa);
	ck_assert_uint_eq(get64(MEM_BASE + 0x108), 0xbbbb);
	ck_assert_int_eq(mem.writes, 0);
}
END_TEST

START_TEST(test_cmpxchg16b_gs_and_sib)
{
	/* lock cmpxchg16b %gs:(%r11) */
	cpu.gs_base = 0x100000;
	cpu.gpr[R11] = 0x20;
	DECODE_OK(QK_CMPXCHG16B, 6, 0x65, 0xf0, 0x49, 0x0f, 0xc7, 0x0b);
	ck_assert_uint_eq(insn.rm.ea, 0x100020);
	ck_assert_int_eq(insn.seg, QS_GS);

	/* lock cmpxchg16b 0x40(%r10,%rax,2) */
	cpu.gpr[R10] = 0x1000;
	cpu.gpr[RAX] = 0x8;
	DECODE_OK(QK_CMPXCHG16B, 7, 0xf0, 0x49, 0x0f, 0xc7, 0x4c, 0x42, 0x40);
	ck_assert_uint_eq(insn.rm.ea, 0x1050);
}
END_TEST

START_TEST(test_cmpxchg16b_misaligned_gp)
{
	cpu.gpr[RDI] = MEM_BASE + 0x108;
	set_cmpxchg_regs(0, 0, 1, 1);
	DECODE_OK(QK_CMPXCHG16B, 5, 0xf0, 0x48, 0x0f, 0xc7, 0x0f);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), -1);
	ck_assert_int_eq(cpu.inject_vector, 13);
	ck_assert(cpu.inject_has_error);
	ck_assert_uint_eq(cpu.inject_error, 0);
	ck_assert_uint_eq(cpu.rip, CODE_RIP);
	ck_assert_int_eq(mem.reads + mem.writes, 0);
	ck_assert_uint_eq(get64(MEM_BASE + 0x108), 0);
}
END_TEST

START_TEST(test_cmpxchg16b_unmapped_pf)
{
	cpu.gpr[RDI] = 0x700000;
	DECODE_OK(QK_CMPXCHG16B, 5, 0xf0, 0x48, 0x0f, 0xc7, 0x0f);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), -1);
	ck_assert_int_eq(cpu.inject_vector, 14);
	ck_assert_uint_eq(cpu.inject_error, 2);	/* a locked RMW is a write */
	ck_assert_uint_eq(cpu.fault_addr, 0x700000);
	ck_assert_uint_eq(cpu.rip, CODE_RIP);
}
END_TEST

START_TEST(test_cmpxchg16b_uses_atomic_callback)
{
	cpu.cmpxchg16 = fake_cmpxchg16;
	cpu.gpr[RDI] = MEM_BASE + 0x200;
	put64(MEM_BASE + 0x200, 5);
	put64(MEM_BASE + 0x208, 6);
	set_cmpxchg_regs(5, 6, 7, 8);
	DECODE_OK(QK_CMPXCHG16B, 5, 0xf0, 0x48, 0x0f, 0xc7, 0x0f);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert_int_eq(mem.cmpxchgs, 1);
	ck_assert_int_eq(mem.reads + mem.writes, 0);
	ck_assert(cpu.rflags & FLAG_ZF);
	ck_assert_uint_eq(get64(MEM_BASE + 0x200), 7);
	ck_assert_uint_eq(get64(MEM_BASE + 0x208), 8);

	/* Now memory holds 7:8, so comparing 5:6 again fails and loads it. */
	cpu.rip = CODE_RIP;
	set_cmpxchg_regs(5, 6, 9, 9);
	ck_assert_int_eq(quirk_finish(&insn, &cpu), 0);
	ck_assert(!(cpu.rflags & FLAG_ZF));
	ck_assert_uint_eq(cpu.gpr[RAX], 7);
	ck_assert_uint_eq(cpu.gpr[RDX], 8);

	mem.cmpxchg_faults = true;
	cpu.rip = CODE_RIP;
	ck_assert_int_eq(quirk_finish(&insn, &cpu), -1);
	ck_assert_int_eq(cpu.inject_vector, 14);
	ck_assert_uint_eq(cpu.fault_addr, MEM_BASE + 0x200);
	ck_assert_uint_eq(cpu.rip, CODE_RIP);
}
END_TEST

START_TEST(test_cmpxchg_other_forms_rejected)
{
	DECODE_FAILS(0x0f, 0xc7, 0x0f);			/* cmpxchg8b */
	DECODE_FAILS(0xf0, 0x0f, 0xc7, 0x0f);		/* lock cmpxchg8b */
	DECODE_FAILS(0x48, 0x0f, 0xc7, 0xc8);		/* register operand */
	DECODE_FAILS(0x66, 0x48, 0x0f, 0xc7, 0x0f);
	DECODE_FAILS(0x48, 0x0f, 0xc7, 0x37);		/* /6: vmptrld */
}
END_TEST

/* ---- rejection, truncation, lengths ---- */

START_TEST(test_unknown_opcodes_rejected)
{
	DECODE_FAILS(0x90);			/* nop */
	DECODE_FAILS(0x0f, 0x0b);		/* ud2 */
	DECODE_FAILS(0x0f, 0xa2);		/* cpuid */
	DECODE_FAILS(0xcd, 0x03);		/* int $3, two bytes */
	DECODE_FAILS(0xf0, 0xcc);
	DECODE_FAILS(0xf0, 0x9b);
	ck_assert_int_eq(quirk_decode(NULL, 0, &cpu, &insn), -1);
}
END_TEST

struct encoding {
	uint8_t bytes[16];
	unsigned int len;
	enum quirk_kind kind;
};

static const struct encoding valid_encodings[] = {
	{ { 0xcc }, 1, QK_INT3 },
	{ { 0x9b }, 1, QK_FWAIT },
	{ { 0x0f, 0x01, 0xca }, 3, QK_CLAC },
	{ { 0x0f, 0x01, 0xcb }, 3, QK_STAC },
	{ { 0xf3, 0x48, 0x0f, 0xb8, 0xc1 }, 5, QK_POPCNT },
	{ { 0xf3, 0x48, 0x0f, 0xb8, 0x15, 0x10, 0, 0, 0 }, 9, QK_POPCNT },
	{ { 0x65, 0xf3, 0x48, 0x0f, 0xb8, 0x04, 0x25, 0x28, 0, 0, 0 }, 11, QK_POPCNT },
	{ { 0x66, 0xf3, 0x47, 0x0f, 0xb8, 0x7c, 0xac, 0xf8 }, 8, QK_POPCNT },
	{ { 0x0f, 0xae, 0x15, 0x00, 0x01, 0, 0 }, 7, QK_LDMXCSR },
	{ { 0x0f, 0xae, 0x5d, 0xfc }, 4, QK_STMXCSR },
	{ { 0xc5, 0xf8, 0xae, 0x5c, 0x24, 0x08 }, 6, QK_STMXCSR },
	{ { 0xc4, 0xc1, 0x78, 0xae, 0x10 }, 5, QK_LDMXCSR },
	{ { 0xf0, 0x49, 0x0f, 0xc7, 0x4c, 0x42, 0x40 }, 7, QK_CMPXCHG16B },
};

START_TEST(test_truncated_bytes_rejected)
{
	const struct encoding *e = &valid_encodings[_i];
	unsigned int n;

	ck_assert_int_eq(quirk_decode(e->bytes, e->len, &cpu, &insn), 0);
	ck_assert_int_eq(insn.kind, e->kind);
	ck_assert_uint_eq(insn.len, e->len);
	/* Trailing bytes belong to the next instruction. */
	ck_assert_int_eq(quirk_decode(e->bytes, sizeof(e->bytes), &cpu, &insn), 0);
	ck_assert_uint_eq(insn.len, e->len);
	for (n = 0; n < e->len; n++)
		ck_assert_msg(quirk_decode(e->bytes, n, &cpu, &insn) == -1,
			      "encoding %d accepted with %u of %u bytes", _i, n, e->len);
}
END_TEST

START_TEST(test_fifteen_byte_limit)
{
	uint8_t bytes[20];
	unsigned int prefixes;

	/* 11 prefixes + f3 0f b8 c1 = 15 bytes: legal; one more is not. */
	for (prefixes = 11; prefixes <= 12; prefixes++) {
		memset(bytes, 0x3e, prefixes);
		memcpy(bytes + prefixes, "\xf3\x0f\xb8\xc1", 4);
		ck_assert_int_eq(quirk_decode(bytes, prefixes + 4, &cpu, &insn),
				 prefixes == 11 ? 0 : -1);
	}
}
END_TEST

START_TEST(test_finish_rejects_none)
{
	insn.kind = QK_NONE;
	ck_assert_int_eq(quirk_finish(&insn, &cpu), -1);
	ck_assert_uint_eq(cpu.rip, CODE_RIP);
}
END_TEST

/* ---- names and host detection ---- */

START_TEST(test_kind_names)
{
	ck_assert_str_eq(quirk_kind_name(QK_INT3), "int3");
	ck_assert_str_eq(quirk_kind_name(QK_FWAIT), "fwait");
	ck_assert_str_eq(quirk_kind_name(QK_CLAC), "clac");
	ck_assert_str_eq(quirk_kind_name(QK_STAC), "stac");
	ck_assert_str_eq(quirk_kind_name(QK_POPCNT), "popcnt");
	ck_assert_str_eq(quirk_kind_name(QK_LDMXCSR), "ldmxcsr");
	ck_assert_str_eq(quirk_kind_name(QK_STMXCSR), "stmxcsr");
	ck_assert_str_eq(quirk_kind_name(QK_CMPXCHG16B), "cmpxchg16b");
	ck_assert_str_eq(quirk_kind_name(QK_NONE), "none");
	ck_assert_str_eq(quirk_kind_name(QK_NR), "unknown");
	ck_assert_str_eq(quirk_kind_name((enum quirk_kind)-1), "unknown");
}
END_TEST

START_TEST(test_host_detect_env_override)
{
	setenv("VLAB_HOST_PVM", "1", 1);
	ck_assert(quirk_host_detect());
	setenv("VLAB_HOST_PVM", "0", 1);
	ck_assert(!quirk_host_detect());
	/* Without the override, the answer is whether the module is loaded. */
	unsetenv("VLAB_HOST_PVM");
	ck_assert(quirk_host_detect() == quirk_host_detect_in("/sys/module"));
}
END_TEST

START_TEST(test_host_detect_module_dir)
{
	char dir[] = "/tmp/vlab-quirks-XXXXXX";
	char path[64];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert(!quirk_host_detect_in(dir));

	/* A plain file of that name is not a loaded module. */
	snprintf(path, sizeof(path), "%s/kvm_pvm", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert(!quirk_host_detect_in(dir));
	unlink(path);

	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert(quirk_host_detect_in(dir));
	rmdir(path);
	rmdir(dir);
}
END_TEST

static Suite *quirks_suite(void)
{
	Suite *s = suite_create("quirks");
	TCase *simple = tcase_create("simple");
	TCase *popcnt = tcase_create("popcnt");
	TCase *mxcsr = tcase_create("mxcsr");
	TCase *cmpxchg = tcase_create("cmpxchg16b");
	TCase *decode = tcase_create("decode");
	TCase *host = tcase_create("host");

	tcase_add_checked_fixture(simple, setup, NULL);
	tcase_add_test(simple, test_int3_traps_after_the_instruction);
	tcase_add_test(simple, test_int3_32bit_wraps_eip);
	tcase_add_test(simple, test_fwait_advances_and_clears_stale_injection);
	tcase_add_test(simple, test_clac_stac_toggle_ac_only);
	tcase_add_test(simple, test_clac_32bit);
	tcase_add_test(simple, test_clac_with_rep_prefix_is_not_clac);
	suite_add_tcase(s, simple);

	tcase_add_checked_fixture(popcnt, setup, NULL);
	tcase_add_test(popcnt, test_popcnt_reg64);
	tcase_add_test(popcnt, test_popcnt_reg32_zero_extends);
	tcase_add_test(popcnt, test_popcnt_reg16_keeps_upper_bits);
	tcase_add_test(popcnt, test_popcnt_zero_source_sets_zf);
	tcase_add_test(popcnt, test_popcnt_rex_r_b_registers);
	tcase_add_test(popcnt, test_popcnt_mem_base);
	tcase_add_test(popcnt, test_popcnt_rip_relative);
	tcase_add_test(popcnt, test_popcnt_rip_relative_negative_and_rex_b);
	tcase_add_test(popcnt, test_popcnt_sib_no_base_index_scale);
	tcase_add_test(popcnt, test_popcnt_sib_no_base_ignores_rex_b);
	tcase_add_test(popcnt, test_popcnt_sib_r12_index_and_rbp_base);
	tcase_add_test(popcnt, test_popcnt_sib_extended_regs_negative_disp);
	tcase_add_test(popcnt, test_popcnt_r13_base_disp8);
	tcase_add_test(popcnt, test_popcnt_gs_relative);
	tcase_add_test(popcnt, test_popcnt_ds_override_ignored_in_64bit);
	tcase_add_test(popcnt, test_popcnt_addr32_prefix);
	tcase_add_test(popcnt, test_popcnt_rex_before_legacy_prefix_is_ignored);
	tcase_add_test(popcnt, test_popcnt_32bit_mode);
	tcase_add_test(popcnt, test_32bit_mode_rejects_rex_addr16_and_16bit_code);
	tcase_add_test(popcnt, test_popcnt_memory_fault_injects_pf);
	tcase_add_test(popcnt, test_popcnt_bad_prefixes_rejected);
	suite_add_tcase(s, popcnt);

	tcase_add_checked_fixture(mxcsr, setup, NULL);
	tcase_add_test(mxcsr, test_ldmxcsr_loads);
	tcase_add_test(mxcsr, test_ldmxcsr_reserved_bits_gp);
	tcase_add_test(mxcsr, test_ldmxcsr_rip_relative_and_rex);
	tcase_add_test(mxcsr, test_stmxcsr_stores);
	tcase_add_test(mxcsr, test_stmxcsr_fault_is_write_pf);
	tcase_add_test(mxcsr, test_vex_mxcsr);
	tcase_add_test(mxcsr, test_vex_mxcsr_32bit_and_lds);
	tcase_add_test(mxcsr, test_mxcsr_bad_encodings_rejected);
	suite_add_tcase(s, mxcsr);

	tcase_add_checked_fixture(cmpxchg, setup, NULL);
	tcase_add_test(cmpxchg, test_cmpxchg16b_equal_stores);
	tcase_add_test(cmpxchg, test_cmpxchg16b_unequal_loads);
	tcase_add_test(cmpxchg, test_cmpxchg16b_gs_and_sib);
	tcase_add_test(cmpxchg, test_cmpxchg16b_misaligned_gp);
	tcase_add_test(cmpxchg, test_cmpxchg16b_unmapped_pf);
	tcase_add_test(cmpxchg, test_cmpxchg16b_uses_atomic_callback);
	tcase_add_test(cmpxchg, test_cmpxchg_other_forms_rejected);
	suite_add_tcase(s, cmpxchg);

	tcase_add_checked_fixture(decode, setup, NULL);
	tcase_add_test(decode, test_unknown_opcodes_rejected);
	tcase_add_loop_test(decode, test_truncated_bytes_rejected, 0,
			    sizeof(valid_encodings) / sizeof(valid_encodings[0]));
	tcase_add_test(decode, test_fifteen_byte_limit);
	tcase_add_test(decode, test_finish_rejects_none);
	suite_add_tcase(s, decode);

	tcase_add_test(host, test_kind_names);
	tcase_add_test(host, test_host_detect_env_override);
	tcase_add_test(host, test_host_detect_module_dir);
	suite_add_tcase(s, host);
	return s;
}

VLAB_TEST_MAIN(quirks_suite)
