/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the event loop: timers in order, deferred calls
 * coalesce, a watch removed mid-batch is not called, work queued in the last
 * settle round is never left behind a blocking wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/loop.h"

static int fired[8], nfired;

static void timer_fn(void *opaque)
{
	fired[nfired++] = (int)(intptr_t)opaque;
}

static void test_timers_fire_in_deadline_order(void **state)
{
	struct sb_loop *loop = sb_loop_new();
	struct sb_timer t[3];
	uint64_t now = sb_now_ns();

	nfired = 0;
	for (int i = 0; i < 3; i++)
		sb_timer_init(&t[i], timer_fn, (void *)(intptr_t)i);
	sb_timer_arm(loop, &t[0], now + 30 * SB_NS_PER_MS);
	sb_timer_arm(loop, &t[1], now + 10 * SB_NS_PER_MS);
	sb_timer_arm(loop, &t[2], now + 20 * SB_NS_PER_MS);
	sb_timer_cancel(loop, &t[2]);
	while (nfired < 2)
		sb_loop_run_once(loop, 100 * SB_NS_PER_MS);
	assert_int_equal(fired[0], 1);
	assert_int_equal(fired[1], 0);
	assert_true(sb_now_ns() - now >= 30 * SB_NS_PER_MS);
	sb_loop_free(loop);
}

static int deferred_calls;
static void defer_fn(void *opaque) { deferred_calls++; }

static void test_defer_coalesces(void **state)
{
	struct sb_loop *loop = sb_loop_new();
	struct sb_defer d;

	deferred_calls = 0;
	sb_defer_init(&d, defer_fn, NULL);
	sb_loop_defer(loop, &d);
	sb_loop_defer(loop, &d);
	sb_loop_run_once(loop, 0);
	assert_int_equal(deferred_calls, 1);
	sb_loop_run_once(loop, 0);
	assert_int_equal(deferred_calls, 1);
	sb_loop_free(loop);
}

struct pair {
	struct sb_loop *loop;
	struct sb_watch w[2];
	int calls[2];
};

static void watch_fn0(void *opaque, uint32_t ev)
{
	struct pair *p = opaque;
	p->calls[0]++;
	sb_loop_watch_del(p->loop, &p->w[1]); /* its pending event must be dropped */
	sb_loop_watch_del(p->loop, &p->w[0]);
}

static void watch_fn1(void *opaque, uint32_t ev)
{
	struct pair *p = opaque;
	p->calls[1]++;
	sb_loop_watch_del(p->loop, &p->w[0]);
	sb_loop_watch_del(p->loop, &p->w[1]);
}

static void test_watch_removed_mid_batch(void **state)
{
	struct pair p = { .loop = sb_loop_new() };
	int a[2], b[2];

	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "x", 1), 1);
	sb_watch_init(&p.w[0], a[0], watch_fn0, &p);
	sb_watch_init(&p.w[1], b[0], watch_fn1, &p);
	assert_int_equal(sb_loop_watch_add(p.loop, &p.w[0], EPOLLIN), 0);
	assert_int_equal(sb_loop_watch_add(p.loop, &p.w[1], EPOLLIN), 0);
	sb_loop_run_once(p.loop, 100 * SB_NS_PER_MS);
	/* whichever ran first removed the other: exactly one call */
	assert_int_equal(p.calls[0] + p.calls[1], 1);
	close(a[0]); close(a[1]); close(b[0]); close(b[1]);
	sb_loop_free(p.loop);
}

/* A pipeline that never settles: the hook's work queues a deferred call
 * (a reply), whose handling queues more work for the hook (the next request),
 * as a busy backend and export do. */
struct chain {
	struct sb_loop *loop;
	struct sb_hook hook;
	struct sb_defer reply;
	int pending;   /* work queued for the hook */
	int handled;   /* work the hook has done */
};

static void chain_hook(void *opaque)
{
	struct chain *c = opaque;

	if (c->pending) {
		c->pending--;
		c->handled++;
		sb_loop_defer(c->loop, &c->reply);
	}
}

static void chain_reply(void *opaque)
{
	struct chain *c = opaque;

	if (c->handled < 100)
		c->pending++;
}

static void test_work_from_the_last_settle_round_is_not_stranded(void **state)
{
	struct chain c = { .loop = sb_loop_new(), .pending = 1 };
	uint64_t t0;

	sb_loop_hook_add(c.loop, &c.hook, chain_hook, &c);
	sb_defer_init(&c.reply, chain_reply, &c);
	/* Nothing else can wake the loop: each pass must poll, not sleep, while
	 * the hook still has work, and the work must all get done. */
	t0 = sb_now_ns();
	while (c.handled < 100 && sb_now_ns() - t0 < 5 * SB_NS_PER_SEC)
		sb_loop_run_once(c.loop, 10 * SB_NS_PER_SEC);
	assert_int_equal(c.handled, 100);
	assert_true(sb_now_ns() - t0 < 5 * SB_NS_PER_SEC);
	sb_loop_hook_del(c.loop, &c.hook);
	sb_loop_free(c.loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_deadline_order),
		cmocka_unit_test(test_defer_coalesces),
		cmocka_unit_test(test_watch_removed_mid_batch),
		cmocka_unit_test(test_work_from_the_last_settle_round_is_not_stranded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
