// SPDX-License-Identifier: GPL-2.0
/*
 * `vlab ctl`: argument parsing, the request it builds, how it prints a
 * reply, and its exit status against a scripted server on a unix socket.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check_main.h"
#include "vmm/control/ctl.h"

static struct ctl_args args;
static char err[512];
static char *argv_buf[32];
static int argc_buf;

/* Collect a NULL-terminated argument list after an implicit "ctl". */
static void set_args(const char *first, va_list ap)
{
	const char *a;

	argc_buf = 0;
	argv_buf[argc_buf++] = "ctl";
	for (a = first; a; a = va_arg(ap, const char *)) {
		ck_assert_int_lt(argc_buf, 31);
		argv_buf[argc_buf++] = (char *)a;
	}
	argv_buf[argc_buf] = NULL;
}

static int parse(const char *first, ...)
{
	va_list ap;

	va_start(ap, first);
	set_args(first, ap);
	va_end(ap);
	err[0] = '\0';
	return ctl_parse_args(argc_buf, argv_buf, &args, err, sizeof(err));
}

#define PARSE(...) parse(__VA_ARGS__, NULL)

#define ck_parse_fails(msg, ...) do {					\
	ck_assert_int_eq(PARSE(__VA_ARGS__), -1);			\
	ck_assert_msg(strstr(err, msg), "message '%s' lacks '%s'", err, msg); \
} while (0)

/* The request line for these arguments (static buffer), or NULL with err. */
static const char *build(const char *first, ...)
{
	static char out[4096];
	struct json_writer w;
	va_list ap;
	int ret;

	va_start(ap, first);
	set_args(first, ap);
	va_end(ap);
	ck_assert_msg(!ctl_parse_args(argc_buf, argv_buf, &args, err, sizeof(err)),
		      "%s", err);
	json_writer_init(&w);
	ret = ctl_build_request(&args, &w, err, sizeof(err));
	if (!ret)
		snprintf(out, sizeof(out), "%s", json_writer_text(&w, NULL));
	json_writer_release(&w);
	return ret ? NULL : out;
}

#define BUILD(...) build(__VA_ARGS__, NULL)

START_TEST(test_parse_args)
{
	ck_assert_int_eq(PARSE("/tmp/s", "status"), 0);
	ck_assert_str_eq(args.path, "/tmp/s");
	ck_assert_str_eq(args.cmd, "status");
	ck_assert_int_eq(args.nr_kv, 0);
	ck_assert(!args.raw);
	ck_assert_int_eq(args.timeout_s, CTL_DEFAULT_TIMEOUT_S);

	ck_assert_int_eq(PARSE("--raw", "--timeout", "5", "/tmp/s", "migrate", "uri=unix:/x",
			       "downtime_ms=30"), 0);
	ck_assert(args.raw);
	ck_assert_int_eq(args.timeout_s, 5);
	ck_assert_str_eq(args.cmd, "migrate");
	ck_assert_int_eq(args.nr_kv, 2);
	ck_assert_str_eq(args.kv[1], "downtime_ms=30");

	/* Options may follow PATH; after CMD everything is an argument. */
	ck_assert_int_eq(PARSE("/tmp/s", "--timeout=0", "status", "--raw=1"), 0);
	ck_assert_int_eq(args.timeout_s, 0);
	ck_assert(!args.raw);
	ck_assert_int_eq(args.nr_kv, 1);
	ck_assert_int_eq(PARSE("/tmp/s", "--json", "{\"cmd\":\"status\"}"), 0);
	ck_assert_ptr_null(args.cmd);
	ck_assert_str_eq(args.json, "{\"cmd\":\"status\"}");
	ck_assert_int_eq(PARSE("--json={\"cmd\":\"quit\"}", "/tmp/s"), 0);
	ck_assert_str_eq(args.json, "{\"cmd\":\"quit\"}");
	/* "--" lets a path start with a dash. */
	ck_assert_int_eq(PARSE("--", "-odd.sock", "status"), 0);
	ck_assert_str_eq(args.path, "-odd.sock");

	ck_parse_fails("help", "--help");
	ck_parse_fails("help", "/tmp/s", "-h");
	ck_assert_int_eq(parse(NULL), -1);
	ck_assert_msg(strstr(err, "missing the control socket PATH"), "%s", err);
	ck_parse_fails("missing the control socket PATH", "--raw");
	ck_parse_fails("missing a command", "/tmp/s");
	ck_parse_fails("PATH is empty", "", "status");
	ck_parse_fails("command is empty", "/tmp/s", "");
	ck_parse_fails("unknown option '--frob'", "--frob", "/tmp/s", "status");
	ck_parse_fails("--timeout: 'soon' is not", "--timeout", "soon", "/tmp/s", "status");
	ck_parse_fails("--timeout: '-1' is not", "--timeout=-1", "/tmp/s", "status");
	ck_parse_fails("--timeout: needs a value", "/tmp/s", "--timeout");
	ck_parse_fails("--json: needs a value", "/tmp/s", "--json");
	ck_parse_fails("unexpected 'status'", "/tmp/s", "--json", "{}", "status");
}
END_TEST

