// SPDX-License-Identifier: GPL-2.0
/*
 * The NIC backends' common part (devices/net/net_backend.c): a capture
 * stops at its size limit, leaving a valid pcap file of what came before,
 * says so once, and counts the frames it skipped.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "devices/net/net_backend.h"

#define PCAP_HDR	24
#define PCAP_REC	16

static char path[64];

static void setup(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/vlab-pcap-test.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
}

/* Room for two 100-byte frames and a little: the third and later are skipped. */
START_TEST(capture_stops_at_its_limit)
{
	uint8_t frame[100], back[200];
	struct iovec iov = { frame, sizeof(frame) };
	struct net_backend be;
	char err[256];
	struct stat st;
	int i;

	memset(frame, 0xab, sizeof(frame));
	ck_assert_msg(!net_backend_open(&be, "loop", path,
					PCAP_HDR + 2 * (PCAP_REC + sizeof(frame)) + 50, err,
					sizeof(err)), "%s", err);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(net_backend_send(&be, &iov, 1), 0);
		/* The loop hands it back: the receive side is captured too. */
		ck_assert_int_eq(net_backend_recv(&be, back, sizeof(back)), sizeof(frame));
	}
	ck_assert_uint_eq(be.pcap_frames, 2);
	ck_assert_uint_eq(be.pcap_skipped, 8);
	ck_assert_uint_eq(be.pcap_errors, 0);
	net_backend_close(&be);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, PCAP_HDR + 2 * (PCAP_REC + sizeof(frame)));
}
END_TEST

VLAB_SUITE_MAIN("net_backend", "pcap", setup, teardown, 30, capture_stops_at_its_limit);
