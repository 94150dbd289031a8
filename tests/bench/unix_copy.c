// SPDX-License-Identifier: GPL-2.0
/*
 * unix_copy: the copy limit of a unix stream socket on this host, as a
 * yardstick for migration throughput. A writer process streams SIZE MiB
 * in CHUNK KiB writes from a REGION MiB buffer (cycling through it, as a
 * migration walks guest RAM) to a reader process that reads into its own
 * REGION MiB buffer (as the destination reads into guest RAM). Both
 * buffers are faulted in first. The time runs from the first write to
 * the reader's last byte.
 *
 *	unix_copy [-s SIZE_MIB] [-c CHUNK_KIB] [-r REGION_MIB] [-b BUSY] [-q]
 *		  [-d FRAME_BYTES]
 *
 * -d sends FRAME_BYTES datagrams on a unix datagram socket instead, one
 * frame each, as a vlab hub moves frames between two vlab processes: the
 * hub's raw frame copy limit.
 *
 * -b BUSY keeps BUSY more processes spinning meanwhile, as the vCPU
 * threads of a guest that runs during its migration do (on a small host
 * they compete with the copy for the CPUs).
 *
 * prints "unix_copy: 4096 MiB in 2200 ms: 1952 MB/s" (MB = 10^6 bytes),
 * or with -q only the MB/s number.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint8_t *region(size_t len)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	if (p == MAP_FAILED) {
		perror("unix_copy: mmap");
		exit(1);
	}
	/* Fault it in, with data that is not zero. */
	for (i = 0; i < len; i += 4096)
		p[i] = (uint8_t)(i >> 12) | 1;
	return p;
}

static void reader(int fd, uint64_t total, size_t chunk, size_t reg)
{
	uint8_t *buf = region(reg), done = 1;
	uint64_t got = 0;
	size_t off = 0;

	if (write(fd, &done, 1) != 1)	/* ready */
		exit(1);
	while (got < total) {
		size_t want = chunk < reg - off ? chunk : reg - off;
		ssize_t r = read(fd, buf + off, want);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "unix_copy: read: %s\n", r ? strerror(errno) : "EOF");
			exit(1);
		}
		got += r;
		off = (off + r) % reg;
	}
	if (write(fd, &done, 1) != 1)	/* all read */
		exit(1);
	exit(0);
}

/* A process that spins until killed. */
static pid_t spinner(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		volatile uint64_t n = 0;

		for (;;)
			n++;
	}
	return pid;
}

int main(int argc, char **argv)
{
	uint64_t size_mib = 4096, total, sent = 0;
	size_t chunk = 256 << 10, reg = 256 << 20, off = 0;
	bool quiet = false, dgram = false;
	int sv[2], opt, st, busy = 0, i;
	pid_t spin[64];
	double t0, secs;
	uint8_t *buf, b;
	pid_t pid;

	while ((opt = getopt(argc, argv, "s:c:r:b:qd:")) != -1) {
		switch (opt) {
		case 's':
			size_mib = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			chunk = strtoull(optarg, NULL, 0) << 10;
			break;
		case 'r':
			reg = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'b':
			busy = atoi(optarg);
			break;
		case 'q':
			quiet = true;
			break;
		case 'd':
			dgram = true;
			chunk = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: unix_copy [-s SIZE_MIB] [-c CHUNK_KIB] "
				"[-r REGION_MIB] [-b BUSY] [-q] [-d FRAME_BYTES]\n");
			return 2;
		}
	}
	if (!size_mib || !chunk || reg < chunk || busy < 0 || busy > 64) {
		fprintf(stderr, "unix_copy: bad sizes\n");
		return 2;
	}
	total = size_mib << 20;
	if (dgram) {
		if (chunk > 65000) {
			fprintf(stderr, "unix_copy: -d takes frames up to 65000 bytes\n");
			return 2;
		}
		/* Whole frames only, in the stream and in the buffers. */
		total -= total % chunk;
		reg -= reg % chunk;
	}
	if (socketpair(AF_UNIX, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0, sv)) {
		perror("unix_copy: socketpair");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("unix_copy: fork");
		return 1;
	}
	if (pid == 0) {
		close(sv[0]);
		reader(sv[1], total, chunk, reg);
	}
	close(sv[1]);
	buf = region(reg);
	if (read(sv[0], &b, 1) != 1) {
		fprintf(stderr, "unix_copy: the reader did not start\n");
		return 1;
	}
	for (i = 0; i < busy; i++)
		spin[i] = spinner();
	t0 = now();
	while (sent < total) {
		size_t n = chunk;
		ssize_t w;

		if (n > total - sent)
			n = total - sent;
		if (n > reg - off)
			n = reg - off;
		w = write(sv[0], buf + off, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			perror("unix_copy: write");
			return 1;
		}
		sent += w;
		off = (off + w) % reg;
	}
	if (read(sv[0], &b, 1) != 1) {
		fprintf(stderr, "unix_copy: the reader did not finish\n");
		return 1;
	}
	secs = now() - t0;
	for (i = 0; i < busy; i++) {
		kill(spin[i], SIGKILL);
		waitpid(spin[i], NULL, 0);
	}
	waitpid(pid, &st, 0);
	if (quiet)
		printf("%.0f\n", total / secs / 1e6);
	else
		printf("unix_copy: %llu MiB in %.0f ms, %zu%s, %d busy: %.0f MB/s\n",
		       (unsigned long long)size_mib, secs * 1e3, dgram ? chunk : chunk >> 10,
		       dgram ? "-byte datagrams" : " KiB writes", busy, total / secs / 1e6);
	return 0;
}
