/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the disk: life cycle, the fast path, sessions, management.
 * What happens when a request fails lives in hold.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/parse.h"
#include "core/disk-internal.h"

const char *sb_disk_state_name(enum sb_disk_state s)
{
	static const char *const names[] = {
		[SB_DISK_HEALTHY] = "healthy", [SB_DISK_HUNG] = "hung",
		[SB_DISK_RECOVERING] = "recovering", [SB_DISK_STOPPED] = "stopped",
		[SB_DISK_DEGRADED] = "degraded",
	};
	return (unsigned)s < SB_ARRAY_SIZE(names) ? names[s] : "?";
}

static void disk_backend_complete(void *opaque, struct sb_request *req, int err);
static void disk_backend_connection(void *opaque, bool up, int err);
static void disk_backend_cache_lost(void *opaque, const char *why);
static void disk_run(void *opaque);

struct sb_disk *sb_disk_new(struct sb_loop *loop, const char *name,
			    struct sb_backend *backend, const struct sb_policy *policy,
			    struct sb_error **errp)
{
	struct sb_disk *disk;

	if (sb_policy_validate(policy, errp) < 0)
		return NULL;
	disk = calloc(1, sizeof(*disk));
	if (!disk || !(disk->name = strdup(name))) {
		free(disk);
		sb_error_set(errp, "disk '%s': out of memory", name);
		return NULL;
	}
	disk->loop = loop;
	disk->backend = backend;
	disk->policy = *policy;
	disk->state = SB_DISK_HEALTHY;
	disk->rng = sb_now_ns() | 1;
	TAILQ_INIT(&disk->waiting);
	TAILQ_INIT(&disk->inflight_list);
	TAILQ_INIT(&disk->fencing);
	TAILQ_INIT(&disk->parked);
	TAILQ_INIT(&disk->replay_free);
	TAILQ_INIT(&disk->replay_retry);
	TAILQ_INIT(&disk->sessions);
	TAILQ_INIT(&disk->blocked);
	TAILQ_INIT(&disk->observers);
	sb_timer_init(&disk->timer, sb_hold_timer, disk);
	sb_defer_init(&disk->run, disk_run, disk);
	backend->up = (struct sb_backend_upcalls){
		.complete = disk_backend_complete,
		.connection = disk_backend_connection,
		.cache_lost = disk_backend_cache_lost,
		.opaque = disk,
	};
	return disk;
}

int sb_disk_set_unflushed_limit(struct sb_disk *disk, uint64_t bytes, struct sb_error **errp)
{
	sb_replay_free(disk);
	if (!bytes || !(disk->backend->caps & SB_CAP_FLUSH) ||
	    (disk->backend->caps & SB_CAP_READ_ONLY))
		return 0;
	if (!(disk->log = sb_unflushed_new(bytes)))
		return sb_error_set(errp, "disk '%s': cannot reserve %" PRIu64
				    " bytes for the unflushed-write log", disk->name, bytes);
	return sb_replay_init(disk, errp);
}

void sb_disk_free(struct sb_disk *disk)
{
	if (!disk)
		return;
	sb_timer_cancel(disk->loop, &disk->timer);
	sb_loop_defer_cancel(disk->loop, &disk->run);
	sb_replay_free(disk);
	sb_backend_close(disk->backend);
	free(disk->name);
	free(disk);
}

const char *sb_disk_name(const struct sb_disk *disk)
{
	return disk->name;
}

struct sb_backend *sb_disk_backend(struct sb_disk *disk)
{
	return disk->backend;
}

size_t sb_disk_request_size(const struct sb_disk *disk)
{
	return sizeof(struct sb_request) + disk->backend->ctx_size;
}

const struct sb_policy *sb_disk_policy(const struct sb_disk *disk)
{
	return &disk->policy;
}

const struct sb_disk_stats *sb_disk_stats(const struct sb_disk *disk)
{
	return &disk->stats;
}

void sb_disk_attach(struct sb_disk *disk, struct sb_session *s)
{
	s->disk = disk;
	s->closing = false;
	s->blocked = false;
	TAILQ_INSERT_TAIL(&disk->sessions, s, link);
}

