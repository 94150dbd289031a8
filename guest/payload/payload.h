/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Runtime for freestanding test payloads. start.S brings the CPU to
 * 64-bit CPL3 with IOPL=3 (port I/O allowed) and every guest-physical address below
 * PAYLOAD_MAPPED_LIMIT identity-mapped and user accessible; the test body
 * is int payload_main(void), and its return value becomes the VMM's exit
 * status (through the vlab test-exit port).
 *
 * A payload file looks like:
 *
 *	#include "payload.h"
 *
 *	PAYLOAD_NAME("hello");
 *
 *	int payload_main(void)
 *	{
 *		printf("hello\n");
 *		return 0;
 *	}
 */
#ifndef PAYLOAD_H
#define PAYLOAD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define PAYLOAD_COM1		0x3f8
#define PAYLOAD_EXIT_PORT	0x501	/* 32-bit OUT of V: VMM exits with V & 0xff */
#define PAYLOAD_MAPPED_LIMIT	((uint64_t)PAYLOAD_MAPPED_GIB << 30)
#define PAYLOAD_MMIO_HOLE	0xc0000000ULL	/* 3-4 GiB, mapped uncacheable */

/* Xen PVH start of day structures (xen/include/public/arch-x86/hvm/start_info.h). */
#define HVM_START_MAGIC		0x336ec578
#define HVM_MEMMAP_TYPE_RAM	1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;		/* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* Register state pushed by the exception stubs in start.S. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;	/* pushed by the CPU */
};

/* Each payload names itself once; the name prefixes the verdict lines. */
extern const char payload_name[];
#define PAYLOAD_NAME(n)		const char payload_name[] = n

int payload_main(void);

/*
 * Port I/O: start.S enters CPL3 with IOPL=3, so these run natively; on a
 * hypervisor that withholds IOPL they fault and the #GP handler completes
 * them (see payload_pio_emulated()).
 */
static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

/* test-exit device: reads the byte `vlab ctl SOCK test-request value=N` set. */
#define TEST_REQUEST_PORT	0x510

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/*
 * MMIO accessors. Plain MOVs in asm rather than volatile C accesses so
 * the compiler can never fold an access into an instruction the VMM's
 * (or KVM's) MMIO decoder does not expect, and so width is exact.
 */
#define PAYLOAD_MMIO_RW(bits, sfx, type)				\
static inline type mmio_read##bits(uint64_t addr)			\
{									\
	type v;								\
									\
	asm volatile("mov" sfx " %1, %0"				\
		     : "=r"(v) : "m"(*(volatile type *)addr) : "memory");	\
	return v;							\
}									\
									\
static inline void mmio_write##bits(uint64_t addr, type v)		\
{									\
	asm volatile("mov" sfx " %1, %0"				\
		     : "=m"(*(volatile type *)addr) : "r"(v) : "memory");	\
}

PAYLOAD_MMIO_RW(8, "b", uint8_t)
PAYLOAD_MMIO_RW(16, "w", uint16_t)
PAYLOAD_MMIO_RW(32, "l", uint32_t)
PAYLOAD_MMIO_RW(64, "q", uint64_t)

#undef PAYLOAD_MMIO_RW

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a,
			 uint32_t *b, uint32_t *c, uint32_t *d)
{
	asm volatile("cpuid"
		     : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
		     : "a"(leaf), "c"(sub));
}

static inline uint16_t read_cs(void)
{
	uint16_t cs;

	asm volatile("mov %%cs, %0" : "=r"(cs));
	return cs;
}

static inline uint64_t read_rflags(void)
{
	uint64_t f;

	asm volatile("pushfq; popq %0" : "=r"(f));
	return f;
}

/* A compiler barrier: memory written before is not assumed unchanged after. */
static inline void barrier(void)
{
	asm volatile("" : : : "memory");
}

/* Serial console (COM1). */
void serial_putc(char c);
void serial_puts(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);

void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Leave through the exit port with status @code & 0xff. */
void payload_exit(int code) __attribute__((noreturn));

/* PVH boot information, copied at start-up (NULL/0 when absent). */
const struct hvm_start_info *payload_start_info(void);
const char *payload_cmdline(void);
const struct hvm_memmap_table_entry *payload_memmap(unsigned int *nr);
uint64_t payload_ram_size(void);	/* sum of RAM entries */
uint64_t payload_ram_end(void);		/* end of the highest RAM entry */

/*
 * "name=value" from the command line: the value (NUL-terminated), "" for
 * a bare "name", or NULL when absent.
 */
const char *payload_arg(const char *name);
/* Numeric argument, decimal or 0x-hex, with optional K/M/G suffix. */
uint64_t payload_arg_u64(const char *name, uint64_t def);

/* First byte past the payload image, its .bss and its stacks. */
uint64_t payload_image_end(void);

/*
 * Port I/O instructions completed by the #GP handler because the
 * hypervisor ran the test body without IOPL (kvm_pvm); 0 elsewhere.
 */
uint64_t payload_pio_emulated(void);

/*
 * Interrupts, for a test body that waits rather than polls (the vCPU's
 * host thread then sleeps, and leaves its CPU to the device threads).
 * The test body runs with IF=0; payload_lapic_enable() turns on the boot
 * CPU's local APIC (xAPIC, 0xfee00000), a device's MSI-X entry is pointed
 * at a vector >= 32 (vpmd_queue_irq()), and payload_wait_irq() halts
 * until an interrupt comes: HLT at CPL3 raises #GP, and the kit's #GP
 * entry halts at CPL0 with interrupts on (an interrupt raised since the
 * body's last look waits for that STI, so none is missed), the interrupt
 * is acknowledged, and it returns. Slow on kvm_pvm (CPL0 is emulated,
 * though only a dozen instructions are): a wait, not a per-event path.
 */
#define PAYLOAD_LAPIC_BASE	0xfee00000ULL
void payload_lapic_enable(void);
static inline void payload_wait_irq(void)
{
	asm volatile("hlt" : : : "memory");
}
/* Waits payload_wait_irq() has done. */
uint64_t payload_irq_waits(void);

/* PCI bus 0 through configuration mechanism #1. */
#define PCI_SLOTS		32
#define PCI_ID			0x00
#define PCI_COMMAND		0x04
#define  PCI_COMMAND_MEMORY	0x0002
#define PCI_BAR0		0x10

uint32_t pci_read32(uint8_t slot, uint8_t off);
void pci_write16(uint8_t slot, uint8_t off, uint16_t v);
/* A memory BAR's address; 0 if it is an I/O BAR or unassigned. */
uint64_t pci_bar_addr(uint8_t slot, uint8_t bar);
/* The slot of the first function with these ids, or -1. */
int pci_find(uint16_t vendor, uint16_t device);

/* TSC frequency in kHz (cmdline tsc_khz=, CPUID or kvmclock), 0 if unknown. */
uint64_t payload_tsc_khz(void);
/* @cycles in microseconds, or 0 if the TSC frequency is unknown. */
uint64_t payload_tsc_to_us(uint64_t cycles);

#endif
