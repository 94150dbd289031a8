// SPDX-License-Identifier: GPL-2.0
/*
 * Local migration (mode=local): both vlabs are on one host, so guest RAM
 * is not copied. Each RAM region is a memfd (guest_mem.c); the source
 * sends the region layout with the memfds over the unix socket
 * (SCM_RIGHTS), and the destination maps them in place of its own RAM
 * while the guest still runs; then the source pauses and sends the state
 * as usual. The downtime is the state's, whatever the size of RAM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/core/vm.h"
#include "vmm/migrate/internal.h"

#define MIG_LAYOUT_SIZE(n) \
	(sizeof(struct mig_mem_layout) + (n) * sizeof(((struct mig_mem_layout *)0)->region[0]))

/*
 * The source, before it pauses: the layout and the memfds. The guest
 * runs on in them until stop-and-copy; the destination maps them and
 * waits for the state.
 */
int mig_send_memory(struct migration *m)
{
	struct guest_mem *gm = &m->vm->mem;
	struct mig_mem_layout *l = calloc(1, MIG_LAYOUT_SIZE(GM_MAX_REGIONS));
	int fds[GM_MAX_REGIONS], i, ret;

	if (!l)
		return -ENOMEM;
	l->nr_regions = gm->nr_regions;
	for (i = 0; i < gm->nr_regions; i++) {
		l->region[i].gpa = gm->regions[i].gpa;
		l->region[i].size = gm->regions[i].size;
		fds[i] = gm->regions[i].fd;
	}
	ret = mig_send_fds(m, MIG_REC_MEMORY, 0, l, MIG_LAYOUT_SIZE(gm->nr_regions), true,
			   fds, gm->nr_regions);
	free(l);
	return ret;
}

/* @l (@len bytes, from the stream) against this vlab's RAM; -1 with @err if it differs. */
static int mig_layout_check(struct guest_mem *gm, const struct mig_mem_layout *l, uint64_t len,
			    char *err, size_t errlen)
{
	int i;

	if (len < sizeof(*l) || l->nr_regions < 1 || l->nr_regions > GM_MAX_REGIONS ||
	    len != MIG_LAYOUT_SIZE(l->nr_regions) || l->reserved) {
		snprintf(err, errlen, "corrupt stream: a %llu-byte memory layout record",
			 (unsigned long long)len);
		return -1;
	}
	if ((int)l->nr_regions != gm->nr_regions) {
		snprintf(err, errlen, "memory layout mismatch: the source has %u RAM region(s), "
			 "this vlab %d", l->nr_regions, gm->nr_regions);
		return -1;
	}
	for (i = 0; i < gm->nr_regions; i++) {
		struct guest_mem_region *r = &gm->regions[i];

		if (l->region[i].gpa != r->gpa || l->region[i].size != r->size) {
			snprintf(err, errlen, "memory layout mismatch: the source's RAM region %d is "
				 "0x%llx+0x%llx, this vlab's 0x%llx+0x%llx", i,
				 (unsigned long long)l->region[i].gpa,
				 (unsigned long long)l->region[i].size,
				 (unsigned long long)r->gpa, (unsigned long long)r->size);
			return -1;
		}
	}
	return 0;
}

/* A memfd (shmem: it has seals to get) of exactly @size bytes? */
static bool mig_fd_is_memfd(int fd, uint64_t size)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size &&
	       fcntl(fd, F_GET_SEALS) >= 0;
}

/*
 * The destination: a MIG_REC_MEMORY record, whose header brought @fds.
 * The layout must be this vlab's, and each fd a memfd of its region's
 * size; then they replace this vlab's RAM. Nothing here writes guest RAM:
 * the guest still runs at the source, and until the source has our
 * acknowledgement it may resume the guest in it.
 */
int mig_recv_memory(struct vm *vm, int fd, const struct mig_rec *rec, struct mig_fds *fds,
		    char *err, size_t errlen)
{
	struct guest_mem *gm = &vm->mem;
	struct mig_mem_layout *l;
	uint64_t t0;
	int i, ret = -1;

	if (rec->len > MIG_LAYOUT_SIZE(GM_MAX_REGIONS) || rec->len < sizeof(*l)) {
		snprintf(err, errlen, "corrupt stream: a %llu-byte memory layout record",
			 (unsigned long long)rec->len);
		return -1;
	}
	l = malloc(rec->len);
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (mig_recv_payload(fd, l, rec, err, errlen) ||
	    mig_layout_check(gm, l, rec->len, err, errlen))
		goto out;
	if (!fds->nr) {
		snprintf(err, errlen, "a local migration stream without the file descriptors of "
			 "guest RAM (only a unix: socket carries them)");
		goto out;
	}
	if (fds->too_many || fds->nr != gm->nr_regions) {
		snprintf(err, errlen, "a local migration stream with %s%d file descriptor(s) for "
			 "%d RAM region(s)", fds->too_many ? "more than " : "", fds->nr,
			 gm->nr_regions);
		goto out;
	}
	for (i = 0; i < gm->nr_regions; i++) {
		if (!mig_fd_is_memfd(fds->fd[i], gm->regions[i].size)) {
			snprintf(err, errlen, "the source's file descriptor for RAM region %d is not "
				 "a memfd of %llu bytes", i,
				 (unsigned long long)gm->regions[i].size);
			goto out;
		}
	}
	t0 = vlab_now_ns();
	for (i = 0; i < gm->nr_regions; i++) {
		int r = guest_mem_replace(gm, i, fds->fd[i]);

		if (r) {
			snprintf(err, errlen, "mapping the source's RAM region %d: %s", i,
				 strerror(-r));
			goto out;
		}
		fds->fd[i] = -1;	/* guest RAM's now */
	}
	vlab_log("incoming: %llu MiB of guest RAM taken over from the source by file descriptor "
		 "(mapped in %.1f ms)", (unsigned long long)(gm->ram_size >> 20),
		 (vlab_now_ns() - t0) / 1e6);
	ret = 0;
out:
	mig_fds_close(fds);
	free(l);
	return ret;
}
