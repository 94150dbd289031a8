/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-rdma (device ID 42) as vlab defines it: the interface between the
 * device (devices/rdma/) and the guest driver (guest/), in the style of a
 * uapi header (little-endian fields, explicit sizes, no padding left to
 * the compiler). No virtio-rdma device is standardised beyond its ID; this
 * follows the 2022 spec RFC where it is sound (a control vq, a vq per CQ,
 * a send/receive vq pair per QP, completions written into buffers the
 * driver posts on the CQ's vq) and differs where its review found gaps:
 * every request is copied out of guest memory before it is used, a
 * destroyed QP's outstanding work requests complete as flushed, a full CQ
 * is an error the driver is told about (VIRTIO_RDMA_CQ_OVERRUN).
 *
 * Virtqueues: 0 control; 1 .. max_cq the completion queues (CQ n is vq
 * 1 + n); then a pair per QP: QP index i has its send queue at vq
 * 1 + max_cq + 2i and its receive queue at the next. QP index 0 is QPN 1,
 * the GSI QP (management datagrams: the rdma_cm's); QP index i is QPN
 * i + 1 on the wire.
 *
 * Control requests are one device-readable part {u8 cmd; the command's
 * struct} and one device-writable part {u8 status; the reply's struct}.
 * A send work request is one device-readable chain: struct
 * virtio_rdma_send_wr, then its SGEs (or inline data); a receive one is
 * struct virtio_rdma_recv_wr and its SGEs. SGEs name guest memory through
 * an MR's lkey; DMA MRs take guest-physical addresses.
 */
#ifndef VLAB_VIRTIO_RDMA_H
#define VLAB_VIRTIO_RDMA_H

#include <linux/types.h>

#define VIRTIO_ID_RDMA			42

/* Device configuration (read-only). */
struct virtio_rdma_config {
	__le32 max_cq;			/* completion queues (vqs 1 .. max_cq) */
	__le32 max_qp;			/* QPs, GSI included (a vq pair each) */
	__le32 max_cqe;			/* entries per CQ */
	__le32 max_qp_wr;		/* work requests per send or receive queue */
	__le32 max_sge;			/* per work request */
	__le32 max_inline;		/* bytes of inline data in a send WR */
	__le32 max_mr;
	__le32 max_pd;
	__le32 max_ah;
	__le32 max_fast_reg_pages;	/* pages in one fast registration */
	__le32 max_qp_rd_atom;		/* READ and atomic requests answered at once */
	__le32 gid_tbl_len;
	__u8 mac[6];			/* of the port (the NIC it shares) */
	__u8 port_state;		/* VIRTIO_RDMA_PORT_* */
	__u8 max_mtu;			/* VIRTIO_RDMA_MTU_* */
} __attribute__((packed));

#define VIRTIO_RDMA_PORT_DOWN		1
#define VIRTIO_RDMA_PORT_ACTIVE		4	/* as ib_port_state */

/* enum ib_mtu */
#define VIRTIO_RDMA_MTU_256		1
#define VIRTIO_RDMA_MTU_512		2
#define VIRTIO_RDMA_MTU_1024		3
#define VIRTIO_RDMA_MTU_2048		4
#define VIRTIO_RDMA_MTU_4096		5

/* ---- control commands ---- */

enum virtio_rdma_cmd {
	VIRTIO_RDMA_CMD_QUERY_DEVICE	= 0,
	VIRTIO_RDMA_CMD_QUERY_PORT	= 1,
	VIRTIO_RDMA_CMD_CREATE_CQ	= 2,
	VIRTIO_RDMA_CMD_DESTROY_CQ	= 3,
	VIRTIO_RDMA_CMD_CREATE_PD	= 4,
	VIRTIO_RDMA_CMD_DESTROY_PD	= 5,
	VIRTIO_RDMA_CMD_GET_DMA_MR	= 6,
	VIRTIO_RDMA_CMD_REG_USER_MR	= 7,
	VIRTIO_RDMA_CMD_DEREG_MR	= 8,
	VIRTIO_RDMA_CMD_CREATE_QP	= 9,
	VIRTIO_RDMA_CMD_MODIFY_QP	= 10,
	VIRTIO_RDMA_CMD_QUERY_QP	= 11,
	VIRTIO_RDMA_CMD_DESTROY_QP	= 12,
	VIRTIO_RDMA_CMD_CREATE_AH	= 13,
	VIRTIO_RDMA_CMD_DESTROY_AH	= 14,
	VIRTIO_RDMA_CMD_ADD_GID		= 15,
	VIRTIO_RDMA_CMD_DEL_GID		= 16,
	VIRTIO_RDMA_CMD_REQ_NOTIFY_CQ	= 17,
	VIRTIO_RDMA_CMD_ALLOC_MR	= 18,	/* for fast registration */
	VIRTIO_RDMA_CMD_NR,
};

/* Reply status: 0, or a positive errno (EINVAL, ENOENT, ENOSPC, EBUSY, ...). */
#define VIRTIO_RDMA_OK			0

struct virtio_rdma_query_device_reply {
	__le64 sys_image_guid;
	__le64 max_mr_size;
	__le64 page_size_cap;
	__le64 device_cap_flags;	/* VIRTIO_RDMA_DEVICE_* */
	__le32 vendor_id, vendor_part_id, hw_ver;
	__le32 max_qp, max_qp_wr, max_sge, max_cq, max_cqe, max_mr, max_pd, max_ah;
	__le32 max_qp_rd_atom, max_qp_init_rd_atom, max_fast_reg_page_list_len;
	__le32 max_inline;
	__u8 atomic_cap;		/* enum ib_atomic_cap: 1 IB_ATOMIC_HCA */
	__u8 rsvd[3];
} __attribute__((packed));

#define VIRTIO_RDMA_DEVICE_MEM_MGT_EXTENSIONS	(1ULL << 21)	/* fast registration */
#define VIRTIO_RDMA_DEVICE_RC_RNR_NAK_GEN	(1ULL << 12)

struct virtio_rdma_query_port {
	__u8 port;			/* 1 */
} __attribute__((packed));

struct virtio_rdma_query_port_reply {
	__le32 gid_tbl_len;
	__le32 max_msg_sz;
	__le32 port_cap_flags;
	__u8 state;			/* VIRTIO_RDMA_PORT_* */
	__u8 max_mtu, active_mtu;	/* VIRTIO_RDMA_MTU_* */
	__u8 active_width, active_speed;
	__u8 phys_state;
	__u8 rsvd[2];
} __attribute__((packed));

struct virtio_rdma_create_cq {
	__le32 cqe;			/* entries wanted, <= max_cqe */
} __attribute__((packed));

struct virtio_rdma_create_cq_reply {
	__le32 cqn;			/* its vq is 1 + cqn */
	__le32 cqe;			/* entries it has */
} __attribute__((packed));

/* DESTROY_CQ, DESTROY_PD, DEREG_MR (by key), DESTROY_QP (by QPN), DESTROY_AH, DEL_GID (index). */
struct virtio_rdma_handle {
	__le32 handle;
} __attribute__((packed));

struct virtio_rdma_create_pd_reply {
	__le32 pdn;
} __attribute__((packed));

/* enum ib_access_flags */
#define VIRTIO_RDMA_ACCESS_LOCAL_WRITE		(1 << 0)
#define VIRTIO_RDMA_ACCESS_REMOTE_WRITE		(1 << 1)
#define VIRTIO_RDMA_ACCESS_REMOTE_READ		(1 << 2)
#define VIRTIO_RDMA_ACCESS_REMOTE_ATOMIC	(1 << 3)

struct virtio_rdma_get_dma_mr {
	__le32 pdn;
	__le32 access;			/* local write only */
} __attribute__((packed));

/* REG_USER_MR: followed by npages __le64 guest-physical page addresses. */
struct virtio_rdma_reg_user_mr {
	__le32 pdn;
	__le32 access;
	__le64 virt_addr;		/* the region's address on the wire */
	__le64 length;
	__le32 npages;
	__u8 page_shift;		/* 12 .. 30 */
	__u8 rsvd[3];
	__le32 offset;			/* of virt_addr into the first page */
} __attribute__((packed));

struct virtio_rdma_alloc_mr {
	__le32 pdn;
	__le32 max_num_sg;		/* pages one registration may give */
} __attribute__((packed));

struct virtio_rdma_mr_reply {
	__le32 lkey;			/* == rkey */
	__le32 rkey;
} __attribute__((packed));

/* QP types (the 2022 numbering) */
#define VIRTIO_RDMA_QPT_GSI		1
#define VIRTIO_RDMA_QPT_RC		2
#define VIRTIO_RDMA_QPT_UC		3
#define VIRTIO_RDMA_QPT_UD		4

struct virtio_rdma_create_qp {
	__le32 pdn;
	__u8 qp_type;			/* VIRTIO_RDMA_QPT_* */
	__u8 sq_sig_all;		/* every send WR completes (else SIGNALED only) */
	__u8 rsvd[2];
	__le32 send_cqn, recv_cqn;
	__le32 max_send_wr, max_recv_wr;
	__le32 max_send_sge, max_recv_sge;
	__le32 max_inline_data;
} __attribute__((packed));

struct virtio_rdma_create_qp_reply {
	__le32 qpn;			/* GSI: 1; its vq pair: index qpn - 1 */
} __attribute__((packed));

/* Address vector (RoCEv2: the GRH's fields and the next hop's MAC). */
struct virtio_rdma_av {
	__u8 dgid[16];
	__le32 flow_label;
	__u8 sgid_index;
	__u8 hop_limit;
	__u8 traffic_class;
	__u8 rsvd;
	__u8 dmac[6];
	__u8 rsvd2[2];
} __attribute__((packed));

/* QP states (enum ib_qp_state) */
#define VIRTIO_RDMA_QPS_RESET		0
#define VIRTIO_RDMA_QPS_INIT		1
#define VIRTIO_RDMA_QPS_RTR		2
#define VIRTIO_RDMA_QPS_RTS		3
#define VIRTIO_RDMA_QPS_SQD		4
#define VIRTIO_RDMA_QPS_SQE		5
#define VIRTIO_RDMA_QPS_ERR		6

/* MODIFY_QP's attributes, and QUERY_QP's reply; attr_mask is enum ib_qp_attr_mask. */
struct virtio_rdma_qp_attr {
	__le32 attr_mask;
	__u8 qp_state, cur_qp_state;
	__u8 path_mtu;			/* VIRTIO_RDMA_MTU_* */
	__u8 timeout;			/* 4.096 us x 2^timeout */
	__u8 retry_cnt, rnr_retry;	/* 0..7 */
	__u8 min_rnr_timer;
	__u8 max_rd_atomic, max_dest_rd_atomic;
	__u8 sq_draining;		/* QUERY_QP */
	__u8 rsvd[2];
	__le32 qkey;
	__le32 rq_psn, sq_psn;		/* 24 bits */
	__le32 dest_qp_num;		/* 24 bits */
	__le32 qp_access_flags;
	__le16 pkey_index;
	__u8 port_num;
	__u8 rsvd2;
	struct virtio_rdma_av ah_attr;
	/* QUERY_QP: the QP's sizes */
	__le32 max_send_wr, max_recv_wr, max_send_sge, max_recv_sge, max_inline_data;
} __attribute__((packed));

struct virtio_rdma_modify_qp {
	__le32 qpn;
	struct virtio_rdma_qp_attr attr;
} __attribute__((packed));

struct virtio_rdma_create_ah {
	__le32 pdn;
	struct virtio_rdma_av av;
} __attribute__((packed));

struct virtio_rdma_create_ah_reply {
	__le32 ahn;
} __attribute__((packed));

/* GID types (enum ib_gid_type) */
#define VIRTIO_RDMA_GID_ROCE_V2		2

struct virtio_rdma_add_gid {
	__le16 index;
	__u8 type;			/* VIRTIO_RDMA_GID_ROCE_V2 only */
	__u8 rsvd;
	__u8 gid[16];			/* IPv4 as ::ffff:a.b.c.d */
} __attribute__((packed));

#define VIRTIO_RDMA_NOTIFY_SOLICITED	1
#define VIRTIO_RDMA_NOTIFY_NEXT		2

struct virtio_rdma_req_notify_cq {
	__le32 cqn;
	__le32 flags;			/* VIRTIO_RDMA_NOTIFY_* */
} __attribute__((packed));

/* ---- work requests ---- */

enum virtio_rdma_wr_opcode {
	VIRTIO_RDMA_WR_RDMA_WRITE	= 0,
	VIRTIO_RDMA_WR_RDMA_WRITE_IMM	= 1,
	VIRTIO_RDMA_WR_SEND		= 2,
	VIRTIO_RDMA_WR_SEND_IMM		= 3,
	VIRTIO_RDMA_WR_RDMA_READ	= 4,
	VIRTIO_RDMA_WR_ATOMIC_CMP_SWP	= 5,
	VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD	= 6,
	VIRTIO_RDMA_WR_LOCAL_INV	= 7,
	VIRTIO_RDMA_WR_SEND_INV		= 8,
	VIRTIO_RDMA_WR_REG_MR		= 9,
};

#define VIRTIO_RDMA_SEND_FENCE		(1 << 0)
#define VIRTIO_RDMA_SEND_SIGNALED	(1 << 1)
#define VIRTIO_RDMA_SEND_SOLICITED	(1 << 2)
#define VIRTIO_RDMA_SEND_INLINE		(1 << 3)

struct virtio_rdma_sge {
	__le64 addr;
	__le32 length;
	__le32 lkey;
} __attribute__((packed));

/*
 * A send WR: this, then num_sge SGEs, or with SEND_INLINE inline_len
 * bytes of data. All of it device-readable, in as many descriptors as the
 * driver likes; the device copies it out whole before it looks at it.
 */
struct virtio_rdma_send_wr {
	__le64 wr_id;
	__u8 opcode;			/* VIRTIO_RDMA_WR_* */
	__u8 send_flags;		/* VIRTIO_RDMA_SEND_* */
	__le16 num_sge;
	__le32 imm_or_inv;		/* immediate data (big-endian on the wire, as given),
					   or the rkey SEND_INV and LOCAL_INV invalidate */
	union {
		struct {
			__le64 remote_addr;
			__le32 rkey;
			__le32 rsvd;
		} rdma;
		struct {
			__le64 remote_addr;
			__le64 compare_add;
			__le64 swap;
			__le32 rkey;
			__le32 rsvd;
		} atomic;
		struct {
			__le32 ahn;
			__le32 remote_qpn;
			__le32 remote_qkey;
			__le32 rsvd;
		} ud;
		struct {		/* REG_MR: the page list is in guest memory */
			__le32 key;	/* the MR's index with the new variant */
			__le32 access;
			__le64 iova;
			__le64 length;
			__le64 pages_gpa;	/* npages __le64 page addresses */
			__le32 npages;
			__u8 page_shift;
			__u8 rsvd[3];
			__le32 offset;
			__le32 rsvd2;
		} reg;
	};
	__le32 inline_len;
	__le32 rsvd;
} __attribute__((packed));

/* A receive WR: this, then num_sge SGEs. */
struct virtio_rdma_recv_wr {
	__le64 wr_id;
	__le32 num_sge;
	__le32 rsvd;
} __attribute__((packed));

/* ---- completions: written into a buffer the driver posts on the CQ's vq ---- */

/* Status (enum ib_wc_status values) */
#define VIRTIO_RDMA_WC_SUCCESS		0
#define VIRTIO_RDMA_WC_LOC_LEN_ERR	1
#define VIRTIO_RDMA_WC_LOC_QP_OP_ERR	2
#define VIRTIO_RDMA_WC_LOC_PROT_ERR	4
#define VIRTIO_RDMA_WC_WR_FLUSH_ERR	5
#define VIRTIO_RDMA_WC_MW_BIND_ERR	6
#define VIRTIO_RDMA_WC_BAD_RESP_ERR	7
#define VIRTIO_RDMA_WC_LOC_ACCESS_ERR	8
#define VIRTIO_RDMA_WC_REM_INV_REQ_ERR	9
#define VIRTIO_RDMA_WC_REM_ACCESS_ERR	10
#define VIRTIO_RDMA_WC_REM_OP_ERR	11
#define VIRTIO_RDMA_WC_RETRY_EXC_ERR	12
#define VIRTIO_RDMA_WC_RNR_RETRY_EXC_ERR 13
#define VIRTIO_RDMA_WC_FATAL_ERR	17
#define VIRTIO_RDMA_WC_GENERAL_ERR	21

/* Opcode (enum ib_wc_opcode values) */
#define VIRTIO_RDMA_WC_SEND		0
#define VIRTIO_RDMA_WC_RDMA_WRITE	1
#define VIRTIO_RDMA_WC_RDMA_READ	2
#define VIRTIO_RDMA_WC_COMP_SWAP	3
#define VIRTIO_RDMA_WC_FETCH_ADD	4
#define VIRTIO_RDMA_WC_LOCAL_INV	6
#define VIRTIO_RDMA_WC_REG_MR		8
#define VIRTIO_RDMA_WC_RECV		128
#define VIRTIO_RDMA_WC_RECV_RDMA_IMM	129

/* wc_flags: vlab's own bits (not enum ib_wc_flags's values; a driver maps them) */
#define VIRTIO_RDMA_WC_GRH		(1 << 0)
#define VIRTIO_RDMA_WC_WITH_IMM		(1 << 1)
#define VIRTIO_RDMA_WC_WITH_INVALIDATE	(1 << 3)
#define VIRTIO_RDMA_WC_WITH_SMAC	(1 << 5)
#define VIRTIO_RDMA_WC_WITH_NETWORK_HDR_TYPE (1 << 7)

/* network_hdr_type (enum rdma_network_type) */
#define VIRTIO_RDMA_NETWORK_IPV4	2
#define VIRTIO_RDMA_NETWORK_IPV6	3

/*
 * 48 bytes. A CQ that had no buffer for a completion is overrun: the
 * device then writes one entry with status VIRTIO_RDMA_CQ_OVERRUN as soon
 * as a buffer comes, and the QPs that lost a completion go to ERR.
 */
struct virtio_rdma_cqe {
	__le64 wr_id;
	__u8 status;
	__u8 opcode;
	__u8 wc_flags;
	__u8 network_hdr_type;
	__le32 byte_len;
	__le32 imm_or_inv;
	__le32 qp_num;
	__le32 src_qp;
	__le16 pkey_index;
	__u8 smac[6];
	__le16 vlan_id;
	__u8 rsvd[10];
} __attribute__((packed));

#define VIRTIO_RDMA_CQ_OVERRUN		0xff

/* UD and GSI receives: the buffer starts with the packet's 40-byte GRH (IPv4: at offset 20). */
#define VIRTIO_RDMA_GRH_BYTES		40

#endif
