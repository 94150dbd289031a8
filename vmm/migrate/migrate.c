// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-copy live migration: round 0 sends every non-zero page, later rounds
 * send what the guest (KVM dirty log, manual protect) and the devices
 * (guest_mem dirty bitmap) wrote since, until what is left fits the
 * downtime limit at the measured bandwidth. Then stop-and-copy: pause the
 * vCPUs, quiesce the devices, send the last pages and the state, and wait
 * for the destination's acknowledgement before giving up the guest. Any
 * failure before that acknowledgement resumes the guest here.
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

#define BITS_PER_LONG		(8 * sizeof(unsigned long))
#define MIG_ACK			"VLABMIG-OK\n"
#define MIG_ACK_TIMEOUT_MS	30000
/* 2: a node per device kind (1 had "nics" for --net only). */
#define MIG_CONFIG_VERSION	2
#define MIG_WAITING		"this vlab is waiting for an incoming migration stream"

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

static void mig_fail(struct migration *m, const char *fmt, ...)
{
	va_list ap;

	if (m->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(m->error, sizeof(m->error), fmt, ap);
	va_end(ap);
}

/* ---- stream ---- */

static int write_full(int fd, const struct iovec *iov, int n)
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

static int read_full(int fd, void *buf, size_t len)
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
static void mig_incoming_cancel(struct migration *m);

/* One record: @rec (header checksum filled in here) and its payload pieces. */
static int mig_send_rec(struct migration *m, struct mig_rec *rec, const struct iovec *payload,
			int n)
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
	ret = write_full(m->fd, iov, n + 1);
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

static int mig_send(struct migration *m, uint32_t type, uint64_t addr, const void *data,
		    uint64_t len, bool has_payload)
{
	struct mig_rec rec = {
		.type = type, .addr = addr, .len = len,
		.csum = has_payload ? mig_csum(data, len, addr) : 0,
	};
	struct iovec iov = { (void *)data, len };

	return mig_send_rec(m, &rec, &iov, has_payload && len ? 1 : 0);
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
static int mig_send_ram(struct migration *m, uint64_t gpa, const uint8_t *host, uint64_t npages)
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
		return mig_send_rec(m, &rec, iov, 2);
	return mig_send_rec(m, &rec, iov, 1) ?: mig_splice(m, host, iov[1].iov_len);
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
static int mig_open_uri(const char *uri, bool dest, char *err, size_t errlen)
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

/* ---- configuration both ends must agree on ---- */

static int mig_config_save(struct vm *vm, struct state_buf *sb)
{
	const struct device_kind *k;
	int i;

	state_begin_node(sb, "config", MIG_CONFIG_VERSION);
	state_put_u64(sb, "mem-size", vm->cfg->mem_size);
	state_put_u32(sb, "cpus", vm->nr_cpus);
	/* Every device kind: how many, and what each must match. */
	for (k = device_kinds(); k; k = k->next) {
		int n = vm_config_count(vm->cfg, k);

		state_begin_nodef(sb, 1, "kind-%s", k->option);
		state_put_u32(sb, "count", n);
		for (i = 0; i < n; i++) {
			state_begin_nodef(sb, 1, "%s@%d", k->option, i);
			if (k->config_save)
				k->config_save(vm_config_device(vm->cfg, k, i), sb);
			state_end_node(sb);
		}
		state_end_node(sb);
	}
	return state_end_node(sb);
}

static int mig_config_check(struct vm *vm, const void *fdt, size_t len, char *err, size_t errlen)
{
	const struct device_kind *k;
	uint64_t mem;
	uint32_t cpus, count, ver;
	int node, i, sub, inst;
	char name[64], why[192];

	if (state_check(fdt, len, err, errlen))
		return -1;
	node = state_subnode(fdt, 0, "config", MIG_CONFIG_VERSION, &ver, err, errlen);
	if (node < 0 ||
	    state_get_u64(fdt, node, "mem-size", &mem, err, errlen) ||
	    state_get_u32(fdt, node, "cpus", &cpus, err, errlen))
		return -1;
	if (ver < MIG_CONFIG_VERSION) {
		snprintf(err, errlen, "the source is an older vlab (configuration format %u, "
			 "this vlab reads %u)", ver, MIG_CONFIG_VERSION);
		return -1;
	}
	if (mem != vm->cfg->mem_size) {
		snprintf(err, errlen, "configuration mismatch: the source has --mem %lluM, this vlab %lluM",
			 (unsigned long long)(mem >> 20),
			 (unsigned long long)(vm->cfg->mem_size >> 20));
		return -1;
	}
	if ((int)cpus != vm->nr_cpus) {
		snprintf(err, errlen, "configuration mismatch: the source has --cpus %u, this vlab %d",
			 cpus, vm->nr_cpus);
		return -1;
	}
	/* A kind the source does not know has no node: it had none of them. */
	for (k = device_kinds(); k; k = k->next) {
		int n = vm_config_count(vm->cfg, k);

		snprintf(name, sizeof(name), "kind-%s", k->option);
		count = 0;
		sub = fdt_subnode_offset(fdt, node, name);
		if (sub >= 0 && state_get_u32(fdt, sub, "count", &count, err, errlen))
			return -1;
		if ((int)count != n) {
			snprintf(err, errlen, "configuration mismatch: the source has %u --%s, "
				 "this vlab %d", count, k->option, n);
			return -1;
		}
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "%s@%d", k->option, i);
			inst = state_subnode(fdt, sub, name, 1, &ver, err, errlen);
			if (inst < 0)
				return -1;
			if (k->config_check &&
			    k->config_check(vm_config_device(vm->cfg, k, i), fdt, inst, why,
					    sizeof(why))) {
				snprintf(err, errlen, "configuration mismatch: %s %d has %s",
					 k->noun, i, why);
				return -1;
			}
		}
	}
	return 0;
}

/* ---- dirty tracking ---- */

static int mig_dirty_start(struct migration *m)
{
	struct vm *vm = m->vm;
	int caps, ret;

	m->dirty_words = (vm->mem.dirty_bits + BITS_PER_LONG - 1) / BITS_PER_LONG;
	m->dirty = calloc(m->dirty_words, sizeof(unsigned long));
	if (!m->dirty)
		return -ENOMEM;
	/*
	 * Bitmap with manual protect: reading the log does not re-protect;
	 * we clear what we send. With the dirty ring, enabling logging
	 * write-protects everything and each first write lands in a ring.
	 */
	caps = vm->dirty_ring ? 0 :
	       ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (caps > 0 && !m->manual_protect) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
		};

		if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
			return -errno;
		m->manual_protect = true;
	}
	/* Device writes from now on count; earlier ones are in round 0 anyway. */
	guest_mem_dirty_collect(&vm->mem, m->dirty);
	ret = vm_set_memory_slots(vm, KVM_MEM_LOG_DIRTY_PAGES);
	if (ret)
		return ret;
	m->logging = true;
	return 0;
}

