/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket's `watch` command: a stream of compact JSON lines,
 * one every period, with what `vlab dash` draws (see README.md):
 *
 *	-> {"cmd":"watch","period_ms":500,"cells":4096,"count":0}
 *	<- {"ok":true,"period_ms":500,"cells":4096,"legend":{...}}
 *	<- {"seq":0,"t_ms":...,"state":"running","vcpus":[...],"ram":{...},
 *	    "migration":{...},"devices":[...]}
 *	<- {"seq":1,...}
 *
 * Anything the client sends ends the stream; count=N ends it after N
 * lines. A slow reader gets lines skipped, never a queue (control.h).
 *
 * Guest RAM comes as a string of one character per cell, each cell a run
 * of RAM pages in guest-physical order (the PCI hole left out), showing
 * the most recent thing that happened to any page of it:
 *
 *	'd' dirtied in the last interval (the guest wrote it since the last line)
 *	'r' dirtied this migration round (to be sent again)
 *	's' sent by this migration, not dirtied since
 *	't' touched (the host has a page for it)
 *	'.' never touched
 *
 * 'd', 'r' and 's' exist only while a migration runs: its dirty log is
 * read without disturbing it. Outside a migration nothing tracks guest
 * writes (that would cost the guest a write fault per page per line).
 */
#ifndef VLAB_CONTROL_WATCH_H
#define VLAB_CONTROL_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/control/json.h"

struct guest_mem;
struct vm;

#define WATCH_PERIOD_DEFAULT_MS	500
#define WATCH_PERIOD_MIN_MS	20
#define WATCH_PERIOD_MAX_MS	60000
#define WATCH_CELLS_DEFAULT	4096
#define WATCH_CELLS_MAX		65536

struct watch_opts {
	unsigned int period_ms;
	unsigned int cells;		/* most cells of the RAM map */
	uint64_t count;			/* lines, 0: until told to stop */
};

/* The request's options, checked: 0, or -1 with a message in @err. */
int watch_parse(const struct json_value *req, struct watch_opts *o, char *err,
		size_t errlen);

/* One layer of the RAM map: pages (bits in guest-physical page numbers) and their mark. */
struct watch_layer {
	const unsigned long *bm;
	char mark;
};

/* Cells for @pages of RAM when at most @want are asked for: one page a cell for small guests. */
unsigned int watch_nr_cells(uint64_t pages, unsigned int want);
/*
 * Downsample: cell c covers RAM pages [c * pages / cells, (c + 1) * pages /
 * cells) in guest-physical order across @gm's regions; its character is
 * the mark of the first of @layers (most important first) with a page in
 * it, else '.'. @out gets @cells characters and a NUL.
 */
void watch_ram_cells(const struct guest_mem *gm, const struct watch_layer *layers,
		     int nr_layers, char *out, unsigned int cells);

/* One stream's state: what its last line saw. */
struct watch;
struct watch *watch_new(struct vm *vm, const struct watch_opts *o);
void watch_free(struct watch *wt);
/* One line of the stream (a whole JSON object) into @w. */
void watch_write_sample(struct watch *wt, struct json_writer *w, uint64_t seq,
			uint64_t dropped);

#endif
