// SPDX-License-Identifier: GPL-2.0
/*
 * The simulated vDPA NIC through its vhost-vdpa vocabulary, no VM: the
 * test is the VMM (features, status, IOTLB messages, vrings, kick and call
 * eventfds) and the guest driver (virtio/virtq_driver.c on rings in a
 * buffer the device reaches by IOVA). Frames go out through the loop
 * backend and come back; the control queue answers as the model says;
 * suspend keeps indices; a fault stops only its vq.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check_main.h"
#include "devices/vdpa/sim_net.h"
#include "virtio/virtq_driver.h"

#define RAM_SIZE	(1 << 20)
#define IOVA		0x100000000ULL
#define QSIZE		64
#define NVQ		3		/* rx, tx, cvq */
#define RX		0
#define TX		1
#define CVQ		2
#define BUFS		0x80000
#define HDR		12
#define F(bit)		(1ULL << (bit))

static uint8_t *ram;
static struct vdpa_sim_net *sim;
static struct vdpa_dev *d;
static struct vdrv drv[NVQ];
static uint8_t aux[NVQ][VDRV_AUX_BYTES(QSIZE)] __attribute__((aligned(8)));
static int kick[NVQ], call[NVQ];

static void make(enum vdpa_sim_model model)
{
	struct vdpa_sim_net_config cfg = {
		.model = model, .queue_pairs = 1, .mac = { 0x52, 0x54, 0, 0, 0, 0x42 },
		.backend = "loop",
	};
	char err[256];
	int i;

	ram = aligned_alloc(4096, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	memset(ram, 0, RAM_SIZE);
	sim = vdpa_sim_net_new(&cfg, err, sizeof(err));
	ck_assert_msg(sim, "%s", err);
	d = &sim->dev;
	for (i = 0; i < NVQ; i++) {
		kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ck_assert_int_ge(kick[i], 0);
		ck_assert_int_ge(call[i], 0);
	}
}

static void setup_mlx5(void)
{
	make(VDPA_SIM_MLX5);
}

static void setup_full(void)
{
	make(VDPA_SIM_FULL);
}

static void teardown(void)
{
	int i;

	vdpa_sim_net_free(sim);
	for (i = 0; i < NVQ; i++) {
		close(kick[i]);
		close(call[i]);
	}
	free(ram);
}

static void iotlb(uint32_t asid, uint8_t type, uint64_t iova, uint64_t size, void *host,
		  uint8_t perm, int want)
{
	ck_assert_int_eq(vdpa_iotlb(d, asid, type, iova, size, host, perm), want);
}

/* Negotiate, map guest RAM in one batch, lay out the vqs, enable those in @mask, DRIVER_OK. */
static void bring_up_some(uint64_t features, unsigned int mask)
{
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	int q;

	ck_assert_int_eq(d->ops->set_backend_features(d, F(VHOST_BACKEND_F_IOTLB_MSG_V2) |
						      F(VHOST_BACKEND_F_IOTLB_BATCH) |
						      F(VHOST_BACKEND_F_SUSPEND) |
						      F(VHOST_BACKEND_F_RESUME) |
						      F(VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK)), 0);
	ck_assert_int_eq(d->ops->set_status(d, s), 0);
	ck_assert_int_eq(d->ops->set_features(d, features), 0);
	ck_assert_int_eq(d->ops->set_status(d, s | VIRTIO_CONFIG_S_FEATURES_OK), 0);
	ck_assert(d->ops->get_status(d) & VIRTIO_CONFIG_S_FEATURES_OK);
	iotlb(0, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL, 0, 0);
	iotlb(0, VHOST_IOTLB_UPDATE, IOVA, RAM_SIZE, ram, VHOST_ACCESS_RW, 0);
	iotlb(0, VHOST_IOTLB_BATCH_END, 0, 0, NULL, 0, 0);
	for (q = 0; q < NVQ; q++) {
		uint64_t off = 0x10000 + q * 0x8000ULL;
		struct vdrv_rings r = {
			.desc = ram + off, .driver = ram + off + 0x1000, .device = ram + off + 0x2000,
			.desc_addr = IOVA + off, .driver_addr = IOVA + off + 0x1000,
			.device_addr = IOVA + off + 0x2000,
		};
		struct vhost_vring_state num = { q, QSIZE }, base = { q, 0 },
					 en = { q, !!(mask & (1u << q)) };
		struct vhost_vring_addr a = { .index = q, .desc_user_addr = r.desc_addr,
					      .avail_user_addr = r.driver_addr,
					      .used_user_addr = r.device_addr };
		struct vhost_vring_file k = { q, kick[q] }, c = { q, call[q] };

		vdrv_setup(&drv[q], &r, aux[q], QSIZE, features);
		ck_assert_int_eq(d->ops->set_vring_num(d, &num), 0);
		ck_assert_int_eq(d->ops->set_vring_addr(d, &a), 0);
		ck_assert_int_eq(d->ops->set_vring_base(d, &base), 0);
		ck_assert_int_eq(d->ops->set_vring_kick(d, &k), 0);
		ck_assert_int_eq(d->ops->set_vring_call(d, &c), 0);
		ck_assert_int_eq(d->ops->set_vring_enable(d, &en), 0);
	}
	ck_assert_int_eq(d->ops->set_status(d, s | VIRTIO_CONFIG_S_FEATURES_OK |
					    VIRTIO_CONFIG_S_DRIVER_OK), 0);
	ck_assert(!(d->ops->get_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET));
}

static void bring_up(uint64_t features)
{
	bring_up_some(features, (1u << NVQ) - 1);
}

static void do_kick(int q)
{
	uint64_t one = 1;

	vdrv_publish(&drv[q]);
	ck_assert_int_eq(write(kick[q], &one, sizeof(one)), sizeof(one));
}

/* Wait for the device's interrupt on @q, then take one used buffer. */
static uint32_t wait_used(int q, uint64_t *cookie)
{
	struct pollfd p = { call[q], POLLIN, 0 };
	uint32_t len;
	uint64_t n;
	int r;

	/* A generous bound: only a stalled machine comes near it. */
	while ((r = vdrv_get_used(&drv[q], cookie, &len)) == 0) {
		ck_assert_msg(poll(&p, 1, 60000) == 1, "no interrupt on vq %d", q);
		ck_assert_int_eq(read(call[q], &n, sizeof(n)), sizeof(n));
	}
	ck_assert_int_eq(r, 1);
	return len;
}

static void post_rx(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct vdrv_buf b = { IOVA + BUFS + i * 2048ULL, 2048 };

		ck_assert_int_ge(vdrv_add(&drv[RX], &b, 0, 1, false, 100 + i), 0);
	}
	do_kick(RX);
}

