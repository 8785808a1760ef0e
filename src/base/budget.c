/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the daemon-wide memory budget: take, give, wait in order. */
#include <assert.h>

#include "base/budget.h"

void sb_budget_init(struct sb_budget *b, uint64_t limit)
{
	b->limit = limit;
	b->used = b->peak = b->waits = 0;
	TAILQ_INIT(&b->waiters);
}

void sb_budget_waiter_init(struct sb_budget_waiter *w, void (*wake)(struct sb_budget_waiter *))
{
	w->wake = wake;
	w->want = w->granted = 0;
	w->queued = false;
}

/* @need more bytes for @w fit.  Alone (everything in use is @w's own
 * reservation), any size fits: a request larger than the whole budget must
 * not wait for ever. */
static bool fits(const struct sb_budget *b, const struct sb_budget_waiter *w, uint64_t need)
{
	return b->limit == 0 || b->used + need <= b->limit || b->used == w->granted;
}

static void use(struct sb_budget *b, uint64_t bytes)
{
	b->used += bytes;
	if (b->used > b->peak)
		b->peak = b->used;
}

static void dequeue(struct sb_budget *b, struct sb_budget_waiter *w)
{
	TAILQ_REMOVE(&b->waiters, w, link);
	w->queued = false;
	w->want = 0;
}

/* Reserves freed bytes for the waiters, strictly in order: the first one
 * that does not fit stops the others, so a large request is not starved
 * by a stream of small ones. */
static void grant(struct sb_budget *b)
{
	struct sb_budget_waiter *w;

	while ((w = TAILQ_FIRST(&b->waiters)) && fits(b, w, w->want)) {
		uint64_t n = w->want;

		dequeue(b, w);
		use(b, n);
		w->granted += n;
		w->wake(w);
	}
}

bool sb_budget_take(struct sb_budget *b, struct sb_budget_waiter *w, uint64_t bytes)
{
	uint64_t need;

	if (bytes <= w->granted) {
		uint64_t surplus = w->granted - bytes;

		if (w->queued)
			dequeue(b, w);
		w->granted = 0;
		if (surplus)
			sb_budget_give(b, surplus);
		return true;
	}
	need = bytes - w->granted;
	if (!w->queued && TAILQ_EMPTY(&b->waiters) && fits(b, w, need)) {
		use(b, need);
		w->granted = 0;
		return true;
	}
	if (!w->queued) {
		w->queued = true;
		TAILQ_INSERT_TAIL(&b->waiters, w, link);
		b->waits++;
	}
	/* Asked again while queued: the amount may have changed. */
	w->want = need;
	grant(b);
	if (w->queued)
		return false;
	return sb_budget_take(b, w, bytes); /* granted just now */
}

void sb_budget_give(struct sb_budget *b, uint64_t bytes)
{
	assert(bytes <= b->used);
	b->used -= bytes;
	grant(b);
}

void sb_budget_cancel(struct sb_budget *b, struct sb_budget_waiter *w)
{
	uint64_t g = w->granted;

	if (w->queued)
		dequeue(b, w);
	w->granted = 0;
	if (g)
		b->used -= g;
	/* It may have been the head that held the others back. */
	grant(b);
}
