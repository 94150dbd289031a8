// SPDX-License-Identifier: GPL-2.0
/* Common configuration rules of virtio/virtio.c, with a fake device. */
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "virtio/virtio.h"
#include "vmm/migrate/state.h"
#include "virtio/vdrv_guest.h"

#define MEM_SIZE	(1 << 20)

static uint8_t *mem_buf;
static struct guest_mem gm;
static struct virtio_dev vdev;
static int resets, starts, queue_resets, config_signals;
static bool refuse_features;

static uint64_t fake_features(struct virtio_dev *d)
{
	return 1ULL << 5;	/* some device bit */
}

static int fake_set_features(struct virtio_dev *d, uint64_t f)
{
	return refuse_features ? -1 : 0;
}

static int fake_start(struct virtio_dev *d)
{
	starts++;
	return 0;
}

static void fake_reset(struct virtio_dev *d)
{
	resets++;
}

static void fake_queue_reset(struct virtio_dev *d, uint16_t q)
{
	queue_resets++;
}

static void fake_signal_config(struct virtio_dev *d)
{
	config_signals++;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake",
	.device_id = 99,
	.get_features = fake_features,
	.set_features = fake_set_features,
	.start = fake_start,
	.reset = fake_reset,
	.queue_reset = fake_queue_reset,
};

static const struct virtio_transport_ops fake_transport = {
	.signal_config = fake_signal_config,
};

static void setup(void)
{
	mem_buf = calloc(1, MEM_SIZE);
	ck_assert_int_eq(guest_mem_init_buffer(&gm, mem_buf, MEM_SIZE), 0);
	ck_assert_int_eq(virtio_dev_init(&vdev, &fake_ops, NULL, &gm, 2, 64), 0);
	vdev.transport = &fake_transport;
	resets = starts = queue_resets = config_signals = 0;
	refuse_features = false;
}

static void state_teardown(void);

static void teardown(void)
{
	state_teardown();
	virtio_dev_exit(&vdev);
	guest_mem_exit(&gm);
	free(mem_buf);
}

static void write_features(uint64_t f)
{
	vdev.driver_feature_select = 0;
	virtio_dev_write_driver_features(&vdev, (uint32_t)f);
	vdev.driver_feature_select = 1;
	virtio_dev_write_driver_features(&vdev, f >> 32);
}

static const uint64_t v1 = 1ULL << VIRTIO_F_VERSION_1;

START_TEST(test_offers_version_1_and_device_bits)
{
	vdev.device_feature_select = 0;
	ck_assert_uint_eq(virtio_dev_read_device_features(&vdev) & (1u << 5), 1u << 5);
	vdev.device_feature_select = 1;
	ck_assert(virtio_dev_read_device_features(&vdev) & (1u << (VIRTIO_F_VERSION_1 - 32)));
	vdev.device_feature_select = 2;
	ck_assert_uint_eq(virtio_dev_read_device_features(&vdev), 0);
}
END_TEST

START_TEST(test_features_ok_accepted)
{
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	write_features(v1 | (1ULL << 5));
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			      VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert(vdev.status & VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert_uint_eq(vdev.guest_features, v1 | (1ULL << 5));
}
END_TEST

START_TEST(test_features_ok_refused_without_version_1)
{
	write_features(1ULL << 5);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert(!(vdev.status & VIRTIO_CONFIG_S_FEATURES_OK));
}
END_TEST

START_TEST(test_features_ok_refused_for_unoffered_bits)
{
	write_features(v1 | (1ULL << 6));
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert(!(vdev.status & VIRTIO_CONFIG_S_FEATURES_OK));
}
END_TEST

START_TEST(test_features_ok_refused_by_device)
{
	refuse_features = true;
	write_features(v1);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert(!(vdev.status & VIRTIO_CONFIG_S_FEATURES_OK));
}
END_TEST

START_TEST(test_features_frozen_after_features_ok)
{
	write_features(v1);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	write_features(v1 | (1ULL << 5));
	ck_assert_uint_eq(vdev.guest_features, v1);
}
END_TEST

START_TEST(test_driver_ok_needs_features_ok)
{
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_DRIVER_OK);
	ck_assert(!(vdev.status & VIRTIO_CONFIG_S_DRIVER_OK));
	ck_assert_int_eq(starts, 0);
	write_features(v1);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	ck_assert(vdev.status & VIRTIO_CONFIG_S_DRIVER_OK);
	ck_assert_int_eq(starts, 1);
}
END_TEST