START_TEST(test_build_request)
{
	ck_assert_str_eq(BUILD("/s", "status"), "{\"cmd\":\"status\"}");
	/* Numbers and booleans as such, everything else as text. */
	ck_assert_str_eq(BUILD("/s", "migrate", "uri=unix:/tmp/m.sock", "downtime_ms=30",
			       "max_bandwidth=1e9", "ratio=0.5", "neg=-3", "live=true",
			       "dry=false"),
			 "{\"cmd\":\"migrate\",\"uri\":\"unix:/tmp/m.sock\",\"downtime_ms\":30,"
			 "\"max_bandwidth\":1000000000,\"ratio\":0.5,\"neg\":-3,\"live\":true,"
			 "\"dry\":false}");
	ck_assert_str_eq(BUILD("/s", "x", "a=007", "b=0x10", "c=", "d=null", "e=a=b",
			       "f=\"q\"", "g=1 2", "h=[1]", "i=TRUE"),
			 "{\"cmd\":\"x\",\"a\":\"007\",\"b\":\"0x10\",\"c\":\"\",\"d\":\"null\","
			 "\"e\":\"a=b\",\"f\":\"\\\"q\\\"\",\"g\":\"1 2\",\"h\":\"[1]\","
			 "\"i\":\"TRUE\"}");
	/* Text is escaped; odd bytes cannot break the JSON. */
	ck_assert_str_eq(BUILD("/s", "x", "k\"ey=tab\there", "u=\xc3\xa9\xff"),
			 "{\"cmd\":\"x\",\"k\\\"ey\":\"tab\\there\",\"u\":\"\xc3\xa9\\ufffd\"}");
	ck_assert_str_eq(BUILD("/s", "snapshot", "id=7"), "{\"cmd\":\"snapshot\",\"id\":7}");

	ck_assert_ptr_null(BUILD("/s", "x", "novalue"));
	ck_assert_msg(strstr(err, "'novalue' is not key=value"), "%s", err);
	ck_assert_ptr_null(BUILD("/s", "x", "=v"));
	ck_assert_msg(strstr(err, "empty key"), "%s", err);
	ck_assert_ptr_null(BUILD("/s", "x", "cmd=quit"));
	ck_assert_msg(strstr(err, "the command is given as CMD"), "%s", err);
	ck_assert_ptr_null(BUILD("/s", "x", "a=1", "b=2", "a=3"));
	ck_assert_msg(strstr(err, "key 'a' given twice"), "%s", err);
	/* A key that is a prefix of another is not a duplicate. */
	ck_assert_str_eq(BUILD("/s", "x", "ab=1", "a=2"), "{\"cmd\":\"x\",\"ab\":1,\"a\":2}");
}
END_TEST

