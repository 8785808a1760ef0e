/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the transmission phase: request headers are parsed from the
 * input buffer, validated, and handed to the disk; completions become
 * replies on the connection's output queue: simple replies, or, for reads
 * on a connection that negotiated structured replies, one chunk each (the
 * data, a hole when the data read is all zeroes, or an error).  One chunk
 * is all a read ever gets, so NBD_CMD_FLAG_DF holds by construction.  A
 * block status (base:allocation chosen) is one chunk too: its descriptors,
 * from the backend's extents in the slot's buffer, or one "all data" from
 * the core for a backend that cannot say.  A cache gets a simple reply,
 * structured replies or not: it has no payload.
 *
 *   header --invalid--> error reply (a write's payload is read and dropped)
 *     |
 *     +--> slot (preallocated) --payload--> sb_disk_submit --> tx_done
 *                                                                 |
 *        slot free list <-- reply sent <-- output queue <---------+
 *
 * A connection stops reading when it holds NBD_MAX_REQUESTS requests, when
 * the disk's memory bound is reached (sb_disk_accepting), or when the
 * server's budget has no room for the next payload; a completion, the
 * disk's resume() or the budget's wake() restarts it.
 *
 * Memory (invariant 6): a request's buffer is counted in the server-wide
 * budget from the moment its header is read, before its payload is read or
 * its buffer allocated, until its reply is sent.  The header stays unread
 * in the input buffer while the budget is short, so a paused client costs
 * nothing more.  A free slot may keep its buffer for the next request (no
 * allocation per request on the fast path) only while nobody waits for the
 * budget, within NBD_KEEP_BUF_BYTES per connection and NBD_IDLE_BUF_BYTES
 * per server: the bound plus a small constant.
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
	nbd_conn_hs_done(c);
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
	for (unsigned i = 0; i < NBD_MAX_REQUESTS; i++) {
		struct nbd_slot *s = (struct nbd_slot *)(c->slot_mem + i * c->slot_size);

		/* Only a forced teardown finds a slot still counted. */
		if (s->counted)
			sb_budget_give(c->srv->budget, s->counted);
		free(s->buf);
	}
	c->srv->idle_bytes -= c->idle_bytes;
	c->idle_bytes = 0;
	free(c->slot_mem);
	c->slot_mem = NULL;
}

void nbd_tx_drop_idle(struct nbd_conn *c)
{
	struct nbd_slot *s;

	while ((s = TAILQ_FIRST(&c->idle_slots))) {
		TAILQ_REMOVE(&c->idle_slots, s, link);
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
		TAILQ_INSERT_HEAD(&c->free_slots, s, link);
	}
	c->srv->idle_bytes -= c->idle_bytes;
	c->idle_bytes = 0;
}

/* ---- slots ---- */

/* The slot the next request will use: one with a buffer for a request that
 * needs one (LIFO: the one used last is warm in the cache), a bare one for
 * a request that does not.  There is one: the caller checked c->busy. */
static struct nbd_slot *slot_pick(struct nbd_conn *c, bool want_buf)
{
	struct nbd_slot *idle = TAILQ_FIRST(&c->idle_slots);
	struct nbd_slot *bare = TAILQ_FIRST(&c->free_slots);

	if (want_buf)
		return idle ? idle : bare;
	return bare ? bare : idle;
}

/* The budget bytes a request of @len bytes needs in slot @s: the buffer it
 * will have, which a kept one may exceed. */
static uint32_t slot_need(const struct nbd_slot *s, bool want_buf, uint32_t len)
{
	return want_buf ? SB_MAX(len, s->cap) : 0;
}

/* Takes @s (from slot_pick) off its free list. */
static void slot_get(struct nbd_conn *c, struct nbd_slot *s, bool want_buf)
{
	if (s->cap) {
		TAILQ_REMOVE(&c->idle_slots, s, link);
		c->idle_bytes -= s->cap;
		c->srv->idle_bytes -= s->cap;
		if (!want_buf) {
			/* Only when no bare slot is left: not worth keeping
			 * uncounted while busy. */
			free(s->buf);
			s->buf = NULL;
			s->cap = 0;
		}
	} else {
		TAILQ_REMOVE(&c->free_slots, s, link);
	}
	c->busy++;
	s->counted = 0;
	s->data_len = 0;
	s->sent = 0;
}

/* Keeps a free slot's buffer for reuse only if that costs nothing that
 * someone else is waiting for, within the two caps. */
static bool slot_keep(const struct nbd_conn *c, const struct nbd_slot *s)
{
	const struct sb_nbd_server *srv = c->srv;

	return s->cap && !c->closing && !sb_budget_contended(srv->budget) &&
	       c->idle_bytes + s->cap <= NBD_KEEP_BUF_BYTES &&
	       srv->idle_bytes + s->cap <= NBD_IDLE_BUF_BYTES;
}

