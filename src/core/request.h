/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the request, the unit that travels frontend -> core -> backend.
 *
 * Life cycle (the state field), owned by whoever holds it:
 *
 *   frontend fills it, sb_disk_submit()
 *        |
 *        v                     success / report / ignore
 *     INFLIGHT at backend ------------------------------> complete(req, err)
 *        |   ^                                            (exactly once)
 *  failed|   | probe or release
 *  (hold)v   |
 *     WAITING on the disk's ordered queue ---- fenced ---> complete(req, -ECANCELED)
 *        ^                                   (client gone: never re-issued)
 *        |
 *  new requests queue here too while the disk holds any (ordering)
 *
 * The frontend allocates requests once per connection slot, with the backend's
 * context size (sb_disk_request_size()), so the fast path never allocates.
 */
#ifndef SB_REQUEST_H
#define SB_REQUEST_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>

#include "base/iov.h"

enum sb_op {
	SB_OP_READ,
	SB_OP_WRITE,
	SB_OP_FLUSH,
	SB_OP_TRIM,
	SB_OP_ZERO,      /* write zeroes */
	SB_OP_BLOCK_STATUS, /* which of the range is data, which holes: read-like */
	SB_OP_CACHE,     /* a hint: the range will be read soon; read-like, no data */
	SB_OP_COUNT
};

/* One extent of a block status answer; the flags are NBD's base:allocation
 * states.  Extents follow each other from the request's offset. */
struct sb_extent {
	uint32_t length;
	uint32_t flags;
};
#define SB_EXTENT_HOLE (1u << 0) /* not allocated */
#define SB_EXTENT_ZERO (1u << 1) /* reads as zeroes */

/* Flags on every data operation. */
#define SB_REQ_FUA       (1u << 0) /* durable before completion */
#define SB_REQ_NO_HOLE   (1u << 1) /* write zeroes: keep it allocated */
#define SB_REQ_FAST_ZERO (1u << 2) /* write zeroes: fail with ENOTSUP if slow */

enum sb_req_state {
	SB_REQ_IDLE,     /* the frontend owns it */
	SB_REQ_INFLIGHT, /* at the backend */
	SB_REQ_WAITING,  /* on the disk's queue: held after a failure, or queued behind held ones */
	SB_REQ_PARKED,   /* done at the backend, acknowledged once a flush covers it */
};

/* Who a request belongs to: a client, or the disk itself. */
enum sb_req_origin {
	SB_ORIGIN_CLIENT,
	SB_ORIGIN_REPLAY,  /* a logged write written again after a cache loss */
	SB_ORIGIN_FLUSH,   /* the disk's own flush, to empty its log */
};

struct sb_session;
struct sb_request;

/* Called exactly once per submitted request.  @err is 0 or -errno; it is
 * -ECANCELED when the request was fenced because its session closed: the
 * frontend must then not reply, only release the request. */
typedef void (*sb_request_done_fn)(struct sb_request *req, int err);

struct sb_request {
	/* Set by the frontend before sb_disk_submit(). */
	enum sb_op op;
	uint32_t flags;            /* SB_REQ_* */
	uint64_t offset;
	uint32_t length;
	void *buf;                 /* read: filled; write: the data; frontend-owned */
	/* Or the data scattered over buffers (a guest's, with vhost-user):
	 * iovcnt > 0 and buf NULL.  Only for a backend with SB_CAP_IOVEC;
	 * the list is the frontend's and nobody else changes it, so a retry
	 * finds it whole. */
	const struct iovec *iov;
	uint32_t iovcnt;
	/* Block status: up to max_extents extents into extents (frontend-owned),
	 * nextents of them set by the backend, covering at least the range's
	 * first byte and at most all of it (the client asks again for the rest). */
	struct sb_extent *extents;
	uint32_t max_extents;
	uint32_t nextents;
	struct sb_session *session;
	sb_request_done_fn done;

