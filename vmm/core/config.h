/* SPDX-License-Identifier: GPL-2.0 */
/* What the user asked for on the command line, already validated. */
#ifndef VLAB_CONFIG_H
#define VLAB_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmm/core/device.h"
#include "vmm/x86/quirks.h"

#define VLAB_MAX_CPUS		64
#define VLAB_MIN_MEM		(16ULL << 20)
#define VLAB_MAX_MEM		(1ULL << 40)
#define VLAB_DEFAULT_MEM	(256ULL << 20)
#define VLAB_CMDLINE_MAX	4096


enum console_kind {
	CONSOLE_STDIO,
	CONSOLE_FILE,
	CONSOLE_NONE,
};

struct vm_config {
	const char *kernel;
	const char *initrd;
	char cmdline[VLAB_CMDLINE_MAX];
	bool cmdline_given;
	uint64_t mem_size;
	bool mem_memfd;			/* --mem-backend memfd: RAM in memfds, shared */
	int nr_cpus;
	enum console_kind console;
	const char *console_path;
	enum quirk_mode quirks;
	struct device_conf devs[VLAB_MAX_DEVICES];	/* --net etc., in order */
	int nr_devs;
	const char *control_path;	/* --control: JSON control socket, or NULL */
	const char *incoming;		/* unix:PATH, tcp:HOST:PORT, file:PATH */
	uint32_t downtime_ms;		/* live migration downtime limit */
	uint64_t max_bandwidth;		/* bytes/s, 0 = unlimited */
	uint32_t dirty_ring;		/* entries per vCPU; 0 = dirty bitmap */
};

/* Exit status for bad usage, bad input files and missing /dev/kvm. */
#define VLAB_EXIT_USAGE		2
/* Exit status when the guest crashed (triple fault, unhandled emulation failure). */
#define VLAB_EXIT_GUEST_CRASH	1

/*
 * Parse the arguments of `vlab run`. Returns 0, or -1 with a one-line
 * message in @err (no trailing newline).
 */
int cli_parse_run(int argc, char **argv, struct vm_config *cfg,
		  char *err, size_t errlen);
/* "512M", "2G", "1048576K", "4096B", "256" (plain = MiB) → bytes; -1 on error. */
int cli_parse_size(const char *s, uint64_t *out);
/* Append @extra to @cmdline unless each of its words' keys is already there. */
int cli_cmdline_add(char *cmdline, size_t size, const char *extra);
void cli_usage(FILE *f);


/* Instances of @kind on the command line, and the @i-th one's config. */
int vm_config_count(const struct vm_config *cfg, const struct device_kind *kind);
const void *vm_config_device(const struct vm_config *cfg, const struct device_kind *kind,
			     int i);

#endif
