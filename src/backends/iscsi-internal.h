/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the iSCSI backend's private state, shared by its five files:
 *
 *   iscsi.c          the driver: open, submit, completions, request
 *                    deadlines, the loss of a session
 *   iscsi-session.c  the session: a fresh libiscsi context per attempt,
 *                    connect and login, the event loop glue, reconnects
 *                    with backoff, the bounded start-up
 *   iscsi-lun.c      the LUN checks of a bring-up: geometry, capabilities
 *   iscsi-sense.c    SCSI status and sense -> errno
 *   iscsi-lba.c      GET LBA STATUS descriptors -> block status extents
 *
 * One session at a time, each on its own libiscsi context.  libiscsi's own
 * reconnect is switched off (iscsi_set_noautoreconnect): it would re-queue
 * the commands of a dead session by itself, and we could no longer promise
 * that a request is re-issued or failed, never both (DESIGN.md invariant 4).
 *
 *            retry timer or kick
 *   DOWN ---------------------------> CONNECTING (connect, login, TEST UNIT
 *    ^  ^                                 |       READY, READ CAPACITY ...)
 *    |  | refused, login failed,          | the LUN answers, same geometry
 *    |  +---- LUN missing, timeout -------+
 *    |                                    v
 *    +--- socket error, cancelled task, - UP (requests go out)
 *         request timeout, LUN gone
 *
 * Every request at the LUN is on `inflight` (oldest first, so the head
 * expires first) with its task.  When a session is lost the list is taken
 * over whole, the context destroyed (libiscsi calls back the tasks it still
 * holds: those callbacks only free the task), and then, outside libiscsi,
 * each request completes once with the loss's errno.
 */
#ifndef SB_BACKENDS_ISCSI_INTERNAL_H
#define SB_BACKENDS_ISCSI_INTERNAL_H

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "backends/backend.h"
#include "base/error.h"
#include "base/loop.h"

#define ISCSIBE_BACKOFF_MIN_NS (50 * SB_NS_PER_MS) /* first delay between attempts ... */
#define ISCSIBE_BACKOFF_MAX_NS (1 * SB_NS_PER_SEC) /* ... doubling up to this (cheap) */
#define ISCSIBE_CONNECT_NS (30 * SB_NS_PER_SEC)    /* attempt bound with --backend-timeout 0 */
#define ISCSIBE_MAX_UAS 10                         /* unit attentions eaten at login */
#define ISCSIBE_MAX_REDIRECTS 4                    /* login redirects followed per attempt */
#define ISCSIBE_BLOCK_MAX (32u << 20)              /* largest read or write we accept */
#define ISCSIBE_ZERO_CHUNK (32u << 20)             /* WRITE SAME bytes per command, LUN sets none */
#define ISCSIBE_RANGE_MAX (1u << 30)               /* UNMAP or WRITE SAME bytes per command */
#define ISCSIBE_GLS_MAX 1024                       /* descriptors asked per GET LBA STATUS */

/* What the first session learned about the LUN; later sessions must agree. */
struct iscsibe_lun {
	uint32_t block_size;       /* logical block, bytes */
	uint64_t blocks;
	unsigned phys_exp;         /* logical blocks per physical block, log2 */
	bool lbpme;                /* logical block provisioning (thin) */
	bool lbprz;                /* unmapped blocks read as zeroes */
	bool vpd_limits;           /* Block Limits VPD page present */
	bool vpd_lbp;              /* Logical Block Provisioning VPD page present */
	uint32_t max_xfer;         /* blocks per READ/WRITE, 0 = no limit */
	uint32_t max_unmap;        /* blocks per UNMAP, 0 = no UNMAP */
	uint64_t max_ws;           /* blocks per WRITE SAME, 0 = no limit */
	bool lbpu;                 /* UNMAP supported */
	bool lbpws;                /* WRITE SAME(16) with UNMAP supported */
	bool write_protected;      /* MODE SENSE: WP */
	bool dpofua;               /* MODE SENSE: the FUA bit is honoured */
	bool ws16;                 /* WRITE SAME(16) supported */
	bool sync16;               /* SYNCHRONIZE CACHE(16) supported, else (10) */
	bool get_lba_status;       /* thin (LBPME) and GET LBA STATUS not known to be
				      missing: block status asks the LUN */
};

enum iscsibe_state {
	ISCSIBE_DOWN,
	ISCSIBE_CONNECTING,
	ISCSIBE_UP,
};

