/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the fault filter: the rule parser, the
 * injection decision (ops, rates, ranges), pass-through to a stub backend,
 * and the trigger file coming, changing and going. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/fault.h"
#include "base/loop.h"
#include "stub-backend.h"

/* ---- the parser ---- */

static void test_parse_good(void **state)
{
	struct sb_fault_rule r;
	enum sb_op op;

	assert_int_equal(sb_fault_parse_rule("write EIO", &op, &r, NULL), 0);
	assert_int_equal(op, SB_OP_WRITE);
	assert_true(r.enabled);
	assert_int_equal(r.err, -EIO);
	assert_int_equal(r.rate_ppm, 1000000);
	assert_true(r.offset_start == 0 && r.offset_end == UINT64_MAX);

	assert_int_equal(sb_fault_parse_rule("  all ENOSPC 50% 1M-2M  ", &op, &r, NULL), 0);
	assert_int_equal(op, SB_OP_COUNT);
	assert_int_equal(r.err, -ENOSPC);
	assert_int_equal(r.rate_ppm, 500000);
	assert_true(r.offset_start == 1 << 20 && r.offset_end == 2 << 20);

	/* Rate and range in either order; errno names in any case. */
	assert_int_equal(sb_fault_parse_rule("zero eshutdown 4096- 0.25%", &op, &r, NULL), 0);
	assert_int_equal(op, SB_OP_ZERO);
	assert_int_equal(r.err, -ESHUTDOWN);
	assert_int_equal(r.rate_ppm, 2500);
	assert_true(r.offset_start == 4096 && r.offset_end == UINT64_MAX);

	assert_int_equal(sb_fault_parse_rule("write-zeroes EIO 0%", &op, &r, NULL), 0);
	assert_int_equal(op, SB_OP_ZERO);
	assert_int_equal(r.rate_ppm, 0);
	for (unsigned i = 0; i <= SB_OP_COUNT; i++) {
		static const char *const names[] = { "read", "write", "flush", "trim", "zero",
						     "block-status", "cache", "all" };
		assert_int_equal(sb_fault_parse_op(names[i], &op, NULL), 0);
		assert_int_equal(op, i);
	}
}

static void test_format_round_trip(void **state)
{
	static const char *const lines[] = {
		"write EIO 100%", "all ENOSPC 50% 1048576-2097152", "read ESHUTDOWN 0.0001%",
		"trim EIO 12.5% 4096-", "flush ETIMEDOUT 0%",
	};
	struct sb_fault_rule r;
	enum sb_op op;
	char buf[128];

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_int_equal(sb_fault_parse_rule(lines[i], &op, &r, NULL), 0);
		sb_fault_format_rule(op, &r, buf, sizeof(buf));
		assert_string_equal(buf, lines[i]);
	}
}

/* Parses @line, which must fail with a message containing @msg. */
static void expect_bad(const char *line, const char *msg)
{
	SB_AUTOERR struct sb_error *err = NULL;
	struct sb_fault_rule r = { .err = 12345 };
	enum sb_op op = SB_OP_READ;

	assert_int_equal(sb_fault_parse_rule(line, &op, &r, &err), -1);
	assert_non_null(err);
	if (!strstr(err->msg, msg))
		fail_msg("'%s' gave '%s', wanted '%s'", line, err->msg, msg);
	assert_int_equal(r.err, 12345); /* untouched on failure */
	assert_int_equal(op, SB_OP_READ);
}

static void test_parse_bad(void **state)
{
	expect_bad("", "empty rule");
	expect_bad("bogus EIO", "'bogus' is not an operation");
	expect_bad("write", "'write' needs an errno name");
	expect_bad("write EFOO", "'EFOO' is not an errno name");
	expect_bad("write 5", "'5' is not an errno name");
	expect_bad("write EIO 150%", "above 100%");
	expect_bad("write EIO 5%5", "'5%5' is not a rate");
	expect_bad("write EIO .5%", "'.5%' is not a rate");
	expect_bad("write EIO 1.23456%", "is not a rate");
	expect_bad("write EIO 2M-1M", "is empty");
	expect_bad("write EIO 1M-1M", "is empty");
	expect_bad("write EIO x-1M", "offset range START-END: 'x' is not a size");
	expect_bad("write EIO 0-1Q", "'1Q' is not a size");
	expect_bad("write EIO 5% 6%", "given twice");
	expect_bad("write EIO 0-1 2-3", "given twice");
	expect_bad("write EIO 1% 0-1 extra", "unexpected 'extra'");
	expect_bad("write EIO hello", "neither a rate");

	char longline[400];
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	expect_bad(longline, "longer than");
}

/* ---- decisions, through the filter over a stub backend ---- */

