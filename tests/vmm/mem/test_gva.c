// SPDX-License-Identifier: GPL-2.0
/* Guest page-table walks over a buffer-backed guest_mem. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "check_main.h"
#include "vmm/mem/gva.h"

#define CR0_PE		(1ULL << 0)
#define CR0_WP		(1ULL << 16)
#define CR0_PG		(1ULL << 31)
#define CR4_PSE		(1ULL << 4)
#define CR4_PAE		(1ULL << 5)
#define CR4_LA57	(1ULL << 12)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

#define P		(1ULL << 0)
#define W		(1ULL << 1)
#define US		(1ULL << 2)
#define A		(1ULL << 5)
#define D		(1ULL << 6)
#define PS		(1ULL << 7)
#define NX		(1ULL << 63)

#define RAM_SIZE	(8ULL << 20)

/* Table pages for the walks below. */
#define PML5		0x1000ULL
#define PML4		0x2000ULL
#define PDPT		0x3000ULL
#define PD		0x4000ULL
#define PT		0x5000ULL
#define PT2		0x6000ULL

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static struct guest_mem gm;
static struct gva_mmu mmu;

static void setup(void)
{
	memset(ram, 0, sizeof(ram));
	ck_assert_int_eq(guest_mem_init_buffer(&gm, ram, sizeof(ram)), 0);
	memset(&mmu, 0, sizeof(mmu));
}

static void teardown(void)
{
	guest_mem_exit(&gm);
}

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(ram + gpa, &v, 8);
}

static void put32(uint64_t gpa, uint32_t v)
{
	memcpy(ram + gpa, &v, 4);
}

static uint64_t va48(uint64_t i4, uint64_t i3, uint64_t i2, uint64_t i1, uint64_t off)
{
	uint64_t va = i4 << 39 | i3 << 30 | i2 << 21 | i1 << 12 | off;

	/* Sign-extend bit 47 to make it canonical. */
	return (uint64_t)((int64_t)(va << 16) >> 16);
}

/* Translate and expect success at @want. */
static void xlate_ok(uint64_t gva, bool write, uint64_t want)
{
	uint64_t gpa = 0xdead;
	uint32_t pf = 0xdead;

	ck_assert_msg(!gva_translate(&gm, &mmu, gva, write, &gpa, &pf),
		      "gva 0x%llx (%s) should translate, pf=%#x",
		      (unsigned long long)gva, write ? "write" : "read", pf);
	ck_assert_msg(gpa == want, "gva 0x%llx -> 0x%llx, want 0x%llx",
		      (unsigned long long)gva, (unsigned long long)gpa,
		      (unsigned long long)want);
	ck_assert_uint_eq(pf, 0);
}

/* Translate and expect a fault with error code @want_pf. */
static void xlate_fault(uint64_t gva, bool write, uint32_t want_pf)
{
	uint64_t gpa = 0;
	uint32_t pf = 0xdead;

	ck_assert_msg(gva_translate(&gm, &mmu, gva, write, &gpa, &pf) == -1,
		      "gva 0x%llx (%s) should fault, got gpa 0x%llx",
		      (unsigned long long)gva, write ? "write" : "read",
		      (unsigned long long)gpa);
	ck_assert_msg(pf == want_pf, "gva 0x%llx: pf %#x, want %#x",
		      (unsigned long long)gva, pf, want_pf);
}

static void long_mode(bool wp)
{
	mmu.cr0 = CR0_PE | CR0_PG | (wp ? CR0_WP : 0);
	mmu.cr4 = CR4_PAE;
	mmu.efer = EFER_LME | EFER_LMA;
	mmu.cr3 = PML4;
}

/* A 4-level chain for indices (1, 2, 3, 4) down to a PT at PT. */
#define I4 1
#define I3 2
#define I2 3
#define I1 4

static void build_4level(void)
{
	put64(PML4 + I4 * 8, PDPT | P | W | US | A);
	put64(PDPT + I3 * 8, PD | P | W | US | A);
	put64(PD + I2 * 8, PT | P | W | US | A);
	put64(PT + I1 * 8, 0x123000 | P | W | US | A | D);
}

