// SPDX-License-Identifier: GPL-2.0
/*
 * CPL3 runtime for test payloads: start-up, serial output, string
 * helpers, PVH boot information, and the exception path (fault reports,
 * and port I/O the hypervisor would not let CPL3 do).
 *
 * Everything here runs at CPL3 (natively, fast) except payload_trap(),
 * which the exception stubs call at CPL0, where on kvm_pvm every
 * instruction is emulated: it completes one IN/OUT, or formats a few
 * lines and exits.
 */
#include "payload.h"

/* Linker script symbols. */
extern char __bss_start[], __bss_end[], _end[];

/* KVM's pvclock_vcpu_time_info; start.S points MSR_KVM_SYSTEM_TIME_NEW at it. */
struct pvclock_time_info {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
};

extern volatile struct pvclock_time_info pvclock_page;

/* Called from start.S only. */
void payload_start(uint64_t start_info_pa) __attribute__((noreturn));
void payload_trap(struct trap_frame *f);

#define CMDLINE_MAX	4096
#define MEMMAP_MAX	128

/*
 * Copies of the boot information: a test such as memwrite overwrites
 * RAM, and must not have to know where the VMM put these.
 */
static struct hvm_start_info start_info;
static bool have_start_info;
static char cmdline[CMDLINE_MAX];
static char cmdline_args[CMDLINE_MAX];	/* cmdline split at spaces */
static struct hvm_memmap_table_entry memmap[MEMMAP_MAX];
static unsigned int nr_memmap;
static uint64_t tsc_khz;
static bool tsc_khz_known;
static int in_trap;
static uint64_t pio_emulated;

/*
 * The vlab UART is always ready to take a byte, and each LSR poll would
 * be one more exit to the VMM, so bytes go straight to THR.
 */
void serial_putc(char c)
{
	outb(PAYLOAD_COM1, c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;

	while (n--)
		*p++ = c;
	return s;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d < s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			break;
	}
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, (size_t)-1);
}

/*
 * printf: %d %i %u %x %X %p %s %c %%, flags '-' '0', width, precision
 * (strings only), l/ll/z/h.
 */

struct fmt {
	int width;
	int prec;		/* max chars of a %s; -1: all */
	bool zero;
	bool left;
	int count;
};

static void fmt_putc(struct fmt *f, char c)
{
	serial_putc(c);
	f->count++;
}

static void fmt_pad(struct fmt *f, int len, char pad)
{
	while (len++ < f->width)
		fmt_putc(f, pad);
}

static void fmt_str(struct fmt *f, const char *s)
{
	int len, i;

	if (!s)
		s = "(null)";
	for (len = 0; s[len] && len != f->prec; len++)
		;
	if (!f->left)
		fmt_pad(f, len, ' ');
	for (i = 0; i < len; i++)
		fmt_putc(f, s[i]);
	if (f->left)
		fmt_pad(f, len, ' ');
}

static void fmt_num(struct fmt *f, uint64_t v, unsigned int base, bool neg,
		    bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	int n = 0, len;

	do {
		buf[n++] = digits[v % base];
		v /= base;
	} while (v);
	len = n + neg;

	if (f->left || !f->zero) {
		if (!f->left)
			fmt_pad(f, len, ' ');
		if (neg)
			fmt_putc(f, '-');
	} else {
		if (neg)
			fmt_putc(f, '-');
		fmt_pad(f, len, '0');
	}
	while (n)
		fmt_putc(f, buf[--n]);
	if (f->left)
		fmt_pad(f, len, ' ');
}

