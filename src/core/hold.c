/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: what happens when a request fails: the verdict, the hold, the
 * probe, the release in order, the deadlines, and the management commands
 * that act on held requests.  The state machine is drawn in disk.h.
 *
 * Down or flaky?  A failure that comes with no success since (fail_streak)
 * is taken for an outage: HUNG, everything queues behind one probe.  A
 * success while requests are held says the backend answers: DEGRADED, where
 * each held request is retried on its own backoff and requests that overlap
 * nothing held flow on.  SB_OUTAGE_STREAK failures in a row, or the backend
 * saying it lost its connection, make it HUNG again; until then the probe of
 * a HUNG disk goes after the flaky backoff, after that once per tick. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base/log.h"
#include "base/parse.h"
#include "core/disk-internal.h"

static void hold_insert(struct sb_disk *disk, struct sb_request *req)
{
	struct sb_request *it;

	req->state = SB_REQ_WAITING;
	disk->waiting_count++;
	disk->waiting_bytes += sb_request_payload(req);
	/* Keep arrival order.  A failure usually belongs near the front (it was
	 * in flight before the queue formed), a new arrival at the back. */
	TAILQ_FOREACH_REVERSE(it, &disk->waiting, sb_request_queue, link) {
		if (it->seq < req->seq) {
			TAILQ_INSERT_AFTER(&disk->waiting, it, req, link);
			return;
		}
	}
	TAILQ_INSERT_HEAD(&disk->waiting, req, link);
}

static void hold_remove(struct sb_disk *disk, struct sb_request *req)
{
	TAILQ_REMOVE(&disk->waiting, req, link);
	disk->waiting_count--;
	disk->waiting_bytes -= sb_request_payload(req);
}

void sb_hold_enqueue(struct sb_disk *disk, struct sb_request *req)
{
	/* Its age counts from now: it waits because of the outage, so it must
	 * not wait forever behind held requests, nor be failed for time it did
	 * not spend. */
	req->held_since_ns = sb_now_ns();
	hold_insert(disk, req);
}

void sb_hold_requeue(struct sb_disk *disk, struct sb_request *req)
{
	if (!req->held_since_ns)
		req->held_since_ns = sb_now_ns();
	hold_insert(disk, req);
	sb_disk_schedule(disk);
}

uint64_t sb_hold_oldest_age(const struct sb_disk *disk, uint64_t now)
{
	const struct sb_request *req;
	uint64_t oldest = 0;

	TAILQ_FOREACH(req, &disk->waiting, link)
		if (req->held_since_ns && (!oldest || req->held_since_ns < oldest))
			oldest = req->held_since_ns;
	return oldest && now > oldest ? now - oldest : 0;
}

/* @now is when the first request was held, so a hang's duration and its
 * requests' ages agree to the nanosecond. */
static void hang_begin(struct sb_disk *disk, uint64_t now)
{
	disk->hung_since_ns = now;
	disk->hang_retries = 0;
	disk->hang_completed = 0;
	disk->hang_cleared = 0;
	disk->probe_attempt = 0;
	disk->stats.hangs++;
}

static void hang_end(struct sb_disk *disk)
{
	disk->stats.hang_total_ns += sb_now_ns() - disk->hung_since_ns;
	disk->state = SB_DISK_HEALTHY;
}

/* Fewer than SB_OUTAGE_STREAK failures in a row on a live connection is a
 * flaky path, more or a lost connection an outage. */
static bool looks_flaky(const struct sb_disk *disk)
{
	return disk->fail_streak < SB_OUTAGE_STREAK && disk->backend->connected;
}

