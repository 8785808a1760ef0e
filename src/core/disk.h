/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: a disk: one backend, one error policy, the sessions of its
 * exports, and the hold/retry state machine between them.
 *
 *              error, verdict retry                error, verdict stop
 *   HEALTHY ---------------------------> HUNG ----------------------------> STOPPED
 *      ^                                 |  ^                               |
 *      |  queue drained                  |  | a released request fails      | cont
 *      |                  probe succeeds v  |                               v
 *      +------------------------------ RECOVERING <-------------------------+
 *      ^                                 |
 *      +--- every held request timed out (retry-then report) or fail-held
 *
 * HUNG: requests wait on one queue in arrival order; one probe (the oldest)
 * at a time: soon while the failures look flaky, else per tick with
 * exponential backoff and jitter; a backend reconnect probes at once.  RECOVERING: the queue is released in order with bounded
 * concurrency; a flush waits for everything before it, and a request never
 * overtakes an overlapping one.  New requests join the queue's tail in every
 * state but HEALTHY, so nothing overtakes a held request.
 */
#ifndef SB_DISK_H
#define SB_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "backends/backend.h"
#include "base/error.h"
#include "base/loop.h"
#include "core/policy.h"
#include "core/request.h"

enum sb_disk_state {
	SB_DISK_HEALTHY,
	SB_DISK_HUNG,
	SB_DISK_RECOVERING,
	SB_DISK_STOPPED,
	SB_DISK_DEGRADED,
};

const char *sb_disk_state_name(enum sb_disk_state s);

struct sb_disk;

/* A client's attachment to a disk (one NBD connection).  The frontend embeds
 * it and keeps it alive until every request it submitted has completed. */
struct sb_session {
	struct sb_disk *disk;
	const char *name;                 /* for logs, e.g. "nbd client 3" */
	bool closing;                     /* detached: its requests are fenced */
	bool blocked;                     /* waiting for the disk to accept again */
	/* Called when the memory bound is lifted after sb_disk_accepting()
	 * returned false for this session.  May submit at once. */
	void (*resume)(struct sb_session *s);
	TAILQ_ENTRY(sb_session) link;
	TAILQ_ENTRY(sb_session) blocked_link;
};

enum sb_disk_event_kind {
	SB_EVENT_HUNG,           /* first held request */
	SB_EVENT_RECOVERED,      /* every held request completed */
	SB_EVENT_TIMED_OUT,      /* held requests passed retry-timeout (retry-then report) */
	SB_EVENT_STOPPED,        /* action stop, enospc or retry-then stop */
	SB_EVENT_RESUMED,        /* cont, or a policy change that ends the stop */
	SB_EVENT_FAILED_HELD,    /* fail-held: the operator gave up */
	SB_EVENT_BACKEND_DOWN,   /* backend lost its connection */
	SB_EVENT_BACKEND_UP,     /* backend (re)connected */
	SB_EVENT_CLEARED,        /* nothing held any more, without a recovery: the
				    last held requests' clients went away, or the
				    policy failed them (an error it does not retry) */
	SB_EVENT_DEGRADED,       /* a flaky path: the backend answers, some requests
				    fail; those are held and retried one by one
				    while the rest flow */
	SB_EVENT_REPLAYED,       /* the backend may have lost its volatile cache:
				    the writes acknowledged since its last flush
				    were written again (requests, bytes) */
	SB_EVENT__COUNT
};

struct sb_disk_event {
	enum sb_disk_event_kind kind;
	enum sb_disk_state state;    /* the state after the change */
	int err;                     /* last backend error, -errno (0 if none) */
	uint64_t held;               /* requests waiting now */
	uint64_t held_bytes;
	uint64_t oldest_age_ns;      /* age of the oldest waiting request */
	uint64_t retries;            /* retries of the current hang */
	uint64_t duration_ns;        /* RECOVERED, TIMED_OUT, FAILED_HELD, CLEARED:
					how long it hung */
	uint64_t requests;           /* RECOVERED: held requests that completed;
					TIMED_OUT, FAILED_HELD: requests failed;
					CLEARED: requests dropped or failed;
					REPLAYED: writes, trims and zeroes written again */
	uint64_t bytes;              /* REPLAYED: their bytes */
};

struct sb_disk_observer {
	void (*event)(void *opaque, struct sb_disk *disk, const struct sb_disk_event *ev);
	/* Optional - may be NULL.  Every backend error, with the verdict it got
	 * (for QEMU's BLOCK_IO_ERROR). */
	void (*io_error)(void *opaque, struct sb_disk *disk, enum sb_op op, int err,
			 enum sb_verdict verdict);
	void *opaque;
	TAILQ_ENTRY(sb_disk_observer) link;
};

