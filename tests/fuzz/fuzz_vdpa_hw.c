// SPDX-License-Identifier: GPL-2.0
/*
 * The simulated vDPA NIC's hardware driven by a hostile driver and VMM:
 * the input is a program of IOTLB messages (update, invalidate, batches,
 * both address spaces, any permissions), group to ASID moves, DESC_ASID
 * on and off, vq object calls in any order (size, addresses, base,
 * create, ready, suspend, destroy, reset), bytes written into "guest RAM"
 * (the rings), and data-path pops and pushes. Mappings always point into
 * the 256 KiB of guest RAM, as the VMM guarantees; everything else is the
 * input's. ASan checks that no DMA reaches outside it, UBSan the rest.
 * Seeds (FUZZ_MAKE_SEEDS=DIR): programs that map RAM, bring up a vq on
 * rings the project's own driver (virtio/virtq_driver.c) wrote, split and
 * packed, and move buffers through it.
 */
#include "fuzz.h"
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "devices/vdpa/hw.h"
#include "virtio/virtq_driver.h"

#define RAM		(256u << 10)
#define NR_VQS		3
#define MAX_OPS		256

static uint8_t *ram;
static struct vdpa_hw hw;
static struct virtq_elem elem;

static void setup(void)
{
	ram = aligned_alloc(GM_PAGE_SIZE, RAM);
	if (!ram || vdpa_hw_init(&hw, NR_VQS, 0, false))
		abort();
}

/* The input, read from the front; zeros once it runs out. */
struct prog {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct prog *g, unsigned int bytes)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < bytes && g->left; i++, g->left--)
		v |= (uint64_t)*g->p++ << (8 * i);
	return v;
}

/* An IOVA near the few places drivers put things, or anywhere. */
static uint64_t iova(struct prog *g)
{
	uint8_t kind = take(g, 1);
	uint64_t off = take(g, 3);

	return kind & 1 ? off : (kind & 2 ? (1ULL << 32) : (uint64_t)-1 << 20) + off;
}

static void map(struct prog *g)
{
	uint32_t asid = take(g, 1) % 3, perm = take(g, 1) & MV_RW;
	uint64_t at = iova(g), off = take(g, 3) % RAM, size = take(g, 3);

	/* The VMM hands the device host memory it owns: never past guest RAM. */
	if (size > RAM - off)
		size = RAM - off;
	vdpa_hw_iotlb_update(&hw, asid, at, size, (uintptr_t)ram + off, perm);
}

static void data_path(struct prog *g, uint16_t idx)
{
	uint32_t len;
	unsigned int i;
	int r;

	r = vdpa_hw_vq_pop(&hw, idx, &elem);
	if (r <= 0)
		return;
	/* The device writes what it was given, then reports some length of it. */
	for (i = elem.out_num; i < elem.out_num + elem.in_num; i++)
		memset(elem.iov[i].iov_base, 0xd5, elem.iov[i].iov_len);
	len = take(g, 4);
	vdpa_hw_vq_push(&hw, idx, &elem, elem.in_len ? len % (elem.in_len + 1) : 0);
}

/* ---- seeds ---- */

struct seed {
	uint8_t b[4096];
	size_t n;
};

static void put(struct seed *s, uint64_t v, unsigned int bytes)
{
	while (bytes--) {
		s->b[s->n++] = (uint8_t)v;
		v >>= 8;
	}
}

static void put_iova(struct seed *s, uint32_t low)
{
	put(s, 1, 1);
	put(s, low, 3);
}

/* op 12: write @len bytes of @src at RAM offset @off. */
static void put_bytes(struct seed *s, uint32_t off, const uint8_t *src, uint32_t len)
{
	uint32_t n;

	for (; len; off += n, src += n, len -= n) {
		n = len > 255 ? 255 : len;
		put(s, 12, 1);
		put(s, off, 3);
		put(s, n, 1);
		memcpy(s->b + s->n, src, n);
		s->n += n;
	}
}

