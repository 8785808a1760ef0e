/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the QMP server's protocol over a real unix
 * socket: greeting and negotiation, every kind of bad input, framing, a
 * client that does not read, half-closed clients, quit, the socket file. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/loop.h"
#include "qmp-fixture.h"

static void test_greeting_and_negotiation(void **state)
{
	struct fx *f = *state;
	struct cl *c;
	json_t *v;

	fx_open(f, 1, false, SB_ACTION_REPORT);
	c = cl_connect(f);
	v = cl_recv(f, c);
	assert_int_equal(json_integer_value(jget(jget(v, "QMP", "version"), "qemu", "major")), 0);
	assert_int_equal(json_integer_value(jget(jget(v, "QMP", "version"), "qemu", "minor")), 1);
	assert_string_equal(json_string_value(json_object_get(jget(v, "QMP", "version"), "package")),
			    "steadyblk " SB_VERSION);
	assert_int_equal(json_array_size(jget(v, "QMP", "capabilities")), 0);
	json_decref(v);

	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"query-version\"}"), "CommandNotFound");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}"),
		     "GenericError");
	v = cl_cmd(f, c, "{\"execute\":\"qmp_capabilities\",\"id\":{\"any\":[1]}}");
	assert_int_equal(json_integer_value(json_array_get(jget(v, "id", "any"), 0)), 1);
	assert_qmp_return(v);
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"qmp_capabilities\"}"), "CommandNotFound");

	v = cl_cmd(f, c, "{\"execute\":\"query-version\",\"id\":7}");
	assert_int_equal(json_integer_value(json_object_get(v, "id")), 7);
	assert_string_equal(json_string_value(jget(v, "return", "package")), "steadyblk " SB_VERSION);
	json_decref(v);
	v = cl_cmd(f, c, "{\"execute\":\"query-commands\"}");
	assert_int_equal(json_array_size(json_object_get(v, "return")), 12);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(v, "return"), 0),
							      "name")), "qmp_capabilities");
	json_decref(v);
	cl_close(c);
}

static void test_bad_input_keeps_serving(void **state)
{
	struct fx *f = *state;
	struct cl *c;
	json_t *v;

	fx_open(f, 2, false, SB_ACTION_REPORT);
	c = cl_ready(f);
	assert_qmp_error(cl_cmd(f, c, "{\"execute\": }\n"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "[1, 2]"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "42\n"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"arguments\":{}}"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":1}"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"cont\",\"arguments\":[]}"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"cont\",\"bogus\":1}"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"no-such-command\"}"), "CommandNotFound");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"cont\",\"arguments\":{\"disk\":5}}"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"cont\",\"arguments\":{\"drive\":\"d0\"}}"), "GenericError");
	/* Two disks: naming one is required. */
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"cont\"}"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"cont\",\"arguments\":{\"disk\":\"nope\"}}"),
		     "DeviceNotFound");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"set-error-policy\",\"arguments\":"
			    "{\"disk\":\"d0\",\"max-held-requests\":-1}}"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"fault-set\",\"arguments\":{\"disk\":\"d0\",\"op\":\"write\"}}"),
		     "GenericError");

	/* Far over the input bound: refused, and the next command works. */
	size_t big = 100 * 1024;
	char *s = malloc(big + 64);
	int n = sprintf(s, "{\"execute\":\"query-version\",\"id\":\"");
	memset(s + n, 'x', big);
	strcpy(s + n + big, "\"}");
	cl_send(c, s);
	free(s);
	assert_qmp_error(cl_recv(f, c), "GenericError");
	v = cl_cmd(f, c, "{\"execute\":\"query-version\",\"id\":2}");
	assert_int_equal(json_integer_value(json_object_get(v, "id")), 2);
	assert_qmp_return(v);

	/* The reset byte abandons a half-sent command. */
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"query-version\", \x01"), "GenericError");
	assert_qmp_return(cl_cmd(f, c, "{\"execute\":\"query-version\"}"));
	cl_close(c);
}

