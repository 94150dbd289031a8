// SPDX-License-Identifier: GPL-2.0
/*
 * vlab: a small VMM for virtio device work. main() parses the command
 * line, builds the VM and runs the event loop: console input and output,
 * signals, and the stop request that ends the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "devices/legacy/uart8250.h"
#include "vmm/core/console.h"
#include "vmm/migrate/migrate.h"
#include "vmm/control/control.h"
#include "vmm/control/ctl.h"
#include "vmm/core/vm.h"

#define VLAB_VERSION	"0.1"

static struct termios saved_tio;
static bool tio_saved;

static void console_restore(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	tio_saved = false;
}

static int console_open(struct console *con, struct vm_config *cfg)
{
	con->in_fd = -1;
	con->out_fd = -1;
	switch (cfg->console) {
	case CONSOLE_NONE:
		return 0;
	case CONSOLE_FILE:
		con->out_fd = open(cfg->console_path,
				   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (con->out_fd < 0) {
			fprintf(stderr, "vlab: --console file:%s: %s\n",
				cfg->console_path, strerror(errno));
			return -1;
		}
		return 0;
	case CONSOLE_STDIO:
		con->out_fd = STDOUT_FILENO;
		con->in_fd = STDIN_FILENO;
		if (isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &saved_tio)) {
			struct termios raw = saved_tio;

			cfmakeraw(&raw);
			tio_saved = true;
			atexit(console_restore);
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
			con->raw = true;
		}
		return 0;
	}
	return 0;
}

static void console_flush(struct vm *vm, struct console *con)
{
	uint8_t buf[4096];
	int n;

	while ((n = uart8250_take_output(vm->uart, buf, sizeof(buf))) > 0) {
		uint8_t *p = buf;

		while (con->out_fd >= 0 && n > 0) {
			ssize_t w = write(con->out_fd, p, n);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				/* Console gone (closed pipe): keep the guest running. */
				con->out_fd = -1;
				break;
			}
			p += w;
			n -= w;
		}
	}
}

/* SIGINT/TERM/HUP stop the guest; SIGQUIT dumps the vCPUs' registers. */
static void vlab_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGHUP);
	sigaddset(sigs, SIGQUIT);
}

struct run_ctx {
	struct vm *vm;
	struct console *con;
};

static void on_console_output(int fd, void *opaque)
{
	struct run_ctx *ctx = opaque;
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		return;
	console_flush(ctx->vm, ctx->con);
}

static void on_signal(int fd, void *opaque)
{
	struct run_ctx *ctx = opaque;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGQUIT) {
		int i;

		/* A look at a guest that seems stuck, without stopping it. */
		vm_pause(ctx->vm);
		for (i = 0; i < ctx->vm->nr_cpus; i++)
			vcpu_dump(&ctx->vm->cpus[i], stderr);
		vm_resume(ctx->vm);
		return;
	}
	vlab_log("signal %d: stopping the guest", si.ssi_signo);
	vm_stop(ctx->vm, VM_STOP_USER, 128 + si.ssi_signo);
}

static void on_console_input(int fd, void *opaque)
{
	struct run_ctx *ctx = opaque;
	uint8_t in[256], out[sizeof(in) + 1];
	size_t nout;
	ssize_t r = read(fd, in, sizeof(in));

	if (r <= 0) {
		event_loop_del(&ctx->vm->loop, fd);
		ctx->con->in_fd = -1;
		return;
	}
	if (console_filter(ctx->con, in, r, out, &nout) == CONSOLE_QUIT) {
		vlab_log("quit from the console");
		vm_stop(ctx->vm, VM_STOP_USER, 0);
	}
	/* The FIFO holds 16 bytes; the rest of a paste is dropped. */
	uart8250_receive(ctx->vm->uart, out, nout);
}

static void on_stop(int fd, void *opaque)
{
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) < 0)
		return;
}

/* Run until the VM stops; returns the process exit status. */
static int vm_event_loop(struct vm *vm, struct console *con)
{
	struct run_ctx ctx = { vm, con };
	sigset_t sigs;
	int sfd, ret;

	vlab_signals(&sigs);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 ||
	    event_loop_add(&vm->loop, vm->stop_fd, on_stop, &ctx) ||
	    event_loop_add(&vm->loop, vm->uart->tx_notify_fd, on_console_output, &ctx) ||
	    event_loop_add(&vm->loop, sfd, on_signal, &ctx)) {
		vlab_log("event loop: %s", strerror(errno));
		vm_stop(vm, VM_STOP_CRASH, VLAB_EXIT_GUEST_CRASH);
	}
	/* e.g. /dev/null is not pollable: then there is simply no input. */
	if (con->in_fd >= 0 && event_loop_add(&vm->loop, con->in_fd, on_console_input, &ctx))
		con->in_fd = -1;

	ret = event_loop_run(&vm->loop);
	if (ret) {
		vlab_log("event loop: %s", strerror(-ret));
		vm_stop(vm, VM_STOP_CRASH, VLAB_EXIT_GUEST_CRASH);
	}
	vm_join(vm);
	console_flush(vm, con);
	event_loop_del(&vm->loop, vm->stop_fd);
	event_loop_del(&vm->loop, vm->uart->tx_notify_fd);
	event_loop_del(&vm->loop, sfd);
	if (con->in_fd >= 0)
		event_loop_del(&vm->loop, con->in_fd);
	if (sfd >= 0)
		close(sfd);
	return vm->exit_code;
}

