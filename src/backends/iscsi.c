/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the iSCSI backend: a LUN of an IP-SAN, through libiscsi's
 * asynchronous API in steadyblk's loop.
 *
 *   submit(req) --> READ(16) | WRITE(16) [FUA] | SYNCHRONIZE CACHE(16) |
 *                   UNMAP | WRITE SAME(16) | GET LBA STATUS, queued on the
 *                   session's context
 *   prepare hook --> libiscsi sends the batch (iscsi-session.c)
 *   socket readable --> iscsi_service() --> iscsibe_done():
 *        UNIT ATTENTION, the first  --> the same command again
 *        trim or zero, more to do    --> the next command (LUN limits)
 *        trim or zero with FUA       --> SYNCHRONIZE CACHE of the range
 *        GET LBA STATUS refused      --> all data, now and from then on
 *        cancelled, LUN gone         --> the session is lost (below)
 *        otherwise                   --> sb_backend_complete(errno of the status)
 *
 * A lost session (socket error, a request older than --backend-timeout, the
 * LUN gone) fails every request in flight on it with one errno, once, and
 * reconnects with backoff; the core's retry policy re-issues them on the new
 * session.  Requests that are not multiples of the LUN's logical block
 * never reach it: block_min is that block, and submit refuses the rest.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/iscsi-internal.h"
#include "base/compiler.h"
#include "base/log.h"
#include "base/parse.h"

static struct sb_request *req_of(struct iscsibe_req *r)
{
	return SB_CONTAINER_OF((unsigned char *)r, struct sb_request, backend_ctx);
}

/* Blocks one command of @r's request covers, from @left still to do. */
static uint32_t iscsibe_chunk(const struct iscsibe *ib, enum sb_op op, uint64_t left)
{
	uint32_t bs = ib->lun.block_size;
	uint64_t max = UINT32_MAX;

	/* A bounded command: one that takes longer than --backend-timeout
	 * would look like a dead session. */
	if (op == SB_OP_TRIM)
		max = SB_MIN((uint64_t)ib->lun.max_unmap, ISCSIBE_RANGE_MAX / bs);
	else if (op == SB_OP_ZERO)
		max = ib->lun.max_ws ? SB_MIN(ib->lun.max_ws, (uint64_t)ISCSIBE_RANGE_MAX / bs)
				     : ISCSIBE_ZERO_CHUNK / bs;
	return (uint32_t)SB_MIN(left, max);
}

static void iscsibe_done(struct iscsi_context *ctx, int status, void *data, void *opaque);

/* GET LBA STATUS's allocation length: the header and one descriptor per
 * extent the request has room for (the first descriptor starts at the block
 * asked for, so more would only be clipped away). */
static uint32_t iscsibe_gls_len(const struct sb_request *req)
{
	return 8 + 16 * SB_MIN(SB_MAX(req->max_extents, 1u), ISCSIBE_GLS_MAX);
}

/* The command of @r's current step, queued on the session's context; NULL
 * if libiscsi cannot (out of memory). */
static struct scsi_task *iscsibe_command(struct iscsibe *ib, struct iscsibe_req *r)
{
	struct sb_request *req = req_of(r);
	struct iscsi_context *ctx = ib->ctx;
	uint32_t bs = ib->lun.block_size;
	int lun = ib->lun_nr;

