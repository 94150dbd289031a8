// SPDX-License-Identifier: GPL-2.0
/*
 * The hub's shared-memory rings (devices/net/net_hub.c): frames arrive
 * intact and in order between two backends in one process and across a
 * fork, each waking a sleeping receiver; a receiver a whole ring behind
 * loses frames, counted, and the sender never blocks; a peer killed with
 * SIGKILL stops nobody and its leftovers are cleared; a ring scribbled
 * over costs only its own frames. Waits are polls with a 60 s deadline
 * that only a hang reaches.
 */
#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "devices/net/net_backend.h"
#include "vmm/control/json.h"
#include "vmm/core/vm.h"

#define HANG_MS		60000

static char dir[64], spec[80];
static uint8_t frame[NET_FRAME_MAX], got[NET_FRAME_MAX];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vlab-hub-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(spec, sizeof(spec), "hub=%s/h", dir);
}

static void teardown(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void open_be(struct net_backend *be)
{
	char err[256];

	ck_assert_msg(!net_backend_open(be, spec, NULL, 0, err, sizeof(err)), "%s", err);
}

/* Frame @seq: its length and bytes follow from the number. */
static size_t fill(uint32_t seq, size_t base)
{
	size_t len = base ? base : 60 + (seq * 37) % 1440, i;

	memcpy(frame, &seq, sizeof(seq));
	for (i = sizeof(seq); i < len; i++)
		frame[i] = (uint8_t)(seq + i);
	return len;
}

static int send_seq(struct net_backend *be, uint32_t seq, size_t base)
{
	size_t len = fill(seq, base);

	return net_backend_send(be, &(struct iovec){ frame, len }, 1);
}

/* The next frame, waiting for a wake-up if none is there; its number. */
static uint32_t recv_seq(struct net_backend *be, size_t base)
{
	struct pollfd pfd = { .fd = be->fd, .events = POLLIN };
	ssize_t n;
	uint32_t seq;

	while (!(n = net_backend_recv(be, got, sizeof(got))))
		ck_assert_msg(poll(&pfd, 1, HANG_MS) == 1, "no wake-up in %d ms", HANG_MS);
	ck_assert_int_gt(n, 4);
	memcpy(&seq, got, sizeof(seq));
	ck_assert_uint_eq(n, fill(seq, base));
	ck_assert_msg(!memcmp(got, frame, n), "frame %u garbled", seq);
	return seq;
}

/* Until the coarse clock the hub spaces its looks at DIR by has moved on by more than that. */
static void wait_past_a_look(void)
{
	uint64_t t = vlab_coarse_ns();

	while (vlab_coarse_ns() - t <= 1000000)
		usleep(500);
}

static int count_entries(const char *prefix)
{
	char path[96];
	struct dirent *d;
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof(path), "%s/h", dir);
	dp = opendir(path);
	ck_assert_ptr_nonnull(dp);
	while ((d = readdir(dp)))
		n += !strncmp(d->d_name, prefix, strlen(prefix));
	closedir(dp);
	return n;
}

START_TEST(in_order_one_process)
{
	struct net_backend a, b;
	uint32_t i;

	open_be(&a);
	open_be(&b);
	for (i = 0; i < 3000; i++) {
		ck_assert_int_eq(send_seq(&a, i, 0), 0);
		/* Read in bursts, so the receiver sleeps and is woken often. */
		if (i % 7 == 6) {
			uint32_t k;

			for (k = i - 6; k <= i; k++)
				ck_assert_uint_eq(recv_seq(&b, 0), k);
			ck_assert_int_eq(net_backend_recv(&b, got, sizeof(got)), 0);
		}
	}
	ck_assert_uint_eq(recv_seq(&b, 0), 2996);
	/* And back: each side reads only the other's frames. */
	ck_assert_int_eq(send_seq(&b, 77, 0), 0);
	ck_assert_uint_eq(recv_seq(&a, 0), 77);
	ck_assert_int_eq(net_backend_recv(&a, got, sizeof(got)), 0);
	ck_assert_uint_eq(b.hub.rx_lost, 0);
	net_backend_close(&a);
	net_backend_close(&b);
	ck_assert_int_eq(count_entries("port-") + count_entries("ring-"), 0);
}
END_TEST

static int send_seq_burst(struct net_backend *be, uint32_t seq)
{
	size_t len = fill(seq, 0);

	return net_backend_send_burst(be, &(struct iovec){ frame, len }, 1);
}

