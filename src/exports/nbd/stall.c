/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: a client that pins the memory budget and stalls is
 * disconnected (--stall-timeout).
 *
 * Every client draws on one budget (invariant 6), so one client can hold
 * what the others wait for: by sending the header of a 16 MiB write and
 * then only part of its payload, or by pipelining 32 MiB reads and never
 * reading the replies.  Waiting for it is right while it moves data; once
 * it stops, the others would wait for as long as it likes.
 *
 * A client is stalling when the budget it holds is waiting on it, not on
 * the storage: the payload it owes (dst_left) or replies it does not read
 * (out_blocked).  Reads held in an outage are the storage's: they hold
 * budget, but nothing waits on the client, so they never count.
 *
 *   conn_read / conn_flush see dst_left or out_blocked --> nbd_stall_watch:
 *     the timer ticks every stall_ns / NBD_STALL_TICKS while it is so;
 *     each tick with fewer than NBD_STALL_MIN_BYTES moved counts, one that
 *     moved more starts again; NBD_STALL_TICKS in a row while somebody
 *     waits for the budget: disconnected (its held requests fenced, as on
 *     any hang-up), so between 1 and 1.25 times --stall-timeout.
 *
 * The timer is armed only while a client might be stalling and stops
 * once it is not, so idle clients cost no wake-ups; the fast path pays an
 * addition per read and send, and a test of an armed flag.
 */
#include "base/log.h"
#include "exports/nbd/internal.h"

/* The budget bytes held by requests that wait on the client. */
static uint64_t held_on_client(const struct nbd_conn *c)
{
	const struct nbd_slot *s;
	uint64_t held = 0;

	if (c->dst_left && c->rx_slot)
		held += c->rx_slot->counted;
	if (c->out_blocked)
		TAILQ_FOREACH(s, &c->out, link)
			held += s->counted;
	return held;
}

static void stall_tick(void *opaque)
{
	struct nbd_conn *c = opaque;
	struct sb_nbd_server *srv = c->srv;
	uint64_t held = held_on_client(c);
	uint64_t moved = c->moved;

	c->moved = 0;
	if (c->closing || held == 0) {
		c->stalled_ticks = 0;
		return;                   /* not stalling: nbd_stall_watch rearms */
	}
	c->stalled_ticks = moved < NBD_STALL_MIN_BYTES ? c->stalled_ticks + 1 : 0;
	if (c->stalled_ticks >= NBD_STALL_TICKS && sb_budget_contended(srv->budget)) {
		sb_warn("%s: disconnected: it holds %llu bytes of the memory budget that other "
			"clients wait for, and moved %llu bytes in the last %llu ms "
			"(--stall-timeout)", c->name, (unsigned long long)held,
			(unsigned long long)moved,
			(unsigned long long)(srv->stall_ns / NBD_STALL_TICKS / SB_NS_PER_MS));
		nbd_conn_close(c, "stalled holding the memory budget");
		return;
	}
	sb_timer_arm(srv->loop, &c->timer, sb_now_ns() + srv->stall_ns / NBD_STALL_TICKS);
}

void nbd_stall_watch(struct nbd_conn *c)
{
	struct sb_nbd_server *srv = c->srv;

	if (!srv->stall_ns || c->timer.armed || c->closing || c->phase != NBD_TRANSMISSION)
		return;
	c->moved = 0;
	c->stalled_ticks = 0;
	sb_timer_init(&c->timer, stall_tick, c);
	sb_timer_arm(srv->loop, &c->timer, sb_now_ns() + srv->stall_ns / NBD_STALL_TICKS);
}
