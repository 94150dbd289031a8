// SPDX-License-Identifier: GPL-2.0
/* Command-line parsing for `vlab run`: every bad value is one clear message. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"

void cli_usage(FILE *f)
{
	fprintf(f,
		"usage: vlab run --kernel FILE [options]\n"
		"\n"
		"  --kernel FILE        ELF vmlinux with a PVH note, or bzImage\n"
		"  --initrd FILE        initramfs / initrd image\n"
		"  --cmdline STR        kernel command line (default \"console=ttyS0\")\n"
		"  --mem SIZE           guest RAM, e.g. 512M, 2G (plain number = MiB; default 256M)\n"
		"  --cpus N             vCPUs, 1..%d (default 1)\n"
		"  --console KIND       stdio (default; Ctrl-A x quits) | file:PATH | none\n"
		"  --cpu-quirks MODE    off | auto (default) | on: finish instructions an\n"
		"                       emulating KVM host rejects and add the kernel switches it needs\n"
		"\n"
		"exit status: 0 guest powered off or rebooted; 1 guest crashed;\n"
		"             2 bad usage, bad kernel/initrd, no /dev/kvm\n",
		VLAB_MAX_CPUS);
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
	OPT_HELP,
};

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "cpu-quirks", required_argument, NULL, OPT_QUIRKS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

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
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = VLAB_DEFAULT_MEM;
	cfg->nr_cpus = 1;
	cfg->console = CONSOLE_STDIO;
	cfg->quirks = QUIRK_MODE_AUTO;
	strcpy(cfg->cmdline, "console=ttyS0");

	optind = 0;	/* full reset: tests call us repeatedly */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", run_options, NULL)) != -1) {
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
		case OPT_HELP:
			fail("help");
		case ':':
			fail("%s: needs a value", argv[optind - 1]);
		default:
			/* optopt is a long option's val when "--help=x" gave it a value. */
			if (isgraph(optopt))
				fail("unknown option '-%c'", optopt);
			fail("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		fail("unexpected argument '%s'", argv[optind]);
	if (!cfg->kernel)
		fail("--kernel FILE is required");
	return 0;
}
