// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket (see control.h): a listening unix socket and its
 * clients on the main event loop, line assembly, request dispatch and the
 * built-in commands.
 *
 * The event loop only reports readability, so replies that do not fit in
 * a client's socket buffer wait in a second epoll set (out_fd) watching
 * those clients for EPOLLOUT; that epoll fd is itself registered in the
 * main loop and becomes readable when any of them can take more bytes.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/control/control.h"
#include "vmm/core/vm.h"

/* ---- command and status tables --------------------------------------- */

struct control_cmd {
	char name[CONTROL_NAME_MAX];
	control_handler_fn fn;
	void *opaque;
};

struct control_status {
	char key[CONTROL_NAME_MAX];
	control_status_fn fn;
	void *opaque;
};

static int cmd_help(struct vm *vm, const struct json_value *req,
		    struct json_writer *w, void *opaque);
static int cmd_status(struct vm *vm, const struct json_value *req,
		      struct json_writer *w, void *opaque);
static int cmd_pause(struct vm *vm, const struct json_value *req,
		     struct json_writer *w, void *opaque);
static int cmd_resume(struct vm *vm, const struct json_value *req,
		      struct json_writer *w, void *opaque);
static int cmd_quit(struct vm *vm, const struct json_value *req,
		    struct json_writer *w, void *opaque);
static int cmd_not_implemented(struct vm *vm, const struct json_value *req,
			       struct json_writer *w, void *opaque);
static void status_migration_none(struct vm *vm, struct json_writer *w,
				  void *opaque);

/*
 * Filled at compile time rather than by constructors, so that a handler
 * registered from any other file's constructor always wins over the
 * placeholder, whatever order the constructors run in.
 */
static struct control_cmd cmds[CONTROL_MAX_CMDS] = {
	{ "help", cmd_help, NULL },
	{ "status", cmd_status, NULL },
	{ "pause", cmd_pause, NULL },
	{ "resume", cmd_resume, NULL },
	{ "quit", cmd_quit, NULL },
	{ "migrate", cmd_not_implemented, NULL },
	{ "migrate-cancel", cmd_not_implemented, NULL },
	{ "snapshot", cmd_not_implemented, NULL },
	{ "dump-state", cmd_not_implemented, NULL },
};

static struct control_status status_parts[CONTROL_MAX_CMDS] = {
	{ "migration", status_migration_none, NULL },
};

static bool name_ok(const char *name)
{
	return name && name[0] && strlen(name) < CONTROL_NAME_MAX;
}

int control_register(const char *name, control_handler_fn fn, void *opaque)
{
	struct control_cmd *free_slot = NULL;
	int i;

	if (!name_ok(name) || !fn)
		return -EINVAL;
	for (i = 0; i < CONTROL_MAX_CMDS; i++) {
		if (!cmds[i].name[0]) {
			if (!free_slot)
				free_slot = &cmds[i];
			continue;
		}
		if (!strcmp(cmds[i].name, name)) {
			cmds[i].fn = fn;
			cmds[i].opaque = opaque;
			return 0;
		}
	}
	if (!free_slot)
		return -ENOSPC;
	snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
	free_slot->fn = fn;
	free_slot->opaque = opaque;
	return 0;
}

int control_register_status(const char *key, control_status_fn fn, void *opaque)
{
	struct control_status *free_slot = NULL;
	int i;

	if (!name_ok(key) || !fn)
		return -EINVAL;
	for (i = 0; i < CONTROL_MAX_CMDS; i++) {
		if (!status_parts[i].key[0]) {
			if (!free_slot)
				free_slot = &status_parts[i];
			continue;
		}
		if (!strcmp(status_parts[i].key, key)) {
			status_parts[i].fn = fn;
			status_parts[i].opaque = opaque;
			return 0;
		}
	}
	if (!free_slot)
		return -ENOSPC;
	snprintf(free_slot->key, sizeof(free_slot->key), "%s", key);
	free_slot->fn = fn;
	free_slot->opaque = opaque;
	return 0;
}

static const struct control_cmd *control_lookup(const char *name, size_t len)
{
	int i;

	for (i = 0; i < CONTROL_MAX_CMDS; i++)
		if (cmds[i].name[0] && strlen(cmds[i].name) == len &&
		    !memcmp(cmds[i].name, name, len))
			return &cmds[i];
	return NULL;
}

