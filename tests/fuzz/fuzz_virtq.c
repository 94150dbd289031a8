// SPDX-License-Identifier: GPL-2.0
/*
 * The ring, driven by a hostile driver: the input is the guest memory the
 * rings and buffers live in. Its first bytes pick the layout and features
 * (split or packed, indirect, EVENT_IDX, IN_ORDER), the queue size and
 * whether the device sees memory through guest RAM or through an IOTLB
 * view with scattered, partly read-only entries. The device then pops,
 * writes, fills, flushes and toggles notifications the way virtio-net does
 * until the ring is empty or broken; ASan checks that nothing outside the
 * 64 KiB of "guest RAM" is ever touched.
 */
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "fuzz.h"
#include "virtio/virtq.h"

#define RAM		(64u << 10)
#define RING_AT		0x0000	/* desc, then avail/driver, then used/device */
#define MAX_OPS		512

static uint8_t *ram;
static struct guest_mem gm;
static struct iotlb_view iv;
static struct virtq vq;
static struct virtq_elem elem;

static void setup(void)
{
	ram = aligned_alloc(GM_PAGE_SIZE, RAM);
	if (!ram || guest_mem_init_buffer(&gm, ram, RAM) || iotlb_view_init(&iv, &gm, "fuzz"))
		abort();
}

/* IOVA page i -> guest page (i * 7) % 16, every fourth one read-only. */
static void map_scattered(void)
{
	unsigned int i;

	iotlb_clear(&iv);
	for (i = 0; i < RAM / GM_PAGE_SIZE; i++)
		iotlb_map_gpa(&iv, (uint64_t)i * GM_PAGE_SIZE, GM_PAGE_SIZE,
			      (uint64_t)((i * 7) % 16) * GM_PAGE_SIZE,
			      (i % 4 == 3) ? MV_READ : MV_RW);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t features = 1ULL << VIRTIO_F_VERSION_1;
	uint8_t mode, n;
	uint16_t qsize;
	unsigned int ops;

	if (!ram)
		setup();
	if (size < 4)
		return 0;
	mode = data[0];
	n = data[1];
	if (mode & 1)
		features |= 1ULL << VIRTIO_F_RING_PACKED;
	if (mode & 2)
		features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (mode & 4)
		features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (mode & 8)
		features |= 1ULL << VIRTIO_F_IN_ORDER;
	qsize = (mode & 1) ? (n % 64) + 1 : 1u << (n % 7);
	memset(ram, 0, RAM);
	memcpy(ram, data + 2, size - 2 < RAM ? size - 2 : RAM);

	if (mode & 16)
		map_scattered();
	virtq_init(&vq, (mode & 16) ? &iv.view : guest_mem_view(&gm), 256);
	virtq_set_features(&vq, features);
	if (virtq_set_size(&vq, qsize) ||
	    virtq_set_addrs(&vq, RING_AT, RING_AT + 0x1000 + (mode >> 6) * 2,
			    RING_AT + 0x2000 + ((mode >> 5) & 1) * 4) ||
	    virtq_enable(&vq))
		return 0;

	virtq_disable_notify(&vq);
	for (ops = 0; ops < MAX_OPS; ops++) {
		int r = virtq_pop(&vq, &elem);
		uint32_t i, written = 0;

		if (r <= 0) {
			virtq_flush(&vq);
			if (r < 0 || !virtq_enable_notify(&vq))
				break;
			virtq_disable_notify(&vq);
			continue;
		}
		/* Read what the driver offers, write what it lets us write. */
		for (i = 0; i < elem.out_num; i++)
			written += ((volatile uint8_t *)elem.iov[i].iov_base)[elem.iov[i].iov_len - 1];
		for (i = elem.out_num; i < elem.out_num + elem.in_num; i++)
			memset(elem.iov[i].iov_base, 0xa5, elem.iov[i].iov_len);
		if (ops & 1)
			virtq_fill(&vq, &elem, elem.in_len - (written & 7));
		else if (ops % 5 == 4)
			virtq_unpop(&vq, &elem);
		else
			virtq_push(&vq, &elem, elem.in_len);
		if (ops % 3 == 0)
			virtq_should_notify(&vq);
	}
	virtq_flush(&vq);
	virtq_avail_count(&vq);
	return 0;
}