/* ---- paging off ---- */

START_TEST(paging_off_identity)
{
	uint32_t pf = 0x55;
	uint64_t gpa;

	mmu.cr0 = CR0_PE;
	xlate_ok(0, false, 0);
	xlate_ok(0x12345678, true, 0x12345678);
	xlate_ok(0xffffffff, false, 0xffffffff);
	/* Real mode and 32-bit protected mode addresses are 32 bits wide. */
	xlate_ok(0x100000000ULL, false, 0);
	xlate_ok(0xffffffff81234567ULL, true, 0x81234567);
	/* CR3 and CR4 do not matter without CR0.PG. */
	mmu.cr3 = 0xfff000;
	mmu.cr4 = CR4_PAE;
	mmu.efer = EFER_LMA;
	xlate_ok(0x1234, true, 0x1234);
	/* A NULL error-code pointer is allowed. */
	ck_assert_int_eq(gva_translate(&gm, &mmu, 0x42, false, &gpa, NULL), 0);
	ck_assert_uint_eq(gpa, 0x42);
	ck_assert_int_eq(gva_translate(&gm, &mmu, 0x42, false, &gpa, &pf), 0);
	ck_assert_uint_eq(pf, 0);
}
END_TEST

/* ---- 4-level long mode ---- */

START_TEST(long_4k)
{
	long_mode(true);
	build_4level();
	xlate_ok(va48(I4, I3, I2, I1, 0), false, 0x123000);
	xlate_ok(va48(I4, I3, I2, I1, 0xabc), true, 0x123abc);
	xlate_ok(va48(I4, I3, I2, I1, 0xfff), false, 0x123fff);
	/* The neighbour pages are not mapped. */
	xlate_fault(va48(I4, I3, I2, I1 + 1, 0), false, 0);
	xlate_fault(va48(I4, I3, I2, I1 - 1, 0xfff), true, GVA_PF_WRITE);
}
END_TEST

START_TEST(long_4k_high_bits_ignored)
{
	long_mode(true);
	build_4level();
	/* NX and the software-available bits are not part of the address. */
	put64(PT + I1 * 8, NX | (0x7ffULL << 52) | 0x123000 | P | W | (7ULL << 9));
	xlate_ok(va48(I4, I3, I2, I1, 0x10), false, 0x123010);
	/* Bits 52+ in an intermediate entry are ignored as well. */
	put64(PD + I2 * 8, NX | (0x3ULL << 52) | PT | P | W);
	xlate_ok(va48(I4, I3, I2, I1, 0x10), true, 0x123010);
	/* The 4K page may be anywhere in the 52-bit physical space. */
	put64(PT + I1 * 8, 0x000ffffffffff000ULL | P);
	xlate_ok(va48(I4, I3, I2, I1, 0x7), false, 0x000ffffffffff007ULL);
}
END_TEST

START_TEST(long_kernel_half)
{
	uint64_t gva = 0xffffffff81234567ULL;	/* i4 511, i3 510, i2 9, i1 0x34 */

	long_mode(true);
	put64(PML4 + 511 * 8, PDPT | P | W);
	put64(PDPT + 510 * 8, PD | P | W);
	put64(PD + ((gva >> 21) & 511) * 8, PT | P | W);
	put64(PT + ((gva >> 12) & 511) * 8, 0x300000 | P | W);
	xlate_ok(gva, false, 0x300567);
	/* CR3's low bits (PCID, PWT/PCD) do not move the PML4. */
	mmu.cr3 = PML4 | 0xfff;
	xlate_ok(gva, true, 0x300567);
}
END_TEST

START_TEST(long_2m)
{
	long_mode(true);
	build_4level();
	put64(PD + I2 * 8, 0x600000 | P | W | PS);
	xlate_ok(va48(I4, I3, I2, 0, 0), false, 0x600000);
	xlate_ok(va48(I4, I3, I2, I1, 0x123), true, 0x600000 + (I1 << 12) + 0x123);
	xlate_ok(va48(I4, I3, I2, 511, 0xfff), false, 0x7fffff);
	/* PAT (bit 12) in a 2M entry is not an address bit. */
	put64(PD + I2 * 8, 0x600000 | (1ULL << 12) | P | W | PS);
	xlate_ok(va48(I4, I3, I2, 1, 0), false, 0x601000);
}
END_TEST