/* ---- replies --------------------------------------------------------- */

#define REPLY_ERROR_PREFIX	"{\"ok\":false,"

static void reply_start_error(struct json_writer *w, const char *msg)
{
	json_writer_reset(w);
	json_obj_begin(w);
	json_kv_bool(w, "ok", false);
	json_kv_string(w, "error", msg);
}

int control_reply_error(struct json_writer *reply, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_start_error(reply, msg);
	return -1;
}

/* Did the handler turn the reply into an error reply? */
static bool reply_is_error(const struct json_writer *w)
{
	const char *text = json_writer_text(w, NULL);

	return text && !strncmp(text, REPLY_ERROR_PREFIX, strlen(REPLY_ERROR_PREFIX));
}

/* Close the reply object (echoing @id) and append it as one line to @out. */
static void reply_finish(struct json_writer *w, const struct json_value *id,
			 struct json_writer *out)
{
	const char *text;
	size_t len;

	if (id)
		json_kv_value(w, "id", id);
	json_obj_end(w);
	text = json_writer_text(w, &len);
	if (!text || w->depth) {
		/* Only out of memory gets here: say so in a reply that needs none. */
		static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\"}\n";

		json_writer_raw(out, oom, sizeof(oom) - 1);
		return;
	}
	json_writer_raw(out, text, len);
	json_writer_raw(out, "\n", 1);
}

static void reply_error_line(struct json_writer *out, const struct json_value *id,
			     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void reply_error_line(struct json_writer *out, const struct json_value *id,
			     const char *fmt, ...)
{
	struct json_writer w;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_writer_init(&w);
	reply_start_error(&w, msg);
	reply_finish(&w, id, out);
	json_writer_release(&w);
}

/* "status, pause, ..." for the unknown-command message and help. */
static void command_list(char *buf, size_t size)
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < CONTROL_MAX_CMDS && used < size; i++) {
		if (!cmds[i].name[0])
			continue;
		used += snprintf(buf + used, size - used, "%s%s",
				 used ? ", " : "", cmds[i].name);
	}
}

/* The request a handler is running for, and whether it deferred its reply. */
static struct json_value *cur_req;
static struct control_client *cur_client;
static struct control_waiter *cur_waiter;

/* An ended handler's reply: what it wrote, or an error if it failed or misbehaved. */
static void reply_check(struct json_writer *w, int ret, const char *name)
{
	if (ret && !reply_is_error(w))
		control_reply_error(w, "%s failed", name);
	else if (!ret && (json_writer_failed(w) || w->depth != 1))
		/* A handler bug must not put half an object on the wire. */
		control_reply_error(w, "internal error: %s wrote a malformed reply", name);
}

void control_handle_request(struct vm *vm, const char *line, size_t len,
			    struct json_writer *out)
{
	struct json_limits lim = { .max_len = CONTROL_LINE_MAX };
	const struct json_value *id, *cmdv;
	const struct control_cmd *cmd;
	struct json_value *req, *saved_req;
	struct control_waiter *waiter, *saved_waiter;
	struct json_writer w;
	char err[256], names[512];
	int ret;

	if (len && line[len - 1] == '\r')
		len--;
	req = json_parse(line, len, &lim, err, sizeof(err));
	if (!req) {
		reply_error_line(out, NULL, "invalid JSON: %s", err);
		return;
	}
	if (req->type != JSON_OBJECT) {
		reply_error_line(out, NULL,
				 "a request is a JSON object like {\"cmd\":\"status\"}, not %s %s",
				 req->type == JSON_ARRAY || req->type == JSON_OBJECT ? "an" : "a",
				 json_type_name(req->type));
		goto out;
	}
	id = json_object_get(req, "id");
	cmdv = json_object_get(req, "cmd");
	if (!cmdv) {
		reply_error_line(out, id, "missing \"cmd\" (e.g. {\"cmd\":\"status\"})");
		goto out;
	}
	if (cmdv->type != JSON_STRING) {
		reply_error_line(out, id, "\"cmd\" must be a string, not %s",
				 json_type_name(cmdv->type));
		goto out;
	}
	cmd = control_lookup(cmdv->string.str, cmdv->string.len);
	if (!cmd) {
		command_list(names, sizeof(names));
		reply_error_line(out, id, "unknown command '%.64s' (try: %s)",
				 cmdv->string.str, names);
		goto out;
	}

