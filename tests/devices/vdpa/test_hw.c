// SPDX-License-Identifier: GPL-2.0
/*
 * The simulated vDPA NIC's hardware, no VM: IOTLB messages and batching,
 * faults on unmapped and read-only IOVAs, the vq object state machine
 * (every illegal transition refused), suspend keeping indices, address
 * spaces per group, reset, and the firmware charges. The driver is
 * virtio/virtq_driver.c on rings in "guest RAM" (a guest_mem buffer) that
 * the device reaches by IOVA; its DMA must never reach vlab's dirty log.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "devices/vdpa/hw.h"
#include "virtio/virtq_driver.h"
#include "vmm/mem/guest_mem.h"

#define RAM_SIZE	(1 << 20)
#define IOVA		0x40000000ULL	/* where guest RAM is mapped for the device */
#define QSIZE		16
#define RX		0
#define TX		1
#define CVQ		2
#define RINGS		0x10000		/* per vq: desc, driver, device areas */
#define BUFS		0x80000
#define GIB		(1ULL << 30)

static uint8_t *ram;
static struct guest_mem gm;
static struct vdpa_hw hw;
static struct vdrv drv[3];
static uint8_t aux[3][VDRV_AUX_BYTES(QSIZE)] __attribute__((aligned(8)));

static void setup(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, RAM_SIZE);
	ck_assert_int_eq(guest_mem_init_buffer(&gm, ram, RAM_SIZE), 0);
	ck_assert_int_eq(vdpa_hw_init(&hw, 3, 0, false), 0);
}

static void teardown(void)
{
	vdpa_hw_exit(&hw);
	guest_mem_exit(&gm);
	free(ram);
}

static void map_ram(uint32_t asid, unsigned int perm)
{
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, asid, IOVA, RAM_SIZE, (uintptr_t)ram, perm), 0);
}

/* Driver rings for vq @q at RINGS + q * 0x8000 in guest RAM, device addresses by IOVA. */
static void rings(uint16_t q)
{
	uint64_t off = RINGS + q * 0x8000ULL;
	struct vdrv_rings r = {
		.desc = ram + off, .driver = ram + off + 0x1000, .device = ram + off + 0x2000,
		.desc_addr = IOVA + off, .driver_addr = IOVA + off + 0x1000,
		.device_addr = IOVA + off + 0x2000,
	};

	vdrv_setup(&drv[q], &r, aux[q], QSIZE, 1ULL << VIRTIO_F_VERSION_1);
}

/* Object for vq @q on its rings, INIT. */
static void vq_make(uint16_t q)
{
	rings(q);
	ck_assert_int_eq(vdpa_hw_vq_set_num(&hw, q, QSIZE), 0);
	ck_assert_int_eq(vdpa_hw_vq_set_addr(&hw, q, drv[q].desc_addr, drv[q].driver_addr,
					     drv[q].device_addr), 0);
	ck_assert_int_eq(vdpa_hw_vq_create(&hw, q), 0);
}

/* The same, RDY. */
static void vq_up(uint16_t q)
{
	vq_make(q);
	ck_assert_int_eq(vdpa_hw_vq_ready(&hw, q), 0);
}

/* A device-writable buffer of 64 bytes at guest offset @off. */
static void offer(uint16_t q, uint64_t iova, uint64_t cookie)
{
	struct vdrv_buf b = { iova, 64 };

	ck_assert_int_ge(vdrv_add(&drv[q], &b, 0, 1, false, cookie), 0);
	vdrv_publish(&drv[q]);
}

/* The device takes the buffer the driver offered on RX, fills it, returns it. */
static void rx_roundtrip(uint64_t cookie, uint8_t fill)
{
	struct virtq_elem elem;
	uint64_t got;
	uint32_t len;

	offer(RX, IOVA + BUFS, cookie);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, RX, &elem), 1);
	ck_assert_ptr_eq(elem.iov[0].iov_base, ram + BUFS);
	memset(elem.iov[0].iov_base, fill, 64);
	vdpa_hw_vq_push(&hw, RX, &elem, 64);
	ck_assert_int_eq(vdrv_get_used(&drv[RX], &got, &len), 1);
	ck_assert_uint_eq(got, cookie);
	ck_assert_uint_eq(len, 64);
	ck_assert_uint_eq(ram[BUFS + 63], fill);
}

