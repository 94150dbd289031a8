/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vrdma: a Linux ib_device provider for vlab's virtio-rdma device (ID 42).
 *
 * Every verb maps onto one control command of virtio_rdma.h; work requests
 * are copied into the QP's send or receive vq (the device copies them out
 * and gives the buffers back at once); completions are 48-byte buffers
 * the driver keeps posted on each CQ's vq. The device signals a CQ's vq
 * only when REQ_NOTIFY_CQ armed it, so the vq's interrupt is the CQ's
 * completion event.
 */
#ifndef VRDMA_H
#define VRDMA_H

#include <linux/netdevice.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <rdma/ib_verbs.h>

#include "virtio_rdma.h"

struct vrdma_ctrl_buf {
	u8 req[512];		/* cmd byte, then the command's struct */
	u8 reply[256];		/* status byte, then the reply's struct */
};

struct vrdma_dev {
	struct ib_device ib;
	struct virtio_device *vdev;
	struct virtio_rdma_config cfg;	/* as the device gave it (little-endian) */
	u32 max_cq, max_qp, max_qp_wr, max_sge, max_inline;
	struct ib_device_attr attrs;	/* the core clears ib.attrs, then asks for these */

	spinlock_t ctrl_lock;		/* commands may come from atomic context */
	struct virtqueue *ctrl_vq;
	struct vrdma_ctrl_buf *ctrl;

	struct virtqueue **vqs;
	struct vrdma_cq **cqs;		/* by CQ number, for the vq callbacks */
	struct virtio_rdma_cqe **cqe_bufs;	/* by CQ number: posted on its vq for good */
	struct vrdma_qp **qps;		/* by QPN - 1, for the completions */
	spinlock_t table_lock;

	struct notifier_block netdev_nb;
	struct net_device *netdev;	/* the NIC whose port we share */
	bool registered;
};

struct vrdma_pd {
	struct ib_pd ibpd;
	u32 pdn;
};

struct vrdma_cq {
	struct ib_cq ibcq;
	u32 cqn;
	struct virtqueue *vq;
	struct virtio_rdma_cqe *entries;	/* posted on vq, device-writable */
	u32 nentries;
	spinlock_t lock;
};

struct vrdma_qp {
	struct ib_qp ibqp;
	u32 qpn;
	struct virtqueue *sq, *rq;
	spinlock_t sq_lock, rq_lock;
	u32 max_send_sge, max_recv_sge, max_inline;
};

struct vrdma_ah {
	struct ib_ah ibah;
	u32 ahn;
};

struct vrdma_mr {
	struct ib_mr ibmr;
	__le64 *pages;			/* fast registration's page list */
	u32 npages, max_pages;
};

static inline struct vrdma_dev *to_vdev(struct ib_device *ib)
{
	return container_of(ib, struct vrdma_dev, ib);
}

static inline struct vrdma_pd *to_vpd(struct ib_pd *pd)
{
	return container_of(pd, struct vrdma_pd, ibpd);
}

static inline struct vrdma_cq *to_vcq(struct ib_cq *cq)
{
	return container_of(cq, struct vrdma_cq, ibcq);
}

static inline struct vrdma_qp *to_vqp(struct ib_qp *qp)
{
	return container_of(qp, struct vrdma_qp, ibqp);
}

static inline struct vrdma_ah *to_vah(struct ib_ah *ah)
{
	return container_of(ah, struct vrdma_ah, ibah);
}

static inline struct vrdma_mr *to_vmr(struct ib_mr *mr)
{
	return container_of(mr, struct vrdma_mr, ibmr);
}

/* vrdma_main.c */
int vrdma_ctrl(struct vrdma_dev *dev, u8 cmd, const void *in, size_t inlen,
	       void *out, size_t outlen);
int vrdma_ctrl_handle(struct vrdma_dev *dev, u8 cmd, u32 handle);

/* vrdma_verbs.c */
extern const struct ib_device_ops vrdma_dev_ops;
void vrdma_cq_event(struct virtqueue *vq);
int vrdma_cq_rings_init(struct vrdma_dev *dev);

#endif /* VRDMA_H */