	json_writer_init(&w);
	json_obj_begin(&w);
	json_kv_bool(&w, "ok", true);
	saved_req = cur_req;
	saved_waiter = cur_waiter;
	cur_req = req;
	cur_waiter = NULL;
	ret = cmd->fn(vm, req, &w, cmd->opaque);
	waiter = cur_waiter;
	if (waiter && ret)
		/* Deferred, then failed anyway: answer now after all. */
		control_finish(waiter, NULL, NULL);
	cur_req = saved_req;
	cur_waiter = saved_waiter;
	if (waiter && !ret) {
		/* The waiter owns the request now; control_finish() replies. */
		json_writer_release(&w);
		return;
	}
	reply_check(&w, ret, cmd->name);
	reply_finish(&w, id, out);
	json_writer_release(&w);
out:
	json_free(req);
}

/* ---- line assembly --------------------------------------------------- */

void control_session_init(struct control_session *s, struct vm *vm)
{
	memset(s, 0, sizeof(*s));
	s->vm = vm;
}

void control_session_release(struct control_session *s)
{
	free(s->line);
	s->line = NULL;
	s->len = 0;
}

static bool blank(const char *s, size_t len)
{
	while (len && (*s == ' ' || *s == '\t' || *s == '\r')) {
		s++;
		len--;
	}
	return !len;
}

static void session_line(struct control_session *s, const char *line, size_t len,
			 struct json_writer *out)
{
	/* Enter on an interactive socat is not worth an error. */
	if (!blank(line, len))
		control_handle_request(s->vm, line, len, out);
}

static void session_overlong(struct control_session *s, struct json_writer *out)
{
	/* Answer now, once: the client may be waiting for it before sending more. */
	reply_error_line(out, NULL, "request line longer than %d bytes", CONTROL_LINE_MAX);
	s->overlong = true;
	s->len = 0;
}

void control_session_feed(struct control_session *s, const char *buf,
			  size_t len, struct json_writer *out)
{
	while (len) {
		const char *nl = memchr(buf, '\n', len);
		size_t n = nl ? (size_t)(nl - buf) : len;

		if (s->overlong) {
			/* Drop the rest of the long line; usable again after its '\n'. */
			if (nl)
				s->overlong = false;
		} else if (s->len + n > CONTROL_LINE_MAX) {
			session_overlong(s, out);
			if (nl)
				s->overlong = false;
		} else if (nl && !s->len) {
			/* The whole line is in @buf: no copy. */
			session_line(s, buf, n, out);
		} else {
			if (!s->line) {
				s->line = malloc(CONTROL_LINE_MAX);
				if (!s->line) {
					reply_error_line(out, NULL, "out of memory");
					s->overlong = !nl;
					goto next;
				}
			}
			memcpy(s->line + s->len, buf, n);
			s->len += n;
			if (nl) {
				session_line(s, s->line, s->len, out);
				s->len = 0;
			}
		}
next:
		if (!nl)
			return;
		buf = nl + 1;
		len -= n + 1;
	}
}

void control_session_eof(struct control_session *s, struct json_writer *out)
{
	if (!s->overlong && s->len)
		session_line(s, s->line, s->len, out);
	s->len = 0;
	s->overlong = false;
}

/* ---- built-in commands ----------------------------------------------- */

static uint64_t start_ns;

static int cmd_help(struct vm *vm, const struct json_value *req,
		    struct json_writer *w, void *opaque)
{
	int i;

	json_key(w, "commands");
	json_arr_begin(w);
	for (i = 0; i < CONTROL_MAX_CMDS; i++)
		if (cmds[i].name[0])
			json_put_string(w, cmds[i].name);
	json_arr_end(w);
	return 0;
}

static void status_migration_none(struct vm *vm, struct json_writer *w,
				  void *opaque)
{
	json_obj_begin(w);
	json_kv_string(w, "state", "none");
	json_obj_end(w);
}

