/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the NBD server: its exports, the sockets it listens on
 * (several exports may share one), accepting clients within the limits,
 * shutdown.
 *
 * Admission: at most NBD_MAX_HANDSHAKES clients in the handshake (past it,
 * the oldest is dropped: a real client's handshake takes milliseconds, so
 * only one that sits in it is ever the oldest), and at most max_connections
 * in all.  One more is accepted and closed at once, before the greeting:
 * clients fail fast with "unexpected end of file" and QEMU's reconnect
 * retries later, where a listen queue that is not served would leave them
 * hanging in the handshake.  When every connection is taken, a handshake
 * older than NBD_HS_STALE_NS yields its place, so idle sockets never lock
 * real clients out. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/budget.h"
#include "base/listen.h"
#include "base/log.h"
#include "base/parse.h"
#include "exports/nbd/internal.h"

#define SOCKET_MODE 0660                        /* owner and group may connect */
#define ACCEPT_BATCH 16                         /* accepts per wakeup: fairness */
#define ACCEPT_BACKOFF_NS (100 * SB_NS_PER_MS)  /* after EMFILE and friends */

struct sb_nbd_server *sb_nbd_server_new(struct sb_loop *loop, const struct sb_nbd_limits *lim)
{
	struct sb_nbd_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->loop = loop;
	TAILQ_INIT(&srv->listeners);
	TAILQ_INIT(&srv->exports);
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->handshakes);
	sb_budget_init(&srv->own_budget, 0);
	srv->budget = lim && lim->budget ? lim->budget : &srv->own_budget;
	srv->max_connections = lim && lim->max_connections ? lim->max_connections
							   : SB_NBD_DEFAULT_MAX_CONNECTIONS;
	srv->max_handshakes = SB_MIN(srv->max_connections, NBD_MAX_HANDSHAKES);
	srv->stall_ns = lim ? lim->stall_ns : 0;
	return srv;
}

int sb_nbd_server_set_tls(struct sb_nbd_server *srv, const struct sb_nbd_tls_config *cfg,
			  struct sb_error **errp)
{
	struct nbd_tls *t;

	if (nbd_tls_new(cfg, &t, errp) < 0)
		return -1;
	nbd_tls_free(srv->tls);
	srv->tls = t;
	return 0;
}

struct nbd_export *nbd_export_find(struct nbd_listener *lst, const char *name, size_t len)
{
	struct nbd_export *e;

