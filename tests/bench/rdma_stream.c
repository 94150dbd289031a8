// SPDX-License-Identifier: GPL-2.0
/*
 * rdma_stream: the RDMA device's own RC WRITE bandwidth, without a guest
 * or KVM (make bench-rdma prints it beside the guests' streams; it runs
 * where /dev/kvm does not). Two virtio-rdma devices, each on the port of
 * its own virtio-net NIC, the NICs on one hub in a fresh directory: the
 * devices, NICs, hub and their threads are vlab's, as --net hub=DIR
 * --rdma net=0 makes them, two vlabs' worth in this one process. A host
 * thread drives each device as a guest driver does (rings and buffers in
 * memory standing in for guest memory, doorbells as the transport rings
 * them). Client A WRITEs LEN-byte messages into B's MR for SIZE MiB, with
 * INFLIGHT out, every one signaled and its CQ polled (the payload's
 * polling stream), or with -w two halves of INFLIGHT out, each half's last
 * signaled, the CQ armed and its interrupt awaited on an eventfd (the
 * waiting stream). B's driver only sets up: one-sided WRITEs need its
 * device alone. With -p B lives in a child process, as two vlabs do: the
 * two meet only on the hub, and a pipe carries what the rdma_cm would
 * (QP number, address, rkey) and, at the end, B's verdict and CPU time.
 *
 *	rdma_stream [-l LEN] [-m MTU] [-s SIZE_MIB] [-n INFLIGHT] [-w] [-p] [-q]
 *
 * prints "rdma_stream: 512 MiB in 65536-byte WRITEs, MTU 1024, polling,
 * 16 out: 3000 MB/s, 300 ns device CPU a packet" (MB = 10^6 bytes; the
 * CPU is the processes' less A's driver's, over the data packets), or with
 * -q only the MB/s number. B's MR holds the message's bytes at the end,
 * and B's device took every packet, or it fails.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices/net/virtio_net.h"
#include "devices/rdma/verbs.h"
#include "devices/rdma/virtio_rdma.h"
#include "rdma_req.h"
#include "virtio/vdrv_guest.h"
#include "virtio/virtio_rdma.h"

#define MEM		(8 << 20)
#define QS		256
#define CQS		1
#define QPS		2
#define CTRL_VQ		0
#define CQ_VQ		1
#define QPN		2
#define SQ_VQ		(1 + CQS + 2 * (QPN - 1))
#define RINGS		0x10000		/* 256 KiB a queue */
#define CTRL_BUF	0x200000	/* a request, its reply at +0x1000 */
#define CQ_BUFS		0x300000	/* QS completions of 64 bytes */
#define WR_BUF		0x310000	/* QS work requests of 128 bytes */
#define DATA		0x400000	/* the message A sends */
#define MR_AREA		0x600000	/* B's MR */
#define MR_VA		0x7f0000000000ULL
#define MR_PAGES	256		/* 1 MiB: the largest LEN */
#define WR_LEN		(sizeof(struct virtio_rdma_send_wr) + sizeof(struct virtio_rdma_sge))

struct node {
	uint8_t *ram;
	struct guest_mem gm;
	struct virtio_dev *nic, *rdma;
	struct vdrv ctrl, cq, sq;
	uint8_t mac[6];
	uint32_t ip, pd, cqn, dma_key, mr_key, qpn;
	int irq;			/* an eventfd: the CQ's and control queue's interrupts */
};

/* With -p each process has one real node; the other is these fields of its peer. */
struct peer_info {
	uint32_t qpn, ip, mr_key;
	uint8_t mac[6];
};

/* B's answer at the end of a -p stream. */
struct b_report {
	int ok;			/* its MR holds the bytes and its device took every packet */
	double cpu;		/* B's process CPU seconds over the stream */
};

static struct node A, B;
static bool waiting;		/* -w: the driver sleeps for interrupts, control answers too */
static int to_b = -1, to_a = -1;	/* -p: the pipes between the two processes */

static void die(const char *what)
{
	fprintf(stderr, "rdma_stream: %s\n", what);
	exit(1);
}

