/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An event loop: one epoll set, callbacks per fd. The main thread runs one
 * for the console, signals, the control socket and the doorbells of
 * devices without a worker of their own; every device worker (vmm/core/worker.h)
 * runs another. Callbacks must not block.
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
	bool poll;		/* loop thread only: look at the fds without waiting */
	/* Optional: called after every batch of callbacks (device workers). */
	void (*after_batch)(struct event_loop *el, void *opaque);
	void *after_batch_opaque;
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
