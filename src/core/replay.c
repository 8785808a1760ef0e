/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: a successful flush covers every acknowledged write, whatever
 * happened in between (DESIGN.md invariant 2).
 *
 * The disk keeps the writes, trims and write-zeroes the backend
 * acknowledged since its last successful flush in the unflushed log
 * (unflushed.c).  When the backend may have lost its volatile cache (it
 * reconnected, a flush failed, it reported a reset), the cache epoch moves
 * on and a replay is due:
 *
 *   cache lost --> new requests queue; wait until nothing is at the backend
 *     --> write the log again, oldest first, SB_RELEASE_DEPTH at a time,
 *         overlapping entries one after the other
 *     --> DISK_REPLAYED; what queued goes on; a flush may succeed again
 *
 * A flush that was in flight across the loss proves nothing: it is issued
 * again after the replay.  A replay write that fails with a retry verdict
 * is judged by hold.c's rule of flaky against down:
 *   - flaky (this pass wrote something, fewer than SB_OUTAGE_STREAK
 *     failures in a row, still connected): that entry alone is retried
 *     after its own short backoff, from replay_retry; later entries go on,
 *     but one that overlaps it waits, so the older data never lands last;
 *     the disk is DEGRADED, not HUNG;
 *   - down: the pass ends, the disk hangs, and once the backend answers the
 *     next pass goes on from the oldest entry that failed: what was written
 *     before it stays written, and writing again what came after is
 *     harmless, in order.
 * A new cache loss starts it over from the first entry, and drops the
 * retries waiting.  If the policy gives up on an entry (report), the next
 * client flush fails, since an acknowledged write may be gone.
 *
 * When the log is half full the disk flushes the backend itself, and the
 * entries older than that flush go.  When a write does not fit at all, it is
 * parked: done at the backend, acknowledged once a flush covers it.  While
 * anything is parked, later writes park too, so the log stays in completion
 * order.  A cache loss sends parked writes back to the queue: they were
 * never acknowledged, so they are simply issued again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/parse.h"
#include "core/disk-internal.h"

static struct sb_request *pool_req(struct sb_disk *disk, unsigned i)
{
	return (struct sb_request *)(disk->replay_mem + i * disk->replay_req_size);
}

int sb_replay_init(struct sb_disk *disk, struct sb_error **errp)
{
	size_t size = sb_disk_request_size(disk);

	size = (size + alignof(struct sb_request) - 1) & ~(alignof(struct sb_request) - 1);
	/* The replay's requests, and one more for the disk's own flush. */
	disk->replay_mem = calloc(SB_RELEASE_DEPTH + 1, size);
	if (!disk->replay_mem) {
		sb_unflushed_free(disk->log);
		disk->log = NULL;
		return sb_error_set(errp, "disk '%s': out of memory", disk->name);
	}
	disk->replay_req_size = size;
	TAILQ_INIT(&disk->replay_free);
	for (unsigned i = 0; i < SB_RELEASE_DEPTH; i++) {
		struct sb_request *r = pool_req(disk, i);
		r->origin = SB_ORIGIN_REPLAY;
		TAILQ_INSERT_TAIL(&disk->replay_free, r, link);
	}
	disk->own_flush = pool_req(disk, SB_RELEASE_DEPTH);
	disk->own_flush->origin = SB_ORIGIN_FLUSH;
	disk->own_flush->op = SB_OP_FLUSH;
	return 0;
}

void sb_replay_free(struct sb_disk *disk)
{
	sb_unflushed_free(disk->log);
	disk->log = NULL;
	free(disk->replay_mem);
	disk->replay_mem = NULL;
	disk->own_flush = NULL;
	TAILQ_INIT(&disk->replay_free);
}

static void park(struct sb_disk *disk, struct sb_request *req)
{
	req->state = SB_REQ_PARKED;
	req->log_mark = ++disk->park_seq;
	TAILQ_INSERT_TAIL(&disk->parked, req, link);
	disk->parked_bytes += sb_request_payload(req);
	disk->stats.parked++;
	sb_disk_schedule(disk); /* the disk's own flush */
}

static void unpark(struct sb_disk *disk, struct sb_request *req)
{
	TAILQ_REMOVE(&disk->parked, req, link);
	disk->parked_bytes -= sb_request_payload(req);
	req->state = SB_REQ_IDLE;
}

