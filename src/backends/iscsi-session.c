/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the iSCSI backend's session: a fresh libiscsi context per
 * attempt, TCP connect and login, the event-loop glue, reconnects with
 * backoff, and the bounded start-up.
 *
 *   attempt: new context (same ISID, no libiscsi auto-reconnect)
 *     -> connect -> login (following redirects) -> the LUN checks
 *        (iscsi-lun.c) -> established: UP, the core is told
 *   any failure noted in a libiscsi callback -> acted upon once
 *     iscsi_service() has returned: teardown, then retry with backoff
 *
 * At start-up the attempts run the loop themselves, within a time bound,
 * because the export needs the size before the daemon serves; a SIGTERM or
 * SIGINT (the daemon's signal watch stops the loop) ends them at once.
 * Later they run in the loop and never block it (the portal was resolved
 * at open).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "backends/iscsi-internal.h"
#include "base/log.h"

static void session_watch(void *opaque, uint32_t events);

int sb_iscsibe_resolve(struct iscsibe *ib, const char *portal, struct sb_error **errp)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	char buf[256], addr[INET6_ADDRSTRLEN], *host = buf, *port = NULL, *p;
	int r;

	/* HOST[:PORT][,TPGT] or [IPV6][:PORT][,TPGT], as libiscsi reads it. */
	snprintf(buf, sizeof(buf), "%s", portal);
	buf[strcspn(buf, ",")] = '\0';
	if (*host == '[') {
		host++;
		if (!(p = strchr(host, ']')))
			return sb_error_set(errp, "portal '%s': missing ']'", portal);
		*p++ = '\0';
		if (*p == ':')
			port = p + 1;
	} else if ((p = strrchr(host, ':'))) {
		*p = '\0';
		port = p + 1;
	}
	r = getaddrinfo(host, port && *port ? port : "3260", &hints, &ai);
	if (r != 0)
		return sb_error_set(errp, "portal '%s': %s", portal, gai_strerror(r));
	if (ai->ai_family == AF_INET6) {
		const struct sockaddr_in6 *sa = (const void *)ai->ai_addr;
		inet_ntop(AF_INET6, &sa->sin6_addr, addr, sizeof(addr));
		snprintf(ib->portal, sizeof(ib->portal), "[%s]:%u", addr, ntohs(sa->sin6_port));
	} else {
		const struct sockaddr_in *sa = (const void *)ai->ai_addr;
		inet_ntop(AF_INET, &sa->sin_addr, addr, sizeof(addr));
		snprintf(ib->portal, sizeof(ib->portal), "%s:%u", addr, ntohs(sa->sin_port));
	}
	freeaddrinfo(ai);
	return 0;
}

/* ---- the event loop glue ---- */

static uint32_t to_epoll(int ev)
{
	return (ev & POLLIN ? EPOLLIN : 0) | (ev & POLLOUT ? EPOLLOUT : 0);
}

static int to_poll(uint32_t ev)
{
	return (ev & EPOLLIN ? POLLIN : 0) | (ev & EPOLLOUT ? POLLOUT : 0) |
	       (ev & EPOLLERR ? POLLERR : 0) | (ev & EPOLLHUP ? POLLHUP : 0);
}

/* Acts on a failure noted by a callback, once libiscsi is out of the way. */
static void session_settle(struct iscsibe *ib)
{
	int err = ib->fail_err;
	char msg[sizeof(ib->fail_msg)];

	if (!err)
		return;
	ib->fail_err = 0;
	memcpy(msg, ib->fail_msg, sizeof(msg));
	if (ib->state == ISCSIBE_UP) {
		sb_iscsibe_lost(ib, err, msg);
	} else if (ib->state == ISCSIBE_CONNECTING) {
		ib->last_err = err;
		snprintf(ib->last_msg, sizeof(ib->last_msg), "%s", msg);
		sb_iscsibe_teardown(ib, false);
		if (!ib->running)
			return; /* start-up decides */
		/* Say it once per outage: the target may stay away a while. */
		if (++ib->attempts == 1)
			sb_info("iscsi %s: reconnect failed: %s; retrying with backoff",
				ib->be.name, msg);
		else
			sb_debug("iscsi %s: reconnect attempt %u failed: %s", ib->be.name,
				 ib->attempts, msg);
		sb_iscsibe_schedule_retry(ib);
	}
}

static void session_service(struct iscsibe *ib, int revents)
{
	ib->in_service = true;
	int r = iscsi_service(ib->ctx, revents);
	ib->in_service = false;
	if (r < 0)
		sb_iscsibe_connection_failed(ib);
	session_settle(ib);
}

