/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --net vhost-user=SOCK: the guest's virtio-net PCI function whose data
 * queues a vhost-user backend (DPDK's vhost PMD, say) serves. vlab keeps
 * the configuration space, feature negotiation and the control queue (as
 * for the vDPA NIC); at DRIVER_OK it hands the backend guest RAM (memfds),
 * the rings, the queues' doorbell eventfds (KVM's ioeventfds: a kick goes
 * from the guest to the backend with no vlab thread in between) and, as
 * call fds, the vectors' KVM irqfds. Guest RAM must be memfd-backed.
 */
#ifndef VLAB_VHOST_USER_NET_H
#define VLAB_VHOST_USER_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "devices/net/virtio_net.h"

struct vm;
struct virtio_dev;

/* Is --net @backend a vhost-user one? */
bool vhost_user_net_backend(const char *backend);
/* The NIC on @vm (attached to PCI), or NULL with a message. */
void *vhost_user_net_create(struct vm *vm, const struct net_config *nc, int index, char *err,
			    size_t errlen);
/* Is @vdev one vhost_user_net_create() made? */
bool vhost_user_net_is(const struct virtio_dev *vdev);
void vhost_user_net_destroy(struct vm *vm, void *dev);

#endif
