// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vmm/core/vm.h"
#include "vmm/core/worker.h"

static void worker_woken(int fd, void *opaque)
{
	uint64_t cnt;

	/* Only drains the eventfd: the kick bits are taken after the batch. */
	if (read(fd, &cnt, sizeof(cnt)) < 0)
		return;
}

/* Rounds of @run on kicks alone before the loop looks at its fds again. */
#define WORKER_MAX_ROUNDS	16

static void worker_wake(struct worker *w)
{
	uint64_t one = 1;

	/* Fails only if the counter is saturated: the worker is awake anyway. */
	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		return;
}

/*
 * A kicker writes the wake eventfd only when the worker says it may be
 * going to sleep (idle), so kicks into a busy worker cost no system call.
 * The worker says idle, then looks at the kick bits once more (both
 * sequentially consistent, against the kicker's bits-then-idle), so a kick
 * is either seen here or wakes the next wait.
 */
static void worker_batch(struct event_loop *el, void *opaque)
{
	struct worker *w = opaque;
	uint32_t kicked;
	int round;

	for (round = 0;; round++) {
		if (worker_stopping(w)) {
			event_loop_stop(el);
			return;
		}
		__atomic_store_n(&w->idle, false, __ATOMIC_SEQ_CST);
		kicked = __atomic_exchange_n(&w->kicked, 0, __ATOMIC_SEQ_CST);
		if (w->poll_bits && !round) {
			kicked |= w->poll_bits;
			/* Closed: this is the last round, and worker_polling() says so. */
			w->polling = vlab_now_ns() < w->poll_until;
			if (!w->polling)
				w->poll_bits = 0;
		}
		w->run(w, kicked, w->opaque);
		/* Polling: the loop looks at its fds without waiting, then comes back. */
		el->poll = w->poll_bits != 0;
		__atomic_store_n(&w->idle, true, __ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&w->kicked, __ATOMIC_SEQ_CST))
			return;
		if (round == WORKER_MAX_ROUNDS) {
			/* Let the fds have their turn; the kick is kept. */
			worker_wake(w);
			return;
		}
	}
}

static void *worker_thread(void *arg)
{
	struct worker *w = arg;

	/* A first batch: kicks made while stopped are not lost. */
	worker_batch(&w->loop, w);
	event_loop_run(&w->loop);
	return NULL;
}

int worker_init(struct worker *w, const char *name, worker_fn run, void *opaque)
{
	int r;

	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->run = run;
	w->opaque = opaque;
	w->idle = true;
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0)
		return -errno;
	r = event_loop_init(&w->loop);
	if (!r)
		r = event_loop_add(&w->loop, w->wake_fd, worker_woken, w);
	if (r) {
		event_loop_exit(&w->loop);
		close(w->wake_fd);
		w->wake_fd = -1;
		return r;
	}
	w->loop.after_batch = worker_batch;
	w->loop.after_batch_opaque = w;
	return 0;
}

void worker_exit(struct worker *w)
{
	if (w->wake_fd < 0)
		return;
	worker_stop(w);
	event_loop_exit(&w->loop);
	close(w->wake_fd);
	w->wake_fd = -1;
}

int worker_start(struct worker *w)
{
	int r;

	if (w->running)
		return 0;
	__atomic_store_n(&w->stopping, false, __ATOMIC_RELEASE);
	__atomic_store_n(&w->loop.stop, false, __ATOMIC_RELEASE);
	r = pthread_create(&w->thread, NULL, worker_thread, w);
	if (r)
		return -r;
	pthread_setname_np(w->thread, w->name);
	w->running = true;
	return 0;
}

void worker_stop(struct worker *w)
{
	if (!w->running)
		return;
	__atomic_store_n(&w->stopping, true, __ATOMIC_RELEASE);
	worker_wake(w);
	pthread_join(w->thread, NULL);
	w->running = false;
}

void worker_poll(struct worker *w, uint32_t bits, uint64_t ns)
{
	w->poll_bits |= bits;
	w->poll_until = vlab_now_ns() + ns;
	w->polling = true;
}

bool worker_polling(struct worker *w)
{
	return w->poll_bits && w->polling;
}

void worker_kick(struct worker *w, uint32_t bits)
{
	__atomic_fetch_or(&w->kicked, bits, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&w->idle, __ATOMIC_SEQ_CST))
		worker_wake(w);
}

int worker_add_fd(struct worker *w, int fd, event_fn fn, void *opaque)
{
	return event_loop_add(&w->loop, fd, fn, opaque);
}

int worker_del_fd(struct worker *w, int fd)
{
	return event_loop_del(&w->loop, fd);
}

static void worker_timer_fired(int fd, void *opaque)
{
	struct worker_timer *t = opaque;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0)
		return;		/* re-armed or cancelled meanwhile */
	t->fn(t, t->opaque);
}

int worker_timer_init(struct worker_timer *t, struct worker *w,
		      void (*fn)(struct worker_timer *t, void *opaque), void *opaque)
{
	int r;

	t->w = w;
	t->fn = fn;
	t->opaque = opaque;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->fd < 0)
		return -errno;
	r = worker_add_fd(w, t->fd, worker_timer_fired, t);
	if (r) {
		close(t->fd);
		t->fd = -1;
	}
	return r;
}

void worker_timer_arm(struct worker_timer *t, uint64_t ns)
{
	struct itimerspec its = {
		.it_value.tv_sec = ns / 1000000000,
		.it_value.tv_nsec = ns % 1000000000,
	};

	timerfd_settime(t->fd, 0, &its, NULL);
}

void worker_timer_exit(struct worker_timer *t)
{
	if (t->fd < 0)
		return;
	worker_del_fd(t->w, t->fd);
	close(t->fd);
	t->fd = -1;
}

struct parallel_job {
	void (*fn)(void *arg, unsigned int i);
	void *arg;
	unsigned int i;
	pthread_t thread;
	bool spawned;
};

static void *parallel_thread(void *a)
{
	struct parallel_job *j = a;

	j->fn(j->arg, j->i);
	return NULL;
}

void run_parallel(unsigned int n, void (*fn)(void *arg, unsigned int i), void *arg)
{
	struct parallel_job *jobs = n > 1 ? calloc(n, sizeof(*jobs)) : NULL;
	unsigned int i;

	if (!jobs) {
		for (i = 0; i < n; i++)
			fn(arg, i);
		return;
	}
	/* The last one on this thread; any that cannot have a thread too. */
	for (i = 0; i < n; i++) {
		jobs[i] = (struct parallel_job){ .fn = fn, .arg = arg, .i = i };
		if (i + 1 < n)
			jobs[i].spawned = !pthread_create(&jobs[i].thread, NULL, parallel_thread,
							  &jobs[i]);
		if (!jobs[i].spawned)
			fn(arg, i);
	}
	for (i = 0; i < n; i++)
		if (jobs[i].spawned)
			pthread_join(jobs[i].thread, NULL);
	free(jobs);
}
