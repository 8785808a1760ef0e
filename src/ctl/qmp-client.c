/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: steadyblkctl's QMP connection: connect, greeting,
 * negotiation, commands matched to their replies by id, events.
 *
 * Every wait is bounded (the --timeout) except waiting for the next event,
 * which is what `events` and `status --watch` are for; a signal ends any
 * wait.  The server sends one JSON object per line (CRLF), so messages are
 * split on newlines.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/loop.h"
#include "ctl/ctl.h"

#define MESSAGE_MAX (16u * 1024 * 1024)   /* a longer line is not a QMP server */

volatile sig_atomic_t ctl_interrupted;

/* Once signals are caught, they are blocked except while waiting (ppoll
 * unblocks them atomically): one that comes just before a wait is not
 * lost, it ends the wait at once. */
static sigset_t wait_sigmask;
static bool catching;

static void on_signal(int sig)
{
	ctl_interrupted = 1;
}

void ctl_catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &wait_sigmask);
	catching = true;
}

static enum ctl_status lost(struct ctl_qmp *q, struct sb_error **errp, const char *why)
{
	sb_error_set(errp, "%s: %s", q->path, why);
	return CTL_UNREACHABLE;
}

/* Waits for @events on the socket until @deadline_ns (UINT64_MAX: no limit).
 * Returns 1 when ready, 0 when the time ran out, -1 on a signal. */
static int wait_fd(struct ctl_qmp *q, short events, uint64_t deadline_ns)
{
	struct pollfd p = { .fd = q->fd, .events = events };
	struct timespec ts, *timeout = NULL;
	int r;

	if (deadline_ns != UINT64_MAX) {
		uint64_t now = sb_now_ns(), left = now >= deadline_ns ? 0 : deadline_ns - now;

		ts.tv_sec = (time_t)(left / SB_NS_PER_SEC);
		ts.tv_nsec = (long)(left % SB_NS_PER_SEC);
		timeout = &ts;
	}
	r = ppoll(&p, 1, timeout, catching ? &wait_sigmask : NULL);
	if (r < 0)
		return errno == EINTR ? -1 : 1; /* a real error shows in the next recv */
	return r;
}

/* Takes one message off the buffer if a whole line is there.  Returns 1
 * with *msg set, 0 if more input is needed, -1 on a line that is not JSON. */
static int take_message(struct ctl_qmp *q, json_t **msg)
{
	char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
	size_t n;

	if (!nl)
		return 0;
	n = (size_t)(nl - q->buf) + 1;
	*msg = json_loadb(q->buf, n, 0, NULL);
	memmove(q->buf, q->buf + n, q->len - n);
	q->len -= n;
	if (json_is_object(*msg))
		return 1;
	json_decref(*msg);
	*msg = NULL;
	return -1;
}

/* The next message, waiting until @deadline_ns.  CTL_OK with *msg NULL
 * means the time ran out or a signal came. */
static enum ctl_status read_message(struct ctl_qmp *q, uint64_t deadline_ns, json_t **msg,
				    struct sb_error **errp)
{
	*msg = NULL;
	for (;;) {
		int r = take_message(q, msg);
		ssize_t n;

		if (r > 0)
			return CTL_OK;
		if (r < 0)
			return lost(q, errp, "the daemon sent something that is not QMP");
		if (q->len == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 65536;
			char *p;

			if (cap > MESSAGE_MAX)
				return lost(q, errp, "the daemon sent an endless message");
			if (!(p = realloc(q->buf, cap)))
				return lost(q, errp, "out of memory");
			q->buf = p;
			q->cap = cap;
		}
		r = wait_fd(q, POLLIN, deadline_ns);
		if (r <= 0)
			return CTL_OK;
		n = recv(q->fd, q->buf + q->len, q->cap - q->len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0)
			return lost(q, errp, strerror(errno));
		if (n == 0)
			return lost(q, errp, "the daemon closed the connection");
		q->len += (size_t)n;
	}
}

static enum ctl_status send_all(struct ctl_qmp *q, const char *text, uint64_t deadline_ns,
				struct sb_error **errp)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = send(q->fd, text + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (wait_fd(q, POLLOUT, deadline_ns) == 0)
				return lost(q, errp, "the daemon does not read its socket");
			continue;
		}
		if (n < 0)
			return lost(q, errp, strerror(errno));
		off += (size_t)n;
	}
	return CTL_OK;
}

