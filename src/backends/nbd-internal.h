/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the NBD backend's private state, shared by its three files:
 *
 *   nbd.c          the driver: open, submit, completions, request deadlines,
 *                  connection loss
 *   nbd-connect.c  the connection: our own socket, libnbd's handshake on it,
 *                  the bounded start-up connect, reconnects with backoff
 *   nbd-uri.c      nbd:// and nbd+unix:// URIs
 *
 * The connection's life (one connection at a time):
 *
 *            backoff timer or kick
 *   DOWN ---------------------------> CONNECTING (our non-blocking connect())
 *    ^  ^                                 | writable, SO_ERROR = 0
 *    |  |  refused, timeout, size        v
 *    |  +------------------------- HANDSHAKE (libnbd negotiates on the socket)
 *    |                                    | ready, same size
 *    |  dead or closed handle, ESHUTDOWN  v
 *    +-------- reply, request timeout -- UP (requests go out)
 *
 * Requests live on two lists through their context in req->backend_ctx:
 * `inflight` (sent on the current connection, oldest first) and `done`
 * (answered, or failed by a connection loss, waiting to be handed to the
 * core from a deferred call, never from inside a libnbd call).  A request is
 * on at most one list, and its state says which: that is what makes a
 * request complete exactly once when libnbd's callback and our own failing
 * of it could both want to (DESIGN.md invariant 4).
 */
#ifndef SB_BACKENDS_NBD_INTERNAL_H
#define SB_BACKENDS_NBD_INTERNAL_H

#include <libnbd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "backends/backend.h"
#include "base/error.h"
#include "base/loop.h"

#define NBDBE_MAX_ADDRS 4                        /* addresses of a host name we try */
#define NBDBE_BACKOFF_MIN_NS (50 * SB_NS_PER_MS) /* first delay between attempts ... */
#define NBDBE_BACKOFF_MAX_NS (1 * SB_NS_PER_SEC) /* ... doubling up to this */
#define NBDBE_CONNECT_NS (30 * SB_NS_PER_SEC)    /* bound of one attempt with --backend-timeout 0 */
#define NBDBE_SYN_NS (2 * SB_NS_PER_SEC)         /* bound of one TCP connect(): then a fresh SYN */
#define NBDBE_LIBNBD_MAX_REQUEST (64u << 20)     /* libnbd refuses larger reads and writes */
#define NBDBE_DEFAULT_PAYLOAD    (32u << 20)     /* what every server takes (proto.md) */
#define NBDBE_SLOW_LOG_NS (10 * SB_NS_PER_SEC)   /* at most one slow-request warning per ... */

/* ---- where the server is (nbd-uri.c) ---- */
struct nbdbe_target {
	bool is_unix;
	char *host;        /* TCP: name or address, without brackets */
	char *port;        /* TCP: "10809" unless given */
	char *socket;      /* unix: absolute path of the socket */
	char *export_name; /* "" = the default export */
	bool tls;          /* nbds: TLS required */
	char *tls_certificates; /* X.509: libnbd's certificate directory */
	char *tls_psk_file;     /* or PSK: psktool's key file ... */
	char *tls_username;     /* ... and the identity (NULL: the login name) */
	bool tls_verify_peer;   /* false only where the URI says so */
};

/* Parses "nbd://HOST[:PORT][/NAME]" or "nbd+unix:///[NAME]?socket=PATH", or
 * their nbds forms with TLS keys (nbd-uri.c says which)
 * (percent-escapes decoded; a relative PATH is made absolute, so a later
 * chdir changes nothing).  Returns 0 and fills @t (free with
 * sb_nbdbe_target_clear), or -1 with *errp naming the problem. */
int sb_nbdbe_target_parse(const char *uri, struct nbdbe_target *t, struct sb_error **errp);
void sb_nbdbe_target_clear(struct nbdbe_target *t);

/* ---- the backend ---- */
enum nbdbe_state {
	NBDBE_DOWN,
	NBDBE_CONNECTING,
	NBDBE_HANDSHAKE,
	NBDBE_UP,
};

enum nbdbe_req_state {
	NBDBE_REQ_IDLE,     /* the core owns it */
	NBDBE_REQ_INFLIGHT, /* on `inflight`: libnbd's callback will settle it */
	NBDBE_REQ_DONE,     /* on `done`: settled, awaiting delivery to the core */
};

struct nbdbe;

/* Per-request context, in req->backend_ctx (no allocation per I/O). */
struct nbdbe_req {
	enum nbdbe_req_state state;
	int err;                      /* DONE: 0 or -errno for the core */
	uint64_t deadline_ns;         /* INFLIGHT: the backend timeout ends here */
	bool slow;                    /* INFLIGHT: outlived it, waited for (counted once) */
	struct nbdbe *nb;             /* libnbd's callback gets only this context */
	TAILQ_ENTRY(nbdbe_req) link;  /* on `inflight` or `done` */
};

