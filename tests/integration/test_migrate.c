// SPDX-License-Identifier: GPL-2.0
/*
 * Live migration and snapshots between real vlab processes. The guest is
 * the dirty payload: it stamps pages at a set rate while it is migrated
 * and checks every page at the end (exit 0 and "payload: dirty ok" mean
 * no page was lost or stale). The fault tests prove the other half of the
 * contract: whatever goes wrong, either the source keeps the guest and
 * its payload still finishes correctly, or the destination refuses the
 * stream with a clear message and exit status 2 before running anything.
 *
 * Each test makes its own directory under /tmp for sockets, consoles,
 * logs and snapshot files, and removes it at the end. Every vlab is
 * started with PR_SET_PDEATHSIG, and a janitor process dumps the logs and
 * removes the directory when a test fails.
 */
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "check_main.h"
#include "vlab_run.h"
#include "vmm/control/json.h"
#include "vmm/migrate/migrate.h"

/* Check's limit per test, in seconds: a backstop for a stuck test, never hit by a slow one. */
#define TEST_TIMEOUT	(VLAB_SANITIZED ? 900 : 300)
#define UP_TIMEOUT	60	/* a vlab to come up, in seconds */
/* A process or a migration to finish: conditions, so only a hang waits this long. */
#define DONE_TIMEOUT	120
/* Slow enough that a 256 MiB round takes seconds: "mid-stream" is reliable. */
#define BW_SLOW		"max_bandwidth=20000000"
/* The source's error when the destination refused or died mid-stream. */
#define DEST_CLOSED	"the destination closed the stream"

/* ---- the test directory ---- */

/* A log (vlab's output whole, the end of a console); other files are passed over. */
static void dump_log(const char *path, const char *name, void *arg)
{
	size_t n = strlen(name);
	char *text;

	if (n < 5 || (strcmp(name + n - 4, ".out") && strcmp(name + n - 4, ".con")))
		return;
	text = vlab__slurp(path);
	n = strlen(text);
	fprintf(stderr, "---- %s%s:\n%s\n", name,
		n > 2000 ? " (last 2000 bytes)" : "", text + (n > 2000 ? n - 2000 : 0));
	free(text);
}

/*
 * A failed Check assertion ends the test process with _exit(), and a
 * timeout with SIGKILL: no atexit(), no teardown. So a janitor process
 * waits for the test process to go (the write end of a pipe that only it
 * holds closes), then shows the logs of a test that did not reach
 * test_end() and removes the directory. The VMs go by PR_SET_PDEATHSIG.
 */
static int janitor_fd = -1;
static pid_t janitor_pid;

static void test_begin(void)
{
	int pfd[2];
	char c;

	vlab_tdir_create("vlab-migrate");
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	fflush(NULL);
	janitor_pid = fork();
	ck_assert_int_ge(janitor_pid, 0);
	if (janitor_pid == 0) {
		/* Out of the test's process group, which Check kills at its end. */
		setpgid(0, 0);
		close(pfd[1]);
		while (read(pfd[0], &c, 1) < 0 && errno == EINTR)
			;
		if (!access(vp_tdir, F_OK)) {
			fprintf(stderr, "---- logs of the failed test (%s):\n", vp_tdir);
			usleep(200000);	/* the VMs' last words */
			vlab_dir_each(vp_tdir, dump_log, NULL);
			vlab_rm_tree(vp_tdir);
		}
		_exit(0);
	}
	close(pfd[0]);
	janitor_fd = pfd[1];
}

static void test_end(void)
{
	vp_kill_all();
	vlab_rm_tree(vp_tdir);
	close(janitor_fd);
	waitpid(janitor_pid, NULL, 0);
}

static const char *tpath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", vp_tdir, name);
	return buf;
}

#define ck_file_has(path, needle) \
	ck_assert_msg(vlab_file_has(path, needle), "%s lacks \"%s\"", path, needle)

/* ---- status ---- */

/* The status reply, as far as migration tests care. */
struct mstat {
	char vm_state[16];	/* running, paused */
	char state[16];		/* migration: none, active, completed, failed, cancelled */
	char error[256];
	char dirty_log[16];	/* bitmap, ring */
	int64_t round;
	int64_t ring_entries, ring_harvested, ring_full_exits;	/* -1: not a ring */
	double mb_sent, total_ms, downtime_ms, expected_downtime_ms;
};

static void copy_str(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s ? s : "");
}

/* `vlab ctl --raw SOCK status`, parsed; false if vlab did not answer. */
static bool get_status(struct vp *p, struct mstat *st)
{
	const struct json_value *m;
	struct json_value *v;
	char err[128];
	bool ok;

	memset(st, 0, sizeof(*st));
	if (VP_CTL(p, "--raw", "status"))
		return false;
	v = json_parse(vp_ctl_out, strcspn(vp_ctl_out, "\n"), NULL, err, sizeof(err));
	ck_assert_msg(v, "status reply is not JSON (%s): %s", err, vp_ctl_out);
	ok = json_get_bool(json_object_get(v, "ok"), &ok) == 0 && ok;
	ck_assert_msg(ok, "status failed: %s", vp_ctl_out);
	copy_str(st->vm_state, sizeof(st->vm_state), json_get_string(json_object_get(v, "state")));
	m = json_object_get(v, "migration");
	ck_assert_msg(m, "status has no \"migration\": %s", vp_ctl_out);
	copy_str(st->state, sizeof(st->state), json_get_string(json_object_get(m, "state")));
	copy_str(st->error, sizeof(st->error), json_get_string(json_object_get(m, "error")));
	copy_str(st->dirty_log, sizeof(st->dirty_log),
		 json_get_string(json_object_get(m, "dirty_log")));
	st->ring_entries = st->ring_harvested = st->ring_full_exits = -1;
	json_get_int64(json_object_get(m, "dirty_ring_entries"), &st->ring_entries);
	json_get_int64(json_object_get(m, "dirty_ring_harvested"), &st->ring_harvested);
	json_get_int64(json_object_get(m, "dirty_ring_full_exits"), &st->ring_full_exits);
	json_get_int64(json_object_get(m, "round"), &st->round);
	json_get_number(json_object_get(m, "mb_sent"), &st->mb_sent);
	json_get_number(json_object_get(m, "total_ms"), &st->total_ms);
	json_get_number(json_object_get(m, "downtime_ms"), &st->downtime_ms);
	json_get_number(json_object_get(m, "expected_downtime_ms"), &st->expected_downtime_ms);
	json_free(v);
	return true;
}

/* Poll status until the migration leaves "active"; false if vlab went away. */
static bool wait_mig_done(struct vp *p, struct mstat *st, double timeout_s)
{
	double deadline = vlab__now() + timeout_s;

	while (get_status(p, st)) {
		if (strcmp(st->state, "active"))
			return true;
		ck_assert_msg(vlab__now() < deadline, "%s: migration still active after %.0f s",
			      p->name, timeout_s);
		usleep(20000);
	}
	return false;
}

/* Poll status until at least @mb MB went out (migration still active). */
static void wait_mig_sent(struct vp *p, double mb, struct mstat *st)
{
	double deadline = vlab__now() + DONE_TIMEOUT;

	for (;;) {
		ck_assert_msg(get_status(p, st), "%s: no status reply", p->name);
		ck_assert_msg(!strcmp(st->state, "active"), "%s: migration %s (%s) before %.0f MB",
			      p->name, st->state, st->error, mb);
		if (st->mb_sent >= mb)
			return;
		ck_assert_msg(vlab__now() < deadline, "%s: %.1f MB sent after %d s", p->name,
			      st->mb_sent, DONE_TIMEOUT);
		usleep(10000);
	}
}

/*
 * Start a migration that converges slowly (the @bw cap, 1 ms downtime
 * limit) and return once it is in round 2, still active.
 */
static void migrate_to_round2_at(struct vp *src, const char *uri, const char *bw,
				 struct mstat *st)
{
	/* A backstop only: round 2 comes after ~3 s here, ~3x that under ASan and load. */
	double deadline = vlab__now() + DONE_TIMEOUT;

	ck_assert_msg(vp_migrate(src, uri, bw, "downtime_ms=1") == 0, "migrate: %s", vp_ctl_out);
	do {
		ck_assert_msg(get_status(src, st) && !strcmp(st->state, "active"),
			      "migration %s (%s) before round 2", st->state, st->error);
		ck_assert_msg(vlab__now() < deadline, "still in round %lld", (long long)st->round);
		usleep(10000);
	} while (st->round < 2);
}

static void migrate_to_round2(struct vp *src, const char *uri, struct mstat *st)
{
	migrate_to_round2_at(src, uri, "max_bandwidth=150000000", st);
}

/* ---- guests ---- */

/*
 * A source: the dirty payload with @cmdline, up and answering its socket.
 * It dirties until ck_payload_ok() asks it to check (until=request; 600 s
 * at most), so no test depends on how fast the machine migrates.
 */
static void start_source_with(struct vp *p, const char *name, const char *mem,
			      const char *cpus, const char *cmdline, const char *const extra[])
{
	const char *elf = vlab_payload("payloads/dirty.elf");
	const char *args[24] = { "--kernel", elf, "--mem", mem, "--cpus", cpus, "--cmdline" };
	char cmd[256];
	double deadline;
	int n = 8;

	snprintf(cmd, sizeof(cmd), "%s secs=600 until=request", cmdline);
	args[7] = cmd;
	while (extra && *extra && n < 23)
		args[n++] = *extra++;
	vp_start(p, name, args);
	ck_assert_msg(vp_wait_file_has(p, p->con, "dirty: ", UP_TIMEOUT), "%s did not start",
		      p->name);
	deadline = vlab__now() + UP_TIMEOUT;
	while (VP_CTL(p, "status")) {
		ck_assert_msg(!vp_ended(p) && vlab__now() < deadline,
			      "%s: control socket does not answer: %s", p->name, vp_ctl_out);
		usleep(10000);
	}
}

static void start_source(struct vp *p, const char *name, const char *mem, const char *cpus,
			 const char *cmdline)
{
	start_source_with(p, name, mem, cpus, cmdline, NULL);
}

/* A destination waiting on @uri (its RAM faulted in, about to listen). */
static void start_dest(struct vp *p, const char *name, const char *uri, const char *mem,
		       const char *cpus)
{
	vp_start(p, name, (const char *const []){ "--incoming", uri, "--mem", mem,
						  "--cpus", cpus, NULL });
}

static void wait_dest(struct vp *p)
{
	ck_assert_msg(vp_dest_waiting(p, UP_TIMEOUT), "%s is not waiting for a stream", p->name);
}

/* Ask the payload on @p to stop dirtying; it must then find every page right. */
static void ck_payload_ok(struct vp *p, double timeout_s)
{
	double deadline = vlab__now() + timeout_s;
	int st;

	/* A restored guest's socket comes up once its state is loaded: retry. */
	while (VP_CTL(p, "test-request")) {
		ck_assert_msg(!vp_ended(p) && vlab__now() < deadline,
			      "%s: test-request: %s", p->name, vp_ctl_out);
		usleep(20000);
	}
	st = vp_wait(p, timeout_s);

	ck_assert_msg(st == 0, "%s: exit status %d", p->name, st);
	ck_file_has(p->con, "dirty: 0 bad pages");
	ck_file_has(p->con, "payload: dirty ok");
}

/* A destination that must refuse: exit status 2 and @why in its log. */
static void ck_refused(struct vp *p, const char *why)
{
	int st = vp_wait(p, DONE_TIMEOUT);

	ck_assert_msg(st == 2, "%s: exit status %d, want 2", p->name, st);
	ck_file_has(p->out, "incoming migration refused: ");
	if (why)
		ck_file_has(p->out, why);
	ck_assert_msg(!vlab_file_has(p->con, "dirty"), "%s ran the guest", p->name);
}

