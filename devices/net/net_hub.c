// SPDX-License-Identifier: GPL-2.0
/*
 * The hub: every vlab that names directory DIR exchanges frames with every
 * other, like an Ethernet hub; each guest's receive filter drops what is
 * not for it. No daemon, no privileges.
 *
 * Each endpoint owns one broadcast ring in a sealed memfd (it cannot
 * shrink, so a reader never takes SIGBUS) and puts two names in DIR:
 * ring-ID, a symlink to /proc/PID/fd/N of that memfd, and port-ID, a unix
 * datagram socket that carries only wake-ups. Everyone else maps the ring
 * read-only: a peer can never write into another's memory.
 *
 * The ring is a seqlock'ed byte log with a single writer and no waiting on
 * readers: records (struct hub_rec, then the frame, 16-byte aligned) are
 * appended at monotonic byte positions; the writer stores `reserve` (how
 * far it is about to write), a release fence, the bytes, then `head`
 * (release). A reader keeps its own position, copies a record out, then
 * (acquire fence) checks that `reserve` has not come within a ring of
 * that position: if it has, the bytes may be torn and the record is
 * dropped and counted, never waited for. So a full ring drops the slow
 * reader's frames, a peer killed with SIGKILL leaves only a ring nobody
 * waits on, and a hostile writer can make its own records unreadable
 * (every index and length is checked against the size of our own mapping)
 * but nothing else. A frame is copied once in and once out per reader.
 *
 * Wake-ups: the port socket is readable whenever a frame waits, as the
 * callers expect of a backend's fd. A reader drains it only when it finds
 * every ring empty, then starts a new `sleep` generation, issues a full
 * fence and looks again (Dekker: a writer stores `head`, a full fence, then
 * reads `sleep`, so one of the two sees the other); a frame found then
 * gets a datagram from the reader itself. A writer sends one datagram per
 * generation it has not woken yet: one a sleep, none while a reader is
 * busy.
 *
 * A reader starts at the head of rings present when it joins, and at the
 * start of rings that appear later (those frames were all sent after it
 * came): a migrated guest's new vlab takes no frames sent to the old one.
 *
 * Finding peers: DIR's mtime is looked at once a millisecond (by the
 * coarse clock: once a tick), but it is kept to the clock tick too, so a
 * newcomer can go unseen; it says "h" to
 * everyone it finds (a hello, where wake-ups are ""), and a hello makes
 * the reader scan DIR at once; a full scan runs every 100 ms of calls
 * anyway. A peer whose port has gone is read to the end of its ring
 * before it is dropped: its last frames were sent before it left.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/net/net_backend.h"
#include "devices/net/net_hub.h"
#include "vmm/control/json.h"
#include "vmm/core/vm.h"

#define HUB_MAGIC	0x62756876u	/* "vhub" */
#define HUB_VERSION	1
#define HUB_MAP_BYTES	(NET_HUB_HDR_BYTES + NET_HUB_RING_BYTES)
#define HUB_RESCAN_NS	(100 * 1000 * 1000ULL)
/* The directory's mtime is looked at once a millisecond at most. */
#define HUB_LOOK_NS	(1000 * 1000ULL)
#define HUB_SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
/* A peer's first datagram to us ("we joined"); wake-ups are "". */
#define HUB_HELLO	"h"

static inline uint64_t rec_bytes(uint32_t len)
{
	return NET_HUB_REC_HDR + (((uint64_t)len + 15) & ~15ULL);
}

static inline const uint8_t *ring_data(const struct hub_ring *ring)
{
	return (const uint8_t *)ring + NET_HUB_HDR_BYTES;
}