int vprintf(const char *fmt, va_list ap)
{
	struct fmt f = { 0 };

	for (; *fmt; fmt++) {
		int lng = 0;
		uint64_t u;
		int64_t s;

		if (*fmt != '%') {
			fmt_putc(&f, *fmt);
			continue;
		}
		f.width = 0;
		f.zero = f.left = false;
		for (fmt++; *fmt == '-' || *fmt == '0'; fmt++) {
			if (*fmt == '-')
				f.left = true;
			else
				f.zero = true;
		}
		if (*fmt == '*') {
			f.width = va_arg(ap, int);
			fmt++;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			f.width = f.width * 10 + (*fmt - '0');
		f.prec = -1;
		if (*fmt == '.') {
			f.prec = 0;
			if (*++fmt == '*') {
				f.prec = va_arg(ap, int);
				fmt++;
			}
			for (; *fmt >= '0' && *fmt <= '9'; fmt++)
				f.prec = f.prec * 10 + (*fmt - '0');
		}
		for (; *fmt == 'l' || *fmt == 'z' || *fmt == 'h'; fmt++)
			if (*fmt != 'h')
				lng++;

		switch (*fmt) {
		case 'd':
		case 'i':
			s = lng ? va_arg(ap, long) : va_arg(ap, int);
			fmt_num(&f, s < 0 ? -(uint64_t)s : (uint64_t)s, 10,
				s < 0, false);
			break;
		case 'u':
		case 'x':
		case 'X':
			u = lng ? va_arg(ap, unsigned long) :
				  va_arg(ap, unsigned int);
			fmt_num(&f, u, *fmt == 'u' ? 10 : 16, false,
				*fmt == 'X');
			break;
		case 'p':
			fmt_putc(&f, '0');
			fmt_putc(&f, 'x');
			fmt_num(&f, (uintptr_t)va_arg(ap, void *), 16, false,
				false);
			break;
		case 's':
			fmt_str(&f, va_arg(ap, const char *));
			break;
		case 'c':
			fmt_putc(&f, (char)va_arg(ap, int));
			break;
		case '%':
			fmt_putc(&f, '%');
			break;
		case '\0':
			return f.count;
		default:	/* unknown: print it as written */
			fmt_putc(&f, '%');
			fmt_putc(&f, *fmt);
			break;
		}
	}
	return f.count;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

void payload_exit(int code)
{
	outl(PAYLOAD_EXIT_PORT, code);
	/*
	 * Still here: the VMM has no exit port. HLT at CPL3 raises #GP,
	 * whose handler tries the port once more and halts at CPL0.
	 */
	printf("payload: %s: exit port 0x%x ignored\n", payload_name,
	       PAYLOAD_EXIT_PORT);
	for (;;)
		asm volatile("hlt");
}

/* Boot information */

static bool phys_ok(uint64_t pa, uint64_t len)
{
	return pa && pa < PAYLOAD_MAPPED_LIMIT &&
	       len <= PAYLOAD_MAPPED_LIMIT - pa;
}

static void copy_boot_info(uint64_t pa)
{
	const struct hvm_start_info *si = (const void *)pa;
	const char *cl;
	unsigned int n;
	size_t i;

	if (!phys_ok(pa, sizeof(*si)) || si->magic != HVM_START_MAGIC) {
		printf("payload: %s: no hvm_start_info at 0x%lx\n",
		       payload_name, pa);
		return;
	}
	start_info = *si;
	have_start_info = true;

	if (phys_ok(si->cmdline_paddr, 1)) {
		cl = (const char *)si->cmdline_paddr;
		for (i = 0; i < CMDLINE_MAX - 1 && cl[i]; i++)
			cmdline[i] = cl[i];
	}
	for (i = 0; cmdline[i]; i++)
		cmdline_args[i] = cmdline[i] == ' ' || cmdline[i] == '\t' ?
				  '\0' : cmdline[i];

	/* memmap_* only exist from version 1 of the structure. */
	n = si->version >= 1 ? si->memmap_entries : 0;
	if (n > MEMMAP_MAX) {
		printf("payload: %s: memmap has %u entries, using %u\n",
		       payload_name, n, MEMMAP_MAX);
		n = MEMMAP_MAX;
	}
	if (n && phys_ok(si->memmap_paddr, n * sizeof(memmap[0]))) {
		memcpy(memmap, (const void *)si->memmap_paddr,
		       n * sizeof(memmap[0]));
		nr_memmap = n;
	}
}

const struct hvm_start_info *payload_start_info(void)
{
	return have_start_info ? &start_info : NULL;
}

const char *payload_cmdline(void)
{
	return cmdline;
}

const struct hvm_memmap_table_entry *payload_memmap(unsigned int *nr)
{
	*nr = nr_memmap;
	return memmap;
}

uint64_t payload_ram_size(void)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < nr_memmap; i++)
		if (memmap[i].type == HVM_MEMMAP_TYPE_RAM)
			sum += memmap[i].size;
	return sum;
}

uint64_t payload_ram_end(void)
{
	uint64_t end = 0;
	unsigned int i;

	for (i = 0; i < nr_memmap; i++)
		if (memmap[i].type == HVM_MEMMAP_TYPE_RAM &&
		    memmap[i].addr + memmap[i].size > end)
			end = memmap[i].addr + memmap[i].size;
	return end;
}

uint64_t payload_image_end(void)
{
	return (uintptr_t)_end;
}