/* Clock @c in seconds: CLOCK_MONOTONIC, or a process's or thread's CPU time. */
static double secs(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The transport's interrupt: the driver's eventfd. */
static void signal_queue(struct virtio_dev *vdev, uint16_t q)
{
	struct node *n = vdev->transport_priv;
	uint64_t one = 1;

	if (write(n->irq, &one, sizeof(one)) < 0)
		die("eventfd write");
}

static const struct virtio_transport_ops transport = { .signal_queue = signal_queue };

/* Blocked until an interrupt (or 100 ms: a lost one shows as a slow stream, not a hang). */
static void wait_irq(struct node *n)
{
	struct pollfd p = { .fd = n->irq, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, 100) > 0 && read(n->irq, &v, sizeof(v)) < 0)
		die("eventfd read");
}

static void queue_up(struct node *n, struct vdrv *d, uint16_t q, uint64_t base)
{
	struct virtio_dev *vdev = n->rdma;

	if (vdrv_init(d, &n->gm, base, QS, vdev->guest_features) || !vdrv_enable_on(d, vdev, q))
		die("a queue refused");
}

static void kick(struct node *n, struct vdrv *d, uint16_t q)
{
	vdrv_publish(d);
	if (vdrv_kick_needed(d))
		n->rdma->ops->queue_notify(n->rdma, q);
}

/* A control request and its status, the reply's first 4 bytes in *@out. */
static int ctrl(struct node *n, uint8_t cmd, const void *args, size_t len, uint32_t *out)
{
	uint8_t *req = n->ram + CTRL_BUF, *rep = n->ram + CTRL_BUF + 0x1000;
	struct vdrv_buf b[2] = { { CTRL_BUF, 1 + len }, { CTRL_BUF + 0x1000, 256 } };
	double end = secs(CLOCK_MONOTONIC) + 10;
	int r;

	req[0] = cmd;
	if (len)
		memcpy(req + 1, args, len);
	if (vdrv_add(&n->ctrl, b, 1, 1, false, 1) < 0)
		die("control queue full");
	kick(n, &n->ctrl, CTRL_VQ);
	/* A waiting driver sleeps for the answer too: spinning would hold a CPU from the devices. */
	while (!(r = vdrv_get_used(&n->ctrl, NULL, NULL))) {
		if (secs(CLOCK_MONOTONIC) > end)
			die("no control reply in 10 s");
		if (waiting)
			wait_irq(n);
	}
	if (r < 0)
		die("control queue broken");
	if (!rep[0] && out)
		memcpy(out, rep + 1, 4);
	return rep[0];
}

static uint32_t ctrl32(struct node *n, uint8_t cmd, const void *args, size_t len)
{
	uint32_t v = 0;

	if (ctrl(n, cmd, args, len, &v)) {
		fprintf(stderr, "rdma_stream: control command %u refused\n", cmd);
		exit(1);
	}
	return le32toh(v);
}

/* NIC on the hub, its RDMA device, both DRIVER_OK, the device's queues up. */
static void node_up(struct node *n, const char *hub, uint8_t id)
{
	struct virtio_rdma_conf conf = { .cqs = CQS, .qps = QPS };
	struct net_config nc;
	char spec[4200], err[256];

	n->ram = aligned_alloc(4096, MEM);
	if (!n->ram)
		die("out of memory");
	memset(n->ram, 0, MEM);
	if (guest_mem_init_buffer(&n->gm, n->ram, MEM))
		die("guest memory");
	n->irq = eventfd(0, EFD_CLOEXEC);
	if (n->irq < 0)
		die("eventfd");
	snprintf(spec, sizeof(spec), "hub=%s,mac=52:54:00:00:42:%02x", hub, id);
	if (cli_parse_net(spec, &nc, err, sizeof(err)))
		die(err);
	n->nic = virtio_net_new(&n->gm, &nc, id, false, err, sizeof(err));
	if (!n->nic)
		die(err);
	n->rdma = virtio_rdma_new_on_nic(&n->gm, &conf, n->nic, err, sizeof(err));
	if (!n->rdma)
		die(err);
	virtio_net_port_mac(n->nic, n->mac);
	n->ip = htobe32(0x0a000000 | id);
	n->rdma->transport = &transport;
	n->rdma->transport_priv = n;
	if (!vdrv_dev_features_ok(n->nic, 1ULL << VIRTIO_F_VERSION_1) || !vdrv_dev_driver_ok(n->nic) ||
	    !vdrv_dev_features_ok(n->rdma, 1ULL << VIRTIO_F_VERSION_1))
		die("the NIC or the RDMA device refused its features or DRIVER_OK");
	queue_up(n, &n->ctrl, CTRL_VQ, RINGS);
	queue_up(n, &n->cq, CQ_VQ, RINGS + 0x40000);
	queue_up(n, &n->sq, SQ_VQ, RINGS + 0x80000);
	if (!vdrv_dev_driver_ok(n->rdma))
		die("the RDMA device refused DRIVER_OK");
}

