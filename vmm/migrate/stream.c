// SPDX-License-Identifier: GPL-2.0
/*
 * The migration stream: records with checksummed headers and payloads,
 * the page checksum, throttled and spliced sending, the receiving reads,
 * and the URIs both ends open (unix:, tcp:, file:).
 */
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <linux/kvm.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/control/control.h"
#include "vmm/x86/cpu_state.h"
#include "vmm/mem/dirty_ring.h"
#include "vmm/control/json.h"
#include "vmm/migrate/migrate.h"
#include "vmm/migrate/state.h"
#include "vmm/core/vm.h"
#include "vmm/migrate/internal.h"


/*
 * Fletcher-like sums over eight 64-bit lanes (a: sum of words, c: sum of
 * the running sums, so order counts). Independent lanes let the compiler
 * keep four SSE2 adds in flight; a single chain ran at a third of the
 * speed and cost as much as the socket copy itself. Streamed: update()
 * takes whole 64-byte blocks, and a shorter tail only at the end.
 */
#define MIG_CSUM_BLOCK	64

/* The lanes are named variables: in arrays GCC keeps them in memory. */
static void mig_csum_blocks(struct mig_csum *ck, const uint8_t *src, uint64_t len)
{
	mig_lanes a0 = ck->a[0], a1 = ck->a[1], a2 = ck->a[2], a3 = ck->a[3];
	mig_lanes c0 = ck->c[0], c1 = ck->c[1], c2 = ck->c[2], c3 = ck->c[3];
	uint64_t i;

	for (i = 0; i + MIG_CSUM_BLOCK <= len; i += MIG_CSUM_BLOCK) {
		mig_lanes w[4];

		memcpy(w, src + i, sizeof(w));
		a0 += w[0];
		a1 += w[1];
		a2 += w[2];
		a3 += w[3];
		c0 += a0;
		c1 += a1;
		c2 += a2;
		c3 += a3;
	}
	ck->a[0] = a0; ck->a[1] = a1; ck->a[2] = a2; ck->a[3] = a3;
	ck->c[0] = c0; ck->c[1] = c1; ck->c[2] = c2; ck->c[3] = c3;
}

void mig_csum_init(struct mig_csum *ck, uint64_t seed, uint64_t len)
{
	int j;

	for (j = 0; j < 4; j++) {
		ck->a[j] = (mig_lanes){ seed, seed ^ 0x9e3779b97f4a7c15ULL };
		ck->c[j] = (mig_lanes){ len, len + j };
	}
}

void mig_csum_update(struct mig_csum *ck, const void *p, uint64_t len)
{
	uint64_t whole = len & ~(uint64_t)(MIG_CSUM_BLOCK - 1);
	uint8_t tail[MIG_CSUM_BLOCK] = { 0 };

	mig_csum_blocks(ck, p, whole);
	if (whole < len) {
		memcpy(tail, (const uint8_t *)p + whole, len - whole);
		mig_csum_blocks(ck, tail, MIG_CSUM_BLOCK);
	}
}

/* A full avalanche: a change in any bit, high ones too, reaches all bits. */
static uint64_t mig_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

/*
 * Each lane times its own odd constant (a bijection, so a change in one
 * lane always shows), summed, then avalanched: cheap enough for a
 * checksum per 4 KiB page.
 */
uint64_t mig_csum_final(const struct mig_csum *ck)
{
	static const uint64_t k[8] = {
		0x9e3779b97f4a7c15ULL, 0xbf58476d1ce4e5b9ULL, 0x94d049bb133111ebULL,
		0xd6e8feb86659fd93ULL, 0xa0761d6478bd642fULL, 0xe7037ed1a0b428dbULL,
		0x8ebc6af09c88c6e3ULL, 0x589965cc75374cc3ULL,
	};
	uint64_t ha = 0, hc = 0;
	int j, l;

	for (j = 0; j < 4; j++)
		for (l = 0; l < 2; l++) {
			ha += ck->a[j][l] * k[2 * j + l];
			hc += ck->c[j][l] * k[7 - 2 * j - l];
		}
	return mig_mix(mig_mix(ha) ^ hc);
}

uint64_t mig_csum(const void *p, uint64_t len, uint64_t seed)
{
	struct mig_csum ck;

	mig_csum_init(&ck, seed, len);
	mig_csum_update(&ck, p, len);
	return mig_csum_final(&ck);
}

