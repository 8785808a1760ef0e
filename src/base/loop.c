/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: epoll event loop with timers, deferred calls and prepare hooks. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/loop.h"

#define MAX_EVENTS 64
#define MAX_SETTLE_ROUNDS 4

struct sb_loop {
	int epfd;
	bool stop;
	TAILQ_HEAD(, sb_timer) timers;   /* sorted by deadline, few entries */
	TAILQ_HEAD(, sb_defer) deferred;
	TAILQ_HEAD(, sb_hook) hooks;
	struct epoll_event events[MAX_EVENTS];
	int nevents, cur;                /* the batch being dispatched */
};

uint64_t sb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SB_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

struct sb_loop *sb_loop_new(void)
{
	struct sb_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int e = errno;
		free(loop);
		errno = e;
		return NULL;
	}
	TAILQ_INIT(&loop->timers);
	TAILQ_INIT(&loop->deferred);
	TAILQ_INIT(&loop->hooks);
	return loop;
}

void sb_loop_free(struct sb_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

void sb_watch_init(struct sb_watch *w, int fd, sb_watch_fn fn, void *opaque)
{
	*w = (struct sb_watch){ .fd = fd, .fn = fn, .opaque = opaque };
}

int sb_loop_watch_add(struct sb_loop *loop, struct sb_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	w->added = true;
	return 0;
}

int sb_loop_watch_set(struct sb_loop *loop, struct sb_watch *w, uint32_t events)
{
	if (!w->added)
		return sb_loop_watch_add(loop, w, events);
	if (w->events == events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

void sb_loop_watch_del(struct sb_loop *loop, struct sb_watch *w)
{
	if (!w->added)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->added = false;
	/* Forget events of this batch not yet dispatched, so the owner can be
	 * freed right away. */
	for (int i = loop->cur; i < loop->nevents; i++)
		if (loop->events[i].data.ptr == w)
			loop->events[i].data.ptr = NULL;
}

void sb_timer_init(struct sb_timer *t, sb_timer_fn fn, void *opaque)
{
	*t = (struct sb_timer){ .fn = fn, .opaque = opaque };
}

void sb_timer_arm(struct sb_loop *loop, struct sb_timer *t, uint64_t deadline_ns)
{
	struct sb_timer *it;

	sb_timer_cancel(loop, t);
	t->deadline_ns = deadline_ns;
	t->armed = true;
	TAILQ_FOREACH(it, &loop->timers, link) {
		if (it->deadline_ns > deadline_ns) {
			TAILQ_INSERT_BEFORE(it, t, link);
			return;
		}
	}
	TAILQ_INSERT_TAIL(&loop->timers, t, link);
}

void sb_timer_cancel(struct sb_loop *loop, struct sb_timer *t)
{
	if (!t->armed)
		return;
	TAILQ_REMOVE(&loop->timers, t, link);
	t->armed = false;
}

void sb_defer_init(struct sb_defer *d, void (*fn)(void *), void *opaque)
{
	*d = (struct sb_defer){ .fn = fn, .opaque = opaque };
}

void sb_loop_defer(struct sb_loop *loop, struct sb_defer *d)
{
	if (d->queued)
		return;
	d->queued = true;
	TAILQ_INSERT_TAIL(&loop->deferred, d, link);
}

void sb_loop_defer_cancel(struct sb_loop *loop, struct sb_defer *d)
{
	if (!d->queued)
		return;
	TAILQ_REMOVE(&loop->deferred, d, link);
	d->queued = false;
}

void sb_loop_hook_add(struct sb_loop *loop, struct sb_hook *h,
		      void (*fn)(void *), void *opaque)
{
	h->fn = fn;
	h->opaque = opaque;
	TAILQ_INSERT_TAIL(&loop->hooks, h, link);
}

void sb_loop_hook_del(struct sb_loop *loop, struct sb_hook *h)
{
	TAILQ_REMOVE(&loop->hooks, h, link);
}

static void run_timers(struct sb_loop *loop)
{
	uint64_t now = sb_now_ns();
	struct sb_timer *t;

	/* A callback may re-arm its own timer or others: re-read the head each time. */
	while ((t = TAILQ_FIRST(&loop->timers)) && t->deadline_ns <= now) {
		TAILQ_REMOVE(&loop->timers, t, link);
		t->armed = false;
		t->fn(t->opaque);
	}
}

static void run_deferred(struct sb_loop *loop)
{
	struct sb_defer *d;

	/* Calls queued by deferred calls run in this same pass: the queue drains. */
	while ((d = TAILQ_FIRST(&loop->deferred))) {
		TAILQ_REMOVE(&loop->deferred, d, link);
		d->queued = false;
		d->fn(d->opaque);
	}
}

int sb_loop_run_once(struct sb_loop *loop, uint64_t max_wait_ns)
{
	struct sb_hook *h, *next;
	struct sb_timer *t;
	uint64_t wait_ns = max_wait_ns;
	int timeout_ms, n;

	/* Hooks may finish work (a backend reaping completions that arrived
	 * inside its submit) and so queue deferred calls (replies), which may
	 * queue work for the hooks again: settle that here rather than in an
	 * extra trip through epoll.  Bounded, so fd events are never starved;
	 * if the rounds run out, the deferred calls of the last one may have
	 * queued work that no hook has seen yet, so epoll only polls. */
	bool settled = false;
	for (int round = 0; round < MAX_SETTLE_ROUNDS && !settled; round++) {
		TAILQ_FOREACH_SAFE(h, &loop->hooks, link, next)
			h->fn(h->opaque);
		settled = TAILQ_EMPTY(&loop->deferred);
		if (!settled)
			run_deferred(loop);
	}
	if (!settled)
		wait_ns = 0;
	if ((t = TAILQ_FIRST(&loop->timers))) {
		uint64_t now = sb_now_ns();
		uint64_t until = t->deadline_ns > now ? t->deadline_ns - now : 0;
		if (until < wait_ns)
			wait_ns = until;
	}
	if (wait_ns == UINT64_MAX)
		timeout_ms = -1;
	else /* round up: waking early would spin until the deadline */
		timeout_ms = (int)SB_MIN((wait_ns + SB_NS_PER_MS - 1) / SB_NS_PER_MS,
					 (uint64_t)60000);

	n = epoll_wait(loop->epfd, loop->events, MAX_EVENTS, timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			n = 0;
		else
			return -errno;
	}
	loop->nevents = n;
	for (loop->cur = 0; loop->cur < n; loop->cur++) {
		struct epoll_event *ev = &loop->events[loop->cur];
		struct sb_watch *w = ev->data.ptr;
		if (w)
			w->fn(w->opaque, ev->events);
	}
	loop->nevents = loop->cur = 0;
	run_timers(loop);
	run_deferred(loop);
	return 0;
}

int sb_loop_run(struct sb_loop *loop)
{
	while (!loop->stop) {
		int r = sb_loop_run_once(loop, UINT64_MAX);
		if (r < 0)
			return r;
	}
	return 0;
}

void sb_loop_stop(struct sb_loop *loop)
{
	loop->stop = true;
}

bool sb_loop_stopping(const struct sb_loop *loop)
{
	return loop->stop;
}
