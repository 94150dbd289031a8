// SPDX-License-Identifier: GPL-2.0
/* Boot common code: e820, command line, initrd placement, GDT, page tables, files. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "vmm/x86/boot.h"

#define MiB		(1ULL << 20)
#define GiB		(1ULL << 30)

static struct guest_mem gm;
static char err[256];

static void mem_setup(uint64_t size)
{
	ck_assert_int_eq(guest_mem_init(&gm, size), 0);
	err[0] = '\0';
}

static void mem_teardown(void)
{
	guest_mem_exit(&gm);
}

static uint64_t rd64(uint64_t gpa)
{
	uint64_t v;

	ck_assert_int_eq(guest_mem_read(&gm, gpa, &v, sizeof(v)), 0);
	return v;
}

static void check_e820(const struct e820_map *map, int i, uint64_t addr,
		       uint64_t size, uint32_t type)
{
	ck_assert_int_lt(i, map->nr);
	ck_assert_uint_eq(map->e[i].addr, addr);
	ck_assert_uint_eq(map->e[i].size, size);
	ck_assert_uint_eq(map->e[i].type, type);
}

static uint64_t e820_ram_total(const struct e820_map *map)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < map->nr; i++)
		if (map->e[i].type == E820_RAM)
			sum += map->e[i].size;
	return sum;
}

/* Lowest part is identical for every size that reaches past 1 MiB. */
static void check_e820_low(const struct e820_map *map)
{
	check_e820(map, 0, 0, BOOT_EBDA_ADDR, E820_RAM);
	check_e820(map, 1, BOOT_EBDA_ADDR, 0xa0000 - BOOT_EBDA_ADDR, E820_RESERVED);
	check_e820(map, 2, 0xf0000, 0x10000, E820_RESERVED);
}

/* RAM the e820 map cannot report: [EBDA, 1 MiB) is backed but not RAM. */
#define E820_HIDDEN	(0x100000 - BOOT_EBDA_ADDR)

START_TEST(test_e820_256m)
{
	struct e820_map map;

	mem_setup(256 * MiB);
	e820_build(&gm, &map);
	ck_assert_int_eq(map.nr, 4);
	check_e820_low(&map);
	check_e820(&map, 3, MiB, 255 * MiB, E820_RAM);
	ck_assert_uint_eq(e820_ram_total(&map), 256 * MiB - E820_HIDDEN);
	mem_teardown();
}
END_TEST

START_TEST(test_e820_3g)
{
	struct e820_map map;

	mem_setup(3 * GiB);
	e820_build(&gm, &map);
	ck_assert_int_eq(map.nr, 4);
	check_e820_low(&map);
	check_e820(&map, 3, MiB, 3 * GiB - MiB, E820_RAM);
	mem_teardown();
}
END_TEST

START_TEST(test_e820_4g)
{
	struct e820_map map;

	mem_setup(4 * GiB);
	e820_build(&gm, &map);
	ck_assert_int_eq(map.nr, 5);
	check_e820_low(&map);
	check_e820(&map, 3, MiB, 3 * GiB - MiB, E820_RAM);
	check_e820(&map, 4, 4 * GiB, 1 * GiB, E820_RAM);
	ck_assert_uint_eq(e820_ram_total(&map), 4 * GiB - E820_HIDDEN);
	mem_teardown();
}
END_TEST

START_TEST(test_e820_6g)
{
	struct e820_map map;
	int i;

	mem_setup(6 * GiB);
	e820_build(&gm, &map);
	ck_assert_int_eq(map.nr, 5);
	check_e820_low(&map);
	check_e820(&map, 3, MiB, 3 * GiB - MiB, E820_RAM);
	check_e820(&map, 4, 4 * GiB, 3 * GiB, E820_RAM);
	ck_assert_uint_eq(e820_ram_total(&map), 6 * GiB - E820_HIDDEN);
	/* Sorted, non-overlapping, and no RAM inside the 32-bit hole. */
	for (i = 1; i < map.nr; i++)
		ck_assert_uint_ge(map.e[i].addr, map.e[i - 1].addr + map.e[i - 1].size);
	for (i = 0; i < map.nr; i++)
		ck_assert(map.e[i].addr + map.e[i].size <= GM_HOLE_START ||
			  map.e[i].addr >= GM_HOLE_END);
	mem_teardown();
}
END_TEST

