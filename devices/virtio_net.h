/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VLAB_VIRTIO_NET_H
#define VLAB_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "virtio/virtio.h"
#include "vmm/config.h"

/*
 * A virtio-net device on @mem with no transport attached (tests, fuzz
 * targets; vlab itself attaches it to virtio-pci). @nc as --net parsed it;
 * @index picks the default MAC; @incoming defers joining a hub until the
 * state is loaded. Its worker threads start at DRIVER_OK as usual; its
 * state loads with virtio_dev_state_load() and vdev->ops->load(), both
 * safe with any input. NULL with @err on failure.
 */
struct virtio_dev *virtio_net_new(struct guest_mem *mem, const struct net_config *nc,
				  int index, bool incoming, char *err, size_t errlen);
/* Stop its workers and free it (one made by virtio_net_new()). */
void virtio_net_free(struct virtio_dev *vdev);

#endif