static void node_down(struct node *n)
{
	virtio_rdma_leave_nic(n->rdma, n->nic);
	virtio_rdma_free(n->rdma);
	virtio_net_free(n->nic);
	vdrv_exit(&n->ctrl);
	vdrv_exit(&n->cq);
	vdrv_exit(&n->sq);
	guest_mem_exit(&n->gm);
	close(n->irq);
	free(n->ram);
}

static void post_cq_buf(struct node *n, unsigned int slot)
{
	struct vdrv_buf b = { CQ_BUFS + slot * 64ULL, sizeof(struct virtio_rdma_cqe) };

	if (vdrv_add(&n->cq, &b, 0, 1, false, slot) < 0)
		die("CQ ring full");
}

/* GID, PD, CQ (its buffers posted), DMA MR, B's MR, an RC QP in INIT. */
static void node_objects(struct node *n)
{
	struct virtio_rdma_add_gid g = { .index = 0, .type = VIRTIO_RDMA_GID_ROCE_V2 };
	struct virtio_rdma_create_cq cq = { htole32(QS) };
	struct virtio_rdma_get_dma_mr dma;
	struct {
		struct virtio_rdma_reg_user_mr h;
		uint64_t pages[MR_PAGES];
	} __attribute__((packed)) u;
	struct virtio_rdma_create_qp qp = {
		.qp_type = VIRTIO_RDMA_QPT_RC, .max_send_wr = htole32(QS / 2),
		.max_recv_wr = htole32(16), .max_send_sge = htole32(1), .max_recv_sge = htole32(1),
	};
	struct virtio_rdma_modify_qp m = { 0 };
	unsigned int i;

	rdma_req_gid_v4(n->ip, g.gid);
	if (ctrl(n, VIRTIO_RDMA_CMD_ADD_GID, &g, sizeof(g), NULL))
		die("ADD_GID refused");
	n->pd = ctrl32(n, VIRTIO_RDMA_CMD_CREATE_PD, NULL, 0);
	n->cqn = ctrl32(n, VIRTIO_RDMA_CMD_CREATE_CQ, &cq, sizeof(cq));
	dma = (struct virtio_rdma_get_dma_mr){ htole32(n->pd),
					       htole32(VIRTIO_RDMA_ACCESS_LOCAL_WRITE) };
	n->dma_key = ctrl32(n, VIRTIO_RDMA_CMD_GET_DMA_MR, &dma, sizeof(dma));
	memset(&u, 0, sizeof(u));
	u.h.pdn = htole32(n->pd);
	u.h.access = htole32(VIRTIO_RDMA_ACCESS_LOCAL_WRITE | VIRTIO_RDMA_ACCESS_REMOTE_WRITE);
	u.h.virt_addr = htole64(MR_VA);
	u.h.length = htole64((uint64_t)MR_PAGES << 12);
	u.h.npages = htole32(MR_PAGES);
	u.h.page_shift = 12;
	for (i = 0; i < MR_PAGES; i++)
		u.pages[i] = htole64(MR_AREA + ((uint64_t)i << 12));
	n->mr_key = ctrl32(n, VIRTIO_RDMA_CMD_REG_USER_MR, &u, sizeof(u));
	qp.pdn = htole32(n->pd);
	qp.send_cqn = qp.recv_cqn = htole32(n->cqn);
	n->qpn = ctrl32(n, VIRTIO_RDMA_CMD_CREATE_QP, &qp, sizeof(qp));
	if (n->qpn != QPN)
		die("unexpected QP number");
	m.qpn = htole32(n->qpn);
	m.attr.attr_mask = htole32(RDMA_QP_STATE | RDMA_QP_PKEY_INDEX | RDMA_QP_PORT |
				   RDMA_QP_ACCESS_FLAGS);
	m.attr.qp_state = VIRTIO_RDMA_QPS_INIT;
	m.attr.port_num = 1;
	m.attr.qp_access_flags = htole32(VIRTIO_RDMA_ACCESS_REMOTE_WRITE);
	if (ctrl(n, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL))
		die("MODIFY_QP to INIT refused");
	for (i = 0; i < QS; i++)
		post_cq_buf(n, i);
	kick(n, &n->cq, CQ_VQ);
}

