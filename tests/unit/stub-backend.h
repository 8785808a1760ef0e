/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: a backend for unit tests whose results the test decides. */
#ifndef STUB_BACKEND_H
#define STUB_BACKEND_H

#include "backends/backend.h"

#define STUB_MAX 256

struct stub_backend {
	struct sb_backend be;
	struct sb_loop *loop;
	int fail_err;                      /* completions carry this (0 = success) */
	bool sync_fail;                    /* fail inside submit instead */
	bool park;                         /* keep requests until stub_finish_parked() */
	struct sb_request *queue[STUB_MAX];/* submitted, not yet completed */
	unsigned nqueue;
	struct sb_request *log[4 * STUB_MAX]; /* every submission, in order */
	unsigned submitted;
	struct sb_defer defer;
	bool closed;
	/* Only requests that overlap [fail_from, fail_to) fail, when set. */
	bool fail_range;
	uint64_t fail_from, fail_to;
	/* When set, the range fails only this many times, then works. */
	unsigned fail_times;
	/* Offset and op of every submission, in order (requests are reused). */
	uint64_t log_offset[4 * STUB_MAX];
	enum sb_op log_op[4 * STUB_MAX];
	/* The stored bytes, with a volatile cache: `data` is what reads see,
	 * `durable` what a flush made safe; stub_lose_cache() forgets the rest. */
	unsigned char *data, *durable;
};

struct stub_backend *stub_new(struct sb_loop *loop);
/* Completes every parked request with the current fail_err. */
void stub_finish_parked(struct stub_backend *s);
/* Completes the parked request @i alone, with @err. */
void stub_finish_one(struct stub_backend *s, unsigned i, int err);
/* The cache is gone: data goes back to what was last flushed. */
void stub_lose_cache(struct stub_backend *s);

#endif
