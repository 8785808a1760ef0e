/* SPDX-License-Identifier: BSD-3-Clause */
/* Description: unit tests of the disk's hold/retry state machine: every
 * action, deadlines, probe-then-release, ordering, fencing, the memory bound,
 * management commands.  The backend is a stub whose failures each test sets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "disk-fixture.h"

/* ---- actions ---- */

static void test_report(void **state)
{
	struct fx *f = *state;
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_until_done(f, 0);
	assert_int_equal(f->err[0], -EIO);
	assert_int_equal(f->stub->submitted, 1);
	assert_int_equal(f->nev, 0);
}

static void test_ignore_zeroes_read(void **state)
{
	struct fx *f = *state;
	sb_policy_set_rerror(&f->policy, SB_ACTION_IGNORE);
	open_disk(f);
	f->stub->fail_err = -EIO;
	memset(f->buf[0], 0xab, sizeof(f->buf[0]));
	submit(f, 0, SB_OP_READ, 0, 512, NULL);
	run_until_done(f, 0);
	assert_int_equal(f->err[0], 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(f->buf[0][i], 0);
}

/* The same for data scattered over buffers: every one of them zeroed. */
static void test_ignore_zeroes_scattered_read(void **state)
{
	struct fx *f = *state;
	struct iovec iov[3] = { { f->buf[1], 100 }, { f->buf[2], 312 }, { f->buf[3], 100 } };

	sb_policy_set_rerror(&f->policy, SB_ACTION_IGNORE);
	open_disk(f);
	f->stub->fail_err = -EIO;
	for (int i = 1; i <= 3; i++)
		memset(f->buf[i], 0xab, sizeof(f->buf[i]));
	f->req[0]->iov = iov;
	f->req[0]->iovcnt = 3;
	submit(f, 0, SB_OP_READ, 0, 512, NULL);
	run_until_done(f, 0);
	assert_int_equal(f->err[0], 0);
	for (int i = 0; i < 3; i++)
		for (size_t j = 0; j < sizeof(f->buf[0]); j++)
			assert_int_equal((unsigned char)f->buf[i + 1][j], j < iov[i].iov_len ? 0 : 0xab);
}

/* A block status whose failure is ignored answers "all data", never
 * whatever the extents held, and follows the read policy, not the write's. */
static void test_ignore_block_status_is_all_data(void **state)
{
	struct fx *f = *state;
	struct sb_extent x[4] = { { 7, SB_EXTENT_HOLE }, { 7, SB_EXTENT_HOLE } };

	sb_policy_set_rerror(&f->policy, SB_ACTION_IGNORE);
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	assert_int_equal(f->policy.action[SB_OP_BLOCK_STATUS], SB_ACTION_IGNORE);
	open_disk(f);
	f->stub->fail_err = -EIO;
	f->req[0]->extents = x;
	f->req[0]->max_extents = 4;
	submit(f, 0, SB_OP_BLOCK_STATUS, 4096, 65536, NULL);
	run_until_done(f, 0);
	assert_int_equal(f->err[0], 0);
	assert_int_equal(f->req[0]->nextents, 1);
	assert_int_equal(x[0].length, 65536);
	assert_int_equal(x[0].flags, 0);
	assert_int_equal(f->nev, 0); /* nothing held */
}

/* Without @cap the backend is never asked for @op (a block status or a
 * cache): the core answers at once, even while the storage is down and a
 * write is held.  Extents for a block status in @x (room for 2), or NULL. */
static void answered_without_cap(struct fx *f, enum sb_op op, uint32_t cap,
				 struct sb_extent *x)
{
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	sb_policy_set_rerror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->be.caps &= ~cap;
	f->stub->fail_err = -EIO;
	submit(f, 1, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 5);
	unsigned before = f->stub->submitted;
	f->req[0]->extents = x;
	f->req[0]->max_extents = x ? 2 : 0;
	submit(f, 0, op, 0, 4096, NULL);
	assert_int_equal(f->ndone[0], 1); /* before sb_disk_submit returned */
	assert_int_equal(f->err[0], 0);
	assert_int_equal(f->stub->submitted, before);
	assert_int_equal(f->ndone[1], 0); /* the write is still held */
	f->stub->fail_err = 0;
	run_until_done(f, 1);
	assert_int_equal(f->err[1], 0);
}

/* A backend that cannot tell holes from data: all data. */
static void test_block_status_without_cap_is_all_data(void **state)
{
	struct fx *f = *state;
	struct sb_extent x[2] = { { 7, SB_EXTENT_HOLE } };

	answered_without_cap(f, SB_OP_BLOCK_STATUS, SB_CAP_BLOCK_STATUS, x);
	assert_int_equal(f->req[0]->nextents, 1);
	assert_int_equal(x[0].length, 4096);
	assert_int_equal(x[0].flags, 0);
}

/* With the capability the backend answers (the stub says hole). */
static void test_block_status_from_backend(void **state)
{
	struct fx *f = *state;
	struct sb_extent x[2];

	open_disk(f);
	f->req[0]->extents = x;
	f->req[0]->max_extents = 2;
	submit(f, 0, SB_OP_BLOCK_STATUS, 0, 4096, NULL);
	run_until_done(f, 0);
	assert_int_equal(f->err[0], 0);
	assert_int_equal(f->req[0]->nextents, 1);
	assert_int_equal(x[0].flags, SB_EXTENT_HOLE | SB_EXTENT_ZERO);
}

/* A backend that cannot cache: success (a cache is a hint), by the path
 * that answers a block status the backend cannot give. */
static void test_cache_without_cap_answered_at_once(void **state)
{
	answered_without_cap(*state, SB_OP_CACHE, SB_CAP_CACHE, NULL);
}

/* Alone in an outage a cache is held, probed and answered when the storage
 * is back; under --rerror report it fails with the backend's error. */
static void test_cache_alone_held_then_reported(void **state)
{
	struct fx *f = *state;

	sb_policy_set_rerror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 20 * SB_NS_PER_MS;
	f->policy.retry_max_interval_ns = 20 * SB_NS_PER_MS;
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_CACHE, 0, 4096, NULL);
	run_for(f, 100);
	assert_int_equal(f->ndone[0], 0);
	f->stub->fail_err = 0;
	run_until_done(f, 0);
	assert_int_equal(f->err[0], 0);

	sb_policy_set_rerror(&f->policy, SB_ACTION_REPORT);
	assert_int_equal(sb_disk_set_policy(f->disk, &f->policy, NULL), 0);
	f->stub->fail_err = -EIO;
	submit(f, 1, SB_OP_CACHE, 0, 4096, NULL);
	run_until_done(f, 1);
	assert_int_equal(f->err[1], -EIO);
}