int net_hub_ring_write(struct hub_ring *ring, uint64_t size, uint64_t *head,
		       const struct iovec *iov, int iovcnt)
{
	uint8_t *data = (uint8_t *)ring + NET_HUB_HDR_BYTES;
	uint64_t h = *head, off = h % size, need, skip = 0;
	struct hub_rec rec;
	size_t len = 0;
	int i;

	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	/* At most half a ring: a pad and the frame after it never overlap. */
	if (!len || len > NET_FRAME_MAX || rec_bytes(len) > size / 2)
		return -EMSGSIZE;
	need = rec_bytes(len);
	if (off + need > size)
		skip = size - off;	/* a pad record fills the end; the frame starts at 0 */
	/* Readers of the bytes we are about to overwrite must see this first. */
	__atomic_store_n(&ring->reserve, h + skip + need, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (skip) {
		rec = (struct hub_rec){ .pos = h, .len = NET_HUB_REC_PAD };
		memcpy(data + off, &rec, sizeof(rec));
		h += skip;
		off = 0;
	}
	rec = (struct hub_rec){ .pos = h, .len = (uint32_t)len };
	memcpy(data + off, &rec, sizeof(rec));
	off += sizeof(rec);
	for (i = 0; i < iovcnt; i++) {
		memcpy(data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	*head = h + need;
	__atomic_store_n(&ring->head, *head, __ATOMIC_RELEASE);
	return 0;
}

ssize_t net_hub_ring_read(const struct hub_ring *ring, uint64_t size, uint64_t *rd, void *buf,
			  size_t len, uint64_t *lost)
{
	const uint8_t *data = ring_data(ring);
	uint64_t head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
	uint64_t pos = *rd, off = pos % size, next, reserve;
	struct hub_rec rec;
	bool fits;

	if (head == pos)
		return 0;
	/* Behind by more than a ring, ahead of the writer, or misaligned: resync. */
	if (head - pos > size || (pos & 15) || off + NET_HUB_REC_HDR > size)
		goto resync;
	memcpy(&rec, data + off, sizeof(rec));
	if (rec.pos != pos)
		goto resync;
	if (rec.len == NET_HUB_REC_PAD) {
		next = pos + (size - off);
		fits = true;
	} else {
		next = pos + rec_bytes(rec.len);
		if (!rec.len || rec.len > NET_FRAME_MAX || off + rec_bytes(rec.len) > size)
			goto resync;
		fits = rec.len <= len;
		if (fits)
			memcpy(buf, data + off + NET_HUB_REC_HDR, rec.len);
	}
	if (next - pos > head - pos)
		goto resync;		/* past what was published */
	/* Seqlock check: nothing at our bytes was rewritten while we copied. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	reserve = __atomic_load_n(&ring->reserve, __ATOMIC_RELAXED);
	if (reserve - pos > size)
		goto resync;
	*rd = next;
	if (rec.len == NET_HUB_REC_PAD)
		return net_hub_ring_read(ring, size, rd, buf, len, lost);
	if (!fits) {
		__atomic_fetch_add(lost, 1, __ATOMIC_RELAXED);	/* the watch reads it */
		return -1;
	}
	return rec.len;
resync:
	/* Skip to the writer's head; an unaligned one reads as empty until it moves. */
	__atomic_fetch_add(lost, 1, __ATOMIC_RELAXED);
	*rd = head;
	return -1;
}

/* ---- peers ---- */

static void hub_drop_peer(struct net_hub *hub, int i)
{
	struct net_hub_peer *p = &hub->peers[i];

	close(p->sock);
	munmap((void *)p->ring, HUB_MAP_BYTES);
	*p = hub->peers[--hub->nr_peers];
	if (hub->next >= hub->nr_peers)
		hub->next = 0;
}

/*
 * Peer @i has gone (its port is): frames it left are still read (our
 * mapping outlives it), then it is dropped. True if dropped now.
 */
static bool hub_retire_peer(struct net_hub *hub, int i)
{
	struct net_hub_peer *p = &hub->peers[i];

	if (__atomic_load_n(&p->ring->head, __ATOMIC_ACQUIRE) != p->rd) {
		p->gone = true;
		return false;
	}
	hub_drop_peer(hub, i);
	return true;
}

/* Map peer @id's ring read-only; NULL if it is gone or not a hub ring. */
static const struct hub_ring *hub_map_ring(struct net_hub *hub, const char *id)
{
	char path[sizeof(hub->dir) + 48];
	const struct hub_ring *ring;
	struct stat st;
	int fd, seals;

	snprintf(path, sizeof(path), "%s/ring-%s", hub->dir, id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & HUB_SEALS) != HUB_SEALS || fstat(fd, &st) ||
	    st.st_size != HUB_MAP_BYTES) {
		close(fd);
		return NULL;
	}
	ring = mmap(NULL, HUB_MAP_BYTES, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (ring == MAP_FAILED)
		return NULL;
	if (ring->magic != HUB_MAGIC || ring->version != HUB_VERSION ||
	    ring->size != NET_HUB_RING_BYTES) {
		munmap((void *)ring, HUB_MAP_BYTES);
		return NULL;
	}
	return ring;
}

static int hub_connect(struct net_hub *hub, const char *id)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/port-%s", hub->dir, id);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == ECONNREFUSED) {
			/* Nobody bound there: a crashed endpoint's leftovers. */
			unlink(sa.sun_path);
			snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ring-%s", hub->dir, id);
			unlink(sa.sun_path);
		}
		close(fd);
		return -1;
	}
	return fd;
}