/* The bring-up of a session, one SCSI exchange after the other. */
enum iscsibe_step {
	STEP_CONNECT,      /* TCP */
	STEP_LOGIN,
	STEP_TUR,          /* TEST UNIT READY until the unit attentions are eaten */
	STEP_CAPACITY,     /* READ CAPACITY(16) */
	/* The first session only: capabilities are declared once. */
	STEP_VPD_PAGES,
	STEP_VPD_LIMITS,
	STEP_VPD_LBP,
	STEP_MODE_SENSE,
	STEP_OPCODE_WS16,
	STEP_OPCODE_SYNC16,
	STEP_OPCODE_GLS,   /* GET LBA STATUS, a thin LUN only */
	STEP_DONE,
};

struct iscsibe;

/* Per-request context, in req->backend_ctx (no allocation of ours per I/O;
 * libiscsi allocates its task and PDU). */
struct iscsibe_req {
	struct iscsibe *ib;           /* libiscsi's callback gets only this context */
	struct scsi_task *task;       /* the command at the LUN, or NULL */
	bool inflight;                /* on ib->inflight: its callback settles it */
	bool ua_resent;               /* a unit attention was answered by re-sending */
	bool syncing;                 /* trim, zero with FUA: the closing SYNCHRONIZE CACHE */
	uint64_t lba;                 /* this command's first block */
	uint32_t blocks;              /* ... and its count */
	uint64_t blocks_left;         /* trim, zero: blocks after this command */
	uint64_t deadline_ns;         /* the backend timeout ends here */
	struct scsi_iovec iov;        /* read, write: the request's own buffer */
	TAILQ_ENTRY(iscsibe_req) link;
};

TAILQ_HEAD(iscsibe_req_list, iscsibe_req);

struct iscsibe {
	struct sb_backend be;
	struct sb_loop *loop;
	char *url;                    /* as given, credentials included: each new
					 context parses it again */
	char initiator[256];          /* our IQN */
	char portal[128];             /* the target's address, resolved at open */
	uint32_t isid;                /* the same on every login: a new session
					 reinstates the old one, and the target
					 ends the old one's tasks first */
	int lun_nr;
	uint64_t timeout_ns;          /* --backend-timeout, 0 = none */
	bool read_only;
	struct iscsibe_lun lun;       /* geometry and capabilities, from the first session */
	unsigned char *zero_block;    /* one block of zeroes for WRITE SAME */
	bool running;                 /* open() is done: failures schedule reconnects */
	bool gls_missing;             /* the LUN refused GET LBA STATUS once: every
					 block status is all data from then on */
	struct iscsibe_req_list answered; /* block statuses answered without the
					     LUN, awaiting delivery */
	struct sb_defer deliver;      /* ... which completes them, after submit */

	/* The session. */
	enum iscsibe_state state;
	struct iscsi_context *ctx;    /* CONNECTING and UP */
	enum iscsibe_step step;       /* CONNECTING: the exchange under way */
	struct iscsibe_lun probe;     /* CONNECTING: what this session found */
	unsigned uas;                 /* CONNECTING: unit attentions eaten */
	bool ua_reset;                /* CONNECTING: one of them was a power on / reset */
	char ua_reset_why[160];       /* ... and what it said */
	unsigned redirects;           /* CONNECTING: login redirects followed */
	bool in_service;              /* inside iscsi_service(): no teardown here */
	int fail_err;                 /* a failure noted inside iscsi_service() */
	char fail_msg[256];
	struct sb_watch watch;        /* on the context's socket, re-armed before every wait */
	struct sb_hook prepare;
	struct sb_timer deadline;     /* CONNECTING: the attempt's bound;
					 UP: the oldest request's deadline */
	struct sb_timer retry;        /* DOWN: the next attempt */
	uint64_t backoff_ns;          /* delay before the next attempt */
	uint64_t down_since_ns;       /* start of the current outage, 0 while up */
	unsigned attempts;            /* failed attempts in the current outage */
	int last_err;                 /* -errno of the last failure */
	char last_msg[256];           /* ... and what it was */

	struct iscsibe_req_list inflight;

	/* For describe_state. */
	uint64_t reconnects;
	uint64_t timeouts;
	char state_text[384];
};

/* ---- SCSI status and sense (iscsi-sense.c) ---- */

/* The errno a command that ended with @status (libiscsi's, SCSI_STATUS_*)
 * and, for CHECK CONDITION, @sense completes with: 0 or -errno.  The table
 * is in docs/backend-iscsi.md.  -ENOTCONN means the session must go. */
int sb_iscsi_errno(int status, const struct scsi_sense *sense);
/* True for CHECK CONDITION with UNIT ATTENTION: re-sent once, transparently. */
bool sb_iscsi_is_unit_attention(int status, const struct scsi_sense *sense);
/* True for a UNIT ATTENTION with ASC 29h (POWER ON, RESET, OR BUS DEVICE
 * RESET OCCURRED, any ASCQ): the LUN's volatile write cache may be gone. */