/* --wait, before PATH or after CMD: "wait":true, and no timeout unless given. */
START_TEST(test_wait)
{
	ck_assert_str_eq(BUILD("/s", "snapshot", "path=/tmp/x", "--wait"),
			 "{\"cmd\":\"snapshot\",\"path\":\"/tmp/x\",\"wait\":true}");
	ck_assert(args.wait);
	ck_assert_int_eq(args.timeout_s, 0);
	ck_assert_str_eq(BUILD("--wait", "/s", "migrate", "uri=unix:/m"),
			 "{\"cmd\":\"migrate\",\"uri\":\"unix:/m\",\"wait\":true}");
	ck_assert_str_eq(BUILD("/s", "migrate", "--wait", "uri=unix:/m"),
			 "{\"cmd\":\"migrate\",\"uri\":\"unix:/m\",\"wait\":true}");
	ck_assert_int_eq(PARSE("--timeout", "7", "/s", "snapshot", "--wait"), 0);
	ck_assert_int_eq(args.timeout_s, 7);
	/* Passed through as it is, wait=true is a JSON true too. */
	ck_assert_str_eq(BUILD("/s", "snapshot", "wait=true"),
			 "{\"cmd\":\"snapshot\",\"wait\":true}");
	ck_assert_int_eq(args.timeout_s, CTL_DEFAULT_TIMEOUT_S);
	ck_assert_ptr_null(BUILD("/s", "snapshot", "wait=false", "--wait"));
	ck_assert_msg(strstr(err, "'wait=false' and --wait"), "%s", err);
	ck_parse_fails("--wait: put", "--wait", "/s", "--json", "{}");
}
END_TEST

START_TEST(test_build_raw_json)
{
	ck_assert_str_eq(BUILD("/s", "--json", "{\"cmd\":\"status\",\"id\":1}"),
			 "{\"cmd\":\"status\",\"id\":1}");
	/* Sent as given, but on one line. */
	ck_assert_str_eq(BUILD("/s", "--json", "{\n  \"cmd\": \"status\"\r\n}\n"),
			 "{   \"cmd\": \"status\"  } ");
	/* Not even an object: vlab will say so, ctl does not second-guess. */
	ck_assert_str_eq(BUILD("/s", "--json", "[1]"), "[1]");
	ck_assert_ptr_null(BUILD("/s", "--json", "{\"cmd\":}"));
	ck_assert_msg(strstr(err, "--json: byte 7"), "%s", err);
	ck_assert_ptr_null(BUILD("/s", "--json", ""));
	ck_assert_msg(strstr(err, "--json:"), "%s", err);
}
END_TEST

/* What ctl_print_reply() makes of @json. */
static const char *printed(const char *json)
{
	static char out[4096];
	struct json_value *v = json_parse(json, strlen(json), NULL, err, sizeof(err));
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_msg(v, "%s", err);
	f = open_memstream(&buf, &len);
	ctl_print_reply(f, v);
	fclose(f);
	snprintf(out, sizeof(out), "%s", buf);
	free(buf);
	json_free(v);
	return out;
}

START_TEST(test_print_reply)
{
	ck_assert_str_eq(printed("{\"ok\":true}"), "ok\n");
	ck_assert_str_eq(printed("{\"ok\":true,\"state\":\"paused\"}"), "state: paused\n");
	ck_assert_str_eq(printed("{\"ok\":true,\"state\":\"running\",\"uptime_s\":1.25,"
				 "\"vcpus\":2,\"quirks\":false,\"vcpu_exits\":[10,20],"
				 "\"migration\":{\"state\":\"none\"},\"x\":null,\"id\":7}"),
			 "state: running\n"
			 "uptime_s: 1.25\n"
			 "vcpus: 2\n"
			 "quirks: false\n"
			 "vcpu_exits: 10, 20\n"
			 "migration:\n"
			 "  state: none\n"
			 "x: null\n"
			 "id: 7\n");
	ck_assert_str_eq(printed("{\"ok\":true,\"empty\":[],\"none\":{},"
				 "\"deep\":{\"a\":{\"b\":[1,\"two\"]}}}"),
			 "empty: []\n"
			 "none: {}\n"
			 "deep:\n"
			 "  a:\n"
			 "    b: 1, two\n");
	/* Lists of objects, and multi-line text as an indented block. */
	ck_assert_str_eq(printed("{\"ok\":true,\"devs\":[{\"name\":\"uart\",\"irq\":4},"
				 "{\"name\":\"net0\"},3],\"state\":\"/ {\\n\\tx = <1>;\\n};\\n\"}"),
			 "devs:\n"
			 "  -\n"
			 "    name: uart\n"
			 "    irq: 4\n"
			 "  -\n"
			 "    name: net0\n"
			 "  - 3\n"
			 "state:\n"
			 "  / {\n"
			 "  \tx = <1>;\n"
			 "  };\n");
}
END_TEST

