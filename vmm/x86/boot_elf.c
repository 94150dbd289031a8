// SPDX-License-Identifier: GPL-2.0
/*
 * ELF kernel loader with the Xen PVH entry (what Linux builds with
 * CONFIG_PVH=y, and what our freestanding test payloads use).
 *
 * The file is untrusted input: every offset and size read from it is
 * checked against the file size before use, with arithmetic arranged so
 * that nothing can overflow, and every guest write goes through the
 * bounds-checked guest memory accessor.
 */
#include <elf.h>
#include <string.h>

#include "vmm/x86/boot.h"

/* Xen public/elfnote.h: the 32-bit protected-mode entry of a PVH kernel. */
#define XEN_ELFNOTE_PHYS32_ENTRY	18
#define XEN_NOTE_NAME			"Xen"

/* Xen public/arch-x86/hvm/start_info.h */
#define HVM_START_MAGIC			0x336ec578
#define HVM_START_VERSION		1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	/* version 1 */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

/* Types are the e820 ones: 1 RAM, 2 reserved, ... */
struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 0x38, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap layout");
_Static_assert(BOOT_INFO_ADDR + sizeof(struct hvm_start_info) <= BOOT_PVH_MODLIST_ADDR,
	       "start_info overlaps the module list");
_Static_assert(BOOT_PVH_MEMMAP_ADDR + E820_MAX * sizeof(struct hvm_memmap_table_entry)
	       <= BOOT_PML4_ADDR, "PVH memory map overlaps the page tables");

/* The class-independent view of the headers we use. */
struct elf_file {
	const uint8_t *data;
	size_t size;
	bool is64;
	uint64_t phoff, shoff;
	unsigned int phentsize, phnum;
	unsigned int shentsize, shnum;
};

struct elf_seg {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz, align;
};

/* Is [off, off + len) inside the file? Written not to overflow. */
static bool elf_in_file(const struct elf_file *ef, uint64_t off, uint64_t len)
{
	return off <= ef->size && len <= ef->size - off;
}


/* Elf32_Ehdr and Elf64_Ehdr differ only in field widths: one check for both. */
#define ELF_READ_EHDR(ehdr_t, phdr_t, machine, bits, arch)			\
	do {									\
		ehdr_t eh;							\
										\
		if (ef->size < sizeof(eh))					\
			return boot_error(err, errlen, "ELF kernel: file of %zu bytes " \
					  "is shorter than the ELF header", ef->size); \
		memcpy(&eh, ef->data, sizeof(eh));				\
		if (eh.e_machine != (machine))					\
			return boot_error(err, errlen, "ELF kernel: " bits	\
					  " ELF for machine %u, not " arch,	\
					  eh.e_machine);			\
		if (eh.e_type != ET_EXEC)					\
			return boot_error(err, errlen, "ELF kernel: type %u is " \
					  "not an executable", eh.e_type);	\
		if (eh.e_phentsize != sizeof(phdr_t))				\
			return boot_error(err, errlen, "ELF kernel: program header " \
					  "size %u, expected %zu", eh.e_phentsize, \
					  sizeof(phdr_t));			\
		ef->phoff = eh.e_phoff;						\
		ef->phentsize = eh.e_phentsize;					\
		ef->phnum = eh.e_phnum;						\
		ef->shoff = eh.e_shoff;						\
		ef->shentsize = eh.e_shentsize;					\
		ef->shnum = eh.e_shnum;						\
	} while (0)

static int elf_parse_header(struct elf_file *ef, char *err, size_t errlen)
{
	const uint8_t *id = ef->data;

	if (ef->size < EI_NIDENT)
		return boot_error(err, errlen, "ELF kernel: file of %zu bytes is truncated",
				  ef->size);
	if (id[EI_CLASS] != ELFCLASS64 && id[EI_CLASS] != ELFCLASS32)
		return boot_error(err, errlen, "ELF kernel: unknown class %u", id[EI_CLASS]);
	if (id[EI_DATA] != ELFDATA2LSB)
		return boot_error(err, errlen, "ELF kernel: not little-endian");
	if (id[EI_VERSION] != EV_CURRENT)
		return boot_error(err, errlen, "ELF kernel: unknown ELF version %u",
				  id[EI_VERSION]);
	ef->is64 = id[EI_CLASS] == ELFCLASS64;

	if (ef->is64)
		ELF_READ_EHDR(Elf64_Ehdr, Elf64_Phdr, EM_X86_64, "64-bit", "x86-64");
	else
		ELF_READ_EHDR(Elf32_Ehdr, Elf32_Phdr, EM_386, "32-bit", "i386");

	/* PN_XNUM moves the real count into section 0; no kernel needs that. */
	if (ef->phnum == 0 || ef->phnum >= PN_XNUM)
		return boot_error(err, errlen, "ELF kernel: %u program headers",
				  ef->phnum);
	if (!elf_in_file(ef, ef->phoff, (uint64_t)ef->phnum * ef->phentsize))
		return boot_error(err, errlen,
				  "ELF kernel: program headers at 0x%llx (%u x %u bytes) lie outside the %zu-byte file",
				  (unsigned long long)ef->phoff, ef->phnum,
				  ef->phentsize, ef->size);
	return 0;
}

