// SPDX-License-Identifier: GPL-2.0
/*
 * The `watch` command (see watch.h): its options, the RAM map and one
 * line of the stream from the VM's counters, the migration and every
 * device that has a watch hook.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/control/control.h"
#include "vmm/control/watch.h"
#include "vmm/core/device.h"
#include "vmm/core/vm.h"
#include "vmm/migrate/migrate.h"

#define BITS_PER_LONG	(8 * sizeof(unsigned long))

/* ---- options --------------------------------------------------------- */

/* @key, if given, as an integer in [lo, hi]: 0, 1 absent, -1 bad (@err). */
static int opt_uint(const struct json_value *req, const char *key, uint64_t lo, uint64_t hi,
		    uint64_t *out, char *err, size_t errlen)
{
	const struct json_value *v = json_object_get(req, key);
	int64_t x;

	if (!v)
		return 1;
	if (json_get_int64(v, &x) || x < (int64_t)lo || (uint64_t)x > hi) {
		snprintf(err, errlen, "watch: %s must be an integer from %llu to %llu", key,
			 (unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	*out = x;
	return 0;
}

int watch_parse(const struct json_value *req, struct watch_opts *o, char *err,
		size_t errlen)
{
	uint64_t period = WATCH_PERIOD_DEFAULT_MS, cells = WATCH_CELLS_DEFAULT, count = 0;

	if (opt_uint(req, "period_ms", WATCH_PERIOD_MIN_MS, WATCH_PERIOD_MAX_MS, &period,
		     err, errlen) < 0 ||
	    opt_uint(req, "cells", 1, WATCH_CELLS_MAX, &cells, err, errlen) < 0 ||
	    opt_uint(req, "count", 0, UINT32_MAX, &count, err, errlen) < 0)
		return -1;
	o->period_ms = period;
	o->cells = cells;
	o->count = count;
	return 0;
}

/* ---- the RAM map ----------------------------------------------------- */

unsigned int watch_nr_cells(uint64_t pages, unsigned int want)
{
	if (!want)
		want = 1;
	return pages < want ? (unsigned int)pages : want;
}

/* Is any bit of [from, to) set? Word by word, the ends masked. */
static bool bm_any(const unsigned long *bm, uint64_t from, uint64_t to)
{
	while (from < to) {
		uint64_t w = from / BITS_PER_LONG, bit = from % BITS_PER_LONG;
		uint64_t n = BITS_PER_LONG - bit < to - from ? BITS_PER_LONG - bit : to - from;
		unsigned long mask = (n == BITS_PER_LONG ? ~0UL : (1UL << n) - 1) << bit;

		if (__atomic_load_n(&bm[w], __ATOMIC_RELAXED) & mask)
			return true;
		from += n;
	}
	return false;
}

/* Any page of RAM pages [from, to) (in RAM order) set in @bm? */
static bool ram_any(const struct guest_mem *gm, const unsigned long *bm, uint64_t from,
		    uint64_t to)
{
	uint64_t base = 0;
	int i;

	for (i = 0; i < gm->nr_regions && from < to; i++) {
		const struct guest_mem_region *r = &gm->regions[i];
		uint64_t pages = r->size >> GM_PAGE_SHIFT, first = r->gpa >> GM_PAGE_SHIFT;
		uint64_t lo = from > base ? from : base;
		uint64_t hi = to < base + pages ? to : base + pages;

		if (lo < hi && bm_any(bm, first + lo - base, first + hi - base))
			return true;
		base += pages;
	}
	return false;
}

void watch_ram_cells(const struct guest_mem *gm, const struct watch_layer *layers,
		     int nr_layers, char *out, unsigned int cells)
{
	uint64_t pages = gm->ram_size >> GM_PAGE_SHIFT;
	unsigned int c;
	int l;

	for (c = 0; c < cells; c++) {
		uint64_t from = c * pages / cells, to = (c + 1) * pages / cells;

		out[c] = '.';
		for (l = 0; l < nr_layers; l++) {
			if (layers[l].bm && ram_any(gm, layers[l].bm, from, to)) {
				out[c] = layers[l].mark;
				break;
			}
		}
	}
	out[cells] = '\0';
}

/* ---- one stream ------------------------------------------------------ */

struct watch {
	struct vm *vm;
	struct watch_opts opts;
	unsigned int cells;
	uint64_t words;			/* of each bitmap below */
	unsigned long *touched;		/* the host has a page for it */
	unsigned long *round;		/* written since the migration's last sync */
	unsigned long *prev_round;	/* the same, at the last line */
	unsigned long *recent;		/* round minus prev_round: the last interval */
	uint64_t *slot_bm;		/* one memory slot's KVM log */
	char *map;
	uint64_t t0_ns;
};

struct watch *watch_new(struct vm *vm, const struct watch_opts *o)
{
	struct watch *wt = calloc(1, sizeof(*wt));
	uint64_t pages = vm->mem.ram_size >> GM_PAGE_SHIFT, biggest = 0;
	int i;

	if (!wt)
		return NULL;
	for (i = 0; i < vm->mem.nr_regions; i++)
		if (vm->mem.regions[i].size >> GM_PAGE_SHIFT > biggest)
			biggest = vm->mem.regions[i].size >> GM_PAGE_SHIFT;
	wt->vm = vm;
	wt->opts = *o;
	wt->cells = watch_nr_cells(pages, o->cells);
	wt->words = (vm->mem.dirty_bits + BITS_PER_LONG - 1) / BITS_PER_LONG;
	wt->touched = calloc(wt->words, sizeof(unsigned long));
	wt->round = calloc(wt->words, sizeof(unsigned long));
	wt->prev_round = calloc(wt->words, sizeof(unsigned long));
	wt->recent = calloc(wt->words, sizeof(unsigned long));
	wt->slot_bm = calloc((biggest + 63) / 64 + 1, sizeof(uint64_t));
	wt->map = malloc(wt->cells + 1);
	wt->t0_ns = vlab_now_ns();
	if (!wt->touched || !wt->round || !wt->prev_round || !wt->recent || !wt->slot_bm ||
	    !wt->map) {
		watch_free(wt);
		return NULL;
	}
	return wt;
}

void watch_free(struct watch *wt)
{
	if (!wt)
		return;
	free(wt->touched);
	free(wt->round);
	free(wt->prev_round);
	free(wt->recent);
	free(wt->slot_bm);
	free(wt->map);
	free(wt);
}

/*
 * The pages written since the migration's last sync, without taking them
 * from it: with manual protect, KVM_GET_DIRTY_LOG only reads (clearing is
 * KVM_CLEAR_DIRTY_LOG, the migration's), and devices' writes are peeked at
 * in guest_mem's bitmap. The dirty ring cannot be read without harvesting
 * it: false then, and for anything but a running pre-copy.
 */
static bool watch_peek_round(struct watch *wt)
{
	struct vm *vm = wt->vm;
	struct migration *m = vm->mig;
	uint64_t w;
	int i;

	memset(wt->round, 0, wt->words * sizeof(unsigned long));
	if (!m || m->state != MIG_ACTIVE || m->snapshot || vm->dirty_ring ||
	    !__atomic_load_n(&m->dirty_log.manual_protect, __ATOMIC_ACQUIRE))
		return false;
	for (i = 0; i < vm->mem.nr_regions; i++) {
		struct guest_mem_region *r = &vm->mem.regions[i];
		uint64_t pages = r->size >> GM_PAGE_SHIFT, first = r->gpa >> GM_PAGE_SHIFT, k;
		struct kvm_dirty_log log = { .slot = i, .dirty_bitmap = wt->slot_bm };

		/* ENOENT: logging is not on (yet, or any more). */
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			return false;
		for (k = 0; k < pages; k++) {
			uint64_t word = wt->slot_bm[k / 64];

			if (!word) {
				k |= 63;
				continue;
			}
			if (word >> (k % 64) & 1)
				wt->round[(first + k) / BITS_PER_LONG] |=
					1UL << ((first + k) % BITS_PER_LONG);
		}
	}
	for (w = 0; w < wt->words && vm->mem.dirty; w++)
		wt->round[w] |= __atomic_load_n(&vm->mem.dirty[w], __ATOMIC_RELAXED);
	return true;
}

static void watch_write_ram(struct watch *wt, struct json_writer *w)
{
	struct vm *vm = wt->vm;
	struct migration *m = vm->mig;
	bool migrating = m && m->state == MIG_ACTIVE && m->sent_bm;
	bool peeked = watch_peek_round(wt);
	struct watch_layer layers[5];
	int n = 0;
	uint64_t i;

	memset(wt->touched, 0, wt->words * sizeof(unsigned long));
	/* Cannot tell (no pagemap): every page may hold data. */
	if (guest_mem_touched(&vm->mem, wt->touched))
		memset(wt->touched, 0xff, wt->words * sizeof(unsigned long));
	if (peeked) {
		/* New since the last line; a sync in between started the round afresh. */
		for (i = 0; i < wt->words; i++) {
			wt->recent[i] = wt->round[i] & ~wt->prev_round[i];
			wt->prev_round[i] = wt->round[i];
		}
		layers[n++] = (struct watch_layer){ wt->recent, 'd' };
		layers[n++] = (struct watch_layer){ wt->round, 'r' };
	} else {
		memset(wt->prev_round, 0, wt->words * sizeof(unsigned long));
	}
	if (migrating) {
		/* Sent, unless written since; then what the last sync found, not yet sent. */
		layers[n++] = (struct watch_layer){ m->sent_bm, 's' };
		layers[n++] = (struct watch_layer){ m->pending_bm, 'r' };
	}
	layers[n++] = (struct watch_layer){ wt->touched, 't' };
	watch_ram_cells(&vm->mem, layers, n, wt->map, wt->cells);

	json_key(w, "ram");
	json_obj_begin(w);
	json_kv_uint(w, "pages", vm->mem.ram_size >> GM_PAGE_SHIFT);
	json_kv_uint(w, "cells", wt->cells);
	json_kv_string(w, "tracking", peeked ? "migration" : migrating ? "migration-rounds" :
		       "none");
	json_kv_string(w, "map", wt->map);
	json_obj_end(w);
}

static void watch_write_vcpus(struct vm *vm, struct json_writer *w)
{
	int i, k;

	json_key(w, "vcpus");
	json_arr_begin(w);
	for (i = 0; i < vm->nr_cpus && vm->cpus; i++) {
		json_obj_begin(w);
		for (k = 0; k < VCPU_NR_EXIT_KINDS; k++)
			json_kv_uint(w, vcpu_exit_kind_name(k),
				     __atomic_load_n(&vm->cpus[i].exits_by[k], __ATOMIC_RELAXED));
		json_obj_end(w);
	}
	json_arr_end(w);
}

static void watch_write_devices(struct vm *vm, struct json_writer *w)
{
	int i, j, index;

	json_key(w, "devices");
	json_arr_begin(w);
	for (i = 0; i < vm->nr_devices; i++) {
		const struct device_kind *kind = vm->devices[i].kind;

		/* Its index among its kind, as on the command line. */
		for (index = 0, j = 0; j < i; j++)
			index += vm->devices[j].kind == kind;
		if (!kind->watch)
			continue;
		json_obj_begin(w);
		json_kv_string(w, "kind", kind->option);
		json_kv_int(w, "index", index);
		kind->watch(vm->devices[i].dev, w);
		json_obj_end(w);
	}
	json_arr_end(w);
}

void watch_write_sample(struct watch *wt, struct json_writer *w, uint64_t seq,
			uint64_t dropped)
{
	struct vm *vm = wt->vm;

	json_obj_begin(w);
	json_kv_uint(w, "seq", seq);
	json_kv_uint(w, "t_ms", (vlab_now_ns() - wt->t0_ns) / 1000000);
	if (dropped)
		json_kv_uint(w, "dropped", dropped);
	json_kv_string(w, "state", vm->mig && vm->mig->state == MIG_INCOMING ? "waiting" :
		       vm_state_name(vm));
	watch_write_vcpus(vm, w);
	watch_write_ram(wt, w);
	if (vm->mig && vm->mig->state != MIG_NONE) {
		json_key(w, "migration");
		migrate_write_status(vm, w);
	}
	watch_write_devices(vm, w);
	json_obj_end(w);
}

/* ---- the command ----------------------------------------------------- */

static void watch_line(struct vm *vm, struct json_writer *w, uint64_t seq, uint64_t dropped,
		       void *opaque)
{
	watch_write_sample(opaque, w, seq, dropped);
}

static void watch_release(void *opaque)
{
	watch_free(opaque);
}

static int cmd_watch(struct vm *vm, const struct json_value *req, struct json_writer *reply,
		     void *opaque)
{
	struct watch_opts o;
	struct watch *wt;
	char err[160];

	if (watch_parse(req, &o, err, sizeof(err)))
		return control_reply_error(reply, "%s", err);
	wt = watch_new(vm, &o);
	if (!wt)
		return control_reply_error(reply, "watch: out of memory");
	if (control_stream_start(o.period_ms, o.count, watch_line, watch_release, wt)) {
		watch_free(wt);
		return control_reply_error(reply, "watch streams over a control connection, "
					   "one stream at a time");
	}
	json_kv_uint(reply, "period_ms", o.period_ms);
	json_kv_uint(reply, "cells", wt->cells);
	json_kv_uint(reply, "count", o.count);
	json_key(reply, "legend");
	json_obj_begin(reply);
	json_kv_string(reply, "d", "dirtied in the last interval");
	json_kv_string(reply, "r", "dirtied this migration round");
	json_kv_string(reply, "s", "sent");
	json_kv_string(reply, "t", "touched");
	json_kv_string(reply, ".", "never touched");
	json_obj_end(reply);
	return 0;
}

static void __attribute__((constructor)) watch_register(void)
{
	control_register("watch", cmd_watch, NULL);
}