static void mig_dirty_stop(struct migration *m)
{
	if (m->logging) {
		vm_set_memory_slots(m->vm, 0);
		dirty_ring_collect(m->vm, NULL);	/* leave the rings empty */
	}
	m->logging = false;
	free(m->dirty);
	m->dirty = NULL;
}

/* Gather every page written since the last call into m->dirty. */
static int mig_dirty_sync(struct migration *m)
{
	struct vm *vm = m->vm;
	unsigned long *dev = calloc(m->dirty_words, sizeof(unsigned long));
	uint64_t w;
	int i;

	if (!dev)
		return -ENOMEM;
	memset(m->dirty, 0, m->dirty_words * sizeof(unsigned long));
	if (vm->dirty_ring) {
		dirty_ring_collect(vm, m->dirty);
		i = vm->mem.nr_regions;		/* no bitmaps to read */
	} else {
		i = 0;
	}
	for (; i < vm->mem.nr_regions; i++) {
		struct guest_mem_region *r = &vm->mem.regions[i];
		uint64_t pages = r->size >> GM_PAGE_SHIFT, first = r->gpa >> GM_PAGE_SHIFT, p;
		size_t words = (pages + 63) / 64;
		uint64_t *bm = calloc(words, 8);
		struct kvm_dirty_log log = { .slot = i, .dirty_bitmap = bm };
		struct kvm_clear_dirty_log clr = {
			.slot = i, .first_page = 0, .num_pages = pages, .dirty_bitmap = bm,
		};

		if (!bm || ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
			free(bm);
			free(dev);
			return -EIO;
		}
		/* Re-protect before reading the pages, so later writes are seen. */
		ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clr);
		for (p = 0; p < pages; p++)
			if (bm[p / 64] >> (p % 64) & 1)
				m->dirty[(first + p) / BITS_PER_LONG] |= 1UL << ((first + p) % BITS_PER_LONG);
		free(bm);
	}
	guest_mem_dirty_collect(&vm->mem, dev);
	for (w = 0; w < m->dirty_words; w++)
		m->dirty[w] |= dev[w];
	free(dev);
	return 0;
}

static uint64_t mig_count(const unsigned long *bm, uint64_t words)
{
	uint64_t n = 0, w;

	for (w = 0; w < words; w++)
		n += __builtin_popcountl(bm[w]);
	return n;
}

static bool page_is_zero(const void *p)
{
	const uint64_t *w = p;
	int i;

	for (i = 0; i < (int)(GM_PAGE_SIZE / 8); i += 4)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
			return false;
	return true;
}

/*
 * Send the pages set in @bm (NULL: every RAM page). Zero pages are skipped
 * in the first pass (the destination starts zeroed) and sent as ZERO
 * ranges later (the page may have held data the destination has).
 */
static int mig_send_pages(struct migration *m, const unsigned long *bm, bool first_pass)
{
	struct vm *vm = m->vm;
	int i, ret;

	for (i = 0; i < vm->mem.nr_regions; i++) {
		struct guest_mem_region *r = &vm->mem.regions[i];
		uint64_t first = r->gpa >> GM_PAGE_SHIFT, pages = r->size >> GM_PAGE_SHIFT;
		uint64_t p = 0, run_start = 0, run_len = 0;
		bool run_zero = false;

		while (p <= pages) {
			bool dirty = p < pages &&
				(!bm || (bm[(first + p) / BITS_PER_LONG] >> ((first + p) % BITS_PER_LONG) & 1));
			bool zero = dirty && page_is_zero(r->host + (p << GM_PAGE_SHIFT));
			bool extend = dirty && run_len && zero == run_zero &&
				      (zero || run_len < MIG_RUN_PAGES);

			if (run_len && !extend) {
				uint64_t gpa = r->gpa + (run_start << GM_PAGE_SHIFT);

				if (run_zero) {
					m->zero_pages += run_len;
					ret = first_pass ? 0 :
					      mig_send(m, MIG_REC_ZERO, gpa, NULL, run_len << GM_PAGE_SHIFT, false);
				} else {
					ret = mig_send_ram(m, gpa, r->host + (run_start << GM_PAGE_SHIFT),
							   run_len);
				}
				if (ret)
					return ret;
				run_len = 0;
			}
			if (dirty && !run_len) {
				run_start = p;
				run_zero = zero;
			}
			if (dirty)
				run_len++;
			p++;
		}
	}
	return 0;
}

/* ---- state ---- */

static int mig_state_save(struct vm *vm, struct state_buf *sb)
{
	struct vm_dev_state *d;

	if (state_buf_init(sb))
		return -ENOMEM;
	if (vm_kvm_state_save(vm, sb))
		return -EIO;
	state_begin_node(sb, "devices", 1);
	for (d = vm->dev_states; d; d = d->next) {
		state_begin_node(sb, d->name, d->version);
		if (d->save && d->save(d->opaque, sb))
			state_buf_fail(sb, -EIO, "saving %s failed", d->name);
		state_end_node(sb);
	}
	state_end_node(sb);
	return state_buf_finish(sb);
}

static int mig_state_load(struct vm *vm, const void *fdt, size_t len, char *err, size_t errlen)
{
	struct vm_dev_state *d;
	uint32_t ver;
	int devs, node;

	if (state_check(fdt, len, err, errlen) || vm_kvm_state_load(vm, fdt, err, errlen))
		return -1;
	devs = state_subnode(fdt, 0, "devices", 1, &ver, err, errlen);
	if (devs < 0)
		return -1;
	for (d = vm->dev_states; d; d = d->next) {
		node = state_subnode(fdt, devs, d->name, d->version, &ver, err, errlen);
		if (node < 0)
			return -1;
		if (d->load && d->load(d->opaque, fdt, node, err, errlen))
			return -1;
	}
	return 0;
}

static void mig_devices(struct vm *vm, bool quiesce)
{
	struct vm_dev_state *d;

	for (d = vm->dev_states; d; d = d->next) {
		if (quiesce && d->quiesce)
			d->quiesce(d->opaque);
		else if (!quiesce && d->unquiesce)
			d->unquiesce(d->opaque);
	}
}

/* ---- source ---- */

