/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: a minimal HTTP/1.1 server on the event loop, for the metrics
 * endpoint.
 *
 * A connection's life, every step non-blocking and the whole bounded by
 * HTTP_TIMEOUT_NS:
 *
 *   accept -> read the request head (at most HTTP_HEAD_MAX bytes)
 *          -> answer (handler, or an error status) -> send
 *          -> shut down our side, read until the client closes -> close
 *
 * Reading until the client closes keeps the kernel from resetting the
 * connection (which could destroy the answer) when the client sent more
 * than we read.  One request per connection: Connection: close.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/parse.h"
#include "control/http.h"
#include "base/listen.h"

#define HTTP_HEAD_MAX 8192                      /* request line and headers */
#define HTTP_MAX_CONNS 16                       /* more wait in the backlog */
#define HTTP_TIMEOUT_NS (10 * SB_NS_PER_SEC)    /* a whole exchange */
#define ACCEPT_RETRY_NS (100 * SB_NS_PER_MS)    /* after EMFILE and friends */

struct http_conn {
	struct sb_http_server *srv;
	int fd;
	struct sb_watch watch;
	struct sb_timer timer;            /* the exchange's deadline */
	char in[HTTP_HEAD_MAX];           /* the request head, as received */
	size_t in_len;
	char *out;                        /* the answer: out[out_off, out_len) to send */
	size_t out_off, out_len;
	bool draining;                    /* answered: read until the client closes */
	TAILQ_ENTRY(http_conn) link;
};

struct sb_http_server {
	struct sb_loop *loop;
	int fd;
	struct sb_watch watch;
	struct sb_timer accept_retry;
	bool accepting;                   /* the listener's watch is armed */
	bool closing;                     /* being freed: accept nothing more */
	char *unix_path;                  /* removed at free; NULL for TCP */
	char where[192];                  /* "HOST:PORT" or "unix:PATH" */
	sb_http_handler fn;
	void *opaque;
	TAILQ_HEAD(, http_conn) conns;
	unsigned nconns;
};

static void accept_resume(struct sb_http_server *srv);

static void conn_close(struct http_conn *c)
{
	struct sb_http_server *srv = c->srv;

	sb_loop_watch_del(srv->loop, &c->watch);
	sb_timer_cancel(srv->loop, &c->timer);
	close(c->fd);
	TAILQ_REMOVE(&srv->conns, c, link);
	srv->nconns--;
	free(c->out);
	free(c);
	accept_resume(srv); /* a slot is free again */
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	}
	return "Internal Server Error";
}

/* Queues the answer: head, then @resp's body unless @head_only.  Takes the body. */
static int conn_answer(struct http_conn *c, struct sb_http_response *resp, bool head_only)
{
	char head[512];
	int hlen;

	if (!resp->body) {
		resp->status = 500;
		resp->content_type = "text/plain; charset=utf-8";
		resp->body = strdup("out of memory\n");
		resp->len = resp->body ? strlen(resp->body) : 0;
	}
	hlen = snprintf(head, sizeof(head),
			"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			"%sConnection: close\r\n\r\n",
			resp->status, status_text(resp->status), resp->content_type, resp->len,
			resp->status == 405 ? "Allow: GET, HEAD\r\n" : "");
	c->out_len = (size_t)hlen + (head_only ? 0 : resp->len);
	c->out = malloc(c->out_len);
	if (c->out) {
		memcpy(c->out, head, (size_t)hlen);
		if (!head_only && resp->len)
			memcpy(c->out + hlen, resp->body, resp->len);
	}
	free(resp->body);
	return c->out ? 0 : -1;
}

/* An answer of our own: a status and a one-line text. */
static void error_response(struct sb_http_response *resp, int status)
{
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	resp->body = NULL;
	resp->len = 0;
	if (asprintf(&resp->body, "%s\n", status_text(status)) >= 0)
		resp->len = strlen(resp->body);
	else
		resp->body = NULL;
}

/* "GET /metrics?x=1 HTTP/1.1" in @line: the answer to it. */
static void handle_request(struct http_conn *c, char *line)
{
	struct sb_http_response resp = { 0 };
	char *method = line, *target, *version;
	bool head_only = false;

	target = strchr(method, ' ');
	version = target ? strchr(target + 1, ' ') : NULL;
	if (!version || target == method) {
		error_response(&resp, 400);
		goto out;
	}
	*target++ = '\0';
	*version++ = '\0';
	if (strncmp(version, "HTTP/1.", 7) != 0) {
		error_response(&resp, strncmp(version, "HTTP/", 5) == 0 ? 505 : 400);
		goto out;
	}
	head_only = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && !head_only) {
		error_response(&resp, 405);
		goto out;
	}
	if (target[0] != '/') {
		error_response(&resp, 400);
		goto out;
	}
	target[strcspn(target, "?#")] = '\0';
	c->srv->fn(c->srv->opaque, target, &resp);
out:
	if (conn_answer(c, &resp, head_only) < 0) {
		sb_warn("metrics: out of memory for an answer");
		c->out_len = 0;
	}
}

static void conn_send(struct http_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			sb_loop_watch_set(c->srv->loop, &c->watch, EPOLLOUT);
			return;
		}
		if (n < 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	/* All sent: tell the client, then wait for it to close. */
	shutdown(c->fd, SHUT_WR);
	c->draining = true;
	if (sb_loop_watch_set(c->srv->loop, &c->watch, EPOLLIN) < 0)
		conn_close(c);
}

/* The head ends at the first empty line. */
static bool head_complete(const struct http_conn *c)
{
	return memmem(c->in, c->in_len, "\r\n\r\n", 4) || memmem(c->in, c->in_len, "\n\n", 2);
}