/* INIT -> RTR -> RTS towards @peer at path MTU @mtu (the enum), as the rdma_cm does it. */
static void node_connect(struct node *n, const struct node *peer, uint8_t mtu)
{
	struct virtio_rdma_modify_qp m = { .qpn = htole32(n->qpn) };

	rdma_req_rtr(&m, peer->qpn, mtu, 0x100, peer->ip, peer->mac);
	m.attr.max_dest_rd_atomic = 8;
	m.attr.min_rnr_timer = 1;
	if (ctrl(n, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL))
		die("MODIFY_QP to RTR refused");
	rdma_req_rts(&m, 0x100);
	m.attr.max_rd_atomic = 8;
	if (ctrl(n, VIRTIO_RDMA_CMD_MODIFY_QP, &m, sizeof(m), NULL))
		die("MODIFY_QP to RTS refused");
}

/* WRITE number @i of @len bytes from DATA into B's MR, signaled or not. */
static void post_write(uint64_t i, uint32_t len, bool signaled)
{
	uint64_t at = WR_BUF + (i % QS) * 128;
	struct virtio_rdma_send_wr *wr = (void *)(A.ram + at);
	struct virtio_rdma_sge *sge = (void *)(wr + 1);
	struct vdrv_buf b = { at, WR_LEN };

	memset(wr, 0, WR_LEN);
	wr->wr_id = htole64(i);
	wr->opcode = VIRTIO_RDMA_WR_RDMA_WRITE;
	wr->send_flags = signaled ? VIRTIO_RDMA_SEND_SIGNALED : 0;
	wr->num_sge = htole16(1);
	wr->rdma.remote_addr = htole64(MR_VA);
	wr->rdma.rkey = htole32(B.mr_key);
	*sge = (struct virtio_rdma_sge){ htole64(DATA), htole32(len), htole32(A.dma_key) };
	/* The device gives a WR's buffer back once it copied it out. */
	while (vdrv_get_used(&A.sq, NULL, NULL) > 0)
		;
	if (vdrv_add(&A.sq, &b, 1, 0, false, i) < 0)
		die("send ring full");
	kick(&A, &A.sq, SQ_VQ);
}

/* The next completion on A's CQ, which must be WRITE @i's; its buffer posted again. */
static void next_cqe(uint64_t i)
{
	struct virtio_rdma_req_notify_cq arm = { .cqn = htole32(A.cqn),
						  .flags = htole32(VIRTIO_RDMA_NOTIFY_NEXT) };
	struct virtio_rdma_cqe e;
	double end = secs(CLOCK_MONOTONIC) + 10;
	uint64_t slot;
	int r;

	while (!(r = vdrv_get_used(&A.cq, &slot, NULL))) {
		if (secs(CLOCK_MONOTONIC) > end)
			die("no completion in 10 s");
		if (!waiting)
			continue;
		if (ctrl(&A, VIRTIO_RDMA_CMD_REQ_NOTIFY_CQ, &arm, sizeof(arm), NULL))
			die("REQ_NOTIFY_CQ refused");
		/* Armed: a completion from now on interrupts; one from before is seen here. */
		if ((r = vdrv_get_used(&A.cq, &slot, NULL)))
			break;
		wait_irq(&A);
	}
	if (r < 0)
		die("CQ ring broken");
	memcpy(&e, A.ram + CQ_BUFS + slot * 64, sizeof(e));
	if (e.status != VIRTIO_RDMA_WC_SUCCESS || le64toh(e.wr_id) != i) {
		fprintf(stderr, "rdma_stream: WRITE %llu completed with status %u (wr_id %llu)\n",
			(unsigned long long)i, e.status, (unsigned long long)le64toh(e.wr_id));
		exit(1);
	}
	post_cq_buf(&A, (unsigned int)slot);
	kick(&A, &A.cq, CQ_VQ);
}

/* Byte @i of the message A writes. */
static uint8_t message_byte(uint64_t i)
{
	return (uint8_t)(i * 7 + 1);
}