void sb_disk_detach(struct sb_session *s, const char *how)
{
	struct sb_disk *disk = s->disk;
	struct sb_request *req, *next;
	uint64_t fenced = 0, orphans = 0;

	if (s->closing)
		return;
	s->closing = true;
	if (s->blocked) {
		TAILQ_REMOVE(&disk->blocked, s, blocked_link);
		s->blocked = false;
	}
	TAILQ_REMOVE(&disk->sessions, s, link);

	/* Invariant 4: a waiting request of a client that is gone is never
	 * sent again: a stale write must not land on newer data. */
	TAILQ_FOREACH_SAFE(req, &disk->waiting, link, next) {
		if (req->session != s)
			continue;
		TAILQ_REMOVE(&disk->waiting, req, link);
		disk->waiting_count--;
		disk->waiting_bytes -= sb_request_payload(req);
		fenced++;
		sb_disk_finish(disk, req, -ECANCELED);
	}
	sb_replay_detach(disk, s);
	/* ... and those still at the backend may land late: until they
	 * complete, newer overlapping requests of every client wait. */
	TAILQ_FOREACH(req, &disk->inflight_list, inflight_link) {
		if (req->session != s || req->fencing)
			continue;
		sb_disk_fence(disk, req);
		orphans++;
	}
	disk->hang_cleared += fenced;
	if (fenced)
		sb_info("disk %s: %s %s, %" PRIu64 " held requests dropped, never to be "
			"re-issued", disk->name, s->name, how, fenced);
	if (orphans)
		sb_debug("disk %s: %s %s with %" PRIu64 " requests at the backend; "
			 "overlapping requests wait for them", disk->name, s->name, how, orphans);
	sb_disk_schedule(disk);
}

bool sb_disk_accepting(struct sb_disk *disk, struct sb_session *s)
{
	if (SB_LIKELY(disk->waiting_count < disk->policy.max_held_requests &&
		      disk->waiting_bytes < disk->policy.max_held_bytes))
		return true;
	if (!s->blocked) {
		s->blocked = true;
		TAILQ_INSERT_TAIL(&disk->blocked, s, blocked_link);
		sb_debug("disk %s: memory bound reached, %s paused", disk->name, s->name);
	}
	return false;
}

bool sb_requests_overlap(const struct sb_request *a, const struct sb_request *b)
{
	if (!sb_op_is_write(a->op) && !sb_op_is_write(b->op))
		return false;
	if (a->op == SB_OP_FLUSH || b->op == SB_OP_FLUSH)
		return true;
	return a->offset < b->offset + b->length && b->offset < a->offset + a->length;
}

bool sb_disk_overlaps_fencing(const struct sb_disk *disk, const struct sb_request *req)
{
	const struct sb_request *r;

	TAILQ_FOREACH(r, &disk->fencing, link)
		if (sb_requests_overlap(r, req))
			return true;
	return false;
}

bool sb_disk_flowing(const struct sb_disk *disk)
{
	return !sb_replay_blocking(disk) &&
	       (disk->state == SB_DISK_HEALTHY || disk->state == SB_DISK_DEGRADED ||
		disk->state == SB_DISK_RECOVERING);
}

/* The slow path of submit: something is held, queued or fencing.  A request
 * that overlaps none of it goes on (a flaky path must not stall the whole
 * disk, invariant 3); one that does, or any while the backend is down,
 * queues behind it. */
static void disk_admit(struct sb_disk *disk, struct sb_request *req)
{
	const struct sb_request *w;

	if (sb_disk_flowing(disk) && !sb_disk_overlaps_fencing(disk, req)) {
		bool clear = true;
		TAILQ_FOREACH(w, &disk->waiting, link) {
			if (sb_requests_overlap(w, req)) {
				clear = false;
				break;
			}
		}
		if (clear) {
			sb_disk_issue(disk, req);
			return;
		}
	}
	sb_hold_enqueue(disk, req);
	sb_disk_schedule(disk);
}