void sb_hold_next_probe(struct sb_disk *disk, uint64_t now)
{
	/* A failure or two may be a flaky path (a backend that serves each
	 * request at once leaves no other request in flight to show it):
	 * the probe comes after the flaky backoff, so one failed request does
	 * not stall the disk for a tick.  From SB_OUTAGE_STREAK failures in a
	 * row, or a lost connection, one probe per tick. */
	if (looks_flaky(disk))
		disk->next_probe_ns = now + sb_policy_flaky_backoff(&disk->policy,
								    disk->fail_streak ? disk->fail_streak - 1 : 0,
								    &disk->rng);
	else
		disk->next_probe_ns = now + sb_policy_backoff(&disk->policy, disk->probe_attempt++,
							      &disk->rng);
}

/* The backend is down, or may be: everything queues behind one probe. */
static void become_hung(struct sb_disk *disk, uint64_t now)
{
	disk->state = SB_DISK_HUNG;
	sb_hold_next_probe(disk, now);
}

static void enter_hung(struct sb_disk *disk, uint64_t now)
{
	switch (disk->state) {
	case SB_DISK_HEALTHY:
		/* Down until something succeeds: no storm into a dead backend. */
		hang_begin(disk, now);
		become_hung(disk, now);
		sb_warn("disk %s: backend error %s, holding requests", disk->name,
			sb_errno_name(disk->stats.last_err));
		sb_disk_emit(disk, SB_EVENT_HUNG, 0, 0);
		break;
	case SB_DISK_RECOVERING:
		/* A released request failed again: back to probing, keep backing off. */
		become_hung(disk, now);
		break;
	case SB_DISK_DEGRADED:
		if (disk->fail_streak < SB_OUTAGE_STREAK && disk->backend->connected)
			break; /* flaky, not down: only this request waits */
		become_hung(disk, now);
		sb_warn("disk %s: %u failures in a row (%s), the backend looks down: holding "
			"every request", disk->name, disk->fail_streak,
			sb_errno_name(disk->stats.last_err));
		sb_disk_emit(disk, SB_EVENT_HUNG, 0, 0);
		break;
	case SB_DISK_HUNG:
	case SB_DISK_STOPPED:
		break;
	}
}

static void enter_stopped(struct sb_disk *disk, uint64_t now)
{
	if (disk->state == SB_DISK_STOPPED)
		return;
	if (disk->state == SB_DISK_HEALTHY)
		hang_begin(disk, now);
	disk->state = SB_DISK_STOPPED;
	sb_warn("disk %s: stopped after backend error %s; 'cont' resumes it",
		disk->name, sb_errno_name(disk->stats.last_err));
	sb_disk_emit(disk, SB_EVENT_STOPPED, 0, 0);
}

/* Completes a waiting request that ran out of time or was given up on. */
static void hold_fail(struct sb_disk *disk, struct sb_request *req)
{
	int err = req->last_err ? req->last_err
				: (disk->stats.last_err ? disk->stats.last_err : -EIO);
	hold_remove(disk, req);
	sb_disk_finish(disk, req, err);
}

/* If the queue emptied without a recovery (timeouts, fail-held), the hang is
 * over.  Returns true if it ended here. */
static bool hold_settle(struct sb_disk *disk)
{
	if (disk->state != SB_DISK_HUNG || !TAILQ_EMPTY(&disk->waiting) || disk->probe ||
	    disk->releasing || sb_replay_blocking(disk))
		return false;
	hang_end(disk);
	return true;
}

/* The hang ended with no event of its own (its clients went away, or the
 * policy failed the last held request): say so, or it would end unseen. */
static void hold_cleared(struct sb_disk *disk)
{
	uint64_t duration = sb_now_ns() - disk->hung_since_ns;

	sb_info("disk %s: nothing held any more after %" PRIu64 " ms (%" PRIu64
		" held requests dropped or failed)", disk->name, duration / SB_NS_PER_MS,
		disk->hang_cleared);
	sb_disk_emit(disk, SB_EVENT_CLEARED, duration, disk->hang_cleared);
}