static void test_sync_submit_failure(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -ENOTCONN;
	f->stub->sync_fail = true;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 30);
	assert_int_equal(f->ndone[0], 0);
	f->stub->fail_err = 0;
	run_until_done(f, 0);
	assert_int_equal(f->err[0], 0);
}

static void test_retry_hold_and_recover(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 50);
	assert_int_equal(f->ndone[0], 0);
	assert_true(saw_event(f, SB_EVENT_HUNG));
	assert_true(f->stub->submitted >= 2); /* retried */
	f->stub->fail_err = 0;
	run_until_done(f, 0);
	assert_int_equal(f->err[0], 0);
	run_for(f, 5);
	assert_true(saw_event(f, SB_EVENT_RECOVERED));
	assert_int_equal(f->evdata[f->nev - 1].requests, 1);
	struct sb_disk_info info;
	sb_disk_info(f->disk, &info);
	assert_int_equal(info.state, SB_DISK_HEALTHY);
	assert_int_equal(info.held, 0);
	assert_int_equal(f->ndone[0], 1); /* exactly once */
}

static void test_non_retryable_reported_at_once(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -EINVAL;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_until_done(f, 0);
	assert_int_equal(f->err[0], -EINVAL);
	assert_int_equal(f->stub->submitted, 1);
	assert_false(saw_event(f, SB_EVENT_HUNG));
}

