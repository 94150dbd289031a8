// SPDX-License-Identifier: GPL-2.0
/*
 * bench-vdpa-datapath (and bench-svq): Mpps of the simulated vDPA NIC's
 * TX path in passthrough and through a shadow virtqueue (virtio/svq.c,
 * as during a migration), next to the emulated virtio-net device's, in
 * one run, split and packed. A driver thread (virtio/virtq_driver.c) keeps a 256-entry TX
 * ring full of 64-byte frames (plus the 12-byte header) and reclaims
 * used buffers by polling; the device is either virtio-net (its pair
 * worker, kicked through queue_notify) or the vDPA NIC (its worker,
 * kicked through the kick eventfd), both sending to a null backend. Both
 * run the same ring code (virtio/virtq.c): the ratio shows what the
 * vhost-vdpa plumbing and the IOTLB view cost. Shadowed, an SVQ thread
 * stands between the driver and the device as vlab's front end worker
 * does: woken by the driver's kick eventfd and the device's call eventfd,
 * it forwards buffers by guest-physical address and returns completions.
 * Best of several runs, with the range.
 *
 *	usage: bench_vdpa [frames per run] [runs]
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/net/virtio_net.h"
#include <poll.h>
#include <pthread.h>

#include "devices/vdpa/sim_net.h"
#include "virtio/svq.h"
#include "virtio/vdrv_guest.h"
#include "vmm/core/vm.h"

#define RAM_SIZE	(8 << 20)
#define QSIZE		256
#define TX		1
#define RINGS		0x10000
#define FRAMES_AT	0x100000
#define FRAME_LEN	(12 + 64)
#define IOVA		0x100000000ULL
#define SH_IOVA		(1ULL << 40)
#define F(b)		(1ULL << (b))

struct dut {
	const char *name;
	uint8_t *ram;
	struct guest_mem gm;
	struct vdrv drv;
	uint64_t iova_base;		/* what the device sees for gpa 0 */
	/* virtio-net */
	struct virtio_dev *vdev;
	/* vDPA */
	struct vdpa_sim_net *sim;
	int kick_fd, call_fd;
	/* shadowed: the guest's ring, the SVQ, its thread, the guest's doorbell */
	bool shadowed;
	struct virtq gvq;
	struct svq svq;
	void *sh;
	size_t sh_len;
	int guest_kick;
	struct worker svq_worker;
	struct vdpa_notify_area db;	/* reg NULL: kick by eventfd */
	uint64_t poll_ns;		/* svq-poll */
};

/*
 * The SVQ's worker, as vlab's front end runs one per queue pair: woken by
 * the guest's kick and the device's call eventfds, it returns completions
 * and forwards buffers, kicking the device by eventfd or by a store into
 * its notify area (the doorbell).
 */
static void svq_on_fd(int fd, void *opaque)
{
	struct dut *d = opaque;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) > 0)
		worker_kick_local(&d->svq_worker, 1);
}