static void hold_expire(struct sb_disk *disk, uint64_t now)
{
	struct sb_request *req, *next;
	uint64_t failed = 0;

	if ((disk->state != SB_DISK_HUNG && disk->state != SB_DISK_DEGRADED) ||
	    !disk->policy.retry_timeout_ns)
		return;
	TAILQ_FOREACH_SAFE(req, &disk->waiting, link, next) {
		if (!sb_policy_expired(&disk->policy, req->held_since_ns, now))
			continue;
		if (sb_policy_timeout_verdict(&disk->policy) == SB_VERDICT_STOP) {
			enter_stopped(disk, now);
			return;
		}
		hold_fail(disk, req);
		failed++;
	}
	if (!failed)
		return;
	disk->stats.timeouts += failed;
	sb_warn("disk %s: %" PRIu64 " held requests timed out, failed with %s",
		disk->name, failed, sb_errno_name(disk->stats.last_err));
	uint64_t duration = now - disk->hung_since_ns;
	hold_settle(disk);
	sb_disk_emit(disk, SB_EVENT_TIMED_OUT, duration, failed);
}

/* An error that reaches a client is worth a line in the log, but a failing
 * disk under load must not flood it: one line per second, with a count. */
static void hold_log_reported(struct sb_disk *disk, const struct sb_request *req, int err,
			      uint64_t now)
{
	if (now < disk->report_log_ns + SB_NS_PER_SEC) {
		disk->report_log_suppressed++;
		return;
	}
	sb_warn("disk %s: %s of %u bytes at %" PRIu64 " failed with %s, reported to the client"
		" (%" PRIu64 " more since the last message)", disk->name, sb_op_name(req->op),
		req->length, req->offset, sb_errno_name(err), disk->report_log_suppressed);
	disk->report_log_ns = now;
	disk->report_log_suppressed = 0;
}

/* Every backend error is counted here, a request's or a replay write's. */
static void count_error(struct sb_disk *disk, int err, uint64_t now)
{
	unsigned e = (unsigned)-err;

	disk->stats.errors++;
	disk->stats.errors_by_errno[e < SB_ERRNO_STATS ? e : 0]++;
	disk->stats.last_err = err;
	disk->fail_streak++;
	disk->last_fail_ns = now;
}

void sb_hold_failed(struct sb_disk *disk, struct sb_request *req, int err)
{
	enum sb_verdict v = sb_policy_decide(&disk->policy, req->op, err);
	uint64_t now = sb_now_ns();
	struct sb_disk_observer *o;

	count_error(disk, err, now);
	req->last_err = err;
	if (req->give_up && v != SB_VERDICT_IGNORE)
		v = SB_VERDICT_REPORT; /* fail-held came while it was at the backend */
	bool timed_out = v == SB_VERDICT_RETRY &&
			 sb_policy_expired(&disk->policy, req->held_since_ns, now);
	if (timed_out)
		v = sb_policy_timeout_verdict(&disk->policy);
	sb_debug("disk %s: %s of %u bytes at %" PRIu64 " failed with %s: %s", disk->name,
		 sb_op_name(req->op), req->length, req->offset, sb_errno_name(err),
		 v == SB_VERDICT_RETRY ? "hold" : v == SB_VERDICT_STOP ? "stop"
		 : v == SB_VERDICT_IGNORE ? "ignore" : "report");
	TAILQ_FOREACH(o, &disk->observers, link)
		if (o->io_error)
			o->io_error(o->opaque, disk, req->op, err, v);

	if (req->held_since_ns && !timed_out &&
	    (v == SB_VERDICT_REPORT || v == SB_VERDICT_IGNORE))
		disk->hang_cleared++;
	switch (v) {
	case SB_VERDICT_REPORT:
		hold_log_reported(disk, req, err, now);
		if (timed_out) {
			disk->stats.timeouts++;
			sb_disk_finish(disk, req, err);
			hold_settle(disk);
			sb_disk_emit(disk, SB_EVENT_TIMED_OUT, now - disk->hung_since_ns, 1);
		} else {
			sb_disk_finish(disk, req, err);
		}
		break;
	case SB_VERDICT_IGNORE:
		sb_request_ignored(req);
		sb_disk_finish(disk, req, 0);
		break;
	case SB_VERDICT_STOP:
		if (!req->held_since_ns)
			req->held_since_ns = now;
		hold_insert(disk, req);
		enter_stopped(disk, now);
		break;
	case SB_VERDICT_RETRY:
		if (!req->held_since_ns)
			req->held_since_ns = now;
		/* Its own backoff, for when the path is only flaky: from a few
		 * milliseconds, doubling (policy.h). */
		req->retry_at_ns = now + sb_policy_flaky_backoff(&disk->policy,
								 req->attempts ? req->attempts - 1 : 0,
								 &disk->rng);
		hold_insert(disk, req);
		enter_hung(disk, now);
		break;
	}
	sb_disk_schedule(disk);
}

