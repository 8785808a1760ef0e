/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the management socket, speaking QMP (QEMU's machine protocol).
 *
 * A unix socket that QEMU's tools, libvirt-style clients and scripts already
 * know how to talk to: a greeting, capabilities negotiation, commands with an
 * optional id, and asynchronous events with timestamps.  The commands and
 * events are documented in docs/qmp.md.
 */
#ifndef SB_QMP_H
#define SB_QMP_H

#include <stddef.h>

#include "base/error.h"
#include "base/loop.h"
#include "core/disk.h"

struct sb_qmp_server;
struct sb_nbd_server;

struct sb_qmp_hooks {
	/* The `quit` command: the daemon shuts down.  Called from the loop
	 * after the reply was sent; it must not free the server itself (stop
	 * the loop, and free it afterwards).  NULL refuses `quit`. */
	void (*quit)(void *opaque);
	void *opaque;
	/* Optional - may be NULL.  The NBD server whose exports and clients
	 * query-disks lists; it must outlive the QMP server. */
	const struct sb_nbd_server *nbd;
};

/* Listens on the unix socket @path (created 0600: only its owner may
 * connect), serving @ndisks disks, which must outlive the server.  A stale
 * socket file left by a dead daemon is replaced; a live one is an error.
 * @hooks is copied.  Returns the server or NULL with *errp set. */
struct sb_qmp_server *sb_qmp_server_new(struct sb_loop *loop, const char *path,
					struct sb_disk *const *disks, size_t ndisks,
					const struct sb_qmp_hooks *hooks,
					struct sb_error **errp);

/* Closes every client (output still queued is sent if the socket takes it
 * at once), stops observing the disks and removes the socket file. */
void sb_qmp_server_free(struct sb_qmp_server *srv);

#endif
