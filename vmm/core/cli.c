// SPDX-License-Identifier: GPL-2.0
/* Command-line parsing for `vlab run`: every bad value is one clear message. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/core/config.h"
#include "vmm/mem/dirty_ring.h"

void cli_usage(FILE *f)
{
	const struct device_kind *k;

	fprintf(f,
		"usage: vlab run --kernel FILE [options]\n"
		"\n"
		"  --kernel FILE        ELF vmlinux with a PVH note, or bzImage\n"
		"  --initrd FILE        initramfs / initrd image\n"
		"  --cmdline STR        kernel command line (default \"console=ttyS0\")\n"
		"  --mem SIZE           guest RAM, e.g. 512M, 2G (plain number = MiB; default 256M)\n"
		"  --cpus N             vCPUs, 1..%d (default 1)\n"
		"  --mem-backend KIND   anon (default) | memfd: guest RAM in memfds, which a\n"
		"                       local migration (migrate mode=local) hands over\n"
		"  --console KIND       stdio (default; Ctrl-A x quits) | file:PATH | none\n",
		VLAB_MAX_CPUS);
	/* Each device kind says how to ask for it. */
	for (k = device_kinds(); k; k = k->next)
		fputs(k->usage, f);
	fprintf(f,
		"  --cpu-quirks MODE    off | auto (default) | on: finish instructions an\n"
		"                       emulating KVM host rejects and add the kernel switches it needs\n"
		"  --control PATH       serve JSON commands on unix socket PATH (status, pause,\n"
		"                       resume, quit, ...); `vlab ctl PATH CMD` is the client\n"
		"  --incoming URI       wait for a migration stream or snapshot and resume from it:\n"
		"                       unix:PATH | tcp:HOST:PORT | file:PATH (--kernel not needed)\n"
		"  --downtime-ms N      live migration: largest pause allowed (default 50)\n"
		"  --max-bandwidth R    live migration: cap, e.g. 500M (per second; default none)\n"
		"  --dirty-ring N       live migration: track guest writes with KVM's dirty ring,\n"
		"                       N entries per vCPU (power of two, 1024..65536), instead\n"
		"                       of the dirty bitmap\n"
		"\n"
		"exit status: 0 guest powered off or rebooted; 1 guest crashed;\n"
		"             2 bad usage, bad kernel/initrd, no /dev/kvm\n");
}

int cli_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1ULL << 20;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'B':
		mult = 1;
		break;
	case 'K':
		mult = 1ULL << 10;
		break;
	case 'M':
		mult = 1ULL << 20;
		break;
	case 'G':
		mult = 1ULL << 30;
		break;
	case 'T':
		mult = 1ULL << 40;
		break;
	default:
		return -1;
	}
	if (*end) {
		end++;
		/* Accept "512M", "512MB", "512MiB". */
		if (!strcasecmp(end, "iB") || ((*end == 'B' || *end == 'b') && !end[1]))
			end += strlen(end);
		if (*end)
			return -1;
	}
	if (v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* Does @cmdline contain a word whose key (text before '=') is @key? */
static bool cmdline_has_key(const char *cmdline, const char *key, size_t keylen)
{
	const char *p = cmdline;

	while (*p) {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " =");
		if (n == keylen && !strncmp(p, key, keylen))
			return true;
		p += strcspn(p, " ");
	}
	return false;
}

int cli_cmdline_add(char *cmdline, size_t size, const char *extra)
{
	const char *p = extra;

	while (*p) {
		size_t wlen, klen, used;

		while (*p == ' ')
			p++;
		wlen = strcspn(p, " ");
		if (!wlen)
			break;
		klen = strcspn(p, " =");
		if (klen > wlen)
			klen = wlen;
		if (!cmdline_has_key(cmdline, p, klen)) {
			used = strlen(cmdline);
			if (used + (used ? 1 : 0) + wlen + 1 > size)
				return -1;
			if (used)
				cmdline[used++] = ' ';
			memcpy(cmdline + used, p, wlen);
			cmdline[used + wlen] = '\0';
		}
		p += wlen;
	}
	return 0;
}