static void test_split_and_batched_commands(void **state)
{
	struct fx *f = *state;
	const char *cmd = "{\"execute\":\"query-version\",\"id\":3}";
	struct cl *c;
	json_t *v;

	fx_open(f, 1, false, SB_ACTION_REPORT);
	c = cl_ready(f);
	for (const char *p = cmd; *p; p++) {
		char one[2] = { *p, 0 };
		cl_send(c, one);
		fx_run_for(f, 1);
	}
	v = cl_recv(f, c);
	assert_int_equal(json_integer_value(json_object_get(v, "id")), 3);
	json_decref(v);

	cl_send(c, "{\"execute\":\"query-version\",\"id\":4}{\"execute\":\"query-version\",\"id\":5}\n");
	v = cl_recv(f, c);
	assert_int_equal(json_integer_value(json_object_get(v, "id")), 4);
	json_decref(v);
	v = cl_recv(f, c);
	assert_int_equal(json_integer_value(json_object_get(v, "id")), 5);
	json_decref(v);
	cl_close(c);
}


static void test_client_that_never_reads_is_dropped(void **state)
{
	struct fx *f = *state;
	char batch[4096];
	struct cl *slow, *c;
	bool dropped = false;
	size_t n = 0;

	fx_open(f, 1, false, SB_ACTION_REPORT);
	slow = cl_ready(f);
	while (n + 30 < sizeof(batch))
		n += (size_t)sprintf(batch + n, "{\"execute\":\"query-disks\"}\n");
	/* Each reply is ~1 KiB: a few thousand overflow the 1 MiB bound. */
	for (int i = 0; i < 2000 && !dropped; i++) {
		ssize_t r = send(slow->fd, batch, n, MSG_NOSIGNAL);
		if (r < 0 && (errno == EPIPE || errno == ECONNRESET))
			dropped = true;
		sb_loop_run_once(f->loop, 0);
	}
	assert_true(dropped);
	c = cl_ready(f);
	assert_qmp_return(cl_cmd(f, c, "{\"execute\":\"query-version\"}"));
	cl_close(c);
	cl_close(slow);
}

static void test_quit_replies_then_calls_the_hook(void **state)
{
	struct fx *f = *state;
	struct cl *c;

	fx_open(f, 1, false, SB_ACTION_REPORT);
	c = cl_ready(f);
	cl_send(c, "{\"execute\":\"quit\",\"id\":9}");
	assert_qmp_return(cl_recv(f, c));
	fx_run_for(f, 5);
	assert_int_equal(f->quits, 1);
	cl_close(c);
}

static void test_client_half_close_gets_its_replies(void **state)
{
	struct fx *f = *state;
	struct cl *c;

	fx_open(f, 1, false, SB_ACTION_REPORT);
	c = cl_connect(f);
	cl_send(c, "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-version\"}\n");
	shutdown(c->fd, SHUT_WR);
	json_decref(cl_recv(f, c)); /* greeting */
	assert_qmp_return(cl_recv(f, c));
	assert_qmp_return(cl_recv(f, c));
	fx_run_for(f, 5);
	assert_int_equal(recv(c->fd, c->buf, sizeof(c->buf), 0), 0); /* closed by the server */
	cl_close(c);
}

static void test_socket_file(void **state)
{
	struct fx *f = *state;
	struct sb_error *err = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	/* A stale socket (its daemon died) is replaced. */
	strcpy(sa.sun_path, f->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	fx_open(f, 1, false, SB_ACTION_REPORT);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* A live one is not. */
	assert_null(sb_qmp_server_new(f->loop, f->path, f->disk, 1, NULL, &err));
	assert_non_null(strstr(err->msg, "listening"));
	sb_error_free(err);
	err = NULL;

	sb_qmp_server_free(f->srv);
	f->srv = NULL;
	assert_int_equal(stat(f->path, &st), -1);

	/* Not a socket: left alone. */
	fd = creat(f->path, 0600);
	close(fd);
	assert_null(sb_qmp_server_new(f->loop, f->path, f->disk, 1, NULL, &err));
	sb_error_free(err);
	unlink(f->path);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_greeting_and_negotiation),
		T(test_bad_input_keeps_serving),
		T(test_split_and_batched_commands),
		T(test_client_that_never_reads_is_dropped),
		T(test_quit_replies_then_calls_the_hook),
		T(test_client_half_close_gets_its_replies),
		T(test_socket_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
