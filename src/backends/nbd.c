/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the NBD backend: a remote NBD server through libnbd's
 * asynchronous API on steadyblk's loop, surviving the loss of its connection.
 *
 *   submit(req) --> nbd_aio_pread/pwrite/... (libnbd writes it out at once
 *                   when it can) and the request joins `inflight`
 *   prepare hook --> re-arm the socket's watch for nbd_aio_get_direction()
 *   socket ready --> nbd_aio_notify_read/write --> completion callbacks move
 *                   requests to `done` --> a deferred call hands them to the
 *                   core, outside libnbd and its handle lock
 *
 * When the connection goes (the server died or closed it, it answered
 * ESHUTDOWN, TCP gave up on it, or, with --backend-timeout-action reconnect,
 * a request outlived --backend-timeout), every request still in flight on it
 * completes once with an error (ENOTCONN, ECONNRESET, ESHUTDOWN, ETIMEDOUT)
 * and is never re-sent by us: the core's error policy holds it and
 * re-issues it on the next connection (invariant 5).  While disconnected,
 * submit fails at once with -ENOTCONN.
 *
 * A request that merely outlives --backend-timeout on a live connection is
 * waited for by default (logged and counted as slow): NBD cannot fence it,
 * so abandoning the connection would leave it in doubt at a server that is
 * only slow, and may still execute it after our retry.  A dead peer or a
 * silent cut is TCP's to find: TCP_USER_TIMEOUT and keepalive, derived from
 * the same timeout (nbd-connect.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/nbd-internal.h"
#include "base/compiler.h"
#include "base/log.h"
#include "base/parse.h"

static struct sb_request *ctx_request(struct nbdbe_req *r)
{
	return SB_CONTAINER_OF((unsigned char *)r, struct sb_request, backend_ctx);
}

/* @r is settled with @err (0 or -errno): onto `done`, handed to the core
 * from the deferred call. */
static void nbdbe_settle(struct nbdbe *nb, struct nbdbe_req *r, int err)
{
	r->state = NBDBE_REQ_DONE;
	r->err = err;
	TAILQ_INSERT_TAIL(&nb->done, r, link);
	sb_loop_defer(nb->loop, &nb->deliver);
}

/* libnbd's completion callback.  It runs inside a libnbd call, with the
 * handle locked (sometimes inside the nbd_aio_* call that submitted it):
 * bookkeeping only, no nbd_* call and no call into the core, which could
 * submit again. */
static int nbdbe_req_done(void *opaque, int *error)
{
	struct nbdbe_req *r = opaque;
	struct nbdbe *nb = r->nb;

	/* A request we already failed is settled: exactly once, whatever
	 * libnbd does with the commands of a handle we closed. */
	if (r->state != NBDBE_REQ_INFLIGHT)
		return 1;
	TAILQ_REMOVE(&nb->inflight, r, link);
	if (*error == 0) {
		struct sb_request *req = ctx_request(r);
		nb->backoff_ns = 0; /* the connection works: a loss reconnects at once */
		if (SB_UNLIKELY(req->op == SB_OP_BLOCK_STATUS && !req->nextents))
			sb_request_all_data(req); /* the server said nothing we use */
	} else if (*error == ESHUTDOWN) {
		nb->going_away = true; /* handled once libnbd returns */
	}
	nbdbe_settle(nb, r, -*error);
	return 1; /* retire the command: we never call nbd_aio_command_completed */
}

/* libnbd's extent callback for a block status (same rules as above): the
 * server's base:allocation descriptors into the request's extents, clipped
 * to the range asked for; empty ones and flags we do not know are dropped,
 * as is any other context. */
static int nbdbe_extents(void *opaque, const char *context, uint64_t offset,
			 uint32_t *entries, size_t nentries, int *error)
{
	struct nbdbe_req *r = opaque;
	struct sb_request *req = ctx_request(r);
	uint64_t covered = 0;

	(void)offset;
	(void)error;
	if (r->state != NBDBE_REQ_INFLIGHT || strcmp(context, LIBNBD_CONTEXT_BASE_ALLOCATION))
		return 0;
	req->nextents = 0;
	for (size_t i = 0; i + 1 < nentries && req->nextents < req->max_extents &&
			   covered < req->length; i += 2) {
		uint32_t len = (uint32_t)SB_MIN((uint64_t)entries[i], req->length - covered);

		if (!len)
			continue;
		req->extents[req->nextents++] = (struct sb_extent){
			.length = len,
			.flags = entries[i + 1] & (LIBNBD_STATE_HOLE | LIBNBD_STATE_ZERO),
		};
		covered += len;
	}
	return 0;
}

/* A slow request (nbdbe_slow) got its answer: say so, at most once per
 * NBDBE_SLOW_LOG_NS, so that a warning is followed by its outcome. */
static void nbdbe_slow_done(struct nbdbe *nb, struct nbdbe_req *r)
{
	uint64_t now = sb_now_ns();
	struct sb_request *req = ctx_request(r);

	if (nb->slow_done_logged_ns && now - nb->slow_done_logged_ns < NBDBE_SLOW_LOG_NS)
		return;
	nb->slow_done_logged_ns = now;
	sb_info("backend %s: the slow %s of %u bytes at %" PRIu64 " completed (%s) after %" PRIu64
		" ms", nb->be.name, sb_op_name(req->op), req->length,
		req->offset, r->err ? sb_errno_name(r->err) : "ok",
		(now - (r->deadline_ns - nb->timeout_ns)) / SB_NS_PER_MS);
}

/* Deferred: hands settled requests to the core.  The core may submit from
 * its completion; a request that settles inside that submit joins the list
 * and is handed over in this same pass. */
static void nbdbe_deliver(void *opaque)
{
	struct nbdbe *nb = opaque;
	struct nbdbe_req *r;

	while ((r = TAILQ_FIRST(&nb->done))) {
		TAILQ_REMOVE(&nb->done, r, link);
		r->state = NBDBE_REQ_IDLE;
		if (SB_UNLIKELY(r->slow))
			nbdbe_slow_done(nb, r);
		sb_backend_complete(&nb->be, ctx_request(r), r->err);
	}
}

/* The connection that was UP is gone: fails every request in flight on it
 * with @err, tears it down, tells the core and schedules a reconnect. */
static void nbdbe_lost(struct nbdbe *nb, int err, const char *why)
{
	struct nbdbe_req *r;
	unsigned failed = 0;

	/* Invariant 4: each request in flight on this connection completes
	 * once, with the error; the core decides whether it is sent again.  The
	 * handle is closed before the core sees them (teardown below, same
	 * call), so libnbd can neither complete them nor still fill a read
	 * buffer that the core re-issues. */
	while ((r = TAILQ_FIRST(&nb->inflight))) {
		TAILQ_REMOVE(&nb->inflight, r, link);
		nbdbe_settle(nb, r, err);
		failed++;
	}
	/* A write we give up on may still sit in our send queue: reset the
	 * connection rather than let it reach the server after its retry. */
	sb_nbdbe_teardown(nb, failed > 0 || err == -ETIMEDOUT);
	nb->down_since_ns = sb_now_ns();
	nb->attempts = 0;
	nb->last_err = err;
	if (why != nb->last_msg)
		snprintf(nb->last_msg, sizeof(nb->last_msg), "%s", why);
	if (failed)
		sb_warn("backend %s: connection lost (%s): %s; %u requests in flight failed "
			"with it, for the error policy; reconnecting", nb->be.name,
			sb_errno_name(err), nb->last_msg, failed);
	else
		sb_warn("backend %s: connection lost (%s): %s; reconnecting", nb->be.name,
			sb_errno_name(err), nb->last_msg);
	sb_backend_set_connected(&nb->be, false, err);
	sb_nbdbe_schedule_retry(nb);
}

/* After libnbd ran (notify, submit): is the connection still usable? */
static void nbdbe_check(struct nbdbe *nb, int err)
{
	if (nb->going_away)
		nbdbe_lost(nb, -ESHUTDOWN, "the server is shutting down");
	else if (err < 0)
		nbdbe_lost(nb, err, nb->last_msg);
	else if (nbd_aio_is_dead(nb->h) || nbd_aio_is_closed(nb->h))
		nbdbe_lost(nb, -ECONNRESET, "the server closed the connection");
}

static void nbdbe_io(void *opaque, uint32_t events)
{
	struct nbdbe *nb = opaque;

	if (nb->state == NBDBE_UP)
		nbdbe_check(nb, sb_nbdbe_notify(nb, events));
	else
		sb_nbdbe_connect_io(nb, events);
}

/* Before every wait: notice a death that happened inside a submit, and
 * watch the socket for what libnbd waits for now. */
static void nbdbe_prepare(void *opaque)
{
	struct nbdbe *nb = opaque;
	int r;

	if (nb->state == NBDBE_UP)
		nbdbe_check(nb, 0);
	if (nb->state == NBDBE_DOWN)
		return;
	if (!nb->watch.added)
		sb_watch_init(&nb->watch, nb->fd, nbdbe_io, nb);
	r = sb_loop_watch_set(nb->loop, &nb->watch, sb_nbdbe_events(nb));
	if (r < 0 && nb->state == NBDBE_UP)
		nbdbe_lost(nb, r, "cannot watch the socket");
	else if (r < 0)
		sb_nbdbe_connect_failed(nb, r, "cannot watch the socket");
}

/* @r outlived the backend timeout on a connection that is alive as far as
 * TCP knows: keep waiting for it (a slow server is not a dead one, and a
 * request we abandon stays in doubt at the server), but count it and warn,
 * at most once per NBDBE_SLOW_LOG_NS. */
static void nbdbe_slow(struct nbdbe *nb, struct nbdbe_req *r, uint64_t now)
{
	struct sb_request *req = ctx_request(r);

	r->slow = true;
	nb->slow_requests++;
	if (nb->slow_warned_ns && now - nb->slow_warned_ns < NBDBE_SLOW_LOG_NS) {
		nb->slow_quiet++;
		return;
	}
	sb_warn("backend %s: a %s of %u bytes at %" PRIu64 " has had no answer for %" PRIu64
		" ms (--backend-timeout); waiting for it on the live connection (%" PRIu64
		" slow requests so far, %" PRIu64 " not logged)", nb->be.name,
		sb_op_name(req->op), req->length, req->offset,
		(now - (r->deadline_ns - nb->timeout_ns)) / SB_NS_PER_MS, nb->slow_requests,
		nb->slow_quiet);
	nb->slow_warned_ns = now;
	nb->slow_quiet = 0;
}

/* The backend timeout of the oldest request not yet found slow.  With
 * --backend-timeout-action reconnect the connection is declared dead
 * (libnbd cannot cancel one command); by default the request is waited
 * for (nbdbe_slow) and the timer moves on to the next one. */
static void nbdbe_deadline(void *opaque)
{
	struct nbdbe *nb = opaque;
	uint64_t now = sb_now_ns();
	struct nbdbe_req *r;
	char why[96];

	if (nb->state != NBDBE_UP)
		return;
	/* Oldest first; the slow ones already counted are skipped (a walk
	 * bounded by the requests in flight, only while some are slow). */
	TAILQ_FOREACH(r, &nb->inflight, link) {
		if (r->slow)
			continue;
		if (r->deadline_ns > now) {
			sb_timer_arm(nb->loop, &nb->deadline, r->deadline_ns);
			return;
		}
		if (nb->timeout_action == SB_TIMEOUT_WAIT) {
			nbdbe_slow(nb, r, now);
			continue;
		}
		nb->timeouts++;
		snprintf(why, sizeof(why), "a request got no answer within %" PRIu64 " ms",
			 nb->timeout_ns / SB_NS_PER_MS);
		nbdbe_lost(nb, -ETIMEDOUT, why);
		return;
	}
}

static int nbdbe_submit(struct sb_backend *be, struct sb_request *req)
{
	struct nbdbe *nb = SB_CONTAINER_OF(be, struct nbdbe, be);
	struct nbdbe_req *r = (struct nbdbe_req *)req->backend_ctx;
	nbd_completion_callback cb = { .callback = nbdbe_req_done, .user_data = r };
	uint32_t fua = (req->flags & SB_REQ_FUA) ? LIBNBD_CMD_FLAG_FUA : 0;
	uint32_t zflags = fua;
	int64_t cookie;

	if (SB_UNLIKELY(nb->state != NBDBE_UP || nb->going_away))
		return -ENOTCONN;
	/* The callback may run before the nbd_aio_* call returns: be ready. */
	r->nb = nb;
	r->deadline_ns = nb->timeout_ns ? sb_now_ns() + nb->timeout_ns : 0;
	r->slow = false;
	if (SB_UNLIKELY(!sb_caps_allow(nb->conn_caps, req->op))) {
		/* This connection's server cannot say or cache (the first
		 * one could): all data, or success, which is never wrong,
		 * delivered like an answer. */
		sb_request_ignored(req);
		nbdbe_settle(nb, r, 0);
		return 0;
	}
	r->state = NBDBE_REQ_INFLIGHT;
	TAILQ_INSERT_TAIL(&nb->inflight, r, link);

	switch (req->op) {
	case SB_OP_READ:
		cookie = nbd_aio_pread(nb->h, req->buf, req->length, req->offset, cb, 0);
		break;
	case SB_OP_WRITE:
		cookie = nbd_aio_pwrite(nb->h, req->buf, req->length, req->offset, cb, fua);
		break;
	case SB_OP_FLUSH:
		cookie = nbd_aio_flush(nb->h, cb, 0);
		break;
	case SB_OP_TRIM:
		cookie = nbd_aio_trim(nb->h, req->length, req->offset, cb, fua);
		break;
	case SB_OP_ZERO:
		if (req->flags & SB_REQ_NO_HOLE)
			zflags |= LIBNBD_CMD_FLAG_NO_HOLE;
		if (req->flags & SB_REQ_FAST_ZERO)
			zflags |= LIBNBD_CMD_FLAG_FAST_ZERO;
		cookie = nbd_aio_zero(nb->h, req->length, req->offset, cb, zflags);
		break;
	case SB_OP_BLOCK_STATUS:
		req->nextents = 0;
		cookie = nbd_aio_block_status(nb->h, req->length, req->offset,
					      (nbd_extent_callback){ .callback = nbdbe_extents,
								     .user_data = r },
					      cb, req->max_extents == 1 ? LIBNBD_CMD_FLAG_REQ_ONE : 0);
		break;
	case SB_OP_CACHE:
		/* At most the server's maximum payload (32 MiB when it does not
		 * say): the protocol lets a cache be longer, but qemu-nbd
		 * refuses one longer than its buffer with EINVAL, and a hint
		 * over the start of the range is still the right hint. */
		cookie = nbd_aio_cache(nb->h,
				       SB_MIN(req->length, nb->be.block_max ? nb->be.block_max
									    : NBDBE_DEFAULT_PAYLOAD),
				       req->offset, cb, 0);
		break;
	default:
		cookie = -1;
		break;
	}
	if (SB_UNLIKELY(cookie < 0)) {
		/* libnbd never calls back for a command it refused.  A handle
		 * that died under an earlier submit of this batch (the server
		 * hung up as we wrote to it) refuses with EINVAL: that is the
		 * connection lost, which the check after this batch notices. */
		int e = req->op < SB_OP_COUNT ? nbd_get_errno() : EINVAL;
		if (nbd_aio_is_dead(nb->h) || nbd_aio_is_closed(nb->h))
			e = ENOTCONN;
		TAILQ_REMOVE(&nb->inflight, r, link);
		r->state = NBDBE_REQ_IDLE;
		return e ? -e : -EIO;
	}
	if (nb->timeout_ns && !nb->deadline.armed)
		sb_timer_arm(nb->loop, &nb->deadline, r->deadline_ns);
	return 0;
}

static void nbdbe_kick(struct sb_backend *be)
{
	struct nbdbe *nb = SB_CONTAINER_OF(be, struct nbdbe, be);

	/* The core is about to probe: try now rather than at the end of our
	 * backoff; a success makes the probe go out at once. */
	if (nb->state == NBDBE_DOWN)
		sb_nbdbe_attempt(nb);
}

static const char *nbdbe_describe_state(struct sb_backend *be)
{
	struct nbdbe *nb = SB_CONTAINER_OF(be, struct nbdbe, be);
	static const char *const names[] = {
		[NBDBE_DOWN] = "down", [NBDBE_CONNECTING] = "connecting",
		[NBDBE_HANDSHAKE] = "handshake", [NBDBE_UP] = "up",
	};

	snprintf(nb->state_json, sizeof(nb->state_json),
		 "{\"connection\": \"%s\", \"reconnects\": %" PRIu64 ", \"request-timeouts\": %"
		 PRIu64 ", \"slow-requests\": %" PRIu64 ", \"last-error\": \"%s\"}",
		 names[nb->state], nb->reconnects, nb->timeouts, nb->slow_requests,
		 nb->last_err ? sb_errno_name(nb->last_err) : "");
	return nb->state_json;
}

static void nbdbe_free(struct nbdbe *nb)
{
	if (nb->state == NBDBE_UP)
		nbd_aio_disconnect(nb->h, 0); /* a polite NBD_CMD_DISC, sent if it fits */
	sb_nbdbe_teardown(nb, false);
	sb_loop_defer_cancel(nb->loop, &nb->deliver);
	sb_nbdbe_target_clear(&nb->target);
	free(nb->be.name);
	free(nb);
}

static void nbdbe_close(struct sb_backend *be)
{
	struct nbdbe *nb = SB_CONTAINER_OF(be, struct nbdbe, be);

	sb_loop_hook_del(nb->loop, &nb->prepare);
	nbdbe_free(nb);
}

static const struct sb_backend_ops nbdbe_ops = {
	.name = "nbd",
	.submit = nbdbe_submit,
	.close = nbdbe_close,
	.kick = nbdbe_kick,
	.describe_state = nbdbe_describe_state,
};

static bool nbdbe_match(const char *spec)
{
	/* Every NBD scheme, so that the ones we refuse (vsock) get a clear
	 * message instead of being taken for a file name. */
	return !strncmp(spec, "nbd://", 6) || !strncmp(spec, "nbd+", 4) ||
	       !strncmp(spec, "nbds://", 7) || !strncmp(spec, "nbds+", 5);
}

static int nbdbe_open(struct sb_loop *loop, const char *spec,
		      const struct sb_backend_config *cfg, struct sb_backend **out,
		      struct sb_error **errp)
{
	struct nbdbe *nb = calloc(1, sizeof(*nb));

	if (!nb || !(nb->be.name = strdup(spec))) {
		free(nb);
		return sb_error_set(errp, "backend '%s': out of memory", spec);
	}
	nb->be.ops = &nbdbe_ops;
	nb->be.ctx_size = sizeof(struct nbdbe_req);
	nb->loop = loop;
	nb->fd = -1;
	nb->state = NBDBE_DOWN;
	nb->timeout_ns = cfg->timeout_ns;
	nb->timeout_action = cfg->timeout_action;
	TAILQ_INIT(&nb->inflight);
	TAILQ_INIT(&nb->done);
	sb_defer_init(&nb->deliver, nbdbe_deliver, nb);
	sb_timer_init(&nb->conn_timer, sb_nbdbe_conn_timer, nb);
	sb_timer_init(&nb->deadline, nbdbe_deadline, nb);

	if (sb_nbdbe_target_parse(spec, &nb->target, errp) < 0 ||
	    sb_nbdbe_resolve(nb, errp) < 0 || sb_nbdbe_connect_initial(nb, errp) < 0) {
		nbdbe_free(nb);
		return -1;
	}
	if (cfg->read_only)
		nb->be.caps |= SB_CAP_READ_ONLY;
	nb->running = true;
	sb_loop_hook_add(loop, &nb->prepare, nbdbe_prepare, nb);
	*out = &nb->be;
	return 0;
}

const struct sb_backend_driver sb_nbd_driver = {
	.name = "nbd",
	.match = nbdbe_match,
	.open = nbdbe_open,
};