static void make_seed(const char *dir, const char *name, uint64_t features)
{
	static uint8_t mem[0x8000] __attribute__((aligned(4096)));
	static uint8_t aux[VDRV_AUX_BYTES(16)] __attribute__((aligned(8)));
	struct vdrv_rings r = {
		.desc = mem + 0x1000, .driver = mem + 0x2000, .device = mem + 0x3000,
		.desc_addr = 0x1000, .driver_addr = 0x2000, .device_addr = 0x3000,
	};
	struct vdrv_buf bufs[2] = { { 0x4000, 64 }, { 0x5000, 128 } };
	struct vdrv d;
	struct seed s = { .n = 0 };
	int i;

	memset(mem, 0, sizeof(mem));
	vdrv_setup(&d, &r, aux, 16, features);
	for (i = 0; i < 4; i++)
		vdrv_add(&d, bufs, i & 1, 2 - (i & 1), false, i);
	vdrv_publish(&d);
	put(&s, features, 8);
	put(&s, 0, 1);				/* map all of RAM at IOVA 0, RW */
	put(&s, 0, 1);
	put(&s, MV_RW, 1);
	put_iova(&s, 0);
	put(&s, 0, 3);
	put(&s, RAM, 3);
	put(&s, 5, 1);				/* vq 0: size 16, rings, create, ready */
	put(&s, 16, 2);
	put(&s, 6, 1);
	put_iova(&s, 0x1000);
	put_iova(&s, 0x2000);
	put_iova(&s, 0x3000);
	put(&s, 8, 1);
	put(&s, 9, 1);
	put_bytes(&s, 0x1000, mem + 0x1000, 16 * 16);
	put_bytes(&s, 0x2000, mem + 0x2000, 64);
	for (i = 0; i < 4; i++) {		/* pop and push each */
		put(&s, 13, 1);
		put(&s, 64, 4);
	}
	put(&s, 10, 1);				/* suspend, base, ready again */
	put(&s, 7, 1);
	put(&s, 2, 2);
	put(&s, 9, 1);
	fuzz_write_seed(dir, name, s.b, s.n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_MAKE_SEEDS");
	uint64_t v1 = 1ULL << VIRTIO_F_VERSION_1;

	if (dir) {
		make_seed(dir, "split", v1);
		make_seed(dir, "split-event-idx", v1 | (1ULL << VIRTIO_RING_F_EVENT_IDX));
		make_seed(dir, "packed", v1 | (1ULL << VIRTIO_F_RING_PACKED));
		make_seed(dir, "packed-in-order", v1 | (1ULL << VIRTIO_F_RING_PACKED) |
			  (1ULL << VIRTIO_F_IN_ORDER));
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prog g = { data, size };
	unsigned int ops = 0, i;
	uint16_t idx;
	uint32_t off, n;

	if (!ram)
		setup();
	/* A fresh device: no batch open, no map kept, no vq object. */
	memset(ram, 0, RAM);
	vdpa_hw_iotlb_batch_end(&hw);
	hw.persist_iotlb = false;
	hw.desc_asid = false;
	vdpa_hw_reset(&hw);
	hw.features = take(&g, 8) & ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_PACKED) |
				     (1ULL << VIRTIO_RING_F_EVENT_IDX) |
				     (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
				     (1ULL << VIRTIO_F_IN_ORDER));
	while (g.left && ops++ < MAX_OPS) {
		uint8_t op = take(&g, 1);

		idx = (op >> 4) % (NR_VQS + 1);	/* one past the last: refused */
		switch (op & 15) {
		case 0:
			map(&g);
			break;
		case 1:
			vdpa_hw_iotlb_invalidate(&hw, take(&g, 1) % 3, iova(&g), take(&g, 3));
			break;
		case 2:
			vdpa_hw_iotlb_batch_begin(&hw);
			break;
		case 3:
			vdpa_hw_iotlb_batch_end(&hw);
			break;
		case 4:
			vdpa_hw_set_group_asid(&hw, take(&g, 1) % 4, take(&g, 1) % 3);
			break;
		case 5:
			vdpa_hw_vq_set_num(&hw, idx, take(&g, 2));
			break;
		case 6:
			vdpa_hw_vq_set_addr(&hw, idx, iova(&g), iova(&g), iova(&g));
			break;
		case 7:
			vdpa_hw_vq_set_base(&hw, idx, take(&g, 2));
			break;
		case 8:
			vdpa_hw_vq_create(&hw, idx);
			break;
		case 9:
			vdpa_hw_vq_ready(&hw, idx);
			break;
		case 10:
			vdpa_hw_vq_suspend(&hw, idx);
			break;
		case 11:
			vdpa_hw_vq_destroy(&hw, idx);
			break;
		case 12:
			/* The driver writes its rings. */
			off = take(&g, 3) % RAM;
			n = take(&g, 1);
			for (i = 0; i < n && off + i < RAM; i++)
				ram[off + i] = take(&g, 1);
			break;
		case 13:
			data_path(&g, idx);
			break;
		case 14:
			hw.desc_asid = !hw.desc_asid;
			if (take(&g, 1) & 1)
				hw.persist_iotlb = !hw.persist_iotlb;
			break;
		case 15:
			vdpa_hw_reset(&hw);
			break;
		}
	}
	return 0;
}