/* The source still has the guest: running, the migration in @state, @why its error. */
static void ck_source_kept(struct vp *p, const char *state, const char *why)
{
	struct mstat st;

	ck_assert_msg(get_status(p, &st), "%s went away", p->name);
	ck_assert_str_eq(st.vm_state, "running");
	ck_assert_msg(!strcmp(st.state, state), "%s: migration %s, want %s (%s)", p->name,
		      st.state, state, st.error);
	ck_assert_msg(strstr(st.error, why), "%s: migration error \"%s\", want \"%s\"",
		      p->name, st.error, why);
	printf("  %s: migration %s: %s; guest %s\n", p->name, st.state, st.error, st.vm_state);
}

static int free_tcp_port(void)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* ---- live migration ---- */

static void live_migration(const char *uri)
{
	struct vp src, dst;
	struct mstat st, last = { .round = -1 };
	double total = 0, down = 0, mb = 0, t0;
	int rounds = 0;

	start_dest(&dst, "dst", uri, "256M", "1");
	start_source(&src, "src", "256M", "1", "rate=100");
	wait_dest(&dst);
	usleep(1000000);	/* let it dirty some 100 MB first */
	t0 = vlab__now();
	ck_assert_msg(vp_migrate(&src, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	/* The source ends at the switch-over: its last status is "active". */
	while (get_status(&src, &st))
		last = st;
	ck_assert_msg(vp_wait(&src, DONE_TIMEOUT) == 0, "source: exit status %d", src.status);
	printf("  %s: switched over in %.0f ms (seen from the test)\n", uri,
	       (vlab__now() - t0) * 1e3);
	ck_file_has(src.out, "migrated");
	ck_assert_msg(vp_migrate_done(&src, &total, &down, &mb, &rounds), "no final line");
	printf("  %s: last status JSON: state %s, round %lld, %.1f MB sent, "
	       "expected downtime %.1f ms\n", uri, last.state, (long long)last.round,
	       last.mb_sent, last.expected_downtime_ms);
	printf("  %s: done: total %.0f ms, downtime %.1f ms, %.1f MB, %d round(s)\n", uri, total,
	       down, mb, rounds);
	ck_assert_msg(rounds >= 1 && mb > 50, "implausible: %.1f MB in %d rounds", mb, rounds);
	ck_payload_ok(&dst, DONE_TIMEOUT);
	ck_file_has(dst.out, "incoming: ");
}

START_TEST(test_live_unix)
{
	char uri[128], path[96];

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	snprintf(uri, sizeof(uri), "unix:%s", tpath(path, sizeof(path), "mig.sock"));
	live_migration(uri);
	test_end();
}
END_TEST

START_TEST(test_live_tcp)
{
	char uri[64];

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	snprintf(uri, sizeof(uri), "tcp:127.0.0.1:%d", free_tcp_port());
	live_migration(uri);
	test_end();
}
END_TEST

/*
 * 20 hops, each to a fresh `vlab run --incoming`: A → B → A → ... The next
 * two destinations fault in their RAM while the guest runs, so a hop
 * costs the switch-over, not a destination's start-up.
 */
#define HOPS		20
#define HOP_AHEAD	2

struct hops {
	struct vp vps[HOPS + 1];	/* vps[0] the running source, started by the test */
	/* A destination waiting on @uri, as the source's configuration wants. */
	void (*start_dest)(struct vp *p, const char *name, const char *uri);
	/* Checks on the source of hop @hop once it has let go of the guest. */
	void (*after_hop)(struct vp *from, int hop);
	double sum, worst;		/* downtime, ms */
};

/* Move the guest in h->vps[0] through HOPS destinations; the guest ends in h->vps[HOPS]. */
static void hops_run(struct hops *h)
{
	char uris[HOPS + 1][128], name[16], path[96];
	double t0 = vlab__now(), total, down, mb;
	int i, rounds, started;

	for (i = 1; i <= HOPS; i++) {
		snprintf(name, sizeof(name), "mig-%c.sock", i % 2 ? 'B' : 'A');
		snprintf(uris[i], sizeof(uris[i]), "unix:%s", tpath(path, sizeof(path), name));
	}
	for (started = 1; started <= HOP_AHEAD; started++) {
		snprintf(name, sizeof(name), "hop%02d", started);
		h->start_dest(&h->vps[started], name, uris[started]);
	}
	h->sum = h->worst = 0;
	for (i = 1; i <= HOPS; i++) {
		struct vp *from = &h->vps[i - 1], *to = &h->vps[i];

		wait_dest(to);
		ck_assert_msg(vp_migrate(from, uris[i], NULL, NULL) == 0, "hop %d: migrate: %s", i,
			      vp_ctl_out);
		ck_assert_msg(vp_wait(from, DONE_TIMEOUT) == 0, "hop %d: %s exit status %d", i, from->name,
			      from->status);
		ck_assert_msg(vp_migrate_done(from, &total, &down, &mb, &rounds),
			      "hop %d: no final line", i);
		h->after_hop(from, i);
		h->sum += down;
		if (down > h->worst)
			h->worst = down;
		printf("  hop %2d at %5.1f s: %.0f ms, downtime %.1f ms, %.1f MB, %d round(s)\n", i,
		       vlab__now() - t0, total, down, mb, rounds);
		/* The path is free again once the last destination accepted. */
		if (started <= HOPS) {
			snprintf(name, sizeof(name), "hop%02d", started);
			h->start_dest(&h->vps[started], name, uris[started]);
			started++;
		}
		/* The guest runs here now: its control socket answers. */
		ck_assert_msg(VP_CTL(to, "status") == 0, "hop %d: %s: %s", i, to->name, vp_ctl_out);
	}
	printf("  %d hops in %.1f s: downtime mean %.1f ms, worst %.1f ms\n", HOPS,
	       vlab__now() - t0, h->sum / HOPS, h->worst);
}

static void dirty_dest(struct vp *p, const char *name, const char *uri)
{
	start_dest(p, name, uri, "256M", "1");
}

static void dirty_hopped(struct vp *from, int hop)
{
	ck_assert_msg(!vlab_file_has(from->con, "payload: dirty"),
		      "the payload ended before hop %d", hop);
}

START_TEST(test_back_and_forth)
{
	static struct hops h = { .start_dest = dirty_dest, .after_hop = dirty_hopped };

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	start_source(&h.vps[0], "hop00", "256M", "1", "rate=100");
	hops_run(&h);
	ck_payload_ok(&h.vps[HOPS], DONE_TIMEOUT);
	test_end();
}
END_TEST

/*
 * A 64 GiB guest that touched a few MiB: the first pass skips the pages
 * the host never backed (guest_mem_touched()), unread, so the whole move
 * sends a few MiB, and the destination does not fault in 64 GiB (it would
 * not fit on most test machines, twice).
 */
START_TEST(test_untouched_ram_is_free)
{
	struct vp src, dst;
	double total = 0, down = 0, mb = 0;
	char uri[128], path[96];
	unsigned long long mib = 0;
	char *log, *touched;
	int rounds = 0;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	snprintf(uri, sizeof(uri), "unix:%s", tpath(path, sizeof(path), "mig.sock"));
	start_dest(&dst, "dst", uri, "64G", "1");
	start_source(&src, "src", "64G", "1", "idle=1 fill=0");
	wait_dest(&dst);
	ck_assert_msg(vp_migrate(&src, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_assert_msg(vp_wait(&src, DONE_TIMEOUT) == 0, "source: exit status %d", src.status);
	ck_assert_msg(vp_migrate_done(&src, &total, &down, &mb, &rounds), "no final line");
	printf("  64 GiB guest: total %.0f ms, downtime %.1f ms, %.1f MB, %d round(s)\n", total,
	       down, mb, rounds);
	ck_assert_msg(mb < 64, "%.1f MB sent for a guest that touched a few MiB", mb);
	log = vlab__slurp(src.out);
	touched = log ? strstr(log, "vlab: migrate: ") : NULL;
	while (touched && sscanf(touched, "vlab: migrate: %llu of 65536 MiB of RAM ever touched",
				 &mib) != 1)
		touched = strstr(touched + 1, "vlab: migrate: ");
	ck_assert_msg(touched, "no count of the pages touched in %s", src.out);
	free(log);
	ck_assert_msg(mib < 64, "the source read %llu MiB", mib);
	ck_file_has(dst.out, "incoming: ");
	test_end();
}
END_TEST

/* ---- snapshots ---- */

START_TEST(test_snapshot_restore)
{
	struct vp src, dst;
	struct mstat st;
	char file[96], uri[128], arg[128];
	struct stat sb;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	tpath(file, sizeof(file), "snap");
	start_source(&src, "src", "256M", "1", "rate=100");
	usleep(1000000);
	snprintf(arg, sizeof(arg), "path=%s", file);
	ck_assert_msg(VP_CTL(&src, "snapshot", arg) == 0, "snapshot: %s", vp_ctl_out);
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_assert_msg(!strcmp(st.state, "completed"), "snapshot %s: %s", st.state, st.error);
	ck_assert_str_eq(st.vm_state, "running");
	printf("  snapshot (status JSON): %.1f MB, total %.0f ms, downtime %.1f ms, round %lld\n",
	       st.mb_sent, st.total_ms, st.downtime_ms, (long long)st.round);
	ck_assert_int_eq(stat(file, &sb), 0);
	ck_assert_msg(sb.st_size > 50 << 20, "snapshot is %lld bytes", (long long)sb.st_size);

	/* Both go on: the source from where it was, the copy from the snapshot point. */
	snprintf(uri, sizeof(uri), "file:%s", file);
	start_dest(&dst, "restored", uri, "256M", "1");
	ck_payload_ok(&src, DONE_TIMEOUT);
	ck_assert_msg(!vlab_file_has(src.out, "migrated"), "the source let go of its guest");
	ck_payload_ok(&dst, DONE_TIMEOUT);
	/* A snapshot restores any number of times. */
	start_dest(&dst, "restored2", uri, "256M", "1");
	ck_payload_ok(&dst, DONE_TIMEOUT);
	test_end();
}
END_TEST

/*
 * A 256M source dirtying 100 MB/s, migrating slowly (BW_SLOW) over unix:
 * to a waiting destination, with 20 MB of it sent: the moment to break it.
 */
static void migrate_under_way(struct vp *src, struct vp *dst, char *uri, size_t urilen,
			      struct mstat *st)
{
	char path[96];

	snprintf(uri, urilen, "unix:%s", tpath(path, sizeof(path), "mig.sock"));
	start_dest(dst, "dst", uri, "256M", "1");
	start_source(src, "src", "256M", "1", "rate=100");
	wait_dest(dst);
	usleep(500000);
	ck_assert_msg(vp_migrate(src, uri, BW_SLOW, NULL) == 0, "migrate: %s", vp_ctl_out);
	wait_mig_sent(src, 20, st);
}

/* ---- faults ---- */

START_TEST(test_fault_dest_killed)
{
	struct vp src, dst;
	struct mstat st;
	char uri[128];

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	migrate_under_way(&src, &dst, uri, sizeof(uri), &st);
	vp_kill(&dst);
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "failed", DEST_CLOSED);
	ck_payload_ok(&src, DONE_TIMEOUT);
	ck_file_has(src.out, "the guest keeps running here");
	test_end();
}
END_TEST

START_TEST(test_fault_source_killed)
{
	struct vp src, dst;
	struct mstat st;
	char uri[128];

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	migrate_under_way(&src, &dst, uri, sizeof(uri), &st);
	vp_kill(&src);
	ck_refused(&dst, "stream ended");
	test_end();
}
END_TEST

/* Where the records of a stream file start, by kind. */
/* Bytes after a record's header: RAM records carry a checksum per page first. */
static uint64_t rec_payload_len(const struct mig_rec *rec)
{
	switch (rec->type) {
	case MIG_REC_CONFIG:
	case MIG_REC_EARLY:
	case MIG_REC_STATE:
	case MIG_REC_MEMORY:
		return rec->len;
	case MIG_REC_RAM:
		return rec->len + (rec->len / 4096) * sizeof(uint64_t);
	default:
		return 0;
	}
}

struct stream_map {
	off_t size;
	off_t config, first_ram, state, end;	/* record header offsets */
	uint64_t ram_len, state_len;
	int nr_ram;
};

static void map_stream(const char *file, struct stream_map *m)
{
	int fd = open(file, O_RDONLY);
	struct mig_rec rec;
	off_t off = 16;
	struct stat sb;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	memset(m, 0, sizeof(*m));
	m->size = sb.st_size;
	while (pread(fd, &rec, sizeof(rec), off) == sizeof(rec)) {
		switch (rec.type) {
		case MIG_REC_CONFIG:
			m->config = off;
			break;
		case MIG_REC_RAM:
			if (!m->nr_ram++) {
				m->first_ram = off;
				m->ram_len = rec.len;
			}
			break;
		case MIG_REC_STATE:
			m->state = off;
			m->state_len = rec.len;
			break;
		case MIG_REC_END:
			m->end = off;
			break;
		}
		off += sizeof(rec) + rec_payload_len(&rec);
	}
	close(fd);
	ck_assert_msg(m->config && m->first_ram && m->state && m->end &&
		      m->end + (off_t)sizeof(rec) == m->size,
		      "unexpected stream layout: config %lld ram %lld state %lld end %lld "
		      "size %lld",
		      (long long)m->config, (long long)m->first_ram, (long long)m->state,
		      (long long)m->end, (long long)m->size);
}

/* A snapshot of a small dirty guest at @file, checked to restore fine. */
static void make_snapshot(const char *file, struct stream_map *m)
{
	struct vp src, dst;
	struct mstat st;
	char arg[128], uri[128];

	start_source(&src, "src", "64M", "1", "rate=50");
	usleep(500000);
	snprintf(arg, sizeof(arg), "path=%s", file);
	ck_assert_msg(VP_CTL(&src, "snapshot", arg) == 0, "snapshot: %s", vp_ctl_out);
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_assert_msg(!strcmp(st.state, "completed"), "snapshot %s: %s", st.state, st.error);
	vp_kill(&src);
	map_stream(file, m);
	printf("  snapshot: %lld bytes, %d RAM records, state record %llu bytes\n",
	       (long long)m->size, m->nr_ram, (unsigned long long)m->state_len);
	snprintf(uri, sizeof(uri), "file:%s", file);
	start_dest(&dst, "intact", uri, "64M", "1");
	ck_payload_ok(&dst, DONE_TIMEOUT);
}

/* Restore @file into a fresh vlab (64M, @cpus): it must refuse, saying @why. */
static void restore_refused(const char *name, const char *file, const char *mem,
			    const char *why)
{
	struct vp dst, *p = &dst;	/* vp_procs keeps a copy for the janitor */
	char uri[128];

	snprintf(uri, sizeof(uri), "file:%s", file);
	start_dest(p, name, uri, mem, "1");
	ck_refused(p, why);
	{
		char *out = vlab__slurp(p->out), *line = strstr(out, "incoming migration refused");

		printf("  %-22s %.*s\n", name, (int)strcspn(line, "\n"), line);
		free(out);
	}
}

#define NO_END_MARKER	\
	"stream ended before its end marker: the source stopped or the file is truncated"
#define IN_RECORD	"stream ended inside a record: truncated"
#define IN_HEADER	"not a vlab migration stream (it ends inside the 16-byte header)"

START_TEST(test_fault_truncated)
{
	struct stream_map m;
	char file[96];
	const struct {
		const char *name;
		off_t at;
		const char *why;
	} *c, cuts[] = {
		/* Longest first: each cut shortens the same file further. */
		{ "cut-before-end", 0, NO_END_MARKER },
		{ "cut-in-state", 0, IN_RECORD },
		{ "cut-in-ram-payload", 0, IN_RECORD },
		{ "cut-in-ram-header", 0, NO_END_MARKER },
		{ "cut-in-config", 0, IN_RECORD },
		{ "cut-after-header", 16, NO_END_MARKER },
		{ "cut-in-header", 11, IN_HEADER },
		{ "cut-in-magic", 3, IN_HEADER },
		{ "empty", 0, IN_HEADER },
	};
	off_t at[9];
	unsigned int i;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	tpath(file, sizeof(file), "snap");
	make_snapshot(file, &m);
	at[0] = m.end;
	at[1] = m.state + sizeof(struct mig_rec) + m.state_len / 2;
	at[2] = m.first_ram + sizeof(struct mig_rec) + m.ram_len / 2 + 1;
	at[3] = m.first_ram + 20;
	at[4] = m.config + sizeof(struct mig_rec) + 3;
	for (i = 5; i < 9; i++)
		at[i] = cuts[i].at;
	for (i = 0; i < 9; i++) {
		c = &cuts[i];
		ck_assert_int_eq(truncate(file, at[i]), 0);
		restore_refused(c->name, file, "64M", c->why);
	}
	test_end();
}
END_TEST

/* Flip one byte of @file at @off (again to undo it). */
static void flip(const char *file, off_t off)
{
	int fd = open(file, O_RDWR);
	uint8_t b;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x5a;
	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* Rewrite the record header at @off with @type and @addr and a valid header checksum. */
static void forge(const char *file, off_t off, uint32_t type, uint64_t addr, struct mig_rec *save)
{
	int fd = open(file, O_RDWR);
	struct mig_rec rec;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &rec, sizeof(rec), off), sizeof(rec));
	if (save)
		*save = rec;
	rec.type = type;
	rec.addr = addr;
	rec.hcsum = mig_csum(&rec, offsetof(struct mig_rec, hcsum), 0);
	ck_assert_int_eq(pwrite(fd, &rec, sizeof(rec), off), sizeof(rec));
	close(fd);
}

static void unforge(const char *file, off_t off, const struct mig_rec *rec)
{
	int fd = open(file, O_RDWR);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, rec, sizeof(*rec), off), sizeof(*rec));
	close(fd);
}

