/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: one client connection's socket: reading into the input
 * buffer (payloads straight into request buffers), the output queue sent
 * with one sendmsg per batch, the epoll mask, and closing.
 *
 * Input: one recv fills up to 64 KiB, so a burst of small requests costs one
 * syscall; the phase's parser takes whole messages from the buffer.  A write
 * payload goes into its request's buffer: first what the buffer already
 * holds, then a readv that also refills the buffer with what follows.
 *
 * Output: replies queue on the connection and are sent after the current
 * batch of events (the `work` deferred call), many per sendmsg; a full
 * socket arms EPOLLOUT.  Reading stops (EPOLLIN off, EPOLLRDHUP kept, so a
 * client that goes away is still noticed) while the parser says PAUSE.
 *
 * A client that hangs up after NBD_CMD_DISC (over TCP the daemon sees only
 * a FIN: the socket stays writable until the peer answers data with a
 * reset) is gone for what is held: its session is detached at once, so its
 * held requests are fenced, never re-issued; what is in flight at the
 * backend finishes, answered if the socket still takes it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"
#include "exports/nbd/internal.h"

#define READS_PER_EVENT 16  /* then let other clients have a turn */
#define IOV_BATCH 64        /* iovecs per sendmsg */

static void conn_event(void *opaque, uint32_t events);
static void conn_work(void *opaque);

static void conn_budget_wake(struct sb_budget_waiter *w)
{
	nbd_conn_schedule(SB_CONTAINER_OF(w, struct nbd_conn, budget_wait));
}

int nbd_conn_new(struct sb_nbd_server *srv, struct nbd_listener *lst, int fd,
		 const char *peer)
{
	struct nbd_conn *c = calloc(1, sizeof(*c));
	unsigned id = ++srv->next_id;

	if (!c || !(c->rbuf = malloc(NBD_RBUF_SIZE))) {
		sb_warn("nbd client %u (%s): out of memory, refused", id, peer);
		goto fail;
	}
	c->srv = srv;
	c->listener = lst;
	c->id = id;
	c->fd = fd;
	snprintf(c->name, sizeof(c->name), "nbd client %u (%s)", id, peer);
	c->accepted_ns = sb_now_ns();
	TAILQ_INIT(&c->free_slots);
	TAILQ_INIT(&c->idle_slots);
	TAILQ_INIT(&c->out);
	sb_budget_waiter_init(&c->budget_wait, conn_budget_wake);
	sb_defer_init(&c->work, conn_work, c);
	sb_watch_init(&c->watch, fd, conn_event, c);
	if (nbd_hs_start(c) < 0) {
		sb_warn("%s: out of memory, refused", c->name);
		goto fail;
	}
	int r = sb_loop_watch_add(srv->loop, &c->watch, EPOLLIN | EPOLLRDHUP);
	if (r < 0) {
		sb_warn("%s: epoll: %s, refused", c->name, strerror(-r));
		goto fail;
	}
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	TAILQ_INSERT_TAIL(&srv->handshakes, c, hs_link);
	c->in_handshake = true;
	srv->nconns++;
	srv->nhandshakes++;
	sb_debug("%s: connected", c->name);
	nbd_conn_schedule(c); /* send the greeting */
	return 0;
fail:
	if (c) {
		/* nbd_hs_start queued the greeting's send and armed the
		 * deadline: neither may run on the memory freed below. */
		sb_loop_defer_cancel(srv->loop, &c->work);
		sb_timer_cancel(srv->loop, &c->timer);
		free(c->hs_out);
		free(c->rbuf);
	}
	free(c);
	close(fd);
	return -1;
}

void nbd_conn_hs_done(struct nbd_conn *c)
{
	if (!c->in_handshake)
		return;
	TAILQ_REMOVE(&c->srv->handshakes, c, hs_link);
	c->in_handshake = false;
	c->srv->nhandshakes--;
}

void nbd_conn_schedule(struct nbd_conn *c)
{
	sb_loop_defer(c->srv->loop, &c->work);
}

int nbd_conn_hs_append(struct nbd_conn *c, const void *data, size_t len)
{
	if (c->hs_len + len > c->hs_cap) {
		size_t cap = SB_MAX(c->hs_cap * 2, SB_MAX(c->hs_len + len, (size_t)256));
		unsigned char *p = realloc(c->hs_out, cap);
		if (!p)
			return -ENOMEM;
		c->hs_out = p;
		c->hs_cap = cap;
	}
	memcpy(c->hs_out + c->hs_len, data, len);
	c->hs_len += len;
	nbd_conn_schedule(c);
	return 0;
}

