// SPDX-License-Identifier: GPL-2.0
/*
 * rdma_rc: RC traffic between two guests, each on its own vlab with a
 * virtio-rdma device on a NIC of a shared hub (`--net hub=DIR,mac=M
 * --rdma net=0`), driven at CPL3 by polling: control requests on vq 0,
 * completions in buffers on CQ 0's vq, work requests on QP 2's send and
 * receive vqs (virtio/virtio_rdma.h). The NIC itself is brought up (its
 * port carries the RoCEv2 frames) and left alone.
 *
 * Both sides make a PD, a CQ, a DMA MR for their own buffers, a user MR
 * over 132 KiB others may write, read and update, and an RC QP taken to
 * RTS towards the peer's QP 2. Then:
 *   client: SEND hello {its MR's address and rkey}; the server answers
 *   with its own; client WRITEs 64 KiB into the server's MR and says so
 *   with a zero-length WRITE_WITH_IMM; the server checks it, WRITEs 64 KiB
 *   back and SENDs "done"; the client checks that, READs 64 KiB the server
 *   filled, FETCH_ADDs the server's counter 100 times (each original value
 *   seen once, in order), READs the counter (100) and SENDs "bye".
 * Every byte is checked against a pattern; "rdma_rc: ok" at the end.
 * With rounds=N, the client then WRITEs, READs back and FETCH_ADDs N more
 * times (until=request: until the test-request port reads 1), for a guest
 * to be migrated meanwhile, and reports the longest round; its "bye" tells
 * the server how many rounds there were, which its counter must show.
 *
 * The driver is rdma_pmd.c.
 *
 * With bench=N (the client's), before the rounds: for 64 B, 4 KiB and
 * 64 KiB, N signaled RDMA WRITEs one at a time (each timed from post to
 * completion: p50 and p99), then a stream of them with BENCH_WINDOW in
 * flight (MB/s), one "rdma_rc: bench ..." line per size (make bench-rdma).
 * The stream is stream_mib MiB (512, what the bench's copy limit moves),
 * no fewer than N and no more than 8 x N messages unless stream_mib is
 * given; bench_len=L measures that size only (both: a long stream of one
 * size, to profile). Then the same
 * stream again with the vCPU halted while it waits, as an application
 * blocked on its completion channel: 2 x BENCH_HALF WRITEs out, only each
 * BENCH_HALF-th signaled, the CQ armed (halted for the control queue's
 * answer too) and its interrupt awaited
 * (payload_wait_irq()), the half refilled when its last completes; the
 * vCPU's host thread sleeps meanwhile, and leaves its CPU to the devices
 * (on a 2-CPU host a polling vCPU holds one of the two).
 *
 * cmdline: role=server|client ip=A.B.C.D peer_ip=A.B.C.D peer_mac=M [mtu=1024]
 *          [bench=N [stream_mib=M] [bench_len=L]] [rounds=N | until=request] (the client's)
 */
#include "rdma_pmd.h"

PAYLOAD_NAME("rdma_rc");

#define MR_BYTES	(132u << 10)
#define CHUNK		(64u << 10)
#define COUNTER_OFF	(128u << 10)
#define MSG_BYTES	64
#define MAGIC		0x72646d61	/* "rdma" */
#define BENCH_WINDOW	16		/* WRITEs in flight, polling (the send queue holds 128) */
#define BENCH_HALF	64		/* the waiting stream: signaled every 64, 128 out */
#define BENCH_IRQ	0x40		/* CQ 0's interrupt vector */
#define BENCH_MAX	4096		/* latency samples per size */
#define OK		VIRTIO_RDMA_WC_SUCCESS

struct hello {
	uint32_t magic;
	uint32_t rkey;
	uint64_t va;
	char text[16];
};

static struct vpmd_dev nic;
static struct rpmd r;
static uint8_t *msgs, *mr, *local;
static uint32_t mr_key;
static struct hello peer;
static uint64_t rounds_done;	/* the client's, for its "bye" */

