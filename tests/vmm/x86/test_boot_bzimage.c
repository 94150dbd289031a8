// SPDX-License-Identifier: GPL-2.0
/* bzImage loader: synthetic setup headers, and a real kernel when one exists. */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "vmm/x86/boot.h"

#define MiB		(1ULL << 20)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Offsets into both the image and boot_params (Documentation/arch/x86/boot.rst). */
#define BP_EXT_RAMDISK_IMAGE	0x0c0
#define BP_EXT_RAMDISK_SIZE	0x0c4
#define BP_EXT_CMD_LINE_PTR	0x0c8
#define BP_E820_ENTRIES		0x1e8
#define BP_SENTINEL		0x1ef
#define BP_E820_TABLE		0x2d0
#define HDR_SETUP_SECTS		0x1f1
#define HDR_VID_MODE		0x1fa
#define HDR_BOOT_FLAG		0x1fe
#define HDR_JUMP		0x200
#define HDR_MAGIC		0x202
#define HDR_VERSION		0x206
#define HDR_TYPE_OF_LOADER	0x210
#define HDR_LOADFLAGS		0x211
#define HDR_CODE32_START	0x214
#define HDR_RAMDISK_IMAGE	0x218
#define HDR_RAMDISK_SIZE	0x21c
#define HDR_CMD_LINE_PTR	0x228
#define HDR_INITRD_ADDR_MAX	0x22c
#define HDR_KERNEL_ALIGNMENT	0x230
#define HDR_RELOCATABLE		0x234
#define HDR_XLOADFLAGS		0x236
#define HDR_CMDLINE_SIZE	0x238
#define HDR_SETUP_DATA		0x250
#define HDR_PREF_ADDRESS	0x258
#define HDR_INIT_SIZE		0x260
#define HDR_END			0x26c

#define KERNEL_BYTES		0x10000
#define PREF_ADDR		(16 * MiB)
#define INIT_SIZE		(8 * MiB)

static uint8_t *img;
static size_t img_size;
static size_t setup_size;
static struct guest_mem gm;
static struct boot_entry entry;
static char err[256];

static void put16(size_t off, uint16_t v)
{
	memcpy(img + off, &v, 2);
}

static void put32(size_t off, uint32_t v)
{
	memcpy(img + off, &v, 4);
}

static void put64(size_t off, uint64_t v)
{
	memcpy(img + off, &v, 8);
}

/* A bzImage as a 2.15 kernel would look: setup header, then "kernel" bytes. */
static void build_bzimage(unsigned int setup_sects)
{
	unsigned int real_sects = setup_sects ? setup_sects : 4;
	size_t i;

	setup_size = (real_sects + 1) * 512;
	img_size = setup_size + KERNEL_BYTES;
	free(img);
	img = calloc(1, img_size);
	ck_assert_ptr_nonnull(img);

	img[HDR_SETUP_SECTS] = setup_sects;
	put16(HDR_VID_MODE, 0xffff);
	put16(HDR_BOOT_FLAG, 0xaa55);
	img[HDR_JUMP] = 0xeb;
	img[HDR_JUMP + 1] = HDR_END - HDR_MAGIC;
	memcpy(img + HDR_MAGIC, "HdrS", 4);
	put16(HDR_VERSION, 0x020f);
	img[HDR_LOADFLAGS] = 0x01;		/* LOADED_HIGH */
	put32(HDR_CODE32_START, 0x100000);
	put32(HDR_INITRD_ADDR_MAX, 0x7fffffff);
	put32(HDR_KERNEL_ALIGNMENT, 0x200000);
	img[HDR_RELOCATABLE] = 1;
	put16(HDR_XLOADFLAGS, 0x1 | 0x2);	/* KERNEL_64, CAN_BE_LOADED_ABOVE_4G */
	put32(HDR_CMDLINE_SIZE, 2047);
	put64(HDR_SETUP_DATA, 0xdeadbeef);	/* must not reach the guest */
	put64(HDR_PREF_ADDRESS, PREF_ADDR);
	put32(HDR_INIT_SIZE, INIT_SIZE);
	/* Bytes past the header in the setup area must not be copied. */
	memset(img + HDR_END, 0x77, setup_size - HDR_END);
	for (i = 0; i < KERNEL_BYTES; i++)
		img[setup_size + i] = i * 13 + 5;
}

