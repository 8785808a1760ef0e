/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: the QMP server's unit-test fixture: a loop, disks over the
 * stub backend (optionally behind the fault filter), the server on a socket
 * in a temporary directory, and clients that talk to it from the same
 * thread (every wait runs the loop, bounded). */
#ifndef QMP_FIXTURE_H
#define QMP_FIXTURE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "control/qmp.h"
#include "core/disk.h"
#include "stub-backend.h"

/* A client connection. */
struct cl {
	int fd;
	char buf[1 << 16];
	size_t len;
	json_t *events;            /* events that arrived while awaiting a reply */
};

/* The fixture; the request callbacks find it through F. */
struct fx {
	char dir[64];
	char path[128];
	struct sb_loop *loop;
	struct stub_backend *stub[2];
	struct sb_disk *disk[2];
	size_t ndisks;
	struct sb_qmp_server *srv;
	int quits;
	struct sb_session session;
	struct sb_request *req[4];
	char data[4][512];
	int done[4], err[4];
};

extern struct fx *F;

/* cmocka setup/teardown: a loop and a socket path; fx_open adds the rest. */
int fx_setup(void **state);
int fx_teardown(void **state);
/* Creates @ndisks disks "d0".. with werror @werror and 10 ms retry ticks,
 * over stubs (behind the fault filter if @fault), and the server. */
void fx_open(struct fx *f, size_t ndisks, bool fault, enum sb_action werror);
void fx_run_for(struct fx *f, unsigned ms);
/* Submits request @i as a 512-byte write to d0. */
void fx_submit_write(struct fx *f, int i);

struct cl *cl_connect(struct fx *f);
/* Connected, greeted and negotiated. */
struct cl *cl_ready(struct fx *f);
void cl_close(struct cl *c);
void cl_send(struct cl *c, const char *s);
/* The next line from the server, parsed; NULL if none comes within @ms. */
json_t *cl_recv_within(struct fx *f, struct cl *c, unsigned ms);
/* The same, failing the test after 2 s. */
json_t *cl_recv(struct fx *f, struct cl *c);
/* Sends @cmd and returns its reply; events before it are kept for
 * cl_expect_event. */
json_t *cl_cmd(struct fx *f, struct cl *c, const char *cmd);
/* The next event, which must be @name (BLOCK_IO_ERROR is skipped unless
 * it is the one asked for). */
json_t *cl_expect_event(struct fx *f, struct cl *c, const char *name);

/* Assert an error reply of class @cls / a success reply; both free @v. */
void assert_qmp_error(json_t *v, const char *cls);
void assert_qmp_return(json_t *v);
/* v[a][b] (b may be NULL). */
json_t *jget(json_t *v, const char *a, const char *b);

#endif