static int cmd_status(struct vm *vm, const struct json_value *req,
		      struct json_writer *w, void *opaque)
{
	uint64_t up = start_ns ? vlab_now_ns() - start_ns : 0;
	int i;

	/* A registered "state" replaces the VM's (a destination still waiting). */
	for (i = 0; i < CONTROL_MAX_CMDS && strcmp(status_parts[i].key, "state"); i++)
		;
	if (i < CONTROL_MAX_CMDS) {
		json_key(w, "state");
		status_parts[i].fn(vm, w, status_parts[i].opaque);
	} else {
		json_kv_string(w, "state", vm_state_name(vm));
	}
	json_kv_double(w, "uptime_s", (double)(up / 1000000) / 1000.0);
	json_kv_int(w, "pid", getpid());
	json_kv_int(w, "vcpus", vm->nr_cpus);
	if (vm->cfg) {
		json_kv_uint(w, "mem_mb", vm->cfg->mem_size >> 20);
		json_kv_string(w, "kernel", vm->cfg->kernel);
		json_kv_string(w, "cmdline", vm->cfg->cmdline);
	}
	json_kv_bool(w, "quirks", vm->quirks);
	json_key(w, "vcpu_exits");
	json_arr_begin(w);
	/* Counted by each vCPU thread; a relaxed snapshot is all we promise. */
	for (i = 0; i < vm->nr_cpus && vm->cpus; i++)
		json_put_uint(w, __atomic_load_n(&vm->cpus[i].exits, __ATOMIC_RELAXED));
	json_arr_end(w);
	for (i = 0; i < CONTROL_MAX_CMDS; i++) {
		if (!status_parts[i].key[0] || !strcmp(status_parts[i].key, "state"))
			continue;
		json_key(w, status_parts[i].key);
		status_parts[i].fn(vm, w, status_parts[i].opaque);
	}
	return 0;
}

static int cmd_pause(struct vm *vm, const struct json_value *req,
		     struct json_writer *w, void *opaque)
{
	/* Blocks the loop until every vCPU is parked: short, and what callers want. */
	vm_pause(vm);
	json_kv_string(w, "state", vm_state_name(vm));
	return 0;
}

static int cmd_resume(struct vm *vm, const struct json_value *req,
		      struct json_writer *w, void *opaque)
{
	vm_resume(vm);
	json_kv_string(w, "state", vm_state_name(vm));
	return 0;
}

static int cmd_quit(struct vm *vm, const struct json_value *req,
		    struct json_writer *w, void *opaque)
{
	vlab_log("quit from the control socket");
	/* The reply is queued before the loop notices the stop; control_exit sends it. */
	vm_stop(vm, VM_STOP_USER, 0);
	return 0;
}

static int cmd_not_implemented(struct vm *vm, const struct json_value *req,
			       struct json_writer *w, void *opaque)
{
	return control_reply_error(w, "%s is not implemented yet",
				   json_get_string(json_object_get(req, "cmd")));
}

/* ---- the socket ------------------------------------------------------ */

/* Bytes read from a client at a time. */
#define CONTROL_READ_MAX	16384

struct control_stream {
	int timer_fd;
	uint64_t count;			/* lines to send; 0: until told to stop */
	uint64_t seq;			/* lines sent */
	uint64_t dropped;		/* lines skipped since the last one sent */
	control_stream_fn fn;
	void (*release)(void *opaque);
	void *opaque;
};

struct control_client {
	int fd;
	struct control_session session;
	char *in;			/* bytes read but not yet handled */
	size_t in_off, in_len;
	struct json_writer out;		/* reply lines not yet sent */
	size_t out_off;			/* bytes of @out already sent */
	uint64_t progress_ns;		/* replies pending since, or last sent bytes at */
	uint64_t active_ns;		/* last request bytes in or reply bytes out */
	bool reading;			/* in the main loop, waiting for requests */
	bool waiting;			/* in ctl.out_fd, waiting for EPOLLOUT */
	bool read_closed;		/* peer sent EOF; close once @out is sent */
	struct control_waiter *waiter;	/* a deferred reply is due first */
	struct control_stream *stream;	/* watch: lines on a timer */
	struct control_client *next;
};

