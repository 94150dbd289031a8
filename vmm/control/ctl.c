// SPDX-License-Identifier: GPL-2.0
/*
 * `vlab ctl`: send one request to a running vlab's control socket and
 * show the reply (see ctl.h). The exit status carries the verdict, so
 * scripts can write `vlab ctl SOCK pause && ...`.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/control/ctl.h"

void ctl_usage(FILE *f)
{
	fprintf(f,
		"usage: vlab ctl [options] PATH CMD [key=value ...]\n"
		"       vlab ctl [options] PATH --json '{\"cmd\":...}'\n"
		"\n"
		"Send one command to the vlab started with --control PATH and print\n"
		"its reply. Values that read as JSON numbers, true or false are sent\n"
		"as such, anything else as a string. Commands: help, status, pause,\n"
		"resume, quit, migrate, migrate-cancel, snapshot, dump-state, watch\n"
		"(its JSON lines follow the first reply until count= of them or ^C).\n"
		"\n"
		"  --raw          print the reply line as received (JSON)\n"
		"  --wait         (migrate, snapshot) reply when the work has ended, with\n"
		"                 its result; sends wait=true, and waits without a\n"
		"                 timeout unless --timeout is given. Also after CMD.\n"
		"  --json TEXT    send TEXT (one JSON value) as the request\n"
		"  --timeout S    wait at most S seconds for the reply (default %d;\n"
		"                 0 waits forever)\n"
		"\n"
		"exit status: 0 the reply says ok; 1 it says why not;\n"
		"             2 bad usage, no vlab listening, no reply\n",
		CTL_DEFAULT_TIMEOUT_S);
}

#define fail(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static int parse_timeout(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 86400 * 365)
		return -1;
	*out = v;
	return 0;
}

int ctl_parse_args(int argc, char **argv, struct ctl_args *a,
		   char *err, size_t errlen)
{
	bool options = true, timeout_set = false;
	int i;

	memset(a, 0, sizeof(*a));
	a->timeout_s = CTL_DEFAULT_TIMEOUT_S;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		/* After CMD everything is an argument of the command, but --wait. */
		if (a->cmd) {
			if (!strcmp(arg, "--wait")) {
				a->wait = true;
				continue;
			}
			if (!a->kv)
				a->kv = &argv[i];
			/* A --wait among them is skipped in ctl_build_request(). */
			a->nr_kv = argc - (a->kv - argv);
			continue;
		}
		if (options && arg[0] == '-' && arg[1]) {
			if (!strcmp(arg, "--")) {
				options = false;
			} else if (!strcmp(arg, "--raw")) {
				a->raw = true;
			} else if (!strcmp(arg, "--wait")) {
				a->wait = true;
			} else if (!strcmp(arg, "--json")) {
				if (i + 1 >= argc)
					fail("--json: needs a value");
				a->json = argv[++i];
			} else if (!strncmp(arg, "--json=", 7)) {
				a->json = arg + 7;
			} else if (!strcmp(arg, "--timeout") || !strncmp(arg, "--timeout=", 10)) {
				const char *v = arg[9] == '=' ? arg + 10 : NULL;

				if (!v && i + 1 >= argc)
					fail("--timeout: needs a value");
				if (!v)
					v = argv[++i];
				if (parse_timeout(v, &a->timeout_s))
					fail("--timeout: '%s' is not a number of seconds", v);
				timeout_set = true;
			} else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
				fail("help");
			} else {
				fail("unknown option '%s'", arg);
			}
			continue;
		}
		if (!a->path) {
			a->path = arg;
			continue;
		}
		if (a->json)
			fail("--json gives the whole request; unexpected '%s'", arg);
		a->cmd = arg;
	}
	if (!a->path)
		fail("missing the control socket PATH");
	if (!a->path[0])
		fail("the control socket PATH is empty");
	if (!a->cmd && !a->json)
		fail("missing a command (status, pause, resume, quit, help, ...)");
	if (a->cmd && !a->cmd[0])
		fail("the command is empty");
	if (a->wait && a->json)
		fail("--wait: put \"wait\":true in the --json request");
	/* A migration or snapshot may take long: its end is what is awaited. */
	if (a->wait && !timeout_set)
		a->timeout_s = 0;
	return 0;
}

