// SPDX-License-Identifier: GPL-2.0
/*
 * bzImage loader through the Linux x86 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst): the real-mode setup code is never
 * run; we fill the zero page ourselves and enter startup_64 in long mode.
 *
 * Offsets below are byte offsets into both the image and struct
 * boot_params, since the setup header sits at the same place in each.
 */
#include <string.h>

#include "vmm/x86/boot.h"

/* struct boot_params */
#define BP_SIZE			0x1000
#define BP_EXT_RAMDISK_IMAGE	0x0c0
#define BP_EXT_RAMDISK_SIZE	0x0c4
#define BP_EXT_CMD_LINE_PTR	0x0c8
#define BP_E820_ENTRIES		0x1e8
#define BP_HDR			0x1f1	/* struct setup_header */
#define BP_HDR_AREA_END		0x290	/* where the header's padding ends */
#define BP_E820_TABLE		0x2d0
#define BP_E820_MAX		128

/* struct setup_header, as offsets from the start of the image */
#define HDR_SETUP_SECTS		0x1f1
#define HDR_JUMP		0x200	/* 2-byte jump; its second byte sizes the header */
#define HDR_MAGIC		0x202
#define HDR_VERSION		0x206
#define HDR_TYPE_OF_LOADER	0x210
#define HDR_LOADFLAGS		0x211
#define HDR_CODE32_START	0x214
#define HDR_RAMDISK_IMAGE	0x218
#define HDR_RAMDISK_SIZE	0x21c
#define HDR_HEAP_END_PTR	0x224
#define HDR_CMD_LINE_PTR	0x228
#define HDR_INITRD_ADDR_MAX	0x22c
#define HDR_XLOADFLAGS		0x236
#define HDR_CMDLINE_SIZE	0x238
#define HDR_SETUP_DATA		0x250
#define HDR_PREF_ADDRESS	0x258
#define HDR_INIT_SIZE		0x260
#define HDR_END_MIN		0x264	/* through init_size: protocol 2.10+ */

#define LOADFLAG_LOADED_HIGH	0x01
#define LOADFLAG_CAN_USE_HEAP	0x80
#define XLF_KERNEL_64		0x01

#define BOOT_PROTO_MIN		0x0206	/* cmdline_size */
#define BOOT_PROTO_XLOADFLAGS	0x020c	/* xloadflags and the 64-bit entry */
#define SECTOR_SIZE		512
#define STARTUP_64_OFFSET	0x200
#define TYPE_OF_LOADER_UNKNOWN	0xff
/* Setup heap end as boot.rst suggests; unused on the 64-bit entry. */
#define SETUP_HEAP_END		0xe000

struct boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct boot_e820_entry) == 20, "boot_e820_entry layout");
_Static_assert(BP_E820_TABLE + BP_E820_MAX * sizeof(struct boot_e820_entry) <= BP_SIZE,
	       "e820 table outside boot_params");
_Static_assert(E820_MAX <= BP_E820_MAX, "e820 map larger than the zero page table");
_Static_assert(BOOT_INFO_ADDR + BP_SIZE <= BOOT_PML4_ADDR,
	       "boot_params overlaps the page tables");

/* Little-endian field readers and writers on a byte buffer. */
static uint16_t get16(const uint8_t *p, size_t off)
{
	return p[off] | (uint16_t)p[off + 1] << 8;
}

static uint32_t get32(const uint8_t *p, size_t off)
{
	return get16(p, off) | (uint32_t)get16(p, off + 2) << 16;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
	return get32(p, off) | (uint64_t)get32(p, off + 4) << 32;
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	p[off] = v;
	p[off + 1] = v >> 8;
	p[off + 2] = v >> 16;
	p[off + 3] = v >> 24;
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = v;
	p[off + 1] = v >> 8;
}

/* Where the protected-mode kernel goes and how much room it needs there. */
struct bz_layout {
	size_t setup_size;		/* bytes of real-mode code to skip */
	size_t hdr_end;			/* end of the setup header in the image */
	uint64_t load_addr;
	uint64_t run_size;		/* max(init_size, bytes loaded) */
	uint32_t cmdline_max;
	uint64_t initrd_limit;		/* exclusive */
};

