// SPDX-License-Identifier: GPL-2.0
/* ELF + PVH loader, on synthetic images built here (good and hostile). */
#include <check.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "vmm/x86/boot.h"

#define MiB		(1ULL << 20)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Xen start_info field offsets (public/arch-x86/hvm/start_info.h). */
#define SI_MAGIC		0x00
#define SI_VERSION		0x04
#define SI_FLAGS		0x08
#define SI_NR_MODULES		0x0c
#define SI_MODLIST_PADDR	0x10
#define SI_CMDLINE_PADDR	0x18
#define SI_RSDP_PADDR		0x20
#define SI_MEMMAP_PADDR		0x28
#define SI_MEMMAP_ENTRIES	0x30

#define SEG_PADDR	0x200000ULL
#define SEG_FILESZ	0x300
#define SEG_MEMSZ	0x3000
#define SEG_FILE_OFF	0x1000
#define ENTRY		(SEG_PADDR + 0x40)
#define NOTE_OFF	0x200
#define SHDR_OFF	0x400
/* The GNU build-id note (12 + 4 + 20 bytes) comes first, then Xen's. */
#define PVH_NOTE_OFF	(NOTE_OFF + 36)
#define PVH_DESCSZ_OFF	(PVH_NOTE_OFF + 4)
#define PVH_DESC_OFF	(PVH_NOTE_OFF + 12 + 4)

/* What to put in the synthetic image. */
struct elf_opts {
	bool is32;
	bool pvh_note;		/* Xen PHYS32_ENTRY note at all */
	bool note_in_phdr;	/* else only an SHT_NOTE section describes it */
	int desc_size;		/* 4 or 8 */
};

static uint8_t img[0x2000];
static size_t img_size;
static struct guest_mem gm;
static struct boot_entry entry;
static char err[256];

static void put_note(uint8_t *p, size_t *len, uint32_t type, const char *name,
		     const void *desc, uint32_t descsz)
{
	uint32_t namesz = strlen(name) + 1;
	Elf64_Nhdr nh = { namesz, descsz, type };

	memcpy(p + *len, &nh, sizeof(nh));
	*len += sizeof(nh);
	memcpy(p + *len, name, namesz);
	*len += (namesz + 3) & ~3U;
	memcpy(p + *len, desc, descsz);
	*len += (descsz + 3) & ~3U;
}

/* Build a kernel: one PT_LOAD (code + bss), one PT_NOTE, one SHT_NOTE section. */
static void build_elf(const struct elf_opts *o)
{
	static const uint8_t build_id[20] = { 1, 2, 3 };
	uint64_t entry64 = ENTRY;
	uint32_t entry32 = ENTRY;
	size_t note_len = 0;
	size_t i;

	memset(img, 0, sizeof(img));
	/* An unrelated note first: the loader must skip it. */
	put_note(img + NOTE_OFF, &note_len, NT_GNU_BUILD_ID, "GNU", build_id,
		 sizeof(build_id));
	if (o->pvh_note)
		put_note(img + NOTE_OFF, &note_len, 18, "Xen",
			 o->desc_size == 4 ? (void *)&entry32 : (void *)&entry64,
			 o->desc_size);
	for (i = 0; i < SEG_FILESZ; i++)
		img[SEG_FILE_OFF + i] = i ^ 0x5a;
	img_size = SEG_FILE_OFF + SEG_FILESZ;

	if (!o->is32) {
		Elf64_Ehdr eh = {
			.e_type = ET_EXEC, .e_machine = EM_X86_64,
			.e_version = EV_CURRENT, .e_entry = 0xffffffff81000000ULL,
			.e_phoff = sizeof(Elf64_Ehdr), .e_shoff = SHDR_OFF,
			.e_ehsize = sizeof(Elf64_Ehdr),
			.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 2,
			.e_shentsize = sizeof(Elf64_Shdr), .e_shnum = 2,
		};
		Elf64_Phdr ph[2] = {
			{ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
			  .p_offset = SEG_FILE_OFF, .p_vaddr = 0xffffffff80000000ULL + SEG_PADDR,
			  .p_paddr = SEG_PADDR, .p_filesz = SEG_FILESZ,
			  .p_memsz = SEG_MEMSZ, .p_align = 0x1000 },
			{ .p_type = o->note_in_phdr ? PT_NOTE : PT_NULL,
			  .p_offset = NOTE_OFF, .p_filesz = note_len,
			  .p_memsz = note_len, .p_align = 4 },
		};
		Elf64_Shdr sh[2] = {
			{ 0 },
			{ .sh_type = SHT_NOTE, .sh_offset = NOTE_OFF,
			  .sh_size = note_len, .sh_addralign = 4 },
		};

		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS64;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		memcpy(img, &eh, sizeof(eh));
		memcpy(img + eh.e_phoff, ph, sizeof(ph));
		memcpy(img + SHDR_OFF, sh, sizeof(sh));
	} else {
		Elf32_Ehdr eh = {
			.e_type = ET_EXEC, .e_machine = EM_386,
			.e_version = EV_CURRENT, .e_entry = ENTRY,
			.e_phoff = sizeof(Elf32_Ehdr), .e_shoff = SHDR_OFF,
			.e_ehsize = sizeof(Elf32_Ehdr),
			.e_phentsize = sizeof(Elf32_Phdr), .e_phnum = 2,
			.e_shentsize = sizeof(Elf32_Shdr), .e_shnum = 2,
		};
		Elf32_Phdr ph[2] = {
			{ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
			  .p_offset = SEG_FILE_OFF, .p_vaddr = SEG_PADDR,
			  .p_paddr = SEG_PADDR, .p_filesz = SEG_FILESZ,
			  .p_memsz = SEG_MEMSZ, .p_align = 0x1000 },
			{ .p_type = o->note_in_phdr ? PT_NOTE : PT_NULL,
			  .p_offset = NOTE_OFF, .p_filesz = note_len,
			  .p_memsz = note_len, .p_align = 4 },
		};
		Elf32_Shdr sh[2] = {
			{ 0 },
			{ .sh_type = SHT_NOTE, .sh_offset = NOTE_OFF,
			  .sh_size = note_len, .sh_addralign = 4 },
		};

		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS32;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		memcpy(img, &eh, sizeof(eh));
		memcpy(img + eh.e_phoff, ph, sizeof(ph));
		memcpy(img + SHDR_OFF, sh, sizeof(sh));
	}
}

