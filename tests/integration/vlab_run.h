/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for integration tests that boot a guest with build/vlab: run it
 * with a deadline, capture the guest console and vlab's own output, and
 * decide up front whether this machine can run a VM at all.
 *
 * The test Makefile rule compiles each tests/<dir>/test_*.c on its own,
 * so the helpers are static inline functions here, not a separate object
 * (and the vp_ helpers' state is static variables: one set per test).
 *
 *	struct vlab_result r;
 *
 *	VLAB_SKIP_UNLESS_RUNNABLE();
 *	vlab_run(&r, 60, (const char *[]){ "--kernel", path, NULL });
 *	ck_assert_int_eq(r.status, 0);
 *	vlab_result_free(&r);
 *
 * vlab_run_pair() runs two guests at once (e.g. both ends of a hub), and
 * vlab_start() + vlab_wait_all() any number. The vp_ helpers further down
 * run named vlab processes with a control socket each and drive them with
 * `vlab ctl` (live migration tests).
 */
#ifndef VLAB_TESTS_VLAB_RUN_H
#define VLAB_TESTS_VLAB_RUN_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct vlab_result {
	int status;		/* vlab's exit status; -1 if a signal ended it */
	int signal;		/* the signal that ended it (SIGKILL on timeout) */
	bool timed_out;
	double seconds;		/* wall-clock time from fork to exit */
	char *console;		/* guest serial output, NUL-terminated */
	char *output;		/* vlab's own stdout and stderr */
};

#define VLAB_ARGS_MAX	64

/*
 * The build directory: $VLAB_BUILD_DIR, else three levels above this
 * test binary (build/tests/<dir>/test_x), else "build" in the current
 * directory. Not depending on the cwd lets tests run from anywhere.
 */
static inline const char *vlab_build_dir(void)
{
	static char dir[PATH_MAX];
	char exe[PATH_MAX], probe[PATH_MAX + 8];
	const char *env = getenv("VLAB_BUILD_DIR");
	ssize_t n;
	int i;

	if (dir[0])
		return dir;
	if (env && *env) {
		snprintf(dir, sizeof(dir), "%s", env);
		return dir;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		/* Up from BUILD/tests/.../test_x to the folder holding tests/ and vlab. */
		for (i = 0; i < 6; i++) {
			char *slash = strrchr(exe, '/');

			if (!slash || slash == exe)
				break;
			*slash = '\0';
			snprintf(probe, sizeof(probe), "%s/tests", exe);
			if (i >= 2 && !access(probe, F_OK)) {
				snprintf(dir, sizeof(dir), "%s", exe);
				return dir;
			}
		}
	}
	snprintf(dir, sizeof(dir), "build");
	return dir;
}

/* @rel under the build directory, e.g. "payloads/hello.elf". */
static inline const char *vlab_build_path(char *buf, size_t len,
					  const char *rel)
{
	snprintf(buf, len, "%s/%s", vlab_build_dir(), rel);
	return buf;
}

/*
 * Why VM tests cannot run here (a sentence), or NULL if they can. No
 * /dev/kvm or no vlab binary is not a test failure: a unit-test-only
 * machine or a partial build should still pass `make test`.
 */
static inline const char *vlab_skip_reason(void)
{
	static char why[PATH_MAX + 64];
	char vlab[PATH_MAX];
	int fd;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, sizeof(why), "/dev/kvm: %s", strerror(errno));
		return why;
	}
	close(fd);
	vlab_build_path(vlab, sizeof(vlab), "vlab");
	if (access(vlab, X_OK)) {
		snprintf(why, sizeof(why), "%s: %s (run make first)", vlab,
			 strerror(errno));
		return why;
	}
	return NULL;
}

/* Check has no "skipped" verdict: say so loudly and pass. */
#define VLAB_SKIP_UNLESS_RUNNABLE()					\
	do {								\
		const char *__why = vlab_skip_reason();			\
									\
		if (__why) {						\
			printf("SKIP: %s: %s\n", __func__, __why);	\
			fflush(stdout);					\
			return;						\
		}							\
	} while (0)