static void elf_get_seg(const struct elf_file *ef, unsigned int i, struct elf_seg *s)
{
	const uint8_t *p = ef->data + ef->phoff + (uint64_t)i * ef->phentsize;

	if (ef->is64) {
		Elf64_Phdr ph;

		memcpy(&ph, p, sizeof(ph));
		*s = (struct elf_seg){ ph.p_type, ph.p_offset, ph.p_paddr,
				       ph.p_filesz, ph.p_memsz, ph.p_align };
	} else {
		Elf32_Phdr ph;

		memcpy(&ph, p, sizeof(ph));
		*s = (struct elf_seg){ ph.p_type, ph.p_offset, ph.p_paddr,
				       ph.p_filesz, ph.p_memsz, ph.p_align };
	}
}

static uint64_t note_align(uint64_t n, uint64_t align)
{
	return (n + align - 1) & ~(align - 1);
}

/*
 * Look for the PHYS32_ENTRY note in one note area [off, off + len) of the
 * file. Returns 1 with *@entry set, 0 if absent, -1 (message set) if the
 * area is malformed. @where names the area for messages.
 */
static int elf_scan_notes(const struct elf_file *ef, uint64_t off, uint64_t len,
			  uint64_t align, const char *where, uint64_t *entry,
			  char *err, size_t errlen)
{
	uint64_t pos = 0;

	if (!elf_in_file(ef, off, len)) {
		boot_error(err, errlen,
			   "ELF kernel: %s at 0x%llx (%llu bytes) lies outside the %zu-byte file",
			   where, (unsigned long long)off, (unsigned long long)len,
			   ef->size);
		return -1;
	}
	/* Notes are 4-byte aligned; some 64-bit producers use 8. */
	align = align == 8 ? 8 : 4;

	while (len - pos >= sizeof(Elf32_Nhdr)) {
		const uint8_t *p = ef->data + off + pos;
		uint64_t name_off, desc_off, next;
		Elf32_Nhdr nh;	/* same layout as Elf64_Nhdr: three u32 */

		memcpy(&nh, p, sizeof(nh));
		/* u32 sizes in u64 arithmetic: these sums cannot overflow. */
		name_off = sizeof(nh);
		desc_off = name_off + note_align(nh.n_namesz, align);
		next = desc_off + note_align(nh.n_descsz, align);
		if (desc_off + nh.n_descsz > len - pos) {
			boot_error(err, errlen,
				   "ELF kernel: truncated note in %s (name %u bytes, data %u bytes at offset %llu of %llu)",
				   where, nh.n_namesz, nh.n_descsz,
				   (unsigned long long)pos, (unsigned long long)len);
			return -1;
		}
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY &&
		    nh.n_namesz == sizeof(XEN_NOTE_NAME) &&
		    !memcmp(p + name_off, XEN_NOTE_NAME, sizeof(XEN_NOTE_NAME))) {
			uint32_t v32;

			/* Linux emits a pointer-sized value, others a u32. */
			if (nh.n_descsz == 4) {
				memcpy(&v32, p + desc_off, 4);
				*entry = v32;
			} else if (nh.n_descsz == 8) {
				memcpy(entry, p + desc_off, 8);
			} else {
				boot_error(err, errlen,
					   "ELF kernel: PVH entry note has a %u-byte value, expected 4 or 8",
					   nh.n_descsz);
				return -1;
			}
			return 1;
		}
		if (next >= len - pos)
			break;
		pos += next;
	}
	return 0;
}