START_TEST(iotlb_batch_applies_at_end)
{
	struct mem_seg seg;
	int i;

	ck_assert_int_eq(vdpa_hw_iotlb_batch_begin(&hw), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, IOVA + i * 0x1000ULL, 0x1000,
						      (uintptr_t)ram + i * 0x1000, MV_RW), 0);
	/* Nothing is visible, nothing rebuilt, until the end. */
	ck_assert_uint_eq(iotlb_count(&hw.as[0]), 0);
	ck_assert_uint_eq(hw.map_rebuilds, 0);
	ck_assert_int_eq(vdpa_hw_iotlb_batch_end(&hw), 0);
	ck_assert_uint_eq(iotlb_count(&hw.as[0]), 3);
	ck_assert_uint_eq(hw.map_rebuilds, 1);
	ck_assert_int_eq(mem_view_translate(&hw.as[0].view, IOVA + 0x2000, 16, MV_WRITE, &seg, 1), 1);
	ck_assert_ptr_eq(seg.host, ram + 0x2000);
	/* DMA is not logged: no guest-physical address behind the entry. */
	ck_assert_uint_eq(seg.gpa, MV_NO_GPA);

	/* Outside a batch: one rebuild per message. */
	for (i = 3; i < 6; i++)
		ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, IOVA + i * 0x1000ULL, 0x1000,
						      (uintptr_t)ram + i * 0x1000, MV_RW), 0);
	ck_assert_uint_eq(hw.map_rebuilds, 4);
}
END_TEST

START_TEST(iotlb_invalidate_and_bad_messages)
{
	struct mem_seg seg;

	map_ram(0, MV_RW);
	ck_assert_int_eq(vdpa_hw_iotlb_invalidate(&hw, 0, IOVA + 0x3000, 0x1000), 0);
	ck_assert_int_eq(mem_view_translate(&hw.as[0].view, IOVA + 0x3000, 1, MV_READ, &seg, 1),
			 -EFAULT);
	ck_assert_int_eq(mem_view_translate(&hw.as[0].view, IOVA + 0x4000, 1, MV_READ, &seg, 1), 1);
	/* The other address space never saw it. */
	ck_assert_int_eq(mem_view_translate(&hw.as[1].view, IOVA, 1, MV_READ, &seg, 1), -EFAULT);
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 2, IOVA, 0x1000, (uintptr_t)ram, MV_RW), -EINVAL);
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, IOVA, 0, (uintptr_t)ram, MV_RW), -EINVAL);
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, ~0ULL - 10, 0x1000, (uintptr_t)ram, MV_RW),
			 -EINVAL);
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, IOVA, 0x1000, (uintptr_t)ram, MV_RW), -EEXIST);
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, 0, 0x1000, (uintptr_t)ram, 0), -EINVAL);
}
END_TEST

