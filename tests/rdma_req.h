/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Control requests to a virtio-rdma device as a driver fills them, for
 * the tests, fuzz targets and benches that drive one: the IPv4 GID, and
 * an RC QP's MODIFY_QP to RTR and to RTS with the attribute masks the
 * rdma_cm uses. They set only what they name; the caller adds the rest
 * (max_dest_rd_atomic, min_rnr_timer, max_rd_atomic) and sends them.
 */
#ifndef VLAB_TESTS_RDMA_REQ_H
#define VLAB_TESTS_RDMA_REQ_H

#include <endian.h>
#include <string.h>

#include "devices/rdma/verbs.h"
#include "virtio/virtio_rdma.h"

/* IPv4 @ip (network order) as a GID: ::ffff:a.b.c.d. */
static inline void rdma_req_gid_v4(uint32_t ip, uint8_t gid[16])
{
	memset(gid, 0, 16);
	gid[10] = gid[11] = 0xff;
	memcpy(gid + 12, &ip, 4);
}

/* INIT -> RTR towards QP @dqpn at @ip (IPv4, network order) and @mac, path MTU @mtu (enum). */
static inline void rdma_req_rtr(struct virtio_rdma_modify_qp *m, uint32_t dqpn, uint8_t mtu,
				uint32_t rq_psn, uint32_t ip, const uint8_t mac[6])
{
	m->attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_AV | RDMA_QP_PATH_MTU |
				    RDMA_QP_DEST_QPN | RDMA_QP_RQ_PSN |
				    RDMA_QP_MAX_DEST_RD_ATOMIC | RDMA_QP_MIN_RNR_TIMER);
	m->attr.qp_state = VIRTIO_RDMA_QPS_RTR;
	m->attr.path_mtu = mtu;
	m->attr.dest_qp_num = htole32(dqpn);
	m->attr.rq_psn = htole32(rq_psn);
	rdma_req_gid_v4(ip, m->attr.ah_attr.dgid);
	memcpy(m->attr.ah_attr.dmac, mac, 6);
}

/* RTR -> RTS: timeout 14 (67 ms, which 7 retries stretch past a move on a loaded machine). */
static inline void rdma_req_rts(struct virtio_rdma_modify_qp *m, uint32_t sq_psn)
{
	m->attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_TIMEOUT | RDMA_QP_RETRY_CNT |
				    RDMA_QP_RNR_RETRY | RDMA_QP_SQ_PSN | RDMA_QP_MAX_QP_RD_ATOMIC);
	m->attr.qp_state = VIRTIO_RDMA_QPS_RTS;
	m->attr.timeout = 14;
	m->attr.retry_cnt = 7;
	m->attr.rnr_retry = 7;
	m->attr.sq_psn = htole32(sq_psn);
}

#endif
