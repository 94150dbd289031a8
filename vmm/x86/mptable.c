// SPDX-License-Identifier: GPL-2.0
/*
 * Intel MultiProcessor Specification 1.4 table: how the guest finds its
 * CPUs, the IOAPIC and the interrupt routing without ACPI.
 *
 * The floating pointer sits in the last KiB of base memory, one of the
 * places the spec (and Linux) scans; it points at the configuration table
 * at the start of the EBDA. Both areas are reserved in the e820 map.
 */
#include <errno.h>
#include <string.h>

#include "vmm/x86/boot.h"

#define MP_SPEC_REV		4	/* 1.4 */
#define MP_LAPIC_VERSION	0x14
#define MP_IOAPIC_VERSION	0x11
#define MP_IOAPIC_PINS		24

enum mp_entry_type {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_IOINTR = 3,
	MP_LINTR = 4,
};

enum mp_irq_type {
	MP_INT = 0,
	MP_NMI = 1,
	MP_SMI = 2,
	MP_EXTINT = 3,
};

/* I/O and local interrupt entry flags: polarity bits 1:0, trigger 3:2. */
#define MP_IRQ_CONFORMING	0x0
#define MP_IRQ_ACTIVE_LOW	0x3
#define MP_IRQ_LEVEL		(0x3 << 2)

#define MP_CPU_ENABLED		0x1
#define MP_CPU_BSP		0x2
#define MP_IOAPIC_ENABLED	0x1

/* Family 6 model 0: something every kernel knows; FPU and APIC present. */
#define MP_CPU_SIGNATURE	(6 << 8)
#define MP_CPU_FEATURES		((1 << 0) | (1 << 9))

#define MP_BUS_PCI		0
#define MP_BUS_ISA		1
#define MP_ISA_IRQS		16
#define MP_PCI_SLOTS		32	/* device 0 is the host bridge: no INTx */
#define MP_PCI_FIRST_PIN	16
#define MP_PCI_PINS		8
#define MP_ALL_LAPICS		0xff

struct mpf_intel {
	char signature[4];	/* "_MP_" */
	uint32_t physptr;
	uint8_t length;		/* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature1;	/* 0: a configuration table is present */
	uint8_t feature2;
	uint8_t feature3[3];
} __attribute__((packed));

struct mpc_table {
	char signature[4];	/* "PCMP" */
	uint16_t length;	/* base table, header included */
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;	/* number of entries */
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature_signature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));

/* Same layout for I/O (type 3) and local (type 4) interrupt entries. */
struct mpc_intsrc {
	uint8_t type;
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf_intel) == 16, "mpf_intel layout");
_Static_assert(sizeof(struct mpc_table) == 44, "mpc_table layout");
_Static_assert(sizeof(struct mpc_cpu) == 20, "mpc_cpu layout");
_Static_assert(sizeof(struct mpc_bus) == 8, "mpc_bus layout");
_Static_assert(sizeof(struct mpc_ioapic) == 8, "mpc_ioapic layout");
_Static_assert(sizeof(struct mpc_intsrc) == 8, "mpc_intsrc layout");

/*
 * With the timer moved to pin 2, ISA IRQ 2 (the 8259 cascade, which no
 * device uses) has no entry: two sources on one pin would make the
 * guest's pin-to-IRQ lookup ambiguous.
 */
#define MP_NR_ISA_ENTRIES	(MPTABLE_TIMER_PIN == 2 ? MP_ISA_IRQS - 1 : MP_ISA_IRQS)
#define MP_NR_PCI_ENTRIES	((MP_PCI_SLOTS - 1) * 4)
#define MP_NR_LINT_ENTRIES	2

#define MPTABLE_SIZE(nr_cpus)						\
	(sizeof(struct mpc_table) +					\
	 (nr_cpus) * sizeof(struct mpc_cpu) +				\
	 2 * sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +	\
	 (MP_NR_ISA_ENTRIES + MP_NR_PCI_ENTRIES + MP_NR_LINT_ENTRIES) *	\
	 sizeof(struct mpc_intsrc))
#define MPTABLE_MAX_SIZE	MPTABLE_SIZE(MPTABLE_MAX_CPUS)

_Static_assert(BOOT_EBDA_ADDR + MPTABLE_MAX_SIZE <= BOOT_MP_FLOAT_ADDR,
	       "MP table for MPTABLE_MAX_CPUS overlaps the floating pointer");
_Static_assert(BOOT_MP_FLOAT_ADDR + sizeof(struct mpf_intel) <= BOOT_LOW_RAM_END,
	       "MP floating pointer outside base memory");

/* The value that makes the bytes of @buf sum to zero (mod 256). */
static uint8_t mp_checksum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return -sum;
}

/* Appends entries to the table buffer and counts them. */
struct mp_writer {
	uint8_t *buf;
	size_t pos;
	uint16_t count;
};

static void mp_put(struct mp_writer *w, const void *entry, size_t len)
{
	memcpy(w->buf + w->pos, entry, len);
	w->pos += len;
	w->count++;
}

static void mp_put_intsrc(struct mp_writer *w, uint8_t type, uint8_t irqtype,
			  uint16_t flags, uint8_t bus, uint8_t busirq,
			  uint8_t dstapic, uint8_t dstirq)
{
	struct mpc_intsrc e = {
		.type = type,
		.irqtype = irqtype,
		.irqflag = flags,
		.srcbus = bus,
		.srcbusirq = busirq,
		.dstapic = dstapic,
		.dstirq = dstirq,
	};

	mp_put(w, &e, sizeof(e));
}