static void hub_add_peer(struct net_hub *hub, const char *id, bool joining)
{
	struct net_hub_peer *p = &hub->peers[hub->nr_peers];
	uint64_t head;

	if (hub->nr_peers == NET_HUB_MAX_PEERS)
		return;
	p->sock = hub_connect(hub, id);
	if (p->sock < 0)
		return;
	p->ring = hub_map_ring(hub, id);
	if (!p->ring) {
		close(p->sock);
		return;
	}
	snprintf(p->id, sizeof(p->id), "%s", id);
	/* A ring that appeared after we joined holds only frames sent since. */
	head = __atomic_load_n(&p->ring->head, __ATOMIC_ACQUIRE);
	p->rd = joining || head > NET_HUB_RING_BYTES / 2 ? head & ~15ULL : 0;
	p->seen = true;
	hub->nr_peers++;
	/*
	 * Wake it: a peer we join then looks for us at once, and one that
	 * joined may hold frames we wrote before we knew it.
	 */
	p->woken = __atomic_load_n(&p->ring->sleep, __ATOMIC_RELAXED);
	send(p->sock, HUB_HELLO, 1, MSG_DONTWAIT);
}

/* Refresh the list of other endpoints in the hub directory. */
static void hub_scan(struct net_hub *hub, bool joining)
{
	DIR *dir = opendir(hub->dir);
	struct dirent *d;
	struct stat st;
	int i;

	hub->last_scan_ns = hub->last_look_ns = vlab_coarse_ns();
	if (!stat(hub->dir, &st))
		hub->dir_mtime = st.st_mtim;
	if (!dir)
		return;
	for (i = 0; i < hub->nr_peers; i++)
		hub->peers[i].seen = false;
	while ((d = readdir(dir))) {
		const char *id = d->d_name + 5;

		if (strncmp(d->d_name, "port-", 5) || strlen(id) >= sizeof(hub->id) ||
		    !strcmp(id, hub->id))
			continue;
		for (i = 0; i < hub->nr_peers; i++)
			if (!strcmp(hub->peers[i].id, id))
				break;
		if (i < hub->nr_peers)
			hub->peers[i].seen = true;
		else
			hub_add_peer(hub, id, joining);
	}
	closedir(dir);
	for (i = 0; i < hub->nr_peers; i++)
		if (!hub->peers[i].seen && hub_retire_peer(hub, i))
			i--;
}

