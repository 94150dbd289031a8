// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-copy live migration, the source side: round 0 sends every non-zero
 * page, later rounds send what the dirty log (dirty.c) says was written
 * since, until what is left fits the downtime limit at the measured
 * bandwidth. Then stop-and-copy: pause the vCPUs, quiesce the devices,
 * send the last pages and the state, and wait for the destination's
 * acknowledgement before giving up the guest. Any failure before that
 * acknowledgement resumes the guest here.
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

static uint64_t mig_count(const unsigned long *bm, uint64_t words)
{
	uint64_t n = 0, w;

	for (w = 0; w < words; w++)
		n += __builtin_popcountl(bm[w]);
	return n;
}

/* Set bits [first, first + n) with relaxed stores: the watch reads them meanwhile. */
static void mig_bm_set(unsigned long *bm, uint64_t first, uint64_t n)
{
	while (n) {
		uint64_t w = first / BITS_PER_LONG, bit = first % BITS_PER_LONG;
		uint64_t k = BITS_PER_LONG - bit < n ? BITS_PER_LONG - bit : n;
		unsigned long mask = (k == BITS_PER_LONG ? ~0UL : ((1UL << k) - 1)) << bit;

		__atomic_store_n(&bm[w], bm[w] | mask, __ATOMIC_RELAXED);
		first += k;
		n -= k;
	}
}

static void mig_note_sent(struct migration *m, uint64_t first_page, uint64_t n)
{
	if (m->sent_bm)
		mig_bm_set(m->sent_bm, first_page, n);
	__atomic_store_n(&m->round_sent, m->round_sent + n, __ATOMIC_RELAXED);
}

/*
 * A round starts with @pages to send, @bm (NULL: every page) as a sync
 * found them dirty: that is the round's work, and those pages are unsent
 * again.
 */
