/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio-rdma device (ID 42, virtio/virtio_rdma.h): a control vq
 * answered by the verbs objects (devices/rdma/verbs.c), a vq per CQ, a
 * send/receive vq pair per QP, and a software RoCEv2 transport
 * (devices/rdma/rc.c on devices/rdma/roce.c frames) on a port: the wire of
 * a vlab NIC, as a RoCE NIC shares its Ethernet port. Doorbells and
 * timers run on the device's worker; frames from the NIC's wire are taken
 * on the NIC's thread as it reads them, under the device's lock (while
 * the worker is stopped they wait in an inbox). A send queue with
 * messages out asks not to be kicked: their ACKs bring the device back
 * to it.
 *
 * Work requests are copied out of guest memory when the device takes them
 * (the send queue's buffers go back to the driver at once), their SGEs
 * checked then; SEND and WRITE data is read packet by packet as it goes
 * out (and again if it goes out again), as a NIC's DMA reads it, inline
 * data kept from the WR; READ and atomic results are scattered when the
 * response comes, all through the MRs' checks and the guest memory view,
 * so every byte written into the guest is in the dirty log. Completions
 * go, in each send queue's order, into 48-byte buffers the driver posts
 * on the CQ's vq; an armed CQ raises its vq's interrupt.
 *
 *	dev = virtio_rdma_new(gm, &conf, &port, err, sizeof(err));
 *	port side, any thread: virtio_rdma_receive(dev, frame, len);
 */
#ifndef VLAB_RDMA_VIRTIO_RDMA_H
#define VLAB_RDMA_VIRTIO_RDMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct guest_mem;
struct virtio_dev;

/* Where frames go: a NIC's backend, or a test's wire. */
struct rdma_port {
	/* Put one frame on the wire, under the device's lock: 0 or -errno (dropped). */
	int (*send)(void *opaque, const void *frame, size_t len);
	void *opaque;
	uint8_t mac[6];
	/* Optional: one frame in @n pieces (its payload read from guest memory once, here). */
	int (*sendv)(void *opaque, const struct iovec *iov, int n);
	/* Optional: the frames sent until the call with @begin false are one burst. */
	void (*burst)(void *opaque, bool begin);
};

struct virtio_rdma_conf {
	int net;			/* --rdma net=N: the NIC whose wire it shares */
	uint32_t cqs, qps;		/* completion queues; QPs, the GSI QP included */
};

#define VIRTIO_RDMA_MAX_CQS	16
#define VIRTIO_RDMA_MAX_QPS	16
#define VIRTIO_RDMA_MSG_MAX	(4u << 20)	/* bytes in one message */

/* --rdma net=N[,cqs=N][,qps=N]: 0, or -1 with a message. */
int virtio_rdma_parse(const char *arg, struct virtio_rdma_conf *c, char *err, size_t errlen);

struct virtio_dev *virtio_rdma_new(struct guest_mem *gm, const struct virtio_rdma_conf *conf,
				   const struct rdma_port *port, char *err, size_t errlen);
void virtio_rdma_free(struct virtio_dev *vdev);

/*
 * A device on the port of virtio-net NIC @nic, as --rdma makes it: its
 * MAC, its frames (taken on the NIC's thread), its backend. NULL with @err.
 * virtio_rdma_leave_nic() takes it off the port and stops its worker,
 * before virtio_rdma_free().
 */
struct virtio_dev *virtio_rdma_new_on_nic(struct guest_mem *gm, const struct virtio_rdma_conf *c,
					  struct virtio_dev *nic, char *err, size_t errlen);
void virtio_rdma_leave_nic(struct virtio_dev *rdma, struct virtio_dev *nic);

/*
 * A frame from the port's wire, from any thread: true if it is the
 * device's (RoCEv2, UDP 4791, to one of its GIDs), which then takes it (or
 * drops it, as a full NIC queue would); false if it is the netdev's.
 */
bool virtio_rdma_receive(struct virtio_dev *vdev, const void *frame, size_t len);

/*
 * For in-process tests and fuzz targets that drive a device whose worker
 * never runs (no DRIVER_OK): a control request, a receive WR posted to
 * @qpn, and a frame from the wire, each handled on the caller's thread,
 * with what the device sends in return out through its port at once.
 */
size_t virtio_rdma_ctrl_sync(struct virtio_dev *vdev, const uint8_t *req, size_t len,
			     uint8_t *reply, size_t cap);
int virtio_rdma_post_recv_sync(struct virtio_dev *vdev, uint32_t qpn, uint64_t wr_id,
			       uint64_t addr, uint32_t len, uint32_t lkey);
/* A send WR of @len bytes (struct virtio_rdma_send_wr and what follows it). */
int virtio_rdma_post_send_sync(struct virtio_dev *vdev, uint32_t qpn, const void *wr,
			       size_t len);
void virtio_rdma_frame_sync(struct virtio_dev *vdev, const void *frame, size_t len);

/* Counters, for tests and the log. */
struct virtio_rdma_stats {
	uint64_t tx_frames, rx_frames, rx_dropped, rx_bad;
	uint64_t completions, cq_overruns;
};
void virtio_rdma_get_stats(struct virtio_dev *vdev, struct virtio_rdma_stats *s);

#endif