static inline char *vlab__slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f) {
		do {
			if (cap - len < 4096) {
				cap = cap ? cap * 2 : 65536;
				buf = realloc(buf, cap);
				if (!buf)
					break;
			}
			n = fread(buf + len, 1, cap - len - 1, f);
			len += n;
		} while (n);
		fclose(f);
	}
	if (!buf)
		buf = calloc(1, 1);
	else
		buf[len] = '\0';
	return buf;
}

static inline double vlab__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A vlab process started by vlab_start() and not yet collected. */
struct vlab_proc {
	pid_t pid;		/* -1 if it could not be started */
	double start;
	char con_path[32];
	char out_path[32];
	int out_fd;
};

/*
 * Start `vlab run ARGS... --console file:TMP` in its own process group,
 * stdout and stderr to another temporary file. Returns 0, or -1 if vlab
 * could not be started at all (p->pid is then -1).
 */
static inline int vlab_start(struct vlab_proc *p, const char *const args[])
{
	char vlab[PATH_MAX], con_arg[sizeof(p->con_path) + 8];
	const char *argv[VLAB_ARGS_MAX + 5];
	int con_fd, argc = 0, i;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	snprintf(p->con_path, sizeof(p->con_path), "/tmp/vlab-console-XXXXXX");
	snprintf(p->out_path, sizeof(p->out_path), "/tmp/vlab-output-XXXXXX");
	vlab_build_path(vlab, sizeof(vlab), "vlab");

	con_fd = mkstemp(p->con_path);
	/* CLOEXEC: a second vlab started later must not inherit this one. */
	p->out_fd = mkostemp(p->out_path, O_CLOEXEC);
	if (con_fd < 0 || p->out_fd < 0)
		goto err;
	close(con_fd);
	snprintf(con_arg, sizeof(con_arg), "file:%s", p->con_path);

	argv[argc++] = vlab;
	argv[argc++] = "run";
	for (i = 0; args[i] && i < VLAB_ARGS_MAX; i++)
		argv[argc++] = args[i];
	argv[argc++] = "--console";
	argv[argc++] = con_arg;
	argv[argc] = NULL;

	fflush(NULL);
	p->start = vlab__now();
	p->pid = fork();
	if (p->pid < 0)
		goto err;
	if (p->pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		/* Own process group: a timeout kill takes any helpers too. */
		setpgid(0, 0);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(p->out_fd, STDOUT_FILENO);
		dup2(p->out_fd, STDERR_FILENO);
		execv(vlab, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", vlab, strerror(errno));
		_exit(127);
	}
	setpgid(p->pid, p->pid);	/* also here: no race with the kill below */
	return 0;

err:
	fprintf(stderr, "vlab_start: %s\n", strerror(errno));
	p->pid = -1;
	if (con_fd >= 0)
		unlink(p->con_path);
	if (p->out_fd >= 0) {
		close(p->out_fd);
		unlink(p->out_path);
	}
	p->out_fd = -1;
	return -1;
}

static inline void vlab__kill(struct vlab_proc *p, int *st)
{
	kill(-p->pid, SIGKILL);
	kill(p->pid, SIGKILL);
	while (waitpid(p->pid, st, 0) < 0 && errno == EINTR)
		;
}

/* Fill @r from a process that has ended with wait status @st. */
static inline void vlab__collect(struct vlab_proc *p, struct vlab_result *r,
				 int st)
{
	r->seconds = vlab__now() - p->start;
	if (WIFEXITED(st))
		r->status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		r->signal = WTERMSIG(st);
	close(p->out_fd);
	r->console = vlab__slurp(p->con_path);
	r->output = vlab__slurp(p->out_path);
	unlink(p->con_path);
	unlink(p->out_path);
	p->pid = -1;
}

/*
 * Wait for @n processes started by vlab_start() and fill r[i] for each
 * (free them with vlab_result_free()). Each is killed @timeout_s after the
 * call (r[i].timed_out). Once one has failed (non-zero status or a
 * signal), the others' deadline shrinks to @grace_s from then: peers of a
 * dead VM would otherwise wait out the whole timeout. A process that
 * never started gets status -1 and empty output.
 */
static inline void vlab_wait_all(struct vlab_proc *p, struct vlab_result *r,
				 int n, int timeout_s, int grace_s)
{
	double deadline = vlab__now() + timeout_s;
	int i, left = 0, st;

	for (i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].status = -1;
		if (p[i].pid > 0) {
			left++;
		} else {
			r[i].console = calloc(1, 1);
			r[i].output = calloc(1, 1);
		}
	}
	while (left) {
		double now = vlab__now();

		for (i = 0; i < n; i++) {
			pid_t w;

			if (p[i].pid <= 0)
				continue;
			w = waitpid(p[i].pid, &st, WNOHANG);
			if (w < 0 && errno == EINTR)
				continue;
			if (w == 0) {
				if (now < deadline)
					continue;
				r[i].timed_out = true;
				vlab__kill(&p[i], &st);
			} else if (w < 0) {
				/* Not our child any more: nothing to report but the output. */
				fprintf(stderr, "vlab_wait_all: %s\n", strerror(errno));
				vlab__kill(&p[i], &st);
				st = SIGKILL;
			}
			vlab__collect(&p[i], &r[i], st);
			left--;
			if ((r[i].status != 0 || r[i].signal) &&
			    deadline > vlab__now() + grace_s)
				deadline = vlab__now() + grace_s;
		}
		if (left)
			usleep(20000);
	}
}

