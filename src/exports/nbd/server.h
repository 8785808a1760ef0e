/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the NBD export: a server speaking the fixed newstyle NBD
 * protocol on unix sockets and TCP, handing requests to a disk.
 *
 * One server holds every listener; several exports (names) may share one
 * listening socket.  Each client connection is a sb_session of its disk.
 */
#ifndef SB_NBD_SERVER_H
#define SB_NBD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "core/disk.h"

struct sb_nbd_server;

struct sb_nbd_server *sb_nbd_server_new(struct sb_loop *loop);

/* Adds an export of @disk at @uri: "nbd+unix:///NAME?socket=PATH" or
 * "nbd://HOST:PORT/NAME" (an empty NAME is the default export).  Listens at
 * once.  Returns 0 or -1 with *errp naming the problem. */
int sb_nbd_server_add_export(struct sb_nbd_server *srv, const char *uri,
			     struct sb_disk *disk, bool read_only,
			     struct sb_error **errp);

/* Writes the canonical URI of export number @i into @buf (for --run's $uri
 * and the start-up message).  Returns false past the last export. */
bool sb_nbd_server_export_uri(const struct sb_nbd_server *srv, unsigned i,
			      char *buf, size_t len);

/* Shutdown, step 1: stops listening and closes every client: their waiting
 * requests are fenced (never re-issued); requests in flight at the backend
 * are left to finish. */
void sb_nbd_server_shutdown(struct sb_nbd_server *srv);
/* Requests of all clients still in flight at the backend. */
uint64_t sb_nbd_server_inflight(const struct sb_nbd_server *srv);
/* Shutdown, step 2: frees everything (call once nothing is in flight, or
 * when the shutdown bound has passed). */
void sb_nbd_server_free(struct sb_nbd_server *srv);

/* Clients connected now (for query-disks and metrics). */
unsigned sb_nbd_server_clients(const struct sb_nbd_server *srv);

#endif