static int cmd_run(int argc, char **argv)
{
	struct vm_config cfg;
	struct console con;
	struct vm vm;
	sigset_t sigs;
	char err[512];
	int status;

	if (cli_parse_run(argc, argv, &cfg, err, sizeof(err))) {
		if (!strcmp(err, "help")) {
			cli_usage(stdout);
			return 0;
		}
		fprintf(stderr, "vlab run: %s\n", err);
		fprintf(stderr, "try 'vlab run --help'\n");
		return VLAB_EXIT_USAGE;
	}
	/* Signals go to the event loop's signalfd, in every thread. */
	vlab_signals(&sigs);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (vm_create(&vm, &cfg, err, sizeof(err))) {
		fprintf(stderr, "vlab: %s\n", err);
		return VLAB_EXIT_USAGE;
	}
	if (console_open(&con, &cfg)) {
		vm_destroy(&vm);
		return VLAB_EXIT_USAGE;
	}
	/* Before the guest runs: a busy socket path is a usage error. */
	if (control_init(&vm, cfg.control_path, err, sizeof(err))) {
		fprintf(stderr, "vlab: %s\n", err);
		console_restore();
		vm_destroy(&vm);
		return VLAB_EXIT_USAGE;
	}
	migrate_init(&vm);
	if (vm.quirks)
		vlab_log("emulating KVM host: finishing rejected instructions, "
			 "kernel switches added");
	/*
	 * A refused or broken stream loses nothing: the source keeps the
	 * guest. The wait runs beside the event loop, which starts the vCPUs
	 * once the stream is in (migrate.h).
	 */
	if (cfg.incoming && migrate_incoming_start(&vm, cfg.incoming, err, sizeof(err))) {
		fprintf(stderr, "vlab: incoming migration refused: %s\n", err);
		migrate_exit(&vm);
		control_exit(&vm);
		console_restore();
		vm_destroy(&vm);
		return VLAB_EXIT_USAGE;
	}
	if (!cfg.incoming && vm_start(&vm)) {
		vlab_log("cannot start vCPU threads");
		vm_join(&vm);
		migrate_exit(&vm);
		control_exit(&vm);
		vm_destroy(&vm);
		return VLAB_EXIT_GUEST_CRASH;
	}
	status = vm_event_loop(&vm, &con);
	migrate_exit(&vm);
	control_exit(&vm);
	console_restore();
	switch (vm.stop_reason) {
	case VM_STOP_POWEROFF:
		vlab_log("guest powered off");
		break;
	case VM_STOP_RESET:
		vlab_log("guest reset");
		break;
	case VM_STOP_CRASH:
		vlab_log("guest crashed");
		break;
	case VM_STOP_MIGRATED:
		vlab_log("guest migrated; it runs at the destination now");
		break;
	case VM_STOP_PANIC:
		/* pvpanic said so when the guest wrote it. */
		break;
	default:
		break;
	}
	if (con.out_fd > STDERR_FILENO)
		close(con.out_fd);
	vm_destroy(&vm);
	return status;
}

/*
 * `vlab dash`: the dashboard is build/vlab-dash beside this binary, so
 * that the VMM never links SDL2; built only where SDL2 is installed.
 */
static int cmd_dash(int argc, char **argv)
{
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - sizeof("vlab-dash"));

	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			strcpy(slash + 1, "vlab-dash");
			execv(exe, argv);
		}
	}
	fprintf(stderr, "vlab dash: the dashboard (vlab-dash, beside vlab) was not built: it "
		"needs SDL2.\nInstall it (Debian: apt-get install libsdl2-dev, or `make deps`) "
		"and run make again.\n");
	return VLAB_EXIT_USAGE;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vlab run --kernel FILE [options]   (vlab run --help)\n"
		   "       vlab ctl PATH CMD [key=value ...]  (vlab ctl --help)\n"
		   "       vlab dash PATH [--follow DEST] [--screenshot FILE]  (vlab dash --help)\n"
		   "       vlab --version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return VLAB_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl"))
		return ctl_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "dash"))
		return cmd_dash(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version")) {
		printf("vlab %s\n", VLAB_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "vlab: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return VLAB_EXIT_USAGE;
}
