// SPDX-License-Identifier: GPL-2.0
/*
 * --net vhost-user against DPDK's testpmd: testpmd's vhost PMD is the
 * backend (server), forwarding in macswap mode; the net_pmd payload pings
 * through the NIC and checks every frame that comes back: its sequence,
 * length and pattern, and the addresses swapped (destination ours, source
 * the peer's). Split and packed rings; and a guest live-migrated to a
 * second vlab mid-ping, the destination taking the rings over on the same
 * testpmd: every frame echoed, none bad. Skipped with a message where
 * dpdk-testpmd is not installed (CI installs it: .ci/deps.sh).
 */
#include <check.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "check_main.h"
#include "vlab_run.h"

#define RUN_TIMEOUT	120
#define PAYLOAD_GIVE_UP	"timeout=100"
#define TESTPMD		"/usr/bin/dpdk-testpmd"
#define MAC_GUEST	"52:54:00:00:20:01"
#define MAC_PEER	"52:54:00:00:20:02"
/* Enough round trips (a few seconds) to be under way when the move comes. */
#define MIG_COUNT	1000000
#define MIG_ECHOES	"1000000/1000000 echoes ok"

struct testpmd {
	pid_t pid;
	int stdin_fd;			/* closing it tells testpmd to quit */
	char dir[64], sock[128], log[128], prefix[64];
};

static bool can_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * testpmd with a vhost-user server socket, macswap; returns once it
 * accepts. @again: on the same socket path as before (a restart).
 */