static void mp_put_bus(struct mp_writer *w, uint8_t id, const char name[6])
{
	struct mpc_bus bus = { .type = MP_BUS, .busid = id };

	memcpy(bus.bustype, name, sizeof(bus.bustype));
	mp_put(w, &bus, sizeof(bus));
}

int mptable_write(struct guest_mem *gm, int nr_cpus)
{
	uint8_t buf[MPTABLE_MAX_SIZE];
	struct mp_writer w = { .buf = buf, .pos = sizeof(struct mpc_table) };
	struct mpc_table *hdr = (struct mpc_table *)buf;
	struct mpf_intel mpf;
	uint8_t ioapic_id;
	int cpu, irq, slot, pin;

	if (nr_cpus < 1)
		return -EINVAL;
	if (nr_cpus > MPTABLE_MAX_CPUS)
		return -E2BIG;
	ioapic_id = nr_cpus;
	memset(buf, 0, sizeof(buf));

	for (cpu = 0; cpu < nr_cpus; cpu++) {
		struct mpc_cpu c = {
			.type = MP_PROCESSOR,
			.apicid = cpu,
			.apicver = MP_LAPIC_VERSION,
			.cpuflag = MP_CPU_ENABLED | (cpu == 0 ? MP_CPU_BSP : 0),
			.cpufeature_signature = MP_CPU_SIGNATURE,
			.featureflag = MP_CPU_FEATURES,
		};

		mp_put(&w, &c, sizeof(c));
	}

	/* Entries must come sorted by type: buses before the IOAPIC. */
	mp_put_bus(&w, MP_BUS_PCI, "PCI   ");
	mp_put_bus(&w, MP_BUS_ISA, "ISA   ");

	{
		struct mpc_ioapic io = {
			.type = MP_IOAPIC,
			.apicid = ioapic_id,
			.apicver = MP_IOAPIC_VERSION,
			.flags = MP_IOAPIC_ENABLED,
			.apicaddr = MPTABLE_IOAPIC_ADDR,
		};

		mp_put(&w, &io, sizeof(io));
	}

	/* ISA IRQs keep their numbers as pins; only the PIT may move. */
	for (irq = 0; irq < MP_ISA_IRQS; irq++) {
		if (irq == 2 && MPTABLE_TIMER_PIN == 2)
			continue;
		mp_put_intsrc(&w, MP_IOINTR, MP_INT, MP_IRQ_CONFORMING, MP_BUS_ISA,
			      irq, ioapic_id, irq == 0 ? MPTABLE_TIMER_PIN : irq);
	}

	/*
	 * PCI INTx swizzle onto pins 16-23; source IRQ is (device << 2) | pin
	 * with pin 0 = INTA. PCI interrupts are level-triggered, active low.
	 */
	for (slot = 1; slot < MP_PCI_SLOTS; slot++)
		for (pin = 0; pin < 4; pin++)
			mp_put_intsrc(&w, MP_IOINTR, MP_INT,
				      MP_IRQ_ACTIVE_LOW | MP_IRQ_LEVEL, MP_BUS_PCI,
				      (slot << 2) | pin, ioapic_id,
				      MP_PCI_FIRST_PIN + (slot + pin) % MP_PCI_PINS);

	/* Virtual wire: the 8259 on LINT0 of every CPU, NMI on LINT1. */
	mp_put_intsrc(&w, MP_LINTR, MP_EXTINT, MP_IRQ_CONFORMING, MP_BUS_ISA, 0,
		      MP_ALL_LAPICS, 0);
	mp_put_intsrc(&w, MP_LINTR, MP_NMI, MP_IRQ_CONFORMING, MP_BUS_ISA, 0,
		      MP_ALL_LAPICS, 1);

	memcpy(hdr->signature, "PCMP", 4);
	hdr->length = w.pos;
	hdr->spec = MP_SPEC_REV;
	memcpy(hdr->oem, "VLAB    ", sizeof(hdr->oem));
	memcpy(hdr->product, "VLAB VMM    ", sizeof(hdr->product));
	hdr->oemcount = w.count;
	hdr->lapic = MPTABLE_LAPIC_ADDR;
	hdr->checksum = mp_checksum(buf, w.pos);

	memset(&mpf, 0, sizeof(mpf));
	memcpy(mpf.signature, "_MP_", 4);
	mpf.physptr = BOOT_EBDA_ADDR;
	mpf.length = sizeof(mpf) / 16;
	mpf.specification = MP_SPEC_REV;
	mpf.checksum = mp_checksum(&mpf, sizeof(mpf));

	/* Clear the whole EBDA first: no stale bytes from an earlier boot. */
	if (guest_mem_fill(gm, BOOT_EBDA_ADDR, 0, BOOT_LOW_RAM_END - BOOT_EBDA_ADDR) ||
	    guest_mem_write(gm, BOOT_EBDA_ADDR, buf, w.pos) ||
	    guest_mem_write(gm, BOOT_MP_FLOAT_ADDR, &mpf, sizeof(mpf)))
		return -EFAULT;
	return 0;
}