bool sb_replay_record(struct sb_disk *disk, struct sb_request *req)
{
	/* A FUA write is durable: with nothing older to replay over it, there
	 * is nothing to keep.  With older entries it is kept, or their replay
	 * would land on top of it. */
	if ((req->flags & SB_REQ_FUA) && sb_unflushed_empty(disk->log) &&
	    TAILQ_EMPTY(&disk->parked))
		return true;
	if (SB_LIKELY(TAILQ_EMPTY(&disk->parked)) && sb_unflushed_append(disk->log, req)) {
		if (SB_UNLIKELY(sb_unflushed_half_full(disk->log)) && !disk->own_flush_busy)
			sb_disk_schedule(disk);
		return true;
	}
	park(disk, req);
	return false;
}

/* A flush issued at (@log_mark, @park_mark) succeeded. */
static void flush_covered(struct sb_disk *disk, uint64_t log_mark, uint64_t park_mark)
{
	struct sb_request *req;

	sb_unflushed_flushed(disk->log, log_mark);
	disk->own_flush_attempt = 0;
	while ((req = TAILQ_FIRST(&disk->parked)) && req->log_mark < park_mark) {
		unpark(disk, req);
		sb_disk_finish(disk, req, 0);
	}
}

int sb_replay_flushed(struct sb_disk *disk, struct sb_request *req)
{
	int err = disk->flush_err;

	flush_covered(disk, req->log_mark, req->park_mark);
	disk->flush_err = 0;
	return err;
}

void sb_replay_detach(struct sb_disk *disk, struct sb_session *s)
{
	struct sb_request *req, *next;

	/* Done at the backend, never acknowledged: only the reply goes. */
	TAILQ_FOREACH_SAFE(req, &disk->parked, link, next) {
		if (req->session != s)
			continue;
		unpark(disk, req);
		sb_disk_finish(disk, req, -ECANCELED);
	}
}

void sb_replay_cache_lost(struct sb_disk *disk, const char *why)
{
	struct sb_request *req;
	uint64_t requeued = 0;

	if (!disk->log)
		return;
	disk->cache_epoch++;
	while ((req = TAILQ_FIRST(&disk->parked))) {
		unpark(disk, req);
		sb_hold_requeue(disk, req);
		requeued++;
	}
	if (sb_unflushed_empty(disk->log)) {
		if (requeued)
			sb_info("disk %s: %s: %" PRIu64 " writes not yet covered by a flush are "
				"issued again", disk->name, why, requeued);
		return;
	}
	if (!disk->replay_pending)
		sb_warn("disk %s: %s: the backend may have lost %" PRIu64 " acknowledged writes "
			"(%" PRIu64 " bytes) it had not flushed; writing them again before "
			"anything else", disk->name, why, sb_unflushed_entries(disk->log),
			sb_unflushed_bytes(disk->log));
	disk->replay_pending = true;
	disk->replay_resume_lsn = 0; /* all of it, from the first entry */
	if (disk->replay_running)
		disk->replay_failed = true; /* once its writes are back */
	sb_disk_schedule(disk);
}

/* ---- the replay ---- */

/* The log entry a replay write carries. */
static struct sb_unflushed_entry *replay_entry(const struct sb_request *r)
{
	return SB_CONTAINER_OF((unsigned char *)r->buf, struct sb_unflushed_entry, data);
}

/* Must @r wait for an older replay write?  During a replay nothing but
 * its own writes is at the backend, and the retries wait in replay_retry. */
static bool overlaps_older_replay_write(const struct sb_disk *disk,
					const struct sb_request *r)
{
	const struct sb_request *q;

	TAILQ_FOREACH(q, &disk->inflight_list, inflight_link)
		if (sb_requests_overlap(q, r))
			return true;
	TAILQ_FOREACH(q, &disk->replay_retry, link)
		if (sb_requests_overlap(q, r))
			return true;
	return false;
}

/* A pass of the replay, from the first entry or from the oldest that
 * failed in the pass before (those older were written: counted as done). */
static void replay_begin(struct sb_disk *disk)
{
	struct sb_unflushed_entry *e = sb_unflushed_first(disk->log);

	disk->replay_running = true;
	disk->replay_failed = false;
	disk->replay_progressed = false;
	disk->replay_writes = disk->replay_bytes = 0;
	for (; e && e->lsn < disk->replay_resume_lsn; e = sb_unflushed_next(disk->log, e)) {
		disk->replay_writes++;
		disk->replay_bytes += e->length;
	}
	disk->replay_next = e;
	disk->replay_resume_lsn = UINT64_MAX; /* no failure in this pass yet */
	sb_debug("disk %s: replaying %" PRIu64 " writes, %" PRIu64 " done before",
		 disk->name, sb_unflushed_entries(disk->log) - disk->replay_writes,
		 disk->replay_writes);
}