/* Every call from every state, against what mlx5 allows. */
START_TEST(vq_state_machine)
{
	enum { NUM, ADDR, BASE, CREATE, READY, SUSPEND, NR_OPS };
	/* ok[state][op]: 1 allowed, 0 refused with -EBUSY. */
	static const int ok[][NR_OPS] = {
		[VDPA_VQ_NONE] =    { 1, 1, 1, 1, 0, 0 },
		[VDPA_VQ_INIT] =    { 0, 1, 1, 0, 1, 0 },
		[VDPA_VQ_RDY] =     { 0, 0, 0, 0, 0, 1 },
		[VDPA_VQ_SUSPEND] = { 0, 1, 1, 0, 1, 0 },
		[VDPA_VQ_ERR] =     { 0, 0, 0, 0, 0, 0 },
	};
	enum vdpa_vq_state s;
	int op, r;

	map_ram(0, MV_RW);
	rings(RX);
	for (s = VDPA_VQ_NONE; s <= VDPA_VQ_ERR; s++) {
		for (op = 0; op < NR_OPS; op++) {
			/* Bring vq RX to state @s afresh. */
			vdpa_hw_vq_destroy(&hw, RX);
			vdpa_hw_vq_set_num(&hw, RX, QSIZE);
			if (s != VDPA_VQ_NONE) {
				vdpa_hw_vq_set_addr(&hw, RX, s == VDPA_VQ_ERR ? 0x10 : drv[RX].desc_addr,
						    drv[RX].driver_addr, drv[RX].device_addr);
				vdpa_hw_vq_create(&hw, RX);
			}
			if (s >= VDPA_VQ_RDY)
				vdpa_hw_vq_ready(&hw, RX);
			if (s == VDPA_VQ_SUSPEND)
				vdpa_hw_vq_suspend(&hw, RX);
			ck_assert_str_eq(vdpa_vq_state_name(vdpa_hw_vq_query(&hw, RX, NULL)),
					 vdpa_vq_state_name(s));
			switch (op) {
			case NUM:
				r = vdpa_hw_vq_set_num(&hw, RX, QSIZE);
				break;
			case ADDR:
				r = vdpa_hw_vq_set_addr(&hw, RX, drv[RX].desc_addr,
							drv[RX].driver_addr, drv[RX].device_addr);
				break;
			case BASE:
				r = vdpa_hw_vq_set_base(&hw, RX, 0);
				break;
			case CREATE:
				r = vdpa_hw_vq_create(&hw, RX);
				break;
			case READY:
				r = vdpa_hw_vq_ready(&hw, RX);
				break;
			default:
				r = vdpa_hw_vq_suspend(&hw, RX);
				break;
			}
			ck_assert_msg(ok[s][op] ? r == 0 : r == -EBUSY, "%s: op %d gave %d",
				      vdpa_vq_state_name(s), op, r);
		}
	}
	/* Destroy works from anywhere, ERR included. */
	ck_assert_int_eq(vdpa_hw_vq_destroy(&hw, RX), 0);
	ck_assert_int_eq(vdpa_hw_vq_query(&hw, RX, NULL), VDPA_VQ_NONE);
	ck_assert_int_eq(vdpa_hw_vq_set_num(&hw, RX, 3), -EINVAL);
	ck_assert_int_eq(vdpa_hw_vq_set_num(&hw, RX, 512), -EINVAL);
	ck_assert_int_eq(vdpa_hw_vq_create(&hw, 3), -EINVAL);
	/* No object without a size. */
	ck_assert_int_eq(vdpa_hw_vq_destroy(&hw, RX), 0);
	ck_assert_int_eq(vdpa_hw_vq_create(&hw, RX), -EBUSY);
}
END_TEST

/* The device's DMA writes guest RAM but never vlab's dirty log. */
START_TEST(dma_through_iotlb_not_logged)
{
	unsigned long dirty[RAM_SIZE / 4096 / 64 + 1] = { 0 };
	size_t i;

	map_ram(0, MV_RW);
	vq_up(RX);
	guest_mem_dirty_collect(&gm, dirty);
	rx_roundtrip(7, 0xab);
	guest_mem_dirty_collect(&gm, dirty);
	for (i = 0; i < sizeof(dirty) / sizeof(dirty[0]); i++)
		ck_assert_uint_eq(dirty[i], 0);
}
END_TEST

START_TEST(faults_break_only_their_vq)
{
	struct virtq_elem elem;

	map_ram(0, MV_RW);
	vq_up(RX);
	vq_up(TX);
	/* A buffer outside the map: the vq goes to ERR, counted. */
	offer(RX, IOVA + RAM_SIZE + 0x1000, 1);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, RX, &elem), -EFAULT);
	ck_assert_int_eq(vdpa_hw_vq_query(&hw, RX, NULL), VDPA_VQ_ERR);
	ck_assert_uint_eq(hw.vqs[RX].faults, 1);
	ck_assert_ptr_nonnull(hw.vqs[RX].fault);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, RX, &elem), -EIO);
	/* The other vq carries on. */
	offer(TX, IOVA + BUFS, 2);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, TX, &elem), 1);
	ck_assert_int_eq(vdpa_hw_vq_query(&hw, TX, NULL), VDPA_VQ_RDY);
}
END_TEST

