// SPDX-License-Identifier: GPL-2.0
/*
 * A local migration's stream (mode=local) at the destination's reader:
 * streams the source's own record writer makes on a unix socket pair,
 * with and without the memfds, into a VM shell with 1 MiB of memfd RAM
 * (and no KVM, so no stream gets past the state): taken, the shell's RAM
 * is the source's memory; refused, it says why.
 */
#include <check.h>
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "vmm/core/vm.h"
#include "vmm/migrate/internal.h"
#include "vmm/migrate/state.h"

#define RAM	(1ULL << 20)

static struct vm vm;
static struct vm_config cfg;

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	cfg.mem_size = RAM;
	cfg.nr_cpus = 1;
	vm.cfg = &cfg;
	vm.kvm_fd = vm.vm_fd = -1;
	pthread_mutex_init(&vm.stop_lock, NULL);
	pthread_mutex_init(&vm.pause_lock, NULL);
	pthread_cond_init(&vm.pause_cond, NULL);
	vm.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(vm.stop_fd, 0);
	ck_assert_int_eq(guest_mem_init_memfd(&vm.mem, RAM), 0);
}

static void teardown(void)
{
	guest_mem_exit(&vm.mem);
	close(vm.stop_fd);
}

/* How a test stream goes wrong (or not). */
enum twist {
	STRAIGHT,		/* as the source sends it */
	NO_FDS,			/* the layout without its fds */
	FDS_ON_STATE,		/* a version 3 stream, the fds with its state */
	WRONG_FD,		/* an eventfd for the memfd */
	WITH_RAM,		/* a RAM record in it too */
};

/*
 * Write a local stream for a source with @src_ram bytes of RAM to @fd,
 * twisted by @how; the source's first page holds @stamp.
 */
static void send_stream(int fd, uint64_t src_ram, enum twist how, uint64_t stamp)
{
	struct migration m = { .vm = &vm, .fd = fd, .pipe = { -1, -1 } };
	struct vm src = { .cfg = &cfg };
	char hdr[16] = MIG_MAGIC;
	uint32_t ver = how == FDS_ON_STATE ? MIG_VERSION : MIG_VERSION_LOCAL;
	struct iovec iov = { hdr, sizeof(hdr) };
	uint64_t sums[1];
	/* struct mig_mem_layout of one region: nr_regions 1, reserved 0; gpa, size */
	uint64_t layout[3] = { 1, 0, 0 };
	struct state_buf sb;
	int efd = eventfd(0, EFD_CLOEXEC), fds[1];

	ck_assert_int_eq(guest_mem_init_memfd(&src.mem, src_ram), 0);
	memcpy(src.mem.regions[0].host, &stamp, sizeof(stamp));
	m.vm = &src;
	m.page_sums = sums;
	memcpy(hdr + 8, &ver, 4);
	ck_assert_int_eq(mig_write_full(fd, &iov, 1), 0);
	switch (how) {
	case NO_FDS:
		/* The layout as the source makes it (one region), but no fds. */
		layout[2] = src_ram;
		ck_assert_int_eq(mig_send(&m, MIG_REC_MEMORY, 0, layout, sizeof(layout), true), 0);
		break;
	case WRONG_FD:
		fds[0] = efd;
		layout[2] = src_ram;
		ck_assert_int_eq(mig_send_fds(&m, MIG_REC_MEMORY, 0, layout, sizeof(layout), true,
					      fds, 1), 0);
		break;
	case FDS_ON_STATE:
		break;
	default:
		ck_assert_int_eq(mig_send_memory(&m), 0);
	}
	if (how == WITH_RAM)
		ck_assert_int_eq(mig_send_ram(&m, 0x1000, src.mem.regions[0].host, 1), 0);
	ck_assert_int_eq(state_buf_init(&sb), 0);
	state_begin_node(&sb, "devices", 1);
	state_end_node(&sb);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
	fds[0] = src.mem.regions[0].fd;
	ck_assert_int_eq(mig_send_fds(&m, MIG_REC_STATE, 0, state_blob(&sb), state_blob_size(&sb),
				      true, fds, how == FDS_ON_STATE ? 1 : 0), 0);
	state_buf_free(&sb);
	ck_assert_int_eq(mig_send(&m, MIG_REC_END, 0, NULL, 0, false), 0);
	/* The source's mapping goes; the memory lives on in the fds in flight. */
	guest_mem_exit(&src.mem);
	close(efd);
}