struct harness {
	struct sb_loop *loop;
	struct stub_backend *stub;
	struct sb_backend *be;         /* the filter */
	struct sb_fault *f;
	struct sb_request *req;
	unsigned completions;
	int last_err;
	unsigned ups, downs;
	char dir[64];
	char path[128];
};

static void on_complete(void *opaque, struct sb_request *req, int err)
{
	struct harness *h = opaque;
	h->completions++;
	h->last_err = err;
}

static void on_connection(void *opaque, bool up, int err)
{
	struct harness *h = opaque;
	if (up)
		h->ups++;
	else
		h->downs++;
}

static void harness_open(struct harness *h, const char *trigger)
{
	SB_AUTOERR struct sb_error *err = NULL;

	h->loop = sb_loop_new();
	assert_non_null(h->loop);
	h->stub = stub_new(h->loop);
	h->stub->be.block_min = 512;
	h->stub->be.ctx_size = 48;
	if (sb_fault_wrap(h->loop, &h->stub->be, trigger, &h->be, &err) < 0)
		fail_msg("sb_fault_wrap: %s", err->msg);
	h->be->up = (struct sb_backend_upcalls){ .complete = on_complete, .connection = on_connection, .opaque = h };
	h->f = sb_fault_from_backend(h->be);
	assert_non_null(h->f);
	h->req = calloc(1, sizeof(*h->req) + h->be->ctx_size);
}

static int setup(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));
	harness_open(h, NULL);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;
	sb_backend_close(h->be);
	sb_loop_free(h->loop);
	free(h->req);
	if (h->dir[0]) {
		unlink(h->path);
		rmdir(h->dir);
	}
	free(h);
	return 0;
}

/* Submits one request; returns the injected error, or the completion's. */
static int run_op(struct harness *h, enum sb_op op, uint64_t offset, uint32_t length)
{
	unsigned before = h->completions;
	int r;

	*h->req = (struct sb_request){ .op = op, .offset = offset, .length = length };
	r = sb_backend_submit(h->be, h->req);
	if (r < 0)
		return r;
	while (h->completions == before)
		assert_int_equal(sb_loop_run_once(h->loop, 0), 0);
	assert_int_equal(h->completions, before + 1);
	return h->last_err;
}

static struct sb_fault_rule rule(int err, uint32_t ppm, uint64_t start, uint64_t end)
{
	return (struct sb_fault_rule){ .enabled = true, .err = err, .rate_ppm = ppm,
				       .offset_start = start, .offset_end = end };
}

static void test_wrap_copies_inner(void **state)
{
	struct harness *h = *state;

	assert_int_equal(h->be->size, h->stub->be.size);
	assert_int_equal(h->be->caps, h->stub->be.caps);
	assert_int_equal(h->be->block_min, 512);
	assert_int_equal(h->be->ctx_size, 48);
	assert_true(h->be->connected);
	assert_string_equal(h->be->name, "fault:stub");
	assert_null(sb_fault_from_backend(&h->stub->be));
	assert_null(sb_fault_trigger_file(h->f));
	assert_false(sb_fault_trigger_active(h->f));
	/* Run-time rules start off, but say what switching them on would do. */
	for (int op = 0; op < SB_OP_COUNT; op++) {
		struct sb_fault_rule r;
		sb_fault_get(h->f, op, &r);
		assert_false(r.enabled);
		assert_true(r.err == -EIO && r.rate_ppm == 1000000);
		assert_true(r.offset_start == 0 && r.offset_end == UINT64_MAX);
	}
}

static void test_pass_through(void **state)
{
	struct harness *h = *state;

	for (int op = 0; op < SB_OP_COUNT; op++)
		assert_int_equal(run_op(h, op, 0, 4096), 0);
	assert_int_equal(h->stub->submitted, SB_OP_COUNT);
	assert_ptr_equal(h->stub->log[0], h->req);
	h->stub->fail_err = -ENOTCONN; /* the inner backend's errors come up unchanged */
	assert_int_equal(run_op(h, SB_OP_READ, 0, 512), -ENOTCONN);
	sb_backend_set_connected(&h->stub->be, false, -ENOTCONN);
	sb_backend_set_connected(&h->stub->be, true, 0);
	assert_int_equal(h->downs, 1);
	assert_int_equal(h->ups, 1);
	assert_true(h->be->connected);
	assert_int_equal(sb_fault_injected(h->f, SB_OP_COUNT), 0);
}