int ctl_build_request(const struct ctl_args *a, struct json_writer *w,
		      char *err, size_t errlen)
{
	char perr[160];
	int i, j;

	if (a->json) {
		struct json_value *v;
		size_t len = strlen(a->json), k;
		char *line;

		v = json_parse(a->json, len, NULL, perr, sizeof(perr));
		if (!v)
			fail("--json: %s", perr);
		json_free(v);
		/*
		 * Newlines can only be whitespace between tokens in valid JSON;
		 * as spaces they keep the request on its one line.
		 */
		line = strdup(a->json);
		if (!line)
			fail("out of memory");
		for (k = 0; k < len; k++)
			if (line[k] == '\n' || line[k] == '\r')
				line[k] = ' ';
		json_writer_raw(w, line, len);
		free(line);
		return json_writer_failed(w) ? (snprintf(err, errlen, "out of memory"), -1) : 0;
	}

	json_obj_begin(w);
	json_kv_string(w, "cmd", a->cmd);
	for (i = 0; i < a->nr_kv; i++) {
		const char *kv = a->kv[i], *eq = strchr(kv, '=');
		struct json_value *v;
		size_t klen;
		char *key;

		if (!strcmp(kv, "--wait"))
			continue;
		if (a->wait && !strncmp(kv, "wait=", 5))
			fail("'%s' and --wait: give one of them", kv);
		if (!eq)
			fail("'%s' is not key=value", kv);
		klen = eq - kv;
		if (!klen)
			fail("'%s' has an empty key", kv);
		if (klen == 3 && !strncmp(kv, "cmd", 3))
			fail("'%s': the command is given as CMD, not cmd=", kv);
		for (j = 0; j < i; j++) {
			if (!strncmp(a->kv[j], kv, klen + 1))
				fail("key '%.*s' given twice", (int)klen, kv);
		}
		key = strndup(kv, klen);
		if (!key)
			fail("out of memory");
		json_key(w, key);
		free(key);
		/* "2", "1.5", "true" as the types they look like; "unix:/x" as text. */
		v = json_parse(eq + 1, strlen(eq + 1), NULL, NULL, 0);
		if (v && (v->type == JSON_NUMBER || v->type == JSON_BOOL))
			json_put_value(w, v);
		else
			json_put_string(w, eq + 1);
		json_free(v);
	}
	if (a->wait)
		json_kv_bool(w, "wait", true);
	json_obj_end(w);
	if (json_writer_failed(w))
		fail("cannot encode the request (out of memory or a value that is not text)");
	return 0;
}

/* ---- printing -------------------------------------------------------- */

static bool is_scalar(const struct json_value *v)
{
	return v->type != JSON_ARRAY && v->type != JSON_OBJECT;
}

static void print_scalar(FILE *f, const struct json_value *v)
{
	switch (v->type) {
	case JSON_NULL:
		fputs("null", f);
		break;
	case JSON_BOOL:
		fputs(v->boolean ? "true" : "false", f);
		break;
	case JSON_NUMBER:
		if (v->number.is_int)
			fprintf(f, "%" PRId64, v->number.integer);
		else
			fprintf(f, "%.15g", v->number.value);
		break;
	case JSON_STRING:
		fputs(v->string.str, f);
		break;
	default:
		break;
	}
}

/* A multi-line string (dump-state) as an indented block, one line each. */
static void print_block(FILE *f, int indent, const char *s)
{
	while (*s) {
		const char *nl = strchr(s, '\n');
		int n = nl ? (int)(nl - s) : (int)strlen(s);

		fprintf(f, "%*s%.*s\n", indent, "", n, s);
		s += n + (nl ? 1 : 0);
	}
}

static void print_value(FILE *f, int indent, const struct json_value *v);

static void print_member(FILE *f, int indent, const char *key,
			 const struct json_value *v)
{
	fprintf(f, "%*s%s:", indent, "", key);
	if (v->type == JSON_STRING && strchr(v->string.str, '\n')) {
		fputc('\n', f);
		print_block(f, indent + 2, v->string.str);
		return;
	}
	if (is_scalar(v)) {
		fputc(' ', f);
		print_scalar(f, v);
		fputc('\n', f);
		return;
	}
	print_value(f, indent, v);
}

