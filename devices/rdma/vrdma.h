/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio-rdma device's insides, shared by its two halves: the data
 * path and the virtio device (virtio_rdma.c) and its saved state
 * (rdma_state.c). Nothing else includes this.
 */
#ifndef VLAB_RDMA_VRDMA_H
#define VLAB_RDMA_VRDMA_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/rdma/rc.h"
#include "devices/rdma/verbs.h"
#include "devices/rdma/virtio_rdma.h"
#include "virtio/virtio.h"
#include "virtio/virtio_rdma.h"
#include "vmm/core/worker.h"

struct state_buf;

#define MAX_SGE		8
#define MAX_INLINE	256
#define INBOX_FRAMES	512
#define FRAME_MAX	4608		/* a 4096-byte MTU packet with every header */
#define WR_MAX		(sizeof(struct virtio_rdma_send_wr) + MAX_INLINE + \
			 MAX_SGE * sizeof(struct virtio_rdma_sge))
#define BOUNCE		4096		/* one READ response's data */

/* A send work request, copied out, until its completion is written. */
struct swqe {
	uint64_t wr_id;
	uint8_t opcode;			/* VIRTIO_RDMA_WR_* */
	bool signaled;
	bool done;
	uint8_t status;			/* VIRTIO_RDMA_WC_* */
	uint32_t byte_len;
	uint16_t num_sge;		/* 0 for inline data: it is in @buf alone */
	struct virtio_rdma_sge sge[MAX_SGE];
	bool inlined;			/* SEND/WRITE data that came in the WR itself */
	uint8_t *buf;			/* SEND/WRITE data; READ/atomic: the response */
	uint32_t len;
};

/* A receive work request, copied out. */
struct rwqe {
	uint64_t wr_id;
	uint16_t num_sge;
	struct virtio_rdma_sge sge[MAX_SGE];
};

/* The device's side of a QP: its queues, as the transport works through them. */
struct vqp {
	struct vrdma *dev;
	uint32_t qpn;
	struct swqe sq[RC_SQ_MAX];
	uint64_t sq_head, sq_tail;	/* positions; a message's rc id is its position */
	struct rwqe rq[RC_SQ_MAX];
	uint32_t rq_head, rq_count;
	/* responder */
	uint64_t write_va;		/* the WRITE being received */
	uint32_t write_rkey;
	bool recv_bad;			/* the SEND being received overflowed its buffer */
	uint64_t dirty_gpa;		/* an atomic's target, marked after the write */
	bool dirty_owed;
	uint8_t bounce[BOUNCE];
};

struct vcq {
	struct virtio_rdma_cqe *backlog;	/* completions waiting for a CQ buffer */
	uint8_t *solicited;		/* per backlog entry: 1 for a receive with SE set */
	uint32_t head, count;
	bool overrun;
};

struct vrdma {
	struct virtio_dev vdev;
	struct guest_mem *gm;
	struct virtio_rdma_conf conf;
	struct rdma_port port;
	struct virtio_rdma_config config;
	struct rdma_verbs verbs;
	struct vqp qps[VIRTIO_RDMA_MAX_QPS];
	struct vcq cqs[VIRTIO_RDMA_MAX_CQS];
	struct worker worker;
	bool worker_ready, timer_ready;
	struct worker_timer timer;
	uint64_t timer_due;		/* when the armed timer fires (ns), 0 if disarmed (d->lock) */
	/*
	 * The device's state, the verbs objects included: the worker holds
	 * @lock for each round, the NIC's thread for each frame it hands
	 * over. While the worker runs (@live), the NIC's thread takes a frame
	 * itself, at once; else, or with older frames waiting, it goes to the
	 * inbox for the worker.
	 */
	pthread_mutex_t lock;
	bool live;
	bool rx_batch;			/* the NIC's thread holds @lock to its batch's end */
	bool wire_took;			/* the NIC's thread took frames: work to follow */
	uint64_t wire_now;		/* the clock at the batch's first frame */
	/* the inbox, and the GIDs frames must be for (any thread; after @lock) */
	pthread_mutex_t wire_lock;
	uint8_t (*inbox)[FRAME_MAX];
	uint16_t inbox_len[INBOX_FRAMES];
	unsigned int inbox_head, inbox_count;
	bool rx_unkicked;		/* the NIC's worker put frames, not yet kicked */
	struct rdma_gid gids[RDMA_GID_TBL_LEN];
	uint8_t *ctrl;			/* a control request, copied out */
	uint8_t frame[FRAME_MAX];	/* the frame being sent */
	uint8_t wr[WR_MAX];
	struct virtio_rdma_stats stats;
};

static inline struct vqp *vqp_of(struct vrdma *d, uint32_t qpn)
{
	return &d->qps[qpn - 1];
}

/* virtio_rdma.c, for the state's load and resume (each described where it is) */
extern const struct rdma_verbs_ops vrdma_verbs_ops;
int vrdma_cqs_alloc(struct vrdma *d, uint32_t max_cqe);
void vrdma_objects_free(struct vrdma *d);
int vrdma_sge_copy(struct vrdma *d, const struct rdma_qp *qp, const struct virtio_rdma_sge *sge,
		   uint16_t n, uint32_t off, uint8_t *buf, uint32_t len, bool to_guest);
void vrdma_rc_attach(struct rdma_qp *qp, struct vqp *v);
struct rdma_qp *vrdma_rc_live(struct vrdma *d, uint32_t qpn);
void vrdma_gids_publish(struct vrdma *d);
int vrdma_start(struct virtio_dev *vdev);
void vrdma_stop(struct vrdma *d);

/* rdma_state.c: the virtio_dev_ops for a move */
void vrdma_quiesce(struct virtio_dev *vdev);
void vrdma_unquiesce(struct virtio_dev *vdev);
int vrdma_save(struct virtio_dev *vdev, struct state_buf *sb);
int vrdma_load(struct virtio_dev *vdev, const void *fdt, int node, char *err, size_t errlen);

#endif