START_TEST(test_fault_corrupt)
{
	struct stream_map m;
	struct mig_rec saved;
	char file[96];
	const struct {
		const char *name;
		off_t at;
		const char *why;
	} *c, flips[] = {
		{ "magic", 2, "not a vlab migration stream (no VLABMIG1 magic)" },
		{ "version", 8, "stream version" },
		{ "config-header", 0, "bad record header checksum" },
		{ "config-payload", 0, "bad checksum in a configuration record" },
		{ "ram-header-addr", 0, "bad record header checksum" },
		{ "ram-page-sums", 0, "bad checksum in a RAM record" },
		{ "ram-payload", 0, "1 page(s) of RAM failed their checksum and were not sent again" },
		{ "ram-payload-end", 0, "1 page(s) of RAM failed their checksum" },
		{ "state-header-len", 0, "bad record header checksum" },
		{ "state-payload", 0, "bad checksum in a state record" },
		{ "end-header", 0, "bad record header checksum" },
	};
	const off_t rec = sizeof(struct mig_rec);
	off_t at[11], sums;
	unsigned int i;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	tpath(file, sizeof(file), "snap");
	make_snapshot(file, &m);
	at[0] = flips[0].at;
	at[1] = flips[1].at;
	at[2] = m.config + 17;
	at[3] = m.config + rec + 40;
	sums = m.ram_len / 4096 * sizeof(uint64_t);
	at[4] = m.first_ram + 9;
	at[5] = m.first_ram + rec + 1;		/* in the first page checksum */
	at[6] = m.first_ram + rec + sums + m.ram_len / 2;
	at[7] = m.first_ram + rec + sums + m.ram_len - 1;
	at[8] = m.state + 16;
	at[9] = m.state + rec + m.state_len / 2;
	at[10] = m.end;
	for (i = 0; i < 11; i++) {
		c = &flips[i];
		flip(file, at[i]);
		restore_refused(c->name, file, "64M", c->why);
		flip(file, at[i]);
	}
	/* Well-formed records that make no sense are refused too. */
	forge(file, m.first_ram, MIG_REC_RAM, 1ULL << 40, &saved);
	restore_refused("ram-outside-guest", file, "64M", "outside guest RAM");
	unforge(file, m.first_ram, &saved);
	forge(file, m.first_ram, 77, saved.addr, NULL);
	restore_refused("unknown-record", file, "64M", "record type 77");
	unforge(file, m.first_ram, &saved);
	/* A snapshot of another configuration. */
	restore_refused("other-mem", file, "128M", "configuration mismatch");
	test_end();
}
END_TEST


/* The payload's last "net_dma: F frames, ..." line on @p's console; false if none. */
static bool dma_report(struct vp *p, unsigned int *stale, unsigned int *bad)
{
	unsigned long frames = 0, nbad = 0, lost = 0;
	unsigned int nstale = 0, filled = 0;
	char *con = vlab__slurp(p->con);
	const char *s;

	for (s = strstr(con, "net_dma: "); s; s = strstr(s + 1, "net_dma: "))
		if (sscanf(s, "net_dma: %lu frames, %lu bad, %lu lost, %u of %u buffers stale",
			   &frames, &nbad, &lost, &nstale, &filled) == 5)
			break;
	if (s)
		printf("  %s: %lu frames, %lu bad, %lu lost, %u of %u buffers stale; "
		       "exit status %d\n", p->name, frames, nbad, lost, nstale, filled, p->status);
	free(con);
	*stale = nstale;
	*bad = (unsigned int)nbad;
	return s;
}

/* Ask @p's net_dma guest for its report (value 2) and wait for its exit status. */
static int dma_finish(struct vp *p, unsigned int *stale, unsigned int *bad)
{
	double deadline = vlab__now() + DONE_TIMEOUT;
	int st;

	while (!vp_ended(p) && VP_CTL(p, "test-request", "value=2")) {
		ck_assert_msg(vlab__now() < deadline, "%s: test-request: %s", p->name, vp_ctl_out);
		usleep(20000);
	}
	st = vp_wait(p, DONE_TIMEOUT);
	ck_assert_msg(dma_report(p, stale, bad), "%s did not report its buffers", p->name);
	ck_assert_msg(st || vlab_file_has(p->con, "payload: net_dma ok"),
		      "%s: exit 0 without \"ok\"", p->name);
	return st;
}

/*
 * The net_dma guest (frames to itself through a loop backend, every
 * receive buffer's last frame remembered) migrated under @opt @spec. The
 * buffers go out in round 0 with no frame in flight; pre-copy is held in
 * round 2 by the guest's ballast writes while its NIC writes every buffer
 * again (two laps, which the guest takes without reading a byte of them);
 * then the guest goes quiet, the migration
 * converges, and the guest at the destination checks that every buffer
 * holds a frame sent after the laps began. Returns its exit status.
 */
