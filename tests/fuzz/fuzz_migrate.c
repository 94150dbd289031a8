// SPDX-License-Identifier: GPL-2.0
/*
 * The destination's stream reader: the input is a migration stream or
 * snapshot file (header, then records: configuration, RAM runs with page
 * checksums, zero ranges, state, end), read into a VM shell with 1 MiB of
 * RAM and no devices. Record checksums are checked before anything is
 * used, so most mutants stop there; the seeds (FUZZ_MAKE_SEEDS=DIR) are
 * streams the source side's own record writer made, which is what lets
 * the fuzzer reach past the checksums with real payloads.
 */
#include <sys/mman.h>

#include "fuzz.h"
#include "vmm/migrate/migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm vm;
	static struct vm_config cfg;
	static int fd = -1;
	char err[256];

	if (fd < 0) {
		fuzz_vm_init(&vm, &cfg, 1 << 20);
		fd = memfd_create("fuzz-stream", MFD_CLOEXEC);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET))
		abort();
	migrate_receive_fd(&vm, fd, err, sizeof(err));
	return 0;
}