void sb_disk_submit(struct sb_disk *disk, struct sb_request *req)
{
	req->seq = ++disk->seq;
	req->origin = SB_ORIGIN_CLIENT;
	req->held_since_ns = 0;
	req->last_err = 0;
	req->attempts = 0;
	req->released = false;
	req->fencing = false;
	req->give_up = false;
	disk->stats.requests[req->op]++;
	/* A block status or a cache moves no data: only what it is about,
	 * not counted. */
	disk->stats.bytes[req->op] += sb_op_moves_no_data(req->op) ? 0 : req->length;

	if (SB_UNLIKELY(!sb_caps_allow(disk->backend->caps, req->op))) {
		/* A block status or a cache the backend cannot do: all data,
		 * or success, is never wrong, and is answered at once,
		 * whatever the storage is doing. */
		sb_request_ignored(req);
		sb_disk_finish(disk, req, 0);
		return;
	}
	if (SB_LIKELY(disk->state == SB_DISK_HEALTHY && !disk->nfencing &&
		      !disk->waiting_count && !sb_replay_blocking(disk))) {
		sb_disk_issue(disk, req);
		return;
	}
	disk_admit(disk, req);
}

void sb_disk_issue(struct sb_disk *disk, struct sb_request *req)
{
	int r;

	req->state = SB_REQ_INFLIGHT;
	req->attempts++;
	req->epoch = disk->cache_epoch;
	if (req->op == SB_OP_FLUSH && disk->log) {
		req->log_mark = sb_unflushed_mark(disk->log);
		req->park_mark = disk->park_seq + 1;
	}
	disk->inflight++;
	TAILQ_INSERT_TAIL(&disk->inflight_list, req, inflight_link);
	r = sb_backend_submit(disk->backend, req);
	if (SB_UNLIKELY(r < 0)) {
		/* The contract: no completion will fire; treat it as one. */
		disk_backend_complete(disk, req, r);
	}
}

void sb_disk_fence(struct sb_disk *disk, struct sb_request *req)
{
	req->fencing = true;
	TAILQ_INSERT_TAIL(&disk->fencing, req, link);
	disk->nfencing++;
}

static void disk_unfence(struct sb_disk *disk, struct sb_request *req)
{
	req->fencing = false;
	TAILQ_REMOVE(&disk->fencing, req, link);
	disk->nfencing--;
	if (req->released) {
		req->released = false;
		disk->releasing--;
	}
	if (req == disk->probe)
		disk->probe = NULL;
	/* What waited behind it may go now. */
	if (disk->waiting_count)
		sb_disk_schedule(disk);
}

void sb_disk_finish(struct sb_disk *disk, struct sb_request *req, int err)
{
	(void)disk;
	req->state = SB_REQ_IDLE;
	req->done(req, err);
}

/* A success of a client request, past the log. */
static void disk_succeeded(struct sb_disk *disk, struct sb_request *req, bool was_probe)
{
	int err = 0;

	if (req->op == SB_OP_FLUSH && disk->log) {
		if (SB_UNLIKELY(req->epoch != disk->cache_epoch) &&
		    !(req->session && req->session->closing)) {
			/* The cache may have been lost while it was in flight:
			 * it proves nothing.  Again, after the replay. */
			sb_hold_requeue(disk, req);
			return;
		}
		err = sb_replay_flushed(disk, req);
	}
	if (SB_UNLIKELY(req->held_since_ns || was_probe || disk->state != SB_DISK_HEALTHY))
		sb_hold_completed(disk, req, was_probe);
	sb_disk_finish(disk, req, err);
}

static void disk_backend_complete(void *opaque, struct sb_request *req, int err)
{
	struct sb_disk *disk = opaque;
	bool was_probe = req == disk->probe;

	disk->inflight--;
	TAILQ_REMOVE(&disk->inflight_list, req, inflight_link);
	req->state = SB_REQ_IDLE;
	if (SB_UNLIKELY(req->fencing))
		disk_unfence(disk, req);
	if (SB_UNLIKELY(req->origin != SB_ORIGIN_CLIENT)) {
		sb_replay_complete(disk, req, err);
		return;
	}

	if (SB_LIKELY(err == 0)) {
		if (SB_LIKELY(sb_request_proves_storage(req)))
			disk->fail_streak = 0;
		if (disk->log && sb_op_is_write(req->op) && req->op != SB_OP_FLUSH) {
			/* The backend answered: the hold machine hears it now,
			 * even if the reply waits for a flush. */
			if (SB_UNLIKELY(req->held_since_ns || was_probe ||
					disk->state != SB_DISK_HEALTHY))
				sb_hold_completed(disk, req, was_probe);
			if (sb_replay_record(disk, req))
				sb_disk_finish(disk, req, 0);
			return; /* else parked: acknowledged once a flush covers it */
		}
		disk_succeeded(disk, req, was_probe);
		return;
	}
	if (req->op == SB_OP_FLUSH)
		sb_replay_cache_lost(disk, "a flush failed");
	if (req->session && req->session->closing) {
		/* Pause on drain: its client is gone, never hold or re-issue it. */
		if (req->held_since_ns)
			disk->hang_cleared++;
		sb_disk_finish(disk, req, err);
		sb_disk_schedule(disk);
		return;
	}
	sb_hold_failed(disk, req, err);
}