static int elf_find_pvh_entry(const struct elf_file *ef, uint64_t *entry,
			      char *err, size_t errlen)
{
	struct elf_seg s;
	unsigned int i;
	int ret;

	for (i = 0; i < ef->phnum; i++) {
		elf_get_seg(ef, i, &s);
		if (s.type != PT_NOTE)
			continue;
		ret = elf_scan_notes(ef, s.offset, s.filesz, s.align,
				     "PT_NOTE segment", entry, err, errlen);
		if (ret)
			return ret;
	}

	/* Stripped program notes: try the section table if there is one. */
	if (!ef->shoff || !ef->shnum)
		return 0;
	if (ef->shentsize != (ef->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)))
		return boot_error(err, errlen,
				  "ELF kernel: section header size %u is wrong",
				  ef->shentsize);
	if (!elf_in_file(ef, ef->shoff, (uint64_t)ef->shnum * ef->shentsize))
		return boot_error(err, errlen,
				  "ELF kernel: section headers at 0x%llx (%u x %u bytes) lie outside the %zu-byte file",
				  (unsigned long long)ef->shoff, ef->shnum,
				  ef->shentsize, ef->size);
	for (i = 0; i < ef->shnum; i++) {
		const uint8_t *p = ef->data + ef->shoff + (uint64_t)i * ef->shentsize;
		uint64_t off, size, align;
		uint32_t type;

		if (ef->is64) {
			Elf64_Shdr sh;

			memcpy(&sh, p, sizeof(sh));
			type = sh.sh_type;
			off = sh.sh_offset;
			size = sh.sh_size;
			align = sh.sh_addralign;
		} else {
			Elf32_Shdr sh;

			memcpy(&sh, p, sizeof(sh));
			type = sh.sh_type;
			off = sh.sh_offset;
			size = sh.sh_size;
			align = sh.sh_addralign;
		}
		if (type != SHT_NOTE)
			continue;
		ret = elf_scan_notes(ef, off, size, align, "SHT_NOTE section",
				     entry, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* Copy the PT_LOAD segments; report the span in low RAM for initrd placement. */
static int elf_load_segments(struct guest_mem *gm, const struct elf_file *ef,
			     struct boot_entry *entry, char *err, size_t errlen)
{
	uint64_t low_end = boot_low_ram_end(gm);
	uint64_t start = UINT64_MAX, end = 0;
	unsigned int i, loaded = 0;
	struct elf_seg s;

	for (i = 0; i < ef->phnum; i++) {
		elf_get_seg(ef, i, &s);
		if (s.type != PT_LOAD || !s.memsz)
			continue;
		if (s.filesz > s.memsz)
			return boot_error(err, errlen,
					  "ELF kernel: segment %u has more file bytes (%llu) than memory bytes (%llu)",
					  i, (unsigned long long)s.filesz,
					  (unsigned long long)s.memsz);
		if (!elf_in_file(ef, s.offset, s.filesz))
			return boot_error(err, errlen,
					  "ELF kernel: segment %u data at 0x%llx (%llu bytes) lies outside the %zu-byte file",
					  i, (unsigned long long)s.offset,
					  (unsigned long long)s.filesz, ef->size);
		if (s.memsz > UINT64_MAX - s.paddr)
			return boot_error(err, errlen,
					  "ELF kernel: segment %u wraps around the address space", i);
		/* The boot structures and the MP table live below 1 MiB. */
		if (s.paddr < BOOT_HIGH_MEM)
			return boot_error(err, errlen,
					  "ELF kernel: segment %u at 0x%llx overlaps the boot area below 1 MiB",
					  i, (unsigned long long)s.paddr);
		if (!guest_mem_is_ram(gm, s.paddr, s.memsz))
			return boot_error(err, errlen,
					  "ELF kernel: segment %u [0x%llx, 0x%llx) is outside guest RAM (%llu MiB, low RAM ends at 0x%llx)",
					  i, (unsigned long long)s.paddr,
					  (unsigned long long)(s.paddr + s.memsz),
					  (unsigned long long)(gm->ram_size >> 20),
					  (unsigned long long)low_end);
		if (guest_mem_write(gm, s.paddr, ef->data + s.offset, s.filesz) ||
		    guest_mem_fill(gm, s.paddr + s.filesz, 0, s.memsz - s.filesz))
			return boot_error(err, errlen,
					  "ELF kernel: cannot write segment %u", i);
		if (s.paddr < low_end) {
			if (s.paddr < start)
				start = s.paddr;
			if (s.paddr + s.memsz > end)
				end = s.paddr + s.memsz;
		}
		loaded++;
	}
	if (!loaded)
		return boot_error(err, errlen, "ELF kernel: no loadable segments");
	entry->kernel_start = start == UINT64_MAX ? 0 : start;
	entry->kernel_end = end;
	return 0;
}

/* Is @addr inside a loaded segment's file bytes? */
static bool elf_addr_loaded(const struct elf_file *ef, uint64_t addr)
{
	struct elf_seg s;
	unsigned int i;

	for (i = 0; i < ef->phnum; i++) {
		elf_get_seg(ef, i, &s);
		if (s.type == PT_LOAD && addr >= s.paddr &&
		    addr - s.paddr < s.filesz)
			return true;
	}
	return false;
}

static int pvh_write_start_info(struct guest_mem *gm, const struct boot_entry *entry,
				char *err, size_t errlen)
{
	struct hvm_memmap_table_entry mm[E820_MAX];
	struct hvm_modlist_entry mod;
	struct hvm_start_info si;
	struct e820_map map;
	int i;

	e820_build(gm, &map);
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < map.nr; i++) {
		mm[i].addr = map.e[i].addr;
		mm[i].size = map.e[i].size;
		mm[i].type = map.e[i].type;
	}

	memset(&si, 0, sizeof(si));
	si.magic = HVM_START_MAGIC;
	si.version = HVM_START_VERSION;
	si.cmdline_paddr = BOOT_CMDLINE_ADDR;
	si.memmap_paddr = BOOT_PVH_MEMMAP_ADDR;
	si.memmap_entries = map.nr;
	if (entry->initrd_size) {
		memset(&mod, 0, sizeof(mod));
		mod.paddr = entry->initrd_addr;
		mod.size = entry->initrd_size;
		si.nr_modules = 1;
		si.modlist_paddr = BOOT_PVH_MODLIST_ADDR;
		if (guest_mem_write(gm, BOOT_PVH_MODLIST_ADDR, &mod, sizeof(mod)))
			goto fault;
	}
	if (guest_mem_write(gm, BOOT_PVH_MEMMAP_ADDR, mm, map.nr * sizeof(mm[0])) ||
	    guest_mem_write(gm, BOOT_INFO_ADDR, &si, sizeof(si)))
		goto fault;
	return 0;
fault:
	return boot_error(err, errlen, "guest RAM does not cover the PVH start info");
}

int boot_load_elf(struct guest_mem *gm, const struct boot_image *img,
		  struct boot_entry *entry, char *err, size_t errlen)
{
	struct elf_file ef = { .data = img->kernel, .size = img->kernel_size };
	uint64_t pvh_entry = 0;
	int ret;

	memset(entry, 0, sizeof(*entry));
	if (elf_parse_header(&ef, err, errlen))
		return -1;
	/* Find the entry before touching guest memory: the common failure. */
	ret = elf_find_pvh_entry(&ef, &pvh_entry, err, errlen);
	if (ret < 0)
		return -1;
	if (!ret)
		return boot_error(err, errlen,
				  "kernel has no PVH entry note; build with CONFIG_PVH=y or use a bzImage");
	if (pvh_entry >= GM_HOLE_END)
		return boot_error(err, errlen,
				  "ELF kernel: PVH entry 0x%llx is above 4 GiB",
				  (unsigned long long)pvh_entry);
	if (!elf_addr_loaded(&ef, pvh_entry))
		return boot_error(err, errlen,
				  "ELF kernel: PVH entry 0x%llx is not inside a loaded segment",
				  (unsigned long long)pvh_entry);

	if (elf_load_segments(gm, &ef, entry, err, errlen) ||
	    boot_write_cmdline(gm, img->cmdline, BOOT_CMDLINE_MAX - 1, err, errlen) ||
	    boot_place_initrd(gm, img, entry->kernel_end, GM_HOLE_END,
			      &entry->initrd_addr, err, errlen))
		return -1;
	entry->initrd_size = img->initrd ? img->initrd_size : 0;
	if (pvh_write_start_info(gm, entry, err, errlen) ||
	    boot_write_gdt(gm, false, entry, err, errlen))
		return -1;

	entry->mode = BOOT_MODE_PVH32;
	entry->rip = pvh_entry;
	entry->rbx = BOOT_INFO_ADDR;
	return 0;
}