static void enter_recovering(struct sb_disk *disk, const char *why)
{
	/* The backend answers again: release the rest in order. */
	disk->state = SB_DISK_RECOVERING;
	disk->probe_attempt = 0;
	sb_info("disk %s: %s, releasing the %" PRIu64 " requests behind it", disk->name, why,
		disk->waiting_count);
}

void sb_hold_completed(struct sb_disk *disk, struct sb_request *req, bool was_probe)
{
	if (req->held_since_ns)
		disk->hang_completed++;
	if (was_probe && disk->state == SB_DISK_HUNG) {
		enter_recovering(disk, "probe succeeded");
	} else if (disk->state == SB_DISK_HUNG && !was_probe && disk->backend->connected &&
		   sb_request_proves_storage(req)) {
		/* Something else got through: the path is flaky, not down. */
		disk->state = SB_DISK_DEGRADED;
		disk->probe_attempt = 0;
		sb_info("disk %s: the backend answers but some requests fail: retrying them "
			"one by one, the rest flow", disk->name);
		sb_disk_emit(disk, SB_EVENT_DEGRADED, 0, 0);
	}
	sb_disk_schedule(disk);
}

void sb_hold_replay_done(struct sb_disk *disk)
{
	if (disk->state == SB_DISK_HUNG)
		enter_recovering(disk, "the backend took the replay");
	sb_disk_schedule(disk);
}

void sb_hold_replay_progressed(struct sb_disk *disk)
{
	/* The backend took some of it: a flaky path, not an outage.  The next
	 * pass comes as soon as a failed request's retry would, not after a
	 * growing backoff. */
	if (disk->state != SB_DISK_HUNG)
		return;
	disk->probe_attempt = 0;
	disk->next_probe_ns = sb_now_ns() + sb_policy_flaky_backoff(&disk->policy, 0, &disk->rng);
	sb_disk_schedule(disk);
}

void sb_hold_own_error(struct sb_disk *disk, int err)
{
	count_error(disk, err, sb_now_ns());
}

uint64_t sb_hold_own_flush_delay(struct sb_disk *disk, unsigned attempt)
{
	if (looks_flaky(disk))
		return sb_policy_flaky_backoff(&disk->policy, attempt, &disk->rng);
	return sb_policy_backoff(&disk->policy, attempt, &disk->rng);
}

bool sb_hold_replay_flaky(struct sb_disk *disk)
{
	/* As for a request: a failure with no success since, in this pass, is
	 * taken for the backend being down. */
	if (!disk->replay_progressed || !looks_flaky(disk))
		return false;
	/* From HUNG or RECOVERING too: writes of this pass got through. */
	if (disk->state != SB_DISK_DEGRADED && disk->state != SB_DISK_STOPPED) {
		if (disk->state == SB_DISK_HEALTHY)
			hang_begin(disk, disk->last_fail_ns);
		disk->state = SB_DISK_DEGRADED;
		disk->probe_attempt = 0;
		sb_info("disk %s: writing the unflushed log again, some writes fail (%s): "
			"retrying them one by one", disk->name, sb_errno_name(disk->stats.last_err));
		sb_disk_emit(disk, SB_EVENT_DEGRADED, 0, 0);
	}
	return true;
}