void mig_fail(struct migration *m, const char *fmt, ...)
{
	va_list ap;

	if (m->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(m->error, sizeof(m->error), fmt, ap);
	va_end(ap);
}

/* ---- stream ---- */

int mig_write_full(int fd, const struct iovec *iov, int n)
{
	struct iovec v[4];
	int i;

	memcpy(v, iov, n * sizeof(*v));
	for (i = 0; i < n;) {
		ssize_t w = writev(fd, v + i, n - i);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (i < n && (size_t)w >= v[i].iov_len)
			w -= v[i++].iov_len;
		if (i < n) {
			v[i].iov_base = (uint8_t *)v[i].iov_base + w;
			v[i].iov_len -= w;
		}
	}
	return 0;
}

int mig_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t r = read(fd, p, len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ENODATA;	/* stream ended early */
		p += r;
		len -= r;
	}
	return 0;
}


static void mig_throttle(struct migration *m);

/*
 * As mig_write_full(), with @nr_fds file descriptors (SCM_RIGHTS) riding
 * on the first byte: the receiver gets them with the read that takes it.
 */
static int mig_write_fds(int fd, const struct iovec *iov, int n, const int *fds, int nr_fds)
{
	union {
		char buf[CMSG_SPACE(GM_MAX_REGIONS * sizeof(int))];
		struct cmsghdr align;
	} ctl = { 0 };
	struct msghdr msg = {
		.msg_iov = (struct iovec *)iov, .msg_iovlen = n,
		.msg_control = ctl.buf, .msg_controllen = CMSG_SPACE(nr_fds * sizeof(int)),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	struct iovec rest[4];
	ssize_t w;
	int i;

	if (nr_fds < 1 || nr_fds > GM_MAX_REGIONS || n > 4)
		return -EINVAL;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nr_fds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nr_fds * sizeof(int));
	do {
		w = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	/* The fds went with the first bytes; the rest, if any, as usual. */
	memcpy(rest, iov, n * sizeof(*iov));
	for (i = 0; i < n && (size_t)w >= rest[i].iov_len; i++)
		w -= rest[i].iov_len;
	if (i == n)
		return 0;
	rest[i].iov_base = (uint8_t *)rest[i].iov_base + w;
	rest[i].iov_len -= w;
	return mig_write_full(fd, rest + i, n - i);
}

/*
 * One record: @rec (header checksum filled in here) and its payload
 * pieces, and @nr_fds file descriptors with it (a unix socket only).
 */
static int mig_send_rec(struct migration *m, struct mig_rec *rec, const struct iovec *payload,
			int n, const int *fds, int nr_fds)
{
	struct iovec iov[4] = { { rec, sizeof(*rec) } };
	uint64_t bytes = sizeof(*rec);
	int i, ret;

	if (__atomic_load_n(&m->cancel, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	rec->hcsum = mig_csum(rec, offsetof(struct mig_rec, hcsum), 0);
	for (i = 0; i < n; i++) {
		iov[i + 1] = payload[i];
		bytes += payload[i].iov_len;
	}
	ret = nr_fds ? mig_write_fds(m->fd, iov, n + 1, fds, nr_fds) :
	      mig_write_full(m->fd, iov, n + 1);
	if (ret)
		return ret;
	m->bytes_sent += bytes;
	mig_throttle(m);
	return 0;
}

/*
 * @len bytes of guest RAM into the socket without copying them: vmsplice
 * lends the pages to a pipe, splice hands them to the socket, and the
 * destination's read is the only copy. The guest may change a page until
 * that read: the page checksums sent first catch it (see mig_send_ram).
 */
static int mig_splice(struct migration *m, const uint8_t *host, uint64_t len)
{
	struct iovec v = { (void *)host, len };

	while (v.iov_len) {
		ssize_t n = vmsplice(m->pipe[1], &v, 1, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		v.iov_base = (uint8_t *)v.iov_base + n;
		v.iov_len -= n;
		while (n) {
			ssize_t k = splice(m->pipe[0], NULL, m->fd, NULL, n, SPLICE_F_MOVE);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return k < 0 ? -errno : -EPIPE;
			n -= k;
		}
	}
	m->bytes_sent += len;
	mig_throttle(m);
	return 0;
}

/*
 * Bandwidth cap: sleep until the average is back under it, in slices, so
 * that a cancel (or quit) is not kept waiting for a long sleep.
 */
static void mig_throttle(struct migration *m)
{
	const uint64_t slice = 100000000ULL;

	while (m->max_bandwidth && !__atomic_load_n(&m->cancel, __ATOMIC_ACQUIRE)) {
		double elapsed = (vlab_now_ns() - m->start_ns) / 1e9;
		double want = (double)m->bytes_sent / m->max_bandwidth;
		uint64_t ns;
		struct timespec ts;

		if (want <= elapsed)
			break;
		ns = (want - elapsed) * 1e9;
		if (ns > slice)
			ns = slice;
		ts.tv_sec = ns / 1000000000ULL;
		ts.tv_nsec = ns % 1000000000ULL;
		nanosleep(&ts, NULL);
	}
}

int mig_send_fds(struct migration *m, uint32_t type, uint64_t addr, const void *data,
		 uint64_t len, bool has_payload, const int *fds, int nr_fds)
{
	struct mig_rec rec = {
		.type = type, .addr = addr, .len = len,
		.csum = has_payload ? mig_csum(data, len, addr) : 0,
	};
	struct iovec iov = { (void *)data, len };

	return mig_send_rec(m, &rec, &iov, has_payload && len ? 1 : 0, fds, nr_fds);
}

int mig_send(struct migration *m, uint32_t type, uint64_t addr, const void *data,
	     uint64_t len, bool has_payload)
{
	return mig_send_fds(m, type, addr, data, len, has_payload, NULL, 0);
}

/*
 * @npages pages at @gpa, straight from guest RAM: a checksum per page,
 * then the pages. The guest may write a page between its checksum and the
 * socket's copy; such a page is dirty again and goes in a later round (at
 * the latest in stop-and-copy, with the guest paused), and the
 * destination takes a page as good only once a copy of it matched its
 * checksum. No staging copy: that cost ~10% of the throughput; over a
 * socket not even the copy into the kernel (mig_splice).
 */
int mig_send_ram(struct migration *m, uint64_t gpa, const uint8_t *host, uint64_t npages)
{
	struct mig_rec rec = {
		.type = MIG_REC_RAM, .addr = gpa, .len = npages << GM_PAGE_SHIFT,
	};
	struct iovec iov[2] = {
		{ m->page_sums, npages * sizeof(uint64_t) },
		{ (void *)host, npages << GM_PAGE_SHIFT },
	};
	uint64_t i;

	for (i = 0; i < npages; i++)
		m->page_sums[i] = mig_csum(host + (i << GM_PAGE_SHIFT), GM_PAGE_SIZE,
					   gpa + (i << GM_PAGE_SHIFT));
	rec.csum = mig_csum(m->page_sums, iov[0].iov_len, gpa);
	m->pages_sent += npages;
	if (m->pipe[0] < 0)
		return mig_send_rec(m, &rec, iov, 2, NULL, 0);
	return mig_send_rec(m, &rec, iov, 1, NULL, 0) ?: mig_splice(m, host, iov[1].iov_len);
}

/*
 * Make way for a listening socket at @sa: nothing there, or a stale
 * socket (nobody answers: its vlab died), which is removed. A live
 * socket, or anything that is not a socket, is left alone and refused.
 */
static int mig_unix_claim(const struct sockaddr_un *sa, const char *uri, char *err,
			  size_t errlen)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st)) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", uri, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket (not removing it)", uri);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!ret) {
		snprintf(err, errlen, "%s: another process is listening there", uri);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "%s: %s", uri, strerror(errno));
		return -1;
	}
	if (unlink(sa->sun_path) && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot remove the stale socket: %s", uri, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * "unix:PATH", "tcp:HOST:PORT", "file:PATH" → the source's connected or
 * opened fd; the destination's listening socket or opened file.
 */
int mig_open_uri(const char *uri, bool dest, char *err, size_t errlen)
{
	int fd = -1, lfd;

	/* The source writes a file: itself (mig_start()), under a temporary name. */
	if (!strncmp(uri, "file:", 5) && dest) {
		fd = open(uri + 5, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			snprintf(err, errlen, "%s: %s", uri + 5, strerror(errno));
		return fd;
	}
	if (!strncmp(uri, "unix:", 5)) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(uri + 5) >= sizeof(sa.sun_path)) {
			snprintf(err, errlen, "%s: path too long", uri);
			return -1;
		}
		strcpy(sa.sun_path, uri + 5);
		lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			return -1;
		}
		if (!dest) {
			if (connect(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
				snprintf(err, errlen, "%s: %s (is the destination waiting with --incoming?)",
					 uri, strerror(errno));
				close(lfd);
				return -1;
			}
			return lfd;
		}
		if (mig_unix_claim(&sa, uri, err, errlen)) {
			close(lfd);
			return -1;
		}
		if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
			snprintf(err, errlen, "%s: %s", uri, strerror(errno));
			close(lfd);
			return -1;
		}
		return lfd;
	}
	if (!strncmp(uri, "tcp:", 4)) {
		char host[256], *port;
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
		struct addrinfo *ai;
		int one = 1, r;

		if (strlen(uri + 4) >= sizeof(host)) {
			snprintf(err, errlen, "%.64s...: longer than tcp:HOST:PORT can be (%zu bytes)",
				 uri, sizeof(host) + 3);
			return -1;
		}
		strcpy(host, uri + 4);
		port = strrchr(host, ':');
		if (!port) {
			snprintf(err, errlen, "%s: want tcp:HOST:PORT", uri);
			return -1;
		}
		*port++ = '\0';
		if (dest)
			hints.ai_flags = AI_PASSIVE;
		r = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
		if (r) {
			snprintf(err, errlen, "%s: %s", uri, gai_strerror(r));
			return -1;
		}
		lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			freeaddrinfo(ai);
			return -1;
		}
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!dest) {
			if (connect(lfd, ai->ai_addr, ai->ai_addrlen) < 0) {
				snprintf(err, errlen, "%s: %s", uri, strerror(errno));
				close(lfd);
				lfd = -1;
			}
			freeaddrinfo(ai);
			return lfd;
		}
		if (bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(lfd, 1) < 0) {
			snprintf(err, errlen, "%s: %s", uri, strerror(errno));
			close(lfd);
			freeaddrinfo(ai);
			return -1;
		}
		freeaddrinfo(ai);
		return lfd;
	}
	snprintf(err, errlen, "'%s' is not unix:PATH, tcp:HOST:PORT or file:PATH", uri);
	return -1;
}

