/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Device kinds the command line can ask for (--net today; --vdpa, --rdma
 * later). A device file describes its kind once and registers it with
 * DEVICE_KIND(): nothing in vmm/ names a device kind. The kind says:
 *  - its option and usage lines (cli.c builds --help and getopt from them),
 *  - how to parse one instance's value into its own config struct,
 *  - how to create an instance on a VM (transport attached) and destroy
 *    it again: device.c creates every instance of the command line in
 *    order at VM creation and destroys them in reverse order before guest
 *    RAM goes away; tests create and destroy at run time,
 *  - the part of that configuration a migration destination must match
 *    (migrate.c saves it at the source and asks the kind at the
 *    destination).
 */
#ifndef VLAB_DEVICE_H
#define VLAB_DEVICE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct json_writer;
struct state_buf;
struct vm;

/* Bytes one instance's parsed configuration may take (checked at build). */
#define DEVICE_CONFIG_MAX	1024
/* Instances of all kinds on one command line. */
#define VLAB_MAX_DEVICES	16

struct device_kind {
	const char *option;		/* "net": --net VALUE */
	const char *usage;		/* its --help lines, newline-terminated */
	const char *noun;		/* "NIC", for messages */
	int max;			/* instances allowed */
	/* Created after the kinds without it: it attaches to another device. */
	bool after_others;
	size_t config_size;		/* <= DEVICE_CONFIG_MAX */
	/* One --option value into @config (zeroed); -1 with a message. */
	int (*parse)(const char *arg, void *config, char *err, size_t errlen);
	/*
	 * Instance @index (among its kind) of @config on @vm, running and
	 * attached to its transport: its handle, or NULL with a message and
	 * nothing left behind. destroy() undoes all of it: workers stopped,
	 * transport detached, everything freed. Main thread only.
	 */
	void *(*create)(struct vm *vm, const void *config, int index, char *err,
			size_t errlen);
	void (*destroy)(struct vm *vm, void *dev);
	/* What a destination must match, as properties of the current node. */
	void (*config_save)(const void *config, struct state_buf *sb);
	/*
	 * Does this instance match the source's (node @node of @fdt)? 0, or
	 * -1 with "what differs" in @err.
	 */
	int (*config_check)(const void *config, const void *fdt, int node, char *err,
			    size_t errlen);
	/*
	 * The control socket's watch (optional): the instance's live state as
	 * members of the open JSON object @w ("queues" and what the kind has
	 * more). Main thread: what workers change is read with relaxed loads,
	 * and no lock is waited for long.
	 */
	void (*watch)(void *dev, struct json_writer *w);
	struct device_kind *next;
};

void device_kind_register(struct device_kind *kind);
/* Registered kinds, in registration order; NULL ends. */
const struct device_kind *device_kinds(void);

#define DEVICE_KIND(var)						\
	static void __attribute__((constructor)) __reg_kind_##var(void)	\
	{								\
		device_kind_register(&var);				\
	}

/* One instance created on a VM (vm->devices). */
struct device {
	const struct device_kind *kind;
	void *dev;
};

/*
 * Create an instance of @kind on @vm and keep it in vm->devices, at
 * start-up or at run time: its handle, or NULL with a message in @err.
 */
void *device_create(struct vm *vm, const struct device_kind *kind, const void *config,
		    int index, char *err, size_t errlen);
/* Instance @index of @kind on @vm (in creation order), or NULL. */
void *device_find(struct vm *vm, const struct device_kind *kind, int index);
/* Destroy one instance device_create() made; it leaves vm->devices. */
void device_destroy(struct vm *vm, void *dev);

/* One instance from the command line. */
struct device_conf {
	const struct device_kind *kind;
	int index;			/* among instances of its kind */
	_Alignas(8) uint8_t config[DEVICE_CONFIG_MAX];
};

#endif
