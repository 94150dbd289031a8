// SPDX-License-Identifier: GPL-2.0
/*
 * The destination: waits for a stream or reads a snapshot, checks every
 * record and page, loads the configuration check and state, and answers
 * the source.
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
	ret = mig_read_full(fd, bad->sums, npages * sizeof(uint64_t));
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

/* Tell the source @text (MIG_MAPPED, MIG_ACK); -errno if it is gone. */
static int mig_answer(int fd, const char *text)
{
	struct iovec iov = { (void *)text, strlen(text) };

	return mig_write_full(fd, &iov, 1);
}

/* Read a whole stream from @fd into the VM; -1 with @err set if it is refused. */
static int mig_receive(struct migration *m, int fd, char *err, size_t errlen)
{
	struct vm *vm = m->vm;
	const char *uri = m->uri;
	struct mig_bad_pages bad = { 0 };
	struct mig_fds fds = { .nr = 0 };
	struct mig_rec rec;
	struct stat st;
	char hdr[16];
	uint32_t ver;
	void *blob = NULL;
	uint64_t t0 = vlab_now_ns(), ram = 0;
	bool local, sock = !fstat(fd, &st) && S_ISSOCK(st.st_mode), have_memory = false;
	int ret = -1;

	bad.words = (vm->mem.dirty_bits + BITS_PER_LONG - 1) / BITS_PER_LONG;
	bad.bits = calloc(bad.words, sizeof(unsigned long));
	if (!bad.bits) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ret = mig_read_full(fd, hdr, sizeof(hdr));
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
	/* Version 2 differs only in having no early state: read it too (old snapshots). */
	if (ver != MIG_VERSION && ver != 2 && ver != MIG_VERSION_LOCAL) {
		snprintf(err, errlen, "stream version %u, this vlab reads 2 to %u", ver,
			 MIG_VERSION_LOCAL);
		goto out;
	}
	local = ver == MIG_VERSION_LOCAL;
	for (;;) {
		if (__atomic_load_n(&m->cancel, __ATOMIC_ACQUIRE)) {
			snprintf(err, errlen, "cancelled");
			goto out;
		}
		if (mig_recv_rec(fd, &rec, sock ? &fds : NULL, err, errlen))
			goto out;
		if ((fds.nr || fds.too_many) && rec.type != MIG_REC_MEMORY) {
			snprintf(err, errlen, "file descriptors came with a record of type %u: only "
				 "a local migration's memory layout carries them", rec.type);
			goto out;
		}
		if (local && (rec.type == MIG_REC_RAM || rec.type == MIG_REC_ZERO)) {
			snprintf(err, errlen, "corrupt stream: RAM pages in a local migration "
				 "stream (its RAM comes by file descriptor)");
			goto out;
		}
		switch (rec.type) {
		case MIG_REC_CONFIG:
		case MIG_REC_STATE:
		case MIG_REC_EARLY:
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
			if (rec.type == MIG_REC_EARLY) {
				mig_early_load(vm, blob, rec.len);
				/* Not the state: END still needs a MIG_REC_STATE. */
				free(blob);
				blob = NULL;
			}
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
		case MIG_REC_MEMORY:
			if (!local || have_memory) {
				snprintf(err, errlen, "corrupt stream: %s memory layout record",
					 local ? "a second" : "a local migration's");
				goto out;
			}
			if (mig_recv_memory(vm, fd, &rec, &fds, err, errlen))
				goto out;
			have_memory = true;
			/* The source pauses the guest once it hears this. */
			if (strncmp(uri, "file:", 5) && mig_answer(fd, MIG_MAPPED)) {
				snprintf(err, errlen, "the source went away before the hand-over");
				goto out;
			}
			break;
		case MIG_REC_ROUND:
			break;
		case MIG_REC_END:
			if (!blob) {
				snprintf(err, errlen, "stream has no state");
				goto out;
			}
			if (local && !have_memory) {
				snprintf(err, errlen, "a local migration stream without guest RAM");
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
		if (strncmp(uri, "file:", 5) && mig_answer(fd, MIG_ACK)) {
			snprintf(err, errlen, "the source went away before the hand-over");
			ret = -1;
		}
	}
	mig_fds_close(&fds);
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

/* Guest RAM faulted in at once: 32 MiB, then a look whether the source is here. */
#define MIG_PREFAULT_CHUNK	(32ULL << 20)

/*
 * Fault guest RAM in now, while nobody waits: first touches are slow
 * (very slow on nested hosts) and would otherwise throttle the stream.
 * Not a guest too big for half the host's free memory: it is mostly
 * untouched (the source sends only what it touched), and making all of
 * it resident could exhaust the host. Stop when the source connects: a
 * local migration brings its own RAM and waits paused for us, and an
 * ordinary one faults in the rest as its pages come.
 */
static void mig_prefault(struct migration *m)
{
	struct guest_mem *gm = &m->vm->mem;
	struct pollfd pfd[2] = {
		{ .fd = m->in_fd, .events = POLLIN },
		{ .fd = m->in_cancel_fd, .events = POLLIN },
	};
	uint64_t off, len;

	if (gm->map_size / GM_PAGE_SIZE > (uint64_t)sysconf(_SC_AVPHYS_PAGES) / 2)
		return;
	for (off = 0; off < gm->map_size; off += len) {
		if (m->in_listening && poll(pfd, 2, 0) > 0)
			return;
		len = gm->map_size - off < MIG_PREFAULT_CHUNK ? gm->map_size - off :
		      MIG_PREFAULT_CHUNK;
		madvise(gm->base + off, len, MADV_POPULATE_WRITE);
	}
}

/*
 * The destination's wait and receive, off the main thread so that the
 * loop keeps serving signals and the control socket meanwhile.
 */
static void *mig_incoming_thread(void *arg)
{
	struct migration *m = arg;
	uint64_t one = 1;
	int fd;
	bool cancel;

	mig_prefault(m);
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
void mig_incoming_cancel(struct migration *m)
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
