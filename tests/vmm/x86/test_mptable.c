// SPDX-License-Identifier: GPL-2.0
/* MP table: checksums, entry order and counts, interrupt routing. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_main.h"
#include "vmm/x86/boot.h"

#define MiB		(1ULL << 20)

/* IRQ 0-15, less the cascade (IRQ 2) when the timer takes its pin. */
#define NR_ISA_ENTRIES	(MPTABLE_TIMER_PIN == 2 ? 15 : 16)
#define NR_PCI_ENTRIES	(31 * 4)
#define MPC_HDR_SIZE	44

static struct guest_mem gm;

static void setup(void)
{
	ck_assert_int_eq(guest_mem_init(&gm, 64 * MiB), 0);
}

static void teardown(void)
{
	guest_mem_exit(&gm);
}

static const uint8_t *at(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = guest_mem_map(&gm, gpa, len, false);

	ck_assert_ptr_nonnull(p);
	return p;
}

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint8_t byte_sum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return sum;
}

/* Counts of what one table holds, filled by walking it. */
struct mp_seen {
	int cpus, bsp, buses, ioapics, isa, pci, lint;
	uint8_t isa_pin[16];
	bool isa_present[16];
};

/* Check the floating pointer and header, then walk every entry. */
static const uint8_t *check_headers(int nr_cpus)
{
	const uint8_t *mpf = at(BOOT_MP_FLOAT_ADDR, 16);
	const uint8_t *hdr;
	uint16_t len;

	ck_assert_mem_eq(mpf, "_MP_", 4);
	ck_assert_uint_eq(le32(mpf + 4), BOOT_EBDA_ADDR);
	ck_assert_uint_eq(mpf[8], 1);		/* 16 bytes */
	ck_assert_uint_eq(mpf[9], 4);		/* MP 1.4 */
	ck_assert_uint_eq(mpf[11], 0);		/* configuration table present */
	ck_assert_uint_eq(byte_sum(mpf, 16), 0);

	hdr = at(BOOT_EBDA_ADDR, MPC_HDR_SIZE);
	ck_assert_mem_eq(hdr, "PCMP", 4);
	len = le16(hdr + 4);
	ck_assert_uint_eq(len, MPC_HDR_SIZE + 20 * nr_cpus + 8 * (2 + 1) +
			  8 * (NR_ISA_ENTRIES + NR_PCI_ENTRIES + 2));
	ck_assert_uint_eq(hdr[6], 4);
	ck_assert_uint_eq(le16(hdr + 34), nr_cpus + 2 + 1 + NR_ISA_ENTRIES +
			  NR_PCI_ENTRIES + 2);
	ck_assert_uint_eq(le32(hdr + 36), 0xfee00000);
	ck_assert_uint_eq(le16(hdr + 40), 0);	/* no extended table */
	ck_assert_uint_eq(hdr[42], 0);
	hdr = at(BOOT_EBDA_ADDR, len);
	ck_assert_uint_eq(byte_sum(hdr, len), 0);
	/* The table must end before the floating pointer it is found by. */
	ck_assert_uint_le(BOOT_EBDA_ADDR + len, BOOT_MP_FLOAT_ADDR);
	return hdr;
}

static void walk(const uint8_t *hdr, int nr_cpus, struct mp_seen *s)
{
	uint16_t len = le16(hdr + 4), count = le16(hdr + 34);
	const uint8_t *p = hdr + MPC_HDR_SIZE;
	int last_type = 0;

	memset(s, 0, sizeof(*s));
	while (count--) {
		ck_assert(p < hdr + len);
		/* MP spec: entries appear sorted by type. */
		ck_assert_int_ge(p[0], last_type);
		last_type = p[0];
		switch (p[0]) {
		case 0:	/* processor */
			ck_assert_uint_eq(p[1], s->cpus);	/* APIC IDs 0..n-1 */
			ck_assert_uint_eq(p[2], 0x14);
			ck_assert_uint_eq(p[3] & 1, 1);		/* enabled */
			if (p[3] & 2) {
				ck_assert_uint_eq(p[1], 0);
				s->bsp++;
			}
			ck_assert_uint_eq((le32(p + 4) >> 8) & 0xf, 6);	/* family */
			ck_assert_uint_eq(le32(p + 8) & (1 << 9), 1 << 9);	/* APIC */
			s->cpus++;
			p += 20;
			break;
		case 1:	/* bus */
			if (p[1] == 0)
				ck_assert_mem_eq(p + 2, "PCI   ", 6);
			else if (p[1] == 1)
				ck_assert_mem_eq(p + 2, "ISA   ", 6);
			else
				ck_abort_msg("unexpected bus id %u", p[1]);
			s->buses++;
			p += 8;
			break;
		case 2:	/* IOAPIC */
			ck_assert_uint_eq(p[1], nr_cpus);
			ck_assert_uint_eq(p[2], 0x11);
			ck_assert_uint_eq(p[3], 1);
			ck_assert_uint_eq(le32(p + 4), 0xfec00000);
			s->ioapics++;
			p += 8;
			break;
		case 3:	/* I/O interrupt */
			ck_assert_uint_eq(p[1], 0);		/* INT */
			ck_assert_uint_eq(p[6], nr_cpus);	/* to our IOAPIC */
			if (p[4] == 1) {
				ck_assert_uint_eq(le16(p + 2), 0);	/* conforming */
				ck_assert_uint_lt(p[5], 16);
				ck_assert(!s->isa_present[p[5]]);
				s->isa_present[p[5]] = true;
				s->isa_pin[p[5]] = p[7];
				s->isa++;
			} else {
				unsigned int slot = p[5] >> 2, pin = p[5] & 3;

				ck_assert_uint_eq(p[4], 0);
				ck_assert_uint_ge(slot, 1);
				ck_assert_uint_le(slot, 31);
				/* Level-triggered (3 << 2), active low (3). */
				ck_assert_uint_eq(le16(p + 2), 0xf);
				ck_assert_uint_eq(p[7], 16 + (slot + pin) % 8);
				s->pci++;
			}
			p += 8;
			break;
		case 4:	/* local interrupt */
			ck_assert_uint_eq(p[6], 0xff);		/* every LAPIC */
			if (p[1] == 3)				/* ExtINT */
				ck_assert_uint_eq(p[7], 0);
			else if (p[1] == 1)			/* NMI */
				ck_assert_uint_eq(p[7], 1);
			else
				ck_abort_msg("unexpected local interrupt type %u", p[1]);
			s->lint++;
			p += 8;
			break;
		default:
			ck_abort_msg("unknown entry type %u", p[0]);
		}
	}
	ck_assert_ptr_eq(p, hdr + len);
}

