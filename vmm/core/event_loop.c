// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vmm/core/event_loop.h"

int event_loop_init(struct event_loop *el)
{
	memset(el, 0, sizeof(*el));
	pthread_mutex_init(&el->lock, NULL);
	el->epfd = epoll_create1(EPOLL_CLOEXEC);
	return el->epfd < 0 ? -errno : 0;
}

void event_loop_exit(struct event_loop *el)
{
	struct event_source *s, *n;

	for (s = el->sources; s; s = n) {
		n = s->next;
		free(s);
	}
	for (s = el->dead; s; s = n) {
		n = s->next;
		free(s);
	}
	el->sources = el->dead = NULL;
	if (el->epfd >= 0)
		close(el->epfd);
	el->epfd = -1;
}

int event_loop_add(struct event_loop *el, int fd, event_fn fn, void *opaque)
{
	struct event_source *s = calloc(1, sizeof(*s));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->fn = fn;
	s->opaque = opaque;
	ev.data.ptr = s;
	pthread_mutex_lock(&el->lock);
	if (epoll_ctl(el->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int ret = -errno;

		pthread_mutex_unlock(&el->lock);
		free(s);
		return ret;
	}
	s->next = el->sources;
	el->sources = s;
	pthread_mutex_unlock(&el->lock);
	return 0;
}

int event_loop_del(struct event_loop *el, int fd)
{
	struct event_source **p, *s;

	pthread_mutex_lock(&el->lock);
	for (p = &el->sources; (s = *p); p = &s->next) {
		if (s->fd != fd)
			continue;
		epoll_ctl(el->epfd, EPOLL_CTL_DEL, fd, NULL);
		*p = s->next;
		/* The current epoll batch may still point at @s: free it later. */
		s->dead = true;
		s->next = el->dead;
		el->dead = s;
		pthread_mutex_unlock(&el->lock);
		return 0;
	}
	pthread_mutex_unlock(&el->lock);
	return -ENOENT;
}

static void event_loop_reap(struct event_loop *el)
{
	struct event_source *s, *n;

	pthread_mutex_lock(&el->lock);
	s = el->dead;
	el->dead = NULL;
	pthread_mutex_unlock(&el->lock);
	for (; s; s = n) {
		n = s->next;
		free(s);
	}
}

int event_loop_run(struct event_loop *el)
{
	struct epoll_event evs[16];
	int i, n;

	while (!__atomic_load_n(&el->stop, __ATOMIC_ACQUIRE)) {
		n = epoll_wait(el->epfd, evs, 16, el->poll ? 0 : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n && !__atomic_load_n(&el->stop, __ATOMIC_ACQUIRE); i++) {
			struct event_source *s = evs[i].data.ptr;

			if (!__atomic_load_n(&s->dead, __ATOMIC_ACQUIRE))
				s->fn(s->fd, s->opaque);
		}
		event_loop_reap(el);
		if (el->after_batch)
			el->after_batch(el, el->after_batch_opaque);
	}
	return 0;
}

void event_loop_stop(struct event_loop *el)
{
	__atomic_store_n(&el->stop, true, __ATOMIC_RELEASE);
}
