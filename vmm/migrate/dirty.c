// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/core/vm.h"
#include "vmm/mem/dirty_ring.h"
#include "vmm/core/worker.h"
#include "vmm/migrate/dirty.h"

#define BITS_PER_LONG		(8 * sizeof(unsigned long))

void dirty_source_register(struct vm *vm, struct dirty_source *src)
{
	src->next = vm->dirty_sources;
	vm->dirty_sources = src;
}

void dirty_source_unregister(struct vm *vm, struct dirty_source *src)
{
	struct dirty_source **p;

	for (p = &vm->dirty_sources; *p; p = &(*p)->next)
		if (*p == src) {
			*p = src->next;
			return;
		}
}

/* ---- KVM: vCPU writes ---- */

static int kvm_log_start(void *opaque)
{
	struct dirty_log *dl = opaque;
	struct vm *vm = dl->vm;
	int caps;

	/*
	 * Bitmap with manual protect: reading the log does not re-protect;
	 * we clear what we send. With the dirty ring, enabling logging
	 * write-protects everything and each first write lands in a ring.
	 */
	caps = vm->dirty_ring ? 0 :
	       ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (caps > 0 && !dl->manual_protect) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
		};

		if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
			return -errno;
		dl->manual_protect = true;
	}
	return vm_set_memory_slots(vm, KVM_MEM_LOG_DIRTY_PAGES);
}

static int kvm_log_collect(void *opaque, unsigned long *bm)
{
	struct dirty_log *dl = opaque;
	struct vm *vm = dl->vm;
	int i;

	if (vm->dirty_ring) {
		dirty_ring_collect(vm, bm);
		return 0;
	}
	for (i = 0; i < vm->mem.nr_regions; i++) {
		struct guest_mem_region *r = &vm->mem.regions[i];
		uint64_t pages = r->size >> GM_PAGE_SHIFT, first = r->gpa >> GM_PAGE_SHIFT, p;
		uint64_t *slot_bm = calloc((pages + 63) / 64, 8);
		struct kvm_dirty_log log = { .slot = i, .dirty_bitmap = slot_bm };
		struct kvm_clear_dirty_log clr = {
			.slot = i, .first_page = 0, .num_pages = pages, .dirty_bitmap = slot_bm,
		};

		if (!slot_bm || ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
			free(slot_bm);
			return -EIO;
		}
		/* Re-protect before the pages are read, so later writes are seen. */
		ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clr);
		for (p = 0; p < pages; p++)
			if (slot_bm[p / 64] >> (p % 64) & 1)
				bm[(first + p) / BITS_PER_LONG] |= 1UL << ((first + p) % BITS_PER_LONG);
		free(slot_bm);
	}
	return 0;
}

static void kvm_log_stop(void *opaque)
{
	struct dirty_log *dl = opaque;

	vm_set_memory_slots(dl->vm, 0);
	dirty_ring_collect(dl->vm, NULL);	/* leave the rings empty */
}

/* ---- memory views: device writes, already in GPA space ---- */

static int views_start(void *opaque)
{
	struct dirty_log *dl = opaque;

	/* Device writes from now on count; earlier ones are in round 0 anyway. */
	guest_mem_dirty_collect(&dl->vm->mem, dl->scratch);
	return 0;
}

static int views_collect(void *opaque, unsigned long *bm)
{
	struct dirty_log *dl = opaque;
	uint64_t w;

	guest_mem_dirty_collect(&dl->vm->mem, dl->scratch);
	for (w = 0; w < dl->words; w++)
		bm[w] |= dl->scratch[w];
	return 0;
}

/* ---- the log ---- */

void dirty_log_stop(struct dirty_log *dl)
{
	int i;

	if (dl->logging)
		for (i = dl->nr_src - 1; i >= 0; i--)
			if (dl->src[i]->stop)
				dl->src[i]->stop(dl->src[i]->opaque);
	dl->logging = false;
	dl->nr_src = 0;
	free(dl->bm);
	free(dl->scratch);
	dl->bm = dl->scratch = NULL;
}

static void source_start(void *arg, unsigned int i)
{
	struct dirty_log *dl = arg;
	struct dirty_source *s = dl->src[2 + i];

	dl->ret[i] = s->start ? s->start(s->opaque) : 0;
}

/*
 * The devices' sources all at once (a vDPA NIC's switch to shadow rings
 * waits on its own firmware): the guest's data paths stand still for the
 * slowest switch, not the sum. Those that failed go to the end of the
 * list and out of it, so that only the started ones are stopped.
 */
static int sources_start(struct dirty_log *dl)
{
	struct dirty_source *failed[DIRTY_MAX_SOURCES];
	int i, n = dl->nr_src - 2, kept = 2, nfail = 0, ret = 0;

	run_parallel(n, source_start, dl);
	for (i = 0; i < n; i++) {
		if (dl->ret[i]) {
			failed[nfail++] = dl->src[2 + i];
			ret = ret ?: dl->ret[i];
		} else {
			dl->src[kept++] = dl->src[2 + i];
		}
	}
	for (i = 0; i < nfail; i++)
		dl->src[kept + i] = failed[i];
	dl->nr_src = kept;
	return ret;
}

int dirty_log_start(struct dirty_log *dl, struct vm *vm)
{
	struct dirty_source *s;
	int ret = 0, i;

	dl->vm = vm;
	dl->nr_src = 0;
	dl->words = (vm->mem.dirty_bits + BITS_PER_LONG - 1) / BITS_PER_LONG;
	dl->bm = calloc(dl->words, sizeof(unsigned long));
	dl->scratch = calloc(dl->words, sizeof(unsigned long));
	if (!dl->bm || !dl->scratch) {
		ret = -ENOMEM;
		goto fail;
	}
	dl->views = (struct dirty_source){
		.name = "views", .start = views_start, .collect = views_collect, .opaque = dl,
	};
	dl->kvm = (struct dirty_source){
		.name = vm->dirty_ring ? "kvm-ring" : "kvm-bitmap", .start = kvm_log_start,
		.collect = kvm_log_collect, .stop = kvm_log_stop, .opaque = dl,
	};
	dl->src[dl->nr_src++] = &dl->views;
	dl->src[dl->nr_src++] = &dl->kvm;
	for (s = vm->dirty_sources; s; s = s->next) {
		if (dl->nr_src == DIRTY_MAX_SOURCES) {
			ret = -E2BIG;
			goto fail;
		}
		dl->src[dl->nr_src++] = s;
	}
	/* Guest RAM's own logs first: the devices' switches write through them. */
	for (i = 0; i < 2; i++) {
		ret = dl->src[i]->start(dl->src[i]->opaque);
		if (ret) {
			dl->nr_src = i;	/* only those already started stop */
			dl->logging = true;
			goto fail;
		}
	}
	ret = sources_start(dl);
	dl->logging = true;
	if (ret)
		goto fail;
	return 0;
fail:
	dirty_log_stop(dl);
	return ret;
}

int dirty_log_sync(struct dirty_log *dl)
{
	int i, ret;

	memset(dl->bm, 0, dl->words * sizeof(unsigned long));
	for (i = 0; i < dl->nr_src; i++) {
		ret = dl->src[i]->collect(dl->src[i]->opaque, dl->bm);
		if (ret)
			return ret;
	}
	return 0;
}
