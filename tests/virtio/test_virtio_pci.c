// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-pci saved state, on a fake VM (buses, event loop, PCI host; no
 * KVM): a virtio-net function's transport, common and device state round
 * trip, and corrupt values at each level are refused with the function
 * unchanged.
 */
#include <check.h>
#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "fake_vm.h"
#include "devices/net/virtio_net.h"
#include "state_test.h"
#include "virtio_dev_test.h"
#include "virtio/virtio_pci.h"
#include "virtio/vdrv_guest.h"
#include "vmm/core/vm.h"
#include "vmm/core/worker.h"

#define MEM_SIZE	(1 << 20)

static struct fake_vm fv;
static struct virtio_dev *vdev;

static void setup(void)
{
	struct net_config nc = { .backend = "null", .queue_pairs = 1 };
	char err[256];

	fake_vm_init(&fv, MEM_SIZE);
	vdev = virtio_net_new(&fv.vm.mem, &nc, 0, false, err, sizeof(err));
	ck_assert_msg(vdev, "%s", err);
	ck_assert_int_eq(virtio_pci_attach(&fv.vm, vdev), 0);
	/* rx, tx, ctrl and the config vector */
	ck_assert_uint_eq(vdev->nr_vectors, 4);
}

static void teardown(void)
{
	virtio_pci_detach(vdev);
	virtio_net_free(vdev);
	fake_vm_exit(&fv);
}

static int save_vpci(void *dev, struct state_buf *sb)
{
	return virtio_pci_state_save(dev, sb);
}

static int load_vpci(void *dev, const void *fdt, int node, char *err, size_t errlen)
{
	return virtio_pci_state_load(dev, fdt, node, err, errlen);
}

START_TEST(state_roundtrip)
{
	state_test_roundtrip(save_vpci, load_vpci, vdev);
}
END_TEST

/* Patch @prop of node @path (u32, or byte @byte of a blob to @val). */
static void refused(const char *path, const char *prop, int byte, uint32_t val, const char *msg)
{
	struct state_buf good, sb, after;
	char err[256] = "";

	state_test_save(&good, save_vpci, vdev);
	state_test_save(&sb, save_vpci, vdev);
	if (byte < 0) {
		state_test_patch(&sb, path, prop, val);
	} else {
		int len;
		uint8_t *p = (uint8_t *)fdt_getprop(sb.fdt, state_test_node(&sb, path), prop, &len);

		ck_assert_ptr_nonnull(p);
		ck_assert_int_lt(byte, len);
		p[byte] = val;
	}
	ck_assert_int_eq(load_vpci(vdev, sb.fdt, state_test_node(&sb, "/dev"), err,
				   sizeof(err)), -1);
	ck_assert_msg(strstr(err, msg), "%s: \"%s\" lacks \"%s\"", prop, err, msg);
	state_test_save(&after, save_vpci, vdev);
	ck_assert_msg(state_test_same(&good, &after), "%s changed the function", prop);
	state_buf_free(&good);
	state_buf_free(&sb);
	state_buf_free(&after);
}

START_TEST(state_corrupt_refused)
{
	refused("/dev", "msix-entries", -1, 5,
		"virtio-net: the source has 5 MSI-X vectors, this vlab 4");
	refused("/dev", "isr", -1, 4, "virtio-net: isr 0x4 has bits other than");
	/* Vector 4 does not exist: its pending bit cannot be set. */
	refused("/dev", "msix-pba", 0, 0x10, "virtio-net: msix-pba: vector 4 pending");
	refused("/dev/virtio/queue@0", "vector", -1, 4,
		"virtio-net: queue 0: vector 4, the transport has 4 vectors");
	refused("/dev/virtio", "config-vector", -1, 9, "virtio-net: config-vector 9");
	refused("/dev/virtio/queue@2", "pending", -1, 1,
		"virtio-net: queue 2: pending: unflushed entries on a disabled queue");
	refused("/dev/device/net", "version", -1, 3,
		"virtio-net: /dev/device/net: version 3 is newer than this vlab understands (2)");
}
END_TEST

