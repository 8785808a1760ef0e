/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the NBD backend's connection: our own non-blocking socket,
 * libnbd's handshake on it, the bounded start-up connect, and reconnects
 * with backoff.  The state machine is drawn in nbd-internal.h.
 *
 * We open the socket ourselves rather than let libnbd do it, so that every
 * reconnect is non-blocking from the first syscall (no name lookup, no
 * blocking connect()) and a TCP socket carries TCP_USER_TIMEOUT and
 * keepalive: a silent network cut then kills the connection even when no
 * request is in flight to time out.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "backends/nbd-internal.h"
#include "base/compiler.h"
#include "base/log.h"
#include "base/parse.h"

static void set_msg(struct nbdbe *nb, const char *fmt, ...) SB_PRINTF(2, 3);
static void set_msg(struct nbdbe *nb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(nb->last_msg, sizeof(nb->last_msg), fmt, ap);
	va_end(ap);
}

int sb_nbdbe_resolve(struct nbdbe *nb, struct sb_error **errp)
{
	const struct nbdbe_target *t = &nb->target;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	int r;

	if (t->is_unix) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&nb->addrs[0].sa;
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, t->socket); /* length checked by the parser */
		nb->addrs[0].len = sizeof(*sun);
		nb->naddrs = 1;
		return 0;
	}
	/* Once, at start-up: a reconnect must not block the loop on DNS. */
	r = getaddrinfo(t->host, t->port, &hints, &res);
	if (r != 0)
		return sb_error_set(errp, "backend '%s': cannot resolve '%s': %s", nb->be.name,
				    t->host, r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
	for (ai = res; ai && nb->naddrs < NBDBE_MAX_ADDRS; ai = ai->ai_next) {
		memcpy(&nb->addrs[nb->naddrs].sa, ai->ai_addr, ai->ai_addrlen);
		nb->addrs[nb->naddrs++].len = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (!nb->naddrs)
		return sb_error_set(errp, "backend '%s': '%s' has no address", nb->be.name,
				    t->host);
	return 0;
}

static void sockopt(struct nbdbe *nb, int fd, int level, int name, int value, const char *what)
{
	if (setsockopt(fd, level, name, &value, sizeof(value)) < 0)
		sb_warn("backend %s: setsockopt %s: %s", nb->be.name, what, strerror(errno));
}

/* A dead peer or a silent cut kills the connection within about the
 * backend timeout T, whether requests wait or not, and a server that is
 * merely slow does not (its kernel still acknowledges what we send):
 * - data we sent unacknowledged for T: TCP_USER_TIMEOUT = T;
 * - nothing acknowledged or received for T (a request sent, its reply
 *   awaited, or an idle connection): keepalive probes from T/2 on, every
 *   T/6; with TCP_USER_TIMEOUT set, Linux ends the connection at the first
 *   probe past T without an answer, so T/2 + 3 * T/6 = T (whole seconds,
 *   rounded up, at least 1 s each). */
static void tcp_options(struct nbdbe *nb, int fd)
{
	uint64_t ms = SB_MAX(nb->timeout_ns / SB_NS_PER_MS, (uint64_t)1);

	sockopt(nb, fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
	sockopt(nb, fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
	if (!nb->timeout_ns)
		return; /* no timeout asked for: the kernel's defaults */
	sockopt(nb, fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)SB_MIN(ms, (uint64_t)INT32_MAX),
		"TCP_USER_TIMEOUT");
	sockopt(nb, fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)SB_MIN((ms + 1999) / 2000, (uint64_t)32767),
		"TCP_KEEPIDLE");
	sockopt(nb, fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)SB_MIN((ms + 5999) / 6000, (uint64_t)32767),
		"TCP_KEEPINTVL");
	sockopt(nb, fd, IPPROTO_TCP, TCP_KEEPCNT, 3, "TCP_KEEPCNT");
}

void sb_nbdbe_teardown(struct nbdbe *nb, bool abortive)
{
	sb_timer_cancel(nb->loop, &nb->conn_timer);
	sb_timer_cancel(nb->loop, &nb->deadline);
	sb_loop_watch_del(nb->loop, &nb->watch);
	if (nb->h) {
		/* -1 once libnbd closed the socket itself (a dead handle). */
		int fd = nbd_aio_get_fd(nb->h);
		if (abortive && fd >= 0) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		/* Frees the commands without calling their completion callbacks. */
		nbd_close(nb->h);
		nb->h = NULL;
	} else if (nb->fd >= 0) {
		close(nb->fd);
	}
	nb->fd = -1;
	nb->state = NBDBE_DOWN;
	nb->going_away = false;
}