static void test_probe_one_per_tick(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 20 * SB_NS_PER_MS;
	f->policy.retry_max_interval_ns = 20 * SB_NS_PER_MS;
	open_disk(f);
	f->stub->fail_err = -EIO;
	for (int i = 0; i < 10; i++)
		submit(f, i, SB_OP_WRITE, (uint64_t)i * 512, 512, NULL);
	run_for(f, 5);
	/* the ten, and perhaps one quick probe: the first failure alone may
	 * have been a flaky path; ten in a row are an outage */
	unsigned first = f->stub->submitted;
	assert_true(first >= 10 && first <= 11);
	run_for(f, 200);
	/* ~200/20 ticks, jitter +-25%: one probe each, never the whole queue */
	unsigned probes = f->stub->submitted - first;
	assert_true(probes >= 5 && probes <= 14);
	/* the probe is always the oldest */
	for (unsigned i = first; i < f->stub->submitted; i++)
		assert_ptr_equal(f->stub->log[i], f->req[0]);
}

/* A request whose success proves nothing about the storage (@op: a block
 * status, which reads metadata or nothing, or a cache), held ahead of
 * writes in an outage, is passed over for the probe, and its success never
 * ends the hang; once a write's probe succeeds, all complete.  Extents for
 * a block status in @x (room for 2), or NULL. */
static void held_passed_over(struct fx *f, enum sb_op op, struct sb_extent *x)
{
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	sb_policy_set_rerror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 20 * SB_NS_PER_MS;
	f->policy.retry_max_interval_ns = 20 * SB_NS_PER_MS;
	open_disk(f);
	f->stub->fail_err = -EIO;
	f->req[0]->extents = x;
	f->req[0]->max_extents = x ? 2 : 0;
	submit(f, 0, op, 0, 4096, NULL);
	for (int i = 1; i <= 4; i++)
		submit(f, i, SB_OP_WRITE, (uint64_t)i * 512, 512, NULL);
	run_for(f, 5);
	unsigned first = f->stub->submitted;
	run_for(f, 120);
	assert_true(f->stub->submitted > first);
	for (unsigned i = first; i < f->stub->submitted; i++)
		assert_int_equal(f->stub->log_op[i], SB_OP_WRITE);
	assert_int_equal(f->ndone[0], 0);
	f->stub->fail_err = 0;
	for (int i = 0; i <= 4; i++)
		run_until_done(f, i);
	for (int i = 0; i <= 4; i++)
		assert_int_equal(f->err[i], 0);
	assert_true(saw_event(f, SB_EVENT_RECOVERED));
}

static void test_block_status_is_never_the_probe(void **state)
{
	struct sb_extent x[2];

	held_passed_over(*state, SB_OP_BLOCK_STATUS, x);
}

/* With the capability a cache goes to the backend and is read-like: it
 * follows --rerror and is held, passed over for the probe
 * (held_passed_over), and counts as a request with no bytes. */
static void test_cache_held_like_a_read(void **state)
{
	struct fx *f = *state;

	held_passed_over(f, SB_OP_CACHE, NULL);
	assert_int_equal(f->policy.action[SB_OP_CACHE], SB_ACTION_RETRY);
	assert_true(f->stub->be.caps & SB_CAP_CACHE);
	const struct sb_disk_stats *st = sb_disk_stats(f->disk);
	assert_int_equal(st->requests[SB_OP_CACHE], 1);
	assert_int_equal(st->bytes[SB_OP_CACHE], 0);
	assert_string_equal(sb_op_name(SB_OP_CACHE), "cache");
}

/* One failure on a live connection may be a flaky path: on a backend that
 * serves each request at once no other request is in flight to show it,
 * so the probe comes after the flaky backoff, not a whole retry-interval. */
static void test_single_failure_probed_soon(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 10 * SB_NS_PER_SEC;
	f->policy.retry_max_interval_ns = 10 * SB_NS_PER_SEC;
	open_disk(f);
	f->stub->fail_err = -EIO;
	f->stub->fail_range = true;
	f->stub->fail_from = 0;
	f->stub->fail_to = 512;
	f->stub->fail_times = 1;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_until_done(f, 0); /* within 2 s */
	assert_int_equal(f->err[0], 0);
	assert_int_equal(f->stub->submitted, 2);
	assert_true(saw_event(f, SB_EVENT_HUNG));
}

static void test_backoff_grows(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 5 * SB_NS_PER_MS;
	f->policy.retry_max_interval_ns = 80 * SB_NS_PER_MS;
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 400);
	/* fixed 5 ms would be ~80 probes; doubling to 80 ms is about 10 */
	assert_true(f->stub->submitted >= 5 && f->stub->submitted <= 16);
}

