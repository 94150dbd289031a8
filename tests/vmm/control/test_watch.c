// SPDX-License-Identifier: GPL-2.0
/*
 * The watch command without KVM: its options, the RAM map's downsampling,
 * one line's JSON on a fake VM (with and without a migration), and the
 * stream over a real control socket: a count that ends it, a request that
 * ends it, and a client that stops reading and gets lines skipped.
 */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "fake_vm.h"
#include "vmm/control/control.h"
#include "vmm/control/watch.h"
#include "vmm/migrate/migrate.h"

#define RAM_SIZE	(16u << 20)	/* 4096 pages */
#define PAGES		(RAM_SIZE >> 12)

static struct fake_vm fv;
static struct vcpu cpus[2];

static void setup(void)
{
	fake_vm_init(&fv, RAM_SIZE);
	memset(cpus, 0, sizeof(cpus));
	fv.cfg.kernel = "vmlinux";
	fv.cfg.mem_size = RAM_SIZE;
	fv.vm.nr_cpus = 2;
	fv.vm.cpus = cpus;
	pthread_mutex_init(&fv.vm.stop_lock, NULL);
	pthread_mutex_init(&fv.vm.pause_lock, NULL);
	pthread_cond_init(&fv.vm.pause_cond, NULL);
	fv.vm.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ck_assert_int_ge(fv.vm.stop_fd, 0);
}

static void teardown(void)
{
	close(fv.vm.stop_fd);
	fake_vm_exit(&fv);
}

static struct json_value *parse_req(const char *text)
{
	struct json_value *v = json_parse(text, strlen(text), NULL, NULL, 0);

	ck_assert_ptr_nonnull(v);
	return v;
}

/* ---- options --------------------------------------------------------- */

