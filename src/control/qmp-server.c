/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the QMP socket: listener, clients, framing, greeting, replies
 * and the event broadcast.
 *
 * A client's life:
 *
 *   accept -> greeting -> negotiation mode --qmp_capabilities--> command mode
 *                                                      (events delivered)
 *   bytes in -> json-stream (one text at a time) -> dispatch -> reply queued
 *   output queued -> sent at once, the rest on EPOLLOUT
 *   EOF from the client -> replies finish going out -> closed
 *
 * Memory per client is bounded both ways: one command is at most
 * QMP_INPUT_MAX bytes, and a client that does not read what it is sent is
 * dropped once QMP_OUTPUT_MAX bytes wait for it; nothing it does can make
 * the daemon grow.  A client is only marked dead while a batch runs (an
 * event may kill one in the middle of another's command) and freed after.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/parse.h"
#include "control/json-stream.h"
#include "base/listen.h"
#include "control/qmp-internal.h"

#define QMP_INPUT_MAX (64 * 1024)      /* one command */
#define QMP_OUTPUT_MAX (1024 * 1024)   /* queued for a client that does not read */
#define QMP_MAX_CLIENTS 64
#define ACCEPT_RETRY_NS (100 * SB_NS_PER_MS)

struct qmp_client {
	struct sb_qmp_conn conn;          /* protocol state handed to commands */
	unsigned id;                      /* names it in logs: "qmp client 3" */
	int fd;
	struct sb_watch watch;
	struct sb_json_stream in;
	char *out;                        /* queued output: out[out_off, out_len) */
	size_t out_off, out_len, out_cap;
	bool eof;                         /* the client has nothing more to say */
	bool dead;                        /* closed; freed by the server's reap */
	TAILQ_ENTRY(qmp_client) link;
};

static void client_kill(struct qmp_client *c)
{
	struct sb_qmp_server *srv = c->conn.srv;

	if (c->dead)
		return;
	c->dead = true;
	sb_loop_watch_del(srv->loop, &c->watch);
	close(c->fd);
	c->fd = -1;
	srv->nclients--;
	sb_loop_defer(srv->loop, &srv->reap);
	sb_debug("qmp client %u: disconnected", c->id);
}

static void server_reap(void *opaque)
{
	struct sb_qmp_server *srv = opaque;
	struct qmp_client *c, *next;

	TAILQ_FOREACH_SAFE(c, &srv->clients, link, next) {
		if (!c->dead)
			continue;
		TAILQ_REMOVE(&srv->clients, c, link);
		sb_json_stream_fini(&c->in);
		free(c->out);
		free(c);
	}
}

static void client_flush(struct qmp_client *c)
{
	uint32_t events;

	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			sb_debug("qmp client %u: send: %s", c->id, strerror(errno));
			client_kill(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->eof) {
			client_kill(c); /* everything answered */
			return;
		}
	}
	events = (c->eof ? 0 : EPOLLIN) | (c->out_len ? EPOLLOUT : 0);
	if (sb_loop_watch_set(c->conn.srv->loop, &c->watch, events) < 0)
		client_kill(c);
}

