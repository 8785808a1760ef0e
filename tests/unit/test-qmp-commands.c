/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the QMP commands and events against real disks
 * over the stub backend: query-disks, set-error-policy, the fault commands,
 * events to several clients, stop and cont, fail-held. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/loop.h"
#include "qmp-fixture.h"

static void test_query_disks(void **state)
{
	struct fx *f = *state;
	struct cl *c;
	json_t *v, *d;

	fx_open(f, 2, false, SB_ACTION_REPORT);
	c = cl_ready(f);
	v = cl_cmd(f, c, "{\"execute\":\"query-disks\"}");
	assert_int_equal(json_array_size(json_object_get(v, "return")), 2);
	d = json_array_get(json_object_get(v, "return"), 1);
	assert_string_equal(json_string_value(json_object_get(d, "name")), "d1");
	assert_string_equal(json_string_value(json_object_get(d, "state")), "healthy");
	assert_string_equal(json_string_value(jget(d, "backend", "name")), "stub");
	assert_true(json_is_true(jget(d, "backend", "connected")));
	assert_string_equal(json_string_value(jget(d, "policy", "rerror")), "report");
	assert_string_equal(json_string_value(json_object_get(jget(d, "policy", "actions"),
							      "write-zeroes")), "report");
	assert_int_equal(json_integer_value(jget(d, "policy", "retry-interval-ms")), 10);
	assert_true(json_array_size(jget(d, "policy", "retry-errors")) > 5);
	assert_int_equal(json_integer_value(json_object_get(jget(d, "counters", "requests"), "total")), 0);
	assert_true(json_is_null(jget(d, "counters", "last-errno")));
	assert_int_equal(json_integer_value(json_object_get(d, "held")), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "oldest-held-age-ms")), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "inflight")), 0);
	json_decref(v);
	cl_close(c);
}

static void test_set_error_policy_round_trip(void **state)
{
	struct fx *f = *state;
	struct cl *c;
	json_t *v, *p;

	fx_open(f, 1, false, SB_ACTION_REPORT);
	c = cl_ready(f);
	assert_qmp_return(cl_cmd(f, c, "{\"execute\":\"set-error-policy\",\"arguments\":{"
			     "\"werror\":\"retry\",\"retry-interval\":\"250ms\",\"retry-max-interval\":2000,"
			     "\"retry-timeout\":\"1m\",\"retry-then\":\"stop\",\"retry-errors\":[\"EIO\",\"ENOSPC\"],"
			     "\"max-held-requests\":10,\"max-held-bytes\":\"1M\"}}"));
	/* Refused changes change nothing. */
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"set-error-policy\",\"arguments\":"
			    "{\"rerror\":\"retry\",\"retry-then\":\"ignore\"}}"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"set-error-policy\",\"arguments\":"
			    "{\"rerror\":\"retry\",\"retry-interval\":\"5x\"}}"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"set-error-policy\",\"arguments\":"
			    "{\"retry-errors\":[\"ENOTANERRNO\"]}}"), "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"set-error-policy\",\"arguments\":"
			    "{\"werror\":\"sometimes\"}}"), "GenericError");

	v = cl_cmd(f, c, "{\"execute\":\"query-disks\"}");
	p = json_object_get(json_array_get(json_object_get(v, "return"), 0), "policy");
	assert_string_equal(json_string_value(json_object_get(p, "rerror")), "report");
	assert_string_equal(json_string_value(json_object_get(p, "werror")), "retry");
	assert_string_equal(json_string_value(jget(p, "actions", "flush")), "retry");
	assert_string_equal(json_string_value(jget(p, "actions", "read")), "report");
	assert_int_equal(json_integer_value(json_object_get(p, "retry-interval-ms")), 250);
	assert_int_equal(json_integer_value(json_object_get(p, "retry-max-interval-ms")), 2000);
	assert_int_equal(json_integer_value(json_object_get(p, "retry-timeout-ms")), 60000);
	assert_string_equal(json_string_value(json_object_get(p, "retry-then")), "stop");
	assert_int_equal(json_array_size(json_object_get(p, "retry-errors")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(p, "retry-errors"), 0)), "EIO");
	assert_int_equal(json_integer_value(json_object_get(p, "max-held-requests")), 10);
	assert_int_equal(json_integer_value(json_object_get(p, "max-held-bytes")), 1 << 20);
	json_decref(v);
	cl_close(c);
}