static void build_default(void)
{
	struct elf_opts o = { .pvh_note = true, .note_in_phdr = true, .desc_size = 8 };

	build_elf(&o);
}

static Elf64_Phdr *phdr64(int i)
{
	return (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
}

static Elf64_Ehdr *ehdr64(void)
{
	return (Elf64_Ehdr *)img;
}

static void setup(void)
{
	ck_assert_int_eq(guest_mem_init(&gm, 256 * MiB), 0);
	memset(&entry, 0xee, sizeof(entry));
	err[0] = '\0';
}

static void teardown(void)
{
	guest_mem_exit(&gm);
}

static int load(const void *initrd, size_t initrd_size, const char *cmdline)
{
	/* An exact-size heap copy, so a sanitizer build sees any overread. */
	void *copy = malloc(img_size ? img_size : 1);
	struct boot_image bi = {
		.kernel = copy, .kernel_size = img_size,
		.initrd = initrd, .initrd_size = initrd_size,
		.cmdline = cmdline,
	};
	int ret;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, img, img_size);
	ret = boot_load_elf(&gm, &bi, &entry, err, sizeof(err));
	free(copy);
	return ret;
}

static uint64_t rd(uint64_t gpa, int size)
{
	uint64_t v = 0;

	ck_assert_int_eq(guest_mem_read(&gm, gpa, &v, size), 0);
	return v;
}

static void check_loaded_segment(void)
{
	uint8_t *p = guest_mem_map(&gm, SEG_PADDR, SEG_MEMSZ, false);
	size_t i;

	ck_assert_ptr_nonnull(p);
	ck_assert_mem_eq(p, img + SEG_FILE_OFF, SEG_FILESZ);
	for (i = SEG_FILESZ; i < SEG_MEMSZ; i++)
		ck_assert_uint_eq(p[i], 0);
}

static void check_pvh_entry(void)
{
	ck_assert_int_eq(entry.mode, BOOT_MODE_PVH32);
	ck_assert_uint_eq(entry.rip, ENTRY);
	ck_assert_uint_eq(entry.rbx, BOOT_INFO_ADDR);
	ck_assert_uint_eq(entry.cs, BOOT_CS);
	ck_assert_uint_eq(entry.ds, BOOT_DS);
	ck_assert_uint_eq(entry.gdt_base, BOOT_GDT_ADDR);
	ck_assert_uint_eq(entry.gdt_limit, 31);
	/* 32-bit flat code and data. */
	ck_assert_uint_eq(rd(BOOT_GDT_ADDR + BOOT_CS, 8), 0x00cf9b000000ffffULL);
	ck_assert_uint_eq(rd(BOOT_GDT_ADDR + BOOT_DS, 8), 0x00cf93000000ffffULL);
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_MAGIC, 4), 0x336ec578);
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_VERSION, 4), 1);
}

