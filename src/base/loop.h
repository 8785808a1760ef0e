/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the event loop: fd watches, timers, deferred calls, prepare hooks.
 *
 * One loop per thread; a disk, its backend and its exports live on one loop,
 * so nothing on the data path needs a lock.  The shape follows Redis' ae.c:
 *
 *   run prepare hooks (e.g. io_uring submits its batch: one syscall per
 *   iteration, not per request)
 *     -> epoll_wait(timeout = nearest timer)
 *     -> fd callbacks -> expired timers -> deferred calls -> again
 *
 * Every object (watch, timer, deferred call, hook) is embedded in its owner;
 * the loop never allocates after sb_loop_new().
 */
#ifndef SB_LOOP_H
#define SB_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/queue.h>

struct sb_loop;

/* Monotonic clock in nanoseconds. */
uint64_t sb_now_ns(void);

#define SB_NS_PER_MS UINT64_C(1000000)
#define SB_NS_PER_SEC UINT64_C(1000000000)

/* ---- fd watches ---- */
typedef void (*sb_watch_fn)(void *opaque, uint32_t events);

struct sb_watch {
	int fd;
	uint32_t events;      /* EPOLLIN/EPOLLOUT/... currently armed */
	bool added;           /* registered with epoll */
	sb_watch_fn fn;
	void *opaque;
};

void sb_watch_init(struct sb_watch *w, int fd, sb_watch_fn fn, void *opaque);
/* Registers @w for @events.  Returns 0 or -errno. */
int sb_loop_watch_add(struct sb_loop *loop, struct sb_watch *w, uint32_t events);
/* Changes the event mask; costs no syscall when it is unchanged.  Returns 0 or -errno. */
int sb_loop_watch_set(struct sb_loop *loop, struct sb_watch *w, uint32_t events);
/* Unregisters @w.  Events already collected for @w in this iteration are
 * discarded, so the owner may free @w as soon as this returns. */
void sb_loop_watch_del(struct sb_loop *loop, struct sb_watch *w);

/* ---- timers (one shot, absolute monotonic deadlines) ---- */
typedef void (*sb_timer_fn)(void *opaque);

struct sb_timer {
	uint64_t deadline_ns;
	bool armed;
	sb_timer_fn fn;
	void *opaque;
	TAILQ_ENTRY(sb_timer) link;
};

void sb_timer_init(struct sb_timer *t, sb_timer_fn fn, void *opaque);
/* (Re)arms @t to fire once at @deadline_ns (sb_now_ns() clock). */
void sb_timer_arm(struct sb_loop *loop, struct sb_timer *t, uint64_t deadline_ns);
void sb_timer_cancel(struct sb_loop *loop, struct sb_timer *t);

/* ---- deferred calls: run once, after the current batch of events ---- */
struct sb_defer {
	bool queued;
	void (*fn)(void *opaque);
	void *opaque;
	TAILQ_ENTRY(sb_defer) link;
};

void sb_defer_init(struct sb_defer *d, void (*fn)(void *), void *opaque);
/* Queues @d unless it is queued already (so repeated calls coalesce). */
void sb_loop_defer(struct sb_loop *loop, struct sb_defer *d);
void sb_loop_defer_cancel(struct sb_loop *loop, struct sb_defer *d);

/* ---- prepare hooks: run before every wait ----
 *
 * The loop sleeps after its hooks unless a deferred call is queued or an fd
 * is ready.  A hook that leaves work of its own behind, with no fd event to
 * start it (an io_uring step queued after its submit), must queue a deferred
 * call that runs it; the loop then runs its hooks again before sleeping. */
struct sb_hook {
	void (*fn)(void *opaque);
	void *opaque;
	TAILQ_ENTRY(sb_hook) link;
};

void sb_loop_hook_add(struct sb_loop *loop, struct sb_hook *h,
		      void (*fn)(void *), void *opaque);
void sb_loop_hook_del(struct sb_loop *loop, struct sb_hook *h);

/* ---- the loop ---- */
/* Returns a new loop or NULL with errno set. */
struct sb_loop *sb_loop_new(void);
void sb_loop_free(struct sb_loop *loop);
/* Runs until sb_loop_stop().  Returns 0, or -errno if epoll fails. */
int sb_loop_run(struct sb_loop *loop);
/* Runs one iteration, waiting at most @max_wait_ns.  For tests and shutdown. */
int sb_loop_run_once(struct sb_loop *loop, uint64_t max_wait_ns);
void sb_loop_stop(struct sb_loop *loop);
bool sb_loop_stopping(const struct sb_loop *loop);

#endif
