/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the disk's private state, shared by disk.c (life cycle, the
 * fast path, admission, sessions, management), hold.c (what happens when a
 * request fails: hold, probe, release, deadlines) and replay.c (the
 * unflushed-write log: record, park, the disk's own flush, replay). */
#ifndef SB_DISK_INTERNAL_H
#define SB_DISK_INTERNAL_H

#include "core/disk.h"
#include "core/unflushed.h"

/* Released requests in flight at once while recovering: enough to refill a
 * queue quickly, few enough that a backend just back is not stormed.  The
 * same bound holds the replay's writes in flight. */
#define SB_RELEASE_DEPTH 32

/* Failures in a row, with no success between them, that mean the backend is
 * down rather than flaky: then everything queues behind one probe per tick.
 * At a 33% random error rate eight in a row come once in ~7000 requests; in
 * a real outage a queue depth of eight gets there at once. */
#define SB_OUTAGE_STREAK 8

/* Waiting requests the release pass looks at: the rest wait for the next
 * pass, so a long queue does not make every completion quadratic. */
#define SB_RELEASE_SCAN 128

struct sb_disk {
	char *name;
	struct sb_loop *loop;
	struct sb_backend *backend;
	struct sb_policy policy;
	enum sb_disk_state state;

	uint64_t seq;                          /* last arrival number handed out */
	struct sb_request_queue waiting;       /* held + queued, by seq */
	uint64_t waiting_count;
	uint64_t waiting_bytes;
	struct sb_request_queue inflight_list; /* every request at the backend */
	uint32_t inflight;
	/* In flight and fencing newer overlapping requests: released held
	 * requests, the probe, requests of sessions that closed, replays. */
	struct sb_request_queue fencing;
	uint32_t nfencing;
	uint32_t releasing;                    /* the released ones among them */
	struct sb_request *probe;              /* the probe in flight, or NULL */

	unsigned probe_attempt;                /* backoff step */
	uint64_t next_probe_ns;
	uint64_t rng;                          /* jitter */
	uint32_t fail_streak;                  /* failures since the last success */
	uint64_t last_fail_ns;
	uint64_t hung_since_ns;
	uint64_t hang_retries;                 /* retries in the current hang */
	uint64_t hang_completed;               /* held requests completed in it */
	uint64_t hang_cleared;                 /* held requests dropped (client gone)
						  or failed by the policy in it */

	uint64_t report_log_ns;                /* last "reported to the client" line */
	uint64_t report_log_suppressed;        /* reports not logged since */

	/* The unflushed-write log (replay.c); NULL when off. */
	struct sb_unflushed *log;
	uint32_t cache_epoch;                  /* bumped by every possible cache loss */
	struct sb_request_queue parked;        /* done, waiting for a covering flush */
	uint64_t parked_bytes;
	uint64_t park_seq;                     /* numbers parked requests (log_mark) */
	struct sb_request *own_flush;          /* the disk's flush request */
	bool own_flush_busy;
	uint64_t own_flush_park_mark;          /* it covers parked ones below this */
	uint64_t own_flush_retry_ns;           /* after a failure: not before */
	unsigned own_flush_attempt;
	int flush_err;                         /* a replay lost writes: the next
						  client flush fails with this */
	bool replay_pending;                   /* the log must be written again first */
	bool replay_running;
	bool replay_failed;                    /* a replay write failed: stop issuing */
	bool replay_progressed;                /* this pass wrote an entry */
	unsigned char *replay_mem;             /* SB_RELEASE_DEPTH requests */
	size_t replay_req_size;
	struct sb_request_queue replay_free;
	struct sb_request_queue replay_retry;  /* failed on a flaky path: each
						  goes again at its retry_at_ns */
	struct sb_unflushed_entry *replay_next;/* the next entry to write */
	uint32_t replay_inflight;
	uint64_t replay_writes, replay_bytes;  /* of the current replay */
	uint64_t replay_resume_lsn;            /* the next pass starts at this entry:
						  0 after a cache loss, else the oldest
						  that failed */

	struct sb_timer timer;                 /* next probe, retry or deadline */
	struct sb_defer run;                   /* release / unblock after the batch */

	TAILQ_HEAD(, sb_session) sessions;
	TAILQ_HEAD(, sb_session) blocked;
	TAILQ_HEAD(, sb_disk_observer) observers;
	struct sb_disk_stats stats;
};

/* disk.c */
void sb_disk_issue(struct sb_disk *disk, struct sb_request *req);
void sb_disk_finish(struct sb_disk *disk, struct sb_request *req, int err);
void sb_disk_emit(struct sb_disk *disk, enum sb_disk_event_kind kind,
		  uint64_t duration_ns, uint64_t requests);
void sb_disk_schedule(struct sb_disk *disk);
void sb_disk_fence(struct sb_disk *disk, struct sb_request *req);
/* May new requests go to the backend now (those that overlap nothing)? */
bool sb_disk_flowing(const struct sb_disk *disk);
/* Does @req overlap a request in flight that fences? */
bool sb_disk_overlaps_fencing(const struct sb_disk *disk, const struct sb_request *req);
bool sb_requests_overlap(const struct sb_request *a, const struct sb_request *b);

/* hold.c */
void sb_hold_failed(struct sb_disk *disk, struct sb_request *req, int err);
void sb_hold_enqueue(struct sb_disk *disk, struct sb_request *req);
/* Puts @req back on the queue, in arrival order, without a failure. */
void sb_hold_requeue(struct sb_disk *disk, struct sb_request *req);
void sb_hold_completed(struct sb_disk *disk, struct sb_request *req, bool was_probe);
void sb_hold_run(struct sb_disk *disk);
void sb_hold_timer(void *opaque);
void sb_hold_arm(struct sb_disk *disk);
void sb_hold_backend_up(struct sb_disk *disk);
uint64_t sb_hold_oldest_age(const struct sb_disk *disk, uint64_t now);
/* When the next probe of a hung disk may go (hold.c's rule of down or flaky). */
void sb_hold_next_probe(struct sb_disk *disk, uint64_t now);
/* A replay write or the disk's own flush failed with @err: counted like
 * any backend error. */
void sb_hold_own_error(struct sb_disk *disk, int err);
/* When the disk's own flush goes again after @attempt failures: soon on a
 * flaky path (a client's writes may be parked behind it), a probe's
 * backoff on a dead one. */
uint64_t sb_hold_own_flush_delay(struct sb_disk *disk, unsigned attempt);
/* Does the backend, having taken some of this replay pass, look only
 * flaky (then the failed write is retried on its own and the disk is
 * degraded), or down? */
bool sb_hold_replay_flaky(struct sb_disk *disk);
/* A replay pass failed: hold the disk as for a failed request. */
void sb_hold_replay_failed(struct sb_disk *disk, enum sb_verdict v);
/* A replay pass failed after writing some of the log: the next pass soon. */
void sb_hold_replay_progressed(struct sb_disk *disk);
/* A replay that was the disk's probe succeeded. */
void sb_hold_replay_done(struct sb_disk *disk);

/* replay.c */
int sb_replay_init(struct sb_disk *disk, struct sb_error **errp);
void sb_replay_free(struct sb_disk *disk);
/* A write, trim or zero succeeded at the backend.  Returns true if it may
 * be acknowledged now; false if it was parked until a flush covers it. */
bool sb_replay_record(struct sb_disk *disk, struct sb_request *req);
/* A client flush issued at @req->log_mark succeeded: returns the error it
 * must carry (0, or flush_err after a replay that lost writes). */
int sb_replay_flushed(struct sb_disk *disk, struct sb_request *req);
/* The backend may have lost its volatile cache. */
void sb_replay_cache_lost(struct sb_disk *disk, const char *why);
/* Nothing but the replay may reach the backend now. */
static inline bool sb_replay_blocking(const struct sb_disk *disk)
{
	return disk->replay_pending;
}
/* Starts or continues the replay if it can run; the disk's own flush if
 * the log needs one.  Called from the disk's run pass. */
void sb_replay_run(struct sb_disk *disk);
/* An internal request (replay, own flush) completed. */
void sb_replay_complete(struct sb_disk *disk, struct sb_request *req, int err);
/* The next time sb_replay_run has work (a retry of the disk's own flush),
 * or UINT64_MAX. */
uint64_t sb_replay_deadline(const struct sb_disk *disk);
/* A session went away: its parked requests are answered now (dropped). */
void sb_replay_detach(struct sb_disk *disk, struct sb_session *s);

#endif