static void send_frame(uint8_t tag)
{
	uint8_t *f = ram + BUFS + 0x40000;
	struct vdrv_buf b = { IOVA + BUFS + 0x40000, HDR + 60 };

	memset(f, 0, HDR);
	memset(f + HDR, 0xff, 6);			/* broadcast */
	memcpy(f + HDR + 6, "\x52\x54\x00\x00\x00\x99", 6);
	f[HDR + 12] = 0x88;
	f[HDR + 13] = 0xb5;
	memset(f + HDR + 14, tag, 46);
	ck_assert_int_ge(vdrv_add(&drv[TX], &b, 1, 0, false, tag), 0);
	do_kick(TX);
}

/* One control command; returns the ack. */
static uint8_t ctrl(const void *cmd, size_t len)
{
	uint8_t *c = ram + BUFS + 0x50000, *ack = c + 0x100;
	struct vdrv_buf b[2] = { { IOVA + BUFS + 0x50000, len }, { IOVA + BUFS + 0x50100, 1 } };
	uint64_t cookie;

	memcpy(c, cmd, len);
	*ack = 0xa5;
	ck_assert_int_ge(vdrv_add(&drv[CVQ], b, 1, 1, false, 77), 0);
	do_kick(CVQ);
	ck_assert_uint_eq(wait_used(CVQ, &cookie), 1);
	ck_assert_uint_eq(cookie, 77);
	return *ack;
}

static const uint64_t base_features = F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) |
				      F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_F_ACCESS_PLATFORM);

