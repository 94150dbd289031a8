// SPDX-License-Identifier: GPL-2.0
/*
 * hello: the smallest payload. Proves the kit works end to end: PVH
 * entry, long mode, the drop to CPL3 with IOPL=3 (it prints through port
 * I/O), the boot information, and the exit port.
 */
#include "payload.h"

PAYLOAD_NAME("hello");

int payload_main(void)
{
	uint16_t cs = read_cs();
	unsigned int iopl = (read_rflags() >> 12) & 3;
	const struct hvm_memmap_table_entry *map;
	unsigned int i, nr;

	printf("hello from CPL3\n");
	printf("hello: cs 0x%x cpl %u iopl %u\n", cs, cs & 3, iopl);
	printf("hello: cmdline \"%s\"\n", payload_cmdline());
	if (payload_arg("probe"))	/* lets a test check payload_arg() */
		printf("hello: arg probe=%s (%lu)\n", payload_arg("probe"),
		       payload_arg_u64("probe", 0));

	map = payload_memmap(&nr);
	for (i = 0; i < nr; i++)
		printf("hello: memmap %u: 0x%016lx-0x%016lx type %u\n", i,
		       map[i].addr, map[i].addr + map[i].size - 1, map[i].type);
	printf("hello: ram %lu MiB, image end 0x%lx, tsc %lu kHz\n",
	       payload_ram_size() >> 20, payload_image_end(),
	       payload_tsc_khz());
	printf("hello: %lu port I/O instructions so far finished by the #GP handler\n",
	       payload_pio_emulated());

	/* The whole point of the kit: test bodies run at native speed. */
	if ((cs & 3) != 3) {
		printf("hello: running at CPL%u, not CPL3\n", cs & 3);
		return 1;
	}
	if (!payload_start_info())
		return 2;
	if (!nr || !payload_ram_size())
		return 3;
	return 0;
}