const char *payload_arg(const char *name)
{
	size_t len = strlen(name), i = 0;

	while (i < CMDLINE_MAX && cmdline[i]) {
		const char *tok = &cmdline_args[i];
		size_t tlen = strlen(tok);

		if (tlen >= len && !strncmp(tok, name, len)) {
			if (tok[len] == '=')
				return tok + len + 1;
			if (tok[len] == '\0')
				return tok + len;
		}
		i += tlen + 1;
	}
	return NULL;
}

uint64_t payload_arg_u64(const char *name, uint64_t def)
{
	const char *s = payload_arg(name);
	unsigned int base = 10;
	uint64_t v = 0;
	bool digits = false;

	if (!s)
		return def;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		v = v * base + d;
		digits = true;
	}
	if (!digits)
		return def;
	switch (*s) {
	case 'k': case 'K':
		return v << 10;
	case 'm': case 'M':
		return v << 20;
	case 'g': case 'G':
		return v << 30;
	case '\0':
		return v;
	default:
		return def;
	}
}

/* Time */

static uint64_t tsc_khz_from_pvclock(void)
{
	uint32_t mul = pvclock_page.tsc_to_system_mul;
	int shift = pvclock_page.tsc_shift;
	uint64_t khz;

	if (!pvclock_page.version || !mul)
		return 0;
	/* ns = ((tsc << shift) * mul) >> 32, so kHz = 1e6 * 2^32 / mul / 2^shift */
	khz = (1000000ULL << 32) / mul;
	return shift < 0 ? khz << -shift : khz >> shift;
}

static uint64_t tsc_khz_from_cpuid(void)
{
	uint32_t a, b, c, d, max;

	/* Hypervisor timing leaf (VMware convention, also set by some VMMs). */
	cpuid(0x40000000, 0, &max, &b, &c, &d);
	if (max >= 0x40000010 && max < 0x40010000) {
		cpuid(0x40000010, 0, &a, &b, &c, &d);
		if (a)
			return a;
	}
	cpuid(0, 0, &max, &b, &c, &d);
	if (max >= 0x15) {
		cpuid(0x15, 0, &a, &b, &c, &d);
		if (a && b && c)
			return (uint64_t)c * b / a / 1000;
	}
	return 0;
}

uint64_t payload_tsc_khz(void)
{
	if (!tsc_khz_known) {
		tsc_khz = payload_arg_u64("tsc_khz", 0);
		if (!tsc_khz)
			tsc_khz = tsc_khz_from_cpuid();
		if (!tsc_khz)
			tsc_khz = tsc_khz_from_pvclock();
		tsc_khz_known = true;
	}
	return tsc_khz;
}

uint64_t payload_tsc_to_us(uint64_t cycles)
{
	uint64_t khz = payload_tsc_khz();

	return khz ? cycles * 1000 / khz : 0;
}

/* Start-up, at CPL3 */

void payload_start(uint64_t start_info_pa)
{
	int ret;

	/*
	 * The VMM hands over fresh (zeroed) memory, but nothing in the PVH
	 * ABI says so. Nothing in .bss is in use yet: start.S keeps its
	 * tables in .data and the stacks in their own section.
	 */
	memset(__bss_start, 0, __bss_end - __bss_start);
	copy_boot_info(start_info_pa);

	ret = payload_main();
	if (ret == 0)
		printf("payload: %s ok\n", payload_name);
	else
		printf("payload: %s FAIL (%d)\n", payload_name, ret);
	payload_exit(ret);
}

/* Exception report, at CPL0 */

static const char *const vector_names[NR_VECTORS] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "#CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23",
	"#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

/*
 * kvm_pvm runs guest CPL3 code in host ring 3 and never grants it IOPL,
 * so IN/OUT at CPL3 raise #GP whatever RFLAGS start.S asked for. Finish
 * such an instruction here, at CPL0, so test bodies use plain port I/O on
 * any host; where IOPL=3 is honoured this path is never taken. The
 * string forms (INS/OUTS) are not handled and are reported as faults.
 */