static bool client_append(struct qmp_client *c, const char *data, size_t len)
{
	size_t queued = c->out_len - c->out_off;

	if (c->dead)
		return false;
	if (queued + len > QMP_OUTPUT_MAX) {
		sb_warn("qmp client %u: does not read its replies and events (%zu bytes "
			"waiting): disconnected", c->id, queued + len);
		client_kill(c);
		return false;
	}
	if (c->out_len + len > c->out_cap && c->out_off) {
		memmove(c->out, c->out + c->out_off, queued);
		c->out_off = 0;
		c->out_len = queued;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + len)
			cap *= 2;
		if (!(p = realloc(c->out, cap))) {
			sb_err("qmp client %u: out of memory for its output: disconnected", c->id);
			client_kill(c);
			return false;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return true;
}

/* Queues one line of protocol (QMP ends each with CRLF) and sends what it can. */
static void client_send_text(struct qmp_client *c, const char *text, size_t len)
{
	if (client_append(c, text, len) && client_append(c, "\r\n", 2))
		client_flush(c);
}

static void client_send(struct qmp_client *c, json_t *msg)
{
	char *text = msg ? json_dumps(msg, JSON_ENSURE_ASCII) : NULL;

	if (!text) {
		sb_err("qmp client %u: out of memory for a reply: disconnected", c->id);
		client_kill(c);
		return;
	}
	client_send_text(c, text, strlen(text));
	free(text);
}

/* {"return": RET, "id": ID} or {"error": {"class": ..., "desc": ...}, "id": ID}.
 * Takes the reference to @ret. */
static void client_reply(struct qmp_client *c, json_t *id, json_t *ret, const struct sb_error *err)
{
	json_t *msg;

	if (ret)
		msg = json_pack("{s:o}", "return", ret);
	else
		msg = json_pack("{s:{s:s, s:s}}", "error",
				"class", sb_qmp_error_class(err ? err->cls : SB_ERR_GENERIC),
				"desc", err ? err->msg : "out of memory");
	if (msg && id)
		json_object_set(msg, "id", id);
	client_send(c, msg);
	json_decref(msg);
}

static void client_execute(struct qmp_client *c, json_t *request)
{
	json_t *id = json_is_object(request) ? json_object_get(request, "id") : NULL;
	SB_AUTOERR struct sb_error *err = NULL;
	json_t *ret;

	ret = sb_qmp_dispatch(&c->conn, request, &err);
	client_reply(c, id, ret, err);
}

static void client_read(struct qmp_client *c)
{
	size_t room;
	char *p = sb_json_stream_space(&c->in, &room);
	ssize_t n = recv(c->fd, p, room, 0);

	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			sb_debug("qmp client %u: recv: %s", c->id, strerror(errno));
			client_kill(c);
		}
		return;
	}
	if (n == 0) {
		/* Half-closed (e.g. socat at the end of its input): answer what
		 * was asked, then close. */
		c->eof = true;
		client_flush(c);
		return;
	}
	sb_json_stream_added(&c->in, (size_t)n);
	while (!c->dead) {
		SB_AUTOERR struct sb_error *err = NULL;
		json_t *v = NULL;

		switch (sb_json_stream_next(&c->in, &v, &err)) {
		case SB_JSON_MORE:
			return;
		case SB_JSON_BAD:
			client_reply(c, NULL, NULL, err);
			break;
		case SB_JSON_VALUE:
			client_execute(c, v);
			json_decref(v);
			break;
		}
	}
}

static void client_io(void *opaque, uint32_t events)
{
	struct qmp_client *c = opaque;

	if (events & EPOLLERR) {
		client_kill(c);
		return;
	}
	if ((events & EPOLLOUT) || ((events & EPOLLHUP) && c->eof))
		client_flush(c);
	if (!c->dead && !c->eof && (events & (EPOLLIN | EPOLLHUP)))
		client_read(c);
}

static void client_new(struct sb_qmp_server *srv, int fd)
{
	struct qmp_client *c = calloc(1, sizeof(*c));
	json_t *greeting;

	if (!c || sb_json_stream_init(&c->in, QMP_INPUT_MAX) < 0) {
		sb_err("qmp: out of memory for a new client");
		free(c);
		close(fd);
		return;
	}
	c->conn.srv = srv;
	c->id = ++srv->next_id;
	c->fd = fd;
	sb_watch_init(&c->watch, fd, client_io, c);
	if (sb_loop_watch_add(srv->loop, &c->watch, EPOLLIN) < 0) {
		sb_err("qmp: cannot watch a new client: %s", strerror(errno));
		sb_json_stream_fini(&c->in);
		free(c);
		close(fd);
		return;
	}
	TAILQ_INSERT_TAIL(&srv->clients, c, link);
	srv->nclients++;
	sb_debug("qmp client %u: connected", c->id);

	greeting = json_pack("{s:{s:o, s:[]}}", "QMP", "version", sb_qmp_version_info(),
			     "capabilities");
	client_send(c, greeting);
	json_decref(greeting);
}

static void server_accept(void *opaque, uint32_t events)
{
	struct sb_qmp_server *srv = opaque;

	for (;;) {
		int fd = sb_listen_accept(srv->fd, NULL, NULL);

		if (fd == -EAGAIN)
			return;
		if (fd < 0) {
			/* Out of fds or memory: the socket stays readable, so
			 * pause instead of spinning on it. */
			sb_warn("qmp: accept on %s: %s", srv->path, strerror(-fd));
			sb_loop_watch_del(srv->loop, &srv->watch);
			sb_timer_arm(srv->loop, &srv->accept_retry, sb_now_ns() + ACCEPT_RETRY_NS);
			return;
		}
		if (srv->nclients >= QMP_MAX_CLIENTS) {
			sb_warn("qmp: %u clients connected already: connection refused",
				srv->nclients);
			close(fd);
			continue;
		}
		client_new(srv, fd);
	}
}

