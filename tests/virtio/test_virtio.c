// SPDX-License-Identifier: GPL-2.0
/* Common configuration rules of virtio/virtio.c, with a fake device. */
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "virtio/virtio.h"
#include "vmm/state.h"

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

static Suite *virtio_suite(void)
{
	Suite *s = suite_create("virtio");
	TCase *tc = tcase_create("common");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_offers_version_1_and_device_bits);
	tcase_add_test(tc, test_features_ok_accepted);
	tcase_add_test(tc, test_features_ok_refused_without_version_1);
	tcase_add_test(tc, test_features_ok_refused_for_unoffered_bits);
	tcase_add_test(tc, test_features_ok_refused_by_device);
	tcase_add_test(tc, test_features_frozen_after_features_ok);
	tcase_add_test(tc, test_driver_ok_needs_features_ok);
	tcase_add_test(tc, test_needs_reset_sticks_until_reset);
	tcase_add_test(tc, test_queue_enable_outside_ram_needs_reset);
	tcase_add_test(tc, test_queue_enable_and_addr_freeze);
	tcase_add_test(tc, test_queue_reset_needs_ring_reset);
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, state_bool_refused);
	suite_add_tcase(s, tc);
	return s;
}

VLAB_TEST_MAIN(virtio_suite)
