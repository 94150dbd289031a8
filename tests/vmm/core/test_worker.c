// SPDX-License-Identifier: GPL-2.0
/* Device workers: kicks, event sources, stop/start and what survives them. */
#include <check.h>
#include <pthread.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check_main.h"
#include "vmm/core/worker.h"

struct rec {
	uint32_t seen;		/* atomic: OR of every kicked set */
	uint32_t runs;		/* atomic */
	uint32_t fd_events;	/* atomic */
	bool long_run;		/* run spins until stopping */
	bool saw_stopping;
};

static void rec_run(struct worker *w, uint32_t kicked, void *opaque)
{
	struct rec *r = opaque;

	__atomic_fetch_or(&r->seen, kicked, __ATOMIC_RELEASE);
	__atomic_fetch_add(&r->runs, 1, __ATOMIC_RELEASE);
	if (r->long_run && (kicked & 0x80)) {
		while (!worker_stopping(w))
			sched_yield();
		r->saw_stopping = true;
	}
}

static void rec_fd(int fd, void *opaque)
{
	struct rec *r = opaque;
	uint64_t v;

	ck_assert_int_eq(read(fd, &v, sizeof(v)), sizeof(v));
	__atomic_fetch_add(&r->fd_events, (uint32_t)v, __ATOMIC_RELEASE);
}

/* Wait (no deadline of its own: the test timeout is the backstop). */
static void wait_for(uint32_t *p, uint32_t want)
{
	while ((__atomic_load_n(p, __ATOMIC_ACQUIRE) & want) != want)
		sched_yield();
}

START_TEST(kicks_reach_run)
{
	struct worker w;
	struct rec r = { 0 };

	ck_assert_int_eq(worker_init(&w, "test-worker", rec_run, &r), 0);
	ck_assert_int_eq(worker_start(&w), 0);
	worker_kick(&w, 1);
	worker_kick(&w, 4);
	wait_for(&r.seen, 5);
	worker_stop(&w);
	ck_assert(!w.running);
	worker_exit(&w);
}
END_TEST

START_TEST(kicks_while_stopped_are_kept)
{
	struct worker w;
	struct rec r = { 0 };
	uint32_t runs;

	ck_assert_int_eq(worker_init(&w, "test-worker", rec_run, &r), 0);
	worker_kick(&w, 2);
	ck_assert_int_eq(worker_start(&w), 0);
	wait_for(&r.seen, 2);
	worker_stop(&w);
	/* Stopped: nothing runs any more, kicks wait for the next start. */
	runs = __atomic_load_n(&r.runs, __ATOMIC_ACQUIRE);
	worker_kick(&w, 8);
	ck_assert_uint_eq(__atomic_load_n(&r.runs, __ATOMIC_ACQUIRE), runs);
	ck_assert(!(r.seen & 8));
	ck_assert_int_eq(worker_start(&w), 0);
	wait_for(&r.seen, 8);
	worker_exit(&w);
}
END_TEST

START_TEST(fd_sources_survive_restart)
{
	struct worker w;
	struct rec r = { 0 };
	uint64_t one = 1;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(worker_init(&w, "test-worker", rec_run, &r), 0);
	ck_assert_int_eq(worker_add_fd(&w, fd, rec_fd, &r), 0);
	ck_assert_int_eq(worker_start(&w), 0);
	ck_assert_int_eq(write(fd, &one, sizeof(one)), sizeof(one));
	wait_for(&r.fd_events, 1);
	worker_stop(&w);
	/* Written while stopped: handled once started again. */
	ck_assert_int_eq(write(fd, &one, sizeof(one)), sizeof(one));
	ck_assert_int_eq(worker_start(&w), 0);
	while (__atomic_load_n(&r.fd_events, __ATOMIC_ACQUIRE) < 2)
		sched_yield();
	ck_assert_int_eq(worker_del_fd(&w, fd), 0);
	ck_assert_int_eq(worker_del_fd(&w, fd), -ENOENT);
	worker_exit(&w);
	close(fd);
}
END_TEST

START_TEST(stop_waits_for_run)
{
	struct worker w;
	struct rec r = { .long_run = true };

	ck_assert_int_eq(worker_init(&w, "test-worker", rec_run, &r), 0);
	ck_assert_int_eq(worker_start(&w), 0);
	worker_kick(&w, 0x80);
	wait_for(&r.seen, 0x80);
	/* run is spinning until it sees the stop: stop returns after it left. */
	worker_stop(&w);
	ck_assert(r.saw_stopping);
	worker_exit(&w);
}
END_TEST