/*
 * Run `vlab run ARGS... --console file:TMP` and wait at most @timeout_s
 * seconds, then kill it. Fills @r (free it with vlab_result_free()).
 * Returns 0, or -1 if vlab could not be started at all.
 */
static inline int vlab_run(struct vlab_result *r, int timeout_s,
			   const char *const args[])
{
	struct vlab_proc p;
	int ret = vlab_start(&p, args);

	vlab_wait_all(&p, r, 1, timeout_s, 0);
	return ret;
}

/*
 * Run two vlab processes side by side (two guests on one hub) and wait
 * for both, at most @timeout_s. Returns 0, or -1 if either could not be
 * started (the other is still collected).
 */
static inline int vlab_run_pair(struct vlab_result r[2], int timeout_s,
				const char *const args0[],
				const char *const args1[])
{
	struct vlab_proc p[2];
	int ret = 0;

	if (vlab_start(&p[0], args0))
		ret = -1;
	if (vlab_start(&p[1], args1))
		ret = -1;
	vlab_wait_all(p, r, 2, timeout_s, 3);
	return ret;
}

static inline void vlab_result_free(struct vlab_result *r)
{
	free(r->console);
	free(r->output);
	r->console = r->output = NULL;
}

/* For a failing test's log: how vlab ended, its output and the console. */
static inline void vlab_result_dump(const struct vlab_result *r,
				    const char *what)
{
	fprintf(stderr, "---- %s: status %d signal %d%s, %.2f s\n", what,
		r->status, r->signal, r->timed_out ? " (timed out)" : "",
		r->seconds);
	fprintf(stderr, "---- vlab output:\n%s", r->output);
	fprintf(stderr, "---- console:\n%s---- end of %s\n", r->console, what);
}

/* Print console lines starting with @prefix (measurements worth keeping). */
static inline void vlab_console_echo(const struct vlab_result *r,
				     const char *prefix)
{
	const char *p = r->console;
	size_t plen = strlen(prefix);

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		if (!strncmp(p, prefix, plen))
			printf("%.*s\n", len, p);
		p = nl ? nl + 1 : NULL;
	}
	fflush(stdout);
}


/* Does the file at @path contain @needle? */
static inline bool vlab_file_has(const char *path, const char *needle)
{
	char *s = vlab__slurp(path);
	bool found = s && strstr(s, needle) != NULL;

	free(s);
	return found;
}