static void test_fault_commands(void **state)
{
	struct fx *f = *state;
	struct cl *c;
	json_t *v, *r;

	fx_open(f, 1, true, SB_ACTION_REPORT);
	c = cl_ready(f);
	assert_qmp_return(cl_cmd(f, c, "{\"execute\":\"fault-set\",\"arguments\":{\"op\":\"write\","
			     "\"errno\":\"ENOSPC\",\"rate\":50,\"offset-start\":4096,\"offset-end\":8192}}"));
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"fault-set\",\"arguments\":{\"op\":\"bogus\"}}"),
		     "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"fault-set\",\"arguments\":{\"op\":\"read\",\"rate\":101}}"),
		     "GenericError");
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"fault-set\",\"arguments\":{\"op\":\"read\",\"errno\":\"EWHAT\"}}"),
		     "GenericError");
	v = cl_cmd(f, c, "{\"execute\":\"query-faults\"}");
	r = json_array_get(jget(v, "return", "rules"), 1);
	assert_string_equal(json_string_value(json_object_get(r, "op")), "write");
	assert_true(json_is_true(json_object_get(r, "enabled")));
	assert_string_equal(json_string_value(json_object_get(r, "errno")), "ENOSPC");
	assert_int_equal(json_integer_value(json_object_get(r, "rate")), 50);
	assert_int_equal(json_integer_value(json_object_get(r, "offset-start")), 4096);
	assert_int_equal(json_integer_value(json_object_get(r, "offset-end")), 8192);
	assert_false(json_is_true(json_object_get(json_array_get(jget(v, "return", "rules"), 0),
						  "enabled")));
	assert_true(json_is_null(jget(v, "return", "trigger-file")));
	json_decref(v);

	/* A write always fails now, and is counted. */
	assert_qmp_return(cl_cmd(f, c, "{\"execute\":\"fault-set\",\"arguments\":{\"op\":\"all\"}}"));
	fx_submit_write(f, 0);
	fx_run_for(f, 5);
	assert_int_equal(f->err[0], -EIO);
	v = cl_cmd(f, c, "{\"execute\":\"query-faults\"}");
	r = json_array_get(jget(v, "return", "rules"), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "injected")), 1);
	json_decref(v);

	assert_qmp_return(cl_cmd(f, c, "{\"execute\":\"fault-clear\"}"));
	v = cl_cmd(f, c, "{\"execute\":\"query-faults\"}");
	r = json_array_get(jget(v, "return", "rules"), 1);
	assert_false(json_is_true(json_object_get(r, "enabled")));
	json_decref(v);
	cl_close(c);
}

static void test_fault_commands_need_the_filter(void **state)
{
	struct fx *f = *state;
	struct cl *c;
	json_t *v;

	fx_open(f, 1, false, SB_ACTION_REPORT);
	c = cl_ready(f);
	v = cl_cmd(f, c, "{\"execute\":\"query-faults\"}");
	assert_non_null(strstr(json_string_value(jget(v, "error", "desc")), "--fault-injection"));
	json_decref(v);
	cl_close(c);
}

/* ---- events ---- */

static void test_events_reach_every_negotiated_client(void **state)
{
	struct fx *f = *state;
	struct cl *a, *b, *shy;
	json_t *v;

	fx_open(f, 1, false, SB_ACTION_RETRY);
	a = cl_ready(f);
	b = cl_ready(f);
	shy = cl_connect(f);
	json_decref(cl_recv(f, shy)); /* greeting, and no negotiation */

	f->stub[0]->fail_err = -EIO;
	fx_submit_write(f, 0);
	fx_run_for(f, 60); /* several failed probes */
	v = cl_expect_event(f, a, "BLOCK_IO_ERROR");
	assert_string_equal(json_string_value(jget(v, "data", "device")), "d0");
	assert_string_equal(json_string_value(jget(v, "data", "operation")), "write");
	assert_string_equal(json_string_value(jget(v, "data", "action")), "retry");
	assert_false(json_is_true(jget(v, "data", "nospace")));
	json_decref(v);
	v = cl_expect_event(f, a, "DISK_HUNG");
	assert_string_equal(json_string_value(jget(v, "data", "disk")), "d0");
	assert_string_equal(json_string_value(jget(v, "data", "state")), "hung");
	assert_int_equal(json_integer_value(jget(v, "data", "held")), 1);
	assert_int_equal(json_integer_value(jget(v, "data", "held-bytes")), 512);
	assert_string_equal(json_string_value(jget(v, "data", "last-errno")), "EIO");
	json_decref(v);
	/* Rate-limited: the retries' errors gave no more BLOCK_IO_ERROR. */
	assert_null(cl_recv_within(f, a, 20));
	json_decref(cl_expect_event(f, b, "BLOCK_IO_ERROR"));
	json_decref(cl_expect_event(f, b, "DISK_HUNG"));

	f->stub[0]->fail_err = 0;
	v = cl_expect_event(f, a, "DISK_RECOVERED");
	assert_string_equal(json_string_value(jget(v, "data", "state")), "healthy");
	assert_int_equal(json_integer_value(jget(v, "data", "requests")), 1);
	assert_int_equal(json_integer_value(jget(v, "data", "held")), 0);
	assert_true(json_integer_value(jget(v, "data", "retries")) >= 1);
	assert_true(json_integer_value(jget(v, "data", "duration-ms")) >= 40);
	json_decref(v);
	json_decref(cl_expect_event(f, b, "DISK_RECOVERED"));
	assert_int_equal(f->done[0], 1);
	assert_int_equal(f->err[0], 0);
	assert_null(cl_recv_within(f, shy, 20));
	cl_close(a);
	cl_close(b);
	cl_close(shy);
}