/*
 * A burst (net_backend_burst()): its frames arrive in order, and a reader
 * asleep when it began is woken by the frame that takes the burst past
 * NET_HUB_BURST_WAKE bytes of ring, not before, while it goes on; for the
 * frames after the last such look, at its end.
 */
START_TEST(burst_wakes_a_sleeping_reader)
{
	struct net_backend a, b;
	struct pollfd pfd;
	uint64_t from;
	uint32_t i, n;

	open_be(&a);
	open_be(&b);
	/* a reads b's hello (and so knows b); b finds nothing and sleeps. */
	ck_assert_int_eq(net_backend_recv(&a, got, sizeof(got)), 0);
	ck_assert_int_eq(net_backend_recv(&b, got, sizeof(got)), 0);
	pfd = (struct pollfd){ .fd = b.fd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	net_backend_burst(&a, true);
	from = a.hub.head;
	for (i = 0; a.hub.head - from < NET_HUB_BURST_WAKE; i++) {
		ck_assert_msg(poll(&pfd, 1, 0) == 0, "woken %llu bytes into the burst",
			      (unsigned long long)(a.hub.head - from));
		ck_assert_int_eq(send_seq_burst(&a, i), 0);
	}
	ck_assert_msg(poll(&pfd, 1, 0) == 1, "not woken by the burst's look");
	n = i;
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(recv_seq(&b, 0), i);
	ck_assert_int_eq(net_backend_recv(&b, got, sizeof(got)), 0);	/* asleep again */
	for (; i < n + 3; i++)
		ck_assert_int_eq(send_seq_burst(&a, i), 0);
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	net_backend_burst(&a, false);
	ck_assert_msg(poll(&pfd, 1, 0) == 1, "not woken at the burst's end");
	for (i = n; i < n + 3; i++)
		ck_assert_uint_eq(recv_seq(&b, 0), i);
	ck_assert_int_eq(net_backend_recv(&b, got, sizeof(got)), 0);
	ck_assert_uint_eq(b.hub.rx_lost, 0);
	ck_assert_uint_eq(a.tx_frames, n + 3);
	/* The lock is free again: a plain send goes through. */
	ck_assert_int_eq(send_seq(&a, 99, 0), 0);
	ck_assert_uint_eq(recv_seq(&b, 0), 99);
	net_backend_close(&a);
	net_backend_close(&b);
}
END_TEST

START_TEST(across_fork)
{
	struct net_backend a, c;
	int ready[2], status;
	char ch;
	pid_t pid;
	uint32_t i;

	ck_assert_int_eq(pipe(ready), 0);
	open_be(&a);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		open_be(&c);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (i = 0; i < 5000; i++)
			if (recv_seq(&c, 0) != i)
				_exit(3);
		send_seq(&c, 424242, 0);
		net_backend_close(&c);
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &ch, 1), 1);
	for (i = 0; i < 5000; i++)
		ck_assert_int_eq(send_seq(&a, i, 0), 0);
	ck_assert_uint_eq(recv_seq(&a, 0), 424242);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && !WEXITSTATUS(status), "child: status %#x", status);
	net_backend_close(&a);
}
END_TEST

/* 300 x 60000 bytes into an 8 MiB ring nobody reads: dropped, not waited for. */
/*
 * A reader joins within one clock tick of the writer's last look at DIR
 * (ext4 and tmpfs keep a directory's mtime to the tick; set back here to
 * make it so): the mtime says nothing changed, but the newcomer's hello
 * makes the writer's port readable, and the writer, reading it as a NIC
 * worker does, must find the newcomer and wake it for the frame it sent.
 * Before, a hello was taken for a plain wake-up and the writer looked
 * only at the mtime: the reader slept on.
 */
START_TEST(joiner_within_one_tick_is_woken)
{
	struct net_backend a, c;
	struct pollfd pa, pc;
	struct timespec times[2];
	struct stat st;
	char path[96];

	snprintf(path, sizeof(path), "%s/h", dir);
	open_be(&a);
	ck_assert_int_eq(stat(path, &st), 0);
	open_be(&c);
	ck_assert_int_eq(net_backend_recv(&c, got, sizeof(got)), 0);	/* c sleeps */
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
	wait_past_a_look();	/* past the writer's once-a-millisecond look */
	ck_assert_int_eq(send_seq(&a, 5, 0), 0);
	pa = (struct pollfd){ .fd = a.fd, .events = POLLIN };
	ck_assert_msg(poll(&pa, 1, HANG_MS) == 1, "no hello in %d ms", HANG_MS);
	ck_assert_int_eq(net_backend_recv(&a, got, sizeof(got)), 0);
	pc = (struct pollfd){ .fd = c.fd, .events = POLLIN };
	ck_assert_msg(poll(&pc, 1, HANG_MS) == 1, "the newcomer was never woken");
	ck_assert_uint_eq(recv_seq(&c, 0), 5);
	net_backend_close(&a);
	net_backend_close(&c);
}
END_TEST