/*
 * An endpoint joined or left since the last scan (the directory's mtime
 * moved)? Looked at once a millisecond (by the coarse clock, which a
 * frame's path can afford: so once a tick, the mtime's own resolution),
 * busy or woken: a guest migrated to a new vlab is reached within a tick
 * of its joining, not a rescan period later. (A newcomer's hello makes
 * the reader scan at once; a look at a wake-up finds one whose hello was
 * lost to a full socket. Once a wake-up, it was a stat() every sleep of a
 * streaming reader, 3% of its time.) True if it scanned.
 */
static bool hub_maybe_scan(struct net_hub *hub)
{
	uint64_t now = vlab_coarse_ns();
	struct stat st;

	if (now - hub->last_scan_ns > HUB_RESCAN_NS)
		goto scan;
	if (now - hub->last_look_ns < HUB_LOOK_NS)
		return false;
	hub->last_look_ns = now;
	/*
	 * Cheap, not complete: ext4 and tmpfs keep mtime to the tick, so a
	 * name added in the tick of our last look goes unseen here. A
	 * newcomer's hello (net_hub_recv) and the full rescan catch it.
	 */
	if (stat(hub->dir, &st) || (st.st_mtim.tv_sec == hub->dir_mtime.tv_sec &&
				    st.st_mtim.tv_nsec == hub->dir_mtime.tv_nsec))
		return false;
scan:
	hub_scan(hub, false);
	return true;
}

/* ---- open, send, receive ---- */

static int hub_ring_create(struct net_hub *hub, char *err, size_t errlen)
{
	char target[64];

	hub->memfd = memfd_create("vlab-hub", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (hub->memfd < 0 || ftruncate(hub->memfd, HUB_MAP_BYTES) ||
	    fcntl(hub->memfd, F_ADD_SEALS, HUB_SEALS)) {
		snprintf(err, errlen, "--net hub=%s: ring memory: %s", hub->dir, strerror(errno));
		return -1;
	}
	hub->ring = mmap(NULL, HUB_MAP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, hub->memfd, 0);
	if (hub->ring == MAP_FAILED) {
		hub->ring = NULL;
		snprintf(err, errlen, "--net hub=%s: mmap: %s", hub->dir, strerror(errno));
		return -1;
	}
	hub->ring->magic = HUB_MAGIC;
	hub->ring->version = HUB_VERSION;
	hub->ring->size = NET_HUB_RING_BYTES;
	/* Generation 1: every writer's first frame wakes us. */
	hub->ring->sleep = 1;
	snprintf(target, sizeof(target), "/proc/%d/fd/%d", (int)getpid(), hub->memfd);
	if (symlink(target, hub->link)) {
		snprintf(err, errlen, "--net hub=%s: %s: %s", hub->dir, hub->link, strerror(errno));
		return -1;
	}
	return 0;
}

int net_hub_open(struct net_hub *hub, const char *dir, int *fd, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static int seq;
	int n;

	memset(hub, 0, sizeof(*hub));
	hub->memfd = *fd = -1;
	pthread_mutex_init(&hub->lock, NULL);
	if (strlen(dir) + 40 > sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--net hub=%s: path too long for a unix socket", dir);
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "--net hub=%s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(hub->dir, sizeof(hub->dir), "%s", dir);
	n = __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED);
	snprintf(hub->id, sizeof(hub->id), "%d-%d", (int)getpid(), n);
	snprintf(hub->port, sizeof(hub->port), "%s/port-%s", dir, hub->id);
	snprintf(hub->link, sizeof(hub->link), "%s/ring-%s", dir, hub->id);
	unlink(hub->port);
	unlink(hub->link);
	/* The ring first: whoever sees our port finds our ring. */
	if (hub_ring_create(hub, err, errlen))
		goto fail;
	*fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (*fd < 0) {
		snprintf(err, errlen, "--net hub: socket: %s", strerror(errno));
		goto fail;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", hub->port);
	if (bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "--net hub=%s: bind %s: %s", dir, hub->port, strerror(errno));
		goto fail;
	}
	hub_scan(hub, true);
	return 0;
fail:
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	net_hub_close(hub);
	return -1;
}

void net_hub_close(struct net_hub *hub)
{
	while (hub->nr_peers)
		hub_drop_peer(hub, 0);
	if (hub->port[0])
		unlink(hub->port);
	if (hub->link[0])
		unlink(hub->link);
	if (hub->ring)
		munmap(hub->ring, HUB_MAP_BYTES);
	if (hub->memfd >= 0)
		close(hub->memfd);
	hub->ring = NULL;
	hub->memfd = -1;
	hub->port[0] = hub->link[0] = 0;
}

/* Wake the peers asleep since we last woke them, for the frames written so far (hub->lock). */
static void hub_wake_peers(struct net_hub *hub)
{
	int i;

	/* Dekker with a reader going to sleep: head stored, then sleep read. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < hub->nr_peers; i++) {
		struct net_hub_peer *p = &hub->peers[i];
		uint64_t s = __atomic_load_n(&p->ring->sleep, __ATOMIC_RELAXED);

		if (s == p->woken || p->gone)
			continue;
		p->woken = s;
		if (send(p->sock, "", 1, MSG_DONTWAIT) < 0 &&
		    (errno == ECONNREFUSED || errno == ENOTCONN) && hub_retire_peer(hub, i))
			i--;	/* that endpoint went away */
	}
}

