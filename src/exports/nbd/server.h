/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the NBD export: a server speaking the fixed newstyle NBD
 * protocol on unix sockets and TCP, handing requests to a disk.
 *
 * One server holds every listener; several exports (names) may share one
 * listening socket.  Each client connection is a sb_session of its disk:
 * when it goes away, its held requests are fenced, never re-issued.  A
 * client that misbehaves is disconnected alone; the others never notice.
 */
#ifndef SB_NBD_SERVER_H
#define SB_NBD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "core/disk.h"

struct sb_nbd_server;
struct sb_budget;

/* 256 clients: a host's VMs with a few connections each (multi-conn) plus
 * tools, far below the usual 1024 descriptors; each costs ~110 KiB when
 * idle (input buffer, request slots), 28 MiB for all of them. */
#define SB_NBD_DEFAULT_MAX_CONNECTIONS 256u
#define SB_NBD_DEFAULT_STALL_NS (30 * SB_NS_PER_SEC)
#define SB_NBD_MAX_CONNECTIONS_LIMIT 65536u

struct sb_nbd_limits {
	/* Payload bytes of every client together (requests read and not yet
	 * answered, their buffers included); shared, so several servers or
	 * disks may draw on one number.  NULL = unbounded.  Must outlive the
	 * server. */
	struct sb_budget *budget;
	/* Clients at once, handshakes included; a further one is accepted and
	 * closed at once.  0 = SB_NBD_DEFAULT_MAX_CONNECTIONS. */
	unsigned max_connections;
	/* A client that holds budget other clients wait for, while it sends
	 * none of a payload it owes or reads none of its replies, is
	 * disconnected after between 1 and 1.25 times this (stall.c).  0 = never. */
	uint64_t stall_ns;
};

/* TLS (GnuTLS), as nbdkit and qemu-nbd offer it: */
enum sb_nbd_tls_mode {
	SB_NBD_TLS_OFF,      /* NBD_OPT_STARTTLS refused */
	SB_NBD_TLS_ON,       /* clients choose */
	SB_NBD_TLS_REQUIRE,  /* every option but STARTTLS and ABORT refused before TLS */
};

struct sb_nbd_tls_config {
	enum sb_nbd_tls_mode mode;
	/* One of these two: a directory with server-cert.pem, server-key.pem
	 * and optionally ca-cert.pem and ca-crl.pem; or a PSK file as psktool
	 * writes it (one "identity:hex-key" per line). */
	const char *certificates;
	const char *psk_file;
	bool verify_peer;    /* X.509: clients must show a certificate ca-cert.pem signed */
};

/* Returns a server with nothing to serve yet, on @loop (its disks must live
 * on the same loop), within @lim (NULL = the defaults), or NULL if out of
 * memory. */
struct sb_nbd_server *sb_nbd_server_new(struct sb_loop *loop, const struct sb_nbd_limits *lim);

/* Turns TLS on for every client (before the first export is added).
 * Loads the credentials now, so a missing key or a typo fails at start.
 * Returns 0, or -1 with *errp set. */
int sb_nbd_server_set_tls(struct sb_nbd_server *srv, const struct sb_nbd_tls_config *cfg,
			  struct sb_error **errp);

/* Adds an export of @disk at @uri: "nbd+unix:///NAME?socket=PATH" or
 * "nbd://HOST:PORT/NAME" (an empty NAME is the default export; HOST is a
 * numeric address, 127.0.0.1 or [::1]; port 0 lets the kernel choose).
 * Listens at once; a unix socket is created 0660, replacing a stale socket
 * file but never a live one or anything that is not a socket.  @read_only
 * refuses writes with EPERM (a read-only backend does so anyway).  Returns 0,
 * or -1 with *errp naming the problem (bad URI, the same name twice on one
 * socket, bind failure ...). */
int sb_nbd_server_add_export(struct sb_nbd_server *srv, const char *uri,
			     struct sb_disk *disk, bool read_only,
			     struct sb_error **errp);

/* Writes the canonical URI of export number @i (in the order added, with
 * the port the kernel chose for port 0; nbds: when TLS is on) into @buf, for --run's $uri and the
 * start-up message.  Returns false past the last export or if @len is too
 * short. */
bool sb_nbd_server_export_uri(const struct sb_nbd_server *srv, unsigned i,
			      char *buf, size_t len);

/* Shutdown, step 1: stops listening (removing the unix socket files) and
 * closes every client: their waiting requests are fenced (never re-issued);
 * requests in flight at the backend are left to finish. */
void sb_nbd_server_shutdown(struct sb_nbd_server *srv);
/* Requests of all clients still in flight at the backend. */
uint64_t sb_nbd_server_inflight(const struct sb_nbd_server *srv);
/* Shutdown, step 2: frees everything (shutting down first if needed).  Call
 * it once sb_nbd_server_inflight() is 0: a request still in flight would
 * complete into freed memory.  NULL is allowed. */
void sb_nbd_server_free(struct sb_nbd_server *srv);


/* ---- read-only views, for query-disks ---- */
struct sb_nbd_export_view {
	unsigned index;            /* in the order added (sb_nbd_server_export_uri) */
	const char *name;
	const char *uri;           /* canonical; "" if it did not fit */
	struct sb_disk *disk;
	bool read_only;
};

struct sb_nbd_client_view {
	unsigned id;               /* as in "nbd client 3" */
	const char *name;          /* "nbd client 3 (unix:/run/a.sock)" */
	int export_index;          /* its export, -1 while in the handshake */
	uint32_t pending;          /* requests taken and not yet answered */
	uint32_t inflight;         /* of those, submitted to the disk */
};

/* Calls @fn for each export, then for each connected client; the views
 * are valid during the call only. */
void sb_nbd_server_foreach_export(const struct sb_nbd_server *srv,
				  void (*fn)(void *opaque, const struct sb_nbd_export_view *e),
				  void *opaque);
void sb_nbd_server_foreach_client(const struct sb_nbd_server *srv,
				  void (*fn)(void *opaque, const struct sb_nbd_client_view *c),
				  void *opaque);

#endif