bool sb_iscsi_ua_cache_lost(int status, const struct scsi_sense *sense);
/* True for CHECK CONDITION with ILLEGAL REQUEST, INVALID COMMAND OPERATION
 * CODE (20/00) or INVALID FIELD IN CDB (24/00): how a LUN refuses a command
 * or a service action it lacks (GET LBA STATUS is SERVICE ACTION IN(16)'s). */
bool sb_iscsi_is_unsupported(int status, const struct scsi_sense *sense);
/* Writes "CHECK CONDITION, MEDIUM_ERROR, ... (0x1100)" and the like into @buf. */
void sb_iscsi_describe(int status, const struct scsi_sense *sense, char *buf, size_t len);

/* ---- the session (iscsi-session.c) ---- */

/* Resolves the portal of the URL (blocking: open() only) into ib->portal,
 * so that a reconnect never waits for a name server.  Returns 0 or -1. */
int sb_iscsibe_resolve(struct iscsibe *ib, const char *portal, struct sb_error **errp);
/* Brings the first session up before the daemon serves, retrying a target that
 * refuses or is not ready yet, for at most the backend timeout (30 s with
 * none), running the loop itself.  A login or LUN failure ends it at once,
 * and so does a stopped loop (SIGTERM, SIGINT).  Returns 0 with the session
 * UP and ib->lun filled, or -1 with *errp naming the failure. */
int sb_iscsibe_connect_initial(struct iscsibe *ib, struct sb_error **errp);
/* Starts an attempt now unless one is under way or the session is up. */
void sb_iscsibe_attempt(struct iscsibe *ib);
/* Notes a failure seen in a libiscsi callback; it is acted upon once
 * iscsi_service() has returned (at once outside it). */
void sb_iscsibe_fail(struct iscsibe *ib, int err, const char *fmt, ...) SB_PRINTF(3, 4);
/* The session's connection failed (a socket error, or libiscsi cancelled
 * its commands): sb_iscsibe_fail() with -ENOTCONN and what the socket says. */
void sb_iscsibe_connection_failed(struct iscsibe *ib);
/* Unregisters and destroys the context (libiscsi calls back the tasks it
 * still holds, with CANCELLED) and goes DOWN.  @abortive resets the TCP
 * connection, so that a command still in our send queue (a write we are
 * about to fail) never reaches the target.  Outside libiscsi only. */
void sb_iscsibe_teardown(struct iscsibe *ib, bool abortive);
/* After a loss or a failed attempt: arms the retry timer with the backoff. */
void sb_iscsibe_schedule_retry(struct iscsibe *ib);
/* Releases the loop objects (close). */
void sb_iscsibe_session_free(struct iscsibe *ib);
/* The bring-up checked the LUN: the session is UP (and, after an outage,
 * the core hears of it). */
void sb_iscsibe_established(struct iscsibe *ib);

/* ---- the LUN checks (iscsi-lun.c) ---- */

/* Sends the bring-up's command for ib->step (from STEP_TUR on), skipping
 * those that do not apply; calls sb_iscsibe_established() at the end and
 * sb_iscsibe_fail() on a failure. */
void sb_iscsibe_lun_step(struct iscsibe *ib);

/* ---- block status (iscsi-lba.c) ---- */

/* Turns the descriptors of a GET LBA STATUS answer @gls (NULL: none) into
 * at most @max_extents extents of the byte range [@offset, @offset +
 * @length), for a LUN of @block_size bytes per block whose unmapped blocks
 * read as zeroes if @lbprz.  Mapped blocks are data; deallocated and
 * anchored ones a hole (and zero with @lbprz); unknown states data.  The
 * extents follow each other from @offset, clipped to the range, with
 * neighbours of the same kind merged; descriptors wholly before what is
 * left are skipped, and the extents stop at the first gap or empty
 * descriptor (the client asks again for the rest).
 * Returns how many were written: 0 if the answer says nothing about
 * @offset (the caller then answers all data). */
uint32_t sb_iscsi_lba_extents(const struct scsi_get_lba_status *gls, uint32_t block_size,
			      bool lbprz, uint64_t offset, uint32_t length,
			      struct sb_extent *extents, uint32_t max_extents);

/* ---- the data path (iscsi.c) ---- */

/* The session that was UP is gone: tears it down, tells the core, schedules
 * a reconnect, and completes every request that was in flight on it with
 * @err.  Outside libiscsi only. */
void sb_iscsibe_lost(struct iscsibe *ib, int err, const char *why);
/* The LUN reported a power on or reset (@why, for the log): tells the core
 * its cache may be lost (sb_backend_cache_lost), once per report.  Called
 * before any request completes after the report. */
void sb_iscsibe_cache_lost(struct iscsibe *ib, const char *why);
/* The deadline timer fired while UP: a request older than the backend
 * timeout declares the session dead. */
void sb_iscsibe_check_deadlines(struct iscsibe *ib);

#endif