static void replay_end(struct sb_disk *disk)
{
	disk->replay_running = false;
	disk->replay_pending = false;
	disk->stats.replays++;
	disk->stats.replayed_writes += disk->replay_writes;
	disk->stats.replayed_bytes += disk->replay_bytes;
	sb_info("disk %s: %" PRIu64 " unflushed writes (%" PRIu64 " bytes) written again",
		disk->name, disk->replay_writes, disk->replay_bytes);
	sb_disk_emit(disk, SB_EVENT_REPLAYED, 0, disk->replay_writes);
	sb_hold_replay_done(disk);
}

/* Re-issues the failed replay writes whose backoff is over, oldest first. */
static void replay_retry_due(struct sb_disk *disk, uint64_t now)
{
	struct sb_request *r;
	bool issued;

	do {
		issued = false;
		TAILQ_FOREACH(r, &disk->replay_retry, link) {
			if (now < r->retry_at_ns)
				continue;
			TAILQ_REMOVE(&disk->replay_retry, r, link);
			disk->replay_inflight++;
			disk->stats.retries++;
			sb_disk_issue(disk, r); /* may complete at once: start over */
			issued = true;
			break;
		}
	} while (issued && !disk->replay_failed);
}

static void replay_pump(struct sb_disk *disk)
{
	struct sb_unflushed_entry *e;
	struct sb_request *r;

	if (!disk->replay_failed && !TAILQ_EMPTY(&disk->replay_retry))
		replay_retry_due(disk, sb_now_ns());
	while (!disk->replay_failed && (e = disk->replay_next) &&
	       (r = TAILQ_FIRST(&disk->replay_free))) {
		r->op = (enum sb_op)e->op;
		r->flags = e->flags;
		r->offset = e->offset;
		r->length = e->length;
		if (overlaps_older_replay_write(disk, r))
			break; /* in order: the older one lands first */
		TAILQ_REMOVE(&disk->replay_free, r, link);
		r->buf = e->data;
		r->session = NULL;
		r->fencing = r->released = r->give_up = false;
		r->attempts = 0;
		disk->replay_inflight++;
		disk->replay_next = sb_unflushed_next(disk->log, e);
		sb_disk_issue(disk, r);
	}
	if (disk->replay_inflight)
		return;
	if (disk->replay_failed) {
		/* The retries waiting go with the pass: the next one starts at
		 * the oldest entry that failed, theirs included, or the writes
		 * they carry would be counted as written and never be. */
		TAILQ_FOREACH(r, &disk->replay_retry, link)
			disk->replay_resume_lsn = SB_MIN(disk->replay_resume_lsn,
							 replay_entry(r)->lsn);
		TAILQ_CONCAT(&disk->replay_free, &disk->replay_retry, link);
		disk->replay_running = false; /* pending still: again on the next probe */
		if (disk->replay_progressed)
			sb_hold_replay_progressed(disk);
	} else if (!disk->replay_next && TAILQ_EMPTY(&disk->replay_retry)) {
		replay_end(disk);
	}
}

static void own_flush_maybe(struct sb_disk *disk, uint64_t now)
{
	struct sb_request *f = disk->own_flush;

	if (disk->own_flush_busy || now < disk->own_flush_retry_ns ||
	    !sb_disk_flowing(disk) ||
	    (!sb_unflushed_half_full(disk->log) && TAILQ_EMPTY(&disk->parked)))
		return;
	disk->own_flush_busy = true;
	f->session = NULL;
	f->offset = 0;
	f->length = 0;
	f->flags = 0;
	f->buf = NULL;
	f->attempts = 0;
	f->fencing = f->released = f->give_up = false;
	disk->stats.own_flushes++;
	sb_disk_issue(disk, f);
}

void sb_replay_run(struct sb_disk *disk)
{
	uint64_t now;

	if (!disk->log)
		return;
	now = sb_now_ns();
	if (disk->replay_pending && !disk->replay_running) {
		/* Everything at the backend first: what completes is logged and
		 * replayed with the rest, in completion order. */
		if (disk->inflight || disk->state == SB_DISK_STOPPED)
			return;
		if (disk->state == SB_DISK_HUNG) {
			/* The replay is the probe: one try per probe time. */
			if (now < disk->next_probe_ns)
				return;
			sb_hold_next_probe(disk, now);
			if (disk->backend->ops->kick)
				disk->backend->ops->kick(disk->backend);
		}
		replay_begin(disk);
	}
	if (disk->replay_running) {
		replay_pump(disk);
		return;
	}
	own_flush_maybe(disk, now);
}

