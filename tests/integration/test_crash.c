// SPDX-License-Identifier: GPL-2.0
/*
 * What vlab does when the guest itself is broken: a kernel whose first
 * instruction faults with no IDT triple-faults, and vlab must end with
 * status 1 and a register dump, not hang or exit 0. Bad kernels and
 * options end with status 2 and one clear message.
 */
#include <elf.h>

#include "check_main.h"
#include "integration/vlab_run.h"

#define LOAD_ADDR	0x100000

/* A minimal ELF64 with a PVH note whose entry is @code. */
static void write_elf(const char *path, const uint8_t *code, size_t code_len)
{
	struct {
		Elf64_Ehdr eh;
		Elf64_Phdr ph[2];
		struct {
			Elf64_Nhdr nh;
			char name[4];
			uint32_t entry;
		} note;
		uint8_t code[64];
	} img;
	FILE *f;

	memset(&img, 0, sizeof(img));
	memcpy(img.eh.e_ident, ELFMAG, SELFMAG);
	img.eh.e_ident[EI_CLASS] = ELFCLASS64;
	img.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	img.eh.e_ident[EI_VERSION] = EV_CURRENT;
	img.eh.e_type = ET_EXEC;
	img.eh.e_machine = EM_X86_64;
	img.eh.e_version = EV_CURRENT;
	img.eh.e_entry = LOAD_ADDR;
	img.eh.e_phoff = offsetof(typeof(img), ph);
	img.eh.e_ehsize = sizeof(img.eh);
	img.eh.e_phentsize = sizeof(Elf64_Phdr);
	img.eh.e_phnum = 2;
	img.ph[0].p_type = PT_LOAD;
	img.ph[0].p_offset = offsetof(typeof(img), code);
	img.ph[0].p_vaddr = img.ph[0].p_paddr = LOAD_ADDR;
	img.ph[0].p_filesz = img.ph[0].p_memsz = sizeof(img.code);
	img.ph[0].p_flags = PF_R | PF_X;
	img.ph[1].p_type = PT_NOTE;
	img.ph[1].p_offset = offsetof(typeof(img), note);
	img.ph[1].p_filesz = sizeof(img.note);
	img.note.nh.n_namesz = 4;
	img.note.nh.n_descsz = 4;
	img.note.nh.n_type = 18;	/* XEN_ELFNOTE_PHYS32_ENTRY */
	memcpy(img.note.name, "Xen", 4);
	img.note.entry = LOAD_ADDR;
	memcpy(img.code, code, code_len);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(&img, sizeof(img), 1, f), 1);
	fclose(f);
}

START_TEST(test_triple_fault_exits_1_with_dump)
{
	static const uint8_t ud2[] = { 0x0f, 0x0b };
	char path[] = "/tmp/vlab-crash-XXXXXX";
	struct vlab_result r;
	const char *skip = vlab_skip_reason();
	int fd;

	if (skip) {
		printf("SKIP: %s\n", skip);
		return;
	}
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	write_elf(path, ud2, sizeof(ud2));
	{
		const char *args[] = { "--kernel", path, "--mem", "32M", NULL };

		ck_assert_int_eq(vlab_run(&r, 30, args), 0);
	}
	unlink(path);
	vlab_result_dump(&r, "triple fault");
	ck_assert(!r.timed_out);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.output, "triple fault"));
	ck_assert_ptr_nonnull(strstr(r.output, "rip"));
	vlab_result_free(&r);
}
END_TEST

/* A guest kernel panic reported through pvpanic ends vlab with status 1. */
START_TEST(test_pvpanic_exits_1)
{
	char kernel[512];
	struct vlab_result r;
	const char *skip = vlab_skip_reason();

	if (skip) {
		printf("SKIP: %s\n", skip);
		return;
	}
	vlab_build_path(kernel, sizeof(kernel), "payloads/panic.elf");
	{
		const char *args[] = { "--kernel", kernel, "--mem", "32M", NULL };

		ck_assert_int_eq(vlab_run(&r, 30, args), 0);
	}
	vlab_result_dump(&r, "pvpanic");
	ck_assert(!r.timed_out);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.output, "vlab: guest kernel panicked (pvpanic)"));
	ck_assert_ptr_null(strstr(r.output, "triple fault"));
	vlab_result_free(&r);
}
END_TEST

START_TEST(test_bad_kernel_exits_2)
{
	char path[] = "/tmp/vlab-badkernel-XXXXXX";
	struct vlab_result r;
	const char *skip = vlab_skip_reason();
	int fd;

	if (skip) {
		printf("SKIP: %s\n", skip);
		return;
	}
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "not a kernel at all", 19), 19);
	close(fd);
	{
		const char *args[] = { "--kernel", path, "--mem", "32M", NULL };

		ck_assert_int_eq(vlab_run(&r, 30, args), 0);
	}
	unlink(path);
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.output, "vlab:"));
	vlab_result_free(&r);
	{
		const char *args[] = { "--kernel", "/nonexistent/vmlinux", NULL };

		ck_assert_int_eq(vlab_run(&r, 30, args), 0);
	}
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.output, "/nonexistent/vmlinux"));
	vlab_result_free(&r);
	{
		const char *args[] = { "--kernel", "x", "--mem", "lots", NULL };

		ck_assert_int_eq(vlab_run(&r, 30, args), 0);
	}
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.output, "--mem"));
	vlab_result_free(&r);
}
END_TEST

VLAB_SUITE_MAIN("crash", "guest", NULL, NULL, 120,
	test_triple_fault_exits_1_with_dump, test_pvpanic_exits_1,
	test_bad_kernel_exits_2);
