// SPDX-License-Identifier: GPL-2.0
/*
 * The control protocol without KVM: requests go through
 * control_handle_request() and control_session_feed() against a fake VM
 * (no vCPU threads, so pause and quit return at once), and the socket
 * side runs on a real event loop with client threads.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check_main.h"
#include "vmm/control/control.h"
#include "vmm/core/vm.h"

static struct vm vm;
static struct vm_config cfg;
static struct vcpu cpus[2];

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	memset(cpus, 0, sizeof(cpus));
	cfg.kernel = "/boot/vmlinux-test";
	cfg.mem_size = 256ULL << 20;
	cfg.nr_cpus = 2;
	strcpy(cfg.cmdline, "console=ttyS0 quiet");
	vm.cfg = &cfg;
	vm.nr_cpus = 2;
	vm.cpus = cpus;
	cpus[0].exits = 10;
	cpus[1].exits = 20;
	vm.kvm_fd = vm.vm_fd = -1;
	pthread_mutex_init(&vm.stop_lock, NULL);
	pthread_mutex_init(&vm.pause_lock, NULL);
	pthread_cond_init(&vm.pause_cond, NULL);
	ck_assert_int_eq(event_loop_init(&vm.loop), 0);
	vm.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(vm.stop_fd, 0);
}

static void teardown(void)
{
	close(vm.stop_fd);
	event_loop_exit(&vm.loop);
}

/* The reply text of the last request(), for substring checks. */
static char last[8192];

/* One request line in, exactly one reply line out; returns it parsed. */
static struct json_value *request(const char *line)
{
	struct json_writer out;
	struct json_value *v;
	const char *text;
	char err[256];
	size_t len;

