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

/* A request that fails on a flaky path is retried within milliseconds,
 * then backs off by doubling to the same ceiling. */
static void test_flaky_backoff(void **state)
{
	struct sb_policy p;
	uint64_t rng = 9;

	sb_policy_init(&p); /* retry-interval 1 s, ceiling 30 s */
	for (int i = 0; i < 100; i++) {
		uint64_t d = sb_policy_flaky_backoff(&p, 0, &rng);
		assert_true(d >= SB_FLAKY_FIRST_RETRY_NS - SB_FLAKY_FIRST_RETRY_NS / 4);
		assert_true(d <= SB_FLAKY_FIRST_RETRY_NS + SB_FLAKY_FIRST_RETRY_NS / 4);
	}
	uint64_t d4 = sb_policy_flaky_backoff(&p, 4, &rng);
	assert_true(d4 >= 12 * SB_FLAKY_FIRST_RETRY_NS && d4 <= 20 * SB_FLAKY_FIRST_RETRY_NS);
	assert_true(sb_policy_flaky_backoff(&p, 60, &rng) <= p.retry_max_interval_ns);
	/* A retry-interval below it is the start instead. */
	p.retry_interval_ns = SB_NS_PER_MS;
	assert_true(sb_policy_flaky_backoff(&p, 0, &rng) <= SB_NS_PER_MS + SB_NS_PER_MS / 4);
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

static void test_duration_maximum(void **state)
{
	uint64_t ns;
	struct sb_error *err = NULL;

	/* One year is the longest duration, in any unit. */
	assert_int_equal(sb_parse_duration("8760h", &ns, NULL), 0);
	assert_int_equal(ns, SB_DURATION_MAX_NS);
	assert_int_equal(sb_parse_duration("31536000s", &ns, NULL), 0);
	assert_int_equal(ns, SB_DURATION_MAX_NS);
	static const char *const too_long[] = {
		"8761h", "31536001s", "31536000001ms", "525601m", "99999999999999h",
		"18446744073709551615", "99999999999999999999us",
	};
	for (size_t i = 0; i < sizeof(too_long) / sizeof(too_long[0]); i++) {
		ns = 7;
		assert_int_equal(sb_parse_duration(too_long[i], &ns, &err), -1);
		assert_non_null(err);
		if (!strstr(err->msg, "maximum is 1 year (8760h)") || !strstr(err->msg, too_long[i]))
			fail_msg("'%s': %s", too_long[i], err->msg);
		assert_int_equal(ns, 7);
		sb_error_free(err);
		err = NULL;
	}
}

static void test_validate_duration_maximum(void **state)
{
	/* A policy built without the parsers (QMP numbers, a program) is
	 * checked too, naming the field. */
	static const char *const names[] = { "retry-interval", "retry-max-interval",
					     "retry-timeout" };
	struct sb_policy p;
	struct sb_error *err = NULL;

	for (unsigned i = 0; i < 3; i++) {
		sb_policy_init(&p);
		p.retry_max_interval_ns = SB_DURATION_MAX_NS;
		uint64_t *field = i == 0 ? &p.retry_interval_ns
				  : i == 1 ? &p.retry_max_interval_ns : &p.retry_timeout_ns;
		*field = SB_DURATION_MAX_NS;
		assert_int_equal(sb_policy_validate(&p, NULL), 0);
		*field = SB_DURATION_MAX_NS + 1;
		if (i == 0)
			p.retry_max_interval_ns = SB_DURATION_MAX_NS + 1;
		assert_int_equal(sb_policy_validate(&p, &err), -1);
		if (!strstr(err->msg, names[i]) || !strstr(err->msg, "8760h"))
			fail_msg("%s: %s", names[i], err->msg);
		sb_error_free(err);
		err = NULL;
	}
}

static void test_deadline_does_not_wrap(void **state)
{
	struct sb_policy p;

	sb_policy_init(&p);
	/* held_since + retry-timeout would wrap past 2^64 and look expired. */
	p.retry_timeout_ns = SB_DURATION_MAX_NS;
	assert_false(sb_policy_expired(&p, UINT64_MAX - 10, UINT64_MAX - 5));
	p.retry_timeout_ns = UINT64_MAX - 10;
	assert_false(sb_policy_expired(&p, 1000, UINT64_MAX - 1));
	assert_true(sb_policy_expired(&p, 1, UINT64_MAX));
}

static void test_backoff_does_not_wrap(void **state)
{
	struct sb_policy p;
	uint64_t rng = 3;

	sb_policy_init(&p);
	/* Unvalidated extremes: doubling and jitter saturate at the ceiling
	 * instead of wrapping to a tiny delay (a retry storm). */
	p.retry_interval_ns = UINT64_MAX / 2 + 12345;
	p.retry_max_interval_ns = UINT64_MAX;
	for (unsigned attempt = 0; attempt < 70; attempt++) {
		uint64_t d = sb_policy_backoff(&p, attempt, &rng);
		assert_true(d >= (UINT64_MAX / 2) / 4 * 3);
	}
	p.retry_interval_ns = 3 * SB_NS_PER_SEC;
	p.retry_max_interval_ns = SB_DURATION_MAX_NS;
	for (unsigned attempt = 0; attempt < 200; attempt += 7) {
		uint64_t d = sb_policy_backoff(&p, attempt, &rng);
		assert_true(d >= 2 * SB_NS_PER_SEC && d <= SB_DURATION_MAX_NS);
	}
	assert_true(sb_policy_backoff(&p, 100, &rng) >= SB_DURATION_MAX_NS / 4 * 3);
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
		cmocka_unit_test(test_flaky_backoff),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_action_parse),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes_and_errnos),
		cmocka_unit_test(test_duration_maximum),
		cmocka_unit_test(test_validate_duration_maximum),
		cmocka_unit_test(test_deadline_does_not_wrap),
		cmocka_unit_test(test_backoff_does_not_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