void sb_iscsibe_connection_failed(struct iscsibe *ib)
{
	int fd = iscsi_get_fd(ib->ctx), soerr = 0;
	socklen_t len = sizeof(soerr);
	const char *msg = iscsi_get_error(ib->ctx);
	char c;

	/* libiscsi's message after a lost connection ("Can not reconnect
	 * right now") says little: the socket says more. */
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	if (soerr)
		sb_iscsibe_fail(ib, -ENOTCONN, "connection lost: %s", strerror(soerr));
	else if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
		sb_iscsibe_fail(ib, -ENOTCONN, "the target closed the connection");
	else
		sb_iscsibe_fail(ib, -ENOTCONN, "connection lost: %.*s", (int)strcspn(msg, "\n"),
				msg);
}

/* libiscsi's messages may end in a newline or hold several lines: one log
 * line per event, whatever it says. */
static void one_line(char *msg)
{
	for (; *msg; msg++)
		if (*msg == '\n' || *msg == '\r')
			*msg = ' ';
}

void sb_iscsibe_fail(struct iscsibe *ib, int err, const char *fmt, ...)
{
	va_list ap;

	if (ib->fail_err)
		return; /* the first failure is the one worth telling */
	ib->fail_err = err;
	va_start(ap, fmt);
	vsnprintf(ib->fail_msg, sizeof(ib->fail_msg), fmt, ap);
	va_end(ap);
	one_line(ib->fail_msg);
	if (!ib->in_service)
		session_settle(ib);
}

/* Keeps the watch on the context's socket (a login redirect changes it). */
static void session_sync_watch(struct iscsibe *ib)
{
	int fd = iscsi_get_fd(ib->ctx);

	if (ib->watch.added && ib->watch.fd != fd)
		sb_loop_watch_del(ib->loop, &ib->watch);
	if (!ib->watch.added && fd >= 0) {
		uint32_t events = to_epoll(iscsi_which_events(ib->ctx));
		sb_watch_init(&ib->watch, fd, session_watch, ib);
		if (sb_loop_watch_add(ib->loop, &ib->watch, events) < 0)
			sb_iscsibe_fail(ib, -ENOMEM, "cannot watch the session's socket");
	}
}

static void session_prepare(void *opaque)
{
	struct iscsibe *ib = opaque;

	if (!ib->ctx)
		return;
	/* Send what the data path queued in this iteration now: saves a
	 * round through epoll and switching EPOLLOUT on and off per batch.
	 * Only when UP: before, POLLOUT means "the connect finished". */
	if (ib->state == ISCSIBE_UP && (iscsi_which_events(ib->ctx) & POLLOUT)) {
		session_service(ib, POLLOUT);
		if (!ib->ctx)
			return;
	}
	session_sync_watch(ib);
	if (ib->watch.added &&
	    sb_loop_watch_set(ib->loop, &ib->watch, to_epoll(iscsi_which_events(ib->ctx))) < 0)
		sb_iscsibe_fail(ib, -ENOMEM, "cannot watch the session's socket");
}

static void session_watch(void *opaque, uint32_t events)
{
	struct iscsibe *ib = opaque;

	if (ib->ctx)
		session_service(ib, to_poll(events));
}

/* How long an attempt (or the whole start-up) may take. */
static uint64_t attempt_bound(const struct iscsibe *ib)
{
	return ib->timeout_ns ? ib->timeout_ns : ISCSIBE_CONNECT_NS;
}

/* CONNECTING: the attempt's bound.  UP: a request's deadline. */
static void session_deadline(void *opaque)
{
	struct iscsibe *ib = opaque;

	if (ib->state == ISCSIBE_CONNECTING)
		sb_iscsibe_fail(ib, -ETIMEDOUT, "no answer within %" PRIu64 " ms",
				attempt_bound(ib) / SB_NS_PER_MS);
	else if (ib->state == ISCSIBE_UP)
		sb_iscsibe_check_deadlines(ib);
}

static void session_retry(void *opaque)
{
	sb_iscsibe_attempt(opaque);
}

void sb_iscsibe_schedule_retry(struct iscsibe *ib)
{
	sb_timer_arm(ib->loop, &ib->retry, sb_now_ns() + ib->backoff_ns);
	ib->backoff_ns = ib->backoff_ns ? SB_MIN(ib->backoff_ns * 2, ISCSIBE_BACKOFF_MAX_NS)
					: ISCSIBE_BACKOFF_MIN_NS;
}