/* Receive a stream sent as @how; 0, or -1 with the reason in @err. */
static int receive(uint64_t src_ram, enum twist how, uint64_t stamp, char *err, size_t errlen)
{
	int sv[2], ret;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	send_stream(sv[0], src_ram, how, stamp);
	close(sv[0]);
	err[0] = '\0';
	ret = migrate_receive_fd(&vm, sv[1], err, errlen);
	close(sv[1]);
	return ret;
}

START_TEST(local_stream_maps_the_source_memory)
{
	uint64_t stamp = 0x10ca1f00d, got = 0;
	char err[256];

	/* The shell has no KVM state to load: the stream gets as far as the state. */
	ck_assert_int_eq(receive(RAM, STRAIGHT, stamp, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no node \"kvm\""), "refused before the state: %s", err);
	ck_assert_int_eq(guest_mem_read(&vm.mem, 0, &got, sizeof(got)), 0);
	ck_assert_uint_eq(got, stamp);
	/* The memory is the memfd's: its data is what the guest touched. */
	{
		unsigned long bm[RAM / GM_PAGE_SIZE / 64 + 1] = { 0 };

		ck_assert_int_eq(guest_mem_touched(&vm.mem, bm), 0);
		ck_assert_uint_eq(bm[0], 1);
	}
}
END_TEST

static void ck_refused(uint64_t src_ram, enum twist how, const char *why)
{
	char err[256];

	ck_assert_int_eq(receive(src_ram, how, 1, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, why), "refused with \"%s\", want \"%s\"", err, why);
}

START_TEST(local_layout_mismatch)
{
	ck_refused(2 * RAM, STRAIGHT, "memory layout mismatch: the source's RAM region 0 is "
		   "0x0+0x200000, this vlab's 0x0+0x100000");
}
END_TEST

START_TEST(local_stream_without_fds)
{
	ck_refused(RAM, NO_FDS, "a local migration stream without the file descriptors");
}
END_TEST

START_TEST(fds_in_a_plain_stream)
{
	ck_refused(RAM, FDS_ON_STATE, "file descriptors came with a record of type 5");
}
END_TEST

START_TEST(local_fd_not_a_memfd)
{
	ck_refused(RAM, WRONG_FD, "file descriptor for RAM region 0 is not a memfd of 1048576 bytes");
}
END_TEST

START_TEST(local_stream_with_pages)
{
	ck_refused(RAM, WITH_RAM, "RAM pages in a local migration stream");
}
END_TEST

/* A local stream in a file (a snapshot has no fds): refused, not half-loaded. */
START_TEST(local_stream_from_a_file)
{
	int sv[2], fd = memfd_create("stream", MFD_CLOEXEC);
	char buf[4096], err[256];
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	send_stream(sv[0], RAM, STRAIGHT, 1);
	close(sv[0]);
	while ((n = read(sv[1], buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(fd, buf, n), n);
	close(sv[1]);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(migrate_receive_fd(&vm, fd, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "without the file descriptors"), "%s", err);
	close(fd);
}
END_TEST

VLAB_SUITE_MAIN("migrate_local", "stream", setup, teardown, 30,
		local_stream_maps_the_source_memory, local_layout_mismatch,
		local_stream_without_fds, fds_in_a_plain_stream, local_fd_not_a_memfd,
		local_stream_with_pages, local_stream_from_a_file)
