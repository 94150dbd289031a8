// SPDX-License-Identifier: GPL-2.0
/*
 * hub_copy: the raw frame copy limit of vlab's hub (its shared-memory
 * rings), the yardstick for anything that moves frames over it (make
 * bench-rdma). Two processes open the hub in one fresh directory through
 * the same net_backend calls a NIC uses; one sends SIZE MiB in FRAME-byte
 * frames, the other receives them. The hub's writer never waits for a
 * reader, so the sender sends half a ring's worth, then waits for the
 * receiver to say it has them all (a pipe): flow control a NIC gets from
 * its transport. The time runs from the first frame to the last one read.
 *
 *	hub_copy [-s SIZE_MIB] [-d FRAME_BYTES] [-q]
 *
 * prints "hub_copy: 1024 MiB in 1024-byte frames in 700 ms: 1534 MB/s"
 * (MB = 10^6 bytes), or with -q only the MB/s number.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices/net/net_backend.h"
#include "devices/net/net_hub.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "hub_copy: %s\n", what);
	exit(1);
}

static void open_hub(struct net_backend *be, const char *spec)
{
	char err[256];

	if (net_backend_open(be, spec, NULL, 0, err, sizeof(err))) {
		fprintf(stderr, "hub_copy: %s\n", err);
		exit(1);
	}
}

/* The receiver: @total frames, and a byte on @ack after every @window of them. */
static int receive(const char *spec, uint64_t total, uint64_t window, size_t frame, int ready,
		   int ack)
{
	static uint8_t buf[NET_FRAME_MAX];
	struct net_backend be;
	uint64_t got = 0;
	ssize_t n;

	open_hub(&be, spec);
	if (write(ready, "r", 1) != 1)
		return 2;
	while (got < total) {
		n = net_backend_recv(&be, buf, sizeof(buf));
		if (n < 0)
			return 3;
		if (!n) {
			struct pollfd p = { .fd = be.fd, .events = POLLIN };

			poll(&p, 1, 100);
			continue;
		}
		if ((size_t)n != frame)
			return 4;
		if (!(++got % window) || got == total)
			if (write(ack, "a", 1) != 1)
				return 5;
	}
	net_backend_close(&be);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t size_mib = 1024, frame = 1024, total, window, sent, acks = 0;
	char dir[] = "/tmp/vlab-hub-copy.XXXXXX", spec[64], cmd[64], ch;
	static uint8_t buf[NET_FRAME_MAX];
	int ready[2], ack[2], status, opt;
	bool quiet = false;
	struct net_backend be;
	double t0, t;
	pid_t pid;

	while ((opt = getopt(argc, argv, "s:d:q")) != -1) {
		if (opt == 's')
			size_mib = strtoull(optarg, NULL, 0);
		else if (opt == 'd')
			frame = strtoull(optarg, NULL, 0);
		else if (opt == 'q')
			quiet = true;
		else
			die("usage: hub_copy [-s SIZE_MIB] [-d FRAME_BYTES] [-q]");
	}
	if (!size_mib || frame < 64 || frame > 16384)
		die("-s must be > 0, -d 64..16384");
	total = (size_mib << 20) / frame;
	window = NET_HUB_RING_BYTES / 2 / (frame + NET_HUB_REC_HDR + 8);
	if (!mkdtemp(dir) || pipe(ready) || pipe(ack))
		die("no scratch directory or pipe");
	snprintf(spec, sizeof(spec), "hub=%s", dir);
	memset(buf, 0x5a, sizeof(buf));
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid)
		_exit(receive(spec, total, window, frame, ready[1], ack[1]));
	close(ready[1]);
	close(ack[1]);
	open_hub(&be, spec);
	if (read(ready[0], &ch, 1) != 1)
		die("the receiver did not start");
	t0 = now();
	for (sent = 0; sent < total; sent++) {
		struct iovec iov = { buf, frame };

		if (sent && !(sent % window)) {
			if (read(ack[0], &ch, 1) != 1)
				die("the receiver went away");
			acks++;
		}
		if (net_backend_send(&be, &iov, 1))
			die("send failed");
	}
	/* One ack per whole window and one at the end (the same if they meet). */
	while (acks < (total + window - 1) / window) {
		if (read(ack[0], &ch, 1) != 1)
			die("the receiver went away");
		acks++;
	}
	t = now() - t0;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("the receiver failed (a frame lost or cut)");
	net_backend_close(&be);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "hub_copy: %s left behind\n", dir);
	if (quiet)
		printf("%.0f\n", total * frame / t / 1e6);
	else
		printf("hub_copy: %llu MiB in %llu-byte frames in %.0f ms: %.0f MB/s\n",
		       (unsigned long long)size_mib, (unsigned long long)frame, t * 1e3,
		       total * frame / t / 1e6);
	return 0;
}