	if (r->syncing) {
		/* Zeroes or a trim with FUA: durable before we answer.  What
		 * the 10-byte CDB cannot name becomes the whole medium. */
		if (ib->lun.sync16)
			return iscsi_synchronizecache16_task(ctx, lun, r->lba, r->blocks, 0, 0,
							     iscsibe_done, r);
		if (r->lba <= INT32_MAX && r->blocks && r->blocks <= UINT16_MAX)
			return iscsi_synchronizecache10_task(ctx, lun, (int)r->lba, (int)r->blocks,
							     0, 0, iscsibe_done, r);
		return iscsi_synchronizecache10_task(ctx, lun, 0, 0, 0, 0, iscsibe_done, r);
	}
	switch (req->op) {
	case SB_OP_READ:
		return iscsi_read16_iov_task(ctx, lun, r->lba, r->blocks * bs, bs, 0, 0, 0, 0, 0,
					     iscsibe_done, r, &r->iov, 1);
	case SB_OP_WRITE:
		return iscsi_write16_iov_task(ctx, lun, r->lba, NULL, r->blocks * bs, bs, 0, 0,
					      !!(req->flags & SB_REQ_FUA), 0, 0, iscsibe_done, r,
					      &r->iov, 1);
	case SB_OP_FLUSH:
		/* Block 0, count 0: the whole medium. */
		if (ib->lun.sync16)
			return iscsi_synchronizecache16_task(ctx, lun, 0, 0, 0, 0, iscsibe_done, r);
		return iscsi_synchronizecache10_task(ctx, lun, 0, 0, 0, 0, iscsibe_done, r);
	case SB_OP_TRIM: {
		struct unmap_list range = { .lba = r->lba, .num = r->blocks };
		return iscsi_unmap_task(ctx, lun, 0, 0, &range, 1, iscsibe_done, r);
	}
	case SB_OP_BLOCK_STATUS:
		return iscsi_get_lba_status_task(ctx, lun, r->lba, iscsibe_gls_len(req),
						 iscsibe_done, r);
	case SB_OP_ZERO: {
		/* With LBPRZ an unmapped block reads as zeroes, so the target
		 * may deallocate unless the client wants the space kept. */
		int unmap = !(req->flags & SB_REQ_NO_HOLE) && ib->lun.lbpws && ib->lun.lbprz;
		return iscsi_writesame16_task(ctx, lun, r->lba, ib->zero_block, bs, r->blocks, 0,
					      unmap, 0, 0, iscsibe_done, r);
	}
	default:
		return NULL;
	}
}

/* Sends the command of @r's current step.  Returns 0 (it is in flight and
 * iscsibe_done() settles it) or -errno. */
static int iscsibe_send(struct iscsibe *ib, struct iscsibe_req *r)
{
	struct scsi_task *t;

	if (ib->state != ISCSIBE_UP || ib->fail_err)
		return -ENOTCONN; /* a dying session takes nothing more */
	t = iscsibe_command(ib, r);
	if (!t) {
		sb_debug("iscsi %s: cannot queue a command: %s", ib->be.name,
			 iscsi_get_error(ib->ctx));
		return -ENOMEM;
	}
	r->task = t;
	r->inflight = true;
	r->deadline_ns = ib->timeout_ns ? sb_now_ns() + ib->timeout_ns : 0;
	TAILQ_INSERT_TAIL(&ib->inflight, r, link);
	if (ib->timeout_ns && !ib->deadline.armed)
		sb_timer_arm(ib->loop, &ib->deadline, r->deadline_ns);
	return 0;
}

static void iscsibe_finish(struct iscsibe *ib, struct iscsibe_req *r, int err)
{
	TAILQ_REMOVE(&ib->inflight, r, link);
	r->inflight = false;
	sb_backend_complete(&ib->be, req_of(r), err);
}

/* Sends @r's next command from inside its callback; if that cannot be,
 * the request completes now with the reason. */
static void iscsibe_resend(struct iscsibe *ib, struct iscsibe_req *r)
{
	int err;

	TAILQ_REMOVE(&ib->inflight, r, link); /* back in at the tail, with a new deadline */
	r->inflight = false;
	err = iscsibe_send(ib, r);
	if (err)
		sb_backend_complete(&ib->be, req_of(r), err);
}

/* A GET LBA STATUS answered GOOD: its descriptors into the request's
 * extents; an answer that says nothing about the start is all data. */
static void iscsibe_gls_answer(struct iscsibe *ib, struct sb_request *req, struct scsi_task *task)
{
	const struct scsi_get_lba_status *gls = scsi_datain_unmarshall(task);

	req->nextents = sb_iscsi_lba_extents(gls, ib->lun.block_size, ib->lun.lbprz, req->offset,
					     req->length, req->extents, req->max_extents);
	if (!req->nextents) {
		sb_debug("iscsi %s: GET LBA STATUS at block %" PRIu64 " said nothing usable: "
			 "all data", ib->be.name, req->offset / ib->lun.block_size);
		sb_request_all_data(req);
	}
}

/* The LUN refused GET LBA STATUS (@why): all data, now and from then on. */
static void iscsibe_gls_refused(struct iscsibe *ib, struct sb_request *req, const char *why)
{
	if (!ib->gls_missing)
		sb_info("iscsi %s: GET LBA STATUS: %s; block status answers all data from now on",
			ib->be.name, why);
	ib->gls_missing = true;
	sb_request_all_data(req);
}

/* Delivers the block statuses answered without the LUN (submit may not
 * complete a request itself). */