static void pipe_put(int fd, const void *p, size_t len)
{
	if (write(fd, p, len) != (ssize_t)len)
		die("pipe write");
}

/* All of @len bytes, or false at the peer's end (it died or is done). */
static bool pipe_get(int fd, void *p, size_t len)
{
	return read(fd, p, len) == (ssize_t)len;
}

static void info_put(int fd, const struct node *n)
{
	struct peer_info pi = { n->qpn, n->ip, n->mr_key };

	memcpy(pi.mac, n->mac, sizeof(pi.mac));
	pipe_put(fd, &pi, sizeof(pi));
}

static void info_get(int fd, struct node *shadow)
{
	struct peer_info pi;

	if (!pipe_get(fd, &pi, sizeof(pi)))
		die("the peer process went before it connected");
	shadow->qpn = pi.qpn;
	shadow->ip = pi.ip;
	shadow->mr_key = pi.mr_key;
	memcpy(shadow->mac, pi.mac, sizeof(pi.mac));
}

/* Whether B's MR holds the message and B's device took all @pkts packets (or more). */
static bool b_holds(uint64_t len, uint64_t pkts)
{
	struct virtio_rdma_stats sb;
	uint64_t i;

	for (i = 0; i < len; i++)
		if (B.ram[MR_AREA + i] != message_byte(i)) {
			fprintf(stderr, "rdma_stream: B's MR does not hold the bytes A wrote\n");
			return false;
		}
	/* A WRITE shorter than asked would not show in the MR's bytes. */
	virtio_rdma_get_stats(B.rdma, &sb);
	if (sb.rx_frames < pkts) {
		fprintf(stderr, "rdma_stream: B took %llu frames, the WRITEs have %llu packets\n",
			(unsigned long long)sb.rx_frames, (unsigned long long)pkts);
		return false;
	}
	return true;
}

/*
 * -p: B's process. It connects to A, then waits on the pipe: the stream
 * starts (a byte), it ends (len and packets), and B answers with its
 * verdict and the CPU it used in between.
 */
static int b_process(const char *hub, uint8_t mtu)
{
	struct b_report rep = { 0 };
	uint64_t end[2];
	uint8_t go;
	double c0;

	node_up(&B, hub, 2);
	node_objects(&B);
	info_get(to_b, &A);
	node_connect(&B, &A, mtu);
	info_put(to_a, &B);
	if (pipe_get(to_b, &go, 1)) {
		c0 = secs(CLOCK_PROCESS_CPUTIME_ID);
		if (pipe_get(to_b, end, sizeof(end))) {
			rep.cpu = secs(CLOCK_PROCESS_CPUTIME_ID) - c0;
			rep.ok = b_holds(end[0], end[1]);
			pipe_put(to_a, &rep, sizeof(rep));
		}
	}
	node_down(&B);
	return rep.ok ? 0 : 1;
}

static uint8_t mtu_enum(unsigned int mtu)
{
	switch (mtu) {
	case 256: return VIRTIO_RDMA_MTU_256;
	case 512: return VIRTIO_RDMA_MTU_512;
	case 1024: return VIRTIO_RDMA_MTU_1024;
	case 2048: return VIRTIO_RDMA_MTU_2048;
	case 4096: return VIRTIO_RDMA_MTU_4096;
	}
	die("-m: the path MTU is 256, 512, 1024, 2048 or 4096");
	return 0;
}