/* The delay before the next attempt; the one after it doubles. */
static uint64_t backoff_take(struct nbdbe *nb)
{
	uint64_t delay = nb->backoff_ns;

	nb->backoff_ns = delay ? SB_MIN(2 * delay, NBDBE_BACKOFF_MAX_NS) : NBDBE_BACKOFF_MIN_NS;
	return delay;
}

void sb_nbdbe_schedule_retry(struct nbdbe *nb)
{
	sb_timer_arm(nb->loop, &nb->conn_timer, sb_now_ns() + backoff_take(nb));
}

/* Errors of the transport, as opposed to a server that answered "no". */
static bool transport_error(int err)
{
	switch (-err) {
	case ECONNREFUSED: case ECONNRESET: case ECONNABORTED: case EPIPE: case ENOTCONN:
	case ESHUTDOWN: case ETIMEDOUT: case ENETUNREACH: case EHOSTUNREACH: case ENETDOWN:
	case EAGAIN: case EINTR:
		return true;
	}
	return false;
}

void sb_nbdbe_connect_failed(struct nbdbe *nb, int err, const char *msg)
{
	/* A server that answered and refused the export (unknown name, bad
	 * options) is a configuration error: start-up stops retrying it. */
	nb->refused = nb->state == NBDBE_HANDSHAKE && !transport_error(err);
	nb->last_err = err;
	if (msg != nb->last_msg)
		set_msg(nb, "%s", msg);
	nb->attempts++;
	sb_nbdbe_teardown(nb, false);
	nb->next_addr = (nb->next_addr + 1) % nb->naddrs;
	if (!nb->running)
		return; /* the start-up loop decides */
	if (nb->attempts == 1)
		sb_warn("backend %s: reconnect failed: %s; retrying with backoff", nb->be.name,
			nb->last_msg);
	else
		sb_debug("backend %s: reconnect attempt %u failed: %s", nb->be.name,
			 nb->attempts, nb->last_msg);
	sb_nbdbe_schedule_retry(nb);
}

static void caps_format(uint32_t caps, char *buf, size_t len)
{
	static const char *const names[] = {
		"flush", "fua", "trim", "zero", "fast-zero", "multi-conn", "read-only",
		[8] = "block-status", /* SB_CAP_BLOCK_STATUS */
		[9] = "cache",        /* SB_CAP_CACHE */
	};
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < SB_ARRAY_SIZE(names) && n < len; i++)
		if ((caps & (1u << i)) && names[i])
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? " " : "", names[i]);
}

/* Reads what the server says about the export: size, block sizes, flags. */
static int export_facts(struct nbdbe *nb, uint64_t *size, uint32_t *caps, uint32_t bs[3])
{
	static const struct { int (*fn)(struct nbd_handle *); uint32_t cap; } flags[] = {
		{ nbd_can_flush, SB_CAP_FLUSH }, { nbd_can_fua, SB_CAP_FUA },
		{ nbd_can_trim, SB_CAP_TRIM }, { nbd_can_zero, SB_CAP_ZERO },
		{ nbd_can_fast_zero, SB_CAP_FAST_ZERO }, { nbd_can_multi_conn, SB_CAP_MULTI_CONN },
		{ nbd_is_read_only, SB_CAP_READ_ONLY }, { nbd_can_cache, SB_CAP_CACHE },
	};
	static const int which[3] = { LIBNBD_SIZE_MINIMUM, LIBNBD_SIZE_PREFERRED,
				      LIBNBD_SIZE_MAXIMUM };
	int64_t sz = nbd_get_size(nb->h);

	if (sz < 0)
		return -1;
	*size = (uint64_t)sz;
	*caps = 0;
	for (unsigned i = 0; i < SB_ARRAY_SIZE(flags); i++) {
		int r = flags[i].fn(nb->h);
		if (r < 0)
			return -1;
		if (r)
			*caps |= flags[i].cap;
	}
	int r = nbd_can_meta_context(nb->h, LIBNBD_CONTEXT_BASE_ALLOCATION);
	if (r < 0)
		return -1;
	if (r)
		*caps |= SB_CAP_BLOCK_STATUS;
	nb->conn_caps = *caps;
	for (unsigned i = 0; i < 3; i++) {
		int64_t v = nbd_get_block_size(nb->h, which[i]);
		if (v < 0)
			return -1;
		bs[i] = (uint32_t)SB_MIN((uint64_t)v, (uint64_t)UINT32_MAX); /* 0 = not advertised */
	}
	return 0;
}