static void mig_note_dirty(struct migration *m, const unsigned long *bm, uint64_t pages)
{
	uint64_t w;

	for (w = 0; m->sent_bm && w < m->bm_words; w++) {
		unsigned long dirty = bm ? bm[w] : ~0UL;

		__atomic_store_n(&m->pending_bm[w], dirty, __ATOMIC_RELAXED);
		__atomic_store_n(&m->sent_bm[w], m->sent_bm[w] & ~dirty, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&m->round_pages, pages, __ATOMIC_RELAXED);
	__atomic_store_n(&m->round_sent, 0, __ATOMIC_RELAXED);
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
			uint64_t bit = first + p;
			bool dirty, zero, extend;

			/* Outside a run, the rest of a word of clean pages is skipped at once. */
			if (bm && !run_len && p < pages &&
			    !(bm[bit / BITS_PER_LONG] >> (bit % BITS_PER_LONG))) {
				p += BITS_PER_LONG - bit % BITS_PER_LONG;
				if (p > pages)
					p = pages;
				continue;
			}
			dirty = p < pages && (!bm || (bm[bit / BITS_PER_LONG] >> (bit % BITS_PER_LONG) & 1));
			zero = dirty && page_is_zero(r->host + (p << GM_PAGE_SHIFT));
			extend = dirty && run_len && zero == run_zero && (zero || run_len < MIG_RUN_PAGES);

			if (run_len && !extend) {
				uint64_t gpa = r->gpa + (run_start << GM_PAGE_SHIFT);

				mig_note_sent(m, first + run_start, run_len);
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
/*
 * The first pass: every page that may hold data (guest_mem_touched()), so
 * that RAM the guest never touched costs neither a read nor a byte on the
 * wire; every page if the kernel cannot tell.
 */
static int mig_send_first_pass(struct migration *m)
{
	struct guest_mem *gm = &m->vm->mem;
	unsigned long *bm = calloc((gm->dirty_bits + BITS_PER_LONG - 1) / BITS_PER_LONG,
				   sizeof(*bm));
	int ret;

	if (!bm)
		return -ENOMEM;
	if (guest_mem_touched(gm, bm)) {
		free(bm);
		bm = NULL;
		mig_note_dirty(m, NULL, gm->ram_size >> GM_PAGE_SHIFT);
	} else {
		uint64_t touched = mig_count(bm, (gm->dirty_bits + BITS_PER_LONG - 1) /
					     BITS_PER_LONG);

		vlab_log("migrate: %llu of %llu MiB of RAM ever touched; the rest is skipped unread",
			 (unsigned long long)(touched >> (20 - GM_PAGE_SHIFT)),
			 (unsigned long long)(gm->ram_size >> 20));
		mig_note_dirty(m, bm, touched);
	}
	ret = mig_send_pages(m, bm, true);
	free(bm);
	return ret;
}

/* ---- source ---- */

static int mig_send_header(struct migration *m)
{
	struct state_buf sb;
	char hdr[16] = MIG_MAGIC;
	uint32_t ver = m->local ? MIG_VERSION_LOCAL : MIG_VERSION;
	struct iovec iov = { hdr, sizeof(hdr) };
	int ret;

	memcpy(hdr + 8, &ver, 4);
	ret = mig_write_full(m->fd, &iov, 1);
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

/* The destination's answer @text (MIG_ACK, MIG_MAPPED), or -errno. */
static int mig_wait_answer(struct migration *m, const char *text)
{
	struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
	size_t len = strlen(text);
	char answer[32];
	int ret;

	if (poll(&pfd, 1, mig_ack_timeout_ms()) != 1)
		return -ETIMEDOUT;
	ret = mig_read_full(m->fd, answer, len);
	if (ret == -ENODATA)
		return -EPIPE;	/* closed without an answer: it refused */
	if (ret || memcmp(answer, text, len))
		return ret ? ret : -EPROTO;
	return 0;
}

static int mig_wait_ack(struct migration *m)
{
	if (m->part[0]) {
		if (fsync(m->fd) || rename(m->part, m->uri + 5))
			return -errno;
		m->part[0] = '\0';
		return 0;
	}
	return mig_wait_answer(m, MIG_ACK);
}

/*
 * After the first pass: what devices slow to start need to prepare at the
 * destination while pre-copy goes on (a vDPA NIC's vq objects and control
 * state), so that the switch-over only resumes them.
 */
static int mig_send_early(struct migration *m)
{
	struct state_buf sb;
	int ret = mig_early_save(m->vm, &sb);

	if (ret > 0)
		ret = mig_send(m, MIG_REC_EARLY, 0, state_blob(&sb), state_blob_size(&sb), true);
	else if (ret < 0)
		mig_fail(m, "saving the early device state: %s", state_buf_strerror(&sb));
	state_buf_free(&sb);
	return ret;
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
	if (m->local) {
		/* The memory went ahead (mig_thread): nothing to copy. */
		ret = 0;
	} else if (!m->snapshot) {
		/* Pages found dirty by the last pre-copy sync are still unsent. */
		unsigned long *pending = malloc(m->dirty_log.words * sizeof(unsigned long));
		uint64_t w;

		if (!pending)
			return -ENOMEM;
		memcpy(pending, m->dirty_log.bm, m->dirty_log.words * sizeof(unsigned long));
		ret = dirty_log_sync(&m->dirty_log);
		for (w = 0; w < m->dirty_log.words; w++)
			m->dirty_log.bm[w] |= pending[w];
		free(pending);
		m->remaining_pages = mig_count(m->dirty_log.bm, m->dirty_log.words);
		mig_note_dirty(m, m->dirty_log.bm, m->remaining_pages);
		if (!ret)
			ret = mig_send_pages(m, m->dirty_log.bm, false);
	} else {
		ret = mig_send_first_pass(m);
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
	if (!ret && m->local) {
		/*
		 * The memory is shared: it goes before the pause, and the
		 * pause waits until the destination has mapped it (that
		 * costs time with the size of RAM: KVM drops its old
		 * mappings, RAM it faulted in is freed). It reads the
		 * memory only once the state, saved after the pause, is in.
		 */
		ret = mig_send_memory(m) ?: mig_wait_answer(m, MIG_MAPPED) ?:
		      mig_stop_and_copy(m, &paused_at);
	} else if (!ret && !m->snapshot) {
		ret = dirty_log_start(&m->dirty_log, m->vm);
		/* Round 0: everything, then rounds of what changed meanwhile. */
		for (m->round = 0; !ret; m->round++) {
			uint64_t before = m->bytes_sent, dirty_pages;
			double secs;

			t0 = vlab_now_ns();
			if (m->round == 0) {
				ret = mig_send_first_pass(m) ?: mig_send_early(m);
			} else {
				ret = mig_send(m, MIG_REC_ROUND, m->round, NULL, 0, false);
				if (!ret)
					ret = mig_send_pages(m, m->dirty_log.bm, false);
			}
			if (ret)
				break;
			secs = (vlab_now_ns() - t0) / 1e9;
			if (secs > 0 && m->bytes_sent > before)
				m->bandwidth = (m->bytes_sent - before) / secs;
			ret = dirty_log_sync(&m->dirty_log);
			if (ret)
				break;
			dirty_pages = mig_count(m->dirty_log.bm, m->dirty_log.words);
			m->remaining_pages = dirty_pages;
			mig_note_dirty(m, m->dirty_log.bm, dirty_pages);
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
			/* Local: the destination runs the guest in this RAM now. */
			if (m->local)
				guest_mem_release(&vm->mem);
			vm_stop(vm, VM_STOP_MIGRATED, 0);
		}
	}
	__atomic_store_n(&m->stopped, false, __ATOMIC_RELEASE);
	dirty_log_stop(&m->dirty_log);
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

/*
 * mode=precopy (the default) or mode=local: @local true for the latter,
 * which needs a unix socket (fds travel only there) and RAM in memfds.
 */
static int mig_parse_mode(struct vm *vm, const char *uri, bool snapshot,
			  const struct json_value *mode_v, bool *local, char *err, size_t errlen)
{
	const char *mode = mode_v ? json_get_string(mode_v) : "precopy";
	int i;

	*local = mode && !strcmp(mode, "local");
	if (!mode || (!*local && strcmp(mode, "precopy"))) {
		snprintf(err, errlen, "mode must be \"precopy\" or \"local\"");
		return -1;
	}
	if (!*local)
		return 0;
	if (snapshot) {
		snprintf(err, errlen, "a snapshot is a copy: it has no mode=local");
		return -1;
	}
	if (strncmp(uri, "unix:", 5)) {
		snprintf(err, errlen, "mode=local hands guest RAM over by file descriptor: "
			 "it needs uri=unix:PATH, to a vlab on this host");
		return -1;
	}
	for (i = 0; i < vm->mem.nr_regions; i++) {
		if (vm->mem.regions[i].fd < 0) {
			snprintf(err, errlen, "mode=local: guest RAM is not in memfds (start vlab "
				 "with --mem-backend memfd)");
			return -1;
		}
	}
	return 0;
}

/* Reap a finished migration thread so a new one can start. */
static void mig_reap(struct migration *m)
{
	if (m->thread_running && m->state != MIG_ACTIVE && m->state != MIG_INCOMING) {
		pthread_join(m->thread, NULL);
		m->thread_running = false;
	}
}

int mig_start(struct vm *vm, const char *uri, bool snapshot, const struct json_value *req,
	      struct json_writer *reply)
{
	struct migration *m = vm->mig;
	const struct json_value *wait_v;
	bool wait = false, local;
	char err[PATH_MAX + 64];
	int64_t v;

	mig_reap(m);
	if (m->state == MIG_INCOMING)
		return control_reply_error(reply, "%s", MIG_WAITING);
	if (m->state == MIG_ACTIVE)
		return control_reply_error(reply, "a migration to %s is already running", m->uri);
	if (vm->migration_blocker)
		return control_reply_error(reply, "cannot %s: %s", snapshot ? "snapshot" : "migrate",
					   vm->migration_blocker);
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
	if (mig_parse_mode(vm, uri, snapshot, json_object_get(req, "mode"), &local, err,
			   sizeof(err)))
		return control_reply_error(reply, "%s", err);
	/* The watch's view of this migration; the last one's stays until now. */
	free(m->sent_bm);
	free(m->pending_bm);
	m->bm_words = (vm->mem.dirty_bits + BITS_PER_LONG - 1) / BITS_PER_LONG;
	m->sent_bm = calloc(m->bm_words, sizeof(unsigned long));
	m->pending_bm = calloc(m->bm_words, sizeof(unsigned long));
	m->round_pages = m->round_sent = 0;
	if (!m->sent_bm || !m->pending_bm) {
		free(m->sent_bm);
		free(m->pending_bm);
		m->sent_bm = m->pending_bm = NULL;
		return control_reply_error(reply, "out of memory");
	}
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
	m->local = local;
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