/*
 * Run build/vlab with @argv (argv[0] is ignored and replaced by the vlab
 * binary), wait for it, and capture its stdout and stderr in @out.
 * Returns its exit status, or -1 if a signal ended it.
 */
static inline int vlab_exec_capture(const char *argv_in[], char *out, size_t outlen)
{
	char vlab[PATH_MAX];
	int pipefd[2], st;
	size_t len = 0;
	pid_t pid;

	vlab_build_path(vlab, sizeof(vlab), "vlab");
	argv_in[0] = vlab;
	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execv(vlab, (char *const *)argv_in);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		ssize_t n = read(pipefd[0], out + len, outlen - 1 - len);

		if (n <= 0)
			break;
		len += n;
	}
	out[len] = '\0';
	close(pipefd[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * ---- named vlab processes in a test directory ----
 *
 * Tests that drive several vlab processes at once and talk to them (live
 * migration) give each a name, and keep its files in the test's own
 * directory vp_tdir: NAME.con (the guest console), NAME.out (vlab's
 * output) and NAME.sock (its control socket). vp_start() keeps a copy of
 * every process it starts in vp_procs[] for vp_kill_all(): a copy, since
 * the caller's struct vp may be a local that is gone by then.
 *
 *	vlab_tdir_create("vlab-migrate");
 *	vp_start(&src, "src", (const char *const []){ "--kernel", elf, NULL });
 *	vp_wait_file_has(&src, src.con, "ready", 10);
 *	VP_CTL(&src, "migrate", "uri=unix:...");	reply in vp_ctl_out
 *	vp_wait(&src, 20);
 *	vp_kill_all();
 *	vlab_rm_tree(vp_tdir);
 */
struct vp {
	pid_t pid;		/* 0 once reaped */
	int status;		/* exit status once ended, -1 after a signal */
	char name[32];
	char con[192], out[192], sock[192];
};

#define VP_MAX		64

/* ASan/UBSan builds (make test SANITIZE=1) run vlab several times slower. */
#if defined(__SANITIZE_ADDRESS__)
#define VLAB_SANITIZED	1
#else
#define VLAB_SANITIZED	0
#endif

static char vp_tdir[64];
static struct vp vp_procs[VP_MAX];
static int vp_nr_procs;

/* @pid was reaped with @status by its owner: the copy must not kill it again. */
static inline void vp_forget(pid_t pid, int status)
{
	int i;

	for (i = 0; i < vp_nr_procs; i++)
		if (vp_procs[i].pid == pid) {
			vp_procs[i].pid = 0;
			vp_procs[i].status = status;
		}
}
/* The reply of the last VP_CTL() / vp_ctl(). */
static char vp_ctl_out[65536];

/* Call @fn with the path and the name of each entry in @dir but . and .. */
static inline void vlab_dir_each(const char *dir,
				 void (*fn)(const char *path, const char *name, void *arg),
				 void *arg)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fn(path, de->d_name, arg);
	}
	closedir(d);
}

static inline void vlab_rm_tree(const char *dir);

static inline void vlab__rm_entry(const char *path, const char *name, void *arg)
{
	if (unlink(path) && errno == EISDIR)
		vlab_rm_tree(path);
}

/* Remove @dir and what is in it. */
static inline void vlab_rm_tree(const char *dir)
{
	vlab_dir_each(dir, vlab__rm_entry, NULL);
	rmdir(dir);
}

/* A fresh vp_tdir, /tmp/@prefix-XXXXXX. */
static inline void vlab_tdir_create(const char *prefix)
{
	snprintf(vp_tdir, sizeof(vp_tdir), "/tmp/%s-XXXXXX", prefix);
	ck_assert_ptr_nonnull(mkdtemp(vp_tdir));
}

/* build/@rel, which `make payloads` must have built. */
static inline const char *vlab_payload(const char *rel)
{
	static char path[PATH_MAX];

	vlab_build_path(path, sizeof(path), rel);
	ck_assert_msg(!access(path, R_OK), "%s: %s (run make payloads)", path, strerror(errno));
	return path;
}

