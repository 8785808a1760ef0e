/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the error policy: the decision table of every
 * action, retry-then, deadlines, backoff bounds, errno sets, parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/loop.h"
#include "base/parse.h"
#include "core/policy.h"

static void test_defaults_report(void **state)
{
	struct sb_policy p;
	sb_policy_init(&p);
	for (int op = 0; op < SB_OP_COUNT; op++)
		assert_int_equal(sb_policy_decide(&p, op, -EIO), SB_VERDICT_REPORT);
	assert_int_equal(sb_policy_validate(&p, NULL), 0);
}

static void test_rerror_werror_split(void **state)
{
	struct sb_policy p;
	sb_policy_init(&p);
	sb_policy_set_werror(&p, SB_ACTION_RETRY);
	assert_int_equal(sb_policy_decide(&p, SB_OP_READ, -EIO), SB_VERDICT_REPORT);
	assert_int_equal(sb_policy_decide(&p, SB_OP_WRITE, -EIO), SB_VERDICT_RETRY);
	assert_int_equal(sb_policy_decide(&p, SB_OP_FLUSH, -EIO), SB_VERDICT_RETRY);
	assert_int_equal(sb_policy_decide(&p, SB_OP_TRIM, -EIO), SB_VERDICT_RETRY);
	assert_int_equal(sb_policy_decide(&p, SB_OP_ZERO, -EIO), SB_VERDICT_RETRY);
	sb_policy_set_rerror(&p, SB_ACTION_IGNORE);
	assert_int_equal(sb_policy_decide(&p, SB_OP_READ, -EIO), SB_VERDICT_IGNORE);
}

static void test_stop_and_enospc(void **state)
{
	struct sb_policy p;
	sb_policy_init(&p);
	sb_policy_set_werror(&p, SB_ACTION_STOP);
	assert_int_equal(sb_policy_decide(&p, SB_OP_WRITE, -EIO), SB_VERDICT_STOP);
	assert_int_equal(sb_policy_decide(&p, SB_OP_WRITE, -EINVAL), SB_VERDICT_STOP);
	sb_policy_set_werror(&p, SB_ACTION_ENOSPC);
	assert_int_equal(sb_policy_decide(&p, SB_OP_WRITE, -ENOSPC), SB_VERDICT_STOP);
	assert_int_equal(sb_policy_decide(&p, SB_OP_WRITE, -EIO), SB_VERDICT_REPORT);
}

static void test_retry_only_transient(void **state)
{
	struct sb_policy p;
	sb_policy_init(&p);
	sb_policy_set_werror(&p, SB_ACTION_RETRY);
	static const int transient[] = { EIO, ETIMEDOUT, ECONNRESET, ENOTCONN, ESHUTDOWN,
					 EPIPE, ECONNREFUSED, EAGAIN, ENOMEM, ENOSPC,
					 ENETUNREACH };
	static const int permanent[] = { EINVAL, EROFS, EOPNOTSUPP, EFBIG, EOVERFLOW, EPERM };
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		assert_int_equal(sb_policy_decide(&p, SB_OP_WRITE, -transient[i]), SB_VERDICT_RETRY);
	for (size_t i = 0; i < sizeof(permanent) / sizeof(permanent[0]); i++)
		assert_int_equal(sb_policy_decide(&p, SB_OP_WRITE, -permanent[i]), SB_VERDICT_REPORT);
}

static void test_retry_errors_configurable(void **state)
{
	struct sb_policy p;
	struct sb_error *err = NULL;
	char buf[128];

	sb_policy_init(&p);
	sb_policy_set_werror(&p, SB_ACTION_RETRY);
	assert_int_equal(sb_errset_parse("EINVAL, ETIMEDOUT", &p.retry_errors, &err), 0);
	assert_int_equal(sb_policy_decide(&p, SB_OP_WRITE, -EINVAL), SB_VERDICT_RETRY);
	assert_int_equal(sb_policy_decide(&p, SB_OP_WRITE, -EIO), SB_VERDICT_REPORT);
	sb_errset_format(&p.retry_errors, buf, sizeof(buf));
	assert_string_equal(buf, "EINVAL,ETIMEDOUT");
	assert_int_equal(sb_errset_parse("EIO,EBOGUS", &p.retry_errors, &err), -1);
	assert_non_null(strstr(err->msg, "EBOGUS"));
	sb_error_free(err);
}

static void test_retry_then(void **state)
{
	struct sb_policy p;
	sb_policy_init(&p);
	assert_int_equal(sb_policy_timeout_verdict(&p), SB_VERDICT_REPORT);
	p.retry_then = SB_ACTION_STOP;
	assert_int_equal(sb_policy_timeout_verdict(&p), SB_VERDICT_STOP);
	p.retry_then = SB_ACTION_IGNORE;
	assert_int_equal(sb_policy_validate(&p, NULL), -1);
}

