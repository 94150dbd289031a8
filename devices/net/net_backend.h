/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where virtio-net frames go: a tap device, a hub shared by several vlab
 * processes on one machine, or an in-process loopback for tests. Frames
 * cross this interface without virtio headers.
 */
#ifndef VLAB_NET_BACKEND_H
#define VLAB_NET_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include "devices/net/net_hub.h"

#define NET_FRAME_MAX	65550	/* 64 KiB GSO frame plus an Ethernet header */

enum net_backend_kind {
	NET_BACKEND_NONE,
	NET_BACKEND_TAP,
	NET_BACKEND_HUB,
	NET_BACKEND_LOOP,	/* every sent frame comes back */
	NET_BACKEND_NULL,	/* sink: sends vanish, nothing arrives */
};

struct net_backend {
	enum net_backend_kind kind;
	int fd;			/* readable when a frame is waiting; -1 for none */
	struct net_hub hub;
	/* loopback: a pipe-like queue of frames */
	int loop_wr;
	uint64_t tx_frames, rx_frames, tx_errors;
	/* capture: every frame sent and received, in pcap format; -1 for none */
	int pcap_fd;
	pthread_mutex_t pcap_lock;
	uint64_t pcap_frames, pcap_errors;
	uint64_t pcap_bytes, pcap_max;	/* the file's size, and where it stops */
	uint64_t pcap_skipped;		/* frames not captured: the file was full */
	char pcap_path[256];
};

/* pcap-max=N: a capture stops at N MiB (a line on stderr says so). */
#define NET_PCAP_MAX_MB_DEFAULT	1024
#define NET_PCAP_MAX_MB_LIMIT	(1u << 20)	/* 1 TiB */

/*
 * Parse "tap=NAME", "hub=PATH", "loop", "null" and open it; with @pcap (a
 * path, or NULL or "" for none) every frame sent and received is also
 * written there, a pcap file (Ethernet, microseconds) that tshark and
 * Wireshark read, until it holds @pcap_max bytes (0: the default,
 * NET_PCAP_MAX_MB_DEFAULT MiB). 0 or -1 + @err.
 */
int net_backend_open(struct net_backend *be, const char *spec, const char *pcap,
		     uint64_t pcap_max, char *err, size_t errlen);
void net_backend_close(struct net_backend *be);
/* Send one frame made of @iov; 0, or -errno (the frame is dropped). */
int net_backend_send(struct net_backend *be, const struct iovec *iov, int iovcnt);
/*
 * A burst of frames from one thread, sent between begin and end with
 * net_backend_send_burst(): a hub takes its lock once and looks for
 * sleeping readers at the end (and every NET_HUB_BURST_WAKE bytes,
 * net_hub.h); the other kinds send each frame as net_backend_send() does.
 */
void net_backend_burst(struct net_backend *be, bool begin);
int net_backend_send_burst(struct net_backend *be, const struct iovec *iov, int iovcnt);
/*
 * Whether net_backend_recv() may find a frame, cheaply and without side
 * effects (a poller's look): the hub answers from its rings; for the other
 * kinds only a read can tell, so the answer is true.
 */
bool net_backend_pending(struct net_backend *be);
/* Whether net_backend_pending() answers without a read (worth polling). */
bool net_backend_can_poll(const struct net_backend *be);
/*
 * The watch stream's "backend" object: kind, frames sent and received,
 * send errors, for a hub the times frames were lost to this reader
 * (lapped by a writer: every frame skipped; or a frame too big), and for
 * a capture the frames written and those skipped once it was full.
 */
struct json_writer;
void net_backend_watch(struct net_backend *be, struct json_writer *w);
/* Receive one frame into @buf; its length, 0 if none is waiting, -errno. */
ssize_t net_backend_recv(struct net_backend *be, void *buf, size_t len);

#endif