START_TEST(test_elf64_pvh_with_initrd)
{
	static uint8_t initrd[10000];
	struct e820_map map;
	char cmd[32];
	uint64_t mm;
	uint32_t i;

	memset(initrd, 0xc3, sizeof(initrd));
	build_default();
	/* bss must be zeroed even over stale bytes. */
	ck_assert_int_eq(guest_mem_fill(&gm, SEG_PADDR, 0xaa, SEG_MEMSZ), 0);
	ck_assert_int_eq(load(initrd, sizeof(initrd), "console=ttyS0"), 0);
	check_loaded_segment();
	check_pvh_entry();
	ck_assert_uint_eq(entry.kernel_start, SEG_PADDR);
	ck_assert_uint_eq(entry.kernel_end, SEG_PADDR + SEG_MEMSZ);

	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_FLAGS, 4), 0);
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_RSDP_PADDR, 8), 0);
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_CMDLINE_PADDR, 8), BOOT_CMDLINE_ADDR);
	ck_assert_int_eq(guest_mem_read(&gm, BOOT_CMDLINE_ADDR, cmd, 14), 0);
	ck_assert_str_eq(cmd, "console=ttyS0");

	/* One module, the initrd, page-aligned at the top of RAM. */
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_NR_MODULES, 4), 1);
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_MODLIST_PADDR, 8), BOOT_PVH_MODLIST_ADDR);
	ck_assert_uint_eq(rd(BOOT_PVH_MODLIST_ADDR, 8), entry.initrd_addr);
	ck_assert_uint_eq(rd(BOOT_PVH_MODLIST_ADDR + 8, 8), sizeof(initrd));
	ck_assert_uint_eq(rd(BOOT_PVH_MODLIST_ADDR + 16, 8), 0);
	ck_assert_uint_eq(entry.initrd_addr, (256 * MiB - sizeof(initrd)) & ~0xfffULL);
	ck_assert_uint_eq(entry.initrd_size, sizeof(initrd));
	ck_assert_mem_eq(guest_mem_map(&gm, entry.initrd_addr, sizeof(initrd), false),
			 initrd, sizeof(initrd));

	/* The memory map is the e820 map, entry for entry. */
	e820_build(&gm, &map);
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_MEMMAP_PADDR, 8), BOOT_PVH_MEMMAP_ADDR);
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_MEMMAP_ENTRIES, 4), map.nr);
	ck_assert_int_eq(map.nr, 4);
	for (i = 0; i < (uint32_t)map.nr; i++) {
		mm = BOOT_PVH_MEMMAP_ADDR + i * 24;
		ck_assert_uint_eq(rd(mm, 8), map.e[i].addr);
		ck_assert_uint_eq(rd(mm + 8, 8), map.e[i].size);
		ck_assert_uint_eq(rd(mm + 16, 4), map.e[i].type);
		ck_assert_uint_eq(rd(mm + 20, 4), 0);
	}
	ck_assert_uint_eq(rd(BOOT_PVH_MEMMAP_ADDR + 3 * 24 + 8, 8), 255 * MiB);
	ck_assert_uint_eq(rd(BOOT_PVH_MEMMAP_ADDR + 1 * 24 + 16, 4), E820_RESERVED);
}
END_TEST

START_TEST(test_elf64_no_initrd)
{
	build_default();
	ck_assert_int_eq(load(NULL, 0, NULL), 0);
	check_pvh_entry();
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_NR_MODULES, 4), 0);
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_MODLIST_PADDR, 8), 0);
	ck_assert_uint_eq(entry.initrd_addr, 0);
	ck_assert_uint_eq(entry.initrd_size, 0);
	ck_assert_uint_eq(rd(BOOT_CMDLINE_ADDR, 1), 0);
}
END_TEST

START_TEST(test_elf64_note_u32)
{
	struct elf_opts o = { .pvh_note = true, .note_in_phdr = true, .desc_size = 4 };

	build_elf(&o);
	ck_assert_int_eq(load(NULL, 0, ""), 0);
	check_pvh_entry();
}
END_TEST

START_TEST(test_elf64_note_only_in_section)
{
	struct elf_opts o = { .pvh_note = true, .note_in_phdr = false, .desc_size = 8 };

	build_elf(&o);
	ck_assert_int_eq(load(NULL, 0, ""), 0);
	check_pvh_entry();
	check_loaded_segment();
}
END_TEST