static void iscsibe_deliver(void *opaque)
{
	struct iscsibe *ib = opaque;
	struct iscsibe_req *r;

	while ((r = TAILQ_FIRST(&ib->answered))) {
		TAILQ_REMOVE(&ib->answered, r, link);
		sb_backend_complete(&ib->be, req_of(r), 0);
	}
}

/* A trim or zero command succeeded: what is left of the request? */
static bool iscsibe_advance(struct iscsibe *ib, struct iscsibe_req *r)
{
	struct sb_request *req = req_of(r);
	uint32_t bs = ib->lun.block_size;

	if (r->syncing || (req->op != SB_OP_TRIM && req->op != SB_OP_ZERO))
		return false;
	r->ua_resent = false;
	if (r->blocks_left) {
		r->lba += r->blocks;
		r->blocks = iscsibe_chunk(ib, req->op, r->blocks_left);
		r->blocks_left -= r->blocks;
		return true;
	}
	if (req->flags & SB_REQ_FUA) {
		uint64_t total = req->length / bs;
		r->syncing = true;
		r->lba = req->offset / bs;
		r->blocks = total <= UINT32_MAX ? (uint32_t)total : 0; /* 0: to the end */
		return true;
	}
	return false;
}

static void iscsibe_done(struct iscsi_context *ctx, int status, void *data, void *opaque)
{
	struct scsi_task *task = data;
	struct iscsibe_req *r = opaque;
	struct iscsibe *ib = r->ib;
	struct sb_request *req = req_of(r);
	char why[160];
	int err;

	if (!r->inflight || r->task != task) {
		/* Disowned by a lost session, whose teardown completes the
		 * request: here the task is only freed. */
		if (r->task == task)
			r->task = NULL;
		scsi_free_scsi_task(task);
		return;
	}
	r->task = NULL;
	if (sb_iscsi_ua_cache_lost(status, &task->sense)) {
		/* Before this or any later request completes (invariant 2). */
		sb_iscsi_describe(status, &task->sense, why, sizeof(why));
		sb_iscsibe_cache_lost(ib, why);
	}
	if (sb_iscsi_is_unit_attention(status, &task->sense) && !r->ua_resent) {
		/* A state change of the LUN (a reset, a new session, a
		 * capacity change), not an answer to this command. */
		sb_iscsi_describe(status, &task->sense, why, sizeof(why));
		sb_info("iscsi %s: %s; sending the %s again", ib->be.name, why,
			sb_op_name(req->op));
		scsi_free_scsi_task(task);
		r->ua_resent = true;
		iscsibe_resend(ib, r);
		return;
	}
	err = sb_iscsi_errno(status, &task->sense);
	if (err)
		sb_iscsi_describe(status, &task->sense, why, sizeof(why));
	if (req->op == SB_OP_BLOCK_STATUS) {
		if (!err) {
			iscsibe_gls_answer(ib, req, task);
		} else if (sb_iscsi_is_unsupported(status, &task->sense)) {
			iscsibe_gls_refused(ib, req, why);
			err = 0;
		}
	}
	scsi_free_scsi_task(task);
	if (err == -ENOTCONN) {
		/* It stays in flight: the session's teardown completes it, with
		 * every other request that was on this session. */
		if (status == SCSI_STATUS_CANCELLED)
			sb_iscsibe_connection_failed(ib);
		else
			sb_iscsibe_fail(ib, -ENOTCONN, "the LUN is gone: %s", why);
		return;
	}
	if (!err && iscsibe_advance(ib, r)) {
		iscsibe_resend(ib, r);
		return;
	}
	if (err)
		sb_info("iscsi %s: %s of %u bytes at %" PRIu64 ": %s, %s", ib->be.name,
			sb_op_name(req->op), req->length, req->offset, why, sb_errno_name(err));
	iscsibe_finish(ib, r, err);
}

