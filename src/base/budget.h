/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: a memory budget shared by every connection of the daemon
 * (invariant 6): the payload buffers of all clients together stay within one
 * number of bytes.
 *
 * A frontend takes bytes before it reads a payload (or allocates a buffer)
 * and gives them back when the buffer is freed or parked.  When the budget is
 * short, the taker is queued and stops reading; as bytes come back they are
 * reserved for the queued takers in the order they blocked, and each is woken
 * with its bytes already reserved, so a newcomer never overtakes a waiter.
 *
 *   take(w, n) --fits, nobody queued--> true: n bytes are w's
 *        |
 *        +--else--> w queued (false) ... give() ... reserved for w, wake(w)
 *                                                    -> take(w, n) again: true
 *
 * A request larger than the whole budget is let through when it is alone
 * (nothing else is in use), so it still makes progress.  The budget knows
 * nothing of loops or sockets: wake() must only schedule work, not take.
 */
#ifndef SB_BUDGET_H
#define SB_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct sb_budget_waiter {
	/* Its turn came: w->granted bytes are reserved for it.  Called from
	 * sb_budget_give(); must not call back into the budget. */
	void (*wake)(struct sb_budget_waiter *w);
	uint64_t want;                    /* queued: bytes still asked for */
	uint64_t granted;                 /* reserved for it, not yet claimed */
	bool queued;
	TAILQ_ENTRY(sb_budget_waiter) link;
};

struct sb_budget {
	uint64_t limit;                   /* bytes; 0 = no limit */
	uint64_t used;                    /* taken, granted included */
	uint64_t peak;                    /* highest @used seen */
	uint64_t waits;                   /* times a taker had to queue */
	TAILQ_HEAD(, sb_budget_waiter) waiters; /* in the order they blocked */
};

void sb_budget_init(struct sb_budget *b, uint64_t limit);
void sb_budget_waiter_init(struct sb_budget_waiter *w, void (*wake)(struct sb_budget_waiter *));

/* Takes @bytes for @w, using first what was reserved for it while it
 * waited (a surplus goes back).  Returns true if @w now owns @bytes; false
 * if @w is queued (or stays queued): its wake() comes once the rest is
 * reserved for it, and it calls this again.  0 bytes always succeed. */
bool sb_budget_take(struct sb_budget *b, struct sb_budget_waiter *w, uint64_t bytes);
/* Gives back @bytes taken earlier, and reserves them for the waiters in
 * order, waking each one whose request now fits. */
void sb_budget_give(struct sb_budget *b, uint64_t bytes);
/* @w goes away: off the queue, and what was reserved for it is given back. */
void sb_budget_cancel(struct sb_budget *b, struct sb_budget_waiter *w);
/* True while somebody waits: bytes freed now are better given back than kept. */
static inline bool sb_budget_contended(const struct sb_budget *b)
{
	return !TAILQ_EMPTY(&b->waiters);
}

#endif