static int bz_check_header(const uint8_t *k, size_t size, struct bz_layout *l,
			   char *err, size_t errlen)
{
	unsigned int setup_sects;
	uint16_t version;

	if (size < HDR_VERSION + 2 || memcmp(k + HDR_MAGIC, "HdrS", 4))
		return boot_error(err, errlen,
				  "bzImage: no \"HdrS\" setup header magic at 0x%x", HDR_MAGIC);
	version = get16(k, HDR_VERSION);
	if (version < BOOT_PROTO_MIN)
		return boot_error(err, errlen,
				  "bzImage: boot protocol %u.%02u is too old (need 2.06 or later)",
				  version >> 8, version & 0xff);
	/* xloadflags only exists from 2.12; before it there is no 64-bit entry. */
	if (version < BOOT_PROTO_XLOADFLAGS)
		return boot_error(err, errlen,
				  "bzImage: boot protocol %u.%02u has no 64-bit entry (need 2.12 or later)",
				  version >> 8, version & 0xff);

	setup_sects = k[HDR_SETUP_SECTS];
	if (!setup_sects)
		setup_sects = 4;	/* boot.rst: 0 means 4 */
	l->setup_size = (size_t)(setup_sects + 1) * SECTOR_SIZE;
	/* The header's length is given by the jump at its start. */
	l->hdr_end = HDR_MAGIC + k[HDR_JUMP + 1];
	if (l->hdr_end > BP_HDR_AREA_END)
		l->hdr_end = BP_HDR_AREA_END;
	if (l->hdr_end < HDR_END_MIN)
		return boot_error(err, errlen,
				  "bzImage: setup header ends at 0x%zx, too short for protocol %u.%02u",
				  l->hdr_end, version >> 8, version & 0xff);
	if (l->setup_size < l->hdr_end || size <= l->setup_size)
		return boot_error(err, errlen,
				  "bzImage: %zu-byte file is truncated (setup code alone is %zu bytes)",
				  size, l->setup_size);
	if (!(get16(k, HDR_XLOADFLAGS) & XLF_KERNEL_64))
		return boot_error(err, errlen,
				  "bzImage: kernel has no 64-bit entry (XLF_KERNEL_64 clear); vlab boots 64-bit kernels only");
	if (!(k[HDR_LOADFLAGS] & LOADFLAG_LOADED_HIGH))
		return boot_error(err, errlen,
				  "bzImage: kernel is a zImage (LOADED_HIGH clear), not supported");
	return 0;
}

static int bz_choose_layout(struct guest_mem *gm, const uint8_t *k, size_t size,
			    struct bz_layout *l, char *err, size_t errlen)
{
	uint64_t low_end = boot_low_ram_end(gm);
	uint64_t pref = get64(k, HDR_PREF_ADDRESS);
	uint64_t init_size = get32(k, HDR_INIT_SIZE);
	uint64_t kernel_bytes = size - l->setup_size;

	l->run_size = init_size > kernel_bytes ? init_size : kernel_bytes;

	/*
	 * Load at pref_address: a non-relocatable kernel moves itself there,
	 * and a relocatable 64-bit one decompresses to no lower than
	 * LOAD_PHYSICAL_ADDR (which pref_address reports) wherever it was
	 * put. Either way it needs init_size bytes from pref_address, so
	 * loading lower would only defer the failure into the guest.
	 */
	l->load_addr = pref >= BOOT_HIGH_MEM ? pref : BOOT_HIGH_MEM;
	if (l->load_addr >= low_end || l->run_size > low_end - l->load_addr)
		return boot_error(err, errlen,
				  "bzImage: kernel needs %llu MiB (init_size %llu bytes) from %llu MiB, but guest low RAM ends at %llu MiB; give the guest more memory",
				  (unsigned long long)((l->run_size + (1 << 20) - 1) >> 20),
				  (unsigned long long)init_size,
				  (unsigned long long)(l->load_addr >> 20),
				  (unsigned long long)(low_end >> 20));