static void testpmd_run(struct testpmd *t, bool again)
{
	char vdev[200];
	pid_t parent = getpid();
	double deadline;
	int in[2];

	if (!again) {
		snprintf(t->dir, sizeof(t->dir), "/tmp/vlab-vhu-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(t->dir));
	}
	snprintf(t->sock, sizeof(t->sock), "%s/sock", t->dir);
	snprintf(t->log, sizeof(t->log), "%s/testpmd.log", t->dir);
	snprintf(vdev, sizeof(vdev), "net_vhost0,iface=%s,queues=1", t->sock);
	snprintf(t->prefix, sizeof(t->prefix), "vlab-vhu-%d", (int)getpid());
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	fflush(NULL);
	t->pid = fork();
	ck_assert_int_ge(t->pid, 0);
	if (t->pid == 0) {
		int out = open(t->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);
		dup2(in[0], 0);
		dup2(out, 1);
		dup2(out, 2);
		/* No hugepages, no PCI; its run files go at testpmd_stop(). */
		execl(TESTPMD, TESTPMD, "--no-huge", "-m", "256", "--no-pci",
		      "--file-prefix", t->prefix, "--vdev", vdev, "--",
		      "--forward-mode=macswap", "--auto-start", "--total-num-mbufs=4096",
		      "--stats-period=0", (char *)NULL);
		_exit(127);
	}
	setpgid(t->pid, t->pid);
	close(in[0]);
	t->stdin_fd = in[1];
	/* A deadline only a hang reaches: testpmd starts in seconds. */
	deadline = vlab__now() + 60;
	while (!can_connect(t->sock)) {
		int st;

		if (waitpid(t->pid, &st, WNOHANG) == t->pid || vlab__now() > deadline) {
			char *log = vlab__slurp(t->log);

			fprintf(stderr, "testpmd's log:\n%s\n", log ? log : "");
			free(log);
			kill(-t->pid, SIGKILL);
			ck_abort_msg("testpmd did not come up at %s", t->sock);
		}
		usleep(50 * 1000);
	}
}

static void testpmd_start(struct testpmd *t)
{
	testpmd_run(t, false);
}

/* testpmd quits (end of its input) and closes the connection. */
static void testpmd_quit(struct testpmd *t)
{
	double deadline = vlab__now() + 60;
	int st;

	close(t->stdin_fd);
	while (t->pid > 0 && waitpid(t->pid, &st, WNOHANG) != t->pid) {
		if (vlab__now() > deadline) {
			kill(-t->pid, SIGKILL);
			waitpid(t->pid, &st, 0);
			break;
		}
		usleep(50 * 1000);
	}
	t->pid = 0;
	unlink(t->sock);
}

static void testpmd_stop(struct testpmd *t)
{
	char run[128];

	testpmd_quit(t);
	unlink(t->log);
	rmdir(t->dir);
	snprintf(run, sizeof(run), "/var/run/dpdk/%s", t->prefix);
	vlab_rm_tree(run);
}

static bool testpmd_missing(const char *what)
{
	if (!access(TESTPMD, X_OK))
		return false;
	printf("SKIP: vhost-user %s: %s: %s (apt-get install dpdk-dev librte-net-vhost23)\n",
	       what, TESTPMD, strerror(errno));
	return true;
}

static void ping_testpmd(const char *ring)
{
	char elf[PATH_MAX], net[256], cmd[256];
	struct vlab_result r;
	struct testpmd t;
	bool ok;

	if (testpmd_missing(ring))
		return;
	vlab_build_path(elf, sizeof(elf), "payloads/net_pmd.elf");
	ck_assert_msg(!access(elf, R_OK), "%s: %s (run make payloads)", elf, strerror(errno));
	testpmd_start(&t);
	snprintf(net, sizeof(net), "vhost-user=%s,mac=" MAC_GUEST, t.sock);
	snprintf(cmd, sizeof(cmd), "role=ping peer=" MAC_PEER " count=2000 window=16 "
		 PAYLOAD_GIVE_UP " ring=%s", ring);
	vlab_run(&r, RUN_TIMEOUT, (const char *[]){ "--kernel", elf, "--mem", "64M",
						    "--mem-backend", "memfd", "--net", net,
						    "--cmdline", cmd, NULL });
	testpmd_stop(&t);
	ok = !r.timed_out && r.status == 0 &&
	     strstr(r.console, "net_pmd: ping: 2000/2000 echoes ok") &&
	     strstr(r.console, " 0 bad") && strstr(r.console, "payload: net_pmd ok");
	if (!ok)
		vlab_result_dump(&r, "vhost-user ping");
	vlab_console_echo(&r, "net_pmd: ping: ");
	vlab_result_free(&r);
	ck_assert_msg(ok, "vhost-user %s: see the log above", ring);
}


/* The long ping ended where @g runs: every frame echoed, none bad. */
static void pinger_done(struct vp *g)
{
	struct vlab_result r;

	vp_check(vlab_file_has(g->con, "payload: net_pmd ok"), "%s: the payload failed", g->name);
	vp_check(vlab_file_has(g->con, " 0 bad"), "%s: bad echoes", g->name);
	vp_check(vlab_file_has(g->con, MIG_ECHOES), "%s: not every frame was echoed", g->name);
	r = (struct vlab_result){ .console = vlab__slurp(g->con) };
	vlab_console_echo(&r, "net_pmd: ping: ");
	free(r.console);
	vp_cleanup(false);
}

/*
 * The pinger moves to a destination while testpmd echoes its frames:
 * pre-copy with the backend's writes logged in the shared dirty log, the
 * rings' bases from GET_VRING_BASE. The payload's own tally, carried in
 * its RAM, says whether anything acknowledged was lost or came back bad.
 */
START_TEST(test_testpmd_migrate)
{
	char net[256], cmd[256], uri[160];
	struct vp src, dst;
	struct testpmd t;
	const char *elf, *s;
	unsigned long pages = 0;
	char *out;
	double t0;

	VLAB_SKIP_UNLESS_RUNNABLE();
	if (testpmd_missing("migrate"))
		return;
	elf = vlab_payload("payloads/net_pmd.elf");
	testpmd_start(&t);
	vlab_tdir_create("vlab-vhu-mig");
	snprintf(uri, sizeof(uri), "unix:%s/mig.sock", vp_tdir);
	snprintf(net, sizeof(net), "vhost-user=%s,mac=" MAC_GUEST, t.sock);
	snprintf(cmd, sizeof(cmd), "role=ping peer=" MAC_PEER " count=%u window=4 "
		 PAYLOAD_GIVE_UP, MIG_COUNT);
	vp_start(&dst, "dst", (const char *const []){ "--incoming", uri, "--mem", "128M",
			"--mem-backend", "memfd", "--net", net, NULL });
	vp_start(&src, "src", (const char *const []){ "--kernel", elf, "--mem", "128M",
			"--mem-backend", "memfd", "--net", net, "--cmdline", cmd, NULL });
	vp_check(vp_dest_waiting(&dst, 60), "the destination is not waiting");
	vp_check(vp_wait_file_has(&src, src.con, "answered after", 60),
		 "the source's guest never heard testpmd");
	t0 = vlab__now();
	vp_check(vp_migrate(&src, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
	vp_check(vp_wait_until(&src, t0 + 120) == 0, "source exit status %d", src.status);
	vp_check(vlab_file_has(src.out, "guest migrated"), "the source did not migrate");
	out = vlab__slurp(src.out);
	s = strstr(out, "the backend's dirty log gave ");
	vp_check(s && sscanf(s, "the backend's dirty log gave %lu pages", &pages) == 1 && pages,
		 "the backend's writes were not in its dirty log");
	free(out);
	printf("migrate: testpmd's dirty log marked %lu pages\n", pages);
	vp_check(vp_wait_until(&dst, vlab__now() + 120) == 0, "destination exit status %d",
		 dst.status);
	testpmd_stop(&t);
	vp_check(!vlab_file_has(src.con, "net_pmd: ping: " MIG_ECHOES),
		 "the ping ended before the move: nothing was proven");
	pinger_done(&dst);
}
END_TEST

/*
 * testpmd quits mid-ping and starts again on the same socket: vlab
 * reconnects, sends the whole set-up again and the split rings go on from
 * the used index; the frames lost while it was away are sent again.
 */
START_TEST(test_testpmd_restart)
{
	char net[256], cmd[256];
	struct testpmd t;
	struct vp g;
	const char *elf;

	VLAB_SKIP_UNLESS_RUNNABLE();
	if (testpmd_missing("restart"))
		return;
	elf = vlab_payload("payloads/net_pmd.elf");
	testpmd_start(&t);
	vlab_tdir_create("vlab-vhu-re");
	snprintf(net, sizeof(net), "vhost-user=%s,mac=" MAC_GUEST, t.sock);
	snprintf(cmd, sizeof(cmd), "role=ping peer=" MAC_PEER " count=%u window=4 "
		 PAYLOAD_GIVE_UP, MIG_COUNT);
	vp_start(&g, "guest", (const char *const []){ "--kernel", elf, "--mem", "128M",
			"--mem-backend", "memfd", "--net", net, "--cmdline", cmd, NULL });
	vp_check(vp_wait_file_has(&g, g.con, "answered after", 60),
		 "the guest never heard testpmd");
	testpmd_quit(&t);
	vp_check(vp_wait_file_has(&g, g.out, "the backend went away", 60),
		 "vlab did not see testpmd go");
	testpmd_run(&t, true);
	vp_check(vp_wait_file_has(&g, g.out, "reconnected to the backend", 60),
		 "vlab did not reconnect");
	vp_check(vp_wait_until(&g, vlab__now() + 120) == 0, "exit status %d", g.status);
	testpmd_stop(&t);
	pinger_done(&g);
}
END_TEST

START_TEST(test_testpmd_split)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	ping_testpmd("split");
}
END_TEST

START_TEST(test_testpmd_packed)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	ping_testpmd("packed");
}
END_TEST

/* Refusals that need no backend: anonymous RAM, and nobody at the socket. */
START_TEST(test_refusals)
{
	char elf[PATH_MAX];
	struct vlab_result r;

	VLAB_SKIP_UNLESS_RUNNABLE();
	vlab_build_path(elf, sizeof(elf), "payloads/net_pmd.elf");
	vlab_run(&r, RUN_TIMEOUT, (const char *[]){ "--kernel", elf, "--mem", "64M", "--net",
						    "vhost-user=/nonexistent/sock", NULL });
	ck_assert_msg(r.status != 0 && strstr(r.output, "--mem-backend memfd"),
		      "anonymous RAM taken: %s", r.output);
	vlab_result_free(&r);
	vlab_run(&r, RUN_TIMEOUT, (const char *[]){ "--kernel", elf, "--mem", "64M",
						    "--mem-backend", "memfd", "--net",
						    "vhost-user=/nonexistent/sock", NULL });
	ck_assert_msg(r.status != 0 && strstr(r.output, "cannot connect to /nonexistent/sock"),
		      "no backend, yet: %s", r.output);
	vlab_result_free(&r);
}
END_TEST

static Suite *vhost_user_suite(void)
{
	Suite *s = suite_create("vhost_user");
	TCase *tc = tcase_create("testpmd");

	tcase_set_timeout(tc, 4 * RUN_TIMEOUT + 90);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_testpmd_split);
	tcase_add_test(tc, test_testpmd_packed);
	tcase_add_test(tc, test_testpmd_migrate);
	tcase_add_test(tc, test_testpmd_restart);
	suite_add_tcase(s, tc);
	return s;
}

VLAB_TEST_MAIN(vhost_user_suite)