static int mig_send_header(struct migration *m)
{
	struct state_buf sb;
	char hdr[16] = MIG_MAGIC;
	uint32_t ver = MIG_VERSION;
	struct iovec iov = { hdr, sizeof(hdr) };
	int ret;

	memcpy(hdr + 8, &ver, 4);
	ret = write_full(m->fd, &iov, 1);
	if (ret)
		return ret;
	m->bytes_sent += sizeof(hdr);
	if (state_buf_init(&sb) || mig_config_save(m->vm, &sb) || state_buf_finish(&sb)) {
		state_buf_free(&sb);
		return -ENOMEM;
	}
	ret = mig_send(m, MIG_REC_CONFIG, 0, state_blob(&sb), state_blob_size(&sb), true);
	state_buf_free(&sb);
	return ret;
}

static void mig_progress(struct migration *m, const char *what)
{
	vlab_log("migrate: %s round %d: %.1f MB sent, %.0f MB/s, dirty %.1f MB/s, "
		 "%llu pages left, expected downtime %.1f ms", what, m->round,
		 m->bytes_sent / 1e6, m->bandwidth / 1e6, m->dirty_rate / 1e6,
		 (unsigned long long)m->remaining_pages, m->expected_downtime_ms);
}

/* VLAB_MIG_ACK_TIMEOUT_MS shortens the wait for tests of a lost answer. */
static int mig_ack_timeout_ms(void)
{
	const char *env = getenv("VLAB_MIG_ACK_TIMEOUT_MS");
	long ms = env ? strtol(env, NULL, 10) : 0;

	return ms > 0 && ms <= MIG_ACK_TIMEOUT_MS ? (int)ms : MIG_ACK_TIMEOUT_MS;
}

static int mig_wait_ack(struct migration *m)
{
	struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
	char ack[sizeof(MIG_ACK) - 1];
	int ret;

	if (m->part[0]) {
		if (fsync(m->fd) || rename(m->part, m->uri + 5))
			return -errno;
		m->part[0] = '\0';
		return 0;
	}
	if (poll(&pfd, 1, mig_ack_timeout_ms()) != 1)
		return -ETIMEDOUT;
	ret = read_full(m->fd, ack, sizeof(ack));
	if (ret == -ENODATA)
		return -EPIPE;	/* closed without an answer: it refused */
	if (ret || memcmp(ack, MIG_ACK, sizeof(ack)))
		return ret ? ret : -EPROTO;
	return 0;
}

static int mig_stop_and_copy(struct migration *m, uint64_t *paused_at)
{
	struct vm *vm = m->vm;
	struct state_buf sb;
	int ret;

	*paused_at = vlab_now_ns();
	__atomic_store_n(&m->stopped, true, __ATOMIC_RELEASE);
	vm_pause(vm);
	mig_devices(vm, true);
	if (!m->snapshot) {
		/* Pages found dirty by the last pre-copy sync are still unsent. */
		unsigned long *pending = malloc(m->dirty_words * sizeof(unsigned long));
		uint64_t w;

		if (!pending)
			return -ENOMEM;
		memcpy(pending, m->dirty, m->dirty_words * sizeof(unsigned long));
		ret = mig_dirty_sync(m);
		for (w = 0; w < m->dirty_words; w++)
			m->dirty[w] |= pending[w];
		free(pending);
		m->remaining_pages = mig_count(m->dirty, m->dirty_words);
		if (!ret)
			ret = mig_send_pages(m, m->dirty, false);
	} else {
		ret = mig_send_pages(m, NULL, true);
	}
	if (ret)
		return ret;
	ret = mig_state_save(vm, &sb);
	if (ret) {
		mig_fail(m, "saving the state: %s", state_buf_strerror(&sb));
		state_buf_free(&sb);
		return ret;
	}
	ret = mig_send(m, MIG_REC_STATE, 0, state_blob(&sb), state_blob_size(&sb), true);
	state_buf_free(&sb);
	if (ret)
		return ret;
	/*
	 * Commit point: once the end marker is out the destination may run
	 * the guest, so cmd_migrate_cancel() must not shut the stream any
	 * more (over TCP the destination's acknowledgement still goes out
	 * and both sides would run the guest). committed and cancel are a
	 * Dekker pair, both sides store then load with SEQ_CST: either a
	 * cancel is seen here and the end marker is not sent, or the cancel
	 * sees committed and is refused.
	 */
	__atomic_store_n(&m->committed, true, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&m->cancel, __ATOMIC_SEQ_CST))
		return -ECANCELED;
	ret = mig_send(m, MIG_REC_END, 0, NULL, 0, false);
	if (ret)
		return ret;
	/* From here the destination may run the guest: no more cancelling. */
	return mig_wait_ack(m);
}

