/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A device worker: a named thread with its own event loop. Devices hang
 * their doorbells (ioeventfds), backend sockets and timers (worker_timer)
 * on it, and wake it from any thread with kick bits; after every batch of
 * events the worker calls the device's @run with the bits kicked since the
 * last call.
 *
 * Stop, pause and restart are the same operation seen from the device:
 * worker_stop() returns once the thread has left @run and joined, so the
 * caller may change queues or free what the worker touches; worker_start()
 * runs it again with every event source and timer still in place. A kick
 * while stopped is kept and seen at the next start.
 *
 * @run may check worker_stopping() inside long loops to give way quickly.
 */
#ifndef VLAB_WORKER_H
#define VLAB_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/core/event_loop.h"

struct worker;

typedef void (*worker_fn)(struct worker *w, uint32_t kicked, void *opaque);

struct worker {
	char name[16];
	struct event_loop loop;
	pthread_t thread;
	bool running;		/* owned by the controlling thread */
	bool stopping;		/* atomic: worker_stop() is waiting */
	uint32_t kicked;	/* atomic: bits from worker_kick() */
	bool idle;		/* atomic: may be waiting; a kick must wake it */
	uint32_t poll_bits;	/* worker thread only: worker_poll()'s bits */
	uint64_t poll_until;	/* and until when (vlab_now_ns()) */
	bool polling;		/* worker thread only: the window, as of this round */
	int wake_fd;		/* eventfd: kicks and stop requests */
	worker_fn run;
	void *opaque;
};

int worker_init(struct worker *w, const char *name, worker_fn run, void *opaque);
/* Stops it if running and frees everything (event sources included). */
void worker_exit(struct worker *w);

int worker_start(struct worker *w);
/* Stop and join; nothing of the worker runs after this. No-op if stopped. */
void worker_stop(struct worker *w);

static inline bool worker_stopping(struct worker *w)
{
	return __atomic_load_n(&w->stopping, __ATOMIC_ACQUIRE);
}

/*
 * Any thread: set @bits and make sure @run sees them soon. Into a worker
 * busy in @run this is a memory operation; only one that may be waiting
 * is woken through its eventfd.
 */
void worker_kick(struct worker *w, uint32_t bits);

/*
 * From @run: do not sleep for the next @ns; call @run again with @bits
 * after every look at the fds (which no longer waits) until then, and once
 * more after, when worker_polling() is false. A device polls a queue this
 * way with its notifications off; calling again extends the window.
 */
void worker_poll(struct worker *w, uint32_t bits, uint64_t ns);
/* From @run: whether the window of worker_poll() is still open. */
bool worker_polling(struct worker *w);

/*
 * From an event handler running on @w itself: set @bits for the @run that
 * follows this batch, without waking the loop again (worker_kick() would
 * write the wake eventfd for a loop that is already awake).
 */
static inline void worker_kick_local(struct worker *w, uint32_t bits)
{
	__atomic_fetch_or(&w->kicked, bits, __ATOMIC_RELEASE);
}

/*
 * @fn runs on the worker when @fd is readable (and must read it). Callable
 * from any thread, the worker's own included.
 */
int worker_add_fd(struct worker *w, int fd, event_fn fn, void *opaque);
int worker_del_fd(struct worker *w, int fd);

/*
 * A one-shot timer on a worker: @fn runs on the worker when it expires. Its
 * deadline survives a stop and start of the worker (a timer that expired
 * while stopped runs at the start).
 */
struct worker_timer {
	struct worker *w;
	int fd;			/* timerfd */
	void (*fn)(struct worker_timer *t, void *opaque);
	void *opaque;
};

int worker_timer_init(struct worker_timer *t, struct worker *w,
		      void (*fn)(struct worker_timer *t, void *opaque), void *opaque);
/* Run @fn in @ns nanoseconds (replacing any earlier deadline); 0 cancels. Any thread. */
void worker_timer_arm(struct worker_timer *t, uint64_t ns);
/* Before worker_exit(). */
void worker_timer_exit(struct worker_timer *t);

/*
 * fn(arg, i) for every i in [0, n) at once, a thread each, and back when
 * all have returned: independent slow work, such as several devices each
 * waiting on its own firmware. What gets no thread runs on the caller's.
 */
void run_parallel(unsigned int n, void (*fn)(void *arg, unsigned int i), void *arg);

#endif
