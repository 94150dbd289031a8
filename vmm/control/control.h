/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket: `vlab run --control PATH` serves newline-delimited
 * JSON on a unix stream socket, from the main thread's event loop.
 *
 *	-> {"cmd": "status", "id": 7}
 *	<- {"ok":true,"state":"running",...,"id":7}
 *	-> {"cmd": "frobnicate"}
 *	<- {"ok":false,"error":"unknown command 'frobnicate' (try: status, ...)"}
 *
 * One reply line per request line, in order; "id" (any JSON value) is
 * echoed back when the request had one. Blank lines are ignored. A line
 * longer than CONTROL_LINE_MAX or that is not a JSON object gets an error
 * reply and the connection stays usable. `socat - UNIX-CONNECT:PATH` is a
 * fine client; `vlab ctl` (ctl.c) is the friendly one.
 *
 * Commands live in a table that other code extends without touching
 * control.c: control_register() adds a command or replaces one of the
 * same name. Built in: help, status, pause, resume, quit. migrate,
 * migrate-cancel, snapshot and dump-state are registered as placeholders
 * that answer "... is not implemented yet"; the migration code replaces
 * them by registering its own handlers under the same names, e.g. from an
 * init function or a constructor:
 *
 *	static int migrate_cmd(struct vm *vm, const struct json_value *req,
 *			       struct json_writer *reply, void *opaque)
 *	{
 *		const char *uri = json_get_string(json_object_get(req, "uri"));
 *
 *		if (!uri)
 *			return control_reply_error(reply, "migrate needs \"uri\"");
 *		...start it...
 *		json_kv_string(reply, "state", "active");
 *		return 0;
 *	}
 *	control_register("migrate", migrate_cmd, NULL);
 *
 * and replaces the "migration" member of the status reply the same way
 * with control_register_status("migration", fn, opaque).
 *
 * Everything here runs on the main thread (registration too: do it before
 * the event loop runs), so handlers need no locking against each other,
 * but they must not block for long: the console and every device doorbell
 * share the loop.
 */
#ifndef VLAB_CONTROL_H
#define VLAB_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/control/json.h"

struct vm;

/* Longest request line, without its newline. */
#define CONTROL_LINE_MAX	(64 * 1024)
/*
 * Connected clients at once. When the table is full, a new client is
 * still served: the client that has done nothing (sent no request bytes,
 * taken no reply bytes) for the longest time is told so and closed.
 * Idle or half-closed connections cannot lock anyone out. Clients waiting
 * for a deferred reply (control_defer()) are not idle; only when every
 * client waits is a new one turned away.
 */
#define CONTROL_MAX_CLIENTS	32
/*
 * Pipelining and slow readers. A client may send any number of requests
 * before it reads a reply; their replies queue in vlab. Once more than
 * CONTROL_OUT_MAX bytes of replies wait for a client, vlab stops reading
 * its requests (back-pressure: they wait in the socket, and a client that
 * keeps writing without reading blocks in its own send) and goes on once
 * the client has read half of them. Nothing is dropped for volume. A
 * client that takes none of its waiting replies for CONTROL_STALL_MS is
 * disconnected: it holds memory and a slot and is not reading.
 */
#define CONTROL_OUT_MAX		(4u << 20)
#define CONTROL_STALL_MS	30000
#define CONTROL_MAX_CMDS	64
#define CONTROL_NAME_MAX	32

/*
 * A command handler. @req is the whole request object ("cmd", "id" and
 * the arguments). @reply is an open JSON object that already holds
 * "ok":true: add members with the json_kv_*() writers and return 0. To
 * fail, return control_reply_error(reply, ...), which replaces whatever
 * was written with "ok":false and the message. Control adds "id" and
 * closes the object.
 */
typedef int (*control_handler_fn)(struct vm *vm, const struct json_value *req,
				  struct json_writer *reply, void *opaque);

/*
 * Add command @name, or replace the handler of an existing one (that is
 * how a placeholder gets its real implementation). The name is copied.
 * Returns 0, -EINVAL for an empty or too long name or a NULL @fn, or
 * -ENOSPC when the table is full.
 */
int control_register(const char *name, control_handler_fn fn, void *opaque);