static uint8_t pattern(uint32_t seed, uint32_t i)
{
	return (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

static void fill(uint8_t *p, uint32_t len, uint32_t seed)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern(seed, i);
}

static int check(const uint8_t *p, uint32_t len, uint32_t seed, const char *what)
{
	uint32_t i;

	for (i = 0; i < len; i++) {
		if (p[i] != pattern(seed, i)) {
			printf("rdma_rc: %s: byte %u is 0x%x, not 0x%x\n", what, i, p[i],
			       pattern(seed, i));
			return -1;
		}
	}
	printf("rdma_rc: %s: %u bytes right\n", what, len);
	return 0;
}

static struct hello *my_hello(const char *text)
{
	struct hello *h = (void *)(msgs + (RPMD_QS - 1) * MSG_BYTES);

	memset(h, 0, sizeof(*h));
	h->magic = MAGIC;
	h->rkey = mr_key;
	h->va = strcmp(text, "bye") ? (uintptr_t)mr : rounds_done;
	memcpy(h->text, text, strlen(text) + 1);
	return h;
}

/* The next SEND from the peer (its receive buffer posted again): 0 with *@h. */
static int recv_msg(struct hello *h, const char *want)
{
	struct virtio_rdma_cqe e;
	uint8_t *b;

	if (rpmd_next_cqe(&r, &e))
		return -1;
	if (e.status != OK || e.opcode != VIRTIO_RDMA_WC_RECV || e.wr_id < 100 ||
	    e.wr_id >= 108 || e.byte_len != sizeof(*h)) {
		printf("rdma_rc: expected a message, got status %u opcode %u wr %lu len %u\n",
		       e.status, e.opcode, (unsigned long)e.wr_id, e.byte_len);
		return -1;
	}
	b = msgs + (e.wr_id - 100) * MSG_BYTES;
	memcpy(h, b, sizeof(*h));
	if (h->magic != MAGIC || strcmp(h->text, want)) {
		printf("rdma_rc: a message that is not \"%s\"\n", want);
		return -1;
	}
	printf("rdma_rc: got \"%s\"\n", want);
	return rpmd_post_recv(&r, e.wr_id, b, MSG_BYTES);
}

static int send_msg(uint64_t wr_id, const char *text)
{
	struct hello *h = my_hello(text);

	return rpmd_post_send(&r, VIRTIO_RDMA_WR_SEND, wr_id, h, sizeof(*h), 0, 0, 0, 0) ?:
	       rpmd_expect(&r, wr_id, OK, VIRTIO_RDMA_WC_SEND, sizeof(*h));
}

static int server(void)
{
	struct virtio_rdma_cqe e;
	uint64_t v = 0;

	fill(mr + CHUNK, CHUNK, 3);
	memcpy(mr + COUNTER_OFF, &v, 8);
	printf("rdma_rc: server ready\n");
	if (recv_msg(&peer, "hello") || send_msg(1, "welcome"))
		return -1;
	/* The client's WRITE, announced by a WRITE_WITH_IMM of nothing. */
	if (rpmd_next_cqe(&r, &e))
		return -1;
	if (e.status || e.opcode != VIRTIO_RDMA_WC_RECV_RDMA_IMM ||
	    __builtin_bswap32(e.imm_or_inv) != 0x5752) {
		printf("rdma_rc: expected WRITE_WITH_IMM 0x5752, got status %u opcode %u\n",
		       e.status, e.opcode);
		return -1;
	}
	if (rpmd_post_recv(&r, e.wr_id, msgs + (e.wr_id - 100) * MSG_BYTES, MSG_BYTES) ||
	    check(mr, CHUNK, 1, "the client's RDMA WRITE"))
		return -1;
	fill(local, CHUNK, 2);
	if (rpmd_post_send(&r, VIRTIO_RDMA_WR_RDMA_WRITE, 2, local, CHUNK, peer.va, peer.rkey, 0,
			   0) || rpmd_expect(&r, 2, OK, VIRTIO_RDMA_WC_RDMA_WRITE, CHUNK) ||
	    send_msg(3, "done"))
		return -1;
	/*
	 * The client's rounds, if any, need nothing from us: wait as long as they
	 * take (make bench-rdma pauses this vCPU meanwhile: the device answers).
	 */
	r.wait_us = 600000000;
	printf("rdma_rc: server waits for bye\n");
	if (recv_msg(&peer, "bye"))
		return -1;
	memcpy(&v, mr + COUNTER_OFF, 8);
	if (v != 100 + peer.va) {
		printf("rdma_rc: the counter is %lu, not 100 + %lu rounds\n", v,
		       (unsigned long)peer.va);
		return -1;
	}
	printf("rdma_rc: the counter is %lu\n", v);
	return 0;
}

/*
 * rounds=N: N more times, WRITE 64 KiB of a pattern of the round's own
 * into the server's MR, READ it back and FETCH_ADD the counter, each
 * checked: traffic that goes on while either guest is migrated.
 */
static int rounds_phase(void)
{
	uint64_t rounds = payload_arg_u64("rounds", 0), n, v, last = rdtsc(), gap = 0, now;
	const char *until = payload_arg("until");
	bool until_request = until && !strcmp(until, "request");

	if (until_request) {
		rounds = ~0ULL;
		printf("rdma_rc: rounds until asked\n");
	}
	for (n = 0; n < rounds; n++) {
		/* A port read traps to the #GP handler here: not every round. */
		if (until_request && n % 50 == 0 && inb(TEST_REQUEST_PORT) >= 1)
			break;
		uint32_t seed = 10 + (uint32_t)n;
		uint64_t id = 1000 + 4 * n;

		fill(local, CHUNK, seed);
		memset(local + CHUNK, 0, CHUNK);
		if (rpmd_post_send(&r, VIRTIO_RDMA_WR_RDMA_WRITE, id, local, CHUNK, peer.va,
				   peer.rkey, 0, 0) ||
		    rpmd_post_send(&r, VIRTIO_RDMA_WR_RDMA_READ, id + 1, local + CHUNK, CHUNK,
				   peer.va, peer.rkey, 0, 0) ||
		    rpmd_post_send(&r, VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD, id + 2, local + 2 * CHUNK,
				   8, peer.va + COUNTER_OFF, peer.rkey, 0, 1) ||
		    rpmd_expect(&r, id, OK, VIRTIO_RDMA_WC_RDMA_WRITE, CHUNK) ||
		    rpmd_expect(&r, id + 1, OK, VIRTIO_RDMA_WC_RDMA_READ, CHUNK) ||
		    rpmd_expect(&r, id + 2, OK, VIRTIO_RDMA_WC_FETCH_ADD, 8))
			return -1;
		/* The longest stall a peer sees: a migration's shows here. */
		now = rdtsc();
		if (now - last > gap)
			gap = now - last;
		last = now;
		memcpy(&v, local + 2 * CHUNK, 8);
		if (v != 100 + n) {
			printf("rdma_rc: round %lu: FETCH_ADD found %lu\n", n, v);
			return -1;
		}
		if (memcmp(local, local + CHUNK, CHUNK)) {
			printf("rdma_rc: round %lu: READ did not bring back what WRITE put\n", n);
			return -1;
		}
		if (n % 100 == 99)
			printf("rdma_rc: round %lu\n", n + 1);
	}
	rounds_done = n;
	if (n)
		printf("rdma_rc: %lu rounds of WRITE, READ and FETCH_ADD right; the longest round "
		       "took %lu us\n", n, gap / vpmd_us_to_tsc(1));
	return 0;
}

static void sort_u64(uint64_t *v, unsigned int n)
{
	unsigned int gap, i, j;

	for (gap = n / 2; gap; gap /= 2)
		for (i = gap; i < n; i++)
			for (j = i; j >= gap && v[j - gap] > v[j]; j -= gap) {
				uint64_t t = v[j];

				v[j] = v[j - gap];
				v[j - gap] = t;
			}
}

/* WRITE number @i of a waiting stream of @stream from @id, signaled if it ends a half. */
static int post_half_write(uint32_t len, uint64_t id, uint64_t i, uint64_t stream)
{
	uint32_t flags = (i % BENCH_HALF == BENCH_HALF - 1 || i + 1 == stream) ?
			 VIRTIO_RDMA_SEND_SIGNALED : 0;

	return rpmd_post_send_flags(&r, flags, VIRTIO_RDMA_WR_RDMA_WRITE, id + i, local, len,
				    peer.va, peer.rkey, 0, 0);
}

/* The stream of @stream WRITEs of @len again, halted while waiting: one result line. */
static int bench_waiting(uint32_t len, uint64_t stream, uint64_t id)
{
	uint64_t tsc_us = vpmd_us_to_tsc(1), posted = 0, done = 0, waits, t0, us;
	struct virtio_rdma_cqe e;

	waits = payload_irq_waits();
	t0 = rdtsc();
	for (; posted < stream && posted < 2 * BENCH_HALF; posted++)
		if (post_half_write(len, id, posted, stream))
			return -1;
	while (done < stream) {
		uint64_t last = done + BENCH_HALF < stream ? done + BENCH_HALF - 1 : stream - 1;

		if (rpmd_wait_cqe(&r, &e))
			return -1;
		if (e.status != OK || e.wr_id != id + last) {
			printf("rdma_rc: waiting stream: completion wr %lu status %u, wanted wr %lu\n",
			       (unsigned long)e.wr_id, e.status, (unsigned long)(id + last));
			return -1;
		}
		done = last + 1;
		for (; posted < stream && posted < done + 2 * BENCH_HALF; posted++)
			if (post_half_write(len, id, posted, stream))
				return -1;
	}
	us = (rdtsc() - t0) / tsc_us ?: 1;
	printf("rdma_rc: bench write-waiting %u bytes: %lu messages in %lu us: %lu.%02lu MB/s, "
	       "%lu waits\n", len, stream, us, stream * len / us, stream * len * 100 / us % 100,
	       (unsigned long)(payload_irq_waits() - waits));
	return 0;
}

/* @n WRITEs of @len, one at a time, then a stream of them: one result line. */
static int bench_size(uint32_t len, unsigned int n, uint64_t *lat)
{
	uint64_t t0, tsc_us = vpmd_us_to_tsc(1), id = 1u << 20, posted, done, stream, us;
	unsigned int i;

	for (i = 0; i < n; i++, id++) {
		t0 = rdtsc();
		if (rpmd_post_send(&r, VIRTIO_RDMA_WR_RDMA_WRITE, id, local, len, peer.va,
				   peer.rkey, 0, 0) ||
		    rpmd_expect(&r, id, OK, VIRTIO_RDMA_WC_RDMA_WRITE, len))
			return -1;
		lat[i] = rdtsc() - t0;
	}
	sort_u64(lat, n);
	/* 512 MiB, but no fewer than n and no more than 8 x n messages. */
	stream = (payload_arg_u64("stream_mib", 512) << 20) / len;
	if (stream > 8ull * n && !payload_arg_u64("stream_mib", 0))
		stream = 8ull * n;
	if (stream < n)
		stream = n;
	t0 = rdtsc();
	for (posted = done = 0; done < stream; done++) {
		while (posted < stream && posted - done < BENCH_WINDOW) {
			if (rpmd_post_send(&r, VIRTIO_RDMA_WR_RDMA_WRITE, id + posted, local, len,
					   peer.va, peer.rkey, 0, 0))
				return -1;
			posted++;
		}
		if (rpmd_expect(&r, id + done, OK, VIRTIO_RDMA_WC_RDMA_WRITE, len))
			return -1;
	}
	us = (rdtsc() - t0) / tsc_us ?: 1;	/* bytes per us: MB/s */
	printf("rdma_rc: bench write %u bytes: p50 %lu.%02lu us p99 %lu.%02lu us, "
	       "%lu messages in %lu us: %lu.%02lu MB/s\n", len,
	       lat[n / 2] / tsc_us, lat[n / 2] * 100 / tsc_us % 100,
	       lat[n * 99 / 100] / tsc_us, lat[n * 99 / 100] * 100 / tsc_us % 100,
	       stream, us, stream * len / us, stream * len * 100 / us % 100);
	return bench_waiting(len, stream, id + stream);
}

static int bench_phase(void)
{
	static const uint32_t sizes[] = { 64, 4096, CHUNK };
	uint64_t n = payload_arg_u64("bench", 0);
	uint64_t *lat;
	unsigned int i;

	if (!n)
		return 0;
	if (n > BENCH_MAX)
		n = BENCH_MAX;
	lat = vpmd_alloc(n * sizeof(*lat), 64);
	if (!lat || rpmd_cq_irq(&r, BENCH_IRQ))
		return -1;
	fill(local, CHUNK, 7);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (payload_arg_u64("bench_len", sizes[i]) == sizes[i] &&
		    bench_size(sizes[i], (unsigned int)n, lat))
			return -1;
	/* Still the same bytes at the other end: the WRITEs were not empty gestures. */
	memset(local + CHUNK, 0, CHUNK);
	if (rpmd_post_send(&r, VIRTIO_RDMA_WR_RDMA_READ, 300, local + CHUNK, CHUNK, peer.va,
			   peer.rkey, 0, 0) ||
	    rpmd_expect(&r, 300, OK, VIRTIO_RDMA_WC_RDMA_READ, CHUNK) ||
	    check(local + CHUNK, CHUNK, 7, "the bench's WRITEs read back"))
		return -1;
	return 0;
}

static int client(void)
{
	uint64_t v;
	unsigned int i;

	if (send_msg(1, "hello") || recv_msg(&peer, "welcome"))
		return -1;
	fill(local, CHUNK, 1);
	if (rpmd_post_send(&r, VIRTIO_RDMA_WR_RDMA_WRITE, 2, local, CHUNK, peer.va, peer.rkey, 0,
			   0) ||
	    rpmd_post_send(&r, VIRTIO_RDMA_WR_RDMA_WRITE_IMM, 3, local, 0, peer.va, peer.rkey,
			   0x5752, 0) ||
	    rpmd_expect(&r, 2, OK, VIRTIO_RDMA_WC_RDMA_WRITE, CHUNK) ||
	    rpmd_expect(&r, 3, OK, VIRTIO_RDMA_WC_RDMA_WRITE, 0) || recv_msg(&peer, "done") ||
	    check(mr, CHUNK, 2, "the server's RDMA WRITE"))
		return -1;
	memset(local, 0, CHUNK);
	if (rpmd_post_send(&r, VIRTIO_RDMA_WR_RDMA_READ, 4, local, CHUNK, peer.va + CHUNK,
			   peer.rkey, 0, 0) ||
	    rpmd_expect(&r, 4, OK, VIRTIO_RDMA_WC_RDMA_READ, CHUNK) ||
	    check(local, CHUNK, 3, "RDMA READ"))
		return -1;
	for (i = 0; i < 100; i++) {
		if (rpmd_post_send(&r, VIRTIO_RDMA_WR_ATOMIC_FETCH_ADD, 10 + i, local + CHUNK, 8,
				   peer.va + COUNTER_OFF, peer.rkey, 0, 1) ||
		    rpmd_expect(&r, 10 + i, OK, VIRTIO_RDMA_WC_FETCH_ADD, 8))
			return -1;
		memcpy(&v, local + CHUNK, 8);
		if (v != i) {
			printf("rdma_rc: FETCH_ADD %u found %lu\n", i, v);
			return -1;
		}
	}
	if (rpmd_post_send(&r, VIRTIO_RDMA_WR_RDMA_READ, 200, local + CHUNK, 8,
			   peer.va + COUNTER_OFF, peer.rkey, 0, 0) ||
	    rpmd_expect(&r, 200, OK, VIRTIO_RDMA_WC_RDMA_READ, 8))
		return -1;
	memcpy(&v, local + CHUNK, 8);
	if (v != 100) {
		printf("rdma_rc: the counter reads %lu after 100 FETCH_ADDs\n", v);
		return -1;
	}
	printf("rdma_rc: 100 FETCH_ADDs, each original value once\n");
	if (bench_phase() || rounds_phase())
		return -1;
	return send_msg(5, "bye");	/* its va field: the rounds done */
}

int payload_main(void)
{
	const char *role = payload_arg("role");
	uint32_t ip, peer_ip, qpn, access = VIRTIO_RDMA_ACCESS_REMOTE_WRITE |
					     VIRTIO_RDMA_ACCESS_REMOTE_READ |
					     VIRTIO_RDMA_ACCESS_REMOTE_ATOMIC;
	struct vpmd_config nc;
	uint8_t peer_mac[6];
	unsigned int k;

	if (!role || (strcmp(role, "server") && strcmp(role, "client")) ||
	    rpmd_parse_ip(payload_arg("ip"), &ip) ||
	    rpmd_parse_ip(payload_arg("peer_ip"), &peer_ip) || !payload_arg("peer_mac") ||
	    vpmd_parse_mac(payload_arg("peer_mac"), peer_mac)) {
		printf("rdma_rc: needs role=server|client ip=A.B.C.D peer_ip=A.B.C.D peer_mac=M\n");
		return 1;
	}
	/* The NIC's port carries our frames: bring it up, then leave it. */
	vpmd_config_init(&nc);
	if (vpmd_probe(&nic) || vpmd_init(&nic, &nc) || rpmd_up(&r, 0) || rpmd_objects(&r, ip))
		return 1;
	msgs = vpmd_alloc(RPMD_QS * MSG_BYTES, 64);
	mr = vpmd_alloc(MR_BYTES, 4096);
	local = vpmd_alloc(2 * CHUNK + 4096, 4096);
	if (!msgs || !mr || !local ||
	    rpmd_reg_mr(&r, mr, MR_BYTES, access | VIRTIO_RDMA_ACCESS_LOCAL_WRITE, &mr_key) ||
	    rpmd_create_qp(&r, &qpn))
		return 1;
	/* mtu=256..4096: the path MTU (both sides give the same), 1024 if not given. */
	switch (payload_arg_u64("mtu", 1024)) {
	case 256: r.path_mtu = VIRTIO_RDMA_MTU_256; break;
	case 512: r.path_mtu = VIRTIO_RDMA_MTU_512; break;
	case 1024: r.path_mtu = VIRTIO_RDMA_MTU_1024; break;
	case 2048: r.path_mtu = VIRTIO_RDMA_MTU_2048; break;
	case 4096: r.path_mtu = VIRTIO_RDMA_MTU_4096; break;
	default:
		printf("rdma_rc: mtu= takes 256, 512, 1024, 2048 or 4096\n");
		return 1;
	}
	if (rpmd_connect(&r, qpn, RPMD_QPN, peer_ip, peer_mac, access))
		return 1;
	for (k = 0; k < 8; k++)
		if (rpmd_post_recv(&r, 100 + k, msgs + k * MSG_BYTES, MSG_BYTES))
			return 1;
	printf("rdma_rc: %s up: QP %u, MR rkey 0x%x\n", role, qpn, mr_key);
	if (!strcmp(role, "server") ? server() : client())
		return 1;
	printf("rdma_rc: ok\n");
	return 0;
}