#define SB_ERRNO_STATS 134 /* errnos counted one by one; larger ones in [0] */

struct sb_disk_stats {
	uint64_t requests[SB_OP_COUNT];
	uint64_t bytes[SB_OP_COUNT];
	uint64_t errors;                   /* backend errors seen */
	uint64_t errors_by_errno[SB_ERRNO_STATS];
	uint64_t retries;                  /* re-issues of held requests */
	uint64_t hangs;                    /* HEALTHY -> HUNG or STOPPED */
	uint64_t hang_total_ns;            /* time spent hung, finished hangs */
	uint64_t timeouts;                 /* requests failed by retry-timeout */
	uint64_t replays;                  /* times the log was written again */
	uint64_t replayed_writes;          /* entries written again */
	uint64_t replayed_bytes;
	uint64_t own_flushes;              /* flushes the disk sent to empty its log */
	uint64_t parked;                   /* writes acknowledged only after a flush
					      because the log was full */
	int last_err;
};

/* A snapshot for query-disks and metrics. */
struct sb_disk_info {
	enum sb_disk_state state;
	uint64_t held;
	uint64_t held_bytes;
	uint64_t oldest_age_ns;
	uint64_t inflight;
	uint64_t hang_age_ns;      /* how long the current hang lasts, 0 if healthy */
	uint64_t sessions;
	bool log_on;               /* the unflushed-write log is kept */
	uint64_t unflushed;        /* its entries ... */
	uint64_t unflushed_bytes;  /* ... their payload */
	uint64_t unflushed_limit;  /* its capacity */
	bool replaying;            /* the log is being written again */
};

/* Creates a disk named @name over @backend (the disk takes ownership of it).
 * Returns the disk or NULL with *errp set. */
struct sb_disk *sb_disk_new(struct sb_loop *loop, const char *name,
			    struct sb_backend *backend, const struct sb_policy *policy,
			    struct sb_error **errp);
/* Keeps the writes acknowledged since the backend's last flush, up to
 * @bytes, to write them again if the backend loses its cache (invariant 2);
 * 0 turns it off.  Only for a backend that can flush (SB_CAP_FLUSH, a
 * volatile cache), writable; a no-op otherwise.  Before any request.
 * Returns 0 or -1 with *errp. */
int sb_disk_set_unflushed_limit(struct sb_disk *disk, uint64_t bytes, struct sb_error **errp);
/* Frees the disk and its backend; every session must be detached and
 * nothing in flight. */
void sb_disk_free(struct sb_disk *disk);

const char *sb_disk_name(const struct sb_disk *disk);
struct sb_backend *sb_disk_backend(struct sb_disk *disk);
/* Bytes to allocate per request (struct sb_request plus backend context). */
size_t sb_disk_request_size(const struct sb_disk *disk);

void sb_disk_attach(struct sb_disk *disk, struct sb_session *s);
/* Detaches @s: its waiting requests complete at once with -ECANCELED and are
 * never re-issued; its requests in flight complete later as usual.  @how
 * says, for the log, how the session ended ("disconnected", "was reset"). */
void sb_disk_detach(struct sb_session *s, const char *how);

/* Submits @req (fields above "Owned by the core" filled in).  Never fails:
 * req->done is called exactly once, possibly before this returns. */
void sb_disk_submit(struct sb_disk *disk, struct sb_request *req);

/* True if @s may read another request.  If false, the memory bound is
 * reached: @s is remembered and its resume() called once it is lifted. */
bool sb_disk_accepting(struct sb_disk *disk, struct sb_session *s);

/* ---- management ---- */
const struct sb_policy *sb_disk_policy(const struct sb_disk *disk);
/* Replaces the policy; it applies to waiting requests at once (a shorter
 * retry-timeout fails the over-age ones now).  Returns 0 or -1 with *errp. */
int sb_disk_set_policy(struct sb_disk *disk, const struct sb_policy *p, struct sb_error **errp);
/* Resumes a stopped disk: re-issues its requests in order. */
int sb_disk_cont(struct sb_disk *disk, struct sb_error **errp);
/* Completes every waiting request with its error.  Returns how many. */
uint64_t sb_disk_fail_held(struct sb_disk *disk);
/* Probes at once, skipping the backoff. */
int sb_disk_retry_now(struct sb_disk *disk, struct sb_error **errp);

void sb_disk_add_observer(struct sb_disk *disk, struct sb_disk_observer *o);
void sb_disk_remove_observer(struct sb_disk *disk, struct sb_disk_observer *o);
const struct sb_disk_stats *sb_disk_stats(const struct sb_disk *disk);
void sb_disk_info(const struct sb_disk *disk, struct sb_disk_info *info);

#endif