static int iscsibe_submit(struct sb_backend *be, struct sb_request *req)
{
	struct iscsibe *ib = SB_CONTAINER_OF(be, struct iscsibe, be);
	struct iscsibe_req *r = (struct iscsibe_req *)req->backend_ctx;
	uint32_t bs = ib->lun.block_size;
	uint64_t blocks;

	if (req->op != SB_OP_FLUSH &&
	    (req->length == 0 || req->offset > be->size || req->length > be->size - req->offset))
		return -EINVAL;
	if (req->op != SB_OP_FLUSH && req->op != SB_OP_BLOCK_STATUS &&
	    ((req->offset | req->length) & (bs - 1)))
		return -EINVAL; /* a partial block must never reach the LUN */
	switch (req->op) {
	case SB_OP_READ:
		if (req->length > be->block_max)
			return -EINVAL;
		break;
	case SB_OP_WRITE:
		if (req->length > be->block_max)
			return -EINVAL;
		/* fall through */
	case SB_OP_TRIM:
	case SB_OP_ZERO:
		if (be->caps & SB_CAP_READ_ONLY)
			return -EROFS;
		if ((req->op == SB_OP_TRIM && !(be->caps & SB_CAP_TRIM)) ||
		    (req->op == SB_OP_ZERO &&
		     (!(be->caps & SB_CAP_ZERO) || (req->flags & SB_REQ_FAST_ZERO))))
			return -EOPNOTSUPP;
		break;
	case SB_OP_FLUSH:
		break;
	case SB_OP_BLOCK_STATUS:
		/* Any range: the answer is about the blocks it touches, in
		 * bytes, clipped to it. */
		if (!(be->caps & SB_CAP_BLOCK_STATUS) || !req->max_extents)
			return -EOPNOTSUPP;
		if (ib->gls_missing) {
			r->ib = ib;
			sb_request_all_data(req);
			TAILQ_INSERT_TAIL(&ib->answered, r, link);
			sb_loop_defer(ib->loop, &ib->deliver);
			return 0;
		}
		break;
	default:
		return -EOPNOTSUPP;
	}
	r->ib = ib;
	r->task = NULL;
	r->inflight = false;
	r->ua_resent = false;
	r->syncing = false;
	r->lba = req->offset / bs;
	blocks = req->length / bs;
	r->blocks = 0;
	r->blocks_left = 0;
	if (req->op != SB_OP_FLUSH && req->op != SB_OP_BLOCK_STATUS) {
		r->blocks = iscsibe_chunk(ib, req->op, blocks);
		r->blocks_left = blocks - r->blocks;
	}
	r->iov.iov_base = req->buf;
	r->iov.iov_len = req->length;
	return iscsibe_send(ib, r);
}

void sb_iscsibe_lost(struct iscsibe *ib, int err, const char *why)
{
	struct iscsibe_req_list orphans = TAILQ_HEAD_INITIALIZER(orphans);
	struct iscsibe_req *r;
	uint64_t n = 0;

	/* Disown the requests before the context goes: destroying it calls
	 * back the tasks it still holds, and those callbacks must not
	 * complete anything. */
	TAILQ_CONCAT(&orphans, &ib->inflight, link);
	TAILQ_FOREACH(r, &orphans, link) {
		r->inflight = false;
		n++;
	}
	sb_iscsibe_teardown(ib, n > 0);
	ib->last_err = err;
	snprintf(ib->last_msg, sizeof(ib->last_msg), "%s", why);
	ib->down_since_ns = sb_now_ns();
	ib->attempts = 0;
	sb_warn("iscsi %s: session lost: %s; %" PRIu64 " requests in flight fail with %s, "
		"reconnecting", ib->be.name, why, n, sb_errno_name(err));
	sb_iscsibe_schedule_retry(ib);
	/* State first, completions last: the core may submit or kick from
	 * a completion, and must find the backend down. */
	sb_backend_set_connected(&ib->be, false, err);
	while ((r = TAILQ_FIRST(&orphans))) {
		TAILQ_REMOVE(&orphans, r, link);
		if (r->task) {
			/* libiscsi dropped it without a callback: it is ours. */
			scsi_free_scsi_task(r->task);
			r->task = NULL;
		}
		sb_backend_complete(&ib->be, req_of(r), err);
	}
}

void sb_iscsibe_cache_lost(struct iscsibe *ib, const char *why)
{
	sb_warn("iscsi %s: %s: the LUN was powered on or reset, and writes in its volatile "
		"cache may be lost; telling the core (cache lost)", ib->be.name, why);
	sb_backend_cache_lost(&ib->be, why);
}

void sb_iscsibe_check_deadlines(struct iscsibe *ib)
{
	struct iscsibe_req *r = TAILQ_FIRST(&ib->inflight);
	char why[160];

	if (!r)
		return;
	if (r->deadline_ns > sb_now_ns()) {
		sb_timer_arm(ib->loop, &ib->deadline, r->deadline_ns);
		return;
	}
	ib->timeouts++;
	snprintf(why, sizeof(why), "a %s got no answer within %" PRIu64 " ms",
		 sb_op_name(req_of(r)->op), ib->timeout_ns / SB_NS_PER_MS);
	sb_iscsibe_lost(ib, -ETIMEDOUT, why);
}

