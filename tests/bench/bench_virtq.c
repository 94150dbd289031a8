// SPDX-License-Identifier: GPL-2.0
/*
 * bench-virtq: virtqueue throughput, driver and device on two CPUs.
 *
 * The driver model (virtio/virtq_driver.c via tests/virtio/vdrv_guest.h) runs on CPU 0 and queues
 * `batch` TX buffers, each a 12-byte virtio-net header plus a 64-byte
 * frame, publishes them, rings a doorbell (a shared counter the device
 * spins on, no futex) and waits until the device has returned the whole
 * batch. The device (virtq_pop/virtq_fill/virtq_flush and
 * virtq_should_notify, as a real TX queue would) runs on CPU 1 with a null
 * backend that reads the header and drops the frame, draining the ring
 * each time the doorbell moves. So batch 1 is one full round trip per
 * frame (the cache lines each layout puts on that path decide the rate)
 * and batch 256 mostly measures per-buffer work. Each cell is a fixed
 * number of frames; the tables show Mpps for split, packed and both with
 * IN_ORDER, and the packed/split ratios: first from the median batch
 * round trip (robust when other processes share the two CPUs and preempt
 * either thread), then plain frames over wall-clock time. On an idle
 * machine the two agree.
 *
 *	usage: bench_virtq [frames per cell] [ring size] [passes]
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>
#include <linux/virtio_net.h>

#include "virtio/virtq.h"
#include "virtio/vdrv_guest.h"
/*
 * The driver side is compiled into the bench, so its calls inline as the
 * header-only model of earlier commits did: a comparison with them then
 * measures the device side only.
 */
#include "virtio/virtq_driver.c"

#define RAM_SIZE	(4ULL << 20)
#define FRAME_LEN	64
#define HDR_LEN		sizeof(struct virtio_net_hdr_v1)
#define SLOT		128
#define TIME_BUDGET	20.0	/* seconds before no further pass starts */
#define CELL_DEADLINE	2.5	/* seconds a cell may run on a busy machine */

_Static_assert(sizeof(struct virtio_net_hdr_v1) == 12, "virtio-net header");

struct cell_result {
	double wall;		/* frames / elapsed time */
	double typical;		/* batch / median batch round trip */
	bool cut;		/* stopped at CELL_DEADLINE */
};

struct mode {
	const char *name;
	uint64_t features;
};

static const struct mode modes[] = {
	{ "split",		0 },
	{ "packed",		VDRV_F(VIRTIO_F_RING_PACKED) },
	{ "split+in_order",	VDRV_F(VIRTIO_F_IN_ORDER) },
	{ "packed+in_order",	VDRV_F(VIRTIO_F_RING_PACKED) | VDRV_F(VIRTIO_F_IN_ORDER) },
};

static const unsigned int batches[] = { 1, 8, 32, 256 };

#define NMODES		(sizeof(modes) / sizeof(modes[0]))
#define NBATCHES	(sizeof(batches) / sizeof(batches[0]))

/* Driver-owned, device-owned and shared parts on separate cache lines. */
struct run {
	struct guest_mem gm;
	uint8_t *ram;
	uint64_t frames;
	unsigned int batch;

	_Alignas(64) struct vdrv drv;
	_Alignas(64) struct virtq vq;

	/* Device results, written once when it stops. */
	_Alignas(64) uint64_t dev_frames;
	uint64_t dev_bytes;
	uint64_t dev_offloads;
	uint64_t notifies;
	int dev_err;
	int dev_done;

	_Alignas(64) uint64_t doorbell;
	_Alignas(64) int stop;
};

static inline void cpu_relax(void)
{
	__builtin_ia32_pause();
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "bench-virtq: cannot pin to CPU %d\n", cpu);
}