START_TEST(negotiation_rules)
{
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	struct virtio_net_config cfg;

	ck_assert_uint_eq(d->ops->get_device_id(d), VIRTIO_ID_NET);
	ck_assert_uint_eq(d->ops->get_vqs_count(d), 3);
	ck_assert_uint_eq(d->ops->get_vring_num(d), 256);
	ck_assert_uint_eq(d->ops->get_as_num(d), 2);
	/* mlx5's set, no control-queue RX modes. */
	ck_assert(d->ops->get_features(d) & F(VIRTIO_NET_F_CTRL_MAC_ADDR));
	ck_assert(!(d->ops->get_features(d) & F(VIRTIO_NET_F_CTRL_RX)));
	ck_assert_int_eq(d->ops->set_features(d, F(VIRTIO_NET_F_CTRL_RX)), -EINVAL);
	ck_assert_int_eq(d->ops->set_backend_features(d, F(40)), -EOPNOTSUPP);
	ck_assert_int_eq(d->ops->set_status(d, s), 0);
	/* Bits are only added. */
	ck_assert_int_eq(d->ops->set_status(d, VIRTIO_CONFIG_S_ACKNOWLEDGE), -EINVAL);
	/* FEATURES_OK without VERSION_1 does not stick. */
	ck_assert_int_eq(d->ops->set_features(d, F(VIRTIO_NET_F_MAC)), 0);
	ck_assert_int_eq(d->ops->set_status(d, s | VIRTIO_CONFIG_S_FEATURES_OK), 0);
	ck_assert(!(d->ops->get_status(d) & VIRTIO_CONFIG_S_FEATURES_OK));
	ck_assert_int_eq(d->ops->get_config(d, 0, &cfg, sizeof(cfg)), 0);
	ck_assert_mem_eq(cfg.mac, "\x52\x54\x00\x00\x00\x42", 6);
	ck_assert_int_eq(d->ops->get_config(d, 4, &cfg, sizeof(cfg)), -EINVAL);
	/* A non-zero ASID needs the backend feature. */
	{
		struct vhost_vring_state g = { VDPA_HW_GROUP_CVQ, 1 };

		ck_assert_int_eq(d->ops->set_group_asid(d, &g), -EOPNOTSUPP);
		iotlb(1, VHOST_IOTLB_UPDATE, IOVA, 4096, ram, VHOST_ACCESS_RW, -EINVAL);
		ck_assert_int_eq(d->ops->set_backend_features(d, F(VHOST_BACKEND_F_IOTLB_ASID)), 0);
		ck_assert_int_eq(d->ops->set_group_asid(d, &g), 0);
		iotlb(1, VHOST_IOTLB_UPDATE, IOVA, 4096, ram, VHOST_ACCESS_RW, 0);
	}
	ck_assert_int_eq(d->ops->set_status(d, 0), 0);
	ck_assert_uint_eq(d->ops->get_status(d), 0);
}
END_TEST

/* TX through the loop backend comes back on RX, with interrupts by call eventfd. */
START_TEST(frames_loop_back)
{
	uint64_t cookie;
	uint32_t len;
	int i;

	bring_up(base_features);
	post_rx(8);
	for (i = 1; i <= 3; i++) {
		send_frame(i);
		len = wait_used(TX, &cookie);
		ck_assert_uint_eq(cookie, i);
		len = wait_used(RX, &cookie);
		ck_assert_uint_eq(len, HDR + 60);
		ck_assert_uint_eq(cookie, 100 + i - 1);
		ck_assert_uint_eq(ram[BUFS + (i - 1) * 2048 + HDR + 14], i);
		/* num_buffers = 1 */
		ck_assert_uint_eq(ram[BUFS + (i - 1) * 2048 + 10], 1);
	}
	ck_assert_uint_eq(sim->tx_frames, 3);
}
END_TEST

/*
 * The doorbell: a store into the TX vq's notify area moves the frame,
 * with no kick eventfd written; a store naming no vq is dropped, and the
 * areas of vqs that do not exist are refused.
 */