START_TEST(long_1g)
{
	long_mode(true);
	build_4level();
	put64(PDPT + I3 * 8, 0x80000000ULL | P | W | PS);
	xlate_ok(va48(I4, I3, 0, 0, 0), false, 0x80000000ULL);
	xlate_ok(va48(I4, I3, 5, 6, 0x789), true, 0x80000000ULL | 5 << 21 | 6 << 12 | 0x789);
	xlate_ok(va48(I4, I3, 511, 511, 0xfff), false, 0xbfffffffULL);
	/* PS in a PML4 entry is reserved, not a 512G page: the walk goes on. */
	put64(PML4 + I4 * 8, PDPT | P | W | PS);
	xlate_ok(va48(I4, I3, 0, 0, 0x10), false, 0x80000010ULL);
}
END_TEST

START_TEST(long_not_present_each_level)
{
	uint64_t va = va48(I4, I3, I2, I1, 0x18);
	const uint64_t entries[] = {
		PML4 + I4 * 8, PDPT + I3 * 8, PD + I2 * 8, PT + I1 * 8,
	};
	size_t i;

	long_mode(true);
	for (i = 0; i < 4; i++) {
		build_4level();
		/* Everything else still in the entry, only P clear. */
		ram[entries[i]] &= ~P;
		xlate_fault(va, false, 0);
		xlate_fault(va, true, GVA_PF_WRITE);
		/* Entirely zero entry. */
		put64(entries[i], 0);
		xlate_fault(va, false, 0);
	}
	build_4level();
	xlate_ok(va, true, 0x123018);
}
END_TEST

START_TEST(long_write_protect)
{
	uint64_t va = va48(I4, I3, I2, I1, 0x20);

	long_mode(true);
	build_4level();
	put64(PT + I1 * 8, 0x123000 | P);
	xlate_ok(va, false, 0x123020);
	xlate_fault(va, true, GVA_PF_PRESENT | GVA_PF_WRITE);

	/* Supervisor writes ignore R/W when CR0.WP is clear. */
	mmu.cr0 &= ~CR0_WP;
	xlate_ok(va, true, 0x123020);
}
END_TEST

START_TEST(long_write_protect_upper_levels)
{
	uint64_t va = va48(I4, I3, I2, I1, 0x20);
	const uint64_t entries[] = { PML4 + I4 * 8, PDPT + I3 * 8, PD + I2 * 8 };
	size_t i;

	long_mode(true);
	for (i = 0; i < 3; i++) {
		build_4level();
		/* R/W must be set at every level for a write. */
		ram[entries[i]] &= ~W;
		xlate_ok(va, false, 0x123020);
		xlate_fault(va, true, GVA_PF_PRESENT | GVA_PF_WRITE);
	}
	/* A read-only 2M and 1G page. */
	build_4level();
	put64(PD + I2 * 8, 0x600000 | P | PS);
	xlate_fault(va, true, GVA_PF_PRESENT | GVA_PF_WRITE);
	put64(PDPT + I3 * 8, 0x40000000 | P | PS);
	xlate_fault(va, true, GVA_PF_PRESENT | GVA_PF_WRITE);
	mmu.cr0 &= ~CR0_WP;
	xlate_ok(va, true, 0x40000000 | I2 << 21 | I1 << 12 | 0x20);
}
END_TEST

START_TEST(long_not_present_beats_write_protect)
{
	uint64_t va = va48(I4, I3, I2, I1, 0);

	/*
	 * SDM "Page-Fault Exceptions": P is 0 if the fault came from an entry
	 * with P clear anywhere in the walk, even above a read-only level.
	 */
	long_mode(true);
	build_4level();
	ram[PDPT + I3 * 8] &= ~W;
	put64(PT + I1 * 8, 0);
	xlate_fault(va, true, GVA_PF_WRITE);
	xlate_fault(va, false, 0);
}
END_TEST