/*
 * A reader that finds every ring empty drains its wake-ups; a hello among
 * them makes it scan DIR, and the newcomer's frames are read at once. The
 * newcomer woke this generation with its hello and wakes it no more, so
 * the port must stay readable while frames wait: a caller that stops after
 * some of them (virtio-net reads 64 a batch) would sleep on the rest for
 * good. Before, it did (a 64 KiB RDMA WRITE stream stalled until the
 * transport gave up).
 */
START_TEST(port_stays_readable_after_a_scan)
{
	struct net_backend a, w;
	struct pollfd pa;
	struct timespec times[2];
	struct stat st;
	char path[96];
	uint32_t i;

	snprintf(path, sizeof(path), "%s/h", dir);
	open_be(&a);
	ck_assert_int_eq(net_backend_recv(&a, got, sizeof(got)), 0);	/* a sleeps */
	ck_assert_int_eq(stat(path, &st), 0);
	open_be(&w);
	/* DIR as a saw it: only w's hello tells a to scan. */
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
	for (i = 1; i <= 3; i++)
		ck_assert_int_eq(send_seq(&w, i, 0), 0);
	ck_assert_uint_eq(recv_seq(&a, 0), 1);
	pa = (struct pollfd){ .fd = a.fd, .events = POLLIN };
	ck_assert_msg(poll(&pa, 1, 0) == 1, "frames wait and the port is not readable");
	ck_assert_uint_eq(recv_seq(&a, 0), 2);
	ck_assert_uint_eq(recv_seq(&a, 0), 3);
	net_backend_close(&w);
	net_backend_close(&a);
}
END_TEST

/*
 * A peer sends and closes at once (removing its port and ring names):
 * its last frame is still read, whatever order the reader looks at DIR
 * and its rings in. Before, a look at DIR first dropped the peer with its
 * frame unread (test across_fork failed so, now and then).
 */
START_TEST(last_frame_of_a_leaver_is_read)
{
	struct net_backend a, c;
	struct timespec times[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = 1 } };
	char path[96];

	snprintf(path, sizeof(path), "%s/h", dir);
	open_be(&a);
	open_be(&c);
	ck_assert_int_eq(net_backend_recv(&a, got, sizeof(got)), 0);
	ck_assert_int_eq(send_seq(&c, 77, 0), 0);
	net_backend_close(&c);
	/*
	 * The next call looks at DIR first (an mtime it has not seen, and
	 * the coarse clock past a look's spacing) and finds c gone.
	 */
	ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
	wait_past_a_look();
	ck_assert_uint_eq(recv_seq(&a, 0), 77);
	ck_assert_int_eq(net_backend_recv(&a, got, sizeof(got)), 0);
	ck_assert_int_eq(a.hub.nr_peers, 0);
	net_backend_close(&a);
}
END_TEST

/* @be's watch object has @s1, @s2 and @fmt (with @n) in it. */
static void watch_says(struct net_backend *be, const char *s1, const char *s2, const char *fmt,
		       unsigned long n)
{
	struct json_writer w;
	const char *text;
	char s3[64];

	json_writer_init(&w);
	json_obj_begin(&w);
	net_backend_watch(be, &w);
	json_obj_end(&w);
	text = json_writer_text(&w, NULL);
	ck_assert_ptr_nonnull(text);
	snprintf(s3, sizeof(s3), fmt, n);
	ck_assert_msg(strstr(text, s1) && strstr(text, s2) && strstr(text, s3),
		      "%s lacks %s, %s or %s", text, s1, s2, s3);
	json_writer_release(&w);
}

