// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel loaders: the input is a kernel image (ELF with a PVH note, or
 * a bzImage; the loader decides), its last 64 bytes doubling as an initrd
 * when the first byte is odd. Everything is placed in 32 MiB of guest RAM
 * that is not cleared between inputs (clearing it would cost more than
 * the load); ASan watches for any write outside it.
 */
#include "fuzz.h"
#include "vmm/x86/boot.h"

#define RAM	(32u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem gm;
	static uint8_t *ram;
	struct boot_image img = { .kernel = data, .kernel_size = size,
				  .cmdline = "console=ttyS0 fuzz=1" };
	struct boot_entry entry;
	char err[256];

	if (!ram) {
		ram = aligned_alloc(GM_PAGE_SIZE, RAM);
		if (!ram || guest_mem_init_buffer(&gm, ram, RAM))
			abort();
	}
	if (size > 64 && (data[0] & 1)) {
		img.initrd = data + size - 64;
		img.initrd_size = 64;
	}
	boot_load_image(&gm, &img, &entry, err, sizeof(err));
	return 0;
}