	/* Owned by the core while submitted. */
	enum sb_req_state state;
	uint8_t origin;            /* enum sb_req_origin */
	bool released;             /* re-issued from the queue, counted in disk->releasing */
	bool fencing;              /* in flight and on disk->fencing: newer overlapping
				      requests wait for it */
	bool give_up;              /* fail-held came while it was in flight: a failure
				      is reported, not held again */
	uint32_t epoch;            /* disk->cache_epoch when it was issued */
	uint64_t seq;              /* arrival order on the disk */
	uint64_t held_since_ns;    /* 0 = never held; its retry age counts from here */
	uint64_t retry_at_ns;      /* degraded: when this held request is retried */
	uint64_t log_mark;         /* flush: the unflushed log's mark at issue;
				      parked: its number */
	uint64_t park_mark;        /* flush: parked requests below this it covers */
	int last_err;              /* the last backend error, -errno */
	uint32_t attempts;         /* backend attempts so far */
	TAILQ_ENTRY(sb_request) link;          /* waiting, fencing or parked */
	TAILQ_ENTRY(sb_request) inflight_link; /* disk->inflight_list */

	/* Backend-private context, sb_backend.ctx_size bytes. */
	alignas(16) unsigned char backend_ctx[];
};

TAILQ_HEAD(sb_request_queue, sb_request);

static inline bool sb_op_is_write(enum sb_op op)
{
	return op != SB_OP_READ && op != SB_OP_BLOCK_STATUS && op != SB_OP_CACHE;
}

/* Is @op a question or a hint about the range, moving none of its data?
 * A block status reads metadata at most (a file system's extent map, or
 * nothing); a cache only asks for a prefetch (the kernel's readahead, or
 * the remote server's), whose failures nobody hears of.  Neither counts
 * bytes, and either may succeed while reads and writes of the same
 * storage fail. */
static inline bool sb_op_moves_no_data(enum sb_op op)
{
	return op == SB_OP_BLOCK_STATUS || op == SB_OP_CACHE;
}

/* Does the success of @req say the storage works?  Not for a block status
 * or a cache (sb_op_moves_no_data): they never end a hang, never make a
 * disk look flaky rather than down, and are the probe only when nothing
 * else waits. */
static inline bool sb_request_proves_storage(const struct sb_request *req)
{
	return !sb_op_moves_no_data(req->op);
}

/* The answer that is never wrong: all of the range is data. */
static inline void sb_request_all_data(struct sb_request *req)
{
	req->extents[0] = (struct sb_extent){ .length = req->length, .flags = 0 };
	req->nextents = 1;
}

/* Bytes of memory a request pins while it waits (its data buffer). */
static inline uint64_t sb_request_payload(const struct sb_request *req)
{
	return (req->op == SB_OP_READ || req->op == SB_OP_WRITE) ? req->length : 0;
}

/* Copies a write's data into @dst (req->length bytes). */
static inline void sb_request_copy_data(const struct sb_request *req, void *dst)
{
	if (req->iovcnt)
		sb_iov_to_buf(req->iov, req->iovcnt, 0, dst, req->length);
	else
		memcpy(dst, req->buf, req->length);
}

/* Fills a read's data from @src (req->length bytes). */
static inline void sb_request_set_data(struct sb_request *req, const void *src)
{
	if (req->iovcnt)
		sb_iov_from_buf(req->iov, req->iovcnt, 0, src, req->length);
	else
		memcpy(req->buf, src, req->length);
}

/* Zeroes a read's data: what a read that is not done must leave, never the
 * stale memory the buffer held. */
static inline void sb_request_zero_data(struct sb_request *req)
{
	if (req->iovcnt)
		sb_iov_memset(req->iov, req->iovcnt, 0, 0, req->length);
	else
		memset(req->buf, 0, req->length);
}

/* What a read-like request answers when it is not done, its failure
 * ignored or its backend unable to do it: a read zeroes, a block status
 * all data, a cache nothing (success is all it says). */
static inline void sb_request_ignored(struct sb_request *req)
{
	if (req->op == SB_OP_READ)
		sb_request_zero_data(req); /* never leak stale memory */
	else if (req->op == SB_OP_BLOCK_STATUS)
		sb_request_all_data(req);
}

const char *sb_op_name(enum sb_op op);

#endif