void sb_iscsibe_teardown(struct iscsibe *ib, bool abortive)
{
	struct iscsi_context *ctx = ib->ctx;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	sb_timer_cancel(ib->loop, &ib->deadline);
	if (ib->watch.added)
		sb_loop_watch_del(ib->loop, &ib->watch);
	ib->ctx = NULL;
	ib->state = ISCSIBE_DOWN;
	ib->fail_err = 0;
	/* A logged-in context calls back every task it still holds, with
	 * CANCELLED; the data path has disowned them, so they only free. */
	if (!ctx)
		return;
	if (abortive && iscsi_get_fd(ctx) >= 0)
		setsockopt(iscsi_get_fd(ctx), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	iscsi_destroy_context(ctx);
}

void sb_iscsibe_session_free(struct iscsibe *ib)
{
	sb_iscsibe_teardown(ib, false);
	sb_timer_cancel(ib->loop, &ib->retry);
	sb_loop_hook_del(ib->loop, &ib->prepare);
}

/* ---- the bring-up ---- */

static struct iscsi_context *session_new_context(struct iscsibe *ib)
{
	struct iscsi_context *ctx = iscsi_create_context(ib->initiator);
	struct iscsi_url *url;

	if (!ctx) {
		snprintf(ib->last_msg, sizeof(ib->last_msg), "cannot create a libiscsi context");
		return NULL;
	}
	/* Parsing the URL into the context sets the target name, CHAP and
	 * the header digest: the same on every attempt. */
	url = iscsi_parse_full_url(ctx, ib->url);
	if (!url) {
		snprintf(ib->last_msg, sizeof(ib->last_msg), "%s", iscsi_get_error(ctx));
		one_line(ib->last_msg);
		iscsi_destroy_context(ctx);
		return NULL;
	}
	iscsi_destroy_url(url);
	iscsi_set_session_type(ctx, ISCSI_SESSION_NORMAL);
	iscsi_set_isid_random(ctx, ib->isid, 0);
	iscsi_set_noautoreconnect(ctx, 1);
	if (ib->timeout_ns) {
		/* A silent cut with nothing in flight is found by TCP itself. */
		int ms = (int)SB_MIN(ib->timeout_ns / SB_NS_PER_MS, (uint64_t)INT32_MAX);
		int secs = SB_MAX(1, ms / 1000);
		iscsi_set_tcp_user_timeout(ctx, ms);
		iscsi_set_tcp_keepidle(ctx, SB_MAX(1, secs / 2));
		iscsi_set_tcp_keepintvl(ctx, SB_MAX(1, secs / 6));
		iscsi_set_tcp_keepcnt(ctx, 3);
	}
	return ctx;
}

void sb_iscsibe_established(struct iscsibe *ib)
{
	uint64_t outage = ib->down_since_ns ? sb_now_ns() - ib->down_since_ns : 0;

	sb_timer_cancel(ib->loop, &ib->deadline);
	ib->state = ISCSIBE_UP;
	ib->backoff_ns = 0;
	if (!ib->running)
		return; /* open() finishes the first session */
	ib->reconnects++;
	sb_info("iscsi %s: session re-established after %" PRIu64 " ms, %u failed attempts",
		ib->be.name, outage / SB_NS_PER_MS, ib->attempts);
	ib->attempts = 0;
	ib->down_since_ns = 0;
	/* The first session has nothing acknowledged to lose; a later one
	 * that was greeted with a power on or reset tells the core before
	 * the core can send anything on it. */
	if (ib->ua_reset)
		sb_iscsibe_cache_lost(ib, ib->ua_reset_why);
	sb_backend_set_connected(&ib->be, true, 0);
}

static void session_connected(struct iscsi_context *ctx, int status, void *data, void *opaque);

static void session_logged_in(struct iscsi_context *ctx, int status, void *data, void *opaque)
{
	struct iscsibe *ib = opaque;
	const char *addr;

	if (ib->ctx != ctx || ib->state != ISCSIBE_CONNECTING || ib->step != STEP_LOGIN)
		return;
	if (status == SCSI_STATUS_REDIRECT && (addr = iscsi_get_target_address(ctx)) &&
	    ++ib->redirects <= ISCSIBE_MAX_REDIRECTS) {
		/* The portal sends us to another one for this target.  Closing
		 * the socket would drop it from epoll behind our back. */
		sb_debug("iscsi %s: login redirected to %s", ib->be.name, addr);
		if (ib->watch.added)
			sb_loop_watch_del(ib->loop, &ib->watch);
		iscsi_disconnect(ctx);
		ib->step = STEP_CONNECT;
		if (iscsi_connect_async(ctx, addr, session_connected, ib) != 0)
			sb_iscsibe_fail(ib, -ENOTCONN, "%s", iscsi_get_error(ctx));
		return;
	}
	if (status != SCSI_STATUS_GOOD) {
		sb_iscsibe_fail(ib, -EACCES, "login failed: %s", iscsi_get_error(ctx));
		return;
	}
	ib->step = STEP_TUR;
	sb_iscsibe_lun_step(ib);
}

static void session_connected(struct iscsi_context *ctx, int status, void *data, void *opaque)
{
	struct iscsibe *ib = opaque;

	if (ib->ctx != ctx || ib->state != ISCSIBE_CONNECTING || ib->step != STEP_CONNECT)
		return;
	if (status != SCSI_STATUS_GOOD) {
		sb_iscsibe_fail(ib, -ENOTCONN, "%s", iscsi_get_error(ctx));
		return;
	}
	ib->step = STEP_LOGIN;
	if (iscsi_login_async(ctx, session_logged_in, ib) != 0)
		sb_iscsibe_fail(ib, -ENOMEM, "login: %s", iscsi_get_error(ctx));
}

void sb_iscsibe_attempt(struct iscsibe *ib)
{
	struct iscsi_context *ctx;

	if (ib->state != ISCSIBE_DOWN)
		return;
	sb_timer_cancel(ib->loop, &ib->retry);
	ctx = session_new_context(ib);
	if (!ctx) {
		ib->last_err = -ENOMEM;
		if (ib->running)
			sb_iscsibe_schedule_retry(ib);
		return;
	}
	ib->ctx = ctx;
	ib->state = ISCSIBE_CONNECTING;
	ib->step = STEP_CONNECT;
	ib->uas = 0;
	ib->ua_reset = false;
	ib->redirects = 0;
	ib->fail_err = 0;
	memset(&ib->probe, 0, sizeof(ib->probe));
	sb_timer_arm(ib->loop, &ib->deadline, sb_now_ns() + attempt_bound(ib));
	if (iscsi_connect_async(ctx, ib->portal, session_connected, ib) != 0) {
		sb_iscsibe_fail(ib, -ENOTCONN, "%s", iscsi_get_error(ctx));
		return;
	}
	session_sync_watch(ib);
}

/* Start-up failures worth another attempt: the target is not there yet. */
static bool startup_transient(int err)
{
	return err == -ENOTCONN || err == -EAGAIN || err == -ENOMEM;
}

/* One round of the loop during start-up, at most until @until: the
 * session's watch, timers and prepare hook work as they do later, and the
 * daemon's signal watch stops the loop on SIGTERM or SIGINT.  Returns false
 * once the daemon is stopping. */
static bool startup_wait(struct iscsibe *ib, uint64_t until)
{
	uint64_t now = sb_now_ns();

	if (sb_loop_run_once(ib->loop, until > now ? until - now : 0) < 0)
		sb_iscsibe_fail(ib, -EIO, "the event loop failed");
	return !sb_loop_stopping(ib->loop);
}

int sb_iscsibe_connect_initial(struct iscsibe *ib, struct sb_error **errp)
{
	uint64_t bound = attempt_bound(ib);
	uint64_t start = sb_now_ns(), deadline = start + bound, now;
	uint64_t backoff = ISCSIBE_BACKOFF_MIN_NS;
	bool live = true;

	sb_timer_init(&ib->deadline, session_deadline, ib);
	sb_timer_init(&ib->retry, session_retry, ib);
	sb_loop_hook_add(ib->loop, &ib->prepare, session_prepare, ib);
	for (;;) {
		sb_iscsibe_attempt(ib);
		/* The daemon does not serve yet: run the loop for the session. */
		while (live && ib->state == ISCSIBE_CONNECTING) {
			if (sb_now_ns() >= deadline) {
				sb_iscsibe_fail(ib, -ETIMEDOUT, "no answer within %" PRIu64 " ms",
						bound / SB_NS_PER_MS);
				break;
			}
			live = startup_wait(ib, deadline);
		}
		if (live && ib->state == ISCSIBE_UP)
			return 0;
		now = sb_now_ns();
		if (!live || !startup_transient(ib->last_err) || now + backoff >= deadline)
			break;
		sb_debug("iscsi %s: %s; trying again", ib->be.name, ib->last_msg);
		uint64_t until = now + backoff;
		while (live && sb_now_ns() < until)
			live = startup_wait(ib, until);
		if (!live)
			break;
		backoff = SB_MIN(backoff * 2, ISCSIBE_BACKOFF_MAX_NS);
	}
	sb_iscsibe_session_free(ib);
	if (!live)
		return sb_error_set(errp, "%s: interrupted during start-up, while connecting "
				    "(after %" PRIu64 " ms)", ib->be.name,
				    (sb_now_ns() - start) / SB_NS_PER_MS);
	return sb_error_set(errp, "%s: %s", ib->be.name, ib->last_msg);
}
