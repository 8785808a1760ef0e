/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the NBD server's private state, shared by its files:
 *
 *   uri.c           export URIs: parse and format
 *   server.c        the server, its exports and listeners, accept
 *   conn.c          a client connection: socket input, output queue, close
 *   handshake.c     fixed newstyle option haggling
 *   transmission.c  requests: validate, submit to the disk, reply
 *   tls.c           TLS: credentials, and each connection's GnuTLS session
 *   stall.c         a client that pins the memory budget and stalls
 *
 * A connection's life:
 *
 *   accept -> HANDSHAKE --(GO / EXPORT_NAME)--> TRANSMISSION --(DISC)--> draining
 *     |          |                                    |                     |
 *     |          +-- violation, timeout, ABORT, ------+-- EOF, error -------+-- hang-up:
 *     |              dropped for a newcomer           |     session detached (held
 *     |                                               |     requests fenced) at once;
 *     +-- over --max-connections: closed at once      |     closing once answered
 *                                                     v
 *                         closing: socket closed, session detached (waiting
 *                         requests fenced), freed when the last request
 *                         in flight at the backend has completed
 */
#ifndef SB_NBD_INTERNAL_H
#define SB_NBD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/budget.h"
#include "base/error.h"
#include "base/loop.h"
#include "core/disk.h"
#include "exports/nbd/proto.h"
#include "exports/nbd/server.h"

/* ---- limits ---- */
#define NBD_DEFAULT_PORT       10809
#define NBD_RBUF_SIZE          (64u * 1024)           /* per-connection input buffer */
/* Longest option data we read: room for the longest name the protocol
 * allows (NBD_MAX_STRING, which an export may have) with what goes around
 * it in INFO/GO, and in a META_CONTEXT option a longest query too. */
#define NBD_MAX_OPTION         (4u * NBD_MAX_STRING)
#define NBD_HS_OUT_MAX         (64u * 1024)           /* unread option replies before we stop reading */
#define NBD_HANDSHAKE_NS       (10 * SB_NS_PER_SEC)   /* accept -> transmission */
#define NBD_MAX_PAYLOAD        (32u * 1024 * 1024)    /* advertised maximum payload */
#define NBD_HARD_PAYLOAD       (64u * 1024 * 1024)    /* a larger write is discarded... */
#define NBD_MAX_REQUESTS       128u                   /* slots per connection */
#define NBD_REPLY_HEAD_MAX     32u  /* a hole chunk: header, offset, size */
#define NBD_META_ID            1u   /* base:allocation's context id */
#define NBD_BS_EXTENTS         256u /* descriptors in one block status reply */
/* Payload memory is bounded by the server's budget (sb_nbd_limits); idle
 * buffers kept for reuse are outside it, so they are capped twice: */
#define NBD_KEEP_BUF_BYTES     (2u * 1024 * 1024)     /* ... per connection */
#define NBD_IDLE_BUF_BYTES     (16u * 1024 * 1024)    /* ... per server */
/* Handshakes in progress: past this, the oldest is dropped for a newcomer.
 * A real client's handshake takes milliseconds, so only clients that sit in
 * it (a slowloris) are the oldest. */
#define NBD_MAX_HANDSHAKES     64u
/* With every connection taken, a handshake this old yields its place. */
#define NBD_HS_STALE_NS        (1 * SB_NS_PER_SEC)
#define NBD_REFUSE_LOG_NS      (1 * SB_NS_PER_SEC)    /* one "refused" line per second */
#define NBD_BUF_ALIGN          4096u                  /* data buffers suit O_DIRECT */
#define NBD_TLS_IN_SIZE        NBD_RBUF_SIZE          /* TLS bytes read ahead (tls.c) */
#define NBD_TLS_RECORD         16384u                 /* TLS's largest record payload */
/* Stalls are looked at NBD_STALL_TICKS times per --stall-timeout; a client
 * moving fewer than NBD_STALL_MIN_BYTES in a tick made no progress. */
#define NBD_STALL_TICKS        4u
#define NBD_STALL_MIN_BYTES    (64u * 1024)

/* ---- URIs (uri.c) ---- */
enum nbd_transport { NBD_UNIX, NBD_TCP };

struct nbd_uri {
	enum nbd_transport transport;
	char *name;                       /* export name, decoded; "" = default */
	char *socket;                     /* NBD_UNIX: socket path, decoded */
	struct sockaddr_storage addr;     /* NBD_TCP: numeric address and port */
	socklen_t addrlen;
	bool tls;                         /* formatted as nbds: the server requires
					     or offers TLS (never parsed) */
};