void net_hub_burst_begin(struct net_hub *hub)
{
	pthread_mutex_lock(&hub->lock);
	hub_maybe_scan(hub);
	hub->burst_looked = hub->head;
}

int net_hub_burst_send(struct net_hub *hub, const struct iovec *iov, int iovcnt)
{
	int r = net_hub_ring_write(hub->ring, NET_HUB_RING_BYTES, &hub->head, iov, iovcnt);

	if (!r && hub->head - hub->burst_looked >= NET_HUB_BURST_WAKE) {
		hub_wake_peers(hub);
		hub->burst_looked = hub->head;
	}
	return r;
}

void net_hub_burst_end(struct net_hub *hub)
{
	if (hub->head != hub->burst_looked)
		hub_wake_peers(hub);
	pthread_mutex_unlock(&hub->lock);
}

/* A burst of one frame: its wake-ups looked at as soon as it is written. */
int net_hub_send(struct net_hub *hub, const struct iovec *iov, int iovcnt)
{
	int r;

	net_hub_burst_begin(hub);
	r = net_hub_burst_send(hub, iov, iovcnt);
	net_hub_burst_end(hub);
	return r;
}

/* Read one frame from any peer, round robin. */
static ssize_t hub_read_any(struct net_hub *hub, void *buf, size_t len)
{
	int i, k;

	for (k = 0; k < hub->nr_peers; k++) {
		struct net_hub_peer *p = &hub->peers[(hub->next + k) % hub->nr_peers];
		ssize_t n;
		int skips = 0;

		/* Bounded: a writer that keeps scribbling cannot hold us here. */
		while ((n = net_hub_ring_read(p->ring, NET_HUB_RING_BYTES, &p->rd, buf, len,
					      &hub->rx_lost)) < 0 && ++skips < 16)
			;
		if (n > 0) {
			i = (hub->next + k + 1) % hub->nr_peers;
			hub->next = i;
			return n;
		}
	}
	/* Every ring read dry: those whose owners left can go now. */
	for (i = 0; i < hub->nr_peers; i++)
		if (hub->peers[i].gone && hub_retire_peer(hub, i))
			i--;
	return 0;
}

static bool hub_any_waiting(struct net_hub *hub)
{
	int i;

	for (i = 0; i < hub->nr_peers; i++)
		if (__atomic_load_n(&hub->peers[i].ring->head, __ATOMIC_ACQUIRE) !=
		    hub->peers[i].rd)
			return true;
	return false;
}