/* After "key:" for a container: inline when short and flat, else nested. */
static void print_value(FILE *f, int indent, const struct json_value *v)
{
	size_t i;
	bool flat = true;

	if (v->type == JSON_OBJECT) {
		if (!v->object.count) {
			fputs(" {}\n", f);
			return;
		}
		fputc('\n', f);
		for (i = 0; i < v->object.count; i++)
			print_member(f, indent + 2, v->object.members[i].key,
				     v->object.members[i].value);
		return;
	}
	for (i = 0; i < v->array.count; i++)
		if (!is_scalar(v->array.items[i]))
			flat = false;
	if (flat) {
		fputs(v->array.count ? " " : " []", f);
		for (i = 0; i < v->array.count; i++) {
			if (i)
				fputs(", ", f);
			print_scalar(f, v->array.items[i]);
		}
		fputc('\n', f);
		return;
	}
	fputc('\n', f);
	for (i = 0; i < v->array.count; i++) {
		const struct json_value *item = v->array.items[i];

		fprintf(f, "%*s-", indent + 2, "");
		if (is_scalar(item)) {
			fputc(' ', f);
			print_scalar(f, item);
			fputc('\n', f);
		} else {
			print_value(f, indent + 2, item);
		}
	}
}

void ctl_print_reply(FILE *f, const struct json_value *reply)
{
	bool any = false;
	size_t i;

	if (!reply || reply->type != JSON_OBJECT)
		return;
	for (i = 0; i < reply->object.count; i++) {
		const struct json_member *m = &reply->object.members[i];

		if (!strcmp(m->key, "ok"))
			continue;
		print_member(f, 0, m->key, m->value);
		any = true;
	}
	if (!any)
		fputs("ok\n", f);
}

/* ---- the connection -------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int ctl_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		fail("%s: path longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
			fail("no vlab is listening on %s", path);
		fail("%s: %s", path, strerror(e));
	}
	return fd;
}

/* Milliseconds left until @deadline for poll(); -1 is forever. */
static int ms_left(double deadline)
{
	double left;

	if (deadline <= 0)
		return -1;
	left = deadline - now_s();
	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

static int send_all(int fd, const char *buf, size_t len, double deadline,
		    char *err, size_t errlen)
{
	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n;
		int r = poll(&pfd, 1, ms_left(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			fail("vlab did not take the request in time");
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			fail("sending the request: %s", strerror(errno));
		buf += n;
		len -= n;
	}
	return 0;
}

/* One reply line (without '\n') into a malloc'ed buffer. */
static char *read_line(int fd, double deadline, int timeout_s, size_t *out_len,
		       char *err, size_t errlen)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nl;

	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int r;

		if (len == cap) {
			char *nb;

			if (cap >= CTL_REPLY_MAX) {
				snprintf(err, errlen, "reply longer than %u bytes", CTL_REPLY_MAX);
				goto fail;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		r = poll(&pfd, 1, ms_left(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			snprintf(err, errlen, "no reply from vlab within %d s", timeout_s);
			goto fail;
		}
		/*
		 * Take bytes up to the newline only: what follows is the next line
		 * of a stream (watch), which the caller copies on.
		 */
		n = recv(fd, buf + len, cap - len, MSG_DONTWAIT | MSG_PEEK);
		if (n > 0) {
			nl = memchr(buf + len, '\n', n);
			n = recv(fd, buf + len, nl ? (size_t)(nl - (buf + len)) + 1 : (size_t)n,
				 MSG_DONTWAIT);
		}
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			snprintf(err, errlen, "reading the reply: %s", strerror(errno));
			goto fail;
		}
		if (n == 0) {
			snprintf(err, errlen, "vlab closed the connection %s",
				 len ? "in the middle of the reply" : "without replying");
			goto fail;
		}
		nl = memchr(buf + len, '\n', n);
		len += n;
		if (nl) {
			*nl = '\0';
			*out_len = nl - buf;
			return buf;
		}
	}
fail:
	free(buf);
	return NULL;
}

/*
 * The rest of a stream (watch), one JSON line each, to stdout: @lines of
 * them (the request's count=; the connection stays open after), or with 0
 * until vlab closes it. A reader that went away (| head) ends it too.
 */
static int copy_stream(int fd, unsigned long lines)
{
	char buf[65536];
	unsigned long seen = 0;
	ssize_t n, i;

	fflush(stdout);
	while (!lines || seen < lines) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? CTL_EXIT_USAGE : CTL_EXIT_OK;
		/* vlab sends nothing after the last line, so a read never spans it. */
		for (i = 0; i < n; i++)
			seen += buf[i] == '\n';
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout))
			return CTL_EXIT_OK;
	}
	return CTL_EXIT_OK;
}