static void check_table(int nr_cpus)
{
	const uint8_t *hdr;
	struct mp_seen s;
	int irq;

	ck_assert_int_eq(mptable_write(&gm, nr_cpus), 0);
	hdr = check_headers(nr_cpus);
	walk(hdr, nr_cpus, &s);
	ck_assert_int_eq(s.cpus, nr_cpus);
	ck_assert_int_eq(s.bsp, 1);
	ck_assert_int_eq(s.buses, 2);
	ck_assert_int_eq(s.ioapics, 1);
	ck_assert_int_eq(s.isa, NR_ISA_ENTRIES);
	ck_assert_int_eq(s.pci, NR_PCI_ENTRIES);
	ck_assert_int_eq(s.lint, 2);
	/* Timer on MPTABLE_TIMER_PIN, everything else identity-mapped. */
	ck_assert(s.isa_present[0]);
	ck_assert_uint_eq(s.isa_pin[0], MPTABLE_TIMER_PIN);
	ck_assert(s.isa_present[2] == (MPTABLE_TIMER_PIN != 2));
	for (irq = 1; irq < 16; irq++)
		if (s.isa_present[irq])
			ck_assert_uint_eq(s.isa_pin[irq], irq);
}

START_TEST(test_one_cpu)
{
	check_table(1);
}
END_TEST

START_TEST(test_two_cpus)
{
	check_table(2);
}
END_TEST

START_TEST(test_eight_cpus)
{
	check_table(8);
}
END_TEST

START_TEST(test_max_cpus)
{
	check_table(64);
	check_table(MPTABLE_MAX_CPUS);
}
END_TEST

START_TEST(test_rewrite_smaller_leaves_no_stale_bytes)
{
	const uint8_t *hdr;
	uint16_t len;
	size_t i;

	ck_assert_int_eq(mptable_write(&gm, 32), 0);
	check_table(1);
	hdr = at(BOOT_EBDA_ADDR, BOOT_MP_FLOAT_ADDR - BOOT_EBDA_ADDR);
	len = le16(hdr + 4);
	for (i = len; i < BOOT_MP_FLOAT_ADDR - BOOT_EBDA_ADDR; i++)
		ck_assert_uint_eq(hdr[i], 0);
}
END_TEST

START_TEST(test_bad_cpu_counts)
{
	ck_assert_int_eq(mptable_write(&gm, 0), -EINVAL);
	ck_assert_int_eq(mptable_write(&gm, -3), -EINVAL);
	ck_assert_int_eq(mptable_write(&gm, MPTABLE_MAX_CPUS + 1), -E2BIG);
	ck_assert_int_eq(mptable_write(&gm, 100000), -E2BIG);
	ck_assert_int_ge(MPTABLE_MAX_CPUS, 64);
}
END_TEST

START_TEST(test_no_ram_under_ebda)
{
	static uint8_t ram[256 * 1024];

	guest_mem_exit(&gm);
	ck_assert_int_eq(guest_mem_init_buffer(&gm, ram, sizeof(ram)), 0);
	ck_assert_int_eq(mptable_write(&gm, 1), -EFAULT);
}
END_TEST

START_TEST(test_ebda_reserved_in_e820)
{
	struct e820_map map;
	bool covered = false;
	int i;

	/* The table must lie in a reserved range, or the guest may reuse it. */
	e820_build(&gm, &map);
	for (i = 0; i < map.nr; i++)
		if (map.e[i].type == E820_RESERVED &&
		    map.e[i].addr <= BOOT_EBDA_ADDR &&
		    map.e[i].addr + map.e[i].size >= BOOT_MP_FLOAT_ADDR + 16)
			covered = true;
	ck_assert(covered);
}
END_TEST

VLAB_SUITE_MAIN("mptable", "core", setup, teardown, 0,
	test_one_cpu, test_two_cpus, test_eight_cpus, test_max_cpus,
	test_rewrite_smaller_leaves_no_stale_bytes, test_bad_cpu_counts,
	test_no_ram_under_ebda, test_ebda_reserved_in_e820);