static void test_per_op_always_and_never(void **state)
{
	struct harness *h = *state;
	struct sb_fault_rule r = rule(-ENOSPC, 1000000, 0, UINT64_MAX), got;

	sb_fault_set(h->f, SB_OP_WRITE, &r);
	sb_fault_get(h->f, SB_OP_WRITE, &got);
	assert_true(got.enabled && got.err == -ENOSPC && got.rate_ppm == 1000000);
	assert_true(got.offset_start == 0 && got.offset_end == UINT64_MAX);
	assert_int_equal(run_op(h, SB_OP_WRITE, 0, 4096), -ENOSPC);
	assert_int_equal(run_op(h, SB_OP_READ, 0, 4096), 0);
	assert_int_equal(run_op(h, SB_OP_ZERO, 0, 4096), 0);
	assert_int_equal(h->stub->submitted, 2); /* the write never reached it */
	assert_int_equal(sb_fault_injected(h->f, SB_OP_WRITE), 1);

	r.rate_ppm = 0;
	sb_fault_set(h->f, SB_OP_WRITE, &r);
	for (int i = 0; i < 100; i++)
		assert_int_equal(run_op(h, SB_OP_WRITE, 0, 4096), 0);

	r.rate_ppm = 1000000;
	r.enabled = false;
	sb_fault_set(h->f, SB_OP_WRITE, &r);
	assert_int_equal(run_op(h, SB_OP_WRITE, 0, 4096), 0);
	assert_int_equal(sb_fault_injected(h->f, SB_OP_COUNT), 1);
}

static void test_all_ops_and_clear(void **state)
{
	struct harness *h = *state;
	struct sb_fault_rule r = rule(-EIO, 1000000, 0, UINT64_MAX);

	sb_fault_set(h->f, SB_OP_COUNT, &r);
	for (int op = 0; op < SB_OP_COUNT; op++)
		assert_int_equal(run_op(h, op, 0, 4096), -EIO);
	for (int op = 0; op < SB_OP_COUNT; op++)
		assert_int_equal(sb_fault_injected(h->f, op), 1);
	assert_int_equal(sb_fault_injected(h->f, SB_OP_COUNT), SB_OP_COUNT);
	sb_fault_clear(h->f);
	for (int op = 0; op < SB_OP_COUNT; op++)
		assert_int_equal(run_op(h, op, 0, 4096), 0);
	assert_int_equal(h->stub->submitted, SB_OP_COUNT);
}

static void test_offset_range(void **state)
{
	struct harness *h = *state;
	struct sb_fault_rule r = rule(-EIO, 1000000, 4096, 8192);

	sb_fault_set(h->f, SB_OP_COUNT, &r);
	assert_int_equal(run_op(h, SB_OP_READ, 0, 4096), 0);       /* ends just before */
	assert_int_equal(run_op(h, SB_OP_READ, 4095, 2), -EIO);     /* overlaps the start */
	assert_int_equal(run_op(h, SB_OP_WRITE, 8191, 1), -EIO);    /* last byte inside */
	assert_int_equal(run_op(h, SB_OP_WRITE, 8192, 4096), 0);    /* starts at the end */
	assert_int_equal(run_op(h, SB_OP_TRIM, 0, 1 << 20), -EIO);  /* covers it */
	assert_int_equal(run_op(h, SB_OP_ZERO, 6000, 0), -EIO);     /* empty, inside */
	assert_int_equal(run_op(h, SB_OP_FLUSH, 0, 0), 0);          /* touches no offset */

	r = rule(-EIO, 1000000, 0, UINT64_MAX);
	sb_fault_set(h->f, SB_OP_FLUSH, &r);
	assert_int_equal(run_op(h, SB_OP_FLUSH, 0, 0), -EIO);
}

static void test_rate_half(void **state)
{
	struct harness *h = *state;
	struct sb_fault_rule r = rule(-EIO, 500000, 0, UINT64_MAX);
	unsigned failed = 0;

	sb_fault_set(h->f, SB_OP_READ, &r);
	for (int i = 0; i < 4000; i++)
		failed += run_op(h, SB_OP_READ, 0, 512) == -EIO;
	/* Binomial(4000, 0.5): 2000 +- 32 (1 sigma); 300 is beyond doubt. */
	assert_in_range(failed, 1700, 2300);
	assert_int_equal(sb_fault_injected(h->f, SB_OP_READ), failed);
}

/* ---- the trigger file ---- */