static void *mig_thread(void *arg)
{
	struct migration *m = arg;
	struct vm *vm = m->vm;
	uint64_t paused_at = 0, t0, one = 1;
	int ret;

	m->start_ns = vlab_now_ns();
	m->page_sums = malloc(MIG_RUN_PAGES * sizeof(uint64_t));
	ret = m->page_sums ? mig_send_header(m) : -ENOMEM;
	/* Sockets take guest pages by splice; a pipe that holds a whole record. */
	m->pipe[0] = m->pipe[1] = -1;
	if (strncmp(m->uri, "file:", 5) && !pipe2(m->pipe, O_CLOEXEC))
		fcntl(m->pipe[1], F_SETPIPE_SZ, MIG_RUN_PAGES << GM_PAGE_SHIFT);
	if (!ret && !m->snapshot) {
		ret = mig_dirty_start(m);
		/* Round 0: everything, then rounds of what changed meanwhile. */
		for (m->round = 0; !ret; m->round++) {
			uint64_t before = m->bytes_sent, dirty_pages;
			double secs;

			t0 = vlab_now_ns();
			if (m->round == 0) {
				ret = mig_send_pages(m, NULL, true);
			} else {
				ret = mig_send(m, MIG_REC_ROUND, m->round, NULL, 0, false);
				if (!ret)
					ret = mig_send_pages(m, m->dirty, false);
			}
			if (ret)
				break;
			secs = (vlab_now_ns() - t0) / 1e9;
			if (secs > 0 && m->bytes_sent > before)
				m->bandwidth = (m->bytes_sent - before) / secs;
			ret = mig_dirty_sync(m);
			if (ret)
				break;
			dirty_pages = mig_count(m->dirty, m->dirty_words);
			m->remaining_pages = dirty_pages;
			m->dirty_rate = secs > 0 ? (dirty_pages << GM_PAGE_SHIFT) / secs : 0;
			m->expected_downtime_ms = m->bandwidth > 0 ?
				1e3 * (dirty_pages << GM_PAGE_SHIFT) / m->bandwidth : 0;
			mig_progress(m, "pre-copy");
			if (m->expected_downtime_ms <= m->downtime_limit_ms ||
			    m->round + 1 >= MIG_MAX_ROUNDS)
				break;
		}
		if (!ret)
			ret = mig_stop_and_copy(m, &paused_at);
	} else if (!ret) {
		ret = mig_stop_and_copy(m, &paused_at);
	}

	m->total_ms = (vlab_now_ns() - m->start_ns) / 1e6;
	if (paused_at)
		m->downtime_ms = (vlab_now_ns() - paused_at) / 1e6;
	if (ret) {
		bool lost_ack = ret == -ETIMEDOUT &&
				__atomic_load_n(&m->committed, __ATOMIC_ACQUIRE);

		/* The first message set is the one kept: most specific first. */
		if (__atomic_load_n(&m->cancel, __ATOMIC_ACQUIRE))
			mig_fail(m, m->exiting ? "cancelled: vlab is stopping" : "cancelled");
		else if (lost_ack)
			mig_fail(m, "no acknowledgement after the whole stream: the guest stays "
				 "paused here (resume it only if the destination is gone)");
		else if (ret == -EPIPE || ret == -ECONNRESET)
			mig_fail(m, "the destination closed the stream (it refused the "
				 "stream or stopped: see its log)");
		else
			mig_fail(m, "%s", strerror(-ret));
		m->state = m->cancel ? MIG_CANCELLED : MIG_FAILED;
		if (lost_ack) {
			/*
			 * The whole stream went out but no answer came: the
			 * destination may be running the guest. Resuming here
			 * could run it twice, so vCPUs and devices stay stopped;
			 * `resume` is the operator's call once the destination is
			 * known dead, and restarts both (cmd_resume).
			 */
			__atomic_store_n(&m->devices_held, true, __ATOMIC_RELEASE);
			vlab_log("migrate to %s: %s", m->uri, m->error);
		} else {
			/*
			 * EOF without the acknowledgement means the destination
			 * refused: it acknowledges only once it can run the guest.
			 */
			vlab_log("migrate to %s failed: %s; the guest keeps running here",
				 m->uri, m->error);
			if (paused_at) {
				mig_devices(vm, false);
				vm_resume(vm);
			}
		}
	} else {
		m->state = MIG_COMPLETED;
		vlab_log("migrate: done in %.0f ms, downtime %.1f ms, %.1f MB in %d round(s)",
			 m->total_ms, m->downtime_ms, m->bytes_sent / 1e6, m->round + 1);
		if (m->snapshot) {
			mig_devices(vm, false);
			vm_resume(vm);
		} else {
			vm_stop(vm, VM_STOP_MIGRATED, 0);
		}
	}
	__atomic_store_n(&m->stopped, false, __ATOMIC_RELEASE);
	mig_dirty_stop(m);
	free(m->page_sums);
	m->page_sums = NULL;
	if (m->pipe[0] >= 0) {
		close(m->pipe[0]);
		close(m->pipe[1]);
	}
	close(m->fd);
	m->fd = -1;
	if (m->part[0]) {
		/* Failed or cancelled: no partial file, whatever was at the path stays. */
		unlink(m->part);
		vlab_log("migrate: removed the partial file %s", m->part);
		m->part[0] = '\0';
	}
	/* The state is final: tell the main loop (a wait=true reply). */
	if (m->done_fd >= 0 && write(m->done_fd, &one, sizeof(one)) < 0)
		vlab_log("migrate: eventfd: %s", strerror(errno));
	return NULL;
}

static const char *mig_state_name(enum mig_state s)
{
	static const char *const names[] = {
		[MIG_NONE] = "none", [MIG_ACTIVE] = "active", [MIG_COMPLETED] = "completed",
		[MIG_FAILED] = "failed", [MIG_CANCELLED] = "cancelled",
		[MIG_INCOMING] = "incoming",
	};

	return names[s];
}

/* Reap a finished migration thread so a new one can start. */
static void mig_reap(struct migration *m)
{
	if (m->thread_running && m->state != MIG_ACTIVE && m->state != MIG_INCOMING) {
		pthread_join(m->thread, NULL);
		m->thread_running = false;
	}
}

static int mig_start(struct vm *vm, const char *uri, bool snapshot, const struct json_value *req,
		     struct json_writer *reply)
{
	struct migration *m = vm->mig;
	const struct json_value *wait_v;
	bool wait = false;
	char err[PATH_MAX + 64];
	int64_t v;