START_TEST(test_elf64_no_pvh_note)
{
	struct elf_opts o = { .pvh_note = false, .note_in_phdr = true, .desc_size = 8 };

	build_elf(&o);
	ck_assert_int_eq(load(NULL, 0, ""), -1);
	ck_assert_str_eq(err, "kernel has no PVH entry note; build with CONFIG_PVH=y or use a bzImage");
}
END_TEST

START_TEST(test_elf32_pvh)
{
	static uint8_t initrd[4096];
	struct elf_opts o = { .is32 = true, .pvh_note = true, .note_in_phdr = true,
			      .desc_size = 4 };

	build_elf(&o);
	ck_assert_int_eq(load(initrd, sizeof(initrd), "x"), 0);
	check_loaded_segment();
	check_pvh_entry();
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_NR_MODULES, 4), 1);
}
END_TEST

START_TEST(test_elf32_no_note_sections_only)
{
	struct elf_opts o = { .is32 = true, .pvh_note = true, .note_in_phdr = false,
			      .desc_size = 4 };

	build_elf(&o);
	ck_assert_int_eq(load(NULL, 0, NULL), 0);
	ck_assert_uint_eq(entry.rip, ENTRY);
}
END_TEST

START_TEST(test_truncated_headers)
{
	static const size_t sizes[] = { 0, 3, 10, 16, 40, 63 };
	size_t i;

	build_default();
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		img_size = sizes[i];
		ck_assert_int_eq(load(NULL, 0, NULL), -1);
		ck_assert_ptr_nonnull(strstr(err, "ELF kernel"));
	}
	/* Header present, program headers cut off. */
	img_size = sizeof(Elf64_Ehdr) + 10;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "program headers"));
}
END_TEST

START_TEST(test_phoff_out_of_range)
{
	build_default();
	ehdr64()->e_phoff = img_size - 10;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "outside"));

	/* An offset that would wrap around when the table size is added. */
	ehdr64()->e_phoff = UINT64_MAX - 8;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "outside"));

	build_default();
	ehdr64()->e_phnum = 0;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ehdr64()->e_phnum = PN_XNUM;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	build_default();
	ehdr64()->e_phentsize = 32;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "program header size"));
}
END_TEST

START_TEST(test_bad_ident)
{
	build_default();
	img[EI_DATA] = ELFDATA2MSB;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "little-endian"));
	build_default();
	img[EI_CLASS] = 7;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "class"));
	build_default();
	ehdr64()->e_machine = EM_AARCH64;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "not x86-64"));
	build_default();
	ehdr64()->e_type = ET_REL;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "not an executable"));
}
END_TEST

START_TEST(test_segment_data_outside_file)
{
	build_default();
	phdr64(0)->p_offset = img_size - 0x10;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "segment 0 data"));

	build_default();
	phdr64(0)->p_offset = UINT64_MAX - 0x100;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "outside"));

	build_default();
	phdr64(0)->p_filesz = SEG_MEMSZ + 1;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "more file bytes"));
}
END_TEST

START_TEST(test_segment_beyond_ram)
{
	build_default();
	phdr64(0)->p_paddr = 255 * MiB;
	phdr64(0)->p_memsz = 2 * MiB;
	/* Keep the entry inside the moved segment so the RAM check is what fails. */
	memcpy(img + PVH_DESC_OFF, &(uint64_t){ 255 * MiB }, 8);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "outside guest RAM"));
	ck_assert_ptr_nonnull(strstr(err, "256 MiB"));

	build_default();
	phdr64(0)->p_paddr = UINT64_MAX - 0x100;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);

	build_default();
	phdr64(0)->p_paddr = 0x7000;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
}
END_TEST

START_TEST(test_segment_below_1m_rejected)
{
	build_default();
	phdr64(0)->p_paddr = 0x10000;
	memcpy(img + PVH_DESC_OFF, &(uint64_t){ 0x10000 }, 8);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "below 1 MiB"));
}
END_TEST

START_TEST(test_entry_outside_segments)
{
	build_default();
	memcpy(img + PVH_DESC_OFF, &(uint64_t){ 0x5000000 }, 8);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "not inside a loaded segment"));

	memcpy(img + PVH_DESC_OFF, &(uint64_t){ 1ULL << 33 }, 8);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "above 4 GiB"));
}
END_TEST

