// SPDX-License-Identifier: GPL-2.0
/*
 * Network backends: tap, the hub (net_hub.c), loop, null; and capture.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "devices/net/net_backend.h"
#include "vmm/control/json.h"

static int tap_open(struct net_backend *be, const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;

	be->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (be->fd < 0) {
		snprintf(err, errlen, "--net tap=%s: /dev/net/tun: %s", name, strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(be->fd, TUNSETIFF, &ifr) < 0) {
		snprintf(err, errlen, "--net tap=%s: TUNSETIFF: %s%s", name, strerror(errno),
			 errno == EPERM ? " (needs CAP_NET_ADMIN or a tap owned by you)" : "");
		close(be->fd);
		be->fd = -1;
		return -1;
	}
	be->kind = NET_BACKEND_TAP;
	return 0;
}

/* pcap: the classic format, microsecond stamps, link type Ethernet. */
#define PCAP_MAGIC	0xa1b2c3d4u
#define PCAP_SNAPLEN	NET_FRAME_MAX
#define PCAP_LINK_ETH	1

static int pcap_open(struct net_backend *be, const char *path, uint64_t max, char *err,
		     size_t errlen)
{
	uint32_t hdr[6] = { PCAP_MAGIC, 2 | 4u << 16, 0, 0, PCAP_SNAPLEN, PCAP_LINK_ETH };

	be->pcap_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (be->pcap_fd < 0 || write(be->pcap_fd, hdr, sizeof(hdr)) != sizeof(hdr)) {
		snprintf(err, errlen, "pcap=%s: %s", path, strerror(errno ? errno : EIO));
		if (be->pcap_fd >= 0)
			close(be->pcap_fd);
		be->pcap_fd = -1;
		return -1;
	}
	snprintf(be->pcap_path, sizeof(be->pcap_path), "%s", path);
	be->pcap_bytes = sizeof(hdr);
	be->pcap_max = max ? max : (uint64_t)NET_PCAP_MAX_MB_DEFAULT << 20;
	return 0;
}

/* One record, written whole: several queue workers capture at once. */
static void pcap_write(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct iovec v[1 + 8];
	struct timespec ts;
	uint32_t rec[4];
	size_t len = 0;
	int i, n = 1;

	clock_gettime(CLOCK_REALTIME, &ts);
	for (i = 0; i < iovcnt && n < 9; i++) {
		v[n++] = iov[i];
		len += iov[i].iov_len;
	}
	if (i < iovcnt || len > PCAP_SNAPLEN) {
		__atomic_fetch_add(&be->pcap_errors, 1, __ATOMIC_RELAXED);
		return;
	}
	rec[0] = (uint32_t)ts.tv_sec;
	rec[1] = (uint32_t)(ts.tv_nsec / 1000);
	rec[2] = rec[3] = (uint32_t)len;
	v[0] = (struct iovec){ rec, sizeof(rec) };
	pthread_mutex_lock(&be->pcap_lock);
	if (be->pcap_bytes + sizeof(rec) + len > be->pcap_max) {
		/* Full: the file stays a valid capture of what came before. */
		if (!be->pcap_skipped++)
			fprintf(stderr, "vlab: pcap=%s: %" PRIu64 " MiB reached (pcap-max); "
				"no more frames are captured\r\n", be->pcap_path, be->pcap_max >> 20);
	} else if (writev(be->pcap_fd, v, n) == (ssize_t)(sizeof(rec) + len)) {
		be->pcap_frames++;
		be->pcap_bytes += sizeof(rec) + len;
	} else {
		be->pcap_errors++;
	}
	pthread_mutex_unlock(&be->pcap_lock);
}

static int backend_open(struct net_backend *be, const char *spec, char *err, size_t errlen);

int net_backend_open(struct net_backend *be, const char *spec, const char *pcap,
		     uint64_t pcap_max, char *err, size_t errlen)
{
	if (backend_open(be, spec, err, errlen))
		return -1;
	if (pcap && *pcap && pcap_open(be, pcap, pcap_max, err, errlen)) {
		net_backend_close(be);
		return -1;
	}
	return 0;
}

static int backend_open(struct net_backend *be, const char *spec, char *err, size_t errlen)
{
	int p[2];

	memset(be, 0, sizeof(*be));
	be->fd = be->loop_wr = be->pcap_fd = -1;
	pthread_mutex_init(&be->pcap_lock, NULL);
	if (!strncmp(spec, "tap=", 4) && spec[4])
		return tap_open(be, spec + 4, err, errlen);
	if (!strncmp(spec, "hub=", 4) && spec[4]) {
		if (net_hub_open(&be->hub, spec + 4, &be->fd, err, errlen))
			return -1;
		be->kind = NET_BACKEND_HUB;
		return 0;
	}
	if (!strcmp(spec, "loop")) {
		/* A datagram socketpair keeps frame boundaries for free. */
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p) < 0) {
			snprintf(err, errlen, "--net loop: %s", strerror(errno));
			return -1;
		}
		be->fd = p[0];
		be->loop_wr = p[1];
		be->kind = NET_BACKEND_LOOP;
		return 0;
	}
	if (!strcmp(spec, "null")) {
		be->kind = NET_BACKEND_NULL;
		return 0;
	}
	snprintf(err, errlen, "--net: '%s' is not tap=NAME, hub=PATH, loop or null", spec);
	return -1;
}