	mig_reap(m);
	if (m->state == MIG_INCOMING)
		return control_reply_error(reply, "%s", MIG_WAITING);
	if (m->state == MIG_ACTIVE)
		return control_reply_error(reply, "a migration to %s is already running", m->uri);
	if (!uri || !uri[0])
		return control_reply_error(reply, "needs \"uri\": unix:PATH, tcp:HOST:PORT or file:PATH");
	/* Cut short, it would name another file or socket: refuse it whole. */
	if (strlen(uri) > MIG_URI_MAX)
		return control_reply_error(reply, "uri longer than %d bytes", MIG_URI_MAX);
	if (snapshot && strncmp(uri, "file:", 5))
		return control_reply_error(reply, "a snapshot goes to file:PATH");
	if (__atomic_load_n(&m->devices_held, __ATOMIC_ACQUIRE))
		return control_reply_error(reply, "the guest is held after a lost acknowledgement: "
					   "resume it (if the destination is gone) or quit");
	m->downtime_limit_ms = vm->cfg->downtime_ms;
	m->max_bandwidth = vm->cfg->max_bandwidth;
	if (!json_get_int64(json_object_get(req, "downtime_ms"), &v)) {
		if (v < 1 || v > 60000)
			return control_reply_error(reply, "downtime_ms must be 1..60000");
		m->downtime_limit_ms = v;
	}
	if (!json_get_int64(json_object_get(req, "max_bandwidth"), &v)) {
		if (v < 0)
			return control_reply_error(reply, "max_bandwidth must be >= 0 bytes/s");
		m->max_bandwidth = v;
	}
	wait_v = json_object_get(req, "wait");
	if (wait_v && json_get_bool(wait_v, &wait))
		return control_reply_error(reply, "wait must be true or false");
	m->part[0] = '\0';
	if (!strncmp(uri, "file:", 5)) {
		/* Under another name until complete: a failure leaves no partial file. */
		if (strlen(uri + 5) + 5 >= PATH_MAX)
			return control_reply_error(reply, "path longer than %d bytes", PATH_MAX - 6);
		snprintf(m->part, sizeof(m->part), "%s.part", uri + 5);
		m->fd = open(m->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (m->fd < 0)
			snprintf(err, sizeof(err), "%s: %s", uri + 5, strerror(errno));
	} else {
		m->fd = mig_open_uri(uri, false, err, sizeof(err));
	}
	if (m->fd < 0)
		return control_reply_error(reply, "%s", err);
	snprintf(m->uri, sizeof(m->uri), "%s", uri);
	m->snapshot = snapshot;
	m->cancel = false;
	m->committed = false;
	m->stopped = false;
	m->error[0] = '\0';
	m->round = 0;
	m->bytes_sent = m->pages_sent = m->zero_pages = m->remaining_pages = 0;
	m->bandwidth = m->dirty_rate = m->expected_downtime_ms = 0;
	m->total_ms = m->downtime_ms = 0;
	m->state = MIG_ACTIVE;
	if (pthread_create(&m->thread, NULL, mig_thread, m)) {
		m->state = MIG_FAILED;
		close(m->fd);
		m->fd = -1;
		if (m->part[0])
			unlink(m->part);
		return control_reply_error(reply, "cannot start the migration thread");
	}
	pthread_setname_np(m->thread, "migrate");
	m->thread_running = true;
	/* Over a connection the reply waits for the end; else it comes now. */
	if (wait)
		m->waiter = control_defer();
	json_kv_string(reply, "state", "active");
	json_kv_string(reply, "uri", uri);
	return 0;
}

/* The wait=true reply: how the migration or snapshot ended. */
static int mig_result(struct vm *vm, struct json_writer *reply, void *opaque)
{
	struct migration *m = opaque;

	if (m->state != MIG_COMPLETED) {
		control_reply_error(reply, "%s to %s %s: %s", m->snapshot ? "snapshot" : "migration",
				    m->uri, mig_state_name(m->state), m->error);
		json_kv_string(reply, "state", mig_state_name(m->state));
		return -1;
	}
	json_kv_string(reply, "state", "completed");
	json_kv_string(reply, "uri", m->uri);
	json_kv_double(reply, "mb_sent", m->bytes_sent / 1e6);
	json_kv_double(reply, "total_ms", m->total_ms);
	json_kv_double(reply, "downtime_ms", m->downtime_ms);
	return 0;
}

static void mig_answer_waiter(struct migration *m)
{
	struct control_waiter *w = m->waiter;

	if (w) {
		m->waiter = NULL;
		control_finish(w, mig_result, m);
	}
}

static void on_mig_done(int fd, void *opaque)
{
	struct migration *m = opaque;
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) < 0)
		return;
	if (m->state != MIG_ACTIVE)
		mig_answer_waiter(m);
}

/*
 * quit during a migration or snapshot cancels it (migrate_exit(); a
 * migration past its commit point ends as it can) and says so; the
 * partial snapshot file is removed. To keep a snapshot, wait for it
 * (wait=true) before quitting.
 */
static int cmd_quit(struct vm *vm, const struct json_value *req, struct json_writer *reply,
		    void *opaque)
{
	struct migration *m = vm->mig;

	if (m->state == MIG_ACTIVE)
		json_kv_string(reply, "cancelling", m->uri);
	vlab_log("quit from the control socket");
	vm_stop(vm, VM_STOP_USER, 0);
	return 0;
}

static int cmd_migrate(struct vm *vm, const struct json_value *req, struct json_writer *reply,
		       void *opaque)
{
	return mig_start(vm, json_get_string(json_object_get(req, "uri")), false, req, reply);
}

static int cmd_snapshot(struct vm *vm, const struct json_value *req, struct json_writer *reply,
			void *opaque)
{
	const char *uri = json_get_string(json_object_get(req, "uri"));
	const char *path = json_get_string(json_object_get(req, "path"));
	char buf[MIG_URI_MAX + 1];

	/* "path" is friendlier for files: vlab ctl SOCK snapshot path=/tmp/s */
	if (!uri && path) {
		if (strlen(path) > PATH_MAX)
			return control_reply_error(reply, "path longer than %d bytes", PATH_MAX);
		snprintf(buf, sizeof(buf), "file:%s", path);
		uri = buf;
	}
	return mig_start(vm, uri, true, req, reply);
}

static int cmd_migrate_cancel(struct vm *vm, const struct json_value *req,
			      struct json_writer *reply, void *opaque)
{
	struct migration *m = vm->mig;

	if (m->state != MIG_ACTIVE)
		return control_reply_error(reply, "no migration is running");
	/* See the commit point in mig_stop_and_copy(). */
	__atomic_store_n(&m->cancel, true, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&m->committed, __ATOMIC_SEQ_CST))
		return control_reply_error(reply, "too late to cancel: the whole stream went out "
					   "and the destination may be running the guest");
	/* Unblock a write stuck on a slow or dead peer. */
	if (m->fd >= 0)
		shutdown(m->fd, SHUT_RDWR);
	json_kv_string(reply, "state", "cancelling");
	return 0;
}

/*
 * `resume` as control.c has it, plus what a migration may have left: the
 * devices of a guest held after a lost acknowledgement. During a
 * stop-and-copy the pause belongs to the migration: refused.
 */
static int cmd_resume(struct vm *vm, const struct json_value *req,
		      struct json_writer *reply, void *opaque)
{
	struct migration *m = vm->mig;

	if (m->state == MIG_INCOMING)
		return control_reply_error(reply, "%s", MIG_WAITING);
	if (m->state == MIG_ACTIVE && __atomic_load_n(&m->stopped, __ATOMIC_ACQUIRE))
		return control_reply_error(reply, "resume: the migration is switching over; "
					   "use migrate-cancel");
	if (__atomic_exchange_n(&m->devices_held, false, __ATOMIC_ACQ_REL)) {
		vlab_log("resumed by the operator after a lost acknowledgement");
		mig_devices(vm, false);
	}
	vm_resume(vm);
	json_kv_string(reply, "state", vm_state_name(vm));
	return 0;
}

/* `pause` as control.c has it, but a destination has no guest to pause yet. */
static int cmd_pause(struct vm *vm, const struct json_value *req,
		     struct json_writer *reply, void *opaque)
{
	if (vm->mig->state == MIG_INCOMING)
		return control_reply_error(reply, "%s", MIG_WAITING);
	vm_pause(vm);
	json_kv_string(reply, "state", vm_state_name(vm));
	return 0;
}

