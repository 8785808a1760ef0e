/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the daemon-wide memory budget: takes within
 * the limit, waiters served in the order they blocked with their bytes
 * reserved, no overtaking, an oversized request let through alone, and a
 * cancelled waiter that no longer holds the others back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/budget.h"

static struct sb_budget_waiter *woken[8];
static int nwoken;

static void wake(struct sb_budget_waiter *w)
{
	woken[nwoken++] = w;
}

static void setup_waiters(struct sb_budget_waiter *w, int n)
{
	nwoken = 0;
	for (int i = 0; i < n; i++)
		sb_budget_waiter_init(&w[i], wake);
}

static void test_take_within_limit(void **state)
{
	struct sb_budget b;
	struct sb_budget_waiter w[1];

	setup_waiters(w, 1);
	sb_budget_init(&b, 100);
	assert_true(sb_budget_take(&b, &w[0], 60));
	assert_true(sb_budget_take(&b, &w[0], 40));
	assert_int_equal(b.used, 100);
	assert_true(sb_budget_take(&b, &w[0], 0));
	sb_budget_give(&b, 100);
	assert_int_equal(b.used, 0);
	assert_int_equal(b.peak, 100);
}

static void test_waiters_in_order_no_overtaking(void **state)
{
	struct sb_budget b;
	struct sb_budget_waiter w[4];

	setup_waiters(w, 4);
	sb_budget_init(&b, 100);
	assert_true(sb_budget_take(&b, &w[0], 90));
	assert_false(sb_budget_take(&b, &w[1], 50));   /* short */
	assert_false(sb_budget_take(&b, &w[2], 5));    /* would fit, but w1 waits */
	assert_true(sb_budget_contended(&b));
	assert_int_equal(b.waits, 2);
	/* Asked again while queued: still waiting, nothing woken. */
	assert_false(sb_budget_take(&b, &w[1], 50));
	assert_int_equal(nwoken, 0);

	sb_budget_give(&b, 90);                          /* both fit now */
	assert_int_equal(nwoken, 2);
	assert_ptr_equal(woken[0], &w[1]);
	assert_ptr_equal(woken[1], &w[2]);
	assert_int_equal(b.used, 55);                    /* reserved for them */
	/* A newcomer cannot take what was reserved for the woken ones. */
	assert_false(sb_budget_take(&b, &w[3], 50));
	assert_true(sb_budget_take(&b, &w[1], 50));
	assert_true(sb_budget_take(&b, &w[2], 4));       /* the surplus goes back */
	assert_int_equal(b.used, 54);
	sb_budget_give(&b, 54);
	assert_int_equal(nwoken, 3);
	assert_ptr_equal(woken[2], &w[3]);
	assert_true(sb_budget_take(&b, &w[3], 50));
	sb_budget_give(&b, 50);
	assert_int_equal(b.used, 0);
	assert_false(sb_budget_contended(&b));
}

static void test_oversized_alone(void **state)
{
	struct sb_budget b;
	struct sb_budget_waiter w[2];

	setup_waiters(w, 2);
	sb_budget_init(&b, 100);
	assert_true(sb_budget_take(&b, &w[0], 10));
	assert_false(sb_budget_take(&b, &w[1], 300));  /* waits until alone */
	sb_budget_give(&b, 10);
	assert_int_equal(nwoken, 1);
	assert_true(sb_budget_take(&b, &w[1], 300));
	assert_int_equal(b.used, 300);
	sb_budget_give(&b, 300);
	/* Nothing in use at all: through at once. */
	assert_true(sb_budget_take(&b, &w[1], 500));
	sb_budget_give(&b, 500);
}

static void test_cancel_releases_the_queue(void **state)
{
	struct sb_budget b;
	struct sb_budget_waiter w[3];

	setup_waiters(w, 3);
	sb_budget_init(&b, 100);
	assert_true(sb_budget_take(&b, &w[0], 80));
	assert_false(sb_budget_take(&b, &w[1], 500));  /* big, at the head */
	assert_false(sb_budget_take(&b, &w[2], 10));
	sb_budget_cancel(&b, &w[1]);                   /* its client went away */
	assert_int_equal(nwoken, 1);
	assert_ptr_equal(woken[0], &w[2]);
	/* A waiter cancelled after its bytes were reserved gives them back. */
	sb_budget_cancel(&b, &w[2]);
	assert_int_equal(b.used, 80);
	sb_budget_give(&b, 80);
	assert_int_equal(b.used, 0);
}

static void test_unlimited(void **state)
{
	struct sb_budget b;
	struct sb_budget_waiter w[1];

	setup_waiters(w, 1);
	sb_budget_init(&b, 0);
	assert_true(sb_budget_take(&b, &w[0], UINT64_C(1) << 40));
	sb_budget_give(&b, UINT64_C(1) << 40);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_within_limit),
		cmocka_unit_test(test_waiters_in_order_no_overtaking),
		cmocka_unit_test(test_oversized_alone),
		cmocka_unit_test(test_cancel_releases_the_queue),
		cmocka_unit_test(test_unlimited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