static int setup_trigger(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));

	strcpy(h->dir, "/tmp/sbfault.XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	snprintf(h->path, sizeof(h->path), "%s/flag", h->dir);
	harness_open(h, h->path);
	*state = h;
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* Runs the loop until a @op request gives @want, for at most 2 s (inotify
 * makes it immediate; the bound only keeps a broken build from hanging). */
static void wait_for_result(struct harness *h, enum sb_op op, int want)
{
	uint64_t deadline = sb_now_ns() + 2 * SB_NS_PER_SEC;

	while (run_op(h, op, 0, 4096) != want) {
		if (sb_now_ns() > deadline)
			fail_msg("%s did not give %d in time", sb_op_name(op), want);
		assert_int_equal(sb_loop_run_once(h->loop, 10 * SB_NS_PER_MS), 0);
	}
}

static void test_trigger_file(void **state)
{
	struct harness *h = *state;
	char tmp[160];

	assert_non_null(sb_fault_trigger_file(h->f));
	assert_string_equal(strrchr(sb_fault_trigger_file(h->f), '/'), "/flag");
	assert_false(sb_fault_trigger_active(h->f));
	assert_int_equal(run_op(h, SB_OP_WRITE, 0, 4096), 0);

	/* Created: its rules apply, and only to what they name. */
	write_file(h->path, "# outage\nwrite ENOSPC\n\n");
	wait_for_result(h, SB_OP_WRITE, -ENOSPC);
	assert_true(sb_fault_trigger_active(h->f));
	assert_int_equal(run_op(h, SB_OP_READ, 0, 4096), 0);

	/* Rewritten in place, with bad lines that are skipped. */
	char text[1024];
	snprintf(text, sizeof(text), "bogus line\n%0300d\n# %0300d\nread EIO 100%% 0-1M # 1st MiB",
		 0, 0);
	write_file(h->path, text);
	wait_for_result(h, SB_OP_READ, -EIO);
	assert_int_equal(run_op(h, SB_OP_WRITE, 0, 4096), 0);
	assert_int_equal(run_op(h, SB_OP_READ, 2 << 20, 4096), 0);

	/* Replaced by rename; empty means every operation fails with EIO. */
	snprintf(tmp, sizeof(tmp), "%s/flag.new", h->dir);
	write_file(tmp, "");
	assert_int_equal(rename(tmp, h->path), 0);
	wait_for_result(h, SB_OP_FLUSH, -EIO);
	for (int op = 0; op < SB_OP_COUNT; op++)
		assert_int_equal(run_op(h, op, 0, 4096), -EIO);

	/* Run-time rules come first while the file applies. */
	struct sb_fault_rule r = rule(-ETIMEDOUT, 1000000, 0, UINT64_MAX);
	sb_fault_set(h->f, SB_OP_READ, &r);
	assert_int_equal(run_op(h, SB_OP_READ, 0, 4096), -ETIMEDOUT);
	sb_fault_clear(h->f);

	/* Rewritten with the same content: nothing changes. */
	write_file(h->path, "");
	assert_int_equal(sb_loop_run_once(h->loop, 10 * SB_NS_PER_MS), 0);
	assert_int_equal(run_op(h, SB_OP_READ, 0, 4096), -EIO);

	/* Removed: everything passes again. */
	assert_int_equal(unlink(h->path), 0);
	wait_for_result(h, SB_OP_WRITE, 0);
	assert_false(sb_fault_trigger_active(h->f));
	for (int op = 0; op < SB_OP_COUNT; op++)
		assert_int_equal(run_op(h, op, 0, 4096), 0);

	/* The directory goes away while the file applies: its rules end. */
	write_file(h->path, "read EIO");
	wait_for_result(h, SB_OP_READ, -EIO);
	assert_int_equal(unlink(h->path), 0);
	assert_int_equal(rmdir(h->dir), 0);
	h->dir[0] = '\0';
	wait_for_result(h, SB_OP_READ, 0);
	assert_false(sb_fault_trigger_active(h->f));
}

static void test_trigger_file_present_at_start(void **state)
{
	struct harness *h = calloc(1, sizeof(*h));

	strcpy(h->dir, "/tmp/sbfault.XXXXXX");
	assert_non_null(mkdtemp(h->dir));
	snprintf(h->path, sizeof(h->path), "%s/flag", h->dir);
	write_file(h->path, "trim EOPNOTSUPP\n");
	harness_open(h, h->path);
	*state = h;
	assert_true(sb_fault_trigger_active(h->f));
	assert_int_equal(run_op(h, SB_OP_TRIM, 0, 4096), -EOPNOTSUPP);
	assert_int_equal(run_op(h, SB_OP_WRITE, 0, 4096), 0);
}

static void test_trigger_dir_missing(void **state)
{
	SB_AUTOERR struct sb_error *err = NULL;
	struct sb_loop *loop = sb_loop_new();
	struct stub_backend *stub = stub_new(loop);
	struct sb_backend *be = NULL;

	/* The filter owns the stub even when it fails: it is closed, not leaked. */
	assert_int_equal(sb_fault_wrap(loop, &stub->be, "/nonexistent/dir/flag", &be, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "/nonexistent/dir"));
	assert_null(be);
	sb_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test_setup_teardown(test_wrap_copies_inner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pass_through, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_op_always_and_never, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_ops_and_clear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offset_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_half, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trigger_file, setup_trigger, teardown),
		cmocka_unit_test_teardown(test_trigger_file_present_at_start, teardown),
		cmocka_unit_test(test_trigger_dir_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