START_TEST(test_malformed_notes)
{
	/* First note's descsz made huge: the walk must stop, not read past. */
	build_default();
	memcpy(img + NOTE_OFF + 4, &(uint32_t){ 0xfffffff0 }, 4);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "truncated note"));

	/* Note segment outside the file. */
	build_default();
	phdr64(1)->p_offset = UINT64_MAX - 2;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "PT_NOTE segment"));

	/* PVH note with a 2-byte value. */
	build_default();
	memcpy(img + PVH_DESCSZ_OFF, &(uint32_t){ 2 }, 4);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "2-byte value"));

	/* Section table out of range, consulted when the phdrs have no note. */
	{
		struct elf_opts o = { .pvh_note = true, .desc_size = 8 };

		build_elf(&o);
		ehdr64()->e_shoff = img_size - 8;
		ck_assert_int_eq(load(NULL, 0, NULL), -1);
		ck_assert_ptr_nonnull(strstr(err, "section headers"));
	}
}
END_TEST

START_TEST(test_initrd_too_large)
{
	static uint8_t dummy[16];

	build_default();
	ck_assert_int_eq(load(dummy, 300 * MiB, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "initrd of 300 MiB"));
}
END_TEST

START_TEST(test_cmdline_too_long)
{
	static char line[BOOT_CMDLINE_MAX + 1];

	memset(line, 'q', BOOT_CMDLINE_MAX);
	build_default();
	ck_assert_int_eq(load(NULL, 0, line), -1);
	ck_assert_ptr_nonnull(strstr(err, "command line is 65536 bytes"));
}
END_TEST

/* Deterministic xorshift: reproducible mutations. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

START_TEST(test_mutated_images_never_crash)
{
	int iter, n, ok = 0;

	for (iter = 0; iter < 3000; iter++) {
		struct elf_opts o = { .is32 = iter & 1, .pvh_note = true,
				      .note_in_phdr = !(iter & 2), .desc_size = 8 };

		build_elf(&o);
		/* Flip a few bytes in the headers and notes, sometimes truncate. */
		for (n = rng() % 6 + 1; n; n--) {
			size_t off = rng() % (SHDR_OFF + 2 * sizeof(Elf64_Shdr));

			img[off] = rng();
		}
		if (rng() % 4 == 0)
			img_size = rng() % img_size;
		err[0] = '\0';
		if (load(NULL, 0, NULL) == 0)
			ok++;
		else
			ck_assert_uint_gt(strlen(err), 0);
	}
	/* Some mutations hit padding and still load: the test saw both paths. */
	ck_assert_int_gt(ok, 0);
	ck_assert_int_lt(ok, 3000);
}
END_TEST

/*
 * A real vmlinux built with CONFIG_PVH=y, when one is named by
 * VLAB_TEST_VMLINUX (e.g. the guest kernel built by `make guest`).
 */
START_TEST(test_real_vmlinux_if_present)
{
	const char *path = getenv("VLAB_TEST_VMLINUX");
	struct boot_config bc = { .cmdline = "console=ttyS0", .nr_cpus = 1 };
	uint8_t insn;

	if (!path || !*path) {
		fprintf(stderr, "test_real_vmlinux_if_present: VLAB_TEST_VMLINUX unset, skipped\n");
		return;
	}
	guest_mem_exit(&gm);
	ck_assert_int_eq(guest_mem_init(&gm, 512 * MiB), 0);
	bc.kernel_path = path;
	if (boot_load(&gm, &bc, &entry, err, sizeof(err)))
		ck_abort_msg("%s: %s", path, err);
	ck_assert_int_eq(entry.mode, BOOT_MODE_PVH32);
	ck_assert_uint_ge(entry.rip, entry.kernel_start);
	ck_assert_uint_lt(entry.rip, entry.kernel_end);
	/* The entry is code the loader copied: not a zero byte of bss. */
	insn = rd(entry.rip, 1);
	ck_assert_uint_ne(insn, 0);
	ck_assert_uint_eq(rd(BOOT_INFO_ADDR + SI_MAGIC, 4), 0x336ec578);
}
END_TEST

VLAB_SUITE_MAIN("boot_elf", "core", setup, teardown, 0,
	test_elf64_pvh_with_initrd, test_elf64_no_initrd, test_elf64_note_u32,
	test_elf64_note_only_in_section, test_elf64_no_pvh_note, test_elf32_pvh,
	test_elf32_no_note_sections_only, test_truncated_headers, test_phoff_out_of_range,
	test_bad_ident, test_segment_data_outside_file, test_segment_beyond_ram,
	test_segment_below_1m_rejected, test_entry_outside_segments, test_malformed_notes,
	test_initrd_too_large, test_cmdline_too_long, test_mutated_images_never_crash,
	test_real_vmlinux_if_present);