static void test_stop_and_cont(void **state)
{
	struct fx *f = *state;
	struct cl *c;
	json_t *v;

	fx_open(f, 1, false, SB_ACTION_STOP);
	c = cl_ready(f);
	assert_qmp_error(cl_cmd(f, c, "{\"execute\":\"cont\"}"), "GenericError"); /* not stopped */
	f->stub[0]->fail_err = -ENOSPC;
	fx_submit_write(f, 0);
	v = cl_expect_event(f, c, "BLOCK_IO_ERROR");
	assert_true(json_is_true(jget(v, "data", "nospace")));
	assert_string_equal(json_string_value(jget(v, "data", "action")), "stop");
	json_decref(v);
	v = cl_expect_event(f, c, "DISK_STOPPED");
	assert_string_equal(json_string_value(jget(v, "data", "state")), "stopped");
	assert_string_equal(json_string_value(jget(v, "data", "last-errno")), "ENOSPC");
	json_decref(v);
	fx_run_for(f, 30);
	assert_int_equal(f->stub[0]->submitted, 1); /* stopped: no retry */

	v = cl_cmd(f, c, "{\"execute\":\"query-disks\"}");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(v, "return"), 0),
							      "state")), "stopped");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(v, "return"), 0),
							    "held")), 1);
	json_decref(v);

	f->stub[0]->fail_err = 0;
	assert_qmp_return(cl_cmd(f, c, "{\"execute\":\"cont\",\"arguments\":{\"disk\":\"d0\"}}"));
	json_decref(cl_expect_event(f, c, "DISK_RESUMED"));
	v = cl_expect_event(f, c, "DISK_RECOVERED");
	assert_int_equal(json_integer_value(jget(v, "data", "requests")), 1);
	json_decref(v);
	assert_int_equal(f->err[0], 0);
	cl_close(c);
}

static void test_fail_held(void **state)
{
	struct fx *f = *state;
	struct cl *c;
	json_t *v;

	fx_open(f, 1, false, SB_ACTION_RETRY);
	c = cl_ready(f);
	f->stub[0]->fail_err = -ETIMEDOUT;
	fx_submit_write(f, 0);
	fx_submit_write(f, 1);
	json_decref(cl_expect_event(f, c, "DISK_HUNG"));
	fx_run_for(f, 5);
	assert_qmp_return(cl_cmd(f, c, "{\"execute\":\"retry-now\"}"));
	v = cl_cmd(f, c, "{\"execute\":\"fail-held\"}");
	assert_true(json_integer_value(jget(v, "return", "failed")) >= 1);
	json_decref(v);
	v = cl_expect_event(f, c, "DISK_FAILED_HELD");
	assert_true(json_integer_value(jget(v, "data", "requests")) >= 1);
	json_decref(v);
	fx_run_for(f, 20);
	assert_int_equal(f->done[0] + f->done[1], 2);
	assert_int_equal(f->err[1], -ETIMEDOUT);
	cl_close(c);
}

static void test_timed_out_event(void **state)
{
	struct fx *f = *state;
	struct cl *c;
	json_t *v;

	fx_open(f, 1, false, SB_ACTION_RETRY);
	c = cl_ready(f);
	assert_qmp_return(cl_cmd(f, c, "{\"execute\":\"set-error-policy\",\"arguments\":"
				 "{\"retry-timeout\":30}}"));
	f->stub[0]->fail_err = -EIO;
	fx_submit_write(f, 0);
	json_decref(cl_expect_event(f, c, "DISK_HUNG"));
	v = cl_expect_event(f, c, "DISK_TIMED_OUT");
	assert_int_equal(json_integer_value(jget(v, "data", "requests")), 1);
	assert_true(json_integer_value(jget(v, "data", "duration-ms")) >= 30);
	assert_int_equal(json_integer_value(jget(v, "data", "held")), 0);
	json_decref(v);
	assert_int_equal(f->err[0], -EIO);
	cl_close(c);
}

static void test_backend_connection_events(void **state)
{
	struct fx *f = *state;
	struct cl *c;
	json_t *v;

	fx_open(f, 1, false, SB_ACTION_RETRY);
	c = cl_ready(f);
	sb_backend_set_connected(&f->stub[0]->be, false, -ECONNRESET);
	v = cl_expect_event(f, c, "BACKEND_DISCONNECTED");
	assert_string_equal(json_string_value(jget(v, "data", "last-errno")), "ECONNRESET");
	assert_false(json_object_get(json_object_get(v, "data"), "duration-ms"));
	json_decref(v);
	v = cl_cmd(f, c, "{\"execute\":\"query-disks\"}");
	assert_false(json_is_true(jget(json_array_get(json_object_get(v, "return"), 0),
				       "backend", "connected")));
	json_decref(v);
	sb_backend_set_connected(&f->stub[0]->be, true, 0);
	json_decref(cl_expect_event(f, c, "BACKEND_RECONNECTED"));
	cl_close(c);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_query_disks),
		T(test_set_error_policy_round_trip),
		T(test_fault_commands),
		T(test_fault_commands_need_the_filter),
		T(test_events_reach_every_negotiated_client),
		T(test_stop_and_cont),
		T(test_fail_held),
		T(test_timed_out_event),
		T(test_backend_connection_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