void net_backend_close(struct net_backend *be)
{
	if (be->fd >= 0)
		close(be->fd);
	if (be->loop_wr >= 0)
		close(be->loop_wr);
	if (be->kind == NET_BACKEND_HUB)
		net_hub_close(&be->hub);
	if (be->pcap_fd >= 0)
		close(be->pcap_fd);
	be->fd = be->loop_wr = be->pcap_fd = -1;
	be->kind = NET_BACKEND_NONE;
}

/* A send's result @r counted (and the frame captured): 0 or -errno. */
static int net_backend_sent(struct net_backend *be, ssize_t r, const struct iovec *iov,
			    int iovcnt)
{
	if (r < 0) {
		__atomic_fetch_add(&be->tx_errors, 1, __ATOMIC_RELAXED);
		return be->kind == NET_BACKEND_HUB ? (int)r : -errno;
	}
	__atomic_fetch_add(&be->tx_frames, 1, __ATOMIC_RELAXED);
	if (be->pcap_fd >= 0)
		pcap_write(be, iov, iovcnt);
	return 0;
}

void net_backend_burst(struct net_backend *be, bool begin)
{
	if (be->kind != NET_BACKEND_HUB)
		return;
	if (begin)
		net_hub_burst_begin(&be->hub);
	else
		net_hub_burst_end(&be->hub);
}

int net_backend_send_burst(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	if (be->kind != NET_BACKEND_HUB)
		return net_backend_send(be, iov, iovcnt);
	return net_backend_sent(be, net_hub_burst_send(&be->hub, iov, iovcnt), iov, iovcnt);
}

int net_backend_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	ssize_t r;

	switch (be->kind) {
	case NET_BACKEND_TAP:
		r = writev(be->fd, iov, iovcnt);
		break;
	case NET_BACKEND_LOOP:
		r = writev(be->loop_wr, iov, iovcnt);
		break;
	case NET_BACKEND_HUB:
		r = net_hub_send(&be->hub, iov, iovcnt);
		break;
	case NET_BACKEND_NULL:
		r = 0;
		break;
	default:
		r = -1;
		errno = ENODEV;
	}
	return net_backend_sent(be, r, iov, iovcnt);
}

bool net_backend_pending(struct net_backend *be)
{
	if (be->fd < 0)
		return false;
	return be->kind == NET_BACKEND_HUB ? net_hub_pending(&be->hub) : true;
}

bool net_backend_can_poll(const struct net_backend *be)
{
	return be->fd >= 0 && be->kind == NET_BACKEND_HUB;
}

ssize_t net_backend_recv(struct net_backend *be, void *buf, size_t len)
{
	ssize_t r;

	if (be->fd < 0)
		return 0;
	if (be->kind == NET_BACKEND_HUB)
		r = net_hub_recv(&be->hub, be->fd, buf, len);
	else
		r = read(be->fd, buf, len);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (r > 0) {
		__atomic_fetch_add(&be->rx_frames, 1, __ATOMIC_RELAXED);
		if (be->pcap_fd >= 0)
			pcap_write(be, &(struct iovec){ buf, (size_t)r }, 1);
	}
	return r;
}

void net_backend_watch(struct net_backend *be, struct json_writer *w)
{
	static const char *const kinds[] = {
		[NET_BACKEND_NONE] = "none", [NET_BACKEND_TAP] = "tap", [NET_BACKEND_HUB] = "hub",
		[NET_BACKEND_LOOP] = "loop", [NET_BACKEND_NULL] = "null",
	};

	json_key(w, "backend");
	json_obj_begin(w);
	json_kv_string(w, "kind", kinds[be->kind]);
	json_kv_uint(w, "tx_frames", __atomic_load_n(&be->tx_frames, __ATOMIC_RELAXED));
	json_kv_uint(w, "rx_frames", __atomic_load_n(&be->rx_frames, __ATOMIC_RELAXED));
	json_kv_uint(w, "tx_errors", __atomic_load_n(&be->tx_errors, __ATOMIC_RELAXED));
	if (be->kind == NET_BACKEND_HUB) {
		json_kv_uint(w, "rx_lost_events",
			     __atomic_load_n(&be->hub.rx_lost, __ATOMIC_RELAXED));
		net_hub_watch(&be->hub, w);
	}
	if (be->pcap_fd >= 0) {
		pthread_mutex_lock(&be->pcap_lock);
		json_kv_uint(w, "pcap_frames", be->pcap_frames);
		json_kv_uint(w, "pcap_skipped", be->pcap_skipped);
		pthread_mutex_unlock(&be->pcap_lock);
	}
	json_obj_end(w);
}