/* ---- ctl_main against a scripted server ------------------------------- */

static char dir[64], path[128];

static void server_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vlab-ctl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
}

static void server_teardown(void)
{
	unlink(path);
	rmdir(dir);
}

struct script {
	int listen_fd;
	const char *reply;	/* sent after the request line; NULL: close */
	bool hang;		/* never answer (until the client gives up) */
	char request[1024];	/* what arrived */
};

static int listen_on(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	return fd;
}

static void *server_thread(void *arg)
{
	struct script *s = arg;
	size_t len = 0;
	int fd = accept(s->listen_fd, NULL, NULL);
	char c;

	if (fd < 0)
		return NULL;
	while (len + 1 < sizeof(s->request) && recv(fd, &c, 1, 0) == 1 && c != '\n')
		s->request[len++] = c;
	s->request[len] = '\0';
	if (s->hang) {
		/* Until the client hangs up. */
		while (recv(fd, &c, 1, 0) > 0)
			;
	} else if (s->reply) {
		ssize_t n = send(fd, s->reply, strlen(s->reply), MSG_NOSIGNAL);

		(void)n;
	}
	close(fd);
	return NULL;
}

/* Captured stdout and stderr of the last ctl_main() run. */
static char out_text[8192];

/* ctl_main() on argv_buf with its stdout and stderr captured into out_text. */
static int capture_main(void)
{
	char tmpl[] = "/tmp/vlab-ctl-out-XXXXXX";
	int fd = mkstemp(tmpl), save1, save2, ret;
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	unlink(tmpl);
	fflush(stdout);
	fflush(stderr);
	save1 = dup(1);
	save2 = dup(2);
	dup2(fd, 1);
	dup2(fd, 2);
	ret = ctl_main(argc_buf, argv_buf);
	fflush(stdout);
	fflush(stderr);
	dup2(save1, 1);
	dup2(save2, 2);
	close(save1);
	close(save2);
	n = pread(fd, out_text, sizeof(out_text) - 1, 0);
	out_text[n > 0 ? n : 0] = '\0';
	close(fd);
	return ret;
}

static int run_ctl(const char *first, ...)
{
	va_list ap;

	va_start(ap, first);
	set_args(first, ap);
	va_end(ap);
	return capture_main();
}

#define RUN_CTL(...) run_ctl(__VA_ARGS__, NULL)

/* One exchange with a server that plays @s: returns ctl's exit status. */
static int scripted(struct script *s, const char *first, ...)
{
	pthread_t t;
	va_list ap;
	int ret;

	s->listen_fd = listen_on(path);
	ck_assert_int_eq(pthread_create(&t, NULL, server_thread, s), 0);
	va_start(ap, first);
	set_args(first, ap);
	va_end(ap);
	ret = capture_main();
	pthread_join(t, NULL);
	close(s->listen_fd);
	unlink(path);
	return ret;
}

#define SCRIPTED(s, ...) scripted(s, __VA_ARGS__, NULL)

