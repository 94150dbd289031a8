// SPDX-License-Identifier: GPL-2.0
/*
 * The command-line parsers: the input is `vlab run`'s arguments separated
 * by NUL bytes (--net, --vdpa, --mem, --incoming, every option and value).
 */
#include "devices/net/virtio_net.h"
#include "devices/vdpa/vdpa_net.h"
#include "fuzz.h"
#include "vmm/core/config.h"

#define MAX_ARGS	32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[MAX_ARGS + 2], err[256];
	struct vm_config cfg;
	uint64_t bytes;
	int argc = 0;
	size_t i, start = 0;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[argc++] = "run";
	for (i = 0; i <= size && argc <= MAX_ARGS; i++) {
		if (i == size || !copy[i]) {
			argv[argc++] = copy + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	cli_parse_run(argc, argv, &cfg, err, sizeof(err));
	cli_parse_size(copy, &bytes);
	{
		struct net_config nc;

		struct vdpa_net_conf vc;

		cli_parse_net(copy, &nc, err, sizeof(err));
		vdpa_parse(copy, &vc, err, sizeof(err));
	}
	free(copy);
	return 0;
}