static void mem_setup(uint64_t size)
{
	ck_assert_int_eq(guest_mem_init(&gm, size), 0);
	memset(&entry, 0xee, sizeof(entry));
	err[0] = '\0';
}

static void setup(void)
{
	mem_setup(256 * MiB);
	build_bzimage(4);
}

static void teardown(void)
{
	guest_mem_exit(&gm);
	free(img);
	img = NULL;
}

static int load(const void *initrd, size_t initrd_size, const char *cmdline)
{
	struct boot_image bi = {
		.kernel = img, .kernel_size = img_size,
		.initrd = initrd, .initrd_size = initrd_size,
		.cmdline = cmdline,
	};

	return boot_load_bzimage(&gm, &bi, &entry, err, sizeof(err));
}

static uint64_t rd(uint64_t gpa, int size)
{
	uint64_t v = 0;

	ck_assert_int_eq(guest_mem_read(&gm, gpa, &v, size), 0);
	return v;
}

static uint64_t bp(size_t off, int size)
{
	return rd(BOOT_INFO_ADDR + off, size);
}

START_TEST(test_good_bzimage)
{
	static uint8_t initrd[3 * 4096 + 17];
	struct e820_map map;
	char cmd[32];
	uint8_t *p;
	int i;

	memset(initrd, 0x3c, sizeof(initrd));
	ck_assert_int_eq(load(initrd, sizeof(initrd), "console=ttyS0 quiet"), 0);

	/* Entry state of the 64-bit boot protocol. */
	ck_assert_int_eq(entry.mode, BOOT_MODE_LINUX64);
	ck_assert_uint_eq(entry.rip, PREF_ADDR + 0x200);
	ck_assert_uint_eq(entry.rsi, BOOT_INFO_ADDR);
	ck_assert_uint_eq(entry.cr3, BOOT_PML4_ADDR);
	ck_assert_uint_eq(entry.cs, BOOT_CS);
	ck_assert_uint_eq(entry.ds, BOOT_DS);
	ck_assert_uint_eq(entry.gdt_base, BOOT_GDT_ADDR);
	ck_assert_uint_eq(entry.gdt_limit, 31);
	ck_assert_uint_eq(entry.kernel_start, PREF_ADDR);
	ck_assert_uint_eq(entry.kernel_end, PREF_ADDR + INIT_SIZE);
	ck_assert_uint_eq(rd(BOOT_GDT_ADDR + BOOT_CS, 8), 0x00af9b000000ffffULL);
	ck_assert_uint_eq(rd(BOOT_GDT_ADDR + BOOT_DS, 8), 0x00cf93000000ffffULL);

	/* Protected-mode code loaded at pref_address; setup code left out. */
	p = guest_mem_map(&gm, PREF_ADDR, KERNEL_BYTES, false);
	ck_assert_mem_eq(p, img + setup_size, KERNEL_BYTES);

	/* Setup header copied, then our loader fields. */
	ck_assert_uint_eq(bp(HDR_MAGIC, 4), 0x53726448);	/* "HdrS" */
	ck_assert_uint_eq(bp(HDR_VERSION, 2), 0x020f);
	ck_assert_uint_eq(bp(HDR_VID_MODE, 2), 0xffff);
	ck_assert_uint_eq(bp(HDR_BOOT_FLAG, 2), 0xaa55);
	ck_assert_uint_eq(bp(HDR_INIT_SIZE, 4), INIT_SIZE);
	ck_assert_uint_eq(bp(HDR_XLOADFLAGS, 2), 3);
	ck_assert_uint_eq(bp(HDR_TYPE_OF_LOADER, 1), 0xff);
	ck_assert_uint_eq(bp(HDR_LOADFLAGS, 1), 0x81);	/* LOADED_HIGH | CAN_USE_HEAP */
	ck_assert_uint_eq(bp(HDR_CODE32_START, 4), PREF_ADDR);
	ck_assert_uint_eq(bp(HDR_CMD_LINE_PTR, 4), BOOT_CMDLINE_ADDR);
	ck_assert_uint_eq(bp(HDR_SETUP_DATA, 8), 0);
	ck_assert_uint_eq(bp(HDR_END, 1), 0);		/* not 0x77 */
	ck_assert_uint_eq(bp(BP_SENTINEL, 1), 0);
	ck_assert_uint_eq(bp(BP_EXT_CMD_LINE_PTR, 4), 0);
	ck_assert_uint_eq(bp(BP_EXT_RAMDISK_IMAGE, 4), 0);
	ck_assert_uint_eq(bp(BP_EXT_RAMDISK_SIZE, 4), 0);
	ck_assert_int_eq(guest_mem_read(&gm, BOOT_CMDLINE_ADDR, cmd, 20), 0);
	ck_assert_str_eq(cmd, "console=ttyS0 quiet");

	/* initrd: page-aligned at the top of RAM, copied. */
	ck_assert_uint_eq(bp(HDR_RAMDISK_IMAGE, 4), (256 * MiB - sizeof(initrd)) & ~0xfffULL);
	ck_assert_uint_eq(bp(HDR_RAMDISK_SIZE, 4), sizeof(initrd));
	ck_assert_uint_eq(entry.initrd_addr, bp(HDR_RAMDISK_IMAGE, 4));
	ck_assert_mem_eq(guest_mem_map(&gm, entry.initrd_addr, sizeof(initrd), false),
			 initrd, sizeof(initrd));

	/* e820 table in the zero page is the e820 map. */
	e820_build(&gm, &map);
	ck_assert_uint_eq(bp(BP_E820_ENTRIES, 1), map.nr);
	ck_assert_int_eq(map.nr, 4);
	for (i = 0; i < map.nr; i++) {
		ck_assert_uint_eq(bp(BP_E820_TABLE + i * 20, 8), map.e[i].addr);
		ck_assert_uint_eq(bp(BP_E820_TABLE + i * 20 + 8, 8), map.e[i].size);
		ck_assert_uint_eq(bp(BP_E820_TABLE + i * 20 + 16, 4), map.e[i].type);
	}
	ck_assert_uint_eq(bp(BP_E820_TABLE + 3 * 20, 8), MiB);
	ck_assert_uint_eq(bp(BP_E820_TABLE + 3 * 20 + 8, 8), 255 * MiB);

	/* Identity map: PML4 → PDPT → 4 PDs of 2 MiB pages. */
	ck_assert_uint_eq(rd(BOOT_PML4_ADDR, 8), BOOT_PDPT_ADDR | 3);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(rd(BOOT_PDPT_ADDR + i * 8, 8),
				  (BOOT_PD_ADDR + i * 0x1000) | 3);
	ck_assert_uint_eq(rd(BOOT_PD_ADDR, 8), 0x83);
	ck_assert_uint_eq(rd(BOOT_PD_ADDR + 8 * 8, 8), (16 * MiB) | 0x83);
	ck_assert_uint_eq(rd(BOOT_PD_ADDR + 2 * 0x1000 + 3 * 8, 8),
			  (2048 * MiB + 6 * MiB) | 0x83);
}
END_TEST