static void disk_backend_connection(void *opaque, bool up, int err)
{
	struct sb_disk *disk = opaque;

	if (up) {
		sb_info("disk %s: backend %s connected", disk->name, disk->backend->name);
		/* A new connection may reach a server that restarted and lost
		 * what it had not flushed. */
		sb_replay_cache_lost(disk, "the backend reconnected");
		sb_disk_emit(disk, SB_EVENT_BACKEND_UP, 0, 0);
		sb_hold_backend_up(disk);
	} else {
		sb_warn("disk %s: backend %s disconnected: %s", disk->name,
			disk->backend->name, err ? strerror(-err) : "closed");
		if (err)
			disk->stats.last_err = err;
		sb_disk_emit(disk, SB_EVENT_BACKEND_DOWN, 0, 0);
	}
}

static void disk_backend_cache_lost(void *opaque, const char *why)
{
	sb_replay_cache_lost(opaque, why);
}

void sb_disk_schedule(struct sb_disk *disk)
{
	sb_loop_defer(disk->loop, &disk->run);
}

static void disk_unblock(struct sb_disk *disk)
{
	struct sb_session *s;

	while ((s = TAILQ_FIRST(&disk->blocked)) &&
	       disk->waiting_count < disk->policy.max_held_requests &&
	       disk->waiting_bytes < disk->policy.max_held_bytes) {
		TAILQ_REMOVE(&disk->blocked, s, blocked_link);
		s->blocked = false;
		s->resume(s);
	}
}

static void disk_run(void *opaque)
{
	struct sb_disk *disk = opaque;

	sb_replay_run(disk);
	sb_hold_run(disk);
	sb_replay_run(disk); /* the hold pass may have made the disk flow again */
	disk_unblock(disk);
	sb_hold_arm(disk);
}

void sb_disk_info(const struct sb_disk *disk, struct sb_disk_info *info)
{
	uint64_t now = sb_now_ns();
	struct sb_session *s;

	memset(info, 0, sizeof(*info));
	info->state = disk->state;
	info->held = disk->waiting_count;
	info->held_bytes = disk->waiting_bytes;
	info->oldest_age_ns = sb_hold_oldest_age(disk, now);
	info->inflight = disk->inflight;
	if (disk->state != SB_DISK_HEALTHY && disk->hung_since_ns)
		info->hang_age_ns = now - disk->hung_since_ns;
	TAILQ_FOREACH(s, &disk->sessions, link)
		info->sessions++;
	if (disk->log) {
		info->log_on = true;
		info->unflushed = sb_unflushed_entries(disk->log);
		info->unflushed_bytes = sb_unflushed_bytes(disk->log);
		info->unflushed_limit = sb_unflushed_capacity(disk->log);
		info->replaying = disk->replay_pending;
	}
}

void sb_disk_emit(struct sb_disk *disk, enum sb_disk_event_kind kind,
		  uint64_t duration_ns, uint64_t requests)
{
	struct sb_disk_observer *o;
	struct sb_disk_event ev = {
		.kind = kind,
		.state = disk->state,
		.err = disk->stats.last_err,
		.held = disk->waiting_count,
		.held_bytes = disk->waiting_bytes,
		.oldest_age_ns = sb_hold_oldest_age(disk, sb_now_ns()),
		.retries = disk->hang_retries,
		.duration_ns = duration_ns,
		.requests = requests,
		.bytes = kind == SB_EVENT_REPLAYED ? disk->replay_bytes : 0,
	};

	TAILQ_FOREACH(o, &disk->observers, link)
		o->event(o->opaque, disk, &ev);
}

void sb_disk_add_observer(struct sb_disk *disk, struct sb_disk_observer *o)
{
	TAILQ_INSERT_TAIL(&disk->observers, o, link);
}

void sb_disk_remove_observer(struct sb_disk *disk, struct sb_disk_observer *o)
{
	TAILQ_REMOVE(&disk->observers, o, link);
}