START_TEST(exit_without_start)
{
	struct worker w;
	struct rec r = { 0 };

	ck_assert_int_eq(worker_init(&w, "test-worker", rec_run, &r), 0);
	worker_stop(&w);
	worker_exit(&w);
	worker_exit(&w);	/* twice is harmless */
	ck_assert_uint_eq(r.runs, 0);
}
END_TEST

struct timer_rec {
	struct worker *w;
	uint32_t fired;		/* atomic */
	bool on_worker;
};

static void timer_fn(struct worker_timer *t, void *opaque)
{
	struct timer_rec *tr = opaque;

	tr->on_worker = pthread_equal(pthread_self(), tr->w->thread);
	__atomic_fetch_add(&tr->fired, 1, __ATOMIC_RELEASE);
}

/* Fires once on the worker; re-arming replaces the deadline, 0 cancels. */
START_TEST(timer_fires_on_worker)
{
	struct worker w;
	struct worker_timer t;
	struct rec r = { 0 };
	struct timer_rec tr = { .w = &w };

	ck_assert_int_eq(worker_init(&w, "test-worker", rec_run, &r), 0);
	ck_assert_int_eq(worker_timer_init(&t, &w, timer_fn, &tr), 0);
	ck_assert_int_eq(worker_start(&w), 0);
	/* An hour away, then cancelled: it must not be what fires below. */
	worker_timer_arm(&t, 3600ULL * 1000000000);
	worker_timer_arm(&t, 0);
	worker_timer_arm(&t, 1000000);
	wait_for(&tr.fired, 1);
	ck_assert(tr.on_worker);
	/* The hour-long deadline was replaced, not kept beside the new one. */
	worker_timer_arm(&t, 1000000);
	while (__atomic_load_n(&tr.fired, __ATOMIC_ACQUIRE) < 2)
		sched_yield();
	worker_stop(&w);
	ck_assert_uint_eq(tr.fired, 2);
	worker_timer_exit(&t);
	worker_exit(&w);
}
END_TEST

/* A deadline that passes while the worker is stopped fires at its start. */
START_TEST(timer_survives_stop)
{
	struct worker w;
	struct worker_timer t;
	struct rec r = { 0 };
	struct timer_rec tr = { .w = &w };

	ck_assert_int_eq(worker_init(&w, "test-worker", rec_run, &r), 0);
	ck_assert_int_eq(worker_timer_init(&t, &w, timer_fn, &tr), 0);
	worker_timer_arm(&t, 1000);
	usleep(10000);
	ck_assert_uint_eq(tr.fired, 0);
	ck_assert_int_eq(worker_start(&w), 0);
	wait_for(&tr.fired, 1);
	ck_assert(tr.on_worker);
	worker_timer_exit(&t);
	worker_exit(&w);
}
END_TEST

static void count_index(void *arg, unsigned int i)
{
	__atomic_add_fetch(&((int *)arg)[i], 1, __ATOMIC_SEQ_CST);
}

/* Every index once, none twice, whatever the count. */
struct pingpong {
	uint32_t want, acked;	/* atomic */
	bool hold;		/* atomic: run spins while set */
	bool in_run;		/* atomic */
};