/* The first connection defines the disk; a later one must serve the same. */
static int adopt_export(struct nbdbe *nb)
{
	uint32_t caps, bs[3];
	char was[96], now[96];
	uint64_t size;

	if (export_facts(nb, &size, &caps, bs) < 0) {
		int e = nbd_get_errno();
		sb_nbdbe_connect_failed(nb, e ? -e : -EIO, nbd_get_error());
		return -1;
	}
	caps_format(caps, now, sizeof(now));
	if (!nb->running) {
		nb->be.size = size;
		nb->be.caps = caps;
		nb->caps_first = caps;
		nb->be.block_min = bs[0];
		nb->be.block_pref = bs[1];
		/* libnbd sends no larger read or write, whatever the server allows. */
		nb->be.block_max = bs[2] ? SB_MIN(bs[2], NBDBE_LIBNBD_MAX_REQUEST) : 0;
		sb_info("backend %s: %" PRIu64 " bytes, block sizes %u/%u/%u, %s%s", nb->be.name,
			size, bs[0], bs[1], bs[2], now,
			!nbd_get_tls_negotiated(nb->h) ? ""
			: nb->target.tls_verify_peer ? ", TLS"
						     : ", TLS (server certificate not verified)");
		return 0;
	}
	if (size != nb->be.size) {
		sb_err("backend %s: THE EXPORT CHANGED SIZE from %" PRIu64 " to %" PRIu64
		       " bytes: refusing to use it; fix the server", nb->be.name, nb->be.size, size);
		nb->backoff_ns = NBDBE_BACKOFF_MAX_NS;
		sb_nbdbe_connect_failed(nb, -ESTALE, "the export changed size");
		return -1;
	}
	if (caps != nb->caps_first) {
		caps_format(nb->caps_first, was, sizeof(was));
		sb_warn("backend %s: the server's flags changed from [%s] to [%s]: requests "
			"that need a lost one will fail", nb->be.name, was, now);
	}
	return 0;
}

static void established(struct nbdbe *nb)
{
	if (adopt_export(nb) < 0)
		return;
	sb_timer_cancel(nb->loop, &nb->conn_timer);
	nb->state = NBDBE_UP;
	if (nb->down_since_ns) {
		nb->reconnects++;
		sb_info("backend %s: reconnected after %" PRIu64 " ms, %u failed attempts",
			nb->be.name, (sb_now_ns() - nb->down_since_ns) / SB_NS_PER_MS, nb->attempts);
	}
	nb->down_since_ns = 0;
	nb->attempts = 0;
	nb->last_err = 0;
	/* The core probes at once (DESIGN.md "recovery is prompt"). */
	sb_backend_set_connected(&nb->be, true, 0);
}

int sb_nbdbe_notify(struct nbdbe *nb, uint32_t events)
{
	bool failed = events & (EPOLLERR | EPOLLHUP);
	unsigned dir = nbd_aio_get_direction(nb->h);
	int r = 0;

	/* Only what libnbd waits for: other events are invalid in its state. */
	if ((dir & LIBNBD_AIO_DIRECTION_READ) && (failed || (events & EPOLLIN))) {
		r = nbd_aio_notify_read(nb->h);
		dir = nbd_aio_get_direction(nb->h);
	}
	if (r == 0 && (dir & LIBNBD_AIO_DIRECTION_WRITE) && (failed || (events & EPOLLOUT)))
		r = nbd_aio_notify_write(nb->h);
	if (r == 0)
		return 0;
	int e = nbd_get_errno();
	set_msg(nb, "%s", nbd_get_error());
	return e ? -e : -EIO;
}

static void handshake_progress(struct nbdbe *nb, int err)
{
	if (err < 0)
		sb_nbdbe_connect_failed(nb, err, nb->last_msg);
	else if (nbd_aio_is_ready(nb->h))
		established(nb);
	else if (nbd_aio_is_dead(nb->h) || nbd_aio_is_closed(nb->h))
		sb_nbdbe_connect_failed(nb, -ECONNRESET, "the server closed the connection "
					"during the handshake");
}