/* Parses "nbd+unix:///NAME?socket=PATH" or "nbd://HOST[:PORT][/NAME]" (HOST
 * numeric: 127.0.0.1 or [::1]; port 10809 by default).  Returns 0 and fills
 * @u (free with nbd_uri_clear), or -1 with *errp set and @u cleared. */
int nbd_uri_parse(const char *s, struct nbd_uri *u, struct sb_error **errp);
void nbd_uri_clear(struct nbd_uri *u);
/* Writes the canonical form of @u into @buf.  Returns false if it did not fit. */
bool nbd_uri_format(const struct nbd_uri *u, char *buf, size_t len);
/* Writes "unix:PATH" or "HOST:PORT" (for log lines). */
void nbd_uri_where(const struct nbd_uri *u, char *buf, size_t len);
uint16_t nbd_uri_port(const struct nbd_uri *u);

/* ---- exports and listeners (server.c) ---- */
struct nbd_listener;

struct nbd_export {
	char *name;
	struct sb_disk *disk;
	struct nbd_listener *listener;
	bool read_only;                   /* asked for, or the backend's */
	uint16_t tx_flags;                /* NBD_FLAG_* sent to clients */
	uint32_t block_min, block_pref, block_max; /* advertised constraints */
	TAILQ_ENTRY(nbd_export) srv_link; /* server's list, in the order added */
	TAILQ_ENTRY(nbd_export) lst_link; /* listener's list */
};

struct nbd_listener {
	struct sb_nbd_server *srv;
	struct nbd_uri addr;              /* where (name unused) */
	char where[128];                  /* "unix:PATH" or "HOST:PORT" */
	int fd;                           /* -1 once closed */
	dev_t dev;                        /* the socket file we bound (unix) */
	ino_t ino;
	struct sb_watch watch;
	struct sb_timer backoff;          /* accept paused after EMFILE */
	TAILQ_HEAD(, nbd_export) exports;
	TAILQ_ENTRY(nbd_listener) link;
};

struct nbd_conn;

/* A warning that a flood could repeat: written at most once per
 * NBD_REFUSE_LOG_NS, with the number of times since the last one. */
struct nbd_ratelog {
	uint64_t count;                   /* events since the last line */
	uint64_t last_ns;                 /* when it was written; 0 = never */
};

/* Counts one event; true if its line is due now (then rl->count says how
 * many since the last one, and is reset after the line is written). */
bool nbd_ratelog_due(struct nbd_ratelog *rl);

struct sb_nbd_server {
	struct sb_loop *loop;
	bool shut_down;
	unsigned next_id;                 /* names clients in logs: "nbd client 3" */
	TAILQ_HEAD(, nbd_listener) listeners;
	TAILQ_HEAD(, nbd_export) exports;
	TAILQ_HEAD(, nbd_conn) conns;     /* connected and closing ones */

	/* Limits (invariant 6). */
	struct sb_budget *budget;         /* payload bytes, shared by every client */
	struct sb_budget own_budget;      /* unbounded, when none was given */
	uint64_t idle_bytes;              /* idle buffers kept, outside the budget */
	unsigned max_connections, max_handshakes;
	uint64_t stall_ns;                /* --stall-timeout; 0 = never */
	unsigned nconns;                  /* connected, handshakes included */
	unsigned nhandshakes;
	TAILQ_HEAD(, nbd_conn) handshakes; /* in the order accepted: oldest first */
	struct nbd_ratelog refused;       /* clients refused: --max-connections */
	struct nbd_ratelog dropped;       /* handshakes dropped for newcomers */
	struct nbd_tls *tls;              /* credentials; NULL = TLS off */
	struct nbd_ratelog tls_failed;    /* TLS handshakes that failed */
};

/* The export called @name (@len bytes, not NUL-terminated) on @lst, or NULL. */
struct nbd_export *nbd_export_find(struct nbd_listener *lst, const char *name, size_t len);

/* ---- a connection (conn.c) ---- */
enum nbd_phase { NBD_HANDSHAKE, NBD_TRANSMISSION };

/* TLS on a connection: STARTTLS acknowledged, then the TLS handshake runs
 * once the ACK is sent; everything after it goes through the session. */
enum nbd_tls_state { NBD_TLS_NONE, NBD_TLS_STARTING, NBD_TLS_HANDSHAKE, NBD_TLS_ON };
struct nbd_tls_session;

