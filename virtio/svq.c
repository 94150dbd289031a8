// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/ring_layout.h"
#include "virtio/svq.h"

#define PAGE		4096ULL
#define ROUND(x)	(((x) + PAGE - 1) & ~(PAGE - 1))

/*
 * One area the device only reads, then one it writes: split rings put the
 * descriptor table and the driver area first; packed rings, whose
 * descriptors the device writes back, the driver area alone.
 */
struct svq_layout {
	uint64_t desc, driver, device, ro_len, size;
};

static void svq_layout(uint16_t size, uint64_t features, struct svq_layout *l)
{
	bool packed = features & VDRV_F(VIRTIO_F_RING_PACKED);
	bool event = features & VDRV_F(VIRTIO_RING_F_EVENT_IDX);
	uint64_t desc = ROUND(virtq_desc_bytes(size));
	uint64_t drv = ROUND(virtq_driver_bytes(size, packed, event));
	uint64_t dev = ROUND(virtq_device_bytes(size, packed, event));

	if (packed) {
		l->driver = 0;
		l->desc = drv;
		l->device = drv + desc;
		l->ro_len = drv;
	} else {
		l->desc = 0;
		l->driver = desc;
		l->device = desc + drv;
		l->ro_len = desc + drv;
	}
	l->size = desc + drv + dev;
}

size_t svq_ring_bytes(uint16_t size, uint64_t features)
{
	struct svq_layout l;

	svq_layout(size, features, &l);
	return l.size;
}