START_TEST(test_main_exit_status)
{
	struct script s = { .reply = "{\"ok\":true,\"state\":\"paused\",\"id\":1}\n" };

	ck_assert_int_eq(SCRIPTED(&s, path, "pause", "id=1"), CTL_EXIT_OK);
	ck_assert_str_eq(s.request, "{\"cmd\":\"pause\",\"id\":1}");
	ck_assert_str_eq(out_text, "state: paused\nid: 1\n");

	s = (struct script){ .reply = "{\"ok\":true,\"state\":\"paused\"}\n" };
	ck_assert_int_eq(SCRIPTED(&s, "--raw", path, "pause"), CTL_EXIT_OK);
	ck_assert_str_eq(out_text, "{\"ok\":true,\"state\":\"paused\"}\n");

	s = (struct script){
		.reply = "{\"ok\":false,\"error\":\"migrate is not implemented yet\"}\n",
	};
	ck_assert_int_eq(SCRIPTED(&s, path, "migrate", "uri=unix:/x"), CTL_EXIT_FAILED);
	ck_assert_str_eq(s.request, "{\"cmd\":\"migrate\",\"uri\":\"unix:/x\"}");
	ck_assert_str_eq(out_text, "vlab ctl: migrate is not implemented yet\n");

	s = (struct script){ .reply = "{\"ok\":false}\n" };
	ck_assert_int_eq(SCRIPTED(&s, path, "x"), CTL_EXIT_FAILED);

	/* Replies split or followed by more are fine: one line is read. */
	s = (struct script){ .reply = "{\"ok\":true}\n{\"ok\":false}\n" };
	ck_assert_int_eq(SCRIPTED(&s, path, "--json", "{\"cmd\":\"quit\"}"), CTL_EXIT_OK);
	ck_assert_str_eq(s.request, "{\"cmd\":\"quit\"}");
	ck_assert_str_eq(out_text, "ok\n");

	/* Nonsense from the other end is ctl's failure, not vlab's verdict. */
	s = (struct script){ .reply = "not json\n" };
	ck_assert_int_eq(SCRIPTED(&s, path, "status"), CTL_EXIT_USAGE);
	ck_assert_msg(strstr(out_text, "bad reply from vlab"), "%s", out_text);
	s = (struct script){ .reply = "{\"state\":\"running\"}\n" };
	ck_assert_int_eq(SCRIPTED(&s, path, "status"), CTL_EXIT_USAGE);
	ck_assert_msg(strstr(out_text, "no \"ok\""), "%s", out_text);
	s = (struct script){ .reply = NULL };
	ck_assert_int_eq(SCRIPTED(&s, path, "status"), CTL_EXIT_USAGE);
	ck_assert_msg(strstr(out_text, "closed the connection without replying"), "%s",
		      out_text);
	s = (struct script){ .reply = "{\"ok\":tr" };
	ck_assert_int_eq(SCRIPTED(&s, path, "status"), CTL_EXIT_USAGE);
	ck_assert_msg(strstr(out_text, "in the middle of the reply"), "%s", out_text);
}
END_TEST

START_TEST(test_main_timeout)
{
	struct script s = { .hang = true };

	ck_assert_int_eq(SCRIPTED(&s, "--timeout", "1", path, "pause"), CTL_EXIT_USAGE);
	ck_assert_msg(strstr(out_text, "no reply from vlab within 1 s"), "%s", out_text);
}
END_TEST

START_TEST(test_main_no_vlab)
{
	int fd;

	ck_assert_int_eq(RUN_CTL(path, "status"), CTL_EXIT_USAGE);
	ck_assert_msg(strstr(out_text, "no vlab is listening on "), "%s", out_text);
	/* A stale socket file from a dead vlab reads the same. */
	fd = listen_on(path);
	close(fd);
	ck_assert_int_eq(RUN_CTL(path, "status"), CTL_EXIT_USAGE);
	ck_assert_msg(strstr(out_text, "no vlab is listening on "), "%s", out_text);
	unlink(path);

	ck_assert_int_eq(RUN_CTL(path), CTL_EXIT_USAGE);
	ck_assert_msg(strstr(out_text, "missing a command"), "%s", out_text);
	ck_assert_msg(strstr(out_text, "try 'vlab ctl --help'"), "%s", out_text);
	ck_assert_int_eq(RUN_CTL(path, "x", "bad"), CTL_EXIT_USAGE);
	ck_assert_msg(strstr(out_text, "not key=value"), "%s", out_text);
	ck_assert_int_eq(RUN_CTL("--help"), CTL_EXIT_OK);
	ck_assert_msg(strstr(out_text, "usage: vlab ctl"), "%s", out_text);
}
END_TEST

static Suite *ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("args");
	TCase *tm = tcase_create("main");

	tcase_add_test(tc, test_parse_args);
	tcase_add_test(tc, test_build_request);
	tcase_add_test(tc, test_build_raw_json);
	tcase_add_test(tc, test_wait);
	tcase_add_test(tc, test_print_reply);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tm, server_setup, server_teardown);
	tcase_set_timeout(tm, 20);
	tcase_add_test(tm, test_main_exit_status);
	tcase_add_test(tm, test_main_timeout);
	tcase_add_test(tm, test_main_no_vlab);
	suite_add_tcase(s, tm);
	return s;
}

VLAB_TEST_MAIN(ctl_suite)
