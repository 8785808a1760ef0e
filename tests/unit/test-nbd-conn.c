/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the NBD server's connection life: a
 * connection refused because epoll will not watch its socket leaves
 * nothing queued in the loop (its greeting's send was deferred before the
 * watch failed, and used to run on freed memory). */
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "exports/nbd/internal.h"

/* A regular file: epoll_ctl(ADD) refuses it with EPERM, as it would refuse
 * a socket when the kernel is out of memory. */
static int unwatchable_fd(void)
{
	char path[] = "/tmp/sb-test-nbd-conn.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

static void test_watch_failure_leaves_no_deferred_work(void **state)
{
	struct sb_loop *loop = sb_loop_new();
	struct sb_nbd_server *srv = sb_nbd_server_new(loop, NULL);
	int fd = unwatchable_fd();

	assert_non_null(srv);
	assert_int_equal(nbd_conn_new(srv, NULL, fd, "test"), -1);
	/* The fd was closed, and the connection is not counted. */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_true(TAILQ_EMPTY(&srv->conns));
	/* Freed memory is scribbled over (M_PERTURB), so work left queued
	 * for the freed connection would crash here (and ASan says so). */
	sb_loop_run_once(loop, 0);
	sb_loop_run_once(loop, 0);
	sb_nbd_server_free(srv);
	sb_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_failure_leaves_no_deferred_work),
	};

	mallopt(M_PERTURB, 0xa5);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
