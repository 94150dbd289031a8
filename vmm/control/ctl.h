/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `vlab ctl PATH CMD [key=value ...]`: the friendly client of the control
 * socket (control.h). Exit status 0 when the reply says "ok":true, 1 when
 * it says "ok":false, 2 for bad usage or when no vlab answers.
 */
#ifndef VLAB_CTL_H
#define VLAB_CTL_H

#include <stdbool.h>
#include <stdio.h>

#include "vmm/control/json.h"

#define CTL_EXIT_OK		0
#define CTL_EXIT_FAILED		1	/* vlab answered "ok":false */
#define CTL_EXIT_USAGE		2	/* bad arguments, no vlab, bad reply */

#define CTL_DEFAULT_TIMEOUT_S	60
/* Replies can be large (dump-state); past this the reply is refused. */
#define CTL_REPLY_MAX		(64u << 20)

struct ctl_args {
	const char *path;
	const char *cmd;	/* NULL with --json */
	const char *json;	/* --json TEXT: the request as given */
	char **kv;		/* key=value arguments after CMD */
	int nr_kv;
	bool raw;		/* print the reply line as received */
	bool wait;		/* --wait: send "wait":true, no default timeout */
	int timeout_s;		/* 0: wait forever */
};

/* argv[0] is "ctl". Returns 0, or -1 with a message in @err ("help" for --help). */
int ctl_parse_args(int argc, char **argv, struct ctl_args *a,
		   char *err, size_t errlen);
/*
 * The request line (without '\n') into @w: {"cmd":CMD,"key":value,...}
 * where a value that reads as a JSON number, true or false is sent as
 * one and anything else as a string; or the --json text, validated and
 * folded onto one line. Returns 0, or -1 with a message in @err.
 */
int ctl_build_request(const struct ctl_args *a, struct json_writer *w,
		      char *err, size_t errlen);
/* A successful reply for humans: "key: value" lines, nested indented. */
void ctl_print_reply(FILE *f, const struct json_value *reply);
void ctl_usage(FILE *f);
int ctl_main(int argc, char **argv);

#endif