	TAILQ_FOREACH(e, &lst->exports, lst_link)
		if (strlen(e->name) == len && memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

static bool same_address(const struct nbd_uri *a, const struct nbd_uri *b)
{
	if (a->transport != b->transport)
		return false;
	if (a->transport == NBD_UNIX)
		return strcmp(a->socket, b->socket) == 0;
	/* Port 0 asks for a fresh port each time: never shared. */
	return nbd_uri_port(a) != 0 && a->addrlen == b->addrlen &&
	       memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

static struct nbd_listener *find_listener(struct sb_nbd_server *srv, const struct nbd_uri *u)
{
	struct nbd_listener *l;

	TAILQ_FOREACH(l, &srv->listeners, link)
		if (same_address(&l->addr, u))
			return l;
	return NULL;
}

/* ---- accepting clients ---- */

bool nbd_ratelog_due(struct nbd_ratelog *rl)
{
	uint64_t now = sb_now_ns();

	rl->count++;
	if (rl->last_ns && now - rl->last_ns < NBD_REFUSE_LOG_NS)
		return false;
	rl->last_ns = now;
	return true;
}

static void server_drop_handshake(struct sb_nbd_server *srv, struct nbd_conn *c,
				  const char *why)
{
	if (nbd_ratelog_due(&srv->dropped)) {
		sb_warn("%s dropped: %s; %" PRIu64 " handshakes dropped since the last such "
			"message", c->name, why, srv->dropped.count);
		srv->dropped.count = 0;
	}
	nbd_conn_close(c, why);
}

/* Makes room for one more client, dropping idle handshakes if need be.
 * Returns false if it must be refused. */
static bool server_admit(struct sb_nbd_server *srv)
{
	struct nbd_conn *old = TAILQ_FIRST(&srv->handshakes);

	if (old && srv->nhandshakes >= srv->max_handshakes) {
		server_drop_handshake(srv, old, "the most handshakes at once are in progress");
		old = TAILQ_FIRST(&srv->handshakes);
	}
	if (srv->nconns < srv->max_connections)
		return true;
	if (old && sb_now_ns() - old->accepted_ns >= NBD_HS_STALE_NS) {
		server_drop_handshake(srv, old, "still in its handshake with every connection taken");
		return true;
	}
	return false;
}

/* Closes @fd unserved; one warning per second at most, however many. */
static void server_refuse(struct sb_nbd_server *srv, struct nbd_listener *l, int fd)
{
	close(fd);
	if (!nbd_ratelog_due(&srv->refused))
		return;
	sb_warn("nbd server: client on %s refused: %u connections already "
		"(--max-connections); %" PRIu64 " refused since the last such message",
		l->where, srv->nconns, srv->refused.count);
	srv->refused.count = 0;
}

static void listener_resume(void *opaque)
{
	struct nbd_listener *l = opaque;

	if (l->fd >= 0)
		sb_loop_watch_set(l->srv->loop, &l->watch, EPOLLIN);
}

static void listener_event(void *opaque, uint32_t events)
{
	struct nbd_listener *l = opaque;
	struct sb_nbd_server *srv = l->srv;

	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t plen;
		char where[160];
		int fd = sb_listen_accept(l->fd, &peer, &plen);

		if (fd == -EAGAIN)
			return;
		if (fd < 0) {
			/* Out of descriptors or memory: the listen queue stays
			 * readable, so pause instead of spinning on it. */
			sb_warn("nbd server: accept on %s: %s; pausing for 100 ms", l->where,
				strerror(-fd));
			sb_loop_watch_set(srv->loop, &l->watch, 0);
			sb_timer_arm(srv->loop, &l->backoff, sb_now_ns() + ACCEPT_BACKOFF_NS);
			return;
		}
		if (!server_admit(srv)) {
			server_refuse(srv, l, fd);
			continue;
		}
		if (l->addr.transport == NBD_TCP) {
			struct nbd_uri p = { .transport = NBD_TCP, .addr = peer, .addrlen = plen };
			int one = 1;
			/* Replies are whole messages: send them at once. */
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			nbd_uri_where(&p, where, sizeof(where));
		} else {
			snprintf(where, sizeof(where), "%s", l->where);
		}
		nbd_conn_new(srv, l, fd, where);
	}
}

/* ---- listeners ---- */

static int listen_unix(struct nbd_listener *l, struct sb_error **errp)
{
	const char *path = l->addr.socket;
	struct stat st;

	l->fd = sb_listen_unix(path, SOCKET_MODE, errp);
	if (l->fd < 0) {
		sb_error_prefix(*errp, "%s", path);
		return -1;
	}
	/* Remember which file is ours, so shutdown never removes another's. */
	if (stat(path, &st) == 0) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	return 0;
}

static int listen_tcp(struct nbd_listener *l, struct sb_error **errp)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	int one = 1;

	l->fd = socket(l->addr.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return sb_error_set(errp, "socket: %s", strerror(errno));
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->addr.addr.ss_family == AF_INET6)
		setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&l->addr.addr, l->addr.addrlen) < 0)
		return sb_error_set(errp, "cannot listen on %s: %s", l->where, strerror(errno));
	/* Port 0: the kernel chose one; announce that one. */
	if (getsockname(l->fd, (struct sockaddr *)&bound, &blen) == 0 && blen == l->addr.addrlen) {
		l->addr.addr = bound;
		nbd_uri_where(&l->addr, l->where, sizeof(l->where));
	}
	return 0;
}

static void listener_close(struct sb_nbd_server *srv, struct nbd_listener *l)
{
	struct stat st;

	if (l->fd < 0)
		return;
	sb_timer_cancel(srv->loop, &l->backoff);
	sb_loop_watch_del(srv->loop, &l->watch);
	close(l->fd);
	l->fd = -1;
	if (l->addr.transport == NBD_UNIX && stat(l->addr.socket, &st) == 0 &&
	    st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->addr.socket);
}

static void listener_free(struct nbd_listener *l)
{
	nbd_uri_clear(&l->addr);
	free(l);
}

/* Takes ownership of @u's address; its name stays with the caller. */
static struct nbd_listener *listener_open(struct sb_nbd_server *srv, struct nbd_uri *u,
					  struct sb_error **errp)
{
	struct nbd_listener *l = calloc(1, sizeof(*l));

	if (!l) {
		sb_error_set(errp, "out of memory");
		return NULL;
	}
	l->srv = srv;
	l->fd = -1;
	l->addr = *u;
	l->addr.name = NULL;
	u->socket = NULL;
	TAILQ_INIT(&l->exports);
	sb_timer_init(&l->backoff, listener_resume, l);
	nbd_uri_where(&l->addr, l->where, sizeof(l->where));

