/* SPDX-License-Identifier: GPL-2.0 */
/* The host side of the serial console: terminal, escape key, output file. */
#ifndef VLAB_CONSOLE_H
#define VLAB_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_ESCAPE	0x01	/* Ctrl-A */

struct console {
	int in_fd;		/* -1 when there is no input */
	int out_fd;		/* -1 discards output */
	bool raw;		/* terminal switched to raw mode */
	bool escape;		/* previous byte was the escape key */
};

enum console_action {
	CONSOLE_PASS,		/* bytes for the guest are in out[] */
	CONSOLE_QUIT,
};

/*
 * Filter input for the escape sequences: Ctrl-A x quits, Ctrl-A Ctrl-A
 * sends one Ctrl-A, Ctrl-A h prints help. Returns the action and sets
 * *@nout to the number of guest bytes written to @out (@out >= @len + 1 bytes).
 */
enum console_action console_filter(struct console *c, const uint8_t *in, size_t len,
				   uint8_t *out, size_t *nout);

#endif
