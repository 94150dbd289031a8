// SPDX-License-Identifier: GPL-2.0
/*
 * A virtio-rdma device's state tree as a migration stream or snapshot
 * delivers it (the device's part: PDs, GIDs, CQs with their backlog, AHs,
 * MRs with their pages, QPs with their WRs and RC transport), loaded into
 * a fresh device. Whatever the tree, the load refuses it or takes it
 * whole (no crash, no leak, nothing read past what it holds); a device
 * that took it saves again, and runs: its peer's ACK and a READ request
 * are handled (responses through the loaded MRs' checks, every frame sent
 * back parsing as RoCEv2).
 *
 * Seeds (FUZZ_MAKE_SEEDS=DIR): the device's own saves, set up; with a
 * SEND, a WRITE, a READ and an inline SEND outstanding; and with that and
 * a solicited SEND from the peer received, its completion waiting.
 */
#include "rdma_fuzz.h"
#include "vmm/migrate/state.h"

static uint8_t *copy;
static struct virtio_dev *v;

static void save(struct state_buf *sb)
{
	if (state_buf_init(sb))
		abort();
	state_begin_node(sb, "dev", 1);
	v->ops->save(v, sb);
	state_end_node(sb);
	if (state_buf_finish(sb))
		abort();
}

static void post(uint8_t opcode, uint64_t id, uint32_t len)
{
	struct {
		struct virtio_rdma_send_wr wr;
		struct virtio_rdma_sge sge;
	} __attribute__((packed)) w = { 0 };

	w.wr.wr_id = htole64(id);
	w.wr.opcode = opcode;
	w.wr.send_flags = VIRTIO_RDMA_SEND_SIGNALED;
	w.wr.num_sge = htole16(1);
	w.wr.rdma.remote_addr = htole64(0x1000);
	w.wr.rdma.rkey = htole32(0x300);
	w.sge = (struct virtio_rdma_sge){ htole64(0x20000), htole32(len), htole32(dma_key) };
	if (virtio_rdma_post_send_sync(v, 2, &w, sizeof(w)))
		abort();
}

static void post_inline(uint64_t id, const char *data, uint32_t len)
{
	struct {
		struct virtio_rdma_send_wr wr;
		char data[64];
	} __attribute__((packed)) w = { 0 };

	w.wr.wr_id = htole64(id);
	w.wr.opcode = VIRTIO_RDMA_WR_SEND;
	w.wr.send_flags = VIRTIO_RDMA_SEND_SIGNALED | VIRTIO_RDMA_SEND_INLINE;
	w.wr.inline_len = htole32(len);
	memcpy(w.data, data, len);
	if (virtio_rdma_post_send_sync(v, 2, &w, sizeof(w.wr) + len))
		abort();
}

/* Packet @p from the peer, as a frame, into the device. */
static void from_peer(const struct roce_pkt *p)
{
	static uint8_t frame[2048];
	size_t n = roce_build(frame, sizeof(frame), p);

	if (n)
		virtio_rdma_frame_sync(v, frame, n);
}

/* The peer's SEND of 100 bytes at its next PSN, SE set: a completion for the CQ. */
static void receive_solicited(void)
{
	static uint8_t data[100];
	struct roce_pkt p;

	peer_pkt(&p);
	p.dqpn = 2;
	p.opcode = ROCE_SEND_ONLY;
	p.psn = 100;
	p.solicited = true;
	p.payload = data;
	p.payload_len = sizeof(data);
	from_peer(&p);
}

static void setup_once(void)
{
	uint64_t i;

	ram = aligned_alloc(4096, RAM);
	copy = malloc(RAM);
	if (!ram || !copy || guest_mem_init_buffer(&gm, ram, RAM))
		abort();
	for (i = 0; i < RAM; i++)
		copy[i] = (uint8_t)(i * 29 + (i >> 11));
	memcpy(ram, copy, RAM);
	v = device();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_MAKE_SEEDS");
	struct state_buf sb;

	if (!dir)
		return 0;
	setup_once();
	device_setup(v);
	save(&sb);
	fuzz_write_seed(dir, "set-up", state_blob(&sb), state_blob_size(&sb));
	state_buf_free(&sb);
	post(VIRTIO_RDMA_WR_SEND, 1, 700);
	post(VIRTIO_RDMA_WR_RDMA_WRITE, 2, 300);
	post(VIRTIO_RDMA_WR_RDMA_READ, 3, 900);
	post_inline(4, "inline data travels in the state", 33);
	save(&sb);
	fuzz_write_seed(dir, "outstanding", state_blob(&sb), state_blob_size(&sb));
	state_buf_free(&sb);
	receive_solicited();
	save(&sb);
	fuzz_write_seed(dir, "received", state_blob(&sb), state_blob_size(&sb));
	state_buf_free(&sb);
	return 0;
}

/* The peer acknowledges PSN @psn, then asks to READ 600 bytes of the MR. */
static void run_a_little(void)
{
	struct roce_pkt p;

	peer_pkt(&p);
	p.dqpn = 2;
	p.opcode = ROCE_ACK;
	p.psn = 503;
	p.msn = 3;
	from_peer(&p);
	p.opcode = ROCE_READ_REQUEST;
	p.psn = 100;
	p.va = MR_VA;
	p.rkey = mr_key;
	p.dma_len = 600;
	from_peer(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct state_buf sb;
	void *fdt;
	int node;

	if (!v)
		setup_once();
	memcpy(ram, copy, RAM);
	v->ops->reset(v);
	fdt = malloc(size ? size : 1);
	if (!fdt)
		return 0;
	memcpy(fdt, data, size);
	if (!state_check(fdt, size, err, sizeof(err)) &&
	    (node = state_subnode(fdt, 0, "dev", 1, NULL, err, sizeof(err))) >= 0 &&
	    !v->ops->load(v, fdt, node, err, sizeof(err))) {
		save(&sb);
		state_buf_free(&sb);
		run_a_little();
	}
	free(fdt);
	return 0;
}
