/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the disk's private state, shared by disk.c (life cycle, the
 * fast path, sessions, management) and hold.c (what happens when a request
 * fails: hold, probe, release, deadlines). */
#ifndef SB_DISK_INTERNAL_H
#define SB_DISK_INTERNAL_H

#include "core/disk.h"

/* Released requests in flight at once while recovering: enough to refill a
 * queue quickly, few enough that a backend just back is not stormed. */
#define SB_RELEASE_DEPTH 32

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
	struct sb_request_queue released;      /* re-issued, in flight */
	uint32_t releasing;
	uint32_t inflight;                     /* every request at the backend */
	struct sb_request *probe;              /* the probe in flight, or NULL */

	unsigned probe_attempt;                /* backoff step */
	uint64_t next_probe_ns;
	uint64_t rng;                          /* jitter */
	uint64_t hung_since_ns;
	uint64_t hang_retries;                 /* retries in the current hang */
	uint64_t hang_completed;               /* held requests completed in it */
	uint64_t hang_cleared;                 /* held requests dropped (client gone)
						  or failed by the policy in it */

	uint64_t report_log_ns;                /* last "reported to the client" line */
	uint64_t report_log_suppressed;        /* reports not logged since */

	struct sb_timer timer;                 /* next probe or deadline */
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

/* hold.c */
void sb_hold_failed(struct sb_disk *disk, struct sb_request *req, int err);
void sb_hold_enqueue(struct sb_disk *disk, struct sb_request *req);
void sb_hold_completed(struct sb_disk *disk, struct sb_request *req, bool was_probe);
void sb_hold_run(struct sb_disk *disk);
void sb_hold_timer(void *opaque);
void sb_hold_arm(struct sb_disk *disk);
void sb_hold_backend_up(struct sb_disk *disk);
uint64_t sb_hold_oldest_age(const struct sb_disk *disk, uint64_t now);

#endif