void sb_hold_replay_failed(struct sb_disk *disk, enum sb_verdict v)
{
	uint64_t now = sb_now_ns();

	if (v == SB_VERDICT_STOP) {
		enter_stopped(disk, now);
		return;
	}
	if (disk->state == SB_DISK_DEGRADED)
		disk->fail_streak = SB_OUTAGE_STREAK; /* nothing may pass a replay */
	enter_hung(disk, now);
}

/* Is a waiting request due to be re-issued, by the state's rule? */
static bool release_due(const struct sb_disk *disk, const struct sb_request *req,
			uint64_t now)
{
	/* Degraded: a failed request waits for its own backoff; one that only
	 * queued behind others goes as soon as nothing older overlaps it. */
	if (disk->state == SB_DISK_DEGRADED && req->last_err)
		return now >= req->retry_at_ns;
	return true;
}

static void hold_release_one(struct sb_disk *disk, struct sb_request *req)
{
	hold_remove(disk, req);
	req->released = true;
	disk->releasing++;
	sb_disk_fence(disk, req);
	if (req->attempts) {
		disk->stats.retries++;
		disk->hang_retries++;
	}
	sb_disk_issue(disk, req);
}

/* Re-issues what may go: a request that nothing older in the queue and
 * nothing fencing at the backend overlaps (a flush overlaps everything, so
 * it goes alone once everything before it completed), at most
 * SB_RELEASE_DEPTH at once. */
static void hold_release(struct sb_disk *disk)
{
	struct sb_request *req, *next, *w;
	uint64_t now = sb_now_ns();
	unsigned scanned = 0;

	if (!sb_disk_flowing(disk))
		return;
	TAILQ_FOREACH_SAFE(req, &disk->waiting, link, next) {
		bool blocked = false;

		if (disk->releasing >= SB_RELEASE_DEPTH || ++scanned > SB_RELEASE_SCAN)
			break;
		if (!release_due(disk, req, now) || sb_disk_overlaps_fencing(disk, req))
			continue;
		for (w = TAILQ_FIRST(&disk->waiting); w != req; w = TAILQ_NEXT(w, link)) {
			if (sb_requests_overlap(w, req)) {
				blocked = true;
				break;
			}
		}
		if (!blocked)
			hold_release_one(disk, req);
		if (!sb_disk_flowing(disk))
			break; /* an issue failed at once and the disk went down */
	}
}

/* The hang is over once nothing waits and nothing released is in flight;
 * a degraded disk also waits for a quiet spell, so a steady trickle of
 * errors is one episode, not thousands. */
static void hold_maybe_recovered(struct sb_disk *disk, uint64_t now)
{
	uint64_t duration;

	if ((disk->state != SB_DISK_RECOVERING && disk->state != SB_DISK_DEGRADED) ||
	    !TAILQ_EMPTY(&disk->waiting) || disk->releasing || disk->probe ||
	    sb_replay_blocking(disk))
		return;
	if (disk->state == SB_DISK_DEGRADED &&
	    now < disk->last_fail_ns + disk->policy.retry_interval_ns)
		return;
	duration = now - disk->hung_since_ns;
	hang_end(disk);
	sb_info("disk %s: recovered after %" PRIu64 " ms, %" PRIu64 " held requests completed",
		disk->name, duration / SB_NS_PER_MS, disk->hang_completed);
	sb_disk_emit(disk, SB_EVENT_RECOVERED, duration, disk->hang_completed);
}

static void hold_probe(struct sb_disk *disk)
{
	struct sb_request *req = TAILQ_FIRST(&disk->waiting);

	/* With a replay due, the replay is the probe (replay.c). */
	if (!req || sb_replay_blocking(disk))
		return;
	/* The oldest request whose success proves something; block status
	 * queries only if nothing else waits (the protocols order nothing
	 * between requests in flight together, so the probe may pass them). */
	for (struct sb_request *r = req; r; r = TAILQ_NEXT(r, link))
		if (sb_request_proves_storage(r)) {
			req = r;
			break;
		}
	hold_remove(disk, req);
	disk->probe = req;
	sb_disk_fence(disk, req);
	if (req->attempts) {
		disk->stats.retries++;
		disk->hang_retries++;
	}
	sb_hold_next_probe(disk, sb_now_ns());
	if (disk->backend->ops->kick)
		disk->backend->ops->kick(disk->backend);
	sb_disk_issue(disk, req);
}