static void test_deadline_per_request(void **state)
{
	struct sb_policy p;
	sb_policy_init(&p);
	/* 0 = forever */
	assert_false(sb_policy_expired(&p, 1, UINT64_MAX / 2));
	p.retry_timeout_ns = 5 * SB_NS_PER_SEC;
	/* age counts from the request's own first failure */
	assert_false(sb_policy_expired(&p, 100 * SB_NS_PER_SEC, 104 * SB_NS_PER_SEC));
	assert_true(sb_policy_expired(&p, 100 * SB_NS_PER_SEC, 105 * SB_NS_PER_SEC));
	/* never held: never expired */
	assert_false(sb_policy_expired(&p, 0, 1000 * SB_NS_PER_SEC));
}

static void test_backoff_bounds(void **state)
{
	struct sb_policy p;
	uint64_t rng = 42, prev_mid = 0;

	sb_policy_init(&p);
	p.retry_interval_ns = 100 * SB_NS_PER_MS;
	p.retry_max_interval_ns = 2 * SB_NS_PER_SEC;
	for (unsigned attempt = 0; attempt < 40; attempt++) {
		uint64_t nominal = p.retry_interval_ns << (attempt < 10 ? attempt : 10);
		if (nominal > p.retry_max_interval_ns)
			nominal = p.retry_max_interval_ns;
		for (int i = 0; i < 200; i++) {
			uint64_t d = sb_policy_backoff(&p, attempt, &rng);
			assert_true(d >= nominal - nominal / 4);
			assert_true(d <= p.retry_max_interval_ns);
			assert_true(d <= nominal + nominal / 4);
		}
		assert_true(nominal >= prev_mid);
		prev_mid = nominal;
	}
}

static void test_backoff_jitters(void **state)
{
	struct sb_policy p;
	uint64_t rng = 7, first;
	bool differ = false;

	sb_policy_init(&p);
	first = sb_policy_backoff(&p, 0, &rng);
	for (int i = 0; i < 20; i++)
		differ |= sb_policy_backoff(&p, 0, &rng) != first;
	assert_true(differ);
}

static void test_validate(void **state)
{
	struct sb_policy p;
	struct sb_error *err = NULL;

	sb_policy_init(&p);
	p.retry_interval_ns = 10 * SB_NS_PER_SEC;
	p.retry_max_interval_ns = 1 * SB_NS_PER_SEC;
	assert_int_equal(sb_policy_validate(&p, &err), -1);
	assert_non_null(strstr(err->msg, "retry-max-interval"));
	sb_error_free(err);
}

static void test_action_parse(void **state)
{
	static const char *const names[] = { "report", "ignore", "stop", "enospc", "retry" };
	struct sb_error *err = NULL;
	enum sb_action a;

	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(sb_action_parse(names[i], &a, NULL), 0);
		assert_string_equal(sb_action_name(a), names[i]);
	}
	assert_int_equal(sb_action_parse("retyr", &a, &err), -1);
	assert_non_null(strstr(err->msg, "retyr"));
	sb_error_free(err);
}

static void test_durations(void **state)
{
	uint64_t ns;
	struct sb_error *err = NULL;

	assert_int_equal(sb_parse_duration("250ms", &ns, NULL), 0);
	assert_int_equal(ns, 250 * SB_NS_PER_MS);
	assert_int_equal(sb_parse_duration("2s", &ns, NULL), 0);
	assert_int_equal(ns, 2 * SB_NS_PER_SEC);
	assert_int_equal(sb_parse_duration("1m", &ns, NULL), 0);
	assert_int_equal(ns, 60 * SB_NS_PER_SEC);
	assert_int_equal(sb_parse_duration("3", &ns, NULL), 0);
	assert_int_equal(ns, 3 * SB_NS_PER_SEC);
	assert_int_equal(sb_parse_duration("0", &ns, NULL), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(sb_parse_duration("5x", &ns, &err), -1);
	sb_error_free(err);
	err = NULL;
	assert_int_equal(sb_parse_duration("-1s", &ns, &err), -1);
	sb_error_free(err);
	err = NULL;
	assert_int_equal(sb_parse_duration("99999999999999999999s", &ns, &err), -1);
	sb_error_free(err);
}

static void test_sizes_and_errnos(void **state)
{
	uint64_t v;

	assert_int_equal(sb_parse_size("64k", &v, NULL), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(sb_parse_size("2G", &v, NULL), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(sb_errno_from_name("EIO"), EIO);
	assert_int_equal(sb_errno_from_name("eshutdown"), ESHUTDOWN);
	assert_int_equal(sb_errno_from_name("ENOPE"), 0);
	assert_string_equal(sb_errno_name(-ENOSPC), "ENOSPC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_report),
		cmocka_unit_test(test_rerror_werror_split),
		cmocka_unit_test(test_stop_and_enospc),
		cmocka_unit_test(test_retry_only_transient),
		cmocka_unit_test(test_retry_errors_configurable),
		cmocka_unit_test(test_retry_then),
		cmocka_unit_test(test_deadline_per_request),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_backoff_jitters),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_action_parse),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes_and_errnos),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