int svq_init(struct svq *s, struct virtq *guest, uint64_t features, void *mem, uint64_t iova)
{
	uint16_t n = guest->size, i;
	struct svq_layout l;
	struct vdrv_rings r;

	memset(s, 0, sizeof(*s));
	svq_layout(n, features, &l);
	s->guest = guest;
	s->mem = mem;
	s->iova = iova;
	s->size = n;
	s->parked = -1;
	s->aux = aligned_alloc(8, (VDRV_AUX_BYTES(n) + 7) & ~7UL);
	s->elems = calloc(n, sizeof(*s->elems));
	s->seq = calloc(n, sizeof(*s->seq));
	s->free = calloc(n, sizeof(*s->free));
	s->popped = calloc(n, sizeof(*s->popped));
	s->busy = calloc(n, sizeof(*s->busy));
	if (!s->aux || !s->elems || !s->seq || !s->free || !s->popped || !s->busy) {
		svq_exit(s);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		s->free[s->nr_free++] = n - 1 - i;
	memset(mem, 0, l.size);
	r = (struct vdrv_rings){
		.desc = s->mem + l.desc, .driver = s->mem + l.driver, .device = s->mem + l.device,
		.desc_addr = iova + l.desc, .driver_addr = iova + l.driver,
		.device_addr = iova + l.device,
	};
	vdrv_setup(&s->shadow, &r, s->aux, n, features);
	return 0;
}

void svq_exit(struct svq *s)
{
	free(s->aux);
	free(s->elems);
	free(s->seq);
	free(s->free);
	free(s->popped);
	free(s->busy);
	s->aux = NULL;
	s->elems = NULL;
	s->seq = NULL;
	s->free = NULL;
	s->popped = NULL;
	s->busy = NULL;
}

void svq_rings(const struct svq *s, uint64_t *desc, uint64_t *driver, uint64_t *device)
{
	*desc = s->shadow.desc_addr;
	*driver = s->shadow.driver_addr;
	*device = s->shadow.device_addr;
}

uint16_t svq_base(const struct svq *s)
{
	/* A fresh ring: index 0, and for packed both wrap counters 1 (bit 15). */
	return s->shadow.packed ? 0x8000 : 0;
}

void svq_areas(const struct svq *s, uint64_t *ro_off, uint64_t *ro_len, uint64_t *rw_off,
	       uint64_t *rw_len)
{
	struct svq_layout l;

	svq_layout(s->size, s->shadow.features, &l);
	*ro_off = 0;
	*ro_len = l.ro_len;
	*rw_off = l.ro_len;
	*rw_len = l.size - l.ro_len;
}

static int svq_fail(struct svq *s, int err, const char *why)
{
	if (!s->error)
		s->error = why;
	return err;
}

/* Put the element in @slot on the shadow ring, by guest-physical address. */
static int svq_add(struct svq *s, uint16_t slot)
{
	const struct virtq_elem *e = &s->elems[slot];
	struct vdrv_buf b[VIRTQ_MAX_SEGS];
	unsigned int i, n = e->out_num + e->in_num;

	for (i = 0; i < n; i++) {
		if (e->gpa[i] == MV_NO_GPA)
			return svq_fail(s, -EFAULT, "a guest buffer outside guest RAM");
		b[i] = (struct vdrv_buf){ e->gpa[i], (uint32_t)e->iov[i].iov_len };
	}
	if (n > s->size)
		return svq_fail(s, -E2BIG, "a chain longer than the shadow ring");
	return vdrv_add(&s->shadow, b, e->out_num, e->in_num, false, slot) < 0 ? -ENOSPC : 0;
}

int svq_avail(struct svq *s)
{
	bool added = false;
	int slot, r;

	if (s->error)
		return -EIO;
	for (;;) {
		if (s->parked >= 0) {
			slot = s->parked;
		} else {
			if (!s->nr_free)
				break;
			slot = s->free[s->nr_free - 1];
			r = virtq_pop(s->guest, &s->elems[slot]);
			if (r < 0)
				return svq_fail(s, r, s->guest->broken_reason ?
						      s->guest->broken_reason : "guest ring broken");
			if (!r)
				break;
			s->nr_free--;
			s->busy[slot] = true;
			s->popped[s->pops % s->size] = slot;
			s->seq[slot] = s->pops++;
			s->inflight++;
		}
		r = svq_add(s, slot);
		if (r == -ENOSPC) {
			/* No room for its chain: wait for a completion. */
			s->parked = slot;
			break;
		}
		if (r)
			return r;
		s->parked = -1;
		s->forwarded++;
		added = true;
	}
	if (!added)
		return 0;
	vdrv_publish(&s->shadow);
	if (!vdrv_kick_needed(&s->shadow))
		return 0;
	s->device_kicks++;
	return 1;
}

int svq_used(struct svq *s)
{
	uint64_t cookie;
	uint32_t len;
	int r, n = 0;

	while ((r = vdrv_get_used(&s->shadow, &cookie, &len)) > 0) {
		uint16_t slot = (uint16_t)cookie;

		if (cookie >= s->size || slot == s->parked || !s->busy[slot])
			return svq_fail(s, -EPROTO, "the device used a buffer it was not given");
		virtq_fill(s->guest, &s->elems[slot], len);
		s->busy[slot] = false;
		s->free[s->nr_free++] = slot;
		s->inflight--;
		s->completed++;
		n++;
	}
	if (r < 0)
		return svq_fail(s, -EPROTO, "the device used a buffer it was not given");
	if (n)
		virtq_flush(s->guest);
	return n;
}

int svq_rewind(struct svq *s)
{
	uint32_t oldest = s->pops - s->inflight, k;
	uint16_t slot;

	/* In flight must be exactly the newest pops, or a used one would come again. */
	for (k = oldest; k != s->pops; k++) {
		slot = s->popped[k % s->size];
		if (!s->busy[slot] || s->seq[slot] != k)
			return -EBUSY;
	}
	for (k = s->pops; k != oldest; k--) {
		slot = s->popped[(k - 1) % s->size];
		virtq_unpop(s->guest, &s->elems[slot]);
		s->busy[slot] = false;
		s->free[s->nr_free++] = slot;
	}
	s->inflight = 0;
	s->pops = oldest;
	s->parked = -1;
	return 0;
}