START_TEST(test_parse_defaults_and_values)
{
	struct json_value *req = parse_req("{\"cmd\":\"watch\"}");
	struct watch_opts o;
	char err[160];

	ck_assert_int_eq(watch_parse(req, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(o.period_ms, WATCH_PERIOD_DEFAULT_MS);
	ck_assert_uint_eq(o.cells, WATCH_CELLS_DEFAULT);
	ck_assert_uint_eq(o.count, 0);
	json_free(req);

	req = parse_req("{\"cmd\":\"watch\",\"period_ms\":1000,\"cells\":64,\"count\":3}");
	ck_assert_int_eq(watch_parse(req, &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(o.period_ms, 1000);
	ck_assert_uint_eq(o.cells, 64);
	ck_assert_uint_eq(o.count, 3);
	json_free(req);
}
END_TEST

START_TEST(test_parse_refuses_bad_values)
{
	static const char *const bad[] = {
		"{\"period_ms\":5}", "{\"period_ms\":60001}", "{\"period_ms\":-1}",
		"{\"period_ms\":1.5}", "{\"period_ms\":\"500\"}", "{\"cells\":0}",
		"{\"cells\":65537}", "{\"count\":-2}", "{\"count\":true}",
		"{\"cells\":1e99}",
	};
	struct watch_opts o;
	char err[160];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct json_value *req = parse_req(bad[i]);

		err[0] = '\0';
		ck_assert_msg(watch_parse(req, &o, err, sizeof(err)) == -1, "%s", bad[i]);
		ck_assert_msg(strstr(err, "watch: ") && strstr(err, "must be an integer"),
			      "%s: %s", bad[i], err);
		json_free(req);
	}
}
END_TEST

/* ---- downsampling ---------------------------------------------------- */

static void set_pages(unsigned long *bm, uint64_t from, uint64_t to)
{
	for (; from < to; from++)
		bm[from / 64] |= 1UL << (from % 64);
}

START_TEST(test_nr_cells)
{
	ck_assert_uint_eq(watch_nr_cells(4096, 1024), 1024);
	ck_assert_uint_eq(watch_nr_cells(100, 1024), 100);	/* a page a cell */
	ck_assert_uint_eq(watch_nr_cells(0, 1024), 0);
	ck_assert_uint_eq(watch_nr_cells(10, 0), 1);
}
END_TEST

START_TEST(test_cells_priority_and_bounds)
{
	unsigned long touched[PAGES / 64] = { 0 }, sent[PAGES / 64] = { 0 };
	unsigned long recent[PAGES / 64] = { 0 };
	struct watch_layer layers[] = { { recent, 'd' }, { sent, 's' }, { touched, 't' } };
	char map[17];

	/* 16 cells of 256 pages. */
	set_pages(touched, 0, 2048);
	set_pages(sent, 256, 1024);
	set_pages(recent, 767, 768);		/* the last page of cell 2 */
	set_pages(recent, 4095, 4096);		/* the very last page */
	watch_ram_cells(&fv.vm.mem, layers, ARRAY_SIZE(layers), map, 16);
	ck_assert_str_eq(map, "tsdstttt.......d");

	/* One page a cell: exact. */
	{
		char fine[PAGES + 1];

		watch_ram_cells(&fv.vm.mem, layers, ARRAY_SIZE(layers), fine, PAGES);
		ck_assert_int_eq(strlen(fine), PAGES);
		ck_assert_int_eq(fine[255], 't');
		ck_assert_int_eq(fine[256], 's');
		ck_assert_int_eq(fine[767], 'd');
		ck_assert_int_eq(fine[1024], 't');
		ck_assert_int_eq(fine[2048], '.');
	}
}
END_TEST

/* Cells that do not divide the pages evenly, and RAM split around the PCI hole. */
START_TEST(test_cells_uneven_and_two_regions)
{
	struct guest_mem gm = { 0 };
	uint64_t lo_pages = 3, hi_first = (4ULL << 30) >> 12;
	unsigned long *bm = calloc((hi_first + 64) / 64 + 1, sizeof(unsigned long));
	struct watch_layer layer = { bm, 'x' };
	char map[8];

	gm.nr_regions = 2;
	gm.regions[0] = (struct guest_mem_region){ .gpa = 0, .size = lo_pages << 12 };
	gm.regions[1] = (struct guest_mem_region){ .gpa = hi_first << 12, .size = 4 << 12 };
	gm.ram_size = 7 << 12;
	/* RAM page 3 (the first above 4 GiB) only: 7 pages in 3 cells [0,2) [2,4) [4,7). */
	set_pages(bm, hi_first, hi_first + 1);
	watch_ram_cells(&gm, &layer, 1, map, 3);
	ck_assert_str_eq(map, ".x.");
	/* Page 2 (below the hole) as well; the hole's own pages count for nothing. */
	set_pages(bm, 2, 3);
	set_pages(bm, 100, 200);
	watch_ram_cells(&gm, &layer, 1, map, 7);
	ck_assert_str_eq(map, "..xx...");
	free(bm);
}
END_TEST

/* ---- one line -------------------------------------------------------- */

static struct json_value *sample(struct watch *wt, uint64_t seq, uint64_t dropped)
{
	struct json_writer w;
	struct json_value *v;
	const char *text;
	char err[160];
	size_t len;

	json_writer_init(&w);
	watch_write_sample(wt, &w, seq, dropped);
	text = json_writer_text(&w, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(w.depth, 0);
	ck_assert_ptr_null(memchr(text, '\n', len));	/* one line */
	v = json_parse(text, len, &(struct json_limits){ .max_len = 1 << 22 }, err, sizeof(err));
	ck_assert_msg(v != NULL, "%s", err);
	json_writer_release(&w);
	return v;
}

static int64_t get_int(const struct json_value *v, const char *key)
{
	int64_t x = -1;

	ck_assert_msg(!json_get_int64(json_object_get(v, key), &x), "no integer %s", key);
	return x;
}

START_TEST(test_sample_without_migration)
{
	struct watch_opts o = { .period_ms = 500, .cells = 64 };
	struct watch *wt;
	struct json_value *v;
	const struct json_value *vcpus, *ram;
	const char *map;

	cpus[0].exits_by[VCPU_EXIT_IO] = 7;
	cpus[1].exits_by[VCPU_EXIT_MMIO] = 9;
	wt = watch_new(&fv.vm, &o);
	ck_assert_ptr_nonnull(wt);
	v = sample(wt, 5, 2);
	ck_assert_int_eq(get_int(v, "seq"), 5);
	ck_assert_int_eq(get_int(v, "dropped"), 2);
	ck_assert_str_eq(json_get_string(json_object_get(v, "state")), "running");
	vcpus = json_object_get(v, "vcpus");
	ck_assert_int_eq(vcpus->type, JSON_ARRAY);
	ck_assert_uint_eq(vcpus->array.count, 2);
	ck_assert_int_eq(get_int(vcpus->array.items[0], "io"), 7);
	ck_assert_int_eq(get_int(vcpus->array.items[1], "mmio"), 9);
	ck_assert_int_eq(get_int(vcpus->array.items[1], "emulation"), 0);
	ram = json_object_get(v, "ram");
	ck_assert_int_eq(get_int(ram, "pages"), PAGES);
	ck_assert_int_eq(get_int(ram, "cells"), 64);
	ck_assert_str_eq(json_get_string(json_object_get(ram, "tracking")), "none");
	map = json_get_string(json_object_get(ram, "map"));
	ck_assert_int_eq(strlen(map), 64);
	/* The fake VM's RAM was written by memset: every page touched. */
	ck_assert_int_eq(strspn(map, "t"), 64);
	/* Only what applies: no migration, no device with a watch hook. */
	ck_assert_ptr_null(json_object_get(v, "migration"));
	ck_assert_uint_eq(json_object_get(v, "devices")->array.count, 0);
	json_free(v);
	v = sample(wt, 6, 0);
	ck_assert_ptr_null(json_object_get(v, "dropped"));
	json_free(v);
	watch_free(wt);
}
END_TEST

START_TEST(test_sample_during_migration)
{
	struct watch_opts o = { .period_ms = 500, .cells = 16 };
	struct migration *m = calloc(1, sizeof(*m));
	const struct json_value *mig;
	struct json_value *v;
	struct watch *wt;

	m->vm = &fv.vm;
	m->state = MIG_ACTIVE;
	m->round = 2;
	m->round_pages = 1024;
	m->round_sent = 100;
	m->bytes_sent = 5000000;
	m->bm_words = PAGES / 64;
	m->sent_bm = calloc(m->bm_words, sizeof(unsigned long));
	m->pending_bm = calloc(m->bm_words, sizeof(unsigned long));
	set_pages(m->sent_bm, 0, 1024);
	set_pages(m->pending_bm, 2048, 3072);
	/* Sent, then found dirty again and sent again: sent wins over pending. */
	set_pages(m->sent_bm, 2048, 2304);
	fv.vm.mig = m;

	wt = watch_new(&fv.vm, &o);
	v = sample(wt, 0, 0);
	/* No dirty log to read (no KVM): the rounds' view only. */
	ck_assert_str_eq(json_get_string(json_object_get(json_object_get(v, "ram"), "tracking")),
			 "migration-rounds");
	ck_assert_str_eq(json_get_string(json_object_get(json_object_get(v, "ram"), "map")),
			 "ssssttttsrrrtttt");
	mig = json_object_get(v, "migration");
	ck_assert_ptr_nonnull(mig);
	ck_assert_str_eq(json_get_string(json_object_get(mig, "state")), "active");
	ck_assert_str_eq(json_get_string(json_object_get(mig, "phase")), "pre-copy");
	ck_assert_int_eq(get_int(mig, "round"), 2);
	ck_assert_int_eq(get_int(mig, "round_pages"), 1024);
	ck_assert_int_eq(get_int(mig, "round_sent"), 100);
	json_free(v);

	/* A local migration before its pause: the destination is mapping RAM. */
	m->local = true;
	v = sample(wt, 1, 0);
	ck_assert_str_eq(json_get_string(json_object_get(json_object_get(v, "migration"),
							 "phase")), "handing-over");
	json_free(v);

	m->stopped = true;
	v = sample(wt, 2, 0);
	ck_assert_str_eq(json_get_string(json_object_get(json_object_get(v, "migration"),
							 "phase")), "stop-and-copy");
	json_free(v);
	watch_free(wt);
	fv.vm.mig = NULL;
	free(m->sent_bm);
	free(m->pending_bm);
	free(m);
}
END_TEST

/* ---- the stream on a socket ------------------------------------------ */

static char sock_path[108];

static int connect_sock(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, sock_path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return close(fd), -1;
	return fd;
}

static void send_str(int fd, const char *s)
{
	ck_assert_int_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Everything until EOF (or 60 s), NUL-terminated; the caller frees it. */
static char *read_all(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (n == cap)
			buf = realloc(buf, (cap *= 2) + 1);
		if (poll(&p, 1, 60000) != 1)
			break;
		r = recv(fd, buf + n, cap - n, 0);
		if (r <= 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* One line (without '\n'), waiting up to 60 s. */
static void read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 60000) != 1 || recv(fd, buf + n, 1, 0) != 1)
			break;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; (s = strchr(s, '\n')); s++)
		n++;
	return n;
}

static struct {
	char *counted;		/* reply and lines of a count=3 watch */
	char bad[512];
	char status_after[8192];
	int lines_before_status;
	bool dropped_seen;
} res;

static void quit(void)
{
	char buf[256];
	int q = connect_sock();

	send_str(q, "{\"cmd\":\"quit\"}\n");
	read_line(q, buf, sizeof(buf));
	close(q);
}

static void *client_thread(void *arg)
{
	char line[1 << 16];
	size_t len, before, now;
	int fd, stable, tries;

	/* count=3: the reply, three lines, then the stream ends and so does the socket. */
	fd = connect_sock();
	send_str(fd, "{\"cmd\":\"watch\",\"period_ms\":20,\"cells\":32,\"count\":3,\"id\":1}\n");
	shutdown(fd, SHUT_WR);		/* as socat does: the stream goes on */
	res.counted = read_all(fd, &len);
	close(fd);

	fd = connect_sock();
	send_str(fd, "{\"cmd\":\"watch\",\"period_ms\":5}\n");
	read_line(fd, res.bad, sizeof(res.bad));
	close(fd);

	/* Any request ends the stream; its reply follows the last line. */
	fd = connect_sock();
	send_str(fd, "{\"cmd\":\"watch\",\"period_ms\":20,\"cells\":8}\n");
	read_line(fd, line, sizeof(line));
	read_line(fd, line, sizeof(line));
	send_str(fd, "{\"cmd\":\"status\",\"id\":\"s\"}\n");
	for (;;) {
		read_line(fd, line, sizeof(line));
		if (!line[0] || strstr(line, "\"id\":\"s\""))
			break;
		res.lines_before_status++;
	}
	snprintf(res.status_after, sizeof(res.status_after), "%s", line);
	close(fd);

	/*
	 * A client that stops reading: once its socket is full (the bytes
	 * waiting for it stop growing), vlab skips lines instead of queueing
	 * them, and the next line it gets says how many.
	 */
	fd = connect_sock();
	send_str(fd, "{\"cmd\":\"watch\",\"period_ms\":20,\"cells\":4096}\n");
	before = 0;
	for (stable = 0, tries = 0; stable < 10 && tries < 3000; tries++) {
		int q = 0;

		usleep(20000);
		ioctl(fd, FIONREAD, &q);
		now = q;
		stable = now == before && now > 0 ? stable + 1 : 0;
		before = now;
	}
	for (tries = 0; tries < 100000 && !res.dropped_seen; tries++) {
		read_line(fd, line, sizeof(line));
		if (!line[0])
			break;
		res.dropped_seen = strstr(line, "\"dropped\":") != NULL;
	}
	close(fd);
	quit();
	return NULL;
}

START_TEST(test_stream_socket)
{
	char err[256];
	pthread_t t;
	const char *p;

	snprintf(sock_path, sizeof(sock_path), "/tmp/vlab-test-watch-%d.sock", getpid());
	unlink(sock_path);
	ck_assert_msg(!control_init(&fv.vm, sock_path, err, sizeof(err)), "%s", err);
	ck_assert_int_eq(pthread_create(&t, NULL, client_thread, NULL), 0);
	ck_assert_int_eq(event_loop_run(&fv.vm.loop), 0);
	control_exit(&fv.vm);
	pthread_join(t, NULL);

	p = "{\"ok\":true,\"period_ms\":20,\"cells\":32,\"count\":3,";
	ck_assert_msg(!strncmp(res.counted, p, strlen(p)), "%s", res.counted);
	ck_assert_msg(strstr(res.counted, "\"id\":1}\n"), "%s", res.counted);
	ck_assert_int_eq(count_lines(res.counted), 4);
	p = strstr(res.counted, "\n{\"seq\":0,");
	ck_assert_msg(p && (p = strstr(p, "\n{\"seq\":1,")) && strstr(p, "\n{\"seq\":2,"),
		      "%s", res.counted);
	free(res.counted);
	ck_assert_msg(strstr(res.bad, "\"ok\":false") && strstr(res.bad, "period_ms must be"),
		      "%s", res.bad);
	ck_assert_msg(strstr(res.status_after, "\"ok\":true") &&
		      strstr(res.status_after, "\"vcpus\":2"), "%s", res.status_after);
	ck_assert(res.dropped_seen);
}
END_TEST

static Suite *watch_suite(void)
{
	Suite *s = suite_create("watch");

	vlab_tcase(s, "options", NULL, NULL, 0,
		   VLAB_TESTS(test_parse_defaults_and_values, test_parse_refuses_bad_values));
	vlab_tcase(s, "downsampling", setup, teardown, 0,
		   VLAB_TESTS(test_nr_cells, test_cells_priority_and_bounds,
			      test_cells_uneven_and_two_regions));
	vlab_tcase(s, "line", setup, teardown, 0,
		   VLAB_TESTS(test_sample_without_migration, test_sample_during_migration));
	vlab_tcase(s, "stream", setup, teardown, 180, VLAB_TESTS(test_stream_socket));
	return s;
}

VLAB_TEST_MAIN(watch_suite)