static int dma_migration(const char *what, const char *opt, const char *spec,
			 const char *ring, unsigned int *stale, unsigned int *bad)
{
	const char *elf = vlab_payload("payloads/net_dma.elf");
	char uri[128], sname[32], dname[32], cmd[96];
	struct vp src, dst;
	struct mstat mst;
	int st;

	snprintf(uri, sizeof(uri), "unix:%s/mig-%s.sock", vp_tdir, what);
	snprintf(sname, sizeof(sname), "%s-src", what);
	snprintf(dname, sizeof(dname), "%s-dst", what);
	snprintf(cmd, sizeof(cmd), "until=request ballast=4096 ring=%s", ring);
	vp_start(&src, sname, (const char *const []){ "--kernel", elf, "--mem", "64M", opt, spec,
						   "--cmdline", cmd, NULL });
	vp_start(&dst, dname, (const char *const []){ "--incoming", uri, "--mem", "64M", opt,
						   spec, NULL });
	ck_assert_msg(vp_wait_file_has(&src, src.con, "every buffer written", UP_TIMEOUT),
		      "%s did not fill its buffers", sname);
	wait_dest(&dst);
	/* 20 MB/s against a 16 MiB ballast: no convergence before the guest goes quiet. */
	migrate_to_round2_at(&src, uri, BW_SLOW, &mst);
	ck_assert_msg(VP_CTL(&src, "test-request", "value=1") == 0, "%s: test-request: %s", sname,
		      vp_ctl_out);
	/*
	 * The source ends at the switch-over; a migration that ends otherwise
	 * failed. "completed" may still be read in the moment before it exits
	 * (a slow machine, or a sanitizer build, widens that moment).
	 */
	if (wait_mig_done(&src, &mst, DONE_TIMEOUT))
		ck_assert_msg(!strcmp(mst.state, "completed"), "%s: migration %s: %s", what,
			      mst.state, mst.error);
	ck_assert_msg(vp_wait(&src, DONE_TIMEOUT) == 0, "%s: source exit status %d", what, src.status);
	ck_file_has(src.out, "migrated");
	st = dma_finish(&dst, stale, bad);
	/*
	 * The ballast holds pre-copy until the guest is quiet, unless a starved
	 * vCPU writes it slower than the migration sends (a loaded machine): then
	 * the switch-over comes first and the guest says so at the destination.
	 */
	ck_assert_msg(vlab_file_has(src.con, "net_dma: quiet after") ||
		      vlab_file_has(dst.con, "net_dma: quiet after"),
		      "%s: the guest never went quiet", what);
	return st;
}

/*
 * Why a passthrough vDPA NIC blocks migration, shown: with the test-only
 * unsafe-migrate switch the migration goes ahead (device suspended, ring
 * bases carried, device started again at the destination), but the
 * device's writes into guest memory are never in the dirty log: the
 * guest at the destination finds every receive buffer back at the
 * contents round 0 sent, older than frames the device had acknowledged.
 * (A page the device writes while a round sends it is caught by the
 * destination's page checksums instead, and the stream refused: the
 * laps run after round 0 so that this test shows the silent loss.)
 * The same guest on the emulated virtio-net NIC, whose writes are
 * tracked, migrates with every buffer right: the check itself is sound.
 */
START_TEST(test_vdpa_unsafe_migrate_loses_pages)
{
	unsigned int stale, bad;
	int st;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	st = dma_migration("virtio-net", "--net", "loop", "split", &stale, &bad);
	ck_assert_msg(st == 0 && stale == 0 && bad == 0,
		      "virtio-net: %u stale buffers, %u bad frames, exit status %d", stale, bad,
		      st);
	st = dma_migration("vdpa", "--vdpa", "loop,fw-scale=0,unsafe-migrate", "split", &stale,
			   &bad);
	ck_assert_msg(stale == 256, "vdpa: %u stale buffers after an untracked migration, want "
		      "all 256 (%u bad frames, exit status %d)", stale, bad, st);
	ck_assert_msg(st == 1, "vdpa: exit status %d, want 1 (the payload's verdict)", st);
	test_end();
}
END_TEST

/*
 * A vDPA NIC migrates through shadow virtqueues: the same guest and
 * schedule as test_vdpa_unsafe_migrate_loses_pages, without the unsafe
 * switch. The laps run on the shadow rings, every buffer the device wrote
 * is in the dirty log, and the destination finds all of them right.
 * Split and packed rings; with the shadow rings in an address space of
 * their own (DESC_ASID, the default) the switch leaves guest RAM's map
 * alone, without (no-desc-asid) it is rebuilt once; the destination maps
 * guest RAM at start-up, not at the switch-over (unless late-map). And
 * with IN_ORDER negotiated, split and packed: the guest's ring, the shadow
 * and the device all in order (the log says the guest has it). Shadowed
 * queues run on a thread per queue pair, or all on one (svq-threads=one),
 * and kick the device by its doorbell, or by eventfd (no-doorbell). The
 * destination starts its device during pre-copy from the early state and
 * only resumes it at the switch-over (unless no-ahead).
 */
START_TEST(test_vdpa_svq_migration)
{
	static const struct {
		const char *what, *spec, *ring, *rebuilt, *mapped;
	} runs[] = {
		/*
		 * Shadow rings in their own address space: guest RAM's map
		 * untouched; the destination mapped guest RAM at start-up.
		 */
		{ "svq-split", "loop,fw-scale=0", "split",
		  "guest RAM's map rebuilt 0 time(s), kicks by doorbell",
		  "(prepared during pre-copy: resumed)" },
		{ "svq-packed", "loop,fw-scale=0", "packed", "guest RAM's map rebuilt 0 time(s)",
		  "(prepared during pre-copy: resumed)" },
		/* Every shadowed queue on the one thread with the CVQ, not a thread per pair. */
		{ "svq-one-thread", "loop,fw-scale=0,svq-threads=one", "split",
		  "guest RAM's map rebuilt 0 time(s), kicks by doorbell",
		  "(prepared during pre-copy: resumed)" },
		/* The device kicked through its eventfd, not its notify area. */
		{ "svq-eventfd", "loop,fw-scale=0,no-doorbell,no-ahead", "packed",
		  "guest RAM's map rebuilt 0 time(s), kicks by eventfd",
		  "(guest RAM mapped at start-up)" },
		/* Without: they join guest RAM's space, whose map is built again. */
		{ "svq-one-as", "loop,fw-scale=0,no-desc-asid,late-map,no-ahead", "split",
		  "guest RAM's map rebuilt 1 time(s)", "(guest RAM mapped now)" },
		/* IN_ORDER (model=full offers it): the shadow ring is in order too. */
		{ "svq-in-order", "loop,model=full,fw-scale=0", "split feat_add=0x800000000",
		  "guest RAM's map rebuilt 0 time(s)", "(prepared during pre-copy: resumed)" },
		{ "svq-packed-in-order", "loop,model=full,fw-scale=0",
		  "packed feat_add=0x800000000", "guest RAM's map rebuilt 0 time(s)",
		  "(prepared during pre-copy: resumed)" },
	};
	unsigned int stale, bad, i;
	char out[96], name[48];
	int st;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		st = dma_migration(runs[i].what, "--vdpa", runs[i].spec, runs[i].ring, &stale, &bad);
		ck_assert_msg(st == 0 && stale == 0 && bad == 0,
			      "%s: %u stale buffers, %u bad frames, exit status %d", runs[i].what,
			      stale, bad, st);
		snprintf(name, sizeof(name), "%s-src.out", runs[i].what);
		tpath(out, sizeof(out), name);
		ck_file_has(out, "vdpa: data queues through shadow virtqueues");
		ck_file_has(out, runs[i].rebuilt);
		snprintf(name, sizeof(name), "%s-dst.out", runs[i].what);
		tpath(out, sizeof(out), name);
		ck_file_has(out, runs[i].mapped);
		if (strstr(runs[i].ring, "feat_add")) {
			snprintf(name, sizeof(name), "%s-src.con", runs[i].what);
			tpath(out, sizeof(out), name);
			ck_file_has(out, " ring in order, ");
		}
	}
	test_end();
}
END_TEST

/*
 * migrate-cancel at several moments while frames stream through a vDPA
 * NIC: right after the start (the switch to shadow virtqueues may not
 * have happened yet), during round 0, and in round 2 (shadowed for a
 * while). Each cancel puts the data path back in passthrough with what
 * was in flight handed back to the guest: the guest, reading every frame,
 * sees none twice and none out of order, and the traffic goes on.
 */
START_TEST(test_vdpa_svq_cancel)
{
	const char *elf = vlab_payload("payloads/net_dma.elf");
	static const char *const moments[] = { "now", "round0", "round2" };
	char uri[128], path[96], name[32];
	unsigned int stale, bad, i;
	struct vp src, dst;
	struct mstat st;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	snprintf(uri, sizeof(uri), "unix:%s", tpath(path, sizeof(path), "mig.sock"));
	vp_start(&src, "src", (const char *const []){ "--kernel", elf, "--mem", "64M", "--vdpa",
						  "loop,fw-scale=0", "--cmdline",
						  "until=request stream=1 ballast=1024", NULL });
	ck_assert_msg(vp_wait_file_has(&src, src.con, "streaming until asked", UP_TIMEOUT),
		      "src did not start");
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "dst-%s", moments[i]);
		vp_start(&dst, name, (const char *const []){ "--incoming", uri, "--mem", "64M",
							  "--vdpa", "loop,fw-scale=0", NULL });
		wait_dest(&dst);
		/*
		 * 20 MB/s against the ballast's few MB a round: expected
		 * downtime stays far above 1 ms, so it cannot converge
		 * before the cancel, however slow the machine.
		 */
		if (i == 2) {
			migrate_to_round2_at(&src, uri, BW_SLOW, &st);
		} else {
			ck_assert_msg(vp_migrate(&src, uri, BW_SLOW, "downtime_ms=1") == 0,
				      "migrate: %s", vp_ctl_out);
			if (i == 1)
				wait_mig_sent(&src, 1, &st);
		}
		ck_assert_msg(VP_CTL(&src, "migrate-cancel") == 0, "migrate-cancel: %s",
			      vp_ctl_out);
		ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
		ck_source_kept(&src, "cancelled", "cancelled");
		ck_assert_int_ne(vp_wait(&dst, 10), 0);
		usleep(200000);
	}
	ck_assert_msg(VP_CTL(&src, "test-request", "value=1") == 0, "test-request: %s",
		      vp_ctl_out);
	ck_assert_msg(dma_finish(&src, &stale, &bad) == 0 && !bad && !stale,
		      "src: %u stale, %u bad", stale, bad);
	ck_file_has(src.out, "vdpa: data queues back in passthrough");
	test_end();
}
END_TEST

/*
 * 20 hops of a guest whose frames stream through a vDPA NIC (A -> B -> A
 * ...), each through the shadow virtqueues and a fresh device programmed
 * from the carried ring bases and the replayed control state. The guest
 * reads every frame: none twice, none out of order over all the hops
 * (frames in a loop backend's queue at a switch are lost, and counted);
 * at the end two laps leave no buffer stale.
 */
static void vdpa_dest(struct vp *p, const char *name, const char *uri)
{
	vp_start(p, name, (const char *const []){ "--incoming", uri, "--mem", "64M", "--vdpa",
						  "loop,fw-scale=0", NULL });
}

static void vdpa_hopped(struct vp *from, int hop)
{
	ck_file_has(from->out, "vdpa: data queues through shadow virtqueues");
}

START_TEST(test_vdpa_back_and_forth)
{
	const char *elf = vlab_payload("payloads/net_dma.elf");
	static struct hops h = { .start_dest = vdpa_dest, .after_hop = vdpa_hopped };
	unsigned int stale, bad;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	vp_start(&h.vps[0], "hop00", (const char *const []){ "--kernel", elf, "--mem", "64M",
							     "--vdpa", "loop,fw-scale=0", "--cmdline",
							     "until=request stream=1", NULL });
	ck_assert_msg(vp_wait_file_has(&h.vps[0], h.vps[0].con, "streaming until asked",
				       UP_TIMEOUT), "hop00 did not start");
	hops_run(&h);
	ck_assert_msg(VP_CTL(&h.vps[HOPS], "test-request", "value=1") == 0, "test-request: %s",
		      vp_ctl_out);
	ck_assert_msg(dma_finish(&h.vps[HOPS], &stale, &bad) == 0 && !bad && !stale,
		      "after %d hops: %u stale, %u bad", HOPS, stale, bad);
	test_end();
}
END_TEST