void sb_hold_run(struct sb_disk *disk)
{
	uint64_t now = sb_now_ns();

	hold_expire(disk, now);
	if (disk->state == SB_DISK_HUNG && !disk->probe && now >= disk->next_probe_ns)
		hold_probe(disk);
	hold_release(disk);
	hold_maybe_recovered(disk, now);
	if (hold_settle(disk))
		hold_cleared(disk);
}

void sb_hold_arm(struct sb_disk *disk)
{
	uint64_t deadline = UINT64_MAX;
	const struct sb_request *req;

	if (disk->state == SB_DISK_HUNG && !disk->probe &&
	    (!TAILQ_EMPTY(&disk->waiting) || sb_replay_blocking(disk)))
		deadline = disk->next_probe_ns;
	if (disk->state == SB_DISK_DEGRADED) {
		TAILQ_FOREACH(req, &disk->waiting, link)
			if (req->last_err && req->retry_at_ns < deadline)
				deadline = req->retry_at_ns;
		if (TAILQ_EMPTY(&disk->waiting))
			deadline = SB_MIN(deadline, disk->last_fail_ns +
						    disk->policy.retry_interval_ns);
	}
	if ((disk->state == SB_DISK_HUNG || disk->state == SB_DISK_DEGRADED) &&
	    disk->policy.retry_timeout_ns)
		TAILQ_FOREACH(req, &disk->waiting, link)
			if (req->held_since_ns &&
			    req->held_since_ns + disk->policy.retry_timeout_ns < deadline)
				deadline = req->held_since_ns + disk->policy.retry_timeout_ns;
	deadline = SB_MIN(deadline, sb_replay_deadline(disk));
	if (deadline == UINT64_MAX)
		sb_timer_cancel(disk->loop, &disk->timer);
	else
		sb_timer_arm(disk->loop, &disk->timer, deadline);
}

void sb_hold_timer(void *opaque)
{
	struct sb_disk *disk = opaque;

	sb_disk_schedule(disk);
}

void sb_hold_backend_up(struct sb_disk *disk)
{
	/* Recovery is prompt: a reconnect probes now, not at the end of the interval. */
	disk->own_flush_retry_ns = 0;
	if (disk->state == SB_DISK_HUNG) {
		disk->next_probe_ns = sb_now_ns();
		disk->probe_attempt = 0;
		sb_disk_schedule(disk);
	}
}

/* ---- management ---- */