/*
 * `vlab run ARGS... --console file:DIR/NAME.con --control DIR/NAME.sock`,
 * output to DIR/NAME.out. The process dies with the test (PR_SET_PDEATHSIG)
 * and leads its own process group. @p may be started again once it ended.
 */
static inline void vp_start(struct vp *p, const char *name, const char *const args[])
{
	char vlab[PATH_MAX], con_arg[200];
	const char *argv[48];
	int argc = 0, i;
	pid_t parent = getpid();

	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->con, sizeof(p->con), "%s/%s.con", vp_tdir, name);
	snprintf(p->out, sizeof(p->out), "%s/%s.out", vp_tdir, name);
	snprintf(p->sock, sizeof(p->sock), "%s/%s.sock", vp_tdir, name);
	snprintf(con_arg, sizeof(con_arg), "file:%s", p->con);
	vlab_build_path(vlab, sizeof(vlab), "vlab");
	argv[argc++] = vlab;
	argv[argc++] = "run";
	for (i = 0; args[i] && argc < 40; i++)
		argv[argc++] = args[i];
	argv[argc++] = "--console";
	argv[argc++] = con_arg;
	argv[argc++] = "--control";
	argv[argc++] = p->sock;
	argv[argc] = NULL;

	ck_assert_int_lt(vp_nr_procs, VP_MAX);
	fflush(NULL);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid > 0)
		vp_procs[vp_nr_procs++] = *p;
	if (p->pid == 0) {
		int out = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int null = open("/dev/null", O_RDONLY);

		/* A test that fails or times out takes its VMs with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);
		dup2(null, 0);
		dup2(out, 1);
		dup2(out, 2);
		execv(vlab, (char *const *)argv);
		_exit(127);
	}
	setpgid(p->pid, p->pid);
}

/* Has it ended? Reaps it if so. */
static inline bool vp_ended(struct vp *p)
{
	int st;

	if (p->pid <= 0)
		return true;
	if (waitpid(p->pid, &st, WNOHANG) != p->pid)
		return false;
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	vp_forget(p->pid, p->status);
	p->pid = 0;
	return true;
}

/* Kill it and its process group, if it still runs, and reap it (status -1). */
static inline void vp_kill_now(struct vp *p)
{
	if (p->pid <= 0)
		return;
	kill(-p->pid, SIGKILL);
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	vp_forget(p->pid, -1);
	p->pid = 0;
	p->status = -1;
}

/* Kill every process vp_start() started that still runs, and forget them all. */
static inline void vp_kill_all(void)
{
	int i;

	for (i = 0; i < vp_nr_procs; i++)
		vp_kill_now(&vp_procs[i]);
	vp_nr_procs = 0;
}

/* A failed test's evidence: @p's output, and the end of its guest's console. */
static inline void vp_dump(const struct vp *p)
{
	char *out = vlab__slurp(p->out), *con = vlab__slurp(p->con);
	size_t len = strlen(con);

	fprintf(stderr, "---- %s (status %d) output:\n%s", p->name, p->status, out);
	fprintf(stderr, "---- %s console (last 3000 bytes):\n%s\n---- end of %s\n", p->name,
		con + (len > 3000 ? len - 3000 : 0), p->name);
	free(out);
	free(con);
}

/*
 * The end of a test that ran several vlabs, passed or not: kill what
 * runs (dumping each one's logs if @failed), remove vp_tdir.
 */
static inline void vp_cleanup(bool failed)
{
	int i;

	for (i = 0; i < vp_nr_procs; i++) {
		vp_kill_now(&vp_procs[i]);
		if (failed)
			vp_dump(&vp_procs[i]);
	}
	vp_nr_procs = 0;
	if (vp_tdir[0])
		vlab_rm_tree(vp_tdir);
	vp_tdir[0] = '\0';
}

/*
 * Check fails a forked test with _exit(), which skips atexit(): on a
 * failure, kill the VMs and dump every log first.
 */
#define vp_check(cond, ...)						\
	do {								\
		bool __ok = (cond);					\
									\
		if (!__ok)						\
			vp_cleanup(true);				\
		ck_assert_msg(__ok, __VA_ARGS__);			\
	} while (0)

/* Its exit status once ended, or -1 after killing it at @deadline (vlab__now()). */
static inline int vp_wait_until(struct vp *p, double deadline)
{
	while (!vp_ended(p)) {
		if (vlab__now() > deadline) {
			fprintf(stderr, "%s: still running, killed\n", p->name);
			vp_kill_now(p);
			break;
		}
		usleep(10000);
	}
	return p->status;
}

/* Wait at most @timeout_s for it to end (then kill it); its exit status, -1 if killed. */
static inline int vp_wait(struct vp *p, double timeout_s)
{
	return vp_wait_until(p, vlab__now() + timeout_s);
}

/* SIGKILL to vlab itself, and reap it. */
static inline void vp_kill(struct vp *p)
{
	ck_assert_int_gt(p->pid, 0);
	kill(p->pid, SIGKILL);
	vp_wait(p, 5);
}

/* Wait until @path contains @needle; false if @p ended first or after @timeout_s. */
static inline bool vp_wait_file_has(struct vp *p, const char *path, const char *needle,
				    double timeout_s)
{
	double deadline = vlab__now() + timeout_s;

	for (;;) {
		if (vlab_file_has(path, needle))
			return true;
		if (vp_ended(p) || vlab__now() > deadline)
			return vlab_file_has(path, needle);
		usleep(5000);
	}
}

/* `vlab ctl --timeout 10 SOCK ARGS...` into vp_ctl_out; its exit status. */
static inline int vp_ctl(const char *sock, const char *const args[])
{
	const char *argv[32];
	int argc = 0, i;

	argv[argc++] = NULL;	/* the vlab binary, filled in by vlab_exec_capture */
	argv[argc++] = "ctl";
	argv[argc++] = "--timeout";
	argv[argc++] = "10";
	argv[argc++] = sock;
	for (i = 0; args[i] && argc < 31; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;

	return vlab_exec_capture(argv, vp_ctl_out, sizeof(vp_ctl_out));
}

#define VP_CTL(p, ...) vp_ctl((p)->sock, (const char *const []){ __VA_ARGS__, NULL })

/* A `vlab run --incoming` logs this just before it listens. */
static inline bool vp_dest_waiting(struct vp *p, double timeout_s)
{
	return vp_wait_file_has(p, p->out, "waiting for a migration stream", timeout_s);
}

/*
 * `vlab ctl SRC migrate uri=URI [EXTRA...]`; its exit status, the reply in
 * vp_ctl_out. The destination logs "waiting" just before it listens:
 * retry a refused connection for a moment rather than race it.
 */
static inline int vp_migrate(struct vp *src, const char *uri, const char *extra1,
			     const char *extra2)
{
	char uri_arg[256];
	double deadline = vlab__now() + 5;
	int ret;

	snprintf(uri_arg, sizeof(uri_arg), "uri=%s", uri);
	for (;;) {
		ret = VP_CTL(src, "migrate", uri_arg, extra1, extra2);
		if (ret != 1 || vlab__now() > deadline ||
		    (!strstr(vp_ctl_out, "Connection refused") &&
		     !strstr(vp_ctl_out, "No such file")))
			return ret;
		usleep(5000);
	}
}

/* The source's last log line: "migrate: done in T ms, downtime D ms, M MB in R round(s)". */
static inline bool vp_migrate_done(const struct vp *p, double *total, double *down, double *mb,
				   int *rounds)
{
	char *out = vlab__slurp(p->out), *s = strstr(out, "migrate: done in ");
	bool ok = s && sscanf(s, "migrate: done in %lf ms, downtime %lf ms, %lf MB in %d round",
			      total, down, mb, rounds) == 4;

	free(out);
	return ok;
}

#endif