/* ---- ordering ---- */

static void test_new_requests_queue_behind_held(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	/* A probe interval far beyond the test, so a slow machine cannot end
	 * the hang early; retry-now releases the queue when the test is ready. */
	f->policy.retry_interval_ns = 10 * SB_NS_PER_SEC;
	f->policy.retry_max_interval_ns = 10 * SB_NS_PER_SEC;
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 5);
	submit(f, 1, SB_OP_READ, 4096, 512, NULL);
	submit(f, 2, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 20);
	/* only request 0 went to the backend: its first try and its probes
	 * (quick ones, fewer than SB_OUTAGE_STREAK failures being a flaky path) */
	for (unsigned i = 0; i < f->stub->submitted; i++)
		assert_ptr_equal(f->stub->log[i], f->req[0]);
	assert_int_equal(f->ndone[1] + f->ndone[2], 0);
	/* the backend works again, but these must not overtake request 0 */
	f->stub->fail_err = 0;
	assert_int_equal(sb_disk_retry_now(f->disk, NULL), 0);
	run_until_done(f, 2);
	assert_int_equal(f->norder, 3);
	assert_int_equal(f->order[0], 0);
	assert_int_equal(f->order[1], 1);
	assert_int_equal(f->order[2], 2);
}

static void test_overlapping_write_never_overtakes(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	submit(f, 1, SB_OP_WRITE, 4096, 512, NULL);
	run_for(f, 2);
	submit(f, 2, SB_OP_WRITE, 256, 512, NULL);  /* overlaps 0 */
	submit(f, 3, SB_OP_WRITE, 8192, 512, NULL); /* overlaps nothing */
	f->stub->fail_err = 0;
	f->stub->park = true;
	/* wait for the probe (request 0) to be parked at the backend */
	uint64_t end = sb_now_ns() + SB_NS_PER_SEC;
	while (f->stub->nqueue == 0 && sb_now_ns() < end)
		sb_loop_run_once(f->loop, 5 * SB_NS_PER_MS);
	assert_ptr_equal(f->stub->queue[0], f->req[0]);
	stub_finish_parked(f->stub);
	run_for(f, 2);
	/* released: 1 goes, 2 waits for nothing released that overlaps; 0 is done */
	for (int round = 0; round < 10 && (f->ndone[2] == 0 || f->ndone[3] == 0); round++) {
		for (unsigned q = 0; q < f->stub->nqueue; q++)
			if (f->stub->queue[q] == f->req[2])
				for (unsigned p = 0; p < f->stub->nqueue; p++)
					assert_false(f->stub->queue[p] == f->req[0]);
		stub_finish_parked(f->stub);
		run_for(f, 2);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(f->ndone[i], 1);
	/* 0 completed before 2 was even submitted */
	int pos0 = -1, pos2 = -1;
	for (int i = 0; i < f->norder; i++) {
		if (f->order[i] == 0) pos0 = i;
		if (f->order[i] == 2) pos2 = i;
	}
	assert_true(pos0 < pos2);
}

static void test_flush_waits_for_held_writes(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	submit(f, 1, SB_OP_WRITE, 4096, 512, NULL);
	submit(f, 2, SB_OP_WRITE, 8192, 512, NULL);
	run_for(f, 2);
	submit(f, 3, SB_OP_FLUSH, 0, 0, NULL);
	f->stub->fail_err = 0;
	f->stub->park = true;
	uint64_t end = sb_now_ns() + 2 * SB_NS_PER_SEC;
	while (!f->ndone[3] && sb_now_ns() < end) {
		/* whenever the flush is at the backend, it is alone there */
		for (unsigned q = 0; q < f->stub->nqueue; q++)
			if (f->stub->queue[q] == f->req[3])
				assert_int_equal(f->stub->nqueue, 1);
		sb_loop_run_once(f->loop, 5 * SB_NS_PER_MS);
		stub_finish_parked(f->stub);
	}
	assert_int_equal(f->ndone[3], 1);
	assert_int_equal(f->order[f->norder - 1], 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(f->err[i], 0);
}

/* ---- deadlines ---- */

static void test_retry_timeout_reports(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_timeout_ns = 60 * SB_NS_PER_MS;
	open_disk(f);
	f->stub->fail_err = -EIO;
	uint64_t t0 = sb_now_ns();
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_until_done(f, 0);
	assert_int_equal(f->err[0], -EIO);
	assert_true(f->done_at[0] - t0 >= 60 * SB_NS_PER_MS);
	assert_true(f->done_at[0] - t0 < 500 * SB_NS_PER_MS);
	assert_true(saw_event(f, SB_EVENT_TIMED_OUT));
	assert_int_equal(sb_disk_stats(f->disk)->timeouts, 1);
}

static void test_deadline_counts_per_request(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_timeout_ns = 100 * SB_NS_PER_MS;
	open_disk(f);
	f->stub->fail_err = -EIO;
	uint64_t t0 = sb_now_ns();
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 60);
	uint64_t t1 = sb_now_ns();
	submit(f, 1, SB_OP_WRITE, 4096, 512, NULL);
	run_until_done(f, 0);
	assert_int_equal(f->ndone[1], 0); /* its own clock started later */
	run_until_done(f, 1);
	assert_true(f->done_at[0] - t0 >= 100 * SB_NS_PER_MS);
	assert_true(f->done_at[1] - t1 >= 100 * SB_NS_PER_MS);
	assert_int_equal(f->err[1], -EIO);
}

static void test_retry_then_stop_and_cont(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_timeout_ns = 40 * SB_NS_PER_MS;
	f->policy.retry_then = SB_ACTION_STOP;
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 100);
	assert_int_equal(f->ndone[0], 0);
	assert_true(saw_event(f, SB_EVENT_STOPPED));
	unsigned n = f->stub->submitted;
	run_for(f, 60);
	assert_int_equal(f->stub->submitted, n); /* stopped: nothing retried */
	f->stub->fail_err = 0;
	assert_int_equal(sb_disk_cont(f->disk, NULL), 0);
	run_until_done(f, 0);
	assert_int_equal(f->err[0], 0);
	assert_true(saw_event(f, SB_EVENT_RESUMED));
}