/* nbds: TLS required, never fallen back from (a server that refuses
 * STARTTLS fails the handshake like any other refusal). */
static int set_tls(struct nbd_handle *h, const struct nbdbe_target *t)
{
	if (!t->tls)
		return 0;
	if (nbd_set_tls(h, LIBNBD_TLS_REQUIRE) < 0 ||
	    nbd_set_tls_verify_peer(h, t->tls_verify_peer) < 0)
		return -1;
	if (t->tls_psk_file && nbd_set_tls_psk_file(h, t->tls_psk_file) < 0)
		return -1;
	if (t->tls_username && nbd_set_tls_username(h, t->tls_username) < 0)
		return -1;
	if (t->tls_certificates && nbd_set_tls_certificates(h, t->tls_certificates) < 0)
		return -1;
	return 0;
}

static void handshake_start(struct nbdbe *nb)
{
	int e;

	nb->h = nbd_create();
	/* Structured replies (libnbd's default) and base:allocation: the
	 * server's own block status, so that a copy from steadyblk skips the
	 * holes of the remote image too. */
	if (!nb->h || nbd_set_export_name(nb->h, nb->target.export_name) < 0 ||
	    nbd_add_meta_context(nb->h, LIBNBD_CONTEXT_BASE_ALLOCATION) < 0 ||
	    set_tls(nb->h, &nb->target) < 0) {
		e = nbd_get_errno();
		set_msg(nb, "%s", nbd_get_error());
		if (nb->h)
			nbd_close(nb->h);
		nb->h = NULL; /* the socket is still ours: teardown closes it */
		sb_nbdbe_connect_failed(nb, e ? -e : -ENOMEM, nb->last_msg);
		return;
	}
	nb->state = NBDBE_HANDSHAKE;
	nb->connect_deadline_ns = sb_now_ns() + (nb->timeout_ns ? nb->timeout_ns : NBDBE_CONNECT_NS);
	sb_timer_arm(nb->loop, &nb->conn_timer, nb->connect_deadline_ns);
	/* From here on libnbd owns the socket, even when the call fails. */
	if (nbd_aio_connect_socket(nb->h, nb->fd) < 0) {
		e = nbd_get_errno();
		set_msg(nb, "%s", nbd_get_error());
		handshake_progress(nb, e ? -e : -EIO);
		return;
	}
	handshake_progress(nb, 0);
}

void sb_nbdbe_attempt(struct nbdbe *nb)
{
	const struct nbdbe_addr *a = &nb->addrs[nb->next_addr];
	uint64_t bound = nb->timeout_ns ? nb->timeout_ns : NBDBE_CONNECT_NS;

	if (nb->state != NBDBE_DOWN)
		return;
	nb->fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (nb->fd < 0) {
		sb_nbdbe_connect_failed(nb, -errno, strerror(errno));
		return;
	}
	if (!nb->target.is_unix)
		tcp_options(nb, nb->fd);
	nb->state = NBDBE_CONNECTING;
	/* After a silent cut the kernel retransmits a SYN after 1, 3, 7, 15 s:
	 * a fresh attempt every few seconds notices a healed network sooner. */
	nb->connect_deadline_ns = sb_now_ns() + SB_MIN(bound, NBDBE_SYN_NS);
	sb_timer_arm(nb->loop, &nb->conn_timer, nb->connect_deadline_ns);
	if (connect(nb->fd, (const struct sockaddr *)&a->sa, a->len) == 0)
		handshake_start(nb);
	else if (errno != EINPROGRESS) /* a unix socket fails at once: ENOENT, ECONNREFUSED, EAGAIN */
		sb_nbdbe_connect_failed(nb, -errno, strerror(errno));
}

void sb_nbdbe_conn_timer(void *opaque)
{
	struct nbdbe *nb = opaque;

	if (nb->state == NBDBE_DOWN)
		sb_nbdbe_attempt(nb);
	else if (nb->state != NBDBE_UP)
		sb_nbdbe_connect_failed(nb, -ETIMEDOUT, "no answer from the server");
}