START_TEST(test_no_initrd_and_empty_cmdline)
{
	ck_assert_int_eq(load(NULL, 0, NULL), 0);
	ck_assert_uint_eq(bp(HDR_RAMDISK_IMAGE, 4), 0);
	ck_assert_uint_eq(bp(HDR_RAMDISK_SIZE, 4), 0);
	ck_assert_uint_eq(rd(BOOT_CMDLINE_ADDR, 1), 0);
}
END_TEST

START_TEST(test_pref_address_does_not_fit)
{
	/* 20 MiB: the kernel would decompress to 16 MiB and need 8 MiB there. */
	guest_mem_exit(&gm);
	mem_setup(20 * MiB);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "needs 8 MiB (init_size 8388608 bytes) from 16 MiB"));
	ck_assert_ptr_nonnull(strstr(err, "ends at 20 MiB"));
}
END_TEST

START_TEST(test_no_pref_address_loads_at_1m)
{
	guest_mem_exit(&gm);
	mem_setup(20 * MiB);
	put64(HDR_PREF_ADDRESS, 0);
	ck_assert_int_eq(load(NULL, 0, NULL), 0);
	ck_assert_uint_eq(entry.rip, 0x100000 + 0x200);
	ck_assert_uint_eq(bp(HDR_CODE32_START, 4), 0x100000);
	ck_assert_mem_eq(guest_mem_map(&gm, 0x100000, KERNEL_BYTES, false),
			 img + setup_size, KERNEL_BYTES);
}
END_TEST

