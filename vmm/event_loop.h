/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The main thread's event loop: one epoll set, callbacks per fd. Console,
 * signals, doorbells (ioeventfds) and timers all arrive here; callbacks
 * must not block, so device work is handed to device workers.
 */
#ifndef VLAB_EVENT_LOOP_H
#define VLAB_EVENT_LOOP_H

#include <pthread.h>
#include <stdbool.h>

typedef void (*event_fn)(int fd, void *opaque);

struct event_source {
	int fd;
	event_fn fn;
	void *opaque;
	bool dead;
	struct event_source *next;
};

struct event_loop {
	int epfd;
	pthread_mutex_t lock;
	struct event_source *sources;
	struct event_source *dead;	/* removed; freed between batches */
	bool stop;
};

int event_loop_init(struct event_loop *el);
void event_loop_exit(struct event_loop *el);
/* Callable from any thread. @fn runs on the loop thread when @fd is readable. */
int event_loop_add(struct event_loop *el, int fd, event_fn fn, void *opaque);
int event_loop_del(struct event_loop *el, int fd);
/* Run until event_loop_stop(); returns 0, or -errno on a fatal epoll error. */
int event_loop_run(struct event_loop *el);
void event_loop_stop(struct event_loop *el);

#endif