/* ---- stop, enospc ---- */

static void test_stop_holds_until_cont(void **state)
{
	struct fx *f = *state;
	struct sb_error *err = NULL;
	sb_policy_set_werror(&f->policy, SB_ACTION_STOP);
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 5);
	submit(f, 1, SB_OP_READ, 0, 512, NULL);
	run_for(f, 80);
	assert_int_equal(f->stub->submitted, 1);
	assert_int_equal(f->ndone[0] + f->ndone[1], 0);
	assert_true(saw_event(f, SB_EVENT_STOPPED));
	assert_int_equal(sb_disk_retry_now(f->disk, &err), -1); /* stopped: cont, not retry */
	sb_error_free(err);
	f->stub->fail_err = 0;
	assert_int_equal(sb_disk_cont(f->disk, NULL), 0);
	run_until_done(f, 1);
	assert_int_equal(f->order[0], 0);
	assert_int_equal(f->order[1], 1);
	err = NULL;
	assert_int_equal(sb_disk_cont(f->disk, &err), -1); /* not stopped any more */
	sb_error_free(err);
}

static void test_enospc_action(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_ENOSPC);
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_until_done(f, 0);
	assert_int_equal(f->err[0], -EIO);
	f->stub->fail_err = -ENOSPC;
	submit(f, 1, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 30);
	assert_int_equal(f->ndone[1], 0);
	assert_true(saw_event(f, SB_EVENT_STOPPED));
	struct sb_disk_info info;
	sb_disk_info(f->disk, &info);
	assert_int_equal(info.state, SB_DISK_STOPPED);
	sb_disk_fail_held(f->disk);
	assert_int_equal(f->err[1], -ENOSPC);
}

/* ---- fencing ---- */

static void test_held_request_fenced_on_disconnect(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, &f->session);
	run_for(f, 5);
	sb_disk_detach(&f->session, "disconnected");
	assert_int_equal(f->ndone[0], 1);
	assert_int_equal(f->err[0], -ECANCELED);
	unsigned n = f->stub->submitted;
	f->stub->fail_err = 0;
	submit(f, 1, SB_OP_WRITE, 0, 512, &f->other);
	run_until_done(f, 1);
	run_for(f, 50);
	/* the stale write was never sent again */
	for (unsigned i = n; i < f->stub->submitted; i++)
		assert_ptr_not_equal(f->stub->log[i], f->req[0]);
	assert_int_equal(f->ndone[0], 1);
}

