// SPDX-License-Identifier: GPL-2.0
/*
 * Network backends. The hub needs no daemon and no privileges: PATH is a
 * directory, every vlab endpoint binds a unix datagram socket in it and
 * sends each frame to all the others, like an Ethernet hub; each guest's
 * receive filter drops what is not for it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "devices/net/net_backend.h"

#define HUB_RESCAN_NS	(100 * 1000 * 1000ULL)
#define HUB_PREFIX	"port-"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

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

static int hub_open(struct net_backend *be, const char *dir, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n;
	static int seq;

	if (strlen(dir) + sizeof(HUB_PREFIX) + 24 > sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--net hub=%s: path too long for a unix socket", dir);
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "--net hub=%s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(be->dir, sizeof(be->dir), "%s", dir);
	n = __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED);
	snprintf(be->self, sizeof(be->self), "%s/" HUB_PREFIX "%d-%d", dir, (int)getpid(), n);
	unlink(be->self);
	be->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (be->fd < 0) {
		snprintf(err, errlen, "--net hub: socket: %s", strerror(errno));
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", be->self);
	if (bind(be->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "--net hub=%s: bind %s: %s", dir, be->self, strerror(errno));
		close(be->fd);
		be->fd = -1;
		return -1;
	}
	/* Large frames (GSO) and bursts: give the socket room. */
	n = 4 << 20;
	setsockopt(be->fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof(n));
	setsockopt(be->fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n));
	be->kind = NET_BACKEND_HUB;
	return 0;
}

static void hub_drop_peer(struct net_backend *be, int i)
{
	close(be->peers[i].fd);
	be->peers[i] = be->peers[--be->nr_peers];
}

static int hub_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == ECONNREFUSED)
			unlink(path);	/* nobody bound there: a crashed endpoint's leftover */
		close(fd);
		return -1;
	}
	return fd;
}

/* Refresh the list of other endpoints in the hub directory. */
static void hub_scan(struct net_backend *be)
{
	struct dirent *d;
	struct stat st;
	DIR *dir = opendir(be->dir);
	int i;

	be->last_scan_ns = be->last_look_ns = now_ns();
	if (!stat(be->dir, &st))
		be->dir_mtime = st.st_mtim;
	if (!dir)
		return;
	for (i = 0; i < be->nr_peers; i++)
		be->peers[i].seen = false;
	while ((d = readdir(dir))) {
		char path[sizeof(be->peers[0].path)];
		int fd;

		if (strncmp(d->d_name, HUB_PREFIX, sizeof(HUB_PREFIX) - 1))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", be->dir, d->d_name) >= (int)sizeof(path))
			continue;
		if (!strcmp(path, be->self))
			continue;
		for (i = 0; i < be->nr_peers; i++)
			if (!strcmp(be->peers[i].path, path))
				break;
		if (i < be->nr_peers) {
			be->peers[i].seen = true;
			continue;
		}
		if (be->nr_peers == NET_HUB_MAX_PEERS)
			continue;
		fd = hub_connect(path);
		if (fd < 0)
			continue;
		memcpy(be->peers[be->nr_peers].path, path, sizeof(path));
		be->peers[be->nr_peers].fd = fd;
		be->peers[be->nr_peers++].seen = true;
	}
	closedir(dir);
	for (i = 0; i < be->nr_peers; i++)
		if (!be->peers[i].seen)
			hub_drop_peer(be, i--);
}

/*
 * An endpoint joined or left since the last scan (the directory's mtime
 * moved)? Looked at once a millisecond at most: a guest migrated to a new
 * vlab is then reached within a millisecond of its joining, not a rescan
 * period later (its peer's first frames after the move went to the old
 * endpoint only, and an RC requester waited out a retransmission timer).
 */
#define HUB_LOOK_NS	(1000 * 1000ULL)