static void pingpong_run(struct worker *w, uint32_t kicked, void *opaque)
{
	struct pingpong *p = opaque;

	__atomic_store_n(&p->in_run, true, __ATOMIC_RELEASE);
	while (__atomic_load_n(&p->hold, __ATOMIC_ACQUIRE) && !worker_stopping(w))
		sched_yield();
	if (kicked)
		__atomic_store_n(&p->acked, __atomic_load_n(&p->want, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
}

/*
 * Kicks skip the eventfd while the worker is busy: a lost wakeup here
 * would hang a round (the suite's timeout is the backstop).
 */
START_TEST(no_kick_is_lost)
{
	struct pingpong p = { 0 };
	struct worker w;
	uint32_t i;

	ck_assert_int_eq(worker_init(&w, "test-worker", pingpong_run, &p), 0);
	ck_assert_int_eq(worker_start(&w), 0);
	for (i = 1; i <= 20000; i++) {
		__atomic_store_n(&p.want, i, __ATOMIC_RELEASE);
		worker_kick(&w, 1);
		while (__atomic_load_n(&p.acked, __ATOMIC_ACQUIRE) != i)
			;
	}
	worker_exit(&w);
}
END_TEST

START_TEST(kicks_into_a_busy_worker_make_no_syscall)
{
	struct pingpong p = { .hold = true };
	struct worker w;
	uint64_t v;
	int i;

	ck_assert_int_eq(worker_init(&w, "test-worker", pingpong_run, &p), 0);
	ck_assert_int_eq(worker_start(&w), 0);
	while (!__atomic_load_n(&p.in_run, __ATOMIC_ACQUIRE))
		sched_yield();
	/* In run: nothing reads the wake eventfd now, so it shows every write. */
	__atomic_store_n(&p.want, 7, __ATOMIC_RELEASE);
	for (i = 0; i < 1000; i++)
		worker_kick(&w, 2);
	ck_assert_int_eq(read(w.wake_fd, &v, sizeof(v)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* Let it go: the kicks made during the run are seen without a wake. */
	__atomic_store_n(&p.hold, false, __ATOMIC_RELEASE);
	while (__atomic_load_n(&p.acked, __ATOMIC_ACQUIRE) != 7)
		sched_yield();
	worker_exit(&w);
}
END_TEST

/*
 * worker_poll(): after one kick, @run is called again and again with the
 * poll bits and no kick, until the window closes; then exactly once more
 * with worker_polling() false (where a device turns its notifications back
 * on), and the worker sleeps: no more calls without a kick.
 */
struct poller {
	uint32_t polled_runs;	/* atomic */
	uint32_t last_runs;	/* atomic: runs that saw the window closed */
	uint32_t runs;		/* atomic */
	uint32_t runs_at_last;	/* atomic: runs when the last one came */
};

#define POLL_BIT	0x10

static void poll_run(struct worker *w, uint32_t kicked, void *opaque)
{
	struct poller *p = opaque;

	__atomic_fetch_add(&p->runs, 1, __ATOMIC_RELEASE);
	if (kicked & 1)
		worker_poll(w, POLL_BIT, 20 * 1000 * 1000);	/* 20 ms */
	if (!(kicked & POLL_BIT))
		return;
	if (worker_polling(w)) {
		__atomic_fetch_add(&p->polled_runs, 1, __ATOMIC_RELEASE);
	} else {
		__atomic_store_n(&p->runs_at_last, __atomic_load_n(&p->runs, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
		__atomic_fetch_add(&p->last_runs, 1, __ATOMIC_RELEASE);
	}
}

START_TEST(poll_calls_run_until_the_window_closes)
{
	struct poller p = { 0 };
	struct worker w;

	ck_assert_int_eq(worker_init(&w, "test-poll", poll_run, &p), 0);
	ck_assert_int_eq(worker_start(&w), 0);
	worker_kick(&w, 1);
	wait_for(&p.last_runs, 1);
	/* The window is over: the worker sleeps, so no run comes without a kick. */
	usleep(50 * 1000);
	worker_stop(&w);
	ck_assert_uint_ge(p.polled_runs, 2);
	ck_assert_uint_eq(p.last_runs, 1);
	ck_assert_uint_eq(p.runs, p.runs_at_last);
	worker_exit(&w);
}
END_TEST

START_TEST(run_parallel_runs_each_once)
{
	int seen[9] = { 0 }, i;

	run_parallel(0, count_index, seen);
	run_parallel(1, count_index, seen);
	ck_assert_int_eq(seen[0], 1);
	run_parallel(9, count_index, seen);
	for (i = 0; i < 9; i++)
		ck_assert_int_eq(seen[i], i ? 1 : 2);
}
END_TEST

VLAB_SUITE_MAIN("worker", "worker", NULL, NULL, 60,
	kicks_reach_run, kicks_while_stopped_are_kept, fd_sources_survive_restart,
	stop_waits_for_run, exit_without_start, timer_fires_on_worker, timer_survives_stop,
	run_parallel_runs_each_once, no_kick_is_lost, kicks_into_a_busy_worker_make_no_syscall,
	poll_calls_run_until_the_window_closes);
