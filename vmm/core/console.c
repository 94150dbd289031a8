// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <unistd.h>

#include "vmm/core/console.h"

static const char console_help[] =
	"\r\nvlab console: Ctrl-A x quit, Ctrl-A Ctrl-A send Ctrl-A, Ctrl-A h help\r\n";

enum console_action console_filter(struct console *c, const uint8_t *in, size_t len,
				   uint8_t *out, size_t *nout)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		uint8_t b = in[i];

		if (!c->escape) {
			if (b == CONSOLE_ESCAPE)
				c->escape = true;
			else
				out[n++] = b;
			continue;
		}
		c->escape = false;
		switch (b) {
		case 'x':
		case 'X':
			*nout = n;
			return CONSOLE_QUIT;
		case CONSOLE_ESCAPE:
			out[n++] = b;
			break;
		case 'h':
		case 'H':
		case '?':
			if (write(STDERR_FILENO, console_help, sizeof(console_help) - 1) < 0)
				break;
			break;
		default:
			/* Unknown escape: pass both bytes so nothing typed is lost. */
			out[n++] = CONSOLE_ESCAPE;
			out[n++] = b;
			break;
		}
	}
	*nout = n;
	return CONSOLE_PASS;
}