void nbd_slot_put(struct nbd_conn *c, struct nbd_slot *s)
{
	uint32_t counted = s->counted;

	c->busy--;
	s->counted = 0;
	if (slot_keep(c, s)) {
		c->idle_bytes += s->cap;
		c->srv->idle_bytes += s->cap;
		TAILQ_INSERT_HEAD(&c->idle_slots, s, link);
	} else {
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
		TAILQ_INSERT_HEAD(&c->free_slots, s, link);
	}
	/* Last: this may wake the next waiter, and the memory is free now. */
	if (counted)
		sb_budget_give(c->srv->budget, counted);
}

/* Makes s->buf hold @len bytes, @counted of the budget taken for it.
 * Returns 0, or -ENOMEM with the budget given back. */
static int slot_buffer(struct nbd_conn *c, struct nbd_slot *s, uint32_t len, uint32_t counted)
{
	void *p;

	if (s->cap < len) {
		/* The old contents do not matter: no realloc copy. */
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
		if (posix_memalign(&p, NBD_BUF_ALIGN, len) != 0) {
			sb_budget_give(c->srv->budget, counted);
			return -ENOMEM;
		}
		s->buf = p;
		s->cap = len;
	}
	s->counted = counted;
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

/* Turns the request's extents, in place, into the base:allocation
 * descriptors of the reply (the same two u32 fields, big endian), within
 * the request's range and at least one.  Returns their bytes. */
static uint32_t tx_descriptors(struct sb_request *req)
{
	struct sb_extent *x = req->extents;
	uint32_t n = SB_MIN(req->nextents, req->max_extents), left = req->length, i;

	for (i = 0; i < n && left; i++) {
		uint32_t len = SB_MIN(x[i].length, left);
		uint32_t flags = ((x[i].flags & SB_EXTENT_HOLE) ? NBD_STATE_HOLE : 0) |
				 ((x[i].flags & SB_EXTENT_ZERO) ? NBD_STATE_ZERO : 0);

		if (len == 0)
			break;
		x[i].length = htobe32(len);
		x[i].flags = htobe32(flags);
		left -= len;
	}
	if (i == 0) { /* nothing said: all of it is data, which is never wrong */
		x[0].length = htobe32(req->length);
		x[0].flags = 0;
		i = 1;
	}
	return i * (uint32_t)sizeof(*x);
}

/* Does @len bytes at @p read as zeroes?  Data stops the scan at once,
 * mostly at its first byte. */
static bool all_zero(const unsigned char *p, size_t len)
{
	return len && p[0] == 0 && memcmp(p, p + 1, len - 1) == 0;
}

/* The one chunk, marked done, that answers a read or a block status on a
 * structured connection: its header and fixed fields into s->head, its
 * payload (read data, descriptors) the first s->data_len bytes of s->buf. */
static void tx_chunk(struct nbd_slot *s, uint32_t error)
{
	struct nbd_structured_reply h = {
		.magic = htobe32(NBD_STRUCTURED_REPLY_MAGIC),
		.flags = htobe16(NBD_REPLY_FLAG_DONE),
		.cookie = s->cookie,
	};
	uint64_t offset = htobe64(s->req.offset);
	uint32_t be32;
	uint16_t be16 = 0; /* no message: the error number says it */

	s->head_len = sizeof(h);
	s->data_len = 0;
	if (error) {
		h.type = htobe16(NBD_REPLY_TYPE_ERROR);
		h.length = htobe32(6);
		be32 = htobe32(error);
		memcpy(s->head + s->head_len, &be32, 4);
		memcpy(s->head + s->head_len + 4, &be16, 2);
		s->head_len += 6;
	} else if (s->cmd == NBD_CMD_BLOCK_STATUS) {
		h.type = htobe16(NBD_REPLY_TYPE_BLOCK_STATUS);
		s->data_len = tx_descriptors(&s->req);
		h.length = htobe32(4 + s->data_len);
		be32 = htobe32(NBD_META_ID);
		memcpy(s->head + s->head_len, &be32, 4);
		s->head_len += 4;
	} else if (all_zero(s->buf, s->req.length)) {
		h.type = htobe16(NBD_REPLY_TYPE_OFFSET_HOLE);
		h.length = htobe32(12);
		be32 = htobe32(s->req.length);
		memcpy(s->head + s->head_len, &offset, 8);
		memcpy(s->head + s->head_len + 8, &be32, 4);
		s->head_len += 12;
	} else {
		h.type = htobe16(NBD_REPLY_TYPE_OFFSET_DATA);
		h.length = htobe32(8 + s->req.length);
		memcpy(s->head + s->head_len, &offset, 8);
		s->head_len += 8;
		s->data_len = s->req.length;
	}
	memcpy(s->head, &h, sizeof(h));
}

static void tx_reply(struct nbd_conn *c, struct nbd_slot *s, uint32_t error)
{
	if (c->structured && (s->cmd == NBD_CMD_READ || s->cmd == NBD_CMD_BLOCK_STATUS)) {
		tx_chunk(s, error);
	} else {
		struct nbd_simple_reply r = {
			.magic = htobe32(NBD_SIMPLE_REPLY_MAGIC),
			.error = htobe32(error),
			.cookie = s->cookie,
		};
		memcpy(s->head, &r, sizeof(r));
		s->head_len = sizeof(r);
		s->data_len = (s->cmd == NBD_CMD_READ && error == 0) ? s->req.length : 0;
	}
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
	if (err == -ECANCELED) {
		/* Fenced while the socket stays open (the client hung up after
		 * DISC): no reply; conn_flush closes once nothing is left. */
		nbd_slot_put(c, s);
		nbd_conn_schedule(c);
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
		if (c->structured)
			allowed |= NBD_CMD_FLAG_DF;
		break;
	case NBD_CMD_WRITE:
		break;
	case NBD_CMD_BLOCK_STATUS:
		if (c->meta_export != e) /* base:allocation not chosen */
			return NBD_EINVAL;
		writes = false;
		allowed |= NBD_CMD_FLAG_REQ_ONE;
		break;
	case NBD_CMD_CACHE:
		/* Checked as a read, but, without a payload, longer than
		 * block_max is fine (as a trim). */
		writes = false;
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
		[NBD_CMD_WRITE_ZEROES] = SB_OP_ZERO, [NBD_CMD_BLOCK_STATUS] = SB_OP_BLOCK_STATUS,
		[NBD_CMD_CACHE] = SB_OP_CACHE,
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
	r->extents = cmd == NBD_CMD_BLOCK_STATUS ? s->buf : NULL;
	r->max_extents = !r->extents ? 0 : (flags & NBD_CMD_FLAG_REQ_ONE) ? 1 : NBD_BS_EXTENTS;
	r->nextents = 0;
	r->session = &c->session;
	r->done = tx_done;
}

/* One request header, still in the input buffer: it is taken off only
 * once the budget has room for its buffer. */
static enum nbd_parse tx_request(struct nbd_conn *c, const struct nbd_request *h)
{
	uint16_t cmd = be16toh(h->type), flags = be16toh(h->flags);
	uint64_t offset = be64toh(h->offset);
	uint32_t length = be32toh(h->length), err, need, buf_len;
	struct nbd_slot *s;
	bool want_buf;

	if (be32toh(h->magic) != NBD_REQUEST_MAGIC) {
		sb_warn("%s: bad request magic 0x%08x", c->name, be32toh(h->magic));
		return NBD_PARSE_DROP;
	}
	if (cmd == NBD_CMD_DISC) {
		/* Answer what is outstanding, then close (conn_flush). */
		sb_debug("%s: disconnect requested", c->name);
		c->rpos += sizeof(*h);
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

	err = tx_check(c, cmd, flags, offset, length);
	want_buf = !err && (cmd == NBD_CMD_READ || cmd == NBD_CMD_WRITE ||
			    cmd == NBD_CMD_BLOCK_STATUS);
	/* A block status's buffer holds its descriptors. */
	buf_len = cmd == NBD_CMD_BLOCK_STATUS ? NBD_BS_EXTENTS * sizeof(struct sb_extent) : length;
	s = slot_pick(c, want_buf);
	need = slot_need(s, want_buf, buf_len);
	if (!sb_budget_take(c->srv->budget, &c->budget_wait, need)) {
		sb_debug("%s: memory budget reached (%llu of %llu bytes), paused", c->name,
			 (unsigned long long)c->srv->budget->used,
			 (unsigned long long)c->srv->budget->limit);
		return NBD_PARSE_PAUSE; /* the budget's wake() calls us back */
	}
	c->rpos += sizeof(*h);
	slot_get(c, s, want_buf);
	s->cookie = h->cookie;
	s->cmd = cmd;
	if (want_buf && slot_buffer(c, s, buf_len, need) < 0)
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
	if (c->busy >= NBD_MAX_REQUESTS)
		return NBD_PARSE_PAUSE;
	if (c->rlen - c->rpos < sizeof(h))
		return NBD_PARSE_MORE;
	if (!sb_disk_accepting(c->exp->disk, &c->session))
		return NBD_PARSE_PAUSE; /* resume() calls us back */

	memcpy(&h, c->rbuf + c->rpos, sizeof(h));
	return tx_request(c, &h);
}