struct control_waiter {
	struct control_client *client;	/* NULL once it has gone */
	struct json_value *req;
};

static struct {
	struct vm *vm;
	int listen_fd;
	int out_fd;			/* epoll set of clients with unsent replies */
	int timer_fd;			/* checks for stalled clients while any waits */
	bool timer_armed;
	uint64_t stall_ns;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;			/* the socket file we created, to unlink only ours */
	ino_t ino;
	struct control_client *clients;
	int nr_clients;
} ctl = {
	.listen_fd = -1, .out_fd = -1, .timer_fd = -1,
	.stall_ns = CONTROL_STALL_MS * 1000000ULL,
};

void control_set_stall_timeout_ms(unsigned int ms)
{
	ctl.stall_ns = (ms ? ms : CONTROL_STALL_MS) * 1000000ULL;
}

static size_t client_unsent(const struct control_client *c)
{
	return c->out.len - c->out_off;
}

static void stream_stop(struct control_client *c)
{
	struct control_stream *st = c->stream;

	if (!st)
		return;
	c->stream = NULL;
	event_loop_del(&ctl.vm->loop, st->timer_fd);
	close(st->timer_fd);
	if (st->release)
		st->release(st->opaque);
	free(st);
}

static void client_close(struct control_client *c)
{
	struct control_client **p;

	stream_stop(c);

	for (p = &ctl.clients; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	if (c->reading)
		event_loop_del(&ctl.vm->loop, c->fd);
	if (c->waiting)
		epoll_ctl(ctl.out_fd, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->waiter)
		c->waiter->client = NULL;
	close(c->fd);
	control_session_release(&c->session);
	json_writer_release(&c->out);
	free(c->in);
	free(c);
	ctl.nr_clients--;
}

/* While a client has replies waiting, look for stalled ones now and then. */
static void stall_timer_arm(void)
{
	uint64_t ns = ctl.stall_ns / 4;
	struct itimerspec its = {
		.it_interval = { ns / 1000000000ULL, ns % 1000000000ULL },
		.it_value = { ns / 1000000000ULL, ns % 1000000000ULL },
	};

	if (ctl.timer_armed || ctl.timer_fd < 0)
		return;
	if (!timerfd_settime(ctl.timer_fd, 0, &its, NULL))
		ctl.timer_armed = true;
}

/*
 * Send what is queued without blocking. Returns 0, or -1 if the client
 * is gone (closed and freed here: the caller must not touch it again).
 */
static int client_flush(struct control_client *c)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	const char *text = c->out.buf;

	if (json_writer_failed(&c->out)) {
		vlab_log("control: out of memory for a client's replies; dropping it");
		client_close(c);
		return -1;
	}
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, text + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* Went away mid-reply: nothing to tell anyone. */
			client_close(c);
			return -1;
		}
		c->out_off += n;
		c->progress_ns = c->active_ns = vlab_now_ns();
	}
	if (c->out_off == c->out.len) {
		json_writer_reset(&c->out);
		c->out_off = 0;
		if (c->waiting) {
			epoll_ctl(ctl.out_fd, EPOLL_CTL_DEL, c->fd, NULL);
			c->waiting = false;
		}
		if (c->read_closed && !c->stream) {
			client_close(c);
			return -1;
		}
		return 0;
	}
	if (!c->waiting) {
		if (epoll_ctl(ctl.out_fd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
			client_close(c);
			return -1;
		}
		c->waiting = true;
		/* The stall clock starts when replies start to wait. */
		c->progress_ns = vlab_now_ns();
		stall_timer_arm();
	}
	return 0;
}

static void on_client(int fd, void *opaque);

/* Listen for the client's requests, or not (back-pressure, see control.h). */
static int client_set_reading(struct control_client *c, bool on)
{
	if (c->read_closed || c->reading == on)
		return 0;
	if (!on) {
		event_loop_del(&ctl.vm->loop, c->fd);
	} else if (event_loop_add(&ctl.vm->loop, c->fd, on_client, c)) {
		vlab_log("control: cannot watch a client: %s", strerror(errno));
		client_close(c);
		return -1;
	}
	c->reading = on;
	return 0;
}