/* Good common state, bad device state: the common part is not kept either. */
START_TEST(state_device_refusal_undoes_common)
{
	struct state_buf good, sb, after;
	char err[256] = "";

	state_test_save(&good, save_vpci, vdev);
	state_test_save(&sb, save_vpci, vdev);
	state_test_patch(&sb, "/dev/virtio", "config-generation", 77);
	state_test_patch(&sb, "/dev/virtio", "queue-select", 2);
	state_test_patch(&sb, "/dev/device/net", "version", 9);
	ck_assert_int_eq(load_vpci(vdev, sb.fdt, state_test_node(&sb, "/dev"), err,
				   sizeof(err)), -1);
	ck_assert_str_eq(err, "virtio-net: /dev/device/net: version 9 is newer than this vlab "
			 "understands (2)");
	ck_assert_uint_eq(vdev->config_generation, 0);
	state_test_save(&after, save_vpci, vdev);
	ck_assert(state_test_same(&good, &after));
	state_buf_free(&good);
	state_buf_free(&sb);
	state_buf_free(&after);
}
END_TEST

/*
 * Random corruption of the queue and common fields of a function with
 * enabled rings and unflushed work; whatever loads must then be safe to
 * run (build with -fsanitize=address to see it). The fuzz targets go
 * further; this keeps the checks honest in every build.
 */