static int cmd_dump_state(struct vm *vm, const struct json_value *req,
			  struct json_writer *reply, void *opaque)
{
	struct state_buf sb;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	if (vm->mig->state == MIG_INCOMING)
		return control_reply_error(reply, "%s", MIG_WAITING);
	if (vm->mig->state == MIG_ACTIVE)
		return control_reply_error(reply, "a migration is running");
	vm_pause(vm);
	mig_devices(vm, true);
	ret = mig_state_save(vm, &sb);
	mig_devices(vm, false);
	vm_resume(vm);
	if (ret) {
		state_buf_free(&sb);
		return control_reply_error(reply, "saving the state failed");
	}
	f = open_memstream(&text, &len);
	if (!f) {
		state_buf_free(&sb);
		return control_reply_error(reply, "out of memory");
	}
	state_dump(state_blob(&sb), f);
	fclose(f);
	json_kv_uint(reply, "bytes", state_blob_size(&sb));
	json_kv_string(reply, "dts", text);
	free(text);
	state_buf_free(&sb);
	return 0;
}

static void status_migration(struct vm *vm, struct json_writer *w, void *opaque)
{
	struct migration *m = vm->mig;

	json_obj_begin(w);
	json_kv_string(w, "state", mig_state_name(m->state));
	if (m->state == MIG_INCOMING) {
		json_kv_string(w, "uri", m->uri);
		json_obj_end(w);
		return;
	}
	json_kv_string(w, "dirty_log", vm->dirty_ring ? "ring" : "bitmap");
	if (vm->dirty_ring) {
		json_kv_uint(w, "dirty_ring_entries", vm->dirty_ring->entries);
		json_kv_uint(w, "dirty_ring_harvested",
			     __atomic_load_n(&vm->dirty_ring->nr_harvested, __ATOMIC_RELAXED));
		json_kv_uint(w, "dirty_ring_full_exits",
			     __atomic_load_n(&vm->dirty_ring->nr_full_exits, __ATOMIC_RELAXED));
	}
	if (m->state != MIG_NONE) {
		json_kv_string(w, "uri", m->uri);
		json_kv_bool(w, "snapshot", m->snapshot);
		json_kv_int(w, "round", m->round);
		json_kv_uint(w, "bytes", m->bytes_sent);
		json_kv_double(w, "mb_sent", m->bytes_sent / 1e6);
		json_kv_uint(w, "pages", m->pages_sent);
		json_kv_uint(w, "zero_pages", m->zero_pages);
		json_kv_uint(w, "remaining_pages", m->remaining_pages);
		json_kv_double(w, "bandwidth_mbps", m->bandwidth / 1e6);
		json_kv_double(w, "dirty_rate_mbps", m->dirty_rate / 1e6);
		json_kv_double(w, "expected_downtime_ms", m->expected_downtime_ms);
		json_kv_double(w, "total_ms", m->total_ms);
		json_kv_double(w, "downtime_ms", m->downtime_ms);
		if (m->error[0])
			json_kv_string(w, "error", m->error);
	}
	json_obj_end(w);
}

/* The VM's state in status: a destination has none yet, it waits. */
static void status_state(struct vm *vm, struct json_writer *w, void *opaque)
{
	json_put_string(w, vm->mig->state == MIG_INCOMING ? "waiting" : vm_state_name(vm));
}

void migrate_init(struct vm *vm)
{
	vm->mig = calloc(1, sizeof(*vm->mig));
	if (!vm->mig)
		return;
	vm->mig->vm = vm;
	vm->mig->fd = -1;
	vm->mig->in_fd = vm->mig->in_cancel_fd = vm->mig->in_done_fd = -1;
	pthread_mutex_init(&vm->mig->lock, NULL);
	vm->mig->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->mig->done_fd >= 0 &&
	    event_loop_add(&vm->loop, vm->mig->done_fd, on_mig_done, vm->mig)) {
		close(vm->mig->done_fd);
		vm->mig->done_fd = -1;
	}
	control_register("migrate", cmd_migrate, NULL);
	control_register("migrate-cancel", cmd_migrate_cancel, NULL);
	control_register("snapshot", cmd_snapshot, NULL);
	control_register("dump-state", cmd_dump_state, NULL);
	control_register("resume", cmd_resume, NULL);
	control_register("pause", cmd_pause, NULL);
	control_register("quit", cmd_quit, NULL);
	control_register_status("migration", status_migration, NULL);
	control_register_status("state", status_state, NULL);
}

