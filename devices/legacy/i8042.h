/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VLAB_I8042_H
#define VLAB_I8042_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct state_buf;

/* The keyboard controller's few registers (devices/legacy/i8042.c). */
struct i8042 {
	struct vm *vm;
	uint8_t ctr;		/* controller command byte */
	uint8_t out;		/* pending output byte */
	bool out_full;
	bool want_ctr;		/* next data write is the command byte */
};

/*
 * Snapshot state ("i8042"). Load refuses booleans that are not 0 or 1 with
 * a message and then leaves @k unchanged; safe with any tree.
 */
int i8042_state_save(struct i8042 *k, struct state_buf *sb);
int i8042_state_load(struct i8042 *k, const void *fdt, int node, char *err, size_t errlen);

#endif