static void conn_read(struct http_conn *c)
{
	char drain[4096];
	ssize_t n;

	if (c->draining) {
		n = recv(c->fd, drain, sizeof(drain), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c); /* gone before asking anything */
		return;
	}
	c->in_len += (size_t)n;
	if (head_complete(c)) {
		c->in[strcspn(c->in, "\r\n")] = '\0'; /* only the request line matters */
		handle_request(c, c->in);
	} else if (c->in_len == sizeof(c->in)) {
		struct sb_http_response resp;

		error_response(&resp, 431);
		if (conn_answer(c, &resp, false) < 0)
			c->out_len = 0;
	} else {
		return;
	}
	conn_send(c);
}

static void conn_event(void *opaque, uint32_t events)
{
	struct http_conn *c = opaque;

	if (events & EPOLLERR) {
		conn_close(c);
		return;
	}
	if (c->out && !c->draining)
		conn_send(c);
	else
		conn_read(c);
}

static void conn_timeout(void *opaque)
{
	struct http_conn *c = opaque;

	sb_debug("metrics: a client took longer than %llu s: disconnected",
		 (unsigned long long)(HTTP_TIMEOUT_NS / SB_NS_PER_SEC));
	conn_close(c);
}

static void conn_new(struct sb_http_server *srv, int fd)
{
	struct http_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	sb_watch_init(&c->watch, fd, conn_event, c);
	if (sb_loop_watch_add(srv->loop, &c->watch, EPOLLIN) < 0) {
		close(fd);
		free(c);
		return;
	}
	sb_timer_init(&c->timer, conn_timeout, c);
	sb_timer_arm(srv->loop, &c->timer, sb_now_ns() + HTTP_TIMEOUT_NS);
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	srv->nconns++;
}

static void accept_pause(struct sb_http_server *srv)
{
	if (srv->accepting) {
		sb_loop_watch_del(srv->loop, &srv->watch);
		srv->accepting = false;
	}
}

static void accept_resume(struct sb_http_server *srv)
{
	if (srv->accepting || srv->closing || srv->nconns >= HTTP_MAX_CONNS ||
	    srv->accept_retry.armed)
		return;
	if (sb_loop_watch_add(srv->loop, &srv->watch, EPOLLIN) == 0)
		srv->accepting = true;
	else
		sb_timer_arm(srv->loop, &srv->accept_retry, sb_now_ns() + ACCEPT_RETRY_NS);
}

static void accept_retry(void *opaque)
{
	accept_resume(opaque);
}

static void server_accept(void *opaque, uint32_t events)
{
	struct sb_http_server *srv = opaque;

	while (srv->nconns < HTTP_MAX_CONNS) {
		int fd = sb_listen_accept(srv->fd, NULL, NULL);

		if (fd == -EAGAIN)
			return;
		if (fd < 0) {
			/* Out of fds or memory: the socket stays readable, so
			 * pause instead of spinning on it. */
			sb_warn("metrics: accept on %s: %s", srv->where, strerror(-fd));
			accept_pause(srv);
			sb_timer_arm(srv->loop, &srv->accept_retry, sb_now_ns() + ACCEPT_RETRY_NS);
			return;
		}
		conn_new(srv, fd);
	}
	/* Every slot busy: the next clients wait in the backlog. */
	accept_pause(srv);
}

static int server_listen(struct sb_http_server *srv, const char *addr, struct sb_error **errp)
{
	const char *path = addr + 5;

	if (strncmp(addr, "unix:", 5) != 0) {
		srv->fd = sb_listen_tcp(addr, srv->where, sizeof(srv->where), errp);
		return srv->fd < 0 ? -1 : 0;
	}
	if (!*path)
		return sb_error_set(errp, "'unix:' needs a socket path, e.g. "
				    "unix:/run/steadyblk/metrics.sock");
	if (!(srv->unix_path = sb_absolute_path(path)))
		return sb_error_set(errp, "out of memory");
	snprintf(srv->where, sizeof(srv->where), "unix:%s", srv->unix_path);
	srv->fd = sb_listen_unix(srv->unix_path, 0660, errp);
	return srv->fd < 0 ? -1 : 0;
}

struct sb_http_server *sb_http_server_new(struct sb_loop *loop, const char *addr,
					  sb_http_handler fn, void *opaque,
					  struct sb_error **errp)
{
	struct sb_http_server *srv = calloc(1, sizeof(*srv));

	if (!srv) {
		sb_error_set(errp, "out of memory");
		return NULL;
	}
	srv->loop = loop;
	srv->fd = -1;
	srv->fn = fn;
	srv->opaque = opaque;
	TAILQ_INIT(&srv->conns);
	sb_timer_init(&srv->accept_retry, accept_retry, srv);
	if (server_listen(srv, addr, errp) < 0) {
		sb_http_server_free(srv);
		return NULL;
	}
	sb_watch_init(&srv->watch, srv->fd, server_accept, srv);
	accept_resume(srv);
	return srv;
}

const char *sb_http_server_where(const struct sb_http_server *srv)
{
	return srv->where;
}

void sb_http_server_free(struct sb_http_server *srv)
{
	struct http_conn *c;

	if (!srv)
		return;
	srv->closing = true;
	while ((c = TAILQ_FIRST(&srv->conns)))
		conn_close(c);
	accept_pause(srv);
	sb_timer_cancel(srv->loop, &srv->accept_retry);
	if (srv->fd >= 0) {
		close(srv->fd);
		if (srv->unix_path)
			unlink(srv->unix_path);
	}
	free(srv->unix_path);
	free(srv);
}
