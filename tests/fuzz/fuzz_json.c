// SPDX-License-Identifier: GPL-2.0
/* The JSON reader (control requests), and writing back what it read. */
#include "fuzz.h"
#include "vmm/control/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_value *v;
	struct json_writer w;
	char err[128];

	v = json_parse((const char *)data, size, NULL, err, sizeof(err));
	if (!v)
		return 0;
	json_writer_init(&w);
	json_put_value(&w, v);
	json_writer_release(&w);
	json_free(v);
	return 0;
}