START_TEST(read_only_mapping_faults_writes)
{
	struct virtq_elem elem;

	map_ram(0, MV_RW);
	vq_up(RX);
	/* The buffer's page becomes read-only for the device. */
	ck_assert_int_eq(vdpa_hw_iotlb_invalidate(&hw, 0, IOVA + BUFS, 0x1000), 0);
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, IOVA + BUFS, 0x1000,
					      (uintptr_t)ram + BUFS, MV_READ), 0);
	offer(RX, IOVA + BUFS, 1);
	/* Mapped but not writable: a fault like any other (virtq_pop's -EFAULT). */
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, RX, &elem), -EFAULT);
	ck_assert_int_eq(vdpa_hw_vq_query(&hw, RX, NULL), VDPA_VQ_ERR);
	/* A ring whose used area is read-only cannot even be made ready. */
	vdpa_hw_vq_destroy(&hw, TX);
	ck_assert_int_eq(vdpa_hw_iotlb_invalidate(&hw, 0, drv[RX].device_addr + 0x8000, 0x1000), 0);
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, drv[RX].device_addr + 0x8000, 0x1000,
					      (uintptr_t)ram + RINGS + 0x8000 + 0x2000, MV_READ), 0);
	vq_make(TX);
	ck_assert_int_eq(vdpa_hw_vq_ready(&hw, TX), -EFAULT);
	ck_assert_int_eq(vdpa_hw_vq_query(&hw, TX, NULL), VDPA_VQ_ERR);
}
END_TEST

/* Suspend reads back the used index: what was in flight comes again. */
START_TEST(suspend_keeps_indices)
{
	struct virtq_elem a, b, again;
	uint16_t base;

	map_ram(0, MV_RW);
	vq_up(TX);
	offer(TX, IOVA + BUFS, 1);
	offer(TX, IOVA + BUFS + 0x100, 2);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, TX, &a), 1);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, TX, &b), 1);
	vdpa_hw_vq_push(&hw, TX, &a, 0);
	ck_assert_int_eq(vdpa_hw_vq_suspend(&hw, TX), 0);
	ck_assert_int_eq(vdpa_hw_vq_query(&hw, TX, &base), VDPA_VQ_SUSPEND);
	ck_assert_uint_eq(base, 1);
	/* Nothing moves while suspended. */
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, TX, &again), 0);
	ck_assert_int_eq(vdpa_hw_vq_ready(&hw, TX), 0);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, TX, &again), 1);
	ck_assert_uint_eq(again.id, b.id);
	ck_assert_ptr_eq(again.iov[0].iov_base, b.iov[0].iov_base);
	ck_assert_uint_eq(hw.fw.count[FW_SUSPEND_VQ], 1);
	ck_assert_uint_eq(hw.fw.count[FW_QUERY_VQ], 1);
	ck_assert_uint_eq(hw.fw.count[FW_RESUME_VQ], 1);
}
END_TEST

/* The CVQ's group in its own address space; no switch under a running vq. */
START_TEST(groups_and_address_spaces)
{
	struct virtq_elem elem;

	ck_assert_uint_eq(vdpa_hw_vq_group(&hw, RX), VDPA_HW_GROUP_DATA);
	ck_assert_uint_eq(vdpa_hw_vq_group(&hw, CVQ), VDPA_HW_GROUP_CVQ);
	ck_assert_int_eq(vdpa_hw_set_group_asid(&hw, VDPA_HW_GROUP_CVQ, 1), 0);
	ck_assert_int_eq(vdpa_hw_set_group_asid(&hw, 3, 0), -EINVAL);
	ck_assert_int_eq(vdpa_hw_set_group_asid(&hw, 0, 2), -EINVAL);
	/* Guest RAM only in ASID 1: the CVQ works, a data vq cannot start. */
	map_ram(1, MV_RW);
	vq_up(CVQ);
	offer(CVQ, IOVA + BUFS, 9);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, CVQ, &elem), 1);
	vq_make(RX);
	ck_assert_int_eq(vdpa_hw_vq_ready(&hw, RX), -EFAULT);
	ck_assert_int_eq(vdpa_hw_set_group_asid(&hw, VDPA_HW_GROUP_CVQ, 0), -EBUSY);
}
END_TEST

/*
 * DESC_ASID: a data vq's rings through group DESC's address space, its
 * buffers through group DATA's. The SVQ's layout: shadow rings in ASID 1,
 * guest RAM where it always was in ASID 0, so switching needs no new map
 * of guest memory.
 */
#define SHADOW_IOVA	0x10000ULL