static unsigned long num(const char *s, unsigned long lo, unsigned long hi, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi) {
		fprintf(stderr, "rdma_stream: %s: %s is not in %lu..%lu\n", what, s, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long len = 65536, mtu = 1024, mib = 512, out = 16;
	bool quiet = false, two = false;
	struct b_report rep = { 1, 0 };
	int pa[2], pb[2], st;
	pid_t child = -1;
	char dir[] = "/tmp/vlab-rdma-stream.XXXXXX", hub[64];
	double t0, t1, c0, c1, d0, d1;
	uint64_t total, posted, done, i;
	int opt;

	while ((opt = getopt(argc, argv, "l:m:s:n:wpq")) != -1) {
		switch (opt) {
		case 'l': len = num(optarg, 1, MR_PAGES << 12, "-l"); break;
		case 'm': mtu = num(optarg, 256, 4096, "-m"); break;
		case 's': mib = num(optarg, 1, 1 << 16, "-s"); break;
		case 'n': out = num(optarg, 1, QS / 2, "-n"); break;
		case 'w': waiting = true; break;
		case 'p': two = true; break;
		case 'q': quiet = true; break;
		default:
			fprintf(stderr, "usage: rdma_stream [-l LEN] [-m MTU] [-s SIZE_MIB] "
				"[-n INFLIGHT] [-w] [-p] [-q]\n");
			return 2;
		}
	}
	if (waiting && (out < 2 || out % 2))
		die("-w: INFLIGHT is two halves, an even number");
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(hub, sizeof(hub), "%s/hub", dir);
	if (two) {
		/* Before any thread: B's process starts clean. */
		if (pipe2(pa, O_CLOEXEC) || pipe2(pb, O_CLOEXEC))
			die("pipe");
		to_a = pa[1];
		to_b = pb[0];
		child = fork();
		if (child < 0)
			die("fork");
		if (!child) {
			close(pa[0]);
			close(pb[1]);
			_exit(b_process(hub, mtu_enum((unsigned int)mtu)));
		}
		close(pa[1]);
		close(pb[0]);
		to_a = pa[0];
		to_b = pb[1];
	}
	node_up(&A, hub, 1);
	node_objects(&A);
	if (two) {
		info_put(to_b, &A);
		info_get(to_a, &B);
		node_connect(&A, &B, mtu_enum((unsigned int)mtu));
	} else {
		node_up(&B, hub, 2);
		node_objects(&B);
		node_connect(&A, &B, mtu_enum((unsigned int)mtu));
		node_connect(&B, &A, mtu_enum((unsigned int)mtu));
	}
	for (i = 0; i < len; i++)
		A.ram[DATA + i] = message_byte(i);
	/* The first WRITE also shows that the two see each other on the hub. */
	post_write(0, (uint32_t)len, true);
	next_cqe(0);

	total = ((uint64_t)mib << 20) / len ?: 1;
	if (two)
		pipe_put(to_b, "S", 1);
	t0 = secs(CLOCK_MONOTONIC);
	c0 = secs(CLOCK_PROCESS_CPUTIME_ID);
	d0 = secs(CLOCK_THREAD_CPUTIME_ID);
	for (posted = done = 0; done < total;) {
		if (!waiting) {
			while (posted < total && posted - done < out) {
				post_write(1 + posted, (uint32_t)len, true);
				posted++;
			}
			next_cqe(1 + done++);
			continue;
		}
		/* Two halves out; each half's last is signaled and completes it. */
		while (posted < total && posted - done < out) {
			uint64_t end_of_half = posted - posted % (out / 2) + out / 2 - 1;

			post_write(1 + posted, (uint32_t)len,
				   posted == end_of_half || posted + 1 == total);
			posted++;
		}
		{
			uint64_t last = done - done % (out / 2) + out / 2 - 1;

			if (last >= total)
				last = total - 1;
			next_cqe(1 + last);
			done = last + 1;
		}
	}
	t1 = secs(CLOCK_MONOTONIC);
	c1 = secs(CLOCK_PROCESS_CPUTIME_ID);
	d1 = secs(CLOCK_THREAD_CPUTIME_ID);
	{
		uint64_t pkts = total * ((len + mtu - 1) / mtu);
		uint64_t end[2] = { len, pkts };

		if (two) {
			pipe_put(to_b, end, sizeof(end));
			if (!pipe_get(to_a, &rep, sizeof(rep)))
				die("B's process went without a verdict");
		} else {
			rep.ok = b_holds(len, pkts);
		}
		if (!rep.ok)
			die("B's side of the stream is wrong");
		double mbs = total * len / (t1 - t0) / 1e6;

		if (quiet)
			printf("%.0f\n", mbs);
		else
			printf("rdma_stream: %lu MiB in %lu-byte WRITEs, MTU %lu, %s, %lu out%s: "
			       "%.0f MB/s, %.0f ns device CPU a packet\n", mib, len, mtu,
			       waiting ? "waiting" : "polling", out, two ? ", two processes" : "",
			       mbs, ((c1 - c0) - (d1 - d0) + rep.cpu) * 1e9 / pkts);
	}
	node_down(&A);
	if (two) {
		if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
			die("B's process failed");
	} else {
		node_down(&B);
	}
	rmdir(hub);
	rmdir(dir);
	return 0;
}