uint64_t sb_replay_deadline(const struct sb_disk *disk)
{
	const struct sb_request *r;
	uint64_t deadline = UINT64_MAX;

	if (!disk->log)
		return UINT64_MAX;
	if (disk->replay_running) {
		if (!disk->replay_failed)
			TAILQ_FOREACH(r, &disk->replay_retry, link)
				deadline = SB_MIN(deadline, r->retry_at_ns);
		return deadline;
	}
	if (disk->own_flush_busy || disk->own_flush_retry_ns <= sb_now_ns() ||
	    (!sb_unflushed_half_full(disk->log) && TAILQ_EMPTY(&disk->parked)))
		return UINT64_MAX;
	return disk->own_flush_retry_ns;
}

static void own_flush_done(struct sb_disk *disk, struct sb_request *f, int err)
{
	struct sb_request *req;

	disk->own_flush_busy = false;
	if (err == 0)
		disk->fail_streak = 0;
	if (err == 0 && f->epoch == disk->cache_epoch) {
		flush_covered(disk, f->log_mark, f->park_mark);
		sb_disk_schedule(disk);
		return;
	}
	if (err == 0) {
		sb_disk_schedule(disk); /* across a cache loss: again after the replay */
		return;
	}
	sb_hold_own_error(disk, err);
	disk->own_flush_retry_ns = sb_now_ns() +
				   sb_hold_own_flush_delay(disk, disk->own_flush_attempt++);
	sb_warn("disk %s: flushing the backend to empty the unflushed-write log failed "
		"with %s", disk->name, sb_errno_name(err));
	switch (sb_policy_decide(&disk->policy, SB_OP_FLUSH, err)) {
	case SB_VERDICT_REPORT:
		/* Not durable and no way to make them so: their clients hear it. */
		while ((req = TAILQ_FIRST(&disk->parked))) {
			unpark(disk, req);
			sb_disk_finish(disk, req, err);
		}
		break;
	case SB_VERDICT_IGNORE:
		while ((req = TAILQ_FIRST(&disk->parked))) {
			unpark(disk, req);
			sb_disk_finish(disk, req, 0);
		}
		break;
	case SB_VERDICT_RETRY:
	case SB_VERDICT_STOP:
		break; /* issued again after the replay */
	}
	sb_replay_cache_lost(disk, "a flush failed");
	sb_disk_schedule(disk);
}

static void replay_write_done(struct sb_disk *disk, struct sb_request *r, int err)
{
	struct sb_unflushed_entry *e = replay_entry(r);
	enum sb_verdict v;

	disk->replay_inflight--;
	sb_disk_schedule(disk);
	if (err == 0) {
		disk->replay_writes++;
		disk->replay_bytes += r->length;
		disk->replay_progressed = true;
		disk->fail_streak = 0;
		TAILQ_INSERT_TAIL(&disk->replay_free, r, link);
		return;
	}
	sb_hold_own_error(disk, err);
	v = sb_policy_decide(&disk->policy, SB_OP_WRITE, err);
	if (v == SB_VERDICT_RETRY && !disk->replay_failed && sb_hold_replay_flaky(disk)) {
		/* Flaky: this one again after its own backoff, the rest go on. */
		r->retry_at_ns = sb_now_ns() + sb_policy_flaky_backoff(&disk->policy,
								       r->attempts - 1,
								       &disk->rng);
		TAILQ_INSERT_TAIL(&disk->replay_retry, r, link);
		return;
	}
	TAILQ_INSERT_TAIL(&disk->replay_free, r, link);
	if (v == SB_VERDICT_RETRY || v == SB_VERDICT_STOP) {
		if (e->lsn < disk->replay_resume_lsn)
			disk->replay_resume_lsn = e->lsn;
		if (!disk->replay_failed) {
			disk->replay_failed = true;
			sb_warn("disk %s: writing an unflushed write again failed with %s; the "
				"replay goes on from there once the backend answers", disk->name,
				sb_errno_name(err));
			sb_hold_replay_failed(disk, v);
		}
	} else {
		/* Given up on: that acknowledged write may be lost, so the next
		 * flush must not claim otherwise. */
		e->dead = 1;
		if (v == SB_VERDICT_REPORT)
			disk->flush_err = err;
		sb_warn("disk %s: an acknowledged %s of %u bytes at %" PRIu64 " could not be "
			"written again (%s)%s", disk->name, sb_op_name(r->op), r->length, r->offset,
			sb_errno_name(err), v == SB_VERDICT_REPORT ? "; the next flush fails" : "");
	}
	sb_disk_schedule(disk);
}

void sb_replay_complete(struct sb_disk *disk, struct sb_request *req, int err)
{
	if (req->origin == SB_ORIGIN_FLUSH)
		own_flush_done(disk, req, err);
	else
		replay_write_done(disk, req, err);
}