/* Handle what was read, a line at a time, until its replies back up. */
static void client_feed(struct control_client *c)
{
	struct control_client *saved;

	while (c->in_off < c->in_len && client_unsent(c) <= CONTROL_OUT_MAX && !c->waiter) {
		const char *p = c->in + c->in_off;
		const char *nl = memchr(p, '\n', c->in_len - c->in_off);
		size_t n = nl ? (size_t)(nl - p) + 1 : c->in_len - c->in_off;

		/* Anything the client sends ends its stream: the reply comes after its last line. */
		stream_stop(c);
		saved = cur_client;
		cur_client = c;
		control_session_feed(&c->session, p, n, &c->out);
		cur_client = saved;
		c->in_off += n;
	}
}

/*
 * Handle requests and send replies as far as the client keeps up, and
 * read more requests only once every one read so far is handled. Returns
 * -1 if the client is gone.
 */
static int client_pump(struct control_client *c)
{
	for (;;) {
		client_feed(c);
		if (client_flush(c))
			return -1;
		if (c->in_off == c->in_len || c->waiter)
			break;
		/* Back-pressure: resume once it has read half of its backlog. */
		if (client_unsent(c) > CONTROL_OUT_MAX / 2)
			break;
	}
	return client_set_reading(c, c->in_off == c->in_len && !c->waiter);
}

struct control_waiter *control_defer(void)
{
	struct control_waiter *w;

	if (!cur_client || !cur_req || cur_waiter)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->client = cur_client;
	w->req = cur_req;
	cur_client->waiter = w;
	cur_waiter = w;
	return w;
}

void control_finish(struct control_waiter *w, control_finish_fn fn, void *opaque)
{
	struct control_client *c = w->client;
	const char *name = json_get_string(json_object_get(w->req, "cmd"));
	struct json_writer rw;

	/* From control_handle_request(): the handler failed after deferring. */
	if (w == cur_waiter) {
		if (c)
			c->waiter = NULL;
		free(w);
		return;
	}
	if (c) {
		json_writer_init(&rw);
		json_obj_begin(&rw);
		json_kv_bool(&rw, "ok", true);
		reply_check(&rw, fn(ctl.vm, &rw, opaque), name);
		reply_finish(&rw, json_object_get(w->req, "id"), &c->out);
		json_writer_release(&rw);
		c->waiter = NULL;
		/* Then the requests that waited behind it. */
		client_pump(c);
	}
	json_free(w->req);
	free(w);
}