/* What a parser tells the input loop. */
enum nbd_parse {
	NBD_PARSE_MORE,   /* needs more input */
	NBD_PARSE_AGAIN,  /* set skip/dst for a payload: consume, then call again */
	NBD_PARSE_PAUSE,  /* stop reading until something completes */
	NBD_PARSE_DROP,   /* protocol violation (logged): hard disconnect */
};

/* A request slot: allocated once per connection (with the backend's request
 * context), so the fast path never allocates. */
struct nbd_slot {
	struct nbd_conn *conn;
	TAILQ_ENTRY(nbd_slot) link;       /* free list or output queue */
	uint16_t cmd;
	uint32_t error;                   /* refused: the NBD error to reply */
	uint32_t counted;                 /* budget bytes it holds: its buffer, while busy */
	/* The reply before its data, as sent: a simple reply, or a chunk's
	 * header with the payload's fixed fields (offset, hole size, error). */
	unsigned char head[NBD_REPLY_HEAD_MAX];
	uint32_t head_len;
	uint32_t data_len;                /* data after the head (read) */
	uint32_t sent;                    /* bytes of head + data sent */
	uint64_t cookie;                  /* opaque, as received */
	void *buf;                        /* data buffer, NBD_BUF_ALIGN aligned */
	uint32_t cap;                     /* its size; while free, the slot is on
					     idle_slots and may be reused as is */
	struct sb_request req;            /* last: backend context follows */
};

struct nbd_conn {
	struct sb_nbd_server *srv;
	struct nbd_listener *listener;
	struct nbd_export *exp;           /* chosen export (transmission) */
	unsigned id;
	char name[160];                   /* "nbd client 3 (unix:/run/a.sock)" */
	int fd;
	struct sb_watch watch;
	struct sb_timer timer;            /* handshake deadline, then stall ticks */
	struct sb_defer work;             /* parse input, send output: after the batch */
	enum nbd_phase phase;
	bool closing;                     /* socket closed; freed when idle */
	bool in_close;                    /* inside nbd_conn_close: do not free yet */
	bool draining;                    /* DISC or ABORT: read nothing more */
	bool rx_paused;                   /* the parser asked to stop reading */
	bool out_blocked;                 /* socket full: waiting for EPOLLOUT */
	bool rdhup;                       /* peer shut its side (seen after DISC) */
	bool got_client_flags;            /* handshake: past the client flags */
	bool no_zeroes;                   /* NBD_FLAG_C_NO_ZEROES */
	bool structured;                  /* NBD_OPT_STRUCTURED_REPLY: reads
					     are answered in chunks */
	/* NBD_OPT_SET_META_CONTEXT chose base:allocation for this export
	 * (NULL: nothing chosen, block status refused). */
	const struct nbd_export *meta_export;
	enum nbd_tls_state tls_state;
	bool tls_want_write;              /* the TLS handshake waits to send */
	struct nbd_tls_session *tls;      /* from STARTTLS on */
	bool in_handshake;                /* on srv->handshakes */
	uint64_t accepted_ns;
	TAILQ_ENTRY(nbd_conn) hs_link;

	/* Input: bytes [rpos, rlen) of rbuf are received, not yet parsed. */
	unsigned char *rbuf;
	uint32_t rpos, rlen;
	uint64_t skip;                    /* payload bytes to read and drop */
	unsigned char *dst;               /* payload read straight into a slot */
	uint32_t dst_left;
	struct nbd_slot *rx_slot;         /* the request that payload belongs to */

	/* Handshake output (option replies), sent before any request reply. */
	unsigned char *hs_out;
	size_t hs_off, hs_len, hs_cap;

	/* Transmission. */
	struct sb_session session;
	uint64_t size;                    /* export size, fixed at GO */
	unsigned char *slot_mem;          /* NBD_MAX_REQUESTS slots */
	size_t slot_size;
	TAILQ_HEAD(, nbd_slot) free_slots; /* free, without a buffer */
	TAILQ_HEAD(, nbd_slot) idle_slots; /* free, with a buffer kept for reuse */
	TAILQ_HEAD(, nbd_slot) out;       /* replies waiting to be sent */
	uint32_t busy;                    /* slots taken */
	uint32_t inflight;                /* submitted to the disk, not completed */
	uint64_t idle_bytes;              /* buffers of idle_slots */
	struct sb_budget_waiter budget_wait; /* paused until the budget has room */
	uint64_t moved;                   /* bytes in and out since the last stall tick */
	unsigned stalled_ticks;           /* ticks in a row it pinned budget and stalled */

	TAILQ_ENTRY(nbd_conn) link;
};