static void bring_up_rings(uint64_t ring_features, struct vdrv *drv)
{
	uint64_t f = (1ULL << VIRTIO_F_VERSION_1) | ring_features;
	static struct virtq_elem elem;
	uint16_t q;

	pthread_mutex_lock(&vdev->lock);
	vdev->driver_feature_select = 0;
	virtio_dev_write_driver_features(vdev, (uint32_t)f);
	vdev->driver_feature_select = 1;
	virtio_dev_write_driver_features(vdev, f >> 32);
	virtio_dev_set_status_locked(vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	pthread_mutex_unlock(&vdev->lock);
	for (q = 0; q < 2; q++) {
		ck_assert_int_eq(vdrv_init(&drv[q], &fv.vm.mem, 0x10000 + 0x20000 * q, 16, f), 0);
		ck_assert(vdrv_enable_on(&drv[q], vdev, q));
	}
	/* Queue 1: three buffers taken, two filled and not flushed. */
	for (q = 0; q < 3; q++) {
		struct vdrv_buf b = { 0x80000 + 256 * q, 64 };

		ck_assert_int_ge(vdrv_add(&drv[1], &b, 0, 1, false, q), 0);
	}
	vdrv_publish(&drv[1]);
	for (q = 0; q < 3; q++) {
		ck_assert_int_eq(virtq_pop(&vdev->vqs[1], &elem), 1);
		if (q < 2)
			virtq_fill(&vdev->vqs[1], &elem, 64);
	}
}

static void run_queues(void)
{
	static struct virtq_elem elem;
	uint16_t q;
	int n;

	for (q = 0; q < vdev->nr_queues; q++) {
		struct virtq *vq = &vdev->vqs[q];

		virtq_flush(vq);
		virtq_should_notify(vq);
		virtq_avail_count(vq);
		virtq_enable_notify(vq);
		virtq_disable_notify(vq);
		for (n = 0; n < 4 && virtq_pop(vq, &elem) > 0; n++)
			virtq_push(vq, &elem, 1);
		virtq_flush(vq);
	}
}

START_TEST(state_random_corruption)
{
	static const char *const nodes[] = {
		"/dev/virtio", "/dev/virtio/queue@0", "/dev/virtio/queue@1", "/dev/virtio/queue@2",
	};
	unsigned int seed = 15, i, loaded = 0;
	struct state_buf good;
	struct vdrv drv[2];
	char err[256];

	memset(drv, 0, sizeof(drv));
	for (i = 0; i < 3000; i++) {
		struct state_buf sb;
		int node, prop, k, nprops = 0, len;
		const char *name;
		uint64_t val;

		if (i % 500 == 0) {
			/* Every layout in turn, from a fresh device. */
			static const uint64_t layouts[] = {
				0, VDRV_F(VIRTIO_F_RING_PACKED), VDRV_F(VIRTIO_F_IN_ORDER),
				VDRV_F(VIRTIO_F_RING_PACKED) | VDRV_F(VIRTIO_F_IN_ORDER) |
				VDRV_F(VIRTIO_RING_F_EVENT_IDX),
				VDRV_F(VIRTIO_RING_F_EVENT_IDX) | VDRV_F(VIRTIO_RING_F_INDIRECT_DESC),
				VDRV_F(VIRTIO_F_RING_PACKED) | VDRV_F(VIRTIO_RING_F_INDIRECT_DESC),
			};

			if (i)
				state_buf_free(&good);
			virtio_dev_set_status(vdev, 0);
			vdrv_exit(&drv[0]);
			vdrv_exit(&drv[1]);
			bring_up_rings(layouts[i / 500], drv);
			state_test_save(&good, save_vpci, vdev);
		}
		ck_assert_int_eq(load_vpci(vdev, good.fdt, state_test_node(&good, "/dev"), err,
					   sizeof(err)), 0);
		state_test_save(&sb, save_vpci, vdev);
		node = state_test_node(&sb, nodes[rand_r(&seed) % 4]);
		fdt_for_each_property_offset(prop, sb.fdt, node)
			nprops++;
		k = rand_r(&seed) % nprops;
		fdt_for_each_property_offset(prop, sb.fdt, node)
			if (!k--)
				break;
		fdt_getprop_by_offset(sb.fdt, prop, &name, &len);
		switch (rand_r(&seed) % 6) {
		case 0: val = 0; break;
		case 1: val = 1; break;
		case 2: val = 15 + rand_r(&seed) % 3; break;
		case 3: val = 0xffff; break;
		case 4: val = 1ULL << (rand_r(&seed) % 64); break;
		default: val = (uint64_t)rand_r(&seed) << 32 | rand_r(&seed); break;
		}
		if (len == 4)
			val &= rand_r(&seed) % 2 ? 0xff : 0xffffffff;
		if (len == 4 || len == 8) {
			char path[64];

			ck_assert_int_eq(fdt_get_path(sb.fdt, node, path, sizeof(path)), 0);
			state_test_patch(&sb, path, name, val);
		}
		if (!load_vpci(vdev, sb.fdt, state_test_node(&sb, "/dev"), err, sizeof(err))) {
			loaded++;
			run_queues();
		}
		state_buf_free(&sb);
	}
	state_buf_free(&good);
	vdrv_exit(&drv[0]);
	vdrv_exit(&drv[1]);
	/* Harmless values load too: the check is not simply "refuse all". */
	ck_assert_uint_gt(loaded, 100);
}
END_TEST

/* ---- doorbells ---- */

/* A device whose queue 1 is serviced by its own worker, queue 0 by the event loop. */
struct bell {
	struct virtio_dev vdev;
	struct worker worker;
	pthread_t notified_on[2];
	int notified[2];	/* atomic */
	int irq_changes;
};

static struct worker *bell_queue_worker(struct virtio_dev *vdev, uint16_t q)
{
	struct bell *b = vdev->priv;

	return q == 1 ? &b->worker : NULL;
}

static void bell_queue_notify(struct virtio_dev *vdev, uint16_t q)
{
	struct bell *b = vdev->priv;

	b->notified_on[q] = pthread_self();
	__atomic_add_fetch(&b->notified[q], 1, __ATOMIC_RELEASE);
}

static void bell_run(struct worker *w, uint32_t kicked, void *opaque)
{
}

static const struct virtio_dev_ops bell_ops = {
	.name = "bell",
	.device_id = 42,
	.pci_class = 0xff0000,
	.queue_worker = bell_queue_worker,
	.queue_notify = bell_queue_notify,
};

static int slot_of(const char *name)
{
	int slot;

	for (slot = 0; slot < PCI_MAX_DEVICES; slot++)
		if (fv.host.devs[slot] && !strcmp(fv.host.devs[slot]->name, name))
			break;
	ck_assert_int_lt(slot, PCI_MAX_DEVICES);
	return slot;
}

/* BAR @bar (0 or 2, both 64-bit) of the function called @name, with memory decoding on. */
static uint64_t map_bar(const char *name, int bar)
{
	uint32_t reg = PCI_BASE_ADDRESS_0 + 4 * bar;
	int slot = slot_of(name);
	uint64_t addr;

	pci_cfg_write(&fv.host, 0, slot, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	addr = pci_cfg_read(&fv.host, 0, slot, 0, reg, 4);
	if ((addr & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64)
		addr |= (uint64_t)pci_cfg_read(&fv.host, 0, slot, 0, reg + 4, 4) << 32;
	return addr & PCI_BASE_ADDRESS_MEM_MASK;
}

static uint64_t map_bar0(const char *name)
{
	return map_bar(name, 0);
}

/*
 * A doorbell of a queue the device gave a worker runs on that worker, with
 * nobody running the main event loop; one without stays on the event loop.
 * The notify writes take the MMIO-exit path (no KVM here), which feeds the
 * same eventfds the ioeventfds would.
 */
START_TEST(doorbell_goes_to_queue_worker)
{
	struct bell b;
	uint64_t bar0;
	uint16_t q;
	int i;

	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(worker_init(&b.worker, "bell", bell_run, &b), 0);
	ck_assert_int_eq(worker_start(&b.worker), 0);
	ck_assert_int_eq(virtio_dev_init(&b.vdev, &bell_ops, &b, &fv.vm.mem, 2, 64), 0);
	ck_assert_int_eq(virtio_pci_attach(&fv.vm, &b.vdev), 0);
	bar0 = map_bar0("bell");

	virtio_dev_test_features_ok(&b.vdev, 1ULL << VIRTIO_F_VERSION_1);
	virtio_dev_test_driver_ok(&b.vdev);

	for (q = 0; q < 2; q++)
		ck_assert(io_bus_access(&fv.vm.mmio, bar0 + VPCI_NOTIFY_OFF + q * VPCI_NOTIFY_MULT,
					&q, 2, true));
	/* Generous: only a stalled machine takes more than a few microseconds. */
	for (i = 0; i < 60000 && !__atomic_load_n(&b.notified[1], __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	ck_assert_int_eq(__atomic_load_n(&b.notified[1], __ATOMIC_ACQUIRE), 1);
	ck_assert(pthread_equal(b.notified_on[1], b.worker.thread));
	/* Both eventfds were ready together: queue 0 went to the idle main loop. */
	ck_assert_int_eq(__atomic_load_n(&b.notified[0], __ATOMIC_ACQUIRE), 0);

	worker_stop(&b.worker);
	virtio_pci_detach(&b.vdev);
	virtio_dev_exit(&b.vdev);
	worker_exit(&b.worker);
}
END_TEST

static void bell_irq_changed(struct virtio_dev *vdev)
{
	((struct bell *)vdev->priv)->irq_changes++;
}

static const struct virtio_dev_ops bell_irq_ops = {
	.name = "bell",
	.device_id = 42,
	.pci_class = 0xff0000,
	.irq_changed = bell_irq_changed,
};

static void mmio_write(uint64_t addr, uint32_t val, int len)
{
	ck_assert(io_bus_access(&fv.vm.mmio, addr, &val, len, true));
}

/*
 * A device that hands its interrupts to someone else (a vDPA device's
 * call fd) asks the transport for the queue's irqfd: there only while
 * MSI-X is on and the queue's vector unmasked, and it is told each time
 * that changes (vector written, MSI-X switched on, entry masked or
 * unmasked), and not otherwise.
 */
START_TEST(irqfd_follows_vector_and_mask)
{
	const struct virtio_transport_ops *t;
	uint64_t bar0, bar2;
	uint8_t msix = 0;
	struct bell b;
	int slot, fd;

	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(virtio_dev_init(&b.vdev, &bell_irq_ops, &b, &fv.vm.mem, 2, 64), 0);
	ck_assert_int_eq(virtio_pci_attach(&fv.vm, &b.vdev), 0);
	t = b.vdev.transport;
	bar0 = map_bar0("bell");
	bar2 = map_bar("bell", 2);
	slot = slot_of("bell");
	for (msix = pci_cfg_read(&fv.host, 0, slot, 0, PCI_CAPABILITY_LIST, 1); msix;
	     msix = pci_cfg_read(&fv.host, 0, slot, 0, msix + 1, 1))
		if (pci_cfg_read(&fv.host, 0, slot, 0, msix, 1) == PCI_CAP_ID_MSIX)
			break;
	ck_assert_uint_ne(msix, 0);
	ck_assert_int_eq(t->queue_irqfd(&b.vdev, 0), -1);

	/* Queue 0 on vector 1: told, but MSI-X is still off. */
	mmio_write(bar0 + VPCI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_SELECT, 0, 2);
	mmio_write(bar0 + VPCI_COMMON_OFF + VIRTIO_PCI_COMMON_Q_MSIX, 1, 2);
	ck_assert_int_eq(b.irq_changes, 1);
	ck_assert_int_eq(t->queue_irqfd(&b.vdev, 0), -1);
	pci_cfg_write(&fv.host, 0, slot, 0, msix + PCI_MSIX_FLAGS, 2, PCI_MSIX_FLAGS_ENABLE);
	ck_assert_int_eq(b.irq_changes, 2);
	/* Entries start masked (PCI 6.8.2.9). */
	ck_assert_int_eq(t->queue_irqfd(&b.vdev, 0), -1);
	mmio_write(bar2 + VPCI_MSIX_TABLE_OFF + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
	ck_assert_int_eq(b.irq_changes, 3);
	fd = t->queue_irqfd(&b.vdev, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(t->queue_irqfd(&b.vdev, 1), -1);	/* no vector */

	/* Masked again, then unmasked: the same irqfd comes back. */
	mmio_write(bar2 + VPCI_MSIX_TABLE_OFF + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 1, 4);
	ck_assert_int_eq(b.irq_changes, 4);
	ck_assert_int_eq(t->queue_irqfd(&b.vdev, 0), -1);
	mmio_write(bar2 + VPCI_MSIX_TABLE_OFF + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
	ck_assert_int_eq(b.irq_changes, 5);
	ck_assert_int_eq(t->queue_irqfd(&b.vdev, 0), fd);
	/* Its address rewritten, or the same mask written again: no change to tell. */
	mmio_write(bar2 + VPCI_MSIX_TABLE_OFF + 16 + PCI_MSIX_ENTRY_LOWER_ADDR, 0xfee00000, 4);
	mmio_write(bar2 + VPCI_MSIX_TABLE_OFF + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
	ck_assert_int_eq(b.irq_changes, 5);
	/* The whole function masked. */
	pci_cfg_write(&fv.host, 0, slot, 0, msix + PCI_MSIX_FLAGS, 2,
		      PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	ck_assert_int_eq(b.irq_changes, 6);
	ck_assert_int_eq(t->queue_irqfd(&b.vdev, 0), -1);

	virtio_pci_detach(&b.vdev);
	virtio_dev_exit(&b.vdev);
}
END_TEST

static Suite *virtio_pci_suite(void)
{
	Suite *s = suite_create("virtio_pci");

	vlab_tcase(s, "state", setup, teardown, 0, VLAB_TESTS(
		state_roundtrip, state_corrupt_refused,
		state_device_refusal_undoes_common, state_random_corruption));

	vlab_tcase(s, "doorbells", setup, teardown, 90, VLAB_TESTS(
		doorbell_goes_to_queue_worker, irqfd_follows_vector_and_mask));
	return s;
}

VLAB_TEST_MAIN(virtio_pci_suite)
