/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the fixture of the disk's unit tests (disk-fixture.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "disk-fixture.h"

static struct fx *F; /* the request callbacks find the fixture here */

static void on_done(struct sb_request *req, int err)
{
	for (int i = 0; i < NREQ; i++) {
		if (F->req[i] == req) {
			F->err[i] = err;
			F->ndone[i]++;
			F->order[F->norder++] = i;
			F->done_at[i] = sb_now_ns();
			return;
		}
	}
	fail_msg("unknown request completed");
}

static void on_event(void *opaque, struct sb_disk *disk, const struct sb_disk_event *ev)
{
	struct fx *f = opaque;
	f->evdata[f->nev] = *ev;
	f->ev[f->nev++] = ev->kind;
}

static void on_resume(struct sb_session *s)
{
	F->resumed++;
}

int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	F = f;
	f->loop = sb_loop_new();
	f->stub = stub_new(f->loop);
	sb_policy_init(&f->policy);
	f->policy.retry_interval_ns = 10 * SB_NS_PER_MS;
	f->policy.retry_max_interval_ns = 20 * SB_NS_PER_MS;
	for (int i = 0; i < NREQ; i++)
		f->req[i] = calloc(1, sizeof(struct sb_request) + 64);
	f->session.name = "client A";
	f->session.resume = on_resume;
	f->other.name = "client B";
	f->other.resume = on_resume;
	f->obs.event = on_event;
	f->obs.opaque = f;
	*state = f;
	return 0;
}

void open_disk(struct fx *f)
{
	struct sb_error *err = NULL;
	f->disk = sb_disk_new(f->loop, "d0", &f->stub->be, &f->policy, &err);
	assert_non_null(f->disk);
	sb_disk_add_observer(f->disk, &f->obs);
	sb_disk_attach(f->disk, &f->session);
	sb_disk_attach(f->disk, &f->other);
}

int fx_teardown(void **state)
{
	struct fx *f = *state;
	if (!f->session.closing)
		sb_disk_detach(&f->session, "disconnected");
	if (!f->other.closing)
		sb_disk_detach(&f->other, "disconnected");
	sb_disk_free(f->disk);
	sb_loop_free(f->loop);
	for (int i = 0; i < NREQ; i++)
		free(f->req[i]);
	free(f);
	return 0;
}

void submit(struct fx *f, int i, enum sb_op op, uint64_t off, uint32_t len,
		   struct sb_session *s)
{
	struct sb_request *r = f->req[i];
	r->op = op;
	r->flags = 0;
	r->offset = off;
	r->length = op == SB_OP_FLUSH ? 0 : len;
	r->buf = f->buf[i];
	r->session = s ? s : &f->session;
	r->done = on_done;
	sb_disk_submit(f->disk, r);
}

void run_for(struct fx *f, unsigned ms)
{
	uint64_t end = sb_now_ns() + ms * SB_NS_PER_MS;
	uint64_t now;
	while ((now = sb_now_ns()) < end)
		sb_loop_run_once(f->loop, end - now);
}

void run_until_done(struct fx *f, int i)
{
	uint64_t end = sb_now_ns() + 2 * SB_NS_PER_SEC;
	while (!f->ndone[i] && sb_now_ns() < end)
		sb_loop_run_once(f->loop, 10 * SB_NS_PER_MS);
	assert_int_equal(f->ndone[i], 1);
}

bool saw_event(struct fx *f, enum sb_disk_event_kind k)
{
	for (int i = 0; i < f->nev; i++)
		if (f->ev[i] == k)
			return true;
	return false;
}

int queued_at(struct fx *f, int i)
{
	for (unsigned q = 0; q < f->stub->nqueue; q++)
		if (f->stub->queue[q] == f->req[i])
			return (int)q;
	return -1;
}