static void server_accept_retry(void *opaque)
{
	struct sb_qmp_server *srv = opaque;
	int r = sb_loop_watch_add(srv->loop, &srv->watch, EPOLLIN);

	if (r < 0) {
		sb_warn("qmp: cannot watch %s: %s", srv->path, strerror(-r));
		sb_timer_arm(srv->loop, &srv->accept_retry, sb_now_ns() + ACCEPT_RETRY_NS);
	}
}

static void server_quit(void *opaque)
{
	struct sb_qmp_server *srv = opaque;

	srv->hooks.quit(srv->hooks.opaque);
}

void sb_qmp_broadcast(struct sb_qmp_server *srv, const char *name, json_t *data)
{
	struct qmp_client *c;
	struct timespec ts;
	json_t *msg;
	char *text;
	size_t len;

	clock_gettime(CLOCK_REALTIME, &ts);
	msg = json_pack("{s:s, s:o, s:{s:I, s:I}}", "event", name, "data", data,
			"timestamp", "seconds", (json_int_t)ts.tv_sec,
			"microseconds", (json_int_t)(ts.tv_nsec / 1000));
	text = msg ? json_dumps(msg, JSON_ENSURE_ASCII) : NULL;
	json_decref(msg);
	if (!text) {
		sb_err("qmp: out of memory: event %s lost", name);
		return;
	}
	sb_debug("qmp: event %s", text);
	len = strlen(text);
	TAILQ_FOREACH(c, &srv->clients, link)
		if (!c->dead && c->conn.command_mode)
			client_send_text(c, text, len);
	free(text);
}

struct sb_qmp_server *sb_qmp_server_new(struct sb_loop *loop, const char *path,
					struct sb_disk *const *disks, size_t ndisks,
					const struct sb_qmp_hooks *hooks,
					struct sb_error **errp)
{
	struct sb_qmp_server *srv = calloc(1, sizeof(*srv));
	int r;

	if (!srv) {
		sb_error_set(errp, "QMP socket %s: out of memory", path);
		return NULL;
	}
	srv->loop = loop;
	srv->fd = -1;
	TAILQ_INIT(&srv->clients);
	sb_defer_init(&srv->quit, server_quit, srv);
	sb_defer_init(&srv->reap, server_reap, srv);
	sb_timer_init(&srv->accept_retry, server_accept_retry, srv);
	if (hooks)
		srv->hooks = *hooks;
	srv->ndisks = ndisks;
	srv->path = sb_absolute_path(path); /* removed at exit, maybe from another directory */
	srv->disks = calloc(ndisks ? ndisks : 1, sizeof(*srv->disks));
	if (!srv->path || !srv->disks) {
		sb_error_set(errp, "QMP socket %s: out of memory", path);
		goto fail;
	}
	memcpy(srv->disks, disks, ndisks * sizeof(*srv->disks));

	srv->fd = sb_listen_unix(srv->path, 0600, errp);
	if (srv->fd < 0) {
		sb_error_prefix(errp ? *errp : NULL, "QMP socket %s", path);
		goto fail;
	}
	sb_watch_init(&srv->watch, srv->fd, server_accept, srv);
	if ((r = sb_loop_watch_add(loop, &srv->watch, EPOLLIN)) < 0) {
		sb_error_set(errp, "QMP socket %s: %s", path, strerror(-r));
		goto fail;
	}
	if (!(srv->events = sb_qmp_events_new(srv, errp)))
		goto fail;
	sb_debug("qmp: listening on %s", path);
	return srv;

fail:
	sb_qmp_server_free(srv);
	return NULL;
}

void sb_qmp_server_free(struct sb_qmp_server *srv)
{
	struct qmp_client *c;

	if (!srv)
		return;
	sb_qmp_events_free(srv->events);
	TAILQ_FOREACH(c, &srv->clients, link) {
		if (!c->dead)
			client_flush(c); /* last words (a quit reply), if they fit */
		client_kill(c);
	}
	server_reap(srv);
	sb_loop_defer_cancel(srv->loop, &srv->reap);
	sb_loop_defer_cancel(srv->loop, &srv->quit);
	sb_timer_cancel(srv->loop, &srv->accept_retry);
	if (srv->fd >= 0) {
		sb_loop_watch_del(srv->loop, &srv->watch);
		close(srv->fd);
		unlink(srv->path);
	}
	free(srv->disks);
	free(srv->path);
	free(srv);
}