/*
 * The destination starts its vDPA device during pre-copy from the early
 * state, and at the switch-over only resumes it if the rings and control
 * state are still those. Here the streaming guest adds a VLAN after every
 * batch of frames, so the control state at the switch-over is not the
 * early one: the destination must see it, program the device again with
 * the final state replayed, and the guest must find every frame right.
 */
START_TEST(test_vdpa_ahead_control_changed)
{
	const char *elf = vlab_payload("payloads/net_dma.elf");
	unsigned int stale, bad;
	char uri[128], path[96];
	struct vp src, dst;
	struct mstat st;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	snprintf(uri, sizeof(uri), "unix:%s", tpath(path, sizeof(path), "mig.sock"));
	vp_start(&src, "src", (const char *const []){ "--kernel", elf, "--mem", "64M", "--vdpa",
						  "loop,fw-scale=0", "--cmdline",
						  "until=request stream=1 cvq_churn=1 ballast=1024",
						  NULL });
	ck_assert_msg(vp_wait_file_has(&src, src.con, "streaming until asked", UP_TIMEOUT),
		      "src did not start");
	vp_start(&dst, "dst", (const char *const []){ "--incoming", uri, "--mem", "64M", "--vdpa",
						  "loop,fw-scale=0", NULL });
	wait_dest(&dst);
	migrate_to_round2_at(&src, uri, BW_SLOW, &st);
	ck_assert_msg(VP_CTL(&src, "test-request", "value=1") == 0, "test-request: %s", vp_ctl_out);
	if (wait_mig_done(&src, &st, DONE_TIMEOUT))
		ck_assert_msg(!strcmp(st.state, "completed"), "migration %s: %s", st.state,
			      st.error);
	ck_assert_msg(vp_wait(&src, DONE_TIMEOUT) == 0, "source exit status %d", src.status);
	ck_assert_msg(dma_finish(&dst, &stale, &bad) == 0 && !stale && !bad,
		      "dst: %u stale, %u bad", stale, bad);
	ck_file_has(dst.out, "device prepared ahead from the early state");
	ck_file_has(dst.out, "the guest changed its control state since the early state");
	ck_assert(!vlab_file_has(dst.out, "prepared during pre-copy: resumed"));
	test_end();
}
END_TEST

/*
 * The device-state half of the same path, where memory is consistent: a
 * snapshot (guest paused, device suspended, all of RAM in one pass) of
 * the net_dma guest on --vdpa ... unsafe-migrate, with every receive
 * buffer used twice and the rings' indices far from 0, on a MAC address
 * of its own with promiscuous mode off. The source resumes and the
 * snapshot restores into a new vlab: each runs two more laps of traffic
 * on the device, which must start at the carried ring bases (or it would
 * redo or skip buffers) with the MAC and RX mode replayed into it through
 * the control queue (or it would drop every frame), and finds every frame
 * and buffer right.
 */
START_TEST(test_vdpa_snapshot_restore)
{
	const char *elf = vlab_payload("payloads/net_dma.elf");
	const char *spec = "loop,model=full,fw-scale=0,unsafe-migrate";
	char file[96], arg[128], uri[128];
	unsigned int stale, bad;
	struct vp src, dst;
	struct mstat st;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	tpath(file, sizeof(file), "vdpa.snap");
	vp_start(&src, "src", (const char *const []){ "--kernel", elf, "--mem", "64M", "--vdpa",
						  spec, "--cmdline", "until=request setmac=1", NULL });
	ck_assert_msg(vp_wait_file_has(&src, src.con, "every buffer written", UP_TIMEOUT),
		      "src did not fill its buffers");
	snprintf(arg, sizeof(arg), "path=%s", file);
	ck_assert_msg(VP_CTL(&src, "snapshot", arg) == 0, "snapshot: %s", vp_ctl_out);
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_assert_msg(!strcmp(st.state, "completed"), "snapshot %s: %s", st.state, st.error);
	snprintf(uri, sizeof(uri), "file:%s", file);
	vp_start(&dst, "dst", (const char *const []){ "--incoming", uri, "--mem", "64M", "--vdpa",
						  spec, NULL });
	ck_assert_msg(VP_CTL(&src, "test-request", "value=1") == 0, "test-request: %s", vp_ctl_out);
	ck_assert_msg(dma_finish(&src, &stale, &bad) == 0, "src: %u stale, %u bad", stale, bad);
	while (VP_CTL(&dst, "test-request", "value=1")) {
		ck_assert_msg(!vp_ended(&dst), "dst: test-request: %s", vp_ctl_out);
		usleep(20000);
	}
	ck_assert_msg(vp_wait_file_has(&dst, dst.con, "net_dma: quiet after", DONE_TIMEOUT),
		      "dst: no traffic after the restore");
	ck_assert_msg(dma_finish(&dst, &stale, &bad) == 0, "dst: %u stale, %u bad", stale, bad);
	ck_file_has(dst.out, "2 control command(s) replayed into the device");
	test_end();
}
END_TEST

START_TEST(test_fault_config_mismatch)
{
	struct vp src, dst;
	struct mstat st;
	char uri[128], path[96];

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	snprintf(uri, sizeof(uri), "unix:%s", tpath(path, sizeof(path), "mig.sock"));
	start_source(&src, "src", "256M", "1", "rate=100");

	start_dest(&dst, "dst-mem", uri, "128M", "1");
	wait_dest(&dst);
	ck_assert_msg(vp_migrate(&src, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_refused(&dst, "configuration mismatch: the source has --mem 256M, this vlab 128M");
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "failed", DEST_CLOSED);

	start_dest(&dst, "dst-cpus", uri, "256M", "2");
	wait_dest(&dst);
	ck_assert_msg(vp_migrate(&src, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_refused(&dst, "configuration mismatch: the source has --cpus 1, this vlab 2");
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "failed", DEST_CLOSED);

	/* Devices are compared kind by kind, whatever kinds this vlab has. */
	vp_start(&dst, "dst-net", (const char *const []){ "--incoming", uri, "--mem", "256M",
							  "--net", "null", NULL });
	wait_dest(&dst);
	ck_assert_msg(vp_migrate(&src, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_refused(&dst, "configuration mismatch: the source has 0 --net, this vlab 1");
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "failed", DEST_CLOSED);

	ck_payload_ok(&src, DONE_TIMEOUT);
	test_end();
}
END_TEST

/* Cancel at several moments; the guest stays, and then migrates for real. */
START_TEST(test_fault_cancel)
{
	struct vp src, dst;
	struct mstat st;
	char uri[128], path[96];

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	snprintf(uri, sizeof(uri), "unix:%s", tpath(path, sizeof(path), "mig.sock"));
	start_source(&src, "src", "256M", "1", "rate=100");

	/* Immediately. */
	start_dest(&dst, "dst-now", uri, "256M", "1");
	wait_dest(&dst);
	ck_assert_msg(vp_migrate(&src, uri, BW_SLOW, NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_assert_msg(VP_CTL(&src, "migrate-cancel") == 0, "migrate-cancel: %s", vp_ctl_out);
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "cancelled", "cancelled");
	ck_assert_int_ne(vp_wait(&dst, 10), 0);

	/* In the middle of round 0. */
	start_dest(&dst, "dst-round0", uri, "256M", "1");
	wait_dest(&dst);
	ck_assert_msg(vp_migrate(&src, uri, BW_SLOW, NULL) == 0, "migrate: %s", vp_ctl_out);
	wait_mig_sent(&src, 15, &st);
	ck_assert_msg(VP_CTL(&src, "migrate-cancel") == 0, "migrate-cancel: %s", vp_ctl_out);
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "cancelled", "cancelled");
	ck_assert_int_ne(vp_wait(&dst, 10), 0);

	/* In a later round: 150 MB/s against 100 MB/s of dirtying converges slowly. */
	start_dest(&dst, "dst-round2", uri, "256M", "1");
	wait_dest(&dst);
	migrate_to_round2(&src, uri, &st);
	ck_assert_msg(VP_CTL(&src, "migrate-cancel") == 0, "migrate-cancel: %s", vp_ctl_out);
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "cancelled", "cancelled");
	ck_assert_int_ne(vp_wait(&dst, 10), 0);

	/* Nothing to cancel now. */
	ck_assert_int_eq(VP_CTL(&src, "migrate-cancel"), 1);
	ck_assert_msg(strstr(vp_ctl_out, "no migration is running"), "%s", vp_ctl_out);

	/* And after all that, a migration that goes through. */
	start_dest(&dst, "dst-final", uri, "256M", "1");
	wait_dest(&dst);
	ck_assert_msg(vp_migrate(&src, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_assert_msg(vp_wait(&src, DONE_TIMEOUT) == 0, "source: exit status %d", src.status);
	ck_payload_ok(&dst, DONE_TIMEOUT);
	test_end();
}
END_TEST

/*
 * Cancel while the guest is paused for the stop-and-copy: a generous
 * downtime limit and a bandwidth cap make that pause last seconds.
 */
START_TEST(test_fault_cancel_stop_copy)
{
	struct vp src, dst;
	struct mstat st;
	char uri[128], path[96];
	double deadline;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	snprintf(uri, sizeof(uri), "unix:%s", tpath(path, sizeof(path), "mig.sock"));
	start_dest(&dst, "dst", uri, "256M", "1");
	start_source(&src, "src", "256M", "1", "rate=100");
	wait_dest(&dst);
	usleep(1500000);
	ck_assert_msg(vp_migrate(&src, uri, "max_bandwidth=100000000", "downtime_ms=60000") == 0,
		      "migrate: %s", vp_ctl_out);
	deadline = vlab__now() + DONE_TIMEOUT;
	do {
		ck_assert_msg(get_status(&src, &st) && !strcmp(st.state, "active"),
			      "migration %s (%s) before the stop-and-copy", st.state, st.error);
		ck_assert_msg(vlab__now() < deadline, "never paused");
		usleep(5000);
	} while (strcmp(st.vm_state, "paused"));
	ck_assert_msg(VP_CTL(&src, "migrate-cancel") == 0, "migrate-cancel: %s", vp_ctl_out);
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "cancelled", "cancelled");
	ck_assert_int_ne(vp_wait(&dst, 10), 0);
	ck_payload_ok(&src, DONE_TIMEOUT);
	test_end();
}
END_TEST

/*
 * A destination that reads a whole stream, up to its end marker, and then
 * answers only when told: the test holds the source in its wait for the
 * acknowledgement, after the state went out. The child reports on @f->ctl
 * 'E' once it has the end marker. Then, told 'a', it acknowledges and
 * reports 'A' if that went out ('X' if the source had gone); told 'c', it
 * closes the stream without a word, as a vlab that refused it, and
 * reports 'C'. Told nothing, it never answers.
 */
#define MIG_ACK_TEXT	"VLABMIG-OK\n"	/* as in vmm/migrate/internal.h */
#define MIG_MAPPED_TEXT	"VLABMIG-MAPPED\n"

struct fake_dest {
	pid_t pid;
	int ctl;
};

static bool read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		p += r;
		len -= r;
	}
	return true;
}

static void fake_dest_start(struct fake_dest *f, int lfd)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fflush(NULL);
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		static uint8_t buf[1 << 20];
		struct mig_rec rec;
		char c = 'X';
		int fd;

		/* Before accept(): a test that dies early must not leave it waiting. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		fd = accept(lfd, NULL, NULL);
		if (fd < 0 || !read_all(fd, buf, 16))
			_exit(1);
		do {
			uint64_t left;

			if (!read_all(fd, &rec, sizeof(rec)))
				_exit(1);
			left = rec_payload_len(&rec);
			while (left) {
				size_t n = left < sizeof(buf) ? left : sizeof(buf);

				if (!read_all(fd, buf, n))
					_exit(1);
				left -= n;
			}
			/* A local stream's source waits for this before it pauses. */
			if (rec.type == MIG_REC_MEMORY &&
			    send(fd, MIG_MAPPED_TEXT, strlen(MIG_MAPPED_TEXT), MSG_NOSIGNAL) < 0)
				_exit(1);
		} while (rec.type != MIG_REC_END);
		if (write(sv[1], "E", 1) != 1 || read(sv[1], &c, 1) != 1)
			_exit(1);
		if (c == 'c') {
			close(fd);
			c = 'C';
		} else {
			c = send(fd, MIG_ACK_TEXT, strlen(MIG_ACK_TEXT), MSG_NOSIGNAL) ==
			    (ssize_t)strlen(MIG_ACK_TEXT) ? 'A' : 'X';
		}
		if (write(sv[1], &c, 1) != 1)
			_exit(1);
		/* Like vlab: whoever got the acknowledgement out runs the guest. */
		read(sv[1], &c, 1);
		_exit(0);
	}
	close(sv[1]);
	f->ctl = sv[0];
}