/* The count=N of a watch request (0: the stream does not end by itself). */
static unsigned long stream_lines(const struct ctl_args *a)
{
	int i;

	for (i = 0; i < a->nr_kv; i++)
		if (!strncmp(a->kv[i], "count=", 6))
			return strtoul(a->kv[i] + 6, NULL, 10);
	return 0;
}

int ctl_main(int argc, char **argv)
{
	struct json_limits lim = {
		.max_depth = 64,
		.max_len = CTL_REPLY_MAX,
		.max_string = CTL_REPLY_MAX,
		.max_items = 1u << 20,
	};
	const struct json_value *okv;
	struct json_value *reply = NULL;
	struct json_writer w;
	struct ctl_args a;
	char err[512], *line = NULL;
	const char *req;
	size_t req_len, line_len = 0;
	double deadline;
	int fd = -1, ret = CTL_EXIT_USAGE;
	bool ok;

	if (ctl_parse_args(argc, argv, &a, err, sizeof(err))) {
		if (!strcmp(err, "help")) {
			ctl_usage(stdout);
			return CTL_EXIT_OK;
		}
		fprintf(stderr, "vlab ctl: %s\ntry 'vlab ctl --help'\n", err);
		return CTL_EXIT_USAGE;
	}
	json_writer_init(&w);
	if (ctl_build_request(&a, &w, err, sizeof(err))) {
		fprintf(stderr, "vlab ctl: %s\n", err);
		goto out;
	}
	json_writer_raw(&w, "\n", 1);
	req = json_writer_text(&w, &req_len);
	if (!req) {
		fprintf(stderr, "vlab ctl: out of memory\n");
		goto out;
	}

	fd = ctl_connect(a.path, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "vlab ctl: %s\n", err);
		goto out;
	}
	deadline = a.timeout_s ? now_s() + a.timeout_s : 0;
	if (!send_all(fd, req, req_len, deadline, err, sizeof(err)))
		line = read_line(fd, deadline, a.timeout_s, &line_len, err, sizeof(err));
	if (!line) {
		close(fd);
		fprintf(stderr, "vlab ctl: %s: %s\n", a.path, err);
		goto out;
	}

	if (a.raw) {
		fwrite(line, 1, line_len, stdout);
		fputc('\n', stdout);
	}
	reply = json_parse(line, line_len, &lim, err, sizeof(err));
	if (!reply) {
		fprintf(stderr, "vlab ctl: bad reply from vlab: %s\n", err);
		goto out;
	}
	okv = json_object_get(reply, "ok");
	if (json_get_bool(okv, &ok)) {
		fprintf(stderr, "vlab ctl: bad reply from vlab: no \"ok\"\n");
		goto out;
	}
	if (ok) {
		if (!a.raw)
			ctl_print_reply(stdout, reply);
		ret = CTL_EXIT_OK;
		/* A stream's lines follow its first reply: pass them on as they come. */
		if (a.cmd && !strcmp(a.cmd, "watch"))
			ret = copy_stream(fd, stream_lines(&a));
	} else {
		const char *msg = json_get_string(json_object_get(reply, "error"));

		if (!a.raw)
			fprintf(stderr, "vlab ctl: %s\n", msg ? msg : "failed (no reason given)");
		ret = CTL_EXIT_FAILED;
	}
out:
	if (fd >= 0)
		close(fd);
	fflush(stdout);
	json_free(reply);
	free(line);
	json_writer_release(&w);
	return ret;
}