static void test_inflight_of_closed_session_not_retried(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->park = true;
	submit(f, 0, SB_OP_WRITE, 0, 512, &f->session);
	sb_disk_detach(&f->session, "disconnected");
	assert_int_equal(f->ndone[0], 0); /* in flight: waited for */
	f->stub->fail_err = -EIO;
	stub_finish_parked(f->stub);
	assert_int_equal(f->ndone[0], 1);
	assert_int_equal(f->err[0], -EIO);
	run_for(f, 50);
	assert_int_equal(f->stub->submitted, 1);
	assert_false(saw_event(f, SB_EVENT_HUNG));
}

/* A hang whose held requests all leave without a recovery still ends with
 * an event: DISK_CLEARED, never silently. */
static void test_fenced_hang_ends_cleared(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, &f->session);
	submit(f, 1, SB_OP_WRITE, 512, 512, &f->session);
	run_for(f, 5);
	assert_true(saw_event(f, SB_EVENT_HUNG));
	sb_disk_detach(&f->session, "disconnected");
	run_for(f, 5);
	assert_int_equal(f->ev[f->nev - 1], SB_EVENT_CLEARED);
	assert_int_equal(f->evdata[f->nev - 1].requests, 2);
	assert_int_equal(f->evdata[f->nev - 1].state, SB_DISK_HEALTHY);
	/* The outage goes on: the next failure is a new hang, seen as such. */
	submit(f, 2, SB_OP_WRITE, 0, 512, &f->other);
	run_for(f, 5);
	assert_int_equal(f->ev[f->nev - 1], SB_EVENT_HUNG);
	assert_int_equal(sb_disk_stats(f->disk)->hangs, 2);
}

static void test_probe_reported_hang_ends_cleared(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 5);
	f->stub->fail_err = -EINVAL; /* the probe gets an error no retry can fix */
	run_until_done(f, 0);
	assert_int_equal(f->err[0], -EINVAL);
	run_for(f, 5);
	assert_int_equal(f->ev[f->nev - 1], SB_EVENT_CLEARED);
	assert_int_equal(f->evdata[f->nev - 1].requests, 1);
	struct sb_disk_info info;
	sb_disk_info(f->disk, &info);
	assert_int_equal(info.state, SB_DISK_HEALTHY);
}

/* ---- memory bound ---- */

static void test_memory_bound_backpressure(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.max_held_requests = 3;
	open_disk(f);
	f->stub->fail_err = -EIO;
	assert_true(sb_disk_accepting(f->disk, &f->session));
	for (int i = 0; i < 3; i++)
		submit(f, i, SB_OP_WRITE, (uint64_t)i * 512, 512, NULL);
	run_for(f, 3);
	assert_false(sb_disk_accepting(f->disk, &f->session));
	assert_int_equal(f->resumed, 0);
	f->stub->fail_err = 0;
	run_until_done(f, 2);
	run_for(f, 2);
	assert_int_equal(f->resumed, 1);
	assert_true(sb_disk_accepting(f->disk, &f->session));
}

static void test_memory_bound_bytes(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.max_held_bytes = 1024;
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 2);
	assert_true(sb_disk_accepting(f->disk, &f->session));
	submit(f, 1, SB_OP_WRITE, 512, 512, NULL);
	run_for(f, 2);
	assert_false(sb_disk_accepting(f->disk, &f->session));
}

/* ---- management ---- */

static void test_set_policy_applies_to_held(void **state)
{
	struct fx *f = *state;
	struct sb_policy p;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 80);
	assert_int_equal(f->ndone[0], 0);
	p = *sb_disk_policy(f->disk);
	p.retry_timeout_ns = 50 * SB_NS_PER_MS; /* already older than that */
	assert_int_equal(sb_disk_set_policy(f->disk, &p, NULL), 0);
	assert_int_equal(f->ndone[0], 1);
	assert_int_equal(f->err[0], -EIO);
}

