/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: a backend for unit tests whose results the test decides. */
#include <stdlib.h>
#include <string.h>

#include "stub-backend.h"

static void stub_run(void *opaque)
{
	struct stub_backend *s = opaque;

	if (!s->park)
		stub_finish_parked(s);
}

static int stub_result(struct stub_backend *s, const struct sb_request *req)
{
	if (!s->fail_range || !s->fail_err)
		return s->fail_err;
	if (req->op == SB_OP_FLUSH)
		return 0;
	if (req->offset >= s->fail_to || s->fail_from >= req->offset + req->length)
		return 0;
	int err = s->fail_err;
	if (s->fail_times && --s->fail_times == 0) {
		s->fail_range = false; /* that was the last: all well from now */
		s->fail_err = 0;
	}
	return err;
}

/* What a successful request does to the stored bytes. */
static void stub_apply(struct stub_backend *s, struct sb_request *req)
{
	if (req->offset + req->length > s->be.size ||
	    (!req->buf && !req->iovcnt && (req->op == SB_OP_READ || req->op == SB_OP_WRITE)))
		return;
	switch (req->op) {
	case SB_OP_READ:
		if (req->iovcnt)
			sb_iov_from_buf(req->iov, req->iovcnt, 0, s->data + req->offset,
					req->length);
		else
			memcpy(req->buf, s->data + req->offset, req->length);
		break;
	case SB_OP_WRITE:
		sb_request_copy_data(req, s->data + req->offset);
		if (req->flags & SB_REQ_FUA)
			memcpy(s->durable + req->offset, s->data + req->offset, req->length);
		break;
	case SB_OP_TRIM:
	case SB_OP_ZERO:
		memset(s->data + req->offset, 0, req->length);
		break;
	case SB_OP_FLUSH:
		memcpy(s->durable, s->data, s->be.size);
		break;
	case SB_OP_BLOCK_STATUS:
		/* A hole, so that a test tells the stub's answer from the
		 * core's "all data".  Tests that only count operations give
		 * no extents. */
		if (!req->extents || !req->max_extents)
			break;
		req->extents[0] = (struct sb_extent){ .length = req->length,
						      .flags = SB_EXTENT_HOLE | SB_EXTENT_ZERO };
		req->nextents = 1;
		break;
	default:
		break;
	}
}

void stub_finish_one(struct stub_backend *s, unsigned i, int err)
{
	struct sb_request *req = s->queue[i];

	memmove(s->queue + i, s->queue + i + 1, (--s->nqueue - i) * sizeof(s->queue[0]));
	if (err == 0)
		stub_apply(s, req);
	sb_backend_complete(&s->be, req, err);
}

void stub_finish_parked(struct stub_backend *s)
{
	/* Complete in submission order; completions may submit again. */
	while (s->nqueue)
		stub_finish_one(s, 0, stub_result(s, s->queue[0]));
}

void stub_lose_cache(struct stub_backend *s)
{
	memcpy(s->data, s->durable, s->be.size);
}

static int stub_submit(struct sb_backend *be, struct sb_request *req)
{
	struct stub_backend *s = (struct stub_backend *)be;

	if (s->submitted < 4 * STUB_MAX) {
		s->log[s->submitted] = req;
		s->log_offset[s->submitted] = req->offset;
		s->log_op[s->submitted] = req->op;
	}
	s->submitted++;
	if (s->sync_fail && s->fail_err)
		return s->fail_err;
	s->queue[s->nqueue++] = req;
	sb_loop_defer(s->loop, &s->defer);
	return 0;
}

static void stub_close(struct sb_backend *be)
{
	struct stub_backend *s = (struct stub_backend *)be;
	s->closed = true;
	free(s->data);
	free(s->durable);
	free(s);
}

static const struct sb_backend_ops stub_ops = {
	.name = "stub",
	.submit = stub_submit,
	.close = stub_close,
};

struct stub_backend *stub_new(struct sb_loop *loop)
{
	struct stub_backend *s = calloc(1, sizeof(*s));
	s->be.ops = &stub_ops;
	s->be.name = "stub";
	s->be.size = 1 << 20;
	/* stub_apply takes iovecs and answers block status; a cache does
	 * nothing to it. */
	s->be.caps = SB_CAP_FLUSH | SB_CAP_FUA | SB_CAP_IOVEC | SB_CAP_BLOCK_STATUS | SB_CAP_CACHE;
	s->be.connected = true;
	s->data = calloc(1, s->be.size);
	s->durable = calloc(1, s->be.size);
	s->loop = loop;
	sb_defer_init(&s->defer, stub_run, s);
	return s;
}