static void iscsibe_kick(struct sb_backend *be)
{
	sb_iscsibe_attempt(SB_CONTAINER_OF(be, struct iscsibe, be));
}

static const char *iscsibe_describe_state(struct sb_backend *be)
{
	struct iscsibe *ib = SB_CONTAINER_OF(be, struct iscsibe, be);
	static const char *const names[] = {
		[ISCSIBE_DOWN] = "down", [ISCSIBE_CONNECTING] = "connecting", [ISCSIBE_UP] = "up",
	};

	snprintf(ib->state_text, sizeof(ib->state_text),
		 "{\"session\": \"%s\", \"reconnects\": %" PRIu64 ", \"request-timeouts\": %" PRIu64
		 ", \"last-error\": \"%s\"}", names[ib->state], ib->reconnects, ib->timeouts,
		 ib->last_err ? sb_errno_name(ib->last_err) : "");
	return ib->state_text;
}

static void iscsibe_free(struct iscsibe *ib)
{
	free(ib->zero_block);
	free(ib->url);
	free(ib->be.name);
	free(ib);
}

static void iscsibe_close(struct sb_backend *be)
{
	struct iscsibe *ib = SB_CONTAINER_OF(be, struct iscsibe, be);

	sb_loop_defer_cancel(ib->loop, &ib->deliver);
	sb_iscsibe_session_free(ib);
	iscsibe_free(ib);
}

static const struct sb_backend_ops iscsibe_ops = {
	.name = "iscsi",
	.submit = iscsibe_submit,
	.close = iscsibe_close,
	.kick = iscsibe_kick,
	.describe_state = iscsibe_describe_state,
};

/* Reads our own query parameter, initiator_name, and refuses what libiscsi
 * would silently ignore (a typo) or trip over (a key without a value). */
static int iscsibe_parse_query(struct iscsibe *ib, struct sb_error **errp)
{
	const char *q = strchr(ib->url, '?');
	char host[128] = "initiator";
	SB_AUTOFREE char *copy = NULL;
	char *save = NULL;

	gethostname(host, sizeof(host) - 1);
	snprintf(ib->initiator, sizeof(ib->initiator), "iqn.2026-01.org.steadyblk:%s", host);
	if (!q)
		return 0;
	if (!(copy = strdup(q + 1)))
		return sb_error_set(errp, "out of memory");
	for (char *key = strtok_r(copy, "&", &save); key; key = strtok_r(NULL, "&", &save)) {
		char *val = strchr(key, '=');
		if (!val || !val[1])
			return sb_error_set(errp, "iSCSI URL: '%s' needs a value", key);
		*val++ = '\0';
		if (!strcmp(key, "initiator_name")) {
			if (strlen(val) >= sizeof(ib->initiator))
				return sb_error_set(errp, "iSCSI URL: initiator_name is too long");
			snprintf(ib->initiator, sizeof(ib->initiator), "%s", val);
		} else if (strcmp(key, "header_digest") && strcmp(key, "target_user") &&
			   strcmp(key, "target_password")) {
			return sb_error_set(errp, "iSCSI URL: unknown parameter '%s' (known: "
					    "header_digest, target_user, target_password, "
					    "initiator_name)", key);
		}
	}
	return 0;
}

/* The geometry and capabilities the exports advertise, from the first session. */
static void iscsibe_declare(struct iscsibe *ib)
{
	const struct iscsibe_lun *l = &ib->lun;
	struct sb_backend *be = &ib->be;
	uint32_t bs = l->block_size, max = ISCSIBE_BLOCK_MAX, pref;

	be->size = l->blocks * bs;
	if (l->max_xfer && (uint64_t)l->max_xfer * bs < max)
		max = l->max_xfer * bs;
	max = SB_MAX(max / bs * bs, bs);
	pref = bs << SB_MIN(l->phys_exp, 8u); /* the physical block */
	while (pref > max)
		pref >>= 1;
	be->block_min = bs;
	be->block_pref = SB_MAX(pref, bs);
	be->block_max = max;
	be->caps = SB_CAP_FLUSH;
	if (l->dpofua)
		be->caps |= SB_CAP_FUA;
	if (l->lbpme && l->lbpu && l->max_unmap)
		be->caps |= SB_CAP_TRIM;
	if (l->ws16)
		be->caps |= SB_CAP_ZERO;
	if (ib->read_only || l->write_protected)
		be->caps |= SB_CAP_READ_ONLY;
	if (l->lbpme && l->get_lba_status)
		be->caps |= SB_CAP_BLOCK_STATUS;
	sb_debug("iscsi %s: lbpme %d lbprz %d lbpu %d lbpws %d, max transfer %u, unmap %u, "
		 "write same %" PRIu64 " blocks, ws16 %d sync16 %d gls %d, wp %d dpofua %d",
		 be->name, l->lbpme, l->lbprz, l->lbpu, l->lbpws, l->max_xfer, l->max_unmap,
		 l->max_ws, l->ws16, l->sync16, l->get_lba_status, l->write_protected, l->dpofua);
}