enum {
	OPT_KERNEL = 1,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MEM,
	OPT_CPUS,
	OPT_CONSOLE,
	OPT_QUIRKS,
	OPT_CONTROL,
	OPT_INCOMING,
	OPT_DOWNTIME,
	OPT_BANDWIDTH,
	OPT_DIRTY_RING,
	OPT_MEM_BACKEND,
	OPT_HELP,
	OPT_DEVICE,		/* OPT_DEVICE + n: the n-th registered device kind */
};

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "cpu-quirks", required_argument, NULL, OPT_QUIRKS },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "incoming", required_argument, NULL, OPT_INCOMING },
	{ "downtime-ms", required_argument, NULL, OPT_DOWNTIME },
	{ "max-bandwidth", required_argument, NULL, OPT_BANDWIDTH },
	{ "dirty-ring", required_argument, NULL, OPT_DIRTY_RING },
	{ "mem-backend", required_argument, NULL, OPT_MEM_BACKEND },
	{ "help", no_argument, NULL, OPT_HELP },
};

#define NR_RUN_OPTIONS	(sizeof(run_options) / sizeof(run_options[0]))
#define MAX_KINDS	16

int vm_config_count(const struct vm_config *cfg, const struct device_kind *kind)
{
	int i, n = 0;

	for (i = 0; i < cfg->nr_devs; i++)
		n += cfg->devs[i].kind == kind;
	return n;
}

const void *vm_config_device(const struct vm_config *cfg, const struct device_kind *kind,
			     int i)
{
	int k;

	for (k = 0; k < cfg->nr_devs; k++)
		if (cfg->devs[k].kind == kind && cfg->devs[k].index == i)
			return cfg->devs[k].config;
	return NULL;
}

/* One --KIND VALUE: parsed into the next device slot. */
static int cli_parse_device(struct vm_config *cfg, const struct device_kind *kind,
			    const char *arg, char *err, size_t errlen)
{
	struct device_conf *d;
	int n = vm_config_count(cfg, kind);

	if (n == kind->max) {
		snprintf(err, errlen, "--%s: at most %d %ss", kind->option, kind->max,
			 kind->noun);
		return -1;
	}
	if (cfg->nr_devs == VLAB_MAX_DEVICES) {
		snprintf(err, errlen, "--%s: at most %d devices in all", kind->option,
			 VLAB_MAX_DEVICES);
		return -1;
	}
	d = &cfg->devs[cfg->nr_devs];
	memset(d, 0, sizeof(*d));
	if (kind->parse(arg, d->config, err, errlen))
		return -1;
	d->kind = kind;
	d->index = n;
	cfg->nr_devs++;
	return 0;
}

#define fail(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static int cli_parse_cpus(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > VLAB_MAX_CPUS)
		return -1;
	*out = (int)v;
	return 0;
}

