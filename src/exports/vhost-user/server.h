/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the vhost-user-blk export: the disk as a virtio-blk device
 * of a VM, QEMU's `-device vhost-user-blk-pci` connecting to a unix socket
 * steadyblk listens on (docs/vhost-user.md).  One front end at a time per
 * socket; it is one more session of the disk, so it shares the disk's
 * ordering, fencing and memory bound with the NBD clients. */
#ifndef SB_VHOST_USER_SERVER_H
#define SB_VHOST_USER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "core/disk.h"

struct sb_vu_server;

/* Does @uri name a vhost-user-blk export ("vhost-user-blk://...")? */
bool sb_vu_is_uri(const char *uri);

/* A server with no export yet, or NULL if out of memory. */
struct sb_vu_server *sb_vu_server_new(struct sb_loop *loop);

/* Adds an export of @disk at @uri:
 * "vhost-user-blk:///PATH[?num-queues=N][&read-only=on][&serial=ID]"
 * (PATH absolute; N from 1 to 16, 1 by default; ID up to 20 characters).
 * Listens at once (the socket file 0660, a stale one replaced).  Returns 0,
 * or -1 with *errp set. */
int sb_vu_server_add_export(struct sb_vu_server *srv, const char *uri, struct sb_disk *disk,
			    bool read_only, struct sb_error **errp);

/* The canonical URI of export @i into @buf; false past the last one. */
bool sb_vu_server_export_uri(const struct sb_vu_server *srv, unsigned i, char *buf, size_t len);

/* Stops listening (removing the socket files) and closes every front end:
 * held requests are fenced, requests at the backend left to finish. */
void sb_vu_server_shutdown(struct sb_vu_server *srv);
/* Requests of closed front ends still at the backend. */
uint64_t sb_vu_server_inflight(const struct sb_vu_server *srv);
/* Frees everything, once sb_vu_server_inflight() is 0.  NULL is allowed. */
void sb_vu_server_free(struct sb_vu_server *srv);

#endif
