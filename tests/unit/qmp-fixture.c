/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the QMP server's unit-test fixture (see qmp-fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/fault.h"
#include "base/loop.h"
#include "qmp-fixture.h"

struct fx *F;

static void on_done(struct sb_request *req, int err)
{
	for (int i = 0; i < 4; i++) {
		if (F->req[i] == req) {
			F->done[i]++;
			F->err[i] = err;
		}
	}
}

static void on_quit(void *opaque)
{
	((struct fx *)opaque)->quits++;
}

void fx_run_for(struct fx *f, unsigned ms)
{
	uint64_t end = sb_now_ns() + ms * SB_NS_PER_MS, now;

	while ((now = sb_now_ns()) < end)
		sb_loop_run_once(f->loop, end - now);
}

/* ---- a client ---- */

struct cl *cl_connect(struct fx *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct cl *c = calloc(1, sizeof(*c));

	strcpy(sa.sun_path, f->path);
	c->events = json_array();
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return c;
}

void cl_close(struct cl *c)
{
	json_decref(c->events);
	close(c->fd);
	free(c);
}

void cl_send(struct cl *c, const char *s)
{
	assert_int_equal(send(c->fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* The next line from the server, parsed; NULL if none comes within @ms. */
json_t *cl_recv_within(struct fx *f, struct cl *c, unsigned ms)
{
	uint64_t end = sb_now_ns() + ms * SB_NS_PER_MS;

	for (;;) {
		char *eol = memmem(c->buf, c->len, "\r\n", 2);
		if (eol) {
			size_t n = (size_t)(eol - c->buf);
			json_error_t jerr;
			json_t *v = json_loadb(c->buf, n, 0, &jerr);
			if (!v)
				fail_msg("server sent bad JSON: %s: %.*s", jerr.text, (int)n, c->buf);
			memmove(c->buf, eol + 2, c->len - n - 2);
			c->len -= n + 2;
			return v;
		}
		if (sb_now_ns() >= end)
			return NULL;
		sb_loop_run_once(f->loop, 5 * SB_NS_PER_MS);
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r > 0)
			c->len += (size_t)r;
	}
}

json_t *cl_recv(struct fx *f, struct cl *c)
{
	json_t *v = cl_recv_within(f, c, 2000);
	assert_non_null(v);
	return v;
}

/* Sends @cmd and returns the reply; events before it are kept for later. */
json_t *cl_cmd(struct fx *f, struct cl *c, const char *cmd)
{
	cl_send(c, cmd);
	for (;;) {
		json_t *v = cl_recv(f, c);
		if (!json_object_get(v, "event"))
			return v;
		json_array_append_new(c->events, v);
	}
}

struct cl *cl_ready(struct fx *f)
{
	struct cl *c = cl_connect(f);
	json_decref(cl_recv(f, c)); /* greeting */
	json_decref(cl_cmd(f, c, "{\"execute\":\"qmp_capabilities\"}"));
	return c;
}

/* Asserts that @v is an error reply of @cls. */
void assert_qmp_error(json_t *v, const char *cls)
{
	json_t *e = json_object_get(v, "error");
	if (!e)
		fail_msg("expected %s, got %s", cls, json_dumps(v, 0));
	assert_string_equal(json_string_value(json_object_get(e, "class")), cls);
	assert_true(json_is_string(json_object_get(e, "desc")));
	json_decref(v);
}

void assert_qmp_return(json_t *v)
{
	if (!json_object_get(v, "return"))
		fail_msg("expected a return, got %s", json_dumps(v, 0));
	json_decref(v);
}

/* The event named @name, skipping BLOCK_IO_ERROR unless that is asked for. */
json_t *cl_expect_event(struct fx *f, struct cl *c, const char *name)
{
	for (;;) {
		json_t *v = json_array_get(c->events, 0);
		const char *ev;

		if (v) {
			json_incref(v);
			json_array_remove(c->events, 0);
		} else {
			v = cl_recv(f, c);
		}
		ev = json_string_value(json_object_get(v, "event"));
		assert_non_null(ev);
		if (strcmp(ev, "BLOCK_IO_ERROR") == 0 && strcmp(name, ev) != 0) {
			json_decref(v);
			continue;
		}
		assert_string_equal(ev, name);
		assert_true(json_is_integer(json_object_get(json_object_get(v, "timestamp"), "seconds")));
		return v;
	}
}

json_t *jget(json_t *v, const char *a, const char *b)
{
	json_t *x = json_object_get(v, a);

	return b ? json_object_get(x, b) : x;
}

/* ---- fixture ---- */

void fx_open(struct fx *f, size_t ndisks, bool fault, enum sb_action werror)
{
	struct sb_qmp_hooks hooks = { .quit = on_quit, .opaque = f };
	struct sb_error *err = NULL;
	struct sb_policy p;

	sb_policy_init(&p);
	p.retry_interval_ns = 10 * SB_NS_PER_MS;
	p.retry_max_interval_ns = 10 * SB_NS_PER_MS;
	sb_policy_set_werror(&p, werror);
	f->ndisks = ndisks;
	for (size_t i = 0; i < ndisks; i++) {
		struct sb_backend *be;
		char name[24];

		f->stub[i] = stub_new(f->loop);
		be = &f->stub[i]->be;
		if (fault)
			assert_int_equal(sb_fault_wrap(f->loop, be, NULL, &be, &err), 0);
		snprintf(name, sizeof(name), "d%zu", i);
		f->disk[i] = sb_disk_new(f->loop, name, be, &p, &err);
		assert_non_null(f->disk[i]);
	}
	sb_disk_attach(f->disk[0], &f->session);
	f->srv = sb_qmp_server_new(f->loop, f->path, f->disk, ndisks, &hooks, &err);
	if (!f->srv)
		fail_msg("%s", err->msg);
}

int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	F = f;
	strcpy(f->dir, "/tmp/sbqmp.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/qmp.sock", f->dir);
	f->loop = sb_loop_new();
	f->session.name = "test client";
	for (int i = 0; i < 4; i++)
		f->req[i] = calloc(1, sizeof(struct sb_request) + 64);
	*state = f;
	return 0;
}

int fx_teardown(void **state)
{
	struct fx *f = *state;

	sb_qmp_server_free(f->srv);
	if (f->ndisks)
		sb_disk_detach(&f->session, "disconnected");
	fx_run_for(f, 5);
	for (size_t i = 0; i < f->ndisks; i++)
		sb_disk_free(f->disk[i]);
	sb_loop_free(f->loop);
	for (int i = 0; i < 4; i++)
		free(f->req[i]);
	rmdir(f->dir);
	free(f);
	return 0;
}

void fx_submit_write(struct fx *f, int i)
{
	struct sb_request *r = f->req[i];

	r->op = SB_OP_WRITE;
	r->offset = (uint64_t)i * 512;
	r->length = 512;
	r->buf = f->data[i];
	r->session = &f->session;
	r->done = on_done;
	sb_disk_submit(f->disk[0], r);
}

