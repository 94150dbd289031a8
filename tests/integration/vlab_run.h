/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for integration tests that boot a guest with build/vlab: run it
 * with a deadline, capture the guest console and vlab's own output, and
 * decide up front whether this machine can run a VM at all.
 *
 * The test Makefile rule compiles each tests/<dir>/test_*.c on its own,
 * so the helpers are static inline functions here, not a separate object.
 *
 *	struct vlab_result r;
 *
 *	VLAB_SKIP_UNLESS_RUNNABLE();
 *	vlab_run(&r, 60, (const char *[]){ "--kernel", path, NULL });
 *	ck_assert_int_eq(r.status, 0);
 *	vlab_result_free(&r);
 */
#ifndef VLAB_TESTS_VLAB_RUN_H
#define VLAB_TESTS_VLAB_RUN_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
		for (i = 0; i < 3; i++) {
			char *slash = strrchr(exe, '/');

			if (!slash || slash == exe)
				break;
			*slash = '\0';
		}
		snprintf(probe, sizeof(probe), "%s/tests", exe);
		if (i == 3 && !access(probe, F_OK)) {
			snprintf(dir, sizeof(dir), "%s", exe);
			return dir;
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

/*
 * Run `vlab run ARGS... --console file:TMP` and wait at most @timeout_s
 * seconds, then kill it. Fills @r (free it with vlab_result_free()).
 * Returns 0, or -1 if vlab could not be started at all.
 */
static inline int vlab_run(struct vlab_result *r, int timeout_s,
			   const char *const args[])
{
	char vlab[PATH_MAX], con_path[] = "/tmp/vlab-console-XXXXXX";
	char out_path[] = "/tmp/vlab-output-XXXXXX", con_arg[sizeof(con_path) + 8];
	const char *argv[VLAB_ARGS_MAX + 5];
	int con_fd, out_fd, st, argc = 0, i;
	double start, deadline;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	vlab_build_path(vlab, sizeof(vlab), "vlab");

	con_fd = mkstemp(con_path);
	out_fd = mkstemp(out_path);
	if (con_fd < 0 || out_fd < 0)
		goto err;
	close(con_fd);
	snprintf(con_arg, sizeof(con_arg), "file:%s", con_path);

	argv[argc++] = vlab;
	argv[argc++] = "run";
	for (i = 0; args[i] && i < VLAB_ARGS_MAX; i++)
		argv[argc++] = args[i];
	argv[argc++] = "--console";
	argv[argc++] = con_arg;
	argv[argc] = NULL;

	fflush(NULL);
	start = vlab__now();
	pid = fork();
	if (pid < 0)
		goto err;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		/* Own process group: a timeout kill takes any helpers too. */
		setpgid(0, 0);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(out_fd, STDOUT_FILENO);
		dup2(out_fd, STDERR_FILENO);
		execv(vlab, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", vlab, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);	/* also here: no race with the kill below */

	deadline = start + timeout_s;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			goto err_wait;
		if (vlab__now() >= deadline) {
			r->timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			break;
		}
		usleep(20000);
	}
	r->seconds = vlab__now() - start;
	if (WIFEXITED(st))
		r->status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		r->signal = WTERMSIG(st);

	close(out_fd);
	r->console = vlab__slurp(con_path);
	r->output = vlab__slurp(out_path);
	unlink(con_path);
	unlink(out_path);
	return 0;

err_wait:
	kill(-pid, SIGKILL);
err:
	fprintf(stderr, "vlab_run: %s\n", strerror(errno));
	if (con_fd >= 0)
		unlink(con_path);
	if (out_fd >= 0) {
		close(out_fd);
		unlink(out_path);
	}
	r->console = calloc(1, 1);
	r->output = calloc(1, 1);
	return -1;
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

#endif