START_TEST(descriptor_group_in_its_own_space)
{
	uint8_t *sh = aligned_alloc(4096, 0x4000);
	struct vdrv_rings r = {
		.desc = sh, .driver = sh + 0x1000, .device = sh + 0x2000,
		.desc_addr = SHADOW_IOVA, .driver_addr = SHADOW_IOVA + 0x1000,
		.device_addr = SHADOW_IOVA + 0x2000,
	};
	struct virtq_elem elem;

	ck_assert_ptr_nonnull(sh);
	memset(sh, 0, 0x4000);
	map_ram(0, MV_RW);
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 1, SHADOW_IOVA, 0x4000, (uintptr_t)sh, MV_RW),
			 0);
	ck_assert_int_eq(vdpa_hw_set_group_asid(&hw, VDPA_HW_GROUP_DESC, 1), 0);
	vdrv_setup(&drv[RX], &r, aux[RX], QSIZE, 1ULL << VIRTIO_F_VERSION_1);
	ck_assert_int_eq(vdpa_hw_vq_set_num(&hw, RX, QSIZE), 0);
	ck_assert_int_eq(vdpa_hw_vq_set_addr(&hw, RX, r.desc_addr, r.driver_addr, r.device_addr),
			 0);
	ck_assert_int_eq(vdpa_hw_vq_create(&hw, RX), 0);

	/* Without DESC_ASID the rings are looked for in ASID 0, where they are not. */
	ck_assert_uint_eq(vdpa_hw_vq_desc_group(&hw, RX), VDPA_HW_GROUP_DATA);
	ck_assert_int_eq(vdpa_hw_vq_ready(&hw, RX), -EFAULT);
	ck_assert_int_eq(vdpa_hw_vq_destroy(&hw, RX), 0);

	hw.desc_asid = true;
	ck_assert_uint_eq(vdpa_hw_vq_desc_group(&hw, RX), VDPA_HW_GROUP_DESC);
	ck_assert_uint_eq(vdpa_hw_vq_desc_group(&hw, CVQ), VDPA_HW_GROUP_CVQ);
	ck_assert_int_eq(vdpa_hw_vq_set_num(&hw, RX, QSIZE), 0);
	ck_assert_int_eq(vdpa_hw_vq_set_addr(&hw, RX, r.desc_addr, r.driver_addr, r.device_addr),
			 0);
	ck_assert_int_eq(vdpa_hw_vq_create(&hw, RX), 0);
	ck_assert_int_eq(vdpa_hw_vq_ready(&hw, RX), 0);
	/* A buffer in guest RAM, by its ASID 0 address; the used entry lands in the shadow. */
	rx_roundtrip(5, 0x5a);
	/* The group cannot move while a vq of it runs; a buffer outside ASID 0 faults. */
	ck_assert_int_eq(vdpa_hw_set_group_asid(&hw, VDPA_HW_GROUP_DESC, 0), -EBUSY);
	offer(RX, SHADOW_IOVA + 0x3000, 6);
	ck_assert_int_eq(vdpa_hw_vq_pop(&hw, RX, &elem), -EFAULT);
	free(sh);
}
END_TEST

/*
 * An IOTLB entry may map an aligned IOVA to an unaligned host address: the
 * rings there are refused as a fault, never used misaligned (found by
 * fuzz_vdpa_hw; UBSan reported the misaligned access before the fix).
 */
START_TEST(ring_misaligned_in_host_memory)
{
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, IOVA, RAM_SIZE - 4096, (uintptr_t)ram + 1,
					      MV_RW), 0);
	vq_make(RX);
	ck_assert_int_eq(vdpa_hw_vq_ready(&hw, RX), -EFAULT);
	ck_assert_int_eq(vdpa_hw_vq_query(&hw, RX, NULL), VDPA_VQ_ERR);
	ck_assert_str_eq(hw.vqs[RX].fault, "ring area misaligned where the view maps it");
}
END_TEST

START_TEST(reset_and_persistent_maps)
{
	map_ram(0, MV_RW);
	vq_up(RX);
	vdpa_hw_set_group_asid(&hw, VDPA_HW_GROUP_CVQ, 1);
	vdpa_hw_reset(&hw);
	ck_assert_int_eq(vdpa_hw_vq_query(&hw, RX, NULL), VDPA_VQ_NONE);
	ck_assert_uint_eq(iotlb_count(&hw.as[0]), 0);
	ck_assert_uint_eq(hw.group_asid[VDPA_HW_GROUP_CVQ], 0);
	ck_assert_uint_eq(hw.fw.count[FW_DESTROY_VQ], 1);

	hw.persist_iotlb = true;
	map_ram(0, MV_RW);
	vdpa_hw_reset(&hw);
	ck_assert_uint_eq(iotlb_count(&hw.as[0]), 1);
}
END_TEST

