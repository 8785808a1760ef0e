/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: listening sockets for the NBD server, the QMP socket and the
 * metrics endpoint: a unix socket created with the right permissions from its
 * first instant (a stale one replaced, a live one left alone), or a numeric
 * TCP address.
 */
#ifndef SB_LISTEN_H
#define SB_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "base/error.h"

/* Listens on the unix socket @path, whose file gets @mode (e.g. 0600) before
 * it exists, so nobody else can connect even for an instant.  A socket file
 * left by a dead process is replaced; one that a live process listens on, or
 * a file that is not a socket, is an error.  Returns the listening fd
 * (non-blocking, close-on-exec) or -1 with *errp set (the path is not
 * repeated in the message). */
int sb_listen_unix(const char *path, mode_t mode, struct sb_error **errp);

/* Listens on @hostport: "127.0.0.1:9187", "[::1]:9187" (numeric only; port
 * 0 picks a free one).  Writes the address actually bound, in the same
 * form, into @where.  Returns the listening fd (non-blocking, close-on-exec)
 * or -1 with *errp set. */
int sb_listen_tcp(const char *hostport, char *where, size_t len, struct sb_error **errp);

/* Accepts one connection on the non-blocking @listen_fd; the peer's address
 * goes into @peer and @plen when they are not NULL.  Returns the new
 * fd (non-blocking, close-on-exec); -EAGAIN when nobody is waiting; another
 * -errno (out of fds or memory) when the caller should stop accepting for a
 * while, since the socket stays readable.  Aborted connections and signals
 * are skipped here. */
int sb_listen_accept(int listen_fd, struct sockaddr_storage *peer, socklen_t *plen);

#endif