START_TEST(test_needs_reset_sticks_until_reset)
{
	write_features(v1);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	virtio_dev_needs_reset(&vdev, "test");
	ck_assert(vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_int_eq(config_signals, 1);
	virtio_dev_needs_reset(&vdev, "again");
	ck_assert_int_eq(config_signals, 1);	/* signalled once */
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	ck_assert(!(vdev.status & VIRTIO_CONFIG_S_DRIVER_OK));
	virtio_dev_set_status(&vdev, 0);
	ck_assert_uint_eq(vdev.status, 0);
	ck_assert_int_eq(resets, 1);
	ck_assert_uint_eq(vdev.guest_features, 0);
}
END_TEST

START_TEST(test_queue_enable_outside_ram_needs_reset)
{
	write_features(v1);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	vdev.queue_select = 0;
	virtio_dev_set_queue_size(&vdev, 64);
	virtio_dev_set_queue_addr(&vdev, 0, false, MEM_SIZE - 16);	/* desc runs off RAM */
	virtio_dev_set_queue_addr(&vdev, 1, false, 0x1000);
	virtio_dev_set_queue_addr(&vdev, 2, false, 0x2000);
	virtio_dev_enable_queue(&vdev);
	ck_assert(!vdev.vqs[0].enabled);
	ck_assert(vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
}
END_TEST

START_TEST(test_queue_enable_and_addr_freeze)
{
	write_features(v1);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	vdev.queue_select = 1;
	virtio_dev_set_queue_size(&vdev, 64);
	virtio_dev_set_queue_addr(&vdev, 0, false, 0x10000);
	virtio_dev_set_queue_addr(&vdev, 1, false, 0x11000);
	virtio_dev_set_queue_addr(&vdev, 2, false, 0x12000);
	virtio_dev_enable_queue(&vdev);
	ck_assert(vdev.vqs[1].enabled);
	virtio_dev_set_queue_addr(&vdev, 0, false, 0x20000);
	ck_assert_uint_eq(virtio_dev_queue_addr(&vdev, 0, false), 0x10000);
	virtio_dev_set_queue_size(&vdev, 32);
	ck_assert_uint_eq(virtio_dev_queue_size(&vdev), 64);
	/* A queue that does not exist reads as size 0. */
	vdev.queue_select = 7;
	ck_assert_uint_eq(virtio_dev_queue_size(&vdev), 0);
}
END_TEST

START_TEST(test_queue_reset_needs_ring_reset)
{
	write_features(v1);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	vdev.queue_select = 0;
	virtio_dev_reset_queue(&vdev);
	ck_assert_int_eq(queue_resets, 0);
	virtio_dev_set_status(&vdev, 0);
	write_features(v1 | (1ULL << VIRTIO_F_RING_RESET));
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	virtio_dev_reset_queue(&vdev);
	ck_assert_int_eq(queue_resets, 1);
	ck_assert(vdev.queue_reset_done[0]);
}
END_TEST

/* ---- saved state: what virtio_dev_state_load() accepts and refuses ---- */

static struct state_buf sb;
static char err[256];

#define RING_DESC	0x10000
#define RING_DRIVER	0x11000
#define RING_DEVICE	0x12000

/* Queue 0 enabled on rings at RING_*, with @ring_features, DRIVER_OK. */
static void bring_up(uint64_t ring_features)
{
	write_features(v1 | ring_features);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			      VIRTIO_CONFIG_S_FEATURES_OK);
	vdev.queue_select = 0;
	virtio_dev_set_queue_size(&vdev, 64);
	virtio_dev_set_queue_addr(&vdev, 0, false, RING_DESC);
	virtio_dev_set_queue_addr(&vdev, 1, false, RING_DRIVER);
	virtio_dev_set_queue_addr(&vdev, 2, false, RING_DEVICE);
	virtio_dev_enable_queue(&vdev);
	ck_assert(vdev.vqs[0].enabled);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
			      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* The device's state as a finished tree in sb, under /virtio. */
static void save_state(void)
{
	state_buf_free(&sb);
	ck_assert_int_eq(state_buf_init(&sb), 0);
	state_begin_node(&sb, "virtio", 1);
	ck_assert_int_eq(virtio_dev_state_save(&vdev, &sb), 0);
	state_end_node(&sb);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
}

static int state_node(const char *path)
{
	int node = fdt_path_offset(sb.fdt, path);

	ck_assert_msg(node >= 0, "%s: %s", path, fdt_strerror(node));
	return node;
}

/* Overwrite a saved property in place (same width as saved). */
static void patch(const char *path, const char *prop, uint64_t val)
{
	int len, node = state_node(path);

	ck_assert_ptr_nonnull(fdt_getprop(sb.fdt, node, prop, &len));
	if (len == 8)
		ck_assert_int_eq(fdt_setprop_inplace_u64(sb.fdt, node, prop, val), 0);
	else
		ck_assert_int_eq(fdt_setprop_inplace_u32(sb.fdt, node, prop, val), 0);
}

static int load_state(void)
{
	err[0] = 0;
	return virtio_dev_state_load(&vdev, sb.fdt, state_node("/virtio"), err, sizeof(err));
}

/* Everything a load could change, to check that a refused one changed nothing. */
struct dev_snapshot {
	struct virtio_dev dev;
	struct virtq vqs[2];
	uint16_t vector[2];
	bool reset_done[2];
};

static void snapshot(struct dev_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->dev = vdev;
	memcpy(s->vqs, vdev.vqs, sizeof(s->vqs));
	memcpy(s->vector, vdev.queue_vector, sizeof(s->vector));
	memcpy(s->reset_done, vdev.queue_reset_done, sizeof(s->reset_done));
}

static void expect_unchanged(const struct dev_snapshot *s)
{
	struct dev_snapshot now;

	snapshot(&now);
	ck_assert_int_eq(memcmp(&now.dev, &s->dev, sizeof(now.dev)), 0);
	ck_assert_int_eq(memcmp(now.vqs, s->vqs, sizeof(now.vqs)), 0);
	ck_assert_int_eq(memcmp(now.vector, s->vector, sizeof(now.vector)), 0);
	ck_assert_int_eq(memcmp(now.reset_done, s->reset_done, sizeof(now.reset_done)), 0);
}

/* Patch one property of the saved state: the load must fail, say @msg, change nothing. */
static void expect_refused(const char *path, const char *prop, uint64_t val, const char *msg)
{
	struct dev_snapshot before;

	save_state();
	patch(path, prop, val);
	snapshot(&before);
	ck_assert_int_eq(load_state(), -1);
	ck_assert_msg(strstr(err, msg), "%s=%llu: message \"%s\" lacks \"%s\"", prop,
		      (unsigned long long)val, err, msg);
	expect_unchanged(&before);
}

static void state_teardown(void)
{
	state_buf_free(&sb);
}

START_TEST(state_bool_refused)
{
	bring_up(0);
	expect_refused("/virtio/queue@0", "enabled", 134,
		       "/virtio/queue@0: \"enabled\" = 134 is not a boolean (0 or 1)");
	expect_refused("/virtio/queue@1", "broken", 2, "is not a boolean");
	expect_refused("/virtio/queue@0", "avail-wrap", 255, "is not a boolean");
	expect_refused("/virtio/queue@0", "reset-done", 7, "is not a boolean");
}
END_TEST

#define F_PACKED	(1ULL << VIRTIO_F_RING_PACKED)
#define F_INORDER	(1ULL << VIRTIO_F_IN_ORDER)
#define F_RESET		(1ULL << VIRTIO_F_RING_RESET)
#define BUF_GPA		0x40000

/*
 * The issue-15 crash: a packed queue restored with more pending entries
 * than its ring made the first flush write descriptors far past it. Each
 * corrupt field is refused with the device, queue and field named, and the
 * device is left as it was.
 */
START_TEST(state_packed_pending_refused)
{
	bring_up(F_PACKED);
	expect_refused("/virtio/queue@0", "pending", 65535,
		       "fake: queue 0: pending: 65535 unflushed and 0 folded entries in a ring of 64");
	expect_refused("/virtio/queue@0", "used-idx", 64,
		       "fake: queue 0: used-idx: 64, not below the size 64");
}
END_TEST

START_TEST(state_corrupt_queue_refused)
{
	static const struct {
		uint64_t features;
		const char *prop;
		uint64_t val;
		const char *msg;
	} bad[] = {
		{ 0, "max-size", 128, "queue 0: max-size: 128, this device offers 64" },
		{ 0, "size", 0, "queue 0: size: 0, not 1..64" },
		{ 0, "size", 65, "queue 0: size: 65, not 1..64" },
		{ 0, "size", 48, "queue 0: size: 48, an enabled split queue's size" },
		{ 0, "features", 1ULL << 5, "queue 0: features: 0x20 are not ring features" },
		{ 0, "features", F_PACKED, "queue 0: features: 0x400000000 on an enabled queue" },
		{ F_PACKED, "features", 0, "queue 0: features: 0x0 on an enabled queue" },
		{ F_PACKED, "last-avail-idx", 64, "queue 0: last-avail-idx: 64, not below" },
		{ F_PACKED, "signalled-used", 100, "queue 0: signalled-used: 100, not below" },
		{ 0, "pending", 65, "queue 0: pending: 65 unflushed" },
		{ 0, "fold-bufs", 1, "queue 0: fold-bufs: 1 buffers in 0 descriptors" },
		{ 0, "fold-descs", 3, "queue 0: fold-bufs: 0 buffers in 3 descriptors" },
		{ 0, "pending-first-len", 9, "queue 0: pending-first-id: a batch head on a split" },
		{ F_INORDER, "fold-id", 64, NULL },	/* fine while nothing is folded */
		{ 0, "vector", 0, "queue 0: vector 0, the transport has 0 vectors" },
		{ 0, "vector", 0x10000, "queue 0: vector 65536" },
		{ 0, "reset-done", 1, "queue 0: reset-done on an enabled queue" },
		{ 0, "desc", MEM_SIZE - 16, "queue 0: rings: ring area not mapped" },
		{ 0, "device", RING_DEVICE + 2, "queue 0: rings: misaligned ring address" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		virtio_dev_set_status(&vdev, 0);
		bring_up(bad[i].features);
		if (!bad[i].msg) {
			save_state();
			patch("/virtio/queue@0", bad[i].prop, bad[i].val);
			ck_assert_msg(!load_state(), "%s", err);
			continue;
		}
		expect_refused("/virtio/queue@0", bad[i].prop, bad[i].val, bad[i].msg);
	}
}
END_TEST

START_TEST(state_corrupt_device_refused)
{
	bring_up(0);
	expect_refused("/virtio", "queues", 3, "fake: the source offered other features or queues");
	expect_refused("/virtio", "host-features", 0, "the source offered other features");
	expect_refused("/virtio", "guest-features", v1 | (1ULL << 50),
		       "fake: guest-features 0x4000000000000 accepted but not offered");
	expect_refused("/virtio", "config-vector", 1, "fake: config-vector 1, the transport has 0");
	expect_refused("/virtio", "status", 0x100, "does not fit in 8 bits");
	/* With MSI-X vectors the transport's count is the limit. */
	vdev.nr_vectors = 3;
	expect_refused("/virtio/queue@1", "vector", 3,
		       "fake: queue 1: vector 3, the transport has 3");
	save_state();
	patch("/virtio/queue@1", "vector", 2);
	patch("/virtio", "config-vector", 0);
	ck_assert_msg(!load_state(), "%s", err);
	ck_assert_uint_eq(vdev.queue_vector[1], 2);
	ck_assert_uint_eq(vdev.config_vector, 0);
}
END_TEST

/* ---- save, load, save, load with work in flight ---- */

static struct vdrv drv;
static struct virtio_dev vdev2;

static void drv_bring_up(uint64_t ring_features)
{
	ck_assert_int_eq(vdrv_init(&drv, &gm, RING_DESC, 64, v1 | ring_features), 0);
	write_features(v1 | ring_features);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	vdev.queue_select = 0;
	virtio_dev_set_queue_size(&vdev, 64);
	virtio_dev_set_queue_addr(&vdev, 0, false, drv.desc_addr);
	virtio_dev_set_queue_addr(&vdev, 1, false, drv.driver_addr);
	virtio_dev_set_queue_addr(&vdev, 2, false, drv.device_addr);
	virtio_dev_enable_queue(&vdev);
	ck_assert(vdev.vqs[0].enabled);
	virtio_dev_set_status(&vdev, VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* @n writable buffers of 64 bytes, cookies 100.., taken by the device. */
static void drv_offer_and_pop(struct virtq_elem *elems, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct vdrv_buf b = { BUF_GPA + 256 * i, 64 };

		ck_assert_int_ge(vdrv_add(&drv, &b, 0, 1, false, 100 + i), 0);
	}
	vdrv_publish(&drv);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(virtq_pop(&vdev.vqs[0], &elems[i]), 1);
}

/*
 * Save the device with what @fill left in flight, load that into a second
 * device, which must save to the same bytes and load again; then the second
 * device's flush hands the driver every buffer with the length filled in.
 */
static void roundtrip_in_flight(uint64_t ring_features, const uint32_t *lens, unsigned int n)
{
	static struct virtq_elem elems[8];
	struct state_buf first;
	unsigned int i;
	uint64_t cookie;
	uint32_t len;

	drv_bring_up(ring_features);
	drv_offer_and_pop(elems, n);
	for (i = 0; i < n; i++)
		virtq_fill(&vdev.vqs[0], &elems[i], lens[i]);
	save_state();
	first = sb;
	memset(&sb, 0, sizeof(sb));

	ck_assert_int_eq(virtio_dev_init(&vdev2, &fake_ops, NULL, &gm, 2, 64), 0);
	ck_assert_msg(!virtio_dev_state_load(&vdev2, first.fdt,
					     fdt_path_offset(first.fdt, "/virtio"), err,
					     sizeof(err)), "%s", err);
	state_buf_init(&sb);
	state_begin_node(&sb, "virtio", 1);
	ck_assert_int_eq(virtio_dev_state_save(&vdev2, &sb), 0);
	state_end_node(&sb);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
	ck_assert(state_blob_size(&sb) == state_blob_size(&first) &&
		  !memcmp(state_blob(&sb), state_blob(&first), state_blob_size(&sb)));
	ck_assert_msg(!virtio_dev_state_load(&vdev2, sb.fdt, fdt_path_offset(sb.fdt, "/virtio"),
					     err, sizeof(err)), "%s", err);
	state_buf_free(&first);

	/* The destination publishes what the source had filled. */
	ck_assert_int_eq(vdrv_get_used(&drv, &cookie, &len), 0);
	virtq_flush(&vdev2.vqs[0]);
	ck_assert(!vdev2.vqs[0].broken);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(vdrv_get_used(&drv, &cookie, &len), 1);
		ck_assert_uint_eq(cookie, 100 + i);
		ck_assert_uint_eq(len, lens[i]);
	}
	ck_assert_int_eq(vdrv_get_used(&drv, &cookie, &len), 0);
	virtio_dev_exit(&vdev2);
	vdrv_exit(&drv);
}

START_TEST(state_roundtrip_split_pending)
{
	roundtrip_in_flight(0, (const uint32_t[]){ 10, 64, 0 }, 3);
}
END_TEST

START_TEST(state_roundtrip_split_in_order_fold)
{
	/* Three full buffers fold into one used entry, not yet written. */
	roundtrip_in_flight(F_INORDER, (const uint32_t[]){ 64, 64, 64 }, 3);
}
END_TEST

START_TEST(state_roundtrip_packed_batch)
{
	roundtrip_in_flight(F_PACKED, (const uint32_t[]){ 7, 64, 1, 33 }, 4);
}
END_TEST

START_TEST(state_roundtrip_packed_in_order)
{
	/* A batch head, a folded run after it, and one partial buffer. */
	roundtrip_in_flight(F_PACKED | F_INORDER, (const uint32_t[]){ 5, 64, 64, 64 }, 4);
}
END_TEST

START_TEST(state_roundtrip_reset_queue)
{
	bring_up(F_RESET);
	vdev.queue_select = 1;
	virtio_dev_reset_queue(&vdev);
	save_state();
	ck_assert_msg(!load_state(), "%s", err);
	ck_assert(vdev.queue_reset_done[1]);
}
END_TEST

/*
 * A driver that clears FEATURES_OK (without a reset) must not renegotiate
 * the layout of an enabled ring: a packed ring read as split indexes its
 * 4-byte driver area as a 2 * size avail ring, beyond what was mapped.
 */
START_TEST(test_status_bits_not_cleared)
{
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		    VIRTIO_CONFIG_S_DRIVER_OK;

	bring_up(F_PACKED);
	virtio_dev_set_status(&vdev, s);
	ck_assert(vdev.status & VIRTIO_CONFIG_S_FEATURES_OK);
	write_features(v1);
	ck_assert_uint_eq(vdev.guest_features, v1 | F_PACKED);
	virtio_dev_set_status(&vdev, s | VIRTIO_CONFIG_S_FEATURES_OK);
	ck_assert(virtq_is_packed(&vdev.vqs[0]));
	/* And the queue API itself keeps an enabled queue's layout. */
	virtq_set_features(&vdev.vqs[0], v1);
	ck_assert(virtq_is_packed(&vdev.vqs[0]));
}
END_TEST

static Suite *virtio_suite(void)
{
	Suite *s = suite_create("virtio");

	vlab_tcase(s, "common", setup, teardown, 0, VLAB_TESTS(
		test_offers_version_1_and_device_bits, test_features_ok_accepted,
		test_features_ok_refused_without_version_1,
		test_features_ok_refused_for_unoffered_bits,
		test_features_ok_refused_by_device,
		test_features_frozen_after_features_ok, test_driver_ok_needs_features_ok,
		test_needs_reset_sticks_until_reset,
		test_queue_enable_outside_ram_needs_reset,
		test_queue_enable_and_addr_freeze, test_queue_reset_needs_ring_reset));

	vlab_tcase(s, "state", setup, teardown, 0, VLAB_TESTS(
		test_status_bits_not_cleared, state_bool_refused,
		state_packed_pending_refused, state_corrupt_queue_refused,
		state_corrupt_device_refused, state_roundtrip_split_pending,
		state_roundtrip_split_in_order_fold, state_roundtrip_packed_batch,
		state_roundtrip_packed_in_order, state_roundtrip_reset_queue));
	return s;
}

VLAB_TEST_MAIN(virtio_suite)