START_TEST(test_init_size_too_big)
{
	put32(HDR_INIT_SIZE, 300 * MiB);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "needs 300 MiB"));
	ck_assert_ptr_nonnull(strstr(err, "from 16 MiB"));
	ck_assert_ptr_nonnull(strstr(err, "ends at 256 MiB"));
}
END_TEST

START_TEST(test_bad_magic)
{
	memcpy(img + HDR_MAGIC, "HdrX", 4);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "HdrS"));
	{
		/* Detection refuses it as well. */
		struct boot_image bi = { .kernel = img, .kernel_size = img_size };

		ck_assert_int_eq(boot_load_image(&gm, &bi, &entry, err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "neither"));
	}
}
END_TEST

START_TEST(test_old_protocol)
{
	put16(HDR_VERSION, 0x0204);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "2.04 is too old"));
	/* 2.10 has no xloadflags, hence no 64-bit entry. */
	put16(HDR_VERSION, 0x020a);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "no 64-bit entry"));
}
END_TEST

START_TEST(test_no_kernel64)
{
	put16(HDR_XLOADFLAGS, 0x2);
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "XLF_KERNEL_64"));
}
END_TEST

START_TEST(test_zimage_rejected)
{
	img[HDR_LOADFLAGS] = 0;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "LOADED_HIGH"));
}
END_TEST

START_TEST(test_setup_sects_zero_means_four)
{
	build_bzimage(0);
	ck_assert_uint_eq(setup_size, 5 * 512);
	ck_assert_int_eq(load(NULL, 0, NULL), 0);
	ck_assert_mem_eq(guest_mem_map(&gm, PREF_ADDR, KERNEL_BYTES, false),
			 img + setup_size, KERNEL_BYTES);
}
END_TEST

START_TEST(test_large_setup)
{
	build_bzimage(30);
	ck_assert_int_eq(load(NULL, 0, NULL), 0);
	ck_assert_mem_eq(guest_mem_map(&gm, PREF_ADDR, KERNEL_BYTES, false),
			 img + 31 * 512, KERNEL_BYTES);
}
END_TEST

START_TEST(test_truncated)
{
	static const size_t sizes[] = { 0, 0x100, 0x203, 0x207, 0x208, 0x400 };
	size_t i, full = img_size;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		img_size = sizes[i];
		ck_assert_int_eq(load(NULL, 0, NULL), -1);
		ck_assert_ptr_nonnull(strstr(err, "bzImage"));
	}
	/* Setup code present, no protected-mode kernel after it. */
	img_size = setup_size;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "truncated"));
	img_size = full;
}
END_TEST

START_TEST(test_header_length_from_jump)
{
	/* A hostile jump byte may not make us copy past the header area. */
	img[HDR_JUMP + 1] = 0xff;
	ck_assert_int_eq(load(NULL, 0, NULL), 0);
	ck_assert_uint_eq(bp(0x290, 4), 0);
	ck_assert_uint_eq(bp(HDR_END, 1), 0x77);	/* inside the header area: copied */
	/* Too short to hold init_size. */
	img[HDR_JUMP + 1] = 0x50;
	ck_assert_int_eq(load(NULL, 0, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "too short"));
}
END_TEST

START_TEST(test_cmdline_size_respected)
{
	put32(HDR_CMDLINE_SIZE, 16);
	ck_assert_int_eq(load(NULL, 0, "0123456789abcdef"), 0);
	ck_assert_int_eq(load(NULL, 0, "0123456789abcdefg"), -1);
	ck_assert_ptr_nonnull(strstr(err, "17 bytes, the limit is 16"));
}
END_TEST