	json_writer_init(&out);
	control_handle_request(&vm, line, strlen(line), &out);
	text = json_writer_text(&out, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(len && text[len - 1] == '\n', "reply not a line: %s", text);
	ck_assert_msg(!memchr(text, '\n', len - 1), "more than one line: %s", text);
	snprintf(last, sizeof(last), "%.*s", (int)len - 1, text);
	v = json_parse(text, len - 1, NULL, err, sizeof(err));
	ck_assert_msg(v, "reply is not JSON (%s): %s", err, text);
	ck_assert_int_eq(v->type, JSON_OBJECT);
	/* "ok" always comes first, so a human reading socat sees it. */
	ck_assert_str_eq(v->object.members[0].key, "ok");
	json_writer_release(&out);
	return v;
}

static bool reply_ok(const struct json_value *v)
{
	bool ok;

	ck_assert_int_eq(json_get_bool(json_object_get(v, "ok"), &ok), 0);
	return ok;
}

/* The request fails with an error containing @msg. */
static void fails(const char *line, const char *msg)
{
	struct json_value *v = request(line);
	const char *e = json_get_string(json_object_get(v, "error"));

	ck_assert_msg(!reply_ok(v), "'%s' should fail: %s", line, last);
	ck_assert_msg(e && strstr(e, msg), "'%s': error '%s' lacks '%s'", line, e, msg);
	json_free(v);
}

START_TEST(test_status)
{
	struct json_value *v = request("{\"cmd\":\"status\"}");
	const struct json_value *exits, *mig;
	int64_t n;
	double up;
	bool q;

	ck_assert(reply_ok(v));
	ck_assert_str_eq(json_get_string(json_object_get(v, "state")), "running");
	ck_assert_int_eq(json_get_int64(json_object_get(v, "vcpus"), &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(json_get_int64(json_object_get(v, "mem_mb"), &n), 0);
	ck_assert_int_eq(n, 256);
	ck_assert_int_eq(json_get_int64(json_object_get(v, "pid"), &n), 0);
	ck_assert_int_eq(n, getpid());
	ck_assert_int_eq(json_get_number(json_object_get(v, "uptime_s"), &up), 0);
	ck_assert(up >= 0);
	ck_assert_str_eq(json_get_string(json_object_get(v, "kernel")), "/boot/vmlinux-test");
	ck_assert_str_eq(json_get_string(json_object_get(v, "cmdline")), "console=ttyS0 quiet");
	ck_assert_int_eq(json_get_bool(json_object_get(v, "quirks"), &q), 0);
	ck_assert(!q);
	exits = json_object_get(v, "vcpu_exits");
	ck_assert_ptr_nonnull(exits);
	ck_assert_int_eq(exits->type, JSON_ARRAY);
	ck_assert_uint_eq(exits->array.count, 2);
	json_get_int64(exits->array.items[0], &n);
	ck_assert_int_eq(n, 10);
	json_get_int64(exits->array.items[1], &n);
	ck_assert_int_eq(n, 20);
	mig = json_object_get(v, "migration");
	ck_assert_str_eq(json_get_string(json_object_get(mig, "state")), "none");
	ck_assert_ptr_null(json_object_get(v, "id"));
	json_free(v);
}
END_TEST

START_TEST(test_pause_resume_quit)
{
	struct json_value *v;
	uint64_t cnt = 0;

	v = request("{\"cmd\":\"pause\"}");
	ck_assert(reply_ok(v));
	ck_assert_str_eq(json_get_string(json_object_get(v, "state")), "paused");
	ck_assert(vm.paused);
	json_free(v);
	/* Pausing twice is fine. */
	v = request("{\"cmd\":\"pause\"}");
	ck_assert(reply_ok(v));
	json_free(v);
	v = request("{\"cmd\":\"status\"}");
	ck_assert_str_eq(json_get_string(json_object_get(v, "state")), "paused");
	json_free(v);

	v = request("{\"cmd\":\"resume\"}");
	ck_assert(reply_ok(v));
	ck_assert_str_eq(json_get_string(json_object_get(v, "state")), "running");
	ck_assert(!vm.paused);
	json_free(v);

	v = request("{\"cmd\":\"quit\",\"id\":\"bye\"}");
	ck_assert(reply_ok(v));
	ck_assert_str_eq(json_get_string(json_object_get(v, "id")), "bye");
	json_free(v);
	ck_assert_int_eq(vm.stop_reason, VM_STOP_USER);
	ck_assert_int_eq(vm.exit_code, 0);
	ck_assert(vm.loop.stop);
	ck_assert_int_eq(read(vm.stop_fd, &cnt, sizeof(cnt)), sizeof(cnt));
	v = request("{\"cmd\":\"status\"}");
	ck_assert_str_eq(json_get_string(json_object_get(v, "state")), "stopping");
	json_free(v);
}
END_TEST

START_TEST(test_bad_requests)
{
	fails("{\"cmd\":\"frobnicate\"}", "unknown command 'frobnicate'");
	/* The message lists what there is. */
	fails("{\"cmd\":\"frobnicate\"}", "try: help, status, pause, resume, quit");
	fails("{\"cmd\":\"\"}", "unknown command ''");
	fails("{\"cmd\":\"STATUS\"}", "unknown command");
	fails("{}", "missing \"cmd\"");
	fails("{\"command\":\"status\"}", "missing \"cmd\"");
	fails("{\"cmd\":5}", "\"cmd\" must be a string, not number");
	fails("{\"cmd\":[\"status\"]}", "not array");
	fails("{\"cmd\":null}", "not null");
	fails("[\"status\"]", "a request is a JSON object");
	fails("\"status\"", "not a string");
	fails("42", "not a number");
	fails("null", "a request is a JSON object");
	fails("status", "invalid JSON: byte 0");
	fails("{\"cmd\":\"status\"", "invalid JSON");
	fails("{\"cmd\":\"status\",}", "invalid JSON");
	fails("{\"cmd\":\"status\",\"cmd\":\"quit\"}", "duplicate key");
	fails("", "invalid JSON");
	fails("\x01\xff", "invalid JSON");
	/* Nothing above may have touched the VM. */
	ck_assert_int_eq(vm.stop_reason, VM_RUNNING);
	ck_assert(!vm.paused);
	/* A trailing CR (socat crlf, telnet) is not an error. */
	{
		struct json_value *v = request("{\"cmd\":\"status\"}\r");

		ck_assert(reply_ok(v));
		json_free(v);
	}
}
END_TEST

START_TEST(test_id_echo)
{
	static const char *const ids[] = {
		"7", "-1.5", "\"abc\"", "null", "true", "[1,\"x\",{}]",
		"{\"seq\":3,\"tag\":\"\\u00e9\\n\"}",
	};
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char line[256], want[256];
		struct json_value *v;

		snprintf(line, sizeof(line), "{\"id\":%s,\"cmd\":\"status\"}", ids[i]);
		v = request(line);
		ck_assert(reply_ok(v));
		json_free(v);
		/* Echoed as the last member, compactly. */
		{
			struct json_value *idv = json_parse(ids[i], strlen(ids[i]), NULL, NULL, 0);
			struct json_writer w;

			json_writer_init(&w);
			json_put_value(&w, idv);
			snprintf(want, sizeof(want), ",\"id\":%s}", json_writer_text(&w, NULL));
			json_writer_release(&w);
			json_free(idv);
		}
		ck_assert_msg(strlen(last) > strlen(want) &&
			      !strcmp(last + strlen(last) - strlen(want), want),
			      "reply %s does not end with %s", last, want);
	}

	/* Errors echo the id too, when the request got far enough to have one. */
	fails("{\"cmd\":\"nope\",\"id\":99}", "unknown command");
	ck_assert_msg(strstr(last, "\"id\":99}"), "%s", last);
	fails("{\"id\":98}", "missing");
	ck_assert_msg(strstr(last, "\"id\":98}"), "%s", last);
	fails("{\"id\":97,\"cmd\":\"migrate\"}", "not implemented");
	ck_assert_msg(strstr(last, "\"id\":97}"), "%s", last);
	fails("{\"id\":96,", "invalid JSON");
	ck_assert_msg(!strstr(last, "\"id\""), "%s", last);
}
END_TEST

START_TEST(test_placeholders)
{
	fails("{\"cmd\":\"migrate\",\"uri\":\"unix:/tmp/x\"}", "migrate is not implemented yet");
	fails("{\"cmd\":\"migrate-cancel\"}", "migrate-cancel is not implemented yet");
	fails("{\"cmd\":\"snapshot\"}", "snapshot is not implemented yet");
	fails("{\"cmd\":\"dump-state\"}", "dump-state is not implemented yet");
}
END_TEST

START_TEST(test_help)
{
	struct json_value *v = request("{\"cmd\":\"help\"}");
	const struct json_value *c = json_object_get(v, "commands");
	size_t i;
	bool quit = false, dump = false;

	ck_assert(reply_ok(v));
	ck_assert_int_eq(c->type, JSON_ARRAY);
	for (i = 0; i < c->array.count; i++) {
		quit |= !strcmp(json_get_string(c->array.items[i]), "quit");
		dump |= !strcmp(json_get_string(c->array.items[i]), "dump-state");
	}
	ck_assert(quit && dump);
	json_free(v);
}
END_TEST

static int h_calls;

/* Echoes its argument and its opaque pointer: what a real command does. */
static int h_echo(struct vm *v, const struct json_value *req,
		  struct json_writer *reply, void *opaque)
{
	const struct json_value *arg = json_object_get(req, "value");

	h_calls++;
	ck_assert_ptr_eq(v, &vm);
	json_kv_string(reply, "opaque", opaque);
	json_kv_value(reply, "value", arg);
	json_key(reply, "nested");
	json_obj_begin(reply);
	json_kv_int(reply, "n", 1);
	json_obj_end(reply);
	return 0;
}

static int h_fail_after_writing(struct vm *v, const struct json_value *req,
				struct json_writer *reply, void *opaque)
{
	json_kv_string(reply, "half", "written");
	json_key(reply, "open");
	json_arr_begin(reply);
	return control_reply_error(reply, "disk %s is full", "/dev/null");
}

static int h_fail_silently(struct vm *v, const struct json_value *req,
			   struct json_writer *reply, void *opaque)
{
	return -5;
}

static int h_unbalanced(struct vm *v, const struct json_value *req,
			struct json_writer *reply, void *opaque)
{
	json_key(reply, "list");
	json_arr_begin(reply);
	return 0;
}

static int h_misuse(struct vm *v, const struct json_value *req,
		    struct json_writer *reply, void *opaque)
{
	json_put_int(reply, 1);		/* no key */
	return 0;
}

static int h_migrate(struct vm *v, const struct json_value *req,
		     struct json_writer *reply, void *opaque)
{
	const char *uri = json_get_string(json_object_get(req, "uri"));

	if (!uri)
		return control_reply_error(reply, "migrate needs \"uri\"");
	json_kv_string(reply, "uri", uri);
	return 0;
}

START_TEST(test_registered_handler)
{
	struct json_value *v;

	ck_assert_int_eq(control_register("echo", h_echo, "cookie"), 0);
	v = request("{\"cmd\":\"echo\",\"value\":[1,{\"a\":\"b\"}],\"id\":3}");
	ck_assert(reply_ok(v));
	ck_assert_int_eq(h_calls, 1);
	ck_assert_str_eq(last, "{\"ok\":true,\"opaque\":\"cookie\",\"value\":[1,{\"a\":\"b\"}],"
			 "\"nested\":{\"n\":1},\"id\":3}");
	json_free(v);
	/* No argument: the handler sees NULL and writes null. */
	v = request("{\"cmd\":\"echo\"}");
	ck_assert_str_eq(last, "{\"ok\":true,\"opaque\":\"cookie\",\"value\":null,"
			 "\"nested\":{\"n\":1}}");
	json_free(v);

	/* Registering the same name again replaces the handler. */
	ck_assert_int_eq(control_register("echo", h_echo, "other"), 0);
	v = request("{\"cmd\":\"echo\"}");
	ck_assert_str_eq(json_get_string(json_object_get(v, "opaque")), "other");
	json_free(v);

	/* That is how the migration code takes over a placeholder. */
	ck_assert_int_eq(control_register("migrate", h_migrate, NULL), 0);
	v = request("{\"cmd\":\"migrate\",\"uri\":\"unix:/tmp/m.sock\"}");
	ck_assert(reply_ok(v));
	ck_assert_str_eq(json_get_string(json_object_get(v, "uri")), "unix:/tmp/m.sock");
	json_free(v);
	fails("{\"cmd\":\"migrate\"}", "migrate needs \"uri\"");
	/* The others are still placeholders. */
	fails("{\"cmd\":\"snapshot\"}", "not implemented yet");
}
END_TEST

START_TEST(test_handler_errors)
{
	struct json_value *v;

	ck_assert_int_eq(control_register("half", h_fail_after_writing, NULL), 0);
	ck_assert_int_eq(control_register("silent", h_fail_silently, NULL), 0);
	ck_assert_int_eq(control_register("unbalanced", h_unbalanced, NULL), 0);
	ck_assert_int_eq(control_register("misuse", h_misuse, NULL), 0);

	/* What the handler wrote before failing is dropped. */
	v = request("{\"cmd\":\"half\",\"id\":1}");
	ck_assert_str_eq(last, "{\"ok\":false,\"error\":\"disk /dev/null is full\",\"id\":1}");
	json_free(v);
	fails("{\"cmd\":\"silent\"}", "silent failed");
	fails("{\"cmd\":\"unbalanced\"}", "internal error: unbalanced wrote a malformed reply");
	fails("{\"cmd\":\"misuse\"}", "internal error: misuse");
}
END_TEST

START_TEST(test_register_limits)
{
	char name[64];
	int i, ret = 0;

	ck_assert_int_eq(control_register(NULL, h_echo, NULL), -EINVAL);
	ck_assert_int_eq(control_register("", h_echo, NULL), -EINVAL);
	ck_assert_int_eq(control_register("x", NULL, NULL), -EINVAL);
	memset(name, 'a', CONTROL_NAME_MAX);
	name[CONTROL_NAME_MAX] = '\0';
	ck_assert_int_eq(control_register(name, h_echo, NULL), -EINVAL);
	name[CONTROL_NAME_MAX - 1] = '\0';
	ck_assert_int_eq(control_register(name, h_echo, NULL), 0);

	ck_assert_int_eq(control_register_status(NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(control_register_status("", NULL, NULL), -EINVAL);

	for (i = 0; i < CONTROL_MAX_CMDS + 1 && !ret; i++) {
		snprintf(name, sizeof(name), "cmd%d", i);
		ret = control_register(name, h_echo, NULL);
	}
	ck_assert_int_eq(ret, -ENOSPC);
	/* A full table still lets an existing name be replaced. */
	ck_assert_int_eq(control_register("cmd0", h_echo, NULL), 0);
}
END_TEST

static void status_migration(struct vm *v, struct json_writer *w, void *opaque)
{
	json_obj_begin(w);
	json_kv_string(w, "state", opaque);
	json_kv_int(w, "rounds", 4);
	json_obj_end(w);
}

static void status_extra(struct vm *v, struct json_writer *w, void *opaque)
{
	json_put_int(w, 42);
}

static void status_state(struct vm *v, struct json_writer *w, void *opaque)
{
	json_put_string(w, "waiting");
}

START_TEST(test_status_parts)
{
	struct json_value *v;
	int64_t n;

	ck_assert_int_eq(control_register_status("migration", status_migration, "active"), 0);
	ck_assert_int_eq(control_register_status("extra", status_extra, NULL), 0);
	v = request("{\"cmd\":\"status\"}");
	ck_assert(reply_ok(v));
	ck_assert_str_eq(json_get_string(json_object_get(json_object_get(v, "migration"),
							  "state")), "active");
	ck_assert_int_eq(json_get_int64(json_object_get(json_object_get(v, "migration"),
							 "rounds"), &n), 0);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(json_get_int64(json_object_get(v, "extra"), &n), 0);
	ck_assert_int_eq(n, 42);
	json_free(v);

	/* A "state" part replaces the VM's state, in its place (no duplicate key). */
	ck_assert_int_eq(control_register_status("state", status_state, NULL), 0);
	v = request("{\"cmd\":\"status\"}");
	ck_assert_msg(!strncmp(last, "{\"ok\":true,\"state\":\"waiting\",\"uptime_s\":", 40), "%s",
		      last);
	json_free(v);
}
END_TEST

/* ---- line assembly ---------------------------------------------------- */

static struct control_session sess;
static struct json_writer sout;

static void feed(const char *s, size_t len)
{
	control_session_feed(&sess, s, len, &sout);
}

#define FEED(s) feed(s, strlen(s))

static int lines_out(void)
{
	const char *t = json_writer_text(&sout, NULL);
	int n = 0;

	for (; *t; t++)
		n += *t == '\n';
	return n;
}

static void session_setup(void)
{
	setup();
	control_session_init(&sess, &vm);
	json_writer_init(&sout);
}

static void session_teardown(void)
{
	control_session_release(&sess);
	json_writer_release(&sout);
	teardown();
}

START_TEST(test_session_split_lines)
{
	const char *t;

	FEED("{\"cmd\":");
	ck_assert_int_eq(lines_out(), 0);
	FEED("\"status\",\"id\":1}\n{\"cmd\":\"pa");
	ck_assert_int_eq(lines_out(), 1);
	FEED("use\",\"id\":2}\n{\"cmd\":\"resume\",\"id\":3}\n{\"cmd\":\"help\",\"id\":4}\r\n");
	ck_assert_int_eq(lines_out(), 4);
	t = json_writer_text(&sout, NULL);
	/* In order, one per line. */
	ck_assert_ptr_nonnull(strstr(t, "\"id\":1}\n{\"ok\":true,\"state\":\"paused\",\"id\":2}\n"
				     "{\"ok\":true,\"state\":\"running\",\"id\":3}\n"));
	ck_assert_ptr_nonnull(strstr(t, "\"id\":4}\n"));

	/* Blank lines are not requests. */
	FEED("\n\n  \r\n\t\n");
	ck_assert_int_eq(lines_out(), 4);

	/* One byte at a time works too. */
	{
		const char *req = "{\"cmd\":\"status\"}\n";

		for (; *req; req++)
			feed(req, 1);
	}
	ck_assert_int_eq(lines_out(), 5);

	/* A bad line does not spoil the next one. */
	FEED("garbage\n{\"cmd\":\"status\",\"id\":\"after\"}\n");
	ck_assert_int_eq(lines_out(), 7);
	t = json_writer_text(&sout, NULL);
	ck_assert_ptr_nonnull(strstr(t, "{\"ok\":false,\"error\":\"invalid JSON: byte 0"));
	ck_assert_ptr_nonnull(strstr(t, "\"id\":\"after\"}\n"));
}
END_TEST

/* A request line of exactly @len bytes: a status with padding. */
static char *padded_request(size_t len)
{
	static const char head[] = "{\"cmd\":\"status\",\"pad\":\"";
	char *s = malloc(len + 2);

	memset(s, 'p', len);
	memcpy(s, head, sizeof(head) - 1);
	s[len - 2] = '"';
	s[len - 1] = '}';
	s[len] = '\n';
	s[len + 1] = '\0';
	return s;
}

START_TEST(test_session_overlong)
{
	char chunk[1000];
	char *s;
	int i;

	/* Exactly the limit is fine, even when it arrives in pieces. */
	s = padded_request(CONTROL_LINE_MAX);
	feed(s, 10);
	feed(s + 10, CONTROL_LINE_MAX + 1 - 10);
	ck_assert_int_eq(lines_out(), 1);
	ck_assert_ptr_nonnull(strstr(json_writer_text(&sout, NULL), "\"ok\":true"));
	free(s);

	/* One byte more: one error, as soon as the limit is passed. */
	json_writer_reset(&sout);
	s = padded_request(CONTROL_LINE_MAX + 1);
	feed(s, CONTROL_LINE_MAX + 1);
	ck_assert_int_eq(lines_out(), 1);
	ck_assert_ptr_nonnull(strstr(json_writer_text(&sout, NULL),
				     "request line longer than 65536 bytes"));
	feed(s + CONTROL_LINE_MAX + 1, 1);	/* its newline */
	ck_assert_int_eq(lines_out(), 1);
	free(s);

	/* A long stream of junk without newline: still one error. */
	json_writer_reset(&sout);
	memset(chunk, 'x', sizeof(chunk));
	for (i = 0; i < 300; i++)
		feed(chunk, sizeof(chunk));
	ck_assert_int_eq(lines_out(), 1);
	/* The connection is usable after the newline. */
	FEED("tail of the junk\n{\"cmd\":\"status\",\"id\":5}\n");
	ck_assert_int_eq(lines_out(), 2);
	ck_assert_ptr_nonnull(strstr(json_writer_text(&sout, NULL), "\"id\":5}\n"));

	/* Overlong in a single feed that also holds the next request. */
	json_writer_reset(&sout);
	s = malloc(CONTROL_LINE_MAX + 100);
	memset(s, 'y', CONTROL_LINE_MAX + 10);
	strcpy(s + CONTROL_LINE_MAX + 10, "\n{\"cmd\":\"help\"}\n");
	FEED(s);
	ck_assert_int_eq(lines_out(), 2);
	ck_assert_ptr_nonnull(strstr(json_writer_text(&sout, NULL), "\"commands\""));
	free(s);
}
END_TEST

START_TEST(test_session_eof)
{
	/* The last request may come without a newline (printf | socat). */
	FEED("{\"cmd\":\"status\"}");
	ck_assert_int_eq(lines_out(), 0);
	control_session_eof(&sess, &sout);
	ck_assert_int_eq(lines_out(), 1);
	control_session_eof(&sess, &sout);
	ck_assert_int_eq(lines_out(), 1);

	/* A cut-off request gets its error; an overlong tail gets nothing more. */
	FEED("{\"cmd\":\"sta");
	control_session_eof(&sess, &sout);
	ck_assert_int_eq(lines_out(), 2);
	{
		char *s = malloc(CONTROL_LINE_MAX + 10);

		memset(s, 'z', CONTROL_LINE_MAX + 10);
		feed(s, CONTROL_LINE_MAX + 10);
		free(s);
	}
	ck_assert_int_eq(lines_out(), 3);
	control_session_eof(&sess, &sout);
	ck_assert_int_eq(lines_out(), 3);
}
END_TEST

/* ---- the socket, on a real event loop -------------------------------- */

static char sock_dir[64];
static char sock_path[128];

static void sock_setup(void)
{
	setup();
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/vlab-ctl-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sock_dir));
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", sock_dir);
}

static void sock_teardown(void)
{
	unlink(sock_path);
	rmdir(sock_dir);
	teardown();
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_str(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		s += n;
		len -= n;
	}
	return 0;
}

/* One reply line (without '\n'), or "" on EOF/error. */
static void recv_line(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t n = recv(fd, buf + len, 1, 0);

		if (n <= 0 || buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
}

/* What the client thread saw; checked on the test's thread. */
struct sock_results {
	char status_a[4096], status_b[4096];
	char garbage[512], after_garbage[4096];
	char newest[4096], evicted[256];
	int evicted_eof;
	int backlog_replies;
	char quit[256];
	int quit_eof;
	int failed_connect;
};

static struct sock_results res;

/* About 1 MB of status replies: several socket buffers' worth. */
#define BACKLOG_REQUESTS	3000

static void *client_thread(void *arg)
{
	int a, b, c, extra[CONTROL_MAX_CLIENTS], nextra = 0, extra_client, i;
	char buf[4096];

	a = connect_to(sock_path);
	b = connect_to(sock_path);
	if (a < 0 || b < 0) {
		res.failed_connect = 1;
		goto quit_anyway;
	}
	/* Two clients interleaved, one request split across writes. */
	send_str(a, "{\"cmd\":\"stat");
	send_str(b, "{\"cmd\":\"status\",\"id\":\"b\"}\n");
	usleep(20000);
	send_str(a, "us\",\"id\":\"a\"}\n");
	recv_line(b, res.status_b, sizeof(res.status_b));
	recv_line(a, res.status_a, sizeof(res.status_a));

	send_str(a, "this is not json\n");
	recv_line(a, res.garbage, sizeof(res.garbage));
	send_str(a, "{\"cmd\":\"status\"}\n");
	recv_line(a, res.after_garbage, sizeof(res.after_garbage));

	/* A client that floods requests and vanishes without reading. */
	c = connect_to(sock_path);
	for (i = 0; c >= 0 && i < 2000; i++)
		if (send_str(c, "{\"cmd\":\"status\"}\n"))
			break;
	if (c >= 0)
		close(c);

	/*
	 * Many requests before reading any reply: more replies than the
	 * socket buffer holds, so they wait for EPOLLOUT, and all arrive.
	 */
	c = connect_to(sock_path);
	for (i = 0; c >= 0 && i < BACKLOG_REQUESTS; i++)
		send_str(c, "{\"cmd\":\"status\"}\n");
	while (c >= 0 && res.backlog_replies < BACKLOG_REQUESTS) {
		ssize_t n = recv(c, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		for (i = 0; i < n; i++)
			res.backlog_replies += buf[i] == '\n';
	}
	if (c >= 0)
		close(c);

	/*
	 * Fill the client table with idle clients (a and b count), then one
	 * more: it is served, and b, idle the longest, is closed to make room.
	 */
	for (i = 0; i < CONTROL_MAX_CLIENTS - 2; i++) {
		extra[nextra] = connect_to(sock_path);
		if (extra[nextra] < 0)
			break;
		/* A reply proves it was accepted before the next connects. */
		send_str(extra[nextra], "{\"cmd\":\"help\"}\n");
		recv_line(extra[nextra], buf, sizeof(buf));
		nextra++;
	}
	send_str(a, "{\"cmd\":\"help\"}\n");
	recv_line(a, buf, sizeof(buf));
	extra_client = connect_to(sock_path);
	if (extra_client >= 0) {
		send_str(extra_client, "{\"cmd\":\"status\",\"id\":\"new\"}\n");
		recv_line(extra_client, res.newest, sizeof(res.newest));
		close(extra_client);
	}
	recv_line(b, res.evicted, sizeof(res.evicted));
	res.evicted_eof = recv(b, buf, 1, 0) == 0;
	for (i = 0; i < nextra; i++)
		close(extra[i]);
	close(b);

quit_anyway:
	if (a < 0)
		a = connect_to(sock_path);
	send_str(a, "{\"cmd\":\"quit\",\"id\":\"q\"}\n");
	recv_line(a, res.quit, sizeof(res.quit));
	/* The process would exit now; here control_exit closes us. */
	res.quit_eof = recv(a, buf, 1, 0) == 0;
	close(a);
	return NULL;
}

START_TEST(test_socket_clients)
{
	char err[256];
	pthread_t t;
	struct stat st;

	memset(&res, 0, sizeof(res));
	ck_assert_msg(!control_init(&vm, sock_path, err, sizeof(err)), "%s", err);
	ck_assert_int_eq(stat(sock_path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(pthread_create(&t, NULL, client_thread, NULL), 0);
	/* Runs until the quit request stops the fake VM. */
	ck_assert_int_eq(event_loop_run(&vm.loop), 0);
	control_exit(&vm);
	pthread_join(t, NULL);

	ck_assert_int_eq(res.failed_connect, 0);
	ck_assert_msg(strstr(res.status_a, "\"state\":\"running\"") &&
		      strstr(res.status_a, "\"id\":\"a\"}"), "%s", res.status_a);
	ck_assert_msg(strstr(res.status_b, "\"id\":\"b\"}"), "%s", res.status_b);
	ck_assert_msg(strstr(res.garbage, "\"ok\":false,\"error\":\"invalid JSON"), "%s",
		      res.garbage);
	ck_assert_msg(strstr(res.after_garbage, "\"ok\":true"), "%s", res.after_garbage);
	ck_assert_msg(strstr(res.newest, "\"ok\":true") && strstr(res.newest, "\"id\":\"new\"}"),
		      "%s", res.newest);
	ck_assert_str_eq(res.evicted, "{\"ok\":false,\"error\":\"closed: idle the longest while "
			 "the control socket was full\"}");
	ck_assert(res.evicted_eof);
	ck_assert_int_eq(res.backlog_replies, BACKLOG_REQUESTS);
	ck_assert_str_eq(res.quit, "{\"ok\":true,\"id\":\"q\"}");
	ck_assert(res.quit_eof);
	ck_assert_int_eq(vm.stop_reason, VM_STOP_USER);
	/* The socket file goes away with us. */
	ck_assert_int_eq(access(sock_path, F_OK), -1);
}
END_TEST

/* Run @client on a thread against a control socket until it sends quit. */
static void run_socket_test(void *(*client)(void *))
{
	char err[256];
	pthread_t t;

	ck_assert_msg(!control_init(&vm, sock_path, err, sizeof(err)), "%s", err);
	ck_assert_int_eq(pthread_create(&t, NULL, client, NULL), 0);
	ck_assert_int_eq(event_loop_run(&vm.loop), 0);
	control_exit(&vm);
	pthread_join(t, NULL);
	ck_assert_int_eq(vm.stop_reason, VM_STOP_USER);
}

/* Ask for quit on a fresh connection: ends run_socket_test(). */
static void client_quit(void)
{
	char buf[256];
	int q = connect_to(sock_path);

	send_str(q, "{\"cmd\":\"quit\"}\n");
	recv_line(q, buf, sizeof(buf));
	close(q);
}

#define BIG_REPLY	(64 * 1024)
#define BIG_REQUESTS	100	/* 6.4 MB of replies: past CONTROL_OUT_MAX */

/* A reply of BIG_REPLY bytes of 'x' (and a little JSON). */
static int h_big(struct vm *v, const struct json_value *req,
		 struct json_writer *reply, void *opaque)
{
	static char big[BIG_REPLY + 1];

	memset(big, 'x', BIG_REPLY);
	json_kv_string(reply, "data", big);
	return 0;
}

static struct {
	int replies, whole;
	int hog_sent;
	char status[4096];
} pipe_res;

static void *pipelining_client(void *arg)
{
	static char reqs[BIG_REQUESTS * 32];
	size_t len = 0, line = 0;
	char *buf = malloc(1 << 16);
	int c = connect_to(sock_path), i;

	/* Every request in one write, before reading anything. */
	for (i = 0; i < BIG_REQUESTS; i++)
		len += snprintf(reqs + len, sizeof(reqs) - len, "{\"cmd\":\"big\"}\n");
	if (c >= 0 && !send_str(c, reqs)) {
		while (pipe_res.replies < BIG_REQUESTS) {
			ssize_t n = recv(c, buf, 1 << 16, 0);

			if (n <= 0)
				break;
			for (i = 0; i < n; i++, line++) {
				if (buf[i] != '\n')
					continue;
				pipe_res.replies++;
				/* {"ok":true,"data":"xxx..."}: 21 bytes and the x-es */
				pipe_res.whole += line == BIG_REPLY + 21;
				line = -1;
			}
		}
	}
	if (c >= 0)
		close(c);
	free(buf);
	client_quit();
	return NULL;
}

/*
 * A client that pipelines more replies than CONTROL_OUT_MAX before it
 * reads one is slowed down (back-pressure), not dropped: every reply
 * arrives, whole and in order. No timing involved: the client writes all
 * its requests at once, then reads.
 */
START_TEST(test_socket_pipelining)
{
	memset(&pipe_res, 0, sizeof(pipe_res));
	ck_assert_int_eq(control_register("big", h_big, NULL), 0);
	run_socket_test(pipelining_client);
	ck_assert_int_eq(pipe_res.replies, BIG_REQUESTS);
	ck_assert_int_eq(pipe_res.whole, BIG_REQUESTS);
}
END_TEST

#define HOG_MAX		100000

static void *hog_client(void *arg)
{
	int c = connect_to(sock_path), s, i;

	/* Requests forever, replies never read: its sends block, then fail. */
	for (i = 0; c >= 0 && i < HOG_MAX; i++)
		if (send_str(c, "{\"cmd\":\"status\"}\n"))
			break;
	pipe_res.hog_sent = i;
	/* Others are served after it (and were meanwhile: it blocked, not vlab). */
	s = connect_to(sock_path);
	send_str(s, "{\"cmd\":\"status\"}\n");
	recv_line(s, pipe_res.status, sizeof(pipe_res.status));
	close(s);
	if (c >= 0)
		close(c);
	client_quit();
	return NULL;
}

/*
 * A client that writes and never reads: vlab stops reading it once
 * CONTROL_OUT_MAX of replies wait, and drops it when it has taken none
 * of them for the stall timeout (short here; how short does not matter).
 */
START_TEST(test_socket_stalled)
{
	memset(&pipe_res, 0, sizeof(pipe_res));
	control_set_stall_timeout_ms(200);
	run_socket_test(hog_client);
	control_set_stall_timeout_ms(0);
	ck_assert_int_lt(pipe_res.hog_sent, HOG_MAX);
	ck_assert_msg(strstr(pipe_res.status, "\"ok\":true"), "%s", pipe_res.status);
}
END_TEST

/* ---- deferred replies ---- */

static struct control_waiter *slow_waiter;

/* Like a migration with wait=true: answered when "finish" comes. */
static int h_slow(struct vm *v, const struct json_value *req,
		  struct json_writer *reply, void *opaque)
{
	slow_waiter = control_defer();
	/* Without a connection there is nobody to answer later: now, then. */
	json_kv_string(reply, "state", slow_waiter ? "deferred" : "at once");
	return 0;
}

static int slow_result(struct vm *v, struct json_writer *reply, void *opaque)
{
	if (opaque)
		return control_reply_error(reply, "it failed: %s", (const char *)opaque);
	json_kv_string(reply, "state", "done");
	return 0;
}

static int h_finish(struct vm *v, const struct json_value *req,
		    struct json_writer *reply, void *opaque)
{
	if (!slow_waiter)
		return control_reply_error(reply, "nothing waits");
	control_finish(slow_waiter, slow_result,
		       (void *)json_get_string(json_object_get(req, "error")));
	slow_waiter = NULL;
	return 0;
}

static struct {
	char slow[256], after[4096], failed[256], gone[256];
} defer_res;

/* Ask for "finish" until a waiter is there to be finished. */
static void finish_slow(const char *req)
{
	char buf[256];
	int f = connect_to(sock_path);

	do {
		send_str(f, req);
		recv_line(f, buf, sizeof(buf));
	} while (strstr(buf, "nothing waits"));
	close(f);
}

static void *deferring_client(void *arg)
{
	int c = connect_to(sock_path);

	/* The status behind the slow request is answered after it, in order. */
	send_str(c, "{\"cmd\":\"slow\",\"id\":1}\n{\"cmd\":\"status\",\"id\":2}\n");
	finish_slow("{\"cmd\":\"finish\"}\n");
	recv_line(c, defer_res.slow, sizeof(defer_res.slow));
	recv_line(c, defer_res.after, sizeof(defer_res.after));

	send_str(c, "{\"cmd\":\"slow\",\"id\":3}\n");
	finish_slow("{\"cmd\":\"finish\",\"error\":\"disk full\"}\n");
	recv_line(c, defer_res.failed, sizeof(defer_res.failed));
	close(c);

	/* A client that leaves while it waits: finishing it harms nobody. */
	c = connect_to(sock_path);
	send_str(c, "{\"cmd\":\"slow\"}\n");
	close(c);
	finish_slow("{\"cmd\":\"finish\"}\n");
	c = connect_to(sock_path);
	send_str(c, "{\"cmd\":\"status\"}\n");
	recv_line(c, defer_res.gone, sizeof(defer_res.gone));
	close(c);
	client_quit();
	return NULL;
}

START_TEST(test_socket_deferred_reply)
{
	struct json_value *v;

	memset(&defer_res, 0, sizeof(defer_res));
	ck_assert_int_eq(control_register("slow", h_slow, NULL), 0);
	ck_assert_int_eq(control_register("finish", h_finish, NULL), 0);
	run_socket_test(deferring_client);
	ck_assert_str_eq(defer_res.slow, "{\"ok\":true,\"state\":\"done\",\"id\":1}");
	ck_assert_msg(strstr(defer_res.after, "\"id\":2}"), "%s", defer_res.after);
	ck_assert_str_eq(defer_res.failed, "{\"ok\":false,\"error\":\"it failed: disk full\","
			 "\"id\":3}");
	ck_assert_msg(strstr(defer_res.gone, "\"ok\":true"), "%s", defer_res.gone);

	/* No connection (the protocol alone): the reply comes at once. */
	v = request("{\"cmd\":\"slow\"}");
	ck_assert_str_eq(last, "{\"ok\":true,\"state\":\"at once\"}");
	json_free(v);
}
END_TEST

START_TEST(test_socket_path_checks)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[256], longp[200];
	int fd;

	/* Not a socket: refused, and left alone. */
	fd = open(sock_path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(control_init(&vm, sock_path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "exists and is not a socket"), "%s", err);
	ck_assert_int_eq(access(sock_path, F_OK), 0);
	unlink(sock_path);

	/* Someone listening: refused. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(control_init(&vm, sock_path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "another vlab is already listening"), "%s", err);
	/* Stale (the listener died without unlinking): taken over. */
	close(fd);
	ck_assert_msg(!control_init(&vm, sock_path, err, sizeof(err)), "%s", err);
	fd = connect_to(sock_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* Someone replaced our file meanwhile: control_exit leaves theirs. */
	unlink(sock_path);
	fd = open(sock_path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	control_exit(&vm);
	ck_assert_int_eq(access(sock_path, F_OK), 0);
	unlink(sock_path);

	/* Too long for sun_path. */
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(control_init(&vm, longp, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "path longer than"), "%s", err);
	/* No such directory. */
	ck_assert_int_eq(control_init(&vm, "/nonexistent-dir/x.sock", err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "No such file"), "%s", err);
	/* No path: nothing to do. */
	ck_assert_int_eq(control_init(&vm, NULL, err, sizeof(err)), 0);
	control_exit(&vm);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("requests");
	TCase *ts = tcase_create("session");
	TCase *tk = tcase_create("socket");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_pause_resume_quit);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_id_echo);
	tcase_add_test(tc, test_placeholders);
	tcase_add_test(tc, test_help);
	tcase_add_test(tc, test_registered_handler);
	tcase_add_test(tc, test_handler_errors);
	tcase_add_test(tc, test_register_limits);
	tcase_add_test(tc, test_status_parts);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(ts, session_setup, session_teardown);
	tcase_add_test(ts, test_session_split_lines);
	tcase_add_test(ts, test_session_overlong);
	tcase_add_test(ts, test_session_eof);
	suite_add_tcase(s, ts);

	tcase_add_checked_fixture(tk, sock_setup, sock_teardown);
	tcase_set_timeout(tk, 20);
	tcase_add_test(tk, test_socket_clients);
	tcase_add_test(tk, test_socket_pipelining);
	tcase_add_test(tk, test_socket_stalled);
	tcase_add_test(tk, test_socket_deferred_reply);
	tcase_add_test(tk, test_socket_path_checks);
	suite_add_tcase(s, tk);
	return s;
}

VLAB_TEST_MAIN(control_suite)