	int r = l->addr.transport == NBD_UNIX ? listen_unix(l, errp) : listen_tcp(l, errp);
	if (r == 0 && listen(l->fd, SOMAXCONN) < 0)
		r = sb_error_set(errp, "listen on %s: %s", l->where, strerror(errno));
	if (r == 0) {
		sb_watch_init(&l->watch, l->fd, listener_event, l);
		int e = sb_loop_watch_add(srv->loop, &l->watch, EPOLLIN);
		if (e < 0)
			r = sb_error_set(errp, "epoll: %s", strerror(-e));
	}
	if (r < 0) {
		listener_close(srv, l);
		if (l->fd >= 0)
			close(l->fd);
		listener_free(l);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&srv->listeners, l, link);
	return l;
}

/* ---- exports ---- */

static bool power_of_2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* The transmission flags and size constraints clients are told, from what
 * the backend declared (0 means "the protocol's default"). */
static int export_describe(struct nbd_export *e, const struct sb_backend *be,
			   struct sb_error **errp)
{
	uint32_t caps = be->caps;

	e->block_min = be->block_min ? be->block_min : 1;
	e->block_pref = SB_MAX(be->block_pref ? be->block_pref : 4096, SB_MAX(e->block_min, 512u));
	e->block_max = SB_MIN(be->block_max ? be->block_max : NBD_MAX_PAYLOAD, NBD_MAX_PAYLOAD);
	e->block_max -= e->block_max % e->block_min;
	if (!power_of_2(e->block_min) || e->block_min > 65536 || !power_of_2(e->block_pref) ||
	    e->block_max < e->block_pref)
		return sb_error_set(errp, "backend %s: unusable block sizes (min %u, preferred %u, "
				    "max %u)", be->name, be->block_min, be->block_pref,
				    be->block_max);

	e->read_only = e->read_only || (caps & SB_CAP_READ_ONLY);
	/* A cache is a hint the core answers for a backend that cannot. */
	e->tx_flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_CACHE;
	if (caps & SB_CAP_FLUSH)
		e->tx_flags |= NBD_FLAG_SEND_FLUSH;
	if (e->read_only) {
		e->tx_flags |= NBD_FLAG_READ_ONLY | NBD_FLAG_CAN_MULTI_CONN;
		return 0;
	}
	if (caps & SB_CAP_FUA)
		e->tx_flags |= NBD_FLAG_SEND_FUA;
	if (caps & SB_CAP_TRIM)
		e->tx_flags |= NBD_FLAG_SEND_TRIM;
	/* A fast zero the backend cannot do fails at once with ENOTSUP, which
	 * the protocol counts as a fast answer: advertise it with zeroes. */
	if (caps & SB_CAP_ZERO)
		e->tx_flags |= NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO;
	if (caps & SB_CAP_MULTI_CONN)
		e->tx_flags |= NBD_FLAG_CAN_MULTI_CONN;
	return 0;
}

/* A relative socket path would break once the daemon changes directory. */
static int absolute_socket(struct nbd_uri *u, struct sb_error **errp)
{
	char *abs = sb_absolute_path(u->socket);

	if (!abs)
		return sb_error_set(errp, "%s: cannot make the path absolute: %s", u->socket,
				    strerror(errno));
	free(u->socket);
	u->socket = abs;
	return 0;
}

int sb_nbd_server_add_export(struct sb_nbd_server *srv, const char *uri,
			     struct sb_disk *disk, bool read_only,
			     struct sb_error **errp)
{
	struct nbd_uri u;
	struct nbd_listener *l;
	struct nbd_export *e;

	if (srv->shut_down)
		return sb_error_set(errp, "the NBD server is shutting down");
	if (nbd_uri_parse(uri, &u, errp) < 0)
		return -1;
	if (u.transport == NBD_UNIX && absolute_socket(&u, errp) < 0)
		goto fail;

	e = calloc(1, sizeof(*e));
	if (!e || !(e->name = strdup(u.name))) {
		free(e);
		sb_error_set(errp, "out of memory");
		goto fail;
	}
	e->disk = disk;
	e->read_only = read_only;
	if (export_describe(e, sb_disk_backend(disk), errp) < 0)
		goto fail_export;