/* ---- destination ---- */

void mig_fds_close(struct mig_fds *fds)
{
	int i;

	for (i = 0; i < fds->nr; i++)
		if (fds->fd[i] >= 0)
			close(fds->fd[i]);
	fds->nr = 0;
}

/*
 * mig_read_full() on a socket, keeping the file descriptors that come
 * with the bytes in @fds (more than it holds: @fds->too_many).
 */
static int mig_read_full_fds(int fd, void *buf, size_t len, struct mig_fds *fds)
{
	union {
		char buf[CMSG_SPACE(GM_MAX_REGIONS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	uint8_t *p = buf;

	while (len) {
		struct iovec iov = { p, len };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		struct cmsghdr *c;
		ssize_t r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			int *in = (int *)CMSG_DATA(c), k, n;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (k = 0; k < n; k++) {
				if (fds->nr < GM_MAX_REGIONS)
					fds->fd[fds->nr++] = in[k];
				else {
					close(in[k]);
					fds->too_many = true;
				}
			}
		}
		if (msg.msg_flags & MSG_CTRUNC)
			fds->too_many = true;
		if (r == 0)
			return -ENODATA;
		p += r;
		len -= r;
	}
	return 0;
}

int mig_recv_rec(int fd, struct mig_rec *rec, struct mig_fds *fds, char *err, size_t errlen)
{
	int ret = fds ? mig_read_full_fds(fd, rec, sizeof(*rec), fds) :
		  mig_read_full(fd, rec, sizeof(*rec));

	if (ret == -ENODATA) {
		snprintf(err, errlen, "stream ended before its end marker: the source "
			 "stopped or the file is truncated");
		return -1;
	}
	if (ret) {
		snprintf(err, errlen, "reading the stream: %s", strerror(-ret));
		return -1;
	}
	if (rec->hcsum != mig_csum(rec, offsetof(struct mig_rec, hcsum), 0)) {
		snprintf(err, errlen, "corrupt stream: bad record header checksum");
		return -1;
	}
	return 0;
}

/*
 * Read a record's payload and check it. The checksum follows the reads a
 * slice at a time, while the bytes are still in the cache: checksumming a
 * whole record afterwards reads it back from memory and costs as much as
 * the copy out of the socket.
 */
#define MIG_RECV_SLICE	(256u << 10)

/* Up to one slice of a record's payload: the bytes read, or -1 with @err set. */
ssize_t mig_read_slice(int fd, uint8_t *p, uint64_t left, char *err, size_t errlen)
{
	for (;;) {
		ssize_t r = read(fd, p, left < MIG_RECV_SLICE ? left : MIG_RECV_SLICE);

		if (r > 0)
			return r;
		if (r < 0 && errno == EINTR)
			continue;
		snprintf(err, errlen, "stream ended inside a record: truncated");
		return -1;
	}
}

int mig_recv_payload(int fd, void *buf, const struct mig_rec *rec, char *err,
		     size_t errlen)
{
	uint8_t *p = buf;
	uint64_t got = 0, summed = 0;
	struct mig_csum ck;

	mig_csum_init(&ck, rec->addr, rec->len);
	while (got < rec->len) {
		ssize_t r = mig_read_slice(fd, p + got, rec->len - got, err, errlen);

		if (r < 0)
			return -1;
		got += r;
		/* Whole blocks only, but the tail once everything is in. */
		r = (got == rec->len ? got : got & ~(uint64_t)(MIG_CSUM_BLOCK - 1)) - summed;
		mig_csum_update(&ck, p + summed, r);
		summed += r;
	}
	if (mig_csum_final(&ck) != rec->csum) {
		snprintf(err, errlen, "corrupt stream: bad checksum in a %s record at 0x%llx",
			 rec->type == MIG_REC_RAM ? "RAM" :
			 rec->type == MIG_REC_CONFIG ? "configuration" : "state",
			 (unsigned long long)rec->addr);
		return -1;
	}
	return 0;
}

