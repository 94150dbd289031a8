// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/mem/guest_mem.h"

#define BITS_PER_LONG	(8 * sizeof(unsigned long))

static int guest_mem_translate(struct mem_view *v, uint64_t addr,
			       uint64_t len, unsigned int perm,
			       struct mem_seg *seg, int max);

static const struct mem_view_ops guest_mem_view_ops = {
	.translate = guest_mem_translate,
};

/* Also sets up the identity view: both init paths end here. */
static int guest_mem_alloc_dirty(struct guest_mem *gm)
{
	gm->view.ops = &guest_mem_view_ops;
	gm->view.gm = gm;
	gm->view.identity = true;
	gm->view.name = "guest RAM";
	gm->dirty_bits = (gm->gpa_end + GM_PAGE_SIZE - 1) >> GM_PAGE_SHIFT;
	gm->dirty = calloc((gm->dirty_bits + BITS_PER_LONG - 1) / BITS_PER_LONG,
			   sizeof(unsigned long));
	return gm->dirty ? 0 : -ENOMEM;
}

static void guest_mem_add_region(struct guest_mem *gm, uint64_t gpa,
				 uint64_t size, uint8_t *host, int fd)
{
	struct guest_mem_region *r = &gm->regions[gm->nr_regions++];

	r->gpa = gpa;
	r->size = size;
	r->host = host;
	r->fd = fd;
	if (gpa + size > gm->gpa_end)
		gm->gpa_end = gpa + size;
}

/* A memfd of @size mapped shared at @host (inside the reserved range); -errno. */
static int guest_mem_map_memfd(struct guest_mem *gm, uint64_t gpa, uint64_t size,
			       uint8_t *host)
{
	int fd = memfd_create("vlab-ram", MFD_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) ||
	    mmap(host, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
		 fd, 0) == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return ret;
	}
	guest_mem_add_region(gm, gpa, size, host, fd);
	return 0;
}