static void *device_main(void *arg)
{
	struct run *r = arg;
	struct virtq *vq = &r->vq;
	uint64_t seen = 0, frames = 0, bytes = 0, offloads = 0, notifies = 0;
	struct virtq_elem *elem;
	int ret = 0;

	pin(1);
	elem = aligned_alloc(64, (sizeof(*elem) + 63) & ~63UL);
	if (!elem) {
		ret = -ENOMEM;
		goto out;
	}
	/* Kicks come through the doorbell: ring notifications are not needed. */
	virtq_disable_notify(vq);
	for (;;) {
		uint64_t db = __atomic_load_n(&r->doorbell, __ATOMIC_ACQUIRE);

		if (db == seen) {
			if (__atomic_load_n(&r->stop, __ATOMIC_RELAXED))
				break;
			cpu_relax();
			continue;
		}
		seen = db;
		while ((ret = virtq_pop(vq, elem)) > 0) {
			const struct virtio_net_hdr_v1 *hdr = elem->iov[0].iov_base;

			/* Null backend: honour the header, drop the frame. */
			if (elem->iov[0].iov_len < HDR_LEN) {
				ret = -EINVAL;
				break;
			}
			if (hdr->flags || hdr->gso_type)
				offloads++;
			bytes += elem->out_len - HDR_LEN;
			frames++;
			virtq_fill(vq, elem, 0);
		}
		virtq_flush(vq);
		if (virtq_should_notify(vq))
			notifies++;
		if (ret < 0)
			break;
	}
	free(elem);
out:
	r->dev_frames = frames;
	r->dev_bytes = bytes;
	r->dev_offloads = offloads;
	r->notifies = notifies;
	r->dev_err = ret < 0 ? ret : 0;
	__atomic_store_n(&r->dev_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * One cell. Mpps two ways: wall clock over the whole cell, and from the
 * median batch round trip, which other processes preempting either
 * thread barely move (this machine is shared). Negative on failure.
 */
/*
 * flatten: the driver calls inline into this loop, as they did when the
 * driver model was a header of static inline functions, so a comparison
 * with the benches of those commits measures the device side.
 */
__attribute__((flatten))
static struct cell_result run_cell(const struct mode *m, unsigned int batch,
				   uint64_t frames, uint16_t size)
{
	struct cell_result res = { -1, -1, false };
	struct run *r = aligned_alloc(64, sizeof(*r));
	uint64_t sent = 0, done = 0, frames_gpa, db = 0, nbatch = 0, c0, c1;
	uint32_t *rtt = NULL;
	struct vdrv *d;
	pthread_t dev;
	double t0, t1;
	unsigned int i;

	if (!r)
		return res;
	memset(r, 0, sizeof(*r));
	r->frames = frames;
	r->batch = batch;
	r->ram = aligned_alloc(4096, RAM_SIZE);
	rtt = calloc(frames / batch + 1, sizeof(*rtt));
	if (!r->ram || !rtt || guest_mem_init_buffer(&r->gm, r->ram, RAM_SIZE))
		goto out;
	memset(r->ram, 0, RAM_SIZE);
	d = &r->drv;
	if (vdrv_init(d, &r->gm, 0x1000, size,
		      m->features | VDRV_F(VIRTIO_F_VERSION_1)) ||
	    vdrv_attach(d, &r->vq))
		goto out_drv;
	frames_gpa = vdrv_end_gpa(d);
	if (frames_gpa + (uint64_t)size * SLOT > RAM_SIZE)
		goto out_drv;
	/* Zeroed headers (no offloads) and a recognisable payload. */
	for (i = 0; i < size; i++)
		memset(r->ram + frames_gpa + (uint64_t)i * SLOT + HDR_LEN, 0x5a,
		       FRAME_LEN);

	if (pthread_create(&dev, NULL, device_main, r))
		goto out_drv;
	pin(0);
	t0 = now();
	c0 = __rdtsc();
	while (done < frames) {
		uint64_t start = __rdtsc();

		for (i = 0; i < batch; i++) {
			struct vdrv_buf b = {
				frames_gpa + ((sent + i) % size) * SLOT,
				HDR_LEN + FRAME_LEN,
			};

			vdrv_add(d, &b, 1, 0, false, 0);
		}
		vdrv_publish(d);
		/* Release: the buffers are published before the doorbell moves. */
		__atomic_store_n(&r->doorbell, ++db, __ATOMIC_RELEASE);
		sent += batch;
		/* Wait for the whole batch, as a driver reaping its completions. */
		while (done < sent) {
			while (vdrv_get_used(d, NULL, NULL) > 0)
				done++;
			if (done >= sent)
				break;
			if (__atomic_load_n(&r->dev_done, __ATOMIC_ACQUIRE))
				goto stop;
			cpu_relax();
		}
		c1 = __rdtsc() - start;
		rtt[nbatch++] = c1 > UINT32_MAX ? UINT32_MAX : c1;
		/* Keep the whole bench short even when the CPUs are busy. */
		if (!(sent & 32767) && now() - t0 > CELL_DEADLINE) {
			res.cut = true;
			break;
		}
	}
stop:
	c1 = __rdtsc();
	t1 = now();
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
	pthread_join(dev, NULL);

	if (r->dev_err || r->dev_frames != sent ||
	    r->dev_bytes != sent * FRAME_LEN || r->dev_offloads || !nbatch) {
		fprintf(stderr, "bench-virtq: %s batch %u: device error %d, %llu of %llu frames\n",
			m->name, batch, r->dev_err,
			(unsigned long long)r->dev_frames, (unsigned long long)sent);
	} else {
		/* TSC ticks per second, from this very cell. */
		double hz = (c1 - c0) / (t1 - t0);

		qsort(rtt, nbatch, sizeof(*rtt), cmp_u32);
		res.wall = done / (t1 - t0) / 1e6;
		res.typical = batch / (rtt[nbatch / 2] / hz) / 1e6;
	}
out_drv:
	vdrv_exit(d);
	guest_mem_exit(&r->gm);
out:
	free(rtt);
	free(r->ram);
	free(r);
	return res;
}

static void print_table(const char *title, double mpps[NMODES][NBATCHES])
{
	unsigned int m, b;

	printf("\n%-26s", title);
	for (b = 0; b < NBATCHES; b++)
		printf("  batch %-4u", batches[b]);
	printf("\n");
	for (m = 0; m < NMODES; m++) {
		printf("%-26s", modes[m].name);
		for (b = 0; b < NBATCHES; b++)
			printf("  %10.2f", mpps[m][b]);
		printf("\n");
	}
	printf("%-26s", "packed/split");
	for (b = 0; b < NBATCHES; b++)
		printf("  %9.2fx", mpps[1][b] / mpps[0][b]);
	printf("\n%-26s", "packed/split (in_order)");
	for (b = 0; b < NBATCHES; b++)
		printf("  %9.2fx", mpps[3][b] / mpps[2][b]);
	printf("\n");
}

int main(int argc, char **argv)
{
	uint64_t frames = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
	unsigned int size = argc > 2 ? strtoul(argv[2], NULL, 0) : 1024;
	unsigned int passes = argc > 3 ? strtoul(argv[3], NULL, 0) : 5;
	double typical[NMODES][NBATCHES], wall[NMODES][NBATCHES], load[1] = { 0 };
	double t0 = now(), best_batched = 0;
	unsigned int m, b, k, cut = 0;
	int failed = 0;

	if (!frames || !size || size > VIRTQ_MAX_SIZE || (size & (size - 1)) ||
	    size < batches[NBATCHES - 1] || !passes) {
		fprintf(stderr, "usage: %s [frames per cell] [ring size, power of two >= 256] [passes]\n",
			argv[0]);
		return 2;
	}
	frames -= frames % batches[NBATCHES - 1];
	printf("bench-virtq: %u-byte frames + %zu-byte virtio-net header, ring %u, "
	       "%llu frames per cell, driver CPU 0, device CPU 1\n",
	       FRAME_LEN, HDR_LEN, size, (unsigned long long)frames);

	for (b = 0; b < NBATCHES; b++)
		for (m = 0; m < NMODES; m++)
			typical[m][b] = wall[m][b] = -1;
	/*
	 * Whole passes over the table, modes side by side, so load from
	 * other processes hits every cell alike; each cell keeps its best
	 * pass. No pass starts once the time budget is spent.
	 */
	for (k = 0; k < passes && (k == 0 || now() - t0 < TIME_BUDGET); k++) {
		for (b = 0; b < NBATCHES; b++) {
			for (m = 0; m < NMODES; m++) {
				struct cell_result v = run_cell(&modes[m], batches[b],
								frames, size);

				if (v.wall < 0)
					failed = 1;
				cut += v.cut;
				if (v.typical > typical[m][b])
					typical[m][b] = v.typical;
				if (v.wall > wall[m][b])
					wall[m][b] = v.wall;
			}
		}
	}
	passes = k;

	print_table("Mpps (median round trip)", typical);
	print_table("Mpps (wall clock)", wall);
	for (b = 1; b < NBATCHES; b++)
		if (typical[1][b] > best_batched)
			best_batched = typical[1][b];
	printf("\ntargets: packed batched >= 10 Mpps: %s (%.2f); "
	       "packed/split at batch 1 >= 1.5x: %s (%.2fx)\n",
	       best_batched >= 10 ? "met" : "missed", best_batched,
	       typical[1][0] / typical[0][0] >= 1.5 ? "met" : "missed",
	       typical[1][0] / typical[0][0]);
	if (cut)
		printf("%u cell%s stopped after %.1f s with fewer frames: the CPUs are busy\n",
		       cut, cut > 1 ? "s" : "", CELL_DEADLINE);
	getloadavg(load, 1);
	printf("%u pass%s in %.1f s, load average %.2f on %ld CPUs\n", passes,
	       passes > 1 ? "es" : "", now() - t0, load[0],
	       sysconf(_SC_NPROCESSORS_ONLN));
	return failed;
}