START_TEST(doorbell_kicks_without_eventfd)
{
	struct vdpa_notify_area db, bad;
	uint8_t *f = ram + BUFS + 0x40000;
	struct vdrv_buf b = { IOVA + BUFS + 0x40000, HDR + 60 };
	uint64_t cookie, n;
	int i;

	ck_assert_int_eq(d->ops->get_vq_notification(d, NVQ, &db), -EINVAL);
	ck_assert_int_eq(d->ops->get_vq_notification(d, TX, &db), 0);
	ck_assert_uint_eq(db.idx, TX);
	bring_up(base_features);
	post_rx(4);
	for (i = 1; i <= 3; i++) {
		memset(f, 0, HDR);
		memset(f + HDR, 0xff, 6);
		memset(f + HDR + 6, 0x52, 6);
		memset(f + HDR + 12, i, 48);
		ck_assert_int_ge(vdrv_add(&drv[TX], &b, 1, 0, false, i), 0);
		vdrv_publish(&drv[TX]);
		vdpa_doorbell(&db);
		ck_assert_uint_eq(wait_used(TX, &cookie), 0);
		ck_assert_uint_eq(cookie, i);
		wait_used(RX, &cookie);
		ck_assert_uint_eq(ram[BUFS + (i - 1) * 2048 + HDR + 14], i);
	}
	ck_assert_int_eq(read(kick[TX], &n, sizeof(n)), -1);
	/* A value naming no vq: nothing moves. */
	bad = db;
	bad.idx = 40;
	ck_assert_int_ge(vdrv_add(&drv[TX], &b, 1, 0, false, 9), 0);
	vdrv_publish(&drv[TX]);
	vdpa_doorbell(&bad);
	usleep(20000);
	ck_assert_int_eq(vdrv_get_used(&drv[TX], &cookie, (uint32_t *)&n), 0);
	ck_assert_uint_eq(sim->tx_frames, 3);
}
END_TEST

/*
 * A destination's device started ahead: DRIVER_OK with the data vqs off,
 * suspended, the TX vq enabled and its base set while suspended: nothing
 * moves until the resume, which makes the vq ready from that base.
 */
START_TEST(enable_while_suspended_starts_at_resume)
{
	struct vhost_vring_state en = { TX, 1 }, base = { TX, 5 };
	uint64_t cookie;
	int i;

	bring_up_some(base_features, 1u << RX | 1u << CVQ);
	post_rx(4);
	ck_assert_int_eq(d->ops->suspend(d), 0);
	ck_assert_int_eq(d->ops->set_vring_enable(d, &en), 0);
	ck_assert_int_ne(vdpa_hw_vq_query(&sim->hw, TX, NULL), VDPA_VQ_RDY);
	/* Five frames the device must take as sent before (its base is 5), and a sixth. */
	for (i = 0; i < 6; i++)
		send_frame(0x40 + i);
	ck_assert_int_eq(d->ops->set_vring_base(d, &base), 0);
	usleep(20000);
	ck_assert_uint_eq(sim->tx_frames, 0);
	ck_assert_int_eq(d->ops->resume(d), 0);
	ck_assert_int_eq(vdpa_hw_vq_query(&sim->hw, TX, NULL), VDPA_VQ_RDY);
	wait_used(RX, &cookie);
	ck_assert_uint_eq(cookie, 100);
	ck_assert_uint_eq(ram[BUFS + HDR + 14], 0x45);
	/* From base 0 it would send all six: four would come back. */
	usleep(20000);
	ck_assert_int_eq(vdrv_get_used(&drv[RX], &cookie, (uint32_t *)&i), 0);
	ck_assert_uint_eq(sim->tx_frames, 1);
}
END_TEST

/* A frame waiting for RX buffers is delivered once the driver adds some. */
START_TEST(frame_waits_for_buffers)
{
	uint64_t cookie;

	bring_up(base_features);
	send_frame(9);
	wait_used(TX, &cookie);
	post_rx(1);
	ck_assert_uint_eq(wait_used(RX, &cookie), HDR + 60);
	ck_assert_uint_eq(ram[BUFS + HDR + 14], 9);
}
END_TEST