	l = find_listener(srv, &u);
	if (l && nbd_export_find(l, u.name, strlen(u.name))) {
		sb_error_set(errp, "export '%s' is already served on %s", u.name, l->where);
		goto fail_export;
	}
	if (!l && !(l = listener_open(srv, &u, errp)))
		goto fail_export;

	e->listener = l;
	TAILQ_INSERT_TAIL(&l->exports, e, lst_link);
	TAILQ_INSERT_TAIL(&srv->exports, e, srv_link);
	sb_debug("nbd server: export '%s' of disk %s on %s%s", e->name, sb_disk_name(disk),
		 l->where, e->read_only ? " (read-only)" : "");
	nbd_uri_clear(&u);
	return 0;

fail_export:
	free(e->name);
	free(e);
fail:
	nbd_uri_clear(&u);
	return -1;
}

/* The URI clients use for @e: nbds when TLS is on. */
static bool export_uri(const struct sb_nbd_server *srv, const struct nbd_export *e, char *buf,
		       size_t len)
{
	struct nbd_uri u = e->listener->addr;

	u.name = e->name;
	u.tls = srv->tls != NULL;
	return nbd_uri_format(&u, buf, len);
}

bool sb_nbd_server_export_uri(const struct sb_nbd_server *srv, unsigned i,
			      char *buf, size_t len)
{
	struct nbd_export *e;

	TAILQ_FOREACH(e, &srv->exports, srv_link)
		if (i-- == 0)
			return export_uri(srv, e, buf, len);
	return false;
}

/* ---- shutdown ---- */

void sb_nbd_server_shutdown(struct sb_nbd_server *srv)
{
	struct nbd_listener *l;
	struct nbd_conn *c, *next;

	if (srv->shut_down)
		return;
	srv->shut_down = true;
	TAILQ_FOREACH(l, &srv->listeners, link)
		listener_close(srv, l);
	TAILQ_FOREACH_SAFE(c, &srv->conns, link, next)
		nbd_conn_close(c, "server shutting down");
}

uint64_t sb_nbd_server_inflight(const struct sb_nbd_server *srv)
{
	const struct nbd_conn *c;
	uint64_t n = 0;

	TAILQ_FOREACH(c, &srv->conns, link)
		n += c->inflight;
	return n;
}

/* ---- read-only views ---- */

void sb_nbd_server_foreach_export(const struct sb_nbd_server *srv,
				  void (*fn)(void *opaque, const struct sb_nbd_export_view *e),
				  void *opaque)
{
	const struct nbd_export *e;
	unsigned i = 0;

	TAILQ_FOREACH(e, &srv->exports, srv_link) {
		char uri[512];

		if (!export_uri(srv, e, uri, sizeof(uri)))
			uri[0] = '\0';
		fn(opaque, &(struct sb_nbd_export_view){
			.index = i++, .name = e->name, .uri = uri, .disk = e->disk,
			.read_only = e->read_only });
	}
}

static int export_index(const struct sb_nbd_server *srv, const struct nbd_export *exp)
{
	const struct nbd_export *e;
	int i = 0;

	TAILQ_FOREACH(e, &srv->exports, srv_link) {
		if (e == exp)
			return i;
		i++;
	}
	return -1;
}

void sb_nbd_server_foreach_client(const struct sb_nbd_server *srv,
				  void (*fn)(void *opaque, const struct sb_nbd_client_view *c),
				  void *opaque)
{
	const struct nbd_conn *c;

	TAILQ_FOREACH(c, &srv->conns, link) {
		bool chosen = c->phase == NBD_TRANSMISSION;

		if (c->closing)
			continue;
		fn(opaque, &(struct sb_nbd_client_view){
			.id = c->id, .name = c->name,
			.export_index = chosen ? export_index(srv, c->exp) : -1,
			.pending = c->busy, .inflight = c->inflight });
	}
}

void sb_nbd_server_free(struct sb_nbd_server *srv)
{
	struct nbd_listener *l;
	struct nbd_export *e;
	struct nbd_conn *c;

	if (!srv)
		return;
	sb_nbd_server_shutdown(srv);
	while ((c = TAILQ_FIRST(&srv->conns)))
		nbd_conn_destroy(c);
	while ((e = TAILQ_FIRST(&srv->exports))) {
		TAILQ_REMOVE(&srv->exports, e, srv_link);
		free(e->name);
		free(e);
	}
	while ((l = TAILQ_FIRST(&srv->listeners))) {
		TAILQ_REMOVE(&srv->listeners, l, link);
		listener_free(l);
	}
	nbd_tls_free(srv->tls);
	free(srv);
}