static char fake_dest_wait(struct fake_dest *f, int timeout_ms)
{
	struct pollfd pfd = { .fd = f->ctl, .events = POLLIN };
	char c = '?';

	if (poll(&pfd, 1, timeout_ms) == 1 && read(f->ctl, &c, 1) != 1)
		c = '?';
	return c;
}

static void fake_dest_stop(struct fake_dest *f)
{
	close(f->ctl);
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
}

/* A fake destination on unix:DIR/@name, that URI in @uri. */
static void fake_dest_unix(struct fake_dest *f, const char *name, char *uri, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(lfd, 0);
	tpath(sa.sun_path, sizeof(sa.sun_path), name);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	snprintf(uri, len, "unix:%s", sa.sun_path);
	fake_dest_start(f, lfd);
	close(lfd);
}

/*
 * migrate-cancel after the whole stream went out, while the source waits
 * for the acknowledgement: the destination may already run the guest, so
 * the cancel must be refused and the source must not resume it too. Over
 * TCP the destination's acknowledgement goes out even after the source
 * shut its socket, which is what makes a late cancel a split brain.
 */
START_TEST(test_fault_cancel_after_end)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sa);
	struct fake_dest f;
	struct vp src;
	struct mstat st;
	char uri[64], ack;
	int lfd, cancel;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	snprintf(uri, sizeof(uri), "tcp:127.0.0.1:%d", ntohs(sa.sin_port));
	fake_dest_start(&f, lfd);
	close(lfd);

	start_source(&src, "src", "64M", "1", "rate=50");
	ck_assert_msg(vp_migrate(&src, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_assert_msg(fake_dest_wait(&f, 10000) == 'E', "the stream did not end");
	cancel = VP_CTL(&src, "migrate-cancel");
	printf("  migrate-cancel after the end marker: exit %d: %s", cancel, vp_ctl_out);
	ck_assert_int_eq(write(f.ctl, "a", 1), 1);
	ack = fake_dest_wait(&f, 5000);
	printf("  the destination's acknowledgement %s\n",
	       ack == 'A' ? "went out: it would run the guest" : "failed: it would refuse");
	if (get_status(&src, &st))
		printf("  source: migration %s (%s), guest %s\n", st.state, st.error, st.vm_state);
	else
		printf("  source: gone (handed over)\n");
	ck_assert_msg(!(ack == 'A' && cancel == 0),
		      "split brain: the cancel was accepted, the source resumed the guest, "
		      "and the destination's acknowledgement went out too");
	ck_assert_int_eq(cancel, 1);
	ck_assert_msg(vp_wait(&src, DONE_TIMEOUT) == 0, "source: exit status %d", src.status);
	ck_file_has(src.out, "migrated");
	fake_dest_stop(&f);
	test_end();
}
END_TEST

/*
 * The whole stream went out and no acknowledgement comes: the destination
 * may be running the guest, so the source must not run it too. Its
 * migration fails after the acknowledgement timeout, the guest stays
 * paused, and only `resume` runs it again. A destination that closes the
 * stream after the end marker instead refused it: the source resumes the
 * guest at once. Either way the guest's memory is intact at the end.
 */
#define ACK_TIMEOUT_MS	"2000"	/* VLAB_MIG_ACK_TIMEOUT_MS: not the 30 s default */

START_TEST(test_fault_lost_ack)
{
	struct fake_dest f;
	struct vp src;
	struct mstat st;
	char uri[128];

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	setenv("VLAB_MIG_ACK_TIMEOUT_MS", ACK_TIMEOUT_MS, 1);
	start_source(&src, "src", "64M", "1", "rate=50");
	unsetenv("VLAB_MIG_ACK_TIMEOUT_MS");

	/* Silence after the end marker. */
	fake_dest_unix(&f, "silent.sock", uri, sizeof(uri));
	ck_assert_msg(vp_migrate(&src, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_assert_msg(fake_dest_wait(&f, 10000) == 'E', "the stream did not end");
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	printf("  no answer: migration %s: %s; guest %s\n", st.state, st.error, st.vm_state);
	ck_assert_str_eq(st.state, "failed");
	ck_assert_msg(strstr(st.error, "no acknowledgement after the whole stream"), "error: %s",
		      st.error);
	ck_assert_str_eq(st.vm_state, "paused");
	ck_file_has(src.out, "the guest stays paused here");
	/* And it stays so. */
	usleep(1000000);
	ck_assert_msg(get_status(&src, &st), "the source went away");
	ck_assert_str_eq(st.vm_state, "paused");
	fake_dest_stop(&f);
	ck_assert_msg(VP_CTL(&src, "resume") == 0, "resume: %s", vp_ctl_out);
	ck_assert_msg(get_status(&src, &st), "the source went away");
	ck_assert_str_eq(st.vm_state, "running");

	/* The destination refuses: it closes the stream after the end marker. */
	fake_dest_unix(&f, "refusing.sock", uri, sizeof(uri));
	ck_assert_msg(vp_migrate(&src, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_assert_msg(fake_dest_wait(&f, 10000) == 'E', "the stream did not end");
	ck_assert_int_eq(write(f.ctl, "c", 1), 1);
	ck_assert_msg(fake_dest_wait(&f, 5000) == 'C', "the destination did not close");
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "failed", DEST_CLOSED);
	fake_dest_stop(&f);
	ck_payload_ok(&src, DONE_TIMEOUT);
	test_end();
}
END_TEST

/* ---- local migration: guest RAM handed over by file descriptor ---- */

static const char *const memfd_net[] = { "--mem-backend", "memfd", "--net", "null", NULL };

/*
 * mode=local in the middle of the dirty payload's run, a NIC on both
 * sides: the source sends no page, the destination (anonymous RAM of its
 * own, replaced by the source's memfds) runs on. Then an ordinary
 * migration from there to a third vlab: it must find every page the guest
 * ever touched in memory the destination never faulted in itself.
 */
START_TEST(test_local_mid_run)
{
	struct vp src, dst, third;
	double total = 0, down = 0, mb = 0;
	char uri[128], uri2[128], path[96];
	int rounds = 0;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	snprintf(uri, sizeof(uri), "unix:%s", tpath(path, sizeof(path), "local.sock"));
	snprintf(uri2, sizeof(uri2), "unix:%s", tpath(path, sizeof(path), "mig.sock"));
	vp_start(&dst, "dst", (const char *const []){ "--incoming", uri, "--mem", "256M",
						      "--net", "null", NULL });
	start_source_with(&src, "src", "256M", "1", "rate=100", memfd_net);
	wait_dest(&dst);
	usleep(1000000);	/* let it dirty some 100 MB first */
	ck_assert_msg(vp_migrate(&src, uri, "mode=local", NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_assert_msg(vp_wait(&src, DONE_TIMEOUT) == 0, "source: exit status %d", src.status);
	ck_file_has(src.out, "migrated");
	ck_assert_msg(vp_migrate_done(&src, &total, &down, &mb, &rounds), "no final line");
	printf("  mode=local: total %.1f ms, downtime %.1f ms, %.3f MB sent\n", total, down, mb);
	ck_assert_msg(mb < 1, "%.1f MB sent for a local migration", mb);
	ck_file_has(dst.out, "256 MiB of guest RAM taken over from the source by file descriptor");

	/* The guest runs on at the destination, dirtying; then it moves on by copy. */
	usleep(500000);
	vp_start(&third, "third", (const char *const []){ "--incoming", uri2, "--mem", "256M",
							  "--net", "null", NULL });
	wait_dest(&third);
	ck_assert_msg(vp_migrate(&dst, uri2, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_assert_msg(vp_wait(&dst, DONE_TIMEOUT) == 0, "destination: exit status %d", dst.status);
	ck_assert_msg(vp_migrate_done(&dst, &total, &down, &mb, &rounds), "no final line");
	printf("  then by copy: %.1f MB in %d round(s)\n", mb, rounds);
	ck_assert_msg(mb > 50, "%.1f MB sent: the copy missed the pages handed over", mb);
	ck_payload_ok(&third, DONE_TIMEOUT);
	test_end();
}
END_TEST

/* `migrate` refused at once with @why; the guest runs on. */
static void ck_migrate_refused(struct vp *src, const char *uri, const char *extra,
			       const char *why)
{
	ck_assert_msg(vp_migrate(src, uri, extra, NULL) == 1, "migrate %s %s: %s", uri, extra,
		      vp_ctl_out);
	ck_assert_msg(strstr(vp_ctl_out, why), "reply \"%s\", want \"%s\"", vp_ctl_out, why);
}

/*
 * Whatever goes wrong before the destination's acknowledgement, the
 * source keeps the guest, whose memory a refusing destination had in its
 * hands: the payload still finds every page right.
 */
START_TEST(test_local_refused)
{
	struct vp src, anon, dst;
	struct fake_dest f;
	struct mstat st;
	char uri[128], path[96], arg[128];

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	snprintf(uri, sizeof(uri), "unix:%s", tpath(path, sizeof(path), "local.sock"));
	start_source_with(&src, "src", "256M", "1", "rate=100", memfd_net);

	/* Refused by the command: what mode=local cannot do. */
	ck_migrate_refused(&src, "tcp:127.0.0.1:1", "mode=local", "it needs uri=unix:PATH");
	ck_migrate_refused(&src, uri, "mode=fast", "mode must be \"precopy\" or \"local\"");
	snprintf(arg, sizeof(arg), "path=%s", tpath(path, sizeof(path), "snap"));
	ck_assert_msg(VP_CTL(&src, "snapshot", arg, "mode=local") == 1, "%s", vp_ctl_out);
	ck_assert_msg(strstr(vp_ctl_out, "no mode=local"), "%s", vp_ctl_out);
	start_source(&anon, "anon", "64M", "1", "rate=10");
	ck_migrate_refused(&anon, uri, "mode=local", "guest RAM is not in memfds");
	vp_kill(&anon);

	/* Refused by the destination: another size of RAM. */
	vp_start(&dst, "dst-mem", (const char *const []){ "--incoming", uri, "--mem", "128M",
							  "--net", "null", NULL });
	wait_dest(&dst);
	ck_assert_msg(vp_migrate(&src, uri, "mode=local", NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_refused(&dst, "configuration mismatch: the source has --mem 256M, this vlab 128M");
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "failed", DEST_CLOSED);

	/* A destination that reads the whole stream, fds and all, and dies without a word. */
	fake_dest_unix(&f, "dying.sock", uri, sizeof(uri));
	ck_assert_msg(vp_migrate(&src, uri, "mode=local", NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_assert_msg(fake_dest_wait(&f, 10000) == 'E', "the stream did not end");
	fake_dest_stop(&f);
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "failed", DEST_CLOSED);
	ck_file_has(src.out, "the guest keeps running here");

	ck_payload_ok(&src, DONE_TIMEOUT);
	test_end();
}
END_TEST

/* ---- the dirty ring ---- */

/*
 * --dirty-ring: a small ring (1024 entries) against 1 GB/s of dirtying, so
 * vCPUs fill it and harvest it themselves. A slow migration is cancelled
 * in its second round (the rings must be left clean), then one goes
 * through to a destination that also uses a ring, and back again: every
 * page must be right at the end.
 */
START_TEST(test_dirty_ring)
{
	const char *elf = vlab_payload("payloads/dirty.elf");
	struct vp src, dst, back;
	struct mstat st;
	char uri[128], path[96];

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	snprintf(uri, sizeof(uri), "unix:%s", tpath(path, sizeof(path), "mig.sock"));
	vp_start(&src, "src", (const char *const []){ "--kernel", elf, "--mem", "128M",
		 "--cpus", "2", "--dirty-ring", "1024",
		 "--cmdline", "fill=1 rate=1000 secs=600 until=request", NULL });
	ck_assert_msg(vp_wait_file_has(&src, src.con, "dirty: filled", DONE_TIMEOUT), "src did not fill");
	ck_assert_msg(get_status(&src, &st), "src: no status reply");
	ck_assert_str_eq(st.dirty_log, "ring");
	ck_assert_int_eq(st.ring_entries, 1024);
	ck_assert_int_eq(st.ring_harvested, 0);	/* no logging before a migration */

	start_dest(&dst, "dst-cancel", uri, "128M", "2");
	wait_dest(&dst);
	migrate_to_round2(&src, uri, &st);
	ck_assert_msg(get_status(&src, &st), "src: no status reply");
	ck_assert_str_eq(st.dirty_log, "ring");
	ck_assert_msg(st.ring_harvested > 1024 && st.ring_full_exits > 0,
		      "%lld entries harvested, %lld ring-full exits",
		      (long long)st.ring_harvested, (long long)st.ring_full_exits);
	ck_assert_msg(VP_CTL(&src, "migrate-cancel") == 0, "migrate-cancel: %s", vp_ctl_out);
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_source_kept(&src, "cancelled", "cancelled");
	ck_assert_int_ne(vp_wait(&dst, 10), 0);

	vp_start(&dst, "dst", (const char *const []){ "--incoming", uri, "--mem", "128M",
		 "--cpus", "2", "--dirty-ring", "4096", NULL });
	wait_dest(&dst);
	ck_assert_msg(vp_migrate(&src, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	ck_assert_msg(vp_wait(&src, DONE_TIMEOUT) == 0, "source: exit status %d", src.status);

	start_dest(&back, "back", uri, "128M", "2");
	wait_dest(&back);
	ck_assert_msg(vp_migrate(&dst, uri, NULL, NULL) == 0, "migrate back: %s", vp_ctl_out);
	ck_assert_msg(vp_wait(&dst, DONE_TIMEOUT) == 0, "dst: exit status %d", dst.status);
	ck_payload_ok(&back, DONE_TIMEOUT);
	test_end();
}
END_TEST

START_TEST(test_fault_no_listener)
{
	struct vp src;
	struct mstat st;
	char uri[128], path[96];
	int fd;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	start_source(&src, "src", "256M", "1", "rate=100");

	snprintf(uri, sizeof(uri), "uri=unix:%s", tpath(path, sizeof(path), "nobody.sock"));
	ck_assert_int_eq(VP_CTL(&src, "migrate", uri), 1);
	ck_assert_msg(strstr(vp_ctl_out, "is the destination waiting with --incoming?"), "%s",
		      vp_ctl_out);
	printf("  %s", vp_ctl_out);

	/* A socket file whose owner is gone. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	tpath(sa.sun_path, sizeof(sa.sun_path), "stale.sock");
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	snprintf(uri, sizeof(uri), "uri=unix:%s", sa.sun_path);
	ck_assert_int_eq(VP_CTL(&src, "migrate", uri), 1);
	ck_assert_msg(strstr(vp_ctl_out, "Connection refused"), "%s", vp_ctl_out);
	printf("  %s", vp_ctl_out);

	snprintf(uri, sizeof(uri), "uri=tcp:127.0.0.1:%d", free_tcp_port());
	ck_assert_int_eq(VP_CTL(&src, "migrate", uri), 1);
	ck_assert_msg(strstr(vp_ctl_out, "Connection refused"), "%s", vp_ctl_out);
	printf("  %s", vp_ctl_out);

	ck_assert(get_status(&src, &st));
	ck_assert_str_eq(st.vm_state, "running");
	ck_assert_str_eq(st.state, "none");
	ck_payload_ok(&src, DONE_TIMEOUT);
	test_end();
}
END_TEST

#define NOT_A_URI	"is not unix:PATH, tcp:HOST:PORT or file:PATH"

START_TEST(test_fault_bad_uri)
{
	static const struct {
		const char *const args[3];
		const char *why;
	} *c, cases[] = {
		{ { "migrate", "uri=ftp://host/x" }, NOT_A_URI },
		{ { "migrate", "uri=unixsock" }, NOT_A_URI },
		{ { "migrate" }, "needs \"uri\"" },
		{ { "migrate", "uri=" }, "needs \"uri\"" },
		{ { "migrate", "uri=tcp:127.0.0.1" }, "want tcp:HOST:PORT" },
		{ { "migrate", "uri=tcp:no.such.host.invalid:1" }, "tcp:no.such.host.invalid:1: " },
		{ { "migrate", "uri=file:/nonexistent/dir/x" }, "/nonexistent/dir/x: " },
		{ { "snapshot", "uri=unix:/tmp/x" }, "a snapshot goes to file:PATH" },
		{ { "snapshot" }, "needs \"uri\"" },
	};
	struct vp src, dst;
	struct mstat st;
	unsigned int i;
	char dt[128];

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	start_source(&src, "src", "256M", "1", "rate=100");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		const char *arg = c->args[1] ? c->args[1] : "";

		ck_assert_msg(VP_CTL(&src, c->args[0], c->args[1]) == 1, "%s %s: %s", c->args[0], arg,
			      vp_ctl_out);
		ck_assert_msg(strstr(vp_ctl_out, c->why), "%s %s: %s", c->args[0], arg, vp_ctl_out);
		printf("  %s %s: %s", c->args[0], arg, vp_ctl_out);
	}
	snprintf(dt, sizeof(dt), "uri=unix:%s/x", vp_tdir);
	ck_assert_int_eq(VP_CTL(&src, "migrate", dt, "downtime_ms=0"), 1);
	ck_assert_msg(strstr(vp_ctl_out, "downtime_ms must be 1..60000"), "%s", vp_ctl_out);
	ck_assert_int_eq(VP_CTL(&src, "migrate", dt, "max_bandwidth=-1"), 1);
	ck_assert_msg(strstr(vp_ctl_out, "max_bandwidth must be >= 0"), "%s", vp_ctl_out);
	ck_assert(get_status(&src, &st));
	ck_assert_str_eq(st.vm_state, "running");
	ck_payload_ok(&src, DONE_TIMEOUT);

	/*
	 * The destination side checks its URI before anything else. @dst
	 * lives as long as the test: test_end() walks every started process.
	 */
	start_dest(&dst, "dst", "ftp:x", "256M", "1");
	ck_assert_int_eq(vp_wait(&dst, DONE_TIMEOUT), 2);
	ck_file_has(dst.out, NOT_A_URI);
	start_dest(&dst, "dst2", "file:/nonexistent/snap", "256M", "1");
	ck_refused(&dst, "/nonexistent/snap: No such file or directory");
	test_end();
}
END_TEST

/* ---- paths ---- */

/* @len bytes: vp_tdir and 60-byte directories (made here), then "/snap". */
static void long_path(char *buf, size_t size, size_t len)
{
	size_t n = snprintf(buf, size, "%s", vp_tdir);

	while (n + 61 + 5 <= len) {
		n += snprintf(buf + n, size - n, "/%060d", (int)n);
		ck_assert_int_eq(mkdir(buf, 0700), 0);
	}
	snprintf(buf + n, size - n, "/%0*d", (int)(len - n - 1), 0);
}

/*
 * A path is used whole or refused, never cut short: a long snapshot path
 * (past the old 300-byte buffer) names the file written, and one past
 * PATH_MAX, or a tcp: address past its buffer, is refused with a message.
 */
START_TEST(test_long_paths)
{
	static char path[PATH_MAX + 200], arg[PATH_MAX + 300], tcp[400];
	struct vp src;
	struct mstat st;
	struct stat sb;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	start_source(&src, "src", "64M", "1", "rate=50");

	long_path(path, sizeof(path), 420);
	ck_assert_int_eq(strlen(path), 420);
	snprintf(arg, sizeof(arg), "path=%s", path);
	ck_assert_msg(VP_CTL(&src, "snapshot", arg) == 0, "snapshot: %s", vp_ctl_out);
	ck_assert_msg(wait_mig_done(&src, &st, DONE_TIMEOUT), "the source went away");
	ck_assert_msg(!strcmp(st.state, "completed"), "snapshot %s: %s", st.state, st.error);
	ck_assert_msg(!stat(path, &sb) && sb.st_size > 4096, "%s: %s", path, strerror(errno));
	/* Nothing else beside it: no file under a cut-short name. */
	*strrchr(path, '/') = '\0';
	{
		DIR *d = opendir(path);
		struct dirent *de;
		int files = 0;

		ck_assert_ptr_nonnull(d);
		while ((de = readdir(d)))
			files += de->d_name[0] != '.';
		closedir(d);
		ck_assert_int_eq(files, 1);
	}

	memset(path, 'p', PATH_MAX + 10);
	path[0] = '/';
	path[PATH_MAX + 10] = '\0';
	snprintf(arg, sizeof(arg), "path=%s", path);
	ck_assert_int_eq(VP_CTL(&src, "snapshot", arg), 1);
	ck_assert_msg(strstr(vp_ctl_out, "path longer than 4096 bytes"), "%s", vp_ctl_out);
	snprintf(arg, sizeof(arg), "uri=file:%s", path);
	ck_assert_int_eq(VP_CTL(&src, "migrate", arg), 1);
	ck_assert_msg(strstr(vp_ctl_out, "uri longer than"), "%s", vp_ctl_out);

	memset(tcp, 'h', sizeof(tcp));
	memcpy(tcp, "uri=tcp:", 8);
	strcpy(tcp + sizeof(tcp) - 3, ":1");
	ck_assert_int_eq(VP_CTL(&src, "migrate", tcp), 1);
	ck_assert_msg(strstr(vp_ctl_out, "longer than tcp:HOST:PORT can be"), "%s", vp_ctl_out);
	printf("  %s", vp_ctl_out);
	ck_assert(get_status(&src, &st));
	ck_assert_str_eq(st.vm_state, "running");
	ck_payload_ok(&src, DONE_TIMEOUT);
	test_end();
}
END_TEST

/* A destination on unix:@path must refuse at once, saying @why. */
static void ck_incoming_refused(const char *name, const char *path, const char *why)
{
	struct vp dst;
	char uri[256];

	snprintf(uri, sizeof(uri), "unix:%s", path);
	start_dest(&dst, name, uri, "64M", "1");
	ck_assert_msg(vp_wait(&dst, DONE_TIMEOUT) == 2, "%s: exit status %d, want 2", name, dst.status);
	ck_file_has(dst.out, "incoming migration refused: ");
	ck_file_has(dst.out, why);
}

/*
 * --incoming unix:PATH removes only a stale socket there: a regular file,
 * a directory or a socket someone listens on is left alone and refused
 * (exit status 2).
 */
START_TEST(test_incoming_path_taken)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[128];
	struct stat sb;
	struct vp dst;
	int fd, c;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();

	tpath(path, sizeof(path), "a-file");
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, "keep me", 7), 7);
	close(fd);
	ck_incoming_refused("file", path, "exists and is not a socket (not removing it)");
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_size, 7);

	tpath(path, sizeof(path), "a-dir");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_incoming_refused("dir", path, "exists and is not a socket (not removing it)");
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));

	tpath(sa.sun_path, sizeof(sa.sun_path), "busy-path");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_incoming_refused("live", sa.sun_path, "another process is listening there");
	/* Still ours: a client reaches this listener. */
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(c);
	close(fd);

	/* Now stale (nobody listens): taken over. */
	snprintf(path, sizeof(path), "unix:%s", sa.sun_path);
	start_dest(&dst, "stale", path, "64M", "1");
	wait_dest(&dst);
	test_end();
}
END_TEST

/* A destination waiting on unix:NAME.in, answering its control socket. */
static void start_waiting_dest(struct vp *p, const char *name, char *in, size_t inlen)
{
	char uri[160], file[64];

	snprintf(file, sizeof(file), "%s.in", name);
	tpath(in, inlen, file);
	snprintf(uri, sizeof(uri), "unix:%s", in);
	start_dest(p, name, uri, "64M", "1");
	wait_dest(p);
}

/* @p ended with @status and left neither its control socket nor @in behind. */
static void ck_ended_clean(struct vp *p, const char *in, int status)
{
	ck_assert_msg(vp_wait(p, DONE_TIMEOUT) == status, "%s: exit status %d, want %d", p->name, p->status,
		      status);
	ck_assert_msg(access(p->sock, F_OK) && access(in, F_OK), "%s: socket files left behind",
		      p->name);
}

/*
 * A destination waiting for its stream answers its control socket (status
 * says so; commands that need a guest are refused), and quit, SIGTERM or
 * SIGINT end the wait cleanly, removing both socket files.
 */
START_TEST(test_incoming_waiting)
{
	struct vp d1, d2, d3, d4;
	char in[4][128], uri[64];
	int port;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	start_waiting_dest(&d1, "d1", in[0], sizeof(in[0]));
	ck_assert_msg(VP_CTL(&d1, "--raw", "status") == 0, "status: %s", vp_ctl_out);
	ck_assert_msg(strstr(vp_ctl_out, "{\"ok\":true,\"state\":\"waiting\","), "%s", vp_ctl_out);
	ck_assert_msg(strstr(vp_ctl_out, "\"migration\":{\"state\":\"incoming\",\"uri\":\"unix:"),
		      "%s", vp_ctl_out);
	ck_assert_int_eq(VP_CTL(&d1, "pause"), 1);
	ck_assert_msg(strstr(vp_ctl_out, "waiting for an incoming migration stream"), "%s",
		      vp_ctl_out);
	ck_assert_int_eq(VP_CTL(&d1, "snapshot", "path=/tmp/x"), 1);
	ck_assert_msg(strstr(vp_ctl_out, "waiting for an incoming migration stream"), "%s",
		      vp_ctl_out);
	ck_assert_int_eq(kill(d1.pid, SIGTERM), 0);
	ck_ended_clean(&d1, in[0], 128 + SIGTERM);

	start_waiting_dest(&d2, "d2", in[1], sizeof(in[1]));
	ck_assert_int_eq(kill(d2.pid, SIGINT), 0);
	ck_ended_clean(&d2, in[1], 128 + SIGINT);

	start_waiting_dest(&d3, "d3", in[2], sizeof(in[2]));
	ck_assert_msg(VP_CTL(&d3, "quit") == 0, "quit: %s", vp_ctl_out);
	ck_ended_clean(&d3, in[2], 0);

	port = free_tcp_port();
	snprintf(uri, sizeof(uri), "tcp:127.0.0.1:%d", port);
	start_dest(&d4, "d4", uri, "64M", "1");
	wait_dest(&d4);
	ck_assert_msg(VP_CTL(&d4, "status") == 0, "status: %s", vp_ctl_out);
	ck_assert_msg(strstr(vp_ctl_out, "state: waiting"), "%s", vp_ctl_out);
	ck_assert_int_eq(kill(d4.pid, SIGTERM), 0);
	tpath(in[3], sizeof(in[3]), "none");
	ck_ended_clean(&d4, in[3], 128 + SIGTERM);
	test_end();
}
END_TEST

/* ---- wait=true ---- */

/* A raw connection to @p's control socket with @req sent on it. */
static int ctl_send(struct vp *p, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->sock);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	return fd;
}

/* The reply line on @fd (at most @timeout_s away), into @buf; "" if none. */
static const char *ctl_reply(int fd, char *buf, size_t size, int timeout_s)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;

	while (len + 1 < size && poll(&pfd, 1, timeout_s * 1000) == 1 &&
	       recv(fd, buf + len, 1, 0) == 1 && buf[len] != '\n')
		len++;
	buf[len] = '\0';
	return buf;
}

/*
 * wait=true: the reply comes when the snapshot has ended and says how;
 * a failed (cancelled) snapshot leaves no file; quit during a snapshot
 * cancels it, the waiting client is told before vlab exits, and the
 * partial file goes too; a live migration's waiting client gets its
 * reply before the source exits.
 */
START_TEST(test_wait_for_the_end)
{
	struct vp src, dst;
	struct mstat st;
	char snap[128], arg[160], req[512], buf[1024], uri[160];
	int fd;

	VLAB_SKIP_UNLESS_RUNNABLE();
	test_begin();
	start_source(&src, "src", "256M", "1", "rate=100");
	tpath(snap, sizeof(snap), "s.vlab");
	snprintf(arg, sizeof(arg), "path=%s", snap);

	/*
	 * Success: the reply says completed, and the file is there whole.
	 * Again until the guest has written 4 MB: the snapshots below, at
	 * 200 kB/s, then take seconds a record, and are cancelled mid-way.
	 */
	do {
		ck_assert_msg(VP_CTL(&src, "snapshot", arg, "--wait") == 0, "%s", vp_ctl_out);
		ck_assert_msg(strstr(vp_ctl_out, "state: completed"), "%s", vp_ctl_out);
		ck_assert_int_eq(access(snap, R_OK), 0);
		ck_assert(get_status(&src, &st));
		ck_assert_str_eq(st.state, "completed");
	} while (st.mb_sent < 4);
	printf("  snapshot --wait: completed, %.1f MB\n", st.mb_sent);

	/* Cancelled while it is written: a failure reply, no file left. */
	ck_assert_int_eq(unlink(snap), 0);
	snprintf(req, sizeof(req), "{\"cmd\":\"snapshot\",\"path\":\"%s\",\"wait\":true,"
		 "\"max_bandwidth\":200000,\"id\":7}\n", snap);
	fd = ctl_send(&src, req);
	wait_mig_sent(&src, 0.5, &st);
	ck_assert_msg(VP_CTL(&src, "migrate-cancel") == 0, "%s", vp_ctl_out);
	ctl_reply(fd, buf, sizeof(buf), 20);
	close(fd);
	ck_assert_msg(strstr(buf, "{\"ok\":false,\"error\":\"snapshot to file:") &&
		      strstr(buf, " cancelled: cancelled\",\"state\":\"cancelled\",\"id\":7}"),
		      "%s", buf);
	printf("  cancelled: %s\n", buf);
	ck_assert_msg(access(snap, F_OK) && access(strcat(strcpy(uri, snap), ".part"), F_OK),
		      "a cancelled snapshot left a file");
	ck_assert(get_status(&src, &st));
	ck_assert_str_eq(st.state, "cancelled");

	/* quit in the middle: the waiter hears of it first, then vlab ends. */
	fd = ctl_send(&src, req);
	wait_mig_sent(&src, 0.5, &st);
	ck_assert_msg(VP_CTL(&src, "--raw", "quit") == 0, "%s", vp_ctl_out);
	ck_assert_msg(strstr(vp_ctl_out, "\"cancelling\":\"file:"), "%s", vp_ctl_out);
	ctl_reply(fd, buf, sizeof(buf), 20);
	close(fd);
	ck_assert_msg(strstr(buf, "cancelled: cancelled: vlab is stopping\""), "%s", buf);
	ck_assert_int_eq(vp_wait(&src, DONE_TIMEOUT), 0);
	ck_assert_msg(access(snap, F_OK) && access(uri, F_OK), "quit left a snapshot file");

	/* A live migration: its reply comes before the source exits. */
	snprintf(uri, sizeof(uri), "unix:%s", tpath(buf, sizeof(buf), "mig.sock"));
	start_dest(&dst, "dst", uri, "64M", "1");
	start_source(&src, "src2", "64M", "1", "rate=50");
	wait_dest(&dst);
	ck_assert_msg(vp_migrate(&src, uri, "--wait", NULL) == 0, "%s", vp_ctl_out);
	ck_assert_msg(strstr(vp_ctl_out, "state: completed"), "%s", vp_ctl_out);
	printf("  migrate --wait: %s", vp_ctl_out);
	ck_assert_int_eq(vp_wait(&src, DONE_TIMEOUT), 0);
	ck_payload_ok(&dst, DONE_TIMEOUT);
	test_end();
}
END_TEST

static Suite *migrate_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *live = tcase_create("live");
	TCase *ring = tcase_create("ring");
	TCase *fault = tcase_create("fault");
	TCase *paths = tcase_create("paths");
	TCase *local = tcase_create("local");

	tcase_set_timeout(live, TEST_TIMEOUT);
	tcase_add_test(live, test_live_unix);
	tcase_add_test(live, test_live_tcp);
	tcase_add_test(live, test_back_and_forth);
	tcase_add_test(live, test_snapshot_restore);
	tcase_add_test(live, test_untouched_ram_is_free);
	suite_add_tcase(s, live);

	tcase_set_timeout(ring, TEST_TIMEOUT);
	tcase_add_test(ring, test_dirty_ring);
	suite_add_tcase(s, ring);

	tcase_set_timeout(fault, TEST_TIMEOUT);
	tcase_add_test(fault, test_fault_dest_killed);
	tcase_add_test(fault, test_fault_source_killed);
	tcase_add_test(fault, test_fault_truncated);
	tcase_add_test(fault, test_fault_corrupt);
	tcase_add_test(fault, test_fault_config_mismatch);
	tcase_add_test(fault, test_vdpa_unsafe_migrate_loses_pages);
	tcase_add_test(fault, test_vdpa_svq_migration);
	tcase_add_test(fault, test_vdpa_snapshot_restore);
	tcase_add_test(fault, test_vdpa_svq_cancel);
	tcase_add_test(fault, test_vdpa_back_and_forth);
	tcase_add_test(fault, test_vdpa_ahead_control_changed);
	tcase_add_test(fault, test_fault_cancel);
	tcase_add_test(fault, test_fault_cancel_stop_copy);
	tcase_add_test(fault, test_fault_cancel_after_end);
	tcase_add_test(fault, test_fault_lost_ack);
	tcase_add_test(fault, test_fault_no_listener);
	tcase_add_test(fault, test_fault_bad_uri);
	suite_add_tcase(s, fault);

	tcase_set_timeout(local, TEST_TIMEOUT);
	tcase_add_test(local, test_local_mid_run);
	tcase_add_test(local, test_local_refused);
	suite_add_tcase(s, local);

	tcase_set_timeout(paths, TEST_TIMEOUT);
	tcase_add_test(paths, test_long_paths);
	tcase_add_test(paths, test_incoming_path_taken);
	tcase_add_test(paths, test_incoming_waiting);
	tcase_add_test(paths, test_wait_for_the_end);
	suite_add_tcase(s, paths);
	return s;
}

VLAB_TEST_MAIN(migrate_suite)
