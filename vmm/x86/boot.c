// SPDX-License-Identifier: GPL-2.0
/*
 * Boot common code: reading the kernel and initrd files, telling ELF from
 * bzImage, and the pieces both loaders need (e820 map, command line,
 * initrd placement, GDT, identity page tables).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/x86/boot.h"

#define MiB(x)			((unsigned long long)(x) >> 20)

/* Page-table entry bits. */
#define PTE_PRESENT		(1ULL << 0)
#define PTE_WRITE		(1ULL << 1)
#define PTE_LARGE		(1ULL << 7)	/* 2 MiB page in a PD entry */
#define PD_PAGE_SIZE		(2ULL << 20)
#define PT_ENTRIES		512
#define BOOT_PD_PAGES		4		/* 4 x 1 GiB */

int boot_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

uint64_t boot_low_ram_end(struct guest_mem *gm)
{
	int i;

	for (i = 0; i < gm->nr_regions; i++)
		if (gm->regions[i].gpa == 0)
			return gm->regions[i].size;
	return 0;
}

static void e820_add(struct e820_map *map, uint64_t start, uint64_t end,
		     uint32_t type)
{
	if (end <= start || map->nr >= E820_MAX)
		return;
	map->e[map->nr].addr = start;
	map->e[map->nr].size = end - start;
	map->e[map->nr].type = type;
	map->nr++;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void e820_build(struct guest_mem *gm, struct e820_map *map)
{
	uint64_t low_end = boot_low_ram_end(gm);
	int i;

	memset(map, 0, sizeof(*map));
	/*
	 * The legacy holes are described even where a tiny test guest has
	 * no RAM behind them: they are reserved address space, not RAM.
	 */
	e820_add(map, 0, min_u64(low_end, BOOT_EBDA_ADDR), E820_RAM);
	e820_add(map, BOOT_EBDA_ADDR, BOOT_LOW_RAM_END, E820_RESERVED);
	e820_add(map, BOOT_BIOS_ADDR, BOOT_HIGH_MEM, E820_RESERVED);
	e820_add(map, BOOT_HIGH_MEM, low_end, E820_RAM);
	/* Everything else (the part above the 32-bit hole) is plain RAM. */
	for (i = 0; i < gm->nr_regions; i++) {
		const struct guest_mem_region *r = &gm->regions[i];

		if (r->gpa != 0)
			e820_add(map, r->gpa, r->gpa + r->size, E820_RAM);
	}
}

int boot_write_cmdline(struct guest_mem *gm, const char *cmdline,
		       uint64_t max_len, char *err, size_t errlen)
{
	size_t len;

	if (!cmdline)
		cmdline = "";
	if (max_len > BOOT_CMDLINE_MAX - 1)
		max_len = BOOT_CMDLINE_MAX - 1;
	len = strlen(cmdline);
	if (len > max_len)
		return boot_error(err, errlen,
				  "kernel command line is %zu bytes, the limit is %llu",
				  len, (unsigned long long)max_len);
	if (guest_mem_write(gm, BOOT_CMDLINE_ADDR, cmdline, len + 1))
		return boot_error(err, errlen,
				  "guest RAM does not cover the command line at 0x%llx",
				  (unsigned long long)BOOT_CMDLINE_ADDR);
	return 0;
}

int boot_place_initrd(struct guest_mem *gm, const struct boot_image *img,
		      uint64_t kernel_end, uint64_t limit, uint64_t *addr,
		      char *err, size_t errlen)
{
	uint64_t low_end = boot_low_ram_end(gm);
	uint64_t floor, top, size = img->initrd_size;

	*addr = 0;
	if (!img->initrd)
		return 0;
	if (!size)
		return boot_error(err, errlen, "initrd is empty");
	top = min_u64(limit, low_end);
	floor = (kernel_end + GM_PAGE_SIZE - 1) & ~(GM_PAGE_SIZE - 1);
	if (top < floor || size > top - floor)
		return boot_error(err, errlen,
				  "initrd of %llu MiB (%llu bytes) does not fit: %llu MiB free between the kernel end (0x%llx) and 0x%llx; give the guest more memory",
				  MiB(size), (unsigned long long)size,
				  MiB(top > floor ? top - floor : 0),
				  (unsigned long long)kernel_end,
				  (unsigned long long)top);
	*addr = (top - size) & ~(GM_PAGE_SIZE - 1);
	if (guest_mem_write(gm, *addr, img->initrd, size))
		return boot_error(err, errlen,
				  "initrd at 0x%llx is not in guest RAM",
				  (unsigned long long)*addr);
	return 0;
}

/*
 * A flat 4 GiB segment descriptor: base 0, limit 0xfffff in 4 KiB units,
 * present, DPL 0, code/data (S=1). @type is the 4-bit type field, @flags
 * the G/D/L/AVL nibble.
 */
static uint64_t gdt_flat_entry(unsigned int type, unsigned int flags)
{
	uint64_t access = 0x90 | type;		/* P=1, DPL=0, S=1 */

	return 0xffffULL |			/* limit 15:0 */
	       (access << 40) |
	       (0xfULL << 48) |			/* limit 19:16 */
	       ((uint64_t)flags << 52);
}

#define GDT_TYPE_CODE_RX_ACCESSED	0xb
#define GDT_TYPE_DATA_RW_ACCESSED	0x3
#define GDT_FLAGS_G			0x8
#define GDT_FLAGS_D			0x4
#define GDT_FLAGS_L			0x2

int boot_write_gdt(struct guest_mem *gm, bool long_mode, struct boot_entry *entry,
		   char *err, size_t errlen)
{
	uint64_t gdt[BOOT_GDT_ENTRIES] = { 0 };

	/*
	 * Accessed bits are preset so the CPU never writes the GDT back:
	 * the descriptors loaded into the segment caches match memory.
	 */
	gdt[BOOT_CS >> 3] = gdt_flat_entry(GDT_TYPE_CODE_RX_ACCESSED,
					   long_mode ? GDT_FLAGS_G | GDT_FLAGS_L :
						       GDT_FLAGS_G | GDT_FLAGS_D);
	gdt[BOOT_DS >> 3] = gdt_flat_entry(GDT_TYPE_DATA_RW_ACCESSED,
					   GDT_FLAGS_G | GDT_FLAGS_D);
	if (guest_mem_write(gm, BOOT_GDT_ADDR, gdt, sizeof(gdt)))
		return boot_error(err, errlen, "guest RAM does not cover the GDT");
	entry->gdt_base = BOOT_GDT_ADDR;
	entry->gdt_limit = sizeof(gdt) - 1;
	entry->cs = BOOT_CS;
	entry->ds = BOOT_DS;
	return 0;
}

int boot_write_page_tables(struct guest_mem *gm, char *err, size_t errlen)
{
	uint64_t table[PT_ENTRIES];
	int i, j;

	memset(table, 0, sizeof(table));
	table[0] = BOOT_PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
	if (guest_mem_write(gm, BOOT_PML4_ADDR, table, sizeof(table)))
		goto fault;

	memset(table, 0, sizeof(table));
	for (i = 0; i < BOOT_PD_PAGES; i++)
		table[i] = (BOOT_PD_ADDR + i * GM_PAGE_SIZE) | PTE_PRESENT | PTE_WRITE;
	if (guest_mem_write(gm, BOOT_PDPT_ADDR, table, sizeof(table)))
		goto fault;

	for (i = 0; i < BOOT_PD_PAGES; i++) {
		for (j = 0; j < PT_ENTRIES; j++) {
			uint64_t gpa = ((uint64_t)i * PT_ENTRIES + j) * PD_PAGE_SIZE;

			table[j] = gpa | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
		}
		if (guest_mem_write(gm, BOOT_PD_ADDR + i * GM_PAGE_SIZE, table,
				    sizeof(table)))
			goto fault;
	}
	return 0;
fault:
	return boot_error(err, errlen, "guest RAM does not cover the page tables");
}

int boot_load_image(struct guest_mem *gm, const struct boot_image *img,
		    struct boot_entry *entry, char *err, size_t errlen)
{
	const uint8_t *k = img->kernel;

	memset(entry, 0, sizeof(*entry));
	/* Low memory holds every boot structure; check once, clearly. */
	if (boot_low_ram_end(gm) < BOOT_HIGH_MEM)
		return boot_error(err, errlen,
				  "guest has %llu KiB of RAM below 1 MiB; at least 1 MiB plus the kernel is needed",
				  (unsigned long long)boot_low_ram_end(gm) >> 10);
	/* bzImage first: an EFI-stub bzImage also starts with a PE ("MZ") header. */
	if (img->kernel_size >= 0x206 && !memcmp(k + 0x202, "HdrS", 4))
		return boot_load_bzimage(gm, img, entry, err, errlen);
	if (img->kernel_size >= 4 && !memcmp(k, "\177ELF", 4))
		return boot_load_elf(gm, img, entry, err, errlen);
	return boot_error(err, errlen,
			  "kernel is neither an ELF vmlinux nor a bzImage (no ELF magic, no \"HdrS\" at 0x202)");
}

/* A whole file, mapped read-only. */
struct boot_file {
	void *data;
	size_t size;
};

static int boot_file_map(const char *what, const char *path, struct boot_file *f,
			 char *err, size_t errlen)
{
	struct stat st;
	int fd;

	f->data = NULL;
	f->size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return boot_error(err, errlen, "cannot open %s %s: %s",
				  what, path, strerror(errno));
	if (fstat(fd, &st)) {
		boot_error(err, errlen, "cannot stat %s %s: %s",
			   what, path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		boot_error(err, errlen, "%s %s is not a regular file", what, path);
		goto out_close;
	}
	if (st.st_size == 0) {
		boot_error(err, errlen, "%s %s is empty", what, path);
		goto out_close;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		boot_error(err, errlen, "%s %s is too large", what, path);
		goto out_close;
	}
	/* MAP_PRIVATE: a file truncated under us cannot change what we check. */
	f->data = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f->data == MAP_FAILED) {
		f->data = NULL;
		boot_error(err, errlen, "cannot read %s %s: %s",
			   what, path, strerror(errno));
		goto out_close;
	}
	f->size = st.st_size;
	close(fd);
	return 0;
out_close:
	close(fd);
	return -1;
}

static void boot_file_unmap(struct boot_file *f)
{
	if (f->data)
		munmap(f->data, f->size);
	f->data = NULL;
}

int boot_load(struct guest_mem *gm, const struct boot_config *bc,
	      struct boot_entry *entry, char *err, size_t errlen)
{
	struct boot_file kernel, initrd = { 0 };
	struct boot_image img;
	int ret = -1;

	if (!bc->kernel_path)
		return boot_error(err, errlen, "no kernel given");
	if (boot_file_map("kernel", bc->kernel_path, &kernel, err, errlen))
		return -1;
	if (bc->initrd_path &&
	    boot_file_map("initrd", bc->initrd_path, &initrd, err, errlen))
		goto out;

	img = (struct boot_image){
		.kernel = kernel.data,
		.kernel_size = kernel.size,
		.initrd = initrd.data,
		.initrd_size = initrd.size,
		.cmdline = bc->cmdline,
	};
	ret = boot_load_image(gm, &img, entry, err, errlen);
out:
	boot_file_unmap(&initrd);
	boot_file_unmap(&kernel);
	return ret;
}
