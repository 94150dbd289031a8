// SPDX-License-Identifier: GPL-2.0
/*
 * Device kinds create and destroy their instances at run time on a VM
 * without KVM: virtio-net NICs with running workers come and go in a loop,
 * in and out of creation order, and the failures on the way up (backend,
 * full PCI bus) leave nothing behind. Counts file descriptors and threads
 * here; `make test SANITIZE=1` adds ASan and LeakSanitizer to the same
 * loop.
 */
#include <check.h>
#include <dirent.h>
#include <linux/virtio_net.h>

#include "check_main.h"
#include "devices/net/net_state.h"
#include "devices/net/virtio_net.h"
#include "fake_vm.h"
#include "virtio_dev_test.h"
#include "vmm/core/device.h"

#define MEM_SIZE	(1 << 20)
#define ROUNDS		100

static struct fake_vm fv;

static void setup(void)
{
	fake_vm_init(&fv, MEM_SIZE);
}

static void teardown(void)
{
	fake_vm_exit(&fv);
}

static int count_entries(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int pci_functions(void)
{
	int i, n = 0;

	for (i = 0; i < PCI_MAX_DEVICES; i++)
		n += fv.host.devs[i] != NULL;
	return n;
}

static void *create_nic(int index, const char *backend, char *err, size_t errlen)
{
	struct net_config nc = { .queue_pairs = 2, .mtu = 1500 };

	snprintf(nc.backend, sizeof(nc.backend), "%s", backend);
	return device_create(&fv.vm, &virtio_net_kind, &nc, index, err, errlen);
}

/* Up to DRIVER_OK: both pairs' workers run (with no queue enabled yet). */
static void drive(struct virtio_dev *vdev)
{
	virtio_dev_test_features_ok(vdev, (1ULL << VIRTIO_F_VERSION_1) |
				    (1ULL << VIRTIO_NET_F_MQ) | (1ULL << VIRTIO_NET_F_CTRL_VQ));
	virtio_dev_test_driver_ok(vdev);
}

START_TEST(create_destroy_loop)
{
	int fds = count_entries("/proc/self/fd"), threads = count_entries("/proc/self/task");
	int functions = pci_functions(), i;
	char err[256];

	for (i = 0; i < ROUNDS; i++) {
		void *a = create_nic(0, "loop", err, sizeof(err));
		void *b;

		ck_assert_msg(a, "%s", err);
		b = create_nic(1, "null", err, sizeof(err));
		ck_assert_msg(b, "%s", err);
		ck_assert_int_eq(fv.vm.nr_devices, 2);
		ck_assert_int_eq(pci_functions(), functions + 2);
		drive(a);
		if (i & 1)
			drive(b);
		ck_assert_int_ge(count_entries("/proc/self/task"), threads + 2);
		/* Every other round the older one goes first. */
		device_destroy(&fv.vm, i & 1 ? a : b);
		ck_assert_int_eq(fv.vm.nr_devices, 1);
		ck_assert_ptr_eq(fv.vm.devices[0].dev, i & 1 ? b : a);
		device_destroy(&fv.vm, i & 1 ? b : a);
		ck_assert_int_eq(fv.vm.nr_devices, 0);
	}
	ck_assert_int_eq(pci_functions(), functions);
	ck_assert_int_eq(count_entries("/proc/self/fd"), fds);
	ck_assert_int_eq(count_entries("/proc/self/task"), threads);
	ck_assert_ptr_null(fv.vm.dev_states);
}
END_TEST

START_TEST(failed_create_leaves_nothing)
{
	int fds = count_entries("/proc/self/fd"), functions = pci_functions(), i;
	struct pci_device fill[PCI_MAX_DEVICES];
	char err[256] = "";

	/* The backend fails: after the device's own set-up, before the transport. */
	ck_assert_ptr_null(create_nic(0, "hub=/proc/no-such-dir/hub", err, sizeof(err)));
	ck_assert_msg(strstr(err, "hub=/proc/no-such-dir/hub"), "%s", err);
	ck_assert_int_eq(count_entries("/proc/self/fd"), fds);

	/* The transport fails: no PCI slot left. */
	for (i = 0; pci_functions() < PCI_MAX_DEVICES; i++) {
		pci_device_init(&fill[i], "filler", 0x1af4, 0x1000, 0xff0000, 0);
		ck_assert_int_gt(pci_register(&fv.host, &fill[i]), 0);
	}
	err[0] = 0;
	ck_assert_ptr_null(create_nic(0, "loop", err, sizeof(err)));
	ck_assert_str_ne(err, "");
	ck_assert_int_eq(fv.vm.nr_devices, 0);
	ck_assert_int_eq(count_entries("/proc/self/fd"), fds);
	ck_assert_ptr_null(fv.vm.dev_states);
	while (i--)
		pci_unregister(&fv.host, &fill[i]);
	ck_assert_int_eq(pci_functions(), functions);
}
END_TEST

VLAB_SUITE_MAIN("device", "lifecycle", setup, teardown, 120,
	create_destroy_loop, failed_create_leaves_nothing);