/* ---- events ---- */

static void conn_update_events(struct nbd_conn *c)
{
	uint32_t ev = 0;

	if (c->tls_state == NBD_TLS_HANDSHAKE)
		ev = c->tls_want_write ? EPOLLOUT : EPOLLIN;
	else if (!c->rx_paused && !c->draining)
		ev |= EPOLLIN;
	if (!c->rdhup)
		ev |= EPOLLRDHUP;
	if (c->out_blocked)
		ev |= EPOLLOUT;
	if (sb_loop_watch_set(c->srv->loop, &c->watch, ev) < 0)
		sb_warn("%s: epoll: cannot update the event mask", c->name);
}

/* Moves buffered input into the pending payload (or drops it). */
static void conn_consume(struct nbd_conn *c)
{
	uint32_t avail = c->rlen - c->rpos, n;

	if (c->skip && avail) {
		n = (uint32_t)SB_MIN((uint64_t)avail, c->skip);
		c->rpos += n;
		c->skip -= n;
		avail -= n;
	}
	if (c->dst_left && avail) {
		n = SB_MIN(avail, c->dst_left);
		memcpy(c->dst, c->rbuf + c->rpos, n);
		c->rpos += n;
		c->dst += n;
		c->dst_left -= n;
	}
}

/* Runs the parser over buffered input.  Returns false if @c was closed. */
static bool conn_process(struct nbd_conn *c)
{
	enum nbd_parse st;

	if (c->closing)
		return false;
	do {
		conn_consume(c);
		if (c->skip || c->dst_left) {
			st = NBD_PARSE_MORE;
			break;
		}
		st = c->phase == NBD_HANDSHAKE ? nbd_hs_parse(c) : nbd_tx_parse(c);
	} while (st == NBD_PARSE_AGAIN);

	if (st == NBD_PARSE_DROP) {
		nbd_conn_close(c, "protocol violation");
		return false;
	}
	c->rx_paused = st == NBD_PARSE_PAUSE;
	conn_update_events(c);
	return true;
}

/* recv(2), or through TLS once it is on. */
static ssize_t conn_recv(struct nbd_conn *c, void *buf, size_t len)
{
	return c->tls_state == NBD_TLS_ON ? nbd_tls_recv(c, buf, len) : recv(c->fd, buf, len, 0);
}

/* Reads what the socket has.  Returns false if @c was closed. */
static bool conn_read(struct nbd_conn *c)
{
	bool tls = c->tls_state == NBD_TLS_ON;

	for (int i = 0; i < READS_PER_EVENT && !c->rx_paused && !c->draining; i++) {
		size_t asked;
		ssize_t n;

		if (c->rpos == c->rlen) {
			c->rpos = c->rlen = 0;
		} else if (c->rpos > 0) {
			memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
			c->rlen -= c->rpos;
			c->rpos = 0;
		}
		if (c->dst_left && tls) {
			/* Records decrypt straight into the payload. */
			asked = c->dst_left;
			n = nbd_tls_recv(c, c->dst, asked);
			if (n > 0) {
				c->dst += n;
				c->dst_left -= (uint32_t)n;
			}
		} else if (c->dst_left) {
			/* The buffer is empty here (consume drained it into dst). */
			struct iovec iov[2] = {
				{ c->dst, c->dst_left },
				{ c->rbuf, NBD_RBUF_SIZE },
			};
			asked = c->dst_left + NBD_RBUF_SIZE;
			n = readv(c->fd, iov, 2);
			if (n > 0) {
				uint32_t k = (uint32_t)SB_MIN((size_t)n, (size_t)c->dst_left);
				c->dst += k;
				c->dst_left -= k;
				c->rlen = (uint32_t)((size_t)n - k);
			}
		} else {
			asked = NBD_RBUF_SIZE - c->rlen;
			n = conn_recv(c, c->rbuf + c->rlen, asked);
			if (n > 0)
				c->rlen += (uint32_t)n;
		}
		if (n == 0) {
			nbd_conn_close(c, "client hung up");
			return false;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			sb_debug("%s: recv: %s", c->name, strerror(errno));
			nbd_conn_close(c, "receive error");
			return false;
		}
		c->moved += (uint64_t)n;
		if (!conn_process(c))
			return false;
		/* Drained: epoll tells us when more comes.  A TLS record is
		 * shorter than what we ask for, so there only EAGAIN says so. */
		if ((size_t)n < asked && !tls)
			break;
	}
	/* Bytes GnuTLS decrypted and holds are no news to epoll: come back
	 * for them after the batch. */
	if (tls && !c->rx_paused && !c->draining && nbd_tls_pending(c))
		nbd_conn_schedule(c);
	if (c->dst_left)
		nbd_stall_watch(c);  /* it owes us payload */
	return true;
}