START_TEST(test_cmdline_written)
{
	char buf[64];

	mem_setup(16 * MiB);
	ck_assert_int_eq(boot_write_cmdline(&gm, "console=ttyS0 panic=-1", 100,
					    err, sizeof(err)), 0);
	ck_assert_int_eq(guest_mem_read(&gm, BOOT_CMDLINE_ADDR, buf, 23), 0);
	ck_assert_str_eq(buf, "console=ttyS0 panic=-1");
	/* NULL is the empty command line, still NUL-terminated. */
	ck_assert_int_eq(boot_write_cmdline(&gm, NULL, 100, err, sizeof(err)), 0);
	ck_assert_int_eq(guest_mem_read(&gm, BOOT_CMDLINE_ADDR, buf, 1), 0);
	ck_assert_int_eq(buf[0], '\0');
	mem_teardown();
}
END_TEST

START_TEST(test_cmdline_at_limit)
{
	char line[33];

	mem_setup(16 * MiB);
	memset(line, 'x', 32);
	line[32] = '\0';
	ck_assert_int_eq(boot_write_cmdline(&gm, line, 32, err, sizeof(err)), 0);
	ck_assert_int_eq(boot_write_cmdline(&gm, line, 31, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "32 bytes"));
	ck_assert_ptr_nonnull(strstr(err, "limit is 31"));
	mem_teardown();
}
END_TEST

START_TEST(test_cmdline_too_long_for_buffer)
{
	size_t len = BOOT_CMDLINE_MAX;
	char *line = malloc(len + 1);

	mem_setup(16 * MiB);
	memset(line, 'a', len);
	line[len] = '\0';
	/* The loader's buffer bounds even a kernel that claims more room. */
	ck_assert_int_eq(boot_write_cmdline(&gm, line, UINT32_MAX, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "command line"));
	line[len - 1] = '\0';
	ck_assert_int_eq(boot_write_cmdline(&gm, line, UINT32_MAX, err, sizeof(err)), 0);
	free(line);
	mem_teardown();
}
END_TEST

START_TEST(test_initrd_high_and_aligned)
{
	static uint8_t data[MiB + 123];
	struct boot_image img = { .initrd = data, .initrd_size = sizeof(data) };
	uint64_t addr;
	uint8_t *p;
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = i * 7 + 1;
	mem_setup(256 * MiB);
	ck_assert_int_eq(boot_place_initrd(&gm, &img, 16 * MiB, GM_HOLE_END, &addr,
					   err, sizeof(err)), 0);
	ck_assert_uint_eq(addr & 0xfff, 0);
	ck_assert_uint_le(addr + sizeof(data), 256 * MiB);
	/* As high as possible: less than a page of slack at the top. */
	ck_assert_uint_gt(addr + sizeof(data) + 0x1000, 256 * MiB);
	p = guest_mem_map(&gm, addr, sizeof(data), false);
	ck_assert_ptr_nonnull(p);
	ck_assert_mem_eq(p, data, sizeof(data));
	mem_teardown();
}
END_TEST

START_TEST(test_initrd_respects_limit)
{
	static uint8_t data[3 * 4096];
	struct boot_image img = { .initrd = data, .initrd_size = sizeof(data) };
	uint64_t addr;

	mem_setup(256 * MiB);
	ck_assert_int_eq(boot_place_initrd(&gm, &img, 16 * MiB, 64 * MiB, &addr,
					   err, sizeof(err)), 0);
	ck_assert_uint_eq(addr, 64 * MiB - sizeof(data));
	mem_teardown();
}
END_TEST

START_TEST(test_initrd_in_low_ram_of_big_guest)
{
	static uint8_t data[8192];
	struct boot_image img = { .initrd = data, .initrd_size = sizeof(data) };
	uint64_t addr;

	mem_setup(6 * GiB);
	ck_assert_int_eq(boot_place_initrd(&gm, &img, 16 * MiB, GM_HOLE_END, &addr,
					   err, sizeof(err)), 0);
	/* Never in the hole nor above 4 GiB: top of the low region. */
	ck_assert_uint_eq(addr, GM_HOLE_START - sizeof(data));
	mem_teardown();
}
END_TEST