int sb_disk_set_policy(struct sb_disk *disk, const struct sb_policy *p, struct sb_error **errp)
{
	struct sb_request *req, *next;
	bool any_stop = false;
	uint64_t given_up = 0;
	uint64_t duration = disk->hung_since_ns ? sb_now_ns() - disk->hung_since_ns : 0;

	if (sb_policy_validate(p, errp) < 0)
		return -1;
	disk->policy = *p;

	/* It applies to requests already held: decide each again. */
	TAILQ_FOREACH_SAFE(req, &disk->waiting, link, next) {
		if (!req->last_err)
			continue; /* queued, never failed: nothing to decide */
		switch (sb_policy_decide(p, req->op, req->last_err)) {
		case SB_VERDICT_REPORT:
			hold_fail(disk, req);
			given_up++;
			break;
		case SB_VERDICT_IGNORE:
			given_up++;
			hold_remove(disk, req);
			sb_request_ignored(req);
			sb_disk_finish(disk, req, 0);
			break;
		case SB_VERDICT_STOP:
			any_stop = true;
			break;
		case SB_VERDICT_RETRY:
			break;
		}
	}
	if (disk->state == SB_DISK_STOPPED && !any_stop && !TAILQ_EMPTY(&disk->waiting)) {
		disk->state = SB_DISK_HUNG;
		disk->next_probe_ns = sb_now_ns();
		sb_disk_emit(disk, SB_EVENT_RESUMED, 0, 0);
	} else if (disk->state == SB_DISK_STOPPED && TAILQ_EMPTY(&disk->waiting)) {
		hang_end(disk);
		sb_disk_emit(disk, SB_EVENT_RESUMED, 0, 0);
	} else if (disk->state == SB_DISK_HUNG && any_stop) {
		enter_stopped(disk, sb_now_ns());
	}
	hold_expire(disk, sb_now_ns());
	bool ended = hold_settle(disk);
	if (given_up) {
		/* The new policy gave up on them: say so, or a hang would end unseen. */
		sb_warn("disk %s: new policy completed %" PRIu64 " held requests", disk->name,
			given_up);
		sb_disk_emit(disk, SB_EVENT_FAILED_HELD, duration, given_up);
	} else if (ended) {
		hold_cleared(disk);
	}
	sb_disk_schedule(disk);
	return 0;
}

int sb_disk_cont(struct sb_disk *disk, struct sb_error **errp)
{
	struct sb_request *req;
	uint64_t now = sb_now_ns();

	if (disk->state != SB_DISK_STOPPED)
		return sb_error_set(errp, "disk '%s' is not stopped (it is %s)", disk->name,
				    sb_disk_state_name(disk->state));
	/* A fresh retry window for each request: the operator chose to go on. */
	TAILQ_FOREACH(req, &disk->waiting, link)
		req->held_since_ns = now;
	disk->state = SB_DISK_RECOVERING;
	disk->probe_attempt = 0;
	sb_info("disk %s: resumed, re-issuing %" PRIu64 " requests", disk->name,
		disk->waiting_count);
	sb_disk_emit(disk, SB_EVENT_RESUMED, 0, 0);
	sb_disk_schedule(disk);
	return 0;
}

uint64_t sb_disk_fail_held(struct sb_disk *disk)
{
	struct sb_request *req;
	uint64_t failed = 0;
	uint64_t duration = disk->hung_since_ns ? sb_now_ns() - disk->hung_since_ns : 0;
	bool ended = false;

	while ((req = TAILQ_FIRST(&disk->waiting))) {
		hold_fail(disk, req);
		failed++;
	}
	/* The probe and released requests are still at the backend: they
	 * keep fencing what overlaps them, and a failure now reaches their
	 * client instead of being held again. */
	TAILQ_FOREACH(req, &disk->fencing, link)
		req->give_up = true;
	if (disk->state == SB_DISK_STOPPED || disk->state == SB_DISK_HUNG ||
	    disk->state == SB_DISK_DEGRADED) {
		if (!disk->probe && !disk->releasing && !sb_replay_blocking(disk)) {
			hang_end(disk);
			ended = true;
		} else {
			disk->state = SB_DISK_RECOVERING; /* let the in-flight ones finish */
		}
	}
	if (failed) {
		sb_warn("disk %s: %" PRIu64 " held requests failed on request", disk->name, failed);
		sb_disk_emit(disk, SB_EVENT_FAILED_HELD, duration, failed);
	} else if (ended) {
		hold_cleared(disk); /* e.g. a stopped disk whose clients had all gone */
	}
	sb_disk_schedule(disk);
	return failed;
}

int sb_disk_retry_now(struct sb_disk *disk, struct sb_error **errp)
{
	if (disk->state == SB_DISK_STOPPED)
		return sb_error_set(errp, "disk '%s' is stopped: use cont to resume it", disk->name);
	if (disk->state == SB_DISK_HUNG) {
		disk->next_probe_ns = sb_now_ns();
		disk->probe_attempt = 0;
		sb_disk_schedule(disk);
	}
	return 0;
}
