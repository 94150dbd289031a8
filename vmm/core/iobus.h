/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Port I/O and MMIO dispatch: devices register address ranges with a
 * handler; vCPU exits look the address up and call it.
 */
#ifndef VLAB_IOBUS_H
#define VLAB_IOBUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* @off is relative to the range base; @data holds @len (1..8) bytes. */
typedef void (*io_handler_fn)(void *opaque, uint64_t off, void *data,
			      int len, bool is_write);

struct io_range {
	uint64_t base;
	uint64_t len;
	io_handler_fn fn;
	void *opaque;
	const char *name;
};

struct io_bus {
	struct io_range *ranges;	/* sorted by base, never overlapping */
	int nr, cap;
	pthread_rwlock_t lock;
	const char *name;
};

void io_bus_init(struct io_bus *bus, const char *name);
void io_bus_exit(struct io_bus *bus);
/* Returns 0, or -EBUSY if the range overlaps one already registered. */
int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len,
		    io_handler_fn fn, void *opaque, const char *name);
int io_bus_unregister(struct io_bus *bus, uint64_t base);
/* Dispatch one access. Returns false if nothing is mapped there. */
bool io_bus_access(struct io_bus *bus, uint64_t addr, void *data, int len,
		   bool is_write);

#endif