START_TEST(test_initrd_too_large)
{
	static uint8_t dummy[16];
	/* The size is checked before any byte is read, so a stub buffer will do. */
	struct boot_image img = { .initrd = dummy, .initrd_size = 250 * MiB };
	uint64_t addr = 1;

	mem_setup(256 * MiB);
	ck_assert_int_eq(boot_place_initrd(&gm, &img, 16 * MiB, GM_HOLE_END, &addr,
					   err, sizeof(err)), -1);
	ck_assert_uint_eq(addr, 0);
	ck_assert_ptr_nonnull(strstr(err, "initrd of 250 MiB"));
	ck_assert_ptr_nonnull(strstr(err, "240 MiB free"));
	mem_teardown();
}
END_TEST

START_TEST(test_initrd_kernel_above_limit)
{
	static uint8_t dummy[4096];
	struct boot_image img = { .initrd = dummy, .initrd_size = sizeof(dummy) };
	uint64_t addr;

	mem_setup(256 * MiB);
	ck_assert_int_eq(boot_place_initrd(&gm, &img, 200 * MiB, 100 * MiB, &addr,
					   err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "does not fit"));
	mem_teardown();
}
END_TEST

START_TEST(test_initrd_none_and_empty)
{
	static uint8_t dummy[1];
	struct boot_image none = { 0 };
	struct boot_image empty = { .initrd = dummy, .initrd_size = 0 };
	uint64_t addr = 5;

	mem_setup(64 * MiB);
	ck_assert_int_eq(boot_place_initrd(&gm, &none, MiB, GM_HOLE_END, &addr,
					   err, sizeof(err)), 0);
	ck_assert_uint_eq(addr, 0);
	ck_assert_int_eq(boot_place_initrd(&gm, &empty, MiB, GM_HOLE_END, &addr,
					   err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	mem_teardown();
}
END_TEST

START_TEST(test_gdt_long_and_protected)
{
	struct boot_entry e = { 0 };

	mem_setup(16 * MiB);
	ck_assert_int_eq(boot_write_gdt(&gm, true, &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(e.gdt_base, BOOT_GDT_ADDR);
	ck_assert_uint_eq(e.gdt_limit, 4 * 8 - 1);
	ck_assert_uint_eq(e.cs, BOOT_CS);
	ck_assert_uint_eq(e.ds, BOOT_DS);
	ck_assert_uint_eq(rd64(BOOT_GDT_ADDR), 0);
	ck_assert_uint_eq(rd64(BOOT_GDT_ADDR + 8), 0);
	/* L=1 D=0 G=1, present ring-0 execute/read code; flat RW data. */
	ck_assert_uint_eq(rd64(BOOT_GDT_ADDR + BOOT_CS), 0x00af9b000000ffffULL);
	ck_assert_uint_eq(rd64(BOOT_GDT_ADDR + BOOT_DS), 0x00cf93000000ffffULL);

	ck_assert_int_eq(boot_write_gdt(&gm, false, &e, err, sizeof(err)), 0);
	/* L=0 D=1: 32-bit flat code for the PVH entry. */
	ck_assert_uint_eq(rd64(BOOT_GDT_ADDR + BOOT_CS), 0x00cf9b000000ffffULL);
	ck_assert_uint_eq(rd64(BOOT_GDT_ADDR + BOOT_DS), 0x00cf93000000ffffULL);
	mem_teardown();
}
END_TEST

START_TEST(test_page_tables_identity_4g)
{
	uint64_t gpa, pd, pde;
	int i;

	mem_setup(16 * MiB);
	ck_assert_int_eq(boot_write_page_tables(&gm, err, sizeof(err)), 0);
	ck_assert_uint_eq(rd64(BOOT_PML4_ADDR), BOOT_PDPT_ADDR | 3);
	for (i = 1; i < 512; i++)
		ck_assert_uint_eq(rd64(BOOT_PML4_ADDR + i * 8), 0);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(rd64(BOOT_PDPT_ADDR + i * 8),
				  (BOOT_PD_ADDR + i * 0x1000ULL) | 3);
	ck_assert_uint_eq(rd64(BOOT_PDPT_ADDR + 4 * 8), 0);

	/* Walk like the MMU for a set of addresses across the 4 GiB. */
	for (gpa = 0; gpa < 4 * GiB; gpa += 0x7654321ULL) {
		pd = rd64(BOOT_PDPT_ADDR + ((gpa >> 30) & 511) * 8) & ~0xfffULL;
		pde = rd64(pd + ((gpa >> 21) & 511) * 8);
		ck_assert_uint_eq(pde & 0x83, 0x83);	/* present, writable, 2 MiB */
		ck_assert_uint_eq((pde & ~0x1fffffULL) | (gpa & 0x1fffff), gpa);
	}
	ck_assert_uint_eq(rd64(BOOT_PD_ADDR + 3 * 0x1000 + 511 * 8), 0xffe00083ULL);
	mem_teardown();
}
END_TEST

static char tmpdir[64];

static const char *tmp_file(const char *name, const void *data, size_t len)
{
	static char path[4][128];
	static int n;
	char *p = path[n++ % 4];
	FILE *f;

	snprintf(p, sizeof(path[0]), "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	if (len)
		ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return p;
}

static void files_setup(void)
{
	strcpy(tmpdir, "/tmp/vlab-test-boot-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void files_teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

START_TEST(test_load_missing_kernel)
{
	struct boot_config bc = { .kernel_path = "/nonexistent/vmlinux", .nr_cpus = 1 };
	struct boot_entry e;

	mem_setup(64 * MiB);
	ck_assert_int_eq(boot_load(&gm, &bc, &e, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot open kernel /nonexistent/vmlinux"));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	mem_teardown();
}
END_TEST

START_TEST(test_load_kernel_is_directory)
{
	struct boot_config bc = { .kernel_path = "/tmp", .nr_cpus = 1 };
	struct boot_entry e;

	mem_setup(64 * MiB);
	ck_assert_int_eq(boot_load(&gm, &bc, &e, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	mem_teardown();
}
END_TEST

START_TEST(test_load_empty_and_unknown_kernel)
{
	struct boot_config bc = { .nr_cpus = 1 };
	struct boot_entry e;
	static const char text[] = "#!/bin/sh\necho this is no kernel\n";

	files_setup();
	mem_setup(64 * MiB);
	bc.kernel_path = tmp_file("empty", NULL, 0);
	ck_assert_int_eq(boot_load(&gm, &bc, &e, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is empty"));

	bc.kernel_path = tmp_file("script", text, sizeof(text));
	ck_assert_int_eq(boot_load(&gm, &bc, &e, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "neither an ELF vmlinux nor a bzImage"));
	mem_teardown();
	files_teardown();
}
END_TEST

START_TEST(test_load_missing_initrd)
{
	static const char text[] = "not a kernel, never looked at";
	struct boot_config bc = { .initrd_path = "/nonexistent/initrd.cpio",
				  .nr_cpus = 1 };
	struct boot_entry e;

	files_setup();
	mem_setup(64 * MiB);
	bc.kernel_path = tmp_file("k", text, sizeof(text));
	ck_assert_int_eq(boot_load(&gm, &bc, &e, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot open initrd /nonexistent/initrd.cpio"));
	mem_teardown();
	files_teardown();
}
END_TEST

START_TEST(test_load_guest_too_small)
{
	static uint8_t ram[512 * 1024];
	static const char elf[] = "\177ELF";
	struct boot_image img = { .kernel = elf, .kernel_size = 4 };
	struct boot_entry e;

	ck_assert_int_eq(guest_mem_init_buffer(&gm, ram, sizeof(ram)), 0);
	ck_assert_int_eq(boot_load_image(&gm, &img, &e, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "512 KiB"));
	ck_assert_ptr_nonnull(strstr(err, "1 MiB"));
	mem_teardown();
}
END_TEST

VLAB_SUITE_MAIN("boot", "core", NULL, NULL, 0,
	test_e820_256m, test_e820_3g, test_e820_4g, test_e820_6g, test_cmdline_written,
	test_cmdline_at_limit, test_cmdline_too_long_for_buffer,
	test_initrd_high_and_aligned, test_initrd_respects_limit,
	test_initrd_in_low_ram_of_big_guest, test_initrd_too_large,
	test_initrd_kernel_above_limit, test_initrd_none_and_empty,
	test_gdt_long_and_protected, test_page_tables_identity_4g,
	test_load_missing_kernel, test_load_kernel_is_directory,
	test_load_empty_and_unknown_kernel, test_load_missing_initrd,
	test_load_guest_too_small);
