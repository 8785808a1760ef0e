/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: a minimal HTTP/1.1 server on the event loop, enough for a
 * Prometheus scraper: GET and HEAD, one request per connection (Connection:
 * close), a bounded request head, answers built at once by a handler.
 */
#ifndef SB_HTTP_H
#define SB_HTTP_H

#include <stddef.h>

#include "base/error.h"
#include "base/loop.h"

struct sb_http_server;

/* What a handler answers.  @body is malloc'ed by the handler; the server
 * frees it. */
struct sb_http_response {
	int status;                 /* 200, 404 ... */
	const char *content_type;   /* static string */
	char *body;
	size_t len;
};

/* Builds the answer to GET (or HEAD) of @path (the request target without
 * its query string).  Returning with resp->body NULL means out of memory. */
typedef void (*sb_http_handler)(void *opaque, const char *path, struct sb_http_response *resp);

/* Listens on @addr, "HOST:PORT" (numeric) or "unix:PATH" (a socket file of
 * mode 0660: the owner and its group may connect), and answers requests with
 * @fn.  Returns the server or NULL with *errp set. */
struct sb_http_server *sb_http_server_new(struct sb_loop *loop, const char *addr,
					  sb_http_handler fn, void *opaque,
					  struct sb_error **errp);

/* Where it listens: "127.0.0.1:9187" (the port actually bound) or "unix:PATH". */
const char *sb_http_server_where(const struct sb_http_server *srv);

/* Closes every connection and the listener; removes a unix socket file. */
void sb_http_server_free(struct sb_http_server *srv);

#endif
