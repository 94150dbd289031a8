// SPDX-License-Identifier: GPL-2.0
/*
 * The saved-state tree as a snapshot or stream delivers it: the libfdt
 * checks (state_check), then virtio-net's whole state (common part, every
 * ring, net_state field by field) loaded into a live device, saved again
 * and dumped. A refused load must leave the device as it was; after each
 * input the device goes back to its first state.
 *
 * Seeds (FUZZ_MAKE_SEEDS=DIR): the device's own saves, fresh and with a
 * negotiated driver and enabled split and packed rings.
 */
#include <libfdt.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "devices/net/virtio_net.h"
#include "fuzz.h"
#include "virtio/vdrv_guest.h"
#include "virtio/virtio.h"
#include "vmm/migrate/state.h"

#define RAM	(1u << 20)

static uint8_t *ram;
static struct guest_mem gm;
static struct virtio_dev *vdev;
static struct state_buf pristine;
static FILE *devnull;

static void save(struct state_buf *sb)
{
	if (state_buf_init(sb))
		abort();
	state_begin_node(sb, "dev", 1);
	virtio_dev_save(vdev, sb);
	state_end_node(sb);
	if (state_buf_finish(sb))
		abort();
}

/* A driver's bring-up: features, queue 0 and 1 at fixed places, DRIVER_OK. */
static void bring_up(uint64_t f)
{
	uint16_t q;

	if (!vdrv_dev_features_ok(vdev, f))
		abort();
	pthread_mutex_lock(&vdev->lock);
	for (q = 0; q < 2; q++) {
		vdev->queue_select = q;
		virtio_dev_set_queue_size(vdev, 64);
		virtio_dev_set_queue_addr(vdev, 0, false, 0x10000 + q * 0x4000);
		virtio_dev_set_queue_addr(vdev, 1, false, 0x11000 + q * 0x4000);
		virtio_dev_set_queue_addr(vdev, 2, false, 0x12000 + q * 0x4000);
		virtio_dev_enable_queue(vdev);
	}
	pthread_mutex_unlock(&vdev->lock);
	/* Saved with the workers stopped, as the save contract wants. */
	virtio_dev_suspend(vdev);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct net_config nc = { .backend = "null", .queue_pairs = 2, .mtu = 1500 };
	const char *seeds = getenv("FUZZ_MAKE_SEEDS");
	char err[256];

	ram = aligned_alloc(GM_PAGE_SIZE, RAM);
	if (!ram || guest_mem_init_buffer(&gm, ram, RAM))
		abort();
	memset(ram, 0, RAM);
	vdev = virtio_net_new(&gm, &nc, 0, false, err, sizeof(err));
	if (!vdev) {
		fprintf(stderr, "fuzz_state: %s\n", err);
		abort();
	}
	devnull = fopen("/dev/null", "w");
	save(&pristine);
	if (seeds) {
		static const uint64_t feats[] = {
			(1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_NET_F_MAC) |
			(1ULL << VIRTIO_NET_F_CTRL_VQ) | (1ULL << VIRTIO_NET_F_MQ),
			(1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_PACKED) |
			(1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_NET_F_CTRL_VQ),
		};
		struct state_buf sb;
		char name[32];
		size_t i;

		fuzz_write_seed(seeds, "fresh", state_blob(&pristine), state_blob_size(&pristine));
		for (i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
			bring_up(feats[i]);
			save(&sb);
			snprintf(name, sizeof(name), "running-%zu", i);
			fuzz_write_seed(seeds, name, state_blob(&sb), state_blob_size(&sb));
			state_buf_free(&sb);
		}
		exit(0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state_buf again;
	char err[256];
	int node;

	if (state_check(data, size, err, sizeof(err)))
		return 0;
	state_dump(data, devnull);
	node = fdt_subnode_offset(data, 0, "dev");
	if (node < 0)
		return 0;
	if (!virtio_dev_load(vdev, data, node, err, sizeof(err))) {
		save(&again);
		state_buf_free(&again);
	}
	/* Back to the first state for the next input. */
	if (virtio_dev_load(vdev, state_blob(&pristine),
			    fdt_subnode_offset(state_blob(&pristine), 0, "dev"), err, sizeof(err)))
		abort();
	return 0;
}