START_TEST(long_5level)
{
	uint64_t gva = 3ULL << 48 | va48(I4, I3, I2, I1, 0x44);

	long_mode(true);
	mmu.cr4 |= CR4_LA57;
	mmu.cr3 = PML5;
	build_4level();
	put64(PML5 + 3 * 8, PML4 | P | W);
	xlate_ok(gva & ((1ULL << 57) - 1), false, 0x123044);
	put64(PML5 + 3 * 8, PML4);
	xlate_fault(gva & ((1ULL << 57) - 1), true, GVA_PF_WRITE);
}
END_TEST

START_TEST(long_tables_outside_ram)
{
	uint64_t va = va48(I4, I3, I2, I1, 0);
	uint32_t pf = 0x77;
	uint64_t gpa;

	long_mode(true);
	build_4level();
	mmu.cr3 = RAM_SIZE;
	xlate_fault(va, false, 0);
	mmu.cr3 = 0x000ffffffffff000ULL;
	xlate_fault(va, true, 0);
	mmu.cr3 = PML4;
	put64(PML4 + I4 * 8, 0x000ffffffffff000ULL | P | W);
	xlate_fault(va, false, 0);
	build_4level();
	put64(PD + I2 * 8, (RAM_SIZE + 0x1000) | P | W);
	xlate_fault(va, false, 0);
	/* A page table in the last page of RAM, using its last entry. */
	put64(PD + I2 * 8, (RAM_SIZE - 0x1000) | P | W);
	put64(RAM_SIZE - 8, 0x123000 | P | W);
	xlate_ok(va48(I4, I3, I2, 511, 0x9), true, 0x123009);
	ck_assert_int_eq(gva_translate(&gm, &mmu, va, false, &gpa, &pf), -1);
	ck_assert_uint_eq(pf, 0);
}
END_TEST

/* ---- PAE without long mode ---- */

START_TEST(pae_3level)
{
	uint64_t gva = 2ULL << 30 | 7 << 21 | 9 << 12 | 0x345;
	uint64_t pdpt = 0x7020;	/* PAE CR3 is 32-byte aligned, not 4K */

	mmu.cr0 = CR0_PE | CR0_PG | CR0_WP;
	mmu.cr4 = CR4_PAE;
	mmu.cr3 = pdpt;
	/* PDPTEs have no R/W bit: a write through them is not a WP fault. */
	put64(pdpt + 2 * 8, PD | P);
	put64(PD + 7 * 8, PT | P | W);
	put64(PT + 9 * 8, 0x222000 | P | W);
	xlate_ok(gva, false, 0x222345);
	xlate_ok(gva, true, 0x222345);
	/* 2M page at the PD level. */
	put64(PD + 7 * 8, 0x400000 | P | W | PS);
	xlate_ok(gva, true, 0x400000 | 9 << 12 | 0x345);
	/* A set PS bit in a PDPTE does not make a 1G page. */
	put64(pdpt + 2 * 8, PD | P | PS);
	xlate_ok(gva, false, 0x400000 | 9 << 12 | 0x345);
	/* The other three PDPTEs are empty. */
	xlate_fault(gva & 0x3fffffff, false, 0);
	xlate_fault(3ULL << 30, true, GVA_PF_WRITE);
	/* Read-only PD entry does fault with WP. */
	put64(PD + 7 * 8, 0x400000 | P | PS);
	xlate_fault(gva, true, GVA_PF_PRESENT | GVA_PF_WRITE);
	/* CR3 outside RAM. */
	mmu.cr3 = RAM_SIZE;
	xlate_fault(gva, false, 0);
}
END_TEST

/* ---- 32-bit paging ---- */

#define PD32	0x8000ULL
#define PT32	0x9000ULL