bool net_hub_pending(struct net_hub *hub)
{
	bool r;

	pthread_mutex_lock(&hub->lock);
	r = hub_any_waiting(hub);
	pthread_mutex_unlock(&hub->lock);
	return r;
}

void net_hub_watch(struct net_hub *hub, struct json_writer *w)
{
	int i;

	pthread_mutex_lock(&hub->lock);
	json_kv_uint(w, "sleep", hub->ring ? __atomic_load_n(&hub->ring->sleep,
							    __ATOMIC_RELAXED) : 0);
	json_key(w, "peers");
	json_arr_begin(w);
	for (i = 0; i < hub->nr_peers; i++) {
		const struct net_hub_peer *p = &hub->peers[i];

		json_obj_begin(w);
		json_kv_string(w, "id", p->id);
		json_kv_uint(w, "unread", __atomic_load_n(&p->ring->head, __ATOMIC_ACQUIRE) - p->rd);
		json_kv_uint(w, "sleep", __atomic_load_n(&p->ring->sleep, __ATOMIC_RELAXED));
		json_kv_uint(w, "woken", p->woken);
		json_kv_bool(w, "gone", p->gone);
		json_obj_end(w);
	}
	json_arr_end(w);
	pthread_mutex_unlock(&hub->lock);
}

/*
 * Read every wake-up waiting on our port, HUB_DRAIN at a call (one call
 * when a few wait, where a read() a datagram took one more to see the
 * end): how many, and whether a hello was among them.
 */
#define HUB_DRAIN	16
static int hub_drain_port(int fd, bool *hello)
{
	struct mmsghdr m[HUB_DRAIN];
	struct iovec iov[HUB_DRAIN];
	char b[HUB_DRAIN][4];
	int n, i, woken = 0;

	*hello = false;
	do {
		for (i = 0; i < HUB_DRAIN; i++) {
			iov[i] = (struct iovec){ b[i], sizeof(b[i]) };
			m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		n = recvmmsg(fd, m, HUB_DRAIN, MSG_DONTWAIT, NULL);
		for (i = 0; i < n; i++)
			*hello |= m[i].msg_len > 0 && b[i][0] == HUB_HELLO[0];
		woken += n > 0 ? n : 0;
	} while (n == HUB_DRAIN);
	return woken;
}

ssize_t net_hub_recv(struct net_hub *hub, int fd, void *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool rescanned = false, hello, drained = false;
	ssize_t n = 0;
	int woken;

	pthread_mutex_lock(&hub->lock);
	hub_maybe_scan(hub);
	for (;;) {
		n = hub_read_any(hub, buf, len);
		if (n > 0) {
			/*
			 * The wake-ups were drained for a scan, and then frames
			 * came: nobody wakes this generation again, so the port
			 * must stay readable while they wait (a caller may stop
			 * before it reads them all).
			 */
			if (drained)
				goto wake_self;
			break;
		}
		woken = hub_drain_port(fd, &hello);
		drained |= woken > 0;
		/*
		 * A hello is a peer that found us: it has a ring we may not
		 * know yet, and may be asleep until we wake it. Scan whatever
		 * the directory's times say; any other wake-up looks (once a tick).
		 */
		if (hello && !rescanned) {
			hub_scan(hub, false);
			rescanned = true;
			continue;
		}
		if (woken && !rescanned && hub_maybe_scan(hub)) {
			rescanned = true;
			continue;
		}
		/* A new generation: each writer wakes us once for it. */
		__atomic_store_n(&hub->ring->sleep, hub->ring->sleep + 2, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!hub_any_waiting(hub))
			break;
		/*
		 * A frame raced in before its writer could see the new
		 * generation: wake ourselves for it, and let the caller come
		 * back (a writer that scribbles cannot keep us in this loop).
		 */
wake_self:
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", hub->port);
		sendto(fd, "", 1, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa));
		break;
	}
	pthread_mutex_unlock(&hub->lock);
	return n;
}