void migrate_exit(struct vm *vm)
{
	struct migration *m = vm->mig;

	if (!m)
		return;
	m->exiting = true;
	if (m->thread_running && m->state == MIG_INCOMING)
		mig_incoming_cancel(m);
	if (m->thread_running) {
		if (m->state == MIG_ACTIVE) {
			__atomic_store_n(&m->cancel, true, __ATOMIC_RELEASE);
			if (m->fd >= 0)
				shutdown(m->fd, SHUT_RDWR);
		}
		pthread_join(m->thread, NULL);
		m->thread_running = false;
	}
	/* Before control_exit(): the reply goes out with the others. */
	mig_answer_waiter(m);
	if (m->done_fd >= 0) {
		event_loop_del(&vm->loop, m->done_fd);
		close(m->done_fd);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
	vm->mig = NULL;
}

/* ---- destination ---- */

static int mig_recv_rec(int fd, struct mig_rec *rec, char *err, size_t errlen)
{
	int ret = read_full(fd, rec, sizeof(*rec));

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
static ssize_t mig_read_slice(int fd, uint8_t *p, uint64_t left, char *err, size_t errlen)
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

static int mig_recv_payload(int fd, void *buf, const struct mig_rec *rec, char *err,
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

/*
 * Pages whose last copy did not match its checksum. During pre-copy that
 * is a page the guest wrote while it was sent, and it comes again; a page
 * still here at the end marker was damaged on the way.
 */
struct mig_bad_pages {
	unsigned long *bits;	/* gpa-space, one bit a page */
	uint64_t words;
	uint64_t nr;
	uint64_t torn;		/* times a copy mismatched (resent or not) */
	uint64_t sums[MIG_RUN_PAGES];
};

static void mig_page_verdict(struct mig_bad_pages *bad, uint64_t gpa, bool good)
{
	uint64_t page = gpa >> GM_PAGE_SHIFT;
	unsigned long *w = &bad->bits[page / BITS_PER_LONG], bit = 1UL << (page % BITS_PER_LONG);

	if (page >= bad->words * BITS_PER_LONG)
		return;
	if (!good)
		bad->torn++;
	if (!good && !(*w & bit)) {
		*w |= bit;
		bad->nr++;
	} else if (good && (*w & bit)) {
		*w &= ~bit;
		bad->nr--;
	}
}

/* A RAM record: the page checksums, then the pages, checked as they come in. */
static int mig_recv_ram(struct vm *vm, int fd, const struct mig_rec *rec,
			struct mig_bad_pages *bad, char *err, size_t errlen)
{
	uint64_t npages = rec->len >> GM_PAGE_SHIFT, got = 0, checked = 0;
	uint8_t *p = guest_mem_map(&vm->mem, rec->addr, rec->len, true);
	int ret;

	if (!p || (rec->addr | rec->len) & (GM_PAGE_SIZE - 1) || !npages ||
	    npages > MIG_RUN_PAGES) {
		snprintf(err, errlen, "corrupt stream: RAM record 0x%llx+0x%llx outside guest RAM",
			 (unsigned long long)rec->addr, (unsigned long long)rec->len);
		return -1;
	}
	ret = read_full(fd, bad->sums, npages * sizeof(uint64_t));
	if (ret) {
		snprintf(err, errlen, "stream ended inside a record: truncated");
		return -1;
	}
	if (mig_csum(bad->sums, npages * sizeof(uint64_t), rec->addr) != rec->csum) {
		snprintf(err, errlen, "corrupt stream: bad checksum in a RAM record at 0x%llx",
			 (unsigned long long)rec->addr);
		return -1;
	}
	while (got < rec->len) {
		ssize_t r = mig_read_slice(fd, p + got, rec->len - got, err, errlen);

		if (r < 0)
			return -1;
		got += r;
		/* Each page as soon as it is whole, while it is in the cache. */
		for (; checked < got >> GM_PAGE_SHIFT; checked++) {
			uint64_t gpa = rec->addr + (checked << GM_PAGE_SHIFT);

			mig_page_verdict(bad, gpa, mig_csum(p + (checked << GM_PAGE_SHIFT),
							    GM_PAGE_SIZE, gpa) == bad->sums[checked]);
		}
	}
	return 0;
}

/* Read a whole stream from @fd into the VM; -1 with @err set if it is refused. */
static int mig_receive(struct migration *m, int fd, char *err, size_t errlen)
{
	struct vm *vm = m->vm;
	const char *uri = m->uri;
	struct mig_bad_pages bad = { 0 };
	struct mig_rec rec;
	char hdr[16];
	uint32_t ver;
	void *blob = NULL;
	uint64_t t0 = vlab_now_ns(), ram = 0;
	int ret = -1;

	bad.words = (vm->mem.dirty_bits + BITS_PER_LONG - 1) / BITS_PER_LONG;
	bad.bits = calloc(bad.words, sizeof(unsigned long));
	if (!bad.bits) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ret = read_full(fd, hdr, sizeof(hdr));
	if (ret == -ENODATA || (!ret && memcmp(hdr, MIG_MAGIC, 8))) {
		/* Too short to tell, or the wrong magic: not ours either way. */
		snprintf(err, errlen, "%s: not a vlab migration stream (%s)", uri,
			 ret ? "it ends inside the 16-byte header" : "no VLABMIG1 magic");
		ret = -1;
		goto out;
	}
	if (ret) {
		snprintf(err, errlen, "%s: reading the stream: %s", uri, strerror(-ret));
		ret = -1;
		goto out;
	}
	ret = -1;
	memcpy(&ver, hdr + 8, 4);
	if (ver != MIG_VERSION) {
		snprintf(err, errlen, "stream version %u, this vlab reads %u", ver, MIG_VERSION);
		goto out;
	}
	for (;;) {
		if (__atomic_load_n(&m->cancel, __ATOMIC_ACQUIRE)) {
			snprintf(err, errlen, "cancelled");
			goto out;
		}
		if (mig_recv_rec(fd, &rec, err, errlen))
			goto out;
		switch (rec.type) {
		case MIG_REC_CONFIG:
		case MIG_REC_STATE:
			if (rec.len > (64u << 20)) {
				snprintf(err, errlen, "corrupt stream: %llu-byte state record",
					 (unsigned long long)rec.len);
				goto out;
			}
			free(blob);
			blob = malloc(rec.len ? rec.len : 1);
			if (!blob || mig_recv_payload(fd, blob, &rec, err, errlen))
				goto out;
			if (rec.type == MIG_REC_CONFIG &&
			    mig_config_check(vm, blob, rec.len, err, errlen))
				goto out;
			if (rec.type == MIG_REC_STATE &&
			    mig_state_load(vm, blob, rec.len, err, errlen))
				goto out;
			break;
		case MIG_REC_RAM:
			if (mig_recv_ram(vm, fd, &rec, &bad, err, errlen))
				goto out;
			ram += rec.len;
			break;
		case MIG_REC_ZERO: {
			uint64_t off;

			if (guest_mem_fill(&vm->mem, rec.addr, 0, rec.len)) {
				snprintf(err, errlen, "corrupt stream: zero range outside guest RAM");
				goto out;
			}
			for (off = 0; off + GM_PAGE_SIZE <= rec.len; off += GM_PAGE_SIZE)
				mig_page_verdict(&bad, rec.addr + off, true);
			break;
		}
		case MIG_REC_ROUND:
			break;
		case MIG_REC_END:
			if (!blob) {
				snprintf(err, errlen, "stream has no state");
				goto out;
			}
			if (bad.nr) {
				uint64_t w = 0;

				while (!bad.bits[w])
					w++;
				snprintf(err, errlen, "corrupt stream: %llu page(s) of RAM failed their "
					 "checksum and were not sent again (the first at 0x%llx)",
					 (unsigned long long)bad.nr, (unsigned long long)
					 ((w * BITS_PER_LONG + __builtin_ctzl(bad.bits[w])) << GM_PAGE_SHIFT));
				goto out;
			}
			ret = 0;
			goto out;
		default:
			snprintf(err, errlen, "corrupt stream: record type %u", rec.type);
			goto out;
		}
	}
out:
	if (!ret) {
		vlab_log("incoming: %.1f MB of RAM and the state in %.0f ms; %llu page "
			 "copies torn by guest writes, all sent again", ram / 1e6,
			 (vlab_now_ns() - t0) / 1e6, (unsigned long long)bad.torn);
		/* Tell the source it may let go; for a file there is nobody to tell. */
		if (strncmp(uri, "file:", 5) && write(fd, MIG_ACK, sizeof(MIG_ACK) - 1) !=
		    sizeof(MIG_ACK) - 1) {
			snprintf(err, errlen, "the source went away before the hand-over");
			ret = -1;
		}
	}
	free(bad.bits);
	free(blob);
	return ret;
}

int migrate_receive_fd(struct vm *vm, int fd, char *err, size_t errlen)
{
	struct migration *m = calloc(1, sizeof(*m));
	int ret;

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	m->vm = vm;
	snprintf(m->uri, sizeof(m->uri), "file:stream");
	ret = mig_receive(m, fd, err, errlen);
	free(m);
	return ret;
}

/* Remove the destination's listening socket file, if it is still the one we made. */
static void mig_unlink_listener(struct migration *m)
{
	struct stat st;

	if (m->in_path[0] && !lstat(m->in_path, &st) && st.st_dev == m->in_dev &&
	    st.st_ino == m->in_ino)
		unlink(m->in_path);
	m->in_path[0] = '\0';
}

/* The source's connection, or -1 with @err set (cancelled, or accept failed). */
static int mig_accept(struct migration *m, char *err, size_t errlen)
{
	struct pollfd pfd[2] = {
		{ .fd = m->in_fd, .events = POLLIN },
		{ .fd = m->in_cancel_fd, .events = POLLIN },
	};
	int fd = -1;

	while (poll(pfd, 2, -1) < 0 && errno == EINTR)
		;
	if (pfd[1].revents || __atomic_load_n(&m->cancel, __ATOMIC_ACQUIRE)) {
		snprintf(err, errlen, "cancelled");
	} else {
		fd = accept4(m->in_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			snprintf(err, errlen, "%s: accept: %s", m->uri, strerror(errno));
	}
	/* One stream only: nobody else may connect, and the path is free again. */
	close(m->in_fd);
	m->in_fd = -1;
	mig_unlink_listener(m);
	return fd;
}

/*
 * The destination's wait and receive, off the main thread so that the
 * loop keeps serving signals and the control socket meanwhile.
 */
static void *mig_incoming_thread(void *arg)
{
	struct migration *m = arg;
	struct vm *vm = m->vm;
	uint64_t one = 1;
	int fd;
	bool cancel;

	/*
	 * Fault guest RAM in now, while nobody waits: first touches are slow
	 * (very slow on nested hosts) and would otherwise throttle the stream.
	 */
	madvise(vm->mem.base, vm->mem.map_size, MADV_POPULATE_WRITE);
	vlab_log("waiting for a migration stream on %s", m->uri);
	if (m->in_listening) {
		fd = mig_accept(m, m->in_err, sizeof(m->in_err));
	} else {
		fd = m->in_fd;
		m->in_fd = -1;
	}
	m->in_ret = -1;
	if (fd >= 0) {
		/* migrate_exit() may shut it down from now on to end a blocked read. */
		pthread_mutex_lock(&m->lock);
		m->fd = fd;
		cancel = m->cancel;
		pthread_mutex_unlock(&m->lock);
		if (cancel)
			snprintf(m->in_err, sizeof(m->in_err), "cancelled");
		else
			m->in_ret = mig_receive(m, fd, m->in_err, sizeof(m->in_err));
		pthread_mutex_lock(&m->lock);
		m->fd = -1;
		close(fd);
		pthread_mutex_unlock(&m->lock);
	}
	if (write(m->in_done_fd, &one, sizeof(one)) < 0)
		vlab_log("incoming: eventfd: %s", strerror(errno));
	return NULL;
}

static void mig_incoming_release(struct migration *m)
{
	if (m->in_done_fd >= 0) {
		event_loop_del(&m->vm->loop, m->in_done_fd);
		close(m->in_done_fd);
	}
	if (m->in_cancel_fd >= 0)
		close(m->in_cancel_fd);
	if (m->in_fd >= 0)
		close(m->in_fd);
	m->in_done_fd = m->in_cancel_fd = m->in_fd = -1;
	mig_unlink_listener(m);
}

/* Main thread: the stream is in (start the guest) or refused (stop, status 2). */
static void on_incoming_done(int fd, void *opaque)
{
	struct migration *m = opaque;
	struct vm *vm = m->vm;
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) < 0)
		return;
	pthread_join(m->thread, NULL);
	m->thread_running = false;
	mig_incoming_release(m);
	m->state = MIG_NONE;
	if (m->in_ret) {
		fprintf(stderr, "vlab: incoming migration refused: %s\n", m->in_err);
		vm_stop(vm, VM_STOP_USER, VLAB_EXIT_USAGE);
		return;
	}
	if (vm_start(vm)) {
		vlab_log("cannot start vCPU threads");
		return;
	}
	migrate_incoming_done(vm);
}

int migrate_incoming_start(struct vm *vm, const char *uri, char *err, size_t errlen)
{
	struct migration *m = vm->mig;
	struct stat st;

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (strlen(uri) > MIG_URI_MAX) {
		snprintf(err, errlen, "URI longer than %d bytes", MIG_URI_MAX);
		return -1;
	}
	snprintf(m->uri, sizeof(m->uri), "%s", uri);
	/* Refusals (a bad URI, a path in use) come now, before anything waits. */
	m->in_fd = mig_open_uri(uri, true, err, errlen);
	if (m->in_fd < 0)
		return -1;
	m->in_listening = strncmp(uri, "file:", 5) != 0;
	if (!strncmp(uri, "unix:", 5) && !stat(uri + 5, &st)) {
		snprintf(m->in_path, sizeof(m->in_path), "%s", uri + 5);
		m->in_dev = st.st_dev;
		m->in_ino = st.st_ino;
	}
	m->in_cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->in_done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->in_cancel_fd < 0 || m->in_done_fd < 0 ||
	    event_loop_add(&vm->loop, m->in_done_fd, on_incoming_done, m)) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	m->cancel = false;
	m->state = MIG_INCOMING;
	if (pthread_create(&m->thread, NULL, mig_incoming_thread, m)) {
		snprintf(err, errlen, "cannot start the incoming thread");
		m->state = MIG_NONE;
		goto fail;
	}
	pthread_setname_np(m->thread, "incoming");
	m->thread_running = true;
	return 0;
fail:
	if (m->in_done_fd >= 0)
		event_loop_del(&vm->loop, m->in_done_fd);
	mig_incoming_release(m);
	return -1;
}

/* quit or a signal while waiting: end the wait or the stream, remove the socket file. */
static void mig_incoming_cancel(struct migration *m)
{
	uint64_t one = 1;

	pthread_mutex_lock(&m->lock);
	m->cancel = true;
	if (m->fd >= 0)
		shutdown(m->fd, SHUT_RDWR);
	pthread_mutex_unlock(&m->lock);
	if (write(m->in_cancel_fd, &one, sizeof(one)) < 0)
		vlab_log("incoming: eventfd: %s", strerror(errno));
	pthread_join(m->thread, NULL);
	m->thread_running = false;
	mig_incoming_release(m);
	m->state = MIG_NONE;
	vlab_log("incoming migration from %s ended before the guest ran: %s", m->uri,
		 m->in_ret ? m->in_err : "received, but vlab is stopping");
}

void migrate_incoming_done(struct vm *vm)
{
	struct vm_dev_state *d;

	mig_devices(vm, false);
	for (d = vm->dev_states; d; d = d->next)
		if (d->migrated)
			d->migrated(d->opaque);
}