START_TEST(legacy_32bit_4k)
{
	uint32_t gva = 0x80000000u | 5 << 12 | 0x678;	/* pde 512, pte 5 */

	mmu.cr0 = CR0_PE | CR0_PG | CR0_WP;
	mmu.cr3 = PD32 | 0x18;	/* PWT/PCD ignored */
	put32(PD32 + 512 * 4, PT32 | P | W);
	put32(PT32 + 5 * 4, 0x00345000 | P | W);
	xlate_ok(gva, false, 0x345678);
	xlate_ok(gva, true, 0x345678);
	/* The upper half of a 64-bit gva is ignored in 32-bit paging. */
	xlate_ok(0xabcd00000000ULL | gva, false, 0x345678);
	/* Not present at each level. */
	xlate_fault(gva + 0x1000, true, GVA_PF_WRITE);
	xlate_fault(gva + 0x400000, false, 0);
	/* R/W must be set in both the PDE and the PTE. */
	put32(PT32 + 5 * 4, 0x00345000 | P);
	xlate_fault(gva, true, GVA_PF_PRESENT | GVA_PF_WRITE);
	put32(PT32 + 5 * 4, 0x00345000 | P | W);
	put32(PD32 + 512 * 4, PT32 | P);
	xlate_fault(gva, true, GVA_PF_PRESENT | GVA_PF_WRITE);
	xlate_ok(gva, false, 0x345678);
	mmu.cr0 &= ~CR0_WP;
	xlate_ok(gva, true, 0x345678);
	/* PDE pointing outside RAM. */
	put32(PD32 + 512 * 4, 0xfffff000u | P | W);
	xlate_fault(gva, false, 0);
	/* CR3 outside RAM. */
	mmu.cr3 = 0xfffff000u;
	xlate_fault(gva, false, 0);
}
END_TEST

START_TEST(legacy_32bit_pse)
{
	uint32_t gva = 3u << 22 | 0x2abcde;

	mmu.cr0 = CR0_PE | CR0_PG | CR0_WP;
	mmu.cr3 = PD32;
	/* A 4M page at 4M; without CR4.PSE the PS bit is ignored and the
	 * same entry points at a page table at 0x400000. */
	put32(PD32 + 3 * 4, 0x00400000 | P | W | PS);
	put32(0x400000 + ((gva >> 12) & 1023) * 4, 0x00111000 | P | W);

	mmu.cr4 = CR4_PSE;
	xlate_ok(gva, false, 0x400000 | (gva & 0x3fffff));
	xlate_ok(gva, true, 0x400000 | (gva & 0x3fffff));
	/* Read-only 4M page. */
	put32(PD32 + 3 * 4, 0x00400000 | P | PS);
	xlate_fault(gva, true, GVA_PF_PRESENT | GVA_PF_WRITE);
	xlate_ok(gva, false, 0x6abcde);
	put32(PD32 + 3 * 4, 0x00400000 | P | W | PS);

	mmu.cr4 = 0;
	xlate_ok(gva, false, 0x111000 | (gva & 0xfff));
	/* Not present 4M entry. */
	mmu.cr4 = CR4_PSE;
	put32(PD32 + 3 * 4, 0x00400000 | W | PS);
	xlate_fault(gva, true, GVA_PF_WRITE);
}
END_TEST

/* ---- copies across pages ---- */

static void build_two_pages(uint64_t *va, uint64_t first, uint64_t second)
{
	long_mode(true);
	build_4level();
	put64(PT + I1 * 8, first | P | W);
	put64(PT + (I1 + 1) * 8, second | P | W);
	*va = va48(I4, I3, I2, I1, 0);
}

