/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel loading: ELF vmlinux with a Xen PVH note, and bzImage through the
 * Linux 64-bit boot protocol. Loaders only write guest memory and describe
 * the entry state; vcpu.c turns that into registers.
 */
#ifndef VLAB_BOOT_H
#define VLAB_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/mem/guest_mem.h"

/* Fixed low-memory layout shared by both boot paths (guest physical). */
#define BOOT_GDT_ADDR		0x0500ULL	/* 4 entries: null, null, code64/32, data */
#define BOOT_GDT_ENTRIES	4
#define BOOT_INFO_ADDR		0x7000ULL	/* boot_params (zero page) or hvm_start_info */
#define BOOT_PVH_MODLIST_ADDR	0x7800ULL
#define BOOT_PVH_MEMMAP_ADDR	0x8000ULL
#define BOOT_PML4_ADDR		0x9000ULL	/* then PDPT at +0x1000, 4 PDs after */
#define BOOT_PDPT_ADDR		(BOOT_PML4_ADDR + 0x1000)
#define BOOT_PD_ADDR		(BOOT_PML4_ADDR + 0x2000)	/* 4 pages, 0-4 GiB */
#define BOOT_CMDLINE_ADDR	0x20000ULL
#define BOOT_CMDLINE_MAX	0x10000ULL	/* bytes, terminating NUL included */
/*
 * Extended BIOS data area: 8 KiB reserved in the e820 map for the MP
 * table. 1 KiB (the classic 0x9fc00) cannot hold the PCI interrupt
 * entries, so the EBDA starts lower; the MP floating pointer still sits
 * at BOOT_MP_FLOAT_ADDR, the last KiB of base memory, which Linux always
 * scans whatever the BIOS data area says.
 */
#define BOOT_EBDA_ADDR		0x9e000ULL
#define BOOT_MP_FLOAT_ADDR	0x9fc00ULL
#define BOOT_LOW_RAM_END	0xa0000ULL
#define BOOT_BIOS_ADDR		0xf0000ULL	/* reserved up to BOOT_HIGH_MEM */
#define BOOT_HIGH_MEM		0x100000ULL	/* bzImage protected-mode code */

/* GDT selectors used at entry (Linux __BOOT_CS / __BOOT_DS). */
#define BOOT_CS			0x10
#define BOOT_DS			0x18

/* e820 types */
#define E820_RAM		1
#define E820_RESERVED		2

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

#define E820_MAX		32

struct e820_map {
	struct e820_entry e[E820_MAX];
	int nr;
};

enum boot_mode {
	BOOT_MODE_PVH32,	/* 32-bit protected mode, paging off, ebx = start_info */
	BOOT_MODE_LINUX64,	/* long mode, identity paging, rsi = boot_params */
};

struct boot_config {
	const char *kernel_path;
	const char *initrd_path;	/* may be NULL */
	const char *cmdline;		/* final command line, quirks applied */
	int nr_cpus;
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;
	uint64_t rsi;
	uint64_t rbx;
	uint64_t cr3;			/* LINUX64 only */
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint16_t cs, ds;
	/* Where things went, for the log line and tests; not register state. */
	uint64_t kernel_start, kernel_end;	/* guest physical, end exclusive */
	uint64_t initrd_addr, initrd_size;	/* 0, 0 without an initrd */
};

/* A kernel, initrd and command line already in host memory. */
struct boot_image {
	const void *kernel;
	size_t kernel_size;
	const void *initrd;		/* NULL: no initrd */
	size_t initrd_size;
	const char *cmdline;		/* NULL is the empty command line */
};

/* Build the e820 map for @gm (RAM, EBDA/BIOS holes). */
void e820_build(struct guest_mem *gm, struct e820_map *map);

/*
 * Largest CPU count an MP table can describe: APIC IDs are one byte, the
 * IOAPIC takes ID nr_cpus and 0xff means "all". The table for this many
 * fits in [BOOT_EBDA_ADDR, BOOT_MP_FLOAT_ADDR).
 */
#define MPTABLE_MAX_CPUS	254
#define MPTABLE_IOAPIC_ADDR	0xfec00000U
/*
 * IOAPIC pin of ISA IRQ 0 (the PIT). It must match the VM's GSI routing:
 * KVM's default routing, which vm.c keeps, sends GSI n to pin n, so the
 * PIT arrives on pin 0. A VMM that installs QEMU-style routing (GSI 0 to
 * pin 2) must say 2 here; ISA IRQ 2, the 8259 cascade, then gets no entry.
 */
#define MPTABLE_TIMER_PIN	0
#define MPTABLE_LAPIC_ADDR	0xfee00000U

/*
 * Write an Intel MP 1.4 table for @nr_cpus: floating pointer at
 * BOOT_MP_FLOAT_ADDR, configuration table at BOOT_EBDA_ADDR. Returns 0,
 * -EINVAL for nr_cpus < 1, -E2BIG above MPTABLE_MAX_CPUS, -EFAULT when
 * guest RAM does not cover the EBDA.
 */
int mptable_write(struct guest_mem *gm, int nr_cpus);

/*
 * Read the kernel (format detected from the file) and initrd, load them
 * with the command line, write the boot structures and page tables, and
 * fill @entry. The MP table is separate: call mptable_write().
 * Returns 0, or -1 with a one-line human message in @err.
 */
int boot_load(struct guest_mem *gm, const struct boot_config *bc,
	      struct boot_entry *entry, char *err, size_t errlen);

/* boot_load() on files already read: detects ELF or bzImage. */
int boot_load_image(struct guest_mem *gm, const struct boot_image *img,
		    struct boot_entry *entry, char *err, size_t errlen);

/* The loaders behind boot_load_image(). Same return convention. */
int boot_load_elf(struct guest_mem *gm, const struct boot_image *img,
		  struct boot_entry *entry, char *err, size_t errlen);
int boot_load_bzimage(struct guest_mem *gm, const struct boot_image *img,
		      struct boot_entry *entry, char *err, size_t errlen);

/*
 * Helpers shared by the loaders (boot.c), public for the tests. All return
 * 0, or -1 with a message in @err.
 */

/* End of the RAM region that starts at gpa 0 (0 if there is none). */
uint64_t boot_low_ram_end(struct guest_mem *gm);

/* Write @cmdline (NULL = "") at BOOT_CMDLINE_ADDR; @max_len excludes the NUL. */
int boot_write_cmdline(struct guest_mem *gm, const char *cmdline,
		       uint64_t max_len, char *err, size_t errlen);

/*
 * Copy the initrd page-aligned as high as possible with its last byte below
 * @limit (exclusive) and its first byte at or above @kernel_end. Sets
 * *@addr. An empty initrd (img->initrd NULL) sets *@addr to 0.
 */
int boot_place_initrd(struct guest_mem *gm, const struct boot_image *img,
		      uint64_t kernel_end, uint64_t limit, uint64_t *addr,
		      char *err, size_t errlen);

/* GDT at BOOT_GDT_ADDR: flat code at BOOT_CS (64-bit if @long_mode), data at BOOT_DS. */
int boot_write_gdt(struct guest_mem *gm, bool long_mode, struct boot_entry *entry,
		   char *err, size_t errlen);

/* Identity map of 0-4 GiB with 2 MiB pages, PML4 at BOOT_PML4_ADDR. */
int boot_write_page_tables(struct guest_mem *gm, char *err, size_t errlen);

/* snprintf into @err (if non-NULL); always returns -1 for "return boot_error(...)". */
int boot_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