static void svq_run(struct worker *w, uint32_t kicked, void *opaque)
{
	struct dut *d = opaque;
	struct svq_poll poll = { .poll_ns = d->poll_ns };
	uint64_t one = 1, before;
	int r;

	do {
		before = d->svq.forwarded + d->svq.completed;
		if (svq_used(&d->svq) < 0)
			abort();
		r = svq_avail(&d->svq);
		if (r < 0)
			abort();
		if (r > 0 && d->db.reg)
			vdpa_doorbell(&d->db);
		else if (r > 0 && write(d->kick_fd, &one, sizeof(one)) < 0)
			abort();
	} while (svq_poll_again(&poll, d->svq.forwarded + d->svq.completed != before));
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill_frames(struct dut *d)
{
	int i;

	for (i = 0; i < QSIZE; i++) {
		uint8_t *f = d->ram + FRAMES_AT + (uint64_t)i * 128;

		memset(f, 0, FRAME_LEN);
		memset(f + 12, 0xff, 6);
		f[12 + 12] = 0x88;
		f[12 + 13] = 0xb5;
	}
}

static uint8_t drv_aux[VDRV_AUX_BYTES(QSIZE)] __attribute__((aligned(8)));

static int dut_init_vdpa(struct dut *d, uint64_t features, bool doorbell)
{
	struct vdpa_sim_net_config cfg = { .queue_pairs = 1, .backend = "null" };
	uint8_t s = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	struct vdrv_rings r = {
		.desc = d->ram + RINGS, .driver = d->ram + RINGS + 0x1000,
		.device = d->ram + RINGS + 0x2000, .desc_addr = IOVA + RINGS,
		.driver_addr = IOVA + RINGS + 0x1000, .device_addr = IOVA + RINGS + 0x2000,
	};
	struct vhost_vring_state num = { TX, QSIZE }, base = { TX, 0 }, en = { TX, 1 };
	struct vhost_vring_addr a = { .index = TX, .desc_user_addr = r.desc_addr,
				      .avail_user_addr = r.driver_addr,
				      .used_user_addr = r.device_addr };
	struct vhost_vring_file k, c;
	struct vdpa_dev *v;
	char err[256];

	d->name = "vdpa-sim";
	d->iova_base = d->shadowed ? 0 : IOVA;
	d->sim = vdpa_sim_net_new(&cfg, err, sizeof(err));
	d->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!d->sim || d->kick_fd < 0 || d->call_fd < 0) {
		fprintf(stderr, "bench-vdpa: %s\n", d->sim ? "eventfd" : err);
		return -1;
	}
	if (features & F(VIRTIO_F_RING_PACKED))
		base.num = 0x8000;
	k = (struct vhost_vring_file){ TX, d->kick_fd };
	c = (struct vhost_vring_file){ TX, d->call_fd };
	v = &d->sim->dev;
	if (d->shadowed) {
		uint64_t ro, ro_len, rw, rw_len, desc, drv, dev;

		/* The guest's ring in guest memory, the device on the shadow. */
		d->guest_kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		d->sh_len = svq_ring_bytes(QSIZE, features);
		d->sh = aligned_alloc(4096, d->sh_len);
		if (d->guest_kick < 0 || !d->sh || vdrv_init(&d->drv, &d->gm, RINGS, QSIZE, features))
			return -1;
		virtq_init(&d->gvq, guest_mem_view(&d->gm), QSIZE);
		virtq_set_features(&d->gvq, features);
		if (virtq_set_size(&d->gvq, QSIZE) ||
		    virtq_set_addrs(&d->gvq, d->drv.desc_addr, d->drv.driver_addr,
				    d->drv.device_addr) ||
		    virtq_enable(&d->gvq) || svq_init(&d->svq, &d->gvq, features, d->sh, SH_IOVA))
			return -1;
		svq_rings(&d->svq, &desc, &drv, &dev);
		svq_areas(&d->svq, &ro, &ro_len, &rw, &rw_len);
		a.desc_user_addr = desc;
		a.avail_user_addr = drv;
		a.used_user_addr = dev;
		base.num = svq_base(&d->svq);
		return v->ops->set_backend_features(v, F(VHOST_BACKEND_F_IOTLB_MSG_V2) |
						    F(VHOST_BACKEND_F_IOTLB_BATCH)) ?:
		       v->ops->set_status(v, s) ?: v->ops->set_features(v, features) ?:
		       v->ops->set_status(v, s | VIRTIO_CONFIG_S_FEATURES_OK) ?:
		       vdpa_iotlb(v, 0, VHOST_IOTLB_UPDATE, 0, RAM_SIZE, d->ram, VHOST_ACCESS_RW) ?:
		       vdpa_iotlb(v, 0, VHOST_IOTLB_UPDATE, SH_IOVA + ro, ro_len,
				  (uint8_t *)d->sh + ro, VHOST_ACCESS_RO) ?:
		       vdpa_iotlb(v, 0, VHOST_IOTLB_UPDATE, SH_IOVA + rw, rw_len,
				  (uint8_t *)d->sh + rw, VHOST_ACCESS_RW) ?:
		       v->ops->set_vring_num(v, &num) ?: v->ops->set_vring_addr(v, &a) ?:
		       v->ops->set_vring_base(v, &base) ?: v->ops->set_vring_kick(v, &k) ?:
		       v->ops->set_vring_call(v, &c) ?: v->ops->set_vring_enable(v, &en) ?:
		       v->ops->set_status(v, s | VIRTIO_CONFIG_S_FEATURES_OK |
					  VIRTIO_CONFIG_S_DRIVER_OK) ?:
		       (doorbell ? v->ops->get_vq_notification(v, TX, &d->db) : 0) ?:
		       worker_init(&d->svq_worker, "svq", svq_run, d) ?:
		       worker_add_fd(&d->svq_worker, d->guest_kick, svq_on_fd, d) ?:
		       worker_add_fd(&d->svq_worker, d->call_fd, svq_on_fd, d) ?:
		       worker_start(&d->svq_worker);
	}
	vdrv_setup(&d->drv, &r, drv_aux, QSIZE, features);
	return v->ops->set_backend_features(v, F(VHOST_BACKEND_F_IOTLB_MSG_V2) |
					    F(VHOST_BACKEND_F_IOTLB_BATCH)) ?:
	       v->ops->set_status(v, s) ?: v->ops->set_features(v, features) ?:
	       v->ops->set_status(v, s | VIRTIO_CONFIG_S_FEATURES_OK) ?:
	       vdpa_iotlb(v, 0, VHOST_IOTLB_UPDATE, IOVA, RAM_SIZE, d->ram, VHOST_ACCESS_RW) ?:
	       v->ops->set_vring_num(v, &num) ?: v->ops->set_vring_addr(v, &a) ?:
	       v->ops->set_vring_base(v, &base) ?: v->ops->set_vring_kick(v, &k) ?:
	       v->ops->set_vring_call(v, &c) ?: v->ops->set_vring_enable(v, &en) ?:
	       v->ops->set_status(v, s | VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

static int dut_init_net(struct dut *d, uint64_t features)
{
	struct net_config nc = { .backend = "null", .queue_pairs = 1 };
	char err[256];

	d->name = "virtio-net";
	d->vdev = virtio_net_new(&d->gm, &nc, 0, false, err, sizeof(err));
	if (!d->vdev) {
		fprintf(stderr, "bench-vdpa: %s\n", err);
		return -1;
	}
	if (vdrv_init(&d->drv, &d->gm, RINGS, QSIZE, features))
		return -1;
	/* As a driver would, through the transport's registers (no Check here). */
	return vdrv_dev_features_ok(d->vdev, features) && vdrv_enable_on(&d->drv, d->vdev, TX) &&
	       vdrv_dev_driver_ok(d->vdev) ? 0 : -1;
}

/*
 * @dev: 0 virtio-net, 1 vDPA passthrough, 2 through an SVQ, 3 SVQ with the
 * doorbell, 4 the same polling for 10 us after its last work (vlab's default).
 */
static int dut_init(struct dut *d, int dev, bool packed)
{
	uint64_t features = F(VIRTIO_F_VERSION_1) | (packed ? F(VIRTIO_F_RING_PACKED) : 0);
	bool vdpa = dev > 0;

	memset(d, 0, sizeof(*d));
	d->kick_fd = d->call_fd = d->guest_kick = -1;
	d->shadowed = dev >= 2;
	d->ram = aligned_alloc(4096, RAM_SIZE);
	if (!d->ram || guest_mem_init_buffer(&d->gm, d->ram, RAM_SIZE))
		return -1;
	memset(d->ram, 0, RAM_SIZE);
	fill_frames(d);
	d->poll_ns = dev == 4 ? 10000 : 0;
	if (vdpa ? dut_init_vdpa(d, features, dev >= 3) : dut_init_net(d, features))
		return -1;
	/* A polling driver, like the payloads': no used-buffer interrupts. */
	vdrv_disable_cb(&d->drv);
	return 0;
}

static void dut_exit(struct dut *d)
{
	if (d->shadowed)
		worker_exit(&d->svq_worker);
	if (d->vdev)
		virtio_net_free(d->vdev);
	if (d->sim)
		vdpa_sim_net_free(d->sim);
	if (d->kick_fd >= 0)
		close(d->kick_fd);
	if (d->call_fd >= 0)
		close(d->call_fd);
	if (d->guest_kick >= 0)
		close(d->guest_kick);
	if (d->shadowed)
		svq_exit(&d->svq);
	free(d->sh);
	if (!d->sim || d->shadowed)
		vdrv_exit(&d->drv);
	guest_mem_exit(&d->gm);
	free(d->ram);
}

static void dut_kick(struct dut *d)
{
	uint64_t one = 1;

	if (d->vdev)
		d->vdev->ops->queue_notify(d->vdev, TX);
	else if (write(d->shadowed ? d->guest_kick : d->kick_fd, &one, sizeof(one)) < 0)
		abort();
}

/* CPU seconds a thread has used; 0 for a thread we cannot see. */
static double thread_cpu(pthread_t t)
{
	struct timespec ts;
	clockid_t cid;

	if (pthread_getcpuclockid(t, &cid) || clock_gettime(cid, &ts))
		return 0;
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The threads a vDPA run keeps busy: the driver (this one), the device's
 * worker and, shadowed, the SVQ's worker. virtio-net's workers are not
 * looked at (0).
 */
static void dut_cpu(struct dut *d, double cpu[3])
{
	cpu[0] = thread_cpu(pthread_self());
	cpu[1] = d->sim ? thread_cpu(d->sim->worker.thread) : 0;
	cpu[2] = d->shadowed ? thread_cpu(d->svq_worker.thread) : 0;
}

/*
 * Send @frames frames; Mpps, or -1 if the device stopped using buffers.
 * @util: each thread's share of a CPU meanwhile (driver, device, SVQ).
 */
static double dut_run(struct dut *d, uint64_t frames, double util[3])
{
	uint64_t sent = 0, done = 0, idle = 0;
	double t0 = now(), last = t0, c0[3], c1[3];
	uint32_t len;
	int i;

	dut_cpu(d, c0);
	while (done < frames) {
		bool added = false;

		while (sent < frames && d->drv.num_free) {
			struct vdrv_buf b = { d->iova_base + FRAMES_AT + (sent % QSIZE) * 128,
					      FRAME_LEN };

			if (vdrv_add(&d->drv, &b, 1, 0, false, sent) < 0)
				break;
			sent++;
			added = true;
		}
		if (added) {
			vdrv_publish(&d->drv);
			if (vdrv_kick_needed(&d->drv))
				dut_kick(d);
		}
		if (vdrv_get_used(&d->drv, NULL, &len) > 0) {
			done++;
			while (vdrv_get_used(&d->drv, NULL, &len) > 0)
				done++;
			idle = 0;
			continue;
		}
		/* A device that stalls for 10 s has failed, not slowed (clock read rarely). */
		if (++idle % 65536 == 0) {
			if (idle == 65536)
				last = now();
			else if (now() - last > 10)
				return -1;
		}
	}
	t0 = now() - t0;
	dut_cpu(d, c1);
	for (i = 0; i < 3; i++)
		util[i] = (c1[i] - c0[i]) / t0;
	return frames / t0 / 1e6;
}

#define NDEV	5

int main(int argc, char **argv)
{
	uint64_t frames = argc > 1 ? strtoull(argv[1], NULL, 0) : 2000000;
	int runs = argc > 2 ? atoi(argv[2]) : 5, lay, dev, i;
	static const char *const devs[NDEV] = { "virtio-net", "vdpa passthrough",
						"svq eventfd", "svq doorbell", "svq db+poll" };
	static const char *const layouts[] = { "split", "packed" };
	double best[2][NDEV] = { { 0 } }, lo[2][NDEV], hi[2][NDEV];
	double util[2][NDEV][3] = { { { 0 } } };
	double load[1];

	for (lay = 0; lay < 2; lay++)
		for (dev = 0; dev < NDEV; dev++) {
			lo[lay][dev] = 1e9;
			hi[lay][dev] = 0;
		}
	/* Alternate the devices run by run, so all see the same machine. */
	for (i = 0; i < runs; i++)
		for (lay = 0; lay < 2; lay++)
			for (dev = 0; dev < NDEV; dev++) {
				struct dut d;
				double mpps, u[3];

				if (dut_init(&d, dev, lay)) {
					fprintf(stderr, "bench-vdpa: %s set-up failed\n", devs[dev]);
					return 1;
				}
				mpps = dut_run(&d, frames, u);
				dut_exit(&d);
				if (mpps < 0) {
					fprintf(stderr, "bench-vdpa: %s %s stalled\n", devs[dev],
						layouts[lay]);
					return 1;
				}
				if (mpps > best[lay][dev]) {
					best[lay][dev] = mpps;
					memcpy(util[lay][dev], u, sizeof(u));
				}
				if (mpps < lo[lay][dev])
					lo[lay][dev] = mpps;
				if (mpps > hi[lay][dev])
					hi[lay][dev] = mpps;
			}
	printf("bench-vdpa: TX of %llu 64-byte frames to a null backend, ring %d, "
	       "best of %d runs [range], Mpps\n", (unsigned long long)frames, QSIZE, runs);
	printf("%-7s", "");
	for (dev = 0; dev < NDEV; dev++)
		printf(" %21s", devs[dev]);
	printf("\n");
	for (lay = 0; lay < 2; lay++) {
		printf("%-7s", layouts[lay]);
		for (dev = 0; dev < NDEV; dev++)
			printf(" %7.2f [%5.2f-%5.2f]", best[lay][dev], lo[lay][dev], hi[lay][dev]);
		printf("\n");
	}
	printf("\nratios of the best, and each thread's share of a CPU in the run that gave\n"
	       "the best (driver/device/svq; the driver polls):\n");
	printf("%-7s %8s", "", "pt/net");
	for (dev = 2; dev < NDEV; dev++) {
		char h[32];

		snprintf(h, sizeof(h), "%s/pt", devs[dev]);
		printf(" %-26s", h);
	}
	printf("\n");
	for (lay = 0; lay < 2; lay++) {
		printf("%-7s %7.2fx", layouts[lay], best[lay][1] / best[lay][0]);
		for (dev = 2; dev < NDEV; dev++)
			printf(" %5.2fx [%3.0f/%3.0f/%3.0f%%]%5s", best[lay][dev] / best[lay][1],
			       100 * util[lay][dev][0], 100 * util[lay][dev][1],
			       100 * util[lay][dev][2], "");
		printf("\n");
	}
	printf("(passthrough's shares: split %.0f/%.0f%%, packed %.0f/%.0f%%)\n",
	       100 * util[0][1][0], 100 * util[0][1][1], 100 * util[1][1][0], 100 * util[1][1][1]);
	printf("svq: one queue on its pair's worker, as vlab runs it (with one queue,\n"
	       "svq-threads=one and =pair are the same thread), kicking the device by\n"
	       "eventfd or by a store into its notify area (doorbell), sleeping at once\n"
	       "or polling 10 us after its last work (svq-poll, vlab's default). The\n"
	       "target: svq >= 0.9x passthrough with per-pair threads and doorbell. A\n"
	       "shadowed queue keeps three threads busy (driver, svq, device) where\n"
	       "passthrough keeps two.\n");
	if (getloadavg(load, 1) == 1)
		printf("load average %.2f on %ld CPUs while measuring\n", load[0],
		       sysconf(_SC_NPROCESSORS_ONLN));
	return 0;
}