START_TEST(copy_across_pages)
{
	static uint8_t page2[8192];
	uint8_t in[32], out[32];
	uint64_t va;
	size_t i;

	/* Virtually adjacent, physically the second page is below the first. */
	build_two_pages(&va, 0x150000, 0x120000);
	for (i = 0; i < sizeof(in); i++)
		in[i] = i + 1;
	ck_assert_int_eq(gva_write(&gm, &mmu, va + 0xff0, in, sizeof(in)), 0);
	ck_assert_int_eq(memcmp(ram + 0x150ff0, in, 16), 0);
	ck_assert_int_eq(memcmp(ram + 0x120000, in + 16, 16), 0);
	ck_assert_int_eq(ram[0x151000], 0);	/* physically adjacent: untouched */
	ck_assert_int_eq(ram[0x120010], 0);

	memset(out, 0, sizeof(out));
	ck_assert_int_eq(gva_read(&gm, &mmu, va + 0xff0, out, sizeof(out)), 0);
	ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);

	/* Both physical pages were marked dirty, and only those. */
	for (i = 0; i < gm.dirty_bits; i++) {
		bool d = gm.dirty[i / 64] & (1UL << (i % 64));

		ck_assert_int_eq(d, i == 0x150 || i == 0x120);
	}

	/* Exactly two whole pages, and zero bytes even where nothing is mapped. */
	ck_assert_int_eq(gva_read(&gm, &mmu, va, page2, sizeof(page2)), 0);
	ck_assert_int_eq(memcmp(page2 + 0xff0, in, sizeof(in)), 0);
	ck_assert_int_eq(gva_read(&gm, &mmu, va + 0x5000, out, 0), 0);
}
END_TEST

START_TEST(copy_fails_on_second_page)
{
	uint8_t buf[16] = { 0 };
	uint64_t va;

	build_two_pages(&va, 0x150000, 0x120000);
	put64(PT + (I1 + 1) * 8, 0);
	ck_assert_int_eq(gva_read(&gm, &mmu, va + 0xff8, buf, 8), 0);
	ck_assert_int_eq(gva_read(&gm, &mmu, va + 0xff8, buf, 9), -1);
	ck_assert_int_eq(gva_write(&gm, &mmu, va + 0xff8, buf, 16), -1);

	/* Read-only second page: reads pass, writes fault. */
	put64(PT + (I1 + 1) * 8, 0x120000 | P);
	ck_assert_int_eq(gva_read(&gm, &mmu, va + 0xff8, buf, 16), 0);
	ck_assert_int_eq(gva_write(&gm, &mmu, va + 0xff8, buf, 16), -1);

	/* Second page maps beyond RAM. */
	put64(PT + (I1 + 1) * 8, (RAM_SIZE + 0x3000) | P | W);
	ck_assert_int_eq(gva_read(&gm, &mmu, va + 0xff8, buf, 16), -1);
	/* Last page of RAM, then off the end. */
	put64(PT + (I1 + 1) * 8, (RAM_SIZE - 0x1000) | P | W);
	ck_assert_int_eq(gva_read(&gm, &mmu, va + 0x1ff8, buf, 8), 0);
}
END_TEST

START_TEST(copy_paging_off)
{
	uint8_t buf[8] = "vlab!!!";
	uint8_t out[8];

	mmu.cr0 = CR0_PE;
	ck_assert_int_eq(gva_write(&gm, &mmu, 0x1ffc, buf, 8), 0);
	ck_assert_int_eq(memcmp(ram + 0x1ffc, buf, 8), 0);
	ck_assert_int_eq(gva_read(&gm, &mmu, 0x1ffc, out, 8), 0);
	ck_assert_int_eq(memcmp(out, buf, 8), 0);
	ck_assert_int_eq(gva_read(&gm, &mmu, RAM_SIZE - 4, out, 8), -1);
}
END_TEST

static Suite *gva_suite(void)
{
	Suite *s = suite_create("gva");

	vlab_tcase(s, "walk", setup, teardown, 0, VLAB_TESTS(
		paging_off_identity, long_4k, long_4k_high_bits_ignored, long_kernel_half,
		long_2m, long_1g, long_not_present_each_level, long_write_protect,
		long_write_protect_upper_levels, long_not_present_beats_write_protect,
		long_5level, long_tables_outside_ram, pae_3level, legacy_32bit_4k,
		legacy_32bit_pse));

	vlab_tcase(s, "copy", setup, teardown, 0, VLAB_TESTS(
		copy_across_pages, copy_fails_on_second_page, copy_paging_off));
	return s;
}

VLAB_TEST_MAIN(gva_suite)
