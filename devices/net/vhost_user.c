// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/net/vhost_user.h"

#define VHU_TIMEOUT_MS	30000
#define F(bit)		(1ULL << (bit))
/* The protocol features this front end speaks. */
#define VHU_PROTOCOL_OURS \
	(F(VHU_PROTOCOL_F_MQ) | F(VHU_PROTOCOL_F_REPLY_ACK) | F(VHU_PROTOCOL_F_LOG_SHMFD))

static int vhu_fail(struct vhu_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

int vhu_reply_check(const void *buf, size_t len, uint32_t req, uint32_t want, char *err,
		    size_t errlen)
{
	struct vhu_msg m;

	if (len < VHU_HDR_SIZE) {
		snprintf(err, errlen, "reply of %zu bytes, shorter than a header", len);
		return -1;
	}
	memcpy(&m, buf, VHU_HDR_SIZE);
	if ((m.flags & VHU_VERSION_MASK) != VHU_VERSION || !(m.flags & VHU_FLAG_REPLY)) {
		snprintf(err, errlen, "reply flags 0x%x: not a version 1 reply", m.flags);
		return -1;
	}
	if (m.request != req) {
		snprintf(err, errlen, "reply to request %u where %u was asked", m.request, req);
		return -1;
	}
	if (m.size != want || len != VHU_HDR_SIZE + (size_t)want) {
		snprintf(err, errlen, "reply to request %u has %u payload bytes, not %u", req,
			 m.size, want);
		return -1;
	}
	return 0;
}

/* Exactly @len bytes, or -1: the backend went silent, away, or sent fds. */
static int vhu_read(struct vhu_conn *c, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		char ctl[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
		struct iovec iov = { p, len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		struct pollfd pf = { c->fd, POLLIN, 0 };
		struct cmsghdr *cm;
		ssize_t n;
		int r = poll(&pf, 1, c->timeout_ms);

		if (r == 0)
			return vhu_fail(c, "the backend did not answer in %d s",
					c->timeout_ms / 1000);
		if (r < 0 && errno == EINTR)
			continue;
		n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return vhu_fail(c, "the backend closed the connection");
		/* No reply we ask for carries descriptors: drop any. */
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				int *fds = (int *)CMSG_DATA(cm);
				size_t i, nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				for (i = 0; i < nfd; i++)
					close(fds[i]);
			}
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* One reply to @req with @want payload bytes into @out. */
static int vhu_reply(struct vhu_conn *c, uint32_t req, void *out, uint32_t want)
{
	struct vhu_msg m;
	char why[128];

	if (vhu_read(c, &m, VHU_HDR_SIZE))
		return -1;
	if (m.size > sizeof(m.payload))
		return vhu_fail(c, "reply to request %u claims %u payload bytes", req, m.size);
	if (m.size && vhu_read(c, &m.payload, m.size))
		return -1;
	if (vhu_reply_check(&m, VHU_HDR_SIZE + m.size, req, want, why, sizeof(why)))
		return vhu_fail(c, "backend: %s", why);
	if (want)
		memcpy(out, &m.payload, want);
	return 0;
}

static int vhu_write(struct vhu_conn *c, uint32_t req, uint32_t flags, const void *payload,
		     uint32_t len, const int *fds, int nfds)
{
	struct vhu_msg m = { .request = req, .flags = VHU_VERSION | flags, .size = len };
	char ctl[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
	struct iovec iov = { &m, VHU_HDR_SIZE + len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (len > sizeof(m.payload) || nfds > VHU_MAX_FDS)
		return vhu_fail(c, "request %u too big", req);
	if (c->fd < 0)
		return vhu_fail(c, "not connected");
	if (len)
		memcpy(&m.payload, payload, len);
	if (nfds) {
		struct cmsghdr *cm;

		memset(ctl, 0, sizeof(ctl));
		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)iov.iov_len)
		return vhu_fail(c, "request %u not sent: %s", req,
				n < 0 ? strerror(errno) : "short write");
	return 0;
}

int vhu_send(struct vhu_conn *c, uint32_t req, const void *payload, uint32_t len,
	     const int *fds, int nfds, bool ack)
{
	uint64_t status;

	ack = ack && (c->protocol_features & F(VHU_PROTOCOL_F_REPLY_ACK));
	if (vhu_write(c, req, ack ? VHU_FLAG_NEED_REPLY : 0, payload, len, fds, nfds))
		return -1;
	if (!ack)
		return 0;
	if (vhu_reply(c, req, &status, sizeof(status)))
		return -1;
	if (status)
		return vhu_fail(c, "the backend refused request %u (status %llu)", req,
				(unsigned long long)status);
	return 0;
}

int vhu_get(struct vhu_conn *c, uint32_t req, const void *in, uint32_t in_len, void *out,
	    uint32_t out_len)
{
	if (vhu_write(c, req, 0, in, in_len, NULL, 0))
		return -1;
	return vhu_reply(c, req, out, out_len);
}

int vhu_set_log_base(struct vhu_conn *c, int fd, uint64_t size)
{
	struct vhu_log log = { .size = size };

	if (!(c->protocol_features & F(VHU_PROTOCOL_F_LOG_SHMFD)))
		return vhu_fail(c, "the backend cannot share a dirty log (no LOG_SHMFD)");
	/* With a shared log the backend answers once it mapped it (no payload). */
	if (vhu_write(c, VHU_SET_LOG_BASE, 0, &log, sizeof(log), &fd, 1))
		return -1;
	return vhu_reply(c, VHU_SET_LOG_BASE, NULL, 0);
}

int vhu_set_u64(struct vhu_conn *c, uint32_t req, uint64_t v, bool ack)
{
	return vhu_send(c, req, &v, sizeof(v), NULL, 0, ack);
}

int vhu_set_state(struct vhu_conn *c, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_vring_state s = { index, num };

	return vhu_send(c, req, &s, sizeof(s), NULL, 0, true);
}

int vhu_set_fd(struct vhu_conn *c, uint32_t req, uint32_t index, int fd)
{
	uint64_t v = (index & VHU_VRING_IDX_MASK) | (fd < 0 ? VHU_VRING_NOFD : 0);

	return vhu_send(c, req, &v, sizeof(v), &fd, fd < 0 ? 0 : 1, false);
}

int vhu_handshake(struct vhu_conn *c)
{
	uint64_t pf = 0;

	c->protocol_features = 0;
	c->queue_num = 0;
	if (!c->timeout_ms)
		c->timeout_ms = VHU_TIMEOUT_MS;
	if (vhu_get(c, VHU_GET_FEATURES, NULL, 0, &c->features, sizeof(c->features)))
		return -1;
	if (c->features & F(VHU_F_PROTOCOL_FEATURES)) {
		if (vhu_get(c, VHU_GET_PROTOCOL_FEATURES, NULL, 0, &pf, sizeof(pf)))
			return -1;
		pf &= VHU_PROTOCOL_OURS;
		if (vhu_set_u64(c, VHU_SET_PROTOCOL_FEATURES, pf, false))
			return -1;
		c->protocol_features = pf;
	}
	if (c->protocol_features & F(VHU_PROTOCOL_F_MQ)) {
		if (vhu_get(c, VHU_GET_QUEUE_NUM, NULL, 0, &pf, sizeof(pf)))
			return -1;
		c->queue_num = pf > 0xffff ? 0xffff : (uint32_t)pf;
	}
	return vhu_send(c, VHU_SET_OWNER, NULL, 0, NULL, 0, true);
}

int vhu_connect(struct vhu_conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	c->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return vhu_fail(c, "socket path '%s' too long", path);
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return vhu_fail(c, "socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		vhu_fail(c, "cannot connect to %s: %s", path, strerror(errno));
		goto fail;
	}
	if (vhu_handshake(c))
		goto fail;
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	return -1;
}

void vhu_close(struct vhu_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
