// SPDX-License-Identifier: GPL-2.0
/*
 * The destination's stream reader: the input is a migration stream or
 * snapshot file (header, then records: configuration, RAM runs with page
 * checksums, zero ranges, early device state, state, end; or a local
 * migration's memory layout), read into a VM shell with 1 MiB of
 * RAM and no devices. Record checksums are checked before anything is
 * used, so most mutants stop there; the seeds (FUZZ_MAKE_SEEDS=DIR) are
 * streams the source side's own record writer made, which is what lets
 * the fuzzer reach past the checksums with real payloads.
 */
#include <sys/mman.h>

#include "fuzz.h"
#include "vmm/migrate/internal.h"
#include "vmm/migrate/migrate.h"
#include "vmm/migrate/state.h"

#define SEED_PAGES	1	/* a RAM record with its page fits the 8 KiB inputs */

/* Pre-copy's records: an early state, a round marker, @pages RAM pages at 0x1000, a zero range. */
static void send_precopy_records(struct migration *m, uint8_t *host, uint64_t pages)
{
	struct state_buf sb;

	/* An early state naming a device this VM has not: read and left. */
	if (state_buf_init(&sb))
		abort();
	state_begin_node(&sb, "devices", 1);
	state_begin_node(&sb, "virtio@1", 1);
	state_end_node(&sb);
	state_end_node(&sb);
	if (state_buf_finish(&sb) ||
	    mig_send(m, MIG_REC_EARLY, 0, state_blob(&sb), state_blob_size(&sb), true))
		abort();
	state_buf_free(&sb);
	if (mig_send(m, MIG_REC_ROUND, 0, NULL, 0, false) ||
	    (pages && mig_send_ram(m, 0x1000, host, pages)) ||
	    mig_send(m, MIG_REC_ZERO, 0x4000, NULL, 0x2000, false))
		abort();
}

/*
 * A stream as the source writes it, through its own record writer: the
 * header, the configuration (@with_config), an early state, a round marker, @pages RAM
 * pages at 0x1000, a zero range, a state tree with an empty "devices" node
 * (no KVM here to save vCPUs), the end marker. @local: a local migration's
 * (version 4), with the memory layout in place of the early state and the
 * pages; its fds cannot come through a file, so the reader refuses it
 * there, once it has parsed the layout.
 */
static void make_stream(struct vm *vm, const char *dir, const char *name, bool with_config,
			uint64_t pages, bool local)
{
	struct migration m = { .vm = vm, .pipe = { -1, -1 } };
	/* struct mig_mem_layout: nr_regions 1 (and reserved 0), then the region. */
	uint64_t layout[3] = { 1, vm->mem.regions[0].gpa, vm->mem.regions[0].size };
	uint64_t sums[SEED_PAGES];
	char hdr[16] = MIG_MAGIC;
	uint32_t ver = local ? MIG_VERSION_LOCAL : MIG_VERSION;
	struct iovec iov = { hdr, sizeof(hdr) };
	struct state_buf sb;
	uint8_t *host;
	off_t len;
	void *p;

	m.fd = memfd_create("fuzz-seed", MFD_CLOEXEC);
	m.page_sums = sums;
	host = guest_mem_map(&vm->mem, 0x1000, pages * GM_PAGE_SIZE, false);
	if (m.fd < 0 || !host)
		abort();
	memset(host, 0x5a, pages * GM_PAGE_SIZE);
	memcpy(hdr + 8, &ver, 4);
	if (mig_write_full(m.fd, &iov, 1))
		abort();
	if (with_config) {
		if (state_buf_init(&sb) || mig_config_save(vm, &sb) || state_buf_finish(&sb) ||
		    mig_send(&m, MIG_REC_CONFIG, 0, state_blob(&sb), state_blob_size(&sb), true))
			abort();
		state_buf_free(&sb);
	}
	if (!local)
		send_precopy_records(&m, host, pages);
	else if (mig_send(&m, MIG_REC_MEMORY, 0, layout, sizeof(layout), true))
		abort();
	if (state_buf_init(&sb))
		abort();
	state_begin_node(&sb, "devices", 1);
	state_end_node(&sb);
	if (state_buf_finish(&sb) ||
	    mig_send(&m, MIG_REC_STATE, 0, state_blob(&sb), state_blob_size(&sb), true) ||
	    mig_send(&m, MIG_REC_END, 0, NULL, 0, false))
		abort();
	state_buf_free(&sb);
	len = lseek(m.fd, 0, SEEK_END);
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, m.fd, 0);
	if (p == MAP_FAILED)
		abort();
	fuzz_write_seed(dir, name, p, len);
	munmap(p, len);
	close(m.fd);
	memset(host, 0, pages * GM_PAGE_SIZE);
}

static struct vm vm;
static struct vm_config cfg;
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *seeds = getenv("FUZZ_MAKE_SEEDS");

	fuzz_vm_init(&vm, &cfg, 1 << 20);
	fd = memfd_create("fuzz-stream", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (!seeds)
		return 0;
	make_stream(&vm, seeds, "stream", true, SEED_PAGES, false);
	make_stream(&vm, seeds, "stream-no-config", false, SEED_PAGES, false);
	make_stream(&vm, seeds, "stream-no-ram", true, 0, false);
	make_stream(&vm, seeds, "stream-local", true, 0, true);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];

	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET))
		abort();
	migrate_receive_fd(&vm, fd, err, sizeof(err));
	return 0;
}