	/* cmdline_size excludes the NUL; our buffer bounds it too. */
	l->cmdline_max = get32(k, HDR_CMDLINE_SIZE);
	/* initrd_addr_max is the highest byte the initrd may occupy. */
	l->initrd_limit = (uint64_t)get32(k, HDR_INITRD_ADDR_MAX) + 1;
	return 0;
}

static int bz_write_boot_params(struct guest_mem *gm, const uint8_t *k,
				const struct bz_layout *l,
				const struct boot_entry *entry,
				char *err, size_t errlen)
{
	struct boot_e820_entry table[E820_MAX];
	uint8_t bp[BP_SIZE];
	struct e820_map map;
	int i;

	memset(bp, 0, sizeof(bp));
	memcpy(bp + BP_HDR, k + BP_HDR, l->hdr_end - BP_HDR);

	bp[HDR_TYPE_OF_LOADER] = TYPE_OF_LOADER_UNKNOWN;
	bp[HDR_LOADFLAGS] |= LOADFLAG_CAN_USE_HEAP;
	put16(bp, HDR_HEAP_END_PTR, SETUP_HEAP_END - 0x200);
	put32(bp, HDR_CODE32_START, l->load_addr);
	put32(bp, HDR_CMD_LINE_PTR, BOOT_CMDLINE_ADDR);
	put32(bp, HDR_RAMDISK_IMAGE, entry->initrd_addr);
	put32(bp, HDR_RAMDISK_SIZE, entry->initrd_size);
	/* Everything we place is below 4 GiB: the high halves stay zero. */
	put32(bp, BP_EXT_RAMDISK_IMAGE, 0);
	put32(bp, BP_EXT_RAMDISK_SIZE, 0);
	put32(bp, BP_EXT_CMD_LINE_PTR, 0);
	/* No setup_data chain: the image's value is meaningless to us. */
	memset(bp + HDR_SETUP_DATA, 0, 8);

	e820_build(gm, &map);
	for (i = 0; i < map.nr; i++) {
		table[i].addr = map.e[i].addr;
		table[i].size = map.e[i].size;
		table[i].type = map.e[i].type;
	}
	bp[BP_E820_ENTRIES] = map.nr;
	memcpy(bp + BP_E820_TABLE, table, map.nr * sizeof(table[0]));

	if (guest_mem_write(gm, BOOT_INFO_ADDR, bp, sizeof(bp)))
		return boot_error(err, errlen, "guest RAM does not cover boot_params");
	return 0;
}

int boot_load_bzimage(struct guest_mem *gm, const struct boot_image *img,
		      struct boot_entry *entry, char *err, size_t errlen)
{
	const uint8_t *k = img->kernel;
	size_t size = img->kernel_size;
	struct bz_layout l;

	memset(entry, 0, sizeof(*entry));
	if (bz_check_header(k, size, &l, err, errlen) ||
	    bz_choose_layout(gm, k, size, &l, err, errlen))
		return -1;

	if (guest_mem_write(gm, l.load_addr, k + l.setup_size, size - l.setup_size))
		return boot_error(err, errlen, "bzImage: cannot write the kernel at 0x%llx",
				  (unsigned long long)l.load_addr);
	entry->kernel_start = l.load_addr;
	entry->kernel_end = l.load_addr + l.run_size;

	if (boot_write_cmdline(gm, img->cmdline, l.cmdline_max, err, errlen) ||
	    boot_place_initrd(gm, img, entry->kernel_end, l.initrd_limit,
			      &entry->initrd_addr, err, errlen))
		return -1;
	entry->initrd_size = img->initrd ? img->initrd_size : 0;

	if (bz_write_boot_params(gm, k, &l, entry, err, errlen) ||
	    boot_write_page_tables(gm, err, errlen) ||
	    boot_write_gdt(gm, true, entry, err, errlen))
		return -1;

	entry->mode = BOOT_MODE_LINUX64;
	entry->rip = l.load_addr + STARTUP_64_OFFSET;
	entry->rsi = BOOT_INFO_ADDR;
	entry->cr3 = BOOT_PML4_ADDR;
	return 0;
}