/* A map rebuild charges a direct key per GiB, one indirect key, and pins what is new. */
START_TEST(map_charges)
{
	/* Never touched: the device only needs the addresses. */
	uint64_t fake = 0x7f0000000000ULL;

	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, 0, 3 * GIB, fake, MV_RW), 0);
	ck_assert_uint_eq(hw.fw.count[FW_CREATE_MKEY], 3);
	ck_assert_uint_eq(hw.fw.count[FW_CREATE_IMKEY], 1);
	ck_assert_uint_eq(hw.fw.count[FW_PIN], 1);
	ck_assert_uint_eq(hw.mapped_gib[0], 3);
	/* Half a GiB more: a fourth key, the old ones destroyed, only the new GiB pinned. */
	ck_assert_int_eq(vdpa_hw_iotlb_update(&hw, 0, 3 * GIB, GIB / 2, fake + 3 * GIB, MV_RW), 0);
	ck_assert_uint_eq(hw.fw.count[FW_CREATE_MKEY], 3 + 4);
	ck_assert_uint_eq(hw.fw.count[FW_DESTROY_MKEY], 3 + 1);
	ck_assert_uint_eq(hw.mapped_gib[0], 4);
	ck_assert_uint_eq(hw.fw.model_ns, 7 * fw_costs[FW_CREATE_MKEY].ns +
			  2 * fw_costs[FW_CREATE_IMKEY].ns + 4 * fw_costs[FW_DESTROY_MKEY].ns +
			  4 * fw_costs[FW_PIN].ns);
}
END_TEST

/*
 * Pre-creation: the device-wide objects and a vq object per data vq made
 * ahead (the CVQ is the driver's, in software: no firmware), so that
 * starting a vq is a modify; a reset takes them all, set-up included.
 */
START_TEST(precreate_then_modify)
{
	map_ram(0, MV_RW);
	vdpa_hw_precreate(&hw);
	ck_assert_int_eq(vdpa_hw_vq_query(&hw, RX, NULL), VDPA_VQ_INIT);
	ck_assert_int_eq(vdpa_hw_vq_query(&hw, TX, NULL), VDPA_VQ_INIT);
	ck_assert_uint_eq(hw.vqs[RX].num, VDPA_HW_MAX_QSIZE);
	ck_assert_uint_eq(hw.fw.count[FW_CREATE_VQ], 2);
	ck_assert_uint_eq(hw.fw.count[FW_SETUP_DEVICE], 1);
	vdpa_hw_setup(&hw);
	ck_assert_uint_eq(hw.fw.count[FW_SETUP_DEVICE], 1);

	/* Programmed in INIT (the size is the object's): ready is one modify. */
	rings(RX);
	ck_assert_int_eq(vdpa_hw_vq_set_num(&hw, RX, QSIZE), -EBUSY);
	ck_assert_int_eq(vdpa_hw_vq_set_addr(&hw, RX, drv[RX].desc_addr, drv[RX].driver_addr,
					     drv[RX].device_addr), 0);
	ck_assert_int_eq(vdpa_hw_vq_set_base(&hw, RX, 0), 0);
	ck_assert_int_eq(vdpa_hw_vq_ready(&hw, RX), 0);
	ck_assert_uint_eq(hw.fw.count[FW_MODIFY_VQ], 1);
	ck_assert_uint_eq(hw.fw.count[FW_CREATE_VQ], 2);

	vdpa_hw_reset(&hw);
	ck_assert_uint_eq(hw.fw.count[FW_DESTROY_VQ], 2);
	ck_assert(!hw.set_up);
	vdpa_hw_setup(&hw);
	ck_assert_uint_eq(hw.fw.count[FW_SETUP_DEVICE], 2);
}
END_TEST

VLAB_SUITE_MAIN("vdpa_hw", "hw", setup, teardown, 0,
	iotlb_batch_applies_at_end, iotlb_invalidate_and_bad_messages, vq_state_machine,
	dma_through_iotlb_not_logged, faults_break_only_their_vq,
	read_only_mapping_faults_writes, suspend_keeps_indices, groups_and_address_spaces,
	descriptor_group_in_its_own_space, ring_misaligned_in_host_memory,
	reset_and_persistent_maps, map_charges, precreate_then_modify);