/* ---- TLS ---- */

/* Moves the TLS handshake on.  Returns false if @c was closed. */
static bool conn_tls_step(struct nbd_conn *c)
{
	enum nbd_tls_step st = nbd_tls_handshake(c);

	switch (st) {
	case NBD_TLS_DONE:
		c->tls_state = NBD_TLS_ON;
		nbd_hs_tls_on(c);
		c->rx_paused = false;
		conn_update_events(c);
		nbd_conn_schedule(c);  /* options may be decrypted already */
		return true;
	case NBD_TLS_WANT_READ:
	case NBD_TLS_WANT_WRITE:
		c->tls_want_write = st == NBD_TLS_WANT_WRITE;
		conn_update_events(c);
		return true;
	case NBD_TLS_FAILED:
	default:
		nbd_conn_close(c, "TLS handshake failed");
		return false;
	}
}

/* After STARTTLS's ACK: what the client sent beyond the option is the
 * start of its TLS handshake, handed to the session, never parsed. */
static bool conn_tls_begin(struct nbd_conn *c)
{
	int r = nbd_tls_start(c, c->rbuf + c->rpos, c->rlen - c->rpos);

	c->rpos = c->rlen = 0;
	if (r < 0) {
		nbd_conn_close(c, r == -ENOMEM ? "out of memory starting TLS" : "TLS error");
		return false;
	}
	c->tls_state = NBD_TLS_HANDSHAKE;
	return conn_tls_step(c);
}

/* ---- output ---- */

/* Accounts @n sent bytes: handshake bytes first, then whole replies. */
static void conn_sent(struct nbd_conn *c, size_t n)
{
	struct nbd_slot *s;

	if (c->hs_off < c->hs_len) {
		size_t k = SB_MIN(n, c->hs_len - c->hs_off);
		c->hs_off += k;
		n -= k;
		if (c->hs_off == c->hs_len)
			c->hs_off = c->hs_len = 0;
	}
	while (n && (s = TAILQ_FIRST(&c->out))) {
		uint32_t total = s->head_len + s->data_len;
		size_t k = SB_MIN(n, (size_t)(total - s->sent));

		s->sent += (uint32_t)k;
		n -= k;
		if (s->sent < total)
			break;
		TAILQ_REMOVE(&c->out, s, link);
		nbd_slot_put(c, s);
	}
}

/* Sends queued output.  Returns false if @c was closed. */
static bool conn_flush(struct nbd_conn *c)
{
	bool progress = false;

	while (c->hs_off < c->hs_len || !TAILQ_EMPTY(&c->out)) {
		struct iovec iov[IOV_BATCH];
		struct msghdr msg = { .msg_iov = iov };
		struct nbd_slot *s;
		size_t n = 0;
		ssize_t w;

		if (c->hs_off < c->hs_len)
			iov[n++] = (struct iovec){ c->hs_out + c->hs_off, c->hs_len - c->hs_off };
		TAILQ_FOREACH(s, &c->out, link) {
			uint32_t off = s->sent;
			if (n + 2 > IOV_BATCH)
				break;
			if (off < s->head_len)
				iov[n++] = (struct iovec){ s->head + off, s->head_len - off };
			off = off > s->head_len ? off - s->head_len : 0;
			if (s->data_len)
				iov[n++] = (struct iovec){ (unsigned char *)s->buf + off,
							   s->data_len - off };
		}
		msg.msg_iovlen = n;
		/* TLS: one record at a time. */
		w = c->tls_state == NBD_TLS_ON ? nbd_tls_sendv(c, iov, n)
					       : sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			sb_debug("%s: send: %s", c->name, strerror(errno));
			nbd_conn_close(c, "send error");
			return false;
		}
		conn_sent(c, (size_t)w);
		c->moved += (uint64_t)w;
		progress = true;
	}
	c->out_blocked = c->hs_off < c->hs_len || !TAILQ_EMPTY(&c->out);
	if (c->out_blocked)
		nbd_stall_watch(c);  /* its replies wait for it to read them */
	/* STARTTLS's ACK is out: the TLS handshake starts. */
	if (c->tls_state == NBD_TLS_STARTING && !c->out_blocked)
		return conn_tls_begin(c);

	if (c->draining && !c->out_blocked && c->busy == 0) {
		nbd_conn_close(c, c->phase == NBD_HANDSHAKE ? "handshake aborted" : "client disconnected");
		return false;
	}
	/* Freed slots or a drained reply queue may let the parser go on. */
	if (progress && c->rx_paused)
		nbd_conn_schedule(c);
	conn_update_events(c);
	return true;
}