static void on_client(int fd, void *opaque)
{
	struct control_client *c = opaque;
	ssize_t n;

	do {
		n = recv(fd, c->in, CONTROL_READ_MAX, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		control_session_eof(&c->session, &c->out);
		client_set_reading(c, false);
		c->read_closed = true;
		client_flush(c);
		return;
	}
	c->in_off = 0;
	c->in_len = n;
	c->active_ns = vlab_now_ns();
	client_pump(c);
}

/* One line of @c's stream, or a skipped one while the last has not left. */
static void on_stream_tick(int fd, void *opaque)
{
	struct control_client *c = opaque;
	struct control_stream *st = c->stream;
	struct json_writer w;
	const char *text;
	uint64_t ticks;
	size_t len;

	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	if (!st)
		return;
	if (client_unsent(c) || c->waiter) {
		st->dropped += ticks;
		return;
	}
	json_writer_init(&w);
	st->fn(ctl.vm, &w, st->seq, st->dropped, st->opaque);
	text = json_writer_text(&w, &len);
	if (text && !w.depth) {
		json_writer_raw(&c->out, text, len);
		json_writer_raw(&c->out, "\n", 1);
	}
	json_writer_release(&w);
	st->seq++;
	st->dropped = 0;
	if (st->count && st->seq >= st->count)
		stream_stop(c);
	client_flush(c);
}

int control_stream_start(unsigned int period_ms, uint64_t count, control_stream_fn fn,
			 void (*release)(void *opaque), void *opaque)
{
	struct itimerspec its = {
		.it_interval = { period_ms / 1000, (period_ms % 1000) * 1000000L },
		/* The first line right after the reply. */
		.it_value = { 0, 1000000L },
	};
	struct control_client *c = cur_client;
	struct control_stream *st;

	if (!c || c->stream || !period_ms || !fn)
		return -1;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -1;
	st->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (st->timer_fd < 0 || timerfd_settime(st->timer_fd, 0, &its, NULL) ||
	    event_loop_add(&ctl.vm->loop, st->timer_fd, on_stream_tick, c)) {
		if (st->timer_fd >= 0)
			close(st->timer_fd);
		free(st);
		return -1;
	}
	st->count = count;
	st->fn = fn;
	st->release = release;
	st->opaque = opaque;
	c->stream = st;
	return 0;
}

static void on_writable(int fd, void *opaque)
{
	struct epoll_event evs[CONTROL_MAX_CLIENTS];
	int i, n;

	n = epoll_wait(ctl.out_fd, evs, CONTROL_MAX_CLIENTS, 0);
	for (i = 0; i < n; i++)
		client_pump(evs[i].data.ptr);
}

/* Drop clients that have taken none of their replies for the stall timeout. */
static void on_stall_timer(int fd, void *opaque)
{
	struct control_client *c, *next;
	uint64_t now = vlab_now_ns(), ticks;
	bool any = false;

	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	for (c = ctl.clients; c; c = next) {
		next = c->next;
		if (!c->waiting)
			continue;
		if (now - c->progress_ns >= ctl.stall_ns) {
			vlab_log("control: a client took none of its replies for %llu ms; "
				 "dropping it", (unsigned long long)(ctl.stall_ns / 1000000));
			client_close(c);
			continue;
		}
		any = true;
	}
	if (!any) {
		struct itimerspec off = { 0 };

		timerfd_settime(ctl.timer_fd, 0, &off, NULL);
		ctl.timer_armed = false;
	}
}

/* The client that has done nothing for the longest time. */
static struct control_client *client_longest_idle(void)
{
	struct control_client *c, *idle = NULL;

	for (c = ctl.clients; c; c = c->next)
		if (!c->waiter && (!idle || c->active_ns < idle->active_ns))
			idle = c;
	return idle;
}

static void on_accept(int fd, void *opaque)
{
	static const char busy[] =
		"{\"ok\":false,\"error\":\"too many control clients, all waiting for replies\"}\n";
	static const char evicted[] =
		"{\"ok\":false,\"error\":\"closed: idle the longest while the control "
		"socket was full\"}\n";
	struct control_client *c;
	int cfd;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;		/* EAGAIN, or a client that already left */
	if (ctl.nr_clients >= CONTROL_MAX_CLIENTS) {
		/* Idle clients must not lock out a new one: see control.h. */
		c = client_longest_idle();
		if (!c) {
			/* Best effort: it is being turned away either way. */
			(void)!send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(cfd);
			return;
		}
		vlab_log("control: %d clients; closing the one idle the longest",
			 ctl.nr_clients);
		/* Best effort: it is being closed either way. */
		if (!client_unsent(c))
			(void)!send(c->fd, evicted, sizeof(evicted) - 1,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
		client_close(c);
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->in = malloc(CONTROL_READ_MAX);
	if (!c || !c->in) {
		free(c);
		close(cfd);
		return;
	}
	c->fd = cfd;
	c->active_ns = vlab_now_ns();
	control_session_init(&c->session, ctl.vm);
	json_writer_init(&c->out);
	if (event_loop_add(&ctl.vm->loop, cfd, on_client, c)) {
		close(cfd);
		free(c->in);
		free(c);
		return;
	}
	c->reading = true;
	c->next = ctl.clients;
	ctl.clients = c;
	ctl.nr_clients++;
}

/*
 * Is someone answering on @path? 1 yes, 0 no (a stale file), -1 with
 * errno when we cannot tell.
 */
static int socket_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ret;

	if (fd < 0)
		return -1;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (!ret)
		ret = 1;
	else if (errno == ECONNREFUSED)
		ret = 0;
	close(fd);
	return ret;
}

#define fail(...) do { snprintf(err, errlen, __VA_ARGS__); goto out_err; } while (0)

int control_init(struct vm *vm, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (!path)
		return 0;
	ctl.vm = vm;
	if (!path[0])
		fail("--control: needs a socket path");
	if (strlen(path) >= sizeof(sa.sun_path))
		fail("--control %s: path longer than %zu bytes", path,
		     sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);

	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			fail("--control %s: exists and is not a socket", path);
		switch (socket_alive(&sa)) {
		case 1:
			fail("--control %s: another vlab is already listening there", path);
		case 0:
			/* Left behind by a vlab that died without cleaning up. */
			if (unlink(path) && errno != ENOENT)
				fail("--control %s: cannot remove the stale socket: %s",
				     path, strerror(errno));
			break;
		default:
			fail("--control %s: %s", path, strerror(errno));
		}
	}

	ctl.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl.listen_fd < 0)
		fail("--control: socket: %s", strerror(errno));
	if (bind(ctl.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail("--control %s: %s%s", path, strerror(errno),
		     errno == EADDRINUSE ? " (another vlab started at the same time?)" : "");
	if (stat(path, &st) == 0) {
		ctl.dev = st.st_dev;
		ctl.ino = st.st_ino;
	}
	snprintf(ctl.path, sizeof(ctl.path), "%s", path);
	if (listen(ctl.listen_fd, 16) < 0)
		fail("--control %s: listen: %s", path, strerror(errno));
	ctl.out_fd = epoll_create1(EPOLL_CLOEXEC);
	if (ctl.out_fd < 0)
		fail("--control: epoll: %s", strerror(errno));
	ctl.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ctl.timer_fd < 0)
		fail("--control: timerfd: %s", strerror(errno));
	ctl.timer_armed = false;
	if (event_loop_add(&vm->loop, ctl.listen_fd, on_accept, NULL))
		fail("--control: event loop: %s", strerror(errno));
	if (event_loop_add(&vm->loop, ctl.out_fd, on_writable, NULL)) {
		event_loop_del(&vm->loop, ctl.listen_fd);
		fail("--control: event loop: %s", strerror(errno));
	}
	if (event_loop_add(&vm->loop, ctl.timer_fd, on_stall_timer, NULL)) {
		event_loop_del(&vm->loop, ctl.listen_fd);
		event_loop_del(&vm->loop, ctl.out_fd);
		fail("--control: event loop: %s", strerror(errno));
	}
	start_ns = vlab_now_ns();
	return 0;

out_err:
	if (ctl.timer_fd >= 0)
		close(ctl.timer_fd);
	if (ctl.out_fd >= 0)
		close(ctl.out_fd);
	if (ctl.listen_fd >= 0)
		close(ctl.listen_fd);
	ctl.timer_fd = ctl.out_fd = ctl.listen_fd = -1;
	if (ctl.path[0])
		unlink(ctl.path);
	ctl.path[0] = '\0';
	return -1;
}

/* Give queued replies (the "quit" reply) a moment to leave, without hanging exit. */
static void control_drain(void)
{
	uint64_t deadline = vlab_now_ns() + 500 * 1000000ULL;
	struct control_client *c, *next;

	for (c = ctl.clients; c; c = next) {
		next = c->next;
		while (c->out_off < c->out.len && !json_writer_failed(&c->out)) {
			struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
			uint64_t now = vlab_now_ns();
			ssize_t n;

			if (now >= deadline ||
			    poll(&pfd, 1, (deadline - now) / 1000000 + 1) <= 0)
				break;
			n = send(c->fd, c->out.buf + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break;
			c->out_off += n;
		}
	}
}

void control_exit(struct vm *vm)
{
	struct stat st;

	if (ctl.listen_fd < 0)
		return;
	control_drain();
	while (ctl.clients)
		client_close(ctl.clients);
	event_loop_del(&vm->loop, ctl.listen_fd);
	event_loop_del(&vm->loop, ctl.out_fd);
	event_loop_del(&vm->loop, ctl.timer_fd);
	close(ctl.listen_fd);
	close(ctl.out_fd);
	close(ctl.timer_fd);
	ctl.listen_fd = ctl.out_fd = ctl.timer_fd = -1;
	ctl.timer_armed = false;
	/* A later vlab may have taken the path over: only remove our own file. */
	if (!lstat(ctl.path, &st) && st.st_dev == ctl.dev && st.st_ino == ctl.ino)
		unlink(ctl.path);
	ctl.path[0] = '\0';
	ctl.vm = NULL;
}
