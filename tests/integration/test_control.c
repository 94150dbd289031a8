// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket on a real VM: boot the memwrite payload (long
 * enough to stay up) with --control in a temporary directory and drive
 * it with `vlab ctl` and with a raw socket client, as socat would.
 */
#include <check.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "check_main.h"
#include "vlab_run.h"

#define BOOT_TIMEOUT	60	/* seconds for the socket to appear */
#define EXIT_TIMEOUT	60	/* seconds for vlab to end after quit */

struct vm_proc {
	pid_t pid;
	char dir[64];
	char sock[128];
	char console[128];
	char output[128];
};

static void vm_proc_dump(const struct vm_proc *p)
{
	char *out = vlab__slurp(p->output), *con = vlab__slurp(p->console);

	fprintf(stderr, "---- vlab output:\n%s---- console (start):\n%.2000s\n---- end\n",
		out, con);
	free(out);
	free(con);
}

static int connect_sock(const char *path)
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

/* Start `vlab run` on memwrite with --control in @p->dir (made here unless set). */
static pid_t spawn_vlab(struct vm_proc *p)
{
	char vlab[PATH_MAX], kernel[PATH_MAX], con_arg[160];
	pid_t pid, parent;

	vlab_build_path(vlab, sizeof(vlab), "vlab");
	vlab_build_path(kernel, sizeof(kernel), "payloads/memwrite.elf");
	ck_assert_msg(!access(kernel, R_OK), "%s: %s (run make payloads)", kernel,
		      strerror(errno));
	snprintf(con_arg, sizeof(con_arg), "file:%s", p->console);
	fflush(NULL);
	parent = getpid();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int out = open(p->output, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int null = open("/dev/null", O_RDONLY);

		/*
		 * A failed assertion ends the test process without cleanup:
		 * take the VM down with it rather than leave it running.
		 */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);
		dup2(null, 0);
		dup2(out, 1);
		dup2(out, 2);
		execl(vlab, vlab, "run", "--kernel", kernel, "--mem", "64M",
		      "--cmdline", "passes=1000000", "--console", con_arg,
		      "--control", p->sock, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

/* Wait for @pid with a deadline; its exit status, or -1 (killed, or a signal). */
static int wait_exit(pid_t pid, int timeout_s)
{
	double deadline = vlab__now() + timeout_s;
	int st;

	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (w < 0 && errno != EINTR)
			return -1;
		if (vlab__now() > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(10000);
	}
}

/* Start vlab on @p's paths and wait until it is up. */
static void vlab_up(struct vm_proc *p)
{
	double deadline = vlab__now() + BOOT_TIMEOUT;

	unlink(p->console);
	p->pid = spawn_vlab(p);

	/*
	 * Up means the socket answers and the guest has printed: its vCPU
	 * thread is in KVM_RUN, so pause, quit and signals act on a running
	 * guest rather than racing its start.
	 */
	for (;;) {
		int fd = connect_sock(p->sock), st;
		struct stat sb;

		if (fd >= 0) {
			close(fd);
			if (!stat(p->console, &sb) && sb.st_size > 0)
				return;
		}
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = 0;
			vm_proc_dump(p);
			ck_abort_msg("vlab ended before its control socket appeared");
		}
		if (vlab__now() > deadline) {
			vm_proc_dump(p);
			ck_abort_msg("no control socket after %d s", BOOT_TIMEOUT);
		}
		usleep(10000);
	}
}

/* A fresh temporary directory for the socket, console and output. */
static void boot_vlab(struct vm_proc *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/vlab-control-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p->dir));
	snprintf(p->sock, sizeof(p->sock), "%s/ctl.sock", p->dir);
	snprintf(p->console, sizeof(p->console), "%s/console", p->dir);
	snprintf(p->output, sizeof(p->output), "%s/output", p->dir);
	vlab_up(p);
}