START_TEST(test_initrd_addr_max_respected)
{
	static uint8_t initrd[5000];

	put32(HDR_INITRD_ADDR_MAX, 128 * MiB - 1);
	ck_assert_int_eq(load(initrd, sizeof(initrd), NULL), 0);
	ck_assert_uint_eq(entry.initrd_addr, (128 * MiB - sizeof(initrd)) & ~0xfffULL);
	ck_assert_uint_le(entry.initrd_addr + sizeof(initrd), 128 * MiB);
	ck_assert_uint_eq(bp(HDR_RAMDISK_IMAGE, 4), entry.initrd_addr);

	/* Limit below the kernel: nowhere to put it. */
	put32(HDR_INITRD_ADDR_MAX, 20 * MiB);
	ck_assert_int_eq(load(initrd, sizeof(initrd), NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "does not fit"));
}
END_TEST

START_TEST(test_initrd_too_large)
{
	static uint8_t dummy[64];

	ck_assert_int_eq(load(dummy, 240 * MiB, NULL), -1);
	ck_assert_ptr_nonnull(strstr(err, "initrd of 240 MiB"));
	ck_assert_ptr_nonnull(strstr(err, "232 MiB free"));
}
END_TEST

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

START_TEST(test_mutated_headers_never_crash)
{
	int iter, n, ok = 0;

	for (iter = 0; iter < 2000; iter++) {
		struct boot_image bi;
		uint8_t *copy;

		build_bzimage(4);
		for (n = rng() % 4 + 1; n; n--)
			img[0x1f0 + rng() % (HDR_END - 0x1f0)] = rng();
		if (rng() % 4 == 0)
			img_size = rng() % img_size;
		/* Exact-size copy: a sanitizer build catches overreads. */
		copy = malloc(img_size + 1);
		memcpy(copy, img, img_size);
		bi = (struct boot_image){ .kernel = copy, .kernel_size = img_size };
		err[0] = '\0';
		if (boot_load_image(&gm, &bi, &entry, err, sizeof(err)) == 0)
			ok++;
		else
			ck_assert_uint_gt(strlen(err), 0);
		free(copy);
	}
	ck_assert_int_gt(ok, 0);
	ck_assert_int_lt(ok, 2000);
}
END_TEST

/*
 * A distribution kernel, if this machine has one: proves the header
 * parsing on the real thing. VLAB_TEST_BZIMAGE names another file.
 */
START_TEST(test_real_bzimage_if_present)
{
	const char *path = getenv("VLAB_TEST_BZIMAGE");
	struct boot_config bc = { .cmdline = "console=ttyS0", .nr_cpus = 1 };
	glob_t g = { 0 };

	if (!path || !*path) {
		if (glob("/boot/vmlinuz-*", 0, NULL, &g) || !g.gl_pathc) {
			fprintf(stderr, "test_real_bzimage_if_present: no /boot/vmlinuz-*, skipped\n");
			globfree(&g);
			return;
		}
		path = g.gl_pathv[0];
	}
	guest_mem_exit(&gm);
	mem_setup(1024 * MiB);
	bc.kernel_path = path;
	if (boot_load(&gm, &bc, &entry, err, sizeof(err)))
		ck_abort_msg("%s: %s", path, err);
	ck_assert_int_eq(entry.mode, BOOT_MODE_LINUX64);
	ck_assert_uint_eq(entry.rip, entry.kernel_start + 0x200);
	ck_assert_uint_ge(entry.kernel_start, 0x100000);
	ck_assert_uint_eq(bp(HDR_MAGIC, 4), 0x53726448);
	ck_assert_uint_ge(bp(HDR_VERSION, 2), 0x020c);
	ck_assert_uint_eq(bp(HDR_TYPE_OF_LOADER, 1), 0xff);
	ck_assert_uint_gt(bp(BP_E820_ENTRIES, 1), 0);
	globfree(&g);
}
END_TEST

VLAB_SUITE_MAIN("boot_bzimage", "core", setup, teardown, 0,
	test_good_bzimage, test_no_initrd_and_empty_cmdline,
	test_pref_address_does_not_fit, test_no_pref_address_loads_at_1m,
	test_init_size_too_big, test_bad_magic, test_old_protocol, test_no_kernel64,
	test_zimage_rejected, test_setup_sects_zero_means_four, test_large_setup,
	test_truncated, test_header_length_from_jump, test_cmdline_size_respected,
	test_initrd_addr_max_respected, test_initrd_too_large,
	test_mutated_headers_never_crash, test_real_bzimage_if_present);