static void test_set_policy_report_fails_held(void **state)
{
	struct fx *f = *state;
	struct sb_policy p;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 5);
	p = *sb_disk_policy(f->disk);
	sb_policy_set_werror(&p, SB_ACTION_REPORT);
	assert_int_equal(sb_disk_set_policy(f->disk, &p, NULL), 0);
	assert_int_equal(f->ndone[0], 1);
	assert_int_equal(f->err[0], -EIO);
	/* the hang ended: a closing event says so, with the count */
	assert_int_equal(f->ev[f->nev - 1], SB_EVENT_FAILED_HELD);
	assert_int_equal(f->evdata[f->nev - 1].requests, 1);
	struct sb_disk_info info;
	sb_disk_info(f->disk, &info);
	assert_int_equal(info.state, SB_DISK_HEALTHY);
}

static void test_fail_held(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	open_disk(f);
	f->stub->fail_err = -ETIMEDOUT;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	submit(f, 1, SB_OP_WRITE, 512, 512, NULL);
	run_for(f, 3);
	f->stub->park = true; /* no probe completes during the test */
	assert_int_equal(sb_disk_fail_held(f->disk), 2 - (f->stub->nqueue ? 1 : 0));
	f->stub->park = false;
	run_for(f, 20);
	assert_int_equal(f->ndone[0] + f->ndone[1], 2);
	assert_true(saw_event(f, SB_EVENT_FAILED_HELD));
}

static void test_reconnect_probes_at_once(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 5 * SB_NS_PER_SEC;
	f->policy.retry_max_interval_ns = 5 * SB_NS_PER_SEC;
	open_disk(f);
	f->stub->fail_err = -ENOTCONN;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 5);
	sb_backend_set_connected(&f->stub->be, false, -ENOTCONN);
	f->stub->fail_err = 0;
	uint64_t t = sb_now_ns();
	sb_backend_set_connected(&f->stub->be, true, 0);
	run_until_done(f, 0);
	assert_true(f->done_at[0] - t < SB_NS_PER_SEC);
	assert_true(saw_event(f, SB_EVENT_BACKEND_DOWN));
	assert_true(saw_event(f, SB_EVENT_BACKEND_UP));
}

static void test_retry_now(void **state)
{
	struct fx *f = *state;
	sb_policy_set_werror(&f->policy, SB_ACTION_RETRY);
	f->policy.retry_interval_ns = 5 * SB_NS_PER_SEC;
	f->policy.retry_max_interval_ns = 5 * SB_NS_PER_SEC;
	open_disk(f);
	f->stub->fail_err = -EIO;
	submit(f, 0, SB_OP_WRITE, 0, 512, NULL);
	run_for(f, 5);
	f->stub->fail_err = 0;
	assert_int_equal(sb_disk_retry_now(f->disk, NULL), 0);
	run_until_done(f, 0);
	assert_int_equal(f->err[0], 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_report),
		T(test_ignore_zeroes_read),
		T(test_ignore_zeroes_scattered_read),
		T(test_ignore_block_status_is_all_data),
		T(test_block_status_is_never_the_probe),
		T(test_block_status_without_cap_is_all_data),
		T(test_block_status_from_backend),
		T(test_cache_without_cap_answered_at_once),
		T(test_cache_held_like_a_read),
		T(test_cache_alone_held_then_reported),
		T(test_sync_submit_failure),
		T(test_retry_hold_and_recover),
		T(test_non_retryable_reported_at_once),
		T(test_probe_one_per_tick),
		T(test_single_failure_probed_soon),
		T(test_backoff_grows),
		T(test_new_requests_queue_behind_held),
		T(test_overlapping_write_never_overtakes),
		T(test_flush_waits_for_held_writes),
		T(test_retry_timeout_reports),
		T(test_deadline_counts_per_request),
		T(test_retry_then_stop_and_cont),
		T(test_stop_holds_until_cont),
		T(test_enospc_action),
		T(test_held_request_fenced_on_disconnect),
		T(test_inflight_of_closed_session_not_retried),
		T(test_fenced_hang_ends_cleared),
		T(test_probe_reported_hang_ends_cleared),
		T(test_memory_bound_backpressure),
		T(test_memory_bound_bytes),
		T(test_set_policy_applies_to_held),
		T(test_set_policy_report_fails_held),
		T(test_fail_held),
		T(test_reconnect_probes_at_once),
		T(test_retry_now),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