START_TEST(cvq_mlx5_model)
{
	uint8_t mac_set[] = { VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
			      0x52, 0x54, 0, 0, 0, 0x77 };
	uint8_t promisc[] = { VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1 };
	struct virtio_net_config cfg;

	bring_up(base_features | F(VIRTIO_NET_F_CTRL_MAC_ADDR));
	ck_assert_uint_eq(ctrl(mac_set, sizeof(mac_set)), VIRTIO_NET_OK);
	ck_assert_int_eq(d->ops->get_config(d, 0, &cfg, sizeof(cfg)), 0);
	ck_assert_mem_eq(cfg.mac, "\x52\x54\x00\x00\x00\x77", 6);
	/* mlx5_vdpa has no RX-mode commands. */
	ck_assert_uint_eq(ctrl(promisc, sizeof(promisc)), VIRTIO_NET_ERR);
	ck_assert_uint_eq(sim->hw.fw.count[FW_CVQ_CMD], 2);
}
END_TEST

START_TEST(cvq_full_model)
{
	uint8_t promisc[] = { VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0 };

	bring_up(base_features | F(VIRTIO_NET_F_CTRL_RX));
	ck_assert_uint_eq(ctrl(promisc, sizeof(promisc)), VIRTIO_NET_OK);
	ck_assert(!sim->st.promisc);
}
END_TEST

/* Suspend: rings frozen and settable, the base read back; resume carries on. */
START_TEST(suspend_and_resume)
{
	struct vhost_vring_state base = { TX, 0 };
	struct vhost_vring_addr a = { .index = TX };
	uint64_t cookie;

	bring_up(base_features);
	post_rx(8);
	send_frame(1);
	wait_used(TX, &cookie);
	wait_used(RX, &cookie);
	a.desc_user_addr = drv[TX].desc_addr;
	a.avail_user_addr = drv[TX].driver_addr;
	a.used_user_addr = drv[TX].device_addr;
	ck_assert_int_eq(d->ops->set_vring_addr(d, &a), -EBUSY);
	ck_assert_int_eq(d->ops->suspend(d), 0);
	ck_assert_int_eq(d->ops->get_vring_base(d, &base), 0);
	ck_assert_uint_eq(base.num, 1);
	ck_assert_int_eq(d->ops->set_vring_addr(d, &a), 0);
	ck_assert_int_eq(d->ops->resume(d), 0);
	send_frame(2);
	ck_assert_uint_eq(wait_used(TX, &cookie), 0);
	ck_assert_uint_eq(cookie, 2);
	wait_used(RX, &cookie);
	ck_assert_uint_eq(ram[BUFS + 2048 + HDR + 14], 2);
}
END_TEST

/* A TX buffer outside the map: that vq faults, the device asks for a reset, RX still works. */
START_TEST(fault_stops_only_its_vq)
{
	struct vdrv_buf bad = { IOVA + RAM_SIZE + 0x1000, 64 };
	uint8_t vlan[] = { VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, 5, 0 };

	bring_up(base_features | F(VIRTIO_NET_F_CTRL_VLAN));
	ck_assert_int_ge(vdrv_add(&drv[TX], &bad, 1, 0, false, 1), 0);
	do_kick(TX);
	while (vdpa_hw_vq_query(&sim->hw, TX, NULL) != VDPA_VQ_ERR)
		usleep(1000);
	ck_assert(d->ops->get_status(d) & VIRTIO_CONFIG_S_NEEDS_RESET);
	ck_assert_uint_eq(sim->hw.vqs[TX].faults, 1);
	ck_assert_uint_eq(ctrl(vlan, sizeof(vlan)), VIRTIO_NET_OK);
	ck_assert_int_eq(vdpa_hw_vq_query(&sim->hw, RX, NULL), VDPA_VQ_RDY);
}
END_TEST

static Suite *sim_net_suite(void)
{
	Suite *s = suite_create("vdpa_sim_net");

	vlab_tcase(s, "mlx5", setup_mlx5, teardown, 60, VLAB_TESTS(
		negotiation_rules, frames_loop_back, frame_waits_for_buffers, cvq_mlx5_model,
		suspend_and_resume, fault_stops_only_its_vq, doorbell_kicks_without_eventfd,
		enable_while_suspended_starts_at_resume));
	vlab_tcase(s, "full", setup_full, teardown, 60, VLAB_TESTS(cvq_full_model));
	return s;
}

VLAB_TEST_MAIN(sim_net_suite)