/* Kill what is left and remove the directory. */
static void vm_cleanup(struct vm_proc *p)
{
	char path[160];

	if (p->pid > 0) {
		kill(-p->pid, SIGKILL);
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
	unlink(p->sock);
	unlink(p->console);
	unlink(p->output);
	snprintf(path, sizeof(path), "%s/other.out", p->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/other.con", p->dir);
	unlink(path);
	rmdir(p->dir);
}

static char ctl_out[65536];

/* Run `vlab ctl ARGS...`; stdout and stderr into ctl_out; its exit status. */
static int vlab_ctl(const char *first, ...)
{
	const char *argv[32];
	int argc = 0;
	const char *a;
	va_list ap;

	argv[argc++] = NULL;	/* the vlab binary, filled in by vlab_exec_capture */
	argv[argc++] = "ctl";
	va_start(ap, first);
	for (a = first; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;

	return vlab_exec_capture(argv, ctl_out, sizeof(ctl_out));
}

#define VLAB_CTL(...) vlab_ctl(__VA_ARGS__, (const char *)NULL)

/* Send @req (a line) on @fd and return the reply line (static buffer). */
static const char *raw_request(int fd, const char *req)
{
	static char buf[65536];
	size_t len = 0;

	ck_assert_int_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	while (len + 1 < sizeof(buf)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		ck_assert_msg(poll(&pfd, 1, 10000) == 1, "no reply to %s", req);
		n = recv(fd, buf + len, 1, 0);
		ck_assert_msg(n == 1, "connection closed waiting for the reply to %s", req);
		if (buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return buf;
}

#define ck_contains(hay, needle) \
	ck_assert_msg(strstr(hay, needle), "'%s' lacks '%s'", hay, needle)

/* vcpu_exits[0] of a raw status reply. */
static unsigned long long exits_of(const char *reply)
{
	const char *p = strstr(reply, "\"vcpu_exits\":[");

	ck_assert_msg(p, "no vcpu_exits in %s", reply);
	return strtoull(p + strlen("\"vcpu_exits\":["), NULL, 10);
}

START_TEST(test_status_pause_resume)
{
	struct vm_proc p;
	unsigned long long e1, e2, e3 = 0;
	const char *r;
	int fd, i;

	VLAB_SKIP_UNLESS_RUNNABLE();
	boot_vlab(&p);

	ck_assert_int_eq(VLAB_CTL(p.sock, "status"), 0);
	ck_contains(ctl_out, "state: running");
	ck_contains(ctl_out, "vcpus: 1\n");
	ck_contains(ctl_out, "mem_mb: 64\n");
	ck_contains(ctl_out, "memwrite.elf");
	ck_contains(ctl_out, "migration:\n  state: none\n");

	/* vlab ctl passes a stream's lines on after its first reply: exactly count=. */
	ck_assert_int_eq(VLAB_CTL(p.sock, "watch", "count=2", "period_ms=50"), 0);
	ck_contains(ctl_out, "count: 2\n");
	ck_contains(ctl_out, "\n{\"seq\":0,");
	ck_contains(ctl_out, "\n{\"seq\":1,");
	ck_assert_ptr_null(strstr(ctl_out, "{\"seq\":2,"));

	fd = connect_sock(p.sock);
	ck_assert_int_ge(fd, 0);
	r = raw_request(fd, "{\"cmd\":\"status\",\"id\":1}\n");
	ck_contains(r, "{\"ok\":true,\"state\":\"running\"");
	ck_contains(r, "\"id\":1}");

	ck_assert_int_eq(VLAB_CTL(p.sock, "pause"), 0);
	ck_assert_str_eq(ctl_out, "state: paused\n");
	r = raw_request(fd, "{\"cmd\":\"status\"}\n");
	ck_contains(r, "\"state\":\"paused\"");
	e1 = exits_of(r);
	/* Parked vCPUs do not exit. */
	usleep(200000);
	e2 = exits_of(raw_request(fd, "{\"cmd\":\"status\"}\n"));
	ck_assert_msg(e1 == e2, "exits went from %llu to %llu while paused", e1, e2);

	r = raw_request(fd, "{\"cmd\":\"resume\"}\n");
	ck_assert_str_eq(r, "{\"ok\":true,\"state\":\"running\"}");
	/* memwrite prints a line per pass: port I/O exits resume. */
	for (i = 0; i < 100; i++) {
		usleep(50000);
		e3 = exits_of(raw_request(fd, "{\"cmd\":\"status\"}\n"));
		if (e3 > e2)
			break;
	}
	ck_assert_msg(e3 > e2, "no exits in 5 s after resume (%llu, %llu)", e2, e3);
	close(fd);

	/* Quit works on a paused guest too. */
	ck_assert_int_eq(VLAB_CTL(p.sock, "pause"), 0);
	ck_assert_int_eq(VLAB_CTL(p.sock, "quit"), 0);
	ck_assert_int_eq(wait_exit(p.pid, EXIT_TIMEOUT), 0);
	p.pid = 0;
	vm_cleanup(&p);
}
END_TEST

START_TEST(test_garbage_keeps_running)
{
	struct vm_proc p;
	char big[70000];
	const char *r;
	int fd;

	VLAB_SKIP_UNLESS_RUNNABLE();
	boot_vlab(&p);
	fd = connect_sock(p.sock);
	ck_assert_int_ge(fd, 0);

	r = raw_request(fd, "hello vlab\n");
	ck_contains(r, "{\"ok\":false,\"error\":\"invalid JSON");
	r = raw_request(fd, "{\"cmd\":\"reboot-the-moon\",\"id\":\"x\"}\n");
	ck_contains(r, "unknown command 'reboot-the-moon'");
	ck_contains(r, "\"id\":\"x\"}");
	r = raw_request(fd, "[1,2,3]\n");
	ck_contains(r, "a request is a JSON object");
	/* Binary junk, then a line past the limit. */
	r = raw_request(fd, "\x01\x02\xff\xfe{{{\n");
	ck_contains(r, "\"ok\":false");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	r = raw_request(fd, big);
	ck_contains(r, "longer than 65536 bytes");

	/* Same connection, still served; the guest still runs. */
	r = raw_request(fd, "{\"cmd\":\"status\"}\n");
	ck_contains(r, "\"state\":\"running\"");
	close(fd);

	/* ctl refuses bad --json itself; vlab's refusals are exit status 1. */
	ck_assert_int_eq(VLAB_CTL(p.sock, "--json", "{\"cmd\":"), 2);
	ck_assert_int_eq(VLAB_CTL(p.sock, "--json", "[\"status\"]"), 1);
	ck_contains(ctl_out, "a request is a JSON object");
	/* Nobody listens there: a clear refusal, and the guest is untouched. */
	ck_assert_int_eq(VLAB_CTL(p.sock, "migrate", "uri=unix:/tmp/vlab-nowhere.sock"), 1);
	ck_contains(ctl_out, "is the destination waiting with --incoming?");
	ck_assert_int_eq(VLAB_CTL(p.sock, "snapshot"), 1);
	ck_assert_int_eq(VLAB_CTL(p.sock, "status"), 0);
	ck_contains(ctl_out, "state: running");

	ck_assert_int_eq(kill(p.pid, 0), 0);
	ck_assert_int_eq(VLAB_CTL(p.sock, "quit"), 0);
	ck_assert_int_eq(wait_exit(p.pid, EXIT_TIMEOUT), 0);
	p.pid = 0;
	vm_cleanup(&p);
}
END_TEST

START_TEST(test_two_clients)
{
	struct vm_proc p;
	char r1[4096];
	int a, b;

	VLAB_SKIP_UNLESS_RUNNABLE();
	boot_vlab(&p);
	a = connect_sock(p.sock);
	b = connect_sock(p.sock);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);

	/* a's request is split; b is served in between. */
	ck_assert_int_eq(send(a, "{\"cmd\":\"sta", 11, MSG_NOSIGNAL), 11);
	usleep(50000);
	snprintf(r1, sizeof(r1), "%s", raw_request(b, "{\"cmd\":\"pause\",\"id\":\"b\"}\n"));
	ck_assert_str_eq(r1, "{\"ok\":true,\"state\":\"paused\",\"id\":\"b\"}");
	ck_contains(raw_request(a, "tus\",\"id\":\"a\"}\n"), "\"state\":\"paused\"");
	/* A third, short-lived client (vlab ctl) alongside them. */
	ck_assert_int_eq(VLAB_CTL(p.sock, "resume"), 0);
	ck_contains(raw_request(a, "{\"cmd\":\"status\"}\n"), "\"state\":\"running\"");
	ck_contains(raw_request(b, "{\"cmd\":\"status\"}\n"), "\"state\":\"running\"");

	/* b leaves without reading; a still works. */
	ck_assert_int_eq(send(b, "{\"cmd\":\"status\"}\n", 17, MSG_NOSIGNAL), 17);
	close(b);
	ck_contains(raw_request(a, "{\"cmd\":\"status\"}\n"), "\"ok\":true");

	/* quit on the raw connection: the reply comes before vlab ends. */
	ck_assert_str_eq(raw_request(a, "{\"cmd\":\"quit\",\"id\":42}\n"),
			 "{\"ok\":true,\"id\":42}");
	ck_assert_int_eq(wait_exit(p.pid, EXIT_TIMEOUT), 0);
	p.pid = 0;
	close(a);
	vm_cleanup(&p);
}
END_TEST

START_TEST(test_quit_and_socket_lifetime)
{
	struct vm_proc p, q;
	char *out;
	int st;

	VLAB_SKIP_UNLESS_RUNNABLE();
	boot_vlab(&p);

	/* A second vlab on the same path is refused; the first is untouched. */
	q = p;
	snprintf(q.output, sizeof(q.output), "%s/other.out", p.dir);
	snprintf(q.console, sizeof(q.console), "%s/other.con", p.dir);
	q.pid = spawn_vlab(&q);
	st = wait_exit(q.pid, EXIT_TIMEOUT);
	out = vlab__slurp(q.output);
	ck_assert_msg(st == 2, "second vlab: status %d: %s", st, out);
	ck_contains(out, "another vlab is already listening");
	free(out);
	ck_assert_int_eq(VLAB_CTL(p.sock, "status"), 0);

	ck_assert_int_eq(VLAB_CTL(p.sock, "quit"), 0);
	ck_assert_str_eq(ctl_out, "ok\n");
	ck_assert_int_eq(wait_exit(p.pid, EXIT_TIMEOUT), 0);
	p.pid = 0;
	out = vlab__slurp(p.output);
	ck_contains(out, "quit from the control socket");
	free(out);
	/* Removed at exit, so the next ctl gets a clear message. */
	ck_assert_int_eq(access(p.sock, F_OK), -1);
	ck_assert_int_eq(VLAB_CTL(p.sock, "status"), 2);
	ck_contains(ctl_out, "no vlab is listening on");

	/* A vlab killed outright leaves its socket; the next one takes it over. */
	p.pid = spawn_vlab(&p);
	{
		int fd;

		while ((fd = connect_sock(p.sock)) < 0 && kill(p.pid, 0) == 0)
			usleep(10000);
		if (fd >= 0)
			close(fd);
	}
	kill(p.pid, SIGKILL);
	waitpid(p.pid, NULL, 0);
	p.pid = 0;
	ck_assert_int_eq(access(p.sock, F_OK), 0);
	ck_assert_int_eq(VLAB_CTL(p.sock, "status"), 2);
	ck_contains(ctl_out, "no vlab is listening on");
	vlab_up(&p);
	ck_assert_int_eq(VLAB_CTL(p.sock, "status"), 0);
	/* A signal still ends vlab the usual way and removes the socket. */
	kill(p.pid, SIGTERM);
	ck_assert_int_eq(wait_exit(p.pid, EXIT_TIMEOUT), 128 + SIGTERM);
	p.pid = 0;
	ck_assert_int_eq(access(p.sock, F_OK), -1);
	vm_cleanup(&p);
}
END_TEST

VLAB_SUITE_MAIN("control-integration", "vm", NULL, NULL, 60,
	test_status_pause_resume, test_garbage_keeps_running, test_two_clients,
	test_quit_and_socket_lifetime);