int cli_parse_run(int argc, char **argv, struct vm_config *cfg,
		  char *err, size_t errlen)
{
	struct option opts[NR_RUN_OPTIONS + MAX_KINDS + 1];
	const struct device_kind *kinds[MAX_KINDS], *k;
	int c, nr_kinds = 0;

	/* The fixed options, then one per registered device kind. */
	memcpy(opts, run_options, sizeof(run_options));
	for (k = device_kinds(); k && nr_kinds < MAX_KINDS; k = k->next) {
		opts[NR_RUN_OPTIONS + nr_kinds] = (struct option){
			k->option, required_argument, NULL, OPT_DEVICE + nr_kinds,
		};
		kinds[nr_kinds++] = k;
	}
	memset(&opts[NR_RUN_OPTIONS + nr_kinds], 0, sizeof(opts[0]));

	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = VLAB_DEFAULT_MEM;
	cfg->nr_cpus = 1;
	cfg->console = CONSOLE_STDIO;
	cfg->quirks = QUIRK_MODE_AUTO;
	cfg->downtime_ms = 50;
	strcpy(cfg->cmdline, "console=ttyS0");

	optind = 0;	/* full reset: tests call us repeatedly */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL:
			cfg->kernel = optarg;
			break;
		case OPT_INITRD:
			cfg->initrd = optarg;
			break;
		case OPT_CMDLINE:
			if (strlen(optarg) >= sizeof(cfg->cmdline))
				fail("--cmdline: longer than %zu bytes",
				     sizeof(cfg->cmdline) - 1);
			strcpy(cfg->cmdline, optarg);
			cfg->cmdline_given = true;
			break;
		case OPT_MEM:
			if (cli_parse_size(optarg, &cfg->mem_size))
				fail("--mem: '%s' is not a size (use e.g. 512M or 2G)", optarg);
			if (cfg->mem_size < VLAB_MIN_MEM)
				fail("--mem: %s is too little; at least %lluM",
				     optarg, VLAB_MIN_MEM >> 20);
			if (cfg->mem_size > VLAB_MAX_MEM)
				fail("--mem: %s is more than the %lluG vlab supports",
				     optarg, VLAB_MAX_MEM >> 30);
			if (cfg->mem_size & ((1ULL << 20) - 1))
				fail("--mem: %s is not a whole number of MiB", optarg);
			break;
		case OPT_CPUS:
			if (cli_parse_cpus(optarg, &cfg->nr_cpus))
				fail("--cpus: '%s' is not a number from 1 to %d",
				     optarg, VLAB_MAX_CPUS);
			break;
		case OPT_CONSOLE:
			if (!strcmp(optarg, "stdio")) {
				cfg->console = CONSOLE_STDIO;
			} else if (!strcmp(optarg, "none")) {
				cfg->console = CONSOLE_NONE;
			} else if (!strncmp(optarg, "file:", 5) && optarg[5]) {
				cfg->console = CONSOLE_FILE;
				cfg->console_path = optarg + 5;
			} else {
				fail("--console: '%s' is not stdio, none or file:PATH", optarg);
			}
			break;
		case OPT_QUIRKS:
			if (!strcmp(optarg, "off"))
				cfg->quirks = QUIRK_MODE_OFF;
			else if (!strcmp(optarg, "auto"))
				cfg->quirks = QUIRK_MODE_AUTO;
			else if (!strcmp(optarg, "on"))
				cfg->quirks = QUIRK_MODE_ON;
			else
				fail("--cpu-quirks: '%s' is not off, auto or on", optarg);
			break;
		case OPT_CONTROL:
			if (!optarg[0])
				fail("--control: needs a socket path");
			cfg->control_path = optarg;
			break;
		case OPT_INCOMING:
			if (strncmp(optarg, "unix:", 5) && strncmp(optarg, "tcp:", 4) &&
			    strncmp(optarg, "file:", 5))
				fail("--incoming: '%s' is not unix:PATH, tcp:HOST:PORT or file:PATH",
				     optarg);
			if (!strchr(optarg, ':')[1])
				fail("--incoming: '%s' needs an address", optarg);
			cfg->incoming = optarg;
			break;
		case OPT_DOWNTIME: {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 || v > 60000)
				fail("--downtime-ms: '%s' is not 1..60000", optarg);
			cfg->downtime_ms = v;
			break;
		}
		case OPT_BANDWIDTH:
			/* A size per second: 100M = 100 MiB/s; plain numbers are MiB/s. */
			if (cli_parse_size(optarg, &cfg->max_bandwidth) || !cfg->max_bandwidth)
				fail("--max-bandwidth: '%s' is not a rate like 100M or 1G (per second)",
				     optarg);
			break;
		case OPT_DIRTY_RING: {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v < DIRTY_RING_MIN ||
			    v > DIRTY_RING_MAX || (v & (v - 1)))
				fail("--dirty-ring: '%s' is not a power of two in %u..%u", optarg,
				     DIRTY_RING_MIN, DIRTY_RING_MAX);
			cfg->dirty_ring = v;
			break;
		}
		case OPT_MEM_BACKEND:
			if (strcmp(optarg, "anon") && strcmp(optarg, "memfd"))
				fail("--mem-backend: '%s' is not anon or memfd", optarg);
			cfg->mem_memfd = !strcmp(optarg, "memfd");
			break;
		case OPT_HELP:
			fail("help");
		case ':':
			fail("%s: needs a value", argv[optind - 1]);
		default:
			if (c >= OPT_DEVICE && c < OPT_DEVICE + nr_kinds) {
				if (cli_parse_device(cfg, kinds[c - OPT_DEVICE], optarg,
						     err, errlen))
					return -1;
				break;
			}
			/* optopt is a long option's val when "--help=x" gave it a value. */
			if (isgraph(optopt))
				fail("unknown option '-%c'", optopt);
			fail("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		fail("unexpected argument '%s'", argv[optind]);
	/* The incoming stream carries memory and CPU state: no kernel to boot. */
	if (!cfg->kernel && !cfg->incoming)
		fail("--kernel FILE is required");
	return 0;
}