/* A connect() failure, with what the user can do about it. */
static enum ctl_status connect_error(struct ctl_qmp *q, int err, struct sb_error **errp)
{
	switch (err) {
	case ENOENT:
		return lost(q, errp, "no such socket (is steadyblk running with --qmp at this path? "
			    "See --socket)");
	case ECONNREFUSED:
		return lost(q, errp, "connection refused (the daemon that made this socket is gone)");
	case EACCES:
	case EPERM:
		return lost(q, errp, "permission denied (the socket is its owner's only: run as the "
			    "user the daemon runs as)");
	case ENOTSOCK:
		return lost(q, errp, "not a socket");
	}
	return lost(q, errp, strerror(err));
}

static enum ctl_status unix_connect(struct ctl_qmp *q, uint64_t deadline_ns,
				    struct sb_error **errp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t elen = sizeof(int);
	int err = 0;

	if (strlen(q->path) >= sizeof(sa.sun_path))
		return lost(q, errp, "the path is too long for a unix socket");
	strcpy(sa.sun_path, q->path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd < 0)
		return lost(q, errp, strerror(errno));
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return CTL_OK;
	if (errno != EAGAIN && errno != EINPROGRESS)
		return connect_error(q, errno, errp);
	/* The daemon's backlog is full: it is busy or stuck; wait a little. */
	if (wait_fd(q, POLLOUT, deadline_ns) <= 0)
		return lost(q, errp, "the daemon does not accept connections (timed out)");
	if (getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		err = errno;
	return err ? connect_error(q, err, errp) : CTL_OK;
}

enum ctl_status ctl_qmp_connect(struct ctl_qmp *q, const char *path, uint64_t timeout_ns,
				struct sb_error **errp)
{
	uint64_t deadline = sb_now_ns() + timeout_ns;
	enum ctl_status st;
	json_t *greeting;
	json_t *ret;

	memset(q, 0, sizeof(*q));
	q->fd = -1;
	q->path = path;
	q->timeout_ns = timeout_ns;
	if ((st = unix_connect(q, deadline, errp)) != CTL_OK)
		return st;
	if ((st = read_message(q, deadline, &greeting, errp)) != CTL_OK)
		return st;
	if (!greeting)
		return lost(q, errp, "no greeting from the daemon (timed out)");
	q->version = json_incref(json_object_get(json_object_get(greeting, "QMP"), "version"));
	json_decref(greeting);
	if (!q->version)
		return lost(q, errp, "not a QMP socket (no greeting)");
	st = ctl_qmp_execute(q, "qmp_capabilities", NULL, &ret, errp);
	if (st == CTL_DAEMON_ERROR)
		st = CTL_UNREACHABLE; /* a server that refuses negotiation is no use */
	json_decref(ret);
	return st;
}

enum ctl_status ctl_qmp_execute(struct ctl_qmp *q, const char *cmd, json_t *args, json_t **ret,
				struct sb_error **errp)
{
	uint64_t deadline = sb_now_ns() + q->timeout_ns;
	unsigned id = ++q->next_id;
	enum ctl_status st;
	json_t *req, *msg;
	char *text;

	*ret = NULL;
	req = json_pack("{s:s, s:I}", "execute", cmd, "id", (json_int_t)id);
	if (req && args)
		json_object_set(req, "arguments", args);
	json_decref(args);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		return lost(q, errp, "out of memory");
	st = send_all(q, text, deadline, errp);
	free(text);
	if (st != CTL_OK)
		return st;
	/* A signal does not cut a command short: the wait is bounded anyway. */
	for (;;) {
		if ((st = read_message(q, deadline, &msg, errp)) != CTL_OK)
			return st;
		if (!msg && sb_now_ns() >= deadline)
			return lost(q, errp, "no answer from the daemon (timed out; see --timeout)");
		if (msg && json_integer_value(json_object_get(msg, "id")) == id)
			break;
		json_decref(msg); /* an event, or a reply to an id not ours */
	}
	if (json_object_get(msg, "return")) {
		*ret = json_incref(json_object_get(msg, "return"));
		st = CTL_OK;
	} else {
		const char *desc = json_string_value(
			json_object_get(json_object_get(msg, "error"), "desc"));
		sb_error_set(errp, "%s", desc ? desc : "the daemon refused the command");
		st = CTL_DAEMON_ERROR;
	}
	json_decref(msg);
	return st;
}

enum ctl_status ctl_qmp_next_event(struct ctl_qmp *q, int timeout_ms, json_t **event,
				   struct sb_error **errp)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX
					   : sb_now_ns() + (uint64_t)timeout_ms * SB_NS_PER_MS;
	enum ctl_status st;

	for (;;) {
		if ((st = read_message(q, deadline, event, errp)) != CTL_OK || !*event)
			return st;
		if (json_object_get(*event, "event"))
			return CTL_OK;
		json_decref(*event); /* a late reply */
	}
}

void ctl_qmp_close(struct ctl_qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	free(q->buf);
	q->buf = NULL;
	json_decref(q->version);
	q->version = NULL;
}