static bool hub_dir_changed(struct net_backend *be)
{
	uint64_t now = now_ns();
	struct stat st;

	if (now - be->last_look_ns < HUB_LOOK_NS)
		return false;
	be->last_look_ns = now;
	return !stat(be->dir, &st) && (st.st_mtim.tv_sec != be->dir_mtime.tv_sec ||
				       st.st_mtim.tv_nsec != be->dir_mtime.tv_nsec);
}

/*
 * A full peer queue (net.unix.max_dgram_qlen is often only 10) is waited
 * on briefly rather than dropped at once: bursts then cross intact, while
 * a peer that stopped reading (paused, dead) costs at most HUB_WAIT_MS.
 */
#define HUB_WAIT_MS	5

static int hub_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	int i, ret = 0;

	pthread_mutex_lock(&be->lock);
	if (now_ns() - be->last_scan_ns > HUB_RESCAN_NS || hub_dir_changed(be))
		hub_scan(be);
	for (i = 0; i < be->nr_peers; i++) {
		struct pollfd pfd = { .fd = be->peers[i].fd, .events = POLLOUT };
		ssize_t r = writev(be->peers[i].fd, iov, iovcnt);

		if (r < 0 && errno == EAGAIN && poll(&pfd, 1, HUB_WAIT_MS) == 1)
			r = writev(be->peers[i].fd, iov, iovcnt);
		if (r >= 0)
			continue;
		if (errno == ECONNREFUSED || errno == ENOTCONN || errno == ENOENT) {
			/* That endpoint went away. */
			hub_drop_peer(be, i--);
			continue;
		}
		ret = -errno;	/* still full: like a hub, drop */
	}
	pthread_mutex_unlock(&be->lock);
	return ret;
}

/* pcap: the classic format, microsecond stamps, link type Ethernet. */
#define PCAP_MAGIC	0xa1b2c3d4u
#define PCAP_SNAPLEN	NET_FRAME_MAX
#define PCAP_LINK_ETH	1

static int pcap_open(struct net_backend *be, const char *path, char *err, size_t errlen)
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
	if (writev(be->pcap_fd, v, n) == (ssize_t)(sizeof(rec) + len))
		be->pcap_frames++;
	else
		be->pcap_errors++;
	pthread_mutex_unlock(&be->pcap_lock);
}

static int backend_open(struct net_backend *be, const char *spec, char *err, size_t errlen);

int net_backend_open(struct net_backend *be, const char *spec, const char *pcap, char *err,
		     size_t errlen)
{
	if (backend_open(be, spec, err, errlen))
		return -1;
	if (pcap && *pcap && pcap_open(be, pcap, err, errlen)) {
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
	pthread_mutex_init(&be->lock, NULL);
	pthread_mutex_init(&be->pcap_lock, NULL);
	if (!strncmp(spec, "tap=", 4) && spec[4])
		return tap_open(be, spec + 4, err, errlen);
	if (!strncmp(spec, "hub=", 4) && spec[4])
		return hub_open(be, spec + 4, err, errlen);
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
	if (be->kind == NET_BACKEND_HUB) {
		while (be->nr_peers)
			hub_drop_peer(be, 0);
		unlink(be->self);
	}
	if (be->pcap_fd >= 0)
		close(be->pcap_fd);
	be->fd = be->loop_wr = be->pcap_fd = -1;
	be->kind = NET_BACKEND_NONE;
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
		r = hub_send(be, iov, iovcnt);
		break;
	case NET_BACKEND_NULL:
		r = 0;
		break;
	default:
		r = -1;
		errno = ENODEV;
	}
	if (r < 0) {
		__atomic_fetch_add(&be->tx_errors, 1, __ATOMIC_RELAXED);
		return be->kind == NET_BACKEND_HUB ? (int)r : -errno;
	}
	__atomic_fetch_add(&be->tx_frames, 1, __ATOMIC_RELAXED);
	if (be->pcap_fd >= 0)
		pcap_write(be, iov, iovcnt);
	return 0;
}

ssize_t net_backend_recv(struct net_backend *be, void *buf, size_t len)
{
	ssize_t r;

	if (be->fd < 0)
		return 0;
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