/*
 * Long work (migrate, snapshot with "wait":true) answers when it ends: the
 * handler calls control_defer() and returns 0. Nothing is sent then; that
 * client's later requests wait, in order, and control_finish() sends the
 * reply. control_defer() returns NULL when the request did not come over
 * a connection (control_handle_request() alone): answer at once then.
 * control_finish() must be called once per waiter, on the main thread
 * (also after the event loop has ended, before control_exit()); a client
 * gone meanwhile is simply not answered. @fn writes the reply like a
 * handler: members after "ok":true, or control_reply_error().
 */
struct control_waiter;
struct control_waiter *control_defer(void);
typedef int (*control_finish_fn)(struct vm *vm, struct json_writer *reply, void *opaque);
void control_finish(struct control_waiter *w, control_finish_fn fn, void *opaque);

/*
 * Streams (the watch command): a handler turns its connection into a
 * stream with control_stream_start() and replies as usual. After the
 * reply, @fn writes one JSON value every @period_ms, each sent as a line
 * of its own, until @count lines have gone (0: no end), the client sends
 * anything (a new request ends the stream first) or goes away; then
 * @release(@opaque). The client's socket half-closed for writing (socat
 * after its input ends) does not end the stream.
 *
 * A stream never makes vlab queue more than one line: while the last one
 * has not left (a client that reads slowly or not at all), the due lines
 * are skipped and counted, and @fn is told how many were (its line says
 * so); a client that takes nothing for CONTROL_STALL_MS is disconnected
 * as any other. Returns 0, or -1 when the request did not come over a
 * connection (control_handle_request() alone) or the client already
 * streams; @release is not called then.
 */
typedef void (*control_stream_fn)(struct vm *vm, struct json_writer *w, uint64_t seq,
				  uint64_t dropped, void *opaque);
int control_stream_start(unsigned int period_ms, uint64_t count, control_stream_fn fn,
			 void (*release)(void *opaque), void *opaque);

/* Turn @reply into an error reply with this message; returns -1. */
int control_reply_error(struct json_writer *reply, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A member of the status reply: @fn writes exactly one JSON value (an
 * object, usually) for @key. Registering an existing key replaces it;
 * "migration" starts as {"state":"none"}. A "state" member replaces the
 * built-in one (vm_state_name()), in its place right after "ok". Same
 * return values as above.
 */
typedef void (*control_status_fn)(struct vm *vm, struct json_writer *w,
				  void *opaque);
int control_register_status(const char *key, control_status_fn fn, void *opaque);

/*
 * Listen on @path (NULL: no control socket, returns 0). A stale socket
 * file left by a dead vlab is replaced; a live one, or a path that is not
 * a socket, is refused with a message in @err. Call before vm_start(),
 * with the event loop not yet running.
 */
int control_init(struct vm *vm, const char *path, char *err, size_t errlen);
/* For tests: a shorter stall timeout (0: back to CONTROL_STALL_MS). */
void control_set_stall_timeout_ms(unsigned int ms);
/*
 * After the event loop has ended: send what replies are still queued
 * (briefly; the "quit" reply among them), close every client and remove
 * the socket file if it is still ours.
 */
void control_exit(struct vm *vm);

/*
 * The protocol without the socket, for tests and for the socket code.
 * Handle one request line (no newline needed; a trailing '\r' is
 * ignored) and append one reply line, with its '\n', to @out.
 */
void control_handle_request(struct vm *vm, const char *line, size_t len,
			    struct json_writer *out);

/* Splitting a client's byte stream into request lines. */
struct control_session {
	struct vm *vm;
	char *line;		/* partial line, up to CONTROL_LINE_MAX bytes */
	size_t len;
	bool overlong;		/* dropping the rest of a too long line */
};

void control_session_init(struct control_session *s, struct vm *vm);
void control_session_release(struct control_session *s);
/* Bytes from the peer; every complete line's reply is appended to @out. */
void control_session_feed(struct control_session *s, const char *buf,
			  size_t len, struct json_writer *out);
/* The peer finished sending: a last line without '\n' still counts. */
void control_session_eof(struct control_session *s, struct json_writer *out);

#endif
