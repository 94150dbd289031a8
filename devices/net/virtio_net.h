/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VLAB_VIRTIO_NET_H
#define VLAB_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/virtio.h"
#include "vmm/core/config.h"

#define VLAB_MAX_NICS		4

/* One --net option: backend spec plus device options. */
struct net_config {
	char backend[256];		/* "hub=PATH", "tap=NAME", "loop", "null" */
	uint8_t mac[6];
	bool mac_set;
	int queue_pairs;		/* 1..16 */
	int mtu;			/* 0: not offered */
	char pcap[256];			/* capture file, "" for none */
	uint32_t pcap_max_mb;		/* where the capture stops */
	int poll_us;			/* poll a quiet TX queue or hub this long before sleeping */
};

#define NET_POLL_US_DEFAULT	50
#define NET_POLL_US_MAX		1000

/* The --net device kind (vmm/core/device.h). */
extern struct device_kind virtio_net_kind;

/* "hub=/tmp/h,mac=52:54:00:00:00:01,queues=2,mtu=1500" → @nc. */
int cli_parse_net(const char *s, struct net_config *nc, char *err, size_t errlen);
/*
 * The same grammar for option @opt (its name in messages); a key it does
 * not know goes to @extra (which returns 0, or -1 with a message), or is
 * refused without one. Other NIC kinds (--vdpa) take their keys this way.
 */
int net_parse_spec(const char *s, const char *opt, struct net_config *nc,
		   int (*extra)(const char *tok, void *ctx, char *err, size_t errlen),
		   void *ctx, char *err, size_t errlen);

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

/*
 * A function sharing the NIC's port, as a RoCE NIC's RDMA function shares
 * its Ethernet port (devices/rdma): @rx sees every frame from the backend
 * first, on the NIC's worker, and keeps those it returns true for from the
 * netdev; after each batch of frames it is called with @frame NULL (its
 * return value unused), so it may wake its own worker once a batch. Set
 * and cleared (NULL) at any time: once a clearing call returns the
 * function is not running and is not called again, so it may go away.
 * -EBUSY if another function has the port.
 */
typedef bool (*virtio_net_port_rx)(void *opaque, const void *frame, size_t len);
/*
 * Whether @vdev (a --net device) has a port to share: the emulated NIC
 * does, a vhost-user one (its data path in the backend) does not.
 */
bool virtio_net_has_port(const struct virtio_dev *vdev);
int virtio_net_set_port_rx(struct virtio_dev *vdev, virtio_net_port_rx rx, void *opaque);
/* Put a frame on the NIC's backend (any thread, captured like the netdev's): 0 or -errno. */
int virtio_net_port_send(struct virtio_dev *vdev, const void *frame, size_t len);
/* The same with the frame in @n pieces. */
int virtio_net_port_sendv(struct virtio_dev *vdev, const struct iovec *iov, int n);
/*
 * The port's frames from here to the matching end (@begin false) are a
 * burst (net_backend_burst()): sent from one thread, the function's own
 * lock held throughout, nothing else sent through the port meanwhile,
 * and never from inside the port's rx function for a frame (the NIC's
 * worker is reading the backend then; its NULL call, after the reads, may).
 */
void virtio_net_port_burst(struct virtio_dev *vdev, bool begin);
/* The NIC's permanent MAC address. */
void virtio_net_port_mac(struct virtio_dev *vdev, uint8_t mac[6]);

#endif