/* Takes @fd (accepted, non-blocking) and starts the handshake.  @peer names
 * the other end in logs.  Returns 0, or -1 (fd closed, logged, nothing left
 * queued in the loop). */
int nbd_conn_new(struct sb_nbd_server *srv, struct nbd_listener *lst, int fd,
		 const char *peer);
/* Hard disconnect: closes the socket, detaches the session (its waiting
 * requests are fenced), drops unsent replies.  The connection is freed now
 * if nothing is in flight, else by the last completion: the caller must not
 * touch @c afterwards. */
void nbd_conn_close(struct nbd_conn *c, const char *why);
/* Frees @c if it is closing and idle. */
void nbd_conn_maybe_free(struct nbd_conn *c);
/* Frees @c whatever its state (server teardown). */
void nbd_conn_destroy(struct nbd_conn *c);
/* Runs the connection's work (parse input, send output) after this batch. */
void nbd_conn_schedule(struct nbd_conn *c);
/* Appends @len bytes to the handshake output.  Returns 0 or -ENOMEM. */
int nbd_conn_hs_append(struct nbd_conn *c, const void *data, size_t len);
/* The handshake is over (transmission, or closing): off srv->handshakes. */
void nbd_conn_hs_done(struct nbd_conn *c);

/* The transmission flags @c is told for @e: the export's, and DF once
 * structured replies are negotiated (the protocol forbids it before). */
static inline uint16_t nbd_conn_tx_flags(const struct nbd_conn *c, const struct nbd_export *e)
{
	return (uint16_t)(e->tx_flags | (c->structured ? NBD_FLAG_SEND_DF : 0));
}

/* ---- handshake (handshake.c) ---- */
/* Queues the greeting and arms the handshake deadline. */
int nbd_hs_start(struct nbd_conn *c);
enum nbd_parse nbd_hs_parse(struct nbd_conn *c);
/* TLS is on: forgets what the options sent in plaintext negotiated. */
void nbd_hs_tls_on(struct nbd_conn *c);

/* ---- transmission (transmission.c) ---- */
/* Enters transmission on @exp: allocates the slots, attaches the session.
 * Returns 0 or -ENOMEM. */
int nbd_tx_start(struct nbd_conn *c, struct nbd_export *exp);
enum nbd_parse nbd_tx_parse(struct nbd_conn *c);
/* Returns a slot whose reply was sent (or dropped) to the free list. */
void nbd_slot_put(struct nbd_conn *c, struct nbd_slot *s);
/* Frees the buffers kept for reuse (the connection is closing). */
void nbd_tx_drop_idle(struct nbd_conn *c);
/* Frees the slots and their buffers (the connection is going away). */
void nbd_tx_free(struct nbd_conn *c);

/* ---- stalls (stall.c) ---- */
/* @c may be stalling (it owes payload bytes, or its replies wait for it to
 * read them): start looking at it, unless we are already. */
void nbd_stall_watch(struct nbd_conn *c);

/* ---- TLS (tls.c) ---- */
struct nbd_tls;

/* Loads @cfg's credentials into *@out (NULL when TLS is off).  Returns 0,
 * or -1 with *errp set. */
int nbd_tls_new(const struct sb_nbd_tls_config *cfg, struct nbd_tls **out,
		struct sb_error **errp);
void nbd_tls_free(struct nbd_tls *t);
bool nbd_tls_required(const struct nbd_tls *t);
/* Starts @c's session; @pre holds bytes already received after STARTTLS
 * (the start of the TLS stream).  Returns 0, -ENOMEM or -EPROTO. */
int nbd_tls_start(struct nbd_conn *c, const void *pre, size_t pre_len);
enum nbd_tls_step { NBD_TLS_DONE, NBD_TLS_WANT_READ, NBD_TLS_WANT_WRITE, NBD_TLS_FAILED };
/* Moves the TLS handshake on as far as the socket allows. */
enum nbd_tls_step nbd_tls_handshake(struct nbd_conn *c);
/* recv(2) and send(2) through the session: bytes, 0 at end of stream, or
 * -1 with errno EAGAIN, EINTR or EPROTO (logged). */
ssize_t nbd_tls_recv(struct nbd_conn *c, void *buf, size_t len);
/* Sends the start of @iov (@n buffers) as one record. */
ssize_t nbd_tls_sendv(struct nbd_conn *c, const struct iovec *iov, size_t n);
/* Decrypted bytes GnuTLS holds that the socket will not signal again. */
size_t nbd_tls_pending(const struct nbd_conn *c);
/* Sends close_notify if it can without waiting, and frees the session. */
void nbd_tls_close(struct nbd_conn *c);

#endif