/* Both kinds of RAM: one host range, anonymous or a memfd per region over it. */
static int guest_mem_setup(struct guest_mem *gm, uint64_t ram_size, bool memfd)
{
	uint64_t low = ram_size < GM_HOLE_START ? ram_size : GM_HOLE_START;
	void *p;
	int ret = 0;

	memset(gm, 0, sizeof(*gm));
	if (!ram_size || (ram_size & (GM_PAGE_SIZE - 1)))
		return -EINVAL;
	/* For memfds only reserved, each region then mapped over its part. */
	p = mmap(NULL, ram_size, memfd ? PROT_NONE : PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	gm->base = p;
	gm->map_size = ram_size;
	gm->owns_mapping = true;
	gm->ram_size = ram_size;
	if (memfd) {
		ret = guest_mem_map_memfd(gm, 0, low, gm->base);
		if (!ret && ram_size > low)
			ret = guest_mem_map_memfd(gm, GM_HOLE_END, ram_size - low,
						  gm->base + low);
	} else {
		guest_mem_add_region(gm, 0, low, gm->base, -1);
		if (ram_size > low)
			guest_mem_add_region(gm, GM_HOLE_END, ram_size - low, gm->base + low, -1);
	}
	if (!ret)
		ret = guest_mem_alloc_dirty(gm);
	if (ret) {
		guest_mem_exit(gm);
		return ret;
	}
	/*
	 * THP makes KVM's stage-2 faults and migration copies cheaper; for
	 * memfds only where the host allows it for shmem (shmem_enabled).
	 */
	madvise(p, ram_size, MADV_HUGEPAGE);
	return 0;
}

int guest_mem_init(struct guest_mem *gm, uint64_t ram_size)
{
	return guest_mem_setup(gm, ram_size, false);
}

int guest_mem_init_memfd(struct guest_mem *gm, uint64_t ram_size)
{
	return guest_mem_setup(gm, ram_size, true);
}

int guest_mem_replace(struct guest_mem *gm, int i, int fd)
{
	struct guest_mem_region *r = &gm->regions[i];
	struct stat st;

	if (i < 0 || i >= gm->nr_regions || !gm->owns_mapping)
		return -EINVAL;
	if (fstat(fd, &st))
		return -errno;
	if ((uint64_t)st.st_size < r->size)
		return -ERANGE;
	if (mmap(r->host, r->size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0) == MAP_FAILED)
		return -errno;
	madvise(r->host, r->size, MADV_HUGEPAGE);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = fd;
	return 0;
}

void guest_mem_release(struct guest_mem *gm)
{
	int i;

	for (i = 0; i < gm->nr_regions; i++) {
		struct guest_mem_region *r = &gm->regions[i];

		if (r->fd < 0)
			continue;
		/* Should it fail, the mapping stays: still nothing writes it. */
		mmap(r->host, r->size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		close(r->fd);
		r->fd = -1;
	}
}

int guest_mem_init_buffer(struct guest_mem *gm, void *buf, uint64_t size)
{
	memset(gm, 0, sizeof(*gm));
	gm->base = buf;
	gm->map_size = size;
	gm->ram_size = size;
	guest_mem_add_region(gm, 0, size, buf, -1);
	return guest_mem_alloc_dirty(gm);
}

void guest_mem_exit(struct guest_mem *gm)
{
	int i;

	for (i = 0; i < gm->nr_regions; i++)
		if (gm->regions[i].fd >= 0)
			close(gm->regions[i].fd);
	if (gm->owns_mapping && gm->base)
		munmap(gm->base, gm->map_size);
	free(gm->dirty);
	memset(gm, 0, sizeof(*gm));
}

static struct guest_mem_region *guest_mem_find(struct guest_mem *gm,
					       uint64_t gpa, uint64_t len)
{
	int i;

	for (i = 0; i < gm->nr_regions; i++) {
		struct guest_mem_region *r = &gm->regions[i];

		/* Written so that no sum can overflow on hostile gpa/len. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r;
	}
	return NULL;
}

/*
 * Identity view: a span is split where regions meet in guest-physical
 * space (they never do on x86 with the hole, but buffers used as RAM
 * by tests may), and fails on the first byte outside RAM.
 */
static int guest_mem_translate(struct mem_view *v, uint64_t addr,
			       uint64_t len, unsigned int perm,
			       struct mem_seg *seg, int max)
{
	struct guest_mem *gm = v->gm;
	int n = 0;

	while (len) {
		struct guest_mem_region *r = guest_mem_find(gm, addr, 1);
		uint64_t off, chunk;

		if (!r)
			return -EFAULT;
		if (n == max)
			return -E2BIG;
		off = addr - r->gpa;
		chunk = r->size - off < len ? r->size - off : len;
		seg[n].host = r->host + off;
		seg[n].gpa = addr;
		seg[n].len = chunk;
		n++;
		addr += chunk;
		len -= chunk;
	}
	return n;
}

bool guest_mem_is_ram(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	return guest_mem_find(gm, gpa, len) != NULL;
}

void guest_mem_mark_dirty(struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t pfn, last;

	if (!len || !gm->dirty)
		return;
	pfn = gpa >> GM_PAGE_SHIFT;
	last = (gpa + len - 1) >> GM_PAGE_SHIFT;
	if (last >= gm->dirty_bits)
		last = gm->dirty_bits - 1;
	/* A word's pages with one locked OR: it drains the store buffer each time. */
	while (pfn <= last) {
		uint64_t n = last - pfn + 1, bit = pfn % BITS_PER_LONG;
		unsigned long mask;

		if (n > BITS_PER_LONG - bit)
			n = BITS_PER_LONG - bit;
		mask = (n == BITS_PER_LONG ? ~0UL : ((1UL << n) - 1)) << bit;
		__atomic_fetch_or(&gm->dirty[pfn / BITS_PER_LONG], mask, __ATOMIC_RELEASE);
		pfn += n;
	}
}

void guest_mem_dirty_collect(struct guest_mem *gm, unsigned long *out)
{
	uint64_t i, n = (gm->dirty_bits + BITS_PER_LONG - 1) / BITS_PER_LONG;

	for (i = 0; i < n; i++)
		out[i] = __atomic_exchange_n(&gm->dirty[i], 0, __ATOMIC_ACQUIRE);
}

void *guest_mem_map(struct guest_mem *gm, uint64_t gpa, uint64_t len, bool write)
{
	struct guest_mem_region *r = guest_mem_find(gm, gpa, len);

	if (!r)
		return NULL;
	if (write)
		guest_mem_mark_dirty(gm, gpa, len);
	return r->host + (gpa - r->gpa);
}

int guest_mem_read(struct guest_mem *gm, uint64_t gpa, void *buf, uint64_t len)
{
	void *p = guest_mem_map(gm, gpa, len, false);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

/*
 * Write, then mark: migration collects the marks and then reads the pages,
 * so a mark set before the write could be collected, the page read, and
 * the write that follows never sent.
 */
int guest_mem_write(struct guest_mem *gm, uint64_t gpa, const void *buf, uint64_t len)
{
	void *p = guest_mem_map(gm, gpa, len, false);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	guest_mem_mark_dirty(gm, gpa, len);
	return 0;
}

int guest_mem_fill(struct guest_mem *gm, uint64_t gpa, int c, uint64_t len)
{
	void *p = guest_mem_map(gm, gpa, len, false);

	if (!p)
		return -EFAULT;
	memset(p, c, len);
	guest_mem_mark_dirty(gm, gpa, len);
	return 0;
}

static void set_bits(unsigned long *bm, uint64_t first, uint64_t n)
{
	for (; n; first++, n--)
		bm[first / BITS_PER_LONG] |= 1UL << (first % BITS_PER_LONG);
}

/*
 * A memfd region: the pages its file has (in memory or swapped), found
 * with SEEK_DATA/SEEK_HOLE. pagemap would miss those this process never
 * mapped: all of them, right after a local migration handed the memory over.
 */
static int guest_mem_touched_fd(struct guest_mem_region *r, unsigned long *bm)
{
	uint64_t first = r->gpa >> GM_PAGE_SHIFT;
	off_t data = 0, hole;

	for (;;) {
		data = lseek(r->fd, data, SEEK_DATA);
		if (data < 0 || (uint64_t)data >= r->size)
			return data < 0 && errno != ENXIO ? -errno : 0;
		hole = lseek(r->fd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if ((uint64_t)hole > r->size)
			hole = r->size;
		set_bits(bm, first + (data >> GM_PAGE_SHIFT),
			 ((hole + GM_PAGE_SIZE - 1) >> GM_PAGE_SHIFT) - (data >> GM_PAGE_SHIFT));
		data = hole;
	}
}

/* pagemap entries read at once: 64 KiB, 32 MiB of guest RAM. */
#define PAGEMAP_CHUNK	8192
#define PAGEMAP_PRESENT	(1ULL << 63)
#define PAGEMAP_SWAPPED	(1ULL << 62)

/* Memory of ours (unit tests' buffers): what pagemap says is backed. */
static int guest_mem_touched_pagemap(struct guest_mem_region *r, unsigned long *bm)
{
	uint64_t *e = malloc(PAGEMAP_CHUNK * sizeof(*e));
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), ret = 0;
	uint64_t first = r->gpa >> GM_PAGE_SHIFT, pages = r->size >> GM_PAGE_SHIFT;
	uint64_t host = (uintptr_t)r->host >> GM_PAGE_SHIFT, p, n, k;

	if (!e || fd < 0 || sysconf(_SC_PAGESIZE) != GM_PAGE_SIZE) {
		ret = !e ? -ENOMEM : fd < 0 ? -errno : -EOPNOTSUPP;
		goto out;
	}
	for (p = 0; p < pages; p += n) {
		ssize_t want, got;

		n = pages - p < PAGEMAP_CHUNK ? pages - p : PAGEMAP_CHUNK;
		want = n * sizeof(*e);
		got = pread(fd, e, want, (host + p) * sizeof(*e));
		if (got != want) {
			ret = got < 0 ? -errno : -EIO;
			break;
		}
		for (k = 0; k < n; k++)
			if (e[k] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED))
				set_bits(bm, first + p + k, 1);
	}
out:
	if (fd >= 0)
		close(fd);
	free(e);
	return ret;
}

int guest_mem_touched(struct guest_mem *gm, unsigned long *bm)
{
	int i, ret = 0;

	for (i = 0; !ret && i < gm->nr_regions; i++) {
		struct guest_mem_region *r = &gm->regions[i];

		ret = r->fd >= 0 ? guest_mem_touched_fd(r, bm) :
		      guest_mem_touched_pagemap(r, bm);
	}
	return ret;
}
