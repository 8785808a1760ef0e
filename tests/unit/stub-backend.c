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

void stub_finish_parked(struct stub_backend *s)
{
	/* Complete in submission order; completions may submit again. */
	while (s->nqueue) {
		struct sb_request *req = s->queue[0];
		memmove(s->queue, s->queue + 1, --s->nqueue * sizeof(s->queue[0]));
		sb_backend_complete(&s->be, req, s->fail_err);
	}
}

static int stub_submit(struct sb_backend *be, struct sb_request *req)
{
	struct stub_backend *s = (struct stub_backend *)be;

	if (s->submitted < 4 * STUB_MAX)
		s->log[s->submitted] = req;
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
	s->be.caps = SB_CAP_FLUSH | SB_CAP_FUA;
	s->be.connected = true;
	s->loop = loop;
	sb_defer_init(&s->defer, stub_run, s);
	return s;
}