START_TEST(full_ring_drops)
{
	struct net_backend a, b;
	uint32_t i;

	open_be(&a);
	open_be(&b);
	for (i = 0; i < 300; i++)
		ck_assert_int_eq(send_seq(&a, i, 60000), 0);
	ck_assert_int_eq(net_backend_recv(&b, got, sizeof(got)), 0);
	ck_assert_uint_gt(b.hub.rx_lost, 0);
	for (i = 1000; i < 1005; i++)
		ck_assert_int_eq(send_seq(&a, i, 100), 0);
	for (i = 1000; i < 1005; i++)
		ck_assert_uint_eq(recv_seq(&b, 100), i);
	watch_says(&b, "\"kind\":\"hub\"", "\"rx_frames\":5,", "\"rx_lost_events\":%lu,",
		   (unsigned long)b.hub.rx_lost);
	watch_says(&a, "\"tx_frames\":305,", "\"tx_errors\":0,", "\"rx_lost_events\":%lu,", 0UL);
	net_backend_close(&a);
	net_backend_close(&b);
}
END_TEST

START_TEST(peer_killed)
{
	struct net_backend a, b, c;
	int ready[2], status;
	char ch;
	pid_t pid;
	uint32_t i;

	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid) {
		struct net_backend d;

		open_be(&d);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	ck_assert_int_eq(read(ready[0], &ch, 1), 1);
	open_be(&a);
	open_be(&b);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	for (i = 0; i < 2000; i++) {
		ck_assert_int_eq(send_seq(&a, i, 0), 0);
		ck_assert_uint_eq(recv_seq(&b, 0), i);
	}
	/* A newcomer clears the dead endpoint's socket and ring link. */
	open_be(&c);
	ck_assert_int_eq(count_entries("port-"), 3);
	ck_assert_int_eq(count_entries("ring-"), 3);
	ck_assert_int_eq(send_seq(&c, 5, 0), 0);
	ck_assert_uint_eq(recv_seq(&a, 0), 5);
	ck_assert_uint_eq(recv_seq(&b, 0), 5);
	net_backend_close(&a);
	net_backend_close(&b);
	net_backend_close(&c);
}
END_TEST

/* A writer that scribbles over its ring: the reader survives, drops, resyncs. */
START_TEST(corrupt_indexes)
{
	static const uint64_t heads[] = { ~0ULL, 8, 0x1234567, 1ULL << 40, 17 };
	struct net_backend a, b;
	uint8_t *data;
	uint32_t i, last = 0, k;

	open_be(&a);
	open_be(&b);
	data = (uint8_t *)a.hub.ring + NET_HUB_HDR_BYTES;
	for (k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
		ck_assert_int_eq(send_seq(&a, k, 0), 0);
		__atomic_store_n(&a.hub.ring->head, heads[k], __ATOMIC_RELEASE);
		__atomic_store_n(&a.hub.ring->reserve, heads[k] * 3, __ATOMIC_RELEASE);
		while (net_backend_recv(&b, got, sizeof(got)) > 0)
			;
	}
	/* Records with lying lengths and positions, under an honest head. */
	__atomic_store_n(&a.hub.ring->head, a.hub.head, __ATOMIC_RELEASE);
	__atomic_store_n(&a.hub.ring->reserve, a.hub.head, __ATOMIC_RELEASE);
	for (k = 0; k < 4; k++) {
		uint64_t off = (a.hub.head % NET_HUB_RING_BYTES);
		struct hub_rec bad = { a.hub.head, k < 2 ? NET_FRAME_MAX + 1 : 0xfffffff0, 0 };

		ck_assert_int_eq(send_seq(&a, 100 + k, 0), 0);
		if (k & 1)
			bad.pos ^= 0x40;
		memcpy(data + off, &bad, sizeof(bad));
		while (net_backend_recv(&b, got, sizeof(got)) > 0)
			;
	}
	ck_assert_uint_gt(b.hub.rx_lost, 0);
	/* Honest again: the frames written from now on all arrive. */
	for (i = 200; i < 210; i++)
		ck_assert_int_eq(send_seq(&a, i, 0), 0);
	while (last != 209) {
		last = recv_seq(&b, 0);
		ck_assert_uint_ge(last, 200);
	}
	net_backend_close(&a);
	net_backend_close(&b);
}
END_TEST

VLAB_SUITE_MAIN("net_hub", "rings", setup, teardown, 120,
	in_order_one_process, across_fork, full_ring_drops, peer_killed, corrupt_indexes,
	joiner_within_one_tick_is_woken, port_stays_readable_after_a_scan,
	last_frame_of_a_leaver_is_read, burst_wakes_a_sleeping_reader);