TAILQ_HEAD(nbdbe_req_list, nbdbe_req);

struct nbdbe_addr {
	struct sockaddr_storage sa;
	socklen_t len;
};

struct nbdbe {
	struct sb_backend be;
	struct sb_loop *loop;
	struct nbdbe_target target;
	struct nbdbe_addr addrs[NBDBE_MAX_ADDRS]; /* resolved once, at open */
	unsigned naddrs;
	unsigned next_addr;           /* the address the next attempt uses */
	uint64_t timeout_ns;          /* --backend-timeout, 0 = none */
	enum sb_timeout_action timeout_action; /* past it: wait, or abandon the connection */
	uint32_t caps_first;          /* capabilities of the first connection */
	uint32_t conn_caps;           /* this connection's capabilities (block status and
					 cache may differ from the first's) */
	bool running;                 /* open() is done: failures schedule reconnects */

	/* The connection. */
	enum nbdbe_state state;
	int fd;                       /* our socket; libnbd owns it from HANDSHAKE on */
	struct nbd_handle *h;         /* HANDSHAKE and UP */
	bool going_away;              /* an ESHUTDOWN reply came: the server is leaving */
	bool refused;                 /* the server answered but refused the export */
	struct sb_watch watch;        /* on fd, re-armed before every wait */
	struct sb_hook prepare;
	struct sb_timer conn_timer;   /* DOWN: the next attempt; CONNECTING and
					 HANDSHAKE: the attempt's deadline */
	uint64_t connect_deadline_ns; /* the attempt's deadline (conn_timer) */
	uint64_t backoff_ns;          /* delay before the next attempt, 0 = at once;
					 reset by a request that succeeds */
	struct sb_timer deadline;     /* UP: the oldest request's deadline */
	uint64_t down_since_ns;       /* start of the current outage, 0 while up */
	unsigned attempts;            /* failed attempts in the current outage */
	int last_err;                 /* -errno of the last failure */
	char last_msg[256];           /* ... and what it was, for logs and errors */

	/* Requests. */
	struct nbdbe_req_list inflight; /* oldest first, so the head expires first */
	struct nbdbe_req_list done;
	struct sb_defer deliver;

	/* For describe_state and the logs. */
	uint64_t reconnects;
	uint64_t timeouts;            /* connections abandoned on a request timeout */
	uint64_t slow_requests;       /* requests that outlived the timeout, waited for */
	uint64_t slow_warned_ns;      /* the last slow-request warning ... */
	uint64_t slow_quiet;          /* ... and how many were not logged since */
	uint64_t slow_done_logged_ns; /* the last "a slow request completed" line */
	char state_json[256];
};

/* ---- the connection (nbd-connect.c) ---- */

/* Resolves the target's address (blocking: open() only).  Returns 0 or -1. */
int sb_nbdbe_resolve(struct nbdbe *nb, struct sb_error **errp);
/* Connects before the daemon serves (running the loop itself), retrying a
 * server that refuses or is not there yet with backoff, for at most the
 * backend timeout; a stopped loop (SIGTERM, SIGINT) ends it at once.
 * Returns 0 with the connection UP, or -1 with *errp naming the URI and the
 * last failure, or saying it was interrupted. */
int sb_nbdbe_connect_initial(struct nbdbe *nb, struct sb_error **errp);
/* Starts a connection attempt now unless one is under way or up. */
void sb_nbdbe_attempt(struct nbdbe *nb);
/* nb->conn_timer's function: the next attempt, or the attempt's deadline. */
void sb_nbdbe_conn_timer(void *opaque);
/* Drives a connection that is not UP yet after poll/epoll reported @events. */
void sb_nbdbe_connect_io(struct nbdbe *nb, uint32_t events);
/* Hands @events on the socket to libnbd (HANDSHAKE, UP).  Completion
 * callbacks may run inside.  Returns 0, or -errno with nb->last_msg set. */
int sb_nbdbe_notify(struct nbdbe *nb, uint32_t events);
/* The epoll events the connection waits for now (0 when DOWN). */
uint32_t sb_nbdbe_events(struct nbdbe *nb);
/* A connection that is not UP failed: records @err (-errno) and @msg, tears
 * it down and, once running, schedules the next attempt. */
void sb_nbdbe_connect_failed(struct nbdbe *nb, int err, const char *msg);
/* Closes the socket and the handle (no libnbd callback fires afterwards)
 * and goes DOWN.  @abortive resets the TCP connection so that data still in
 * our send queue (a write we are about to fail) never reaches the server. */
void sb_nbdbe_teardown(struct nbdbe *nb, bool abortive);
/* After a loss or a failed attempt: arms the next attempt after the
 * backoff, and doubles the backoff. */
void sb_nbdbe_schedule_retry(struct nbdbe *nb);

#endif
