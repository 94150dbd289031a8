/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The contract every virtio device passes, whatever its transport:
 * suspend -> save -> load into a fresh device -> resume, after which the
 * fresh device saves to the same bytes as the old one and carries on where
 * it stopped (the caller drives it and checks its behaviour).
 *
 *	fresh = virtio_dev_test_move(old, make_fresh, ctx);
 *	... old is gone; drive fresh as the guest would and check it ...
 */
#ifndef VLAB_TESTS_VIRTIO_DEV_TEST_H
#define VLAB_TESTS_VIRTIO_DEV_TEST_H

#include <check.h>
#include <pthread.h>
#include <stdio.h>

#include "state_test.h"
#include "virtio/vdrv_guest.h"
#include "virtio/virtio.h"

static inline int virtio_dev_test_save(void *dev, struct state_buf *sb)
{
	return virtio_dev_save(dev, sb);
}

static inline int virtio_dev_test_load(void *dev, const void *fdt, int node, char *err,
				       size_t errlen)
{
	return virtio_dev_load(dev, fdt, node, err, errlen);
}

/* Transport register writes, as virtio-pci makes them: under vdev->lock. */
static inline void virtio_dev_test_status(struct virtio_dev *vdev, uint8_t status)
{
	vdrv_dev_status(vdev, status);
}

/* Negotiate @features (VERSION_1 among them) as a driver would. */
static inline void virtio_dev_test_features_ok(struct virtio_dev *vdev, uint64_t features)
{
	ck_assert(vdrv_dev_features_ok(vdev, features));
}

/* DRIVER_OK after virtio_dev_test_features_ok() (and any queue set-up). */
static inline void virtio_dev_test_driver_ok(struct virtio_dev *vdev)
{
	ck_assert(vdrv_dev_driver_ok(vdev));
}

/*
 * Move @old's state into the device @make_fresh(@ctx) returns (configured
 * as @old was), then free @old with @free_old. Returns the fresh device,
 * resumed. Prints both trees if they differ.
 */
static inline struct virtio_dev *
virtio_dev_test_move(struct virtio_dev *old, struct virtio_dev *(*make_fresh)(void *ctx),
		     void (*free_old)(struct virtio_dev *vdev), void *ctx)
{
	struct virtio_dev *fresh;
	struct state_buf a, b;
	char err[256] = "";

	virtio_dev_suspend(old);
	state_test_save(&a, virtio_dev_test_save, old);
	free_old(old);

	fresh = make_fresh(ctx);
	ck_assert_ptr_nonnull(fresh);
	ck_assert_msg(!virtio_dev_load(fresh, a.fdt, state_test_node(&a, "/dev"), err,
				       sizeof(err)), "load into a fresh device: %s", err);
	state_test_save(&b, virtio_dev_test_save, fresh);
	if (!state_test_same(&a, &b)) {
		fprintf(stderr, "---- saved by the old device:\n");
		state_dump(a.fdt, stderr);
		fprintf(stderr, "---- saved by the fresh one:\n");
		state_dump(b.fdt, stderr);
		ck_abort_msg("the fresh device saves other bytes than the one it replaced");
	}
	virtio_dev_resume(fresh);
	state_buf_free(&a);
	state_buf_free(&b);
	return fresh;
}

#endif