void sb_nbdbe_connect_io(struct nbdbe *nb, uint32_t events)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	switch (nb->state) {
	case NBDBE_CONNECTING:
		if (getsockopt(nb->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr)
			sb_nbdbe_connect_failed(nb, -soerr, strerror(soerr));
		else
			handshake_start(nb);
		break;
	case NBDBE_HANDSHAKE:
		handshake_progress(nb, sb_nbdbe_notify(nb, events));
		break;
	case NBDBE_DOWN:
	case NBDBE_UP:
		break;
	}
}

uint32_t sb_nbdbe_events(struct nbdbe *nb)
{
	unsigned dir;

	switch (nb->state) {
	case NBDBE_CONNECTING:
		return EPOLLOUT;
	case NBDBE_HANDSHAKE:
	case NBDBE_UP:
		dir = nbd_aio_get_direction(nb->h);
		return ((dir & LIBNBD_AIO_DIRECTION_READ) ? EPOLLIN : 0) |
		       ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? EPOLLOUT : 0);
	case NBDBE_DOWN:
		break;
	}
	return 0;
}

/* The start-up's socket watch; the running backend's own (nbd.c) takes
 * over once the connection is up. */
static void startup_io(void *opaque, uint32_t events)
{
	sb_nbdbe_connect_io(opaque, events);
}

/* One round of the loop during start-up, at most until @until, with the
 * connection's socket watched.  The loop also carries the daemon's signal
 * watch: a SIGTERM or SIGINT stops the loop, and the start-up with it.
 * Returns false once the daemon is stopping. */
static bool startup_wait(struct nbdbe *nb, uint64_t until)
{
	uint64_t now = sb_now_ns();

	if (nb->state == NBDBE_CONNECTING || nb->state == NBDBE_HANDSHAKE) {
		if (!nb->watch.added)
			sb_watch_init(&nb->watch, nb->fd, startup_io, nb);
		int r = sb_loop_watch_set(nb->loop, &nb->watch, sb_nbdbe_events(nb));
		if (r < 0) {
			sb_nbdbe_connect_failed(nb, r, "cannot watch the socket");
			return !sb_loop_stopping(nb->loop);
		}
	}
	if (sb_loop_run_once(nb->loop, until > now ? until - now : 0) < 0)
		sb_nbdbe_connect_failed(nb, -EIO, "the event loop failed");
	return !sb_loop_stopping(nb->loop);
}

int sb_nbdbe_connect_initial(struct nbdbe *nb, struct sb_error **errp)
{
	uint64_t bound = nb->timeout_ns ? nb->timeout_ns : NBDBE_CONNECT_NS;
	uint64_t start = sb_now_ns(), deadline = start + bound, now;
	bool live = true;

	/* The export needs the size before the daemon serves anything: drive
	 * the same state machine as a reconnect, on the loop (its timers bound
	 * each attempt), within one overall deadline, and give up at once when
	 * the daemon is told to stop. */
	for (;;) {
		sb_nbdbe_attempt(nb);
		while (live && (nb->state == NBDBE_CONNECTING || nb->state == NBDBE_HANDSHAKE)) {
			if (sb_now_ns() >= deadline) {
				sb_nbdbe_connect_failed(nb, -ETIMEDOUT, "no answer from the server");
				break;
			}
			live = startup_wait(nb, deadline);
		}
		if (!live)
			break;
		if (nb->state == NBDBE_UP) {
			sb_loop_watch_del(nb->loop, &nb->watch);
			return 0;
		}
		now = sb_now_ns();
		if (nb->refused || now >= deadline)
			break;
		uint64_t until = now + SB_MIN(backoff_take(nb), deadline - now);
		while (live && sb_now_ns() < until)
			live = startup_wait(nb, until);
		if (!live || sb_now_ns() >= deadline)
			break;
	}
	if (!live) {
		sb_nbdbe_teardown(nb, false);
		return sb_error_set(errp, "backend '%s': interrupted during start-up, while "
				    "connecting (after %" PRIu64 " ms, %u failed attempts)",
				    nb->be.name, (sb_now_ns() - start) / SB_NS_PER_MS, nb->attempts);
	}
	return sb_error_set(errp, "backend '%s': cannot connect: %s (%u attempts in %" PRIu64
			    " ms)", nb->be.name, nb->last_msg, nb->attempts,
			    (sb_now_ns() - start) / SB_NS_PER_MS);
}