static void conn_work(void *opaque)
{
	struct nbd_conn *c = opaque;

	if (c->tls_state == NBD_TLS_HANDSHAKE)
		return;  /* only socket events move it on */
	if (!conn_process(c))
		return;
	if (nbd_tls_pending(c) && !c->rx_paused && !c->draining && !conn_read(c))
		return;
	conn_flush(c);
}

/* DISC, then a hang-up (a close over TCP looks just like a half-close):
 * the client will not wait for what is held.  Fence it now (invariant 4),
 * and stop listening for the hang-up; conn_flush closes once the requests
 * in flight have been answered or dropped. */
static void conn_gone_after_disc(struct nbd_conn *c)
{
	c->rdhup = true;
	if (c->phase == NBD_TRANSMISSION && !c->session.closing) {
		sb_debug("%s: hung up after disconnecting; %u requests outstanding", c->name,
			 c->busy);
		sb_disk_detach(&c->session, "disconnected");
	}
	conn_update_events(c);
	nbd_conn_schedule(c);
}

static void conn_event(void *opaque, uint32_t events)
{
	struct nbd_conn *c = opaque;

	if (c->tls_state == NBD_TLS_HANDSHAKE) {
		/* A hang-up or reset shows as the handshake's own failure. */
		conn_tls_step(c);
		return;
	}
	if ((events & EPOLLOUT) && !conn_flush(c))
		return;
	if ((events & EPOLLIN) && !conn_read(c))
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		nbd_conn_close(c, "connection reset");
		return;
	}
	if (events & EPOLLRDHUP) {
		if (!c->draining && (c->rx_paused || !(events & EPOLLIN))) {
			/* Gone while we were not reading: fence its requests now
			 * rather than when the disk lets us read again. */
			nbd_conn_close(c, "client hung up");
			return;
		}
		if (c->draining && !c->rdhup)
			conn_gone_after_disc(c);
	}
}

/* ---- closing ---- */

void nbd_conn_close(struct nbd_conn *c, const char *why)
{
	struct nbd_slot *s;

	if (c->closing)
		return;
	c->closing = true;
	c->in_close = true;
	c->srv->nconns--;
	nbd_conn_hs_done(c);
	sb_budget_cancel(c->srv->budget, &c->budget_wait);
	sb_debug("%s: closed (%s)", c->name, why);
	sb_timer_cancel(c->srv->loop, &c->timer);
	sb_loop_defer_cancel(c->srv->loop, &c->work);
	sb_loop_watch_del(c->srv->loop, &c->watch);
	nbd_tls_close(c);
	shutdown(c->fd, SHUT_RDWR);
	close(c->fd);
	c->fd = -1;

	if (c->phase == NBD_TRANSMISSION) {
		/* Its waiting requests complete now with -ECANCELED and are
		 * never re-issued (a stale write must not land later). */
		sb_disk_detach(&c->session, "disconnected");
		if (c->rx_slot) {
			nbd_slot_put(c, c->rx_slot);
			c->rx_slot = NULL;
		}
		while ((s = TAILQ_FIRST(&c->out))) {
			TAILQ_REMOVE(&c->out, s, link);
			nbd_slot_put(c, s);
		}
		nbd_tx_drop_idle(c);
	}
	c->in_close = false;
	nbd_conn_maybe_free(c);
}

void nbd_conn_destroy(struct nbd_conn *c)
{
	TAILQ_REMOVE(&c->srv->conns, c, link);
	if (c->phase == NBD_TRANSMISSION)
		nbd_tx_free(c);
	nbd_tls_close(c);
	free(c->hs_out);
	free(c->rbuf);
	free(c);
}

void nbd_conn_maybe_free(struct nbd_conn *c)
{
	if (c->closing && !c->in_close && c->inflight == 0)
		nbd_conn_destroy(c);
}
