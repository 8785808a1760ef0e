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
};

struct stub_backend *stub_new(struct sb_loop *loop);
/* Completes every parked request with the current fail_err. */
void stub_finish_parked(struct stub_backend *s);

#endif
