/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the transmission phase: request headers are parsed from the
 * input buffer, validated, and handed to the disk; completions become
 * simple replies on the connection's output queue.
 *
 *   header --invalid--> error reply (a write's payload is read and dropped)
 *     |
 *     +--> slot (preallocated) --payload--> sb_disk_submit --> tx_done
 *                                                                 |
 *        slot free list <-- reply sent <-- output queue <---------+
 *
 * A connection stops reading when it holds NBD_MAX_REQUESTS requests or
 * NBD_MAX_BUSY_BYTES of payload, or when the disk's memory bound is reached
 * (sb_disk_accepting); a completion or the disk's resume() restarts it.
 */
#include <endian.h>
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "exports/nbd/internal.h"

static void tx_done(struct sb_request *req, int err);

static void tx_resume(struct sb_session *s)
{
	nbd_conn_schedule(SB_CONTAINER_OF(s, struct nbd_conn, session));
}

int nbd_tx_start(struct nbd_conn *c, struct nbd_export *e)
{
	size_t size = offsetof(struct nbd_slot, req) + sb_disk_request_size(e->disk);

	/* Rounded up so that every slot's request keeps its alignment. */
	size = (size + alignof(struct nbd_slot) - 1) & ~(alignof(struct nbd_slot) - 1);
	c->slot_mem = calloc(NBD_MAX_REQUESTS, size);
	if (!c->slot_mem)
		return -ENOMEM;
	c->slot_size = size;
	for (unsigned i = 0; i < NBD_MAX_REQUESTS; i++) {
		struct nbd_slot *s = (struct nbd_slot *)(c->slot_mem + i * size);
		s->conn = c;
		TAILQ_INSERT_TAIL(&c->free_slots, s, link);
	}
	c->exp = e;
	c->size = sb_disk_backend(e->disk)->size;
	c->phase = NBD_TRANSMISSION;
	c->session.name = c->name;
	c->session.resume = tx_resume;
	sb_disk_attach(e->disk, &c->session);
	sb_timer_cancel(c->srv->loop, &c->timer);
	return 0;
}

void nbd_tx_free(struct nbd_conn *c)
{
	for (unsigned i = 0; i < NBD_MAX_REQUESTS; i++)
		free(((struct nbd_slot *)(c->slot_mem + i * c->slot_size))->buf);
	free(c->slot_mem);
	c->slot_mem = NULL;
}

/* ---- slots ---- */

static struct nbd_slot *slot_get(struct nbd_conn *c)
{
	/* LIFO: the slot used last is the one warm in the cache. */
	struct nbd_slot *s = TAILQ_FIRST(&c->free_slots);

	TAILQ_REMOVE(&c->free_slots, s, link);
	c->busy++;
	s->payload = 0;
	s->data_len = 0;
	s->sent = 0;
	return s;
}

void nbd_slot_put(struct nbd_conn *c, struct nbd_slot *s)
{
	c->busy--;
	c->busy_bytes -= s->payload;
	/* Buffers are kept for the next request, within a bound, so a client
	 * that once sent large requests does not pin the memory for ever. */
	if (c->buf_bytes > NBD_KEEP_BUF_BYTES) {
		c->buf_bytes -= s->cap;
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
	TAILQ_INSERT_HEAD(&c->free_slots, s, link);
}

/* Makes s->buf hold @len bytes.  Returns 0 or -ENOMEM. */
static int slot_buffer(struct nbd_conn *c, struct nbd_slot *s, uint32_t len)
{
	void *p;

	if (s->cap < len) {
		/* The old contents do not matter: no realloc copy. */
		if (posix_memalign(&p, NBD_BUF_ALIGN, len) != 0)
			return -ENOMEM;
		c->buf_bytes += len - s->cap;
		free(s->buf);
		s->buf = p;
		s->cap = len;
	}
	s->payload = len;
	c->busy_bytes += len;
	return 0;
}

/* ---- replies ---- */

/* The protocol's error for a backend's -errno. */
static uint32_t nbd_errno(int err, bool fast_zero)
{
	switch (-err) {
	case EPERM:
	case EROFS:
		return NBD_EPERM;
	case ENOMEM:
		return NBD_ENOMEM;
	case EINVAL:
		return NBD_EINVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return NBD_ENOSPC;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	case ENOTSUP:
		/* Only a fast zero may answer "not supported". */
		return fast_zero ? NBD_ENOTSUP : NBD_EINVAL;
	default:
		/* ESHUTDOWN included: it would tell the client that *we* are
		 * going away, when it was only the backend's server. */
		return NBD_EIO;
	}
}

static void tx_reply(struct nbd_conn *c, struct nbd_slot *s, uint32_t error)
{
	s->reply.magic = htobe32(NBD_SIMPLE_REPLY_MAGIC);
	s->reply.error = htobe32(error);
	s->reply.cookie = s->cookie;
	s->data_len = (s->cmd == NBD_CMD_READ && error == 0) ? s->req.length : 0;
	s->sent = 0;
	TAILQ_INSERT_TAIL(&c->out, s, link);
	nbd_conn_schedule(c);
}

static void tx_done(struct sb_request *req, int err)
{
	struct nbd_slot *s = SB_CONTAINER_OF(req, struct nbd_slot, req);
	struct nbd_conn *c = s->conn;

	c->inflight--;
	if (c->closing) {
		/* Fenced (-ECANCELED) or finished after the client left:
		 * nobody to answer. */
		nbd_slot_put(c, s);
		nbd_conn_maybe_free(c);
		return;
	}
	tx_reply(c, s, err ? nbd_errno(err, req->flags & SB_REQ_FAST_ZERO) : 0);
}

/* Submits a valid request, or answers a refused one. */
static void tx_start(struct nbd_conn *c, struct nbd_slot *s)
{
	if (s->error) {
		tx_reply(c, s, s->error);
		return;
	}
	c->inflight++;
	sb_disk_submit(c->exp->disk, &s->req);
}

/* ---- requests ---- */

/* Checks a request against the protocol and the export.  Returns 0 or the
 * error to reply with. */
static uint32_t tx_check(const struct nbd_conn *c, uint16_t cmd, uint16_t flags,
			 uint64_t offset, uint32_t length)
{
	const struct nbd_export *e = c->exp;
	uint16_t allowed = (e->tx_flags & NBD_FLAG_SEND_FUA) ? NBD_CMD_FLAG_FUA : 0;
	uint16_t needs = 0;
	bool writes = true;

	switch (cmd) {
	case NBD_CMD_READ:
		writes = false;
		break;
	case NBD_CMD_WRITE:
		break;
	case NBD_CMD_FLUSH:
		if (!(e->tx_flags & NBD_FLAG_SEND_FLUSH) || (flags & ~allowed) || offset || length)
			return NBD_EINVAL;
		return 0;
	case NBD_CMD_TRIM:
		needs = NBD_FLAG_SEND_TRIM;
		break;
	case NBD_CMD_WRITE_ZEROES:
		needs = NBD_FLAG_SEND_WRITE_ZEROES;
		allowed |= NBD_CMD_FLAG_NO_HOLE;
		if (e->tx_flags & NBD_FLAG_SEND_FAST_ZERO)
			allowed |= NBD_CMD_FLAG_FAST_ZERO;
		break;
	default:
		return NBD_EINVAL;
	}
	if (writes && e->read_only)
		return NBD_EPERM;
	if ((flags & ~allowed) || (needs && !(e->tx_flags & needs)))
		return NBD_EINVAL;
	if (length == 0 || ((cmd == NBD_CMD_READ || cmd == NBD_CMD_WRITE) && length > e->block_max))
		return NBD_EINVAL;
	if (offset > c->size || length > c->size - offset)
		return (cmd == NBD_CMD_WRITE || cmd == NBD_CMD_WRITE_ZEROES) ? NBD_ENOSPC : NBD_EINVAL;
	if ((offset | length) & (e->block_min - 1))
		return NBD_EINVAL;
	/* The backend cannot zero quickly: say so at once, as a fast zero must. */
	if ((flags & NBD_CMD_FLAG_FAST_ZERO) &&
	    !(sb_disk_backend(e->disk)->caps & SB_CAP_FAST_ZERO))
		return NBD_ENOTSUP;
	return 0;
}

static void tx_fill(struct nbd_slot *s, struct nbd_conn *c, uint16_t cmd, uint16_t flags,
		    uint64_t offset, uint32_t length)
{
	static const enum sb_op ops[] = {
		[NBD_CMD_READ] = SB_OP_READ, [NBD_CMD_WRITE] = SB_OP_WRITE,
		[NBD_CMD_FLUSH] = SB_OP_FLUSH, [NBD_CMD_TRIM] = SB_OP_TRIM,
		[NBD_CMD_WRITE_ZEROES] = SB_OP_ZERO,
	};
	struct sb_request *r = &s->req;

	r->op = ops[cmd];
	r->flags = 0;
	if ((flags & NBD_CMD_FLAG_FUA) && sb_op_is_write(r->op) && r->op != SB_OP_FLUSH)
		r->flags |= SB_REQ_FUA;
	if (flags & NBD_CMD_FLAG_NO_HOLE)
		r->flags |= SB_REQ_NO_HOLE;
	if (flags & NBD_CMD_FLAG_FAST_ZERO)
		r->flags |= SB_REQ_FAST_ZERO;
	r->offset = offset;
	r->length = length;
	r->buf = (cmd == NBD_CMD_READ || cmd == NBD_CMD_WRITE) ? s->buf : NULL;
	r->session = &c->session;
	r->done = tx_done;
}

/* One request header (already taken off the buffer). */
static enum nbd_parse tx_request(struct nbd_conn *c, const struct nbd_request *h)
{
	uint16_t cmd = be16toh(h->type), flags = be16toh(h->flags);
	uint64_t offset = be64toh(h->offset);
	uint32_t length = be32toh(h->length), err;
	struct nbd_slot *s;

	if (be32toh(h->magic) != NBD_REQUEST_MAGIC) {
		sb_warn("%s: bad request magic 0x%08x", c->name, be32toh(h->magic));
		return NBD_PARSE_DROP;
	}
	if (cmd == NBD_CMD_DISC) {
		/* Answer what is outstanding, then close (conn_flush). */
		sb_debug("%s: disconnect requested", c->name);
		c->draining = true;
		nbd_conn_schedule(c);
		return NBD_PARSE_PAUSE;
	}
	if (cmd == NBD_CMD_WRITE && length > NBD_HARD_PAYLOAD) {
		/* Reading that much just to drop it is a denial of service. */
		sb_warn("%s: write of %u bytes, far above the %u byte maximum", c->name, length,
			c->exp->block_max);
		return NBD_PARSE_DROP;
	}

	s = slot_get(c);
	s->cookie = h->cookie;
	s->cmd = cmd;
	err = tx_check(c, cmd, flags, offset, length);
	if (!err && (cmd == NBD_CMD_READ || cmd == NBD_CMD_WRITE) &&
	    slot_buffer(c, s, length) < 0)
		err = NBD_ENOMEM;
	s->error = err;
	if (err)
		sb_debug("%s: request %u (flags 0x%x, %u bytes at %llu) refused: error %u",
			 c->name, cmd, flags, length, (unsigned long long)offset, err);
	else
		tx_fill(s, c, cmd, flags, offset, length);
	if (cmd == NBD_CMD_WRITE) {
		/* The payload follows whatever we think of it; a refused one is
		 * dropped.  Either way the reply waits until it is all in:
		 * clients do not expect an answer to a request still being sent. */
		c->rx_slot = s;
		if (err) {
			c->skip = length;
		} else {
			c->dst = s->buf;
			c->dst_left = length;
		}
		return NBD_PARSE_AGAIN;
	}
	tx_start(c, s);
	return NBD_PARSE_AGAIN;
}

enum nbd_parse nbd_tx_parse(struct nbd_conn *c)
{
	struct nbd_request h;

	/* A write whose payload has just arrived (or been dropped) in full. */
	if (c->rx_slot) {
		struct nbd_slot *s = c->rx_slot;
		c->rx_slot = NULL;
		tx_start(c, s);
	}
	if (c->draining)
		return NBD_PARSE_PAUSE;
	if (c->busy >= NBD_MAX_REQUESTS || c->busy_bytes >= NBD_MAX_BUSY_BYTES)
		return NBD_PARSE_PAUSE;
	if (c->rlen - c->rpos < sizeof(h))
		return NBD_PARSE_MORE;
	if (!sb_disk_accepting(c->exp->disk, &c->session))
		return NBD_PARSE_PAUSE; /* resume() calls us back */

	memcpy(&h, c->rbuf + c->rpos, sizeof(h));
	c->rpos += sizeof(h);
	return tx_request(c, &h);
}