static bool iscsibe_match(const char *spec)
{
	return strncmp(spec, "iscsi://", 8) == 0;
}

static int iscsibe_open(struct sb_loop *loop, const char *spec,
			const struct sb_backend_config *cfg, struct sb_backend **out,
			struct sb_error **errp)
{
	struct iscsibe *ib = calloc(1, sizeof(*ib));
	struct iscsi_context *scratch = NULL;
	struct iscsi_url *url = NULL;

	if (!ib || !(ib->url = strdup(spec))) {
		free(ib);
		return sb_error_set(errp, "out of memory");
	}
	ib->loop = loop;
	ib->timeout_ns = cfg->timeout_ns;
	ib->read_only = cfg->read_only;
	ib->isid = (uint32_t)(sb_now_ns() ^ (uint64_t)getpid()) & 0xffffff;
	ib->be.ops = &iscsibe_ops;
	ib->be.ctx_size = sizeof(struct iscsibe_req);
	TAILQ_INIT(&ib->inflight);
	TAILQ_INIT(&ib->answered);
	sb_defer_init(&ib->deliver, iscsibe_deliver, ib);
	if (iscsibe_parse_query(ib, errp) < 0)
		goto fail;
	scratch = iscsi_create_context(ib->initiator);
	if (scratch)
		url = iscsi_parse_full_url(scratch, spec);
	if (!url) {
		/* libiscsi's message quotes the URL, password and all. */
		sb_error_set(errp, "not an iSCSI URL of the form %s", ISCSI_URL_SYNTAX);
		goto fail;
	}
	ib->lun_nr = url->lun;
	if (asprintf(&ib->be.name, "iscsi://%s/%s/%d", url->portal, url->target, url->lun) < 0) {
		ib->be.name = NULL;
		sb_error_set(errp, "out of memory");
		goto fail;
	}
	if (sb_iscsibe_resolve(ib, url->portal, errp) < 0)
		goto fail;
	iscsi_destroy_url(url);
	url = NULL;
	iscsi_destroy_context(scratch);
	scratch = NULL;

	if (sb_iscsibe_connect_initial(ib, errp) < 0)
		goto fail;
	iscsibe_declare(ib);
	if ((ib->be.caps & SB_CAP_ZERO) && !(ib->zero_block = calloc(1, ib->lun.block_size))) {
		sb_iscsibe_session_free(ib);
		sb_error_set(errp, "out of memory");
		goto fail;
	}
	ib->running = true;
	ib->be.connected = true;
	sb_info("iscsi %s: %" PRIu64 " bytes, blocks of %u (physical %u, at most %u per I/O)"
		"%s%s%s%s%s", ib->be.name, ib->be.size, ib->be.block_min, ib->be.block_pref,
		ib->be.block_max, ib->be.caps & SB_CAP_FUA ? ", fua" : "",
		ib->be.caps & SB_CAP_TRIM ? ", unmap" : "",
		ib->be.caps & SB_CAP_ZERO ? ", write same" : "",
		ib->be.caps & SB_CAP_BLOCK_STATUS ? ", get lba status" : "",
		ib->be.caps & SB_CAP_READ_ONLY ? ", read-only" : "");
	*out = &ib->be;
	return 0;

fail:
	if (url)
		iscsi_destroy_url(url);
	if (scratch)
		iscsi_destroy_context(scratch);
	iscsibe_free(ib);
	return -1;
}

const struct sb_backend_driver sb_iscsi_driver = {
	.name = "iscsi",
	.match = iscsibe_match,
	.open = iscsibe_open,
};