static bool emulate_pio(struct trap_frame *f)
{
	const uint8_t *ip = (const uint8_t *)f->rip;
	unsigned int len = 0, size = 4;
	uint16_t port;
	uint8_t op;

	if (f->vector != 13 || f->error || (f->cs & 3) != 3 ||
	    !phys_ok(f->rip, 16))
		return false;
	if (ip[len] == 0x66) {
		size = 2;
		len++;
	}
	op = ip[len++];
	switch (op) {
	case 0xe4: case 0xe5: case 0xe6: case 0xe7:	/* port in imm8 */
		port = ip[len++];
		break;
	case 0xec: case 0xed: case 0xee: case 0xef:	/* port in DX */
		port = f->rdx;
		break;
	default:
		return false;
	}
	if (!(op & 1))
		size = 1;

	if (op & 2) {		/* OUT */
		if (size == 1)
			outb(port, f->rax);
		else if (size == 2)
			outw(port, f->rax);
		else
			outl(port, f->rax);
	} else if (size == 1) {	/* IN: AL and AX merge, EAX zero-extends */
		f->rax = (f->rax & ~0xffULL) | inb(port);
	} else if (size == 2) {
		f->rax = (f->rax & ~0xffffULL) | inw(port);
	} else {
		f->rax = inl(port);
	}
	f->rip += len;
	pio_emulated++;
	return true;
}

uint64_t payload_pio_emulated(void)
{
	return pio_emulated;
}

/* HLTs at CPL3 done: start.S's #GP entry (gp_stub) counts them. */
uint64_t payload_irq_wait_count;

uint64_t payload_irq_waits(void)
{
	return payload_irq_wait_count;
}

void payload_lapic_enable(void)
{
	/* Spurious-interrupt vector register: APIC software enable, spurious vector 0xff. */
	mmio_write32(PAYLOAD_LAPIC_BASE + 0xf0, 0x1ff);
}

/* Returns only after completing a CPL3 port I/O instruction or an interrupt wait. */
void payload_trap(struct trap_frame *f)
{
	uint64_t cr2;
	int code = 0x80 | (f->vector & 0x7f);

	if (!in_trap && emulate_pio(f))
		return;

	asm volatile("mov %%cr2, %0" : "=r"(cr2));

	/* A fault while reporting a fault: leave without more output. */
	if (in_trap++)
		goto out;

	printf("payload: %s trap %s (vector %lu) error 0x%lx rip 0x%lx cr2 0x%lx\n",
	       payload_name, f->vector < NR_VECTORS ?
	       vector_names[f->vector] : "?", f->vector, f->error, f->rip,
	       cr2);
	printf("payload:   cs 0x%lx rflags 0x%lx rsp 0x%lx ss 0x%lx\n",
	       f->cs, f->rflags, f->rsp, f->ss);
	printf("payload:   rax 0x%lx rbx 0x%lx rcx 0x%lx rdx 0x%lx\n",
	       f->rax, f->rbx, f->rcx, f->rdx);
	printf("payload:   rsi 0x%lx rdi 0x%lx rbp 0x%lx\n",
	       f->rsi, f->rdi, f->rbp);
	printf("payload: %s exit 0x%x\n", payload_name, code);
out:
	outl(PAYLOAD_EXIT_PORT, code);
	for (;;)
		asm volatile("cli; hlt");
}

/* ---- PCI configuration space (port I/O, slow on kvm_pvm: keep it short) ---- */

#define PCI_CONF1_ADDR		0xcf8
#define PCI_CONF1_DATA		0xcfc
#define PCI_CONF1_ENABLE	0x80000000u
#define PCI_BAR_IO		0x1
#define PCI_BAR_TYPE_64		0x4

static uint32_t pci_addr(uint8_t slot, uint8_t off)
{
	return PCI_CONF1_ENABLE | (uint32_t)slot << 11 | (off & 0xfc);
}

uint32_t pci_read32(uint8_t slot, uint8_t off)
{
	outl(PCI_CONF1_ADDR, pci_addr(slot, off));
	return inl(PCI_CONF1_DATA);
}

void pci_write16(uint8_t slot, uint8_t off, uint16_t v)
{
	outl(PCI_CONF1_ADDR, pci_addr(slot, off));
	outw(PCI_CONF1_DATA + (off & 2), v);
}

uint64_t pci_bar_addr(uint8_t slot, uint8_t bar)
{
	uint32_t lo;
	uint64_t a;

	if (bar > 5)
		return 0;
	lo = pci_read32(slot, PCI_BAR0 + 4 * bar);
	if (lo & PCI_BAR_IO)
		return 0;
	a = lo & ~0xfULL;
	if ((lo & 0x6) == PCI_BAR_TYPE_64 && bar < 5)
		a |= (uint64_t)pci_read32(slot, PCI_BAR0 + 4 * (bar + 1)) << 32;
	return a;
}

int pci_find(uint16_t vendor, uint16_t device)
{
	uint32_t want = (uint32_t)device << 16 | vendor;
	uint8_t slot;

	for (slot = 0; slot < PCI_SLOTS; slot++)
		if (pci_read32(slot, PCI_ID) == want)
			return slot;
	return -1;
}
